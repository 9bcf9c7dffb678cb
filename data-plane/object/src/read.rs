//! The one path that reads an object: record segments → stripes → data
//! chunks, decoded from parity when a chunk is missing, unreachable or
//! corrupt; streamed with one stripe of prefetch.

use bytes::Bytes;
use futures::{Stream, StreamExt, future::join_all};
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
    /// Returns once the first stripe is read (decoded if it must be), so an
    /// unreadable object fails here rather than mid-body; each later
    /// stripe's data chunks are fetched together and handed on in order as
    /// each arrives (a missing or corrupt one turns the rest of its stripe
    /// into a decode from parity), read ahead while the client drains the
    /// channel.
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
        let (tx, mut rx) = mpsc::channel::<Result<Bytes>>(2 * rec.ec.k.max(1) as usize);
        let this = self.clone();
        let (ec, bucket, key) = (rec.ec, rec.bucket.clone(), rec.key.clone());
        tokio::spawn(async move {
            for (n, step) in steps.into_iter().enumerate() {
                let seg = &segments[step.seg];
                let g = geometry(ec, seg.size);
                let sbase = step.base + step.stripe * g.stripe_data();
                let len = g.stripe_len(step.stripe);
                let cl = g.chunk_len(step.stripe);
                // Chunk i of this stripe holds object bytes [c0, c1).
                let piece = |i: usize, chunk: Bytes| -> Option<Bytes> {
                    let c0 = sbase + i as u64 * cl;
                    let c1 = (c0 + cl).min(sbase + len);
                    let (a, b) = (c0.max(start), c1.min(end));
                    if a >= b {
                        return None;
                    }
                    let range = (a - c0) as usize..(b - c0) as usize;
                    Some(match &data_key {
                        None => chunk.slice(range),
                        Some(k) => {
                            // Stored encrypted: decrypt from the piece's
                            // place in its segment.
                            let mut plain = chunk[range].to_vec();
                            crate::crypt::SegmentCipher::new(k, &seg.version_id, a - step.base)
                                .apply(&mut plain);
                            Bytes::from(plain)
                        }
                    })
                };
                let sent = this
                    .stream_stripe(
                        Of(&bucket, &key),
                        seg,
                        ec,
                        step.stripe,
                        n == 0,
                        |i, chunk| {
                            let tx = tx.clone();
                            let p = piece(i, chunk);
                            async move {
                                match p {
                                    Some(p) => tx.send(Ok(p)).await.is_ok(),
                                    None => true,
                                }
                            }
                        },
                    )
                    .await;
                match sent {
                    Ok(true) => {}
                    Ok(false) => return, // the client went away
                    Err(e) => {
                        tracing::error!(%bucket, %key, part = seg.part, stripe = step.stripe, error = %e, "read failed");
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        });
        // The first bytes, or why there are none.
        let first = match rx.recv().await {
            Some(Ok(b)) => Some(b),
            Some(Err(e)) => return Err(e),
            None => None,
        };
        let rest =
            tokio_stream_from(rx).map(|r| r.map_err(|e| std::io::Error::other(e.to_string())));
        Ok(futures::stream::iter(first.map(Ok)).chain(rest))
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

    /// Reads the `k` data chunks of stripe `s` of a segment, all at once,
    /// and hands each to `emit` in order as soon as it and those before it
    /// are in; from the first one missing, unreachable or corrupt on, the
    /// stripe is decoded from parity and the rest handed on from that.
    /// With `whole`, nothing is handed on before the whole stripe is known
    /// good (read or decoded). `emit` answers whether to go on; so does
    /// this (`Ok(false)`: it said stop).
    async fn stream_stripe<F, Fut>(
        &self,
        of: Of<'_>,
        seg: &Segment,
        ec: EcProfile,
        s: u64,
        whole: bool,
        mut emit: F,
    ) -> Result<bool>
    where
        F: FnMut(usize, Bytes) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let (k, m) = (ec.k as usize, ec.m as usize);
        let cl = geometry(ec, seg.size).chunk_len(s) as usize;
        let snap = self.inner.map.get();
        let snap = &snap;
        let fetch = |i: usize| async move {
            self.fetch_chunk(of, snap, seg, i, s, cl)
                .await
                .data()
                .map(Bytes::from)
        };
        let mut data: futures::stream::FuturesOrdered<_> = (0..k).map(fetch).collect();
        let mut got: Vec<Option<Bytes>> = Vec::with_capacity(k + m);
        while let Some(c) = data.next().await {
            match c {
                Some(b) if !whole && got.len() == got.iter().flatten().count() => {
                    // Every chunk before this one came: it goes out now.
                    got.push(Some(b.clone()));
                    if !emit(got.len() - 1, b).await {
                        return Ok(false);
                    }
                }
                c => got.push(c),
            }
        }
        let sent = if whole {
            0
        } else {
            got.iter().take_while(|c| c.is_some()).count()
        };
        if sent == k {
            return Ok(true);
        }
        if got.iter().all(Option::is_some) {
            // Whole and every data chunk read: no decoding.
            for (i, c) in got.into_iter().flatten().enumerate() {
                if !emit(i, c).await {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        got.extend(join_all((k..k + m).map(fetch)).await);
        let chunks = got.into_iter().map(|c| c.map(Vec::from)).collect();
        let decoded =
            decode_stripe(k, m, s, chunks).map_err(|e| Error::Unavailable(e.to_string()))?;
        for (i, c) in decoded.into_iter().enumerate().skip(sent) {
            if !emit(i, Bytes::from(c)).await {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
