//! Bucket operations: list, create, head, delete.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use super::*;

pub(super) async fn list_buckets(
    g: &Gateway,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    // The caller's own buckets (the authorization stage refused anonymous).
    let who = crate::authz::caller(&req.extensions)
        .unwrap_or_default()
        .to_string();
    let buckets = g.objects.list_buckets().await.map_err(s3_err)?;
    let out = ListBucketsOutput {
        buckets: Some(
            buckets
                .into_iter()
                .filter(|b| b.owner == who)
                .map(|b| Bucket {
                    name: Some(b.name),
                    creation_date: Some(ts_ms(b.created * 1000)),
                    ..Default::default()
                })
                .collect(),
        ),
        owner: Some(owner(&who)),
        continuation_token: None,
        prefix: None,
    };
    Ok(S3Response::new(out))
}

pub(super) async fn create_bucket(
    g: &Gateway,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let who = crate::authz::caller(&req.extensions)
        .unwrap_or_default()
        .to_string();
    if has_grants(&req.headers) {
        return Err(grants_not_implemented());
    }
    let acl = bucket_acl(req.input.acl.as_ref())?;
    g.objects
        .create_bucket(&req.input.bucket, &who, acl)
        .await
        .map_err(s3_err)?;
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{}", req.input.bucket)),
    }))
}

pub(super) async fn head_bucket(
    g: &Gateway,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    g.objects.bucket(&req.input.bucket).await.map_err(s3_err)?;
    Ok(S3Response::new(HeadBucketOutput::default()))
}

/// GetBucketLocation: the cluster's one region, us-east-1, which AWS
/// answers as an empty location constraint.
pub(super) async fn get_bucket_location(
    g: &Gateway,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    g.objects.bucket(&req.input.bucket).await.map_err(s3_err)?;
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint: None,
    }))
}

pub(super) async fn delete_bucket(
    g: &Gateway,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    g.objects
        .delete_bucket(&req.input.bucket)
        .await
        .map_err(s3_err)?;
    Ok(S3Response::new(DeleteBucketOutput::default()))
}
