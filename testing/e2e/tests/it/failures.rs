use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use objectio_cluster::{ObjectRecord, Store};
use objectio_osd::disk::{RecordHead, parse_record_head, shard_record_len};
use objectio_testkit::Cluster;

use crate::common::*;

const SIZES: [usize; 5] = [1, 1000, (1 << 20) + 1, (4 << 20) + 3, (9 << 20) + 17];

async fn fill(c: &Cluster, bucket: &str) -> Vec<(String, Vec<u8>)> {
    let s3 = s3(c);
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let mut objs = Vec::new();
    for (i, n) in SIZES.into_iter().enumerate() {
        let key = format!("o{i}");
        let body = data(n, 100 + i as u64);
        put(&s3, bucket, &key, body.clone()).await;
        objs.push((key, body));
    }
    objs
}

async fn check_all(c: &Cluster, bucket: &str, objs: &[(String, Vec<u8>)]) {
    let s3 = s3(c);
    for (k, body) in objs {
        let back = get(&s3, bucket, k).await;
        assert!(&back == body, "object {k} differs");
    }
}

async fn record(c: &Cluster, bucket: &str, key: &str) -> ObjectRecord {
    let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
    store
        .get::<ObjectRecord>(store.keys().object(bucket, key))
        .await
        .unwrap()
        .unwrap()
        .0
}

/// Offset of the data of `shard` on a disk file, found by walking the log.
fn shard_data_offset(disk: &std::path::Path, version: uuid::Uuid, index: u8) -> u64 {
    let f = std::fs::File::open(disk).unwrap();
    let mut off = 8192u64;
    let mut b = vec![0u8; 4096];
    loop {
        f.read_exact_at(&mut b, off).unwrap();
        match parse_record_head(&b).expect("shard not found before the end of the log") {
            RecordHead::Shard { len, header } => {
                if header.id.version_id == version && header.id.index == index {
                    assert_eq!(len, shard_record_len(&header));
                    return off + 4096;
                }
                off += len;
            }
            RecordHead::Tombstone { len, .. } => off += len,
        }
    }
}

fn osd_index(c: &Cluster, id: &str) -> usize {
    c.osds.iter().position(|o| o.id == id).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_get_survives_any_two_lost_osds() {
    let mut c = Cluster::start().await.unwrap();
    let objs = fill(&c, "two").await;
    // Two OSDs of different failure domains, then a whole failure domain.
    for pair in [[0usize, 2], [4, 5], [1, 3]] {
        for &i in &pair {
            c.kill_osd(i);
        }
        check_all(&c, "two", &objs).await;
        // Liveness: both show down within the lease TTL (2 s) plus slack.
        let t = Instant::now();
        while c.osds_up().await.unwrap() != 4 {
            assert!(
                t.elapsed() < Duration::from_secs(6),
                "OSDs not down after 6 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let s: serde_json::Value = c
            .admin()
            .get(c.admin_url("/api/v1/cluster/status"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(s["state"], "DEGRADED", "{s}");
        check_all(&c, "two", &objs).await;
        for &i in &pair {
            c.start_osd(i).unwrap();
        }
        c.wait_osds_up(6).await.unwrap();
    }
    // Three OSDs down in three domains: an object with shards on all three
    // becomes unreadable; it must fail, never return wrong bytes.
    for i in [0usize, 2, 4] {
        c.kill_osd(i);
    }
    let s3 = s3(&c);
    let mut failed = 0;
    for (k, body) in &objs {
        match s3.get_object().bucket("two").key(k).send().await {
            Ok(r) => match r.body.collect().await {
                Ok(b) => assert!(b.into_bytes()[..] == body[..], "{k} returned wrong bytes"),
                Err(_) => failed += 1,
            },
            Err(_) => failed += 1,
        }
    }
    let s: serde_json::Value = c
        .admin()
        .get(c.admin_url("/api/v1/cluster/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    if failed > 0 {
        assert_eq!(s["state"], "CRITICAL", "{s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_corrupt_shard_bytes_are_decoded_around() {
    let c = Cluster::start().await.unwrap();
    let objs = fill(&c, "rot").await;
    let (key, body) = &objs[4]; // 9 MiB: three stripes
    let rec = record(&c, "rot", key).await;
    // Flip bytes in data shard 0 (stripe 0) and data shard 2 (stripe 1).
    for (shard, at) in [(0u8, 100u64), (2, (1 << 20) + 5)] {
        let loc = rec.shards[shard as usize].clone().unwrap();
        let disk = &c.osds[osd_index(&c, &loc.osd)].disk;
        let off = shard_data_offset(disk, rec.version_id, shard);
        let f = std::fs::OpenOptions::new().write(true).open(disk).unwrap();
        f.write_all_at(&[0xA5; 64], off + at).unwrap();
        f.sync_all().unwrap();
    }
    let s3 = s3(&c);
    assert!(&get(&s3, "rot", key).await == body);

    // Corrupt three of the six shards of stripe 0: more than the code can
    // fix. The GET must fail rather than return wrong bytes.
    for shard in [1u8, 4] {
        let loc = rec.shards[shard as usize].clone().unwrap();
        let disk = &c.osds[osd_index(&c, &loc.osd)].disk;
        let off = shard_data_offset(disk, rec.version_id, shard);
        let f = std::fs::OpenOptions::new().write(true).open(disk).unwrap();
        f.write_all_at(&[0x5A; 64], off + 10).unwrap();
    }
    match s3.get_object().bucket("rot").key(key).send().await {
        Err(e) => assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(503)),
        Ok(r) => panic!("unrecoverable object returned {:?}", r.content_length),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_objects_survive_restart_of_gateway_and_every_osd() {
    let mut c = Cluster::start().await.unwrap();
    let objs = fill(&c, "restart").await;
    for i in 0..c.osds.len() {
        c.kill_osd(i); // SIGKILL: no clean shutdown
    }
    c.kill_gateway();
    for i in 0..c.osds.len() {
        c.start_osd(i).unwrap();
    }
    c.wait_osds_up(6).await.unwrap();
    c.restart_gateway().await.unwrap();
    check_all(&c, "restart", &objs).await;
    // And they can still be overwritten and deleted.
    let s3 = s3(&c);
    put(&s3, "restart", "o0", b"new".to_vec()).await;
    assert_eq!(get(&s3, "restart", "o0").await, b"new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_gateway_killed_mid_put_leaves_old_object_intact() {
    let mut c = Cluster::start().await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("mid").send().await.unwrap();
    let old = data(3 << 20, 1);
    put(&s3c, "mid", "k", old.clone()).await;

    // A signed PUT of 40 MiB whose body stops after 12 MiB and stalls.
    let total = 40u64 << 20;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(futures::stream::poll_fn({
        let mut rx = rx;
        move |cx| rx.poll_recv(cx)
    }));
    let req = signed(&c, reqwest::Method::PUT, "/mid/k")
        .header("content-length", total)
        .body(body);
    let put_task = tokio::spawn(async move { req.send().await });
    for _ in 0..12 {
        tx.send(Ok(bytes::Bytes::from(data(1 << 20, 2))))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    c.kill_gateway();
    let r = put_task.await.unwrap();
    assert!(r.is_err(), "the interrupted PUT must not succeed: {r:?}");
    drop(tx);
    c.restart_gateway().await.unwrap();
    let s3c = s3(&c);
    assert!(
        get(&s3c, "mid", "k").await == old,
        "old object must be intact"
    );
    // The interrupted PUT left an intent naming its shards, for GC.
    let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
    assert_eq!(store.count(store.keys().intents_prefix()).await.unwrap(), 1);
}
