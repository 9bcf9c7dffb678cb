//! Bearer-token authorization, as an extractor each handler names.
//!
//! A token is one of the configuration's (bootstrap: admin scope) or one
//! created through `/api/v1/tokens` (`oio_<id>_<secret>`), found by its
//! id and checked against its stored SHA-256 and expiry. A `read` token may
//! send GET requests, except for the metadata export (it carries sealed
//! secrets) and the token routes themselves.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::AppState;
use crate::v1::ApiError;

/// Proof that the request carried a valid admin token.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let given = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
        // Compare every token in constant time for its length.
        let ok = state.tokens.iter().fold(false, |acc, t| {
            acc | constant_eq(t.as_bytes(), given.as_bytes())
        });
        if ok {
            return Ok(Admin);
        }
        let Some(id) = crate::v1::tokens::token_id(given) else {
            return Err(ApiError::unauthorized("invalid bearer token"));
        };
        let rec = state
            .store
            .get::<objectio_cluster::TokenRecord>(state.store.keys().token(id))
            .await?;
        let Some((rec, _)) = rec.filter(|(r, _)| {
            constant_eq(
                r.sha256.as_bytes(),
                crate::v1::tokens::token_hash(given).as_bytes(),
            )
        }) else {
            return Err(ApiError::unauthorized("invalid bearer token"));
        };
        if rec
            .expires
            .is_some_and(|e| e <= objectio_cluster::now_secs())
        {
            return Err(ApiError::unauthorized(&format!(
                "token {id} expired at {}",
                objectio_api::rfc3339(rec.expires.unwrap_or_default())
            )));
        }
        if rec.scope == objectio_cluster::TokenScope::Read
            && needs_admin(&parts.method, parts.uri.path())
        {
            return Err(ApiError::forbidden(&format!(
                "token {id} has scope read: {} {} needs an admin token",
                parts.method,
                parts.uri.path()
            )));
        }
        Ok(Admin)
    }
}

/// Whether a request needs the admin scope: anything but a GET, and the
/// GETs that hand out secrets or manage tokens.
fn needs_admin(method: &axum::http::Method, path: &str) -> bool {
    !matches!(*method, axum::http::Method::GET | axum::http::Method::HEAD)
        || path == "/api/v1/meta/export"
        || path == "/api/v1/tokens"
        || path.starts_with("/api/v1/tokens/")
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Declares the bearer scheme in the spec.
pub struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
