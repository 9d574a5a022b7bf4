//! Validation and compilation of one parsed rule file.
//!
//! Every problem is reported with file:line:column and the field it concerns;
//! all problems of a file are collected rather than stopping at the first.

use super::Regex;
use super::schema::{self, RuleFile};
use super::{
    AccessCond, HttpCond, MetricCond, Rule, RuleError, Signal, SignalKind, StatusPat,
    StatusSymptom, Symptoms,
};
use crate::facts::KNOWN_FACTS;
use serde_saphyr::Spanned;

/// Where in the file a problem sits.
struct Ctx<'a> {
    path: &'a str,
    src: &'a str,
    errors: Vec<RuleError>,
    /// A built-in rule on the lean path: its regexes were checked by the test
    /// suite, so they are not parsed again on every start.
    trusted: bool,
}

impl Ctx<'_> {
    fn err_at(&mut self, line: u32, column: u32, field: &str, message: impl Into<String>) {
        self.errors.push(RuleError {
            path: self.path.to_string(),
            line,
            column,
            field: field.to_string(),
            message: message.into(),
        });
    }

    fn err<T>(&mut self, span: &Spanned<T>, field: &str, message: impl Into<String>) {
        let (l, c) = (
            span.referenced.line() as u32,
            span.referenced.column() as u32,
        );
        self.err_at(l, c, field, message);
    }

    /// Finds `key:` at or after `line` (1-based) to point at the exact field.
    fn key_at<T>(&mut self, span: &Spanned<T>, key: &str, field: &str, message: impl Into<String>) {
        let start = span.referenced.line() as usize;
        let pat = format!("{key}:");
        let found = self
            .src
            .lines()
            .enumerate()
            .skip(start.saturating_sub(1))
            .take(200)
            .find_map(|(i, l)| {
                let t = l.trim_start().trim_start_matches("- ");
                if t.starts_with(&pat) {
                    l.find(&pat).map(|c| (i as u32 + 1, c as u32 + 1))
                } else {
                    None
                }
            });
        match found {
            Some((l, c)) => self.err_at(l, c, field, message),
            None => self.err(span, field, message),
        }
    }
}

fn regex(
    ctx: &mut Ctx,
    at: &Spanned<schema::Signal>,
    key: &str,
    field: &str,
    pat: &str,
) -> Option<Regex> {
    if ctx.trusted {
        return Some(Regex::trusted(pat));
    }
    match Regex::new(pat) {
        Ok(r) => Some(r),
        Err(e) => {
            let msg = format!("invalid regex: {}", e.replace('\n', " "));
            ctx.key_at(at, key, field, msg);
            None
        }
    }
}

fn status_pats(
    ctx: &mut Ctx,
    at: &Spanned<schema::Signal>,
    field: &str,
    pats: &[schema::StatusPat],
) -> Vec<StatusPat> {
    let mut out = Vec::new();
    for p in pats {
        match p {
            schema::StatusPat::Code(c) if *c < 600 => out.push(StatusPat::Code(*c)),
            schema::StatusPat::Class(s)
                if s.len() == 3 && s.ends_with("xx") && s.as_bytes()[0].is_ascii_digit() =>
            {
                out.push(StatusPat::Class(u16::from(s.as_bytes()[0] - b'0')))
            }
            schema::StatusPat::Class(s) if s.parse::<u16>().is_ok_and(|c| c < 600) => {
                out.push(StatusPat::Code(s.parse().unwrap_or_default()))
            }
            other => ctx.key_at(
                at,
                "status",
                field,
                format!("not a status code or class like 5xx: {other:?}"),
            ),
        }
    }
    out
}

fn is_kebab(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Validates and compiles one parsed file. `stem` is the file name without
/// extension, which must equal the id.
pub fn compile(
    file: RuleFile,
    path: &str,
    src: &str,
    stem: Option<&str>,
    // False when the loader skipped the `examples:` section on purpose.
    examples: bool,
) -> Result<Rule, Vec<RuleError>> {
    let mut ctx = Ctx {
        path,
        src,
        errors: Vec::new(),
        trusted: !examples && path.starts_with("builtin:"),
    };
    let id = file.id.value.clone();
    if !is_kebab(&id) {
        ctx.err(
            &file.id,
            "id",
            format!("`{id}` is not a kebab-case id (lowercase words joined by `-`)"),
        );
    }
    if let Some(stem) = stem
        && stem != id
    {
        ctx.err(
            &file.id,
            "id",
            format!("id `{id}` differs from the file name `{stem}`; name the file `{id}.yaml`"),
        );
    }
    if file.title.value.trim().is_empty() {
        ctx.err(&file.title, "title", "must not be empty");
    }
    if !(0.0..=1.0).contains(&file.prior) {
        ctx.err(&file.id, "prior", "must be between 0.0 and 1.0");
    }

    // Built-in rules loaded for matching come without their prose (read
    // later, see `RuleText`); any other load needs it.
    match &file.docs {
        Some(docs) => {
            let d = &docs.value;
            for (name, empty) in [
                ("docs.summary", d.summary.trim().is_empty()),
                ("docs.why", d.why.trim().is_empty()),
                (
                    "docs.confirm",
                    d.confirm.is_empty() || d.confirm.iter().any(|s| s.text.trim().is_empty()),
                ),
                (
                    "docs.fix",
                    d.fix.is_empty() || d.fix.iter().any(|s| s.text.trim().is_empty()),
                ),
                (
                    "docs.references",
                    d.references.is_empty() || d.references.iter().any(|r| r.url.trim().is_empty()),
                ),
            ] {
                if empty {
                    let key = name.trim_start_matches("docs.");
                    ctx.key_at(docs, key, name, "section must not be empty");
                }
            }
        }
        None if examples => {
            ctx.err(
                &file.id,
                "docs",
                "missing: every rule needs its `docs` section",
            );
        }
        None => {}
    }

    let mut signals = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, s) in file.signals.iter().enumerate() {
        let sig = &s.value;
        let field = |k: &str| format!("signals[{i}].{k}");
        if !names.insert(sig.name.clone()) {
            ctx.key_at(
                s,
                "name",
                &field("name"),
                format!("duplicate signal name `{}`", sig.name),
            );
        }
        if !(sig.weight > 0.0 && sig.weight <= 10.0) {
            ctx.key_at(s, "weight", &field("weight"), "must be in (0, 10]");
        }
        let set = [
            sig.pattern.is_some() || !sig.messages.is_empty(),
            sig.access.is_some(),
            sig.http.is_some(),
            sig.metric.is_some(),
            sig.fact.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if set != 1 {
            ctx.err(
                s,
                &format!("signals[{i}]"),
                "exactly one of `match`, `access`, `http`, `metric`, `fact` must be set",
            );
            continue;
        }
        if sig.pattern.is_some() && !sig.messages.is_empty() {
            ctx.key_at(
                s,
                "messages",
                &field("messages"),
                "set either `match` or `messages`, not both",
            );
            continue;
        }
        let from_messages = (!sig.messages.is_empty()).then(|| {
            let mut alts = Vec::new();
            for (j, m) in sig.messages.iter().enumerate() {
                match super::messages::template_regex(m) {
                    Ok(r) => alts.push(r),
                    Err(e) => ctx.key_at(s, "messages", &field(&format!("messages[{j}]")), e),
                }
            }
            format!("(?:{})", alts.join("|"))
        });
        let kind = if let Some(p) = sig.pattern.as_ref().or(from_messages.as_ref()) {
            let key = if sig.pattern.is_some() {
                "match"
            } else {
                "messages"
            };
            let literals = (sig.pattern.is_none()).then(|| {
                sig.messages
                    .iter()
                    .map(|m| super::messages::template_literal(m))
                    .collect()
            });
            regex(&mut ctx, s, key, &field(key), p).map(|regex| SignalKind::Text {
                regex,
                sources: sig.sources.clone(),
                literals,
            })
        } else if let Some(a) = &sig.access {
            let status = status_pats(&mut ctx, s, &field("access.status"), &a.status);
            let details = a
                .details
                .as_deref()
                .and_then(|p| regex(&mut ctx, s, "details", &field("access.details"), p));
            let failure = a
                .failure
                .as_deref()
                .and_then(|p| regex(&mut ctx, s, "failure", &field("access.failure"), p));
            let text = a
                .text
                .as_deref()
                .and_then(|p| regex(&mut ctx, s, "text", &field("access.text"), p));
            if status.is_empty()
                && a.flags.is_empty()
                && details.is_none()
                && failure.is_none()
                && text.is_none()
            {
                ctx.key_at(
                    s,
                    "access",
                    &field("access"),
                    "needs at least one of status, flags, details, failure, text",
                );
            }
            Some(SignalKind::Access(AccessCond {
                status,
                flags: a.flags.clone(),
                details,
                failure,
                text,
                upstream_answered: a.upstream_answered,
            }))
        } else if let Some(h) = &sig.http {
            let status = status_pats(&mut ctx, s, &field("http.status"), &h.status);
            let body = h
                .body
                .as_deref()
                .and_then(|p| regex(&mut ctx, s, "body", &field("http.body"), p));
            Some(SignalKind::Http(HttpCond {
                status,
                present: h.present.iter().map(|x| x.to_ascii_lowercase()).collect(),
                absent: h.absent.iter().map(|x| x.to_ascii_lowercase()).collect(),
                body,
                local: h.local,
                empty: h.empty,
            }))
        } else if let Some(m) = &sig.metric {
            let (mut labels, mut labels_not) = (Vec::new(), Vec::new());
            for (k, v) in &m.labels {
                // `!regex`: the series' label must not match.
                let (v, not) = match v.strip_prefix('!') {
                    Some(rest) => (rest, true),
                    None => (v.as_str(), false),
                };
                let f = field(&format!("metric.labels.{k}"));
                let Some(v) = label_class(&mut ctx, s, k, &f, v) else {
                    continue;
                };
                if let Some(r) = regex(&mut ctx, s, k, &f, &format!("^(?:{v})$")) {
                    if not {
                        labels_not.push((k.clone(), r));
                    } else {
                        labels.push((k.clone(), r));
                    }
                }
            }
            let over = m.over.as_ref().map(|o| {
                let mut ls = Vec::new();
                for (k, v) in &o.labels {
                    let f = field(&format!("metric.over.labels.{k}"));
                    if v.starts_with('!') {
                        ctx.key_at(s, k, &f, "a ratio's denominator takes no `!` negation");
                        continue;
                    }
                    let Some(v) = label_class(&mut ctx, s, k, &f, v) else {
                        continue;
                    };
                    if let Some(r) = regex(&mut ctx, s, k, &f, &format!("^(?:{v})$")) {
                        ls.push((k.clone(), r));
                    }
                }
                (o.name.clone(), ls)
            });
            Some(SignalKind::Metric(MetricCond {
                name: m.name.clone(),
                labels,
                labels_not,
                above: m.above,
                below: m.below,
                over,
            }))
        } else if let Some(f) = &sig.fact {
            if !KNOWN_FACTS.iter().any(|(n, _)| n == f) {
                let near = crate::suggest::closest(f, KNOWN_FACTS.iter().map(|(n, _)| *n));
                ctx.key_at(
                    s,
                    "fact",
                    &field("fact"),
                    format!(
                        "unknown fact `{f}`{}",
                        near.map(|n| format!("; did you mean `{n}`?"))
                            .unwrap_or_default()
                    ),
                );
                None
            } else {
                Some(SignalKind::Fact(f.clone()))
            }
        } else {
            None
        };
        if let Some(kind) = kind {
            signals.push(Signal {
                name: sig.name.clone(),
                weight: sig.weight,
                note: sig.note.clone(),
                corroborates: sig.corroborates,
                per_request: false,
                kind,
            });
        }
    }

    // A response-code-details token of the rule (`no_healthy_upstream`,
    // `upstream_reset_before_response_started{connection_failure}`) names the
    // cause wherever it stands: in a debug line (`Sending local reply with
    // details …`), a custom access-log layout no parser reads, a pasted
    // fragment. Parsed access records are judged by their `access:` signals.
    // The same tokens as the `details` field of a parsed access record, for
    // the tokens the rule's own `access:` signals do not already judge.
    let judged = |tok: &str| {
        signals.iter().any(|s| {
            matches!(&s.kind, SignalKind::Access(a)
                if a.details.as_ref().is_some_and(|re| re.is_match(tok)))
        })
    };
    let unjudged: Vec<String> = file
        .symptoms
        .details
        .iter()
        .filter(|d| !judged(&d.replace('*', "")))
        .cloned()
        .collect();
    if let Some(alts) = details_alternatives(&unjudged, false) {
        signals.push(Signal {
            name: "details-value".to_string(),
            weight: 6.0,
            note: Some("Envoy's response-code-details for this cause".to_string()),
            corroborates: false,
            per_request: false,
            kind: SignalKind::Access(AccessCond {
                status: Vec::new(),
                flags: Vec::new(),
                details: Some(Regex::trusted(&format!("^(?:{alts})"))),
                failure: None,
                text: None,
                upstream_answered: None,
            }),
        });
    }
    // `via_upstream` says only that the upstream answered: every healthy
    // 1.9+ access line carries it, so in free text it is no evidence of a
    // fault (the access signals judge it together with a 5xx status).
    let faults: Vec<String> = file
        .symptoms
        .details
        .iter()
        .filter(|d| !NEUTRAL_DETAILS.contains(&d.as_str()))
        .cloned()
        .collect();
    if let Some(pat) = details_pattern(&faults) {
        signals.push(Signal {
            name: "details-token".to_string(),
            weight: 6.0,
            note: Some(
                "Envoy's response-code-details token for this cause, in the text".to_string(),
            ),
            corroborates: false,
            per_request: true,
            kind: SignalKind::Text {
                regex: Regex::trusted(&pat),
                literals: Some(
                    faults
                        .iter()
                        .filter(|d| d.trim_end_matches('*').len() >= 4)
                        .map(|d| {
                            // Up to the brace: inside it, `_` may be a space.
                            // Without the first letter, which a sentence
                            // may capitalise.
                            let d = d.trim_end_matches('*');
                            let head = d.split('{').next().unwrap_or(d);
                            head.get(1..).unwrap_or(head).to_string()
                        })
                        .collect(),
                ),
                sources: vec![
                    schema::TextSource::ProxyLog,
                    schema::TextSource::AppLog,
                    schema::TextSource::Header,
                    schema::TextSource::Body,
                    schema::TextSource::ControlPlane,
                    schema::TextSource::ToolReport,
                ],
            },
        });
    }

    let mut fire = false;
    let mut quiet = false;
    for (i, e) in file.examples.iter().enumerate() {
        if e.value.input.is_none() && e.value.objects.is_none() {
            ctx.err(e, &format!("examples[{i}]"), "needs `input` or `objects`");
        }
        fire |= e.value.expect == schema::Expect::Fire;
        quiet |= e.value.expect == schema::Expect::Quiet;
    }
    if examples && !(fire && quiet) {
        ctx.err(
            &file.id,
            "examples",
            "a rule needs at least one `expect: fire` and one `expect: quiet` example",
        );
    }

    let status = file
        .symptoms
        .status
        .iter()
        .map(|s| match s {
            schema::StatusSymptom::Code(c) => StatusSymptom {
                code: *c,
                weight: 1.0,
                note: None,
            },
            schema::StatusSymptom::Detailed { code, weight, note } => StatusSymptom {
                code: *code,
                weight: *weight,
                note: note.clone(),
            },
        })
        .collect();

    let mut changes = Vec::new();
    for (i, c) in file.changes.iter().enumerate() {
        let k = &c.value.kind;
        if k.is_empty()
            || !k.starts_with(|ch: char| ch.is_ascii_uppercase())
            || !k.chars().all(|ch| ch.is_ascii_alphanumeric())
        {
            ctx.err(c, &format!("changes[{i}].kind"), format!("`{k}` is not an object kind (UpperCamelCase, like DestinationRule, or Certificate)"));
        }
        for f in &c.value.fields {
            if f.is_empty()
                || f.starts_with('.')
                || f.ends_with('.')
                || f.contains(char::is_whitespace)
            {
                ctx.err(
                    c,
                    &format!("changes[{i}].fields"),
                    format!("`{f}` is not a field path (like spec.trafficPolicy)"),
                );
            }
        }
        changes.push(c.value.clone());
    }

    if !ctx.errors.is_empty() {
        return Err(ctx.errors);
    }
    Ok(Rule {
        id,
        title: file.title.value,
        mesh: file.mesh,
        severity: file.severity,
        prior: file.prior,
        tags: file.tags,
        hop: file.hop.unwrap_or_default(),
        symptoms: Symptoms {
            status,
            flags: file.symptoms.flags,
            details: file.symptoms.details,
            keywords: file.symptoms.keywords,
            question: file.symptoms.question,
        },
        signals,
        text: crate::rules::RuleText::read(
            file.docs.map(|d| d.value).unwrap_or_default(),
            file.versions,
        ),
        explains: file.explains,
        refines: file.refines,
        changes,
        examples: file.examples.into_iter().map(|e| e.value).collect(),
        path: path.to_string(),
    })
}

/// Named label classes a metric label matcher may stand for (`'!@envoy-control-plane'`):
/// value sets that many rules share, written once.
pub const LABEL_CLASSES: &[(&str, &str)] = &[(
    // The clusters of an Envoy's own control-plane, stats and telemetry
    // connections (Istio's xds-grpc/sds-grpc/agent/prometheus_stats, plain
    // Envoy's xds_cluster, tracing and access-log sinks, Kuma's `kuma:*`):
    // their stats say nothing of the application's traffic.
    "@envoy-control-plane",
    "xds[-_]grpc|xds[-_]cluster|sds[-_]grpc|ads[-_]cluster|prometheus_stats|agent|zipkin|lightstep|datadog_agent|envoy_accesslog_service|access_log_sink|kuma:.*",
)];

/// A label matcher's pattern: a named class's (`@name`, see
/// [`LABEL_CLASSES`]) or the value itself; `None`, reported, for an unknown class.
fn label_class<'v>(
    ctx: &mut Ctx,
    s: &Spanned<schema::Signal>,
    key: &str,
    field: &str,
    v: &'v str,
) -> Option<&'v str> {
    if !v.starts_with('@') {
        return Some(v);
    }
    match LABEL_CLASSES.iter().find(|(name, _)| *name == v) {
        Some((_, pattern)) => Some(pattern),
        None => {
            let known: Vec<&str> = LABEL_CLASSES.iter().map(|(n, _)| *n).collect();
            ctx.key_at(
                s,
                key,
                field,
                format!("unknown label class `{v}` (known: {})", known.join(", ")),
            );
            None
        }
    }
}

/// Response-code-details that name no failure on their own.
const NEUTRAL_DETAILS: &[&str] = &["via_upstream"];

/// One regex for a rule's `symptoms.details` tokens inside any text (a
/// trailing `*` is a prefix); `None` when it has none.
fn details_pattern(details: &[String]) -> Option<String> {
    details_alternatives(details, true).map(|a| format!("(?:{a})"))
}

/// The tokens as regex alternatives: bounded by non-word characters inside
/// text (`in_text`), else anchored at the end unless a prefix (`…*`).
fn details_alternatives(details: &[String], in_text: bool) -> Option<String> {
    let alts: Vec<String> = details
        .iter()
        .filter(|d| d.trim_end_matches('*').len() >= 4)
        .map(|d| {
            let (tok, prefix) = match d.strip_suffix('*') {
                Some(p) => (p, true),
                None => (d.as_str(), false),
            };
            let word = |c: char| c.is_alphanumeric() || c == '_';
            let mut p = String::new();
            if in_text && tok.starts_with(word) {
                p.push_str(r"(?:^|[^0-9A-Za-z_])");
            }
            // A title or sentence may capitalise the token's first letter
            // (`Upstream_reset_before_response_started{…}`).
            let mut tok = tok;
            if in_text && let Some(first) = tok.chars().next().filter(char::is_ascii_lowercase) {
                p.push_str(&format!("[{}{}]", first, first.to_ascii_uppercase()));
                tok = &tok[1..];
            }
            match tok.split_once('{').filter(|_| in_text) {
                // Envoy's debug log prints the reset reason with its spaces
                // (`{connection failure}`); the details field has `_`.
                // A paste cut at the end of the line may lose the closing
                // brace (`…started{connection_failure`).
                Some((head, inner)) => {
                    p.push_str(&regex_syntax::escape(head));
                    p.push_str(r"\{");
                    let (inner, closed) = match inner.strip_suffix('}') {
                        Some(i) => (i, true),
                        None => (inner, false),
                    };
                    let parts: Vec<String> = inner.split('_').map(regex_syntax::escape).collect();
                    p.push_str(&parts.join("[_ ]"));
                    if closed {
                        p.push_str(r"(?:\}|\s*$)");
                    }
                }
                None => p.push_str(&regex_syntax::escape(tok)),
            }
            if !prefix {
                if !in_text {
                    p.push('$');
                } else if tok.ends_with(word) {
                    p.push_str(r"(?:$|[^0-9A-Za-z_{])");
                }
            }
            p
        })
        .collect();
    (!alts.is_empty()).then(|| alts.join("|"))
}
