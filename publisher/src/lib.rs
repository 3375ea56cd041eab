//! The package publisher: turns uploaded `.deb` files into signed apt repositories, written as
//! whole snapshots and switched with one pointer object, with rollback and retention.
//!
//! [`deb`], [`index`], [`sign`] and [`snapshot`] are pure formats and [`plan`] the pure
//! decision of what a publish does ([`select`]: of what a removal or a query names), all tested without a store; [`Publisher`] does the IO.

pub mod changes;
pub mod deb;
pub mod dsc;
pub mod index;
pub mod pdiff;
pub mod pieces;
pub mod plan;
pub mod records;
pub mod select;
mod service;
pub mod sign;
pub mod snapshot;

pub use service::{DEFAULT_MEMO_BUDGET, Error, MAX_DEB, PublishReport, Publisher, Resolved, Result, Upload, default_config, root};
