//! How a handler learns who calls (a bearer token, or a console session cookie with its CSRF
//! token) and reads a JSON body, with rejections in the API's error shape.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use rustshare_control::db::SessionRecord;
use rustshare_control::model::AdminPrincipal;

use super::error::ApiError;
use super::state::ApiState;

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

/// The request's `Content-Length`, when it has a valid one (raw uploads need it before the
/// first byte is read).
#[must_use]
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
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
pub async fn authenticate(
    parts: &Parts,
    control: &rustshare_control::Control,
    cookie: &str,
) -> Result<(SessionRecord, AdminPrincipal), ApiError> {
    let (record, principal) = control.session(cookie).await.map_err(|_| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "your console session has ended; log in again",
        )
    })?;
    check_csrf(&parts.method, &parts.headers, &record)?;
    Ok((record, principal))
}

/// The authenticated admin principal.
pub struct Admin(pub AdminPrincipal);

impl FromRequestParts<ApiState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        if let Some(auth) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "send Authorization: Bearer <token>"))?;
            return Ok(Admin(state.control.authenticate(token.trim()).await?));
        }
        // The console: a session cookie, and the session's CSRF token on state changes.
        if let Some(cookie) = session_cookie(&parts.headers) {
            return Ok(Admin(authenticate(parts, &state.control, &cookie).await?.1));
        }
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <token>",
        ))
    }
}

/// JSON body extractor whose rejection is our error shape.
pub struct JsonBody<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(e) => Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

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
}
