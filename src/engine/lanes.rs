//! Which lines of a block contain any of a set of literals: one Aho-Corasick
//! DFA, stepped over several parts of the block at once.
//!
//! A DFA step is a table load whose address depends on the previous step's
//! result, so a single search runs at the speed of one load after another
//! (about 650 MB/s on the bench machine), whatever the automaton's size.
//! Cutting the block at line boundaries into [`LANES`] lanes and stepping them
//! together keeps that many independent loads in flight: the literal search of
//! the scan bench went from 0.49 s to 0.21 s on 318 MB (2.3x) with three lanes;
//! two gave 1.9x, four 2.0x, six 1.9x and eight 1.6x (likely register
//! pressure).
//!
//! Once a lane finds a literal it records the line and resumes at the next
//! line's start, in the automaton's start state: what a fresh search from
//! there would do, so the lines found are exactly those a plain search finds.
//!
//! Literals may be marked *weak*: a weak hit records its line as weak and the
//! lane steps on through the same line (the automaton finds every occurrence
//! when stepped on from a match state), so a later strong hit in that line
//! still makes it strong. A line is weak when all its hits are weak.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::{Builder, DFA};
use aho_corasick::{Anchored, MatchKind, StartKind};
use memchr::{memchr, memrchr};

/// Lanes stepped together (measured: see the module doc).
const LANES: usize = 3;
const _: () = assert!(
    LANES == 3,
    "LineFinder::lines steps three lanes, written out"
);

/// A compiled literal set.
pub struct LineFinder {
    dfa: DFA,
    start: StateID,
    /// Per literal: weak (see the module doc).
    weak: Vec<bool>,
}

impl LineFinder {
    /// `None` when there are no literals, one is empty, or the automaton
    /// cannot be built. `weak[i]` marks literal `i` weak (missing: strong).
    pub fn new<P: AsRef<[u8]>>(literals: &[P], weak: Vec<bool>) -> Option<Self> {
        if literals.is_empty() || literals.iter().any(|l| l.as_ref().is_empty()) {
            return None;
        }
        // Standard semantics: a match state is entered wherever any literal
        // ends, which is all a line filter needs. No prefilter, so only
        // match states are special and the inner loop tests one comparison.
        let dfa = Builder::new()
            .match_kind(MatchKind::Standard)
            .start_kind(StartKind::Unanchored)
            .prefilter(false)
            .build(literals)
            .ok()?;
        let start = dfa.start_state(Anchored::No).ok()?;
        Some(LineFinder { dfa, start, weak })
    }

    /// Appends the `(start, end, weak)` of every line of `block` that contains
    /// a literal (its byte range without the newline, and whether all its hits
    /// are weak), in order, each once.
    ///
    /// Compiled on its own: inlined into the scan's block loop, the lane
    /// loop's unrolling came and went with unrelated edits to that loop
    /// (4 % more instructions on the mixed benchmark log, 2026-12-07).
    #[inline(never)]
    pub fn lines(&self, block: &[u8], out: &mut Vec<(usize, usize, bool)>) {
        let from = out.len();
        let n = block.len();
        // Lane k covers [cut(k), cut(k + 1)): whole lines.
        let cut = |k: usize| match k {
            0 => 0,
            k if k >= LANES => n,
            k => {
                let at = n * k / LANES;
                memchr(b'\n', &block[at..]).map_or(n, |i| at + i + 1)
            }
        };
        let mut pos: [usize; LANES] = std::array::from_fn(cut);
        let end: [usize; LANES] = std::array::from_fn(|k| cut(k + 1));
        let mut sid = [self.start; LANES];
        // Per lane: the index in `out` of the weak line it is stepping through.
        let mut open: [Option<usize>; LANES] = [None; LANES];
        let d = &self.dfa;
        loop {
            let steps = (0..LANES).map(|k| end[k] - pos[k]).min().unwrap_or(0);
            if steps == 0 {
                break;
            }
            let mut special = false;
            // The lanes' steps written out: as a loop over the lanes, its
            // unrolling (and the bounds checks) came and went with unrelated
            // edits elsewhere in the crate (±4 % of the scan's instructions).
            // Slices of exactly `steps` bytes let the indexing go unchecked.
            let [p0, p1, p2] = pos;
            let (l0, l1, l2) = (
                &block[p0..p0 + steps],
                &block[p1..p1 + steps],
                &block[p2..p2 + steps],
            );
            let [mut s0, mut s1, mut s2] = sid;
            let mut taken = steps;
            for i in 0..steps {
                s0 = d.next_state(Anchored::No, s0, l0[i]);
                s1 = d.next_state(Anchored::No, s1, l1[i]);
                s2 = d.next_state(Anchored::No, s2, l2[i]);
                if d.is_special(s0) | d.is_special(s1) | d.is_special(s2) {
                    taken = i + 1;
                    special = true;
                    break;
                }
            }
            sid = [s0, s1, s2];
            for p in &mut pos {
                *p += taken;
            }
            if special {
                for k in 0..LANES {
                    if d.is_match(sid[k])
                        && let Some(p) = self.hit(block, pos[k] - 1, sid[k], &mut open[k], out)
                    {
                        pos[k] = p.min(end[k]);
                        sid[k] = self.start;
                    }
                }
            }
        }
        // The lanes that are left, one at a time.
        for k in 0..LANES {
            let (mut p, mut s) = (pos[k], sid[k]);
            while p < end[k] {
                s = d.next_state(Anchored::No, s, block[p]);
                p += 1;
                if d.is_match(s)
                    && let Some(next) = self.hit(block, p - 1, s, &mut open[k], out)
                {
                    p = next.min(end[k]);
                    s = self.start;
                }
            }
        }
        out[from..].sort_unstable();
    }

    /// Records the line holding byte `at`, where the literals of match state
    /// `sid` end. A strong hit returns where the lane goes on (the next
    /// line's start, in the start state); a weak one records the line as weak
    /// (once: `open` is the lane's weak line) and lets the lane step on.
    fn hit(
        &self,
        block: &[u8],
        at: usize,
        sid: StateID,
        open: &mut Option<usize>,
        out: &mut Vec<(usize, usize, bool)>,
    ) -> Option<usize> {
        let d = &self.dfa;
        let weak = (0..d.match_len(sid)).all(|i| {
            let p = d.match_pattern(sid, i).as_usize();
            self.weak.get(p).copied().unwrap_or(false)
        });
        // Still inside the lane's open weak line?
        let cur = open.filter(|&ix| at <= out[ix].1);
        if weak {
            if cur.is_none() {
                let (start, end) = line_around(block, at);
                out.push((start, end, true));
                *open = Some(out.len() - 1);
            }
            return None;
        }
        *open = None;
        let end = match cur {
            Some(ix) => {
                out[ix].2 = false;
                out[ix].1
            }
            None => {
                let (start, end) = line_around(block, at);
                out.push((start, end, false));
                end
            }
        };
        Some(end + 1)
    }
}

/// The `(start, end)` byte range (without the newline) of the line of `block`
/// holding byte `at`.
pub fn line_around(block: &[u8], at: usize) -> (usize, usize) {
    let start = memrchr(b'\n', &block[..at]).map_or(0, |i| i + 1);
    let end = memchr(b'\n', &block[at..]).map_or(block.len(), |i| at + i);
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines a plain search finds: each line that contains a literal.
    fn naive(block: &[u8], lits: &[&[u8]]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start = 0;
        while start <= block.len() {
            let end = memchr(b'\n', &block[start..]).map_or(block.len(), |i| start + i);
            let line = &block[start..end];
            if lits.iter().any(|l| memchr::memmem::find(line, l).is_some()) {
                out.push((start, end));
            }
            if end == block.len() {
                break;
            }
            start = end + 1;
        }
        out
    }

    fn found(block: &[u8], lits: &[&[u8]]) -> Vec<(usize, usize)> {
        marked(block, lits, vec![])
            .into_iter()
            .map(|(s, e, weak)| {
                assert!(!weak);
                (s, e)
            })
            .collect()
    }

    /// A small deterministic generator (xorshift) of blocks made of a few
    /// letters, spaces and newlines, so literals occur, overlap and straddle
    /// lane cuts.
    struct Blocks(u64);

    impl Blocks {
        fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn next_block(&mut self) -> Vec<u8> {
            let len = (self.next_u64() % 200) as usize;
            (0..len)
                .map(|_| match self.next_u64() % 8 {
                    0 => b'\n',
                    1 => b' ',
                    2 | 3 => b'a',
                    4 | 5 => b'b',
                    _ => b'c',
                })
                .collect()
        }
    }

    fn marked(block: &[u8], lits: &[&[u8]], weak: Vec<bool>) -> Vec<(usize, usize, bool)> {
        let f = LineFinder::new(lits, weak).unwrap();
        let mut out = vec![(7, 7, false)]; // what was there stays
        f.lines(block, &mut out);
        assert_eq!(out.remove(0), (7, 7, false));
        out
    }

    #[test]
    fn finds_exactly_the_lines_a_plain_search_finds() {
        let lits: &[&[u8]] = &[b"UF", b"fail-fast", b"upstream reset", b"zz"];
        for block in [
            &b""[..],
            b"\n",
            b"UF",
            b"UF\n",
            b"\nUF",
            b"no\nno\nno",
            b"a UF b UF c\nfail-fast\n\nupstream reset\nzz",
            b"upstream re\nset UF",
            b"zzzzzz\nzz\nz\nz\nzzz\n\n\nzz",
        ] {
            assert_eq!(found(block, lits), naive(block, lits), "{block:?}");
        }
    }

    #[test]
    fn agrees_with_a_plain_search_on_many_generated_blocks() {
        let mut blocks = Blocks(0x9E37_79B9_7F4A_7C15);
        let lits: &[&[u8]] = &[b"ab", b"bca", b"c c", b"aaaa"];
        for round in 0..2000 {
            let block = blocks.next_block();
            assert_eq!(
                found(&block, lits),
                naive(&block, lits),
                "round {round}: {:?}",
                String::from_utf8_lossy(&block)
            );
        }
    }

    #[test]
    fn no_literals_no_finder() {
        assert!(LineFinder::new::<&[u8]>(&[], vec![]).is_none());
        assert!(LineFinder::new(&[&b""[..], b"x"], vec![]).is_none());
    }

    #[test]
    fn a_line_is_weak_only_when_every_hit_in_it_is_weak() {
        // A plain search per line: found when any literal occurs; weak when
        // no strong literal does.
        let lits: &[&[u8]] = &[b"ab", b"bca", b"c c", b"aaaa"];
        let weak = vec![true, false, true, false];
        let mut blocks = Blocks(0x2545_F491_4F6C_DD1D);
        for round in 0..3000 {
            let block = blocks.next_block();
            let want: Vec<(usize, usize, bool)> = naive(&block, lits)
                .into_iter()
                .map(|(s, e)| {
                    let line = &block[s..e];
                    let strong = lits
                        .iter()
                        .zip(&weak)
                        .any(|(l, w)| !w && memchr::memmem::find(line, l).is_some());
                    (s, e, !strong)
                })
                .collect();
            assert_eq!(
                marked(&block, lits, weak.clone()),
                want,
                "round {round}: {:?}",
                String::from_utf8_lossy(&block)
            );
        }
    }
}
