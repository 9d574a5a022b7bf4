//! Absolute times for evidence: every timestamp shape an item may carry,
//! normalised to one UTC instant ([`At`]), and the container clock that turns
//! a Linkerd proxy's uptime stamp (`[   12.345s]`) into wall-clock time.
//!
//! What an item's time is, in order:
//! 1. its own wall-clock stamp or the collector's (`kubectl logs
//!    --timestamps`, CRI, docker json-file), already copied into the item by
//!    the reader: `ProxyLogEvent.timestamp`, `EnvoyLogEvent.timestamp`,
//!    `AccessRecord.start_time`;
//! 2. for a Linkerd line with only an uptime, the container's start time
//!    (`status.containerStatuses[].state.running.startedAt`, or for a
//!    previous log `lastState.terminated.startedAt`) plus the uptime.
//!
//! Stamps without a date (Envoy's `%H:%M:%S`) or in a shipper's own words
//! (`May 5, 2021 @ 06:54:35.675`) give no time: a wrong time would be worse
//! than none on a timeline.

use super::{Evidence, Item, Origin};
use serde::{Serialize, Serializer};
use std::collections::HashMap;
use std::fmt;

/// One instant, in milliseconds since the Unix epoch (UTC). Millisecond
/// precision is what the proxies print; managedFields have whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct At(pub i64);

impl At {
    /// Seconds since the epoch, as `notAfter` and `time` give them.
    pub fn from_secs(s: i64) -> At {
        At(s.saturating_mul(1000))
    }

    /// A system time (`FactOptions::now`).
    pub fn from_system(t: std::time::SystemTime) -> At {
        match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => At(d.as_millis() as i64),
            Err(e) => At(-(e.duration().as_millis() as i64)),
        }
    }

    /// Milliseconds from `self` to `later` (negative when `later` is earlier).
    pub fn until(self, later: At) -> i64 {
        later.0 - self.0
    }

    /// `self` plus a Linkerd uptime in seconds.
    pub fn plus_secs(self, secs: f64) -> At {
        At(self.0 + (secs * 1000.0).round() as i64)
    }

    /// RFC 3339 in UTC, with milliseconds only when there are some:
    /// `2025-03-01T10:00:01Z`, `2025-03-01T10:00:01.250Z`.
    pub fn rfc3339(self) -> String {
        let secs = self.0.div_euclid(1000);
        let ms = self.0.rem_euclid(1000);
        let Ok(t) = time::OffsetDateTime::from_unix_timestamp(secs) else {
            return self.0.to_string();
        };
        let base = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        if ms == 0 {
            format!("{base}Z")
        } else {
            format!("{base}.{ms:03}Z")
        }
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl Serialize for At {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

/// A gap in words: `1 s`, `250 ms`, `4 min`, `2 h 5 min`, `7 d`.
pub fn gap(ms: i64) -> String {
    let a = ms.unsigned_abs();
    if a < 1000 {
        format!("{a} ms")
    } else if a < 60_000 {
        let s = a as f64 / 1000.0;
        if (s - s.round()).abs() < 0.05 {
            format!("{} s", s.round())
        } else {
            format!("{s:.1} s")
        }
    } else if a < 3_600_000 {
        format!("{} min", a / 60_000)
    } else if a < 86_400_000 {
        let m = (a % 3_600_000) / 60_000;
        if m == 0 {
            format!("{} h", a / 3_600_000)
        } else {
            format!("{} h {m} min", a / 3_600_000)
        }
    } else {
        format!("{} d", a / 86_400_000)
    }
}

/// Reads a wall-clock stamp: RFC 3339 (`2024-05-01T10:00:00.123456789Z`,
/// `…+02:00`), the same with a space for `T` and no zone (Envoy's
/// `[2018-06-07 23:03:37.170]`, Linkerd's pasted `2021-02-09 15:47:15.440`;
/// read as UTC), surrounding brackets tolerated. `None` for anything else.
pub fn parse(s: &str) -> Option<At> {
    let s = s
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim();
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        (!t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut ms = 0i64;
    if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
        let start = i + 1;
        let mut j = start;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j == start {
            return None;
        }
        let frac = &s[start..j.min(start + 3)];
        ms = frac.parse::<i64>().ok()? * 10i64.pow(3 - frac.len() as u32);
        i = j;
    }
    let offset_s: i64 = match &s[i..] {
        "" | "Z" | "z" => 0,
        rest if (rest.starts_with('+') || rest.starts_with('-')) && rest.len() >= 3 => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let r = rest[1..].replace(':', "");
            if r.len() != 4 || !r.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let hh: i64 = r[..2].parse().ok()?;
            let mm: i64 = r[2..].parse().ok()?;
            sign * (hh * 3600 + mm * 60)
        }
        _ => return None,
    };
    let month = time::Month::try_from(u8::try_from(mo).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(y).ok()?, month, d as u8).ok()?;
    let t = time::Time::from_hms(h as u8, mi as u8, sec as u8).ok()?;
    let secs = time::PrimitiveDateTime::new(date, t)
        .assume_utc()
        .unix_timestamp()
        - offset_s;
    Some(At(secs * 1000 + ms))
}

/// Which container a log line came from: (namespace, pod, container), the
/// container name without a `.previous` suffix, and whether it is the
/// previous instance's log.
fn container_of(origin: &Origin) -> Option<(String, String, String, bool)> {
    match origin {
        Origin::Pod {
            namespace,
            pod,
            container: Some(c),
            ..
        } => {
            let (name, previous) = match c.strip_suffix(".previous") {
                Some(n) => (n, true),
                None => (c.as_str(), false),
            };
            Some((namespace.clone(), pod.clone(), name.to_string(), previous))
        }
        _ => None,
    }
}

/// Container start times, from pod status: what a Linkerd uptime counts from.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// (namespace, pod, container, previous instance) → start.
    starts: HashMap<(String, String, String, bool), At>,
}

impl Clock {
    /// Start times of every container of the Pods among `objects`.
    pub fn of_pods<'a>(objects: impl IntoIterator<Item = &'a serde_json::Value>) -> Clock {
        let mut c = Clock::default();
        for o in objects {
            if o.get("kind").and_then(|k| k.as_str()) != Some("Pod") {
                continue;
            }
            let s = |p: &str| o.pointer(p).and_then(|v| v.as_str()).unwrap_or("");
            let (ns, pod) = (s("/metadata/namespace"), s("/metadata/name"));
            for list in ["/status/containerStatuses", "/status/initContainerStatuses"] {
                for st in o
                    .pointer(list)
                    .and_then(|v| v.as_array())
                    .into_iter()
                    .flatten()
                {
                    let name = st.get("name").and_then(|v| v.as_str()).unwrap_or("");
                    let t = |p: &str| st.pointer(p).and_then(|v| v.as_str()).and_then(parse);
                    if let Some(at) = t("/state/running/startedAt") {
                        c.set(ns, pod, name, false, at);
                    }
                    if let Some(at) = t("/lastState/terminated/startedAt") {
                        c.set(ns, pod, name, true, at);
                    }
                }
            }
        }
        c
    }

    /// Records a container's start.
    pub fn set(&mut self, ns: &str, pod: &str, container: &str, previous: bool, at: At) {
        self.starts
            .insert((ns.into(), pod.into(), container.into(), previous), at);
    }

    /// When the container whose log `origin` names started.
    pub fn start_of(&self, origin: &Origin) -> Option<At> {
        let key = container_of(origin)?;
        self.starts.get(&key).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
}

/// What an item says of its own time, before any clock is known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stamp {
    None,
    /// A wall-clock instant.
    At(At),
    /// Seconds since the proxy started (Linkerd `[ 12.345s]`).
    Uptime(f64),
}

/// The time an evidence item carries: its wall-clock stamp wins (the
/// `--timestamps` prefix was copied into it by the reader), else a Linkerd
/// uptime.
pub fn stamp_of(ev: &Evidence) -> Stamp {
    let wall = match &ev.item {
        Item::ProxyLog(p) => p.timestamp.as_deref(),
        Item::EnvoyLog(e) => e.timestamp.as_deref(),
        Item::Access(a) => a.start_time.as_deref(),
        _ => None,
    };
    if let Some(at) = wall.and_then(parse) {
        return Stamp::At(at);
    }
    match &ev.item {
        Item::ProxyLog(p) => p.uptime.map(Stamp::Uptime).unwrap_or(Stamp::None),
        _ => Stamp::None,
    }
}

/// The absolute time of an item, with `clock` for uptime stamps.
pub fn time_of(ev: &Evidence, clock: &Clock) -> Option<At> {
    match stamp_of(ev) {
        Stamp::At(at) => Some(at),
        Stamp::Uptime(up) => clock.start_of(&ev.origin).map(|s| s.plus_secs(up)),
        Stamp::None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::detect;

    #[test]
    fn every_stamp_shape_reads_as_the_same_utc_instant() {
        let want = parse("2024-05-01T10:00:00.123Z").unwrap();
        for s in [
            "2024-05-01T10:00:00.123456789Z",
            "[2024-05-01T10:00:00.123Z]",
            "2024-05-01T12:00:00.123+02:00",
            "2024-05-01T05:30:00.123-0430",
            "2024-05-01 10:00:00.123",
            "[2024-05-01 10:00:00.123]",
        ] {
            assert_eq!(parse(s), Some(want), "{s}");
        }
        assert_eq!(want.rfc3339(), "2024-05-01T10:00:00.123Z");
        assert_eq!(
            parse("2024-05-01T10:00:00Z").unwrap().rfc3339(),
            "2024-05-01T10:00:00Z"
        );
        for bad in [
            "10:00:00.123",
            "May 5, 2021 @ 06:54:35.675",
            "[ 12.3s]",
            "2024-13-01T10:00:00Z",
            "2024-05-01T10:00:00+2",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_linkerd_uptime_becomes_wall_clock_time_from_the_container_start() {
        // A pod whose linkerd-proxy started at 10:00:00Z, as the API reports it.
        let pod = serde_json::json!({"kind": "Pod",
            "metadata": {"namespace": "shop", "name": "web-1"},
            "status": {"containerStatuses": [
                {"name": "linkerd-proxy", "restartCount": 1,
                 "state": {"running": {"startedAt": "2025-03-01T10:00:00Z"}},
                 "lastState": {"terminated": {"startedAt": "2025-03-01T09:00:00Z"}}},
                {"name": "web", "state": {"running": {"startedAt": "2025-03-01T09:59:58Z"}}}]}});
        let clock = Clock::of_pods([&pod]);
        let line = "[   12.345s]  WARN ThreadId(01) outbound:proxy{addr=10.96.0.20:8080}: linkerd_reconnect: Failed to connect error=Connection refused (os error 111)";
        let origin = |c: &str| Origin::Pod {
            namespace: "shop".into(),
            pod: "web-1".into(),
            container: Some(c.into()),
            line: Some(1),
        };
        let (items, _) = detect::read_text(
            line,
            crate::evidence::InputKind::Auto,
            &origin("linkerd-proxy"),
        );
        assert_eq!(items.len(), 1);
        assert_eq!(stamp_of(&items[0]), Stamp::Uptime(12.345));
        assert_eq!(
            time_of(&items[0], &clock).map(At::rfc3339).as_deref(),
            Some("2025-03-01T10:00:12.345Z")
        );
        // The previous instance's log counts from that instance's start.
        let mut prev = items[0].clone();
        prev.origin = origin("linkerd-proxy.previous");
        assert_eq!(
            time_of(&prev, &clock).map(At::rfc3339).as_deref(),
            Some("2025-03-01T09:00:12.345Z")
        );
        // Another container, or no pod status: no time rather than a wrong one.
        let mut other = items[0].clone();
        other.origin = origin("istio-proxy");
        assert_eq!(time_of(&other, &clock), None);
        assert_eq!(time_of(&items[0], &Clock::default()), None);
        // A `kubectl logs --timestamps` prefix wins over the uptime.
        let stamped = format!("2025-03-01T11:00:00.500000000Z {line}");
        let (items, _) = detect::read_text(
            &stamped,
            crate::evidence::InputKind::Auto,
            &origin("linkerd-proxy"),
        );
        assert_eq!(
            time_of(&items[0], &clock).map(At::rfc3339).as_deref(),
            Some("2025-03-01T11:00:00.500Z")
        );
    }

    #[test]
    fn gaps_read_in_words() {
        assert_eq!(gap(250), "250 ms");
        assert_eq!(gap(1000), "1 s");
        assert_eq!(gap(1500), "1.5 s");
        assert_eq!(gap(4 * 60_000), "4 min");
        assert_eq!(gap(7 * 86_400_000), "7 d");
    }
}
