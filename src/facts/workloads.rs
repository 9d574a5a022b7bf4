//! Workloads and the Services in front of them.
//!
//! Owns the shared [`Index`] every fact module reads: objects by kind,
//! namespaces, Services by name, and *pod-likes* — Pods plus the pod
//! templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs,
//! CronJobs and Argo Rollouts, so that selectors can be evaluated against plain manifests where
//! no Pod exists yet. Pod-likes are indexed by namespace and by each label
//! pair, so selector matching stays linear in the number of objects.
//!
//! Facts here: `service-selector-matches-no-pod`, `workload-zero-replicas`,
//! `service-no-ready-endpoints`, `pod-crashlooping`, `pod-not-ready`,
//! `job-pod-proxy-outlives-app`, `app-started-before-proxy`. The last five
//! need status (live objects or a bundle) and stay silent on plain manifests.

use super::selector::{Selector, scalar};
use super::{Fact, Object, ObjectSet};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A Pod, or the pod template of a workload.
#[derive(Debug, Clone)]
pub struct PodLike<'a> {
    /// The Pod or the workload that holds the template.
    pub obj: &'a Object,
    /// `metadata` of the pod (template); `Null` when absent.
    pub meta: &'a Value,
    /// The pod spec.
    pub spec: &'a Value,
    /// Dotted path of the template inside `obj` (`spec.template`), empty for a Pod.
    pub template_path: &'static str,
    /// Desired replicas (Deployment/StatefulSet/ReplicaSet), default 1.
    pub replicas: Option<i64>,
}

/// A container port of a pod-like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPort<'a> {
    pub container: &'a str,
    pub name: Option<&'a str>,
    pub port: i64,
    pub protocol: &'a str,
    /// Index of the container and of the port, for field paths.
    pub path: String,
}

static NULL: Value = Value::Null;

impl<'a> PodLike<'a> {
    pub fn is_pod(&self) -> bool {
        self.template_path.is_empty()
    }
    pub fn namespace(&self) -> &'a str {
        self.obj.namespace()
    }
    pub fn labels(&self) -> Option<&'a Map<String, Value>> {
        self.meta.get("labels").and_then(|l| l.as_object())
    }
    pub fn annotation(&self, key: &str) -> Option<&'a str> {
        self.meta
            .get("annotations")
            .and_then(|m| m.get(key))
            .and_then(|v| v.as_str())
    }
    /// A field path inside the owning object (`spec.template.metadata`).
    pub fn field(&self, sub: &str) -> String {
        if self.template_path.is_empty() {
            sub.to_string()
        } else {
            format!("{}.{sub}", self.template_path)
        }
    }
    /// `Deployment web` / `Pod web-1`, for messages.
    pub fn display(&self) -> String {
        format!("{} {}", self.obj.kind(), self.obj.name())
    }
    /// Containers, then init containers, each with its field path.
    pub fn containers(&self) -> impl Iterator<Item = (&'a Value, String)> + 'a {
        let field = |s: &str| {
            if self.template_path.is_empty() {
                s.to_string()
            } else {
                format!("{}.{s}", self.template_path)
            }
        };
        let c = field("spec.containers");
        let i = field("spec.initContainers");
        let spec = self.spec;
        let list = |key: &'static str| {
            spec.get(key)
                .and_then(|v| v.as_array())
                .map(|a| a.as_slice())
                .unwrap_or(&[])
        };
        list("containers")
            .iter()
            .enumerate()
            .map(move |(n, v)| (v, format!("{c}[{n}]")))
            .chain(
                list("initContainers")
                    .iter()
                    .enumerate()
                    .map(move |(n, v)| (v, format!("{i}[{n}]"))),
            )
    }
    /// Every declared container port.
    pub fn ports(&self) -> Vec<ContainerPort<'a>> {
        let mut out = Vec::new();
        for (c, path) in self.containers() {
            let cname = c.get("name").and_then(|n| n.as_str()).unwrap_or("");
            if let Some(ps) = c.get("ports").and_then(|p| p.as_array()) {
                for (pi, p) in ps.iter().enumerate() {
                    if let Some(port) = p.get("containerPort").and_then(int) {
                        out.push(ContainerPort {
                            container: cname,
                            name: p.get("name").and_then(|n| n.as_str()),
                            port,
                            protocol: p.get("protocol").and_then(|n| n.as_str()).unwrap_or("TCP"),
                            path: format!("{path}.ports[{pi}]"),
                        });
                    }
                }
            }
        }
        out
    }
    /// Resolves a named container port.
    pub fn named_port(&self, name: &str) -> Option<i64> {
        self.ports()
            .into_iter()
            .find(|p| p.name == Some(name))
            .map(|p| p.port)
    }
    /// Has a container (or native sidecar init container) with this name.
    pub fn has_container(&self, name: &str) -> bool {
        self.containers()
            .any(|(c, _)| c.get("name").and_then(|n| n.as_str()) == Some(name))
    }
}

/// A JSON number or numeric string as an integer.
pub fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Everything fact modules look up, built once per [`super::derive`].
pub struct Index<'a> {
    pub set: &'a ObjectSet,
    pub pods: Vec<PodLike<'a>>,
    pods_by_ns: HashMap<&'a str, Vec<usize>>,
    pods_by_label: HashMap<(&'a str, &'a str, String), Vec<usize>>,
    by_kind: HashMap<&'a str, Vec<usize>>,
    by_kind_ns: HashMap<(&'a str, &'a str), Vec<usize>>,
    namespaces: HashMap<&'a str, &'a Object>,
    services: HashMap<(&'a str, &'a str), usize>,
    /// `check --mesh`: the mesh assumed to inject namespaces that say nothing.
    pub assumed_mesh: Option<super::AssumedMesh>,
}

impl<'a> Index<'a> {
    pub fn new(set: &'a ObjectSet) -> Self {
        let mut ix = Index {
            set,
            pods: Vec::new(),
            pods_by_ns: HashMap::new(),
            pods_by_label: HashMap::new(),
            by_kind: HashMap::new(),
            by_kind_ns: HashMap::new(),
            namespaces: HashMap::new(),
            services: HashMap::new(),
            assumed_mesh: None,
        };
        for (i, o) in set.objects.iter().enumerate() {
            let kind = o.kind();
            ix.by_kind.entry(kind).or_default().push(i);
            ix.by_kind_ns
                .entry((kind, o.namespace()))
                .or_default()
                .push(i);
            let v = &o.value;
            let (tpl, path): (Option<&Value>, &'static str) = match kind {
                "Pod" => (Some(v), ""),
                // Argo Rollouts' Rollout holds a Deployment-shaped template
                // (absent when it uses `workloadRef` to a Deployment).
                "Deployment"
                | "StatefulSet"
                | "DaemonSet"
                | "ReplicaSet"
                | "Job"
                | "ReplicationController"
                | "Rollout" => (v.pointer("/spec/template"), "spec.template"),
                "CronJob" => (
                    v.pointer("/spec/jobTemplate/spec/template"),
                    "spec.jobTemplate.spec.template",
                ),
                "Namespace" => {
                    ix.namespaces.insert(o.name(), o);
                    (None, "")
                }
                "Service" => {
                    ix.services.insert((o.namespace(), o.name()), i);
                    (None, "")
                }
                _ => (None, ""),
            };
            if let Some(t) = tpl {
                let replicas = match kind {
                    "Deployment"
                    | "StatefulSet"
                    | "ReplicaSet"
                    | "ReplicationController"
                    | "Rollout" => Some(v.pointer("/spec/replicas").and_then(int).unwrap_or(1)),
                    _ => None,
                };
                ix.pods.push(PodLike {
                    obj: o,
                    meta: t.get("metadata").unwrap_or(&NULL),
                    spec: t.get("spec").unwrap_or(&NULL),
                    template_path: path,
                    replicas,
                });
            }
        }
        for (pi, p) in ix.pods.iter().enumerate() {
            let ns = p.obj.namespace();
            ix.pods_by_ns.entry(ns).or_default().push(pi);
            if let Some(l) = p.labels() {
                for (k, v) in l {
                    if let Some(v) = scalar(v) {
                        ix.pods_by_label
                            .entry((ns, k.as_str(), v))
                            .or_default()
                            .push(pi);
                    }
                }
            }
        }
        ix
    }

    /// Objects of one kind, in set order.
    pub fn of_kind(&self, kind: &str) -> impl Iterator<Item = &'a Object> + '_ {
        let set = self.set;
        self.by_kind
            .get(kind)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
            .iter()
            .map(move |&i| &set.objects[i])
    }

    /// Objects of one kind in one namespace, in set order.
    pub fn of_kind_in(&self, kind: &str, ns: &str) -> Vec<&'a Object> {
        self.by_kind_ns
            .get(&(kind, ns))
            .map(|v| v.iter().map(|&i| &self.set.objects[i]).collect())
            .unwrap_or_default()
    }

    /// The index of `o` in the set (its load order), for stable sorting.
    pub fn position(&self, o: &Object) -> usize {
        let base = self.set.objects.as_ptr() as usize;
        (o as *const Object as usize).wrapping_sub(base) / std::mem::size_of::<Object>().max(1)
    }

    /// Is there any object of this kind?
    pub fn has_kind(&self, kind: &str) -> bool {
        self.by_kind.contains_key(kind)
    }

    /// The Service `ns/name`, if in the set.
    pub fn service(&self, ns: &str, name: &str) -> Option<&'a Object> {
        self.services
            .get(&(ns, name))
            .map(|&i| &self.set.objects[i])
    }

    /// The Namespace object, if in the set.
    pub fn namespace(&self, ns: &str) -> Option<&'a Object> {
        self.namespaces.get(ns).copied()
    }

    /// A namespace's labels, including the `kubernetes.io/metadata.name`
    /// label the API server sets on every namespace.
    pub fn namespace_labels(&self, ns: &str) -> Map<String, Value> {
        let mut m = self
            .namespace(ns)
            .and_then(|o| o.value.pointer("/metadata/labels"))
            .and_then(|l| l.as_object())
            .cloned()
            .unwrap_or_default();
        m.insert(
            "kubernetes.io/metadata.name".into(),
            Value::String(ns.to_string()),
        );
        m
    }

    /// Namespaces that hold pod-likes, plus Namespace objects.
    pub fn namespace_names(&self) -> Vec<&'a str> {
        let mut v: Vec<&str> = self.pods_by_ns.keys().copied().collect();
        v.extend(self.namespaces.keys().copied());
        v.sort_unstable();
        v.dedup();
        v
    }

    /// A namespace annotation.
    pub fn namespace_annotation(&self, ns: &str, key: &str) -> Option<&'a str> {
        self.namespace(ns).and_then(|o| o.annotation(key))
    }

    /// Pod-likes of a namespace.
    pub fn pods_in(&self, ns: &str) -> impl Iterator<Item = &PodLike<'a>> + '_ {
        self.pods_by_ns
            .get(ns)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
            .iter()
            .map(move |&i| &self.pods[i])
    }

    /// Indices (into `pods`) of the pod-likes in `ns` the selector matches.
    pub fn select(&self, ns: &str, sel: &Selector) -> Vec<usize> {
        let candidates: &[usize] = match sel.anchor() {
            Some((k, v)) => self
                .pods_by_label
                .get(&(ns, k, v.to_string()))
                .map(|v| v.as_slice())
                .unwrap_or(&[]),
            None => self.pods_by_ns.get(ns).map(|v| v.as_slice()).unwrap_or(&[]),
        };
        candidates
            .iter()
            .copied()
            .filter(|&i| sel.matches(self.pods[i].labels()))
            .collect()
    }

    /// Pod-likes a Service's selector picks; `None` for selector-less Services.
    pub fn service_pods(&self, svc: &Object) -> Option<Vec<usize>> {
        let sel = svc.value.pointer("/spec/selector")?;
        let s = Selector::from_map(sel);
        if s.is_empty() {
            return None;
        }
        Some(self.select(svc.namespace(), &s))
    }

    /// The Services whose selector picks pod-like `pi`.
    pub fn services_of(&self, pi: usize) -> Vec<&'a Object> {
        let p = &self.pods[pi];
        self.of_kind("Service")
            .filter(|s| s.namespace() == p.namespace())
            .filter(|s| {
                s.value
                    .pointer("/spec/selector")
                    .map(Selector::from_map)
                    .is_some_and(|sel| !sel.is_empty() && sel.matches(p.labels()))
            })
            .collect()
    }
}

/// Computes this module's facts.
pub fn facts(ix: &Index, out: &mut Vec<Fact>) {
    for svc in ix.of_kind("Service") {
        let ns = svc.namespace();
        let name = svc.name();
        if svc.value.pointer("/spec/type").and_then(|t| t.as_str()) == Some("ExternalName") {
            continue;
        }
        if let Some(pods) = ix.service_pods(svc) {
            // Only judge a selector when the set describes the namespace's
            // workloads at all; a Service shipped without its Deployment
            // (another chart, another repo) is not an error.
            if pods.is_empty() && ix.pods_in(ns).next().is_some() {
                out.push(selector_matches_nothing(ix, svc));
            } else if !pods.is_empty() {
                zero_replicas(ix, svc, &pods, out);
            }
        }
        no_ready_endpoints(ix, svc, ns, name, out);
    }
    for (pi, p) in ix.pods.iter().enumerate() {
        if p.is_pod() {
            pod_status(ix, pi, p, out);
        }
    }
}

/// The Deployment a pod-like belongs to: itself, or the owner of its
/// ReplicaSet (named `<deployment>-<pod-template-hash>`).
pub fn deployment_of(p: &PodLike) -> Option<String> {
    if p.obj.kind() == "Deployment" {
        return Some(p.obj.name().to_string());
    }
    let hashed = |s: &str, lens: std::ops::RangeInclusive<usize>| {
        lens.contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    let rs = match p.meta.get("ownerReferences").and_then(|o| o.as_array()) {
        Some(owners) => owners
            .iter()
            .find(|o| o.get("kind").and_then(|k| k.as_str()) == Some("ReplicaSet"))?
            .get("name")?
            .as_str()?
            .to_string(),
        // A pod without its owner references (a hand-made bundle): the name a
        // ReplicaSet gives its pods, `<rs>-<5 characters>`.
        None => {
            let (rs, suffix) = p.obj.name().rsplit_once('-')?;
            if !hashed(suffix, 5..=5) {
                return None;
            }
            rs.to_string()
        }
    };
    let (deploy, hash) = rs.rsplit_once('-')?;
    (!deploy.is_empty() && hashed(hash, 5..=10)).then(|| deploy.to_string())
}

/// `k=v,k=v` of a label map (a selector, a pod's labels).
fn pairs(m: Option<&Map<String, Value>>) -> String {
    m.map(|m| {
        m.iter()
            .map(|(k, v)| format!("{k}={}", scalar(v).unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(",")
    })
    .unwrap_or_default()
}

fn selector_matches_nothing(ix: &Index, svc: &Object) -> Fact {
    let want = svc
        .value
        .pointer("/spec/selector")
        .and_then(|s| s.as_object());
    let sel = pairs(want);
    // The near miss: the pod or workload template whose labels are closest to
    // the selector (`app=payment` against `app=payments`), to name in the
    // message and to patch the Service towards.
    let near = want.and_then(|w| {
        ix.pods_in(svc.namespace())
            .map(|p| (selector_distance(w, p.labels()), p))
            .min_by(|(a, pa), (b, pb)| {
                a.total_cmp(b)
                    // A workload template is what to fix rather than one pod.
                    .then(pa.is_pod().cmp(&pb.is_pod()))
                    .then(pa.display().cmp(&pb.display()))
            })
            // Too far to be a typo of the selector: name none.
            .filter(|(d, _)| *d < w.len() as f64 * 1.5)
            .map(|(_, p)| p)
    });
    let mut msg = format!(
        "Service {}/{} selects {sel}, which matches no pod or workload template in namespace {}",
        svc.namespace(),
        svc.name(),
        svc.namespace()
    );
    let mut f = Fact::new(
        "service-selector-matches-no-pod",
        svc.at("spec.selector"),
        String::new(),
    )
    .var("service", svc.name());
    let mut patch = None;
    if let (Some(p), Some(w)) = (near, want) {
        let labels = p.labels();
        let shown = pairs(labels);
        msg.push_str(&format!(" (closest: {} with labels {shown})", p.display()));
        f = f.related(p.obj.origin.clone());
        // The change that makes the selector match the near miss: replace the
        // values that differ, drop the keys it does not carry.
        let mut ops = Vec::new();
        for (k, v) in w {
            let path = format!("/spec/selector/{}", k.replace('~', "~0").replace('/', "~1"));
            match labels.and_then(|l| l.get(k)) {
                Some(have) if have == v => {}
                Some(have) => {
                    ops.push(serde_json::json!({"op": "replace", "path": path, "value": have}))
                }
                None => ops.push(serde_json::json!({"op": "remove", "path": path})),
            }
        }
        if !ops.is_empty() {
            patch = Some(format!(
                "kubectl patch service {} -n {} --type=json -p '{}'",
                crate::shell::word(svc.name()),
                crate::shell::word(svc.namespace()),
                serde_json::Value::Array(ops)
                    .to_string()
                    .replace('\'', "'\\''")
            ));
        }
    }
    f.message = msg;
    f.patch(patch.unwrap_or_else(|| {
        format!(
            "kubectl get pods -n {} -l '{sel}'   # empty: fix spec.selector or the pod template labels",
            svc.namespace()
        )
    }))
}

/// How far a pod's labels are from a selector: 0 per matching pair, the
/// value's edit distance (0–1) for a key with another value, 2 for a
/// missing key.
fn selector_distance(want: &Map<String, Value>, have: Option<&Map<String, Value>>) -> f64 {
    want.iter()
        .map(|(k, v)| match have.and_then(|h| h.get(k)) {
            Some(x) if x == v => 0.0,
            Some(x) => {
                let (a, b) = (scalar(v).unwrap_or_default(), scalar(x).unwrap_or_default());
                1.0 - strsim::normalized_levenshtein(&a, &b)
            }
            None => 2.0,
        })
        .sum()
}

fn zero_replicas(ix: &Index, svc: &Object, pods: &[usize], out: &mut Vec<Fact>) {
    let sel: Vec<&PodLike> = pods.iter().map(|&i| &ix.pods[i]).collect();
    // Controllers owned by another (a Deployment's old ReplicaSets) are
    // routinely at zero; only top-level workloads count.
    let owned = |p: &PodLike| {
        p.obj
            .value
            .pointer("/metadata/ownerReferences")
            .and_then(|o| o.as_array())
            .is_some_and(|a| !a.is_empty())
    };
    let top: Vec<&&PodLike> = sel
        .iter()
        .filter(|p| !p.is_pod() && !owned(p) && p.replicas.is_some())
        .collect();
    let others = sel
        .iter()
        .any(|p| p.is_pod() || (!owned(p) && p.replicas.is_none_or(|r| r > 0)));
    if top.is_empty() || others || !top.iter().all(|p| p.replicas == Some(0)) {
        return;
    }
    for p in top {
        let kind = p.obj.kind();
        out.push(
            Fact::new(
                "workload-zero-replicas",
                p.obj.at("spec.replicas"),
                format!(
                    "{kind} {}/{} behind Service {} has replicas: 0, so the Service has no endpoints",
                    p.namespace(),
                    p.obj.name(),
                    svc.name()
                ),
            )
            .var("service", svc.name())
            .var("deployment", p.obj.name())
            .related(svc.origin.clone())
            .patch(format!(
                "kubectl scale {} {} -n {} --replicas=1",
                kind.to_lowercase(),
                p.obj.name(),
                p.namespace()
            )),
        );
    }
}

/// Ready endpoints from EndpointSlices (preferred) or legacy Endpoints;
/// `None` when the set has neither for this Service.
fn ready_endpoints(ix: &Index, ns: &str, name: &str) -> Option<(usize, usize)> {
    let mut seen = false;
    let (mut ready, mut total) = (0, 0);
    for s in ix.of_kind("EndpointSlice") {
        if s.namespace() != ns || s.label("kubernetes.io/service-name") != Some(name) {
            continue;
        }
        seen = true;
        for e in s
            .value
            .get("endpoints")
            .and_then(|e| e.as_array())
            .into_iter()
            .flatten()
        {
            total += 1;
            // "nil should be interpreted as ready" (discovery.k8s.io/v1).
            if e.pointer("/conditions/ready").and_then(|r| r.as_bool()) != Some(false) {
                ready += 1;
            }
        }
    }
    if seen {
        return Some((ready, total));
    }
    for e in ix.of_kind("Endpoints") {
        if e.namespace() != ns || e.name() != name {
            continue;
        }
        seen = true;
        for s in e
            .value
            .get("subsets")
            .and_then(|s| s.as_array())
            .into_iter()
            .flatten()
        {
            let n = |k: &str| s.get(k).and_then(|a| a.as_array()).map_or(0, |a| a.len());
            ready += n("addresses");
            total += n("addresses") + n("notReadyAddresses");
        }
    }
    seen.then_some((ready, total))
}

fn no_ready_endpoints(ix: &Index, svc: &Object, ns: &str, name: &str, out: &mut Vec<Fact>) {
    let Some((ready, total)) = ready_endpoints(ix, ns, name) else {
        return;
    };
    if ready > 0 {
        return;
    }
    out.push(
        Fact::new(
            "service-no-ready-endpoints",
            svc.origin.clone(),
            format!("Service {ns}/{name} has no ready endpoints ({total} endpoint(s), 0 ready)"),
        )
        .var("service", name)
        .patch(format!(
            "kubectl get endpointslices -n {ns} -l kubernetes.io/service-name={name} -o wide"
        )),
    );
}

/// The sidecar proxies that run as ordinary containers. A native sidecar
/// (an init container with `restartPolicy: Always`) stops with the pod's
/// last container and is never the one left running.
const PROXY_CONTAINERS: &[&str] = &["istio-proxy", "linkerd-proxy"];

/// A container's (or container status's) `name`.
fn name_of(c: &Value) -> &str {
    c.get("name").and_then(|n| n.as_str()).unwrap_or("")
}

/// `job-pod-proxy-outlives-app`: a Job's pod whose own containers have all
/// exited while its proxy sidecar still runs - the Job never completes
/// (kubectl shows the pod `1/2 NotReady`). `true` when it raised the fact.
fn job_proxy_outlives_app(p: &PodLike, statuses: &[&Value], out: &mut Vec<Fact>) -> bool {
    let job = p
        .obj
        .value
        .pointer("/metadata/ownerReferences")
        .and_then(|o| o.as_array())
        .into_iter()
        .flatten()
        .find(|o| o.get("kind").and_then(|k| k.as_str()) == Some("Job"))
        .and_then(|o| o.get("name").and_then(|n| n.as_str()));
    let Some(job) = job else { return false };
    let (proxies, apps): (Vec<&Value>, Vec<&Value>) = statuses
        .iter()
        .copied()
        .partition(|c| PROXY_CONTAINERS.contains(&name_of(c)));
    let Some(proxy) = proxies
        .iter()
        .find(|c| c.pointer("/state/running").is_some())
    else {
        return false;
    };
    if apps.is_empty()
        || !apps
            .iter()
            .all(|c| c.pointer("/state/terminated").is_some())
    {
        return false;
    }
    let app = apps[0];
    let code = app
        .pointer("/state/terminated/exitCode")
        .and_then(int)
        .map(|c| format!(", exit code {c}"))
        .unwrap_or_default();
    let (ns, name, proxy) = (p.namespace(), p.obj.name(), name_of(proxy));
    // The proxy images have no shell or curl: Istio's agent asks Envoy's
    // admin API itself; Linkerd's admin port is reached from an ephemeral
    // container in the pod's network namespace.
    let stop = if proxy == "istio-proxy" {
        format!(
            "kubectl exec -n {ns} {name} -c istio-proxy -- pilot-agent request POST quitquitquit"
        )
    } else {
        format!(
            "kubectl debug -n {ns} {name} -it --image=curlimages/curl --target=linkerd-proxy -- curl -X POST http://localhost:4191/shutdown   # recent proxies: needs config.linkerd.io/proxy-admin-shutdown: enabled"
        )
    };
    out.push(
        Fact::new(
            "job-pod-proxy-outlives-app",
            p.obj.origin.clone(),
            format!(
                "Pod {ns}/{name} of Job {job}: container {} exited{code}, but the {proxy} sidecar is still running, so the Job never completes",
                name_of(app)
            ),
        )
        .var("pod", name)
        .var("job", job)
        .var("container", proxy)
        .patch(stop),
    );
    true
}

/// Init containers the meshes add themselves: they install (or check) the
/// traffic redirection and need no proxy to run.
const MESH_INITS: &[&str] = &[
    "istio-init",
    "istio-validation",
    "linkerd-init",
    "linkerd-network-validator",
    "kuma-init",
    "kuma-validation",
    "osm-init",
];

/// How long after the proxy's start an application's failure still counts as
/// one of the proxy's start-up: Envoy usually takes a few seconds to receive
/// its first configuration, rarely more than half a minute.
const PROXY_STARTUP_SECS: i64 = 30;

/// `app-started-before-proxy`: a meshed pod whose proxy runs as an ordinary
/// container (so it starts with, not before, the others) and whose
/// application sent traffic before the proxy listened - an init container
/// that fails under the redirection the mesh's init container or CNI plugin
/// installed before any proxy runs, or an application container that failed
/// in the proxy's first seconds and then recovered on restart. A proxy that
/// holds the application until it is ready (Istio's
/// `holdApplicationUntilProxyStarts`, Linkerd's `proxy-await`, both a
/// postStart hook on the proxy) or runs as a native sidecar rules it out.
fn app_before_proxy(p: &PodLike, status: &Value, statuses: &[&Value], out: &mut Vec<Fact>) {
    let list = |k: &str| {
        p.spec
            .get(k)
            .and_then(|c| c.as_array())
            .into_iter()
            .flatten()
    };
    if list("initContainers").any(|c| PROXY_CONTAINERS.contains(&name_of(c))) {
        return;
    }
    let Some(proxy_spec) = list("containers").find(|c| PROXY_CONTAINERS.contains(&name_of(c)))
    else {
        return;
    };
    let proxy = name_of(proxy_spec);
    let (ns, name) = (p.namespace(), p.obj.name());
    let exit = |c: &Value, at: &str| {
        c.pointer(&format!("{at}/terminated/exitCode"))
            .and_then(int)
    };
    let (key, min) = if proxy == "istio-proxy" {
        ("sidecar.istio.io/nativeSidecar", "Istio 1.19+")
    } else {
        (
            "config.beta.linkerd.io/proxy-enable-native-sidecar",
            "Linkerd 2.15+",
        )
    };
    let workload =
        deployment_of(p).map_or_else(|| format!("pod/{name}"), |d| format!("deployment/{d}"));
    let patch = format!(
        r#"kubectl patch {workload} -n {ns} --type merge -p '{{"spec":{{"template":{{"metadata":{{"annotations":{{"{key}":"true"}}}}}}}}}}'   # run the proxy as a native sidecar ({min}, Kubernetes 1.28+): ready before any other container starts"#
    );
    // An init container of the application failing in a pod whose proxy
    // cannot have started yet.
    for c in status
        .get("initContainerStatuses")
        .and_then(|c| c.as_array())
        .into_iter()
        .flatten()
    {
        let cname = name_of(c);
        if MESH_INITS.contains(&cname) || PROXY_CONTAINERS.contains(&cname) {
            continue;
        }
        let crashing =
            c.pointer("/state/waiting/reason").and_then(|r| r.as_str()) == Some("CrashLoopBackOff");
        let code = exit(c, "/state")
            .filter(|c| *c != 0)
            .or_else(|| exit(c, "/lastState").filter(|c| *c != 0));
        if !crashing && code.is_none() {
            continue;
        }
        let restarts = c.get("restartCount").and_then(int).unwrap_or(0);
        out.push(
            Fact::new(
                "app-started-before-proxy",
                p.obj.origin.clone(),
                format!(
                    "Pod {ns}/{name}: init container {cname} fails ({}{restarts} restarts) before the {proxy} sidecar can start - the mesh's redirection already sends its connections to a proxy that is not running",
                    code.map(|c| format!("exit code {c}, ")).unwrap_or_default()
                ),
            )
            .var("pod", name)
            .var("container", cname)
            .patch(patch),
        );
        return;
    }
    // An application container that failed in the proxy's first seconds.
    if proxy_spec.pointer("/lifecycle/postStart").is_some() {
        return;
    }
    let Some(proxy_status) = statuses.iter().find(|c| name_of(c) == proxy) else {
        return;
    };
    if proxy_status.get("restartCount").and_then(int).unwrap_or(0) != 0 {
        return;
    }
    let stamp = |v: Option<&Value>| crate::evidence::time::parse(v?.as_str()?);
    let Some(proxy_start) = stamp(proxy_status.pointer("/state/running/startedAt")) else {
        return;
    };
    for c in statuses.iter().filter(|c| name_of(c) != proxy) {
        let restarts = c.get("restartCount").and_then(int).unwrap_or(0);
        let Some(code) = exit(c, "/lastState").filter(|c| *c != 0) else {
            continue;
        };
        let Some(ended) = stamp(c.pointer("/lastState/terminated/finishedAt")) else {
            continue;
        };
        // Only the first failure can be the proxy's start-up: a container
        // restarted again and again fails for reasons of its own.
        let after = proxy_start.until(ended).div_euclid(1000);
        if !(1..=2).contains(&restarts) || !(-5..=PROXY_STARTUP_SECS).contains(&after) {
            continue;
        }
        let cname = name_of(c);
        out.push(
            Fact::new(
                "app-started-before-proxy",
                p.obj.origin.clone(),
                format!(
                    "Pod {ns}/{name}: container {cname} exited with code {code} {}s after the {proxy} sidecar started and ran again after a restart - it sent traffic before the proxy was ready",
                    after.max(0)
                ),
            )
            .var("pod", name)
            .var("container", cname)
            .patch(patch),
        );
        return;
    }
}

fn pod_status(ix: &Index, pi: usize, p: &PodLike, out: &mut Vec<Fact>) {
    let status = match p.obj.value.get("status") {
        Some(s) => s,
        None => return,
    };
    let ns = p.namespace();
    let name = p.obj.name();
    let statuses: Vec<&Value> = status
        .get("containerStatuses")
        .and_then(|c| c.as_array())
        .into_iter()
        .flatten()
        .collect();
    app_before_proxy(p, status, &statuses, out);
    let crash = statuses.iter().find(|c| {
        c.pointer("/state/waiting/reason").and_then(|r| r.as_str()) == Some("CrashLoopBackOff")
            || c.get("restartCount").and_then(int).unwrap_or(0) >= 5
                && c.pointer("/state/running").is_none()
    });
    let services = ix.services_of(pi);
    let with_svc = |mut f: Fact| {
        if let Some(s) = services.first() {
            f = f.var("service", s.name());
        }
        for s in &services {
            f = f.related(s.origin.clone());
        }
        f.var("pod", name)
    };
    if let Some(c) = crash {
        let cname = c.get("name").and_then(|n| n.as_str()).unwrap_or("");
        let restarts = c.get("restartCount").and_then(int).unwrap_or(0);
        out.push(with_svc(
            Fact::new(
                "pod-crashlooping",
                p.obj.origin.clone(),
                format!(
                    "Pod {ns}/{name} container {cname} is crash-looping ({restarts} restarts){}",
                    services
                        .first()
                        .map(|s| format!(", behind Service {}", s.name()))
                        .unwrap_or_default()
                ),
            )
            .var("container", cname)
            .patch(format!("kubectl logs -n {ns} {name} -c {cname} --previous")),
        ));
        return;
    }
    let running = status.get("phase").and_then(|p| p.as_str()) == Some("Running");
    if running && job_proxy_outlives_app(p, &statuses, out) {
        return;
    }
    let ready_false = status
        .get("conditions")
        .and_then(|c| c.as_array())
        .into_iter()
        .flatten()
        .any(|c| {
            c.get("type").and_then(|t| t.as_str()) == Some("Ready")
                && c.get("status").and_then(|s| s.as_str()) == Some("False")
        });
    let unready = statuses
        .iter()
        .find(|c| c.get("ready").and_then(|r| r.as_bool()) == Some(false));
    if running && (ready_false || unready.is_some()) {
        let cname = unready
            .and_then(|c| c.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or("");
        out.push(with_svc(
            Fact::new(
                "pod-not-ready",
                p.obj.origin.clone(),
                format!(
                    "Pod {ns}/{name} is running but not ready{}{}",
                    if cname.is_empty() {
                        String::new()
                    } else {
                        format!(" (container {cname})")
                    },
                    services
                        .first()
                        .map(|s| format!("; Service {} gets no endpoint from it", s.name()))
                        .unwrap_or_default()
                ),
            )
            .patch(format!(
                "kubectl describe pod -n {ns} {name}   # see the Readiness probe failures under Events"
            )),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::manifests::load_str;

    fn facts_of(yaml: &str) -> Vec<Fact> {
        let set = load_str(yaml, "t.yaml", "default").unwrap();
        let ix = Index::new(&set);
        let mut out = Vec::new();
        facts(&ix, &mut out);
        out
    }

    fn names(f: &[Fact]) -> Vec<&str> {
        f.iter().map(|f| f.name).collect()
    }

    const DEPLOY: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        ports: [{containerPort: 8080, name: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: SELECTOR}
  ports: [{port: 80, targetPort: http}]
";

    fn deploy(replicas: &str, selector: &str) -> String {
        DEPLOY
            .replace("REPLICAS", replicas)
            .replace("SELECTOR", selector)
    }

    #[test]
    fn a_service_whose_selector_matches_its_deployment_raises_nothing() {
        assert!(facts_of(&deploy("2", "web")).is_empty());
    }

    #[test]
    fn a_service_selecting_a_label_no_template_carries_is_reported_with_the_closest_workload() {
        let f = facts_of(&deploy("2", "webb"));
        assert_eq!(names(&f), ["service-selector-matches-no-pod"]);
        assert!(
            f[0].message.contains("closest: Deployment web"),
            "{}",
            f[0].message
        );
        assert_eq!(f[0].subject.field.as_deref(), Some("spec.selector"));
    }

    #[test]
    fn the_near_miss_is_the_closest_labels_and_the_patch_changes_the_service() {
        let y = "kind: Service\nmetadata: {name: payment, namespace: shop}\nspec: {selector: {app: payment}}\n---\nkind: Pod\nmetadata: {name: checkout-1, namespace: shop, labels: {app: checkout}}\nspec: {containers: [{name: c}]}\n---\nkind: Deployment\napiVersion: apps/v1\nmetadata: {name: payments, namespace: shop}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: payments}}\n  template:\n    metadata: {labels: {app: payments}}\n    spec: {containers: [{name: c}]}\n";
        let f = facts_of(y);
        assert_eq!(names(&f), ["service-selector-matches-no-pod"]);
        assert!(
            f[0].message
                .contains("closest: Deployment payments with labels app=payments"),
            "{}",
            f[0].message
        );
        assert_eq!(
            f[0].patch.as_deref(),
            Some(
                "kubectl patch service payment -n shop --type=json -p '[{\"op\":\"replace\",\"path\":\"/spec/selector/app\",\"value\":\"payments\"}]'"
            )
        );
    }

    #[test]
    fn a_service_alone_is_not_judged_without_workloads_in_its_namespace() {
        let svc = "kind: Service\nmetadata: {name: a}\nspec: {selector: {app: a}}\n";
        assert!(facts_of(svc).is_empty());
    }

    #[test]
    fn a_deployment_scaled_to_zero_behind_a_service_is_reported_with_a_scale_command() {
        let f = facts_of(&deploy("0", "web"));
        assert_eq!(names(&f), ["workload-zero-replicas"]);
        assert_eq!(
            f[0].patch.as_deref(),
            Some("kubectl scale deployment web -n default --replicas=1")
        );
        assert_eq!(f[0].vars["service"], "web");
    }

    #[test]
    fn endpoint_slices_with_only_unready_endpoints_mean_no_ready_endpoints() {
        let y = format!(
            "{}---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata: {{name: web-abc, labels: {{kubernetes.io/service-name: web}}}}
endpoints:
- addresses: [10.0.0.1]
  conditions: {{ready: false}}
",
            deploy("1", "web")
        );
        assert_eq!(names(&facts_of(&y)), ["service-no-ready-endpoints"]);
        let ok = y.replace("ready: false", "ready: true");
        assert!(facts_of(&ok).is_empty());
    }

    #[test]
    fn a_crash_looping_pod_names_its_service_and_the_previous_logs_command() {
        let y = "
kind: Pod
apiVersion: v1
metadata: {name: web-1, labels: {app: web}}
spec: {containers: [{name: web}]}
status:
  phase: Running
  containerStatuses:
  - name: web
    ready: false
    restartCount: 7
    state: {waiting: {reason: CrashLoopBackOff}}
---
kind: Service
metadata: {name: web}
spec: {selector: {app: web}}
";
        let f = facts_of(y);
        assert_eq!(names(&f), ["pod-crashlooping"]);
        assert_eq!(f[0].vars["service"], "web");
        assert!(f[0].patch.as_deref().unwrap_or("").contains("--previous"));
    }

    #[test]
    fn a_job_pod_whose_app_exited_while_its_proxy_runs_never_completes() {
        let y = "
kind: Pod
metadata:
  name: report-28391-abcde
  ownerReferences: [{kind: Job, name: report-28391, apiVersion: batch/v1, uid: u}]
spec: {containers: [{name: report}, {name: istio-proxy}]}
status:
  phase: Running
  conditions: [{type: Ready, status: 'False'}]
  containerStatuses:
  - {name: istio-proxy, ready: true, restartCount: 0, state: {running: {}}}
  - {name: report, ready: false, restartCount: 0, state: {terminated: {exitCode: 0, reason: Completed}}}
";
        let f = facts_of(y);
        assert_eq!(names(&f), ["job-pod-proxy-outlives-app"]);
        assert_eq!(f[0].vars["job"], "report-28391");
        assert!(
            f[0].message
                .contains("container report exited, exit code 0"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].patch
                .as_deref()
                .unwrap_or("")
                .contains("pilot-agent request POST quitquitquit")
        );
        // Linkerd's proxy is stopped through its admin port.
        let l = facts_of(&y.replace("istio-proxy", "linkerd-proxy"));
        assert!(
            l[0].patch
                .as_deref()
                .unwrap_or("")
                .contains("4191/shutdown")
        );
        // The app still running, or no Job owning the pod: nothing of the kind.
        let running = y.replace(
            "state: {terminated: {exitCode: 0, reason: Completed}}",
            "state: {running: {}}",
        );
        assert!(!names(&facts_of(&running)).contains(&"job-pod-proxy-outlives-app"));
        let deploy = y.replace("kind: Job,", "kind: ReplicaSet,");
        assert_eq!(names(&facts_of(&deploy)), ["pod-not-ready"]);
    }

    #[test]
    fn an_init_container_failing_before_an_ordinary_proxy_container_started_before_it() {
        let y = "
kind: Pod
metadata:
  name: grafana-8668697b67-8x7sb
  ownerReferences: [{kind: ReplicaSet, name: grafana-8668697b67, apiVersion: apps/v1, uid: u}]
spec:
  initContainers: [{name: istio-init}, {name: sc-datasources}]
  containers: [{name: grafana}, {name: istio-proxy}]
status:
  phase: Pending
  initContainerStatuses:
  - {name: istio-init, restartCount: 0, state: {terminated: {exitCode: 0}}}
  - {name: sc-datasources, restartCount: 3, state: {waiting: {reason: CrashLoopBackOff}}, lastState: {terminated: {exitCode: 1}}}
  containerStatuses:
  - {name: grafana, restartCount: 0, state: {waiting: {reason: PodInitializing}}}
  - {name: istio-proxy, restartCount: 0, state: {waiting: {reason: PodInitializing}}}
";
        let f = facts_of(y);
        assert_eq!(names(&f), ["app-started-before-proxy"]);
        assert_eq!(f[0].vars["container"], "sc-datasources");
        assert!(
            f[0].message.contains("exit code 1, 3 restarts"),
            "{}",
            f[0].message
        );
        let patch = f[0].patch.as_deref().unwrap_or("");
        assert!(
            patch.starts_with("kubectl patch deployment/grafana -n default --type merge -p '{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"sidecar.istio.io/nativeSidecar\":\"true\"}}}}}'"),
            "{patch}"
        );
        // The mesh's own init container failing is the redirection's cause,
        // and a proxy already running as a native sidecar rules it out.
        let own = y.replace("name: sc-datasources", "name: istio-validation");
        assert!(names(&facts_of(&own)).is_empty());
        let native = y.replace(
            "initContainers: [{name: istio-init}, {name: sc-datasources}]\n  containers: [{name: grafana}, {name: istio-proxy}]",
            "initContainers: [{name: istio-init}, {name: istio-proxy, restartPolicy: Always}, {name: sc-datasources}]\n  containers: [{name: grafana}]",
        );
        assert!(names(&facts_of(&native)).is_empty());
        // Linkerd's patch names its own annotation.
        let l = facts_of(
            &y.replace("istio-proxy", "linkerd-proxy")
                .replace("istio-init", "linkerd-init"),
        );
        assert!(
            l[0].patch
                .as_deref()
                .unwrap_or("")
                .contains("config.beta.linkerd.io/proxy-enable-native-sidecar")
        );
    }

    #[test]
    fn an_app_that_failed_in_the_proxys_first_seconds_started_before_it() {
        let y = "
kind: Pod
metadata: {name: orders-5d8f7c9b6-x2x7k}
spec: {containers: [{name: orders}, {name: linkerd-proxy}]}
status:
  phase: Running
  containerStatuses:
  - {name: linkerd-proxy, restartCount: 0, state: {running: {startedAt: '2026-12-07T10:00:02Z'}}}
  - {name: orders, restartCount: 1, state: {running: {startedAt: '2026-12-07T10:00:09Z'}}, lastState: {terminated: {exitCode: 1, finishedAt: '2026-12-07T10:00:04Z'}}}
";
        let f = facts_of(y);
        assert_eq!(names(&f), ["app-started-before-proxy"]);
        assert!(
            f[0].message
                .contains("exited with code 1 2s after the linkerd-proxy sidecar started"),
            "{}",
            f[0].message
        );
        // Long after the proxy started, restarted again and again, or held
        // by a postStart hook: another story.
        let late = y.replace(
            "finishedAt: '2026-12-07T10:00:04Z'",
            "finishedAt: '2026-12-07T10:05:04Z'",
        );
        assert!(names(&facts_of(&late)).is_empty());
        let often = y.replace("restartCount: 1,", "restartCount: 4,");
        assert!(!names(&facts_of(&often)).contains(&"app-started-before-proxy"));
        let held = y.replace(
            "{name: linkerd-proxy}]",
            "{name: linkerd-proxy, lifecycle: {postStart: {exec: {command: [/usr/lib/linkerd/linkerd-await]}}}}]",
        );
        assert!(names(&facts_of(&held)).is_empty());
        // A clean exit is no failure.
        let clean = y.replace("exitCode: 1,", "exitCode: 0,");
        assert!(names(&facts_of(&clean)).is_empty());
    }

    #[test]
    fn a_running_pod_failing_readiness_is_not_ready() {
        let y = "
kind: Pod
metadata: {name: web-1, labels: {app: web}}
spec: {containers: [{name: web}]}
status:
  phase: Running
  conditions: [{type: Ready, status: 'False'}]
  containerStatuses: [{name: web, ready: false, restartCount: 0, state: {running: {}}}]
";
        assert_eq!(names(&facts_of(y)), ["pod-not-ready"]);
        assert!(
            facts_of(
                &y.replace("ready: false", "ready: true")
                    .replace("'False'", "'True'")
            )
            .is_empty()
        );
    }

    #[test]
    fn pods_without_status_from_plain_manifests_raise_no_status_facts() {
        let y = "kind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: a}]}\n";
        assert!(facts_of(y).is_empty());
    }

    #[test]
    fn an_argo_rollout_template_is_a_workload_a_service_can_select() {
        let y = "
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: istio-host-split}
spec:
  selector: {matchLabels: {app: istio-host-split}}
  template:
    metadata: {labels: {app: istio-host-split}}
    spec: {containers: [{name: app, image: argoproj/rollouts-demo:blue}]}
---
apiVersion: v1
kind: Service
metadata: {name: istio-host-split-canary}
spec:
  selector: {app: istio-host-split}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: other}
spec:
  template:
    metadata: {labels: {app: other}}
    spec: {containers: [{name: other}]}
";
        let set = crate::collect::manifests::load_str(y, "t.yaml", "default").unwrap();
        let ix = Index::new(&set);
        let mut out = Vec::new();
        facts(&ix, &mut out);
        assert!(
            !out.iter()
                .any(|f| f.name == "service-selector-matches-no-pod"),
            "{out:?}"
        );
    }
}
