//! RustShare's domain: tenants, Object Spaces, scoped S3 identities and what they may do,
//! sealed secrets, admin tokens, quotas and usage, and the audit log.
//!
//! [`policy`] and [`model`] are pure; [`db`] is the only place that touches SQLite;
//! [`Control`] ties them together for the edge.

pub mod admin;
pub mod clock;
pub mod cors;
pub mod db;
mod error;
pub mod exec;
pub mod lifecycle;
pub mod lock;
pub mod model;
pub mod names;
pub mod pause;
pub mod policy;
pub mod seal;
mod service;
pub mod tags;
pub mod versioning;

pub use error::{Error, Result};
pub use service::{
    BucketCors, ChangeKind, Control, Core, CreatedIdentity, Credential, HeldLease, KeyState, Lease, NewIdentity, NewSpace, PublicSite,
    PublicationInput, Reservation, VersionQuery, new_version_id,
};
