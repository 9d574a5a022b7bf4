//! The corpus test: `explain` on every labelled row of
//! `../shared/corpus/labels.tsv`, lines used exactly as they are.
//!
//! Prints a per-id table (hits in top 3 / total, false alarms) and fails below
//! 90 % top-3 over labelled rows, or when a `none` row yields any finding above
//! `info`.

use meshdoc::cli::explain::{explain_text, explain_text_or_words};
use meshdoc::evidence::{InputKind, Origin};
use meshdoc::rules::{Severity, load_builtin};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn corpus_dir() -> Option<PathBuf> {
    crate::support::shared::corpus()
}

#[derive(Clone)]
struct Row {
    case: String,
    /// The mesh the evidence comes from (`istio` or `linkerd`).
    mesh: String,
    expected: Vec<String>,
    input: String,
    file: String,
}

fn unescape_tabs(s: &str) -> String {
    s.replace("\\t", "\t")
}

fn rows(dir: &Path) -> Vec<Row> {
    labelled_rows(dir, &dir.join("labels.tsv"), "shared:")
}

/// The input a `labels.tsv` row names in its file's `content`: the whole
/// file (`@file`), a range (`@file:A-B`), or line `lineno`, checked against
/// the row's text (a tab written `\t`; a literal backslash as it is, or
/// doubled).
pub(crate) fn label_input(
    case: &str,
    rel: &str,
    content: String,
    text: &str,
    lineno: &str,
) -> String {
    if text == "@file" {
        return content;
    }
    if let Some(range) = text.strip_prefix("@file:") {
        let (a, b) = range.split_once('-').expect("range A-B");
        let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
        return content
            .lines()
            .skip(a - 1)
            .take(b + 1 - a)
            .collect::<Vec<_>>()
            .join("\n");
    }
    let n: usize = lineno.parse().expect("line number");
    let from_file = content.lines().nth(n - 1).unwrap_or_default().to_string();
    let line = from_file.trim_end_matches('\r');
    let text = text.trim_end_matches('\r');
    if line != text && line != text.replace("\\\\", "\\") {
        assert_eq!(
            line,
            unescape_tabs(text).trim_end_matches('\r'),
            "{case}: labels.tsv text differs from {rel}:{n}"
        );
    }
    from_file
}

/// Rows of one `labels.tsv`; `file` columns are `PREFIX` + a path under `dir`.
fn labelled_rows(dir: &Path, labels: &Path, prefix: &str) -> Vec<Row> {
    let text = std::fs::read_to_string(labels).expect("labels.tsv is readable");
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.splitn(7, '\t').collect();
        if cols.len() < 7 {
            continue;
        }
        let (case, expected, file, lineno, text) = (cols[0], cols[3], cols[4], cols[5], cols[6]);
        let rel = file.trim_start_matches(prefix);
        let path = dir.join(rel);
        let content = match std::fs::read(&path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => panic!("{case}: cannot read {}: {e}", path.display()),
        };
        let input = label_input(case, rel, content, text, lineno);
        out.push(Row {
            case: case.to_string(),
            mesh: cols[1].to_string(),
            expected: expected.split('|').map(str::to_string).collect(),
            input,
            file: rel.to_string(),
        });
    }
    out
}

/// What `explain` made of a set of labelled rows.
#[derive(Default)]
struct Score {
    labelled: u32,
    top3: u32,
    top1: u32,
    quiet: u32,
    per_id: BTreeMap<String, (u32, u32)>,
    alarms: BTreeMap<String, u32>,
    misses: Vec<String>,
    alarm_rows: Vec<String>,
    /// Labelled rows in the top 3 only by their words (`engine::words`).
    words_top3: u32,
    /// Quiet rows whose words named a cause (info, so no alarm).
    words_quiet: u32,
}

impl Score {
    fn pct(&self, n: u32) -> f64 {
        100.0 * f64::from(n) / f64::from(self.labelled.max(1))
    }

    /// Fails below these floors: top-3 and rank-1 rates in percent, and at
    /// most `alarms` quiet rows raising anything above info.
    fn assert_at_least(&self, name: &str, top3: f64, top1: f64, alarms: usize) {
        assert!(
            self.pct(self.top3) >= top3,
            "{name}: top-3 {:.1} % < {top3} %",
            self.pct(self.top3)
        );
        assert!(
            self.pct(self.top1) >= top1,
            "{name}: rank 1 {:.1} % < {top1} %",
            self.pct(self.top1)
        );
        assert!(
            self.alarm_rows.len() <= alarms,
            "{name}: {} false alarms on quiet rows (at most {alarms})",
            self.alarm_rows.len()
        );
    }

    /// One line of figures, as the README quotes them.
    fn summary(&self, name: &str) -> String {
        format!(
            "{name}: labelled {}, top-3 {} ({:.1} %), rank 1 {} ({:.1} %), quiet {}, false alarms {}",
            self.labelled,
            self.top3,
            self.pct(self.top3),
            self.top1,
            self.pct(self.top1),
            self.quiet,
            self.alarm_rows.len()
        ) + &format!(
            "; by words only: top-3 {}, quiet rows named {}",
            self.words_top3, self.words_quiet
        )
    }

    fn print(&self, title: &str) {
        println!("== {title}");
        println!(
            "{:<45} {:>10} {:>12}",
            "rule id", "top3/total", "false alarms"
        );
        let mut ids: Vec<&String> = self.per_id.keys().chain(self.alarms.keys()).collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            let (h, t) = self.per_id.get(id).copied().unwrap_or_default();
            println!(
                "{:<45} {:>10} {:>12}",
                id,
                format!("{h}/{t}"),
                self.alarms.get(id).copied().unwrap_or(0)
            );
        }
        println!(
            "\nlabelled rows: {}, top-3: {} ({:.1} %), rank 1: {} ({:.1} %), quiet rows: {}, false alarms: {}",
            self.labelled,
            self.top3,
            self.pct(self.top3),
            self.top1,
            self.pct(self.top1),
            self.quiet,
            self.alarm_rows.len()
        );
        for m in &self.misses {
            println!("miss  {m}");
        }
        for a in &self.alarm_rows {
            println!("alarm {a}");
        }
    }
}

fn evaluate(rules: &meshdoc::rules::RuleSet, rows: &[Row]) -> Score {
    let mut sc = Score::default();
    for row in rows {
        let origin = Origin::file(row.file.clone(), None);
        let (report, _) = explain_text_or_words(rules, &row.input, InputKind::Auto, &origin);
        let by_words = report.notes.iter().any(|n| n.contains("text's words"));
        let top: Vec<&str> = report
            .findings
            .iter()
            .take(3)
            .map(|f| f.id.as_str())
            .collect();
        if row.expected == ["none"] {
            sc.quiet += 1;
            sc.words_quiet += u32::from(by_words);
            let loud: Vec<&str> = report
                .findings
                .iter()
                .filter(|f| f.severity > Severity::Info)
                .map(|f| f.id.as_str())
                .collect();
            if !loud.is_empty() {
                for id in &loud {
                    *sc.alarms.entry(id.to_string()).or_default() += 1;
                }
                sc.alarm_rows
                    .push(format!("{}: {}", row.case, loud.join(", ")));
            }
            continue;
        }
        if row.expected.iter().all(|e| e.starts_with("unlisted:")) {
            continue;
        }
        sc.labelled += 1;
        if row.expected.iter().any(|e| top.contains(&e.as_str())) {
            sc.top3 += 1;
            sc.words_top3 += u32::from(by_words);
        } else {
            sc.misses.push(format!(
                "{}: expected {} got [{}]",
                row.case,
                row.expected.join("|"),
                top.join(", ")
            ));
        }
        if top
            .first()
            .is_some_and(|t| row.expected.iter().any(|e| e == t))
        {
            sc.top1 += 1;
        }
        for e in &row.expected {
            let c = sc.per_id.entry(e.clone()).or_default();
            c.1 += 1;
            if top.contains(&e.as_str()) {
                c.0 += 1;
            }
        }
    }
    sc
}

#[test]
fn explain_recognises_the_labelled_corpus() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let rules = load_builtin().expect("built-in rules load");
    let sc = evaluate(&rules, &rows(&dir));
    sc.print("../shared/corpus");
    let pct = sc.pct(sc.top3);
    assert!(pct >= 90.0, "top-3 accuracy {pct:.1} % is below 90 %");
    assert!(
        sc.alarm_rows.is_empty(),
        "{} `none` rows raised findings above info",
        sc.alarm_rows.len()
    );
}

/// The blind set: real inputs labelled and committed before meshdoc ever
/// ran on them (`tests/corpus-blind/*/labels.tsv`, provenance per folder).
#[test]
fn explain_recognises_the_blind_set() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus-blind");
    // Round 1: the folders labelled before the first run (commit 030d5f2).
    let parts: Vec<PathBuf> = ["istio-access", "istio-logs", "linkerd"]
        .iter()
        .map(|f| dir.join(f).join("labels.tsv"))
        .collect();
    let rules = disk_rules();
    let (mut dev, mut held) = (Vec::new(), Vec::new());
    for labels in &parts {
        let rows = labelled_rows(&dir, labels, "blind:");
        // Every third source file of a folder (sorted by name, from the
        // third) was held out until round 3 was collected; both parts are
        // still scored apart so the history of the figures reads on.
        let mut files: Vec<String> = rows.iter().map(|r| r.file.clone()).collect();
        files.sort();
        files.dedup();
        for r in rows {
            let i = files.iter().position(|f| *f == r.file).unwrap_or(0);
            if i % 3 == 2 {
                held.push(r);
            } else {
                dev.push(r);
            }
        }
    }
    let sc_dev = evaluate(&rules, &dev);
    sc_dev.print("tests/corpus-blind (working part: misses shown)");
    let sc_held = evaluate(&rules, &held);
    sc_held.print("tests/corpus-blind (held-out third, released)");
    let mut all = dev;
    all.extend(held);
    let sc = evaluate(&rules, &all);
    for (name, s) in [("working", &sc_dev), ("held-out", &sc_held), ("all", &sc)] {
        println!("{}", s.summary(&format!("BLIND {name}")));
    }
    // Quiet rows that raise an error-severity finding. One is a label this
    // project disagrees with: bl-ld-8867-1 (`linkerd_stack::failfast: … has
    // become unavailable`) is labelled quiet, while ../shared/corpus labels
    // the same message linkerd-fail-fast (ld-failfast-11055-1) and so does the
    // vocabulary. The other, bl-ld-4905-1 (`DNS refinement timed out`), is
    // the vocabulary's linkerd-control-plane-unreachable.
    sc.assert_at_least("blind round 1", 97.0, 90.0, 2);
}

mod vocab;

/// Rules read from `rules/` on disk, so that editing a rule file and re-running
/// this test binary needs no rebuild.
fn disk_rules() -> meshdoc::rules::RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    meshdoc::rules::load_rules_lean(&[dir], true).expect("rules/ loads")
}

#[test]
fn every_vocabulary_row_is_recognised_in_every_shape() {
    let Some(dir) = vocab::vocab_dir() else {
        return;
    };
    let rules = disk_rules();
    let only = std::env::var("MESHDOC_VOCAB_ONLY").ok();
    let (fails, tally) = vocab::run(&rules, &dir, only.as_deref());
    println!(
        "{:<60} {:>6} {:>7} {:>6} {:>6}",
        "table:shape", "cases", "raised", "top3", "top1"
    );
    let mut all = vocab::Tally::default();
    for (k, t) in &tally {
        println!(
            "{k:<60} {:>6} {:>7} {:>6} {:>6}",
            t.cases, t.raised, t.top3, t.top1
        );
        all.cases += t.cases;
        all.raised += t.raised;
        all.top3 += t.top3;
        all.top1 += t.top1;
    }
    println!(
        "all: {} cases, raised {}, top3 {}, top1 {}; {} failures",
        all.cases,
        all.raised,
        all.top3,
        all.top1,
        fails.len()
    );
    if let Ok(out) = std::env::var("MESHDOC_VOCAB_OUT") {
        std::fs::write(out, fails.join("\n")).unwrap();
    }
    for f in fails.iter().take(40) {
        println!("{f}");
    }
    assert!(fails.is_empty(), "{} vocabulary cases failed", fails.len());
}

/// Every one-line rule example, wrapped the way collectors wrap lines: a
/// firing example still raises its rule, a quiet one still does not.
#[test]
fn every_rule_example_is_recognised_in_every_collector_shape() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let rules = meshdoc::rules::load_rules(&[dir], true).expect("rules/ loads");
    let mut fails = Vec::new();
    let mut cases = 0;
    for rule in &rules.rules {
        let container = match rule.mesh {
            meshdoc::rules::Mesh::Linkerd => "linkerd-proxy",
            _ => "istio-proxy",
        };
        for ex in &rule.examples {
            let Some(input) = ex.input.as_deref() else {
                continue;
            };
            let line = input.trim();
            // Bare symptoms (`503`, `UF`) and multi-line blocks are not log lines.
            if line.contains('\n') || ex.objects.is_some() || line.len() < 12 {
                continue;
            }
            for (shape, text) in vocab::wrappers(line, container).into_iter().skip(1) {
                cases += 1;
                let got = vocab::raised(&rules, &text);
                let pos = got.iter().position(|(id, _)| *id == rule.id);
                let ok = match ex.expect {
                    meshdoc::rules::schema::Expect::Fire => pos.is_some(),
                    meshdoc::rules::schema::Expect::Quiet => pos.is_none(),
                };
                if !ok {
                    fails.push(format!(
                        "{} / {} [{shape}] expect {:?}, got [{}]",
                        rule.id,
                        ex.name,
                        ex.expect,
                        got.iter()
                            .map(|g| g.0.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
    }
    println!("{cases} wrapped rule examples, {} failures", fails.len());
    for f in &fails {
        println!("{f}");
    }
    assert!(
        fails.is_empty(),
        "{} wrapped rule examples failed",
        fails.len()
    );
}

/// Evidence that names its mesh never ranks the other mesh's causes; with
/// no mesh named, both stay candidates.
#[test]
fn the_evidence_decides_the_mesh() {
    let rules = disk_rules();
    let meshes = |input: &str| -> Vec<String> {
        vocab::raised(&rules, input)
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    };
    let linkerd = |ids: &[String]| ids.iter().any(|i| i.starts_with("linkerd-"));
    let istio = |ids: &[String]| {
        ids.iter()
            .any(|i| i.starts_with("envoy-") || i.starts_with("istio-"))
    };
    // Envoy answered: ext_authz's empty 403, an RBAC body, a reset body.
    for input in [
        "< HTTP/1.1 403 Forbidden\n< date: Wed, 01 May 2024 10:00:00 GMT\n< server: envoy\n< content-length: 0\n<\n",
        "< HTTP/1.1 403 Forbidden\n< content-length: 19\n< content-type: text/plain\n< server: istio-envoy\n<\nRBAC: access denied\n",
        "< HTTP/1.1 503 Service Unavailable\n< content-length: 91\n< server: envoy\n<\nupstream connect error or disconnect/reset before headers. reset reason: connection failure\n",
        "< HTTP/2 504\n< x-envoy-upstream-service-time: 15001\n< server: envoy\n<\n",
    ] {
        let ids = meshes(input);
        assert!(istio(&ids), "{input:?}: {ids:?}");
        assert!(!linkerd(&ids), "{input:?} named Envoy but got {ids:?}");
    }
    // Linkerd answered.
    for input in [
        "< HTTP/1.1 503 Service Unavailable\n< l5d-proxy-error: logical service payments.shop.svc.cluster.local:8080: service in fail-fast\n< content-length: 0\n<\n",
        "[  12.3s]  WARN ThreadId(01) outbound:proxy{addr=10.96.0.1:80}: linkerd_app_core::errors::respond: Request failed error=connect timed out after 1s",
    ] {
        let ids = meshes(input);
        assert!(linkerd(&ids), "{input:?}: {ids:?}");
        assert!(!istio(&ids), "{input:?} named Linkerd but got {ids:?}");
    }
    // Nothing names a mesh: both stay candidates.
    let ids = meshes("503");
    assert!(linkerd(&ids) && istio(&ids), "503: {ids:?}");
}

/// The rows of one blind round: every `tests/corpus-blind/<round>-<part>`
/// folder (`-istio`, `-linkerd`, and parts split by source kind such as
/// `-pages`), in name order.
fn blind_round(round: &str) -> Vec<Row> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus-blind");
    let mut all = Vec::new();
    for part in round_parts(&dir, round) {
        // A round is merged one part at a time; a part not yet merged is absent.
        let labels = dir.join(&part).join("labels.tsv");
        if labels.exists() {
            all.extend(labelled_rows(&dir, &labels, "blind:"));
        }
    }
    all
}

/// The folders of one round, `<round>-<part>`, sorted.
fn round_parts(dir: &Path, round: &str) -> Vec<String> {
    let prefix = format!("{round}-");
    let mut parts: Vec<String> = std::fs::read_dir(dir)
        .expect("tests/corpus-blind is readable")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(&prefix))
        .collect();
    parts.sort();
    parts
}

/// Scores a blind round, printing each part's figures and the whole; the
/// misses only of a round released to the working set (a held-out round's
/// misses are never shown).
fn score_round(rules: &meshdoc::rules::RuleSet, round: &str, all: &[Row], released: bool) -> Score {
    let name = round.to_uppercase();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus-blind");
    for part in round_parts(&dir, round) {
        let rows: Vec<Row> = all
            .iter()
            .filter(|r| r.file.starts_with(&format!("{part}/")))
            .cloned()
            .collect();
        println!(
            "{}",
            evaluate(rules, &rows).summary(&format!("{name} {part}"))
        );
    }
    for mesh in ["istio", "linkerd"] {
        let rows: Vec<Row> = all.iter().filter(|r| r.mesh == mesh).cloned().collect();
        println!(
            "{}",
            evaluate(rules, &rows).summary(&format!("{name} {mesh} (all parts)"))
        );
    }
    let sc = evaluate(rules, all);
    if released {
        sc.print(&format!(
            "tests/corpus-blind {round} (released to the working set)"
        ));
    }
    println!("{}", sc.summary(&format!("{name} all")));
    sc
}

/// The second blind round (`tests/corpus-blind/round2-*`), collected after the
/// fixes of the first round and labelled before meshdoc ran on it. It was held
/// out whole until round 3 was collected; now its misses print too.
#[test]
fn explain_recognises_the_second_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round2"));
    let sc = score_round(&rules, "round2", &all, true);
    // First run (commit 680349c): 84.1 % top 3, 79.3 % rank 1, 2 of 108
    // quiet rows raised; released and fixed: 98.8 %, 91.5 %, 0. Floors, so a
    // change that loses recognition fails.
    sc.assert_at_least("blind round 2", 97.0, 88.0, 0);
}

/// The third blind round (`tests/corpus-blind/round3-*`), collected after
/// rounds 1 and 2 were released to the working set, labelled and committed
/// (584fa29) before meshdoc ran on it. Held out whole for its first run,
/// then released to the working set when round 4 was commissioned.
#[test]
fn explain_recognises_the_third_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round3"));
    let sc = score_round(&rules, "round3", &all, true);
    // First run (meshdoc at the merge of 584fa29): 74.2 % top 3, 68.2 %
    // rank 1, 4 of 123 quiet rows raised; released and fixed: 97.0 %,
    // 87.9 %, 0.
    sc.assert_at_least("blind round 3", 95.0, 85.0, 0);
}

/// The fourth blind round (`tests/corpus-blind/round4-*`), collected while
/// round 3 was being learnt from, labelled and committed (84b7ad0) before
/// meshdoc ran on it. Held out whole for its first run, released to the
/// working set when round 5 was commissioned.
#[test]
fn explain_recognises_the_fourth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round4"));
    let sc = score_round(&rules, "round4", &all, true);
    // First run (meshdoc at the merge of 84b7ad0): 75.0 % top 3, 72.7 %
    // rank 1, 0 of 62 quiet rows raised (Istio 92.6 %, Linkerd 47.1 %);
    // released and fixed: 100 %, 90.9 %, 0.
    sc.assert_at_least("blind round 4", 97.0, 88.0, 0);
}

/// The fifth blind round (`tests/corpus-blind/round5-*`), collected while
/// round 4 was being learnt from, labelled and committed (6ee573f) before
/// meshdoc ran on it. Held out whole for its first run, released to the
/// working set when round 6 was commissioned.
#[test]
fn explain_recognises_the_fifth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round5"));
    let sc = score_round(&rules, "round5", &all, true);
    // Half of its Linkerd sources are Linkerd 1.x (Finagle, namerd): a
    // different proxy, end of life since 2020, whose messages the catalog
    // was never written for. Scored apart, figures only.
    let one_x = |r: &Row| {
        let f = r.file.rsplit('/').next().unwrap_or("");
        f.starts_with("linkerd1-") || f.starts_with("linkerd-examples-")
    };
    let (v1, v2): (Vec<Row>, Vec<Row>) = all.into_iter().partition(one_x);
    println!(
        "{}",
        evaluate(&rules, &v1).summary("ROUND5 Linkerd 1.x sources")
    );
    println!("{}", evaluate(&rules, &v2).summary("ROUND5 other sources"));
    // First run (meshdoc at the merge of 6ee573f): 29.7 % top 3 and rank 1,
    // 2 of 46 quiet rows raised; Linkerd 1.x sources 0 of 19, the others
    // 11 of 18 (61.1 %). Released and fixed: 78.4 %, 78.4 %, 2 (b5-ld-5605
    // is a label this project disagrees with: the vocabulary maps `Could not
    // detect protocol` to the detect-timeout cause).
    // b5-ld-p6785-1 (a `viz stat srv` table of emojivoto, labelled quiet)
    // raises linkerd-503-from-application since round 10: its voting and web
    // rows fail 10-20 % of their requests, which emojivoto's own code does by
    // design - the application's errors, as meshdoc says.
    sc.assert_at_least("blind round 5", 78.0, 78.0, 3);
}

/// The sixth blind round (`tests/corpus-blind/round6-*`, Linkerd 2.x and
/// Istio/Envoy only), collected while round 5 was being learnt from,
/// labelled and committed (e178086) before meshdoc ran on it. Held out
/// whole for its first run, released to the working set when round 7 was
/// commissioned.
#[test]
fn explain_recognises_the_sixth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round6"));
    let sc = score_round(&rules, "round6", &all, true);
    // First run (meshdoc at the merge of e178086): 75.0 % top 3 and rank 1,
    // 1 of 19 quiet rows raised (Istio 66.7 %, Linkerd 2.x 87.5 %). Released
    // and fixed: 100 %, 100 %, 1 (b6-ld-5570-1 is a label this project
    // disagrees with: the vocabulary maps the proxy's `service has become
    // unavailable` to fail-fast).
    sc.assert_at_least("blind round 6", 95.0, 95.0, 1);
}

/// The seventh blind round (`tests/corpus-blind/round7-*`), collected while
/// round 6 was being learnt from, labelled and committed before meshdoc ran
/// on it. Held out whole for its first run, released to the working set
/// when round 8 was commissioned.
#[test]
fn explain_recognises_the_seventh_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round7"));
    let sc = score_round(&rules, "round7", &all, true);
    // First run of each part, at the merge of its labels: Istio (61032e6)
    // 94.6 % top 3, 92.9 % rank 1, 0 of 47 quiet rows raised; Linkerd
    // (609517e) 64.3 %, 50.0 %, 1 of 69. The whole round: 88.6 %, 84.3 %,
    // 1 of 116. Released and fixed: 100 %, 94.3 %, 0.
    sc.assert_at_least("blind round 7", 97.0, 90.0, 0);
}

/// The eighth blind round (`tests/corpus-blind/round8-*`), collected while
/// round 7 was being learnt from, labelled and committed before meshdoc ran
/// on it. Held out whole for its first run, released to the working set
/// when round 9 was commissioned.
#[test]
fn explain_recognises_the_eighth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round8"));
    let sc = score_round(&rules, "round8", &all, true);
    // First run of each part, at the merge of its labels: Istio (97394b0)
    // 64.4 % top 3, 59.3 % rank 1, 0 of 48 quiet rows raised; Linkerd
    // (429d690) 86.1 %, 83.3 %, 0 of 45. The whole round: 72.6 %, 68.4 %,
    // 0 of 93. Released and fixed: 100 %, 95.8 %, 0.
    sc.assert_at_least("blind round 8", 97.0, 92.0, 0);
}

/// The ninth blind round (`tests/corpus-blind/round9-*`), collected while
/// round 8 was being learnt from, labelled and committed before meshdoc ran
/// on it. Held out whole for its first run, released to the working set
/// when round 10 was commissioned.
#[test]
fn explain_recognises_the_ninth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round9"));
    let sc = score_round(&rules, "round9", &all, true);
    // First run of each part, at the merge of its labels: Istio (49b9aa6)
    // 62.5 % top 3, 62.5 % rank 1, 0 of 29 quiet rows raised; Linkerd
    // (d3703ec) 61.8 %, 55.9 %, 1 of 63. The whole round: 62.2 %, 59.8 %,
    // 1 of 92. Released and fixed: 92.7 %, 87.8 %, 0 (b9-ld-7079-1/2 and
    // b9-ld-11333-1 are labels this project disagrees with: the serve side's
    // `Connection closed … before message completed` is the client hanging
    // up, as round 3 labelled it).
    sc.assert_at_least("blind round 9", 90.0, 85.0, 0);
}

/// The tenth blind round (`tests/corpus-blind/round10-*`), collected while
/// round 9 was being learnt from, labelled and committed before meshdoc ran
/// on it. Held out whole for its first run, then released to the working
/// set (no later round was collected in this stop).
#[test]
fn explain_recognises_the_tenth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round10"));
    let sc = score_round(&rules, "round10", &all, true);
    // First run of each part, at the merge of its labels: Istio (c0b20f2)
    // 64.9 % top 3, 62.2 % rank 1, 0 of 42 quiet rows raised; Linkerd
    // (ed71430) 37.5 %, 37.5 % (3 of 8), 0 of 29. The whole round: 60.0 %,
    // 57.8 %, 0 of 71. Released and fixed: 97.8 %, 95.6 %, 0 (the one miss,
    // b10-ld-6249-1, is the serve-side `Connection closed` this project reads
    // as the client hanging up).
    // Stop 24: rows labelled istio-proxy-not-ready whose evidence is a
    // rejected push (`config received from XDS server, but was rejected`,
    // `lds updates: 0 successful, 1 rejected`) now rank
    // envoy-xds-config-rejected first, which refines that cause; the labels
    // stand and the proxy-not-ready finding is second.
    sc.assert_at_least("blind round 10", 95.0, 91.0, 0);
}

/// The eleventh blind round (`tests/corpus-blind/round11-*`), collected
/// while round 10 was being learnt from, labelled and committed before
/// meshdoc ran on it. Held out whole for its first run, then released to
/// the working set (the last round collected in this stop).
#[test]
fn explain_recognises_the_eleventh_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round11"));
    let sc = score_round(&rules, "round11", &all, true);
    // First run of each part, at the merge of its labels: Linkerd (42e1b84)
    // 8.7 % top 3 and rank 1 (2 of 23, most of them issue titles), 0 of 22
    // quiet rows raised; Istio (11ebe01) 64.3 %, 62.5 %, 0 of 58. The whole
    // round: 48.1 %, 46.8 %, 0 of 80. Released and fixed: 86.1 %, 83.5 %, 0.
    sc.assert_at_least("blind round 11", 84.0, 81.0, 0);
}

/// Comma-separated flag lists are one query; the flag that says what failed
/// decides, URX only qualifies it. A flag alone names the cause Envoy's
/// definition of it says (`UR` is UpstreamRemoteReset, not the broader
/// connection termination).
#[test]
fn flag_lists_rank_the_failing_flag_first() {
    let rules = load_builtin().expect("built-in rules load");
    for (q, first) in [
        ("UF,URX", "envoy-upstream-connect-failure"),
        ("UH,URX", "envoy-no-healthy-upstream"),
        ("UC,URX", "envoy-upstream-connection-termination"),
        ("DC,UF", "envoy-upstream-connect-failure"),
        ("503 UH", "envoy-no-healthy-upstream"),
        // One flag alone: the cause Envoy's own name for it says.
        ("UR", "envoy-upstream-remote-reset"),
        ("UC", "envoy-upstream-connection-termination"),
        ("UF", "envoy-upstream-connect-failure"),
        ("UO", "envoy-upstream-overflow"),
        ("UT", "envoy-upstream-timeout"),
        ("NR", "envoy-no-route"),
        ("NC", "istio-virtualservice-subset-undefined"),
        ("RL", "envoy-rate-limited"),
        ("FI", "envoy-fault-injected"),
        ("UAEX", "envoy-ext-authz-denied"),
        ("UPE", "envoy-upstream-protocol-error"),
        ("DC", "envoy-downstream-disconnect"),
    ] {
        let (report, _) = explain_text(&rules, q, InputKind::Auto, &Origin::Arg);
        assert_eq!(
            report.findings.first().map(|f| f.id.as_str()),
            Some(first),
            "explain {q}"
        );
    }
}

/// What the evidence names fills the commands: an `l5d-proxy-error` naming
/// `payments.shop.svc.cluster.local:8080` leaves no `<service>`,
/// `<namespace>` or `<port>` open.
#[test]
fn commands_take_the_service_the_evidence_names() {
    let rules = load_builtin().expect("built-in rules load");
    let (report, _) = explain_text(
        &rules,
        "l5d-proxy-error: logical service payments.shop.svc.cluster.local:8080: service in fail-fast",
        InputKind::Auto,
        &Origin::Arg,
    );
    let f = &report.findings[0];
    assert_eq!(f.id, "linkerd-fail-fast");
    let commands: Vec<&str> = f
        .confirm
        .iter()
        .chain(&f.fix)
        .filter_map(|s| s.command.as_deref())
        .collect();
    assert!(
        commands
            .iter()
            .any(|c| c.contains("payments.shop.svc.cluster.local:8080"))
    );
    for c in &commands {
        for open in ["<service>", "<namespace>", "<port>"] {
            assert!(!c.contains(open), "{open} left open in `{c}`");
        }
    }
}

/// Every file under `dir` (recursively), in path order.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Findings (every field, as JSON) and read counts of one bulk scan.
fn scan_findings(
    scanner: &meshdoc::engine::scan::Scanner,
    rules: &meshdoc::rules::RuleSet,
    bytes: &[u8],
) -> (serde_json::Value, u64) {
    let mut m = meshdoc::engine::Matcher::new(rules);
    let st = scanner
        .scan(bytes, InputKind::Auto, &Origin::Arg, &mut m)
        .expect("scan of a byte slice");
    let findings = serde_json::to_value(m.finish()).expect("findings serialise");
    (findings, st.lines)
}

/// The scan's fast path for access lines no rule can act on
/// (`src/engine/quiet.rs`) must not change a single finding: every file of
/// the shared corpus and of the blind set, and the generated shape of an
/// istio-proxy log (healthy lines in every layout around each corpus access
/// line), scanned with and without it.
#[test]
fn scan_fast_path_changes_no_finding() {
    use meshdoc::engine::scan::Scanner;
    let rules = load_builtin().expect("built-in rules");
    let fast = Scanner::new(&rules);
    let slow = Scanner::without_fast_path(&rules);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    files_under(&root.join("../shared/corpus"), &mut files);
    files_under(&root.join("tests/corpus-blind"), &mut files);
    let healthy = [
        r#"[2024-05-01T10:00:00.000Z] "GET /api/v1/orders HTTP/1.1" 200 - via_upstream - "-" 0 135 4 4 "-" "curl/8.4.0" "84961386-6d84-929d-98bd-c5aee93b5c88" "svc.shop.svc.cluster.local:8080" "10.44.1.27:8080" outbound|8080||svc.shop.svc.cluster.local 10.44.1.23:37652 10.96.45.184:8080 10.44.1.23:46520 - default"#,
        r#""POST /v1/pay HTTP/2" 201 - via_upstream - "-" 503 77 9 8 "-" "okhttp/4.12.0" "0ac1" "pay:8080" "10.44.1.9:8080" outbound|8080||pay.shop.svc.cluster.local 10.44.1.23:37652 10.96.45.1:8080 10.44.1.23:46520 - default"#,
        r#"[2020-10-08T14:48:48.231Z] "POST /email HTTP/1.1" 200 - "-" "-" 0 0 0 - "10.9.3.98" "PostmanRuntime/7.26.5" "22a11ab3" "c4.com.br" "10.9.3.5:80" outbound|80||c4 10.9.3.53:8080 10.9.3.98:23 - default"#,
        r#"[2024-05-01T10:00:00.000Z] "- - -" 0 - - - "-" 1532 6821 10002 - "-" "-" "-" "-" "10.44.1.30:3306" outbound|3306||mysql.db.svc.cluster.local 10.44.1.23:47890 10.96.3.4:3306 10.44.1.23:47888 - -"#,
        r#"{"start_time":"2024-05-01T10:00:00.000Z","method":"GET","path":"/","protocol":"HTTP/1.1","response_code":200,"response_flags":"-","response_code_details":"via_upstream","bytes_received":0,"upstream_cluster":"outbound|8080||web.default.svc.cluster.local","user_agent":"curl/8.4.0"}"#,
    ]
    .join("\n");
    let mut compared = 0;
    for f in &files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        let name = f.strip_prefix(root).unwrap_or(f).display().to_string();
        let a = scan_findings(&fast, &rules, &bytes);
        let b = scan_findings(&slow, &rules, &bytes);
        assert_eq!(a, b, "{name}: the fast path changed the findings");
        // The same file's lines among healthy access lines.
        let text = String::from_utf8_lossy(&bytes);
        let mixed: String = text.lines().map(|l| format!("{healthy}\n{l}\n")).collect();
        let a = scan_findings(&fast, &rules, mixed.as_bytes());
        let b = scan_findings(&slow, &rules, mixed.as_bytes());
        assert_eq!(
            a, b,
            "{name} among healthy lines: the fast path changed the findings"
        );
        compared += 1;
    }
    assert!(compared > 300, "only {compared} corpus files compared");
}

/// The twelfth blind round (`tests/corpus-blind/round12-*`: Istio and
/// Linkerd issue threads, and a part from docs pages, vendor workshops and
/// blogs with both meshes), collected at the start of stop 20 and labelled
/// and committed before meshdoc ran on it. Held out whole for its first
/// run, released when round 13 was collected.
#[test]
fn explain_recognises_the_twelfth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round12"));
    let sc = score_round(&rules, "round12", &all, true);
    // First run, at the merge of all three parts' labels (665d527): 73.4 %
    // top 3, 67.9 % rank 1, 0 of 119 quiet rows raised; Istio 79.4 % /
    // 73.5 % (68 labelled), Linkerd 63.4 % / 58.5 % (41); by part: issue
    // threads Istio 81.2 %, Linkerd 56.7 %, docs/blogs 77.4 %. Released
    // and fixed: 90.8 %, 81.7 %, 0 (92.7 %, 83.5 % after round 13's
    // fixes). Labels this project disagrees with:
    // b12-is-kubeflow5271-1/2 (`1/1 Running` rows: no line says the sidecar
    // is missing) and b12-is-istio58349-1 (a bare `SSL_ERROR_SYSCALL`).
    sc.assert_at_least("blind round 12", 91.0, 82.0, 0);
}

/// The thirteenth blind round (`tests/corpus-blind/round13-*`: Istio and
/// Linkerd issue threads, and a part from docs pages, workshops and blogs
/// with both meshes), collected while round 12 was being learnt from,
/// labelled and committed before meshdoc ran on it. Held out whole for its
/// first run, then released.
#[test]
fn explain_recognises_the_thirteenth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round13"));
    let sc = score_round(&rules, "round13", &all, true);
    // First run, at the merge of all three parts' labels (2ab49f8): 52.1 %
    // top 3, 49.0 % rank 1, 1 of 125 quiet rows raised; Istio 56.1 % /
    // 51.5 % (66 labelled), Linkerd 43.3 % / 43.3 % (30); by part: issue
    // threads Istio 53.7 %, Linkerd 36.4 %, docs/blogs 60.6 %. Released
    // and fixed: 83.3 %, 75.0 %, 0. Labels this project disagrees with (the
    // line alone does not show the cause): b13-is-istio42288-1 (a title
    // asking how to debug), b13-is-envoy4124-1 (a routine async-client
    // debug line), b13-pg-egcb-2 (a `hey` latency histogram), b13-pg-egfo-2
    // (a `jq` parse error).
    // Stop 24: rows labelled istio-proxy-not-ready whose evidence is a
    // rejected push (`config received from XDS server, but was rejected`,
    // `lds updates: 0 successful, 1 rejected`) now rank
    // envoy-xds-config-rejected first, which refines that cause; the labels
    // stand and the proxy-not-ready finding is second.
    sc.assert_at_least("blind round 13", 82.0, 73.0, 0);
}

/// The fourteenth blind round (`tests/corpus-blind/round14-*`: Istio/Envoy
/// issue threads, and a part from workshops, docs pages and blogs with both
/// meshes; no Linkerd issue-thread part, the public threads being used up),
/// collected while round 13 was being learnt from, labelled and committed
/// before meshdoc ran on it. Held out whole for its first run, then
/// released when round 15 was collected.
#[test]
fn explain_recognises_the_fourteenth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round14"));
    let sc = score_round(&rules, "round14", &all, true);
    // First run, at the merge of both parts' labels (b4046c3): 70.8 % top 3,
    // 63.1 % rank 1, 1 of 78 quiet rows raised; Istio/Envoy 70.0 % / 61.7 %
    // (60 labelled), Linkerd 4 of 5; by part: issue threads 81.2 %, docs and
    // workshops 60.6 %. Released and fixed: 86.2 %, 76.9 %, 1. The alarm,
    // b14-is-istioinaction2-3, is a label this project disagrees with: an
    // ADS stream closed with `14, no healthy upstream` says the proxy could
    // not reach istiod at all (unlike `14, transport is closing`, the server
    // closing the stream, which stays quiet).
    sc.assert_at_least("blind round 14", 85.0, 76.0, 1);
}

/// The fifteenth blind round (`tests/corpus-blind/round15-*`: Istio/Envoy
/// issue threads, Kuma among them, and a part from workshops, docs pages and
/// blogs with both meshes), collected while round 14 was being learnt from,
/// labelled and committed before meshdoc ran on it. Held out whole for its
/// first run, then released when round 16 was collected.
#[test]
fn explain_recognises_the_fifteenth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round15"));
    let sc = score_round(&rules, "round15", &all, true);
    // First run, at the merge of both parts' labels (fca5c98): 80.6 % top 3,
    // 72.6 % rank 1, 1 of 69 quiet rows raised; Istio/Envoy 80.0 % / 72.7 %
    // (55 labelled), Linkerd 6 of 7; by part: issue threads 83.9 %, docs and
    // workshops 77.4 %. Released and fixed: 98.4 %, 90.3 %, 0.
    sc.assert_at_least("blind round 15", 97.0, 89.0, 0);
}

/// The sixteenth blind round (`tests/corpus-blind/round16-mixed`: Envoy-based
/// products' threads, Kuma most of all, and a few Linkerd rows), collected
/// while round 15 was being learnt from, labelled and committed before
/// meshdoc ran on it. Held out whole for its first run, then released (the
/// last round of stop 20).
#[test]
fn explain_recognises_the_sixteenth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round16"));
    let sc = score_round(&rules, "round16", &all, true);
    // First run, at the merge of its labels (1851346): 52.0 % top 3, 44.0 %
    // rank 1, 1 of 29 quiet rows raised; 24 of the 25 labelled rows are
    // Envoy-based products' (17 of 44 sources are Kuma's). Released and
    // fixed: 88.0 %, 80.0 %, 1 (a prose signal tying expired certificates to
    // upstream connect errors was dropped again: its case-insensitive
    // literals made healthy access lines candidates and cost a fifth of the
    // scan's speed). The alarm, b16-mx-eg8784-1, is an xDS stream closed with
    // a data-plane details token (`upstream_reset_after_response_started
    // {connection_termination}`), still raises the connection-termination
    // cause: the token is read wherever it stands, and the line is about
    // the control-plane connection. Stop 21: a details token in a line about
    // the xDS stream is no longer read as a request's (92.0 %, 84.0 %, 0).
    sc.assert_at_least("blind round 16", 91.0, 83.0, 0);
}

/// The seventeenth blind round (`tests/corpus-blind/round17-*`: old istio/istio
/// threads, envoyproxy/envoy's tracker, Envoy-based meshes (Kuma, Cilium,
/// Contour, OSM), other projects' trackers and docs/workshop pages),
/// collected by five collectors in parallel, labelled and committed before
/// meshdoc ran on it. Held out whole for its first run, then released.
#[test]
fn explain_recognises_the_seventeenth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round17"));
    let sc = score_round(&rules, "round17", &all, true);
    // First run, at the merge of its labels (86359d6, the words of prose
    // already read): 58.7 % top 3 (81 of 138), 54.3 % rank 1, 2 of 221
    // quiet rows raised; 7 of the 81 hits by words only (53.6 % without
    // them), no quiet row named by words. By part: old istio/istio threads
    // 65.5 %, envoyproxy/envoy 56.4 %, Envoy-based meshes 65.8 %, other
    // projects' trackers 4 of 7, docs and workshops 44.0 %; Linkerd 1 of 5.
    // Released and fixed: 79.0 %, 72.5 %, 1. The alarm, b17-ev-14591-1, is
    // `gRPC config stream closed: 14, no healthy upstream`, which this round
    // labels routine and the shared corpus (is-error-envoy-legacy-format-2)
    // labels a sidecar that cannot reach istiod: the shared label stands.
    sc.assert_at_least("blind round 17", 78.0, 71.0, 1);
}

/// The eighteenth blind round (`tests/corpus-blind/round18-*`: istio/istio
/// threads from #30000 on and ztunnel's, Envoy-based products' trackers
/// (Emissary, Gloo/kgateway, Envoy Gateway, App Mesh, Consul) and Q&A pages
/// and blogs), collected by three collectors while round 17 was being learnt
/// from, labelled and committed before meshdoc ran on it. Held out whole for
/// its first run.
#[test]
fn explain_recognises_the_eighteenth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round18"));
    let sc = score_round(&rules, "round18", &all, true);
    // First run, at the merge of its labels (3ac7f64, after round 17's
    // fixes): 72.1 % top 3 (44 of 61), 72.1 % rank 1, 0 of 84 quiet rows
    // raised; 2 of the 44 hits by words only (68.9 % without them), 3 quiet
    // rows named by words (info). By part: istio/istio and ztunnel threads
    // 75.9 %, Envoy-based products 69.2 %, Q&A pages and blogs 4 of 6.
    // Released and fixed: 88.5 %, 86.9 %, 0.
    // Stop 24: rows labelled istio-proxy-not-ready whose evidence is a
    // rejected push (`config received from XDS server, but was rejected`,
    // `lds updates: 0 successful, 1 rejected`) now rank
    // envoy-xds-config-rejected first, which refines that cause; the labels
    // stand and the proxy-not-ready finding is second.
    sc.assert_at_least("blind round 18", 87.0, 80.0, 0);
}

/// The nineteenth blind round (`tests/corpus-blind/round19-*`: istio/istio
/// threads by symptom, envoyproxy/envoy, gateway and go-control-plane threads,
/// docs pages of Envoy-based products and Linkerd), collected by three
/// collectors while round 18 was being learnt from, labelled and committed
/// before meshdoc ran on it. Held out whole for its first run.
#[test]
fn explain_recognises_the_nineteenth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round19"));
    let sc = score_round(&rules, "round19", &all, true);
    // First run, at the merge of its labels (154bcdb, after round 18's
    // fixes): 66.3 % top 3 (55 of 83), 60.2 % rank 1, 2 of 133 quiet rows
    // raised; no hit and no quiet row by words only. By part: istio/istio
    // threads 70.4 %, Envoy's trackers 57.1 %, docs pages 71.4 %. Released
    // and fixed: 84.3 %, 78.3 %, 2. The alarms, b19-is-18875-2/4, are
    // `Envoy proxy is NOT ready: failed to get server info: stats version is
    // not preset` during a start that became ready 4 s later: one line
    // cannot tell a slow start from a proxy that never gets its
    // configuration, and the rule reads it as the latter.
    sc.assert_at_least("blind round 19", 83.0, 77.0, 2);
}

/// The twentieth blind round (`tests/corpus-blind/round20-*`: OpenShift
/// Service Mesh/Maistra and Kiali, other Envoy-based gateways and xDS users
/// (Knative's Kourier, Higress, Pomerium, Gloo Mesh, gRPC xDS), and Linkerd,
/// 1.x included), collected by three collectors while round 19 was being
/// learnt from, labelled and committed before meshdoc ran on it. Held out
/// whole for its first run.
#[test]
fn explain_recognises_the_twentieth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round20"));
    let sc = score_round(&rules, "round20", &all, true);
    // First run, at the merge of its labels (b384a89, after round 19's
    // fixes): 61.2 % top 3 (30 of 49), 59.2 % rank 1, 0 of 88 quiet rows
    // raised; 1 hit by words only. By part: Envoy-based gateways 77.3 %,
    // Maistra/OpenShift 64.3 %, Linkerd 4 of 13 (9 of its 20 sources are
    // Linkerd 1.x). Released and fixed: 73.5 %, 71.4 %, 0.
    sc.assert_at_least("blind round 20", 72.0, 70.0, 0);
}

/// The twenty-first blind round (`tests/corpus-blind/round21-*`: Kuma and
/// Cilium's Envoy by symptom), collected by two collectors on the last of
/// the session's look-ups while round 20 was being learnt from, labelled and
/// committed before meshdoc ran on it. Held out whole for its first run.
#[test]
fn explain_recognises_the_twenty_first_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round21"));
    let sc = score_round(&rules, "round21", &all, true);
    // First run, at the merge of its labels (8afbdd8, after round 20's
    // fixes): 64.0 % top 3 (16 of 25), 64.0 % rank 1, 0 of 64 quiet rows
    // raised; 1 hit by words only. By part: Cilium 11 of 12, Kuma 5 of 13.
    // Released and fixed: 68.0 %, 68.0 %, 0 (the rest are titles, a demo's
    // own JSON errors and a health checker's lines).
    sc.assert_at_least("blind round 21", 67.0, 67.0, 0);
}

/// The twenty-second blind round (`tests/corpus-blind/round22-*`): cloud
/// vendors' and distributors' pages, non-English blogs, engineering blogs,
/// issues of projects that run on a mesh, and Linkerd — each part labelled
/// and committed before meshdoc ran on it.
#[test]
fn explain_recognises_the_twenty_second_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round22"));
    let sc = score_round(&rules, "round22", &all, true);
    // First run, all five parts at the merge of their labels (fbe35b4, meshdoc
    // at f7aab7f): 71.4 % top 3 (65 of 91), 65.9 % rank 1, 0 of 129 quiet
    // rows raised; 3 hits by words only. By part: cloud 20 of 23, non-English
    // 13 of 17, blogs 17 of 24, apps 8 of 12, Linkerd (Conduit era) 7 of 15.
    sc.assert_at_least("blind round 22", 71.0, 65.0, 0);
}

/// The twenty-third blind round (`tests/corpus-blind/round23-*`): Conduit-era
/// Linkerd threads, workshops and trainings, istio.io and envoyproxy.io pages
/// of every version, and Chinese/Japanese/Korean notes stored as Markdown —
/// each part labelled and committed before meshdoc ran on it, after round
/// 22's release.
#[test]
fn explain_recognises_the_twenty_third_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round23"));
    let sc = score_round(&rules, "round23", &all, true);
    // First run, all four parts at the merge of their labels (392c6e9,
    // meshdoc at 1305ba2): 63.0 % top 3 (34 of 54), 53.7 % rank 1, 1 of 121
    // quiet rows raised; 1 hit by words only. By part: workshops 13 of 15,
    // CJK notes 10 of 16, Conduit 4 of 8, istio.io/envoyproxy.io 7 of 15.
    sc.assert_at_least("blind round 23", 63.0, 53.0, 1);
}

/// The twenty-fourth blind round (`tests/corpus-blind/round24-*`): lines
/// captured from real proxies in observability projects' fixtures, recent
/// Linkerd (2023–2026) and recent Istio/Envoy (2024–2026) — each part
/// labelled and committed before meshdoc ran on it.
#[test]
fn explain_recognises_the_twenty_fourth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round24"));
    let sc = score_round(&rules, "round24", &all, true);
    // First run, all three parts at the merge of their labels (27c2b30,
    // meshdoc at 44e80e8): 85.7 % top 3 (24 of 28), 82.1 % rank 1, 0 of 85
    // quiet rows raised; 2 hits by words only. By part: fixtures 12 of 12,
    // Istio/Envoy 10 of 10, Linkerd 2 of 6 (the four misses are prose with no
    // word of trouble). Small: the collectors found the trackers used up.
    sc.assert_at_least("blind round 24", 85.0, 82.0, 0);
}

/// The twenty-fifth blind round (`tests/corpus-blind/round25-*`): Kubernetes'
/// own trackers and distributions, forums and the trackers behind vendors'
/// communities, and non-English notes and courses stored on GitHub — each part
/// labelled and committed before meshdoc ran on it, after round 24's.
#[test]
fn explain_recognises_the_twenty_fifth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round25"));
    let sc = score_round(&rules, "round25", &all, true);
    // First run, all three parts at the merge of their labels (f2975bd,
    // meshdoc at 050caff): 69.2 % top 3 (36 of 52), 59.6 % rank 1, 0 of 96
    // quiet rows raised; 3 hits by words only. By part: non-English notes 18
    // of 22, forums and vendors' trackers 10 of 15, Kubernetes' trackers 8 of
    // 15. Released and fixed: 73.1 %, 63.5 %, 0 (pilot-agent's gRPC dial of
    // istiod, the injector's pod down in a listing; the rest are titles, an
    // app's own error text and bare statuses).
    sc.assert_at_least("blind round 25", 73.0, 63.0, 0);
}

/// The twenty-sixth blind round (`tests/corpus-blind/round26-*`): runbooks,
/// postmortems and SRE notes; batch, CI and data platforms that run on a
/// mesh; books' and courses' companion repositories — each part labelled and
/// committed before meshdoc ran on it, after round 25's release.
#[test]
fn explain_recognises_the_twenty_sixth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round26"));
    let sc = score_round(&rules, "round26", &all, true);
    // First run, all three parts at the merge of their labels (3ad6d14,
    // meshdoc at 90e4f21): 65.3 % top 3 (32 of 49), 44.9 % rank 1, 1 of 94
    // quiet rows raised; 1 hit by words only. By part: books 13 of 15,
    // runbooks 9 of 13, batch platforms 10 of 21 (nine of the misses were
    // reports of mesh-job-sidecar-never-exits in words the new rule's prose
    // signal did not know). Released and fixed: 87.8 %, 73.5 %, 0.
    sc.assert_at_least("blind round 26", 87.0, 73.0, 0);
}

/// The twenty-seventh blind round (`tests/corpus-blind/round27-*`): Slack- and
/// question-type threads (the forums themselves are not in the stores); docs
/// pages of Envoy-family products (Envoy Gateway, Open Service Mesh,
/// kgateway, Gloo, Emissary); pull requests that quote the failure they fix —
/// each part labelled and committed before meshdoc ran on it. The collectors'
/// catalog had the three rules of stop 24 (`envoy-xds-config-rejected`,
/// `mesh-app-starts-before-proxy`, `istio-gateway-credential-missing`),
/// committed before the labels were merged.
#[test]
fn explain_recognises_the_twenty_seventh_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round27"));
    let sc = score_round(&rules, "round27", &all, true);
    // First run, all three parts at the merge of their labels (a2e091b,
    // meshdoc at 5bb20b5): 44.8 % top 3 (26 of 58), 43.1 % rank 1, 0 of 51
    // quiet rows raised; no hit by words only. By part: Envoy-family docs 14
    // of 29, Slack- and question-type threads 7 of 21, pull requests 5 of 8.
    // Released and fixed: 67.2 %, 65.5 %, 0 (local rate limit stats under
    // any stat prefix, the network filter's too; Gateway API
    // `InvalidCertificateRef`; a gateway that may not read Secrets; Envoy's
    // protobuf validation and v1 `fetch failure` rejections; a CronJob's
    // `1/2 Running` pod and `quitquitquit` calls; injection failing in
    // Chinese; iptables `Bad argument`; a route to a subset that does not
    // exist in words). The rest: application errors with no mesh named,
    // fortio's TCP resets, an Envoy direct response's own body.
    sc.assert_at_least("blind round 27", 67.0, 65.0, 0);
}

/// The twenty-eighth blind round (`tests/corpus-blind/round28-*`): the docs
/// repositories of the meshes and Envoy-family products read as files
/// (istio.io, linkerd/website, envoy, kgateway.dev, osm-docs), and what
/// earlier collectors left (held-back pull requests, OSM, Meshery, Kiali and
/// getmesh trackers) — each part labelled and committed before meshdoc ran
/// on it, after round 27's release.
#[test]
fn explain_recognises_the_twenty_eighth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round28"));
    let sc = score_round(&rules, "round28", &all, true);
    // First run, both parts at the merge of their labels (a680be1, meshdoc
    // at e45c893): 81.2 % top 3 (26 of 32), 75.0 % rank 1, 0 of 55 quiet
    // rows raised; 3 hits by words only. By part: docs repositories 10 of
    // 14, leftovers 16 of 18; Linkerd 0 of 2. Released and fixed: 93.8 %,
    // 87.5 %, 0 (Mixer's quota body; a `Status:` header among a client's
    // printed headers; a Markdown bullet holding a sentence is prose, not
    // curl's `* ` message; an app starting faster than its proxy, a sidecar
    // that keeps a job's pod running, in words).
    sc.assert_at_least("blind round 28", 93.0, 87.0, 0);
}

/// The twenty-ninth blind round (`tests/corpus-blind/round29-*`): blog posts
/// and engineering write-ups, vendor and product troubleshooting pages (with
/// gists and pastebins), and Chinese, Japanese and Korean pages — each part
/// labelled and committed before meshdoc ran on it.
#[test]
fn explain_recognises_the_twenty_ninth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round29"));
    let sc = score_round(&rules, "round29", &all, true);
    // First run, all three parts at the merge of their labels (0b7f4a4,
    // meshdoc at fd98508): 54.8 % top 3 (17 of 31), 54.8 % rank 1, 0 of 77
    // quiet rows raised; no hit by words only. By part: blogs 10 of 15,
    // vendors 6 of 10, Chinese/Japanese/Korean pages 1 of 6; Linkerd 0 of 1.
    // Released and fixed: 83.9 %, 80.6 %, 0 (Envoy's certificate validator
    // in its debug words; the jwt_authn filter's `www-authenticate`
    // challenge; a details token written without its reason; a sidecar
    // never created, `istio-init` crashing, calls failing while the proxy is
    // not ready, all in words, in English and Chinese; an `mTLS mismatch`;
    // Linkerd's components name the mesh). The rest: a CNI configuration
    // fight between Cilium and istio-cni read only from routine lines, an
    // application's own error body, a 404 in a sentence, a title whose
    // words are misspelt.
    sc.assert_at_least("blind round 29", 83.0, 80.0, 0);
}

/// The thirtieth blind round (`tests/corpus-blind/round30-*`): the Istio and
/// Envoy ecosystem's trackers (kmesh, istio-ecosystem, istio-csr, envoy
/// ratelimit, kgateway), Linkerd as deep as it goes, and Envoy and Istio
/// pull requests and long-tail issues — each part labelled and committed
/// before meshdoc ran on it, after round 29's release.
#[test]
fn explain_recognises_the_thirtieth_blind_round() {
    let (rules, all) = (disk_rules(), blind_round("round30"));
    let sc = score_round(&rules, "round30", &all, true);
    // First run, all three parts at the merge of their labels (5079c91,
    // meshdoc at a00c05a): 74.2 % top 3 (46 of 62), 67.7 % rank 1, 3 of 109
    // quiet rows raised; 2 hits by words only. By part: ecosystem 24 of 30,
    // pull requests and long-tail issues 16 of 20, Linkerd 6 of 12.
    // Released and fixed: 93.5 %, 87.1 %, 1 alarm (Gloo's and kgateway's
    // NACKs: `glooctl check`'s resources not accepted, the xDS NACK counters
    // and the in-sync gauge; Istio 1.1's `STALE (0%)`; invalid configuration
    // pushed, in words; zsh's end-of-output `%` glued to a body; the 1.x
    // gateway agent's `failed load server cert/key pair` only of a Secret
    // named like a credential, not of a Helm release's; the injector's own
    // InjectionSkipped event is no failure; a job's proxy that lingers or
    // cannot be killed, the injector's TLS Secret expiring, refused only as
    // the application starts, in words). The alarm left: a 2019 agent's
    // `Envoy proxy is NOT ready: cds updates: 0 successful` at start, ready
    // four seconds later - one line alone reads as the proxy never ready.
    sc.assert_at_least("blind round 30", 93.0, 87.0, 1);
}
