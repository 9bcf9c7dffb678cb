//! Failpoints at the crash-relevant points of the engine (build with
//! `--features failpoints`). Its own test binary: failpoints are global to
//! the process.
#![cfg(feature = "failpoints")]

mod common;

use std::sync::Arc;

use common::*;
use objectio_engine::Engine;
use objectio_engine::device::memory::MemDevice;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_failpoints_at_crash_relevant_points() {
    let scenario = fail::FailScenario::setup();
    for point in [
        "engine::put::after_chunk",
        "engine::put::after_header",
        "engine::journal::before_write",
        "engine::journal::after_write",
    ] {
        let m = MemDevice::new(96 << 20);
        let e = Engine::open(Arc::new(m.clone()), opts()).await.unwrap();
        let keep = sid(1);
        put(&e, header(keep, 100_000, 16 << 10)).await.unwrap();
        fail::cfg(point, "return").unwrap();
        let lost = sid(2);
        let r = put(&e, header(lost, 100_000, 16 << 10)).await;
        fail::remove(point);
        assert!(r.is_err(), "{point}: put should fail");
        // "Crash" now: reopen the image as it is.
        drop(e);
        let e = Engine::open(Arc::new(MemDevice::from_bytes(m.snapshot())), opts())
            .await
            .unwrap();
        check(&e, &keep).await;
        // An unacknowledged shard is absent or whole, never torn.
        if e.entry(&lost).is_ok() {
            assert_eq!(
                point, "engine::journal::after_write",
                "{point}: shard committed"
            );
            check(&e, &lost).await;
        }
        assert_no_leak(&e, point);
    }
    // A checkpoint that dies before its header: the older one still rules.
    let m = MemDevice::new(96 << 20);
    let e = Engine::open(Arc::new(m.clone()), opts()).await.unwrap();
    let gen_before = e.recovery().checkpoint_generation;
    fail::cfg("engine::checkpoint::before_header", "return").unwrap();
    let mut ids = Vec::new();
    for i in 0..1500u32 {
        let id = sid(i);
        put(&e, header(id, 100, 4096)).await.unwrap();
        ids.push(id);
    }
    // The failpoint is hit: a checkpoint asked for now fails at it.
    let r = e.checkpoint_now().await;
    assert!(
        matches!(
            r,
            Err(objectio_engine::Error::Injected(
                "engine::checkpoint::before_header"
            ))
        ),
        "the checkpoint failpoint did not fire: {r:?}"
    );
    fail::remove("engine::checkpoint::before_header");
    drop(e);
    let e = Engine::open(Arc::new(MemDevice::from_bytes(m.snapshot())), opts())
        .await
        .unwrap();
    // No checkpoint landed: the older generation rules and the journal
    // replays every put.
    let rec = e.recovery();
    assert_eq!(rec.checkpoint_generation, gen_before, "{rec:?}");
    assert!(rec.replayed_records >= 1500, "{rec:?}");
    for id in &ids {
        check(&e, id).await;
    }
    scenario.teardown();
}
