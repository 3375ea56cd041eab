//! The control REST API under `/api/v1`: JSON in and out, bearer-token auth, stable error codes.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use rustshare_control::model::PublicationRules;
use rustshare_control::model::{AdminPrincipal, AuditFilter, Identity, Space, Usage};
use rustshare_control::{Control, CreatedIdentity, NewIdentity, NewSpace, PublicationInput};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// Control service.
    pub control: Control,
    /// S3 endpoint shown in key output.
    pub endpoint: String,
    /// Region shown in key output.
    pub region: String,
    /// The CDN face, for purges.
    pub cdn: std::sync::Arc<crate::cdn::Cdn>,
    /// Metrics, for CDN usage figures.
    pub metrics: crate::metrics::Metrics,
    /// Base URL of the CDN face shown to users.
    pub cdn_base: String,
    /// The package publisher.
    pub publisher: rustshare_publisher::Publisher,
    /// Base URL of the packages face shown to users.
    pub packages_base: String,
    /// Lifetime of a console login.
    pub session_lifetime: std::time::Duration,
    /// Signs registry tokens.
    pub registry: std::sync::Arc<rustshare_registry_bridge::token::Issuer>,
    /// Where this node's master key comes from (rotation rewrites the file).
    pub master_key: crate::master_key::KeySource,
}

/// An API error: a status, a stable code and a message safe to show.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<rustshare_control::Error> for ApiError {
    fn from(e: rustshare_control::Error) -> Self {
        use rustshare_control::Error as E;
        match e {
            E::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
            E::Conflict(_) => Self::new(StatusCode::CONFLICT, "conflict", e.to_string()),
            E::Invalid(_) => Self::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string()),
            E::Unauthorized => Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid bearer token is required"),
            E::Forbidden(_) => Self::new(StatusCode::FORBIDDEN, "forbidden", e.to_string()),
            E::QuotaExceeded { .. } => Self::new(StatusCode::FORBIDDEN, "quota_exceeded", e.to_string()),
            other => {
                tracing::error!(error = %other, "control API internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": {"code": self.code, "message": self.message}}))).into_response()
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Runs database work off the async threads; a panicked task is an internal error.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!("control API task failed: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    })
}

/// The authenticated admin principal.
pub struct Admin(pub AdminPrincipal);

impl FromRequestParts<ApiState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        if let Some(auth) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "send Authorization: Bearer <token>"))?;
            return Ok(Admin(state.control.authenticate(token.trim())?));
        }
        // The console: a session cookie, and the session's CSRF token on state changes.
        if let Some(cookie) = crate::console::session_cookie(&parts.headers) {
            return Ok(Admin(crate::console::authenticate(parts, &state.control, &cookie)?.1));
        }
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <token>",
        ))
    }
}

/// JSON body extractor whose rejection is our error shape.
pub struct Body<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text())),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameBody {
    name: String,
}

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

/// The key block shown once.
#[derive(Serialize)]
struct KeyBlock {
    identity: Identity,
    access_key_id: String,
    secret_access_key: String,
    endpoint: String,
    bucket: String,
    prefix: String,
    region: String,
    path_style: bool,
    /// Ready-to-paste client commands, shown by the CLI and the console alike.
    commands: ClientCommands,
}

/// Upload commands for the three clients people use with a new key.
#[derive(Serialize)]
struct ClientCommands {
    aws: String,
    s3cmd: String,
    rclone: String,
}

impl ClientCommands {
    fn new(endpoint: &str, region: &str, bucket: &str, prefix: &str, ak: &str, sk: &str) -> Self {
        let host = endpoint.split("://").nth(1).unwrap_or(endpoint);
        let no_ssl = if endpoint.starts_with("https") { "" } else { " --no-ssl" };
        Self {
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
}

fn key_block(st: &ApiState, c: CreatedIdentity) -> KeyBlock {
    let commands = ClientCommands::new(
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

async fn whoami(Admin(p): Admin) -> Json<AdminPrincipal> {
    Json(p)
}

async fn create_tenant(State(st): State<ApiState>, Admin(p): Admin, Body(b): Body<NameBody>) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(st.control.create_tenant(&p, &b.name)?)))
}

async fn list_tenants(State(st): State<ApiState>, Admin(p): Admin) -> ApiResult<impl IntoResponse> {
    Ok(Json(json!({"tenants": st.control.list_tenants(&p)?})))
}

async fn create_tenant_token(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(t): Path<String>,
    Body(b): Body<NameBody>,
) -> ApiResult<impl IntoResponse> {
    let token = st.control.create_tenant_token(&p, &t, &b.name)?;
    Ok((StatusCode::CREATED, Json(json!({"token": token, "name": b.name, "tenant": t}))))
}

async fn create_space(State(st): State<ApiState>, Admin(p): Admin, Body(b): Body<NewSpace>) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(st.control.create_space(&p, b)?)))
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
    let spaces = st
        .control
        .list_spaces(&p)?
        .into_iter()
        .map(|s| {
            let (space, usage) = st.control.usage(&p, &s.id)?;
            let (_, rules) = st.control.publication(&p, &s.id)?;
            let public_web_access = if rules.is_some_and(|r| r.enabled) { "enabled" } else { "disabled" };
            Ok(SpaceRow {
                space,
                usage,
                public_web_access,
            })
        })
        .collect::<Result<Vec<_>, rustshare_control::Error>>()?;
    Ok(Json(json!({"spaces": spaces})))
}

async fn show_space(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let (space, usage) = st.control.usage(&p, &id)?;
    let keys = st.control.list_identities(&p, &space.id)?;
    let (_, rules) = st.control.publication(&p, &space.id)?;
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
    let (space, rules) = st.control.publication(&p, &id)?;
    Ok(Json(public_json(&st, &space, rules)))
}

async fn enable_public(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    Body(b): Body<PublicationInput>,
) -> ApiResult<impl IntoResponse> {
    let (space, rules) = st.control.enable_publication(&p, &id, b)?;
    // Cached responses carry the old rules' headers (Cache-Control, CORS): drop them.
    st.cdn.cache().invalidate_prefix(&space.id, "");
    Ok(Json(public_json(&st, &space, Some(rules))))
}

async fn disable_public(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let (space, rules) = st.control.disable_publication(&p, &id)?;
    st.cdn.cache().invalidate_prefix(&space.id, "");
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
    Body(b): Body<PurgeBody>,
) -> ApiResult<impl IntoResponse> {
    let (space, rules) = st.control.publication(&p, &id)?;
    let (what, detail) = match (&b.key, &b.prefix) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "give key or prefix, not both",
            ));
        }
        (Some(k), None) => {
            st.cdn.cache().invalidate(&space.id, k).await;
            (json!({"key": k}), format!("key={k}"))
        }
        (None, prefix) => {
            let prefix = prefix.clone().unwrap_or_default();
            st.cdn.cache().invalidate_prefix(&space.id, &prefix);
            (json!({"prefix": prefix}), format!("prefix={prefix:?}"))
        }
    };
    st.control.audit_admin(&p, &space, "cdn.purged", Some(detail));
    if let (Some(url), Some(r)) = (st.cdn.config().purge_webhook.clone(), rules) {
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
    Ok(Json(st.control.disable_space(&p, &id)?))
}

async fn set_quota(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    Body(b): Body<QuotaBody>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.control.set_quota(&p, &id, b.quota_bytes)?))
}

async fn usage(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let (s, u) = st.control.usage(&p, &id)?;
    let cdn = st.metrics.cdn_stats(&s.id);
    Ok(Json(
        json!({"space_id": s.id, "bucket": s.bucket, "quota_bytes": s.quota_bytes, "usage": u, "cdn": cdn}),
    ))
}

async fn create_key(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(id): Path<String>,
    Body(b): Body<NewIdentity>,
) -> ApiResult<impl IntoResponse> {
    let c = st.control.create_identity(&p, &id, b)?;
    Ok((StatusCode::CREATED, Json(key_block(&st, c))))
}

async fn list_keys(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(json!({"keys": st.control.list_identities(&p, &id)?})))
}

async fn revoke_key(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.control.revoke_identity(&p, &id)?))
}

async fn rotate_key(State(st): State<ApiState>, Admin(p): Admin, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let c = st.control.rotate_identity(&p, &id)?;
    Ok(Json(key_block(&st, c)))
}

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
    let control = st.control.clone();
    let events = blocking(move || control.audit_events(&p, f)).await??;
    // A full page may have more behind it; its last id is where the next page starts.
    let next_before = (events.len() == limit).then(|| events.last().map(|e| e.id)).flatten();
    Ok(Json(json!({"events": events, "next_before": next_before})))
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
    let control = st.control.clone();
    let samples = blocking(move || control.traffic(&p, &id, minutes)).await??;
    Ok(Json(json!({"minutes": minutes, "samples": samples})))
}

async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::document())
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API route; see /api/v1/openapi.json")
}

/// The API routes.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/tenants", post(create_tenant).get(list_tenants))
        .route("/api/v1/tenants/{tenant}/tokens", post(create_tenant_token))
        .route("/api/v1/spaces", post(create_space).get(list_spaces))
        .route("/api/v1/spaces/{space}", get(show_space))
        .route("/api/v1/spaces/{space}/disable", post(disable_space))
        .route("/api/v1/spaces/{space}/quota", put(set_quota))
        .route("/api/v1/spaces/{space}/usage", get(usage))
        .route("/api/v1/spaces/{space}/keys", post(create_key).get(list_keys))
        .route(
            "/api/v1/spaces/{space}/public",
            get(show_public).put(enable_public).delete(disable_public),
        )
        .route("/api/v1/spaces/{space}/purge", post(purge))
        .route("/api/v1/keys/{key}/revoke", post(revoke_key))
        .route("/api/v1/keys/{key}/rotate", post(rotate_key))
        .route("/api/v1/spaces/{space}/traffic", get(traffic))
        .route("/api/v1/audit", get(audit))
        .fallback(not_found)
        .merge(crate::repos_api::routes())
        .merge(crate::console::routes())
        .merge(crate::registry_api::routes())
        .merge(crate::admin_api::routes())
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tower::ServiceExt;

    fn app() -> (Router, String) {
        let control = Control::new(
            Arc::new(rustshare_control::db::SqliteRepo::in_memory().expect("db")),
            rustshare_control::seal::MasterKey::generate(),
        );
        let tok = control.bootstrap_operator(None).expect("bootstrap").expect("token");
        let metrics = crate::metrics::Metrics::new();
        let dir = std::env::temp_dir().join(format!("rs-api-test-{}", uuid::Uuid::new_v4().simple()));
        let store = Arc::new(rustshare_store::FsStore::open_sync(dir).expect("store"));
        let cdn =
            Arc::new(crate::cdn::Cdn::new(store.clone(), control.clone(), metrics.clone(), crate::cdn::CdnConfig::default()).expect("cdn"));
        let publisher = rustshare_publisher::Publisher::new(store, control.clone());
        let st = ApiState {
            publisher,
            packages_base: "http://packages.localhost:8080".into(),
            control,
            endpoint: "http://127.0.0.1:8080".into(),
            region: "us-east-1".into(),
            cdn,
            metrics,
            cdn_base: "http://cdn.localhost:8080".into(),
            session_lifetime: std::time::Duration::from_secs(60),
            master_key: crate::master_key::KeySource::Env,
            registry: {
                let (k, c) = rustshare_registry_bridge::token::generate_signing_key().expect("key");
                Arc::new(rustshare_registry_bridge::token::Issuer::new(&k, &c).expect("issuer"))
            },
        };
        (router(st), tok)
    }

    async fn call(
        r: &Router,
        method: &str,
        uri: &str,
        tok: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let mut b = axum::http::Request::builder().method(method).uri(uri);
        if let Some(t) = tok {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(j) => {
                let text = j.to_string();
                b.header("content-type", "application/json")
                    .header("content-length", text.len())
                    .body(axum::body::Body::from(text))
            }
            None => b.body(axum::body::Body::empty()),
        }
        .expect("request");
        let resp = r.clone().oneshot(req).await.expect("response");
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    #[tokio::test]
    async fn flow_and_error_codes() {
        let (r, tok) = app();
        let (s, e) = call(&r, "GET", "/api/v1/spaces", None, None).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
        let (s, _) = call(&r, "POST", "/api/v1/tenants", Some(&tok), Some(json!({"name": "acme"}))).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, e) = call(&r, "POST", "/api/v1/tenants", Some(&tok), Some(json!({"name": "acme"}))).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
        let (s, sp) = call(
            &r,
            "POST",
            "/api/v1/spaces",
            Some(&tok),
            Some(json!({"tenant": "acme", "name": "artifacts", "purpose": "artifacts"})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(sp["bucket"], "rs-acme-artifacts");
        let (s, e) = call(
            &r,
            "POST",
            "/api/v1/spaces",
            Some(&tok),
            Some(json!({"tenant": "acme", "name": "x", "purpose": "bogus"})),
        )
        .await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
        let (s, k) = call(
            &r,
            "POST",
            "/api/v1/spaces/rs-acme-artifacts/keys",
            Some(&tok),
            Some(json!({"name": "ci", "mode": "read-write", "prefix": "releases/"})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        for f in ["access_key_id", "secret_access_key", "endpoint", "bucket", "prefix", "region"] {
            assert!(k[f].is_string(), "{f} missing in {k}");
        }
        let (s, list) = call(&r, "GET", "/api/v1/spaces/rs-acme-artifacts/keys", Some(&tok), None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            !list.to_string().contains(k["secret_access_key"].as_str().unwrap_or("-")),
            "secret listed"
        );
        let (s, _) = call(&r, "GET", "/api/v1/nope", Some(&tok), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, doc) = call(&r, "GET", "/api/v1/openapi.json", None, None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(doc["paths"]["/api/v1/spaces"].is_object());
        let (s, e) = call(&r, "GET", "/api/v1/audit?since=yesterday", Some(&tok), None).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    }

    /// Every route the API's routers declare, read from their sources: (method, path).
    fn declared_routes() -> Vec<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut out = Vec::new();
        for f in ["api.rs", "repos_api.rs", "admin_api.rs", "registry_api.rs", "console.rs"] {
            let src = std::fs::read_to_string(dir.join(f)).expect("router source");
            let code = src.split("#[cfg(test)]").next().unwrap_or_default();
            for (i, _) in code.match_indices(".route(") {
                let rest = &code[i + 7..];
                let Some(q) = rest.find('"') else { continue };
                let Some(end) = rest[q + 1..].find('"') else { continue };
                let path = rest[q + 1..q + 1 + end].to_owned();
                let tail = &rest[q + 1 + end..];
                let stop = tail.find(".route(").unwrap_or(tail.len());
                for m in ["get", "post", "put", "patch", "delete"] {
                    let seg = &tail[..stop];
                    let hit = seg
                        .match_indices(&format!("{m}("))
                        .any(|(j, _)| j == 0 || !seg.as_bytes()[j - 1].is_ascii_alphanumeric() && seg.as_bytes()[j - 1] != b'_');
                    if hit {
                        out.push((m.to_uppercase(), path.clone()));
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Who may call a route.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Who {
        /// No admin token: authenticates by its own means (login, registry token, events).
        Public,
        /// The operator only.
        Operator,
        /// Any admin; answers are limited to the caller's tenant.
        AnyAdmin,
        /// Any admin, on a resource named in the path that must be the caller's tenant's.
        Owner,
    }

    const ROUTES: &[(&str, &str, Who)] = &[
        ("GET", "/api/v1/openapi.json", Who::Public),
        ("POST", "/api/v1/session", Who::Public),
        ("GET", "/api/v1/session", Who::Public),
        ("DELETE", "/api/v1/session", Who::Public),
        ("GET", "/registry/token", Who::Public),
        ("POST", "/registry/events/{ns}", Who::Public),
        ("GET", "/api/v1/whoami", Who::AnyAdmin),
        ("GET", "/api/v1/tenants", Who::AnyAdmin),
        ("POST", "/api/v1/tenants", Who::Operator),
        ("POST", "/api/v1/tenants/{tenant}/tokens", Who::Operator),
        ("GET", "/api/v1/spaces", Who::AnyAdmin),
        ("POST", "/api/v1/spaces", Who::Operator),
        ("GET", "/api/v1/spaces/{space}", Who::Owner),
        ("POST", "/api/v1/spaces/{space}/disable", Who::Owner),
        ("PUT", "/api/v1/spaces/{space}/quota", Who::Owner),
        ("GET", "/api/v1/spaces/{space}/usage", Who::Owner),
        ("GET", "/api/v1/spaces/{space}/keys", Who::Owner),
        ("POST", "/api/v1/spaces/{space}/keys", Who::Owner),
        ("GET", "/api/v1/spaces/{space}/public", Who::Owner),
        ("PUT", "/api/v1/spaces/{space}/public", Who::Owner),
        ("DELETE", "/api/v1/spaces/{space}/public", Who::Owner),
        ("POST", "/api/v1/spaces/{space}/purge", Who::Owner),
        ("GET", "/api/v1/spaces/{space}/traffic", Who::Owner),
        ("POST", "/api/v1/keys/{key}/revoke", Who::Owner),
        ("POST", "/api/v1/keys/{key}/rotate", Who::Owner),
        ("GET", "/api/v1/audit", Who::AnyAdmin),
        ("GET", "/api/v1/admin/master-key", Who::Operator),
        ("POST", "/api/v1/admin/master-key/rotate", Who::Operator),
        ("POST", "/api/v1/admin/master-key/retire", Who::Operator),
        ("POST", "/api/v1/admin/reconcile", Who::Operator),
        ("GET", "/api/v1/repos", Who::AnyAdmin),
        ("POST", "/api/v1/repos", Who::AnyAdmin),
        ("GET", "/api/v1/repos/{repo}", Who::Owner),
        ("PATCH", "/api/v1/repos/{repo}", Who::Owner),
        ("POST", "/api/v1/repos/{repo}/publish", Who::Owner),
        ("PUT", "/api/v1/repos/{repo}/incoming/{dist}/{component}/{file}", Who::Owner),
        ("GET", "/api/v1/repos/{repo}/snapshots", Who::Owner),
        ("POST", "/api/v1/repos/{repo}/rollback", Who::Owner),
        ("GET", "/api/v1/registry/namespaces", Who::AnyAdmin),
        ("POST", "/api/v1/registry/namespaces", Who::AnyAdmin),
        ("GET", "/api/v1/registry/namespaces/{ns}", Who::Owner),
        ("PATCH", "/api/v1/registry/namespaces/{ns}", Who::Owner),
        ("GET", "/api/v1/registry/namespaces/{ns}/robots", Who::Owner),
        ("POST", "/api/v1/registry/namespaces/{ns}/robots", Who::Owner),
        ("POST", "/api/v1/registry/namespaces/{ns}/robots/{robot}/revoke", Who::Owner),
        ("POST", "/api/v1/registry/namespaces/{ns}/config", Who::Owner),
        ("GET", "/api/v1/registry/namespaces/{ns}/token", Who::Owner),
    ];

    /// Default-deny for the control API, walked over every route the routers declare: the
    /// table must name each one (a new route without an entry fails here), no route but the
    /// public ones answers without a token, a tenant admin gets 403 on operator routes, and
    /// another tenant's space, key, repository or namespace is a 403 or 404 for it, never a
    /// success.
    #[tokio::test]
    async fn every_route_against_operator_own_tenant_other_tenant_and_no_token() {
        let declared = declared_routes();
        assert!(declared.len() >= 40, "parsed only {} routes", declared.len());
        for (m, p) in &declared {
            assert!(
                ROUTES.iter().any(|(rm, rp, _)| rm == m && rp == p),
                "route {m} {p} has no entry in ROUTES"
            );
        }
        for (m, p, _) in ROUTES {
            assert!(
                declared.iter().any(|(dm, dp)| dm == m && dp == p),
                "ROUTES names {m} {p}, which no router declares"
            );
        }
        let (r, op) = app();
        let ok = |s: StatusCode| s.is_success();
        for t in ["acme", "globex"] {
            assert!(ok(call(&r, "POST", "/api/v1/tenants", Some(&op), Some(json!({"name": t}))).await.0));
            let (s, _) = call(
                &r,
                "POST",
                "/api/v1/spaces",
                Some(&op),
                Some(json!({"tenant": t, "name": "debs", "purpose": "packages", "quota_bytes": 1000})),
            )
            .await;
            assert!(ok(s), "{s}");
        }
        let (_, k) = call(
            &r,
            "POST",
            "/api/v1/spaces/rs-globex-debs/keys",
            Some(&op),
            Some(json!({"name": "ci", "mode": "read-only", "prefix": ""})),
        )
        .await;
        let key = k["access_key_id"].as_str().expect("key").to_owned();
        let (s, body) = call(
            &r,
            "POST",
            "/api/v1/repos",
            Some(&op),
            Some(json!({"name": "gtools", "space": "rs-globex-debs"})),
        )
        .await;
        assert!(ok(s), "{s} {body}");
        let (s, body) = call(
            &r,
            "POST",
            "/api/v1/registry/namespaces",
            Some(&op),
            Some(json!({"name": "globex-images", "tenant": "globex"})),
        )
        .await;
        assert!(ok(s), "{s} {body}");
        let (s, body) = call(
            &r,
            "POST",
            "/api/v1/registry/namespaces/globex-images/robots",
            Some(&op),
            Some(json!({"name": "ci", "access": "pull"})),
        )
        .await;
        assert!(ok(s), "{s} {body}");
        let (_, t) = call(&r, "POST", "/api/v1/tenants/acme/tokens", Some(&op), Some(json!({"name": "admin"}))).await;
        let acme = t["token"].as_str().expect("tenant token").to_owned();
        let other = |p: &str| {
            p.replace("{space}", "rs-globex-debs")
                .replace("{key}", &key)
                .replace("{repo}", "gtools")
                .replace("{ns}", "globex-images")
                .replace("{robot}", "ci")
                .replace("{tenant}", "globex")
                .replace("{dist}", "stable")
                .replace("{component}", "main")
                .replace("{file}", "x.deb")
        };
        for (m, p, who) in ROUTES {
            let mut uri = other(p);
            if p.ends_with("/{ns}/token") {
                uri.push_str("?scope=repository:globex-images/app:pull");
            }
            // A valid body, so that what answers is the authorization, not the body's shape.
            let body = match (*m, *p) {
                ("GET" | "DELETE", _) => None,
                (_, "/api/v1/tenants") => Some(json!({"name": "evil"})),
                (_, "/api/v1/tenants/{tenant}/tokens") => Some(json!({"name": "evil"})),
                (_, "/api/v1/spaces") => Some(json!({"tenant": "globex", "name": "evil", "purpose": "artifacts"})),
                (_, "/api/v1/spaces/{space}/quota") => Some(json!({"quota_bytes": 5})),
                (_, "/api/v1/spaces/{space}/keys") => Some(json!({"name": "evil", "mode": "read-only", "prefix": ""})),
                (_, "/api/v1/spaces/{space}/public") => Some(json!({"prefixes": ["a/"]})),
                (_, "/api/v1/spaces/{space}/purge") => Some(json!({"prefix": ""})),
                (_, "/api/v1/repos") => Some(json!({"name": "evilrepo", "space": "rs-globex-debs"})),
                (_, "/api/v1/repos/{repo}/rollback") => Some(json!({"snapshot": "1"})),
                (_, "/api/v1/registry/namespaces") => Some(json!({"name": "globex-evil", "tenant": "globex"})),
                (_, "/api/v1/registry/namespaces/{ns}/robots") => Some(json!({"name": "evil", "access": "push"})),
                (_, "/api/v1/registry/namespaces/{ns}/config") => Some(json!({"root_cert_bundle": "/etc/x.pem"})),
                (_, "/api/v1/session") => Some(json!({"token": "rsat_not_a_real_token"})),
                _ => Some(json!({})),
            };
            if *who != Who::Public {
                for tok in [None, Some("rsat_not_a_real_token")] {
                    let (s, _) = call(&r, m, &uri, tok, body.clone()).await;
                    assert_eq!(s, StatusCode::UNAUTHORIZED, "{m} {p} with token {tok:?}");
                }
            }
            let (s, b) = call(&r, m, &uri, Some(&acme), body.clone()).await;
            match who {
                Who::Operator => assert_eq!(s, StatusCode::FORBIDDEN, "{m} {p}: a tenant admin got {s} {b}"),
                Who::Owner => assert!(
                    s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
                    "{m} {p}: a tenant admin reached another tenant's resource: {s} {b}"
                ),
                // These two name the other tenant in their body instead of their path.
                Who::AnyAdmin if *m == "POST" => assert!(
                    s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
                    "{m} {p}: a tenant admin created something in another tenant: {s} {b}"
                ),
                Who::AnyAdmin => assert!(ok(s), "{m} {p}: {s} {b}"),
                Who::Public => assert!(s != StatusCode::INTERNAL_SERVER_ERROR && !ok(s) || *m == "GET", "{m} {p}: {s} {b}"),
            }
        }
        // What acme may list holds nothing of globex's.
        for p in [
            "/api/v1/spaces",
            "/api/v1/repos",
            "/api/v1/audit",
            "/api/v1/tenants",
            "/api/v1/registry/namespaces",
        ] {
            let (s, b) = call(&r, "GET", p, Some(&acme), None).await;
            assert!(ok(s), "{p}: {s}");
            assert!(!b.to_string().contains("globex"), "{p} shows another tenant: {b}");
        }
        // The operator reaches globex's resources (the table is not vacuous).
        let (s, _) = call(&r, "GET", "/api/v1/spaces/rs-globex-debs", Some(&op), None).await;
        assert!(ok(s));
    }
}
