//! `meshdoc diagnose ns/NAME` and `diagnose -A` end to end: the built binary
//! against the in-process API server, `-o json`, asserting the ranking, the
//! causes and the requests it took.

use crate::support::apiserver::{ApiServer, Fault, Scenario};
use crate::support::scenarios;
use assert_cmd::Command;
use serde_json::Value;

pub struct Run {
    pub json: Value,
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// Runs `meshdoc diagnose ARGS --kubeconfig …` against `server`.
pub fn triage(server: &ApiServer, args: &[&str]) -> Run {
    let d = tempfile::tempdir().unwrap();
    let kc = server.write_kubeconfig(d.path(), "default");
    let out = Command::cargo_bin("meshdoc")
        .unwrap()
        .env_remove("KUBECONFIG")
        .env_remove("MESHDOC_RULES")
        .arg("diagnose")
        .args(args)
        .arg("--kubeconfig")
        .arg(&kc)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = if args.windows(2).any(|w| w == ["-o", "json"]) {
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"))
    } else {
        Value::Null
    };
    Run {
        json,
        stdout,
        stderr,
        code: out.status.code().unwrap_or(-1),
    }
}

/// (workload, top cause) of each row, in rank order.
pub fn rows(r: &Run) -> Vec<(String, String)> {
    r.json["workloads"]
        .as_array()
        .unwrap_or_else(|| panic!("no workloads:\n{}\n{}", r.json, r.stderr))
        .iter()
        .map(|w| {
            (
                format!(
                    "{}/{}",
                    w["namespace"].as_str().unwrap(),
                    w["name"].as_str().unwrap()
                ),
                w["top_cause"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect()
}

fn position(rows: &[(String, String)], workload: &str) -> usize {
    rows.iter()
        .position(|(w, _)| w == workload)
        .unwrap_or_else(|| panic!("{workload} not ranked: {rows:?}"))
}

#[test]
fn a_namespace_ranks_its_broken_workloads_above_the_healthy_ones_each_with_its_cause() {
    let server = ApiServer::start(scenarios::shop_fleet());
    let r = triage(&server, &["ns/shop", "--no-prometheus", "-o", "json"]);
    let rows = rows(&r);
    // client's requests fail fast; payments is scaled to zero behind its Service.
    assert_eq!(
        rows[0],
        ("shop/client".into(), "linkerd-fail-fast".into()),
        "{rows:?}"
    );
    let payments = position(&rows, "shop/payments");
    assert_ne!(rows[payments].1, "-", "{rows:?}");
    for healthy in ["shop/web", "shop/cart"] {
        let p = position(&rows, healthy);
        assert!(
            p > payments,
            "{healthy} ranks above a broken workload: {rows:?}"
        );
        assert_eq!(rows[p].1, "-", "{rows:?}");
    }
    let client = &r.json["workloads"][0];
    assert_eq!(client["mesh"], "linkerd");
    assert!(
        (client["failing_percent"].as_f64().unwrap() - 81.2).abs() < 0.01,
        "{client}"
    );
    assert!(
        client["evidence"]
            .as_str()
            .unwrap()
            .contains("812 of 1,000 outbound requests failed"),
        "{client}"
    );
    assert!(
        r.json["runtime"]
            .as_str()
            .unwrap()
            .contains("proxy scrapes"),
        "{}",
        r.json
    );
    assert_eq!(r.code, 1, "error-severity causes exit 1");
    // Read-only, LISTs by namespace, one scrape per workload with pods.
    let reqs = server.requests();
    assert!(reqs.iter().all(|q| q.method == "GET"));
    let scrapes = reqs.iter().filter(|q| q.path.contains("/proxy/")).count();
    assert_eq!(scrapes, 3, "{reqs:#?}");
    assert!(
        !reqs
            .iter()
            .any(|q| q.path.starts_with("/api/v1/namespaces/shop/pods/")
                && !q.path.contains("/proxy/")),
        "a GET per pod: {reqs:#?}"
    );
}

#[test]
fn the_table_and_markdown_show_the_columns_and_stdout_holds_only_the_format() {
    let server = ApiServer::start(scenarios::shop_fleet());
    let r = triage(&server, &["ns/shop", "--no-prometheus"]);
    for col in [
        "namespace",
        "workload",
        "mesh",
        "requests failing",
        "top cause",
        "confidence",
        "evidence",
    ] {
        assert!(r.stdout.contains(col), "{col} missing:\n{}", r.stdout);
    }
    assert!(
        r.stdout.contains("deploy/client") && r.stdout.contains("81.2%"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("meshdoc: looked at"), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("meshdoc: looked at 4 workload(s) in namespace shop"),
        "{}",
        r.stderr
    );
    let m = triage(&server, &["ns/shop", "--no-prometheus", "-o", "markdown"]);
    assert!(
        m.stdout.starts_with("# meshdoc triage: namespace shop"),
        "{}",
        m.stdout
    );
    assert!(
        m.stdout
            .contains("| shop | deploy/client | linkerd | 81.2% | linkerd-fail-fast |"),
        "{}",
        m.stdout
    );
    let y = triage(&server, &["ns/shop", "--no-prometheus", "-o", "yaml"]);
    assert!(
        y.stdout.contains("top_cause: linkerd-fail-fast"),
        "{}",
        y.stdout
    );
    assert_eq!((r.code, m.code, y.code), (1, 1, 1));
}

#[test]
fn top_expands_the_worst_workload_into_its_full_diagnosis() {
    let server = ApiServer::start(scenarios::shop_fleet());
    let r = triage(
        &server,
        &["ns/shop", "--no-prometheus", "--top", "1", "-o", "json"],
    );
    let d = r.json["diagnoses"].as_array().expect("diagnoses");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["input"], "deploy/client in shop");
    assert_eq!(d[0]["findings"][0]["id"], "linkerd-fail-fast", "{}", d[0]);
    // Logs are read only for the expanded workload.
    let logs: Vec<String> = server
        .requests()
        .iter()
        .filter(|q| q.path.ends_with("/log"))
        .map(|q| q.path.clone())
        .collect();
    assert!(
        !logs.is_empty() && logs.iter().all(|p| p.contains("/pods/client-")),
        "{logs:?}"
    );
}

#[test]
fn a_forbidden_list_and_an_unreachable_prometheus_degrade_and_are_reported() {
    let mut s: Scenario = scenarios::shop_fleet();
    s.fault(Fault::status(
        "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies",
        403,
    ));
    let server = ApiServer::start(s);
    let r = triage(
        &server,
        &[
            "ns/shop",
            "--prometheus",
            "http://127.0.0.1:9",
            "-o",
            "json",
        ],
    );
    assert_eq!(rows(&r)[0].1, "linkerd-fail-fast", "{}", r.json);
    let missing = r.json["missing"].to_string();
    assert!(
        missing.contains("NetworkPolicies in shop") && missing.contains("403"),
        "{missing}"
    );
    assert!(
        missing.contains("Prometheus at http://127.0.0.1:9"),
        "{missing}"
    );
    let notes = r.json["notes"].to_string();
    assert!(notes.contains("fell back to proxy scrapes"), "{notes}");
    assert_eq!(r.code, 1);
    let strict = triage(
        &server,
        &["ns/shop", "--no-prometheus", "--strict", "-o", "json"],
    );
    assert_eq!(strict.code, 2, "--strict: evidence could not be read");
}

#[test]
fn without_prometheus_found_it_says_where_it_looked_and_scrapes() {
    let server = ApiServer::start(scenarios::shop_fleet());
    let r = triage(&server, &["ns/shop", "-o", "json"]);
    let notes = r.json["notes"].to_string();
    assert!(
        notes.contains("linkerd-viz/prometheus:9090")
            && notes.contains("istio-system/prometheus:9090"),
        "{notes}"
    );
    assert_eq!(rows(&r)[0].1, "linkerd-fail-fast");
    let probes: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|q| {
            q.path
                .contains("/services/prometheus:9090/proxy/api/v1/query")
        })
        .collect();
    assert_eq!(probes.len(), 2, "{probes:?}");
}

#[test]
fn all_namespaces_lists_cluster_wide_and_scrapes_within_the_budget() {
    let server = ApiServer::start(scenarios::fleet(12, 20, 3));
    let r = triage(
        &server,
        &["-A", "--no-prometheus", "--max-requests", "6", "-o", "json"],
    );
    let rows = rows(&r);
    assert_eq!(
        rows[0],
        ("ns-007/client".into(), "linkerd-fail-fast".into()),
        "{:?}",
        &rows[..4]
    );
    assert_eq!(position(&rows, "ns-007/payments"), 1, "{:?}", &rows[..4]);
    let reqs = server.requests();
    let scrapes = reqs.iter().filter(|q| q.path.contains("/proxy/")).count();
    assert_eq!(scrapes, 6);
    assert!(
        r.json["missing"]
            .to_string()
            .contains("over the --max-requests budget of 6"),
        "{}",
        r.json["missing"]
    );
    // LISTs are cluster-wide: no request names a namespace except the scrapes.
    let per_ns = reqs
        .iter()
        .filter(|q| q.path.contains("/namespaces/ns-") && !q.path.contains("/proxy/"))
        .count();
    assert_eq!(per_ns, 0, "{reqs:#?}");
}

/// The row of `workload` (`ns/name`).
pub fn row_of<'a>(r: &'a Run, workload: &str) -> &'a Value {
    r.json["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| {
            format!(
                "{}/{}",
                w["namespace"].as_str().unwrap_or(""),
                w["name"].as_str().unwrap_or("")
            ) == workload
        })
        .unwrap_or_else(|| panic!("{workload} not ranked: {}", r.json))
}

/// What [`scenarios::mixed_fleet`] ranks to, however its runtime signals
/// were read (pod-proxy scrapes, or a real Prometheus scraping the same
/// pages): Envoy's causes from `response_flags`, Linkerd's beside them, and
/// the older proxies' series ranked by status code with no cause made up.
/// Counts are checked as served when the pages were scraped; through
/// Prometheus they are increases (the fixture's counters grow each scrape),
/// so only the shares and the wording are.
pub fn assert_mixed_fleet(r: &Run) {
    let rows = rows(r);
    let scraped = r.json["runtime"]
        .as_str()
        .is_some_and(|s| s.starts_with("proxy scrapes"));
    let says = |w: &Value, counts: &str, rest: &str| {
        let e = w["evidence"].as_str().unwrap_or("");
        let want = if scraped {
            format!("{counts} {rest}")
        } else {
            rest.to_string()
        };
        assert!(e.contains(&want), "{want:?} not in {w}");
    };
    let ctx = || format!("{rows:?}\n{}", r.stderr);
    assert_eq!(
        rows[0],
        (
            "bookinfo/productpage-v1".into(),
            "envoy-no-healthy-upstream".into()
        ),
        "{}",
        ctx()
    );
    assert_eq!(
        rows[1],
        ("shop/client".into(), "linkerd-fail-fast".into()),
        "{}",
        ctx()
    );
    assert_eq!(
        rows[2],
        (
            "bookinfo/ratings-v1".into(),
            "envoy-upstream-connect-failure".into()
        ),
        "{}",
        ctx()
    );
    let pct = |w: &str| row_of(r, w)["failing_percent"].as_f64();
    let close = |w: &str, want: f64| {
        let got = pct(w).unwrap_or_else(|| panic!("{w}: no failing share: {}", row_of(r, w)));
        assert!((got - want).abs() < 0.05, "{w}: {got} % not {want} %");
    };
    close("bookinfo/productpage-v1", 90.0);
    close("shop/client", 81.2);
    close("bookinfo/ratings-v1", 60.0);
    let productpage = row_of(r, "bookinfo/productpage-v1");
    assert_eq!(productpage["mesh"], "istio");
    says(productpage, "450 of 500", "outbound requests failed");
    // An older Linkerd proxy (no `classification`, no `error`): its 503s
    // count as failures by status code, and the one cause that reads
    // status codes alone names them.
    close("shop/legacy", 30.0);
    let legacy = row_of(r, "shop/legacy");
    assert_eq!(
        legacy["top_cause"], "linkerd-503-from-application",
        "{legacy}"
    );
    says(legacy, "300 of 1,000", "outbound requests failed");
    // Istio without `response_flags`: the 503s still rank details-v1 above
    // the healthy workloads, but no flag means no Envoy cause.
    close("bookinfo/details-v1", 25.0);
    let details = row_of(r, "bookinfo/details-v1");
    assert!(details.get("top_cause").is_none(), "{details}");
    assert_eq!(details["findings"], serde_json::json!([]), "{details}");
    says(details, "100 of 400", "inbound requests failed");
    for healthy in ["shop/web", "shop/cart"] {
        assert!(
            position(&rows, healthy) > position(&rows, "bookinfo/details-v1"),
            "{}",
            ctx()
        );
        assert_eq!(pct(healthy), Some(0.0));
    }
    // No workload gets the other mesh's cause (reviews-v1 has no endpoint,
    // which Linkerd's fail-fast rule reads for a Linkerd Service).
    for w in r.json["workloads"].as_array().unwrap() {
        let Some(mesh) = w["mesh"].as_str() else {
            continue;
        };
        for f in w["findings"].as_array().unwrap() {
            assert!(
                f["mesh"] == mesh || f["mesh"] == "any",
                "{}/{} ({mesh}) given {} ({})",
                w["namespace"],
                w["name"],
                f["id"],
                f["mesh"]
            );
        }
    }
}

#[test]
fn older_proxies_without_classification_or_response_flags_are_ranked_by_status_code() {
    let server = ApiServer::start(scenarios::mixed_fleet());
    let r = triage(&server, &["-A", "--no-prometheus", "-o", "json"]);
    assert_mixed_fleet(&r);
    assert!(
        r.json["runtime"]
            .as_str()
            .unwrap()
            .contains("proxy scrapes"),
        "{}",
        r.json
    );
    assert_eq!(r.code, 1);
}

/// An HTTP server on loopback that accepts every request and answers none
/// within `delay` (a Prometheus busy on a heavy query); its thread is left
/// to end with the test binary.
fn slow_server(delay: std::time::Duration) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().fallback(move || async move {
                tokio::time::sleep(delay).await;
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#
            });
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            let _ = axum::serve(l, app).await;
        });
    });
    format!("http://{addr}")
}

#[test]
fn a_slow_prometheus_times_out_and_triage_falls_back_to_the_budgeted_scrapes() {
    let slow = slow_server(std::time::Duration::from_secs(60));
    let server = ApiServer::start(scenarios::shop_fleet());
    let t = std::time::Instant::now();
    let r = triage(
        &server,
        &[
            "ns/shop",
            "--prometheus",
            &slow,
            "--timeout",
            "2s",
            "--max-requests",
            "2",
            "-o",
            "json",
        ],
    );
    let took = t.elapsed();
    // One --timeout for the (concurrent) queries, the scrapes after.
    assert!(
        took < std::time::Duration::from_secs(10),
        "took {took:?}:\n{}",
        r.stderr
    );
    assert_eq!(
        rows(&r)[0],
        ("shop/client".into(), "linkerd-fail-fast".into()),
        "{}",
        r.json
    );
    let notes = r.json["notes"].to_string();
    assert!(
        notes.contains(&format!("Prometheus at {slow} could not be queried"))
            && notes.contains("fell back to proxy scrapes"),
        "{notes}"
    );
    let missing = r.json["missing"].to_string();
    assert!(
        missing.contains(&format!(
            "Prometheus at {slow} did not answer within the --timeout of 2s"
        )),
        "{missing}"
    );
    // The fallback keeps to the scrape budget.
    assert!(
        missing.contains("over the --max-requests budget of 2"),
        "{missing}"
    );
    assert_eq!(
        r.json["runtime"],
        "proxy scrapes through the pod proxy (2 of 3 meshed workloads)"
    );
    let scrapes = server
        .requests()
        .iter()
        .filter(|q| q.path.contains("/pods/") && q.path.contains("/proxy/"))
        .count();
    assert_eq!(scrapes, 2);
}

#[test]
fn a_slow_prometheus_behind_the_service_proxy_times_out_too() {
    let mut s = scenarios::shop_fleet();
    // Longer than --timeout, short enough for the fixture to shut down soon.
    s.fault(Fault::slow(
        "/api/v1/namespaces/linkerd-viz/services/prometheus:9090/proxy/*",
        std::time::Duration::from_secs(6),
    ));
    let server = ApiServer::start(s);
    let t = std::time::Instant::now();
    let r = triage(&server, &["ns/shop", "--timeout", "1s", "-o", "json"]);
    let took = t.elapsed();
    assert!(
        took < std::time::Duration::from_secs(5),
        "took {took:?}:\n{}",
        r.stderr
    );
    assert_eq!(rows(&r)[0].1, "linkerd-fail-fast", "{}", r.json);
    let viz = "Prometheus at service linkerd-viz/prometheus:9090 (API server proxy) did not answer within the --timeout of 1s";
    assert!(r.json["missing"].to_string().contains(viz), "{}", r.json);
    assert!(
        r.json["notes"]
            .to_string()
            .contains("fell back to proxy scrapes"),
        "{}",
        r.json["notes"]
    );
    assert!(
        r.json["runtime"]
            .as_str()
            .unwrap()
            .starts_with("proxy scrapes"),
        "{}",
        r.json
    );
}
