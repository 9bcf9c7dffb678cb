//! Copies: CopyObject (metadata and tagging directives, copy-source
//! conditions, across buckets, onto itself to change metadata) and
//! UploadPartCopy (with a source range). A copy reads its source through
//! the object layer's one read path and writes it through the one write
//! path, stripe by stripe: it holds no more than a PUT does, and is
//! independent of its source once committed (new shards, new data id).
//! Reading the source is authorized as a GetObject of it, by the same
//! authorization stage as every request.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::get::{read_version, version_header};
use super::meta::{Conditions, object_meta};
use super::*;
use crate::object::{ChecksumAlgorithm, ObjectMeta, PutParams, Wanted};

/// The SSE-C fields naming a copy source's key.
macro_rules! source_customer {
    ($i:expr) => {
        super::sse::CustomerKey {
            algorithm: $i.copy_source_sse_customer_algorithm.as_deref(),
            key: $i.copy_source_sse_customer_key.as_deref(),
            key_md5: $i.copy_source_sse_customer_key_md5.as_deref(),
        }
    };
}

/// The largest object a single copy may read (as in S3).
const MAX_COPY: u64 = 5 << 30;

/// The bucket, key and version of a copy source.
fn source(s: &CopySource) -> S3Result<(String, String, Option<String>)> {
    match s {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => Ok((
            bucket.to_string(),
            key.to_string(),
            version_id.as_deref().map(str::to_string),
        )),
        _ => Err(s3_error!(
            NotImplemented,
            "Access point copy sources are not supported"
        )),
    }
}

/// The source object of a copy, once the caller may read it and its
/// conditions hold.
async fn read_source(
    g: &Gateway,
    ext: &http::Extensions,
    headers: &http::HeaderMap,
    src: &CopySource,
    modified_since: Option<&Timestamp>,
    unmodified_since: Option<&Timestamp>,
) -> S3Result<ObjectRecord> {
    let (bucket, key, v) = source(src)?;
    if !g
        .authz
        .allows(ext, "GetObject", &bucket, Some(&key))
        .await?
    {
        return Err(s3_error!(AccessDenied, "Access Denied"));
    }
    let rec = read_version(g, &bucket, &key, v.as_deref()).await?;
    Conditions::of_copy_source(headers, modified_since, unmodified_since).check(&rec, true)?;
    Ok(rec)
}

fn too_large(size: u64) -> S3Error {
    s3_error!(
        InvalidRequest,
        "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_COPY} (it is {size} bytes)"
    )
}

/// Whether a directive header says REPLACE (COPY when absent).
fn replaces(name: &str, v: Option<&str>) -> S3Result<bool> {
    match v {
        None | Some("COPY") => Ok(false),
        Some("REPLACE") => Ok(true),
        Some(other) => Err(s3_error!(
            InvalidArgument,
            "Unknown {name} {other:?}: COPY or REPLACE"
        )),
    }
}

pub(super) async fn copy_object(
    g: &Gateway,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    if has_grants(&req.headers) {
        return Err(grants_not_implemented());
    }
    let i = &req.input;
    let replace_meta = replaces(
        "x-amz-metadata-directive",
        i.metadata_directive.as_ref().map(|d| d.as_str()),
    )?;
    let replace_tags = replaces(
        "x-amz-tagging-directive",
        i.tagging_directive.as_ref().map(|d| d.as_str()),
    )?;
    let src = read_source(
        g,
        &req.extensions,
        &req.headers,
        &i.copy_source,
        i.copy_source_if_modified_since.as_ref(),
        i.copy_source_if_unmodified_since.as_ref(),
    )
    .await?;
    let acl = object_acl(i.acl.as_ref())?;
    let mut meta = if replace_meta {
        object_meta!(i, acl)?
    } else {
        super::meta::storage(i.storage_class.as_ref())?;
        let mut m = ObjectMeta::of(&src);
        m.acl = acl;
        if let Some(w) = &i.website_redirect_location {
            m.headers.website_redirect_location = Some(w.clone());
        }
        m
    };
    meta.tags = if replace_tags {
        match &i.tagging {
            Some(t) => super::meta::parse_tagging(t)?,
            None => Default::default(),
        }
    } else {
        src.tags.clone()
    };
    super::lock::apply(
        g,
        &i.bucket,
        &mut meta,
        i.object_lock_mode.as_ref().map(|m| m.as_str()),
        i.object_lock_retain_until_date.as_ref(),
        i.object_lock_legal_hold_status.as_ref().map(|s| s.as_str()),
    )
    .await?;
    let same = src.bucket == i.bucket && src.key == i.key;
    if same && !replace_meta && !replace_tags && i.website_redirect_location.is_none() {
        return Err(s3_error!(
            InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
        ));
    }
    if src.size > MAX_COPY {
        return Err(too_large(src.size));
    }
    let expect = super::meta::expect(&req.headers)?;
    // The source with its own key (x-amz-copy-source-server-side-encryption-
    // customer-*), the copy with the one its request asks for.
    let src_key =
        super::sse::for_existing(g.sse.as_ref(), src.encryption.as_ref(), source_customer!(i))?;
    let (encryption, data_key) = super::put::split(super::sse::for_new(
        g.sse.as_ref(),
        i.server_side_encryption.as_ref().map(|s| s.as_str()),
        super::sse::customer!(i),
    )?);
    meta.encryption = encryption;
    let body = g
        .objects
        .read(&src, 0, src.size, src_key.as_ref())
        .await
        .map_err(s3_err)?;
    // The copy keeps a checksum of the algorithm asked for, or of the
    // source's: computed over the whole body as it is copied.
    let algorithm = match &i.checksum_algorithm {
        Some(a) => Some(ChecksumAlgorithm::parse(a.as_str()).ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "Unknown checksum algorithm {:?}",
                a.as_str()
            )
        })?),
        None => src.checksum.as_ref().map(|c| c.algorithm),
    };
    let params = PutParams {
        bucket: i.bucket.clone(),
        key: i.key.clone(),
        size: src.size,
        meta,
        wanted: algorithm.map_or(Wanted::default(), |a| Wanted::default().with(a)),
        checksum: algorithm,
        data_key,
        expect,
    };
    let (rec, _) = g
        .objects
        .put(params, Box::pin(body), |_| Ok(()))
        .await
        .map_err(s3_err)?;
    Ok(S3Response::new(CopyObjectOutput {
        version_id: version_header(&rec),
        copy_source_version_id: version_header(&src),
        copy_object_result: Some({
            let mut r = CopyObjectResult {
                e_tag: Some(etag(&rec.etag)),
                last_modified: Some(ts_ms(rec.created_ms)),
                checksum_type: rec.checksum.as_ref().map(|c| checksum_type(c.full_object)),
                ..Default::default()
            };
            super::put::set_checksums!(r, |a| stored_checksum(&rec, a));
            r
        }),
        ..Default::default()
    }))
}

/// Bytes `[start, end)` of a `x-amz-copy-source-range` (`bytes=first-last`)
/// of a source of `size` bytes.
fn copy_range(r: &str, size: u64) -> S3Result<(u64, u64)> {
    let bad = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let (a, b) = r
        .trim()
        .strip_prefix("bytes=")
        .and_then(|s| s.split_once('-'))
        .ok_or_else(bad)?;
    let (a, b): (u64, u64) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a > b {
        return Err(bad());
    }
    if b >= size {
        return Err(s3_error!(
            InvalidRange,
            "Range specified is not valid for source object of size: {size}"
        ));
    }
    Ok((a, b + 1))
}

pub(super) async fn upload_part_copy(
    g: &Gateway,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let i = &req.input;
    let src = read_source(
        g,
        &req.extensions,
        &req.headers,
        &i.copy_source,
        i.copy_source_if_modified_since.as_ref(),
        i.copy_source_if_unmodified_since.as_ref(),
    )
    .await?;
    let (start, end) = match &i.copy_source_range {
        Some(r) => copy_range(r, src.size)?,
        None => (0, src.size),
    };
    if end - start > MAX_COPY {
        return Err(too_large(end - start));
    }
    let src_key =
        super::sse::for_existing(g.sse.as_ref(), src.encryption.as_ref(), source_customer!(i))?;
    let enc = g
        .objects
        .upload_encryption(&i.bucket, &i.key, &i.upload_id)
        .await
        .map_err(s3_err)?;
    let data_key =
        super::sse::for_existing(g.sse.as_ref(), enc.as_ref(), super::sse::customer!(i))?;
    let body = g
        .objects
        .read(&src, start, end, src_key.as_ref())
        .await
        .map_err(s3_err)?;
    let w = g
        .objects
        .upload_part(
            &i.bucket,
            &i.key,
            &i.upload_id,
            i.part_number,
            end - start,
            Wanted::default(),
            data_key.as_ref(),
            Box::pin(body),
            |_| Ok(()),
        )
        .await
        .map_err(s3_err)?;
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_source_version_id: version_header(&src),
        copy_part_result: Some(CopyPartResult {
            e_tag: Some(etag(&w.etag)),
            last_modified: Some(ts_ms(objectio_cluster::now_millis())),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_ranges() {
        assert_eq!(copy_range("bytes=0-9", 10).unwrap(), (0, 10));
        assert_eq!(copy_range("bytes=5-5", 10).unwrap(), (5, 6));
        assert_eq!(
            copy_range("bytes=5-10", 10).unwrap_err().code().as_str(),
            "InvalidRange"
        );
        for bad in ["bytes=5-", "bytes=-5", "5-6", "bytes=6-5", "bytes=a-b"] {
            assert_eq!(
                copy_range(bad, 10).unwrap_err().code().as_str(),
                "InvalidArgument",
                "{bad}"
            );
        }
    }
}
