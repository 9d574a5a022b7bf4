//! Ranking: turns accumulated support into ordered findings.
//!
//! A finding's score adds its signals' weights (with a gentle logarithmic
//! bonus for repetition, so a thousand copies of one line do not outweigh two
//! independent signals) and multiplies by the number of independent evidence
//! families that agree (log, access-log, http, metric, object). Bare symptoms
//! (`explain 503`) contribute `weight × (0.5 + prior)`, so among rules sharing
//! a symptom the more common cause ranks first.

use crate::facts::ObjRef;
use crate::report::{Confidence, EvidenceLine, Finding, SignalSummary, TargetCount, render_steps};
use crate::rules::RuleSet;
use std::collections::{BTreeMap, HashMap};

/// How many upstreams/authorities a finding lists.
pub const TOP_TARGETS: usize = 5;

/// One signal's hits: (signal index, count, first seen, last seen, the last
/// success of the first hit's source before it, samples).
pub type SignalHits = (
    usize,
    u64,
    Option<String>,
    Option<String>,
    Option<crate::evidence::time::At>,
    Vec<EvidenceLine>,
);

/// What one rule gathered.
pub struct Support {
    pub hits: Vec<SignalHits>,
    pub symptoms: Vec<(String, f64)>,
    pub targets: HashMap<String, u64>,
    pub vars: BTreeMap<String, String>,
    pub objects: Vec<ObjRef>,
    pub patches: Vec<String>,
}

/// Ranks the rules that gathered support: (rule index, support), in rule order.
pub fn rank(rules: &RuleSet, support: Vec<(usize, Support)>) -> Vec<Finding> {
    order(rules, score(rules, support))
}

/// Scores every rule with support, unordered (see [`order`]).
pub fn score(rules: &RuleSet, support: Vec<(usize, Support)>) -> Vec<Finding> {
    let mut out = Vec::new();
    for (ri, sup) in support {
        if sup.hits.is_empty() && sup.symptoms.is_empty() {
            continue;
        }
        let rule = &rules.rules[ri];
        if sup.symptoms.is_empty()
            && sup
                .hits
                .iter()
                .all(|(si, ..)| rule.signals[*si].corroborates)
        {
            continue;
        }
        let mut families = std::collections::BTreeSet::new();
        let mut raw = 0.0;
        let mut signals = Vec::new();
        let mut evidence = Vec::new();
        for (si, count, first, last, ok_before, samples) in sup.hits {
            let sig = &rule.signals[si];
            families.insert(sig.kind.family());
            raw += sig.weight * (1.0 + 0.1 * (count.max(1) as f64).ln());
            signals.push(SignalSummary {
                name: sig.name.clone(),
                family: sig.kind.family().to_string(),
                weight: sig.weight,
                count,
                first_at: first.as_deref().and_then(crate::evidence::time::parse),
                last_at: last.as_deref().and_then(crate::evidence::time::parse),
                ok_before,
                first_seen: first,
                last_seen: last,
                note: sig.note.clone(),
            });
            evidence.extend(samples);
        }
        let mut symptom_only = signals.is_empty();
        for (text, w) in &sup.symptoms {
            raw += w * (0.5 + rule.prior);
            evidence.push(EvidenceLine {
                signal: "symptom".into(),
                source: "<argument>".into(),
                text: text.clone(),
                count: 1,
            });
        }
        if sup.symptoms.is_empty() {
            symptom_only = false;
        }
        let fam = families.len().max(1) as f64;
        let score = raw * (1.0 + 0.3 * (fam - 1.0));
        let confidence = if symptom_only {
            Confidence::Candidate
        } else if families.len() >= 2 || score >= 8.0 {
            Confidence::High
        } else if score >= 4.0 {
            Confidence::Medium
        } else {
            Confidence::Low
        };
        let mut targets: Vec<TargetCount> = sup
            .targets
            .into_iter()
            .map(|(target, count)| TargetCount { target, count })
            .collect();
        targets.sort_by(|a, b| b.count.cmp(&a.count).then(a.target.cmp(&b.target)));
        targets.truncate(TOP_TARGETS);
        signals.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.name.cmp(&b.name)));
        let vars = with_defaults(&sup.vars);
        out.push(Finding {
            rank: 0,
            id: rule.id.clone(),
            title: rule.title.clone(),
            mesh: rule.mesh,
            severity: rule.severity,
            score,
            confidence,
            summary: rule.docs().summary.trim().to_string(),
            question: rule.symptoms.question.clone(),
            signals,
            evidence,
            objects: sup.objects,
            location: None,
            targets,
            confirm: render_steps(&rule.docs().confirm, &vars),
            fix: render_steps(&rule.docs().fix, &vars),
            patches: sup.patches,
            explained_by: None,
            trigger: None,
            changed: None,
            prior: rule.prior,
        });
    }
    out
}

/// Orders scored findings: by score, then causes above the consequences
/// they explain, then ranks and rounds.
pub fn order(rules: &RuleSet, mut out: Vec<Finding>) -> Vec<Finding> {
    out.sort_by(by_score);
    let table = super::Matcher::table_of(rules);
    let index = &table.ids;
    // A cause backed by an object fact explains the symptoms it produces,
    // and a specific cause with evidence of its own refines the broader one:
    // those findings rank just below it and say whose consequence they are.
    let causes: Vec<(String, f64, Vec<String>, bool)> = out
        .iter()
        .filter_map(|f| {
            // By the set's id index: a search of the set per finding made
            // `rules test` quadratic.
            let rule = &rules.rules[*index.get(f.id.as_str())?];
            let mut ids = Vec::new();
            if f.signals.iter().any(|s| s.family == "object") {
                ids.extend(rule.explains.iter().cloned());
            }
            if !f.signals.is_empty() {
                ids.extend(rule.refines.iter().cloned());
            }
            (!ids.is_empty()).then(|| (f.id.clone(), f.score, ids, f.trigger.is_some()))
        })
        .collect();
    for (cause, score, explains, timed) in &causes {
        // Errors that began right after a change of their own, when the
        // cause's objects changed at no such time, are not its consequence.
        let own_trigger = |f: &Finding| f.trigger.is_some() && !timed;
        for f in out
            .iter_mut()
            .filter(|f| explains.contains(&f.id) && !own_trigger(f))
        {
            if f.score >= *score {
                f.score = score * 0.95;
            }
            f.explained_by = Some(cause.clone());
        }
    }
    if !causes.is_empty() {
        out.sort_by(by_score);
    }
    // Rank on the exact score; round only for display.
    for (i, f) in out.iter_mut().enumerate() {
        f.rank = i + 1;
        f.score = (f.score * 100.0).round() / 100.0;
    }
    out
}

/// Rank order: score, then how common the cause is, then severity, then id.
fn by_score(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    b.score
        .total_cmp(&a.score)
        .then(b.prior.total_cmp(&a.prior))
        .then(b.severity.cmp(&a.severity))
        .then(a.id.cmp(&b.id))
}

/// The commands' variables, with the mesh's install namespace where nothing
/// named it: `{linkerd_namespace}` is `linkerd` unless the pods' own
/// `linkerd.io/control-plane-ns` label said otherwise.
fn with_defaults(
    vars: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    let mut v = vars.clone();
    v.entry("linkerd_namespace".into())
        .or_insert_with(|| "linkerd".into());
    v
}
