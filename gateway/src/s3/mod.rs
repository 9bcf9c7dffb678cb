//! The S3 layer: `s3s` parses requests, verifies SigV4 (headers, presigned,
//! `aws-chunked` with trailers) and renders XML; the authorization stage
//! ([`crate::authz`]) has allowed the request before any handler here
//! runs. Handlers translate to the object layer, one file per operation
//! family: [`bucket`], [`access`] (bucket policies and ACLs), [`put`],
//! [`copy`], [`delete`], [`get`], [`list`], [`multipart`], [`config`]
//! (tags, versioning, lifecycle, CORS), [`lock`] (object lock), [`post`]
//! (browser forms), with [`meta`] (what objects carry besides their bodies,
//! and conditions). [`ops::OPERATIONS`] lists every S3 operation, served
//! or not; the authorization stage answers the ones not served with
//! `NotImplemented` in proper S3 XML.

mod access;
mod bucket;
mod config;
mod copy;
mod delete;
mod get;
mod list;
mod lock;
mod meta;
mod multipart;
pub mod ops;
pub mod post;
mod put;
pub mod sse;

use objectio_cluster::{CannedAcl, ObjectRecord};
use s3s::dto::*;
use s3s::{S3, S3Error, S3Request, S3Response, S3Result, s3_error};

use crate::object::{self, Objects};

/// The S3 service.
#[derive(Clone)]
pub struct Gateway {
    pub objects: Objects,
    /// The authorization stage's copy of the buckets: a bucket's policy or
    /// ACL change answers once it is in it, so this gateway's next request
    /// is decided by the new one.
    pub buckets: objectio_cluster::mirror::Mirror,
    /// The authorization stage, for operations that name more than their
    /// path (DeleteObjects' keys, a copy's source).
    pub authz: crate::authz::Authorizer,
    /// The master key of SSE-S3, when configured.
    pub sse: Option<sse::MasterKey>,
}

impl Gateway {
    /// Waits (briefly) until this gateway's copy of the buckets holds the
    /// change made at `revision`.
    async fn seen(&self, revision: i64) {
        if !self
            .buckets
            .wait_revision(revision, std::time::Duration::from_secs(2))
            .await
        {
            tracing::warn!(revision, "bucket change not yet in this gateway's copy");
        }
    }
}

/// Every operation served, each by its family's handler.
#[async_trait::async_trait]
impl S3 for Gateway {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        bucket::list_buckets(self, req).await
    }
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        bucket::create_bucket(self, req).await
    }
    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        bucket::head_bucket(self, req).await
    }
    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        bucket::delete_bucket(self, req).await
    }
    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        access::get_bucket_policy(self, req).await
    }
    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        access::put_bucket_policy(self, req).await
    }
    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        access::delete_bucket_policy(self, req).await
    }
    async fn get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        access::get_bucket_policy_status(self, req).await
    }
    async fn get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        access::get_bucket_acl(self, req).await
    }
    async fn put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        access::put_bucket_acl(self, req).await
    }
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        put::put_object(self, req).await
    }
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        delete::delete_object(self, req).await
    }
    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        delete::delete_objects(self, req).await
    }
    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        copy::copy_object(self, req).await
    }
    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        copy::upload_part_copy(self, req).await
    }
    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        config::get_object_tagging(self, req).await
    }
    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        config::put_object_tagging(self, req).await
    }
    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        config::delete_object_tagging(self, req).await
    }
    async fn get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        config::get_bucket_tagging(self, req).await
    }
    async fn put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        config::put_bucket_tagging(self, req).await
    }
    async fn delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        config::delete_bucket_tagging(self, req).await
    }
    async fn get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        config::get_bucket_cors(self, req).await
    }
    async fn put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        config::put_bucket_cors(self, req).await
    }
    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        config::delete_bucket_cors(self, req).await
    }
    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        config::get_bucket_versioning(self, req).await
    }
    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        config::put_bucket_versioning(self, req).await
    }
    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        list::list_object_versions(self, req).await
    }
    async fn post_object(
        &self,
        req: S3Request<PostObjectInput>,
    ) -> S3Result<S3Response<PostObjectOutput>> {
        post::post_object(self, req).await
    }
    async fn get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        config::get_bucket_lifecycle_configuration(self, req).await
    }
    async fn put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        config::put_bucket_lifecycle_configuration(self, req).await
    }
    async fn delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        config::delete_bucket_lifecycle(self, req).await
    }
    async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        get::get_object_attributes(self, req).await
    }
    async fn get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
        lock::get_object_lock_configuration(self, req).await
    }
    async fn put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
        lock::put_object_lock_configuration(self, req).await
    }
    async fn get_object_retention(
        &self,
        req: S3Request<GetObjectRetentionInput>,
    ) -> S3Result<S3Response<GetObjectRetentionOutput>> {
        lock::get_object_retention(self, req).await
    }
    async fn put_object_retention(
        &self,
        req: S3Request<PutObjectRetentionInput>,
    ) -> S3Result<S3Response<PutObjectRetentionOutput>> {
        lock::put_object_retention(self, req).await
    }
    async fn get_object_legal_hold(
        &self,
        req: S3Request<GetObjectLegalHoldInput>,
    ) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
        lock::get_object_legal_hold(self, req).await
    }
    async fn put_object_legal_hold(
        &self,
        req: S3Request<PutObjectLegalHoldInput>,
    ) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
        lock::put_object_legal_hold(self, req).await
    }
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        get::get_object(self, req).await
    }
    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        get::head_object(self, req).await
    }
    async fn get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        access::get_object_acl(self, req).await
    }
    async fn put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        access::put_object_acl(self, req).await
    }
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        list::list_objects_v2(self, req).await
    }
    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        list::list_objects(self, req).await
    }
    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        bucket::get_bucket_location(self, req).await
    }
    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        multipart::create_multipart_upload(self, req).await
    }
    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        multipart::upload_part(self, req).await
    }
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        multipart::complete_multipart_upload(self, req).await
    }
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        multipart::abort_multipart_upload(self, req).await
    }
    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        multipart::list_parts(self, req).await
    }
    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        multipart::list_multipart_uploads(self, req).await
    }
}

/// Maps object-layer errors to S3 codes; internal details go to the log.
fn s3_err(e: object::Error) -> S3Error {
    use object::Error as E;
    match e {
        E::NoSuchBucket(b) => s3_error!(NoSuchBucket, "The specified bucket {b} does not exist"),
        E::NoSuchKey => s3_error!(NoSuchKey),
        E::NoSuchVersion => s3_error!(NoSuchVersion, "The specified version does not exist."),
        E::DeleteMarker(v) => {
            let mut e = s3_error!(
                MethodNotAllowed,
                "The specified method is not allowed against this resource."
            );
            let mut h = http::HeaderMap::new();
            h.insert(
                "x-amz-delete-marker",
                http::HeaderValue::from_static("true"),
            );
            if let Ok(v) = http::HeaderValue::from_str(&v) {
                h.insert("x-amz-version-id", v);
            }
            e.set_headers(h);
            e
        }
        E::BucketNotEmpty(_) => s3_error!(BucketNotEmpty),
        E::InvalidBucketName(_) => s3_error!(InvalidBucketName),
        // The caller's user was deleted while it created the bucket.
        E::NoSuchUser(_) => s3_error!(AccessDenied),
        E::BucketExists { owned_by_you: true } => s3_error!(BucketAlreadyOwnedByYou),
        E::BucketExists {
            owned_by_you: false,
        } => s3_error!(BucketAlreadyExists),
        E::IncompleteBody { got, expected } => {
            s3_error!(IncompleteBody, "got {got} of {expected} bytes")
        }
        E::BadDigest(m) => s3_error!(BadDigest, "{m}"),
        E::NoSuchUpload(_) => s3_error!(NoSuchUpload),
        E::InvalidPart(m) => s3_error!(InvalidPart, "{m}"),
        E::InvalidPartOrder => s3_error!(InvalidPartOrder),
        E::EntityTooSmall(m) => s3_error!(EntityTooSmall, "{m}"),
        E::InvalidArgument(m) => s3_error!(InvalidArgument, "{m}"),
        E::PreconditionFailed => s3_error!(PreconditionFailed),
        E::KeyNeeded => s3_error!(
            InvalidRequest,
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."
        ),
        E::WrongKey => s3_error!(
            AccessDenied,
            "The SSE-C key provided does not match the one the object was stored with"
        ),
        E::Locked(why) => s3_error!(
            AccessDenied,
            "Access Denied because object protected by object lock ({why})"
        ),
        E::Body(m) => s3_error!(InvalidRequest, "{m}"),
        E::Unavailable(m) => {
            let id = uuid::Uuid::new_v4();
            tracing::error!(request_id = %id, error = %m, "service unavailable");
            s3_error!(
                ServiceUnavailable,
                "The cluster cannot serve this now: {m} (request id {id}). Please retry later."
            )
        }
        E::Etcd(e) | E::Cluster(objectio_cluster::Error::Etcd(e)) => {
            let id = uuid::Uuid::new_v4();
            tracing::error!(request_id = %id, error = %e, "metadata store unavailable");
            s3_error!(
                ServiceUnavailable,
                "The metadata store is unavailable (request id {id}). Please retry."
            )
        }
        other => {
            let id = uuid::Uuid::new_v4();
            tracing::error!(request_id = %id, error = %other, "internal error");
            s3_error!(
                InternalError,
                "We encountered an internal error (request id {id}). Please try again."
            )
        }
    }
}

/// The S3 `Owner` of a user: its name as both ID and display name.
fn owner(user: &str) -> Owner {
    Owner {
        display_name: Some(user.to_string()),
        id: Some(user.to_string()),
    }
}

/// The canned ACL of an `x-amz-acl` on a bucket.
fn bucket_acl(v: Option<&BucketCannedACL>) -> S3Result<CannedAcl> {
    canned(v.map(|a| a.as_str()))
}

/// The canned ACL of an `x-amz-acl` on an object.
fn object_acl(v: Option<&ObjectCannedACL>) -> S3Result<CannedAcl> {
    canned(v.map(|a| a.as_str()))
}

fn canned(v: Option<&str>) -> S3Result<CannedAcl> {
    match v {
        None => Ok(CannedAcl::Private),
        Some(s) => CannedAcl::parse(s).ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "x-amz-acl {s:?} is not supported: use private, public-read, public-read-write or authenticated-read"
            )
        }),
    }
}

/// Whether a request carries `x-amz-grant-*` headers (explicit grants).
fn has_grants(h: &http::HeaderMap) -> bool {
    h.keys().any(|k| k.as_str().starts_with("x-amz-grant-"))
}

fn grants_not_implemented() -> S3Error {
    s3_error!(
        NotImplemented,
        "Explicit grants (x-amz-grant-*, grants by e-mail or id) are not supported; use a canned ACL (x-amz-acl) or a bucket policy"
    )
}

/// The `x-amz-checksum-type` of a kept checksum.
fn checksum_type(full_object: bool) -> ChecksumType {
    ChecksumType::from_static(if full_object {
        ChecksumType::FULL_OBJECT
    } else {
        ChecksumType::COMPOSITE
    })
}

/// An object's kept checksum, if it is of algorithm `a`.
fn stored_checksum(rec: &ObjectRecord, a: objectio_cluster::ChecksumAlgorithm) -> Option<String> {
    rec.checksum
        .as_ref()
        .filter(|c| c.algorithm == a)
        .map(|c| c.value.clone())
}

fn etag(e: &str) -> ETag {
    ETag::Strong(e.to_string())
}

fn ts_ms(ms: u64) -> Timestamp {
    Timestamp::from(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
}

fn metadata(r: &ObjectRecord) -> Option<Metadata> {
    (!r.user_metadata.is_empty()).then(|| r.user_metadata.clone().into_iter().collect())
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}
