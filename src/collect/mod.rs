//! Where evidence comes from: files and stdin, bundle directories and
//! archives, manifests, and (read-only) a live cluster.

pub mod bundle;
pub mod bundle_manifest;
pub mod bundle_write;
pub mod cluster;
pub mod fleet;
pub mod manifests;
pub mod prometheus;
pub mod redact;

use crate::evidence::{InputKind, Origin};
use crate::report::Missing;
use std::collections::BTreeMap;

/// Where a collector puts what it read. A diagnosis run
/// (`engine::diagnosis::Diagnosis`) is one; the collectors know only this,
/// so `collect` never imports the engine above it.
pub trait Sink {
    /// A log stream of any size.
    fn logs(
        &mut self,
        r: &mut dyn std::io::Read,
        kind: InputKind,
        origin: &Origin,
        label: &str,
    ) -> std::io::Result<()>;
    /// A small text block (curl transcript, metrics, another tool's report).
    fn block(&mut self, text: &str, kind: InputKind, origin: &Origin, label: &str);
    /// Kubernetes manifests.
    fn manifests(
        &mut self,
        text: &str,
        path: &str,
        default_ns: &str,
    ) -> Result<(), manifests::ManifestError>;
    /// Kubernetes Events (a bundle's `events/`): evidence at the times they
    /// were seen, and changes on the timeline.
    fn events(&mut self, text: &str, label: &str) -> Result<(), manifests::ManifestError>;
    /// Evidence that could not be collected.
    fn missing(&mut self, m: Missing);
    /// Values for the commands' placeholders known from the input itself.
    fn default_vars(&mut self, vars: &BTreeMap<String, String>);
    /// A source that was not valid UTF-8 and was read lossily (the caller
    /// warns once per source).
    fn not_utf8(&mut self, source: &str);
}
