//! meshdoc: why is my service mesh failing?
//!
//! The pipeline, in five steps:
//! 1. [`collect`] gathers raw material: a live cluster, a bundle directory, files, stdin;
//! 2. [`evidence`] parses it into typed items (proxy logs, access logs, metrics, HTTP, objects);
//! 3. [`facts`] derives object facts with real semantics (selectors, NetworkPolicy, certificates);
//! 4. [`rules`] + [`engine`] match evidence and facts against the rule pack and rank causes;
//! 5. [`report`] renders one finding model as table, markdown, json, yaml, sarif or junit.
//!
//! Imports point down only: [`cli`] → [`engine`] → ([`collect`], [`report`]) →
//! ([`rules`], [`facts`], [`evidence`]), and the leaves [`glob`], [`shell`],
//! [`suggest`], [`util`] serve everyone. What two layers share lives in the
//! lower one; `tests/it/layers.rs` fails on an import up the house.

pub mod cli;
pub mod collect;
pub mod engine;
pub mod evidence;
pub mod facts;
pub mod glob;
pub mod report;
pub mod rules;
pub mod shell;
pub mod suggest;
pub mod util;
