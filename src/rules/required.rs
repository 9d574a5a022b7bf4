//! Required literals of a regex: a set of strings at least one of which
//! occurs in every match, taken from the pattern's syntax tree.
//!
//! The scan's prefilter and the per-line pattern index search these instead
//! of running every regex. This module depends on nothing but `regex-syntax`,
//! so that the build script can include it and compute the built-in pack's
//! literals once, at build time (`rules::literals` looks them up).

use regex_syntax::hir::literal::Extractor;
use regex_syntax::hir::{Hir, HirKind, Look};

/// Shortest acceptable literal: case-sensitive (`UF`, `DC` flags) and
/// case-insensitive (`(?i)` patterns). Shorter ones hit too often to help.
pub const MIN_SENSITIVE: usize = 2;
const MIN_INSENSITIVE: usize = 3;

/// A set of literals at least one of which occurs in every match of `h`;
/// `None` when no finite set is known. `ci`: the literals will be searched
/// ignoring case, as their [`case_variants`].
pub fn required(h: &Hir, ci: bool) -> Option<Vec<Vec<u8>>> {
    required_by(h, &|v| quality(v, ci))
}

/// [`required`], choosing among the sets a concatenation offers the one with
/// the greatest `key` (the first of equals). Every set it can return is
/// sound; the key only decides which is searched.
pub fn required_by<K: Ord>(h: &Hir, key: &dyn Fn(&[Vec<u8>]) -> K) -> Option<Vec<Vec<u8>>> {
    match h.kind() {
        HirKind::Capture(c) => required_by(&c.sub, key),
        HirKind::Repetition(r) if r.min >= 1 => required_by(&r.sub, key),
        HirKind::Alternation(alts) => {
            let mut out = Vec::new();
            for a in alts {
                out.extend(required_by(a, key)?);
            }
            out.sort();
            out.dedup();
            Some(out)
        }
        HirKind::Concat(subs) => {
            // Any part of a concatenation must occur in a match: take the
            // best prefix set of every suffix, and of every child alone.
            let mut best: Option<(Vec<Vec<u8>>, K)> = None;
            for i in 0..subs.len() {
                let cands = [
                    prefixes(&Hir::concat(subs[i..].to_vec())),
                    required_by(&subs[i], key),
                ];
                for c in cands.into_iter().flatten() {
                    let k = key(&c);
                    if best.as_ref().is_none_or(|(_, bk)| k > *bk) {
                        best = Some((c, k));
                    }
                }
            }
            best.map(|(c, _)| c)
        }
        _ => prefixes(h),
    }
}

/// The prefix literals of `h` (exact or not), if finite and non-empty.
fn prefixes(h: &Hir) -> Option<Vec<Vec<u8>>> {
    let mut ex = Extractor::new();
    ex.limit_class(4)
        .limit_repeat(4)
        .limit_literal_len(24)
        .limit_total(256);
    let seq = ex.extract(h);
    let lits = seq.literals()?;
    if lits.is_empty() || lits.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    let mut v: Vec<Vec<u8>> = lits.iter().map(|l| l.as_bytes().to_vec()).collect();
    v.sort();
    v.dedup();
    Some(v)
}

/// Orders literal sets: a longer shortest literal first (up to 12 bytes;
/// beyond that length hardly matters), then fewer literals. Digits and
/// blanks count half: `426` occurs in every log full of durations and byte
/// counts, ` - ` in every access-log line. Literals searched ignoring case
/// (`ci`) are weighed by the part actually searched: `request failed` is
/// searched as `requ`, which every HTTP log is full of, and must lose to
/// `broken pipe` (`brok`) in the same pattern.
pub fn quality(v: &[Vec<u8>], ci: bool) -> (usize, std::cmp::Reverse<usize>) {
    let common = |b: &&u8| b.is_ascii_digit() || **b == b' ' || **b == b'\t';
    let weight = |l: &Vec<u8>| {
        let l = if ci { &l[..variant_len(l)] } else { &l[..] };
        2 * l.len() - l.iter().filter(common).count()
    };
    let shortest = v.iter().map(weight).min().unwrap_or(0);
    (shortest.min(24), std::cmp::Reverse(v.len()))
}

/// The ASCII case variants of `lit`'s longest prefix holding at most four
/// letters (at most 16 strings): any case-insensitive match of `lit`
/// contains one of them, so one case-sensitive automaton serves both kinds.
fn case_variants(lit: &[u8]) -> Vec<Vec<u8>> {
    case_variants_of(lit, 4)
}

/// The ASCII case variants of `lit`'s longest prefix holding at most
/// `letters` letters (at most 2^letters strings).
pub fn case_variants_of(lit: &[u8], letters: usize) -> Vec<Vec<u8>> {
    let end = prefix_len(lit, letters);
    let mut out = vec![Vec::with_capacity(end)];
    for &b in &lit[..end] {
        if b.is_ascii_alphabetic() {
            out = out
                .into_iter()
                .flat_map(|v| {
                    let mut u = v.clone();
                    u.push(b.to_ascii_uppercase());
                    let mut l = v;
                    l.push(b.to_ascii_lowercase());
                    [l, u]
                })
                .collect();
        } else {
            out.iter_mut().for_each(|v| v.push(b));
        }
    }
    out
}

/// The length of `lit`'s longest prefix holding at most four letters.
fn variant_len(lit: &[u8]) -> usize {
    prefix_len(lit, 4)
}

/// The length of `lit`'s longest prefix holding at most `max` letters.
pub fn prefix_len(lit: &[u8], max: usize) -> usize {
    let mut letters = 0;
    lit.iter()
        .position(|b| {
            letters += usize::from(b.is_ascii_alphabetic());
            letters > max
        })
        .unwrap_or(lit.len())
}

/// `pat` with every anchor (`^`, `$`, `\A`, `\z`) removed: a superset of it,
/// for searching whole lines with a regex written for one field.
pub fn unanchored(pat: &str) -> Option<String> {
    fn strip(h: &Hir) -> Hir {
        match h.kind() {
            HirKind::Look(
                Look::Start
                | Look::End
                | Look::StartLF
                | Look::EndLF
                | Look::StartCRLF
                | Look::EndCRLF,
            ) => Hir::empty(),
            HirKind::Capture(c) => Hir::capture(regex_syntax::hir::Capture {
                index: c.index,
                name: c.name.clone(),
                sub: Box::new(strip(&c.sub)),
            }),
            HirKind::Repetition(r) => Hir::repetition(regex_syntax::hir::Repetition {
                min: r.min,
                max: r.max,
                greedy: r.greedy,
                sub: Box::new(strip(&r.sub)),
            }),
            HirKind::Concat(s) => Hir::concat(s.iter().map(strip).collect()),
            HirKind::Alternation(s) => Hir::alternation(s.iter().map(strip).collect()),
            _ => h.clone(),
        }
    }
    // A leading `(?i)` is kept as such: printed from the syntax tree, it
    // would come out as classes (`[Cc][Oo]…`), hundreds of case variants
    // for the prefilter instead of one case-insensitive literal.
    let (flag, body) = match pat.strip_prefix("(?i)") {
        Some(rest) => ("(?i)", rest),
        None => ("", pat),
    };
    let h = regex_syntax::Parser::new().parse(body).ok()?;
    Some(format!("{flag}{}", strip(&h)))
}

/// A pattern's literals and whether they are matched ignoring ASCII case;
/// `None` when the pattern has no usable literal.
pub fn literals_of(pat: &str) -> Option<(Vec<Vec<u8>>, bool)> {
    // A leading `(?i)` is handled by the searcher; any other inline case flag
    // would need case variants, so such patterns go to the slow path.
    let (body, insensitive) = match pat.strip_prefix("(?i)") {
        Some(rest) => (rest, true),
        None => (pat, false),
    };
    if body.contains("(?i") {
        return None;
    }
    let h = regex_syntax::Parser::new().parse(body).ok()?;
    let mut lits = required(&h, insensitive)?;
    let min = if insensitive {
        MIN_INSENSITIVE
    } else {
        MIN_SENSITIVE
    };
    if lits.iter().any(|l| l.len() < min) {
        return None;
    }
    if insensitive {
        lits.iter_mut().for_each(|l| l.make_ascii_lowercase());
        lits.sort();
        lits.dedup();
    }
    Some((lits, insensitive))
}

/// The literals to search for `pat` (case variants included), or `None` when
/// it has no usable literal.
pub fn compute_searched_literals(pat: &str) -> Option<Vec<Vec<u8>>> {
    let (lits, insensitive) = literals_of(pat)?;
    Some(if insensitive {
        lits.iter().flat_map(|l| case_variants(l)).collect()
    } else {
        lits
    })
}
