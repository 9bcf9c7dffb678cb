//! Writes: PutObject (with the checks a body is verified against).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::meta::object_meta;
use super::*;
use crate::object::index::Expect;
use crate::object::{ChecksumAlgorithm, PutParams, Wanted};

/// Bytes of a refused request body read and discarded so the client, still
/// sending, gets the error instead of a reset connection.
const DRAIN_LIMIT: u64 = 64 << 20;

/// Whether the client asked to wait for `100 Continue` before sending the
/// body (it then sends nothing after an early error: no need to drain).
pub(super) fn expects_continue(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
}

/// The S3 error for `e`, after reading what is left of the request body
/// (up to [`DRAIN_LIMIT`] bytes or 30 s) when `drain` is set: a client that
/// streams its body without `Expect: 100-continue` otherwise sees its
/// connection reset (broken pipe) and never reads why.
pub(super) async fn drained(e: object::Error, body: &mut StreamingBlob, drain: bool) -> S3Error {
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
                i.checksum_crc64nvme.clone(),
                i.checksum_sha1.clone(),
                i.checksum_sha256.clone(),
            ],
            i.checksum_algorithm.as_ref().map(|a| a.as_str()),
            $req.trailing_headers.clone(),
        )
    }};
}
pub(super) use body_checks;

/// The `x-amz-checksum-*` fields of an answer from a digest lookup (every
/// S3 output carrying them names them alike).
macro_rules! set_checksums {
    ($out:expr, $get:expr) => {{
        use objectio_cluster::ChecksumAlgorithm as A;
        let get = $get;
        $out.checksum_crc32 = get(A::Crc32);
        $out.checksum_crc32c = get(A::Crc32c);
        $out.checksum_crc64nvme = get(A::Crc64nvme);
        $out.checksum_sha1 = get(A::Sha1);
        $out.checksum_sha256 = get(A::Sha256);
    }};
}
pub(super) use set_checksums;

/// What a body is checked against: its declared length, Content-MD5, and
/// `x-amz-checksum-*` values from headers or from the `aws-chunked`
/// trailer (announced by `x-amz-trailer`). Computed while streaming and
/// compared before the shards are sealed.
pub(super) struct BodyChecks {
    pub(super) size: u64,
    pub(super) want: Wanted,
    /// The checksum kept with the object: the one the client sent (header
    /// or trailer) or asked for (`x-amz-sdk-checksum-algorithm`).
    pub(super) algorithm: Option<ChecksumAlgorithm>,
    content_md5: Option<Vec<u8>>,
    /// Values given as headers, in [`ChecksumAlgorithm::ALL`] order.
    sums: [Option<String>; 5],
    trailers: Option<s3s::TrailingHeaders>,
}

impl BodyChecks {
    pub(super) fn new(
        headers: &http::HeaderMap,
        content_length: Option<i64>,
        content_md5: Option<&str>,
        sums: [Option<String>; 5],
        declared: Option<&str>,
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
        let all = ChecksumAlgorithm::ALL;
        let in_header = |i: usize| sums[i].is_some();
        let in_trailer = |i: usize| announced.contains(&all[i].header());
        let declared =
            match declared.or_else(|| {
                headers
                    .get("x-amz-sdk-checksum-algorithm")
                    .and_then(|v| v.to_str().ok())
            }) {
                Some(d) => Some(ChecksumAlgorithm::parse(d).ok_or_else(|| {
                    s3_error!(InvalidArgument, "Unknown checksum algorithm {d:?}")
                })?),
                None => None,
            };
        let algorithm = (0..5)
            .find(|i| in_header(*i))
            .or_else(|| (0..5).find(|i| in_trailer(*i)))
            .map(|i| all[i])
            .or(declared);
        let mut want = Wanted::default();
        for (i, a) in all.iter().enumerate() {
            if in_header(i) || in_trailer(i) || algorithm == Some(*a) {
                want = want.with(*a);
            }
        }
        Ok(Self {
            size,
            want,
            algorithm,
            content_md5,
            sums,
            trailers,
        })
    }

    /// The check run on the digests before sealing.
    pub(super) fn verifier(&self) -> impl FnOnce(&object::Digests) -> object::Result<()> + use<> {
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
            for (i, a) in ChecksumAlgorithm::ALL.iter().enumerate() {
                let expected = sums[i].clone().or_else(|| trailer(a.header()));
                if let (Some(e), Some(c)) = (expected, d.get(*a))
                    && e != c
                {
                    return Err(object::Error::BadDigest(format!(
                        "The {} you specified did not match the calculated checksum.",
                        a.header()
                    )));
                }
            }
            Ok(())
        }
    }
}

pub(super) async fn put_object(
    g: &Gateway,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let checks = body_checks!(req)?;
    let drain = !expects_continue(&req.headers);
    if has_grants(&req.headers) {
        return Err(grants_not_implemented());
    }
    let acl = object_acl(req.input.acl.as_ref())?;
    let mut meta = object_meta!(req.input, acl)?;
    let expect = super::meta::expect(&req.headers)?;
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
    let (encryption, data_key) = split(super::sse::for_new(
        g.sse.as_ref(),
        input.server_side_encryption.as_ref().map(|s| s.as_str()),
        super::sse::customer!(input),
    )?);
    meta.encryption = encryption;
    let mut body = input.body.ok_or_else(|| s3_error!(IncompleteBody))?;
    if expect != Expect::Any {
        // Checked before the body is stored (and again, atomically, by
        // the commit): a write bound to fail sends no shard.
        let current = match g.objects.head(&input.bucket, &input.key).await {
            Ok(r) => Some(r),
            Err(object::Error::NoSuchKey) => None,
            Err(e) => return Err(drained(e, &mut body, drain).await),
        };
        if let Err(c) = expect.holds(current.as_ref()) {
            return Err(drained(object::precondition_error(c), &mut body, drain).await);
        }
    }
    let params = PutParams {
        bucket: input.bucket,
        key: input.key,
        size: checks.size,
        meta,
        wanted: checks.want,
        checksum: checks.algorithm,
        data_key,
        expect,
    };
    let r = g.objects.put(params, &mut body, checks.verifier()).await;
    let (rec, digests) = match r {
        Ok(v) => v,
        Err(e) => return Err(drained(e, &mut body, drain).await),
    };
    let mut out = PutObjectOutput {
        version_id: super::get::version_header(&rec),
        e_tag: Some(etag(&rec.etag)),
        ..Default::default()
    };
    set_checksums!(out, |a| digests.get(a).map(str::to_string));
    (
        out.server_side_encryption,
        out.sse_customer_algorithm,
        out.sse_customer_key_md5,
    ) = super::sse::answer(rec.encryption.as_ref());
    Ok(S3Response::new(out))
}

/// An optional pair as two options.
pub(super) fn split<A, B>(p: Option<(A, B)>) -> (Option<A>, Option<B>) {
    match p {
        Some((a, b)) => (Some(a), Some(b)),
        None => (None, None),
    }
}
