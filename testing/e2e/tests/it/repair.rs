//! Self-healing: lost shards are rebuilt without anyone asking.

use std::time::{Duration, Instant};

use objectio_cluster::{ObjectRecord, Store};
use objectio_testkit::{Cluster, Options};

use crate::common::*;
use crate::failures::osd_index;

async fn records(c: &Cluster, bucket: &str) -> Vec<ObjectRecord> {
    let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
    store
        .list::<ObjectRecord>(store.keys().objects_prefix(bucket))
        .await
        .unwrap()
        .into_iter()
        .map(|(_, r)| r)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_a_dead_osds_objects_regain_full_redundancy_after_down_out_interval() {
    // Seven OSDs on three hosts, so a 4+2 object has somewhere to go when
    // one dies for good; four objects rebuilt at once.
    let mut c = Cluster::start_with(Options {
        osds: 7,
        down_out_secs: 2,
        meta_args: vec!["--repair-objects-in-flight", "4"],
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("heal").send().await.unwrap();
    let mut objs = Vec::new();
    for (i, n) in [1usize, 1000, (1 << 20) + 1, (5 << 20) + 3]
        .into_iter()
        .enumerate()
    {
        let key = format!("o{i}");
        let body = data(n, 300 + i as u64);
        put(&s3c, "heal", &key, body.clone()).await;
        objs.push((key, body));
    }
    // A multipart object too: its parts are repaired one by one.
    let up = s3c
        .create_multipart_upload()
        .bucket("heal")
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_string();
    let mut parts = Vec::new();
    let mut whole = Vec::new();
    for n in 1..=2 {
        let body = data((5 << 20) + n as usize, 400 + n as u64);
        whole.extend_from_slice(&body);
        let p = s3c
            .upload_part()
            .bucket("heal")
            .key("mp")
            .upload_id(&id)
            .part_number(n)
            .body(body.into())
            .send()
            .await
            .unwrap();
        parts.push(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(n)
                .e_tag(p.e_tag().unwrap())
                .build(),
        );
    }
    s3c.complete_multipart_upload()
        .bucket("heal")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    objs.push(("mp".into(), whole));

    // An OSD of host1 (the host with three OSDs: the only one where a lost
    // shard has another disk to go to under the two-per-host cap) dies and
    // stays dead.
    let recs = records(&c, "heal").await;
    let holds = |id: &str| {
        recs.iter()
            .flat_map(|r| r.segments())
            .flat_map(|s| s.shards)
            .flatten()
            .filter(|l| l.osd == id)
            .count()
    };
    let victim = [0usize, 3, 6]
        .into_iter()
        .max_by_key(|&i| holds(&c.osds[i].id))
        .unwrap();
    assert_eq!(c.osds[victim].domain, "host1");
    let dead = c.osds[victim].id.clone();
    assert!(holds(&dead) > 0);
    c.kill_osd(victim);

    // After down-out-interval its disk is out and repair rebuilds every
    // shard it held on the other disks.
    let t = Instant::now();
    loop {
        let recs = records(&c, "heal").await;
        let whole = recs.iter().all(|r| {
            r.segments().iter().filter(|s| s.size > 0).all(|s| {
                s.shards.iter().flatten().count() == r.ec.total()
                    && s.shards.iter().flatten().all(|l| l.osd != dead)
            })
        });
        if whole && recs.len() == objs.len() {
            break;
        }
        if t.elapsed() > Duration::from_secs(60) {
            let job = c.admin_json("/api/v1/repair").await.unwrap();
            panic!(
                "not back to full redundancy: {:?}\nrepair: {job}",
                recs.iter().map(|r| r.segments()).collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The failure-domain cap still holds: at most two shards per host.
    for r in records(&c, "heal").await {
        for s in r.segments().iter().filter(|s| s.size > 0) {
            let mut per = std::collections::HashMap::new();
            for l in s.shards.iter().flatten() {
                *per.entry(c.osds[osd_index(&c, &l.osd)].domain.clone())
                    .or_insert(0) += 1;
            }
            assert!(per.values().all(|n| *n <= 2), "{}: {per:?}", r.key);
        }
    }
    let v = c.admin_json("/api/v1/osds").await.unwrap();
    let osd = v["osds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == dead)
        .unwrap();
    assert_eq!(osd["disks"][0]["state"], "out", "{osd}");
    let st = wait_status(&c, 15, |s| s["objects"]["degraded"] == 0).await;
    assert_eq!(st["state"], "DEGRADED", "the dead OSD is still down: {st}");
    // Every object reads back byte-identical, even with two more OSDs
    // gone: each has its full six shards again.
    let others: Vec<usize> = (0..7).filter(|&i| i != victim).take(2).collect();
    for &i in &others {
        c.kill_osd(i);
    }
    for (k, body) in &objs {
        assert!(&get(&s3c, "heal", k).await == body, "{k}");
    }
    // And the repair job says what it did.
    let r = c.admin_json("/api/v1/repair").await.unwrap();
    assert!(r["total_repaired_objects"].as_u64().unwrap() >= 1, "{r}");
    assert!(r["total_bytes_rebuilt"].as_u64().unwrap() > 0, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_an_osd_marked_out_by_hand_is_drained_by_repair_and_marked_in_again() {
    let c = Cluster::start_with(Options {
        osds: 7,
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("out").send().await.unwrap();
    for i in 0..6u64 {
        put(
            &s3c,
            "out",
            &format!("k{i}"),
            data((1 << 20) + i as usize, i),
        )
        .await;
    }
    let cli = |args: &[&str]| {
        let (ok, out, err) = cli(&c, args);
        assert!(ok, "{err}");
        out
    };
    let target = c.osds[0].id.clone();
    let out: serde_json::Value =
        serde_json::from_str(&cli(&["osd", "out", &target, "-o", "json"])).unwrap();
    assert_eq!(out["state"], "out");
    assert_eq!(out["disks_changed"].as_array().unwrap().len(), 1);
    // While up, its shards are still readable; repair moves them anyway.
    let t = Instant::now();
    while records(&c, "out").await.iter().any(|r| {
        r.shards.iter().flatten().any(|l| l.osd == target) || r.shards.iter().flatten().count() != 6
    }) {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "shards still on the out OSD"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for i in 0..6u64 {
        assert!(get(&s3c, "out", &format!("k{i}")).await == data((1 << 20) + i as usize, i));
    }
    // New writes avoid it; marked in, it takes shards again.
    put(&s3c, "out", "new", data(10, 1)).await;
    assert!(
        records(&c, "out")
            .await
            .iter()
            .all(|r| r.shards.iter().flatten().all(|l| l.osd != target))
    );
    let text = cli(&["osd", "in", &target]);
    assert!(text.contains("is in"), "{text}");
    let text = cli(&["repair", "status"]);
    assert!(text.contains("Repair:"), "{text}");
}

/// Marks a disk out straight in etcd (the meta may be down).
async fn mark_out(c: &Cluster, disk: uuid::Uuid) {
    let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
    let (mut d, _) = store
        .get::<objectio_cluster::DiskRecord>(store.keys().disk(&disk))
        .await
        .unwrap()
        .unwrap();
    d.state = objectio_cluster::DiskState::Out;
    store.put(store.keys().disk(&disk), &d).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_repair_racing_an_overwrite_or_a_delete_loses_to_them() {
    let mut c = Cluster::start_with(Options {
        osds: 7,
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("race").send().await.unwrap();
    put(&s3c, "race", "over", data((1 << 20) + 7, 1)).await;
    put(&s3c, "race", "gone", data((1 << 20) + 9, 2)).await;
    // Only this test's repairs run: the meta (and its controller) stops.
    c.kill_meta();
    let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
    let read = |key: &'static str| {
        let store = store.clone();
        async move {
            store
                .get::<ObjectRecord>(store.keys().object("race", key))
                .await
                .unwrap()
                .unwrap()
        }
    };
    let (over, over_rev) = read("over").await;
    let (gone, gone_rev) = read("gone").await;
    // A shard of each is lost: a disk of host1 (three OSDs: room for a
    // replacement under the cap) holding a shard of both goes out.
    let host1: Vec<String> = [0usize, 3, 6]
        .iter()
        .map(|&i| c.osds[i].id.clone())
        .collect();
    let shared = over
        .shards
        .iter()
        .flatten()
        .find(|l| host1.contains(&l.osd) && gone.shards.iter().flatten().any(|g| g.disk == l.disk))
        .unwrap()
        .disk;
    mark_out(&c, shared).await;
    // The controllers' object layer, as the meta builds it.
    let cc = store.config().await.unwrap();
    let map = objectio_object::map::ClusterMap::start(store.clone(), Duration::from_millis(200))
        .await
        .unwrap();
    let objects = objectio_object::Objects::for_controller(
        store.clone(),
        cc,
        map,
        objectio_shard::ShardClient::new(c.secret.as_bytes(), Duration::from_secs(10)),
        "meta-test".into(),
    );
    // Meanwhile a client overwrites one and deletes the other.
    let newer = data(3000, 3);
    put(&s3c, "race", "over", newer.clone()).await;
    s3c.delete_object()
        .bucket("race")
        .key("gone")
        .send()
        .await
        .unwrap();
    let gc_before = store.count(store.keys().gc_prefix()).await.unwrap();
    // Repairs of the versions read before lose.
    assert_eq!(
        objects
            .repair(&over, over_rev, &Default::default())
            .await
            .unwrap(),
        objectio_object::Outcome::Raced
    );
    assert_eq!(
        objects
            .repair(&gone, gone_rev, &Default::default())
            .await
            .unwrap(),
        objectio_object::Outcome::Raced
    );
    // The overwrite stands, the delete stands, no intent is left, and the
    // rebuilt shards are queued for GC (one record each).
    assert_eq!(get(&s3c, "race", "over").await, newer);
    let e = s3c
        .head_object()
        .bucket("race")
        .key("gone")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
    assert_eq!(store.count(store.keys().intents_prefix()).await.unwrap(), 0);
    assert_eq!(
        store.count(store.keys().gc_prefix()).await.unwrap(),
        gc_before + 2
    );
    // A repair of the current version goes through.
    let (now, rev) = read("over").await;
    let out = objects
        .repair(&now, rev, &Default::default())
        .await
        .unwrap();
    assert!(
        matches!(
            out,
            objectio_object::Outcome::Healthy | objectio_object::Outcome::Repaired { .. }
        ),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_repair_resumes_from_its_cursor_after_the_meta_is_killed_mid_pass() {
    // Slow repair (1 MiB/s) so the meta can be killed in the middle.
    let mut c = Cluster::start_with(Options {
        meta_args: vec!["--repair-max-mibs", "1"],
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3_no_retry(&c, &c.access_key.clone(), &c.secret_key.clone(), None);
    s3c.create_bucket().bucket("resume").send().await.unwrap();
    // Twenty degraded writes while an OSD is down (five shards each).
    c.kill_osd(0);
    c.wait_osds_up(5).await.unwrap();
    const N: usize = 20;
    for i in 0..N {
        put(
            &s3c,
            "resume",
            &format!("k{i:02}"),
            data((1 << 20) + i, 50 + i as u64),
        )
        .await;
    }
    // Repair paused while osd1 comes back, then started: the pass begins
    // with osd1 up (one begun while it was down, for the hints the degraded
    // writes left, would skip what it saw then).
    let (ok, _, err) = cli(&c, &["repair", "stop"]);
    assert!(ok, "{err}");
    c.start_osd(0).unwrap();
    c.wait_osds_up(6).await.unwrap();
    wait_status(&c, 10, |s| s["osds"]["up"] == 6).await;
    let (ok, _, err) = cli(&c, &["repair", "start"]);
    assert!(ok, "{err}");
    // Kill the meta once a few are repaired, well before the pass ends.
    let t = Instant::now();
    let before = loop {
        let j = c.admin_json("/api/v1/repair").await.unwrap();
        if j["running"] == true
            && j["repaired_objects"].as_u64().unwrap() >= 3
            && j["skipped_count"].as_u64() == Some(0)
        {
            break j;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "repair never got going: {j}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The status panel shows the repair under way.
    let st = c.admin_json("/api/v1/cluster/status").await.unwrap();
    assert_eq!(st["state"], "DEGRADED", "{st}");
    assert_eq!(st["repair"]["objects"].as_u64(), Some(N as u64), "{st}");
    assert!(st["repair"]["scanned"].as_u64().unwrap() >= 3, "{st}");
    let (ok, text, _) = cli(&c, &["cluster", "status"]);
    assert!(ok && text.contains("Repair:    In progress"), "{text}");
    // repair status draws the pass's bar with its rate and ETA.
    let (ok, text, _) = cli(&c, &["repair", "status"]);
    assert!(ok && text.contains("of 20 objects), "), "{text}");
    assert!(text.contains("/s, ETA "), "{text}");
    c.kill_meta();
    let passes = before["passes"].as_u64().unwrap();
    let pass_started = before["pass_started"].as_str().unwrap().to_string();
    assert!(
        before["repaired_objects"].as_u64().unwrap() < N as u64 - 3,
        "{before}"
    );
    c.restart_meta().await.unwrap();
    // The restarted meta finishes the same pass, from its cursor: the first
    // pass it completes is the one begun before the kill.
    let t = Instant::now();
    let done = loop {
        let j = c.admin_json("/api/v1/repair").await.unwrap();
        if j["passes"].as_u64().unwrap() > passes {
            break j;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "repair never finished: {j}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(done["passes"].as_u64(), Some(passes + 1), "{done}");
    let last = &done["last"];
    assert_eq!(
        last["started"].as_str(),
        Some(pass_started.as_str()),
        "{done}"
    );
    assert_eq!(last["scanned"].as_u64(), Some(N as u64), "{done}");
    // At most the object whose repair the kill interrupted is skipped: the
    // one disk it can go to holds the dead meta's stray shard of that id,
    // named by its intent, until GC reclaims it; the next pass repairs it.
    assert!(last["skipped_count"].as_u64().unwrap() <= 1, "{done}");
    for s in done["skipped"].as_array().unwrap() {
        assert!(
            s["reason"]
                .as_str()
                .unwrap()
                .starts_with("no disk for a replacement"),
            "{done}"
        );
    }
    let t = Instant::now();
    loop {
        let mut whole = true;
        for i in 0..N {
            whole &= record(&c, "resume", &format!("k{i:02}"))
                .await
                .shards
                .iter()
                .flatten()
                .count()
                == 6;
        }
        if whole {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "not all repaired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Counters are written just after each commit: read them once a pass
    // asked for now has completed (an idle cluster runs none by itself).
    let seen = c.admin_json("/api/v1/repair").await.unwrap()["passes"]
        .as_u64()
        .unwrap();
    let (ok, _, err) = cli(&c, &["repair", "start"]);
    assert!(ok, "{err}");
    let done = loop {
        let j = c.admin_json("/api/v1/repair").await.unwrap();
        if j["passes"].as_u64().unwrap() > seen {
            break j;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no pass completed: {j}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Every object repaired once. The count may miss the one whose repair
    // committed just before the kill, ahead of the job's record of it (the
    // resumed pass then found it whole); it never counts one twice.
    let total = done["total_repaired_objects"].as_u64().unwrap();
    assert!(total == N as u64 || total == N as u64 - 1, "{done}");
    for i in 0..N {
        let key = format!("k{i:02}");
        let (rec, _) = {
            let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
            store
                .get::<ObjectRecord>(store.keys().object("resume", &key))
                .await
                .unwrap()
                .unwrap()
        };
        assert_eq!(rec.shards.iter().flatten().count(), 6, "{key}");
        assert!(get(&s3c, "resume", &key).await == data((1 << 20) + i, 50 + i as u64));
    }
    assert_eq!(
        {
            let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
            store.count(store.keys().intents_prefix()).await.unwrap()
        },
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_object_health_reads_every_shard_and_says_what_is_left() {
    use std::os::unix::fs::FileExt;
    let mut c = Cluster::start().await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("hlt").send().await.unwrap();
    let body = data((9 << 20) + 17, 77); // three stripes
    put(&s3c, "hlt", "dir/obj", body.clone()).await;
    let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
    let (rec, _) = store
        .get::<ObjectRecord>(store.keys().object("hlt", "dir/obj"))
        .await
        .unwrap()
        .unwrap();
    let (endpoint, token) = (c.admin_url(""), c.token.clone());
    let cli = |args: &[&str]| cli_at(&endpoint, &token, args);
    let admin = c.admin();
    let url = c.admin_url("/api/v1/objects/health?bucket=hlt&key=dir%2Fobj");
    let health = || async {
        admin
            .get(&url)
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let h = health().await;
    assert_eq!(h["verdict"], "healthy", "{h}");
    assert_eq!(h["redundancy_left"], 2);
    let shards = h["segments"][0]["shards"].as_array().unwrap().clone();
    assert_eq!(shards.len(), 6);
    for s in &shards {
        assert_eq!(
            (s["verdict"].as_str(), s["chunks_ok"].as_u64()),
            (Some("ok"), Some(3)),
            "{s}"
        );
    }
    let (ok, text, _) = cli(&["object", "health", "hlt/dir/obj"]);
    assert!(ok && text.contains("verdict: HEALTHY"), "{text}");
    // Flip bytes of stripe 1 in shard `i` on its disk.
    let disks: Vec<(String, std::path::PathBuf)> = c
        .osds
        .iter()
        .map(|o| (o.id.clone(), o.disk.clone()))
        .collect();
    let corrupt = |i: usize| {
        let loc = rec.shards[i].clone().unwrap();
        let disk = disks
            .iter()
            .find(|(id, _)| *id == loc.osd)
            .unwrap()
            .1
            .clone();
        let version = rec.version_id;
        async move {
            let off = crate::failures::shard_data_offset(&disk, version, i as u8).await;
            let f = std::fs::OpenOptions::new().write(true).open(&disk).unwrap();
            f.write_all_at(&[0x5A; 64], off + (1 << 20) + 100).unwrap();
            f.sync_all().unwrap();
        }
    };
    corrupt(0).await;
    let h = health().await;
    assert_eq!(h["verdict"], "degraded", "{h}");
    assert_eq!(h["redundancy_left"], 1, "{h}");
    let s0 = &h["segments"][0]["shards"][0];
    assert_eq!(
        (s0["verdict"].as_str(), s0["chunks_ok"].as_u64()),
        (Some("corrupt"), Some(2)),
        "{s0}"
    );
    // An OSD down: its shard is unreachable, one less to lose.
    let down = osd_index(&c, &rec.shards[3].as_ref().unwrap().osd);
    c.kill_osd(down);
    c.wait_osds_up(5).await.unwrap();
    let h = health().await;
    assert_eq!(h["verdict"], "degraded", "{h}");
    assert_eq!(h["redundancy_left"], 0, "{h}");
    assert_eq!(
        h["segments"][0]["shards"][3]["verdict"], "unreachable",
        "{h}"
    );
    // Stripe 1 below k now, but the down OSD would bring it back: at risk.
    corrupt(1).await;
    let h = health().await;
    assert_eq!(h["verdict"], "at_risk", "{h}");
    assert_eq!(
        h["segments"][0]["unreadable_stripes"],
        serde_json::json!([1]),
        "{h}"
    );
    assert_eq!(
        h["segments"][0]["lost_stripes"],
        serde_json::json!([]),
        "{h}"
    );
    let (ok, _, err) = cli(&["object", "health", "hlt/dir/obj"]);
    assert!(!ok && err.contains("at risk"), "{err}");
    // One more: even with the OSD back stripe 1 has three chunks. Lost,
    // and said so; a GET fails rather than return wrong bytes.
    corrupt(2).await;
    let h = health().await;
    assert_eq!(h["verdict"], "lost", "{h}");
    assert_eq!(
        h["segments"][0]["lost_stripes"],
        serde_json::json!([1]),
        "{h}"
    );
    let (ok, text, err) = cli(&["object", "health", "hlt/dir/obj"]);
    assert!(
        !ok && err.contains("is lost") && text.contains("lost stripes: [1]"),
        "{text}{err}"
    );
    let e = s3_no_retry(&c, &c.access_key.clone(), &c.secret_key.clone(), None)
        .get_object()
        .bucket("hlt")
        .key("dir/obj")
        .send()
        .await;
    match e {
        Err(e) => assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(503)),
        Ok(r) => {
            // The first stripe reads; the body must break at stripe 1.
            assert!(r.body.collect().await.is_err(), "a lost stripe was served");
        }
    }
    // Unknown objects: 404 and a non-zero exit.
    let (ok, _, err) = cli(&["object", "health", "hlt/missing"]);
    assert!(!ok && err.contains("404"), "{err}");
    let (ok, _, err) = cli(&["object", "health", "no-slash"]);
    assert!(!ok && err.contains("BUCKET/KEY"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_scrub_finds_a_flipped_byte_and_repair_fixes_it_without_any_get() {
    use std::os::unix::fs::FileExt;
    let c = Cluster::start_with(Options {
        osds: 7,
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("scrub").send().await.unwrap();
    let a = data((3 << 20) + 5, 91);
    put(&s3c, "scrub", "a", a.clone()).await;
    let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
    let rec = |key: &'static str| {
        let store = store.clone();
        async move {
            store
                .get::<ObjectRecord>(store.keys().object("scrub", key))
                .await
                .unwrap()
                .unwrap()
                .0
        }
    };
    // A shard of each on host1 (room for a replacement under the cap).
    let host1: Vec<String> = [0usize, 3, 6]
        .iter()
        .map(|&i| c.osds[i].id.clone())
        .collect();
    // A shard on host1 (of the first `upto` shards: 4 for a data shard,
    // which GETs read).
    let on_host1 = |r: &ObjectRecord, upto: usize| {
        r.shards
            .iter()
            .enumerate()
            .take(upto)
            .find_map(|(i, l)| l.clone().filter(|l| host1.contains(&l.osd)).map(|l| (i, l)))
    };
    // Flips bytes of shard `i` on its disk.
    let flip = |r: ObjectRecord, (i, loc): (usize, objectio_cluster::ShardLocation)| {
        let disk = c.osds[osd_index(&c, &loc.osd)].disk.clone();
        async move {
            let off = crate::failures::shard_data_offset(&disk, r.version_id, i as u8).await;
            let f = std::fs::OpenOptions::new().write(true).open(&disk).unwrap();
            f.write_all_at(&[0xEE; 16], off + 10).unwrap();
            f.sync_all().unwrap();
            (i, loc)
        }
    };
    let ra = rec("a").await;
    let at = on_host1(&ra, 6).expect("two of six shards are on host1");
    let (ia, la) = flip(ra, at).await;
    // Scrub the OSD holding it: no client reads the object.
    let out = std::process::Command::new(objectio_testkit::bin_dir().join("objectio-cli"))
        .args(["osd", "scrub", &la.osd])
        .env("OBJECTIO_ENDPOINT", c.admin_url(""))
        .env("OBJECTIO_TOKEN", &c.token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = Instant::now();
    while rec("a").await.shards[ia].as_ref().unwrap().disk == la.disk {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "scrub + repair never rebuilt shard {ia}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let line = c
        .wait_log(
            &la.osd,
            "scrub found a damaged shard",
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert!(line.contains("fails its checksum"), "{line}");
    // The report is gone with the repair, and osd list says what scrub found.
    assert_eq!(store.count(store.keys().damaged_prefix()).await.unwrap(), 0);
    let t = Instant::now();
    loop {
        let v = c.admin_json("/api/v1/osds").await.unwrap();
        let osd = v["osds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == la.osd.as_str())
            .unwrap()
            .clone();
        if osd["disks"][0]["scrub_errors"] == 1 {
            assert!(osd["disks"][0]["last_scrub"].is_string(), "{osd}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "{osd}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(get(&s3c, "scrub", "a").await == a);

    // A GET that meets a corrupt chunk decodes around it and reports it;
    // repair rebuilds that shard too.
    // (An object with a data shard on host1: put until one has.)
    let mut n = 0;
    let (rb, bt, b) = loop {
        let key = format!("b{n}");
        let body = data((2 << 20) + 9 + n, 92 + n as u64);
        put(&s3c, "scrub", &key, body.clone()).await;
        let r = store
            .get::<ObjectRecord>(store.keys().object("scrub", &key))
            .await
            .unwrap()
            .unwrap()
            .0;
        if let Some(t) = on_host1(&r, 4) {
            break (r, t, body);
        }
        n += 1;
        assert!(n < 20, "no object with a data shard on host1");
    };
    let bkey = rb.key.clone();
    let (ib, lb) = flip(rb, bt).await;
    assert!(get(&s3c, "scrub", &bkey).await == b);
    let t = Instant::now();
    loop {
        let r = store
            .get::<ObjectRecord>(store.keys().object("scrub", &bkey))
            .await
            .unwrap()
            .unwrap()
            .0;
        if r.shards[ib].as_ref().unwrap().disk != lb.disk {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "a damaged shard found by a read was never rebuilt"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(get(&s3c, "scrub", &bkey).await == b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_repair_stop_pauses_it_and_start_runs_a_pass_now_over_one_osd_or_all() {
    let mut c = Cluster::start().await.unwrap();
    let s3c = s3_no_retry(&c, &c.access_key.clone(), &c.secret_key.clone(), None);
    s3c.create_bucket().bucket("ctl").send().await.unwrap();
    let (ok, text, err) = cli(&c, &["repair", "stop"]);
    assert!(ok && text.contains("stopped"), "{text}{err}");
    // Degraded writes while osd1 is down: no shard on osd1, one missing.
    c.kill_osd(0);
    c.wait_osds_up(5).await.unwrap();
    for i in 0..3u64 {
        put(
            &s3c,
            "ctl",
            &format!("k{i}"),
            data((1 << 20) + i as usize, i),
        )
        .await;
    }
    c.start_osd(0).unwrap();
    c.wait_osds_up(6).await.unwrap();
    async fn whole(c: &Cluster) -> usize {
        let mut n = 0;
        for i in 0..3 {
            n += (record(c, "ctl", &format!("k{i}"))
                .await
                .shards
                .iter()
                .flatten()
                .count()
                == 6) as usize;
        }
        n
    }
    // Stopped: ten pass intervals (300 ms here) go by and nothing moves.
    let passes = c.admin_json("/api/v1/repair").await.unwrap()["passes"]
        .as_u64()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let j = c.admin_json("/api/v1/repair").await.unwrap();
    assert_eq!(
        (j["stopped"].as_bool(), j["passes"].as_u64()),
        (Some(true), Some(passes)),
        "{j}"
    );
    assert_eq!(whole(&c).await, 0);
    // A pass over osd1's objects only: none of these has a shard there.
    // (A whole pass that began before the stop, as the cluster came up,
    // resumes first and ends before it: wait for the one asked for.)
    let (ok, _, err) = cli(&c, &["repair", "start", "--osd", "osd1"]);
    assert!(ok, "{err}");
    let t = Instant::now();
    let j = loop {
        let j = c.admin_json("/api/v1/repair").await.unwrap();
        if j["passes"].as_u64().unwrap() > passes && j["last"]["osd"] == "osd1" {
            break j;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "{j}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(j["last"]["osd"], "osd1", "{j}");
    assert_eq!(j["last"]["scanned"], 3, "{j}");
    assert_eq!(j["last"]["repaired_objects"], 0, "{j}");
    // Started again, the passes that follow cover everything.
    let t = Instant::now();
    while whole(&c).await != 3 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "never repaired after start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (ok, text, _) = cli(&c, &["repair", "status"]);
    assert!(ok && !text.contains("stopped"), "{text}");
    // An OSD that does not exist is refused.
    let (ok, _, err) = cli(&c, &["repair", "start", "--osd", "osd99"]);
    assert!(!ok && err.contains("404"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_object_repair_force_finds_a_shard_on_a_disk_the_record_no_longer_names() {
    use std::os::unix::fs::FileExt;
    // Nine OSDs on three hosts: room for replacements under the cap.
    let mut c = Cluster::start_with(Options {
        osds: 9,
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3_no_retry(&c, &c.access_key.clone(), &c.secret_key.clone(), None);
    s3c.create_bucket().bucket("force").send().await.unwrap();
    let body = data((2 << 20) + 7, 5);
    put(&s3c, "force", "a", body.clone()).await;
    let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
    let okey = store.keys().object("force", "a");
    let (mut rec, _) = store
        .get::<ObjectRecord>(okey.clone())
        .await
        .unwrap()
        .unwrap();
    let real0 = rec.shards[0].clone().unwrap();
    // The record loses track of shard 0: it names a disk of an OSD that
    // holds no shard of the object (as after a lost index write).
    let osds = c.admin_json("/api/v1/osds").await.unwrap();
    let used: Vec<String> = rec.shards.iter().flatten().map(|l| l.osd.clone()).collect();
    let spare = osds["osds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| !used.contains(&o["id"].as_str().unwrap().to_string()))
        .unwrap();
    rec.shards[0] = Some(objectio_cluster::ShardLocation {
        osd: spare["id"].as_str().unwrap().into(),
        disk: spare["disks"][0]["id"].as_str().unwrap().parse().unwrap(),
    });
    store.put(okey.clone(), &rec).await.unwrap();
    // And two more shards go down with their OSDs, on two different hosts
    // (each host then has room for one replacement under the cap of two):
    // three readable of four needed, so the object cannot be read.
    let domain = |i: usize| {
        c.osds[osd_index(&c, &rec.shards[i].as_ref().unwrap().osd)]
            .domain
            .clone()
    };
    let first = 1usize;
    let second = (2..6).find(|&i| domain(i) != domain(first)).unwrap();
    let killed = [first, second];
    for i in killed {
        let osd = rec.shards[i].clone().unwrap().osd;
        c.kill_osd(osd_index(&c, &osd));
    }
    c.wait_osds_up(7).await.unwrap();
    let r = s3c.get_object().bucket("force").key("a").send().await;
    assert_eq!(
        r.err()
            .and_then(|e| e.raw_response().map(|r| r.status().as_u16())),
        Some(503)
    );
    // Without --force, repair sees nothing it can do: the record's shards
    // are not lost (two OSDs are merely down), and it reads nothing.
    let (ok, out, err) = cli(&c, &["object", "repair", "force/a"]);
    assert!(ok && out.contains("nothing to rebuild"), "{out}{err}");
    // Forced: shard 0 is found on its real disk by its header and taken as
    // it is; shards 1 and 2 are rebuilt onto other disks from 0, 3, 4, 5.
    let (ok, out, err) = cli(
        &c,
        &["object", "repair", "force/a", "--force", "--format", "json"],
    );
    assert!(ok, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["outcome"], "repaired", "{v}");
    assert_eq!(v["found_elsewhere"], 1, "{v}");
    assert_eq!(v["shards_rebuilt"], 3, "{v}");
    let (now, _) = store
        .get::<ObjectRecord>(okey.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.shards[0].as_ref(), Some(&real0), "{:?}", now.shards);
    for i in killed {
        assert_ne!(now.shards[i], rec.shards[i], "shard {i} was rebuilt");
    }
    assert!(get(&s3c, "force", "a").await == body);
    let h = c
        .admin_json("/api/v1/objects/health?bucket=force&key=a")
        .await
        .unwrap();
    assert_eq!(h["verdict"], "healthy", "{h}");
    // A version is named by the id health shows; any other is refused.
    let vid = h["version_id"].as_str().unwrap().to_string();
    let (ok, out, err) = cli(&c, &["object", "health", "force/a", "--version-id", &vid]);
    assert!(ok, "{out}{err}");
    let other = uuid::Uuid::new_v4().to_string();
    let (ok, _, err) = cli(&c, &["object", "health", "force/a", "--version-id", &other]);
    assert!(!ok && err.contains("has no version"), "{err}");
    let (ok, _, err) = cli(
        &c,
        &[
            "object",
            "repair",
            "force/a",
            "--version-id",
            &other,
            "--force",
        ],
    );
    assert!(!ok && err.contains("has no version"), "{err}");

    // An object with three shards destroyed has nothing to recover from:
    // forced repair names the lost stripe, exits non-zero, writes nothing.
    let b = data(1 << 20, 6);
    put(&s3c, "force", "b", b).await;
    let (rb, rev) = store
        .get::<ObjectRecord>(store.keys().object("force", "b"))
        .await
        .unwrap()
        .unwrap();
    for i in 0..3u8 {
        let loc = rb.shards[i as usize].clone().unwrap();
        let disk = c.osds[osd_index(&c, &loc.osd)].disk.clone();
        let off = crate::failures::shard_data_offset(&disk, rb.version_id, i).await;
        let f = std::fs::OpenOptions::new().write(true).open(&disk).unwrap();
        f.write_all_at(&[0x5A; 32], off + 64).unwrap();
        f.sync_all().unwrap();
    }
    let (ok, out, err) = cli(&c, &["object", "repair", "force/b", "--force"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("LOST") && out.contains("lost: part 0 stripe 0"),
        "{out}"
    );
    assert!(err.contains("cannot be recovered"), "{err}");
    let (_, rev2) = store
        .get::<ObjectRecord>(store.keys().object("force", "b"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rev, rev2, "the record was not touched");
    let r = s3c.get_object().bucket("force").key("b").send().await;
    assert!(r.is_err(), "never wrong bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_osd_ok_to_stop_says_whether_every_object_keeps_a_failure_to_spare() {
    let mut c = Cluster::start().await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("stop").send().await.unwrap();
    for i in 0..3u64 {
        put(
            &s3c,
            "stop",
            &format!("k{i}"),
            data((1 << 20) + i as usize, i),
        )
        .await;
    }
    // Six OSDs, six shards each: without any one, five of six are left.
    let (ok, out, err) = cli(&c, &["osd", "ok-to-stop", "osd1"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("osd1: ok to stop"), "{out}");
    // With osd2 already down, stopping osd1 would leave four: exactly k,
    // no failure to spare.
    c.kill_osd(1);
    c.wait_osds_up(5).await.unwrap();
    let (ok, out, err) = cli(&c, &["osd", "ok-to-stop", "osd1", "--format", "json"]);
    assert!(!ok, "{out}");
    assert!(err.contains("could make objects unreadable"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok_to_stop"], false, "{v}");
    assert_eq!(v["objects_short"], 3, "{v}");
    assert_eq!(v["objects"], 3, "{v}");
    // The OSD that is down itself can be stopped: nothing reads from it.
    let (ok, out, _) = cli(&c, &["osd", "ok-to-stop", "osd2"]);
    assert!(ok && out.contains("ok to stop"), "{out}");
    let (ok, _, err) = cli(&c, &["osd", "ok-to-stop", "osd99"]);
    assert!(!ok && err.contains("404"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_a_damaged_shard_with_no_other_disk_is_rebuilt_in_place() {
    use std::os::unix::fs::FileExt;
    // Six OSDs on three hosts: every object uses every disk, so a damaged
    // shard's replacement can only go onto its own disk.
    let c = Cluster::start().await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("inplace").send().await.unwrap();
    let body = data((2 << 20) + 3, 77);
    put(&s3c, "inplace", "a", body.clone()).await;
    let r = record(&c, "inplace", "a").await;
    let (i, loc) = (0usize, r.shards[0].clone().unwrap());
    let disk = c.osds[osd_index(&c, &loc.osd)].disk.clone();
    let off = crate::failures::shard_data_offset(&disk, r.version_id, i as u8).await;
    let f = std::fs::OpenOptions::new().write(true).open(&disk).unwrap();
    f.write_all_at(&[0xEE; 16], off + 10).unwrap();
    f.sync_all().unwrap();
    // A GET decodes around it and reports it; repair rebuilds it in place.
    assert!(get(&s3c, "inplace", "a").await == body);
    c.wait_log(
        "meta",
        "rebuilding a damaged shard in place",
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let t = Instant::now();
    loop {
        let h = c
            .admin_json("/api/v1/objects/health?bucket=inplace&key=a")
            .await
            .unwrap();
        if h["verdict"] == "healthy" {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "never healthy: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let now = record(&c, "inplace", "a").await;
    assert_eq!(now.shards[0].as_ref(), Some(&loc), "rebuilt elsewhere");
    let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
    assert_eq!(store.count(store.keys().damaged_prefix()).await.unwrap(), 0);
    assert!(get(&s3c, "inplace", "a").await == body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_small_objects_are_three_copies_on_three_hosts_read_from_any_one() {
    let mut c = Cluster::start().await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("copies").send().await.unwrap();
    // At the threshold (4 KiB) an object is copies; one byte more is 4+2.
    let small = data(4 << 10, 1);
    let big = data((4 << 10) + 1, 2);
    assert_eq!(
        put(&s3c, "copies", "small", small.clone()).await,
        etag(&small)
    );
    put(&s3c, "copies", "big", big.clone()).await;
    let rec = record(&c, "copies", "small").await;
    assert_eq!((rec.ec.k, rec.ec.m), (1, 2), "{:?}", rec.ec);
    assert_eq!(rec.shards.len(), 3);
    let hosts: std::collections::HashSet<String> = rec
        .shards
        .iter()
        .map(|l| {
            c.osds[osd_index(&c, &l.as_ref().unwrap().osd)]
                .domain
                .clone()
        })
        .collect();
    assert_eq!(hosts.len(), 3, "one copy per host: {:?}", rec.shards);
    let rec_big = record(&c, "copies", "big").await;
    assert_eq!((rec_big.ec.k, rec_big.ec.m), (4, 2));
    assert_eq!(rec_big.shards.iter().flatten().count(), 6);
    // Three shards for the small one, six for the other, on the disks.
    wait_shards(&c, 3 + 6).await;
    // Two of the three copies gone: the third serves whole and ranged reads.
    for l in rec.shards.iter().take(2).flatten() {
        c.kill_osd(osd_index(&c, &l.osd));
    }
    assert!(get(&s3c, "copies", "small").await == small);
    let part = s3c
        .get_object()
        .bucket("copies")
        .key("small")
        .range("bytes=100-2147")
        .send()
        .await
        .unwrap();
    assert_eq!(part.content_length(), Some(2048));
    let bytes = part.body.collect().await.unwrap().into_bytes();
    assert!(bytes[..] == small[100..2148]);
}
