//! Compaction of etcd's history, run by the leader.
//!
//! etcd keeps every revision of every key until it is compacted; every PUT
//! writes an intent, a record and a delete, and every OSD publishes its
//! disks, so without compaction the database grows until etcd raises its
//! space alarm and refuses writes. Each period the leader compacts to the
//! revision it saw one period earlier, so a watcher (a gateway's key mirror)
//! always has a whole period of history to resume from.

use std::time::Duration;

use objectio_cluster::Store;

/// Compacts every `every` while this replica leads.
pub async fn lead(store: Store, leader: crate::controllers::Leader, every: Duration) {
    let mut seen: Option<i64> = None;
    let mut tick = tokio::time::interval(every);
    while leader.get() {
        tick.tick().await;
        let now = match store.revision().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "reading the etcd revision for compaction");
                continue;
            }
        };
        if let Some(old) = seen {
            match store.compact(old).await {
                Ok(()) => tracing::debug!(revision = old, "compacted etcd history"),
                Err(e) => tracing::warn!(revision = old, error = %e, "compacting etcd history"),
            }
        }
        seen = Some(now);
    }
}
