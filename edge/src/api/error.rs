//! The API's one error type: a status, a stable code and a message safe to show, mapped once
//! from control's errors.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

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
        let body = super::dto::ErrorBody {
            error: super::dto::ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Runs blocking file work (key files) off the async threads; a panicked task is an internal
/// error. Database work never comes here: `Control`'s async methods run it on its executor.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!("control API task failed: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    })
}
