//! JUnit XML for CI systems that render test reports (GitLab, Jenkins,
//! Azure DevOps). One `<testsuite>` per rule; one `<testcase>` per rule and
//! object it reported, failing, with the location and the fix; a rule that
//! reported nothing gets one passing testcase, so the rule shows as checked.

use super::Report;
use crate::rules::{RuleSet, SignalKind};
use std::fmt::Write;

/// XML-escapes text and attribute values; drops characters XML 1.0 forbids.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\t' | '\n' | '\r' => o.push(c),
            c if (c as u32) < 0x20 => {}
            c => o.push(c),
        }
    }
    o
}

/// Renders the report as JUnit XML.
pub fn render(report: &Report, rules: &RuleSet) -> String {
    let mut ids: Vec<String> = Vec::new();
    // What could not be read; a run that read nothing lists no rule as
    // passing, only the failure to read.
    let unreadable: Vec<(String, String)> = report
        .error
        .iter()
        .map(|e| ("nothing read".to_string(), e.message.clone()))
        .chain(
            report
                .missing
                .iter()
                .filter(|m| m.what != "rules")
                .map(|m| (m.what.clone(), m.reason.clone())),
        )
        .collect();
    if report.command == "check" && report.error.is_none() {
        for r in &rules.rules {
            if r.signals
                .iter()
                .any(|s| matches!(s.kind, SignalKind::Fact(_)))
            {
                ids.push(r.id.clone());
            }
        }
    }
    for f in &report.findings {
        if !ids.contains(&f.id) {
            ids.push(f.id.clone());
        }
    }
    let total_fail = report.findings.len() + unreadable.len();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"meshdoc {}\" tests=\"{}\" failures=\"{}\" errors=\"0\">",
        esc(&report.command),
        ids.iter()
            .map(|id| report
                .findings
                .iter()
                .filter(|f| f.id == *id)
                .count()
                .max(1))
            .sum::<usize>()
            + unreadable.len(),
        total_fail
    );
    for id in &ids {
        let fs: Vec<_> = report.findings.iter().filter(|f| f.id == *id).collect();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\">",
            esc(id),
            fs.len().max(1),
            fs.len()
        );
        if fs.is_empty() {
            let _ = writeln!(
                out,
                "    <testcase classname=\"{}\" name=\"no findings\"/>",
                esc(id)
            );
        }
        for f in fs {
            let name = f
                .location
                .as_ref()
                .map(|l| l.to_string())
                .unwrap_or_else(|| f.title.clone());
            let at = f
                .location
                .as_ref()
                .and_then(|l| {
                    l.file.as_ref().map(|file| {
                        format!("{file}:{}:{}", l.line.unwrap_or(1), l.column.unwrap_or(1))
                    })
                })
                .unwrap_or_default();
            let mut body = String::new();
            if !at.is_empty() {
                let _ = writeln!(body, "at {at}");
            }
            for e in &f.evidence {
                let _ = writeln!(body, "{}", e.text);
            }
            for p in &f.patches {
                let _ = writeln!(body, "fix:\n{p}");
            }
            let _ = writeln!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\"{}>",
                esc(id),
                esc(&name),
                if at.is_empty() {
                    String::new()
                } else {
                    format!(" file=\"{}\"", esc(at.split(':').next().unwrap_or("")))
                }
            );
            let _ = writeln!(
                out,
                "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                format!("{:?}", f.severity).to_lowercase(),
                esc(&f.title),
                esc(body.trim_end())
            );
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    if !unreadable.is_empty() {
        let _ = writeln!(
            out,
            "  <testsuite name=\"meshdoc-input\" tests=\"{0}\" failures=\"{0}\" errors=\"0\">",
            unreadable.len()
        );
        for (what, reason) in &unreadable {
            let _ = writeln!(
                out,
                "    <testcase classname=\"meshdoc-input\" name=\"{}\">\n      <failure type=\"error\" message=\"{}\"/>\n    </testcase>",
                esc(what),
                esc(reason)
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_special_and_control_characters_are_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'\u{1b}"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
    }
}
