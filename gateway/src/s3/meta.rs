//! What objects carry besides their bodies, as S3 headers: user metadata
//! (`x-amz-meta-*`, 2 KiB), the standard headers kept and answered
//! (Cache-Control, Content-Disposition, Content-Encoding, Content-Language,
//! Expires, `x-amz-website-redirect-location`), tags (`x-amz-tagging`),
//! the storage class (STANDARD only); and the conditions of reads and
//! writes (`If-Match`, `If-None-Match` with lists of ETags, dates).

use std::collections::BTreeMap;

use objectio_cluster::{ObjectHeaders, ObjectRecord};
use s3s::dto::*;
use s3s::{S3Result, s3_error};

use crate::object::ObjectMeta;
use crate::object::index::Expect;

/// The most bytes of user metadata (names and values of `x-amz-meta-*`).
pub const MAX_USER_METADATA: usize = 2048;

/// The most tags on an object.
pub const MAX_TAGS: usize = 10;

/// The [`ObjectMeta`] of a request whose input has PutObject's metadata
/// fields (PutObject, CreateMultipartUpload, CopyObject with REPLACE).
macro_rules! object_meta {
    ($i:expr, $acl:expr) => {{
        let i = &$i;
        super::meta::checked(
            i.content_type.clone(),
            i.metadata.clone(),
            super::meta::headers(
                &i.cache_control,
                &i.content_disposition,
                &i.content_encoding,
                &i.content_language,
                &i.expires,
                &i.website_redirect_location,
            ),
            i.tagging.as_deref(),
            i.storage_class.as_ref(),
            $acl,
        )
    }};
}
pub(super) use object_meta;

/// What a request says an object carries, checked as S3 checks it.
pub(super) fn checked(
    content_type: Option<String>,
    metadata: Option<Metadata>,
    headers: ObjectHeaders,
    tagging: Option<&str>,
    storage_class: Option<&StorageClass>,
    acl: objectio_cluster::CannedAcl,
) -> S3Result<ObjectMeta> {
    let user_metadata: BTreeMap<String, String> =
        metadata.unwrap_or_default().into_iter().collect();
    let size: usize = user_metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_USER_METADATA {
        return Err(s3_error!(
            MetadataTooLarge,
            "Your metadata headers are {size} bytes; the limit is {MAX_USER_METADATA}"
        ));
    }
    storage(storage_class)?;
    Ok(ObjectMeta {
        content_type,
        user_metadata,
        headers,
        tags: match tagging {
            Some(t) => parse_tagging(t)?,
            None => BTreeMap::new(),
        },
        acl,
        // Set from the request and the bucket by `lock::apply`, and from the
        // request's encryption headers by the handler.
        retention: None,
        legal_hold: false,
        encryption: None,
    })
}

/// Every object is stored as STANDARD (erasure-coded on the cluster's
/// disks); other classes are refused rather than silently ignored.
pub(super) fn storage(c: Option<&StorageClass>) -> S3Result<()> {
    match c.map(|c| c.as_str()) {
        None | Some("STANDARD") => Ok(()),
        Some(other) => Err(s3_error!(
            InvalidStorageClass,
            "The storage class you specified is not valid: {other} (this cluster stores STANDARD only)"
        )),
    }
}

/// The standard headers of a request, as they are kept. An
/// `aws-chunked` content coding is the upload's framing, not the object's,
/// and is dropped (as S3 does).
pub(super) fn headers(
    cache_control: &Option<String>,
    content_disposition: &Option<String>,
    content_encoding: &Option<String>,
    content_language: &Option<String>,
    expires: &Option<Timestamp>,
    website_redirect_location: &Option<String>,
) -> ObjectHeaders {
    let content_encoding = content_encoding.as_deref().and_then(|e| {
        let kept: Vec<&str> = e
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
            .collect();
        (!kept.is_empty()).then(|| kept.join(", "))
    });
    ObjectHeaders {
        cache_control: cache_control.clone(),
        content_disposition: content_disposition.clone(),
        content_encoding,
        content_language: content_language.clone(),
        expires: expires.as_ref().and_then(http_date),
        website_redirect_location: website_redirect_location.clone(),
    }
}

fn http_date(t: &Timestamp) -> Option<String> {
    let mut b = Vec::new();
    t.format(TimestampFormat::HttpDate, &mut b).ok()?;
    String::from_utf8(b).ok()
}

/// A kept `Expires` as the timestamp s3s answers.
pub(super) fn expires(h: &ObjectHeaders) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, h.expires.as_deref()?).ok()
}

fn percent_decode(s: &str) -> Option<String> {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// The tags of an `x-amz-tagging` header (a URL-encoded query string).
pub(super) fn parse_tagging(header: &str) -> S3Result<BTreeMap<String, String>> {
    let mut tags = Vec::new();
    for pair in header.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(k), Some(v)) = (percent_decode(k), percent_decode(v)) else {
            return Err(s3_error!(
                InvalidArgument,
                "The header x-amz-tagging is not URL-encoded"
            ));
        };
        tags.push((k, v));
    }
    check_tags(tags, MAX_TAGS)
}

/// Tags as S3 allows them: at most `max` (10 on an object, 50 on a
/// bucket), keys of 1 to 128 characters and values of up to 256, each key
/// once.
pub(super) fn check_tags(
    tags: Vec<(String, String)>,
    max: usize,
) -> S3Result<BTreeMap<String, String>> {
    if tags.len() > max {
        return Err(s3_error!(InvalidTag, "Tags cannot be more than {max}"));
    }
    let mut out = BTreeMap::new();
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(s3_error!(
                InvalidTag,
                "The TagKey you have provided is invalid"
            ));
        }
        if v.chars().count() > 256 {
            return Err(s3_error!(
                InvalidTag,
                "The TagValue you have provided is invalid"
            ));
        }
        if out.insert(k, v).is_some() {
            return Err(s3_error!(
                InvalidTag,
                "Cannot provide multiple Tags with the same key"
            ));
        }
    }
    Ok(out)
}

/// The ETags of a conditional header: `*`, or a list of (quoted or bare,
/// strong or weak) ETags.
pub(super) fn etag_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|t| {
            let t = t.trim();
            let t = t.strip_prefix("W/").unwrap_or(t);
            t.trim_matches('"').to_string()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

fn header<'a>(h: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// What a write's `If-None-Match` / `If-Match` headers expect the key to
/// hold when it commits.
pub(super) fn expect(h: &http::HeaderMap) -> S3Result<Expect> {
    match (header(h, "if-none-match"), header(h, "if-match")) {
        (Some(_), Some(_)) => Err(s3_error!(
            NotImplemented,
            "If-Match and If-None-Match together are not supported on writes"
        )),
        (Some(n), None) if n.trim() == "*" => Ok(Expect::Absent),
        (Some(_), None) => Err(s3_error!(
            NotImplemented,
            "A header you provided implies functionality that is not implemented: If-None-Match on a write takes only *"
        )),
        (None, Some(m)) => Ok(Expect::ETag(etag_list(m))),
        (None, None) => Ok(Expect::Any),
    }
}

/// The four conditions of a read (or of a copy's source).
#[derive(Default)]
pub(super) struct Conditions {
    pub if_match: Option<Vec<String>>,
    pub if_none_match: Option<Vec<String>>,
    pub if_modified_since: Option<Timestamp>,
    pub if_unmodified_since: Option<Timestamp>,
}

impl Conditions {
    /// The conditions of a GET or HEAD (`If-*` headers).
    pub fn of_read(
        h: &http::HeaderMap,
        modified_since: Option<&Timestamp>,
        unmodified_since: Option<&Timestamp>,
    ) -> Self {
        Self {
            if_match: header(h, "if-match").map(etag_list),
            if_none_match: header(h, "if-none-match").map(etag_list),
            if_modified_since: modified_since.cloned(),
            if_unmodified_since: unmodified_since.cloned(),
        }
    }

    /// The conditions on a copy's source (`x-amz-copy-source-if-*`).
    pub fn of_copy_source(
        h: &http::HeaderMap,
        modified_since: Option<&Timestamp>,
        unmodified_since: Option<&Timestamp>,
    ) -> Self {
        Self {
            if_match: header(h, "x-amz-copy-source-if-match").map(etag_list),
            if_none_match: header(h, "x-amz-copy-source-if-none-match").map(etag_list),
            if_modified_since: modified_since.cloned(),
            if_unmodified_since: unmodified_since.cloned(),
        }
    }

    /// Evaluates them as S3 does: If-Match (else If-Unmodified-Since)
    /// failing is 412; If-None-Match matching (else If-Modified-Since not
    /// modified) is 304 on a read and 412 on a copy's source. Dates compare
    /// at second precision, as HTTP dates carry.
    pub fn check(&self, rec: &ObjectRecord, copy: bool) -> S3Result<()> {
        let matches = |tags: &Vec<String>| tags.iter().any(|t| t == "*" || *t == rec.etag);
        let modified = (rec.created_ms / 1000) as i64;
        let secs = |t: &Timestamp| time::OffsetDateTime::from(t.clone()).unix_timestamp();
        match (&self.if_match, &self.if_unmodified_since) {
            (Some(c), _) if !matches(c) => return Err(s3_error!(PreconditionFailed)),
            (None, Some(t)) if modified > secs(t) => return Err(s3_error!(PreconditionFailed)),
            _ => {}
        }
        let not_modified = || {
            if copy {
                s3_error!(PreconditionFailed)
            } else {
                s3_error!(NotModified)
            }
        };
        match (&self.if_none_match, &self.if_modified_since) {
            (Some(c), _) if matches(c) => Err(not_modified()),
            (None, Some(t)) if modified <= secs(t) => Err(not_modified()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagging_headers_parse_and_are_checked() {
        let t = parse_tagging("a=1&b%20c=x%2Fy&empty=").unwrap();
        assert_eq!(t.get("a").map(String::as_str), Some("1"));
        assert_eq!(t.get("b c").map(String::as_str), Some("x/y"));
        assert_eq!(t.get("empty").map(String::as_str), Some(""));
        let dup = parse_tagging("a=1&a=2").unwrap_err();
        assert_eq!(dup.code().as_str(), "InvalidTag");
        let many: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert!(parse_tagging(&many.join("&")).is_err());
        assert!(parse_tagging(&format!("{}=v", "k".repeat(129))).is_err());
        assert!(parse_tagging(&format!("k={}", "v".repeat(257))).is_err());
    }

    #[test]
    fn etag_lists_and_write_conditions() {
        assert_eq!(etag_list("\"a\", W/\"b\" ,c"), vec!["a", "b", "c"]);
        let mut h = http::HeaderMap::new();
        assert_eq!(expect(&h).unwrap(), Expect::Any);
        h.insert("if-none-match", "*".parse().unwrap());
        assert_eq!(expect(&h).unwrap(), Expect::Absent);
        h.insert("if-none-match", "\"x\"".parse().unwrap());
        assert_eq!(expect(&h).unwrap_err().code().as_str(), "NotImplemented");
        let mut h = http::HeaderMap::new();
        h.insert("if-match", "\"x\", \"y\"".parse().unwrap());
        assert_eq!(
            expect(&h).unwrap(),
            Expect::ETag(vec!["x".into(), "y".into()])
        );
    }

    #[test]
    fn aws_chunked_is_not_kept_as_a_content_encoding() {
        let h = headers(
            &None,
            &None,
            &Some("aws-chunked".into()),
            &None,
            &None,
            &None,
        );
        assert_eq!(h.content_encoding, None);
        let h = headers(
            &None,
            &None,
            &Some("aws-chunked, gzip".into()),
            &None,
            &None,
            &None,
        );
        assert_eq!(h.content_encoding.as_deref(), Some("gzip"));
    }
}
