//! Object lock through the control API: a space's configuration (S3's default retention and
//! our write-once prefixes), a version's retention and legal hold, and removing a version. The
//! changes go through the S3 face's versioned paths (the key's lease, [`rustshare_control::lock`]'s
//! decisions); the governance bypass is the operator's alone.

use axum::Json;
use axum::extract::{Path, State};

use super::dto::{LegalHoldBody, RemoveVersionBody, RemovedVersion, RetentionBody, VersionLock};
use super::error::ApiResult;
use super::extract::{Admin, JsonBody};
use super::routes::{Api, Op};
use super::state::ApiState;
use super::versions::{bad, from_s3};
use rustshare_control::lock::LockConfig;
use rustshare_control::model::{AdminPrincipal, Space};
use rustshare_control::{names, versioning};

async fn set_lock(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<LockConfig>,
) -> ApiResult<Json<Space>> {
    Ok(Json(st.control.set_object_lock(&p, &id, b).await?))
}

/// The space, for an admin who may change its objects, after the names passed the validator;
/// with `bypass`, only for the operator.
async fn target(st: &ApiState, p: &AdminPrincipal, id: &str, key: &str, version: Option<&str>, bypass: bool) -> ApiResult<Space> {
    names::key(key).map_err(|e| bad("key", e))?;
    if let Some(v) = version {
        versioning::check_id(v).map_err(|e| bad("version_id", e))?;
    }
    let space = st.control.space_to_manage(p, id).await?;
    if bypass {
        st.control.may_bypass_governance(p, &space)?;
    }
    Ok(space)
}

async fn set_retention(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<RetentionBody>,
) -> ApiResult<Json<VersionLock>> {
    let v = b.version_id.as_deref();
    let space = target(&st, &p, &id, &b.key, v, b.bypass_governance).await?;
    let (version_id, lock) = st
        .s3
        .set_retention(&space, &b.key, v, b.retention, b.bypass_governance)
        .await
        .map_err(|e| from_s3(&e, v, "the retention could not be set"))?;
    let detail = match b.retention {
        Some(r) => format!(
            "key={} version={version_id} mode={} until={}",
            b.key,
            r.mode,
            r.until.unix_timestamp()
        ),
        None => format!("key={} version={version_id} removed", b.key),
    };
    let bypassed = if b.bypass_governance { " bypass_governance" } else { "" };
    st.control
        .audit_admin(&p, &space, "object.retention", Some(format!("{detail}{bypassed}")));
    Ok(Json(VersionLock {
        key: b.key,
        version_id,
        lock,
    }))
}

async fn set_legal_hold(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<LegalHoldBody>,
) -> ApiResult<Json<VersionLock>> {
    let v = b.version_id.as_deref();
    let space = target(&st, &p, &id, &b.key, v, false).await?;
    let (version_id, lock) = st
        .s3
        .set_legal_hold(&space, &b.key, v, b.on)
        .await
        .map_err(|e| from_s3(&e, v, "the legal hold could not be set"))?;
    st.control.audit_admin(
        &p,
        &space,
        "object.legal_hold",
        Some(format!("key={} version={version_id} on={}", b.key, b.on)),
    );
    Ok(Json(VersionLock {
        key: b.key,
        version_id,
        lock,
    }))
}

async fn remove_version(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<RemoveVersionBody>,
) -> ApiResult<Json<RemovedVersion>> {
    let space = target(&st, &p, &id, &b.key, Some(&b.version_id), b.bypass_governance).await?;
    let delete_marker = st
        .s3
        .delete_version(&space, &b.key, &b.version_id, b.bypass_governance)
        .await
        .map_err(|e| from_s3(&e, Some(&b.version_id), "the version could not be removed"))?;
    let bypassed = if b.bypass_governance { " bypass_governance" } else { "" };
    st.control.audit_admin(
        &p,
        &space,
        "object.version_removed",
        Some(format!("key={} version={}{bypassed}", b.key, b.version_id)),
    );
    Ok(Json(RemovedVersion {
        key: b.key,
        version_id: b.version_id,
        delete_marker,
    }))
}

pub(super) fn routes() -> Api {
    Api::new()
        .put(
            "/api/v1/spaces/{space}/object-lock",
            Op::with_body::<LockConfig>(
                "Enable object lock (needs versioning enabled; it stays) and set the default retention and write-once prefixes",
                "200",
            )
            .returns::<Space>(),
            set_lock,
        )
        .put(
            "/api/v1/spaces/{space}/objects/retention",
            Op::with_body::<RetentionBody>(
                "Set a version's retention (longer or stricter; shorter or removed only for governance, by the operator)",
                "200",
            )
            .returns::<VersionLock>(),
            set_retention,
        )
        .put(
            "/api/v1/spaces/{space}/objects/legal-hold",
            Op::with_body::<LegalHoldBody>("Put a legal hold on a version, or lift it", "200").returns::<VersionLock>(),
            set_legal_hold,
        )
        .post(
            "/api/v1/spaces/{space}/objects/remove-version",
            Op::with_body::<RemoveVersionBody>(
                "Remove a version or delete marker for good (unless object lock protects it; governance may be bypassed by the operator)",
                "200",
            )
            .returns::<RemovedVersion>(),
            remove_version,
        )
}
