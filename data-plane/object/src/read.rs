//! The one path that reads an object: record segments → stripes → data
//! chunks, decoded from parity when a chunk is missing, unreachable or
//! corrupt; streamed with one stripe of prefetch.

use bytes::Bytes;
use futures::{Stream, future::join_all};
use objectio_cluster::{EcProfile, ObjectRecord, Segment};
use objectio_codec::{Geometry, decode_stripe};
use objectio_shard::client::Chunk;
use tokio::sync::mpsc;

use super::{Error, Objects, Result, shard_id, tokio_stream_from};

/// One stripe to read: a segment (by index), where the segment starts in
/// the object, and the stripe number within it.
#[derive(Clone, Copy)]
struct Step {
    seg: usize,
    base: u64,
    stripe: u64,
}

/// What reading one chunk came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkRead {
    /// Its bytes, which matched their CRC32C.
    Ok(Vec<u8>),
    /// The record has no shard at that index (never written).
    Missing,
    /// Its OSD is down.
    Unreachable,
    /// The bytes on disk fail their checksum (reported for repair).
    Corrupt,
    /// The OSD could not read it, or has no such shard: why.
    Unreadable(String),
}

impl ChunkRead {
    /// The bytes, if good.
    pub fn data(self) -> Option<Vec<u8>> {
        match self {
            ChunkRead::Ok(b) => Some(b),
            _ => None,
        }
    }
}

/// The object a segment belongs to (bucket, key), for damage reports.
#[derive(Clone, Copy)]
pub(crate) struct Of<'a>(pub &'a str, pub &'a str);

pub(crate) fn geometry(ec: EcProfile, size: u64) -> Geometry {
    Geometry::new(ec.k as usize, ec.m as usize, ec.chunk_size as u64, size)
}

impl Objects {
    /// Reads object bytes `[start, end)` as a stream, decrypted with
    /// `data_key` when the object is encrypted (it must come exactly then).
    /// The first stripe is read before returning, so an unreadable object
    /// fails here rather than mid-body; later stripes are prefetched one
    /// ahead.
    pub async fn read(
        &self,
        rec: &ObjectRecord,
        start: u64,
        end: u64,
        data_key: Option<&crate::DataKey>,
    ) -> Result<impl Stream<Item = std::io::Result<Bytes>> + Send + Sync + 'static + use<>> {
        if rec.encryption.is_some() != data_key.is_some() {
            return Err(if data_key.is_none() {
                Error::KeyNeeded
            } else {
                Error::InvalidArgument("the object is not encrypted".into())
            });
        }
        let data_key = data_key.cloned();
        let segments = rec.segments();
        let mut steps = Vec::new();
        let mut base = 0u64;
        for (i, seg) in segments.iter().enumerate() {
            let (a, b) = (start.max(base), end.min(base + seg.size));
            if a < b {
                for stripe in geometry(rec.ec, seg.size).stripes_for_range(a - base, b - base) {
                    steps.push(Step {
                        seg: i,
                        base,
                        stripe,
                    });
                }
            }
            base += seg.size;
        }
        let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(2 * rec.ec.k.max(1) as usize);
        let mut first = None;
        if let Some(s) = steps.first() {
            let of = Of(&rec.bucket, &rec.key);
            first = Some(
                self.read_stripe(of, &segments[s.seg], rec.ec, s.stripe)
                    .await?,
            );
        }
        let this = self.clone();
        let (ec, bucket, key) = (rec.ec, rec.bucket.clone(), rec.key.clone());
        tokio::spawn(async move {
            let mut next = first;
            for step in steps {
                let seg = &segments[step.seg];
                let data = match next.take() {
                    Some(d) => d,
                    None => match this
                        .read_stripe(Of(&bucket, &key), seg, ec, step.stripe)
                        .await
                    {
                        Ok(d) => d,
                        Err(e) => {
                            tracing::error!(%bucket, %key, part = seg.part, stripe = step.stripe, error = %e, "read failed mid-body");
                            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                            return;
                        }
                    },
                };
                let g = geometry(ec, seg.size);
                let sbase = step.base + step.stripe * g.stripe_data();
                let len = g.stripe_len(step.stripe);
                let cl = g.chunk_len(step.stripe);
                for (i, chunk) in data.into_iter().enumerate() {
                    // Object bytes held by chunk i of this stripe.
                    let c0 = sbase + i as u64 * cl;
                    let c1 = (c0 + cl).min(sbase + len);
                    let (a, b) = (c0.max(start), c1.min(end));
                    if a >= b {
                        continue;
                    }
                    let range = (a - c0) as usize..(b - c0) as usize;
                    let piece = match &data_key {
                        None => Bytes::from(chunk).slice(range),
                        Some(k) => {
                            // Stored encrypted: decrypt from the piece's
                            // place in its segment.
                            let mut plain = chunk[range].to_vec();
                            crate::crypt::SegmentCipher::new(k, &seg.version_id, a - step.base)
                                .apply(&mut plain);
                            Bytes::from(plain)
                        }
                    };
                    if tx.send(Ok(piece)).await.is_err() {
                        return; // client went away
                    }
                }
            }
        });
        Ok(tokio_stream_from(rx))
    }

    /// Reads chunk `i` of stripe `s` of a segment, with its verdict; a
    /// corrupt one is logged and reported for repair.
    async fn fetch_chunk(
        &self,
        of: Of<'_>,
        snap: &crate::map::Snapshot,
        seg: &Segment,
        i: usize,
        s: u64,
        cl: usize,
    ) -> ChunkRead {
        let Some(loc) = seg.shards.get(i).cloned().flatten() else {
            return ChunkRead::Missing;
        };
        let Some(addr) = snap.address(&loc.osd) else {
            return ChunkRead::Unreachable;
        };
        let (vid, part) = (seg.version_id, seg.part);
        match self
            .inner
            .shards
            .get(&addr, loc.disk, shard_id(vid, part, i), s as u32, 1)
            .await
        {
            Ok(mut v) => match v.pop() {
                Some(Chunk::Ok(b)) if b.len() == cl => ChunkRead::Ok(b),
                Some(Chunk::Corrupt) => {
                    tracing::warn!(%vid, part, shard = i, stripe = s, osd = %loc.osd, "corrupt chunk: decoding from parity; shard needs repair");
                    self.report_damaged(of, seg, i, &loc, format!("chunk {s} fails its checksum"));
                    ChunkRead::Corrupt
                }
                other => {
                    tracing::warn!(%vid, part, shard = i, stripe = s, osd = %loc.osd, ?other, "unreadable chunk");
                    ChunkRead::Unreadable(format!("{other:?}"))
                }
            },
            Err(e) => {
                tracing::warn!(%vid, part, shard = i, stripe = s, error = %e, "shard read failed");
                ChunkRead::Unreadable(e.to_string())
            }
        }
    }

    /// Reads every chunk of stripe `s` of segment `seg` of `rec` (one of
    /// [`ObjectRecord::all_segments`], or one with other shard locations,
    /// as a forced repair builds) in parallel, each with its verdict; the
    /// indices in `skip` are not read (answered `Missing`).
    pub async fn read_stripe_chunks(
        &self,
        rec: &ObjectRecord,
        seg: &Segment,
        s: u64,
        skip: &[usize],
    ) -> Vec<ChunkRead> {
        let snap = self.inner.map.get();
        let snap = &snap;
        let cl = geometry(rec.ec, seg.size).chunk_len(s) as usize;
        let of = Of(&rec.bucket, &rec.key);
        join_all((0..rec.ec.total()).map(|i| async move {
            if skip.contains(&i) {
                ChunkRead::Missing
            } else {
                self.fetch_chunk(of, snap, seg, i, s, cl).await
            }
        }))
        .await
    }

    /// Reads chunk `i` of stripe `s` of segment `seg` of `rec`, with its
    /// verdict.
    pub async fn read_chunk(
        &self,
        rec: &ObjectRecord,
        seg: &Segment,
        i: usize,
        s: u64,
    ) -> ChunkRead {
        let snap = self.inner.map.get();
        let cl = geometry(rec.ec, seg.size).chunk_len(s) as usize;
        self.fetch_chunk(Of(&rec.bucket, &rec.key), &snap, seg, i, s, cl)
            .await
    }

    /// Reads the `k` data chunks of stripe `s` of a segment, decoding from
    /// parity when a data chunk is missing, unreachable or corrupt.
    async fn read_stripe(
        &self,
        of: Of<'_>,
        seg: &Segment,
        ec: EcProfile,
        s: u64,
    ) -> Result<Vec<Vec<u8>>> {
        let (k, m) = (ec.k as usize, ec.m as usize);
        let cl = geometry(ec, seg.size).chunk_len(s) as usize;
        let snap = self.inner.map.get();
        let snap = &snap;
        let fetch =
            |i: usize| async move { self.fetch_chunk(of, snap, seg, i, s, cl).await.data() };
        let mut chunks: Vec<Option<Vec<u8>>> = join_all((0..k).map(fetch)).await;
        if chunks.iter().any(Option::is_none) {
            chunks.extend(join_all((k..k + m).map(fetch)).await);
        } else {
            chunks.resize(k + m, None);
        }
        decode_stripe(k, m, s, chunks).map_err(|e| Error::Unavailable(e.to_string()))
    }
}
