//! Benchmark: `meshdoc diagnose -A` over 10,000 pods (2,000 Deployments),
//! 2,000 Services and 1,000 NetworkPolicies in 100 namespaces on the fixture
//! API server, without Prometheus (proxy scrapes within `--max-requests`).
//! Prints wall time, API requests and peak RSS of the meshdoc process;
//! targets < 5 s, < 60 requests, < 300 MB. Fails when the command fails
//! (exit 2) or the broken workload is not ranked first.
//!
//! Run with `tests/bench/fleet.sh` (release build), or
//! `cargo test --test it bench_fleet:: -- --ignored --nocapture`.

use crate::support;

use std::time::{Duration, Instant};
use support::apiserver::ApiServer;

/// Peak resident set (VmHWM) of `pid` in kB, while it runs.
fn hwm_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
#[ignore = "benchmark: run tests/bench/fleet.sh"]
fn diagnose_all_namespaces_over_ten_thousand_pods() {
    let scenario = support::scenarios::fleet(100, 100, 10);
    let count = |k: &str| scenario.objects.iter().filter(|o| o["kind"] == k).count();
    println!(
        "fixture: {} pods, {} Services, {} NetworkPolicies, {} namespaces",
        count("Pod"),
        count("Service"),
        count("NetworkPolicy"),
        count("Namespace")
    );
    let server = ApiServer::start(scenario);
    let d = tempfile::tempdir().unwrap();
    let kc = server.write_kubeconfig(d.path(), "default");
    let bin = assert_cmd::cargo::cargo_bin("meshdoc");
    for round in 0..2 {
        server.clear_requests();
        let t = Instant::now();
        let mut child = std::process::Command::new(&bin)
            .args([
                "diagnose",
                "-A",
                "--no-prometheus",
                "-o",
                "json",
                "--kubeconfig",
            ])
            .arg(&kc)
            .env_remove("KUBECONFIG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // stdout is read on a thread so a full pipe cannot stall the child.
        let mut out = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut out, &mut s).unwrap();
            s
        });
        let mut peak = 0;
        let status = loop {
            if let Some(kb) = hwm_kb(pid) {
                peak = peak.max(kb);
            }
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let wall = t.elapsed();
        let stdout = reader.join().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        let code = status.code().unwrap_or(-1);
        assert!(code == 0 || code == 1, "meshdoc failed ({code}):\n{stderr}");
        let reqs = server.requests();
        assert!(reqs.iter().all(|r| r.method == "GET"));
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let top = &json["workloads"][0];
        assert_eq!(
            (
                top["namespace"].as_str(),
                top["name"].as_str(),
                top["top_cause"].as_str()
            ),
            (Some("ns-007"), Some("client"), Some("linkerd-fail-fast")),
            "{top}"
        );
        let lists = reqs.iter().filter(|r| !r.path.contains("/proxy/")).count();
        println!(
            "round {round}: wall {:.3}s, {} API requests ({lists} LIST/GET, {} scrapes), peak RSS {:.0} MB, {} workloads ranked",
            wall.as_secs_f64(),
            reqs.len(),
            reqs.len() - lists,
            peak as f64 / 1024.0,
            json["workloads"].as_array().map_or(0, Vec::len)
        );
        if round == 0 {
            for r in reqs.iter().filter(|r| !r.path.contains("/proxy/")) {
                println!("  GET {}?{}", r.path, r.query);
            }
        }
        println!(
            "fleet benchmark: wall {:.3}s (target < 5s), {} API requests (target < 60), peak RSS {:.0} MB (target < 300)",
            wall.as_secs_f64(),
            reqs.len(),
            peak as f64 / 1024.0
        );
    }
}

/// Resident set now (VmRSS) and at peak (VmHWM) of `pid`, in kB.
fn rss_kb(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let get = |k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (get("VmRSS:"), get("VmHWM:"))
}

#[test]
#[ignore = "benchmark: run tests/bench/fleet.sh"]
fn serve_over_ten_thousand_pods_keeps_its_memory_from_run_to_run() {
    let server = ApiServer::start(support::scenarios::fleet(100, 100, 10));
    let serve = crate::serve::Serve::start(&server, &["--no-prometheus", "--interval", "1s"]);
    let runs = |body: &str| -> u64 {
        body.lines()
            .find_map(|l| l.strip_prefix("meshdoc_runs_total "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let mut seen = 0;
    while seen < 8 {
        let (_, body) = serve.wait_for("/metrics", |_, b| runs(b) > seen);
        seen = runs(&body);
        let (rss, hwm) = rss_kb(serve.pid());
        let took: f64 = body
            .lines()
            .find_map(|l| l.strip_prefix("meshdoc_run_duration_seconds "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        println!(
            "serve run {seen}: {took:.2}s, RSS {:.0} MB, peak {:.0} MB",
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0
        );
    }
    assert!(
        serve.stderr().lines().all(|l| !l.contains("failed")),
        "{}",
        serve.stderr()
    );
}
