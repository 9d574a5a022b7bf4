//! What to diagnose: `pod/NAME`, `deploy/NAME`, `svc/NAME` (kubectl's
//! spellings), plus the time and size bounds of a collection.

use std::time::Duration;

/// The workload the user points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Pod(String),
    Deployment(String),
    Service(String),
}

/// A target that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read target `{input}`: {reason} (expected pod/NAME, deploy/NAME or svc/NAME)")]
pub struct TargetError {
    pub input: String,
    pub reason: &'static str,
}

impl Target {
    /// Parses `pod/x`, `po/x`, `pods/x`, `deploy/x`, `deployment/x`,
    /// `deployments/x`, `deployment.apps/x`, `svc/x`, `service/x`, `services/x`.
    /// A bare name means a pod, like `kubectl logs NAME`.
    pub fn parse(s: &str) -> Result<Target, TargetError> {
        let err = |reason| TargetError {
            input: s.to_string(),
            reason,
        };
        let (kind, name) = match s.split_once('/') {
            Some((k, n)) => (k.to_ascii_lowercase(), n),
            None => ("pod".to_string(), s),
        };
        if name.is_empty() || name.contains('/') {
            return Err(err("the name is empty or contains `/`"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        {
            return Err(err("not a valid Kubernetes object name"));
        }
        let name = name.to_string();
        Ok(match kind.as_str() {
            "pod" | "pods" | "po" => Target::Pod(name),
            "deploy" | "deployment" | "deployments" | "deployment.apps" | "deployments.apps" => {
                Target::Deployment(name)
            }
            "svc" | "service" | "services" => Target::Service(name),
            _ => return Err(err("unknown kind")),
        })
    }

    pub fn name(&self) -> &str {
        match self {
            Target::Pod(n) | Target::Deployment(n) | Target::Service(n) => n,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Pod(n) => write!(f, "pod/{n}"),
            Target::Deployment(n) => write!(f, "deploy/{n}"),
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
        for k in ["deploy", "deployment", "deployments", "deployment.apps"] {
            assert_eq!(
                Target::parse(&format!("{k}/api")).unwrap(),
                Target::Deployment("api".into())
            );
        }
        assert_eq!(
            Target::parse("svc/db").unwrap(),
            Target::Service("db".into())
        );
        assert!(Target::parse("cm/x").is_err());
        assert!(Target::parse("pod/").is_err());
        assert!(Target::parse("pod/A_b").is_err());
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
