//! The bulk log scanner: one pass over a stream, every rule pattern at once.
//!
//! A day of proxy logs is mostly noise. Rather than parsing every line, the
//! scanner searches large line-aligned chunks for the required literals of
//! every pattern (all text patterns of all loaded rules, plus triggers derived
//! from access-log conditions; see [`super::prefilter`]), the way ripgrep
//! does; lines a literal hits are checked against all patterns at once, and
//! only lines that match are parsed and handed to the [`Matcher`], which
//! re-checks them exactly.
//! Memory stays bounded by the chunk size whatever the input size.
//!
//! Candidate lines that parse as access records no rule can act on (most of
//! an istio-proxy log) are dropped before the regex set runs; see
//! [`super::quiet`].
//!
//! Healthy lines are never read, yet the timeline wants the last success
//! before each signal's first error. The scan keeps the position of the last
//! quiet line, and only after a line that the [`Matcher`] reports as some
//! signal's first error looks back over a few lines no literal hit; the few
//! lines it settles on are parsed for their status, upstream and time (see
//! [`Matcher::note_success`]). A success it does not see only makes the last
//! success known earlier, or unknown: a change then keeps the weight the
//! window alone gives it.
//!
//! In this mode `ReadStats.unparseable` counts examined lines that were not
//! valid UTF-8 or held NUL bytes; lines without any match are counted as read
//! but never parsed.

use super::Matcher;
use super::prefilter::{self, Prefilter};
use super::quiet::QuietAccess;
use crate::evidence::{Evidence, InputKind, Item, MAX_LINE, Origin, ReadStats, detect};
use crate::rules::{RuleSet, SignalKind, StatusPat};
use memchr::{memchr, memchr_iter, memrchr};
use regex_automata::meta;
use std::io::{self, Read};

/// Bytes read per chunk; lines are never split across chunks.
const CHUNK: usize = 1 << 20;

/// A compiled prefilter over every rule's text patterns and access triggers.
pub struct Scanner {
    prefilter: Prefilter,
    /// Every pattern at once, run on each candidate line.
    verify: Option<meta::Regex>,
    patterns: Vec<String>,
    /// The access-line fast path; `None` when switched off or not buildable.
    /// Asked of a *weak* candidate before the regex set runs (the fast path),
    /// and of any other candidate no pattern matched, so that every access
    /// record is counted and names its mesh on both paths.
    quiet: Option<QuietAccess>,
}

/// One regex per access-log condition that any line satisfying it must match:
/// of the condition's parts (all required), the one with the best literal.
fn access_triggers(rules: &RuleSet) -> Vec<String> {
    let mut out = Vec::new();
    for r in &rules.rules {
        for s in &r.signals {
            let SignalKind::Access(c) = &s.kind else {
                continue;
            };
            // Every part is required; the first (most selective kind) with a
            // usable literal becomes the trigger: flags (errors only), status,
            // the free text, the failure reason, and last the details (often
            // the ubiquitous `via_upstream`). Without any literal, the first.
            let mut parts: Vec<String> = Vec::new();
            let flags: Vec<String> = c
                .flags
                .iter()
                .filter(|f| f.as_str() != "-")
                .map(|f| regex::escape(f))
                .collect();
            if !flags.is_empty() {
                // Flags stand alone or comma-joined: ` UF `, `UF,URX`, `"response_flags":"UF"`.
                parts.push(format!(r"\b(?:{})\b", flags.join("|")));
            }
            if !c.status.is_empty() {
                let codes: Vec<String> = c
                    .status
                    .iter()
                    .map(|p| match p {
                        StatusPat::Code(c) => c.to_string(),
                        StatusPat::Class(c) => format!(r"{c}\d\d"),
                    })
                    .collect();
                // Only where an access-log parser reads a status: after the
                // quoted request (TEXT formats), as the JSON `response_code`,
                // or as a key=value status. A bare `\b5\d\d\b` matches every
                // duration, byte count and port in the noise.
                parts.push(format!(
                    r#"(?:" |"\t|"  +|"response_code"\s*:\s*"?|\b(?:status|response_code|code)="?)(?:{})\b"#,
                    codes.join("|")
                ));
            }
            if let Some(t) = &c.text {
                parts.push(t.as_str().to_string());
            }
            // Field regexes may be anchored to their field; on a whole line
            // only the unanchored form is a safe trigger.
            for field in [&c.failure, &c.details].into_iter().flatten() {
                parts.extend(prefilter::unanchored(field.as_str()));
            }
            let best = parts
                .iter()
                .find(|p| prefilter::literals_of(p).is_some())
                .or(parts.first())
                .cloned();
            out.extend(best);
        }
    }
    out.sort();
    out.dedup();
    out
}

impl Scanner {
    pub fn new(rules: &RuleSet) -> Self {
        let mut patterns: Vec<String> = Vec::new();
        for r in &rules.rules {
            for s in &r.signals {
                if let SignalKind::Text { regex, .. } = &s.kind {
                    patterns.push(regex.as_str().to_string());
                }
            }
        }
        patterns.extend(access_triggers(rules));
        patterns.sort();
        patterns.dedup();
        let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
        let quiet = QuietAccess::new(rules);
        Scanner {
            prefilter: Prefilter::with_strong(
                &patterns,
                quiet.as_ref().map(|q| q.strong_literals()),
            ),
            verify: prefilter::regex_set(&refs),
            patterns,
            quiet,
        }
    }

    /// A scanner without the access-line fast path ([`super::quiet`]): every
    /// candidate line runs the regex set. For tests that compare the two.
    pub fn without_fast_path(rules: &RuleSet) -> Self {
        let mut s = Scanner::new(rules);
        // Without a strong literal set no candidate is weak: the gate is
        // asked only after the regex set found nothing.
        s.prefilter = Prefilter::new(&s.patterns);
        s
    }

    /// Patterns without a usable literal: each costs the scan a regex pass
    /// over every byte.
    pub fn slow_patterns(&self) -> impl Iterator<Item = &str> {
        self.prefilter
            .slow_patterns()
            .iter()
            .map(|&i| self.patterns[i].as_str())
    }

    /// Every pattern the prefilter runs, one per entry.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Scans a stream, feeding every candidate line to `m`.
    pub fn scan<R: Read>(
        &self,
        mut r: R,
        kind: InputKind,
        origin: &Origin,
        m: &mut Matcher,
    ) -> io::Result<ReadStats> {
        let mut stats = ReadStats::default();
        let mut buf = vec![0u8; CHUNK];
        let mut filled = 0usize;
        let mut line_base = 0u64;
        let mut skipping = false;
        loop {
            let n = match r.read(&mut buf[filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            stats.bytes += n as u64;
            filled += n;
            let eof = n == 0;
            if skipping {
                // Inside an oversized line: drop bytes up to its newline.
                match memchr(b'\n', &buf[..filled]) {
                    Some(i) => {
                        buf.copy_within(i + 1..filled, 0);
                        filled -= i + 1;
                        line_base += 1;
                        stats.lines += 1;
                        skipping = false;
                    }
                    None => {
                        filled = 0;
                        if eof {
                            stats.lines += 1;
                            break;
                        }
                        continue;
                    }
                }
            }
            let end = if eof {
                filled
            } else {
                match memrchr(b'\n', &buf[..filled]) {
                    Some(i) => i + 1,
                    None if filled == buf.len() => {
                        // One line longer than a whole chunk.
                        stats.oversized += 1;
                        skipping = true;
                        filled = 0;
                        continue;
                    }
                    None => continue,
                }
            };
            line_base = self.block(&buf[..end], line_base, kind, origin, m, &mut stats);
            buf.copy_within(end..filled, 0);
            filled -= end;
            if eof {
                break;
            }
        }
        Ok(stats)
    }

    /// Processes whole lines; returns the line number after the block.
    fn block(
        &self,
        block: &[u8],
        base: u64,
        kind: InputKind,
        origin: &Origin,
        m: &mut Matcher,
        stats: &mut ReadStats,
    ) -> u64 {
        let newlines = memchr_iter(b'\n', block).count() as u64;
        // Blocks end at a newline (or the end of the input), so a character
        // is never split across two: invalid here is invalid in the input.
        if std::str::from_utf8(block).is_err() {
            stats.not_utf8 += 1;
        }
        let trailing = u64::from(!block.is_empty() && block.last() != Some(&b'\n'));
        stats.lines += newlines + trailing;
        let Some(verify) = &self.verify else {
            return base + newlines;
        };
        let mut cands = Vec::new();
        self.prefilter.candidates_marked(block, &mut cands);
        let mut counted_to = 0;
        let mut line_no = base;
        // Successes for the timeline: the last quiet line not yet reported,
        // and where the lines no literal hit begin.
        let mut quiet_ok: Option<(usize, usize)> = None;
        let mut gap_from = 0;
        for (start, end, weak) in cands {
            line_no += memchr_iter(b'\n', &block[counted_to..start]).count() as u64;
            counted_to = start;
            let line = &block[start..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > MAX_LINE {
                stats.oversized += 1;
            } else if weak
                && let Some(q) = &self.quiet
                && quiet_line(q, line, kind, m, stats)
            {
                // An access record no rule can act on: read, not verified.
                // Whether it is a success is asked only if it is wanted.
                quiet_ok = Some((start, end));
            } else if verify.is_match(line) {
                self.line(line, line_no + 1, kind, origin, m, stats);
                // The first error of a signal: the success before it.
                if let Some(up) = m.wants_success().map(str::to_string) {
                    last_success(block, gap_from..start, &mut quiet_ok, Some(&up), origin, m);
                    m.settle();
                }
            } else if !weak
                && let Some(q) = &self.quiet
                && quiet_line(q, line, kind, m, stats)
            {
                // A line no pattern matched is read as the access record it
                // may be (a weak line was asked above): a strong literal in a
                // healthy record (`sidecar` in its path) sent it to the regex
                // set instead of the gate, and it still names its mesh.
                quiet_ok = Some((start, end));
            }
            gap_from = end;
        }
        last_success(block, gap_from..block.len(), &mut quiet_ok, None, origin, m);
        base + newlines
    }

    fn line(
        &self,
        line: &[u8],
        n: u64,
        kind: InputKind,
        origin: &Origin,
        m: &mut Matcher,
        stats: &mut ReadStats,
    ) {
        let text = match std::str::from_utf8(line) {
            Ok(t) if !t.contains('\0') => std::borrow::Cow::Borrowed(t),
            _ => {
                stats.unparseable += 1;
                String::from_utf8_lossy(line).replace('\0', "").into()
            }
        };
        // A candidate line in a collector's wrapper (CRI, --timestamps,
        // stern, docker json-file) is read as the line inside, as `explain` does.
        let inner = crate::evidence::wrap::unwrap_line(&text);
        let text: &str = &inner.line;
        let mut item = match kind {
            InputKind::AppLog => Item::AppLog {
                message: text.to_string(),
            },
            _ => detect::classify_line(text).unwrap_or_else(|| Item::AppLog {
                message: text.to_string(),
            }),
        };
        // The collector's time (`--timestamps`, CRI) when the line has none.
        if let Some(ts) = &inner.timestamp {
            detect::set_timestamp(&mut item, ts.clone());
        }
        stats.count(&item);
        m.observe(&Evidence {
            item,
            raw: text.to_string(),
            origin: origin.at_line(n),
        });
    }
}

/// Lines before the first error of a signal that the scan looks back over
/// for a success among the lines no literal hit. A success further back, or
/// none, only makes the last success earlier, which keeps a change in the
/// window rather than ruling it out.
const LOOKBACK: usize = 4;

/// `true` when `line` is an access record no rule can act on; it is counted,
/// and its mesh noted, as an observed record would be.
fn quiet_line(
    q: &QuietAccess,
    line: &[u8],
    kind: InputKind,
    m: &mut Matcher,
    stats: &mut ReadStats,
) -> bool {
    // An app-log input reads every line as text; binary lines take the
    // usual path, which counts them.
    if kind == InputKind::AppLog {
        return false;
    }
    let Ok(text) = std::str::from_utf8(line) else {
        return false;
    };
    if text.contains('\0') {
        return false;
    }
    let Some(rec) = q.record(text) else {
        return false;
    };
    let item = Item::Access(rec);
    stats.count(&item);
    m.note_mesh(&item, text);
    true
}

/// Tells `m` the latest success before the lines `gap` of `block` end, to
/// upstream `want` (any, at the end of a block): a success among the last
/// [`LOOKBACK`] lines of the gap (no literal hit them, so they were never
/// read), and the last quiet line `quiet_ok` if it is one (taken at the end
/// of a block). Only these few lines are parsed for their time: the scan reads
/// healthy lines no more than it did. Rare (once per signal and per
/// block): out of line.
#[cold]
fn last_success(
    block: &[u8],
    gap: std::ops::Range<usize>,
    quiet_ok: &mut Option<(usize, usize)>,
    want: Option<&str>,
    origin: &Origin,
    m: &mut Matcher,
) {
    let wanted = |up: &str| want.is_none_or(|w| w == up);
    let mut end = gap.end;
    for _ in 0..LOOKBACK {
        if end > gap.start && block[end - 1] == b'\n' {
            end -= 1;
        }
        if end <= gap.start {
            break;
        }
        let start = memrchr(b'\n', &block[gap.start..end]).map_or(gap.start, |i| gap.start + i + 1);
        if let Some((at, up)) = success_time(&block[start..end])
            && wanted(&up)
        {
            m.note_success(origin, &up, at);
            break;
        }
        end = start;
    }
    let q = if want.is_none() {
        quiet_ok.take()
    } else {
        *quiet_ok
    };
    if let Some((s, e)) = q
        && let Some((at, up)) = success_time(&block[s..e])
        && wanted(&up)
    {
        m.note_success(origin, &up, at);
    }
}

/// The time and upstream of `line` when it is a successful access record
/// with both: its own `start_time`, else its collector's (`--timestamps`,
/// CRI); its upstream cluster, else its authority.
fn success_time(line: &[u8]) -> Option<(crate::evidence::time::At, String)> {
    let line = std::str::from_utf8(line).ok()?.trim_end();
    if line.is_empty() {
        return None;
    }
    let inner = crate::evidence::wrap::unwrap_line(line);
    // The lite parse tells a success; the full one, for a success only,
    // its time (the lite one skips it).
    if !crate::evidence::access::parse_line_lite(&inner.line).is_some_and(|r| r.is_success()) {
        return None;
    }
    let rec = crate::evidence::access::parse_line(&inner.line)?;
    let parse = crate::evidence::time::parse;
    let at = rec
        .start_time
        .as_deref()
        .and_then(parse)
        .or_else(|| inner.timestamp.as_deref().and_then(parse))?;
    Some((at, super::upstream_of(&rec)?.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in pattern has a literal the prefilter can find: one
    /// without (a `(?i)` over a whole alternative, say) is run over every
    /// byte and costs the scan about a fifth of its speed.
    #[test]
    fn every_built_in_pattern_has_a_required_literal() {
        let rules = crate::rules::load_builtin().expect("built-in rules load");
        let s = Scanner::new(&rules);
        let slow: Vec<&str> = s.slow_patterns().collect();
        assert!(slow.is_empty(), "scanned byte by byte: {slow:#?}");
    }

    /// A healthy access text line is no candidate at all, and a healthy JSON
    /// record at most a weak one (the access-line gate reads it without the
    /// regex set): a pattern whose literal hits such lines (the
    /// case-insensitive literals of one prose pattern did) sends every line
    /// of an istio-proxy log through a parse and costs a fifth of the speed.
    #[test]
    fn healthy_access_lines_are_no_candidates() {
        let rules = crate::rules::load_builtin().expect("built-in rules load");
        let s = Scanner::new(&rules);
        let h2 = r#"[2024-05-06T14:24:17.947Z] "GET /ratings/1 HTTP/2" 200 - via_upstream - "-" 469 7431 842 842 "-" "okhttp/4.12.0" "66b2bc5b-448a-10f1-3602-f162e9c349e0" "svc-37.shop.svc.cluster.local:8080" "10.161.108.255:8080" outbound|8080||svc-37.shop.svc.cluster.local 10.142.3.81:52876 10.96.0.1:8080 10.142.3.81:41000 - default"#;
        for l in [OK_19, OK_OLD, h2] {
            let mut out = Vec::new();
            s.prefilter
                .candidates_marked(format!("{l}\n").as_bytes(), &mut out);
            assert!(
                out.is_empty(),
                "a pattern's literal makes a healthy access line a candidate: {l}"
            );
        }
        let json = r#"{"start_time":"2026-01-12T15:02:58.363Z","method":"GET","path":"/api/v1/orders","protocol":"HTTP/1.1","response_code":200,"response_flags":"-","response_code_details":"via_upstream","bytes_received":0,"upstream_cluster":"outbound|8080||web.default.svc.cluster.local"}"#;
        let mut out = Vec::new();
        s.prefilter
            .candidates_marked(format!("{json}\n").as_bytes(), &mut out);
        assert!(
            out.iter().all(|(_, _, weak)| *weak),
            "a healthy JSON record is a strong candidate"
        );
    }

    const OK_19: &str = r#""GET /api HTTP/1.1" 200 - via_upstream - "-" 0 135 4 4 "-" "curl/8.4.0" "8496" "web:80" "10.44.1.27:80" outbound|80||web.shop.svc.cluster.local 10.44.1.23:37652 10.96.0.1:80 10.44.1.23:46520 - default"#;
    const OK_OLD: &str = r#""GET /api HTTP/1.1" 200 - "-" "-" 0 135 4 4 "-" "curl/8.4.0" "8496" "web:80" "10.44.1.27:80" outbound|80||web.shop.svc.cluster.local 10.44.1.23:37652 10.96.0.1:80 10.44.1.23:46520 - default"#;
    const UF: &str = r#""GET /api HTTP/1.1" 503 UF upstream_reset_before_response_started{connection_failure} - "-" 0 91 0 - "-" "curl/8.4.0" "8497" "web:80" "10.44.1.27:80" outbound|80||web.shop.svc.cluster.local - 10.96.0.1:80 10.44.1.23:46522 - default"#;

    /// The last success before the first error of each signal of `log`,
    /// scanned by `scanner`.
    fn oks(scanner: &Scanner, rules: &RuleSet, log: &str) -> Vec<(String, Option<String>)> {
        let mut m = Matcher::new(rules);
        scanner
            .scan(
                log.as_bytes(),
                InputKind::Auto,
                &Origin::file("istio-proxy.log", None),
                &mut m,
            )
            .unwrap();
        let mut out: Vec<(String, Option<String>)> = m
            .finish()
            .iter()
            .flat_map(|f| f.signals.iter())
            .filter(|s| s.family == "access-log")
            .map(|s| (s.name.clone(), s.ok_before.map(|a| a.rfc3339())))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn the_last_success_before_the_first_error_is_known_on_the_fast_and_the_slow_path() {
        let rules = crate::rules::load_builtin().expect("built-in rules");
        let at = |t: &str, l: &str| format!("[2025-03-01T10:00:{t}Z] {l}\n");
        // Successes the fast path reads (1.9+, `via_upstream`) and lines no
        // literal hits (the pre-1.9 layout, an app line), then errors with a
        // success between them that comes after the first.
        let log = [
            at("00.000", OK_19),
            at("01.000", OK_19),
            at("02.500", OK_OLD),
            "2025-03-01T10:00:03.000Z INFO app: cache warmed\n".to_string(),
            at("05.000", UF),
            at("06.000", OK_19),
            at("07.000", UF),
        ]
        .concat();
        for scanner in [Scanner::new(&rules), Scanner::without_fast_path(&rules)] {
            let got = oks(&scanner, &rules, &log);
            assert!(!got.is_empty(), "no access-log signal");
            for (sig, ok) in got {
                assert_eq!(ok.as_deref(), Some("2025-03-01T10:00:02.500Z"), "{sig}");
            }
        }
        // Successes only on the fast path, none among the lines just before.
        let log = [
            at("00.000", OK_19),
            at("01.000", OK_19),
            "2025-03-01T10:00:03.000Z INFO app: cache warmed\n".to_string(),
            at("05.000", UF),
        ]
        .concat();
        for (_, ok) in oks(&Scanner::new(&rules), &rules, &log) {
            assert_eq!(ok.as_deref(), Some("2025-03-01T10:00:01Z"));
        }
        // A success to another upstream says nothing of errors to `web`:
        // never their last success (the one to `web` before it may be).
        let other = OK_19.replace("web.shop", "cart.shop");
        let log = [at("00.000", OK_19), at("01.000", &other), at("05.000", UF)].concat();
        for scanner in [Scanner::new(&rules), Scanner::without_fast_path(&rules)] {
            for (sig, ok) in oks(&scanner, &rules, &log) {
                assert!(
                    ok.is_none() || ok.as_deref() == Some("2025-03-01T10:00:00Z"),
                    "{sig}: {ok:?}"
                );
            }
        }
        // No success before the errors: none.
        let log = [at("05.000", UF), at("06.000", OK_19)].concat();
        for (_, ok) in oks(&Scanner::new(&rules), &rules, &log) {
            assert_eq!(ok, None);
        }
    }
}
