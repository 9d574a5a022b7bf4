//! The corpus test: `explain` on every labelled row of
//! `../shared/corpus/labels.tsv`, lines used exactly as they are.
//!
//! Prints a per-id table (hits in top 3 / total, false alarms) and fails below
//! 90 % top-3 over labelled rows, or when a `none` row yields any finding above
//! `info`.

use meshdoc::cli::explain::explain_text;
use meshdoc::evidence::{InputKind, Origin};
use meshdoc::rules::{Severity, load_builtin};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn corpus_dir() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    p.join("labels.tsv").exists().then_some(p)
}

struct Row {
    case: String,
    expected: Vec<String>,
    input: String,
    file: String,
}

fn unescape_tabs(s: &str) -> String {
    s.replace("\\t", "\t")
}

fn rows(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("labels.tsv")).expect("labels.tsv is readable");
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.splitn(7, '\t').collect();
        if cols.len() < 7 {
            continue;
        }
        let (case, expected, file, lineno, text) = (cols[0], cols[3], cols[4], cols[5], cols[6]);
        let rel = file.trim_start_matches("shared:");
        let path = dir.join(rel);
        let content = match std::fs::read(&path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => panic!("{case}: cannot read {}: {e}", path.display()),
        };
        let input = if text == "@file" {
            content
        } else if let Some(range) = text.strip_prefix("@file:") {
            let (a, b) = range.split_once('-').expect("range A-B");
            let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
            content
                .lines()
                .skip(a - 1)
                .take(b + 1 - a)
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            let n: usize = lineno.parse().expect("line number");
            let from_file = content.lines().nth(n - 1).unwrap_or_default().to_string();
            assert_eq!(
                from_file.trim_end_matches('\r'),
                unescape_tabs(text).trim_end_matches('\r'),
                "{case}: labels.tsv text differs from {rel}:{n}"
            );
            from_file
        };
        out.push(Row {
            case: case.to_string(),
            expected: expected.split('|').map(str::to_string).collect(),
            input,
            file: rel.to_string(),
        });
    }
    out
}

#[test]
fn explain_recognises_the_labelled_corpus() {
    let Some(dir) = corpus_dir() else {
        eprintln!("note: ../shared/corpus not present; corpus test skipped");
        return;
    };
    let rules = load_builtin().expect("built-in rules load");
    let mut per_id: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut alarms: BTreeMap<String, u32> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut alarm_rows = Vec::new();
    let (mut labelled, mut hit) = (0u32, 0u32);
    for row in rows(&dir) {
        let origin = Origin::file(row.file.clone(), None);
        let (report, _) = explain_text(&rules, &row.input, InputKind::Auto, &origin);
        let top: Vec<&str> = report
            .findings
            .iter()
            .take(3)
            .map(|f| f.id.as_str())
            .collect();
        if row.expected == ["none"] {
            let loud: Vec<&str> = report
                .findings
                .iter()
                .filter(|f| f.severity > Severity::Info)
                .map(|f| f.id.as_str())
                .collect();
            if !loud.is_empty() {
                for id in &loud {
                    *alarms.entry(id.to_string()).or_default() += 1;
                }
                alarm_rows.push(format!("{}: {}", row.case, loud.join(", ")));
            }
            continue;
        }
        if row.expected.iter().all(|e| e.starts_with("unlisted:")) {
            continue;
        }
        labelled += 1;
        let ok = row.expected.iter().any(|e| top.contains(&e.as_str()));
        if ok {
            hit += 1;
        } else {
            misses.push(format!(
                "{}: expected {} got [{}]",
                row.case,
                row.expected.join("|"),
                top.join(", ")
            ));
        }
        for e in &row.expected {
            let c = per_id.entry(e.clone()).or_default();
            c.1 += 1;
            if top.contains(&e.as_str()) {
                c.0 += 1;
            }
        }
    }
    println!(
        "{:<45} {:>10} {:>12}",
        "rule id", "top3/total", "false alarms"
    );
    let mut ids: Vec<&String> = per_id.keys().chain(alarms.keys()).collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        let (h, t) = per_id.get(id).copied().unwrap_or_default();
        println!(
            "{:<45} {:>10} {:>12}",
            id,
            format!("{h}/{t}"),
            alarms.get(id).copied().unwrap_or(0)
        );
    }
    let pct = 100.0 * f64::from(hit) / f64::from(labelled.max(1));
    println!(
        "\nlabelled rows: {labelled}, top-3 hits: {hit} ({pct:.1} %), false alarms on `none` rows: {}",
        alarm_rows.len()
    );
    for m in &misses {
        println!("miss  {m}");
    }
    for a in &alarm_rows {
        println!("alarm {a}");
    }
    assert!(pct >= 90.0, "top-3 accuracy {pct:.1} % is below 90 %");
    assert!(
        alarm_rows.is_empty(),
        "{} `none` rows raised findings above info",
        alarm_rows.len()
    );
}
