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
/// is taken only by test builds, so the tests need not wait days.
async fn run(State(st): State<ApiState>, Admin(p): Admin, JsonBody(b): JsonBody<LifecycleRun>) -> ApiResult<Json<PassReport>> {
    require(&p, AdminAction::Reconcile, Target::Installation, "installation")?;
    let now = match b.as_of {
        None => st.control.now(),
        Some(t) if cfg!(debug_assertions) => t,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "as_of is accepted by test builds only; a pass runs at the present time",
            ));
        }
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
