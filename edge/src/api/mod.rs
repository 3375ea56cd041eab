//! The control REST API under `/api/v1`: JSON in and out, bearer-token or console-session
//! auth, stable error codes. `state`, `error` and `extract` are what every resource module
//! shares; this module only assembles their routers.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;

mod audit;
pub mod dto;
pub mod error;
pub mod extract;
mod keys;
mod lifecycle;
mod lock;
mod master_keys;
mod objects;
mod openapi;
mod registry;
mod repos;
pub mod routes;
pub mod session;
mod spaces;
pub mod state;
mod tenants;
mod versions;

pub use error::ApiError;
use routes::{Api, Op, Sec};
pub use state::ApiState;

async fn openapi_json() -> impl IntoResponse {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    Json(DOC.get_or_init(|| openapi::document(api().docs())).clone())
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API route; see /api/v1/openapi.json")
}

/// Every route of the API with its documentation.
#[must_use]
pub fn api() -> Api {
    Api::new()
        .get("/api/v1/openapi.json", Op::new("This document").sec(Sec::Open), openapi_json)
        .merge(tenants::routes())
        .merge(spaces::routes())
        .merge(versions::routes())
        .merge(lifecycle::routes())
        .merge(lock::routes())
        .merge(objects::routes())
        .merge(keys::routes())
        .merge(audit::routes())
        .merge(repos::routes())
        .merge(session::routes())
        .merge(registry::routes())
        .merge(master_keys::routes())
}

/// The API's router: every route of [`api`], and a JSON 404 for the rest.
pub fn router(state: ApiState) -> axum::Router {
    api().into_router().fallback(not_found).with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use rustshare_control::Control;
    use serde_json::json;
    use std::sync::Arc;
    use tower::ServiceExt;

    async fn app() -> (Router, String) {
        let control = Control::new(
            Arc::new(rustshare_control::db::SqliteRepo::in_memory().expect("db")),
            rustshare_control::seal::MasterKey::generate(),
        );
        let tok = control.bootstrap_operator(None).await.expect("bootstrap").expect("token");
        let metrics = crate::metrics::Metrics::new();
        let dir = std::env::temp_dir().join(format!("rs-api-test-{}", uuid::Uuid::new_v4().simple()));
        let store = Arc::new(rustshare_store::FsStore::open_sync(dir).expect("store"));
        let cache = crate::face::cdn::cache::Cache::new(1 << 20);
        let publisher = rustshare_publisher::Publisher::new(store.clone(), control.clone());
        let s3 = crate::face::s3::S3Face::new(store, control.clone(), metrics.clone(), "us-east-1".into());
        let st = ApiState {
            s3,
            publisher,
            packages_base: "http://packages.localhost:8080".into(),
            control,
            endpoint: "http://127.0.0.1:8080".into(),
            region: "us-east-1".into(),
            purge: Arc::new(cache),
            purge_webhook: None,
            metrics,
            cdn_base: "http://cdn.localhost:8080".into(),
            session_lifetime: std::time::Duration::from_mins(1),
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
        let (r, tok) = app().await;
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

    /// Every route the API declares: (method, path), from the same table that builds the router.
    fn declared_routes() -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = api().docs().iter().map(|d| (d.method.to_string(), d.path.to_owned())).collect();
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
        ("GET", "/api/v1/spaces/{space}/cors", Who::Owner),
        ("PUT", "/api/v1/spaces/{space}/cors", Who::Owner),
        ("DELETE", "/api/v1/spaces/{space}/cors", Who::Owner),
        ("POST", "/api/v1/spaces/{space}/purge", Who::Owner),
        ("GET", "/api/v1/spaces/{space}/traffic", Who::Owner),
        ("PUT", "/api/v1/spaces/{space}/versioning", Who::Owner),
        ("GET", "/api/v1/spaces/{space}/versions", Who::Owner),
        ("POST", "/api/v1/spaces/{space}/objects/restore", Who::Owner),
        ("PUT", "/api/v1/spaces/{space}/object-lock", Who::Owner),
        ("PUT", "/api/v1/spaces/{space}/objects/retention", Who::Owner),
        ("PUT", "/api/v1/spaces/{space}/objects/legal-hold", Who::Owner),
        ("POST", "/api/v1/spaces/{space}/objects/remove-version", Who::Owner),
        ("GET", "/api/v1/spaces/{space}/objects", Who::Owner),
        ("GET", "/api/v1/spaces/{space}/objects/info", Who::Owner),
        ("GET", "/api/v1/spaces/{space}/objects/download", Who::Owner),
        ("PUT", "/api/v1/spaces/{space}/objects/upload", Who::Owner),
        ("POST", "/api/v1/spaces/{space}/objects/multipart", Who::Owner),
        ("PUT", "/api/v1/spaces/{space}/objects/multipart/{upload}/{part}", Who::Owner),
        ("POST", "/api/v1/spaces/{space}/objects/multipart/{upload}/complete", Who::Owner),
        ("DELETE", "/api/v1/spaces/{space}/objects/multipart/{upload}", Who::Owner),
        ("POST", "/api/v1/spaces/{space}/objects/delete", Who::Owner),
        ("POST", "/api/v1/spaces/{space}/objects/share", Who::Owner),
        ("GET", "/api/v1/spaces/{space}/lifecycle", Who::Owner),
        ("PUT", "/api/v1/spaces/{space}/lifecycle", Who::Owner),
        ("DELETE", "/api/v1/spaces/{space}/lifecycle", Who::Owner),
        ("POST", "/api/v1/admin/lifecycle/run", Who::Operator),
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
        ("POST", "/api/v1/repos/{repo}/remove", Who::Owner),
        ("GET", "/api/v1/repos/{repo}/packages", Who::Owner),
        ("POST", "/api/v1/repos/{repo}/copy", Who::Owner),
        ("POST", "/api/v1/repos/{repo}/promote", Who::Owner),
        ("POST", "/api/v1/repos/{repo}/rotate-key", Who::Owner),
        ("POST", "/api/v1/repos/{repo}/retire-key", Who::Owner),
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
    /// Two tenants with a packages space each, a key, a repository, a registry namespace and a
    /// robot in globex's; answers the key's id and a tenant token of acme's.
    async fn fixtures(r: &Router, op: &str) -> (String, String) {
        let ok = |s: StatusCode| s.is_success();
        for t in ["acme", "globex"] {
            assert!(ok(call(r, "POST", "/api/v1/tenants", Some(op), Some(json!({"name": t}))).await.0));
            let (s, _) = call(
                r,
                "POST",
                "/api/v1/spaces",
                Some(op),
                Some(json!({"tenant": t, "name": "debs", "purpose": "packages", "quota_bytes": 1000})),
            )
            .await;
            assert!(ok(s), "{s}");
        }
        let (_, k) = call(
            r,
            "POST",
            "/api/v1/spaces/rs-globex-debs/keys",
            Some(op),
            Some(json!({"name": "ci", "mode": "read-only", "prefix": ""})),
        )
        .await;
        let key = k["access_key_id"].as_str().expect("key").to_owned();
        let (s, body) = call(
            r,
            "POST",
            "/api/v1/repos",
            Some(op),
            Some(json!({"name": "gtools", "space": "rs-globex-debs"})),
        )
        .await;
        assert!(ok(s), "{s} {body}");
        let (s, body) = call(
            r,
            "POST",
            "/api/v1/registry/namespaces",
            Some(op),
            Some(json!({"name": "globex-images", "tenant": "globex"})),
        )
        .await;
        assert!(ok(s), "{s} {body}");
        let (s, body) = call(
            r,
            "POST",
            "/api/v1/registry/namespaces/globex-images/robots",
            Some(op),
            Some(json!({"name": "ci", "access": "pull"})),
        )
        .await;
        assert!(ok(s), "{s} {body}");
        let (_, t) = call(r, "POST", "/api/v1/tenants/acme/tokens", Some(op), Some(json!({"name": "admin"}))).await;
        let acme = t["token"].as_str().expect("tenant token").to_owned();
        (key, acme)
    }

    /// `p` with its parameters naming globex's fixtures (and, for the object browser's
    /// routes, the object key in the query).
    fn concrete(p: &str, key: &str) -> String {
        let query = if p.contains("/objects/") && !p.ends_with("/objects/delete") && !p.ends_with("/objects/share") {
            "?key=a"
        } else {
            ""
        };
        let p = format!("{p}{query}");
        p.replace("{space}", "rs-globex-debs")
            .replace("{upload}", "u")
            .replace("{part}", "1")
            .replace("{key}", key)
            .replace("{repo}", "gtools")
            .replace("{ns}", "globex-images")
            .replace("{robot}", "ci")
            .replace("{tenant}", "globex")
            .replace("{dist}", "stable")
            .replace("{component}", "main")
            .replace("{file}", "x.deb")
    }

    /// A valid body for a route, so that what answers is the authorization, not the body's shape.
    fn valid_body(m: &str, p: &str) -> Option<serde_json::Value> {
        match (m, p) {
            ("GET" | "DELETE", _) => None,
            (_, "/api/v1/tenants" | "/api/v1/tenants/{tenant}/tokens") => Some(json!({"name": "evil"})),
            (_, "/api/v1/spaces") => Some(json!({"tenant": "globex", "name": "evil", "purpose": "artifacts"})),
            (_, "/api/v1/spaces/{space}/quota") => Some(json!({"quota_bytes": 5})),
            (_, "/api/v1/spaces/{space}/keys") => Some(json!({"name": "evil", "mode": "read-only", "prefix": ""})),
            (_, "/api/v1/spaces/{space}/public") => Some(json!({"prefixes": ["a/"]})),
            (_, "/api/v1/spaces/{space}/purge") => Some(json!({"prefix": ""})),
            (_, "/api/v1/spaces/{space}/versioning") => Some(json!({"versioning": "enabled"})),
            (_, "/api/v1/spaces/{space}/lifecycle") => Some(json!({"rules": [{"id": "ci", "prefix": "ci/", "expire_days": 30}]})),
            (_, "/api/v1/spaces/{space}/objects/restore" | "/api/v1/spaces/{space}/objects/remove-version") => {
                Some(json!({"key": "a", "version_id": "null"}))
            }
            (_, "/api/v1/spaces/{space}/object-lock") => Some(json!({"write_once": [{"prefix": "releases/", "mode": "GOVERNANCE"}]})),
            (_, "/api/v1/spaces/{space}/objects/retention") => Some(json!({"key": "a", "retention": null})),
            (_, "/api/v1/spaces/{space}/objects/legal-hold") => Some(json!({"key": "a", "on": false})),
            (_, "/api/v1/spaces/{space}/objects/delete") => Some(json!({"keys": ["a"]})),
            (_, "/api/v1/spaces/{space}/objects/share") => Some(json!({"key": "a", "expires_in_seconds": 3600})),
            (_, "/api/v1/spaces/{space}/objects/multipart/{upload}/complete") => Some(json!({"parts": [{"part": 1, "etag": "x"}]})),
            (_, "/api/v1/spaces/{space}/cors") => {
                Some(json!({"rules": [{"allowed_origins": ["https://app.example.com"], "allowed_methods": ["PUT"]}]}))
            }
            (_, "/api/v1/repos") => Some(json!({"name": "evilrepo", "space": "rs-globex-debs"})),
            (_, "/api/v1/repos/{repo}/rollback") => Some(json!({"snapshot": "1"})),
            (_, "/api/v1/repos/{repo}/remove") => Some(json!({"dist": "stable", "packages": ["hello"]})),
            (_, "/api/v1/repos/{repo}/copy") => {
                Some(json!({"from": "stable", "to": "stable", "to_component": "main", "packages": ["hello"]}))
            }
            (_, "/api/v1/repos/{repo}/promote") => Some(json!({"from": "stable", "to": "stable"})),
            (_, "/api/v1/registry/namespaces") => Some(json!({"name": "globex-evil", "tenant": "globex"})),
            (_, "/api/v1/registry/namespaces/{ns}/robots") => Some(json!({"name": "evil", "access": "push"})),
            (_, "/api/v1/registry/namespaces/{ns}/config") => Some(json!({"root_cert_bundle": "/etc/x.pem"})),
            (_, "/api/v1/session") => Some(json!({"token": "rsat_not_a_real_token"})),
            _ => Some(json!({})),
        }
    }

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
        let (r, op) = app().await;
        let ok = |s: StatusCode| s.is_success();
        let (key, acme) = fixtures(&r, &op).await;
        let other = |p: &str| concrete(p, &key);
        for (m, p, who) in ROUTES {
            let mut uri = other(p);
            if p.ends_with("/{ns}/token") {
                uri.push_str("?scope=repository:globex-images/app:pull");
            }
            // A valid body, so that what answers is the authorization, not the body's shape.
            let body = valid_body(m, p);
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

    /// Every documented reply is sent through its type and back unchanged: the type the
    /// document's schema and the CLI are made from holds every field the handler wrote. Calls
    /// are made as the operator, reads first, then changes, the destructive ones last.
    #[tokio::test]
    async fn every_reply_reads_back_as_its_type() {
        let (r, op) = app().await;
        let (key, _) = fixtures(&r, &op).await;
        let mut docs: Vec<_> = api().docs().to_vec();
        // A key is rotated before it is revoked.
        let last = |p: &str| match p {
            _ if p.ends_with("/rotate") => 1,
            _ if ["disable", "revoke", "retire"].iter().any(|w| p.contains(w)) => 2,
            _ => 0,
        };
        docs.sort_by_key(|d| (d.method != axum::http::Method::GET, last(d.path), d.path));
        let mut checked = Vec::new();
        let mut unchecked = Vec::new();
        for d in &docs {
            let Some(reply) = d.op.reply else { continue };
            let mut uri = concrete(d.path, &key);
            if d.path.ends_with("/{ns}/token") {
                uri.push_str("?scope=repository:globex-images/app:pull");
            }
            let (s, body) = call(&r, d.method.as_str(), &uri, Some(&op), valid_body(d.method.as_str(), d.path)).await;
            if s.is_success() {
                (reply.check)(&body).unwrap_or_else(|e| panic!("{} {}: {e}", d.method, d.path));
                checked.push(format!("{} {}", d.method, d.path));
            } else {
                unchecked.push(format!("{} {} ({s})", d.method, d.path));
            }
        }
        // What the operator cannot do here, and why: no console session in this test, no
        // snapshot "1" nor anything published to remove, and a master key from the environment
        // cannot be rotated, and no object whose version could be restored.
        let expected = [
            "POST /api/v1/spaces/{space}/objects/restore (404 Not Found)",
            // The fixtures' space holds packages, which object lock is not offered to.
            "PUT /api/v1/spaces/{space}/object-lock (400 Bad Request)",
            "PUT /api/v1/spaces/{space}/objects/retention (400 Bad Request)",
            "PUT /api/v1/spaces/{space}/objects/legal-hold (400 Bad Request)",
            // No object "a" and no upload "u" there; its 1,000-byte quota is the repository's.
            "GET /api/v1/spaces/{space}/objects/info (404 Not Found)",
            "POST /api/v1/spaces/{space}/objects/share (404 Not Found)",
            "PUT /api/v1/spaces/{space}/objects/multipart/{upload}/{part} (404 Not Found)",
            "POST /api/v1/spaces/{space}/objects/multipart/{upload}/complete (404 Not Found)",
            "PUT /api/v1/spaces/{space}/objects/upload (403 Forbidden)",
            "GET /api/v1/session (401 Unauthorized)",
            "POST /api/v1/session (401 Unauthorized)",
            "POST /api/v1/repos/{repo}/rollback (404 Not Found)",
            "POST /api/v1/repos/{repo}/remove (400 Bad Request)",
            "POST /api/v1/repos/{repo}/copy (400 Bad Request)",
            "POST /api/v1/repos/{repo}/promote (400 Bad Request)",
            "POST /api/v1/admin/master-key/rotate (409 Conflict)",
            "POST /api/v1/admin/master-key/retire (409 Conflict)",
        ];
        unchecked.sort();
        let mut want: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        want.sort();
        assert_eq!(unchecked, want, "checked: {checked:?}");
        assert!(checked.len() >= 35, "{} replies checked", checked.len());
        let with_reply = docs.iter().filter(|d| d.op.reply.is_some()).count();
        let mut without: Vec<_> = docs
            .iter()
            .filter(|d| d.op.reply.is_none())
            .map(|d| format!("{} {}", d.method, d.path))
            .collect();
        without.sort();
        // Only replies that are not JSON documents of ours go without a type: no content, the
        // OpenAPI document itself, and Distribution's token and notification formats.
        assert_eq!(
            without,
            [
                "DELETE /api/v1/session",
                "DELETE /api/v1/spaces/{space}/objects/multipart/{upload}",
                "GET /api/v1/openapi.json",
                "GET /api/v1/registry/namespaces/{ns}/token",
                "GET /api/v1/spaces/{space}/objects/download",
                "GET /registry/token",
                "POST /registry/events/{ns}",
                "PUT /api/v1/repos/{repo}/incoming/{dist}/{component}/{file}",
            ],
            "{with_reply} with a reply type"
        );
    }
}
