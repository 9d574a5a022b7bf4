//! The integration tests, one binary: a module per area. Every extra file in
//! `tests/` would be another link of the whole dependency tree (kube, tokio,
//! rustls, axum), so areas are modules here, not test targets.

#[path = "../support/mod.rs"]
mod support;

#[path = "../bench/cluster.rs"]
mod bench_cluster;
#[path = "../bench/fleet.rs"]
mod bench_fleet;
mod check;
mod cli;
mod cluster_diagnose;
mod cluster_fixture;
mod corpus;
mod deploy;
mod fixtures;
mod layers;
mod parsers;
mod prometheus;
mod serve;
mod triage;
