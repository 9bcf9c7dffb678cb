//! The repair controller: passes over the object index that rebuild every
//! lost shard ([`objectio_object::Objects::repair`]) so that redundancy comes
//! back without anyone asking (a disk marked out by the health controller,
//! a replaced disk, a PUT written at the write quorum).
//!
//! What is named for repair is repaired at once, without a pass: an
//! object committed short of a shard leaves a hint (`hints/`), a shard
//! found damaged by scrub or a read is reported with its object
//! (`damaged/`). A pass over the whole index starts when the map changes
//! (an OSD goes down or comes back, a disk is marked out or in or
//! replaced), when an operator asks, when targeted repair could not finish,
//! and every `--repair-sweep-secs` anyway; a pass that skipped objects is
//! tried again after `--repair-interval-ms`. An idle cluster is not
//! scanned. A whole pass also counts the objects degraded and at risk: the
//! numbers `cluster status` shows without reading the index.
//!
//! Progress lives in etcd (`jobs/repair`): the cursor advances after each
//! page, so a new leader continues where the old one stopped. Throttled to
//! `--repair-max-mibs` of rebuilt data per second. An object that cannot be
//! repaired now goes on the pass's skip list with the reason and the pass
//! goes on; the next pass tries it again.

use std::time::{Duration, Instant};

use etcd_client::GetOptions;
use objectio_cluster::keys::prefix_end;
use objectio_cluster::store::decode;
use objectio_cluster::{
    Census, DamagedShard, ObjectRecord, PartRecord, RepairControl, RepairHint, RepairJob,
    RepairPass, SkippedObject, Store, UploadRecord, now_secs,
};
use objectio_object::{Objects, Outcome, Redundancy};

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

/// The pace of the pass under way over `objects` in the index: rebuilt
/// bytes per second and the seconds left (absent until it can tell).
pub fn pace(j: &RepairJob, objects: u64) -> (u64, Option<u64>) {
    let elapsed = now_secs().saturating_sub(j.pass_started);
    if !j.running || elapsed == 0 {
        return (0, None);
    }
    let eta = (j.scanned > 0).then(|| elapsed * objects.saturating_sub(j.scanned) / j.scanned);
    (j.bytes_rebuilt / elapsed, eta)
}

/// Settings of the controller.
#[derive(Clone, Copy, Debug)]
pub struct Throttle {
    /// How soon a pass that skipped objects is tried again.
    pub interval: Duration,
    /// A whole pass at least this often, with nothing asking for one.
    pub sweep: Duration,
    /// Rebuilt bytes per second at most (0: no limit).
    pub max_bytes_per_sec: u64,
    /// Objects repaired at once.
    pub in_flight: usize,
}

/// Why a pass may start now, besides an operator's request and a change
/// of the map (which [`step`] sees for itself).
#[derive(Clone, Copy, Debug, Default)]
pub struct Due {
    /// The sweep interval has passed since the last pass.
    pub sweep: bool,
    /// The retry interval has passed (for a last pass that skipped).
    pub retry: bool,
    /// Targeted repair could not finish something: a pass must.
    pub needed: bool,
}

/// Repairs what is named for repair without a pass: objects written short
/// of a shard (`hints/`) and shards reported damaged with their object
/// (`damaged/`, newer than `seen`, which it advances); nothing while an
/// operator has stopped repair. Whether a pass is needed for what it could
/// not do.
pub async fn targeted(
    store: &Store,
    objects: &Objects,
    seen: &mut i64,
) -> objectio_cluster::Result<bool> {
    let k = store.keys();
    if control(store).await?.stopped {
        return Ok(false);
    }
    let mut needed = false;
    let page = |prefix: String| {
        let kv = store.kv();
        async move {
            let mut kv = kv;
            kv.get(
                prefix,
                Some(GetOptions::new().with_prefix().with_limit(PAGE)),
            )
            .await
        }
    };
    let hints = page(k.hints_prefix()).await?;
    let damaged = page(k.damaged_prefix()).await?;
    let mut fresh: Vec<(&[u8], DamagedShard)> = Vec::new();
    let since = *seen;
    for kv in damaged.kvs().iter().filter(|kv| kv.mod_revision() > since) {
        *seen = (*seen).max(kv.mod_revision());
        fresh.push((kv.key(), decode(kv.key(), kv.value())?));
    }
    if hints.kvs().is_empty() && fresh.is_empty() {
        return Ok(false);
    }
    let known = objectio_object::known(store).await?;
    // Each object once, whatever names it.
    let mut wanted: Vec<(String, String)> = Vec::new();
    for kv in hints.kvs() {
        let hint: RepairHint = decode(kv.key(), kv.value())?;
        wanted.push((hint.bucket, hint.key));
    }
    for (_, d) in &fresh {
        match (&d.bucket, &d.key) {
            (Some(b), Some(key)) => wanted.push((b.clone(), key.clone())),
            _ => needed = true,
        }
    }
    wanted.sort();
    wanted.dedup();
    // Objects, shards and bytes repaired: the job's totals count them.
    let mut done = (0u64, 0u64, 0u64);
    for (bucket, key) in &wanted {
        let okey = k.object(bucket, key);
        if let Some((rec, rev)) = store.get::<ObjectRecord>(okey.clone()).await? {
            match objects.repair(&rec, rev, &known).await {
                Ok(Outcome::Healthy) | Ok(Outcome::Raced) => {}
                Ok(Outcome::Repaired { shards, bytes, .. }) => {
                    tracing::info!(%bucket, %key, "repaired as soon as it was reported");
                    done.0 += 1;
                    done.1 += shards as u64;
                    done.2 += bytes;
                }
                Ok(Outcome::Skipped(reason)) => {
                    tracing::info!(%bucket, %key, %reason, "cannot repair it now; a pass will try again");
                    needed = true;
                }
                Err(e) => {
                    tracing::warn!(%bucket, %key, error = %e, "repair failed; a pass will try again");
                    needed = true;
                }
            }
        }
    }
    // Hints are done with (a pass covers what failed); damage reports of
    // shards no record holds any more (overwritten, deleted) are stale.
    for kv in hints.kvs() {
        store.delete(kv.key().to_vec()).await?;
    }
    for (dkey, d) in &fresh {
        let (Some(b), Some(key)) = (&d.bucket, &d.key) else {
            continue;
        };
        let held = match store.get::<ObjectRecord>(k.object(b, key)).await? {
            Some((rec, _)) => rec.all_segments().iter().any(|s| {
                s.shards.iter().enumerate().any(|(i, l)| {
                    l.as_ref().is_some_and(|l| {
                        k.damaged(&s.version_id, s.part, i, &l.disk).as_bytes() == *dkey
                    })
                })
            }),
            None => false,
        };
        if !held {
            store.delete(dkey.to_vec()).await?;
        }
    }
    if done.0 > 0 {
        let mut j = job(store).await?;
        j.total_repaired_objects += done.0;
        j.total_repaired_shards += done.1;
        j.total_bytes_rebuilt += done.2;
        store.put(k.job("repair"), &j).await?;
    }
    Ok(needed)
}

/// Works one page of the current pass, starting a pass when one is due
/// (see [`Due`]), the map changed since the last one began, or an operator
/// asked; `None` when idle (stopped, or nothing due), else whether the pass
/// goes on. A whole pass not limited to one OSD also counts the objects
/// degraded and at risk ([`Census`]), which `cluster status` shows, moves
/// the shards of draining OSDs, and rebalances when the capacity in service
/// changed since the last rebalance (or an operator asked): such a pass
/// first counts what it will move (`planning`), so that progress has a
/// total.
pub async fn step(
    store: &Store,
    objects: &Objects,
    t: Throttle,
    due: Due,
) -> objectio_cluster::Result<Option<bool>> {
    let k = store.keys();
    let ctl = control(store).await?;
    if ctl.stopped {
        return Ok(None);
    }
    let mut j = job(store).await?;
    let snap = objects.map();
    let fingerprint = snap.fingerprint();
    if !j.running {
        let asked = ctl.requested_ms > j.handled_request_ms;
        let skipped = j.last.as_ref().is_some_and(|l| l.skipped_count > 0);
        let moved = fingerprint != j.map_fingerprint;
        let capacity = snap.capacity_fingerprint();
        let rebalance_asked = ctl.rebalance_requested_ms > j.rebalance_handled_ms;
        let rebalance = !ctl.rebalance_stopped
            && snap.rebalance_ready()
            && (capacity != j.rebalanced_fingerprint || rebalance_asked);
        let mut draining: Vec<String> = snap
            .osds
            .values()
            .filter(|o| snap.is_draining(&o.id))
            .map(|o| o.id.clone())
            .collect();
        draining.sort();
        let unfinished = draining
            .iter()
            .any(|o| j.drains.get(o).is_none_or(|d| d.drained_at == 0));
        if !(asked
            || moved
            || rebalance
            || due.sweep
            || due.needed
            || (due.retry && (skipped || unfinished)))
        {
            return Ok(None);
        }
        let whole = !(asked && ctl.osd.is_some());
        let drains = draining
            .iter()
            .map(|o| {
                let was = j.drains.remove(o).unwrap_or_default();
                let d = objectio_cluster::DrainProgress {
                    left: was.left,
                    drained_at: was.drained_at,
                    blocked_passes: was.blocked_passes,
                    ..Default::default()
                };
                (o.clone(), d)
            })
            .collect();
        j = RepairJob {
            version: objectio_cluster::SCHEMA_VERSION,
            running: true,
            passes: j.passes,
            pass_started: now_secs(),
            last: j.last,
            total_repaired_objects: j.total_repaired_objects,
            total_repaired_shards: j.total_repaired_shards,
            total_bytes_rebuilt: j.total_bytes_rebuilt,
            total_moved_shards: j.total_moved_shards,
            total_moved_bytes: j.total_moved_bytes,
            handled_request_ms: j.handled_request_ms.max(ctl.requested_ms),
            rebalance_handled_ms: if rebalance && whole {
                j.rebalance_handled_ms.max(ctl.rebalance_requested_ms)
            } else {
                j.rebalance_handled_ms
            },
            osd: if asked { ctl.osd.clone() } else { None },
            census: j.census,
            // A pass over one OSD's objects does not stand for a whole one.
            map_fingerprint: if whole {
                fingerprint
            } else {
                j.map_fingerprint
            },
            planning: whole && (rebalance || !draining.is_empty()),
            rebalancing: whole && rebalance,
            capacity_fingerprint: capacity,
            rebalanced_fingerprint: j.rebalanced_fingerprint,
            rebalanced_at: j.rebalanced_at,
            draining: if whole { draining } else { Vec::new() },
            drains,
            ..Default::default()
        };
    }
    let mut known = objectio_object::known(store).await?;
    known.rebalance = j.rebalancing && !ctl.rebalance_stopped;
    if j.planning {
        return plan_page(store, objects, &mut j, &known).await.map(Some);
    }
    let root = k.objects_root();
    let resp = page_after(store, j.cursor.as_deref(), PAGE).await?;
    let began = Instant::now();
    let mut rebuilt = 0u64;
    let mut records = Vec::with_capacity(resp.kvs().len());
    for kv in resp.kvs() {
        let rec: ObjectRecord = store
            .decode(kv.key(), kv.value(), kv.mod_revision())
            .await?;
        records.push((kv, rec));
    }
    // Up to `in_flight` objects repaired at once; their outcomes are then
    // counted in key order, the cursor saved after each repair.
    for batch in records.chunks(t.in_flight.max(1)) {
        let osd = j.osd.clone();
        let outcomes = futures::future::join_all(batch.iter().map(|(kv, rec)| {
            let wanted = osd.as_ref().is_none_or(|osd| {
                rec.all_segments()
                    .iter()
                    .any(|s| s.shards.iter().flatten().any(|l| l.osd == *osd))
            });
            let known = &known;
            async move {
                if wanted {
                    objects.repair(rec, kv.mod_revision(), known).await
                } else {
                    Ok(Outcome::Healthy)
                }
            }
        }))
        .await;
        for ((kv, rec), outcome) in batch.iter().zip(outcomes) {
            j.scanned += 1;
            let mut now = Some(rec.clone());
            match outcome {
                Ok(Outcome::Healthy) => {}
                Ok(Outcome::Raced) => now = None,
                Ok(Outcome::Repaired {
                    shards,
                    bytes,
                    moved,
                }) => {
                    if shards > 0 {
                        j.repaired_objects += 1;
                        j.total_repaired_objects += 1;
                    }
                    j.repaired_shards += shards as u64;
                    j.bytes_rebuilt += bytes;
                    j.total_repaired_shards += shards as u64;
                    j.total_bytes_rebuilt += bytes;
                    rebuilt += bytes + moved.iter().map(|(_, b)| b).sum::<u64>();
                    count_moved(&mut j, &objects.map(), &moved);
                    // Re-read: done means whole, not merely written.
                    now = store
                        .get::<ObjectRecord>(kv.key().to_vec())
                        .await?
                        .map(|(r, _)| r);
                    if let Some(r) = &now {
                        let snap = objects.map();
                        if r.all_segments()
                            .iter()
                            .any(|s| !snap.lost_shards(s, &Default::default()).is_empty())
                        {
                            skip(&mut j, r, "still short of k+m shards after repair".into());
                        }
                    }
                    // Saved after each repair: a new leader resumes after it.
                    j.cursor = Some(String::from_utf8_lossy(&kv.key()[root.len()..]).into_owned());
                    store.put(k.job("repair"), &j).await?;
                }
                Ok(Outcome::Skipped(reason)) => skip(&mut j, rec, reason),
                Err(e) => skip(&mut j, rec, e.to_string()),
            }
            if j.osd.is_none() {
                // Counted as it is after this pass's work on it.
                if now.is_none() {
                    now = store
                        .get::<ObjectRecord>(kv.key().to_vec())
                        .await?
                        .map(|(r, _)| r);
                }
                if let Some(r) = now {
                    count(&mut j.counting, objects, &r);
                    let segments = r.all_segments();
                    for (osd, d) in j.drains.iter_mut() {
                        d.pass_left += shards_on(&segments, osd);
                    }
                }
            }
            j.cursor = Some(String::from_utf8_lossy(&kv.key()[root.len()..]).into_owned());
        }
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
        // The parts of uploads in progress, once per pass (uploads are few
        // next to objects: no cursor).
        repair_uploads(store, objects, &mut j, &known).await?;
        finish_drains(store, &mut j).await?;
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
        if j.osd.is_none() {
            let mut c = std::mem::take(&mut j.counting);
            c.counted = now_secs();
            j.census = Some(c);
        }
        if j.rebalancing {
            j.rebalanced_fingerprint = j.capacity_fingerprint;
            j.rebalanced_at = now_secs();
        }
        if j.rebalance.moved_objects > 0 {
            tracing::info!(
                objects = j.rebalance.moved_objects,
                bytes = j.rebalance.moved_bytes,
                "rebalance pass done"
            );
        }
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

/// Up to `limit` object records after `cursor` (a key after `objects/`;
/// `None`: from the first), in key order.
async fn page_after(
    store: &Store,
    cursor: Option<&str>,
    limit: i64,
) -> objectio_cluster::Result<etcd_client::GetResponse> {
    let root = store.keys().objects_root();
    let start = match cursor {
        Some(c) => {
            let mut s = format!("{root}{c}").into_bytes();
            s.push(0);
            s
        }
        None => root.clone().into_bytes(),
    };
    let end = prefix_end(root.as_bytes()).expect("prefix ends with '/'");
    Ok(store
        .kv()
        .get(
            start,
            Some(GetOptions::new().with_range(end).with_limit(limit)),
        )
        .await?)
}

/// Objects counted per planning page (records only: no shard is read).
const PLAN_PAGE: i64 = 1000;

/// Counts one page of what the pass will move: each draining OSD's shards,
/// and the shards a rebalance moves; at the end of the index, the parts of
/// uploads in progress too, and the pass goes on to its work.
async fn plan_page(
    store: &Store,
    objects: &Objects,
    j: &mut RepairJob,
    known: &objectio_object::Known,
) -> objectio_cluster::Result<bool> {
    let k = store.keys();
    let root = k.objects_root();
    let resp = page_after(store, j.cursor.as_deref(), PLAN_PAGE).await?;
    let snap = objects.map();
    for kv in resp.kvs() {
        let rec: ObjectRecord = store
            .decode(kv.key(), kv.value(), kv.mod_revision())
            .await?;
        plan_record(j, &snap, known, rec.ec, &rec.all_segments());
        j.cursor = Some(String::from_utf8_lossy(&kv.key()[root.len()..]).into_owned());
    }
    if !resp.more() {
        for (_, up) in store.list::<UploadRecord>(k.uploads_root()).await? {
            for (_, part) in store
                .list::<PartRecord>(k.parts_prefix(&up.upload_id))
                .await?
            {
                plan_record(j, &snap, known, part.ec, &[part.segment()]);
            }
        }
        j.planning = false;
        j.cursor = None;
        if j.rebalance.planned_objects > 0 || !j.draining.is_empty() {
            tracing::info!(
                rebalance_objects = j.rebalance.planned_objects,
                rebalance_bytes = j.rebalance.planned_bytes,
                draining = ?j.draining,
                "pass planned its moves"
            );
        }
    }
    store.put(k.job("repair"), &*j).await?;
    Ok(true)
}

/// Adds one object's (or part's) moves to the plan.
fn plan_record(
    j: &mut RepairJob,
    snap: &objectio_object::map::Snapshot,
    known: &objectio_object::Known,
    ec: objectio_cluster::EcProfile,
    segments: &[objectio_cluster::Segment],
) {
    let mut shards = Vec::new();
    for seg in segments {
        let bytes = objectio_object::shard_size(ec, seg.size);
        for i in snap.work(seg, known).moves {
            if let Some(l) = &seg.shards[i] {
                shards.push((l.osd.clone(), bytes));
            }
        }
    }
    tally(j, snap, &shards, |m, b, first| {
        m.planned_bytes += b;
        m.planned_objects += first as u64;
    });
}

/// Counts one object's moved shards, as [`tally`] does.
fn count_moved(j: &mut RepairJob, snap: &objectio_object::map::Snapshot, moved: &[(String, u64)]) {
    j.total_moved_shards += moved.len() as u64;
    j.total_moved_bytes += moved.iter().map(|(_, b)| b).sum::<u64>();
    tally(j, snap, moved, |m, b, first| {
        m.moved_bytes += b;
        m.moved_objects += first as u64;
    });
}

/// Adds one object's shards (the OSD each is moved off, its bytes) with
/// `add(moves, bytes, first of this object in these moves)`: to the drain
/// of a draining OSD, else to the rebalance.
fn tally(
    j: &mut RepairJob,
    snap: &objectio_object::map::Snapshot,
    shards: &[(String, u64)],
    add: impl Fn(&mut objectio_cluster::Moves, u64, bool),
) {
    let mut seen: Vec<Option<&str>> = Vec::new();
    for (osd, bytes) in shards {
        let drain = snap.is_draining(osd) || j.drains.contains_key(osd);
        let who = drain.then_some(osd.as_str());
        let first = !seen.contains(&who);
        seen.push(who);
        let m = match who {
            Some(o) => &mut j.drains.entry(o.to_string()).or_default().moves,
            None => &mut j.rebalance,
        };
        add(m, *bytes, first);
    }
}

/// Shards of `segments` on OSD `osd`.
fn shards_on(segments: &[objectio_cluster::Segment], osd: &str) -> u64 {
    segments
        .iter()
        .flat_map(|s| s.shards.iter().flatten())
        .filter(|l| l.osd == osd)
        .count() as u64
}

/// At the end of a whole pass: each OSD that drained from its start is
/// drained when nothing references it any more (no object, no part of an
/// upload, no write in progress).
async fn finish_drains(store: &Store, j: &mut RepairJob) -> objectio_cluster::Result<()> {
    if j.osd.is_some() || j.draining.is_empty() {
        return Ok(());
    }
    let intents = store
        .list::<objectio_cluster::IntentRecord>(store.keys().intents_prefix())
        .await?;
    for osd in &j.draining {
        let Some(d) = j.drains.get_mut(osd) else {
            continue;
        };
        let writing: u64 = intents
            .iter()
            .map(|(_, i)| shards_on(std::slice::from_ref(&i.segment), osd))
            .sum();
        let left = d.pass_left + writing;
        d.left = Some(left);
        if left > 0 && !d.blocked.is_empty() {
            d.blocked_passes += 1;
        } else {
            d.blocked_passes = 0;
        }
        if left == 0 {
            if d.drained_at == 0 {
                d.drained_at = now_secs();
                tracing::info!(%osd, "OSD drained: nothing references it");
            }
        } else {
            d.drained_at = 0;
            tracing::info!(%osd, left, "OSD not drained yet; another pass follows");
        }
    }
    Ok(())
}

/// Repairs every part of every upload in progress (those with a shard on
/// the pass's OSD, when it has one), moving draining OSDs' shards too.
async fn repair_uploads(
    store: &Store,
    objects: &Objects,
    j: &mut RepairJob,
    known: &objectio_object::Known,
) -> objectio_cluster::Result<()> {
    let k = store.keys();
    for (_, up) in store.list::<UploadRecord>(k.uploads_root()).await? {
        let prefix = k.parts_prefix(&up.upload_id);
        let resp = store
            .kv()
            .get(prefix, Some(GetOptions::new().with_prefix()))
            .await?;
        for kv in resp.kvs() {
            let part: PartRecord = decode(kv.key(), kv.value())?;
            if let Some(osd) = &j.osd
                && !part.shards.iter().flatten().any(|l| l.osd == *osd)
            {
                continue;
            }
            let mut now = Some(part.clone());
            match objects
                .repair_part(&up, &part, kv.mod_revision(), known)
                .await
            {
                Ok(Outcome::Repaired {
                    shards,
                    bytes,
                    moved,
                }) => {
                    tracing::info!(bucket = %up.bucket, key = %up.key, upload = %up.upload_id, part = part.number, "part of an upload in progress repaired");
                    j.repaired_shards += shards as u64;
                    j.bytes_rebuilt += bytes;
                    j.total_repaired_shards += shards as u64;
                    j.total_bytes_rebuilt += bytes;
                    count_moved(j, &objects.map(), &moved);
                    now = None;
                }
                Ok(Outcome::Raced) => now = None,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(bucket = %up.bucket, key = %up.key, part = part.number, error = %e, "could not repair a part of an upload in progress")
                }
            }
            if now.is_none() {
                now = store
                    .get::<PartRecord>(kv.key().to_vec())
                    .await?
                    .map(|(p, _)| p);
            }
            if let Some(p) = now {
                let segments = [p.segment()];
                for (osd, d) in j.drains.iter_mut() {
                    d.pass_left += shards_on(&segments, osd);
                }
            }
        }
    }
    Ok(())
}

/// Counts one object into a census.
fn count(c: &mut Census, objects: &Objects, rec: &ObjectRecord) {
    let snap = objects.map();
    c.objects += 1;
    match snap.redundancy(rec) {
        Redundancy::Healthy => {}
        Redundancy::Degraded => c.degraded += 1,
        Redundancy::AtRisk => {
            c.at_risk += 1;
            for l in rec
                .all_segments()
                .iter()
                .flat_map(|s| s.shards.iter().flatten())
            {
                if !snap.alive.contains(&l.osd) && !c.at_risk_osds.contains(&l.osd) {
                    c.at_risk_osds.push(l.osd.clone());
                    c.at_risk_osds.sort();
                }
            }
        }
    }
}

fn skip(j: &mut RepairJob, rec: &ObjectRecord, reason: String) {
    // Listed in the job (and counted in the pass summary): an object
    // waiting for a disk to place on is skipped every pass until one comes.
    tracing::debug!(bucket = %rec.bucket, key = %rec.key, %reason, "repair skipped an object");
    let segments = rec.all_segments();
    for (osd, d) in j.drains.iter_mut() {
        if d.blocked.len() < 5 && shards_on(&segments, osd) > 0 {
            d.blocked
                .push(format!("{}/{}: {reason}", rec.bucket, rec.key));
        }
    }
    j.skipped_count += 1;
    if j.skipped.len() < SKIPPED_KEPT {
        j.skipped.push(SkippedObject {
            bucket: rec.bucket.clone(),
            key: rec.key.clone(),
            reason,
        });
    }
}

/// Runs while this replica leads: targeted repairs as they are named, the
/// next page at once while a pass goes on, and a new pass when one is due
/// (a new term starts with one: it counts afresh).
pub async fn lead(store: Store, objects: Objects, leader: Leader, t: Throttle) {
    let mut last_end: Option<Instant> = None;
    let mut seen = 0i64;
    let mut needed = false;
    while leader.get() {
        let mut more = false;
        match targeted(&store, &objects, &mut seen).await {
            Ok(n) => needed |= n,
            Err(e) => tracing::warn!(error = %e, "targeted repair failed; retrying"),
        }
        let due = Due {
            sweep: last_end.is_none_or(|e| e.elapsed() >= t.sweep),
            retry: last_end.is_none_or(|e| e.elapsed() >= t.interval),
            needed,
        };
        match step(&store, &objects, t, due).await {
            Ok(Some(m)) => {
                more = m;
                needed = false;
                if !m {
                    last_end = Some(Instant::now());
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "repair step failed; retrying"),
        }
        if !more {
            // Short naps, so an operator's start is served at once.
            tokio::time::sleep(t.interval.min(Duration::from_millis(250))).await;
        }
    }
}
