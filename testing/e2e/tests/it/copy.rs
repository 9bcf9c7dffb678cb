//! What objects carry and how they are copied, through real gateways with
//! `aws-sdk-s3`: metadata and standard headers kept and answered (and
//! overridden by `response-*`), tags on PUT, CopyObject (directives,
//! source conditions, across buckets, onto itself, independence from its
//! source, multi-stripe and multipart sources, authorization of the
//! source), UploadPartCopy with ranges, and conditional writes atomic with
//! the commit.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, MetadataDirective, StorageClass, TaggingDirective,
};
use futures::StreamExt;
use objectio_testkit::Cluster;

use crate::common::*;

fn status<E: ProvideErrorMetadata>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_objects_keep_their_headers_metadata_and_tags() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("hdr").send().await.unwrap();
    let expires = DateTime::from_secs(1_900_000_000);
    s3.put_object()
        .bucket("hdr")
        .key("page.html")
        .body(b"<html/>".to_vec().into())
        .content_type("text/html")
        .cache_control("max-age=60")
        .content_disposition("attachment; filename=\"p.html\"")
        .content_encoding("gzip")
        .content_language("de")
        .expires(expires)
        .website_redirect_location("/other.html")
        .metadata("color", "blue")
        .tagging("a=1&b%20c=x%2Fy")
        .storage_class(StorageClass::Standard)
        .send()
        .await
        .unwrap();
    let h = s3
        .head_object()
        .bucket("hdr")
        .key("page.html")
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_type(), Some("text/html"));
    assert_eq!(h.cache_control(), Some("max-age=60"));
    assert_eq!(
        h.content_disposition(),
        Some("attachment; filename=\"p.html\"")
    );
    assert_eq!(h.content_encoding(), Some("gzip"));
    assert_eq!(h.content_language(), Some("de"));
    assert_eq!(h.expires_string(), Some("Sun, 17 Mar 2030 17:46:40 GMT"));
    assert_eq!(h.website_redirect_location(), Some("/other.html"));
    assert_eq!(
        h.metadata()
            .and_then(|m| m.get("color"))
            .map(String::as_str),
        Some("blue")
    );
    let g = s3
        .get_object()
        .bucket("hdr")
        .key("page.html")
        .send()
        .await
        .unwrap();
    assert_eq!(g.cache_control(), Some("max-age=60"));
    assert_eq!(g.tag_count(), Some(2));
    // response-* overrides what is kept, for this answer only.
    let g = s3
        .get_object()
        .bucket("hdr")
        .key("page.html")
        .response_content_type("application/octet-stream")
        .response_cache_control("no-store")
        .response_content_disposition("inline")
        .send()
        .await
        .unwrap();
    assert_eq!(g.content_type(), Some("application/octet-stream"));
    assert_eq!(g.cache_control(), Some("no-store"));
    assert_eq!(g.content_disposition(), Some("inline"));
    assert_eq!(g.content_language(), Some("de"));
    // An upload's aws-chunked framing is not the object's content coding.
    let big = data(300_000, 5);
    s3.put_object()
        .bucket("hdr")
        .key("chunked")
        .body(big.clone().into())
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap();
    let h = s3
        .head_object()
        .bucket("hdr")
        .key("chunked")
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_encoding(), None);
    assert_eq!(get(&s3, "hdr", "chunked").await, big);

    // What S3 refuses, refused here, and nothing stored.
    let e = s3
        .put_object()
        .bucket("hdr")
        .key("cold")
        .body(b"x".to_vec().into())
        .storage_class(StorageClass::Glacier)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidStorageClass"), "{e:?}");
    let e = s3
        .put_object()
        .bucket("hdr")
        .key("fat")
        .body(b"x".to_vec().into())
        .metadata("m", "v".repeat(2100))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("MetadataTooLarge"), "{e:?}");
    let e = s3
        .put_object()
        .bucket("hdr")
        .key("tags")
        .body(b"x".to_vec().into())
        .tagging("a=1&a=2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidTag"), "{e:?}");
    for k in ["cold", "fat", "tags"] {
        let e = s3
            .head_object()
            .bucket("hdr")
            .key(k)
            .send()
            .await
            .unwrap_err();
        assert_eq!(status(&e), Some(404), "{k}");
    }
    // CreateMultipartUpload keeps them for the completed object.
    let up = s3
        .create_multipart_upload()
        .bucket("hdr")
        .key("mp")
        .content_type("video/mp4")
        .cache_control("private")
        .metadata("k", "v")
        .tagging("t=1")
        .send()
        .await
        .unwrap();
    let part = data(1000, 1);
    let p = s3
        .upload_part()
        .bucket("hdr")
        .key("mp")
        .upload_id(up.upload_id().unwrap())
        .part_number(1)
        .body(part.into())
        .send()
        .await
        .unwrap();
    s3.complete_multipart_upload()
        .bucket("hdr")
        .key("mp")
        .upload_id(up.upload_id().unwrap())
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(p.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let g = s3
        .get_object()
        .bucket("hdr")
        .key("mp")
        .send()
        .await
        .unwrap();
    assert_eq!(g.content_type(), Some("video/mp4"));
    assert_eq!(g.cache_control(), Some("private"));
    assert_eq!(g.tag_count(), Some(1));
    assert_eq!(
        g.metadata().and_then(|m| m.get("k")).map(String::as_str),
        Some("v")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_copy_object_copies_what_it_is_told_and_outlives_its_source() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    for b in ["csrc", "cdst"] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    // 9 MiB: several stripes of 4 MiB.
    let body = data(9 << 20, 42);
    let src_etag = s3
        .put_object()
        .bucket("csrc")
        .key("big")
        .body(body.clone().into())
        .content_type("application/x-big")
        .metadata("origin", "src")
        .tagging("keep=yes")
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap();

    // COPY (the default): body, metadata and tags come along.
    let r = s3
        .copy_object()
        .bucket("cdst")
        .key("copy")
        .copy_source("csrc/big")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.copy_object_result().and_then(|r| r.e_tag()),
        Some(src_etag.as_str())
    );
    let h = s3
        .head_object()
        .bucket("cdst")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_type(), Some("application/x-big"));
    assert_eq!(
        h.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("src")
    );
    let tags = s3
        .get_object()
        .bucket("cdst")
        .key("copy")
        .send()
        .await
        .unwrap()
        .tag_count();
    assert_eq!(tags, Some(1));

    // REPLACE: the request's metadata and tags instead.
    s3.copy_object()
        .bucket("cdst")
        .key("replaced")
        .copy_source("csrc/big")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/plain")
        .metadata("origin", "replaced")
        .tagging_directive(TaggingDirective::Replace)
        .tagging("x=1&y=2")
        .send()
        .await
        .unwrap();
    let g = s3
        .get_object()
        .bucket("cdst")
        .key("replaced")
        .send()
        .await
        .unwrap();
    assert_eq!(g.content_type(), Some("text/plain"));
    assert_eq!(
        g.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("replaced")
    );
    assert_eq!(g.tag_count(), Some(2));
    assert_eq!(
        g.body.collect().await.unwrap().into_bytes().as_ref(),
        body.as_slice()
    );

    // Onto itself: refused unless something changes; REPLACE changes it.
    let e = s3
        .copy_object()
        .bucket("csrc")
        .key("big")
        .copy_source("csrc/big")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidRequest"), "{e:?}");
    s3.copy_object()
        .bucket("csrc")
        .key("big")
        .copy_source("csrc/big")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("origin", "again")
        .send()
        .await
        .unwrap();
    let h = s3
        .head_object()
        .bucket("csrc")
        .key("big")
        .send()
        .await
        .unwrap();
    assert_eq!(
        h.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("again")
    );
    assert_eq!(h.e_tag(), Some(src_etag.as_str()));
    assert_eq!(get(&s3, "csrc", "big").await, body);

    // Source conditions: 412 whichever fails, and nothing written.
    let e = s3
        .copy_object()
        .bucket("cdst")
        .key("cond")
        .copy_source("csrc/big")
        .copy_source_if_match("\"0000\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(412), "{e:?}");
    let e = s3
        .copy_object()
        .bucket("cdst")
        .key("cond")
        .copy_source("csrc/big")
        .copy_source_if_none_match(src_etag.as_str())
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(412), "{e:?}");
    let e = s3
        .copy_object()
        .bucket("cdst")
        .key("cond")
        .copy_source("csrc/big")
        .copy_source_if_modified_since(DateTime::from_secs(4_000_000_000))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(412), "{e:?}");
    let e = s3
        .head_object()
        .bucket("cdst")
        .key("cond")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(404));
    s3.copy_object()
        .bucket("cdst")
        .key("cond")
        .copy_source("csrc/big")
        .copy_source_if_match(src_etag.as_str())
        .copy_source_if_unmodified_since(DateTime::from_secs(4_000_000_000))
        .send()
        .await
        .unwrap();
    let e = s3
        .copy_object()
        .bucket("cdst")
        .key("x")
        .copy_source("csrc/missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchKey"), "{e:?}");
    let e = s3
        .copy_object()
        .bucket("cdst")
        .key("x")
        .copy_source("csrc/big?versionId=00000000-0000-0000-0000-000000000001")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchVersion"), "{e:?}");

    // A multipart source copies whole.
    let up = s3
        .create_multipart_upload()
        .bucket("csrc")
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let parts = [data(5 << 20, 7), data(1 << 20, 8)];
    let mut done = Vec::new();
    for (n, p) in parts.iter().enumerate() {
        let r = s3
            .upload_part()
            .bucket("csrc")
            .key("mp")
            .upload_id(id)
            .part_number(n as i32 + 1)
            .body(p.clone().into())
            .send()
            .await
            .unwrap();
        done.push(
            CompletedPart::builder()
                .part_number(n as i32 + 1)
                .e_tag(r.e_tag().unwrap())
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket("csrc")
        .key("mp")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.copy_object()
        .bucket("cdst")
        .key("from-mp")
        .copy_source("csrc/mp")
        .send()
        .await
        .unwrap();
    assert_eq!(get(&s3, "cdst", "from-mp").await, parts.concat());

    // Independent of the source: delete every source, let GC run, and the
    // copies still read back whole.
    for k in ["big", "mp"] {
        s3.delete_object()
            .bucket("csrc")
            .key(k)
            .send()
            .await
            .unwrap();
    }
    // Six shards per (single-part) copy: exactly the copies' shards remain.
    let copies = ["copy", "replaced", "cond", "from-mp"];
    wait_shards(&c, 6 * copies.len() as u64).await;
    for k in ["copy", "replaced", "cond"] {
        assert_eq!(get(&s3, "cdst", k).await, body, "{k}");
    }
    assert_eq!(get(&s3, "cdst", "from-mp").await, parts.concat());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_upload_part_copy_takes_ranges_and_copies_need_read_access() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("upc").send().await.unwrap();
    let body = data(7 << 20, 3);
    put(&s3, "upc", "src", body.clone()).await;
    let up = s3
        .create_multipart_upload()
        .bucket("upc")
        .key("dst")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let split = 5 << 20;
    let mut done = Vec::new();
    for (n, range) in [
        format!("bytes=0-{}", split - 1),
        format!("bytes={split}-{}", body.len() - 1),
    ]
    .iter()
    .enumerate()
    {
        let r = s3
            .upload_part_copy()
            .bucket("upc")
            .key("dst")
            .upload_id(id)
            .part_number(n as i32 + 1)
            .copy_source("upc/src")
            .copy_source_range(range)
            .send()
            .await
            .unwrap();
        done.push(
            CompletedPart::builder()
                .part_number(n as i32 + 1)
                .e_tag(r.copy_part_result().and_then(|p| p.e_tag()).unwrap())
                .build(),
        );
    }
    let e = s3
        .upload_part_copy()
        .bucket("upc")
        .key("dst")
        .upload_id(id)
        .part_number(3)
        .copy_source("upc/src")
        .copy_source_range(format!("bytes=0-{}", body.len()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidRange"), "{e:?}");
    s3.complete_multipart_upload()
        .bucket("upc")
        .key("dst")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(get(&s3, "upc", "dst").await, body);

    // Bob may write his own bucket but not read alice's (the cluster's
    // user here): his copy of her object is refused, nothing written.
    c.create_user("bob").await.unwrap();
    let (bk, bs) = c.create_key("bob").await.unwrap();
    let bob = s3_with(&c, &bk, &bs, None);
    bob.create_bucket().bucket("bobs").send().await.unwrap();
    let e = bob
        .copy_object()
        .bucket("bobs")
        .key("stolen")
        .copy_source("upc/src")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"), "{e:?}");
    let e = bob
        .head_object()
        .bucket("bobs")
        .key("stolen")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(404));
    // Nor may he copy into her bucket (PutObject on the destination).
    put(&bob, "bobs", "mine", b"bob's".to_vec()).await;
    let e = bob
        .copy_object()
        .bucket("upc")
        .key("planted")
        .copy_source("bobs/mine")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_conditional_writes_are_atomic_with_the_commit() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("cnd").send().await.unwrap();
    // Eight racing creates of one key: exactly one wins.
    let answers: Vec<_> = futures::stream::iter(0..8u64)
        .map(|i| {
            let s3 = s3.clone();
            async move {
                s3.put_object()
                    .bucket("cnd")
                    .key("once")
                    .if_none_match("*")
                    .body(data(100_000, i).into())
                    .send()
                    .await
                    .map(|r| (i, r.e_tag.unwrap()))
                    .map_err(|e| (e.code().map(str::to_string), status(&e)))
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let won: Vec<&(u64, String)> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    for a in &answers {
        if let Err(e) = a {
            assert_eq!(e, &(Some("PreconditionFailed".to_string()), Some(412)));
        }
    }
    let (winner, winner_etag) = won[0].clone();
    assert_eq!(get(&s3, "cnd", "once").await, data(100_000, winner));
    // The losers' shards go back: exactly the winner's six remain.
    wait_shards(&c, 6).await;

    // If-Match: the right ETag (in a list) overwrites, a wrong one is 412,
    // a missing key is 404.
    let e = s3
        .put_object()
        .bucket("cnd")
        .key("once")
        .if_match("\"ffff\"")
        .body(b"no".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(412));
    let new_etag = s3
        .put_object()
        .bucket("cnd")
        .key("once")
        .if_match(format!("\"ffff\", {winner_etag}"))
        .body(b"second".to_vec().into())
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap();
    assert_eq!(get(&s3, "cnd", "once").await, b"second");
    let e = s3
        .put_object()
        .bucket("cnd")
        .key("never")
        .if_match(winner_etag.as_str())
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchKey"), "{e:?}");

    // Conditional reads take lists of ETags.
    let g = s3
        .get_object()
        .bucket("cnd")
        .key("once")
        .if_match(format!("\"0000\", {new_etag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(g.e_tag(), Some(new_etag.as_str()));
    let e = s3
        .get_object()
        .bucket("cnd")
        .key("once")
        .if_none_match(format!("\"0000\", {new_etag}"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(304));

    // CompleteMultipartUpload with If-None-Match: * onto an existing key
    // is refused and the upload stays; without it, it completes.
    let up = s3
        .create_multipart_upload()
        .bucket("cnd")
        .key("once")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let p = s3
        .upload_part()
        .bucket("cnd")
        .key("once")
        .upload_id(id)
        .part_number(1)
        .body(b"multipart".to_vec().into())
        .send()
        .await
        .unwrap();
    let parts = CompletedMultipartUpload::builder()
        .parts(
            CompletedPart::builder()
                .part_number(1)
                .e_tag(p.e_tag().unwrap())
                .build(),
        )
        .build();
    let e = s3
        .complete_multipart_upload()
        .bucket("cnd")
        .key("once")
        .upload_id(id)
        .if_none_match("*")
        .multipart_upload(parts.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(412), "{e:?}");
    assert_eq!(get(&s3, "cnd", "once").await, b"second");
    let listed = s3
        .list_parts()
        .bucket("cnd")
        .key("once")
        .upload_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.parts().len(), 1);
    s3.complete_multipart_upload()
        .bucket("cnd")
        .key("once")
        .upload_id(id)
        .if_match(new_etag.as_str())
        .multipart_upload(parts)
        .send()
        .await
        .unwrap();
    assert_eq!(get(&s3, "cnd", "once").await, b"multipart");
}
