//! The serde mirror of a rule file (`rules/<mesh>/<id>.yaml`).
//!
//! This is the *authoring* format. It is parsed once and compiled into
//! [`crate::rules::Rule`]; the engine never sees these structs. Fields whose
//! values need semantic validation after parsing (regexes, ids, docs text) are
//! wrapped in [`Spanned`] so a bad value can be reported at file:line:column.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

/// One root cause. One file, one stable id.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Stable kebab-case id (`linkerd-fail-fast`). Never reused.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// One-line statement of the root cause.
    #[schemars(with = "String")]
    pub title: Spanned<String>,
    pub mesh: Mesh,
    pub severity: Severity,
    /// How common this cause is among everything that produces the same
    /// symptom, 0.0–1.0. Orders rules that match a bare symptom (`explain 503`).
    #[serde(default = "default_prior")]
    pub prior: f64,
    /// Free-form grouping tags (`connectivity`, `policy`, `tls`, …).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Where along the request path (client app → client proxy → server
    /// proxy → server app) this cause sits: the hop `diagnose` marks when it
    /// draws the path. Absent: `client-proxy`.
    #[serde(default)]
    pub hop: Option<Hop>,
    /// What a user may hold in hand when this cause is at work.
    #[serde(default)]
    pub symptoms: Symptoms,
    /// Evidence that points at this cause, each with a weight.
    #[serde(default)]
    #[schemars(with = "Vec<Signal>")]
    pub signals: Vec<Spanned<Signal>>,
    /// The documentation printed by `meshdoc explain <id>` (required).
    #[schemars(with = "Docs")]
    #[serde(default)]
    pub docs: Option<Spanned<Docs>>,
    /// Behaviour that changed across proxy/mesh versions.
    #[serde(default)]
    pub versions: Vec<VersionNote>,
    /// Causes this one produces as symptoms (a NetworkPolicy that blocks 4143
    /// drives clients into fail-fast). When this rule is backed by an object
    /// fact, findings for these ids rank below it, marked as its consequence.
    #[serde(default)]
    pub explains: Vec<String>,
    /// Broader causes this one is a specific case of (a 431 for oversized
    /// headers is a downstream protocol error). When both have evidence, this
    /// rule ranks first and the broader findings just below it.
    #[serde(default)]
    pub refines: Vec<String>,
    /// Changes that can set this cause off: object kinds, optionally with
    /// field paths, whose change shortly before the first error of the
    /// symptom makes this the likelier cause (`meshdoc timeline`). The kind
    /// `Certificate` stands for a certificate's `notBefore`/`notAfter`.
    #[serde(default)]
    #[schemars(with = "Vec<ChangeSpec>")]
    pub changes: Vec<Spanned<ChangeSpec>>,
    /// Firing and quiet examples; run by `meshdoc rules test` and `cargo test`.
    #[serde(default)]
    #[schemars(with = "Vec<Example>")]
    pub examples: Vec<Spanned<Example>>,
}

/// One kind of change that can trigger a cause.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeSpec {
    /// The object kind as the API names it (`DestinationRule`,
    /// `NetworkPolicy`, `ReplicaSet` for a rollout), or `Certificate`.
    pub kind: String,
    /// Field paths whose change counts (`spec.trafficPolicy`,
    /// `spec.selector`); a change that owns a field under one of them, or
    /// above it, matches. Empty: any change to the object, its creation too.
    #[serde(default)]
    pub fields: Vec<String>,
}

impl ChangeSpec {
    /// `true` when a change of `kind` that owns `fields` (none for a
    /// creation or a certificate edge) is one this spec names.
    pub fn matches(&self, kind: &str, fields: &[String]) -> bool {
        if !self.kind.eq_ignore_ascii_case(kind) {
            return false;
        }
        self.fields.is_empty()
            || fields.is_empty()
            || self.fields.iter().any(|want| {
                fields.iter().any(|have| {
                    let under = |a: &str, b: &str| {
                        a == b || (a.starts_with(b) && a.as_bytes().get(b.len()) == Some(&b'.'))
                    };
                    under(have, want) || under(want, have)
                })
            })
    }
}

fn default_prior() -> f64 {
    0.5
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mesh {
    Linkerd,
    Istio,
    Any,
}

/// A hop of the request path, from the calling application to the called one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Hop {
    /// The calling application (it hung up, or sent what no proxy accepts).
    ClientApp,
    /// The client-side proxy: its routing, TLS origination, policy on the way out.
    #[default]
    ClientProxy,
    /// The server-side proxy: inbound policy, protocol detection, injection.
    ServerProxy,
    /// The called application or what stands behind its Service (endpoints).
    ServerApp,
}

/// Ordered from least to most severe, so `>=` compares thresholds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// Bare symptoms: what `meshdoc explain 503` / `explain UF` / `explain fail-fast`
/// match on when there is no richer evidence.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Symptoms {
    /// HTTP status codes this cause produces: `504`, or `{code: 503, weight: 0.4,
    /// note: "stable-2.10 and earlier"}`.
    #[serde(default)]
    pub status: Vec<StatusSymptom>,
    /// Envoy response flags (`UF`, `UO`, `NR`, …).
    #[serde(default)]
    pub flags: Vec<String>,
    /// Envoy response-code-details values (`upstream_reset_before_response_started{connection_failure}`).
    /// A value may end in `*` to match as a prefix.
    #[serde(default)]
    pub details: Vec<String>,
    /// Words and phrases a user may type (`fail-fast`, `10s`, `opaque`).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The question that tells this cause apart from the others sharing its symptom
    /// ("Is `l5d-proxy-error` present in the response?").
    #[serde(default)]
    pub question: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StatusSymptom {
    Code(u16),
    Detailed {
        code: u16,
        #[serde(default = "one")]
        weight: f64,
        #[serde(default)]
        note: Option<String>,
    },
}

fn one() -> f64 {
    1.0
}

/// One piece of evidence that supports the cause. Exactly one of `match`,
/// `access`, `http`, `metric` or `fact` must be set.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signal {
    /// Short name, unique within the rule (`failfast-log`).
    pub name: String,
    /// How strongly this signal alone points at the cause (1 weak … 10 conclusive).
    #[serde(default = "default_weight")]
    pub weight: f64,
    /// Regular expression over a line or text block of evidence.
    #[serde(default, rename = "match")]
    pub pattern: Option<String>,
    /// Messages exactly as the proxy's source writes them, placeholders and
    /// all (`connect timed out after {:?}`, `failed to fetch %s: %v`,
    /// `upstream_reset_before_response_started{<reason>}`): each placeholder
    /// matches any text, the rest exactly. An alternative to
    /// `match` for vocabulary taken straight from the proxies. A list, or a
    /// block of one message per line (`messages: |`), which reads faster and
    /// needs no quoting.
    #[serde(default, deserialize_with = "one_per_line")]
    #[schemars(with = "Vec<String>")]
    pub messages: Vec<String>,
    /// Where `match` / `messages` apply; default: every text source.
    #[serde(default, rename = "in")]
    pub sources: Vec<TextSource>,
    /// A condition on a parsed Envoy/Istio access-log record.
    #[serde(default)]
    pub access: Option<AccessCond>,
    /// A condition on an HTTP response (curl -v transcript, header block).
    #[serde(default)]
    pub http: Option<HttpCond>,
    /// A condition on proxy metrics.
    #[serde(default)]
    pub metric: Option<MetricCond>,
    /// A derived fact about Kubernetes / mesh objects (see `meshdoc rules facts`).
    #[serde(default)]
    pub fact: Option<String>,
    /// What this signal means, shown beside its evidence.
    #[serde(default)]
    pub note: Option<String>,
    /// Only strengthens a finding that another signal of the rule raised; on
    /// its own it raises nothing (a not-ready pod alone is not fail-fast).
    #[serde(default)]
    pub corroborates: bool,
}

fn default_weight() -> f64 {
    3.0
}

/// Where a text pattern is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TextSource {
    /// Linkerd proxy / Envoy / pilot-agent log lines.
    ProxyLog,
    /// Application container log lines and client error output.
    AppLog,
    /// The raw access-log line.
    AccessLog,
    /// HTTP header values (`l5d-proxy-error: …`).
    Header,
    /// HTTP response body / curl output lines that are not headers.
    Body,
    /// Control-plane logs (istiod, destination, identity).
    ControlPlane,
    /// Messages of other tools' reports (`linkerd check -o json`,
    /// `istioctl analyze -o json`), as `[CODE] level: (object) message`.
    ToolReport,
}

/// Matches a parsed access-log record. All given parts must hold.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessCond {
    /// Status patterns: `503`, `"5xx"`, `0`.
    #[serde(default)]
    pub status: Vec<StatusPat>,
    /// Any of these response flags present (`UF`; `"-"` means no flag at all).
    #[serde(default)]
    pub flags: Vec<String>,
    /// Regex over response-code-details.
    #[serde(default)]
    pub details: Option<String>,
    /// Regex over upstream transport failure reason / connection termination details.
    #[serde(default)]
    pub failure: Option<String>,
    /// Regex over the whole raw line.
    #[serde(default)]
    pub text: Option<String>,
    /// `true`: an upstream answered (the record has an upstream service
    /// time); `false`: none did. Unset: either.
    #[serde(default)]
    pub upstream_answered: Option<bool>,
}

/// A status code or class: `503`, `"5xx"`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StatusPat {
    Code(u16),
    Class(String),
}

/// Matches an HTTP response. All given parts must hold.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpCond {
    #[serde(default)]
    pub status: Vec<StatusPat>,
    /// Header names that must be present (case-insensitive).
    #[serde(default)]
    pub present: Vec<String>,
    /// Header names that must be absent.
    #[serde(default)]
    pub absent: Vec<String>,
    /// Regex over the body.
    #[serde(default)]
    pub body: Option<String>,
    /// `true`: Envoy answered itself (it names itself the server, or the
    /// response is from its own debug log, and no upstream service time was
    /// recorded); `false`: it did not.
    #[serde(default)]
    pub local: Option<bool>,
    /// `true`: the response carried no body (`content-length: 0`, or without
    /// one no text besides the client's own chatter); `false`: it did (a
    /// `content-length` above 0 counts where the paste cut the body off).
    #[serde(default)]
    pub empty: Option<bool>,
}

/// Matches proxy metric samples.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricCond {
    /// Metric family name (`inbound_http_authz_deny_total`); suffixes are exact.
    pub name: String,
    /// Label matchers: value is a regex anchored on both ends; `!regex`
    /// matches the series whose label does not match it; `@name` stands for
    /// a named class of values (`'!@envoy-control-plane'`: an Envoy cluster
    /// that is not the proxy's own control-plane connection).
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// The summed value over matching series must be above this.
    #[serde(default)]
    pub above: f64,
    /// Instead of `above`: some matching series must be below this (a gauge
    /// that is bad when low, such as `membership_healthy` at 0).
    #[serde(default)]
    pub below: Option<f64>,
    /// Optional ratio: matching sum / sum of `over` (same labels) must exceed `above`.
    #[serde(default)]
    pub over: Option<MetricRatio>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricRatio {
    pub name: String,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// The documentation of one root cause. Every section must be non-empty.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Docs {
    /// What it means, in two or three sentences.
    pub summary: String,
    /// Why it happens.
    pub why: String,
    /// How to confirm it: steps, each optionally with a command.
    pub confirm: Vec<Step>,
    /// How to fix it.
    pub fix: Vec<Step>,
    /// Where the facts come from.
    pub references: Vec<Reference>,
}

/// A documented step. `command` may use `{namespace}`, `{pod}`, `{service}`,
/// `{port}`, `{container}`, `{deployment}`, `{object}` placeholders.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub text: String,
    #[serde(default)]
    pub command: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub title: String,
    pub url: String,
}

/// A version-dependent behaviour ("fail-fast is 503 up to stable-2.10").
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionNote {
    /// Which versions (`linkerd <= stable-2.10`, `istio >= 1.9`).
    pub versions: String,
    pub note: String,
    /// Where this was learned (issue, commit, changelog).
    #[serde(default)]
    pub source: Option<String>,
}

/// An example input and what the rule must do with it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub name: String,
    /// Input as `meshdoc explain` would take it: a status, a flag, a log line, a
    /// header block, a curl transcript, a metrics exposition.
    #[serde(default)]
    pub input: Option<String>,
    /// Kubernetes manifests (multi-document YAML) for `fact` signals.
    #[serde(default)]
    pub objects: Option<String>,
    pub expect: Expect,
    /// For `fire`: the rule must rank at or above this (default 3).
    #[serde(default)]
    pub rank: Option<usize>,
    /// Where the input came from (corpus path, issue).
    #[serde(default)]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// The rule must appear in the top `rank` findings.
    Fire,
    /// The rule must not appear at all.
    Quiet,
}

/// A list of strings, or one string holding one per line (blank lines skipped).
fn one_per_line<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of messages, or a block with one message per line")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(s.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect())
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = a.next_element::<String>()? {
                out.push(s);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}
