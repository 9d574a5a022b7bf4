//! DestinationRules: TLS settings against PeerAuthentication (mTLS turned
//! off under STRICT), subsets that select no pod, TLS origination.

use super::*;

/// `(field, mode, port)` of every TLS setting a DestinationRule makes.
pub(super) fn dr_tls_settings(dr: &Object) -> Vec<(String, Option<String>, Option<i64>)> {
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
        for (i, pl) in list(tp, "/portLevelSettings").iter().enumerate() {
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
    for (i, s) in list(spec, "/subsets").iter().enumerate() {
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

pub(super) fn dr_tls(ix: &Index, out: &mut Vec<Fact>) {
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
                        let target = crate::facts::linkerd::target_port(sp, p);
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

pub(super) fn dr_subsets(ix: &Index, out: &mut Vec<Fact>) {
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
        for (i, s) in list(&dr.value, "/spec/subsets").iter().enumerate() {
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
                            format!(
                                "{k}={}",
                                crate::facts::selector::scalar(v).unwrap_or_default()
                            )
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

pub(super) fn dr_originates_tls(dr: &Object, port: Option<i64>) -> Option<(String, String)> {
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
pub(super) fn http_routed_to(ix: &Index, host: &str, port: i64) -> bool {
    ix.of_kind("VirtualService").any(|vs| {
        list(&vs.value, "/spec/http")
            .iter()
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
