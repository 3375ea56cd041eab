//! Console login sessions. The console is a client of the same `/api/v1` as the CLI. A browser
//! logs in with an admin token once; the API then accepts an HttpOnly, SameSite=Strict session
//! cookie in place of the bearer token (see `extract`), and every state-changing request made
//! with that cookie must echo the session's anti-CSRF token in `x-csrf-token`.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rustshare_control::db::SessionRecord;
use rustshare_control::model::AdminPrincipal;

use super::dto::{LoginBody, SessionInfo};
use super::error::{ApiError, ApiResult};
use super::extract::{COOKIE, JsonBody, Transport, authenticate, session_cookie};
use super::routes::{Api, Op, Sec};
use super::state::ApiState;

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
        let (record, principal) = authenticate(parts, &state.control, &cookie).await?;
        Ok(Self { cookie, record, principal })
    }
}

fn session_json(record: &SessionRecord, p: &AdminPrincipal) -> SessionInfo {
    SessionInfo {
        csrf_token: record.csrf.clone(),
        principal: p.clone(),
        expires_at: record
            .expires_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    }
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

async fn login(State(st): State<ApiState>, parts: Parts, JsonBody(b): JsonBody<LoginBody>) -> ApiResult<Response> {
    let tls = parts.extensions.get::<Transport>().is_some_and(|t| t.tls);
    if !same_origin(&parts, tls) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "console logins are accepted only from the console's own origin",
        ));
    }
    let lifetime = st.session_lifetime;
    let (value, record, p) = st.control.open_session(b.token.trim(), lifetime).await.map_err(|e| match e {
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
    st.control.close_session(&s.cookie, &s.principal).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(header::SET_COOKIE, set_cookie("", 0, tls));
    Ok(r)
}

/// The session routes: `POST` logs in, `GET` tells the console who it is (and its CSRF token
/// after a reload), `DELETE` logs out.
pub(super) fn routes() -> Api {
    Api::new()
        .post(
            "/api/v1/session",
            Op::with_body::<LoginBody>(
                "Console login with an admin token: sets the HttpOnly session cookie, returns the CSRF token",
                "201",
            )
            .returns::<SessionInfo>()
            .sec(Sec::Open),
            login,
        )
        .get(
            "/api/v1/session",
            Op::new("The current console session and its CSRF token")
                .sec(Sec::Console)
                .returns::<SessionInfo>(),
            current,
        )
        .delete(
            "/api/v1/session",
            Op::new("Log out (needs x-csrf-token)").sec(Sec::Console).ok("204"),
            logout,
        )
}
