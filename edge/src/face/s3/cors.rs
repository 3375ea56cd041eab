//! Bucket CORS on the S3 face: the `CORSConfiguration` document to and from control's rules,
//! the answer to a preflight, and the headers added to an actual response. The decisions are
//! [`rustshare_control::cors`]'s; this is the HTTP around them.

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use rustshare_control::Control;
use rustshare_control::cors::{self, Allowed, CorsRule};
use s3s::dto::{CORSConfiguration, CORSRule};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

use crate::wire::{Body, full};

/// The rules of a PutBucketCors document.
pub(super) fn from_document(c: &CORSConfiguration) -> S3Result<Vec<CorsRule>> {
    let rules: Vec<CorsRule> = c
        .cors_rules
        .iter()
        .map(|r| CorsRule {
            id: r.id.clone(),
            allowed_origins: r.allowed_origins.clone(),
            allowed_methods: r.allowed_methods.clone(),
            allowed_headers: r.allowed_headers.clone().unwrap_or_default(),
            expose_headers: r.expose_headers.clone().unwrap_or_default(),
            max_age_seconds: r.max_age_seconds.and_then(|s| u32::try_from(s).ok()),
        })
        .collect();
    if c.cors_rules.iter().any(|r| r.max_age_seconds.is_some_and(|s| s < 0)) {
        return Err(s3_error!(MalformedXML, "MaxAgeSeconds must not be negative."));
    }
    cors::check(&rules).map_err(|e| S3Error::with_message(S3ErrorCode::InvalidRequest, e.0))?;
    Ok(rules)
}

/// The `<CORSRule>` list of a GetBucketCors answer.
pub(super) fn to_document(rules: &[CorsRule]) -> Vec<CORSRule> {
    rules
        .iter()
        .map(|r| CORSRule {
            id: r.id.clone(),
            allowed_origins: r.allowed_origins.clone(),
            allowed_methods: r.allowed_methods.clone(),
            allowed_headers: (!r.allowed_headers.is_empty()).then(|| r.allowed_headers.clone()),
            expose_headers: (!r.expose_headers.is_empty()).then(|| r.expose_headers.clone()),
            max_age_seconds: r.max_age_seconds.map(|s| i32::try_from(s).unwrap_or(i32::MAX)),
        })
        .collect()
}

/// The bucket a path-style S3 request names (`/bucket/...`), if any.
fn bucket_of(path: &str) -> Option<&str> {
    let b = path.strip_prefix('/')?.split('/').next()?;
    (!b.is_empty()).then_some(b)
}

fn text(h: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Whether a request is a CORS preflight (which carries no credential and is answered here,
/// before the S3 service sees it).
#[must_use]
pub fn is_preflight(method: &Method) -> bool {
    method == Method::OPTIONS
}

fn forbidden(message: &str, method: Option<&str>) -> Response<Body> {
    // The method is the client's text: echoed only when it is a plain token.
    let method = method
        .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(|m| format!("<Method>{m}</Method><ResourceType>OBJECT</ResourceType>"))
        .unwrap_or_default();
    full(
        StatusCode::FORBIDDEN,
        "application/xml",
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessForbidden</Code><Message>{message}</Message>{method}</Error>"
        ),
    )
}

fn set(h: &mut HeaderMap, name: &'static str, v: &str) {
    if let Ok(v) = HeaderValue::from_str(v) {
        h.insert(name, v);
    }
}

fn add_headers(h: &mut HeaderMap, a: &Allowed) {
    set(h, "access-control-allow-origin", &a.origin);
    set(h, "access-control-allow-methods", &a.methods);
    if let Some(v) = &a.headers {
        set(h, "access-control-allow-headers", v);
    }
    if let Some(v) = &a.expose {
        set(h, "access-control-expose-headers", v);
    }
    if let Some(s) = a.max_age {
        h.insert("access-control-max-age", HeaderValue::from(s));
    }
    if a.credentials {
        h.insert("access-control-allow-credentials", HeaderValue::from_static("true"));
    }
}

/// The answer to a preflight, as S3 gives it: 200 with the matching rule's headers, 403
/// AccessForbidden when no rule (or no configuration) allows it, 400 without an Origin or a
/// requested method.
pub async fn preflight(control: &Control, path: &str, headers: &HeaderMap) -> Response<Body> {
    let (Some(origin), Some(method)) = (text(headers, header::ORIGIN), text(headers, header::ACCESS_CONTROL_REQUEST_METHOD)) else {
        return full(
            StatusCode::BAD_REQUEST,
            "application/xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>BadRequest</Code><Message>Insufficient information. Origin request header needed.</Message></Error>",
        );
    };
    let rules = match bucket_of(path) {
        Some(b) => match control.bucket_cors(b).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("CORS rules: {e}");
                return full(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "try again\n");
            }
        },
        None => None,
    };
    let Some(rules) = rules else {
        return forbidden("CORSResponse: CORS is not enabled for this bucket.", Some(method));
    };
    match cors::preflight(&rules.rules, origin, method, text(headers, header::ACCESS_CONTROL_REQUEST_HEADERS)) {
        Some(a) => {
            let mut r = full(StatusCode::OK, "text/plain", "");
            add_headers(r.headers_mut(), &a);
            vary(r.headers_mut());
            r
        }
        None => forbidden(
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
            Some(method),
        ),
    }
}

fn vary(h: &mut HeaderMap) {
    h.insert(
        header::VARY,
        HeaderValue::from_static("Origin, Access-Control-Request-Headers, Access-Control-Request-Method"),
    );
}

/// Adds CORS headers to the response of an actual request from a browser (one with an Origin)
/// when the bucket's rules allow its origin and method. Errors from the rules' lookup leave the
/// response as it is: the browser then withholds it from the page, which is the safe side.
pub async fn apply(control: &Control, method: &Method, path: &str, origin: &str, resp: &mut Response<Body>) {
    let Some(bucket) = bucket_of(path) else { return };
    let Ok(Some(rules)) = control.bucket_cors(bucket).await else {
        return;
    };
    if let Some(a) = cors::actual(&rules.rules, origin, method.as_str()) {
        add_headers(resp.headers_mut(), &a);
        vary(resp.headers_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_is_the_first_path_segment() {
        assert_eq!(bucket_of("/rs-a-b/key/x"), Some("rs-a-b"));
        assert_eq!(bucket_of("/rs-a-b"), Some("rs-a-b"));
        assert_eq!(bucket_of("/"), None);
        assert_eq!(bucket_of(""), None);
    }

    #[test]
    fn documents_are_checked_on_the_way_in() {
        let rule = |methods: Vec<&str>, age: Option<i32>| CORSRule {
            allowed_origins: vec!["https://app.example.com".into()],
            allowed_methods: methods.into_iter().map(str::to_owned).collect(),
            max_age_seconds: age,
            ..Default::default()
        };
        let doc = |rules| CORSConfiguration { cors_rules: rules };
        let ok = from_document(&doc(vec![rule(vec!["PUT"], Some(60))])).expect("valid");
        assert_eq!(to_document(&ok), vec![rule(vec!["PUT"], Some(60))]);
        let e = from_document(&doc(vec![rule(vec!["PATCH"], None)])).expect_err("bad method");
        assert_eq!(*e.code(), S3ErrorCode::InvalidRequest);
        let e = from_document(&doc(vec![rule(vec!["GET"], Some(-1))])).expect_err("negative age");
        assert_eq!(*e.code(), S3ErrorCode::MalformedXML);
    }
}
