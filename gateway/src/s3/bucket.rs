//! Bucket operations: list, create, head, delete.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

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
    let region = &g.authz.region;
    if let Some(c) = req
        .input
        .create_bucket_configuration
        .as_ref()
        .and_then(|c| c.location_constraint.as_ref())
        && !c.as_str().is_empty()
        && !crate::authz::region_accepted(region, c.as_str())
    {
        return Err(s3_error!(
            IllegalLocationConstraintException,
            "The {} location constraint is incompatible for the region specific endpoint this request was sent to ({region}).",
            c.as_str()
        ));
    }
    g.objects
        .create_bucket(
            &req.input.bucket,
            &who,
            acl,
            req.input.object_lock_enabled_for_bucket == Some(true),
        )
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

/// GetBucketLocation: the endpoint's region, us-east-1 answered as an
/// empty location constraint (as AWS does).
pub(super) async fn get_bucket_location(
    g: &Gateway,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    g.objects.bucket(&req.input.bucket).await.map_err(s3_err)?;
    let region = &g.authz.region;
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint: (region != "us-east-1")
            .then(|| BucketLocationConstraint::from(region.clone())),
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
