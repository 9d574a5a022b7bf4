//! Scenario fixtures: every `fixtures/<scenario>/` bundle is diagnosed offline
//! and its rank-1 finding must be the id pinned in its `expected.yaml`.

use meshdoc::collect::bundle;
use meshdoc::engine::diagnosis::Diagnosis;
use meshdoc::facts::FactOptions;
use meshdoc::rules::load_builtin;
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    /// The id that must rank first.
    rank1: String,
    /// Ids that must also appear (anywhere).
    #[serde(default)]
    also: Vec<String>,
    /// Ids that must not appear.
    #[serde(default)]
    absent: Vec<String>,
    /// What the scenario shows, for humans.
    #[serde(default)]
    #[allow(dead_code)]
    description: String,
}

#[test]
fn every_fixture_ranks_its_scenario_first() {
    let rules = load_builtin().expect("built-in rules load");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 12,
        "at least 12 scenario fixtures, found {}",
        dirs.len()
    );
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let exp: Expected =
            serde_saphyr::from_str(&std::fs::read_to_string(dir.join("expected.yaml")).unwrap())
                .unwrap_or_else(|e| panic!("{name}/expected.yaml: {e}"));
        let mut d = Diagnosis::new(&rules);
        bundle::feed(dir, &mut d, &bundle::ReadOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let opts = FactOptions {
            now: meshdoc::rules::examples::example_now(),
            ..FactOptions::default()
        };
        let (findings, _, _, _) = d.finish(&opts);
        let ids: Vec<&str> = findings.iter().map(|f| f.id.as_str()).collect();
        println!("{name}: {ids:?}");
        if ids.first() != Some(&exp.rank1.as_str()) {
            failures.push(format!(
                "{name}: rank 1 should be {} but got {ids:?}",
                exp.rank1
            ));
        }
        for a in &exp.also {
            if !ids.contains(&a.as_str()) {
                failures.push(format!("{name}: {a} should appear in {ids:?}"));
            }
        }
        for a in &exp.absent {
            if ids.contains(&a.as_str()) {
                failures.push(format!("{name}: {a} must not appear in {ids:?}"));
            }
        }
        // The JSON contract holds for every fixture's report.
        let report = meshdoc::report::Report::new("diagnose", name.clone(), findings);
        let v = serde_json::to_value(&report).unwrap();
        assert_eq!(v["version"], 1);
        assert!(v["findings"].is_array());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The commands a finding prints are about the objects in front of it: the
/// DestinationRule's own namespace, the server pod, the Deployment that owns
/// a pod, the NetworkPolicy by name and its offending rule.
#[test]
fn printed_commands_name_the_right_namespace_and_object() {
    let rules = load_builtin().expect("built-in rules load");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    for (fixture, id, want, never) in [
        (
            "istio-dr-tls-conflict",
            "istio-dr-tls-conflict",
            &[
                "istioctl x describe pod productpage-v1-6c886ff494-hm7zk -n default",
                "kubectl get destinationrule -n default",
            ][..],
            &["-n istio-system", "<server_pod>"][..],
        ),
        (
            "istio-dr-tls-conflict",
            "envoy-upstream-connect-failure",
            &[
                "productpage.default.svc.cluster.local",
                "istioctl x describe pod productpage-v1-6c886ff494-hm7zk -n default",
            ][..],
            &["<server_pod>", ".istio-system.svc"][..],
        ),
        (
            "linkerd-netpol-blocks-proxy-port",
            "linkerd-netpol-blocks-proxy-port",
            &[
                "deploy/web ",
                "kubectl patch networkpolicy web-allow-http -n emojivoto",
                "\"port\":4191",
            ][..],
            &["<name>", "<deployment>", "deploy/web-7b6b4c6b6d"][..],
        ),
        (
            "linkerd-fail-fast",
            "linkerd-fail-fast",
            &["kubectl patch service payment -n shop --type=json"][..],
            &[][..],
        ),
    ] {
        let mut d = Diagnosis::new(&rules);
        bundle::feed(&root.join(fixture), &mut d, &bundle::ReadOptions::default()).unwrap();
        let opts = FactOptions {
            now: meshdoc::rules::examples::example_now(),
            ..FactOptions::default()
        };
        let (findings, _, _, _) = d.finish(&opts);
        let f = findings
            .iter()
            .find(|f| f.id == id)
            .unwrap_or_else(|| panic!("{fixture}: no {id}"));
        let printed: String = f
            .confirm
            .iter()
            .chain(&f.fix)
            .filter_map(|s| s.command.clone())
            .chain(f.patches.iter().cloned())
            .collect::<Vec<_>>()
            .join("\n");
        for w in want {
            assert!(
                printed.contains(w),
                "{fixture}/{id}: `{w}` not in\n{printed}"
            );
        }
        for n in never {
            assert!(!printed.contains(n), "{fixture}/{id}: `{n}` in\n{printed}");
        }
    }
}

/// In every fixture, every `-n NS` a printed command names is a namespace the
/// fixture's objects or logs live in, and no namespace is left open.
#[test]
fn every_printed_namespace_is_one_of_the_fixture() {
    let rules = load_builtin().expect("built-in rules load");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut bad = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        // Namespaces present: of the objects, and of the logs' folders.
        let mut known: std::collections::BTreeSet<String> = Default::default();
        for sub in ["objects", "logs", "metrics"] {
            let Ok(rd) = std::fs::read_dir(dir.join(sub)) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    known.insert(e.file_name().to_string_lossy().into_owned());
                } else if let Ok(t) = std::fs::read_to_string(&p) {
                    for l in t.lines() {
                        // An object's namespace, or the control plane's that
                        // meshed pods name in their labels.
                        let l = l.trim();
                        if let Some(ns) = l
                            .strip_prefix("namespace:")
                            .or_else(|| l.strip_prefix("linkerd.io/control-plane-ns:"))
                        {
                            known.insert(ns.trim().trim_matches('"').to_string());
                        }
                    }
                }
            }
        }
        if let Ok(t) = std::fs::read_to_string(dir.join("bundle.yaml")) {
            for l in t.lines() {
                if let Some(ns) = l.strip_prefix("namespace:") {
                    known.insert(ns.trim().to_string());
                }
            }
        }
        let mut d = Diagnosis::new(&rules);
        bundle::feed(dir, &mut d, &bundle::ReadOptions::default()).unwrap();
        let (findings, _, _, _) = d.finish(&FactOptions {
            now: meshdoc::rules::examples::example_now(),
            ..FactOptions::default()
        });
        for f in findings.iter().take(3) {
            for c in f
                .confirm
                .iter()
                .chain(&f.fix)
                .filter_map(|s| s.command.as_deref())
            {
                let w: Vec<&str> = c.split_whitespace().collect();
                for (i, x) in w.iter().enumerate() {
                    if *x == "-n" {
                        let ns = w.get(i + 1).copied().unwrap_or("");
                        if !known.contains(ns) {
                            bad.push(format!("{name}/{}: `-n {ns}` in `{c}` ({known:?})", f.id));
                        }
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
