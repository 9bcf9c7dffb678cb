//! The GC controller (runs on the leader only): deletes the shards of
//! overwritten and deleted versions queued in `gc/`, and the shards named
//! by intents whose gateway died (or restarted) before committing (each
//! such intent first becomes a `gc/` record in a transaction comparing it,
//! so a late commit, which compares the intent too, cannot go live). It is
//! idempotent: a shard already gone counts as deleted, and a record whose
//! shards sit on a down OSD stays queued until the OSD is back.

use std::collections::HashMap;
use std::time::Duration;

use objectio_cluster::store::decode;
use objectio_cluster::{AliveStamp, GcRecord, IntentRecord, OsdRecord, Segment, Store};
use objectio_object::index::Index;
use objectio_shard::proto::ErrorCode;
use objectio_shard::{ShardClient, ShardId};

/// Age after which an intent is reclaimed even if its gateway is alive.
pub const INTENT_MAX_AGE_SECS: u64 = 24 * 3600;

/// Progress of one pass.
#[derive(Debug, Default, Clone, Copy)]
pub struct Pass {
    pub shards_deleted: u64,
    pub records_done: u64,
    pub records_waiting: u64,
}

/// Deletes what it can of a segment's shards; returns the segment with the
/// ones left (OSD down or failing).
async fn delete_shards(
    client: &ShardClient,
    addrs: &HashMap<String, String>,
    removed: &std::collections::HashSet<String>,
    seg: &Segment,
    pass: &mut Pass,
) -> Segment {
    let mut left = seg.clone();
    for (i, loc) in seg.shards.iter().enumerate() {
        let Some(loc) = loc else { continue };
        if removed.contains(&loc.osd) {
            // Its OSD left the cluster with its disks: nothing to delete.
            left.shards[i] = None;
            continue;
        }
        let Some(addr) = addrs.get(&loc.osd) else {
            continue;
        };
        let id = ShardId {
            version_id: seg.version_id,
            part: seg.part,
            index: i as u8,
        };
        match client.delete(addr, loc.disk, id).await {
            Ok(()) => {
                pass.shards_deleted += 1;
                left.shards[i] = None;
            }
            Err(e) if e.code() == Some(ErrorCode::NotFound) => left.shards[i] = None,
            Err(e) => {
                tracing::warn!(shard = %id, osd = %loc.osd, error = %e, "GC could not delete a shard; will retry")
            }
        }
    }
    left
}

/// Where the shards to delete are, and how to talk to them.
struct Ctx<'a> {
    index: Index,
    client: &'a ShardClient,
    /// Addresses of the OSDs that are up.
    addrs: HashMap<String, String>,
    /// OSDs removed from the cluster (`osd remove`).
    removed: std::collections::HashSet<String>,
}

impl Ctx<'_> {
    /// Deletes a GC record's shards; drops the record when none is left,
    /// else keeps it with the ones still to delete. Either only if the
    /// record still has `rev`.
    async fn reclaim(
        &self,
        key: &[u8],
        rev: i64,
        rec: GcRecord,
        p: &mut Pass,
    ) -> objectio_cluster::Result<()> {
        let mut left = Vec::new();
        // Damage reports of the shards deleted go with them.
        let mut deleted = Vec::new();
        for seg in &rec.segments {
            let rest = delete_shards(self.client, &self.addrs, &self.removed, seg, p).await;
            for (i, (was, now)) in seg.shards.iter().zip(&rest.shards).enumerate() {
                if let (Some(l), None) = (was, now) {
                    deleted.push((seg.version_id, seg.part, i, l.disk));
                }
            }
            if rest.shards.iter().any(Option::is_some) {
                left.push(rest);
            }
        }
        if left.is_empty() {
            p.records_done += 1;
        } else {
            p.records_waiting += 1;
        }
        self.index.gc_progress(key, rev, rec, left, deleted).await?;
        Ok(())
    }
}

/// One GC pass over `gc/` and orphaned `intents/` (at most 1000 of each).
/// Versions that were readable wait `grace` after being queued.
pub async fn pass(
    store: &Store,
    client: &ShardClient,
    grace: Duration,
) -> objectio_cluster::Result<Pass> {
    let k = store.keys();
    let mut p = Pass::default();
    let up = store.alive::<serde_json::Value>("osds").await?;
    let osds = store.list::<OsdRecord>(k.osds_prefix()).await?;
    let removed = osds
        .iter()
        .filter(|(_, o)| o.state == objectio_cluster::OsdService::Removed)
        .map(|(_, o)| o.id.clone())
        .collect();
    let addrs = osds
        .into_iter()
        .filter(|(_, o)| up.contains_key(&o.id) && o.state != objectio_cluster::OsdService::Removed)
        .map(|(_, o)| (o.id, o.address))
        .collect();
    let ctx = Ctx {
        index: Index::etcd(store.clone()),
        client,
        addrs,
        removed,
    };
    let page = || {
        Some(
            etcd_client::GetOptions::new()
                .with_prefix()
                .with_limit(1000),
        )
    };

    // Intents of gateways that are gone, or that restarted since, become
    // GC records first, in one transaction that compares the intent: a
    // commit that lands afterwards (its answer lost, its gateway dead)
    // finds the intent gone and fails, so no live object ever loses its
    // shards; a commit that landed before removed the intent, and it is
    // left alone here.
    let writers = [
        store.alive::<AliveStamp>("gateways").await?,
        store.alive::<AliveStamp>("metas").await?,
    ];
    let intents = store.kv().get(k.intents_prefix(), page()).await?;
    for item in intents.kvs() {
        let rec: IntentRecord = decode(item.key(), item.value())?;
        // A live gateway's intent can still be orphaned: the PUT may have
        // failed at a moment it could not even record that (etcd away).
        // No single PUT streams for a day.
        let stale = objectio_cluster::now_secs().saturating_sub(rec.created) > INTENT_MAX_AGE_SECS;
        let orphan = stale
            || match writers[(rec.writer == objectio_cluster::Writer::Meta) as usize]
                .get(&rec.gateway)
            {
                None => true,
                // Another process under the same id: by incarnation
                // (intents of older builds: by start time, in seconds).
                Some(g) => g
                    .as_ref()
                    .is_none_or(|g| match (g.incarnation, rec.incarnation) {
                        (Some(now), Some(wrote)) => now != wrote,
                        _ => g.started > rec.created,
                    }),
            };
        if !orphan {
            continue;
        }
        ctx.index
            .reclaim_intent(item.key(), item.mod_revision(), rec.segment.clone())
            .await?;
    }

    let gc = store.kv().get(k.gc_prefix(), page()).await?;
    for item in gc.kvs() {
        let rec: GcRecord = decode(item.key(), item.value())?;
        if rec.was_live && objectio_cluster::now_secs().saturating_sub(rec.queued) < grace.as_secs()
        {
            // A GET that began before the overwrite or delete may still
            // be streaming these shards.
            continue;
        }
        ctx.reclaim(item.key(), item.mod_revision(), rec, &mut p)
            .await?;
    }

    Ok(p)
}

/// Runs GC passes every `interval` while this replica leads.
pub async fn lead(
    store: Store,
    client: ShardClient,
    leader: super::Leader,
    interval: Duration,
    grace: Duration,
) {
    let mut tick = tokio::time::interval(interval);
    while leader.get() {
        tick.tick().await;
        match pass(&store, &client, grace).await {
            Ok(p) if p.shards_deleted > 0 || p.records_waiting > 0 => {
                tracing::info!(
                    deleted = p.shards_deleted,
                    done = p.records_done,
                    waiting = p.records_waiting,
                    "GC pass"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "GC pass failed"),
        }
    }
}
