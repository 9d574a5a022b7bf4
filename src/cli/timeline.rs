//! `meshdoc timeline`: what changed and when the errors began, on one time
//! axis, with the change suspected of setting the errors off marked. The
//! same inputs as `diagnose` (a live target, `--from DIR`, evidence files);
//! the same diagnosis runs, and the timeline is what is printed.
//!
//! `-o table` and `-o markdown` print the timeline (and the top cause);
//! `-o json|yaml` print the whole report, whose `timeline` holds it. Exit
//! codes are diagnose's: 1 when a finding is at or above `--fail-on`.

use super::{Code, Global, is_broken_pipe, note, print};
use crate::report::{Format, Report};
use anyhow::bail;
use std::fmt::Write;

pub fn run(a: super::diagnose::DiagnoseArgs, g: &Global) -> anyhow::Result<Code> {
    if !matches!(
        g.output,
        Format::Table | Format::Markdown | Format::Json | Format::Yaml
    ) {
        bail!("`meshdoc timeline` prints table, markdown, json or yaml");
    }
    let (mut report, incomplete) = super::diagnose::report(&a, g)?;
    report.command = "timeline".into();
    let text = render(&report, g.output);
    let code = if incomplete {
        Code::Failure
    } else if !g.exit_zero && report.fails(g.fail_on.into()) {
        Code::Findings
    } else {
        Code::Clean
    };
    if let Some(t) = &report.timeline {
        note(&format!(
            "meshdoc: timeline: {} entries{}",
            t.entries.len(),
            if t.trigger.is_some() {
                ", a suspected trigger"
            } else {
                ""
            }
        ));
    }
    match print(&text) {
        Err(e) if is_broken_pipe(&e) => Ok(code),
        other => other.map(|_| code),
    }
}

/// The timeline in `format`.
pub fn render(report: &Report, format: Format) -> String {
    if let Some(m) = crate::report::render_machine(report, format) {
        return m;
    }
    let empty = Default::default();
    let t = report.timeline.as_ref().unwrap_or(&empty);
    let mut out = String::new();
    let top = report.findings.first().map(|f| {
        format!(
            "top cause: {} ({:?}, score {:.1})",
            f.id, f.severity, f.score
        )
        .to_lowercase()
    });
    match format {
        Format::Markdown => {
            let _ = writeln!(
                out,
                "## meshdoc timeline: {}\n",
                crate::report::sanitize::md_code(&report.input)
            );
            if let Some(top) = &top {
                let _ = writeln!(out, "{}\n", crate::report::sanitize::md_text(top));
            }
            crate::report::timeline::markdown(t, &mut out);
        }
        _ => {
            crate::report::timeline::table(t, &mut out);
            if let Some(top) = &top {
                let _ = writeln!(out, "{top}");
            }
        }
    }
    out
}
