//! The literals searched for a pattern, with the built-in pack's computed at
//! build time.
//!
//! Extracting a pattern's required literals parses it into a syntax tree:
//! about a tenth of a millisecond each, most of what `explain` spent on a
//! pasted line before any matching began. `build.rs` runs the same code
//! ([`super::required`]) over every `match:` pattern of `rules/` and embeds
//! the results; a pattern found there is not parsed again. Any other pattern
//! (user rules, synthetic triggers) is computed as before.

pub use super::required::*;

mod table {
    include!(concat!(env!("OUT_DIR"), "/builtin_literals.rs"));
}

/// The literals to search for `pat` (case variants included), or `None` when
/// it has no usable literal.
pub fn searched_literals(pat: &str) -> Option<Vec<Vec<u8>>> {
    match table::BUILTIN_LITERALS.binary_search_by(|(p, _)| (*p).cmp(pat)) {
        Ok(i) => table::BUILTIN_LITERALS[i]
            .1
            .map(|lits| lits.iter().map(|l| l.to_vec()).collect()),
        Err(_) => compute_searched_literals(pat),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table holds what the code computes now: a stale build script
    /// output (or a change to the extraction) cannot go unnoticed.
    #[test]
    fn the_build_time_table_matches_the_extraction() {
        assert!(!table::BUILTIN_LITERALS.is_empty());
        for (pat, lits) in table::BUILTIN_LITERALS {
            let now = compute_searched_literals(pat);
            let then: Option<Vec<Vec<u8>>> = lits.map(|l| l.iter().map(|x| x.to_vec()).collect());
            assert_eq!(now, then, "{pat}");
        }
    }
}
