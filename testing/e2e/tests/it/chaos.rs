//! Bounded chaos: PUT, GET and DELETE load from several clients while
//! OSDs are killed and restarted (never more than m at once), shard bytes
//! are corrupted on disk, the meta leader is killed and an etcd member of a
//! three-member etcd restarts. Then, with every process back: every
//! acknowledged object reads back byte-identical, every object has k+m
//! healthy shards, no shard is left unreferenced after GC, and deleting
//! everything gives every byte back.
//!
//! `OBJECTIO_CHAOS_SECS` (default 20) sets how long faults go on;
//! `OBJECTIO_CHAOS_SEED` replays a run.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use objectio_cluster::{ObjectRecord, Store};
use objectio_testkit::{Cluster, Options};

use crate::common::*;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A body, by its seed and length.
type Body = (u64, usize);

/// What a key may hold: exactly one state, or any of several after a
/// request whose outcome is unknown (it failed, but may have committed).
#[derive(Clone, Debug, Default)]
struct Expect(Vec<Option<Body>>);

impl Expect {
    fn exact(b: Option<Body>) -> Self {
        Expect(vec![b])
    }
}

#[derive(Default, Debug)]
struct Tally {
    puts: u64,
    puts_failed: u64,
    gets_verified: u64,
    gets_failed: u64,
    deletes: u64,
    deletes_failed: u64,
}

/// One client's load over its own keys until `stop`.
async fn client(
    s3c: aws_sdk_s3::Client,
    me: u64,
    seed: u64,
    keys: Arc<Mutex<HashMap<String, Expect>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) {
    let mut rng = Rng(seed ^ (me + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let key = format!("c{me}/k{}", rng.below(12));
        let now = keys
            .lock()
            .unwrap()
            .get(&key)
            .cloned()
            .unwrap_or_else(|| Expect::exact(None));
        match rng.below(20) {
            0..=9 => {
                let len = match rng.below(3) {
                    0 => 1 + rng.below(64 << 10) as usize,
                    1 => (1 << 20) + rng.below(1 << 20) as usize,
                    _ => (3 << 20) + rng.below(1 << 20) as usize,
                };
                let body = (rng.next(), len);
                let r = s3c
                    .put_object()
                    .bucket("chaos")
                    .key(&key)
                    .body(data(len, body.0).into())
                    .send()
                    .await;
                let mut t = tally.lock().unwrap();
                let mut k = keys.lock().unwrap();
                if r.is_ok() {
                    t.puts += 1;
                    k.insert(key, Expect::exact(Some(body)));
                } else {
                    t.puts_failed += 1;
                    let mut e = now;
                    e.0.push(Some(body));
                    k.insert(key, e);
                }
            }
            10..=16 => {
                let r = s3c.get_object().bucket("chaos").key(&key).send().await;
                let got = match r {
                    Ok(o) => match o.body.collect().await {
                        Ok(b) => Some(Some(b.into_bytes())),
                        Err(_) => None,
                    },
                    Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => {
                        Some(None)
                    }
                    Err(_) => None,
                };
                let Some(got) = got else {
                    tally.lock().unwrap().gets_failed += 1;
                    continue;
                };
                // Whatever a GET answers is one of the states the key may
                // be in; never other bytes.
                let which = now.0.iter().find(|b| match (b, &got) {
                    (None, None) => true,
                    (Some((s, l)), Some(g)) => {
                        g.len() == *l && g.as_ref() == data(*l, *s).as_slice()
                    }
                    _ => false,
                });
                let which = which.cloned().unwrap_or_else(|| {
                    panic!(
                        "GET {key} answered {} bytes, none of the {} states it may be in",
                        got.as_ref().map_or(0, |g| g.len()),
                        now.0.len()
                    )
                });
                tally.lock().unwrap().gets_verified += 1;
                keys.lock().unwrap().insert(key, Expect::exact(which));
            }
            _ => {
                let r = s3c.delete_object().bucket("chaos").key(&key).send().await;
                let mut t = tally.lock().unwrap();
                let mut k = keys.lock().unwrap();
                if r.is_ok() {
                    t.deletes += 1;
                    k.insert(key, Expect::exact(None));
                } else {
                    t.deletes_failed += 1;
                    let mut e = now;
                    e.0.push(None);
                    k.insert(key, e);
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_chaos_every_acknowledged_object_survives_and_heals() {
    let secs: u64 = std::env::var("OBJECTIO_CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("OBJECTIO_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::process::id() as u64 * 7919 + 1);
    eprintln!("chaos: {secs} s, seed {seed}");
    // Seven OSDs on three hosts (3+2+2): a dead OSD's shards can move.
    let mut c = Cluster::start_with(Options {
        osds: 7,
        etcd_members: 3,
        down_out_secs: 4,
        ..Default::default()
    })
    .await
    .unwrap();
    let s3c = s3_no_retry(&c, &c.access_key.clone(), &c.secret_key.clone(), None);
    s3c.create_bucket().bucket("chaos").send().await.unwrap();
    let keys: Arc<Mutex<HashMap<String, Expect>>> = Arc::default();
    let tally: Arc<Mutex<Tally>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..3)
        .map(|me| {
            tokio::spawn(client(
                s3c.clone(),
                me,
                seed,
                keys.clone(),
                stop.clone(),
                tally.clone(),
            ))
        })
        .collect();
    let store = Store::connect(&c.etcd_endpoints(), "it").await.unwrap();
    let mut rng = Rng(seed);
    let mut faults: HashMap<&'static str, u64> = HashMap::new();
    let mut down: Vec<usize> = Vec::new();
    let t = Instant::now();
    // Every kind of fault in turn (targets at random); an OSD kill is
    // skipped while two are down, a restart while none is.
    const SCHEDULE: [&str; 8] = [
        "osd killed",
        "shard corrupted",
        "osd killed",
        "meta leader killed",
        "osd restarted",
        "etcd member restarted",
        "osd restarted",
        "shard corrupted",
    ];
    let mut step = 0usize;
    // At least `secs`, and until every kind of fault has happened (a busy
    // machine makes each fault slower), within four times that.
    while t.elapsed() < Duration::from_secs(secs)
        || (!SCHEDULE.iter().all(|k| faults.contains_key(k))
            && t.elapsed() < Duration::from_secs(4 * secs))
    {
        tokio::time::sleep(Duration::from_millis(800 + rng.below(800))).await;
        let kind = SCHEDULE[step % SCHEDULE.len()];
        step += 1;
        match kind {
            // Never more than m = 2 OSDs down at once.
            "osd killed" if down.len() < 2 => {
                let up: Vec<usize> = (0..c.osds.len()).filter(|i| !down.contains(i)).collect();
                let i = up[rng.below(up.len() as u64) as usize];
                c.kill_osd(i);
                down.push(i);
            }
            "osd restarted" if !down.is_empty() => {
                let i = down.remove(rng.below(down.len() as u64) as usize);
                c.start_osd(i).unwrap();
            }
            "shard corrupted" => {
                // Flip bytes in one shard of an object written so far.
                let Ok(r) = store
                    .kv()
                    .get(
                        store.keys().objects_prefix("chaos"),
                        Some(etcd_client::GetOptions::new().with_prefix()),
                    )
                    .await
                else {
                    continue;
                };
                if r.kvs().is_empty() {
                    continue;
                }
                let kv = &r.kvs()[rng.below(r.kvs().len() as u64) as usize];
                let rec: ObjectRecord = store
                    .decode(kv.key(), kv.value(), kv.mod_revision())
                    .await
                    .unwrap();
                let i = rng.below(6) as u8;
                let Some(loc) = rec.shards.get(i as usize).cloned().flatten() else {
                    continue;
                };
                let Some(o) = c.osds.iter().position(|o| o.id == loc.osd) else {
                    continue;
                };
                let disk = c.osds[o].disk.clone();
                let dev = objectio_engine::device::sync::SyncDevice::open_read_only(&disk).unwrap();
                let at = objectio_engine::scan::scan(&dev)
                    .await
                    .shards
                    .iter()
                    .find(|s| s.version_id == rec.version_id && s.shard_index == i)
                    .map(|s| s.data_offset);
                let Some(off) = at else {
                    continue; // replaced meanwhile
                };
                let f = std::fs::OpenOptions::new().write(true).open(&disk).unwrap();
                f.write_all_at(&[0xC4; 8], off + rng.below(512)).unwrap();
                f.sync_all().unwrap();
            }
            "meta leader killed" => {
                c.kill_meta();
                tokio::time::sleep(Duration::from_millis(500)).await;
                c.restart_meta().await.unwrap();
            }
            "etcd member restarted" => {
                let i = rng.below(3) as usize;
                c.kill_etcd_member(i);
                tokio::time::sleep(Duration::from_millis(700)).await;
                c.restart_etcd_member(i).await.unwrap();
            }
            _ => continue,
        }
        *faults.entry(kind).or_default() += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in clients {
        h.await.unwrap();
    }
    // Everything back.
    for i in down.drain(..) {
        c.start_osd(i).unwrap();
    }
    c.wait_osds_up(7).await.unwrap();
    // Each key as it is now: one of the states it may be in.
    let mut live: Vec<(String, Body)> = Vec::new();
    let want: Vec<(String, Expect)> = keys.lock().unwrap().clone().into_iter().collect();
    let s3r = s3(&c);
    for (key, e) in &want {
        let got = match s3r.get_object().bucket("chaos").key(key).send().await {
            Ok(o) => Some(o.body.collect().await.unwrap().into_bytes()),
            Err(e) => {
                assert_eq!(
                    e.raw_response().map(|r| r.status().as_u16()),
                    Some(404),
                    "{key}: {e:?}"
                );
                None
            }
        };
        let which =
            e.0.iter()
                .find(|b| match (b, &got) {
                    (None, None) => true,
                    (Some((s, l)), Some(g)) => g.as_ref() == data(*l, *s).as_slice(),
                    _ => false,
                })
                .unwrap_or_else(|| panic!("{key} holds none of the states it may be in"));
        if let Some(b) = which {
            live.push((key.clone(), *b));
        }
    }
    // Scrub every disk, then wait until repair has every object whole:
    // k+m shards, each read back and checked now.
    for o in &c.osds {
        let (ok, _, err) = cli(&c, &["osd", "scrub", &o.id]);
        assert!(ok, "{err}");
    }
    let t = Instant::now();
    let mut unhealthy: Vec<String> = Vec::new();
    loop {
        unhealthy.clear();
        for (key, _) in &live {
            let h = c
                .admin_json(&format!("/api/v1/objects/health?bucket=chaos&key={key}"))
                .await
                .unwrap();
            if h["verdict"] != "healthy" {
                unhealthy.push(format!("{key}: {}", h["verdict"]));
            }
        }
        if unhealthy.is_empty() {
            break;
        }
        if t.elapsed() >= Duration::from_secs(120) {
            let repair = c.admin_json("/api/v1/repair").await.unwrap();
            panic!("never healed: {unhealthy:?}; repair: {repair}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for (key, (s, l)) in &live {
        assert!(get(&s3r, "chaos", key).await == data(*l, *s), "{key}");
    }
    // No shard unreferenced once GC has run: the disks hold exactly the
    // records' shards.
    let mut referenced = 0u64;
    for (key, _) in &live {
        let rec = record(&c, "chaos", key).await;
        assert_eq!(rec.shards.iter().flatten().count(), rec.ec.total(), "{key}");
        referenced += rec.ec.total() as u64;
    }
    wait_shards(&c, referenced).await;
    let repair = c.admin_json("/api/v1/repair").await.unwrap();
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    for kind in SCHEDULE {
        assert!(
            faults.contains_key(kind),
            "no {kind} in {faults:?}: run longer"
        );
    }
    eprintln!(
        "chaos report (seed {seed}, {secs} s): faults {faults:?}; {tally:?}; {} objects verified at the end; repaired {} objects ({} shards, {} bytes)",
        live.len(),
        repair["total_repaired_objects"],
        repair["total_repaired_shards"],
        repair["total_bytes_rebuilt"]
    );
    // Deleting everything gives every byte back.
    for (key, _) in &live {
        s3r.delete_object()
            .bucket("chaos")
            .key(key)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(wait_shards(&c, 0).await, 0);
}
