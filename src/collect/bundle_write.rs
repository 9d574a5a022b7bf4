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
//!
//! The bundle is written into a fresh sibling directory and renamed into
//! place only when complete, so an interrupted run never leaves a bundle
//! that reads as whole; `bundle.yaml` lists every file with its size, and
//! the reader checks them. An existing non-empty directory is replaced only
//! with `force`; a symlink in its place is refused, and files are created
//! new, never opened through a link.

pub use super::bundle_manifest::{BUNDLE_VERSION, Collected, FailedEntry, Manifest};
use super::cluster::Collection;
use super::redact;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    #[error("{path} is not empty: pass --force to replace it, or choose another directory")]
    NotEmpty { path: String },
    #[error("{path} is a symlink or not a directory: refusing to write a bundle through it")]
    NotADirectory { path: String },
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

/// Writes one new file under `root` (never through an existing path) and
/// records its size.
fn write(
    root: &Path,
    rel: &str,
    text: &str,
    files: &mut BTreeMap<String, u64>,
) -> Result<(), BundleError> {
    use std::io::Write;
    let p: PathBuf = root.join(rel);
    let io = |source| BundleError::Io {
        path: p.display().to_string(),
        source,
    };
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    files.insert(rel.to_string(), text.len() as u64);
    Ok(())
}

/// Writes the bundle to `dir`: into a fresh sibling first, renamed into place
/// when every file is written. `force` replaces a non-empty `dir`.
pub fn write_bundle(dir: &Path, c: &Collection, force: bool) -> Result<Manifest, BundleError> {
    let shown = dir.display().to_string();
    match std::fs::symlink_metadata(dir) {
        Ok(m) if !m.is_dir() => return Err(BundleError::NotADirectory { path: shown }),
        Ok(_) => {
            let used = std::fs::read_dir(dir)
                .map_err(|source| BundleError::Io {
                    path: shown.clone(),
                    source,
                })?
                .next()
                .is_some();
            if used && !force {
                return Err(BundleError::NotEmpty { path: shown });
            }
        }
        Err(_) => {}
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = parent.join(format!(".{name}.meshdoc-{}.partial", std::process::id()));
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| BundleError::Io { path, source }
    };
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    std::fs::create_dir(&tmp).map_err(io(&tmp))?;
    let result = write_into(&tmp, c).and_then(|m| {
        if std::fs::symlink_metadata(dir).is_ok() {
            std::fs::remove_dir_all(dir).map_err(io(dir))?;
        }
        std::fs::rename(&tmp, dir).map_err(io(dir))?;
        Ok(m)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
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

/// Writes every file of the bundle into `dir`; returns the manifest written.
fn write_into(dir: &Path, c: &Collection) -> Result<Manifest, BundleError> {
    let mut redacted = 0;
    let mut collected = Collected::default();
    let mut files = BTreeMap::new();

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
        write(dir, &rel, &yaml_docs(&items, &rel)?, &mut files)?;
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
        write(dir, &rel, &text, &mut files)?;
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
        write(dir, &rel, &text, &mut files)?;
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
        write(dir, &rel, &yaml_docs(&items, &rel)?, &mut files)?;
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
                family: Some(f.family),
                resource: f.resource.map(str::to_string),
                rules: Vec::new(),
            })
            .collect(),
        notes: c.notes.clone(),
        redacted,
        files,
    };
    let text = serde_saphyr::to_string(&manifest).map_err(|e| BundleError::Serialize {
        what: "bundle.yaml".into(),
        message: e.to_string(),
    })?;
    write(dir, "bundle.yaml", &text, &mut BTreeMap::new())?;
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
        let m = write_bundle(d.path(), &c, false).unwrap();
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

    fn small_collection() -> crate::collect::cluster::Collection {
        use crate::collect::cluster::{Collection, LogText, MetricsText};
        Collection {
            target: "pod/web-1".into(),
            namespace: "shop".into(),
            pods: vec!["web-1".into()],
            logs: vec![LogText {
                namespace: "shop".into(),
                pod: "web-1".into(),
                container: "linkerd-proxy".into(),
                previous: false,
                text: "[ 1.0s]  WARN ThreadId(01) outbound: linkerd_app_core::errors::respond: Request failed error=logical service x:80: service in fail-fast\n".repeat(20),
            }],
            metrics: vec![MetricsText {
                namespace: "shop".into(),
                pod: "web-1".into(),
                source: "4191/proxy/metrics".into(),
                text: "outbound_http_errors_total{error=\"failfast\"} 3\n".into(),
            }],
            ..Collection::default()
        }
    }

    fn read_bundle(
        dir: &std::path::Path,
        opts: &crate::collect::bundle::ReadOptions,
    ) -> Result<Vec<crate::report::Missing>, crate::collect::bundle::BundleError> {
        let rules = crate::rules::load_builtin().expect("built-in rules load");
        let mut d = crate::engine::diagnosis::Diagnosis::new(&rules);
        crate::collect::bundle::feed(dir, &mut d, opts)?;
        Ok(d.missing.clone())
    }

    #[test]
    fn a_bundle_is_written_whole_or_not_at_all_and_never_over_another() {
        use super::write_bundle;
        let c = small_collection();
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("b");
        let m = write_bundle(&dir, &c, false).unwrap();
        assert!(m.files.contains_key("logs/shop/web-1/linkerd-proxy.log"));
        // No temporary sibling is left behind.
        let names: Vec<String> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["b"]);
        // A used directory is refused without --force, replaced with it.
        std::fs::write(dir.join("stale.txt"), "from an earlier target").unwrap();
        let err = write_bundle(&dir, &c, false).unwrap_err().to_string();
        assert!(
            err.contains("not empty") && err.contains("--force"),
            "{err}"
        );
        write_bundle(&dir, &c, true).unwrap();
        assert!(!dir.join("stale.txt").exists(), "stale files are gone");
        // A symlink in the bundle's place is not written through.
        #[cfg(unix)]
        {
            let target = root.path().join("elsewhere");
            std::fs::create_dir(&target).unwrap();
            let link = root.path().join("link");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            let err = write_bundle(&link, &c, true).unwrap_err().to_string();
            assert!(err.contains("symlink"), "{err}");
            assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
        }
    }

    #[test]
    fn a_short_or_missing_bundle_file_is_named_and_fails_unless_partial() {
        use super::write_bundle;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("b");
        write_bundle(&dir, &small_collection(), false).unwrap();
        assert!(read_bundle(&dir, &crate::collect::bundle::ReadOptions::default()).is_ok());
        // An interrupted copy: a log cut short, the metrics page gone.
        let log = dir.join("logs/shop/web-1/linkerd-proxy.log");
        let text = std::fs::read_to_string(&log).unwrap();
        std::fs::write(&log, &text[..text.len() / 2]).unwrap();
        std::fs::remove_file(dir.join("metrics/shop/web-1.prom")).unwrap();
        let err = read_bundle(&dir, &crate::collect::bundle::ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("linkerd-proxy.log has") && err.contains("web-1.prom is missing"),
            "{err}"
        );
        assert!(err.contains("--partial"), "{err}");
        let missing = read_bundle(
            &dir,
            &crate::collect::bundle::ReadOptions {
                partial: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            missing
                .iter()
                .any(|m| m.reason.contains("web-1.prom is missing"))
        );
    }

    #[test]
    fn bundle_reads_stay_inside_the_bundle_and_within_their_limits() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("b");
        std::fs::create_dir_all(dir.join("logs/shop/web-1")).unwrap();
        std::fs::create_dir_all(dir.join("metrics/shop")).unwrap();
        std::fs::write(
            dir.join("logs/shop/web-1/linkerd-proxy.log"),
            "[ 1.0s]  WARN ThreadId(01) outbound: linkerd_app_core::errors::respond: Request failed error=service in fail-fast\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("metrics/shop/web-1.prom"),
            "outbound_http_errors_total{error=\"failfast\"} 3\n".repeat(100),
        )
        .unwrap();
        #[cfg(unix)]
        {
            let secret = root.path().join("private.txt");
            std::fs::write(&secret, "outside the bundle\n").unwrap();
            std::os::unix::fs::symlink(&secret, dir.join("logs/shop/web-1/app.log")).unwrap();
            std::os::unix::fs::symlink("..", dir.join("logs/loop")).unwrap();
        }
        let missing = read_bundle(
            &dir,
            &crate::collect::bundle::ReadOptions {
                partial: false,
                max_file: 1024,
            },
        )
        .unwrap();
        let said = |what: &str, why: &str| {
            missing
                .iter()
                .any(|m| m.what.contains(what) && m.reason.contains(why))
        };
        assert!(said("web-1.prom", "over the limit"), "{missing:?}");
        assert!(said("bundle.yaml", "no manifest"), "{missing:?}");
        #[cfg(unix)]
        {
            assert!(said("app.log", "symlink"), "{missing:?}");
            assert!(said("loop", "symlink"), "{missing:?}");
        }
    }
}
