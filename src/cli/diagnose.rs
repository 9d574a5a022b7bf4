//! `meshdoc diagnose pod/NAME`: collect the workload's neighbourhood from the
//! cluster (read-only), turn it into evidence and facts, match the rules and
//! print ranked root causes naming the objects involved.
//!
//! The same command diagnoses saved evidence offline: a bundle
//! (`--from DIR|FILE.tar.gz`), ad-hoc files (`--logs`, `--metrics`, `--http`,
//! `--objects`, `--reports`), or stdin (`kubectl logs … | meshdoc diagnose -`).
//!
//! stdout carries only the report; the spinner, the "what I looked at"
//! summary and warnings go to stderr.

use super::{Code, Global, emit, note};
use crate::collect::bundle;
use crate::collect::cluster::{
    self, Collection, MeshChoice, Needs, Request, Target, client::ClientOptions,
    target::parse_duration,
};
use crate::engine::Matcher;
use crate::engine::diagnosis::Diagnosis;
use crate::evidence::{Evidence, InputKind, Item, Origin, ReadStats, detect};
use crate::facts::{FactOptions, ObjRef, Object, ObjectSet};
use crate::report::{Finding, Hop, Report};
use crate::rules::{Hop as RuleHop, Mesh, RuleSet};
use crate::util::group;
use anyhow::{Context, bail};
use clap::Args;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// What to diagnose: pod/NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME, job/NAME,
    /// cronjob/NAME or svc/NAME (kubectl's long names too); ns/NAME ranks every
    /// workload of a namespace; `-` reads logs from stdin.
    #[arg(value_name = "TARGET")]
    pub target: Option<String>,
    /// Namespace (default: the kubeconfig context's; offline: for objects that name none).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Offline: a bundle directory or .tar.gz written by `--save-bundle` (or by hand).
    #[arg(long, value_name = "DIR|FILE.tar.gz")]
    pub from: Option<PathBuf>,
    /// Offline: proxy, app or access log files.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub logs: Vec<PathBuf>,
    /// Offline: Prometheus/OpenMetrics scrapes (Linkerd :4191/metrics, Istio :15020/stats/prometheus).
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub metrics: Vec<PathBuf>,
    /// Offline: curl -v transcripts or header blocks.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub http: Vec<PathBuf>,
    /// Offline: Kubernetes manifests (multi-document YAML or JSON).
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub objects: Vec<PathBuf>,
    /// Offline: `linkerd check -o json` or `istioctl analyze` output.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub reports: Vec<PathBuf>,
    /// Offline: what the log inputs are, when auto-detection guesses wrong.
    #[arg(long, value_enum, default_value = "auto")]
    pub kind: super::explain::KindArg,
    /// Kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// Kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Read logs newer than this (30s, 5m, 1h).
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub since: Duration,
    /// Read at most this many lines per container.
    #[arg(long, default_value_t = 2000)]
    pub tail: u64,
    /// Give up collecting after this long and diagnose what was gathered.
    /// With ns/NAME or -A it bounds each LIST, each Prometheus query (by
    /// URL or through the service proxy) and the proxy scrapes.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Which mesh's evidence to collect.
    #[arg(long, value_enum, default_value = "auto")]
    pub mesh: MeshChoice,
    /// Exit 2 when some evidence could not be collected.
    #[arg(long)]
    pub strict: bool,
    /// Also write everything collected to DIR as a bundle (redacted).
    #[arg(long, value_name = "DIR")]
    pub save_bundle: Option<PathBuf>,
    /// Replace a non-empty --save-bundle directory.
    #[arg(long)]
    pub force: bool,
    /// Diagnose a bundle whose bundle.yaml lists files that are missing or
    /// short (an interrupted copy), reporting them, instead of failing.
    #[arg(long)]
    pub partial: bool,
    /// Rank the workloads of every namespace by evidence of mesh failure
    /// (like ns/NAME, cluster-wide).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    #[command(flatten)]
    pub metrics_source: super::triage::MetricsSource,
    /// ns/NAME, -A: expand the worst N workloads into full diagnoses (with logs).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub top: usize,
    /// Largest object, metrics or HTTP file read from a bundle or archive, in
    /// MiB; a larger one is skipped and reported (logs are streamed).
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub max_file_mib: u64,
}

/// A stderr spinner, only when stderr is a terminal.
struct Spinner {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    fn start(msg: String) -> Spinner {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = std::io::stderr().is_terminal().then(|| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                use std::io::Write;
                let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let _ = write!(std::io::stderr(), "\r{} {msg}", frames[i % frames.len()]);
                    let _ = std::io::stderr().flush();
                    i += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = write!(std::io::stderr(), "\r\x1b[2K");
                let _ = std::io::stderr().flush();
            })
        });
        Spinner { stop, handle }
    }

    fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Runs an offline diagnosis and returns its report.
pub fn offline(a: &DiagnoseArgs, rules: &crate::rules::RuleSet) -> anyhow::Result<Report> {
    let mut d = Diagnosis::new(rules);
    let mut inputs = Vec::new();
    if let Some(from) = &a.from {
        let m = bundle::feed(
            from,
            &mut d,
            &bundle::ReadOptions {
                partial: a.partial,
                max_file: a.max_file_mib.saturating_mul(1 << 20),
            },
        )?;
        inputs.push(if m.target.is_empty() {
            from.display().to_string()
        } else {
            format!("{} ({})", from.display(), m.target)
        });
    }
    let kind: InputKind = a.kind.into();
    for p in &a.logs {
        let f = std::fs::File::open(p).with_context(|| format!("reading {}", p.display()))?;
        let label = p.display().to_string();
        d.logs(f, kind, &Origin::file(label.clone(), None), &label)
            .with_context(|| format!("reading {label}"))?;
        inputs.push(label);
    }
    for (files, kind) in [
        (&a.metrics, InputKind::Metrics),
        (&a.http, InputKind::Http),
        (&a.reports, InputKind::Auto),
    ] {
        for p in files {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            let label = p.display().to_string();
            let (text, lossy) = crate::evidence::text::decode_lossy(bytes);
            if lossy {
                d.not_utf8(&label);
            }
            d.block(&text, kind, &Origin::file(label.clone(), None), &label);
            inputs.push(label);
        }
    }
    for p in &a.objects {
        let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        let label = p.display().to_string();
        let (text, lossy) = crate::evidence::text::decode_lossy(bytes);
        if lossy {
            d.not_utf8(&label);
        }
        d.manifests(&text, &label, a.namespace.as_deref().unwrap_or("default"))?;
        inputs.push(label);
    }
    if a.target.as_deref() == Some("-") {
        let stdin = std::io::stdin();
        d.logs(
            stdin.lock(),
            kind,
            &Origin::file("<stdin>", None),
            "<stdin>",
        )
        .context("reading stdin")?;
        inputs.push("<stdin>".into());
    }
    if inputs.is_empty() {
        bail!(
            "nothing to diagnose: give --from DIR, --logs/--metrics/--http/--objects FILE, or `-` for stdin"
        );
    }
    for source in &d.not_utf8 {
        super::warn_not_utf8(source);
    }
    let crate::engine::diagnosis::Finished {
        findings,
        stats,
        missing,
        read,
        timeline,
    } = d.finish_all(&FactOptions::default());
    for r in &read {
        note(&format!("meshdoc: read {r}"));
    }
    note(&format!(
        "meshdoc: evidence read: {} lines, {} unparseable, {} proxy log events, {} access-log records, {} metric samples, {} HTTP responses",
        group(stats.lines),
        group(stats.unparseable),
        group(stats.proxy_log),
        group(stats.access_log),
        group(stats.metric_samples),
        group(stats.http_responses),
    ));
    let mut report = Report::new("diagnose", inputs.join(", "), findings);
    report.read = Some(stats);
    report.missing = missing;
    report.timeline = Some(timeline);
    Ok(report)
}

impl DiagnoseArgs {
    /// `true` when the inputs are saved evidence rather than a live target.
    pub fn is_offline(&self) -> bool {
        self.from.is_some()
            || !self.logs.is_empty()
            || !self.metrics.is_empty()
            || !self.http.is_empty()
            || !self.objects.is_empty()
            || !self.reports.is_empty()
            || self.target.as_deref() == Some("-")
    }

    /// `ns/NAME` or `-A`: rank the workloads of a namespace or the cluster.
    pub fn is_fleet(&self) -> bool {
        self.all_namespaces
            || self
                .target
                .as_deref()
                .is_some_and(|t| super::triage::namespace_target(t).is_some())
    }
}

pub fn run(a: DiagnoseArgs, g: &Global) -> anyhow::Result<Code> {
    if a.is_fleet() {
        return super::triage::run(&a, g);
    }
    let (report, incomplete) = report(&a, g)?;
    let code = emit(&report, g)?;
    if incomplete {
        return Ok(Code::Failure);
    }
    Ok(code)
}

/// The diagnosis `a` asks for, live or offline, and whether `--strict`
/// makes what could not be collected a failure (exit 2).
pub fn report(a: &DiagnoseArgs, g: &Global) -> anyhow::Result<(Report, bool)> {
    if a.is_offline() {
        if a.save_bundle.is_some() {
            bail!(
                "--save-bundle writes what a live diagnosis collected; it does not apply to --from or file inputs"
            );
        }
        let rules = super::load_rules(g)?;
        let report = offline(a, &rules)?;
        let incomplete = a.strict && !report.missing.is_empty();
        return Ok((report, incomplete));
    }
    if a.is_fleet() {
        bail!(
            "a namespace or -A ranks workloads, one report per workload: meshdoc diagnose ns/NAME"
        );
    }
    let Some(target) = a.target.as_deref() else {
        bail!(
            "nothing to diagnose: give a target (pod/NAME, deploy/NAME, sts/NAME, cronjob/NAME, svc/NAME, …), --from DIR, evidence files, or `-` for stdin"
        );
    };
    let target = Target::parse(target)?;
    let rules = super::load_rules(g)?;
    let needs = if a.save_bundle.is_some() {
        Needs::everything()
    } else {
        Needs::from_rules(&rules)
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    if let Some(ns) = &a.namespace {
        cluster::target::check_namespace(ns).map_err(anyhow::Error::msg)?;
    }
    let opts = ClientOptions {
        kubeconfig: a.kubeconfig.clone(),
        context: a.context.clone(),
        namespace: a.namespace.clone(),
    };
    let spinner = Spinner::start(format!("collecting {target}…"));
    let collected = rt.block_on(async {
        let (client, ns, server) = cluster::client::connect(&opts).await?;
        cluster::target::check_namespace(&ns)
            .map_err(|e| anyhow::anyhow!("the kubeconfig's namespace: {e}"))?;
        let req = Request {
            target: target.clone(),
            namespace: ns,
            since: a.since,
            tail: a.tail,
            timeout: a.timeout,
            mesh: a.mesh,
            needs,
        };
        anyhow::Ok(cluster::collect(client, req, server).await?)
    });
    spinner.finish();
    let c = collected.with_context(|| format!("cannot collect {target}"))?;

    if let Some(dir) = &a.save_bundle {
        let m = crate::collect::bundle_write::write_bundle(dir, &c, a.force)
            .with_context(|| format!("cannot save the bundle to {}", dir.display()))?;
        note(&format!(
            "meshdoc: bundle written to {} ({} objects, {} logs, {} metrics pages, {} values redacted)",
            dir.display(),
            m.collected.objects.values().sum::<usize>(),
            m.collected.logs.len(),
            m.collected.metrics.len(),
            m.redacted
        ));
    }

    let rules = match c.mesh {
        Some(m) => rules.for_mesh(Some(m)),
        None => rules,
    };
    let report = diagnose_collection(&c, &rules, &FactOptions::default());
    note(&summary(&c, report.read.as_ref()));
    let incomplete = a.strict && !c.failures.is_empty();
    if incomplete {
        note(&format!(
            "meshdoc: --strict: {} piece(s) of evidence could not be collected",
            c.failures.len()
        ));
    }
    Ok((report, incomplete))
}

/// Evidence items of a collection: every log line, each metrics page (Events
/// are read with their times by [`diagnose_collection`]).
pub fn evidence_of(c: &Collection) -> (Vec<Evidence>, ReadStats) {
    let mut out = Vec::new();
    let mut stats = ReadStats::default();
    for l in &c.logs {
        // As a bundle names it: the previous instance's log is its own
        // source, with its own start time.
        let container = if l.previous {
            format!("{}.previous", l.container)
        } else {
            l.container.clone()
        };
        let origin = Origin::Pod {
            namespace: l.namespace.clone(),
            pod: l.pod.clone(),
            container: Some(container),
            line: None,
        };
        let (items, st) = detect::read_text(&l.text, InputKind::Auto, &origin);
        stats.add(&st);
        out.extend(items);
    }
    for m in &c.metrics {
        let (samples, bad) = crate::evidence::metrics::parse(&m.text);
        stats.lines += m.text.lines().count() as u64;
        stats.bytes += m.text.len() as u64;
        stats.unparseable += bad;
        let item = Item::Metrics { samples };
        stats.count(&item);
        out.push(Evidence {
            item,
            raw: String::new(),
            origin: Origin::Pod {
                namespace: m.namespace.clone(),
                pod: m.pod.clone(),
                container: Some(
                    if m.source.starts_with("15020") {
                        cluster::ISTIO_PROXY
                    } else {
                        cluster::LINKERD_PROXY
                    }
                    .to_string(),
                ),
                line: None,
            },
        });
    }
    (out, stats)
}

/// Collected objects as an [`ObjectSet`] for the facts.
pub fn object_set(c: &Collection) -> ObjectSet {
    let objects = c
        .objects
        .iter()
        .map(|v| {
            let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
            Object {
                origin: ObjRef {
                    kind: s("/kind").unwrap_or_default(),
                    namespace: s("/metadata/namespace"),
                    name: s("/metadata/name").unwrap_or_default(),
                    ..ObjRef::default()
                },
                value: v.clone(),
            }
        })
        .collect();
    ObjectSet {
        objects,
        ..ObjectSet::default()
    }
}

/// The library side of `diagnose`: collection → evidence + facts → findings.
pub fn diagnose_collection(
    c: &Collection,
    rules: &crate::rules::RuleSet,
    fact_opts: &FactOptions,
) -> Report {
    let mut m = Matcher::new(rules);
    let (items, mut stats) = evidence_of(c);
    for ev in &items {
        m.observe(ev);
    }
    // Events read like log lines ("Warning BackOff: Back-off restarting
    // failed container"), at the times they were first and last seen.
    for e in &c.events {
        let (ev, first, last) = crate::evidence::event::evidence(e);
        stats.app_log += 1;
        m.observe_at(&ev, first, last);
    }
    m.set_clock(crate::evidence::time::Clock::of_pods(&c.objects));
    let now = crate::evidence::time::At::from_system(fact_opts.now);
    m.set_changes(crate::facts::changes::changes(
        c.objects.iter().chain(c.events.iter()),
        now,
    ));
    let set = object_set(c);
    for f in crate::facts::derive(&set, fact_opts) {
        m.observe_fact(&f);
    }
    m.default_vars(&target_vars(c));
    let (findings, timeline) = m.finish_with_timeline();
    let mut report = Report::new("diagnose", c.target.clone(), findings);
    report.timeline = Some(timeline);
    report.read = Some(stats);
    report.missing = c.missing(rules);
    report.notes = c.notes.clone();
    report.path = Some(request_path(c, rules, report.findings.first()));
    report
}

/// `namespace`, `pod`, `deployment`, `service`, `container` from the run itself.
fn target_vars(c: &Collection) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    v.insert("namespace".into(), c.namespace.clone());
    if let Some(p) = c.pods.first() {
        v.insert("pod".into(), p.clone());
    }
    let first = |kind: &str| {
        c.objects
            .iter()
            .find(|o| {
                o.get("kind").and_then(Value::as_str) == Some(kind)
                    && o.pointer("/metadata/namespace").and_then(Value::as_str)
                        == Some(c.namespace.as_str())
            })
            .and_then(|o| o.pointer("/metadata/name").and_then(Value::as_str))
            .map(str::to_string)
    };
    if let Some(d) = first("Deployment") {
        v.insert("deployment".into(), d);
    }
    let svc = c
        .called
        .first()
        .and_then(|s| s.split_once('/').map(|(_, n)| n.to_string()))
        .or_else(|| first("Service"));
    if let Some(s) = svc {
        v.insert("service".into(), s);
    }
    let proxy = match c.mesh {
        Some(Mesh::Istio) => cluster::ISTIO_PROXY,
        _ => cluster::LINKERD_PROXY,
    };
    v.insert("container".into(), proxy.into());
    v
}

/// The request-path picture for table output: the top finding's rule says
/// where its cause sits (`hop:`).
fn request_path(c: &Collection, rules: &RuleSet, top: Option<&Finding>) -> Vec<Hop> {
    let (cp, sp) = match c.mesh {
        Some(Mesh::Istio) => ("client sidecar (istio-proxy)", "server sidecar :15006"),
        _ => ("client proxy", "server proxy :4143"),
    };
    let pod = c.pods.first().map(|p| format!("pod {}/{p}", c.namespace));
    let server = c.called.first().map(|s| format!("Service {s}"));
    let hops = [
        (RuleHop::ClientApp, "client app"),
        (RuleHop::ClientProxy, cp),
        (RuleHop::ServerProxy, sp),
        (RuleHop::ServerApp, "server app"),
    ];
    let marked = top.map(|f| rules.get(&f.id).map(|r| r.hop).unwrap_or_default());
    hops.iter()
        .map(|&(hop, n)| Hop {
            name: n.to_string(),
            detail: match (marked == Some(hop), top) {
                (true, Some(f)) => Some(format!(
                    "{} ({})",
                    f.id,
                    if matches!(hop, RuleHop::ServerProxy | RuleHop::ServerApp) {
                        server.clone().or_else(|| pod.clone()).unwrap_or_default()
                    } else {
                        pod.clone().unwrap_or_default()
                    }
                )),
                _ => None,
            },
            marked: marked == Some(hop),
        })
        .collect()
}

/// The "what I looked at" lines for stderr.
pub fn summary(c: &Collection, read: Option<&ReadStats>) -> String {
    let mut s = format!(
        "meshdoc: looked at {} in {} ({}, {} API requests, {:.1}s)",
        c.target,
        c.namespace,
        match c.mesh {
            Some(Mesh::Linkerd) => "Linkerd",
            Some(Mesh::Istio) => "Istio",
            _ => "no mesh proxy found",
        },
        c.requests,
        c.elapsed.as_secs_f64()
    );
    let parts: Vec<String> = c
        .looked_at
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{} {k}", group(*n as u64)))
        .collect();
    if !parts.is_empty() {
        s.push_str(&format!("\n  read: {}", parts.join(", ")));
    }
    if !c.called.is_empty() {
        s.push_str(&format!("\n  calls: {}", c.called.join(", ")));
    }
    if let Some(r) = read
        && r.lines > 0
    {
        s.push_str(&format!(
            "\n  evidence: {} lines read, {} unparseable",
            group(r.lines),
            group(r.unparseable)
        ));
    }
    for n in &c.notes {
        s.push_str(&format!("\n  note: {n}"));
    }
    if !c.failures.is_empty() {
        s.push_str(&format!(
            "\n  could not read: {}",
            c.failures
                .iter()
                .map(|f| f.what.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    s
}
