//! Spaces: creation, listing, quota, usage and traffic, public web access, purges and the S3
//! endpoint's CORS rules.
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::dto::{
    CorsBody, CorsState, OnOff, PublicState, PublicView, PurgeBody, Purged, QuotaBody, S3Access, SpaceList, SpaceRow, SpaceUsage,
    SpaceView, Traffic,
};
use super::error::{ApiError, ApiResult};
use super::extract::{Admin, JsonBody};
use super::routes::{Api, Op};
use super::state::ApiState;
use rustshare_control::NewSpace;
use rustshare_control::PublicationInput;
use rustshare_control::model::{PublicationRules, Space};

/// Where the CDN face serves a space's published objects.
pub(super) fn public_url(st: &ApiState, r: &PublicationRules) -> String {
    r.public_base_url
        .clone()
        .unwrap_or_else(|| format!("{}/{}/", st.cdn_base, r.public_name))
}

fn public_view(st: &ApiState, rules: Option<PublicationRules>) -> Option<PublicView> {
    rules.map(|r| PublicView {
        public_web_access: if r.enabled { OnOff::Enabled } else { OnOff::Disabled },
        url: public_url(st, &r),
        rules: r,
    })
}

async fn create_space(State(st): State<ApiState>, Admin(p): Admin, JsonBody(b): JsonBody<NewSpace>) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(st.control.create_space(&p, b).await?)))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SpacesQuery {
    /// Only this tenant's spaces (name or id).
    tenant: Option<String>,
    /// Only spaces of this purpose.
    purpose: Option<rustshare_control::model::Purpose>,
    /// Page size (default: every space).
    limit: Option<usize>,
    /// Skip this many.
    offset: Option<usize>,
}

async fn list_spaces(
    State(st): State<ApiState>,
    Admin(p): Admin,
    q: Result<axum::extract::Query<SpacesQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<impl IntoResponse> {
    let axum::extract::Query(q) = q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()))?;
    let mut all = st.control.list_spaces(&p).await?;
    if let Some(t) = &q.tenant {
        // A tenant the caller may not see matches nothing, as one that does not exist.
        let id = st
            .control
            .list_tenants(&p)
            .await?
            .into_iter()
            .find(|x| x.name == *t || x.id == *t)
            .map(|x| x.id);
        all.retain(|s| Some(&s.tenant_id) == id.as_ref());
    }
    if let Some(purpose) = q.purpose {
        all.retain(|s| s.purpose == purpose);
    }
    let total = all.len();
    let offset = q.offset.unwrap_or(0).min(total);
    let limit = q.limit.map_or(total, |l| l.clamp(1, 1000));
    let end = offset.saturating_add(limit).min(total);
    let next_offset = (end < total).then_some(end);
    let mut spaces = Vec::new();
    // Usage is read for the page only: a tenant with thousands of spaces lists in pages.
    for s in all.drain(offset..end) {
        let (space, usage) = st.control.usage(&p, &s.id).await?;
        let (_, rules) = st.control.publication(&p, &s.id).await?;
        let public_web_access = if rules.is_some_and(|r| r.enabled) {
            OnOff::Enabled
        } else {
            OnOff::Disabled
        };
        spaces.push(SpaceRow {
            space,
            usage,
            public_web_access,
        });
    }
    Ok(Json(SpaceList {
        spaces,
        total,
        next_offset,
    }))
}

async fn show_space(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let (space, usage) = st.control.usage(&p, &id).await?;
    let keys = st.control.list_identities(&p, &space.id).await?;
    let (_, rules) = st.control.publication(&p, &space.id).await?;
    let public = public_view(&st, rules);
    let public_web_access = public.as_ref().map_or(OnOff::Disabled, |v| v.public_web_access);
    let cdn = st.metrics.cdn_stats(&space.id);
    let s3 = S3Access {
        endpoint: st.endpoint.clone(),
        bucket: space.bucket.clone(),
        region: st.region.clone(),
        path_style: true,
    };
    Ok(Json(SpaceView {
        space,
        usage,
        cdn,
        keys,
        s3_api_access: "authenticated endpoint".into(),
        s3,
        public_web_access,
        public,
    }))
}

fn public_json(st: &ApiState, space: &Space, rules: Option<PublicationRules>) -> PublicState {
    let public = public_view(st, rules);
    PublicState {
        space_id: space.id.clone(),
        bucket: space.bucket.clone(),
        public_web_access: public.as_ref().map_or(OnOff::Disabled, |v| v.public_web_access),
        public,
    }
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

async fn purge(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<PurgeBody>,
) -> ApiResult<impl IntoResponse> {
    let (space, rules) = st.control.publication(&p, &id).await?;
    let (what, detail) = match (b.key, b.prefix) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "give key or prefix, not both",
            ));
        }
        (Some(k), None) => {
            st.purge.purge_key(&space.id, &k).await;
            let detail = format!("key={k}");
            (
                PurgeBody {
                    key: Some(k),
                    prefix: None,
                },
                detail,
            )
        }
        (None, prefix) => {
            let prefix = prefix.unwrap_or_default();
            st.purge.purge_prefix(&space.id, &prefix);
            let detail = format!("prefix={prefix:?}");
            (
                PurgeBody {
                    key: None,
                    prefix: Some(prefix),
                },
                detail,
            )
        }
    };
    st.control.audit_admin(&p, &space, "cdn.purged", Some(detail));
    if let (Some(url), Some(r)) = (st.purge_webhook.clone(), rules) {
        let mut event = json!({"event": "purge", "space_id": space.id, "public_name": r.public_name, "base_url": format!("{}/{}/", st.cdn_base, r.public_name)});
        if let (Some(obj), Ok(serde_json::Value::Object(w))) = (event.as_object_mut(), serde_json::to_value(&what)) {
            obj.extend(w);
        }
        tokio::task::spawn_blocking(move || {
            let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(5)).build();
            if let Err(e) = agent.post(&url).send_json(event) {
                tracing::warn!("purge webhook failed: {e}");
            }
        });
    }
    Ok(Json(Purged {
        purged: what,
        space_id: space.id,
    }))
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
    Ok(Json(SpaceUsage {
        space_id: s.id,
        bucket: s.bucket,
        quota_bytes: s.quota_bytes,
        usage: u,
        cdn,
    }))
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
    Ok(Json(Traffic { minutes, samples }))
}

fn cors_state(space: Space, rules: Option<Vec<rustshare_control::cors::CorsRule>>) -> CorsState {
    CorsState {
        space_id: space.id,
        bucket: space.bucket,
        rules,
    }
}

async fn show_cors(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let (space, rules) = st.control.cors(&p, &id).await?;
    Ok(Json(cors_state(space, rules)))
}

async fn set_cors(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<CorsBody>,
) -> ApiResult<impl IntoResponse> {
    let space = st.control.set_cors(&p, &id, Some(b.rules.clone())).await?;
    Ok(Json(cors_state(space, Some(b.rules))))
}

async fn remove_cors(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let space = st.control.set_cors(&p, &id, None).await?;
    Ok(Json(cors_state(space, None)))
}

pub(super) fn routes() -> Api {
    Api::new()
        .get(
            "/api/v1/spaces",
            Op::new("List spaces, filtered by tenant and purpose, in pages")
                .returns::<SpaceList>()
                .query(&[
                    ("tenant", "string", "only this tenant's spaces (name or id)"),
                    ("purpose", "string", "only spaces of this purpose"),
                    ("limit", "integer", "page size, 1 to 1000 (default: all)"),
                    ("offset", "integer", "skip this many"),
                ]),
            list_spaces,
        )
        .post(
            "/api/v1/spaces",
            Op::with_body::<NewSpace>("Create an Object Space", "201").returns::<Space>(),
            create_space,
        )
        .get(
            "/api/v1/spaces/{space}",
            Op::new("A space with usage and keys").returns::<SpaceView>(),
            show_space,
        )
        .post(
            "/api/v1/spaces/{space}/disable",
            Op::new("Disable a space; S3 requests fail from the next one").returns::<Space>(),
            disable_space,
        )
        .put(
            "/api/v1/spaces/{space}/quota",
            Op::with_body::<QuotaBody>("Set or clear (null) the quota", "200").returns::<Space>(),
            set_quota,
        )
        .get(
            "/api/v1/spaces/{space}/usage",
            Op::new("Bytes and objects stored, multipart bytes in progress, bytes of published package repositories")
                .returns::<SpaceUsage>(),
            usage,
        )
        .get(
            "/api/v1/spaces/{space}/public",
            Op::new("Public web access of the space and its rules").returns::<PublicState>(),
            show_public,
        )
        .put(
            "/api/v1/spaces/{space}/public",
            Op::with_body::<PublicationInput>("Enable public web access (the CDN face) with these rules", "200").returns::<PublicState>(),
            enable_public,
        )
        .delete(
            "/api/v1/spaces/{space}/public",
            Op::new("Disable public web access").returns::<PublicState>(),
            disable_public,
        )
        .get(
            "/api/v1/spaces/{space}/cors",
            Op::new("The S3 endpoint's CORS rules for the space's bucket").returns::<CorsState>(),
            show_cors,
        )
        .put(
            "/api/v1/spaces/{space}/cors",
            Op::with_body::<CorsBody>("Set the S3 endpoint's CORS rules (as PutBucketCors), first match wins", "200")
                .returns::<CorsState>(),
            set_cors,
        )
        .delete(
            "/api/v1/spaces/{space}/cors",
            Op::new("Remove the CORS rules: browsers may no longer call the S3 endpoint for this bucket").returns::<CorsState>(),
            remove_cors,
        )
        .post(
            "/api/v1/spaces/{space}/purge",
            Op::with_body::<PurgeBody>("Drop cached copies of one key or every key under a prefix, on every node", "200")
                .returns::<Purged>(),
            purge,
        )
        .get(
            "/api/v1/spaces/{space}/traffic",
            Op::new("Bytes in and out and CDN requests per minute, all nodes summed, oldest first")
                .returns::<Traffic>()
                .query(&[("minutes", "integer", "how far back (default 60)")]),
            traffic,
        )
}
