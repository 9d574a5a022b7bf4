//! One diagnosis run: the pipeline from raw inputs to ranked findings.
//!
//! Collectors (files, bundles, the cluster) push raw material in; log streams
//! go through the bulk [`Scanner`], small blocks (HTTP transcripts, metrics)
//! through the block parsers, manifests into an [`ObjectSet`]. `finish`
//! derives facts, matches everything against the rules and ranks.

use super::Matcher;
use super::scan::Scanner;
use crate::collect::manifests::{self, ManifestError};
use crate::evidence::{InputKind, Item, Origin, ReadStats, detect};
use crate::facts::{FactOptions, ObjectSet, derive};
use crate::report::{Finding, Missing};
use crate::rules::RuleSet;
use std::io::Read;

pub struct Diagnosis<'r> {
    matcher: Matcher<'r>,
    scanner: Scanner,
    pub objects: ObjectSet,
    pub stats: ReadStats,
    pub missing: Vec<Missing>,
    /// Human summary of what was read ("logs/web/web-1/linkerd-proxy.log: 1,204 lines").
    pub read: Vec<String>,
    /// Sources that were not valid UTF-8 (read lossily), each once: the
    /// CLI warns about each on stderr.
    pub not_utf8: Vec<String>,
    /// Kubernetes Events read (a bundle's `events/`): evidence, and changes
    /// on the timeline.
    pub events: Vec<serde_json::Value>,
}

/// Everything a diagnosis run ends with.
pub struct Finished {
    pub findings: Vec<Finding>,
    pub stats: ReadStats,
    pub missing: Vec<Missing>,
    pub read: Vec<String>,
    pub timeline: crate::report::timeline::Timeline,
}

impl<'r> Diagnosis<'r> {
    pub fn new(rules: &'r RuleSet) -> Self {
        Diagnosis {
            matcher: Matcher::new(rules),
            scanner: Scanner::new(rules),
            objects: ObjectSet::default(),
            stats: ReadStats::default(),
            missing: Vec::new(),
            read: Vec::new(),
            not_utf8: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Kubernetes Events (multi-document YAML or a JSON list): each reads as
    /// a line at the time it was first and last seen.
    pub fn events(&mut self, text: &str, label: &str) -> Result<(), ManifestError> {
        let set = manifests::load_str(text, label, "default")?;
        let mut n = 0;
        for o in set.objects.into_iter().filter(|o| o.kind() == "Event") {
            let (ev, first, last) = crate::evidence::event::evidence(&o.value);
            self.stats.app_log += 1;
            self.matcher.observe_at(&ev, first, last);
            self.events.push(o.value);
            n += 1;
        }
        self.read.push(format!("{label}: {n} events"));
        Ok(())
    }

    /// A log stream of any size, scanned in one pass.
    pub fn logs<R: Read>(
        &mut self,
        r: R,
        kind: InputKind,
        origin: &Origin,
        label: &str,
    ) -> std::io::Result<()> {
        let st = self.scanner.scan(r, kind, origin, &mut self.matcher)?;
        if st.not_utf8 > 0 {
            self.not_utf8(label);
        }
        self.read
            .push(format!("{label}: {} lines", crate::util::group(st.lines)));
        self.stats.add(&st);
        Ok(())
    }

    /// A small text block (curl transcript, header block, metrics exposition,
    /// another tool's report), parsed whole.
    pub fn block(&mut self, text: &str, kind: InputKind, origin: &Origin, label: &str) {
        let (items, st) = detect::read_text(text, kind, origin);
        // Another tool's report is summarised as its messages.
        let tool = match items.first().map(|e| &e.item) {
            Some(Item::ToolReport(m))
                if items.iter().all(|e| matches!(e.item, Item::ToolReport(_))) =>
            {
                Some(m.tool.clone())
            }
            _ => None,
        };
        match tool {
            Some(t) => self
                .read
                .push(format!("{label}: {} {t} messages", items.len())),
            None => self.read.push(format!("{label}: {} items", items.len())),
        }
        self.stats.add(&st);
        for ev in &items {
            self.matcher.observe(ev);
        }
    }

    /// Kubernetes manifests.
    pub fn manifests(
        &mut self,
        text: &str,
        path: &str,
        default_ns: &str,
    ) -> Result<(), ManifestError> {
        let set = manifests::load_str(text, path, default_ns)?;
        self.read
            .push(format!("{path}: {} objects", set.objects.len()));
        self.objects.objects.extend(set.objects);
        self.objects.sources.extend(set.sources);
        Ok(())
    }

    /// Records evidence that could not be collected.
    /// Values for the commands' placeholders known from the input itself
    /// (the namespace and pod a bundle is about); evidence and facts win.
    pub fn default_vars(&mut self, vars: &std::collections::BTreeMap<String, String>) {
        self.matcher.default_vars(vars);
    }

    /// Notes a source that was not valid UTF-8 (it was read lossily).
    pub fn not_utf8(&mut self, source: &str) {
        if !self.not_utf8.iter().any(|s| s == source) {
            self.not_utf8.push(source.to_string());
        }
    }

    pub fn missing(&mut self, m: Missing) {
        self.missing.push(m);
    }

    /// Derives facts, matches, ranks.
    pub fn finish(
        self,
        opts: &FactOptions,
    ) -> (Vec<Finding>, ReadStats, Vec<Missing>, Vec<String>) {
        let f = self.finish_all(opts);
        (f.findings, f.stats, f.missing, f.read)
    }

    /// [`Diagnosis::finish`], with the timeline: container start times turn
    /// Linkerd uptimes into times, and the objects' changes weigh the causes
    /// whose errors followed them.
    pub fn finish_all(mut self, opts: &FactOptions) -> Finished {
        let values = || self.objects.objects.iter().map(|o| &o.value);
        self.matcher
            .set_clock(crate::evidence::time::Clock::of_pods(values()));
        let now = crate::evidence::time::At::from_system(opts.now);
        self.matcher.set_changes(crate::facts::changes::changes(
            values().chain(self.events.iter()),
            now,
        ));
        for f in derive(&self.objects, opts) {
            self.matcher.observe_fact(&f);
        }
        // Meshed pods name their control plane's namespace.
        if let Some(ns) = self
            .objects
            .of_kind("Pod")
            .find_map(|p| p.label("linkerd.io/control-plane-ns"))
        {
            let v = std::collections::BTreeMap::from([(
                "linkerd_namespace".to_string(),
                ns.to_string(),
            )]);
            self.matcher.default_vars(&v);
        }
        let (findings, timeline) = self.matcher.finish_with_timeline();
        Finished {
            findings,
            stats: self.stats,
            missing: self.missing,
            read: self.read,
            timeline,
        }
    }
}

/// The bundle reader (`collect::bundle::feed`) feeds a diagnosis through
/// [`crate::collect::Sink`] without knowing the engine.
impl crate::collect::Sink for Diagnosis<'_> {
    fn logs(
        &mut self,
        r: &mut dyn Read,
        kind: InputKind,
        origin: &Origin,
        label: &str,
    ) -> std::io::Result<()> {
        Diagnosis::logs(self, r, kind, origin, label)
    }
    fn block(&mut self, text: &str, kind: InputKind, origin: &Origin, label: &str) {
        Diagnosis::block(self, text, kind, origin, label)
    }
    fn manifests(&mut self, text: &str, path: &str, default_ns: &str) -> Result<(), ManifestError> {
        Diagnosis::manifests(self, text, path, default_ns)
    }
    fn events(&mut self, text: &str, label: &str) -> Result<(), ManifestError> {
        Diagnosis::events(self, text, label)
    }
    fn missing(&mut self, m: Missing) {
        Diagnosis::missing(self, m)
    }
    fn default_vars(&mut self, vars: &std::collections::BTreeMap<String, String>) {
        Diagnosis::default_vars(self, vars)
    }
    fn not_utf8(&mut self, source: &str) {
        Diagnosis::not_utf8(self, source)
    }
}
