//! Collector wrappers: what log shippers and terminals put around a proxy's
//! line before a user pastes it.
//!
//! Peeled, in any nesting, before a line is classified:
//!
//! * CRI (containerd, CRI-O) files: `2024-05-01T10:00:00.123456789Z stdout F <line>`
//! * `kubectl logs --timestamps`: `2024-05-01T10:00:00.123456789Z <line>`
//! * stern / kubetail / `linkerd logs` columns: `web-7d4b9c-x2x8k istio-proxy <line>`,
//!   `ns/pod[container]: <line>`, `[pod] <line>`, `pod container │ <line>`
//! * docker json-file: `{"log":"<line>\n","stream":"stdout","time":"…"}`
//! * a JSON log field of a shipper (Fluent Bit, Vector, Loki, Elasticsearch
//!   exports): an object whose `log`, `message`, `msg` or `MESSAGE` string holds
//!   the line, when the object is not itself a record meshdoc reads (an Envoy
//!   JSON access record, a Linkerd JSON log event)
//! * `docker compose logs`: `envoy-1  | <line>`
//!
//! What a chat client or word processor did to a paste is undone too:
//! typographic quotes (`“…”`, `‘…’`) become the ASCII quotes the proxy wrote.
//!
//! A line without a wrapper comes back unchanged (and borrowed).

use super::text::{is_rfc3339, split_token};
use std::borrow::Cow;

/// The line inside its collector wrappers, and the collector's timestamp when
/// one was peeled.
#[derive(Debug, Clone, PartialEq)]
pub struct Unwrapped<'a> {
    pub line: Cow<'a, str>,
    pub timestamp: Option<String>,
    /// The container name a stern-like column named (`istio-proxy`).
    pub container: Option<String>,
}

/// Peels every wrapper around `line` (at most a few levels).
pub fn unwrap_line(line: &str) -> Unwrapped<'_> {
    // zsh marks output that had no final newline with a `%` glued to its
    // last word (`…before headers%`).
    let line = match line.strip_suffix('%') {
        Some(l) if l.ends_with(|c: char| c.is_ascii_alphabetic()) => l,
        _ => line,
    };
    let line = super::text::code_span(line);
    let mut out = Unwrapped {
        line: super::text::ascii_quotes(line),
        timestamp: None,
        container: None,
    };
    for _ in 0..4 {
        let cur: &str = &out.line;
        let next: Option<(String, Option<String>, Option<String>)> = peel_ts(cur)
            .map(|(ts, rest)| (rest.to_string(), Some(ts.to_string()), None))
            .or_else(|| peel_json(cur).map(|(l, ts)| (l, ts, None)))
            .or_else(|| peel_columns(cur).map(|(c, rest)| (rest.to_string(), None, c)));
        let Some((l, ts, c)) = next else { break };
        if out.timestamp.is_none() {
            out.timestamp = ts;
        }
        if out.container.is_none() {
            out.container = c;
        }
        out.line = Cow::Owned(l);
    }
    out
}

/// `TS stdout F rest` (CRI) or `TS rest` (kubectl --timestamps), when what
/// follows is not itself a line that starts with its own RFC 3339 time and a
/// level (istio-agent lines are `TS\tlevel\tscope\tmsg`: kept whole).
fn peel_ts(s: &str) -> Option<(&str, &str)> {
    let t = s.trim_start();
    let (tok, rest) = split_token(t);
    if !is_rfc3339(tok) || rest.is_empty() {
        return None;
    }
    // CRI stream and tag.
    let (stream, r2) = split_token(rest);
    if stream == "stdout" || stream == "stderr" {
        let (tag, r3) = split_token(r2);
        if (tag == "F" || tag == "P") && !r3.is_empty() {
            return Some((tok, r3));
        }
    }
    // istio-agent / ztunnel / policy-controller lines carry their own time
    // followed by a level: that is the line, not a wrapper.
    let (next, _) = split_token(rest);
    if super::Level::parse(next).is_some() || next.eq_ignore_ascii_case("warning") {
        return None;
    }
    Some((tok, rest))
}

/// The string field holding the line in a shipper's JSON object.
fn peel_json(s: &str) -> Option<(String, Option<String>)> {
    let t = s.trim();
    if !t.starts_with('{') || !t.ends_with('}') {
        return None;
    }
    // Cheap test before parsing: some wrapper key must be there.
    if ![
        "\"log\"",
        "\"message\"",
        "\"msg\"",
        "\"MESSAGE\"",
        "\"log.original\"",
    ]
    .iter()
    .any(|k| t.contains(k))
    {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(t).ok()?;
    let o = v.as_object()?;
    // Records meshdoc reads as they are.
    if super::access::from_json(&v).is_some()
        || o.contains_key("fields")
        || o.contains_key("target")
    {
        return None;
    }
    let inner = ["log", "message", "MESSAGE", "log.original", "msg"]
        .iter()
        .find_map(|k| o.get(*k).and_then(|x| x.as_str()))?;
    let inner = inner.trim_end_matches(['\n', '\r']);
    // A Go/istio JSON log (`{"level":…,"msg":…}`) is unwrapped to its message
    // only: the message is what rules read.
    if inner.trim().is_empty() {
        return None;
    }
    let ts = ["time", "@timestamp", "timestamp", "ts"]
        .iter()
        .find_map(|k| o.get(*k).and_then(|x| x.as_str()))
        .map(str::to_string);
    Some((inner.to_string(), ts))
}

/// `true` for a Kubernetes name (DNS label or subdomain, lower case).
fn is_k8s_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
}

/// `true` when `s` starts like a line some parser reads: a bracket, a
/// brace, a quote, a digit, or an upper-case level word.
fn starts_like_a_line(s: &str) -> bool {
    let Some(c) = s.chars().next() else {
        return false;
    };
    if matches!(c, '[' | '{' | '"' | '<' | '>' | '*') || c.is_ascii_digit() {
        return true;
    }
    let (tok, _) = split_token(s);
    // An upper-case word: a level, an Envoy flag (`UH`), `HTTP/1.1`.
    if tok.len() >= 2
        && tok
            .bytes()
            .all(|c| c.is_ascii_uppercase() || b"!/.,".contains(&c) || c.is_ascii_digit())
        && tok.as_bytes()[0].is_ascii_uppercase()
    {
        return true;
    }
    matches!(
        tok,
        "ERROR" | "WARN" | "INFO" | "DEBUG" | "TRACE" | "ERR!" | "DBUG" | "TRCE"
    ) || tok.starts_with("linkerd")
        || tok.starts_with("conduit")
        || tok.starts_with("time=")
        || tok.starts_with("l5d-")
}

/// Containers the meshes inject: after a pod name, one of these is a column.
const MESH_CONTAINERS: &[&str] = &[
    "istio-proxy",
    "istio-init",
    "istio-validation",
    "linkerd-proxy",
    "linkerd-init",
    "linkerd-network-validator",
    "discovery",
    "ztunnel",
];

/// stern-like columns: (container, rest).
fn peel_columns(s: &str) -> Option<(Option<String>, &str)> {
    let t = s.trim_start();
    // `pod container │ rest`, `envoy-1  | rest` (docker compose)
    for bar in [" │ ", " | "] {
        if let Some(i) = t.find(bar) {
            let head = &t[..i];
            let words: Vec<&str> = head.split_whitespace().collect();
            if (1..=2).contains(&words.len())
                && words
                    .iter()
                    .all(|w| is_k8s_name(w) || is_k8s_name(&w.to_ascii_lowercase()))
            {
                let rest = t[i + bar.len()..].trim_start();
                if !rest.is_empty() {
                    return Some((words.get(1).map(|w| w.to_string()), rest));
                }
            }
        }
    }
    // `ns/pod[container]: rest`, `pod[container] rest`
    let (tok, rest) = split_token(t);
    if let Some(open) = tok.find('[') {
        let name = tok[..open].rsplit('/').next().unwrap_or("");
        let inner = tok[open + 1..].trim_end_matches(':').strip_suffix(']');
        if let Some(c) = inner
            && is_k8s_name(name)
            && is_k8s_name(c)
            && !rest.is_empty()
        {
            return Some((Some(c.to_string()), rest));
        }
    }
    // `[pod] rest` (kubetail), `[pod container] rest`
    if let Some(r) = t.strip_prefix('[')
        && let Some(end) = r.find(']')
    {
        let words: Vec<&str> = r[..end].split_whitespace().collect();
        let rest = r[end + 1..].trim_start();
        if (1..=2).contains(&words.len())
            && words.iter().all(|w| is_k8s_name(w) && w.contains('-'))
            && !words[0]
                .bytes()
                .all(|c| c.is_ascii_digit() || c == b'.' || c == b'-')
            && starts_like_a_line(rest)
        {
            return Some((words.get(1).map(|w| w.to_string()), rest));
        }
    }
    // `pod container rest` (stern): two names, the pod's with a dash.
    let (pod, r1) = split_token(t);
    let (container, r2) = split_token(r1);
    if is_k8s_name(pod)
        && pod.contains('-')
        && is_k8s_name(container)
        && !r2.is_empty()
        && (starts_like_a_line(r2) || MESH_CONTAINERS.contains(&container))
        && !pod
            .bytes()
            .all(|c| c.is_ascii_digit() || c == b'-' || c == b'.')
    {
        return Some((Some(container.to_string()), r2));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn un(s: &str) -> String {
        unwrap_line(s).line.into_owned()
    }

    #[test]
    fn typographic_quotes_become_the_ascii_quotes_the_proxy_wrote() {
        let u = unwrap_line("response_flags\u{201d}:\u{201c}UF,URX\u{201d} it\u{2019}s");
        assert_eq!(u.line, r#"response_flags":"UF,URX" it's"#);
        assert!(matches!(
            unwrap_line("plain \"ascii\" line").line,
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn collector_wrappers_are_peeled() {
        let line = r#"[2024-05-01T10:00:00.123Z] "GET / HTTP/1.1" 503 UH no_healthy_upstream - "-" 0 19 0 - "-" "curl" "x" "a:80" "-" - - 1.1.1.1:80 2.2.2.2:1 - -"#;
        let ts = "2024-05-01T10:00:00.123456789Z";
        assert_eq!(un(line), line);
        assert_eq!(un(&format!("{ts} {line}")), line);
        assert_eq!(un(&format!("{ts} stdout F {line}")), line);
        assert_eq!(un(&format!("web-7d4b9c-x2x8k istio-proxy {line}")), line);
        assert_eq!(
            un(&format!("shop/web-7d4b9c-x2x8k[istio-proxy]: {line}")),
            line
        );
        assert_eq!(un(&format!("envoy-1  | {line}")), line);
        let docker = format!(
            r#"{{"log":{},"stream":"stdout","time":"{ts}"}}"#,
            serde_json::to_string(&format!("{line}\n")).unwrap()
        );
        let u = unwrap_line(&docker);
        assert_eq!(u.line, line);
        assert_eq!(u.timestamp.as_deref(), Some(ts));
        let field = format!(
            r#"{{"@timestamp":"{ts}","kubernetes":{{"container_name":"istio-proxy"}},"message":{}}}"#,
            serde_json::to_string(line).unwrap()
        );
        assert_eq!(un(&field), line);
        // Nested: stern around kubectl --timestamps.
        assert_eq!(
            un(&format!("web-7d4b9c-x2x8k istio-proxy {ts} {line}")),
            line
        );
    }

    #[test]
    fn lines_that_are_not_wrapped_stay_whole() {
        for l in [
            "2023-07-31T00:05:39.379601Z\tinfo\txdsproxy\tconnected to upstream XDS server",
            "2024-01-01T00:00:00Z ERROR linkerd_policy_controller: failed",
            r#"{"start_time":"x","response_code":"503","response_flags":"UF"}"#,
            r#"{"timestamp":"[ 1.0s]","level":"WARN","fields":{"message":"x"},"target":"linkerd"}"#,
            "[2018-06-07 23:03:37.170][16][warning][upstream] x",
            "[   12.3s]  WARN ThreadId(01) linkerd_app_core::errors: x",
            "no healthy upstream",
            "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
        ] {
            assert_eq!(un(l), l, "{l}");
        }
    }
}
