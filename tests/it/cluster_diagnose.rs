//! `meshdoc diagnose` and `meshdoc check --cluster` end to end: the built
//! binary against the in-process API server, `-o json`, asserting the rank-1
//! cause (diagnose) and the objects found (check).
//!
//! Two kinds of test live here:
//! - pipeline tests with the stand-in rule in `tests/testdata/cluster/rules`;
//! - scenario tests with the real rule pack and derived facts. They read the
//!   rules from `MESHDOC_TEST_RULES` when set (default: the built-in pack).

use crate::support;

use assert_cmd::Command;
use serde_json::Value;
use std::path::PathBuf;
use support::apiserver::{ApiServer, Fault, Scenario};
use support::scenarios::{self, Backend, CLIENT_POD, SETTLE_POD};

fn stand_in_rules() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/cluster/rules")
}

/// `--rules` arguments for the real pack: MESHDOC_TEST_RULES dirs, or the built-in pack.
fn real_rules() -> Vec<String> {
    match std::env::var_os("MESHDOC_TEST_RULES") {
        Some(v) => std::env::split_paths(&v)
            .flat_map(|p| ["--rules".to_string(), p.display().to_string()])
            .collect(),
        None => Vec::new(),
    }
}

struct Run {
    json: Value,
    stderr: String,
    code: i32,
}

fn diagnose(
    s: Scenario,
    ns: &str,
    target: &str,
    rules: &[String],
    extra: &[&str],
) -> (Run, ApiServer) {
    let mut args = vec!["diagnose".to_string(), target.to_string()];
    args.extend(["-o", "json", "--timeout", "20s"].map(String::from));
    args.extend(rules.iter().cloned());
    args.extend(extra.iter().map(|a| a.to_string()));
    run_against(s, ns, &args)
}

/// Runs meshdoc with `args` against the fixture API server serving `s`, its
/// kubeconfig pointing at namespace `ns`; stdout must be JSON.
fn run_against(s: Scenario, ns: &str, args: &[String]) -> (Run, ApiServer) {
    let server = ApiServer::start(s);
    let d = tempfile::tempdir().unwrap();
    let kc = server.write_kubeconfig(d.path(), ns);
    let out = Command::cargo_bin("meshdoc")
        .unwrap()
        .env_remove("KUBECONFIG")
        .env_remove("MESHDOC_RULES")
        .args(args)
        .arg("--kubeconfig")
        .arg(&kc)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"));
    (
        Run {
            json,
            stderr,
            code: out.status.code().unwrap_or(-1),
        },
        server,
    )
}

fn stand_in() -> Vec<String> {
    vec![
        "--no-builtin".into(),
        "--rules".into(),
        stand_in_rules().display().to_string(),
    ]
}

fn rank1(r: &Run) -> &str {
    r.json["findings"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no findings:\n{}\nstderr:\n{}", r.json, r.stderr))
}

#[test]
fn diagnose_runs_live_and_ranks_what_the_proxy_logs_say() {
    if support::scenarios::skip_without_corpus(
        "diagnose_runs_live_and_ranks_what_the_proxy_logs_say",
    ) {
        return;
    }
    let (r, server) = diagnose(
        scenarios::linkerd_failfast(Backend::ZeroReplicas),
        "shop",
        &format!("pod/{CLIENT_POD}"),
        &stand_in(),
        &[],
    );
    assert_eq!(rank1(&r), "test-cluster-failfast");
    assert_eq!(r.json["command"], "diagnose");
    assert_eq!(r.json["version"], 1);
    // Fix commands carry the real names.
    let fix = r.json["findings"][0]["fix"][0]["command"].as_str().unwrap();
    assert_eq!(fix, format!("kubectl -n shop delete pod {CLIENT_POD}"));
    assert!(r.json["path"].is_array());
    assert!(r.json.get("missing").is_none(), "{}", r.json);
    assert!(
        r.stderr.contains("looked at pod/") && r.stderr.contains("API requests"),
        "{}",
        r.stderr
    );
    assert_eq!(r.code, 1, "an error-severity finding exits 1");
    assert!(server.requests().iter().all(|q| q.method == "GET"));
}

#[test]
fn every_request_of_every_scenario_is_a_get() {
    if support::scenarios::skip_without_corpus("every_request_of_every_scenario_is_a_get") {
        return;
    }
    for (s, ns, target) in [
        (
            scenarios::linkerd_failfast(Backend::SelectorMismatch),
            "shop",
            format!("pod/{CLIENT_POD}"),
        ),
        (
            scenarios::linkerd_netpol(),
            "shop",
            "deploy/web".to_string(),
        ),
        (
            scenarios::linkerd_detect_timeout(),
            "shop",
            "svc/mysql".to_string(),
        ),
        (
            scenarios::linkerd_injector_expired(),
            "shop",
            "pod/web-5f7b9c-p0o9i".to_string(),
        ),
        (
            scenarios::istio_dr_tls_conflict(),
            "bookinfo",
            "pod/loadgen-5f7b9c-w2e3r".to_string(),
        ),
    ] {
        let (_r, server) = diagnose(s, ns, &target, &real_rules(), &[]);
        let reqs = server.requests();
        assert!(!reqs.is_empty());
        for q in reqs {
            assert_eq!(q.method, "GET", "{target}: {q:?}");
        }
    }
}

#[test]
fn a_403_on_networkpolicies_still_diagnoses_and_says_they_could_not_be_read() {
    if support::scenarios::skip_without_corpus(
        "a_403_on_networkpolicies_still_diagnoses_and_says_they_could_not_be_read",
    ) {
        return;
    }
    let mut s = scenarios::linkerd_failfast(Backend::ZeroReplicas);
    s.fault(Fault::status(
        "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies",
        403,
    ));
    let (r, _server) = diagnose(s, "shop", &format!("pod/{CLIENT_POD}"), &stand_in(), &[]);
    assert_eq!(rank1(&r), "test-cluster-failfast");
    let missing = r.json["missing"]
        .as_array()
        .expect("missing evidence listed");
    let np = missing
        .iter()
        .find(|m| m["what"].as_str().unwrap().contains("NetworkPolicies"))
        .expect("NetworkPolicies listed as missing");
    assert!(np["reason"].as_str().unwrap().contains("403"));
    assert_eq!(np["rules"], serde_json::json!(["test-cluster-failfast"]));
    assert_eq!(r.code, 1, "partial evidence does not change the exit code");
    let (strict, _s) = {
        let mut s = scenarios::linkerd_failfast(Backend::ZeroReplicas);
        s.fault(Fault::status(
            "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies",
            403,
        ));
        diagnose(
            s,
            "shop",
            &format!("pod/{CLIENT_POD}"),
            &stand_in(),
            &["--strict"],
        )
    };
    assert_eq!(
        strict.code, 2,
        "--strict turns partial evidence into a failure"
    );
}

#[test]
fn table_output_draws_the_request_path_and_keeps_stdout_free_of_progress() {
    if support::scenarios::skip_without_corpus(
        "table_output_draws_the_request_path_and_keeps_stdout_free_of_progress",
    ) {
        return;
    }
    let server = ApiServer::start(scenarios::linkerd_failfast(Backend::ZeroReplicas));
    let d = tempfile::tempdir().unwrap();
    let kc = server.write_kubeconfig(d.path(), "shop");
    let out = Command::cargo_bin("meshdoc")
        .unwrap()
        .env("NO_COLOR", "1")
        .args(["diagnose", &format!("pod/{CLIENT_POD}"), "--kubeconfig"])
        .arg(&kc)
        .args(stand_in())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("client app → client proxy → server proxy :4143 → ✗ server app"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("looked at"),
        "the summary belongs on stderr"
    );
}

fn save_bundle(s: Scenario, ns: &str, target: &str) -> (tempfile::TempDir, Run) {
    let dir = tempfile::tempdir().unwrap();
    let (r, _server) = diagnose(
        s,
        ns,
        target,
        &stand_in(),
        &["--save-bundle", dir.path().to_str().unwrap()],
    );
    (dir, r)
}

#[test]
fn save_bundle_writes_the_issue_3_layout_redacted() {
    if support::scenarios::skip_without_corpus("save_bundle_writes_the_issue_3_layout_redacted") {
        return;
    }
    let mut s = scenarios::linkerd_failfast(Backend::CrashLoop);
    s.log(
        "shop",
        CLIENT_POD,
        "client",
        false,
        "GET /pay authorization: Bearer s3cr3t-t0ken cookie: sid=abc\n",
    );
    let (dir, r) = save_bundle(s, "shop", &format!("pod/{CLIENT_POD}"));
    assert_eq!(rank1(&r), "test-cluster-failfast");
    let p = dir.path();
    for f in [
        "bundle.yaml",
        "objects/pod.yaml",
        "objects/service.yaml",
        "objects/endpointslice.yaml",
        "objects/mutatingwebhookconfiguration.yaml",
        &format!("logs/shop/{CLIENT_POD}/linkerd-proxy.log"),
        &format!("logs/shop/{CLIENT_POD}/client.log"),
        &format!("metrics/shop/{CLIENT_POD}.prom"),
    ] {
        assert!(p.join(f).is_file(), "{f} missing");
    }
    let app =
        std::fs::read_to_string(p.join(format!("logs/shop/{CLIENT_POD}/client.log"))).unwrap();
    assert!(!app.contains("s3cr3t") && !app.contains("sid=abc"), "{app}");
    let manifest: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(p.join("bundle.yaml")).unwrap()).unwrap();
    assert_eq!(manifest["target"], format!("pod/{CLIENT_POD}"));
    assert_eq!(manifest["meshdoc_version"], env!("CARGO_PKG_VERSION"));
    assert!(manifest["collected_at"].is_string());
    assert!(manifest["failed"].is_array());
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&std::fs::read_to_string(p.join("objects/pod.yaml")).unwrap())
            .unwrap();
    assert!(
        docs.iter()
            .all(|d| d["kind"] == "Pod" && d["metadata"]["namespace"] == "shop")
    );
}

#[test]
fn save_bundle_then_from_gives_identical_findings() {
    if support::scenarios::skip_without_corpus("save_bundle_then_from_gives_identical_findings") {
        return;
    }
    let (dir, live) = save_bundle(
        scenarios::linkerd_failfast(Backend::CrashLoop),
        "shop",
        &format!("pod/{CLIENT_POD}"),
    );
    let out = Command::cargo_bin("meshdoc")
        .unwrap()
        .args(["diagnose", "--from"])
        .arg(dir.path())
        .args(["-o", "json"])
        .args(stand_in())
        .output()
        .unwrap();
    let offline: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let ids = |v: &Value| -> Vec<String> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&live.json), ids(&offline));
    // The same findings with the same scores, naming the same objects; read
    // back from files, the objects also carry their file:line:column.
    let identity = |v: &Value| -> Vec<(String, f64, Vec<String>)> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let objs = f["objects"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|o| format!("{}/{}/{}", o["kind"], o["namespace"], o["name"]))
                            .collect()
                    })
                    .unwrap_or_default();
                (
                    f["id"].as_str().unwrap().to_string(),
                    f["score"].as_f64().unwrap(),
                    objs,
                )
            })
            .collect()
    };
    assert_eq!(identity(&live.json), identity(&offline));
}

// --- Scenario tests: the real rules and facts. ---

fn scenario_rank1(s: Scenario, ns: &str, target: &str) -> (String, Run) {
    let (r, _server) = diagnose(s, ns, target, &real_rules(), &[]);
    (rank1(&r).to_string(), r)
}

#[test]
fn failfast_from_a_service_selector_that_matches_no_pod() {
    if support::scenarios::skip_without_corpus(
        "failfast_from_a_service_selector_that_matches_no_pod",
    ) {
        return;
    }
    let (id, r) = scenario_rank1(
        scenarios::linkerd_failfast(Backend::SelectorMismatch),
        "shop",
        &format!("pod/{CLIENT_POD}"),
    );
    assert_eq!(id, "linkerd-fail-fast", "{}", r.json);
    let objs = r.json["findings"][0]["objects"].to_string();
    assert!(
        objs.contains("payments"),
        "the finding names the Service: {objs}"
    );
}

#[test]
fn failfast_from_a_backend_scaled_to_zero() {
    if support::scenarios::skip_without_corpus("failfast_from_a_backend_scaled_to_zero") {
        return;
    }
    let (id, r) = scenario_rank1(
        scenarios::linkerd_failfast(Backend::ZeroReplicas),
        "shop",
        "deploy/client",
    );
    assert_eq!(id, "linkerd-fail-fast", "{}", r.json);
}

#[test]
fn failfast_from_a_crashlooping_backend() {
    if support::scenarios::skip_without_corpus("failfast_from_a_crashlooping_backend") {
        return;
    }
    let (id, r) = scenario_rank1(
        scenarios::linkerd_failfast(Backend::CrashLoop),
        "shop",
        &format!("pod/{CLIENT_POD}"),
    );
    assert_eq!(id, "linkerd-fail-fast", "{}", r.json);
}

#[test]
fn a_networkpolicy_without_4143_blocks_meshed_traffic() {
    if support::scenarios::skip_without_corpus("a_networkpolicy_without_4143_blocks_meshed_traffic")
    {
        return;
    }
    let (id, r) = scenario_rank1(scenarios::linkerd_netpol(), "shop", "pod/web-5f7b9c-k8s9d");
    assert_eq!(id, "linkerd-netpol-blocks-proxy-port", "{}", r.json);
    assert!(
        r.json["findings"][0]["objects"]
            .to_string()
            .contains("api-allow-http")
    );
}

#[test]
fn detect_timeout_on_a_mysql_port_that_is_not_opaque() {
    if support::scenarios::skip_without_corpus("detect_timeout_on_a_mysql_port_that_is_not_opaque")
    {
        return;
    }
    let (id, r) = scenario_rank1(
        scenarios::linkerd_detect_timeout(),
        "shop",
        "pod/orders-5f7b9c-m5n6b",
    );
    assert_eq!(
        id, "linkerd-detect-timeout-server-speaks-first",
        "{}",
        r.json
    );
}

#[test]
fn an_expired_injector_webhook_certificate() {
    let (id, r) = scenario_rank1(
        scenarios::linkerd_injector_expired(),
        "shop",
        "pod/web-5f7b9c-p0o9i",
    );
    assert_eq!(id, "linkerd-injector-webhook-cert-expired", "{}", r.json);
}

#[test]
fn a_destinationrule_disabling_tls_under_strict_mtls() {
    if support::scenarios::skip_without_corpus("a_destinationrule_disabling_tls_under_strict_mtls")
    {
        return;
    }
    let (id, r) = scenario_rank1(
        scenarios::istio_dr_tls_conflict(),
        "bookinfo",
        "pod/loadgen-5f7b9c-w2e3r",
    );
    assert_eq!(id, "istio-dr-tls-conflict", "{}", r.json);
}

/// Applies a `kubectl patch KIND NAME -n NS --type=json -p '[…]'` command to
/// the scenario's object, as the API server would (add with `/-`, replace,
/// remove).
fn apply_printed_patch(s: &mut Scenario, command: &str) {
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(&words[..2], ["kubectl", "patch"], "{command}");
    let kind = words[2].to_ascii_lowercase();
    let name = words[3].trim_matches('\'');
    let ns = words[words.iter().position(|w| *w == "-n").unwrap() + 1].trim_matches('\'');
    let ops_text = command
        .split_once("-p '")
        .and_then(|(_, r)| r.rsplit_once('\''))
        .map(|(p, _)| p)
        .unwrap_or_else(|| panic!("no JSON patch in {command}"));
    let ops: Vec<Value> = serde_json::from_str(ops_text).unwrap();
    let obj = s
        .objects
        .iter_mut()
        .find(|o| {
            o["kind"].as_str().unwrap_or("").to_ascii_lowercase() == kind
                && o["metadata"]["name"] == name
                && o["metadata"]["namespace"] == ns
        })
        .unwrap_or_else(|| panic!("no {kind} {ns}/{name} to patch"));
    for op in ops {
        let path = op["path"].as_str().unwrap();
        let (parent, last) = path.rsplit_once('/').unwrap();
        let target = obj.pointer_mut(parent).unwrap_or_else(|| panic!("{path}"));
        let key = last.replace("~1", "/").replace("~0", "~");
        match (op["op"].as_str().unwrap(), target) {
            ("add", Value::Array(a)) if key == "-" => a.push(op["value"].clone()),
            ("add" | "replace", Value::Object(m)) => {
                m.insert(key, op["value"].clone());
            }
            ("remove", Value::Object(m)) => {
                m.remove(&key);
            }
            (o, t) => panic!("cannot {o} {path} on {t}"),
        }
    }
}

/// Every patch meshdoc prints for an object cause, applied to the cluster,
/// makes that cause's object fact go away on the next run.
#[test]
fn applying_each_printed_patch_clears_the_object_finding() {
    if support::scenarios::skip_without_corpus(
        "applying_each_printed_patch_clears_the_object_finding",
    ) {
        return;
    }
    for (mut s, target, id, fact_signal) in [
        (
            scenarios::linkerd_netpol(),
            "pod/web-5f7b9c-k8s9d",
            "linkerd-netpol-blocks-proxy-port",
            "policy-omits-4143",
        ),
        (
            scenarios::linkerd_failfast(Backend::SelectorMismatch),
            &*format!("pod/{CLIENT_POD}"),
            "linkerd-fail-fast",
            "selector-matches-nothing",
        ),
    ] {
        let (r, _server) = diagnose(s.clone(), "shop", target, &real_rules(), &[]);
        let has = |run: &Run| {
            run.json["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["id"] == id)
                .flat_map(|f| f["signals"].as_array().cloned().unwrap_or_default())
                .any(|sig| sig["name"] == fact_signal)
        };
        assert!(
            has(&r),
            "{id}: {fact_signal} did not fire before the patch: {}",
            r.json
        );
        let f = r.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .unwrap_or_else(|| panic!("{id} not found: {}", r.json));
        let commands: Vec<String> = f["fix"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["command"].as_str().map(str::to_string))
            .chain(
                f["patches"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str().map(str::to_string)),
            )
            .filter(|c| c.starts_with("kubectl patch"))
            .collect();
        assert!(!commands.is_empty(), "{id}: no patch printed: {f}");
        for c in &commands {
            apply_printed_patch(&mut s, c);
        }
        let (after, _server) = diagnose(s, "shop", target, &real_rules(), &[]);
        let still = has(&after);
        assert!(
            !still,
            "{id}: the object finding survived {commands:?}: {}",
            after.json
        );
    }
}

#[test]
fn a_statefulset_target_is_diagnosed_through_its_pods() {
    if support::scenarios::skip_without_corpus("a_statefulset_target_is_diagnosed_through_its_pods")
    {
        return;
    }
    // The README's example, as written: `meshdoc diagnose sts/ledger -n shop`.
    let (r, server) = diagnose(
        scenarios::linkerd_failfast_workloads(),
        "default",
        "sts/ledger",
        &real_rules(),
        &["-n", "shop"],
    );
    assert_eq!(rank1(&r), "linkerd-fail-fast", "{}", r.json);
    assert_eq!(r.json["input"], "sts/ledger");
    assert!(
        r.stderr.contains("looked at sts/ledger in shop"),
        "{}",
        r.stderr
    );
    assert!(
        server
            .requests()
            .iter()
            .any(|q| q.path == "/api/v1/namespaces/shop/pods/ledger-0/log"),
        "the StatefulSet's pod's logs are read"
    );
    assert_eq!(r.code, 1);
}

#[test]
fn a_cronjob_target_is_diagnosed_through_the_pods_of_its_jobs() {
    if support::scenarios::skip_without_corpus(
        "a_cronjob_target_is_diagnosed_through_the_pods_of_its_jobs",
    ) {
        return;
    }
    let (r, server) = diagnose(
        scenarios::linkerd_failfast_workloads(),
        "shop",
        "cronjob/settle",
        &real_rules(),
        &[],
    );
    assert_eq!(rank1(&r), "linkerd-fail-fast", "{}", r.json);
    let reqs = server.requests();
    assert!(
        reqs.iter()
            .any(|q| q.path == format!("/api/v1/namespaces/shop/pods/{SETTLE_POD}/log")),
        "the current Job's pod's logs are read"
    );
    assert!(
        !reqs.iter().any(|q| q.path.contains("settle-old-a1b2c")),
        "a Job of an earlier CronJob of the same name is not this one's"
    );
}

#[test]
fn an_unknown_target_kind_is_exit_2_and_lists_the_accepted_kinds() {
    let out = Command::cargo_bin("meshdoc")
        .unwrap()
        .args(["diagnose", "configmap/web", "--kubeconfig", "/nonexistent"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown kind `configmap`"), "{err}");
    for k in ["pod/", "deploy/", "sts/", "ds/", "job/", "cronjob/", "svc/"] {
        assert!(err.contains(k), "{k} missing: {err}");
    }
}

// --- `check --cluster`: the object rules over live objects. ---

fn check_cluster(s: Scenario, extra: &[&str]) -> (Run, ApiServer) {
    let mut args: Vec<String> = ["check", "--cluster", "-o", "json"]
        .map(String::from)
        .to_vec();
    args.extend(real_rules());
    args.extend(extra.iter().map(|a| a.to_string()));
    run_against(s, "default", &args)
}

/// `rule @ Kind/namespace/name` of every finding.
fn found(r: &Run) -> Vec<String> {
    r.json["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings array: {}", r.json))
        .iter()
        .map(|f| {
            let l = &f["location"];
            assert!(l.get("file").is_none(), "live objects have no file: {f}");
            format!(
                "{} @ {}/{}/{}",
                f["id"].as_str().unwrap_or(""),
                l["kind"].as_str().unwrap_or(""),
                l["namespace"].as_str().unwrap_or(""),
                l["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

const NETPOL: &str = "linkerd-netpol-blocks-proxy-port @ NetworkPolicy/shop/api-allow-http";
const DR_TLS: &str = "istio-dr-tls-conflict @ DestinationRule/bookinfo/productpage";

#[test]
fn check_cluster_finds_the_networkpolicy_and_the_destinationrule_in_every_namespace() {
    if support::scenarios::skip_without_corpus(
        "check_cluster_finds_the_networkpolicy_and_the_destinationrule_in_every_namespace",
    ) {
        return;
    }
    // `meshdoc check --cluster` without -n, as the README describes it.
    let (r, server) = check_cluster(scenarios::netpol_and_dr_tls(), &[]);
    let got = found(&r);
    assert!(got.iter().any(|f| f == NETPOL), "{got:#?}\n{}", r.stderr);
    assert!(got.iter().any(|f| f == DR_TLS), "{got:#?}\n{}", r.stderr);
    assert_eq!(r.code, 1, "error findings exit 1");
    assert!(r.json.get("missing").is_none(), "{}", r.json["missing"]);
    assert!(
        r.stderr
            .contains("Kubernetes objects from http://127.0.0.1:")
            && r.stderr.contains("all namespaces"),
        "{}",
        r.stderr
    );
    let reqs = server.requests();
    assert!(reqs.iter().all(|q| q.method == "GET"));
    // Whole-cluster lists, not one request per namespace.
    assert!(
        reqs.iter()
            .any(|q| q.path == "/apis/networking.k8s.io/v1/networkpolicies"),
        "{reqs:?}"
    );
    assert!(
        !reqs
            .iter()
            .any(|q| q.path.ends_with("/log") || q.path.contains("/proxy/")),
        "check reads configuration, not logs or metrics"
    );
}

#[test]
fn check_cluster_in_one_namespace_reads_it_and_the_istio_root_namespace_only() {
    if support::scenarios::skip_without_corpus(
        "check_cluster_in_one_namespace_reads_it_and_the_istio_root_namespace_only",
    ) {
        return;
    }
    // The README's example: `meshdoc check --cluster -n bookinfo`.
    let (r, server) = check_cluster(scenarios::netpol_and_dr_tls(), &["-n", "bookinfo"]);
    let got = found(&r);
    assert!(got.iter().any(|f| f == DR_TLS), "{got:#?}\n{}", r.stderr);
    assert!(
        got.iter()
            .all(|f| f.contains("/bookinfo/") || f.matches('/').count() < 3),
        "only bookinfo's objects are reported: {got:#?}"
    );
    for q in server.requests() {
        assert!(!q.path.contains("/namespaces/shop"), "{q:?}");
        let namespaced_list = q.path.contains("/namespaces/") && !q.path.ends_with("/bookinfo");
        if namespaced_list {
            assert!(
                q.path.contains("/namespaces/bookinfo/")
                    || q.path.contains("/namespaces/istio-system/")
                    || q.path.contains("/namespaces/linkerd/"),
                "{q:?}"
            );
        }
    }
}

#[test]
fn check_cluster_says_when_and_by_whom_the_object_of_a_finding_last_changed() {
    let (r, _server) = check_cluster(scenarios::istio_dr_applied_then_errors(), &[]);
    let f = r.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "istio-dr-tls-conflict" && f["location"]["kind"] == "DestinationRule")
        .unwrap_or_else(|| panic!("{:#}", r.json));
    let c = &f["changed"];
    assert_eq!(c["at"], scenarios::T, "{f:#}");
    assert_eq!(c["who"], "kubectl-client-side-apply");
    assert_eq!(c["name"], "productpage");
    // The table says it under the finding.
    let (table, _server) = run_table(
        scenarios::istio_dr_applied_then_errors(),
        "default",
        &["check", "--cluster"],
    );
    assert!(
        table.contains("Last changed: 2025-03-01T10:00:00Z changed by kubectl-client-side-apply (metadata.annotations, spec.host, spec.trafficPolicy)"),
        "{table}"
    );
}

#[test]
fn check_cluster_lists_a_forbidden_resource_and_checks_the_rest() {
    if support::scenarios::skip_without_corpus(
        "check_cluster_lists_a_forbidden_resource_and_checks_the_rest",
    ) {
        return;
    }
    let mut s = scenarios::netpol_and_dr_tls();
    s.fault(Fault::status(
        "/apis/networking.k8s.io/v1/networkpolicies",
        403,
    ));
    let (r, _server) = check_cluster(s, &[]);
    let got = found(&r);
    assert!(got.iter().any(|f| f == DR_TLS), "{got:#?}");
    assert!(!got.iter().any(|f| f == NETPOL), "{got:#?}");
    let missing = r.json["missing"].as_array().expect("missing listed");
    let np = missing
        .iter()
        .find(|m| m["what"] == "NetworkPolicies")
        .unwrap_or_else(|| panic!("NetworkPolicies not listed: {missing:?}"));
    assert!(np["reason"].as_str().unwrap().contains("403"), "{np}");
    assert!(
        np["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|id| id == "linkerd-netpol-blocks-proxy-port"),
        "{np}"
    );
    assert_eq!(r.code, 1, "a 403 degrades the check, it does not fail it");
    assert!(
        r.stderr.contains("could not read: NetworkPolicies"),
        "{}",
        r.stderr
    );
}

#[test]
fn check_cluster_reports_a_template_problem_once_on_the_controller_that_owns_it() {
    // A meshed MySQL Deployment with no Service in front, and 3306 not
    // opaque (the namespace's list replaces Linkerd's defaults): the
    // Deployment's template and its Pod both say so; the fix is the
    // Deployment's.
    let ns = "shop";
    let mut s = Scenario::default();
    s.objects.push(scenarios::namespace(
        ns,
        serde_json::json!({"linkerd.io/inject": "enabled", "config.linkerd.io/opaque-ports": "5432"}),
        serde_json::json!({}),
    ));
    let mut objs = scenarios::deployment(ns, "mysql", "mysql", 1);
    objs[0]["spec"]["template"]["spec"]["containers"][0]["ports"] =
        serde_json::json!([{"containerPort": 3306, "name": "mysql"}]);
    s.objects.extend(objs);
    s.objects.push(scenarios::pod(
        ns,
        "mysql-5f7b9c-z9x8c",
        "mysql",
        "mysql",
        3306,
        Some("linkerd"),
        scenarios::Health::Running,
    ));
    let (r, _server) = check_cluster(s, &["--fail-on", "info", "--mesh", "linkerd"]);
    let got = found(&r);
    let sf: Vec<&String> = got
        .iter()
        .filter(|f| f.starts_with("linkerd-detect-timeout-server-speaks-first"))
        .collect();
    assert_eq!(
        sf,
        vec!["linkerd-detect-timeout-server-speaks-first @ Deployment/shop/mysql"],
        "{got:#?}"
    );
    assert_eq!(r.json["findings"][0]["rank"], 1);
}

// --- What changed: the timeline (issue 15). The real rules; objects with
// managedFields, logs with the kubelet's times (`timestamps=true`). ---

/// The finding `id` of a run.
fn finding<'a>(r: &'a Run, id: &str) -> &'a Value {
    r.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no {id} among the findings:\n{:#}", r.json["findings"]))
}

/// The timeline's entry marked as the trigger.
fn marked(r: &Run) -> &Value {
    let marked: Vec<&Value> = r.json["timeline"]["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("no timeline:\n{:#}", r.json))
        .iter()
        .filter(|e| e["trigger"] == true)
        .collect();
    assert_eq!(marked.len(), 1, "{:#}", r.json["timeline"]);
    marked[0]
}

#[test]
fn a_destinationrule_applied_a_second_before_the_503s_is_named_their_trigger() {
    let (r, server) = diagnose(
        scenarios::istio_dr_applied_then_errors(),
        "bookinfo",
        "pod/loadgen-5f7b9c-w2e3r",
        &real_rules(),
        &[],
    );
    assert_eq!(rank1(&r), "istio-dr-tls-conflict", "{:#}", r.json);
    let t = &r.json["findings"][0]["trigger"];
    assert_eq!(t["change"]["kind"], "DestinationRule");
    assert_eq!(t["change"]["name"], "productpage");
    assert_eq!(t["change"]["who"], "kubectl-client-side-apply");
    assert_eq!(t["change"]["at"], "2025-03-01T10:00:00Z");
    assert_eq!(t["onset"], "2025-03-01T10:00:01.102Z");
    assert_eq!(t["gap_ms"], 1102);
    assert_eq!(
        t["text"],
        "DestinationRule bookinfo/productpage changed by kubectl-client-side-apply (metadata.annotations, spec.host, spec.trafficPolicy) at 2025-03-01T10:00:00Z, 1.1 s before the first uc-uf-503 (access-log) at 2025-03-01T10:00:01.102Z"
    );
    assert_eq!(r.json["timeline"]["trigger_for"], "istio-dr-tls-conflict");
    assert_eq!(
        marked(&r)["subject"],
        "DestinationRule bookinfo/productpage"
    );
    // The consequence it explains stays below it, without a trigger of its own.
    assert!(finding(&r, "envoy-upstream-connect-failure")["trigger"].is_null());
    // The logs were asked for with the kubelet's times.
    assert!(
        server
            .requests()
            .iter()
            .filter(|q| q.path.ends_with("/log"))
            .all(|q| q.param("timestamps").as_deref() == Some("true"))
    );
}

#[test]
fn a_rollout_not_the_week_old_destinationrule_is_named_when_the_errors_began_with_it() {
    let (r, _server) = run_against(
        scenarios::istio_dr_old_rollout_then_errors(),
        "bookinfo",
        &[
            "timeline",
            "deploy/productpage-v1",
            "-o",
            "json",
            "--timeout",
            "20s",
        ]
        .map(String::from),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.json["command"], "timeline");
    assert_eq!(rank1(&r), "envoy-upstream-connect-failure", "{:#}", r.json);
    assert_eq!(
        r.json["timeline"]["trigger_for"],
        "envoy-upstream-connect-failure"
    );
    // The rollout at T: kubectl's new pod template (the ReplicaSet the
    // controller created for it, the same second, is on the timeline too).
    let m = marked(&r);
    assert_eq!(m["subject"], "Deployment bookinfo/productpage-v1", "{m:#}");
    assert_eq!(
        m["text"],
        "rollout: changed by kubectl-client-side-apply (spec.template)"
    );
    assert_eq!(m["at"], "2025-03-01T10:00:00Z");
    let entries = r.json["timeline"]["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["subject"] == "ReplicaSet bookinfo/productpage-v1-5f7b9c"
        && e["text"] == "rollout: created by kube-controller-manager: revision 2 of Deployment productpage-v1"));
    // The DestinationRule is still a finding (its fact holds) and its change
    // is on the timeline, a week before: no trigger, no weight from time.
    let dr = finding(&r, "istio-dr-tls-conflict");
    assert!(dr["trigger"].is_null(), "{dr:#}");
    assert!(dr["explained_by"].is_null());
    assert!(
        entries
            .iter()
            .any(|e| e["subject"] == "DestinationRule bookinfo/productpage"
                && e["at"] == "2025-02-22T10:00:00Z"
                && e["trigger"].is_null())
    );
    // The error onset is on the timeline after the rollout.
    assert!(entries.iter().any(|e| e["type"] == "errors"
        && e["subject"] == "envoy-upstream-connect-failure"
        && e["at"] == "2025-03-01T10:00:01.250Z"
        && e["errors"]["count"].as_u64() >= Some(2)));
}

#[test]
fn a_networkpolicy_added_before_linkerd_errors_is_named_their_trigger() {
    let (r, _server) = diagnose(
        scenarios::linkerd_netpol_added_then_errors(),
        "shop",
        "pod/web-5f7b9c-k8s9d",
        &real_rules(),
        &[],
    );
    assert_eq!(
        rank1(&r),
        "linkerd-netpol-blocks-proxy-port",
        "{:#}",
        r.json
    );
    let t = &r.json["findings"][0]["trigger"];
    assert_eq!(t["change"]["kind"], "NetworkPolicy");
    assert_eq!(t["change"]["name"], "api-allow-http");
    assert_eq!(t["change"]["what"], "created");
    assert_eq!(t["onset"], "2025-03-01T10:00:03.102Z");
    assert_eq!(marked(&r)["subject"], "NetworkPolicy shop/api-allow-http");
}

#[test]
fn an_expired_trust_anchor_is_named_the_trigger_at_its_not_after() {
    let (r, _server) = diagnose(
        scenarios::linkerd_trust_anchor_expired_then_errors(),
        "shop",
        "pod/web-5f7b9c-k8s9d",
        &real_rules(),
        &[],
    );
    let f = finding(&r, "linkerd-identity-unavailable");
    assert_eq!(f["rank"], 1, "{:#}", r.json);
    let t = &f["trigger"];
    assert_eq!(t["change"]["kind"], "Certificate");
    assert_eq!(t["change"]["what"], "cert-expired");
    assert_eq!(t["change"]["name"], "CN=root.linkerd.cluster.local");
    assert_eq!(t["change"]["at"], "2025-03-01T10:00:00Z");
    assert_eq!(t["onset"], "2025-03-01T10:00:06.012Z");
    assert!(
        t["change"]["detail"]
            .as_str()
            .unwrap()
            .contains("ConfigMap linkerd/linkerd-identity-trust-roots")
    );
}

#[test]
fn the_change_after_the_last_success_is_the_trigger_not_the_one_before_the_successes() {
    let (r, _server) = diagnose(
        scenarios::istio_dr_then_successes_then_strict(Some(scenarios::T)),
        "bookinfo",
        "pod/loadgen-5f7b9c-w2e3r",
        &real_rules(),
        &[],
    );
    assert_eq!(rank1(&r), "istio-dr-tls-conflict", "{:#}", r.json);
    let t = &r.json["findings"][0]["trigger"];
    assert_eq!(t["change"]["kind"], "PeerAuthentication", "{t:#}");
    assert_eq!(t["change"]["name"], "default");
    assert_eq!(t["change"]["at"], "2025-03-01T10:00:00Z");
    assert_eq!(t["onset"], "2025-03-01T10:00:02Z");
    assert_eq!(t["gap_ms"], 2000);
    assert_eq!(t["last_success"], "2025-03-01T09:59:58Z");
    assert_eq!(t["factor"], 2.5);
    assert!(
        t["text"]
            .as_str()
            .unwrap()
            .ends_with("2 s before the first uc-uf-503 (access-log) at 2025-03-01T10:00:02Z, after the last success at 2025-03-01T09:59:58Z"),
        "{t:#}"
    );
    assert_eq!(
        marked(&r)["subject"],
        "PeerAuthentication istio-system/default"
    );
    let entries = r.json["timeline"]["entries"].as_array().unwrap();
    // A, the DestinationRule applied before the successes: on the
    // timeline, not marked.
    assert!(
        entries
            .iter()
            .any(|e| e["subject"] == "DestinationRule bookinfo/productpage"
                && e["at"] == "2025-03-01T09:59:00Z"
                && e["trigger"].is_null()),
        "{entries:#?}"
    );
    // The last success is on the timeline, between A and B.
    let ok = entries
        .iter()
        .find(|e| e["type"] == "success")
        .unwrap_or_else(|| panic!("no success entry: {entries:#?}"));
    assert_eq!(ok["at"], "2025-03-01T09:59:58Z");
    assert_eq!(ok["subject"], "access-log");
    let errors = entries
        .iter()
        .find(|e| e["type"] == "errors" && e["subject"] == "istio-dr-tls-conflict")
        .unwrap();
    assert_eq!(errors["errors"]["last_success"], "2025-03-01T09:59:58Z");

    // Without B, A alone — 62 s before the errors, which the window alone
    // would have counted — is followed by successes: no trigger, no weight.
    let (r, _server) = diagnose(
        scenarios::istio_dr_then_successes_then_strict(None),
        "bookinfo",
        "pod/loadgen-5f7b9c-w2e3r",
        &real_rules(),
        &[],
    );
    let f = finding(&r, "istio-dr-tls-conflict");
    assert!(f["trigger"].is_null(), "{f:#}");
    assert!(
        r.json["timeline"]["trigger"].is_null(),
        "{:#}",
        r.json["timeline"]
    );
}

#[test]
fn diagnose_shows_its_timeline_live_and_the_same_from_its_saved_bundle() {
    for (s, ns, target) in [
        (
            scenarios::istio_dr_applied_then_errors(),
            "bookinfo",
            "pod/loadgen-5f7b9c-w2e3r",
        ),
        (
            scenarios::linkerd_trust_anchor_expired_then_errors(),
            "shop",
            "pod/web-5f7b9c-k8s9d",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle");
        let (live, _server) = diagnose(
            s.clone(),
            ns,
            target,
            &real_rules(),
            &["--save-bundle", bundle.to_str().unwrap()],
        );
        let out = Command::cargo_bin("meshdoc")
            .unwrap()
            .env_remove("MESHDOC_RULES")
            .args(["diagnose", "--from"])
            .arg(&bundle)
            .args(["-o", "json"])
            .args(real_rules())
            .output()
            .unwrap();
        let offline: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert!(live.json["timeline"]["trigger"].is_string(), "{target}");
        assert_eq!(live.json["timeline"], offline["timeline"], "{target}");
        let triggers = |v: &Value| -> Vec<(String, Value)> {
            v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| (f["id"].as_str().unwrap().to_string(), f["trigger"].clone()))
                .collect()
        };
        assert_eq!(triggers(&live.json), triggers(&offline), "{target}");
        // The table shows the timeline with the trigger marked, on stdout only.
        let (table, _server) = run_table(s, ns, &["diagnose", target]);
        assert!(table.contains("timeline (UTC):"), "{table}");
        let line = table
            .lines()
            .find(|l| l.starts_with('▶'))
            .unwrap_or_else(|| panic!("no marked line:\n{table}"));
        assert!(line.contains("2025-03-01T10:00:00Z"), "{line}");
        assert!(table.contains("Changed just before:"), "{table}");
    }
}

#[test]
fn a_trust_anchor_in_a_secret_gives_the_same_timeline_from_the_bundle_without_any_pem() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let (live, _server) = diagnose(
        scenarios::linkerd_trust_anchor_expired_in_secret_then_errors(),
        "shop",
        "pod/web-5f7b9c-k8s9d",
        &real_rules(),
        &["--save-bundle", bundle.to_str().unwrap()],
    );
    let f = finding(&live, "linkerd-identity-unavailable");
    assert_eq!(f["rank"], 1, "{:#}", live.json);
    let t = &f["trigger"];
    assert_eq!(t["change"]["what"], "cert-expired", "{t:#}");
    assert_eq!(t["change"]["name"], "CN=root.linkerd.cluster.local");
    assert_eq!(t["change"]["at"], "2025-03-01T10:00:00Z");
    assert_eq!(
        t["change"]["detail"],
        "in Secret linkerd/linkerd-identity-issuer data ca.crt"
    );
    let out = Command::cargo_bin("meshdoc")
        .unwrap()
        .env_remove("MESHDOC_RULES")
        .args(["diagnose", "--from"])
        .arg(&bundle)
        .args(["-o", "json"])
        .args(real_rules())
        .output()
        .unwrap();
    let offline: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(live.json["timeline"], offline["timeline"]);
    assert_eq!(
        f,
        finding(
            &Run {
                json: offline.clone(),
                stderr: String::new(),
                code: 0
            },
            "linkerd-identity-unavailable"
        )
    );
    // Nothing of the Secret's data is in the bundle: no PEM block, not even
    // base64 of one, outside the webhook's own caBundle (public, and what
    // its facts read); no private key anywhere; its certificates'
    // metadata is there.
    let key_b64 = "LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0t";
    let mut secret_seen = false;
    let mut stack = vec![bundle.clone()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        assert!(!text.contains("-----BEGIN"), "{}", p.display());
        assert!(
            !text.contains("PRIVATE KEY") && !text.contains(key_b64),
            "{}",
            p.display()
        );
        if !p.ends_with("objects/mutatingwebhookconfiguration.yaml") {
            assert!(!text.contains("LS0tLS1CRUdJTi"), "{}", p.display());
        }
        if text.contains("linkerd-identity-issuer") && text.contains("meshdoc.io/certificates") {
            secret_seen = true;
            for want in [
                r#"\"notAfter\":\"2025-03-01T10:00:00Z\""#,
                r#"\"isCA\":true"#,
                r#"\"sha256\":\""#,
                "CN=root.linkerd.cluster.local",
            ] {
                assert!(text.contains(want), "{want} in {}:\n{text}", p.display());
            }
        }
    }
    assert!(
        secret_seen,
        "no Secret with its certificates' metadata in the bundle"
    );
}

#[test]
fn timeline_prints_markdown_for_an_incident_document() {
    let (md, _server) = run_table(
        scenarios::istio_dr_applied_then_errors(),
        "bookinfo",
        &["timeline", "pod/loadgen-5f7b9c-w2e3r", "-o", "markdown"],
    );
    assert!(
        md.starts_with("## meshdoc timeline: `pod/loadgen-5f7b9c-w2e3r`"),
        "{md}"
    );
    assert!(md.contains("**Suspected trigger:** DestinationRule bookinfo/productpage changed by kubectl-client-side-apply"), "{md}");
    assert!(
        md.contains("| 2025-03-01T10:00:00Z | **trigger** | change | `DestinationRule bookinfo/productpage` |"),
        "{md}"
    );
}

/// Runs meshdoc with `args` (a human format) against the fixture serving `s`:
/// its stdout.
fn run_table(s: Scenario, ns: &str, args: &[&str]) -> (String, ApiServer) {
    let server = ApiServer::start(s);
    let d = tempfile::tempdir().unwrap();
    let kc = server.write_kubeconfig(d.path(), ns);
    let out = Command::cargo_bin("meshdoc")
        .unwrap()
        .env_remove("KUBECONFIG")
        .env_remove("MESHDOC_RULES")
        .env("NO_COLOR", "1")
        .args(args)
        .args(real_rules())
        .arg("--kubeconfig")
        .arg(&kc)
        .output()
        .unwrap();
    assert!(
        out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), server)
}

#[test]
fn a_cronjob_whose_pod_keeps_its_proxy_running_never_completes() {
    // Read from the pod's container statuses alone: the proxy's log is healthy.
    let (r, server) = diagnose(
        scenarios::istio_job_proxy_outlives_app(),
        "batch",
        "cronjob/report",
        &real_rules(),
        &[],
    );
    assert_eq!(rank1(&r), "mesh-job-sidecar-never-exits", "{}", r.json);
    let f = &r.json["findings"][0];
    assert!(
        f.to_string()
            .contains("container report exited, exit code 0"),
        "the finding says which container exited: {f}"
    );
    assert!(
        f.to_string()
            .contains("pilot-agent request POST quitquitquit"),
        "and the command that stops this pod's proxy: {f}"
    );
    assert_eq!(r.code, 1);
    assert!(
        server.requests().iter().all(|q| q.method == "GET"),
        "read-only"
    );
}

#[test]
fn an_app_that_failed_in_its_proxys_first_seconds_started_before_it() {
    // Read from the pod's container statuses: the logs hold no error.
    let (r, server) = diagnose(
        scenarios::linkerd_app_starts_before_proxy(),
        "shop",
        "deploy/orders",
        &real_rules(),
        &[],
    );
    assert_eq!(rank1(&r), "mesh-app-starts-before-proxy", "{}", r.json);
    let f = r.json["findings"][0].to_string();
    assert!(
        f.contains(
            "container orders exited with code 1 2s after the linkerd-proxy sidecar started"
        ),
        "the finding says which container failed and when: {f}"
    );
    assert!(
        f.contains("config.beta.linkerd.io/proxy-enable-native-sidecar"),
        "and the patch that starts the proxy first: {f}"
    );
    assert_eq!(r.code, 1);
    assert!(
        server.requests().iter().all(|q| q.method == "GET"),
        "read-only"
    );
}
