//! The literal prefilter of the bulk scan.
//!
//! Running one lazy DFA over ~170 patterns visits every byte and tops out near
//! 300 MB/s. Almost every rule pattern, though, contains a literal that any
//! match must include (`fail-fast`, `"response_code"`, `UF`). We extract, per
//! pattern, such a *required literal set* from its syntax tree, search all of
//! them at once with one Aho-Corasick DFA stepped over three parts of the
//! block together ([`super::lanes`]; about five times the lazy DFA's speed
//! here, and independent of how many patterns there are), and only run the
//! full regex set on the lines a literal hits. Patterns with no usable literal
//! go into a small regex searched the slow way; `rules patterns` names them on
//! stderr, so rule authors can give them one.
//!
//! Soundness: the literal sets are necessary conditions (every match contains
//! one), so the prefilter never drops a line the patterns match. One caveat:
//! patterns written `(?i)…` are searched in their ASCII case variants, so a
//! line that only matches through Unicode case folding (`K` KELVIN SIGN for
//! `k`) would be missed; proxy logs do not spell their words that way.

use super::lanes::{LineFinder, line_around};
use crate::rules::literals::{MIN_SENSITIVE, searched_literals};
pub use crate::rules::literals::{
    case_variants_of, literals_of, prefix_len, quality, required, required_by, unanchored,
};
use aho_corasick::{AhoCorasick, MatchKind};
use regex_automata::{Input, meta};

/// The candidate-line finder over a set of patterns.
///
/// Built [`Prefilter::with_strong`], it also tells *weak* lines apart: lines
/// whose every literal hit is a literal of the patterns alone, none of the
/// given strong set (see [`super::quiet`]).
pub struct Prefilter {
    literals: Option<LineFinder>,
    /// Patterns without literals, searched with a lazy DFA.
    slow: Option<meta::Regex>,
    /// Patterns (by index) that took the slow path.
    slow_patterns: Vec<usize>,
}

/// The lazy DFA's cache: the default 2 MB thrashes with ~170 patterns and
/// halves the speed; the cache only grows as far as the input needs.
const DFA_CACHE: usize = 32 << 20;

/// A set that only answers whether a line matches (`is_match`): it compiles
/// no capture states. With the two implicit slots of each pattern, the
/// backtracking engines' cache holds states × 2 × patterns slots — 400 MB for
/// the built-in pack of 430 patterns, which a fuzzer's memory limit caught —
/// and `is_match` never reads them.
pub fn regex_set(patterns: &[&str]) -> Option<meta::Regex> {
    build_set_with(
        patterns,
        regex_automata::util::syntax::Config::new(),
        regex_automata::nfa::thompson::WhichCaptures::None,
    )
}

/// [`regex_set`] for searching a block of many lines: `^` and `$` match at
/// each line's start and end (before `\n` or `\r\n`), as they do when a
/// pattern runs on one line, so an anchored pattern without a literal finds
/// its lines anywhere in a block, not only at the block's edges.
fn line_regex_set(patterns: &[&str]) -> Option<meta::Regex> {
    build_set(
        patterns,
        regex_automata::util::syntax::Config::new()
            .multi_line(true)
            .crlf(true),
    )
}

fn build_set(
    patterns: &[&str],
    syntax: regex_automata::util::syntax::Config,
) -> Option<meta::Regex> {
    // The block search asks where a match ends (`search_half`): it needs the
    // implicit captures.
    build_set_with(
        patterns,
        syntax,
        regex_automata::nfa::thompson::WhichCaptures::Implicit,
    )
}

fn build_set_with(
    patterns: &[&str],
    syntax: regex_automata::util::syntax::Config,
    captures: regex_automata::nfa::thompson::WhichCaptures,
) -> Option<meta::Regex> {
    if patterns.is_empty() {
        return None;
    }
    meta::Regex::builder()
        .configure(
            meta::Config::new()
                .hybrid_cache_capacity(DFA_CACHE)
                .which_captures(captures),
        )
        .syntax(syntax)
        .build_many(patterns)
        .ok()
}

impl Prefilter {
    pub fn new(patterns: &[String]) -> Self {
        Self::with_strong(patterns, None)
    }

    /// Also searches the `strong` literals (as written, sorted); a candidate line
    /// with a hit of one of them, or found by the slow path, is strong, any
    /// other candidate weak. Without a strong set every candidate is strong.
    pub fn with_strong(patterns: &[String], strong: Option<&[Vec<u8>]>) -> Self {
        let mut lits: Vec<Vec<u8>> = Vec::new();
        let mut slow_patterns = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            match searched_literals(p) {
                Some(l) => lits.extend(l),
                None => slow_patterns.push(i),
            }
        }
        lits.extend(strong.unwrap_or_default().iter().cloned());
        lits.sort();
        lits.dedup();
        let weak: Vec<bool> = match strong {
            Some(st) => lits.iter().map(|l| st.binary_search(l).is_err()).collect(),
            None => vec![false; lits.len()],
        };
        let literals = LineFinder::new(&lits, weak);
        if literals.is_none() && !lits.is_empty() {
            // The automaton could not be built (never expected): search
            // every pattern the slow way rather than drop any.
            slow_patterns = (0..patterns.len()).collect();
        }
        let slow: Vec<&str> = slow_patterns
            .iter()
            .map(|&i| patterns[i].as_str())
            .collect();
        Prefilter {
            literals,
            slow: line_regex_set(&slow),
            slow_patterns,
        }
    }

    /// Indices of the patterns that have no usable literal.
    pub fn slow_patterns(&self) -> &[usize] {
        &self.slow_patterns
    }

    /// Appends the `(start, end)` byte range (without the newline) of every
    /// line of `block` that may match, in order and without repeats.
    pub fn candidates(&self, block: &[u8], out: &mut Vec<(usize, usize)>) {
        let mut marked = Vec::new();
        self.candidates_marked(block, &mut marked);
        out.extend(marked.into_iter().map(|(s, e, _)| (s, e)));
    }

    /// [`Prefilter::candidates`], each line with whether it is weak.
    pub fn candidates_marked(&self, block: &[u8], out: &mut Vec<(usize, usize, bool)>) {
        let from = out.len();
        if let Some(f) = &self.literals {
            f.lines(block, out);
        }
        let Some(re) = &self.slow else {
            // The literal lines alone come in order, each once.
            return;
        };
        let mut pos = 0;
        while pos < block.len() {
            let input = Input::new(block).range(pos..).earliest(true);
            let Some(hm) = re.search_half(&input) else {
                break;
            };
            // The earliest match end lies in (or just past) a candidate line.
            let (s, e) = line_around(block, hm.offset().saturating_sub(1).max(pos));
            out.push((s, e, false));
            pos = e + 1;
        }
        // Merge the two searches' lines; strong (`false`) sorts first and wins.
        out[from..].sort_unstable();
        let mut k = from;
        for i in from..out.len() {
            if k == from || (out[k - 1].0, out[k - 1].1) != (out[i].0, out[i].1) {
                out[k] = out[i];
                k += 1;
            }
        }
        out.truncate(k);
    }
}

/// Which of a set of patterns may match a given text: each pattern's
/// required literals, searched all at once. The [`super::Matcher`] uses it to
/// run only the few regexes whose literal occurs in a line, instead of one
/// set of every pattern (whose compilation alone costs more than `explain`
/// on a single line should take).
pub struct PatternIndex {
    ac: Option<AhoCorasick>,
    /// Aho-Corasick literal id → the patterns requiring it.
    owners: Vec<Vec<usize>>,
    /// Patterns without a usable literal: candidates for every text.
    always: Vec<usize>,
}

impl PatternIndex {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Self {
        Self::with_hints(patterns, &[])
    }

    /// As [`PatternIndex::new`], with the required literals of some patterns
    /// already known (`hints[i]`, case-sensitive): a rule's `messages:` are
    /// literals with holes, and reading them back out of a regex with
    /// hundreds of alternatives would cost more than `explain` may take.
    pub fn with_hints<S: AsRef<str>>(patterns: &[S], hints: &[Option<Vec<String>>]) -> Self {
        let mut by_lit: std::collections::BTreeMap<Vec<u8>, Vec<usize>> = Default::default();
        let mut always = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            let hinted = hints
                .get(i)
                .and_then(Option::as_ref)
                .filter(|h| !h.is_empty() && h.iter().all(|l| l.len() >= MIN_SENSITIVE))
                .map(|h| h.iter().map(|l| l.as_bytes().to_vec()).collect::<Vec<_>>());
            let Some(lits) = hinted.or_else(|| searched_literals(p.as_ref())) else {
                always.push(i);
                continue;
            };
            for l in lits {
                let owners = by_lit.entry(l).or_default();
                if owners.last() != Some(&i) {
                    owners.push(i);
                }
            }
        }
        // Overlapping search needs the standard match semantics; the
        // automaton kind is left to the builder (an NFA builds fastest for a
        // one-line `explain`).
        let ac = (!by_lit.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(by_lit.keys())
                    .ok()
            })
            .flatten();
        if ac.is_none() {
            // Could not build (never expected): fall back to every pattern.
            let all: Vec<usize> = by_lit.values().flatten().copied().collect();
            always.extend(all);
            always.sort_unstable();
            always.dedup();
            by_lit.clear();
        }
        PatternIndex {
            ac,
            owners: by_lit.into_values().collect(),
            always,
        }
    }

    /// Replaces `out` with the indices of the patterns that may match `hay`,
    /// ascending and without repeats.
    pub fn candidates(&self, hay: &[u8], out: &mut Vec<usize>) {
        out.clear();
        out.extend_from_slice(&self.always);
        if let Some(ac) = &self.ac {
            for m in ac.find_overlapping_iter(hay) {
                out.extend_from_slice(&self.owners[m.pattern().as_usize()]);
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verify_set_keeps_no_capture_slots() {
        // Each slot costs states × 8 bytes in the backtracking engines'
        // cache, which a line the lazy DFA gives up on (a non-ASCII byte
        // beside a Unicode `\b`) makes meshdoc allocate: 0.8 GB for one
        // such line with 430 patterns before this.
        let re = regex_set(&[r"\bfoo (\d+)\b", r"bar"]).unwrap();
        assert_eq!(
            re.group_info().all_group_len(),
            0,
            "no capture groups, no slots"
        );
        assert!(re.is_match("a foo 12 b") && re.is_match("bar") && !re.is_match("fo"));
    }

    /// Every line that a pattern matches on its own is a candidate of the
    /// block it sits in, for the whole built-in pack plus anchored patterns
    /// without a literal (which take the slow path), on random blocks of
    /// corpus-like lines.
    #[test]
    fn every_line_a_pattern_matches_is_a_candidate() {
        let rules = crate::rules::load_builtin().unwrap();
        let mut patterns: Vec<String> = crate::engine::scan::Scanner::new(&rules)
            .patterns()
            .to_vec();
        let extra = [
            r"\d{3}$",
            r"^[fg]\w+",
            r"^\s*$x",
            r"(?m)^b{2}\b",
            r"[a-c]{4}$",
        ];
        patterns.extend(extra.iter().map(|s| s.to_string()));
        let p = Prefilter::new(&patterns);
        for e in &extra[..2] {
            let i = patterns.iter().position(|x| x == e).unwrap();
            assert!(p.slow_patterns().contains(&i), "{e} takes the slow path");
        }
        let singles: Vec<regex::Regex> = patterns
            .iter()
            .filter_map(|x| regex::Regex::new(x).ok())
            .collect();
        let pieces: &[&str] = &[
            "fga",
            "503",
            "12 ",
            "gbb",
            "UF",
            "upstream connect error",
            "bb ",
            "abcab",
            "\"GET / HTTP/1.1\" 503 UF ",
            "failfast",
            "service in fail-fast",
            " ",
            "\r",
            "x",
            "Connection refused (os error 111)",
            "no healthy upstream",
            "ccc",
        ];
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            let mut block = String::new();
            for _ in 0..(next() % 12) {
                for _ in 0..(next() % 5) {
                    block.push_str(pieces[(next() % pieces.len() as u64) as usize]);
                }
                block.push('\n');
            }
            let mut cands = Vec::new();
            p.candidates(block.as_bytes(), &mut cands);
            let mut at = 0;
            for line in block.split_inclusive('\n') {
                let body = line.trim_end_matches('\n');
                let text = body.strip_suffix('\r').unwrap_or(body);
                if singles.iter().any(|re| re.is_match(text)) {
                    assert!(
                        cands.iter().any(|&(s, e)| s == at && e >= at + text.len()),
                        "line {text:?} of {block:?} is not a candidate"
                    );
                }
                at += line.len();
            }
        }
    }

    fn lits(p: &str) -> Option<Vec<String>> {
        literals_of(p).map(|(l, _)| {
            l.into_iter()
                .map(|x| String::from_utf8(x).unwrap())
                .collect()
        })
    }

    /// Every `sample` matches `pat`, and contains one of its literals (in
    /// the case the searcher would use): the soundness the prefilter needs.
    fn assert_sound(pat: &str, min_len: usize, samples: &[&str]) {
        let (lits, insensitive) = literals_of(pat).unwrap_or_else(|| panic!("{pat}: no literals"));
        assert!(
            lits.iter().all(|l| l.len() >= min_len),
            "{pat}: short literal in {lits:?}"
        );
        let re = regex::Regex::new(pat).unwrap();
        for s in samples {
            assert!(re.is_match(s), "{pat} should match {s:?}");
            let hay = if insensitive {
                s.to_ascii_lowercase()
            } else {
                s.to_string()
            };
            assert!(
                lits.iter()
                    .any(|l| memchr::memmem::find(hay.as_bytes(), l).is_some()),
                "{pat}: no literal of {lits:?} in {s:?}"
            );
        }
    }

    #[test]
    fn required_literals_come_from_anywhere_in_the_pattern() {
        assert_eq!(lits(r"\b(?:UF|URX)\b").unwrap(), ["UF", "URX"]);
        assert_sound(
            r"(?i)service in fail-?fast",
            9,
            &["Service in fail-fast", "SERVICE IN FAILFAST"],
        );
        assert_sound(
            r#"(?:" |"\t)(?:503|5\d\d)\b"#,
            2,
            &["GET /\" 503 UF", "\"\t504", "x\" 599 -"],
        );
        // A literal after a leading class comes from the middle.
        assert_sound(r"\d+ms elapsed", 5, &["12ms elapsed", "0ms elapsed now"]);
        // Ignoring case, `request failed` is searched as `requ` (any HTTP
        // log is full of it): the rarer required part wins.
        assert_eq!(
            lits(r"(?i)(?:l5d-proxy-error|request failed)\b.*broken pipe").unwrap(),
            ["broken pipe"]
        );
        // Nothing required: an optional part followed by a class.
        assert_eq!(lits(r"(?:abc)?\d"), None);
        // Too short to help, or a case flag that is not leading.
        assert_eq!(lits(r"(?i)ab"), None);
        assert_eq!(lits(r"foo(?i)bar"), None);
    }

    #[test]
    fn anchors_are_removed_for_line_search() {
        assert!(
            unanchored("(?i)^connect_error$")
                .unwrap()
                .starts_with("(?i)")
        );
        for (pat, line) in [
            ("^via_upstream$", "x=via_upstream y=1"),
            (r"^(?:a|b)x$", "zz ax zz"),
            ("(?i)^connect_error$", "details=CONNECT_ERROR,x"),
        ] {
            let re = regex::Regex::new(&unanchored(pat).unwrap()).unwrap();
            assert!(re.is_match(line), "{pat} unanchored should match {line:?}");
            assert!(!regex::Regex::new(pat).unwrap().is_match(line));
        }
    }

    #[test]
    fn candidates_are_whole_lines_in_order_without_repeats() {
        let pats = vec![
            r"\bUF\b".to_string(),
            r"(?i)fail-fast".to_string(),
            r"\d{7}".to_string(),
        ];
        let p = Prefilter::new(&pats);
        assert_eq!(p.slow_patterns(), &[2]);
        let block = b"ok line\n503 UF here FAIL-FAST too\nnothing\nid 1234567\nUF";
        let mut out = Vec::new();
        p.candidates(block, &mut out);
        let lines: Vec<&str> = out
            .iter()
            .map(|&(s, e)| std::str::from_utf8(&block[s..e]).unwrap())
            .collect();
        assert_eq!(lines, ["503 UF here FAIL-FAST too", "id 1234567", "UF"]);
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;

    #[test]
    fn index_names_every_pattern_that_can_match_and_few_others() {
        let pats = [
            r"\bUF\b",
            r"(?i)fail-fast",
            r"\d{7}",
            r"upstream (?:reset|timeout)",
            "reset",
        ];
        let ix = PatternIndex::new(&pats);
        let mut out = Vec::new();
        let res: Vec<regex::Regex> = pats.iter().map(|p| regex::Regex::new(p).unwrap()).collect();
        for line in [
            "503 UF here FAIL-FAST too",
            "upstream reset before headers",
            "nothing at all",
            "id 1234567 Fail-Fast",
            "",
        ] {
            ix.candidates(line.as_bytes(), &mut out);
            // Sound: every pattern that matches is a candidate.
            for (i, re) in res.iter().enumerate() {
                if re.is_match(line) {
                    assert!(
                        out.contains(&i),
                        "{line:?}: pattern {i} missed, got {out:?}"
                    );
                }
            }
            // `\d{7}` has no literal and is always a candidate; the rest only
            // when their literal occurs.
            assert!(out.contains(&2));
            assert!(out.windows(2).all(|w| w[0] < w[1]));
        }
        ix.candidates(b"nothing at all", &mut out);
        assert_eq!(out, [2]);
        ix.candidates(b"upstream timeout", &mut out);
        assert_eq!(out, [2, 3]);
    }
}
