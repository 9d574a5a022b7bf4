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
    if let Some(e) = &report.error {
        let _ = writeln!(out, "**Nothing checked:** {}", cell(&e.message));
        return out;
    }
    if report.findings.is_empty() {
        out.push_str(if report.command == "check" {
            "No findings.\n"
        } else {
            "No root cause found.\n"
        });
        return out;
    }
    if report.findings.iter().any(|f| f.location.is_some()) {
        out.push_str("| # | rule | severity | where | object |\n|---|---|---|---|---|\n");
        for f in &report.findings {
            let (at, obj) = f
                .location
                .as_ref()
                .map(|l| (cell(&l.place()), cell(&l.to_string())))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | `{}` | {:?} | `{at}` | {obj} |",
                f.rank, f.id, f.severity
            );
        }
    } else {
        out.push_str("| # | cause | severity | score | confidence |\n|---|---|---|---|---|\n");
        for f in &report.findings {
            let _ = writeln!(
                out,
                "| {} | `{}` | {:?} | {:.1} | {:?} |",
                f.rank, f.id, f.severity, f.score, f.confidence
            );
        }
    }
    out.push('\n');
    for f in &report.findings {
        let _ = writeln!(out, "### {}. `{}` — {}\n", f.rank, f.id, cell(&f.title));
        if let Some(l) = &f.location {
            let _ = writeln!(
                out,
                "**At:** `{}` ({})\n",
                cell(&l.place()),
                cell(&l.to_string())
            );
        }
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
        for p in &f.patches {
            let _ = writeln!(
                out,
                "**Patch**\n\n```yaml\n{}\n```\n",
                p.lines()
                    .map(strip_controls)
                    .collect::<Vec<_>>()
                    .join("\n")
                    .replace("```", "'''")
            );
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
