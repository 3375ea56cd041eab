//! Tenants and their tokens; `whoami`.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::dto::{NameBody, TenantList, TenantToken};
use super::error::ApiResult;
use super::extract::{Admin, JsonBody};
use super::routes::{Api, Op};
use super::state::ApiState;
use rustshare_control::model::{AdminPrincipal, Tenant};

async fn whoami(Admin(p): Admin) -> Json<AdminPrincipal> {
    Json(p)
}

async fn create_tenant(State(st): State<ApiState>, Admin(p): Admin, JsonBody(b): JsonBody<NameBody>) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(st.control.create_tenant(&p, &b.name).await?)))
}

async fn list_tenants(State(st): State<ApiState>, Admin(p): Admin) -> ApiResult<impl IntoResponse> {
    Ok(Json(TenantList {
        tenants: st.control.list_tenants(&p).await?,
    }))
}

async fn create_tenant_token(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(t): Path<String>,
    JsonBody(b): JsonBody<NameBody>,
) -> ApiResult<impl IntoResponse> {
    let token = st.control.create_tenant_token(&p, &t, &b.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(TenantToken {
            token,
            name: b.name,
            tenant: t,
        }),
    ))
}

pub(super) fn routes() -> Api {
    Api::new()
        .get("/api/v1/whoami", Op::new("The caller's token").returns::<AdminPrincipal>(), whoami)
        .get("/api/v1/tenants", Op::new("List tenants").returns::<TenantList>(), list_tenants)
        .post(
            "/api/v1/tenants",
            Op::with_body::<NameBody>("Create a tenant (operator)", "201").returns::<Tenant>(),
            create_tenant,
        )
        .post(
            "/api/v1/tenants/{tenant}/tokens",
            Op::with_body::<NameBody>("Issue a tenant-scoped admin token, shown once (operator)", "201").returns::<TenantToken>(),
            create_tenant_token,
        )
}
