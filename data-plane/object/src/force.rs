//! Forced repair of one object (`objectio-cli object repair --force`):
//! besides the shards its record names, every OSD that is up is asked for
//! shards of the object's data ids on any of its disks (out and drained
//! ones, and disks the record does not name, included), found by the
//! disks' own indexes and their self-describing headers. A copy counts only
//! when its header agrees with the record in everything (cluster, bucket,
//! key, data id, part, index, EC profile, chunk size, body size) and its
//! sealed ETag is the segment's. Every chunk of every shard used is read
//! and checked now; when some stripe has fewer than `k` good chunks the
//! object is lost there, nothing is written, and the stripes are named.
//! Otherwise every shard that is not whole on a disk in service is rebuilt
//! onto disks chosen by placement and swapped in as repair does.

use std::collections::BTreeSet;

use objectio_cluster::{ObjectRecord, Segment, ShardLocation};
use objectio_shard::proto::FoundShard;
use uuid::Uuid;

use crate::health::{ShardHealth, ShardVerdict};
use crate::repair::{Known, Outcome, Plan};
use crate::{Objects, Result};

/// Segments asked for per request (an answer stays well under a frame).
const IDS_PER_FIND: usize = 32;

/// What a forced repair came to.
#[derive(Clone, Debug)]
pub struct Forced {
    pub outcome: Outcome,
    /// Shards used that the record did not name where they were found.
    pub found_elsewhere: usize,
    /// `(part, stripe)` with fewer than `k` good chunks anywhere: lost.
    pub lost_stripes: Vec<(u32, u64)>,
}

impl Objects {
    /// Every shard of `segments` (data id, part) that any OSD up holds on
    /// any of its disks, by OSD, as the disks' own indexes have them (live
    /// shards only: a deleted one is gone from its disk's index). An OSD
    /// that does not answer is skipped (logged).
    pub async fn find_shards(&self, segments: &[(Uuid, u32)]) -> Vec<(String, FoundShard)> {
        let snap = self.inner.map.get();
        let mut found = Vec::new();
        let mut osds: Vec<&String> = snap.alive.iter().collect();
        osds.sort();
        for osd in osds {
            let Some(addr) = snap.address(osd) else {
                continue;
            };
            for batch in segments.chunks(IDS_PER_FIND) {
                match self.inner.shards.find(&addr, batch.to_vec()).await {
                    Ok(v) => found.extend(v.into_iter().map(|f| (osd.clone(), f))),
                    Err(e) => {
                        tracing::warn!(%osd, error = %e, "could not search an OSD for shards")
                    }
                }
            }
        }
        found
    }

    /// Repairs `rec` (read at revision `rev`) now from every copy of its
    /// shards that can be found; see the module docs.
    pub async fn repair_force(
        &self,
        rec: &ObjectRecord,
        rev: i64,
        known: &Known,
    ) -> Result<Forced> {
        let snap = self.inner.map.get();
        let segments = rec.all_segments();
        let ids: Vec<(Uuid, u32)> = segments
            .iter()
            .map(|s| (s.version_id, s.part))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let found = self.find_shards(&ids).await;
        let (k, m) = (rec.ec.k as usize, rec.ec.m as usize);
        let mut plan = Vec::new();
        let mut lost_stripes = Vec::new();
        let mut found_elsewhere = 0;
        for (si, seg) in segments.iter().enumerate() {
            let etag = rec.segment_etag(si);
            let stripes = crate::read::geometry(rec.ec, seg.size).stripes();
            // Every candidate of each index, read now: the record's own
            // first, then copies found elsewhere.
            let mut best: Vec<Option<(ShardLocation, ShardHealth)>> = vec![None; k + m];
            for (i, slot) in best.iter_mut().enumerate() {
                if stripes == 0 {
                    break;
                }
                let mut cands: Vec<ShardLocation> = Vec::new();
                if let Some(l) = seg.shards.get(i).cloned().flatten()
                    && snap.is_reachable(&l)
                {
                    cands.push(l);
                }
                for (osd, f) in &found {
                    let h = &f.stat.header;
                    let agrees = h.cluster_id == self.inner.config.cluster_id
                        && h.bucket == rec.bucket
                        && h.key == rec.key
                        && h.id == crate::shard_id(seg.version_id, seg.part, i)
                        && h.k as usize == k
                        && h.m as usize == m
                        && h.chunk_size == rec.ec.chunk_size
                        && h.object_size == seg.size
                        && f.stat.etag == etag;
                    let loc = ShardLocation {
                        osd: osd.clone(),
                        disk: f.disk,
                    };
                    if agrees && !cands.contains(&loc) {
                        cands.push(loc);
                    }
                }
                for loc in cands {
                    let mut h = ShardHealth {
                        index: i,
                        osd: Some(loc.osd.clone()),
                        disk: Some(loc.disk),
                        verdict: ShardVerdict::Ok,
                        chunks_ok: vec![false; stripes as usize],
                    };
                    self.read_shard(&snap, seg, i, &loc, &mut h).await;
                    let good = h.chunks_ok.iter().filter(|c| **c).count();
                    let better = slot
                        .as_ref()
                        .is_none_or(|(_, b)| good > b.chunks_ok.iter().filter(|c| **c).count());
                    if better {
                        *slot = Some((loc, h));
                    }
                }
            }
            for s in 0..stripes {
                let good = best
                    .iter()
                    .flatten()
                    .filter(|(_, h)| h.chunks_ok[s as usize])
                    .count();
                if good < k {
                    lost_stripes.push((seg.part, s));
                }
            }
            // Read from the best copy of each index; rebuild every index
            // whose recorded shard is not whole and in service.
            let mut source = Segment {
                shards: vec![None; k + m],
                ..seg.clone()
            };
            let mut rebuild = Vec::new();
            let mut adopt = Vec::new();
            for (i, b) in best.iter().enumerate() {
                let recorded = seg.shards.get(i).cloned().flatten();
                if let Some((loc, h)) = b {
                    source.shards[i] = Some(loc.clone());
                    let whole = h.verdict == ShardVerdict::Ok && !snap.is_lost(loc);
                    if recorded.as_ref() != Some(loc) {
                        found_elsewhere += 1;
                        // A whole copy in service is taken as it is, unless
                        // an intent or GC record names it (GC would delete
                        // it): then it is only read from.
                        let named = known
                            .named
                            .contains(&(seg.version_id, seg.part, i, loc.disk));
                        if whole && !named {
                            adopt.push((i, loc.clone()));
                            continue;
                        }
                    } else if whole {
                        continue;
                    }
                }
                if stripes > 0 {
                    rebuild.push(i);
                }
            }
            plan.push(Plan {
                rebuild,
                source,
                adopt,
                moves: Vec::new(),
                only: None,
            });
        }
        if !lost_stripes.is_empty() {
            let names: Vec<String> = lost_stripes
                .iter()
                .map(|(p, s)| format!("part {p} stripe {s}"))
                .collect();
            return Ok(Forced {
                outcome: Outcome::Skipped(format!(
                    "fewer than k={k} good chunks anywhere in {}",
                    names.join(", ")
                )),
                found_elsewhere,
                lost_stripes,
            });
        }
        // Rebuilt shards read from the copies; the chunks known bad in them
        // are skipped by their checksums as any read does.
        let outcome = self
            .repair_plan(rec, rev, known, plan, &crate::repair::Home::Object)
            .await?;
        Ok(Forced {
            outcome,
            found_elsewhere,
            lost_stripes,
        })
    }
}
