//! S3 access keys. Each acts as one user; its secret is sealed in etcd
//! with the cluster's secret key and shown only when the key is created.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete as delete_route, get};
use axum::{Json, Router};
use etcd_client::{Compare, CompareOp, Txn, TxnOp};
use objectio_api::*;
use objectio_cluster::store::encode;
use objectio_cluster::{ACCESS_KEY_VERSION, AccessKeyRecord, now_secs};
use rand::Rng;

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;
use crate::v1::users::{fence_gateways, get_user};

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

fn key_out(k: AccessKeyRecord) -> AccessKeyOut {
    AccessKeyOut {
        access_key_id: k.access_key_id,
        user: k.user,
        secret_access_key: None,
        name: k.name,
        created: rfc3339(k.created),
    }
}

/// Creates an S3 access key for a user; the secret is returned only here.
#[utoipa::path(post, path = "/api/v1/keys", operation_id = "key.create", tag = "keys",
    security(("bearer" = [])), request_body = AccessKeyIn,
    responses((status = 201, body = AccessKeyOut), (status = 400, body = ErrorOut),
        (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn create(
    _: Admin,
    State(st): State<AppState>,
    crate::v1::Body(input): crate::v1::Body<AccessKeyIn>,
) -> Result<(StatusCode, Json<AccessKeyOut>), ApiError> {
    let name = input.name.unwrap_or_else(|| input.user.clone());
    if name.is_empty() || name.chars().count() > 128 {
        return Err(ApiError::bad_request("name must be 1 to 128 characters"));
    }
    let store = &st.store;
    let user_rev = get_user(store, &input.user).await?.1;
    let id = format!("OIO{}", random(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 17));
    let secret = random(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        40,
    );
    let rec = AccessKeyRecord {
        version: ACCESS_KEY_VERSION,
        access_key_id: id.clone(),
        user: input.user.clone(),
        secret_access_key: None,
        sealed_secret: Some(st.secrets.seal(&id, &secret)),
        name,
        created: now_secs(),
    };
    // The user must still exist (unchanged) when the key is written.
    let key = store.keys().access_key(&id);
    let txn = Txn::new()
        .when([
            Compare::version(key.clone(), CompareOp::Equal, 0),
            Compare::mod_revision(store.keys().user(&input.user), CompareOp::Equal, user_rev),
        ])
        .and_then([TxnOp::put(key, encode(&rec), None)]);
    if !store.kv().txn(txn).await?.succeeded() {
        return Err(ApiError::conflict(
            "the user changed or the key id collided; retry",
        ));
    }
    let mut out = key_out(rec);
    out.secret_access_key = Some(secret);
    Ok((StatusCode::CREATED, Json(out)))
}

/// Lists access keys (without secrets), optionally of one user.
#[utoipa::path(get, path = "/api/v1/keys", operation_id = "key.list", tag = "keys",
    security(("bearer" = [])), params(ListAccessKeysQuery),
    responses((status = 200, body = ListAccessKeysOut), (status = 401, body = ErrorOut)))]
pub async fn list(
    _: Admin,
    State(st): State<AppState>,
    Query(q): Query<ListAccessKeysQuery>,
) -> Result<Json<ListAccessKeysOut>, ApiError> {
    let keys = st
        .store
        .list::<AccessKeyRecord>(st.store.keys().access_keys_prefix())
        .await?
        .into_iter()
        .filter(|(_, k)| q.user.as_ref().is_none_or(|u| *u == k.user))
        .map(|(_, k)| key_out(k))
        .collect();
    Ok(Json(ListAccessKeysOut { keys }))
}

/// Deletes an access key; once this answers, every gateway refuses
/// requests signed with it.
#[utoipa::path(delete, path = "/api/v1/keys/{access_key_id}", operation_id = "key.delete", tag = "keys",
    security(("bearer" = [])),
    params(("access_key_id" = String, Path, description = "The access key id")),
    responses((status = 200, body = DeletedOut), (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn delete(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DeletedOut>, ApiError> {
    if id.contains('/') {
        return Err(ApiError::not_found("no such access key"));
    }
    let resp = st
        .store
        .kv()
        .delete(st.store.keys().access_key(&id), None)
        .await?;
    if resp.deleted() == 0 {
        return Err(ApiError::not_found(&format!("no such access key {id:?}")));
    }
    let rev = resp.header().map(|h| h.revision()).unwrap_or(0);
    let (confirmed, unconfirmed) = fence_gateways(&st.store, rev).await?;
    Ok(Json(DeletedOut {
        kind: "key".into(),
        keys_deleted: vec![id.clone()],
        id,
        gateways_confirmed: confirmed,
        unconfirmed,
    }))
}
