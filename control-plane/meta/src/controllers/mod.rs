//! Background controllers, under one leader-gated loop ([`run`]): while
//! this replica leads, each runs as a task stepping until leadership ends;
//! it then finishes the step under way (no work is cut in half: a repair
//! commits or gives up its intent) and returns. Each is idempotent and keeps
//! what must survive a leader change in etcd:
//!
//! - [`health`]: an OSD down longer than `down_out_interval` has its disks
//!   marked `out` (and `in` again when it returns);
//! - [`repair`]: rebuilds lost shards (on out, replaced or missing disks, or
//!   never written) onto disks in service, resumable from its cursor in
//!   `jobs/repair`;
//! - [`gc`]: deletes queued and orphaned shards;
//! - [`lifecycle`]: runs buckets' lifecycle rules;
//! - [`crate::compact`]: compacts etcd's history.

pub mod gc;
pub mod health;
pub mod lifecycle;
pub mod repair;

use std::sync::Arc;
use std::time::Duration;

use objectio_cluster::Store;
use objectio_shard::ShardClient;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether this replica leads now.
#[derive(Clone)]
pub struct Leader(pub Arc<AtomicBool>);

impl Leader {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// What the controllers are set to.
#[derive(Clone, Debug)]
pub struct Settings {
    pub down_out: Duration,
    pub repair: repair::Throttle,
    pub gc_interval: Duration,
    pub gc_grace: Duration,
    pub compact_every: Duration,
    pub defrag_every: Duration,
    pub defrag_min_reclaim: u64,
    pub lifecycle_every: Duration,
    pub lifecycle_day: Duration,
    /// Periodic etcd snapshots (none: off).
    pub snapshots: Option<crate::snapshot::Snapshots>,
    pub snapshot_every: Duration,
}

impl Leader {
    async fn wait_for(&self, leading: bool) {
        while self.get() != leading {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The one leader-gated loop: every controller runs while this replica
/// leads, and starts afresh each time it leads again.
pub async fn run(
    store: Store,
    objects: objectio_object::Objects,
    client: ShardClient,
    leader: Leader,
    s: Settings,
) {
    loop {
        leader.wait_for(true).await;
        tracing::info!("leading: controllers started");
        let mut set = tokio::task::JoinSet::new();
        set.spawn(health::lead(store.clone(), leader.clone(), s.down_out));
        set.spawn(repair::lead(
            store.clone(),
            objects.clone(),
            leader.clone(),
            s.repair,
        ));
        set.spawn(gc::lead(
            store.clone(),
            client.clone(),
            leader.clone(),
            s.gc_interval,
            s.gc_grace,
        ));
        set.spawn(lifecycle::lead(
            store.clone(),
            objects.clone(),
            leader.clone(),
            s.lifecycle_every,
            s.lifecycle_day,
        ));
        set.spawn(crate::compact::lead(
            store.clone(),
            leader.clone(),
            s.compact_every,
        ));
        set.spawn(crate::compact::defrag(
            store.clone(),
            leader.clone(),
            s.defrag_every,
            s.defrag_min_reclaim,
        ));
        if let Some(snaps) = &s.snapshots {
            set.spawn(crate::snapshot::lead(
                store.clone(),
                leader.clone(),
                snaps.clone(),
                s.snapshot_every,
            ));
        }
        while let Some(r) = set.join_next().await {
            if let Err(e) = r {
                tracing::error!(error = %e, "a controller task failed");
            }
        }
        tracing::info!("no longer leading: controllers stopped");
    }
}
