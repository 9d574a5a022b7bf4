//! `meshdoc check PATH…`: CI preflight over Kubernetes manifests.
//!
//! Loads manifests (files, directories, `-`), derives facts, matches them
//! against every rule with `fact:` signals, and reports one finding per rule
//! and offending object, each pointing at file:line:column (of the field
//! when it can be found) with a concrete patch. Suppression: `--ignore`,
//! the `meshdoc.io/ignore` annotation, and a baseline file.
//!
//! [`check_objects`] is the library entry: the live-cluster collector feeds
//! its objects through the same function.

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
    /// Check live objects of the current kube context instead (read-only).
    #[arg(long)]
    pub cluster: bool,
    /// Namespace for namespace-less manifests (and for --cluster).
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// With --cluster: every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
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

/// The baseline fingerprint of a finding: rule id and object identity, not
/// line numbers, so edits elsewhere in a file do not churn the baseline.
pub fn fingerprint(f: &Finding) -> String {
    match &f.location {
        Some(l) => format!("{}:{}", f.id, object_key(l)),
        None => f.id.clone(),
    }
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
            if opts.baseline.contains(&fingerprint(&finding)) {
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

pub fn run(a: CheckArgs, g: &Global) -> anyhow::Result<Code> {
    if a.cluster {
        bail!(
            "--cluster is not available in this build yet; check live objects with \
             `kubectl get deploy,sts,ds,po,svc,endpointslices,netpol,ns -A -o yaml | meshdoc check -` \
             (add the Istio/Linkerd kinds you use)"
        );
    }
    if a.paths.is_empty() {
        bail!("nothing to check: give manifest files or directories, or `-` for stdin");
    }
    let rules = super::load_rules(g)?.for_mesh(a.mesh.mesh());
    let loaded = crate::collect::manifests::load_paths_with(
        &a.paths,
        &crate::collect::manifests::LoadOptions {
            default_ns: &a.namespace,
            exclude: &a.exclude,
        },
    );
    for e in &loaded.errors {
        note(&format!("meshdoc: error: {e}"));
    }
    let summary = loaded.summary();
    let nothing_read = loaded.set.objects.is_empty();
    if nothing_read {
        note(&format!("meshdoc: error: nothing to check: {summary}"));
    } else {
        note(&format!("meshdoc: {summary}"));
    }
    let crate::collect::manifests::Loaded { set, errors, .. } = loaded;
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
        ignore: a.ignore.iter().map(|s| IgnorePattern::parse(s)).collect(),
        baseline,
    };
    let mut report = check_objects(&rules, &set, &opts);
    report.input = a
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    if nothing_read {
        report.error = Some(crate::report::ReportError {
            kind: "nothing-read".into(),
            message: summary.clone(),
        });
    }
    for e in &errors {
        report.missing.push(Missing {
            what: format!("{}:{}:{}", e.path, e.line, e.column),
            reason: e.message.clone(),
            rules: Vec::new(),
        });
    }
    if nothing_read && a.write_baseline.is_some() {
        bail!("not writing a baseline: {summary}");
    }
    if let Some(p) = &a.write_baseline {
        let mut fps: Vec<String> = report.findings.iter().map(fingerprint).collect();
        fps.sort();
        fps.dedup();
        std::fs::write(p, serde_json::to_string_pretty(&fps)? + "\n")
            .with_context(|| format!("cannot write baseline {}", p.display()))?;
        note(&format!(
            "meshdoc: wrote {} fingerprint(s) to {}",
            fps.len(),
            p.display()
        ));
        return Ok(if errors.is_empty() {
            Code::Clean
        } else {
            Code::Failure
        });
    }
    let code = emit_with(&report, g, Some(&rules))?;
    Ok(if errors.is_empty() && !nothing_read {
        code
    } else {
        Code::Failure
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
