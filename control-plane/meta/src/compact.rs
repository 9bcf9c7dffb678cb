//! Compaction of etcd's history, run by the leader.
//!
//! etcd keeps every revision of every key until it is compacted; every PUT
//! writes an intent, a record and a delete, and every OSD publishes its
//! disks, so without compaction the database grows until etcd raises its
//! space alarm and refuses writes. Each period the leader compacts to the
//! revision it saw one period earlier, so a watcher (a gateway's key mirror)
//! always has a whole period of history to resume from, and never past a
//! revision a metadata export holds (`holds/`) while it reads.
//!
//! Compaction frees pages inside etcd's database file but does not shrink
//! it; defragmentation does. Each defragmentation period the leader asks
//! every member for its sizes and defragments, one member at a time and
//! the etcd leader last, each one with at least the configured number of
//! free bytes: a member being defragmented answers nothing else for the
//! while (seconds per GB), and the others keep the quorum.

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
            // Never past a revision an export still reads at.
            let old = match store.compaction_floor().await {
                Ok(Some(floor)) => old.min(floor),
                Ok(None) => old,
                Err(e) => {
                    tracing::warn!(error = %e, "reading compaction holds");
                    continue;
                }
            };
            match store.compact(old).await {
                Ok(()) => tracing::debug!(revision = old, "compacted etcd history"),
                Err(e) => tracing::warn!(revision = old, error = %e, "compacting etcd history"),
            }
        }
        seen = Some(now);
    }
}

/// Defragments, every `every` while this replica leads, each etcd member
/// with at least `min_reclaim` free bytes in its database, one at a time.
pub async fn defrag(
    store: Store,
    leader: crate::controllers::Leader,
    every: Duration,
    min_reclaim: u64,
) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    while leader.get() {
        tick.tick().await;
        if let Err(e) = defrag_pass(&store, &leader, min_reclaim).await {
            tracing::warn!(error = %e, "etcd defragmentation pass");
        }
    }
}

async fn defrag_pass(
    store: &Store,
    leader: &crate::controllers::Leader,
    min_reclaim: u64,
) -> objectio_cluster::Result<()> {
    let mut members = Vec::new();
    for m in store.etcd_members().await? {
        match store.member_status(&m.endpoint).await {
            Ok(s) => members.push((m, s)),
            Err(e) => tracing::warn!(member = %m.name, error = %e, "etcd member status"),
        }
    }
    // Followers first: the leader's pause is the one every write waits on.
    members.sort_by_key(|(m, s)| s.leader == m.id);
    for (m, s) in members {
        let free = s.db_size.saturating_sub(s.db_size_in_use);
        if free < min_reclaim || !leader.get() {
            continue;
        }
        let t = std::time::Instant::now();
        store.defragment_member(&m.endpoint).await?;
        let after = store.member_status(&m.endpoint).await?;
        tracing::info!(
            member = %m.name,
            before = %objectio_api::iec(s.db_size),
            after = %objectio_api::iec(after.db_size),
            ms = t.elapsed().as_millis() as u64,
            "defragmented etcd member"
        );
    }
    Ok(())
}
