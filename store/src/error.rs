use std::io;

/// Result alias for store operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object does not exist.
    #[error("no such key")]
    NotFound,
    /// The multipart upload does not exist (never created, completed or aborted).
    #[error("no such upload")]
    NoSuchUpload,
    /// The key is not acceptable to the store.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// The requested range lies outside an object of `size` bytes.
    #[error("range not satisfiable for an object of {size} bytes")]
    InvalidRange {
        /// Size of the object.
        size: u64,
    },
    /// A part number the object does not have (`GET ?partNumber=`).
    #[error("the object has {parts} part(s)")]
    InvalidPartNumber {
        /// How many parts it has.
        parts: u32,
    },
    /// A part named in a completion is missing or its ETag differs.
    #[error("invalid part: {0}")]
    InvalidPart(String),
    /// The parts in a completion are not in ascending order.
    #[error("parts are not in ascending order")]
    InvalidPartOrder,
    /// The body stream failed or ended early; nothing was stored.
    #[error("request body: {0}")]
    Body(#[source] io::Error),
    /// The body's length differs from the declared size; nothing was stored.
    #[error("body length {actual} differs from declared {declared}")]
    SizeMismatch {
        /// Declared size.
        declared: u64,
        /// Bytes received.
        actual: u64,
    },
    /// A size is required by this backend but was not given.
    #[error("content length required")]
    LengthRequired,
    /// The backend does not implement this operation.
    #[error("unsupported by the backend: {0}")]
    Unsupported(String),
    /// Local IO failed.
    #[error("{context}: {source}")]
    Io {
        /// What the store was doing.
        context: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The S3 backend failed.
    #[error("backend: {0}")]
    Backend(String),
    /// The S3 backend answers, but its bucket does not exist: rustshare does not create it.
    #[error(
        "bucket {bucket:?} does not exist at {endpoint}; create it (for example `aws s3 mb s3://{bucket} --endpoint-url {endpoint}`) or set RUSTSHARE_S3_BUCKET to an existing one"
    )]
    NoBucket {
        /// The bucket configured.
        bucket: String,
        /// The endpoint configured.
        endpoint: String,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}
