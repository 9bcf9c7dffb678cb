//! Engine tests: the same suite on every backend, crash sweeps on the
//! memory device (power loss at many points, torn writes), failpoints,
//! and device safety.

#[path = "../common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use common::*;
use objectio_engine::device::memory::MemDevice;
use objectio_engine::device::{self, Backend, BlockDevice};
use objectio_engine::{Engine, Error};
use objectio_shard::ShardId;
use uuid::Uuid;

/// The same suite on a device of any backend.
async fn suite(dev: Arc<dyn BlockDevice>, reopen: impl Fn() -> Arc<dyn BlockDevice>) {
    let e = Engine::open(dev, opts()).await.unwrap();
    let cap = e.usage().capacity;
    assert_eq!(e.usage().used, 0);
    let sizes = [
        1u64,
        100,
        4096 * 4 + 1,
        (64 << 10) * 4,
        3 << 20,
        (9 << 20) + 7,
    ];
    let mut ids = Vec::new();
    for (i, s) in sizes.iter().enumerate() {
        let id = sid(i as u32);
        put(&e, header(id, *s, 1 << 20)).await.unwrap();
        ids.push(id);
    }
    // Concurrent writers (group commit).
    let mut tasks = Vec::new();
    for i in 0..32u32 {
        let e = e.clone();
        tasks.push(tokio::spawn(async move {
            let id = sid(100 + i);
            put(&e, header(id, 20_000 + i as u64 * 1000, 64 << 10))
                .await
                .unwrap();
            id
        }));
    }
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    for id in &ids {
        check(&e, id).await;
    }
    let u = e.usage();
    assert_eq!(u.shards, ids.len() as u64);
    assert_eq!(u.used + u.free, cap);
    let extents: u64 = ids.iter().map(|id| e.entry(id).unwrap().extent_len).sum();
    assert_eq!(u.used, extents, "used bytes are what the shards occupy");

    // Same id twice is refused; unknown shards are NotFound.
    assert!(matches!(
        e.begin_put(header(ids[0], 1, 1 << 20)),
        Err(Error::Exists(_))
    ));
    assert!(matches!(e.delete(&sid(999)).await, Err(Error::NotFound(_))));

    // Deletes give space back, and it is reused.
    let victim = ids.remove(4);
    let vent = e.entry(&victim).unwrap();
    e.delete(&victim).await.unwrap();
    assert!(matches!(e.entry(&victim), Err(Error::NotFound(_))));
    assert_eq!(e.usage().used, extents - vent.extent_len);
    let again = sid(500);
    put(&e, header(again, 3 << 20, 1 << 20)).await.unwrap();
    assert_eq!(
        e.entry(&again).unwrap().offset,
        vent.offset,
        "freed extent reused"
    );
    ids.push(again);
    let before = e.usage();
    drop(e);
    // Let the journal task see the engine is gone.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    let e = Engine::open(reopen(), opts()).await.unwrap();
    assert_eq!(e.usage(), before, "usage survives a restart");
    for id in &ids {
        check(&e, id).await;
    }
    assert!(matches!(e.entry(&victim), Err(Error::NotFound(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_suite_on_memory_backend() {
    let m = MemDevice::new(256 << 20);
    let m2 = m.clone();
    suite(Arc::new(m), move || Arc::new(m2.clone())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_suite_on_sync_backend() {
    let d = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let p = d.path().join("disk");
    let p2 = p.clone();
    suite(
        device::open(&p, Backend::Sync, 256 << 20).unwrap(),
        move || device::open(&p2, Backend::Sync, 0).unwrap(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_suite_on_uring_backend() {
    let d = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let p = d.path().join("disk");
    let p2 = p.clone();
    suite(
        device::open(&p, Backend::Uring, 256 << 20).unwrap(),
        move || device::open(&p2, Backend::Uring, 0).unwrap(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_journal_wraps_and_checkpoints_keep_the_index() {
    // 96 MiB: an 8 MiB journal, so thousands of records wrap it many times.
    let m = MemDevice::new(96 << 20);
    let e = Engine::open(Arc::new(m.clone()), opts()).await.unwrap();
    let mut live: Vec<ShardId> = Vec::new();
    for round in 0..30u32 {
        let mut tasks = Vec::new();
        for i in 0..100u32 {
            let e = e.clone();
            tasks.push(tokio::spawn(async move {
                let id = sid(round * 1000 + i);
                put(&e, header(id, 5000, 4096)).await.unwrap();
                id
            }));
        }
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap());
        }
        // Keep a few, delete the rest.
        for (i, id) in ids.into_iter().enumerate() {
            if i % 10 == 0 {
                live.push(id);
            } else {
                e.delete(&id).await.unwrap();
            }
        }
    }
    let usage = e.usage();
    drop(e);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let e = Engine::open(Arc::new(m.clone()), opts()).await.unwrap();
    let r = e.recovery();
    assert!(r.checkpoint_generation > 2, "checkpoints were taken: {r:?}");
    assert_eq!(e.usage(), usage);
    for id in &live {
        check(&e, id).await;
    }
}

/// Power loss after `budget` bytes while 8 tasks write shards: after
/// recovery every acknowledged shard reads back whole and every shard in
/// the index is whole (a torn shard is never served).
async fn crash_once(budget: u64, seed: u32) {
    let m = MemDevice::new(96 << 20);
    // A device with history: some shards, a few deletes.
    let e = Engine::open(Arc::new(m.clone()), opts()).await.unwrap();
    let acked: Arc<Mutex<HashSet<ShardId>>> = Arc::default();
    for i in 0..20 {
        let id = sid(seed * 10_000 + i);
        put(&e, header(id, 70_000, 16 << 10)).await.unwrap();
        acked.lock().unwrap().insert(id);
    }
    m.crash_after(budget);
    let mut tasks = Vec::new();
    for t in 0..8u32 {
        let e = e.clone();
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50u32 {
                let id = sid(seed * 10_000 + 100 + t * 100 + i);
                match put(
                    &e,
                    header(id, 10_000 + (i as u64 * 7919) % 200_000, 16 << 10),
                )
                .await
                {
                    Ok(()) => {
                        acked.lock().unwrap().insert(id);
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(m.crashed(), "budget {budget} was not reached");
    drop(e);
    let image = MemDevice::from_bytes(m.snapshot());
    let e = Engine::open(Arc::new(image), opts()).await.unwrap();
    let acked: Vec<ShardId> = acked.lock().unwrap().iter().copied().collect();
    for id in &acked {
        check(&e, id).await;
    }
    for id in e.shard_ids() {
        check(&e, &id).await;
    }
    assert_no_leak(&e, "after the crash");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_power_loss_at_many_points_keeps_acknowledged_shards() {
    // Budgets land in chunk data, shard headers, journal batches.
    let mut budget = 1u64;
    let mut seed = 1;
    while budget < 6 << 20 {
        crash_once(budget, seed).await;
        budget = budget * 3 + 4097;
        seed += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_corrupt_chunk_is_reported_and_corrupt_journal_tail_is_ignored() {
    let m = MemDevice::new(96 << 20);
    let e = Engine::open(Arc::new(m.clone()), opts()).await.unwrap();
    let a = sid(1);
    put(&e, header(a, 100_000, 16 << 10)).await.unwrap();
    let ent = e.entry(&a).unwrap();
    m.corrupt(ent.offset + ent.header_len as u64 + 10, &[0xde, 0xad]);
    assert!(
        e.read_chunk(&ent, 0).await.unwrap().is_none(),
        "corrupt chunk is not returned"
    );
    assert!(e.read_chunk(&ent, 1).await.unwrap().is_some());
    let b = sid(2);
    put(&e, header(b, 1000, 16 << 10)).await.unwrap();
    drop(e);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    // Garbage over the journal after the last batch, as a torn write leaves.
    let sb = objectio_engine::engine::read_superblock(&m)
        .await
        .unwrap()
        .unwrap();
    let e = Engine::open(Arc::new(m.clone()), opts()).await.unwrap();
    assert!(e.entry(&b).is_ok());
    drop(e);
    m.corrupt(sb.journal_off + 3 * 4096, &[0x4f; 512]);
    let e = Engine::open(Arc::new(m.clone()), opts()).await.unwrap();
    assert!(e.entry(&a).is_ok() && e.entry(&b).is_ok());
}

#[tokio::test]
async fn test_foreign_devices_are_not_formatted_without_force() {
    // An ext4-looking device.
    let m = MemDevice::new(64 << 20);
    m.corrupt(1080, &[0x53, 0xEF]);
    match Engine::open(Arc::new(m.clone()), opts()).await {
        Err(Error::Foreign(s)) => assert!(s.contains("ext")),
        other => panic!("expected Foreign, got {:?}", other.map(|_| ())),
    }
    // Another cluster's disk.
    let other = MemDevice::new(64 << 20);
    let mut o = opts();
    o.cluster_id = Uuid::from_u128(99);
    let e = Engine::open(Arc::new(other.clone()), o).await.unwrap();
    drop(e);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert!(matches!(
        Engine::open(Arc::new(other.clone()), opts()).await,
        Err(Error::OtherCluster(c)) if c == Uuid::from_u128(99)
    ));
    // With force, both are formatted.
    let mut f = opts();
    f.force = true;
    Engine::open(Arc::new(m), f.clone()).await.unwrap();
    Engine::open(Arc::new(other), f).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_known_disk_reattaches_by_superblock_whatever_its_path() {
    let d = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let p = d.path().join("a");
    let e = Engine::open(device::open(&p, Backend::Auto, 128 << 20).unwrap(), opts())
        .await
        .unwrap();
    let id = sid(1);
    put(&e, header(id, 123_456, 64 << 10)).await.unwrap();
    let disk = e.disk_id();
    drop(e);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let q = d.path().join("renamed");
    std::fs::rename(&p, &q).unwrap();
    let e = Engine::open(device::open(&q, Backend::Auto, 0).unwrap(), opts())
        .await
        .unwrap();
    assert_eq!(e.disk_id(), disk);
    check(&e, &id).await;
    // Damage the primary superblock: the backup takes over.
    drop(e);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    {
        use std::os::unix::fs::FileExt;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&q)
            .unwrap()
            .write_all_at(&[0xff; 64], 0)
            .unwrap();
    }
    let e = Engine::open(device::open(&q, Backend::Auto, 0).unwrap(), opts())
        .await
        .unwrap();
    assert_eq!(e.disk_id(), disk);
    check(&e, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_raw_scan_reports_live_shards_and_damage() {
    let m = MemDevice::new(96 << 20);
    let e = Engine::open(Arc::new(m.clone()), opts()).await.unwrap();
    let (a, b, c) = (sid(1), sid(2), sid(3));
    put(&e, header(a, 3 << 20, 1 << 20)).await.unwrap();
    put(&e, header(b, 4000, 1 << 20)).await.unwrap();
    put(&e, header(c, 9000, 1 << 20)).await.unwrap();
    e.delete(&c).await.unwrap();
    let ea = e.entry(&a).unwrap();
    let eb = e.entry(&b).unwrap();
    // Corrupt a's data and b's header.
    m.corrupt(ea.offset + ea.header_len as u64 + 5, &[1, 2, 3]);
    m.corrupt(eb.offset + 40, &[9, 9, 9]);
    let r = objectio_engine::scan::scan(&m).await;
    assert_eq!(r.superblock, "primary");
    assert_eq!(r.disk_id, Some(e.disk_id()));
    let found: Vec<_> = r
        .shards
        .iter()
        .map(|s| (s.version_id, s.checksum.as_str()))
        .collect();
    assert_eq!(found, vec![(a.version_id, "corrupt")], "{r:?}");
    assert_eq!(r.shards[0].bucket, "bucket");
    assert_eq!(r.shards[0].object_size, 3 << 20);
    assert_eq!(r.shards[0].bad_chunks, vec![0]);
    assert!(
        r.damaged.iter().any(|d| d.offset == eb.offset),
        "{:?}",
        r.damaged
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_batch_durable_without_its_data_is_not_served() {
    // A write cache that kept the journal batch but lost the shard's data
    // when the power went before the flush completed.
    let m = MemDevice::new(96 << 20);
    let e = Engine::open(Arc::new(m.clone()), opts()).await.unwrap();
    let a = sid(1);
    put(&e, header(a, 300_000, 16 << 10)).await.unwrap();
    let sb = objectio_engine::engine::read_superblock(&m)
        .await
        .unwrap()
        .unwrap();
    m.set_volatile();
    m.fail_flushes();
    let b = sid(2);
    assert!(
        put(&e, header(b, 300_000, 16 << 10)).await.is_err(),
        "no flush, no acknowledgement"
    );
    drop(e);
    let journal = sb.journal_off..sb.journal_off + sb.journal_len;
    let img = m.image_with(|off, _| journal.contains(&off));
    let e = Engine::open(Arc::new(MemDevice::from_bytes(img)), opts())
        .await
        .unwrap();
    check(&e, &a).await;
    assert!(
        matches!(e.entry(&b), Err(Error::NotFound(_))),
        "a shard without its data is dropped"
    );
    assert_no_leak(&e, "after recovery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_idle_journal_is_checkpointed_periodically() {
    let m = MemDevice::new(96 << 20);
    let mut o = opts();
    o.checkpoint_interval = std::time::Duration::from_millis(200);
    let e = Engine::open(Arc::new(m.clone()), o.clone()).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..20 {
        let id = sid(i);
        put(&e, header(id, 9000, 4096)).await.unwrap();
        ids.push(id);
    }
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    drop(e);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let e = Engine::open(Arc::new(m.clone()), o).await.unwrap();
    let r = e.recovery();
    assert_eq!(
        r.replayed_batches, 0,
        "everything was in a checkpoint: {r:?}"
    );
    assert_eq!(r.checkpoint_entries, 20);
    for id in &ids {
        check(&e, id).await;
    }
}

/// A reader of [`Engine::usage`] during deletes never sees the bytes of a
/// shard that is already gone (the OSD publishes this snapshot; operators
/// and tests compare shards against bytes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_usage_snapshots_agree_with_the_index_during_deletes() {
    let e = Engine::open(Arc::new(MemDevice::new(256 << 20)), opts())
        .await
        .unwrap();
    let ids: Vec<ShardId> = (0..200).map(sid).collect();
    for id in &ids {
        put(&e, header(*id, 4 * (16 << 10), 16 << 10))
            .await
            .unwrap();
    }
    let ext = e.entry(&ids[0]).unwrap().extent_len;
    assert!(ids.iter().all(|id| e.entry(id).unwrap().extent_len == ext));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (e, done) = (e.clone(), done.clone());
        std::thread::spawn(move || {
            let mut seen = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let u = e.usage();
                assert_eq!(u.used, u.shards * ext, "snapshot {seen}: {u:?}");
                seen += 1;
            }
            seen
        })
    };
    let mut tasks = Vec::new();
    for id in ids {
        let e = e.clone();
        tasks.push(tokio::spawn(async move { e.delete(&id).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(watcher.join().unwrap() > 0);
    assert_eq!(e.usage().used, 0);
}

/// A bad sector under one chunk fails that chunk's read with an error (the
/// OSD reports it per chunk and the gateway decodes around it); the other
/// chunks, the header and other shards still read, and nothing panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_unreadable_sector_fails_only_its_chunk() {
    let m = MemDevice::new(96 << 20);
    let e = Engine::open(Arc::new(m.clone()), opts()).await.unwrap();
    let a = sid(1);
    let b = sid(2);
    put(&e, header(a, 100_000, 16 << 10)).await.unwrap();
    put(&e, header(b, 100_000, 16 << 10)).await.unwrap();
    let ent = e.entry(&a).unwrap();
    let chunk1 = ent.offset + ent.header_len as u64 + (16 << 10);
    m.fail_reads(chunk1 + 4096, 512);
    assert!(matches!(e.read_chunk(&ent, 1).await, Err(Error::Io { .. })));
    assert!(e.read_chunk(&ent, 0).await.unwrap().is_some());
    assert!(e.read_header(&ent).await.is_ok());
    check(&e, &b).await;
    // Deleting the damaged shard still works and frees its space.
    e.delete(&a).await.unwrap();
    assert_no_leak(&e, "after deleting the damaged shard");
}

/// A checkpoint written at a planned stop leaves nothing to replay: the
/// next start reads the checkpoint alone, and every shard is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_checkpoint_now_leaves_no_journal_to_replay() {
    let m = MemDevice::new(96 << 20);
    let e = Engine::open(Arc::new(m.clone()), opts()).await.unwrap();
    let ids: Vec<ShardId> = (0..50).map(sid).collect();
    for id in &ids {
        put(&e, header(*id, 5000, 16 << 10)).await.unwrap();
    }
    e.delete(&ids[0]).await.unwrap();
    e.checkpoint_now().await.unwrap();
    drop(e);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let e = Engine::open(Arc::new(m.clone()), opts()).await.unwrap();
    assert_eq!(e.recovery().replayed_batches, 0, "{:?}", e.recovery());
    assert!(matches!(e.entry(&ids[0]), Err(Error::NotFound(_))));
    for id in &ids[1..] {
        check(&e, id).await;
    }
    assert_no_leak(&e, "after a checkpointed restart");
    // Without one, the same restart replays the journal.
    put(&e, header(sid(99), 5000, 16 << 10)).await.unwrap();
    drop(e);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let e = Engine::open(Arc::new(m), opts()).await.unwrap();
    assert!(e.recovery().replayed_batches > 0);
}
