//! Where evidence comes from: files and stdin, bundle directories and
//! archives, manifests, and (read-only) a live cluster.

pub mod bundle;
pub mod bundle_write;
pub mod cluster;
pub mod fleet;
pub mod manifests;
pub mod prometheus;
pub mod redact;
