//! The scan prefilter against the patterns it stands for: every line that a
//! pattern of the built-in pack matches must be among the prefilter's
//! candidate lines (the literal DFA over three lanes, and the slow path),
//! which come in order and each once. Lines with non-ASCII bytes are only
//! searched, not checked: `(?i)` patterns are searched in their ASCII case
//! variants, a documented limit.
//!
//! And the scan's fast path for access lines no rule can act on
//! (`src/engine/quiet.rs`) changes no finding: the input scanned with and
//! without it ranks the same findings.
#![no_main]
use libfuzzer_sys::fuzz_target;
use meshdoc::engine::prefilter::{self, Prefilter};
use meshdoc::engine::scan::Scanner;
use std::sync::LazyLock;

static PATTERNS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let rules = meshdoc::rules::load_builtin().expect("built-in rules");
    Scanner::new(&rules).patterns().to_vec()
});
static RULES: LazyLock<meshdoc::rules::RuleSet> =
    LazyLock::new(|| meshdoc::rules::load_builtin().expect("built-in rules"));
static FAST: LazyLock<Scanner> = LazyLock::new(|| Scanner::new(&RULES));
static SLOW: LazyLock<Scanner> = LazyLock::new(|| Scanner::without_fast_path(&RULES));

fn findings(s: &Scanner, data: &[u8]) -> serde_json::Value {
    let mut m = meshdoc::engine::Matcher::new(&RULES);
    s.scan(
        data,
        meshdoc::evidence::InputKind::Auto,
        &meshdoc::evidence::Origin::Arg,
        &mut m,
    )
    .expect("scan of a byte slice");
    serde_json::to_value(m.finish()).expect("findings serialise")
}
static PREFILTER: LazyLock<Prefilter> = LazyLock::new(|| Prefilter::new(&PATTERNS));
type Verify = Box<dyn Fn(&[u8]) -> bool + Send + Sync>;
static VERIFY: LazyLock<Verify> = LazyLock::new(|| {
    let refs: Vec<&str> = PATTERNS.iter().map(String::as_str).collect();
    let set = prefilter::regex_set(&refs).expect("pattern set");
    Box::new(move |line| set.is_match(line))
});

fuzz_target!(|data: &[u8]| {
    let mut cands = Vec::new();
    PREFILTER.candidates(data, &mut cands);
    assert!(
        cands.windows(2).all(|w| w[0].1 < w[1].0),
        "not in order: {cands:?}"
    );
    let mut start = 0;
    loop {
        let end = data[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| start + i);
        let raw = &data[start..end];
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_ascii() && VERIFY(line) {
            assert!(
                cands.contains(&(start, end)),
                "missed line {:?}",
                String::from_utf8_lossy(line)
            );
        }
        if end == data.len() {
            break;
        }
        start = end + 1;
    }
    assert_eq!(
        findings(&FAST, data),
        findings(&SLOW, data),
        "the fast path changed the findings"
    );
});
