//! Buckets: the same object layer as the S3 gateway creates, reads and
//! deletes them.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use objectio_api::*;
use objectio_cluster::{BucketRecord, CannedAcl, Versioning};

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/buckets", get(list).post(create))
        .route("/api/v1/buckets/{name}", get(info).delete(delete))
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

/// A name that is not a bucket name: 400 saying why.
fn check_name(name: &str) -> Result<(), ApiError> {
    objectio_object::valid_bucket_name(name)
        .map_err(|why| ApiError::bad_request(&format!("invalid bucket name {name:?}: {why}")))
}

/// Creates a bucket owned by a user, as S3 CreateBucket does for that
/// user (private, versioning off unless object lock is asked for).
#[utoipa::path(post, path = "/api/v1/buckets", operation_id = "bucket.create", tag = "buckets",
    security(("bearer" = [])), request_body = BucketIn,
    responses((status = 201, body = BucketInfoOut), (status = 400, body = ErrorOut), (status = 401, body = ErrorOut),
        (status = 404, body = ErrorOut, description = "No such owner"),
        (status = 409, body = ErrorOut, description = "A bucket of that name exists")))]
pub async fn create(
    _: Admin,
    State(st): State<AppState>,
    crate::v1::Body(input): crate::v1::Body<BucketIn>,
) -> Result<(StatusCode, Json<BucketInfoOut>), ApiError> {
    check_name(&input.name)?;
    st.objects
        .create_bucket(
            &input.name,
            &input.owner,
            CannedAcl::default(),
            input.object_lock,
        )
        .await?;
    tracing::info!(bucket = %input.name, owner = %input.owner, "bucket created");
    Ok((StatusCode::CREATED, Json(info_of(&st, &input.name).await?)))
}

async fn info_of(st: &AppState, name: &str) -> Result<BucketInfoOut, ApiError> {
    let b = st.objects.bucket(name).await?;
    let u = st.objects.bucket_usage(name).await?;
    let uploads = st.store.count(st.store.keys().uploads_prefix(name)).await?;
    Ok(BucketInfoOut {
        name: b.name,
        owner: b.owner,
        created: rfc3339(b.created),
        objects: u.objects,
        versions: u.versions,
        delete_markers: u.delete_markers,
        bytes: u.bytes,
        uploads,
        versioning: match b.versioning {
            None => "off",
            Some(Versioning::Enabled) => "enabled",
            Some(Versioning::Suspended) => "suspended",
        }
        .into(),
        object_lock: b.object_lock.is_some(),
        policy: b.policy.is_some(),
        lifecycle_rules: b.lifecycle.as_ref().map_or(0, |r| r.len() as u32),
        cors: b.cors.is_some(),
        tags: b.tags,
    })
}

/// A bucket: owner, creation, what it holds (objects, versions, bytes,
/// uploads; counted from the index, so it takes longer for larger
/// buckets) and which configurations are set.
#[utoipa::path(get, path = "/api/v1/buckets/{name}", operation_id = "bucket.info", tag = "buckets",
    security(("bearer" = [])), params(("name" = String, Path, description = "The bucket")),
    responses((status = 200, body = BucketInfoOut), (status = 400, body = ErrorOut), (status = 401, body = ErrorOut),
        (status = 404, body = ErrorOut)))]
pub async fn info(
    _: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<BucketInfoOut>, ApiError> {
    check_name(&name)?;
    Ok(Json(info_of(&st, &name).await?))
}

/// Deletes a bucket. One that holds objects (or versions, or delete
/// markers) is refused unless `force`, which deletes every version first;
/// uploads in progress are aborted with it, as S3 DeleteBucket does.
/// A version under object lock stops a forced delete (409) with the
/// versions before it deleted.
#[utoipa::path(delete, path = "/api/v1/buckets/{name}", operation_id = "bucket.delete", tag = "buckets",
    security(("bearer" = [])), params(("name" = String, Path, description = "The bucket"), BucketDeleteQuery),
    responses((status = 200, body = BucketDeletedOut), (status = 400, body = ErrorOut), (status = 401, body = ErrorOut),
        (status = 404, body = ErrorOut), (status = 409, body = ErrorOut, description = "Not empty, or object lock")))]
pub async fn delete(
    _: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<BucketDeleteQuery>,
) -> Result<Json<BucketDeletedOut>, ApiError> {
    check_name(&name)?;
    let versions_deleted = if q.force {
        st.objects.empty_and_delete_bucket(&name).await?
    } else {
        match st.objects.delete_bucket(&name).await {
            Err(objectio_object::Error::BucketNotEmpty(_)) => {
                let u = st.objects.bucket_usage(&name).await?;
                return Err(ApiError::conflict(&format!(
                    "bucket {name} is not empty ({} objects, {} versions, {} delete markers): delete them first, or pass force (--force)",
                    u.objects, u.versions, u.delete_markers
                )));
            }
            r => r?,
        }
        0
    };
    st.objects.forget_bucket(&name);
    tracing::info!(bucket = %name, versions_deleted, "bucket deleted");
    Ok(Json(BucketDeletedOut {
        name,
        versions_deleted,
    }))
}
