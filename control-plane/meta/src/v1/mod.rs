//! `/api/v1` resources. Each module exports `router()`.

pub mod buckets;
pub mod cluster;
pub mod keys;
pub mod meta;
pub mod objects;
pub mod osds;
pub mod repair;
pub mod tokens;
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
    pub fn forbidden(m: &str) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
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

impl From<objectio_object::Error> for ApiError {
    fn from(e: objectio_object::Error) -> Self {
        use objectio_object::Error as E;
        match e {
            E::NoSuchBucket(b) => Self::not_found(&format!("no such bucket {b:?}")),
            E::NoSuchUser(u) => Self::not_found(&format!("no such user {u:?}")),
            E::NoSuchKey | E::NoSuchVersion => Self::not_found(&e.to_string()),
            E::InvalidBucketName(_) | E::InvalidArgument(_) => Self::bad_request(&e.to_string()),
            E::BucketExists { .. } => Self::conflict("a bucket of that name already exists"),
            E::BucketNotEmpty(b) => Self::conflict(&format!("bucket {b} is not empty")),
            E::Locked(why) => Self::conflict(&format!(
                "a version is protected by {why}: it cannot be deleted until that ends"
            )),
            E::Cluster(e) => e.into(),
            E::Etcd(e) => e.into(),
            e => {
                let id = uuid::Uuid::new_v4();
                tracing::error!(request_id = %id, error = %e, "admin API object-layer error");
                Self::unavailable(&format!("{e} (request id {id})"))
            }
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

/// Every error answered as JSON `ErrorOut`: what axum itself refuses (a
/// body that is not JSON or not the schema, a wrong content type, a bad
/// path or query, a method the route has not) comes as text; it is
/// answered with the same status and its text as the message.
pub async fn json_errors(r: Response) -> Response {
    let status = r.status();
    let is_json = r
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return r;
    }
    let (parts, body) = r.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let code = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ if status.is_client_error() => "bad_request",
        _ => "unavailable",
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    let mut out = (
        status,
        Json(ErrorOut {
            code: code.into(),
            message,
        }),
    )
        .into_response();
    // Keep what the refusal said besides its body (`Allow` on a 405).
    for (k, v) in parts.headers.iter() {
        if k != axum::http::header::CONTENT_TYPE && k != axum::http::header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// A JSON request body that must be an object of the schema. (serde would
/// also build a struct from an array such as `[]`, which the schema does
/// not allow.) A body that is not JSON is 400, a wrong content type 415,
/// JSON that is not the schema 422, each with the JSON error.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Response> {
        let Json(v) = Json::<serde_json::Value>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let unfit = |m: String| {
            ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "bad_request",
                message: format!("Failed to deserialize the JSON body into the target type: {m}"),
            }
            .into_response()
        };
        if !v.is_object() {
            return Err(unfit("the body must be a JSON object".into()));
        }
        serde_path_to_error::deserialize(v)
            .map(Body)
            .map_err(|e| unfit(e.to_string()))
    }
}
