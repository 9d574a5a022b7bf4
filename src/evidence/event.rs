//! Kubernetes Events as evidence: `Warning BackOff: Back-off restarting
//! failed container` reads like a log line, and the Event says when it was
//! first and last seen (`firstTimestamp`/`lastTimestamp`, or `eventTime` and
//! `series.lastObservedTime` for events.k8s.io-style Events).

use super::time::{At, parse};
use super::{Evidence, Item, Origin};
use serde_json::Value;

/// One Event as an app-log line about its object, with when it was first
/// and last seen.
pub fn evidence(e: &Value) -> (Evidence, Option<At>, Option<At>) {
    let s = |p: &str| e.pointer(p).and_then(Value::as_str).unwrap_or("");
    let line = format!("{} {}: {}", s("/type"), s("/reason"), s("/message"));
    let (first, last) = times(e);
    (
        Evidence {
            item: Item::AppLog {
                message: line.clone(),
            },
            raw: line,
            origin: Origin::Pod {
                namespace: s("/involvedObject/namespace").to_string(),
                pod: s("/involvedObject/name").to_string(),
                container: None,
                line: None,
            },
        },
        first,
        last,
    )
}

/// (first seen, last seen) of an Event.
pub fn times(e: &Value) -> (Option<At>, Option<At>) {
    let t = |p: &str| e.pointer(p).and_then(Value::as_str).and_then(parse);
    let first = t("/firstTimestamp")
        .or_else(|| t("/eventTime"))
        .or_else(|| t("/metadata/creationTimestamp"));
    let last = t("/lastTimestamp")
        .or_else(|| t("/series/lastObservedTime"))
        .or_else(|| t("/eventTime"))
        .or(first);
    (first.or(last), last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_reads_as_a_line_with_its_first_and_last_time() {
        let e = serde_json::json!({"kind": "Event", "type": "Warning", "reason": "BackOff",
            "message": "Back-off restarting failed container",
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-1"},
            "firstTimestamp": "2025-03-01T10:00:00Z", "lastTimestamp": "2025-03-01T10:05:00Z", "count": 12});
        let (ev, first, last) = evidence(&e);
        assert_eq!(
            ev.raw,
            "Warning BackOff: Back-off restarting failed container"
        );
        assert_eq!(first.unwrap().rfc3339(), "2025-03-01T10:00:00Z");
        assert_eq!(last.unwrap().rfc3339(), "2025-03-01T10:05:00Z");
        let e = serde_json::json!({"type": "Normal", "reason": "Pulled", "message": "x",
            "eventTime": "2025-03-01T10:00:00.250000Z"});
        let (_, first, last) = evidence(&e);
        assert_eq!(first, last);
        assert_eq!(first.unwrap().rfc3339(), "2025-03-01T10:00:00.250Z");
    }
}
