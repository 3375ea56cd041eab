//! The one mapping from store and control errors to S3 errors. Internal details are logged
//! here, with the request id, and never reach the client.

use http::{HeaderMap, HeaderValue, StatusCode};
use s3s::{S3Error, S3ErrorCode, s3_error};

use super::verify::{VerifyError, verify_error};

/// Maps a store error.
pub fn store(e: rustshare_store::Error) -> S3Error {
    use rustshare_store::Error as E;
    match e {
        E::NotFound => s3_error!(NoSuchKey, "The specified key does not exist."),
        E::NoSuchUpload => s3_error!(NoSuchUpload, "The specified multipart upload does not exist."),
        E::InvalidKey(why) => S3Error::with_message(S3ErrorCode::InvalidArgument, format!("Object key is not valid: {why}.")),
        E::InvalidRange { size } => {
            let mut err = s3_error!(InvalidRange, "The requested range is not satisfiable.");
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                h.insert(http::header::CONTENT_RANGE, v);
            }
            err.set_headers(h);
            err.set_status_code(StatusCode::RANGE_NOT_SATISFIABLE);
            err
        }
        E::InvalidPartNumber { .. } => {
            // S3's code, which s3s has no variant for.
            let code = S3ErrorCode::Custom("InvalidPartNumber".into());
            let mut err = S3Error::with_message(code, "The requested partnumber is not satisfiable.");
            err.set_status_code(StatusCode::RANGE_NOT_SATISFIABLE);
            err
        }
        E::InvalidPart(msg) if msg.starts_with("EntityTooSmall") => S3Error::with_message(
            S3ErrorCode::EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed object size.",
        ),
        E::InvalidPart(msg) => S3Error::with_message(S3ErrorCode::InvalidPart, msg),
        E::InvalidPartOrder => s3_error!(InvalidPartOrder, "The list of parts was not in ascending order."),
        E::Body(io) => match verify_error(&io) {
            Some(VerifyError::BadDigest(which)) => S3Error::with_message(
                S3ErrorCode::BadDigest,
                format!("The {which} you specified did not match the calculated value."),
            ),
            Some(VerifyError::TooLong) => s3_error!(IncompleteBody, "The body is longer than the declared Content-Length."),
            Some(VerifyError::OverQuota(quota)) => quota_exceeded(*quota),
            Some(VerifyError::TooLarge) => s3_error!(
                EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed object size of 5 GiB."
            ),
            Some(VerifyError::ChunkSignature) => s3_error!(SignatureDoesNotMatch, "A chunk signature of the streamed body does not match."),
            None => {
                tracing::info!("request body ended early: {io}");
                s3_error!(
                    IncompleteBody,
                    "You did not provide the number of bytes specified by the Content-Length HTTP header."
                )
            }
        },
        E::SizeMismatch { .. } => s3_error!(
            IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        ),
        E::LengthRequired => s3_error!(MissingContentLength, "You must provide the Content-Length HTTP header."),
        E::Unsupported(msg) => S3Error::with_message(S3ErrorCode::NotImplemented, msg),
        other => internal(&other),
    }
}

/// Maps a control error.
#[must_use]
pub fn control(e: rustshare_control::Error) -> S3Error {
    use rustshare_control::Error as E;
    match e {
        E::QuotaExceeded { quota, .. } => quota_exceeded(quota),
        // Control's messages are written for the caller and hold no secrets.
        E::Invalid(msg) => S3Error::with_message(S3ErrorCode::InvalidRequest, msg),
        E::Conflict(msg) if msg.starts_with("InvalidBucketState: ") => S3Error::with_message(
            S3ErrorCode::InvalidBucketState,
            msg.trim_start_matches("InvalidBucketState: ").to_owned(),
        ),
        other => internal(&other),
    }
}

/// 403 `QuotaExceeded`.
#[must_use]
pub fn quota_exceeded(quota: u64) -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::Custom("QuotaExceeded".into()),
        format!("The Object Space quota of {quota} bytes would be exceeded; nothing was stored."),
    );
    e.set_status_code(StatusCode::FORBIDDEN);
    e
}

/// Logs the cause and returns a generic 500.
pub fn internal(e: &dyn std::fmt::Display) -> S3Error {
    tracing::error!(error = %e, "internal error");
    s3_error!(InternalError, "We encountered an internal error. Please try again.")
}

/// An S3 error document with `<RequestId>` added (S3 clients log it and support asks for it),
/// or `None` when `xml` is not an error document or already names one. s3s writes error bodies
/// itself, so the id is added to the finished document, in one place for every error.
#[must_use]
pub fn with_request_id(xml: &[u8], request_id: &str) -> Option<bytes::Bytes> {
    if request_id.bytes().any(|b| b"<>&\"'".contains(&b)) {
        return None;
    }
    let text = std::str::from_utf8(xml).ok()?;
    if !text.contains("<Error>") || text.contains("<RequestId>") {
        return None;
    }
    let at = text.rfind("</Error>")?;
    Some(bytes::Bytes::from(format!(
        "{}<RequestId>{request_id}</RequestId>{}",
        &text[..at],
        &text[at..]
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_keeps_codes_and_hides_internals() {
        assert_eq!(store(rustshare_store::Error::NotFound).code(), &S3ErrorCode::NoSuchKey);
        let r = store(rustshare_store::Error::InvalidRange { size: 10 });
        assert_eq!(r.status_code(), Some(StatusCode::RANGE_NOT_SATISFIABLE));
        let e = store(rustshare_store::Error::Backend("secret backend detail".into()));
        assert_eq!(e.code(), &S3ErrorCode::InternalError);
        assert!(!e.message().unwrap_or_default().contains("secret"));
        let q = control(rustshare_control::Error::QuotaExceeded {
            used: 1,
            quota: 2,
            requested: 3,
        });
        assert_eq!(q.status_code(), Some(StatusCode::FORBIDDEN));
        assert_eq!(q.code().as_str(), "QuotaExceeded");
    }
}
