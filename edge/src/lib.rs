//! The RustShare edge: one binary serving the S3, CDN, packages, registry and console faces and
//! the control API, plus the `rustshare` CLI.
//!
//! Modules import one way (a test in `tests/module_graph.rs` fails on any cycle): `cli` and
//! `start` at the top; `app` (host routing) below them; `api` and `face` below that; `listen`,
//! `config`, `metrics` and the small helpers below; `wire` (the response body type, response
//! builders, request ids) at the bottom.

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod face;
pub mod files;
pub mod listen;
pub mod logging;
pub mod master_key;
pub mod metrics;
pub mod query;
pub mod reconcile;
pub mod start;
pub mod wire;
