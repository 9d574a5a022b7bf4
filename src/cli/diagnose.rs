//! `meshdoc diagnose`: ranked root causes from evidence — a bundle
//! (`--from DIR|FILE.tar.gz`), ad-hoc files (`--logs`, `--metrics`, `--http`,
//! `--objects`, `--reports`), or stdin (`kubectl logs … | meshdoc diagnose -`).

use super::{Code, Global, emit, note};
use crate::collect::bundle;
use crate::engine::diagnosis::Diagnosis;
use crate::evidence::{InputKind, Origin};
use crate::facts::FactOptions;
use crate::report::Report;
use anyhow::{Context, bail};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// `-` reads proxy/app logs from stdin.
    #[arg(value_name = "TARGET")]
    pub target: Option<String>,
    /// A bundle directory or .tar.gz written by `--save-bundle` (or by hand).
    #[arg(long, value_name = "DIR|FILE.tar.gz")]
    pub from: Option<PathBuf>,
    /// Proxy, app or access log files.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub logs: Vec<PathBuf>,
    /// Prometheus/OpenMetrics scrapes (Linkerd :4191/metrics, Istio :15020/stats/prometheus).
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub metrics: Vec<PathBuf>,
    /// curl -v transcripts or header blocks.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub http: Vec<PathBuf>,
    /// Kubernetes manifests (multi-document YAML or JSON).
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub objects: Vec<PathBuf>,
    /// `linkerd check -o json` or `istioctl analyze` output.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub reports: Vec<PathBuf>,
    /// What the log inputs are, when auto-detection guesses wrong.
    #[arg(long, value_enum, default_value = "auto")]
    pub kind: super::explain::KindArg,
    /// Namespace for objects that name none.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Exit 2 when some evidence could not be collected.
    #[arg(long)]
    pub strict: bool,
}

/// Runs an offline diagnosis and returns its report.
pub fn offline(a: &DiagnoseArgs, rules: &crate::rules::RuleSet) -> anyhow::Result<Report> {
    let mut d = Diagnosis::new(rules);
    let mut inputs = Vec::new();
    if let Some(from) = &a.from {
        let m = bundle::feed(from, &mut d)?;
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
            d.block(
                &String::from_utf8_lossy(&bytes),
                kind,
                &Origin::file(label.clone(), None),
                &label,
            );
            inputs.push(label);
        }
    }
    for p in &a.objects {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        let label = p.display().to_string();
        d.manifests(&text, &label, &a.namespace)?;
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
    let (findings, stats, missing, read) = d.finish(&FactOptions::default());
    for r in &read {
        note(&format!("meshdoc: read {r}"));
    }
    note(&format!(
        "meshdoc: evidence read: {} lines, {} unparseable, {} proxy log events, {} access-log records, {} metric samples, {} HTTP responses",
        super::explain::group(stats.lines),
        super::explain::group(stats.unparseable),
        super::explain::group(stats.proxy_log),
        super::explain::group(stats.access_log),
        super::explain::group(stats.metric_samples),
        super::explain::group(stats.http_responses),
    ));
    let mut report = Report::new("diagnose", inputs.join(", "), findings);
    report.read = Some(stats);
    report.missing = missing;
    Ok(report)
}

pub fn run(a: DiagnoseArgs, g: &Global) -> anyhow::Result<Code> {
    let rules = super::load_rules(g)?;
    let is_offline = a.from.is_some()
        || !a.logs.is_empty()
        || !a.metrics.is_empty()
        || !a.http.is_empty()
        || !a.objects.is_empty()
        || !a.reports.is_empty()
        || a.target.as_deref() == Some("-");
    if !is_offline {
        bail!(
            "live cluster diagnosis (`diagnose pod/NAME`) is not available in this build; use --from DIR or files"
        );
    }
    let report = offline(&a, &rules)?;
    let code = emit(&report, g)?;
    if a.strict && !report.missing.is_empty() {
        return Ok(Code::Failure);
    }
    Ok(code)
}
