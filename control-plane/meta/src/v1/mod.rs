//! `/api/v1` resources. Each module exports `router()`.

pub mod buckets;
pub mod cluster;
pub mod keys;
pub mod meta;
pub mod objects;
pub mod osds;
pub mod repair;
pub mod users;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use objectio_api::{ErrorOut, HealthOut};

/// An error answered as JSON `ErrorOut` with its status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn unauthorized(m: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: m.into(),
        }
    }
    pub fn not_found(m: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: m.into(),
        }
    }
    pub fn conflict(m: &str) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: m.into(),
        }
    }
    pub fn unavailable(m: &str) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: m.into(),
        }
    }
    pub fn bad_request(m: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: m.into(),
        }
    }
}

impl From<objectio_cluster::Error> for ApiError {
    fn from(e: objectio_cluster::Error) -> Self {
        let id = uuid::Uuid::new_v4();
        tracing::error!(request_id = %id, error = %e, "admin API internal error");
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: format!("the cluster store is unavailable (request id {id})"),
        }
    }
}

impl From<etcd_client::Error> for ApiError {
    fn from(e: etcd_client::Error) -> Self {
        objectio_cluster::Error::Etcd(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(ErrorOut {
                code: self.code.into(),
                message: self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

/// Liveness of this meta replica (no authentication).
#[utoipa::path(get, path = "/health", operation_id = "health", tag = "cluster",
    responses((status = 200, body = HealthOut)))]
pub async fn health() -> Json<HealthOut> {
    Json(HealthOut {
        status: "ok".into(),
    })
}
