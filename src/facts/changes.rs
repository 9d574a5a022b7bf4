//! What changed, and when, read from what the API server already holds
//! (nothing is written, nothing is watched):
//!
//! * `metadata.managedFields[]`: who (`manager`: kubectl-client-side-apply,
//!   argocd-controller, helm, a controller) last wrote which top-level fields
//!   (`fieldsV1`), with `operation` and `time`. Entries that only write
//!   `status` are controllers reporting, not changes, and are left out.
//!   managedFields keep one entry per manager and operation: the time is
//!   that manager's *latest* write, and the fields are all it owns;
//! * `metadata.creationTimestamp` (merged with the manager that wrote at
//!   that second), a ReplicaSet's creation as a rollout (with its
//!   `deployment.kubernetes.io/revision`), `metadata.generation` ahead of
//!   `status.observedGeneration` (a change its controller has not acted on);
//! * container starts, restarts and terminations from pod status;
//! * Events (`firstTimestamp`/`lastTimestamp`, `eventTime`);
//! * certificates in webhook `caBundle`s, Secrets and ConfigMaps: issued at
//!   `notBefore`, expired at `notAfter` (only when that is past).

use super::certs;
use crate::evidence::time::{At, parse};
use serde::Serialize;
use serde_json::Value;

/// What kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum What {
    Created,
    Updated,
    /// A ReplicaSet created for a Deployment: a rollout.
    Rollout,
    Started,
    Restarted,
    Terminated,
    Event,
    CertIssued,
    CertExpired,
}

/// One change to one object (or one certificate), at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub at: At,
    /// The object's kind; `Certificate` for a certificate's validity edges.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub what: What,
    /// The field manager (`kubectl-client-side-apply`, `argocd-controller`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub who: Option<String>,
    /// `Apply` or `Update`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Field paths the manager owns (`spec.trafficPolicy`, `metadata.labels`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Anything else worth a word: a revision, an Event's message, where a
    /// certificate sits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Change {
    /// `DestinationRule bookinfo/reviews`.
    pub fn object(&self) -> String {
        match &self.namespace {
            Some(ns) if !ns.is_empty() => format!("{} {ns}/{}", self.kind, self.name),
            _ => format!("{} {}", self.kind, self.name),
        }
    }

    /// `changed by kubectl-client-side-apply (spec.trafficPolicy)`.
    pub fn describe(&self) -> String {
        let by = self
            .who
            .as_ref()
            .map(|w| format!(" by {w}"))
            .unwrap_or_default();
        let fields = if self.fields.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.fields.join(", "))
        };
        let detail = self
            .detail
            .as_ref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        match self.what {
            What::Created => format!("created{by}{fields}{detail}"),
            // A new pod template is a rollout, whoever wrote it.
            What::Updated
                if matches!(
                    self.kind.as_str(),
                    "Deployment" | "StatefulSet" | "DaemonSet"
                ) && self.fields.iter().any(|f| f == "spec.template") =>
            {
                format!("rollout: changed{by}{fields}{detail}")
            }
            What::Updated => format!("changed{by}{fields}{detail}"),
            What::Rollout => format!("rollout: created{by}{detail}"),
            What::Started => format!("started{detail}"),
            What::Restarted => format!("restarted{detail}"),
            What::Terminated => format!("terminated{detail}"),
            What::Event => format!("event{detail}"),
            What::CertIssued => format!("issued (notBefore){detail}"),
            What::CertExpired => format!("expired (notAfter){detail}"),
        }
    }
}

/// Every change the objects (Events among them) record, oldest first.
/// Certificates expiring after `now` are not changes yet.
pub fn changes<'a>(objects: impl IntoIterator<Item = &'a Value>, now: At) -> Vec<Change> {
    let mut out = Vec::new();
    for o in objects {
        let kind = str_at(o, "/kind");
        if kind == "Event" {
            event(o, &mut out);
            continue;
        }
        let start = out.len();
        object(o, &mut out);
        if kind == "Pod" {
            containers(o, &mut out);
        }
        certificates(o, now, &mut out);
        // A spec its controller has not acted on yet: say so on the latest change.
        let generation = o.pointer("/metadata/generation").and_then(Value::as_i64);
        let observed = o
            .pointer("/status/observedGeneration")
            .and_then(Value::as_i64);
        if let (Some(g), Some(seen)) = (generation, observed)
            && g > seen
            && let Some(c) = out[start..]
                .iter_mut()
                .filter(|c| matches!(c.what, What::Created | What::Updated))
                .max_by_key(|c| c.at)
        {
            let note = format!(
                "generation {g} not yet observed by its controller (observedGeneration {seen})"
            );
            c.detail = Some(match c.detail.take() {
                Some(d) => format!("{d}; {note}"),
                None => note,
            });
        }
    }
    out.sort_by(|a, b| {
        a.at.cmp(&b.at)
            .then(a.what.cmp(&b.what))
            .then(a.object().cmp(&b.object()))
    });
    out
}

fn str_at<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn base(o: &Value, at: At, what: What) -> Change {
    let ns = str_at(o, "/metadata/namespace");
    Change {
        at,
        kind: str_at(o, "/kind").to_string(),
        namespace: (!ns.is_empty()).then(|| ns.to_string()),
        name: str_at(o, "/metadata/name").to_string(),
        what,
        who: None,
        operation: None,
        fields: Vec::new(),
        detail: None,
    }
}

/// Creation and managedFields writes.
fn object(o: &Value, out: &mut Vec<Change>) {
    let created = o
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(parse);
    let mut writes: Vec<(At, String, String, Vec<String>)> = Vec::new();
    for m in o
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if m.get("subresource").and_then(Value::as_str) == Some("status") {
            continue;
        }
        let Some(at) = m.get("time").and_then(Value::as_str).and_then(parse) else {
            continue;
        };
        let fields = m.get("fieldsV1").map(field_paths).unwrap_or_default();
        if fields.is_empty() {
            continue;
        }
        writes.push((
            at,
            str_at(m, "/manager").to_string(),
            str_at(m, "/operation").to_string(),
            fields,
        ));
    }
    let rollout = str_at(o, "/kind") == "ReplicaSet"
        && o.pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|a| {
                a.iter()
                    .any(|r| r.get("kind").and_then(Value::as_str) == Some("Deployment"))
            });
    if let Some(at) = created {
        let mut c = base(
            o,
            at,
            if rollout {
                What::Rollout
            } else {
                What::Created
            },
        );
        // The manager that wrote at the creation second created it.
        if let Some(i) = writes.iter().position(|w| w.0 == at) {
            let (_, who, op, fields) = writes.remove(i);
            c.who = (!who.is_empty()).then_some(who);
            c.operation = (!op.is_empty()).then_some(op);
            c.fields = fields;
        }
        if rollout {
            let owner = o
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .and_then(|a| {
                    a.iter()
                        .find(|r| r.get("kind").and_then(Value::as_str) == Some("Deployment"))
                })
                .and_then(|r| r.get("name").and_then(Value::as_str))
                .unwrap_or("");
            let rev = str_at(
                o,
                "/metadata/annotations/deployment.kubernetes.io~1revision",
            );
            c.detail = Some(if rev.is_empty() {
                format!("new ReplicaSet of Deployment {owner}")
            } else {
                format!("revision {rev} of Deployment {owner}")
            });
            c.fields.clear();
        }
        out.push(c);
    }
    for (at, who, op, fields) in writes {
        let mut c = base(o, at, What::Updated);
        c.who = (!who.is_empty()).then_some(who);
        c.operation = (!op.is_empty()).then_some(op);
        c.fields = fields;
        out.push(c);
    }
}

/// `spec.trafficPolicy`, `metadata.labels`, `data`: the top-level fields
/// of a `fieldsV1` set, one level deeper under `spec` and `metadata`;
/// `status` is left out.
fn field_paths(f: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(top) = f.as_object() else {
        return out;
    };
    for (k, v) in top {
        let Some(name) = k.strip_prefix("f:") else {
            continue;
        };
        if name == "status" {
            continue;
        }
        let deeper: Vec<String> = if matches!(name, "spec" | "metadata") {
            v.as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k2, _)| k2.strip_prefix("f:"))
                .map(|n| format!("{name}.{n}"))
                .collect()
        } else {
            Vec::new()
        };
        if deeper.is_empty() {
            out.push(name.to_string());
        } else {
            out.extend(deeper);
        }
    }
    out
}

/// Container starts, restarts and the last termination, from pod status.
fn containers(pod: &Value, out: &mut Vec<Change>) {
    for list in ["/status/initContainerStatuses", "/status/containerStatuses"] {
        for st in pod
            .pointer(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = str_at(st, "/name");
            let restarts = st.get("restartCount").and_then(Value::as_u64).unwrap_or(0);
            let t = |p: &str| st.pointer(p).and_then(Value::as_str).and_then(parse);
            if let Some(at) = t("/state/running/startedAt") {
                let (what, detail) = if restarts > 0 {
                    (
                        What::Restarted,
                        format!(
                            "container {name} ({restarts} restart{})",
                            if restarts == 1 { "" } else { "s" }
                        ),
                    )
                } else {
                    (What::Started, format!("container {name}"))
                };
                let mut c = base(pod, at, what);
                c.detail = Some(detail);
                out.push(c);
            }
            if let Some(at) = t("/lastState/terminated/finishedAt") {
                let reason = str_at(st, "/lastState/terminated/reason");
                let code = st
                    .pointer("/lastState/terminated/exitCode")
                    .and_then(Value::as_i64);
                let mut c = base(pod, at, What::Terminated);
                c.detail = Some(match code {
                    Some(code) => format!("container {name}: {reason} (exit {code})"),
                    None => format!("container {name}: {reason}"),
                });
                out.push(c);
            }
        }
    }
}

fn event(e: &Value, out: &mut Vec<Change>) {
    let (first, last) = crate::evidence::event::times(e);
    let Some(at) = last.or(first) else {
        return;
    };
    let ns = str_at(e, "/involvedObject/namespace");
    let count = e.get("count").and_then(Value::as_u64).unwrap_or(1);
    let mut detail = format!(
        "{} {}: {}",
        str_at(e, "/type"),
        str_at(e, "/reason"),
        str_at(e, "/message")
    );
    if count > 1 {
        detail.push_str(&format!(" (×{count}"));
        if let Some(f) = first.filter(|f| *f != at) {
            detail.push_str(&format!(" since {f}"));
        }
        detail.push(')');
    }
    out.push(Change {
        at,
        kind: str_at(e, "/involvedObject/kind").to_string(),
        namespace: (!ns.is_empty()).then(|| ns.to_string()),
        name: str_at(e, "/involvedObject/name").to_string(),
        what: What::Event,
        who: None,
        operation: None,
        fields: Vec::new(),
        detail: Some(detail),
    });
}

/// Certificates an object holds: webhook `caBundle`s (base64 of PEM),
/// Secret data (base64), ConfigMap data (PEM text).
fn certificates(o: &Value, now: At, out: &mut Vec<Change>) {
    let kind = str_at(o, "/kind");
    let mut found: Vec<(String, Vec<certs::CertInfo>)> = Vec::new();
    match kind {
        "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration" => {
            for w in o
                .get("webhooks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(b) = w.pointer("/clientConfig/caBundle").and_then(Value::as_str)
                    && let Ok(c) = certs::parse_b64_pem(b)
                {
                    found.push((format!("webhook {} caBundle", str_at(w, "/name")), c));
                }
            }
        }
        "Secret" | "ConfigMap" => {
            for (k, v) in o
                .get("data")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if !(k.ends_with(".crt") || k.ends_with(".pem")) {
                    continue;
                }
                // A Secret's from its data, or from what a bundle kept of it.
                let parsed = if kind == "Secret" {
                    certs::of_secret(o, k)
                } else {
                    v.as_str().and_then(|t| certs::parse_pem(t.as_bytes()).ok())
                };
                if let Some(c) = parsed {
                    found.push((format!("data {k}"), c));
                }
            }
        }
        _ => {}
    }
    let holder = {
        let ns = str_at(o, "/metadata/namespace");
        let name = str_at(o, "/metadata/name");
        if ns.is_empty() {
            format!("{kind} {name}")
        } else {
            format!("{kind} {ns}/{name}")
        }
    };
    for (place, list) in found {
        for c in list {
            let subject = if c.subject.is_empty() {
                "(no subject)".to_string()
            } else {
                c.subject.clone()
            };
            for (secs, what) in [
                (c.not_before, What::CertIssued),
                (c.not_after, What::CertExpired),
            ] {
                let at = At::from_secs(secs);
                if at > now {
                    continue;
                }
                out.push(Change {
                    at,
                    kind: "Certificate".into(),
                    namespace: None,
                    name: subject.clone(),
                    what,
                    who: None,
                    operation: None,
                    fields: Vec::new(),
                    detail: Some(format!("in {holder} {place}")),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> At {
        parse("2030-01-01T00:00:00Z").unwrap()
    }

    #[test]
    fn managed_fields_say_who_changed_which_fields_when() {
        let dr = json!({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "reviews", "namespace": "shop",
                "creationTimestamp": "2025-03-01T09:00:00Z",
                "managedFields": [
                    {"manager": "argocd-controller", "operation": "Apply", "time": "2025-03-01T09:00:00Z",
                     "fieldsV1": {"f:spec": {"f:host": {}}}},
                    {"manager": "kubectl-client-side-apply", "operation": "Update", "time": "2025-03-01T10:00:00Z",
                     "fieldsV1": {"f:metadata": {"f:annotations": {".": {}}}, "f:spec": {"f:trafficPolicy": {".": {}, "f:tls": {}}}}},
                    {"manager": "pilot", "operation": "Update", "subresource": "status", "time": "2025-03-01T10:00:05Z",
                     "fieldsV1": {"f:status": {}}}]},
            "spec": {"host": "reviews"}});
        let c = changes([&dr], now());
        assert_eq!(c.len(), 2, "{c:#?}");
        assert_eq!(c[0].what, What::Created);
        assert_eq!(c[0].who.as_deref(), Some("argocd-controller"));
        assert_eq!(c[1].what, What::Updated);
        assert_eq!(c[1].at.rfc3339(), "2025-03-01T10:00:00Z");
        assert_eq!(c[1].fields, ["metadata.annotations", "spec.trafficPolicy"]);
        assert_eq!(
            format!("{} {}", c[1].object(), c[1].describe()),
            "DestinationRule shop/reviews changed by kubectl-client-side-apply (metadata.annotations, spec.trafficPolicy)"
        );
    }

    #[test]
    fn a_new_replicaset_is_a_rollout_and_pods_say_when_containers_started() {
        let rs = json!({"kind": "ReplicaSet", "metadata": {"name": "web-7c9d", "namespace": "shop",
            "creationTimestamp": "2025-03-01T10:00:00Z",
            "annotations": {"deployment.kubernetes.io/revision": "4"},
            "ownerReferences": [{"kind": "Deployment", "name": "web"}]}});
        let pod = json!({"kind": "Pod", "metadata": {"name": "web-7c9d-x", "namespace": "shop"},
            "status": {"containerStatuses": [{"name": "web", "restartCount": 2,
                "state": {"running": {"startedAt": "2025-03-01T10:03:00Z"}},
                "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": "2025-03-01T10:02:59Z"}}}]}});
        let dep = json!({"kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "generation": 5,
                "managedFields": [{"manager": "kubectl-set", "operation": "Update",
                    "time": "2025-03-01T10:00:00Z", "fieldsV1": {"f:spec": {"f:template": {}}}}]},
            "status": {"observedGeneration": 4}});
        let c = changes([&rs, &pod, &dep], now());
        let shown: Vec<String> = c
            .iter()
            .map(|c| format!("{} {} {}", c.at, c.object(), c.describe()))
            .collect();
        assert_eq!(
            shown,
            [
                "2025-03-01T10:00:00Z Deployment shop/web rollout: changed by kubectl-set (spec.template): generation 5 not yet observed by its controller (observedGeneration 4)",
                "2025-03-01T10:00:00Z ReplicaSet shop/web-7c9d rollout: created: revision 4 of Deployment web",
                "2025-03-01T10:02:59Z Pod shop/web-7c9d-x terminated: container web: Error (exit 1)",
                "2025-03-01T10:03:00Z Pod shop/web-7c9d-x restarted: container web (2 restarts)",
            ]
        );
    }

    #[test]
    fn an_expired_certificate_is_a_change_at_its_not_after() {
        let pem = certs::tests::EXPIRED_PEM;
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(pem);
        let wh = json!({"kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "linkerd-proxy-injector-webhook-config"},
            "webhooks": [{"name": "linkerd-proxy-injector.linkerd.io", "clientConfig": {"caBundle": b64}}]});
        let c = changes([&wh], now());
        let expired: Vec<&Change> = c.iter().filter(|c| c.what == What::CertExpired).collect();
        assert_eq!(expired.len(), 1, "{c:#?}");
        assert_eq!(expired[0].kind, "Certificate");
        assert!(
            expired[0]
                .detail
                .as_deref()
                .unwrap()
                .contains("MutatingWebhookConfiguration linkerd-proxy-injector-webhook-config")
        );
        // Not expired yet as of its own notBefore: only the issue is a change.
        let early = At(expired[0].at.0 - 1000);
        assert!(
            changes([&wh], early)
                .iter()
                .all(|c| c.what != What::CertExpired)
        );
    }
}
