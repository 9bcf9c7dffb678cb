//! POST uploads from browser forms (PostObject). s3s has verified the
//! form's signature over its policy, the policy's expiry and conditions
//! (`content-length-range` included) and read the file, at most
//! [`MAX_POST_BYTES`] (larger is EntityTooLarge: the file is held in
//! memory, so it is bounded well below S3's 5 GiB). Here the key the form
//! names is authorized (the stage saw only the bucket) and the object is
//! written through the one write path; `success_action_status` and
//! `success_action_redirect` are s3s's to answer.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::meta::object_meta;
use super::*;
use crate::object::index::Expect;
use crate::object::{PutParams, Wanted};

/// The largest file a form may upload.
pub const MAX_POST_BYTES: u64 = 64 << 20;

pub(super) async fn post_object(
    g: &Gateway,
    req: S3Request<PostObjectInput>,
) -> S3Result<S3Response<PostObjectOutput>> {
    let i = &req.input;
    if !g
        .authz
        .allows(&req.extensions, "PutObject", &i.bucket, Some(&i.key))
        .await?
    {
        return Err(s3_error!(AccessDenied, "Access Denied"));
    }
    if has_grants(&req.headers) {
        return Err(grants_not_implemented());
    }
    let acl = object_acl(i.acl.as_ref())?;
    let mut meta = object_meta!(i, acl)?;
    let input = req.input;
    super::lock::apply(
        g,
        &input.bucket,
        &mut meta,
        input.object_lock_mode.as_ref().map(|m| m.as_str()),
        input.object_lock_retain_until_date.as_ref(),
        input
            .object_lock_legal_hold_status
            .as_ref()
            .map(|s| s.as_str()),
    )
    .await?;
    let mut body = input.body.ok_or_else(|| s3_error!(IncompleteBody))?;
    let size = s3s::stream::ByteStream::remaining_length(&body)
        .exact()
        .ok_or_else(|| s3_error!(IncompleteBody, "the form's file has no known length"))?
        as u64;
    let params = PutParams {
        bucket: input.bucket,
        key: input.key,
        size,
        meta,
        wanted: Wanted::default(),
        checksum: None,
        data_key: None,
        expect: Expect::Any,
    };
    let (rec, _) = g
        .objects
        .put(params, &mut body, |_| Ok(()))
        .await
        .map_err(s3_err)?;
    Ok(S3Response::new(PostObjectOutput {
        e_tag: Some(etag(&rec.etag)),
        version_id: super::get::version_header(&rec),
        size: Some(rec.size as i64),
        ..Default::default()
    }))
}
