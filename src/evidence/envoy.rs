//! Envoy, istio-proxy, pilot-agent and istiod log lines.
//!
//! Two families (all shapes from `corpus/istio/error-logs/`):
//!
//! * Envoy's own format `[2020-10-16 07:46:36.184][31][debug][filter] [source/…cc:18] message`,
//!   including the pre-1.10 form without the opening source bracket
//!   (`[…][16][info][main] external/envoy/source/server/server.cc:396] …`,
//!   `envoy-legacy-format.log`), the source-less 2017 assert
//!   (`envoy-crash-ulimit.log`), and collector prefixes before it: `[Envoy (Epoch 0)] `,
//!   `grep -n` line numbers (`186183:`), CSV epoch columns (`1585346044212,"[…]…"`),
//!   syslog (`Nov  1 19:22:20 portal envoy[4138]: `). Abseil `RAW:` lines of a crash
//!   (`[symbolize_elf.inc : 965] RAW: …`) are taken too.
//! * istio's zap format `2021-…Z<TAB>level<TAB>scope<TAB>message` — also with runs
//!   of blanks instead of tabs, without a scope (old pilot-agent
//!   `…Z\tinfo\tEnvoy proxy is NOT ready: …`), and after kubectl / stern prefixes.
//!
//! `component` is Envoy's logger (`rbac`, `assert`) or the istio scope. When a
//! scope belongs to istiod or pilot-agent the component names it
//! (`istiod/ads`, `pilot-agent/xdsproxy`, `pilot-agent/envoy config`), which is
//! how the engine tells control-plane lines from proxy lines.

use super::text::{is_rfc3339, split_token};
use super::{EnvoyLogEvent, Level};

/// Parses one line; `None` when it is not an Envoy/Istio component log line.
pub fn parse_line(line: &str) -> Option<EnvoyLogEvent> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return None;
    }
    parse_bracketed(line)
        .or_else(|| parse_istio(line))
        .or_else(|| parse_raw(line))
}

/// Finds `[YYYY-MM-DD HH:MM:SS.mmm]` in the first 120 bytes.
fn find_envoy_ts(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let limit = b.len().min(120);
    (0..limit).find(|&i| {
        b[i] == b'['
            && b.len() > i + 20
            && b[i + 1..i + 5].iter().all(u8::is_ascii_digit)
            && b[i + 5] == b'-'
            && b[i + 8] == b'-'
            && b[i + 11] == b' '
            && b[i + 14] == b':'
    })
}

/// Reads one `[…]` group at the start of `s`: (content, rest).
fn bracket(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('[')?;
    let end = s.find(']')?;
    Some((&s[..end], &s[end + 1..]))
}

fn parse_bracketed(line: &str) -> Option<EnvoyLogEvent> {
    let start = find_envoy_ts(line)?;
    let quoted = line[..start].ends_with('"');
    let (ts, rest) = bracket(&line[start..])?;
    let (thread, rest) = bracket(rest)?;
    if !thread.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (lvl, rest) = bracket(rest)?;
    let level = Level::parse(lvl)?;
    let (logger, rest) = bracket(rest)?;
    let mut msg = rest.trim_start();
    // `[source/…:123] msg`, or pre-1.10 `external/…cc:396] msg` (no '[').
    if let Some((_src, r)) = bracket(msg) {
        msg = r.trim_start();
    } else if let Some(end) = msg.find("] ") {
        let src = &msg[..end];
        if !src.contains(' ') && src.contains(':') && src.contains('/') {
            msg = msg[end + 1..].trim_start();
        }
    }
    if quoted {
        // CSV export wrapped the whole line in quotes.
        msg = msg.strip_suffix('"').unwrap_or(msg);
    }
    Some(EnvoyLogEvent {
        timestamp: Some(ts.to_string()),
        level: Some(level),
        component: Some(logger.to_string()),
        message: msg.to_string(),
    })
}

/// Abseil raw log lines Envoy prints while crashing.
fn parse_raw(line: &str) -> Option<EnvoyLogEvent> {
    let i = line.find("] RAW: ")?;
    let o = line[..i].rfind('[')?;
    let src = &line[o + 1..i];
    if !src.contains(" : ") {
        return None;
    }
    Some(EnvoyLogEvent {
        timestamp: None,
        level: None,
        component: Some("raw".to_string()),
        message: line[i + 2..].to_string(),
    })
}

/// Scopes istiod (pilot-discovery) logs under.
const ISTIOD_SCOPES: &[&str] = &[
    "ads",
    "model",
    "rbac",
    "authorization",
    "authn",
    "validation",
    "pilot",
    "kube",
    "klog",
    "delta",
    "status",
    "serviceentry",
    "controllers",
    "analysis",
    "krt",
    "spiffe",
    "grpcgen",
    "gateway",
    "leader",
    "security",
    "server",
    "networking",
    "wle",
    "xdsproxy-server",
];
/// Scopes pilot-agent logs under (plus Envoy's own `envoy config` lines, which
/// are about the agent's XDS connection to istiod).
const AGENT_SCOPES: &[&str] = &[
    "xdsproxy",
    "sds",
    "cache",
    "citadelclient",
    "dns",
    "healthcheck",
    "wasm",
    "istio-agent",
    "iptables",
    "cni",
    "envoy config",
];

fn component_for(scope: &str) -> String {
    if AGENT_SCOPES.contains(&scope) {
        format!("pilot-agent/{scope}")
    } else if ISTIOD_SCOPES.contains(&scope) {
        format!("istiod/{scope}")
    } else {
        scope.to_string()
    }
}

fn is_scope(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'.')
        })
}

/// istio zap lines: `ts level scope message`, tab- or blank-separated.
fn parse_istio(line: &str) -> Option<EnvoyLogEvent> {
    // Up to two prefix tokens (stern pod + container) before the timestamp;
    // a kubectl `--timestamps` stamp may precede istio's own.
    let mut rest = line.trim_start();
    let mut ts = None;
    for _ in 0..4 {
        let (tok, r) = split_token(rest);
        if tok.is_empty() {
            return None;
        }
        rest = r;
        if is_rfc3339(tok) {
            ts = Some(tok);
            let (next, r2) = split_token(rest);
            if is_rfc3339(next) {
                ts = Some(next);
                rest = r2;
            }
            break;
        }
    }
    let ts = ts?;
    // level: lower-case zap words only (upper-case is Linkerd's style)
    let (lvl, after_lvl) = split_token(rest);
    if !lvl.bytes().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    let level = Level::parse(lvl)?;
    let level_region = &rest[lvl.len()..];
    let tabbed = level_region.starts_with('\t');
    let (component, message) = if tabbed {
        let after = &level_region[1..];
        match after.split_once('\t') {
            Some((scope, msg)) if is_scope(scope) || scope.starts_with("envoy ") => {
                (Some(component_for(scope)), msg)
            }
            _ => (None, after),
        }
    } else {
        // Blank-separated: a scope is a lower-case word followed by 2+ blanks;
        // Envoy scopes are two words (`envoy config`, `envoy http`).
        let (w1, r1) = split_token(after_lvl);
        let gap_after = |w: &str, from: &str| -> bool {
            let tail = &from[w.len()..];
            tail.starts_with("  ") || tail.starts_with('\t') || tail.starts_with(" \t")
        };
        if w1 == "envoy" {
            let (w2, r2) = split_token(r1);
            if is_scope(w2) && gap_after(w2, r1) {
                (Some(component_for(&format!("envoy {w2}"))), r2)
            } else {
                (Some("envoy".to_string()), r1)
            }
        } else if is_scope(w1) && gap_after(w1, after_lvl) {
            (Some(component_for(w1)), r1)
        } else {
            (None, after_lvl)
        }
    };
    let message = message.trim_start_matches([' ', '\t']).to_string();
    // No scope: pilot-agent's readiness probe lines (1.1-era) are the agent's.
    let component = component.or_else(|| {
        (message.starts_with("Envoy proxy is") || message.contains("pilot-agent"))
            .then(|| "pilot-agent".to_string())
    });
    Some(EnvoyLogEvent {
        timestamp: Some(ts.to_string()),
        level: Some(level),
        component,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envoy_bracketed_lines_with_prefixes_parse() {
        let e = parse_line("[Envoy (Epoch 0)] [2020-10-16 07:46:36.184][31][debug][http] [external/envoy/source/common/http/conn_manager_impl.cc:279] [C83] dispatch error: http/1.1 protocol error: HPE_INVALID_METHOD").unwrap();
        assert_eq!(e.level, Some(Level::Debug));
        assert_eq!(e.component.as_deref(), Some("http"));
        assert_eq!(
            e.message,
            "[C83] dispatch error: http/1.1 protocol error: HPE_INVALID_METHOD"
        );
        let e = parse_line("[2018-06-07 23:03:37.170][16][warning][upstream] external/envoy/source/common/config/grpc_mux_impl.cc:235] gRPC config stream closed: 14, no healthy upstream").unwrap();
        assert_eq!(e.level, Some(Level::Warn));
        assert_eq!(
            e.message,
            "gRPC config stream closed: 14, no healthy upstream"
        );
        let e = parse_line("[2017-05-17 03:00:52.735][14236][critical][assert] assert failure: fd_ != -1: external/envoy/source/common/network/connection_impl.cc:58").unwrap();
        assert_eq!(e.component.as_deref(), Some("assert"));
        assert!(e.message.starts_with("assert failure"));
        let e = parse_line(r#"1585346044212,"[2020-03-27 21:54:04.212][81][critical][backtrace] [bazel-out/k8-opt/bin/source/server/backtrace.h:83] Caught Aborted, suspect faulting address 0x53900000001""#).unwrap();
        assert_eq!(
            e.message,
            "Caught Aborted, suspect faulting address 0x53900000001"
        );
    }

    #[test]
    fn istio_lines_name_their_control_plane_component() {
        let e = parse_line("2021-05-12T13:02:56.308949Z     warning envoy config    StreamAggregatedResources gRPC config stream closed: 16").unwrap();
        assert_eq!(e.component.as_deref(), Some("pilot-agent/envoy config"));
        assert_eq!(e.level, Some(Level::Warn));
        let e = parse_line("2018-12-16T03:59:31.130793Z\twarn\tads\tLDS: overlap sidecar").unwrap();
        assert_eq!(e.component.as_deref(), Some("istiod/ads"));
        assert_eq!(e.message, "LDS: overlap sidecar");
        let e = parse_line("2019-05-10T04:56:28.765214Z\tinfo\tEnvoy proxy is NOT ready: config not received from Pilot").unwrap();
        assert_eq!(e.component.as_deref(), Some("pilot-agent"));
        let e = parse_line("2019-04-26T09:28:04.642662Z info Envoy proxy is NOT ready: x").unwrap();
        assert_eq!(e.component.as_deref(), Some("pilot-agent"));
        let e = parse_line("svc-one-deployment-7d8dcc748-4v7tp istio-proxy 2022-07-21T10:51:59.742415Z      debug   envoy router    [C440203][S374698705624913161] upstream timeout").unwrap();
        assert_eq!(e.component.as_deref(), Some("envoy router"));
        assert_eq!(e.message, "[C440203][S374698705624913161] upstream timeout");
        let e =
            parse_line("2018-09-14T19:02:31.916960Z info    model   skipping server on gateway")
                .unwrap();
        assert_eq!(e.component.as_deref(), Some("istiod/model"));
    }

    #[test]
    fn linkerd_access_and_app_lines_are_not_envoy() {
        for l in [
            "[   299.092239s]  INFO ThreadId(01) inbound: linkerd_app_core::serve: x",
            "2023-06-28T10:52:48Z\t[ 94126.531685s] DEBUG ThreadId(03) outbound: linkerd_stack::failfast: x",
            "[2020-11-25T21:26:18.409Z] \"GET / HTTP/1.1\" 200 - via_upstream - \"-\" 0 1 2 3",
            "hello [2020-10-16",
            "[2020-10-16 07:46:36.184][x][debug][http] y",
        ] {
            assert_eq!(parse_line(l), None, "{l}");
        }
    }
}
