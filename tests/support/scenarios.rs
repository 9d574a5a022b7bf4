//! Scenario clusters for the API-server fixture: objects we write, plus real
//! proxy log lines from `shared/corpus` as the logs the pods print.

#![allow(dead_code)]

use super::apiserver::Scenario;
use serde_json::{Value, json};
use std::path::PathBuf;

/// `true` when the shared corpus is absent and the calling test should
/// skip: it says so in one line on stderr (see [`super::shared`]).
pub fn skip_without_corpus(test: &str) -> bool {
    if super::shared::corpus().is_some() {
        return false;
    }
    eprintln!(
        "note: {test}: skipped, ../shared/corpus is not beside this clone (set MESHDOC_CORPUS to it)"
    );
    true
}

/// A corpus file's text (the test fails loudly when the corpus is absent).
pub fn corpus(rel: &str) -> String {
    let p = super::shared::corpus()
        .expect("../shared/corpus (or MESHDOC_CORPUS)")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("corpus file {}: {e}", p.display()))
}

pub fn testdata(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata/cluster")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// How a pod is doing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Running,
    CrashLoop,
}

/// A pod of Deployment `deploy` (ReplicaSet `deploy-<hash>`), with the app
/// container listening on `port` and, when `mesh` is set, the proxy container.
pub fn pod(
    ns: &str,
    name: &str,
    app: &str,
    deploy: &str,
    port: u16,
    mesh: Option<&str>,
    health: Health,
) -> Value {
    let mut containers = vec![json!({"name": app, "image": format!("example/{app}:1"),
        "ports": [{"containerPort": port, "name": "app"}]})];
    let mut statuses = vec![];
    let app_status = match health {
        Health::Running => json!({"name": app, "ready": true, "restartCount": 0,
            "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}}),
        Health::CrashLoop => json!({"name": app, "ready": false, "restartCount": 7,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2025-01-01T00:10:00Z"}}}),
    };
    statuses.push(app_status);
    let mut annotations = json!({});
    match mesh {
        Some("linkerd") => {
            containers.push(json!({"name": "linkerd-proxy", "image": "cr.l5d.io/linkerd/proxy:edge-24.11.8",
                "ports": [{"containerPort": 4143, "name": "linkerd-proxy"}, {"containerPort": 4191, "name": "linkerd-admin"}]}));
            statuses.push(json!({"name": "linkerd-proxy", "ready": true, "restartCount": 0, "state": {"running": {}}}));
            annotations =
                json!({"linkerd.io/inject": "enabled", "linkerd.io/proxy-version": "edge-24.11.8"});
        }
        Some("istio") => {
            containers.push(json!({"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.24.0",
                "ports": [{"containerPort": 15090, "name": "http-envoy-prom"}, {"containerPort": 15020, "name": "status-port"}]}));
            statuses.push(json!({"name": "istio-proxy", "ready": true, "restartCount": 0, "state": {"running": {}}}));
            annotations = json!({"sidecar.istio.io/status": "{\"containers\":[\"istio-proxy\"]}"});
        }
        _ => {}
    }
    let ready = if health == Health::Running {
        "True"
    } else {
        "False"
    };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app, "pod-template-hash": "5f7b9c"},
            "annotations": annotations,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{deploy}-5f7b9c"),
                "uid": format!("uid-{deploy}-rs"), "controller": true}]},
        "spec": {"containers": containers},
        "status": {"phase": "Running", "podIP": "10.244.0.10",
            "conditions": [{"type": "Ready", "status": ready}, {"type": "ContainersReady", "status": ready}],
            "containerStatuses": statuses}
    })
}

/// Deployment + its ReplicaSet.
pub fn deployment(ns: &str, name: &str, app: &str, replicas: u32) -> Vec<Value> {
    vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
                "template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": app, "image": "x"}]}}},
            "status": {"replicas": replicas, "readyReplicas": replicas}}),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": format!("{name}-5f7b9c"), "namespace": ns, "labels": {"app": app},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": format!("uid-{name}"), "controller": true}]},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}}}}),
    ]
}

pub fn service(ns: &str, name: &str, selector_app: &str, port: u16, port_name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"app": selector_app}, "clusterIP": "10.96.0.20",
            "ports": [{"name": port_name, "port": port, "targetPort": port, "protocol": "TCP"}]}})
}

/// An EndpointSlice of `svc` with one endpoint per (pod, ready).
pub fn endpointslice(ns: &str, svc: &str, port: u16, endpoints: &[(&str, bool)]) -> Value {
    let eps: Vec<Value> = endpoints
        .iter()
        .enumerate()
        .map(|(i, (pod, ready))| {
            json!({"addresses": [format!("10.244.1.{}", i + 10)],
            "conditions": {"ready": ready, "serving": ready, "terminating": false},
            "targetRef": {"kind": "Pod", "namespace": ns, "name": pod}})
        })
        .collect();
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{svc}-x7k2p"), "namespace": ns, "labels": {"kubernetes.io/service-name": svc}},
        "addressType": "IPv4", "endpoints": eps, "ports": [{"name": "http", "port": port, "protocol": "TCP"}]})
}

pub fn namespace(name: &str, annotations: Value, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "annotations": annotations, "labels": labels}, "status": {"phase": "Active"}})
}

fn event(ns: &str, pod: &str, reason: &str, kind: &str, message: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{pod}.{}", reason.to_ascii_lowercase()), "namespace": ns},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod},
        "reason": reason, "type": kind, "message": message, "count": 12})
}

/// The Linkerd control-plane objects meshdoc reads: the injector webhook
/// (with `ca_pem` as caBundle) and the trust roots.
pub fn linkerd_control_plane(ca_pem: &str, failure_policy: &str) -> Vec<Value> {
    vec![
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "linkerd-proxy-injector-webhook-config", "labels": {"linkerd.io/control-plane-component": "proxy-injector"}},
            "webhooks": [{"name": "linkerd-proxy-injector.linkerd.io", "failurePolicy": failure_policy,
                "admissionReviewVersions": ["v1", "v1beta1"], "sideEffects": "None",
                "clientConfig": {"service": {"name": "linkerd-proxy-injector", "namespace": "linkerd", "path": "/"},
                    "caBundle": b64(ca_pem)},
                "namespaceSelector": {"matchExpressions": [{"key": "config.linkerd.io/admission-webhooks", "operator": "NotIn", "values": ["disabled"]}]}}]}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "linkerd-identity-trust-roots", "namespace": "linkerd"},
            "data": {"ca-bundle.crt": testdata("valid-until-2035.pem")}}),
        namespace(
            "linkerd",
            json!({}),
            json!({"linkerd.io/is-control-plane": "true"}),
        ),
    ]
}

/// An injected namespace `ns` beside a Linkerd control plane whose
/// injector serves the certificate `testdata/<ca>` with `failure_policy`.
fn linkerd_namespace(ns: &str, ca: &str, failure_policy: &str) -> Scenario {
    let mut s = Scenario::default();
    s.crds(&["linkerd.io", "policy.linkerd.io"]);
    s.objects.push(namespace(
        ns,
        json!({"linkerd.io/inject": "enabled"}),
        json!({}),
    ));
    s.objects
        .extend(linkerd_control_plane(&testdata(ca), failure_policy));
    s
}

/// Linkerd proxy metrics as the client proxy would serve them for calls to `svc`.
pub fn linkerd_metrics(ns: &str, svc: &str, port: u16, status: u16, count: u64) -> String {
    format!(
        "# HELP request_total Total count of HTTP requests.\n# TYPE request_total counter\n\
request_total{{direction=\"outbound\",authority=\"{svc}.{ns}.svc.cluster.local:{port}\",target_addr=\"10.96.0.20:{port}\",target_ip=\"10.96.0.20\",target_port=\"{port}\",tls=\"true\",server_id=\"default.{ns}.serviceaccount.identity.linkerd.cluster.local\",dst_namespace=\"{ns}\",dst_service=\"{svc}\"}} {count}\n\
# HELP response_total Total count of HTTP responses.\n# TYPE response_total counter\n\
response_total{{direction=\"outbound\",authority=\"{svc}.{ns}.svc.cluster.local:{port}\",target_addr=\"10.96.0.20:{port}\",tls=\"true\",dst_namespace=\"{ns}\",dst_service=\"{svc}\",status_code=\"{status}\",classification=\"failure\",grpc_status=\"\",error=\"\"}} {count}\n\
# HELP outbound_http_errors_total The total number of inbound HTTP requests that could not be processed due to a proxy error.\n# TYPE outbound_http_errors_total counter\n\
outbound_http_errors_total{{error=\"unexpected\",target_addr=\"10.96.0.20:{port}\"}} {count}\n# EOF\n"
    )
}

/// How the fail-fast scenario's backend is broken.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Backend {
    SelectorMismatch,
    ZeroReplicas,
    CrashLoop,
}

pub const CLIENT_POD: &str = "client-5f7b9c-x2x7p";

/// `client` calls Service `payments` in `shop`, whose backends are broken.
pub fn linkerd_failfast(backend: Backend) -> Scenario {
    let ns = "shop";
    let mut s = linkerd_namespace(ns, "valid-until-2035.pem", "Ignore");
    s.objects.extend(deployment(ns, "client", "client", 1));
    s.objects.push(pod(
        ns,
        CLIENT_POD,
        "client",
        "client",
        8080,
        Some("linkerd"),
        Health::Running,
    ));
    s.objects
        .push(service(ns, "client", "client", 8080, "http"));
    let replicas = if backend == Backend::ZeroReplicas {
        0
    } else {
        2
    };
    s.objects
        .extend(deployment(ns, "payments", "payments", replicas));
    let selector = if backend == Backend::SelectorMismatch {
        "payment"
    } else {
        "payments"
    };
    s.objects
        .push(service(ns, "payments", selector, 8080, "http"));
    match backend {
        Backend::SelectorMismatch => {
            for p in ["payments-5f7b9c-a1b2c", "payments-5f7b9c-d3e4f"] {
                s.objects.push(pod(
                    ns,
                    p,
                    "payments",
                    "payments",
                    8080,
                    Some("linkerd"),
                    Health::Running,
                ));
            }
            s.objects.push(endpointslice(ns, "payments", 8080, &[]));
        }
        Backend::ZeroReplicas => s.objects.push(endpointslice(ns, "payments", 8080, &[])),
        Backend::CrashLoop => {
            let p = "payments-5f7b9c-a1b2c";
            s.objects.push(pod(
                ns,
                p,
                "payments",
                "payments",
                8080,
                Some("linkerd"),
                Health::CrashLoop,
            ));
            s.objects
                .push(endpointslice(ns, "payments", 8080, &[(p, false)]));
            s.objects.push(event(
                ns,
                p,
                "BackOff",
                "Warning",
                "Back-off restarting failed container payments in pod payments-5f7b9c-a1b2c_shop",
            ));
            s.log(ns, p, "payments", true, "panic: failed to connect to database: dial tcp 10.96.0.99:5432: connect: connection refused\n");
        }
    }
    s.log(
        ns,
        CLIENT_POD,
        "linkerd-proxy",
        false,
        &corpus("linkerd/logs/failfast/linkerd2-issue-7768.log"),
    );
    s.log(
        ns,
        CLIENT_POD,
        "client",
        false,
        "GET /pay -> 504 Gateway Timeout\n",
    );
    s.proxy(
        ns,
        CLIENT_POD,
        4191,
        "metrics",
        &linkerd_metrics(ns, "payments", 8080, 504, 37),
    );
    s
}

/// The Linkerd slice both NetworkPolicy scenarios share: an injected
/// namespace, the control plane, a `web` client and two `api` pods behind
/// their Service.
fn shop_web_and_api(ns: &str) -> Scenario {
    let mut s = linkerd_namespace(ns, "valid-until-2035.pem", "Ignore");
    s.objects.extend(deployment(ns, "web", "web", 1));
    s.objects.push(pod(
        ns,
        "web-5f7b9c-k8s9d",
        "web",
        "web",
        8080,
        Some("linkerd"),
        Health::Running,
    ));
    s.objects.extend(deployment(ns, "api", "api", 2));
    let api_pods = ["api-5f7b9c-q1w2e", "api-5f7b9c-r3t4y"];
    for p in api_pods {
        s.objects.push(pod(
            ns,
            p,
            "api",
            "api",
            8080,
            Some("linkerd"),
            Health::Running,
        ));
    }
    s.objects.push(service(ns, "api", "api", 8080, "http"));
    s.objects.push(endpointslice(
        ns,
        "api",
        8080,
        &[(api_pods[0], true), (api_pods[1], true)],
    ));
    s
}

/// `web` calls `api`, whose pods are selected by a NetworkPolicy that allows
/// the app port 8080 but not the Linkerd inbound port 4143.
pub fn linkerd_netpol() -> Scenario {
    let ns = "shop";
    let mut s = shop_web_and_api(ns);
    s.yaml(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api-allow-http
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: api
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {}
    ports:
    - protocol: TCP
      port: 8080
"#,
    );
    s.log(
        ns,
        "web-5f7b9c-k8s9d",
        "linkerd-proxy",
        false,
        &corpus("linkerd/logs/failfast/linkerd2-issue-7768.log"),
    );
    s.proxy(
        ns,
        "web-5f7b9c-k8s9d",
        4191,
        "metrics",
        &linkerd_metrics(ns, "api", 8080, 504, 12),
    );
    s
}

/// `orders` talks MySQL to `mysql:3306`; the namespace's opaque-ports
/// annotation replaces Linkerd's defaults, so 3306 is no longer opaque.
pub fn linkerd_detect_timeout() -> Scenario {
    let ns = "shop";
    let mut s = Scenario::default();
    s.crds(&["linkerd.io", "policy.linkerd.io"]);
    s.objects.push(namespace(
        ns,
        json!({"linkerd.io/inject": "enabled", "config.linkerd.io/opaque-ports": "5432"}),
        json!({}),
    ));
    s.objects.extend(linkerd_control_plane(
        &testdata("valid-until-2035.pem"),
        "Ignore",
    ));
    s.objects.extend(deployment(ns, "orders", "orders", 1));
    s.objects.push(pod(
        ns,
        "orders-5f7b9c-m5n6b",
        "orders",
        "orders",
        8080,
        Some("linkerd"),
        Health::Running,
    ));
    s.objects.extend(deployment(ns, "mysql", "mysql", 1));
    s.objects.push(pod(
        ns,
        "mysql-5f7b9c-z9x8c",
        "mysql",
        "mysql",
        3306,
        Some("linkerd"),
        Health::Running,
    ));
    s.objects.push(service(ns, "mysql", "mysql", 3306, "mysql"));
    s.objects.push(endpointslice(
        ns,
        "mysql",
        3306,
        &[("mysql-5f7b9c-z9x8c", true)],
    ));
    let mut log = corpus("linkerd/logs/protocol-detection/linkerd-website-issue-1480.log");
    log.push_str(&corpus(
        "linkerd/logs/json-format/linkerd2-issue-12505-protocol-detect-timeout.log",
    ));
    s.log(ns, "orders-5f7b9c-m5n6b", "linkerd-proxy", false, &log);
    s.proxy(
        ns,
        "orders-5f7b9c-m5n6b",
        4191,
        "metrics",
        "# TYPE tcp_open_total counter\ntcp_open_total{direction=\"outbound\",peer=\"dst\",authority=\"mysql.shop.svc.cluster.local:3306\",dst_namespace=\"shop\",dst_service=\"mysql\",tls=\"true\"} 40\n# EOF\n",
    );
    s
}

/// New pods in an injection-enabled namespace start without a proxy: the
/// injector's webhook certificate expired and failurePolicy is Ignore.
pub fn linkerd_injector_expired() -> Scenario {
    let ns = "shop";
    let mut s = linkerd_namespace(ns, "injector-expired.pem", "Ignore");
    s.objects.extend(deployment(ns, "web", "web", 1));
    s.objects.push(pod(
        ns,
        "web-5f7b9c-p0o9i",
        "web",
        "web",
        8080,
        None,
        Health::Running,
    ));
    s.objects.push(service(ns, "web", "web", 8080, "http"));
    s.objects.push(endpointslice(
        ns,
        "web",
        8080,
        &[("web-5f7b9c-p0o9i", true)],
    ));
    s.log(ns, "web-5f7b9c-p0o9i", "web", false, "listening on :8080\n");
    s
}

/// Istio's bookinfo slice both DestinationRule scenarios share: the
/// injected `bookinfo` namespace, `istio-system`, a `loadgen` client and the
/// `productpage` Deployment, pod, Service and EndpointSlice.
fn bookinfo_workloads(ns: &str) -> Scenario {
    let mut s = Scenario::default();
    s.crds(&["networking.istio.io", "security.istio.io"]);
    s.objects.push(namespace(
        ns,
        json!({}),
        json!({"istio-injection": "enabled"}),
    ));
    s.objects
        .push(namespace("istio-system", json!({}), json!({})));
    s.objects.extend(deployment(ns, "loadgen", "loadgen", 1));
    s.objects.push(pod(
        ns,
        "loadgen-5f7b9c-w2e3r",
        "loadgen",
        "loadgen",
        8080,
        Some("istio"),
        Health::Running,
    ));
    s.objects
        .extend(deployment(ns, "productpage-v1", "productpage", 1));
    s.objects.push(pod(
        ns,
        "productpage-v1-5f7b9c-t5y6u",
        "productpage",
        "productpage-v1",
        9080,
        Some("istio"),
        Health::Running,
    ));
    s.objects
        .push(service(ns, "productpage", "productpage", 9080, "http"));
    s.objects.push(endpointslice(
        ns,
        "productpage",
        9080,
        &[("productpage-v1-5f7b9c-t5y6u", true)],
    ));
    s
}

/// `loadgen` calls `productpage` (Istio): the DestinationRule disables TLS
/// while the mesh-wide PeerAuthentication is STRICT.
pub fn istio_dr_tls_conflict() -> Scenario {
    let ns = "bookinfo";
    let mut s = bookinfo_workloads(ns);
    s.yaml(
        r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: productpage
  namespace: bookinfo
spec:
  host: productpage.bookinfo.svc.cluster.local
  trafficPolicy:
    tls:
      mode: DISABLE
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istio-system
spec:
  mtls:
    mode: STRICT
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: istio
  namespace: istio-system
data:
  mesh: |-
    enableAutoMtls: true
    rootNamespace: istio-system
"#,
    );
    // Line 1 is the bookinfo productpage call; the file's other lines come
    // from other clusters (echo.default) and would add Services to follow.
    let log = corpus("istio/access-logs/503-UF.log");
    let first = format!("{}\n", log.lines().next().unwrap_or(""));
    s.log(ns, "loadgen-5f7b9c-w2e3r", "istio-proxy", false, &first);
    s.proxy(
        ns,
        "loadgen-5f7b9c-w2e3r",
        15020,
        "stats/prometheus",
        "# TYPE istio_requests_total counter\nistio_requests_total{reporter=\"source\",source_workload=\"loadgen\",source_workload_namespace=\"bookinfo\",destination_service=\"productpage.bookinfo.svc.cluster.local\",destination_service_name=\"productpage\",destination_service_namespace=\"bookinfo\",request_protocol=\"http\",response_code=\"503\",response_flags=\"UF\",connection_security_policy=\"unknown\"} 12\n",
    );
    s
}

/// One meshed pod in a namespace of 2,000 pods, 1,000 Services and 500
/// NetworkPolicies (the committed benchmark's cluster).
pub fn big_namespace() -> Scenario {
    let ns = "big";
    let mut s = linkerd_namespace(ns, "valid-until-2035.pem", "Ignore");
    for i in 0..2000 {
        let app = format!("app-{}", i / 2);
        s.objects.push(pod(
            ns,
            &format!("{app}-5f7b9c-{i:05}"),
            &app,
            &app,
            8080,
            Some("linkerd"),
            Health::Running,
        ));
    }
    for i in 0..1000 {
        let app = format!("app-{i}");
        s.objects
            .push(service(ns, &format!("svc-{i}"), &app, 8080, "http"));
        s.objects.push(endpointslice(
            ns,
            &format!("svc-{i}"),
            8080,
            &[(&format!("{app}-5f7b9c-{:05}", i * 2), true)],
        ));
    }
    for i in 0..500 {
        s.objects.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": format!("np-{i}"), "namespace": ns},
            "spec": {"podSelector": {"matchLabels": {"app": format!("app-{i}")}}, "policyTypes": ["Ingress"],
                "ingress": [{"ports": [{"port": 8080}, {"port": 4143}]}]}}));
    }
    s.objects.extend(deployment(ns, "app-7", "app-7", 2));
    let target = "app-7-5f7b9c-00014";
    s.log(
        ns,
        target,
        "linkerd-proxy",
        false,
        &corpus("linkerd/logs/failfast/linkerd2-issue-7768.log"),
    );
    s.log(ns, target, "app-7", false, "ok\n");
    s.proxy(
        ns,
        target,
        4191,
        "metrics",
        &linkerd_metrics(ns, "svc-3", 8080, 504, 5),
    );
    s
}

/// `pod` re-labelled and owned by `owner` (kind, apiVersion, name, uid)
/// instead of a Deployment's ReplicaSet.
pub fn owned_pod(mut pod: Value, labels: Value, owner: (&str, &str, &str, &str)) -> Value {
    let (kind, api_version, name, uid) = owner;
    pod["metadata"]["labels"] = labels;
    pod["metadata"]["ownerReferences"] = json!([{"apiVersion": api_version, "kind": kind,
        "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}]);
    pod
}

/// A Job (owned by CronJob `cronjob` with `cronjob_uid` when set) whose
/// selector is the controller-uid label, as the Job controller writes it.
pub fn job(ns: &str, name: &str, app: &str, cronjob: Option<(&str, &str)>) -> Value {
    let uid = format!("uid-{name}");
    let mut j = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": ns, "uid": uid,
            "labels": {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name}},
        "spec": {"selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
            "template": {"metadata": {"labels": {"app": app, "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": name}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": app, "image": "x"}]}}},
        "status": {"active": 1}});
    if let Some((cj, cj_uid)) = cronjob {
        j["metadata"]["ownerReferences"] = json!([{"apiVersion": "batch/v1", "kind": "CronJob",
            "name": cj, "uid": cj_uid, "controller": true, "blockOwnerDeletion": true}]);
    }
    j
}

/// The labels of a pod of Job `job`.
pub fn job_pod_labels(app: &str, job: &str) -> Value {
    json!({"app": app, "batch.kubernetes.io/controller-uid": format!("uid-{job}"),
        "batch.kubernetes.io/job-name": job})
}

pub const LEDGER_POD: &str = "ledger-0";
pub const SETTLE_POD: &str = "settle-28930140-q8w7e";

/// The fail-fast cluster (`payments` scaled to zero) with its callers run by
/// other controllers: StatefulSet `ledger` (pod `ledger-0`), DaemonSet
/// `node-agent`, and CronJob `settle`, whose current Job's pod fails fast
/// too. Job `settle-old` belongs to an earlier CronJob of the same name (a
/// different uid) and must not count as `settle`'s.
pub fn linkerd_failfast_workloads() -> Scenario {
    let ns = "shop";
    let mut s = linkerd_failfast(Backend::ZeroReplicas);
    let failfast = corpus("linkerd/logs/failfast/linkerd2-issue-7768.log");
    let meshed =
        |name: &str, app: &str| pod(ns, name, app, app, 8080, Some("linkerd"), Health::Running);
    // StatefulSet ledger.
    s.objects.push(json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "ledger", "namespace": ns, "uid": "uid-ledger", "labels": {"app": "ledger"}},
        "spec": {"replicas": 1, "serviceName": "ledger", "selector": {"matchLabels": {"app": "ledger"}},
            "template": {"metadata": {"labels": {"app": "ledger"}}, "spec": {"containers": [{"name": "ledger", "image": "x"}]}}},
        "status": {"replicas": 1, "readyReplicas": 1}}));
    s.objects.push(owned_pod(
        meshed(LEDGER_POD, "ledger"),
        json!({"app": "ledger", "apps.kubernetes.io/pod-index": "0"}),
        ("StatefulSet", "apps/v1", "ledger", "uid-ledger"),
    ));
    s.log(ns, LEDGER_POD, "linkerd-proxy", false, &failfast);
    s.proxy(
        ns,
        LEDGER_POD,
        4191,
        "metrics",
        &linkerd_metrics(ns, "payments", 8080, 504, 21),
    );
    // DaemonSet node-agent.
    s.objects.push(json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "node-agent", "namespace": ns, "uid": "uid-node-agent"},
        "spec": {"selector": {"matchLabels": {"app": "node-agent"}},
            "template": {"metadata": {"labels": {"app": "node-agent"}}, "spec": {"containers": [{"name": "node-agent", "image": "x"}]}}}}));
    s.objects.push(owned_pod(
        meshed("node-agent-h7j8k", "node-agent"),
        json!({"app": "node-agent"}),
        ("DaemonSet", "apps/v1", "node-agent", "uid-node-agent"),
    ));
    // CronJob settle, its current Job and pod, and an earlier CronJob's Job.
    s.objects.push(json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "settle", "namespace": ns, "uid": "uid-settle"},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {
            "metadata": {"labels": {"app": "settle"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "settle", "image": "x"}]}}}}}}));
    for (job_name, pod_name, cj_uid) in [
        ("settle-28930140", SETTLE_POD, "uid-settle"),
        ("settle-old", "settle-old-a1b2c", "uid-settle-before"),
    ] {
        s.objects
            .push(job(ns, job_name, "settle", Some(("settle", cj_uid))));
        s.objects.push(owned_pod(
            meshed(pod_name, "settle"),
            job_pod_labels("settle", job_name),
            ("Job", "batch/v1", job_name, &format!("uid-{job_name}")),
        ));
    }
    s.log(ns, SETTLE_POD, "linkerd-proxy", false, &failfast);
    s.proxy(
        ns,
        SETTLE_POD,
        4191,
        "metrics",
        &linkerd_metrics(ns, "payments", 8080, 504, 9),
    );
    s
}

/// Two clusters' worth of misconfiguration in one: the Linkerd NetworkPolicy
/// without 4143 (`shop`) and the Istio DestinationRule that disables TLS
/// under STRICT mTLS (`bookinfo`), for `check --cluster`.
pub fn netpol_and_dr_tls() -> Scenario {
    let mut s = linkerd_netpol();
    let other = istio_dr_tls_conflict();
    s.objects.extend(other.objects);
    s.logs.extend(other.logs);
    s.proxy.extend(other.proxy);
    s.crd_groups.extend(other.crd_groups);
    s
}

// ---- Timeline scenarios: objects with managedFields, logs with times ----

/// The instant the timeline scenarios turn on.
pub const T: &str = "2025-03-01T10:00:00Z";

/// `o` with `creationTimestamp` and managedFields writes `(manager,
/// operation, time, fieldsV1)`, as the API server records them.
pub fn changed(mut o: Value, created: &str, writes: &[(&str, &str, &str, Value)]) -> Value {
    o["metadata"]["creationTimestamp"] = json!(created);
    o["metadata"]["managedFields"] = writes
        .iter()
        .map(|(m, op, t, f)| {
            json!({"manager": m, "operation": op, "apiVersion": o["apiVersion"], "time": t,
                "fieldsType": "FieldsV1", "fieldsV1": f})
        })
        .collect();
    o
}

/// Bookinfo under Istio: `loadgen` calls `productpage`; the DestinationRule
/// `productpage` (tls DISABLE under a STRICT PeerAuthentication) was
/// created at `dr_created` and last written by kubectl at `dr_applied`.
fn istio_bookinfo(dr_created: &str, dr_applied: &str) -> Scenario {
    let ns = "bookinfo";
    let mut s = bookinfo_workloads(ns);
    let dr = json!({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": {"name": "productpage", "namespace": ns, "generation": 2},
        "spec": {"host": "productpage.bookinfo.svc.cluster.local",
            "trafficPolicy": {"tls": {"mode": "DISABLE"}}}});
    s.objects.push(changed(
        dr,
        dr_created,
        &[(
            "kubectl-client-side-apply",
            "Update",
            dr_applied,
            json!({"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
                "f:spec": {".": {}, "f:host": {}, "f:trafficPolicy": {".": {}, "f:tls": {".": {}, "f:mode": {}}}}}),
        )],
    ));
    s.yaml(
        r#"
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istio-system
  creationTimestamp: "2024-06-01T08:00:00Z"
spec:
  mtls:
    mode: STRICT
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: istio
  namespace: istio-system
data:
  mesh: |-
    enableAutoMtls: true
    rootNamespace: istio-system
"#,
    );
    s
}

/// (a) The DestinationRule was applied at T; the client's requests fail
/// with 503 UC/UF from T+1 s.
pub fn istio_dr_applied_then_errors() -> Scenario {
    let mut s = istio_bookinfo("2025-02-01T09:00:00Z", T);
    s.log_at(
        "bookinfo",
        "loadgen-5f7b9c-w2e3r",
        "istio-proxy",
        false,
        &[
            ("2025-03-01T10:00:01.200000000Z", r#"[2025-03-01T10:00:01.102Z] "GET /productpage HTTP/1.1" 503 UC upstream_reset_before_response_started{connection_termination} - "-" 0 95 1 - "-" "curl/8.5.0" "7e3c9a1e-5b1d-4c1e-9d7e-2f1a3b4c5d6e" "productpage:9080" "10.244.0.11:9080" outbound|9080||productpage.bookinfo.svc.cluster.local 10.244.0.10:40112 10.96.0.20:9080 10.244.0.10:51234 - default"#),
            ("2025-03-01T10:00:02.400000000Z", r#"[2025-03-01T10:00:02.340Z] "GET /productpage HTTP/1.1" 503 UF upstream_reset_before_response_started{connection_failure} - "-" 0 91 0 - "-" "curl/8.5.0" "8f4d0b2f-6c2e-4d2f-8e8f-3a2b4c5d6e7f" "productpage:9080" "10.244.0.11:9080" outbound|9080||productpage.bookinfo.svc.cluster.local - 10.96.0.20:9080 10.244.0.10:51236 - default"#),
        ],
    );
    s
}

/// A healthy Istio 1.9+ access line of `loadgen` calling `productpage`, at `at`.
fn bookinfo_ok_line(at: &str, id: u32) -> String {
    format!(
        r#"[{at}] "GET /productpage HTTP/1.1" 200 - via_upstream - "-" 0 5183 38 37 "-" "curl/8.5.0" "6b1d2e3f-0000-4000-8000-{id:012}" "productpage:9080" "10.244.0.11:9080" outbound|9080||productpage.bookinfo.svc.cluster.local 10.244.0.10:40110 10.96.0.20:9080 10.244.0.10:51230 - default"#
    )
}

/// (e) Two changes and a period of successes between them: the
/// DestinationRule (tls DISABLE) applied at T−60 s (A), `loadgen`'s requests
/// succeed until T−2 s, the PeerAuthentication `default` set to STRICT at T
/// (B; without `strict_at`, never written since its creation), 503 UC/UF
/// from T+2 s. The errors followed B; A was followed by successes.
pub fn istio_dr_then_successes_then_strict(strict_at: Option<&str>) -> Scenario {
    let mut s = istio_bookinfo("2025-02-01T09:00:00Z", "2025-03-01T09:59:00Z");
    if let Some(at) = strict_at {
        for o in s.objects.iter_mut() {
            if o["kind"] == "PeerAuthentication" {
                *o = changed(
                    o.clone(),
                    "2024-06-01T08:00:00Z",
                    &[(
                        "kubectl-client-side-apply",
                        "Update",
                        at,
                        json!({"f:metadata": {"f:annotations": {}}, "f:spec": {"f:mtls": {"f:mode": {}}}}),
                    )],
                );
            }
        }
    }
    let oks: Vec<(String, String)> = [
        ("2025-03-01T09:59:10.000", 1),
        ("2025-03-01T09:59:40.000", 2),
        ("2025-03-01T09:59:58.000", 3),
    ]
    .iter()
    .map(|(at, id)| {
        (
            format!("{at}100000Z"),
            bookinfo_ok_line(&format!("{at}Z"), *id),
        )
    })
    .collect();
    let mut lines: Vec<(&str, &str)> = oks.iter().map(|(t, l)| (t.as_str(), l.as_str())).collect();
    lines.extend([
        ("2025-03-01T10:00:02.100000000Z", r#"[2025-03-01T10:00:02.000Z] "GET /productpage HTTP/1.1" 503 UC upstream_reset_before_response_started{connection_termination} - "-" 0 95 1 - "-" "curl/8.5.0" "7e3c9a1e-5b1d-4c1e-9d7e-2f1a3b4c5d6e" "productpage:9080" "10.244.0.11:9080" outbound|9080||productpage.bookinfo.svc.cluster.local 10.244.0.10:40112 10.96.0.20:9080 10.244.0.10:51234 - default"#),
        ("2025-03-01T10:00:03.200000000Z", r#"[2025-03-01T10:00:03.100Z] "GET /productpage HTTP/1.1" 503 UF upstream_reset_before_response_started{connection_failure} - "-" 0 91 0 - "-" "curl/8.5.0" "8f4d0b2f-6c2e-4d2f-8e8f-3a2b4c5d6e7f" "productpage:9080" "10.244.0.11:9080" outbound|9080||productpage.bookinfo.svc.cluster.local - 10.96.0.20:9080 10.244.0.10:51236 - default"#),
    ]);
    s.log_at(
        "bookinfo",
        "loadgen-5f7b9c-w2e3r",
        "istio-proxy",
        false,
        &lines,
    );
    s
}

/// (b) The same DestinationRule, applied a week before; at T a rollout of
/// `productpage-v1` (new ReplicaSet, revision 2) brings pods whose app
/// refuses connections: the server sidecar's inbound 503 UF from T+1 s.
pub fn istio_dr_old_rollout_then_errors() -> Scenario {
    let ns = "bookinfo";
    let mut s = istio_bookinfo("2025-02-22T10:00:00Z", "2025-02-22T10:00:00Z");
    for o in s.objects.iter_mut() {
        let name = o["metadata"]["name"].as_str().unwrap_or("").to_string();
        match (o["kind"].as_str(), name.as_str()) {
            (Some("Deployment"), "productpage-v1") => {
                o["metadata"]["generation"] = json!(2);
                o["status"]["observedGeneration"] = json!(2);
                *o = changed(
                    o.clone(),
                    "2024-12-01T09:00:00Z",
                    &[(
                        "kubectl-client-side-apply",
                        "Update",
                        T,
                        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {}}}}}),
                    )],
                );
            }
            (Some("ReplicaSet"), "productpage-v1-5f7b9c") => {
                o["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "2"});
                *o = changed(
                    o.clone(),
                    T,
                    &[(
                        "kube-controller-manager",
                        "Update",
                        T,
                        json!({"f:metadata": {"f:annotations": {}, "f:ownerReferences": {}}, "f:spec": {"f:replicas": {}, "f:template": {}}}),
                    )],
                );
            }
            (Some("Pod"), "productpage-v1-5f7b9c-t5y6u") => {
                o["metadata"]["creationTimestamp"] = json!(T);
                for st in o["status"]["containerStatuses"].as_array_mut().unwrap() {
                    st["state"] = json!({"running": {"startedAt": "2025-03-01T10:00:01Z"}});
                }
            }
            _ => {}
        }
    }
    s.log_at(
        ns,
        "productpage-v1-5f7b9c-t5y6u",
        "istio-proxy",
        false,
        &[
            ("2025-03-01T10:00:01.300000000Z", r#"[2025-03-01T10:00:01.250Z] "GET /productpage HTTP/1.1" 503 UF upstream_reset_before_response_started{connection_failure|delayed_connect_error:_Connection_refused} - "delayed_connect_error:_Connection_refused" 0 145 0 - "-" "curl/8.5.0" "1a2b3c4d-0000-4000-8000-000000000001" "productpage:9080" "10.244.0.11:9080" inbound|9080|| - 10.244.0.11:9080 10.244.0.10:51234 outbound_.9080_._.productpage.bookinfo.svc.cluster.local default"#),
            ("2025-03-01T10:00:04.600000000Z", r#"[2025-03-01T10:00:04.500Z] "GET /productpage HTTP/1.1" 503 UF upstream_reset_before_response_started{connection_failure|delayed_connect_error:_Connection_refused} - "delayed_connect_error:_Connection_refused" 0 145 0 - "-" "curl/8.5.0" "1a2b3c4d-0000-4000-8000-000000000002" "productpage:9080" "10.244.0.11:9080" inbound|9080|| - 10.244.0.11:9080 10.244.0.10:51240 outbound_.9080_._.productpage.bookinfo.svc.cluster.local default"#),
        ],
    );
    s
}

/// (c) `web` calls `api` (Linkerd); at T someone adds a NetworkPolicy that
/// allows the app port but not the proxy's 4143: connect timeouts, then
/// fail-fast, from T+3 s.
pub fn linkerd_netpol_added_then_errors() -> Scenario {
    let ns = "shop";
    let mut s = shop_web_and_api(ns);
    let np = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "api-allow-http", "namespace": ns, "generation": 1},
        "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": 8080}]}]}});
    s.objects.push(changed(
        np,
        T,
        &[(
            "kubectl-client-side-apply",
            "Update",
            T,
            json!({"f:metadata": {"f:annotations": {}}, "f:spec": {"f:ingress": {}, "f:podSelector": {}, "f:policyTypes": {}}}),
        )],
    ));
    s.log_at(
        ns,
        "web-5f7b9c-k8s9d",
        "linkerd-proxy",
        false,
        &[
            ("2025-03-01T10:00:03.102000000Z", "[  3603.102345s]  WARN ThreadId(01) outbound:proxy{addr=10.96.0.20:8080}:service{ns=shop name=api port=8080}:endpoint{addr=10.244.0.11:8080}: linkerd_reconnect: Failed to connect error=connect timed out after 1s"),
            ("2025-03-01T10:00:06.203000000Z", "[  3606.203456s]  WARN ThreadId(01) outbound:proxy{addr=10.96.0.20:8080}:service{ns=shop name=api port=8080}: linkerd_stack::failfast: Service entering failfast after 3s"),
            ("2025-03-01T10:00:06.204000000Z", "[  3606.204567s]  INFO ThreadId(01) outbound:proxy{addr=10.96.0.20:8080}:rescue{client.addr=10.244.0.10:43210}: linkerd_app_core::errors::respond: HTTP/1.1 request failed error=logical service 10.96.0.20:8080: service in fail-fast error.sources=[service in fail-fast]"),
        ],
    );
    s
}

/// (d) The Linkerd trust anchor expired at T (its notAfter); `web`'s proxy,
/// restarted a second later, cannot get an identity.
pub fn linkerd_trust_anchor_expired_then_errors() -> Scenario {
    let ns = "shop";
    let mut s = Scenario::default();
    s.crds(&["linkerd.io", "policy.linkerd.io"]);
    s.objects.push(namespace(
        ns,
        json!({"linkerd.io/inject": "enabled"}),
        json!({}),
    ));
    for mut o in linkerd_control_plane(&testdata("valid-until-2035.pem"), "Ignore") {
        if o["kind"] == "ConfigMap" {
            o["data"]["ca-bundle.crt"] = json!(testdata("trust-anchor-expired-2025-03-01.pem"));
        }
        s.objects.push(o);
    }
    s.objects.extend(deployment(ns, "web", "web", 1));
    let mut p = pod(
        ns,
        "web-5f7b9c-k8s9d",
        "web",
        "web",
        8080,
        Some("linkerd"),
        Health::Running,
    );
    p["status"]["containerStatuses"][1] = json!({"name": "linkerd-proxy", "ready": false, "restartCount": 1,
        "state": {"running": {"startedAt": "2025-03-01T10:00:01Z"}},
        "lastState": {"terminated": {"reason": "Error", "exitCode": 1,
            "startedAt": "2025-01-01T00:00:00Z", "finishedAt": "2025-03-01T10:00:00Z"}}});
    s.objects.push(p);
    s.log_at(
        ns,
        "web-5f7b9c-k8s9d",
        "linkerd-proxy",
        false,
        &[
            ("2025-03-01T10:00:01.002104000Z", "[     0.002104s]  INFO ThreadId(01) linkerd2_proxy: Using single-threaded proxy runtime"),
            ("2025-03-01T10:00:06.012345000Z", "[     5.012345s]  WARN ThreadId(01) identity:controller{addr=linkerd-identity-headless.linkerd.svc.cluster.local:8080}:endpoint{addr=10.244.0.3:8080}: linkerd_reconnect: Failed to connect error=invalid peer certificate: Expired"),
            ("2025-03-01T10:00:16.034567000Z", "[    15.034567s]  WARN ThreadId(01) linkerd_app: Waiting for identity to be initialized..."),
        ],
    );
    s
}

/// (d′) The same, the expired trust anchor held only in the issuer Secret
/// (`kubernetes.io/tls`: `ca.crt` the anchor, `tls.crt` the issuer,
/// `tls.key` its key): no ConfigMap copy, so a bundle of it holds no
/// certificate text at all once the Secret's data is redacted.
pub fn linkerd_trust_anchor_expired_in_secret_then_errors() -> Scenario {
    let mut s = linkerd_trust_anchor_expired_then_errors();
    s.objects
        .retain(|o| o["metadata"]["name"] != "linkerd-identity-trust-roots");
    s.objects.push(json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "linkerd-identity-issuer", "namespace": "linkerd"},
        "data": {
            "ca.crt": b64(&testdata("trust-anchor-expired-2025-03-01.pem")),
            "tls.crt": b64(&testdata("valid-until-2035.pem")),
            "tls.key": b64("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBk0c2NlbmFyaW8ta2V5LW5vdC1yZWFsLWF0LWFsbA==\n-----END EC PRIVATE KEY-----\n")}}));
    s
}

/// Linkerd proxy metrics of a client whose calls to `svc` fail fast:
/// `failed` 504s with `outbound_http_errors_total{error="failfast"}`, and
/// `ok` successful responses from other calls.
pub fn linkerd_failfast_metrics(ns: &str, svc: &str, failed: u64, ok: u64) -> String {
    format!(
        "# TYPE response_total counter\n\
response_total{{direction=\"outbound\",authority=\"{svc}.{ns}.svc.cluster.local:8080\",dst_namespace=\"{ns}\",dst_service=\"{svc}\",status_code=\"504\",classification=\"failure\",error=\"\"}} {failed}\n\
response_total{{direction=\"outbound\",authority=\"web.{ns}.svc.cluster.local:8080\",dst_namespace=\"{ns}\",dst_service=\"web\",status_code=\"200\",classification=\"success\",error=\"\"}} {ok}\n\
# TYPE outbound_http_errors_total counter\n\
outbound_http_errors_total{{error=\"failfast\",target_addr=\"10.96.0.20:8080\"}} {failed}\n# EOF\n"
    )
}

/// Linkerd proxy metrics of a healthy server: `n` inbound 200s.
pub fn linkerd_healthy_metrics(n: u64) -> String {
    format!(
        "# TYPE response_total counter\n\
response_total{{direction=\"inbound\",authority=\"web.shop.svc.cluster.local:8080\",target_addr=\"10.244.0.10:8080\",status_code=\"200\",classification=\"success\",error=\"\"}} {n}\n# EOF\n"
    )
}

/// Namespace `shop` for fleet triage, no corpus needed: `client` calls
/// `payments` (scaled to zero, its Service without endpoints) and fails
/// fast; `web` and `cart` are healthy. Proxy metrics are served through the
/// pod proxy for the meshed pods.
pub fn shop_fleet() -> Scenario {
    let ns = "shop";
    let mut s = linkerd_namespace(ns, "valid-until-2035.pem", "Ignore");
    for (app, replicas) in [("client", 1), ("web", 2), ("cart", 1), ("payments", 0)] {
        s.objects.extend(deployment(ns, app, app, replicas));
        s.objects.push(service(ns, app, app, 8080, "http"));
        let pods: Vec<String> = (0..replicas)
            .map(|i| format!("{app}-5f7b9c-{i:05}"))
            .collect();
        for p in &pods {
            s.objects
                .push(pod(ns, p, app, app, 8080, Some("linkerd"), Health::Running));
            let body = if app == "client" {
                linkerd_failfast_metrics(ns, "payments", 812, 188)
            } else {
                linkerd_healthy_metrics(1000)
            };
            s.proxy(ns, p, 4191, "metrics", &body);
        }
        let eps: Vec<(&str, bool)> = pods.iter().map(|p| (p.as_str(), true)).collect();
        s.objects.push(endpointslice(ns, app, 8080, &eps));
    }
    s
}

/// A cluster for `diagnose -A` at scale: `namespaces` namespaces, each with
/// `pods_per_ns` meshed pods in Deployments of 5, a Service (and
/// EndpointSlice) per Deployment, and
/// `netpols_per_ns` NetworkPolicies. Namespace `ns-007` holds the broken
/// `client` of [`shop_fleet`]: its Service `payments` has no endpoint and its
/// pod's proxy fails fast. Every pod serves proxy metrics.
pub fn fleet(namespaces: usize, pods_per_ns: usize, netpols_per_ns: usize) -> Scenario {
    let mut s = Scenario::default();
    s.crds(&["linkerd.io", "policy.linkerd.io"]);
    s.objects.extend(linkerd_control_plane(
        &testdata("valid-until-2035.pem"),
        "Ignore",
    ));
    let healthy = linkerd_healthy_metrics(1000);
    for n in 0..namespaces {
        let ns = format!("ns-{n:03}");
        s.objects.push(namespace(
            &ns,
            json!({"linkerd.io/inject": "enabled"}),
            json!({}),
        ));
        let deploys = pods_per_ns.div_ceil(5);
        for d in 0..deploys {
            let app = format!("app-{d:02}");
            s.objects.extend(deployment(&ns, &app, &app, 5));
            s.objects.push(service(&ns, &app, &app, 8080, "http"));
            let mut eps = Vec::new();
            for i in 0..5.min(pods_per_ns - d * 5) {
                let p = format!("{app}-5f7b9c-{i:05}");
                s.objects.push(pod(
                    &ns,
                    &p,
                    &app,
                    &app,
                    8080,
                    Some("linkerd"),
                    Health::Running,
                ));
                s.proxy(&ns, &p, 4191, "metrics", &healthy);
                eps.push(p);
            }
            let eps: Vec<(&str, bool)> = eps.iter().map(|p| (p.as_str(), true)).collect();
            s.objects.push(endpointslice(&ns, &app, 8080, &eps));
        }
        for i in 0..netpols_per_ns {
            s.objects.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": format!("np-{i}"), "namespace": ns},
                "spec": {"podSelector": {"matchLabels": {"app": format!("app-{:02}", i % deploys.max(1))}}, "policyTypes": ["Ingress"],
                    "ingress": [{"ports": [{"port": 8080}, {"port": 4143}]}]}}));
        }
        if n == 7 {
            s.objects.extend(deployment(&ns, "payments", "payments", 0));
            s.objects
                .push(service(&ns, "payments", "payments", 8080, "http"));
            s.objects.push(endpointslice(&ns, "payments", 8080, &[]));
            s.objects.extend(deployment(&ns, "client", "client", 1));
            let p = "client-5f7b9c-00000";
            s.objects.push(pod(
                &ns,
                p,
                "client",
                "client",
                8080,
                Some("linkerd"),
                Health::Running,
            ));
            s.proxy(
                &ns,
                p,
                4191,
                "metrics",
                &linkerd_failfast_metrics(&ns, "payments", 812, 188),
            );
        }
    }
    s
}

/// One `istio_requests_total` series as an Istio 1.2x sidecar exports it on
/// `:15020/stats/prometheus`: the label set (and order) of the shared
/// corpus's `istio/stats/istio_requests_total-exposition.prom`, with the
/// source and destination workloads, the code and the flags given.
/// `flags: None` leaves `response_flags` out, as a telemetry config that
/// drops it (or an old proxy) exports.
pub fn istio_series(
    reporter: &str,
    src: (&str, &str),
    dst: (&str, &str),
    code: u16,
    flags: Option<&str>,
    n: u64,
) -> String {
    let ((src_ns, src_wl), (dst_ns, dst_wl)) = (src, dst);
    // The destination Service is the workload's name less a `-v1` suffix.
    let svc = dst_wl.trim_end_matches("-v1");
    let flags = flags
        .map(|f| format!("response_flags=\"{f}\","))
        .unwrap_or_default();
    format!(
        "istio_requests_total{{response_code=\"{code}\",reporter=\"{reporter}\",source_workload=\"{src_wl}\",source_workload_namespace=\"{src_ns}\",source_principal=\"spiffe://cluster.local/ns/{src_ns}/sa/{src_wl}\",source_app=\"{src_wl}\",source_version=\"unknown\",source_cluster=\"Kubernetes\",destination_workload=\"{dst_wl}\",destination_workload_namespace=\"{dst_ns}\",destination_principal=\"unknown\",destination_app=\"unknown\",destination_version=\"unknown\",destination_service=\"{svc}.{dst_ns}.svc.cluster.local\",destination_service_name=\"{svc}\",destination_service_namespace=\"{dst_ns}\",destination_cluster=\"Kubernetes\",request_protocol=\"http\",{flags}grpc_response_status=\"\",connection_security_policy=\"unknown\",source_canonical_service=\"{src_wl}\",destination_canonical_service=\"{svc}\",source_canonical_revision=\"latest\",destination_canonical_revision=\"latest\"}} {n}\n"
    )
}

/// Linkerd proxy metrics of an older proxy: `response_total` by
/// `status_code` only, without `classification` or `error`, `failed` 503s
/// from `svc` and `ok` 200s; no `outbound_http_errors_total`.
pub fn linkerd_legacy_metrics(ns: &str, svc: &str, failed: u64, ok: u64) -> String {
    format!(
        "# TYPE response_total counter\n\
response_total{{direction=\"outbound\",authority=\"{svc}.{ns}.svc.cluster.local:8080\",dst_namespace=\"{ns}\",dst_service=\"{svc}\",status_code=\"503\",tls=\"true\"}} {failed}\n\
response_total{{direction=\"outbound\",authority=\"web.{ns}.svc.cluster.local:8080\",dst_namespace=\"{ns}\",dst_service=\"web\",status_code=\"200\",tls=\"true\"}} {ok}\n"
    )
}

/// The Istio workloads of [`mixed_fleet`]'s `bookinfo`: (Deployment, pod,
/// the sidecar's `stats/prometheus` page).
/// - `productpage-v1` calls `reviews` (scaled to zero): 450 × 503 `UH`,
///   and `details` 50 × 200: 90 % of its outbound requests fail;
/// - `ratings-v1` calls `mongodb`, which refuses connections: 120 × 503
///   `UF` and 80 × 200: 60 %;
/// - `details-v1` serves productpage, 300 × 200 and 100 × 503 with no
///   `response_flags` label at all (25 %).
pub fn bookinfo_istio_pages() -> Vec<(&'static str, &'static str, String)> {
    let ns = "bookinfo";
    let head = "# TYPE istio_requests_total counter\n";
    vec![
        (
            "productpage-v1",
            "productpage-v1-5f7b9c-00000",
            format!(
                "{head}{}{}",
                istio_series(
                    "source",
                    (ns, "productpage-v1"),
                    (ns, "unknown"),
                    503,
                    Some("UH"),
                    450
                ),
                istio_series(
                    "source",
                    (ns, "productpage-v1"),
                    (ns, "details-v1"),
                    200,
                    Some("-"),
                    50
                ),
            ),
        ),
        (
            "ratings-v1",
            "ratings-v1-5f7b9c-00000",
            format!(
                "{head}{}{}",
                istio_series(
                    "source",
                    (ns, "ratings-v1"),
                    (ns, "mongodb-v1"),
                    503,
                    Some("UF"),
                    120
                ),
                istio_series(
                    "source",
                    (ns, "ratings-v1"),
                    (ns, "details-v1"),
                    200,
                    Some("-"),
                    80
                ),
            ),
        ),
        (
            "details-v1",
            "details-v1-5f7b9c-00000",
            format!(
                "{head}{}{}",
                istio_series(
                    "destination",
                    (ns, "productpage-v1"),
                    (ns, "details-v1"),
                    200,
                    None,
                    300
                ),
                istio_series(
                    "destination",
                    (ns, "productpage-v1"),
                    (ns, "details-v1"),
                    503,
                    None,
                    100
                ),
            ),
        ),
    ]
}

/// [`shop_fleet`] (Linkerd) plus `shop/legacy`, whose older proxy exports
/// [`linkerd_legacy_metrics`] (300 of 1,000 outbound requests 503), plus an
/// Istio namespace `bookinfo` with the workloads of
/// [`bookinfo_istio_pages`] and `reviews-v1` scaled to zero behind its
/// Service. Every meshed pod serves its page through the pod proxy too.
pub fn mixed_fleet() -> Scenario {
    let mut s = shop_fleet();
    let p = "legacy-5f7b9c-00000";
    s.objects.extend(deployment("shop", "legacy", "legacy", 1));
    s.objects.push(pod(
        "shop",
        p,
        "legacy",
        "legacy",
        8080,
        Some("linkerd"),
        Health::Running,
    ));
    s.proxy(
        "shop",
        p,
        4191,
        "metrics",
        &linkerd_legacy_metrics("shop", "inventory", 300, 700),
    );
    let ns = "bookinfo";
    s.crds(&["networking.istio.io", "security.istio.io"]);
    s.objects.push(namespace(
        ns,
        json!({}),
        json!({"istio-injection": "enabled"}),
    ));
    s.objects
        .push(namespace("istio-system", json!({}), json!({})));
    for (deploy, pod_name, page) in bookinfo_istio_pages() {
        let app = deploy.trim_end_matches("-v1");
        s.objects.extend(deployment(ns, deploy, app, 1));
        s.objects.push(pod(
            ns,
            pod_name,
            app,
            deploy,
            9080,
            Some("istio"),
            Health::Running,
        ));
        s.objects.push(service(ns, app, app, 9080, "http"));
        s.objects
            .push(endpointslice(ns, app, 9080, &[(pod_name, true)]));
        s.proxy(ns, pod_name, 15020, "stats/prometheus", &page);
    }
    s.objects.extend(deployment(ns, "reviews-v1", "reviews", 0));
    s.objects
        .push(service(ns, "reviews", "reviews", 9080, "http"));
    s.objects.push(endpointslice(ns, "reviews", 9080, &[]));
    s
}

pub const REPORT_POD: &str = "report-29001-x7k2p";

/// An Istio-injected namespace `batch` with CronJob `report`: its current
/// Job's pod ran its container to completion, but the `istio-proxy` sidecar
/// (an ordinary container, not a native sidecar) still runs, so the Job never
/// completes. The proxy's log holds only healthy lines.
pub fn istio_job_proxy_outlives_app() -> Scenario {
    let ns = "batch";
    let mut s = Scenario::default();
    s.objects.push(namespace(
        ns,
        json!({}),
        json!({"istio-injection": "enabled"}),
    ));
    s.objects.push(json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "report", "namespace": ns, "uid": "uid-report"},
        "spec": {"schedule": "0 * * * *", "concurrencyPolicy": "Forbid", "jobTemplate": {"spec": {"template": {
            "metadata": {"labels": {"app": "report"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "report", "image": "x"}]}}}}}}));
    let job_name = "report-29001";
    s.objects
        .push(job(ns, job_name, "report", Some(("report", "uid-report"))));
    let mut p = owned_pod(
        pod(
            ns,
            REPORT_POD,
            "report",
            "report",
            8080,
            Some("istio"),
            Health::Running,
        ),
        job_pod_labels("report", job_name),
        ("Job", "batch/v1", job_name, &format!("uid-{job_name}")),
    );
    p["status"]["conditions"] = json!([{"type": "Ready", "status": "False"},
        {"type": "ContainersReady", "status": "False"}]);
    p["status"]["containerStatuses"][0] = json!({"name": "report", "ready": false, "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed",
            "startedAt": "2025-01-01T00:00:01Z", "finishedAt": "2025-01-01T00:00:40Z"}}});
    s.objects.push(p);
    s.log(
        ns,
        REPORT_POD,
        "istio-proxy",
        false,
        "2025-01-01T00:00:01.000000Z\tinfo\tEnvoy proxy is ready\n\
         [2025-01-01T00:00:12.345Z] \"GET /api/orders HTTP/1.1\" 200 - via_upstream - \"-\" 0 5120 41 40 \"-\" \"report/1.0\" \"5b0c\" \"orders.shop:8080\" \"10.244.0.21:8080\" outbound|8080||orders.shop.svc.cluster.local 10.244.0.10:51234 10.96.0.20:8080 10.244.0.10:51230 - default\n",
    );
    s.log(
        ns,
        REPORT_POD,
        "report",
        false,
        "report written: 412 rows\n",
    );
    s
}

pub const ORDERS_POD: &str = "orders-5f7b9c-x2x7k";

/// A Linkerd-injected namespace `shop` with Deployment `orders`: its pod's
/// `orders` container exited 2 s after the `linkerd-proxy` container
/// started (an ordinary container without the `linkerd-await` postStart
/// hook) and ran after one restart. The previous log of `orders` holds the
/// refused connection of its first start; the proxy's log is healthy.
pub fn linkerd_app_starts_before_proxy() -> Scenario {
    let ns = "shop";
    let mut s = Scenario::default();
    s.objects.push(namespace(
        ns,
        json!({"linkerd.io/inject": "enabled"}),
        json!({}),
    ));
    s.objects.extend(deployment(ns, "orders", "orders", 1));
    let mut p = pod(
        ns,
        ORDERS_POD,
        "orders",
        "orders",
        8080,
        Some("linkerd"),
        Health::Running,
    );
    p["status"]["containerStatuses"] = json!([
        {"name": "orders", "ready": true, "restartCount": 1,
            "state": {"running": {"startedAt": "2025-01-01T00:00:09Z"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                "startedAt": "2025-01-01T00:00:02Z", "finishedAt": "2025-01-01T00:00:04Z"}}},
        {"name": "linkerd-proxy", "ready": true, "restartCount": 0,
            "state": {"running": {"startedAt": "2025-01-01T00:00:02Z"}}}
    ]);
    s.objects.push(p);
    s.objects
        .push(service(ns, "orders", "orders", 8080, "http"));
    s.objects
        .push(endpointslice(ns, "orders", 8080, &[(ORDERS_POD, true)]));
    s.log(
        ns,
        ORDERS_POD,
        "linkerd-proxy",
        false,
        "[     0.002103s]  INFO ThreadId(01) linkerd2_proxy: release 2.267.0 (a8bcc3d) by linkerd on 2024-11-20T17:01:25Z\n\
         [     1.901512s]  INFO ThreadId(02) daemon:identity: linkerd_app: Certified identity id=orders.shop.serviceaccount.identity.linkerd.cluster.local\n",
    );
    s.log(ns, ORDERS_POD, "orders", false, "listening on :8080\n");
    s
}
