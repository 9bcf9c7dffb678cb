use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use objectio_cluster::Store;
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

/// Offset of the data of `shard` on a disk file, found by a raw scan.
pub(crate) async fn shard_data_offset(
    disk: &std::path::Path,
    version: uuid::Uuid,
    index: u8,
) -> u64 {
    let dev = objectio_engine::device::sync::SyncDevice::open_read_only(disk).unwrap();
    let r = objectio_engine::scan::scan(&dev).await;
    r.shards
        .iter()
        .find(|s| s.version_id == version && s.shard_index == index)
        .map(|s| s.data_offset)
        .expect("shard found by the scan")
}

/// The cluster id, as shard headers carry it.
async fn cluster_id(c: &Cluster) -> uuid::Uuid {
    let s = c.admin_json("/api/v1/cluster/status").await.unwrap();
    s["cluster_id"].as_str().unwrap().parse().unwrap()
}

pub(crate) fn osd_index(c: &Cluster, id: &str) -> usize {
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
        let s = c.admin_json("/api/v1/cluster/status").await.unwrap();
        assert_eq!(s["state"], "DEGRADED", "{s}");
        check_all(&c, "two", &objs).await;
        for &i in &pair {
            c.start_osd(i).unwrap();
        }
        c.wait_osds_up(6).await.unwrap();
    }
    // Three OSDs down in three domains: every 4+2 object (six shards on
    // six disks) has three shards left, fewer than k = 4; a small one (three
    // copies on three hosts) keeps whichever copies were not on them. An
    // object below k must fail with 503, never return bytes, and the
    // cluster must say CRITICAL; one with a copy left reads back whole.
    let down = [0usize, 2, 4];
    for i in down {
        c.kill_osd(i);
    }
    let s3 = s3_no_retry(&c, &c.access_key.clone(), &c.secret_key.clone(), None);
    let mut unreadable = 0u64;
    for (k, body) in &objs {
        let rec = record(&c, "two", k).await;
        assert_eq!(
            rec.shards.iter().flatten().count(),
            rec.ec.total(),
            "{k} has all its shards"
        );
        let live = rec
            .shards
            .iter()
            .flatten()
            .filter(|l| !down.contains(&osd_index(&c, &l.osd)))
            .count();
        if live >= rec.ec.k as usize {
            assert_eq!(rec.ec.k, 1, "{k}: a 4+2 object keeps three shards only");
            assert!(
                &get(&s3, "two", k).await == body,
                "{k} with {live} copies left"
            );
            continue;
        }
        unreadable += 1;
        match s3.get_object().bucket("two").key(k).send().await {
            Ok(r) => panic!("{k} below k shards answered {:?} bytes", r.content_length),
            Err(e) => assert_eq!(
                e.raw_response().map(|r| r.status().as_u16()),
                Some(503),
                "{k}: {e:?}"
            ),
        }
    }
    assert!(unreadable >= 3, "the three 4+2 objects are below k");
    let t = Instant::now();
    while c.osds_up().await.unwrap() != 3 {
        assert!(
            t.elapsed() < Duration::from_secs(6),
            "OSDs not down after 6 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = wait_status(&c, 15, |s| s["objects"]["at_risk"] == unreadable).await;
    assert_eq!(s["state"], "CRITICAL", "{s}");
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
        let off = shard_data_offset(disk, rec.version_id, shard).await;
        let f = std::fs::OpenOptions::new().write(true).open(disk).unwrap();
        f.write_all_at(&[0xA5; 64], off + at).unwrap();
        f.sync_all().unwrap();
    }
    let s3 = s3(&c);
    assert!(&get(&s3, "rot", key).await == body);

    // Corrupt three more of the six shards of stripe 0 (repair may have
    // rebuilt shard 0 in place by now): more than the code can fix. The GET
    // must fail rather than return wrong bytes.
    for shard in [1u8, 3, 4] {
        let loc = rec.shards[shard as usize].clone().unwrap();
        let disk = &c.osds[osd_index(&c, &loc.osd)].disk;
        let off = shard_data_offset(disk, rec.version_id, shard).await;
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
    c.wait_osds_up(0).await.unwrap();
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
    let used_before = wait_shards(&c, 6).await;

    // A signed PUT of 40 MiB whose body stops after 12 MiB and stalls.
    let total = 40u64 << 20;
    let (tx, body) = fed_body(4);
    let req = signed(&c, reqwest::Method::PUT, "/mid/k")
        .header("content-length", total)
        .body(body);
    let put_task = tokio::spawn(async move { req.send().await });
    for _ in 0..12 {
        tx.send(Ok(bytes::Bytes::from(data(1 << 20, 2))))
            .await
            .unwrap();
    }
    // Killed only once the PUT has its intent and shards on the OSDs.
    assert_eq!(wait_write_started(&c, used_before).await, 1);
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
    // The interrupted PUT left an intent naming its shards; GC reclaims
    // them once it sees the gateway restarted.
    let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
    let t = Instant::now();
    while store.count(store.keys().intents_prefix()).await.unwrap() != 0 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "intent never reclaimed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (shards, _) = usage(&c).await;
    assert_eq!(shards, 6, "only the old object's six shards remain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_deletes_and_overwrites_give_space_back() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("space").send().await.unwrap();
    assert_eq!(wait_shards(&c, 0).await, 0);
    for i in 0..5 {
        put(&s3, "space", &format!("k{i}"), data(3 << 20, i)).await;
    }
    let full = wait_shards(&c, 30).await;
    assert!(full > 15 << 20, "used {full}");
    // Overwrites replace shards one for one; deletes free them.
    for i in 0..5 {
        put(&s3, "space", &format!("k{i}"), data(3 << 20, 10 + i)).await;
    }
    assert_eq!(wait_shards(&c, 30).await, full, "overwrites leak nothing");
    for i in 0..5 {
        s3.delete_object()
            .bucket("space")
            .key(format!("k{i}"))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(wait_shards(&c, 0).await, 0, "deletes give every byte back");
    let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
    assert_eq!(store.count(store.keys().gc_prefix()).await.unwrap(), 0);

    // The CLI shows it per disk.
    let out = std::process::Command::new(objectio_testkit::bin_dir().join("objectio-cli"))
        .args(["osd", "disk-usage"])
        .env("OBJECTIO_ENDPOINT", c.admin_url(""))
        .env("OBJECTIO_TOKEN", &c.token)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("OSD"), "{text}");
    assert_eq!(text.lines().count(), 7, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_disk_scan_reads_shard_headers_from_the_raw_disk() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("scan").send().await.unwrap();
    let body = data((5 << 20) + 3, 9);
    put(&s3, "scan", "dir/obj", body.clone()).await;
    let rec = record(&c, "scan", "dir/obj").await;
    let loc = rec.shards[0].clone().unwrap();
    let disk = &c.osds[osd_index(&c, &loc.osd)].disk;
    let out_file = c.dir.path().join("objects.json");
    let out = std::process::Command::new(objectio_testkit::bin_dir().join("objectio-cli"))
        .args(["disk", "scan"])
        .arg(disk)
        .arg("--output")
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    let shard = v["shards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["version_id"] == rec.version_id.to_string() && s["shard_index"] == 0)
        .expect("shard 0 in the scan");
    assert_eq!(shard["bucket"], "scan");
    assert_eq!(shard["key"], "dir/obj");
    assert_eq!(shard["object_size"], body.len() as u64);
    assert_eq!(shard["etag"], rec.etag);
    assert_eq!(shard["checksum"], "ok");
    assert_eq!(shard["k"], 4);
    assert_eq!(shard["m"], 2);
    // A file that is no disk at all: an empty report, not a crash.
    let junk = c.dir.path().join("junk");
    std::fs::write(&junk, data(1 << 20, 3)).unwrap();
    let out = std::process::Command::new(objectio_testkit::bin_dir().join("objectio-cli"))
        .args(["disk", "scan"])
        .arg(&junk)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["superblock"], "missing");
    assert_eq!(v["shards"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_osd_killed_during_concurrent_writes_keeps_acknowledged_shards() {
    use objectio_shard::{ShardClient, ShardHeader, ShardId, client::Chunk};
    let mut c = Cluster::start().await.unwrap();
    let v = c.admin_json("/api/v1/osds").await.unwrap();
    let osd = &v["osds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "osd1")
        .unwrap()
        .clone();
    let addr = osd["address"].as_str().unwrap().to_string();
    let disk: uuid::Uuid = osd["disks"][0]["id"].as_str().unwrap().parse().unwrap();
    let cluster_id = cluster_id(&c).await;
    let client = ShardClient::new(c.secret.as_bytes(), Duration::from_secs(5));
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(ShardId, u64)>::new()));
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let (client, addr, acked) = (client.clone(), addr.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let id = ShardId {
                    version_id: uuid::Uuid::new_v4(),
                    part: 0,
                    index: (i % 6) as u8,
                };
                let size = 50_000 + (t * 7919 + i * 104_729) % 3_000_000;
                let h = ShardHeader {
                    format: 1,
                    cluster_id,
                    bucket: "b".into(),
                    key: format!("k{t}-{i}"),
                    id,
                    k: 4,
                    m: 2,
                    chunk_size: 1 << 20,
                    object_size: size,
                    created_ms: 0,
                    meta: None,
                };
                let g = h.geometry();
                // Both ways of opening: answered at once, and pipelined
                // (answered at the seal).
                let opened = if i % 2 == 0 {
                    client.put(&addr, disk, h).await
                } else {
                    client.open(&addr, disk, h).await
                };
                let Ok(mut p) = opened else {
                    return;
                };
                for j in 0..g.stripes() {
                    if p.send(&data(
                        g.chunk_len(j) as usize,
                        id.version_id.as_u128() as u64 + j,
                    ))
                    .await
                    .is_err()
                    {
                        return;
                    }
                }
                match p.finish("etag").await {
                    Ok(()) => acked.lock().unwrap().push((id, size)),
                    Err(_) => return,
                }
            }
        }));
    }
    // Killed mid-stream once more than ten shards are acknowledged (the
    // writers keep going, so the kill lands in the middle of some).
    let t = Instant::now();
    while acked.lock().unwrap().len() <= 10 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "writes never got going"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    c.kill_osd(0); // SIGKILL mid-stream
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 10,
        "only {} shards acknowledged before the kill",
        acked.len()
    );
    c.wait_osds_up(5).await.unwrap();
    c.start_osd(0).unwrap();
    c.wait_osds_up(6).await.unwrap();
    let client = ShardClient::new(c.secret.as_bytes(), Duration::from_secs(10));
    for (id, size) in &acked {
        let g = objectio_codec::Geometry::new(4, 2, 1 << 20, *size);
        let chunks = client
            .get(&addr, disk, *id, 0, g.stripes() as u32)
            .await
            .unwrap();
        for (j, ch) in chunks.into_iter().enumerate() {
            match ch {
                Chunk::Ok(b) => assert!(
                    b == data(
                        g.chunk_len(j as u64) as usize,
                        id.version_id.as_u128() as u64 + j as u64
                    ),
                    "{id} chunk {j}"
                ),
                other => panic!("{id} chunk {j}: {other:?}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_a_pipelined_shard_write_refused_at_its_start_is_answered_at_its_seal() {
    use objectio_shard::proto::ErrorCode;
    use objectio_shard::{ShardClient, ShardHeader, ShardId, client::Chunk};
    let c = Cluster::start().await.unwrap();
    let v = c.admin_json("/api/v1/osds").await.unwrap();
    let osd = v["osds"][0].clone();
    let addr = osd["address"].as_str().unwrap().to_string();
    let disk: uuid::Uuid = osd["disks"][0]["id"].as_str().unwrap().parse().unwrap();
    let cluster_id = cluster_id(&c).await;
    let id = ShardId {
        version_id: uuid::Uuid::new_v4(),
        part: 0,
        index: 1,
    };
    // Two stripes of 1 MiB chunks: the shard is two chunks.
    let h = ShardHeader {
        format: 1,
        cluster_id,
        bucket: "b".into(),
        key: "k".into(),
        id,
        k: 4,
        m: 2,
        chunk_size: 1 << 20,
        object_size: 5 << 20,
        created_ms: 0,
        meta: None,
    };
    let g = h.geometry();
    assert_eq!(g.stripes(), 2);
    let body = |seed: u64| -> Vec<Vec<u8>> {
        (0..2)
            .map(|j| data(g.chunk_len(j) as usize, seed + j))
            .collect()
    };
    // One connection, so every step reuses what the one before left.
    let client = ShardClient::new(c.secret.as_bytes(), Duration::from_secs(10));
    let write = |disk: uuid::Uuid, chunks: Vec<Vec<u8>>| {
        let (client, addr, h) = (client.clone(), addr.clone(), h.clone());
        async move {
            let mut p = client.open(&addr, disk, h).await?;
            for ch in &chunks {
                p.send(ch).await?;
            }
            p.finish("etag").await
        }
    };
    // A disk the OSD does not have: the chunks are read and dropped, and
    // the refusal is the seal's answer.
    let e = write(uuid::Uuid::new_v4(), body(1)).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::UnknownDisk), "{e}");
    // The connection is still in step: a write on it is stored.
    write(disk, body(2)).await.unwrap();
    // The same shard again is refused as existing, and the first stays.
    let e = write(disk, body(3)).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Exists), "{e}");
    let got = client.get(&addr, disk, id, 0, 2).await.unwrap();
    let want = body(2);
    assert_eq!(got.len(), 2);
    for (j, ch) in got.into_iter().enumerate() {
        match ch {
            Chunk::Ok(b) => assert!(b == want[j], "chunk {j} is not the first write's"),
            other => panic!("chunk {j}: {other:?}"),
        }
    }
    let st = client.stat(&addr, disk, id).await.unwrap();
    assert_eq!(st.etag, "etag");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_osd_refuses_peers_without_the_cluster_secret() {
    use objectio_shard::{ShardClient, ShardHeader, ShardId};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let c = Cluster::start().await.unwrap();
    let v = c.admin_json("/api/v1/osds").await.unwrap();
    let osd = v["osds"][0].clone();
    let addr = osd["address"].as_str().unwrap().to_string();
    let disk: uuid::Uuid = osd["disks"][0]["id"].as_str().unwrap().parse().unwrap();
    let id = ShardId {
        version_id: uuid::Uuid::new_v4(),
        part: 0,
        index: 0,
    };
    let h = ShardHeader {
        format: 1,
        cluster_id: uuid::Uuid::nil(),
        bucket: "b".into(),
        key: "k".into(),
        id,
        k: 4,
        m: 2,
        chunk_size: 1 << 20,
        object_size: 10,
        created_ms: 0,
        meta: None,
    };
    // A client with the wrong secret is refused at the handshake.
    let wrong = ShardClient::new(b"not-the-secret", Duration::from_secs(5));
    assert!(matches!(
        wrong.put(&addr, disk, h.clone()).await,
        Err(objectio_shard::Error::AuthRefused { .. })
    ));
    assert!(matches!(
        wrong.stat(&addr, disk, id).await,
        Err(objectio_shard::Error::AuthRefused { .. })
    ));
    // A peer that skips the handshake and sends a request gets nothing
    // back but a refusal byte and a closed connection.
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut nonce = [0u8; 32];
    tcp.read_exact(&mut nonce).await.unwrap();
    let req =
        serde_json::to_vec(&objectio_shard::proto::Request::Delete { disk, shard: id }).unwrap();
    let mut frame = (req.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&req);
    frame.resize(64, 0);
    tcp.write_all(&frame).await.unwrap();
    let mut rest = Vec::new();
    let _ = tcp.read_to_end(&mut rest).await;
    assert_eq!(rest, vec![0u8], "only the refusal byte, then EOF");
    // With the right secret the same shard protocol works.
    let right = ShardClient::new(c.secret.as_bytes(), Duration::from_secs(5));
    assert_eq!(
        right.stat(&addr, disk, id).await.unwrap_err().code(),
        Some(objectio_shard::proto::ErrorCode::NotFound)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_etcd_stalled_past_the_osd_lease_every_osd_registers_again() {
    // A stall longer than the OSDs' lease (2 s here): their keep-alives
    // go unanswered, and when etcd answers again the leases are gone. Each
    // OSD must notice and take a new lease, not keep renewing a dead one
    // (it did: "lease not found" on a reopened stream was retried forever,
    // and the cluster stayed at 0 OSDs up).
    let mut c = Cluster::start().await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("stall").send().await.unwrap();
    let body = data(1 << 20, 9);
    put(&s3c, "stall", "before", body.clone()).await;

    c.freeze_etcd(true);
    // The stimulus is the stall's length, not a wait for something to start.
    tokio::time::sleep(Duration::from_secs(5)).await;
    c.freeze_etcd(false);
    for i in 1..=6 {
        c.wait_log(&format!("osd{i}"), "liveness lost", Duration::from_secs(20))
            .await
            .unwrap();
    }
    c.wait_osds_up(6).await.unwrap();
    put(&s3c, "stall", "after", body.clone()).await;
    assert!(get(&s3c, "stall", "before").await == body);
    assert!(get(&s3c, "stall", "after").await == body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_etcd_outage_is_503_and_the_cluster_recovers() {
    let mut c = Cluster::start().await.unwrap();
    let s3c = s3_no_retry(&c, &c.access_key.clone(), &c.secret_key.clone(), None);
    s3c.create_bucket().bucket("etcd").send().await.unwrap();
    let body = data(2 << 20, 4);
    put(&s3c, "etcd", "before", body.clone()).await;

    c.kill_etcd();
    // Every S3 request needs etcd (credentials, records): a clear 503, no hang.
    let t = Instant::now();
    let e = s3c
        .get_object()
        .bucket("etcd")
        .key("before")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.raw_response().map(|r| r.status().as_u16()),
        Some(503),
        "{e:?}"
    );
    let e = s3c
        .put_object()
        .bucket("etcd")
        .key("during")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.raw_response().map(|r| r.status().as_u16()),
        Some(503),
        "{e:?}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "requests hung for {:?}",
        t.elapsed()
    );
    let r = c
        .admin()
        .get(c.admin_url("/api/v1/osds"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);

    // etcd comes back: clients reconnect (OSDs re-register if their lease
    // was lost) and everything works again without restarting anything.
    c.restart_etcd().await.unwrap();
    c.wait_osds_up(6).await.unwrap();
    let t = Instant::now();
    loop {
        match s3c
            .put_object()
            .bucket("etcd")
            .key("after")
            .body(body.clone().into())
            .send()
            .await
        {
            Ok(_) => break,
            Err(e) => {
                assert!(
                    t.elapsed() < Duration::from_secs(30),
                    "PUT never recovered: {e:?}"
                );
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
    assert!(get(&s3c, "etcd", "before").await == body);
    assert!(get(&s3c, "etcd", "after").await == body);
    let e = s3c
        .head_object()
        .bucket("etcd")
        .key("during")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.raw_response().map(|r| r.status().as_u16()),
        Some(404),
        "the refused PUT stored nothing"
    );
}

/// Retries a PUT until it succeeds (the cluster is recovering), within 30 s.
async fn put_until_ok(s3c: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) {
    let t = Instant::now();
    loop {
        match s3c
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
        {
            Ok(_) => return,
            Err(e) => {
                assert!(
                    t.elapsed() < Duration::from_secs(30),
                    "PUT never recovered: {e:?}"
                );
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
}

/// Waits until the running etcd members agree on a leader other than
/// `old`; returns it.
async fn wait_new_etcd_leader(c: &Cluster, old: usize) -> usize {
    let t = Instant::now();
    loop {
        if let Some(l) = c.etcd_leader().await
            && l != old
        {
            return l;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "no new etcd leader");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_the_meta_leader_defragments_each_etcd_member_that_compaction_left_sparse() {
    let c = Cluster::start_with(objectio_testkit::Options {
        etcd_members: 3,
        // The harness compacts every second.
        meta_args: vec![
            "--defrag-interval-secs",
            "1",
            "--defrag-min-reclaim",
            "4MiB",
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    // 24 MiB written and deleted: once compacted, free pages in every
    // member's database file until it is defragmented.
    let store = Store::connect(&c.etcd_endpoints(), "it").await.unwrap();
    let junk = vec![b'j'; 512 << 10];
    for i in 0..48 {
        store
            .kv()
            .put(format!("/junk/{i}"), junk.clone(), None)
            .await
            .unwrap();
    }
    let mut grown = Vec::new();
    for ep in c.etcd_endpoints() {
        grown.push(store.member_status(&ep).await.unwrap().db_size);
    }
    assert!(grown.iter().all(|s| *s > 20 << 20), "{grown:?}");
    store
        .kv()
        .delete(
            "/junk/",
            Some(etcd_client::DeleteOptions::new().with_prefix()),
        )
        .await
        .unwrap();
    // Every member shrinks back, one at a time, without anyone asking.
    let t = Instant::now();
    loop {
        let mut now = Vec::new();
        for ep in c.etcd_endpoints() {
            now.push(store.member_status(&ep).await.unwrap().db_size);
        }
        if now.iter().zip(&grown).all(|(n, g)| *n + (16 << 20) < *g) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "not defragmented: {now:?}, grown to {grown:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let log = std::fs::read_to_string(c.dir.path().join("meta.log")).unwrap();
    let members: std::collections::HashSet<&str> = log
        .lines()
        .filter(|l| l.contains("defragmented etcd member"))
        .filter_map(|l| l.split("member=").nth(1)?.split_whitespace().next())
        .collect();
    assert_eq!(members.len(), 3, "{members:?}");
    // The cluster serves through it all.
    let s3c = s3(&c);
    s3c.create_bucket().bucket("after").send().await.unwrap();
    put(&s3c, "after", "k", data(1 << 20, 5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_etcd_leader_loss_keeps_the_cluster_serving() {
    let mut c = Cluster::start_with(objectio_testkit::Options {
        etcd_members: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3_no_retry(&c, &c.access_key.clone(), &c.secret_key.clone(), None);
    s3c.create_bucket().bucket("quorum").send().await.unwrap();
    let mut objs = vec![("before".to_string(), data((2 << 20) + 5, 40))];
    put(&s3c, "quorum", "before", objs[0].1.clone()).await;

    for round in 0..2 {
        // Kill the etcd leader: the other two elect a new one, and every
        // daemon's client moves to a live member without a restart.
        let leader = c.etcd_leader().await.expect("an etcd leader");
        c.kill_etcd_member(leader);
        let new = wait_new_etcd_leader(&c, leader).await;
        assert_ne!(new, leader);
        let body = data((1 << 20) + round, 50 + round as u64);
        let key = format!("after{round}");
        put_until_ok(&s3c, "quorum", &key, &body).await;
        objs.push((key, body));
        // Once recovered (and the dead member is out of every client's
        // endpoint set: probes run every 500 ms), requests succeed without
        // retries.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        for i in 0..8 {
            let key = format!("r{round}-{i}");
            let body = data(10_000 + i, i as u64);
            put(&s3c, "quorum", &key, body.clone()).await;
            objs.push((key, body));
        }
        for (k, body) in &objs {
            assert!(&get(&s3c, "quorum", k).await == body, "object {k} differs");
        }
        // OSD leases lived through the election; the admin API serves.
        c.wait_osds_up(6).await.unwrap();
        let st = c.admin_json("/api/v1/cluster/status").await.unwrap();
        assert_eq!(st["state"], "HEALTHY", "{st}");
        // The old leader rejoins and catches up, so the next round (which
        // kills the current leader) still has a quorum.
        c.restart_etcd_member(leader).await.unwrap();
    }
    let listed = s3c
        .list_objects_v2()
        .bucket("quorum")
        .send()
        .await
        .unwrap()
        .key_count()
        .unwrap_or(0);
    assert_eq!(listed as usize, objs.len());
}

/// Waits until `cond` holds on the mirror, within 5 s.
async fn wait_mirror(
    m: &objectio_cluster::mirror::Mirror,
    what: &str,
    cond: impl Fn(&objectio_cluster::mirror::Mirror) -> bool,
) {
    let t = Instant::now();
    while !cond(m) {
        assert!(t.elapsed() < Duration::from_secs(5), "mirror never {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_mirror_follows_changes_and_survives_member_loss() {
    use objectio_cluster::mirror::Mirror;
    let mut c = Cluster::start_with(objectio_testkit::Options {
        etcd_members: 3,
        osds: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let store = Store::connect(&c.etcd_endpoints(), "it").await.unwrap();
    let kv = || store.kv();
    kv().put("/m/a", "1", None).await.unwrap();
    let m = Mirror::start(&store, "/m/".into());
    wait_mirror(&m, "listed", |m| {
        m.get(b"/m/a") == Some(Some(b"1".to_vec()))
    })
    .await;
    assert_eq!(m.get(b"/m/none"), Some(None));
    assert_eq!(m.get(b"/other"), Some(None));
    kv().put("/m/b", "2", None).await.unwrap();
    kv().put("/m/a", "3", None).await.unwrap();
    kv().put("/x", "outside", None).await.unwrap();
    wait_mirror(&m, "saw the puts", |m| {
        m.get(b"/m/b") == Some(Some(b"2".to_vec())) && m.get(b"/m/a") == Some(Some(b"3".to_vec()))
    })
    .await;
    assert_eq!(m.get(b"/x"), Some(None), "keys outside the prefix stay out");
    kv().delete("/m/b", None).await.unwrap();
    wait_mirror(&m, "saw the delete", |m| m.get(b"/m/b") == Some(None)).await;

    // Every member the mirror could be watching through goes away in turn
    // (one at a time, so a quorum stays): it keeps following.
    for round in 0..3 {
        c.kill_etcd_member(round);
        let v = format!("r{round}");
        let t = Instant::now();
        while kv().put("/m/c", v.as_str(), None).await.is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "etcd never recovered"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        wait_mirror(&m, "followed after a member loss", |m| {
            m.get(b"/m/c") == Some(Some(v.as_bytes().to_vec()))
        })
        .await;
        c.restart_etcd_member(round).await.unwrap();
    }

    // With etcd gone entirely the copy stops being trusted.
    c.kill_etcd();
    wait_mirror(&m, "noticed etcd is gone", |m| m.get(b"/m/a").is_none()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_puts_avoid_a_dead_osd_and_write_at_quorum() {
    let mut c = Cluster::start().await.unwrap();
    let s3c = s3_no_retry(&c, &c.access_key.clone(), &c.secret_key.clone(), None);
    s3c.create_bucket().bucket("avoid").send().await.unwrap();
    c.kill_osd(0);
    let dead = c.osds[0].id.clone();
    // The admin API shows it down once its lease (2 s here) expires...
    let t = Instant::now();
    while c.osds_up().await.unwrap() != 5 {
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "OSD never shown down"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // ...and the gateway, which follows the liveness keys by watch, places
    // the very next PUTs elsewhere: no error, no shard on the dead OSD.
    for i in 0..10 {
        let key = format!("k{i}");
        let body = data((1 << 20) + i, i as u64);
        put(&s3c, "avoid", &key, body.clone()).await;
        let rec = record(&c, "avoid", &key).await;
        assert!(
            rec.shards.iter().flatten().all(|s| s.osd != dead),
            "shard placed on the dead OSD: {:?}",
            rec.shards
        );
        assert!(get(&s3c, "avoid", &key).await == body);
        // One failure domain is a disk short, so these are degraded writes
        // at the write quorum: five shards, the sixth recorded as missing.
        assert_eq!(rec.shards.iter().flatten().count(), 5);
    }
    // While the OSD is down, repair has nowhere to put the sixth shards
    // (five disks, each holding one): the objects stay degraded.
    let st = wait_status(&c, 15, |s| s["objects"]["degraded"] == 10).await;
    assert_eq!(st["state"], "DEGRADED", "{st}");
    // The OSD comes back: new writes are whole again, and repair rewrites
    // the missing shard of each degraded write without anyone asking.
    c.start_osd(0).unwrap();
    c.wait_osds_up(6).await.unwrap();
    put(&s3c, "avoid", "whole", data(1 << 20, 99)).await;
    let rec = record(&c, "avoid", "whole").await;
    assert_eq!(rec.shards.iter().flatten().count(), 6);
    let t = Instant::now();
    for i in 0..10 {
        let key = format!("k{i}");
        while record(&c, "avoid", &key)
            .await
            .shards
            .iter()
            .flatten()
            .count()
            != 6
        {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{key} never repaired"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The rebuilt shard is the one missing, on the OSD that came back
        // (the only failure domain with room under the cap).
        let rec = record(&c, "avoid", &key).await;
        let domains: std::collections::HashSet<String> = rec
            .shards
            .iter()
            .flatten()
            .map(|s| c.osds[osd_index(&c, &s.osd)].domain.clone())
            .collect();
        assert_eq!(domains.len(), 3, "{:?}", rec.shards);
    }
    let st = wait_status(&c, 15, |s| s["state"] == "HEALTHY").await;
    assert_eq!(st["objects"]["degraded"], 0, "{st}");
    let r = c.admin_json("/api/v1/repair").await.unwrap();
    assert!(r["total_repaired_objects"].as_u64().unwrap() >= 10, "{r}");
    // Each rebuilt shard reads back: GETs decode nothing, bytes identical,
    // even with another OSD down.
    c.kill_osd(1);
    for i in 0..10 {
        let body = data((1 << 20) + i, i as u64);
        assert!(get(&s3c, "avoid", &format!("k{i}")).await == body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_gateway_sigterm_finishes_requests_in_flight() {
    let mut c = Cluster::start().await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("drain").send().await.unwrap();
    let body: Vec<u8> = (0..6u64).flat_map(|i| data(1 << 20, 60 + i)).collect();
    let (tx, put_task) = start_put(&c, "/drain/k", &body, 2).await;
    assert_eq!(wait_write_started(&c, 0).await, 1);

    // SIGTERM mid-PUT: the gateway stops accepting connections...
    c.terminate_gateway();
    let t = Instant::now();
    while reqwest::get(format!("{}/health", c.s3_endpoint()))
        .await
        .is_ok()
    {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "a draining gateway refuses new connections"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ...but the PUT in flight completes.
    send_from(&tx, &body, 2, 6).await;
    drop(tx);
    let r = put_task.await.unwrap().unwrap();
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
    // Then it exits cleanly and leaves the cluster at once (no lease wait).
    let st = c
        .wait_gateway_exit(Duration::from_secs(20))
        .await
        .expect("gateway exited");
    assert!(st.success(), "exit status {st:?}");
    assert_eq!(alive_count(&c, "gateways").await, 0);
    c.restart_gateway().await.unwrap();
    assert!(get(&s3(&c), "drain", "k").await == body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_osd_sigterm_finishes_shard_writes_and_leaves_the_map() {
    // A long lease, so only the graceful stop can explain a quick DOWN.
    let mut c = Cluster::start_with(objectio_testkit::Options {
        lease_ttl: 30,
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("osdstop").send().await.unwrap();
    let body: Vec<u8> = (0..6u64).flat_map(|i| data(1 << 20, 70 + i)).collect();
    let (tx, put_task) = start_put(&c, "/osdstop/k", &body, 2).await;
    assert_eq!(wait_write_started(&c, 0).await, 1);

    // SIGTERM to an OSD holding one of the PUT's shards, mid-stream.
    c.terminate_osd(0);
    let t = Instant::now();
    while c.osds_up().await.unwrap() != 5 {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "a stopping OSD leaves the map at once, not after its lease"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    send_from(&tx, &body, 2, 6).await;
    drop(tx);
    let r = put_task.await.unwrap().unwrap();
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
    // The shard write in flight on the stopping OSD finished: six shards.
    let rec = record(&c, "osdstop", "k").await;
    assert_eq!(rec.shards.iter().flatten().count(), 6, "{:?}", rec.shards);
    let st = c
        .wait_osd_exit(0, Duration::from_secs(20))
        .await
        .expect("OSD exited");
    assert!(st.success(), "exit status {st:?}");
    // Back again, the shard it finished is there and whole: with two other
    // OSDs gone the read needs it. The stop wrote a checkpoint, so the
    // start replayed no journal.
    c.start_osd(0).unwrap();
    c.wait_osd_listening(0).await.unwrap();
    let log = std::fs::read_to_string(c.dir.path().join("osd1.log")).unwrap();
    let opened = log
        .lines()
        .rfind(|l| l.contains("engine opened"))
        .unwrap()
        .to_string();
    assert!(opened.contains("replayed_batches=0"), "{opened}");
    c.wait_osds_up(6).await.unwrap();
    c.kill_osd(1);
    c.kill_osd(2);
    assert!(get(&s3c, "osdstop", "k").await == body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_osds_killed_mid_get_the_body_still_arrives_whole() {
    let mut c = Cluster::start().await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("midget").send().await.unwrap();
    let body = data(40 << 20, 77);
    put(&s3c, "midget", "k", body.clone()).await;
    let rec = record(&c, "midget", "k").await;
    let r = s3c
        .get_object()
        .bucket("midget")
        .key("k")
        .send()
        .await
        .unwrap();
    let mut stream = r.body;
    let mut got = Vec::with_capacity(body.len());
    while got.len() < (4 << 20) {
        got.extend_from_slice(&stream.next().await.unwrap().unwrap());
    }
    // The OSDs of data shards 0 and 1 die while the body streams: the
    // stripes still to come are decoded from the others.
    for i in [0, 1] {
        let osd = &rec.shards[i].as_ref().unwrap().osd;
        c.kill_osd(osd_index(&c, osd));
    }
    while let Some(piece) = stream.next().await {
        got.extend_from_slice(&piece.unwrap());
    }
    assert_eq!(got.len(), body.len());
    assert!(got == body, "the body differs after OSDs died mid-GET");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_get_streaming_an_overwritten_version_gets_it_whole() {
    let c = Cluster::start_with(objectio_testkit::Options {
        gc_grace_secs: 120,
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("overget").send().await.unwrap();
    let old = data(40 << 20, 80);
    put(&s3c, "overget", "k", old.clone()).await;
    let r = s3c
        .get_object()
        .bucket("overget")
        .key("k")
        .send()
        .await
        .unwrap();
    let mut stream = r.body;
    let mut got = Vec::with_capacity(old.len());
    while got.len() < (4 << 20) {
        got.extend_from_slice(&stream.next().await.unwrap().unwrap());
    }
    // Overwritten, then deleted, while the GET of the old version streams;
    // GC passes run every 300 ms meanwhile.
    put(&s3c, "overget", "k", data(1 << 20, 81)).await;
    s3c.delete_object()
        .bucket("overget")
        .key("k")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
    assert_eq!(
        store.count(store.keys().gc_prefix()).await.unwrap(),
        2,
        "both replaced versions wait out the grace period"
    );
    while let Some(piece) = stream.next().await {
        got.extend_from_slice(&piece.unwrap());
    }
    assert!(got == old, "the old version arrived whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_reads_and_writes_after_osd_restarts_are_whole() {
    let mut c = Cluster::start().await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("restart").send().await.unwrap();
    // Warm the gateway's connection pool to every OSD.
    let mut objs = Vec::new();
    for i in 0..3 {
        let body = data(1 << 20, i);
        put(&s3c, "restart", &format!("warm{i}"), body.clone()).await;
        assert!(get(&s3c, "restart", &format!("warm{i}")).await == body);
        objs.push((format!("warm{i}"), body));
    }
    // Every OSD restarts (crash, then start on the same address): the
    // gateway's pooled connections to them are all dead now.
    for i in 0..6 {
        c.kill_osd(i);
        c.start_osd(i).unwrap();
    }
    for i in 0..6 {
        c.wait_osd_listening(i).await.unwrap();
    }
    c.wait_osds_up(6).await.unwrap();
    let log = c.dir.path().join("gateway.log");
    let failures = || {
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| l.contains("shard read failed") || l.contains("shard write failed"))
            .count()
    };
    let before = failures();
    // Reads find the pooled connections closed and dial afresh: no chunk
    // is lost to a dead connection (each would mean decoding from parity).
    for (k, body) in &objs {
        assert!(&get(&s3c, "restart", k).await == body);
    }
    for i in 0..5u64 {
        let key = format!("after{i}");
        put(&s3c, "restart", &key, data((1 << 20) + 3, 10 + i)).await;
        let rec = record(&c, "restart", &key).await;
        assert_eq!(
            rec.shards.iter().flatten().count(),
            6,
            "PUT {i} after the restarts was degraded: {:?}",
            rec.shards
        );
    }
    assert_eq!(failures(), before, "shard I/O failed on stale connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_s3_works_without_meta_and_racing_writers_leave_one_whole_version() {
    let mut c = Cluster::start().await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("race").send().await.unwrap();
    // The data path needs etcd, OSDs and the gateway, not the meta.
    c.kill_meta();
    let bodies: Vec<Vec<u8>> = (0..8u64)
        .map(|i| data((1 << 20) + 17 * i as usize, 90 + i))
        .collect();
    let tasks: Vec<_> = bodies
        .iter()
        .cloned()
        .map(|b| {
            let s3c = s3c.clone();
            tokio::spawn(async move { put(&s3c, "race", "same", b).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let got = get(&s3c, "race", "same").await;
    assert!(bodies.contains(&got), "the key holds one whole body");
    let listed = s3c.list_objects_v2().bucket("race").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1));
    // The meta comes back and GC leaves exactly the winner's six shards.
    c.restart_meta().await.unwrap();
    assert!(wait_shards(&c, 6).await > 0);
    assert!(get(&s3c, "race", "same").await == got);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_a_full_cluster_refuses_writes_cleanly_and_recovers_after_deletes() {
    let c = Cluster::start_with(objectio_testkit::Options {
        disk_size: "128MiB",
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3_no_retry(&c, &c.access_key.clone(), &c.secret_key.clone(), None);
    s3c.create_bucket().bucket("full").send().await.unwrap();
    // 8 MiB objects (2 MiB per shard) until the cluster refuses one.
    let mut stored = Vec::new();
    let mut refused = None;
    for i in 0..200u64 {
        let key = format!("k{i}");
        let body = data(8 << 20, i);
        match s3c
            .put_object()
            .bucket("full")
            .key(&key)
            .body(body.clone().into())
            .send()
            .await
        {
            Ok(_) => stored.push((key, body)),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let e = refused.expect("six 128 MiB disks must fill up within 1.6 GiB of PUTs");
    assert_eq!(
        e.raw_response().map(|r| r.status().as_u16()),
        Some(503),
        "{e:?}"
    );
    // The message says why (disks without room), not just "retry".
    let msg = aws_sdk_s3::error::ProvideErrorMetadata::message(&e).unwrap_or_default();
    assert!(msg.contains("disk"), "{msg}");
    assert!(stored.len() > 10, "only {} objects fit", stored.len());
    // Everything acknowledged reads back whole.
    for (k, body) in &stored {
        assert!(&get(&s3c, "full", k).await == body, "{k} differs");
    }
    // Deletes give the space back (after the 1 s grace) and writes resume.
    for (k, _) in &stored {
        s3c.delete_object()
            .bucket("full")
            .key(k)
            .send()
            .await
            .unwrap();
    }
    wait_shards(&c, 0).await;
    put(&s3c, "full", "again", data(8 << 20, 999)).await;
    let rec = record(&c, "full", "again").await;
    assert_eq!(rec.shards.iter().flatten().count(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_a_replaced_disk_takes_new_shards_and_the_old_one_none() {
    let mut c = Cluster::start().await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("swap").send().await.unwrap();
    let before = data(3 << 20, 1);
    put(&s3c, "swap", "before", before.clone()).await;
    let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
    let old_disks: Vec<uuid::Uuid> = store
        .get::<objectio_cluster::OsdRecord>(store.keys().osd(&c.osds[0].id))
        .await
        .unwrap()
        .unwrap()
        .0
        .disks;
    // The disk of osd1 dies and is replaced by a blank one: the OSD comes
    // back with a new disk (a new uuid); the old disk record remains.
    c.kill_osd(0);
    std::fs::remove_file(&c.osds[0].disk).unwrap();
    c.start_osd(0).unwrap();
    c.wait_osd_listening(0).await.unwrap();
    let t = Instant::now();
    loop {
        let rec = store
            .get::<objectio_cluster::OsdRecord>(store.keys().osd(&c.osds[0].id))
            .await
            .unwrap()
            .unwrap()
            .0;
        if rec.disks != old_disks {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "OSD never re-registered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.wait_osds_up(6).await.unwrap();
    for i in 0..6u64 {
        let key = format!("after{i}");
        put(&s3c, "swap", &key, data(1 << 20, 20 + i)).await;
        let rec = record(&c, "swap", &key).await;
        assert!(
            rec.shards
                .iter()
                .flatten()
                .all(|s| !old_disks.contains(&s.disk)),
            "a shard went to the replaced disk: {:?}",
            rec.shards
        );
        assert_eq!(rec.shards.iter().flatten().count(), 6, "{:?}", rec.shards);
    }
    // The object written before lost one shard with the disk: still whole,
    // and repair rebuilds the lost shard on a disk in service.
    assert!(get(&s3c, "swap", "before").await == before);
    let t = Instant::now();
    loop {
        let rec = record(&c, "swap", "before").await;
        if rec.shards.iter().flatten().count() == 6
            && rec
                .shards
                .iter()
                .flatten()
                .all(|s| !old_disks.contains(&s.disk))
        {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "never repaired: {:?}",
            rec.shards
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(get(&s3c, "swap", "before").await == before);
    let st = wait_status(&c, 15, |s| s["state"] == "HEALTHY").await;
    assert_eq!(st["objects"]["degraded"], 0, "{st}");
}
