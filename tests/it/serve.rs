//! `meshdoc serve` end to end: the built binary as a child process against
//! the in-process API server, on an ephemeral port with a short interval,
//! read over plain HTTP. `/metrics` is parsed with meshdoc's own Prometheus
//! text parser; `/findings` is compared with `diagnose -A -o json`. Each
//! child is killed when its guard drops, pass or fail.

use crate::support::apiserver::{ApiServer, Fault};
use crate::support::scenarios;
use crate::triage::triage;
use meshdoc::evidence::MetricSample;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `meshdoc serve`, killed on drop.
pub struct Serve {
    child: Child,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts `meshdoc serve --listen 127.0.0.1:0 ARGS` (with `--interval
    /// 1s` unless ARGS give one) against `server`; returns once it says
    /// where it listens.
    pub fn start(server: &ApiServer, args: &[&str]) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let kc = server.write_kubeconfig(dir.path(), "default");
        let interval: &[&str] = if args.contains(&"--interval") {
            &[]
        } else {
            &["--interval", "1s"]
        };
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("meshdoc"))
            .env_remove("KUBECONFIG")
            .env_remove("MESHDOC_RULES")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(interval)
            .args(args)
            .arg("--kubeconfig")
            .arg(&kc)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start meshdoc serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        {
            let pipe = child.stderr.take().unwrap();
            let log = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        let a = rest.split_whitespace().next().unwrap_or("");
                        if let Ok(a) = a.parse() {
                            let _ = tx.send(a);
                        }
                    }
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "meshdoc serve did not say where it listens:\n{}",
                    stderr.lock().unwrap()
                );
            }
        };
        Serve {
            child,
            addr,
            stderr,
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// GET `path`: (status, content type, body).
    pub fn get(&self, path: &str) -> (u16, String, String) {
        get(self.addr, path)
    }

    /// Polls `path` until `ok` holds for its answer (within 60 s).
    pub fn wait_for(&self, path: &str, ok: impl Fn(u16, &str) -> bool) -> (u16, String) {
        let t = Instant::now();
        loop {
            let (status, _, body) = self.get(path);
            if ok(status, &body) {
                return (status, body);
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "{path} never answered as expected; last {status}:\n{body}\nstderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// /metrics, parsed by meshdoc's own exposition parser (which must read
    /// every line).
    pub fn metrics(&self) -> (String, Vec<MetricSample>) {
        let (status, ctype, body) = self.get("/metrics");
        assert_eq!(status, 200, "{body}");
        assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
        let (samples, bad) = meshdoc::evidence::metrics::parse(&body);
        assert_eq!(bad, 0, "unparseable lines in /metrics:\n{body}");
        (body, samples)
    }
}

/// A plain HTTP/1.1 GET over a fresh connection.
pub fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut s = match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
        Ok(s) => s,
        Err(e) => return (0, String::new(), e.to_string()),
    };
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let ctype = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    (status, ctype, body.to_string())
}

/// The samples named `name` whose labels include all of `labels`.
pub fn series<'a>(
    samples: &'a [MetricSample],
    name: &str,
    labels: &[(&str, &str)],
) -> Vec<&'a MetricSample> {
    samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .collect()
}

fn value(samples: &[MetricSample], name: &str) -> f64 {
    let s = series(samples, name, &[]);
    assert_eq!(s.len(), 1, "{name}: {s:?}");
    s[0].value
}

#[test]
fn serve_exposes_the_shop_fleets_findings_as_metrics_and_the_same_json_as_diagnose() {
    let server = ApiServer::start(scenarios::shop_fleet());
    let serve = Serve::start(&server, &["--no-prometheus"]);
    assert_eq!(serve.get("/healthz").0, 200);
    serve.wait_for("/readyz", |s, _| s == 200);
    let (body, samples) = serve.metrics();

    // Every family announces itself once, HELP then TYPE.
    for (name, kind) in [
        ("meshdoc_finding", "gauge"),
        ("meshdoc_workload_requests_failing_ratio", "gauge"),
        ("meshdoc_run_duration_seconds", "gauge"),
        ("meshdoc_runs_total", "counter"),
        ("meshdoc_run_failures_total", "counter"),
        ("meshdoc_last_run_timestamp_seconds", "gauge"),
        ("meshdoc_evidence_unreadable", "gauge"),
        ("meshdoc_prometheus_up", "gauge"),
    ] {
        let help = format!("# HELP {name} ");
        let ty = format!("# TYPE {name} {kind}\n");
        assert_eq!(body.matches(&help).count(), 1, "{name}:\n{body}");
        let h = body.find(&help).unwrap();
        assert_eq!(body.find(&ty), body[h..].find('\n').map(|i| h + i + 1));
    }

    // client fails fast (error), payments is scaled to zero behind its Service.
    let client = series(
        &samples,
        "meshdoc_finding",
        &[
            ("namespace", "shop"),
            ("kind", "Deployment"),
            ("workload", "client"),
            ("rule", "linkerd-fail-fast"),
            ("severity", "error"),
            ("mesh", "linkerd"),
        ],
    );
    assert_eq!(client.len(), 1, "{body}");
    assert_eq!(client[0].value, 1.0);
    assert!(
        !series(
            &samples,
            "meshdoc_finding",
            &[("namespace", "shop"), ("workload", "payments")]
        )
        .is_empty(),
        "{body}"
    );
    for healthy in ["web", "cart"] {
        assert!(
            series(&samples, "meshdoc_finding", &[("workload", healthy)]).is_empty(),
            "{healthy} has a finding:\n{body}"
        );
    }
    let ratio = series(
        &samples,
        "meshdoc_workload_requests_failing_ratio",
        &[("namespace", "shop"), ("workload", "client")],
    );
    assert!((ratio[0].value - 0.812).abs() < 1e-9, "{body}");
    assert!(value(&samples, "meshdoc_runs_total") >= 1.0);
    assert_eq!(value(&samples, "meshdoc_run_failures_total"), 0.0);
    assert_eq!(value(&samples, "meshdoc_prometheus_up"), 0.0);
    assert!(value(&samples, "meshdoc_last_run_timestamp_seconds") > 1.7e9);

    // /findings is the document `diagnose -A -o json` prints.
    let (status, ctype, findings) = serve.get("/findings");
    assert_eq!((status, ctype.as_str()), (200, "application/json"));
    let served: Value = serde_json::from_str(&findings).unwrap();
    let printed = triage(&server, &["-A", "--no-prometheus", "-o", "json"]).json;
    assert_eq!(served, printed);

    // Read-only.
    assert!(server.requests().iter().all(|q| q.method == "GET"));
    assert_eq!(serve.get("/nope").0, 404);
}

#[test]
fn a_namespace_the_api_server_refuses_shows_in_evidence_unreadable() {
    let mut s = scenarios::shop_fleet();
    s.fault(Fault::status(
        "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies",
        403,
    ));
    let server = ApiServer::start(s);
    let serve = Serve::start(&server, &["-n", "shop", "--no-prometheus"]);
    serve.wait_for("/readyz", |s, _| s == 200);
    let (body, samples) = serve.metrics();
    let refused = series(
        &samples,
        "meshdoc_evidence_unreadable",
        &[
            ("resource", "networkpolicies"),
            ("namespace", "shop"),
            ("reason", "forbidden"),
        ],
    );
    assert_eq!(refused.len(), 1, "{body}");
    // The rest is still ranked.
    assert_eq!(
        series(
            &samples,
            "meshdoc_finding",
            &[("workload", "client"), ("rule", "linkerd-fail-fast")]
        )
        .len(),
        1,
        "{body}"
    );
    let (_, _, findings) = serve.get("/findings");
    let v: Value = serde_json::from_str(&findings).unwrap();
    assert_eq!(v["scope"], "namespace shop");
    assert!(v["missing"].to_string().contains("NetworkPolicies in shop"));
}

#[test]
fn not_ready_before_the_first_run_and_a_failed_run_keeps_the_findings_marked_stale() {
    let mut s = scenarios::shop_fleet();
    // The first run waits on the pod LIST: /readyz must say 503 meanwhile.
    s.fault(Fault::slow("/api/v1/pods", Duration::from_secs(2)));
    let server = ApiServer::start(s);
    // Runs start 8 s apart: the API server is gone between two runs, not
    // halfway through one (which would be a partial read, not a failure).
    let serve = Serve::start(
        &server,
        &["--no-prometheus", "--timeout", "10s", "--interval", "8s"],
    );
    assert_eq!(serve.get("/healthz").0, 200);
    let (status, _, _) = serve.get("/readyz");
    assert_eq!(status, 503);
    assert_eq!(serve.get("/findings").0, 503);
    serve.wait_for("/readyz", |s, _| s == 200);
    let (_, samples) = serve.metrics();
    assert_eq!(value(&samples, "meshdoc_findings_stale"), 0.0);

    // The API server goes away: runs fail, the server stays up.
    drop(server);
    serve.wait_for("/metrics", |_, b| {
        b.lines()
            .any(|l| l.starts_with("meshdoc_run_failures_total ") && !l.ends_with(" 0"))
    });
    let (_, samples) = serve.metrics();
    assert!(value(&samples, "meshdoc_run_failures_total") >= 1.0);
    assert_eq!(value(&samples, "meshdoc_findings_stale"), 1.0);
    assert_eq!(
        series(
            &samples,
            "meshdoc_finding",
            &[("workload", "client"), ("rule", "linkerd-fail-fast")]
        )
        .len(),
        1,
        "the last findings are kept"
    );
    let (status, _, findings) = serve.get("/findings");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&findings).unwrap();
    assert!(v["stale"]["failed_runs"].as_u64().unwrap() >= 1, "{v}");
    assert!(
        v["stale"]["reason"]
            .as_str()
            .unwrap()
            .contains("could not read any object"),
        "{v}"
    );
    assert_eq!(v["workloads"][0]["top_cause"], "linkerd-fail-fast");
    assert_eq!(serve.get("/healthz").0, 200);
    assert!(serve.stderr().contains("failed"), "{}", serve.stderr());
}

#[test]
fn sigterm_shuts_the_server_down_cleanly() {
    let server = ApiServer::start(scenarios::shop_fleet());
    let mut serve = Serve::start(&server, &["--no-prometheus"]);
    serve.wait_for("/readyz", |s, _| s == 200);
    let pid = serve.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let t = Instant::now();
    let status = loop {
        if let Some(s) = serve.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "{}", serve.stderr());
    std::thread::sleep(Duration::from_millis(100));
    assert!(serve.stderr().contains("shut down"), "{}", serve.stderr());
}

#[test]
fn serve_refuses_a_missing_kubeconfig_and_a_bad_interval_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["serve", "--kubeconfig", "/nonexistent/kubeconfig"],
        vec!["serve", "--interval", "0s"],
        vec!["serve", "-A", "-n", "shop"],
    ] {
        let out = assert_cmd::Command::cargo_bin("meshdoc")
            .unwrap()
            .env("HOME", dir.path())
            .env("KUBECONFIG", dir.path().join("none"))
            .env_remove("KUBERNETES_SERVICE_HOST")
            .args(&args)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn repeated_namespaces_are_each_listed_and_nothing_else_is_ranked() {
    let server = ApiServer::start(scenarios::fleet(3, 5, 1));
    let serve = Serve::start(
        &server,
        &["-n", "ns-002", "-n", "ns-000", "--no-prometheus"],
    );
    serve.wait_for("/readyz", |s, _| s == 200);
    let (_, _, findings) = serve.get("/findings");
    let v: Value = serde_json::from_str(&findings).unwrap();
    assert_eq!(v["scope"], "namespaces ns-000, ns-002");
    let namespaces: std::collections::BTreeSet<&str> = v["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(
        namespaces,
        ["ns-000", "ns-002"].into_iter().collect(),
        "{v}"
    );
    let reqs = server.requests();
    for ns in ["ns-000", "ns-002"] {
        assert!(
            reqs.iter()
                .any(|q| q.path == format!("/api/v1/namespaces/{ns}/pods")),
            "{reqs:#?}"
        );
    }
    assert!(
        !reqs
            .iter()
            .any(|q| q.path == "/api/v1/pods" || q.path.contains("/namespaces/ns-001/")),
        "{reqs:#?}"
    );
}
