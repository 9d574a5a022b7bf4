//! An in-process Kubernetes API server for tests: serves scenario objects at
//! the real API paths (core, named groups, CRD groups), pod logs and pod-proxy
//! responses, list responses with `kind: XList`, `metadata.resourceVersion`,
//! `limit`/`continue` pagination, label and field selectors, and discovery
//! (`/api`, `/apis`, `/apis/{group}/{version}`) for kubectl. Faults (403, 404,
//! slow) can be injected per path, and every request is recorded. A
//! Service's proxy (`/api/v1/namespaces/{ns}/services/{name}:{port}/proxy/…`)
//! can forward to a real server ([`Scenario::service_proxy`]), as the API
//! server forwards to the Service's endpoint.
//!
//! It is written from the API conventions, not from meshdoc's resource table,
//! so that a wrong path or parameter in meshdoc shows up as a failed test;
//! `kubectl` runs against it in `cluster_fixture.rs` to keep it faithful.

#![allow(dead_code)]

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The time a scenario log line without its own was written, as the
/// kubelet prints it with `timestamps=true`.
pub const DEFAULT_LOG_TIME: &str = "2025-01-01T00:00:00.000000000Z";

/// One served resource type: (group, versions, kind, plural, namespaced, short names).
type Kind = (
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
);

/// Every type the fixture knows. Groups outside `BUILTIN_GROUPS` are CRDs:
/// served only when the scenario installs them.
const KINDS: &[Kind] = &[
    ("", &["v1"], "Pod", "pods", true, &["po"]),
    ("", &["v1"], "Service", "services", true, &["svc"]),
    ("", &["v1"], "Event", "events", true, &["ev"]),
    ("", &["v1"], "ConfigMap", "configmaps", true, &["cm"]),
    ("", &["v1"], "Secret", "secrets", true, &[]),
    ("", &["v1"], "Namespace", "namespaces", false, &["ns"]),
    ("", &["v1"], "Endpoints", "endpoints", true, &["ep"]),
    (
        "apps",
        &["v1"],
        "Deployment",
        "deployments",
        true,
        &["deploy"],
    ),
    ("apps", &["v1"], "ReplicaSet", "replicasets", true, &["rs"]),
    (
        "apps",
        &["v1"],
        "StatefulSet",
        "statefulsets",
        true,
        &["sts"],
    ),
    ("apps", &["v1"], "DaemonSet", "daemonsets", true, &["ds"]),
    ("batch", &["v1"], "Job", "jobs", true, &[]),
    ("batch", &["v1"], "CronJob", "cronjobs", true, &["cj"]),
    (
        "discovery.k8s.io",
        &["v1"],
        "EndpointSlice",
        "endpointslices",
        true,
        &[],
    ),
    (
        "networking.k8s.io",
        &["v1"],
        "NetworkPolicy",
        "networkpolicies",
        true,
        &["netpol"],
    ),
    (
        "admissionregistration.k8s.io",
        &["v1"],
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
        &[],
    ),
    (
        "cilium.io",
        &["v2"],
        "CiliumNetworkPolicy",
        "ciliumnetworkpolicies",
        true,
        &["cnp"],
    ),
    (
        "linkerd.io",
        &["v1alpha2"],
        "ServiceProfile",
        "serviceprofiles",
        true,
        &["sp"],
    ),
    (
        "policy.linkerd.io",
        &["v1beta3", "v1beta1"],
        "HTTPRoute",
        "httproutes",
        true,
        &[],
    ),
    (
        "policy.linkerd.io",
        &["v1beta3", "v1beta1"],
        "Server",
        "servers",
        true,
        &[],
    ),
    (
        "policy.linkerd.io",
        &["v1alpha1"],
        "AuthorizationPolicy",
        "authorizationpolicies",
        true,
        &[],
    ),
    (
        "gateway.networking.k8s.io",
        &["v1"],
        "HTTPRoute",
        "httproutes",
        true,
        &[],
    ),
    (
        "networking.istio.io",
        &["v1", "v1beta1", "v1alpha3"],
        "DestinationRule",
        "destinationrules",
        true,
        &["dr"],
    ),
    (
        "networking.istio.io",
        &["v1", "v1beta1", "v1alpha3"],
        "VirtualService",
        "virtualservices",
        true,
        &["vs"],
    ),
    (
        "networking.istio.io",
        &["v1", "v1beta1", "v1alpha3"],
        "Gateway",
        "gateways",
        true,
        &["gw"],
    ),
    (
        "networking.istio.io",
        &["v1", "v1beta1", "v1alpha3"],
        "ServiceEntry",
        "serviceentries",
        true,
        &["se"],
    ),
    (
        "networking.istio.io",
        &["v1", "v1beta1", "v1alpha3"],
        "Sidecar",
        "sidecars",
        true,
        &[],
    ),
    (
        "networking.istio.io",
        &["v1alpha3"],
        "EnvoyFilter",
        "envoyfilters",
        true,
        &[],
    ),
    (
        "security.istio.io",
        &["v1", "v1beta1"],
        "PeerAuthentication",
        "peerauthentications",
        true,
        &["pa"],
    ),
];

const BUILTIN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "discovery.k8s.io",
    "networking.k8s.io",
    "admissionregistration.k8s.io",
];

/// An injected fault: requests whose path equals `path` (or starts with it
/// when it ends in `*`) get `status` (0 = served normally) after `delay`.
#[derive(Debug, Clone)]
pub struct Fault {
    pub path: String,
    pub status: u16,
    pub delay: Duration,
}

impl Fault {
    pub fn status(path: &str, status: u16) -> Fault {
        Fault {
            path: path.into(),
            status,
            delay: Duration::ZERO,
        }
    }
    pub fn slow(path: &str, delay: Duration) -> Fault {
        Fault {
            path: path.into(),
            status: 0,
            delay,
        }
    }
    fn matches(&self, path: &str) -> bool {
        match self.path.strip_suffix('*') {
            Some(p) => path.starts_with(p),
            None => self.path == path,
        }
    }
}

/// What the fixture serves.
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    /// Objects with apiVersion/kind/metadata.
    pub objects: Vec<Value>,
    /// (namespace, pod, container, previous) → log text.
    pub logs: HashMap<(String, String, String, bool), String>,
    /// The same key → when each line was written, for `timestamps=true`
    /// (a log without times gets [`DEFAULT_LOG_TIME`] on every line).
    pub log_times: HashMap<(String, String, String, bool), Vec<String>>,
    /// (namespace, pod, port, path without leading `/`) → body (served as 200).
    pub proxy: HashMap<(String, String, u16, String), String>,
    /// (namespace, service, port) → base URL the service proxy forwards to.
    pub service_proxies: HashMap<(String, String, u16), String>,
    /// CRD groups installed besides the built-in groups.
    pub crd_groups: BTreeSet<String>,
    pub faults: Vec<Fault>,
}

impl Scenario {
    /// Adds objects from multi-document YAML.
    pub fn yaml(&mut self, text: &str) -> &mut Self {
        let docs: Vec<Value> = serde_saphyr::from_multiple(text).expect("scenario YAML");
        for d in docs {
            if d.get("kind").is_some() {
                self.objects.push(d);
            }
        }
        self
    }
    pub fn log(
        &mut self,
        ns: &str,
        pod: &str,
        container: &str,
        previous: bool,
        text: &str,
    ) -> &mut Self {
        self.logs.insert(
            (ns.into(), pod.into(), container.into(), previous),
            text.into(),
        );
        self
    }
    /// A log whose lines were written at known times: `(RFC 3339 time, line)`.
    pub fn log_at(
        &mut self,
        ns: &str,
        pod: &str,
        container: &str,
        previous: bool,
        lines: &[(&str, &str)],
    ) -> &mut Self {
        let text: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
        self.log(ns, pod, container, previous, &text);
        self.log_times.insert(
            (ns.into(), pod.into(), container.into(), previous),
            lines.iter().map(|(t, _)| t.to_string()).collect(),
        );
        self
    }
    pub fn proxy(&mut self, ns: &str, pod: &str, port: u16, path: &str, body: &str) -> &mut Self {
        self.proxy
            .insert((ns.into(), pod.into(), port, path.into()), body.into());
        self
    }
    /// Serves `/api/v1/namespaces/{ns}/services/{svc}:{port}/proxy/{rest}` by
    /// forwarding GET `{base}/{rest}?{query}` and returning its status and body.
    pub fn service_proxy(&mut self, ns: &str, svc: &str, port: u16, base: &str) -> &mut Self {
        self.service_proxies.insert(
            (ns.into(), svc.into(), port),
            base.trim_end_matches('/').into(),
        );
        self
    }
    pub fn crds(&mut self, groups: &[&str]) -> &mut Self {
        self.crd_groups.extend(groups.iter().map(|g| g.to_string()));
        self
    }
    pub fn fault(&mut self, f: Fault) -> &mut Self {
        self.faults.push(f);
        self
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
}

impl Recorded {
    /// A query parameter, percent-decoded.
    pub fn param(&self, key: &str) -> Option<String> {
        parse_query(&self.query).remove(key)
    }
}

struct St {
    scenario: Scenario,
    log: Mutex<Vec<Recorded>>,
    addr: Mutex<String>,
}

/// A running fixture; stops when dropped.
pub struct ApiServer {
    pub addr: SocketAddr,
    state: Arc<St>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ApiServer {
    /// Starts serving `scenario` on 127.0.0.1 at a free port, on its own thread.
    pub fn start(scenario: Scenario) -> ApiServer {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("local addr");
        let state = Arc::new(St {
            scenario,
            log: Mutex::new(Vec::new()),
            addr: Mutex::new(addr.to_string()),
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("fixture runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                let app = Router::new().fallback(handle).with_state(st);
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        ApiServer {
            addr,
            state,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.log.lock().unwrap().clone()
    }

    pub fn clear_requests(&self) {
        self.state.log.lock().unwrap().clear();
    }

    /// Writes a kubeconfig for this server (plain http, no credentials) with
    /// `namespace` as the context's namespace; returns its path.
    pub fn write_kubeconfig(&self, dir: &Path, namespace: &str) -> PathBuf {
        let p = dir.join("kubeconfig");
        std::fs::write(
            &p,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fixture\n  cluster:\n    server: {}\n    insecure-skip-tls-verify: true\nusers:\n- name: fixture\n  user: {{}}\ncontexts:\n- name: fixture\n  context:\n    cluster: fixture\n    user: fixture\n    namespace: {namespace}\ncurrent-context: fixture\n",
                self.url()
            ),
        )
        .expect("write kubeconfig");
        p
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn parse_query(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match h.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn json_response(code: StatusCode, v: Value) -> Response {
    let mut r = (code, v.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    json_response(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "details": {}, "code": code}),
    )
}

fn not_found_path() -> Response {
    status(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

async fn handle(State(st): State<Arc<St>>, method: Method, uri: Uri) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    st.log.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
    });
    if let Some(f) = st.scenario.faults.iter().find(|f| f.matches(&path)) {
        if !f.delay.is_zero() {
            tokio::time::sleep(f.delay).await;
        }
        match f.status {
            0 => {}
            403 => {
                return status(
                    403,
                    "Forbidden",
                    &format!(
                        "{path} is forbidden: User \"system:serviceaccount:default:meshdoc\" cannot list resource"
                    ),
                );
            }
            404 => return not_found_path(),
            c => return status(c, "InternalError", "injected fault"),
        }
    }
    if method != Method::GET {
        return status(405, "MethodNotAllowed", "the fixture only serves GET");
    }
    if let Some(r) = forward_service_proxy(&st, &path, &query).await {
        return r;
    }
    let q = parse_query(&query);
    route(&st, &path, &q)
}

/// A service-proxy request for a Service the scenario forwards, answered by
/// the server behind it (`None`: not such a request).
async fn forward_service_proxy(st: &St, path: &str, query: &str) -> Option<Response> {
    let parts: Vec<&str> = path.trim_start_matches('/').splitn(8, '/').collect();
    let [
        "api",
        "v1",
        "namespaces",
        ns,
        "services",
        name,
        "proxy",
        rest,
    ] = parts.as_slice()
    else {
        return None;
    };
    // `name:port`, or `scheme:name:port`.
    let mut it = name.rsplitn(3, ':');
    let port: u16 = it.next()?.parse().ok()?;
    let svc = it.next()?;
    let base = st
        .scenario
        .service_proxies
        .get(&(ns.to_string(), svc.to_string(), port))?;
    let url = if query.is_empty() {
        format!("{base}/{rest}")
    } else {
        format!("{base}/{rest}?{query}")
    };
    meshdoc::collect::cluster::client::install_crypto_provider();
    let answer = async {
        let r = reqwest::Client::new().get(&url).send().await?;
        let code = r.status().as_u16();
        let ct = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("text/plain")
            .to_string();
        Ok::<_, reqwest::Error>((code, ct, r.bytes().await?))
    };
    Some(match answer.await {
        Ok((code, ct, body)) => {
            let mut r = (
                StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY),
                body,
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&ct) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r
        }
        Err(e) => status(
            503,
            "ServiceUnavailable",
            &format!("error trying to reach service: {e}"),
        ),
    })
}

fn installed(st: &St, group: &str) -> bool {
    BUILTIN_GROUPS.contains(&group) || st.scenario.crd_groups.contains(group)
}

fn kinds_of<'a>(
    st: &'a St,
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static Kind> + 'a {
    KINDS
        .iter()
        .filter(move |k| k.0 == group && k.1.contains(&version) && installed(st, group))
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

fn route(st: &St, path: &str, q: &BTreeMap<String, String>) -> Response {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["version"] => json_response(
            StatusCode::OK,
            json!({"major": "1", "minor": "32", "gitVersion": "v1.32.0-fixture", "platform": "linux/amd64"}),
        ),
        ["api"] => json_response(
            StatusCode::OK,
            json!({"kind": "APIVersions", "versions": ["v1"],
                   "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": st.addr.lock().unwrap().clone()}]}),
        ),
        ["apis"] => {
            let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for k in KINDS
                .iter()
                .filter(|k| !k.0.is_empty() && installed(st, k.0))
            {
                let e = groups.entry(k.0).or_default();
                for v in k.1 {
                    if !e.contains(v) {
                        e.push(v);
                    }
                }
            }
            let groups: Vec<Value> = groups
                .into_iter()
                .map(|(g, vs)| {
                    let versions: Vec<Value> = vs
                        .iter()
                        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                        .collect();
                    json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
                })
                .collect();
            json_response(
                StatusCode::OK,
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            )
        }
        ["api", "v1"] => resource_list(st, "", "v1"),
        ["apis", g] => {
            if !installed(st, g) {
                return not_found_path();
            }
            let versions: Vec<Value> = KINDS
                .iter()
                .filter(|k| k.0 == *g)
                .flat_map(|k| k.1.iter())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                .collect();
            json_response(
                StatusCode::OK,
                json!({"kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": versions, "preferredVersion": versions[0]}),
            )
        }
        ["apis", g, v] => resource_list(st, g, v),
        // Pod subresources.
        ["api", "v1", "namespaces", ns, "pods", name, "log"] => logs(st, ns, name, q),
        [
            "api",
            "v1",
            "namespaces",
            ns,
            "pods",
            name,
            "proxy",
            rest @ ..,
        ] => {
            let (pod, port) = match name.split_once(':') {
                Some((p, port)) => (p, port.parse().unwrap_or(0)),
                None => (*name, 80),
            };
            pod_proxy(st, ns, pod, port, &rest.join("/"))
        }
        // Core group.
        ["api", "v1", "namespaces", ns, plural] => list(st, "", "v1", Some(ns), plural, q),
        ["api", "v1", "namespaces", ns, plural, name] => get(st, "", "v1", Some(ns), plural, name),
        ["api", "v1", "namespaces", name] => get(st, "", "v1", None, "namespaces", name),
        ["api", "v1", plural] => list(st, "", "v1", None, plural, q),
        // Named groups.
        ["apis", g, v, "namespaces", ns, plural] => list(st, g, v, Some(ns), plural, q),
        ["apis", g, v, "namespaces", ns, plural, name] => get(st, g, v, Some(ns), plural, name),
        ["apis", g, v, plural] => list(st, g, v, None, plural, q),
        ["apis", g, v, plural, name] => get(st, g, v, None, plural, name),
        _ => not_found_path(),
    }
}

fn resource_list(st: &St, group: &str, version: &str) -> Response {
    let resources: Vec<Value> = kinds_of(st, group, version)
        .flat_map(|k| {
            let mut v = vec![json!({"name": k.3, "singularName": k.2.to_ascii_lowercase(), "namespaced": k.4,
                                    "kind": k.2, "verbs": ["get", "list"], "shortNames": k.5})];
            if k.3 == "pods" {
                v.push(json!({"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]}));
                v.push(json!({"name": "pods/proxy", "singularName": "", "namespaced": true, "kind": "PodProxyOptions", "verbs": ["get"]}));
            }
            v
        })
        .collect();
    if resources.is_empty() {
        return not_found_path();
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json_response(
        StatusCode::OK,
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn kind_for(st: &St, group: &str, version: &str, plural: &str) -> Option<&'static Kind> {
    kinds_of(st, group, version).find(|k| k.3 == plural)
}

/// Objects of a kind (any stored version: the API server converts).
fn objects_of<'a>(st: &'a St, k: &'static Kind, ns: Option<&'a str>) -> Vec<&'a Value> {
    let mut v: Vec<&Value> = st
        .scenario
        .objects
        .iter()
        .filter(|o| {
            o.get("kind").and_then(Value::as_str) == Some(k.2)
                && group_of(o.get("apiVersion").and_then(Value::as_str).unwrap_or("")) == k.0
                && match ns {
                    Some(ns) => {
                        o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns)
                    }
                    None => true,
                }
        })
        .collect();
    v.sort_by_key(|o| {
        (
            o.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            o.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        )
    });
    v
}

/// The object as served: at the requested version, with server-set metadata.
fn served(o: &Value, group: &str, version: &str) -> Value {
    let mut o = o.clone();
    o["apiVersion"] = Value::String(if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    });
    let md = o["metadata"].as_object_mut();
    if let Some(md) = md {
        let name = md
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        md.entry("uid")
            .or_insert_with(|| json!(format!("uid-{name}")));
        md.entry("resourceVersion").or_insert_with(|| json!("1000"));
        md.entry("creationTimestamp")
            .or_insert_with(|| json!("2025-01-01T00:00:00Z"));
    }
    o
}

fn list(
    st: &St,
    group: &str,
    version: &str,
    ns: Option<&str>,
    plural: &str,
    q: &BTreeMap<String, String>,
) -> Response {
    let Some(k) = kind_for(st, group, version, plural) else {
        return not_found_path();
    };
    if ns.is_some() && !k.4 {
        return not_found_path();
    }
    let labels = match q.get("labelSelector").map(|s| parse_label_selector(s)) {
        Some(Err(e)) => return status(400, "BadRequest", &e),
        Some(Ok(l)) => l,
        None => Vec::new(),
    };
    let fields = q
        .get("fieldSelector")
        .map(|s| parse_field_selector(s))
        .unwrap_or_default();
    let all: Vec<&Value> = objects_of(st, k, ns)
        .into_iter()
        .filter(|o| labels.iter().all(|r| r.matches(o)))
        .filter(|o| fields.iter().all(|(p, op, v)| field_matches(o, p, op, v)))
        .collect();
    let start: usize = match q.get("continue") {
        Some(c) if !c.is_empty() => match c
            .strip_prefix("fixture-continue-")
            .and_then(|n| n.parse().ok())
        {
            Some(n) => n,
            None => return status(400, "BadRequest", "invalid continue token"),
        },
        _ => 0,
    };
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let end = start.saturating_add(limit).min(all.len());
    let builtin = BUILTIN_GROUPS.contains(&group);
    let items: Vec<Value> = all[start.min(all.len())..end]
        .iter()
        .map(|o| {
            let mut o = served(o, group, version);
            // Built-in list items come without apiVersion/kind, as from a real server.
            if builtin && let Some(m) = o.as_object_mut() {
                m.remove("apiVersion");
                m.remove("kind");
            }
            o
        })
        .collect();
    let mut metadata = json!({"resourceVersion": "1000"});
    if end < all.len() {
        metadata["continue"] = json!(format!("fixture-continue-{end}"));
        metadata["remainingItemCount"] = json!(all.len() - end);
    }
    json_response(
        StatusCode::OK,
        json!({"kind": format!("{}List", k.2),
               "apiVersion": if group.is_empty() { version.to_string() } else { format!("{group}/{version}") },
               "metadata": metadata, "items": items}),
    )
}

fn get(
    st: &St,
    group: &str,
    version: &str,
    ns: Option<&str>,
    plural: &str,
    name: &str,
) -> Response {
    let Some(k) = kind_for(st, group, version, plural) else {
        return not_found_path();
    };
    match objects_of(st, k, ns)
        .into_iter()
        .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
    {
        Some(o) => json_response(StatusCode::OK, served(o, group, version)),
        None => {
            let gr = if group.is_empty() {
                plural.to_string()
            } else {
                format!("{plural}.{group}")
            };
            let mut r = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": format!("{gr} \"{name}\" not found"), "reason": "NotFound",
                   "details": {"name": name, "kind": plural}, "code": 404});
            if !group.is_empty() {
                r["details"]["group"] = json!(group);
            }
            json_response(StatusCode::NOT_FOUND, r)
        }
    }
}

fn pod<'a>(st: &'a St, ns: &str, name: &str) -> Option<&'a Value> {
    st.scenario.objects.iter().find(|o| {
        o.get("kind").and_then(Value::as_str) == Some("Pod")
            && o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns)
            && o.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
    })
}

fn text(body: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

fn logs(st: &St, ns: &str, name: &str, q: &BTreeMap<String, String>) -> Response {
    let Some(p) = pod(st, ns, name) else {
        return status(404, "NotFound", &format!("pods \"{name}\" not found"));
    };
    let containers: Vec<String> = ["/spec/containers", "/spec/initContainers"]
        .iter()
        .filter_map(|ptr| p.pointer(ptr).and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    let container = match q.get("container") {
        Some(c) => c.clone(),
        None if p
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map(|a| a.len())
            == Some(1) =>
        {
            containers[0].clone()
        }
        None => {
            return status(
                400,
                "BadRequest",
                &format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    containers.join(" ")
                ),
            );
        }
    };
    if !containers.contains(&container) {
        return status(
            400,
            "BadRequest",
            &format!("container {container} is not valid for pod {name}"),
        );
    }
    let previous = q.get("previous").is_some_and(|v| v == "true");
    let Some(body) = st.scenario.logs.get(&(
        ns.to_string(),
        name.to_string(),
        container.clone(),
        previous,
    )) else {
        if previous {
            return status(
                400,
                "BadRequest",
                &format!(
                    "previous terminated container \"{container}\" in pod \"{name}\" not found"
                ),
            );
        }
        return text(String::new());
    };
    let key = (
        ns.to_string(),
        name.to_string(),
        container.clone(),
        previous,
    );
    // `timestamps=true`: the kubelet puts each line's RFC 3339 time first.
    let stamped: Vec<String> = body
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if q.get("timestamps").is_some_and(|v| v == "true") {
                let t = st
                    .scenario
                    .log_times
                    .get(&key)
                    .and_then(|t| t.get(i))
                    .map(String::as_str)
                    .unwrap_or(DEFAULT_LOG_TIME);
                format!("{t} {l}")
            } else {
                l.to_string()
            }
        })
        .collect();
    let mut lines: Vec<&str> = stamped.iter().map(String::as_str).collect();
    if let Some(n) = q.get("tailLines").and_then(|n| n.parse::<usize>().ok())
        && lines.len() > n
    {
        lines = lines.split_off(lines.len() - n);
    }
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    if let Some(n) = q.get("limitBytes").and_then(|n| n.parse::<usize>().ok()) {
        out.truncate(n);
    }
    text(out)
}

fn pod_proxy(st: &St, ns: &str, name: &str, port: u16, path: &str) -> Response {
    if pod(st, ns, name).is_none() {
        return status(404, "NotFound", &format!("pods \"{name}\" not found"));
    }
    match st
        .scenario
        .proxy
        .get(&(ns.to_string(), name.to_string(), port, path.to_string()))
    {
        Some(b) => text(b.clone()),
        None => status(
            503,
            "ServiceUnavailable",
            &format!(
                "error trying to reach service: dial tcp 10.0.0.1:{port}: connect: connection refused"
            ),
        ),
    }
}

/// One label-selector requirement.
#[derive(Debug)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl Req {
    fn matches(&self, o: &Value) -> bool {
        let label = |k: &str| {
            o.pointer("/metadata/labels")
                .and_then(|l| l.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        match self {
            Req::Eq(k, v) => label(k).as_deref() == Some(v),
            Req::Ne(k, v) => label(k).as_deref() != Some(v),
            Req::In(k, vs) => label(k).is_some_and(|l| vs.contains(&l)),
            Req::NotIn(k, vs) => label(k).is_none_or(|l| !vs.contains(&l)),
            Req::Exists(k) => label(k).is_some(),
            Req::NotExists(k) => label(k).is_none(),
        }
    }
}

/// Splits on commas outside parentheses.
fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

fn parse_label_selector(s: &str) -> Result<Vec<Req>, String> {
    let set = |v: &str| -> Vec<String> {
        v.trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .split(',')
            .map(|x| x.trim().to_string())
            .collect()
    };
    split_top(s)
        .into_iter()
        .map(|r| {
            let r = r.trim();
            if let Some((k, v)) = r.split_once(" notin ") {
                Ok(Req::NotIn(k.trim().into(), set(v)))
            } else if let Some((k, v)) = r.split_once(" in ") {
                Ok(Req::In(k.trim().into(), set(v)))
            } else if let Some((k, v)) = r.split_once("!=") {
                Ok(Req::Ne(k.trim().into(), v.trim().into()))
            } else if let Some((k, v)) = r.split_once("==") {
                Ok(Req::Eq(k.trim().into(), v.trim().into()))
            } else if let Some((k, v)) = r.split_once('=') {
                Ok(Req::Eq(k.trim().into(), v.trim().into()))
            } else if let Some(k) = r.strip_prefix('!') {
                Ok(Req::NotExists(k.trim().into()))
            } else if !r.is_empty() && !r.contains(' ') {
                Ok(Req::Exists(r.into()))
            } else {
                Err(format!("unable to parse requirement: {r}"))
            }
        })
        .collect()
}

fn parse_field_selector(s: &str) -> Vec<(String, String, String)> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .filter_map(|r| {
            for op in ["!=", "==", "="] {
                if let Some((k, v)) = r.split_once(op) {
                    return Some((k.to_string(), op.to_string(), v.to_string()));
                }
            }
            None
        })
        .collect()
}

fn field_matches(o: &Value, path: &str, op: &str, want: &str) -> bool {
    let ptr = format!("/{}", path.replace('.', "/"));
    let got = o.pointer(&ptr).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let eq = got.as_deref().unwrap_or("") == want;
    if op == "!=" { !eq } else { eq }
}
