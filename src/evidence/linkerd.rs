//! Linkerd proxy log lines: plain (`[ 1234.5s]  WARN ThreadId(01) …`), with
//! kubectl `--timestamps` prefixes, pasted table columns, JSON format; old
//! (`linkerd2_app_core::…`, `ERR! proxy={…}`) and current message styles.
//!
//! Shapes seen in `corpus/linkerd/logs/` (all handled):
//!
//! * current: `[  299.09s]  INFO ThreadId(01) inbound:server{port=80}:rescue{client.addr=…}: linkerd_app_core::errors::respond: Request failed error=…`
//! * collector prefixes before the uptime: kubectl `2023-06-28T10:52:48Z\t` (issue-11055),
//!   stern `pod container ` (issue-10691), Kibana table `  | 2021-02-09 15:47:15.440 | `
//!   (issue-5599), Kibana date glued to the bracket `May 5, 2021 @ 06:54:35.675[…` (issue-6058)
//! * 2.x before ThreadId: `WARN ThreadId(01) inbound:accept{…}: linkerd2_app_core::errors: …`
//!   (no uptime, issue-6031), `ERROR ThreadId(01) linkerd_app::env: …` (issue-7816)
//! * 2.0-era: `ERR! proxy={server=in …} linkerd2_proxy …`, `DBUG [ 388.7s] proxy={…} target msg`,
//!   `WARN 10.0.0.6:80 linkerd2_proxy::proxy::reconnect msg`, `INFO admin={bg=…} target msg`
//!   (issues 1462, 2294, 2918, 3624, conduit 1232): target then a blank, not `: `
//! * bare: `linkerd2_app_core::errors: Failed to proxy request: …` (issue-4870),
//!   `inbound:server{port=<port>}: hyper::proto::h2: …` (issue-10090)
//! * JSON (`json-format/`): `{"timestamp":"[ 0.0006s]","level":"INFO","fields":{…},"target":…,"spans":[…]}`
//!
//! Strictness: without an uptime bracket or `ThreadId(..)`, a line is only
//! taken when its target is a `linkerd…`/`conduit…` module or its spans start
//! with a Linkerd span root, so Envoy, istio and app lines are left alone.

use super::text::{parse_fields, split_token, strip_kubectl_ts};
use super::{Level, ProxyLogEvent};

/// Parses one line; `None` when it is not a Linkerd proxy log line.
pub fn parse_line(line: &str) -> Option<ProxyLogEvent> {
    let line = line.trim_end_matches(['\r', '\n']);
    let trimmed = line.trim_start();
    if trimmed.is_empty() {
        return None;
    }
    // JSON, possibly after a kubectl timestamp.
    let (kts, after_ts) = strip_kubectl_ts(trimmed);
    if after_ts.starts_with('{') {
        let mut ev = parse_json(after_ts)?;
        if ev.timestamp.is_none() {
            ev.timestamp = kts.map(str::to_string);
        }
        return Some(ev);
    }
    let mut ev = ProxyLogEvent::default();
    let body: &str;
    let strong: bool; // uptime or ThreadId seen: any Rust target will do
    if let Some((start, end, up)) = find_uptime(line) {
        ev.uptime = Some(up);
        let prefix = &line[..start];
        // 2.0-era puts the level before the uptime: `DBUG [ 388.7s] …`,
        // `linkerd-proxy ERR! [ 4300.8s] …` (issue-2918, issue-3624).
        let prefix_trim = prefix.trim_end();
        let last = prefix_trim.rsplit([' ', '\t']).next().unwrap_or("");
        let mut prefix_rest = prefix_trim;
        if let Some(l) = linkerd_level(last) {
            ev.level = Some(l);
            prefix_rest = &prefix_trim[..prefix_trim.len() - last.len()];
        }
        ev.timestamp = prefix_timestamp(prefix_rest);
        let mut rest = line[end..].trim_start();
        if ev.level.is_none() {
            let (tok, r) = split_token(rest);
            if let Some(l) = linkerd_level(tok) {
                ev.level = Some(l);
                rest = r;
            }
        }
        body = strip_thread_id(rest);
        strong = true;
    } else {
        // Look for an upper-case level word among the first few tokens
        // (after kubectl/stern prefixes); Envoy/istio levels are lower-case.
        let mut rest = trimmed;
        let mut found: Option<(Level, &str, &str)> = None;
        let mut consumed = 0usize;
        for _ in 0..4 {
            let (tok, r) = split_token(rest);
            if tok.is_empty() {
                break;
            }
            if let Some(l) = linkerd_level(tok) {
                found = Some((l, &trimmed[..consumed], r));
                break;
            }
            consumed = trimmed.len() - r.len();
            rest = r;
        }
        match found {
            Some((l, prefix, r)) => {
                ev.level = Some(l);
                ev.timestamp = prefix_timestamp(prefix);
                let b = strip_thread_id(r);
                strong = b.len() != r.len();
                body = b;
            }
            None => {
                ev.timestamp = kts.map(str::to_string);
                body = after_ts;
                strong = false;
            }
        }
    }
    parse_body(body, strong, &mut ev)?;
    Some(ev)
}

/// Finds `[ 1234.567s]` (any padding) in the first 160 bytes:
/// (start, end after `]`, seconds).
fn find_uptime(line: &str) -> Option<(usize, usize, f64)> {
    let b = line.as_bytes();
    let limit = b.len().min(160);
    let mut i = 0;
    while i < limit {
        if b[i] == b'[' {
            let mut j = i + 1;
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            let num_start = j;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                j += 1;
            }
            if j > num_start
                && j + 1 < b.len()
                && b[j] == b's'
                && b[j + 1] == b']'
                && let Ok(v) = line[num_start..j].parse::<f64>()
            {
                return Some((i, j + 2, v));
            }
        }
        i += 1;
    }
    None
}

/// Linkerd's level words: upper-case only (`INFO`, `WARN`, `ERROR`, `DEBUG`,
/// `TRACE`) plus the 2.0-era four-letter forms (`ERR!`, `DBUG`, `TRCE`).
fn linkerd_level(tok: &str) -> Option<Level> {
    Some(match tok {
        "TRACE" | "TRCE" => Level::Trace,
        "DEBUG" | "DBUG" => Level::Debug,
        "INFO" => Level::Info,
        "WARN" => Level::Warn,
        "ERROR" | "ERR!" => Level::Error,
        _ => return None,
    })
}

fn strip_thread_id(s: &str) -> &str {
    let (tok, rest) = split_token(s);
    if tok.starts_with("ThreadId(") && tok.ends_with(')') {
        rest
    } else {
        s
    }
}

/// A wall-clock stamp from a collector prefix, when the prefix has one
/// (`2023-06-28T10:52:48Z`, `| 2021-02-09 15:47:15.440 |`, `May 5, 2021 @ 06:54:35.675`).
/// A stern `pod container` prefix has no digits-and-colon and yields `None`.
fn prefix_timestamp(prefix: &str) -> Option<String> {
    let p = prefix.trim_matches(|c: char| c == ' ' || c == '\t' || c == '|');
    let digits = p.bytes().filter(u8::is_ascii_digit).count();
    if digits >= 6 && p.contains(':') && p.len() <= 64 {
        // Drop pasted table borders inside (`  | 2021-… | `).
        Some(p.trim_matches('|').trim().to_string())
    } else {
        None
    }
}

/// A Rust module path as `tracing` prints a target (`linkerd_app_core::errors::respond`).
fn is_rust_path(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_lowercase() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b':')
        && !s.ends_with(':')
        && !s.contains(":::")
        && s.split("::").all(|p| !p.is_empty() && !p.contains(':'))
}

fn is_linkerd_target(s: &str) -> bool {
    s.starts_with("linkerd") || s.starts_with("conduit")
}

/// Span roots the proxy uses (`inbound:…`, `outbound:…`, `admin={…}`).
fn known_span_root(spans: &str) -> bool {
    const ROOTS: &[&str] = &[
        "inbound", "outbound", "admin", "daemon", "policy", "identity", "dst", "watch", "proxy",
        "tap", "server", "client",
    ];
    let root_end = spans.find([':', '{', '=', ' ']).unwrap_or(spans.len());
    ROOTS.contains(&&spans[..root_end])
}

/// Splits `spans: target: message` (current) or `ctx target message`
/// (2.0-era) and fills the event; `None` when no acceptable target is found.
fn parse_body(body: &str, strong: bool, ev: &mut ProxyLogEvent) -> Option<()> {
    let b = body.as_bytes();
    let mut depth: i32 = 0;
    let mut tok_start = 0usize;
    let mut i = 0usize;
    // Walk depth-0 tokens; a token ends at a blank or at `: `.
    while i <= b.len() {
        let at_end = i == b.len();
        let c = if at_end { b' ' } else { b[i] };
        match c {
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => depth = (depth - 1).max(0),
            _ => {}
        }
        let colon_end = c == b':' && (i + 1 == b.len() || b[i + 1] == b' ');
        if !(depth == 0 && (c == b' ' || c == b'\t' || colon_end)) {
            i += 1;
            continue;
        }
        let tok = &body[tok_start..i];
        if is_rust_path(tok) && (tok.contains("::") || is_linkerd_target(tok)) {
            let spans = body[..tok_start]
                .trim_end()
                .trim_end_matches(':')
                .trim_end();
            let acceptable = strong
                || is_linkerd_target(tok)
                || (!spans.is_empty() && tok.contains("::") && known_span_root(spans));
            if !acceptable {
                return None;
            }
            ev.target = Some(tok.to_string());
            let msg = body
                .get(i + usize::from(colon_end)..)
                .unwrap_or("")
                .trim_start();
            if !spans.is_empty() {
                span_fields(spans, &mut ev.fields);
                ev.spans = Some(spans.to_string());
            }
            let head = parse_fields(msg, &mut ev.fields);
            ev.message = head.trim_end().to_string();
            ev.error = ev.field("error").map(str::to_string);
            return Some(());
        }
        // Only spans / context may precede the target: `x{…}:y{…}:`,
        // `proxy={…}`, `10.0.0.6:80` (2.0), `inbound:`.
        if !tok.is_empty() && !is_context_token(tok, colon_end) {
            return None;
        }
        let mut next = i + 1 + usize::from(colon_end);
        while next < b.len() && (b[next] == b' ' || b[next] == b'\t') {
            next += 1;
        }
        tok_start = next.min(b.len());
        i = next;
    }
    None
}

/// What may stand before the target: span chains, `k={…}` contexts and the
/// 2.0 address context. Free words mean this is not a proxy line.
fn is_context_token(tok: &str, span_chain_end: bool) -> bool {
    let t = tok.trim_end_matches(':');
    if t.is_empty() {
        return false;
    }
    if t.contains('{') || t.contains('=') {
        return true;
    }
    // `10.0.0.6:80`, `[::1]:80`
    if t.bytes()
        .all(|c| c.is_ascii_hexdigit() || matches!(c, b'.' | b':' | b'[' | b']'))
    {
        return t.bytes().any(|c| c.is_ascii_digit());
    }
    // bare span names (`inbound`, `orig-proto-upgrade`) only end a chain: `inbound: target: …`
    span_chain_end
        && t.bytes().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b':')
        })
}

/// Fields of every `{…}` group of a span chain (`service{ns= name=svc port=0}`),
/// and the 2.0 bare-address context as `addr`.
fn span_fields(spans: &str, out: &mut Vec<(String, String)>) {
    let b = spans.as_bytes();
    let mut depth = 0;
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'{' => {
                if depth == 0 {
                    start = i + 1;
                }
                depth += 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    let inner = &spans[start..i];
                    // nested groups (`proxy={server=in …}` style) are flat
                    parse_fields(inner, out);
                }
                if depth < 0 {
                    depth = 0;
                }
            }
            _ => {}
        }
    }
    if !spans.contains('{') && !spans.contains('=') {
        let t = spans.trim();
        if t.bytes().any(|c| c.is_ascii_digit()) && t.contains(':') && !t.contains(' ') {
            out.push(("addr".to_string(), t.to_string()));
        }
    }
}

/// Linkerd's JSON log format (`LINKERD2_PROXY_LOG_FORMAT=json`).
fn parse_json(s: &str) -> Option<ProxyLogEvent> {
    let v: serde_json::Value = serde_json::from_str(s.trim_end()).ok()?;
    let o = v.as_object()?;
    // Linkerd's JSON always has `fields` and `target`; an Envoy JSON access
    // record has neither.
    let fields = o.get("fields")?.as_object()?;
    let target = o.get("target")?.as_str()?;
    let mut ev = ProxyLogEvent {
        target: Some(target.to_string()),
        level: o
            .get("level")
            .and_then(|l| l.as_str())
            .and_then(Level::parse),
        ..Default::default()
    };
    if let Some(ts) = o.get("timestamp").and_then(|t| t.as_str()) {
        // `"[ 10132.94s]"` is the uptime, not wall-clock time.
        match find_uptime(ts) {
            Some((_, _, up)) => ev.uptime = Some(up),
            None => ev.timestamp = Some(ts.to_string()),
        }
    }
    if let Some(spans) = o.get("spans").and_then(|s| s.as_array()) {
        let mut chain = Vec::new();
        for sp in spans {
            let Some(so) = sp.as_object() else { continue };
            let name = so.get("name").and_then(|n| n.as_str()).unwrap_or("");
            let mut kv = Vec::new();
            for (k, val) in so {
                if k == "name" {
                    continue;
                }
                let val = json_str(val);
                kv.push(format!("{k}={val}"));
                ev.fields.push((k.clone(), val));
            }
            if kv.is_empty() {
                chain.push(name.to_string());
            } else {
                chain.push(format!("{name}{{{}}}", kv.join(" ")));
            }
        }
        if !chain.is_empty() {
            ev.spans = Some(chain.join(":"));
        }
    }
    for (k, val) in fields {
        if k == "message" {
            ev.message = json_str(val);
        } else {
            ev.fields.push((k.clone(), json_str(val)));
        }
    }
    ev.error = ev.field("error").map(str::to_string);
    Some(ev)
}

fn json_str(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_lines_yield_spans_target_message_and_error() {
        let e = parse_line("[   299.092239s]  INFO ThreadId(01) inbound:server{port=80}:rescue{client.addr=10.0.2.192:53320}: linkerd_app_core::errors::respond: Request failed error=connection closed before message completed").unwrap();
        assert_eq!(e.uptime, Some(299.092239));
        assert_eq!(e.level, Some(Level::Info));
        assert_eq!(
            e.target.as_deref(),
            Some("linkerd_app_core::errors::respond")
        );
        assert_eq!(
            e.spans.as_deref(),
            Some("inbound:server{port=80}:rescue{client.addr=10.0.2.192:53320}")
        );
        assert_eq!(e.field("port"), Some("80"));
        assert_eq!(e.field("client.addr"), Some("10.0.2.192:53320"));
        assert_eq!(e.message, "Request failed");
        assert_eq!(
            e.error.as_deref(),
            Some("connection closed before message completed")
        );
    }

    #[test]
    fn error_stops_before_error_sources_and_trailing_fields() {
        let e = parse_line("[     1.785436s]  WARN ThreadId(02) identity:controller{addr=x:8080}:endpoint{addr=10.129.192.22:8080}: linkerd_reconnect: Failed to connect error=endpoint 10.129.192.22:8080: invalid peer certificate: UnknownIssuer error.sources=[invalid peer certificate: UnknownIssuer]").unwrap();
        assert_eq!(
            e.error.as_deref(),
            Some("endpoint 10.129.192.22:8080: invalid peer certificate: UnknownIssuer")
        );
        assert_eq!(
            e.field("error.sources"),
            Some("[invalid peer certificate: UnknownIssuer]")
        );
        let e = parse_line("[ 27936.615209s]  INFO ThreadId(01) inbound: linkerd_app_core::serve: Connection closed error=a named target must be provided on gateway connections client.addr=10.103.185.209:49782").unwrap();
        assert_eq!(
            e.error.as_deref(),
            Some("a named target must be provided on gateway connections")
        );
        assert_eq!(e.field("client.addr"), Some("10.103.185.209:49782"));
    }

    #[test]
    fn service_span_fields_may_be_empty() {
        let e = parse_line("2023-06-28T10:52:48Z\t[ 94126.531675s] DEBUG ThreadId(03) outbound:proxy{addr=10.100.109.178:80}:service{ns= name=service port=0}:endpoint{addr=172.16.81.177:8501}:orig-proto-upgrade: linkerd_proxy_http::orig_proto: Upgrading request version=HTTP/1.1 absolute_form=false").unwrap();
        assert_eq!(e.timestamp.as_deref(), Some("2023-06-28T10:52:48Z"));
        assert_eq!(e.field("ns"), Some(""));
        assert_eq!(e.field("name"), Some("service"));
        assert_eq!(e.field("port"), Some("0"));
        assert_eq!(e.message, "Upgrading request");
    }

    #[test]
    fn old_styles_parse() {
        let e = parse_line("ERR! proxy={server=in listen=0.0.0.0:4143 remote=100.96.122.1:21904} linkerd2_proxy turning an IO error occurred: Connection reset by peer (os error 104) into 500").unwrap();
        assert_eq!(e.level, Some(Level::Error));
        assert_eq!(e.target.as_deref(), Some("linkerd2_proxy"));
        assert_eq!(e.field("remote"), Some("100.96.122.1:21904"));
        assert!(e.message.starts_with("turning an IO error"));
        let e = parse_line("WARN 10.0.0.6:80 linkerd2_proxy::proxy::reconnect connect error to Config { target: x }: operation timed out after 300ms").unwrap();
        assert_eq!(e.field("addr"), Some("10.0.0.6:80"));
        assert_eq!(
            e.target.as_deref(),
            Some("linkerd2_proxy::proxy::reconnect")
        );
        let e = parse_line("linkerd2_app_core::errors: Failed to proxy request: connection closed before message completed").unwrap();
        assert_eq!(
            e.message,
            "Failed to proxy request: connection closed before message completed"
        );
        let e = parse_line("linkerd-proxy ERR! [  4300.896499s] linkerd2_proxy::app::errors unexpected error: error trying to connect: request timed out").unwrap();
        assert_eq!(e.level, Some(Level::Error));
        assert_eq!(e.uptime, Some(4300.896499));
        let e = parse_line("inbound:server{port=<port>}: hyper::proto::h2: Connection header illegal in HTTP/2: connection").unwrap();
        assert_eq!(e.target.as_deref(), Some("hyper::proto::h2"));
    }

    #[test]
    fn collector_prefixes_give_timestamps() {
        let e = parse_line("  | 2021-02-09 15:47:15.440 | [  1225.987350s]  INFO ThreadId(01) outbound:accept{peer.addr=10.250.166.139:56588 target.addr=172.20.187.110:80}: linkerd_timeout::failfast: HTTP Logical service has recovered").unwrap();
        assert_eq!(e.timestamp.as_deref(), Some("2021-02-09 15:47:15.440"));
        assert_eq!(e.field("target.addr"), Some("172.20.187.110:80"));
        let e = parse_line("May 5, 2021 @ 06:54:35.675[176916.878033s]  INFO ThreadId(01) inbound:accept{client.addr=10.244.44.64:51490}: linkerd_app_core::serve: Connection closed error=TLS detection timeout").unwrap();
        assert_eq!(e.timestamp.as_deref(), Some("May 5, 2021 @ 06:54:35.675"));
        let e = parse_line("web-74f8bb4c67-945fh linkerd-proxy [ 72037.811438s]  INFO ThreadId(02) daemon:admin{listen.addr=0.0.0.0:4191}:rescue{client.addr=10.203.1.120:46010}: linkerd_app_core::errors::respond: HTTP/1.1 request failed error=unauthorized request on route").unwrap();
        assert_eq!(e.timestamp, None);
        assert_eq!(e.error.as_deref(), Some("unauthorized request on route"));
    }

    #[test]
    fn json_lines_parse() {
        let e = parse_line(r#"{"timestamp":"[ 10132.943961s]","level":"INFO","fields":{"message":"Continuing after timeout"},"target":"linkerd_detect","spans":[{"name":"outbound"},{"addr":"10.163.70.5:9000","name":"proxy"}],"threadId":"ThreadId(2)"}"#).unwrap();
        assert_eq!(e.uptime, Some(10132.943961));
        assert_eq!(
            e.spans.as_deref(),
            Some("outbound:proxy{addr=10.163.70.5:9000}")
        );
        assert_eq!(e.field("addr"), Some("10.163.70.5:9000"));
        assert_eq!(e.message, "Continuing after timeout");
    }

    #[test]
    fn envoy_access_and_app_lines_are_not_linkerd() {
        for l in [
            "[2020-10-16 07:46:36.184][31][debug][http] [external/envoy/source/common/http/conn_manager_impl.cc:279] [C83] dispatch error",
            "[2020-11-25T21:26:18.409Z] \"GET /status/418 HTTP/1.1\" 418 - via_upstream - \"-\" 0 135 4 4 \"-\" \"curl\" \"x\" \"httpbin:8000\" \"10.44.1.27:80\" outbound|8000||httpbin.foo.svc.cluster.local - - - - default",
            "2021-05-12T13:02:56.308949Z     warning envoy config    StreamAggregatedResources gRPC config stream closed: 16",
            "Grpc.Core.RpcException: Status(StatusCode=Unavailable, Detail=\"proxy max-concurrency exhausted\")",
            "ERROR something bad happened",
            "{\"start_time\":\"2025\",\"response_code\":\"200\"}",
            "hello world",
        ] {
            assert_eq!(parse_line(l), None, "{l}");
        }
    }
}
