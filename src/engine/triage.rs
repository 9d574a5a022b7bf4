//! Ranking a fleet: each workload's runtime samples go through the rules
//! like any proxy scrape (so `outbound_http_errors_total{error="failfast"}`
//! fires `linkerd-fail-fast` whether it came from Prometheus or a scrape),
//! the object-level findings of the scope are attributed to the workloads
//! they concern, and workloads are ordered by how much of their traffic
//! fails and how bad their top cause is.

use super::Matcher;
use crate::collect::cluster::{ISTIO_PROXY, LINKERD_PROXY};
use crate::collect::fleet::{RuntimeSample, Workload};
use crate::collect::prometheus::{Direction, WorkloadId};
use crate::evidence::{Evidence, Item, MetricSample, Origin};
use crate::facts::ObjectSet;
use crate::facts::selector::Selector;
use crate::report::Finding;
use crate::report::triage::TriageRow;
use crate::rules::{Mesh, RuleSet, Severity};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Requests and failures of one direction, from the response families.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Ratio {
    pub total: f64,
    pub failed: f64,
}

/// Whether a response-family sample counts failed requests, and whether it
/// is a response count at all (`None` for other metrics).
fn failing(s: &MetricSample) -> Option<bool> {
    if !s.value.is_finite() {
        return None;
    }
    match s.name.as_str() {
        // Linkerd classifies each response itself (`classification`); an
        // older proxy without the label: a 5xx status.
        "response_total" => Some(match s.label("classification") {
            Some(c) => c == "failure",
            None => s.label("status_code").is_some_and(|c| c.starts_with('5')),
        }),
        // Envoy: 5xx, or 0 (no response at all: a reset, UC/UF/DC).
        "istio_requests_total" => Some(
            s.label("response_code")
                .is_some_and(|c| c.starts_with('5') || c == "0"),
        ),
        _ => None,
    }
}

/// Inbound and outbound request ratios of a workload's samples.
pub fn ratios(samples: &[RuntimeSample]) -> BTreeMap<Direction, Ratio> {
    let mut m: BTreeMap<Direction, Ratio> = BTreeMap::new();
    for r in samples {
        if let Some(f) = failing(&r.sample) {
            let e = m.entry(r.direction).or_default();
            e.total += r.sample.value;
            if f {
                e.failed += r.sample.value;
            }
        }
    }
    m
}

/// Labels a workload's pods carry (its pods' and its pod template's).
type LabelSets = Vec<Map<String, Value>>;

fn label_sets(objects: &ObjectSet, w: &Workload) -> LabelSets {
    let mut out = Vec::new();
    for o in &objects.objects {
        if o.origin.namespace.as_deref() != Some(w.namespace.as_str()) {
            continue;
        }
        let labels = match o.origin.kind.as_str() {
            "Pod" if w.pods.contains(&o.origin.name) => o.value.pointer("/metadata/labels"),
            k if k == w.kind && o.origin.name == w.name => {
                o.value.pointer("/spec/template/metadata/labels")
            }
            _ => None,
        };
        if let Some(l) = labels.and_then(Value::as_object) {
            out.push(l.clone());
        }
    }
    out
}

/// The selector through which a namespaced object concerns pods, if any.
fn selector_of(v: &Value, kind: &str) -> Option<Selector> {
    match kind {
        "Service" => v
            .pointer("/spec/selector")
            .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
            .map(Selector::from_map),
        "NetworkPolicy" | "CiliumNetworkPolicy" => v
            .pointer("/spec/podSelector")
            .or_else(|| v.pointer("/spec/endpointSelector"))
            .map(Selector::from_label_selector),
        "PeerAuthentication" | "Sidecar" | "AuthorizationPolicy" | "Server" => v
            .pointer("/spec/selector")
            .or_else(|| v.pointer("/spec/workloadSelector"))
            .or_else(|| v.pointer("/spec/podSelector"))
            .map(Selector::from_label_selector),
        _ => None,
    }
}

/// Which workloads a config finding concerns: the controller or pod it is
/// located at, or the workloads its object selects. Empty: the namespace.
fn owners_of(
    f: &Finding,
    objects: &ObjectSet,
    workloads: &[Workload],
    labels: &[LabelSets],
) -> Vec<usize> {
    let Some(loc) = &f.location else {
        return Vec::new();
    };
    let ns = loc.namespace.as_deref().unwrap_or("");
    let direct: Vec<usize> = workloads
        .iter()
        .enumerate()
        .filter(|(_, w)| {
            w.namespace == ns
                && ((w.kind == loc.kind && w.name == loc.name)
                    || (loc.kind == "Pod" && w.pods.contains(&loc.name))
                    || (loc.kind == "ReplicaSet"
                        && w.kind == "Deployment"
                        && loc.name.starts_with(&format!("{}-", w.name))))
        })
        .map(|(i, _)| i)
        .collect();
    if !direct.is_empty() {
        return direct;
    }
    let Some(obj) = objects.objects.iter().find(|o| {
        o.origin.kind == loc.kind
            && o.origin.name == loc.name
            && o.origin.namespace.as_deref().unwrap_or("") == ns
    }) else {
        return Vec::new();
    };
    let Some(sel) = selector_of(&obj.value, &loc.kind) else {
        return Vec::new();
    };
    workloads
        .iter()
        .enumerate()
        .filter(|(i, w)| w.namespace == ns && labels[*i].iter().any(|l| sel.matches(Some(l))))
        .map(|(i, _)| i)
        .collect()
}

/// The rules' reading of a workload's runtime samples.
fn runtime_findings(rules: &RuleSet, w: &Workload, samples: &[RuntimeSample]) -> Vec<Finding> {
    if samples.is_empty() {
        return Vec::new();
    }
    let rules = rules.for_mesh(w.mesh);
    let mut m = Matcher::new(&rules);
    let container = match w.mesh {
        Some(Mesh::Istio) => ISTIO_PROXY,
        _ => LINKERD_PROXY,
    };
    let pod = w.pods.first().cloned().unwrap_or_else(|| w.name.clone());
    m.observe(&Evidence {
        item: Item::Metrics {
            samples: samples.iter().map(|r| r.sample.clone()).collect(),
        },
        raw: String::new(),
        origin: Origin::Pod {
            namespace: w.namespace.clone(),
            pod: pod.clone(),
            container: Some(container.into()),
            line: None,
        },
    });
    let mut vars = BTreeMap::new();
    vars.insert("namespace".to_string(), w.namespace.clone());
    vars.insert("pod".to_string(), pod);
    vars.insert("container".to_string(), container.to_string());
    if w.kind == "Deployment" {
        vars.insert("deployment".to_string(), w.name.clone());
    }
    m.default_vars(&vars);
    m.finish()
}

fn sev_weight(s: Option<Severity>) -> f64 {
    match s {
        Some(Severity::Error) => 30.0,
        Some(Severity::Warning) => 10.0,
        Some(Severity::Info) => 2.0,
        None => 0.0,
    }
}

/// `12,345`: thousands grouped for the evidence column.
fn group(n: f64) -> String {
    let digits = (n.round().max(0.0) as u64).to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn evidence_line(f: Option<&Finding>, ratio: Option<(Direction, Ratio)>) -> String {
    let mut parts = Vec::new();
    if let Some((d, r)) = ratio.filter(|(_, r)| r.failed > 0.0) {
        parts.push(format!(
            "{} of {} {} requests failed",
            group(r.failed),
            group(r.total),
            match d {
                Direction::Inbound => "inbound",
                Direction::Outbound => "outbound",
            }
        ));
    }
    if let Some(f) = f {
        let at = f
            .location
            .as_ref()
            .map(|l| format!("{l}: "))
            .unwrap_or_default();
        match f.evidence.first() {
            Some(e) => parts.push(format!(
                "{at}{}",
                crate::report::sanitize::clip(&e.text, 90)
            )),
            None if !at.is_empty() => parts.push(at.trim_end_matches(": ").to_string()),
            None => {}
        }
    }
    parts.join("; ")
}

/// Ranks `workloads` (plus a row per namespace for findings about no
/// workload in particular), worst first.
pub fn rank(
    rules: &RuleSet,
    workloads: &[Workload],
    runtime: &BTreeMap<WorkloadId, Vec<RuntimeSample>>,
    config: &[Finding],
    objects: &ObjectSet,
) -> Vec<TriageRow> {
    let mut workloads = workloads.to_vec();
    // Workloads only Prometheus knows (no pod listed: another cluster's
    // series, or the listing was forbidden) still get a row.
    for (ns, kind, name) in runtime.keys() {
        if !workloads
            .iter()
            .any(|w| w.namespace == *ns && w.kind == *kind && w.name == *name)
        {
            workloads.push(Workload {
                namespace: ns.clone(),
                kind: kind.clone(),
                name: name.clone(),
                mesh: None,
                pods: Vec::new(),
                not_ready: 0,
                restarts: 0,
            });
        }
    }
    let labels: Vec<LabelSets> = workloads.iter().map(|w| label_sets(objects, w)).collect();
    let mut per: Vec<Vec<Finding>> = vec![Vec::new(); workloads.len()];
    let mut per_ns: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
    for f in config {
        let owners = owners_of(f, objects, &workloads, &labels);
        if owners.is_empty() {
            let ns = f
                .location
                .as_ref()
                .and_then(|l| l.namespace.clone())
                .unwrap_or_default();
            per_ns.entry(ns).or_default().push(f.clone());
        }
        for i in owners {
            per[i].push(f.clone());
        }
    }
    let mut rows: Vec<(f64, TriageRow)> = Vec::new();
    for (i, w) in workloads.iter().enumerate() {
        let samples = runtime.get(&w.id()).map(Vec::as_slice).unwrap_or(&[]);
        let mesh = w.mesh.or_else(|| {
            samples.iter().find_map(|s| {
                if s.sample.name.starts_with("istio_") {
                    Some(Mesh::Istio)
                } else if s.sample.name == "response_total" {
                    Some(Mesh::Linkerd)
                } else {
                    None
                }
            })
        });
        let w = Workload { mesh, ..w.clone() };
        let mut findings = runtime_findings(rules, &w, samples);
        // An object-level finding of the other mesh's rules (a Linkerd
        // fail-fast for a Service without endpoints in an Istio namespace)
        // is no cause of this workload's.
        findings.extend(
            std::mem::take(&mut per[i])
                .into_iter()
                .filter(|f| mesh.is_none_or(|m| f.mesh == Mesh::Any || f.mesh == m)),
        );
        rows.push(row(&w, samples, findings));
    }
    for (ns, findings) in per_ns {
        let w = Workload {
            namespace: ns,
            kind: String::new(),
            name: String::new(),
            mesh: None,
            pods: Vec::new(),
            not_ready: 0,
            restarts: 0,
        };
        rows.push(row(&w, &[], findings));
    }
    rows.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| (&a.1.namespace, &a.1.name).cmp(&(&b.1.namespace, &b.1.name)))
    });
    rows.into_iter()
        .enumerate()
        .map(|(i, (_, mut r))| {
            r.rank = i + 1;
            r
        })
        .collect()
}

/// One row and its ordering score: failing share in %, plus the top
/// cause's severity, plus pods not ready.
fn row(w: &Workload, samples: &[RuntimeSample], mut findings: Vec<Finding>) -> (f64, TriageRow) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| b.confidence.cmp(&a.confidence))
            .then_with(|| b.score.total_cmp(&a.score))
    });
    // One rule once per workload (a finding per object otherwise repeats).
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| seen.insert(f.id.clone()));
    for (i, f) in findings.iter_mut().enumerate() {
        f.rank = i + 1;
    }
    let r = ratios(samples);
    let worst = r
        .iter()
        .filter(|(_, r)| r.total > 0.0)
        .map(|(d, r)| (*d, *r))
        .max_by(|a, b| (a.1.failed / a.1.total).total_cmp(&(b.1.failed / b.1.total)));
    let failing = worst.map(|(_, r)| 100.0 * r.failed / r.total);
    let requests = r.values().map(|r| r.total).reduce(f64::max);
    let top = findings.first();
    let score = failing.unwrap_or(0.0)
        + sev_weight(top.map(|f| f.severity))
        + top.map(|f| f.score.min(10.0)).unwrap_or(0.0)
        + if w.not_ready > 0 { 5.0 } else { 0.0 };
    let row = TriageRow {
        rank: 0,
        namespace: w.namespace.clone(),
        kind: w.kind.clone(),
        name: w.name.clone(),
        mesh: w.mesh,
        requests,
        failing_percent: failing,
        pods: w.pods.len(),
        pods_not_ready: w.not_ready,
        top_cause: top.map(|f| f.id.clone()),
        severity: top.map(|f| f.severity),
        confidence: top.map(|f| f.confidence),
        evidence: evidence_line(top, worst),
        findings,
    };
    (score, row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(name: &str, dir: Direction, labels: &[(&str, &str)], v: f64) -> RuntimeSample {
        RuntimeSample {
            direction: dir,
            sample: MetricSample {
                name: name.into(),
                labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                value: v,
                at: None,
            },
        }
    }

    #[test]
    fn failing_shares_come_from_each_meshs_response_counts() {
        let s = vec![
            rs(
                "response_total",
                Direction::Outbound,
                &[("classification", "failure")],
                30.0,
            ),
            rs(
                "response_total",
                Direction::Outbound,
                &[("classification", "success")],
                70.0,
            ),
            rs(
                "istio_requests_total",
                Direction::Inbound,
                &[("response_code", "0")],
                1.0,
            ),
            rs(
                "istio_requests_total",
                Direction::Inbound,
                &[("response_code", "404")],
                3.0,
            ),
            rs(
                "outbound_http_errors_total",
                Direction::Outbound,
                &[("error", "failfast")],
                9.0,
            ),
        ];
        let r = ratios(&s);
        assert_eq!(
            r[&Direction::Outbound],
            Ratio {
                total: 100.0,
                failed: 30.0
            }
        );
        assert_eq!(
            r[&Direction::Inbound],
            Ratio {
                total: 4.0,
                failed: 1.0
            }
        );
    }
}
