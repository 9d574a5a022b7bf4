//! The last resort of `explain`: the causes a text's words name.
//!
//! A paragraph of an issue, a chat message or a ticket ("after we enabled
//! Linkerd, requests time out after 10 seconds") holds no proxy message,
//! access field or status the rules' signals read, so the evidence pass
//! raises nothing. Its words still point somewhere: the same symptom
//! keywords `explain timeout` answers from. When nothing else explains a
//! text, each rule whose keywords stand in it as whole words becomes a
//! *candidate* at info severity — never an error, so a pasted paragraph
//! makes no alarm and exits as a finding-free run would — ranked by how
//! telling its words are: a keyword few rules share counts more than one
//! many share, and a rule named by several of its keywords leads.
//!
//! Only rules of the mesh the text names stay candidates when it names one
//! (Linkerd's words, or Istio's and the Envoy-based products'). Nothing here
//! runs on logs (`diagnose`, scans): a log line that no signal reads is
//! not a fault.

use crate::rules::{Mesh, RuleSet};

/// Keywords that are everyday English, or name a component, a resource or a
/// field rather than a fault: a sentence can mention them without anything
/// being wrong (`the linkerd-destination pod`, `iptables rules`,
/// `via_upstream`).
const NEUTRAL: &[&str] = &[
    // everyday English
    "expect",
    "resolve",
    "destination",
    "identity",
    "priority",
    "canary",
    "subset",
    "endpoints",
    "refused",
    "unreachable",
    "overflow",
    "simple",
    "strict",
    "keepalive",
    "keep-alive",
    // components and products
    "injector",
    "proxy-injector",
    "sidecar-injector",
    "injection webhook",
    "proxy-init",
    "istio-init",
    "linkerd-init",
    "linkerd-cni",
    "istio-cni",
    "iptables",
    "linkerd-destination",
    "linkerd-policy",
    "policy controller",
    "control plane",
    "control-plane",
    "cilium",
    "nginx",
    "mysql",
    "smtp",
    "nats",
    "oauth2-proxy",
    "opa",
    "xds",
    "dns",
    "srv",
    // resources and fields
    "opaque",
    "httproute",
    "destinationrule",
    "serviceentry",
    "envoyfilter",
    "trafficsplit",
    "serviceprofile",
    "service profile",
    "passthroughcluster",
    "statefulset",
    "appprotocol",
    "failurepolicy",
    "grpc-status",
    "via_upstream",
    "response_flags -",
    "jwt_authn",
    "san",
    "issuer",
    "identity certificate",
    "application error",
    "5xx",
    "status 0",
    "protocol http",
    "port name",
    "port 443",
    "http2",
    "http/2",
];

/// Words that say something is wrong: without one, a text that names
/// a cause's keyword (`the timeout is 30s`) reports no trouble.
const TROUBLE: &[&str] = &[
    "error",
    "errors",
    "fail",
    "fails",
    "failed",
    "failing",
    "failure",
    "timeout",
    "timed out",
    "refused",
    "denied",
    "reset",
    "unavailable",
    "cannot",
    "can't",
    "unable",
    "not working",
    "doesn't work",
    "does not work",
    "broken",
    "stuck",
    "hang",
    "hangs",
    "hanging",
    "crash",
    "crashes",
    "crashloopbackoff",
    "intermittent",
    "503",
    "502",
    "504",
    "500",
    "403",
    "404",
    "429",
    "431",
    "5xx",
    "exception",
    "invalid",
    "rejected",
    "unreachable",
    "slow",
    "delay",
    "expired",
    "not ready",
];

/// The words that name each mesh (products built on Envoy count as Istio's).
const LINKERD_WORDS: &[&str] = &["linkerd", "l5d-", "conduit"];
const ENVOY_WORDS: &[&str] = &[
    "istio",
    "envoy",
    "kuma",
    "gloo",
    "kgateway",
    "emissary",
    "ambassador",
    "contour",
    "app mesh",
    "x-envoy",
];

/// One rule's candidacy: its rule index, the keywords found, and their weight.
#[derive(Debug, Clone, PartialEq)]
pub struct WordHint {
    pub rule: usize,
    pub words: Vec<String>,
    pub weight: f64,
}

/// The rules `text`'s words name, best first (at most `max`).
pub fn hints(rules: &RuleSet, text: &str, max: usize) -> Vec<WordHint> {
    let lower = normalise(&text.to_lowercase());
    let stems = stemmed_words(&lower);
    let says = |k: &str| has_phrase(&lower, k) || has_stems(&stems, &stem_phrase(k));
    if !TROUBLE.iter().any(|w| says(w)) {
        return Vec::new();
    }
    let mesh = named_mesh(&lower);
    // How many rules share each keyword: a keyword of one rule tells more.
    let mut share: std::collections::HashMap<String, usize> = Default::default();
    for r in &rules.rules {
        let mut seen = std::collections::BTreeSet::new();
        for k in &r.symptoms.keywords {
            if seen.insert(k.to_lowercase()) {
                *share.entry(k.to_lowercase()).or_default() += 1;
            }
        }
    }
    let mut out: Vec<WordHint> = Vec::new();
    for (ri, r) in rules.rules.iter().enumerate() {
        if mesh.is_some_and(|m| r.mesh != m && r.mesh != Mesh::Any) {
            continue;
        }
        let mut words = Vec::new();
        let mut weight = 0.0;
        for k in &r.symptoms.keywords {
            let k = k.to_lowercase();
            if !usable(&k) || words.contains(&k) || !says(&k) {
                continue;
            }
            weight += 1.0 / share.get(&k).copied().unwrap_or(1) as f64;
            words.push(k);
        }
        if !words.is_empty() {
            out.push(WordHint {
                rule: ri,
                words,
                weight,
            });
        }
    }
    // Best first; a tie keeps the rule order (the pack's own precedence).
    out.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.rule.cmp(&b.rule)));
    out.truncate(max);
    out
}

/// English spellings of one keyword: `time out`, `timing out` and `times
/// out` are the keyword `timeout`.
fn normalise(lower: &str) -> String {
    let mut s = lower.to_string();
    for (from, to) in [
        ("timing out", "timeout"),
        ("times out", "timeout"),
        ("time out", "timeout"),
        ("timeouts", "timeout"),
    ] {
        s = s.replace(from, to);
    }
    s
}

/// The mesh a text names, when it names exactly one.
fn named_mesh(lower: &str) -> Option<Mesh> {
    let l = LINKERD_WORDS.iter().any(|w| lower.contains(w));
    let e = ENVOY_WORDS.iter().any(|w| lower.contains(w));
    match (l, e) {
        (true, false) => Some(Mesh::Linkerd),
        (false, true) => Some(Mesh::Istio),
        _ => None,
    }
}

/// A keyword that can stand for a cause in prose: three characters or more
/// (two-letter flags such as `NR` or `FI` are words in other languages and
/// abbreviations in English), not a pure number (statuses are read by the
/// evidence pass) and not [`NEUTRAL`].
fn usable(k: &str) -> bool {
    k.chars().count() >= 3 && !k.chars().all(|c| c.is_ascii_digit()) && !NEUTRAL.contains(&k)
}

/// `true` when `phrase` stands in `text` as whole words, maybe in the plural:
/// no letter, digit, `_` or `-` touches it on either side, and no `=`
/// follows it (`timeout` in `timeoutms`, `rq-timeout-ms` or `timeout=3s` is a
/// name, not a word; `connection failures` is `connection failure`).
fn has_phrase(text: &str, phrase: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-');
    let mut from = 0;
    while let Some(i) = text[from..].find(phrase) {
        let start = from + i;
        let mut end = start + phrase.len();
        if text[end..].starts_with('s') && !word(text[end + 1..].chars().next()) {
            end += 1;
        }
        let next = text[end..].chars().next();
        if !word(text[..start].chars().next_back()) && !word(next) && next != Some('=') {
            return true;
        }
        from = start + phrase.chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// A text's words, each cut to its stem ([`stem`]), in order. A word that
/// names a setting (`timeout=3s`) is left out: it is a name, not a word.
fn stemmed_words(lower: &str) -> Vec<String> {
    let part = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    let mut out = Vec::new();
    let mut rest = lower;
    while let Some(start) = rest.find(part) {
        let tail = &rest[start..];
        let end = tail.find(|c: char| !part(c)).unwrap_or(tail.len());
        let word = tail[..end].trim_matches('-');
        if !tail[end..].starts_with('=') && !word.is_empty() {
            out.push(stem(word));
        }
        rest = &tail[end..];
    }
    out
}

/// A keyword's words, stemmed as [`stemmed_words`] stems a text's.
fn stem_phrase(k: &str) -> Vec<String> {
    // A command-line option (`--resolve`) is matched as written only.
    if k.starts_with('-') {
        return Vec::new();
    }
    stemmed_words(&normalise(&k.to_lowercase()))
}

/// English inflections of one word cut away, so that `injected`,
/// `injecting` and `injection` are `inject`, `denied` is `deny` and
/// `refuses` is `refus`. A name (with a digit, `-` or `_`) and a short word
/// stay whole.
fn stem(word: &str) -> String {
    if word.chars().count() < 5
        || word.contains(|c: char| c.is_ascii_digit() || c == '-' || c == '_')
    {
        return word.to_string();
    }
    let mut w = word.to_string();
    for (suffix, to, min) in [
        ("ies", "y", 4),
        ("ied", "y", 4),
        ("ions", "", 5),
        ("ion", "", 5),
        ("ing", "", 4),
        ("ed", "", 4),
        ("es", "", 5),
        ("s", "", 4),
    ] {
        if let Some(base) = w.strip_suffix(suffix)
            && base.chars().count() >= min
            && !(suffix == "s" && base.ends_with('s'))
        {
            w = format!("{base}{to}");
            break;
        }
    }
    // `getting` is `get`; a silent `e` goes (`refuse`, `refused`: `refus`).
    let b = w.as_bytes();
    let doubled =
        b.len() >= 4 && b[b.len() - 1] == b[b.len() - 2] && !b"lsz".contains(&b[b.len() - 1]);
    if doubled || (w.len() >= 5 && w.ends_with('e')) {
        w.pop();
    }
    w
}

/// `true` when a keyword's stems stand in a text's stems in order, with at
/// most one other word between two of them (`istio-proxy container not
/// getting ready` is `istio-proxy not ready`).
fn has_stems(text: &[String], phrase: &[String]) -> bool {
    let Some((first, rest)) = phrase.split_first() else {
        return false;
    };
    text.iter().enumerate().any(|(i, w)| {
        if w != first {
            return false;
        }
        let mut at = i;
        rest.iter().all(|p| {
            let found = text
                .get(at + 1..(at + 3).min(text.len()))
                .and_then(|next| next.iter().position(|w| w == p));
            match found {
                Some(j) => {
                    at += 1 + j;
                    true
                }
                None => false,
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> RuleSet {
        crate::rules::load_builtin().expect("built-in rules load")
    }

    fn ids(rules: &RuleSet, text: &str) -> Vec<String> {
        hints(rules, text, 3)
            .into_iter()
            .map(|h| rules.rules[h.rule].id.clone())
            .collect()
    }

    #[test]
    fn a_paragraph_names_the_causes_its_words_name() {
        let r = rules();
        let got = ids(
            &r,
            "After we enabled Linkerd our requests time out: the proxy reports a response timeout after 10s",
        );
        assert!(
            got.contains(&"linkerd-response-timeout".to_string()),
            "{got:?}"
        );
        assert!(
            got.iter()
                .all(|id| id.starts_with("linkerd-") || id.starts_with("mesh-")),
            "{got:?}"
        );
    }

    #[test]
    fn the_mesh_a_text_names_rules_out_the_other() {
        let r = rules();
        let got = ids(&r, "Istio ingress: circuit breaker errors under load");
        assert_eq!(
            got.first().map(String::as_str),
            Some("envoy-upstream-overflow")
        );
        let got = ids(&r, "linkerd: circuit breaker errors under load");
        assert!(
            !got.contains(&"envoy-upstream-overflow".to_string()),
            "{got:?}"
        );
    }

    #[test]
    fn everyday_words_and_parts_of_words_name_nothing() {
        let r = rules();
        assert!(ids(&r, "We expect the destination to resolve soon: error").is_empty());
        // No word of trouble: a setting, not a symptom.
        assert!(ids(&r, "Linkerd: which ports need the opaque transport?").is_empty());
        assert!(!ids(&r, "Linkerd: opaque transport fails").is_empty());
        assert!(ids(&r, "timeoutms").is_empty());
        assert!(has_phrase("a timeout.", "timeout"));
        assert!(has_phrase("more connection failures", "connection failure"));
        assert!(!has_phrase("timeout_ms", "timeout"));
        assert!(!has_phrase("delay=0s timeout=3s", "timeout"));
        assert!(!has_phrase("x-envoy-expected-rq-timeout-ms", "timeout"));
        assert!(has_phrase("é timeout", "timeout"));
    }

    #[test]
    fn inflections_and_a_word_between_still_name_the_keyword() {
        let stems = |t: &str| stemmed_words(&t.to_lowercase());
        for (text, keyword) in [
            ("the sidecar is not getting injected", "not injected"),
            (
                "Automatic sidecar injection doesn't work",
                "sidecar injection",
            ),
            (
                "envoy istio-proxy container not getting ready",
                "istio-proxy not ready",
            ),
            ("connections refused by the pod", "connection refused"),
            ("requests were denied", "request denied"),
            ("CNI redirecting the traffic", "redirection"),
        ] {
            assert!(
                has_stems(&stems(text), &stem_phrase(keyword)),
                "{text} / {keyword}"
            );
        }
        for (text, keyword) in [
            // two words between: another sentence's words
            ("no idea why the route", "no route"),
            // a setting, not a word
            ("timeout=3s", "timeout"),
            // a name keeps its dashes
            ("x-envoy-expected-rq-timeout-ms", "timeout"),
            ("server container", "serv"),
        ] {
            assert!(
                !has_stems(&stems(text), &stem_phrase(keyword)),
                "{text} / {keyword}"
            );
        }
        let r = rules();
        assert_eq!(
            ids(
                &r,
                "Maistra: sidecar injection doesn't work for our namespace"
            )
            .first()
            .map(String::as_str),
            Some("mesh-sidecar-injection-failed")
        );
    }
}
