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
    let stem = Path::new(path)
        .file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_string);
    match serde_saphyr::from_str::<RuleFile>(src) {
        Ok(file) => super::compile::compile(file, path, src, stem.as_deref()),
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

fn compile_all(files: Vec<(String, String)>) -> Result<RuleSet, LoadError> {
    let mut explains_line = std::collections::HashMap::new();
    for (path, text) in &files {
        if let Some(i) = text.lines().position(|l| l.starts_with("explains:")) {
            explains_line.insert(path.clone(), i as u32 + 1);
        }
    }
    let mut rules: Vec<Rule> = Vec::new();
    let mut errors = Vec::new();
    for (path, text) in files {
        match parse_rule(&text, &path) {
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
    // `explains` may name rules from any loaded file, so it is checked last.
    for r in &rules {
        for id in &r.explains {
            if !rules.iter().any(|o| &o.id == id) {
                let line = explains_line.get(&r.path).copied().unwrap_or(1);
                errors.push(RuleError {
                    path: r.path.clone(),
                    line,
                    column: 1,
                    field: "explains".into(),
                    message: format!("unknown rule id `{id}`"),
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(RuleSet { rules })
    } else {
        Err(LoadError::Invalid(errors))
    }
}

/// The rule pack compiled into the binary.
pub fn load_builtin() -> Result<RuleSet, LoadError> {
    let mut files = Vec::new();
    builtin_files(&BUILTIN, &mut files);
    files.sort();
    compile_all(files)
}

/// Built-in rules (unless `no_builtin`) plus every rule file under `dirs`.
pub fn load_rules(dirs: &[PathBuf], no_builtin: bool) -> Result<RuleSet, LoadError> {
    let mut files = Vec::new();
    if !no_builtin {
        builtin_files(&BUILTIN, &mut files);
        files.sort();
    }
    for d in dirs {
        user_files(d, &mut files)?;
    }
    compile_all(files)
}
