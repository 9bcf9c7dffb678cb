//! The one path that writes shards: placement, intent, streaming the
//! body stripe by stripe to one task per shard, and sealing.

use bytes::{Buf, Bytes};
use futures::{Stream, StreamExt, future::join_all};
use objectio_cluster::{
    IntentRecord, SCHEMA_VERSION, Segment, ShardLocation, now_millis, now_secs,
};
use objectio_codec::{Encoder, Geometry};
use objectio_shard::{SHARD_FORMAT, ShardHeader, ShardMeta};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{Digests, Error, Hashers, Objects, Result, Wanted, shard_id};

/// What is being written.
pub(crate) struct Target<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    /// 0 for a PUT, the part number for an UploadPart, [`MANIFEST_PART`]
    /// for a multipart object's manifest
    /// ([`objectio_shard::MANIFEST_PART`]).
    pub part: u32,
    pub size: u64,
    /// Metadata the shard headers carry (a single-part object's).
    pub meta: Option<ShardMeta>,
    /// The data key the bytes are encrypted with, if any.
    pub data_key: Option<&'a crate::crypt::DataKey>,
}

/// Data written and sealed on the OSDs, not yet referenced by a record.
pub struct Written {
    pub segment: Segment,
    /// The profile the shards were written with.
    pub ec: objectio_cluster::EcProfile,
    pub digests: Digests,
    /// Hex MD5 of the data.
    pub etag: String,
    /// The intent naming the shards, removed by the commit.
    pub intent: Option<String>,
}

impl Objects {
    /// Writes `size` bytes of `body` as shards of a new data id and seals
    /// them with their MD5, after `verify` accepted the digests. The write
    /// quorum is `k+1`; a shard that failed is recorded as `None`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn write_data<S, E>(
        &self,
        target: Target<'_>,
        wanted: Wanted,
        mut body: S,
        verify: impl FnOnce(&Digests) -> Result<()>,
    ) -> Result<Written>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let (bucket, key, part, size) = (target.bucket, target.key, target.part, target.size);
        // A whole object (not a multipart part or manifest) small enough
        // is written as copies.
        let ec = match part {
            0 => self.inner.config.profile_for(size),
            _ => self.inner.config.ec,
        };
        let (k, m) = (ec.k as usize, ec.m as usize);
        let g = Geometry::new(k, m, ec.chunk_size as u64, size);
        let version_id = Uuid::new_v4();
        let mut hashers = Hashers::new(wanted);
        let mut segment = Segment {
            version_id,
            part,
            size,
            shards: vec![None; k + m],
        };
        if g.stripes() == 0 {
            // Empty: no shards, only the digests.
            match body.next().await {
                None => {}
                Some(Ok(b)) if b.is_empty() => {}
                Some(Ok(_)) => return Err(Error::Body("body longer than Content-Length".into())),
                Some(Err(e)) => return Err(Error::Body(e.to_string())),
            }
            let digests = hashers.finish();
            verify(&digests)?;
            return Ok(Written {
                segment,
                ec,
                etag: hex::encode(digests.md5),
                digests,
                intent: None,
            });
        }
        let mut snap = self.inner.map.get();
        let mut placed =
            objectio_cluster::placement::place(version_id.as_bytes(), &snap.candidates(), k + m);
        if placed.is_err() {
            // The map may lag an OSD that just came up: read it again once.
            self.inner
                .map
                .refresh_if_older(std::time::Duration::from_millis(200))
                .await?;
            snap = self.inner.map.get();
            placed = objectio_cluster::placement::place(
                version_id.as_bytes(),
                &snap.candidates(),
                k + m,
            );
        }
        // Full placement, or a degraded one at the write quorum when an OSD
        // down leaves a failure domain short (its shards are recorded as
        // missing, and the object counts as degraded until repaired).
        let placed: Vec<Option<objectio_cluster::placement::Candidate>> = match placed {
            Ok(p) => p.into_iter().map(Some).collect(),
            Err(full) => {
                let p = objectio_cluster::placement::place_at_least(
                    version_id.as_bytes(),
                    &snap.candidates(),
                    k + m,
                    (k + 1).min(k + m),
                )
                .map_err(|e| Error::Unavailable(e.to_string()))?;
                tracing::warn!(bucket, key, reason = %full, "degraded write: not every shard can be placed");
                p
            }
        };
        let locs: Vec<Option<ShardLocation>> = placed
            .iter()
            .map(|c| {
                c.as_ref().map(|c| ShardLocation {
                    osd: c.osd.clone(),
                    disk: c.disk,
                })
            })
            .collect();
        let ik = self.store().keys().intent(&version_id);
        let intent = IntentRecord {
            version: SCHEMA_VERSION,
            gateway: self.inner.gateway_id.clone(),
            incarnation: Some(self.inner.incarnation),
            writer: self.inner.writer,
            bucket: bucket.to_string(),
            key: key.to_string(),
            segment: Segment {
                shards: locs.clone(),
                ..segment.clone()
            },
            created: now_secs(),
        };
        // The intent is written while the shards stream: nothing is sealed
        // before it is durable (an unsealed shard goes with its connection),
        // so a PUT waits for one etcd round trip less. Both are waited
        // for, so a failure knows whether the intent exists.
        let (durable, streamed) = tokio::join!(
            self.store().put(ik.clone(), &intent),
            self.stream_shards(
                &target,
                &g,
                version_id,
                &locs,
                &snap,
                &mut body,
                &mut hashers,
            )
        );
        // Nothing is sealed on a failure: no shard needs reclaiming.
        let finishers = match (durable, streamed) {
            (Ok(_), Ok(w)) => w,
            (Ok(_), Err(e)) => {
                let _ = self.store().delete(ik).await;
                return Err(e);
            }
            // The writers drop with their seal channels: nothing is sealed.
            (Err(e), Ok(_)) => return Err(e.into()),
            (Err(_), Err(e)) => return Err(e),
        };
        let digests = hashers.finish();
        if let Err(e) = verify(&digests) {
            drop(finishers);
            let _ = self.store().delete(ik).await;
            return Err(e);
        }
        let etag = hex::encode(digests.md5);
        let mut ok = 0;
        let acks = join_all(finishers.into_iter().map(|(i, tx, handle)| {
            let etag = etag.clone();
            async move {
                let _ = tx.send(etag);
                (i, handle.await)
            }
        }))
        .await;
        for (i, r) in acks {
            match r {
                Ok(Ok(())) => {
                    segment.shards[i] = locs[i].clone();
                    ok += 1;
                }
                Ok(Err(e)) => tracing::warn!(shard = i, error = %e, "shard write failed"),
                Err(e) => tracing::warn!(shard = i, error = %e, "shard writer panicked"),
            }
        }
        let written = Written {
            segment,
            ec,
            digests,
            etag,
            intent: Some(ik),
        };
        let quorum = (k + 1).min(k + m);
        if ok < quorum {
            self.abandon(&written).await;
            return Err(Error::Unavailable(format!(
                "only {ok} of {} shards acknowledged (write quorum {quorum})",
                k + m
            )));
        }
        Ok(written)
    }

    /// Gives up on written data: its intent becomes a GC record, in one
    /// transaction, so the sealed shards are reclaimed — only while the
    /// intent still exists. A commit whose answer was lost (etcd timed out
    /// or changed leader after applying it) removed the intent in the same
    /// transaction that made the object live; queuing its shards for GC
    /// then would delete a live object's data.
    pub(crate) async fn abandon(&self, w: &Written) {
        let Some(ik) = &w.intent else { return };
        self.abandon_intent(ik, w.segment.clone()).await;
    }

    /// Streams the body to the shards; returns, per live shard, the channel
    /// that seals it with the ETag and the task that reports its ack.
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    async fn stream_shards<S, E>(
        &self,
        p: &Target<'_>,
        g: &Geometry,
        version_id: Uuid,
        locs: &[Option<ShardLocation>],
        snap: &crate::map::Snapshot,
        body: &mut S,
        hashers: &mut Hashers,
    ) -> Result<
        Vec<(
            usize,
            oneshot::Sender<String>,
            tokio::task::JoinHandle<objectio_shard::Result<()>>,
        )>,
    >
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let (k, m) = (g.k, g.m);
        let quorum = (k + 1).min(k + m);
        let mut senders: Vec<Option<mpsc::Sender<Bytes>>> = Vec::with_capacity(k + m);
        let mut finishers = Vec::with_capacity(k + m);
        for (i, loc) in locs.iter().enumerate() {
            let Some((loc, addr)) = loc.as_ref().and_then(|l| Some((l, snap.address(&l.osd)?)))
            else {
                senders.push(None);
                continue;
            };
            let header = ShardHeader {
                format: SHARD_FORMAT,
                cluster_id: self.inner.config.cluster_id,
                bucket: p.bucket.to_string(),
                key: p.key.to_string(),
                id: shard_id(version_id, p.part, i),
                k: k as u8,
                m: m as u8,
                chunk_size: g.chunk_size as u32,
                object_size: p.size,
                created_ms: now_millis(),
                meta: p.meta.clone(),
            };
            let (tx, mut rx) = mpsc::channel::<Bytes>(2);
            let (etx, erx) = oneshot::channel::<String>();
            let client = self.inner.shards.clone();
            let disk = loc.disk;
            let stripes = g.stripes();
            let handle = tokio::spawn(async move {
                // A one-chunk shard goes out in one write with its seal.
                let mut ps = client.open(&addr, disk, header).await?;
                if stripes > 1 {
                    ps.flush().await?;
                }
                while let Some(b) = rx.recv().await {
                    ps.send(&b).await?;
                }
                match erx.await {
                    Ok(etag) => ps.finish(&etag).await,
                    Err(_) => Err(objectio_shard::Error::Protocol {
                        addr: ps.addr().to_string(),
                        msg: "put abandoned".into(),
                    }),
                }
            });
            senders.push(Some(tx));
            finishers.push((i, etx, handle));
        }

        let mut encoder = Encoder::new(k, m);
        let mut pending = Bytes::new();
        let mut cipher = p
            .data_key
            .map(|k| crate::crypt::SegmentCipher::new(k, &version_id, 0));
        for s in 0..g.stripes() {
            let need = g.stripe_len(s) as usize;
            let cl = g.chunk_len(s) as usize;
            let mut stripe = vec![0u8; k * cl];
            let mut filled = 0;
            while filled < need {
                if pending.is_empty() {
                    match body.next().await {
                        Some(Ok(b)) => pending = b,
                        Some(Err(e)) => return Err(Error::Body(e.to_string())),
                        None => {
                            return Err(Error::IncompleteBody {
                                got: s * g.stripe_data() + filled as u64,
                                expected: p.size,
                            });
                        }
                    }
                    continue;
                }
                let n = pending.len().min(need - filled);
                stripe[filled..filled + n].copy_from_slice(&pending[..n]);
                hashers.update(&pending[..n]);
                pending.advance(n);
                filled += n;
            }
            // Hashed as sent, stored encrypted (the padding stays zeros).
            if let Some(c) = &mut cipher {
                c.apply(&mut stripe[..need]);
            }
            let stripe = Bytes::from(stripe);
            let data: Vec<&[u8]> = stripe.chunks(cl).collect();
            let parity = encoder.encode(&data)?;
            let mut chunks: Vec<Bytes> =
                (0..k).map(|i| stripe.slice(i * cl..(i + 1) * cl)).collect();
            chunks.extend(parity.into_iter().map(Bytes::from));
            let sends = senders
                .iter()
                .zip(chunks)
                .enumerate()
                .map(|(i, (tx, c))| async move {
                    match tx {
                        Some(tx) => (i, tx.send(c).await.is_ok()),
                        None => (i, false),
                    }
                });
            for (i, ok) in join_all(sends).await {
                if !ok && senders[i].take().is_some() {
                    tracing::warn!(shard = i, "shard writer failed mid-stream");
                }
            }
            let live = senders.iter().filter(|s| s.is_some()).count();
            if live < quorum {
                return Err(Error::Unavailable(format!(
                    "only {live} shard writers left (write quorum {quorum})"
                )));
            }
        }
        if !pending.is_empty() {
            return Err(Error::Body("body longer than Content-Length".into()));
        }
        while let Some(next) = body.next().await {
            match next {
                Ok(b) if b.is_empty() => {}
                Ok(_) => return Err(Error::Body("body longer than Content-Length".into())),
                Err(e) => return Err(Error::Body(e.to_string())),
            }
        }
        drop(senders);
        Ok(finishers)
    }
}
