//! The engine: shard index (journal + checkpoints), allocator, put/read/
//! delete, and recovery.
//!
//! Write path of a shard: reserve an extent (memory only), write the chunks
//! into its data area as they arrive (CRC32C computed on the way), write the
//! header area (the self-describing header, ETag and chunk CRCs), then hand
//! an `Insert` record to the journal writer. The writer batches records of
//! concurrent shards (group commit): flush the device (the data of every
//! record in the batch is durable), write the batch, flush again, then
//! apply the batch to the in-memory index and acknowledge. A shard is
//! served only after that, so a crash at any point either loses an
//! unacknowledged shard (its space is free again at start-up, as the
//! allocator is derived from the index) or keeps a whole one.
//!
//! When the live journal passes half its region, the writer snapshots the
//! index into the other checkpoint slot (newer generation wins at start-up)
//! and replay then starts after it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use objectio_shard::{ShardHeader, ShardId};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::alloc::Allocator;
use crate::device::{BLOCK, BlockDevice, IoBuf, round_up};
use crate::format::{self, CkptHeader, IndexEntry, Reader, Record, Superblock};

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("the device carries a foreign signature ({0}); refusing to format it without --force")]
    Foreign(String),
    #[error("the device belongs to cluster {0}; refusing to format it without --force")]
    OtherCluster(Uuid),
    #[error("the device is too small")]
    TooSmall,
    #[error("disk {disk} is full")]
    Full { disk: Uuid },
    #[error("shard {0} not found")]
    NotFound(ShardId),
    #[error("shard {0} already exists")]
    Exists(ShardId),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("corrupt metadata: {0}")]
    Corrupt(String),
    #[error("the engine stopped")]
    Stopped,
    #[error("injected failure at {0}")]
    Injected(&'static str),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io(what: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |source| Error::Io { what, source }
}

/// How to open a device.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    pub cluster_id: Uuid,
    pub osd_id: String,
    /// Format even over a foreign signature or another cluster's disk.
    pub force: bool,
    /// A checkpoint is written at least this often while the journal holds
    /// records (and whenever the live journal passes half its region), so
    /// start-up replays little.
    pub checkpoint_interval: std::time::Duration,
}

/// Default [`OpenOptions::checkpoint_interval`].
pub const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Space accounting of one disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of the data region.
    pub capacity: u64,
    /// Bytes held by committed shards and writes in progress.
    pub used: u64,
    pub free: u64,
    pub shards: u64,
}

/// What recovery found at start-up.
#[derive(Clone, Copy, Debug, Default)]
pub struct Recovery {
    pub checkpoint_generation: u64,
    pub checkpoint_entries: u64,
    pub replayed_batches: u64,
    pub replayed_records: u64,
}

struct JReq {
    /// A record to journal, or `None` to write a checkpoint now.
    rec: Option<Record>,
    /// The answer: durable (or checkpointed), or why not.
    done: oneshot::Sender<Result<()>>,
}

/// A storage engine over one block device.
pub struct Engine {
    dev: Arc<dyn BlockDevice>,
    sb: Superblock,
    index: RwLock<HashMap<ShardId, Arc<IndexEntry>>>,
    alloc: Mutex<Allocator>,
    /// Bytes of extents already out of the index (deleted or replaced) and
    /// not yet back in the allocator (their header is being erased). Raised
    /// under the index lock, lowered under the allocator lock, so
    /// [`Engine::usage`], holding both, never counts a shard's space
    /// without the shard.
    releasing: std::sync::atomic::AtomicU64,
    journal: mpsc::Sender<JReq>,
    recovery: Recovery,
}

async fn read(dev: &dyn BlockDevice, off: u64, len: u64, what: &'static str) -> Result<IoBuf> {
    let (b, r) = dev.read_at(IoBuf::new(len as usize), off).await;
    r.map_err(io(what))?;
    Ok(b)
}

/// Reads bytes `[off, off + len)` (any alignment) through an aligned read
/// of the blocks holding them.
pub async fn read_range(dev: &dyn BlockDevice, off: u64, len: u64) -> std::io::Result<IoBuf> {
    let start = off / BLOCK * BLOCK;
    let end = round_up(off + len);
    let (mut b, r) = dev.read_at(dev.alloc((end - start) as usize), start).await;
    r?;
    b.advance((off - start) as usize);
    b.set_len(len as usize);
    Ok(b)
}

/// `data` in a device buffer, zero-padded to whole blocks.
fn padded(dev: &dyn BlockDevice, data: &[u8]) -> IoBuf {
    let mut b = dev.alloc(round_up(data.len() as u64) as usize);
    b.as_mut_slice()[..data.len()].copy_from_slice(data);
    b.as_mut_slice()[data.len()..].fill(0);
    b
}

async fn write(dev: &dyn BlockDevice, off: u64, data: &[u8], what: &'static str) -> Result<()> {
    let (_, r) = dev.write_at(padded(dev, data), off).await;
    r.map_err(io(what))
}

/// Like [`write`], durable when it returns (FUA) without flushing other
/// writes.
async fn write_fua(dev: &dyn BlockDevice, off: u64, data: &[u8], what: &'static str) -> Result<()> {
    let (_, r) = dev.write_at_fua(padded(dev, data), off).await;
    r.map_err(io(what))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Reads the superblock (primary, else backup).
pub async fn read_superblock(dev: &dyn BlockDevice) -> Result<Option<Superblock>> {
    let first = read(dev, 0, BLOCK, "reading the superblock").await?;
    if let Some(sb) = Superblock::decode(first.as_slice()) {
        return Ok(Some(sb));
    }
    let last = read(
        dev,
        dev.size() - BLOCK,
        BLOCK,
        "reading the backup superblock",
    )
    .await?;
    Ok(Superblock::decode(last.as_slice()).filter(|sb| sb.size == dev.size()))
}

impl Engine {
    /// Opens the engine on `dev`: recovers an existing layout, or formats an
    /// empty device (a device with a foreign signature or another
    /// cluster's superblock only with `force`).
    pub async fn open(dev: Arc<dyn BlockDevice>, opts: OpenOptions) -> Result<Arc<Engine>> {
        let sb = match read_superblock(&*dev).await? {
            Some(sb) if sb.cluster_id == opts.cluster_id => sb,
            Some(sb) if !opts.force => return Err(Error::OtherCluster(sb.cluster_id)),
            found => {
                if found.is_none() && !opts.force {
                    let probe =
                        read(&*dev, 0, (128 << 10).min(dev.size()), "probing signatures").await?;
                    if let Some(sig) = format::foreign_signature(probe.as_slice()) {
                        return Err(Error::Foreign(sig));
                    }
                }
                Self::format(&*dev, &opts).await?
            }
        };
        let (index, recovery, jstate) = Self::recover(&*dev, &sb).await?;
        let alloc = Allocator::new(
            sb.data_off,
            sb.data_end,
            index.values().map(|e| (e.offset, e.extent_len)),
        );
        let (tx, rx) = mpsc::channel(4096);
        let engine = Arc::new(Engine {
            dev,
            sb,
            index: RwLock::new(index),
            alloc: Mutex::new(alloc),
            releasing: Default::default(),
            journal: tx,
            recovery,
        });
        tokio::spawn(journal_writer(
            Arc::downgrade(&engine),
            rx,
            jstate,
            opts.checkpoint_interval,
        ));
        tracing::info!(
            disk = %engine.sb.disk_id,
            backend = engine.dev.backend(),
            shards = engine.index.read().expect("index lock").len(),
            checkpoint = recovery.checkpoint_generation,
            replayed_batches = recovery.replayed_batches,
            "engine opened"
        );
        Ok(engine)
    }

    async fn format(dev: &dyn BlockDevice, opts: &OpenOptions) -> Result<Superblock> {
        let sb = Superblock::layout(dev.size(), opts.cluster_id, &opts.osd_id, now())
            .ok_or(Error::TooSmall)?;
        // An empty checkpoint in slot 0, and slot 1 invalidated.
        let ck = CkptHeader {
            disk: sb.disk_id,
            generation: 1,
            journal_pos: 0,
            next_seq: 1,
            entries: 0,
            payload_len: 0,
            payload_crc: crc32c::crc32c(&[]),
        };
        write(
            dev,
            sb.ckpt_off[0],
            &ck.encode(),
            "writing the first checkpoint",
        )
        .await?;
        write(
            dev,
            sb.ckpt_off[1],
            &[0u8; BLOCK as usize],
            "clearing checkpoint slot 1",
        )
        .await?;
        write(
            dev,
            sb.journal_off,
            &[0u8; BLOCK as usize],
            "clearing the journal",
        )
        .await?;
        dev.flush().await.map_err(io("flushing the format"))?;
        // Backup first: a device with only a primary superblock never
        // exists, and each copy is durable before the next step.
        let b = sb.encode();
        write_fua(dev, dev.size() - BLOCK, &b, "writing the backup superblock").await?;
        write_fua(dev, 0, &b, "writing the superblock").await?;
        tracing::info!(disk = %sb.disk_id, size = sb.size, "formatted device");
        Ok(sb)
    }

    /// Loads the newest valid checkpoint and replays the journal after it.
    async fn recover(
        dev: &dyn BlockDevice,
        sb: &Superblock,
    ) -> Result<(HashMap<ShardId, Arc<IndexEntry>>, Recovery, JState)> {
        let mut best: Option<(usize, CkptHeader, IoBuf)> = None;
        for slot in 0..2 {
            let hb = read(dev, sb.ckpt_off[slot], BLOCK, "reading a checkpoint header").await?;
            let Some(h) = CkptHeader::decode(hb.as_slice()).filter(|h| h.disk == sb.disk_id) else {
                continue;
            };
            if h.payload_len > sb.ckpt_len - BLOCK || h.journal_pos >= sb.journal_len {
                continue;
            }
            if best
                .as_ref()
                .is_some_and(|(_, b, _)| b.generation >= h.generation)
            {
                continue;
            }
            let payload = read(
                dev,
                sb.ckpt_off[slot] + BLOCK,
                round_up(h.payload_len),
                "reading a checkpoint",
            )
            .await?;
            if crc32c::crc32c(&payload.as_slice()[..h.payload_len as usize]) != h.payload_crc {
                tracing::warn!(
                    slot,
                    generation = h.generation,
                    "checkpoint payload fails its checksum; ignored"
                );
                continue;
            }
            best = Some((slot, h, payload));
        }
        let (slot, ck, payload) =
            best.ok_or_else(|| Error::Corrupt("no valid checkpoint in either slot".into()))?;
        let mut index = HashMap::with_capacity(ck.entries as usize);
        let mut r = Reader::new(&payload.as_slice()[..ck.payload_len as usize]);
        for _ in 0..ck.entries {
            let e = IndexEntry::decode(&mut r)
                .ok_or_else(|| Error::Corrupt("checkpoint entry".into()))?;
            index.insert(e.id, Arc::new(e));
        }
        drop(payload);
        let mut rec = Recovery {
            checkpoint_generation: ck.generation,
            checkpoint_entries: ck.entries,
            ..Default::default()
        };
        // Replay batches in sequence; a batch that does not fit before the
        // end of the region was written at its start.
        let (mut pos, mut seq) = (ck.journal_pos, ck.next_seq);
        let mut live = 0u64;
        let mut last_inserts: Vec<ShardId> = Vec::new();
        loop {
            let mut found = None;
            for at in [pos, 0] {
                if at + BLOCK > sb.journal_len {
                    continue;
                }
                let first = read(dev, sb.journal_off + at, BLOCK, "reading the journal").await?;
                if let Some((s, len)) = format::batch_header(&sb.disk_id, first.as_slice())
                    && s == seq
                    && at + len <= sb.journal_len
                {
                    let whole = if len == BLOCK {
                        first
                    } else {
                        read(dev, sb.journal_off + at, len, "reading the journal").await?
                    };
                    if let Some((_, recs)) = format::decode_batch(&sb.disk_id, whole.as_slice()) {
                        found = Some((at, len, recs));
                        break;
                    }
                }
                if at == 0 {
                    break;
                }
            }
            let Some((at, len, recs)) = found else { break };
            if at < pos {
                live += sb.journal_len - pos; // the skipped tail of the region
            }
            last_inserts.clear();
            for r in recs {
                rec.replayed_records += 1;
                match r {
                    Record::Insert(e) => {
                        last_inserts.push(e.id);
                        index.insert(e.id, Arc::new(e));
                    }
                    Record::Delete(id) => {
                        index.remove(&id);
                    }
                }
            }
            rec.replayed_batches += 1;
            pos = at + len;
            live += len;
            seq += 1;
        }
        // The last batch was flushed together with its shards' data: after a
        // power loss the batch may be durable while some data is not. Its
        // shards are checked whole; one that fails was never acknowledged.
        for id in last_inserts {
            let Some(e) = index.get(&id).cloned() else {
                continue;
            };
            if !Self::verify_extent(dev, &e).await {
                tracing::warn!(disk = %sb.disk_id, shard = %id, "dropping a shard of the last journal batch whose data did not reach the disk");
                index.remove(&id);
            }
        }
        // A damaged index must not hand out overlapping extents.
        let mut ext: Vec<(u64, u64)> = index.values().map(|e| (e.offset, e.extent_len)).collect();
        ext.sort_unstable();
        for w in ext.windows(2) {
            if w[0].0 + w[0].1 > w[1].0 {
                return Err(Error::Corrupt(format!(
                    "overlapping extents at {} and {}",
                    w[0].0, w[1].0
                )));
            }
        }
        if ext
            .iter()
            .any(|(o, l)| *o < sb.data_off || o + l > sb.data_end)
        {
            return Err(Error::Corrupt(
                "an extent lies outside the data region".into(),
            ));
        }
        Ok((
            index,
            rec,
            JState {
                pos,
                seq,
                live,
                active_slot: slot,
                generation: ck.generation,
                checkpointed: std::time::Instant::now(),
            },
        ))
    }

    /// Whether a shard's header and every chunk on the device match its
    /// index entry.
    async fn verify_extent(dev: &dyn BlockDevice, e: &IndexEntry) -> bool {
        if e.offset
            .checked_add(e.extent_len)
            .is_none_or(|end| end > dev.size())
        {
            return false;
        }
        let Ok(b) = read(
            dev,
            e.offset,
            round_up(e.header_len as u64),
            "verifying a shard",
        )
        .await
        else {
            return false;
        };
        match format::decode_shard_header(b.as_slice()) {
            Some(h) if h.header.id == e.id && h.chunk_crcs == e.chunk_crcs => {}
            _ => return false,
        }
        let g = e.geometry();
        for j in 0..g.stripes() {
            let len = g.chunk_len(j);
            let off = e.offset + e.header_len as u64 + j * g.chunk_size;
            match read_range(dev, off, len).await {
                Ok(b) if crc32c::crc32c(b.as_slice()) == e.chunk_crcs[j as usize] => {}
                _ => return false,
            }
        }
        true
    }

    /// The superblock.
    pub fn superblock(&self) -> &Superblock {
        &self.sb
    }

    /// The disk's id.
    pub fn disk_id(&self) -> Uuid {
        self.sb.disk_id
    }

    /// The backend in use.
    pub fn backend(&self) -> &'static str {
        self.dev.backend()
    }

    /// What recovery did at start-up.
    pub fn recovery(&self) -> Recovery {
        self.recovery
    }

    /// Space accounting.
    pub fn usage(&self) -> Usage {
        // Both locks, in the order the journal writer never inverts (it
        // holds at most one at a time), so shards and bytes agree.
        let a = self.alloc.lock().expect("alloc lock");
        let idx = self.index.read().expect("index lock");
        let releasing = self.releasing.load(std::sync::atomic::Ordering::Relaxed);
        let free = a.free_bytes() + releasing;
        Usage {
            capacity: a.total_bytes(),
            used: a.total_bytes() - free,
            free,
            shards: idx.len() as u64,
        }
    }

    /// Ids of every committed shard.
    pub fn shard_ids(&self) -> Vec<ShardId> {
        self.index
            .read()
            .expect("index lock")
            .keys()
            .copied()
            .collect()
    }

    /// A committed shard's index entry.
    pub fn entry(&self, id: &ShardId) -> Result<Arc<IndexEntry>> {
        self.index
            .read()
            .expect("index lock")
            .get(id)
            .cloned()
            .ok_or(Error::NotFound(*id))
    }

    /// Starts writing a shard: reserves its extent.
    pub fn begin_put(self: &Arc<Self>, header: ShardHeader) -> Result<ShardWriter> {
        header.validate().map_err(Error::BadRequest)?;
        if !(header.chunk_size as u64).is_multiple_of(BLOCK) {
            return Err(Error::BadRequest(format!(
                "chunk size {} is not a multiple of {BLOCK}",
                header.chunk_size
            )));
        }
        if self
            .index
            .read()
            .expect("index lock")
            .contains_key(&header.id)
        {
            return Err(Error::Exists(header.id));
        }
        let header_len = format::header_area(&header);
        let extent_len = format::extent_len(header_len, header.geometry().shard_size());
        let offset = self
            .alloc
            .lock()
            .expect("alloc lock")
            .alloc(extent_len)
            .ok_or(Error::Full {
                disk: self.sb.disk_id,
            })?;
        Ok(ShardWriter {
            engine: self.clone(),
            header,
            offset,
            header_len,
            extent_len,
            next: 0,
            crcs: Vec::new(),
            first: None,
            committed: false,
        })
    }

    /// Reads chunk `j` of a committed shard; `Ok(None)` when its bytes fail
    /// their CRC32C (they are never returned as data).
    pub async fn read_chunk(&self, e: &IndexEntry, j: u64) -> Result<Option<IoBuf>> {
        let g = e.geometry();
        if j >= g.stripes() {
            return Err(Error::BadRequest(format!(
                "chunk {j} of {} out of range",
                g.stripes()
            )));
        }
        let len = g.chunk_len(j);
        let off = e.offset + e.header_len as u64 + j * g.chunk_size;
        let b = read_range(&*self.dev, off, len)
            .await
            .map_err(io("reading a chunk"))?;
        if crc32c::crc32c(b.as_slice()) != e.chunk_crcs[j as usize] {
            tracing::warn!(disk = %self.sb.disk_id, shard = %e.id, chunk = j, "chunk checksum mismatch");
            return Ok(None);
        }
        Ok(Some(b))
    }

    /// Reads a committed shard's self-describing header from the device.
    pub async fn read_header(&self, e: &IndexEntry) -> Result<format::ShardHead> {
        let b = read(
            &*self.dev,
            e.offset,
            round_up(e.header_len as u64),
            "reading a shard header",
        )
        .await?;
        format::decode_shard_header(b.as_slice())
            .filter(|h| h.header.id == e.id)
            .ok_or_else(|| Error::Corrupt(format!("header of shard {} is damaged", e.id)))
    }

    /// Deletes a shard; its space is free once the delete is durable.
    pub async fn delete(&self, id: &ShardId) -> Result<()> {
        self.entry(id)?;
        self.submit(Record::Delete(*id)).await
    }

    /// Writes a checkpoint of the index now (after every record queued
    /// before it), so the next start replays no journal: for a planned stop.
    pub async fn checkpoint_now(&self) -> Result<()> {
        self.request(None).await
    }

    async fn submit(&self, rec: Record) -> Result<()> {
        self.request(Some(rec)).await
    }

    async fn request(&self, rec: Option<Record>) -> Result<()> {
        let (done, rx) = oneshot::channel();
        self.journal
            .send(JReq { rec, done })
            .await
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?
    }
}

/// A shard being written. Dropping it before [`ShardWriter::finish`]
/// succeeds gives its extent back.
pub struct ShardWriter {
    engine: Arc<Engine>,
    header: ShardHeader,
    offset: u64,
    header_len: u64,
    extent_len: u64,
    next: u64,
    crcs: Vec<u32>,
    /// Chunk 0, held with headroom for the header so both are written in
    /// one I/O at [`ShardWriter::finish`].
    first: Option<IoBuf>,
    committed: bool,
}

impl ShardWriter {
    /// A buffer for the next chunk of `len` bytes (whole blocks behind it;
    /// chunk 0's with room for the header in front).
    pub fn chunk_buf(&self, len: usize) -> IoBuf {
        if self.next == 0 {
            return IoBuf::with_headroom(self.header_len as usize, len);
        }
        let mut b = self.engine.dev.alloc(round_up(len as u64) as usize);
        b.set_len(len);
        b
    }

    /// Length of the next chunk, or `None` when all were written.
    pub fn next_len(&self) -> Option<usize> {
        let g = self.header.geometry();
        (self.next < g.stripes()).then(|| g.chunk_len(self.next) as usize)
    }

    /// Writes the next chunk from `buf` (from [`ShardWriter::chunk_buf`],
    /// its length the chunk's). Chunk 0 is held until `finish`.
    pub async fn write_chunk(&mut self, mut buf: IoBuf) -> Result<()> {
        match self.next_len() {
            Some(l) if l == buf.len() => {}
            other => {
                return Err(Error::BadRequest(format!(
                    "chunk {} of {} bytes, expected {other:?}",
                    self.next,
                    buf.len()
                )));
            }
        }
        let len = buf.len();
        self.crcs.push(crc32c::crc32c(buf.as_slice()));
        // Zero the padding up to the next block boundary of the extent.
        let head = if self.next == 0 { self.header_len } else { 0 };
        buf.set_len((round_up(head + len as u64) - head) as usize);
        buf.as_mut_slice()[len..].fill(0);
        if self.next == 0 {
            if buf.headroom_mut().len() != self.header_len as usize {
                return Err(Error::BadRequest(
                    "chunk 0 needs a buffer from ShardWriter::chunk_buf".into(),
                ));
            }
            self.first = Some(buf);
        } else {
            let off = self.offset + self.header_len + self.next * self.header.chunk_size as u64;
            let (_, r) = self.engine.dev.write_at(buf, off).await;
            r.map_err(io("writing a chunk"))?;
        }
        self.next += 1;
        fail::fail_point!("engine::put::after_chunk", |_| Err(Error::Injected(
            "engine::put::after_chunk"
        )));
        Ok(())
    }

    /// Writes the header area and commits the shard through the journal;
    /// returns once it is durable.
    pub async fn finish(mut self, etag: &str) -> Result<()> {
        if self.next_len().is_some() {
            return Err(Error::BadRequest(format!(
                "shard ended after {} of {} chunks",
                self.next,
                self.header.geometry().stripes()
            )));
        }
        if etag.len() > 64 {
            return Err(Error::BadRequest("etag longer than 64 bytes".into()));
        }
        let area =
            format::encode_shard_header(&self.header, etag, &self.crcs, self.header_len as usize);
        match self.first.take() {
            // Header and chunk 0 in one I/O.
            Some(mut b) => {
                b.headroom_mut().copy_from_slice(&area);
                b.expose_headroom();
                let (_, r) = self.engine.dev.write_at(b, self.offset).await;
                r.map_err(io("writing a shard header"))?;
            }
            None => {
                write(
                    &*self.engine.dev,
                    self.offset,
                    &area,
                    "writing a shard header",
                )
                .await?
            }
        }
        fail::fail_point!("engine::put::after_header", |_| Err(Error::Injected(
            "engine::put::after_header"
        )));
        let entry = IndexEntry {
            id: self.header.id,
            k: self.header.k,
            m: self.header.m,
            chunk_size: self.header.chunk_size,
            object_size: self.header.object_size,
            offset: self.offset,
            header_len: self.header_len as u32,
            extent_len: self.extent_len,
            etag: etag.to_string(),
            chunk_crcs: std::mem::take(&mut self.crcs),
        };
        // From here the journal owns the extent: even if the commit fails
        // with an I/O error, the record may be durable, so the space is not
        // handed out again before a restart settles it.
        self.committed = true;
        self.engine.submit(Record::Insert(entry)).await
    }
}

impl Drop for ShardWriter {
    fn drop(&mut self) {
        if !self.committed {
            self.engine
                .alloc
                .lock()
                .expect("alloc lock")
                .free(self.offset, self.extent_len);
        }
    }
}

/// Journal position and checkpoint state, owned by the writer task.
struct JState {
    /// Offset within the region where the next batch goes.
    pos: u64,
    seq: u64,
    /// Bytes of journal written since the active checkpoint.
    live: u64,
    active_slot: usize,
    generation: u64,
    /// When the last checkpoint was written (or the engine opened).
    checkpointed: std::time::Instant,
}

const MAX_BATCH: usize = 512;
/// Bytes of records in one batch at most (the smallest journal takes four
/// times as much in one batch; records of very large shards carry many
/// chunk checksums).
const MAX_BATCH_BYTES: usize = 1 << 20;

async fn journal_writer(
    engine: std::sync::Weak<Engine>,
    mut rx: mpsc::Receiver<JReq>,
    mut st: JState,
    interval: std::time::Duration,
) {
    // A record that would overflow a batch waits for the next one.
    let mut carry: Option<JReq> = None;
    loop {
        let first = match carry.take() {
            Some(r) => r,
            // Idle with records in the journal: wait only until the next
            // checkpoint is due.
            None if st.live > 0 => {
                let wait = interval.saturating_sub(st.checkpointed.elapsed());
                match tokio::time::timeout(wait, rx.recv()).await {
                    Ok(Some(r)) => r,
                    Ok(None) => return,
                    Err(_) => {
                        let Some(engine) = engine.upgrade() else {
                            return;
                        };
                        if let Err(e) = checkpoint(&engine, &mut st).await {
                            tracing::error!(disk = %engine.sb.disk_id, error = %e, "checkpoint failed");
                            st.checkpointed = std::time::Instant::now(); // retry after an interval
                        }
                        continue;
                    }
                }
            }
            None => match rx.recv().await {
                Some(r) => r,
                None => return,
            },
        };
        if first.rec.is_none() {
            let Some(engine) = engine.upgrade() else {
                return;
            };
            let r = checkpoint(&engine, &mut st).await;
            let _ = first.done.send(r);
            continue;
        }
        let mut bytes = first.rec.as_ref().map_or(0, Record::encoded_len);
        let mut reqs = vec![first];
        while reqs.len() < MAX_BATCH {
            match rx.try_recv() {
                // A checkpoint request waits for the batch before it.
                Ok(r) if r.rec.is_none() => {
                    carry = Some(r);
                    break;
                }
                Ok(r) => {
                    let b = r.rec.as_ref().map_or(0, Record::encoded_len);
                    if bytes + b > MAX_BATCH_BYTES {
                        carry = Some(r);
                        break;
                    }
                    bytes += b;
                    reqs.push(r);
                }
                Err(_) => break,
            }
        }
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let recs: Vec<Record> = reqs.iter().filter_map(|r| r.rec.clone()).collect();
        let result = write_batch(&engine, &mut st, &recs).await;
        match result {
            Ok(()) => {
                let mut freed = Vec::new();
                {
                    let mut idx = engine.index.write().expect("index lock");
                    for r in recs {
                        match r {
                            Record::Insert(e) => {
                                let offset = e.offset;
                                // A replaced shard (same id written twice)
                                // gives its old extent back.
                                if let Some(old) = idx.insert(e.id, Arc::new(e))
                                    && old.offset != offset
                                {
                                    freed.push(old);
                                }
                            }
                            Record::Delete(id) => {
                                if let Some(e) = idx.remove(&id) {
                                    freed.push(e);
                                }
                            }
                        }
                    }
                    let bytes: u64 = freed.iter().map(|e| e.extent_len).sum();
                    engine
                        .releasing
                        .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
                }
                for e in freed {
                    // Erase the header so a raw scan does not report the
                    // deleted shard, then give the space back.
                    if let Err(err) = write(
                        &*engine.dev,
                        e.offset,
                        &[0u8; BLOCK as usize],
                        "erasing a shard header",
                    )
                    .await
                    {
                        tracing::warn!(shard = %e.id, error = %err, "could not erase a deleted shard's header");
                    }
                    let mut a = engine.alloc.lock().expect("alloc lock");
                    a.free(e.offset, e.extent_len);
                    engine
                        .releasing
                        .fetch_sub(e.extent_len, std::sync::atomic::Ordering::Relaxed);
                }
                for r in reqs {
                    let _ = r.done.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(disk = %engine.sb.disk_id, error = %e, "journal write failed");
                let msg = e.to_string();
                for r in reqs {
                    let _ = r.done.send(Err(Error::Io {
                        what: "committing to the journal",
                        source: std::io::Error::other(msg.clone()),
                    }));
                }
            }
        }
        let due = st.live > 0 && st.checkpointed.elapsed() >= interval;
        if (st.live > engine.sb.journal_len / 2 || due)
            && let Err(e) = checkpoint(&engine, &mut st).await
        {
            tracing::error!(disk = %engine.sb.disk_id, error = %e, "checkpoint failed");
        }
    }
}

async fn write_batch(engine: &Engine, st: &mut JState, recs: &[Record]) -> Result<()> {
    let sb = &engine.sb;
    let batch = format::encode_batch(&sb.disk_id, st.seq, recs);
    let len = batch.len() as u64;
    if len > sb.journal_len / 4 {
        return Err(Error::BadRequest("journal batch too large".into()));
    }
    // The batch goes at `pos`, or at the region start when it does not fit
    // before the end (the skipped tail then counts as used).
    let (at, extra) = if st.pos + len > sb.journal_len {
        (0, sb.journal_len - st.pos)
    } else {
        (st.pos, 0)
    };
    if st.live + extra + len > sb.journal_len {
        checkpoint(engine, st).await?;
        return Box::pin(write_batch(engine, st, recs)).await;
    }
    fail::fail_point!("engine::journal::before_write", |_| Err(Error::Injected(
        "engine::journal::before_write"
    )));
    // The data of every shard in this batch was written before its record
    // was queued; the one flush after the batch makes data and records
    // durable together. Power loss before it completes may keep the batch
    // but lose data, which is why recovery verifies the last batch's shards.
    // A batch of deletes only has no data behind it: one FUA write.
    let at_dev = sb.journal_off + at;
    if recs.iter().any(|r| matches!(r, Record::Insert(_))) {
        write(&*engine.dev, at_dev, &batch, "writing the journal").await?;
        fail::fail_point!("engine::journal::after_write", |_| Err(Error::Injected(
            "engine::journal::after_write"
        )));
        engine
            .dev
            .flush()
            .await
            .map_err(io("flushing the journal"))?;
    } else {
        write_fua(&*engine.dev, at_dev, &batch, "writing the journal").await?;
    }
    st.pos = at + len;
    st.live += extra + len;
    st.seq += 1;
    Ok(())
}

/// Writes the index into the inactive checkpoint slot; replay then starts
/// at the current journal position.
async fn checkpoint(engine: &Engine, st: &mut JState) -> Result<()> {
    let sb = &engine.sb;
    let (payload, entries) = {
        let idx = engine.index.read().expect("index lock");
        let mut p = Vec::with_capacity(idx.len() * 64);
        for e in idx.values() {
            e.encode(&mut p);
        }
        (p, idx.len() as u64)
    };
    if payload.len() as u64 > sb.ckpt_len - BLOCK {
        return Err(Error::Full { disk: sb.disk_id });
    }
    let slot = 1 - st.active_slot;
    let h = CkptHeader {
        disk: sb.disk_id,
        generation: st.generation + 1,
        journal_pos: st.pos,
        next_seq: st.seq,
        entries,
        payload_len: payload.len() as u64,
        payload_crc: crc32c::crc32c(&payload),
    };
    // Payload first (in pieces of at most 8 MiB), then the header that
    // makes it the newest: a torn checkpoint leaves the older one in force.
    for (i, piece) in payload.chunks(8 << 20).enumerate() {
        write(
            &*engine.dev,
            sb.ckpt_off[slot] + BLOCK + (i as u64) * (8 << 20),
            piece,
            "writing a checkpoint",
        )
        .await?;
    }
    engine
        .dev
        .flush()
        .await
        .map_err(io("flushing a checkpoint"))?;
    fail::fail_point!("engine::checkpoint::before_header", |_| Err(
        Error::Injected("engine::checkpoint::before_header")
    ));
    write_fua(
        &*engine.dev,
        sb.ckpt_off[slot],
        &h.encode(),
        "writing a checkpoint header",
    )
    .await?;
    st.active_slot = slot;
    st.generation = h.generation;
    st.live = 0;
    st.checkpointed = std::time::Instant::now();
    tracing::debug!(disk = %sb.disk_id, generation = h.generation, entries, "checkpoint written");
    Ok(())
}
