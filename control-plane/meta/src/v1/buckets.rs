//! Buckets.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use objectio_api::*;
use objectio_cluster::BucketRecord;

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/buckets", get(list))
}

/// Lists every bucket with its object count.
#[utoipa::path(get, path = "/api/v1/buckets", operation_id = "bucket.list", tag = "buckets",
    security(("bearer" = [])),
    responses((status = 200, body = ListBucketsOut), (status = 401, body = ErrorOut)))]
pub async fn list(_: Admin, State(st): State<AppState>) -> Result<Json<ListBucketsOut>, ApiError> {
    let store = &st.store;
    let mut buckets = Vec::new();
    for (_, b) in store
        .list::<BucketRecord>(store.keys().buckets_prefix())
        .await?
    {
        let objects = store.count(store.keys().objects_prefix(&b.name)).await?;
        buckets.push(BucketOut {
            name: b.name,
            owner: b.owner,
            created: rfc3339(b.created),
            objects,
        });
    }
    Ok(Json(ListBucketsOut { buckets }))
}
