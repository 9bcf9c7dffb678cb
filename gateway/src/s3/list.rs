//! Listing objects.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::*;

pub(super) async fn list_objects_v2(
    g: &Gateway,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let input = req.input;
    let max_keys = input.max_keys.unwrap_or(1000);
    if max_keys < 0 {
        return Err(s3_error!(InvalidArgument, "max-keys must be non-negative"));
    }
    let max = (max_keys as usize).min(1000);
    let prefix = input.prefix.clone().unwrap_or_default();
    let page = g
        .objects
        .list(
            &input.bucket,
            &prefix,
            input.delimiter.as_deref(),
            input.continuation_token.as_deref(),
            input.start_after.as_deref(),
            max,
        )
        .await
        .map_err(|e| match e {
            object::Error::Body(m) => s3_error!(InvalidArgument, "{m}"),
            e => s3_err(e),
        })?;
    let key_count = (page.objects.len() + page.prefixes.len()) as i32;
    let out = ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(prefix),
        delimiter: input.delimiter,
        max_keys: Some(max_keys),
        key_count: Some(key_count),
        continuation_token: input.continuation_token,
        start_after: input.start_after,
        is_truncated: Some(page.next.is_some()),
        next_continuation_token: page.next,
        contents: Some(
            page.objects
                .into_iter()
                .map(|o| Object {
                    key: Some(o.key),
                    size: Some(o.size as i64),
                    e_tag: Some(etag(&o.etag)),
                    last_modified: Some(ts_ms(o.created_ms)),
                    storage_class: Some(ObjectStorageClass::from_static(
                        ObjectStorageClass::STANDARD,
                    )),
                    ..Default::default()
                })
                .collect(),
        ),
        common_prefixes: Some(
            page.prefixes
                .into_iter()
                .map(|p| CommonPrefix { prefix: Some(p) })
                .collect(),
        ),
        ..Default::default()
    };
    Ok(S3Response::new(out))
}
