//! The object layer: buckets, and objects written as erasure-coded shards
//! streamed to OSDs with their records committed in etcd.
//!
//! Handlers of the S3 layer call this; it never sees HTTP.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use bytes::{Buf, Bytes};
use etcd_client::{Compare, CompareOp, GetOptions, Txn, TxnOp};
use futures::{Stream, StreamExt, future::join_all};
use md5::Digest;
use objectio_cluster::keys::prefix_end;
use objectio_cluster::store::{decode, encode};
use objectio_cluster::{
    BucketRecord, ClusterConfig, GcRecord, IntentRecord, ObjectRecord, SCHEMA_VERSION,
    ShardLocation, Store, now_millis, now_secs,
};
use objectio_codec::{Encoder, Geometry, decode_stripe};
use objectio_shard::client::Chunk;
use objectio_shard::{SHARD_FORMAT, ShardClient, ShardHeader, ShardId};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::map::ClusterMap;

/// Errors of the object layer; the S3 layer maps each to an S3 code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bucket {0} does not exist")]
    NoSuchBucket(String),
    #[error("key does not exist")]
    NoSuchKey,
    #[error("bucket {0} is not empty")]
    BucketNotEmpty(String),
    #[error("bucket already exists")]
    BucketExists { owned_by_you: bool },
    #[error("body ended after {got} of {expected} bytes")]
    IncompleteBody { got: u64, expected: u64 },
    #[error("{0}")]
    BadDigest(String),
    #[error("reading the request body: {0}")]
    Body(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Cluster(#[from] objectio_cluster::Error),
    #[error(transparent)]
    Codec(#[from] objectio_codec::Error),
    #[error("etcd: {0}")]
    Etcd(#[from] etcd_client::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checksums a PUT computes while streaming, besides MD5.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wanted {
    pub crc32: bool,
    pub crc32c: bool,
    pub sha256: bool,
}

/// Digests of a PUT body (base64 for the `x-amz-checksum-*` ones).
#[derive(Clone, Debug, Default)]
pub struct Digests {
    pub md5: [u8; 16],
    pub crc32: Option<String>,
    pub crc32c: Option<String>,
    pub sha256: Option<String>,
}

struct Hashers {
    md5: md5::Md5,
    crc32: Option<crc32fast::Hasher>,
    crc32c: Option<u32>,
    sha256: Option<sha2::Sha256>,
}

impl Hashers {
    fn new(w: Wanted) -> Self {
        Self {
            md5: md5::Md5::new(),
            crc32: w.crc32.then(crc32fast::Hasher::new),
            crc32c: w.crc32c.then_some(0),
            sha256: w.sha256.then(sha2::Sha256::new),
        }
    }

    fn update(&mut self, b: &[u8]) {
        self.md5.update(b);
        if let Some(h) = &mut self.crc32 {
            h.update(b);
        }
        if let Some(c) = &mut self.crc32c {
            *c = crc32c::crc32c_append(*c, b);
        }
        if let Some(h) = &mut self.sha256 {
            h.update(b);
        }
    }

    fn finish(self) -> Digests {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        Digests {
            md5: self.md5.finalize().into(),
            crc32: self.crc32.map(|h| b64(&h.finalize().to_be_bytes())),
            crc32c: self.crc32c.map(|c| b64(&c.to_be_bytes())),
            sha256: self.sha256.map(|h| b64(&h.finalize())),
        }
    }
}

/// What a PUT needs besides its body.
pub struct PutParams {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub content_type: Option<String>,
    pub user_metadata: BTreeMap<String, String>,
    pub wanted: Wanted,
}

/// One entry of a listing.
#[derive(Debug, Clone)]
pub struct ListEntry {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub created_ms: u64,
}

/// One page of a listing.
#[derive(Debug, Default)]
pub struct ListPage {
    pub objects: Vec<ListEntry>,
    pub prefixes: Vec<String>,
    /// Opaque token to continue after this page, when truncated.
    pub next: Option<String>,
}

/// The object layer. Cheap to clone.
#[derive(Clone)]
pub struct Objects {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: ClusterConfig,
    map: ClusterMap,
    shards: ShardClient,
    gateway_id: String,
}

fn shard_id(version_id: Uuid, i: usize) -> ShardId {
    ShardId {
        version_id,
        part: 0,
        index: i as u8,
    }
}

impl Objects {
    pub fn new(
        store: Store,
        config: ClusterConfig,
        map: ClusterMap,
        shards: ShardClient,
        gateway_id: String,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                config,
                map,
                shards,
                gateway_id,
            }),
        }
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    // ---- buckets ----

    /// Creates a bucket owned by `owner`.
    pub async fn create_bucket(&self, name: &str, owner: &str) -> Result<()> {
        let k = self.store().keys().bucket(name);
        let rec = BucketRecord {
            version: SCHEMA_VERSION,
            name: name.to_string(),
            owner: owner.to_string(),
            created: now_secs(),
        };
        if self.store().create(k.clone(), &rec).await? {
            return Ok(());
        }
        let owned_by_you = self
            .store()
            .get::<BucketRecord>(k)
            .await?
            .is_some_and(|(b, _)| b.owner == owner);
        Err(Error::BucketExists { owned_by_you })
    }

    /// Reads a bucket.
    pub async fn bucket(&self, name: &str) -> Result<BucketRecord> {
        self.store()
            .get::<BucketRecord>(self.store().keys().bucket(name))
            .await?
            .map(|(b, _)| b)
            .ok_or_else(|| Error::NoSuchBucket(name.to_string()))
    }

    /// Lists every bucket.
    pub async fn list_buckets(&self) -> Result<Vec<BucketRecord>> {
        Ok(self
            .store()
            .list::<BucketRecord>(self.store().keys().buckets_prefix())
            .await?
            .into_iter()
            .map(|(_, b)| b)
            .collect())
    }

    /// Deletes an empty bucket.
    pub async fn delete_bucket(&self, name: &str) -> Result<()> {
        let keys = self.store().keys();
        let bkey = keys.bucket(name);
        let prefix = keys.objects_prefix(name);
        let end = prefix_end(&prefix).expect("bucket prefix ends with '/'");
        // Deletes only if no object key exists in the bucket's range; a
        // concurrent PUT's commit compares the bucket key, so it fails.
        let txn = Txn::new()
            .when([
                Compare::version(bkey.clone(), CompareOp::Greater, 0),
                Compare::create_revision(prefix.clone(), CompareOp::Equal, 0).with_range(end),
            ])
            .and_then([TxnOp::delete(bkey, None)]);
        if self.store().kv().txn(txn).await?.succeeded() {
            return Ok(());
        }
        self.bucket(name).await?;
        Err(Error::BucketNotEmpty(name.to_string()))
    }

    // ---- objects ----

    /// Reads an object's record.
    pub async fn head(&self, bucket: &str, key: &str) -> Result<ObjectRecord> {
        match self
            .store()
            .get::<ObjectRecord>(self.store().keys().object(bucket, key))
            .await?
        {
            Some((r, _)) => Ok(r),
            None => {
                self.bucket(bucket).await?;
                Err(Error::NoSuchKey)
            }
        }
    }

    /// Stores an object from `body`, streaming stripe by stripe. `verify`
    /// sees the digests before the commit and may refuse it.
    pub async fn put<S, E>(
        &self,
        p: PutParams,
        mut body: S,
        verify: impl FnOnce(&Digests) -> Result<()>,
    ) -> Result<(ObjectRecord, Digests)>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.bucket(&p.bucket).await?;
        let ec = self.inner.config.ec;
        let (k, m) = (ec.k as usize, ec.m as usize);
        let g = Geometry::new(k, m, ec.chunk_size as u64, p.size);
        let version_id = Uuid::new_v4();
        let keys = self.store().keys().clone();
        let mut hashers = Hashers::new(p.wanted);
        let mut shards: Vec<Option<ShardLocation>> = vec![None; k + m];
        let mut intent_key = None;

        if g.stripes() > 0 {
            let snap = self.inner.map.get();
            let placed = objectio_cluster::placement::place(
                version_id.as_bytes(),
                &snap.candidates(),
                k + m,
            )
            .map_err(|e| Error::Unavailable(e.to_string()))?;
            let locs: Vec<Option<ShardLocation>> = placed
                .iter()
                .map(|c| {
                    Some(ShardLocation {
                        osd: c.osd.clone(),
                        disk: c.disk,
                    })
                })
                .collect();
            let ik = keys.intent(&version_id);
            self.store()
                .put(
                    ik.clone(),
                    &IntentRecord {
                        version: SCHEMA_VERSION,
                        gateway: self.inner.gateway_id.clone(),
                        bucket: p.bucket.clone(),
                        key: p.key.clone(),
                        version_id,
                        shards: locs.clone(),
                        created: now_secs(),
                    },
                )
                .await?;
            intent_key = Some(ik.clone());
            let written = match self
                .stream_shards(&p, &g, version_id, &locs, &snap, &mut body, &mut hashers)
                .await
            {
                Ok(w) => w,
                Err(e) => {
                    // Nothing was sealed: no shard needs reclaiming.
                    let _ = self.store().delete(ik).await;
                    return Err(e);
                }
            };
            let (digests, finish_tx) = (hashers.finish(), written);
            if let Err(e) = verify(&digests) {
                drop(finish_tx);
                let _ = self.store().delete(ik).await;
                return Err(e);
            }
            let etag = hex::encode(digests.md5);
            let mut ok = 0;
            let acks = join_all(finish_tx.into_iter().map(|(i, tx, handle)| {
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
                        shards[i] = locs[i].clone();
                        ok += 1;
                    }
                    Ok(Err(e)) => tracing::warn!(shard = i, error = %e, "shard write failed"),
                    Err(e) => tracing::warn!(shard = i, error = %e, "shard writer panicked"),
                }
            }
            let quorum = (k + 1).min(k + m);
            if ok < quorum {
                // The intent stays: GC reclaims the shards that were sealed.
                return Err(Error::Unavailable(format!(
                    "only {ok} of {} shards acknowledged (write quorum {quorum})",
                    k + m
                )));
            }
            let rec = self.record(&p, version_id, etag, &shards);
            self.commit(&rec, intent_key.as_deref()).await?;
            return Ok((rec, digests));
        }

        // Empty object: no shards, only the record.
        match body.next().await {
            None => {}
            Some(Ok(b)) if b.is_empty() => {}
            Some(Ok(_)) => return Err(Error::Body("body longer than Content-Length".into())),
            Some(Err(e)) => return Err(Error::Body(e.to_string())),
        }
        let digests = hashers.finish();
        verify(&digests)?;
        let rec = self.record(&p, version_id, hex::encode(digests.md5), &shards);
        self.commit(&rec, intent_key.as_deref()).await?;
        Ok((rec, digests))
    }

    fn record(
        &self,
        p: &PutParams,
        version_id: Uuid,
        etag: String,
        shards: &[Option<ShardLocation>],
    ) -> ObjectRecord {
        ObjectRecord {
            version: SCHEMA_VERSION,
            bucket: p.bucket.clone(),
            key: p.key.clone(),
            version_id,
            size: p.size,
            etag,
            content_type: p.content_type.clone(),
            user_metadata: p.user_metadata.clone(),
            created_ms: now_millis(),
            ec: self.inner.config.ec,
            shards: shards.to_vec(),
        }
    }

    /// Streams the body to the shards; returns, per live shard, the channel
    /// that seals it with the ETag and the task that reports its ack.
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    async fn stream_shards<S, E>(
        &self,
        p: &PutParams,
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
            let loc = loc.as_ref().expect("placed");
            let Some(addr) = snap.address(&loc.osd) else {
                senders.push(None);
                continue;
            };
            let header = ShardHeader {
                format: SHARD_FORMAT,
                cluster_id: self.inner.config.cluster_id,
                bucket: p.bucket.clone(),
                key: p.key.clone(),
                id: shard_id(version_id, i),
                k: k as u8,
                m: m as u8,
                chunk_size: g.chunk_size as u32,
                object_size: p.size,
                created_ms: now_millis(),
            };
            let (tx, mut rx) = mpsc::channel::<Bytes>(2);
            let (etx, erx) = oneshot::channel::<String>();
            let client = self.inner.shards.clone();
            let disk = loc.disk;
            let handle = tokio::spawn(async move {
                let mut ps = client.put(&addr, disk, header).await?;
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

    /// Commits `rec`, replacing any current version (queued for GC) and
    /// removing the intent, in one etcd transaction.
    async fn commit(&self, rec: &ObjectRecord, intent: Option<&str>) -> Result<()> {
        let keys = self.store().keys();
        let okey = keys.object(&rec.bucket, &rec.key);
        let bkey = keys.bucket(&rec.bucket);
        loop {
            let old = self.store().get::<ObjectRecord>(okey.clone()).await?;
            let mut cmp = vec![Compare::version(bkey.clone(), CompareOp::Greater, 0)];
            let mut ops = vec![TxnOp::put(okey.clone(), encode(rec), None)];
            match &old {
                Some((o, rev)) => {
                    cmp.push(Compare::mod_revision(okey.clone(), CompareOp::Equal, *rev));
                    if o.shards.iter().any(Option::is_some) {
                        ops.push(TxnOp::put(keys.gc(&o.version_id), encode(&gc_of(o)), None));
                    }
                }
                None => cmp.push(Compare::version(okey.clone(), CompareOp::Equal, 0)),
            }
            if let Some(i) = intent {
                ops.push(TxnOp::delete(i, None));
            }
            if self
                .store()
                .kv()
                .txn(Txn::new().when(cmp).and_then(ops))
                .await?
                .succeeded()
            {
                return Ok(());
            }
            // Lost a race: either the bucket went away or another writer
            // committed first (then we replace it).
            self.bucket(&rec.bucket).await?;
        }
    }

    /// Deletes an object; its shards are queued for GC.
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        let keys = self.store().keys();
        let okey = keys.object(bucket, key);
        loop {
            let Some((o, rev)) = self.store().get::<ObjectRecord>(okey.clone()).await? else {
                self.bucket(bucket).await?;
                return Ok(());
            };
            let mut ops = vec![TxnOp::delete(okey.clone(), None)];
            if o.shards.iter().any(Option::is_some) {
                ops.push(TxnOp::put(keys.gc(&o.version_id), encode(&gc_of(&o)), None));
            }
            let txn = Txn::new()
                .when([Compare::mod_revision(okey.clone(), CompareOp::Equal, rev)])
                .and_then(ops);
            if self.store().kv().txn(txn).await?.succeeded() {
                return Ok(());
            }
        }
    }

    /// Reads object bytes `[start, end)` as a stream. The first stripe is
    /// read before returning, so an unreadable object fails here rather
    /// than mid-body; later stripes are prefetched one ahead.
    pub async fn read(
        &self,
        rec: &ObjectRecord,
        start: u64,
        end: u64,
    ) -> Result<impl Stream<Item = std::io::Result<Bytes>> + Send + Sync + 'static + use<>> {
        let g = Geometry::new(
            rec.ec.k as usize,
            rec.ec.m as usize,
            rec.ec.chunk_size as u64,
            rec.size,
        );
        let stripes = g.stripes_for_range(start, end);
        let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(2 * g.k.max(1));
        let mut first = None;
        if !stripes.is_empty() {
            first = Some(self.read_stripe(rec, stripes.start).await?);
        }
        let this = self.clone();
        let rec = rec.clone();
        tokio::spawn(async move {
            let mut next = first;
            for s in stripes {
                let data = match next.take() {
                    Some(d) => d,
                    None => match this.read_stripe(&rec, s).await {
                        Ok(d) => d,
                        Err(e) => {
                            tracing::error!(bucket = %rec.bucket, key = %rec.key, stripe = s, error = %e, "read failed mid-body");
                            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                            return;
                        }
                    },
                };
                let base = s * g.stripe_data();
                let len = g.stripe_len(s);
                let cl = g.chunk_len(s);
                for (i, chunk) in data.into_iter().enumerate() {
                    // Object bytes held by chunk i of this stripe.
                    let c0 = base + i as u64 * cl;
                    let c1 = (c0 + cl).min(base + len);
                    let (a, b) = (c0.max(start), c1.min(end));
                    if a >= b {
                        continue;
                    }
                    let piece = Bytes::from(chunk).slice((a - c0) as usize..(b - c0) as usize);
                    if tx.send(Ok(piece)).await.is_err() {
                        return; // client went away
                    }
                }
            }
        });
        Ok(tokio_stream_from(rx))
    }

    /// Reads the `k` data chunks of stripe `s`, decoding from parity when a
    /// data chunk is missing, unreachable or corrupt.
    async fn read_stripe(&self, rec: &ObjectRecord, s: u64) -> Result<Vec<Vec<u8>>> {
        let (k, m) = (rec.ec.k as usize, rec.ec.m as usize);
        let g = Geometry::new(k, m, rec.ec.chunk_size as u64, rec.size);
        let cl = g.chunk_len(s) as usize;
        let snap = self.inner.map.get();
        let fetch = |i: usize| {
            let snap = snap.clone();
            let client = self.inner.shards.clone();
            let loc = rec.shards.get(i).cloned().flatten();
            let vid = rec.version_id;
            async move {
                let loc = loc?;
                let addr = snap.address(&loc.osd)?;
                match client
                    .get(&addr, loc.disk, shard_id(vid, i), s as u32, 1)
                    .await
                {
                    Ok(mut v) => match v.pop() {
                        Some(Chunk::Ok(b)) if b.len() == cl => Some(b),
                        Some(Chunk::Corrupt) => {
                            tracing::warn!(%vid, shard = i, stripe = s, osd = %loc.osd, "corrupt chunk: decoding from parity; shard needs repair");
                            None
                        }
                        other => {
                            tracing::warn!(%vid, shard = i, stripe = s, osd = %loc.osd, ?other, "unreadable chunk");
                            None
                        }
                    },
                    Err(e) => {
                        tracing::warn!(%vid, shard = i, stripe = s, error = %e, "shard read failed");
                        None
                    }
                }
            }
        };
        let mut chunks: Vec<Option<Vec<u8>>> = join_all((0..k).map(fetch)).await;
        if chunks.iter().any(Option::is_none) {
            chunks.extend(join_all((k..k + m).map(fetch)).await);
        } else {
            chunks.resize(k + m, None);
        }
        decode_stripe(k, m, s, chunks).map_err(|e| Error::Unavailable(e.to_string()))
    }

    /// Lists `bucket` in S3 order: keys under `prefix`, after the
    /// continuation token (or `start_after`), with keys sharing a prefix up
    /// to `delimiter` rolled up into one common prefix. A common prefix is
    /// skipped with one seek past it.
    pub async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        token: Option<&str>,
        start_after: Option<&str>,
        max_keys: usize,
    ) -> Result<ListPage> {
        self.bucket(bucket).await?;
        let keys = self.store().keys();
        let base = keys.objects_prefix(bucket);
        let mut full_prefix = base.clone();
        full_prefix.extend_from_slice(prefix.as_bytes());
        let end = prefix_end(&full_prefix)
            .unwrap_or_else(|| prefix_end(&base).expect("base ends with '/'"));
        let mut cursor = full_prefix.clone();
        let resume = match token {
            Some(t) => Some(
                decode_token(t).ok_or_else(|| Error::Body("invalid continuation token".into()))?,
            ),
            None => start_after.map(|s| format!("k{s}")),
        };
        if let Some(r) = resume {
            let (kind, name) = r.split_at(1);
            let mut at = base.clone();
            at.extend_from_slice(name.as_bytes());
            let after = if kind == "p" {
                prefix_end(&at).unwrap_or(end.clone())
            } else {
                at.push(0);
                at
            };
            if after > cursor {
                cursor = after;
            }
        }
        let mut page = ListPage::default();
        let mut last: Option<String> = None;
        let mut count = 0usize;
        'outer: while cursor < end {
            if count == max_keys {
                // Truncated only if anything is left.
                let more = self
                    .store()
                    .kv()
                    .get(
                        cursor.clone(),
                        Some(
                            GetOptions::new()
                                .with_range(end.clone())
                                .with_keys_only()
                                .with_limit(1),
                        ),
                    )
                    .await?;
                if !more.kvs().is_empty() {
                    page.next = last.map(|l| encode_token(&l));
                }
                break;
            }
            let limit = (max_keys - count + 1).min(1000) as i64;
            let resp = self
                .store()
                .kv()
                .get(
                    cursor.clone(),
                    Some(GetOptions::new().with_range(end.clone()).with_limit(limit)),
                )
                .await?;
            if resp.kvs().is_empty() {
                break;
            }
            for kv in resp.kvs() {
                let key = String::from_utf8_lossy(&kv.key()[base.len()..]).into_owned();
                if let Some(d) = delimiter.filter(|d| !d.is_empty())
                    && let Some(pos) = key[prefix.len()..].find(d)
                {
                    if count == max_keys {
                        continue 'outer;
                    }
                    let cp = key[..prefix.len() + pos + d.len()].to_string();
                    let mut cpk = base.clone();
                    cpk.extend_from_slice(cp.as_bytes());
                    cursor = prefix_end(&cpk).unwrap_or(end.clone());
                    last = Some(format!("p{cp}"));
                    page.prefixes.push(cp);
                    count += 1;
                    continue 'outer;
                }
                if count == max_keys {
                    continue 'outer;
                }
                let rec: ObjectRecord = decode(kv.key(), kv.value())?;
                page.objects.push(ListEntry {
                    key: key.clone(),
                    size: rec.size,
                    etag: rec.etag,
                    created_ms: rec.created_ms,
                });
                last = Some(format!("k{key}"));
                count += 1;
                cursor = kv.key().to_vec();
                cursor.push(0);
            }
            if !resp.more() {
                break;
            }
        }
        Ok(page)
    }
}

fn gc_of(o: &ObjectRecord) -> GcRecord {
    GcRecord {
        version: SCHEMA_VERSION,
        version_id: o.version_id,
        shards: o.shards.clone(),
        queued: now_secs(),
    }
}

fn encode_token(marker: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(marker.as_bytes())
}

fn decode_token(t: &str) -> Option<String> {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .ok()?;
    let s = String::from_utf8(b).ok()?;
    (s.starts_with('k') || s.starts_with('p')).then_some(s)
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl Stream<Item = T> + Send + Sync + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
