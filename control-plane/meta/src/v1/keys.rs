//! S3 access keys.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete as delete_route, get};
use axum::{Json, Router};
use objectio_api::*;
use objectio_cluster::{AccessKeyRecord, SCHEMA_VERSION, now_secs};
use rand::Rng;

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/keys", get(list).post(create))
        .route("/api/v1/keys/{access_key_id}", delete_route(delete))
}

fn random(alphabet: &[u8], n: usize) -> String {
    let mut r = rand::thread_rng();
    (0..n)
        .map(|_| alphabet[r.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// Creates an S3 access key; the secret is returned only here.
#[utoipa::path(post, path = "/api/v1/keys", operation_id = "key.create", tag = "keys",
    security(("bearer" = [])), request_body = AccessKeyIn,
    responses((status = 201, body = AccessKeyOut), (status = 400, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn create(
    _: Admin,
    State(st): State<AppState>,
    Json(input): Json<AccessKeyIn>,
) -> Result<(StatusCode, Json<AccessKeyOut>), ApiError> {
    if input.name.is_empty() || input.name.len() > 128 {
        return Err(ApiError::bad_request("name must be 1 to 128 characters"));
    }
    let rec = AccessKeyRecord {
        version: SCHEMA_VERSION,
        access_key_id: format!("OIO{}", random(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 17)),
        secret_access_key: random(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            40,
        ),
        name: input.name,
        created: now_secs(),
    };
    if !st
        .store
        .create(st.store.keys().user(&rec.access_key_id), &rec)
        .await?
    {
        return Err(ApiError::bad_request("access key id collision; retry"));
    }
    Ok((
        StatusCode::CREATED,
        Json(AccessKeyOut {
            access_key_id: rec.access_key_id,
            secret_access_key: Some(rec.secret_access_key),
            name: rec.name,
            created: rec.created,
        }),
    ))
}

/// Lists access keys (without secrets).
#[utoipa::path(get, path = "/api/v1/keys", operation_id = "key.list", tag = "keys",
    security(("bearer" = [])),
    responses((status = 200, body = ListAccessKeysOut), (status = 401, body = ErrorOut)))]
pub async fn list(
    _: Admin,
    State(st): State<AppState>,
) -> Result<Json<ListAccessKeysOut>, ApiError> {
    let keys = st
        .store
        .list::<AccessKeyRecord>(st.store.keys().users_prefix())
        .await?
        .into_iter()
        .map(|(_, k)| AccessKeyOut {
            access_key_id: k.access_key_id,
            secret_access_key: None,
            name: k.name,
            created: k.created,
        })
        .collect();
    Ok(Json(ListAccessKeysOut { keys }))
}

/// Deletes an access key; requests signed with it are refused from then on.
#[utoipa::path(delete, path = "/api/v1/keys/{access_key_id}", operation_id = "key.delete", tag = "keys",
    security(("bearer" = [])),
    params(("access_key_id" = String, Path, description = "The access key id")),
    responses((status = 204), (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn delete(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if id.contains('/') || !st.store.delete(st.store.keys().user(&id)).await? {
        return Err(ApiError::not_found("no such access key"));
    }
    Ok(StatusCode::NO_CONTENT)
}
