//! The registry bridge over HTTP: `/api/v1/registry/...` for admins, the Docker registry
//! token endpoint `/registry/token`, and `/registry/events/<namespace>` for Distribution's
//! notifications. The decisions are `rustshare-registry-bridge`'s; this maps HTTP to them.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rustshare_registry_bridge::scope::{self, Caller, Scope};
use serde::Deserialize;
use serde_json::json;

use super::dto::{
    NamespaceChange, NamespaceList, NamespaceReply, NamespaceView, NewNamespace, NewRobot, RegistryConfigBody, RegistryConfigReply,
    RobotCreated, RobotList, RobotReply,
};
use super::error::{ApiError, ApiResult};
use super::extract::{Admin, JsonBody};
use super::routes::{Api, Op, Sec};
use super::state::ApiState;

impl From<rustshare_registry_bridge::Error> for ApiError {
    fn from(e: rustshare_registry_bridge::Error) -> Self {
        match e {
            rustshare_registry_bridge::Error::Invalid(m) => Self::new(StatusCode::BAD_REQUEST, "invalid_request", m),
            rustshare_registry_bridge::Error::Signing(m) => {
                tracing::error!("registry token signing: {m}");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

async fn create(State(st): State<ApiState>, Admin(p): Admin, JsonBody(b): JsonBody<NewNamespace>) -> ApiResult<impl IntoResponse> {
    let ns = st.control.create_namespace(&p, b.tenant.as_deref(), &b.name, b.quota_bytes).await?;
    Ok((StatusCode::CREATED, Json(NamespaceReply { namespace: ns })))
}

async fn list(State(st): State<ApiState>, Admin(p): Admin) -> ApiResult<impl IntoResponse> {
    Ok(Json(NamespaceList {
        namespaces: st.control.list_namespaces(&p).await?,
    }))
}

async fn show(State(st): State<ApiState>, Admin(p): Admin, Path(name): Path<String>) -> ApiResult<impl IntoResponse> {
    let ns = st.control.namespace(&p, &name).await?;
    let robots = st.control.list_robots(&p, &name).await?;
    let (space, usage) = st.control.usage(&p, &ns.space_id).await?;
    Ok(Json(NamespaceView {
        namespace: ns,
        robots,
        bucket: space.bucket,
        usage,
        quota_bytes: space.quota_bytes,
    }))
}

async fn update(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<NamespaceChange>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(NamespaceReply {
        namespace: st.control.update_namespace(&p, &name, b.public, b.retention, b.upstream).await?,
    }))
}

async fn create_robot(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<NewRobot>,
) -> ApiResult<impl IntoResponse> {
    let (robot, secret) = st.control.create_robot(&p, &name, &b.name, b.access).await?;
    let mut r = (
        StatusCode::CREATED,
        Json(RobotCreated {
            username: robot.username.clone(),
            secret,
            robot,
        }),
    )
        .into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

async fn list_robots(State(st): State<ApiState>, Admin(p): Admin, Path(name): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(RobotList {
        robots: st.control.list_robots(&p, &name).await?,
    }))
}

async fn revoke_robot(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path((name, robot)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(RobotReply {
        robot: st.control.revoke_robot(&p, &name, &robot).await?,
    }))
}

/// Distribution's config, its environment (the storage secret) and the token certificate.
async fn config(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<RegistryConfigBody>,
) -> ApiResult<Response> {
    let c = &st.control;
    let ns = c.namespace(&p, &name).await?;
    let space = c.space(&p, &ns.space_id).await?;
    let (ident, secret) = c.namespace_storage_credentials(&p, &name).await?;
    let events = c.namespace_events_secret(&p, &name).await?;
    let settings = rustshare_registry_bridge::config::Settings {
        listen: b.listen.unwrap_or_else(|| "127.0.0.1:5000".into()),
        s3_endpoint: st.endpoint.clone(),
        region: st.region.clone(),
        bucket: space.bucket,
        realm: format!("{}/registry/token", st.endpoint),
        root_cert_bundle: b.root_cert_bundle,
        events_url: format!("{}/registry/events/{}", st.endpoint, ns.name),
        events_secret: events,
        http_secret: uuid::Uuid::new_v4().simple().to_string(),
    };
    let mut r = Json(RegistryConfigReply {
        config: rustshare_registry_bridge::config::render(&settings),
        environment: rustshare_registry_bridge::config::environment(&ident.access_key_id, &secret),
        certificate: st.registry.certificate().to_owned(),
    })
    .into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// Distribution expects its own error shape from the token endpoint.
fn token_error(status: StatusCode, message: &str) -> Response {
    let code = match status {
        StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
        StatusCode::FORBIDDEN => "DENIED",
        StatusCode::BAD_REQUEST => "INVALID_REQUEST",
        _ => "UNKNOWN",
    };
    let mut r = (
        status,
        Json(json!({"errors": [{"code": code, "message": message}], "details": message})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"RustShare registry\""),
        );
    }
    r
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(v.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

/// `GET /registry/token?service=...&scope=...[&scope=...]` (Docker registry token spec).
async fn token(State(st): State<ApiState>, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let mut service = None;
    let mut scopes = Vec::new();
    for (k, v) in crate::query::pairs(uri.query().unwrap_or("")) {
        match k.as_str() {
            "service" => service = Some(v),
            "scope" => scopes.extend(v.split(' ').filter(|s| !s.is_empty()).map(str::to_owned)),
            _ => {}
        }
    }
    if service.as_deref().is_some_and(|s| s != rustshare_registry_bridge::SERVICE) {
        return token_error(StatusCode::BAD_REQUEST, "unknown service");
    }
    let parsed: Result<Vec<Scope>, _> = scopes.iter().map(|s| Scope::parse(s)).collect();
    let Ok(parsed) = parsed else {
        return token_error(StatusCode::BAD_REQUEST, "malformed scope");
    };
    let c = &st.control;
    let auth = basic_auth(&headers);
    let had_auth = headers.contains_key(header::AUTHORIZATION);
    let looked = async {
        let who = match &auth {
            Some((u, pw)) => c.authenticate_robot(u, pw).await?,
            None => None,
        };
        let mut namespaces = Vec::new();
        let mut full = None;
        for s in &parsed {
            let ns = match s.namespace() {
                Some(n) => c.namespace_for_token(n).await?,
                None => None,
            };
            if let Some(ns) = &ns
                && s.actions.iter().any(|a| a == "push")
                && let Some((used, quota)) = c.namespace_full(ns).await?
            {
                full = Some((ns.name.clone(), used, quota));
            }
            namespaces.push(ns);
        }
        Ok::<_, rustshare_control::Error>((who, parsed, namespaces, full))
    }
    .await;
    let Ok((who, parsed, namespaces, full)) = looked else {
        return token_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
    };
    // Wrong or revoked credentials are refused outright, never downgraded to anonymous.
    if had_auth && who.is_none() {
        return token_error(StatusCode::UNAUTHORIZED, "invalid or revoked robot credentials");
    }
    // Distribution cannot tell a client why its storage refused a write, so a full namespace
    // is refused here, where the message reaches the client. 401, not 403: containers/image
    // (skopeo, podman) and the docker CLI print the token server's message only for 401.
    if let (Some((name, used, quota)), Some(_)) = (&full, &who) {
        return token_error(
            StatusCode::UNAUTHORIZED,
            &format!(
                "namespace {name} is over its quota ({used} of {quota} bytes used): delete tags (rustshare registry retention) or raise the quota"
            ),
        );
    }
    let (caller, subject) = match &who {
        Some((r, ns)) => (
            Caller::Robot {
                namespace: ns.name.clone(),
                access: r.access,
            },
            r.username.clone(),
        ),
        None => (Caller::Anonymous, "anonymous".to_owned()),
    };
    let access: Vec<_> = parsed
        .iter()
        .zip(&namespaces)
        .map(|(s, ns)| scope::grant(&caller, s, ns.as_ref()))
        .collect();
    let issued = match st.registry.issue(&subject, &access) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("registry token: {e}");
            return token_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    for (a, ns) in access.iter().zip(&namespaces) {
        if let Some(ns) = ns {
            let status = if a.actions.is_empty() { "denied" } else { "ok" };
            st.control.audit_registry(
                ns,
                &subject,
                "registry.token",
                status,
                Some(format!(
                    "scope={}:{} granted={} jti={}",
                    a.kind,
                    a.name,
                    a.actions.join(","),
                    issued.jti
                )),
            );
        }
    }
    let mut r = Json(issued).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[derive(Deserialize)]
struct Envelope {
    events: Vec<Event>,
}

#[derive(Deserialize)]
struct Event {
    action: String,
    #[serde(default)]
    target: Target,
    #[serde(default)]
    actor: Actor,
    #[serde(default)]
    request: Request,
}

#[derive(Deserialize, Default)]
struct Target {
    #[serde(default)]
    repository: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    size: u64,
}

#[derive(Deserialize, Default)]
struct Actor {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize, Default)]
struct Request {
    #[serde(default)]
    addr: String,
    #[serde(default)]
    useragent: String,
}

/// Distribution's notifications: each push, pull and delete becomes an audit event.
async fn events(
    State(st): State<ApiState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    let ns = st.control.check_events_secret(&name, &given).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown namespace or wrong notification secret",
        )
    })?;
    let env: Envelope = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("not a notification envelope: {e}"),
        )
    })?;
    for e in env.events {
        // Events for another namespace's repositories cannot come from this namespace's registry.
        if !e.target.repository.starts_with(&format!("{}/", ns.name)) {
            continue;
        }
        let actor = if e.actor.name.is_empty() {
            "anonymous"
        } else {
            e.actor.name.as_str()
        };
        st.control.audit(rustshare_control::model::NewAuditEvent {
            tenant_id: Some(ns.tenant_id.clone()),
            object_space_id: Some(ns.space_id.clone()),
            actor: actor.to_owned(),
            kind: "registry".into(),
            operation: format!("registry.{}", e.action),
            object_key: Some(format!(
                "{}{}{}",
                e.target.repository,
                if e.target.tag.is_empty() { "@" } else { ":" },
                if e.target.tag.is_empty() { &e.target.digest } else { &e.target.tag }
            )),
            source_ip: Some(
                e.request
                    .addr
                    .rsplit_once(':')
                    .map_or(e.request.addr.clone(), |(h, _)| h.to_owned()),
            )
            .filter(|s| !s.is_empty()),
            user_agent: Some(e.request.useragent).filter(|s| !s.is_empty()),
            status: "ok".into(),
            bytes: e.target.size,
            detail: Some(format!("digest={}", e.target.digest)),
            ..Default::default()
        });
    }
    Ok(StatusCode::OK)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenForBridge {
    scope: String,
}

/// A token for the bridge's own governance calls (retention), for operators and the tenant.
async fn bridge_token(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(name): Path<String>,
    Query(q): Query<TokenForBridge>,
) -> ApiResult<impl IntoResponse> {
    let ns = st.control.namespace(&p, &name).await?;
    let s = Scope::parse(&q.scope)?;
    let caller = Caller::Bridge {
        namespace: ns.name.clone(),
    };
    let granted = scope::grant(&caller, &s, (s.namespace() == Some(ns.name.as_str())).then_some(&ns));
    let issued = st.registry.issue(&format!("rustshare:{}", p.name), &[granted])?;
    st.control.audit_registry(
        &ns,
        &p.name,
        "registry.token",
        "ok",
        Some(format!("scope={} jti={}", q.scope, issued.jti)),
    );
    Ok(Json(issued))
}

/// The registry routes: namespaces and robots, the token endpoint, notifications.
pub(super) fn routes() -> Api {
    Api::new()
        .get(
            "/api/v1/registry/namespaces",
            Op::new("List registry namespaces").returns::<NamespaceList>(),
            list,
        )
        .post(
            "/api/v1/registry/namespaces",
            Op::with_body::<NewNamespace>("Create a registry namespace (a registry space and its storage identity)", "201")
                .returns::<NamespaceReply>(),
            create,
        )
        .get(
            "/api/v1/registry/namespaces/{ns}",
            Op::new("A namespace, its robots and usage").returns::<NamespaceView>(),
            show,
        )
        .patch(
            "/api/v1/registry/namespaces/{ns}",
            Op::with_body::<NamespaceChange>("Anonymous pulls and retention rules", "200").returns::<NamespaceReply>(),
            update,
        )
        .get(
            "/api/v1/registry/namespaces/{ns}/robots",
            Op::new("List robots").returns::<RobotList>(),
            list_robots,
        )
        .post(
            "/api/v1/registry/namespaces/{ns}/robots",
            Op::with_body::<NewRobot>("Create a robot; the secret is returned once", "201").returns::<RobotCreated>(),
            create_robot,
        )
        .post(
            "/api/v1/registry/namespaces/{ns}/robots/{robot}/revoke",
            Op::new("Revoke a robot; its next token request fails").returns::<RobotReply>(),
            revoke_robot,
        )
        .post(
            "/api/v1/registry/namespaces/{ns}/config",
            Op::with_body::<RegistryConfigBody>(
                "Distribution's config.yml, its environment (storage credentials) and the token certificate",
                "200",
            )
            .returns::<RegistryConfigReply>(),
            config,
        )
        .get(
            "/api/v1/registry/namespaces/{ns}/token",
            Op::new("A registry token for the bridge's own calls (retention): pull and delete in the namespace, the catalog").query(&[(
                "scope",
                "string",
                "repository:<ns>/<name>:pull,delete",
            )]),
            bridge_token,
        )
        .get(
            "/registry/token",
            Op::new("Docker registry token endpoint (basic auth by robot, or anonymous for public namespaces)")
                .sec(Sec::Open)
                .query(&[
                    ("service", "string", "rustshare-registry"),
                    ("scope", "string", "repository:<ns>/<name>:pull,push (repeatable)"),
                ]),
            token,
        )
        .post(
            "/registry/events/{ns}",
            Op::new("Distribution's notifications (Authorization: Bearer <the namespace's notification secret>)").sec(Sec::Open),
            events,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_decode_repeated_scopes() {
        let p = crate::query::pairs(
            "service=rustshare-registry&scope=repository%3Akubedo%2Fapp%3Apull%2Cpush&scope=registry:catalog:*&account=a+b",
        );
        assert_eq!(p[1], ("scope".into(), "repository:kubedo/app:pull,push".into()));
        assert_eq!(p[2].1, "registry:catalog:*");
        assert_eq!(p[3].1, "a b");
    }

    #[test]
    fn basic_auth_is_decoded() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic a3ViZWRvK2NpOnMzY3I6ZXQ="));
        assert_eq!(basic_auth(&h), Some(("kubedo+ci".into(), "s3cr:et".into())));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(basic_auth(&h), None);
    }
}
