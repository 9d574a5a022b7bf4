//! The timeline: changes to objects and the onsets of errors on one time
//! axis, with the change suspected of setting the errors off marked. The
//! model is data (serialised in JSON/YAML as the report's `timeline`); this
//! module also renders it for the table and markdown formats.

use super::sanitize::{md_code, md_text, strip_controls};
use crate::evidence::time::At;
use crate::facts::changes::Change;
use serde::Serialize;
use std::fmt::Write;

/// The change a finding's errors followed, and why it gained weight.
#[derive(Debug, Clone, Serialize)]
pub struct Trigger {
    pub change: Change,
    /// The first error of the symptom.
    pub onset: At,
    /// The signal and evidence family of that first error.
    pub signal: String,
    pub family: String,
    /// The finding whose evidence gave the onset: this one, or a consequence
    /// it explains.
    pub finding: String,
    /// The last success of the first error's source, when known: the
    /// change came after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<At>,
    /// From the change to the first error, in milliseconds.
    pub gap_ms: i64,
    /// What the finding's score was multiplied by.
    pub factor: f64,
    /// `DestinationRule shop/reviews changed by kubectl-client-side-apply at
    /// T (spec.trafficPolicy), 1 s before the first uc-uf-503 (access-log) at T+1s`.
    pub text: String,
}

/// Errors of one finding in one evidence family.
#[derive(Debug, Clone, Serialize)]
pub struct Onset {
    pub finding: String,
    pub family: String,
    pub signals: Vec<String>,
    pub first: At,
    pub last: At,
    pub count: u64,
    /// The last success of the source of the first error, before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<At>,
}

/// One line of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub at: At,
    /// `change`, `success` (the last success before errors) or `errors`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The object (`DestinationRule shop/reviews`) or the finding id.
    pub subject: String,
    /// What happened, in words.
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Onset>,
    /// The suspected trigger of the top cause's errors.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub trigger: bool,
}

/// Changes and error onsets, oldest first.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timeline {
    pub entries: Vec<Entry>,
    /// The suspected trigger in one sentence, when one was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// Which finding the trigger is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_for: Option<String>,
    /// Older changes left out to keep the view compact.
    #[serde(skip_serializing_if = "is_zero")]
    pub omitted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Timeline {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The terminal rendering: one line per entry, the trigger marked `▶`.
pub fn table(t: &Timeline, out: &mut String) {
    if t.is_empty() {
        let _ = writeln!(out, "timeline: no timed changes or errors in what was read");
        return;
    }
    let _ = writeln!(out, "timeline (UTC):");
    if t.omitted > 0 {
        let _ = writeln!(out, "  … {} older change(s) not shown", t.omitted);
    }
    for e in &t.entries {
        let mark = if e.trigger { "▶" } else { " " };
        let tag = match e.kind.as_str() {
            "errors" => "errors",
            "success" => "ok",
            _ => "change",
        };
        let _ = writeln!(
            out,
            "{mark} {}  {tag:<6}  {}  {}",
            e.at,
            strip_controls(&e.subject),
            strip_controls(&e.text)
        );
    }
    if let Some(tr) = &t.trigger {
        let _ = writeln!(out, "suspected trigger: {}", strip_controls(tr));
    }
}

/// The markdown rendering: a table for an incident document.
pub fn markdown(t: &Timeline, out: &mut String) {
    let _ = writeln!(out, "### Timeline (UTC)\n");
    if t.is_empty() {
        let _ = writeln!(out, "No timed changes or errors in what was read.\n");
        return;
    }
    if let Some(tr) = &t.trigger {
        let _ = writeln!(out, "**Suspected trigger:** {}\n", md_text(tr));
    }
    out.push_str("| time | | type | subject | what |\n|---|---|---|---|---|\n");
    for e in &t.entries {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            e.at,
            if e.trigger { "**trigger**" } else { "" },
            e.kind,
            md_code(&e.subject).replace('|', "\\|"),
            md_text(&e.text)
        );
    }
    if t.omitted > 0 {
        let _ = writeln!(out, "\n{} older change(s) not shown.", t.omitted);
    }
    out.push('\n');
}
