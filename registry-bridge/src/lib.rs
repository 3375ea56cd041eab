//! The registry bridge: RustShare does not expose raw S3 as an image interface. It runs CNCF
//! Distribution with its S3 storage pointed at the S3 face, and governs it:
//!
//! - [`scope`]: what a caller may do with a requested registry scope (pure);
//! - [`token`]: the Docker registry token service's JWTs, signed with the installation's key;
//! - [`config`]: Distribution's configuration for a namespace (pure text);
//! - [`retention`]: which tags a namespace's retention rules delete (pure).
//!
//! Persistence (namespaces, robots, the signing key) lives in `rustshare-control`; the edge
//! serves the HTTP endpoints.

pub mod config;
pub mod retention;
pub mod scope;
pub mod token;

/// Errors of the bridge.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A malformed scope, rule or setting.
    #[error("{0}")]
    Invalid(String),
    /// Key or token handling failed.
    #[error("token signing: {0}")]
    Signing(String),
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// The `service` (JWT audience) Distribution is configured with.
pub const SERVICE: &str = "rustshare-registry";
/// The JWT issuer.
pub const ISSUER: &str = "rustshare";
