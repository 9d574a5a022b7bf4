//! Istio semantics: protocol selection, mTLS (PeerAuthentication vs
//! DestinationRule), Gateway ↔ VirtualService binding, ServiceEntry ports,
//! EnvoyFilter patch order.
//!
//! Protocol selection follows istio.io "Protocol Selection": `appProtocol`
//! wins, else the port name `<protocol>[-<suffix>]` (case-insensitive).
//! PeerAuthentication: a workload policy (selector) beats the namespace policy
//! (no selector), which beats the mesh policy (no selector in the root
//! namespace `istio-system`); `portLevelMtls` beats the workload mode and
//! `UNSET` inherits. Hosts: a short name (no dot) is `name.<namespace of the
//! rule>.svc.cluster.local`; `*` wildcards match by suffix. A VirtualService
//! without `gateways` is bound to `mesh`; gateway references are `name`
//! (rule namespace) or `namespace/name`.

use super::selector::Selector;
use super::workloads::{Index, PodLike, int};
use super::{Fact, Object, list, strs};
use serde_json::Value;
use std::collections::BTreeSet;

mod destination_rules;
mod egress;
mod envoyfilters;
mod gateways;
mod peer_auth;
mod service_entries;
mod services;
mod virtual_services;

use destination_rules::*;
use egress::*;
use envoyfilters::*;
use gateways::*;
pub use peer_auth::peer_auth_mode;
use peer_auth::*;
use service_entries::*;
use services::*;
use virtual_services::*;

/// The Istio root namespace (mesh-wide PeerAuthentication lives here).
pub const ROOT_NS: &str = "istio-system";

const DOMAIN: &str = "svc.cluster.local";

/// Protocols Istio recognises in port names, longest prefix first.
const PROTOCOLS: &[(&str, &str)] = &[
    ("grpc-web", "GRPC-Web"),
    ("http2", "HTTP2"),
    ("https", "HTTPS"),
    ("http", "HTTP"),
    ("grpc", "GRPC"),
    ("tcp", "TCP"),
    ("tls", "TLS"),
    ("udp", "UDP"),
    ("mongo", "Mongo"),
    ("mysql", "MySQL"),
    ("redis", "Redis"),
];

/// The protocol Istio selects for a Service port, `None` when neither the
/// name nor `appProtocol` declares one (Istio then sniffs, and L7 routing
/// rules may not apply).
pub fn port_protocol(name: Option<&str>, app_protocol: Option<&str>) -> Option<&'static str> {
    let by = |s: &str, whole: bool| {
        let s = s.to_ascii_lowercase();
        PROTOCOLS.iter().find_map(|(p, shown)| {
            let hit = s == *p || (!whole && s.starts_with(&format!("{p}-")));
            hit.then_some(*shown)
        })
    };
    if let Some(ap) = app_protocol {
        let ap = ap.trim();
        match ap {
            "kubernetes.io/h2c" => return Some("HTTP2"),
            "kubernetes.io/ws" => return Some("HTTP"),
            "kubernetes.io/wss" => return Some("HTTPS"),
            _ => {
                if let Some(p) = by(ap, true) {
                    return Some(p);
                }
            }
        }
    }
    by(name?, false)
}

fn is_http(p: Option<&str>) -> bool {
    matches!(p, Some("HTTP" | "HTTP2" | "GRPC" | "GRPC-Web"))
}

/// A short host becomes `name.ns.svc.cluster.local`; others stay.
pub fn fqdn(host: &str, ns: &str) -> String {
    if host.contains('.') || host.contains('*') {
        host.to_string()
    } else {
        format!("{host}.{ns}.{DOMAIN}")
    }
}

/// Does host pattern `a` match host `b` or overlap with pattern `b`?
pub fn hosts_intersect(a: &str, b: &str) -> bool {
    let m = |pat: &str, h: &str| match pat.strip_prefix('*') {
        Some(suffix) => h.ends_with(suffix) || pat == "*",
        None => pat == h,
    };
    a == b || m(a, b) || m(b, a)
}

/// The Services a host (pattern) names.
fn services_for_host<'a>(ix: &Index<'a>, host: &str, ns: &str) -> Vec<&'a Object> {
    let h = fqdn(host, ns);
    if let Some((name, rest)) = h.split_once('.')
        && !name.contains('*')
    {
        if let Some((sns, tail)) = rest.split_once('.')
            && tail == DOMAIN
        {
            return ix.service(sns, name).into_iter().collect();
        }
        return Vec::new();
    }
    ix.of_kind("Service")
        .filter(|s| hosts_intersect(&h, &format!("{}.{}.{DOMAIN}", s.name(), s.namespace())))
        .collect()
}

/// Is the pod-like Istio-injected (or will it be at admission)?
pub fn injected(ix: &Index, p: &PodLike) -> bool {
    if p.has_container("istio-proxy") {
        return true;
    }
    let flag = p
        .labels()
        .and_then(|l| l.get("sidecar.istio.io/inject"))
        .and_then(|v| v.as_str())
        .or_else(|| p.annotation("sidecar.istio.io/inject"));
    match flag {
        Some("true") => true,
        Some("false") => false,
        _ => namespace_injected(ix, p.namespace()),
    }
}

/// `istio-injection=enabled` or an `istio.io/rev` label on the namespace.
pub fn namespace_injected(ix: &Index, ns: &str) -> bool {
    let said = ix.namespace(ns).map(|n| {
        n.label("istio-injection") == Some("enabled") || n.label("istio.io/rev").is_some()
    });
    match said {
        Some(true) => true,
        // `--mesh istio`: a namespace that does not opt out is injected.
        _ => {
            ix.assumed_mesh == Some(super::AssumedMesh::Istio)
                && !SYSTEM_NS.contains(&ns)
                && ix
                    .namespace(ns)
                    .is_none_or(|n| n.label("istio-injection") != Some("disabled"))
        }
    }
}

fn istio_config_present(ix: &Index) -> bool {
    [
        "VirtualService",
        "DestinationRule",
        "Gateway",
        "PeerAuthentication",
        "ServiceEntry",
        "Sidecar",
        "EnvoyFilter",
        "AuthorizationPolicy",
        "IstioOperator",
    ]
    .iter()
    .any(|k| ix.has_kind(k))
}

const SYSTEM_NS: &[&str] = &["kube-system", "kube-public", "kube-node-lease", ROOT_NS];

/// Is a Service on the Istio mesh: its namespace or pods are injected, or
/// the set carries Istio configuration and the namespace does not opt out.
fn service_meshed(ix: &Index, svc: &Object, present: bool) -> bool {
    let ns = svc.namespace();
    if SYSTEM_NS.contains(&ns) {
        return false;
    }
    if namespace_injected(ix, ns) {
        return true;
    }
    if let Some(pods) = ix.service_pods(svc)
        && !pods.is_empty()
    {
        return pods.iter().any(|&i| injected(ix, &ix.pods[i]));
    }
    present
        && ix
            .namespace(ns)
            .is_none_or(|n| n.label("istio-injection") != Some("disabled"))
}

/// Is the Service known to be outside Istio: its namespace opts out, or its
/// workloads opt out or are meshed by Linkerd instead? Used where the
/// manifests alone may not say "Istio" (a chart rendered for an injected
/// namespace) but a mesh-specific finding must not hit other meshes.
fn known_not_istio(ix: &Index, svc: &Object) -> bool {
    if ix
        .namespace(svc.namespace())
        .is_some_and(|n| n.label("istio-injection") == Some("disabled"))
    {
        return true;
    }
    let pods = ix.service_pods(svc).unwrap_or_default();
    pods.iter().any(|&i| {
        let p = &ix.pods[i];
        super::linkerd::meshed(ix, p)
            || p.labels()
                .and_then(|l| l.get("sidecar.istio.io/inject"))
                .and_then(|v| v.as_str())
                .or_else(|| p.annotation("sidecar.istio.io/inject"))
                == Some("false")
    })
}

/// Computes this module's facts.
pub fn facts(ix: &Index, out: &mut Vec<Fact>) {
    let present = istio_config_present(ix);
    service_ports(ix, present, out);
    dr_tls(ix, out);
    dr_subsets(ix, out);
    serviceentries(ix, out);
    gateway_binding(ix, out);
    gateway_vs_subset(ix, out);
    vs_subsets_undefined(ix, out);
    gateways_share_cert(ix, out);
    gateways_port_conflict(ix, out);
    gateway_sni(ix, out);
    envoyfilters(ix, out);
    registry_only(ix, out);
}

#[cfg(test)]
mod tests;
