//! The health of one object, read now: every shard of every segment, each
//! chunk fetched and checked against its CRC32C by the OSD.

use objectio_cluster::ObjectRecord;
use objectio_codec::Geometry;
use objectio_shard::client::Chunk;
use uuid::Uuid;

use crate::{Objects, shard_id};

/// What one shard is, read now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShardVerdict {
    /// Every chunk read back and matched its checksum.
    Ok,
    /// Some chunks failed their checksum (`bad` of them).
    Corrupt { bad: u64 },
    /// Some chunks could not be read (I/O error), or the OSD has no such
    /// shard.
    Unreadable(String),
    /// Its OSD is down: it may come back.
    Unreachable,
    /// Not in service: never written, or its disk is out, gone or replaced.
    Lost,
}

/// One shard of a segment.
#[derive(Clone, Debug)]
pub struct ShardHealth {
    pub index: usize,
    pub osd: Option<String>,
    pub disk: Option<Uuid>,
    pub verdict: ShardVerdict,
    /// Per chunk (stripe): whether it read back whole.
    pub chunks_ok: Vec<bool>,
}

/// One segment (the whole object, or one part).
#[derive(Clone, Debug)]
pub struct SegmentHealth {
    pub part: u32,
    pub size: u64,
    pub shards: Vec<ShardHealth>,
    /// Stripes with fewer than `k` chunks readable now.
    pub unreadable_stripes: Vec<u64>,
    /// Stripes that could not be read even with every down OSD back.
    pub lost_stripes: Vec<u64>,
}

/// Overall verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every shard whole.
    Healthy,
    /// Readable, with less than full redundancy.
    Degraded,
    /// Not readable now, but would be with the down OSDs back.
    AtRisk,
    /// Some stripe has fewer than `k` chunks anywhere: that data is gone.
    Lost,
}

/// The health of an object.
#[derive(Clone, Debug)]
pub struct ObjectHealth {
    pub segments: Vec<SegmentHealth>,
    /// The fewest readable chunks of any stripe, minus `k`: how many more
    /// shards the object can lose (negative when unreadable).
    pub redundancy_left: i64,
    pub verdict: Verdict,
}

/// Chunks read per request when checking a shard.
const BATCH: u32 = 8;

impl Objects {
    /// Reads every chunk of every shard of `rec` now.
    pub async fn health(&self, rec: &ObjectRecord) -> ObjectHealth {
        let snap = self.inner.map.get();
        let (k, m) = (rec.ec.k as usize, rec.ec.m as usize);
        let mut segments = Vec::new();
        let mut worst = i64::MAX;
        let mut verdict = Verdict::Healthy;
        for seg in rec.all_segments() {
            let g = Geometry::new(k, m, rec.ec.chunk_size as u64, seg.size);
            let stripes = g.stripes();
            let mut shards = Vec::new();
            for i in 0..k + m {
                let loc = seg.shards.get(i).cloned().flatten();
                let mut h = ShardHealth {
                    index: i,
                    osd: loc.as_ref().map(|l| l.osd.clone()),
                    disk: loc.as_ref().map(|l| l.disk),
                    verdict: ShardVerdict::Ok,
                    chunks_ok: vec![false; stripes as usize],
                };
                match &loc {
                    _ if stripes == 0 => {}
                    None => h.verdict = ShardVerdict::Lost,
                    Some(l) if snap.is_lost(l) => h.verdict = ShardVerdict::Lost,
                    Some(l) => self.read_shard(&snap, &seg, i, l, &mut h).await,
                }
                shards.push(h);
            }
            let mut unreadable = Vec::new();
            let mut lost = Vec::new();
            for s in 0..stripes {
                let now = shards.iter().filter(|h| h.chunks_ok[s as usize]).count();
                let later = now
                    + shards
                        .iter()
                        .filter(|h| h.verdict == ShardVerdict::Unreachable)
                        .count();
                worst = worst.min(now as i64 - k as i64);
                if now < k {
                    unreadable.push(s);
                }
                if later < k {
                    lost.push(s);
                }
            }
            let seg_verdict = if !lost.is_empty() {
                Verdict::Lost
            } else if !unreadable.is_empty() {
                Verdict::AtRisk
            } else if stripes > 0 && shards.iter().any(|h| h.verdict != ShardVerdict::Ok) {
                Verdict::Degraded
            } else {
                Verdict::Healthy
            };
            verdict = worse(verdict, seg_verdict);
            segments.push(SegmentHealth {
                part: seg.part,
                size: seg.size,
                shards,
                unreadable_stripes: unreadable,
                lost_stripes: lost,
            });
        }
        ObjectHealth {
            segments,
            redundancy_left: if worst == i64::MAX { m as i64 } else { worst },
            verdict,
        }
    }
    /// Reads every chunk of shard `i` of `seg` at `l` into `h` (its verdict
    /// and which chunks read back whole).
    pub(crate) async fn read_shard(
        &self,
        snap: &crate::map::Snapshot,
        seg: &objectio_cluster::Segment,
        i: usize,
        l: &objectio_cluster::ShardLocation,
        h: &mut ShardHealth,
    ) {
        let stripes = h.chunks_ok.len() as u64;
        match snap.address(&l.osd) {
            None => h.verdict = ShardVerdict::Unreachable,
            Some(addr) => {
                let id = shard_id(seg.version_id, seg.part, i);
                let mut bad = 0;
                let mut first = 0u32;
                while (first as u64) < stripes {
                    let n = BATCH.min(stripes as u32 - first);
                    match self.inner.shards.get(&addr, l.disk, id, first, n).await {
                        Ok(chunks) => {
                            for (j, c) in chunks.iter().enumerate() {
                                let at = first as usize + j;
                                match c {
                                    Chunk::Ok(_) => h.chunks_ok[at] = true,
                                    Chunk::Corrupt => bad += 1,
                                    Chunk::Error => {
                                        h.verdict = ShardVerdict::Unreadable(format!(
                                            "chunk {at} unreadable"
                                        ))
                                    }
                                }
                            }
                        }
                        Err(e) => {
                            h.verdict = ShardVerdict::Unreadable(e.to_string());
                            break;
                        }
                    }
                    first += n;
                }
                if bad > 0 && h.verdict == ShardVerdict::Ok {
                    h.verdict = ShardVerdict::Corrupt { bad };
                }
            }
        }
    }
}

fn worse(a: Verdict, b: Verdict) -> Verdict {
    let rank = |v: Verdict| match v {
        Verdict::Healthy => 0,
        Verdict::Degraded => 1,
        Verdict::AtRisk => 2,
        Verdict::Lost => 3,
    };
    if rank(b) > rank(a) { b } else { a }
}
