//! Shared test support: the in-process API server and its scenarios, and
//! where `../shared` is.

pub mod apiserver;
pub mod scenarios;
pub mod shared;
