//! The S3 layer: `s3s` parses requests, verifies SigV4 (headers, presigned,
//! `aws-chunked` with trailers) and renders XML; these handlers translate
//! to the object layer. Operations not listed here answer `NotImplemented`
//! (the `s3s::S3` trait's default) in proper S3 XML.

use std::collections::BTreeMap;

use objectio_cluster::{AccessKeyRecord, ObjectRecord, Store};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use crate::object::{self, Objects, PutParams, Wanted};

/// The S3 service.
#[derive(Clone)]
pub struct Gateway {
    pub objects: Objects,
}

/// Maps object-layer errors to S3 codes; internal details go to the log.
fn s3_err(e: object::Error) -> S3Error {
    use object::Error as E;
    match e {
        E::NoSuchBucket(b) => s3_error!(NoSuchBucket, "The specified bucket {b} does not exist"),
        E::NoSuchKey => s3_error!(NoSuchKey),
        E::BucketNotEmpty(_) => s3_error!(BucketNotEmpty),
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

/// Bytes of a refused request body read and discarded so the client, still
/// sending, gets the error instead of a reset connection.
const DRAIN_LIMIT: u64 = 64 << 20;

/// Whether the client asked to wait for `100 Continue` before sending the
/// body (it then sends nothing after an early error: no need to drain).
fn expects_continue(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
}

/// The S3 error for `e`, after reading what is left of the request body
/// (up to [`DRAIN_LIMIT`] bytes or 30 s) when `drain` is set: a client that
/// streams its body without `Expect: 100-continue` otherwise sees its
/// connection reset (broken pipe) and never reads why.
async fn drained(e: object::Error, body: &mut StreamingBlob, drain: bool) -> S3Error {
    use futures::StreamExt;
    if drain {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            let mut n = 0u64;
            while let Some(Ok(b)) = body.next().await {
                n += b.len() as u64;
                if n > DRAIN_LIMIT {
                    break;
                }
            }
        })
        .await;
    }
    s3_err(e)
}

fn owner(creds: &Option<s3s::auth::Credentials>) -> String {
    creds
        .as_ref()
        .map(|c| c.access_key.clone())
        .unwrap_or_default()
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

/// The [`BodyChecks`] of a request whose input has PutObject's body fields
/// (PutObject, UploadPart).
macro_rules! body_checks {
    ($req:expr) => {{
        let i = &$req.input;
        BodyChecks::new(
            &$req.headers,
            i.content_length,
            i.content_md5.as_deref(),
            [
                i.checksum_crc32.clone(),
                i.checksum_crc32c.clone(),
                i.checksum_sha256.clone(),
            ],
            $req.trailing_headers.clone(),
        )
    }};
}

/// What a body is checked against: its declared length, Content-MD5, and
/// `x-amz-checksum-*` values from headers or from the `aws-chunked`
/// trailer (announced by `x-amz-trailer`). Computed while streaming and
/// compared before the shards are sealed.
struct BodyChecks {
    size: u64,
    want: Wanted,
    content_md5: Option<Vec<u8>>,
    /// CRC32, CRC32C, SHA-256 given as headers.
    sums: [Option<String>; 3],
    trailers: Option<s3s::TrailingHeaders>,
}

const SUM_NAMES: [&str; 3] = [
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-sha256",
];

impl BodyChecks {
    fn new(
        headers: &http::HeaderMap,
        content_length: Option<i64>,
        content_md5: Option<&str>,
        sums: [Option<String>; 3],
        trailers: Option<s3s::TrailingHeaders>,
    ) -> S3Result<Self> {
        let size = match content_length {
            Some(n) if n >= 0 => n as u64,
            _ => return Err(s3_error!(MissingContentLength)),
        };
        if size > 5 << 30 {
            return Err(s3_error!(
                EntityTooLarge,
                "a single PUT or part is limited to 5 GiB"
            ));
        }
        let content_md5 = match content_md5 {
            Some(v) => Some(
                base64_decode(v)
                    .filter(|b| b.len() == 16)
                    .ok_or_else(|| s3_error!(InvalidDigest))?,
            ),
            None => None,
        };
        let trailer = headers
            .get("x-amz-trailer")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let announced: Vec<&str> = trailer.split(',').map(str::trim).collect();
        let asked = |i: usize| sums[i].is_some() || announced.contains(&SUM_NAMES[i]);
        Ok(Self {
            size,
            want: Wanted {
                crc32: asked(0),
                crc32c: asked(1),
                sha256: asked(2),
            },
            content_md5,
            sums,
            trailers,
        })
    }

    /// The check run on the digests before sealing.
    fn verifier(&self) -> impl FnOnce(&object::Digests) -> object::Result<()> + use<> {
        let (md5, sums, trailers) = (
            self.content_md5.clone(),
            self.sums.clone(),
            self.trailers.clone(),
        );
        move |d: &object::Digests| {
            if let Some(m) = &md5
                && m.as_slice() != d.md5
            {
                return Err(object::Error::BadDigest(
                    "The Content-MD5 you specified did not match what we received.".into(),
                ));
            }
            let trailer = |name: &str| -> Option<String> {
                trailers
                    .as_ref()?
                    .read(|h| {
                        h.get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string)
                    })
                    .flatten()
            };
            let computed = [&d.crc32, &d.crc32c, &d.sha256];
            for (i, name) in SUM_NAMES.iter().enumerate() {
                let expected = sums[i].clone().or_else(|| trailer(name));
                if let (Some(e), Some(c)) = (expected, computed[i])
                    && &e != c
                {
                    return Err(object::Error::BadDigest(format!(
                        "The {name} you specified did not match the calculated checksum."
                    )));
                }
            }
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl S3 for Gateway {
    async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets = self.objects.list_buckets().await.map_err(s3_err)?;
        let out = ListBucketsOutput {
            buckets: Some(
                buckets
                    .into_iter()
                    .map(|b| Bucket {
                        name: Some(b.name),
                        creation_date: Some(ts_ms(b.created * 1000)),
                        ..Default::default()
                    })
                    .collect(),
            ),
            owner: Some(Owner {
                display_name: Some("objectio".into()),
                id: Some("objectio".into()),
            }),
            continuation_token: None,
            prefix: None,
        };
        Ok(S3Response::new(out))
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let who = owner(&req.credentials);
        self.objects
            .create_bucket(&req.input.bucket, &who)
            .await
            .map_err(s3_err)?;
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{}", req.input.bucket)),
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.objects
            .bucket(&req.input.bucket)
            .await
            .map_err(s3_err)?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.objects
            .delete_bucket(&req.input.bucket)
            .await
            .map_err(s3_err)?;
        Ok(S3Response::new(DeleteBucketOutput::default()))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let checks = body_checks!(req)?;
        let drain = !expects_continue(&req.headers);
        let input = req.input;
        let mut body = input.body.ok_or_else(|| s3_error!(IncompleteBody))?;
        let params = PutParams {
            bucket: input.bucket,
            key: input.key,
            size: checks.size,
            content_type: input.content_type,
            user_metadata: input
                .metadata
                .unwrap_or_default()
                .into_iter()
                .collect::<BTreeMap<_, _>>(),
            wanted: checks.want,
        };
        let r = self.objects.put(params, &mut body, checks.verifier()).await;
        let (rec, digests) = match r {
            Ok(v) => v,
            Err(e) => return Err(drained(e, &mut body, drain).await),
        };
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag(&rec.etag)),
            checksum_crc32: digests.crc32,
            checksum_crc32c: digests.crc32c,
            checksum_sha256: digests.sha256,
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let who = owner(&req.credentials);
        let input = req.input;
        let id = self
            .objects
            .create_upload(
                &input.bucket,
                &input.key,
                &who,
                input.content_type,
                input.metadata.unwrap_or_default().into_iter().collect(),
            )
            .await
            .map_err(s3_err)?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id.to_string()),
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let checks = body_checks!(req)?;
        let drain = !expects_continue(&req.headers);
        let input = req.input;
        let mut body = input.body.ok_or_else(|| s3_error!(IncompleteBody))?;
        let r = self
            .objects
            .upload_part(
                &input.bucket,
                &input.key,
                &input.upload_id,
                input.part_number,
                checks.size,
                checks.want,
                &mut body,
                checks.verifier(),
            )
            .await;
        let w = match r {
            Ok(w) => w,
            Err(e) => return Err(drained(e, &mut body, drain).await),
        };
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(etag(&w.etag)),
            checksum_crc32: w.digests.crc32,
            checksum_crc32c: w.digests.crc32c,
            checksum_sha256: w.digests.sha256,
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let parts = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                Ok((
                    p.part_number
                        .ok_or_else(|| s3_error!(InvalidPart, "a part has no PartNumber"))?,
                    p.e_tag.map(|e| e.value().to_string()).unwrap_or_default(),
                ))
            })
            .collect::<S3Result<Vec<_>>>()?;
        let rec = self
            .objects
            .complete_upload(&input.bucket, &input.key, &input.upload_id, parts)
            .await
            .map_err(s3_err)?;
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            location: Some(format!("/{}/{}", input.bucket, input.key)),
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(etag(&rec.etag)),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let i = req.input;
        self.objects
            .abort_upload(&i.bucket, &i.key, &i.upload_id)
            .await
            .map_err(s3_err)?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let i = req.input;
        let max = i.max_parts.unwrap_or(1000).clamp(0, 1000);
        let marker = i.part_number_marker.unwrap_or(0).max(0) as u32;
        let (parts, truncated) = self
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

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let i = req.input;
        let max = i.max_uploads.unwrap_or(1000).clamp(0, 1000);
        let prefix = i.prefix.clone().unwrap_or_default();
        let page = self
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

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let rec = self
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
        let stream = self.objects.read(&rec, start, end).await.map_err(s3_err)?;
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

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let rec = self
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

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.objects
            .delete(&req.input.bucket, &req.input.key)
            .await
            .map_err(s3_err)?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let max_keys = input.max_keys.unwrap_or(1000);
        if max_keys < 0 {
            return Err(s3_error!(InvalidArgument, "max-keys must be non-negative"));
        }
        let max = (max_keys as usize).min(1000);
        let prefix = input.prefix.clone().unwrap_or_default();
        let page = self
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

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// SigV4 secrets come from the access keys in etcd, served from a live
/// copy of them (a watch) and read from etcd when the copy is not current
/// or does not know the key (a key created a moment ago).
pub struct EtcdAuth {
    pub store: Store,
    pub keys: objectio_cluster::mirror::Mirror,
}

#[async_trait::async_trait]
impl S3Auth for EtcdAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if access_key.is_empty() || access_key.len() > 128 || access_key.contains('/') {
            return Err(s3_error!(InvalidAccessKeyId));
        }
        let key = self.store.keys().user(access_key);
        if let Some(Some(v)) = self.keys.get(key.as_bytes())
            && let Ok(k) = objectio_cluster::store::decode::<AccessKeyRecord>(key.as_bytes(), &v)
        {
            return Ok(SecretKey::from(k.secret_access_key));
        }
        match self.store.get::<AccessKeyRecord>(key).await {
            Ok(Some((k, _))) => Ok(SecretKey::from(k.secret_access_key)),
            Ok(None) => Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )),
            Err(e) => {
                tracing::error!(error = %e, "reading access key");
                Err(S3Error::with_message(
                    S3ErrorCode::ServiceUnavailable,
                    "credential store unavailable",
                ))
            }
        }
    }
}
