//! Spaces: creation, listing, quota, usage and traffic, public web access and purges.
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::{ApiError, ApiResult};
use super::extract::{Admin, JsonBody};
use super::routes::{Api, Op};
use super::state::ApiState;
use rustshare_control::NewSpace;
use rustshare_control::PublicationInput;
use rustshare_control::model::{Identity, PublicationRules, Space, Usage};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaBody {
    quota_bytes: Option<u64>,
}

/// A space with its usage, as `GET /spaces/{id}` returns it.
#[derive(Serialize)]
struct SpaceView {
    #[serde(flatten)]
    space: Space,
    usage: Usage,
    cdn: crate::metrics::CdnStats,
    keys: Vec<Identity>,
    s3_api_access: &'static str,
    /// What an S3 client needs besides a key.
    s3: serde_json::Value,
    public_web_access: &'static str,
    public: Option<PublicView>,
}

/// Public web access of a space.
#[derive(Serialize)]
struct PublicView {
    public_web_access: &'static str,
    url: String,
    rules: PublicationRules,
}

fn public_view(st: &ApiState, rules: Option<PublicationRules>) -> Option<PublicView> {
    rules.map(|r| PublicView {
        public_web_access: if r.enabled { "enabled" } else { "disabled" },
        url: r
            .public_base_url
            .clone()
            .unwrap_or_else(|| format!("{}/{}/", st.cdn_base, r.public_name)),
        rules: r,
    })
}
async fn create_space(State(st): State<ApiState>, Admin(p): Admin, JsonBody(b): JsonBody<NewSpace>) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(st.control.create_space(&p, b).await?)))
}

/// A space with its usage, as the list shows it.
#[derive(Serialize)]
struct SpaceRow {
    #[serde(flatten)]
    space: Space,
    usage: Usage,
    public_web_access: &'static str,
}

async fn list_spaces(State(st): State<ApiState>, Admin(p): Admin) -> ApiResult<impl IntoResponse> {
    let mut spaces = Vec::new();
    for s in st.control.list_spaces(&p).await? {
        let (space, usage) = st.control.usage(&p, &s.id).await?;
        let (_, rules) = st.control.publication(&p, &s.id).await?;
        let public_web_access = if rules.is_some_and(|r| r.enabled) { "enabled" } else { "disabled" };
        spaces.push(SpaceRow {
            space,
            usage,
            public_web_access,
        });
    }
    Ok(Json(json!({"spaces": spaces})))
}

async fn show_space(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let (space, usage) = st.control.usage(&p, &id).await?;
    let keys = st.control.list_identities(&p, &space.id).await?;
    let (_, rules) = st.control.publication(&p, &space.id).await?;
    let public = public_view(&st, rules);
    let public_web_access = public.as_ref().map_or("disabled", |v| v.public_web_access);
    let cdn = st.metrics.cdn_stats(&space.id);
    let s3 = json!({"endpoint": st.endpoint, "bucket": space.bucket, "region": st.region, "path_style": true});
    Ok(Json(SpaceView {
        space,
        usage,
        cdn,
        keys,
        s3_api_access: "authenticated endpoint",
        s3,
        public_web_access,
        public,
    }))
}

fn public_json(st: &ApiState, space: &Space, rules: Option<PublicationRules>) -> serde_json::Value {
    let view = public_view(st, rules);
    json!({
        "space_id": space.id,
        "bucket": space.bucket,
        "public_web_access": view.as_ref().map_or("disabled", |v| v.public_web_access),
        "public": view,
    })
}

async fn show_public(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let (space, rules) = st.control.publication(&p, &id).await?;
    Ok(Json(public_json(&st, &space, rules)))
}

async fn enable_public(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<PublicationInput>,
) -> ApiResult<impl IntoResponse> {
    let (space, rules) = st.control.enable_publication(&p, &id, b).await?;
    // Cached responses carry the old rules' headers (Cache-Control, CORS): drop them.
    st.purge.purge_prefix(&space.id, "");
    Ok(Json(public_json(&st, &space, Some(rules))))
}

async fn disable_public(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let (space, rules) = st.control.disable_publication(&p, &id).await?;
    st.purge.purge_prefix(&space.id, "");
    Ok(Json(public_json(&st, &space, rules)))
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PurgeBody {
    key: Option<String>,
    prefix: Option<String>,
}

async fn purge(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<PurgeBody>,
) -> ApiResult<impl IntoResponse> {
    let (space, rules) = st.control.publication(&p, &id).await?;
    let (what, detail) = match (&b.key, &b.prefix) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "give key or prefix, not both",
            ));
        }
        (Some(k), None) => {
            st.purge.purge_key(&space.id, k).await;
            (json!({"key": k}), format!("key={k}"))
        }
        (None, prefix) => {
            let prefix = prefix.clone().unwrap_or_default();
            st.purge.purge_prefix(&space.id, &prefix);
            (json!({"prefix": prefix}), format!("prefix={prefix:?}"))
        }
    };
    st.control.audit_admin(&p, &space, "cdn.purged", Some(detail));
    if let (Some(url), Some(r)) = (st.purge_webhook.clone(), rules) {
        let mut event = json!({"event": "purge", "space_id": space.id, "public_name": r.public_name, "base_url": format!("{}/{}/", st.cdn_base, r.public_name)});
        if let (Some(obj), Some(w)) = (event.as_object_mut(), what.as_object()) {
            obj.extend(w.clone());
        }
        tokio::task::spawn_blocking(move || {
            let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(5)).build();
            if let Err(e) = agent.post(&url).send_json(event) {
                tracing::warn!("purge webhook failed: {e}");
            }
        });
    }
    Ok(Json(json!({"purged": what, "space_id": space.id})))
}

async fn disable_space(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.control.disable_space(&p, &id).await?))
}

async fn set_quota(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<QuotaBody>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.control.set_quota(&p, &id, b.quota_bytes).await?))
}

async fn usage(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let (s, u) = st.control.usage(&p, &id).await?;
    let cdn = st.metrics.cdn_stats(&s.id);
    Ok(Json(
        json!({"space_id": s.id, "bucket": s.bucket, "quota_bytes": s.quota_bytes, "usage": u, "cdn": cdn}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrafficQuery {
    /// How far back, minutes (default 60).
    minutes: Option<u32>,
}

async fn traffic(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    q: Result<Query<TrafficQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<impl IntoResponse> {
    let Query(q) = q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()))?;
    let minutes = q.minutes.unwrap_or(60);
    let samples = st.control.traffic(&p, &id, minutes).await?;
    Ok(Json(json!({"minutes": minutes, "samples": samples})))
}

pub(super) fn routes() -> Api {
    Api::new()
        .get("/api/v1/spaces", Op::new("List spaces"), list_spaces)
        .post(
            "/api/v1/spaces",
            Op::with_body("Create an Object Space", "NewSpace", "201"),
            create_space,
        )
        .get("/api/v1/spaces/{space}", Op::new("A space with usage and keys"), show_space)
        .post(
            "/api/v1/spaces/{space}/disable",
            Op::new("Disable a space; S3 requests fail from the next one"),
            disable_space,
        )
        .put(
            "/api/v1/spaces/{space}/quota",
            Op::with_body("Set or clear (null) the quota", "Quota", "200"),
            set_quota,
        )
        .get(
            "/api/v1/spaces/{space}/usage",
            Op::new("Bytes and objects stored, multipart bytes in progress, bytes of published package repositories"),
            usage,
        )
        .get(
            "/api/v1/spaces/{space}/public",
            Op::new("Public web access of the space and its rules"),
            show_public,
        )
        .put(
            "/api/v1/spaces/{space}/public",
            Op::with_body("Enable public web access (the CDN face) with these rules", "Publication", "200"),
            enable_public,
        )
        .delete(
            "/api/v1/spaces/{space}/public",
            Op::new("Disable public web access"),
            disable_public,
        )
        .post(
            "/api/v1/spaces/{space}/purge",
            Op::with_body(
                "Drop cached copies of one key or every key under a prefix, on every node",
                "Purge",
                "200",
            ),
            purge,
        )
        .get(
            "/api/v1/spaces/{space}/traffic",
            Op::new("Bytes in and out and CDN requests per minute, all nodes summed, oldest first").query(&[(
                "minutes",
                "integer",
                "how far back (default 60)",
            )]),
            traffic,
        )
}
