//! Kubernetes manifests: files, directories, stdin; multi-document YAML and
//! JSON; `List` kinds. Each object keeps the file, line and column it came from.
//!
//! Loading never stops at the first bad file: [`load_paths`] returns every
//! object it could read plus one [`ManifestError`] per unreadable file, so
//! `meshdoc check` can report all of them and still check the rest.

use crate::facts::{ObjRef, Object, ObjectSet};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A manifest that could not be read, at file:line:column.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct ManifestError {
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// The parser options for manifests. `legacy_octal_numbers` because
/// Kubernetes' YAML library (go-yaml v2 semantics) reads `defaultMode: 0644`
/// as octal 420; reading it as decimal 644 would misrepresent the object.
///
/// The parser's resource budget defaults suit one config file (1,024
/// documents, 250k nodes); a rendered chart or a generated bundle of 100k
/// objects is larger but grows linearly with its size. So the counting
/// limits scale with the input length (a node or event needs at least a
/// byte or two of text), while the anchor/alias limits that stop
/// amplification ("billion laughs") keep their defaults.
fn options(len: usize) -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    o.legacy_octal_numbers = true;
    let mut b = serde_saphyr::Budget::default();
    b.max_documents = b.max_documents.max(len / 8);
    b.max_events = b.max_events.max(len);
    b.max_nodes = b.max_nodes.max(len);
    b.max_total_scalar_bytes = b.max_total_scalar_bytes.max(len);
    o.budget = Some(b);
    o
}

/// The `items` of a `List` document, each with its position.
#[derive(Deserialize)]
struct ListItems {
    #[serde(default)]
    items: Vec<Spanned<serde::de::IgnoredAny>>,
}

/// Drops the parser's own `error: line N column M: ` prefix: the place is
/// already in the ManifestError.
fn strip_position(msg: &str) -> &str {
    let m = msg.strip_prefix("error: ").unwrap_or(msg);
    match m.strip_prefix("line ") {
        Some(rest) => rest.split_once(": ").map(|(_, tail)| tail).unwrap_or(m),
        None => m,
    }
}

/// Where the first unrendered Go template action (`{{`) sits outside comments.
fn helm_marker(text: &str) -> Option<(u32, u32)> {
    text.lines().enumerate().find_map(|(i, l)| {
        let code = l.trim_start();
        if code.starts_with('#') {
            return None;
        }
        l.find("{{").map(|c| (i as u32 + 1, c as u32 + 1))
    })
}

/// Parses multi-document YAML (or JSON) text into objects; namespace-less
/// objects get `default_ns`.
pub fn load_str(text: &str, path: &str, default_ns: &str) -> Result<ObjectSet, ManifestError> {
    let mut set = ObjectSet::default();
    load_into(&mut set, text, path, default_ns)?;
    Ok(set)
}

/// Splits a stream at document separators (`---` at column 0, or `...`),
/// returning each chunk with the 0-based line it starts on. Parsing chunk by
/// chunk keeps the parser's working set to one document, so memory and time
/// grow linearly with the stream. A separator inside a block scalar would
/// have to be indented, so column-0 `---` is always a boundary in manifests.
fn split_docs(text: &str) -> Vec<(u32, &str)> {
    let mut out = Vec::new();
    let (mut start, mut start_line) = (0usize, 0u32);
    let mut pos = 0usize;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let l = line.trim_end_matches(['\n', '\r']);
        let sep = l == "---" || l.starts_with("--- ") || l.starts_with("---\t") || l == "...";
        if sep && pos > start {
            out.push((start_line, &text[start..pos]));
            start = pos;
            start_line = n as u32;
        }
        pos += line.len();
    }
    if pos > start {
        out.push((start_line, &text[start..]));
    }
    out
}

fn parse_error(e: &serde_saphyr::Error, text: &str, path: &str, offset: u32) -> ManifestError {
    // A failing parse with `{{` in it is almost always an unrendered
    // chart; the YAML error itself would only confuse.
    if let Some((line, column)) = helm_marker(text) {
        return ManifestError {
            path: path.to_string(),
            line,
            column,
            message: "this looks like an unrendered Helm template (`{{ … }}`); \
                      render it first and pipe the output: \
                      `helm template RELEASE CHART | meshdoc check -`"
                .to_string(),
        };
    }
    let (line, column) = e
        .location()
        .map(|l| (l.line() as u32, l.column() as u32))
        .unwrap_or((1, 1));
    let msg = e.to_string();
    let first = msg
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("parse error")
        .trim();
    ManifestError {
        path: path.to_string(),
        line: line.max(1) + offset,
        column: column.max(1),
        message: format!("invalid YAML: {}", strip_position(first)),
    }
}

/// Parses `text` and appends its objects to `set`; on error nothing is added.
pub fn load_into(
    set: &mut ObjectSet,
    text: &str,
    path: &str,
    default_ns: &str,
) -> Result<(), ManifestError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut docs: Vec<(u32, &str, usize, Spanned<serde_json::Value>)> = Vec::new();
    for (offset, chunk) in split_docs(text) {
        match serde_saphyr::from_multiple_with_options::<Spanned<serde_json::Value>>(
            chunk,
            options(chunk.len()),
        ) {
            Ok(ds) => {
                for (i, d) in ds.into_iter().enumerate() {
                    docs.push((offset, chunk, i, d));
                }
            }
            Err(e) => return Err(parse_error(&e, text, path, offset)),
        }
    }
    let source: Arc<str> = Arc::from(text);
    set.sources.insert(path.to_string(), source);
    let file: Arc<str> = Arc::from(path);
    for (offset, chunk, di, d) in docs {
        let (line, column) = (
            d.referenced.line() as u32 + offset,
            d.referenced.column() as u32,
        );
        let value = d.value;
        let Some(kind) = value.get("kind").and_then(|v| v.as_str()) else {
            continue;
        };
        if kind == "List" || (kind.ends_with("List") && value.get("items").is_some()) {
            // Item positions need a second, typed pass; only Lists pay for it.
            let positions = list_item_positions(chunk);
            let pos = positions.get(di).cloned().unwrap_or_default();
            if let Some(serde_json::Value::Array(items)) = value.get("items").cloned() {
                for (ii, item) in items.into_iter().enumerate() {
                    let (l, c) = pos
                        .get(ii)
                        .map(|(l, c)| (l + offset, *c))
                        .unwrap_or((line, column));
                    push(set, item, &file, l, c, default_ns);
                }
            }
            continue;
        }
        push(set, value, &file, line, column, default_ns);
    }
    Ok(())
}

fn list_item_positions(text: &str) -> Vec<Vec<(u32, u32)>> {
    let docs: Vec<Option<ListItems>> =
        serde_saphyr::from_multiple_with_options(text, options(text.len())).unwrap_or_default();
    docs.into_iter()
        .map(|d| {
            d.map(|l| {
                l.items
                    .iter()
                    .map(|s| (s.referenced.line() as u32, s.referenced.column() as u32))
                    .collect()
            })
            .unwrap_or_default()
        })
        .collect()
}

fn push(
    set: &mut ObjectSet,
    value: serde_json::Value,
    file: &Arc<str>,
    line: u32,
    column: u32,
    default_ns: &str,
) {
    let Some(kind) = value.get("kind").and_then(|v| v.as_str()) else {
        return;
    };
    let ns = if crate::facts::is_cluster_scoped(kind) {
        None
    } else {
        Some(
            value
                .pointer("/metadata/namespace")
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .unwrap_or(default_ns)
                .to_string(),
        )
    };
    let origin = ObjRef {
        kind: kind.to_string(),
        namespace: ns,
        name: value
            .pointer("/metadata/name")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string(),
        file: Some(file.to_string()),
        line: Some(line.max(1)),
        column: Some(column.max(1)),
        field: None,
    };
    set.objects.push(Object { value, origin });
}

/// Is this a manifest file by its extension?
fn is_manifest(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// What one input (a path given on the command line, or `-`) held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputRead {
    /// The input as given.
    pub input: String,
    pub stdin: bool,
    pub dir: bool,
    /// Manifest files read (a file input or stdin counts as one).
    pub files: usize,
    pub bytes: u64,
    /// Files in a directory skipped for their extension (not .yaml/.yml/.json).
    pub skipped: usize,
    /// Files and directories skipped by `--exclude`.
    pub excluded: usize,
    /// Symlinks not followed (a directory link, or one leading out of the
    /// input directory) and special files (FIFOs, devices, sockets).
    pub not_followed: Vec<String>,
    /// Kubernetes objects (documents with a `kind`, List items expanded).
    pub objects: usize,
    /// Why the input itself could not be read.
    pub error: Option<String>,
}

impl InputRead {
    /// `stdin: 0 bytes`, `k8s/: 3 manifest files, 2 other files skipped`, …
    pub fn describe(&self) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        if let Some(e) = &self.error {
            return format!("{}: {e}", self.input);
        }
        let no_kind = if self.objects == 0 && self.bytes > 0 {
            ", no document with a `kind`"
        } else {
            ""
        };
        if self.stdin {
            return format!(
                "stdin: {}{no_kind}",
                plural(self.bytes as usize, "byte", "bytes")
            );
        }
        if self.dir {
            let mut parts = vec![if self.files == 0 {
                "no .yaml, .yml or .json file".to_string()
            } else {
                format!(
                    "{}{no_kind}",
                    plural(self.files, "manifest file", "manifest files")
                )
            }];
            if self.skipped > 0 {
                parts.push(format!(
                    "{} skipped",
                    plural(self.skipped, "other file", "other files")
                ));
            }
            if self.excluded > 0 {
                parts.push(format!("{} excluded", self.excluded));
            }
            if !self.not_followed.is_empty() {
                let mut shown: Vec<&str> = self
                    .not_followed
                    .iter()
                    .take(3)
                    .map(String::as_str)
                    .collect();
                if self.not_followed.len() > 3 {
                    shown.push("…");
                }
                parts.push(format!(
                    "{} not followed ({})",
                    plural(
                        self.not_followed.len(),
                        "link or special file",
                        "links or special files"
                    ),
                    shown.join(", ")
                ));
            }
            return format!(
                "{}/: {}",
                self.input.trim_end_matches('/'),
                parts.join(", ")
            );
        }
        format!(
            "{}: {}{no_kind}",
            self.input,
            plural(self.bytes as usize, "byte", "bytes")
        )
    }
}

/// Everything [`load_paths_with`] read.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub set: ObjectSet,
    /// One per file that could not be read or parsed.
    pub errors: Vec<ManifestError>,
    /// One per input, in order.
    pub inputs: Vec<InputRead>,
    /// Files (`-` for stdin) that were not valid UTF-8, read lossily; the
    /// CLI warns about each once.
    pub not_utf8: Vec<String>,
}

impl Loaded {
    /// Manifest files read, over all inputs.
    pub fn files(&self) -> usize {
        self.inputs.iter().map(|i| i.files).sum()
    }

    /// "read 0 Kubernetes objects from 1 input (stdin: 0 bytes)": what a run
    /// that found nothing to check tells the user, naming each input.
    pub fn summary(&self) -> String {
        let n = self.set.objects.len();
        let k = self.inputs.len();
        let files = self.files();
        let mut s = format!(
            "read {n} Kubernetes object{} from {k} input{}",
            if n == 1 { "" } else { "s" },
            if k == 1 { "" } else { "s" }
        );
        if n > 0 && (files != k || self.inputs.iter().any(|i| i.dir)) {
            s.push_str(&format!(
                ", {files} manifest file{}",
                if files == 1 { "" } else { "s" }
            ));
        }
        let detail: Vec<String> = self
            .inputs
            .iter()
            .filter(|i| {
                n == 0
                    || i.error.is_some()
                    || i.objects == 0
                    || i.excluded > 0
                    || !i.not_followed.is_empty()
            })
            .map(InputRead::describe)
            .collect();
        if !detail.is_empty() {
            s.push_str(&format!(" ({})", detail.join("; ")));
        }
        s
    }
}

/// Options for [`load_paths_with`].
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions<'a> {
    /// Namespace for namespace-less objects.
    pub default_ns: &'a str,
    /// `--exclude` patterns, applied to paths found while walking a
    /// directory (see [`crate::glob::path_excluded`]).
    pub exclude: &'a [String],
    /// The input directory a walk started from (set by the walk itself).
    pub root: Option<&'a Path>,
}

/// Walks a directory: manifest files, sorted, recursively, so output order
/// is stable. `rel` is the path below the input directory.
fn walk(
    dir: &Path,
    rel: &str,
    opts: &LoadOptions,
    read: &mut InputRead,
    out: &mut Vec<PathBuf>,
    errors: &mut Vec<ManifestError>,
) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errors.push(io_error(dir, &e));
            return;
        }
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    let root = opts.root.unwrap_or(dir);
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    for e in entries {
        // Never through a link to a directory (no loops, no walking `/`), a
        // link to a file only when it stays inside the input directory, and
        // only regular files (a FIFO would hang the run, /dev/zero never ends).
        let Ok(meta) = std::fs::symlink_metadata(&e) else {
            continue;
        };
        let shown = e.strip_prefix(root).unwrap_or(&e).display().to_string();
        if meta.file_type().is_symlink() {
            let inside = match (std::fs::canonicalize(&e), std::fs::canonicalize(root)) {
                (Ok(t), Ok(r)) => t.starts_with(&r) && t.is_file(),
                _ => false,
            };
            if inside {
                files.push(e);
            } else {
                read.not_followed.push(shown);
            }
        } else if meta.is_dir() {
            dirs.push(e);
        } else if meta.is_file() {
            files.push(e);
        } else {
            read.not_followed.push(shown);
        }
    }
    let child = |p: &Path| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        }
    };
    for f in files {
        let r = child(&f);
        if opts
            .exclude
            .iter()
            .any(|p| crate::glob::path_excluded(p, &r, false))
        {
            read.excluded += 1;
        } else if is_manifest(&f) {
            out.push(f);
        } else {
            read.skipped += 1;
        }
    }
    for d in dirs {
        let r = child(&d);
        if opts
            .exclude
            .iter()
            .any(|p| crate::glob::path_excluded(p, &r, true))
        {
            read.excluded += 1;
            continue;
        }
        walk(
            &d,
            &r,
            &LoadOptions {
                root: Some(root),
                ..*opts
            },
            read,
            out,
            errors,
        );
    }
}

fn io_error(p: &Path, e: &std::io::Error) -> ManifestError {
    ManifestError {
        path: p.display().to_string(),
        line: 1,
        column: 1,
        message: format!("cannot read: {e}"),
    }
}

/// Loads every input; returns the objects that could be read and one error
/// per input that could not.
pub fn load_paths(inputs: &[PathBuf], default_ns: &str) -> (ObjectSet, Vec<ManifestError>) {
    let l = load_paths_with(
        inputs,
        &LoadOptions {
            default_ns,
            exclude: &[],
            root: None,
        },
    );
    (l.set, l.errors)
}

/// [`load_paths`] with `--exclude` and a record of what each input held.
pub fn load_paths_with(inputs: &[PathBuf], opts: &LoadOptions) -> Loaded {
    let mut l = Loaded::default();
    for p in inputs {
        let mut read = InputRead {
            input: p.display().to_string(),
            ..InputRead::default()
        };
        let mut files = Vec::new();
        if p.as_os_str() == "-" {
            read.stdin = true;
            files.push(p.clone());
        } else if p.is_dir() {
            read.dir = true;
            walk(p, "", opts, &mut read, &mut files, &mut l.errors);
        } else {
            files.push(p.clone());
        }
        let before = l.set.objects.len();
        for f in files {
            let (name, bytes) = if f.as_os_str() == "-" {
                let mut b = Vec::new();
                match std::io::Read::read_to_end(&mut std::io::stdin(), &mut b) {
                    Ok(_) => ("-".to_string(), b),
                    Err(e) => {
                        read.error = Some(format!("cannot read: {e}"));
                        l.errors.push(io_error(&f, &e));
                        continue;
                    }
                }
            } else {
                match std::fs::read(&f) {
                    Ok(bytes) => (f.display().to_string(), bytes),
                    Err(e) => {
                        if !read.dir {
                            read.error = Some(format!("cannot read: {e}"));
                        }
                        l.errors.push(io_error(&f, &e));
                        continue;
                    }
                }
            };
            // One UTF-8 policy for files and stdin: lossy, with a warning.
            let (text, lossy) = crate::evidence::text::decode_lossy(bytes);
            if lossy {
                l.not_utf8.push(name.clone());
            }
            read.files += 1;
            read.bytes += text.len() as u64;
            if let Err(e) = load_into(&mut l.set, &text, &name, opts.default_ns) {
                l.errors.push(e);
            }
        }
        read.objects = l.set.objects.len() - before;
        l.inputs.push(read);
    }
    l
}

/// One step of a field path: `spec`, `ingress`, `[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Splits `spec.ingress[0].ports` into steps; keys that contain dots are
/// written quoted in brackets: `data["tls.crt"]`.
fn parse_path(path: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("[\"") {
            let end = r.find("\"]").unwrap_or(r.len());
            out.push(Step::Key(&r[..end]));
            rest = r.get(end + 2..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            if let Ok(n) = r[..end].parse() {
                out.push(Step::Index(n));
            }
            rest = r.get(end + 1..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix('.') {
            rest = r;
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            out.push(Step::Key(&rest[..end]));
            rest = &rest[end..];
        }
    }
    out
}

/// A line split into its block-structure parts: indentation of the content
/// after any `- ` sequence markers, and where each marker sits.
struct Line<'a> {
    /// Column (0-based) of each `-` sequence marker on the line.
    dashes: Vec<usize>,
    /// Column (0-based) of the content after the markers.
    indent: usize,
    content: &'a str,
}

fn split_line(l: &str) -> Option<Line<'_>> {
    let mut col = l.len() - l.trim_start_matches(' ').len();
    let mut rest = &l[col..];
    if rest.is_empty() || rest.starts_with('#') {
        return None;
    }
    let mut dashes = Vec::new();
    while rest == "-" || rest.starts_with("- ") {
        dashes.push(col);
        let after = &rest[1..];
        let sp = after.len() - after.trim_start_matches(' ').len();
        col += 1 + sp;
        rest = &after[sp..];
    }
    Some(Line {
        dashes,
        indent: col,
        content: rest,
    })
}

fn key_of(content: &str) -> Option<&str> {
    let (k, _) = content.split_once(':')?;
    let k = k.trim();
    Some(k.trim_matches('"').trim_matches('\''))
}

/// Finds the line and column (1-based) of a field inside an object that
/// starts at `start_line`/`start_col`, following a path such as
/// `spec.ingress[0].ports`. Block-style YAML only (what `kubectl`, Helm and
/// kustomize write); for flow style or JSON the deepest field that could be
/// found is returned, or `None` when not even the first step matches.
pub fn locate_field(text: &str, start_line: u32, start_col: u32, path: &str) -> Option<(u32, u32)> {
    let lines: Vec<&str> = text.lines().collect();
    locate_field_in(&lines, start_line, start_col, path)
}

/// [`locate_field`] over a file already split into lines; callers locating
/// many fields in one large file split it once.
pub fn locate_field_in(
    lines: &[&str],
    start_line: u32,
    start_col: u32,
    path: &str,
) -> Option<(u32, u32)> {
    let steps = parse_path(path);
    let first = (start_line as usize).checked_sub(1)?;
    if first >= lines.len() {
        return None;
    }
    // The object's region: from its start to the next line that is less
    // indented than the object itself (or a document separator).
    let obj_indent = (start_col as usize).saturating_sub(1);
    let end = region_end(lines, first, obj_indent);
    let mut best = None;
    let (mut lo, mut hi, mut indent) = (first, end, obj_indent);
    for step in &steps {
        match *step {
            Step::Key(k) => {
                let hit = (lo..hi).find_map(|n| {
                    let l = split_line(lines[n])?;
                    (l.indent == indent && key_of(l.content) == Some(k)).then_some(n)
                });
                let Some(n) = hit else { break };
                best = Some((n as u32 + 1, indent as u32 + 1));
                // The value: following lines indented deeper, or sequence
                // items at the same indent (`ports:\n- port: 80`).
                let vend = value_end(lines, n + 1, hi, indent);
                lo = n + 1;
                hi = vend;
                // The child indent is that of the first content line.
                match (lo..hi).find_map(|m| split_line(lines[m])) {
                    Some(l) => indent = l.dashes.first().copied().unwrap_or(l.indent),
                    None => break,
                }
            }
            Step::Index(want) => {
                let seq_indent = indent;
                let mut count = 0;
                let mut found = None;
                for (n, line) in lines.iter().enumerate().take(hi).skip(lo) {
                    if let Some(l) = split_line(line)
                        && l.dashes.first() == Some(&seq_indent)
                    {
                        if count == want {
                            found = Some((n, l));
                            break;
                        }
                        count += 1;
                    }
                }
                let Some((n, l)) = found else { break };
                best = Some((n as u32 + 1, l.indent as u32 + 1));
                let next = (n + 1..hi)
                    .find(|&m| {
                        split_line(lines[m]).is_some_and(|x| {
                            x.dashes.first() == Some(&seq_indent)
                                || (x.dashes.is_empty() && x.indent <= seq_indent)
                        })
                    })
                    .unwrap_or(hi);
                lo = n;
                hi = next;
                indent = l.indent;
            }
        }
    }
    best
}

fn region_end(lines: &[&str], first: usize, indent: usize) -> usize {
    for (n, l) in lines.iter().enumerate().skip(first + 1) {
        if l.starts_with("---") || l.starts_with("...") {
            return n;
        }
        if let Some(s) = split_line(l)
            && s.dashes.first().copied().unwrap_or(s.indent) < indent
        {
            return n;
        }
    }
    lines.len()
}

fn value_end(lines: &[&str], from: usize, hi: usize, key_indent: usize) -> usize {
    for (n, l) in lines.iter().enumerate().take(hi).skip(from) {
        if let Some(s) = split_line(l) {
            let at = s.dashes.first().copied().unwrap_or(s.indent);
            let deeper = at > key_indent || (at == key_indent && !s.dashes.is_empty());
            if !deeper {
                return n;
            }
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    const NETPOL: &str = "\
# leading comment
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-web
spec:
  podSelector: {}
  ingress:
  - from:
    - podSelector: {}
    ports:
    - port: 8080
  - ports:
      - port: 9090
---
kind: Service
metadata: {name: web}
";

    #[test]
    fn documents_keep_their_first_line_and_column() {
        let set = load_str(NETPOL, "a.yaml", "default").unwrap();
        assert_eq!(set.objects.len(), 2);
        assert_eq!(set.objects[0].origin.line, Some(2));
        assert_eq!(set.objects[0].origin.column, Some(1));
        assert_eq!(set.objects[1].origin.line, Some(16));
        assert_eq!(set.objects[1].origin.namespace.as_deref(), Some("default"));
    }

    #[test]
    fn a_field_path_is_found_line_by_line() {
        assert_eq!(locate_field(NETPOL, 2, 1, "spec.ingress"), Some((8, 3)));
        assert_eq!(locate_field(NETPOL, 2, 1, "spec.ingress[0]"), Some((9, 5)));
        assert_eq!(
            locate_field(NETPOL, 2, 1, "spec.ingress[0].ports"),
            Some((11, 5))
        );
        assert_eq!(
            locate_field(NETPOL, 2, 1, "spec.ingress[1].ports"),
            Some((13, 5))
        );
        assert_eq!(
            locate_field(NETPOL, 2, 1, "spec.ingress[1].ports[0].port"),
            Some((14, 9))
        );
        assert_eq!(locate_field(NETPOL, 2, 1, "metadata.name"), Some((5, 3)));
    }

    #[test]
    fn keys_with_dots_are_written_in_quoted_brackets() {
        let t = "kind: Secret\ndata:\n  tls.crt: abc\n";
        assert_eq!(locate_field(t, 1, 1, "data[\"tls.crt\"]"), Some((3, 3)));
        assert_eq!(
            parse_path("a.b[2][\"x.y\"].c"),
            [
                Step::Key("a"),
                Step::Key("b"),
                Step::Index(2),
                Step::Key("x.y"),
                Step::Key("c")
            ]
        );
    }

    #[test]
    fn a_missing_field_falls_back_to_the_deepest_found() {
        assert_eq!(locate_field(NETPOL, 2, 1, "spec.egress"), Some((6, 1)));
        assert_eq!(locate_field(NETPOL, 2, 1, "status"), None);
        assert_eq!(locate_field(NETPOL, 2, 1, "spec.ingress[5]"), Some((8, 3)));
        assert_eq!(locate_field(NETPOL, 16, 1, "metadata.name"), Some((17, 1)));
    }

    #[test]
    fn list_items_become_objects_with_their_own_position() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- kind: Service\n  metadata:\n    name: a\n    namespace: x\n- kind: ConfigMap\n  metadata:\n    name: b\n";
        let set = load_str(text, "l.yaml", "default").unwrap();
        assert_eq!(set.objects.len(), 2);
        assert_eq!(set.objects[0].origin.line, Some(4));
        assert_eq!(set.objects[0].origin.column, Some(3));
        assert_eq!(set.objects[0].origin.namespace.as_deref(), Some("x"));
        assert_eq!(set.objects[1].origin.line, Some(8));
        assert_eq!(locate_field(text, 8, 3, "metadata.name"), Some((10, 5)));
    }

    #[test]
    fn invalid_yaml_is_reported_at_its_place() {
        let e = load_str("kind: A\nmetadata:\n  name: [x\n", "bad.yaml", "d").unwrap_err();
        assert_eq!(e.path, "bad.yaml");
        assert!(e.line >= 3, "{e}");
        assert!(e.message.starts_with("invalid YAML"), "{e}");
    }

    #[test]
    fn an_unrendered_helm_template_says_to_pipe_helm_template() {
        let t = "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n";
        let e = load_str(t, "svc.yaml", "d").unwrap_err();
        assert_eq!((e.line, e.column), (4, 9));
        assert!(e.message.contains("helm template"), "{e}");
    }

    #[test]
    fn legacy_octal_numbers_read_like_kubernetes_does() {
        let t = "kind: ConfigMap\nmetadata: {name: a}\nmode: 0644\n";
        let set = load_str(t, "o.yaml", "d").unwrap();
        assert_eq!(set.objects[0].value["mode"], 420);
    }

    #[test]
    fn more_documents_than_the_parsers_default_budget_load() {
        let text = "kind: ConfigMap\nmetadata: {name: a}\n---\n".repeat(3000);
        assert_eq!(
            load_str(&text, "big.yaml", "d")
                .map(|s| s.objects.len())
                .ok(),
            Some(3000)
        );
    }

    #[test]
    fn an_alias_bomb_is_refused_not_expanded() {
        let mut t = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("b{}", i - 1)
            };
            t.push_str(&format!("b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        t.push_str("kind: ConfigMap\n");
        assert!(load_str(&t, "bomb.yaml", "d").is_err());
    }

    #[test]
    fn documents_split_at_column_zero_separators_only() {
        let t = "a: 1\n---\nb: |\n  ---\n  x\n--- {c: 3}\n...\n";
        let d = split_docs(t);
        assert_eq!(d.iter().map(|x| x.0).collect::<Vec<_>>(), [0, 1, 5, 6]);
        assert_eq!(d[1].1, "---\nb: |\n  ---\n  x\n");
    }

    #[test]
    fn an_error_in_a_later_document_keeps_its_file_line() {
        let t = "kind: A\nmetadata: {name: a}\n---\nkind: B\nmetadata:\n  name: [x\n";
        let e = load_str(t, "x.yaml", "d").unwrap_err();
        assert!(e.line >= 6, "{e}");
    }

    #[test]
    fn json_manifests_load_too() {
        let t = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"j"}}"#;
        let set = load_str(t, "j.json", "ns1").unwrap();
        assert_eq!(set.objects[0].origin.name, "j");
        assert_eq!(set.objects[0].origin.namespace.as_deref(), Some("ns1"));
    }

    #[test]
    fn cluster_scoped_kinds_get_no_namespace() {
        let t = "kind: Namespace\nmetadata: {name: a}\n";
        let set = load_str(t, "n.yaml", "d").unwrap();
        assert_eq!(set.objects[0].origin.namespace, None);
    }
}
