//! Markdown for tickets and pull-request comments.

use super::Report;
use super::sanitize::strip_controls;
use std::fmt::Write;

fn cell(s: &str) -> String {
    strip_controls(s).replace('|', "\\|").replace('\n', " ")
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## meshdoc {}: {}\n",
        report.command,
        cell(&report.input)
    );
    if report.findings.is_empty() {
        out.push_str("No root cause found.\n");
        return out;
    }
    out.push_str("| # | cause | severity | score | confidence |\n|---|---|---|---|---|\n");
    for f in &report.findings {
        let _ = writeln!(
            out,
            "| {} | `{}` | {:?} | {:.1} | {:?} |",
            f.rank, f.id, f.severity, f.score, f.confidence
        );
    }
    out.push('\n');
    for f in &report.findings {
        let _ = writeln!(out, "### {}. `{}` — {}\n", f.rank, f.id, cell(&f.title));
        let _ = writeln!(out, "{}\n", strip_controls(f.summary.trim()));
        if let Some(q) = &f.question {
            let _ = writeln!(out, "**Tell apart:** {}\n", strip_controls(q));
        }
        if !f.evidence.is_empty() {
            out.push_str("**Evidence**\n\n```text\n");
            for e in &f.evidence {
                let _ = writeln!(
                    out,
                    "[{}] {} (×{})\n  {}",
                    e.signal,
                    strip_controls(&e.source),
                    e.count,
                    strip_controls(&e.text).replace("```", "'''")
                );
            }
            out.push_str("```\n\n");
        }
        for (title, steps) in [("Confirm", &f.confirm), ("Fix", &f.fix)] {
            let _ = writeln!(out, "**{title}**\n");
            for s in steps {
                let _ = writeln!(out, "- {}", cell(s.text.trim()));
                if let Some(c) = &s.command {
                    let _ = writeln!(
                        out,
                        "  ```sh\n  {}\n  ```",
                        strip_controls(c.trim()).replace('\n', "\n  ")
                    );
                }
            }
            out.push('\n');
        }
    }
    out
}
