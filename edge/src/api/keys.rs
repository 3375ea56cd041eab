//! S3 keys of a space: issue (the secret is shown once), list, revoke, rotate.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::dto::{ClientCommands, KeyBlock, KeyList};
use super::error::ApiResult;
use super::extract::{Admin, JsonBody};
use super::routes::{Api, Op};
use super::state::ApiState;
use rustshare_control::model::Identity;
use rustshare_control::{CreatedIdentity, NewIdentity};

/// Upload commands for the three clients people use with a new key.
fn client_commands(endpoint: &str, region: &str, bucket: &str, prefix: &str, ak: &str, sk: &str) -> ClientCommands {
    let host = endpoint.split("://").nth(1).unwrap_or(endpoint);
    let no_ssl = if endpoint.starts_with("https") { "" } else { " --no-ssl" };
    ClientCommands {
        aws: format!(
            "export AWS_ACCESS_KEY_ID={ak} AWS_SECRET_ACCESS_KEY={sk} AWS_DEFAULT_REGION={region}\naws --endpoint-url {endpoint} s3 cp ./release.tar.gz s3://{bucket}/{prefix}"
        ),
        s3cmd: format!(
            "s3cmd --access_key={ak} --secret_key={sk} --host={host} --host-bucket={host} --region={region}{no_ssl} put ./release.tar.gz s3://{bucket}/{prefix}"
        ),
        rclone: format!(
            "rclone copy ./release.tar.gz \":s3,provider=Other,access_key_id={ak},secret_access_key={sk},endpoint='{endpoint}',region={region}:{bucket}/{prefix}\""
        ),
    }
}

fn key_block(st: &ApiState, c: CreatedIdentity) -> KeyBlock {
    let commands = client_commands(
        &st.endpoint,
        &st.region,
        &c.space.bucket,
        &c.identity.allowed_prefix,
        &c.identity.access_key_id,
        &c.secret_access_key,
    );
    KeyBlock {
        access_key_id: c.identity.access_key_id.clone(),
        prefix: c.identity.allowed_prefix.clone(),
        identity: c.identity,
        secret_access_key: c.secret_access_key,
        endpoint: st.endpoint.clone(),
        bucket: c.space.bucket,
        region: st.region.clone(),
        path_style: true,
        commands,
    }
}

async fn create_key(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<NewIdentity>,
) -> ApiResult<impl IntoResponse> {
    let c = st.control.create_identity(&p, &id, b).await?;
    Ok((StatusCode::CREATED, Json(key_block(&st, c))))
}

async fn list_keys(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(KeyList {
        keys: st.control.list_identities(&p, &id).await?,
    }))
}

async fn revoke_key(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.control.revoke_identity(&p, &id).await?))
}

async fn rotate_key(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let c = st.control.rotate_identity(&p, &id).await?;
    Ok(Json(key_block(&st, c)))
}

pub(super) fn routes() -> Api {
    Api::new()
        .get(
            "/api/v1/spaces/{space}/keys",
            Op::new("List S3 keys (never secrets)").returns::<KeyList>(),
            list_keys,
        )
        .post(
            "/api/v1/spaces/{space}/keys",
            Op::with_body::<NewIdentity>("Create an S3 key; the secret is returned once", "201").returns::<KeyBlock>(),
            create_key,
        )
        .post(
            "/api/v1/keys/{key}/revoke",
            Op::new("Revoke a key; its next request fails").returns::<Identity>(),
            revoke_key,
        )
        .post(
            "/api/v1/keys/{key}/rotate",
            Op::new("New secret, returned once; the old one stops working at once").returns::<KeyBlock>(),
            rotate_key,
        )
}
