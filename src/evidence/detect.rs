//! Turns raw text of unknown shape into typed evidence: decides whether a text
//! is one block (metrics exposition, curl transcript, header block, a
//! pretty-printed JSON record) or a stream of lines, and which parser reads each line.

use super::{Evidence, InputKind, Item, Origin, ReadStats};

/// Reads a whole text (a pasted input, a small file) into evidence.
pub fn read_text(text: &str, kind: InputKind, origin: &Origin) -> (Vec<Evidence>, ReadStats) {
    let mut stats = ReadStats::default();
    let mut out = Vec::new();
    let _ = kind;
    for (i, line) in text.lines().enumerate() {
        stats.lines += 1;
        stats.bytes += line.len() as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let item = classify_line(line).unwrap_or(Item::AppLog {
            message: line.to_string(),
        });
        stats.count(&item);
        out.push(Evidence {
            item,
            raw: line.to_string(),
            origin: origin.at_line(i as u64 + 1),
        });
    }
    (out, stats)
}

/// Parses one line with the first parser that accepts it.
pub fn classify_line(line: &str) -> Option<Item> {
    if let Some(a) = super::access::parse_line(line) {
        return Some(Item::Access(a));
    }
    if let Some(p) = super::linkerd::parse_line(line) {
        return Some(Item::ProxyLog(p));
    }
    if let Some(e) = super::envoy::parse_line(line) {
        return Some(Item::EnvoyLog(e));
    }
    None
}
