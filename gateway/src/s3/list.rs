//! Listing objects: ListObjects (v1, by marker) and ListObjectsV2 (by
//! continuation token) over the one listing of the object layer.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::*;

/// What both listings ask for.
struct Ask<'a> {
    bucket: &'a str,
    prefix: &'a str,
    delimiter: Option<&'a str>,
    token: Option<String>,
    start_after: Option<&'a str>,
    max_keys: Option<i32>,
}

/// Runs a listing; the page and the max-keys answered.
async fn list(g: &Gateway, a: Ask<'_>) -> S3Result<(object::ListPage, i32)> {
    let max_keys = a.max_keys.unwrap_or(1000);
    if max_keys < 0 {
        return Err(s3_error!(InvalidArgument, "max-keys must be non-negative"));
    }
    let page = g
        .objects
        .list(
            a.bucket,
            a.prefix,
            a.delimiter,
            a.token.as_deref(),
            a.start_after,
            (max_keys as usize).min(1000),
        )
        .await
        .map_err(|e| match e {
            object::Error::Body(m) => s3_error!(InvalidArgument, "{m}"),
            e => s3_err(e),
        })?;
    Ok((page, max_keys))
}

/// Whether the response URL-encodes keys (`encoding-type=url`); any other
/// value is refused, as AWS does.
fn url_encoding(e: Option<&EncodingType>) -> S3Result<bool> {
    match e.map(|e| e.as_str()) {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(other) => Err(s3_error!(
            InvalidArgument,
            "Invalid Encoding Method specified in Request: {other}"
        )),
    }
}

/// Every byte but unreserved characters and `/` percent-encoded (a `+` or
/// a space too, so that both `unquote` and `unquote_plus` give it back).
const KEY_ESCAPE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// A key, prefix or marker as the response carries it.
fn enc(url: bool, s: String) -> String {
    if url {
        percent_encoding::utf8_percent_encode(&s, KEY_ESCAPE).to_string()
    } else {
        s
    }
}

fn contents(page: &mut object::ListPage, url: bool, owner: Option<&Owner>) -> Vec<Object> {
    std::mem::take(&mut page.objects)
        .into_iter()
        .map(|o| Object {
            key: Some(enc(url, o.key)),
            size: Some(o.size as i64),
            e_tag: Some(etag(&o.etag)),
            last_modified: Some(ts_ms(o.created_ms)),
            storage_class: Some(ObjectStorageClass::from_static(
                ObjectStorageClass::STANDARD,
            )),
            owner: owner.cloned(),
            ..Default::default()
        })
        .collect()
}

fn prefixes(page: &mut object::ListPage, url: bool) -> Vec<CommonPrefix> {
    std::mem::take(&mut page.prefixes)
        .into_iter()
        .map(|p| CommonPrefix {
            prefix: Some(enc(url, p)),
        })
        .collect()
}

/// The bucket owner, as a listing names each object's (objects belong to
/// their bucket's owner).
async fn bucket_owner(g: &Gateway, bucket: &str) -> S3Result<Owner> {
    let b = g.objects.bucket(bucket).await.map_err(s3_err)?;
    Ok(owner(&b.owner))
}

pub(super) async fn list_objects_v2(
    g: &Gateway,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let input = req.input;
    let url = url_encoding(input.encoding_type.as_ref())?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let (mut page, max_keys) = list(
        g,
        Ask {
            bucket: &input.bucket,
            prefix: &prefix,
            delimiter: input.delimiter.as_deref(),
            token: input.continuation_token.clone(),
            start_after: input.start_after.as_deref(),
            max_keys: input.max_keys,
        },
    )
    .await?;
    let owner = match input.fetch_owner {
        Some(true) => Some(bucket_owner(g, &input.bucket).await?),
        _ => None,
    };
    let key_count = (page.objects.len() + page.prefixes.len()) as i32;
    let out = ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(enc(url, prefix)),
        delimiter: input.delimiter.map(|d| enc(url, d)),
        max_keys: Some(max_keys),
        key_count: Some(key_count),
        continuation_token: input.continuation_token,
        start_after: input.start_after.map(|s| enc(url, s)),
        is_truncated: Some(page.next.is_some()),
        next_continuation_token: page.next.clone(),
        contents: Some(contents(&mut page, url, owner.as_ref())),
        common_prefixes: Some(prefixes(&mut page, url)),
        encoding_type: input.encoding_type,
        ..Default::default()
    };
    Ok(S3Response::new(out))
}

/// ListObjects (v1): resumes after `marker`; `NextMarker` (the last key or
/// common prefix) is answered when truncated and a delimiter was given, as
/// AWS does (without one, clients go on from the last key).
pub(super) async fn list_objects(
    g: &Gateway,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let input = req.input;
    let url = url_encoding(input.encoding_type.as_ref())?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.as_deref().filter(|d| !d.is_empty());
    let marker = input.marker.clone().filter(|m| !m.is_empty());
    let (mut page, max_keys) = list(
        g,
        Ask {
            bucket: &input.bucket,
            prefix: &prefix,
            delimiter,
            token: marker
                .as_deref()
                .map(|m| object::marker_token(m, delimiter)),
            start_after: None,
            max_keys: input.max_keys,
        },
    )
    .await?;
    let owner = bucket_owner(g, &input.bucket).await?;
    let truncated = page.next.is_some();
    let next_marker = page
        .next_marker
        .take()
        .filter(|_| truncated && delimiter.is_some())
        .map(|m| enc(url, m));
    let out = ListObjectsOutput {
        name: Some(input.bucket),
        prefix: Some(enc(url, prefix)),
        delimiter: input.delimiter.map(|d| enc(url, d)),
        marker: Some(enc(url, marker.unwrap_or_default())),
        next_marker,
        max_keys: Some(max_keys),
        is_truncated: Some(truncated),
        contents: Some(contents(&mut page, url, Some(&owner))),
        common_prefixes: Some(prefixes(&mut page, url)),
        encoding_type: input.encoding_type,
        ..Default::default()
    };
    Ok(S3Response::new(out))
}

/// ListObjectVersions: every version and delete marker, key by key, newest
/// first, resumed after `key-marker` (and `version-id-marker`).
pub(super) async fn list_object_versions(
    g: &Gateway,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let input = req.input;
    let url = url_encoding(input.encoding_type.as_ref())?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let max_keys = input.max_keys.unwrap_or(1000);
    if max_keys < 0 {
        return Err(s3_error!(InvalidArgument, "max-keys must be non-negative"));
    }
    if input
        .version_id_marker
        .as_deref()
        .is_some_and(|v| !v.is_empty())
        && input.key_marker.as_deref().is_none_or(str::is_empty)
    {
        return Err(s3_error!(
            InvalidArgument,
            "A version-id marker cannot be specified without a key marker."
        ));
    }
    let delimiter = input.delimiter.as_deref().filter(|d| !d.is_empty());
    let mut page = g
        .objects
        .list_versions(
            &input.bucket,
            &prefix,
            delimiter,
            input.key_marker.as_deref(),
            input.version_id_marker.as_deref(),
            (max_keys as usize).min(1000),
        )
        .await
        .map_err(s3_err)?;
    let owner = bucket_owner(g, &input.bucket).await?;
    let (mut versions, mut markers) = (Vec::new(), Vec::new());
    for v in std::mem::take(&mut page.versions) {
        let r = v.rec;
        if r.delete_marker {
            markers.push(DeleteMarkerEntry {
                is_latest: Some(v.is_latest),
                key: Some(enc(url, r.key.clone())),
                last_modified: Some(ts_ms(r.created_ms)),
                owner: Some(owner.clone()),
                version_id: Some(r.s3_version_id()),
            });
        } else {
            versions.push(ObjectVersion {
                e_tag: Some(etag(&r.etag)),
                is_latest: Some(v.is_latest),
                key: Some(enc(url, r.key.clone())),
                last_modified: Some(ts_ms(r.created_ms)),
                owner: Some(owner.clone()),
                size: Some(r.size as i64),
                storage_class: Some(ObjectVersionStorageClass::from_static(
                    ObjectVersionStorageClass::STANDARD,
                )),
                version_id: Some(r.s3_version_id()),
                ..Default::default()
            });
        }
    }
    let (next_key, next_version) = match page.next.take() {
        Some((k, v)) => (Some(enc(url, k)), v),
        None => (None, None),
    };
    Ok(S3Response::new(ListObjectVersionsOutput {
        name: Some(input.bucket),
        prefix: Some(enc(url, prefix)),
        delimiter: input.delimiter.map(|d| enc(url, d)),
        key_marker: Some(enc(url, input.key_marker.unwrap_or_default())),
        version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
        max_keys: Some(max_keys),
        is_truncated: Some(next_key.is_some()),
        next_key_marker: next_key,
        next_version_id_marker: next_version,
        versions: Some(versions),
        delete_markers: Some(markers),
        common_prefixes: Some(
            std::mem::take(&mut page.prefixes)
                .into_iter()
                .map(|p| CommonPrefix {
                    prefix: Some(enc(url, p)),
                })
                .collect(),
        ),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}
