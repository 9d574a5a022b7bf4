//! Shared test support: the in-process API server and its scenarios.

pub mod apiserver;
pub mod scenarios;
