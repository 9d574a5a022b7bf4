//! VirtualServices: which Gateways they bind to, routes that cannot match
//! what the Gateway passes on, gateway routes that skip the mesh's subsets.

use super::*;

/// `(namespace, name)` of every gateway a VirtualService binds to; `mesh` is skipped.
pub(super) fn vs_gateways(vs: &Object) -> (Vec<(String, String)>, bool) {
    let list: Vec<&str> = strs(&vs.value, "/spec/gateways").collect();
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

pub(super) fn vs_hosts(vs: &Object) -> Vec<String> {
    strs(&vs.value, "/spec/hosts")
        .map(|h| fqdn(h, vs.namespace()))
        .collect()
}

pub(super) fn nonempty(v: &Value, key: &str) -> bool {
    !list(v, &format!("/spec/{key}")).is_empty()
}

pub(super) fn gateway_binding(ix: &Index, out: &mut Vec<Fact>) {
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
        let raw_hosts: Vec<String> = list(&vs.value, "/spec/hosts")
            .iter()
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
        let host = raw_hosts.first().cloned().unwrap_or_default();
        // One fact shape for both mismatches: what the server does with
        // TLS, what the VirtualService's routes cannot do with it.
        let mut mismatch = |s: &Server,
                            name: &'static str,
                            field: &str,
                            (gw_does, vs_does): (&str, &str),
                            patch: String| {
            out.push(
                Fact::new(
                    name,
                    vs.at(field),
                    format!(
                        "Gateway {}/{} {gw_does} ({}) on port {} but VirtualService {}/{} {vs_does}",
                        s.gw.namespace(),
                        s.gw.name(),
                        s.tls_mode.as_deref().unwrap_or(""),
                        s.number,
                        vs.namespace(),
                        vs.name()
                    ),
                )
                .var("service", host.clone())
                .var("port", s.number.to_string())
                .related(s.at("tls"))
                .patch(format!("# VirtualService {}/{}{patch}", vs.namespace(), vs.name())),
            );
        };
        if tls
            && !http
            && !bound.iter().any(passthrough)
            && let Some(s) = bound.iter().find(|s| terminating(s))
        {
            mismatch(
                s,
                "gateway-simple-tls-with-tls-routes",
                "spec.tls",
                (
                    "terminates TLS",
                    "bound to it has only tls: routes, which never match decrypted traffic (404)",
                ),
                ": route the terminated traffic with http:\nhttp:\n- route:\n  - destination:\n      host: <backend>".to_string(),
            );
        }
        if http
            && !bound.iter().any(|s| !passthrough(s))
            && let Some(s) = bound.iter().find(|s| passthrough(s))
        {
            mismatch(
                s,
                "gateway-passthrough-with-http-routes",
                "spec.http",
                (
                    "passes TLS through",
                    "routes it with http: routes, which cannot see inside TLS and have no effect",
                ),
                format!(
                    "\ntls:\n- match:\n  - sniHosts: [\"{host}\"]\n  route:\n  - destination:\n      host: <backend>\n# or terminate at the Gateway: tls: {{mode: SIMPLE, credentialName: <secret>}}"
                ),
            );
        }
    }
}

/// `(http index, route index, host, subset)` of every route destination.
pub(super) fn destinations(vs: &Object) -> Vec<(usize, usize, String, Option<String>)> {
    let mut v = Vec::new();
    for (i, h) in list(&vs.value, "/spec/http").iter().enumerate() {
        for (j, r) in list(h, "/route").iter().enumerate() {
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

pub(super) fn gateway_vs_subset(ix: &Index, out: &mut Vec<Fact>) {
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

/// A VirtualService route to a subset that no DestinationRule of its host
/// defines: Envoy has no such cluster and answers `503 NC cluster_not_found`
/// (istioctl analyze IST0101). Judged only when the set holds a
/// DestinationRule for the host, so a VirtualService checked without its
/// rules (another file, another repository) is not reported.
pub(super) fn vs_subsets_undefined(ix: &Index, out: &mut Vec<Fact>) {
    if !ix.has_kind("VirtualService") || !ix.has_kind("DestinationRule") {
        return;
    }
    let drs: Vec<(String, &Object)> = ix
        .of_kind("DestinationRule")
        .filter_map(|d| {
            let host = d.value.pointer("/spec/host")?.as_str()?;
            Some((fqdn(host, d.namespace()), d))
        })
        .collect();
    for vs in ix.of_kind("VirtualService") {
        for (i, j, host, subset) in destinations(vs) {
            let Some(subset) = subset else { continue };
            let rules: Vec<&Object> = drs
                .iter()
                .filter(|(h, _)| hosts_intersect(h, &host))
                .map(|(_, d)| *d)
                .collect();
            if rules.is_empty() {
                continue;
            }
            let defined = rules.iter().any(|d| {
                list(&d.value, "/spec/subsets")
                    .iter()
                    .any(|s| s.get("name").and_then(|n| n.as_str()) == Some(subset.as_str()))
            });
            if defined {
                continue;
            }
            let dr = rules[0];
            out.push(
                Fact::new(
                    "virtualservice-subset-undefined",
                    vs.at(format!("spec.http[{i}].route[{j}].destination.subset")),
                    format!(
                        "VirtualService {}/{} routes to {host} subset {subset}, which no DestinationRule for that host defines (DestinationRule {}/{} has none by that name); Envoy answers 503 NC cluster_not_found",
                        vs.namespace(),
                        vs.name(),
                        dr.namespace(),
                        dr.name(),
                    ),
                )
                .var("service", host.split('.').next().unwrap_or(""))
                .related(dr.origin.clone())
                .patch(format!(
                    "# DestinationRule {}/{} spec.subsets\n- name: {subset}\n  labels:\n    version: {subset}",
                    dr.namespace(),
                    dr.name()
                )),
            );
        }
    }
}
