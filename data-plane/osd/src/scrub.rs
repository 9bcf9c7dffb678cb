//! Scrub: the OSD re-reads every chunk of every shard on its disks in the
//! background, throttled, and reports each shard whose chunks fail their
//! CRC32C (or cannot be read) to etcd (`damaged/`), where the repair
//! controller picks it up. A pass starts every `--scrub-interval-secs`
//! after the last (the first one that long after start), or at once when an
//! operator asks (`objectio-cli osd scrub ID`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use objectio_cluster::{DamagedShard, ScrubRequest, Store, now_millis, now_secs};
use objectio_engine::Engine;
use uuid::Uuid;

/// What the last pass of a disk found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskScrub {
    /// Seconds since the epoch when it finished (0: none yet).
    pub finished: u64,
    /// Shards found damaged.
    pub errors: u64,
}

/// Scrub results per disk, published with the disk records.
pub type Stats = Arc<Mutex<HashMap<Uuid, DiskScrub>>>;

/// Settings of the scrubber.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub every: Duration,
    /// Bytes read per second at most (0: no limit).
    pub max_bytes_per_sec: u64,
}

/// Runs passes until the task is dropped.
pub async fn run(
    store: Store,
    osd: String,
    disks: crate::server::Disks,
    stats: Stats,
    s: Settings,
) {
    let mut last = Instant::now();
    // A request made before this process started was for its predecessor.
    let mut served_request = requested(&store, &osd).await;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let asked = requested(&store, &osd).await;
        if asked <= served_request && last.elapsed() < s.every {
            continue;
        }
        served_request = served_request.max(asked);
        tracing::info!(osd = %osd, "scrub pass starting");
        for (id, e) in disks.all() {
            let errors = pass(&store, &osd, id, &e, s.max_bytes_per_sec).await;
            stats.lock().expect("scrub stats").insert(
                id,
                DiskScrub {
                    finished: now_secs(),
                    errors,
                },
            );
            tracing::info!(osd = %osd, disk = %id, damaged = errors, "scrub pass done");
        }
        last = Instant::now();
    }
}

/// When an operator last asked this OSD to scrub (ms; 0: never, or etcd
/// did not answer).
async fn requested(store: &Store, osd: &str) -> u64 {
    store
        .get::<ScrubRequest>(store.keys().scrub_request(osd))
        .await
        .ok()
        .flatten()
        .map(|(r, _)| r.requested_ms)
        .unwrap_or(0)
}

/// One pass over one disk; the number of damaged shards found.
async fn pass(store: &Store, osd: &str, disk: Uuid, e: &Engine, max_bytes_per_sec: u64) -> u64 {
    let began = Instant::now();
    let mut read = 0u64;
    let mut damaged = 0;
    for id in e.shard_ids() {
        // Deleted meanwhile: nothing to check.
        let Ok(entry) = e.entry(&id) else { continue };
        let stripes = entry.geometry().stripes();
        let mut bad: Option<String> = None;
        for j in 0..stripes {
            match e.read_chunk(&entry, j).await {
                Ok(Some(b)) => read += b.len() as u64,
                Ok(None) => {
                    bad = Some(format!("chunk {j} fails its checksum"));
                    break;
                }
                Err(objectio_engine::Error::NotFound(_)) => break,
                Err(err) => {
                    bad = Some(format!("chunk {j} unreadable: {err}"));
                    break;
                }
            }
            if max_bytes_per_sec > 0 {
                let due = Duration::from_secs_f64(read as f64 / max_bytes_per_sec as f64);
                if let Some(wait) = due.checked_sub(began.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
            }
        }
        // A shard deleted while it was read is not damaged.
        if let Some(reason) = bad
            && e.entry(&id).is_ok()
        {
            damaged += 1;
            tracing::warn!(%osd, %disk, shard = %id, %reason, "scrub found a damaged shard; repair will rebuild it");
            // The header names the object, so repair goes straight to it.
            let head = e.read_header(&entry).await.ok();
            let rec = DamagedShard {
                bucket: head.as_ref().map(|h| h.header.bucket.clone()),
                key: head.as_ref().map(|h| h.header.key.clone()),
                version: objectio_cluster::SCHEMA_VERSION,
                osd: osd.to_string(),
                disk,
                found_by: "scrub".into(),
                reason,
                reported_ms: now_millis(),
            };
            let key = store
                .keys()
                .damaged(&id.version_id, id.part, id.index as usize, &disk);
            if let Err(err) = store.put(key, &rec).await {
                tracing::error!(shard = %id, error = %err, "could not report a damaged shard");
            }
        }
    }
    damaged
}
