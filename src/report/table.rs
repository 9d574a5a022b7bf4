//! The human terminal format: a ranked table, then each cause with its
//! evidence and the commands that confirm and fix it. Colour is written
//! unconditionally; the CLI prints through `anstream`, which drops it when
//! stdout is not a terminal or `NO_COLOR` is set.

use super::sanitize::strip_controls;
use super::{Finding, Report};
use crate::rules::Severity;
use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use owo_colors::OwoColorize;
use std::fmt::Write;

fn sev(s: Severity) -> String {
    match s {
        Severity::Error => "error".red().bold().to_string(),
        Severity::Warning => "warning".yellow().bold().to_string(),
        Severity::Info => "info".blue().to_string(),
    }
}

/// How many findings get the full explanation (the rest stay in the table).
const DETAILED: usize = 5;

pub fn render(report: &Report, verbose: bool) -> String {
    let mut out = String::new();
    for n in &report.notes {
        let _ = writeln!(out, "{}", strip_controls(n).dimmed());
    }
    if let Some(e) = &report.error {
        let _ = writeln!(
            out,
            "{} nothing checked in {}: {}",
            "✗".red(),
            strip_controls(&report.input),
            strip_controls(&e.message)
        );
        render_missing(report, &mut out);
        return out;
    }
    if report.findings.is_empty() {
        let unreadable = report.missing.iter().any(|m| m.what != "rules");
        let what = if report.command == "check" {
            "no findings"
        } else {
            "no root cause found"
        };
        if unreadable {
            // No tick: part of the input could not be read (exit 2).
            let _ = writeln!(
                out,
                "{what} in what could be read of {}",
                strip_controls(&report.input)
            );
        } else {
            let _ = writeln!(
                out,
                "{} {what} in {}",
                "✓".green(),
                strip_controls(&report.input)
            );
        }
        render_missing(report, &mut out);
        return out;
    }
    if !verbose && is_bare_symptom(report) {
        render_candidates(report, &mut out);
        return out;
    }
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic);
    // The terminal's width (comfy-table asks the tty), or `COLUMNS`; a pipe
    // gets unwrapped rows.
    if let Some(w) = columns() {
        t.set_width(w);
    }
    let located = report.findings.iter().any(|f| f.location.is_some());
    if located {
        t.set_header(vec!["#", "rule", "severity", "where", "object"]);
    } else {
        t.set_header(vec!["#", "cause", "severity", "score", "confidence"]);
    }
    // Ids and file:line:column never break inside.
    let mut keep = vec![1];
    if located {
        keep.push(3);
    }
    for i in keep {
        if let Some(c) = t.column_mut(i) {
            c.set_constraint(comfy_table::ColumnConstraint::ContentWidth);
        }
    }
    for f in &report.findings {
        let sev = format!("{:?}", f.severity).to_lowercase();
        match (&f.location, located) {
            (Some(l), _) => t.add_row(vec![
                f.rank.to_string(),
                f.id.clone(),
                sev,
                strip_controls(&l.place()),
                strip_controls(&l.to_string()),
            ]),
            (None, true) => t.add_row(vec![
                f.rank.to_string(),
                f.id.clone(),
                sev,
                String::new(),
                String::new(),
            ]),
            (None, false) => t.add_row(vec![
                f.rank.to_string(),
                f.id.clone(),
                sev,
                format!("{:.1}", f.score),
                format!("{:?}", f.confidence).to_lowercase(),
            ]),
        };
    }
    let _ = writeln!(out, "{t}\n");
    render_path(report, &mut out);
    if let Some(tl) = report.timeline.as_ref().filter(|t| !t.is_empty()) {
        super::timeline::table(tl, &mut out);
        out.push('\n');
    }
    let n = if verbose {
        report.findings.len()
    } else {
        DETAILED
    };
    for f in report.findings.iter().take(n) {
        render_finding(f, &mut out);
    }
    if report.findings.len() > n {
        let _ = writeln!(
            out,
            "{}",
            format!(
                "… {} more (use -v, or `meshdoc explain <id>`)",
                report.findings.len() - n
            )
            .dimmed()
        );
    }
    render_missing(report, &mut out);
    out
}

/// At most `max` characters, with `…` when cut.
fn clip_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

/// `COLUMNS` when set to a usable width.
fn columns() -> Option<u16> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<u16>().ok())
        .filter(|w| *w >= 40)
}

/// `true` when every finding stands on a bare symptom alone (`explain 503`):
/// a list of candidates, not a diagnosis.
fn is_bare_symptom(report: &Report) -> bool {
    report.findings.len() > 3
        && report
            .findings
            .iter()
            .all(|f| f.signals.is_empty() && f.objects.is_empty())
}

/// The candidates of a bare symptom, one line each and grouped by mesh, with
/// the question that tells each apart and what would narrow the list.
fn render_candidates(report: &Report, out: &mut String) {
    let _ = writeln!(
        out,
        "{} causes fit `{}` alone; the evidence tells them apart.\n",
        report.findings.len(),
        strip_controls(&report.input)
    );
    for (mesh, name) in [
        (crate::rules::Mesh::Istio, "Istio / Envoy"),
        (crate::rules::Mesh::Linkerd, "Linkerd"),
        (crate::rules::Mesh::Any, "Any mesh"),
    ] {
        let group: Vec<&Finding> = report.findings.iter().filter(|f| f.mesh == mesh).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}", name.bold());
        let width = group.iter().map(|f| f.id.len()).max().unwrap_or(0);
        for f in group {
            let _ = writeln!(
                out,
                "  {:>2}. {:<width$}  {}",
                f.rank,
                f.id,
                strip_controls(f.title.trim())
            );
            if let Some(q) = &f.question {
                let _ = writeln!(
                    out,
                    "      {:<width$}  {}",
                    "",
                    format!("? {}", strip_controls(q.trim())).dimmed()
                );
            }
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{}",
        "Narrow it down: give the access-log line or its flags (`meshdoc explain 503 UF`), the \
         `l5d-proxy-error` header, a `curl -v` transcript or the proxy's log (`--file`), or \
         `--mesh istio|linkerd`. `-v` prints every cause in full; `meshdoc explain <id>` one."
            .dimmed()
    );
}

/// `client app → client proxy → ✗ server proxy :4143 → server app`, with the
/// hop of the top finding marked and what each hop is underneath.
fn render_path(report: &Report, out: &mut String) {
    let Some(path) = &report.path else { return };
    if path.is_empty() {
        return;
    }
    let hops: Vec<String> = path
        .iter()
        .map(|h| {
            let name = strip_controls(&h.name);
            if h.marked {
                format!("✗ {name}").red().bold().to_string()
            } else {
                name
            }
        })
        .collect();
    let _ = writeln!(out, "{} {}", "Path:".cyan(), hops.join(" → "));
    for h in path.iter().filter(|h| h.marked) {
        if let Some(d) = &h.detail {
            let _ = writeln!(
                out,
                "      {} {}: {}",
                "✗".red(),
                strip_controls(&h.name),
                strip_controls(d)
            );
        }
    }
    out.push('\n');
}

fn render_missing(report: &Report, out: &mut String) {
    if report.missing.is_empty() {
        return;
    }
    let _ = writeln!(out, "{}", "Not looked at:".yellow().bold());
    for m in &report.missing {
        let _ = write!(
            out,
            "  - {}: {}",
            strip_controls(&m.what),
            strip_controls(&m.reason)
        );
        if !m.rules.is_empty() {
            let _ = write!(out, " (rules not evaluated: {})", m.rules.join(", "));
        }
        out.push('\n');
    }
}

fn render_finding(f: &Finding, out: &mut String) {
    let _ = writeln!(
        out,
        "{} {}  {}  [{}]",
        format!("{}.", f.rank).bold(),
        f.id.bold(),
        strip_controls(&f.title),
        sev(f.severity)
    );
    let _ = writeln!(
        out,
        "   {}",
        strip_controls(&f.summary).replace('\n', "\n   ")
    );
    if let Some(t) = &f.trigger {
        let _ = writeln!(
            out,
            "   {} {} (weight ×{})",
            "Changed just before:".cyan(),
            strip_controls(&t.text),
            t.factor
        );
    }
    if let Some(c) = &f.changed {
        let _ = writeln!(
            out,
            "   {} {} {}",
            "Last changed:".cyan(),
            c.at,
            strip_controls(&c.describe())
        );
    }
    if let Some(l) = &f.location {
        let field = l
            .field
            .as_ref()
            .map(|x| format!(" {x}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "   {} {} ({l}{})",
            "At:".cyan(),
            strip_controls(&l.place()),
            strip_controls(&field)
        );
    }
    if let Some(c) = &f.explained_by {
        let _ = writeln!(
            out,
            "   {} {} (see that cause first)",
            "Consequence of:".yellow(),
            c
        );
    }
    if let Some(q) = &f.question {
        let _ = writeln!(out, "   {} {}", "Tell apart:".cyan(), strip_controls(q));
    }
    if !f.evidence.is_empty() {
        let _ = writeln!(out, "   {}", "Evidence:".cyan());
        // One line that several signals matched is shown once, naming them all.
        let mut shown: Vec<(Vec<&str>, &str, &str, u64)> = Vec::new();
        for e in &f.evidence {
            match shown
                .iter_mut()
                .find(|(_, src, text, _)| *src == e.source && *text == e.text)
            {
                Some(s) => {
                    s.0.push(&e.signal);
                    s.3 = s.3.max(e.count);
                }
                None => shown.push((vec![&e.signal], &e.source, &e.text, e.count)),
            }
        }
        for (signals, source, text, n) in shown {
            let count = if n > 1 {
                format!(" ×{n}")
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "     [{}] {}{}",
                signals.join(", "),
                strip_controls(source).dimmed(),
                count
            );
            let text = strip_controls(text);
            let _ = writeln!(out, "       {}", clip_chars(&text, 240));
        }
    }
    if !f.objects.is_empty() {
        let objs: Vec<String> = f
            .objects
            .iter()
            .map(|o| strip_controls(&o.to_string()))
            .collect();
        let _ = writeln!(out, "   {} {}", "Objects:".cyan(), objs.join(", "));
    }
    if !f.targets.is_empty() {
        let t: Vec<String> = f
            .targets
            .iter()
            .map(|t| format!("{} ×{}", strip_controls(&t.target), t.count))
            .collect();
        let _ = writeln!(out, "   {} {}", "Upstreams:".cyan(), t.join(", "));
    }
    for (title, steps) in [("Confirm:", &f.confirm), ("Fix:", &f.fix)] {
        let _ = writeln!(out, "   {}", title.cyan());
        for s in steps {
            let _ = writeln!(
                out,
                "     - {}",
                strip_controls(s.text.trim()).replace('\n', "\n       ")
            );
            if let Some(c) = &s.command {
                for line in c.trim().lines() {
                    let _ = writeln!(
                        out,
                        "       {} {}",
                        "$".dimmed(),
                        strip_controls(line).green()
                    );
                }
            }
        }
    }
    for p in &f.patches {
        let _ = writeln!(
            out,
            "   {}\n{}",
            "Patch:".cyan(),
            p.lines()
                .map(|l| format!("     {}", strip_controls(l)))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    out.push('\n');
}
