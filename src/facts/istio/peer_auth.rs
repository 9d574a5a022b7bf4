//! PeerAuthentication: which mTLS mode a workload's port gets (workload
//! policy over namespace over mesh, port-level over workload, `UNSET`
//! inherits), and whether auto mTLS is on.

use super::*;

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
pub(super) fn auto_mtls_off(ix: &Index) -> bool {
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
