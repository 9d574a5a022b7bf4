//! GitHub Actions workflow commands: one `::error`/`::warning`/`::notice`
//! line per finding, so findings show up as annotations on the pull
//! request's changed lines. Escaping follows the Actions toolkit
//! (`%`, CR, LF in messages; also `:` and `,` in properties).

use super::{Finding, Report};
use crate::rules::Severity;

fn esc_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn esc_prop(s: &str) -> String {
    esc_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn line(f: &Finding) -> String {
    let cmd = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    };
    let mut props = Vec::new();
    if let Some(l) = &f.location
        && let Some(file) = l.file.as_deref().filter(|f| *f != "-")
    {
        props.push(format!(
            "file={}",
            esc_prop(file.strip_prefix("./").unwrap_or(file))
        ));
        if let Some(n) = l.line {
            props.push(format!("line={n}"));
        }
        if let Some(c) = l.column {
            props.push(format!("col={c}"));
        }
    }
    props.push(format!(
        "title={}",
        esc_prop(&format!("{}: {}", f.id, f.title))
    ));
    let mut msg: Vec<String> = Vec::new();
    if let Some(l) = &f.location {
        msg.push(format!("[{l}]"));
    }
    for e in &f.evidence {
        if !msg.contains(&e.text) {
            msg.push(e.text.clone());
        }
    }
    let mut text = msg.join(" ");
    if let Some(p) = f.patches.first() {
        text.push_str("\nFix:\n");
        text.push_str(p);
    }
    format!("::{cmd} {}::{}", props.join(","), esc_data(&text))
}

/// One workflow command per finding, and one `::error` per input that
/// could not be read. Only workflow commands: the summary line is the
/// CLI's, on stderr.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    if let Some(e) = &report.error {
        out.push_str(&format!(
            "::error title=meshdoc checked nothing::{}\n",
            esc_data(&e.message)
        ));
    }
    for f in &report.findings {
        out.push_str(&line(f));
        out.push('\n');
    }
    for m in &report.missing {
        out.push_str(&format!(
            "::error title=meshdoc could not read input::{}\n",
            esc_data(&format!("{}: {}", m.what, m.reason))
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_command_data_and_properties_are_escaped() {
        assert_eq!(esc_data("a%b\nc"), "a%25b%0Ac");
        assert_eq!(esc_prop("x:y,z"), "x%3Ay%2Cz");
    }
}
