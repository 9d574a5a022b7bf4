//! Computes the required literals of every `match:` pattern of the built-in
//! rule pack once, at build time (see `src/rules/literals.rs`), with the same
//! code the binary runs for any other pattern.

#[path = "src/rules/required.rs"]
#[allow(dead_code)]
mod required;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=rules");
    println!("cargo:rerun-if-changed=src/rules/required.rs");
    let mut files = Vec::new();
    walk(Path::new("rules"), &mut files);
    let mut patterns: Vec<String> = files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(single_quoted_match)
                .collect::<Vec<_>>()
        })
        .collect();
    patterns.sort();
    patterns.dedup();
    let mut out = String::from(
        "/// `match:` pattern of the built-in pack -> its searched literals (sorted by pattern).\n\
         pub static BUILTIN_LITERALS: &[(&str, Option<&[&[u8]]>)] = &[\n",
    );
    for p in &patterns {
        let lits = match required::compute_searched_literals(p) {
            Some(l) => {
                let items: Vec<String> = l.iter().map(|b| format!("&{b:?}")).collect();
                format!("Some(&[{}])", items.join(", "))
            }
            None => "None".to_string(),
        };
        let _ = writeln!(out, "    ({p:?}, {lits}),");
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("builtin_literals.rs");
    std::fs::write(dest, out).expect("write builtin_literals.rs");
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
}

/// `    match: 'pattern'` (YAML single-quoted, `''` for a quote) on one line.
fn single_quoted_match(line: &str) -> Option<String> {
    let v = line.trim_start().strip_prefix("match: '")?;
    let v = v.trim_end().strip_suffix('\'')?;
    let mut out = String::new();
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            // Inside, a lone quote would have ended the scalar.
            if chars.next() != Some('\'') {
                return None;
            }
        }
        out.push(c);
    }
    Some(out)
}
