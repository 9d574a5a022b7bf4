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

fn ports(ix: &Index, out: &mut Vec<Fact>) {
    // (pod-like index, container port) already judged through a Service.
    let mut covered: std::collections::HashSet<(usize, i64)> = std::collections::HashSet::new();
    for svc in ix.of_kind("Service") {
        let Some(pods) = ix.service_pods(svc) else {
            continue;
        };
        let meshed_pods: Vec<usize> = pods
            .into_iter()
            .filter(|&i| meshed(ix, &ix.pods[i]))
            .collect();
        let Some(&first) = meshed_pods.first() else {
            continue;
        };
        for (spi, sp) in service_ports(svc).iter().enumerate() {
            if sp.get("protocol").and_then(|p| p.as_str()).unwrap_or("TCP") != "TCP" {
                continue;
            }
            let Some(port) = sp.get("port").and_then(int) else {
                continue;
            };
            let ap = sp.get("appProtocol").and_then(|a| a.as_str());
            let pname = sp.get("name").and_then(|n| n.as_str());
            let p = &ix.pods[first];
            let Some(target) = target_port(sp, p) else {
                continue;
            };
            for &pi in &meshed_pods {
                if let Some(t) = target_port(sp, &ix.pods[pi]) {
                    covered.insert((pi, t));
                }
            }
            let (pod_set, pod_src) = pod_opaque(ix, p);
            let pod_op = pod_set.contains(target);
            let svc_op = service_opaque(ix, svc, port) || opaque_app_protocol(ap);
            let skipped = p
                .annotation("config.linkerd.io/skip-inbound-ports")
                .is_some_and(|s| PortSet::parse(s, Some(p)).contains(target));
            let cport_name = p
                .ports()
                .into_iter()
                .find(|c| c.port == target)
                .and_then(|c| c.name);
            let ssf = server_speaks_first(target, cport_name)
                .or_else(|| server_speaks_first(port, pname))
                .or_else(|| server_speaks_first(-1, ap));
            let svc_ref = svc.at(format!("spec.ports[{spi}]"));
            if let Some(proto) = ssf
                && !pod_op
                && !svc_op
                && !skipped
            {
                out.push(
                        Fact::new(
                            "server-speaks-first-port-not-opaque",
                            svc_ref.clone(),
                            format!(
                                "Service {}/{} port {port} → {} port {target} is {proto} (server speaks first) \
                                 but is not opaque (opaque ports from {pod_src}: {}), so every connection waits 10s in protocol detection",
                                svc.namespace(),
                                svc.name(),
                                p.display(),
                                fmt_set(&pod_set)
                            ),
                        )
                        .var("service", svc.name())
                        .var("port", port.to_string())
                        .var("deployment", p.obj.name())
                        .related(p.obj.origin.clone())
                        .patch(format!(
                            "# Service {} spec.ports[{spi}]\n- port: {port}\n  appProtocol: tcp\n# or on {} spec.template.metadata:\n{}",
                            svc.name(),
                            p.display(),
                            opaque_patch(p.annotation(OPAQUE_ANN).unwrap_or(""), target, "pod template")
                                .lines()
                                .skip(1)
                                .collect::<Vec<_>>()
                                .join("\n")
                        )),
                    );
            }
            // Only pod-opaque/Service-plain breaks: clients then skip the
            // opaque transport the server proxy expects. The reverse
            // (`appProtocol: tcp` on the Service) is seed 002's documented fix.
            if pod_op && !svc_op && !skipped {
                let opaque_side = format!("{} port {target}", p.display());
                let plain_side = format!("Service port {port}");
                let patch = format!(
                    "# Service {}/{} spec.ports[{spi}]\n- port: {port}\n  appProtocol: linkerd.io/opaque",
                    svc.namespace(),
                    svc.name()
                );
                out.push(
                    Fact::new(
                        "opaque-ports-mismatch",
                        svc_ref,
                        format!(
                            "{opaque_side} is opaque but {plain_side} is not (Service {}/{}): the two proxies disagree on the protocol",
                            svc.namespace(),
                            svc.name()
                        ),
                    )
                    .var("service", svc.name())
                    .var("port", port.to_string())
                    .var("deployment", p.obj.name())
                    .related(p.obj.origin.clone())
                    .patch(patch),
                );
            }
        }
    }
    // Server-speaks-first container ports no Service fronts (clients dial
    // pod IPs or a headless name).
    for (pi, p) in ix.pods.iter().enumerate() {
        if !meshed(ix, p) {
            continue;
        }
        let (set, src) = pod_opaque(ix, p);
        let skip = p
            .annotation("config.linkerd.io/skip-inbound-ports")
            .map(|s| PortSet::parse(s, Some(p)))
            .unwrap_or_default();
        for cp in p.ports() {
            if cp.container == "linkerd-proxy" || cp.protocol != "TCP" {
                continue;
            }
            if covered.contains(&(pi, cp.port)) || set.contains(cp.port) || skip.contains(cp.port) {
                continue;
            }
            let Some(proto) = server_speaks_first(cp.port, cp.name) else {
                continue;
            };
            out.push(
                Fact::new(
                    "server-speaks-first-port-not-opaque",
                    p.obj.at(&cp.path),
                    format!(
                        "{} container {} port {} is {proto} (server speaks first) but is not opaque (opaque ports from {src}: {}), so every connection waits 10s in protocol detection",
                        p.display(),
                        cp.container,
                        cp.port,
                        fmt_set(&set)
                    ),
                )
                .var("port", cp.port.to_string())
                .var("deployment", p.obj.name())
                .patch(opaque_patch(
                    p.annotation(OPAQUE_ANN).unwrap_or(""),
                    cp.port,
                    &format!("{} {}", p.display(), p.field("metadata")),
                )),
            );
        }
    }
}

fn fmt_set(s: &PortSet) -> String {
    s.0.iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `web.ns.svc.cluster.local` → (`web`, `ns`).
pub fn split_fqdn(host: &str) -> Option<(&str, &str)> {
    let mut it = host.split('.');
    let name = it.next()?;
    let ns = it.next()?;
    (it.next() == Some("svc")).then_some((name, ns))
}

fn serviceprofile_vs_httproute(ix: &Index, out: &mut Vec<Fact>) {
    if !ix.has_kind("ServiceProfile") || !ix.has_kind("HTTPRoute") {
        return;
    }
    for sp in ix.of_kind("ServiceProfile") {
        let Some((svc, ns)) = split_fqdn(sp.name()) else {
            continue;
        };
        let spec = sp.spec();
        let nonempty = |k: &str| {
            spec.get(k)
                .and_then(|v| v.as_array())
                .is_some_and(|a| !a.is_empty())
        };
        let (routes, split) = (nonempty("routes"), nonempty("dstOverrides"));
        if !routes && !split {
            continue;
        }
        for hr in ix.of_kind("HTTPRoute") {
            let parents = hr
                .value
                .pointer("/spec/parentRefs")
                .and_then(|p| p.as_array())
                .map(|a| a.as_slice())
                .unwrap_or(&[]);
            let hit = parents.iter().position(|p| {
                let kind = p.get("kind").and_then(|k| k.as_str()).unwrap_or("Gateway");
                let group = p.get("group").and_then(|k| k.as_str()).unwrap_or("");
                let pns = p
                    .get("namespace")
                    .and_then(|k| k.as_str())
                    .unwrap_or(hr.namespace());
                kind == "Service"
                    && (group.is_empty() || group == "core")
                    && p.get("name").and_then(|n| n.as_str()) == Some(svc)
                    && pns == ns
            });
            let Some(pi) = hit else { continue };
            let what = match (routes, split) {
                (true, true) => "routes and a traffic split (dstOverrides)",
                (true, false) => "routes",
                _ => "a traffic split (dstOverrides)",
            };
            let mut f = Fact::new(
                "serviceprofile-and-httproute-same-service",
                sp.at(if routes { "spec.routes" } else { "spec.dstOverrides" }),
                format!(
                    "ServiceProfile {}/{} defines {what} for Service {ns}/{svc}, which HTTPRoute {}/{} also targets; proxies that saw the ServiceProfile keep using it",
                    sp.namespace(),
                    sp.name(),
                    hr.namespace(),
                    hr.name()
                ),
            )
            .var("service", svc)
            .related(hr.at(format!("spec.parentRefs[{pi}]")))
            .patch(format!(
                "kubectl delete serviceprofile -n {} {}   # then restart the clients: kubectl rollout restart deploy -n <client-ns>",
                sp.namespace(),
                sp.name()
            ));
            f.vars.insert("namespace".into(), ns.to_string());
            if let Some(s) = ix.service(ns, svc) {
                f = f.related(s.origin.clone());
            }
            out.push(f);
        }
    }
}

fn is_injector(name: &str) -> bool {
    name.contains("linkerd-proxy-injector")
}

fn cert_fact(
    expired_name: &'static str,
    soon_name: &'static str,
    what: &str,
    c: &CertInfo,
    exp: Expiry,
    subject: super::ObjRef,
    patch: &str,
) -> Option<Fact> {
    let when = c.not_after_rfc3339();
    let (name, msg) = match exp {
        Expiry::Expired => (
            expired_name,
            format!("{what} ({}) expired at {when}", c.subject),
        ),
        Expiry::Soon => (
            soon_name,
            format!("{what} ({}) expires at {when}", c.subject),
        ),
        Expiry::Valid => return None,
    };
    Some(
        Fact::new(name, subject, msg)
            .var("expires", when)
            .patch(patch.to_string()),
    )
}

const ROTATE_INJECTOR: &str = "# rotate the webhook certificate (cert-manager, or re-render and apply):\nlinkerd upgrade | kubectl apply -f -\n# then restart the injector: kubectl rollout restart deploy/linkerd-proxy-injector -n linkerd";

fn webhook(ix: &Index, opts: &FactOptions, out: &mut Vec<Fact>) {
    for w in ix.of_kind("MutatingWebhookConfiguration") {
        let hooks = w
            .value
            .get("webhooks")
            .and_then(|h| h.as_array())
            .map(|a| a.as_slice())
            .unwrap_or(&[]);
        let v1beta1 = w.api_version().ends_with("v1beta1");
        for (i, h) in hooks.iter().enumerate() {
            let hname = h.get("name").and_then(|n| n.as_str()).unwrap_or("");
            if !is_injector(hname) && !is_injector(w.name()) {
                continue;
            }
            if let Some(b) = h.pointer("/clientConfig/caBundle").and_then(|b| b.as_str()) {
                // Placeholder bundles (install goldens) are not certificates:
                // nothing to judge.
                if let Ok(certs) = certs::parse_b64_pem(b)
                    && let Some(c) = certs::earliest(&certs)
                {
                    let exp = c.expiry(opts.now, opts.cert_warn);
                    if let Some(f) = cert_fact(
                        "injector-webhook-cert-expired",
                        "injector-webhook-cert-expiring",
                        &format!("The caBundle of webhook {hname} in {}", w.name()),
                        c,
                        exp,
                        w.at(format!("webhooks[{i}].clientConfig.caBundle")),
                        ROTATE_INJECTOR,
                    ) {
                        out.push(f);
                    }
                }
            }
            let policy = h.get("failurePolicy").and_then(|p| p.as_str());
            // admissionregistration/v1 defaults to Fail, v1beta1 to Ignore.
            if policy == Some("Ignore") || (policy.is_none() && v1beta1) {
                out.push(
                    Fact::new(
                        "injector-webhook-fails-open",
                        w.at(format!("webhooks[{i}].failurePolicy")),
                        format!(
                            "Webhook {hname} in {} has failurePolicy Ignore: if the injector fails (expired certificate, injector down) pods start without linkerd-proxy",
                            w.name()
                        ),
                    )
                    .patch(format!(
                        "# {} webhooks[{i}]\nfailurePolicy: Fail\n# Helm: --set webhookFailurePolicy=Fail",
                        w.name()
                    )),
                );
            }
        }
    }
    for s in ix.of_kind("Secret") {
        if !is_injector(s.name()) {
            continue;
        }
        let Some(crt) = s.value.pointer("/data/tls.crt").and_then(|c| c.as_str()) else {
            continue;
        };
        if let Ok(certs) = certs::parse_b64_pem(crt)
            && let Some(c) = certs::earliest(&certs)
            && let Some(f) = cert_fact(
                "injector-webhook-cert-expired",
                "injector-webhook-cert-expiring",
                &format!(
                    "The proxy-injector certificate in Secret {}/{}",
                    s.namespace(),
                    s.name()
                ),
                c,
                c.expiry(opts.now, opts.cert_warn),
                s.at("data[\"tls.crt\"]"),
                ROTATE_INJECTOR,
            )
        {
            out.push(f);
        }
    }
}

fn trust_anchor(ix: &Index, opts: &FactOptions, out: &mut Vec<Fact>) {
    let mut check = |o: &Object, field: &str, what: String, certs: Vec<CertInfo>| {
        if let Some(c) = certs::earliest(&certs) {
            let exp = c.expiry(opts.now, opts.cert_warn);
            if exp == Expiry::Valid {
                return;
            }
            let verb = if exp == Expiry::Expired {
                "expired at"
            } else {
                "expires at"
            };
            let when = c.not_after_rfc3339();
            out.push(
                Fact::new(
                    "trust-anchor-expired",
                    o.at(field),
                    format!("{what} ({}) {verb} {when}", c.subject),
                )
                .var("expires", when)
                .patch(
                    "# rotate the trust anchor and issuer (https://linkerd.io/2/tasks/manually-rotating-control-plane-tls-credentials/)\nlinkerd check --proxy",
                ),
            );
        }
    };
    for cm in ix.of_kind("ConfigMap") {
        if cm.name() == "linkerd-identity-trust-roots"
            && let Some(pem) = cm
                .value
                .pointer("/data/ca-bundle.crt")
                .and_then(|c| c.as_str())
            && let Ok(c) = certs::parse_pem(pem.as_bytes())
        {
            check(
                cm,
                "data[\"ca-bundle.crt\"]",
                format!(
                    "The Linkerd trust anchor in ConfigMap {}/{}",
                    cm.namespace(),
                    cm.name()
                ),
                c,
            );
        }
    }
    for s in ix.of_kind("Secret") {
        if s.name() != "linkerd-identity-issuer" {
            continue;
        }
        for key in ["crt.pem", "tls.crt"] {
            let ptr = format!("/data/{}", key.replace('/', "~1"));
            if let Some(b) = s.value.pointer(&ptr).and_then(|c| c.as_str())
                && let Ok(c) = certs::parse_b64_pem(b)
            {
                check(
                    s,
                    &format!("data[\"{key}\"]"),
                    format!(
                        "The Linkerd identity issuer certificate in Secret {}/{}",
                        s.namespace(),
                        s.name()
                    ),
                    c,
                );
            }
        }
    }
}

/// Has the API server admitted this Pod (so the injector has had its
/// turn)? A Pod read from a cluster or a bundle carries a status, a uid, a
/// creation time, a node or an owner; a Pod in a manifest carries none of
/// them, and its missing proxy is what injection will add, not a symptom.
fn admitted(p: &PodLike) -> bool {
    let v = &p.obj.value;
    v.get("status").is_some_and(|s| !s.is_null())
        || [
            "/metadata/uid",
            "/metadata/creationTimestamp",
            "/metadata/ownerReferences",
            "/spec/nodeName",
        ]
        .iter()
        .any(|k| v.pointer(k).is_some())
}

fn missing_proxy(ix: &Index, out: &mut Vec<Fact>) {
    for p in ix.pods.iter().filter(|p| p.is_pod()) {
        if p.has_container("linkerd-proxy") || !admitted(p) {
            continue;
        }
        let pod_says = p.annotation(INJECT_ANN);
        let ns_says = ix.namespace_annotation(p.namespace(), INJECT_ANN);
        let wanted = matches!(pod_says, Some("enabled" | "ingress"))
            || (pod_says.is_none() && ns_says == Some("enabled"));
        // The injector skips hostNetwork pods and the control plane itself.
        let host_net = p.spec.get("hostNetwork").and_then(|h| h.as_bool()) == Some(true);
        if !wanted || host_net || p.obj.label("linkerd.io/control-plane-ns").is_some() {
            continue;
        }
        let owner = p.obj.value.pointer("/metadata/ownerReferences/0").map(|o| {
            let kind = o.get("kind").and_then(|k| k.as_str()).unwrap_or("");
            let name = o.get("name").and_then(|k| k.as_str()).unwrap_or("");
            // ReplicaSet web-5d9f8c7b6 → Deployment web.
            if kind == "ReplicaSet" {
                match name.rsplit_once('-') {
                    Some((d, _)) => ("deployment", d.to_string()),
                    None => ("replicaset", name.to_string()),
                }
            } else {
                (if kind.is_empty() { "pod" } else { "" }, name.to_string())
            }
        });
        let source = if pod_says.is_some() {
            "its linkerd.io/inject annotation"
        } else {
            "namespace annotation linkerd.io/inject: enabled"
        };
        let (ns, name) = (p.namespace(), p.obj.name());
        let restart = match &owner {
            Some(("deployment", d)) => format!("kubectl rollout restart deployment/{d} -n {ns}"),
            Some((_, o)) if !o.is_empty() => {
                format!(
                    "kubectl delete pod -n {ns} {name}   # owner {o} recreates it with the proxy"
                )
            }
            _ => format!("kubectl delete pod -n {ns} {name} && kubectl apply -f <manifest>"),
        };
        let mut f = Fact::new(
            "meshed-pod-missing-proxy",
            p.obj.origin.clone(),
            format!("Pod {ns}/{name} should be meshed ({source}) but runs without the linkerd-proxy container"),
        )
        .var("pod", name)
        .patch(format!("linkerd check   # is the proxy-injector healthy and its certificate valid?\n{restart}"));
        if let Some(("deployment", d)) = &owner {
            f = f.var("deployment", d.clone());
        }
        for w in ix.of_kind("MutatingWebhookConfiguration") {
            if is_injector(w.name()) {
                f = f.related(w.origin.clone());
            }
        }
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::manifests::load_str;
    use crate::facts::ObjectSet;

    fn run(yaml: &str) -> Vec<Fact> {
        let set = load_str(yaml, "t.yaml", "default").unwrap();
        run_set(&set)
    }

    fn run_set(set: &ObjectSet) -> Vec<Fact> {
        let ix = Index::new(set);
        let mut out = Vec::new();
        let opts = FactOptions {
            now: crate::rules::examples::example_now(),
            ..FactOptions::default()
        };
        facts(&ix, &opts, &mut out);
        out
    }

    fn names(f: &[Fact]) -> Vec<&str> {
        f.iter().map(|f| f.name).collect()
    }

    fn nats(ann: &str, app_protocol: &str) -> String {
        format!(
            "
apiVersion: apps/v1
kind: Deployment
metadata: {{name: nats, namespace: nats-system}}
spec:
  selector: {{matchLabels: {{app: nats}}}}
  template:
    metadata:
      labels: {{app: nats}}
      annotations:
        linkerd.io/inject: enabled
        {ann}
    spec:
      containers:
      - name: nats
        ports: [{{containerPort: 4222, name: client}}]
---
apiVersion: v1
kind: Service
metadata: {{name: nats, namespace: nats-system}}
spec:
  selector: {{app: nats}}
  ports:
  - name: nats
    port: 4222
    targetPort: client
    {app_protocol}
"
        )
    }

    #[test]
    fn a_meshed_nats_port_without_opaque_marking_stalls_in_detection() {
        let f = run(&nats("", ""));
        assert_eq!(names(&f), ["server-speaks-first-port-not-opaque"]);
        assert_eq!(f[0].subject.kind, "Service");
        assert_eq!(f[0].subject.field.as_deref(), Some("spec.ports[0]"));
        assert_eq!(f[0].vars["port"], "4222");
        assert!(
            f[0].patch
                .as_deref()
                .unwrap_or("")
                .contains("appProtocol: tcp")
        );
    }

    #[test]
    fn app_protocol_tcp_on_the_service_as_in_the_linkerd_guide_is_enough() {
        // Seed 002's fix: `appProtocol: tcp` on the Service port.
        let f = run(&nats("", "appProtocol: tcp"));
        assert!(
            f.is_empty(),
            "{:?}",
            f.iter().map(|f| &f.message).collect::<Vec<_>>()
        );
    }

    #[test]
    fn opaque_on_the_pod_but_not_on_the_service_is_a_mismatch() {
        let f = run(&nats("config.linkerd.io/opaque-ports: \"4222\"", ""));
        assert_eq!(names(&f), ["opaque-ports-mismatch"]);
        assert!(
            f[0].message.contains("Deployment nats port 4222 is opaque"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn opaque_on_both_sides_raises_nothing() {
        let y = nats("config.linkerd.io/opaque-ports: \"client\"", "").replace(
            "metadata: {name: nats, namespace: nats-system}\nspec:\n  selector: {app: nats}",
            "metadata: {name: nats, namespace: nats-system, annotations: {config.linkerd.io/opaque-ports: \"4222\"}}\nspec:\n  selector: {app: nats}",
        );
        assert!(run(&y).is_empty(), "{:?}", names(&run(&y)));
    }

    #[test]
    fn mysql_on_3306_is_opaque_by_default() {
        let y = nats("", "").replace("4222", "3306");
        assert!(run(&y).is_empty());
    }

    #[test]
    fn an_unmeshed_workload_is_not_judged() {
        assert!(run(&nats("", "").replace("linkerd.io/inject: enabled", "x: y")).is_empty());
    }

    #[test]
    fn namespace_injection_meshes_the_pod_and_a_pod_annotation_can_opt_out() {
        let ns = "---\nkind: Namespace\napiVersion: v1\nmetadata: {name: nats-system, annotations: {linkerd.io/inject: enabled}}\n";
        let y = nats("", "").replace("linkerd.io/inject: enabled", "x: y") + ns;
        assert_eq!(names(&run(&y)), ["server-speaks-first-port-not-opaque"]);
        let y2 =
            nats("", "").replace("linkerd.io/inject: enabled", "linkerd.io/inject: disabled") + ns;
        assert!(run(&y2).is_empty());
    }

    #[test]
    fn a_server_speaks_first_port_without_a_service_is_reported_on_the_container_port() {
        let y = nats("", "");
        let y = &y[..y.find("---").unwrap_or(y.len())];
        let f = run(y);
        assert_eq!(names(&f), ["server-speaks-first-port-not-opaque"]);
        assert_eq!(
            f[0].subject.field.as_deref(),
            Some("spec.template.spec.containers[0].ports[0]")
        );
    }

    #[test]
    fn opaque_port_ranges_and_names_resolve() {
        let s = PortSet::parse("25, 4000-4100 ,http", None);
        assert!(s.contains(25) && s.contains(4050) && !s.contains(4101) && !s.contains(80));
    }

    #[test]
    fn the_linkerd_opaque_ports_test_application_is_consistent() {
        let text = std::fs::read_to_string(
            "/work/shared/corpus/linkerd/manifests/linkerd2-test__integration__deep__opaqueports__testdata__opaque_ports_application.yaml",
        );
        let Ok(text) = text else { return };
        let set = load_str(&text, "opaque.yaml", "default").unwrap();
        let f = run_set(&set);
        // The test app marks its opaque ports on purpose on pod and Service.
        for x in &f {
            assert_ne!(
                x.name, "server-speaks-first-port-not-opaque",
                "{}",
                x.message
            );
        }
    }

    const SP: &str = "
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: web.shop.svc.cluster.local, namespace: shop}
spec:
  routes:
  - name: GET /
    condition: {method: GET, pathRegex: /}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web-canary, namespace: shop}
spec:
  parentRefs:
  - name: web
    kind: Service
    group: core
    port: 80
  rules:
  - backendRefs: [{name: web-canary, port: 80}]
";

    #[test]
    fn a_service_profile_with_routes_and_an_httproute_on_the_same_service_conflict() {
        let f = run(SP);
        assert_eq!(names(&f), ["serviceprofile-and-httproute-same-service"]);
        assert_eq!(f[0].vars["service"], "web");
        assert_eq!(f[0].related[0].kind, "HTTPRoute");
    }

    #[test]
    fn an_httproute_on_another_service_does_not_conflict() {
        assert!(run(&SP.replace("- name: web\n", "- name: api\n")).is_empty());
    }

    fn webhook_yaml(bundle: &str, policy: &str) -> String {
        format!(
            "
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {{name: linkerd-proxy-injector-webhook-config}}
webhooks:
- name: linkerd-proxy-injector.linkerd.io
  clientConfig:
    service: {{name: linkerd-proxy-injector, namespace: linkerd}}
    caBundle: {bundle}
  failurePolicy: {policy}
"
        )
    }

    fn b64(pem: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(pem)
    }

    #[test]
    fn an_expired_injector_ca_bundle_is_reported_with_its_expiry() {
        let f = run(&webhook_yaml(&b64(certs::tests::EXPIRED_PEM), "Fail"));
        assert_eq!(names(&f), ["injector-webhook-cert-expired"]);
        assert_eq!(f[0].vars["expires"], "2025-01-01T00:00:00Z");
        assert_eq!(
            f[0].subject.field.as_deref(),
            Some("webhooks[0].clientConfig.caBundle")
        );
    }

    #[test]
    fn a_bundle_expiring_inside_the_warning_window_is_expiring_not_expired() {
        let pem = include_str!("../../tests/testdata/check/certs/expiring.pem");
        let f = run(&webhook_yaml(&b64(pem), "Fail"));
        assert_eq!(names(&f), ["injector-webhook-cert-expiring"]);
        assert!(run(&webhook_yaml(&b64(certs::tests::VALID_PEM), "Fail")).is_empty());
    }

    #[test]
    fn the_linkerd_install_default_webhook_fails_open_but_its_placeholder_bundle_is_not_judged() {
        let text = std::fs::read_to_string(
            "/work/shared/corpus/linkerd/manifests/linkerd2-cli__cmd__testdata__install_default.golden__webhook-configurations.yaml",
        );
        let Ok(text) = text else { return };
        let f = run(&text);
        assert_eq!(names(&f), ["injector-webhook-fails-open"]);
        assert_eq!(
            f[0].subject.field.as_deref(),
            Some("webhooks[0].failurePolicy")
        );
    }

    #[test]
    fn an_expired_trust_anchor_in_the_trust_roots_config_map_is_reported() {
        let pem = certs::tests::EXPIRED_PEM.replace('\n', "\n    ");
        let y = format!(
            "kind: ConfigMap\napiVersion: v1\nmetadata: {{name: linkerd-identity-trust-roots, namespace: linkerd}}\ndata:\n  ca-bundle.crt: |\n    {pem}\n"
        );
        let f = run(&y);
        assert_eq!(names(&f), ["trust-anchor-expired"]);
    }

    #[test]
    fn a_pod_in_an_injected_namespace_without_the_proxy_is_reported_with_a_restart() {
        let y = "
kind: Namespace
metadata: {name: shop, annotations: {linkerd.io/inject: enabled}}
---
kind: Pod
metadata:
  name: web-5d9f8c7b6-abcde
  namespace: shop
  ownerReferences: [{kind: ReplicaSet, name: web-5d9f8c7b6}]
spec:
  containers: [{name: web}]
";
        let f = run(y);
        assert_eq!(names(&f), ["meshed-pod-missing-proxy"]);
        assert_eq!(f[0].vars["deployment"], "web");
        let ok = y.replace(
            "containers: [{name: web}]",
            "containers: [{name: web}, {name: linkerd-proxy}]",
        );
        assert!(run(&ok).is_empty());
        // Native sidecar: the proxy as a restartable init container.
        let native = y.replace(
            "  containers: [{name: web}]",
            "  initContainers: [{name: linkerd-proxy, restartPolicy: Always}]\n  containers: [{name: web}]",
        );
        assert!(run(&native).is_empty());
    }

    #[test]
    fn a_pod_in_a_manifest_has_not_met_the_injector_and_is_not_missing_its_proxy() {
        // linkerd.io egress task: a client Pod applied to an injected namespace.
        let y = "
kind: Namespace
metadata: {name: egress-test, annotations: {linkerd.io/inject: enabled}}
---
kind: Pod
metadata: {name: client, namespace: egress-test}
spec:
  containers: [{name: client, image: curlimages/curl}]
";
        assert!(run(y).is_empty());
        let live = y.replace(
            "  containers: [{name: client, image: curlimages/curl}]",
            "  containers: [{name: client, image: curlimages/curl}]\nstatus: {phase: Running}",
        );
        assert_eq!(names(&run(&live)), ["meshed-pod-missing-proxy"]);
    }
}
