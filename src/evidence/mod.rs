//! Typed evidence and the parsers that produce it.
//!
//! Everything meshdoc reasons about arrives here first: proxy log events,
//! access-log records, Envoy/pilot-agent log events, metric samples, HTTP
//! responses and Kubernetes objects. Each item carries its [`Origin`] so a
//! finding can cite exactly where its evidence came from.
//!
//! Parsers are tolerant: a line they cannot read is counted in [`ReadStats`]
//! and skipped, never an error and never a panic.

pub mod access;
pub mod detect;
pub mod envoy;
pub mod event;
pub mod http;
pub mod interop;
pub mod linkerd;
pub mod metrics;
pub mod quoted;
pub mod text;
pub mod time;
pub mod wrap;

use serde::Serialize;
use std::fmt;

/// Where a piece of evidence came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Origin {
    /// A file on disk (or `-` for stdin), with a 1-based line when known.
    File { path: String, line: Option<u64> },
    /// A container of a pod in the cluster (or in a bundle).
    Pod {
        namespace: String,
        pod: String,
        container: Option<String>,
        line: Option<u64>,
    },
    /// Typed on the command line.
    Arg,
}

impl Origin {
    pub fn file(path: impl Into<String>, line: Option<u64>) -> Self {
        Origin::File {
            path: path.into(),
            line,
        }
    }

    /// The same origin without its line: the container (or file) alone.
    pub fn without_line(&self) -> Self {
        let mut o = self.clone();
        match &mut o {
            Origin::File { line, .. } | Origin::Pod { line, .. } => *line = None,
            Origin::Arg => {}
        }
        o
    }

    /// The same origin moved to another line.
    pub fn at_line(&self, line: u64) -> Self {
        match self {
            Origin::File { path, .. } => Origin::File {
                path: path.clone(),
                line: Some(line),
            },
            Origin::Pod {
                namespace,
                pod,
                container,
                ..
            } => Origin::Pod {
                namespace: namespace.clone(),
                pod: pod.clone(),
                container: container.clone(),
                line: Some(line),
            },
            Origin::Arg => Origin::Arg,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File {
                path,
                line: Some(l),
            } => write!(f, "{path}:{l}"),
            Origin::File { path, line: None } => write!(f, "{path}"),
            Origin::Pod {
                namespace,
                pod,
                container,
                line,
            } => {
                write!(f, "{namespace}/{pod}")?;
                if let Some(c) = container {
                    write!(f, "[{c}]")?;
                }
                if let Some(l) = line {
                    write!(f, ":{l}")?;
                }
                Ok(())
            }
            Origin::Arg => write!(f, "<argument>"),
        }
    }
}

/// Log severity as the proxy printed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Critical,
}

impl Level {
    /// Reads `INFO`, `info`, `WARN`, `warning`, `ERR!`, `critical`, `D`, … .
    pub fn parse(s: &str) -> Option<Level> {
        let s = s.trim_matches(|c: char| c == '[' || c == ']' || c == '!' || c == ':');
        Some(match s.to_ascii_lowercase().as_str() {
            "trace" | "trc" | "trce" | "t" => Level::Trace,
            "debug" | "dbug" | "dbg" | "d" => Level::Debug,
            "info" | "inf" | "i" => Level::Info,
            "warn" | "warning" | "wrn" | "w" => Level::Warn,
            "error" | "err" | "e" => Level::Error,
            "critical" | "crit" | "fatal" | "c" => Level::Critical,
            _ => return None,
        })
    }
}

/// One Linkerd proxy log event (plain or JSON format, old or current styles).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProxyLogEvent {
    /// Wall-clock timestamp when the line had one (kubectl `--timestamps`, JSON).
    pub timestamp: Option<String>,
    /// Seconds since proxy start (`[ 1234.5s]`).
    pub uptime: Option<f64>,
    pub level: Option<Level>,
    /// The tracing target / module (`linkerd_app_core::errors::respond`).
    pub target: Option<String>,
    /// Span context (`outbound:proxy{addr=…}:service{ns=… name=… port=…}`).
    pub spans: Option<String>,
    /// Key/value fields from spans and the event (`client.addr`, `addr`, `ns`, `name`, `port`, `error`).
    pub fields: Vec<(String, String)>,
    /// The human message (without fields).
    pub message: String,
    /// `error=` text when present.
    pub error: Option<String>,
}

impl ProxyLogEvent {
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One Envoy / Istio access-log record (any Istio TEXT format version, Envoy's
/// default format, or JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AccessRecord {
    pub start_time: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub protocol: Option<String>,
    /// `0` when no response was sent.
    pub status: Option<u16>,
    /// Response flags, split on `,` (`["UF", "URX"]`); empty when `-`.
    pub flags: Vec<String>,
    pub details: Option<String>,
    pub termination: Option<String>,
    pub transport_failure: Option<String>,
    pub bytes_received: Option<u64>,
    pub bytes_sent: Option<u64>,
    pub duration_ms: Option<u64>,
    /// The record has an upstream service time
    /// (`x-envoy-upstream-service-time`): an upstream answered. `false` when
    /// none did (`-`) or the format lacks the field.
    pub upstream_answered: bool,
    pub authority: Option<String>,
    pub upstream_host: Option<String>,
    pub upstream_cluster: Option<String>,
    pub request_id: Option<String>,
    pub sni: Option<String>,
    /// `true` for TCP proxy lines (`"- - -"`).
    pub tcp: bool,
    /// `true` when the record has Envoy's own fields (response flags): an
    /// nginx or app combined-log line with a status is not Envoy's word.
    pub envoy: bool,
}

impl AccessRecord {
    /// A request that succeeded: an HTTP status 1xx–3xx, no response flags
    /// and no transport failure. TCP lines (no status) are not counted:
    /// a connection that carried no error says little about the requests.
    pub fn is_success(&self) -> bool {
        matches!(self.status, Some(100..=399))
            && self.flags.is_empty()
            && self.transport_failure.is_none()
    }
}

/// One Envoy / istio-proxy / pilot-agent / istiod log event.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EnvoyLogEvent {
    pub timestamp: Option<String>,
    pub level: Option<Level>,
    /// `[source/common/…]`, `[assert]`, `[rbac]`, scope like `envoy config`.
    pub component: Option<String>,
    pub message: String,
}

/// One Prometheus / OpenMetrics sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// The sample's own timestamp (Prometheus text: milliseconds;
    /// OpenMetrics: seconds), when the exposition has one: several scrapes
    /// of a counter tell when it rose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<time::At>,
}

impl MetricSample {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP response as seen by a client (`curl -v`, a pasted header block).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HttpResponse {
    pub status: Option<u16>,
    /// Response headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// Request headers when the transcript shows them (`> Expect: 100-continue`).
    pub request_headers: Vec<(String, String)>,
    /// Body text and other non-header lines (client error messages), capped.
    pub body: String,
    /// Read from Envoy's own debug dump of the headers it encoded.
    pub envoy_log: bool,
    /// That dump followed the router's `upstream headers complete`: the
    /// status came from the upstream, not from Envoy.
    pub via_upstream: bool,
    /// Only the status is known, as a client printed it (`curl -w
    /// '%{http_code}'`, `wget: … 403 Forbidden`): the response's headers were
    /// not shown, so their absence says nothing.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub status_only: bool,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What one parsed input item is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Item {
    ProxyLog(ProxyLogEvent),
    Access(AccessRecord),
    EnvoyLog(EnvoyLogEvent),
    /// A line from an application container or a client (no proxy structure).
    AppLog {
        message: String,
    },
    Http(HttpResponse),
    Metrics {
        samples: Vec<MetricSample>,
    },
    /// One message of another tool's report (`linkerd check -o json`,
    /// `istioctl analyze -o json`), cited by code in related findings.
    ToolReport(ToolMessage),
}

/// A check or analyzer message from another tool.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ToolMessage {
    /// `linkerd check` or `istioctl analyze`.
    pub tool: String,
    /// `IST0118`, or the check's anchor (`l5d-proxy-injector-webhook-cert-valid`).
    pub code: String,
    /// `error`, `warning`, `info`, `success`.
    pub level: String,
    pub message: String,
    /// The object it concerns, when the tool names one.
    pub object: Option<String>,
}

impl ToolMessage {
    /// The line rules match against: `[IST0118] info: (Service x.default) Port name …`.
    pub fn line(&self) -> String {
        let obj = self
            .object
            .as_ref()
            .map(|o| format!("({o}) "))
            .unwrap_or_default();
        format!("[{}] {}: {}{}", self.code, self.level, obj, self.message)
    }
}

/// A parsed item, its raw text (for evidence display and text signals) and origin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub item: Item,
    pub raw: String,
    pub origin: Origin,
}

/// What the input kind hint says about a stream of lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    /// Detect per line / per block.
    #[default]
    Auto,
    ProxyLog,
    AccessLog,
    EnvoyLog,
    AppLog,
    Metrics,
    Http,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Counts kept while reading, reported as "1,204 lines read, 3 unparseable".
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReadStats {
    pub lines: u64,
    pub bytes: u64,
    /// Lines that no parser could read (garbage, truncated, invalid UTF-8).
    pub unparseable: u64,
    /// Lines skipped for being longer than [`MAX_LINE`].
    pub oversized: u64,
    /// Invalid UTF-8 met (lines, or blocks in a scan), read lossily; the
    /// source gets one warning ([`text::not_utf8_warning`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub not_utf8: u64,
    /// Items by kind.
    pub proxy_log: u64,
    pub access_log: u64,
    pub envoy_log: u64,
    pub app_log: u64,
    pub metric_samples: u64,
    pub http_responses: u64,
    pub tool_messages: u64,
}

impl ReadStats {
    pub fn add(&mut self, other: &ReadStats) {
        self.lines += other.lines;
        self.bytes += other.bytes;
        self.unparseable += other.unparseable;
        self.oversized += other.oversized;
        self.not_utf8 += other.not_utf8;
        self.proxy_log += other.proxy_log;
        self.access_log += other.access_log;
        self.envoy_log += other.envoy_log;
        self.app_log += other.app_log;
        self.metric_samples += other.metric_samples;
        self.http_responses += other.http_responses;
        self.tool_messages += other.tool_messages;
    }

    pub fn count(&mut self, item: &Item) {
        match item {
            Item::ProxyLog(_) => self.proxy_log += 1,
            Item::Access(_) => self.access_log += 1,
            Item::EnvoyLog(_) => self.envoy_log += 1,
            Item::AppLog { .. } => self.app_log += 1,
            Item::Http(_) => self.http_responses += 1,
            Item::Metrics { samples } => self.metric_samples += samples.len() as u64,
            Item::ToolReport(_) => self.tool_messages += 1,
        }
    }
}

/// Lines longer than this are skipped and counted: no proxy writes them, and a
/// 10 MB line must not stall a scan.
pub const MAX_LINE: usize = 64 * 1024;
