//! The web console: the static `site/` (embedded in the binary) and its login sessions.
//!
//! The console is a client of the same `/api/v1` as the CLI. A browser logs in with an admin
//! token once; the API then accepts an HttpOnly, SameSite=Strict session cookie in place of the
//! bearer token, and every state-changing request made with that cookie must echo the session's
//! anti-CSRF token in `x-csrf-token`.

use std::sync::OnceLock;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use http_body_util::BodyExt;
use rustshare_control::db::SessionRecord;
use rustshare_control::model::AdminPrincipal;
use serde::Deserialize;
use serde_json::json;

use crate::api::{ApiError, ApiResult, ApiState, Body};

/// Name of the session cookie.
pub const COOKIE: &str = "rs_console";
/// Header carrying the anti-CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Whether the request arrived over TLS (set by the listener), so the cookie can be `Secure`.
#[derive(Debug, Clone, Copy)]
pub struct Transport {
    /// Encrypted.
    pub tls: bool,
}

/// The session cookie's value, if the request carries one.
#[must_use]
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, v)| *k == COOKIE && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

/// Checks the anti-CSRF token of a cookie-authenticated request that changes state.
///
/// # Errors
/// 403 `csrf_failed` when the header is missing or wrong.
pub fn check_csrf(method: &Method, headers: &HeaderMap, session: &SessionRecord) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let sent = headers.get(CSRF_HEADER).map(HeaderValue::as_bytes).unwrap_or_default();
    if rustshare_control::seal::same_secret(sent, session.csrf.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            format!("this request changes state and needs the session's {CSRF_HEADER} header; reload the console"),
        ))
    }
}

/// The live session behind `cookie`, with the CSRF check for state-changing requests: how
/// the API authenticates a browser.
///
/// # Errors
/// 401 when the session has ended, 403 `csrf_failed`.
pub fn authenticate(
    parts: &Parts,
    control: &rustshare_control::Control,
    cookie: &str,
) -> Result<(SessionRecord, AdminPrincipal), ApiError> {
    let (record, principal) = control.session(cookie).map_err(|_| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "your console session has ended; log in again",
        )
    })?;
    check_csrf(&parts.method, &parts.headers, &record)?;
    Ok((record, principal))
}

/// A cookie-authenticated console session (for logout, which needs the cookie itself).
struct Session {
    cookie: String,
    record: SessionRecord,
    principal: AdminPrincipal,
}

impl FromRequestParts<ApiState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let cookie =
            session_cookie(&parts.headers).ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "not logged in"))?;
        let (record, principal) = authenticate(parts, &state.control, &cookie)?;
        Ok(Self { cookie, record, principal })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    token: String,
}

fn session_json(record: &SessionRecord, p: &AdminPrincipal) -> serde_json::Value {
    json!({
        "csrf_token": record.csrf,
        "principal": p,
        "expires_at": record.expires_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    })
}

fn set_cookie(value: &str, max_age: u64, tls: bool) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("rs_console=; Max-Age=0"))
}

/// Whether a login comes from the console's own origin. A browser sends `Origin` with every
/// POST; a page elsewhere that posts a token of the attacker's would otherwise log the victim's
/// browser into the attacker's tenant (login CSRF). Clients without `Origin` (the CLI, curl) are
/// not browsers and are let through, unless `Sec-Fetch-Site` says the request is cross-site.
fn same_origin(parts: &Parts, tls: bool) -> bool {
    let Some(origin) = parts.headers.get(header::ORIGIN) else {
        return parts.headers.get("sec-fetch-site").is_none_or(|v| v.as_bytes() != b"cross-site");
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(http::uri::Authority::as_str));
    let scheme = if tls { "https" } else { "http" };
    match (origin.to_str(), host) {
        (Ok(o), Some(h)) => o.eq_ignore_ascii_case(&format!("{scheme}://{h}")),
        _ => false,
    }
}

async fn login(State(st): State<ApiState>, parts: Parts, Body(b): Body<Login>) -> ApiResult<Response> {
    let tls = parts.extensions.get::<Transport>().is_some_and(|t| t.tls);
    if !same_origin(&parts, tls) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "console logins are accepted only from the console's own origin",
        ));
    }
    let lifetime = st.session_lifetime;
    let control = st.control.clone();
    let (value, record, p) = crate::api::blocking(move || control.open_session(b.token.trim(), lifetime))
        .await?
        .map_err(|e| match e {
            rustshare_control::Error::Unauthorized => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "that token is not valid (or was revoked)")
            }
            other => other.into(),
        })?;
    let mut r = (StatusCode::CREATED, Json(session_json(&record, &p))).into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&value, lifetime.as_secs(), tls));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

async fn current(s: Session) -> Response {
    let mut r = Json(session_json(&s.record, &s.principal)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn logout(State(st): State<ApiState>, parts: Parts, s: Session) -> ApiResult<Response> {
    let tls = parts.extensions.get::<Transport>().is_some_and(|t| t.tls);
    st.control.close_session(&s.cookie, &s.principal)?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(header::SET_COOKIE, set_cookie("", 0, tls));
    Ok(r)
}

/// The session routes: `POST` logs in, `GET` tells the console who it is (and its CSRF token
/// after a reload), `DELETE` logs out.
pub fn routes() -> Router<ApiState> {
    Router::new().route("/api/v1/session", post(login).get(current).delete(logout))
}

// ---- the static site ----

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
            ("/", mk(include_bytes!("../../site/index.html"), "text/html; charset=utf-8")),
            (
                "/_console/console.js",
                mk(include_bytes!("../../site/console.js"), "text/javascript; charset=utf-8"),
            ),
            (
                "/_console/console.css",
                mk(include_bytes!("../../site/console.css"), "text/css; charset=utf-8"),
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
pub fn page<B>(req: &http::Request<B>) -> http::Response<crate::server::Body> {
    let body = |b: Bytes| http_body_util::Full::new(b).map_err(|never| match never {}).boxed_unsync();
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
    fn finds_the_session_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; rs_console=abc; b=2"));
        assert_eq!(session_cookie(&h).as_deref(), Some("abc"));
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("rs_console=; x=rs_console=zz"));
        assert_eq!(session_cookie(&h), None);
    }

    #[test]
    fn csrf_needed_only_for_state_changes() {
        let t = time::OffsetDateTime::UNIX_EPOCH;
        let s = SessionRecord {
            id_hash: String::new(),
            token_id: String::new(),
            csrf: "secret-token".into(),
            created_at: t,
            expires_at: t,
        };
        let none = HeaderMap::new();
        assert!(check_csrf(&Method::GET, &none, &s).is_ok());
        assert!(check_csrf(&Method::POST, &none, &s).is_err());
        let mut wrong = HeaderMap::new();
        wrong.insert(CSRF_HEADER, HeaderValue::from_static("secret-tokeN"));
        assert!(check_csrf(&Method::DELETE, &wrong, &s).is_err());
        let mut right = HeaderMap::new();
        right.insert(CSRF_HEADER, HeaderValue::from_static("secret-token"));
        assert!(check_csrf(&Method::PUT, &right, &s).is_ok());
    }

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
