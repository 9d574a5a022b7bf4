//! A real Prometheus (Debian's `prometheus` package) scraping recorded-format
//! Linkerd proxy metrics from a local HTTP server, queried by `meshdoc
//! diagnose ns/shop --prometheus URL` against the fixture API server: the
//! PromQL runs on the real engine.
//!
//! Without the binary the test prints one skip line; with
//! `MESHDOC_REQUIRE_PROMETHEUS` set (as `.ci/run` does) it fails instead.
//! `MESHDOC_PROMETHEUS` names the binary when it is not `prometheus` on PATH.

use crate::support::apiserver::ApiServer;
use crate::support::scenarios;
use crate::triage::{assert_mixed_fleet, row_of, rows, triage};
use axum::extract::{Path, State};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The prometheus binary, or `None` after printing why the test skips.
fn prometheus_binary(test: &str) -> Option<std::path::PathBuf> {
    let candidate = std::env::var_os("MESHDOC_PROMETHEUS")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH")?)
                .map(|d| d.join("prometheus"))
                .find(|p| p.is_file())
        });
    if candidate.is_none() {
        if std::env::var_os("MESHDOC_REQUIRE_PROMETHEUS").is_some() {
            panic!("{test}: prometheus is required (MESHDOC_REQUIRE_PROMETHEUS) but not on PATH");
        }
        eprintln!(
            "note: {test}: skipped, no prometheus binary (apt-get install prometheus, or set MESHDOC_PROMETHEUS)"
        );
    }
    candidate
}

/// Serves each body at `/NAME`, counters scaled by the number of scrapes so
/// far (a proxy's counters grow; a flat series would increase by 0).
struct Exporter {
    addr: std::net::SocketAddr,
    _thread: std::thread::JoinHandle<()>,
}

type Bodies = Arc<(HashMap<String, String>, Mutex<HashMap<String, u64>>)>;

async fn serve(State(st): State<Bodies>, Path(name): Path<String>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some(body) = st.0.get(&name) else {
        return (axum::http::StatusCode::NOT_FOUND, "no such page").into_response();
    };
    let n = {
        let mut m = st.1.lock().unwrap();
        let c = m.entry(name).or_default();
        *c += 1;
        *c as f64
    };
    let text: String = body
        .lines()
        .map(|l| match l.rsplit_once(' ') {
            Some((series, v)) if !l.starts_with('#') => match v.parse::<f64>() {
                Ok(v) => format!("{series} {}\n", v * n),
                Err(_) => format!("{l}\n"),
            },
            _ => format!("{l}\n"),
        })
        .collect();
    ([("content-type", "text/plain; version=0.0.4")], text).into_response()
}

fn exporter(pages: HashMap<String, String>) -> Exporter {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let addr = l.local_addr().unwrap();
    let st: Bodies = Arc::new((pages, Mutex::new(HashMap::new())));
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new()
                .route("/{name}", axum::routing::get(serve))
                .with_state(st);
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            let _ = axum::serve(l, app).await;
        });
    });
    Exporter {
        addr,
        _thread: thread,
    }
}

/// A Prometheus child process, killed on drop.
struct Prom {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prom {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Prometheus on loopback scraping `targets` (path, labels) every second.
fn start_prometheus(
    bin: &std::path::Path,
    exporter: std::net::SocketAddr,
    targets: &[(&str, &[(&str, &str)])],
) -> Prom {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = String::from(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
    );
    for (i, (path, labels)) in targets.iter().enumerate() {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}: \"{v}\""))
            .collect();
        cfg.push_str(&format!(
            "- job_name: proxy-{i}\n  metrics_path: /{path}\n  static_configs:\n  - targets: ['{exporter}']\n    labels: {{{}}}\n",
            labels.join(", ")
        ));
    }
    let cfg_path = dir.path().join("prometheus.yml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let child = std::process::Command::new(bin)
        .arg(format!("--config.file={}", cfg_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    Prom {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// Waits until every target has been scraped at least twice (so `increase`
/// has two samples), with meshdoc's own Prometheus client.
fn wait_for_scrapes(p: &Prom, targets: usize) {
    meshdoc::collect::cluster::client::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client =
        meshdoc::collect::prometheus::Prometheus::url(&p.url, Duration::from_secs(2)).unwrap();
    let t = Instant::now();
    loop {
        let ok = rt
            .block_on(client.query("count_over_time(up[1m]) >= 2"))
            .is_ok_and(|s| s.len() == targets);
        if ok {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "Prometheus at {} did not scrape {targets} targets twice within 60s: {}",
            p.url,
            std::fs::read_to_string(p._dir.path().join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_real_prometheus_ranks_the_failing_workload_first_with_one_query_per_signal_family() {
    let test =
        "a_real_prometheus_ranks_the_failing_workload_first_with_one_query_per_signal_family";
    let Some(bin) = prometheus_binary(test) else {
        return;
    };
    let pages: HashMap<String, String> = [
        (
            "client".to_string(),
            scenarios::linkerd_failfast_metrics("shop", "payments", 812, 188),
        ),
        ("web".to_string(), scenarios::linkerd_healthy_metrics(1000)),
        ("cart".to_string(), scenarios::linkerd_healthy_metrics(40)),
    ]
    .into();
    let exp = exporter(pages);
    // The labels linkerd-viz's scrape config adds from the pod's metadata.
    let targets: &[(&str, &[(&str, &str)])] = &[
        (
            "client",
            &[
                ("namespace", "shop"),
                ("deployment", "client"),
                ("pod", "client-5f7b9c-00000"),
            ],
        ),
        (
            "web",
            &[
                ("namespace", "shop"),
                ("deployment", "web"),
                ("pod", "web-5f7b9c-00000"),
            ],
        ),
        (
            "cart",
            &[
                ("namespace", "shop"),
                ("deployment", "cart"),
                ("pod", "cart-5f7b9c-00000"),
            ],
        ),
    ];
    let prom = start_prometheus(&bin, exp.addr, targets);
    wait_for_scrapes(&prom, targets.len());

    // The API server serves the objects only: no pod-proxy metrics, so every
    // runtime signal below came through PromQL.
    let mut s = scenarios::shop_fleet();
    s.proxy.clear();
    let server = ApiServer::start(s);
    let r = triage(
        &server,
        &["ns/shop", "--prometheus", &prom.url, "-o", "json"],
    );
    let rows = rows(&r);
    assert_eq!(
        rows[0],
        ("shop/client".into(), "linkerd-fail-fast".into()),
        "{rows:?}\n{}",
        r.stderr
    );
    let client = &r.json["workloads"][0];
    let failing = client["failing_percent"].as_f64().unwrap();
    assert!((failing - 81.2).abs() < 0.05, "{client}");
    for healthy in ["shop/web", "shop/cart"] {
        let w = r.json["workloads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| {
                format!(
                    "{}/{}",
                    w["namespace"].as_str().unwrap(),
                    w["name"].as_str().unwrap()
                ) == healthy
            })
            .unwrap();
        assert_eq!(w["failing_percent"].as_f64(), Some(0.0), "{w}");
        assert!(w["requests"].as_f64().unwrap() > 0.0, "{w}");
    }
    let queries = r.json["queries"].as_array().unwrap();
    assert_eq!(
        queries.len(),
        meshdoc::collect::prometheus::FAMILIES.len(),
        "{queries:?}"
    );
    assert!(
        r.json["runtime"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Prometheus {}", prom.url))
    );
    assert!(r.json.get("missing").is_none(), "{}", r.json);
    assert!(
        !server.requests().iter().any(|q| q.path.contains("/proxy/")),
        "scraped although Prometheus answered"
    );
}

#[test]
fn a_real_prometheus_scrapes_serve_and_promql_returns_the_finding_series() {
    let test = "a_real_prometheus_scrapes_serve_and_promql_returns_the_finding_series";
    let Some(bin) = prometheus_binary(test) else {
        return;
    };
    let server = ApiServer::start(scenarios::shop_fleet());
    let serve = crate::serve::Serve::start(&server, &["--no-prometheus"]);
    serve.wait_for("/readyz", |s, _| s == 200);
    let prom = start_prometheus(&bin, serve.addr, &[("metrics", &[])]);

    meshdoc::collect::cluster::client::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client =
        meshdoc::collect::prometheus::Prometheus::url(&prom.url, Duration::from_secs(2)).unwrap();
    let t = Instant::now();
    let series = loop {
        match rt.block_on(client.query("meshdoc_finding")) {
            Ok(s) if !s.is_empty() => break s,
            other => assert!(
                t.elapsed() < Duration::from_secs(60),
                "no meshdoc_finding series in Prometheus within 60s: {other:?}\n{}",
                std::fs::read_to_string(prom._dir.path().join("prometheus.log"))
                    .unwrap_or_default()
            ),
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let label = |s: &meshdoc::collect::prometheus::Series, k: &str| {
        s.labels.get(k).cloned().unwrap_or_default()
    };
    assert!(
        series.iter().any(|s| label(s, "namespace") == "shop"
            && label(s, "workload") == "client"
            && label(s, "rule") == "linkerd-fail-fast"
            && label(s, "severity") == "error"
            && label(s, "mesh") == "linkerd"
            && s.value == 1.0),
        "{series:#?}"
    );
    assert!(
        series.iter().all(|s| label(s, "workload") != "web"),
        "{series:#?}"
    );
    // deploy/prometheusrule.yaml's expressions are PromQL this Prometheus
    // accepts, and the error-finding alert's selects the failing workload.
    let rules: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheusrule.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut alerts = 0;
    for rule in rules["spec"]["groups"][0]["rules"].as_array().unwrap() {
        let expr = rule["expr"].as_str().unwrap();
        let answer = rt
            .block_on(client.query(expr))
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        if rule["alert"] == "MeshdocErrorFinding" {
            assert!(
                answer
                    .iter()
                    .any(|s| s.labels.get("workload").map(String::as_str) == Some("client")),
                "{expr}: {answer:?}"
            );
        }
        alerts += 1;
    }
    assert!(alerts >= 2);
}

/// Pages and scrape targets of [`scenarios::mixed_fleet`]'s meshed pods, with
/// the labels each mesh's Prometheus adds: linkerd-viz's `linkerd-proxy` job
/// (`namespace`, `deployment`, `pod` from the pod's metadata), and the
/// `kubernetes-pods` job of Istio's Prometheus addon (`namespace`, `pod`,
/// and the pod's labels through `labelmap`, Istio's own among them).
type Target = (String, Vec<(String, String)>);

fn mixed_fleet_pages() -> (HashMap<String, String>, Vec<Target>) {
    let mut pages = HashMap::new();
    let mut targets = Vec::new();
    let own = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    for (deploy, body) in [
        (
            "client",
            scenarios::linkerd_failfast_metrics("shop", "payments", 812, 188),
        ),
        ("web", scenarios::linkerd_healthy_metrics(1000)),
        ("cart", scenarios::linkerd_healthy_metrics(40)),
        (
            "legacy",
            scenarios::linkerd_legacy_metrics("shop", "inventory", 300, 700),
        ),
    ] {
        let pod = format!("{deploy}-5f7b9c-00000");
        pages.insert(deploy.to_string(), body);
        targets.push((
            deploy.to_string(),
            own(&[("namespace", "shop"), ("deployment", deploy), ("pod", &pod)]),
        ));
    }
    for (deploy, pod, body) in scenarios::bookinfo_istio_pages() {
        let app = deploy.trim_end_matches("-v1");
        pages.insert(deploy.to_string(), body);
        targets.push((
            deploy.to_string(),
            own(&[
                ("namespace", "bookinfo"),
                ("pod", pod),
                ("app", app),
                ("version", "v1"),
                ("pod_template_hash", "5f7b9c"),
                ("security_istio_io_tlsMode", "istio"),
                ("service_istio_io_canonical_name", app),
                ("service_istio_io_canonical_revision", "v1"),
            ]),
        ));
    }
    (pages, targets)
}

/// A real Prometheus scraping every meshed pod of the mixed fleet, each
/// target scraped twice already.
fn mixed_fleet_prometheus(bin: &std::path::Path) -> (Exporter, Prom) {
    let (pages, targets) = mixed_fleet_pages();
    let exp = exporter(pages);
    let labels: Vec<Vec<(&str, &str)>> = targets
        .iter()
        .map(|(_, l)| l.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
        .collect();
    let t: Vec<(&str, &[(&str, &str)])> = targets
        .iter()
        .zip(&labels)
        .map(|((p, _), l)| (p.as_str(), l.as_slice()))
        .collect();
    let prom = start_prometheus(bin, exp.addr, &t);
    wait_for_scrapes(&prom, t.len());
    (exp, prom)
}

/// The API server with the mixed fleet's objects but no pod-proxy pages, so
/// every runtime signal must come through PromQL.
fn objects_only(mut s: crate::support::apiserver::Scenario) -> ApiServer {
    s.proxy.clear();
    ApiServer::start(s)
}

fn pod_scrapes(server: &ApiServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter(|q| q.path.contains("/pods/") && q.path.contains("/proxy/"))
        .map(|q| q.path)
        .collect()
}

#[test]
fn a_real_prometheus_ranks_istio_workloads_by_their_envoy_flags_beside_the_linkerd_ones() {
    let test =
        "a_real_prometheus_ranks_istio_workloads_by_their_envoy_flags_beside_the_linkerd_ones";
    let Some(bin) = prometheus_binary(test) else {
        return;
    };
    let (_exp, prom) = mixed_fleet_prometheus(&bin);
    let server = objects_only(scenarios::mixed_fleet());

    // One Istio namespace: selected by either end of the request.
    let r = triage(
        &server,
        &["ns/bookinfo", "--prometheus", &prom.url, "-o", "json"],
    );
    let rows = rows(&r);
    assert_eq!(
        rows[0],
        (
            "bookinfo/productpage-v1".into(),
            "envoy-no-healthy-upstream".into()
        ),
        "{rows:?}\n{}",
        r.stderr
    );
    assert_eq!(
        rows[1],
        (
            "bookinfo/ratings-v1".into(),
            "envoy-upstream-connect-failure".into()
        ),
        "{rows:?}"
    );
    assert!(
        rows.iter().all(|(w, _)| w.starts_with("bookinfo/")),
        "{rows:?}"
    );
    let pp = row_of(&r, "bookinfo/productpage-v1");
    assert!(
        (pp["failing_percent"].as_f64().unwrap() - 90.0).abs() < 0.05,
        "{pp}"
    );
    let q = r.json["queries"].to_string();
    assert!(
        q.contains("source_workload_namespace=\\\"bookinfo\\\"")
            && q.contains("destination_workload_namespace=\\\"bookinfo\\\""),
        "{q}"
    );

    // The whole cluster: the Istio workloads beside the Linkerd ones, as the
    // pod-proxy scrapes of the same pages rank them.
    let r = triage(&server, &["-A", "--prometheus", &prom.url, "-o", "json"]);
    assert_mixed_fleet(&r);
    assert!(
        r.json["runtime"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Prometheus {}", prom.url)),
        "{}",
        r.json
    );
    assert!(r.json.get("missing").is_none(), "{}", r.json);
    assert_eq!(pod_scrapes(&server), Vec::<String>::new());
}

#[test]
fn without_prometheus_given_the_real_one_is_found_through_the_service_proxy() {
    let test = "without_prometheus_given_the_real_one_is_found_through_the_service_proxy";
    let Some(bin) = prometheus_binary(test) else {
        return;
    };
    let (_exp, prom) = mixed_fleet_prometheus(&bin);
    let mut s = scenarios::mixed_fleet();
    s.service_proxy("linkerd-viz", "prometheus", 9090, &prom.url);
    let server = objects_only(s);
    let r = triage(&server, &["-A", "-o", "json"]);
    assert_mixed_fleet(&r);
    let families = meshdoc::collect::prometheus::FAMILIES.len();
    assert_eq!(
        r.json["runtime"],
        format!(
            "Prometheus service linkerd-viz/prometheus:9090 (API server proxy) ({} PromQL queries)",
            families + 1
        ),
        "{}",
        r.json
    );
    assert!(r.json.get("missing").is_none(), "{}", r.json);
    // The probe and one query per family, all through the service proxy
    // (and so counted as API requests); no pod was scraped.
    let reqs = server.requests();
    let via: Vec<_> = reqs
        .iter()
        .filter(|q| {
            q.path == "/api/v1/namespaces/linkerd-viz/services/prometheus:9090/proxy/api/v1/query"
        })
        .collect();
    assert_eq!(via.len(), families + 1, "{via:#?}");
    assert_eq!(via[0].param("query").as_deref(), Some("vector(1)"));
    assert!(
        !reqs
            .iter()
            .any(|q| q.path.contains("istio-system/services")),
        "probed on after linkerd-viz's answered: {reqs:#?}"
    );
    assert_eq!(pod_scrapes(&server), Vec::<String>::new());
}
