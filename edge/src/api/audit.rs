//! The audit log, filtered and paged.
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::dto::AuditPage;
use super::error::{ApiError, ApiResult};
use super::extract::Admin;
use super::routes::{Api, Op};
use super::state::ApiState;
use rustshare_control::model::AuditFilter;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    space: Option<String>,
    identity: Option<String>,
    operation: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<u32>,
    /// Events older than this id (the `next_before` of the previous page).
    before: Option<i64>,
}

fn parse_time(what: &str, v: Option<String>) -> ApiResult<Option<time::OffsetDateTime>> {
    v.map(|s| {
        time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339).map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("{what} must be an RFC 3339 time such as 2026-11-22T10:00:00Z"),
            )
        })
    })
    .transpose()
}

async fn audit(
    State(st): State<ApiState>,
    Admin(p): Admin,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<impl IntoResponse> {
    let Query(q) = q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()))?;
    let f = AuditFilter {
        tenant_id: None,
        space_id: q.space,
        identity_id: q.identity,
        operation: q.operation,
        since: parse_time("since", q.since)?,
        until: parse_time("until", q.until)?,
        limit: q.limit,
        before_id: q.before,
    };
    let limit = usize::try_from(f.limit.unwrap_or(100).clamp(1, 1000)).unwrap_or(100);
    let events = st.control.audit_events(&p, f).await?;
    // A full page may have more behind it; its last id is where the next page starts.
    let next_before = (events.len() == limit).then(|| events.last().map(|e| e.id)).flatten();
    Ok(Json(AuditPage { events, next_before }))
}

pub(super) fn routes() -> Api {
    Api::new().get(
        "/api/v1/audit",
        Op::new("Audit events, newest first").returns::<AuditPage>().query(&[
            ("space", "string", "space id or bucket"),
            ("identity", "string", "identity id"),
            ("operation", "string", "operation name"),
            ("since", "string", "RFC 3339 time"),
            ("until", "string", "RFC 3339 time"),
            ("limit", "integer", "1 to 1000 (default 100)"),
            (
                "before",
                "integer",
                "events older than this id: the next_before of the previous page",
            ),
        ]),
        audit,
    )
}
