//! Multipart uploads.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::meta::object_meta;
use super::put::{BodyChecks, body_checks, drained, expects_continue, set_checksums};
use super::*;
use crate::object::ChecksumAlgorithm;

pub(super) async fn create_multipart_upload(
    g: &Gateway,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let who = crate::authz::caller(&req.extensions)
        .unwrap_or_default()
        .to_string();
    if has_grants(&req.headers) {
        return Err(grants_not_implemented());
    }
    let acl = object_acl(req.input.acl.as_ref())?;
    let mut meta = object_meta!(req.input, acl)?;
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
    // SSE-S3: one data key for every part, sealed in the upload.
    let (encryption, _) = super::put::split(super::sse::for_new(
        g.sse.as_ref(),
        input.server_side_encryption.as_ref().map(|s| s.as_str()),
        super::sse::customer!(input),
    )?);
    meta.encryption = encryption;
    let algorithm = match &input.checksum_algorithm {
        Some(a) => Some(ChecksumAlgorithm::parse(a.as_str()).ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "Unknown checksum algorithm {:?}",
                a.as_str()
            )
        })?),
        None => None,
    };
    // CRC64NVME is full-object only; the others composite unless asked.
    let full_object = match input.checksum_type.as_ref().map(|t| t.as_str()) {
        Some("FULL_OBJECT") => true,
        Some("COMPOSITE") => false,
        Some(other) => {
            return Err(s3_error!(
                InvalidArgument,
                "Unknown checksum type {other:?}"
            ));
        }
        None => algorithm == Some(ChecksumAlgorithm::Crc64nvme),
    };
    if algorithm.is_none() && input.checksum_type.is_some() {
        return Err(s3_error!(
            InvalidRequest,
            "x-amz-checksum-type needs x-amz-checksum-algorithm"
        ));
    }
    let sse_header = super::sse::answer(meta.encryption.as_ref());
    let id = g
        .objects
        .create_upload(
            &input.bucket,
            &input.key,
            &who,
            meta,
            algorithm.map(|a| (a, full_object)),
        )
        .await
        .map_err(s3_err)?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(id.to_string()),
        checksum_algorithm: input.checksum_algorithm,
        checksum_type: algorithm.map(|_| checksum_type(full_object)),
        server_side_encryption: sse_header.0,
        sse_customer_algorithm: sse_header.1,
        sse_customer_key_md5: sse_header.2,
        ..Default::default()
    }))
}

pub(super) async fn upload_part(
    g: &Gateway,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let checks = body_checks!(req)?;
    let drain = !expects_continue(&req.headers);
    let input = req.input;
    let mut body = input.body.ok_or_else(|| s3_error!(IncompleteBody))?;
    let enc = match g
        .objects
        .upload_encryption(&input.bucket, &input.key, &input.upload_id)
        .await
    {
        Ok(e) => e,
        Err(e) => return Err(drained(e, &mut body, drain).await),
    };
    let data_key =
        super::sse::for_existing(g.sse.as_ref(), enc.as_ref(), super::sse::customer!(input))?;
    let r = g
        .objects
        .upload_part(
            &input.bucket,
            &input.key,
            &input.upload_id,
            input.part_number,
            checks.size,
            checks.want,
            data_key.as_ref(),
            &mut body,
            checks.verifier(),
        )
        .await;
    let w = match r {
        Ok(w) => w,
        Err(e) => return Err(drained(e, &mut body, drain).await),
    };
    let mut out = UploadPartOutput {
        e_tag: Some(etag(&w.etag)),
        ..Default::default()
    };
    set_checksums!(out, |a| w.digests.get(a).map(str::to_string));
    Ok(S3Response::new(out))
}

pub(super) async fn complete_multipart_upload(
    g: &Gateway,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let expect = super::meta::expect(&req.headers)?;
    let input = req.input;
    let parts = input
        .multipart_upload
        .and_then(|m| m.parts)
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            Ok(object::CompletedPart {
                number: p
                    .part_number
                    .ok_or_else(|| s3_error!(InvalidPart, "a part has no PartNumber"))?,
                etag: p.e_tag.map(|e| e.value().to_string()).unwrap_or_default(),
                checksum: p
                    .checksum_crc32
                    .or(p.checksum_crc32c)
                    .or(p.checksum_crc64nvme)
                    .or(p.checksum_sha1)
                    .or(p.checksum_sha256),
            })
        })
        .collect::<S3Result<Vec<_>>>()?;
    let whole = input
        .checksum_crc32
        .clone()
        .or(input.checksum_crc32c.clone())
        .or(input.checksum_crc64nvme.clone())
        .or(input.checksum_sha1.clone())
        .or(input.checksum_sha256.clone());
    let rec = g
        .objects
        .complete_upload(
            &input.bucket,
            &input.key,
            &input.upload_id,
            parts,
            whole,
            &expect,
        )
        .await
        .map_err(s3_err)?;
    let mut out = CompleteMultipartUploadOutput {
        location: Some(format!("/{}/{}", input.bucket, input.key)),
        bucket: Some(input.bucket),
        key: Some(input.key),
        e_tag: Some(etag(&rec.etag)),
        version_id: super::get::version_header(&rec),
        checksum_type: rec.checksum.as_ref().map(|c| checksum_type(c.full_object)),
        ..Default::default()
    };
    out.server_side_encryption = super::sse::answer(rec.encryption.as_ref()).0;
    set_checksums!(out, |a| stored_checksum(&rec, a));
    Ok(S3Response::new(out))
}

pub(super) async fn abort_multipart_upload(
    g: &Gateway,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let i = req.input;
    g.objects
        .abort_upload(&i.bucket, &i.key, &i.upload_id)
        .await
        .map_err(s3_err)?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

pub(super) async fn list_parts(
    g: &Gateway,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let i = req.input;
    let max = i.max_parts.unwrap_or(1000).clamp(0, 1000);
    let marker = i.part_number_marker.unwrap_or(0).max(0) as u32;
    let (parts, truncated) = g
        .objects
        .list_parts(&i.bucket, &i.key, &i.upload_id, marker, max as usize)
        .await
        .map_err(s3_err)?;
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(i.bucket),
        key: Some(i.key),
        upload_id: Some(i.upload_id),
        max_parts: Some(max),
        part_number_marker: i.part_number_marker,
        is_truncated: Some(truncated),
        next_part_number_marker: parts.last().map(|p| p.number as i32),
        parts: Some(
            parts
                .into_iter()
                .map(|p| Part {
                    part_number: Some(p.number as i32),
                    size: Some(p.size as i64),
                    e_tag: Some(etag(&p.etag)),
                    last_modified: Some(ts_ms(p.created_ms)),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }))
}

pub(super) async fn list_multipart_uploads(
    g: &Gateway,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let i = req.input;
    let max = i.max_uploads.unwrap_or(1000).clamp(0, 1000);
    let prefix = i.prefix.clone().unwrap_or_default();
    let page = g
        .objects
        .list_uploads(&i.bucket, &prefix, i.key_marker.as_deref(), max as usize)
        .await
        .map_err(s3_err)?;
    let last = page
        .uploads
        .last()
        .map(|u| (u.key.clone(), u.upload_id.to_string()));
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(i.bucket),
        prefix: i.prefix,
        key_marker: i.key_marker,
        max_uploads: Some(max),
        is_truncated: Some(page.truncated),
        next_key_marker: last
            .as_ref()
            .filter(|_| page.truncated)
            .map(|l| l.0.clone()),
        next_upload_id_marker: last.filter(|_| page.truncated).map(|l| l.1),
        uploads: Some(
            page.uploads
                .into_iter()
                .map(|u| MultipartUpload {
                    key: Some(u.key),
                    upload_id: Some(u.upload_id.to_string()),
                    initiated: Some(ts_ms(u.created_ms)),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }))
}
