//! Live, read-only collection from a cluster for `meshdoc diagnose pod/x`.
//!
//! Fetches the neighbourhood of a workload, not the cluster: the target's
//! pods, their owners and Events, proxy and app logs, proxy metrics through
//! the API server's pod proxy, the Services selecting and called by the pod
//! with their EndpointSlices and backends, NetworkPolicies, and the mesh's
//! own objects. Only GET requests, label/field selectors, paginated lists,
//! at most [`CONCURRENCY`] requests in flight, and only what the loaded rules
//! need ([`Needs`]). Whatever cannot be read (403, a missing CRD, a failed pod
//! proxy, the `--timeout`) becomes a [`Failure`] and the collection goes on.

pub mod client;
pub mod resources;
pub mod select;
pub mod target;

use crate::report::Missing;
use crate::rules::{Mesh, RuleSet, SignalKind};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams, LogParams};
use resources::{Place, Resource, Scope};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
pub use target::{MeshChoice, Target, WorkloadKind};

/// Requests in flight at once: enough to hide latency, few enough not to
/// trip API priority and fairness on a busy cluster.
pub const CONCURRENCY: usize = 8;
/// Pods of a Deployment/Service examined in depth (logs, metrics, Events).
pub const MAX_PODS: usize = 3;
/// Services the pod calls that are followed (by how often they appear).
pub const MAX_CALLED: usize = 5;
/// Page size of every LIST.
pub const PAGE: u32 = 500;
/// Upper bound on one container's log, whatever `--tail` says.
pub const MAX_LOG_BYTES: i64 = 16 * 1024 * 1024;

/// Container names that mark a meshed pod.
pub const LINKERD_PROXY: &str = "linkerd-proxy";
pub const ISTIO_PROXY: &str = "istio-proxy";

/// What the loaded rules need, so a run collects only that.
#[derive(Debug, Clone, Default)]
pub struct Needs {
    /// Some rule has a text or access-log signal.
    pub logs: bool,
    /// Some rule has a metric signal.
    pub metrics: bool,
    /// Fact names used by `fact:` signals.
    pub facts: BTreeSet<String>,
    /// Collect every object regardless of rules (for `--save-bundle`).
    pub everything: bool,
}

impl Needs {
    /// Everything, for bundles that may be read later with other rules.
    pub fn everything() -> Self {
        Needs {
            logs: true,
            metrics: true,
            facts: BTreeSet::new(),
            everything: true,
        }
    }

    /// Derived from the rules' signal families.
    pub fn from_rules(rules: &RuleSet) -> Self {
        let mut n = Needs::default();
        for s in rules.rules.iter().flat_map(|r| r.signals.iter()) {
            match &s.kind {
                SignalKind::Text { .. } | SignalKind::Access(_) => n.logs = true,
                SignalKind::Metric(_) => n.metrics = true,
                SignalKind::Fact(f) => {
                    n.facts.insert(f.clone());
                }
                SignalKind::Http(_) => {}
            }
        }
        n
    }

    /// Whether objects of `r` are worth a request.
    pub fn wants(&self, r: &Resource) -> bool {
        self.everything
            || (!self.facts.is_empty() && r.facts.is_empty())
            || r.facts.iter().any(|f| self.facts.contains(*f))
    }
}

/// What one live collection is asked to do.
#[derive(Debug, Clone)]
pub struct Request {
    pub target: Target,
    pub namespace: String,
    /// Logs newer than this (`--since`).
    pub since: Duration,
    /// At most this many lines per container (`--tail`).
    pub tail: u64,
    /// The whole collection must finish within this (`--timeout`).
    pub timeout: Duration,
    pub mesh: MeshChoice,
    pub needs: Needs,
}

/// Which evidence family a failure takes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Logs,
    Metrics,
    Objects,
}

/// Something that could not be collected, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    pub what: String,
    pub reason: String,
    pub family: Family,
    /// The resource key of [`resources::RESOURCES`] when it was an object read.
    pub resource: Option<&'static str>,
    /// The namespace read, when the read named one (`None`: cluster-wide).
    #[serde(skip)]
    pub namespace: Option<String>,
}

impl Failure {
    /// Why, in one word for a metric label: `forbidden`, `not_found`,
    /// `timeout` or `error` (the reasons this module writes).
    pub fn reason_class(&self) -> &'static str {
        let r = self.reason.as_str();
        if r.contains("forbidden (403)") {
            "forbidden"
        } else if r.contains("(404)") {
            "not_found"
        } else if r.starts_with("--timeout") {
            "timeout"
        } else {
            "error"
        }
    }
}

/// One container's log.
#[derive(Debug, Clone)]
pub struct LogText {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    /// The previous (crashed) instance's log.
    pub previous: bool,
    pub text: String,
}

/// One proxy metrics scrape.
#[derive(Debug, Clone)]
pub struct MetricsText {
    pub namespace: String,
    pub pod: String,
    /// `4191/proxy/metrics`, `15020/proxy/stats/prometheus`.
    pub source: String,
    pub text: String,
}

/// Everything one collection gathered.
#[derive(Debug, Clone, Default)]
pub struct Collection {
    pub target: String,
    pub namespace: String,
    /// The API server URL.
    pub server: String,
    pub mesh: Option<Mesh>,
    /// Pods examined in depth.
    pub pods: Vec<String>,
    /// Objects with `apiVersion` and `kind` set, deduplicated.
    pub objects: Vec<Value>,
    /// Events of the examined pods.
    pub events: Vec<Value>,
    pub logs: Vec<LogText>,
    pub metrics: Vec<MetricsText>,
    pub failures: Vec<Failure>,
    /// Resource label → objects seen, for "what I looked at".
    pub looked_at: BTreeMap<String, usize>,
    /// Human notes ("CiliumNetworkPolicies: CRD not installed").
    pub notes: Vec<String>,
    /// `namespace/name` of Services the pod calls, from logs and metrics.
    pub called: Vec<String>,
    /// API requests made.
    pub requests: u64,
    pub started_at: String,
    pub elapsed: Duration,
    /// Identity of objects already added (apiVersion, kind, namespace, name).
    pub(crate) seen: HashSet<(String, String, String, String)>,
}

impl Collection {
    fn add_object(&mut self, v: Value) {
        let key = (
            v.get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            v.get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            v.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            v.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        );
        if self.seen.insert(key) {
            self.objects.push(v);
        }
    }

    /// Failures as report entries, naming the rules each leaves unevaluated.
    pub fn missing(&self, rules: &RuleSet) -> Vec<Missing> {
        self.failures
            .iter()
            .map(|f| Missing {
                what: f.what.clone(),
                reason: f.reason.clone(),
                rules: affected_rules(rules, f),
            })
            .collect()
    }
}

/// Ids of rules with a signal that the failure leaves without evidence.
pub fn affected_rules(rules: &RuleSet, f: &Failure) -> Vec<String> {
    let facts: &[&str] = f
        .resource
        .and_then(resources::by_key)
        .map(|r| r.facts)
        .unwrap_or(&[]);
    rules
        .rules
        .iter()
        .filter(|r| {
            r.signals.iter().any(|s| match (&s.kind, f.family) {
                (SignalKind::Text { .. } | SignalKind::Access(_), Family::Logs) => true,
                (SignalKind::Metric(_), Family::Metrics) => true,
                (SignalKind::Fact(n), Family::Objects) => {
                    f.resource.is_none() || facts.contains(&n.as_str())
                }
                _ => false,
            })
        })
        .map(|r| r.id.clone())
        .collect()
}

/// A collection that could not even start.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("{0} not found in namespace {1}")]
    NotFound(String, String),
    #[error("cannot read {0} in namespace {1}: {2}")]
    Target(String, String, String),
    #[error("timed out after {0:?} before {1} could be read")]
    Timeout(Duration, String),
}

/// Why one API read failed.
#[derive(Debug, Clone)]
enum Fail {
    Forbidden(String),
    NotFound,
    Other(String),
}

impl Fail {
    fn from(e: kube::Error) -> Fail {
        match e {
            kube::Error::Api(s) if s.code == 403 => Fail::Forbidden(s.message.clone()),
            kube::Error::Api(s) if s.code == 404 => Fail::NotFound,
            kube::Error::Api(s) => Fail::Other(format!(
                "HTTP {}{}",
                s.code,
                if s.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", first_line(&s.message))
                }
            )),
            other => Fail::Other(transport_cause(&other)),
        }
    }

    fn reason(&self) -> String {
        match self {
            Fail::Forbidden(m) => format!(
                "forbidden (403){}; see `meshdoc rbac` for the permissions meshdoc needs",
                if m.is_empty() {
                    String::new()
                } else {
                    format!(": {}", first_line(m))
                }
            ),
            Fail::NotFound => "not found (404)".into(),
            Fail::Other(m) => m.clone(),
        }
    }
}

fn first_line(s: &str) -> String {
    crate::report::sanitize::clip(s.lines().next().unwrap_or("").trim(), 200)
}

/// A read in flight: what it reads, the family it feeds, its resource key.
type PendingRead = (String, Family, Option<&'static str>, Option<String>);

/// The reads of one run and what they gathered; tasks record into it as
/// they finish, so a timeout still leaves everything gathered so far.
struct Reader {
    client: kube::Client,
    state: Mutex<Collection>,
    /// Reads started and not finished: what a timeout cut off.
    pending: Mutex<BTreeMap<u64, PendingRead>>,
    next_id: Mutex<u64>,
    /// A mesh's API or object that is not there (404) is a note, not missing
    /// evidence: a whole-cluster read does not presume which mesh runs.
    absent_mesh_is_note: bool,
    /// Page size of LISTs ([`PAGE`] unless a whole-cluster read asks for more).
    page: u32,
    /// Drop what no object rule reads from listed objects ([`trim`]): a
    /// whole-scope read keeps thousands of them at once.
    trim: bool,
}

/// One diagnosis: the reader plus what the target asks for.
struct Ctx {
    reader: Reader,
    req: Request,
    /// Services of the target namespace (one LIST), filtered later.
    services: Mutex<Option<Vec<Value>>>,
}

impl std::ops::Deref for Ctx {
    type Target = Reader;
    fn deref(&self) -> &Reader {
        &self.reader
    }
}

impl Reader {
    fn new(client: kube::Client, c: Collection) -> Reader {
        Reader {
            client,
            state: Mutex::new(c),
            pending: Mutex::new(BTreeMap::new()),
            next_id: Mutex::new(0),
            absent_mesh_is_note: false,
            page: PAGE,
            trim: false,
        }
    }

    /// Takes the collection out, turning reads still pending into failures
    /// when `timed_out` (with `--timeout`'s reason).
    fn finish(&self, timed_out: Option<Duration>, started: Instant) -> Collection {
        let mut c = self.with(std::mem::take);
        c.elapsed = started.elapsed();
        if let Some(timeout) = timed_out {
            let pending: Vec<_> = self
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .cloned()
                .collect();
            let reason = format!(
                "--timeout of {}s reached; results are partial",
                timeout.as_secs_f64()
            );
            for (what, family, res, namespace) in pending {
                c.failures.push(Failure {
                    what,
                    reason: reason.clone(),
                    family,
                    resource: res,
                    namespace,
                });
            }
            c.failures.push(Failure {
                what: "the rest of the collection".into(),
                reason,
                family: Family::Objects,
                resource: None,
                namespace: None,
            });
        }
        c
    }

    fn with<R>(&self, f: impl FnOnce(&mut Collection) -> R) -> R {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    fn begin(
        &self,
        what: String,
        family: Family,
        res: Option<&'static str>,
        ns: Option<&str>,
    ) -> u64 {
        let mut id = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
        *id += 1;
        let n = *id;
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(n, (what, family, res, ns.map(str::to_string)));
        n
    }

    fn end(&self, id: u64) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    fn count_request(&self) {
        self.with(|c| c.requests += 1);
    }

    fn fail(
        &self,
        what: String,
        reason: String,
        family: Family,
        res: Option<&'static str>,
        ns: Option<&str>,
    ) {
        self.with(|c| {
            c.failures.push(Failure {
                what,
                reason,
                family,
                resource: res,
                namespace: ns.map(str::to_string),
            })
        });
    }

    fn looked(&self, label: &str, n: usize) {
        self.with(|c| *c.looked_at.entry(label.to_string()).or_default() += n);
    }

    fn api(&self, r: &Resource, ns: Option<&str>) -> Api<DynamicObject> {
        let ar = r.api_resource();
        match (r.scope, ns) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &ar),
            _ => Api::all_with(self.client.clone(), &ar),
        }
    }

    /// LISTs `r` with selectors, following continue tokens; objects come back
    /// with `apiVersion`/`kind` set (list items carry neither).
    async fn list(
        &self,
        r: &Resource,
        ns: Option<&str>,
        labels: Option<&str>,
        fields: Option<&str>,
        max: Option<usize>,
    ) -> Result<Vec<Value>, Fail> {
        let ar = r.api_resource();
        let path = match r.scope {
            Scope::Namespaced => <DynamicObject as kube::Resource>::url_path(&ar, ns),
            Scope::Cluster => <DynamicObject as kube::Resource>::url_path(&ar, None),
        };
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut lp = ListParams::default().limit(self.page);
            if let Some(l) = labels {
                lp = lp.labels(l);
            }
            if let Some(f) = fields {
                lp = lp.fields(f);
            }
            if let Some(t) = &token {
                lp = lp.continue_token(t);
            }
            self.count_request();
            // The page is read as plain JSON values: through `DynamicObject`
            // (a flattened map buffered per item, then copied to a Value)
            // a fleet's pods took several times their size at once.
            let req = kube::core::Request::new(&path)
                .list(&lp)
                .map_err(|e| Fail::Other(e.to_string()))?;
            let page: ListPage = self.client.request(req).await.map_err(Fail::from)?;
            for mut item in page.items {
                stamp(r, ns, &mut item);
                if self.trim {
                    trim(&mut item);
                }
                out.push(item);
            }
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() || max.is_some_and(|m| out.len() >= m) {
                break;
            }
        }
        Ok(out)
    }

    /// GETs one object; `Ok(None)` on 404.
    async fn get(&self, r: &Resource, ns: Option<&str>, name: &str) -> Result<Option<Value>, Fail> {
        self.count_request();
        match self.api(r, ns).get_opt(name).await {
            Ok(Some(o)) => Ok(Some(to_value(r, ns, &o))),
            Ok(None) => Ok(None),
            Err(e) => Err(Fail::from(e)),
        }
    }

    /// A LIST whose objects go straight into the collection (moved, not
    /// copied), with failures recorded.
    async fn list_into(
        &self,
        r: &'static Resource,
        ns: Option<&str>,
        labels: Option<&str>,
        fields: Option<&str>,
    ) {
        let what = match ns {
            Some(ns) => format!("{} in {ns}", r.label),
            None => r.label.to_string(),
        };
        let id = self.begin(what.clone(), Family::Objects, Some(r.key), ns);
        let res = self.list(r, ns, labels, fields, None).await;
        self.end(id);
        match res {
            Ok(items) => {
                self.looked(r.label, items.len());
                self.with(|c| {
                    for v in items {
                        c.add_object(v);
                    }
                });
            }
            Err(e) => self.record_fail(r, what, ns, e),
        }
    }

    /// A GET whose object goes into the collection.
    async fn get_into(&self, r: &'static Resource, ns: Option<&str>, name: &str) -> Option<Value> {
        let what = match ns {
            Some(ns) if r.scope == Scope::Namespaced => format!("{} {ns}/{name}", r.kind),
            _ => format!("{} {name}", r.kind),
        };
        let id = self.begin(what.clone(), Family::Objects, Some(r.key), ns);
        let res = self.get(r, ns, name).await;
        self.end(id);
        match res {
            Ok(Some(v)) => {
                self.looked(r.label, 1);
                self.with(|c| c.add_object(v.clone()));
                Some(v)
            }
            Ok(None) => {
                self.record_fail(r, what, ns, Fail::NotFound);
                None
            }
            Err(e) => {
                self.record_fail(r, what, ns, e);
                None
            }
        }
    }

    fn record_fail(&self, r: &'static Resource, what: String, ns: Option<&str>, e: Fail) {
        match e {
            Fail::NotFound if r.optional => {
                self.with(|c| c.notes.push(format!("{}: CRD not installed", r.label)));
            }
            // A Secret read by name for its certificates (an external
            // issuer leaves none): nothing to read is not missing evidence.
            Fail::NotFound if r.kind == "Secret" => {
                self.with(|c| c.notes.push(format!("{}: not found", r.label)));
            }
            Fail::NotFound if self.absent_mesh_is_note && r.mesh.is_some() => {
                self.with(|c| c.notes.push(format!("{}: not installed", r.label)));
            }
            Fail::NotFound if r.names.is_empty() && r.verbs.contains(&"list") => self.fail(
                what,
                format!(
                    "the {}/{} API is not served (CRD not installed?) (404)",
                    r.group, r.version
                ),
                Family::Objects,
                Some(r.key),
                ns,
            ),
            e => self.fail(what, e.reason(), Family::Objects, Some(r.key), ns),
        }
    }
}

/// Serialises an object with `apiVersion`/`kind` set and the namespace
/// filled in (the API server omits both from list items).
/// One LIST page as the API server sends it: list items carry neither
/// `apiVersion` nor `kind` ([`stamp`] adds them).
#[derive(serde::Deserialize)]
struct ListPage {
    #[serde(default)]
    metadata: ListPageMeta,
    #[serde(default)]
    items: Vec<Value>,
}

#[derive(serde::Deserialize, Default)]
struct ListPageMeta {
    #[serde(rename = "continue", default)]
    continue_: Option<String>,
}

fn to_value(r: &Resource, ns: Option<&str>, o: &DynamicObject) -> Value {
    let mut v = serde_json::to_value(o).unwrap_or(Value::Null);
    stamp(r, ns, &mut v);
    v
}

/// Removes from a listed object what the object rules never read and the
/// API server adds to every object: the `kubectl.kubernetes.io/
/// last-applied-configuration` annotation (a second copy of the object as
/// JSON text) and, on the kinds a fleet has thousands of (Pods,
/// EndpointSlices, ReplicaSets), `metadata.managedFields` (often larger than
/// the rest of a pod). The configuration objects keep theirs: `check
/// --cluster` says when and by whom each finding's object last changed.
fn trim(v: &mut Value) {
    let bulk = matches!(
        v.get("kind").and_then(Value::as_str),
        Some("Pod" | "EndpointSlice" | "ReplicaSet" | "Endpoints")
    );
    let Some(md) = v.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if bulk {
        md.remove("managedFields");
    }
    if let Some(a) = md.get_mut("annotations").and_then(Value::as_object_mut) {
        a.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// Sets `apiVersion` and `kind` (and a namespaced object's namespace when
/// the read named it) on an object read from `r`.
fn stamp(r: &Resource, ns: Option<&str>, v: &mut Value) {
    if let Some(m) = v.as_object_mut() {
        m.insert("apiVersion".into(), Value::String(r.api_version()));
        m.insert("kind".into(), Value::String(r.kind.to_string()));
        if let (Some(ns), Scope::Namespaced) = (ns, r.scope)
            && let Some(md) = m.get_mut("metadata").and_then(Value::as_object_mut)
        {
            md.entry("namespace")
                .or_insert_with(|| Value::String(ns.to_string()));
        }
    }
}

fn res(key: &str) -> &'static Resource {
    // Keys are constants checked by `resources::tests`; fall back to pods
    // rather than panic.
    resources::by_key(key).unwrap_or(&resources::RESOURCES[0])
}

/// Runs a collection against the cluster within `req.timeout`. On timeout the
/// collection returned holds everything gathered so far, plus a failure for
/// each read that was cut off.
pub async fn collect(
    client: kube::Client,
    req: Request,
    server: String,
) -> Result<Collection, CollectError> {
    let started = Instant::now();
    let timeout = req.timeout;
    let c = Collection {
        target: req.target.to_string(),
        namespace: req.namespace.clone(),
        server,
        started_at: now_rfc3339(),
        ..Collection::default()
    };
    let ctx = Arc::new(Ctx {
        reader: Reader::new(client, c),
        req,
        services: Mutex::new(None),
    });
    let run = run(ctx.clone());
    match tokio::time::timeout(timeout, run).await {
        Ok(Ok(())) => Ok(ctx.finish(None, started)),
        Ok(Err(e)) => Err(e),
        Err(_) => {
            let c = ctx.finish(Some(timeout), started);
            if c.pods.is_empty() {
                return Err(CollectError::Timeout(timeout, c.target));
            }
            Ok(c)
        }
    }
}

/// Which namespaces `check --cluster` and fleet triage read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namespaces {
    All,
    /// These namespaces (one LIST per resource in each); the Istio root
    /// namespace's config is read with them (Istio applies it mesh-wide)
    /// and the cluster-scoped objects.
    Only(Vec<String>),
}

impl Namespaces {
    /// One namespace.
    pub fn one(ns: &str) -> Namespaces {
        Namespaces::Only(vec![ns.to_string()])
    }

    /// The namespaces named, `None` for all.
    pub fn names(&self) -> Option<&[String]> {
        match self {
            Namespaces::All => None,
            Namespaces::Only(n) => Some(n),
        }
    }

    /// `namespace shop`, `namespaces shop, web` or `all namespaces`.
    pub fn describe(&self) -> String {
        match self {
            Namespaces::All => "all namespaces".into(),
            Namespaces::Only(n) if n.len() == 1 => format!("namespace {}", n[0]),
            Namespaces::Only(n) => format!("namespaces {}", n.join(", ")),
        }
    }
}

/// Reads every object the object-level rules need, for `check --cluster`:
/// LIST per resource of the table (one namespace or all), GET for the named
/// objects (the injector webhook, trust roots, mesh config). Only what
/// `needs` wants, only `mesh`'s resources when it is set. Failures (403, the
/// timeout) are recorded and the reading goes on; a mesh that is not
/// installed is a note.
pub async fn inventory(
    client: kube::Client,
    server: String,
    scope: Namespaces,
    mesh: Option<Mesh>,
    needs: &Needs,
    timeout: Duration,
) -> Collection {
    inventory_paged(client, server, scope, mesh, needs, timeout, PAGE).await
}

/// [`inventory`] with LIST pages of `page` objects: a fleet read of 10,000
/// pods in pages of 500 would spend 20 requests on pods alone.
pub async fn inventory_paged(
    client: kube::Client,
    server: String,
    scope: Namespaces,
    mesh: Option<Mesh>,
    needs: &Needs,
    timeout: Duration,
    page: u32,
) -> Collection {
    let started = Instant::now();
    let target = scope.describe();
    let namespace = match &scope {
        Namespaces::Only(n) if n.len() == 1 => n[0].clone(),
        _ => String::new(),
    };
    let c = Collection {
        target,
        namespace,
        server,
        mesh,
        started_at: now_rfc3339(),
        ..Collection::default()
    };
    let mut reader = Reader::new(client, c);
    reader.absent_mesh_is_note = true;
    reader.page = page.max(1);
    reader.trim = true;
    let rd = &reader;
    let mut jobs: Vec<BoxFuture<'_, ()>> = Vec::new();
    for r in resources::RESOURCES {
        // Logs, metrics and Events are evidence of a running request, not
        // configuration. A Secret (the issuer's: it holds a private key) is
        // read only for one target's diagnosis, never across a whole scope,
        // so `rbac --cluster-wide` need not grant it.
        if matches!(r.key, "pods/log" | "pods/proxy" | "events")
            || r.kind == "Secret"
            || !needs.wants(r)
        {
            continue;
        }
        if r.mesh.is_some() && mesh.is_some() && r.mesh != mesh {
            continue;
        }
        match (&scope, r.scope, r.place) {
            (_, _, Place::Fixed(ns)) => {
                jobs.extend(r.names.iter().map(|name| {
                    async move {
                        rd.get_into(r, Some(ns), name).await;
                    }
                    .boxed()
                }));
            }
            (_, Scope::Cluster, _) if !r.names.is_empty() => {
                jobs.extend(r.names.iter().map(|name| {
                    async move {
                        rd.get_into(r, None, name).await;
                    }
                    .boxed()
                }));
            }
            (Namespaces::Only(names), Scope::Cluster, _) if r.key == "namespaces" => {
                jobs.extend(names.iter().map(|ns| {
                    async move {
                        rd.get_into(r, None, ns).await;
                    }
                    .boxed()
                }));
            }
            (Namespaces::All, _, _) | (_, Scope::Cluster, _) => {
                jobs.push(
                    async move {
                        rd.list_into(r, None, None, None).await;
                    }
                    .boxed(),
                );
            }
            (Namespaces::Only(names), Scope::Namespaced, place) => {
                let mut in_ns = names.clone();
                if place == Place::TargetAndRoot
                    && !names.iter().any(|n| n == resources::ISTIO_ROOT)
                {
                    in_ns.push(resources::ISTIO_ROOT.to_string());
                }
                for n in in_ns {
                    jobs.push(
                        async move {
                            rd.list_into(r, Some(&n), None, None).await;
                        }
                        .boxed(),
                    );
                }
            }
        }
    }
    let all = futures::stream::iter(jobs)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>();
    let timed_out = tokio::time::timeout(timeout, all).await.is_err();
    reader.finish(timed_out.then_some(timeout), started)
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The pods the target stands for, worst first (not ready, restarting).
async fn resolve(ctx: &Ctx) -> Result<Vec<Value>, CollectError> {
    let ns = ctx.req.namespace.clone();
    let target = ctx.req.target.clone();
    let tgt = |e: Fail| CollectError::Target(target.to_string(), ns.clone(), e.reason());
    let pods_r = res("pods");
    let mut pods = match &target {
        Target::Pod(name) => match ctx.get(pods_r, Some(&ns), name).await.map_err(tgt)? {
            Some(p) => vec![p],
            None => return Err(CollectError::NotFound(target.to_string(), ns.clone())),
        },
        Target::Workload(kind, name) => {
            let r = res(kind.resource_key());
            let w = ctx
                .get(r, Some(&ns), name)
                .await
                .map_err(tgt)?
                .ok_or_else(|| CollectError::NotFound(target.to_string(), ns.clone()))?;
            ctx.looked(r.label, 1);
            let q = w
                .pointer("/spec/selector")
                .and_then(select::label_selector_query);
            ctx.with(|c| c.add_object(w));
            match q {
                Some(q) => ctx
                    .list(pods_r, Some(&ns), Some(&q), None, Some(PAGE as usize))
                    .await
                    .map_err(tgt)?,
                None => Vec::new(),
            }
        }
        Target::CronJob(name) => {
            let cj = ctx
                .get(res("cronjobs"), Some(&ns), name)
                .await
                .map_err(tgt)?
                .ok_or_else(|| CollectError::NotFound(target.to_string(), ns.clone()))?;
            ctx.looked(res("cronjobs").label, 1);
            let uid = cj
                .pointer("/metadata/uid")
                .and_then(Value::as_str)
                .map(str::to_string);
            ctx.with(|c| c.add_object(cj));
            // A CronJob has no selector of its own: its pods are those of the
            // Jobs it owns (ownerReferences, as the CronJob controller sets them).
            let jobs = ctx
                .list(res("jobs"), Some(&ns), None, None, None)
                .await
                .map_err(tgt)?;
            let owned: Vec<Value> = jobs
                .into_iter()
                .filter(|j| owned_by(j, "CronJob", name, uid.as_deref()))
                .collect();
            ctx.looked(res("jobs").label, owned.len());
            let mut pods = Vec::new();
            for j in owned {
                let q = j
                    .pointer("/spec/selector")
                    .and_then(select::label_selector_query);
                ctx.with(|c| c.add_object(j));
                let Some(q) = q else { continue };
                let found = ctx
                    .list(pods_r, Some(&ns), Some(&q), None, Some(PAGE as usize))
                    .await
                    .map_err(tgt)?;
                pods.extend(found);
            }
            pods
        }
        Target::Service(name) => {
            let s = ctx
                .get(res("services"), Some(&ns), name)
                .await
                .map_err(tgt)?
                .ok_or_else(|| CollectError::NotFound(target.to_string(), ns.clone()))?;
            ctx.looked("Services", 1);
            let sel = select::service_selector(&s);
            ctx.with(|c| c.add_object(s));
            if sel.is_empty() {
                Vec::new()
            } else {
                ctx.list(
                    pods_r,
                    Some(&ns),
                    Some(&select::map_query(&sel)),
                    None,
                    Some(PAGE as usize),
                )
                .await
                .map_err(tgt)?
            }
        }
    };
    ctx.looked("Pods", pods.len());
    pods.sort_by_key(|p| std::cmp::Reverse(badness(p)));
    ctx.with(|c| {
        for p in &pods {
            c.add_object(p.clone());
        }
    });
    Ok(pods)
}

/// Whether `obj` has an ownerReference to the `kind` named `name` (and, when
/// the owner's uid is known, with that uid: a re-created owner of the same
/// name does not adopt the old one's children).
fn owned_by(obj: &Value, kind: &str, name: &str, uid: Option<&str>) -> bool {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter().any(|o| {
                let s = |k: &str| o.get(k).and_then(Value::as_str);
                s("kind") == Some(kind)
                    && s("name") == Some(name)
                    && (uid.is_none() || s("uid").is_none() || s("uid") == uid)
            })
        })
}

/// Higher for pods more likely to show the problem.
fn badness(p: &Value) -> u64 {
    let restarts: u64 = p
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.get("restartCount").and_then(Value::as_u64))
                .sum()
        })
        .unwrap_or(0);
    let not_ready = p
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) != Some("True")
            })
        });
    restarts + if not_ready { 1000 } else { 0 }
}

/// Which mesh a pod is in: `linkerd-proxy` / `istio-proxy` as a container or
/// as a native sidecar (an init container with `restartPolicy: Always`).
pub fn detect_mesh(pod: &Pod) -> Option<Mesh> {
    let spec = pod.spec.as_ref()?;
    let names = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .map(|c| c.name.as_str());
    let mut mesh = None;
    for n in names {
        if n == LINKERD_PROXY {
            mesh = Some(Mesh::Linkerd);
        } else if n == ISTIO_PROXY && mesh.is_none() {
            mesh = Some(Mesh::Istio);
        }
    }
    mesh
}

/// The mesh an object asks to be injected into: `linkerd.io/inject`
/// annotation, `istio-injection` / `istio.io/rev` label, or
/// `sidecar.istio.io/inject`.
pub fn injection_mesh(obj: &Value) -> Option<Mesh> {
    let ann = |k: &str| {
        obj.pointer("/metadata/annotations")
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
    };
    let label = |k: &str| {
        obj.pointer("/metadata/labels")
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
    };
    if matches!(ann("linkerd.io/inject"), Some("enabled" | "ingress")) {
        Some(Mesh::Linkerd)
    } else if label("istio-injection") == Some("enabled")
        || label("istio.io/rev").is_some()
        || ann("sidecar.istio.io/inject") == Some("true")
        || label("sidecar.istio.io/inject") == Some("true")
    {
        Some(Mesh::Istio)
    } else {
        None
    }
}

/// Containers whose logs are read: the proxy and the app containers
/// (regular containers plus native-sidecar proxies), with restart counts.
fn log_containers(pod: &Pod) -> Vec<(String, i32)> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let status = pod.status.as_ref();
    let restarts = |name: &str| -> i32 {
        status
            .into_iter()
            .flat_map(|s| {
                s.container_statuses
                    .iter()
                    .flatten()
                    .chain(s.init_container_statuses.iter().flatten())
            })
            .find(|c| c.name == name)
            .map(|c| c.restart_count)
            .unwrap_or(0)
    };
    let mut out: Vec<(String, i32)> = spec
        .containers
        .iter()
        .map(|c| (c.name.clone(), restarts(&c.name)))
        .collect();
    for c in spec.init_containers.iter().flatten() {
        if c.name == LINKERD_PROXY || c.name == ISTIO_PROXY {
            out.push((c.name.clone(), restarts(&c.name)));
        }
    }
    out
}

fn is_running(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .is_some_and(|p| p == "Running")
}

async fn run(ctx: Arc<Ctx>) -> Result<(), CollectError> {
    let ctx = &*ctx;
    let pods = resolve(ctx).await?;
    let ns = ctx.req.namespace.clone();
    let typed: Vec<Pod> = pods
        .iter()
        .take(MAX_PODS)
        .filter_map(|p| serde_json::from_value(p.clone()).ok())
        .collect();
    // The namespace tells the mesh when no pod has a proxy (the injector
    // failed), and carries opaque-ports and injection annotations.
    let namespace = ctx.get_into(res("namespaces"), None, &ns).await;
    let mesh = match ctx.req.mesh {
        MeshChoice::Linkerd => Some(Mesh::Linkerd),
        MeshChoice::Istio => Some(Mesh::Istio),
        MeshChoice::Auto => typed
            .iter()
            .find_map(detect_mesh)
            .or_else(|| pods.iter().find_map(injection_mesh))
            .or_else(|| namespace.as_ref().and_then(injection_mesh)),
    };
    let names: Vec<String> = typed
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    ctx.with(|c| {
        c.mesh = mesh;
        c.pods = names.clone();
        if c.pods.is_empty() {
            c.notes.push(format!("{} has no pods", ctx.req.target));
        }
    });
    let needs = ctx.req.needs.clone();
    let pod_labels: Vec<Vec<(String, String)>> = pods.iter().map(select::labels).collect();

    // Phase 2: everything that depends only on the pods, concurrently.
    let mut jobs: Vec<BoxFuture<'_, ()>> = Vec::new();
    let mut owners_seen = BTreeSet::new();
    for pod in &typed {
        let name = pod.metadata.name.clone().unwrap_or_default();
        jobs.push(events_job(ctx, ns.clone(), name.clone()).boxed());
        for o in pod.metadata.owner_references.iter().flatten() {
            if o.kind == "ReplicaSet" && owners_seen.insert(o.name.clone()) {
                jobs.push(owner_job(ctx, ns.clone(), o.name.clone()).boxed());
            }
        }
        if needs.logs {
            for (container, restarts) in log_containers(pod) {
                jobs.push(log_job(ctx, ns.clone(), name.clone(), container.clone(), false).boxed());
                if restarts > 0 {
                    jobs.push(log_job(ctx, ns.clone(), name.clone(), container, true).boxed());
                }
            }
        }
        if needs.metrics {
            match detect_mesh(pod).or(mesh) {
                Some(m) if is_running(pod) => {
                    jobs.push(metrics_job(ctx, ns.clone(), name.clone(), m).boxed())
                }
                Some(_) => ctx.fail(
                    format!("proxy metrics of {ns}/{name}"),
                    "the pod is not running".into(),
                    Family::Metrics,
                    Some("pods/proxy"),
                    Some(&ns),
                ),
                None => {}
            }
        }
    }
    if needs.wants(res("services")) {
        jobs.push(
            async {
                let items = ctx.list(res("services"), Some(&ns), None, None, None).await;
                match items {
                    Ok(items) => {
                        *ctx.services.lock().unwrap_or_else(|p| p.into_inner()) = Some(items)
                    }
                    Err(e) => {
                        ctx.record_fail(res("services"), format!("Services in {ns}"), Some(&ns), e)
                    }
                }
            }
            .boxed(),
        );
    }
    for r in resources::RESOURCES {
        if !needs.wants(r) || !r.applies_to(mesh) {
            continue;
        }
        match r.key {
            // Read for the target and its pods, not for the neighbourhood.
            "pods" | "pods/log" | "pods/proxy" | "events" | "replicasets" | "deployments"
            | "statefulsets" | "daemonsets" | "jobs" | "cronjobs" | "services"
            | "endpointslices" | "namespaces" => continue,
            _ => {}
        }
        let namespaces: Vec<Option<String>> = match (r.scope, r.place) {
            (Scope::Cluster, _) => vec![None],
            (_, Place::Target) => vec![Some(ns.clone())],
            (_, Place::TargetAndRoot) => {
                let mut v = vec![Some(ns.clone())];
                if ns != resources::ISTIO_ROOT {
                    v.push(Some(resources::ISTIO_ROOT.to_string()));
                }
                v
            }
            (_, Place::Fixed(f)) => vec![Some(f.to_string())],
        };
        for n in namespaces {
            if let Some(name) = r.names.first() {
                jobs.push(
                    async move {
                        ctx.get_into(r, n.as_deref(), name).await;
                    }
                    .boxed(),
                );
            } else {
                jobs.push(
                    async move {
                        ctx.list_into(r, n.as_deref(), None, None).await;
                    }
                    .boxed(),
                );
            }
        }
    }
    futures::stream::iter(jobs)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;

    // Phase 3: Services selecting the pods and Services the pods call.
    let all_services = ctx
        .services
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .unwrap_or_default();
    ctx.looked("Services", 0);
    let mut in_scope: Vec<(String, String, bool)> = Vec::new(); // (ns, name, called)
    if let Target::Service(name) = &ctx.req.target {
        in_scope.push((ns.clone(), name.clone(), false));
    }
    for s in &all_services {
        let sel = select::service_selector(s);
        if pod_labels.iter().any(|l| select::map_matches(&sel, l)) {
            let name = s
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if !in_scope.iter().any(|(n, x, _)| *n == ns && *x == name) {
                in_scope.push((ns.clone(), name, false));
            }
        }
    }
    let called = ctx.with(|c| called_services(c, &ns));
    ctx.with(|c| c.called = called.iter().map(|(n, s)| format!("{n}/{s}")).collect());
    for (n, s) in called {
        if !in_scope.iter().any(|(a, b, _)| *a == n && *b == s) {
            in_scope.push((n, s, true));
        }
    }
    let mut jobs: Vec<BoxFuture<'_, ()>> = Vec::new();
    let other_ns: BTreeSet<String> = in_scope
        .iter()
        .map(|(n, _, _)| n.clone())
        .filter(|n| *n != ns)
        .collect();
    let svc_facts = needs.wants(res("services"));
    for (sns, sname, called) in in_scope.clone() {
        if !svc_facts {
            break;
        }
        let known = (sns == ns)
            .then(|| {
                all_services
                    .iter()
                    .find(|s| s.pointer("/metadata/name").and_then(Value::as_str) == Some(&sname))
                    .cloned()
            })
            .flatten();
        jobs.push(service_job(ctx, sns, sname, known, called).boxed());
    }
    for n in other_ns {
        if needs.wants(res("networkpolicies")) {
            jobs.push(
                async move {
                    ctx.list_into(res("networkpolicies"), Some(&n), None, None)
                        .await;
                }
                .boxed(),
            );
        }
    }
    futures::stream::iter(jobs)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;

    // Phase 4: a Service with no ready endpoint: which workloads could back it
    // (scaled to zero, selector typo)? Only then are Deployments listed.
    if needs.wants(res("deployments")) {
        let empty_ns: BTreeSet<String> = ctx.with(|c| {
            in_scope
                .iter()
                .filter(|(n, s, _)| ready_endpoints(&c.objects, n, s) == 0)
                .map(|(n, _, _)| n.clone())
                .collect()
        });
        let jobs = empty_ns.into_iter().map(|n| {
            async move {
                ctx.list_into(res("deployments"), Some(&n), None, None)
                    .await;
            }
            .boxed()
        });
        futures::stream::iter(jobs)
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<()>>()
            .await;
    }
    Ok(())
}

async fn events_job(ctx: &Ctx, ns: String, pod: String) {
    let r = res("events");
    let what = format!("Events of {ns}/{pod}");
    let id = ctx.begin(what.clone(), Family::Objects, Some(r.key), Some(&ns));
    let sel = format!("involvedObject.name={pod}");
    let out = ctx
        .list(r, Some(&ns), None, Some(&sel), Some(PAGE as usize))
        .await;
    ctx.end(id);
    match out {
        Ok(items) => {
            ctx.looked(r.label, items.len());
            ctx.with(|c| c.events.extend(items));
        }
        Err(e) => ctx.record_fail(r, what, Some(&ns), e),
    }
}

async fn owner_job(ctx: &Ctx, ns: String, rs: String) {
    let Some(v) = ctx.get_into(res("replicasets"), Some(&ns), &rs).await else {
        return;
    };
    // A rollout's failures are Events of its ReplicaSet (FailedCreate: a
    // webhook, a quota), not of any pod.
    events_job(ctx, ns.clone(), rs.clone()).await;
    let deploy = v
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|o| o.get("kind").and_then(Value::as_str) == Some("Deployment"))
        })
        .and_then(|o| o.get("name").and_then(Value::as_str))
        .map(str::to_string);
    if let Some(d) = deploy {
        let known = ctx.with(|c| {
            c.objects.iter().any(|o| {
                o.get("kind").and_then(Value::as_str) == Some("Deployment")
                    && o.pointer("/metadata/name").and_then(Value::as_str) == Some(&d)
            })
        });
        if !known {
            ctx.get_into(res("deployments"), Some(&ns), &d).await;
        }
    }
}

async fn log_job(ctx: &Ctx, ns: String, pod: String, container: String, previous: bool) {
    let what = format!(
        "{}logs of {ns}/{pod} [{container}]",
        if previous { "previous " } else { "" }
    );
    let id = ctx.begin(what.clone(), Family::Logs, Some("pods/log"), Some(&ns));
    let lp = LogParams {
        container: Some(container.clone()),
        previous,
        since_seconds: Some(ctx.req.since.as_secs().max(1) as i64),
        tail_lines: Some(ctx.req.tail as i64),
        limit_bytes: Some(MAX_LOG_BYTES),
        // Every line with the kubelet's RFC 3339 time: the timeline's clock
        // (a Linkerd line alone has only the proxy's uptime).
        timestamps: true,
        ..LogParams::default()
    };
    ctx.count_request();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let out = api.logs(&pod, &lp).await;
    ctx.end(id);
    match out {
        Ok(text) => {
            ctx.looked("log lines", text.lines().count());
            ctx.with(|c| {
                c.logs.push(LogText {
                    namespace: ns,
                    pod,
                    container,
                    previous,
                    text,
                })
            });
        }
        Err(e) => ctx.fail(
            what,
            Fail::from(e).reason(),
            Family::Logs,
            Some("pods/log"),
            Some(&ns),
        ),
    }
}

/// Where each proxy serves Prometheus metrics (the admin port, through the
/// API server's pod proxy so no port-forward is needed).
pub fn metrics_path(mesh: Mesh) -> (u16, &'static str) {
    match mesh {
        Mesh::Istio => (15020, "stats/prometheus"),
        _ => (4191, "metrics"),
    }
}

async fn metrics_job(ctx: &Ctx, ns: String, pod: String, mesh: Mesh) {
    let (port, path) = metrics_path(mesh);
    let url = format!("/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy/{path}");
    let what = format!("proxy metrics of {ns}/{pod} (:{port}/{path})");
    let id = ctx.begin(what.clone(), Family::Metrics, Some("pods/proxy"), Some(&ns));
    ctx.count_request();
    let out = match http::Request::get(&url).body(Vec::new()) {
        Ok(req) => ctx.client.request_text(req).await.map_err(Fail::from),
        Err(e) => Err(Fail::Other(e.to_string())),
    };
    ctx.end(id);
    match out {
        Ok(text) => {
            ctx.looked("metric lines", text.lines().count());
            ctx.with(|c| {
                c.metrics.push(MetricsText {
                    namespace: ns,
                    pod,
                    source: format!("{port}/proxy/{path}"),
                    text,
                })
            });
        }
        Err(e) => ctx.fail(
            what,
            format!("the pod proxy failed: {}", e.reason()),
            Family::Metrics,
            Some("pods/proxy"),
            Some(&ns),
        ),
    }
}

/// A Service in scope: the object, its EndpointSlices and, for a Service the
/// pod calls, the pods behind it (the other end of the failing hop).
async fn service_job(ctx: &Ctx, ns: String, name: String, known: Option<Value>, called: bool) {
    let svc = match known {
        Some(s) => {
            ctx.looked("Services", 1);
            ctx.with(|c| c.add_object(s.clone()));
            Some(s)
        }
        None => ctx.get_into(res("services"), Some(&ns), &name).await,
    };
    let Some(svc) = svc else { return };
    let sel = format!("kubernetes.io/service-name={name}");
    if ctx.req.needs.wants(res("endpointslices")) {
        ctx.list_into(res("endpointslices"), Some(&ns), Some(&sel), None)
            .await;
    }
    let selector = select::service_selector(&svc);
    if called && !selector.is_empty() {
        let q = select::map_query(&selector);
        let what = format!("pods of Service {ns}/{name}");
        let id = ctx.begin(what.clone(), Family::Objects, Some("pods"), Some(&ns));
        let out = ctx
            .list(res("pods"), Some(&ns), Some(&q), None, Some(PAGE as usize))
            .await;
        ctx.end(id);
        match out {
            Ok(items) => {
                ctx.looked("Pods", items.len());
                ctx.with(|c| items.into_iter().for_each(|p| c.add_object(p)));
            }
            Err(e) => ctx.record_fail(res("pods"), what, Some(&ns), e),
        }
    }
}

/// Ready endpoints of Service `ns/name` among collected EndpointSlices
/// (`ready` unset counts as ready, per the EndpointSlice API).
pub fn ready_endpoints(objects: &[Value], ns: &str, name: &str) -> usize {
    objects
        .iter()
        .filter(|o| {
            o.get("kind").and_then(Value::as_str) == Some("EndpointSlice")
                && o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns)
                && o.pointer("/metadata/labels/kubernetes.io~1service-name")
                    .and_then(Value::as_str)
                    == Some(name)
        })
        .flat_map(|o| {
            o.get("endpoints")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter(|e| e.pointer("/conditions/ready").and_then(Value::as_bool) != Some(false))
        .count()
}

/// Services the pods call, most frequent first: from Linkerd log spans
/// (`service{ns=… name=…}`, `logical{dst=name.ns.svc…}`), authorities and
/// upstream clusters (`…|name.ns.svc.cluster.local`), and metric labels
/// (`dst_service`/`dst_namespace`, `destination_service_name`/`_namespace`).
fn called_services(c: &Collection, default_ns: &str) -> Vec<(String, String)> {
    use regex::Regex;
    use std::sync::LazyLock;
    // Constant patterns; `.ok()` keeps the library free of panics.
    static SPAN: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"service\{ns=([a-z0-9-]*) name=([a-z0-9-]+)").ok());
    static FQDN: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"\b([a-z0-9]([a-z0-9-]*[a-z0-9])?)\.([a-z0-9]([a-z0-9-]*[a-z0-9])?)\.svc\b")
            .ok()
    });
    static LABEL: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(
            r#"\b(dst_service|dst_namespace|destination_service_name|destination_service_namespace)="([a-z0-9-]+)""#,
        )
        .ok()
    });
    let (Some(span), Some(fqdn), Some(label)) = (&*SPAN, &*FQDN, &*LABEL) else {
        return Vec::new();
    };
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut bump = |ns: &str, name: &str| {
        if name.is_empty() || name == "unknown" || name == "service" && ns.is_empty() {
            return;
        }
        let ns = if ns.is_empty() { default_ns } else { ns };
        *counts
            .entry((ns.to_string(), name.to_string()))
            .or_default() += 1;
    };
    let texts = c
        .logs
        .iter()
        .map(|l| l.text.as_str())
        .chain(c.metrics.iter().map(|m| m.text.as_str()));
    for text in texts {
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            for m in span.captures_iter(line) {
                bump(&m[1], &m[2]);
            }
            for m in fqdn.captures_iter(line) {
                bump(&m[3], &m[1]);
            }
            let mut svc = None;
            let mut sns = None;
            for m in label.captures_iter(line) {
                match &m[1] {
                    "dst_service" | "destination_service_name" => svc = Some(m[2].to_string()),
                    _ => sns = Some(m[2].to_string()),
                }
            }
            if let (Some(s), Some(n)) = (svc, sns) {
                bump(&n, &s);
            }
        }
    }
    let mut v: Vec<((String, String), u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter().take(MAX_CALLED).map(|(k, _)| k).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_object_keeps_what_rules_read_and_loses_managed_fields_and_the_applied_copy() {
        let mut v = serde_json::json!({"kind": "Pod", "metadata": {"name": "web-1", "labels": {"app": "web"},
            "annotations": {"linkerd.io/inject": "enabled",
                "kubectl.kubernetes.io/last-applied-configuration": "{\"kind\":\"Pod\"}"},
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]},
            "spec": {"containers": [{"name": "web"}]}});
        trim(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"kind": "Pod", "metadata": {"name": "web-1", "labels": {"app": "web"},
                "annotations": {"linkerd.io/inject": "enabled"}},
                "spec": {"containers": [{"name": "web"}]}})
        );
        // A configuration object keeps its writers and their times.
        let mut dr = serde_json::json!({"kind": "DestinationRule", "metadata": {"name": "r",
            "managedFields": [{"manager": "kubectl", "time": "2025-03-01T10:00:00Z"}]}});
        trim(&mut dr);
        assert!(dr.pointer("/metadata/managedFields/0/time").is_some());
    }

    fn coll(log: &str, metrics: &str) -> Collection {
        Collection {
            logs: vec![LogText {
                namespace: "shop".into(),
                pod: "p".into(),
                container: "linkerd-proxy".into(),
                previous: false,
                text: log.into(),
            }],
            metrics: vec![MetricsText {
                namespace: "shop".into(),
                pod: "p".into(),
                source: "4191/proxy/metrics".into(),
                text: metrics.into(),
            }],
            ..Collection::default()
        }
    }

    #[test]
    fn called_services_come_from_spans_authorities_and_metric_labels() {
        let log = "[ 1.0s]  WARN ThreadId(01) outbound:proxy{addr=10.0.0.1:80}:service{ns=shop name=payments port=80}: linkerd_app_core::errors: Failed to proxy request: logical service in fail-fast\n\
                   [ 2.0s] DEBUG ThreadId(01) outbound:logical{dst=es.search.svc.cluster.local:9200}: x";
        let metrics = "# HELP x\nresponse_total{authority=\"web.web.svc.cluster.local:80\",dst_namespace=\"db\",dst_service=\"mysql\"} 3\n";
        let got = called_services(&coll(log, metrics), "shop");
        assert!(got.contains(&("shop".into(), "payments".into())));
        assert!(got.contains(&("search".into(), "es".into())));
        assert!(got.contains(&("web".into(), "web".into())));
        assert!(got.contains(&("db".into(), "mysql".into())));
    }

    #[test]
    fn a_span_without_namespace_defaults_to_the_target_namespace() {
        let log = "outbound:service{ns= name=service port=0}: x\noutbound:service{ns= name=orders port=8080}: x";
        let got = called_services(&coll(log, ""), "shop");
        assert_eq!(got, vec![("shop".to_string(), "orders".to_string())]);
    }

    #[test]
    fn native_sidecar_proxies_mark_the_mesh() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "a"},
            "spec": {"containers": [{"name": "app"}],
                     "initContainers": [{"name": "linkerd-init"}, {"name": "linkerd-proxy", "restartPolicy": "Always"}]}
        }))
        .unwrap();
        assert_eq!(detect_mesh(&pod), Some(Mesh::Linkerd));
        let names: Vec<String> = log_containers(&pod).into_iter().map(|c| c.0).collect();
        assert_eq!(names, vec!["app", "linkerd-proxy"]);
    }

    #[test]
    fn endpoints_with_ready_unset_count_as_ready() {
        let objs = vec![serde_json::json!({
            "kind": "EndpointSlice",
            "metadata": {"namespace": "shop", "name": "p-1", "labels": {"kubernetes.io/service-name": "p"}},
            "endpoints": [{"conditions": {}}, {"conditions": {"ready": false}}, {"conditions": {"ready": true}}]
        })];
        assert_eq!(ready_endpoints(&objs, "shop", "p"), 2);
        assert_eq!(ready_endpoints(&objs, "shop", "q"), 0);
    }
}

/// The cause of a failed request in words an operator acts on: the whole
/// error chain (`client error (Connect)` alone says nothing), with the usual
/// TLS and network causes named as kubectl names them.
fn transport_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(x) = cur {
        let m = first_line(&x.to_string());
        if !m.is_empty() && !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
        cur = x.source();
    }
    let chain = parts.join(": ");
    let l = chain.to_ascii_lowercase();
    let hint = if l.contains("unknownissuer") || l.contains("unknown issuer") {
        Some(
            "certificate signed by unknown authority: the kubeconfig's certificate-authority does not sign the API server's certificate",
        )
    } else if l.contains("notvalidforname") || l.contains("not valid for name") {
        Some("the API server's certificate is not valid for the server name in the kubeconfig")
    } else if l.contains("expired") && l.contains("certificate") {
        Some("the API server's certificate (or the client certificate) has expired")
    } else if l.contains("connection refused") {
        Some("connection refused: nothing listens at the kubeconfig's server address")
    } else if l.contains("timed out") || l.contains("deadline") || l.contains("elapsed") {
        Some("no answer from the API server in time")
    } else if l.contains("dns error") || l.contains("failed to lookup") {
        Some("the API server's host name does not resolve")
    } else {
        None
    };
    match hint {
        Some(h) => format!("{h} ({chain})"),
        None => chain,
    }
}

#[cfg(test)]
mod cause_tests {
    use super::transport_cause;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_connect_error_names_its_cause() {
        let tls = Outer(std::io::Error::other(
            "invalid peer certificate: UnknownIssuer",
        ));
        let m = transport_cause(&tls);
        assert!(
            m.starts_with("certificate signed by unknown authority"),
            "{m}"
        );
        assert!(
            m.contains("client error (Connect): invalid peer certificate"),
            "{m}"
        );
        let refused = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "tcp connect error: Connection refused (os error 111)",
        ));
        assert!(transport_cause(&refused).starts_with("connection refused"));
        let plain = Outer(std::io::Error::other("something else"));
        assert_eq!(
            transport_cause(&plain),
            "client error (Connect): something else"
        );
    }
}
