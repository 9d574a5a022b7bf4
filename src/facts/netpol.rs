//! NetworkPolicy (and basic CiliumNetworkPolicy) evaluation.
//!
//! Semantics (networking.k8s.io/v1): a pod is isolated for ingress once any
//! policy with type Ingress selects it (`policyTypes` absent means Ingress,
//! plus Egress when an `egress` section exists). Traffic is then allowed when
//! some rule of some selecting policy admits both the peer and the port.
//! Absent or empty `from`/`to` admits every peer; absent or empty `ports`
//! admits every port; an absent or empty `ingress` list admits nothing. A
//! port entry without `protocol` means TCP, without `port` every port of the
//! protocol; a named port resolves against the destination pod's
//! `containerPorts`, and `endPort` makes a range.
//!
//! Cilium: `endpointSelector` (keys may carry a `k8s:`/`any:` source
//! prefix), `ingress[].toPorts[].ports[]` (port as a string, protocol `ANY`
//! by default); a rule without `toPorts` admits every port. `specs[]` is
//! supported. L7 rules and entities are not interpreted.
//!
//! Fact: `netpol-blocks-proxy-port` — a rule that admits app ports to a
//! Linkerd-meshed pod but not the proxy's inbound port 4143, and no other
//! rule admits 4143 from the same peers. Meshed-to-meshed traffic always
//! arrives on 4143, so such a rule lets nothing through (seed 002).

use super::linkerd::{PROXY_ADMIN_PORT, PROXY_INBOUND_PORT, PortSet, meshed};
use super::selector::Selector;
use super::workloads::{Index, PodLike, int};
use super::{Fact, Object};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Ingress or egress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

/// A port a rule names: a number or a container port name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PortRef {
    Num(i64),
    Name(String),
}

/// One entry of `ports` / `toPorts[].ports`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PortEntry {
    port: Option<PortRef>,
    end: Option<i64>,
    /// `None` = any protocol (Cilium `ANY`).
    proto: Option<String>,
}

/// One rule of one policy, normalised across NetworkPolicy and Cilium.
#[derive(Debug, Clone)]
struct PRule<'a> {
    policy: &'a Object,
    /// `spec.ingress[0]`, `specs[1].ingress[0]`.
    path: String,
    /// `ports` or `toPorts`.
    ports_key: &'static str,
    /// The rule without its ports: equal peers compare equal.
    peers: Value,
    /// `from`/`to` absent or empty: every peer.
    all_peers: bool,
    /// Empty = every port.
    ports: Vec<PortEntry>,
    cilium: bool,
}

impl PortEntry {
    fn allows(&self, pod: Option<&PodLike>, meshed_pod: bool, port: i64, proto: &str) -> bool {
        if self
            .proto
            .as_deref()
            .is_some_and(|p| !p.eq_ignore_ascii_case(proto))
        {
            return false;
        }
        match &self.port {
            None => true,
            Some(PortRef::Num(n)) => match self.end {
                Some(e) => (*n..=e).contains(&port),
                None => *n == port,
            },
            Some(PortRef::Name(name)) => {
                let resolved = pod.and_then(|p| p.named_port(name)).or({
                    // Templates are injected at admission, so the proxy's
                    // named ports exist only on the live pod.
                    match (meshed_pod, name.as_str()) {
                        (true, "linkerd-proxy") => Some(PROXY_INBOUND_PORT),
                        (true, "linkerd-admin") => Some(PROXY_ADMIN_PORT),
                        _ => None,
                    }
                });
                resolved == Some(port)
            }
        }
    }
}

fn port_ref(v: &Value) -> Option<PortRef> {
    match v {
        Value::Number(_) => int(v).map(PortRef::Num),
        Value::String(s) => Some(match s.trim().parse() {
            Ok(n) => PortRef::Num(n),
            Err(_) => PortRef::Name(s.clone()),
        }),
        _ => None,
    }
}

fn entries(list: Option<&Value>, cilium: bool) -> Vec<PortEntry> {
    let mut out = Vec::new();
    let Some(a) = list.and_then(|l| l.as_array()) else {
        return out;
    };
    if cilium {
        // toPorts: [{ports: [{port, protocol, endPort}], rules: …}]
        for tp in a {
            for p in tp
                .get("ports")
                .and_then(|p| p.as_array())
                .into_iter()
                .flatten()
            {
                let proto = p
                    .get("protocol")
                    .and_then(|x| x.as_str())
                    .filter(|x| !x.eq_ignore_ascii_case("ANY"))
                    .map(str::to_string);
                // Cilium's port "0" means every port.
                let port = p
                    .get("port")
                    .and_then(port_ref)
                    .filter(|r| *r != PortRef::Num(0));
                out.push(PortEntry {
                    port,
                    end: p.get("endPort").and_then(int),
                    proto,
                });
            }
        }
    } else {
        for p in a {
            out.push(PortEntry {
                port: p.get("port").and_then(port_ref),
                end: p.get("endPort").and_then(int),
                proto: Some(
                    p.get("protocol")
                        .and_then(|x| x.as_str())
                        .unwrap_or("TCP")
                        .to_string(),
                ),
            });
        }
    }
    out
}

impl PRule<'_> {
    fn allows_port(&self, pod: Option<&PodLike>, meshed_pod: bool, port: i64, proto: &str) -> bool {
        self.ports.is_empty()
            || self
                .ports
                .iter()
                .any(|e| e.allows(pod, meshed_pod, port, proto))
    }
    /// Every port number this rule names, when all are numeric.
    fn numeric_ports(&self) -> Option<Vec<(i64, i64)>> {
        self.ports
            .iter()
            .map(|e| match (&e.port, e.end) {
                (Some(PortRef::Num(n)), Some(end)) => Some((*n, end)),
                (Some(PortRef::Num(n)), None) => Some((*n, *n)),
                _ => None,
            })
            .collect()
    }
    fn shown_ports(&self) -> String {
        self.ports
            .iter()
            .map(|e| {
                let p = match (&e.port, e.end) {
                    (None, _) => "*".to_string(),
                    (Some(PortRef::Num(n)), Some(end)) => format!("{n}-{end}"),
                    (Some(PortRef::Num(n)), None) => n.to_string(),
                    (Some(PortRef::Name(s)), _) => s.clone(),
                };
                format!("{}/{p}", e.proto.as_deref().unwrap_or("ANY"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Cilium selectors may prefix keys with their label source.
fn strip_source(sel: &Value) -> Value {
    let fix = |m: &Map<String, Value>| -> Map<String, Value> {
        m.iter()
            .map(|(k, v)| {
                let k = k
                    .strip_prefix("k8s:")
                    .or_else(|| k.strip_prefix("any:"))
                    .unwrap_or(k);
                (k.to_string(), v.clone())
            })
            .collect()
    };
    let mut out = sel.clone();
    if let Some(m) = sel.get("matchLabels").and_then(|m| m.as_object()) {
        out["matchLabels"] = Value::Object(fix(m));
    }
    if let Some(a) = sel.get("matchExpressions").and_then(|m| m.as_array()) {
        out["matchExpressions"] = Value::Array(
            a.iter()
                .map(|e| {
                    let mut e = e.clone();
                    if let Some(k) = e.get("key").and_then(|k| k.as_str()) {
                        let k = k
                            .strip_prefix("k8s:")
                            .or_else(|| k.strip_prefix("any:"))
                            .unwrap_or(k)
                            .to_string();
                        e["key"] = Value::String(k);
                    }
                    e
                })
                .collect(),
        );
    }
    out
}

/// A policy, normalised: which pods it selects and its rules per direction.
struct Policy<'a> {
    obj: &'a Object,
    selector: Selector,
    ingress: Option<Vec<PRule<'a>>>,
    egress: Option<Vec<PRule<'a>>>,
}

fn rules<'a>(
    obj: &'a Object,
    base: &str,
    list: Option<&'a Value>,
    key: &str,
    cilium: bool,
) -> Vec<PRule<'a>> {
    let peers_key = match (key, cilium) {
        ("ingress", false) => "from",
        ("egress", false) => "to",
        _ => "",
    };
    let ports_key = if cilium { "toPorts" } else { "ports" };
    list.and_then(|l| l.as_array())
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| {
            let mut peers = r.clone();
            if let Some(m) = peers.as_object_mut() {
                m.remove(ports_key);
            }
            let all_peers = if cilium {
                peers.as_object().is_none_or(|m| m.is_empty())
            } else {
                r.get(peers_key)
                    .and_then(|p| p.as_array())
                    .is_none_or(|a| a.is_empty())
            };
            PRule {
                policy: obj,
                path: format!("{base}{key}[{i}]"),
                ports_key,
                peers,
                all_peers,
                ports: entries(r.get(ports_key), cilium),
                cilium,
            }
        })
        .collect()
}

fn policies<'a>(ix: &Index<'a>) -> Vec<Policy<'a>> {
    let mut out = Vec::new();
    for o in ix.of_kind("NetworkPolicy") {
        let spec = o.spec();
        let types: Vec<&str> = spec
            .get("policyTypes")
            .and_then(|t| t.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_else(|| {
                let mut t = vec!["Ingress"];
                if spec.get("egress").is_some() {
                    t.push("Egress");
                }
                t
            });
        let selector = spec
            .get("podSelector")
            .map(Selector::from_label_selector)
            .unwrap_or_default();
        out.push(Policy {
            obj: o,
            selector,
            ingress: types
                .contains(&"Ingress")
                .then(|| rules(o, "spec.", spec.get("ingress"), "ingress", false)),
            egress: types
                .contains(&"Egress")
                .then(|| rules(o, "spec.", spec.get("egress"), "egress", false)),
        });
    }
    for o in ix.of_kind("CiliumNetworkPolicy") {
        let mut specs: Vec<(String, &Value)> = Vec::new();
        if let Some(s) = o.value.get("spec") {
            specs.push(("spec.".into(), s));
        }
        for (i, s) in o
            .value
            .get("specs")
            .and_then(|s| s.as_array())
            .into_iter()
            .flatten()
            .enumerate()
        {
            specs.push((format!("specs[{i}]."), s));
        }
        for (base, spec) in specs {
            let Some(sel) = spec.get("endpointSelector") else {
                continue;
            };
            out.push(Policy {
                obj: o,
                selector: Selector::from_label_selector(&strip_source(sel)),
                ingress: spec
                    .get("ingress")
                    .map(|l| rules(o, &base, Some(l), "ingress", true)),
                egress: spec
                    .get("egress")
                    .map(|l| rules(o, &base, Some(l), "egress", true)),
            });
        }
    }
    out
}

fn selects(ix: &Index, pol: &Policy, pi: usize) -> bool {
    let p = &ix.pods[pi];
    pol.obj.namespace() == p.namespace() && pol.selector.matches(p.labels())
}

/// Does a NetworkPolicy peer (`from`/`to` entry) admit `pod`?
fn peer_admits(ix: &Index, policy_ns: &str, peer: &Value, pod: &PodLike) -> bool {
    if let Some(b) = peer.get("ipBlock") {
        // Pod IPs are unknown statically: only "everything" admits a pod.
        let cidr = b.get("cidr").and_then(|c| c.as_str()).unwrap_or("");
        let except = b
            .get("except")
            .and_then(|e| e.as_array())
            .is_some_and(|a| !a.is_empty());
        return matches!(cidr, "0.0.0.0/0" | "::/0") && !except;
    }
    let ns_ok = match peer.get("namespaceSelector") {
        Some(s) => {
            Selector::from_label_selector(s).matches(Some(&ix.namespace_labels(pod.namespace())))
        }
        None => pod.namespace() == policy_ns,
    };
    let pod_ok = match peer.get("podSelector") {
        Some(s) => Selector::from_label_selector(s).matches(pod.labels()),
        None => true,
    };
    ns_ok && pod_ok
}

fn rule_admits_peer(ix: &Index, r: &PRule, dir: Direction, peer: &PodLike) -> bool {
    if r.all_peers {
        return true;
    }
    if r.cilium {
        let key = if dir == Direction::Ingress {
            "fromEndpoints"
        } else {
            "toEndpoints"
        };
        return r
            .peers
            .get(key)
            .and_then(|e| e.as_array())
            .into_iter()
            .flatten()
            .any(|sel| {
                let s = Selector::from_label_selector(&strip_source(sel));
                // Endpoint selectors are namespace-local unless they name one.
                let mut labels = peer.labels().cloned().unwrap_or_default();
                labels.insert(
                    "io.kubernetes.pod.namespace".into(),
                    Value::String(peer.namespace().to_string()),
                );
                let names_ns = sel.to_string().contains("io.kubernetes.pod.namespace");
                (names_ns || peer.namespace() == r.policy.namespace()) && s.matches(Some(&labels))
            });
    }
    let key = if dir == Direction::Ingress {
        "from"
    } else {
        "to"
    };
    r.peers
        .get(key)
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
        .any(|p| peer_admits(ix, r.policy.namespace(), p, peer))
}

/// May `source` open TCP/UDP `port` to `target` as far as ingress policies
/// on `target` go? (Egress of `source` is checked by [`egress_allowed`].)
pub fn ingress_allowed(ix: &Index, target: usize, source: usize, port: i64, proto: &str) -> bool {
    allowed(ix, Direction::Ingress, source, target, port, proto)
}

/// May `source` open `port` to `target` as far as egress policies on
/// `source` go?
pub fn egress_allowed(ix: &Index, source: usize, target: usize, port: i64, proto: &str) -> bool {
    allowed(ix, Direction::Egress, source, target, port, proto)
}

/// One direction of [`ingress_allowed`] / [`egress_allowed`]: the policies
/// selecting that direction's own pod (the target for ingress, the source for
/// egress) must admit the other pod on the port, or none may select it.
fn allowed(
    ix: &Index,
    dir: Direction,
    source: usize,
    target: usize,
    port: i64,
    proto: &str,
) -> bool {
    let pols = policies(ix);
    let tp = &ix.pods[target];
    let m = meshed(ix, tp);
    let (own, other) = match dir {
        Direction::Ingress => (target, source),
        Direction::Egress => (source, target),
    };
    fn rules<'p, 'a>(p: &'p Policy<'a>, dir: Direction) -> Option<&'p Vec<PRule<'a>>> {
        match dir {
            Direction::Ingress => p.ingress.as_ref(),
            Direction::Egress => p.egress.as_ref(),
        }
    }
    let selecting: Vec<&Policy> = pols
        .iter()
        .filter(|p| rules(p, dir).is_some() && selects(ix, p, own))
        .collect();
    if selecting.is_empty() {
        return true;
    }
    selecting.iter().any(|p| {
        rules(p, dir).into_iter().flatten().any(|r| {
            rule_admits_peer(ix, r, dir, &ix.pods[other]) && r.allows_port(Some(tp), m, port, proto)
        })
    })
}

/// Computes `netpol-blocks-proxy-port`.
pub fn facts(ix: &Index, out: &mut Vec<Fact>) {
    if !ix.has_kind("NetworkPolicy") && !ix.has_kind("CiliumNetworkPolicy") {
        return;
    }
    let pols = policies(ix);
    // Policies per namespace, so each pod only looks at its own.
    let mut by_ns: BTreeMap<&str, Vec<&Policy>> = BTreeMap::new();
    for p in &pols {
        by_ns.entry(p.obj.namespace()).or_default().push(p);
    }
    // (policy, rule path) → (rule, pods it blocks, direction)
    let mut hits: BTreeMap<(usize, String), (PRule, Vec<usize>, Direction)> = BTreeMap::new();
    let order = |o: &Object| ix.position(o);
    let mut to_meshed_cache: BTreeMap<(usize, String), bool> = BTreeMap::new();
    for (pi, p) in ix.pods.iter().enumerate() {
        let Some(ns_pols) = by_ns.get(p.namespace()) else {
            continue;
        };
        if !meshed(ix, p) {
            continue;
        }
        let mine: Vec<&&Policy> = ns_pols.iter().filter(|pol| selects(ix, pol, pi)).collect();
        if mine.is_empty() {
            continue;
        }
        let skip = p
            .annotation("config.linkerd.io/skip-inbound-ports")
            .map(|s| PortSet::parse(s, Some(p)))
            .unwrap_or_default();
        let all: Vec<&PRule> = mine
            .iter()
            .flat_map(|pol| pol.ingress.iter().flatten())
            .collect();
        for r in &all {
            if r.allows_port(Some(p), true, PROXY_INBOUND_PORT, "TCP") {
                continue;
            }
            // Ports the proxy skips reach the app directly: nothing to add.
            if r.numeric_ports()
                .is_some_and(|ps| ps.iter().all(|(a, b)| (*a..=*b).all(|x| skip.contains(x))))
            {
                continue;
            }
            let covered = all.iter().any(|o| {
                o.allows_port(Some(p), true, PROXY_INBOUND_PORT, "TCP")
                    && (o.all_peers || o.peers == r.peers)
            });
            if covered {
                continue;
            }
            hits.entry((order(r.policy), r.path.clone()))
                .or_insert_with(|| ((*r).clone(), Vec::new(), Direction::Ingress))
                .1
                .push(pi);
        }
        // Egress from a meshed client towards meshed servers: the client
        // proxy dials the server proxy's 4143, not the app port.
        let eg: Vec<&PRule> = mine
            .iter()
            .flat_map(|pol| pol.egress.iter().flatten())
            .collect();
        for r in &eg {
            if r.ports.is_empty() || r.allows_port(None, true, PROXY_INBOUND_PORT, "TCP") {
                continue;
            }
            // DNS-only rules never need the proxy port.
            if r.numeric_ports()
                .is_some_and(|ps| ps.iter().all(|(a, b)| *a == 53 && *b == 53))
            {
                continue;
            }
            let to_meshed = !r.all_peers
                && *to_meshed_cache
                    .entry((order(r.policy), r.path.clone()))
                    .or_insert_with(|| {
                        ix.pods
                            .iter()
                            .any(|t| meshed(ix, t) && rule_admits_peer(ix, r, Direction::Egress, t))
                    });
            if !to_meshed {
                continue;
            }
            let covered = eg.iter().any(|o| {
                o.allows_port(None, true, PROXY_INBOUND_PORT, "TCP")
                    && (o.all_peers || o.peers == r.peers)
            });
            if !covered {
                hits.entry((order(r.policy), r.path.clone()))
                    .or_insert_with(|| ((*r).clone(), Vec::new(), Direction::Egress))
                    .1
                    .push(pi);
            }
        }
    }
    for ((_, path), (r, pods, dir)) in hits {
        let pol = r.policy;
        let Some(&p0) = pods.first() else { continue };
        let first = &ix.pods[p0];
        let others = if pods.len() > 1 {
            format!(" and {} other workload(s)", pods.len() - 1)
        } else {
            String::new()
        };
        let kind = pol.kind();
        let admin_ok = r.allows_port(Some(first), true, PROXY_ADMIN_PORT, "TCP");
        let (what, to) = match dir {
            Direction::Ingress => ("ingress to", "arrives"),
            Direction::Egress => ("egress from", "is sent"),
        };
        let message = format!(
            "{kind} {}/{} allows {what} {}{others} on {} but not on the linkerd-proxy inbound port 4143, where all meshed traffic {to}",
            pol.namespace(),
            pol.name(),
            first.display(),
            r.shown_ports()
        );
        let patch = if r.cilium {
            format!(
                "# {kind} {}/{} {path}.toPorts[0].ports\n- port: \"4143\"\n  protocol: TCP{}",
                pol.namespace(),
                pol.name(),
                if admin_ok {
                    ""
                } else {
                    "\n- port: \"4191\"\n  protocol: TCP"
                }
            )
        } else {
            format!(
                "# {kind} {}/{} {path}.ports\n- protocol: TCP\n  port: 4143   # linkerd-proxy inbound{}",
                pol.namespace(),
                pol.name(),
                if admin_ok || dir == Direction::Egress {
                    ""
                } else {
                    "\n- protocol: TCP\n  port: 4191   # linkerd-admin: probes and metrics"
                }
            )
        };
        let mut f = Fact::new(
            "netpol-blocks-proxy-port",
            pol.at(format!("{path}.{}", r.ports_key)),
            message,
        )
        .var("port", "4143")
        .var(
            "ports_pointer",
            format!(
                "/{}/{}",
                path.replace(['.', '['], "/").replace(']', ""),
                r.ports_key
            ),
        )
        .patch(patch);
        if let Some(d) = super::workloads::deployment_of(first) {
            f = f.var("deployment", d);
        }
        if first.is_pod() {
            f = f.var("pod", first.obj.name());
        }
        for &pi in pods.iter().take(5) {
            f = f.related(ix.pods[pi].obj.origin.clone());
        }
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::manifests::load_str;
    use crate::facts::ObjectSet;

    const APP: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: server, namespace: shop}
spec:
  selector: {matchLabels: {app: server}}
  template:
    metadata:
      labels: {app: server}
      annotations: {linkerd.io/inject: enabled}
    spec:
      containers:
      - name: app
        ports: [{containerPort: 8080, name: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: shop}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata:
      labels: {app: client}
      annotations: {linkerd.io/inject: enabled}
    spec:
      containers: [{name: app}]
---
";

    fn set(policy: &str) -> ObjectSet {
        load_str(&format!("{APP}{policy}"), "t.yaml", "default").unwrap()
    }

    fn run(policy: &str) -> Vec<Fact> {
        let s = set(policy);
        let ix = Index::new(&s);
        let mut out = Vec::new();
        facts(&ix, &mut out);
        out
    }

    const APP_PORT_ONLY: &str = "
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-http, namespace: shop}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: client}}
    ports:
    - port: 8080
";

    #[test]
    fn a_policy_allowing_only_the_app_port_to_a_meshed_pod_blocks_the_proxy_port() {
        let f = run(APP_PORT_ONLY);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].name, "netpol-blocks-proxy-port");
        assert_eq!(f[0].subject.field.as_deref(), Some("spec.ingress[0].ports"));
        assert!(f[0].message.contains("TCP/8080"), "{}", f[0].message);
        let patch = f[0].patch.as_deref().unwrap_or("");
        assert!(
            patch.contains("port: 4143") && patch.contains("port: 4191"),
            "{patch}"
        );
    }

    #[test]
    fn adding_4143_to_the_same_rule_fixes_it() {
        assert!(run(&format!("{APP_PORT_ONLY}    - port: 4143\n")).is_empty());
    }

    #[test]
    fn a_second_rule_admitting_4143_from_the_same_peers_covers_the_first() {
        let p = format!(
            "{APP_PORT_ONLY}  - from:\n    - podSelector: {{matchLabels: {{app: client}}}}\n    ports:\n    - port: 4143\n"
        );
        assert!(run(&p).is_empty());
    }

    #[test]
    fn an_end_port_range_covering_4143_is_enough() {
        let p = APP_PORT_ONLY.replace("- port: 8080", "- port: 4000\n      endPort: 9000");
        assert!(run(&p).is_empty());
    }

    #[test]
    fn a_udp_4143_entry_does_not_admit_tcp() {
        let p = format!("{APP_PORT_ONLY}    - port: 4143\n      protocol: UDP\n");
        assert_eq!(run(&p).len(), 1);
    }

    #[test]
    fn a_named_port_resolves_against_the_pods_container_ports() {
        let p = APP_PORT_ONLY.replace("- port: 8080", "- port: http");
        let f = run(&p);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("TCP/http"));
        // The proxy's own port name resolves once injected.
        let p2 = format!("{p}    - port: linkerd-proxy\n");
        assert!(run(&p2).is_empty());
    }

    #[test]
    fn a_rule_without_ports_admits_every_port_including_4143() {
        let p = APP_PORT_ONLY.replace("    ports:\n    - port: 8080\n", "");
        assert!(run(&p).is_empty());
    }

    #[test]
    fn default_deny_allows_nothing_so_it_is_not_this_fact() {
        let p = "
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
";
        assert!(run(p).is_empty());
    }

    #[test]
    fn an_unmeshed_pod_needs_no_proxy_port() {
        let s = APP_PORT_ONLY;
        let text = format!("{}{s}", APP.replace("linkerd.io/inject: enabled", "x: y"));
        let set = load_str(&text, "t.yaml", "default").unwrap();
        let ix = Index::new(&set);
        let mut out = Vec::new();
        facts(&ix, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn ports_the_proxy_skips_need_no_4143() {
        let text = format!(
            "{}{APP_PORT_ONLY}",
            APP.replace(
                "annotations: {linkerd.io/inject: enabled}\n    spec:\n      containers:\n      - name: app",
                "annotations: {linkerd.io/inject: enabled, config.linkerd.io/skip-inbound-ports: \"8080\"}\n    spec:\n      containers:\n      - name: app"
            )
        );
        let set = load_str(&text, "t.yaml", "default").unwrap();
        let ix = Index::new(&set);
        let mut out = Vec::new();
        facts(&ix, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn an_egress_rule_to_meshed_servers_on_the_app_port_only_is_reported() {
        let p = "
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: client-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: server}}}]
    ports: [{port: 8080}]
  - ports: [{port: 53, protocol: UDP}]
";
        let f = run(p);
        assert_eq!(
            f.len(),
            1,
            "{:?}",
            f.iter().map(|f| &f.message).collect::<Vec<_>>()
        );
        assert_eq!(f[0].subject.field.as_deref(), Some("spec.egress[0].ports"));
    }

    #[test]
    fn a_cilium_policy_with_to_ports_missing_4143_is_reported() {
        let p = "
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: l4, namespace: shop}
spec:
  endpointSelector: {matchLabels: {'k8s:app': server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: '8080', protocol: TCP}]
";
        let f = run(p);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].subject.field.as_deref(),
            Some("spec.ingress[0].toPorts")
        );
        let fixed = p.replace(
            "- ports: [{port: '8080', protocol: TCP}]",
            "- ports: [{port: '8080', protocol: TCP}, {port: '4143', protocol: TCP}]",
        );
        assert!(run(&fixed).is_empty());
    }

    #[test]
    fn may_tcp_reach_answers_per_pod_pair() {
        let s = set(APP_PORT_ONLY);
        let ix = Index::new(&s);
        let server = ix
            .pods
            .iter()
            .position(|p| p.obj.name() == "server")
            .unwrap_or(0);
        let client = ix
            .pods
            .iter()
            .position(|p| p.obj.name() == "client")
            .unwrap_or(0);
        assert!(ingress_allowed(&ix, server, client, 8080, "TCP"));
        assert!(!ingress_allowed(&ix, server, client, 4143, "TCP"));
        assert!(!ingress_allowed(&ix, server, server, 8080, "TCP"));
        // The client is not isolated at all.
        assert!(ingress_allowed(&ix, client, server, 1, "TCP"));
        assert!(egress_allowed(&ix, client, server, 4143, "TCP"));
    }

    #[test]
    fn a_namespace_selector_matches_the_automatic_name_label() {
        let p = APP_PORT_ONLY.replace(
            "- podSelector: {matchLabels: {app: client}}",
            "- namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}",
        );
        let s = set(&p);
        let ix = Index::new(&s);
        assert!(ingress_allowed(&ix, 0, 1, 8080, "TCP"));
    }

    #[test]
    fn the_linkerd_emojivoto_policy_testdata_loads_and_evaluates_without_panicking() {
        for f in [
            "linkerd2-test__integration__viz__policy__testdata__emoji-policy.yaml",
            "linkerd2-test__integration__deep__dualstack__testdata__ipfamilies-policy.yaml",
        ] {
            let Ok(text) =
                std::fs::read_to_string(format!("/work/shared/corpus/linkerd/manifests/{f}"))
            else {
                continue;
            };
            // The dual-stack file is a Go template (`{IPv6}/128`): an
            // error with a place, not a panic.
            match load_str(&text, f, "default") {
                Ok(set) => {
                    let ix = Index::new(&set);
                    let mut out = Vec::new();
                    facts(&ix, &mut out);
                }
                Err(e) => assert!(e.line > 0 && e.message.starts_with("invalid YAML"), "{e}"),
            }
        }
    }
}
