//! Rules: the schema of a rule file, the compile step, and the registry.
//!
//! A rule file is parsed into [`schema::RuleFile`], validated and compiled into
//! a [`Rule`] (regexes built, status patterns resolved) once at load time. The
//! engine only ever sees compiled rules, gathered in a [`RuleSet`].

pub mod compile;
pub mod examples;
pub mod literals;
pub mod load;
pub mod messages;
mod required;
pub mod schema;

pub use load::{LoadError, RuleError, load_builtin, load_rules, load_rules_lean};
pub use schema::{
    ChangeSpec, Docs, Example, Expect, Hop, Mesh, Reference, Severity, Step, TextSource,
    VersionNote,
};

/// A rule regex: compiled at load time for user rules, on first use for the
/// built-in pack.
///
/// Compiling ~170 patterns costs tens of milliseconds, which `explain 503`
/// never needs: the scan builds one set from the pattern strings, and the
/// per-signal regexes are only compiled when a signal is actually evaluated.
#[derive(Debug, Clone)]
pub struct Regex {
    pat: String,
    re: std::sync::OnceLock<Option<regex::Regex>>,
}

impl Regex {
    /// Compiles `pat` now, so that syntax errors and patterns over the size
    /// limit are reported at load time (user rules, `rules test`).
    pub fn new(pat: &str) -> Result<Self, String> {
        let re = regex::Regex::new(pat).map_err(|e| e.to_string())?;
        Ok(Self {
            pat: pat.to_string(),
            re: std::sync::OnceLock::from(Some(re)),
        })
    }

    /// A pattern known to be valid (the built-in pack, checked by the tests
    /// and by `rules test`); not parsed until first use.
    pub fn trusted(pat: &str) -> Self {
        Self {
            pat: pat.to_string(),
            re: std::sync::OnceLock::new(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.pat
    }

    /// Byte range of the first match.
    pub fn find(&self, hay: &str) -> Option<std::ops::Range<usize>> {
        self.re
            .get_or_init(|| regex::Regex::new(&self.pat).ok())
            .as_ref()
            .and_then(|r| r.find(hay))
            .map(|m| m.range())
    }

    /// False if the pattern, though well-formed, cannot be compiled (e.g. it
    /// exceeds the size limit); such a signal simply never fires.
    pub fn is_match(&self, hay: &str) -> bool {
        self.re
            .get_or_init(|| regex::Regex::new(&self.pat).ok())
            .as_ref()
            .is_some_and(|r| r.is_match(hay))
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub mesh: Mesh,
    pub severity: Severity,
    pub prior: f64,
    pub tags: Vec<String>,
    /// Where along the request path the cause sits (see the schema's `hop`).
    pub hop: Hop,
    pub symptoms: Symptoms,
    pub signals: Vec<Signal>,
    /// `docs` and `versions`, read when first asked for (see [`Rule::docs`]).
    pub text: RuleText,
    /// Ids this cause produces as symptoms (see the schema's `explains`).
    pub explains: Vec<String>,
    /// Broader causes this one is a specific case of (see the schema's `refines`).
    pub refines: Vec<String>,
    /// Changes that can set this cause off (see the schema's `changes`).
    pub changes: Vec<schema::ChangeSpec>,
    pub examples: Vec<Example>,
    /// `builtin:rules/linkerd/x.yaml` or a user path.
    pub path: String,
}

/// A rule's prose: its `docs` and `versions`. A built-in rule loaded for
/// matching keeps only its source and reads these sections the first time a
/// finding or page needs them: most rules of a run never do.
#[derive(Debug, Clone, Default)]
pub struct RuleText {
    read: std::sync::OnceLock<(Docs, Vec<VersionNote>)>,
    /// The rule file's text, for a rule whose prose was not read at load.
    src: Option<std::sync::Arc<str>>,
}

impl RuleText {
    /// Prose read at load time.
    pub fn read(docs: Docs, versions: Vec<VersionNote>) -> Self {
        let read = std::sync::OnceLock::new();
        let _ = read.set((docs, versions));
        RuleText { read, src: None }
    }

    /// Prose to be read from `src` when first needed.
    pub fn later(src: &str) -> Self {
        RuleText {
            read: std::sync::OnceLock::new(),
            src: Some(src.into()),
        }
    }

    fn get(&self) -> &(Docs, Vec<VersionNote>) {
        self.read.get_or_init(|| {
            self.src
                .as_deref()
                .and_then(load::prose)
                .unwrap_or_default()
        })
    }
}

impl Rule {
    /// What the cause means, why it happens, how to confirm and fix it.
    pub fn docs(&self) -> &Docs {
        &self.text.get().0
    }

    /// Behaviour that changed across proxy/mesh versions.
    pub fn versions(&self) -> &[VersionNote] {
        &self.text.get().1
    }
}

/// Compiled symptoms.
#[derive(Debug, Clone, Default)]
pub struct Symptoms {
    pub status: Vec<StatusSymptom>,
    pub flags: Vec<String>,
    pub details: Vec<String>,
    pub keywords: Vec<String>,
    pub question: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StatusSymptom {
    pub code: u16,
    pub weight: f64,
    pub note: Option<String>,
}

/// A compiled signal.
#[derive(Debug, Clone)]
pub struct Signal {
    pub name: String,
    pub weight: f64,
    pub note: Option<String>,
    /// Counts only alongside a non-corroborating signal of the same rule.
    pub corroborates: bool,
    /// Names one request's outcome (an Envoy response-code-details token):
    /// no evidence in a line about the proxy's own xDS stream, where the
    /// same tokens describe its connection to the control plane.
    pub per_request: bool,
    pub kind: SignalKind,
}

/// What a signal looks at.
#[derive(Debug, Clone)]
pub enum SignalKind {
    /// A regex over text; `sources` empty = every text source.
    Text {
        regex: Regex,
        sources: Vec<TextSource>,
        /// Literals every match contains one of, when known without reading
        /// the regex (a `messages:` signal: each message's longest literal).
        literals: Option<Vec<String>>,
    },
    Access(AccessCond),
    Http(HttpCond),
    Metric(MetricCond),
    Fact(String),
}

impl SignalKind {
    /// The evidence family this signal belongs to; agreeing signals from
    /// different families are independent and rank higher together.
    pub fn family(&self) -> &'static str {
        match self {
            SignalKind::Text { .. } => "log",
            SignalKind::Access(_) => "access-log",
            SignalKind::Http(_) => "http",
            SignalKind::Metric(_) => "metric",
            SignalKind::Fact(_) => "object",
        }
    }
}

/// A status code or class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPat {
    Code(u16),
    /// `5xx` → 5.
    Class(u16),
}

impl StatusPat {
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusPat::Code(c) => c == status,
            StatusPat::Class(c) => status / 100 == c,
        }
    }
}

pub fn status_any(pats: &[StatusPat], status: Option<u16>) -> bool {
    pats.is_empty() || status.is_some_and(|s| pats.iter().any(|p| p.matches(s)))
}

#[derive(Debug, Clone, Default)]
pub struct AccessCond {
    pub status: Vec<StatusPat>,
    /// `-` means "no flag".
    pub flags: Vec<String>,
    pub details: Option<Regex>,
    pub failure: Option<Regex>,
    pub text: Option<Regex>,
    /// Whether an upstream answered (see the schema).
    pub upstream_answered: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct HttpCond {
    pub status: Vec<StatusPat>,
    pub present: Vec<String>,
    pub absent: Vec<String>,
    pub body: Option<Regex>,
    /// Envoy answered itself (see the schema).
    pub local: Option<bool>,
    /// The response had no body (see the schema).
    pub empty: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct MetricCond {
    pub name: String,
    pub labels: Vec<(String, Regex)>,
    /// Labels that must not match (a value written `!regex`).
    pub labels_not: Vec<(String, Regex)>,
    pub above: f64,
    /// Some matching series below this, instead of the sum above `above`.
    pub below: Option<f64>,
    pub over: Option<(String, Vec<(String, Regex)>)>,
}

/// Every loaded rule, in load order (built-in first, then user directories).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// What the engine derives from the whole set once (its text pattern
    /// table and literal index), kept with the set so that a run explaining
    /// thousands of inputs (`rules test`, the corpus tests) derives it once.
    /// Built by the engine; empty on a new or filtered set.
    pub derived: Derived,
}

/// A slot for data derived from a rule set by a higher layer.
#[derive(Default)]
pub struct Derived(std::sync::OnceLock<std::sync::Arc<dyn std::any::Any + Send + Sync>>);

impl Derived {
    /// The value in the slot, built by `init` the first time.
    pub fn get_or_init<T: std::any::Any + Send + Sync>(
        &self,
        init: impl FnOnce() -> T,
    ) -> Option<std::sync::Arc<T>> {
        self.0
            .get_or_init(|| std::sync::Arc::new(init()))
            .clone()
            .downcast::<T>()
            .ok()
    }
}

impl Clone for Derived {
    /// A copy of a set may be changed: it derives its own.
    fn clone(&self) -> Self {
        Derived::default()
    }
}

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Derived(built)"
        } else {
            "Derived(empty)"
        })
    }
}

impl RuleSet {
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }

    /// Keeps only rules for the given mesh (and `any`).
    pub fn for_mesh(&self, mesh: Option<Mesh>) -> RuleSet {
        match mesh {
            None => self.clone(),
            Some(m) => RuleSet {
                rules: self
                    .rules
                    .iter()
                    .filter(|r| r.mesh == m || r.mesh == Mesh::Any)
                    .cloned()
                    .collect(),
                derived: Derived::default(),
            },
        }
    }
}
