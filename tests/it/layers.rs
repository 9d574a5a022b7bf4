//! The house has no back stairs: a module imports only from its own layer or
//! the layers below it, never from a layer above.
//!
//! ```text
//! cli                                 the commands
//!  └─ engine                          matching, ranking, one diagnosis run
//!      └─ collect, report             where evidence comes from; how findings are shown
//!          └─ rules, facts, evidence  the rule pack; object facts; parsed evidence
//!              └─ glob, shell, suggest, util   leaves anyone may use
//! ```
//!
//! Every `use crate::…` and every `crate::…::` path in `src/**/*.rs` counts
//! (comments do not). A file's `#[cfg(test)]` tail and a `tests.rs` module do
//! not: a unit test may build its input with a higher layer (a facts test
//! reads YAML through the manifest loader) the way the integration tests here
//! use the whole crate.

use std::path::Path;

/// Module → layer; higher numbers sit higher in the house.
const LAYERS: &[(&str, u8)] = &[
    ("cli", 4),
    ("engine", 3),
    ("collect", 2),
    ("report", 2),
    ("rules", 1),
    ("facts", 1),
    ("evidence", 1),
    ("glob", 0),
    ("shell", 0),
    ("suggest", 0),
    ("util", 0),
];

/// Imports known to go upward, each with the reason it is still here. An
/// entry that no longer matches any import fails the test: delete it.
const KNOWN: &[(&str, &str, &str)] = &[];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// One import: the line it is on and the top-level module it names.
#[derive(Debug, PartialEq)]
struct Import {
    line: usize,
    module: String,
}

/// The top-level modules a file's code imports through `crate::`.
fn imports(text: &str) -> Vec<Import> {
    let mut out = Vec::new();
    // Inside `use crate::{ … };` (possibly over several lines): brace depth.
    let mut group: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        let code = t.split("//").next().unwrap_or(t);
        let mut rest = code;
        if let Some(depth) = group.as_mut() {
            // Names at depth 1 of the group are top-level modules.
            for name in group_names(rest, depth) {
                out.push(Import {
                    line: i + 1,
                    module: name,
                });
            }
            if *depth == 0 {
                group = None;
            }
            continue;
        }
        while let Some(p) = rest.find("crate::") {
            let after = &rest[p + "crate::".len()..];
            if let Some(inner) = after.strip_prefix('{') {
                let mut depth = 1;
                for name in group_names(inner, &mut depth) {
                    out.push(Import {
                        line: i + 1,
                        module: name,
                    });
                }
                if depth > 0 {
                    group = Some(depth);
                }
                break;
            }
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(Import {
                    line: i + 1,
                    module: name,
                });
            }
            rest = &after[after.len().min(1)..];
        }
    }
    out
}

/// Names that start a path at brace depth 1 of a `use crate::{…}` group;
/// updates `depth` as braces open and close.
fn group_names(text: &str, depth: &mut usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut at_start = *depth == 1;
    let mut word = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            if at_start && *depth == 1 && word != "self" {
                out.push(std::mem::take(&mut word));
            }
            word.clear();
            at_start = false;
        }
        match c {
            '{' => *depth += 1,
            '}' => *depth = depth.saturating_sub(1),
            ',' => at_start = *depth == 1,
            _ => {}
        }
        if *depth == 0 {
            break;
        }
    }
    out
}

/// `file:line: from (n) imports crate::to (m)` for every upward import.
fn violations(rel: &str, text: &str) -> Vec<(String, String)> {
    let from = rel.split('/').next().unwrap_or(rel).trim_end_matches(".rs");
    let Some(own) = layer(from) else {
        return Vec::new();
    };
    imports(text)
        .into_iter()
        .filter_map(|im| {
            let to = layer(&im.module)?;
            (to > own).then(|| {
                (
                    im.module.clone(),
                    format!(
                        "src/{rel}:{}: {from} (layer {own}) imports crate::{} (layer {to})",
                        im.line, im.module
                    ),
                )
            })
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_module_imports_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    let mut used = vec![false; KNOWN.len()];
    for f in &files {
        let rel = f
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel.ends_with("/tests.rs") || rel == "lib.rs" || rel == "main.rs" {
            continue;
        }
        let top = rel.split('/').next().unwrap_or("").trim_end_matches(".rs");
        if layer(top).is_none() {
            bad.push(format!(
                "src/{rel}: module `{top}` is not in the layer map (LAYERS)"
            ));
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        for (to, msg) in violations(&rel, &text) {
            match KNOWN.iter().position(|(k, m, _)| *k == rel && *m == to) {
                Some(k) => used[k] = true,
                None => bad.push(msg),
            }
        }
    }
    let stale: Vec<_> = KNOWN
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|((f, m, _), _)| format!("{f} → {m}"))
        .collect();
    assert!(
        files.len() > 50,
        "read only {} files under src/",
        files.len()
    );
    assert!(bad.is_empty(), "imports up the house:\n{}", bad.join("\n"));
    assert!(
        stale.is_empty(),
        "known exceptions that no longer occur (delete them from KNOWN): {stale:?}"
    );
}

#[test]
fn the_layer_check_sees_single_grouped_and_inline_paths_and_skips_comments_and_tests() {
    let text = "\
//! Docs naming [`crate::cli`] are not imports.
use crate::report::Finding;
use crate::{
    evidence::Item,
    engine::{Matcher, diagnosis::Diagnosis},
};
fn f() {
    let _ = crate::cli::explain::explain_text; // and crate::engine in a comment
}
#[cfg(test)]
mod tests {
    use crate::cli::Global;
}
";
    let mods: Vec<(usize, String)> = imports(text)
        .into_iter()
        .map(|i| (i.line, i.module))
        .collect();
    assert_eq!(
        mods,
        [
            (2, "report".to_string()),
            (4, "evidence".to_string()),
            (5, "engine".to_string()),
            (8, "cli".to_string()),
        ]
    );
    let v: Vec<String> = violations("report/sarif.rs", text)
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    assert_eq!(v, ["engine", "cli"]);
    assert!(violations("cli/check.rs", text).is_empty());
    assert!(violations("util.rs", "use crate::rules::Rule;").len() == 1);
}
