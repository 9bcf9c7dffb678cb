//! The metadata service itself: rebuilding the index from disk scans.

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use axum::{Json, Router};
use objectio_api::*;

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;

/// Largest rebuild request (the scans of every disk): about three million
/// shard headers.
const REBUILD_BODY_LIMIT: usize = 1 << 30;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/v1/meta/rebuild",
        post(rebuild).layer(DefaultBodyLimit::max(REBUILD_BODY_LIMIT)),
    )
}

/// Rebuilds buckets and the object index from the raw scans of every disk
/// (`objectio-cli disk scan`): a version stands when `k` whole shards with
/// agreeing headers are live on their disks, multipart objects come back
/// from their manifests, and the newest version of each key wins. Refused
/// (409) when the index is not empty, unless `force`; `dry_run` writes
/// nothing and says what would be created.
#[utoipa::path(post, path = "/api/v1/meta/rebuild", operation_id = "meta.rebuild", tag = "meta",
    security(("bearer" = [])), request_body = RebuildIn,
    responses((status = 200, body = RebuildOut), (status = 400, body = ErrorOut), (status = 401, body = ErrorOut),
        (status = 404, body = ErrorOut), (status = 409, body = ErrorOut)))]
pub async fn rebuild(
    _: Admin,
    State(st): State<AppState>,
    Json(input): Json<RebuildIn>,
) -> Result<Json<RebuildOut>, ApiError> {
    Ok(Json(crate::rebuild::rebuild(&st, input).await?))
}
