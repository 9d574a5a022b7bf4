//! Fleet collection for `meshdoc diagnose ns/NAME` and `diagnose -A`: the
//! workloads of a namespace or cluster and their runtime signals, read with
//! a bounded number of requests whatever the number of pods.
//!
//! Objects come from the LISTs of [`cluster::inventory`] (what `check
//! --cluster` reads), never from a call per pod. Workloads are grouped from
//! the pods' ownerReferences (a ReplicaSet's name minus the pod's
//! `pod-template-hash` is its Deployment, so ReplicaSets need no LIST).
//! Runtime signals come from Prometheus, one query per signal family
//! ([`prometheus::FAMILIES`]), or, without one, from at most `max_requests`
//! proxy scrapes through the pod proxy, one pod per workload, worst first.

use super::cluster::{self, Failure, Family as Fam};
use super::prometheus::{self, Direction, Prometheus, WorkloadId};
use crate::evidence::MetricSample;
use crate::rules::Mesh;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// One workload: the controller its pods belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub namespace: String,
    /// `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `CronJob`, or `Pod` for a bare pod.
    pub kind: String,
    pub name: String,
    pub mesh: Option<Mesh>,
    /// Pod names, worst first (not ready, most restarts).
    pub pods: Vec<String>,
    pub not_ready: usize,
    pub restarts: u64,
}

impl Workload {
    pub fn id(&self) -> WorkloadId {
        (self.namespace.clone(), self.kind.clone(), self.name.clone())
    }
}

/// A runtime sample attributed to a workload.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeSample {
    pub direction: Direction,
    pub sample: MetricSample,
}

/// Where the runtime signals came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Source {
    /// PromQL against this Prometheus.
    Prometheus { at: String, queries: u64 },
    /// Proxy scrapes through the pod proxy.
    PodProxy { scraped: usize, workloads: usize },
    /// None could be read.
    None,
}

/// What `--prometheus` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromChoice {
    Url(String),
    /// Look for linkerd-viz's or istio-system's Prometheus through the service proxy.
    Discover,
    /// Scrape proxies only.
    Off,
}

/// The runtime half of a fleet collection.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub source: Source,
    pub samples: BTreeMap<WorkloadId, Vec<RuntimeSample>>,
    /// PromQL sent, in order.
    pub queries: Vec<String>,
    /// API requests made (scrapes, or queries through the service proxy).
    pub api_requests: u64,
    pub failures: Vec<Failure>,
    pub notes: Vec<String>,
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// The workload a pod belongs to: (kind, name).
pub fn owner_of(pod: &Value) -> (String, String) {
    let refs = pod
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array);
    let owner = refs.and_then(|a| {
        a.iter()
            .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
            .or_else(|| a.first())
    });
    let name = s(pod, "/metadata/name").to_string();
    let Some(o) = owner else {
        return ("Pod".into(), name);
    };
    let (kind, oname) = (s(o, "/kind"), s(o, "/name"));
    match kind {
        "ReplicaSet" => {
            let hash = s(pod, "/metadata/labels/pod-template-hash");
            match oname.strip_suffix(&format!("-{hash}")) {
                Some(d) if !hash.is_empty() => ("Deployment".into(), d.to_string()),
                _ => ("ReplicaSet".into(), oname.to_string()),
            }
        }
        // A CronJob's Job is named `<cronjob>-<scheduled minute>`.
        "Job" => match oname.rsplit_once('-') {
            Some((cj, n)) if n.len() >= 8 && n.bytes().all(|b| b.is_ascii_digit()) => {
                ("CronJob".into(), cj.to_string())
            }
            _ => ("Job".into(), oname.to_string()),
        },
        "" => ("Pod".into(), name),
        k => (k.to_string(), oname.to_string()),
    }
}

fn not_ready(p: &Value) -> bool {
    p.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) != Some("True")
            })
        })
}

fn restarts(p: &Value) -> u64 {
    p.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.get("restartCount").and_then(Value::as_u64))
                .sum()
        })
        .unwrap_or(0)
}

/// A workload's pods as triage weighs them: (not ready, restarts, name).
type PodStates = Vec<(bool, u64, String)>;

/// Groups the listed pods by workload, plus controllers listed without pods
/// (scaled to zero). Sorted by namespace and name.
pub fn workloads<'a>(objects: impl IntoIterator<Item = &'a Value> + Clone) -> Vec<Workload> {
    let mut by: BTreeMap<WorkloadId, (Workload, PodStates)> = BTreeMap::new();
    // A namespace's injection label or annotation meshes workloads without pods.
    let ns_mesh: BTreeMap<&str, Mesh> = objects
        .clone()
        .into_iter()
        .filter(|o| s(o, "/kind") == "Namespace")
        .filter_map(|o| Some((s(o, "/metadata/name"), cluster::injection_mesh(o)?)))
        .collect();
    for o in objects {
        let kind = s(o, "/kind");
        let ns = s(o, "/metadata/namespace").to_string();
        match kind {
            "Pod" => {
                let (k, n) = owner_of(o);
                let mesh = serde_json::from_value::<Pod>(o.clone())
                    .ok()
                    .as_ref()
                    .and_then(cluster::detect_mesh);
                let e = by
                    .entry((ns.clone(), k.clone(), n.clone()))
                    .or_insert_with(|| {
                        (
                            Workload {
                                namespace: ns,
                                kind: k,
                                name: n,
                                mesh: None,
                                pods: Vec::new(),
                                not_ready: 0,
                                restarts: 0,
                            },
                            Vec::new(),
                        )
                    });
                let (nr, rs) = (not_ready(o), restarts(o));
                e.0.mesh = e.0.mesh.or(mesh);
                e.0.not_ready += nr as usize;
                e.0.restarts += rs;
                e.1.push((nr, rs, s(o, "/metadata/name").to_string()));
            }
            "Deployment" | "StatefulSet" | "DaemonSet" => {
                let name = s(o, "/metadata/name").to_string();
                let mesh = o
                    .pointer("/spec/template")
                    .and_then(cluster::injection_mesh)
                    .or_else(|| ns_mesh.get(ns.as_str()).copied());
                by.entry((ns.clone(), kind.to_string(), name.clone()))
                    .or_insert_with(|| {
                        (
                            Workload {
                                namespace: ns,
                                kind: kind.to_string(),
                                name,
                                mesh,
                                pods: Vec::new(),
                                not_ready: 0,
                                restarts: 0,
                            },
                            Vec::new(),
                        )
                    });
            }
            _ => {}
        }
    }
    by.into_values()
        .map(|(mut w, mut pods)| {
            pods.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
            w.pods = pods.into_iter().map(|p| p.2).collect();
            w
        })
        .collect()
}

/// Reads runtime signals: Prometheus first (when `choice` allows), else
/// proxy scrapes of `workloads` in the order given (worst first), at most
/// `max_requests` of them.
pub async fn runtime(
    client: kube::Client,
    workloads: &[Workload],
    choice: &PromChoice,
    namespaces: Option<&[String]>,
    since: Duration,
    max_requests: usize,
    timeout: Duration,
) -> Runtime {
    let mut rt = Runtime {
        source: Source::None,
        samples: BTreeMap::new(),
        queries: Vec::new(),
        api_requests: 0,
        failures: Vec::new(),
        notes: Vec::new(),
    };
    let prom = match choice {
        PromChoice::Off => None,
        PromChoice::Url(u) => match Prometheus::url(u, timeout) {
            Ok(p) => Some(p),
            Err(e) => {
                rt.notes.push(format!("{e}; falling back to proxy scrapes"));
                None
            }
        },
        PromChoice::Discover => discover(&client, timeout, &mut rt).await,
    };
    if let Some(p) = prom {
        match query_families(&p, workloads, namespaces, since, &mut rt).await {
            Ok(()) => return rt,
            Err(e) => {
                rt.prometheus_failed(&p, &e);
                rt.notes.push(format!(
                    "Prometheus at {} could not be queried; fell back to proxy scrapes through the pod proxy",
                    p.describe()
                ));
                rt.samples.clear();
            }
        }
    }
    scrape(client, workloads, max_requests, timeout, &mut rt).await;
    rt
}

impl Runtime {
    /// A Prometheus that was found but could not be read: a failure of the
    /// metrics family, reported with the rest.
    fn prometheus_failed(&mut self, p: &Prometheus, e: &prometheus::PromError) {
        self.failures.push(Failure {
            what: format!("Prometheus at {}", p.describe()),
            reason: e.to_string(),
            family: Fam::Metrics,
            resource: None,
            namespace: None,
        });
    }
}

/// Probes each [`prometheus::CANDIDATES`] with `vector(1)`; the first that
/// answers is used. What did not answer is a note, not a failure: most
/// clusters have one of them at most.
async fn discover(
    client: &kube::Client,
    timeout: Duration,
    rt: &mut Runtime,
) -> Option<Prometheus> {
    for (ns, svc, port) in prometheus::CANDIDATES {
        let p = Prometheus::service_proxy(client.clone(), ns, svc, *port, timeout);
        rt.api_requests += 1;
        rt.queries.push("vector(1)".into());
        match p.query("vector(1)").await {
            Ok(_) => return Some(p),
            // Something answers there, too slowly: a failure to read, not
            // an absence.
            Err(e @ prometheus::PromError::Timeout(..)) => {
                rt.prometheus_failed(&p, &e);
                rt.notes.push(format!(
                    "{e}; fell back to proxy scrapes through the pod proxy unless another Prometheus answers"
                ));
            }
            Err(e) => rt.notes.push(format!("no Prometheus found: {e}")),
        }
    }
    None
}

/// Runs every family's query concurrently; an error in any fails the lot
/// (a half-read Prometheus would rank workloads on half their signals).
async fn query_families(
    p: &Prometheus,
    workloads: &[Workload],
    namespaces: Option<&[String]>,
    since: Duration,
    rt: &mut Runtime,
) -> Result<(), prometheus::PromError> {
    let qs: Vec<(&prometheus::Family, String)> = prometheus::FAMILIES
        .iter()
        .map(|f| (f, f.promql(since, namespaces)))
        .collect();
    let answers = futures::future::join_all(qs.iter().map(|(_, q)| p.query(q))).await;
    rt.queries.extend(qs.iter().map(|(_, q)| q.clone()));
    if p.via_api_server() {
        rt.api_requests += qs.len() as u64;
    }
    // Istio names a workload without its kind: resolve it among the listed ones.
    let mut by_name: BTreeMap<(String, String), WorkloadId> = BTreeMap::new();
    for w in workloads {
        by_name
            .entry((w.namespace.clone(), w.name.clone()))
            .or_insert_with(|| w.id());
    }
    for ((fam, _), ans) in qs.iter().zip(answers) {
        for series in ans? {
            for (id, direction, sample) in prometheus::attribute(fam, &series) {
                let id = if id.1.is_empty() {
                    by_name
                        .get(&(id.0.clone(), id.2.clone()))
                        .cloned()
                        .unwrap_or((id.0, "Workload".into(), id.2))
                } else {
                    id
                };
                rt.samples
                    .entry(id)
                    .or_default()
                    .push(RuntimeSample { direction, sample });
            }
        }
    }
    rt.source = Source::Prometheus {
        at: p.describe(),
        queries: p.queries.load(std::sync::atomic::Ordering::Relaxed),
    };
    Ok(())
}

/// The direction a scraped sample describes for the pod that served it.
fn direction_of(s: &MetricSample) -> Direction {
    match (s.label("direction"), s.label("reporter")) {
        (Some("inbound"), _) | (_, Some("destination")) => Direction::Inbound,
        _ if s.name.starts_with("inbound_") => Direction::Inbound,
        _ => Direction::Outbound,
    }
}

async fn scrape(
    client: kube::Client,
    workloads: &[Workload],
    max_requests: usize,
    timeout: Duration,
    rt: &mut Runtime,
) {
    let meshed: Vec<&Workload> = workloads
        .iter()
        .filter(|w| w.mesh.is_some() && !w.pods.is_empty())
        .collect();
    let chosen: Vec<&Workload> = meshed.iter().take(max_requests).copied().collect();
    if meshed.len() > chosen.len() {
        rt.failures.push(Failure {
            what: format!(
                "proxy metrics of {} of {} meshed workloads",
                meshed.len() - chosen.len(),
                meshed.len()
            ),
            reason: format!(
                "over the --max-requests budget of {max_requests} scrapes (give --prometheus URL to read every workload)"
            ),
            family: Fam::Metrics,
            resource: Some("pods/proxy"),
            namespace: None,
        });
    }
    let jobs = chosen.iter().map(|w| {
        let client = client.clone();
        let pod = w.pods[0].clone();
        let ns = w.namespace.clone();
        let (port, path) = cluster::metrics_path(w.mesh.unwrap_or(Mesh::Linkerd));
        async move {
            let url = format!("/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy/{path}");
            let out = match http::Request::get(&url).body(Vec::new()) {
                Ok(req) => client.request_text(req).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            (
                w.id(),
                format!("proxy metrics of {ns}/{pod} (:{port}/{path})"),
                out,
            )
        }
    });
    let all = futures::stream::iter(jobs)
        .buffer_unordered(cluster::CONCURRENCY)
        .collect::<Vec<_>>();
    let results = match tokio::time::timeout(timeout, all).await {
        Ok(r) => r,
        Err(_) => {
            rt.failures.push(Failure {
                what: "proxy scrapes".into(),
                reason: format!("--timeout of {}s reached", timeout.as_secs()),
                family: Fam::Metrics,
                resource: Some("pods/proxy"),
                namespace: None,
            });
            Vec::new()
        }
    };
    rt.api_requests += chosen.len() as u64;
    let mut scraped = 0;
    for (id, what, out) in results {
        match out {
            Ok(text) => {
                scraped += 1;
                let (samples, _) = crate::evidence::metrics::parse(&text);
                rt.samples
                    .entry(id)
                    .or_default()
                    .extend(samples.into_iter().map(|sample| RuntimeSample {
                        direction: direction_of(&sample),
                        sample,
                    }));
            }
            Err(e) => rt.failures.push(Failure {
                what,
                reason: format!("the pod proxy failed: {e}"),
                family: Fam::Metrics,
                resource: Some("pods/proxy"),
                namespace: Some(id.0),
            }),
        }
    }
    rt.source = if scraped > 0 {
        Source::PodProxy {
            scraped,
            workloads: meshed.len(),
        }
    } else {
        Source::None
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pods_group_into_their_controllers_without_listing_replicasets() {
        let pod = |name: &str, kind: &str, owner: &str, hash: &str| {
            json!({"kind": "Pod", "metadata": {"name": name, "namespace": "shop",
                "labels": {"pod-template-hash": hash},
                "ownerReferences": [{"kind": kind, "name": owner, "controller": true}]}})
        };
        let objs = vec![
            pod("web-5f7b9c-a", "ReplicaSet", "web-5f7b9c", "5f7b9c"),
            pod("web-5f7b9c-b", "ReplicaSet", "web-5f7b9c", "5f7b9c"),
            pod("ledger-0", "StatefulSet", "ledger", ""),
            pod("settle-28930140-q8w7e", "Job", "settle-28930140", ""),
            json!({"kind": "Pod", "metadata": {"name": "debug", "namespace": "shop"}}),
            json!({"kind": "Deployment", "metadata": {"name": "payments", "namespace": "shop"}}),
        ];
        let ws: Vec<(String, String, usize)> = workloads(&objs)
            .into_iter()
            .map(|w| (w.kind, w.name, w.pods.len()))
            .collect();
        assert_eq!(
            ws,
            vec![
                ("CronJob".into(), "settle".into(), 1),
                ("Deployment".into(), "payments".into(), 0),
                ("Deployment".into(), "web".into(), 2),
                ("Pod".into(), "debug".into(), 1),
                ("StatefulSet".into(), "ledger".into(), 1),
            ]
        );
    }
}
