//! Users: own access keys and buckets.
//!
//! A user is deleted together with its keys in one transaction, and only
//! while it owns no bucket (so no bucket is left without an owner).
//! Deleting a user or a key answers only once every live gateway has
//! confirmed that its copy of the access keys is past the deletion (see
//! [`fence_gateways`]).

use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use etcd_client::{Compare, CompareOp, Txn, TxnOp};
use objectio_api::*;
use objectio_cluster::keys::prefix_end;
use objectio_cluster::store::encode;
use objectio_cluster::{
    AccessKeyRecord, BucketRecord, GatewayAlive, SCHEMA_VERSION, Store, UserRecord, now_secs,
};

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", get(list).post(create))
        .route("/api/v1/users/{name}", get(info).delete(delete))
}

/// The ARN bucket policies name a user by.
pub fn user_arn(name: &str) -> String {
    format!("arn:objectio:iam:::user/{name}")
}

/// Whether `name` is a valid new user name.
pub fn valid_user_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
        })
}

/// A user as the API shows it, given every key and bucket.
fn to_out(
    u: UserRecord,
    keys: &[(Vec<u8>, AccessKeyRecord)],
    buckets: &[(Vec<u8>, BucketRecord)],
) -> UserOut {
    UserOut {
        arn: user_arn(&u.name),
        keys: keys
            .iter()
            .filter(|(_, k)| k.user == u.name)
            .map(|(_, k)| k.access_key_id.clone())
            .collect(),
        buckets: buckets
            .iter()
            .filter(|(_, b)| b.owner == u.name)
            .map(|(_, b)| b.name.clone())
            .collect(),
        created: rfc3339(u.created),
        migrated: u.migrated,
        name: u.name,
    }
}

/// Every key and bucket record.
async fn keys_and_buckets(
    store: &Store,
) -> Result<
    (
        Vec<(Vec<u8>, AccessKeyRecord)>,
        Vec<(Vec<u8>, BucketRecord)>,
    ),
    ApiError,
> {
    Ok((
        store
            .list::<AccessKeyRecord>(store.keys().access_keys_prefix())
            .await?,
        store
            .list::<BucketRecord>(store.keys().buckets_prefix())
            .await?,
    ))
}

async fn user_out(store: &Store, u: UserRecord) -> Result<UserOut, ApiError> {
    let (keys, buckets) = keys_and_buckets(store).await?;
    Ok(to_out(u, &keys, &buckets))
}

/// Creates a user.
#[utoipa::path(post, path = "/api/v1/users", operation_id = "user.create", tag = "users",
    security(("bearer" = [])), request_body = UserIn,
    responses((status = 201, body = UserOut), (status = 400, body = ErrorOut),
        (status = 409, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn create(
    _: Admin,
    State(st): State<AppState>,
    crate::v1::Body(input): crate::v1::Body<UserIn>,
) -> Result<(StatusCode, Json<UserOut>), ApiError> {
    if !valid_user_name(&input.name) {
        return Err(ApiError::bad_request(
            "a user name is 1 to 64 characters: lowercase letters, digits, '.', '_', '-', starting with a letter or digit",
        ));
    }
    let rec = UserRecord {
        version: SCHEMA_VERSION,
        name: input.name,
        created: now_secs(),
        migrated: false,
    };
    if !st
        .store
        .create(st.store.keys().user(&rec.name), &rec)
        .await?
    {
        return Err(ApiError::conflict(&format!(
            "user {} already exists",
            rec.name
        )));
    }
    Ok((StatusCode::CREATED, Json(user_out(&st.store, rec).await?)))
}

/// Lists users with their keys and buckets.
#[utoipa::path(get, path = "/api/v1/users", operation_id = "user.list", tag = "users",
    security(("bearer" = [])),
    responses((status = 200, body = ListUsersOut), (status = 401, body = ErrorOut)))]
pub async fn list(_: Admin, State(st): State<AppState>) -> Result<Json<ListUsersOut>, ApiError> {
    let store = &st.store;
    let (keys, buckets) = keys_and_buckets(store).await?;
    let users = store
        .list::<UserRecord>(store.keys().users_prefix())
        .await?
        .into_iter()
        .map(|(_, u)| to_out(u, &keys, &buckets))
        .collect();
    Ok(Json(ListUsersOut { users }))
}

/// One user with its keys and buckets.
#[utoipa::path(get, path = "/api/v1/users/{name}", operation_id = "user.info", tag = "users",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The user name")),
    responses((status = 200, body = UserOut), (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn info(
    _: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<UserOut>, ApiError> {
    let (u, _) = get_user(&st.store, &name).await?;
    Ok(Json(user_out(&st.store, u).await?))
}

/// A user and its record's mod revision, or 404.
pub(crate) async fn get_user(store: &Store, name: &str) -> Result<(UserRecord, i64), ApiError> {
    if name.contains('/') {
        return Err(ApiError::not_found("no such user"));
    }
    store
        .get::<UserRecord>(store.keys().user(name))
        .await?
        .ok_or_else(|| ApiError::not_found(&format!("no such user {name:?}")))
}

/// Deletes a user. Refused while it owns buckets; refused while it has
/// access keys unless `purge_keys` (they are deleted with it). Requests
/// signed with its keys are refused at every gateway once this answers.
#[utoipa::path(delete, path = "/api/v1/users/{name}", operation_id = "user.delete", tag = "users",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The user name"), DeleteUserQuery),
    responses((status = 200, body = DeletedOut), (status = 404, body = ErrorOut),
        (status = 409, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn delete(
    _: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<DeleteUserQuery>,
) -> Result<Json<DeletedOut>, ApiError> {
    let store = &st.store;
    let k = store.keys();
    // Read the user, its keys and every bucket at one revision, then delete
    // only if none of them changed since (a bucket created or a key added
    // meanwhile makes the transaction fail, and the caller retries).
    for _ in 0..5 {
        let (_, user_rev) = get_user(store, &name).await?;
        let at = store.revision().await?;
        let owned: Vec<String> = store
            .list::<BucketRecord>(k.buckets_prefix())
            .await?
            .into_iter()
            .filter(|(_, b)| b.owner == name)
            .map(|(_, b)| b.name)
            .collect();
        if !owned.is_empty() {
            return Err(ApiError::conflict(&format!(
                "user {name} owns buckets ({}); delete them first",
                owned.join(", ")
            )));
        }
        let keys: Vec<String> = store
            .list::<AccessKeyRecord>(k.access_keys_prefix())
            .await?
            .into_iter()
            .filter(|(_, key)| key.user == name)
            .map(|(_, key)| key.access_key_id)
            .collect();
        if !keys.is_empty() && !q.purge_keys {
            return Err(ApiError::conflict(&format!(
                "user {name} has access keys ({}); delete them or pass purge_keys (--purge-keys)",
                keys.join(", ")
            )));
        }
        let range = |p: String| {
            let end = prefix_end(p.as_bytes()).expect("prefix ends with '/'");
            (p, end)
        };
        let (bp, be) = range(k.buckets_prefix());
        let (kp, ke) = range(k.access_keys_prefix());
        let mut ops = vec![TxnOp::delete(k.user(&name), None)];
        ops.extend(keys.iter().map(|id| TxnOp::delete(k.access_key(id), None)));
        let txn = Txn::new()
            .when([
                Compare::mod_revision(k.user(&name), CompareOp::Equal, user_rev),
                Compare::mod_revision(bp, CompareOp::Less, at + 1).with_range(be),
                Compare::mod_revision(kp, CompareOp::Less, at + 1).with_range(ke),
            ])
            .and_then(ops);
        let resp = store.kv().txn(txn).await?;
        if !resp.succeeded() {
            continue;
        }
        let rev = resp.header().map(|h| h.revision()).unwrap_or(0);
        let (confirmed, unconfirmed) = fence_gateways(store, rev).await?;
        tracing::info!(user = %name, keys = keys.len(), "user deleted");
        return Ok(Json(DeletedOut {
            kind: "user".into(),
            id: name,
            keys_deleted: keys,
            gateways_confirmed: confirmed,
            unconfirmed,
        }));
    }
    Err(ApiError::conflict(
        "the user's buckets or keys kept changing; retry",
    ))
}

/// How long a deletion waits for gateways to confirm: past it, a gateway
/// that has not caught up has also stopped trusting its copy (its watch
/// went silent for [`objectio_cluster::mirror::STALE_AFTER`]).
const FENCE_TIMEOUT: Duration = Duration::from_secs(5);

/// Waits until every live gateway's copy of the access keys is current to
/// `revision` (or [`FENCE_TIMEOUT`] passes); returns how many confirmed and
/// which did not.
pub(crate) async fn fence_gateways(
    store: &Store,
    revision: i64,
) -> Result<(u32, Vec<String>), ApiError> {
    let deadline = Instant::now() + FENCE_TIMEOUT;
    loop {
        let gws = store.alive::<GatewayAlive>("gateways").await?;
        let behind: Vec<String> = gws
            .iter()
            .filter(|(_, a)| a.as_ref().is_none_or(|a| a.keys_revision < revision))
            .map(|(id, _)| id.clone())
            .collect();
        let confirmed = (gws.len() - behind.len()) as u32;
        if behind.is_empty() || Instant::now() >= deadline {
            if !behind.is_empty() {
                tracing::warn!(gateways = ?behind, revision, "gateways did not confirm a key deletion in time");
            }
            return Ok((confirmed, behind));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Moves access keys created before users existed (version 1 records at
/// `users/<key id>`, secret in clear) to version 2: a user named after the
/// key (owning the buckets the key created, whose owner is that key id)
/// and the key under `keys/` with its secret sealed. Idempotent; each key
/// moves in one transaction.
pub async fn migrate_v1_keys(
    store: &Store,
    secrets: &objectio_cluster::secrets::SecretBox,
) -> anyhow::Result<usize> {
    let k = store.keys();
    let resp = store
        .kv()
        .get(
            k.users_prefix(),
            Some(etcd_client::GetOptions::new().with_prefix()),
        )
        .await?;
    let mut moved = 0;
    for kv in resp.kvs() {
        let Ok(old) = serde_json::from_slice::<AccessKeyRecord>(kv.value()) else {
            continue; // a user record
        };
        let Some(secret) = old.secret_access_key.as_deref() else {
            continue;
        };
        let id = old.access_key_id.clone();
        let user = UserRecord {
            version: SCHEMA_VERSION,
            name: id.clone(),
            created: old.created,
            migrated: true,
        };
        let key = AccessKeyRecord {
            version: objectio_cluster::ACCESS_KEY_VERSION,
            access_key_id: id.clone(),
            user: id.clone(),
            secret_access_key: None,
            sealed_secret: Some(secrets.seal(&id, secret)),
            name: old.name.clone(),
            created: old.created,
        };
        let txn = Txn::new()
            .when([Compare::mod_revision(
                kv.key(),
                CompareOp::Equal,
                kv.mod_revision(),
            )])
            .and_then([
                TxnOp::put(k.user(&id), encode(&user), None),
                TxnOp::put(k.access_key(&id), encode(&key), None),
            ]);
        if store.kv().txn(txn).await?.succeeded() {
            tracing::info!(access_key = %id, "migrated an access key to a user of its own");
            moved += 1;
        }
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        for ok in ["alice", "backup-job", "a", "svc.web_1", "0day"] {
            assert!(valid_user_name(ok), "{ok}");
        }
        let long = "a".repeat(65);
        for bad in ["", "Alice", "-x", "a/b", "a b", "é", long.as_str()] {
            assert!(!valid_user_name(bad), "{bad}");
        }
    }
}
