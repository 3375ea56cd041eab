//! `/api/v1/admin/master-key`: rotating the master key without downtime (operator only).
//!
//! - `GET`: the fingerprint of the key that seals now, and how many older keys are still
//!   accepted.
//! - `POST .../rotate`: without a body, this node makes a new key, writes the key file with it
//!   first (the old ones kept, still accepted), re-seals every secret under it and tells the
//!   other nodes, which re-read their own key files. With `{"fingerprint": ...}`, the key with
//!   that fingerprint, already listed in every node's key file, becomes the sealing key.
//! - `POST .../retire`: re-seals once more (secrets made meanwhile), then drops the old keys
//!   from this node's file. Other nodes drop theirs when their files are rewritten.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use rustshare_control::admin::{AdminAction, Target, require};
use rustshare_control::model::AdminPrincipal;
use rustshare_control::seal::MasterKey;

use super::dto::{MasterKeyChange, MasterKeyInfo, Reconciled, ReconciledSpace, RotateBody};
use super::error::{ApiError, ApiResult, blocking};
use super::extract::{Admin, JsonBody};
use super::routes::{Api, Op};
use super::state::ApiState;
use crate::master_key::{self, KeySource};

fn operator(p: &AdminPrincipal) -> ApiResult<()> {
    Ok(require(p, AdminAction::ManageMasterKey, Target::Installation, "installation")?)
}

fn key_file(st: &ApiState) -> ApiResult<std::path::PathBuf> {
    match &st.master_key {
        KeySource::File(p) => Ok(p.clone()),
        KeySource::Env => Err(ApiError::new(
            StatusCode::CONFLICT,
            "master_key_from_env",
            "this node takes its master key from RUSTSHARE_MASTER_KEY, which cannot change while it runs: \
             use a key file (master_key_file) to rotate without downtime",
        )),
    }
}

fn internal(e: &anyhow::Error) -> ApiError {
    tracing::error!("master key file: {e:#}");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the master key file could not be read or written; see the server log",
    )
}

fn rotation_error(e: rustshare_control::Error) -> ApiError {
    match e {
        rustshare_control::Error::Seal(_) => ApiError::new(
            StatusCode::CONFLICT,
            "unsealable_secret",
            "a stored secret opens under none of the keys in the key file; nothing was changed",
        ),
        other => other.into(),
    }
}

async fn show(State(st): State<ApiState>, Admin(p): Admin) -> ApiResult<impl IntoResponse> {
    operator(&p)?;
    let source = match &st.master_key {
        KeySource::Env => "env".to_owned(),
        KeySource::File(f) => f.display().to_string(),
    };
    Ok(Json(MasterKeyInfo {
        fingerprint: st.control.master_key_fingerprint(),
        source,
    }))
}

async fn rotate(State(st): State<ApiState>, Admin(p): Admin, JsonBody(body): JsonBody<RotateBody>) -> ApiResult<impl IntoResponse> {
    operator(&p)?;
    let path = key_file(&st)?;
    let wanted = body.fingerprint;
    let file = path.clone();
    let (ring, note) = blocking(move || -> ApiResult<_> {
        let path = file;
        let current = master_key::reread(&KeySource::File(path.clone())).map_err(|e| internal(&e))?;
        let ring = match &wanted {
            Some(fp) => current.promoted(fp).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "unknown_key",
                    format!(
                        "no key with fingerprint {fp} is in {}: add it to every node's key file first",
                        path.display()
                    ),
                )
            })?,
            None => current.rotated_to(&MasterKey::generate()),
        };
        // The file first: a restart from here on already knows the new key. A key made here
        // must be on disk before anything is sealed under it; a key given by fingerprint is
        // in the file already (a read-only mount, such as a Kubernetes Secret, is then fine:
        // its owner puts the new key first).
        let note = match (master_key::write(&path, &ring), &wanted) {
            (Ok(()), _) => None,
            (Err(e), None) => return Err(internal(&e)),
            (Err(e), Some(_)) => {
                tracing::warn!("master key file not rewritten: {e:#}");
                Some(format!(
                    "{} could not be rewritten: put the new key first in it yourself",
                    path.display()
                ))
            }
        };
        Ok((ring, note))
    })
    .await??;
    let fingerprint = ring.fingerprint();
    let resealed = st.control.rotate_master_key(&p, ring).await.map_err(rotation_error)?;
    Ok(Json(MasterKeyChange {
        fingerprint,
        resealed,
        key_file: Some(path.display().to_string()),
        retired: None,
        note,
    }))
}

async fn retire(State(st): State<ApiState>, Admin(p): Admin) -> ApiResult<impl IntoResponse> {
    operator(&p)?;
    let path = key_file(&st)?;
    let file = path.clone();
    let current = blocking(move || master_key::reread(&KeySource::File(file)).map_err(|e| internal(&e))).await??;
    if current.fingerprint() != st.control.master_key_fingerprint() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "key_file_changed",
            "the key file's first key is not the key this node seals with; rotate first",
        ));
    }
    // Secrets sealed under an old key since the rotation are caught by this pass.
    let resealed = st.control.rotate_master_key(&p, current.clone()).await.map_err(rotation_error)?;
    let only = current.without_previous();
    let written = only.clone();
    let note = blocking(move || {
        master_key::write(&path, &written).err().map(|e| {
            tracing::warn!("master key file not rewritten: {e:#}");
            format!("{} could not be rewritten: remove the old keys from it yourself", path.display())
        })
    })
    .await?;
    // No key is named: the ring's first key seals, which is the one just written first.
    let _ = st.control.use_master_key(only, None);
    Ok(Json(MasterKeyChange {
        fingerprint: st.control.master_key_fingerprint(),
        resealed,
        key_file: None,
        retired: Some(true),
        note,
    }))
}

async fn reconcile(State(st): State<ApiState>, Admin(p): Admin) -> ApiResult<impl IntoResponse> {
    require(&p, AdminAction::Reconcile, Target::Installation, "installation")?;
    let store = st.publisher.store_handle();
    let done = crate::reconcile::run(&st.control, &store).await.map_err(|e| {
        tracing::error!("reconcile: {e:#}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "reconciling failed; see the server log",
        )
    })?;
    for r in done.iter().filter(|r| r.before != r.after) {
        st.control.audit_admin(
            &p,
            &r.space,
            "usage.reconciled",
            Some(format!(
                "bytes {}->{} objects {}->{}",
                r.before.bytes, r.after.bytes, r.before.objects, r.after.objects
            )),
        );
    }
    Ok(Json(Reconciled {
        spaces: done
            .into_iter()
            .map(|r| ReconciledSpace {
                bucket: r.bucket,
                before: r.before,
                after: r.after,
            })
            .collect(),
    }))
}

/// The master key and maintenance routes.
pub(super) fn routes() -> Api {
    Api::new()
        .post(
            "/api/v1/admin/reconcile",
            Op::new("Recompute every space's usage and object count from the store (operator only)").returns::<Reconciled>(),
            reconcile,
        )
        .get(
            "/api/v1/admin/master-key",
            Op::new("The fingerprint of the master key that seals secrets now, and where it comes from").returns::<MasterKeyInfo>(),
            show,
        )
        .post(
            "/api/v1/admin/master-key/rotate",
            Op::with_body::<RotateBody>(
                "Re-seal every stored secret under a new master key (made here, or an existing one by fingerprint); other nodes follow",
                "200",
            )
            .returns::<MasterKeyChange>(),
            rotate,
        )
        .post(
            "/api/v1/admin/master-key/retire",
            Op::new("Re-seal once more, then drop older keys from this node's key file").returns::<MasterKeyChange>(),
            retire,
        )
}
