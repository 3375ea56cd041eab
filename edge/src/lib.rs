//! The RustShare edge: one binary serving the S3 face, the control API and (in later
//! releases) the CDN, packages and console faces, plus the `rustshare` CLI.

mod admin_api;
pub mod api;
pub mod cdn;
pub mod cli;
pub mod config;
pub mod console;
pub mod files;
pub mod listen;
pub mod logging;
pub mod master_key;
pub mod metrics;
mod openapi;
pub mod packages;
pub mod query;
pub mod reconcile;
mod registry_api;
pub mod registry_front;
mod repos_api;
pub mod s3;
pub mod serve;
pub mod server;
pub mod tls;
