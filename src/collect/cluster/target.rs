//! What to diagnose: `pod/NAME`, a workload (`deploy/`, `sts/`, `ds/`, `rs/`,
//! `job/`, `cronjob/`) or `svc/NAME` in kubectl's spellings, plus the time
//! and size bounds of a collection.

use std::time::Duration;

/// The workload the user points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Pod(String),
    /// A controller whose `spec.selector` picks its pods.
    Workload(WorkloadKind, String),
    /// A CronJob: its pods are those of the Jobs it owns.
    CronJob(String),
    Service(String),
}

/// Controllers whose pods are found by their `spec.selector`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Job,
}

impl WorkloadKind {
    /// The key of this kind in [`super::resources::RESOURCES`].
    pub fn resource_key(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployments",
            WorkloadKind::StatefulSet => "statefulsets",
            WorkloadKind::DaemonSet => "daemonsets",
            WorkloadKind::ReplicaSet => "replicasets",
            WorkloadKind::Job => "jobs",
        }
    }

    /// kubectl's short name, used when the target is printed.
    pub fn short(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deploy",
            WorkloadKind::StatefulSet => "sts",
            WorkloadKind::DaemonSet => "ds",
            WorkloadKind::ReplicaSet => "rs",
            WorkloadKind::Job => "job",
        }
    }
}

/// Every spelling accepted before the `/`, as kubectl accepts them: short
/// name, singular, plural, and both with the API group.
const KINDS: &[(&[&str], Kind)] = &[
    (&["pod", "pods", "po"], Kind::Pod),
    (
        &[
            "deploy",
            "deployment",
            "deployments",
            "deployment.apps",
            "deployments.apps",
        ],
        Kind::Workload(WorkloadKind::Deployment),
    ),
    (
        &[
            "sts",
            "statefulset",
            "statefulsets",
            "statefulset.apps",
            "statefulsets.apps",
        ],
        Kind::Workload(WorkloadKind::StatefulSet),
    ),
    (
        &[
            "ds",
            "daemonset",
            "daemonsets",
            "daemonset.apps",
            "daemonsets.apps",
        ],
        Kind::Workload(WorkloadKind::DaemonSet),
    ),
    (
        &[
            "rs",
            "replicaset",
            "replicasets",
            "replicaset.apps",
            "replicasets.apps",
        ],
        Kind::Workload(WorkloadKind::ReplicaSet),
    ),
    (
        &["job", "jobs", "job.batch", "jobs.batch"],
        Kind::Workload(WorkloadKind::Job),
    ),
    (
        &[
            "cronjob",
            "cj",
            "cronjobs",
            "cronjob.batch",
            "cronjobs.batch",
        ],
        Kind::CronJob,
    ),
    (&["svc", "service", "services"], Kind::Service),
];

#[derive(Debug, Clone, Copy)]
enum Kind {
    Pod,
    Workload(WorkloadKind),
    CronJob,
    Service,
}

/// The accepted kinds, for error messages and `--help`.
pub const ACCEPTED: &str = "pod/, deploy/, sts/, ds/, rs/, job/, cronjob/ (cj/), svc/, \
     or kubectl's long names (deployment/, statefulset.apps/, jobs.batch/, …)";

/// A target that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read target `{input}`: {reason} (accepted: {ACCEPTED})")]
pub struct TargetError {
    pub input: String,
    pub reason: String,
}

impl Target {
    /// Parses `KIND/NAME` with any spelling in [`KINDS`] (case-insensitive
    /// kind). A bare name means a pod, like `kubectl logs NAME`.
    pub fn parse(s: &str) -> Result<Target, TargetError> {
        let err = |reason: String| TargetError {
            input: s.to_string(),
            reason,
        };
        let (kind, name) = match s.split_once('/') {
            Some((k, n)) => (k.to_ascii_lowercase(), n),
            None => ("pod".to_string(), s),
        };
        if name.is_empty() || name.contains('/') {
            return Err(err("the name is empty or contains `/`".into()));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        {
            return Err(err("not a valid Kubernetes object name".into()));
        }
        let name = name.to_string();
        let Some((_, k)) = KINDS
            .iter()
            .find(|(spellings, _)| spellings.contains(&kind.as_str()))
        else {
            let all = KINDS.iter().flat_map(|(s, _)| s.iter().copied());
            let hint = crate::suggest::closest(&kind, all)
                .map(|c| format!(" (did you mean `{c}/`?)"))
                .unwrap_or_default();
            return Err(err(format!("unknown kind `{kind}`{hint}")));
        };
        Ok(match *k {
            Kind::Pod => Target::Pod(name),
            Kind::Workload(w) => Target::Workload(w, name),
            Kind::CronJob => Target::CronJob(name),
            Kind::Service => Target::Service(name),
        })
    }

    pub fn name(&self) -> &str {
        match self {
            Target::Pod(n) | Target::Workload(_, n) | Target::CronJob(n) | Target::Service(n) => n,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Pod(n) => write!(f, "pod/{n}"),
            Target::Workload(k, n) => write!(f, "{}/{n}", k.short()),
            Target::CronJob(n) => write!(f, "cronjob/{n}"),
            Target::Service(n) => write!(f, "svc/{n}"),
        }
    }
}

/// Checks a namespace is a DNS-1123 label (what the API server accepts), so
/// that `-n` can never rewrite a request path (`a/b?watch=1`).
pub fn check_namespace(ns: &str) -> Result<(), String> {
    let b = ns.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a valid namespace name (lower-case letters, digits and `-`, at most 63, starting and ending with a letter or digit)",
            ns.escape_debug()
        ))
    }
}

/// `--mesh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MeshChoice {
    /// Detect from the pod's containers (`linkerd-proxy` / `istio-proxy`).
    #[default]
    Auto,
    Linkerd,
    Istio,
}

/// Parses `30s`, `5m`, `1h`, `2h30m`, `1d`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a duration like 30s, 5m, 1h"))?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return Err(format!("`{s}`: unknown unit `{c}` (use s, m, h, d)")),
        };
        total = total.saturating_add(n.saturating_mul(unit));
    }
    if !num.is_empty() || total == 0 && !s.starts_with('0') {
        return Err(format!("`{s}` is not a duration like 30s, 5m, 1h"));
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_spellings_of_targets_are_understood() {
        assert_eq!(
            Target::parse("pod/web-1").unwrap(),
            Target::Pod("web-1".into())
        );
        assert_eq!(Target::parse("web-1").unwrap(), Target::Pod("web-1".into()));
        let cases: &[(&[&str], WorkloadKind)] = &[
            (
                &["deploy", "deployment", "deployments", "deployment.apps"],
                WorkloadKind::Deployment,
            ),
            (
                &[
                    "sts",
                    "statefulset",
                    "statefulsets",
                    "statefulset.apps",
                    "STS",
                ],
                WorkloadKind::StatefulSet,
            ),
            (
                &["ds", "daemonset", "daemonsets", "daemonsets.apps"],
                WorkloadKind::DaemonSet,
            ),
            (
                &["rs", "replicaset", "replicasets.apps"],
                WorkloadKind::ReplicaSet,
            ),
            (&["job", "jobs", "job.batch"], WorkloadKind::Job),
        ];
        for (spellings, kind) in cases {
            for k in *spellings {
                assert_eq!(
                    Target::parse(&format!("{k}/api")).unwrap(),
                    Target::Workload(*kind, "api".into()),
                    "{k}"
                );
            }
        }
        for k in ["cronjob", "cj", "cronjobs", "cronjob.batch"] {
            assert_eq!(
                Target::parse(&format!("{k}/nightly")).unwrap(),
                Target::CronJob("nightly".into())
            );
        }
        assert_eq!(
            Target::parse("svc/db").unwrap(),
            Target::Service("db".into())
        );
        assert!(Target::parse("pod/").is_err());
        assert!(Target::parse("pod/A_b").is_err());
    }

    #[test]
    fn targets_print_with_kubectls_short_names() {
        for (input, shown) in [
            ("statefulset.apps/db", "sts/db"),
            ("daemonset/agent", "ds/agent"),
            ("jobs.batch/migrate", "job/migrate"),
            ("cj/nightly", "cronjob/nightly"),
            ("deployment/web", "deploy/web"),
        ] {
            assert_eq!(Target::parse(input).unwrap().to_string(), shown);
        }
    }

    #[test]
    fn an_unknown_kind_lists_the_accepted_kinds_and_suggests_the_closest() {
        let e = Target::parse("cm/x").unwrap_err().to_string();
        assert!(e.contains("unknown kind `cm`"), "{e}");
        for k in [
            "pod/", "deploy/", "sts/", "ds/", "rs/", "job/", "cronjob/", "svc/",
        ] {
            assert!(e.contains(k), "{k} missing from: {e}");
        }
        let e = Target::parse("statefulst/db").unwrap_err().to_string();
        assert!(e.contains("did you mean `statefulset/`?"), "{e}");
    }

    #[test]
    fn durations_read_like_kubectl_since() {
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("2h30m").unwrap(), Duration::from_secs(9000));
        assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("5m3").is_err());
    }
}
