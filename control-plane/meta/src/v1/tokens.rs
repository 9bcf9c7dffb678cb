//! Admin tokens created through the API: a scope (`read`, `admin`), an
//! optional expiry, and only the token's SHA-256 stored (`tokens/<id>`).
//! The tokens of the configuration (`--admin-token`, `--admin-token-file`)
//! are the bootstrap ones: admin scope, never expiring, not listed here.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use objectio_api::*;
use objectio_cluster::{SCHEMA_VERSION, TokenRecord, now_secs};
use sha2::Digest;

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tokens", get(list).post(create))
        .route("/api/v1/tokens/{id}", delete(revoke))
}

/// The longest expiry a token may be given.
const MAX_EXPIRY_SECS: u64 = 10 * 366 * 86400;

/// Hex SHA-256 of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// The id inside a token made here (`oio_<id>_<secret>`).
pub fn token_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix("oio_")?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) && !secret.is_empty())
        .then_some(id)
}

/// The API's scope and the record's, the same two values.
fn scope_out(s: objectio_cluster::TokenScope) -> TokenScope {
    match s {
        objectio_cluster::TokenScope::Read => TokenScope::Read,
        objectio_cluster::TokenScope::Admin => TokenScope::Admin,
    }
}

fn scope_in(s: TokenScope) -> objectio_cluster::TokenScope {
    match s {
        TokenScope::Read => objectio_cluster::TokenScope::Read,
        TokenScope::Admin => objectio_cluster::TokenScope::Admin,
    }
}

fn to_out(t: &TokenRecord, now: u64) -> TokenOut {
    TokenOut {
        id: t.id.clone(),
        label: t.label.clone(),
        scope: scope_out(t.scope),
        created: rfc3339(t.created),
        expires: t.expires.map(rfc3339),
        expired: t.expires.is_some_and(|e| e <= now),
    }
}

/// Creates an admin token with a scope and an optional expiry; the token
/// is in the answer only (the cluster keeps its SHA-256).
#[utoipa::path(post, path = "/api/v1/tokens", operation_id = "token.create", tag = "tokens",
    security(("bearer" = [])), request_body = TokenIn,
    responses((status = 201, body = TokenCreatedOut),
        (status = 400, body = ErrorOut, description = "A bad label or expiry"),
        (status = 401, body = ErrorOut), (status = 403, body = ErrorOut, description = "A read token"),
        (status = 415, body = ErrorOut), (status = 422, body = ErrorOut)))]
pub async fn create(
    _: Admin,
    State(st): State<AppState>,
    crate::v1::Body(input): crate::v1::Body<TokenIn>,
) -> Result<(StatusCode, Json<TokenCreatedOut>), ApiError> {
    if input.label.chars().count() > 64 || input.label.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "label: at most 64 characters, no control characters",
        ));
    }
    let now = now_secs();
    let expires = match input.expires_in_secs {
        None => None,
        Some(d) if d == 0 || d > MAX_EXPIRY_SECS => {
            return Err(ApiError::bad_request(&format!(
                "expires_in_secs: between 1 and {MAX_EXPIRY_SECS} (ten years), not {d}"
            )));
        }
        Some(d) => Some(now + d),
    };
    let id = hex::encode(rand::random::<[u8; 6]>());
    let token = format!("oio_{id}_{}", hex::encode(rand::random::<[u8; 24]>()));
    let rec = TokenRecord {
        version: SCHEMA_VERSION,
        id: id.clone(),
        label: input.label,
        scope: scope_in(input.scope),
        sha256: token_hash(&token),
        created: now,
        expires,
    };
    if !st.store.create(st.store.keys().token(&id), &rec).await? {
        return Err(ApiError::conflict("token id collision: try again"));
    }
    tracing::info!(token = %id, scope = ?rec.scope, label = %rec.label, "admin token created");
    let out = to_out(&rec, now);
    Ok((
        StatusCode::CREATED,
        Json(TokenCreatedOut {
            id: out.id,
            label: out.label,
            scope: out.scope,
            created: out.created,
            expires: out.expires,
            token,
        }),
    ))
}

/// Every token created through the API (never their secrets), expired
/// ones marked.
#[utoipa::path(get, path = "/api/v1/tokens", operation_id = "token.list", tag = "tokens",
    security(("bearer" = [])),
    responses((status = 200, body = ListTokensOut), (status = 401, body = ErrorOut),
        (status = 403, body = ErrorOut, description = "A read token")))]
pub async fn list(_: Admin, State(st): State<AppState>) -> Result<Json<ListTokensOut>, ApiError> {
    let now = now_secs();
    let mut tokens: Vec<TokenOut> = st
        .store
        .list::<TokenRecord>(st.store.keys().tokens_prefix())
        .await?
        .iter()
        .map(|(_, t)| to_out(t, now))
        .collect();
    tokens.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    Ok(Json(ListTokensOut { tokens }))
}

/// Revokes a token: the next request carrying it is refused, at every
/// meta replica (each reads the record per request).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", operation_id = "token.revoke", tag = "tokens",
    security(("bearer" = [])), params(("id" = String, Path, description = "The token id (`token list`)")),
    responses((status = 200, body = TokenOut), (status = 401, body = ErrorOut),
        (status = 403, body = ErrorOut, description = "A read token"),
        (status = 404, body = ErrorOut)))]
pub async fn revoke(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TokenOut>, ApiError> {
    let key = st.store.keys().token(&id);
    let Some((rec, _)) = st.store.get::<TokenRecord>(key.clone()).await? else {
        return Err(ApiError::not_found(&format!("no token {id:?}")));
    };
    st.store.delete(key).await?;
    tracing::info!(token = %id, "admin token revoked");
    Ok(Json(to_out(&rec, now_secs())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tokens_made_here_have_an_id() {
        assert_eq!(token_id("oio_0123456789ab_ffee"), Some("0123456789ab"));
        for t in [
            "oio_0123456789ab_",
            "oio_0123456789a_x",
            "oio_0123456789zz_x",
            "bootstrap-token-123",
            "oio_",
        ] {
            assert_eq!(token_id(t), None, "{t}");
        }
    }
}
