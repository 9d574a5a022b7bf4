//! Evidence bundles: a directory (or `.tar.gz` of one) holding everything a
//! diagnosis needs, so it can be reproduced without the cluster.
//!
//! ```text
//! bundle.yaml                         what was collected, what failed, target, time
//! objects/*.yaml                      Kubernetes and mesh objects (multi-document)
//! logs/<ns>/<pod>/<container>.log     container logs (<container>.previous.log too)
//! metrics/<ns>/<pod>.prom             proxy metrics scrapes
//! events/<ns>/<object>.yaml           Events (evidence, and changes on the timeline)
//! http/*.txt                          curl -v transcripts, header blocks
//! reports/*.json|*.txt                linkerd check -o json, istioctl analyze output
//! ```

use super::Sink;
use super::bundle_manifest::Manifest;
use crate::evidence::{InputKind, Origin};
use crate::report::Missing;
use std::io::Read;
use std::path::{Path, PathBuf};

/// How a bundle is read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Diagnose even when files the manifest lists are missing or short.
    pub partial: bool,
    /// Largest object/metrics/HTTP/report file read whole, in bytes.
    pub max_file: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            partial: false,
            max_file: 64 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read bundle {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a bundle: no bundle.yaml, objects/, logs/, metrics/ or http/ inside")]
    NotABundle { path: String },
    #[error(transparent)]
    Manifest(#[from] crate::collect::manifests::ManifestError),
    #[error("{path}: invalid bundle.yaml: {message}")]
    BadManifest { path: String, message: String },
    #[error(
        "{path} is incomplete: {problems} (an interrupted write or copy?); pass --partial to diagnose what is there"
    )]
    Incomplete { path: String, problems: String },
}

/// What one bundle path is, by its place in the layout.
#[derive(Debug, PartialEq)]
enum Part {
    Manifest,
    Objects,
    Log {
        ns: String,
        pod: String,
        container: String,
    },
    Metrics {
        ns: String,
        pod: String,
    },
    Http,
    Report,
    Events,
    Other,
}

fn classify(rel: &str) -> Part {
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let ext = rel.rsplit('.').next().unwrap_or("");
    match parts.as_slice() {
        ["bundle.yaml"] | ["bundle.yml"] => Part::Manifest,
        ["objects", ..] if matches!(ext, "yaml" | "yml" | "json") => Part::Objects,
        ["logs", ns, pod, file] => Part::Log {
            ns: ns.to_string(),
            pod: pod.to_string(),
            container: file.trim_end_matches(".log").to_string(),
        },
        ["metrics", ns, file] => Part::Metrics {
            ns: ns.to_string(),
            pod: file
                .trim_end_matches(".prom")
                .trim_end_matches(".txt")
                .to_string(),
        },
        ["http", ..] => Part::Http,
        ["events", ..] if matches!(ext, "yaml" | "yml" | "json") => Part::Events,
        ["reports", ..] => Part::Report,
        _ => Part::Other,
    }
}

/// Reads a bundle directory or `.tar.gz` into the diagnosis.
pub fn feed(path: &Path, d: &mut dyn Sink, opts: &ReadOptions) -> Result<Manifest, BundleError> {
    let io = |source| BundleError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut manifest = Manifest::default();
    // Every file read, with its size, to check against the manifest's list.
    let mut sizes: std::collections::BTreeMap<String, u64> = Default::default();
    let mut skipped: Vec<Missing> = Vec::new();
    let max = opts.max_file;
    // The first pod whose logs the bundle holds: what the commands are about
    // when nothing more specific names a namespace or pod.
    let mut first_log: Option<(String, String)> = None;
    // Objects wait until bundle.yaml (and its default namespace) has been seen.
    let mut objects: Vec<(String, String)> = Vec::new();
    let mut events: Vec<(String, String)> = Vec::new();
    let mut seen = false;
    let mut handle = |rel: &str,
                      r: &mut dyn Read,
                      d: &mut dyn Sink,
                      manifest: &mut Manifest,
                      skipped: &mut Vec<Missing>|
     -> Result<(), BundleError> {
        let part = classify(rel);
        let label = rel.to_string();
        // Reads a whole file, at most `max` bytes: `None` when it is larger.
        let read_all = |r: &mut dyn Read| -> Result<Option<String>, BundleError> {
            let mut b = Vec::new();
            r.take(max.saturating_add(1))
                .read_to_end(&mut b)
                .map_err(|source| BundleError::Io {
                    path: label.clone(),
                    source,
                })?;
            if b.len() as u64 > max {
                return Ok(None);
            }
            Ok(Some(String::from_utf8_lossy(&b).into_owned()))
        };
        let over = |skipped: &mut Vec<Missing>| {
            skipped.push(Missing {
                what: label.clone(),
                reason: format!(
                    "skipped: over the limit of {} MiB (raise it with --max-file-mib)",
                    max >> 20
                ),
                rules: Vec::new(),
            })
        };
        match part {
            Part::Manifest => {
                seen = true;
                let Some(text) = read_all(r)? else {
                    over(skipped);
                    return Ok(());
                };
                *manifest =
                    serde_saphyr::from_str(&text).map_err(|e| BundleError::BadManifest {
                        path: rel.to_string(),
                        message: e.to_string().lines().next().unwrap_or("").to_string(),
                    })?;
            }
            Part::Objects => {
                seen = true;
                match read_all(r)? {
                    Some(text) => objects.push((rel.to_string(), text)),
                    None => over(skipped),
                }
            }
            Part::Log { ns, pod, container } => {
                seen = true;
                if first_log.is_none() && !container.ends_with(".previous") {
                    first_log = Some((ns.clone(), pod.clone()));
                }
                let origin = Origin::Pod {
                    namespace: ns,
                    pod,
                    container: Some(container),
                    line: None,
                };
                d.logs(r, InputKind::Auto, &origin, rel)
                    .map_err(|source| BundleError::Io {
                        path: rel.to_string(),
                        source,
                    })?;
            }
            Part::Metrics { ns, pod } => {
                seen = true;
                let Some(text) = read_all(r)? else {
                    over(skipped);
                    return Ok(());
                };
                let origin = Origin::Pod {
                    namespace: ns,
                    pod,
                    container: None,
                    line: None,
                };
                d.block(&text, InputKind::Metrics, &origin, rel);
            }
            Part::Http | Part::Report => {
                seen = true;
                let Some(text) = read_all(r)? else {
                    over(skipped);
                    return Ok(());
                };
                let kind = if part == Part::Http {
                    InputKind::Http
                } else {
                    InputKind::Auto
                };
                d.block(&text, kind, &Origin::file(rel, None), rel);
            }
            Part::Events => {
                seen = true;
                match read_all(r)? {
                    Some(text) => events.push((rel.to_string(), text)),
                    None => over(skipped),
                }
            }
            Part::Other => {}
        }
        Ok(())
    };

    if path.is_dir() {
        let mut files = Vec::new();
        walk(path, path, &mut files, &mut skipped).map_err(io)?;
        files.sort();
        // bundle.yaml first so its namespace applies to everything after.
        files.sort_by_key(|(rel, _)| !rel.starts_with("bundle.y"));
        for (rel, full) in files {
            let mut f = match std::fs::File::open(&full) {
                Ok(f) => f,
                Err(e) => {
                    // One unreadable stray file does not lose the rest.
                    skipped.push(Missing {
                        what: rel.clone(),
                        reason: format!("cannot read: {e}"),
                        rules: Vec::new(),
                    });
                    continue;
                }
            };
            if let Ok(m) = f.metadata() {
                sizes.insert(rel.clone(), m.len());
            }
            handle(&rel, &mut f, d, &mut manifest, &mut skipped)?;
        }
    } else {
        let f = std::fs::File::open(path).map_err(io)?;
        let gz = flate2::read::GzDecoder::new(f);
        let mut ar = tar::Archive::new(gz);
        let mut prefix: Option<String> = None;
        for entry in ar.entries().map_err(io)? {
            let mut entry = entry.map_err(io)?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let p = entry
                .path()
                .map_err(io)?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string();
            // Accept archives with one top-level directory (`tar czf b.tgz bundle/`).
            let rel = match &prefix {
                Some(pre) => p.strip_prefix(pre.as_str()).unwrap_or(&p).to_string(),
                None => {
                    let first = p.split('/').next().unwrap_or("");
                    if classify(&p) == Part::Other
                        && p.contains('/')
                        && !matches!(first, "objects" | "logs" | "metrics" | "http" | "reports")
                    {
                        let pre = format!("{first}/");
                        prefix = Some(pre.clone());
                        p.strip_prefix(pre.as_str()).unwrap_or(&p).to_string()
                    } else {
                        p.clone()
                    }
                }
            };
            sizes.insert(rel.clone(), entry.header().size().unwrap_or(0));
            handle(&rel, &mut entry, d, &mut manifest, &mut skipped)?;
        }
    }
    if !seen {
        return Err(BundleError::NotABundle {
            path: path.display().to_string(),
        });
    }
    // The writer's list: every file there and whole, or an interrupted bundle.
    let mut problems = Vec::new();
    for (rel, want) in &manifest.files {
        match sizes.get(rel) {
            None => problems.push(format!("{rel} is missing")),
            Some(got) if got < want => {
                problems.push(format!("{rel} has {got} of its {want} bytes"))
            }
            Some(_) => {}
        }
    }
    if !problems.is_empty() {
        if !opts.partial {
            return Err(BundleError::Incomplete {
                path: path.display().to_string(),
                problems: problems.join(", "),
            });
        }
        for p in problems {
            d.missing(Missing {
                what: "bundle".into(),
                reason: format!("--partial: {p}"),
                rules: Vec::new(),
            });
        }
    }
    if !sizes.keys().any(|k| k.starts_with("bundle.y")) {
        d.missing(Missing {
            what: "bundle.yaml".into(),
            reason: "the bundle has no manifest, so whether it is complete was not checked".into(),
            rules: Vec::new(),
        });
    }
    for m in skipped {
        d.missing(m);
    }
    let ns = if manifest.namespace.is_empty() {
        "default".to_string()
    } else {
        manifest.namespace.clone()
    };
    for (rel, text) in objects {
        d.manifests(&text, &rel, &ns)?;
    }
    for (rel, text) in events {
        d.events(&text, &rel)?;
    }
    let mut vars = std::collections::BTreeMap::new();
    match (&first_log, manifest.namespace.is_empty()) {
        (Some((log_ns, pod)), _) => {
            vars.insert("namespace".to_string(), log_ns.clone());
            vars.insert("pod".to_string(), pod.clone());
        }
        (None, false) => {
            vars.insert("namespace".to_string(), manifest.namespace.clone());
        }
        (None, true) => {}
    }
    if let Some(p) = manifest.target.strip_prefix("pod/") {
        vars.insert("pod".to_string(), p.to_string());
    }
    d.default_vars(&vars);
    for f in &manifest.failed {
        d.missing(Missing {
            what: f.what.clone(),
            reason: f.reason.clone(),
            rules: f.rules.clone(),
        });
    }
    Ok(manifest)
}

/// The regular files under `dir`. Symlinks are not followed (a link out of
/// the bundle, or a `loop -> ..`, is listed as skipped), and FIFOs, devices
/// and sockets are skipped: only what the bundle itself holds is read.
fn walk(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, PathBuf)>,
    skipped: &mut Vec<Missing>,
) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        let rel = p
            .strip_prefix(root)
            .unwrap_or(&p)
            .to_string_lossy()
            .replace('\\', "/");
        let kind = match std::fs::symlink_metadata(&p) {
            Ok(m) => m.file_type(),
            Err(e) => {
                skipped.push(Missing {
                    what: rel,
                    reason: format!("cannot read: {e}"),
                    rules: Vec::new(),
                });
                continue;
            }
        };
        if kind.is_symlink() {
            skipped.push(Missing {
                what: rel,
                reason: "skipped: a symlink (links are not followed out of a bundle)".into(),
                rules: Vec::new(),
            });
        } else if kind.is_dir() {
            if let Err(e) = walk(root, &p, out, skipped) {
                skipped.push(Missing {
                    what: rel,
                    reason: format!("cannot read: {e}"),
                    rules: Vec::new(),
                });
            }
        } else if kind.is_file() {
            out.push((rel, p));
        } else {
            skipped.push(Missing {
                what: rel,
                reason: "skipped: not a regular file".into(),
                rules: Vec::new(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_paths_are_classified_by_their_place() {
        assert_eq!(classify("bundle.yaml"), Part::Manifest);
        assert_eq!(classify("objects/services.yaml"), Part::Objects);
        assert_eq!(
            classify("logs/shop/web-1/linkerd-proxy.log"),
            Part::Log {
                ns: "shop".into(),
                pod: "web-1".into(),
                container: "linkerd-proxy".into()
            }
        );
        assert_eq!(
            classify("logs/shop/web-1/linkerd-proxy.previous.log"),
            Part::Log {
                ns: "shop".into(),
                pod: "web-1".into(),
                container: "linkerd-proxy.previous".into()
            }
        );
        assert_eq!(
            classify("metrics/shop/web-1.prom"),
            Part::Metrics {
                ns: "shop".into(),
                pod: "web-1".into()
            }
        );
        assert_eq!(classify("README.md"), Part::Other);
    }
}
