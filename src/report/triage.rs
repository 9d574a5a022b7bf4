//! Fleet triage output (`meshdoc diagnose ns/NAME`, `diagnose -A`): one row
//! per workload, worst first, each with its top cause; then, with `--top N`,
//! the full diagnoses of the worst N. JSON/YAML carry the same data with a
//! `version`, like every other report.

use super::sanitize::strip_controls;
use super::{Confidence, Finding, Missing, REPORT_VERSION, Report};
use crate::rules::{Mesh, Severity};
use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use serde::Serialize;
use std::fmt::Write;

/// One workload's line.
#[derive(Debug, Clone, Serialize)]
pub struct TriageRow {
    pub rank: usize,
    pub namespace: String,
    /// `Deployment`, `StatefulSet`, … (`Workload` when only Prometheus named
    /// it; empty for findings about the namespace as a whole).
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesh: Option<Mesh>,
    /// Requests the proxies counted (the busier direction), when read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<f64>,
    /// Share of failing requests in %, the worse of inbound and outbound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_percent: Option<f64>,
    /// Pods not ready / total pods listed.
    pub pods: usize,
    pub pods_not_ready: usize,
    /// The top cause's rule id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    /// One line saying why: the signal and its source.
    pub evidence: String,
    /// Every cause found for the workload, ranked (the first is `top_cause`).
    pub findings: Vec<Finding>,
}

impl TriageRow {
    /// `deploy/web` in kubectl's short names.
    pub fn workload(&self) -> String {
        let k = match self.kind.as_str() {
            "Deployment" => "deploy",
            "StatefulSet" => "sts",
            "DaemonSet" => "ds",
            "ReplicaSet" => "rs",
            "Job" => "job",
            "CronJob" => "cronjob",
            "Pod" => "pod",
            "" => return "(namespace)".into(),
            _ => "workload",
        };
        format!("{k}/{}", self.name)
    }

    /// Nothing failing and nothing found.
    pub fn healthy(&self) -> bool {
        self.top_cause.is_none()
            && self.failing_percent.unwrap_or(0.0) == 0.0
            && self.pods_not_ready == 0
    }
}

/// Everything `diagnose ns/NAME` prints.
#[derive(Debug, Clone, Serialize)]
pub struct TriageReport {
    pub version: u32,
    pub command: String,
    /// `namespace shop` or `all namespaces`.
    pub scope: String,
    /// Where runtime signals came from (`prometheus http://…, 5 queries`,
    /// `pod proxy: 24 of 310 workloads scraped`, `none`).
    pub runtime: String,
    pub workloads: Vec<TriageRow>,
    /// `--top N`: the full single-workload diagnoses, worst first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<Report>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<Missing>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// API requests made in all (LISTs, scrapes, service-proxy queries).
    pub api_requests: u64,
    /// The PromQL sent, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<String>,
    /// `meshdoc serve` only: the runs since this report failed, so its
    /// findings may be out of date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale: Option<Stale>,
}

/// Why a report `meshdoc serve` still shows is not the latest run's.
#[derive(Debug, Clone, Serialize)]
pub struct Stale {
    /// When the first run after this report failed (RFC 3339).
    pub since: String,
    /// Runs that failed since.
    pub failed_runs: u64,
    /// The last failure.
    pub reason: String,
}

impl TriageReport {
    pub fn new(scope: String) -> Self {
        TriageReport {
            version: REPORT_VERSION,
            command: "diagnose".into(),
            scope,
            runtime: "none".into(),
            workloads: Vec::new(),
            diagnoses: Vec::new(),
            missing: Vec::new(),
            notes: Vec::new(),
            api_requests: 0,
            queries: Vec::new(),
            stale: None,
        }
    }

    /// Any workload's cause (or any expanded diagnosis) at or above `threshold`.
    pub fn fails(&self, threshold: Severity) -> bool {
        self.workloads
            .iter()
            .flat_map(|w| w.findings.iter())
            .any(|f| f.severity >= threshold)
            || self.diagnoses.iter().any(|d| d.fails(threshold))
    }
}

fn pct(p: Option<f64>) -> String {
    match p {
        Some(p) if p > 0.0 && p < 0.1 => "<0.1%".into(),
        Some(p) => format!("{p:.1}%"),
        None => "-".into(),
    }
}

fn mesh(m: Option<Mesh>) -> &'static str {
    match m {
        Some(Mesh::Linkerd) => "linkerd",
        Some(Mesh::Istio) => "istio",
        _ => "-",
    }
}

fn conf(c: Option<Confidence>) -> &'static str {
    match c {
        Some(Confidence::High) => "high",
        Some(Confidence::Medium) => "medium",
        Some(Confidence::Low) => "low",
        Some(Confidence::Candidate) => "candidate",
        None => "-",
    }
}

/// Rows shown in human formats: everything not healthy, or all with `verbose`.
fn shown(r: &TriageReport, verbose: bool) -> (Vec<&TriageRow>, usize) {
    let rows: Vec<&TriageRow> = r
        .workloads
        .iter()
        .filter(|w| verbose || !w.healthy())
        .collect();
    let hidden = r.workloads.len() - rows.len();
    (rows, hidden)
}

const HEADER: [&str; 7] = [
    "namespace",
    "workload",
    "mesh",
    "requests failing",
    "top cause",
    "confidence",
    "evidence",
];

fn cells(w: &TriageRow) -> [String; 7] {
    [
        strip_controls(&w.namespace),
        strip_controls(&w.workload()),
        mesh(w.mesh).into(),
        pct(w.failing_percent),
        w.top_cause.clone().unwrap_or_else(|| "-".into()),
        conf(w.confidence).into(),
        strip_controls(&w.evidence),
    ]
}

fn footer(r: &TriageReport, hidden: usize, out: &mut String) {
    if hidden > 0 {
        let _ = writeln!(
            out,
            "{hidden} more workload(s) with no failing requests and no cause found (-v shows them)"
        );
    }
    let _ = writeln!(
        out,
        "runtime signals: {}; {} API request(s)",
        strip_controls(&r.runtime),
        r.api_requests
    );
    if !r.missing.is_empty() {
        let _ = writeln!(out, "not looked at:");
        for m in &r.missing {
            let _ = writeln!(
                out,
                "  - {}: {}",
                strip_controls(&m.what),
                strip_controls(&m.reason)
            );
        }
    }
}

/// The terminal table, then each `--top` diagnosis.
pub fn render_table(r: &TriageReport, verbose: bool) -> String {
    let mut out = String::new();
    for n in &r.notes {
        let _ = writeln!(out, "note: {}", strip_controls(n));
    }
    let (rows, hidden) = shown(r, verbose);
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "✓ no workload in {} shows failing requests or a cause ({} workload(s) read)",
            strip_controls(&r.scope),
            r.workloads.len()
        );
    } else {
        let mut t = Table::new();
        t.load_preset(UTF8_BORDERS_ONLY)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(HEADER.to_vec());
        for w in &rows {
            t.add_row(cells(w).to_vec());
        }
        let _ = writeln!(out, "{t}");
    }
    footer(r, hidden, &mut out);
    for d in &r.diagnoses {
        let _ = writeln!(out, "\n── {} ──", strip_controls(&d.input));
        out.push_str(&super::table::render(d, verbose));
    }
    out
}

fn md_cell(s: &str) -> String {
    strip_controls(s).replace('|', "\\|").replace('\n', " ")
}

/// A markdown table, then each `--top` diagnosis.
pub fn render_markdown(r: &TriageReport, verbose: bool) -> String {
    let mut out = format!("# meshdoc triage: {}\n\n", md_cell(&r.scope));
    for n in &r.notes {
        let _ = writeln!(out, "> {}\n", md_cell(n));
    }
    let (rows, hidden) = shown(r, verbose);
    let _ = writeln!(out, "| {} |", HEADER.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(HEADER.len()));
    for w in &rows {
        let c = cells(w);
        let _ = writeln!(
            out,
            "| {} |",
            c.iter().map(|x| md_cell(x)).collect::<Vec<_>>().join(" | ")
        );
    }
    out.push('\n');
    footer(r, hidden, &mut out);
    for d in &r.diagnoses {
        out.push('\n');
        out.push_str(&super::markdown::render(d));
    }
    out
}
