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
use super::{Fact, Object};
use serde_json::Value;
use std::collections::BTreeSet;

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

/// The effective PeerAuthentication mode for a workload (labels) in `ns`
/// on container port `port`.
pub fn peer_auth_mode<'a>(
    ix: &Index<'a>,
    ns: &str,
    labels: Option<&serde_json::Map<String, Value>>,
    port: Option<i64>,
) -> (&'static str, Option<&'a Object>) {
    let mode_of = |v: Option<&Value>| -> Option<&'static str> {
        match v.and_then(|m| m.as_str()) {
            Some("STRICT") => Some("STRICT"),
            Some("PERMISSIVE") => Some("PERMISSIVE"),
            Some("DISABLE") => Some("DISABLE"),
            _ => None,
        }
    };
    let mut pas: Vec<&Object> = ix.of_kind_in("PeerAuthentication", ns);
    if ns != ROOT_NS {
        pas.extend(ix.of_kind_in("PeerAuthentication", ROOT_NS));
    }
    let has_sel = |p: &Object| {
        p.value
            .pointer("/spec/selector/matchLabels")
            .and_then(|m| m.as_object())
            .is_some_and(|m| !m.is_empty())
    };
    if labels.is_some() {
        for p in pas.iter().filter(|p| p.namespace() == ns && has_sel(p)) {
            let sel = Selector::from_map(
                p.value
                    .pointer("/spec/selector/matchLabels")
                    .unwrap_or(&Value::Null),
            );
            if !sel.matches(labels) {
                continue;
            }
            if let Some(port) = port
                && let Some(m) = p
                    .value
                    .pointer("/spec/portLevelMtls")
                    .and_then(|m| m.get(port.to_string()))
                    .and_then(|m| mode_of(m.get("mode")))
            {
                return (m, Some(p));
            }
            if let Some(m) = mode_of(p.value.pointer("/spec/mtls/mode")) {
                return (m, Some(p));
            }
        }
    }
    for scope in [ns, ROOT_NS] {
        if let Some(p) = pas.iter().find(|p| p.namespace() == scope && !has_sel(p))
            && let Some(m) = mode_of(p.value.pointer("/spec/mtls/mode"))
        {
            return (m, Some(p));
        }
    }
    ("PERMISSIVE", None)
}

/// Auto mTLS (default on since Istio 1.5) makes a DestinationRule without
/// any `tls` use ISTIO_MUTUAL; only an explicit `enableAutoMtls: false` in
/// the mesh config turns that off.
fn auto_mtls_off(ix: &Index) -> bool {
    ix.of_kind("ConfigMap").any(|c| {
        c.namespace() == ROOT_NS
            && c.name().starts_with("istio")
            && c.value
                .pointer("/data/mesh")
                .and_then(|m| m.as_str())
                .is_some_and(|m| m.contains("enableAutoMtls: false"))
    }) || ix
        .of_kind("IstioOperator")
        .any(|o| o.value.pointer("/spec/meshConfig/enableAutoMtls") == Some(&Value::Bool(false)))
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
    gateways_share_cert(ix, out);
    gateways_port_conflict(ix, out);
    gateway_sni(ix, out);
    envoyfilters(ix, out);
}

fn ports_of(o: &Object) -> &[Value] {
    o.value
        .pointer("/spec/ports")
        .and_then(|p| p.as_array())
        .map(|a| a.as_slice())
        .unwrap_or(&[])
}

fn guess_prefix(port: i64) -> &'static str {
    match port {
        80 | 8080 | 8000 | 3000 | 5000 | 9080 => "http",
        443 | 8443 => "https",
        9090 | 50051 => "grpc",
        3306 => "mysql",
        6379 => "redis",
        27017 => "mongo",
        _ => "tcp",
    }
}

fn service_ports(ix: &Index, present: bool, out: &mut Vec<Fact>) {
    for svc in ix.of_kind("Service") {
        if svc.value.pointer("/spec/type").and_then(|t| t.as_str()) == Some("ExternalName") {
            continue;
        }
        let meshed = service_meshed(ix, svc, present) && !known_not_istio(ix, svc);
        // Headless + HTTP port breaks only under Istio: judge it on the same
        // evidence as port naming (injected namespace or pods, Istio
        // configuration in the set, `--mesh istio`). Plain app manifests
        // with a headless gRPC Service are common (Linkerd's emojivoto and
        // nodevoto demos) and say nothing about Istio.
        let headless_judged = meshed;
        let headless = svc
            .value
            .pointer("/spec/clusterIP")
            .and_then(|c| c.as_str())
            == Some("None");
        for (i, p) in ports_of(svc).iter().enumerate() {
            let proto = p.get("protocol").and_then(|x| x.as_str()).unwrap_or("TCP");
            if proto != "TCP" {
                continue;
            }
            let name = p.get("name").and_then(|n| n.as_str());
            let ap = p.get("appProtocol").and_then(|n| n.as_str());
            let number = p.get("port").and_then(int).unwrap_or(0);
            let sel = port_protocol(name, ap);
            let (ns, sname) = (svc.namespace(), svc.name());
            if sel.is_none() && meshed {
                let suggested = format!(
                    "{}-{}",
                    guess_prefix(number),
                    name.map(str::to_string)
                        .unwrap_or_else(|| number.to_string())
                );
                let shown = name
                    .map(|n| format!("named `{n}`"))
                    .unwrap_or_else(|| "unnamed".into());
                out.push(
                    Fact::new(
                        "service-port-unnamed-or-unprefixed",
                        svc.at(format!("spec.ports[{i}]")),
                        format!(
                            "Service {ns}/{sname} port {number} is {shown} without a protocol prefix (http-, grpc-, tcp-, …) or appProtocol, so Istio cannot apply L7 route rules reliably"
                        ),
                    )
                    .var("service", sname)
                    .var("port", number.to_string())
                    .patch(format!(
                        "# Service {ns}/{sname} spec.ports[{i}]\n- name: {suggested}\n  port: {number}\n# or: appProtocol: {}",
                        guess_prefix(number)
                    )),
                );
            }
            if headless && headless_judged && is_http(sel) {
                let suffix = name
                    .and_then(|n| n.split_once('-').map(|x| x.1))
                    .unwrap_or("web");
                out.push(
                    Fact::new(
                        "headless-service-http-port",
                        svc.at(format!("spec.ports[{i}]")),
                        format!(
                            "Headless Service {ns}/{sname} declares port {number} as {} ({}): requests to a pod IP go through the PassthroughCluster and the server sidecar has no route for them (503 UC under STRICT mTLS)",
                            sel.unwrap_or("HTTP"),
                            name.map(|n| format!("name `{n}`")).or(ap.map(|a| format!("appProtocol {a}"))).unwrap_or_default()
                        ),
                    )
                    .var("service", sname)
                    .var("port", number.to_string())
                    .patch(format!(
                        "# Service {ns}/{sname} spec.ports[{i}] — or call the pod by its DNS name (pod-0.{sname}.{ns}) / set the Host header\n- name: tcp-{suffix}\n  port: {number}"
                    )),
                );
            }
        }
    }
}

/// `(field, mode, port)` of every TLS setting a DestinationRule makes.
fn dr_tls_settings(dr: &Object) -> Vec<(String, Option<String>, Option<i64>)> {
    let mut v = Vec::new();
    let spec = dr.spec();
    let mut push = |base: &str, tp: &Value| {
        let mode = tp
            .pointer("/tls/mode")
            .and_then(|m| m.as_str())
            .map(str::to_string);
        let field = if tp.get("tls").is_some() {
            format!("{base}.tls")
        } else {
            base.to_string()
        };
        v.push((field, mode, None));
        for (i, pl) in tp
            .get("portLevelSettings")
            .and_then(|p| p.as_array())
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(m) = pl.pointer("/tls/mode").and_then(|m| m.as_str()) {
                v.push((
                    format!("{base}.portLevelSettings[{i}].tls"),
                    Some(m.to_string()),
                    pl.pointer("/port/number").and_then(int),
                ));
            }
        }
    };
    if let Some(tp) = spec.get("trafficPolicy") {
        push("spec.trafficPolicy", tp);
    } else {
        v.push(("spec".to_string(), None, None));
    }
    for (i, s) in spec
        .get("subsets")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(tp) = s.get("trafficPolicy")
            && tp.pointer("/tls/mode").is_some()
        {
            let mode = tp
                .pointer("/tls/mode")
                .and_then(|m| m.as_str())
                .map(str::to_string);
            v.push((format!("spec.subsets[{i}].trafficPolicy.tls"), mode, None));
        }
    }
    v
}

fn dr_tls(ix: &Index, out: &mut Vec<Fact>) {
    if !ix.has_kind("DestinationRule") || !ix.has_kind("PeerAuthentication") {
        return;
    }
    let auto_off = auto_mtls_off(ix);
    for dr in ix.of_kind("DestinationRule") {
        let Some(host) = dr.value.pointer("/spec/host").and_then(|h| h.as_str()) else {
            continue;
        };
        let h = fqdn(host, dr.namespace());
        let services = services_for_host(ix, host, dr.namespace());
        for (field, mode, port) in dr_tls_settings(dr) {
            let bad = match mode.as_deref() {
                Some("DISABLE" | "SIMPLE" | "MUTUAL") => true,
                None => auto_off,
                _ => false,
            };
            if !bad {
                continue;
            }
            // Find a STRICT server behind the host.
            let mut strict: Option<(String, Option<&Object>)> = None;
            'svc: for svc in &services {
                let pods = ix.service_pods(svc).unwrap_or_default();
                for sp in ports_of(svc) {
                    let number = sp.get("port").and_then(int);
                    if port.is_some() && number != port {
                        continue;
                    }
                    if pods.is_empty() {
                        let (m, pa) = peer_auth_mode(ix, svc.namespace(), None, None);
                        if m == "STRICT" {
                            strict =
                                Some((format!("Service {}/{}", svc.namespace(), svc.name()), pa));
                            break 'svc;
                        }
                    }
                    for &pi in &pods {
                        let p = &ix.pods[pi];
                        let target = super::linkerd::target_port(sp, p);
                        let (m, pa) = peer_auth_mode(ix, p.namespace(), p.labels(), target);
                        if m == "STRICT" {
                            strict = Some((p.display(), pa));
                            break 'svc;
                        }
                    }
                }
            }
            if strict.is_none() && services.is_empty() {
                // No Service in the set: judge by the namespace the host names.
                let ns = h.split('.').nth(1).filter(|_| h.ends_with(DOMAIN));
                if let Some(ns) = ns.filter(|n| *n != "*") {
                    let (m, pa) = peer_auth_mode(ix, ns, None, None);
                    if m == "STRICT" {
                        strict = Some((format!("namespace {ns}"), pa));
                    }
                }
            }
            let Some((who, pa)) = strict else { continue };
            let shown_mode = mode
                .clone()
                .unwrap_or_else(|| "unset (auto mTLS off)".into());
            let mut f = Fact::new(
                "dr-tls-disables-mtls-under-strict",
                dr.at(if mode.is_some() { format!("{field}.mode") } else { field.clone() }),
                format!(
                    "DestinationRule {}/{} sets tls mode {shown_mode} for {h}{} but {who} requires mTLS (PeerAuthentication STRICT): clients send {} to an mTLS-only server",
                    dr.namespace(),
                    dr.name(),
                    port.map(|p| format!(" port {p}")).unwrap_or_default(),
                    if mode.as_deref() == Some("DISABLE") || mode.is_none() { "plain text" } else { "non-Istio TLS" }
                ),
            )
            .var("service", h.split('.').next().unwrap_or(""))
            .patch(format!(
                "# DestinationRule {}/{} {field}\ntls:\n  mode: ISTIO_MUTUAL",
                dr.namespace(),
                dr.name()
            ));
            if let Some(p) = port {
                f = f.var("port", p.to_string());
            }
            if let Some(ns) = h.split('.').nth(1).filter(|_| h.ends_with(DOMAIN)) {
                f = f.var("service_namespace", ns);
            }
            // The server side is where `istioctl x describe` shows the mTLS clash.
            if let Some(p) = services
                .iter()
                .flat_map(|s| ix.service_pods(s).unwrap_or_default())
                .map(|i| &ix.pods[i])
                .find(|p| p.is_pod())
            {
                f = f.var("server_pod", p.obj.name());
            }
            if let Some(pa) = pa {
                f = f.related(pa.at("spec.mtls.mode"));
            }
            for s in &services {
                f = f.related(s.origin.clone());
            }
            out.push(f);
        }
    }
}

fn dr_subsets(ix: &Index, out: &mut Vec<Fact>) {
    for dr in ix.of_kind("DestinationRule") {
        let Some(host) = dr.value.pointer("/spec/host").and_then(|h| h.as_str()) else {
            continue;
        };
        let services = services_for_host(ix, host, dr.namespace());
        let [svc] = services.as_slice() else { continue };
        // Only judge when the set describes the Service's workloads.
        if ix.pods_in(svc.namespace()).next().is_none() {
            continue;
        }
        let Some(pods) = ix.service_pods(svc) else {
            continue;
        };
        if pods.is_empty() {
            continue;
        }
        for (i, s) in dr
            .value
            .pointer("/spec/subsets")
            .and_then(|s| s.as_array())
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Some(labels) = s.get("labels") else {
                continue;
            };
            let sel = Selector::from_map(labels);
            if pods.iter().any(|&pi| sel.matches(ix.pods[pi].labels())) {
                continue;
            }
            let sname = s.get("name").and_then(|n| n.as_str()).unwrap_or("");
            let shown: Vec<String> = labels
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            format!("{k}={}", super::selector::scalar(v).unwrap_or_default())
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(
                Fact::new(
                    "dr-subset-selects-no-pods",
                    dr.at(format!("spec.subsets[{i}].labels")),
                    format!(
                        "DestinationRule {}/{} subset {sname} ({}) selects none of the {} workload(s) behind Service {}/{}; traffic routed to it gets 503 NR/UH",
                        dr.namespace(),
                        dr.name(),
                        shown.join(","),
                        pods.len(),
                        svc.namespace(),
                        svc.name()
                    ),
                )
                .var("service", svc.name())
                .related(svc.origin.clone())
                .patch(format!(
                    "kubectl get pods -n {} -l '{}' --show-labels",
                    svc.namespace(),
                    shown.join(",")
                )),
            );
        }
    }
}

fn dr_originates_tls(dr: &Object, port: Option<i64>) -> Option<(String, String)> {
    dr_tls_settings(dr)
        .into_iter()
        .find_map(|(field, mode, p)| {
            let m = mode?;
            let ok_port = p.is_none() || p == port;
            (matches!(m.as_str(), "SIMPLE" | "MUTUAL")
                && ok_port
                && !field.starts_with("spec.subsets"))
            .then_some((format!("{field}.mode"), m))
        })
}

/// Does a VirtualService `http:` route send to `host` on port `port`? Then
/// plain HTTP arrives there (from an egress gateway that terminated the
/// mesh mTLS, or a sidecar), and a DestinationRule originating TLS on that
/// port is the documented egress TLS origination, not double encryption
/// (istio.io "Egress Gateways with TLS Origination": ServiceEntry port 443
/// HTTPS, DestinationRule SIMPLE on 443, gateway route to port 443).
fn http_routed_to(ix: &Index, host: &str, port: i64) -> bool {
    ix.of_kind("VirtualService").any(|vs| {
        vs.value
            .pointer("/spec/http")
            .and_then(|h| h.as_array())
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("route").and_then(|r| r.as_array()))
            .flatten()
            .any(|d| {
                d.pointer("/destination/host")
                    .and_then(|h| h.as_str())
                    .is_some_and(|h| hosts_intersect(&fqdn(h, vs.namespace()), host))
                    && d.pointer("/destination/port/number").and_then(int) == Some(port)
            })
    })
}

fn serviceentries(ix: &Index, out: &mut Vec<Fact>) {
    for se in ix.of_kind("ServiceEntry") {
        let hosts: Vec<&str> = se
            .value
            .pointer("/spec/hosts")
            .and_then(|h| h.as_array())
            .into_iter()
            .flatten()
            .filter_map(|h| h.as_str())
            .collect();
        let drs: Vec<&Object> = ix
            .of_kind("DestinationRule")
            .filter(|dr| {
                dr.value
                    .pointer("/spec/host")
                    .and_then(|h| h.as_str())
                    .is_some_and(|h| hosts.iter().any(|x| hosts_intersect(h, x)))
            })
            .collect();
        for (i, p) in ports_of(se).iter().enumerate() {
            let number = p.get("number").and_then(int).unwrap_or(0);
            let proto = p
                .get("protocol")
                .and_then(|x| x.as_str())
                .unwrap_or("")
                .to_ascii_uppercase();
            let host = hosts.first().copied().unwrap_or("");
            let originating = drs
                .iter()
                .find_map(|dr| dr_originates_tls(dr, Some(number)).map(|x| (dr, x)));
            if proto == "HTTP" && matches!(number, 443 | 8443 | 9443) && originating.is_none() {
                out.push(
                    Fact::new(
                        "serviceentry-https-declared-http",
                        se.at(format!("spec.ports[{i}]")),
                        format!(
                            "ServiceEntry {}/{} declares port {number} for {host} as protocol HTTP; HTTPS sent there is parsed as HTTP (client: wrong version number, access log 400 DPE)",
                            se.namespace(),
                            se.name()
                        ),
                    )
                    .var("service", host)
                    .var("port", number.to_string())
                    .patch(format!(
                        "# ServiceEntry {}/{} spec.ports[{i}]\n- number: {number}\n  name: https\n  protocol: HTTPS",
                        se.namespace(),
                        se.name()
                    )),
                );
            }
            if matches!(proto.as_str(), "HTTPS" | "TLS")
                && let Some((dr, (field, mode))) = originating
                && !hosts.iter().any(|h| http_routed_to(ix, h, number))
            {
                out.push(
                        Fact::new(
                            "dr-originates-tls-to-https-serviceentry",
                            dr.at(field),
                            format!(
                                "DestinationRule {}/{} originates TLS ({mode}) to {host}, whose ServiceEntry {}/{} port {number} is already {proto}: the application's TLS gets wrapped in TLS again",
                                dr.namespace(),
                                dr.name(),
                                se.namespace(),
                                se.name()
                            ),
                        )
                        .var("service", host)
                        .var("port", number.to_string())
                        .related(se.at(format!("spec.ports[{i}]")))
                        .patch(format!(
                            "# ServiceEntry {}/{} spec.ports[{i}]: plain text from the app, TLS from the sidecar\n- number: 80\n  name: http\n  protocol: HTTP\n  targetPort: {number}",
                            se.namespace(),
                            se.name()
                        )),
                    );
            }
        }
    }
}

/// A Gateway server, flattened.
struct Server<'a> {
    gw: &'a Object,
    index: usize,
    number: i64,
    port_name: String,
    protocol: String,
    hosts: Vec<String>,
    tls_mode: Option<String>,
    cert: Option<String>,
}

fn servers<'a>(ix: &Index<'a>) -> Vec<Server<'a>> {
    let mut out = Vec::new();
    for gw in ix.of_kind("Gateway") {
        // Gateway API Gateways share the kind name; only Istio's are ours.
        if !gw.api_version().starts_with("networking.istio.io") {
            continue;
        }
        for (i, s) in gw
            .value
            .pointer("/spec/servers")
            .and_then(|s| s.as_array())
            .into_iter()
            .flatten()
            .enumerate()
        {
            let tls = s.get("tls");
            let cert = tls.and_then(|t| {
                t.get("credentialName")
                    .and_then(|c| c.as_str())
                    .map(|c| format!("credentialName {c}"))
                    .or_else(|| {
                        t.get("serverCertificate")
                            .and_then(|c| c.as_str())
                            .map(|c| format!("serverCertificate {c}"))
                    })
            });
            out.push(Server {
                gw,
                index: i,
                number: s.pointer("/port/number").and_then(int).unwrap_or(0),
                port_name: s
                    .pointer("/port/name")
                    .and_then(|n| n.as_str())
                    .unwrap_or("")
                    .to_string(),
                protocol: s
                    .pointer("/port/protocol")
                    .and_then(|n| n.as_str())
                    .unwrap_or("")
                    .to_ascii_uppercase(),
                hosts: s
                    .get("hosts")
                    .and_then(|h| h.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|h| h.as_str())
                    // `ns/host`: the namespace part restricts which
                    // VirtualServices may bind, not the host.
                    .map(|h| h.rsplit('/').next().unwrap_or(h).to_string())
                    .collect(),
                tls_mode: tls
                    .and_then(|t| t.get("mode"))
                    .and_then(|m| m.as_str())
                    .map(str::to_string),
                cert,
            });
        }
    }
    out
}

/// One Gateway, or two definitions of the same Gateway (same namespace and
/// name) in different files: `kubectl apply` keeps only the last, so they
/// never run side by side (istio.io task steps redefine `mygateway`).
fn same_object(a: &Object, b: &Object) -> bool {
    std::ptr::eq(a, b)
        || (a.kind() == b.kind() && a.namespace() == b.namespace() && a.name() == b.name())
}

fn gw_selector(gw: &Object) -> Selector {
    Selector::from_map(gw.value.pointer("/spec/selector").unwrap_or(&Value::Null))
}

/// `(namespace, name)` of every gateway a VirtualService binds to; `mesh` is skipped.
fn vs_gateways(vs: &Object) -> (Vec<(String, String)>, bool) {
    let list: Vec<&str> = vs
        .value
        .pointer("/spec/gateways")
        .and_then(|g| g.as_array())
        .map(|a| a.iter().filter_map(|g| g.as_str()).collect())
        .unwrap_or_default();
    let mesh = list.is_empty() || list.contains(&"mesh");
    let gws = list
        .into_iter()
        .filter(|g| *g != "mesh")
        .map(|g| match g.split_once('/') {
            Some((ns, n)) => (ns.to_string(), n.to_string()),
            None => (vs.namespace().to_string(), g.to_string()),
        })
        .collect();
    (gws, mesh)
}

fn vs_hosts(vs: &Object) -> Vec<String> {
    vs.value
        .pointer("/spec/hosts")
        .and_then(|h| h.as_array())
        .into_iter()
        .flatten()
        .filter_map(|h| h.as_str())
        .map(|h| fqdn(h, vs.namespace()))
        .collect()
}

fn nonempty(v: &Value, key: &str) -> bool {
    v.pointer(&format!("/spec/{key}"))
        .and_then(|a| a.as_array())
        .is_some_and(|a| !a.is_empty())
}

fn gateway_binding(ix: &Index, out: &mut Vec<Fact>) {
    if !ix.has_kind("Gateway") || !ix.has_kind("VirtualService") {
        return;
    }
    let srv = servers(ix);
    for vs in ix.of_kind("VirtualService") {
        let (gws, _) = vs_gateways(vs);
        if gws.is_empty() {
            continue;
        }
        let hosts = vs_hosts(vs);
        let raw_hosts: Vec<String> = vs
            .value
            .pointer("/spec/hosts")
            .and_then(|h| h.as_array())
            .into_iter()
            .flatten()
            .filter_map(|h| h.as_str().map(str::to_string))
            .collect();
        let bound: Vec<&Server> = srv
            .iter()
            .filter(|s| {
                gws.iter()
                    .any(|(ns, n)| s.gw.namespace() == ns && s.gw.name() == n)
                    && s.hosts.iter().any(|sh| {
                        raw_hosts
                            .iter()
                            .chain(hosts.iter())
                            .any(|h| hosts_intersect(sh, h))
                    })
            })
            .collect();
        if bound.is_empty() {
            continue;
        }
        let (http, tls) = (nonempty(&vs.value, "http"), nonempty(&vs.value, "tls"));
        let passthrough = |s: &&Server| {
            matches!(
                s.tls_mode.as_deref(),
                Some("PASSTHROUGH" | "AUTO_PASSTHROUGH")
            )
        };
        let terminating = |s: &&Server| {
            s.protocol == "HTTPS"
                && matches!(
                    s.tls_mode.as_deref(),
                    Some("SIMPLE" | "MUTUAL" | "ISTIO_MUTUAL" | "OPTIONAL_MUTUAL")
                )
        };
        if tls
            && !http
            && !bound.iter().any(passthrough)
            && let Some(s) = bound.iter().find(|s| terminating(s))
        {
            out.push(
                    Fact::new(
                        "gateway-simple-tls-with-tls-routes",
                        vs.at("spec.tls"),
                        format!(
                            "Gateway {}/{} terminates TLS ({}) on port {} but VirtualService {}/{} bound to it has only tls: routes, which never match decrypted traffic (404)",
                            s.gw.namespace(),
                            s.gw.name(),
                            s.tls_mode.as_deref().unwrap_or(""),
                            s.number,
                            vs.namespace(),
                            vs.name()
                        ),
                    )
                    .var("service", raw_hosts.first().cloned().unwrap_or_default())
                    .var("port", s.number.to_string())
                    .related(s.gw.at(format!("spec.servers[{}].tls", s.index)))
                    .patch(format!(
                        "# VirtualService {}/{}: route the terminated traffic with http:\nhttp:\n- route:\n  - destination:\n      host: <backend>",
                        vs.namespace(),
                        vs.name()
                    )),
                );
        }
        if http
            && !bound.iter().any(|s| !passthrough(s))
            && let Some(s) = bound.iter().find(|s| passthrough(s))
        {
            out.push(
                    Fact::new(
                        "gateway-passthrough-with-http-routes",
                        vs.at("spec.http"),
                        format!(
                            "Gateway {}/{} passes TLS through ({}) on port {} but VirtualService {}/{} routes it with http: routes, which cannot see inside TLS and have no effect",
                            s.gw.namespace(),
                            s.gw.name(),
                            s.tls_mode.as_deref().unwrap_or(""),
                            s.number,
                            vs.namespace(),
                            vs.name()
                        ),
                    )
                    .var("service", raw_hosts.first().cloned().unwrap_or_default())
                    .var("port", s.number.to_string())
                    .related(s.gw.at(format!("spec.servers[{}].tls", s.index)))
                    .patch(format!(
                        "# VirtualService {}/{}\ntls:\n- match:\n  - sniHosts: [\"{}\"]\n  route:\n  - destination:\n      host: <backend>\n# or terminate at the Gateway: tls: {{mode: SIMPLE, credentialName: <secret>}}",
                        vs.namespace(),
                        vs.name(),
                        raw_hosts.first().cloned().unwrap_or_default()
                    )),
                );
        }
    }
}

/// `(http index, route index, host, subset)` of every route destination.
fn destinations(vs: &Object) -> Vec<(usize, usize, String, Option<String>)> {
    let mut v = Vec::new();
    for (i, h) in vs
        .value
        .pointer("/spec/http")
        .and_then(|h| h.as_array())
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (j, r) in h
            .get("route")
            .and_then(|r| r.as_array())
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(host) = r.pointer("/destination/host").and_then(|h| h.as_str()) {
                v.push((
                    i,
                    j,
                    fqdn(host, vs.namespace()),
                    r.pointer("/destination/subset")
                        .and_then(|s| s.as_str())
                        .map(str::to_string),
                ));
            }
        }
    }
    v
}

fn gateway_vs_subset(ix: &Index, out: &mut Vec<Fact>) {
    if !ix.has_kind("VirtualService") {
        return;
    }
    let vss: Vec<&Object> = ix.of_kind("VirtualService").collect();
    for vs in &vss {
        let (gws, mesh) = vs_gateways(vs);
        if gws.is_empty() || mesh {
            continue;
        }
        for (i, j, host, subset) in destinations(vs) {
            if subset.is_some() {
                continue;
            }
            let mesh_vs = vss.iter().find_map(|m| {
                let (_, m_mesh) = vs_gateways(m);
                if !m_mesh || !vs_hosts(m).contains(&host) {
                    return None;
                }
                let subs: BTreeSet<String> = destinations(m)
                    .into_iter()
                    .filter(|d| d.2 == host)
                    .filter_map(|d| d.3)
                    .collect();
                (!subs.is_empty()).then_some((m, subs))
            });
            let Some((m, subs)) = mesh_vs else { continue };
            let list: Vec<String> = subs.into_iter().collect();
            out.push(
                Fact::new(
                    "gateway-vs-skips-mesh-subset",
                    vs.at(format!("spec.http[{i}].route[{j}].destination")),
                    format!(
                        "VirtualService {}/{} (gateway) routes to {host} without a subset, but mesh VirtualService {}/{} sends that host to subset(s) {}; ingress traffic ignores that routing",
                        vs.namespace(),
                        vs.name(),
                        m.namespace(),
                        m.name(),
                        list.join(", ")
                    ),
                )
                .var("service", host.split('.').next().unwrap_or(""))
                .related(m.origin.clone())
                .patch(format!(
                    "# VirtualService {}/{} spec.http[{i}].route[{j}]\ndestination:\n  host: {host}\n  subset: {}",
                    vs.namespace(),
                    vs.name(),
                    list.first().cloned().unwrap_or_default()
                )),
            );
        }
    }
}

fn gateways_share_cert(ix: &Index, out: &mut Vec<Fact>) {
    let srv = servers(ix);
    let mut seen: BTreeSet<(usize, usize)> = BTreeSet::new();
    for a in srv.iter().filter(|s| s.cert.is_some()) {
        for b in srv.iter().filter(|s| s.cert == a.cert) {
            if same_object(a.gw, b.gw) {
                continue;
            }
            // Istio's GatewayDuplicateCertificate: gateway A is flagged when
            // its selector also selects B's workload (A ⊆ B).
            if !gw_selector(a.gw).is_subset_of(&gw_selector(b.gw)) {
                continue;
            }
            if !seen.insert((ix.position(a.gw), a.index)) {
                continue;
            }
            let cert = a.cert.clone().unwrap_or_default();
            out.push(
                Fact::new(
                    "gateways-share-certificate",
                    a.gw.at(format!("spec.servers[{}].tls", a.index)),
                    format!(
                        "Gateway {}/{} ({}) and Gateway {}/{} ({}) on the same workload use the same certificate ({cert}); browsers reuse one HTTP/2 connection for both hosts and get 404 from the wrong gateway",
                        a.gw.namespace(),
                        a.gw.name(),
                        a.hosts.join(","),
                        b.gw.namespace(),
                        b.gw.name(),
                        b.hosts.join(",")
                    ),
                )
                .related(b.gw.at(format!("spec.servers[{}].tls", b.index)))
                .patch(format!(
                    "# one Gateway for all hosts of the certificate; bind every VirtualService to it\nservers:\n- port: {{number: {}, name: https, protocol: HTTPS}}\n  tls: {{mode: SIMPLE, {}}}\n  hosts: [{}]",
                    a.number,
                    cert.replacen(' ', ": ", 1),
                    a.hosts.iter().chain(b.hosts.iter()).map(|h| format!("\"{h}\"")).collect::<Vec<_>>().join(", ")
                )),
            );
        }
    }
}

fn gateways_port_conflict(ix: &Index, out: &mut Vec<Fact>) {
    let srv = servers(ix);
    let mut seen: BTreeSet<(usize, usize)> = BTreeSet::new();
    for a in &srv {
        for b in &srv {
            if same_object(a.gw, b.gw) || a.number != b.number || a.number == 0 {
                continue;
            }
            if a.port_name == b.port_name && a.protocol == b.protocol {
                continue;
            }
            let (sa, sb) = (gw_selector(a.gw), gw_selector(b.gw));
            if !(sa.is_subset_of(&sb) || sb.is_subset_of(&sa)) {
                continue;
            }
            if !seen.insert((ix.position(a.gw), a.index)) {
                continue;
            }
            out.push(
                Fact::new(
                    "gateways-port-conflict",
                    a.gw.at(format!("spec.servers[{}].port", a.index)),
                    format!(
                        "Gateway {}/{} declares port {} as {}/{} while Gateway {}/{} on the same workload declares it as {}/{}; istiod rejects one (non unique port name)",
                        a.gw.namespace(),
                        a.gw.name(),
                        a.number,
                        a.port_name,
                        a.protocol,
                        b.gw.namespace(),
                        b.gw.name(),
                        b.port_name,
                        b.protocol
                    ),
                )
                .var("port", a.number.to_string())
                .related(b.gw.at(format!("spec.servers[{}].port", b.index)))
                .patch(format!(
                    "# use identical port definitions on both Gateways (or one Gateway per port)\nport:\n  number: {}\n  name: {}\n  protocol: {}",
                    b.number, b.port_name, b.protocol
                )),
            );
        }
    }
}

/// Why a load balancer in front of `svc` re-encrypts to it without SNI, if
/// its annotations (or an Ingress routing to it) say so, with the command
/// that stops it. Sources: istio/istio#31421 (an AWS load balancer that
/// terminates TLS "will re-initiate TLS but without SNI"),
/// aws-samples/eks-alb-istio-with-tls#9 (ALB does not forward SNI),
/// knative/serving#12376 (Google Cloud HTTPS load balancer to the gateway's
/// 443: filter_chain_not_found).
fn lb_reencrypts_without_sni(ix: &Index, svc: &Object) -> Option<(String, String)> {
    let ann = |k: &str| svc.annotation(k).map(|v| v.trim().to_ascii_lowercase());
    let (ns, name) = (svc.namespace(), svc.name());
    if let Some(p) = ann("service.beta.kubernetes.io/aws-load-balancer-backend-protocol")
        && matches!(p.as_str(), "ssl" | "https")
    {
        return Some((
            format!(
                "its AWS load balancer re-encrypts to it (Service {ns}/{name} annotation aws-load-balancer-backend-protocol: {p})"
            ),
            format!(
                "# pass the client's TLS (and SNI) through: the load balancer stops terminating TLS\nkubectl annotate service {name} -n {ns} service.beta.kubernetes.io/aws-load-balancer-ssl-cert- service.beta.kubernetes.io/aws-load-balancer-backend-protocol-"
            ),
        ));
    }
    for key in [
        "cloud.google.com/app-protocols",
        "service.alpha.kubernetes.io/app-protocols",
    ] {
        if let Some(p) = ann(key)
            && (p.contains("\"https\"") || p.contains("\"http2\""))
        {
            return Some((
                format!(
                    "a Google Cloud HTTP(S) load balancer connects to it over TLS (Service {ns}/{name} annotation {key})"
                ),
                format!(
                    "# let the load balancer reach the gateway's plain HTTP server instead (TLS ends at the load balancer)\nkubectl annotate service {name} -n {ns} --overwrite {key}='{{\"<port-name>\":\"HTTP\"}}'   # <port-name>: the Service port the load balancer uses"
                ),
            ));
        }
    }
    ix.of_kind_in("Ingress", ns)
        .into_iter()
        .find(|ing| {
            ing.annotation("alb.ingress.kubernetes.io/backend-protocol")
                .is_some_and(|p| p.eq_ignore_ascii_case("https"))
                && ingress_backends(ing).any(|n| n == name)
        })
        .map(|ing| {
            (
                format!(
                    "ALB Ingress {}/{} re-encrypts to it (alb.ingress.kubernetes.io/backend-protocol: HTTPS)",
                    ing.namespace(),
                    ing.name()
                ),
                format!(
                    "# let the ALB reach the gateway's plain HTTP server instead (TLS ends at the ALB); point the Ingress backend at the gateway's HTTP port\nkubectl annotate ingress {} -n {} --overwrite alb.ingress.kubernetes.io/backend-protocol=HTTP",
                    ing.name(),
                    ing.namespace()
                ),
            )
        })
}

/// The Service names an Ingress routes to (default backend and rules).
fn ingress_backends<'a>(ing: &'a Object) -> impl Iterator<Item = &'a str> + 'a {
    let spec = ing.spec();
    let default = spec.pointer("/defaultBackend/service/name");
    let rules = spec
        .get("rules")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .flat_map(|r| {
            r.pointer("/http/paths")
                .and_then(|p| p.as_array())
                .into_iter()
                .flatten()
                .filter_map(|p| p.pointer("/backend/service/name"))
        });
    default.into_iter().chain(rules).filter_map(|v| v.as_str())
}

/// Two facts about TLS servers that list specific hosts (so the filter
/// chain is chosen by SNI):
///
/// * `gateway-tls-requires-sni` for every such server. That is the norm
///   (Istio's secure-gateways task is a single-host SIMPLE server with a
///   credentialName), so it only corroborates a `filter_chain_not_found`
///   seen in evidence; on its own it is not a misconfiguration.
/// * `gateway-sni-not-forwarded` when the manifests also show a load
///   balancer that re-encrypts to the gateway's Service without SNI: then
///   every request through it fails, which `check` can say before shipping.
fn gateway_sni(ix: &Index, out: &mut Vec<Fact>) {
    for s in servers(ix) {
        if !matches!(s.protocol.as_str(), "HTTPS" | "TLS") || s.hosts.is_empty() {
            continue;
        }
        if s.hosts.iter().any(|h| h == "*") {
            continue;
        }
        let host = s.hosts.first().cloned().unwrap_or_default();
        let shown_host = host.replace('*', "app");
        out.push(
            Fact::new(
                "gateway-tls-requires-sni",
                s.gw.at(format!("spec.servers[{}].hosts", s.index)),
                format!(
                    "Gateway {}/{} port {} ({}) matches only SNI {}; clients or load balancers that send no SNI (curl to an IP with a Host header, many cloud LBs) match no filter chain",
                    s.gw.namespace(),
                    s.gw.name(),
                    s.number,
                    s.protocol,
                    s.hosts.join(", ")
                ),
            )
            .var("port", s.number.to_string())
            .var("service", host.clone())
            .patch(format!(
                "curl --resolve {shown_host}:{}:<gateway-ip> https://{shown_host}/   # sends SNI {shown_host}, as DNS would",
                s.number,
            )),
        );
        let terminates = matches!(
            s.tls_mode
                .as_deref()
                .map(str::to_ascii_uppercase)
                .as_deref(),
            None | Some("SIMPLE" | "MUTUAL" | "OPTIONAL_MUTUAL")
        );
        if !terminates {
            continue;
        }
        let sel = gw_selector(s.gw);
        if sel.is_empty() {
            continue;
        }
        for svc in ix.of_kind("Service") {
            let ssel =
                Selector::from_map(svc.value.pointer("/spec/selector").unwrap_or(&Value::Null));
            if ssel.is_empty() || !(sel.is_subset_of(&ssel) || ssel.is_subset_of(&sel)) {
                continue;
            }
            let Some((why, patch)) = lb_reencrypts_without_sni(ix, svc) else {
                continue;
            };
            out.push(
                Fact::new(
                    "gateway-sni-not-forwarded",
                    s.gw.at(format!("spec.servers[{}].hosts", s.index)),
                    format!(
                        "Gateway {}/{} port {} ({}) matches only SNI {}, but {why}, and such load balancers send no SNI: every request through it fails with filter_chain_not_found",
                        s.gw.namespace(),
                        s.gw.name(),
                        s.number,
                        s.protocol,
                        s.hosts.join(", ")
                    ),
                )
                .var("port", s.number.to_string())
                .var("service", host.clone())
                .related(svc.origin.clone())
                .patch(patch),
            );
            break;
        }
    }
}

fn envoyfilters(ix: &Index, out: &mut Vec<Fact>) {
    for ef in ix.of_kind("EnvoyFilter") {
        let priority = ef
            .value
            .pointer("/spec/priority")
            .and_then(int)
            .unwrap_or(0);
        if priority != 0 {
            continue;
        }
        let patches = ef
            .value
            .pointer("/spec/configPatches")
            .and_then(|p| p.as_array())
            .map(|a| a.as_slice())
            .unwrap_or(&[]);
        let hit = patches.iter().enumerate().find(|(_, p)| {
            matches!(
                p.pointer("/patch/operation").and_then(|o| o.as_str()),
                Some("INSERT_BEFORE" | "INSERT_AFTER" | "REPLACE")
            )
        });
        let Some((i, p)) = hit else { continue };
        let op = p
            .pointer("/patch/operation")
            .and_then(|o| o.as_str())
            .unwrap_or("");
        let version = p
            .pointer("/match/proxy/proxyVersion")
            .and_then(|v| v.as_str());
        let mut f = Fact::new(
            "envoyfilter-relative-without-priority",
            ef.at(format!("spec.configPatches[{i}].patch.operation")),
            format!(
                "EnvoyFilter {}/{} uses {op} relative to another filter without a priority; if that filter is newer or replaced on upgrade the patch is silently dropped{}",
                ef.namespace(),
                ef.name(),
                version
                    .map(|v| format!(" (it also matches proxyVersion {v}, so it breaks on the next upgrade)"))
                    .unwrap_or_default()
            ),
        )
        .patch(format!(
            "# EnvoyFilter {}/{}\nspec:\n  priority: 10   # or use operation: INSERT_FIRST",
            ef.namespace(),
            ef.name()
        ));
        if let Some(v) = version {
            f = f.var("proxy_version", v);
        }
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::manifests::load_str;

    fn run(yaml: &str) -> Vec<Fact> {
        run_assuming(yaml, None)
    }

    fn run_assuming(yaml: &str, mesh: Option<crate::facts::AssumedMesh>) -> Vec<Fact> {
        let set = load_str(yaml, "t.yaml", "default").unwrap();
        let mut ix = Index::new(&set);
        ix.assumed_mesh = mesh;
        let mut out = Vec::new();
        facts(&ix, &mut out);
        out
    }

    fn names(f: &[Fact]) -> Vec<&str> {
        f.iter().map(|f| f.name).collect()
    }

    fn corpus(name: &str) -> Option<String> {
        std::fs::read_to_string(format!(
            "/work/shared/corpus/istio/manifests/istio-repo/analyzer-testdata/{name}"
        ))
        .ok()
    }

    /// The subjects (`Kind ns/name`) of facts with this name.
    fn subjects(f: &[Fact], name: &str) -> Vec<String> {
        f.iter()
            .filter(|f| f.name == name)
            .map(|f| {
                format!(
                    "{} {}/{}",
                    f.subject.kind,
                    f.subject.namespace.as_deref().unwrap_or(""),
                    f.subject.name
                )
            })
            .collect()
    }

    #[test]
    fn port_protocol_follows_istio_protocol_selection() {
        assert_eq!(port_protocol(Some("http-web"), None), Some("HTTP"));
        assert_eq!(port_protocol(Some("HTTP2"), None), Some("HTTP2"));
        assert_eq!(port_protocol(Some("grpc-web-x"), None), Some("GRPC-Web"));
        assert_eq!(port_protocol(Some("httpx"), None), None);
        assert_eq!(port_protocol(Some("web"), Some("http")), Some("HTTP"));
        assert_eq!(
            port_protocol(None, Some("kubernetes.io/h2c")),
            Some("HTTP2")
        );
        assert_eq!(port_protocol(None, None), None);
    }

    #[test]
    fn hosts_match_with_wildcards_and_short_names_expand() {
        assert!(hosts_intersect("*.example.com", "a.example.com"));
        assert!(hosts_intersect("*", "x"));
        assert!(!hosts_intersect("a.example.com", "b.example.com"));
        assert_eq!(
            fqdn("ratings", "default"),
            "ratings.default.svc.cluster.local"
        );
    }

    #[test]
    fn istio_analyzer_service_no_port_name_is_reported_for_each_port_like_istioctl() {
        let Some(t) = corpus("service-no-port-name.yaml") else {
            return;
        };
        // istioctl judges every namespace; meshdoc needs to know the
        // namespaces are meshed, so label them as an injected cluster would.
        let t = format!(
            "{t}\n---\nkind: Namespace\nmetadata: {{name: my-namespace1, labels: {{istio-injection: enabled}}}}\n---\nkind: Namespace\nmetadata: {{name: my-namespace2, labels: {{istio-injection: enabled}}}}\n"
        );
        let f = run(&t);
        assert_eq!(
            subjects(&f, "service-port-unnamed-or-unprefixed"),
            [
                "Service my-namespace1/my-service1",
                "Service my-namespace1/my-service1",
                "Service my-namespace2/my-service2"
            ]
        );
        let Some(ok) = corpus("service-port-name.yaml") else {
            return;
        };
        assert!(subjects(&run(&ok), "service-port-unnamed-or-unprefixed").is_empty());
    }

    #[test]
    fn a_service_in_a_namespace_without_istio_is_not_judged() {
        let y = "kind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80}]}\n";
        assert!(run(y).is_empty());
    }

    #[test]
    fn a_headless_http_service_is_judged_only_with_istio_evidence_or_mesh_istio() {
        let Ok(t) = std::fs::read_to_string(
            "/work/shared/corpus/istio/manifests/istio-io-headless-nginx-503-UC.yaml",
        ) else {
            return;
        };
        // Plain app manifests say nothing about Istio (Linkerd's demos
        // ship headless gRPC Services like this).
        assert!(run(&t).is_empty());
        let istio = Some(crate::facts::AssumedMesh::Istio);
        assert_eq!(
            names(&run_assuming(&t, istio)),
            ["headless-service-http-port"]
        );
        let linkerd = t.replace(
            "    spec:\n      containers:",
            "      annotations: {linkerd.io/inject: enabled}\n    spec:\n      containers:",
        );
        assert!(run_assuming(&linkerd, istio).is_empty(), "{linkerd}");
    }

    #[test]
    fn the_istio_headless_nginx_example_is_reported() {
        let Ok(t) = std::fs::read_to_string(
            "/work/shared/corpus/istio/manifests/istio-io-headless-nginx-503-UC.yaml",
        ) else {
            return;
        };
        let t = format!(
            "{t}\n---\nkind: Namespace\nmetadata: {{name: default, labels: {{istio-injection: enabled}}}}\n"
        );
        let f = run(&t);
        assert_eq!(names(&f), ["headless-service-http-port"]);
        assert!(
            f[0].patch
                .as_deref()
                .unwrap_or("")
                .contains("name: tcp-web")
        );
    }

    const STRICT: &str = "
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v1, namespace: bookinfo}
spec:
  template:
    metadata: {labels: {app: reviews, version: v1}}
    spec: {containers: [{name: reviews, ports: [{containerPort: 9080}]}]}
---
";

    #[test]
    fn a_destination_rule_disabling_tls_under_mesh_wide_strict_is_reported() {
        let dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: bookinfo}\nspec:\n  host: reviews\n  trafficPolicy:\n    tls: {mode: DISABLE}\n";
        let f = run(&format!("{STRICT}{dr}"));
        assert_eq!(
            subjects(&f, "dr-tls-disables-mtls-under-strict"),
            ["DestinationRule bookinfo/reviews"]
        );
        let x = f
            .iter()
            .find(|f| f.name == "dr-tls-disables-mtls-under-strict")
            .cloned();
        let x = x.unwrap_or_else(|| f[0].clone());
        assert_eq!(
            x.subject.field.as_deref(),
            Some("spec.trafficPolicy.tls.mode")
        );
        assert!(
            x.patch
                .as_deref()
                .unwrap_or("")
                .contains("mode: ISTIO_MUTUAL")
        );
        // ISTIO_MUTUAL, or no tls at all under auto mTLS, is fine.
        assert!(
            subjects(
                &run(&format!(
                    "{STRICT}{}",
                    dr.replace("DISABLE", "ISTIO_MUTUAL")
                )),
                "dr-tls-disables-mtls-under-strict"
            )
            .is_empty()
        );
        let no_tls = dr.replace(
            "  trafficPolicy:\n    tls: {mode: DISABLE}\n",
            "  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n",
        );
        assert!(
            subjects(
                &run(&format!("{STRICT}{no_tls}")),
                "dr-tls-disables-mtls-under-strict"
            )
            .is_empty()
        );
    }

    #[test]
    fn a_workload_permissive_policy_overrides_mesh_strict() {
        let dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: bookinfo}\nspec:\n  host: reviews.bookinfo.svc.cluster.local\n  trafficPolicy:\n    tls: {mode: DISABLE}\n";
        let pa = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: reviews, namespace: bookinfo}\nspec:\n  selector: {matchLabels: {app: reviews}}\n  mtls: {mode: PERMISSIVE}\n---\n";
        assert!(
            subjects(
                &run(&format!("{STRICT}{pa}{dr}")),
                "dr-tls-disables-mtls-under-strict"
            )
            .is_empty()
        );
    }

    #[test]
    fn istio_integration_dr_disable_under_strict_fixtures() {
        for (file, fires) in [
            ("automtls-partial-sidecar-dr-disable.yaml", true),
            ("automtls-partial-sidecar-dr-mutual.yaml", false),
        ] {
            let Ok(t) = std::fs::read_to_string(format!(
                "/work/shared/corpus/istio/manifests/istio-repo/integration-testdata/{file}"
            )) else {
                continue;
            };
            let f = run(&t);
            let got = !subjects(&f, "dr-tls-disables-mtls-under-strict").is_empty();
            // These fixtures carry their own PeerAuthentication only when
            // they test STRICT; without one nothing can be judged.
            if t.contains("STRICT") {
                assert_eq!(got, fires, "{file}");
            }
        }
    }

    #[test]
    fn the_istio_gateway_tls_mismatch_examples_are_reported() {
        for (file, fact) in [
            (
                "istio-io-gateway-simple-vs-tls-mismatch-404.yaml",
                "gateway-simple-tls-with-tls-routes",
            ),
            (
                "istio-io-gateway-passthrough-vs-http-mismatch.yaml",
                "gateway-passthrough-with-http-routes",
            ),
        ] {
            let Ok(t) =
                std::fs::read_to_string(format!("/work/shared/corpus/istio/manifests/{file}"))
            else {
                continue;
            };
            let f = run(&t);
            assert_eq!(subjects(&f, fact).len(), 1, "{file}: {:?}", names(&f));
        }
    }

    #[test]
    fn terminated_tls_with_http_routes_is_fine() {
        let y = "
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ['*']
    tls: {mode: SIMPLE, credentialName: c}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs}
spec:
  hosts: ['a.example.com']
  gateways: [gw]
  http: [{route: [{destination: {host: a}}]}]
";
        let f = run(y);
        assert!(subjects(&f, "gateway-simple-tls-with-tls-routes").is_empty());
        assert!(subjects(&f, "gateway-passthrough-with-http-routes").is_empty());
    }

    #[test]
    fn the_istio_double_tls_and_https_on_http_port_examples_are_reported() {
        if let Ok(t) = std::fs::read_to_string(
            "/work/shared/corpus/istio/manifests/istio-io-double-tls-serviceentry-https-dr-simple.yaml",
        ) {
            assert_eq!(
                subjects(&run(&t), "dr-originates-tls-to-https-serviceentry").len(),
                1
            );
        }
        if let Ok(t) = std::fs::read_to_string(
            "/work/shared/corpus/istio/manifests/istio-io-serviceentry-http-on-443-DPE.yaml",
        ) {
            assert_eq!(
                subjects(&run(&t), "serviceentry-https-declared-http").len(),
                1
            );
        }
    }

    #[test]
    fn http_on_443_with_tls_origination_is_intended() {
        let y = "
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin}
spec:
  hosts: [httpbin.org]
  ports: [{number: 443, name: http, protocol: HTTP}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: originate-tls}
spec:
  host: httpbin.org
  trafficPolicy: {tls: {mode: SIMPLE}}
";
        assert!(run(y).is_empty(), "{:?}", names(&run(y)));
    }

    #[test]
    fn istio_analyzer_gateway_duplicate_certificate_matches_istioctl() {
        let Some(t) = corpus("gateway-duplicate-certificate.yaml") else {
            return;
        };
        let mut got = subjects(&run(&t), "gateways-share-certificate");
        got.sort();
        assert_eq!(
            got,
            [
                "Gateway default/gateway-01-test-03",
                "Gateway istio-system/gateway-01-test-01",
                "Gateway istio-system/gateway-01-test-02",
                "Gateway istio-system/gateway-02-test-01",
            ]
        );
    }

    #[test]
    fn istio_analyzer_relative_envoy_filters_match_istioctl() {
        let Some(t) = corpus("relative-envoy-filter-operation.yaml") else {
            return;
        };
        let f = run(&t);
        assert_eq!(
            subjects(&f, "envoyfilter-relative-without-priority"),
            [
                "EnvoyFilter bookinfo/test-relative-1",
                "EnvoyFilter bookinfo/test-relative-2",
                "EnvoyFilter bookinfo/test-relative-3"
            ]
        );
        assert!(f.iter().any(|f| f.vars.contains_key("proxy_version")));
        let Some(ok) = corpus("absolute-envoy-filter-operation.yaml") else {
            return;
        };
        assert!(subjects(&run(&ok), "envoyfilter-relative-without-priority").is_empty());
    }

    #[test]
    fn istio_analyzer_conflicting_gateways_are_a_port_conflict() {
        let Some(t) = corpus("conflicting-gateways.yaml") else {
            return;
        };
        let mut got = subjects(&run(&t), "gateways-port-conflict");
        got.sort();
        assert_eq!(got, ["Gateway default/alpha", "Gateway default/beta"]);
    }

    #[test]
    fn istio_analyzer_ingress_route_rules_not_affected_matches_istioctl() {
        let Some(t) = corpus("virtualservice_route_rule_no_effects_ingress.yaml") else {
            return;
        };
        assert_eq!(
            subjects(&run(&t), "gateway-vs-skips-mesh-subset"),
            ["VirtualService default/testing-service-01-test-01"]
        );
    }

    #[test]
    fn a_subset_selecting_no_pod_of_its_service_is_reported() {
        let Some(t) = corpus("destinationrule-subsets-not-select-pods.yaml") else {
            return;
        };
        // istioctl judges against the live cluster; meshdoc needs the
        // workloads in the set to judge, so add the httpbin Deployment.
        let t = format!(
            "{t}\n---\nkind: Deployment\nmetadata: {{name: httpbin, namespace: default}}\nspec:\n  template:\n    metadata: {{labels: {{app: httpbin, version: v1}}}}\n    spec: {{containers: [{{name: httpbin}}]}}\n"
        );
        assert_eq!(
            subjects(&run(&t), "dr-subset-selects-no-pods"),
            ["DestinationRule default/subsets-not-select-pods"]
        );
        assert!(
            subjects(
                &run(&t.replace("version: v3", "version: v1")),
                "dr-subset-selects-no-pods"
            )
            .is_empty()
        );
    }

    #[test]
    fn an_https_server_with_specific_hosts_requires_sni() {
        let Ok(t) = std::fs::read_to_string(
            "/work/shared/corpus/istio/manifests/issue-41380-gateway-simple-specific-host.yaml",
        ) else {
            return;
        };
        // The issue pasted only the spec; give it its head back.
        let t = format!(
            "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{name: httpbin-gateway}}\n{t}"
        );
        assert_eq!(
            subjects(&run(&t), "gateway-tls-requires-sni"),
            ["Gateway default/httpbin-gateway"]
        );
        assert!(
            subjects(
                &run(&t.replace("- httpbin.example.com", "- \"*\"")),
                "gateway-tls-requires-sni"
            )
            .is_empty()
        );
    }

    const SECURE_GW: &str = "
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: mygateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    tls: {mode: SIMPLE, credentialName: httpbin-credential}
    hosts: [httpbin.example.com]
";

    #[test]
    fn a_single_host_simple_gateway_only_requires_sni_unless_a_load_balancer_drops_it() {
        // Istio's secure-gateways task: the norm, evidence only.
        assert_eq!(names(&run(SECURE_GW)), ["gateway-tls-requires-sni"]);
        let f = run(SECURE_GW);
        assert!(!f[0].patch.as_deref().unwrap_or("").contains("\"*\""));
        let aws = format!(
            "{SECURE_GW}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: istio-ingressgateway\n  namespace: istio-system\n  annotations:\n    service.beta.kubernetes.io/aws-load-balancer-backend-protocol: ssl\nspec:\n  type: LoadBalancer\n  selector: {{app: istio-ingressgateway, istio: ingressgateway}}\n  ports: [{{name: https, port: 443, targetPort: 8443}}]\n"
        );
        let f = run(&aws);
        assert_eq!(
            names(&f),
            ["gateway-tls-requires-sni", "gateway-sni-not-forwarded"]
        );
        assert!(f[1].patch.as_deref().unwrap_or("").contains(
            "kubectl annotate service istio-ingressgateway -n istio-system service.beta.kubernetes.io/aws-load-balancer-ssl-cert-"
        ));
        // An ALB Ingress re-encrypting to the gateway Service.
        let alb = format!(
            "{SECURE_GW}---\napiVersion: v1\nkind: Service\nmetadata: {{name: gw, namespace: default}}\nspec:\n  selector: {{istio: ingressgateway}}\n  ports: [{{port: 443}}]\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: default\n  annotations: {{alb.ingress.kubernetes.io/backend-protocol: HTTPS}}\nspec:\n  rules:\n  - http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend: {{service: {{name: gw, port: {{number: 443}}}}}}\n"
        );
        assert!(names(&run(&alb)).contains(&"gateway-sni-not-forwarded"));
        // PASSTHROUGH: the client's own TLS reaches the gateway.
        let pt = aws.replace(
            "mode: SIMPLE, credentialName: httpbin-credential",
            "mode: PASSTHROUGH",
        );
        assert_eq!(names(&run(&pt)), ["gateway-tls-requires-sni"]);
    }

    #[test]
    fn the_same_gateway_redefined_in_another_file_does_not_conflict_with_itself() {
        let mut set = load_str(SECURE_GW, "step1.yaml", "default").unwrap();
        let step2 = SECURE_GW.replace("name: https,", "name: https-httpbin,");
        crate::collect::manifests::load_into(&mut set, &step2, "step2.yaml", "default").unwrap();
        let ix = Index::new(&set);
        let mut out = Vec::new();
        facts(&ix, &mut out);
        assert!(
            !names(&out).contains(&"gateways-port-conflict")
                && !names(&out).contains(&"gateways-share-certificate"),
            "{:?}",
            names(&out)
        );
    }

    #[test]
    fn tls_origination_for_plain_http_routed_to_an_https_serviceentry_port_is_not_double_tls() {
        let se_dr = "
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: cnn}
spec:
  hosts: [edition.cnn.com]
  ports: [{number: 443, name: https, protocol: HTTPS}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: originate}
spec:
  host: edition.cnn.com
  trafficPolicy:
    portLevelSettings:
    - port: {number: 443}
      tls: {mode: SIMPLE}
";
        assert_eq!(
            names(&run(se_dr)),
            ["dr-originates-tls-to-https-serviceentry"]
        );
        let routed = format!(
            "{se_dr}---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs}}\nspec:\n  hosts: [edition.cnn.com]\n  gateways: [gw]\n  http:\n  - route:\n    - destination: {{host: edition.cnn.com, port: {{number: 443}}}}\n"
        );
        assert!(run(&routed).is_empty(), "{:?}", names(&run(&routed)));
    }
}
