//! Loading rule files: the built-in pack embedded in the binary, plus user
//! directories from `--rules DIR` and `MESHDOC_RULES`.

use super::schema::RuleFile;
use super::{Rule, RuleSet};
use include_dir::{Dir, include_dir};
use std::path::{Path, PathBuf};

static BUILTIN: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/rules");

/// One problem in one rule file, at file:line:column, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: {field}: {message}")]
pub struct RuleError {
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub field: String,
    pub message: String,
}

/// Every problem found while loading rules.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<RuleError>),
    #[error("cannot read rules from {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

fn is_rule_file(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

/// Parses and compiles one rule file's text.
pub fn parse_rule(src: &str, path: &str) -> Result<Rule, Vec<RuleError>> {
    parse_rule_with(src, path, Mode::Full)
}

/// Byte ranges of the top-level sections named `keys` (each `key:` in column
/// 0 up to the next top-level key). A top-level key starts in column 0;
/// nothing inside a section can (its content is indented).
fn section_ranges(src: &str, keys: &[&str]) -> Vec<(usize, usize)> {
    let bytes = src.as_bytes();
    let top = |at: usize| {
        let rest = &bytes[at..];
        rest.first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
            || rest.starts_with(b"---")
            || rest.starts_with(b"...")
    };
    let starts: Vec<usize> = std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', bytes).map(|i| i + 1))
        .filter(|&i| i < bytes.len() && top(i))
        .collect();
    let mut out = Vec::new();
    for (n, &i) in starts.iter().enumerate() {
        if keys.iter().any(|k| bytes[i..].starts_with(k.as_bytes())) {
            out.push((i, starts.get(n + 1).copied().unwrap_or(bytes.len())));
        }
    }
    out
}

/// Blanks the top-level sections named `keys`, keeping every newline so that
/// positions in the rest of the file do not move.
fn strip_sections(src: &str, keys: &[&str]) -> Option<String> {
    let ranges = section_ranges(src, keys);
    if ranges.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(src.len());
    let mut at = 0;
    for (a, b) in ranges {
        out.push_str(&src[at..a]);
        // Keep the newlines (and only them) so later positions do not move.
        out.extend(std::iter::repeat_n(
            '\n',
            memchr::memchr_iter(b'\n', &src.as_bytes()[a..b]).count(),
        ));
        at = b;
    }
    out.push_str(&src[at..]);
    Some(out)
}

/// The `docs` and `versions` sections of a rule file, read on their own.
pub(crate) fn prose(src: &str) -> Option<(super::Docs, Vec<super::VersionNote>)> {
    #[derive(serde::Deserialize)]
    struct Prose {
        #[serde(default)]
        docs: super::Docs,
        #[serde(default)]
        versions: Vec<super::VersionNote>,
    }
    let mut text = String::new();
    for (a, b) in section_ranges(src, &["docs:", "versions:"]) {
        text.push_str(&src[a..b]);
    }
    let p: Prose = serde_saphyr::from_str(&text).ok()?;
    Some((p.docs, p.versions))
}

/// As [`parse_rule`]; without `examples` the `examples:`, `docs:` and
/// `versions:` sections are skipped at load (most of the built-in pack's
/// bytes: examples are needed only by `rules test`, the prose only by the
/// findings shown).
fn parse_rule_with(src: &str, path: &str, mode: Mode) -> Result<Rule, Vec<RuleError>> {
    if mode != Mode::Full {
        // Matching needs neither the examples nor the prose: the prose is
        // read from `src` when a finding or page first asks for it. A bare
        // symptom (`explain 503`) needs not even the signals.
        let skip: &[&str] = if mode == Mode::Symptoms {
            &["examples:", "docs:", "versions:", "signals:"]
        } else {
            &["examples:", "docs:", "versions:"]
        };
        if let Some(stripped) = strip_sections(src, skip) {
            let mut rule = parse_text(&stripped, path, false)?;
            rule.text = super::RuleText::later(src);
            return Ok(rule);
        }
    }
    parse_text(src, path, true)
}

fn parse_text(src: &str, path: &str, examples: bool) -> Result<Rule, Vec<RuleError>> {
    let stem = Path::new(path)
        .file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_string);
    match serde_saphyr::from_str::<RuleFile>(src) {
        Ok(file) => super::compile::compile(file, path, src, stem.as_deref(), examples),
        Err(e) => {
            let (line, column) = e
                .location()
                .map(|l| (l.line() as u32, l.column() as u32))
                .unwrap_or((1, 1));
            let msg = first_line(&e.to_string());
            let field = field_of(&msg);
            Err(vec![RuleError {
                path: path.to_string(),
                line,
                column,
                field,
                message: msg,
            }])
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid YAML")
        .trim()
        .to_string()
}

/// Pulls the field name out of serde messages such as "unknown field `foo`".
fn field_of(msg: &str) -> String {
    for key in ["unknown field `", "missing field `", "duplicate field `"] {
        if let Some(i) = msg.find(key) {
            let rest = &msg[i + key.len()..];
            if let Some(end) = rest.find('`') {
                return rest[..end].to_string();
            }
        }
    }
    "yaml".to_string()
}

fn builtin_files(dir: &Dir<'_>, out: &mut Vec<(String, String)>) {
    for f in dir.files() {
        if is_rule_file(f.path()) {
            let text = String::from_utf8_lossy(f.contents()).into_owned();
            out.push((format!("builtin:rules/{}", f.path().display()), text));
        }
    }
    for d in dir.dirs() {
        builtin_files(d, out);
    }
}

fn user_files(dir: &Path, out: &mut Vec<(String, String)>) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: dir.display().to_string(),
        source,
    };
    if dir.is_file() {
        let text = std::fs::read_to_string(dir).map_err(io)?;
        out.push((dir.display().to_string(), text));
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            user_files(&p, out)?;
        } else if is_rule_file(&p) {
            let text = std::fs::read_to_string(&p).map_err(|source| LoadError::Io {
                path: p.display().to_string(),
                source,
            })?;
            out.push((p.display().to_string(), text));
        }
    }
    Ok(())
}

/// How much of each built-in rule file a load reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Everything, examples included (`rules test|show`).
    Full,
    /// All but the examples and the prose (read later): matching evidence.
    Lean,
    /// Only what a bare symptom needs (`explain 503`): no signals either.
    Symptoms,
}

/// Parses every file, spread over the available cores (YAML parsing is most of
/// the start-up cost of `explain`). Results keep the order of `files`.
fn parse_all(files: &[(String, String)], mode: Mode) -> Vec<Result<Rule, Vec<RuleError>>> {
    // User rules are always read whole, so their examples are validated on
    // every command; only the (tested) built-in pack may skip them.
    let parse = |t: &str, p: &str| {
        let m = if p.starts_with("builtin:") {
            mode
        } else {
            Mode::Full
        };
        parse_rule_with(t, p, m)
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4)
        .min(files.len() / 8)
        .max(1);
    if threads == 1 {
        return files.iter().map(|(p, t)| parse(t, p)).collect();
    }
    // Thread i takes files i, i+threads, …: sizes vary, so strides balance
    // better than contiguous chunks.
    let mut out: Vec<Option<Result<Rule, Vec<RuleError>>>> = Vec::new();
    out.resize_with(files.len(), || None);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let parse = &parse;
                s.spawn(move || {
                    files
                        .iter()
                        .enumerate()
                        .skip(i)
                        .step_by(threads)
                        .map(|(k, (p, t))| (k, parse(t, p)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(part) => part.into_iter().for_each(|(k, r)| out[k] = Some(r)),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    out.into_iter().flatten().collect()
}

fn compile_all(files: Vec<(String, String)>, mode: Mode) -> Result<RuleSet, LoadError> {
    let mut explains_line = std::collections::HashMap::new();
    let mut refines_line = std::collections::HashMap::new();
    for (path, text) in &files {
        if let Some(i) = text.lines().position(|l| l.starts_with("explains:")) {
            explains_line.insert(path.clone(), i as u32 + 1);
        }
        if let Some(i) = text.lines().position(|l| l.starts_with("refines:")) {
            refines_line.insert(path.clone(), i as u32 + 1);
        }
    }
    let parsed = parse_all(&files, mode);
    let mut rules: Vec<Rule> = Vec::new();
    let mut errors = Vec::new();
    for ((path, text), result) in files.into_iter().zip(parsed) {
        match result {
            Ok(rule) => {
                if let Some(prev) = rules.iter().find(|r| r.id == rule.id) {
                    let line = text
                        .lines()
                        .position(|l| l.starts_with("id:"))
                        .map(|i| i as u32 + 1)
                        .unwrap_or(1);
                    errors.push(RuleError {
                        path: path.clone(),
                        line,
                        column: 1,
                        field: "id".into(),
                        message: format!(
                            "duplicate id `{}`, already defined in {}",
                            rule.id, prev.path
                        ),
                    });
                } else {
                    rules.push(rule);
                }
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    // `explains` and `refines` may name rules from any loaded file, so they
    // are checked last.
    for r in &rules {
        for (field, ids, lines) in [
            ("explains", &r.explains, &explains_line),
            ("refines", &r.refines, &refines_line),
        ] {
            for id in ids {
                if !rules.iter().any(|o| &o.id == id) {
                    let line = lines.get(&r.path).copied().unwrap_or(1);
                    errors.push(RuleError {
                        path: r.path.clone(),
                        line,
                        column: 1,
                        field: field.into(),
                        message: format!("unknown rule id `{id}`"),
                    });
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(RuleSet {
            rules,
            derived: Default::default(),
        })
    } else {
        Err(LoadError::Invalid(errors))
    }
}

/// The rule pack compiled into the binary.
pub fn load_builtin() -> Result<RuleSet, LoadError> {
    let mut files = Vec::new();
    builtin_files(&BUILTIN, &mut files);
    files.sort();
    compile_all(files, Mode::Full)
}

/// Built-in rules (unless `no_builtin`) plus every rule file under `dirs`.
pub fn load_rules(dirs: &[PathBuf], no_builtin: bool) -> Result<RuleSet, LoadError> {
    load(dirs, no_builtin, Mode::Full)
}

/// The rules as far as a bare symptom needs them (ids, symptoms, prose read
/// later), for `explain 503`: the quickest load.
pub fn load_rules_symptoms(dirs: &[PathBuf], no_builtin: bool) -> Result<RuleSet, LoadError> {
    load(dirs, no_builtin, Mode::Symptoms)
}

/// As [`load_rules`], but the built-in rules come without their examples:
/// every command but `rules test|show` starts faster this way.
pub fn load_rules_lean(dirs: &[PathBuf], no_builtin: bool) -> Result<RuleSet, LoadError> {
    load(dirs, no_builtin, Mode::Lean)
}

fn load(dirs: &[PathBuf], no_builtin: bool, mode: Mode) -> Result<RuleSet, LoadError> {
    let mut files = Vec::new();
    if !no_builtin {
        builtin_files(&BUILTIN, &mut files);
        files.sort();
    }
    for d in dirs {
        user_files(d, &mut files)?;
    }
    compile_all(files, mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lean load (no examples, regexes trusted) must see the same rules
    /// as the full one, and every trusted pattern must really compile.
    #[test]
    fn lean_load_matches_full_load() {
        let full = load_builtin().unwrap();
        let lean = load_rules_lean(&[], false).unwrap();
        let ids = |s: &RuleSet| s.rules.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&full), ids(&lean));
        assert!(lean.rules.iter().all(|r| r.examples.is_empty()));
        assert!(full.rules.iter().all(|r| r.examples.len() >= 2));
        for (a, b) in full.rules.iter().zip(&lean.rules) {
            assert_eq!(a.signals.len(), b.signals.len(), "{}", a.id);
            assert_eq!(a.docs().summary, b.docs().summary, "{}", a.id);
            for s in &b.signals {
                if let crate::rules::SignalKind::Text { regex, .. } = &s.kind {
                    regex::Regex::new(regex.as_str()).unwrap();
                }
            }
        }
    }

    #[test]
    fn a_changes_entry_that_names_no_kind_is_an_error_at_its_place() {
        let base = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/rules/linkerd/linkerd-netpol-blocks-proxy-port.yaml"
        ))
        .unwrap();
        let good = parse_rule(&base, "linkerd-netpol-blocks-proxy-port.yaml").unwrap();
        assert_eq!(good.changes[0].kind, "NetworkPolicy");
        let bad = base.replace("  - kind: NetworkPolicy\n", "  - kind: network policy\n");
        let errs = parse_rule(&bad, "linkerd-netpol-blocks-proxy-port.yaml").unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].field, "changes[0].kind");
        let line = base
            .lines()
            .position(|l| l == "  - kind: NetworkPolicy")
            .unwrap()
            + 1;
        assert_eq!(errs[0].line as usize, line);
        assert!(errs[0].message.contains("not an object kind"));
    }

    #[test]
    fn stripped_sections_keep_positions_and_the_prose_reads_back() {
        let src = "id: x\ndocs:\n  summary: s\n  why: w\n  confirm: []\n  fix: []\n  references: []\nexamples:\n  - name: a\n    input: |\n      503\nversions: []\n";
        let out = strip_sections(src, &["examples:"]).unwrap();
        assert_eq!(out.lines().count(), src.lines().count());
        assert!(out.ends_with("\n\n\n\nversions: []\n"), "{out:?}");
        assert_eq!(strip_sections("id: x\n", &["examples:"]), None);
        let lean = strip_sections(src, &["examples:", "docs:", "versions:"]).unwrap();
        assert_eq!(lean.trim(), "id: x");
        let (docs, versions) = prose(src).unwrap();
        assert_eq!((docs.summary.as_str(), versions.len()), ("s", 0));
    }
}
