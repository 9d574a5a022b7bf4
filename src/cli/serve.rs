//! `meshdoc serve`: the fleet triage of `diagnose -A` (or of `-n`
//! namespaces) on an interval, inside the cluster, over HTTP:
//!
//! - `/metrics`: Prometheus text, a `meshdoc_finding` series per current
//!   cause, the failing share per workload, run counters, what could not be
//!   read, whether Prometheus answered;
//! - `/findings`: the last triage as the JSON `diagnose -A -o json` prints;
//! - `/healthz` (the process answers) and `/readyz` (a run has completed).
//!
//! Triage runs on its own thread and runtime, so a run's CPU work never
//! holds up a scrape. A run that fails (the API server unreachable) is
//! counted and logged; the previous findings stay, marked stale. Read-only
//! like every command: only GET and LIST reach the API server. Progress goes
//! to stderr.

use super::triage::{MetricsSource, TriageOptions, render_json, rules_for, triage};
use super::{Code, Global, note};
use crate::collect::cluster::{self, MeshChoice, Namespaces, target::parse_duration};
use crate::report::exposition::{self, Exposition, Kind};
use crate::report::triage::{Stale, TriageReport};
use anyhow::{Context, bail};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use clap::Args;
use futures::FutureExt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// The default `--listen` address. 9808 sits in the range Prometheus
/// exporters use (9100–9999) and is not used by meshdoc's neighbours here
/// (Prometheus 9090, Linkerd 4191, Istio 15020); it was not checked against
/// the Prometheus wiki's allocation list.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9808";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to serve /metrics, /findings, /healthz and /readyz on.
    #[arg(long, value_name = "ADDR:PORT", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Time between the starts of two triage runs (30s, 5m, 1h).
    #[arg(long, default_value = "1m", value_parser = parse_interval)]
    pub interval: Duration,
    /// Triage every namespace (the default without -n).
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Triage only this namespace (repeatable).
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Vec<String>,
    #[command(flatten)]
    pub metrics_source: MetricsSource,
    /// Read request counters over this window (30s, 5m, 1h).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub since: Duration,
    /// Give up a run's reads after this long and rank what was gathered:
    /// each LIST, each Prometheus query and the proxy scrapes.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Which mesh's evidence to collect.
    #[arg(long, value_enum, default_value = "auto")]
    pub mesh: MeshChoice,
    /// Kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// Kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(1) {
        return Err(format!("`{s}`: the interval is at least 1s"));
    }
    Ok(d)
}

impl ServeArgs {
    /// The triage each run performs.
    pub fn triage_options(&self) -> anyhow::Result<TriageOptions> {
        for ns in &self.namespace {
            cluster::target::check_namespace(ns).map_err(anyhow::Error::msg)?;
        }
        let mut names = self.namespace.clone();
        names.sort();
        names.dedup();
        Ok(TriageOptions {
            scope: if names.is_empty() {
                Namespaces::All
            } else {
                Namespaces::Only(names)
            },
            mesh: self.mesh,
            prometheus: self.metrics_source.choice(),
            since: self.since,
            timeout: self.timeout,
            max_requests: self.metrics_source.max_requests,
            top: 0,
            tail: 0,
        })
    }
}

/// The last successful run.
struct Last {
    report: TriageReport,
    /// (resource, namespace, reason class) of what could not be read.
    unreadable: Vec<(String, String, &'static str)>,
    prometheus_up: bool,
    at: f64,
}

/// What the HTTP side reads; the triage thread writes it after each run.
#[derive(Default)]
struct State {
    last: Option<Last>,
    runs: u64,
    failures: u64,
    /// Runs failed since `last` (it is stale when non-zero).
    failed_since: u64,
    /// When the first of those failed, and why the latest did.
    stale_since: Option<String>,
    last_error: Option<String>,
    /// End of the last run, successful or not (Unix seconds).
    last_run_at: Option<f64>,
    last_duration: Option<f64>,
}

type Shared = Arc<RwLock<State>>;

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn read(st: &Shared) -> std::sync::RwLockReadGuard<'_, State> {
    st.read().unwrap_or_else(|p| p.into_inner())
}

/// The `/metrics` page.
fn metrics(st: &State) -> String {
    let mut e = Exposition::new();
    match &st.last {
        Some(last) => exposition::triage(&mut e, &last.report),
        None => exposition::triage(&mut e, &TriageReport::new(String::new())),
    }
    e.family(
        "meshdoc_evidence_unreadable",
        Kind::Gauge,
        "Evidence the last successful run could not read: 1 per resource, namespace (empty: cluster-wide) and reason (forbidden, not_found, timeout, error).",
    );
    if let Some(last) = &st.last {
        for (res, ns, why) in &last.unreadable {
            e.sample(
                "meshdoc_evidence_unreadable",
                &[("resource", res), ("namespace", ns), ("reason", why)],
                1.0,
            );
        }
    }
    e.single(
        "meshdoc_prometheus_up",
        Kind::Gauge,
        "1 when the last successful run read runtime signals from Prometheus, 0 when it could not (or was told not to) and scraped proxies instead.",
        f64::from(u8::from(st.last.as_ref().is_some_and(|l| l.prometheus_up))),
    );
    e.single(
        "meshdoc_runs_total",
        Kind::Counter,
        "Triage runs completed, successful or not.",
        st.runs as f64,
    );
    e.single(
        "meshdoc_run_failures_total",
        Kind::Counter,
        "Triage runs that failed (nothing could be read); the findings of the last successful run are kept.",
        st.failures as f64,
    );
    e.single(
        "meshdoc_findings_stale",
        Kind::Gauge,
        "1 when the runs since the findings shown have failed.",
        f64::from(u8::from(st.failed_since > 0)),
    );
    if let Some(d) = st.last_duration {
        e.single(
            "meshdoc_run_duration_seconds",
            Kind::Gauge,
            "How long the last run took.",
            d,
        );
    }
    if let Some(t) = st.last_run_at {
        e.single(
            "meshdoc_last_run_timestamp_seconds",
            Kind::Gauge,
            "When the last run ended, successful or not (Unix time).",
            t,
        );
    }
    if let Some(last) = &st.last {
        e.single(
            "meshdoc_last_success_timestamp_seconds",
            Kind::Gauge,
            "When the last successful run ended (Unix time).",
            last.at,
        );
        e.single(
            "meshdoc_api_requests",
            Kind::Gauge,
            "API requests the last successful run made.",
            last.report.api_requests as f64,
        );
    }
    e.finish()
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn get_metrics(axum::extract::State(st): axum::extract::State<Shared>) -> Response {
    let body = metrics(&read(&st));
    text(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        body,
    )
}

async fn get_findings(axum::extract::State(st): axum::extract::State<Shared>) -> Response {
    let st = read(&st);
    let Some(last) = &st.last else {
        let body = serde_json::json!({"error": "no triage has completed yet", "runs": st.runs, "last_error": st.last_error});
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "application/json",
            body.to_string() + "\n",
        );
    };
    let body = if st.failed_since > 0 {
        let mut r = last.report.clone();
        r.stale = Some(Stale {
            since: st.stale_since.clone().unwrap_or_default(),
            failed_runs: st.failed_since,
            reason: st.last_error.clone().unwrap_or_default(),
        });
        render_json(&r)
    } else {
        render_json(&last.report)
    };
    text(StatusCode::OK, "application/json", body)
}

async fn get_readyz(axum::extract::State(st): axum::extract::State<Shared>) -> Response {
    // Ready once a run has completed, even a failed one: the failure must
    // be scrapeable (meshdoc_run_failures_total) for an alert to see it.
    if read(&st).runs > 0 {
        text(StatusCode::OK, "text/plain", "ok\n".into())
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "the first triage run has not completed\n".into(),
        )
    }
}

async fn get_healthz() -> Response {
    text(StatusCode::OK, "text/plain", "ok\n".into())
}

/// The routes, over `st`.
fn app(st: Shared) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/metrics", get(get_metrics))
        .route("/findings", get(get_findings))
        .route("/healthz", get(get_healthz))
        .route("/readyz", get(get_readyz))
        .with_state(st)
}

/// Records one run's outcome, then logs it (outside the lock: a slow
/// stderr must not hold up a scrape).
fn publish(st: &Shared, run: u64, outcome: anyhow::Result<super::triage::Triage>, took: f64) {
    let line = record(
        &mut st.write().unwrap_or_else(|p| p.into_inner()),
        run,
        outcome,
        took,
    );
    note(&line);
}

/// Folds one run into the state; returns its log line.
fn record(
    s: &mut State,
    run: u64,
    outcome: anyhow::Result<super::triage::Triage>,
    took: f64,
) -> String {
    s.runs += 1;
    s.last_run_at = Some(unix_now());
    s.last_duration = Some(took);
    match outcome {
        Ok(t) => {
            let errors = t
                .report
                .workloads
                .iter()
                .filter(|w| w.severity == Some(crate::rules::Severity::Error))
                .count();
            let line = format!(
                "meshdoc serve: run {run}: {} workload(s) in {}, {} with an error-severity cause, {} unreadable, {} API requests, {took:.1}s",
                t.workloads,
                t.report.scope,
                errors,
                t.unreadable.len(),
                t.report.api_requests
            );
            let mut unreadable: Vec<(String, String, &'static str)> = t
                .unreadable
                .iter()
                .map(|f| {
                    (
                        f.resource.map(str::to_string).unwrap_or_else(|| {
                            match f.family {
                                cluster::Family::Metrics => "metrics",
                                _ => "other",
                            }
                            .to_string()
                        }),
                        f.namespace.clone().unwrap_or_default(),
                        f.reason_class(),
                    )
                })
                .collect();
            unreadable.sort();
            unreadable.dedup();
            s.last = Some(Last {
                report: t.report,
                unreadable,
                prometheus_up: t.prometheus_up,
                at: unix_now(),
            });
            s.failed_since = 0;
            s.stale_since = None;
            s.last_error = None;
            line
        }
        Err(e) => {
            s.failures += 1;
            s.failed_since += 1;
            if s.stale_since.is_none() {
                s.stale_since = Some(rfc3339_now());
            }
            let why = format!("{e:#}");
            let line = format!(
                "meshdoc serve: run {run} failed ({took:.1}s){}: {why}",
                if s.last.is_some() {
                    "; the last successful run's findings are kept, marked stale"
                } else {
                    ""
                }
            );
            s.last_error = Some(why);
            line
        }
    }
}

/// Runs the triage every `interval` until the process ends.
fn triage_loop(
    st: Shared,
    client: kube::Client,
    server: String,
    rules: crate::rules::RuleSet,
    o: TriageOptions,
    interval: Duration,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the triage runtime")?;
    // A run that outlives every read's --timeout twice over is stuck.
    let limit = o.timeout * 3 + Duration::from_secs(30);
    rt.block_on(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut run = 0u64;
        loop {
            tick.tick().await;
            run += 1;
            let started = std::time::Instant::now();
            // A panic in a run is that run's failure, not the end of the
            // runs (the thread would die and the server go on, stale).
            let run_once = std::panic::AssertUnwindSafe(triage(&client, &server, &rules, &o));
            let outcome = match tokio::time::timeout(limit, run_once.catch_unwind()).await {
                Ok(Ok(r)) => r,
                Ok(Err(_)) => Err(anyhow::anyhow!("the run panicked (a bug in meshdoc)")),
                Err(_) => Err(anyhow::anyhow!(
                    "the run did not finish within {}s",
                    limit.as_secs()
                )),
            };
            publish(&st, run, outcome, started.elapsed().as_secs_f64());
        }
    })
}

/// Resolves on ctrl-c or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

pub fn run(a: ServeArgs, g: &Global) -> anyhow::Result<Code> {
    let o = a.triage_options()?;
    let rules = rules_for(g, a.mesh)?;
    let (rt, client, server) = super::triage::connect(
        a.kubeconfig.clone(),
        a.context.clone(),
        "cannot load the cluster configuration",
    )?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(a.listen))
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr().context("the listening address")?;
    note(&format!(
        "meshdoc serve: listening on http://{addr} (/metrics, /findings, /healthz, /readyz); triage of {} against {server} every {}s",
        o.scope.describe(),
        a.interval.as_secs()
    ));
    let st: Shared = Arc::default();
    {
        let st = st.clone();
        let interval = a.interval;
        std::thread::Builder::new()
            .name("triage".into())
            .spawn(move || {
                if let Err(e) = triage_loop(st, client, server, rules, o, interval) {
                    note(&format!("meshdoc serve: the triage loop stopped: {e:#}"));
                }
            })
            .context("cannot start the triage thread")?;
    }
    let served = rt.block_on(async {
        axum::serve(listener, app(st))
            .with_graceful_shutdown(shutdown_signal())
            .await
    });
    if let Err(e) = served {
        bail!("serving on {addr} failed: {e}");
    }
    note("meshdoc serve: shut down");
    Ok(Code::Clean)
}
