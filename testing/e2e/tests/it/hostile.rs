//! Hostile and broken input to the S3 gateway: every case gets a clear S3
//! error (or a closed connection) and stores nothing.

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;

use objectio_testkit::Cluster;

use crate::common::*;

async fn status_and_body(r: reqwest::Response) -> (u16, String) {
    let s = r.status().as_u16();
    (s, r.text().await.unwrap_or_default())
}

async fn head_status(c: &Cluster, path: &str) -> u16 {
    signed(c, reqwest::Method::HEAD, path)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_hostile_requests_get_s3_errors_and_store_nothing() {
    let c = Cluster::start().await.unwrap();
    let s3c = s3_no_retry(&c, &c.access_key.clone(), &c.secret_key.clone(), None);
    s3c.create_bucket().bucket("hostile").send().await.unwrap();

    // Keys: 1024 bytes is the S3 limit; one more is KeyTooLongError.
    let long = "k".repeat(1024);
    put(&s3c, "hostile", &long, b"ok".to_vec()).await;
    let e = s3c
        .put_object()
        .bucket("hostile")
        .key("k".repeat(1025))
        .body(b"no".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("KeyTooLongError"), "{e:?}");

    // A client that sends less than it declared and hangs up: nothing is
    // committed, and the shards written so far are given back.
    // The long key's "ok": three copies.
    let used_before = wait_shards(&c, 3).await;
    let (tx, body) = fed_body(4);
    let req = signed(&c, reqwest::Method::PUT, "/hostile/short")
        .header("content-length", 8 << 20)
        .body(body);
    let put_task = tokio::spawn(async move { req.send().await });
    for i in 0..5 {
        tx.send(Ok(bytes::Bytes::from(data(1 << 20, i))))
            .await
            .unwrap();
    }
    // The client hangs up only once the write really began.
    assert_eq!(wait_write_started(&c, used_before).await, 1);
    tx.send(Err(std::io::Error::other("client gone")))
        .await
        .unwrap();
    let r = put_task.await.unwrap();
    assert!(
        r.as_ref().map(|r| !r.status().is_success()).unwrap_or(true),
        "a truncated PUT must not succeed: {r:?}"
    );
    assert_eq!(head_status(&c, "/hostile/short").await, 404);
    // Only the long key's three copies remain once the abandoned write is
    // cleaned up.
    wait_shards(&c, 3).await;

    // aws-chunked by hand: first a well-formed body (the control), then
    // broken ones.
    let chunked = |path: &str, decoded: &str, body: &'static str| {
        signed_with(
            &c,
            reqwest::Method::PUT,
            path,
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        )
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", decoded)
        .header("x-amz-trailer", "x-amz-checksum-crc32")
        .body(body)
    };
    let r = chunked(
        "/hostile/chunked-ok",
        "5",
        "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n",
    )
    .send()
    .await
    .unwrap();
    let (st, body) = status_and_body(r).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(get(&s3c, "hostile", "chunked-ok").await, b"hello");
    // A bad chunk size line; a body longer than its decoded length.
    for (path, decoded, body) in [
        (
            "/hostile/chunked-bad",
            "5",
            "zz\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n",
        ),
        (
            "/hostile/chunked-long",
            "3",
            "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n",
        ),
    ] {
        let r = chunked(path, decoded, body).send().await.unwrap();
        let (st, body) = status_and_body(r).await;
        assert!((400..500).contains(&st), "{path}: {st} {body}");
        assert!(body.contains("<Code>"), "{path}: S3 XML error: {body}");
        assert_eq!(head_status(&c, path).await, 404, "{path}");
    }

    // CompleteMultipartUpload with garbage instead of XML.
    let up = s3c
        .create_multipart_upload()
        .bucket("hostile")
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let r = signed(
        &c,
        reqwest::Method::POST,
        &format!("/hostile/mp?uploadId={id}"),
    )
    .body("<CompleteMultipartUpload><Part><PartNumber>x")
    .send()
    .await
    .unwrap();
    let (st, body) = status_and_body(r).await;
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("<Code>MalformedXML</Code>"), "{body}");
    assert_eq!(head_status(&c, "/hostile/mp").await, 404);

    // Unknown upload ids and absurd part numbers.
    let e = s3c
        .upload_part()
        .bucket("hostile")
        .key("mp")
        .upload_id("not-an-upload")
        .part_number(1)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchUpload"), "{e:?}");
    let e = s3c
        .upload_part()
        .bucket("hostile")
        .key("mp")
        .upload_id(id)
        .part_number(10_001)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidArgument"), "{e:?}");

    // A range past the end is InvalidRange (416); an unparseable one is a
    // clear 400 InvalidArgument naming the header (S3 itself ignores it).
    for (range, status, code) in [
        ("bytes=100-200", 416, "InvalidRange"),
        ("bytes=oops", 400, "InvalidArgument"),
    ] {
        let r = signed(&c, reqwest::Method::GET, &format!("/hostile/{long}"))
            .header("range", range)
            .send()
            .await
            .unwrap();
        let (st, body) = status_and_body(r).await;
        assert_eq!(st, status, "{range}: {body}");
        assert!(
            body.contains(&format!("<Code>{code}</Code>")),
            "{range}: {body}"
        );
    }

    // A large body refused before it is read (no such bucket): the gateway
    // reads and drops it, so the client gets the S3 error rather than a
    // reset connection (clients without `Expect: 100-continue`).
    let (tx, slow) = fed_body(1);
    let req = signed(&c, reqwest::Method::PUT, "/no-such-bucket/big")
        .header("content-length", 8 << 20)
        .body(slow);
    let sender = tokio::spawn(async move {
        for i in 0..8 {
            // The gateway has answered by the second piece.
            tokio::time::sleep(Duration::from_millis(if i == 1 { 500 } else { 10 })).await;
            if tx
                .send(Ok(bytes::Bytes::from(data(1 << 20, i))))
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let r = req.send().await.expect("an answer, not a broken pipe");
    sender.abort();
    let (st, body) = status_and_body(r).await;
    assert_eq!(st, 404, "{body}");
    assert!(body.contains("<Code>NoSuchBucket</Code>"), "{body}");

    // Only the two good objects exist.
    let listed = s3c
        .list_objects_v2()
        .bucket("hostile")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(2));
}
