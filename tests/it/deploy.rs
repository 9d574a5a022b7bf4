//! `deploy/`: the manifests `kubectl apply -k deploy/` installs, held to
//! what the code says. The ClusterRole is `meshdoc rbac --cluster-wide`'s
//! output byte for byte, grants reads only, the Deployment's args start
//! `meshdoc serve` against the fixture API server, and `meshdoc check`
//! finds nothing at error severity in any of it.

use crate::serve::Serve;
use crate::support::apiserver::ApiServer;
use crate::support::scenarios;
use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// The YAML files directly in `deploy/` (not `krew/`), by name.
fn files() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(deploy())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn docs(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn doc(name: &str) -> Value {
    let d = docs(&std::fs::read_to_string(deploy().join(name)).unwrap());
    assert_eq!(d.len(), 1, "{name}");
    d.into_iter().next().unwrap()
}

#[test]
fn every_deploy_file_is_kubernetes_objects_and_the_kustomization_names_each_one() {
    let files = files();
    let kust = doc("kustomization.yaml");
    let listed: Vec<&str> = kust["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let kust_text = std::fs::read_to_string(deploy().join("kustomization.yaml")).unwrap();
    for (name, text) in &files {
        let d = docs(text);
        assert!(!d.is_empty(), "{name}: no document");
        for o in &d {
            assert!(o["apiVersion"].is_string(), "{name}: {o}");
            assert!(o["kind"].is_string(), "{name}: {o}");
            if name != "kustomization.yaml" {
                assert!(o["metadata"]["name"].is_string(), "{name}: {o}");
            }
        }
        if name == "kustomization.yaml" {
            continue;
        }
        // Listed, or (the Prometheus Operator examples) named in its comment.
        let operator = d.iter().all(|o| {
            o["apiVersion"]
                .as_str()
                .unwrap()
                .starts_with("monitoring.coreos.com/")
        });
        if operator {
            assert!(!listed.contains(&name.as_str()), "{name} needs CRDs");
            assert!(
                kust_text.contains(&format!("#   - {name}")),
                "{name} not named"
            );
        } else {
            assert!(listed.contains(&name.as_str()), "{name} not in resources");
        }
    }
    for l in &listed {
        assert!(files.iter().any(|(n, _)| n == l), "{l} listed, not there");
    }
}

#[test]
fn the_cluster_role_is_what_meshdoc_rbac_cluster_wide_prints_and_grants_only_reads() {
    let out = Command::cargo_bin("meshdoc")
        .unwrap()
        .args([
            "rbac",
            "--cluster-wide",
            "--service-account-namespace",
            "meshdoc",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let role = std::fs::read_to_string(deploy().join("clusterrole.yaml")).unwrap();
    let binding = std::fs::read_to_string(deploy().join("clusterrolebinding.yaml")).unwrap();
    assert_eq!(
        format!("{role}---\n{binding}"),
        printed,
        "deploy/clusterrole.yaml and clusterrolebinding.yaml are `meshdoc rbac --cluster-wide --service-account-namespace meshdoc`, split at its `---`: regenerate them"
    );
    let role = doc("clusterrole.yaml");
    assert_eq!(role["kind"], "ClusterRole");
    for rule in role["rules"].as_array().unwrap() {
        let resources: Vec<&str> = rule["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        for v in rule["verbs"].as_array().unwrap() {
            let v = v.as_str().unwrap();
            assert!(matches!(v, "get" | "list" | "watch"), "{rule}");
            if resources.iter().any(|r| r.contains('/')) {
                assert_eq!(v, "get", "subresources are read with GET only: {rule}");
            }
        }
        for r in &resources {
            if let Some((_, sub)) = r.split_once('/') {
                assert!(
                    matches!(*r, "pods/log" | "pods/proxy" | "services/proxy"),
                    "{sub}: {rule}"
                );
            }
            assert_ne!(*r, "secrets", "{rule}");
            assert_ne!(*r, "*", "{rule}");
        }
    }
    let binding = doc("clusterrolebinding.yaml");
    let sa = doc("serviceaccount.yaml");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["name"], sa["metadata"]["name"]);
    assert_eq!(
        binding["subjects"][0]["namespace"],
        sa["metadata"]["namespace"]
    );
}

#[test]
fn meshdoc_check_finds_nothing_at_error_severity_in_deploy() {
    let out = Command::cargo_bin("meshdoc")
        .unwrap()
        .env_remove("MESHDOC_RULES")
        .args(["check", "-o", "json"])
        .arg(deploy())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] != "error"),
        "{v}"
    );
}

#[test]
fn the_deployment_runs_serve_hardened_with_probes_on_its_port() {
    let d = doc("deployment.yaml");
    let pod = &d["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let args: Vec<String> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    // clap accepts them as `meshdoc serve` arguments.
    let cli = <meshdoc::cli::Cli as clap::Parser>::try_parse_from(
        std::iter::once("meshdoc".to_string()).chain(args.iter().cloned()),
    )
    .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let meshdoc::cli::Command::Serve(serve) = cli.command else {
        panic!("{args:?} is not `meshdoc serve`");
    };
    let port = serve.listen.port();
    assert_eq!(c["ports"][0]["containerPort"], port);
    let ann = &d["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(ann["prometheus.io/scrape"], "true");
    assert_eq!(ann["prometheus.io/port"], port.to_string());
    assert_eq!(ann["prometheus.io/path"], "/metrics");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    let named = c["ports"][0]["name"].clone();
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], named);
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], named);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["serviceAccountName"],
        doc("serviceaccount.yaml")["metadata"]["name"]
    );
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(c["resources"]["requests"]["memory"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());
    let svc = doc("service.yaml");
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], named);
    assert_eq!(
        svc["spec"]["selector"],
        d["spec"]["selector"]["matchLabels"]
    );
}

#[test]
fn the_deployments_args_serve_the_fixture_cluster() {
    let d = doc("deployment.yaml");
    let mut args: Vec<String> = d["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(args[0], "serve");
    // Its own port would clash with a parallel test: an ephemeral one.
    let i = args.iter().position(|a| a == "--listen").unwrap();
    args.drain(i..=i + 1);
    let server = ApiServer::start(scenarios::shop_fleet());
    let rest: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    let serve = Serve::start(&server, &rest);
    serve.wait_for("/readyz", |s, _| s == 200);
    let (body, _) = serve.metrics();
    assert!(body.contains("rule=\"linkerd-fail-fast\""), "{body}");
}

#[test]
fn kubectl_kustomize_builds_deploy() {
    let Ok(out) = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(deploy())
        .output()
    else {
        eprintln!("note: kubectl_kustomize_builds_deploy: skipped, no kubectl on PATH");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let built = docs(&String::from_utf8_lossy(&out.stdout));
    let kinds: Vec<&str> = built.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    for k in [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Service",
        "Deployment",
    ] {
        assert!(kinds.contains(&k), "{k} not built: {kinds:?}");
    }
}
