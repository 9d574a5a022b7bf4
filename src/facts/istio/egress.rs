//! Outbound traffic policy: a meshed workload configured to call a host
//! outside the cluster while its sidecar may reach only registered hosts
//! (`outboundTrafficPolicy: REGISTRY_ONLY`) and no ServiceEntry registers it.

use super::*;

/// Where REGISTRY_ONLY comes from for one pod-like, if it applies.
#[derive(Clone)]
struct Policy<'a> {
    /// `Sidecar ns/name` or `mesh config …`, for the message.
    source: String,
    /// The object that sets it, when it is one of the set.
    obj: Option<&'a Object>,
    field: &'static str,
}

pub(super) fn registry_only(ix: &Index, out: &mut Vec<Fact>) {
    let mesh_wide = mesh_wide_policy(ix);
    for p in &ix.pods {
        if !injected(ix, p) {
            continue;
        }
        let Some(policy) = sidecar_policy(ix, p).or_else(|| mesh_wide.clone()) else {
            continue;
        };
        let ns = p.namespace();
        for (c, path) in p.containers() {
            let Some(env) = c.get("env").and_then(|e| e.as_array()) else {
                continue;
            };
            for (ei, e) in env.iter().enumerate() {
                let (Some(name), Some(value)) = (
                    e.get("name").and_then(|v| v.as_str()),
                    e.get("value").and_then(|v| v.as_str()),
                ) else {
                    continue;
                };
                let Some((host, port)) = external_url(value) else {
                    continue;
                };
                if registered(ix, &host, ns) {
                    continue;
                }
                let mut f = Fact::new(
                    "registry-only-external-host-unregistered",
                    p.obj.at(format!("{path}.env[{ei}]")),
                    format!(
                        "{} in {ns} calls {host} (env {name}) but its sidecar may reach only registered hosts (outboundTrafficPolicy REGISTRY_ONLY, {}) and no ServiceEntry visible to {ns} lists {host}: HTTP gets a 502 from the sidecar, TLS is closed at once (BlackHoleCluster)",
                        p.display(),
                        policy.source
                    ),
                )
                .var("service", host.as_str())
                .var("port", port.to_string())
                .patch(format!(
                    "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: {}\n  namespace: {ns}\nspec:\n  hosts:\n  - {host}\n  location: MESH_EXTERNAL\n  resolution: DNS\n  ports:\n  - number: {port}\n    name: {}\n    protocol: {}",
                    host.replace('.', "-"),
                    if port == 443 { "https" } else { "http" },
                    if port == 443 { "TLS" } else { "HTTP" },
                ));
                if let Some(o) = policy.obj {
                    f = f.related(o.at(policy.field));
                }
                out.push(f);
            }
        }
    }
}

/// The Sidecar that applies to the pod-like (its own namespace's, by
/// workloadSelector first, then the namespace-wide one; else the root
/// namespace's default), when it sets REGISTRY_ONLY.
fn sidecar_policy<'a>(ix: &Index<'a>, p: &PodLike) -> Option<Policy<'a>> {
    let own = ix.of_kind_in("Sidecar", p.namespace());
    let selecting = own.iter().find(|s| {
        s.value
            .pointer("/spec/workloadSelector/labels")
            .map(Selector::from_map)
            .is_some_and(|sel| !sel.is_empty() && sel.matches(p.labels()))
    });
    let default = || {
        own.iter()
            .find(|s| s.value.pointer("/spec/workloadSelector").is_none())
            .copied()
            .or_else(|| {
                ix.of_kind_in("Sidecar", ROOT_NS)
                    .into_iter()
                    .find(|s| s.value.pointer("/spec/workloadSelector").is_none())
            })
    };
    let s = selecting.copied().or_else(default)?;
    let mode = s
        .value
        .pointer("/spec/outboundTrafficPolicy/mode")
        .and_then(|m| m.as_str())?;
    (mode == "REGISTRY_ONLY").then(|| Policy {
        source: format!("Sidecar {}/{}", s.namespace(), s.name()),
        obj: Some(s),
        field: "spec.outboundTrafficPolicy.mode",
    })
}

/// REGISTRY_ONLY set for the whole mesh: an IstioOperator's `meshConfig`,
/// or the `mesh` document of the `istio` ConfigMap in the root namespace.
fn mesh_wide_policy<'a>(ix: &Index<'a>) -> Option<Policy<'a>> {
    for op in ix.of_kind("IstioOperator") {
        if op
            .value
            .pointer("/spec/meshConfig/outboundTrafficPolicy/mode")
            .and_then(|m| m.as_str())
            == Some("REGISTRY_ONLY")
        {
            return Some(Policy {
                source: format!("IstioOperator {}/{}", op.namespace(), op.name()),
                obj: Some(op),
                field: "spec.meshConfig.outboundTrafficPolicy.mode",
            });
        }
    }
    let cm = ix
        .of_kind_in("ConfigMap", ROOT_NS)
        .into_iter()
        .find(|c| c.name() == "istio")?;
    let mesh = cm.value.pointer("/data/mesh").and_then(|m| m.as_str())?;
    mesh_text_registry_only(mesh).then(|| Policy {
        source: format!("mesh config, ConfigMap {ROOT_NS}/istio"),
        obj: Some(cm),
        field: "data.mesh",
    })
}

/// `outboundTrafficPolicy:` followed, more indented, by `mode: REGISTRY_ONLY`
/// in the mesh config's YAML text.
fn mesh_text_registry_only(mesh: &str) -> bool {
    let mut lines = mesh.lines();
    while let Some(l) = lines.next() {
        let Some(i) = l.find("outboundTrafficPolicy:") else {
            continue;
        };
        let inline = l[i + 22..].trim();
        if !inline.is_empty() {
            return inline.contains("REGISTRY_ONLY");
        }
        for next in lines.by_ref() {
            let indent = next.len() - next.trim_start().len();
            if next.trim().is_empty() {
                continue;
            }
            if indent <= i {
                break;
            }
            if let Some(v) = next.trim().strip_prefix("mode:") {
                return v.trim().trim_matches(['"', '\'']) == "REGISTRY_ONLY";
            }
        }
        return false;
    }
    false
}

/// An `http(s)://host[:port]…` value naming a host outside the cluster: a
/// dotted name that is not a cluster-local one, or a public address. Its
/// port defaults to the scheme's.
fn external_url(value: &str) -> Option<(String, u16)> {
    let v = value.trim();
    let (rest, default) = if let Some(r) = v.strip_prefix("https://") {
        (r, 443)
    } else if let Some(r) = v.strip_prefix("http://") {
        (r, 80)
    } else {
        return None;
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(']') || h.ends_with(']') => (h, p.parse::<u16>().ok()?),
        _ => (authority, default),
    };
    let host = host.to_ascii_lowercase();
    let local = !host.contains('.')
        || [
            ".svc",
            ".local",
            ".internal",
            ".cluster.local",
            ".localhost",
        ]
        .iter()
        .any(|s| host.ends_with(s))
        || host.contains('$')
        || host.contains('{');
    if local || private_address(&host) {
        return None;
    }
    Some((host, port))
}

/// Loopback, private and link-local IPv4 addresses stay inside; an IPv6
/// literal (`[…]`) is not judged and counts as inside.
fn private_address(host: &str) -> bool {
    let Ok(ip) = host.parse::<std::net::Ipv4Addr>() else {
        return host.starts_with('[');
    };
    ip.is_private() || ip.is_loopback() || ip.is_link_local()
}

/// A ServiceEntry visible to `ns` lists the host (a `*.` wildcard covers
/// subdomains). Cluster names never get here: [`external_url`] drops them.
fn registered(ix: &Index, host: &str, ns: &str) -> bool {
    ix.of_kind("ServiceEntry").any(|se| {
        let visible = match se
            .value
            .pointer("/spec/exportTo")
            .and_then(|e| e.as_array())
        {
            None => true,
            Some(list) => list
                .iter()
                .filter_map(|v| v.as_str())
                .any(|e| e == "*" || e == ns || (e == "." && se.namespace() == ns)),
        };
        visible && strs(&se.value, "/spec/hosts").any(|h| hosts_intersect(h, host))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_urls_are_told_from_cluster_names() {
        assert_eq!(
            external_url("https://api.stripe.com/v1"),
            Some(("api.stripe.com".into(), 443))
        );
        assert_eq!(
            external_url("http://user:pw@Example.org:8080/x"),
            Some(("example.org".into(), 8080))
        );
        for local in [
            "http://orders:8080",
            "http://orders.shop.svc.cluster.local:8080",
            "http://orders.shop.svc:80/x",
            "http://10.1.2.3:9000",
            "http://metadata.google.internal/computeMetadata",
            "https://${API_HOST}/v1",
            "api.stripe.com",
            "postgres://db.example.com:5432/app",
        ] {
            assert_eq!(external_url(local), None, "{local}");
        }
    }

    #[test]
    fn the_mesh_config_text_says_registry_only() {
        assert!(mesh_text_registry_only(
            "accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n"
        ));
        assert!(mesh_text_registry_only(
            "outboundTrafficPolicy: {mode: REGISTRY_ONLY}"
        ));
        assert!(!mesh_text_registry_only(
            "outboundTrafficPolicy:\n  mode: ALLOW_ANY\ndefaultConfig:\n  mode: REGISTRY_ONLY\n"
        ));
        assert!(!mesh_text_registry_only("accessLogFile: /dev/stdout\n"));
    }
}
