//! Capacity changes: osd add and the rebalance that follows, drain,
//! wait-drained, undrain, remove, and the rolling upgrade, on real
//! processes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use objectio_cluster::{ObjectRecord, Store};
use objectio_testkit::{Cluster, Options};

use crate::common::*;

async fn store(c: &Cluster) -> Store {
    Store::connect(&[c.etcd_endpoint()], "it").await.unwrap()
}

async fn records(c: &Cluster) -> Vec<ObjectRecord> {
    let s = store(c).await;
    s.list::<ObjectRecord>(s.keys().objects_root())
        .await
        .unwrap()
        .into_iter()
        .map(|(_, r)| r)
        .collect()
}

/// Shards of every object record (and part of an upload) on `osd`.
async fn shards_on(c: &Cluster, osd: &str) -> usize {
    records(c)
        .await
        .iter()
        .flat_map(|r| r.all_segments())
        .flat_map(|s| s.shards.into_iter().flatten())
        .filter(|l| l.osd == osd)
        .count()
}

/// Runs the CLI off the runtime's threads (wait-drained blocks).
async fn cli_bg(c: &Cluster, args: &[&str]) -> (bool, String, String) {
    let (endpoint, token) = (c.admin_url(""), c.token.clone());
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        cli_at(&endpoint, &token, &a)
    })
    .await
    .unwrap()
}

/// Writes `n` objects of `size` bytes, `conc` at a time; their bodies.
async fn fill(s3c: &Client, bucket: &str, n: usize, size: usize) -> HashMap<String, Vec<u8>> {
    use futures::StreamExt;
    let out: Vec<(String, Vec<u8>)> = futures::stream::iter(0..n)
        .map(|i| {
            let s3c = s3c.clone();
            let bucket = bucket.to_string();
            async move {
                let key = format!("k{i:05}");
                let body = data(size, 7000 + i as u64);
                put(&s3c, &bucket, &key, body.clone()).await;
                (key, body)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    out.into_iter().collect()
}

/// Reads every object back and compares it.
async fn check_all(s3c: &Client, bucket: &str, objs: &HashMap<String, Vec<u8>>) {
    use futures::StreamExt;
    futures::stream::iter(objs.iter())
        .for_each_concurrent(16, |(k, body)| async move {
            let got = get(s3c, bucket, k).await;
            assert!(got == *body, "{bucket}/{k} reads back different bytes");
        })
        .await;
}

/// PUTs and GETs in a loop until stopped: (ops done, ops failed, bytes).
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// `clients` loops over `endpoints` (the next one after an error: a
    /// restarted gateway costs a retry, not a failure).
    fn start(c: &Cluster, endpoints: Vec<String>, bucket: &str, clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (ok, failed, bytes) = Default::default();
        let mut l = Load {
            stop,
            ok,
            failed,
            bytes,
            tasks: Vec::new(),
        };
        let s3s: Vec<Client> = endpoints.iter().map(|e| s3_at(c, e)).collect();
        for t in 0..clients {
            let (stop, ok, failed, bytes) = (
                l.stop.clone(),
                l.ok.clone(),
                l.failed.clone(),
                l.bytes.clone(),
            );
            let s3s = s3s.clone();
            let bucket = bucket.to_string();
            l.tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                let mut at = t % s3s.len();
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("load-{t}-{}", i % 8);
                    let body = data(256 << 10, 90_000 + t as u64 * 1000 + i);
                    let mut done = false;
                    for _attempt in 0..s3s.len() + 1 {
                        let s = &s3s[at];
                        let put = s
                            .put_object()
                            .bucket(&bucket)
                            .key(&key)
                            .body(body.clone().into())
                            .send()
                            .await;
                        let got = match put {
                            Ok(_) => match s.get_object().bucket(&bucket).key(&key).send().await {
                                Ok(g) => g.body.collect().await.ok().map(|b| b.to_vec()),
                                Err(_) => None,
                            },
                            Err(_) => None,
                        };
                        match got {
                            Some(g) => {
                                assert!(g == body, "load object {key} read back wrong");
                                done = true;
                                break;
                            }
                            None => at = (at + 1) % s3s.len(),
                        }
                    }
                    if done {
                        ok.fetch_add(1, Ordering::Relaxed);
                        bytes.fetch_add(2 * body.len() as u64, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 1;
                }
            }));
        }
        l
    }

    /// Ops done so far.
    fn done(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    async fn finish(self) -> (u64, u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

fn s3_at(c: &Cluster, endpoint: &str) -> Client {
    let creds =
        aws_sdk_s3::config::Credentials::new(&c.access_key, &c.secret_key, None, None, "it");
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .force_path_style(true)
        .build();
    Client::from_conf(conf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_osd_add_is_new_until_it_registers_then_rebalance_moves_about_one_in_n() {
    let mut c = Cluster::start_with(Options {
        meta_args: vec!["--repair-objects-in-flight", "8"],
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("grow").send().await.unwrap();
    let objs = fill(&s3c, "grow", 2000, 4096).await;
    let before: HashMap<String, Vec<Option<uuid::Uuid>>> = records(&c)
        .await
        .into_iter()
        .map(|r| {
            (
                r.key.clone(),
                r.shards
                    .iter()
                    .map(|l| l.as_ref().map(|l| l.disk))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(before.len(), 2000);

    // Refusals: a malformed address, an OSD that does not exist without one.
    let (ok, _, err) = cli(&c, &["osd", "add", "--address", "osd8"]);
    assert!(!ok && err.contains("malformed address"), "{err}");
    let (ok, _, err) = cli(&c, &["osd", "add", "--address", "h:99999"]);
    assert!(!ok && err.contains("malformed address"), "{err}");
    let (ok, _, err) = cli(&c, &["osd", "add", "--id", "osd9", "--disks", "/x"]);
    assert!(!ok && err.contains("--address"), "{err}");

    let (ok, _, err) = cli(&c, &["osd", "add", "--address", "h:9200", "--weight=-1"]);
    assert!(!ok && err.contains("weight must be"), "{err}");
    let (ok, _, err) = cli(&c, &["osd", "add", "--id", "a/b", "--address", "h:9200"]);
    assert!(!ok && err.contains("malformed OSD id"), "{err}");
    let (ok, _, err) = cli(&c, &["osd", "reweight", "osd1", "0"]);
    assert!(!ok && err.contains("weight must be"), "{err}");

    // Rebalance paused first: the new OSD takes new shards, old ones stay.
    let (ok, out, _) = cli(&c, &["cluster", "rebalance", "stop"]);
    assert!(ok && out.contains("paused"), "{out}");

    // Added: `new` until its daemon registers; takes no shards meanwhile.
    let i = c.add_osd_slot("host4");
    let addr = format!("127.0.0.1:{}", c.osds[i].port);
    let disk = c.osds[i].disk.display().to_string();
    let (ok, out, err) = cli(
        &c,
        &[
            "osd",
            "add",
            "--address",
            &addr,
            "--disks",
            &disk,
            "--failure-domain",
            "host4",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("added OSD osd7") && out.contains("state new"),
        "{out}"
    );
    let (_, list, _) = cli(&c, &["osd", "list"]);
    let row = list.lines().find(|l| l.contains("osd7")).unwrap();
    assert!(row.contains("new"), "{list}");
    let s = c.admin_json("/api/v1/cluster/status").await.unwrap();
    assert!(!s["osds"]["down"].to_string().contains("osd7"), "{s}");

    // Its daemon starts with no --disk: the recorded one is opened.
    c.start_added_osd(i).unwrap();
    wait_json(&c, "/api/v1/osds", 30, |v| {
        v["osds"].as_array().unwrap().iter().any(|o| {
            o["id"] == "osd7"
                && o["service"] == "active"
                && o["state"] == "up"
                && o["failure_domain"] == "host4"
                && o["disks"].as_array().unwrap().len() == 1
        })
    })
    .await;

    // Paused: the pass the new OSD starts moves nothing.
    let passes = c.admin_json("/api/v1/repair").await.unwrap()["passes"]
        .as_u64()
        .unwrap();
    wait_json(&c, "/api/v1/repair", 60, |v| {
        v["passes"].as_u64().unwrap() > passes && v["running"] == false
    })
    .await;
    let r = c.admin_json("/api/v1/cluster/rebalance").await.unwrap();
    assert_eq!(r["state"], "paused", "{r}");
    assert_eq!(r["total_moved_shards"], 0, "{r}");
    // Resumed: the rebalance runs by itself, and says so.
    let (ok, _, err) = cli(&c, &["cluster", "rebalance", "start"]);
    assert!(ok, "{err}");
    let t = Instant::now();
    let r = wait_json(&c, "/api/v1/cluster/rebalance", 180, |v| {
        v["state"] == "idle" && v["total_moved_shards"].as_u64() > Some(0)
    })
    .await;
    let secs = t.elapsed().as_secs_f64();
    let (_, status, _) = cli(&c, &["cluster", "rebalance", "status"]);
    assert!(status.contains("Rebalance: idle"), "{status}");

    let after = records(&c).await;
    let (mut moved, mut total) = (0usize, 0usize);
    let snap_domains: HashMap<String, String> = c
        .osds
        .iter()
        .map(|o| (o.id.clone(), o.domain.clone()))
        .collect();
    for r in &after {
        let was = &before[&r.key];
        for (i, l) in r.shards.iter().enumerate() {
            total += 1;
            if l.as_ref().map(|l| l.disk) != was[i] {
                moved += 1;
                // Only the new disk entered the preferred sets.
                assert_eq!(
                    l.as_ref().map(|l| l.osd.as_str()),
                    Some("osd7"),
                    "{}",
                    r.key
                );
            }
        }
        // Never below the failure-domain spread: at most 2 per domain.
        let mut per: HashMap<&str, usize> = HashMap::new();
        for l in r.shards.iter().flatten() {
            *per.entry(snap_domains[&l.osd].as_str()).or_default() += 1;
        }
        assert!(per.values().all(|n| *n <= 2), "{}: {per:?}", r.key);
    }
    let fraction = moved as f64 / total as f64;
    let n = 7.0;
    println!(
        "rebalance after adding 1 of 7 disks: {moved} of {total} shards moved ({:.1} %, 1/N = {:.1} %) in {secs:.1} s; {}",
        fraction * 100.0,
        100.0 / n,
        r
    );
    assert!(moved > 0, "nothing moved onto the new OSD");
    assert!(
        fraction <= 2.0 / n,
        "moved {:.1} % of shards",
        fraction * 100.0
    );
    assert_eq!(
        r["total_moved_shards"].as_u64().unwrap() as usize,
        moved,
        "the job counts what moved: {r}"
    );
    assert!(shards_on(&c, "osd7").await > 0);
    check_all(&s3c, "grow", &objs).await;

    // A disk added to the running OSD: opened at once, and rebalanced onto.
    // A disk named through the API must exist (the OSD creates files only
    // for its own --disk flags): first one that does not, then the file.
    let second = c.dir.path().join("osd7-b.img").display().to_string();
    let missing = c.dir.path().join("osd7-missing.img").display().to_string();
    let (ok, _, err) = cli(&c, &["osd", "add", "--id", "osd7", "--disks", &missing]);
    assert!(ok, "{err}");
    let osd7_log = c.dir.path().join("osd7.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&osd7_log)
        .unwrap_or_default()
        .contains("was added through the admin API but does not exist")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "osd7 never refused {missing}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        !std::path::Path::new(&missing).exists(),
        "the OSD created {missing}"
    );
    std::fs::File::create(&second)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let (ok, out, err) = cli(&c, &["osd", "add", "--id", "osd7", "--disks", &second]);
    assert!(ok, "{err}");
    assert!(out.contains("opens the added disks now"), "{out}");
    let v = wait_json(&c, "/api/v1/osds", 30, |v| {
        v["osds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == "osd7" && o["disks"].as_array().unwrap().len() == 2)
    })
    .await;
    let new_disk: uuid::Uuid = v["osds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "osd7")
        .unwrap()["disks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == second.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let moved_before = r["total_moved_shards"].as_u64().unwrap();
    wait_json(&c, "/api/v1/cluster/rebalance", 180, |v| {
        v["state"] == "idle" && v["total_moved_shards"].as_u64() > Some(moved_before)
    })
    .await;
    let on_new = records(&c)
        .await
        .iter()
        .flat_map(|r| r.shards.clone())
        .flatten()
        .filter(|l| l.disk == new_disk)
        .count();
    assert!(on_new > 0, "nothing moved onto the added disk");
    check_all(&s3c, "grow", &objs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_drain_under_load_moves_every_shard_and_loses_nothing() {
    let c = Cluster::start_with(Options {
        osds: 7,
        meta_args: vec!["--repair-objects-in-flight", "4"],
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("drain").send().await.unwrap();
    let mut objs = fill(&s3c, "drain", 60, 300 << 10).await;
    for (i, n) in [0usize, 1, (3 << 20) + 5].into_iter().enumerate() {
        let key = format!("big{i}");
        let body = data(n, 50 + i as u64);
        put(&s3c, "drain", &key, body.clone()).await;
        objs.insert(key, body);
    }
    let on_before = shards_on(&c, "osd1").await;
    assert!(on_before > 0);

    // Idle client throughput, then the same load while draining.
    let load = Load::start(&c, vec![c.s3_endpoint()], "drain", 4);
    let t = Instant::now();
    while load.done() < 40 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (idle_ops, _, idle_bytes) = load.finish().await;
    let idle = idle_bytes as f64 / t.elapsed().as_secs_f64() / (1 << 20) as f64;

    let load = Load::start(&c, vec![c.s3_endpoint()], "drain", 4);
    let t = Instant::now();
    let (ok, out, err) = cli(&c, &["osd", "drain", "osd1"]);
    assert!(ok, "{err}");
    assert!(out.contains("draining"), "{out}");
    // Already draining: said again, not refused.
    assert!(cli(&c, &["osd", "drain", "osd1"]).0);
    // A second drain on its host would leave it one disk: refused, saying why.
    let (ok, _, err) = cli(&c, &["osd", "drain", "osd4"]);
    assert!(!ok && err.contains("with osd1 draining too"), "{err}");
    let (ok, out, err) = cli_bg(&c, &["osd", "wait-drained", "osd1", "--timeout", "180s"]).await;
    let secs = t.elapsed().as_secs_f64();
    assert!(ok, "wait-drained failed: {out} {err}");
    assert!(out.contains("drained"), "{out}");
    let (ops, failed, bytes) = load.finish().await;
    let during = bytes as f64 / secs / (1 << 20) as f64;
    assert_eq!(failed, 0, "client requests failed during the drain");
    assert!(ops > 0);
    assert_eq!(shards_on(&c, "osd1").await, 0, "a record still names osd1");
    let d = c.admin_json("/api/v1/osds/osd1/drain").await.unwrap();
    assert_eq!(d["drained"], true, "{d}");
    let moved_mib = d["moved_bytes"].as_u64().unwrap() as f64 / (1 << 20) as f64;
    println!(
        "drained osd1 ({on_before} shards) in {secs:.1} s, {moved_mib:.1} MiB moved in the last pass; client PUT+GET {during:.1} MiB/s while draining vs {idle:.1} MiB/s idle ({idle_ops} ops idle)"
    );
    // Nothing new goes to it: a PUT now avoids it.
    put(&s3c, "drain", "after", data(10_000, 1)).await;
    assert!(
        !record(&c, "drain", "after")
            .await
            .shards
            .iter()
            .flatten()
            .any(|l| l.osd == "osd1")
    );
    // Drained means ok to stop.
    assert!(cli(&c, &["osd", "ok-to-stop", "osd1"]).0);
    check_all(&s3c, "drain", &objs).await;
    // Removing it now is allowed at once: nothing references it.
    let (ok, out, err) = cli(&c, &["osd", "remove", "osd1"]);
    assert!(ok, "{err}");
    assert!(out.contains("removed OSD osd1"), "{out}");
    check_all(&s3c, "drain", &objs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_drain_of_a_dead_osd_decodes_and_the_removed_process_is_refused() {
    let mut c = Cluster::start_with(Options {
        osds: 7,
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("dead").send().await.unwrap();
    let objs = fill(&s3c, "dead", 30, (1 << 20) + 17).await;
    // osd4 shares host1 with osd1 and osd7: the others can take its shards.
    assert!(shards_on(&c, "osd4").await > 0);
    c.kill_osd(3);
    wait_json(&c, "/api/v1/osds", 30, |v| {
        v["osds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == "osd4" && o["state"] == "down")
    })
    .await;
    let (ok, _, err) = cli(&c, &["osd", "drain", "osd4"]);
    assert!(ok, "{err}");
    let (ok, out, err) = cli_bg(&c, &["osd", "wait-drained", "osd4", "--timeout", "180s"]).await;
    assert!(ok, "{out} {err}");
    assert_eq!(shards_on(&c, "osd4").await, 0);
    assert!(
        c.logs()
            .contains("moving shards whose copy cannot be read: decoding them"),
        "the dead OSD's shards were not decoded"
    );
    check_all(&s3c, "dead", &objs).await;
    // Every object is whole again without osd4.
    let snap_ok = records(&c)
        .await
        .iter()
        .all(|r| r.shards.iter().flatten().count() == 6);
    assert!(snap_ok);
    // The old copies wait in GC: their OSD is down.
    let s = store(&c).await;
    let gc_on_osd4 = || async {
        s.list::<objectio_cluster::GcRecord>(s.keys().gc_prefix())
            .await
            .unwrap()
            .iter()
            .flat_map(|(_, g)| {
                g.segments
                    .iter()
                    .flat_map(|seg| seg.shards.iter().flatten())
            })
            .filter(|l| l.osd == "osd4")
            .count()
    };
    assert!(gc_on_osd4().await > 0, "no old copy waits for the dead OSD");
    let (ok, _, err) = cli(&c, &["osd", "remove", "osd4"]);
    assert!(ok, "{err}");
    let (_, list, _) = cli(&c, &["osd", "list"]);
    assert!(!list.contains("osd4"), "{list}");
    // Removed with its disks: GC lets those copies go.
    let t = Instant::now();
    loop {
        let waiting = gc_on_osd4().await;
        if waiting == 0 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{waiting} GC entries wait on removed osd4"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Its daemon, started again, is refused and exits.
    c.start_osd(3).unwrap();
    let st = c.wait_osd_exit(3, Duration::from_secs(30)).await;
    assert!(
        st.is_some_and(|s| !s.success()),
        "a removed OSD kept running"
    );
    assert!(c.logs().contains("was removed from the cluster"));
    let (_, list, _) = cli(&c, &["osd", "list"]);
    assert!(!list.contains("osd4"), "{list}");
    // Added again under its id, but at another address: its daemon, at
    // its own, is refused and told which address was expected.
    let (ok, out, err) = cli(
        &c,
        &["osd", "add", "--id", "osd4", "--address", "127.0.0.1:1"],
    );
    assert!(ok && out.contains("state new"), "{out} {err}");
    c.start_osd(3).unwrap();
    let st = c.wait_osd_exit(3, Duration::from_secs(30)).await;
    assert!(
        st.is_some_and(|s| !s.success()),
        "an OSD at the wrong address ran"
    );
    assert!(c.logs().contains("was added with address 127.0.0.1:1"));
    let v = c.admin_json("/api/v1/osds").await.unwrap();
    let o = v["osds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "osd4")
        .unwrap()
        .clone();
    assert_eq!(o["service"], "new", "{o}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_undrain_midway_keeps_moved_shards_moved_and_remove_needs_force() {
    let mut c = Cluster::start_with(Options {
        osds: 7,
        meta_args: vec!["--repair-max-mibs", "1"],
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("undrain").send().await.unwrap();
    let objs = fill(&s3c, "undrain", 40, 512 << 10).await;
    let on = shards_on(&c, "osd7").await;
    assert!(on > 4, "osd7 holds {on}");
    assert!(cli(&c, &["osd", "drain", "osd7"]).0);
    // Slow (1 MiB/s): wait for some moves, and for the progress to count.
    let d = wait_json(&c, "/api/v1/osds/osd7/drain", 120, |v| {
        v["moved_objects"].as_u64().unwrap_or(0) >= 2 && v["objects_left"].as_u64().is_some()
    })
    .await;
    assert!(d["objects_left"].as_u64().unwrap() > 0, "{d}");
    // wait-drained with a short timeout fails, with the reason.
    let (ok, out, err) = cli_bg(&c, &["osd", "wait-drained", "osd7", "--timeout", "1s"]).await;
    assert!(
        !ok && err.contains("timed out"),
        "{out} {err} {d} {}",
        c.admin_json("/api/v1/repair").await.unwrap()
    );
    let passes = c.admin_json("/api/v1/repair").await.unwrap()["passes"]
        .as_u64()
        .unwrap();
    let (ok, out, err) = cli(&c, &["osd", "undrain", "osd7"]);
    assert!(ok, "{err}");
    assert!(out.contains("back in service"), "{out}");
    // A move under way when the drain was called off may still land: look
    // once the pass the undrain started has ended.
    wait_json(&c, "/api/v1/repair", 120, |v| {
        v["passes"].as_u64().unwrap() > passes && v["running"] == false
    })
    .await;
    let moved: Vec<String> = records(&c)
        .await
        .into_iter()
        .filter(|r| !r.shards.iter().flatten().any(|l| l.osd == "osd7"))
        .map(|r| r.key)
        .collect();
    let left_on = shards_on(&c, "osd7").await;
    assert!(left_on > 0 && left_on < on, "{left_on} of {on} left");
    // Another whole pass moves nothing back.
    let passes = c.admin_json("/api/v1/repair").await.unwrap()["passes"]
        .as_u64()
        .unwrap();
    let (ok, _, err) = cli(&c, &["repair", "start"]);
    assert!(ok, "{err}");
    wait_json(&c, "/api/v1/repair", 120, |v| {
        v["passes"].as_u64().unwrap() > passes && v["running"] == false
    })
    .await;
    assert_eq!(
        shards_on(&c, "osd7").await,
        left_on,
        "undrain moved shards back"
    );
    for r in records(&c).await {
        if moved.contains(&r.key) {
            assert!(!r.shards.iter().flatten().any(|l| l.osd == "osd7"));
        }
    }
    // wait-drained on an OSD not draining says so.
    let (ok, _, err) = cli(&c, &["osd", "wait-drained", "osd7"]);
    assert!(!ok && err.contains("not draining"), "{err}");

    // Remove: refused while referenced, then forced; repair rebuilds.
    let (ok, _, err) = cli(&c, &["osd", "remove", "osd7"]);
    assert!(
        !ok && err.contains("still holds") && err.contains("drain it first"),
        "{err}"
    );
    let (ok, out, err) = cli(&c, &["osd", "remove", "osd7", "--force"]);
    assert!(ok, "{err}");
    assert!(out.contains("repair is rebuilding"), "{out}");
    // Its process stops by itself.
    let st = c.wait_osd_exit(6, Duration::from_secs(30)).await;
    assert!(st.is_some(), "the removed OSD's process kept running");
    c.admin()
        .post(c.admin_url("/api/v1/repair/start"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    let t = Instant::now();
    loop {
        let rs = records(&c).await;
        if rs.iter().all(|r| {
            r.shards.iter().flatten().count() == 6
                && !r.shards.iter().flatten().any(|l| l.osd == "osd7")
        }) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(240),
            "repair never rebuilt osd7's shards"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    check_all(&s3c, "undrain", &objs).await;
    // Unknown ids are refused with the id named.
    let (ok, _, err) = cli(&c, &["osd", "drain", "osd7"]);
    assert!(!ok && err.contains("no such OSD"), "{err}");
    let (ok, _, err) = cli(&c, &["osd", "remove", "nosuch"]);
    assert!(!ok && err.contains("no such OSD"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_draining_refuses_what_would_break_placement() {
    // Six OSDs on three hosts: every object uses every disk, so no OSD
    // can be drained.
    let c = Cluster::start().await.unwrap();
    let (ok, _, err) = cli(&c, &["osd", "drain", "osd1"]);
    assert!(!ok, "drained the last spare");
    assert!(
        err.contains("can hold 5 of an object's 6 shards") && err.contains("add capacity"),
        "{err}"
    );
    let v = c.admin_json("/api/v1/osds").await.unwrap();
    assert!(
        v["osds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["service"] == "active")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_meta_killed_mid_drain_resumes_and_finishes() {
    let mut c = Cluster::start_with(Options {
        osds: 7,
        meta_args: vec!["--repair-max-mibs", "2"],
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("mkill").send().await.unwrap();
    let objs = fill(&s3c, "mkill", 30, 600 << 10).await;
    assert!(cli(&c, &["osd", "drain", "osd4"]).0);
    wait_json(&c, "/api/v1/osds/osd4/drain", 120, |v| {
        v["moved_objects"].as_u64().unwrap_or(0) >= 2
    })
    .await;
    let left_before = shards_on(&c, "osd4").await;
    assert!(left_before > 0);
    c.kill_meta();
    c.restart_meta().await.unwrap();
    let (ok, out, err) = cli_bg(&c, &["osd", "wait-drained", "osd4", "--timeout", "240s"]).await;
    assert!(ok, "{out} {err}");
    assert_eq!(shards_on(&c, "osd4").await, 0);
    check_all(&s3c, "mkill", &objs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_rolling_upgrade_under_load_fails_no_request() {
    let mut c = Cluster::start_with(Options {
        osds: 7,
        meta_args: vec!["--repair-objects-in-flight", "4"],
        ..Default::default()
    })
    .await
    .unwrap();
    let second = c.start_extra_gateway(&[]).await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("roll").send().await.unwrap();
    let objs = fill(&s3c, "roll", 40, 200 << 10).await;
    let load = Load::start(&c, vec![c.s3_endpoint(), second.clone()], "roll", 3);
    // OSDs one at a time: drain, wait, stop, start (the new binary), undrain.
    for (i, id) in [(0usize, "osd1"), (3, "osd4")] {
        let (ok, _, err) = cli(&c, &["osd", "drain", id]);
        assert!(ok, "{id}: {err}");
        let (ok, out, err) = cli_bg(&c, &["osd", "wait-drained", id, "--timeout", "180s"]).await;
        assert!(ok, "{id}: {out} {err}");
        assert!(cli(&c, &["osd", "ok-to-stop", id]).0);
        c.terminate_osd(i);
        assert!(c.wait_osd_exit(i, Duration::from_secs(30)).await.is_some());
        c.start_osd(i).unwrap();
        c.wait_osd_listening(i).await.unwrap();
        wait_json(&c, "/api/v1/osds", 30, |v| {
            v["osds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["id"] == id && o["state"] == "up")
        })
        .await;
        let (ok, _, err) = cli(&c, &["osd", "undrain", id]);
        assert!(ok, "{id}: {err}");
    }
    // The meta, then a gateway (the client moves to the other one).
    c.terminate_meta();
    assert!(c.wait_meta_exit(Duration::from_secs(30)).await.is_some());
    c.restart_meta().await.unwrap();
    c.terminate_gateway();
    assert!(c.wait_gateway_exit(Duration::from_secs(30)).await.is_some());
    c.restart_gateway().await.unwrap();
    let before = load.done();
    while load.done() < before + 6 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (ops, failed, _) = load.finish().await;
    assert_eq!(
        failed, 0,
        "{failed} of {ops} client requests failed past a retry"
    );
    check_all(&s3c, "roll", &objs).await;
    let s = c.admin_json("/api/v1/osds").await.unwrap();
    assert!(
        s["osds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["service"] == "active" && o["state"] == "up"),
        "{s}"
    );
}
