//! Writes a live collection as a bundle directory (`--save-bundle DIR`), in
//! the layout `diagnose --from DIR` reads:
//!
//! ```text
//! bundle.yaml                               manifest: what was collected, what failed
//! objects/<kind>.yaml                       one multi-document file per kind
//! logs/<ns>/<pod>/<container>.log           current container log
//! logs/<ns>/<pod>/<container>.previous.log  the crashed instance's log
//! metrics/<ns>/<pod>.prom                   proxy metrics scrape
//! events/<ns>/<pod>.yaml                    Events of the pod
//! ```
//!
//! Everything passes through [`super::redact`] first.

use super::cluster::{Collection, Family};
use super::redact;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Version of the bundle layout.
pub const BUNDLE_VERSION: u32 = 1;

/// A bundle that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serialise {what}: {message}")]
    Serialize { what: String, message: String },
}

/// The `bundle.yaml` manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub bundle_version: u32,
    pub meshdoc_version: String,
    pub target: String,
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesh: Option<crate::rules::Mesh>,
    pub server: String,
    pub collected_at: String,
    pub elapsed_ms: u64,
    pub api_requests: u64,
    pub pods: Vec<String>,
    pub collected: Collected,
    pub failed: Vec<FailedEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// How many secret values were replaced by `REDACTED`.
    pub redacted: usize,
}

/// Files written, by family.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Collected {
    /// File → number of objects.
    pub objects: BTreeMap<String, usize>,
    pub logs: Vec<String>,
    pub metrics: Vec<String>,
    pub events: Vec<String>,
}

/// One thing that could not be collected.
#[derive(Debug, Clone, Serialize)]
pub struct FailedEntry {
    pub what: String,
    pub reason: String,
    pub family: Family,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// A path component from cluster data: Kubernetes names are DNS labels, but
/// the bytes come from a server, so anything else is replaced.
fn component(s: &str) -> String {
    let c: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if c.is_empty() || c.chars().all(|c| c == '.') {
        "_".into()
    } else {
        c
    }
}

fn write(root: &Path, rel: &str, text: &str) -> Result<(), BundleError> {
    let p: PathBuf = root.join(rel);
    let io = |source| BundleError::Io {
        path: p.display().to_string(),
        source,
    };
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(&p, text).map_err(io)
}

fn yaml_docs(items: &[Value], what: &str) -> Result<String, BundleError> {
    let mut out = String::new();
    for v in items {
        let doc = serde_saphyr::to_string(v).map_err(|e| BundleError::Serialize {
            what: what.to_string(),
            message: e.to_string(),
        })?;
        out.push_str("---\n");
        out.push_str(&doc);
        if !doc.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

fn sort_key(v: &Value) -> (String, String) {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (s("/metadata/namespace"), s("/metadata/name"))
}

/// Writes the bundle; returns the manifest written.
pub fn write_bundle(dir: &Path, c: &Collection) -> Result<Manifest, BundleError> {
    let mut redacted = 0;
    let mut collected = Collected::default();

    let mut by_kind: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for o in &c.objects {
        let kind = o
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_ascii_lowercase();
        let mut o = o.clone();
        redacted += redact::object(&mut o);
        by_kind.entry(kind).or_default().push(o);
    }
    for (kind, mut items) in by_kind {
        items.sort_by_key(sort_key);
        let rel = format!("objects/{}.yaml", component(&kind));
        write(dir, &rel, &yaml_docs(&items, &rel)?)?;
        collected.objects.insert(rel, items.len());
    }

    for l in &c.logs {
        let rel = format!(
            "logs/{}/{}/{}{}.log",
            component(&l.namespace),
            component(&l.pod),
            component(&l.container),
            if l.previous { ".previous" } else { "" }
        );
        let (text, n) = redact::text(&l.text);
        redacted += n;
        write(dir, &rel, &text)?;
        collected.logs.push(rel);
    }

    for m in &c.metrics {
        let rel = format!(
            "metrics/{}/{}.prom",
            component(&m.namespace),
            component(&m.pod)
        );
        let (text, n) = redact::text(&m.text);
        redacted += n;
        write(dir, &rel, &text)?;
        collected.metrics.push(rel);
    }

    let mut events: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for e in &c.events {
        let s = |p: &str| {
            e.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let mut e = e.clone();
        redacted += redact::object(&mut e);
        events
            .entry((s("/involvedObject/namespace"), s("/involvedObject/name")))
            .or_default()
            .push(e);
    }
    for ((ns, pod), items) in events {
        let ns = if ns.is_empty() {
            c.namespace.clone()
        } else {
            ns
        };
        let rel = format!("events/{}/{}.yaml", component(&ns), component(&pod));
        write(dir, &rel, &yaml_docs(&items, &rel)?)?;
        collected.events.push(rel);
    }

    let manifest = Manifest {
        bundle_version: BUNDLE_VERSION,
        meshdoc_version: env!("CARGO_PKG_VERSION").to_string(),
        target: c.target.clone(),
        namespace: c.namespace.clone(),
        mesh: c.mesh,
        server: c.server.clone(),
        collected_at: c.started_at.clone(),
        elapsed_ms: c.elapsed.as_millis() as u64,
        api_requests: c.requests,
        pods: c.pods.clone(),
        collected,
        failed: c
            .failures
            .iter()
            .map(|f| FailedEntry {
                what: f.what.clone(),
                reason: f.reason.clone(),
                family: f.family,
                resource: f.resource.map(str::to_string),
            })
            .collect(),
        notes: c.notes.clone(),
        redacted,
    };
    let text = serde_saphyr::to_string(&manifest).map_err(|e| BundleError::Serialize {
        what: "bundle.yaml".into(),
        message: e.to_string(),
    })?;
    write(dir, "bundle.yaml", &text)?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::cluster::{LogText, MetricsText};
    use serde_json::json;

    #[test]
    fn the_bundle_follows_the_documented_layout_and_is_redacted() {
        let c = Collection {
            target: "pod/web-1".into(),
            namespace: "shop".into(),
            pods: vec!["web-1".into()],
            objects: vec![
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "shop"}}),
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"}, "data": {"k": "c2VjcmV0"}}),
            ],
            logs: vec![
                LogText {
                    namespace: "shop".into(),
                    pod: "web-1".into(),
                    container: "linkerd-proxy".into(),
                    previous: false,
                    text: "line\nauthorization: Bearer abc\n".into(),
                },
                LogText {
                    namespace: "shop".into(),
                    pod: "web-1".into(),
                    container: "app".into(),
                    previous: true,
                    text: "boom\n".into(),
                },
            ],
            metrics: vec![MetricsText {
                namespace: "shop".into(),
                pod: "web-1".into(),
                source: "4191/proxy/metrics".into(),
                text: "x 1\n".into(),
            }],
            events: vec![
                json!({"kind": "Event", "involvedObject": {"namespace": "shop", "name": "web-1"}, "reason": "BackOff"}),
            ],
            ..Collection::default()
        };
        let d = tempfile::tempdir().unwrap();
        let m = write_bundle(d.path(), &c).unwrap();
        for f in [
            "bundle.yaml",
            "objects/pod.yaml",
            "objects/secret.yaml",
            "logs/shop/web-1/linkerd-proxy.log",
            "logs/shop/web-1/app.previous.log",
            "metrics/shop/web-1.prom",
            "events/shop/web-1.yaml",
        ] {
            assert!(d.path().join(f).is_file(), "{f} missing");
        }
        let secret = std::fs::read_to_string(d.path().join("objects/secret.yaml")).unwrap();
        assert!(!secret.contains("c2VjcmV0"));
        let log =
            std::fs::read_to_string(d.path().join("logs/shop/web-1/linkerd-proxy.log")).unwrap();
        assert!(!log.contains("abc"));
        assert_eq!(m.redacted, 2);
        let manifest = std::fs::read_to_string(d.path().join("bundle.yaml")).unwrap();
        assert!(manifest.contains("target: pod/web-1"), "{manifest}");
    }

    #[test]
    fn path_components_from_the_server_cannot_escape_the_bundle() {
        assert_eq!(component(".."), "_");
        assert_eq!(component("a/../b"), "a_.._b");
        assert_eq!(component(""), "_");
    }
}
