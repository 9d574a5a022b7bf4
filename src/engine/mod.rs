//! Matching evidence against rules, and ranking the causes.
//!
//! The [`Matcher`] is fed evidence one item at a time (so a day of logs never
//! has to sit in memory), accumulates which signals of which rules fired, and
//! at the end turns that into ranked [`Finding`]s. All text patterns of all
//! rules are evaluated per line through a literal index ([`prefilter::PatternIndex`])
//! that runs only the patterns whose required literal the line contains.

pub mod diagnosis;
pub mod examples;
pub mod explain;
mod lanes;
pub mod prefilter;
mod quiet;
pub mod scan;
pub mod score;
pub mod timeline;
pub mod triage;
pub mod words;

use crate::evidence::time::At;
use crate::evidence::{AccessRecord, Evidence, Item, MetricSample, Origin};
use crate::facts::{Fact, ObjRef};
use crate::report::{EvidenceLine, Finding};
use crate::rules::{Mesh, RuleSet, SignalKind, TextSource, status_any};
use prefilter::PatternIndex;
use std::collections::{BTreeMap, HashMap};

/// How many evidence lines a finding keeps per signal.
const SAMPLES_PER_SIGNAL: usize = 3;

/// `true` when some rule of `rules` lists `keyword` (any case): a hash
/// lookup in the set's derived table, not a pass over the rules.
pub fn is_keyword(rules: &RuleSet, keyword: &str) -> bool {
    Matcher::table_of(rules)
        .keyword_set
        .contains(&keyword.to_ascii_lowercase())
}

/// A bare symptom typed by the user (`explain 503`, `explain UF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Status(u16),
    Flag(String),
    /// A flag that qualifies another flag of the same list (`URX` in
    /// `UH,URX`): it counts half, so the cause the other flag names leads.
    Modifier(String),
    Details(String),
    Keyword(String),
}

#[derive(Debug, Default, Clone)]
struct Hit {
    count: u64,
    first_seen: Option<String>,
    last_seen: Option<String>,
    samples: Vec<EvidenceLine>,
    span: timeline::Span,
}

impl Hit {
    fn add(
        &mut self,
        signal: &str,
        origin: &Origin,
        text: &str,
        ts: Option<&str>,
        now: &timeline::Now,
    ) -> bool {
        self.count += 1;
        let fresh = self.span.note(now);
        if let Some(ts) = ts {
            if self.first_seen.is_none() {
                self.first_seen = Some(ts.to_string());
            }
            self.last_seen = Some(ts.to_string());
        }
        if let Some(s) = self.samples.iter_mut().find(|s| s.text == text) {
            s.count += 1;
        } else if self.samples.len() < SAMPLES_PER_SIGNAL {
            self.samples.push(EvidenceLine {
                signal: signal.to_string(),
                source: origin.to_string(),
                text: crate::report::sanitize::clip(text, 600),
                count: 1,
            });
        }
        fresh
    }
}

/// Per-rule accumulation.
#[derive(Debug, Default, Clone)]
struct RuleAcc {
    hits: BTreeMap<usize, Hit>,
    symptoms: Vec<(String, f64)>,
    targets: HashMap<String, u64>,
    vars: BTreeMap<String, String>,
    objects: Vec<ObjRef>,
    patches: Vec<String>,
}

/// What each rule gathered, by rule index: only rules something touched have
/// an entry, so a matcher costs nothing per rule it never hears of (`rules
/// test` runs thousands of examples against thousands of rules). Indexing a
/// rule nothing touched reads an empty accumulator, as a dense vector would.
#[derive(Default)]
struct Accs(BTreeMap<usize, RuleAcc>);

static EMPTY_ACC: std::sync::LazyLock<RuleAcc> = std::sync::LazyLock::new(RuleAcc::default);

impl std::ops::Index<usize> for Accs {
    type Output = RuleAcc;
    fn index(&self, ri: usize) -> &RuleAcc {
        self.0.get(&ri).unwrap_or(&EMPTY_ACC)
    }
}

impl std::ops::IndexMut<usize> for Accs {
    fn index_mut(&mut self, ri: usize) -> &mut RuleAcc {
        self.0.entry(ri).or_default()
    }
}

/// The text patterns of a rule set and their literal index: derived once per
/// set (see [`crate::rules::Derived`]), the index only when text arrives (a
/// bare `explain 503` never needs it).
pub struct TextTable {
    pats: Vec<String>,
    /// Required literals known without reading the pattern.
    hints: Vec<Option<Vec<String>>>,
    /// pattern index → (rule, signal)
    text_map: Vec<(usize, usize)>,
    index: std::sync::OnceLock<PatternIndex>,
    /// The rules that list a status, a flag (upper case), a fact: a bare
    /// symptom or a fact visits only those, not the whole set.
    status: HashMap<u16, Vec<usize>>,
    flags: HashMap<String, Vec<usize>>,
    facts: HashMap<String, Vec<(usize, usize)>>,
    /// Every (rule, keyword) in lower case, and the keywords as a set.
    keywords: Vec<(usize, String)>,
    keyword_set: std::collections::HashSet<String>,
    /// Rule id → index (the first rule of that id, as [`RuleSet::get`]).
    ids: HashMap<String, usize>,
}

impl TextTable {
    fn of(rules: &RuleSet) -> Self {
        let mut pats = Vec::new();
        let mut hints = Vec::new();
        let mut text_map = Vec::new();
        let mut status: HashMap<u16, Vec<usize>> = HashMap::new();
        let mut flags: HashMap<String, Vec<usize>> = HashMap::new();
        let mut facts: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        let mut keywords = Vec::new();
        let mut ids: HashMap<String, usize> = HashMap::new();
        for (ri, r) in rules.rules.iter().enumerate() {
            ids.entry(r.id.clone()).or_insert(ri);
            for s in &r.symptoms.status {
                let e = status.entry(s.code).or_default();
                if e.last() != Some(&ri) {
                    e.push(ri);
                }
            }
            for f in &r.symptoms.flags {
                let e = flags.entry(f.to_ascii_uppercase()).or_default();
                if e.last() != Some(&ri) {
                    e.push(ri);
                }
            }
            for k in &r.symptoms.keywords {
                keywords.push((ri, k.to_ascii_lowercase()));
            }
            for (si, s) in r.signals.iter().enumerate() {
                if let SignalKind::Fact(n) = &s.kind {
                    facts.entry(n.clone()).or_default().push((ri, si));
                }
                if let SignalKind::Text {
                    regex, literals, ..
                } = &s.kind
                {
                    pats.push(regex.as_str().to_string());
                    hints.push(literals.clone());
                    text_map.push((ri, si));
                }
            }
        }
        let keyword_set = keywords.iter().map(|(_, k)| k.clone()).collect();
        TextTable {
            pats,
            hints,
            text_map,
            index: std::sync::OnceLock::new(),
            status,
            flags,
            facts,
            keywords,
            keyword_set,
            ids,
        }
    }

    /// The rules a bare symptom can concern, in rule order: an index lookup
    /// for a status or flag; for a keyword, the rules with a keyword equal
    /// to, containing or contained in it (one pass over the lower-cased
    /// keywords, nothing allocated per rule).
    fn query_rules(&self, q: &Query, n: usize) -> Vec<usize> {
        match q {
            Query::Status(code) => self.status.get(code).cloned().unwrap_or_default(),
            Query::Flag(f) | Query::Modifier(f) => self
                .flags
                .get(&f.to_ascii_uppercase())
                .cloned()
                .unwrap_or_default(),
            Query::Details(_) => (0..n).collect(),
            Query::Keyword(k) => {
                let k = k.to_ascii_lowercase();
                let mut out: Vec<usize> = self
                    .keywords
                    .iter()
                    .filter(|(_, x)| {
                        *x == k
                            || (k.len() >= 4 && x.contains(&k))
                            || (x.len() >= 4 && k.contains(x.as_str()))
                    })
                    .map(|(ri, _)| *ri)
                    .collect();
                out.dedup();
                out
            }
        }
    }

    fn index(&self) -> &PatternIndex {
        self.index
            .get_or_init(|| PatternIndex::with_hints(&self.pats, &self.hints))
    }
}

/// Accumulates evidence against a rule set.
pub struct Matcher<'r> {
    rules: &'r RuleSet,
    /// The set's text patterns and their index, shared by every matcher of
    /// the set.
    table: std::sync::Arc<TextTable>,
    /// Scratch: candidate patterns of the current text.
    cands: Vec<usize>,
    acc: Accs,
    /// Placeholder values known from the run (see [`Matcher::default_vars`]).
    defaults: BTreeMap<String, String>,
    metrics: Vec<(Origin, MetricSample)>,
    /// Items that named their mesh: (Linkerd, Istio/Envoy).
    meshes: (u64, u64),
    /// When the item being observed happened.
    now: timeline::Now,
    /// Container start times, for Linkerd uptime stamps.
    clock: crate::evidence::time::Clock,
    /// What changed in the cluster, oldest first.
    changes: Vec<crate::facts::changes::Change>,
    /// The latest success known per source and upstream (see
    /// [`Matcher::note_success`]).
    oks: Vec<(Origin, String, crate::evidence::time::At)>,
    /// The hits whose first time the item being observed set: (rule,
    /// signal), and the item's source and upstream. They take the last
    /// success of that source to that upstream (see [`Matcher::settle`]).
    fresh: Vec<(usize, usize)>,
    fresh_origin: Option<Origin>,
    fresh_upstream: Option<String>,
}

impl<'r> Matcher<'r> {
    fn table_of(rules: &RuleSet) -> std::sync::Arc<TextTable> {
        rules
            .derived
            .get_or_init(|| TextTable::of(rules))
            // Another type in the slot cannot happen (only the engine fills
            // it); build a private table rather than fail.
            .unwrap_or_else(|| std::sync::Arc::new(TextTable::of(rules)))
    }

    pub fn new(rules: &'r RuleSet) -> Self {
        let table = Self::table_of(rules);
        Matcher {
            rules,
            table,
            cands: Vec::new(),
            acc: Accs::default(),
            defaults: BTreeMap::new(),
            metrics: Vec::new(),
            meshes: (0, 0),
            now: timeline::Now::None,
            clock: Default::default(),
            changes: Vec::new(),
            oks: Vec::new(),
            fresh: Vec::new(),
            fresh_origin: None,
            fresh_upstream: None,
        }
    }

    /// The text patterns `text` matches (indices into `text_map`), each
    /// checked alone: the literal index names the few that can match, and
    /// only those regexes are compiled and run.
    fn matching(&mut self, text: &str) -> Vec<usize> {
        if self.table.text_map.is_empty() {
            return Vec::new();
        }
        let table = self.table.clone();
        table.index().candidates(text.as_bytes(), &mut self.cands);
        self.cands
            .iter()
            .copied()
            .filter(|&pi| {
                let (ri, si) = table.text_map[pi];
                matches!(&self.rules.rules[ri].signals[si].kind,
                    SignalKind::Text { regex, .. } if regex.is_match(text))
            })
            .collect()
    }

    fn text(
        &mut self,
        src: TextSource,
        text: &str,
        origin: &Origin,
        ts: Option<&str>,
        vars: &[(String, String)],
    ) -> Vec<usize> {
        let matched = self.matching(text);
        self.record(src, &matched, text, origin, ts, vars);
        matched
    }

    /// Records the hits of the `matched` patterns whose signal reads `src`.
    fn record(
        &mut self,
        src: TextSource,
        matched: &[usize],
        text: &str,
        origin: &Origin,
        ts: Option<&str>,
        vars: &[(String, String)],
    ) {
        for &pi in matched {
            let (ri, si) = self.table.text_map[pi];
            let sig = &self.rules.rules[ri].signals[si];
            if let SignalKind::Text { sources, .. } = &sig.kind
                && !sources.is_empty()
                && !sources.contains(&src)
            {
                continue;
            }
            let shown = match &sig.kind {
                SignalKind::Text { regex, .. } => around(text, regex.find(text)),
                _ => std::borrow::Cow::Borrowed(text),
            };
            let acc = &mut self.acc[ri];
            if acc
                .hits
                .entry(si)
                .or_default()
                .add(&sig.name, origin, &shown, ts, &self.now)
            {
                self.fresh.push((ri, si));
            }
            for (k, v) in vars {
                acc.vars.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }

    /// Counts the mesh an item names, as [`Matcher::observe`] does, for an
    /// item read but known to raise nothing (the scan's quiet access lines).
    pub(crate) fn note_mesh(&mut self, item: &Item, raw: &str) {
        match mesh_of_item(item, raw) {
            Some(Mesh::Linkerd) => self.meshes.0 += 1,
            Some(Mesh::Istio) => self.meshes.1 += 1,
            _ => {}
        }
    }

    /// Feeds one evidence item.
    pub fn observe(&mut self, ev: &Evidence) {
        self.now = timeline::Now::of(ev);
        self.fresh.clear();
        self.observe_item(ev);
        if !self.fresh.is_empty() {
            self.fresh_origin = Some(ev.origin.clone());
            self.fresh_upstream = match &ev.item {
                Item::Access(a) => upstream_of(a).map(str::to_string),
                _ => None,
            };
            self.settle();
        }
        // A success read in full (the scan's slow path, a pasted block).
        if let (Item::Access(a), timeline::Now::At(at, _)) = (&ev.item, &self.now)
            && a.is_success()
            && let Some(up) = upstream_of(a)
        {
            let at = *at;
            self.note_success(&ev.origin, up, at);
        }
    }

    /// The upstream of the item just observed when it was the first error of
    /// some signal: the last success of its source to that upstream
    /// matters, and the scanner looks for it only then
    /// ([`Matcher::note_success`], then [`Matcher::settle`]). `None` when
    /// it was no first error, or its upstream is unknown (a proxy log line:
    /// a success to another upstream says nothing of it).
    pub(crate) fn wants_success(&self) -> Option<&str> {
        if self.fresh.is_empty() {
            return None;
        }
        self.fresh_upstream.as_deref()
    }

    /// Gives the hits whose first time the last item set the last success
    /// of its source to its upstream known now.
    pub(crate) fn settle(&mut self) {
        let (Some(origin), Some(up)) = (&self.fresh_origin, &self.fresh_upstream) else {
            return;
        };
        let ok = self
            .oks
            .iter()
            .find(|(o, u, _)| u == up && same_source(o, origin))
            .map(|(.., t)| *t);
        for &(ri, si) in &self.fresh {
            if let Some(h) = self.acc.0.get_mut(&ri).and_then(|a| a.hits.get_mut(&si)) {
                h.span.set_ok(ok);
            }
        }
    }

    /// A success (an access line with a 1xx–3xx status and no response
    /// flags) that `source` logged at `at` for `upstream` (its upstream
    /// cluster, else its authority): errors to that upstream that the
    /// source logs next began after it. The scanner reports the latest one
    /// to the upstream of a line that was the first error of a signal, and
    /// the last of each block; the lines themselves are never observed (see
    /// [`scan`]).
    pub fn note_success(&mut self, source: &Origin, upstream: &str, at: crate::evidence::time::At) {
        // A few per run (noted only where wanted): a list, and no
        // allocation for a known one.
        match self
            .oks
            .iter_mut()
            .find(|(o, u, _)| u == upstream && same_source(o, source))
        {
            Some((.., t)) => *t = (*t).max(at),
            None => self
                .oks
                .push((source.without_line(), upstream.to_string(), at)),
        }
    }

    /// Feeds one item whose time is known apart from it (an Event's first
    /// and last occurrence).
    pub fn observe_at(
        &mut self,
        ev: &Evidence,
        first: Option<crate::evidence::time::At>,
        last: Option<crate::evidence::time::At>,
    ) {
        self.now = timeline::Now::between(first, last);
        self.observe_item(ev);
    }

    /// Container start times, so that Linkerd uptime stamps get a wall-clock
    /// time; any time before [`Matcher::finish`].
    pub fn set_clock(&mut self, clock: crate::evidence::time::Clock) {
        self.clock = clock;
    }

    /// The cluster's changes, for the timeline and the weight of causes
    /// whose errors followed one (see [`timeline`]).
    pub fn set_changes(&mut self, changes: Vec<crate::facts::changes::Change>) {
        self.changes = changes;
    }

    fn observe_item(&mut self, ev: &Evidence) {
        self.note_mesh(&ev.item, &ev.raw);
        let vars = vars_of(ev);
        match &ev.item {
            Item::ProxyLog(p) => {
                if let Some(code) = linkerd_generated_status(&ev.raw) {
                    self.observe_status(code, "generated by the Linkerd proxy");
                }
                let matched = self.text(
                    TextSource::ProxyLog,
                    &ev.raw,
                    &ev.origin,
                    p.timestamp.as_deref(),
                    &vars,
                );
                if let Some(t) = target_of_proxy(p) {
                    self.count_target(&matched, &t);
                }
            }
            Item::EnvoyLog(e) => {
                let src = if e
                    .component
                    .as_deref()
                    .is_some_and(|c| c.contains("pilot") || c.contains("istiod"))
                {
                    TextSource::ControlPlane
                } else {
                    TextSource::ProxyLog
                };
                let ts = e.timestamp.as_deref();
                let mut matched = self.matching(&ev.raw);
                // `DeltaAggregatedResources gRPC config stream to xds_cluster
                // closed: 13, upstream_reset_after_response_started{…}`: the
                // details token is the xDS stream's, not a request's.
                if is_xds_stream_status(&e.message) {
                    let (table, rules) = (&self.table, self.rules);
                    matched.retain(|&pi| {
                        let (ri, si) = table.text_map[pi];
                        !rules.rules[ri].signals[si].per_request
                    });
                }
                self.record(src, &matched, &ev.raw, &ev.origin, ts, &vars);
                if src == TextSource::ControlPlane {
                    let src = TextSource::ProxyLog;
                    self.record(src, &matched, &ev.raw, &ev.origin, ts, &vars);
                }
            }
            Item::AppLog { message } => {
                let quoted = crate::evidence::quoted::quoted_status(message);
                if let Some((code, whence)) = quoted {
                    self.observe_status(code, whence);
                }
                self.text(TextSource::AppLog, message, &ev.origin, None, &vars);
                // A line no parser claims may still name Envoy's fields (an
                // issue title's `503 UAEX`, a `response_flags":"UF` cut out
                // of a JSON record): they are judged as the record's would be,
                // with the status the sentence names (`a 503 response with
                // response flags "UR"`).
                if let Some(mut a) = crate::evidence::access::parse_fragment(message) {
                    if a.status.is_none() {
                        a.status = quoted.map(|(code, _)| code);
                    }
                    self.note_mesh(&Item::Access(a.clone()), &ev.raw);
                    self.access_signals(&a, ev, &vars);
                }
            }
            Item::Access(a) => {
                self.text(
                    TextSource::AccessLog,
                    &ev.raw,
                    &ev.origin,
                    a.start_time.as_deref(),
                    &vars,
                );
                if !a.envoy {
                    // An nginx/app line: its status is a symptom, not Envoy's
                    // word. 400/401/404 there are the application's own
                    // everyday answers (a login wall, a missing page).
                    if let Some(code) = a
                        .status
                        .filter(|c| *c >= 400 && !matches!(*c, 400 | 401 | 404))
                    {
                        self.observe_status(code, "in an access log that is not Envoy's");
                    }
                    return;
                }
                self.access_signals(a, ev, &vars);
            }
            Item::Http(h) => {
                for (k, v) in h.headers.iter() {
                    self.text(
                        TextSource::Header,
                        &format!("{k}: {v}"),
                        &ev.origin,
                        None,
                        &vars,
                    );
                }
                for line in h.body.lines().filter(|l| !l.trim().is_empty()) {
                    self.text(TextSource::Body, line, &ev.origin, None, &vars);
                }
                // A client transcript with no status line may still quote one
                // (grpcurl's `rpc error: code = PermissionDenied`).
                if h.status.is_none()
                    && let Some((code, whence)) = h
                        .body
                        .lines()
                        .find_map(crate::evidence::quoted::quoted_status)
                {
                    self.observe_status(code, whence);
                }
                // Only a body-less local reply: a body names its own cause
                // (text signals read it), and an unknown body (a CSRF or
                // OAuth filter's) is no evidence for the catalog's causes.
                let local = is_envoy_local_reply(h);
                // Behind a proxy (`x-envoy-upstream-service-time`), the reply
                // may still be the upstream's sidecar's own (an RBAC 403 of
                // 19 bytes reaches the client through its sidecar): only its
                // length can tell, so it is read but not counted as a local
                // reply.
                let relayed = !local && names_envoy(h) && !h.via_upstream;
                if let Some(code) = h
                    .status
                    .filter(|c| *c >= 400 && (local || relayed) && !has_body(h))
                {
                    if local {
                        self.observe_status(code, "answered by Envoy itself (a local reply)");
                    }
                    // `curl -I`, a header-only paste: Envoy's fixed reply
                    // bodies are told apart by their length.
                    let len = h
                        .header("content-length")
                        .and_then(|v| v.trim().parse::<usize>().ok());
                    let whose = if local { "Envoy's" } else { "an Envoy proxy's" };
                    for body in local_reply_bodies(code, len.unwrap_or(0)) {
                        let matched = self.matching(body);
                        let shown = format!(
                            "{body} (the body of {whose} {code} local reply, told by its content-length: {})",
                            body.len()
                        );
                        self.record(TextSource::Body, &matched, &shown, &ev.origin, None, &vars);
                    }
                }
                if let Some(code) = h.status.filter(|c| *c >= 400 && h.status_only) {
                    self.observe_status(
                        code,
                        "printed by the client, without the response's headers",
                    );
                } else if let Some(code) = h.status.filter(|c| {
                    *c >= 400
                        && !h.envoy_log
                        && !has_body(h)
                        && h.headers.iter().all(|(k, _)| {
                            matches!(
                                k.as_str(),
                                "date" | "content-length" | "content-type" | "connection"
                            )
                        })
                }) {
                    // Nothing but the status: no server named, no header of
                    // any application or mesh, no body (a proxy's local reply,
                    // as a gateway that strips `server` sends it).
                    self.observe_status(code, "a bodiless answer whose server is not named");
                }
                let shown = http_summary(h);
                for (ri, r) in self.rules.rules.iter().enumerate() {
                    for (si, s) in r.signals.iter().enumerate() {
                        if let SignalKind::Http(c) = &s.kind
                            && http_matches(c, h)
                            && self.acc[ri]
                                .hits
                                .entry(si)
                                .or_default()
                                .add(&s.name, &ev.origin, &shown, None, &self.now)
                        {
                            self.fresh.push((ri, si));
                        }
                    }
                }
            }
            Item::ToolReport(t) => {
                if t.level != "success" {
                    self.text(TextSource::ToolReport, &t.line(), &ev.origin, None, &vars);
                }
            }
            Item::Metrics { samples } => {
                for s in samples {
                    self.metrics.push((ev.origin.clone(), s.clone()));
                }
            }
        }
    }

    /// Every `access:` signal an Envoy access record (or a fragment naming
    /// its fields) matches; one record counts its target once per rule.
    fn access_signals(&mut self, a: &AccessRecord, ev: &Evidence, vars: &[(String, String)]) {
        let target = a.upstream_cluster.clone().or_else(|| a.authority.clone());
        for (ri, r) in self.rules.rules.iter().enumerate() {
            let mut counted = false;
            for (si, s) in r.signals.iter().enumerate() {
                if let SignalKind::Access(c) = &s.kind
                    && access_matches(c, a, &ev.raw)
                {
                    let acc = &mut self.acc[ri];
                    if acc.hits.entry(si).or_default().add(
                        &s.name,
                        &ev.origin,
                        &ev.raw,
                        a.start_time.as_deref(),
                        &self.now,
                    ) {
                        self.fresh.push((ri, si));
                    }
                    // One record is one request, however many
                    // signals of the rule it matches.
                    if let Some(t) = target.as_ref().filter(|_| !counted) {
                        *acc.targets.entry(t.clone()).or_default() += 1;
                        counted = true;
                    }
                    for (k, v) in vars {
                        acc.vars.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
        }
    }

    /// Counts `target` once for each rule of the matched patterns.
    fn count_target(&mut self, matched: &[usize], target: &str) {
        let mut rules: Vec<usize> = matched
            .iter()
            .map(|&pi| self.table.text_map[pi].0)
            .collect();
        rules.sort_unstable();
        rules.dedup();
        for ri in rules {
            *self.acc[ri].targets.entry(target.to_string()).or_default() += 1;
        }
    }

    /// Feeds one derived fact.
    pub fn observe_fact(&mut self, fact: &Fact) {
        let table = self.table.clone();
        for &(ri, si) in table.facts.get(fact.name).map(Vec::as_slice).unwrap_or(&[]) {
            let s = &self.rules.rules[ri].signals[si];
            {
                {
                    let acc = &mut self.acc[ri];
                    let origin = match (&fact.subject.file, fact.subject.line) {
                        (Some(f), l) => Origin::file(f.clone(), l.map(u64::from)),
                        _ => Origin::Arg,
                    };
                    let mut origin_text = origin.to_string();
                    if origin == Origin::Arg {
                        origin_text = fact.subject.to_string();
                    }
                    let hit = acc.hits.entry(si).or_default();
                    hit.count += 1;
                    if hit.samples.len() < SAMPLES_PER_SIGNAL * 3 {
                        hit.samples.push(EvidenceLine {
                            signal: s.name.clone(),
                            source: origin_text,
                            text: fact.message.clone(),
                            count: 1,
                        });
                    }
                    if !acc.objects.contains(&fact.subject) {
                        acc.objects.push(fact.subject.clone());
                    }
                    for o in &fact.related {
                        if !acc.objects.contains(o) {
                            acc.objects.push(o.clone());
                        }
                    }
                    // What a fact says of its objects is more specific than
                    // what the evidence's origin suggested.
                    for (k, v) in &fact.vars {
                        acc.vars.insert(k.clone(), v.clone());
                    }
                    if let Some(ns) = &fact.subject.namespace {
                        acc.vars.insert("object_namespace".into(), ns.clone());
                    }
                    acc.vars
                        .insert("object_name".into(), fact.subject.name.clone());
                    if let Some(p) = &fact.patch
                        && !acc.patches.contains(p)
                    {
                        acc.patches.push(p.clone());
                    }
                }
            }
        }
    }

    /// A status the evidence says a proxy produced: each rule's status
    /// symptom applies, as for `explain CODE`, with where it came from.
    fn observe_status(&mut self, code: u16, whence: &str) {
        let table = self.table.clone();
        for &ri in table.status.get(&code).map(Vec::as_slice).unwrap_or(&[]) {
            let r = &self.rules.rules[ri];
            if let Some(s) = r.symptoms.status.iter().find(|s| s.code == code) {
                let note = format!("status {code} {whence} is a symptom of this cause");
                if !self.acc[ri].symptoms.iter().any(|(n, _)| *n == note) {
                    self.acc[ri].symptoms.push((note, s.weight));
                }
            }
        }
    }

    /// Feeds what a text's words name (see [`words`]): a symptom of the
    /// rule, as a keyword query would be, weighed by how telling the words are.
    pub fn observe_words(&mut self, hint: &words::WordHint) {
        let shown: Vec<String> = hint.words.iter().map(|w| format!("`{w}`")).collect();
        self.acc[hint.rule].symptoms.push((
            format!(
                "the text's words {} name this cause; no proxy message, field or status was recognised",
                shown.join(", ")
            ),
            0.8 * hint.weight,
        ));
    }

    /// Feeds a bare symptom.
    pub fn observe_query(&mut self, q: &Query) {
        let table = self.table.clone();
        for ri in table.query_rules(q, self.rules.rules.len()) {
            let sym = &self.rules.rules[ri].symptoms;
            let hit: Option<(String, f64)> =
                match q {
                    Query::Status(code) => sym.status.iter().find(|s| s.code == *code).map(|s| {
                        let note = s
                            .note
                            .as_ref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default();
                        (
                            format!("status {code} is a symptom of this cause{note}"),
                            s.weight,
                        )
                    }),
                    // A flag is Envoy's own verdict on the request: it
                    // outweighs any status beside it (`503 UAEX` is the
                    // external authorizer, whatever else answers 503).
                    Query::Flag(f) => sym
                        .flags
                        .iter()
                        .any(|x| x.eq_ignore_ascii_case(f))
                        .then(|| (format!("response flag {f} is a symptom of this cause"), 3.0)),
                    Query::Modifier(f) => sym.flags.iter().any(|x| x.eq_ignore_ascii_case(f)).then(
                        || {
                            (
                                format!(
                                    "response flag {f} (retries exhausted) accompanies this cause"
                                ),
                                0.5,
                            )
                        },
                    ),
                    Query::Details(d) => sym
                        .details
                        .iter()
                        .any(|x| match x.strip_suffix('*') {
                            Some(p) => d.starts_with(p),
                            None => x == d,
                        })
                        .then(|| {
                            (
                                format!("response-code-details `{d}` is a symptom of this cause"),
                                1.0,
                            )
                        }),
                    Query::Keyword(k) => {
                        let k = k.to_ascii_lowercase();
                        sym.keywords
                            .iter()
                            .find(|x| {
                                let x = x.to_ascii_lowercase();
                                x == k
                                    || (k.len() >= 4 && x.contains(&k))
                                    || (x.len() >= 4 && k.contains(&x))
                            })
                            .map(|x| (format!("`{x}` is a symptom of this cause"), 0.8))
                    }
                };
            if let Some(h) = hit {
                self.acc[ri].symptoms.push(h);
            }
        }
    }

    /// Placeholder values known from the run itself (the target's namespace,
    /// pod, deployment); they fill only what evidence and facts left unset.
    /// Call just before [`Matcher::finish`].
    pub fn default_vars(&mut self, vars: &BTreeMap<String, String>) {
        for (k, v) in vars {
            self.defaults.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }

    /// How many rules have an accumulator (something touched them).
    #[cfg(test)]
    pub(crate) fn touched(&self) -> usize {
        self.acc.0.len()
    }

    /// `true` when anything at all matched so far.
    pub fn any(&self) -> bool {
        self.acc
            .0
            .values()
            .any(|a| !a.hits.is_empty() || !a.symptoms.is_empty())
    }

    /// Evaluates metric conditions and ranks every rule with support.
    pub fn finish(self) -> Vec<Finding> {
        self.finish_with_timeline().0
    }

    /// [`Matcher::finish`], and the timeline of the changes and errors.
    pub fn finish_with_timeline(mut self) -> (Vec<Finding>, crate::report::timeline::Timeline) {
        self.eval_metrics();
        for acc in self.acc.0.values_mut() {
            for (k, v) in &self.defaults {
                acc.vars.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        // A cause backed by an object fact names the service its consequences
        // are about: they take its service, namespace, port and server pod.
        let mut shared: Vec<(usize, Vec<(String, String)>)> = Vec::new();
        for (&ri, acc) in &self.acc.0 {
            let r = &self.rules.rules[ri];
            let backed = acc
                .hits
                .keys()
                .any(|&si| matches!(r.signals[si].kind, SignalKind::Fact(_)));
            if !backed || r.explains.is_empty() {
                continue;
            }
            let vars: Vec<(String, String)> =
                ["service", "service_namespace", "port", "server_pod"]
                    .iter()
                    .filter_map(|k| acc.vars.get(*k).map(|v| (k.to_string(), v.clone())))
                    .collect();
            for (ti, t) in self.rules.rules.iter().enumerate() {
                if r.explains.contains(&t.id) {
                    shared.push((ti, vars.clone()));
                }
            }
        }
        for (ti, vars) in shared {
            for (k, v) in vars {
                self.acc[ti].vars.entry(k).or_insert(v);
            }
        }
        // Without a more specific namespace for the service or the object,
        // the run's own namespace stands for them.
        for acc in self.acc.0.values_mut() {
            if let Some(ns) = acc.vars.get("namespace").cloned() {
                for k in ["service_namespace", "object_namespace"] {
                    acc.vars.entry(k.into()).or_insert_with(|| ns.clone());
                }
            }
        }
        // Evidence that names its mesh rules out the other mesh's causes.
        let other = match self.meshes {
            (l, 0) if l > 0 => Some(Mesh::Istio),
            (0, i) if i > 0 => Some(Mesh::Linkerd),
            _ => None,
        };
        if let Some(other) = other {
            self.acc
                .0
                .retain(|&ri, _| self.rules.rules[ri].mesh != other);
        }
        let clock = std::mem::take(&mut self.clock);
        let changes = std::mem::take(&mut self.changes);
        let mut findings = score::score(
            self.rules,
            self.acc
                .0
                .into_iter()
                .map(|(ri, a)| {
                    (
                        ri,
                        score::Support {
                            hits: a
                                .hits
                                .into_iter()
                                .map(|(si, h)| {
                                    // Instants when known (uptimes resolved), else the text as printed.
                                    let (first, last) = match h.span.resolve(&clock) {
                                        Some((f, l)) => (Some(f.rfc3339()), Some(l.rfc3339())),
                                        None => (h.first_seen, h.last_seen),
                                    };
                                    let ok = h.span.ok_before(&clock);
                                    (si, h.count, first, last, ok, h.samples)
                                })
                                .collect(),
                            symptoms: a.symptoms,
                            targets: a.targets,
                            vars: a.vars,
                            objects: a.objects,
                            patches: a.patches,
                        },
                    )
                })
                .collect(),
        );
        timeline::correlate(self.rules, &mut findings, &changes);
        let findings = score::order(self.rules, findings);
        let view = timeline::build(&findings, &changes);
        (findings, view)
    }

    fn eval_metrics(&mut self) {
        if self.metrics.is_empty() {
            return;
        }
        // Several timed scrapes of a series: the latest counts (counters
        // are cumulative), and the first rise is when its errors began.
        let onsets = metric_onsets(&mut self.metrics);
        for (ri, r) in self.rules.rules.iter().enumerate() {
            for (si, s) in r.signals.iter().enumerate() {
                let SignalKind::Metric(c) = &s.kind else {
                    continue;
                };
                let sel =
                    |name: &str, labels: &[(String, crate::rules::Regex)], m: &MetricSample| {
                        m.name == name
                            && labels
                                .iter()
                                .all(|(k, re)| re.is_match(m.label(k).unwrap_or("")))
                    };
                let matching: Vec<&(Origin, MetricSample)> = self
                    .metrics
                    .iter()
                    .filter(|(_, m)| {
                        sel(&c.name, &c.labels, m)
                            && !c
                                .labels_not
                                .iter()
                                .any(|(k, re)| re.is_match(m.label(k).unwrap_or("")))
                    })
                    .collect();
                let sum: f64 = matching
                    .iter()
                    .map(|(_, m)| m.value)
                    .filter(|v| v.is_finite())
                    .sum();
                let (value, shown) = match &c.over {
                    Some((den_name, den_labels)) => {
                        let den: f64 = self
                            .metrics
                            .iter()
                            .filter(|(_, m)| sel(den_name, den_labels, m))
                            .map(|(_, m)| m.value)
                            .filter(|v| v.is_finite())
                            .sum();
                        if den <= 0.0 {
                            continue;
                        }
                        (
                            sum / den,
                            format!("{} / {} = {:.3}", c.name, den_name, sum / den),
                        )
                    }
                    None => (sum, format!("{} = {}", c.name, sum)),
                };
                // A series listed without a value (a query-result listing) still
                // proves the series exists: it satisfies a presence check (`above: 0`).
                let listed = c.over.is_none()
                    && c.above == 0.0
                    && matching.iter().any(|(_, m)| m.value.is_nan());
                let fires = match c.below {
                    Some(b) => matching
                        .iter()
                        .any(|(_, m)| m.value.is_finite() && m.value < b),
                    None => value > c.above || listed,
                };
                if fires && !matching.is_empty() {
                    // When a counter that fires rose first (not for a
                    // `below` condition: a level, not a count of errors).
                    let now = if c.below.is_some() {
                        timeline::Now::None
                    } else {
                        let (first, last) = matching
                            .iter()
                            .filter(|(_, m)| m.value > 0.0)
                            .filter_map(|(o, m)| onsets.get(&series_key(o, m)).map(|f| (*f, m.at)))
                            .fold((None, None), |(f, l): (Option<At>, Option<At>), (o, at)| {
                                (Some(f.map_or(o, |x: At| x.min(o))), l.max(at))
                            });
                        timeline::Now::between(first, last.or(first))
                    };
                    let hit = self.acc[ri].hits.entry(si).or_default();
                    let origin = matching[0].0.clone();
                    hit.add(&s.name, &origin, &shown, None, &now);
                    // Per-label breakdown of the top series, as evidence.
                    let mut top: Vec<&&(Origin, MetricSample)> =
                        matching.iter().filter(|(_, m)| m.value > 0.0).collect();
                    top.sort_by(|a, b| b.1.value.total_cmp(&a.1.value));
                    for (o, m) in top.into_iter().take(SAMPLES_PER_SIGNAL - 1) {
                        let labels: Vec<String> = m
                            .labels
                            .iter()
                            .map(|(k, v)| format!("{k}=\"{v}\""))
                            .collect();
                        hit.add(
                            &s.name,
                            o,
                            &format!("{}{{{}}} {}", m.name, labels.join(","), m.value),
                            None,
                            &timeline::Now::None,
                        );
                        hit.count -= 1;
                    }
                }
            }
        }
    }
}

/// A metric series across scrapes: its container (files given on the
/// command line are read as scrapes of one proxy), name and labels.
type SeriesKey = (Option<Origin>, String, Vec<(String, String)>);

fn series_key(o: &Origin, m: &MetricSample) -> SeriesKey {
    let source = match o {
        Origin::Pod { .. } => Some(o.without_line()),
        _ => None,
    };
    (source, m.name.clone(), m.labels.clone())
}

/// Reduces each series with timed samples to its latest sample, and returns
/// for each series that rose between two scrapes the first scrape at which
/// it did: when its errors began. A series already above zero at its first
/// scrape has no onset (its errors began before anything read); samples
/// without a time are left as they are.
fn metric_onsets(metrics: &mut Vec<(Origin, MetricSample)>) -> HashMap<SeriesKey, At> {
    let mut onsets = HashMap::new();
    if !metrics.iter().any(|(_, m)| m.at.is_some()) {
        return onsets;
    }
    let (timed, untimed): (Vec<_>, Vec<_>) = std::mem::take(metrics)
        .into_iter()
        .partition(|(_, m)| m.at.is_some());
    // In the order the series first appear, so the findings do not depend
    // on a hash order.
    let mut index: HashMap<SeriesKey, usize> = HashMap::new();
    let mut series: Vec<(SeriesKey, Vec<(Origin, MetricSample)>)> = Vec::new();
    for (o, m) in timed {
        let key = series_key(&o, &m);
        match index.get(&key) {
            Some(&i) => series[i].1.push((o, m)),
            None => {
                index.insert(key.clone(), series.len());
                series.push((key, vec![(o, m)]));
            }
        }
    }
    *metrics = untimed;
    for (key, mut samples) in series {
        samples.sort_by_key(|(_, m)| m.at);
        if let Some(at) = samples
            .windows(2)
            .filter(|_| samples[0].1.value <= 0.0)
            .find(|w| w[1].1.value > w[0].1.value)
            .and_then(|w| w[1].1.at)
        {
            onsets.insert(key, at);
        }
        metrics.extend(samples.pop());
    }
    onsets
}

/// Where an access record's request went: its upstream cluster, else its
/// authority. A success counts for errors to the same place only.
pub(crate) fn upstream_of(a: &crate::evidence::AccessRecord) -> Option<&str> {
    a.upstream_cluster.as_deref().or(a.authority.as_deref())
}

/// `true` when `a` and `b` name the same file or container, whatever line.
fn same_source(a: &Origin, b: &Origin) -> bool {
    match (a, b) {
        (Origin::File { path: p, .. }, Origin::File { path: q, .. }) => p == q,
        (
            Origin::Pod {
                namespace: n1,
                pod: p1,
                container: c1,
                ..
            },
            Origin::Pod {
                namespace: n2,
                pod: p2,
                container: c2,
                ..
            },
        ) => n1 == n2 && p1 == p2 && c1 == c2,
        (Origin::Arg, Origin::Arg) => true,
        _ => false,
    }
}

pub(crate) fn access_matches(
    c: &crate::rules::AccessCond,
    a: &crate::evidence::AccessRecord,
    raw: &str,
) -> bool {
    if !status_any(&c.status, a.status) {
        return false;
    }
    if !c.flags.is_empty() {
        let ok = c.flags.iter().any(|f| {
            if f == "-" {
                a.flags.is_empty()
            } else {
                a.flags.iter().any(|x| x == f)
            }
        });
        if !ok {
            return false;
        }
    }
    if let Some(re) = &c.details
        && !a.details.as_deref().is_some_and(|d| re.is_match(d))
    {
        return false;
    }
    if let Some(re) = &c.failure {
        let t = a.transport_failure.as_deref().unwrap_or("");
        let d = a.termination.as_deref().unwrap_or("");
        if !(re.is_match(t) || re.is_match(d)) {
            return false;
        }
    }
    if let Some(re) = &c.text
        && !re.is_match(raw)
    {
        return false;
    }
    if c.upstream_answered
        .is_some_and(|want| a.upstream_answered != want)
    {
        return false;
    }
    true
}

pub(crate) fn http_matches(c: &crate::rules::HttpCond, h: &crate::evidence::HttpResponse) -> bool {
    let has = |name: &str| {
        if let Some(req) = name.strip_prefix('>') {
            let req = req.trim();
            h.request_headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(req))
        } else {
            h.header(name).is_some()
        }
    };
    status_any(&c.status, h.status)
        && (!c.status.is_empty() || h.status.is_some() || c.body.is_some())
        && c.present.iter().all(|n| has(n))
        && (c.absent.is_empty() || !h.status_only)
        && c.absent.iter().all(|n| !has(n))
        && c.body.as_ref().is_none_or(|re| re.is_match(&h.body))
        && c.local
            .is_none_or(|want| !h.status_only && is_envoy_local_reply(h) == want)
        && c.empty
            .is_none_or(|want| !h.status_only && is_bodiless(h) == want)
}

fn http_summary(h: &crate::evidence::HttpResponse) -> String {
    let mut s = match h.status {
        Some(c) => format!("HTTP {c}"),
        None => "HTTP response".to_string(),
    };
    for (k, v) in &h.headers {
        if k.starts_with("l5d-")
            || k.starts_with("x-envoy")
            || k == "server"
            || k == "x-mesh-client-id"
        {
            s.push_str(&format!("; {k}: {v}"));
        }
    }
    s
}

fn target_of_proxy(p: &crate::evidence::ProxyLogEvent) -> Option<String> {
    match (p.field("ns"), p.field("name"), p.field("port")) {
        (Some(ns), Some(name), port) => Some(format!(
            "{name}.{ns}{}",
            port.map(|p| format!(":{p}")).unwrap_or_default()
        )),
        _ => p
            .field("addr")
            .or_else(|| p.field("server.addr"))
            .map(str::to_string),
    }
}

/// Placeholder values an evidence item implies (`namespace`, `pod`, `service`, `port`).
fn vars_of(ev: &Evidence) -> Vec<(String, String)> {
    let mut v = Vec::new();
    if let Origin::Pod {
        namespace,
        pod,
        container,
        ..
    } = &ev.origin
    {
        v.push(("namespace".into(), namespace.clone()));
        v.push(("pod".into(), pod.clone()));
        if let Some(c) = container {
            v.push(("container".into(), c.clone()));
        }
    }
    match &ev.item {
        Item::ProxyLog(p) => {
            if let (Some(ns), Some(name)) = (p.field("ns"), p.field("name")) {
                v.push(("namespace".into(), ns.to_string()));
                v.push(("service".into(), name.to_string()));
            }
            if let Some(port) = p.field("port") {
                v.push(("port".into(), port.to_string()));
            }
            service_fqdn(&ev.raw, &mut v);
        }
        Item::Http(h) => {
            for (_, val) in &h.headers {
                service_fqdn(val, &mut v);
            }
            service_fqdn(&h.body, &mut v);
        }
        Item::AppLog { message } => service_fqdn(message, &mut v),
        Item::Access(a) => {
            // outbound|8000||httpbin.foo.svc.cluster.local
            if let Some(c) = &a.upstream_cluster {
                let parts: Vec<&str> = c.split('|').collect();
                if parts.len() == 4 {
                    if !parts[1].is_empty() {
                        v.push(("port".into(), parts[1].to_string()));
                    }
                    let host: Vec<&str> = parts[3].split('.').collect();
                    if host.len() >= 2 && parts[3].contains(".svc") {
                        // The upstream's namespace, not the client's whose
                        // log this line is.
                        v.push(("service".into(), host[0].to_string()));
                        v.push(("service_namespace".into(), host[1].to_string()));
                    }
                }
            }
        }
        _ => {}
    }
    v
}

/// The mesh an evidence item names, if it names one: Envoy's own lines,
/// access records with Envoy's fields, `server: envoy` and `x-envoy-*`
/// headers, `envoy_`/`istio_` metrics, `istio-proxy` in the text point to
/// Istio/Envoy; Linkerd targets (`linkerd2_proxy::…`, `conduit_proxy`),
/// `l5d-*` headers, Linkerd metric labels and `linkerd-proxy` to Linkerd.
pub fn mesh_of(ev: &Evidence) -> Option<Mesh> {
    mesh_of_item(&ev.item, &ev.raw)
}

fn mesh_of_item(item: &Item, raw: &str) -> Option<Mesh> {
    fn in_text(t: &str) -> Option<Mesh> {
        let l = [
            "linkerd-proxy",
            "linkerd2_proxy",
            "linkerd_app",
            "conduit_proxy",
            "l5d-proxy-error",
            " proxy=out ",
            " proxy=in ",
        ];
        let i = [
            "istio-proxy",
            "istio-envoy",
            "envoy proxy",
            "pilot-agent",
            "istiod",
        ];
        if l.iter().any(|k| t.contains(k)) {
            Some(Mesh::Linkerd)
        } else if i.iter().any(|k| t.contains(k)) {
            Some(Mesh::Istio)
        } else if component(t, "linkerd-") {
            // Linkerd's own components (`linkerd-tap-7779d88fc7-ps42z`,
            // `linkerd-identity`, `linkerd-destination`).
            Some(Mesh::Linkerd)
        } else if component(t, "istio-") {
            Some(Mesh::Istio)
        } else {
            None
        }
    }
    /// A word starting with `prefix` and a letter: a component's name.
    fn component(t: &str, prefix: &str) -> bool {
        t.match_indices(prefix).any(|(i, _)| {
            (i == 0 || !t.as_bytes()[i - 1].is_ascii_alphanumeric())
                && t[i + prefix.len()..]
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_lowercase())
        })
    }
    match item {
        Item::ProxyLog(p) => {
            let t = p.target.as_deref().unwrap_or("");
            if t.contains("linkerd") || t.contains("conduit") {
                Some(Mesh::Linkerd)
            } else {
                in_text(raw)
            }
        }
        Item::EnvoyLog(_) => in_text(raw).or(Some(Mesh::Istio)),
        Item::Access(a) => {
            let envoy = !a.flags.is_empty()
                || a.details.is_some()
                || a.upstream_cluster.is_some()
                || a.transport_failure.is_some();
            envoy.then_some(Mesh::Istio)
        }
        Item::Http(h) => {
            let names = |p: &str| h.headers.iter().any(|(k, _)| k.starts_with(p));
            if names("l5d-") {
                Some(Mesh::Linkerd)
            } else if names("x-envoy-") || h.header("server").is_some_and(envoy_server) {
                Some(Mesh::Istio)
            } else {
                None
            }
        }
        Item::Metrics { samples } => {
            let istio = samples
                .iter()
                .any(|s| s.name.starts_with("envoy_") || s.name.starts_with("istio_"));
            let linkerd = samples.iter().any(|s| {
                s.label("direction").is_some()
                    || s.name.starts_with("identity_cert")
                    || s.name.starts_with("control_")
                    || s.name.starts_with("outbound_http_")
                    || s.name.starts_with("inbound_http_")
            });
            match (linkerd, istio) {
                (true, false) => Some(Mesh::Linkerd),
                (false, true) => Some(Mesh::Istio),
                _ => None,
            }
        }
        Item::AppLog { message } => in_text(message),
        Item::ToolReport(t) => match t.tool.as_str() {
            "linkerd check" => Some(Mesh::Linkerd),
            "istioctl analyze" => Some(Mesh::Istio),
            _ => None,
        },
    }
}

/// `true` for a response Envoy produced itself: its server header (or its own
/// debug dump) says Envoy, and it lacks `x-envoy-upstream-service-time`, the
/// header Envoy adds only to what came from the upstream.
fn is_envoy_local_reply(h: &crate::evidence::HttpResponse) -> bool {
    names_envoy(h) && !h.via_upstream && h.header("x-envoy-upstream-service-time").is_none()
}

/// An Envoy line about its own xDS stream to the control plane
/// (`StreamAggregatedResources gRPC config stream closed: 14, …`, Envoy 1.2x's
/// `… gRPC config stream to xds-grpc closed since 32s ago: …`).
fn is_xds_stream_status(message: &str) -> bool {
    message
        .find("gRPC config stream")
        .is_some_and(|i| message[i..].contains(" closed"))
}

/// The response names Envoy as its server, or came from Envoy's own log.
fn names_envoy(h: &crate::evidence::HttpResponse) -> bool {
    h.header("server").is_some_and(envoy_server) || h.envoy_log
}

/// A `server` header an Envoy proxy sends: `envoy`, Istio's `istio-envoy`,
/// and Kuma's built-in gateway, which names itself `Kuma Gateway`.
fn envoy_server(s: &str) -> bool {
    let s = s.trim();
    s.eq_ignore_ascii_case("envoy")
        || s.starts_with("istio-envoy")
        || s.eq_ignore_ascii_case("kuma gateway")
}

/// The HTTP status a Linkerd proxy log line says the proxy answered with
/// (`Handling error with HTTP response status=502 Bad Gateway`, 2.9-era), or
/// the HTTP status a gRPC code it generated stands for.
fn linkerd_generated_status(raw: &str) -> Option<u16> {
    // 2.9-era `Handling error with HTTP response status=…`, 2.11+ `Handling
    // error on HTTP connection status=…` (linkerd_app_core::errors::respond).
    let i = raw
        .find("Handling error with ")
        .or_else(|| raw.find("Handling error on HTTP connection "))?;
    let rest = &raw[i..];
    if let Some(j) = rest.find("status=") {
        let code = &rest[j + 7..];
        let end = code
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(code.len());
        if end == 3 {
            return code[..3].parse().ok();
        }
    }
    let j = rest.find("code=")?;
    let word = rest[j + 5..]
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()?;
    match word {
        "Unavailable" => Some(503),
        "DeadlineExceeded" => Some(504),
        "PermissionDenied" => Some(403),
        "Unimplemented" | "NotFound" => Some(404),
        _ => None,
    }
}

/// Envoy's fixed local-reply bodies (`../shared/vocab/envoy-local-reply-bodies.tsv`)
/// with the status each comes with: the ones a response of `status` and
/// `content-length` may have carried. Two share a length (connection
/// failure and connection timeout, 91 bytes): both name the same cause.
fn local_reply_bodies(status: u16, len: usize) -> impl Iterator<Item = &'static str> {
    const RESET: &str = "upstream connect error or disconnect/reset before headers";
    const BODIES: &[(u16, &str)] = &[
        (503, "no healthy upstream"),
        (504, "upstream request timeout"),
        (504, "upstream max stream duration reached"),
        (503, RESET),
        (
            503,
            "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
        ),
        (
            503,
            "upstream connect error or disconnect/reset before headers. reset reason: connection timeout",
        ),
        (
            503,
            "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
        ),
        (
            503,
            "upstream connect error or disconnect/reset before headers. reset reason: overflow",
        ),
        (
            503,
            "upstream connect error or disconnect/reset before headers. reset reason: local reset",
        ),
        (
            503,
            "upstream connect error or disconnect/reset before headers. reset reason: remote reset",
        ),
        (
            502,
            "upstream connect error or disconnect/reset before headers. reset reason: protocol error",
        ),
        (
            503,
            "upstream is closed prematurely during decoding data from downstream",
        ),
        (403, "RBAC: access denied"),
        (426, "Upgrade Required"),
        (401, "Jwt is missing"),
        (401, "Jwt is expired"),
        (401, "Jwt verification fails"),
        (401, "Jwks remote fetch is failed"),
        (403, "Audiences in Jwt are not allowed"),
        (429, "local_rate_limited"),
        (431, "Request Header Fields Too Large"),
    ];
    BODIES
        .iter()
        .filter(move |(s, b)| *s == status && b.len() == len)
        .map(|(_, b)| *b)
}

/// `true` when a response carried a body: `content-length` above 0, or text
/// among the non-header lines other than the client's own chatter (curl's
/// `*` lines, the prompt and command, `LOG:`/`---` of other tools).
fn has_body(h: &crate::evidence::HttpResponse) -> bool {
    if let Some(n) = h
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return n > 0 && h.body.lines().any(is_body_text);
    }
    h.body.lines().any(is_body_text)
}

/// `true` when a response had no body at all: its `content-length` is 0,
/// or, without one, no body text was shown. A `content-length` above 0 is a
/// body even where the paste cut it off.
fn is_bodiless(h: &crate::evidence::HttpResponse) -> bool {
    match h
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        Some(n) => n == 0,
        None => !has_body(h),
    }
}

fn is_body_text(l: &str) -> bool {
    let t = l.trim();
    !(t.is_empty()
        || t.starts_with('*')
        || t.starts_with("{ [")
        || t.starts_with("} [")
        || t.starts_with('$')
        || t.starts_with("---")
        || t.starts_with("LOG:")
        || t == "..."
        || t == "…"
        || t.starts_with('[') && t.contains("]# ")
        || t.contains("curl ")
        // Markdown's escaped `\*` of curl's lines.
        || t.starts_with("\\*")
        || is_shell_prompt(t)
        || crate::evidence::http::is_kubectl_chatter(t))
}

/// A shell prompt, alone or before a command: `/ #`, `bash-4.3#`,
/// `root@sleep-5c9f:/# curl …`, `sh-4.4$`.
fn is_shell_prompt(t: &str) -> bool {
    let Some(i) = t.find(['#', '$']).filter(|i| *i < 48) else {
        return false;
    };
    let (before, after) = (&t[..i], &t[i + 1..]);
    (after.is_empty() || after.starts_with(' '))
        && before.split_whitespace().count() <= 1
        && !before.contains(['=', '"', '\'', ','])
}

/// Longest evidence text shown; longer lines are cut around what matched.
const SHOWN: usize = 240;

/// `text`, or for a long line the part around the matched `span` with `…`
/// where it was cut (always on character boundaries).
fn around(text: &str, span: Option<std::ops::Range<usize>>) -> std::borrow::Cow<'_, str> {
    if text.len() <= SHOWN {
        return std::borrow::Cow::Borrowed(text);
    }
    let span = span.unwrap_or(0..0);
    let mut start = span.start.saturating_sub(80);
    let mut end = (start + SHOWN)
        .max(span.end.min(start + SHOWN * 2))
        .min(text.len());
    while start > 0 && !text.is_char_boundary(start) {
        start -= 1;
    }
    while end < text.len() && !text.is_char_boundary(end) {
        end += 1;
    }
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.push_str(&text[start..end]);
    if end < text.len() {
        out.push('…');
    }
    std::borrow::Cow::Owned(out)
}

/// The first Kubernetes service name in a text (`payments.shop.svc.cluster.local:8080`,
/// `payments.shop.svc:8080`): `service`, `namespace` and `port` for the
/// commands, when nothing more specific set them.
fn service_fqdn(text: &str, v: &mut Vec<(String, String)>) {
    let Some(i) = text.find(".svc") else {
        return;
    };
    let head = &text[..i];
    // After the last character that cannot be part of a host name, which
    // may be several bytes long (U+FFFD where the input was not UTF-8).
    let start = head
        .char_indices()
        .rev()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        .map_or(0, |(j, c)| j + c.len_utf8());
    let mut parts = head[start..].rsplitn(2, '.');
    let (Some(ns), Some(name)) = (parts.next(), parts.next()) else {
        return;
    };
    let name = name.rsplit('.').next().unwrap_or(name);
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !ok(ns) || !ok(name) {
        return;
    }
    let mut key = |k: &str, val: &str| {
        if !v.iter().any(|(x, _)| x == k) {
            v.push((k.to_string(), val.to_string()));
        }
    };
    key("service", name);
    key("service_namespace", ns);
    // A pasted header or line has no pod origin: the service's namespace is
    // the best guess for the commands about the caller too.
    key("namespace", ns);
    let tail = &text[i + 4..];
    let tail = tail.strip_prefix(".cluster.local").unwrap_or(tail);
    if let Some(port) = tail.strip_prefix(':') {
        let digits: String = port.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() {
            key("port", &digits);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_prompts_and_kubectl_chatter_are_not_a_body() {
        for l in [
            "/ #",
            "/ # curl -I http://httpbin.org/headers",
            "bash-4.3# exit",
            "root@ubuntu-deployment-54bbd6f4ff-q9sdj:/# curl -sv http://httpbin.org/ip",
            "sh-4.4$",
            "\\* Connection #0 to host httpbin.org left intact",
            "Defaulting container name to sleep.",
        ] {
            assert!(!is_body_text(l), "{l}");
        }
        for l in [
            "no healthy upstream",
            "# HELP is a comment in a body, and so is this line",
            "RBAC: access denied",
            "<html><head><title>502 Bad Gateway</title></head>",
        ] {
            assert_eq!(is_body_text(l), !l.starts_with("# "), "{l}");
        }
    }

    /// Found by the `scan_prefilter` fuzz target: a host name right after a
    /// multi-byte character (U+FFFD from invalid UTF-8) was cut inside it.
    #[test]
    fn a_service_name_after_a_multibyte_character_is_read_without_a_panic() {
        let mut v = Vec::new();
        service_fqdn(
            "addr=linkerd-policy.li\u{FFFD}web.shop.svc.cluster.local:8090",
            &mut v,
        );
        assert!(
            v.contains(&("service".to_string(), "web".to_string())),
            "{v:?}"
        );
        assert!(v.contains(&("service_namespace".to_string(), "shop".to_string())));
        assert!(v.contains(&("port".to_string(), "8090".to_string())));
        // The fuzzer's input, scanned with the built-in pack.
        let crash = b"[     4.011779s]  WARN ThreadId(01) policy:controller{addr=linkerd-policy.lir\x95nknkerd.svc.cluster.locaSRV and A record lookups: failed to resolve SRV record: no record found for Query { name: Name(\xa2linkerd-policy.lquery_type:  AAqA,A\xd0uery_class: IN }]\n";
        let rules = crate::rules::load_builtin().expect("built-in rules load");
        let mut m = Matcher::new(&rules);
        let stats = scan::Scanner::new(&rules)
            .scan(
                &crash[..],
                crate::evidence::InputKind::Auto,
                &Origin::file("crash", None),
                &mut m,
            )
            .unwrap();
        assert_eq!(stats.lines, 1);
        assert_eq!(stats.not_utf8, 1);
        m.finish();
    }
}
