//! Label selectors, just enough to pick the neighbourhood: which Services
//! select a pod, and the query string for a Deployment's or Service's pods.
//! The full semantics (for facts) live in `facts`; this stays small on purpose.

use serde_json::Value;

/// Labels of an object (`metadata.labels`), empty when absent.
pub fn labels(obj: &Value) -> Vec<(String, String)> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn get<'a>(labels: &'a [(String, String)], k: &str) -> Option<&'a str> {
    labels.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str())
}

/// A Service selector (`spec.selector`, a plain map) as pairs; empty = none.
pub fn service_selector(svc: &Value) -> Vec<(String, String)> {
    svc.pointer("/spec/selector")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// `true` when a non-empty map selector matches the labels.
pub fn map_matches(selector: &[(String, String)], labels: &[(String, String)]) -> bool {
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, v)| get(labels, k) == Some(v.as_str()))
}

/// A `metav1.LabelSelector` (matchLabels + matchExpressions) as the query
/// string the API server takes; `None` when it has neither.
pub fn label_selector_query(sel: &Value) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            parts.push(format!("{k}={}", v.as_str().unwrap_or("")));
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let vals: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match e.get("operator").and_then(Value::as_str).unwrap_or("") {
                "In" => parts.push(format!("{key} in ({})", vals.join(","))),
                "NotIn" => parts.push(format!("{key} notin ({})", vals.join(","))),
                "Exists" => parts.push(key.to_string()),
                "DoesNotExist" => parts.push(format!("!{key}")),
                _ => {}
            }
        }
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

/// A map selector as a query string (`app=web,tier=front`).
pub fn map_query(selector: &[(String, String)]) -> String {
    selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_service_selects_a_pod_only_when_every_selector_label_matches() {
        let svc = json!({"spec": {"selector": {"app": "web", "tier": "front"}}});
        let pod = json!({"metadata": {"labels": {"app": "web", "tier": "front", "x": "y"}}});
        let other = json!({"metadata": {"labels": {"app": "web"}}});
        let sel = service_selector(&svc);
        assert!(map_matches(&sel, &labels(&pod)));
        assert!(!map_matches(&sel, &labels(&other)));
        assert!(
            !map_matches(&[], &labels(&pod)),
            "no selector selects nothing"
        );
    }

    #[test]
    fn match_expressions_become_set_based_query_syntax() {
        let sel = json!({"matchLabels": {"app": "api"}, "matchExpressions": [
            {"key": "track", "operator": "In", "values": ["a", "b"]},
            {"key": "canary", "operator": "DoesNotExist"}]});
        assert_eq!(
            label_selector_query(&sel).unwrap(),
            "app=api,track in (a,b),!canary"
        );
        assert_eq!(label_selector_query(&json!({})), None);
    }
}
