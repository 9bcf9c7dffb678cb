//! The repair controller: passes over the object index that rebuild every
//! lost shard ([`objectio_object::Objects::repair`]) so that redundancy comes
//! back without anyone asking (a disk marked out by the health controller,
//! a replaced disk, a PUT written at the write quorum).
//!
//! Progress lives in etcd (`jobs/repair`): the cursor advances after each
//! page, so a new leader continues where the old one stopped. A pass starts
//! every `--repair-interval-ms` while the last one found work, throttled to
//! `--repair-max-mibs` of rebuilt data per second. An object that cannot be
//! repaired now goes on the pass's skip list with the reason and the pass
//! goes on; the next pass tries it again.

use std::time::{Duration, Instant};

use etcd_client::GetOptions;
use objectio_cluster::keys::prefix_end;
use objectio_cluster::store::decode;
use objectio_cluster::{
    ObjectRecord, RepairControl, RepairJob, RepairPass, SkippedObject, Store, now_secs,
};
use objectio_object::{Objects, Outcome};

use super::Leader;

/// Objects read per page (the cursor is saved after each).
const PAGE: i64 = 100;
/// Skipped objects kept in the job record.
const SKIPPED_KEPT: usize = 100;

/// Reads the job record (default when none).
pub async fn job(store: &Store) -> objectio_cluster::Result<RepairJob> {
    Ok(store
        .get::<RepairJob>(store.keys().job("repair"))
        .await?
        .map(|(j, _)| j)
        .unwrap_or_default())
}

/// Reads the operator's control record (default when none).
pub async fn control(store: &Store) -> objectio_cluster::Result<RepairControl> {
    Ok(store
        .get::<RepairControl>(store.keys().job("repair-control"))
        .await?
        .map(|(c, _)| c)
        .unwrap_or_default())
}

/// Settings of the controller.
#[derive(Clone, Copy, Debug)]
pub struct Throttle {
    /// Pause between passes when the last one was idle.
    pub interval: Duration,
    /// Rebuilt bytes per second at most (0: no limit).
    pub max_bytes_per_sec: u64,
}

/// Works one page of the current pass, starting a pass when `due` (the
/// interval since the last one has passed) or when an operator asked for
/// one; `None` when idle (stopped, or nothing due), else whether the pass
/// goes on.
pub async fn step(
    store: &Store,
    objects: &Objects,
    t: Throttle,
    due: bool,
) -> objectio_cluster::Result<Option<bool>> {
    let k = store.keys();
    let ctl = control(store).await?;
    if ctl.stopped {
        return Ok(None);
    }
    let mut j = job(store).await?;
    if !j.running {
        let asked = ctl.requested_ms > j.handled_request_ms;
        if !asked && !due {
            return Ok(None);
        }
        j = RepairJob {
            version: objectio_cluster::SCHEMA_VERSION,
            running: true,
            passes: j.passes,
            pass_started: now_secs(),
            last: j.last,
            total_repaired_objects: j.total_repaired_objects,
            total_repaired_shards: j.total_repaired_shards,
            total_bytes_rebuilt: j.total_bytes_rebuilt,
            handled_request_ms: j.handled_request_ms.max(ctl.requested_ms),
            osd: if asked { ctl.osd.clone() } else { None },
            ..Default::default()
        };
    }
    let root = k.objects_root();
    let start = match &j.cursor {
        Some(c) => {
            let mut s = format!("{root}{c}").into_bytes();
            s.push(0);
            s
        }
        None => root.clone().into_bytes(),
    };
    let end = prefix_end(root.as_bytes()).expect("prefix ends with '/'");
    let resp = store
        .kv()
        .get(
            start,
            Some(GetOptions::new().with_range(end).with_limit(PAGE)),
        )
        .await?;
    let known = objectio_object::known(store).await?;
    let began = Instant::now();
    let mut rebuilt = 0u64;
    for kv in resp.kvs() {
        let rec: ObjectRecord = decode(kv.key(), kv.value())?;
        j.scanned += 1;
        let on_osd = |osd: &String| {
            rec.segments()
                .iter()
                .any(|s| s.shards.iter().flatten().any(|l| l.osd == *osd))
        };
        let wanted = j.osd.as_ref().is_none_or(on_osd);
        let outcome = if wanted {
            objects.repair(&rec, kv.mod_revision(), &known).await
        } else {
            Ok(Outcome::Healthy)
        };
        match outcome {
            Ok(Outcome::Healthy) | Ok(Outcome::Raced) => {}
            Ok(Outcome::Repaired { shards, bytes }) => {
                j.repaired_objects += 1;
                j.repaired_shards += shards as u64;
                j.bytes_rebuilt += bytes;
                j.total_repaired_objects += 1;
                j.total_repaired_shards += shards as u64;
                j.total_bytes_rebuilt += bytes;
                rebuilt += bytes;
                // Saved after each repair: a new leader resumes after it.
                j.cursor = Some(String::from_utf8_lossy(&kv.key()[root.len()..]).into_owned());
                store.put(k.job("repair"), &j).await?;
            }
            Ok(Outcome::Skipped(reason)) => skip(&mut j, &rec, reason),
            Err(e) => skip(&mut j, &rec, e.to_string()),
        }
        j.cursor = Some(String::from_utf8_lossy(&kv.key()[root.len()..]).into_owned());
        // Throttle: no faster than the limit, on average over the page.
        if t.max_bytes_per_sec > 0 && rebuilt > 0 {
            let due = Duration::from_secs_f64(rebuilt as f64 / t.max_bytes_per_sec as f64);
            if let Some(wait) = due.checked_sub(began.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
    let more = resp.more();
    if !more {
        j.running = false;
        j.passes += 1;
        j.cursor = None;
        j.last = Some(RepairPass {
            started: j.pass_started,
            finished: now_secs(),
            scanned: j.scanned,
            repaired_objects: j.repaired_objects,
            repaired_shards: j.repaired_shards,
            bytes_rebuilt: j.bytes_rebuilt,
            skipped_count: j.skipped_count,
            osd: j.osd.clone(),
        });
        if j.repaired_objects > 0 || j.skipped_count > 0 {
            tracing::info!(
                scanned = j.scanned,
                repaired = j.repaired_objects,
                shards = j.repaired_shards,
                bytes = j.bytes_rebuilt,
                skipped = j.skipped_count,
                "repair pass done"
            );
        }
    }
    store.put(k.job("repair"), &j).await?;
    Ok(Some(more))
}

fn skip(j: &mut RepairJob, rec: &ObjectRecord, reason: String) {
    // Listed in the job (and counted in the pass summary): an object
    // waiting for a disk to place on is skipped every pass until one comes.
    tracing::debug!(bucket = %rec.bucket, key = %rec.key, %reason, "repair skipped an object");
    j.skipped_count += 1;
    if j.skipped.len() < SKIPPED_KEPT {
        j.skipped.push(SkippedObject {
            bucket: rec.bucket.clone(),
            key: rec.key.clone(),
            reason,
        });
    }
}

/// Runs passes while this replica leads: the next page at once while a
/// pass goes on, a new pass every `interval`.
pub async fn run(store: Store, objects: Objects, leader: Leader, t: Throttle) {
    // Due at once at the start (or on becoming leader).
    let mut last_end: Option<Instant> = None;
    loop {
        let mut more = false;
        if leader.get() {
            let due = last_end.is_none_or(|e| e.elapsed() >= t.interval);
            match step(&store, &objects, t, due).await {
                Ok(Some(m)) => {
                    more = m;
                    if !m {
                        last_end = Some(Instant::now());
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "repair step failed; retrying"),
            }
        } else {
            last_end = None;
        }
        if !more {
            // Short naps, so an operator's start is served at once.
            tokio::time::sleep(t.interval.min(Duration::from_millis(250))).await;
        }
    }
}
