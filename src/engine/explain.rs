//! Explaining one text: a bare symptom (`503`, `UF,URX`, a details token, a
//! keyword) read as queries, or evidence text parsed like any other
//! evidence, matched and ranked. The CLI's `explain` and the rule examples
//! both go through [`explain_text`].

use super::{Matcher, Query};
use crate::evidence::{InputKind, Origin, ReadStats, detect};
use crate::report::Report;
use crate::rules::RuleSet;

pub use crate::evidence::access::ENVOY_FLAGS;
use crate::evidence::access::flag_code;

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
        // Short codes or long names (`NoHealthyUpstream`), as Envoy writes them.
        let flags: Option<Vec<&str>> = tok.split(',').map(flag_code).collect();
        if let Some(flags) = flags {
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
                .all(|b| b.is_ascii_alphanumeric() || b"_{}-.,|".contains(&b))
            && known_details(tok, rules)
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
    let is_kw = super::is_keyword(rules, t);
    if out.is_empty() && is_kw {
        return Some(vec![Query::Keyword(t.to_string())]);
    }
    None
}

/// `true` when some rule lists `tok` among its response-code-details (a
/// trailing `*` in the rule is a prefix): `envoy_cluster_x 0` is a metric
/// sample, not a details query.
fn known_details(tok: &str, rules: &RuleSet) -> bool {
    rules.rules.iter().any(|r| {
        r.symptoms
            .details
            .iter()
            .any(|d| match d.strip_suffix('*') {
                Some(p) => tok.starts_with(p),
                None => d == tok,
            })
    })
}

/// [`explain_text`], and when nothing explains the text, the causes its words
/// name ([`super::words`]): candidates at info severity, never an error. The
/// CLI's `explain` of an argument, of a small file or of stdin, and the
/// corpus tests use it; rule examples and a streamed large file use
/// [`explain_text`], whose answer rests on evidence alone.
pub fn explain_text_or_words(
    rules: &RuleSet,
    text: &str,
    kind: InputKind,
    origin: &Origin,
) -> (Report, ReadStats) {
    let (mut report, stats) = explain_text(rules, text, kind, origin);
    if text.len() > WORDS_MAX {
        return (report, stats);
    }
    // Only prose: a line a parser claimed (a log line, an access record, a
    // transcript) and that no signal read is no fault. A bare symptom read
    // as a query counts no item at all.
    let claimed = stats.proxy_log
        + stats.access_log
        + stats.envoy_log
        + stats.metric_samples
        + stats.http_responses
        + stats.tool_messages;
    if stats.app_log == 0 || claimed > 0 {
        return (report, stats);
    }
    // A status named in a sentence ("curling the pod's IP throws 503") holds
    // every cause of that status alike; the words beside it may tell them
    // apart. Once any signal read the text, its evidence decides alone.
    if report.findings.iter().any(|f| !f.signals.is_empty()) {
        return (report, stats);
    }
    let hints = super::words::hints(rules, text, WORDS_SHOWN);
    if hints.is_empty() {
        return (report, stats);
    }
    let mut m = Matcher::new(rules);
    for h in &hints {
        m.observe_words(h);
    }
    let named = m.finish();
    if report.findings.is_empty() {
        report.findings = named;
        for f in &mut report.findings {
            f.severity = crate::rules::Severity::Info;
        }
        report.notes.push(
            "no proxy message, field or status recognised: the causes below are named by the text's words only"
                .to_string(),
        );
        return (report, stats);
    }
    // The status's causes the words also name gain their weight; a cause
    // only the words name joins at info severity, never as an alarm.
    for w in named {
        match report.findings.iter_mut().find(|f| f.id == w.id) {
            Some(f) => {
                f.score += w.score;
                f.evidence.extend(w.evidence);
            }
            None => {
                let mut w = w;
                w.severity = crate::rules::Severity::Info;
                report.findings.push(w);
            }
        }
    }
    report.findings = super::score::order(rules, std::mem::take(&mut report.findings));
    report.notes.push(
        "a status named in prose: the text's words order the causes that share it".to_string(),
    );
    (report, stats)
}

/// The longest text whose words are read when its evidence names nothing: a
/// paragraph or a transcript, not a log file.
const WORDS_MAX: usize = 8 * 1024;
/// How many causes a text's words may name.
const WORDS_SHOWN: usize = 3;

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
    let input = if stats.lines > 1 {
        origin.to_string()
    } else {
        crate::report::sanitize::clip(text.trim(), 200)
    };
    let report = Report::new("explain", input, m.finish());
    let mut report = report;
    report.notes = notes;
    report.read = (stats.lines > 0).then(|| stats.clone());
    (report, stats)
}
