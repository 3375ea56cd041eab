//! The console's object browser: a space's objects listed, read, written, deleted and shared
//! through the S3 face's own operations, called in process as the admin. Each call carries a
//! credential made for it (the admin's tenant and the space, the whole key range, the
//! `publisher` mode an admin's `Manage` stands for), so policy, quota, usage, versions, object
//! lock, the CDN purge and the audit row (actor `console:<admin>`) are exactly an S3 client's.
//! This module maps HTTP to those calls and nothing more.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rustshare_control::Credential;
use rustshare_control::model::{AdminPrincipal, Identity, PermissionMode, Space};
use rustshare_control::names;
use s3s::dto::{
    AbortMultipartUploadInput, CompleteMultipartUploadInput, CompletedMultipartUpload, CompletedPart, CreateMultipartUploadInput, Delete,
    DeleteObjectsInput, GetObjectInput, HeadObjectInput, ListObjectsV2Input, ObjectIdentifier, PutObjectInput, UploadPartInput,
};
use s3s::{S3, S3Request};
use serde::Deserialize;

use super::dto::{
    CompleteBody, DeleteBody, DeleteFailure, DeleteResult, FolderRow, ObjectInfo, ObjectList, ObjectRow, ObjectWritten, PartStored,
    ShareBody, ShareLink, UploadStarted,
};
use super::error::{ApiError, ApiResult};
use super::extract::{Admin, JsonBody};
use super::routes::{Api, Op};
use super::state::ApiState;
use super::versions::{bad, from_s3};
use crate::face::s3::RequestInfo;

/// Largest part the console sends (it sends 16 MiB; S3 allows 5 GiB).
const MAX_PART: u64 = 5 * 1024 * 1024 * 1024;
/// Name of the key that signs a space's share links.
const SHARE_KEY: &str = "console-share";
/// Shortest and longest share link lifetimes.
const SHARE_SECS: std::ops::RangeInclusive<u64> = 3_600..=604_800;

/// The credential an admin's console call carries in `space`.
fn admin_credential(p: &AdminPrincipal, space: &Space) -> Arc<Credential> {
    Arc::new(Credential {
        identity: Identity {
            id: String::new(),
            tenant_id: space.tenant_id.clone(),
            space_id: space.id.clone(),
            name: format!("console:{}", p.name),
            access_key_id: format!("console:{}", p.name),
            mode: PermissionMode::Publisher,
            allowed_prefix: String::new(),
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
            created_by: p.name.clone(),
            created_at: space.created_at,
            rotated_at: None,
        },
        space: space.clone(),
        secret: String::new(),
    })
}

/// The API request's id and client address, which the S3 face's audit row records.
struct Caller(RequestInfo);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Caller(
            parts
                .extensions
                .get::<RequestInfo>()
                .cloned()
                .unwrap_or_else(|| RequestInfo::new(crate::wire::new_request_id(), None)),
        ))
    }
}

/// An S3 request as the access layer would have released it for `cred`.
fn request<T>(st: &ApiState, cred: &Arc<Credential>, caller: &Caller, method: http::Method, input: T) -> ApiResult<S3Request<T>> {
    let mut extensions = http::Extensions::new();
    extensions.insert(cred.clone());
    extensions.insert(caller.0.clone());
    let region = st
        .region
        .parse()
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the configured region is not valid"))?;
    Ok(S3Request {
        input,
        method,
        uri: http::Uri::from_static("/"),
        headers: HeaderMap::new(),
        extensions,
        credentials: None,
        region: Some(region),
        service: Some("s3".into()),
        trailing_headers: None,
    })
}

/// One console call's context: the space (for an admin who may see it, or change it when
/// `write`), the credential made for the call, and the API request's id and address.
struct AsAdmin {
    space: Space,
    cred: Arc<Credential>,
    caller: Caller,
}

impl AsAdmin {
    async fn open(st: &ApiState, p: &AdminPrincipal, id: &str, caller: Caller, write: bool) -> ApiResult<Self> {
        let space = if write {
            st.control.space_to_manage(p, id).await?
        } else {
            st.control.space(p, id).await?
        };
        let cred = admin_credential(p, &space);
        Ok(Self { space, cred, caller })
    }

    /// The S3 request carrying `input` for this call.
    fn req<T>(&self, st: &ApiState, method: http::Method, input: T) -> ApiResult<S3Request<T>> {
        request(st, &self.cred, &self.caller, method, input)
    }
}

fn checked_key(key: &str) -> ApiResult<()> {
    names::key(key).map_err(|e| bad("key", e))
}

fn s3_failed(what: &'static str) -> impl Fn(s3s::S3Error) -> ApiError {
    move |e| from_s3(&e, None, what)
}

fn unquote(e: Option<s3s::dto::ETag>) -> Option<String> {
    e.map(|e| e.value().to_owned())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Folder to list (empty: the top), ending in `/`.
    prefix: Option<String>,
    /// Resume after this key or folder.
    after: Option<String>,
    /// Entries per page, 1..=1000 (default 200).
    limit: Option<i32>,
    /// Every key under the prefix, not folded into folders (what deleting a folder deletes).
    recursive: Option<bool>,
}

async fn list(
    State(st): State<ApiState>,
    Admin(p): Admin,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<ObjectList>> {
    let Query(q) = q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()))?;
    let prefix = q.prefix.unwrap_or_default();
    names::prefix(&prefix).map_err(|e| bad("prefix", e))?;
    if let Some(a) = &q.after {
        names::prefix(a).map_err(|e| bad("after", e))?;
    }
    let a = AsAdmin::open(&st, &p, &id, caller, false).await?;
    let input = ListObjectsV2Input {
        bucket: a.space.bucket.clone(),
        prefix: Some(prefix.clone()),
        delimiter: (!q.recursive.unwrap_or(false)).then(|| "/".into()),
        start_after: q.after,
        max_keys: Some(q.limit.unwrap_or(200).clamp(1, 1000)),
        ..Default::default()
    };
    let out = st
        .s3
        .list_objects_v2(a.req(&st, http::Method::GET, input)?)
        .await
        .map_err(s3_failed("the listing failed"))?
        .output;
    let objects: Vec<ObjectRow> = out
        .contents
        .unwrap_or_default()
        .into_iter()
        .filter_map(|o| {
            Some(ObjectRow {
                key: o.key?,
                size: u64::try_from(o.size.unwrap_or_default()).unwrap_or_default(),
                etag: unquote(o.e_tag),
                last_modified: o.last_modified.map(time::OffsetDateTime::from),
            })
        })
        .collect();
    let folders: Vec<FolderRow> = out
        .common_prefixes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| Some(FolderRow { prefix: c.prefix? }))
        .collect();
    let truncated = out.is_truncated.unwrap_or(false);
    // The last entry of the page, folder or object, is where the next one starts.
    let last = objects
        .last()
        .map(|o| o.key.clone())
        .into_iter()
        .chain(folders.last().map(|f| f.prefix.clone()))
        .max();
    Ok(Json(ObjectList {
        prefix,
        folders,
        objects,
        truncated,
        next_after: if truncated { last } else { None },
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyQuery {
    key: String,
}

async fn info(
    State(st): State<ApiState>,
    Admin(p): Admin,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<KeyQuery>,
) -> ApiResult<Json<ObjectInfo>> {
    checked_key(&q.key)?;
    let a = AsAdmin::open(&st, &p, &id, caller, false).await?;
    let input = HeadObjectInput {
        bucket: a.space.bucket.clone(),
        key: q.key.clone(),
        ..Default::default()
    };
    let h = st
        .s3
        .head_object(a.req(&st, http::Method::HEAD, input)?)
        .await
        .map_err(s3_failed("the object could not be read"))?
        .output;
    let (_, rules) = st.control.publication(&p, &a.space.id).await?;
    let public_url = rules
        .filter(|r| r.enabled && r.publishes(&q.key))
        .map(|r| format!("{}/{}", super::spaces::public_url(&st, &r).trim_end_matches('/'), q.key));
    Ok(Json(ObjectInfo {
        key: q.key,
        size: u64::try_from(h.content_length.unwrap_or_default()).unwrap_or_default(),
        etag: unquote(h.e_tag),
        content_type: h.content_type,
        cache_control: h.cache_control,
        last_modified: h.last_modified.map(time::OffsetDateTime::from),
        version_id: h.version_id,
        metadata: h.metadata.unwrap_or_default().into_iter().collect(),
        public_url,
    }))
}

/// `attachment; filename=...` for the key's last segment, with an ASCII fallback.
fn disposition(key: &str) -> HeaderValue {
    let name = key.rsplit('/').next().unwrap_or(key);
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' { c } else { '_' })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string();
    HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

async fn download(
    State(st): State<ApiState>,
    Admin(p): Admin,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<KeyQuery>,
) -> ApiResult<Response> {
    checked_key(&q.key)?;
    let a = AsAdmin::open(&st, &p, &id, caller, false).await?;
    let input = GetObjectInput {
        bucket: a.space.bucket.clone(),
        key: q.key.clone(),
        ..Default::default()
    };
    let g = st
        .s3
        .get_object(a.req(&st, http::Method::GET, input)?)
        .await
        .map_err(s3_failed("the object could not be read"))?
        .output;
    let mut h = HeaderMap::new();
    let ct = g.content_type.unwrap_or_else(|| "application/octet-stream".to_owned());
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&ct).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Some(n) = g.content_length {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    if let Some(e) = g.e_tag.and_then(|e| e.to_http_header().ok()) {
        h.insert(header::ETAG, e);
    }
    h.insert(header::CONTENT_DISPOSITION, disposition(&q.key));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    let body = g.body.map_or_else(Body::empty, Body::from_stream);
    Ok((h, body).into_response())
}

fn content_length(headers: &HeaderMap, max: u64) -> ApiResult<u64> {
    let len = super::extract::declared_length(headers).ok_or_else(|| {
        ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "send the file with a Content-Length header",
        )
    })?;
    if len > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("at most {max} bytes in one request; larger files go in parts"),
        ));
    }
    Ok(len)
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn blob(body: Body) -> s3s::dto::StreamingBlob {
    s3s::dto::StreamingBlob::from(s3s::Body::http_body_unsync(body))
}

async fn upload(
    State(st): State<ApiState>,
    Admin(p): Admin,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<KeyQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<ObjectWritten>> {
    checked_key(&q.key)?;
    let len = content_length(&headers, MAX_PART)?;
    let a = AsAdmin::open(&st, &p, &id, caller, true).await?;
    let input = PutObjectInput {
        bucket: a.space.bucket.clone(),
        key: q.key.clone(),
        body: Some(blob(body)),
        content_length: i64::try_from(len).ok(),
        content_type: content_type(&headers),
        ..Default::default()
    };
    let out = st
        .s3
        .put_object(a.req(&st, http::Method::PUT, input)?)
        .await
        .map_err(s3_failed("the upload failed; nothing was stored"))?
        .output;
    Ok(Json(ObjectWritten {
        key: q.key,
        etag: unquote(out.e_tag),
        version_id: out.version_id,
    }))
}

async fn start_upload(
    State(st): State<ApiState>,
    Admin(p): Admin,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<KeyQuery>,
    headers: HeaderMap,
) -> ApiResult<Json<UploadStarted>> {
    checked_key(&q.key)?;
    let a = AsAdmin::open(&st, &p, &id, caller, true).await?;
    let input = CreateMultipartUploadInput {
        bucket: a.space.bucket.clone(),
        key: q.key.clone(),
        content_type: content_type(&headers),
        ..Default::default()
    };
    let out = st
        .s3
        .create_multipart_upload(a.req(&st, http::Method::POST, input)?)
        .await
        .map_err(s3_failed("the upload could not start"))?
        .output;
    let upload_id = out
        .upload_id
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no upload id"))?;
    Ok(Json(UploadStarted { key: q.key, upload_id }))
}

async fn upload_part(
    State(st): State<ApiState>,
    Admin(p): Admin,
    caller: Caller,
    Path((id, upload_id, part)): Path<(String, String, u32)>,
    Query(q): Query<KeyQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<PartStored>> {
    checked_key(&q.key)?;
    let len = content_length(&headers, MAX_PART)?;
    let a = AsAdmin::open(&st, &p, &id, caller, true).await?;
    let input = UploadPartInput {
        bucket: a.space.bucket.clone(),
        key: q.key.clone(),
        upload_id,
        part_number: i32::try_from(part).unwrap_or(0),
        body: Some(blob(body)),
        content_length: i64::try_from(len).ok(),
        ..Default::default()
    };
    let out = st
        .s3
        .upload_part(a.req(&st, http::Method::PUT, input)?)
        .await
        .map_err(s3_failed("the part was not stored"))?
        .output;
    Ok(Json(PartStored {
        part,
        etag: unquote(out.e_tag).unwrap_or_default(),
    }))
}

async fn complete_upload(
    State(st): State<ApiState>,
    Admin(p): Admin,
    caller: Caller,
    Path((id, upload_id)): Path<(String, String)>,
    Query(q): Query<KeyQuery>,
    JsonBody(b): JsonBody<CompleteBody>,
) -> ApiResult<Json<ObjectWritten>> {
    checked_key(&q.key)?;
    let a = AsAdmin::open(&st, &p, &id, caller, true).await?;
    let parts = b
        .parts
        .into_iter()
        .map(|x| CompletedPart {
            e_tag: Some(s3s::dto::ETag::Strong(x.etag)),
            part_number: i32::try_from(x.part).ok(),
            ..Default::default()
        })
        .collect();
    let input = CompleteMultipartUploadInput {
        bucket: a.space.bucket.clone(),
        key: q.key.clone(),
        upload_id,
        multipart_upload: Some(CompletedMultipartUpload { parts: Some(parts) }),
        ..Default::default()
    };
    let out = st
        .s3
        .complete_multipart_upload(a.req(&st, http::Method::POST, input)?)
        .await
        .map_err(s3_failed("the upload could not be completed"))?
        .output;
    Ok(Json(ObjectWritten {
        key: q.key,
        etag: unquote(out.e_tag),
        version_id: out.version_id,
    }))
}

async fn abort_upload(
    State(st): State<ApiState>,
    Admin(p): Admin,
    caller: Caller,
    Path((id, upload_id)): Path<(String, String)>,
    Query(q): Query<KeyQuery>,
) -> ApiResult<StatusCode> {
    checked_key(&q.key)?;
    let a = AsAdmin::open(&st, &p, &id, caller, true).await?;
    let input = AbortMultipartUploadInput {
        bucket: a.space.bucket.clone(),
        key: q.key.clone(),
        upload_id,
        ..Default::default()
    };
    st.s3
        .abort_multipart_upload(a.req(&st, http::Method::DELETE, input)?)
        .await
        .map_err(s3_failed("the upload could not be aborted"))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete(
    State(st): State<ApiState>,
    Admin(p): Admin,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<DeleteBody>,
) -> ApiResult<Json<DeleteResult>> {
    if b.keys.is_empty() || b.keys.len() > 1000 {
        return Err(bad("keys", "name 1 to 1000 keys a request"));
    }
    for k in &b.keys {
        checked_key(k)?;
    }
    let a = AsAdmin::open(&st, &p, &id, caller, true).await?;
    let input = DeleteObjectsInput {
        bucket: a.space.bucket.clone(),
        delete: Delete {
            objects: b
                .keys
                .iter()
                .map(|k| ObjectIdentifier {
                    key: k.clone(),
                    ..Default::default()
                })
                .collect(),
            quiet: Some(false),
        },
        bypass_governance_retention: None,
        checksum_algorithm: None,
        expected_bucket_owner: None,
        mfa: None,
        request_payer: None,
    };
    let out = st
        .s3
        .delete_objects(a.req(&st, http::Method::POST, input)?)
        .await
        .map_err(s3_failed("nothing was deleted"))?
        .output;
    let failed = out
        .errors
        .unwrap_or_default()
        .into_iter()
        .map(|e| DeleteFailure {
            key: e.key.unwrap_or_default(),
            message: e.message.unwrap_or_default(),
        })
        .collect();
    Ok(Json(DeleteResult {
        deleted: out.deleted.map_or(0, |d| d.len() as u64),
        failed,
    }))
}

/// The active key that signs the space's share links, made when there is none (read-only, the
/// whole space, visible in the space's keys: revoking it ends every link at once; the next
/// share makes `console-share-2`, and so on, since a revoked key keeps its name).
async fn share_key(st: &ApiState, p: &AdminPrincipal, space: &Space) -> ApiResult<Arc<Credential>> {
    let now = st.control.now();
    let keys = st.control.list_identities(p, &space.id).await?;
    let is_share = |i: &Identity| {
        i.name == SHARE_KEY
            || i.name
                .strip_prefix(SHARE_KEY)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|n| n.parse::<u32>().is_ok())
    };
    // Only a read-only key of the whole space signs: a key of that name made by hand with
    // other rights is left alone.
    let existing = keys
        .iter()
        .find(|i| is_share(i) && i.status(now) == "active" && i.mode == PermissionMode::ReadOnly && i.allowed_prefix.is_empty());
    let access = if let Some(i) = existing {
        i.access_key_id.clone()
    } else {
        // One more name than there are keys: one of them is free.
        let name = std::iter::once(SHARE_KEY.to_owned())
            .chain((2..=keys.len() + 2).map(|n| format!("{SHARE_KEY}-{n}")))
            .find(|n| !keys.iter().any(|i| i.name == *n))
            .unwrap_or_else(|| SHARE_KEY.to_owned());
        let n = rustshare_control::NewIdentity {
            name,
            mode: PermissionMode::ReadOnly,
            prefix: String::new(),
            expires_at: None,
            expires_in_seconds: None,
        };
        st.control.create_identity(p, &space.id, n).await?.identity.access_key_id
    };
    st.control
        .credential(&access)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the share key vanished"))
}

async fn share(
    State(st): State<ApiState>,
    Admin(p): Admin,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<ShareBody>,
) -> ApiResult<Json<ShareLink>> {
    checked_key(&b.key)?;
    if !SHARE_SECS.contains(&b.expires_in_seconds) {
        return Err(bad(
            "expires_in_seconds",
            "a share link lives 3600 (1 hour) to 604800 (7 days) seconds",
        ));
    }
    let a = AsAdmin::open(&st, &p, &id, caller, true).await?;
    let head = HeadObjectInput {
        bucket: a.space.bucket.clone(),
        key: b.key.clone(),
        ..Default::default()
    };
    st.s3
        .head_object(a.req(&st, http::Method::HEAD, head)?)
        .await
        .map_err(s3_failed("the object could not be read"))?;
    let signer = share_key(&st, &p, &a.space).await?;
    let secs = std::time::Duration::from_secs(b.expires_in_seconds);
    let url = presign(&st, &signer, &a.space.bucket, &b.key, secs).await?;
    let expires_at = st.control.now() + secs;
    st.control.audit_admin(
        &p,
        &a.space,
        "object.shared",
        Some(format!(
            "key={} expires_in={}s signed_by={}",
            b.key, b.expires_in_seconds, signer.identity.access_key_id
        )),
    );
    Ok(Json(ShareLink {
        key: b.key,
        url,
        expires_at,
        signed_by: signer.identity.access_key_id.clone(),
    }))
}

/// A presigned GET of `bucket/key` on the S3 endpoint, signed with `signer`'s key.
async fn presign(st: &ApiState, signer: &Credential, bucket: &str, key: &str, secs: std::time::Duration) -> ApiResult<String> {
    use aws_sdk_s3::config::{BehaviorVersion, Region};
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "presigning a share link");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the share link could not be signed")
    };
    let creds = aws_credential_types::Credentials::new(&signer.identity.access_key_id, &signer.secret, None, None, "console-share");
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(st.region.clone()))
        .endpoint_url(st.endpoint.clone())
        .force_path_style(true)
        .credentials_provider(creds)
        .build();
    let client = aws_sdk_s3::Client::from_conf(conf);
    let how = aws_sdk_s3::presigning::PresigningConfig::expires_in(secs).map_err(|e| failed(&e))?;
    let name = key.rsplit('/').next().unwrap_or(key);
    let req = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .response_content_disposition(format!("attachment; filename=\"{}\"", name.replace(['"', '\\'], "_")))
        .presigned(how)
        .await
        .map_err(|e| failed(&e))?;
    Ok(req.uri().to_owned())
}

pub(super) fn routes() -> Api {
    Api::new()
        .get(
            "/api/v1/spaces/{space}/objects",
            Op::new("One page of the objects and folders directly under a prefix (the S3 face's listing, folded at /)")
                .returns::<ObjectList>()
                .query(&[
                    ("prefix", "string", "the folder, ending in /; empty for the top"),
                    ("after", "string", "resume after this key or folder"),
                    ("limit", "integer", "entries per page, 1 to 1000 (default 200)"),
                    ("recursive", "boolean", "every key under the prefix, without folders"),
                ]),
            list,
        )
        .get(
            "/api/v1/spaces/{space}/objects/info",
            Op::new("An object's size, ETag, type, metadata, Cache-Control and public URL")
                .returns::<ObjectInfo>()
                .query(&[("key", "string", "the object's key")]),
            info,
        )
        .get(
            "/api/v1/spaces/{space}/objects/download",
            Op::new("The object's bytes, as an attachment named after the key, with its stored Content-Type").query(&[(
                "key",
                "string",
                "the object's key",
            )]),
            download,
        )
        .put(
            "/api/v1/spaces/{space}/objects/upload",
            Op::new("Write an object: the raw file as the body, Content-Length required (as PutObject: quota, usage, versions, audit)")
                .returns::<ObjectWritten>()
                .query(&[("key", "string", "the object's key")]),
            upload,
        )
        .map("/api/v1/spaces/{space}/objects/upload", |mr| mr.layer(DefaultBodyLimit::disable()))
        .post(
            "/api/v1/spaces/{space}/objects/multipart",
            Op::new("Begin a multipart upload (as CreateMultipartUpload)")
                .returns::<UploadStarted>()
                .query(&[("key", "string", "the object's key")]),
            start_upload,
        )
        .put(
            "/api/v1/spaces/{space}/objects/multipart/{upload}/{part}",
            Op::new("Store one part: the raw bytes as the body, Content-Length required (as UploadPart)")
                .returns::<PartStored>()
                .query(&[("key", "string", "the object's key")]),
            upload_part,
        )
        .map("/api/v1/spaces/{space}/objects/multipart/{upload}/{part}", |mr| {
            mr.layer(DefaultBodyLimit::disable())
        })
        .post(
            "/api/v1/spaces/{space}/objects/multipart/{upload}/complete",
            Op::with_body::<CompleteBody>("Join the parts into the object (as CompleteMultipartUpload)", "200")
                .returns::<ObjectWritten>()
                .query(&[("key", "string", "the object's key")]),
            complete_upload,
        )
        .delete(
            "/api/v1/spaces/{space}/objects/multipart/{upload}",
            Op::new("Abort a multipart upload; its parts are dropped")
                .ok("204")
                .query(&[("key", "string", "the object's key")]),
            abort_upload,
        )
        .post(
            "/api/v1/spaces/{space}/objects/delete",
            Op::with_body::<DeleteBody>("Delete up to 1,000 objects (as DeleteObjects)", "200").returns::<DeleteResult>(),
            delete,
        )
        .post(
            "/api/v1/spaces/{space}/objects/share",
            Op::with_body::<ShareBody>(
                "A presigned GET of an object for 1 hour to 7 days, signed by the space's console-share key",
                "200",
            )
            .returns::<ShareLink>(),
            share,
        )
}
