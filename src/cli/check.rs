//! `meshdoc check PATH…`: CI preflight over Kubernetes manifests.
//!
//! Loads manifests (files, directories, `-`), derives facts, matches them
//! against every rule with `fact:` signals, and reports one finding per rule
//! and offending object, each pointing at file:line:column (of the field
//! when it can be found) with a concrete patch. Suppression: `--ignore`,
//! the `meshdoc.io/ignore` annotation, and a baseline file.
//!
//! [`check_objects`] is the library entry: `check --cluster` feeds the
//! objects it lists from the live cluster (`collect::cluster::inventory`)
//! through the same function, located by Kind/namespace/name.

use super::{Code, Global, emit_with, note};
use crate::engine::Matcher;
use crate::facts::{Fact, FactOptions, ObjRef, ObjectSet, derive};
use crate::report::{Finding, Missing, Report};
use crate::rules::{Rule, RuleSet, SignalKind};
use anyhow::{Context, bail};
use clap::Args;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

/// The annotation that silences rules on one object.
pub const IGNORE_ANNOTATION: &str = "meshdoc.io/ignore";

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Manifest files or directories (recursive: .yaml, .yml, .json); `-` reads stdin
    /// (`helm template … | meshdoc check -`).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Check the live objects of the cluster instead (read-only LIST and
    /// GET): every namespace, or the one given with -n.
    #[arg(long)]
    pub cluster: bool,
    /// Namespace for namespace-less manifests (default: `default`); with
    /// --cluster, the only namespace read.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// With --cluster: every namespace (the default).
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// With --cluster: kubeconfig context to use.
    #[arg(long, requires = "cluster")]
    pub context: Option<String>,
    /// With --cluster: kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "FILE", requires = "cluster")]
    pub kubeconfig: Option<PathBuf>,
    /// With --cluster: stop reading after this long and check what was read.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Warn this long before a certificate expires (`30d`, `12h`, `2w`).
    #[arg(long, default_value = "30d", value_parser = parse_duration)]
    pub cert_warn: Duration,
    /// Suppress a rule, everywhere or for matching objects: `ID` or
    /// `ID=Kind/namespace/name`; `*` and `?` globs allowed in both parts. Repeatable.
    #[arg(long = "ignore", value_name = "ID[=Kind/ns/name]")]
    pub ignore: Vec<String>,
    /// Suppress findings recorded in this baseline file.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write every current finding to this baseline file (and exit 0).
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Skip files and directories matching this glob while walking a
    /// directory (repeatable): `charts/**`, `**/testdata/**`, `*.json`.
    /// A pattern without `/` matches a name at any depth, like .gitignore.
    #[arg(long = "exclude", value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Which mesh injects these workloads. `auto` infers it from the
    /// manifests (a Namespace label/annotation, a sidecar, mesh resources);
    /// `istio` or `linkerd` for repositories that hold only app manifests:
    /// namespaces that do not opt out count as injected, and only that
    /// mesh's rules run.
    #[arg(long, value_enum, default_value = "auto")]
    pub mesh: super::explain::MeshArg,
}

/// Parses `30d`, `12h`, `45m`, `2w`, `90s` or bare seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (use e.g. 30d, 12h, 2w)"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{s}` (use s, m, h, d or w)"
            ));
        }
    };
    Ok(Duration::from_secs(n.saturating_mul(mult)))
}

/// One `--ignore` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnorePattern {
    pub rule: String,
    /// `Kind/ns/name` glob; `None` = every object.
    pub object: Option<String>,
}

impl IgnorePattern {
    pub fn parse(s: &str) -> Self {
        match s.split_once('=') {
            Some((r, o)) => IgnorePattern {
                rule: r.trim().to_string(),
                object: Some(o.trim().to_string()),
            },
            None => IgnorePattern {
                rule: s.trim().to_string(),
                object: None,
            },
        }
    }
    fn matches(&self, rule: &str, object: &str) -> bool {
        glob(&self.rule, rule) && self.object.as_deref().is_none_or(|o| glob(o, object))
    }
}

pub use crate::glob::glob;

/// `Kind/ns/name` (or `Kind/name` when cluster-scoped).
pub fn object_key(o: &ObjRef) -> String {
    o.to_string()
}

/// Knobs for [`check_objects`].
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub facts: FactOptions,
    pub ignore: Vec<IgnorePattern>,
    /// Fingerprints to suppress.
    pub baseline: HashSet<String>,
}

/// Only the fact signals of rules that have any: `check` has no other evidence.
fn fact_rules(rules: &RuleSet) -> RuleSet {
    RuleSet {
        rules: rules
            .rules
            .iter()
            .filter(|r| {
                r.signals
                    .iter()
                    .any(|s| matches!(s.kind, SignalKind::Fact(_)))
            })
            .map(|r| Rule {
                signals: r
                    .signals
                    .iter()
                    .filter(|s| matches!(s.kind, SignalKind::Fact(_)))
                    .cloned()
                    .collect(),
                ..r.clone()
            })
            .collect(),
        derived: Default::default(),
    }
}

/// Kind, namespace, name and file: what makes two references the same object.
type Identity = (String, Option<String>, String, Option<String>);

fn identity(o: &ObjRef) -> Identity {
    (
        o.kind.clone(),
        o.namespace.clone(),
        o.name.clone(),
        o.file.clone(),
    )
}

/// Turns a subject's field into a line and column when the source is known.
/// `lines` caches each file split into lines: a large file is split once,
/// not once per finding.
fn locate<'s>(
    set: &'s ObjectSet,
    lines: &mut HashMap<&'s str, Vec<&'s str>>,
    o: &ObjRef,
) -> ObjRef {
    let mut r = o.clone();
    if let (Some(field), Some(file), Some(line), Some(col)) = (&o.field, &o.file, o.line, o.column)
        && let Some((path, text)) = set.sources.get_key_value(file)
    {
        let ls = lines
            .entry(path.as_str())
            .or_insert_with(|| text.lines().collect());
        if let Some((l, c)) = crate::collect::manifests::locate_field_in(ls, line, col, field) {
            r.line = Some(l);
            r.column = Some(c);
        }
    }
    r
}

/// Runs every fact rule over `set`: the library entry for `check` and for
/// live-cluster callers. Findings are ordered by severity, then location.
pub fn check_objects(rules: &RuleSet, set: &ObjectSet, opts: &CheckOptions) -> Report {
    let frules = fact_rules(rules);
    let facts = derive(set, &opts.facts);
    // Group facts by the object they are about: one finding per rule and object.
    let mut groups: BTreeMap<_, Vec<&Fact>> = BTreeMap::new();
    for f in &facts {
        groups.entry(identity(&f.subject)).or_default().push(f);
    }
    let mut annotations: HashMap<Identity, HashSet<String>> = HashMap::new();
    for o in &set.objects {
        if let Some(a) = o.annotation(IGNORE_ANNOTATION) {
            annotations.insert(
                identity(&o.origin),
                a.split(',').map(|s| s.trim().to_string()).collect(),
            );
        }
    }
    let mut findings = Vec::new();
    let mut lines = HashMap::new();
    let (mut by_ignore, mut by_annotation, mut by_baseline) = (0, 0, 0);
    for (key, fs) in groups {
        let mut m = Matcher::new(&frules);
        for f in &fs {
            m.observe_fact(f);
        }
        for mut finding in m.finish() {
            let Some(rule) = frules.get(&finding.id) else {
                continue;
            };
            let names: Vec<&str> = rule
                .signals
                .iter()
                .filter_map(|s| match &s.kind {
                    SignalKind::Fact(n) => Some(n.as_str()),
                    _ => None,
                })
                .collect();
            let Some(first) = fs.iter().find(|f| names.contains(&f.name)) else {
                continue;
            };
            let loc = locate(set, &mut lines, &first.subject);
            let obj = object_key(&loc);
            if opts.ignore.iter().any(|p| p.matches(&finding.id, &obj)) {
                by_ignore += 1;
                continue;
            }
            if annotations
                .get(&key)
                .is_some_and(|ids| ids.iter().any(|i| glob(i, &finding.id)))
            {
                by_annotation += 1;
                continue;
            }
            finding.location = Some(loc);
            if opts.baseline.contains(&finding.fingerprint()) {
                by_baseline += 1;
                continue;
            }
            findings.push(finding);
        }
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| loc_key(a).cmp(&loc_key(b)))
            .then_with(|| a.id.cmp(&b.id))
    });
    for (i, f) in findings.iter_mut().enumerate() {
        f.rank = i + 1;
    }
    let mut report = Report::new("check", format!("{} objects", set.objects.len()), findings);
    let suppressed = by_ignore + by_annotation + by_baseline;
    if suppressed > 0 {
        report.notes.push(format!(
            "{suppressed} finding(s) suppressed ({by_ignore} by --ignore, {by_annotation} by {IGNORE_ANNOTATION}, {by_baseline} by baseline)"
        ));
    }
    if frules.rules.is_empty() {
        report.missing.push(Missing {
            what: "rules".into(),
            reason:
                "no loaded rule has a `fact:` signal, so nothing could be checked; add --rules DIR"
                    .into(),
            rules: Vec::new(),
        });
    }
    report
}

fn loc_key(f: &Finding) -> (String, u32, u32, String) {
    match &f.location {
        Some(l) => (
            l.file.clone().unwrap_or_default(),
            l.line.unwrap_or(0),
            l.column.unwrap_or(0),
            l.to_string(),
        ),
        None => Default::default(),
    }
}

/// Reads a baseline: a JSON array of fingerprints (strings), or of objects
/// with a `fingerprint` field.
fn read_baseline(p: &PathBuf) -> anyhow::Result<HashSet<String>> {
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("cannot read baseline {}", p.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("baseline {} is not JSON", p.display()))?;
    let Some(a) = v.as_array() else {
        bail!(
            "baseline {} must be a JSON array of fingerprints",
            p.display()
        );
    };
    Ok(a.iter()
        .filter_map(|x| {
            x.as_str()
                .or_else(|| x.get("fingerprint").and_then(|f| f.as_str()))
                .map(str::to_string)
        })
        .collect())
}

/// Warns on stderr about `--ignore` entries that name no loaded rule: a
/// typo would otherwise silence nothing, silently.
fn warn_unknown_ignores(patterns: &[IgnorePattern], rules: &RuleSet) {
    for p in patterns {
        if rules.rules.iter().any(|r| glob(&p.rule, &r.id)) {
            continue;
        }
        let hint = crate::suggest::closest(&p.rule, rules.rules.iter().map(|r| r.id.as_str()))
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        note(&format!("meshdoc: --ignore: no rule `{}`{hint}", p.rule));
    }
}

/// What was read, before the rules run: the objects and how to describe them.
struct Input {
    set: ObjectSet,
    /// `report.input`.
    label: String,
    /// "read 12 Kubernetes objects from 3 files" for stderr and errors.
    summary: String,
    /// Unreadable inputs or reads (each also in `report.missing`).
    missing: Vec<Missing>,
    /// A file could not be read: exit 2 whatever the findings.
    failed: bool,
    notes: Vec<String>,
    /// `-n NS` with --cluster: findings only about objects in NS (or
    /// cluster-scoped); the root namespace's config was read as context.
    only_namespace: Option<String>,
    /// Live objects: a finding on an object whose controller has the same
    /// finding is the controller's (a Pod, its ReplicaSet, its Deployment).
    fold_owned: bool,
}

fn read_files(a: &CheckArgs) -> anyhow::Result<Input> {
    if a.paths.is_empty() {
        bail!("nothing to check: give manifest files or directories, `-` for stdin, or --cluster");
    }
    let loaded = crate::collect::manifests::load_paths_with(
        &a.paths,
        &crate::collect::manifests::LoadOptions {
            default_ns: a.namespace.as_deref().unwrap_or("default"),
            exclude: &a.exclude,
            root: None,
        },
    );
    for e in &loaded.errors {
        note(&format!("meshdoc: error: {e}"));
    }
    for source in &loaded.not_utf8 {
        super::warn_not_utf8(source);
    }
    let summary = loaded.summary();
    let crate::collect::manifests::Loaded { set, errors, .. } = loaded;
    Ok(Input {
        set,
        label: a
            .paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
        summary,
        failed: !errors.is_empty(),
        missing: errors
            .iter()
            .map(|e| Missing {
                what: format!("{}:{}:{}", e.path, e.line, e.column),
                reason: e.message.clone(),
                rules: Vec::new(),
            })
            .collect(),
        notes: Vec::new(),
        only_namespace: None,
        fold_owned: false,
    })
}

/// `check --cluster`: the objects the rules need, read from the live
/// cluster with the collector's client and resource table.
fn read_cluster(a: &CheckArgs, rules: &RuleSet) -> anyhow::Result<Input> {
    use crate::collect::cluster::{self, Namespaces, Needs, client::ClientOptions};
    if !a.paths.is_empty() {
        bail!("--cluster reads the live cluster; give no manifest paths with it");
    }
    if let Some(ns) = &a.namespace {
        cluster::target::check_namespace(ns).map_err(anyhow::Error::msg)?;
    }
    let scope = match &a.namespace {
        Some(ns) => Namespaces::one(ns),
        None => Namespaces::All,
    };
    let opts = ClientOptions {
        kubeconfig: a.kubeconfig.clone(),
        context: a.context.clone(),
        namespace: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let needs = Needs::from_rules(rules);
    let c = rt
        .block_on(async {
            let (client, _ns, server) = cluster::client::connect(&opts).await?;
            anyhow::Ok(
                cluster::inventory(client, server, scope, a.mesh.mesh(), &needs, a.timeout).await,
            )
        })
        .context("cannot read the cluster")?;
    let set = super::diagnose::object_set(&c);
    let summary = format!(
        "read {} Kubernetes objects from {} ({}; {} API requests, {:.1}s)",
        set.objects.len(),
        c.server,
        c.target,
        c.requests,
        c.elapsed.as_secs_f64()
    );
    if !c.failures.is_empty() {
        note(&format!(
            "meshdoc: could not read: {}",
            c.failures
                .iter()
                .map(|f| format!("{} ({})", f.what, f.reason))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    Ok(Input {
        set,
        label: format!("cluster {} ({})", c.server, c.target),
        summary,
        missing: c.missing(rules),
        failed: false,
        notes: c.notes.clone(),
        only_namespace: a.namespace.clone(),
        fold_owned: true,
    })
}

/// Gives each finding about a live object that object's last change (its
/// newest managedFields write, else its creation): when the configuration
/// the finding is about was last touched, and by whom.
fn last_changes(findings: &mut [Finding], set: &ObjectSet) {
    use crate::facts::changes::{What, changes};
    let now = crate::evidence::time::At::from_system(std::time::SystemTime::now());
    let all = changes(set.objects.iter().map(|o| &o.value), now);
    for f in findings.iter_mut() {
        let Some(l) = &f.location else { continue };
        let ns = l.namespace.as_deref().unwrap_or("");
        f.changed = all
            .iter()
            .filter(|c| matches!(c.what, What::Created | What::Updated))
            .filter(|c| {
                c.kind == l.kind && c.name == l.name && c.namespace.as_deref().unwrap_or("") == ns
            })
            .max_by_key(|c| c.at)
            .cloned();
    }
}

/// The controller chain of each object: (kind, ns, name) → its owners.
type Owners = HashMap<(String, String, String), Vec<(String, String, String)>>;

fn owners(set: &ObjectSet) -> Owners {
    let mut m = Owners::new();
    for o in &set.objects {
        let ns = o.origin.namespace.clone().unwrap_or_default();
        let refs = o
            .value
            .pointer("/metadata/ownerReferences")
            .and_then(|r| r.as_array());
        for r in refs.into_iter().flatten() {
            let s = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
            m.entry((o.origin.kind.clone(), ns.clone(), o.origin.name.clone()))
                .or_default()
                .push((s("kind"), ns.clone(), s("name")));
        }
    }
    m
}

/// Drops a finding when an owner up its controller chain has the same
/// finding: live, a Deployment's template problem shows on the Deployment,
/// its ReplicaSet and every Pod, and the fix is the Deployment's.
pub(crate) fn fold_owned(findings: Vec<Finding>, set: &ObjectSet) -> Vec<Finding> {
    let owners = owners(set);
    let key = |l: &ObjRef| {
        (
            l.kind.clone(),
            l.namespace.clone().unwrap_or_default(),
            l.name.clone(),
        )
    };
    let flagged: HashSet<(String, (String, String, String))> = findings
        .iter()
        .filter_map(|f| f.location.as_ref().map(|l| (f.id.clone(), key(l))))
        .collect();
    findings
        .into_iter()
        .filter(|f| {
            let Some(l) = &f.location else { return true };
            let mut frontier = vec![key(l)];
            // Controller chains are short (Pod → ReplicaSet → Deployment,
            // Pod → Job → CronJob); the bound only guards against a cycle.
            for _ in 0..4 {
                let up: Vec<_> = frontier
                    .iter()
                    .flat_map(|k| owners.get(k).cloned().unwrap_or_default())
                    .collect();
                if up
                    .iter()
                    .any(|o| flagged.contains(&(f.id.clone(), o.clone())))
                {
                    return false;
                }
                if up.is_empty() {
                    break;
                }
                frontier = up;
            }
            true
        })
        .collect()
}

pub fn run(a: CheckArgs, g: &Global) -> anyhow::Result<Code> {
    let all_rules = super::load_rules(g)?;
    let ignore: Vec<IgnorePattern> = a.ignore.iter().map(|s| IgnorePattern::parse(s)).collect();
    warn_unknown_ignores(&ignore, &all_rules);
    let rules = all_rules.for_mesh(a.mesh.mesh());
    let input = if a.cluster {
        read_cluster(&a, &rules)?
    } else {
        read_files(&a)?
    };
    let nothing_read = input.set.objects.is_empty();
    if nothing_read {
        note(&format!(
            "meshdoc: error: nothing to check: {}",
            input.summary
        ));
    } else {
        note(&format!("meshdoc: {}", input.summary));
    }
    let baseline = match &a.baseline {
        Some(p) => read_baseline(p)?,
        None => HashSet::new(),
    };
    let opts = CheckOptions {
        facts: FactOptions {
            cert_warn: a.cert_warn,
            mesh: match a.mesh {
                super::explain::MeshArg::Auto => None,
                super::explain::MeshArg::Istio => Some(crate::facts::AssumedMesh::Istio),
                super::explain::MeshArg::Linkerd => Some(crate::facts::AssumedMesh::Linkerd),
            },
            ..FactOptions::default()
        },
        ignore,
        baseline,
    };
    let mut report = check_objects(&rules, &input.set, &opts);
    if input.only_namespace.is_some() || input.fold_owned {
        let mut findings = std::mem::take(&mut report.findings);
        if let Some(ns) = &input.only_namespace {
            findings.retain(|f| {
                f.location.as_ref().is_none_or(|l| {
                    l.namespace
                        .as_deref()
                        .is_none_or(|n| n.is_empty() || n == ns)
                })
            });
        }
        if input.fold_owned {
            findings = fold_owned(findings, &input.set);
        }
        for (i, f) in findings.iter_mut().enumerate() {
            f.rank = i + 1;
        }
        report.findings = findings;
    }
    if a.cluster {
        last_changes(&mut report.findings, &input.set);
    }
    report.input = input.label.clone();
    report.notes.extend(input.notes.iter().cloned());
    if nothing_read {
        report.error = Some(crate::report::ReportError {
            kind: "nothing-read".into(),
            message: input.summary.clone(),
        });
    }
    report.missing.extend(input.missing.iter().cloned());
    if nothing_read && a.write_baseline.is_some() {
        bail!("not writing a baseline: {}", input.summary);
    }
    if let Some(p) = &a.write_baseline {
        let mut fps: Vec<String> = report.findings.iter().map(Finding::fingerprint).collect();
        fps.sort();
        fps.dedup();
        std::fs::write(p, serde_json::to_string_pretty(&fps)? + "\n")
            .with_context(|| format!("cannot write baseline {}", p.display()))?;
        note(&format!(
            "meshdoc: wrote {} fingerprint(s) to {}",
            fps.len(),
            p.display()
        ));
        return Ok(if input.failed {
            Code::Failure
        } else {
            Code::Clean
        });
    }
    let code = emit_with(&report, g, Some(&rules))?;
    Ok(if input.failed || nothing_read {
        Code::Failure
    } else {
        code
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_the_usual_units() {
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("3y").is_err());
        assert!(parse_duration("d").is_err());
    }

    #[test]
    fn an_ignore_entry_may_name_only_the_rule_or_also_the_object() {
        let p = IgnorePattern::parse("linkerd-*=Service/shop/*");
        assert!(p.matches("linkerd-fail-fast", "Service/shop/web"));
        assert!(!p.matches("linkerd-fail-fast", "Service/other/web"));
        assert!(IgnorePattern::parse("x").matches("x", "Anything/a/b"));
    }
}
