//! Linkerd semantics: which pods are meshed, which ports are opaque, which
//! protocols speak first, and the control-plane certificates.
//!
//! Meshed: a `linkerd-proxy` container (also as a native-sidecar init
//! container), or `linkerd.io/inject: enabled|ingress` on the pod template,
//! or `linkerd.io/inject: enabled` on the namespace unless the pod template
//! says `disabled`. Opaque ports: the pod's `config.linkerd.io/opaque-ports`
//! annotation, else the namespace's, else the proxy default
//! `25,587,3306,4444,5432,6379,9300,11211` (Linkerd ≥ 2.10); values may be
//! numbers, ranges (`4000-4100`) or container port names. A Service's port is
//! opaque by its own annotation (else the namespace's, else the defaults) or
//! `appProtocol: linkerd.io/opaque` / `tcp`.

use super::certs::{self, CertInfo, Expiry};
use super::workloads::{Index, PodLike, int};
use super::{Fact, FactOptions, Object};
use serde_json::Value;

/// The proxy's default opaque ports (`proxy.opaquePorts` default).
pub const DEFAULT_OPAQUE: &str = "25,587,3306,4444,5432,6379,9300,11211";

/// The proxy's inbound port: meshed→meshed traffic always arrives here.
pub const PROXY_INBOUND_PORT: i64 = 4143;
/// The proxy's admin port (probes, metrics).
pub const PROXY_ADMIN_PORT: i64 = 4191;

const OPAQUE_ANN: &str = "config.linkerd.io/opaque-ports";
const INJECT_ANN: &str = "linkerd.io/inject";

/// Ports of server-speaks-first protocols: the server sends the first
/// bytes, so the proxy's protocol detection waits 10 s for client bytes that
/// never come. FTP 21, SMTP 25/587, POP3 110, IMAP 143, MySQL 3306,
/// NATS client/cluster/leaf 4222/6222/7422. (PostgreSQL is client-first: the
/// client sends the StartupMessage; 5432 is opaque by default for its TLS
/// negotiation, not because it speaks first.)
pub const SERVER_SPEAKS_FIRST: &[(i64, &str)] = &[
    (21, "FTP"),
    (25, "SMTP"),
    (110, "POP3"),
    (143, "IMAP"),
    (587, "SMTP submission"),
    (3306, "MySQL"),
    (4222, "NATS"),
    (6222, "NATS cluster"),
    (7422, "NATS leafnode"),
];

/// The protocol name when a port number or port name means a
/// server-speaks-first protocol.
pub fn server_speaks_first(port: i64, name: Option<&str>) -> Option<&'static str> {
    if let Some((_, p)) = SERVER_SPEAKS_FIRST.iter().find(|(n, _)| *n == port) {
        return Some(p);
    }
    let n = name?.to_ascii_lowercase();
    if n.contains("mysql") || n.contains("mariadb") {
        Some("MySQL")
    } else if n.contains("smtp") {
        Some("SMTP")
    } else if n == "nats" || n.starts_with("nats-") || n.starts_with("tcp-nats") {
        Some("NATS")
    } else {
        None
    }
}

/// A set of ports as inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortSet(pub Vec<(i64, i64)>);

impl PortSet {
    /// Parses `25,587,4000-4100,mysql`; names resolve against `pod`'s
    /// container ports and are dropped when they do not resolve.
    pub fn parse(spec: &str, pod: Option<&PodLike>) -> PortSet {
        let mut v = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if let Some((a, b)) = part.split_once('-')
                && let (Ok(a), Ok(b)) = (a.trim().parse::<i64>(), b.trim().parse::<i64>())
            {
                v.push((a.min(b), a.max(b)));
                continue;
            }
            if let Ok(n) = part.parse::<i64>() {
                v.push((n, n));
            } else if let Some(n) = pod.and_then(|p| p.named_port(part)) {
                v.push((n, n));
            }
        }
        PortSet(v)
    }
    pub fn contains(&self, port: i64) -> bool {
        self.0.iter().any(|(a, b)| (*a..=*b).contains(&port))
    }
}

/// Is the pod-like meshed by Linkerd (now, or once admitted)?
pub fn meshed(ix: &Index, p: &PodLike) -> bool {
    if p.has_container("linkerd-proxy") {
        return true;
    }
    match p.annotation(INJECT_ANN) {
        Some("enabled" | "ingress") => true,
        Some("disabled") => false,
        _ => match ix.namespace_annotation(p.namespace(), INJECT_ANN) {
            Some("enabled") => true,
            Some(_) => false,
            // `--mesh linkerd`: a namespace that says nothing is injected.
            None => {
                ix.assumed_mesh == Some(super::AssumedMesh::Linkerd)
                    && !matches!(
                        p.namespace(),
                        "kube-system" | "kube-public" | "kube-node-lease" | "linkerd"
                    )
            }
        },
    }
}

/// The opaque ports of a pod-like and where that list came from.
pub fn pod_opaque(ix: &Index, p: &PodLike) -> (PortSet, &'static str) {
    if let Some(a) = p.annotation(OPAQUE_ANN) {
        return (PortSet::parse(a, Some(p)), "pod annotation");
    }
    if let Some(a) = ix.namespace_annotation(p.namespace(), OPAQUE_ANN) {
        return (PortSet::parse(a, Some(p)), "namespace annotation");
    }
    (PortSet::parse(DEFAULT_OPAQUE, None), "proxy defaults")
}

/// `appProtocol` values that make Linkerd skip protocol detection.
fn opaque_app_protocol(ap: Option<&str>) -> bool {
    matches!(ap, Some("linkerd.io/opaque" | "tcp" | "TCP"))
}

/// Is Service port `port` opaque (annotation, namespace, defaults)?
pub fn service_opaque(ix: &Index, svc: &Object, port: i64) -> bool {
    let spec = svc
        .annotation(OPAQUE_ANN)
        .or_else(|| ix.namespace_annotation(svc.namespace(), OPAQUE_ANN))
        .unwrap_or(DEFAULT_OPAQUE);
    PortSet::parse(spec, None).contains(port)
}

/// The container port a Service port sends to on this pod-like.
pub fn target_port(sp: &Value, p: &PodLike) -> Option<i64> {
    match sp.get("targetPort") {
        Some(Value::String(s)) if s.parse::<i64>().is_err() => p.named_port(s),
        Some(v) => int(v),
        None => sp.get("port").and_then(int),
    }
}

fn service_ports(svc: &Object) -> &[Value] {
    svc.value
        .pointer("/spec/ports")
        .and_then(|p| p.as_array())
        .map(|a| a.as_slice())
        .unwrap_or(&[])
}

/// Computes this module's facts.
pub fn facts(ix: &Index, opts: &FactOptions, out: &mut Vec<Fact>) {
    ports(ix, out);
    serviceprofile_vs_httproute(ix, out);
    webhook(ix, opts, out);
    trust_anchor(ix, opts, out);
    missing_proxy(ix, out);
}

fn opaque_patch(existing: &str, port: i64, field: &str) -> String {
    let list = if existing.is_empty() {
        port.to_string()
    } else {
        format!("{existing},{port}")
    };
    format!("# {field}\nannotations:\n  config.linkerd.io/opaque-ports: \"{list}\"")
}

/// `web.ns.svc.cluster.local` → (`web`, `ns`).
pub fn split_fqdn(host: &str) -> Option<(&str, &str)> {
    let mut it = host.split('.');
    let name = it.next()?;
    let ns = it.next()?;
    (it.next() == Some("svc")).then_some((name, ns))
}

mod identity;
mod ports;
mod routes;
#[cfg(test)]
mod tests;
mod webhook;

use identity::trust_anchor;
use ports::ports;
use routes::serviceprofile_vs_httproute;
use webhook::{missing_proxy, webhook};
