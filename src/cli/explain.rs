//! `meshdoc explain INPUT`: offline, instant, ranked causes for a symptom.
//!
//! INPUT is understood as, in order: a rule id (prints its documentation), a
//! status code, Envoy response flags, a response-code-details value, a known
//! symptom keyword, or else evidence text (a log line, a header, a curl
//! transcript) parsed like any other evidence. `--file F` / `-` reads many
//! lines and aggregates them into one answer.

use super::{Code, Global, emit, note, print};
use crate::engine::Matcher;
pub use crate::engine::explain::{
    ENVOY_FLAGS, MODIFIER_FLAGS, explain_text, explain_text_or_words, parse_query,
};
use crate::evidence::{InputKind, Origin, ReadStats, detect};
use crate::report::{Format, Report};
use crate::rules::{Rule, RuleSet};
use crate::util::group;
use anyhow::{Context, bail};
use clap::Args;

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

/// Ids and keywords that look like `input`, for "did you mean".
fn suggestions<'a>(input: &str, rules: &'a RuleSet) -> Vec<&'a str> {
    let words = rules.rules.iter().flat_map(|r| {
        std::iter::once(r.id.as_str()).chain(r.symptoms.keywords.iter().map(String::as_str))
    });
    crate::suggest::ranked(input, words, 5)
}

pub fn run(a: ExplainArgs, g: &Global) -> anyhow::Result<Code> {
    let source = match (&a.file, a.input.as_slice()) {
        (Some(f), _) => Some(f.clone()),
        (None, [one]) if one == "-" => Some("-".to_string()),
        (None, []) => bail!(
            "nothing to explain: give a symptom (503, UF, fail-fast, a log line, a rule id) or --file FILE"
        ),
        (None, _) => None,
    };
    let rules: RuleSet;
    let (report, stats, short) = match &source {
        Some(f) => {
            rules = super::load_rules(g)?.for_mesh(a.mesh.mesh());
            explain_source(&rules, f, a.kind.into())?
        }
        None => {
            let text = a.input.join(" ");
            if text.trim().is_empty() {
                bail!("the input is empty: nothing to explain");
            }
            // A rule id or a bare symptom needs no signals: the quick load.
            // Evidence text (a header, a log line) goes straight to the full one.
            let quick = might_be_symptom(&text)
                .then(|| super::load_rules_symptoms(g))
                .transpose()?
                .map(|r| r.for_mesh(a.mesh.mesh()));
            if let Some(rule) = quick.as_ref().and_then(|q| q.get(text.trim())) {
                show_rule(rule, g)?;
                return Ok(Code::Clean);
            }
            rules = match quick {
                Some(q) if a.kind == KindArg::Auto && parse_query(text.trim(), &q).is_some() => q,
                _ => super::load_rules(g)?.for_mesh(a.mesh.mesh()),
            };
            let (report, stats) = explain_text_or_words(&rules, &text, a.kind.into(), &Origin::Arg);
            (report, stats, Some(text))
        }
    };
    if let Some(f) = source.as_deref().filter(|_| stats.not_utf8 > 0) {
        super::warn_not_utf8(f);
    }
    if source.is_some() {
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
        let shown = short
            .as_deref()
            .map(|t| {
                crate::report::sanitize::strip_controls(&crate::report::sanitize::clip(
                    t.trim(),
                    80,
                ))
            })
            .unwrap_or_else(|| report.input.clone());
        let mut msg = format!("no rule explains `{shown}`");
        // "Did you mean" only for a short, one-line input: comparing a log
        // with every keyword would take minutes and mean nothing.
        let sugg = short
            .as_deref()
            .filter(|t| t.trim().len() <= 120 && !t.trim().contains('\n'))
            .map(|t| suggestions(t.trim(), &rules))
            .unwrap_or_default();
        if !sugg.is_empty() {
            msg.push_str(&format!("; did you mean: {}?", sugg.join(", ")));
        } else if source.is_none() {
            msg.push_str("; try a status (503), an Envoy flag (UF), a keyword (fail-fast), a log line, or `meshdoc rules list`");
        }
        if stats.lines > 1 || source.is_some() {
            // A file with no recognisable cause is an answer, not an error.
            note(&format!("meshdoc: {msg}"));
            return emit(&report, g);
        }
        bail!(msg);
    }
    emit(&report, g)
}

/// `true` when `text` could be a rule id or a bare symptom (`503 UF`,
/// `fail-fast`, a details token): short, one line, none of the punctuation
/// log lines and headers carry.
fn might_be_symptom(text: &str) -> bool {
    let t = text.trim();
    t.len() <= 120
        && !t.contains('\n')
        && t.split_whitespace().count() <= 6
        && !t.contains([':', '=', '"', '[', ']', '<', '>', '/', '\\', '(', ')'])
}

/// Up to this many bytes, a file or stdin is read whole (so `echo 503 |
/// meshdoc explain -` is a symptom); beyond it, it is streamed line by line
/// and memory does not grow with its size.
const WHOLE: usize = 64 * 1024;

/// Explains a file or stdin (`-`): (report, stats, the text when it was small).
fn explain_source(
    rules: &RuleSet,
    f: &str,
    kind: InputKind,
) -> anyhow::Result<(Report, ReadStats, Option<String>)> {
    use std::io::{BufRead, BufReader, Read};
    let name = if f == "-" { "<stdin>" } else { f };
    let origin = Origin::file(name, None);
    let reader: Box<dyn std::io::Read> = if f == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(f).with_context(|| format!("reading {f}"))?)
    };
    let mut r = BufReader::with_capacity(1 << 20, reader);
    // Fill the head: a small input is read whole.
    let mut head = Vec::new();
    loop {
        let buf = r.fill_buf().with_context(|| format!("reading {name}"))?;
        if buf.is_empty() || head.len() + buf.len() > WHOLE {
            break;
        }
        head.extend_from_slice(buf);
        let n = buf.len();
        r.consume(n);
    }
    let at_end = r.fill_buf().map(|b| b.is_empty()).unwrap_or(true);
    if at_end {
        let (text, lossy) = crate::evidence::text::decode_lossy(head);
        if text.trim().is_empty() {
            bail!(
                "the input is empty: nothing to explain (did the command piping into meshdoc print anything?)"
            );
        }
        // A pasted paragraph reads the same from a file or a pipe as from
        // the command line: its words may name candidates.
        let (mut report, mut stats) = explain_text_or_words(rules, &text, kind, &origin);
        stats.not_utf8 += u64::from(lossy);
        if stats.lines > 1 {
            report.input = name.to_string();
        }
        return Ok((report, stats, Some(text)));
    }
    let mut m = Matcher::new(rules);
    let stats = detect::read_lines(std::io::Cursor::new(head).chain(r), kind, &origin, |ev| {
        m.observe(&ev)
    });
    let mut report = Report::new("explain", name.to_string(), m.finish());
    report.read = Some(stats.clone());
    Ok((report, stats, None))
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
            "summary": r.docs().summary,
            "why": r.docs().why,
            "confirm": r.docs().confirm,
            "fix": r.docs().fix,
            "references": r.docs().references,
        },
        "versions": r.versions(),
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
    let _ = writeln!(o, "## What it means\n\n{}\n", r.docs().summary.trim());
    let _ = writeln!(o, "## Why it happens\n\n{}\n", r.docs().why.trim());
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
        ("How to confirm", &r.docs().confirm),
        ("How to fix", &r.docs().fix),
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
    if !r.versions().is_empty() {
        let _ = writeln!(o, "## Version notes\n");
        for v in r.versions() {
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
    for rf in &r.docs().references {
        let _ = writeln!(o, "- {}: {}", rf.title, rf.url);
    }
    o
}
