//! The one table of Kubernetes resources the live collectors read.
//!
//! Collectors build their requests from it, `meshdoc rbac` prints the
//! ClusterRole and Roles from it, and a missing resource names the rules it
//! leaves unevaluated through its `facts` — one table, so the three can't drift.

use crate::rules::Mesh;

/// Cluster-scoped or namespaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Cluster,
    Namespaced,
}

/// Which namespaces a namespaced resource is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The target's namespace (and namespaces of Services it calls).
    Target,
    /// The target's namespace and the mesh root namespace (`istio-system`):
    /// Istio applies root-namespace config mesh-wide.
    TargetAndRoot,
    /// One fixed namespace (`linkerd`, `istio-system`).
    Fixed(&'static str),
}

/// One resource meshdoc reads.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    /// Stable key used in messages, bundle manifests and tests (`networkpolicies`).
    pub key: &'static str,
    /// API group; empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// Plural resource name, with `/subresource` for subresources.
    pub plural: &'static str,
    pub scope: Scope,
    pub place: Place,
    /// Verbs meshdoc uses on it: only ever `get` and `list`.
    pub verbs: &'static [&'static str],
    /// When set, only these objects are read (GET by name), so RBAC can say
    /// `resourceNames`.
    pub names: &'static [&'static str],
    /// Only read when this mesh is in play; `None` for both.
    pub mesh: Option<Mesh>,
    /// A 404 is normal (the CRD is often not installed) rather than missing evidence.
    pub optional: bool,
    /// Facts this resource feeds. Empty means "context for every object rule".
    pub facts: &'static [&'static str],
    /// Human name used in "what I looked at" and "not looked at".
    pub label: &'static str,
}

impl Resource {
    /// `apiVersion` as written in objects (`v1`, `apps/v1`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The plural without a subresource (`pods` for `pods/log`).
    pub fn base_plural(&self) -> &'static str {
        self.plural.split('/').next().unwrap_or(self.plural)
    }

    /// A kube `ApiResource` for dynamic requests.
    pub fn api_resource(&self) -> kube::api::ApiResource {
        kube::api::ApiResource {
            group: self.group.to_string(),
            version: self.version.to_string(),
            api_version: self.api_version(),
            kind: self.kind.to_string(),
            plural: self.base_plural().to_string(),
        }
    }

    /// Whether this resource is read for `mesh` (`None` = mesh unknown: read
    /// only mesh-neutral resources).
    pub fn applies_to(&self, mesh: Option<Mesh>) -> bool {
        match self.mesh {
            None => true,
            Some(m) => mesh == Some(m),
        }
    }
}

const R: Resource = Resource {
    key: "",
    group: "",
    version: "v1",
    kind: "",
    plural: "",
    scope: Scope::Namespaced,
    place: Place::Target,
    verbs: &["get", "list"],
    names: &[],
    mesh: None,
    optional: false,
    facts: &[],
    label: "",
};

const SERVICE_FACTS: &[&str] = &[
    "service-no-ready-endpoints",
    "service-selector-matches-no-pod",
    "server-speaks-first-port-not-opaque",
    "opaque-ports-mismatch",
    "serviceprofile-and-httproute-same-service",
    "service-port-unnamed-or-unprefixed",
    "headless-service-http-port",
    "gateway-sni-not-forwarded",
    "dr-subset-selects-no-pods",
    "workload-zero-replicas",
    "pod-crashlooping",
    "pod-not-ready",
];

/// Every resource meshdoc may read, in collection order.
pub const RESOURCES: &[Resource] = &[
    Resource {
        key: "pods",
        kind: "Pod",
        plural: "pods",
        label: "Pods",
        ..R
    },
    Resource {
        key: "pods/log",
        kind: "Pod",
        plural: "pods/log",
        verbs: &["get"],
        label: "container logs",
        ..R
    },
    Resource {
        key: "pods/proxy",
        kind: "Pod",
        plural: "pods/proxy",
        verbs: &["get"],
        label: "proxy metrics (pod proxy)",
        ..R
    },
    Resource {
        key: "events",
        kind: "Event",
        plural: "events",
        verbs: &["list"],
        label: "Events",
        ..R
    },
    Resource {
        key: "replicasets",
        group: "apps",
        kind: "ReplicaSet",
        plural: "replicasets",
        label: "ReplicaSets",
        ..R
    },
    Resource {
        key: "statefulsets",
        group: "apps",
        kind: "StatefulSet",
        plural: "statefulsets",
        label: "StatefulSets",
        ..R
    },
    Resource {
        key: "daemonsets",
        group: "apps",
        kind: "DaemonSet",
        plural: "daemonsets",
        label: "DaemonSets",
        ..R
    },
    Resource {
        key: "jobs",
        group: "batch",
        kind: "Job",
        plural: "jobs",
        label: "Jobs",
        ..R
    },
    Resource {
        key: "cronjobs",
        group: "batch",
        kind: "CronJob",
        plural: "cronjobs",
        label: "CronJobs",
        ..R
    },
    Resource {
        key: "deployments",
        group: "apps",
        kind: "Deployment",
        plural: "deployments",
        facts: &["workload-zero-replicas", "service-selector-matches-no-pod"],
        label: "Deployments",
        ..R
    },
    Resource {
        key: "services",
        kind: "Service",
        plural: "services",
        facts: SERVICE_FACTS,
        label: "Services",
        ..R
    },
    Resource {
        key: "endpointslices",
        group: "discovery.k8s.io",
        kind: "EndpointSlice",
        plural: "endpointslices",
        verbs: &["list"],
        facts: &["service-no-ready-endpoints"],
        label: "EndpointSlices",
        ..R
    },
    Resource {
        key: "networkpolicies",
        group: "networking.k8s.io",
        kind: "NetworkPolicy",
        plural: "networkpolicies",
        verbs: &["list"],
        facts: &["netpol-blocks-proxy-port"],
        label: "NetworkPolicies",
        ..R
    },
    Resource {
        key: "ciliumnetworkpolicies",
        group: "cilium.io",
        version: "v2",
        kind: "CiliumNetworkPolicy",
        plural: "ciliumnetworkpolicies",
        verbs: &["list"],
        optional: true,
        facts: &["netpol-blocks-proxy-port"],
        label: "CiliumNetworkPolicies",
        ..R
    },
    Resource {
        key: "namespaces",
        kind: "Namespace",
        plural: "namespaces",
        scope: Scope::Cluster,
        // `list` only for `check --cluster` over every namespace.
        facts: &[
            "server-speaks-first-port-not-opaque",
            "opaque-ports-mismatch",
            "meshed-pod-missing-proxy",
        ],
        label: "the Namespace",
        ..R
    },
    // Linkerd.
    Resource {
        key: "linkerd-injector-webhook",
        group: "admissionregistration.k8s.io",
        kind: "MutatingWebhookConfiguration",
        plural: "mutatingwebhookconfigurations",
        scope: Scope::Cluster,
        verbs: &["get"],
        names: &["linkerd-proxy-injector-webhook-config"],
        mesh: Some(Mesh::Linkerd),
        facts: &[
            "injector-webhook-cert-expired",
            "injector-webhook-cert-expiring",
            "injector-webhook-fails-open",
            "meshed-pod-missing-proxy",
        ],
        label: "the linkerd-proxy-injector webhook",
        ..R
    },
    Resource {
        key: "linkerd-trust-roots",
        kind: "ConfigMap",
        plural: "configmaps",
        place: Place::Fixed("linkerd"),
        verbs: &["get"],
        names: &["linkerd-identity-trust-roots"],
        mesh: Some(Mesh::Linkerd),
        facts: &["trust-anchor-expired"],
        label: "the Linkerd trust anchor",
        ..R
    },
    // The issuer certificate and, as `ca.crt`, the trust anchor: their
    // expiry and issue times are facts and timeline changes. One Secret by
    // name; a bundle keeps its certificates' metadata, never its data.
    Resource {
        key: "linkerd-identity-issuer",
        kind: "Secret",
        plural: "secrets",
        place: Place::Fixed("linkerd"),
        verbs: &["get"],
        names: &["linkerd-identity-issuer"],
        mesh: Some(Mesh::Linkerd),
        facts: &["trust-anchor-expired"],
        label: "the Linkerd identity issuer Secret",
        ..R
    },
    Resource {
        key: "serviceprofiles",
        group: "linkerd.io",
        version: "v1alpha2",
        kind: "ServiceProfile",
        plural: "serviceprofiles",
        verbs: &["list"],
        mesh: Some(Mesh::Linkerd),
        facts: &["serviceprofile-and-httproute-same-service"],
        label: "ServiceProfiles",
        ..R
    },
    Resource {
        key: "httproutes.policy.linkerd.io",
        group: "policy.linkerd.io",
        version: "v1beta1",
        kind: "HTTPRoute",
        plural: "httproutes",
        verbs: &["list"],
        mesh: Some(Mesh::Linkerd),
        facts: &["serviceprofile-and-httproute-same-service"],
        label: "HTTPRoutes (policy.linkerd.io)",
        ..R
    },
    Resource {
        key: "httproutes.gateway.networking.k8s.io",
        group: "gateway.networking.k8s.io",
        version: "v1",
        kind: "HTTPRoute",
        plural: "httproutes",
        verbs: &["list"],
        mesh: Some(Mesh::Linkerd),
        optional: true,
        facts: &["serviceprofile-and-httproute-same-service"],
        label: "HTTPRoutes (gateway.networking.k8s.io)",
        ..R
    },
    Resource {
        key: "servers",
        group: "policy.linkerd.io",
        version: "v1beta1",
        kind: "Server",
        plural: "servers",
        verbs: &["list"],
        mesh: Some(Mesh::Linkerd),
        label: "Servers",
        ..R
    },
    Resource {
        key: "authorizationpolicies",
        group: "policy.linkerd.io",
        version: "v1alpha1",
        kind: "AuthorizationPolicy",
        plural: "authorizationpolicies",
        verbs: &["list"],
        mesh: Some(Mesh::Linkerd),
        label: "AuthorizationPolicies",
        ..R
    },
    // Istio. v1beta1 is served by every Istio release still in use (v1 only from 1.22).
    Resource {
        key: "destinationrules",
        group: "networking.istio.io",
        version: "v1beta1",
        kind: "DestinationRule",
        plural: "destinationrules",
        place: Place::TargetAndRoot,
        verbs: &["list"],
        mesh: Some(Mesh::Istio),
        facts: &[
            "dr-tls-disables-mtls-under-strict",
            "dr-subset-selects-no-pods",
            "dr-originates-tls-to-https-serviceentry",
            "virtualservice-subset-undefined",
        ],
        label: "DestinationRules",
        ..R
    },
    Resource {
        key: "virtualservices",
        group: "networking.istio.io",
        version: "v1beta1",
        kind: "VirtualService",
        plural: "virtualservices",
        place: Place::TargetAndRoot,
        verbs: &["list"],
        mesh: Some(Mesh::Istio),
        facts: &[
            "gateway-vs-skips-mesh-subset",
            "virtualservice-subset-undefined",
            "gateway-simple-tls-with-tls-routes",
            "gateway-passthrough-with-http-routes",
        ],
        label: "VirtualServices",
        ..R
    },
    Resource {
        key: "gateways",
        group: "networking.istio.io",
        version: "v1beta1",
        kind: "Gateway",
        plural: "gateways",
        verbs: &["list"],
        mesh: Some(Mesh::Istio),
        facts: &[
            "gateway-simple-tls-with-tls-routes",
            "gateway-passthrough-with-http-routes",
            "gateways-share-certificate",
            "gateway-tls-requires-sni",
            "gateway-sni-not-forwarded",
            "gateways-port-conflict",
        ],
        label: "Gateways",
        ..R
    },
    Resource {
        key: "peerauthentications",
        group: "security.istio.io",
        version: "v1beta1",
        kind: "PeerAuthentication",
        plural: "peerauthentications",
        place: Place::TargetAndRoot,
        verbs: &["list"],
        mesh: Some(Mesh::Istio),
        facts: &[
            "dr-tls-disables-mtls-under-strict",
            "headless-service-http-port",
        ],
        label: "PeerAuthentications",
        ..R
    },
    Resource {
        key: "serviceentries",
        group: "networking.istio.io",
        version: "v1beta1",
        kind: "ServiceEntry",
        plural: "serviceentries",
        place: Place::TargetAndRoot,
        verbs: &["list"],
        mesh: Some(Mesh::Istio),
        facts: &[
            "serviceentry-https-declared-http",
            "dr-originates-tls-to-https-serviceentry",
            "registry-only-external-host-unregistered",
        ],
        label: "ServiceEntries",
        ..R
    },
    Resource {
        key: "envoyfilters",
        group: "networking.istio.io",
        version: "v1alpha3",
        kind: "EnvoyFilter",
        plural: "envoyfilters",
        place: Place::TargetAndRoot,
        verbs: &["list"],
        mesh: Some(Mesh::Istio),
        facts: &["envoyfilter-relative-without-priority"],
        label: "EnvoyFilters",
        ..R
    },
    Resource {
        key: "sidecars",
        group: "networking.istio.io",
        version: "v1beta1",
        kind: "Sidecar",
        plural: "sidecars",
        place: Place::TargetAndRoot,
        verbs: &["list"],
        mesh: Some(Mesh::Istio),
        facts: &["registry-only-external-host-unregistered"],
        label: "Sidecars",
        ..R
    },
    Resource {
        key: "istio-mesh-config",
        kind: "ConfigMap",
        plural: "configmaps",
        place: Place::Fixed("istio-system"),
        verbs: &["get"],
        names: &["istio"],
        mesh: Some(Mesh::Istio),
        facts: &["registry-only-external-host-unregistered"],
        label: "the Istio mesh config",
        ..R
    },
];

/// The Istio root namespace, where mesh-wide config lives.
pub const ISTIO_ROOT: &str = "istio-system";

/// Looks a resource up by key. Keys are compile-time constants, so a miss is
/// a programming error caught by the table test.
pub fn by_key(key: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_verbs_are_reads_only() {
        let mut keys: Vec<&str> = RESOURCES.iter().map(|r| r.key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), RESOURCES.len());
        for r in RESOURCES {
            assert!(
                r.verbs.iter().all(|v| *v == "get" || *v == "list"),
                "{}",
                r.key
            );
        }
    }

    #[test]
    fn every_fact_named_in_the_table_is_a_known_fact() {
        for r in RESOURCES {
            for f in r.facts {
                assert!(
                    crate::facts::KNOWN_FACTS.iter().any(|(n, _)| n == f),
                    "{}: unknown fact {f}",
                    r.key
                );
            }
        }
    }
}
