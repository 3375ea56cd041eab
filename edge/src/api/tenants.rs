//! Tenants and their tokens; `whoami`.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::error::ApiResult;
use super::extract::{Admin, JsonBody};
use super::routes::{Api, Op};
use super::state::ApiState;
use rustshare_control::model::AdminPrincipal;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameBody {
    name: String,
}

async fn whoami(Admin(p): Admin) -> Json<AdminPrincipal> {
    Json(p)
}

async fn create_tenant(State(st): State<ApiState>, Admin(p): Admin, JsonBody(b): JsonBody<NameBody>) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(st.control.create_tenant(&p, &b.name).await?)))
}

async fn list_tenants(State(st): State<ApiState>, Admin(p): Admin) -> ApiResult<impl IntoResponse> {
    Ok(Json(json!({"tenants": st.control.list_tenants(&p).await?})))
}

async fn create_tenant_token(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(t): Path<String>,
    JsonBody(b): JsonBody<NameBody>,
) -> ApiResult<impl IntoResponse> {
    let token = st.control.create_tenant_token(&p, &t, &b.name).await?;
    Ok((StatusCode::CREATED, Json(json!({"token": token, "name": b.name, "tenant": t}))))
}

pub(super) fn routes() -> Api {
    Api::new()
        .get("/api/v1/whoami", Op::new("The caller's token"), whoami)
        .get("/api/v1/tenants", Op::new("List tenants"), list_tenants)
        .post(
            "/api/v1/tenants",
            Op::with_body("Create a tenant (operator)", "Name", "201"),
            create_tenant,
        )
        .post(
            "/api/v1/tenants/{tenant}/tokens",
            Op::with_body("Issue a tenant-scoped admin token, shown once (operator)", "Name", "201"),
            create_tenant_token,
        )
}
