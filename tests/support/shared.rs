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
    None
}

/// The shared corpus: `$MESHDOC_CORPUS`, else `../shared/corpus`.
pub fn corpus() -> Option<PathBuf> {
    match std::env::var_os("MESHDOC_CORPUS") {
        Some(p) => Some(PathBuf::from(p)),
        None => dir("corpus", "labels.tsv"),
    }
}
