//! Failure detection: an OSD without a live lease is `down`; once it has
//! been down for `down_out_interval` (counted by the leader from when it
//! first saw it down), its disks are marked `out` so that repair rebuilds
//! their shards elsewhere. An OSD that comes back has the disks this
//! controller marked out marked `in` again (an operator's `out` stays).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use objectio_cluster::{DiskRecord, DiskState, OsdRecord, Store};

use super::Leader;

/// Sets a disk's state (compare-and-swap on its record); whether it changed.
pub async fn set_disk_state(
    store: &Store,
    disk: &uuid::Uuid,
    state: DiskState,
    auto: bool,
) -> objectio_cluster::Result<bool> {
    let changed = store
        .update::<DiskRecord, objectio_cluster::Error>(store.keys().disk(disk), |prev| {
            let Some(mut rec) = prev else {
                return Ok(None);
            };
            if rec.state == state && rec.auto_out == (auto && state == DiskState::Out) {
                return Ok(None);
            }
            rec.state = state;
            rec.auto_out = auto && state == DiskState::Out;
            Ok(Some(rec))
        })
        .await?;
    Ok(changed.is_some())
}

/// One look at the OSDs; `down_since` is the leader's memory of when each
/// was first seen down.
pub async fn step(
    store: &Store,
    down_out: Duration,
    down_since: &mut HashMap<String, Instant>,
) -> objectio_cluster::Result<()> {
    let k = store.keys();
    let osds = store.list::<OsdRecord>(k.osds_prefix()).await?;
    let alive = store.alive::<serde_json::Value>("osds").await?;
    let disks = store.list::<DiskRecord>(k.disks_prefix()).await?;
    for (_, o) in &osds {
        let mine = disks.iter().filter(|(_, d)| d.osd == o.id);
        if alive.contains_key(&o.id) {
            down_since.remove(&o.id);
            for (_, d) in mine.filter(|(_, d)| d.auto_out) {
                if set_disk_state(store, &d.id, DiskState::In, false).await? {
                    tracing::info!(osd = %o.id, disk = %d.id, "OSD is back: its disk is in again");
                }
            }
            continue;
        }
        let since = *down_since.entry(o.id.clone()).or_insert_with(Instant::now);
        if since.elapsed() < down_out {
            continue;
        }
        for (_, d) in mine.filter(|(_, d)| d.state == DiskState::In) {
            if set_disk_state(store, &d.id, DiskState::Out, true).await? {
                tracing::warn!(
                    osd = %o.id,
                    disk = %d.id,
                    down_secs = since.elapsed().as_secs(),
                    "OSD down longer than down-out-interval: its disk is out; repair rebuilds its shards elsewhere"
                );
            }
        }
    }
    down_since.retain(|id, _| osds.iter().any(|(_, o)| o.id == *id));
    Ok(())
}

/// Runs [`step`] every second (or `down_out / 4` when shorter) while this
/// replica leads. A new term counts afresh: it cannot know for how long an
/// OSD was down before it led.
pub async fn lead(store: Store, leader: Leader, down_out: Duration) {
    let every = (down_out / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let mut down_since = HashMap::new();
    while leader.get() {
        if let Err(e) = step(&store, down_out, &mut down_since).await {
            tracing::warn!(error = %e, "health controller pass failed; retrying");
        }
        tokio::time::sleep(every).await;
    }
}
