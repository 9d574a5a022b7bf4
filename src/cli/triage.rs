//! `meshdoc diagnose ns/NAME` and `diagnose -A`: which workloads of a
//! namespace (or the cluster) are failing, and why.
//!
//! collect (LISTs of the scope; runtime signals from Prometheus or a
//! budget of proxy scrapes) → evidence (metric samples per workload) →
//! facts (the object-level rules, as `check --cluster`) → rules (per
//! workload) → findings ranked by failing share and severity → render.
//! `--top N` expands the worst N into the single-workload diagnosis of
//! `diagnose deploy/NAME`, which is the only place logs are read.

use super::diagnose::DiagnoseArgs;
use super::{Code, Global, note, print};
use crate::collect::cluster::{
    self, MeshChoice, Namespaces, Needs, Request, Target, WorkloadKind, client::ClientOptions,
};
use crate::collect::fleet::{self, PromChoice, Source};
use crate::facts::FactOptions;
use crate::report::triage::{TriageReport, TriageRow, render_markdown, render_table};
use crate::report::{Format, Missing};
use crate::rules::{Mesh, RuleSet};
use anyhow::{Context, bail};
use std::time::Instant;

/// `ns/NAME`, `namespace/NAME`, `namespaces/NAME`: the namespace asked for.
pub fn namespace_target(target: &str) -> Option<&str> {
    let (k, n) = target.split_once('/')?;
    matches!(
        k.to_ascii_lowercase().as_str(),
        "ns" | "namespace" | "namespaces"
    )
    .then_some(n)
}

fn mesh_of(m: MeshChoice) -> Option<Mesh> {
    match m {
        MeshChoice::Auto => None,
        MeshChoice::Linkerd => Some(Mesh::Linkerd),
        MeshChoice::Istio => Some(Mesh::Istio),
    }
}

/// The single-workload target for a row, when it names a controller or pod.
fn target_of(r: &TriageRow) -> Option<Target> {
    let name = r.name.clone();
    Some(match r.kind.as_str() {
        "Deployment" => Target::Workload(WorkloadKind::Deployment, name),
        "StatefulSet" => Target::Workload(WorkloadKind::StatefulSet, name),
        "DaemonSet" => Target::Workload(WorkloadKind::DaemonSet, name),
        "ReplicaSet" => Target::Workload(WorkloadKind::ReplicaSet, name),
        "Job" => Target::Workload(WorkloadKind::Job, name),
        "CronJob" => Target::CronJob(name),
        "Pod" => Target::Pod(name),
        _ => return None,
    })
}

fn missing_of(rules: &RuleSet, failures: &[cluster::Failure]) -> Vec<Missing> {
    failures
        .iter()
        .map(|f| Missing {
            what: f.what.clone(),
            reason: f.reason.clone(),
            rules: cluster::affected_rules(rules, f),
        })
        .collect()
}

/// LIST page size for a fleet read: the API server's default cap is far
/// above it, and 10,000 pods take 2 requests instead of 20.
pub const LIST_PAGE: u32 = 5000;

fn into_object_set(values: Vec<serde_json::Value>) -> crate::facts::ObjectSet {
    use crate::facts::{ObjRef, Object};
    let objects = values
        .into_iter()
        .map(|v| {
            let s = |p: &str| {
                v.pointer(p)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string)
            };
            Object {
                origin: ObjRef {
                    kind: s("/kind").unwrap_or_default(),
                    namespace: s("/metadata/namespace"),
                    name: s("/metadata/name").unwrap_or_default(),
                    ..ObjRef::default()
                },
                value: v,
            }
        })
        .collect();
    crate::facts::ObjectSet {
        objects,
        ..Default::default()
    }
}

/// What one fleet triage reads, however it was asked for (`diagnose -A`,
/// `diagnose ns/NAME`, `serve`).
#[derive(Debug, Clone)]
pub struct TriageOptions {
    pub scope: Namespaces,
    pub mesh: MeshChoice,
    pub prometheus: PromChoice,
    pub since: std::time::Duration,
    pub timeout: std::time::Duration,
    pub max_requests: usize,
    /// Expand the worst N into full diagnoses (logs read only for them).
    pub top: usize,
    pub tail: u64,
}

/// One triage's result: the report `diagnose -o json` prints, and what a
/// caller that keeps running (`serve`) wants to know besides.
#[derive(Debug, Clone)]
pub struct Triage {
    pub report: TriageReport,
    /// Workloads looked at (the rows less the per-namespace ones).
    pub workloads: usize,
    /// Everything that could not be read, as collected (with resource and
    /// namespace), for metrics.
    pub unreadable: Vec<cluster::Failure>,
    /// Whether the runtime signals came from Prometheus.
    pub prometheus_up: bool,
    pub elapsed: std::time::Duration,
}

/// The triage `diagnose ns/NAME` or `diagnose -A` asks for.
pub fn options(a: &DiagnoseArgs) -> anyhow::Result<TriageOptions> {
    let scope = match (
        a.all_namespaces,
        a.target.as_deref().and_then(namespace_target),
    ) {
        (true, None) if a.target.is_none() => Namespaces::All,
        (false, Some(ns)) => {
            cluster::target::check_namespace(ns).map_err(anyhow::Error::msg)?;
            Namespaces::one(ns)
        }
        _ => bail!(
            "give either ns/NAME or -A/--all-namespaces, not both and not with another target"
        ),
    };
    Ok(TriageOptions {
        scope,
        mesh: a.mesh,
        prometheus: a.metrics_source.choice(),
        since: a.since,
        timeout: a.timeout,
        max_requests: a.metrics_source.max_requests,
        top: a.top,
        tail: a.tail,
    })
}

/// Where a whole-cluster triage (`diagnose ns/NAME`, `-A`, `serve`) reads
/// the proxies' request counters.
#[derive(Debug, Clone, clap::Args)]
pub struct MetricsSource {
    /// Fleet triage (ns/NAME, -A, serve): Prometheus to read the proxies' metrics from
    /// (default: linkerd-viz's or istio-system's `prometheus` Service,
    /// through the API server's service proxy; else proxy scrapes through
    /// the pod proxy).
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// Fleet triage: do not look for Prometheus; scrape proxies.
    #[arg(long, conflicts_with = "prometheus")]
    pub no_prometheus: bool,
    /// Fleet triage without Prometheus: at most this many proxy scrapes per
    /// run (one pod per workload, worst first).
    #[arg(long, value_name = "N", default_value_t = 24)]
    pub max_requests: usize,
}

impl MetricsSource {
    /// `--prometheus URL` / `--no-prometheus` / neither.
    pub fn choice(&self) -> PromChoice {
        match (&self.prometheus, self.no_prometheus) {
            (Some(u), _) => PromChoice::Url(u.clone()),
            (None, true) => PromChoice::Off,
            (None, false) => PromChoice::Discover,
        }
    }
}

/// The rules a triage with `mesh` runs.
pub fn rules_for(g: &Global, mesh: MeshChoice) -> anyhow::Result<RuleSet> {
    Ok(super::load_rules(g)?.for_mesh(mesh_of(mesh)))
}

/// The runtime and client of a whole-cluster read (`diagnose ns/…`, `-A`,
/// `serve`): the kubeconfig and context as kubectl reads them, no namespace.
pub fn connect(
    kubeconfig: Option<std::path::PathBuf>,
    context: Option<String>,
    failure: &'static str,
) -> anyhow::Result<(tokio::runtime::Runtime, kube::Client, String)> {
    let opts = ClientOptions {
        kubeconfig,
        context,
        namespace: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (client, server) = rt
        .block_on(async {
            let (client, _ns, server) = cluster::client::connect(&opts).await?;
            anyhow::Ok((client, server))
        })
        .context(failure)?;
    Ok((rt, client, server))
}

pub fn run(a: &DiagnoseArgs, g: &Global) -> anyhow::Result<Code> {
    let o = options(a)?;
    if matches!(g.output, Format::Sarif | Format::Junit | Format::Github) {
        bail!("`diagnose` over a namespace or cluster prints table, json, yaml or markdown");
    }
    if a.save_bundle.is_some() {
        bail!(
            "--save-bundle writes one workload's evidence; diagnose deploy/NAME --save-bundle DIR"
        );
    }
    let rules = rules_for(g, a.mesh)?;
    let (rt, client, server) = connect(
        a.kubeconfig.clone(),
        a.context.clone(),
        "cannot connect to the cluster",
    )?;
    let t = rt.block_on(triage(&client, &server, &rules, &o))?;
    note(&format!(
        "meshdoc: looked at {} workload(s) in {} ({} API requests, {} PromQL queries, {:.1}s)",
        t.workloads,
        t.report.scope,
        t.report.api_requests,
        t.report.queries.len(),
        t.elapsed.as_secs_f64()
    ));
    let report = t.report;
    let text = match g.output {
        Format::Json => render_json(&report),
        Format::Yaml => serde_saphyr::to_string(&report).unwrap_or_default(),
        Format::Markdown => render_markdown(&report, g.verbose),
        _ => render_table(&report, g.verbose),
    };
    let code = if !g.exit_zero && report.fails(g.fail_on.into()) {
        Code::Findings
    } else {
        Code::Clean
    };
    match print(&text) {
        Err(e) if super::is_broken_pipe(&e) => {}
        other => other?,
    }
    if a.strict && !report.missing.is_empty() {
        return Ok(Code::Failure);
    }
    Ok(code)
}

/// The JSON `diagnose ns/NAME -o json` prints (and `serve` answers on
/// `/findings`).
pub fn render_json(report: &TriageReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_default() + "\n"
}

/// One fleet triage: collect → facts → rules per workload → ranked rows.
/// An error only when nothing at all could be read (the API server is
/// unreachable or every LIST was refused); anything less degrades the
/// report and is listed in it.
pub async fn triage(
    client: &kube::Client,
    server: &str,
    rules: &RuleSet,
    o: &TriageOptions,
) -> anyhow::Result<Triage> {
    let started = Instant::now();
    let needs = Needs::from_rules(rules);
    let only_ns: Option<Vec<String>> = o.scope.names().map(<[String]>::to_vec);
    let in_scope = |ns: &str| only_ns.as_ref().is_none_or(|n| n.iter().any(|x| x == ns));
    let mut report = TriageReport::new(o.scope.describe());

    // collect: the scope's objects, one LIST per resource.
    let mut c = cluster::inventory_paged(
        client.clone(),
        server.to_string(),
        o.scope.clone(),
        mesh_of(o.mesh),
        &needs,
        o.timeout,
        LIST_PAGE,
    )
    .await;
    if c.objects.is_empty() && !c.failures.is_empty() {
        let why: Vec<String> = missing_of(rules, &c.failures)
            .into_iter()
            .map(|m| format!("{}: {}", m.what, m.reason))
            .collect();
        bail!(
            "could not read any object of {}: {}",
            report.scope,
            why.join("; ")
        );
    }

    // facts → rules: the object-level causes, as `check --cluster` finds them.
    // The objects move into the set (a clone of 10,000 pods costs ~100 MB).
    let set = into_object_set(std::mem::take(&mut c.objects));
    let checked = super::check::check_objects(
        rules,
        &set,
        &super::check::CheckOptions {
            facts: FactOptions::default(),
            ..Default::default()
        },
    );
    let mut config = super::check::fold_owned(checked.findings, &set);
    if only_ns.is_some() {
        config.retain(|f| {
            f.location.as_ref().is_none_or(|l| {
                l.namespace
                    .as_deref()
                    .is_none_or(|n| n.is_empty() || in_scope(n))
            })
        });
    }

    // Workloads, worst first: what a scrape budget reads first.
    let values: Vec<&serde_json::Value> = set.objects.iter().map(|o| &o.value).collect();
    let mut workloads = fleet::workloads(values);
    workloads.retain(|w| in_scope(&w.namespace));
    let flagged: std::collections::HashSet<(String, String)> = config
        .iter()
        .filter_map(|f| f.location.as_ref())
        .map(|l| (l.namespace.clone().unwrap_or_default(), l.name.clone()))
        .collect();
    // A broken Service's callers are usually its neighbours: workloads of a
    // namespace with a config finding come before the rest.
    let flagged_ns: std::collections::HashSet<&str> =
        flagged.iter().map(|(n, _)| n.as_str()).collect();
    workloads.sort_by_key(|w| {
        (
            std::cmp::Reverse(w.not_ready),
            std::cmp::Reverse(w.restarts),
            !flagged.contains(&(w.namespace.clone(), w.name.clone())),
            !flagged_ns.contains(w.namespace.as_str()),
            w.namespace.clone(),
            w.name.clone(),
        )
    });

    // Runtime signals.
    let runtime = fleet::runtime(
        client.clone(),
        &workloads,
        &o.prometheus,
        only_ns.as_deref(),
        o.since,
        o.max_requests,
        o.timeout,
    )
    .await;
    let prometheus_up = matches!(runtime.source, Source::Prometheus { .. });
    report.runtime = match &runtime.source {
        Source::Prometheus { at, queries } => format!("Prometheus {at} ({queries} PromQL queries)"),
        Source::PodProxy { scraped, workloads } => format!(
            "proxy scrapes through the pod proxy ({scraped} of {workloads} meshed workloads)"
        ),
        Source::None => "none could be read".into(),
    };
    report.queries = runtime.queries.clone();

    // rules per workload → ranked rows.
    report.workloads =
        crate::engine::triage::rank(rules, &workloads, &runtime.samples, &config, &set);
    report.api_requests = c.requests + runtime.api_requests;
    report.missing = c.missing(rules);
    report.missing.extend(missing_of(rules, &runtime.failures));
    // "X: not installed" once per resource, in one line.
    let mut absent: Vec<&str> = Vec::new();
    for n in &c.notes {
        match n
            .strip_suffix(": CRD not installed")
            .or_else(|| n.strip_suffix(": not installed"))
        {
            Some(r) if !absent.contains(&r) => absent.push(r),
            Some(_) => {}
            None if !report.notes.contains(n) => report.notes.push(n.clone()),
            None => {}
        }
    }
    // Reads finish in any order: name them in the resource table's.
    absent.sort_by_key(|l| {
        cluster::resources::RESOURCES
            .iter()
            .position(|r| r.label == *l)
            .unwrap_or(usize::MAX)
    });
    if !absent.is_empty() {
        report.notes.push(format!(
            "not installed, nothing to read: {}",
            absent.join(", ")
        ));
    }
    report.notes.extend(runtime.notes.iter().cloned());
    let mut unreadable = c.failures;
    unreadable.extend(runtime.failures);

    // --top N: the worst N in full (logs read only here).
    let top: Vec<(String, Target)> = report
        .workloads
        .iter()
        .filter(|r| !r.healthy())
        .filter_map(|r| target_of(r).map(|t| (r.namespace.clone(), t)))
        .take(o.top)
        .collect();
    for (ns, target) in top {
        let req = Request {
            target: target.clone(),
            namespace: ns.clone(),
            since: o.since,
            tail: o.tail,
            timeout: o.timeout,
            mesh: o.mesh,
            needs: needs.clone(),
        };
        match cluster::collect(client.clone(), req, server.to_string()).await {
            Ok(col) => {
                report.api_requests += col.requests;
                let rules = match col.mesh {
                    Some(m) => rules.for_mesh(Some(m)),
                    None => rules.clone(),
                };
                let mut d =
                    super::diagnose::diagnose_collection(&col, &rules, &FactOptions::default());
                d.input = format!("{target} in {ns}");
                report.diagnoses.push(d);
            }
            Err(e) => report.missing.push(Missing {
                what: format!("the diagnosis of {target} in {ns}"),
                reason: e.to_string(),
                rules: Vec::new(),
            }),
        }
    }
    Ok(Triage {
        report,
        workloads: workloads.len(),
        unreadable,
        prometheus_up,
        elapsed: started.elapsed(),
    })
}
