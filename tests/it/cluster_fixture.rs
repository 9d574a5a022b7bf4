//! The API-server fixture against kubectl (so it stays faithful), and the
//! live collectors against the fixture over real HTTP: which requests they
//! make, that all are GETs, and how 403/404/slow responses degrade a run.

use crate::support;

use meshdoc::collect::cluster::{
    self, Collection, Family, MeshChoice, Needs, Request, Target, client::ClientOptions,
};
use std::process::Command;
use std::time::Duration;
use support::apiserver::{ApiServer, Fault, Recorded, Scenario};
use support::scenarios::{self, Backend, CLIENT_POD};

fn kubectl(server: &ApiServer, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let kc = server.write_kubeconfig(dir, "shop");
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kc)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(args)
        .output()
        .expect("kubectl runs")
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn kubectl_get_pods_reads_the_fixture_as_a_real_api_server() {
    if support::scenarios::skip_without_corpus(
        "kubectl_get_pods_reads_the_fixture_as_a_real_api_server",
    ) {
        return;
    }
    let server = ApiServer::start(scenarios::linkerd_failfast(Backend::CrashLoop));
    let d = tempfile::tempdir().unwrap();
    let out = ok(&kubectl(
        &server,
        d.path(),
        &["get", "pods", "-n", "shop", "-o", "json"],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&CLIENT_POD), "{names:?}");
    assert_eq!(names.len(), 2);
    // Label selectors and paging (kubectl asks for 500 at a time; 1 forces pages).
    let out = ok(&kubectl(
        &server,
        d.path(),
        &[
            "get",
            "pods",
            "-n",
            "shop",
            "-l",
            "app in (payments)",
            "--chunk-size=1",
            "-o",
            "name",
        ],
    ));
    assert_eq!(out.trim(), "pod/payments-5f7b9c-a1b2c");
    let out = ok(&kubectl(
        &server,
        d.path(),
        &["get", "deploy,svc", "-n", "shop", "-o", "name"],
    ));
    assert!(
        out.contains("deployment.apps/payments") && out.contains("service/payments"),
        "{out}"
    );
}

#[test]
fn kubectl_reads_crds_and_logs_and_proxy_metrics_from_the_fixture() {
    if support::scenarios::skip_without_corpus(
        "kubectl_reads_crds_and_logs_and_proxy_metrics_from_the_fixture",
    ) {
        return;
    }
    let server = ApiServer::start(scenarios::istio_dr_tls_conflict());
    let d = tempfile::tempdir().unwrap();
    let out = ok(&kubectl(
        &server,
        d.path(),
        &["get", "destinationrules", "-n", "bookinfo", "-o", "name"],
    ));
    assert_eq!(
        out.trim(),
        "destinationrule.networking.istio.io/productpage"
    );
    let out = ok(&kubectl(
        &server,
        d.path(),
        &[
            "logs",
            "-n",
            "bookinfo",
            "loadgen-5f7b9c-w2e3r",
            "-c",
            "istio-proxy",
            "--tail=1",
        ],
    ));
    assert_eq!(out.lines().count(), 1);
    let out = ok(&kubectl(
        &server,
        d.path(),
        &[
            "get",
            "--raw",
            "/api/v1/namespaces/bookinfo/pods/loadgen-5f7b9c-w2e3r:15020/proxy/stats/prometheus",
        ],
    ));
    assert!(out.contains("istio_requests_total"));
    // A missing CRD is a 404 to kubectl too.
    let out = kubectl(
        &server,
        d.path(),
        &["get", "ciliumnetworkpolicies", "-n", "bookinfo"],
    );
    assert!(!out.status.success());
    let linkerd = ApiServer::start(scenarios::linkerd_failfast(Backend::SelectorMismatch));
    let out = ok(&kubectl(
        &linkerd,
        d.path(),
        &[
            "get",
            "--raw",
            &format!("/api/v1/namespaces/shop/pods/{CLIENT_POD}:4191/proxy/metrics"),
        ],
    ));
    assert!(out.contains("dst_service=\"payments\""));
    let out = ok(&kubectl(
        &linkerd,
        d.path(),
        &["logs", "-n", "shop", CLIENT_POD, "-c", "linkerd-proxy"],
    ));
    assert!(out.contains("service in fail-fast"));
    assert!(linkerd.requests().iter().all(|r| r.method == "GET"));
}

/// Connects through a written kubeconfig, as the CLI does, and collects;
/// the collection's own error is returned for tests about failures.
fn try_collect_with(
    server: &ApiServer,
    target: &str,
    ns: &str,
    needs: Needs,
    timeout: Duration,
) -> Result<Collection, cluster::CollectError> {
    let d = tempfile::tempdir().unwrap();
    let kc = server.write_kubeconfig(d.path(), ns);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, ns, url) = cluster::client::connect(&ClientOptions {
            kubeconfig: Some(kc),
            ..ClientOptions::default()
        })
        .await
        .unwrap();
        cluster::collect(
            client,
            Request {
                target: Target::parse(target).unwrap(),
                namespace: ns,
                since: Duration::from_secs(3600),
                tail: 2000,
                timeout,
                mesh: MeshChoice::Auto,
                needs,
            },
            url,
        )
        .await
    })
}

fn collect_with(
    server: &ApiServer,
    target: &str,
    ns: &str,
    needs: Needs,
    timeout: Duration,
) -> Collection {
    try_collect_with(server, target, ns, needs, timeout).unwrap()
}

fn collect(server: &ApiServer, target: &str, ns: &str) -> Collection {
    collect_with(
        server,
        target,
        ns,
        Needs::everything(),
        Duration::from_secs(30),
    )
}

fn kinds(c: &Collection, kind: &str) -> Vec<String> {
    c.objects
        .iter()
        .filter(|o| o["kind"] == kind)
        .map(|o| o["metadata"]["name"].as_str().unwrap_or("").to_string())
        .collect()
}

fn find<'a>(reqs: &'a [Recorded], path: &str) -> Vec<&'a Recorded> {
    reqs.iter().filter(|r| r.path == path).collect()
}

#[test]
fn a_pod_diagnosis_reads_its_neighbourhood_with_gets_and_selectors_only() {
    if support::scenarios::skip_without_corpus(
        "a_pod_diagnosis_reads_its_neighbourhood_with_gets_and_selectors_only",
    ) {
        return;
    }
    let server = ApiServer::start(scenarios::linkerd_failfast(Backend::CrashLoop));
    let c = collect(&server, &format!("pod/{CLIENT_POD}"), "shop");
    let reqs = server.requests();
    assert!(reqs.iter().all(|r| r.method == "GET"), "{reqs:#?}");
    assert_eq!(c.mesh, Some(meshdoc::rules::Mesh::Linkerd));
    assert_eq!(c.pods, vec![CLIENT_POD.to_string()]);
    assert!(c.failures.is_empty(), "{:#?}", c.failures);
    // Owner chain, and the Service it calls found from its metrics.
    assert_eq!(kinds(&c, "ReplicaSet"), vec!["client-5f7b9c"]);
    assert!(kinds(&c, "Deployment").contains(&"client".to_string()));
    assert_eq!(c.called, vec!["shop/payments"]);
    assert!(kinds(&c, "Service").contains(&"payments".to_string()));
    assert!(kinds(&c, "Pod").contains(&"payments-5f7b9c-a1b2c".to_string()));
    assert!(kinds(&c, "EndpointSlice").contains(&"payments-x7k2p".to_string()));
    // Every object carries apiVersion/kind and namespace even from lists.
    for o in &c.objects {
        assert!(o["apiVersion"].is_string() && o["kind"].is_string(), "{o}");
    }
    // Logs bounded by since/tail, per container; metrics through the pod proxy.
    let logs = find(
        &reqs,
        &format!("/api/v1/namespaces/shop/pods/{CLIENT_POD}/log"),
    );
    assert_eq!(logs.len(), 2);
    for l in &logs {
        assert_eq!(l.param("tailLines").as_deref(), Some("2000"));
        assert_eq!(l.param("sinceSeconds").as_deref(), Some("3600"));
        assert!(l.param("container").is_some());
    }
    assert!(
        c.logs
            .iter()
            .any(|l| l.container == "linkerd-proxy" && l.text.contains("fail-fast"))
    );
    assert_eq!(c.metrics.len(), 1);
    assert_eq!(
        find(
            &reqs,
            &format!("/api/v1/namespaces/shop/pods/{CLIENT_POD}:4191/proxy/metrics")
        )
        .len(),
        1
    );
    // Events by field selector; EndpointSlices by label selector; lists paged.
    // (the pod's, and its ReplicaSet's for the timeline, in either order).
    let ev = find(&reqs, "/api/v1/namespaces/shop/events");
    let pod_events = format!("involvedObject.name={CLIENT_POD}");
    assert!(
        ev.iter()
            .any(|r| r.param("fieldSelector").as_deref() == Some(pod_events.as_str())),
        "no Events request for the pod"
    );
    assert!(ev.iter().all(|r| r.param("fieldSelector").is_some()));
    let eps = find(
        &reqs,
        "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices",
    );
    assert!(eps.iter().any(
        |r| r.param("labelSelector").as_deref() == Some("kubernetes.io/service-name=payments")
    ));
    for r in reqs
        .iter()
        .filter(|r| r.query.contains("labelSelector") || r.path.ends_with("services"))
    {
        assert_eq!(r.param("limit").as_deref(), Some("500"), "{r:?}");
    }
    // Neighbourhood, not cluster: nothing cluster-wide except the named webhook and namespaces.
    for r in &reqs {
        assert!(
            r.path.contains("/namespaces/")
                || r.path.ends_with(
                    "/mutatingwebhookconfigurations/linkerd-proxy-injector-webhook-config"
                ),
            "cluster-wide request {r:?}"
        );
    }
    // Mesh objects read for Linkerd only; the trust roots GET by name.
    assert_eq!(
        find(
            &reqs,
            "/api/v1/namespaces/linkerd/configmaps/linkerd-identity-trust-roots"
        )
        .len(),
        1
    );
    assert!(!reqs.iter().any(|r| r.path.contains("istio")));
    // The empty Service triggers the Deployments list (zero replicas? selector typo?).
    assert_eq!(
        find(&reqs, "/apis/apps/v1/namespaces/shop/deployments").len(),
        1
    );
}

#[test]
fn a_restarted_container_also_has_its_previous_log_read() {
    if support::scenarios::skip_without_corpus(
        "a_restarted_container_also_has_its_previous_log_read",
    ) {
        return;
    }
    let server = ApiServer::start(scenarios::linkerd_failfast(Backend::CrashLoop));
    let c = collect(&server, "pod/payments-5f7b9c-a1b2c", "shop");
    let prev: Vec<_> = c.logs.iter().filter(|l| l.previous).collect();
    assert_eq!(prev.len(), 1);
    assert_eq!(prev[0].container, "payments");
    assert!(prev[0].text.contains("panic"));
    assert!(c.events.iter().any(|e| e["reason"] == "BackOff"));
    // The proxy has not restarted: no previous log asked for it.
    assert!(
        !server
            .requests()
            .iter()
            .any(|r| r.param("previous").as_deref() == Some("true")
                && r.param("container").as_deref() == Some("linkerd-proxy"))
    );
}

#[test]
fn deploy_and_svc_targets_resolve_to_their_pods_by_selector() {
    if support::scenarios::skip_without_corpus(
        "deploy_and_svc_targets_resolve_to_their_pods_by_selector",
    ) {
        return;
    }
    let server = ApiServer::start(scenarios::linkerd_netpol());
    let c = collect(&server, "deployment/api", "shop");
    assert_eq!(c.pods.len(), 2);
    assert!(c.pods.iter().all(|p| p.starts_with("api-")));
    let reqs = server.requests();
    let pods = find(&reqs, "/api/v1/namespaces/shop/pods");
    assert_eq!(pods[0].param("labelSelector").as_deref(), Some("app=api"));
    server.clear_requests();
    let c = collect(&server, "svc/api", "shop");
    assert_eq!(c.pods.len(), 2);
    assert!(kinds(&c, "EndpointSlice").contains(&"api-x7k2p".to_string()));
    assert!(kinds(&c, "NetworkPolicy").contains(&"api-allow-http".to_string()));
}

#[test]
fn a_403_on_networkpolicies_is_missing_evidence_and_the_rest_is_collected() {
    if support::scenarios::skip_without_corpus(
        "a_403_on_networkpolicies_is_missing_evidence_and_the_rest_is_collected",
    ) {
        return;
    }
    let mut s = scenarios::linkerd_netpol();
    s.fault(Fault::status(
        "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies",
        403,
    ));
    let server = ApiServer::start(s);
    let c = collect(&server, "pod/web-5f7b9c-k8s9d", "shop");
    assert_eq!(c.failures.len(), 1, "{:#?}", c.failures);
    let f = &c.failures[0];
    assert_eq!(f.resource, Some("networkpolicies"));
    assert_eq!(f.family, Family::Objects);
    assert!(f.what.contains("NetworkPolicies"), "{}", f.what);
    assert!(f.reason.contains("forbidden (403)"), "{}", f.reason);
    assert!(kinds(&c, "EndpointSlice").contains(&"api-x7k2p".to_string()));
    assert!(!c.logs.is_empty());
}

#[test]
fn a_missing_crd_is_a_note_when_optional_and_missing_evidence_otherwise() {
    if support::scenarios::skip_without_corpus(
        "a_missing_crd_is_a_note_when_optional_and_missing_evidence_otherwise",
    ) {
        return;
    }
    let mut s = scenarios::linkerd_failfast(Backend::ZeroReplicas);
    s.crd_groups.remove("policy.linkerd.io");
    let server = ApiServer::start(s);
    let c = collect(&server, &format!("pod/{CLIENT_POD}"), "shop");
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("CiliumNetworkPolicies: CRD not installed"))
    );
    assert!(
        !c.failures
            .iter()
            .any(|f| f.resource == Some("ciliumnetworkpolicies"))
    );
    let servers: Vec<_> = c
        .failures
        .iter()
        .filter(|f| f.resource == Some("servers"))
        .collect();
    assert_eq!(servers.len(), 1);
    assert!(servers[0].reason.contains("404"));
}

#[test]
fn a_failed_pod_proxy_says_why_and_the_collection_carries_on() {
    if support::scenarios::skip_without_corpus(
        "a_failed_pod_proxy_says_why_and_the_collection_carries_on",
    ) {
        return;
    }
    let mut s = scenarios::linkerd_failfast(Backend::ZeroReplicas);
    s.proxy.clear();
    let server = ApiServer::start(s);
    let c = collect(&server, &format!("pod/{CLIENT_POD}"), "shop");
    let f: Vec<_> = c
        .failures
        .iter()
        .filter(|f| f.family == Family::Metrics)
        .collect();
    assert_eq!(f.len(), 1);
    assert!(
        f[0].reason.contains("connection refused"),
        "{}",
        f[0].reason
    );
    // One request: no retry storm on the 503.
    let reqs = server.requests();
    assert_eq!(
        reqs.iter()
            .filter(|r| r.path.contains(":4191/proxy"))
            .count(),
        1
    );
    assert!(!c.logs.is_empty());
}

#[test]
fn the_timeout_is_honoured_and_partial_results_are_returned() {
    if support::scenarios::skip_without_corpus(
        "the_timeout_is_honoured_and_partial_results_are_returned",
    ) {
        return;
    }
    let mut s = scenarios::linkerd_failfast(Backend::ZeroReplicas);
    s.fault(Fault::slow(
        "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies",
        Duration::from_secs(20),
    ));
    let server = ApiServer::start(s);
    let t = std::time::Instant::now();
    let c = collect_with(
        &server,
        &format!("pod/{CLIENT_POD}"),
        "shop",
        Needs::everything(),
        Duration::from_secs(2),
    );
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    assert!(
        c.failures
            .iter()
            .any(|f| f.resource == Some("networkpolicies") && f.reason.contains("--timeout")),
        "{:#?}",
        c.failures
    );
    assert!(
        !c.logs.is_empty(),
        "what finished before the timeout is kept"
    );
    assert_eq!(c.pods, vec![CLIENT_POD.to_string()]);
}

#[test]
fn logs_and_metrics_are_not_read_when_no_loaded_rule_needs_them() {
    if support::scenarios::skip_without_corpus(
        "logs_and_metrics_are_not_read_when_no_loaded_rule_needs_them",
    ) {
        return;
    }
    let server = ApiServer::start(scenarios::linkerd_failfast(Backend::ZeroReplicas));
    let mut needs = Needs::default();
    needs.facts.insert("netpol-blocks-proxy-port".into());
    let c = collect_with(
        &server,
        &format!("pod/{CLIENT_POD}"),
        "shop",
        needs,
        Duration::from_secs(30),
    );
    let reqs = server.requests();
    assert!(c.logs.is_empty() && c.metrics.is_empty());
    assert!(
        !reqs
            .iter()
            .any(|r| r.path.ends_with("/log") || r.path.contains("/proxy/"))
    );
    assert!(
        find(
            &reqs,
            "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies"
        )
        .len()
            == 1
    );
    // Only resources feeding a loaded fact: no ServiceProfiles, no webhook.
    assert!(
        !reqs
            .iter()
            .any(|r| r.path.contains("serviceprofiles") || r.path.contains("mutatingwebhook"))
    );
}

#[test]
fn an_unmeshed_pod_in_an_injecting_namespace_is_treated_as_linkerd() {
    let server = ApiServer::start(scenarios::linkerd_injector_expired());
    let c = collect(&server, "pod/web-5f7b9c-p0o9i", "shop");
    assert_eq!(c.mesh, Some(meshdoc::rules::Mesh::Linkerd));
    assert!(
        kinds(&c, "MutatingWebhookConfiguration")
            .contains(&"linkerd-proxy-injector-webhook-config".to_string())
    );
    assert!(c.metrics.is_empty(), "no proxy, no proxy metrics");
}

#[test]
fn istio_config_is_read_in_the_namespace_and_the_root_namespace() {
    if support::scenarios::skip_without_corpus(
        "istio_config_is_read_in_the_namespace_and_the_root_namespace",
    ) {
        return;
    }
    let server = ApiServer::start(scenarios::istio_dr_tls_conflict());
    let c = collect(&server, "pod/loadgen-5f7b9c-w2e3r", "bookinfo");
    assert_eq!(c.mesh, Some(meshdoc::rules::Mesh::Istio));
    assert_eq!(kinds(&c, "DestinationRule"), vec!["productpage"]);
    assert_eq!(kinds(&c, "PeerAuthentication"), vec!["default"]);
    assert!(kinds(&c, "ConfigMap").contains(&"istio".to_string()));
    assert_eq!(c.called, vec!["bookinfo/productpage"]);
    let reqs = server.requests();
    assert_eq!(
        find(
            &reqs,
            "/api/v1/namespaces/bookinfo/pods/loadgen-5f7b9c-w2e3r:15020/proxy/stats/prometheus"
        )
        .len(),
        1
    );
    assert!(
        find(
            &reqs,
            "/apis/security.istio.io/v1beta1/namespaces/istio-system/peerauthentications"
        )
        .len()
            == 1
    );
    assert!(!reqs.iter().any(|r| r.path.contains("linkerd")));
}

#[test]
fn a_missing_target_is_an_error_not_a_partial_diagnosis() {
    let server = ApiServer::start(Scenario::default());
    let r = try_collect_with(
        &server,
        "pod/nope",
        "shop",
        Needs::everything(),
        Duration::from_secs(5),
    );
    assert!(
        r.unwrap_err()
            .to_string()
            .contains("pod/nope not found in namespace shop")
    );
}

#[test]
fn statefulset_daemonset_and_job_targets_resolve_to_their_pods_by_selector() {
    if scenarios::skip_without_corpus(
        "statefulset_daemonset_and_job_targets_resolve_to_their_pods_by_selector",
    ) {
        return;
    }
    let server = ApiServer::start(scenarios::linkerd_failfast_workloads());
    for (target, get, pod) in [
        (
            "statefulset.apps/ledger",
            "/apis/apps/v1/namespaces/shop/statefulsets/ledger",
            scenarios::LEDGER_POD,
        ),
        (
            "ds/node-agent",
            "/apis/apps/v1/namespaces/shop/daemonsets/node-agent",
            "node-agent-h7j8k",
        ),
        (
            "job/settle-28930140",
            "/apis/batch/v1/namespaces/shop/jobs/settle-28930140",
            scenarios::SETTLE_POD,
        ),
    ] {
        server.clear_requests();
        let c = collect(&server, target, "shop");
        assert_eq!(c.pods, vec![pod.to_string()], "{target}");
        let reqs = server.requests();
        assert_eq!(find(&reqs, get).len(), 1, "{target}: {reqs:?}");
        assert!(reqs.iter().all(|r| r.method == "GET"));
    }
}

#[test]
fn a_cronjob_target_resolves_to_the_pods_of_the_jobs_it_owns() {
    if scenarios::skip_without_corpus("a_cronjob_target_resolves_to_the_pods_of_the_jobs_it_owns") {
        return;
    }
    let server = ApiServer::start(scenarios::linkerd_failfast_workloads());
    let c = collect(&server, "cj/settle", "shop");
    assert_eq!(c.target, "cronjob/settle");
    // settle-old's owner is an earlier CronJob of the same name (another uid).
    assert_eq!(c.pods, vec![scenarios::SETTLE_POD.to_string()]);
    assert_eq!(kinds(&c, "CronJob"), vec!["settle"]);
    assert_eq!(kinds(&c, "Job"), vec!["settle-28930140"]);
    let reqs = server.requests();
    assert_eq!(
        find(&reqs, "/apis/batch/v1/namespaces/shop/cronjobs/settle").len(),
        1
    );
    assert_eq!(find(&reqs, "/apis/batch/v1/namespaces/shop/jobs").len(), 1);
    let selectors: Vec<String> = find(&reqs, "/api/v1/namespaces/shop/pods")
        .iter()
        .filter_map(|r| r.param("labelSelector"))
        .collect();
    // The current Job's pods by its selector (then the called Service's pods).
    assert_eq!(
        selectors[0],
        "batch.kubernetes.io/controller-uid=uid-settle-28930140"
    );
    assert!(
        !selectors.iter().any(|s| s.contains("settle-old")),
        "{selectors:?}"
    );
}

#[test]
fn a_missing_statefulset_is_an_error_naming_it() {
    let server = ApiServer::start(scenarios::linkerd_injector_expired());
    let err = try_collect_with(
        &server,
        "sts/nope",
        "shop",
        Needs::everything(),
        Duration::from_secs(10),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "sts/nope not found in namespace shop");
}
