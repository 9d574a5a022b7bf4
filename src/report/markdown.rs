//! Markdown for tickets and pull-request comments.

use super::Report;
use super::sanitize::{md_code, md_fence, md_text, strip_controls};
use std::fmt::Write;

/// Untrusted text in a table cell or paragraph: escaped, one line.
fn cell(s: &str) -> String {
    md_text(s)
}

/// The rule's own prose (it uses Markdown on purpose), with any value filled
/// into it kept from becoming HTML: controls stripped, `<`, `>` and `&`
/// written as entities.
fn prose(s: &str) -> String {
    strip_controls(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Untrusted names (ids, objects, paths) as code spans; a `|` would still end
/// a table cell, so it is escaped inside the span.
fn code(s: &str) -> String {
    md_code(s).replace('|', "\\|")
}

/// A fenced block whose fence no line inside can close.
fn fenced(lang: &str, body: &str) -> String {
    let body = strip_controls(body);
    let f = md_fence(&body);
    format!("{f}{lang}\n{body}\n{f}")
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## meshdoc {}: {}\n",
        report.command,
        code(&report.input)
    );
    if let Some(e) = &report.error {
        let _ = writeln!(out, "**Nothing checked:** {}", prose(&e.message));
        return out;
    }
    if report.findings.is_empty() {
        out.push_str(if report.command == "check" {
            "No findings.\n"
        } else {
            "No root cause found.\n"
        });
        missing(report, &mut out);
        return out;
    }
    if report.findings.iter().any(|f| f.location.is_some()) {
        out.push_str("| # | rule | severity | where | object |\n|---|---|---|---|---|\n");
        for f in &report.findings {
            let (at, obj) = f
                .location
                .as_ref()
                .map(|l| (code(&l.place()), code(&l.to_string())))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | {} | {:?} | {at} | {obj} |",
                f.rank,
                code(&f.id),
                f.severity
            );
        }
    } else {
        out.push_str("| # | cause | severity | score | confidence |\n|---|---|---|---|---|\n");
        for f in &report.findings {
            let _ = writeln!(
                out,
                "| {} | {} | {:?} | {:.1} | {:?} |",
                f.rank,
                code(&f.id),
                f.severity,
                f.score,
                f.confidence
            );
        }
    }
    out.push('\n');
    if let Some(t) = report.timeline.as_ref().filter(|t| !t.is_empty()) {
        super::timeline::markdown(t, &mut out);
    }
    for f in &report.findings {
        let _ = writeln!(
            out,
            "### {}. {} — {}\n",
            f.rank,
            code(&f.id),
            prose(&f.title)
        );
        if let Some(l) = &f.location {
            let _ = writeln!(
                out,
                "**At:** {} ({})\n",
                code(&l.place()),
                code(&l.to_string())
            );
        }
        let _ = writeln!(out, "{}\n", prose(f.summary.trim()));
        if let Some(t) = &f.trigger {
            let _ = writeln!(out, "**Changed just before:** {}\n", cell(&t.text));
        }
        if let Some(c) = &f.changed {
            let _ = writeln!(out, "**Last changed:** {} {}\n", c.at, cell(&c.describe()));
        }
        if let Some(q) = &f.question {
            let _ = writeln!(out, "**Tell apart:** {}\n", prose(q));
        }
        if !f.evidence.is_empty() {
            let mut body = String::new();
            for e in &f.evidence {
                let _ = writeln!(
                    body,
                    "[{}] {} (×{})\n  {}",
                    e.signal, e.source, e.count, e.text
                );
            }
            let _ = writeln!(out, "**Evidence**\n\n{}\n", fenced("text", body.trim_end()));
        }
        for p in &f.patches {
            let _ = writeln!(out, "**Patch**\n\n{}\n", fenced("yaml", p.trim_end()));
        }
        for (title, steps) in [("Confirm", &f.confirm), ("Fix", &f.fix)] {
            let _ = writeln!(out, "**{title}**\n");
            for s in steps {
                let _ = writeln!(out, "- {}", prose(s.text.trim()).replace('\n', " "));
                if let Some(c) = &s.command {
                    let block = fenced("sh", c.trim());
                    let _ = writeln!(out, "  {}", block.replace('\n', "\n  "));
                }
            }
            out.push('\n');
        }
    }
    missing(report, &mut out);
    out
}

/// What could not be read, and the rules that left unevaluated.
fn missing(report: &Report, out: &mut String) {
    if report.missing.is_empty() {
        return;
    }
    out.push_str("**Not looked at**\n\n");
    for m in &report.missing {
        let _ = write!(out, "- {}: {}", code(&m.what), cell(&m.reason));
        if !m.rules.is_empty() {
            let ids: Vec<String> = m.rules.iter().map(|r| code(r)).collect();
            let _ = write!(out, " (rules not evaluated: {})", ids.join(", "));
        }
        out.push('\n');
    }
    out.push('\n');
}
