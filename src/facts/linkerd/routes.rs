//! A ServiceProfile beside an HTTPRoute for the same Service.

use super::*;

pub(super) fn serviceprofile_vs_httproute(ix: &Index, out: &mut Vec<Fact>) {
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
