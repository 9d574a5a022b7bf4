//! Derived facts about Kubernetes and mesh objects, with real semantics.
//!
//! Facts are computed once from an [`ObjectSet`] — manifests for `meshdoc check`,
//! live objects for `meshdoc diagnose` — and rules refer to them by name in a
//! `fact:` signal. Each fact names the objects involved so a finding can point
//! at file:line:column or kind/namespace/name.

pub mod certs;
pub mod changes;
pub mod istio;
pub mod linkerd;
pub mod netpol;
pub mod selector;
pub mod workloads;

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A Kubernetes object plus where it came from.
#[derive(Debug, Clone)]
pub struct Object {
    pub value: serde_json::Value,
    pub origin: ObjRef,
}

impl Object {
    /// This object's reference pointing at one of its fields
    /// (`spec.ingress[0].ports`); the CLI turns the field into a line.
    pub fn at(&self, field: impl Into<String>) -> ObjRef {
        ObjRef {
            field: Some(field.into()),
            ..self.origin.clone()
        }
    }
    /// A label value from `metadata.labels`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.value
            .pointer("/metadata/labels")
            .and_then(|m| m.get(key))
            .and_then(|v| v.as_str())
    }
    /// An annotation value from `metadata.annotations`.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.value
            .pointer("/metadata/annotations")
            .and_then(|m| m.get(key))
            .and_then(|v| v.as_str())
    }
    /// `spec` or JSON null.
    pub fn spec(&self) -> &serde_json::Value {
        self.value.get("spec").unwrap_or(&serde_json::Value::Null)
    }
    pub fn kind(&self) -> &str {
        self.value
            .get("kind")
            .and_then(|v| v.as_str())
            .unwrap_or("")
    }
    pub fn api_version(&self) -> &str {
        self.value
            .get("apiVersion")
            .and_then(|v| v.as_str())
            .unwrap_or("")
    }
    pub fn name(&self) -> &str {
        self.value
            .pointer("/metadata/name")
            .and_then(|v| v.as_str())
            .unwrap_or("")
    }
    /// The namespace the object lives in (already defaulted by the loader).
    pub fn namespace(&self) -> &str {
        self.origin.namespace.as_deref().unwrap_or("")
    }
}

/// All objects of one run.
#[derive(Debug, Clone, Default)]
pub struct ObjectSet {
    pub objects: Vec<Object>,
    /// Source text of each manifest file by path, so a finding's field can
    /// be turned into a line and column. Empty for live objects.
    pub sources: HashMap<String, Arc<str>>,
}

impl ObjectSet {
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Object> + 'a {
        self.objects.iter().filter(move |o| o.kind() == kind)
    }
}

/// Points at an object: its identity and, for manifests, its place in a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub struct ObjRef {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// The offending field, as a JSON-pointer-like path (`spec.ingress[0].ports`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ObjRef {
    /// `file:line:column` when the object came from a file, else
    /// `Kind/ns/name`.
    pub fn place(&self) -> String {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => format!("{f}:{l}:{}", self.column.unwrap_or(1)),
            (Some(f), None) => f.clone(),
            _ => self.to_string(),
        }
    }
}

impl std::fmt::Display for ObjRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) if !ns.is_empty() => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            _ => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// One derived fact: "NetworkPolicy default-deny allows 8080 but not 4143 to pod web-1".
#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    /// The fact's name, as used in rules (`netpol-blocks-proxy-port`).
    pub name: &'static str,
    /// The object the finding should point at.
    pub subject: ObjRef,
    /// Other objects involved.
    pub related: Vec<ObjRef>,
    /// A sentence with the real names filled in.
    pub message: String,
    /// Values for doc placeholders (`namespace`, `service`, `pod`, `port`, …).
    pub vars: BTreeMap<String, String>,
    /// A concrete patch or command that fixes it, when one can be written.
    pub patch: Option<String>,
}

/// Every fact name a rule may use, with what it means.
pub const KNOWN_FACTS: &[(&str, &str)] = &[
    (
        "netpol-blocks-proxy-port",
        "A NetworkPolicy (or CiliumNetworkPolicy) selects a Linkerd-meshed pod and allows ingress to app ports but not to the proxy inbound port 4143.",
    ),
    (
        "server-speaks-first-port-not-opaque",
        "A Service/pod port of a server-speaks-first protocol (25, 587, 3306, 4222, …) on a meshed workload is neither opaque (config.linkerd.io/opaque-ports, defaults included) nor declared by appProtocol tcp/linkerd.io/opaque.",
    ),
    (
        "opaque-ports-mismatch",
        "A port is opaque on the pod (or its template) but not on the Service that targets it, so clients skip the opaque transport the server proxy expects. (Opaque only on the Service, e.g. appProtocol tcp, is the documented fix for detection stalls and is not reported.)",
    ),
    (
        "serviceprofile-and-httproute-same-service",
        "A ServiceProfile with routes or a traffic split and an HTTPRoute both target the same Service.",
    ),
    (
        "injector-webhook-cert-expired",
        "The linkerd-proxy-injector MutatingWebhookConfiguration caBundle (or the injector certificate) has expired.",
    ),
    (
        "injector-webhook-cert-expiring",
        "The linkerd-proxy-injector webhook certificate expires within the --cert-warn window.",
    ),
    (
        "injector-webhook-fails-open",
        "The proxy-injector webhook has failurePolicy Ignore, so an injector failure silently creates unmeshed pods.",
    ),
    (
        "trust-anchor-expired",
        "The Linkerd trust anchor (linkerd-identity-trust-roots) or identity issuer certificate has expired or expires soon.",
    ),
    (
        "service-no-ready-endpoints",
        "A Service has no ready endpoints (EndpointSlices empty or all not-ready).",
    ),
    (
        "service-selector-matches-no-pod",
        "A Service's selector matches no pod or workload template in its namespace.",
    ),
    (
        "workload-zero-replicas",
        "The Deployment/StatefulSet behind a Service is scaled to zero replicas.",
    ),
    (
        "pod-crashlooping",
        "A pod behind a Service is in CrashLoopBackOff or restarting repeatedly.",
    ),
    (
        "pod-not-ready",
        "A pod behind a Service is running but failing its readiness probe.",
    ),
    (
        "job-pod-proxy-outlives-app",
        "A Job's pod whose own containers have all exited while its istio-proxy or linkerd-proxy sidecar (an ordinary container, not a native sidecar) still runs: the Job never completes.",
    ),
    (
        "app-started-before-proxy",
        "A meshed pod whose proxy is an ordinary container (no native sidecar, no postStart hold): one of its init containers fails before the proxy can run, or an application container exited in the proxy's first seconds and ran after a restart.",
    ),
    (
        "registry-only-external-host-unregistered",
        "An Istio-meshed workload holds an http(s):// URL of a host outside the cluster in an environment variable, outbound traffic is REGISTRY_ONLY for it (its Sidecar resource, the root namespace's, an IstioOperator meshConfig or the istio ConfigMap), and no ServiceEntry visible to its namespace lists the host.",
    ),
    (
        "meshed-pod-missing-proxy",
        "An admitted pod (read from a cluster or bundle: it has a status, uid, owner or node) in an injection-enabled namespace/workload runs without the linkerd-proxy container. A Pod in a manifest has not met the injector yet and is not reported.",
    ),
    (
        "dr-tls-disables-mtls-under-strict",
        "A DestinationRule sets no tls mode / DISABLE / SIMPLE for a host whose workloads require mTLS (PeerAuthentication STRICT).",
    ),
    (
        "service-port-unnamed-or-unprefixed",
        "An Istio-meshed Service port has no name with a protocol prefix (http-, grpc-, tcp-, …) and no appProtocol.",
    ),
    (
        "gateway-vs-skips-mesh-subset",
        "A gateway-bound VirtualService routes to a host whose mesh VirtualService routes to subsets that the gateway VirtualService does not use.",
    ),
    (
        "virtualservice-subset-undefined",
        "A VirtualService route names a subset that no DestinationRule for its host defines (judged when the set holds a DestinationRule for that host): Envoy answers 503 NC cluster_not_found.",
    ),
    (
        "headless-service-http-port",
        "A headless Service (clusterIP: None) on the Istio mesh (injected namespace or pods, Istio configuration in the set, or --mesh istio) exposes an HTTP-named port, which breaks pod-IP access under STRICT mTLS.",
    ),
    (
        "serviceentry-https-declared-http",
        "A ServiceEntry declares port 443 (or another TLS port) with protocol HTTP.",
    ),
    (
        "gateway-simple-tls-with-tls-routes",
        "A Gateway server terminates TLS (SIMPLE/MUTUAL) but a bound VirtualService has only tls: routes for it.",
    ),
    (
        "gateway-passthrough-with-http-routes",
        "A Gateway server uses tls.mode PASSTHROUGH but a bound VirtualService routes it with http: routes.",
    ),
    (
        "dr-originates-tls-to-https-serviceentry",
        "A DestinationRule originates TLS (SIMPLE/MUTUAL) to a ServiceEntry host whose port is already HTTPS/TLS.",
    ),
    (
        "gateways-share-certificate",
        "Several Gateways on the same workload use the same TLS certificate (credentialName or serverCertificate) for different hosts.",
    ),
    (
        "gateway-tls-requires-sni",
        "An HTTPS/TLS Gateway server lists specific hosts (no \"*\"), so clients and load balancers that send no SNI match no filter chain. The norm for HTTPS gateways (Istio's secure-gateways task): evidence, not a misconfiguration on its own.",
    ),
    (
        "gateway-sni-not-forwarded",
        "An HTTPS/TLS Gateway server that terminates TLS lists specific hosts, and its Service sits behind a load balancer the manifests show re-encrypting without SNI (AWS aws-load-balancer-backend-protocol ssl/https, Google Cloud app-protocols HTTPS/HTTP2, an ALB Ingress with backend-protocol HTTPS).",
    ),
    (
        "envoyfilter-relative-without-priority",
        "An EnvoyFilter patch uses INSERT_BEFORE/INSERT_AFTER/REPLACE relative to another filter without a priority.",
    ),
    (
        "gateways-port-conflict",
        "Two Gateway servers on the same workload declare the same port number with different names or protocols.",
    ),
    (
        "dr-subset-selects-no-pods",
        "A DestinationRule subset's labels select no pod of its host's Service.",
    ),
];

/// The array at JSON pointer `ptr` (`/spec/ports`), empty when absent or not
/// an array: the shape every resource family reads its lists in.
pub(crate) fn list<'a>(v: &'a serde_json::Value, ptr: &str) -> &'a [serde_json::Value] {
    v.pointer(ptr)
        .and_then(|a| a.as_array())
        .map_or(&[], |a| a.as_slice())
}

/// The strings of the array at `ptr` (`/spec/hosts`); other items are skipped.
pub(crate) fn strs<'a>(v: &'a serde_json::Value, ptr: &str) -> impl Iterator<Item = &'a str> {
    list(v, ptr).iter().filter_map(|s| s.as_str())
}

/// Computes every fact over an object set. Pure: objects in, facts out, in
/// a stable order (by module, then by object order in the set).
pub fn derive(objects: &ObjectSet, opts: &FactOptions) -> Vec<Fact> {
    let mut ix = workloads::Index::new(objects);
    ix.assumed_mesh = opts.mesh;
    let mut out = Vec::new();
    workloads::facts(&ix, &mut out);
    linkerd::facts(&ix, opts, &mut out);
    netpol::facts(&ix, &mut out);
    istio::facts(&ix, &mut out);
    out
}

/// Kinds that have no namespace; the loader must not give them `-n`.
pub fn is_cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "Node"
            | "PersistentVolume"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "CustomResourceDefinition"
            | "MutatingWebhookConfiguration"
            | "ValidatingWebhookConfiguration"
            | "ValidatingAdmissionPolicy"
            | "ValidatingAdmissionPolicyBinding"
            | "StorageClass"
            | "PriorityClass"
            | "IngressClass"
            | "RuntimeClass"
            | "APIService"
            | "CSIDriver"
            | "CSINode"
            | "GatewayClass"
            | "CiliumClusterwideNetworkPolicy"
            | "PodSecurityPolicy"
    )
}

impl Fact {
    /// A fact about `subject` with a message; vars and patch are added with
    /// the builder methods.
    pub fn new(name: &'static str, subject: ObjRef, message: impl Into<String>) -> Self {
        let mut vars = BTreeMap::new();
        if let Some(ns) = &subject.namespace {
            vars.insert("namespace".to_string(), ns.clone());
        }
        // kubectl's `kind/name` form, usable in `kubectl get {object} -n {namespace}`.
        vars.insert(
            "object".to_string(),
            format!("{}/{}", subject.kind.to_lowercase(), subject.name),
        );
        Fact {
            name,
            subject,
            related: Vec::new(),
            message: message.into(),
            vars,
            patch: None,
        }
    }
    /// Adds a placeholder value.
    pub fn var(mut self, k: &str, v: impl Into<String>) -> Self {
        self.vars.insert(k.to_string(), v.into());
        self
    }
    /// Adds a related object (once).
    pub fn related(mut self, o: ObjRef) -> Self {
        if o != self.subject && !self.related.contains(&o) {
            self.related.push(o);
        }
        self
    }
    /// Sets the patch or command that fixes it.
    pub fn patch(mut self, p: impl Into<String>) -> Self {
        self.patch = Some(p.into());
        self
    }
}

/// The mesh a run is told injects the workloads (`check --mesh`), for
/// manifests that do not say so themselves: app manifests without the
/// Namespace whose label or annotation turns injection on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssumedMesh {
    Istio,
    Linkerd,
}

/// Knobs for fact derivation.
#[derive(Debug, Clone)]
pub struct FactOptions {
    /// Warn this long before a certificate expires.
    pub cert_warn: std::time::Duration,
    /// "Now", for expiry checks (fixed in tests).
    pub now: std::time::SystemTime,
    /// Treat every namespace that does not opt out (and is not a system
    /// namespace) as injected by this mesh; `None` infers it from the objects.
    pub mesh: Option<AssumedMesh>,
}

impl Default for FactOptions {
    fn default() -> Self {
        FactOptions {
            cert_warn: std::time::Duration::from_secs(30 * 24 * 3600),
            now: std::time::SystemTime::now(),
            mesh: None,
        }
    }
}
