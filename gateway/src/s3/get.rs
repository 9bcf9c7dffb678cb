//! Reads: GetObject and HeadObject (ranges, parts, conditions).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::meta::{Conditions, expires};
use super::*;
use s3s::S3ErrorCode;

pub(super) async fn get_object(
    g: &Gateway,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let anonymous = crate::authz::caller(&req.extensions).is_none();
    let input = req.input;
    let rec = read_version(g, &input.bucket, &input.key, input.version_id.as_deref()).await?;
    Conditions::of_read(
        &req.headers,
        input.if_modified_since.as_ref(),
        input.if_unmodified_since.as_ref(),
    )
    .check(&rec, false)?;
    let overrides = [
        input.response_cache_control.is_some(),
        input.response_content_disposition.is_some(),
        input.response_content_encoding.is_some(),
        input.response_content_language.is_some(),
        input.response_content_type.is_some(),
        input.response_expires.is_some(),
    ];
    if anonymous && overrides.contains(&true) {
        return Err(s3_error!(
            InvalidRequest,
            "Request specific response headers cannot be used for anonymous GET requests."
        ));
    }
    let (start, end, content_range) = match (&input.range, input.part_number) {
        (Some(_), Some(_)) => {
            return Err(s3_error!(
                InvalidRequest,
                "Cannot specify both Range header and partNumber query parameter"
            ));
        }
        (None, Some(n)) => {
            let (a, b) = part_range(&rec, n)?;
            let cr = format!("bytes {a}-{}/{}", b.saturating_sub(1), rec.size);
            (a, b, Some(cr))
        }
        (None, None) => (0, rec.size, None),
        (Some(r), None) => {
            let rg = r.check(rec.size).map_err(|_| s3_error!(InvalidRange))?;
            let cr = format!(
                "bytes {}-{}/{}",
                rg.start,
                rg.end.saturating_sub(1),
                rec.size
            );
            (rg.start, rg.end, Some(cr))
        }
    };
    let data_key = super::sse::for_existing(
        g.sse.as_ref(),
        rec.encryption.as_ref(),
        super::sse::customer!(input),
    )?;
    let stream = g
        .objects
        .read(&rec, start, end, data_key.as_ref())
        .await
        .map_err(s3_err)?;
    let h = &rec.headers;
    let lock = super::lock::lock_headers(&rec);
    let out = GetObjectOutput {
        body: Some(StreamingBlob::wrap(stream)),
        content_length: Some((end - start) as i64),
        content_range,
        accept_ranges: Some("bytes".into()),
        content_type: input.response_content_type.or(rec.content_type.clone()),
        cache_control: input.response_cache_control.or(h.cache_control.clone()),
        content_disposition: input
            .response_content_disposition
            .or(h.content_disposition.clone()),
        content_encoding: input
            .response_content_encoding
            .or(h.content_encoding.clone()),
        content_language: input
            .response_content_language
            .or(h.content_language.clone()),
        expires: input.response_expires.or_else(|| expires(h)),
        website_redirect_location: h.website_redirect_location.clone(),
        e_tag: Some(etag(&rec.etag)),
        last_modified: Some(ts_ms(rec.created_ms)),
        metadata: metadata(&rec),
        parts_count: parts_count(&rec, input.part_number),
        tag_count: tag_count(&rec),
        version_id: version_header(&rec),
        object_lock_mode: lock.0,
        object_lock_retain_until_date: lock.1,
        object_lock_legal_hold_status: lock.2,
        ..Default::default()
    };
    let mut out = out;
    (
        out.server_side_encryption,
        out.sse_customer_algorithm,
        out.sse_customer_key_md5,
    ) = super::sse::answer(rec.encryption.as_ref());
    // The kept checksum is of the whole body: answered only for it.
    if checksum_mode(input.checksum_mode.as_ref())
        && input.range.is_none()
        && input.part_number.is_none()
    {
        out.checksum_type = rec.checksum.as_ref().map(|c| checksum_type(c.full_object));
        super::put::set_checksums!(out, |a| stored_checksum(&rec, a));
    }
    let mut resp = S3Response::new(out);
    if input.range.is_some() || input.part_number.is_some() {
        resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    Ok(resp)
}

pub(super) async fn head_object(
    g: &Gateway,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let i = &req.input;
    let rec = read_version(g, &i.bucket, &i.key, i.version_id.as_deref()).await?;
    // HEAD of an SSE-C object needs its key too, as in S3.
    super::sse::for_existing(
        g.sse.as_ref(),
        rec.encryption.as_ref(),
        super::sse::customer!(i),
    )?;
    Conditions::of_read(
        &req.headers,
        i.if_modified_since.as_ref(),
        i.if_unmodified_since.as_ref(),
    )
    .check(&rec, false)?;
    let (len, content_range) = match i.part_number {
        None => (rec.size, None),
        Some(n) => {
            let (a, b) = part_range(&rec, n)?;
            let cr = format!("bytes {a}-{}/{}", b.saturating_sub(1), rec.size);
            (b - a, Some(cr))
        }
    };
    let h = &rec.headers;
    let lock = super::lock::lock_headers(&rec);
    let mut resp = S3Response::new(HeadObjectOutput {
        object_lock_mode: lock.0,
        object_lock_retain_until_date: lock.1,
        object_lock_legal_hold_status: lock.2,
        content_length: Some(len as i64),
        content_range,
        accept_ranges: Some("bytes".into()),
        content_type: i.response_content_type.clone().or(rec.content_type.clone()),
        cache_control: i.response_cache_control.clone().or(h.cache_control.clone()),
        content_disposition: i
            .response_content_disposition
            .clone()
            .or(h.content_disposition.clone()),
        content_encoding: i
            .response_content_encoding
            .clone()
            .or(h.content_encoding.clone()),
        content_language: i
            .response_content_language
            .clone()
            .or(h.content_language.clone()),
        expires: i.response_expires.clone().or_else(|| expires(h)),
        website_redirect_location: h.website_redirect_location.clone(),
        e_tag: Some(etag(&rec.etag)),
        last_modified: Some(ts_ms(rec.created_ms)),
        metadata: metadata(&rec),
        parts_count: parts_count(&rec, i.part_number),
        version_id: version_header(&rec),
        ..Default::default()
    });
    (
        resp.output.server_side_encryption,
        resp.output.sse_customer_algorithm,
        resp.output.sse_customer_key_md5,
    ) = super::sse::answer(rec.encryption.as_ref());
    if checksum_mode(i.checksum_mode.as_ref()) && i.part_number.is_none() {
        resp.output.checksum_type = rec.checksum.as_ref().map(|c| checksum_type(c.full_object));
        super::put::set_checksums!(resp.output, |a| stored_checksum(&rec, a));
    }
    if i.part_number.is_some() {
        resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    Ok(resp)
}

/// Bytes `[start, end)` of part `n` (1-based) of `rec`, for GET/HEAD with
/// `partNumber`. An object uploaded in one piece has just part 1, the whole
/// body (as S3 answers).
fn part_range(rec: &ObjectRecord, n: i32) -> S3Result<(u64, u64)> {
    let bad = || {
        let mut e = S3Error::with_message(
            S3ErrorCode::from_bytes(b"InvalidPartNumber").expect("custom code"),
            "The requested partnumber is not satisfiable",
        );
        e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
        e
    };
    if n < 1 {
        return Err(s3_error!(InvalidArgument, "partNumber must be at least 1"));
    }
    if rec.parts.is_empty() {
        return if n == 1 {
            Ok((0, rec.size))
        } else {
            Err(bad())
        };
    }
    let idx = n as usize - 1;
    let p = rec.parts.get(idx).ok_or_else(bad)?;
    let start: u64 = rec.parts[..idx].iter().map(|p| p.size).sum();
    Ok((start, start + p.size))
}

/// `x-amz-mp-parts-count` for a part request of a multipart object.
fn parts_count(rec: &ObjectRecord, part: Option<i32>) -> Option<i32> {
    (part.is_some() && !rec.parts.is_empty()).then_some(rec.parts.len() as i32)
}

/// `x-amz-tagging-count` of an object with tags.
fn tag_count(rec: &ObjectRecord) -> Option<i32> {
    (!rec.tags.is_empty()).then_some(rec.tags.len() as i32)
}

/// The version of an object a request names, as GET and HEAD answer it:
/// a delete marker is 404 NoSuchKey as the current version and 405
/// MethodNotAllowed by version id, with `x-amz-delete-marker` and its
/// version id either way.
pub(super) async fn read_version(
    g: &Gateway,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> S3Result<ObjectRecord> {
    let (rec, _) = g
        .objects
        .version(bucket, key, version_id)
        .await
        .map_err(s3_err)?;
    if rec.delete_marker {
        let mut e = match version_id {
            None => s3_error!(NoSuchKey),
            Some(_) => s3_error!(
                MethodNotAllowed,
                "The specified method is not allowed against this resource."
            ),
        };
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-amz-delete-marker",
            http::HeaderValue::from_static("true"),
        );
        if let Ok(v) = http::HeaderValue::from_str(&rec.s3_version_id()) {
            h.insert("x-amz-version-id", v);
        }
        e.set_headers(h);
        return Err(e);
    }
    Ok(rec)
}

/// The `x-amz-version-id` a versioned object answers with.
pub(super) fn version_header(rec: &ObjectRecord) -> Option<String> {
    rec.versioned.then(|| rec.s3_version_id())
}

/// Whether a read asked for the object's checksum (`x-amz-checksum-mode:
/// ENABLED`).
fn checksum_mode(m: Option<&ChecksumMode>) -> bool {
    m.is_some_and(|m| m.as_str().eq_ignore_ascii_case("ENABLED"))
}

/// GetObjectAttributes: the ETag, checksum, parts, storage class and size
/// asked for, of the version named.
pub(super) async fn get_object_attributes(
    g: &Gateway,
    req: S3Request<GetObjectAttributesInput>,
) -> S3Result<S3Response<GetObjectAttributesOutput>> {
    let i = &req.input;
    let rec = read_version(g, &i.bucket, &i.key, i.version_id.as_deref()).await?;
    let asked = |a: &str| i.object_attributes.iter().any(|x| x.as_str() == a);
    if i.object_attributes.is_empty() {
        return Err(s3_error!(
            InvalidArgument,
            "x-amz-object-attributes names at least one attribute"
        ));
    }
    let mut out = GetObjectAttributesOutput {
        last_modified: Some(ts_ms(rec.created_ms)),
        version_id: version_header(&rec),
        ..Default::default()
    };
    if asked(ObjectAttributes::ETAG) {
        out.e_tag = Some(etag(&rec.etag));
    }
    if asked(ObjectAttributes::OBJECT_SIZE) {
        out.object_size = Some(rec.size as i64);
    }
    if asked(ObjectAttributes::STORAGE_CLASS) {
        out.storage_class = Some(StorageClass::from_static(StorageClass::STANDARD));
    }
    if asked(ObjectAttributes::CHECKSUM)
        && let Some(c) = &rec.checksum
    {
        let mut sum = Checksum {
            checksum_type: Some(checksum_type(c.full_object)),
            ..Default::default()
        };
        super::put::set_checksums!(sum, |a| stored_checksum(&rec, a));
        out.checksum = Some(sum);
    }
    if asked(ObjectAttributes::OBJECT_PARTS) && !rec.parts.is_empty() {
        let marker = i.part_number_marker.unwrap_or(0).max(0) as u32;
        let max = i.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
        let after: Vec<_> = rec.parts.iter().filter(|p| p.number > marker).collect();
        let page: Vec<_> = after.iter().take(max).collect();
        let algorithm = rec.checksum.as_ref().map(|c| c.algorithm);
        out.object_parts = Some(GetObjectAttributesParts {
            total_parts_count: Some(rec.parts.len() as i32),
            part_number_marker: Some(marker as i32),
            next_part_number_marker: page.last().map(|p| p.number as i32),
            max_parts: Some(max as i32),
            is_truncated: Some(after.len() > page.len()),
            parts: Some(
                page.iter()
                    .map(|p| {
                        let mut part = ObjectPart {
                            part_number: Some(p.number as i32),
                            size: Some(p.size as i64),
                            ..Default::default()
                        };
                        super::put::set_checksums!(part, |a| {
                            (Some(a) == algorithm).then(|| p.checksum.clone()).flatten()
                        });
                        part
                    })
                    .collect(),
            ),
        });
    }
    Ok(S3Response::new(out))
}
