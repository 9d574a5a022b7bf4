//! Where evidence comes from: files and stdin, bundle directories and
//! archives, manifests, and (read-only) a live cluster.

pub mod bundle;
pub mod manifests;
