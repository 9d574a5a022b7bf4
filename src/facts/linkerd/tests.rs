use super::*;
use crate::collect::manifests::load_str;
use crate::facts::ObjectSet;

fn run(yaml: &str) -> Vec<Fact> {
    let set = load_str(yaml, "t.yaml", "default").unwrap();
    run_set(&set)
}

fn run_set(set: &ObjectSet) -> Vec<Fact> {
    let ix = Index::new(set);
    let mut out = Vec::new();
    let opts = FactOptions {
        now: crate::rules::examples::example_now(),
        ..FactOptions::default()
    };
    facts(&ix, &opts, &mut out);
    out
}

fn names(f: &[Fact]) -> Vec<&str> {
    f.iter().map(|f| f.name).collect()
}

fn nats(ann: &str, app_protocol: &str) -> String {
    format!(
        "
apiVersion: apps/v1
kind: Deployment
metadata: {{name: nats, namespace: nats-system}}
spec:
  selector: {{matchLabels: {{app: nats}}}}
  template:
    metadata:
      labels: {{app: nats}}
      annotations:
        linkerd.io/inject: enabled
        {ann}
    spec:
      containers:
      - name: nats
        ports: [{{containerPort: 4222, name: client}}]
---
apiVersion: v1
kind: Service
metadata: {{name: nats, namespace: nats-system}}
spec:
  selector: {{app: nats}}
  ports:
  - name: nats
    port: 4222
    targetPort: client
    {app_protocol}
"
    )
}

#[test]
fn a_meshed_nats_port_without_opaque_marking_stalls_in_detection() {
    let f = run(&nats("", ""));
    assert_eq!(names(&f), ["server-speaks-first-port-not-opaque"]);
    assert_eq!(f[0].subject.kind, "Service");
    assert_eq!(f[0].subject.field.as_deref(), Some("spec.ports[0]"));
    assert_eq!(f[0].vars["port"], "4222");
    assert!(
        f[0].patch
            .as_deref()
            .unwrap_or("")
            .contains("appProtocol: tcp")
    );
}

#[test]
fn app_protocol_tcp_on_the_service_as_in_the_linkerd_guide_is_enough() {
    // Seed 002's fix: `appProtocol: tcp` on the Service port.
    let f = run(&nats("", "appProtocol: tcp"));
    assert!(
        f.is_empty(),
        "{:?}",
        f.iter().map(|f| &f.message).collect::<Vec<_>>()
    );
}

#[test]
fn opaque_on_the_pod_but_not_on_the_service_is_a_mismatch() {
    let f = run(&nats("config.linkerd.io/opaque-ports: \"4222\"", ""));
    assert_eq!(names(&f), ["opaque-ports-mismatch"]);
    assert!(
        f[0].message.contains("Deployment nats port 4222 is opaque"),
        "{}",
        f[0].message
    );
}

#[test]
fn opaque_on_both_sides_raises_nothing() {
    let y = nats("config.linkerd.io/opaque-ports: \"client\"", "").replace(
            "metadata: {name: nats, namespace: nats-system}\nspec:\n  selector: {app: nats}",
            "metadata: {name: nats, namespace: nats-system, annotations: {config.linkerd.io/opaque-ports: \"4222\"}}\nspec:\n  selector: {app: nats}",
        );
    assert!(run(&y).is_empty(), "{:?}", names(&run(&y)));
}

#[test]
fn mysql_on_3306_is_opaque_by_default() {
    let y = nats("", "").replace("4222", "3306");
    assert!(run(&y).is_empty());
}

#[test]
fn an_unmeshed_workload_is_not_judged() {
    assert!(run(&nats("", "").replace("linkerd.io/inject: enabled", "x: y")).is_empty());
}

#[test]
fn namespace_injection_meshes_the_pod_and_a_pod_annotation_can_opt_out() {
    let ns = "---\nkind: Namespace\napiVersion: v1\nmetadata: {name: nats-system, annotations: {linkerd.io/inject: enabled}}\n";
    let y = nats("", "").replace("linkerd.io/inject: enabled", "x: y") + ns;
    assert_eq!(names(&run(&y)), ["server-speaks-first-port-not-opaque"]);
    let y2 = nats("", "").replace("linkerd.io/inject: enabled", "linkerd.io/inject: disabled") + ns;
    assert!(run(&y2).is_empty());
}

#[test]
fn a_server_speaks_first_port_without_a_service_is_reported_on_the_container_port() {
    let y = nats("", "");
    let y = &y[..y.find("---").unwrap_or(y.len())];
    let f = run(y);
    assert_eq!(names(&f), ["server-speaks-first-port-not-opaque"]);
    assert_eq!(
        f[0].subject.field.as_deref(),
        Some("spec.template.spec.containers[0].ports[0]")
    );
}

#[test]
fn opaque_port_ranges_and_names_resolve() {
    let s = PortSet::parse("25, 4000-4100 ,http", None);
    assert!(s.contains(25) && s.contains(4050) && !s.contains(4101) && !s.contains(80));
}

#[test]
fn the_linkerd_opaque_ports_test_application_is_consistent() {
    let text = std::fs::read_to_string(
        "/work/shared/corpus/linkerd/manifests/linkerd2-test__integration__deep__opaqueports__testdata__opaque_ports_application.yaml",
    );
    let Ok(text) = text else { return };
    let set = load_str(&text, "opaque.yaml", "default").unwrap();
    let f = run_set(&set);
    // The test app marks its opaque ports on purpose on pod and Service.
    for x in &f {
        assert_ne!(
            x.name, "server-speaks-first-port-not-opaque",
            "{}",
            x.message
        );
    }
}

const SP: &str = "
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: web.shop.svc.cluster.local, namespace: shop}
spec:
  routes:
  - name: GET /
    condition: {method: GET, pathRegex: /}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web-canary, namespace: shop}
spec:
  parentRefs:
  - name: web
    kind: Service
    group: core
    port: 80
  rules:
  - backendRefs: [{name: web-canary, port: 80}]
";

#[test]
fn a_service_profile_with_routes_and_an_httproute_on_the_same_service_conflict() {
    let f = run(SP);
    assert_eq!(names(&f), ["serviceprofile-and-httproute-same-service"]);
    assert_eq!(f[0].vars["service"], "web");
    assert_eq!(f[0].related[0].kind, "HTTPRoute");
}

#[test]
fn an_httproute_on_another_service_does_not_conflict() {
    assert!(run(&SP.replace("- name: web\n", "- name: api\n")).is_empty());
}

fn webhook_yaml(bundle: &str, policy: &str) -> String {
    format!(
        "
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {{name: linkerd-proxy-injector-webhook-config}}
webhooks:
- name: linkerd-proxy-injector.linkerd.io
  clientConfig:
    service: {{name: linkerd-proxy-injector, namespace: linkerd}}
    caBundle: {bundle}
  failurePolicy: {policy}
"
    )
}

fn b64(pem: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(pem)
}

#[test]
fn an_expired_injector_ca_bundle_is_reported_with_its_expiry() {
    let f = run(&webhook_yaml(&b64(certs::tests::EXPIRED_PEM), "Fail"));
    assert_eq!(names(&f), ["injector-webhook-cert-expired"]);
    assert_eq!(f[0].vars["expires"], "2025-01-01T00:00:00Z");
    assert_eq!(
        f[0].subject.field.as_deref(),
        Some("webhooks[0].clientConfig.caBundle")
    );
}

#[test]
fn a_bundle_expiring_inside_the_warning_window_is_expiring_not_expired() {
    let pem = include_str!("../../../tests/testdata/check/certs/expiring.pem");
    let f = run(&webhook_yaml(&b64(pem), "Fail"));
    assert_eq!(names(&f), ["injector-webhook-cert-expiring"]);
    assert!(run(&webhook_yaml(&b64(certs::tests::VALID_PEM), "Fail")).is_empty());
}

#[test]
fn the_linkerd_install_default_webhook_fails_open_but_its_placeholder_bundle_is_not_judged() {
    let text = std::fs::read_to_string(
        "/work/shared/corpus/linkerd/manifests/linkerd2-cli__cmd__testdata__install_default.golden__webhook-configurations.yaml",
    );
    let Ok(text) = text else { return };
    let f = run(&text);
    assert_eq!(names(&f), ["injector-webhook-fails-open"]);
    assert_eq!(
        f[0].subject.field.as_deref(),
        Some("webhooks[0].failurePolicy")
    );
}

#[test]
fn an_expired_trust_anchor_in_the_trust_roots_config_map_is_reported() {
    let pem = certs::tests::EXPIRED_PEM.replace('\n', "\n    ");
    let y = format!(
        "kind: ConfigMap\napiVersion: v1\nmetadata: {{name: linkerd-identity-trust-roots, namespace: linkerd}}\ndata:\n  ca-bundle.crt: |\n    {pem}\n"
    );
    let f = run(&y);
    assert_eq!(names(&f), ["trust-anchor-expired"]);
}

#[test]
fn a_pod_in_an_injected_namespace_without_the_proxy_is_reported_with_a_restart() {
    let y = "
kind: Namespace
metadata: {name: shop, annotations: {linkerd.io/inject: enabled}}
---
kind: Pod
metadata:
  name: web-5d9f8c7b6-abcde
  namespace: shop
  ownerReferences: [{kind: ReplicaSet, name: web-5d9f8c7b6}]
spec:
  containers: [{name: web}]
";
    let f = run(y);
    assert_eq!(names(&f), ["meshed-pod-missing-proxy"]);
    assert_eq!(f[0].vars["deployment"], "web");
    let ok = y.replace(
        "containers: [{name: web}]",
        "containers: [{name: web}, {name: linkerd-proxy}]",
    );
    assert!(run(&ok).is_empty());
    // Native sidecar: the proxy as a restartable init container.
    let native = y.replace(
            "  containers: [{name: web}]",
            "  initContainers: [{name: linkerd-proxy, restartPolicy: Always}]\n  containers: [{name: web}]",
        );
    assert!(run(&native).is_empty());
}

#[test]
fn a_pod_in_a_manifest_has_not_met_the_injector_and_is_not_missing_its_proxy() {
    // linkerd.io egress task: a client Pod applied to an injected namespace.
    let y = "
kind: Namespace
metadata: {name: egress-test, annotations: {linkerd.io/inject: enabled}}
---
kind: Pod
metadata: {name: client, namespace: egress-test}
spec:
  containers: [{name: client, image: curlimages/curl}]
";
    assert!(run(y).is_empty());
    let live = y.replace(
        "  containers: [{name: client, image: curlimages/curl}]",
        "  containers: [{name: client, image: curlimages/curl}]\nstatus: {phase: Running}",
    );
    assert_eq!(names(&run(&live)), ["meshed-pod-missing-proxy"]);
}
