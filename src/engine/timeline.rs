//! Time in ranking: when each signal's evidence was first and last seen, the
//! change a cause's errors followed, and the timeline view.
//!
//! A rule lists in `changes:` the object kinds (and fields) whose change can
//! set it off. A finding gains weight when such a change happened shortly
//! before the first error of its symptom — its own timed evidence, or that
//! of a finding it `explains` (a NetworkPolicy's symptom is the fail-fast it
//! causes):
//!
//! * after the last success of the first error's source and within
//!   [`WINDOW`] before the error: score × [`AFTER_SUCCESS_FACTOR`];
//! * else within [`NEAR`] before the first error: × [`NEAR_FACTOR`];
//! * within [`WINDOW`]: × [`WINDOW_FACTOR`];
//! * longer before, after the errors began, or before a success that the
//!   errors' source logged ahead of them (requests still worked after it):
//!   no weight (and no trigger).
//!
//! The last success is known where the logs hold successful access lines
//! with a time: the scan reports the latest before each line it reads,
//! without reading the healthy lines themselves ([`super::scan`]).
//!
//! The finding says which change and how long before, in one sentence.

use crate::evidence::time::{At, Clock, Stamp, gap, stamp_of};
use crate::evidence::{Evidence, Origin};
use crate::facts::changes::{Change, What};
use crate::report::Finding;
use crate::report::timeline::{Entry, Onset, Timeline, Trigger};
use crate::rules::RuleSet;

/// A change this close before the first error is the likely trigger.
pub const NEAR: i64 = 10 * 60 * 1000;
pub const NEAR_FACTOR: f64 = 2.0;
/// A change between the last success and the first error (within
/// [`WINDOW`]): nothing else happened between working and failing.
pub const AFTER_SUCCESS_FACTOR: f64 = 2.5;
/// A change this close still counts, less.
pub const WINDOW: i64 = 60 * 60 * 1000;
pub const WINDOW_FACTOR: f64 = 1.5;
/// Changes shown at most (the newest; older ones are counted).
pub const MAX_CHANGES: usize = 40;
/// Changes older than this before the first error are counted, not shown.
pub const HORIZON: i64 = 14 * 24 * 60 * 60 * 1000;

/// The time of the item being observed.
#[derive(Debug, Clone, Default)]
pub(crate) enum Now {
    #[default]
    None,
    /// First and last seen (equal for a log line; an Event's range).
    At(At, At),
    /// A Linkerd uptime, resolved at the end against the container's start.
    Uptime(f64, Origin),
}

impl Now {
    pub(crate) fn of(ev: &Evidence) -> Now {
        match stamp_of(ev) {
            Stamp::At(a) => Now::At(a, a),
            Stamp::Uptime(u) => match &ev.origin {
                o @ Origin::Pod { .. } => Now::Uptime(u, o.without_line()),
                _ => Now::None,
            },
            Stamp::None => Now::None,
        }
    }

    pub(crate) fn between(first: Option<At>, last: Option<At>) -> Now {
        match (first, last) {
            (Some(f), Some(l)) => Now::At(f.min(l), f.max(l)),
            (Some(t), None) | (None, Some(t)) => Now::At(t, t),
            (None, None) => Now::None,
        }
    }
}

/// When a signal's evidence was first and last seen.
#[derive(Debug, Clone, Default)]
pub(crate) struct Span {
    first: Option<At>,
    last: Option<At>,
    /// Uptime ranges per container, until the clock is known.
    uptimes: Vec<(Origin, f64, f64)>,
    /// The last success of the source of the first timed item, before it.
    ok_before: Option<At>,
}

impl Span {
    /// Notes an item seen at `now`: `true` when it is the first so far
    /// with a wall-clock time (its source's last success is then asked
    /// for, [`Span::set_ok`]).
    pub(crate) fn note(&mut self, now: &Now) -> bool {
        let mut fresh = false;
        match now {
            Now::None => {}
            Now::At(f, l) => {
                if self.first.is_none_or(|x| *f < x) {
                    fresh = true;
                    self.ok_before = None;
                }
                self.first = Some(self.first.map_or(*f, |x| x.min(*f)));
                self.last = Some(self.last.map_or(*l, |x| x.max(*l)));
            }
            Now::Uptime(u, o) => {
                if let Some((_, lo, hi)) = self.uptimes.iter_mut().find(|(x, ..)| x == o) {
                    *lo = lo.min(*u);
                    *hi = hi.max(*u);
                } else if self.uptimes.len() < 64 {
                    // A handful of containers per run; more is not worth a map.
                    self.uptimes.push((o.clone(), *u, *u));
                }
            }
        }
        fresh
    }

    /// The last success the source of the first item logged before it
    /// (read in stream order; a success stamped after the item, from an
    /// out-of-order source, is not one).
    pub(crate) fn set_ok(&mut self, ok: Option<At>) {
        self.ok_before = ok.filter(|o| self.first.is_some_and(|f| *o <= f));
    }

    /// First and last seen, with uptimes turned into wall-clock time.
    pub(crate) fn resolve(&self, clock: &Clock) -> Option<(At, At)> {
        let mut first = self.first;
        let mut last = self.last;
        for (o, lo, hi) in &self.uptimes {
            if let Some(start) = clock.start_of(o) {
                let (a, b) = (start.plus_secs(*lo), start.plus_secs(*hi));
                first = Some(first.map_or(a, |x| x.min(a)));
                last = Some(last.map_or(b, |x| x.max(b)));
            }
        }
        Some((first?, last.or(first)?))
    }

    /// The last success before the first item, when the first item had a
    /// wall-clock time (an uptime-stamped first error has none to compare).
    pub(crate) fn ok_before(&self, clock: &Clock) -> Option<At> {
        let ok = self.ok_before?;
        let (first, _) = self.resolve(clock)?;
        (Some(first) == self.first).then_some(ok)
    }
}

/// The first timed error of a finding's symptom.
struct First {
    at: At,
    signal: String,
    family: String,
    /// The finding whose evidence it is.
    finding: String,
    /// The last success of its source before it.
    ok: Option<At>,
}

/// The first timed error of a finding's symptom.
fn onset(f: &Finding, all: &[Finding], rules: &RuleSet) -> Option<First> {
    let explains: &[String] = rules
        .get(&f.id)
        .map(|r| r.explains.as_slice())
        .unwrap_or(&[]);
    all.iter()
        .filter(|g| g.id == f.id || explains.contains(&g.id))
        .flat_map(|g| {
            g.signals
                .iter()
                .filter(|s| s.family != "object")
                .filter_map(move |s| {
                    s.first_at.map(|at| First {
                        at,
                        signal: s.name.clone(),
                        family: s.family.clone(),
                        finding: g.id.clone(),
                        ok: s.ok_before,
                    })
                })
        })
        // At the same instant the finding's own signal names the error.
        .min_by(|a, b| {
            a.at.cmp(&b.at)
                .then((a.finding != f.id).cmp(&(b.finding != f.id)))
                .then(a.signal.cmp(&b.signal))
        })
}

/// `true` when a change recorded at `change` certainly came before the
/// success at `ok`: managedFields and Events keep whole seconds, so a change
/// stamped in the success's second may have followed it.
fn before_success(change: At, ok: At) -> bool {
    change.0 + 1000 <= ok.0
}

/// Gives each finding whose rule names the kind of a change that came
/// shortly before its first error that change as its trigger, and its score
/// the weight that earns.
pub fn correlate(rules: &RuleSet, findings: &mut [Finding], changes: &[Change]) {
    let snapshot: Vec<Finding> = findings.to_vec();
    for f in findings.iter_mut() {
        let Some(rule) = rules.get(&f.id) else {
            continue;
        };
        if rule.changes.is_empty() {
            continue;
        }
        let Some(First {
            at: first,
            signal,
            family,
            finding: from,
            ok,
        }) = onset(f, &snapshot, rules)
        else {
            continue;
        };
        let best = changes
            .iter()
            .filter(|c| c.what != What::Event)
            .filter(|c| rule.changes.iter().any(|s| s.matches(&c.kind, &c.fields)))
            .filter(|c| c.at <= first && c.at.until(first) <= WINDOW)
            // Requests succeeded after it: the errors did not follow it.
            .filter(|c| ok.is_none_or(|o| !before_success(c.at, o)))
            // A finding that names objects of the change's kind is about
            // those objects, not any of the kind.
            .filter(|c| {
                c.kind == "Certificate"
                    || !f.objects.iter().any(|o| o.kind == c.kind)
                    || f.objects.iter().any(|o| {
                        o.kind == c.kind
                            && o.name == c.name
                            && o.namespace.as_deref().unwrap_or("")
                                == c.namespace.as_deref().unwrap_or("")
                    })
            })
            .max_by(|a, b| a.at.cmp(&b.at).then(b.what.cmp(&a.what)));
        let Some(c) = best else { continue };
        let gap_ms = c.at.until(first);
        let factor = if ok.is_some() {
            AFTER_SUCCESS_FACTOR
        } else if gap_ms <= NEAR {
            NEAR_FACTOR
        } else {
            WINDOW_FACTOR
        };
        f.score *= factor;
        let text = format!(
            "{} {} at {}, {} before the first {} ({}{}) at {}{}",
            c.object(),
            c.describe(),
            c.at,
            gap(gap_ms),
            signal,
            family,
            if from == f.id {
                String::new()
            } else {
                format!(" of {from}")
            },
            first,
            match ok {
                Some(o) => format!(", after the last success at {o}"),
                None => String::new(),
            }
        );
        f.trigger = Some(Trigger {
            change: c.clone(),
            onset: first,
            last_success: ok,
            signal,
            family,
            finding: from,
            gap_ms,
            factor,
            text,
        });
    }
}

/// The timeline of a run: the changes (from [`HORIZON`] before the first
/// error, the newest [`MAX_CHANGES`]) and the onset of each finding's errors
/// per evidence family, the top-ranked finding's trigger marked.
pub fn build(findings: &[Finding], changes: &[Change]) -> Timeline {
    let mut t = Timeline::default();
    let top = findings.iter().find(|f| f.trigger.is_some());
    let is_trigger = |c: &Change| {
        top.and_then(|f| f.trigger.as_ref())
            .is_some_and(|tr| tr.change == *c)
    };
    // From HORIZON before the first error on (all of them without errors),
    // the newest MAX_CHANGES; the trigger always.
    let first_error = findings
        .iter()
        .flat_map(|f| f.signals.iter())
        .filter(|s| s.family != "object")
        .filter_map(|s| s.first_at)
        .min();
    let recent: Vec<&Change> = changes
        .iter()
        .filter(|c| first_error.is_none_or(|e| c.at.until(e) <= HORIZON) || is_trigger(c))
        .collect();
    let skip = recent.len().saturating_sub(MAX_CHANGES);
    t.omitted = changes.len() - recent.len() + skip;
    for c in recent.into_iter().skip(skip) {
        let trigger = is_trigger(c);
        t.entries.push(Entry {
            at: c.at,
            kind: "change".into(),
            subject: c.object(),
            text: c.describe(),
            change: Some(c.clone()),
            errors: None,
            trigger,
        });
    }
    // The last success before each family's errors: (when, family) → findings.
    let mut oks: Vec<(At, String, Vec<String>)> = Vec::new();
    for f in findings {
        let mut fams: Vec<Onset> = Vec::new();
        for s in f.signals.iter().filter(|s| s.family != "object") {
            let Some(first) = s.first_at else { continue };
            let last = s.last_at.unwrap_or(first);
            match fams.iter_mut().find(|o| o.family == s.family) {
                Some(o) => {
                    if first < o.first {
                        o.last_success = s.ok_before;
                    }
                    o.first = o.first.min(first);
                    o.last = o.last.max(last);
                    o.count += s.count;
                    o.signals.push(s.name.clone());
                }
                None => fams.push(Onset {
                    finding: f.id.clone(),
                    family: s.family.clone(),
                    signals: vec![s.name.clone()],
                    first,
                    last,
                    count: s.count,
                    last_success: s.ok_before,
                }),
            }
        }
        for o in fams {
            if let Some(ok) = o.last_success {
                match oks
                    .iter_mut()
                    .find(|(at, fam, _)| *at == ok && *fam == o.family)
                {
                    Some((.., ids)) => ids.push(f.id.clone()),
                    None => oks.push((ok, o.family.clone(), vec![f.id.clone()])),
                }
            }
            let text = format!(
                "first {} errors ({}), {} until {}{}",
                o.family,
                o.signals.join(", "),
                o.count,
                o.last,
                match o.last_success {
                    Some(ok) => format!(", last success {} before", gap(ok.until(o.first))),
                    None => String::new(),
                }
            );
            t.entries.push(Entry {
                at: o.first,
                kind: "errors".into(),
                subject: f.id.clone(),
                text,
                change: None,
                errors: Some(o),
                trigger: false,
            });
        }
    }
    for (at, family, ids) in oks {
        t.entries.push(Entry {
            at,
            kind: "success".into(),
            subject: family.clone(),
            text: format!(
                "last {family} success before the errors of {}",
                ids.join(", ")
            ),
            change: None,
            errors: None,
            trigger: false,
        });
    }
    // Stable: changes before the errors they may have caused at the same
    // instant, successes between.
    let order = |k: &str| match k {
        "change" => 0,
        "success" => 1,
        _ => 2,
    };
    t.entries
        .sort_by(|a, b| a.at.cmp(&b.at).then(order(&a.kind).cmp(&order(&b.kind))));
    if let Some(f) = top {
        t.trigger = f.trigger.as_ref().map(|tr| tr.text.clone());
        t.trigger_for = Some(f.id.clone());
    }
    t
}
