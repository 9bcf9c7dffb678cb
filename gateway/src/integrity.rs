//! Integrity of small request bodies that s3s parses as XML (DeleteObjects,
//! CompleteMultipartUpload, bucket and object configurations): they are
//! read whole (at most [`MAX_XML_BODY`] bytes) before s3s sees them, and a
//! `Content-MD5` or `x-amz-checksum-*` header is verified against them, as
//! S3 does. DeleteObjects must carry one of them ("Missing required
//! header"). Object bodies (PutObject, UploadPart) stream and are verified
//! by the object layer while their shards are written.

use bytes::Bytes;
use http_body_util::BodyExt;
use md5::Digest;

/// The largest XML body read whole (a DeleteObjects of 1000 keys of 1024
/// bytes is about 1.1 MiB).
pub const MAX_XML_BODY: usize = 4 << 20;

/// Sub-resources whose PUT carries an XML configuration.
const XML_PUTS: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "retention",
    "tagging",
    "versioning",
    "website",
];

fn query_keys(uri: &http::Uri) -> impl Iterator<Item = &str> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
}

/// What a request's body must be checked for, if it is one read whole.
#[derive(Debug, PartialEq)]
pub enum Check {
    /// Not an XML body: streamed to s3s untouched.
    None,
    /// An XML body, verified when it carries a digest.
    Xml,
    /// DeleteObjects: a digest is required.
    Required,
}

/// Which check a request's body gets, from its method, query and headers.
pub fn check_of(method: &http::Method, uri: &http::Uri, headers: &http::HeaderMap) -> Check {
    // Streamed aws-chunked bodies are decoded (and their trailers checked)
    // by s3s; only plain bodies are read here.
    if headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("STREAMING-"))
    {
        return Check::None;
    }
    let has = |k: &str| query_keys(uri).any(|q| q == k);
    if method == http::Method::POST {
        if has("delete") {
            return Check::Required;
        }
        if has("uploadId") {
            return Check::Xml; // CompleteMultipartUpload
        }
    }
    if method == http::Method::PUT
        && !has("partNumber")
        && query_keys(uri).any(|q| XML_PUTS.contains(&q))
    {
        return Check::Xml;
    }
    Check::None
}

/// Why a body was refused: the S3 error code, HTTP status and message.
#[derive(Debug, PartialEq)]
pub struct Refused {
    pub status: http::StatusCode,
    pub code: &'static str,
    pub message: String,
}

fn refused(status: u16, code: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        status: http::StatusCode::from_u16(status).expect("valid status"),
        code,
        message: message.into(),
    }
}

/// Verifies `body` against the digests its headers declare.
pub fn verify(check: &Check, headers: &http::HeaderMap, body: &[u8]) -> Result<(), Refused> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let mut declared = false;
    if let Some(m) = header("content-md5") {
        declared = true;
        use base64::Engine;
        let want = base64::engine::general_purpose::STANDARD
            .decode(m.trim())
            .ok()
            .filter(|b| b.len() == 16)
            .ok_or_else(|| {
                refused(
                    400,
                    "InvalidDigest",
                    "The Content-MD5 you specified was invalid.",
                )
            })?;
        if md5::Md5::digest(body).as_slice() != want.as_slice() {
            return Err(refused(
                400,
                "BadDigest",
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    let mut h = s3s::checksum::ChecksumHasher::default();
    let names = [
        ("x-amz-checksum-crc32", "CRC32"),
        ("x-amz-checksum-crc32c", "CRC32C"),
        ("x-amz-checksum-crc64nvme", "CRC64NVME"),
        ("x-amz-checksum-sha1", "SHA1"),
        ("x-amz-checksum-sha256", "SHA256"),
    ];
    for (n, _) in names {
        if header(n).is_some() {
            declared = true;
            match n {
                "x-amz-checksum-crc32" => h.crc32 = Some(Default::default()),
                "x-amz-checksum-crc32c" => h.crc32c = Some(Default::default()),
                "x-amz-checksum-crc64nvme" => h.crc64nvme = Some(Default::default()),
                "x-amz-checksum-sha1" => h.sha1 = Some(Default::default()),
                _ => h.sha256 = Some(Default::default()),
            }
        }
    }
    h.update(body);
    let got = h.finalize();
    let computed = [
        got.checksum_crc32,
        got.checksum_crc32c,
        got.checksum_crc64nvme,
        got.checksum_sha1,
        got.checksum_sha256,
    ];
    for ((n, algo), c) in names.iter().zip(computed) {
        if let (Some(want), Some(c)) = (header(n), c)
            && want.trim() != c
        {
            return Err(refused(
                400,
                "BadDigest",
                format!("The {algo} you specified did not match the calculated checksum."),
            ));
        }
    }
    if *check == Check::Required && !declared {
        return Err(refused(
            400,
            "InvalidRequest",
            "Missing required header for this request: Content-MD5 or x-amz-checksum-*",
        ));
    }
    Ok(())
}

/// Reads an XML body whole and verifies it; the body s3s gets, or the
/// refusal.
pub async fn read_and_verify<B>(
    check: &Check,
    headers: &http::HeaderMap,
    body: B,
) -> Result<Bytes, Refused>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limited = http_body_util::Limited::new(body, MAX_XML_BODY);
    let bytes = match limited.collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(refused(
                400,
                "MaxMessageLengthExceeded",
                format!("Your request was too big (over {MAX_XML_BODY} bytes)."),
            ));
        }
        Err(e) => {
            return Err(refused(
                400,
                "IncompleteBody",
                format!("reading the body: {e}"),
            ));
        }
    };
    verify(check, headers, &bytes)?;
    Ok(bytes)
}

/// The S3 XML error answer of a refusal.
pub fn answer(r: &Refused, request_id: &str) -> http::Response<s3s::Body> {
    crate::error_answer(r.status, r.code, &r.message, Some(request_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(b: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    fn uri(s: &str) -> http::Uri {
        s.parse().unwrap()
    }

    #[test]
    fn xml_bodies_are_told_from_object_bodies() {
        use http::Method as M;
        let none = http::HeaderMap::new();
        let check_of = |m: &M, u: &http::Uri| super::check_of(m, u, &none);
        assert_eq!(check_of(&M::POST, &uri("/b?delete")), Check::Required);
        assert_eq!(check_of(&M::POST, &uri("/b?delete=")), Check::Required);
        assert_eq!(check_of(&M::POST, &uri("/b/k?uploadId=u")), Check::Xml);
        assert_eq!(check_of(&M::PUT, &uri("/b?tagging")), Check::Xml);
        assert_eq!(check_of(&M::PUT, &uri("/b/k?acl")), Check::Xml);
        assert_eq!(check_of(&M::PUT, &uri("/b/k")), Check::None);
        assert_eq!(
            check_of(&M::PUT, &uri("/b/k?partNumber=1&uploadId=u")),
            Check::None
        );
        assert_eq!(check_of(&M::POST, &uri("/b/k?uploads")), Check::None);
        assert_eq!(check_of(&M::GET, &uri("/b?delete")), Check::None);
        let mut chunked = http::HeaderMap::new();
        chunked.insert(
            "x-amz-content-sha256",
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER".parse().unwrap(),
        );
        assert_eq!(
            super::check_of(&M::POST, &uri("/b?delete"), &chunked),
            Check::None
        );
    }

    #[test]
    fn digests_are_verified_and_required_for_batch_deletes() {
        let body = b"<Delete><Object><Key>a</Key></Object></Delete>";
        let mut h = http::HeaderMap::new();
        assert_eq!(verify(&Check::Xml, &h, body), Ok(()));
        let e = verify(&Check::Required, &h, body).unwrap_err();
        assert_eq!(e.code, "InvalidRequest");
        h.insert("content-md5", b64(&md5::Md5::digest(body)).parse().unwrap());
        assert_eq!(verify(&Check::Required, &h, body), Ok(()));
        assert_eq!(
            verify(&Check::Required, &h, b"<Delete/>").unwrap_err().code,
            "BadDigest"
        );
        h.insert("content-md5", "not base64!".parse().unwrap());
        assert_eq!(
            verify(&Check::Xml, &h, body).unwrap_err().code,
            "InvalidDigest"
        );
        let mut h = http::HeaderMap::new();
        let crc = b64(&crc32fast::hash(body).to_be_bytes());
        h.insert("x-amz-checksum-crc32", crc.parse().unwrap());
        assert_eq!(verify(&Check::Required, &h, body), Ok(()));
        let e = verify(&Check::Required, &h, b"other").unwrap_err();
        assert_eq!((e.code, e.status.as_u16()), ("BadDigest", 400));
        assert!(e.message.contains("CRC32"), "{}", e.message);
    }
}
