//! Envoy / Istio access-log records: every Istio default TEXT format version,
//! Envoy's default format, JSON; TCP lines; combined flags (`UF,URX`).
//!
//! TEXT lines are anchored on `"METHOD PATH PROTO" STATUS` and the rest is
//! read positionally. The version is recognised by what stands between the
//! flags and the first integer (`BYTES_RECEIVED`), per
//! `corpus/istio/formats/FIELD-ORDER.tsv`:
//!
//! | before the first integer                         | format                         |
//! |--------------------------------------------------|--------------------------------|
//! | nothing                                          | Envoy default                  |
//! | `"mixer status"` (15 fields after the flags)     | Istio 1.1 mixer era            |
//! | `"transport failure"`                            | Istio 1.8                      |
//! | `"mixer status" "transport failure"`             | Istio 1.6 mixer era            |
//! | `details termination "transport failure"`        | Istio 1.9.0 … 1.23, 1.24+      |
//!
//! Also read: JSON records (one object per line, or a pretty-printed object
//! handed over whole — see [`parse_json`]), combined-log-format app lines
//! (`127.0.0.6 - - [11/Jul/2022:…] "GET … HTTP/1.1" 426 0 …`, no flags),
//! `key=value` custom Envoy formats (`envoy-custom-format.log`) and ztunnel
//! `access` lines (`ztunnel-access.log`, no status: TCP).

use super::AccessRecord;
use super::text::{parse_fields, split_token, strip_kubectl_ts};

/// Envoy's response flags (short codes), from Envoy's access-log docs.
pub const ENVOY_FLAGS: &[&str] = &[
    "LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE", "DC",
    "URX", "SI", "IH", "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF", "DO", "DR",
    "UDO",
];

/// Each flag's long name, as `%RESPONSE_FLAGS_LONG%` of recent Envoy releases writes it
/// (`ResponseFlagUtils` in Envoy's `source/common/stream_info/utility.h`), and
/// its field in the `ResponseFlags` message of gRPC access-log records
/// (`envoy/data/accesslog/v3/accesslog.proto`), snake_case as in the proto;
/// protobuf JSON writes it in lowerCamelCase.
#[rustfmt::skip]
pub const ENVOY_FLAG_NAMES: &[(&str, &str, &str)] = &[
    ("LH",    "FailedLocalHealthCheck",           "failed_local_healthcheck"),
    ("UH",    "NoHealthyUpstream",                "no_healthy_upstream"),
    ("UT",    "UpstreamRequestTimeout",           "upstream_request_timeout"),
    ("LR",    "LocalReset",                       "local_reset"),
    ("UR",    "UpstreamRemoteReset",              "upstream_remote_reset"),
    ("UF",    "UpstreamConnectionFailure",        "upstream_connection_failure"),
    ("UC",    "UpstreamConnectionTermination",    "upstream_connection_termination"),
    ("UO",    "UpstreamOverflow",                 "upstream_overflow"),
    ("NR",    "NoRouteFound",                     "no_route_found"),
    ("DI",    "DelayInjected",                    "delay_injected"),
    ("FI",    "FaultInjected",                    "fault_injected"),
    ("RL",    "RateLimited",                      "rate_limited"),
    ("UAEX",  "UnauthorizedExternalService",      "unauthorized_details"),
    ("RLSE",  "RateLimitServiceError",            "rate_limit_service_error"),
    ("DC",    "DownstreamConnectionTermination",  "downstream_connection_termination"),
    ("URX",   "UpstreamRetryLimitExceeded",       "upstream_retry_limit_exceeded"),
    ("SI",    "StreamIdleTimeout",                "stream_idle_timeout"),
    ("IH",    "InvalidEnvoyRequestHeaders",       "invalid_envoy_request_headers"),
    ("DPE",   "DownstreamProtocolError",          "downstream_protocol_error"),
    ("UMSDR", "UpstreamMaxStreamDurationReached", "upstream_max_stream_duration_reached"),
    ("RFCF",  "ResponseFromCacheFilter",          "response_from_cache_filter"),
    ("NFCF",  "NoFilterConfigFound",              "no_filter_config_found"),
    ("DT",    "DurationTimeout",                  "duration_timeout"),
    ("UPE",   "UpstreamProtocolError",            "upstream_protocol_error"),
    ("NC",    "NoClusterFound",                   "no_cluster_found"),
    ("OM",    "OverloadManagerTerminated",        "overload_manager"),
    ("DF",    "DnsResolutionFailed",              "dns_resolution_failure"),
    ("DO",    "DropOverload",                     "drop_overload"),
    ("DR",    "DownstreamRemoteReset",            "downstream_remote_reset"),
    ("UDO",   "UnconditionalDropOverload",        "unconditional_drop_overload"),
];

/// The short code of one flag written short (`UH`) or long
/// (`NoHealthyUpstream`).
pub fn flag_code(t: &str) -> Option<&'static str> {
    if t.len() <= 5 {
        return ENVOY_FLAGS.iter().find(|f| **f == t).copied();
    }
    // Long names are CamelCase words of 10 or more letters.
    if !t.starts_with(|c: char| c.is_ascii_uppercase()) {
        return None;
    }
    ENVOY_FLAG_NAMES
        .iter()
        .find(|(_, long, _)| *long == t)
        .map(|(short, _, _)| *short)
}

/// The short code of a `ResponseFlags` field (`no_healthy_upstream` or
/// `noHealthyUpstream`).
fn flag_field_code(k: &str) -> Option<&'static str> {
    ENVOY_FLAG_NAMES
        .iter()
        .find(|(_, _, field)| *field == k || snake_to_camel(field) == k)
        .map(|(short, _, _)| *short)
}

/// Parses one line; `None` when it is not an access-log record.
pub fn parse_line(line: &str) -> Option<AccessRecord> {
    parse_line_as(line, false)
}

/// [`parse_line`] reading only the fields that decide rules and the mesh:
/// `status`, `flags`, `details`, `termination`, `transport_failure` and
/// `upstream_cluster` (the others stay empty). When it returns a record,
/// [`parse_line`] returns one with the same values in those fields; `None`
/// means "not known to be a record" (an unusual JSON line, e.g. one with a
/// repeated key, is left to [`parse_line`]). The bulk scan's fast path
/// ([`crate::engine`]'s quiet access lines) reads every healthy line with it.
pub fn parse_line_lite(line: &str) -> Option<AccessRecord> {
    parse_line_as(line, true)
}

fn parse_line_as(line: &str, lite: bool) -> Option<AccessRecord> {
    let line = line.trim_end_matches(['\r', '\n']);
    let t = line.trim_start();
    if t.is_empty() {
        return None;
    }
    let (_, after_ts) = strip_kubectl_ts(t);
    if after_ts.starts_with('{') {
        return if lite {
            parse_json_lite(after_ts)
        } else {
            parse_json(after_ts)
        };
    }
    if let Some(r) = parse_text(t, lite) {
        return Some(r);
    }
    if let Some(r) = parse_ztunnel(after_ts) {
        return Some(r);
    }
    parse_kv(t)
}

/// `-` (Envoy's "no value") and empty become `None`.
fn opt(v: &str) -> Option<String> {
    let v = v.trim();
    if v.is_empty() || v == "-" {
        None
    } else {
        Some(v.to_string())
    }
}

fn num(v: &str) -> Option<u64> {
    v.trim().trim_matches('"').parse().ok()
}

/// `UF,URX` → `["UF","URX"]`; `-` → `[]`. Envoy flags are upper-case codes.
fn split_flags(v: &str) -> Vec<String> {
    let v = v.trim().trim_matches('"');
    if v == "-" || v.is_empty() {
        return Vec::new();
    }
    v.split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| flag_code(f).unwrap_or(f).to_string())
        .collect()
}

fn is_flags(v: &str) -> bool {
    v == "-"
        || (!v.is_empty()
            && v.split(',').all(|f| {
                (!f.is_empty() && f.len() <= 6 && f.bytes().all(|c| c.is_ascii_uppercase()))
                    || flag_code(f).is_some()
            }))
}

fn is_status(v: &str) -> Option<u16> {
    if v.is_empty() || v.len() > 3 || !v.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let s: u16 = v.parse().ok()?;
    (s == 0 || (100..=599).contains(&s)).then_some(s)
}

/// `true` for a request method token (`GET`, `-`).
fn is_method(v: &str) -> bool {
    v == "-" || (!v.is_empty() && v.len() <= 16 && v.bytes().all(|c| c.is_ascii_uppercase()))
}

/// Finds `"METHOD PATH PROTO"` followed by a status: (quote start, content, after).
fn find_request(line: &str) -> Option<(usize, &str, &str)> {
    let b = line.as_bytes();
    let mut from = 0;
    while let Some(off) = memchr::memchr(b'"', &b[from..]) {
        let q = from + off;
        let len = memchr::memchr(b'"', &b[q + 1..])?;
        let content = &line[q + 1..q + 1 + len];
        let after = &line[q + 2 + len..];
        let mut parts = content.split(' ');
        let m = parts.next().unwrap_or("");
        let last = content.rsplit(' ').next().unwrap_or("");
        if is_method(m)
            && content.contains(' ')
            && (last == "-" || last.starts_with("HTTP/"))
            && after.starts_with(' ')
        {
            let (st, _) = split_token(after);
            if is_status(st).is_some() {
                return Some((q, content, after));
            }
        }
        from = q + 1;
    }
    None
}

/// Tokens of the rest of a TEXT line: blanks split, except inside `"…"` and
/// `{…}` (`upstream_reset_before_response_started{…}` may hold anything).
fn tokens(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        if b[i] == b'"' {
            // quoted: to the next quote followed by a blank or the end
            i += 1;
            while i < b.len() {
                if b[i] == b'"' && (i + 1 == b.len() || b[i + 1] == b' ' || b[i + 1] == b'\t') {
                    i += 1;
                    break;
                }
                i += 1;
            }
        } else {
            let mut depth = 0i32;
            while i < b.len() {
                match b[i] {
                    b'{' => depth += 1,
                    b'}' => depth -= 1,
                    b' ' | b'\t' if depth <= 0 => break,
                    _ => {}
                }
                i += 1;
            }
        }
        out.push(&s[start..i]);
    }
    out
}

fn is_int(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit())
}

fn is_quoted(t: &str) -> bool {
    t.starts_with('"')
}

/// `lite`: only the fields [`parse_line_lite`] promises.
fn parse_text(line: &str, lite: bool) -> Option<AccessRecord> {
    let (q, content, after) = find_request(line)?;
    let mut r = AccessRecord::default();
    if lite {
        let toks = tokens(after);
        r.status = toks.first().and_then(|s| is_status(s));
        return text_fields(&toks, &mut r).then_some(r);
    }
    // START_TIME: the last `[…]` before the request group.
    let before = &line[..q];
    if let (Some(o), Some(c)) = (before.rfind('['), before.rfind(']'))
        && o < c
    {
        r.start_time = Some(before[o + 1..c].to_string());
    }
    let mut parts = content.splitn(2, ' ');
    let method = parts.next().unwrap_or("");
    let rest = parts.next().unwrap_or("");
    let (path, proto) = match rest.rfind(' ') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    r.method = opt(method);
    r.path = opt(path);
    r.protocol = opt(proto);
    r.tcp = method == "-" && proto == "-";
    let toks = tokens(after);
    r.status = toks.first().and_then(|s| is_status(s));
    if !text_fields(&toks, &mut r) {
        return None;
    }
    let Some(flags) = toks.get(1) else {
        return Some(r);
    };
    if is_int(flags) {
        // Combined log format (`426 0 "referer" "ua"`): bytes, no flags.
        r.bytes_sent = num(flags);
        return Some(r);
    }
    let rest = &toks[2..];
    let k = rest.iter().position(|t| is_int(t));
    let Some(k) = k else {
        return Some(r);
    };
    let at = |n: usize| rest.get(k + n).map(|t| t.trim_matches('"'));
    r.bytes_received = at(0).and_then(num);
    r.bytes_sent = at(1).and_then(num);
    r.duration_ms = at(2).and_then(num);
    r.upstream_answered = at(3).and_then(num).is_some();
    r.request_id = at(6).and_then(opt);
    r.authority = at(7).and_then(opt);
    r.upstream_host = at(8).and_then(opt);
    r.sni = at(13).and_then(opt);
    Some(r)
}

/// The fields after the request group that decide rules and the mesh: flags,
/// details, termination, transport failure, upstream cluster. `false` when
/// the token after the status is not a flags field (not an access line).
fn text_fields(toks: &[&str], r: &mut AccessRecord) -> bool {
    let Some(flags) = toks.get(1) else {
        return true;
    };
    if is_int(flags) {
        return true;
    }
    if !is_flags(flags) {
        return false;
    }
    r.envoy = true;
    r.flags = split_flags(flags);
    let rest = &toks[2..];
    let k = rest.iter().position(|t| is_int(t));
    let pre = &rest[..k.unwrap_or(rest.len()).min(3)];
    match pre {
        [] => {}
        [a] if is_quoted(a) => {
            // 1.8 (transport failure) unless the line has 1.1's field count.
            if rest.len() != 15 {
                r.transport_failure = opt(a.trim_matches('"'));
            }
        }
        [a, b] if is_quoted(a) && is_quoted(b) => {
            r.transport_failure = opt(b.trim_matches('"'));
        }
        _ => {
            // 1.9+: details, termination, "transport failure".
            if let Some(d) = pre.first().filter(|t| !is_quoted(t)) {
                r.details = opt(d);
            }
            if let Some(t) = pre.get(1).filter(|t| !is_quoted(t)) {
                r.termination = opt(t);
            }
            if let Some(f) = pre.iter().find(|t| is_quoted(t)) {
                r.transport_failure = opt(f.trim_matches('"'));
            }
        }
    }
    if let Some(k) = k {
        r.upstream_cluster = rest.get(k + 9).and_then(|t| opt(t.trim_matches('"')));
    }
    true
}

/// One Envoy JSON access record (Istio's default JSON keys). Also used for a
/// pretty-printed record handed over whole (`ssup2-istio-json-verbatim/*.json`).
pub fn parse_json(s: &str) -> Option<AccessRecord> {
    let v: serde_json::Value = serde_json::from_str(s.trim()).ok()?;
    from_json(&v)
}

/// Maps a decoded JSON object to a record; `None` unless it has a
/// `response_code` or `response_flags` key.
pub fn from_json(v: &serde_json::Value) -> Option<AccessRecord> {
    let top = v.as_object()?;
    // A gRPC access-log record (`HTTPAccessLogEntry` as protobuf JSON) keeps
    // the response in `response` and the flags in `commonProperties`.
    let nested = ["response", "commonProperties", "common_properties"]
        .into_iter()
        .filter_map(|k| top.get(k)?.as_object());
    let objects: Vec<&serde_json::Map<String, serde_json::Value>> =
        std::iter::once(top).chain(nested).collect();
    // Envoy's command operators as keys, in the spelling the operator chose:
    // `response_code`, `response-code` (Pomerium, Ambassador), `responseCode`,
    // and shortened to `resp_code`.
    let get = |k: &str| -> Option<&serde_json::Value> {
        let short = k.strip_prefix("response_").map(|r| format!("resp_{r}"));
        [Some(k.to_string()), short]
            .into_iter()
            .flatten()
            .find_map(|k| {
                objects.iter().find_map(|o| {
                    o.get(&k)
                        .or_else(|| o.get(&k.replace('_', "-")))
                        .or_else(|| o.get(&snake_to_camel(&k)))
                })
            })
            // An operator's prefix on every key (`iproxy_response_code`).
            .or_else(|| {
                let (a, b) = (format!("_{k}"), format!("-{k}"));
                objects.iter().find_map(|o| {
                    o.iter()
                        .find(|(name, _)| name.ends_with(&a) || name.ends_with(&b))
                        .map(|(_, v)| v)
                })
            })
    };
    if get("response_code").is_none() && get("response_flags").is_none() {
        return None;
    }
    let s = |k: &str| -> Option<String> {
        match get(k)? {
            serde_json::Value::String(x) => opt(x),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        }
    };
    let n = |k: &str| s(k).and_then(|x| x.parse::<u64>().ok());
    let method = s("method");
    let protocol = s("protocol");
    Some(AccessRecord {
        start_time: s("start_time"),
        tcp: method.is_none() && protocol.is_none(),
        method,
        path: s("path"),
        protocol,
        status: s("response_code")
            .and_then(|x| x.parse::<u16>().ok())
            .or_else(|| {
                // "-" / absent response code on TCP records means none sent.
                get("response_code").map(|_| 0)
            }),
        flags: match get("response_flags") {
            // `ResponseFlags` as an object: the fields that are set.
            Some(serde_json::Value::Object(f)) => f
                .iter()
                .filter(|(_, v)| {
                    !matches!(v, serde_json::Value::Bool(false) | serde_json::Value::Null)
                })
                .filter_map(|(k, _)| flag_field_code(k).map(str::to_string))
                .collect(),
            _ => s("response_flags")
                .map(|f| split_flags(&f))
                .unwrap_or_default(),
        },
        details: s("response_code_details"),
        termination: s("connection_termination_details"),
        transport_failure: s("upstream_transport_failure_reason"),
        bytes_received: n("bytes_received"),
        bytes_sent: n("bytes_sent"),
        duration_ms: n("duration"),
        upstream_answered: n("upstream_service_time").is_some(),
        authority: s("authority"),
        upstream_host: s("upstream_host"),
        upstream_cluster: s("upstream_cluster"),
        request_id: s("request_id"),
        sni: s("requested_server_name"),
        envoy: true,
    })
}

/// `response_code_details` → `responseCodeDetails`.
fn snake_to_camel(k: &str) -> String {
    let mut out = String::with_capacity(k.len());
    let mut up = false;
    for c in k.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// [`parse_json`] for the fields [`parse_line_lite`] promises: the other keys
/// are checked for syntax and skipped, not built into a map. `None` where the
/// two could disagree (a repeated key) as well as where [`parse_json`] fails.
fn parse_json_lite(s: &str) -> Option<AccessRecord> {
    use serde::Deserialize;
    use serde_json::Value;
    /// A present key keeps its value, `null` included, as `Some`.
    fn some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
        Value::deserialize(d).map(Some)
    }
    #[derive(Deserialize)]
    struct Lite {
        #[serde(default, deserialize_with = "some")]
        response_code: Option<Value>,
        #[serde(default, deserialize_with = "some")]
        response_flags: Option<Value>,
        #[serde(default, deserialize_with = "some")]
        response_code_details: Option<Value>,
        #[serde(default, deserialize_with = "some")]
        connection_termination_details: Option<Value>,
        #[serde(default, deserialize_with = "some")]
        upstream_transport_failure_reason: Option<Value>,
        #[serde(default, deserialize_with = "some")]
        upstream_cluster: Option<Value>,
    }
    let s = s.trim();
    // A struct also reads a JSON array; `from_json` wants an object.
    if !s.starts_with('{') {
        return None;
    }
    let l: Lite = serde_json::from_str(s).ok()?;
    if l.response_code.is_none() && l.response_flags.is_none() {
        return None;
    }
    // `ResponseFlags` as an object is read by `from_json` alone.
    if matches!(l.response_flags, Some(Value::Object(_))) {
        return None;
    }
    // As `from_json` reads a value: strings through `opt`, `null` as none,
    // anything else as its JSON text.
    let text = |v: &Option<Value>| -> Option<String> {
        match v.as_ref()? {
            Value::String(x) => opt(x),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    };
    Some(AccessRecord {
        status: text(&l.response_code)
            .and_then(|x| x.parse::<u16>().ok())
            .or_else(|| l.response_code.as_ref().map(|_| 0)),
        flags: text(&l.response_flags)
            .map(|f| split_flags(&f))
            .unwrap_or_default(),
        details: text(&l.response_code_details),
        termination: text(&l.connection_termination_details),
        transport_failure: text(&l.upstream_transport_failure_reason),
        upstream_cluster: text(&l.upstream_cluster),
        ..Default::default()
    })
}

/// ztunnel access lines: `[ts] level access connection complete src.addr=… error="…"`.
/// They have no HTTP status; they are TCP records.
fn parse_ztunnel(s: &str) -> Option<AccessRecord> {
    let (lvl, rest) = split_token(s);
    let (scope, rest) = split_token(rest);
    // Cheap checks first: this runs on every line that is not an access record.
    if scope != "access" || !rest.starts_with("connection ") {
        return None;
    }
    super::Level::parse(lvl)?;
    let mut f = Vec::new();
    parse_fields(rest, &mut f);
    let get = |k: &str| f.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    get("src.addr")?;
    Some(AccessRecord {
        tcp: true,
        upstream_host: get("dst.hbone_addr").or_else(|| get("dst.addr")),
        authority: get("dst.service"),
        termination: get("error"),
        bytes_sent: get("bytes_sent").and_then(|v| v.parse().ok()),
        bytes_received: get("bytes_recv").and_then(|v| v.parse().ok()),
        duration_ms: get("duration").and_then(|v| v.trim_end_matches("ms").parse().ok()),
        envoy: true,
        ..Default::default()
    })
}

/// Custom `key=value` Envoy formats (`envoy-custom-format.log`:
/// `[…] method=POST … response_flag=UT … status=200 status_details=… total_time_ms=15001`).
/// Taken only with a numeric status key and a flags or details key.
fn parse_kv(line: &str) -> Option<AccessRecord> {
    if !line.contains("status=") && !line.contains("response_code=") {
        return None;
    }
    let mut f = Vec::new();
    let head = parse_fields(line, &mut f);
    let get = |ks: &[&str]| {
        f.iter()
            .find(|(a, _)| ks.contains(&a.as_str()))
            .map(|(_, v)| v.as_str())
    };
    let status = get(&["status", "response_code", "code"]).and_then(is_status)?;
    let flags = get(&["response_flag", "response_flags", "flags"]);
    let details = get(&["status_details", "response_code_details", "details"]);
    if flags.is_none() && details.is_none() {
        return None;
    }
    let head = head.trim();
    let start_time = head
        .strip_prefix('[')
        .and_then(|h| h.split(']').next())
        .map(str::to_string);
    Some(AccessRecord {
        start_time,
        method: get(&["method"]).and_then(opt),
        path: get(&["request", "path"]).and_then(opt),
        protocol: get(&["alpn", "protocol"]).and_then(opt),
        status: Some(status),
        flags: flags.map(split_flags).unwrap_or_default(),
        details: details.and_then(opt),
        termination: get(&["connection_termination_details"]).and_then(opt),
        transport_failure: get(&["upstream_transport_failure_reason"]).and_then(opt),
        bytes_received: get(&["request_size", "bytes_received"]).and_then(num),
        bytes_sent: get(&["response_size", "bytes_sent"]).and_then(num),
        duration_ms: get(&["total_time_ms", "duration"]).and_then(num),
        upstream_answered: get(&["upstream_service_time", "x-envoy-upstream-service-time"])
            .and_then(num)
            .is_some(),
        authority: get(&["authority"]).and_then(opt),
        upstream_host: get(&["upstream", "upstream_host"]).and_then(opt),
        upstream_cluster: get(&["upstream_cluster"]).and_then(opt),
        request_id: get(&["envoy_request_id", "request_id", "x-request-id"]).and_then(opt),
        sni: get(&["requested_server_name", "sni"]).and_then(opt),
        tcp: false,
        envoy: true,
    })
}

/// Envoy's field names whose values a fragment may quote, and the record
/// field each fills.
const FRAGMENT_KEYS: &[&str] = &[
    "response_code_details",
    "response_flags",
    "response_flag",
    // Operators' own spellings (`"respflags":"UPE"`, `resp_flags=UF`).
    "responseFlags",
    "resp_flags",
    "respflags",
    "response_code",
    "upstream_transport_failure_reason",
    "connection_termination_details",
];

/// Envoy's access-log fields in a line no parser claims: a status and its
/// flags as an issue title or a chat message quotes them (`503 UAEX …`,
/// `got 503 UF,URX`), or Envoy's field names with their values in whatever
/// separators the paste left (`response_flags":"UF,URX"`,
/// `response_code_details: no_healthy_upstream`, `response_flag=UH`).
/// `None` unless the line names response flags (all of them Envoy's) or
/// response-code details.
pub fn parse_fragment(line: &str) -> Option<AccessRecord> {
    let mut r = AccessRecord::default();
    keyed_fields(line, &mut r);
    // Every unclaimed line comes here: the token walks below only run on a
    // line that holds some token of Envoy's flags.
    if r.flags.is_empty() && has_flag_token(line) {
        if let Some((status, flags)) = status_and_flags(line) {
            r.status = r.status.or(Some(status));
            r.flags = flags;
        } else if let Some(flags) = tcp_1_0_flags(line) {
            r.flags = flags;
            r.tcp = true;
        } else if let Some(flags) = named_flags(line) {
            r.flags = flags;
        }
    }
    if r.flags.is_empty() && r.details.is_none() {
        return None;
    }
    r.envoy = true;
    Some(r)
}

/// `true` when every comma-separated part is one of Envoy's flags, short or
/// long.
fn known_flags(v: &str) -> bool {
    !v.is_empty() && v.split(',').all(|f| flag_code(f).is_some())
}

/// `key<separators>value` for each of [`FRAGMENT_KEYS`]: the key bounded by
/// non-word bytes, then up to four of `"':= ` and the value up to a quote,
/// blank, comma (details and flags may hold commas: see below) or brace.
fn keyed_fields(line: &str, r: &mut AccessRecord) {
    if !line.contains("resp") && !line.contains("_details") && !line.contains("_reason") {
        return;
    }
    let b = line.as_bytes();
    for key in FRAGMENT_KEYS {
        let mut from = 0;
        while let Some(off) = line[from..].find(key) {
            let at = from + off;
            from = at + key.len();
            let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
            if (at > 0 && word(b[at - 1])) || b.get(from).is_some_and(|&c| word(c)) {
                continue;
            }
            let rest = &line[from..];
            let sep = rest.bytes().take_while(|c| b"\"':= \t".contains(c)).count();
            if sep == 0 || sep > 4 {
                continue;
            }
            let value = fragment_value(&rest[sep..]);
            if value.is_empty() || value == "-" {
                continue;
            }
            match *key {
                "response_flags" | "response_flag" | "responseFlags" | "resp_flags"
                | "respflags"
                    if r.flags.is_empty() && known_flags(value) =>
                {
                    r.flags = split_flags(value);
                }
                "response_code" if r.status.is_none() => r.status = is_status(value),
                "response_code_details" if r.details.is_none() && is_details(value) => {
                    r.details = Some(value.to_string());
                }
                "upstream_transport_failure_reason" if r.transport_failure.is_none() => {
                    r.transport_failure = Some(value.to_string());
                }
                "connection_termination_details" if r.termination.is_none() => {
                    r.termination = Some(value.to_string());
                }
                _ => continue,
            }
            break;
        }
    }
}

/// A value as a fragment quotes it: up to a quote, a blank or a brace that
/// closes an enclosing object; a details value keeps its `{…}` part (cut
/// pastes may lose the closing brace).
fn fragment_value(s: &str) -> &str {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            '}' | '"' | '\'' | ' ' | '\t' | ';' => return &s[..i],
            ',' if depth == 0 && !s[i + 1..].starts_with(|c: char| c.is_ascii_uppercase()) => {
                return &s[..i];
            }
            _ => {}
        }
    }
    s
}

/// A response-code-details value: lower-case words joined by `_`, with an
/// optional `{…}` part.
fn is_details(v: &str) -> bool {
    let head = v.split('{').next().unwrap_or(v);
    head.len() >= 4
        && head.contains('_')
        && head
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// Flags named in prose without a status: a token of two or more of Envoy's
/// flags joined by commas (`UC,URX`) anywhere, or one beside (or up to four
/// words after) the word `flag(s)` or `status(es)` (`response flags UO`,
/// `the DC statuses`, `response flags of "-" and "UC"`).
fn named_flags(line: &str) -> Option<Vec<String>> {
    let toks = prose_tokens(line);
    let is_flag_word = |t: &str| {
        [
            "flag",
            "flags",
            "response_flag",
            "response_flags",
            "status",
            "statuses",
        ]
        .iter()
        .any(|w| t.eq_ignore_ascii_case(w))
    };
    toks.iter().enumerate().find_map(|(i, t)| {
        let t = as_flags(t)?;
        let joined = t.contains(',') || is_telling_long_name(t);
        // Beside the word, or a few words after it (`response flags of "-"
        // and "UC"`).
        let beside = toks[i.saturating_sub(4)..i].iter().any(|w| is_flag_word(w))
            || toks.get(i + 1).is_some_and(|n| is_flag_word(n))
            || (toks
                .get(i + 1)
                .is_some_and(|n| n.eq_ignore_ascii_case("response"))
                && toks.get(i + 2).is_some_and(|n| is_flag_word(n)));
        (joined || beside).then(|| split_flags(t))
    })
}

/// A flag's long name that no prose would use for anything else: three
/// words or more (`NoHealthyUpstream`), or one about the stream's ends
/// (`UpstreamOverflow`). `RateLimited` or `LocalReset` alone stay prose.
fn is_telling_long_name(t: &str) -> bool {
    t.len() > 5
        && flag_code(t).is_some()
        && (t.bytes().filter(u8::is_ascii_uppercase).count() >= 3
            || t.starts_with("Upstream")
            || t.starts_with("Downstream"))
}

/// The first `STATUS FLAGS` pair of whitespace tokens: `503 UAEX`,
/// `0 UF,URX`, `503 UHs`.
fn status_and_flags(line: &str) -> Option<(u16, Vec<String>)> {
    let toks = prose_tokens(line);
    toks.windows(2).find_map(|w| {
        let status = is_status(&w[0])?;
        as_flags(&w[1]).map(|f| (status, split_flags(f)))
    })
}

/// The flags of a TCP proxy line in Istio 1.0's default TCP layout, which has
/// no request and no status: `[START_TIME] FLAGS BYTES_RECEIVED BYTES_SENT
/// DURATION "UPSTREAM_HOST" UPSTREAM_CLUSTER …` (`[…] UF 0 0 0
/// "127.0.0.1:7000" inbound|7000||cassandra…`).
fn tcp_1_0_flags(line: &str) -> Option<Vec<String>> {
    let (_, rest) = line.split_once("] ")?;
    let toks: Vec<&str> = rest.split_whitespace().take(5).collect();
    let [flags, rx, tx, dur, host] = toks[..] else {
        return None;
    };
    let f = as_flags(flags)?;
    ([rx, tx, dur].iter().all(|t| is_int(t)) && host.starts_with('"')).then(|| split_flags(f))
}

/// The whitespace tokens of a line of prose, with the quotes, brackets and
/// trailing punctuation around them peeled.
fn prose_tokens(line: &str) -> Vec<String> {
    let quote = |c: char| "\"'()[]`*:%".contains(c);
    line.split_whitespace()
        .map(|t| {
            // Quotes inside the punctuation too: `"UR",`.
            t.trim_matches(quote)
                .trim_end_matches(['.', ',', ';'])
                .trim_matches(quote)
                .to_string()
        })
        .collect()
}

/// `true` when some word of `line` (letters, digits and commas) is Envoy's
/// flags; no allocation.
fn has_flag_token(line: &str) -> bool {
    line.split(|c: char| !(c.is_ascii_alphanumeric() || c == ','))
        .any(|t| as_flags(t.trim_end_matches(',')).is_some())
}

/// A token that is Envoy's flags, also in the plural (`UHs`).
fn as_flags(t: &str) -> Option<&str> {
    let t = t.strip_suffix('s').filter(|f| known_flags(f)).unwrap_or(t);
    known_flags(t).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn istio_1_0_tcp_lines_are_read_by_their_flags() {
        let r = parse_fragment(r#"[2019-02-11T09:12:40.118Z] UF 0 0 1 "10.4.2.9:9042" outbound|9042||db.data.svc.cluster.local - 10.0.31.7:9042 10.4.1.5:51514"#).unwrap();
        assert_eq!(
            (r.flags.clone(), r.tcp, r.status),
            (vec!["UF".to_string()], true, None)
        );
        // A healthy TCP line (`-`) and a line with another shape are none.
        assert!(
            parse_fragment(
                r#"[2019-02-11T09:12:40.118Z] - 412 9031 120 "10.4.2.9:9042" outbound|9042||db"#
            )
            .is_none()
        );
        assert!(parse_fragment("[2019-02-11T09:12:40.118Z] UF on port 9042").is_none());
    }

    #[test]
    fn json_records_read_kebab_and_camel_case_keys() {
        let r = parse_json(r#"{"service":"envoy","response-code":500,"response-code-details":"ext_authz_error","upstream-cluster":""}"#).unwrap();
        assert_eq!(
            (r.status, r.details.as_deref()),
            (Some(500), Some("ext_authz_error"))
        );
        let r = parse_json(r#"{"resp_code":200,"resp_flags":"UR","resp_code_details":"upstream_reset_after_response_started{remote_reset}"}"#).unwrap();
        assert_eq!(r.flags, vec!["UR".to_string()]);
        for j in [
            r#"{"responseCode":503,"responseFlags":"UH","upstreamCluster":"outbound|80||web"}"#,
            // An operator's prefix on every key.
            r#"{"gw_response_code":503,"gw_response_flags":"UH","gw_upstream_cluster":"outbound|80||web"}"#,
        ] {
            let r = parse_json(j).unwrap();
            assert_eq!(
                (r.status, r.flags.clone()),
                (Some(503), vec!["UH".to_string()])
            );
            assert_eq!(r.upstream_cluster.as_deref(), Some("outbound|80||web"));
        }
    }

    #[test]
    fn long_flag_names_read_as_their_short_codes() {
        // `%RESPONSE_FLAGS_LONG%` in a text line and a JSON record.
        let text = r#"[2024-05-01T10:00:00.123Z] "GET / HTTP/1.1" 503 UpstreamConnectionFailure,UpstreamRetryLimitExceeded - - "-" 0 91 3 - "-" "curl/8.5.0" "r" "a" "10.0.0.1:80" outbound|80||a - 10.0.0.2:80 10.0.0.3:1 - -"#;
        assert_eq!(parse_line(text).unwrap().flags, ["UF", "URX"]);
        let json = r#"{"response_code":503,"response_flags":"NoHealthyUpstream"}"#;
        assert_eq!(parse_line(json).unwrap().flags, ["UH"]);
        assert_eq!(parse_line_lite(json).unwrap().flags, ["UH"]);
        // A gRPC access-log record as protobuf JSON: nested, flags as fields.
        let als = r#"{"commonProperties":{"responseFlags":{"noHealthyUpstream":true,"delayInjected":false}},"response":{"responseCode":503}}"#;
        let r = parse_line(als).unwrap();
        assert_eq!(
            (r.status, r.flags.as_slice()),
            (Some(503), &["UH".to_string()][..])
        );
        let snake = r#"{"response_code":503,"response_flags":{"unauthorized_details":{"reason":"EXTERNAL_SERVICE"}}}"#;
        assert_eq!(parse_line(snake).unwrap().flags, ["UAEX"]);
        assert!(
            parse_line_lite(snake).is_none(),
            "an object is left to the full parse"
        );
        // In prose: a telling long name alone, a generic one only beside `flag`.
        assert_eq!(
            parse_fragment("gateway logs say NoHealthyUpstream")
                .unwrap()
                .flags,
            ["UH"]
        );
        assert!(parse_fragment("the client is RateLimited by the API").is_none());
        assert_eq!(
            parse_fragment("response flag RateLimited").unwrap().flags,
            ["RL"]
        );
        assert_eq!(flag_code("UpstreamOverflow"), Some("UO"));
        // A few words after `flags`.
        let r =
            parse_fragment(r#"return a 503 response with response flags "UR", without proxying"#);
        assert_eq!(r.unwrap().flags, ["UR"]);
        let r = parse_fragment(r#"can see the response flags of "-" and "UC" in prometheus"#);
        assert_eq!(r.unwrap().flags, ["UC"]);
        assert_eq!(flag_code("Upstream"), None);
    }

    #[test]
    fn fragments_name_envoy_fields_in_any_separator_shape() {
        // An operator's own key, in a record too broken to decode.
        let r = parse_fragment(
            r#"{"status":200,","respflags":"UPE","bytes":0,""protocol":"HTTP/1.1"}"#,
        )
        .unwrap();
        assert_eq!(r.flags, ["UPE"]);
        let r = parse_fragment(r#"response_flags":"UF,URX""#).unwrap();
        assert_eq!(r.flags, vec!["UF", "URX"]);
        let r = parse_fragment("saw `503 UAEX` on every request").unwrap();
        assert_eq!(
            (r.status, r.flags.clone()),
            (Some(503), vec!["UAEX".to_string()])
        );
        let r = parse_fragment(
            "response_code_details: upstream_reset_before_response_started{connection_failure",
        )
        .unwrap();
        assert_eq!(
            r.details.as_deref(),
            Some("upstream_reset_before_response_started{connection_failure")
        );
        let r = parse_fragment("Intermittent 503 with UC,URX response flags").unwrap();
        assert_eq!(r.flags, vec!["UC", "URX"]);
        let r = parse_fragment("proxy response flags UO").unwrap();
        assert_eq!(r.flags, vec!["UO"]);
        let r = parse_fragment("a pod throws 503 UHs errors").unwrap();
        assert_eq!(
            (r.status, r.flags.clone()),
            (Some(503), vec!["UH".to_string()])
        );
        let r = parse_fragment("504 with a UT response_flag").unwrap();
        assert_eq!(r.flags, vec!["UT"]);
        let r = parse_fragment(r#"{"response_code": 503, "response_flags": "UH"}"#).unwrap();
        assert_eq!(
            (r.status, r.flags.clone()),
            (Some(503), vec!["UH".to_string()])
        );
        // Words that are not all Envoy's flags, a `-`, a longer key: nothing.
        for quiet in [
            "HTTP/1.1 200 OK",
            "response_flags: -",
            "returned 404 NOTFOUND",
            "the DC office",
            "NR, UC and LR are our teams",
            "my_response_flags=UF",
            "status 503 after 3 retries",
        ] {
            assert_eq!(parse_fragment(quiet), None, "{quiet}");
        }
    }

    #[test]
    fn istio_1_9_plus_lines_read_every_field() {
        let r = parse_line(r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#).unwrap();
        assert_eq!(r.start_time.as_deref(), Some("2020-11-25T21:26:18.409Z"));
        assert_eq!(r.status, Some(418));
        assert!(r.flags.is_empty());
        assert_eq!(r.details.as_deref(), Some("via_upstream"));
        assert_eq!(r.bytes_sent, Some(135));
        assert_eq!(r.duration_ms, Some(4));
        // The field after the duration: an upstream answered in 4 ms.
        assert!(r.upstream_answered);
        assert_eq!(r.authority.as_deref(), Some("httpbin:8000"));
        assert_eq!(r.upstream_host.as_deref(), Some("10.44.1.27:80"));
        assert_eq!(
            r.upstream_cluster.as_deref(),
            Some("outbound|8000||httpbin.foo.svc.cluster.local")
        );
        assert_eq!(
            r.request_id.as_deref(),
            Some("84961386-6d84-929d-98bd-c5aee93b5c88")
        );
        assert_eq!(r.sni, None);
    }

    #[test]
    fn tcp_lines_have_status_zero_and_combined_flags() {
        let r = parse_line(r#"[2024-08-27T20:00:10.142Z] "- - -" 0 UF,URX - - "delayed_connect_error:_Connection_refused" 0 0 0 - "-" "-" "-" "-" "10.244.0.17:15008" connect_originate - 10.244.0.17:80 envoy://internal_client_address/ - -"#).unwrap();
        assert!(r.tcp);
        assert_eq!(r.status, Some(0));
        assert_eq!(r.flags, vec!["UF", "URX"]);
        assert_eq!(
            r.transport_failure.as_deref(),
            Some("delayed_connect_error:_Connection_refused")
        );
        assert_eq!(r.upstream_host.as_deref(), Some("10.244.0.17:15008"));
        assert_eq!(r.upstream_cluster.as_deref(), Some("connect_originate"));
    }

    #[test]
    fn older_formats_are_told_apart_by_shape() {
        // 1.6 mixer era: "mixer" "failure"
        let r = parse_line(r#"[2020-10-08T14:48:48.231Z] "POST /email HTTP/1.1" 500 RLSE "-" "-" 0 0 0 - "10.9.3.98" "PostmanRuntime/7.26.5" "22a11ab3" "c4.com.br" "-" - - 10.9.3.53:8080 10.9.3.98:23"#).unwrap();
        assert_eq!(
            (r.status, r.flags.clone()),
            (Some(500), vec!["RLSE".to_string()])
        );
        assert_eq!(r.authority.as_deref(), Some("c4.com.br"));
        // 1.8: "failure"
        let r = parse_line(r#"[2021-02-03T20:14:37.105Z] "- - HTTP/1.1" 400 DPE "-" 0 11 0 - "-" "-" "-" "-" "-" - - 10.36.1.146:8080 10.36.1.1:51981 - "#).unwrap();
        assert_eq!(r.flags, vec!["DPE"]);
        assert_eq!(r.bytes_sent, Some(11));
        assert!(!r.tcp);
        // Envoy default, no start time
        let r = parse_line(r#""GET /productpage HTTP/1.1" 503 UF 0 57 0 - "10.12.1.1" "Go-http-client/1.1" "ae346f06" "35.230.48.115" "10.12.1.11:9080""#).unwrap();
        assert_eq!(r.status, Some(503));
        assert_eq!(r.upstream_host.as_deref(), Some("10.12.1.11:9080"));
        assert_eq!(r.bytes_sent, Some(57));
    }

    #[test]
    fn json_access_records_keep_their_flags() {
        let r = parse_line(r#"{"start_time":"2026-01-12T15:38:06.556Z","method":"POST","path":"/mock.MockService/Status","protocol":"HTTP/2","response_code":"200","response_flags":"URX,UF","response_code_details":"upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}","upstream_transport_failure_reason":"delayed_connect_error:_Connection_refused","duration":"47","upstream_cluster":"outbound|9090||mock-server.default.svc.cluster.local"}"#).unwrap();
        assert_eq!(r.flags, vec!["URX", "UF"]);
        assert_eq!(r.status, Some(200));
        assert_eq!(r.duration_ms, Some(47));
        // No `upstream_service_time`: no upstream answer is known.
        assert!(!r.upstream_answered);
        assert!(
            r.details
                .unwrap()
                .starts_with("upstream_reset_before_response_started{")
        );
    }

    #[test]
    fn custom_ztunnel_and_combined_formats_parse() {
        let r = parse_line("[05/12/2019T16:14:53+0000 1575562493] method=POST authority=localhost:443 txId=- request=/StudentService/get alpn=HTTP/2 response_flag=UT ssl_protocol=TLSv1.3 status=200 status_details=upstream_response_timeout request_size=84 response_size=0 total_time_ms=15001 upstream=127.0.0.1:7000").unwrap();
        assert_eq!(r.flags, vec!["UT"]);
        assert_eq!(r.details.as_deref(), Some("upstream_response_timeout"));
        assert_eq!(r.duration_ms, Some(15001));
        let r = parse_line(r#"error   access  connection complete     src.addr=10.244.1.6:42020 dst.addr=10.244.1.9:15008 dst.hbone_addr=10.244.1.9:9080 dst.service="productpage.default.svc.cluster.local" bytes_sent=0 bytes_recv=0 duration="0ms" error="connection closed due to policy rejection: allow policies exist, but none allowed""#).unwrap();
        assert!(r.tcp);
        assert_eq!(
            r.termination.as_deref(),
            Some(
                "connection closed due to policy rejection: allow policies exist, but none allowed"
            )
        );
        let r = parse_line(r#"127.0.0.6 - - [11/Jul/2022:08:54:13 +0000] "GET /api/v1/version HTTP/1.1" 426 0 "https://x/login" "Mozilla/5.0" "172.16.0.4""#).unwrap();
        assert_eq!(r.status, Some(426));
        assert!(r.flags.is_empty());
    }

    #[test]
    fn the_lite_parse_agrees_with_the_full_one_on_the_fields_it_reads() {
        let same = |l: &str| {
            let lite = parse_line_lite(l);
            let full = parse_line(l);
            match (&lite, &full) {
                (Some(a), Some(b)) => {
                    assert_eq!(
                        (&a.status, &a.flags, &a.details, &a.termination),
                        (&b.status, &b.flags, &b.details, &b.termination),
                        "{l}"
                    );
                    assert_eq!(
                        (&a.transport_failure, &a.upstream_cluster),
                        (&b.transport_failure, &b.upstream_cluster),
                        "{l}"
                    );
                }
                (None, _) => {}
                (Some(_), None) => panic!("lite reads a record the full parse rejects: {l}"),
            }
            lite.is_some()
        };
        for l in [
            r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl" "8496" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#,
            r#"[2024-08-27T20:00:10.142Z] "- - -" 0 UF,URX - - "delayed_connect_error:_Connection_refused" 0 0 0 - "-" "-" "-" "-" "10.244.0.17:15008" connect_originate - 10.244.0.17:80 envoy://internal_client_address/ - -"#,
            r#"[2020-10-08T14:48:48.231Z] "POST /email HTTP/1.1" 500 RLSE "-" "-" 0 0 0 - "10.9.3.98" "PostmanRuntime/7.26.5" "22a11ab3" "c4.com.br" "-" - - 10.9.3.53:8080 10.9.3.98:23"#,
            r#""GET /productpage HTTP/1.1" 503 UF 0 57 0 - "10.12.1.1" "Go-http-client/1.1" "ae346f06" "35.230.48.115" "10.12.1.11:9080""#,
            r#"127.0.0.6 - - [11/Jul/2022:08:54:13 +0000] "GET /api/v1/version HTTP/1.1" 426 0 "https://x/login" "Mozilla/5.0" "172.16.0.4""#,
            r#"{"response_code":"200","response_flags":"URX,UF","response_code_details":"upstream_reset_before_response_started{remote_connection_failure}","upstream_transport_failure_reason":"delayed_connect_error:_Connection_refused","upstream_cluster":"outbound|9090||mock"}"#,
            r#"{"response_code":200,"response_flags":null,"upstream_cluster":"-","x":{"y":[1,2]}}"#,
            r#"{"response_code":"-","response_flags":"-"}"#,
            r#"{"response_code":null}"#,
            r#"{"response_code":70000,"response_flags":true,"response_code_details":{"a":1}}"#,
            r#"2024-05-01T10:00:00Z {"response_code":"503","response_flags":"UH","response_code_details":"no_healthy_upstream"}"#,
        ] {
            assert!(same(l), "lite reads {l}");
        }
        // Left to the full parse: a repeated key, and what is no record.
        for l in [
            r#"{"response_code":200,"response_code":503}"#,
            r#"{"level":"info","msg":"x"}"#,
            r#"[{"response_code":200}]"#,
            r#"{"response_code":200"#,
            "[   299.092239s]  INFO ThreadId(01) inbound: linkerd_app_core::errors::respond: Request failed",
        ] {
            assert!(!same(l), "lite leaves {l}");
        }
    }

    #[test]
    fn linkerd_envoy_and_app_lines_are_not_access_records() {
        for l in [
            "[   299.092239s]  INFO ThreadId(01) inbound:server{port=80}: linkerd_app_core::errors::respond: Request failed error=x",
            "[2020-10-16 07:46:36.184][31][debug][http] [external/envoy/source/common/http/conn_manager_impl.cc:279] [C83] dispatch error: http/1.1 protocol error",
            "2023-07-31T00:05:39.379601Z\tinfo\txdsproxy\tconnected to upstream XDS server: istiod.istio-system.svc:15012",
            r#"{"timestamp":"[ 0.1s]","level":"INFO","fields":{"message":"x"},"target":"linkerd2_proxy"}"#,
            "503 upstream_reset_before_response_started{local reset} LR",
            "GET / HTTP/1.1",
            "\"\"",
            "\"",
        ] {
            assert_eq!(parse_line(l), None, "{l}");
        }
    }
}
