//! The scan's fast path for access lines no rule can act on.
//!
//! An istio-proxy log is mostly healthy access lines, and almost every one of
//! them holds a required literal of some pattern: `"response_code"` in JSON
//! (the access triggers' key), `via_upstream` in 1.9+ text (a details-token
//! signal). Verifying each against the whole regex set visits every byte of
//! the log a second time (351–401 MB/s against rg's 571–627 MB/s on healthy
//! JSON, 2026-12-01).
//!
//! What can an access line contribute to a diagnosis? The [`super::Matcher`]
//! reads a parsed access record two ways: the `access:` conditions, judged on
//! its fields, and the text signals that read the raw access line (no
//! `sources`, or `access-log` among them). So before the regex set runs, a
//! candidate line is parsed as an access record — by the very parser the
//! scanner would call next ([`access::parse_line`], what `classify_line`
//! tries first), in its lite form that reads only the fields rules and the
//! mesh depend on ([`access::parse_line_lite`]) — and dropped when
//!
//! 1. it holds no required literal of a text pattern that reads access lines
//!    (and matches none of those without one). The prefilter's automaton
//!    searches these literals with its own in the same pass, so this costs
//!    nothing more ([`super::lanes`] marks the lines without them *weak*);
//! 2. no `access:` condition of the pack matches the record, each judged by
//!    the Matcher's own [`super::access_matches`].
//!
//! Observing such a line would add no hit to any rule, so the findings do not
//! change (the `scan_fast_path_changes_no_finding` test runs the corpora both
//! ways). A status and flag check alone would not do: `access:` conditions on
//! `details` or `failure` alone (`route_not_found`, `TLS_error`) hold on any
//! status. Nothing here names a rule or a field value; the gate is built from
//! whatever pack is loaded.
//!
//! A dropped line still counts as an access-log record read, and names the
//! mesh it comes from as an observed one would (an Envoy record: Istio), so a
//! log of healthy Istio traffic says so whether or not a literal happened to
//! send its lines to the regex set. The scanner without the fast path asks
//! the same gate of each candidate line no pattern matched, so the two paths
//! count and name alike (a labels file holding healthy Istio records beside
//! Envoy lines that a Linkerd message also matches showed the difference).

use super::prefilter;
use crate::evidence::{AccessRecord, access};
use crate::rules::{AccessCond, RuleSet, SignalKind, TextSource};
use regex_automata::meta;

/// Healthy access lines in the layouts the gate should pass quickly: Istio's
/// default TEXT formats since 1.0 (with and without the leading time), Envoy's
/// default, Istio's JSON, a TCP line. Only speed depends on them: a text
/// pattern is searched by a required literal that none of them holds when it
/// has one (`URX` rather than `"response_flags":`), and otherwise joins the
/// small regex set every gated line runs. Which literal is searched never
/// changes which lines can match.
const HEALTHY: &[&str] = &[
    r#"[2024-05-01T10:00:00.000Z] "GET /api/v1/orders HTTP/1.1" 200 - via_upstream - "-" 0 135 4 4 "-" "curl/8.4.0" "84961386-6d84-929d-98bd-c5aee93b5c88" "svc.shop.svc.cluster.local:8080" "10.44.1.27:8080" outbound|8080||svc.shop.svc.cluster.local 10.44.1.23:37652 10.96.45.184:8080 10.44.1.23:46520 outbound_.8080_._.svc.shop.svc.cluster.local default"#,
    r#"[2024-05-01T10:00:00.000Z] "POST /api/v1/orders HTTP/2" 200 - "-" "-" 0 135 4 4 "-" "okhttp/4.12.0" "84961386-6d84-929d-98bd-c5aee93b5c88" "svc.shop.svc.cluster.local:8080" "10.44.1.27:8080" outbound|8080||svc.shop.svc.cluster.local 10.44.1.23:37652 10.96.45.184:8080 10.44.1.23:46520 - default"#,
    r#"[2024-05-01T10:00:00.000Z] "GET /productpage HTTP/1.1" 200 - "-" 0 5183 38 37 "-" "Mozilla/5.0 (X11; Linux x86_64)" "84961386" "productpage:9080" "10.12.1.11:9080" inbound|9080|http|productpage.default.svc.cluster.local - 10.12.1.11:9080 10.12.1.1:0 outbound_.9080_._.productpage.default.svc.cluster.local"#,
    r#"[2024-05-01T10:00:00.000Z] "GET /static/app.js HTTP/1.1" 304 - 0 0 3 2 "10.0.0.1" "Go-http-client/1.1" "ae346f06-1111-2222-3333-444455556666" "35.230.48.115" "10.12.1.11:9080""#,
    r#"[2024-05-01T10:00:00.000Z] "- - -" 0 - - - "-" 1532 6821 10002 - "-" "-" "-" "-" "10.44.1.30:3306" outbound|3306||mysql.db.svc.cluster.local 10.44.1.23:47890 10.96.3.4:3306 10.44.1.23:47888 - -"#,
    r#"{"start_time":"2024-05-01T10:00:00.000Z","route_name":"default","method":"GET","path":"/api/v1/orders","protocol":"HTTP/1.1","response_code":200,"response_flags":"-","response_code_details":"via_upstream","connection_termination_details":null,"bytes_received":0,"bytes_sent":135,"duration":4,"upstream_service_time":"4","x_forwarded_for":null,"user_agent":"curl/8.4.0","request_id":"84961386-6d84-929d-98bd-c5aee93b5c88","authority":"svc.shop.svc.cluster.local:8080","upstream_host":"10.44.1.27:8080","upstream_cluster":"outbound|8080||svc.shop.svc.cluster.local","upstream_local_address":"10.44.1.23:37652","downstream_local_address":"10.96.45.184:8080","downstream_remote_address":"10.44.1.23:46520","requested_server_name":null,"upstream_transport_failure_reason":null,"grpc_status":"-","upstream_request_attempt_count":"1"}"#,
];

/// Decides which access lines no rule can act on.
pub struct QuietAccess {
    conds: Vec<AccessCond>,
    /// The text patterns that read access lines and have no literal in
    /// [`QuietAccess::strong`], run as one regex set.
    rest: Option<meta::Regex>,
    strong: Vec<Vec<u8>>,
}

/// Most letters of a case-insensitive literal spelled out in case variants
/// (2^letters strings). Each literal takes the fewest (from four) that miss
/// every [`HEALTHY`] line: `service in fail` is searched as the 256 variants
/// of `service i`; `serv`, `servic` and `service` occur in every JSON line
/// (`requested_server_name`, `upstream_service_time`).
const MAX_VARIANT_LETTERS: usize = 10;

/// The strings searched for a required literal set of `pat` none of which
/// occurs in a [`HEALTHY`] line (case variants spelled out for a `(?i)`
/// pattern); `None` when there is no such set.
fn gate_literals(pat: &str) -> Option<Vec<Vec<u8>>> {
    let (body, ci) = match pat.strip_prefix("(?i)") {
        Some(rest) => (rest, true),
        None => (pat, false),
    };
    if body.contains("(?i") {
        return None;
    }
    let h = regex_syntax::Parser::new().parse(body).ok()?;
    let refs: Vec<Vec<u8>> = HEALTHY
        .iter()
        .map(|l| {
            if ci {
                l.to_ascii_lowercase().into_bytes()
            } else {
                l.as_bytes().to_vec()
            }
        })
        .collect();
    let absent = |l: &[u8]| refs.iter().all(|r| memchr::memmem::find(r, l).is_none());
    // What is searched for literal `l`: itself, or (ignoring case) its
    // shortest prefix of at least four letters that no healthy line holds.
    let searched = |l: &[u8]| -> Option<(Vec<u8>, usize)> {
        if !ci {
            return (l.len() >= 2 && absent(l)).then(|| (l.to_vec(), 0));
        }
        let l = l.to_ascii_lowercase();
        (4..=MAX_VARIANT_LETTERS).find_map(|n| {
            let end = prefilter::prefix_len(&l, n);
            let p = &l[..end];
            (p.len() >= 3 && absent(p)).then(|| (p.to_vec(), n))
        })
    };
    let misses = |v: &[Vec<u8>]| v.iter().all(|l| searched(l).is_some());
    let lits = prefilter::required_by(&h, &|v| (misses(v), prefilter::quality(v, ci)))?;
    let mut out = Vec::new();
    for l in &lits {
        let (p, n) = searched(l)?;
        if ci {
            out.extend(prefilter::case_variants_of(&p, n));
        } else {
            out.push(p);
        }
    }
    Some(out)
}

impl QuietAccess {
    /// `None` when the gate cannot be built soundly (a regex set that fails
    /// to build): the scan then verifies every candidate line.
    pub fn new(rules: &RuleSet) -> Option<Self> {
        let mut conds = Vec::new();
        let mut strong: Vec<Vec<u8>> = Vec::new();
        let mut rest: Vec<String> = Vec::new();
        for r in &rules.rules {
            for s in &r.signals {
                match &s.kind {
                    SignalKind::Access(c) => {
                        // The lite parse does not read whether an upstream
                        // answered: a condition that asks is judged on the
                        // fields it does read, so it holds wherever the full
                        // record could satisfy it and such a line is kept.
                        let mut c = c.clone();
                        c.upstream_answered = None;
                        conds.push(c);
                    }
                    SignalKind::Text { regex, sources, .. }
                        if sources.is_empty() || sources.contains(&TextSource::AccessLog) =>
                    {
                        match gate_literals(regex.as_str()) {
                            Some(l) => strong.extend(l),
                            None => rest.push(regex.as_str().to_string()),
                        }
                    }
                    _ => {}
                }
            }
        }
        strong.sort();
        strong.dedup();
        rest.sort();
        rest.dedup();
        let refs: Vec<&str> = rest.iter().map(String::as_str).collect();
        let rest_re = prefilter::regex_set(&refs);
        if rest_re.is_none() && !rest.is_empty() {
            return None;
        }
        Some(QuietAccess {
            conds,
            rest: rest_re,
            strong,
        })
    }

    /// Literals (searched as written) at least one of which occurs in every
    /// line that a text pattern reading access lines matches, unless the
    /// pattern is in the gate's own regex set. The scan's prefilter searches
    /// them with its own: a line without any is *weak*
    /// ([`super::prefilter::Prefilter::with_strong`]).
    pub fn strong_literals(&self) -> &[Vec<u8>] {
        &self.strong
    }

    /// The access record of a weak candidate `line` (see
    /// [`QuietAccess::strong_literals`]) when no rule can act on it; `None`
    /// when the line must be verified and observed as usual (it is not an
    /// access record, or a text pattern or an `access:` condition may hold).
    pub fn record(&self, line: &str) -> Option<AccessRecord> {
        if self.rest.as_ref().is_some_and(|re| re.is_match(line)) {
            return None;
        }
        let rec = access::parse_line_lite(line)?;
        if self
            .conds
            .iter()
            .any(|c| super::access_matches(c, &rec, line))
        {
            return None;
        }
        Some(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> QuietAccess {
        let rules = crate::rules::load_builtin().expect("built-in rules");
        QuietAccess::new(&rules).expect("gate builds")
    }

    #[test]
    fn healthy_access_lines_in_every_layout_are_quiet() {
        let g = gate();
        for l in [
            r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 200 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#,
            r#""GET /status/418 HTTP/1.1" 200 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#,
            r#"[2020-10-08T14:48:48.231Z] "POST /email HTTP/1.1" 200 - "-" "-" 0 0 0 - "10.9.3.98" "PostmanRuntime/7.26.5" "22a11ab3" "c4.com.br" "-" - - 10.9.3.53:8080 10.9.3.98:23 - default"#,
            r#"[2024-05-01T10:00:00.000Z] "GET /productpage HTTP/1.1" 200 - 0 57 3 2 "-" "Go-http-client/1.1" "ae346f06" "35.230.48.115" "10.12.1.11:9080""#,
            r#"{"start_time":"2026-01-12T15:02:58.363Z","method":"GET","path":"/","protocol":"HTTP/1.1","response_code":200,"response_flags":"-","response_code_details":"via_upstream","bytes_received":0,"upstream_cluster":"outbound|8080||web.default.svc.cluster.local"}"#,
        ] {
            assert!(g.record(l).is_some(), "{l}");
        }
    }

    #[test]
    fn access_lines_a_rule_reads_are_not_quiet() {
        let g = gate();
        for l in [
            // Flags, an error status, details or a failure reason on any status.
            r#"[2024-05-01T10:00:00.000Z] "GET / HTTP/1.1" 503 UF upstream_reset_before_response_started{connection_failure} - "-" 0 91 2 - "-" "curl" "x" "web:80" "10.0.0.1:80" outbound|80||web.default.svc.cluster.local - 10.96.0.1:80 10.0.0.2:4000 - default"#,
            r#"[2024-05-01T10:00:00.000Z] "GET / HTTP/1.1" 200 - route_not_found - "-" 0 0 0 - "-" "curl" "x" "web:80" "-" - - 10.96.0.1:80 10.0.0.2:4000 - -"#,
            r#"[2024-05-01T10:00:00.000Z] "- - -" 0 - - - "TLS_error:|268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED" 0 0 3 - "-" "-" "-" "-" "10.0.0.1:15008" outbound|80||web - 10.0.0.1:80 10.0.0.2:1 - -"#,
            r#"{"response_code":"503","response_flags":"-","response_code_details":"via_upstream"}"#,
            r#"{"response_code":404,"response_flags":"NR","response_code_details":"route_not_found"}"#,
            // Not access records at all.
            "[   299.092239s]  INFO ThreadId(01) outbound: linkerd_app_core::errors::respond: Request failed error=x",
            "via_upstream",
        ] {
            assert!(g.record(l).is_none(), "{l}");
        }
    }

    #[test]
    fn a_condition_on_a_field_the_lite_parse_skips_keeps_its_lines() {
        // A pack whose only access condition asks whether an upstream
        // answered (the app's 5xx retried until URX).
        let mut rules = crate::rules::load_builtin().expect("built-in rules");
        rules.rules.retain(|r| r.id == "envoy-5xx-from-application");
        rules.rules[0]
            .signals
            .retain(|s| s.name == "retries-ran-out-on-upstream-5xx");
        assert_eq!(rules.rules[0].signals.len(), 1);
        let g = QuietAccess::new(&rules).expect("gate builds");
        let l = r#"[2024-03-02T10:11:12.345Z] "GET /orders HTTP/1.1" 503 URX via_upstream - "-" 0 19 131 130 "-" "curl/8.5.0" "0d8c" "orders:8080" "10.40.1.7:8080" outbound|8080||orders.shop.svc.cluster.local 10.40.3.3:51234 10.96.12.40:8080 10.40.3.3:40110 - default"#;
        assert!(g.record(l).is_none(), "dropped a line the rule reads: {l}");
    }
}
