//! The gateway's view of the cluster map: OSDs, their liveness and disks.
//!
//! Built from live copies of the three prefixes ([`Mirror`]s), rebuilt the
//! moment any of them changes (an OSD's lease expiring shows at once);
//! while a copy cannot be trusted the map is read from etcd every period.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use objectio_cluster::mirror::Mirror;
use objectio_cluster::placement::Candidate;
use objectio_cluster::store::decode;
use objectio_cluster::{DiskRecord, DiskState, OsdRecord, OsdService, Store};
use uuid::Uuid;

/// One snapshot of the map.
#[derive(Default, Clone)]
pub struct Snapshot {
    pub osds: HashMap<String, OsdRecord>,
    pub alive: HashSet<String>,
    pub disks: HashMap<Uuid, DiskRecord>,
}

impl Snapshot {
    /// Disks that may take new shards: OSD in service (not new, draining
    /// or removed), alive and serving the disk now (a replaced disk's
    /// record outlives it), disk in, not full.
    pub fn candidates(&self) -> Vec<Candidate> {
        self.in_service()
            .into_iter()
            .filter(|c| self.alive.contains(&c.osd) && self.has_room(&c.disk))
            .collect()
    }

    /// The disks in service, up or not, full or not: what a preferred
    /// placement (a rebalance's) is computed over. Each disk's weight is
    /// its capacity's, or its share of the OSD's weight when an operator
    /// set one.
    pub fn in_service(&self) -> Vec<Candidate> {
        self.disks
            .values()
            .filter(|d| d.state == DiskState::In)
            .filter_map(|d| {
                let osd = self.osds.get(&d.osd)?;
                if osd.state != OsdService::Active || !osd.disks.contains(&d.id) {
                    return None;
                }
                let weight = match osd.weight {
                    None => d.weight,
                    Some(w) => {
                        let total: f64 = osd
                            .disks
                            .iter()
                            .filter_map(|x| self.disks.get(x))
                            .map(|x| x.weight)
                            .sum();
                        w * d.weight / total.max(1e-9)
                    }
                };
                Some(Candidate {
                    disk: d.id,
                    osd: d.osd.clone(),
                    domain: osd.failure_domain.clone(),
                    weight,
                })
            })
            .collect()
    }

    /// Whether a disk has room for another shard.
    pub fn has_room(&self, disk: &Uuid) -> bool {
        self.disks
            .get(disk)
            .is_some_and(|d| d.used_bytes + (64 << 20) < d.capacity_bytes)
    }

    /// Whether a shard can be read now: its OSD is alive, not removed, and
    /// still serves its disk (a replaced disk's record outlives it).
    pub fn is_reachable(&self, loc: &objectio_cluster::ShardLocation) -> bool {
        self.alive.contains(&loc.osd)
            && self
                .osds
                .get(&loc.osd)
                .is_some_and(|o| o.state != OsdService::Removed && o.disks.contains(&loc.disk))
    }

    /// The shard-protocol address of an OSD believed alive.
    pub fn address(&self, osd: &str) -> Option<String> {
        if !self.alive.contains(osd) {
            return None;
        }
        self.osds
            .get(osd)
            .filter(|o| o.state != OsdService::Removed)
            .map(|o| o.address.clone())
    }
}

/// The shared, refreshed map.
#[derive(Clone)]
pub struct ClusterMap {
    snap: Arc<RwLock<Arc<Snapshot>>>,
    store: Store,
    refreshed: Arc<std::sync::Mutex<std::time::Instant>>,
    mirrors: Arc<[Mirror; 3]>,
}

impl ClusterMap {
    /// Loads the map once, then keeps it current in the background: on
    /// every change of the mirrored records, and every `period` anyway.
    pub async fn start(store: Store, period: Duration) -> objectio_cluster::Result<Self> {
        let k = store.keys();
        let mirrors = Arc::new([
            Mirror::start(&store, k.osds_prefix()),
            Mirror::start(&store, k.disks_prefix()),
            Mirror::start(&store, k.alive_prefix("osds")),
        ]);
        let map = Self {
            snap: Arc::new(RwLock::new(Arc::new(Snapshot::default()))),
            store,
            refreshed: Arc::new(std::sync::Mutex::new(std::time::Instant::now())),
            mirrors,
        };
        map.refresh().await?;
        let m = map.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            let [mut a, mut b, mut c] = [0, 1, 2].map(|i| m.mirrors[i].changes());
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    Ok(()) = a.changed() => {}
                    Ok(()) = b.changed() => {}
                    Ok(()) = c.changed() => {}
                }
                if let Err(e) = m.refresh().await {
                    tracing::warn!(error = %e, "cluster map refresh failed");
                }
            }
        });
        Ok(map)
    }

    /// The map from the mirrors, when all three are current.
    fn mirrored(&self) -> Option<Snapshot> {
        let [osds, disks, alive] = [0, 1, 2].map(|i| self.mirrors[i].snapshot());
        let (osds, disks, alive) = (osds?, disks?, alive?);
        let prefix = self.store.keys().alive_prefix("osds");
        Some(Snapshot {
            osds: osds
                .iter()
                .filter_map(|(k, v)| decode::<OsdRecord>(k, v).ok())
                .map(|o| (o.id.clone(), o))
                .collect(),
            alive: alive
                .iter()
                .filter_map(|(k, _)| {
                    Some(
                        std::str::from_utf8(k)
                            .ok()?
                            .strip_prefix(&prefix)?
                            .to_string(),
                    )
                })
                .collect(),
            disks: disks
                .iter()
                .filter_map(|(k, v)| decode::<DiskRecord>(k, v).ok())
                .map(|d| (d.id, d))
                .collect(),
        })
    }

    /// Rebuilds the map: from the mirrors when they are current, else from
    /// etcd.
    pub async fn refresh(&self) -> objectio_cluster::Result<()> {
        if let Some(snap) = self.mirrored() {
            self.store.directory().learn(snap.disks.values());
            *self.snap.write().expect("map lock") = Arc::new(snap);
            *self.refreshed.lock().expect("map lock") = std::time::Instant::now();
            return Ok(());
        }
        let k = self.store.keys();
        let osds = self.store.list::<OsdRecord>(k.osds_prefix()).await?;
        let disks = self.store.list::<DiskRecord>(k.disks_prefix()).await?;
        let alive = self
            .store
            .alive::<serde_json::Value>("osds")
            .await?
            .into_keys()
            .collect();
        self.store.directory().learn(disks.iter().map(|(_, d)| d));
        let snap = Snapshot {
            osds: osds.into_iter().map(|(_, o)| (o.id.clone(), o)).collect(),
            alive,
            disks: disks.into_iter().map(|(_, d)| (d.id, d)).collect(),
        };
        *self.snap.write().expect("map lock") = Arc::new(snap);
        *self.refreshed.lock().expect("map lock") = std::time::Instant::now();
        Ok(())
    }

    /// Reads the map again unless it was read within `age` (so a burst of
    /// requests that find it lacking costs one read, not one each).
    pub async fn refresh_if_older(&self, age: Duration) -> objectio_cluster::Result<()> {
        // With current mirrors the rebuild is in memory: do it now, so a
        // change the background task has not applied yet is seen.
        if !self.mirrors.iter().all(Mirror::is_synced)
            && self.refreshed.lock().expect("map lock").elapsed() < age
        {
            return Ok(());
        }
        self.refresh().await
    }

    /// The current snapshot.
    pub fn get(&self) -> Arc<Snapshot> {
        self.snap.read().expect("map lock").clone()
    }
}
