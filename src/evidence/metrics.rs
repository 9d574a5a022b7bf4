//! A small tolerant Prometheus text / OpenMetrics parser.
//!
//! Published crates mangle Linkerd's mixed text/OpenMetrics output (`# EOF`)
//! and Istio label values such as `response_flags="UH,URX"`, so this one is ours.
//!
//! Read, line by line (so a truncated file yields what parsed):
//!
//! * Prometheus text and OpenMetrics samples: `name{k="v",…} value [timestamp] [# {exemplar} v]`,
//!   label values with `,` `}` `=` and escapes (`\"`, `\\`, `\n`), `NaN`/`+Inf`/`-Inf`,
//!   names with colons; `# HELP`/`# TYPE`/`# UNIT`/`# EOF` and other comments are skipped.
//! * Prometheus UI query results (`istio_requests_total-query-results.prom`): a
//!   leading marker such as `✔` is skipped, a tab may separate the value, and a
//!   series pasted without a value is kept with value NaN (labels still readable;
//!   the engine ignores non-finite values in sums).
//! * Envoy admin `/stats` text `cluster.outbound|8000||httpbin….upstream_rq_pending_overflow: 12`:
//!   name = the dotted stat, no labels.
//! * Envoy admin `/stats?format=json` (`{"stats":[{"name": "cluster.x.upstream_cx_overflow",
//!   "value": 17}, …]}`), pretty-printed or compact, whole or cut: each `name`/`value`
//!   pair is read as the `/stats` text line it stands for.
//! * Envoy admin `/clusters` text `outbound|9000||svc::10.244.25.4:9000::rq_error::2`:
//!   name = the stat (`rq_error`), labels `cluster` and `host`; a non-numeric
//!   value (`health_flags::healthy`) gives value 1 with the text in label `value`.
//! * `istioctl proxy-config endpoint` rows `10.1.2.3:80  HEALTHY  FAILED
//!   outbound|80||svc…`: sample `istioctl_endpoint` = 1 with labels
//!   `endpoint`, `status`, `outlier_check` and `cluster`; the header is skipped.

use super::MetricSample;

/// Parses an exposition; returns the samples and the number of lines that
/// could not be read. A truncated file yields what parsed.
pub fn parse(text: &str) -> (Vec<MetricSample>, u64) {
    if let Some(samples) = json_stats(text) {
        return (samples, 0);
    }
    let mut out = Vec::new();
    let mut bad = 0;
    for line in text.lines() {
        match parse_line(line) {
            Line::Sample(s) => out.push(s),
            Line::Skip => {}
            Line::Bad => bad += 1,
        }
    }
    (out, bad)
}

/// What one exposition line is.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Sample(MetricSample),
    /// Blank, comment, `# HELP`/`# TYPE`/`# UNIT`/`# EOF`.
    Skip,
    /// Not readable as any supported shape.
    Bad,
}

/// Parses one exposition line.
pub fn parse_line(line: &str) -> Line {
    let line = line.trim_end_matches(['\r', '\n']);
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') || is_endpoint_header(t) {
        return Line::Skip;
    }
    // Prometheus UI pastes may start with a marker glyph (`✔`).
    let t = t.trim_start_matches(|c: char| !c.is_ascii());
    let t = super::text::code_span(t);
    if let Some(s) = prom_sample(t) {
        return Line::Sample(s);
    }
    if let Some(s) = envoy_clusters(t)
        .or_else(|| envoy_stat(t))
        .or_else(|| endpoint_row(t))
    {
        return Line::Sample(s);
    }
    Line::Bad
}

/// The header of `istioctl proxy-config endpoint`'s table.
fn is_endpoint_header(t: &str) -> bool {
    t.starts_with("ENDPOINT ") && t.contains(" STATUS ") && t.contains(" OUTLIER CHECK ")
}

/// A row of `istioctl proxy-config endpoint`: the endpoint (`ip:port`, a
/// host name with a port, or a `unix://` path), Envoy's health status, the
/// outlier check and the cluster.
fn endpoint_row(t: &str) -> Option<MetricSample> {
    let cols: Vec<&str> = t.split_whitespace().collect();
    let [endpoint, status, outlier, cluster] = cols.as_slice() else {
        return None;
    };
    let statuses = [
        "HEALTHY",
        "UNHEALTHY",
        "DRAINING",
        "TIMEOUT",
        "DEGRADED",
        "UNKNOWN",
    ];
    let addr = endpoint.starts_with("unix://")
        || endpoint.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
        });
    if !(addr && statuses.contains(status) && matches!(*outlier, "OK" | "FAILED")) {
        return None;
    }
    let label = |k: &str, v: &str| (k.to_string(), v.to_string());
    Some(MetricSample {
        name: "istioctl_endpoint".to_string(),
        labels: vec![
            label("endpoint", endpoint),
            label("status", status),
            label("outlier_check", outlier),
            label("cluster", cluster),
        ],
        value: 1.0,
        at: None,
    })
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// Reads a sample value: floats, `NaN`, `+Inf`, `-Inf` (any case).
pub fn parse_value(v: &str) -> Option<f64> {
    match v.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "+inf" | "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => {
            let b = v.as_bytes();
            // Rust also accepts "infinity" and friends; keep to digits.
            if b.is_empty()
                || !b.iter().all(|c| {
                    c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E' | b'_')
                })
            {
                return None;
            }
            v.replace('_', "").parse().ok()
        }
    }
}

fn prom_sample(t: &str) -> Option<MetricSample> {
    let b = t.as_bytes();
    if b.is_empty() || !is_name_start(b[0]) {
        return None;
    }
    let mut i = 1;
    while i < b.len() && is_name_char(b[i]) {
        i += 1;
    }
    let mut name = std::borrow::Cow::Borrowed(&t[..i]);
    let mut labels = Vec::new();
    if i < b.len() && b[i] == b'{' {
        i = parse_labels(t, i + 1, &mut labels)?;
    }
    if let Some(rest) = name.strip_prefix("envoy_") {
        istio_tag_names(&mut labels);
        // The HTTP local rate limit's stats carry the operator's stat
        // prefix in their name: read as one family, the prefix a label.
        if let Some((prefix, stat)) = rest.split_once("_http_local_rate_limit_") {
            labels.push(("stat_prefix".to_string(), prefix.to_string()));
            name = format!("envoy_http_local_rate_limit_{stat}").into();
        }
    }
    let name = name.as_ref();
    let rest = &t[i..];
    if rest.is_empty() {
        // A series without a value: only as a Prometheus UI row (labels present).
        if labels.is_empty() {
            return None;
        }
        return Some(MetricSample {
            name: name.to_string(),
            labels,
            value: f64::NAN,
            at: None,
        });
    }
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    // Value, then an optional timestamp and/or exemplar (` # {…} 1.0`).
    let rest = rest.trim_start();
    let (val, after) = match rest.find([' ', '\t']) {
        Some(j) => (&rest[..j], rest[j..].trim_start()),
        None => (rest, ""),
    };
    let value = parse_value(val)?;
    let mut at = None;
    if !after.is_empty() && !after.starts_with('#') {
        let (ts, more) = match after.find([' ', '\t']) {
            Some(j) => (&after[..j], after[j..].trim_start()),
            None => (after, ""),
        };
        at = sample_time(parse_value(ts)?);
        if !more.is_empty() && !more.starts_with('#') {
            return None;
        }
    }
    Some(MetricSample {
        name: name.to_string(),
        labels,
        value,
        at,
    })
}

/// A sample timestamp as an instant: Prometheus text gives milliseconds,
/// OpenMetrics seconds (with a fraction). Below 10^11 (year 5138 in
/// seconds, 1973 in milliseconds) it is read as seconds.
fn sample_time(ts: f64) -> Option<super::time::At> {
    if !ts.is_finite() || ts <= 0.0 {
        return None;
    }
    let ms = if ts < 1e11 { ts * 1000.0 } else { ts };
    Some(super::time::At(ms.round() as i64))
}

/// Reads `k="v",…}` from byte `i`; returns the index after `}`.
fn parse_labels(t: &str, mut i: usize, out: &mut Vec<(String, String)>) -> Option<usize> {
    let b = t.as_bytes();
    loop {
        while i < b.len() && (b[i] == b' ' || b[i] == b',') {
            i += 1;
        }
        if i >= b.len() {
            return None; // truncated
        }
        if b[i] == b'}' {
            return Some(i + 1);
        }
        let ks = i;
        while i < b.len() && is_name_char(b[i]) {
            i += 1;
        }
        if i == ks {
            return None;
        }
        let key = &t[ks..i];
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            return None;
        }
        i += 1;
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'"' {
            return None;
        }
        i += 1;
        let mut val = String::new();
        let mut seg = i;
        loop {
            if i >= b.len() {
                return None; // unterminated value
            }
            match b[i] {
                b'"' => {
                    val.push_str(&t[seg..i]);
                    i += 1;
                    break;
                }
                b'\\' if i + 1 < b.len() => {
                    val.push_str(&t[seg..i]);
                    match b[i + 1] {
                        b'n' => val.push('\n'),
                        b'\\' => val.push('\\'),
                        b'"' => val.push('"'),
                        _ => {
                            // Unknown escape: keep the backslash, read on.
                            val.push('\\');
                            i += 1;
                            seg = i;
                            continue;
                        }
                    }
                    i += 2;
                    seg = i;
                }
                _ => i += 1,
            }
        }
        out.push((key.to_string(), val));
    }
}

/// Envoy `/stats`: `dotted.stat.name: 12`.
///
/// Cluster stats are renamed the way Envoy's own `/stats/prometheus` does, so
/// one metric condition covers both endpoints:
/// `cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_pending_overflow: 12`
/// becomes `envoy_cluster_upstream_rq_pending_overflow{cluster_name="outbound|8000||httpbin.default.svc.cluster.local"}`.
fn envoy_stat(t: &str) -> Option<MetricSample> {
    let (name, v) = t.rsplit_once(": ")?;
    if name.is_empty() || name.contains(' ') || !name.contains('.') {
        return None;
    }
    let value = parse_value(v.trim())?;
    if let Some(s) = prefixed_filter_stat(name, value) {
        return Some(s);
    }
    if let Some((cluster, stat)) = split_cluster_stat(name) {
        return Some(MetricSample {
            name: format!("envoy_cluster_{}", stat.replace('.', "_")),
            labels: vec![("cluster_name".to_string(), cluster.to_string())],
            value,
            at: None,
        });
    }
    for (tree, label) in [
        ("http.", "http_conn_manager_prefix"),
        ("listener.", "listener_address"),
        ("tcp.", "tcp_prefix"),
    ] {
        if let Some((scope, stat)) = split_scoped_stat(name, tree) {
            return Some(MetricSample {
                name: format!("envoy_{}{}", tree.replace('.', "_"), stat.replace('.', "_")),
                labels: vec![(label.to_string(), scope.to_string())],
                value,
                at: None,
            });
        }
    }
    Some(MetricSample {
        name: format!("envoy_{}", name.replace(['.', '-'], "_")),
        labels: Vec::new(),
        value,
        at: None,
    })
}

/// Stats of filters whose scope is an operator's `stat_prefix` at the front
/// (`<prefix>.http_local_rate_limit.rate_limited`) or after the filter's root
/// (`local_rate_limit.<prefix>.rate_limited`, the network filter): named
/// `envoy_http_local_rate_limit_<stat>` / `envoy_local_rate_limit_<stat>`
/// with the prefix as a label, as the Prometheus form is read too.
fn prefixed_filter_stat(name: &str, value: f64) -> Option<MetricSample> {
    let (family, prefix, stat) =
        if let Some((prefix, stat)) = name.split_once(".http_local_rate_limit.") {
            ("envoy_http_local_rate_limit_", prefix, stat)
        } else {
            let rest = name.strip_prefix("local_rate_limit.")?;
            let (prefix, stat) = rest.rsplit_once('.')?;
            ("envoy_local_rate_limit_", prefix, stat)
        };
    (!prefix.is_empty() && !stat.is_empty() && !stat.contains('.')).then(|| MetricSample {
        name: format!("{family}{stat}"),
        labels: vec![("stat_prefix".to_string(), prefix.to_string())],
        value,
        at: None,
    })
}

/// The `name`/`value` pairs of Envoy's admin `/stats?format=json`, each read
/// as the `/stats` text line it stands for; `None` unless the text is made of
/// such pairs (JSON punctuation and the `stats` wrapper aside).
fn json_stats(text: &str) -> Option<Vec<MetricSample>> {
    use std::sync::LazyLock;
    static PAIR: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r#""name"\s*:\s*"([^"\s]+)"\s*,\s*"value"\s*:\s*(-?[0-9][0-9.eE+-]*)"#)
            .expect("valid pattern")
    });
    if !text.contains("\"name\"") || !text.contains("\"value\"") {
        return None;
    }
    // Between the pairs only JSON punctuation or the `stats` wrapper: the
    // first other byte says this is no stats dump.
    let clean = |gap: &str| {
        gap.split("\"stats\"")
            .all(|p| p.chars().all(|c| c.is_whitespace() || "{}[],:".contains(c)))
    };
    let mut out = Vec::new();
    let mut last = 0;
    for c in PAIR.captures_iter(text) {
        let m = c.get(0)?;
        if !clean(&text[last..m.start()]) {
            return None;
        }
        last = m.end();
        if let Some(s) = envoy_stat(&format!("{}: {}", &c[1], &c[2])) {
            out.push(s);
        }
    }
    (!out.is_empty() && clean(&text[last..])).then_some(out)
}

/// Envoy's default Prometheus tag names (`envoy_cluster_name`) as Istio's
/// `stats_tags` name them (`cluster_name`), so one metric condition reads
/// both; Istio's response code class is `5xx` where Envoy's is `5`.
fn istio_tag_names(labels: &mut [(String, String)]) {
    for (k, v) in labels.iter_mut() {
        let renamed = match k.as_str() {
            "envoy_cluster_name" => "cluster_name",
            "envoy_http_conn_manager_prefix" => "http_conn_manager_prefix",
            "envoy_listener_address" => "listener_address",
            "envoy_tcp_prefix" => "tcp_prefix",
            "envoy_response_code_class" => "response_code_class",
            "envoy_response_code" => "response_code",
            _ => continue,
        };
        *k = renamed.to_string();
        if renamed == "response_code_class" && v.len() == 1 {
            v.push_str("xx");
        }
    }
}

/// First stat word of the `http.<prefix>.` and `listener.<address>.` trees;
/// prefixes and addresses hold dots (`inbound_0.0.0.0_8080`, `0.0.0.0_15006`).
const SCOPED_STAT_ROOTS: &[&str] = &[
    "downstream_",
    "rbac",
    "shadow_",
    "no_route",
    "no_cluster",
    "no_filter_chain_match",
    "rq_",
    "rs_",
    "ext_authz",
    "jwt_authn",
    "ratelimit",
    "local_rate_limit",
    "fault",
    "tracing",
    "user_agent",
    "ssl",
    "http1",
    "http2",
    "http3",
    "server_ssl_socket_factory",
    "worker_",
    "extension_config_missing",
    "cors",
    "csrf",
    "router",
    "grpc",
    "buffer",
];

/// Splits `<tree><scope>.<stat>` at the first part that starts a known stat
/// word; `None` when `name` is not in `tree`.
fn split_scoped_stat<'a>(name: &'a str, tree: &str) -> Option<(&'a str, &'a str)> {
    let rest = name.strip_prefix(tree)?;
    let mut at = 0;
    for (i, _) in rest.match_indices('.') {
        let tail = &rest[i + 1..];
        if SCOPED_STAT_ROOTS.iter().any(|r| tail.starts_with(r)) {
            return Some((&rest[..i], tail));
        }
        if at == 0 {
            at = i;
        }
    }
    (at > 0).then(|| (&rest[..at], &rest[at + 1..]))
}

/// Splits `cluster.<name>.<stat>`. Istio cluster names hold dots
/// (`outbound|8000||httpbin.default.svc.cluster.local`), so the name ends at
/// the service domain when there is one, else at the first dot (`xds-grpc`).
fn split_cluster_stat(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix("cluster.")?;
    for domain in [".svc.cluster.local.", ".cluster.local."] {
        if let Some(i) = rest.find(domain) {
            let end = i + domain.len() - 1;
            return Some((&rest[..end], &rest[end + 1..]));
        }
    }
    // Other names hold dots too (`outbound|80||example.com`, Istio 0.x
    // `in.8080`, `out.reviews…|http|version=v1`): the cluster ends where the
    // first of Envoy's cluster stat stems starts (after the last `|`).
    let from = rest.rfind('|').map_or(0, |i| i + 1);
    let tail = &rest[from..];
    CLUSTER_STEMS
        .iter()
        .filter_map(|stem| tail.find(stem))
        .min()
        .map(|j| (&rest[..from + j], &rest[from + j + 1..]))
        .or_else(|| (from == 0).then(|| rest.split_once('.')).flatten())
}

/// The first segments of Envoy's cluster statistics, each after its dot.
const CLUSTER_STEMS: &[&str] = &[
    ".upstream_",
    ".ssl.",
    ".circuit_breakers.",
    ".membership_",
    ".lb_",
    ".outlier_detection.",
    ".health_check.",
    ".internal.upstream_",
    ".external.upstream_",
    ".retry_or_shadow_abandoned",
    ".retry.upstream_",
    ".update_",
    ".max_host_weight",
    ".bind_errors",
    ".assignment_",
    ".original_dst_",
];

/// Envoy `/clusters`: `cluster::host::stat::value` or `cluster::stat::value`.
fn envoy_clusters(t: &str) -> Option<MetricSample> {
    if t.contains(' ') || !t.contains("::") {
        return None;
    }
    let parts: Vec<&str> = t.split("::").collect();
    let (labels, name, v) = match parts.as_slice() {
        [c, h, n, v] => (
            vec![
                ("cluster".to_string(), c.to_string()),
                ("host".to_string(), h.to_string()),
            ],
            *n,
            *v,
        ),
        [c, n, v] => (vec![("cluster".to_string(), c.to_string())], *n, *v),
        _ => return None,
    };
    if name.is_empty()
        || !name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
    {
        return None;
    }
    let mut labels = labels;
    let value = match parse_value(v) {
        Some(x) => x,
        None => {
            labels.push(("value".to_string(), v.to_string()));
            1.0
        }
    };
    Some(MetricSample {
        name: name.to_string(),
        labels,
        value,
        at: None,
    })
}

/// `true` when the text looks like a metrics exposition: `# TYPE`/`# HELP`
/// lines, or most of the first non-blank lines read as samples of a
/// metric-looking name (with labels, or with `_`, `.` or `:` in it).
pub fn looks_like(text: &str) -> bool {
    if json_stats(text).is_some() {
        return true;
    }
    let mut seen = 0;
    let mut samples = 0;
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(20)
    {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") || line.starts_with("# UNIT ")
        {
            return true;
        }
        if line.starts_with('#') || is_endpoint_header(line) {
            continue;
        }
        seen += 1;
        if let Line::Sample(s) = parse_line(line)
            && (!s.labels.is_empty() || s.name.contains(['_', '.', ':']))
        {
            samples += 1;
        }
    }
    samples > 0 && samples * 10 >= seen * 7
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envoy_admin_json_stats_read_as_stats_lines() {
        let pretty =
            "{\n    \"name\": \"cluster.local_app.upstream_cx_overflow\",\n    \"value\": 17\n},\n";
        assert!(looks_like(pretty));
        let (s, bad) = parse(pretty);
        assert_eq!(bad, 0);
        assert_eq!(s[0].name, "envoy_cluster_upstream_cx_overflow");
        assert_eq!(s[0].label("cluster_name"), Some("local_app"));
        assert_eq!(s[0].value, 17.0);
        let compact = r#"{"stats":[{"name":"http.ingress_http.rbac.denied","value":3},{"name":"server.live","value":1}]}"#;
        assert_eq!(parse(compact).0.len(), 2);
        // A JSON log record is not a stats dump.
        assert!(json_stats(r#"{"name":"web","value":3,"msg":"x"}"#).is_none());
    }

    #[test]
    fn local_rate_limit_stats_read_whatever_the_operators_prefix() {
        for text in [
            "ingress_rl.http_local_rate_limit.rate_limited: 4",
            "envoy_ingress_rl_http_local_rate_limit_rate_limited{} 4",
        ] {
            let (s, bad) = parse(text);
            assert_eq!(bad, 0, "{text}");
            assert_eq!(
                s[0].name, "envoy_http_local_rate_limit_rate_limited",
                "{text}"
            );
            assert_eq!(s[0].label("stat_prefix"), Some("ingress_rl"), "{text}");
            assert_eq!(s[0].value, 4.0);
        }
        // The network filter puts its prefix after its root.
        let (s, _) = parse("local_rate_limit.inbound_shop/db_5432_tcp.rate_limited: 2");
        assert_eq!(s[0].name, "envoy_local_rate_limit_rate_limited");
        assert_eq!(s[0].label("stat_prefix"), Some("inbound_shop/db_5432_tcp"));
    }

    #[test]
    fn label_values_keep_commas_braces_and_escapes() {
        let (s, bad) = parse(
            "istio_requests_total{response_flags=\"UH,URX\",x=\"a}b=c\",q=\"say \\\"hi\\\"\\n\\\\\"} 3\n",
        );
        assert_eq!(bad, 0);
        assert_eq!(s[0].label("response_flags"), Some("UH,URX"));
        assert_eq!(s[0].label("x"), Some("a}b=c"));
        assert_eq!(s[0].label("q"), Some("say \"hi\"\n\\"));
        assert_eq!(s[0].value, 3.0);
    }

    #[test]
    fn sample_timestamps_read_as_instants_in_milliseconds_or_openmetrics_seconds() {
        let at = |l: &str| match parse_line(l) {
            Line::Sample(m) => m.at.map(|a| a.rfc3339()),
            _ => panic!("{l}"),
        };
        assert_eq!(
            at("x_total 3 1740823210000").as_deref(),
            Some("2025-03-01T10:00:10Z")
        );
        assert_eq!(
            at("x_total 3 1740823210.5").as_deref(),
            Some("2025-03-01T10:00:10.500Z")
        );
        assert_eq!(at("x_total 3"), None);
        assert_eq!(at("x_total 3 # {trace_id=\"1\"} 1.0"), None);
    }

    #[test]
    fn special_values_timestamps_and_exemplars_parse() {
        let (s, bad) = parse(
            "a_b NaN\nc{le=\"+Inf\"} +Inf 1700000000000\nd:e -Inf\nf_total 2.5 # {trace_id=\"abc\"} 1.0\n# EOF\n",
        );
        assert_eq!(bad, 0);
        assert!(s[0].value.is_nan());
        assert_eq!(s[1].value, f64::INFINITY);
        assert_eq!(s[2].name, "d:e");
        assert_eq!(s[3].value, 2.5);
    }

    #[test]
    fn truncated_lines_are_counted_and_the_rest_kept() {
        let (s, bad) = parse("ok_total 1\ncut_total{a=\"x\nalso_ok 2\n");
        assert_eq!(s.len(), 2);
        assert_eq!(bad, 1);
    }

    #[test]
    fn envoy_cluster_stats_get_prometheus_names_and_cluster_label() {
        let (s, _) = parse(
            "cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_pending_overflow: 21\ncluster.xds-grpc.upstream_cx_total: 3\ncluster.outbound|443||www.example.com.circuit_breakers.default.cx_open: 1\n",
        );
        assert_eq!(s[0].name, "envoy_cluster_upstream_rq_pending_overflow");
        assert_eq!(
            s[0].label("cluster_name"),
            Some("outbound|8000||httpbin.default.svc.cluster.local")
        );
        assert_eq!(s[1].name, "envoy_cluster_upstream_cx_total");
        assert_eq!(s[1].label("cluster_name"), Some("xds-grpc"));
        assert_eq!(s[2].name, "envoy_cluster_circuit_breakers_default_cx_open");
        assert_eq!(
            s[2].label("cluster_name"),
            Some("outbound|443||www.example.com")
        );
        // Dotted names without a domain (Istio 0.x) end at the stat's stem.
        let (s, _) = parse(
            "cluster.in.8080.upstream_cx_destroy_remote_with_active_rq: 1\ncluster.in.8080.internal.upstream_rq_503: 1\n",
        );
        assert_eq!(
            s[0].name,
            "envoy_cluster_upstream_cx_destroy_remote_with_active_rq"
        );
        assert_eq!(s[0].label("cluster_name"), Some("in.8080"));
        assert_eq!(s[1].name, "envoy_cluster_internal_upstream_rq_503");
        assert_eq!(s[1].label("cluster_name"), Some("in.8080"));
        let (s, _) = parse(
            "cluster.out.reviews.default.svc.cluster.local|http|version=v1.internal.upstream_rq_503: 6\ncluster.rds.internal.upstream_rq_5xx: 247\n",
        );
        assert_eq!(s[0].name, "envoy_cluster_internal_upstream_rq_503");
        assert_eq!(
            s[0].label("cluster_name"),
            Some("out.reviews.default.svc.cluster.local|http|version=v1")
        );
        assert_eq!(s[1].name, "envoy_cluster_internal_upstream_rq_5xx");
        assert_eq!(s[1].label("cluster_name"), Some("rds"));
    }

    #[test]
    fn retry_stats_keep_the_cluster_name_whole() {
        let (s, _) = parse("cluster.httpbin_service.retry.upstream_rq_500: 3\n");
        assert_eq!(s[0].name, "envoy_cluster_retry_upstream_rq_500");
        assert_eq!(s[0].labels[0].1, "httpbin_service");
    }

    #[test]
    fn envoy_admin_stats_and_clusters_parse() {
        let (s, _) = parse(
            "cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_pending_overflow: 21\n",
        );
        assert_eq!(s[0].name, "envoy_cluster_upstream_rq_pending_overflow");
        assert_eq!(s[0].value, 21.0);
        let (s, _) = parse(
            "outbound|9000||x.svc.cluster.local::10.244.25.4:9000::rq_error::2\noutbound|9000||x::10.1.1.1:9000::health_flags::healthy\n",
        );
        assert_eq!(s[0].name, "rq_error");
        assert_eq!(s[0].label("host"), Some("10.244.25.4:9000"));
        assert_eq!(s[1].label("value"), Some("healthy"));
        // A plain Envoy cluster name with `/` and `|`, pasted in a Markdown code span.
        let (s, _) = parse("`cluster.demo/fortio|8080.ssl.fail_verify_error: 50`\n");
        assert_eq!(s[0].name, "envoy_cluster_ssl_fail_verify_error");
        assert_eq!(s[0].label("cluster_name"), Some("demo/fortio|8080"));
        assert_eq!(s[0].value, 50.0);
    }

    #[test]
    fn query_results_keep_their_series() {
        let (s, bad) = parse(
            "✔istio_requests_total{response_code=\"500\"}\nistio_requests_total{response_code=\"503\",response_flags=\"UC\"}\t1\n",
        );
        assert_eq!(bad, 0);
        assert!(s[0].value.is_nan());
        assert_eq!(s[1].value, 1.0);
        assert_eq!(s[1].label("response_flags"), Some("UC"));
    }

    #[test]
    fn istioctl_endpoint_tables_read_as_one_sample_a_row() {
        let t = "ENDPOINT                         STATUS      OUTLIER CHECK     CLUSTER\n\
                 52.119.226.80:81                 HEALTHY     FAILED            outbound|80||mydb.com\n\
                 52.94.12.144:80                  UNHEALTHY   OK                outbound|80||mydb.com\n";
        assert!(looks_like(t));
        let (s, bad) = parse(t);
        assert_eq!((s.len(), bad), (2, 0));
        assert_eq!(s[0].name, "istioctl_endpoint");
        assert_eq!(s[0].label("outlier_check"), Some("FAILED"));
        assert_eq!(s[1].label("status"), Some("UNHEALTHY"));
        assert_eq!(s[1].label("cluster"), Some("outbound|80||mydb.com"));
        // Four words of prose are no row.
        assert!(endpoint_row("note: HEALTHY OK fine").is_none());
    }

    #[test]
    fn log_lines_do_not_look_like_metrics() {
        assert!(!looks_like(
            "[   299.092239s]  INFO ThreadId(01) inbound: linkerd_app_core::serve: x"
        ));
        assert!(!looks_like("hello world\nfoo bar"));
        assert!(!looks_like("no healthy upstream"));
        assert!(looks_like("# TYPE x counter\nx 1"));
        assert!(looks_like("request_total{a=\"b\"} 1"));
    }
}
