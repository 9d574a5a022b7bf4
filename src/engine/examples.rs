//! Running every rule's own examples: firing examples must rank the rule in
//! their top N, quiet ones must not raise it at all. Used by `meshdoc rules
//! test` and by `cargo test`, which report misses and false alarms separately.

use super::Matcher;
use crate::evidence::{InputKind, Origin};
use crate::facts::{FactOptions, derive};
use crate::rules::examples::example_now;
use crate::rules::{Expect, RuleSet};
use serde::Serialize;

/// The outcome of one example.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub rule: String,
    pub example: String,
    pub expect: Expect,
    pub passed: bool,
    /// Where the rule ranked (None = absent).
    pub rank: Option<usize>,
    /// The top three ids, for diagnosis of failures.
    pub top: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Runs the examples of every rule in `rules` against the whole set.
///
/// An example is judged among the rules of its own mesh (as `explain --mesh`
/// would): a bare `503` is a Linkerd symptom to a Linkerd rule's author.
pub fn run_all(rules: &RuleSet) -> Vec<Outcome> {
    let mut out = Vec::new();
    // The whole set stands for itself; only the two mesh scopes are copies.
    let linkerd = rules.for_mesh(Some(crate::rules::Mesh::Linkerd));
    let istio = rules.for_mesh(Some(crate::rules::Mesh::Istio));
    for rule in &rules.rules {
        let scope = match rule.mesh {
            crate::rules::Mesh::Linkerd => &linkerd,
            crate::rules::Mesh::Istio => &istio,
            crate::rules::Mesh::Any => rules,
        };
        for ex in &rule.examples {
            out.push(run_one(scope, &rule.id, ex));
        }
    }
    out
}

fn run_one(rules: &RuleSet, id: &str, ex: &crate::rules::Example) -> Outcome {
    let mut findings = Vec::new();
    let mut error = None;
    if let Some(input) = &ex.input {
        let (report, _) = super::explain::explain_text(rules, input, InputKind::Auto, &Origin::Arg);
        findings = report.findings;
    }
    if let Some(objs) = &ex.objects {
        match crate::collect::manifests::load_str(objs, &format!("example:{}", ex.name), "default")
        {
            Ok(set) => {
                let mut m = Matcher::new(rules);
                let opts = FactOptions {
                    now: example_now(),
                    ..FactOptions::default()
                };
                for f in derive(&set, &opts) {
                    m.observe_fact(&f);
                }
                let mut more = m.finish();
                findings.append(&mut more);
                findings.sort_by(|a, b| b.score.total_cmp(&a.score));
            }
            Err(e) => error = Some(e.to_string()),
        }
    }
    let rank = findings.iter().position(|f| f.id == id).map(|i| i + 1);
    let passed = error.is_none()
        && match ex.expect {
            Expect::Fire => rank.is_some_and(|r| r <= ex.rank.unwrap_or(3)),
            Expect::Quiet => rank.is_none(),
        };
    Outcome {
        rule: id.to_string(),
        example: ex.name.clone(),
        expect: ex.expect,
        passed,
        rank,
        top: findings.iter().take(3).map(|f| f.id.clone()).collect(),
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Query;

    /// Issue 13, item 9: `rules test` was quadratic because every example
    /// walked (and allocated for) every rule of the set. A matcher now holds
    /// only the rules something touched, and a bare symptom visits only the
    /// rules that list it.
    #[test]
    fn an_example_touches_only_the_rules_its_symptom_names() {
        let rules = crate::rules::load_builtin().expect("built-in rules load");
        let listing: Vec<&str> = rules
            .rules
            .iter()
            .filter(|r| r.symptoms.status.iter().any(|s| s.code == 503))
            .map(|r| r.id.as_str())
            .collect();
        assert!(!listing.is_empty() && listing.len() < rules.rules.len());
        let mut m = Matcher::new(&rules);
        assert_eq!(m.touched(), 0, "a new matcher holds nothing per rule");
        m.observe_query(&Query::Status(503));
        assert_eq!(m.touched(), listing.len());
        let found: Vec<String> = m.finish().into_iter().map(|f| f.id).collect();
        let mut want: Vec<String> = listing.iter().map(|s| s.to_string()).collect();
        let mut got = found.clone();
        want.sort();
        got.sort();
        assert_eq!(got, want);
        // The examples still pass, through the same runner.
        assert!(run_all(&rules).iter().all(|o| o.passed));
    }
}
