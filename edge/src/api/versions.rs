//! Object versions: a space's versioning state, the versions of its objects, and restoring
//! one (a copy of it onto its key, through the S3 face's versioned write).
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::dto::{RestoreBody, Restored, VersionList, VersionView, VersioningBody};
use super::error::{ApiError, ApiResult};
use super::extract::{Admin, JsonBody};
use super::routes::{Api, Op};
use super::state::ApiState;
use rustshare_control::model::Space;
use rustshare_control::names;
use rustshare_control::versioning::{self, Listed};

async fn set_versioning(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<VersioningBody>,
) -> ApiResult<Json<Space>> {
    Ok(Json(st.control.set_versioning(&p, &id, b.versioning).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionsQuery {
    /// Only keys starting with this (a whole key lists that key's versions).
    prefix: Option<String>,
    /// Resume after this key ...
    key_marker: Option<String>,
    /// ... and this version of it.
    version_marker: Option<String>,
    /// Page size, 1..=1000 (default 1000).
    limit: Option<usize>,
}

/// An S3 face's refusal as the API's error: the same status, a message that names what to do.
pub(super) fn from_s3(e: &s3s::S3Error, version: Option<&str>, fallback: &str) -> ApiError {
    let status = e.status_code().unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::CONFLICT => "conflict",
        s if s.is_client_error() => "invalid_request",
        _ => "internal",
    };
    let msg = match e.code().as_str() {
        "NoSuchVersion" => format!("no version {:?} of this key", version.unwrap_or_default()),
        "NoSuchKey" => "no such key (or it has no current version)".to_owned(),
        "MethodNotAllowed" => "that version is a delete marker; name an object version".to_owned(),
        _ => e.message().unwrap_or(fallback).to_owned(),
    };
    ApiError::new(status, code, msg)
}

pub(super) fn bad(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", format!("{what}: {e}"))
}

async fn list_versions(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    q: Result<Query<VersionsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<VersionList>> {
    let Query(q) = q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()))?;
    let prefix = q.prefix.unwrap_or_default();
    names::prefix(&prefix).map_err(|e| bad("prefix", e))?;
    if let Some(k) = &q.key_marker {
        names::prefix(k).map_err(|e| bad("key_marker", e))?;
    }
    if let Some(v) = &q.version_marker {
        versioning::check_id(v).map_err(|e| bad("version_marker", e))?;
    }
    let space = st.control.space(&p, &id).await?;
    let max = q.limit.unwrap_or(1000).clamp(1, 1000);
    let page = st
        .control
        .list_versions(
            &space.id,
            rustshare_control::VersionQuery {
                prefix,
                delimiter: None,
                key_marker: q.key_marker,
                version_marker: q.version_marker,
                max,
            },
        )
        .await?;
    let versions = page
        .out
        .into_iter()
        .filter_map(|l| match l {
            Listed::Version(r, latest) => Some(VersionView {
                key: r.key,
                version_id: r.version_id,
                latest,
                delete_marker: r.delete_marker,
                size: r.size,
                etag: r.etag,
                last_modified: r.modified,
                lock: (!r.lock.is_empty()).then_some(r.lock),
            }),
            Listed::Prefix(_) => None,
        })
        .collect();
    let (next_key_marker, next_version_marker) = match (page.truncated, page.next) {
        (true, Some((k, v))) => (Some(k), v),
        _ => (None, None),
    };
    Ok(Json(VersionList {
        space_id: space.id,
        versioning: space.versioning,
        versions,
        truncated: page.truncated,
        next_key_marker,
        next_version_marker,
    }))
}

async fn restore(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<RestoreBody>,
) -> ApiResult<Json<Restored>> {
    names::key(&b.key).map_err(|e| bad("key", e))?;
    versioning::check_id(&b.version_id).map_err(|e| bad("version_id", e))?;
    let space = st.control.space_to_manage(&p, &id).await?;
    let (version_id, size) = st
        .s3
        .restore_version(&space, &b.key, &b.version_id)
        .await
        .map_err(|e| from_s3(&e, Some(&b.version_id), "the version could not be restored"))?;
    st.control.audit_admin(
        &p,
        &space,
        "object.restored",
        Some(format!("key={} from={} version={version_id} bytes={size}", b.key, b.version_id)),
    );
    Ok(Json(Restored {
        key: b.key,
        restored_from: b.version_id,
        version_id,
    }))
}

pub(super) fn routes() -> Api {
    Api::new()
        .put(
            "/api/v1/spaces/{space}/versioning",
            Op::with_body::<VersioningBody>("Enable or suspend keeping object versions (as PutBucketVersioning)", "200").returns::<Space>(),
            set_versioning,
        )
        .get(
            "/api/v1/spaces/{space}/versions",
            Op::new("Versions and delete markers, by key then newest first")
                .returns::<VersionList>()
                .query(&[
                    ("prefix", "string", "only keys starting with this"),
                    ("key_marker", "string", "resume after this key"),
                    ("version_marker", "string", "and after this version of it"),
                    ("limit", "integer", "page size, 1 to 1000"),
                ]),
            list_versions,
        )
        .post(
            "/api/v1/spaces/{space}/objects/restore",
            Op::with_body::<RestoreBody>("Make an old version current again, as a new version copied from it", "200").returns::<Restored>(),
            restore,
        )
}
