//! Repair of one object: the one implementation of "read every chunk of a
//! stripe", "reconstruct chosen shards" and "swap shards in a record".
//!
//! A shard is *lost* when it was never written (a degraded write), when its
//! disk is `out`, gone from the map, or no longer served by its OSD (the
//! disk was replaced). Shards on a disk of an OSD that is merely down are
//! not lost: they come back with the OSD, or are marked out by the health
//! controller after `down_out_interval`. Replacements are placed by HRW
//! over the disks that may take shards, never on a disk the object already
//! uses, with the failure-domain cap of a full placement; they are written
//! under an intent (so a crash mid-repair leaves nothing unreferenced), and
//! swapped into the record by a transaction comparing the record's revision
//! and the intent: a concurrent overwrite or delete wins, and the repair's
//! shards go to GC.

use std::collections::HashSet;

use crate::index::Cmp;
use bytes::Bytes;
use objectio_cluster::store::encode;
use objectio_cluster::{
    DamagedShard, IntentRecord, ObjectRecord, SCHEMA_VERSION, Segment, ShardLocation, now_millis,
    now_secs,
};
use objectio_codec::{Encoder, Geometry, decode_stripe};
use objectio_shard::{SHARD_FORMAT, ShardHeader};
use uuid::Uuid;

use crate::map::Snapshot;
use crate::{Error, Objects, Result, shard_id};

/// What repairing one object came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every shard present and on a disk in service.
    Healthy,
    /// `shards` lost shards rebuilt (`bytes` written) and the shards in
    /// `moved` relocated (the OSD each came from, its bytes), swapped in.
    Repaired {
        shards: usize,
        bytes: u64,
        moved: Vec<(String, u64)>,
    },
    /// The object changed (overwritten, deleted) while it was repaired:
    /// the change wins and the rebuilt shards go to GC.
    Raced,
    /// Cannot be repaired now (fewer than `k` readable shards, no disk to
    /// place a replacement on); the reason.
    Skipped(String),
}

impl Snapshot {
    /// Whether a shard location is lost for good (see the module docs).
    pub fn is_lost(&self, loc: &ShardLocation) -> bool {
        let Some(d) = self.disks.get(&loc.disk) else {
            return true;
        };
        if d.state == objectio_cluster::DiskState::Out {
            return true;
        }
        match self.osds.get(&loc.osd) {
            None => true,
            Some(o) if o.state == objectio_cluster::OsdService::Removed => true,
            Some(o) => self.alive.contains(&o.id) && !o.disks.contains(&loc.disk),
        }
    }

    /// How well an object is protected now: by its weakest segment, the
    /// shards readable now (OSD up and serving the disk) and, of those, the
    /// ones in service (disk not out).
    pub fn redundancy(&self, rec: &ObjectRecord) -> Redundancy {
        let mut worst = Redundancy::Healthy;
        for seg in rec.all_segments().iter().filter(|s| s.size > 0) {
            let readable = self.readable(seg, None);
            let r = if readable.len() < rec.ec.k as usize {
                Redundancy::AtRisk
            } else if readable.len() < rec.ec.total() || readable.iter().any(|l| self.is_lost(l)) {
                Redundancy::Degraded
            } else {
                Redundancy::Healthy
            };
            worst = worst.max(r);
        }
        worst
    }

    /// A segment's shards readable now (OSD up and serving the disk),
    /// leaving out those on OSD `without`.
    pub fn readable<'a>(&self, seg: &'a Segment, without: Option<&str>) -> Vec<&'a ShardLocation> {
        seg.shards
            .iter()
            .flatten()
            .filter(|l| without != Some(l.osd.as_str()) && self.is_reachable(l))
            .collect()
    }

    /// The fewest shards readable now of any segment of `rec` that has
    /// shards, leaving out OSD `without` (`None` for an empty object).
    pub fn fewest_readable(&self, rec: &ObjectRecord, without: Option<&str>) -> Option<usize> {
        rec.all_segments()
            .iter()
            .filter(|s| s.size > 0)
            .map(|s| self.readable(s, without).len())
            .min()
    }

    /// A digest of what decides where shards are and whether they count:
    /// OSDs, which are up, their disks and the disks' states. A change
    /// starts a repair pass.
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        let mut osds: Vec<_> = self.osds.values().collect();
        osds.sort_by(|a, b| a.id.cmp(&b.id));
        for o in osds {
            let weight = o.weight.map(f64::to_bits);
            (&o.id, self.alive.contains(&o.id), &o.disks, o.state, weight).hash(&mut h);
        }
        let mut disks: Vec<_> = self.disks.values().collect();
        disks.sort_by_key(|d| d.id);
        for d in disks {
            let out = d.state == objectio_cluster::DiskState::Out;
            (d.id, &d.osd, out, d.weight.to_bits()).hash(&mut h);
        }
        h.finish()
    }

    /// A digest of the capacity in service: the disks in, of OSDs active
    /// or draining, with their weights (not liveness, not drains): a
    /// change is what a rebalance answers (an OSD or disk added, a weight
    /// changed), while a drain and its undrain are not.
    pub fn capacity_fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        let mut disks: Vec<_> = self
            .disks
            .values()
            .filter(|d| d.state == objectio_cluster::DiskState::In)
            .filter_map(|d| {
                let o = self.osds.get(&d.osd)?;
                let serving = matches!(
                    o.state,
                    objectio_cluster::OsdService::Active | objectio_cluster::OsdService::Draining
                ) && o.disks.contains(&d.id);
                serving.then(|| {
                    (
                        d.id,
                        &o.id,
                        &o.failure_domain,
                        d.weight.to_bits(),
                        o.weight.map(f64::to_bits),
                    )
                })
            })
            .collect();
        disks.sort();
        disks.hash(&mut h);
        h.finish()
    }

    /// The indices of a segment's shards that are lost, or reported
    /// damaged (none for an empty segment, which has no shards).
    pub fn lost_shards(&self, seg: &Segment, damaged: &ShardSet) -> Vec<usize> {
        if seg.size == 0 {
            return Vec::new();
        }
        seg.shards
            .iter()
            .enumerate()
            .filter(|(i, l)| {
                l.as_ref().is_none_or(|l| {
                    self.is_lost(l) || damaged.contains(&(seg.version_id, seg.part, *i, l.disk))
                })
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// What one segment needs: shards to rebuild (lost or damaged), shards to
/// move while they are still readable (on a draining OSD, or off their
/// preferred placement when rebalancing), and the disks a move may go to
/// (`None`: any, by placement).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Work {
    pub lost: Vec<usize>,
    pub moves: Vec<usize>,
    pub only: Option<Vec<Uuid>>,
}

impl Snapshot {
    /// Whether an OSD is being drained.
    pub fn is_draining(&self, osd: &str) -> bool {
        self.osds
            .get(osd)
            .is_some_and(|o| o.state == objectio_cluster::OsdService::Draining)
    }

    /// Whether rebalancing may move shards now: every OSD in service with
    /// a disk in is up (a merely down OSD would look like capacity gone).
    pub fn rebalance_ready(&self) -> bool {
        self.osds
            .values()
            .filter(|o| o.state == objectio_cluster::OsdService::Active)
            .filter(|o| {
                o.disks.iter().any(|d| {
                    self.disks
                        .get(d)
                        .is_some_and(|d| d.state == objectio_cluster::DiskState::In)
                })
            })
            .all(|o| self.alive.contains(&o.id))
    }

    /// What segment `seg` needs (see [`Work`]). Lost shards come first: a
    /// segment with one is not rebalanced until it is whole. A rebalance
    /// moves the shards whose disk left the segment's preferred placement
    /// (HRW over the disks in service) to the preferred disks it does not
    /// use, so the result is that placement, failure-domain cap and all.
    pub fn work(&self, seg: &Segment, known: &Known) -> Work {
        let lost = self.lost_shards(seg, &known.damaged);
        if seg.size == 0 {
            return Work::default();
        }
        let moves: Vec<usize> = seg
            .shards
            .iter()
            .enumerate()
            .filter(|(i, l)| {
                !lost.contains(i) && l.as_ref().is_some_and(|l| self.is_draining(&l.osd))
            })
            .map(|(i, _)| i)
            .collect();
        if !lost.is_empty() || !moves.is_empty() || !known.rebalance {
            return Work {
                lost,
                moves,
                only: None,
            };
        }
        let Ok(preferred) = objectio_cluster::placement::place(
            seg.version_id.as_bytes(),
            &self.in_service(),
            seg.shards.len(),
        ) else {
            return Work::default();
        };
        let misplaced: Vec<usize> = seg
            .shards
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                l.as_ref()
                    .is_some_and(|l| !preferred.iter().any(|c| c.disk == l.disk))
            })
            .map(|(i, _)| i)
            .collect();
        let only: Vec<Uuid> = preferred
            .iter()
            .filter(|c| !seg.shards.iter().flatten().any(|l| l.disk == c.disk))
            .filter(|c| self.has_room(&c.disk))
            .map(|c| c.disk)
            .collect();
        let reachable = misplaced.iter().all(|i| {
            seg.shards[*i]
                .as_ref()
                .is_some_and(|l| self.is_reachable(l))
        });
        if misplaced.is_empty() || !reachable || only.len() < misplaced.len() {
            return Work::default();
        }
        Work {
            lost: Vec::new(),
            moves: misplaced,
            only: Some(only),
        }
    }
}

/// What to do to one segment: rebuild shards `rebuild` from the chunks of
/// `source` (the record's segment, or one with copies found elsewhere in
/// place of unreadable shards), and take the whole copies `adopt` into the
/// record as they are.
pub(crate) struct Plan {
    pub rebuild: Vec<usize>,
    pub source: Segment,
    pub adopt: Vec<(usize, ShardLocation)>,
    /// Shards to move (copied from where they are, decoded only when that
    /// copy cannot be read), and the disks they may go to.
    pub moves: Vec<usize>,
    pub only: Option<Vec<Uuid>>,
}

impl Plan {
    /// The plan for `work` on segment `seg`.
    pub(crate) fn of(seg: Segment, work: Work) -> Self {
        Plan {
            rebuild: work.lost,
            source: seg,
            adopt: Vec::new(),
            moves: work.moves,
            only: work.only,
        }
    }
}

/// The record a repair swaps shards into.
pub(crate) enum Home {
    /// The object's record.
    Object,
    /// The part record of an upload in progress (the repaired record is a
    /// stand-in with this one part).
    Part(objectio_cluster::PartRecord),
}

/// An object's protection now, worst first when compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Redundancy {
    Healthy,
    /// Readable, short of full redundancy.
    Degraded,
    /// Fewer than `k` shards readable.
    AtRisk,
}

/// Shards by data id, part, index and disk.
pub type ShardSet = HashSet<(Uuid, u32, usize, Uuid)>;

/// What repair must know besides the map: shards reported damaged, and
/// shards some intent or GC record names (a disk that may still hold, or
/// will have deleted, a shard of that id must not be given a new one: GC
/// deletes by id and disk).
#[derive(Default, Debug, Clone)]
pub struct Known {
    pub damaged: ShardSet,
    pub named: ShardSet,
    /// Shards off their preferred placement move too (a rebalance).
    pub rebalance: bool,
}

fn add_segment(set: &mut ShardSet, seg: &Segment) {
    for (i, l) in seg.shards.iter().enumerate() {
        if let Some(l) = l {
            set.insert((seg.version_id, seg.part, i, l.disk));
        }
    }
}

/// Reads the damage reports, intents and GC records.
pub async fn known(store: &objectio_cluster::Store) -> objectio_cluster::Result<Known> {
    let k = store.keys();
    let prefix = k.damaged_prefix();
    let damaged = store
        .list::<DamagedShard>(prefix.clone())
        .await?
        .into_iter()
        .filter_map(|(key, _)| {
            let rest = std::str::from_utf8(&key).ok()?.strip_prefix(&prefix)?;
            let mut it = rest.split('/');
            Some((
                it.next()?.parse().ok()?,
                it.next()?.parse().ok()?,
                it.next()?.parse().ok()?,
                it.next()?.parse().ok()?,
            ))
        })
        .collect();
    let mut named = ShardSet::new();
    for (_, i) in store.list::<IntentRecord>(k.intents_prefix()).await? {
        add_segment(&mut named, &i.segment);
    }
    for (_, g) in store
        .list::<objectio_cluster::GcRecord>(k.gc_prefix())
        .await?
    {
        for seg in &g.segments {
            add_segment(&mut named, seg);
        }
    }
    Ok(Known {
        damaged,
        named,
        rebalance: false,
    })
}

impl Objects {
    /// Reports a shard found damaged on read, for repair (in the background:
    /// the read goes on, decoding around it).
    pub(crate) fn report_damaged(
        &self,
        of: crate::read::Of<'_>,
        seg: &Segment,
        i: usize,
        loc: &ShardLocation,
        reason: String,
    ) {
        let store = self.store().clone();
        let key = store
            .keys()
            .damaged(&seg.version_id, seg.part, i, &loc.disk);
        let rec = DamagedShard {
            bucket: Some(of.0.to_string()),
            key: Some(of.1.to_string()),
            version: SCHEMA_VERSION,
            osd: loc.osd.clone(),
            disk: loc.disk,
            found_by: "read".into(),
            reason,
            reported_ms: now_millis(),
        };
        tokio::spawn(async move {
            if let Err(e) = store.put(key, &rec).await {
                tracing::warn!(error = %e, "could not report a damaged shard");
            }
        });
    }

    /// Rebuilds the lost (and reported damaged) shards of an object read at
    /// etcd revision `rev` (its record's mod revision) and swaps them into
    /// its record; the damage reports of the shards replaced go with it.
    pub async fn repair(&self, rec: &ObjectRecord, rev: i64, known: &Known) -> Result<Outcome> {
        let snap = self.inner.map.get();
        let plan: Vec<Plan> = rec
            .all_segments()
            .into_iter()
            .map(|s| {
                let w = snap.work(&s, known);
                Plan::of(s, w)
            })
            .collect();
        self.repair_plan(rec, rev, known, plan, &Home::Object).await
    }

    /// Rebuilds the lost (and reported damaged) shards of a part of an
    /// upload still in progress, read at revision `rev`, and swaps them into
    /// its part record. Loses to a completion under way (its `completing`
    /// key), to an abort and to the part being uploaded again.
    pub async fn repair_part(
        &self,
        up: &objectio_cluster::UploadRecord,
        part: &objectio_cluster::PartRecord,
        rev: i64,
        known: &Known,
    ) -> Result<Outcome> {
        let rec = ObjectRecord {
            version: SCHEMA_VERSION,
            bucket: up.bucket.clone(),
            key: up.key.clone(),
            version_id: up.upload_id,
            size: part.size,
            etag: String::new(),
            content_type: None,
            user_metadata: Default::default(),
            created_ms: part.created_ms,
            ec: part.ec,
            shards: Vec::new(),
            parts: vec![part.location()],
            acl: Default::default(),
            ..Default::default()
        };
        let snap = self.inner.map.get();
        let seg = part.segment();
        let w = snap.work(&seg, known);
        let plan = vec![Plan::of(seg, w)];
        self.repair_plan(&rec, rev, known, plan, &Home::Part(part.clone()))
            .await
    }

    /// Repairs `rec` by a plan per segment (see [`Plan`]); the result goes
    /// back to `home`.
    pub(crate) async fn repair_plan(
        &self,
        rec: &ObjectRecord,
        rev: i64,
        known: &Known,
        plan: Vec<Plan>,
        home: &Home,
    ) -> Result<Outcome> {
        let damaged = &known.damaged;
        let snap = self.inner.map.get();
        let segments = rec.all_segments();
        let lost: Vec<&Vec<usize>> = plan.iter().map(|p| &p.rebuild).collect();
        if plan
            .iter()
            .all(|p| p.rebuild.is_empty() && p.adopt.is_empty() && p.moves.is_empty())
        {
            return Ok(Outcome::Healthy);
        }
        let mut new = rec.clone();
        let mut old = Vec::new();
        let mut old_live = Vec::new();
        let mut written = Vec::new();
        let mut intents = Vec::new();
        let (mut shards, mut bytes) = (0usize, 0u64);
        let mut moved = Vec::new();
        let mut result: Result<Option<String>> = Ok(None);
        for (si, seg) in segments.iter().enumerate() {
            if !plan[si].adopt.is_empty() {
                let target = new.segment_shards_mut(si);
                let mut gone = Segment {
                    shards: vec![None; seg.shards.len()],
                    ..seg.clone()
                };
                for (i, loc) in &plan[si].adopt {
                    gone.shards[*i] = target[*i].take();
                    target[*i] = Some(loc.clone());
                    shards += 1;
                }
                old.push(gone);
            }
            let mut fix: Vec<usize> = lost[si].iter().chain(&plan[si].moves).copied().collect();
            fix.sort_unstable();
            fix.dedup();
            if fix.is_empty() {
                continue;
            }
            // A move whose copy cannot be read now is rebuilt by decoding.
            let copy: Vec<usize> = plan[si]
                .moves
                .iter()
                .copied()
                .filter(|i| {
                    seg.shards[*i]
                        .as_ref()
                        .is_some_and(|l| snap.is_reachable(l))
                })
                .collect();
            // A lost shard reported damaged, its OSD up, no intent or GC
            // record naming its id there: its disk may take the rebuilt one.
            let in_place: Vec<usize> = lost[si]
                .iter()
                .copied()
                .filter(|i| {
                    seg.shards[*i].as_ref().is_some_and(|l| {
                        snap.is_reachable(l)
                            && !snap.is_lost(l)
                            && damaged.contains(&(seg.version_id, seg.part, *i, l.disk))
                            && !known
                                .named
                                .contains(&(seg.version_id, seg.part, *i, l.disk))
                    })
                })
                .collect();
            if copy.len() < plan[si].moves.len() {
                tracing::info!(bucket = %rec.bucket, key = %rec.key, part = seg.part, shards = plan[si].moves.len() - copy.len(), "moving shards whose copy cannot be read: decoding them");
            }
            let etag = rec.segment_etag(si).to_string();
            match self
                .rebuild(
                    &snap,
                    rec,
                    seg,
                    &plan[si].source,
                    Targets {
                        fix: &fix,
                        copy: &copy,
                        only: plan[si].only.as_deref(),
                        in_place: &in_place,
                    },
                    &etag,
                    &known.named,
                )
                .await
            {
                Ok(Rebuilt::Done {
                    replaced,
                    intent,
                    bytes: b,
                }) => {
                    let per_shard = b / replaced.len().max(1) as u64;
                    let target = new.segment_shards_mut(si);
                    let mut gone = Segment {
                        shards: vec![None; seg.shards.len()],
                        ..seg.clone()
                    };
                    let mut gone_live = gone.clone();
                    let mut fresh = gone.clone();
                    for (i, loc) in replaced {
                        let mut was = target[i].take();
                        if was.as_ref() == Some(&loc) {
                            // Rebuilt in place of its damaged copy (deleted
                            // before): nothing of the old to free.
                            was = None;
                        }
                        if plan[si].moves.contains(&i) {
                            if let Some(w) = &was {
                                moved.push((w.osd.clone(), per_shard));
                            }
                            gone_live.shards[i] = was;
                        } else {
                            gone.shards[i] = was;
                            shards += 1;
                            bytes += per_shard;
                        }
                        fresh.shards[i] = Some(loc.clone());
                        target[i] = Some(loc);
                    }
                    old.push(gone);
                    old_live.push(gone_live);
                    written.push(fresh);
                    intents.push(intent);
                }
                Ok(Rebuilt::Skipped(why)) => {
                    result = Ok(Some(why));
                    break;
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let keys = self.store().keys();
        let (okey, value, when) = match home {
            Home::Object => (keys.record(rec), self.store().encode(&new), Vec::new()),
            Home::Part(p) => {
                let mut p = p.clone();
                p.shards = new.parts[0].shards.clone();
                (
                    keys.part(&p.upload_id, p.number).into_bytes(),
                    encode(&p),
                    // No completion under way: it reads the part records
                    // after writing this key, and must see these shards.
                    vec![Cmp::Absent(keys.completing(&p.upload_id).into_bytes())],
                )
            }
        };
        let give_up = |this: &Objects, written: Vec<Segment>, intents: Vec<String>| {
            let this = this.clone();
            async move {
                for (seg, ik) in written.into_iter().zip(intents) {
                    this.abandon_intent(&ik, seg).await;
                }
            }
        };
        match result {
            Err(e) => {
                give_up(self, written, intents).await;
                return Err(e);
            }
            Ok(Some(why)) => {
                give_up(self, written, intents).await;
                // Overwritten or deleted meanwhile (its old shards may be
                // gone already): the change won, nothing is short.
                let now = self.index().get(okey.clone()).await?.map(|(_, r)| r);
                if now != Some(rev) {
                    return Ok(Outcome::Raced);
                }
                return Ok(Outcome::Skipped(why));
            }
            Ok(None) => {}
        }
        // One transaction: the record is still the one repaired and every
        // intent still stands; the replaced shards are queued for GC.
        let mut deletes = Vec::new();
        for (seg, idx) in segments.iter().zip(&lost) {
            for i in idx.iter() {
                if let Some(l) = &seg.shards[*i]
                    && damaged.contains(&(seg.version_id, seg.part, *i, l.disk))
                {
                    deletes.push(
                        keys.damaged(&seg.version_id, seg.part, *i, &l.disk)
                            .into_bytes(),
                    );
                }
            }
        }
        let swapped = self
            .index()
            .swap(crate::index::Swap {
                key: okey,
                revision: rev,
                value,
                intents: intents.clone(),
                also: when,
                deletes,
                replaced: old,
                moved: old_live,
            })
            .await;
        let ok = match swapped {
            Ok(ok) => ok,
            Err(e) => {
                // The answer is lost, not the outcome: giving the intents
                // up compares them, so it frees the new shards only if the
                // swap did not land (and a swap landing later compares
                // them too, and fails). Left alone, a live writer's intent
                // would keep them for a day.
                give_up(self, written, intents).await;
                return Err(e.into());
            }
        };
        if !ok {
            give_up(self, written, intents).await;
            return Ok(Outcome::Raced);
        }
        if shards > 0 {
            tracing::info!(bucket = %rec.bucket, key = %rec.key, shards, bytes, "object repaired");
        }
        if !moved.is_empty() {
            tracing::debug!(bucket = %rec.bucket, key = %rec.key, shards = moved.len(), "shards moved");
        }
        Ok(Outcome::Repaired {
            shards,
            bytes,
            moved,
        })
    }

    /// Reconstructs shards `lost` of one segment (`recorded`, as the record
    /// has it) onto newly placed disks, under an intent, reading from
    /// `seg` (the record's, or one with copies found elsewhere).
    #[allow(clippy::too_many_arguments)]
    async fn rebuild(
        &self,
        snap: &Snapshot,
        rec: &ObjectRecord,
        recorded: &Segment,
        seg: &Segment,
        t: Targets<'_>,
        etag: &str,
        named: &ShardSet,
    ) -> Result<Rebuilt> {
        let lost = t.fix;
        let ec = rec.ec;
        let (k, m) = (ec.k as usize, ec.m as usize);
        let g = Geometry::new(k, m, ec.chunk_size as u64, seg.size);
        let kept: Vec<(Uuid, String)> = seg
            .shards
            .iter()
            .enumerate()
            .filter(|(i, _)| !lost.contains(i))
            .filter_map(|(_, l)| {
                let l = l.as_ref()?;
                let domain = snap.osds.get(&l.osd)?.failure_domain.clone();
                Some((l.disk, domain))
            })
            .collect();
        // Never a disk the segment uses now, lost or damaged ones included
        // (a disk holds one shard of an id); nor one found holding a stray
        // shard of this id (a repair that died before its commit left it,
        // until GC reclaims it).
        let mut taken: Vec<Uuid> = Vec::new();
        for _ in 0..3 {
            let candidates: Vec<_> = snap
                .candidates()
                .into_iter()
                .filter(|c| !seg.shards.iter().flatten().any(|l| l.disk == c.disk))
                .filter(|c| !taken.contains(&c.disk))
                .filter(|c| t.only.is_none_or(|o| o.contains(&c.disk)))
                .collect();
            // Placement per lost shard: a disk some intent or GC record
            // names for that very shard is left out.
            let blocked = |c: &objectio_cluster::placement::Candidate| {
                lost.iter()
                    .any(|i| named.contains(&(seg.version_id, seg.part, *i, c.disk)))
            };
            let candidates: Vec<_> = candidates.into_iter().filter(|c| !blocked(c)).collect();
            let replaced: Vec<(usize, ShardLocation)> =
                match objectio_cluster::placement::place_more(
                    seg.version_id.as_bytes(),
                    &candidates,
                    &kept,
                    k + m,
                    lost.len(),
                ) {
                    Ok(targets) => lost
                        .iter()
                        .zip(&targets)
                        .map(|(i, c)| {
                            (
                                *i,
                                ShardLocation {
                                    osd: c.osd.clone(),
                                    disk: c.disk,
                                },
                            )
                        })
                        .collect(),
                    // Nowhere else under the cap: a damaged shard's own disk
                    // takes its replacement (the damaged copy deleted first).
                    Err(e) => match self.in_place(snap, seg, lost, &t, &kept, &candidates, k + m) {
                        Some(r) => r,
                        None => {
                            return Ok(Rebuilt::Skipped(format!("no disk for a replacement: {e}")));
                        }
                    },
                };
            // The intent first: from here on every shard written is named.
            let mut named = Segment {
                shards: vec![None; seg.shards.len()],
                ..seg.clone()
            };
            for (i, l) in &replaced {
                named.shards[*i] = Some(l.clone());
            }
            let ik = self.store().keys().intent(&Uuid::new_v4());
            let intent = IntentRecord {
                version: SCHEMA_VERSION,
                gateway: self.inner.gateway_id.clone(),
                incarnation: Some(self.inner.incarnation),
                writer: self.inner.writer,
                bucket: rec.bucket.clone(),
                key: rec.key.clone(),
                segment: named.clone(),
                created: now_secs(),
            };
            self.store().put(ik.clone(), &intent).await?;
            match self
                .stream_rebuilt(snap, rec, recorded, seg, &g, &replaced, t.copy, etag)
                .await
            {
                Ok(Streamed::Done) => {
                    return Ok(Rebuilt::Done {
                        bytes: g.shard_size() * replaced.len() as u64,
                        replaced,
                        intent: ik,
                    });
                }
                Ok(Streamed::Short(why)) => {
                    self.abandon_intent(&ik, named).await;
                    return Ok(Rebuilt::Skipped(why));
                }
                Ok(Streamed::Taken(disk)) => {
                    // Only the shards this attempt wrote go to GC: not the
                    // stray one on `disk`, which is not ours.
                    for s in named.shards.iter_mut() {
                        if s.as_ref().is_some_and(|l| l.disk == disk) {
                            *s = None;
                        }
                    }
                    self.abandon_intent(&ik, named).await;
                    taken.push(disk);
                }
                Err(e) => {
                    self.abandon_intent(&ik, named).await;
                    return Err(e);
                }
            }
        }
        Ok(Rebuilt::Skipped(
            "every disk tried holds a stray shard of this object; GC will reclaim them".into(),
        ))
    }

    /// Replacements for `lost` when some go back onto the disk of their own
    /// damaged copy (in `t.in_place`, reachable): those first, the rest by
    /// placement counting them as kept; `None` when that cannot place them
    /// all either.
    #[allow(clippy::too_many_arguments)]
    fn in_place(
        &self,
        snap: &Snapshot,
        seg: &Segment,
        lost: &[usize],
        t: &Targets<'_>,
        kept: &[(Uuid, String)],
        candidates: &[objectio_cluster::placement::Candidate],
        total: usize,
    ) -> Option<Vec<(usize, ShardLocation)>> {
        let own: Vec<(usize, ShardLocation)> = lost
            .iter()
            .filter(|i| t.in_place.contains(i))
            .filter_map(|i| Some((*i, seg.shards[*i].clone()?)))
            .filter(|(_, l)| snap.is_reachable(l))
            .collect();
        if own.is_empty() {
            return None;
        }
        let mut kept = kept.to_vec();
        for (_, l) in &own {
            kept.push((l.disk, snap.osds.get(&l.osd)?.failure_domain.clone()));
        }
        let rest: Vec<usize> = lost
            .iter()
            .copied()
            .filter(|i| !own.iter().any(|(j, _)| j == i))
            .collect();
        let more = objectio_cluster::placement::place_more(
            seg.version_id.as_bytes(),
            candidates,
            &kept,
            total,
            rest.len(),
        )
        .ok()?;
        let mut out = own;
        out.extend(rest.into_iter().zip(more).map(|(i, c)| {
            (
                i,
                ShardLocation {
                    osd: c.osd,
                    disk: c.disk,
                },
            )
        }));
        Some(out)
    }

    /// Streams every stripe's reconstructed chunks to the new shards and
    /// seals them. A replaced shard is read too when `seg` has a copy of it
    /// the record does not name (found elsewhere by a forced repair). When
    /// every shard replaced is a move in `copy`, a stripe's chunks are
    /// copied as they are (one read per new shard, no decode); a stripe
    /// whose copy cannot be read is decoded from the other shards.
    #[allow(clippy::too_many_arguments)]
    async fn stream_rebuilt(
        &self,
        snap: &Snapshot,
        rec: &ObjectRecord,
        recorded: &Segment,
        seg: &Segment,
        g: &Geometry,
        replaced: &[(usize, ShardLocation)],
        copy: &[usize],
        etag: &str,
    ) -> Result<Streamed> {
        let (k, m) = (g.k, g.m);
        let mut puts = Vec::with_capacity(replaced.len());
        for (i, loc) in replaced {
            let addr = snap
                .address(&loc.osd)
                .ok_or_else(|| Error::Unavailable(format!("OSD {} is not up", loc.osd)))?;
            let header = ShardHeader {
                format: SHARD_FORMAT,
                cluster_id: self.inner.config.cluster_id,
                bucket: rec.bucket.clone(),
                key: rec.key.clone(),
                id: shard_id(seg.version_id, seg.part, *i),
                k: k as u8,
                m: m as u8,
                chunk_size: g.chunk_size as u32,
                object_size: seg.size,
                created_ms: now_millis(),
                // As the original shards carry it: a single-part object's.
                meta: if rec.parts.is_empty() {
                    crate::shard_meta(&rec.content_type, &rec.user_metadata)
                } else {
                    None
                },
            };
            if recorded.shards[*i].as_ref() == Some(loc) {
                // In place of its damaged copy: that goes first (a disk
                // holds one shard of an id).
                let id = shard_id(seg.version_id, seg.part, *i);
                match self.inner.shards.delete(&addr, loc.disk, id).await {
                    Ok(()) => {}
                    Err(e) if e.code() == Some(objectio_shard::proto::ErrorCode::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
                tracing::info!(bucket = %rec.bucket, key = %rec.key, shard = i, disk = %loc.disk, "rebuilding a damaged shard in place: no other disk under the failure-domain cap");
            }
            match self.inner.shards.put(&addr, loc.disk, header).await {
                Ok(p) => puts.push((*i, p)),
                Err(e) if e.code() == Some(objectio_shard::proto::ErrorCode::Exists) => {
                    return Ok(Streamed::Taken(loc.disk));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let skip: Vec<usize> = replaced
            .iter()
            .map(|(i, _)| *i)
            .filter(|i| !copy.contains(i))
            .filter(|i| seg.shards[*i].is_none() || seg.shards[*i] == recorded.shards[*i])
            .collect();
        let copying = replaced.iter().all(|(i, _)| copy.contains(i));
        let mut encoder = Encoder::new(k, m);
        for s in 0..g.stripes() {
            if copying {
                let mut got = Vec::with_capacity(puts.len());
                for (i, _) in &puts {
                    match self.read_chunk(rec, seg, *i, s).await {
                        crate::ChunkRead::Ok(b) => got.push(b),
                        _ => break,
                    }
                }
                if got.len() == puts.len() {
                    for ((_, p), b) in puts.iter_mut().zip(got) {
                        p.send(&Bytes::from(b)).await?;
                    }
                    continue;
                }
            }
            let chunks: Vec<Option<Vec<u8>>> = self
                .read_stripe_chunks(rec, seg, s, &skip)
                .await
                .into_iter()
                .map(crate::ChunkRead::data)
                .collect();
            let have = chunks.iter().filter(|c| c.is_some()).count();
            let data = match decode_stripe(k, m, s, chunks) {
                Ok(d) => d,
                Err(_) => {
                    return Ok(Streamed::Short(format!(
                        "stripe {s} of part {} has {have} readable chunks, fewer than k={k}",
                        seg.part
                    )));
                }
            };
            let parity = if puts.iter().any(|(i, _)| *i >= k) {
                let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
                encoder.encode(&refs)?
            } else {
                Vec::new()
            };
            for (i, p) in puts.iter_mut() {
                let chunk = if *i < k { &data[*i] } else { &parity[*i - k] };
                p.send(&Bytes::copy_from_slice(chunk)).await?;
            }
        }
        for (_, p) in puts {
            p.finish(etag).await?;
        }
        Ok(Streamed::Done)
    }

    /// Turns an intent into a GC record of `seg` (only while it exists: a
    /// commit whose answer was lost removed it, and its shards are live).
    /// When etcd cannot be reached now it is tried again in the background
    /// (safe: each try compares the intent), so a live writer's failed
    /// write does not keep its shards until it stops.
    pub(crate) async fn abandon_intent(&self, ik: &str, seg: Segment) {
        match self.index().abandon(ik, seg.clone()).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(intent = %ik, "the intent is gone: the commit went through after all; shards kept");
            }
            Err(e) => {
                tracing::warn!(intent = %ik, error = %e, "could not queue abandoned shards for GC; retrying in the background");
                let (this, ik) = (self.clone(), ik.to_string());
                tokio::spawn(async move {
                    let mut wait = std::time::Duration::from_millis(200);
                    for _ in 0..60 {
                        tokio::time::sleep(wait).await;
                        match this.index().abandon(&ik, seg.clone()).await {
                            Ok(_) => return,
                            Err(_) => wait = (wait * 2).min(std::time::Duration::from_secs(10)),
                        }
                    }
                    tracing::error!(intent = %ik, "could not queue abandoned shards for GC; the intent stays for GC to reclaim");
                });
            }
        }
    }
}

/// The shards one rebuild writes anew (`fix`), of which `copy` are moves
/// read from where they are, and the disks the new ones may go to.
#[derive(Clone, Copy)]
struct Targets<'a> {
    fix: &'a [usize],
    copy: &'a [usize],
    only: Option<&'a [Uuid]>,
    /// Damaged shards whose replacement may take their own disk.
    in_place: &'a [usize],
}

enum Streamed {
    Done,
    /// A stripe has fewer than `k` readable chunks: why.
    Short(String),
    /// The disk already holds a shard of this id.
    Taken(Uuid),
}

enum Rebuilt {
    Done {
        replaced: Vec<(usize, ShardLocation)>,
        intent: String,
        bytes: u64,
    },
    Skipped(String),
}
