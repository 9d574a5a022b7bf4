//! "Did you mean" suggestions for unknown ids, facts and inputs.

/// The candidate closest to `word`, when one is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    ranked(word, candidates, 1).into_iter().next()
}

/// Up to `n` candidates ordered by similarity, dropping those that are far off.
pub fn ranked<'a>(word: &str, candidates: impl Iterator<Item = &'a str>, n: usize) -> Vec<&'a str> {
    let w = word.to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates
        .map(|c| {
            let lc = c.to_ascii_lowercase();
            let mut s = strsim::jaro_winkler(&w, &lc);
            if !w.is_empty() && (lc.contains(&w) || w.contains(&lc)) {
                s = s.max(0.9);
            }
            (s, c)
        })
        .filter(|(s, _)| *s >= 0.75)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(n).map(|(_, c)| c).collect()
}
