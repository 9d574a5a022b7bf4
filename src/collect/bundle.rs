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

/// The largest GNU long-name or PAX header read from a `.tar.gz` bundle: a
/// path is at most a few KiB (Linux's PATH_MAX is 4 KiB); a larger header
/// describes no bundle file, only memory to fill.
pub const NAME_HEADER_MAX: u64 = 8 << 10;

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
    // Objects wait until bundle.yaml (and its default namespace) has been
    // seen: in a directory it is read first; in an archive, wherever it is.
    // Once it has, each objects file is parsed as it is read, so a bundle of
    // many files under the limit is never held whole as text (and garbage
    // fails at the first file).
    let mut objects: Vec<(String, String)> = Vec::new();
    let mut ns_known = path.is_dir();
    let mut events: Vec<(String, String)> = Vec::new();
    let mut seen = false;
    let mut handle = |rel: &str,
                      size: u64,
                      r: &mut dyn Read,
                      d: &mut dyn Sink,
                      manifest: &mut Manifest,
                      skipped: &mut Vec<Missing>|
     -> Result<(), BundleError> {
        let part = classify(rel);
        let label = rel.to_string();
        // Reads a whole file, at most `max` bytes: `None` when it is larger.
        // A file whose recorded size is over the limit is not read at all.
        let read_all =
            |r: &mut dyn Read, d: &mut dyn Sink| -> Result<Option<String>, BundleError> {
                if size > max {
                    return Ok(None);
                }
                let mut b = Vec::with_capacity(size as usize + 1);
                r.take(max.saturating_add(1))
                    .read_to_end(&mut b)
                    .map_err(|source| BundleError::Io {
                        path: label.clone(),
                        source,
                    })?;
                if b.len() as u64 > max {
                    return Ok(None);
                }
                let (text, lossy) = crate::evidence::text::decode_lossy(b);
                if lossy {
                    d.not_utf8(&label);
                }
                Ok(Some(text))
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
                ns_known = true;
                let Some(text) = read_all(r, d)? else {
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
                match read_all(r, d)? {
                    Some(text) if ns_known => {
                        d.manifests(&text, rel, default_ns(manifest))?;
                    }
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
                let Some(text) = read_all(r, d)? else {
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
                let Some(text) = read_all(r, d)? else {
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
                match read_all(r, d)? {
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
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            sizes.insert(rel.clone(), size);
            handle(&rel, size, &mut f, d, &mut manifest, &mut skipped)?;
        }
    } else {
        let f = std::fs::File::open(path).map_err(io)?;
        let gz = flate2::read::GzDecoder::new(f);
        let mut ar = tar::Archive::new(gz);
        let mut prefix: Option<String> = None;
        // Raw entries: the `tar` crate would read a GNU long-name or PAX
        // header whole, whatever its size. Here each is read through a
        // `Take` of NAME_HEADER_MAX bytes; the member a longer one describes
        // is skipped and listed.
        let mut long_name: Option<Vec<u8>> = None;
        let mut over_header = false;
        for entry in ar.entries().map_err(io)?.raw(true) {
            let mut entry = entry.map_err(io)?;
            let ty = entry.header().entry_type();
            if ty.is_gnu_longname() || ty.is_pax_local_extensions() {
                let mut b = Vec::new();
                (&mut entry)
                    .take(NAME_HEADER_MAX + 1)
                    .read_to_end(&mut b)
                    .map_err(io)?;
                if b.len() as u64 > NAME_HEADER_MAX {
                    over_header = true;
                } else if ty.is_gnu_longname() {
                    while b.last() == Some(&0) {
                        b.pop();
                    }
                    long_name = Some(b);
                } else if let Some(p) = tar::PaxExtensions::new(&b)
                    .filter_map(Result::ok)
                    .find(|e| e.key_bytes() == b"path")
                {
                    long_name = Some(p.value_bytes().to_vec());
                }
                continue;
            }
            if ty.is_gnu_longlink() || ty.is_pax_global_extensions() {
                // Link targets and archive-wide attributes name no member
                // meshdoc reads; their data is skipped unread.
                continue;
            }
            let name = long_name.take();
            let over = std::mem::take(&mut over_header);
            if !(ty.is_file() || ty == tar::EntryType::Continuous) {
                continue;
            }
            let p = match name {
                Some(b) => String::from_utf8_lossy(&b).into_owned(),
                None => entry.path().map_err(io)?.to_string_lossy().into_owned(),
            };
            let p = p.trim_start_matches("./").to_string();
            if over {
                skipped.push(Missing {
                    what: crate::report::sanitize::clip(&p, 200),
                    reason: format!(
                        "skipped: its long-name (GNU or PAX) header is over {} KiB",
                        NAME_HEADER_MAX >> 10
                    ),
                    rules: Vec::new(),
                });
                continue;
            }
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
            let size = entry.header().size().unwrap_or(0);
            sizes.insert(rel.clone(), size);
            handle(&rel, size, &mut entry, d, &mut manifest, &mut skipped)?;
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
    for (rel, text) in objects {
        d.manifests(&text, &rel, default_ns(&manifest))?;
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

/// The namespace of namespace-less objects: the manifest's, or `default`.
fn default_ns(m: &Manifest) -> &str {
    if m.namespace.is_empty() {
        "default"
    } else {
        &m.namespace
    }
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

    /// Writes a `.tar.gz` of raw members: (entry type, path, data).
    fn tar_gz(path: &Path, members: &[(tar::EntryType, &str, &[u8])]) {
        let f = std::fs::File::create(path).unwrap();
        let gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        for (ty, name, data) in members {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*ty);
            // Raw bytes: the builder would emit its own long-name header.
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap();
    }

    fn read(path: &Path) -> Result<(Vec<Missing>, Vec<String>), BundleError> {
        let rules = crate::rules::load_builtin().expect("built-in rules load");
        let mut d = crate::engine::diagnosis::Diagnosis::new(&rules);
        feed(path, &mut d, &ReadOptions::default())?;
        Ok((d.missing.clone(), d.read.clone()))
    }

    const HTTP: &[u8] =
        b"HTTP/1.1 503 Service Unavailable\r\nl5d-proxy-error: service in fail-fast\r\n\r\n";

    #[test]
    fn a_long_name_header_over_the_bound_skips_its_member_and_lists_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.tar.gz");
        // 4 MiB of name: the `tar` crate alone would read it whole.
        let huge = vec![b'a'; 4 << 20];
        let mut pax = b"1048600 path=".to_vec();
        pax.extend(std::iter::repeat_n(b'b', 1 << 20));
        pax.push(b'\n');
        tar_gz(
            &p,
            &[
                (tar::EntryType::GNULongName, "././@LongLink", &huge),
                (tar::EntryType::Regular, "http/short.txt", HTTP),
                (tar::EntryType::XHeader, "PaxHeader/x", &pax),
                (tar::EntryType::Regular, "http/other.txt", HTTP),
                (tar::EntryType::Regular, "http/read.txt", HTTP),
            ],
        );
        let (missing, read) = read(&p).unwrap();
        let skipped: Vec<&Missing> = missing
            .iter()
            .filter(|m| {
                m.reason
                    .contains("long-name (GNU or PAX) header is over 8 KiB")
            })
            .collect();
        assert_eq!(skipped.len(), 2, "{missing:?}");
        assert!(
            read.iter().any(|r| r.starts_with("http/read.txt")),
            "{read:?}"
        );
        assert!(
            !read.iter().any(|r| r.starts_with("http/short.txt")),
            "{read:?}"
        );
        assert!(
            !read.iter().any(|r| r.starts_with("http/other.txt")),
            "{read:?}"
        );
    }

    #[test]
    fn long_names_within_the_bound_still_name_their_member() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.tar.gz");
        let long = format!("http/{}.txt", "x".repeat(300));
        let mut gnu = long.clone().into_bytes();
        gnu.push(0);
        let pax_long = format!("http/{}.txt", "y".repeat(300));
        let rec = format!(" path={pax_long}\n");
        let rec = format!("{}{rec}", rec.len() + (rec.len() + 3).to_string().len());
        tar_gz(
            &p,
            &[
                (tar::EntryType::GNULongName, "././@LongLink", &gnu),
                (tar::EntryType::Regular, "truncated-name", HTTP),
                (tar::EntryType::XHeader, "PaxHeader/x", rec.as_bytes()),
                (tar::EntryType::Regular, "truncated-too", HTTP),
            ],
        );
        let (missing, read) = read(&p).unwrap();
        assert!(read.iter().any(|r| r.starts_with(&long)), "{read:?}");
        assert!(
            read.iter().any(|r| r.starts_with(&pax_long)),
            "{read:?} {missing:?}"
        );
    }
}
