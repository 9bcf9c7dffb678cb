use aws_sdk_s3::primitives::ByteStream;
use objectio_testkit::Cluster;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_roundtrip_sizes_with_default_sdk_checksums() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("rtt").send().await.unwrap();
    for (i, len) in [0usize, 1, (1 << 20) + 1, (4 << 20) + 100]
        .into_iter()
        .enumerate()
    {
        let body = data(len, i as u64);
        let key = format!("obj-{len}");
        let e = put(&s3, "rtt", &key, body.clone()).await;
        assert_eq!(e, etag(&body), "etag of {len} bytes");
        let back = get(&s3, "rtt", &key).await;
        assert!(back == body, "bytes of {len} differ");
        let h = s3
            .head_object()
            .bucket("rtt")
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(h.content_length, Some(len as i64));
        assert_eq!(h.e_tag.as_deref(), Some(etag(&body).as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_100mib_streamed_from_file_roundtrips() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("big").send().await.unwrap();
    let body = data(100 << 20, 7);
    let path = c.dir.path().join("upload.bin");
    std::fs::write(&path, &body).unwrap();
    // A file body streams: the SDK sends aws-chunked with a CRC32 trailer.
    let r = s3
        .put_object()
        .bucket("big")
        .key("100m")
        .body(ByteStream::from_path(&path).await.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.e_tag.as_deref(), Some(etag(&body).as_str()));
    let back = get(&s3, "big", "100m").await;
    assert_eq!(back.len(), body.len());
    assert!(back == body, "100 MiB body differs");

    // Ranged reads across stripe boundaries.
    for (a, b) in [
        (0u64, 0u64),
        (4 << 20, (4 << 20) + 9),
        ((4 << 20) - 5, (8 << 20) + 5),
        ((100 << 20) - 10, (100 << 20) - 1),
    ] {
        let r = s3
            .get_object()
            .bucket("big")
            .key("100m")
            .range(format!("bytes={a}-{b}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.content_range.as_deref(),
            Some(format!("bytes {a}-{b}/{}", 100 << 20).as_str())
        );
        let got = r.body.collect().await.unwrap().into_bytes();
        assert!(got[..] == body[a as usize..=b as usize], "range {a}-{b}");
    }
    let r = s3
        .get_object()
        .bucket("big")
        .key("100m")
        .range("bytes=-7")
        .send()
        .await
        .unwrap();
    assert!(r.body.collect().await.unwrap().into_bytes()[..] == body[body.len() - 7..]);
    let e = s3
        .get_object()
        .bucket("big")
        .key("100m")
        .range(format!("bytes={}-", 200 << 20))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(416));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_overwrite_delete_and_bucket_lifecycle() {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("life").send().await.unwrap();
    let again = s3.create_bucket().bucket("life").send().await.unwrap_err();
    assert_eq!(again.code(), Some("BucketAlreadyOwnedByYou"));
    put(&s3, "life", "k", b"one".to_vec()).await;
    put(&s3, "life", "k", b"two!".to_vec()).await;
    assert_eq!(get(&s3, "life", "k").await, b"two!");
    let e = s3.delete_bucket().bucket("life").send().await.unwrap_err();
    assert_eq!(e.code(), Some("BucketNotEmpty"));
    s3.delete_object()
        .bucket("life")
        .key("k")
        .send()
        .await
        .unwrap();
    let e = s3
        .get_object()
        .bucket("life")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchKey"));
    // Deleting a missing key is not an error in S3.
    s3.delete_object()
        .bucket("life")
        .key("k")
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket("life").send().await.unwrap();
    let e = s3.head_bucket().bucket("life").send().await.unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
    // A PUT right after the delete (the gateway saw the bucket a moment
    // ago) is refused at commit: NoSuchBucket, and nothing is left.
    let e = s3
        .put_object()
        .bucket("life")
        .key("late")
        .body(data(100_000, 3).into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchBucket"));
    assert_eq!(
        wait_shards(&c, 0).await,
        0,
        "the refused PUT's shards are reclaimed"
    );

    // Content-MD5 that does not match is refused and stores nothing.
    s3.create_bucket().bucket("md5").send().await.unwrap();
    let e = s3
        .put_object()
        .bucket("md5")
        .key("bad")
        .content_md5("1B2M2Y8AsgTpgAmY7PhCfg==")
        .body(b"not empty".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("BadDigest"));
    let e = s3
        .head_object()
        .bucket("md5")
        .key("bad")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));

    // User metadata and content type come back.
    s3.put_object()
        .bucket("md5")
        .key("meta")
        .content_type("text/plain")
        .metadata("color", "blue")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    let h = s3
        .head_object()
        .bucket("md5")
        .key("meta")
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_type(), Some("text/plain"));
    assert_eq!(
        h.metadata()
            .and_then(|m| m.get("color"))
            .map(String::as_str),
        Some("blue")
    );
}

fn status<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_conditional_get_and_head() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("cond").send().await.unwrap();
    let body = data(10_000, 8);
    let tag = put(&s3, "cond", "k", body.clone()).await;
    // Matching If-None-Match: 304; another ETag: the body.
    let e = s3
        .get_object()
        .bucket("cond")
        .key("k")
        .if_none_match(&tag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(304));
    let r = s3
        .get_object()
        .bucket("cond")
        .key("k")
        .if_none_match("\"other\"")
        .send()
        .await
        .unwrap();
    assert!(r.body.collect().await.unwrap().into_bytes()[..] == body[..]);
    // If-Match: the body when it matches, 412 otherwise (GET and HEAD).
    assert!(
        s3.get_object()
            .bucket("cond")
            .key("k")
            .if_match(&tag)
            .send()
            .await
            .is_ok()
    );
    let e = s3
        .get_object()
        .bucket("cond")
        .key("k")
        .if_match("\"other\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(412));
    let e = s3
        .head_object()
        .bucket("cond")
        .key("k")
        .if_match("\"other\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(412));
    // Dates.
    let later = aws_sdk_s3::primitives::DateTime::from(
        std::time::SystemTime::now() + std::time::Duration::from_secs(3600),
    );
    let earlier = aws_sdk_s3::primitives::DateTime::from(
        std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
    );
    let e = s3
        .get_object()
        .bucket("cond")
        .key("k")
        .if_modified_since(later)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(304));
    assert!(
        s3.get_object()
            .bucket("cond")
            .key("k")
            .if_modified_since(earlier)
            .send()
            .await
            .is_ok()
    );
    let e = s3
        .get_object()
        .bucket("cond")
        .key("k")
        .if_unmodified_since(earlier)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(412));
}
