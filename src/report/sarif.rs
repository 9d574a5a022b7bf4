//! SARIF 2.1.0 for GitHub code scanning and other SARIF consumers.
//!
//! One run; `tool.driver.rules` lists every rule that has findings, plus
//! every fact rule when the report comes from `check` (so code scanning can
//! close alerts whose rule stopped firing). Each result carries `ruleId`,
//! `ruleIndex`, `level`, a message with the real object names, a physical
//! location (file, line, column) when the object came from a file, a logical
//! location (`Kind/ns/name`) always, and a stable partial fingerprint (rule +
//! object, no line numbers). Unreadable inputs become
//! `invocations[0].toolExecutionNotifications`.

use super::{Finding, Report};
use crate::rules::{Rule, RuleSet, Severity, SignalKind};
use serde_json::{Value, json};

/// The SARIF level of a severity.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A file path as a relative URI reference (forward slashes, `./` dropped,
/// reserved characters escaped).
pub fn uri(path: &str) -> String {
    let p = path.strip_prefix("./").unwrap_or(path).replace('\\', "/");
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn rule_json(r: &Rule) -> Value {
    let help = r
        .docs()
        .fix
        .iter()
        .map(|s| match &s.command {
            Some(c) => format!("- {}\n  $ {}", s.text.trim(), c.trim()),
            None => format!("- {}", s.text.trim()),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut v = json!({
        "id": r.id,
        "name": r.id,
        "shortDescription": {"text": r.title},
        "fullDescription": {"text": r.docs().summary.trim()},
        "help": {"text": format!("{}\n\nFix:\n{help}", r.docs().summary.trim())},
        "defaultConfiguration": {"level": level(r.severity)},
        "properties": {"tags": r.tags, "mesh": format!("{:?}", r.mesh).to_lowercase()},
    });
    if let Some(u) = r.docs().references.first() {
        v["helpUri"] = json!(u.url);
    }
    v
}

fn finding_rule(f: &Finding) -> Value {
    json!({
        "id": f.id,
        "name": f.id,
        "shortDescription": {"text": f.title},
        "fullDescription": {"text": f.summary},
        "defaultConfiguration": {"level": level(f.severity)},
    })
}

fn message(f: &Finding) -> String {
    let mut m: Vec<String> = Vec::new();
    for e in &f.evidence {
        if !m.contains(&e.text) {
            m.push(e.text.clone());
        }
    }
    if m.is_empty() {
        m.push(f.title.clone());
    }
    let mut s = m.join(" ");
    if let Some(p) = f.patches.first() {
        s.push_str("\nFix:\n");
        s.push_str(p);
    }
    s
}

/// Renders the report as a SARIF 2.1.0 log.
pub fn render(report: &Report, rules: &RuleSet) -> String {
    let mut ids: Vec<String> = Vec::new();
    let mut descs: Vec<Value> = Vec::new();
    if report.command == "check" {
        for r in &rules.rules {
            if r.signals
                .iter()
                .any(|s| matches!(s.kind, SignalKind::Fact(_)))
            {
                ids.push(r.id.clone());
                descs.push(rule_json(r));
            }
        }
    }
    for f in &report.findings {
        if !ids.contains(&f.id) {
            ids.push(f.id.clone());
            descs.push(
                rules
                    .get(&f.id)
                    .map(rule_json)
                    .unwrap_or_else(|| finding_rule(f)),
            );
        }
    }
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let idx = ids.iter().position(|i| *i == f.id).unwrap_or(0);
            let mut loc = json!({});
            if let Some(l) = &f.location {
                if let Some(file) = l.file.as_deref().filter(|f| *f != "-") {
                    let mut region = json!({"startLine": l.line.unwrap_or(1).max(1)});
                    if let Some(c) = l.column {
                        region["startColumn"] = json!(c.max(1));
                    }
                    loc["physicalLocation"] = json!({
                        "artifactLocation": {"uri": uri(file)},
                        "region": region,
                    });
                }
                loc["logicalLocations"] = json!([{
                    "fullyQualifiedName": l.to_string(),
                    "kind": "resource",
                }]);
            }
            let mut r = json!({
                "ruleId": f.id,
                "ruleIndex": idx,
                "level": level(f.severity),
                "message": {"text": message(f)},
                "partialFingerprints": {"meshdoc/v1": f.fingerprint()},
            });
            if loc.as_object().is_some_and(|m| !m.is_empty()) {
                r["locations"] = json!([loc]);
            }
            r
        })
        .collect();
    let notifications: Vec<Value> = report
        .error
        .iter()
        .map(|e| e.message.clone())
        .chain(
            report
                .missing
                .iter()
                .map(|m| format!("{}: {}", m.what, m.reason)),
        )
        .map(|text| {
            json!({
                "level": "error",
                "message": {"text": text},
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "meshdoc",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "rules": descs,
            }},
            "invocations": [{
                "executionSuccessful": report.error.is_none() && report.missing.iter().all(|m| m.what == "rules"),
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_relative_uri_references() {
        assert_eq!(uri("./k8s/a b.yaml"), "k8s/a%20b.yaml");
        assert_eq!(uri("dir\\x.yml"), "dir/x.yml");
    }
}
