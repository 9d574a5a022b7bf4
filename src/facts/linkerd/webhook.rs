//! The proxy injector: its webhook certificate, and admitted pods that
//! should have a proxy but have none.

use super::*;

fn is_injector(name: &str) -> bool {
    name.contains("linkerd-proxy-injector")
}

fn cert_fact(
    expired_name: &'static str,
    soon_name: &'static str,
    what: &str,
    c: &CertInfo,
    exp: Expiry,
    subject: crate::facts::ObjRef,
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

pub(super) fn webhook(ix: &Index, opts: &FactOptions, out: &mut Vec<Fact>) {
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
        if let Some(certs) = certs::of_secret(&s.value, "tls.crt")
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

pub(super) fn missing_proxy(ix: &Index, out: &mut Vec<Fact>) {
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
