//! Deletes: DeleteObject and DeleteObjects (batch, up to 1000 keys, each
//! authorized on its own as AWS does; the body's Content-MD5 or checksum
//! is required and verified by [`crate::integrity`] before it is parsed).

use futures::StreamExt;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::*;

/// Keys of one DeleteObjects deleted at once.
const DELETES_IN_FLIGHT: usize = 16;

/// The most keys one DeleteObjects may name.
const MAX_KEYS: usize = 1000;

pub(super) async fn delete_object(
    g: &Gateway,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let i = &req.input;
    let bypass = super::lock::bypass(
        g,
        &req.extensions,
        i.bypass_governance_retention,
        &i.bucket,
        &i.key,
    )
    .await?;
    let d = g
        .objects
        .delete(&i.bucket, &i.key, i.version_id.as_deref(), bypass)
        .await
        .map_err(s3_err)?;
    Ok(S3Response::new(DeleteObjectOutput {
        delete_marker: d.delete_marker.then_some(true),
        version_id: d.version_id,
        ..Default::default()
    }))
}

pub(super) async fn delete_objects(
    g: &Gateway,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let bucket = req.input.bucket.clone();
    let delete = req.input.delete;
    if delete.objects.is_empty() || delete.objects.len() > MAX_KEYS {
        return Err(s3_error!(
            MalformedXML,
            "A DeleteObjects request names 1 to {MAX_KEYS} keys, this one {}",
            delete.objects.len()
        ));
    }
    g.objects.bucket(&bucket).await.map_err(s3_err)?;
    let quiet = delete.quiet.unwrap_or(false);
    let ext = &req.extensions;
    let bypass = req.input.bypass_governance_retention;
    let results: Vec<Result<DeletedObject, Error>> =
        futures::stream::iter(delete.objects.into_iter().map(|o| {
            let bucket = bucket.as_str();
            async move { delete_one(g, ext, bucket, o, bypass).await }
        }))
        .buffered(DELETES_IN_FLIGHT)
        .collect()
        .await;
    let (mut deleted, mut errors) = (Vec::new(), Vec::new());
    for r in results {
        match r {
            Ok(d) if !quiet => deleted.push(d),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: Some(errors),
        request_charged: None,
    }))
}

/// One key of a DeleteObjects: deleted (or not there, which is the same to
/// S3), or the error that key answers.
async fn delete_one(
    g: &Gateway,
    ext: &http::Extensions,
    bucket: &str,
    o: ObjectIdentifier,
    bypass: Option<bool>,
) -> Result<DeletedObject, Error> {
    let fail = |code: &str, message: String| Error {
        code: Some(code.to_string()),
        key: Some(o.key.clone()),
        message: Some(message),
        version_id: o.version_id.clone(),
    };
    if o.key.is_empty() || o.key.len() > 1024 {
        return Err(fail(
            "InvalidArgument",
            "Object keys are 1 to 1024 bytes long".into(),
        ));
    }
    match g
        .authz
        .allows(ext, "DeleteObject", bucket, Some(&o.key))
        .await
    {
        Ok(true) => {}
        Ok(false) => return Err(fail("AccessDenied", "Access Denied".into())),
        Err(e) => {
            return Err(fail(
                e.code().as_str(),
                e.message().unwrap_or("").to_string(),
            ));
        }
    }
    let bypass = match super::lock::bypass(g, ext, bypass, bucket, &o.key).await {
        Ok(b) => b,
        Err(e) => {
            return Err(fail(
                e.code().as_str(),
                e.message().unwrap_or("").to_string(),
            ));
        }
    };
    match g
        .objects
        .delete(bucket, &o.key, o.version_id.as_deref(), bypass)
        .await
    {
        Ok(d) => Ok(DeletedObject {
            key: Some(o.key.clone()),
            version_id: o.version_id.clone(),
            // A delete marker made (no version named) or deleted.
            delete_marker: d.delete_marker.then_some(true),
            delete_marker_version_id: (d.delete_marker && o.version_id.is_none())
                .then_some(d.version_id)
                .flatten(),
        }),
        Err(object::Error::InvalidArgument(_)) => Err(fail(
            "NoSuchVersion",
            "The specified version does not exist.".into(),
        )),
        Err(e) => {
            let e = s3_err(e);
            Err(fail(
                e.code().as_str(),
                e.message().unwrap_or("").to_string(),
            ))
        }
    }
}
