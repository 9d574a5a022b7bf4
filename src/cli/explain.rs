//! `meshdoc explain INPUT`: offline, instant, ranked causes for a symptom.
//!
//! INPUT is understood as, in order: a rule id (prints its documentation), a
//! status code, Envoy response flags, a response-code-details value, a known
//! symptom keyword, or else evidence text (a log line, a header, a curl
//! transcript) parsed like any other evidence. `--file F` / `-` reads many
//! lines and aggregates them into one answer.

use super::{Code, Global, emit, note, print};
use crate::engine::{Matcher, Query};
use crate::evidence::{InputKind, Origin, ReadStats, detect};
use crate::report::{Format, Report};
use crate::rules::{Rule, RuleSet};
use anyhow::{Context, bail};
use clap::Args;
use std::io::Read;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The symptom: 503, UF, UF,URX, fail-fast, a header, a log line, or a rule id.
    #[arg(value_name = "INPUT")]
    pub input: Vec<String>,
    /// Read the input from a file (`-` for stdin); many lines are aggregated.
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<String>,
    /// What the input is, when auto-detection guesses wrong.
    #[arg(long, value_enum, default_value = "auto")]
    pub kind: KindArg,
    /// Only consider causes of this mesh.
    #[arg(long, value_enum, default_value = "auto")]
    pub mesh: MeshArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MeshArg {
    Auto,
    Linkerd,
    Istio,
}

impl MeshArg {
    pub fn mesh(self) -> Option<crate::rules::Mesh> {
        match self {
            MeshArg::Auto => None,
            MeshArg::Linkerd => Some(crate::rules::Mesh::Linkerd),
            MeshArg::Istio => Some(crate::rules::Mesh::Istio),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    Auto,
    ProxyLog,
    AccessLog,
    EnvoyLog,
    AppLog,
    Metrics,
    Http,
}

impl From<KindArg> for InputKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Auto => InputKind::Auto,
            KindArg::ProxyLog => InputKind::ProxyLog,
            KindArg::AccessLog => InputKind::AccessLog,
            KindArg::EnvoyLog => InputKind::EnvoyLog,
            KindArg::AppLog => InputKind::AppLog,
            KindArg::Metrics => InputKind::Metrics,
            KindArg::Http => InputKind::Http,
        }
    }
}

/// Envoy's response flags (short codes), from Envoy's access-log docs.
pub const ENVOY_FLAGS: &[&str] = &[
    "LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE", "DC",
    "URX", "SI", "IH", "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF", "DO", "DR",
    "UDO",
];

/// Flags that qualify the flag beside them rather than name a cause: Envoy
/// adds `URX` when the retries or connect attempts that another flag's
/// failure caused ran out (`UF,URX`, `UH,URX`, `UC,URX`). Beside another flag
/// it is read as a [`Query::Modifier`]; alone it is a flag like any other.
pub const MODIFIER_FLAGS: &[&str] = &["URX"];

/// Reads a bare symptom; `None` when the input is evidence text instead.
pub fn parse_query(input: &str, rules: &RuleSet) -> Option<Vec<Query>> {
    let t = input.trim();
    if t.is_empty() || t.contains('\n') {
        return None;
    }
    let mut out = Vec::new();
    // Whitespace tokens read as queries: `UF,URX` is one token, two flags.
    let mut read = 0;
    for tok in t.split_whitespace() {
        read += 1;
        if let Ok(code) = tok.parse::<u16>() {
            // 0 is Envoy's "no response was sent" (DC, TCP lines).
            if code == 0 || (100..600).contains(&code) {
                out.push(Query::Status(code));
                continue;
            }
            return None;
        }
        let flags: Vec<&str> = tok.split(',').collect();
        if flags.iter().all(|f| ENVOY_FLAGS.contains(f)) {
            let primary = flags.iter().any(|f| !MODIFIER_FLAGS.contains(f));
            out.extend(flags.into_iter().map(|f| {
                if primary && MODIFIER_FLAGS.contains(&f) {
                    Query::Modifier(f.to_string())
                } else {
                    Query::Flag(f.to_string())
                }
            }));
            continue;
        }
        if tok.len() > 3
            && tok.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && tok.contains('_')
            && !tok.contains(':')
            && tok
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_{}-.,".contains(&b))
        {
            out.push(Query::Details(tok.to_string()));
            continue;
        }
        // A known keyword, possibly several words ("fail-fast", "detect timeout").
        read -= 1;
        break;
    }
    if !out.is_empty() && read == t.split_whitespace().count() {
        return Some(out);
    }
    let is_kw = rules.rules.iter().any(|r| {
        r.symptoms
            .keywords
            .iter()
            .any(|k| k.eq_ignore_ascii_case(t))
    });
    if out.is_empty() && is_kw {
        return Some(vec![Query::Keyword(t.to_string())]);
    }
    None
}

/// Explains one input text against the rules; the library entry point used by
/// the CLI and the corpus tests.
pub fn explain_text(
    rules: &RuleSet,
    text: &str,
    kind: InputKind,
    origin: &Origin,
) -> (Report, ReadStats) {
    let mut m = Matcher::new(rules);
    let mut notes = Vec::new();
    let mut stats = ReadStats::default();
    // A symptom pasted with a collector's prefix (`… stdout F UH`) is still a symptom.
    let one_line =
        (!text.trim().contains('\n')).then(|| crate::evidence::wrap::unwrap_line(text.trim()).line);
    let query_text = one_line.as_deref().unwrap_or(text);
    if let Some(queries) = (kind == InputKind::Auto)
        .then(|| parse_query(query_text, rules))
        .flatten()
    {
        let shown: Vec<String> = queries
            .iter()
            .map(|q| format!("{q:?}").to_lowercase())
            .collect();
        notes.push(format!("read as: {}", shown.join(", ")));
        for q in &queries {
            m.observe_query(q);
        }
    } else {
        let (items, st) = detect::read_text(text, kind, origin);
        stats = st;
        for ev in &items {
            m.observe(ev);
        }
    }
    let report = Report::new(
        "explain",
        crate::report::sanitize::clip(text.trim(), 200),
        m.finish(),
    );
    let mut report = report;
    report.notes = notes;
    report.read = (stats.lines > 0).then(|| stats.clone());
    (report, stats)
}

/// Ids and keywords that look like `input`, for "did you mean".
fn suggestions<'a>(input: &str, rules: &'a RuleSet) -> Vec<&'a str> {
    let words = rules.rules.iter().flat_map(|r| {
        std::iter::once(r.id.as_str()).chain(r.symptoms.keywords.iter().map(String::as_str))
    });
    crate::suggest::ranked(input, words, 5)
}

pub fn run(a: ExplainArgs, g: &Global) -> anyhow::Result<Code> {
    let rules = super::load_rules(g)?.for_mesh(a.mesh.mesh());
    let (text, origin) = match (&a.file, a.input.as_slice()) {
        (Some(f), _) => (
            read_file(f)?,
            Origin::file(if f == "-" { "<stdin>" } else { f }, None),
        ),
        (None, [one]) if one == "-" => (read_file("-")?, Origin::file("<stdin>", None)),
        (None, []) => bail!(
            "nothing to explain: give a symptom (503, UF, fail-fast, a log line, a rule id) or --file FILE"
        ),
        (None, parts) => (parts.join(" "), Origin::Arg),
    };
    if text.trim().is_empty() {
        bail!(
            "the input is empty: nothing to explain (did the command piping into meshdoc print anything?)"
        );
    }
    if a.file.is_none() && origin == Origin::Arg {
        if let Some(rule) = rules.get(text.trim()) {
            show_rule(rule, g)?;
            return Ok(Code::Clean);
        }
    }
    let (report, stats) = explain_text(&rules, &text, a.kind.into(), &origin);
    if a.file.is_some() || a.input.first().is_some_and(|s| s == "-") {
        note(&format!(
            "meshdoc: {} lines read, {} unparseable{}",
            group(stats.lines),
            group(stats.unparseable),
            if stats.oversized > 0 {
                format!(", {} oversized skipped", group(stats.oversized))
            } else {
                String::new()
            }
        ));
    }
    if report.findings.is_empty() {
        let sugg = suggestions(text.trim(), &rules);
        let mut msg = format!(
            "no rule explains `{}`",
            crate::report::sanitize::strip_controls(&crate::report::sanitize::clip(
                text.trim(),
                80
            ))
        );
        if !sugg.is_empty() {
            msg.push_str(&format!("; did you mean: {}?", sugg.join(", ")));
        } else {
            msg.push_str("; try a status (503), an Envoy flag (UF), a keyword (fail-fast), a log line, or `meshdoc rules list`");
        }
        if stats.lines > 1 || a.file.is_some() {
            // A file with no recognisable cause is an answer, not an error.
            note(&format!("meshdoc: {msg}"));
            return emit(&report, g);
        }
        bail!(msg);
    }
    emit(&report, g)
}

fn read_file(f: &str) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    if f == "-" {
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .context("reading stdin")?;
    } else {
        buf = std::fs::read(f).with_context(|| format!("reading {f}"))?;
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// 1204 → "1,204".
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Prints a rule's full documentation, like `ruff rule CODE`.
pub fn show_rule(rule: &Rule, g: &Global) -> anyhow::Result<()> {
    match g.output {
        Format::Json | Format::Yaml => {
            let v = rule_json(rule);
            let s = if g.output == Format::Json {
                serde_json::to_string_pretty(&v)? + "\n"
            } else {
                serde_saphyr::to_string(&v)?
            };
            print(&s)
        }
        Format::Markdown | Format::Table => print(&rule_markdown(rule)),
        other => bail!("output format {other:?} is not available for a rule's documentation"),
    }
}

/// The rule as JSON data (for `rules show -o json`, `rules list -o json`).
pub fn rule_json(r: &Rule) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "title": r.title,
        "mesh": r.mesh,
        "severity": r.severity,
        "prior": r.prior,
        "tags": r.tags,
        "path": r.path,
        "symptoms": {
            "status": r.symptoms.status.iter().map(|s| serde_json::json!({"code": s.code, "weight": s.weight, "note": s.note})).collect::<Vec<_>>(),
            "flags": r.symptoms.flags,
            "details": r.symptoms.details,
            "keywords": r.symptoms.keywords,
            "question": r.symptoms.question,
        },
        "signals": r.signals.iter().map(|s| serde_json::json!({"name": s.name, "family": s.kind.family(), "weight": s.weight, "note": s.note})).collect::<Vec<_>>(),
        "docs": {
            "summary": r.docs.summary,
            "why": r.docs.why,
            "confirm": r.docs.confirm,
            "fix": r.docs.fix,
            "references": r.docs.references,
        },
        "versions": r.versions,
    })
}

/// The rule's documentation in fixed sections.
pub fn rule_markdown(r: &Rule) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "# {} — {}\n", r.id, r.title.trim());
    let _ = writeln!(
        o,
        "mesh: {:?} · severity: {:?} · source: {}\n",
        r.mesh, r.severity, r.path
    );
    let _ = writeln!(o, "## What it means\n\n{}\n", r.docs.summary.trim());
    let _ = writeln!(o, "## Why it happens\n\n{}\n", r.docs.why.trim());
    let mut sym = Vec::new();
    if !r.symptoms.status.is_empty() {
        sym.push(format!(
            "status {}",
            r.symptoms
                .status
                .iter()
                .map(|s| match &s.note {
                    Some(n) => format!("{} ({n})", s.code),
                    None => s.code.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !r.symptoms.flags.is_empty() {
        sym.push(format!("response flags {}", r.symptoms.flags.join(", ")));
    }
    if !r.symptoms.details.is_empty() {
        sym.push(format!("details {}", r.symptoms.details.join(", ")));
    }
    if !sym.is_empty() {
        let _ = writeln!(o, "## Symptoms\n\n{}\n", sym.join("; "));
    }
    if let Some(q) = &r.symptoms.question {
        let _ = writeln!(o, "Tell it apart: {q}\n");
    }
    for (title, steps) in [
        ("How to confirm", &r.docs.confirm),
        ("How to fix", &r.docs.fix),
    ] {
        let _ = writeln!(o, "## {title}\n");
        for s in steps {
            let _ = writeln!(o, "- {}", s.text.trim());
            if let Some(c) = &s.command {
                let _ = writeln!(o, "  ```sh\n  {}\n  ```", c.trim().replace('\n', "\n  "));
            }
        }
        o.push('\n');
    }
    if !r.versions.is_empty() {
        let _ = writeln!(o, "## Version notes\n");
        for v in &r.versions {
            let _ = writeln!(
                o,
                "- **{}**: {}{}",
                v.versions,
                v.note.trim(),
                v.source
                    .as_ref()
                    .map(|s| format!(" (source: {s})"))
                    .unwrap_or_default()
            );
        }
        o.push('\n');
    }
    let _ = writeln!(o, "## References\n");
    for rf in &r.docs.references {
        let _ = writeln!(o, "- {}: {}", rf.title, rf.url);
    }
    o
}
