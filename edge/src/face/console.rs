//! The console's files: the static `site/`, embedded in the binary. Its login sessions are the
//! API's (`api::session`).

use std::sync::OnceLock;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};

use crate::wire::Body;

struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    etag: HeaderValue,
}

fn asset(path: &str) -> Option<&'static Asset> {
    static ASSETS: OnceLock<Vec<(&'static str, Asset)>> = OnceLock::new();
    let all = ASSETS.get_or_init(|| {
        let mk = |body: &'static [u8], content_type: &'static str| {
            use sha2::Digest;
            let digest = hex::encode(&sha2::Sha256::digest(body)[..12]);
            Asset {
                body,
                content_type,
                etag: HeaderValue::from_str(&format!("\"{digest}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"0\"")),
            }
        };
        vec![
            ("/", mk(include_bytes!("../../../site/index.html"), "text/html; charset=utf-8")),
            (
                "/_console/console.js",
                mk(include_bytes!("../../../site/console.js"), "text/javascript; charset=utf-8"),
            ),
            (
                "/_console/console.css",
                mk(include_bytes!("../../../site/console.css"), "text/css; charset=utf-8"),
            ),
        ]
    });
    let path = if path == "/index.html" { "/" } else { path };
    all.iter().find(|(p, _)| *p == path).map(|(_, a)| a)
}

/// Whether an S3-face request is a browser opening the server's root, which gets the console
/// (S3 clients always sign, so an unsigned `GET /` asking for HTML is not one of theirs).
#[must_use]
pub fn is_browser_navigation<B>(req: &http::Request<B>) -> bool {
    // Runs for every S3 request: the cheap checks first.
    if req.method() != Method::GET || req.uri().path() != "/" {
        return false;
    }
    let h = req.headers();
    let wants_html = h.get("sec-fetch-mode").is_some_and(|v| v == "navigate")
        || h.get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
    wants_html && !h.contains_key(header::AUTHORIZATION) && !req.uri().query().is_some_and(|q| q.contains("X-Amz-"))
}

/// Whether the path is one of the console's own files.
#[must_use]
pub fn is_asset_path(path: &str) -> bool {
    path.starts_with("/_console/")
}

/// Serves the console's files. The page may only load what the binary carries.
#[must_use]
pub fn page<B>(req: &http::Request<B>) -> http::Response<Body> {
    let body = crate::wire::full_body;
    let mut r = http::Response::new(body(Bytes::new()));
    let h = r.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let Some(a) = asset(req.uri().path()) else {
        *r.status_mut() = StatusCode::NOT_FOUND;
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        *r.body_mut() = body(Bytes::from_static(b"Not found. The console is at /.\n"));
        return r;
    };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.content_type));
    // Revalidate every time: a new binary brings new files under the same names.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::ETAG, a.etag.clone());
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes().split(|b| *b == b',').any(|t| t.trim_ascii() == a.etag.as_bytes()))
    {
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        return r;
    }
    r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(a.body.len()));
    *r.body_mut() = body(Bytes::from_static(a.body));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_navigation_is_told_from_s3_calls() {
        let nav = http::Request::get("/").header("accept", "text/html,*/*").body(()).expect("request");
        assert!(is_browser_navigation(&nav));
        let signed = http::Request::get("/")
            .header("accept", "text/html")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=x")
            .body(())
            .expect("request");
        assert!(!is_browser_navigation(&signed));
        let presigned = http::Request::get("/?X-Amz-Signature=1")
            .header("sec-fetch-mode", "navigate")
            .body(())
            .expect("request");
        assert!(!is_browser_navigation(&presigned));
        let bucket = http::Request::get("/rs-a-b")
            .header("accept", "text/html")
            .body(())
            .expect("request");
        assert!(!is_browser_navigation(&bucket));
    }

    #[test]
    fn assets_answer_conditional_requests() {
        let r = page(&http::Request::get("/").body(()).expect("request"));
        assert_eq!(r.status(), StatusCode::OK);
        let etag = r.headers().get(header::ETAG).expect("etag").clone();
        let again = page(
            &http::Request::get("/")
                .header(header::IF_NONE_MATCH, etag)
                .body(())
                .expect("request"),
        );
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(
            page(&http::Request::get("/_console/nope.js").body(()).expect("request")).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            page(&http::Request::post("/").body(()).expect("request")).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
