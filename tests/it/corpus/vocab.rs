//! The proxies' vocabulary in every shape a paste arrives in.
//!
//! `../shared/vocab/*.tsv` holds strings read from the proxies' own source
//! (Envoy response-code details, local-reply bodies, codec errors, flags and
//! stats; Linkerd proxy and control-plane messages; istio-agent/istiod
//! messages), each naming the rule id it points to. Every row becomes one or
//! more *base* inputs (the message as its proxy prints it: a Linkerd log
//! line, an `l5d-proxy-error` header, an access line with the details token,
//! an Envoy debug line, an admin `/stats` line, …) and every single-line base
//! is then put in every *wrapper* a collector adds (bare, `kubectl logs
//! --timestamps`, stern's `pod container` columns, CRI `<time> stdout F`,
//! docker json-file, a JSON log field).
//!
//! A row with a rule id must raise that rule in every shape; a `-` row must
//! raise nothing at error severity. Rows this project disagrees with are in
//! [`DISAGREE`], each with the reason (and named in the closing note).

use meshdoc::cli::explain::explain_text;
use meshdoc::evidence::{InputKind, Origin};
use meshdoc::rules::{RuleSet, Severity};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Rows whose rule id this project does not follow: (file or `*` for every
/// table, text, reason). Matching is on the row's exact `text` column.
pub const DISAGREE: &[(&str, &str, &str)] = &[
    // The details of every response the upstream produced, healthy ones
    // included: a fault only beside a 5xx status, which the rule's access
    // signals judge. Alone in text it raised alarms on 200 records
    // (blind b3-is-eg9145-1).
    (
        "envoy-response-code-details.tsv",
        "via_upstream",
        "names no failure without a 5xx status",
    ),
    // Recovery and health messages: evidence that all is (again) well.
    (
        "linkerd-proxy-messages.tsv",
        "{} service has recovered",
        RECOVERED,
    ),
    (
        "linkerd-proxy-messages.tsv",
        "Service has recovered",
        RECOVERED,
    ),
    (
        "istio-agent-messages.tsv",
        "Envoy proxy is ready",
        RECOVERED,
    ),
    // Words that say nothing alone: each is the tail of a message whose
    // meaning is in its log target or in the error chain around it.
    ("*", "exhausted", GENERIC),
    ("*", "Denied", GENERIC),
    ("*", "request timed out", GENERIC),
    ("*", "timeout after {:?}", GENERIC),
    ("*", "Stream failed", GENERIC),
    ("*", "controller {addr}: {source}", GENERIC),
    ("*", "empty key", GENERIC),
    ("*", "missing identity", GENERIC),
    ("*", "controller error: {:?}", GENERIC),
    ("*", "controller error: {}", GENERIC),
    ("*", "Protocol error", GENERIC),
    ("*", "Bad Request", GENERIC),
    ("*", "(empty body)", GENERIC),
    // `no route` alone is also Go's `connect: no route to host`; it is
    // matched where Linkerd writes it (`error=no route`, `l5d-proxy-error:
    // no route`), not bare.
    ("linkerd-proxy-messages.tsv", "no route", GENERIC),
    // `linkerd check`'s proxy-init and CNI checks say what fails: under the
    // docker runtime a non-root proxy-init cannot install the iptables
    // rules, and a node without a ready linkerd-cni pod starts pods without
    // them. Both are mesh-traffic-redirection-failed (an id newer than the
    // vocabulary), not identity (the first) or nothing (the second).
    (
        "linkerd-control-plane-messages.tsv",
        "proxy-init container runs as root user if docker container runtime is used",
        REDIRECTION,
    ),
    (
        "linkerd-control-plane-messages.tsv",
        "l5d-proxy-init-run-as-root",
        REDIRECTION,
    ),
    (
        "linkerd-control-plane-messages.tsv",
        "cni plugin pod is running on all nodes",
        REDIRECTION,
    ),
    // A mirrored service (or the gateway's mirror) without endpoints: the
    // proxies calling it have nothing to balance over and fail fast, as two
    // independent blind labellers read `linkerd multicluster check`
    // (b12-ld-wsts-25, b13-ld-wsx-7).
    (
        "linkerd-control-plane-messages.tsv",
        "Some gateway mirrors do not have endpoints:\\n    %s",
        "a mirror without endpoints makes its callers fail fast",
    ),
    (
        "linkerd-control-plane-messages.tsv",
        "Some mirror services do not have endpoints:\\n    %s",
        "a mirror without endpoints makes its callers fail fast",
    ),
    // istiod cannot fetch an issuer's JWKS: it hands the proxies a JWKS that
    // matches no token, and every request with that issuer's JWT gets 401.
    (
        "istio-agent-messages.tsv",
        "Cannot fetch JWT public key from %q, %v",
        "requests with that issuer's tokens are rejected: istio-jwt-authn-failed",
    ),
    // pilot-agent's INFO line on every start without an external SDS socket
    // (the default): it starts its own SDS server, as it should. Blind
    // labeller of round 26 read it as quiet (b26-rb-csmfd-1), and rightly.
    (
        "istio-agent-messages.tsv",
        "SDS socket not found. Starting Istio SDS Server",
        "the default start of the agent's own SDS server, not a fault",
    ),
    (
        "istio-agent-messages.tsv",
        "Workload SDS socket not found. Starting Istio SDS Server",
        "the default start of the agent's own SDS server, not a fault",
    ),
    // The 1.3-1.8 gateway SDS agent failing to serve a gateway's credential:
    // the Secret the gateway asked for is not there. The table reads it as no
    // fault; the labellers of round 19 read the same line (b19-is-17409-4) as
    // a missing gateway credential, which is what it says:
    // istio-gateway-credential-missing. (Its sibling, `failed load server
    // cert/key pair from secret %s: … empty`, the agent says of every Secret
    // of its namespace that holds no certificate - a Helm release's, round
    // 30's b30-ec-i24758-2 - so the table's `-` stands for it, and the rule
    // reads it only of a Secret named like a credential.)
    (
        "istio-agent-messages.tsv",
        "%s SecretFetcher cannot find secret %s from cache",
        "the gateway's credential Secret does not exist: istio-gateway-credential-missing",
    ),
    // A control-plane pod that is not ready: the sibling rows of the same
    // `linkerd check` message are mapped to linkerd-control-plane-unreachable.
    (
        "linkerd-control-plane-messages.tsv",
        "The \"linkerd-%s\" pod's \"%s\" container is not ready",
        "same message as the rows mapped to linkerd-control-plane-unreachable",
    ),
    // The agent's xDS proxy cannot dial istiod: no configuration arrives, the
    // sidecar stays unready (corpus is-error-pilot-agent-readiness-10).
    (
        "istio-agent-messages.tsv",
        "failed to create upstream grpc client: %v",
        "istiod unreachable from the agent: istio-proxy-not-ready",
    ),
    // The healthy counterpart of `Using ServiceProfile` (seed 002): HTTPRoutes apply.
    (
        "linkerd-proxy-messages.tsv",
        "Using ClientPolicy routes",
        "what a client logs when the HTTPRoute is used: the healthy case",
    ),
    // Discovery answered with no endpoints: the balancer has nothing to send
    // to, which is fail-fast's cause (linkerd2#7768, the rule's example).
    (
        "linkerd-proxy-messages.tsv",
        "No endpoints",
        "an empty endpoint set is the cause fail-fast reports",
    ),
    // Facts about the status endpoint, not messages anything prints.
    (
        "istio-agent-messages.tsv",
        "GET /healthz/ready on :15021",
        NOT_A_MESSAGE,
    ),
    (
        "istio-agent-messages.tsv",
        "GET /healthz/ready on :15021 returns 200 \"\" only after workers_started=1 and cds/lds update_success>0",
        NOT_A_MESSAGE,
    ),
    // The detect `results` family's full name was not read from source.
    (
        "linkerd-proxy-messages.tsv",
        "read_timeout",
        "label of a metric family whose registered name the vocabulary does not give",
    ),
    // Printed over two lines: its first line alone (`Invalid roots:`) says
    // too little, and the roots follow on the next.
    ("*", "Invalid roots:\\n\\t%s", GENERIC),
];

const NOT_A_MESSAGE: &str = "a description of an endpoint's behaviour, not text a proxy prints";
const RECOVERED: &str = "a recovery/health message, not a fault (corpus labels it none)";
const GENERIC: &str = "too generic alone; recognised in the context the proxy writes it";
const REDIRECTION: &str = "the check fails when the pod's iptables redirection cannot be installed: mesh-traffic-redirection-failed";

pub fn vocab_dir() -> Option<PathBuf> {
    crate::support::shared::dir("vocab", "README.md")
}

/// What a row says its text points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Rule(String),
    Quiet,
    /// `?` or `unlisted:…`: no assertion.
    Other,
}

/// One row of one vocabulary table.
#[derive(Debug, Clone)]
pub struct Row {
    pub file: String,
    pub line: usize,
    pub text: String,
    pub expect: Expect,
    cols: BTreeMap<String, String>,
}

impl Row {
    fn col(&self, k: &str) -> &str {
        self.cols.get(k).map(String::as_str).unwrap_or("")
    }
}

pub fn rows(dir: &Path) -> Vec<Row> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("vocab dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("vocab file");
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
        for (i, l) in lines.enumerate() {
            let vals: Vec<&str> = l.split('\t').collect();
            let cols: BTreeMap<String, String> = header
                .iter()
                .zip(vals.iter())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let first = vals.first().copied().unwrap_or("").to_string();
            let id = cols.get("rule_id").cloned().unwrap_or_default();
            let expect = match id.as_str() {
                "-" => Expect::Quiet,
                "?" | "" => Expect::Other,
                s if s.starts_with("unlisted:") => Expect::Other,
                s => Expect::Rule(s.to_string()),
            };
            out.push(Row {
                file: name.clone(),
                line: i + 2,
                text: first,
                expect,
                cols,
            });
        }
    }
    out
}

/// Fills the source's placeholders with values of the kind they stand for.
pub fn fill(t: &str) -> String {
    let t = t.replace('…', "");
    let b = t.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let close = match c {
            b'{' => t[i..].find('}').map(|j| i + j + 1),
            b'<' => t[i..].find('>').map(|j| i + j + 1),
            b'%' if i + 1 < b.len() => {
                let mut j = i + 1;
                if b[j] == b'+' || b[j] == b'#' {
                    j += 1;
                }
                (j < b.len() && b"svdqwxTtf".contains(&b[j])).then_some(j + 1)
            }
            _ => None,
        };
        let Some(end) = close.filter(|&e| !t[i..e].contains(' ') || c == b'<') else {
            out.push(c as char);
            i += 1;
            continue;
        };
        let ph = &t[i..end];
        let before = out.trim_end().to_ascii_lowercase();
        let v = if before.ends_with("after")
            || before.ends_with("after:")
            || before.ends_with("timeout:")
            || before.ends_with("within")
            || ph.contains("timeout")
        {
            "10s"
        } else if ph == "%d" || ph.contains("code") || ph.contains("port") {
            "8080"
        } else if ph.contains("reason") {
            "remote connection failure"
        } else {
            "10.42.1.7:8080"
        };
        // `{:?}` of a string adds quotes; a Duration prints bare.
        out.push_str(v);
        i = end;
    }
    out
}

/// Fills only the `<…>` placeholders (Envoy details keep their braces).
pub fn fill_angles(t: &str) -> String {
    let t = t.replace('…', "");
    let t = t.split("  (").next().unwrap_or("").to_string();
    let mut out = String::new();
    let mut rest = t.as_str();
    while let Some(a) = rest.find('<') {
        out.push_str(&rest[..a]);
        match rest[a..].find('>') {
            Some(b) => {
                let ph = &rest[a + 1..a + b];
                out.push_str(if ph.contains("reason") {
                    "connection_failure"
                } else if ph.contains("errno") {
                    "Connection_refused"
                } else if ph == "n" || ph.contains("code") {
                    "268435581"
                } else {
                    "x"
                });
                rest = &rest[a + b + 1..];
            }
            None => {
                out.push_str(&rest[a..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

const TS: &str = "2024-05-01T10:00:00.123456789Z";

/// The message as its proxy prints it: (base name, text, one line?).
pub fn bases(row: &Row) -> Vec<(&'static str, String, bool)> {
    let msg = fill(&row.text);
    let kind = row.col("kind");
    let mut out: Vec<(&'static str, String, bool)> = Vec::new();
    match row.file.as_str() {
        "linkerd-proxy-messages.tsv" => {
            let target = row
                .col("log_target")
                .rsplit("->")
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            let target = if target.is_empty() {
                "linkerd_app_core::errors".to_string()
            } else {
                target
            };
            if kind.starts_with("log message") {
                let lvl = if kind.contains("ERROR") {
                    "ERROR"
                } else if kind.contains("WARN") {
                    "WARN"
                } else if kind.contains("INFO") {
                    "INFO"
                } else {
                    "DEBUG"
                };
                let old = match lvl {
                    "ERROR" => "ERR!",
                    "DEBUG" => "DBUG",
                    l => l,
                };
                out.push((
                    "linkerd-plain",
                    format!("[    12.345678s] {lvl:>5} ThreadId(01) outbound:proxy{{addr=10.96.12.7:8080}}: {target}: {msg}"),
                    true,
                ));
                out.push(("linkerd-legacy", format!("{old} {target} {msg}"), true));
                out.push((
                    "linkerd-json",
                    format!(
                        r#"{{"timestamp":"[    12.345678s]","level":"{lvl}","fields":{{"message":{}}},"target":"{target}","threadId":"ThreadId(1)"}}"#,
                        json_str(&msg)
                    ),
                    true,
                ));
            } else if kind.starts_with("metric label value") {
                // Where the proxy puts the value: route/backend status
                // metrics, the errno of TCP metrics, or the error label of the
                // HTTP/TCP error counters.
                let series: Vec<String> = if kind.contains("request_statuses") {
                    vec![format!(
                        "outbound_http_route_request_statuses_total{{error=\"{msg}\"}} 12"
                    )]
                } else if kind.contains("errno") {
                    vec![format!(
                        "tcp_close_total{{direction=\"outbound\",errno=\"{msg}\"}} 12"
                    )]
                } else {
                    [
                        "outbound_http_errors_total",
                        "inbound_http_errors_total",
                        "inbound_tcp_errors_total",
                    ]
                    .iter()
                    .map(|n| format!("{n}{{error=\"{msg}\"}} 12"))
                    .collect()
                };
                out.push(("metrics", series.join("\n") + "\n", false));
            } else {
                // error Display, grpc-message / header values.
                out.push(("l5d-header", format!("l5d-proxy-error: {msg}"), true));
                out.push((
                    "linkerd-plain",
                    format!("[    12.345678s]  WARN ThreadId(01) outbound:proxy{{addr=10.96.12.7:8080}}: linkerd_app_core::errors::respond: Request failed error={msg}"),
                    true,
                ));
                out.push((
                    "linkerd-json",
                    format!(
                        r#"{{"timestamp":"[    12.345678s]","level":"WARN","fields":{{"message":"Request failed","error":{}}},"target":"linkerd_app_core::errors::respond","threadId":"ThreadId(1)"}}"#,
                        json_str(&msg)
                    ),
                    true,
                ));
            }
        }
        "linkerd-control-plane-messages.tsv" => {
            let comp = row.col("component");
            if kind.starts_with("linkerd check hint") {
                out.push((
                    "check-hint",
                    format!("    see https://linkerd.io/2/checks/#{msg} for hints"),
                    true,
                ));
            } else if kind.starts_with("linkerd check") {
                out.push(("check-item", format!("× {msg}"), true));
            } else if comp.contains("policy") {
                let lvl = level_of(kind).to_ascii_uppercase();
                out.push((
                    "policy-log",
                    format!("{TS} {lvl:>5} linkerd_policy_controller: {msg}"),
                    true,
                ));
            } else {
                let lvl = level_of(kind);
                out.push((
                    "logrus",
                    format!("time=\"2024-05-01T10:00:00Z\" level={lvl} msg=\"{msg}\""),
                    true,
                ));
                out.push((
                    "go-json",
                    format!(
                        r#"{{"level":"{lvl}","msg":{},"time":"2024-05-01T10:00:00Z"}}"#,
                        json_str(&msg)
                    ),
                    true,
                ));
            }
        }
        "istio-agent-messages.tsv" => {
            let lvl = level_of(kind);
            out.push((
                "istio-log",
                format!("2024-05-01T10:00:00.123456Z\t{lvl}\tsds\t{msg}"),
                true,
            ));
            out.push((
                "istio-json",
                format!(
                    r#"{{"level":"{lvl}","time":"2024-05-01T10:00:00.123456Z","scope":"sds","msg":{}}}"#,
                    json_str(&msg)
                ),
                true,
            ));
        }
        "envoy-codec-errors.tsv" => {
            out.extend(envoy_debug(&msg, "http", "[C12]"));
        }
        "envoy-local-reply-bodies.tsv" => {
            let status = status_of(row.col("typical_status"));
            out.push(("body", msg.clone(), true));
            out.push((
                "curl",
                format!(
                    "< HTTP/1.1 {status} {}\n< content-length: {}\n< content-type: text/plain\n< date: Wed, 01 May 2024 10:00:00 GMT\n< server: envoy\n<\n{msg}\n",
                    reason(status),
                    msg.len()
                ),
                false,
            ));
        }
        "envoy-response-code-details.tsv" => {
            // Braces are part of a details value; only `<…>` is described.
            let d = fill_angles(&row.text).replace(' ', "_");
            let status = status_of(row.col("typical_status"));
            // A quiet details value is judged alone, without a fault flag.
            let flags = if row.expect == Expect::Quiet {
                "-".to_string()
            } else {
                flags_of(row.col("typical_flags"))
            };
            out.push(("details", d.clone(), true));
            out.extend(access_lines(status, &flags, &d));
            out.extend(envoy_debug(
                &format!("Sending local reply with details {d}"),
                "http",
                "[C12][S3456]",
            ));
        }
        "envoy-response-flags.tsv" => {
            let f = row.text.clone();
            let status = status_of(row.col("typical_status"));
            out.push(("flag", f.clone(), true));
            out.extend(access_lines(status, &f, "-"));
            // `%RESPONSE_FLAGS_LONG%` of recent Envoy releases writes the long name.
            let long = row.col("long_name").to_string();
            if !long.is_empty() && long != "-" {
                out.push(("flag-long", long.clone(), true));
                out.extend(
                    access_lines(status, &long, "-")
                        .into_iter()
                        .map(|(name, text, line)| (long_shape(name), text, line)),
                );
            }
        }
        "envoy-stats.tsv" => {
            // Compound cells: `a: N (downstream); b (upstream)`, `a / b`.
            let first = |c: &str| {
                let c = c.split(" / ").next().unwrap_or("");
                let c = c.split("; ").next().unwrap_or("");
                c.split(" (").next().unwrap_or("").trim().to_string()
            };
            let admin = first(row.col("admin_stats_form"));
            if !admin.is_empty() && admin != "-" {
                out.push(("admin-stats", stat_fill(&admin) + "\n", false));
            }
            for (name, c) in [
                ("prom-envoy", "prometheus_form_envoy_default_tags"),
                ("prom-istio", "prometheus_form_istio"),
            ] {
                let p = first(row.col(c));
                if !p.is_empty() && p != "-" && !p.contains("...") {
                    out.push((name, format!("{}\n", stat_fill(&p)), false));
                }
            }
        }
        _ => {}
    }
    out
}

/// The shape name of an access line written with long flag names.
fn long_shape(name: &str) -> &'static str {
    match name {
        "access-text" => "access-text-long",
        "access-no-ts" => "access-no-ts-long",
        _ => "access-json-long",
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn level_of(kind: &str) -> &'static str {
    if kind.contains("FATAL") {
        "fatal"
    } else if kind.contains("ERROR") || kind.starts_with("error") {
        "error"
    } else if kind.contains("WARN") {
        "warn"
    } else if kind.contains("DEBUG") {
        "debug"
    } else {
        "info"
    }
}

fn status_of(s: &str) -> u16 {
    s.split(|c: char| !c.is_ascii_digit())
        .find_map(|t| t.parse::<u16>().ok().filter(|n| (100..600).contains(n)))
        .unwrap_or(503)
}

fn flags_of(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_uppercase())
        .find(|t| t.len() >= 2 && meshdoc::cli::explain::ENVOY_FLAGS.contains(t))
        .unwrap_or("-")
        .to_string()
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        504 => "Gateway Timeout",
        _ => "Service Unavailable",
    }
}

/// Gauges that point at their cause when they are low (no healthy host, no
/// pending slot left, no control-plane connection, no worker started).
const LOW_IS_BAD: &[&str] = &[
    "membership_healthy",
    "membership_total",
    "remaining_",
    "connected_state",
    "workers_started",
];

/// `cluster.<cluster>.x: N` → a concrete admin or Prometheus line.
fn stat_fill(s: &str) -> String {
    let mut out = s
        .replace(
            "<cluster>",
            "outbound|8080||payments.shop.svc.cluster.local",
        )
        .replace(
            "<route target cluster>",
            "outbound|8080||payments.shop.svc.cluster.local",
        )
        .replace("<stat_prefix>", "inbound_0.0.0.0_8080")
        .replace("<prefix>", "inbound_0.0.0.0_8080");
    // any other <…>
    while let (Some(a), Some(b)) = (out.find('<'), out.find('>')) {
        if a >= b {
            break;
        }
        out.replace_range(a..=b, "x");
    }
    let value = if LOW_IS_BAD.iter().any(|g| s.contains(g)) {
        "0"
    } else {
        "12"
    };
    if out.ends_with(": N") {
        out.truncate(out.len() - 1);
        out.push_str(value);
    } else if !out.contains(": ") {
        out.push(' ');
        out.push_str(value);
    }
    out
}

fn envoy_debug(msg: &str, logger: &str, conn: &str) -> Vec<(&'static str, String, bool)> {
    vec![
        (
            "envoy-bracket",
            format!(
                "[2024-05-01 10:00:00.123][15][debug][{logger}] [source/common/http/conn_manager_impl.cc:391] {conn} {msg}"
            ),
            true,
        ),
        (
            "envoy-tab",
            format!(
                "2024-05-01T10:00:00.123456Z\tdebug\tenvoy {logger} external/envoy/source/common/http/conn_manager_impl.cc:391\t{conn} {msg}\tthread=15"
            ),
            true,
        ),
    ]
}

fn access_lines(status: u16, flags: &str, details: &str) -> Vec<(&'static str, String, bool)> {
    let rest = format!(
        r#""GET /api/v1/orders HTTP/1.1" {status} {flags} {details} - "-" 0 91 3 - "-" "curl/8.5.0" "5b0f7d3c-1a2b-4c5d-9e8f-0a1b2c3d4e5f" "payments.shop:8080" "10.42.1.7:8080" outbound|8080||payments.shop.svc.cluster.local 10.42.0.9:50412 10.43.12.5:8080 10.42.0.9:43210 - default"#
    );
    vec![
        (
            "access-text",
            format!("[2024-05-01T10:00:00.123Z] {rest}"),
            true,
        ),
        ("access-no-ts", rest, true),
        (
            "access-json",
            format!(
                r#"{{"start_time":"2024-05-01T10:00:00.123Z","method":"GET","path":"/api/v1/orders","protocol":"HTTP/1.1","response_code":{status},"response_flags":"{flags}","response_code_details":"{details}","bytes_received":0,"bytes_sent":91,"duration":3,"upstream_host":"10.42.1.7:8080","upstream_cluster":"outbound|8080||payments.shop.svc.cluster.local","authority":"payments.shop:8080"}}"#
            ),
            true,
        ),
    ]
}

/// The collector wrappers around one line: (name, text).
pub fn wrappers(line: &str, container: &str) -> Vec<(&'static str, String)> {
    vec![
        ("bare", line.to_string()),
        ("kubectl-ts", format!("{TS} {line}")),
        ("stern", format!("web-7d4b9c-x2x8k {container} {line}")),
        ("cri", format!("{TS} stdout F {line}")),
        (
            "docker-json",
            format!(
                r#"{{"log":{},"stream":"stdout","time":"{TS}"}}"#,
                json_str(&format!("{line}\n"))
            ),
        ),
        (
            "json-field",
            format!(
                r#"{{"@timestamp":"{TS}","kubernetes":{{"pod_name":"web-7d4b9c-x2x8k","container_name":"{container}"}},"message":{}}}"#,
                json_str(line)
            ),
        ),
    ]
}

/// Every shaped input of a row: (shape name, input text).
pub fn shapes(row: &Row) -> Vec<(String, String)> {
    let container = if row.file.starts_with("linkerd") {
        "linkerd-proxy"
    } else {
        "istio-proxy"
    };
    let mut out = Vec::new();
    for (base, text, line) in bases(row) {
        if line {
            for (w, t) in wrappers(&text, container) {
                out.push((format!("{base}/{w}"), t));
            }
        } else {
            out.push((base.to_string(), text));
        }
    }
    out
}

/// Ids of the findings for one input, best first, with their severity.
pub fn raised(rules: &RuleSet, input: &str) -> Vec<(String, Severity)> {
    let origin = Origin::file("vocab", None);
    let (report, _) = explain_text(rules, input, InputKind::Auto, &origin);
    report
        .findings
        .iter()
        .map(|f| (f.id.clone(), f.severity))
        .collect()
}

#[derive(Default)]
pub struct Tally {
    pub cases: u32,
    pub raised: u32,
    pub top1: u32,
    pub top3: u32,
}

/// Runs every row in every shape; returns failure lines.
pub fn run(
    rules: &RuleSet,
    dir: &Path,
    only: Option<&str>,
) -> (Vec<String>, BTreeMap<String, Tally>) {
    let mut fails = Vec::new();
    let mut tally: BTreeMap<String, Tally> = BTreeMap::new();
    for row in rows(dir) {
        if DISAGREE
            .iter()
            .any(|(f, t, _)| (*f == "*" || *f == row.file) && *t == row.text)
        {
            continue;
        }
        if let Some(o) = only
            && !matches!(&row.expect, Expect::Rule(id) if id == o)
        {
            continue;
        }
        for (shape, input) in shapes(&row) {
            match &row.expect {
                Expect::Rule(id) => {
                    let got = raised(rules, &input);
                    // A rule that `refines` the expected cause raises its
                    // specific case (a 431 body is a downstream protocol error).
                    let pos = got.iter().position(|(g, _)| {
                        g == id || rules.get(g).is_some_and(|r| r.refines.contains(id))
                    });
                    let t = tally.entry(format!("{}:{}", row.file, shape)).or_default();
                    t.cases += 1;
                    if let Some(p) = pos {
                        t.raised += 1;
                        t.top1 += u32::from(p == 0);
                        t.top3 += u32::from(p < 3);
                    } else {
                        fails.push(format!(
                            "miss  {}:{} [{shape}] expected {id} got [{}] :: {}",
                            row.file,
                            row.line,
                            got.iter()
                                .take(3)
                                .map(|g| g.0.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                            input.replace('\n', "⏎")
                        ));
                    }
                }
                Expect::Quiet => {
                    let got = raised(rules, &input);
                    let loud: Vec<&str> = got
                        .iter()
                        .filter(|(_, s)| *s >= Severity::Error)
                        .map(|(g, _)| g.as_str())
                        .collect();
                    if !loud.is_empty() {
                        fails.push(format!(
                            "alarm {}:{} [{shape}] raised [{}] :: {}",
                            row.file,
                            row.line,
                            loud.join(", "),
                            input.replace('\n', "⏎")
                        ));
                    }
                }
                Expect::Other => {}
            }
        }
    }
    (fails, tally)
}
