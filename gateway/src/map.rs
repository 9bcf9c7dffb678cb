//! The gateway's view of the cluster map: OSDs, their liveness and disks,
//! refreshed from etcd in the background.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use objectio_cluster::placement::Candidate;
use objectio_cluster::{DiskRecord, DiskState, OsdRecord, Store};
use uuid::Uuid;

/// One snapshot of the map.
#[derive(Default, Clone)]
pub struct Snapshot {
    pub osds: HashMap<String, OsdRecord>,
    pub alive: HashSet<String>,
    pub disks: HashMap<Uuid, DiskRecord>,
}

impl Snapshot {
    /// Disks that may take new shards: OSD alive, disk in, not full.
    pub fn candidates(&self) -> Vec<Candidate> {
        self.disks
            .values()
            .filter(|d| d.state == DiskState::In && self.alive.contains(&d.osd))
            .filter(|d| d.used_bytes + (64 << 20) < d.capacity_bytes)
            .filter_map(|d| {
                let osd = self.osds.get(&d.osd)?;
                Some(Candidate {
                    disk: d.id,
                    osd: d.osd.clone(),
                    domain: osd.failure_domain.clone(),
                    weight: d.weight,
                })
            })
            .collect()
    }

    /// The shard-protocol address of an OSD believed alive.
    pub fn address(&self, osd: &str) -> Option<String> {
        if !self.alive.contains(osd) {
            return None;
        }
        self.osds.get(osd).map(|o| o.address.clone())
    }
}

/// The shared, refreshed map.
#[derive(Clone)]
pub struct ClusterMap {
    snap: Arc<RwLock<Arc<Snapshot>>>,
    store: Store,
    refreshed: Arc<std::sync::Mutex<std::time::Instant>>,
}

impl ClusterMap {
    /// Loads the map once, then refreshes it every `period` in the background.
    pub async fn start(store: Store, period: Duration) -> objectio_cluster::Result<Self> {
        let map = Self {
            snap: Arc::new(RwLock::new(Arc::new(Snapshot::default()))),
            store,
            refreshed: Arc::new(std::sync::Mutex::new(std::time::Instant::now())),
        };
        map.refresh().await?;
        let m = map.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                if let Err(e) = m.refresh().await {
                    tracing::warn!(error = %e, "cluster map refresh failed");
                }
            }
        });
        Ok(map)
    }

    /// Reads the map from etcd now.
    pub async fn refresh(&self) -> objectio_cluster::Result<()> {
        let k = self.store.keys();
        let osds = self.store.list::<OsdRecord>(k.osds_prefix()).await?;
        let disks = self.store.list::<DiskRecord>(k.disks_prefix()).await?;
        let alive = self
            .store
            .alive::<serde_json::Value>("osds")
            .await?
            .into_keys()
            .collect();
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
        if self.refreshed.lock().expect("map lock").elapsed() < age {
            return Ok(());
        }
        self.refresh().await
    }

    /// The current snapshot.
    pub fn get(&self) -> Arc<Snapshot> {
        self.snap.read().expect("map lock").clone()
    }
}
