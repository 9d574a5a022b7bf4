//! `bundle.yaml`: one type for the writer (`--save-bundle`) and the reader
//! (`--from`). The writer fills every field; the reader takes what a
//! diagnosis needs (target, namespace, what failed, the file list) and also
//! reads the hand-written manifests of older bundles and the fixtures
//! (`version:`, `meshdoc:`, `collected:` as a list of paths, `failed:` with
//! the rules it left unevaluated).

use super::cluster::Family;
use crate::rules::Mesh;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// Version of the bundle layout.
pub const BUNDLE_VERSION: u32 = 1;

/// The `bundle.yaml` manifest.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    #[serde(alias = "version")]
    pub bundle_version: u32,
    /// meshdoc version that wrote it.
    #[serde(alias = "meshdoc")]
    pub meshdoc_version: String,
    /// What was diagnosed (`pod/web-1`).
    pub target: String,
    /// Default namespace for namespace-less objects.
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesh: Option<Mesh>,
    pub server: String,
    pub collected_at: String,
    pub elapsed_ms: u64,
    pub api_requests: u64,
    pub pods: Vec<String>,
    #[serde(deserialize_with = "collected")]
    pub collected: Collected,
    /// What could not be collected, and why.
    pub failed: Vec<FailedEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// How many secret values were replaced by `REDACTED`.
    pub redacted: usize,
    /// Every file written (path in the bundle → bytes): the reader checks
    /// that each is there and whole.
    pub files: BTreeMap<String, u64>,
}

/// Files written, by family.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Collected {
    /// File → number of objects.
    pub objects: BTreeMap<String, usize>,
    pub logs: Vec<String>,
    pub metrics: Vec<String>,
    pub events: Vec<String>,
    /// Paths of an older manifest's list that name no family (`http/…`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other: Vec<String>,
}

/// One thing that could not be collected.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FailedEntry {
    pub what: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Rules the failure left unevaluated (hand-written manifests).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

/// `collected:` as the writer's per-family map, or an older manifest's list
/// of paths (sorted into families by their first component).
fn collected<'de, D: Deserializer<'de>>(d: D) -> Result<Collected, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Families(Collected),
        Paths(Vec<String>),
    }
    Ok(match Either::deserialize(d)? {
        Either::Families(c) => c,
        Either::Paths(paths) => {
            let mut c = Collected::default();
            for p in paths {
                match p.split('/').next().unwrap_or("") {
                    "objects" => {
                        c.objects.insert(p, 0);
                    }
                    "logs" => c.logs.push(p),
                    "metrics" => c.metrics.push(p),
                    "events" => c.events.push(p),
                    _ => c.other.push(p),
                }
            }
            c
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_hand_written_manifest_reads_into_the_same_type() {
        let m: Manifest = serde_saphyr::from_str(
            "version: 1\nmeshdoc: 0.1.0\ntarget: pod/web-1\nnamespace: shop\nmesh: linkerd\n\
             collected:\n  - logs/shop/web-1/linkerd-proxy\n  - objects/pods\n  - http/curl\n\
             failed:\n  - what: networkpolicies\n    reason: forbidden\n    rules: [linkerd-netpol-blocks-proxy-port]\n",
        )
        .unwrap();
        assert_eq!((m.bundle_version, m.meshdoc_version.as_str()), (1, "0.1.0"));
        assert_eq!(m.mesh, Some(Mesh::Linkerd));
        assert_eq!(m.collected.logs, ["logs/shop/web-1/linkerd-proxy"]);
        assert!(m.collected.objects.contains_key("objects/pods"));
        assert_eq!(m.collected.other, ["http/curl"]);
        assert_eq!(m.failed[0].rules, ["linkerd-netpol-blocks-proxy-port"]);
    }

    #[test]
    fn what_the_writer_writes_reads_back_unchanged() {
        let mut m = Manifest {
            bundle_version: BUNDLE_VERSION,
            target: "deploy/web".into(),
            mesh: Some(Mesh::Istio),
            failed: vec![FailedEntry {
                what: "metrics".into(),
                reason: "timeout".into(),
                family: Some(Family::Metrics),
                ..FailedEntry::default()
            }],
            ..Manifest::default()
        };
        m.collected.logs.push("logs/a/b/c.log".into());
        m.collected.objects.insert("objects/pods.yaml".into(), 3);
        m.files.insert("objects/pods.yaml".into(), 120);
        let text = serde_saphyr::to_string(&m).unwrap();
        let back: Manifest = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(serde_saphyr::to_string(&back).unwrap(), text);
    }
}
