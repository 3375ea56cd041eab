//! What every face answers with: the response body type, the few response builders all of them
//! use, and request ids. The bottom of the edge's module graph: it imports nothing of ours.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;

/// The error a response body may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Response body of every face.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A body of `b`.
pub fn full_body(b: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(b.into()).map_err(|never| match never {}).boxed_unsync()
}

/// An empty body (HEAD responses, 304s).
#[must_use]
pub fn empty_body() -> Body {
    http_body_util::Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A body streamed from the store.
#[must_use]
pub fn stream_body(s: rustshare_store::ByteStream) -> Body {
    use futures::StreamExt as _;
    let frames = s.map(|r| r.map(hyper::body::Frame::data).map_err(|e| Box::new(e) as BoxError));
    http_body_util::StreamBody::new(frames).boxed_unsync()
}

/// A whole response with a status and a content type.
pub fn full<B: Into<Bytes>>(status: StatusCode, content_type: &'static str, body: B) -> Response<Body> {
    let mut r = Response::new(full_body(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// The request's id: a caller's `x-request-id` if it is short and plain (so it cannot inject
/// into logs), else a new one.
pub fn request_id<B>(req: &Request<B>) -> Arc<str> {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
        .map_or_else(new_request_id, Arc::from)
}

/// A unique id without a random draw per request: a random per-process prefix and a counter.
#[must_use]
pub fn new_request_id() -> Arc<str> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase());
    Arc::from(format!("{prefix}{:016X}", NEXT.fetch_add(1, Ordering::Relaxed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_keep_plain_caller_ids_only() {
        let with = |v: &str| Request::builder().header("x-request-id", v).body(()).map(|r| request_id(&r));
        assert_eq!(&*with("abc-123").expect("request"), "abc-123");
        let fresh = with("a b;c").expect("request");
        assert_eq!(fresh.len(), 32, "{fresh}");
        assert_eq!(with(&"a".repeat(129)).expect("request").len(), 32);
        assert_ne!(new_request_id(), new_request_id());
    }
}
