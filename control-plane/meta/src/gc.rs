//! The GC controller (runs on the leader only): deletes the shards of
//! overwritten and deleted versions queued in `gc/`, and the shards named
//! by intents whose gateway died (or restarted) before committing. It is
//! idempotent: a shard already gone counts as deleted, and a record whose
//! shards sit on a down OSD stays queued until the OSD is back.

use std::collections::HashMap;
use std::time::Duration;

use etcd_client::{Compare, CompareOp, Txn, TxnOp};
use objectio_cluster::store::encode;
use objectio_cluster::{
    GatewayAlive, GcRecord, IntentRecord, OsdAlive, OsdRecord, ShardLocation, Store,
};
use objectio_shard::proto::ErrorCode;
use objectio_shard::{ShardClient, ShardId};
use uuid::Uuid;

/// Progress of one pass.
#[derive(Debug, Default, Clone, Copy)]
pub struct Pass {
    pub shards_deleted: u64,
    pub records_done: u64,
    pub records_waiting: u64,
}

/// Deletes what it can of `shards`; returns the ones left (OSD down or
/// failing).
async fn delete_shards(
    client: &ShardClient,
    addrs: &HashMap<String, String>,
    version_id: Uuid,
    shards: &[Option<ShardLocation>],
    pass: &mut Pass,
) -> Vec<Option<ShardLocation>> {
    let mut left = shards.to_vec();
    for (i, loc) in shards.iter().enumerate() {
        let Some(loc) = loc else { continue };
        let Some(addr) = addrs.get(&loc.osd) else {
            continue;
        };
        let id = ShardId {
            version_id,
            part: 0,
            index: i as u8,
        };
        match client.delete(addr, loc.disk, id).await {
            Ok(()) => {
                pass.shards_deleted += 1;
                left[i] = None;
            }
            Err(e) if e.code() == Some(ErrorCode::NotFound) => left[i] = None,
            Err(e) => {
                tracing::warn!(shard = %id, osd = %loc.osd, error = %e, "GC could not delete a shard; will retry")
            }
        }
    }
    left
}

/// Removes `key` if it still has `rev`, or rewrites it with what is left.
async fn settle<T: serde::Serialize>(
    store: &Store,
    key: &str,
    rev: i64,
    left: Option<&T>,
) -> objectio_cluster::Result<()> {
    let op = match left {
        None => TxnOp::delete(key, None),
        Some(rec) => TxnOp::put(key, encode(rec), None),
    };
    let txn = Txn::new()
        .when([Compare::mod_revision(key, CompareOp::Equal, rev)])
        .and_then([op]);
    store.kv().txn(txn).await?;
    Ok(())
}

/// One GC pass over `gc/` and orphaned `intents/`.
pub async fn pass(store: &Store, client: &ShardClient) -> objectio_cluster::Result<Pass> {
    let k = store.keys();
    let mut p = Pass::default();
    let alive: HashMap<String, OsdAlive> = store
        .list::<OsdAliveRec>(k.osd_alive_prefix())
        .await?
        .into_iter()
        .filter_map(|(key, v)| {
            let id = String::from_utf8(key)
                .ok()?
                .strip_prefix(&k.osd_alive_prefix())?
                .to_string();
            Some((id, v.0))
        })
        .collect();
    let osds = store.list::<OsdRecord>(k.osds_prefix()).await?;
    let addrs: HashMap<String, String> = osds
        .into_iter()
        .filter(|(_, o)| alive.contains_key(&o.id))
        .map(|(_, o)| (o.id, o.address))
        .collect();

    let kv = store.kv();
    let gc = kv
        .clone()
        .get(
            k.gc_prefix(),
            Some(
                etcd_client::GetOptions::new()
                    .with_prefix()
                    .with_limit(1000),
            ),
        )
        .await?;
    for item in gc.kvs() {
        let key = item.key_str().unwrap_or_default().to_string();
        let rec: GcRecord = objectio_cluster::store::decode(item.key(), item.value())?;
        let left = delete_shards(client, &addrs, rec.version_id, &rec.shards, &mut p).await;
        if left.iter().all(Option::is_none) {
            settle::<GcRecord>(store, &key, item.mod_revision(), None).await?;
            p.records_done += 1;
        } else {
            let rest = GcRecord {
                shards: left,
                ..rec
            };
            settle(store, &key, item.mod_revision(), Some(&rest)).await?;
            p.records_waiting += 1;
        }
    }

    // Intents of gateways that are gone, or that restarted since.
    let gateways: HashMap<String, GatewayAlive> = store
        .list::<GatewayAliveRec>(k.gateway_alive_prefix())
        .await?
        .into_iter()
        .filter_map(|(key, v)| {
            let id = String::from_utf8(key)
                .ok()?
                .strip_prefix(&k.gateway_alive_prefix())?
                .to_string();
            Some((id, v.0))
        })
        .collect();
    let intents = kv
        .clone()
        .get(
            k.intents_prefix(),
            Some(
                etcd_client::GetOptions::new()
                    .with_prefix()
                    .with_limit(1000),
            ),
        )
        .await?;
    for item in intents.kvs() {
        let rec: IntentRecord = objectio_cluster::store::decode(item.key(), item.value())?;
        let orphan = match gateways.get(&rec.gateway) {
            None => true,
            Some(g) => g.started > rec.created,
        };
        if !orphan {
            continue;
        }
        let key = item.key_str().unwrap_or_default().to_string();
        let left = delete_shards(client, &addrs, rec.version_id, &rec.shards, &mut p).await;
        if left.iter().all(Option::is_none) {
            settle::<IntentRecord>(store, &key, item.mod_revision(), None).await?;
            p.records_done += 1;
        } else {
            let rest = IntentRecord {
                shards: left,
                ..rec
            };
            settle(store, &key, item.mod_revision(), Some(&rest)).await?;
            p.records_waiting += 1;
        }
    }
    Ok(p)
}

/// Liveness values carry no schema version; wrap them for `Store::list`.
#[derive(serde::Deserialize)]
#[serde(transparent)]
struct OsdAliveRec(OsdAlive);
impl objectio_cluster::Versioned for OsdAliveRec {
    fn schema_version(&self) -> u32 {
        objectio_cluster::SCHEMA_VERSION
    }
}

#[derive(serde::Deserialize)]
#[serde(transparent)]
struct GatewayAliveRec(GatewayAlive);
impl objectio_cluster::Versioned for GatewayAliveRec {
    fn schema_version(&self) -> u32 {
        objectio_cluster::SCHEMA_VERSION
    }
}

/// Runs GC passes every `interval` while this replica leads.
pub async fn run(
    store: Store,
    client: ShardClient,
    leader: std::sync::Arc<std::sync::atomic::AtomicBool>,
    interval: Duration,
) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        if !leader.load(std::sync::atomic::Ordering::Relaxed) {
            continue;
        }
        match pass(&store, &client).await {
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
