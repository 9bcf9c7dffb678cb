//! Reads: GetObject and HeadObject (ranges, parts, conditions).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::*;
use s3s::S3ErrorCode;

pub(super) async fn get_object(
    g: &Gateway,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let input = req.input;
    let rec = g
        .objects
        .head(&input.bucket, &input.key)
        .await
        .map_err(s3_err)?;
    preconditions(
        &rec,
        input.if_match.as_ref(),
        input.if_none_match.as_ref(),
        input.if_modified_since.as_ref(),
        input.if_unmodified_since.as_ref(),
    )?;
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
    let stream = g.objects.read(&rec, start, end).await.map_err(s3_err)?;
    let out = GetObjectOutput {
        body: Some(StreamingBlob::wrap(stream)),
        content_length: Some((end - start) as i64),
        content_range,
        accept_ranges: Some("bytes".into()),
        content_type: rec.content_type.clone(),
        e_tag: Some(etag(&rec.etag)),
        last_modified: Some(ts_ms(rec.created_ms)),
        metadata: metadata(&rec),
        parts_count: parts_count(&rec, input.part_number),
        ..Default::default()
    };
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
    let rec = g
        .objects
        .head(&req.input.bucket, &req.input.key)
        .await
        .map_err(s3_err)?;
    let i = &req.input;
    preconditions(
        &rec,
        i.if_match.as_ref(),
        i.if_none_match.as_ref(),
        i.if_modified_since.as_ref(),
        i.if_unmodified_since.as_ref(),
    )?;
    let (len, content_range) = match i.part_number {
        None => (rec.size, None),
        Some(n) => {
            let (a, b) = part_range(&rec, n)?;
            let cr = format!("bytes {a}-{}/{}", b.saturating_sub(1), rec.size);
            (b - a, Some(cr))
        }
    };
    let mut resp = S3Response::new(HeadObjectOutput {
        content_length: Some(len as i64),
        content_range,
        accept_ranges: Some("bytes".into()),
        content_type: rec.content_type.clone(),
        e_tag: Some(etag(&rec.etag)),
        last_modified: Some(ts_ms(rec.created_ms)),
        metadata: metadata(&rec),
        parts_count: parts_count(&rec, i.part_number),
        ..Default::default()
    });
    if i.part_number.is_some() {
        resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    Ok(resp)
}

/// Conditional GET/HEAD as S3 evaluates them: If-Match (else
/// If-Unmodified-Since) failing is 412; If-None-Match matching (else
/// If-Modified-Since not modified) is 304. Dates compare at second
/// precision, as HTTP dates carry.
fn preconditions(
    rec: &ObjectRecord,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let matches = |c: &ETagCondition| match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == rec.etag,
    };
    let modified = (rec.created_ms / 1000) as i64;
    let secs = |t: &Timestamp| time::OffsetDateTime::from(t.clone()).unix_timestamp();
    match (if_match, if_unmodified_since) {
        (Some(c), _) if !matches(c) => return Err(s3_error!(PreconditionFailed)),
        (None, Some(t)) if modified > secs(t) => return Err(s3_error!(PreconditionFailed)),
        _ => {}
    }
    match (if_none_match, if_modified_since) {
        (Some(c), _) if matches(c) => Err(s3_error!(NotModified)),
        (None, Some(t)) if modified <= secs(t) => Err(s3_error!(NotModified)),
        _ => Ok(()),
    }
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
