//! Runtime signals from Prometheus: the instant-query HTTP API
//! (`/api/v1/query`), reached directly (`--prometheus URL`, with `reqwest`)
//! or through the API server's service proxy with the kube client (the
//! Prometheus of linkerd-viz or of `istio-system`, found without a
//! port-forward).
//!
//! Only the proxies' own metrics are queried, one PromQL query per signal
//! family ([`FAMILIES`]), each summed by the labels that name a workload, so
//! the answer's size follows the number of workloads, not of pods.

use crate::evidence::MetricSample;
use crate::rules::Mesh;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Where meshdoc looks for a Prometheus through the service proxy, in order:
/// linkerd-viz's and the Istio addon's (namespace, Service, port).
pub const CANDIDATES: &[(&str, &str, u16)] = &[
    ("linkerd-viz", "prometheus", 9090),
    ("istio-system", "prometheus", 9090),
];

/// How to reach one Prometheus.
#[derive(Clone)]
pub enum Endpoint {
    /// `--prometheus URL`.
    Url { base: String, http: reqwest::Client },
    /// `/api/v1/namespaces/{ns}/services/{name}:{port}/proxy/` on the API server.
    ServiceProxy {
        client: kube::Client,
        namespace: String,
        service: String,
        port: u16,
    },
}

/// A Prometheus to query.
#[derive(Clone)]
pub struct Prometheus {
    pub endpoint: Endpoint,
    /// Queries sent so far (each is one HTTP request).
    pub queries: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// How long one query may take, whichever way it goes (the kube
    /// client's own read timeout is minutes): `--timeout`.
    pub timeout: Duration,
}

/// One series of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Why a query gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    #[error("cannot reach Prometheus at {0}: {1}")]
    Unreachable(String, String),
    #[error("Prometheus at {0} answered HTTP {1}: {2}")]
    Status(String, u16, String),
    #[error("Prometheus at {0} rejected the query: {1}")]
    Query(String, String),
    #[error("Prometheus at {0} sent an answer that is not a query result: {1}")]
    Decode(String, String),
    #[error("Prometheus at {0} did not answer within the --timeout of {1}")]
    Timeout(String, String),
}

impl Prometheus {
    /// A Prometheus at `url` (`http://prometheus:9090`, a path prefix allowed).
    /// The crypto provider must be installed first (`client::install_crypto_provider`).
    pub fn url(url: &str, timeout: Duration) -> Result<Prometheus, PromError> {
        let base = url.trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| PromError::Unreachable(base.clone(), e.to_string()))?;
        Ok(Prometheus {
            endpoint: Endpoint::Url { base, http },
            queries: Default::default(),
            timeout,
        })
    }

    /// A Prometheus behind Service `namespace/service:port`, through the
    /// API server; each query gives up after `timeout`.
    pub fn service_proxy(
        client: kube::Client,
        namespace: &str,
        service: &str,
        port: u16,
        timeout: Duration,
    ) -> Self {
        Prometheus {
            endpoint: Endpoint::ServiceProxy {
                client,
                namespace: namespace.into(),
                service: service.into(),
                port,
            },
            queries: Default::default(),
            timeout,
        }
    }

    /// For messages: the URL, or `service linkerd-viz/prometheus:9090 (API server proxy)`.
    pub fn describe(&self) -> String {
        match &self.endpoint {
            Endpoint::Url { base, .. } => base.clone(),
            Endpoint::ServiceProxy {
                namespace,
                service,
                port,
                ..
            } => format!("service {namespace}/{service}:{port} (API server proxy)"),
        }
    }

    /// Whether queries go through the API server (and count as API requests).
    pub fn via_api_server(&self) -> bool {
        matches!(self.endpoint, Endpoint::ServiceProxy { .. })
    }

    /// Runs one instant query; the result must be a vector (or a scalar,
    /// returned as one series without labels). A query that takes longer
    /// than [`Prometheus::timeout`] fails with [`PromError::Timeout`].
    pub async fn query(&self, promql: &str) -> Result<Vec<Series>, PromError> {
        self.queries
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match tokio::time::timeout(self.timeout, self.query_once(promql)).await {
            Ok(r) => r,
            Err(_) => Err(PromError::Timeout(self.describe(), seconds(self.timeout))),
        }
    }

    async fn query_once(&self, promql: &str) -> Result<Vec<Series>, PromError> {
        let path = format!("api/v1/query?query={}", encode(promql));
        let body = match &self.endpoint {
            Endpoint::Url { base, http } => {
                let url = format!("{base}/{path}");
                let r = http.get(&url).send().await.map_err(|e| {
                    if e.is_timeout() {
                        PromError::Timeout(self.describe(), seconds(self.timeout))
                    } else {
                        PromError::Unreachable(self.describe(), error_chain(&e))
                    }
                })?;
                let status = r.status().as_u16();
                let text = r
                    .text()
                    .await
                    .map_err(|e| PromError::Unreachable(self.describe(), error_chain(&e)))?;
                // Prometheus answers 400/422 with a JSON error worth showing.
                if !(200..300).contains(&status) && !text.trim_start().starts_with('{') {
                    return Err(PromError::Status(self.describe(), status, clip(&text)));
                }
                text
            }
            Endpoint::ServiceProxy {
                client,
                namespace,
                service,
                port,
            } => {
                let url = format!(
                    "/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy/{path}"
                );
                let req = http::Request::get(&url)
                    .body(Vec::new())
                    .map_err(|e| PromError::Unreachable(self.describe(), e.to_string()))?;
                match client.request_text(req).await {
                    Ok(t) => t,
                    Err(kube::Error::Api(s)) => {
                        return Err(PromError::Status(self.describe(), s.code, clip(&s.message)));
                    }
                    Err(e) => return Err(PromError::Unreachable(self.describe(), error_chain(&e))),
                }
            }
        };
        parse_response(&body).map_err(|e| match e {
            Parsed::Rejected(m) => PromError::Query(self.describe(), m),
            Parsed::Bad(m) => PromError::Decode(self.describe(), m),
        })
    }
}

/// `30s`, `1.5s`: a timeout as `--timeout` reads it.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

fn clip(s: &str) -> String {
    crate::report::sanitize::clip(s.lines().next().unwrap_or("").trim(), 200)
}

enum Parsed {
    Rejected(String),
    Bad(String),
}

/// Reads `{"status":"success","data":{"resultType":"vector","result":[…]}}`.
fn parse_response(body: &str) -> Result<Vec<Series>, Parsed> {
    let v: Value =
        serde_json::from_str(body).map_err(|e| Parsed::Bad(format!("{e}: {}", clip(body))))?;
    if v.get("status").and_then(Value::as_str) != Some("success") {
        let err = v
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no error given");
        return Err(Parsed::Rejected(err.to_string()));
    }
    let data = v
        .get("data")
        .ok_or_else(|| Parsed::Bad("no `data`".into()))?;
    let value_of = |pair: &Value| {
        pair.get(1)
            .and_then(Value::as_str)
            .and_then(crate::evidence::metrics::parse_value)
    };
    match data.get("resultType").and_then(Value::as_str) {
        Some("vector") => Ok(data
            .get("result")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let labels = r
                    .get("metric")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                            .collect()
                    })
                    .unwrap_or_default();
                Some(Series {
                    labels,
                    value: value_of(r.get("value")?)?,
                })
            })
            .collect()),
        Some("scalar") => Ok(data
            .get("result")
            .and_then(value_of)
            .map(|value| Series {
                labels: BTreeMap::new(),
                value,
            })
            .into_iter()
            .collect()),
        other => Err(Parsed::Bad(format!("result type {other:?}, not a vector"))),
    }
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved kept).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Which end of a request a series describes for its workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Requests the workload served.
    Inbound,
    /// Requests the workload sent.
    Outbound,
}

/// One signal family: a proxy metric and the labels it is summed by.
pub struct Family {
    pub mesh: Mesh,
    /// The metric as the proxy exports it (and as rules name it).
    pub metric: &'static str,
    /// Labels kept besides the workload's (what rules and the failing
    /// ratio read).
    pub by: &'static [&'static str],
}

/// Labels Linkerd's viz Prometheus adds to every proxy series (from the pod's
/// `linkerd.io/proxy-<kind>` labels), naming the workload.
pub const LINKERD_WORKLOAD_LABELS: &[&str] = &[
    "namespace",
    "deployment",
    "statefulset",
    "daemonset",
    "job",
    "cronjob",
    "replicaset",
];

/// The families queried: one query each.
pub const FAMILIES: &[Family] = &[
    Family {
        mesh: Mesh::Linkerd,
        metric: "response_total",
        by: &["direction", "classification", "status_code", "error"],
    },
    Family {
        mesh: Mesh::Linkerd,
        metric: "outbound_http_errors_total",
        by: &["error"],
    },
    Family {
        mesh: Mesh::Linkerd,
        metric: "inbound_http_errors_total",
        by: &["error"],
    },
    Family {
        mesh: Mesh::Linkerd,
        metric: "outbound_http_route_request_statuses_total",
        by: &["error", "http_status"],
    },
    Family {
        mesh: Mesh::Istio,
        metric: "istio_requests_total",
        by: &[
            "reporter",
            "source_workload",
            "source_workload_namespace",
            "destination_workload",
            "destination_workload_namespace",
            "response_code",
            "response_flags",
        ],
    },
];

impl Family {
    /// All labels of the `sum by`.
    fn labels(&self) -> Vec<&'static str> {
        let mut v: Vec<&str> = match self.mesh {
            Mesh::Linkerd => LINKERD_WORKLOAD_LABELS.to_vec(),
            _ => Vec::new(),
        };
        v.extend(self.by.iter().copied());
        v
    }

    /// The query: the counter's increase over `window`, or, for series
    /// Prometheus holds only one sample of (a fresh scrape, a proxy that
    /// just started), the counter itself: `or` fills in only the label sets
    /// the increase lacks. `namespaces` narrows it to those namespaces.
    pub fn promql(&self, window: Duration, namespaces: Option<&[String]>) -> String {
        let by = self.labels().join(", ");
        let m = self.metric;
        // One namespace by equality, several by an (anchored) alternation:
        // namespace names are DNS labels, nothing in them needs escaping.
        let matcher = namespaces.map(|n| match n {
            [one] => format!("=\"{one}\""),
            many => format!("=~\"{}\"", many.join("|")),
        });
        // Istio: a request is the namespace's when either end is in it.
        let sels: Vec<String> = match (matcher, self.mesh) {
            (Some(ns), Mesh::Istio) => vec![
                format!("{{source_workload_namespace{ns}}}"),
                format!("{{destination_workload_namespace{ns}}}"),
            ],
            (Some(ns), _) => vec![format!("{{namespace{ns}}}")],
            (None, _) => vec![String::new()],
        };
        let secs = window.as_secs().max(60);
        let inc: Vec<String> = sels
            .iter()
            .map(|s| format!("increase({m}{s}[{secs}s])"))
            .collect();
        let raw: Vec<String> = sels.iter().map(|s| format!("{m}{s}")).collect();
        format!(
            "sum by ({by}) ({}) or sum by ({by}) ({})",
            inc.join(" or "),
            raw.join(" or ")
        )
    }
}

/// A workload as Prometheus labels name it: (namespace, kind, name);
/// `kind` is empty when the labels do not say (Istio's `*_workload`).
pub type WorkloadId = (String, String, String);

/// Splits one series of `fam` into the workload(s) it belongs to, each with
/// the direction and the sample the rules read (the metric name and the
/// family's labels, workload labels dropped).
pub fn attribute(fam: &Family, s: &Series) -> Vec<(WorkloadId, Direction, MetricSample)> {
    let get = |k: &str| s.labels.get(k).map(String::as_str).unwrap_or("");
    let sample = MetricSample {
        name: fam.metric.to_string(),
        labels: fam
            .by
            .iter()
            .filter(|k| !get(k).is_empty())
            .map(|k| (k.to_string(), get(k).to_string()))
            .collect(),
        value: s.value,
        at: None,
    };
    match fam.mesh {
        Mesh::Istio => {
            let (ns, name, dir) = match get("reporter") {
                "destination" => (
                    get("destination_workload_namespace"),
                    get("destination_workload"),
                    Direction::Inbound,
                ),
                _ => (
                    get("source_workload_namespace"),
                    get("source_workload"),
                    Direction::Outbound,
                ),
            };
            if ns.is_empty() || name.is_empty() || name == "unknown" {
                return Vec::new();
            }
            vec![((ns.into(), String::new(), name.into()), dir, sample)]
        }
        _ => {
            let ns = get("namespace");
            let kinds = [
                ("deployment", "Deployment"),
                ("statefulset", "StatefulSet"),
                ("daemonset", "DaemonSet"),
                ("cronjob", "CronJob"),
                ("job", "Job"),
            ];
            let Some((kind, name)) = kinds
                .iter()
                .find(|(l, _)| !get(l).is_empty())
                .map(|(l, k)| (*k, get(l)))
            else {
                return Vec::new();
            };
            if ns.is_empty() {
                return Vec::new();
            }
            let dir = match (fam.metric, get("direction")) {
                ("inbound_http_errors_total", _) | (_, "inbound") => Direction::Inbound,
                _ => Direction::Outbound,
            };
            vec![((ns.into(), kind.into(), name.into()), dir, sample)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_namespace_is_matched_by_equality_and_several_by_an_alternation() {
        let w = Duration::from_secs(600);
        let one = vec!["shop".to_string()];
        let two = vec!["shop".to_string(), "web".to_string()];
        let linkerd = &FAMILIES[1];
        assert!(
            linkerd
                .promql(w, Some(&one))
                .contains("outbound_http_errors_total{namespace=\"shop\"}[600s]")
        );
        assert!(
            linkerd
                .promql(w, Some(&two))
                .contains("outbound_http_errors_total{namespace=~\"shop|web\"}[600s]")
        );
        let istio = FAMILIES.iter().find(|f| f.mesh == Mesh::Istio).unwrap();
        let q = istio.promql(w, Some(&two));
        assert!(
            q.contains("{source_workload_namespace=~\"shop|web\"}"),
            "{q}"
        );
        assert!(
            q.contains("{destination_workload_namespace=~\"shop|web\"}"),
            "{q}"
        );
        assert!(!linkerd.promql(w, None).contains('{'));
    }

    #[test]
    fn a_vector_answer_becomes_series_and_an_error_answer_says_why() {
        let ok = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"namespace":"shop","deployment":"web","error":"failfast"},"value":[1700000000.1,"12"]}]}}"#;
        let s = parse_response(ok).ok().unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].value, 12.0);
        assert_eq!(s[0].labels["deployment"], "web");
        let bad = r#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#;
        assert!(
            matches!(parse_response(bad), Err(Parsed::Rejected(m)) if m.contains("parse error"))
        );
        assert!(matches!(parse_response("<html>"), Err(Parsed::Bad(_))));
    }

    #[test]
    fn series_are_attributed_to_the_workload_their_labels_name() {
        let fam = &FAMILIES[0];
        let s = Series {
            labels: [
                ("namespace", "shop"),
                ("deployment", "web"),
                ("direction", "outbound"),
                ("classification", "failure"),
                ("status_code", "504"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            value: 3.0,
        };
        let a = attribute(fam, &s);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].0, ("shop".into(), "Deployment".into(), "web".into()));
        assert_eq!(a[0].1, Direction::Outbound);
        assert_eq!(a[0].2.label("status_code"), Some("504"));
        // Older viz installs without workload labels: nothing to attribute.
        let bare = Series {
            labels: BTreeMap::new(),
            value: 1.0,
        };
        assert!(attribute(fam, &bare).is_empty());
    }

    #[test]
    fn a_prometheus_that_does_not_answer_times_out_within_the_timeout() {
        crate::collect::cluster::client::install_crypto_provider();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            // Accepts connections and never answers.
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let hold = tokio::spawn(async move {
                let mut held = Vec::new();
                while let Ok((c, _)) = l.accept().await {
                    held.push(c);
                }
            });
            let p = Prometheus::url(&format!("http://{addr}"), Duration::from_millis(300)).unwrap();
            let t = std::time::Instant::now();
            let e = p.query("vector(1)").await.unwrap_err();
            assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
            assert!(matches!(e, PromError::Timeout(..)), "{e}");
            assert!(e.to_string().contains("--timeout of 0.3s"), "{e}");
            hold.abort();
        });
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("a{b=\"c\"} [5m]"), "a%7Bb%3D%22c%22%7D%20%5B5m%5D");
    }
}
