//! Disaster recovery: the object index and buckets rebuilt from raw disk
//! scans (`disk scan` on every disk, then `meta rebuild --from-scan`).

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use etcd_client::DeleteOptions;
use objectio_cluster::Store;
use objectio_testkit::{Cluster, Options};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_rebuild_from_scan_after_losing_the_index_reads_every_object_back() {
    // GC reclaims replaced and deleted versions at once, as after the
    // grace period in production.
    let c = Cluster::start_with(Options {
        gc_grace_secs: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3(&c);
    for b in ["photos", "logs"] {
        s3c.create_bucket().bucket(b).send().await.unwrap();
    }
    let jpg = data((3 << 20) + 5, 1);
    s3c.put_object()
        .bucket("photos")
        .key("a.jpg")
        .content_type("image/jpeg")
        .metadata("camera", "nikon")
        .body(ByteStream::from(jpg.clone()))
        .send()
        .await
        .unwrap();
    let small = data(100 << 10, 2);
    put(&s3c, "photos", "b/small", small.clone()).await;
    // Below replicate-max: three whole copies, rebuilt from their headers
    // like any shards.
    let tiny = data(1000, 9);
    put(&s3c, "photos", "tiny", tiny.clone()).await;
    put(&s3c, "logs", "over", data(1 << 20, 3)).await;
    let over = data((1 << 20) + 9, 4);
    put(&s3c, "logs", "over", over.clone()).await;
    put(&s3c, "logs", "deleted", data(50_000, 5)).await;
    s3c.delete_object()
        .bucket("logs")
        .key("deleted")
        .send()
        .await
        .unwrap();
    // A completed multipart object, and an upload still in progress.
    let (p1, p2) = (data(5 << 20, 6), data((1 << 20) + 1, 7));
    let up = s3c
        .create_multipart_upload()
        .bucket("logs")
        .key("big")
        .content_type("application/x-tar")
        .send()
        .await
        .unwrap();
    let uid = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, p) in [(1, &p1), (2, &p2)] {
        let r = s3c
            .upload_part()
            .bucket("logs")
            .key("big")
            .upload_id(uid)
            .part_number(n)
            .body(ByteStream::from(p.clone()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(r.e_tag().unwrap())
                .build(),
        );
    }
    s3c.complete_multipart_upload()
        .bucket("logs")
        .key("big")
        .upload_id(uid)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let pending = s3c
        .create_multipart_upload()
        .bucket("logs")
        .key("pending")
        .send()
        .await
        .unwrap();
    s3c.upload_part()
        .bucket("logs")
        .key("pending")
        .upload_id(pending.upload_id().unwrap())
        .part_number(1)
        .body(ByteStream::from(data(5 << 20, 8)))
        .send()
        .await
        .unwrap();
    let mut big = p1.clone();
    big.extend_from_slice(&p2);
    let want: Vec<(&str, &str, Vec<u8>)> = vec![
        ("photos", "a.jpg", jpg),
        ("photos", "b/small", small),
        ("photos", "tiny", tiny),
        ("logs", "over", over),
        ("logs", "big", big),
    ];
    let mut etags = Vec::new();
    for (b, k, _) in &want {
        let h = s3c.head_object().bucket(*b).key(*k).send().await.unwrap();
        etags.push(h.e_tag().unwrap().to_string());
    }
    // Live shards: 6 each for three objects, 3 copies of the tiny one, 2
    // parts and a manifest for the multipart one, one part of the upload
    // in progress; the replaced and deleted versions are gone from their
    // disks' indexes.
    wait_shards(&c, 6 * 3 + 3 + 6 * 3 + 6).await;

    // The index and the buckets are lost.
    let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
    for prefix in [store.keys().objects_root(), store.keys().buckets_prefix()] {
        store
            .kv()
            .delete(prefix, Some(DeleteOptions::new().with_prefix()))
            .await
            .unwrap();
    }
    let r = s3c.head_object().bucket("photos").key("a.jpg").send().await;
    assert!(r.is_err());
    // Every disk scanned (the OSDs keep running).
    let mut files = Vec::new();
    for (i, o) in c.osds.iter().enumerate() {
        let f = c.dir.path().join(format!("scan{i}.json"));
        let out = std::process::Command::new(objectio_testkit::bin_dir().join("objectio-cli"))
            .args(["disk", "scan"])
            .arg(&o.disk)
            .arg("--output")
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        files.push(f.to_string_lossy().into_owned());
    }
    let mut args = vec!["meta", "rebuild", "--from-scan"];
    args.extend(files.iter().map(String::as_str));
    // A dry run says what it would do and writes nothing.
    let mut dry = args.clone();
    dry.extend(["--dry-run", "--owner", "test"]);
    let (ok, out, err) = cli(&c, &dry);
    assert!(ok, "{err}");
    assert!(
        out.contains("would create 5 object(s) (1 multipart"),
        "{out}"
    );
    assert!(out.contains("and 2 bucket(s): logs, photos"), "{out}");
    assert!(out.contains("nothing was written"), "{out}");
    assert!(out.contains("belongs to no completed upload"), "{out}");
    assert_eq!(store.count(store.keys().objects_root()).await.unwrap(), 0);
    // Buckets need an owner.
    let (ok, _, err) = cli(&c, &args);
    assert!(!ok && err.contains("--owner"), "{err}");
    let mut real = args.clone();
    real.extend(["--owner", "test", "--format", "json"]);
    let (ok, out, err) = cli(&c, &real);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["objects_created"], 5, "{v}");
    assert_eq!(v["multipart_objects"], 1, "{v}");
    // Every object reads back byte-identical with its ETag and metadata.
    for ((b, k, body), etag) in want.iter().zip(&etags) {
        let r = s3c.get_object().bucket(*b).key(*k).send().await.unwrap();
        assert_eq!(r.e_tag(), Some(etag.as_str()), "{b}/{k}");
        if *k == "a.jpg" {
            assert_eq!(r.content_type(), Some("image/jpeg"));
            assert_eq!(
                r.metadata()
                    .and_then(|m| m.get("camera"))
                    .map(String::as_str),
                Some("nikon")
            );
        }
        if *k == "big" {
            assert_eq!(r.content_type(), Some("application/x-tar"));
        }
        let got = r.body.collect().await.unwrap().into_bytes();
        assert!(got.as_ref() == body.as_slice(), "{b}/{k} differs");
    }
    // Nothing deleted came back, no upload in progress became an object.
    for k in ["deleted", "pending"] {
        let r = s3c.head_object().bucket("logs").key(k).send().await;
        assert!(r.is_err(), "{k} came back");
    }
    // The buckets belong to the owner given: its key lists them.
    let l = s3c.list_buckets().send().await.unwrap();
    assert_eq!(l.buckets().len(), 2);
    // Once rebuilt, the index is not empty: refused, unless --force, which
    // keeps what is there.
    let (ok, _, err) = cli(&c, &real);
    assert!(!ok && err.contains("not empty"), "{err}");
    real.push("--force");
    let (ok, out, err) = cli(&c, &real);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["objects_created"], 0, "{v}");
    assert_eq!(v["objects_existing"], 5, "{v}");
}
