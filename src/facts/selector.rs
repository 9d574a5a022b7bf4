//! Kubernetes label selectors: `matchLabels` plus `matchExpressions` with
//! `In`, `NotIn`, `Exists` and `DoesNotExist`, and the plain map selectors
//! of Services and Istio resources.
//!
//! Semantics follow `k8s.io/apimachinery/pkg/labels`: every requirement
//! must hold; an empty selector (`{}`) matches everything; `NotIn` and
//! `DoesNotExist` also match objects that lack the key. An unknown operator
//! makes the selector match nothing, as the API server would reject it.

use serde_json::{Map, Value};

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Req {
    /// `key = value` (from `matchLabels`), or `In` with a single value.
    Eq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
    /// An operator Kubernetes does not know: never matches.
    Invalid,
}

/// A parsed label selector. `Selector::default()` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub reqs: Vec<Req>,
}

fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(scalar).collect::<Vec<String>>())
        .unwrap_or_default()
}

/// A YAML scalar as label text (`version: 1` is valid YAML and means "1").
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Selector {
    /// Parses a `LabelSelector` (`matchLabels` / `matchExpressions`).
    pub fn from_label_selector(v: &Value) -> Selector {
        let mut reqs = Vec::new();
        if let Some(m) = v.get("matchLabels").and_then(|m| m.as_object()) {
            for (k, val) in m {
                reqs.push(Req::Eq(k.clone(), scalar(val).unwrap_or_default()));
            }
        }
        if let Some(a) = v.get("matchExpressions").and_then(|m| m.as_array()) {
            for e in a {
                let key = e
                    .get("key")
                    .and_then(|k| k.as_str())
                    .unwrap_or("")
                    .to_string();
                let values = strs(e.get("values"));
                reqs.push(match e.get("operator").and_then(|o| o.as_str()) {
                    Some("In") if values.len() == 1 => {
                        Req::Eq(key, values.into_iter().next().unwrap_or_default())
                    }
                    Some("In") => Req::In(key, values),
                    Some("NotIn") => Req::NotIn(key, values),
                    Some("Exists") => Req::Exists(key),
                    Some("DoesNotExist") => Req::DoesNotExist(key),
                    _ => Req::Invalid,
                });
            }
        }
        Selector { reqs }
    }

    /// Parses a plain `key: value` map (Service `spec.selector`, Istio
    /// `selector`/`workloadSelector.labels`).
    pub fn from_map(v: &Value) -> Selector {
        Selector {
            reqs: v
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, val)| Req::Eq(k.clone(), scalar(val).unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// `true` for `{}`: selects every pod in scope.
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// One `key = value` pair every match must carry, for index lookups.
    pub fn anchor(&self) -> Option<(&str, &str)> {
        self.reqs.iter().find_map(|r| match r {
            Req::Eq(k, v) => Some((k.as_str(), v.as_str())),
            _ => None,
        })
    }

    /// Does the selector match these labels?
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let get = |k: &str| labels.and_then(|m| m.get(k)).and_then(scalar);
        self.reqs.iter().all(|r| match r {
            Req::Eq(k, v) => get(k).as_deref() == Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
            Req::Exists(k) => get(k).is_some(),
            Req::DoesNotExist(k) => get(k).is_none(),
            Req::Invalid => false,
        })
    }

    /// Is every `key = value` of `self` also required by `other`? Used for
    /// "these two gateways select the same workload" comparisons between
    /// plain map selectors.
    pub fn is_subset_of(&self, other: &Selector) -> bool {
        self.reqs.iter().all(|r| other.reqs.contains(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn match_labels_require_every_pair() {
        let s =
            Selector::from_label_selector(&json!({"matchLabels": {"app": "web", "tier": "fe"}}));
        assert!(s.matches(Some(&labels(json!({"app": "web", "tier": "fe", "x": "y"})))));
        assert!(!s.matches(Some(&labels(json!({"app": "web"})))));
    }

    #[test]
    fn an_empty_selector_matches_every_pod_even_without_labels() {
        let s = Selector::from_label_selector(&json!({}));
        assert!(s.matches(None));
    }

    #[test]
    fn expressions_follow_kubernetes_semantics() {
        let s = Selector::from_label_selector(&json!({"matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "stage"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "tier", "operator": "NotIn", "values": ["db"]},
            {"key": "app", "operator": "Exists"}
        ]}));
        assert!(s.matches(Some(&labels(json!({"env": "prod", "app": "x"})))));
        assert!(!s.matches(Some(&labels(json!({"env": "dev", "app": "x"})))));
        assert!(!s.matches(Some(&labels(
            json!({"env": "prod", "app": "x", "canary": "1"})
        ))));
        assert!(!s.matches(Some(&labels(
            json!({"env": "prod", "app": "x", "tier": "db"})
        ))));
        assert!(!s.matches(Some(&labels(json!({"env": "prod"})))));
    }

    #[test]
    fn an_unknown_operator_matches_nothing() {
        let s = Selector::from_label_selector(
            &json!({"matchExpressions": [{"key": "a", "operator": "Gt"}]}),
        );
        assert!(!s.matches(Some(&labels(json!({"a": "1"})))));
    }

    #[test]
    fn numeric_label_values_compare_as_text() {
        let s = Selector::from_map(&json!({"version": 1}));
        assert!(s.matches(Some(&labels(json!({"version": "1"})))));
    }

    #[test]
    fn a_smaller_map_selector_is_a_subset_of_a_larger_one() {
        let a = Selector::from_map(&json!({"istio": "ingressgateway"}));
        let b = Selector::from_map(&json!({"istio": "ingressgateway", "type": "internal"}));
        assert!(a.is_subset_of(&b));
        assert!(!b.is_subset_of(&a));
    }
}
