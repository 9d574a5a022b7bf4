//! Command-line interface: one file per subcommand. Everything here is the
//! edge: `anyhow` errors with context, output to stdout only in the requested
//! format, progress and warnings to stderr.

pub mod check;
pub mod diagnose;
pub mod explain;
pub mod rbac;
pub mod rules;
pub mod serve;
pub mod timeline;
pub mod triage;

use crate::report::Format;
use crate::rules::{RuleSet, Severity};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;

/// Exit codes: the contract for every command and format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Nothing at or above the threshold.
    Clean = 0,
    /// Findings at or above the threshold.
    Findings = 1,
    /// meshdoc itself failed (bad input, bad rules, I/O).
    Failure = 2,
}

#[derive(Debug, Parser)]
#[command(
    name = "meshdoc",
    version,
    about = "Why is my service mesh failing? Ranked root causes for Linkerd and Istio/Envoy, with evidence and fixes.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Extra rule directory or file (repeatable). Also from MESHDOC_RULES (`:`-separated).
    #[arg(long = "rules", global = true, value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Do not load the built-in rule pack.
    #[arg(long, global = true)]
    pub no_builtin: bool,
    /// Output format.
    #[arg(
        short = 'o',
        long = "output",
        global = true,
        value_enum,
        default_value = "table"
    )]
    pub output: Format,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, global = true, value_enum, default_value = "error")]
    pub fail_on: SeverityArg,
    /// Always exit 0 unless meshdoc itself fails.
    #[arg(long, global = true)]
    pub exit_zero: bool,
    /// Show every finding in full.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SeverityArg {
    Error,
    Warning,
    Info,
}

impl From<SeverityArg> for Severity {
    fn from(s: SeverityArg) -> Self {
        match s {
            SeverityArg::Error => Severity::Error,
            SeverityArg::Warning => Severity::Warning,
            SeverityArg::Info => Severity::Info,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explain a symptom offline: a status (503), Envoy flags (UF,URX), response-code-details,
    /// a header, a pasted proxy/access log line, a curl -v transcript, a file (--file F or -),
    /// or a rule id.
    Explain(explain::ExplainArgs),
    /// Diagnose a workload in a live cluster (read-only: pod/NAME, deploy/, sts/, ds/, rs/,
    /// job/, cronjob/, svc/NAME), or from evidence: a bundle (--from),
    /// log/metrics/http/manifest files, or stdin (`-`).
    Diagnose(diagnose::DiagnoseArgs),
    /// CI preflight: check Kubernetes/mesh manifests (files, directories, `-` for stdin) or
    /// the live cluster's objects (--cluster) for root causes visible in configuration.
    /// Exit 1 on findings at or above --fail-on.
    Check(check::CheckArgs),
    /// What changed and when the errors began, on one time axis: object changes
    /// (who, which fields), error onsets per evidence family, the suspected trigger
    /// marked. Same inputs as diagnose (a live target, --from DIR, files).
    Timeline(diagnose::DiagnoseArgs),
    /// Print the least-privilege ClusterRole and Roles that `diagnose` needs
    /// (--cluster-wide: the ClusterRole of `serve` and `diagnose -A`).
    Rbac(rbac::RbacArgs),
    /// Run the fleet triage of `diagnose -A` (or of -n namespaces) on an
    /// interval and serve it: /metrics (Prometheus), /findings (JSON),
    /// /healthz, /readyz. Read-only; for running inside the cluster.
    Serve(serve::ServeArgs),
    /// List, show, test rules; print the rule JSON Schema.
    #[command(subcommand)]
    Rules(rules::RulesCmd),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

/// Loads the built-in pack (without its examples) plus `--rules` and
/// `MESHDOC_RULES` directories.
pub fn load_rules(g: &Global) -> anyhow::Result<RuleSet> {
    Ok(crate::rules::load_rules_lean(&rule_dirs(g), g.no_builtin)?)
}

/// As [`load_rules`], only as far as a bare symptom needs (no signals).
pub fn load_rules_symptoms(g: &Global) -> anyhow::Result<RuleSet> {
    Ok(crate::rules::load::load_rules_symptoms(
        &rule_dirs(g),
        g.no_builtin,
    )?)
}

/// As [`load_rules`], with the built-in rules' examples (`rules test|show`).
pub fn load_rules_with_examples(g: &Global) -> anyhow::Result<RuleSet> {
    Ok(crate::rules::load_rules(&rule_dirs(g), g.no_builtin)?)
}

fn rule_dirs(g: &Global) -> Vec<std::path::PathBuf> {
    let mut dirs = g.rules.clone();
    if let Ok(env) = std::env::var("MESHDOC_RULES") {
        dirs.extend(std::env::split_paths(&env).filter(|p| !p.as_os_str().is_empty()));
    }
    dirs
}

/// Writes `s` to stdout; colour is kept only for terminals without NO_COLOR.
pub fn print(s: &str) -> anyhow::Result<()> {
    let mut out = anstream::stdout().lock();
    out.write_all(s.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// A warning or progress line on stderr.
pub fn note(s: &str) {
    let _ = writeln!(anstream::stderr(), "{s}");
}

/// The one warning for a source that was not valid UTF-8 (read lossily):
/// a file's path, or `-` for stdin.
pub fn warn_not_utf8(source: &str) {
    let shown = if source == "-" || source == "<stdin>" {
        "- (stdin)"
    } else {
        source
    };
    note(&crate::report::sanitize::strip_controls(
        &crate::evidence::text::not_utf8_warning(shown),
    ));
}

pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Prints a report in the requested format and returns the exit code.
pub fn emit(report: &crate::report::Report, g: &Global) -> anyhow::Result<Code> {
    emit_with(report, g, None)
}

/// [`emit`] with the rule set at hand (SARIF and JUnit list rules; without
/// it they are loaded again).
pub fn emit_with(
    report: &crate::report::Report,
    g: &Global,
    rules: Option<&RuleSet>,
) -> anyhow::Result<Code> {
    let loaded;
    let rules = match (rules, g.output) {
        (Some(r), _) => r,
        (None, Format::Sarif | Format::Junit) => {
            loaded = load_rules(g)?;
            &loaded
        }
        (None, _) => {
            loaded = RuleSet::default();
            &loaded
        }
    };
    let text = match g.output {
        Format::Json | Format::Yaml => {
            crate::report::render_machine(report, g.output).unwrap_or_default()
        }
        Format::Markdown => crate::report::markdown::render(report),
        Format::Table => crate::report::table::render(report, g.verbose),
        Format::Sarif => crate::report::sarif::render(report, rules),
        Format::Junit => crate::report::junit::render(report, rules),
        Format::Github => crate::report::github::render(report),
    };
    if g.output == Format::Github {
        // Workflow commands only on stdout; the count is for the job log.
        note(&format!("meshdoc: {} finding(s)", report.findings.len()));
    }
    let code = if !g.exit_zero && report.fails(g.fail_on.into()) {
        Code::Findings
    } else {
        Code::Clean
    };
    // A reader that stopped early (`| head`) does not change the answer.
    match print(&text) {
        Err(e) if is_broken_pipe(&e) => Ok(code),
        other => other.map(|_| code),
    }
}

pub fn main() -> anyhow::Result<Code> {
    let cli = Cli::parse();
    match cli.command {
        Command::Explain(a) => explain::run(a, &cli.global),
        Command::Diagnose(a) => diagnose::run(a, &cli.global),
        Command::Check(a) => check::run(a, &cli.global),
        Command::Timeline(a) => timeline::run(a, &cli.global),
        Command::Rbac(a) => rbac::run(a, &cli.global),
        Command::Serve(a) => serve::run(a, &cli.global),
        Command::Rules(r) => rules::run(r, &cli.global),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "meshdoc", &mut buf);
            print(&String::from_utf8_lossy(&buf))?;
            Ok(Code::Clean)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut buf)?;
            std::io::stdout().write_all(&buf)?;
            Ok(Code::Clean)
        }
    }
}
