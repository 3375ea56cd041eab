/// Result alias for control operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the control module can fail with. Messages are safe to show to the caller:
/// they never contain secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The named thing does not exist (or the caller may not see it).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique name is taken.
    #[error("{0}")]
    Conflict(String),
    /// The input is malformed; the message says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// The admin token is missing, unknown or revoked.
    #[error("unauthorized")]
    Unauthorized,
    /// The admin token is valid but not for this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// Storing this many bytes would exceed the space's quota.
    #[error("quota exceeded: {used} of {quota} bytes used, {requested} more requested")]
    QuotaExceeded {
        /// Bytes counted against the quota now.
        used: u64,
        /// The quota.
        quota: u64,
        /// Bytes asked for.
        requested: u64,
    },
    /// The database failed. The message already holds the cause (it is not repeated as a
    /// `source`, which would print it twice in a chain).
    #[error("database: {0}")]
    Db(Box<dyn std::error::Error + Send + Sync>),
    /// Sealing or unsealing a secret failed (wrong master key or corrupt data).
    #[error("secret store: {0}")]
    Seal(&'static str),
    /// Reading the master key or database file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}
