use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use md5::Digest;
use objectio_testkit::Cluster;

use crate::common::*;

async fn upload_part(s3: &Client, key: &str, id: &str, n: i32, body: Vec<u8>) -> String {
    s3.upload_part()
        .bucket("mpu")
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(body.into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("part {n}: {e:?}"))
        .e_tag
        .unwrap()
}

fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(*e).build())
                .collect(),
        ))
        .build()
}

async fn create(s3: &Client, key: &str) -> String {
    s3.create_multipart_upload()
        .bucket("mpu")
        .key(key)
        .content_type("application/x-test")
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_multipart_upload_roundtrip_and_ranges_across_parts() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("mpu").send().await.unwrap();
    let id = create(&s3, "big").await;
    let parts = [data(5 << 20, 1), data(5 << 20, 2), data((1 << 20) + 7, 3)];
    // Part 2 first uploaded with other bytes, then replaced.
    upload_part(&s3, "big", &id, 2, data(5 << 20, 99)).await;
    let mut etags = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let e = upload_part(&s3, "big", &id, i as i32 + 1, p.clone()).await;
        assert_eq!(e, etag(p));
        etags.push(e);
    }
    let listed = s3
        .list_parts()
        .bucket("mpu")
        .key("big")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let sizes: Vec<i64> = listed.parts().iter().map(|p| p.size.unwrap()).collect();
    assert_eq!(sizes, vec![5 << 20, 5 << 20, (1 << 20) + 7]);
    let ups = s3
        .list_multipart_uploads()
        .bucket("mpu")
        .send()
        .await
        .unwrap();
    assert_eq!(ups.uploads().len(), 1);
    assert_eq!(ups.uploads()[0].upload_id(), Some(id.as_str()));

    let done = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("big")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &etags[0]), (2, &etags[1]), (3, &etags[2])]))
        .send()
        .await
        .unwrap();
    let mut md5 = md5::Md5::new();
    for p in &parts {
        md5.update(md5::Md5::digest(p));
    }
    let want_etag = format!("\"{}-3\"", hex::encode(md5.finalize()));
    assert_eq!(done.e_tag(), Some(want_etag.as_str()));

    let whole: Vec<u8> = parts.concat();
    assert!(
        get(&s3, "mpu", "big").await == whole,
        "multipart body differs"
    );
    let h = s3
        .head_object()
        .bucket("mpu")
        .key("big")
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_length(), Some(whole.len() as i64));
    assert_eq!(h.e_tag(), Some(want_etag.as_str()));
    assert_eq!(h.content_type(), Some("application/x-test"));
    for (a, b) in [
        ((5 << 20) - 10, (5 << 20) + 10),
        (100, (10 << 20) + 5),
        ((10 << 20) - 1, (10 << 20) + (1 << 20) + 6),
    ] {
        let r = s3
            .get_object()
            .bucket("mpu")
            .key("big")
            .range(format!("bytes={a}-{b}"))
            .send()
            .await
            .unwrap();
        let got = r.body.collect().await.unwrap().into_bytes();
        assert!(got[..] == whole[a..=b], "range {a}-{b}");
    }
    assert!(
        s3.list_multipart_uploads()
            .bucket("mpu")
            .send()
            .await
            .unwrap()
            .uploads()
            .is_empty()
    );
    let l = s3.list_objects_v2().bucket("mpu").send().await.unwrap();
    assert_eq!(l.contents()[0].size(), Some(whole.len() as i64));

    // GET and HEAD by part number (what parallel downloaders use).
    let mut off = 0usize;
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let r = s3
            .get_object()
            .bucket("mpu")
            .key("big")
            .part_number(n)
            .send()
            .await
            .unwrap();
        assert_eq!(r.parts_count(), Some(3));
        assert_eq!(r.content_length(), Some(p.len() as i64));
        assert_eq!(
            r.content_range(),
            Some(format!("bytes {off}-{}/{}", off + p.len() - 1, whole.len()).as_str())
        );
        assert_eq!(r.e_tag(), Some(want_etag.as_str()));
        let got = r.body.collect().await.unwrap().into_bytes();
        assert!(got[..] == p[..], "part {n}");
        let h = s3
            .head_object()
            .bucket("mpu")
            .key("big")
            .part_number(n)
            .send()
            .await
            .unwrap();
        assert_eq!(h.content_length(), Some(p.len() as i64));
        assert_eq!(h.parts_count(), Some(3));
        off += p.len();
    }
    let e = s3
        .get_object()
        .bucket("mpu")
        .key("big")
        .part_number(4)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidPartNumber"), "{e:?}");
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(416));
    let e = s3
        .get_object()
        .bucket("mpu")
        .key("big")
        .part_number(1)
        .range("bytes=0-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(400));
    // An object uploaded whole has one part: the whole body.
    put(&s3, "mpu", "single", data(3000, 5)).await;
    let r = s3
        .get_object()
        .bucket("mpu")
        .key("single")
        .part_number(1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.parts_count(), None);
    assert_eq!(r.body.collect().await.unwrap().into_bytes(), data(3000, 5));
    let e = s3
        .get_object()
        .bucket("mpu")
        .key("single")
        .part_number(2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidPartNumber"), "{e:?}");
    s3.delete_object()
        .bucket("mpu")
        .key("single")
        .send()
        .await
        .unwrap();

    // The replaced part 2 was reclaimed (three parts and the manifest
    // stay); deleting the object frees the rest.
    assert!(wait_shards(&c, 24).await > 0);
    s3.delete_object()
        .bucket("mpu")
        .key("big")
        .send()
        .await
        .unwrap();
    assert_eq!(wait_shards(&c, 0).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_multipart_errors_store_nothing_and_abort_frees_parts() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("mpu").send().await.unwrap();
    let id = create(&s3, "k").await;
    let e1 = upload_part(&s3, "k", &id, 1, data(1 << 20, 1)).await;
    let e2 = upload_part(&s3, "k", &id, 2, data(1 << 20, 2)).await;
    let complete = |parts: CompletedMultipartUpload| {
        s3.complete_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .multipart_upload(parts)
            .send()
    };
    let code = |r: Result<_, aws_sdk_s3::error::SdkError<_, _>>| match r {
        Ok(_) => panic!("should fail"),
        Err(e) => aws_sdk_s3::error::ProvideErrorMetadata::code(&e).map(str::to_string),
    };
    assert_eq!(
        code(complete(completed(&[(1, "\"00\""), (2, &e2)])).await).as_deref(),
        Some("InvalidPart")
    );
    assert_eq!(
        code(complete(completed(&[(2, &e2), (1, &e1)])).await).as_deref(),
        Some("InvalidPartOrder")
    );
    assert_eq!(
        code(complete(completed(&[(1, &e1), (3, &e2)])).await).as_deref(),
        Some("InvalidPart")
    );
    // Part 1 is 1 MiB and not last: too small.
    assert_eq!(
        code(complete(completed(&[(1, &e1), (2, &e2)])).await).as_deref(),
        Some("EntityTooSmall")
    );
    // Nothing was stored by the failed completions.
    let e = s3
        .head_object()
        .bucket("mpu")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
    // A single part may be small; the upload is still usable.
    complete(completed(&[(2, &e2)])).await.unwrap();
    assert!(get(&s3, "mpu", "k").await == data(1 << 20, 2));

    // Unknown upload ids, and a bucket with an upload in progress.
    let bad = s3
        .upload_part()
        .bucket("mpu")
        .key("k")
        .upload_id("00000000-0000-0000-0000-000000000000")
        .part_number(1)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Some("NoSuchUpload"));
    let id2 = create(&s3, "k2").await;
    upload_part(&s3, "k2", &id2, 1, data(3 << 20, 5)).await;
    s3.delete_object()
        .bucket("mpu")
        .key("k")
        .send()
        .await
        .unwrap();
    put(&s3, "mpu", "keep", data(1000, 9)).await;
    // An object and an upload: not empty, and the upload is left as it is.
    let e = s3.delete_bucket().bucket("mpu").send().await.unwrap_err();
    assert_eq!(e.code(), Some("BucketNotEmpty"));
    s3.list_parts()
        .bucket("mpu")
        .key("k2")
        .upload_id(&id2)
        .send()
        .await
        .unwrap();
    // The part's six shards and the small object's three copies.
    assert!(wait_shards(&c, 6 + 3).await > 0);
    // Abort frees the parts and ends the upload.
    s3.abort_multipart_upload()
        .bucket("mpu")
        .key("k2")
        .upload_id(&id2)
        .send()
        .await
        .unwrap();
    wait_shards(&c, 3).await;
    let e = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("k2")
        .upload_id(&id2)
        .multipart_upload(completed(&[(1, "x")]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchUpload"));
    // Only uploads in progress left: DeleteBucket aborts them (as AWS
    // does) and their parts' space comes back.
    s3.delete_object()
        .bucket("mpu")
        .key("keep")
        .send()
        .await
        .unwrap();
    let id3 = create(&s3, "k3").await;
    upload_part(&s3, "k3", &id3, 1, data(3 << 20, 6)).await;
    s3.delete_bucket().bucket("mpu").send().await.unwrap();
    assert_eq!(wait_shards(&c, 0).await, 0);
    let e = s3
        .upload_part()
        .bucket("mpu")
        .key("k3")
        .upload_id(&id3)
        .part_number(2)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchBucket"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_gateway_killed_mid_part_then_the_upload_completes() {
    let mut c = Cluster::start().await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("mpu").send().await.unwrap();
    let id = create(&s3c, "k").await;
    let p1 = data(5 << 20, 1);
    let e1 = upload_part(&s3c, "k", &id, 1, p1.clone()).await;
    let used_before = wait_shards(&c, 6).await;
    // Part 2 streams slowly; the gateway dies in the middle of it.
    let (tx, body) = fed_body(2);
    let req = signed(
        &c,
        reqwest::Method::PUT,
        &format!("/mpu/k?partNumber=2&uploadId={id}"),
    )
    .header("content-length", 5 << 20)
    .body(body);
    let task = tokio::spawn(async move { req.send().await });
    tx.send(Ok(bytes::Bytes::from(data(2 << 20, 2))))
        .await
        .unwrap();
    // Killed only once the part has its intent and shards on the OSDs.
    assert_eq!(wait_write_started(&c, used_before).await, 1);
    c.kill_gateway();
    assert!(
        task.await.unwrap().is_err(),
        "the interrupted part must fail"
    );
    drop(tx);
    c.restart_gateway().await.unwrap();
    // The client retries the part and completes: the object is whole, and
    // the interrupted part's shards are reclaimed (its intent named them).
    let s3c = s3(&c);
    let p2 = data((3 << 20) + 5, 3);
    let e2 = upload_part(&s3c, "k", &id, 2, p2.clone()).await;
    s3c.complete_multipart_upload()
        .bucket("mpu")
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
        .send()
        .await
        .unwrap();
    assert!(get(&s3c, "mpu", "k").await == [p1, p2].concat());
    // Two parts and the manifest.
    wait_shards(&c, 18).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_a_part_written_degraded_is_repaired_before_the_upload_completes() {
    let mut c = Cluster::start().await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("mpu").send().await.unwrap();
    let id = create(&s3c, "k").await;
    // Part 1 while an OSD is down: five shards, the sixth missing.
    c.kill_osd(0);
    c.wait_osds_up(5).await.unwrap();
    let p1 = data(5 << 20, 11);
    let e1 = upload_part(&s3c, "k", &id, 1, p1.clone()).await;
    let store = objectio_cluster::Store::connect(&[c.etcd_endpoint()], "it")
        .await
        .unwrap();
    let upload: uuid::Uuid = id.parse().unwrap();
    let part = || {
        let store = store.clone();
        async move {
            store
                .get::<objectio_cluster::PartRecord>(store.keys().part(&upload, 1))
                .await
                .unwrap()
                .unwrap()
                .0
        }
    };
    assert_eq!(part().await.shards.iter().flatten().count(), 5);
    // The OSD returns: the pass its return starts repairs the part record
    // of the upload still in progress.
    c.start_osd(0).unwrap();
    c.wait_osds_up(6).await.unwrap();
    let t = std::time::Instant::now();
    while part().await.shards.iter().flatten().count() != 6 {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(30),
            "the part was never repaired: {:?}",
            part().await.shards
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Completed afterwards, the object is whole from the start.
    let p2 = data(1 << 20, 12);
    let e2 = upload_part(&s3c, "k", &id, 2, p2.clone()).await;
    s3c.complete_multipart_upload()
        .bucket("mpu")
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
        .send()
        .await
        .unwrap();
    let rec = record(&c, "mpu", "k").await;
    assert!(
        rec.parts
            .iter()
            .all(|p| p.shards.iter().flatten().count() == 6)
    );
    assert!(get(&s3c, "mpu", "k").await == [p1, p2].concat());
    // Two parts and the manifest; the repaired part's old locations were
    // reclaimed with nothing left over.
    wait_shards(&c, 18).await;
}
