//! `../shared` beside the clone (the corpus, the vocabulary, the scenario
//! catalog): found, or skipped with one line on a bare clone, or a failure
//! where `MESHDOC_REQUIRE_SHARED` is set (`.ci/run`).

use std::path::PathBuf;

/// `../shared/<rel>` when it holds `marker`. On a bare clone this is `None`
/// and the caller prints its one skip line; with `MESHDOC_REQUIRE_SHARED` set
/// a missing folder fails the test instead.
pub fn dir(rel: &str, marker: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(rel);
    if p.join(marker).exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("MESHDOC_REQUIRE_SHARED").is_none(),
        "../shared/{rel} is required (MESHDOC_REQUIRE_SHARED) but not at {}",
        p.display()
    );
    skipped(&format!(
        "../shared/{rel} is not beside this clone: the tests that read it are skipped"
    ));
    None
}

/// Says once per run, on the terminal, why some tests were skipped. Written
/// to the process's stderr directly: the test harness captures `eprintln!`
/// of passing tests, and a skip nobody sees is a silent pass.
pub fn skipped(why: &str) {
    use std::io::Write;
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if said.iter().any(|s| s == why) {
        return;
    }
    said.push(why.to_string());
    let _ = writeln!(std::io::stderr().lock(), "note: {why}");
}

/// The shared corpus: `$MESHDOC_CORPUS`, else `../shared/corpus`.
pub fn corpus() -> Option<PathBuf> {
    match std::env::var_os("MESHDOC_CORPUS") {
        Some(p) => Some(PathBuf::from(p)),
        None => dir("corpus", "labels.tsv"),
    }
}
