//! Lifecycle rules of a space (as PutBucketLifecycleConfiguration sets them), and a pass of
//! the expirer run now (operator).
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rustshare_control::admin::{AdminAction, Target, require};

use super::dto::{LifecycleBody, LifecycleRun, LifecycleState};
use super::error::{ApiError, ApiResult};
use super::extract::{Admin, JsonBody};
use super::routes::{Api, Op};
use super::state::ApiState;
use crate::face::s3::expirer::PassReport;
use rustshare_control::lifecycle::LifecycleRule;
use rustshare_control::model::Space;

fn state(space: Space, rules: Option<Vec<LifecycleRule>>) -> LifecycleState {
    LifecycleState {
        space_id: space.id,
        bucket: space.bucket,
        rules,
    }
}

async fn show(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<Json<LifecycleState>> {
    let (space, rules) = st.control.lifecycle(&p, &id).await?;
    Ok(Json(state(space, rules)))
}

async fn set(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<LifecycleBody>,
) -> ApiResult<Json<LifecycleState>> {
    let space = st.control.set_lifecycle(&p, &id, Some(b.rules.clone())).await?;
    Ok(Json(state(space, Some(b.rules))))
}

async fn remove(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<Json<LifecycleState>> {
    let space = st.control.set_lifecycle(&p, &id, None).await?;
    Ok(Json(state(space, None)))
}

/// One pass now, on this node, whichever node holds the background expirer's lease (removals
/// are idempotent and ordered per key, so two passes at once remove nothing twice). `as_of`
/// judges as of a later time: an operator's "expire now what would expire by then" (the
/// operator may remove any object anyway); the pass and its time are audited.
async fn run(State(st): State<ApiState>, Admin(p): Admin, JsonBody(b): JsonBody<LifecycleRun>) -> ApiResult<Json<PassReport>> {
    require(&p, AdminAction::Reconcile, Target::Installation, "installation")?;
    let real = st.control.now();
    let now = match b.as_of {
        Some(t) if t < real => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "as_of must not be in the past: a pass judges at the present time or later",
            ));
        }
        Some(t) => t,
        None => real,
    };
    let report = st.s3.expirer().pass(now, b.batch.unwrap_or(10_000).max(1)).await.map_err(|e| {
        tracing::error!("lifecycle pass: {e:#}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the lifecycle pass failed; see the server log",
        )
    })?;
    st.metrics.lifecycle_pass(&report.removed(), report.bytes, report.complete);
    st.control.audit(rustshare_control::model::NewAuditEvent {
        actor: p.name.clone(),
        kind: "security".into(),
        operation: "lifecycle.run".into(),
        status: "ok".into(),
        bytes: report.bytes,
        detail: Some(format!(
            "as_of={} expired={} noncurrent={} markers={} uploads={}",
            now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            report.expired,
            report.noncurrent_removed,
            report.markers_removed,
            report.uploads_aborted
        )),
        ..rustshare_control::model::NewAuditEvent::default()
    });
    Ok(Json(report))
}

pub(super) fn routes() -> Api {
    Api::new()
        .get(
            "/api/v1/spaces/{space}/lifecycle",
            Op::new("The space's lifecycle rules").returns::<LifecycleState>(),
            show,
        )
        .put(
            "/api/v1/spaces/{space}/lifecycle",
            Op::with_body::<LifecycleBody>("Set the lifecycle rules (as PutBucketLifecycleConfiguration)", "200")
                .returns::<LifecycleState>(),
            set,
        )
        .delete(
            "/api/v1/spaces/{space}/lifecycle",
            Op::new("Remove the lifecycle rules: nothing expires").returns::<LifecycleState>(),
            remove,
        )
        .post(
            "/api/v1/admin/lifecycle/run",
            Op::with_body::<LifecycleRun>("Run one lifecycle expirer pass now (operator)", "200").returns::<PassReport>(),
            run,
        )
}
