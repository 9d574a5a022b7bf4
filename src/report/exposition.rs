//! Prometheus text exposition (format 0.0.4) of a fleet triage, for
//! `meshdoc serve`'s `/metrics`: a series per current finding, the failing
//! share per workload, and a writer that gets `# HELP`, `# TYPE` and the
//! escaping of label values right for whatever else the caller adds.

use super::triage::TriageReport;
use std::fmt::Write;

/// The metric types this writer emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

/// An exposition being written, family by family.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

/// `\`, `"` and newlines escaped, as a label value must be.
pub fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// `\` and newlines escaped, as `# HELP` text must be.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value as Prometheus reads it (`NaN`, `+Inf`, `-Inf`).
fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

impl Exposition {
    pub fn new() -> Self {
        Exposition::default()
    }

    /// Starts a family: its `# HELP` and `# TYPE` lines. Its samples follow.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample of the family started last.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(val));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", value(v));
    }

    /// A family of one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, v: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], v);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// A serde enum's name (`linkerd`, `error`).
fn name_of<T: serde::Serialize>(t: &T) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The findings of `report`: `meshdoc_finding` (one series per workload and
/// rule, value 1), `meshdoc_workload_requests_failing_ratio` (each workload
/// whose requests were read) and `meshdoc_workloads`.
pub fn triage(e: &mut Exposition, report: &TriageReport) {
    e.family(
        "meshdoc_finding",
        Kind::Gauge,
        "A cause meshdoc found in the last triage: 1 per workload and rule (workload and kind are empty for a finding about the namespace as a whole).",
    );
    for row in &report.workloads {
        let mesh = row.mesh.map(|m| name_of(&m)).unwrap_or_default();
        for f in &row.findings {
            let severity = name_of(&f.severity);
            e.sample(
                "meshdoc_finding",
                &[
                    ("namespace", &row.namespace),
                    ("kind", &row.kind),
                    ("workload", &row.name),
                    ("rule", &f.id),
                    ("severity", &severity),
                    ("mesh", &mesh),
                ],
                1.0,
            );
        }
    }
    e.family(
        "meshdoc_workload_requests_failing_ratio",
        Kind::Gauge,
        "Share of a workload's requests that failed over --since (0 to 1, the worse of inbound and outbound), for workloads whose requests were read.",
    );
    for row in &report.workloads {
        if let Some(p) = row.failing_percent {
            let mesh = row.mesh.map(|m| name_of(&m)).unwrap_or_default();
            e.sample(
                "meshdoc_workload_requests_failing_ratio",
                &[
                    ("namespace", &row.namespace),
                    ("kind", &row.kind),
                    ("workload", &row.name),
                    ("mesh", &mesh),
                ],
                p / 100.0,
            );
        }
    }
    e.single(
        "meshdoc_workloads",
        Kind::Gauge,
        "Workloads the last triage ranked.",
        report
            .workloads
            .iter()
            .filter(|r| !r.kind.is_empty())
            .count() as f64,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_help_are_escaped_and_the_project_parser_reads_them_back() {
        let mut e = Exposition::new();
        e.family("m", Kind::Gauge, "a \\ help\nline");
        e.sample("m", &[("a", "say \"hi\"\\n\nx")], 1.0);
        e.sample("m", &[], f64::INFINITY);
        let text = e.finish();
        assert_eq!(
            text,
            "# HELP m a \\\\ help\\nline\n# TYPE m gauge\nm{a=\"say \\\"hi\\\"\\\\n\\nx\"} 1\nm +Inf\n"
        );
        let (samples, bad) = crate::evidence::metrics::parse(&text);
        assert_eq!(bad, 0);
        assert_eq!(samples.len(), 2);
    }
}
