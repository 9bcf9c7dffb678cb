//! A file-backed disk with a simple log-structured layout.
//!
//! ```text
//! 0      superblock (4 KiB)     magic, JSON body, CRC32C
//! 4096   superblock backup copy
//! 8192   log: records, each 4 KiB aligned
//!          shard:     header block | data (chunks, 4 KiB padded) | trailer block(s)
//!          tombstone: header block naming a deleted shard
//! ```
//!
//! A header block is `magic | kind | record length | JSON length | JSON |
//! CRC32C`. Header blocks are written in log order under the allocation
//! lock, so at start-up the scan stops at the first invalid header: nothing
//! was allocated after it. A shard counts only once its trailer (ETag and
//! per-chunk CRC32C) is valid; a torn shard is skipped and never served.
//! The index is rebuilt by that scan at start-up; the journaled engine that
//! replaces this layout is its own piece of work.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use objectio_shard::{ShardHeader, ShardId, ShardTrailer};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};
use uuid::Uuid;

pub const BLOCK: u64 = 4096;
const SB_MAGIC: &[u8; 8] = b"OBJIOSB\x01";
const REC_MAGIC: &[u8; 8] = b"OBJIOREC";
const END_MAGIC: &[u8; 8] = b"OBJIOEND";
const LOG_START: u64 = 2 * BLOCK;
const KIND_SHARD: u8 = 1;
const KIND_TOMBSTONE: u8 = 2;

/// Errors of a disk.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: carries a foreign signature (not an ObjectIO disk of this cluster): {detail}")]
    Foreign { path: PathBuf, detail: String },
    #[error("disk {disk} is full")]
    Full { disk: Uuid },
    #[error("shard {shard} not found on disk {disk}")]
    NotFound { disk: Uuid, shard: ShardId },
    #[error("shard {shard} already exists on disk {disk}")]
    Exists { disk: Uuid, shard: ShardId },
    #[error("bad request: {0}")]
    BadRequest(String),
}

pub type Result<T, E = DiskError> = std::result::Result<T, E>;

/// The superblock body.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Superblock {
    pub format: u32,
    pub cluster_id: Uuid,
    pub osd_id: String,
    pub disk_id: Uuid,
    pub capacity: u64,
    pub log_start: u64,
    pub created: u64,
}

/// A committed shard in the index.
#[derive(Clone, Debug)]
pub struct Entry {
    pub offset: u64,
    pub header: ShardHeader,
    pub trailer: ShardTrailer,
}

impl Entry {
    fn record_len(&self) -> u64 {
        shard_record_len(&self.header)
    }
}

fn round_up(x: u64) -> u64 {
    x.div_ceil(BLOCK) * BLOCK
}

fn trailer_cap(h: &ShardHeader) -> u64 {
    round_up(256 + h.geometry().stripes() * 11)
}

/// Bytes a shard record occupies in the log.
pub fn shard_record_len(h: &ShardHeader) -> u64 {
    BLOCK + round_up(h.geometry().shard_size()) + trailer_cap(h)
}

/// Encodes a framed block: `magic | extra | json_len | json | crc32c`.
fn frame(magic: &[u8; 8], extra: &[u8], json: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + extra.len() + 8 + json.len());
    b.extend_from_slice(magic);
    b.extend_from_slice(extra);
    b.extend_from_slice(&(json.len() as u32).to_be_bytes());
    b.extend_from_slice(json);
    let crc = crc32c::crc32c(&b);
    b.extend_from_slice(&crc.to_be_bytes());
    b
}

/// Decodes a framed block; `None` when the magic, bounds or checksum fail.
fn unframe<'a>(magic: &[u8; 8], extra_len: usize, b: &'a [u8]) -> Option<(&'a [u8], &'a [u8])> {
    let head = 8 + extra_len + 4;
    if b.len() < head + 4 || &b[..8] != magic {
        return None;
    }
    let extra = &b[8..8 + extra_len];
    let len = u32::from_be_bytes(b[8 + extra_len..head].try_into().ok()?) as usize;
    let end = head.checked_add(len)?;
    if end + 4 > b.len() {
        return None;
    }
    let crc = u32::from_be_bytes(b[end..end + 4].try_into().ok()?);
    if crc32c::crc32c(&b[..end]) != crc {
        return None;
    }
    Some((extra, &b[head..end]))
}

/// One parsed record header.
#[derive(Debug)]
pub enum RecordHead {
    Shard { len: u64, header: ShardHeader },
    Tombstone { len: u64, shard: ShardId },
}

/// Parses a record header block; `None` when it is not a valid one.
pub fn parse_record_head(b: &[u8]) -> Option<RecordHead> {
    let (extra, json) = unframe(REC_MAGIC, 12, b)?;
    let kind = extra[0];
    let len = u64::from_be_bytes(extra[4..12].try_into().ok()?);
    match kind {
        KIND_SHARD => {
            let header: ShardHeader = serde_json::from_slice(json).ok()?;
            header.validate().ok()?;
            (len == shard_record_len(&header)).then_some(RecordHead::Shard { len, header })
        }
        KIND_TOMBSTONE => {
            let shard: ShardId = serde_json::from_slice(json).ok()?;
            (len == BLOCK).then_some(RecordHead::Tombstone { len, shard })
        }
        _ => None,
    }
}

/// Parses a trailer block; `None` when it is not valid.
pub fn parse_trailer(b: &[u8]) -> Option<ShardTrailer> {
    let (_, json) = unframe(END_MAGIC, 0, b)?;
    serde_json::from_slice(json).ok()
}

fn record_head(kind: u8, len: u64, json: &[u8]) -> Vec<u8> {
    let mut extra = [0u8; 12];
    extra[0] = kind;
    extra[4..12].copy_from_slice(&len.to_be_bytes());
    let mut b = frame(REC_MAGIC, &extra, json);
    b.resize(BLOCK as usize, 0);
    b
}

/// A disk: its file, superblock and in-memory index.
pub struct Disk {
    pub path: PathBuf,
    pub sb: Superblock,
    file: Arc<File>,
    /// Next free log offset; header blocks are written while holding it.
    tail: Mutex<u64>,
    index: RwLock<HashMap<ShardId, Entry>>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DiskError + '_ {
    move |source| DiskError::Io {
        path: path.to_path_buf(),
        source,
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

impl Disk {
    /// Opens the disk at `path`, creating and formatting a file of
    /// `create_size` bytes when it does not exist or is all zeros at the
    /// start. A disk carrying another signature or another cluster's
    /// superblock is refused.
    pub async fn open(
        path: &Path,
        create_size: u64,
        cluster_id: Uuid,
        osd_id: &str,
    ) -> Result<Arc<Disk>> {
        let p = path.to_path_buf();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&p)
            .map_err(io(path))?;
        let len = file.metadata().map_err(io(path))?.len();
        if len == 0 {
            file.set_len(create_size).map_err(io(path))?;
        }
        let capacity = file.metadata().map_err(io(path))?.len();
        let mut first = vec![0u8; (2 * BLOCK) as usize];
        let n = file.read_at(&mut first, 0).map_err(io(path))?;
        first.truncate(n);
        let sb = match Self::parse_superblock(&first[..n.min(BLOCK as usize)])
            .or_else(|| first.get(BLOCK as usize..).and_then(Self::parse_superblock))
        {
            Some(sb) => {
                if sb.cluster_id != cluster_id {
                    return Err(DiskError::Foreign {
                        path: p,
                        detail: format!("belongs to cluster {}", sb.cluster_id),
                    });
                }
                sb
            }
            None if first.iter().all(|b| *b == 0) => {
                let sb = Superblock {
                    format: 1,
                    cluster_id,
                    osd_id: osd_id.to_string(),
                    disk_id: Uuid::new_v4(),
                    capacity,
                    log_start: LOG_START,
                    created: objectio_cluster_now(),
                };
                let json = serde_json::to_vec(&sb).expect("superblock serialises");
                let mut b = frame(SB_MAGIC, &[], &json);
                b.resize(BLOCK as usize, 0);
                file.write_all_at(&b, 0).map_err(io(path))?;
                file.write_all_at(&b, BLOCK).map_err(io(path))?;
                file.sync_all().map_err(io(path))?;
                tracing::info!(path = %p.display(), disk = %sb.disk_id, capacity, "formatted disk");
                sb
            }
            None => {
                return Err(DiskError::Foreign {
                    path: p,
                    detail: "unknown data in the first 8 KiB".into(),
                });
            }
        };
        let disk = Disk {
            path: p,
            file: Arc::new(file),
            tail: Mutex::new(sb.log_start),
            index: RwLock::new(HashMap::new()),
            sb,
        };
        disk.scan().await?;
        Ok(Arc::new(disk))
    }

    fn parse_superblock(b: &[u8]) -> Option<Superblock> {
        let (_, json) = unframe(SB_MAGIC, 0, b)?;
        serde_json::from_slice(json).ok()
    }

    /// Rebuilds the index from the log.
    async fn scan(&self) -> Result<()> {
        let file = self.file.clone();
        let start = self.sb.log_start;
        let cap = self.sb.capacity;
        let (index, tail, torn) = blocking(move || {
            let mut index: HashMap<ShardId, Entry> = HashMap::new();
            let mut off = start;
            let mut torn = 0u64;
            let mut block = vec![0u8; BLOCK as usize];
            while off + BLOCK <= cap {
                file.read_exact_at(&mut block, off)?;
                match parse_record_head(&block) {
                    Some(RecordHead::Shard { len, header }) => {
                        let toff = off + BLOCK + round_up(header.geometry().shard_size());
                        let mut tb = vec![0u8; trailer_cap(&header) as usize];
                        file.read_exact_at(&mut tb, toff)?;
                        match parse_trailer(&tb) {
                            Some(trailer)
                                if trailer.chunk_crcs.len() as u64
                                    == header.geometry().stripes() =>
                            {
                                index.insert(
                                    header.id,
                                    Entry {
                                        offset: off,
                                        header,
                                        trailer,
                                    },
                                );
                            }
                            _ => torn += 1,
                        }
                        off += len;
                    }
                    Some(RecordHead::Tombstone { len, shard }) => {
                        index.remove(&shard);
                        off += len;
                    }
                    None => break,
                }
            }
            Ok((index, off, torn))
        })
        .await
        .map_err(io(&self.path))?;
        tracing::info!(
            disk = %self.sb.disk_id,
            shards = index.len(),
            torn,
            log_bytes = tail - start,
            "disk index rebuilt"
        );
        *self.index.write().await = index;
        *self.tail.lock().await = tail;
        Ok(())
    }

    /// Bytes of the log in use.
    pub async fn used(&self) -> u64 {
        *self.tail.lock().await
    }

    /// Number of committed shards.
    pub async fn shard_count(&self) -> usize {
        self.index.read().await.len()
    }

    /// Reserves a record of `len` bytes and writes its header block.
    async fn append_head(&self, kind: u8, len: u64, json: Vec<u8>) -> Result<u64> {
        let mut tail = self.tail.lock().await;
        let off = *tail;
        if off + len > self.sb.capacity {
            return Err(DiskError::Full {
                disk: self.sb.disk_id,
            });
        }
        let block = record_head(kind, len, &json);
        let file = self.file.clone();
        blocking(move || file.write_all_at(&block, off))
            .await
            .map_err(io(&self.path))?;
        *tail = off + len;
        Ok(off)
    }

    /// Starts writing a shard: reserves its record and writes its header.
    pub async fn begin_put(self: &Arc<Self>, header: ShardHeader) -> Result<ShardWriter> {
        header.validate().map_err(DiskError::BadRequest)?;
        if self.index.read().await.contains_key(&header.id) {
            return Err(DiskError::Exists {
                disk: self.sb.disk_id,
                shard: header.id,
            });
        }
        let json = serde_json::to_vec(&header).expect("header serialises");
        let off = self
            .append_head(KIND_SHARD, shard_record_len(&header), json)
            .await?;
        Ok(ShardWriter {
            disk: self.clone(),
            offset: off,
            next: 0,
            crcs: Vec::new(),
            header,
        })
    }

    /// Looks up a committed shard.
    pub async fn entry(&self, id: &ShardId) -> Result<Entry> {
        self.index
            .read()
            .await
            .get(id)
            .cloned()
            .ok_or(DiskError::NotFound {
                disk: self.sb.disk_id,
                shard: *id,
            })
    }

    /// Reads chunk `j` of a committed shard; `Ok(None)` when its bytes
    /// fail their CRC32C.
    pub async fn read_chunk(&self, e: &Entry, j: u64) -> Result<Option<Vec<u8>>> {
        let g = e.header.geometry();
        if j >= g.stripes() {
            return Err(DiskError::BadRequest(format!("chunk {j} out of range")));
        }
        let off = e.offset + BLOCK + j * g.chunk_size;
        let len = g.chunk_len(j) as usize;
        let expect = e.trailer.chunk_crcs[j as usize];
        let file = self.file.clone();
        let buf = blocking(move || {
            let mut buf = vec![0u8; len];
            file.read_exact_at(&mut buf, off)?;
            Ok(buf)
        })
        .await
        .map_err(io(&self.path))?;
        if crc32c::crc32c(&buf) != expect {
            tracing::warn!(disk = %self.sb.disk_id, shard = %e.header.id, chunk = j, "chunk checksum mismatch");
            return Ok(None);
        }
        Ok(Some(buf))
    }

    /// Deletes a shard: appends a tombstone and drops it from the index.
    pub async fn delete(&self, id: &ShardId) -> Result<()> {
        if !self.index.read().await.contains_key(id) {
            return Err(DiskError::NotFound {
                disk: self.sb.disk_id,
                shard: *id,
            });
        }
        let json = serde_json::to_vec(id).expect("id serialises");
        self.append_head(KIND_TOMBSTONE, BLOCK, json).await?;
        let file = self.file.clone();
        blocking(move || file.sync_data())
            .await
            .map_err(io(&self.path))?;
        self.index.write().await.remove(id);
        Ok(())
    }

    /// Space the committed shards occupy, in bytes.
    pub async fn live_bytes(&self) -> u64 {
        self.index
            .read()
            .await
            .values()
            .map(Entry::record_len)
            .sum()
    }
}

/// A shard being written.
pub struct ShardWriter {
    disk: Arc<Disk>,
    offset: u64,
    next: u64,
    crcs: Vec<u32>,
    header: ShardHeader,
}

impl ShardWriter {
    /// Length the next chunk must have, or `None` when all were written.
    pub fn next_len(&self) -> Option<u64> {
        let g = self.header.geometry();
        (self.next < g.stripes()).then(|| g.chunk_len(self.next))
    }

    /// Writes the next chunk.
    pub async fn write_chunk(&mut self, data: Vec<u8>) -> Result<Vec<u8>> {
        match self.next_len() {
            Some(l) if l == data.len() as u64 => {}
            other => {
                return Err(DiskError::BadRequest(format!(
                    "chunk {} of {} bytes, expected {other:?}",
                    self.next,
                    data.len()
                )));
            }
        }
        self.crcs.push(crc32c::crc32c(&data));
        let off = self.offset + BLOCK + self.next * self.header.chunk_size as u64;
        let file = self.disk.file.clone();
        let data = blocking(move || file.write_all_at(&data, off).map(|_| data))
            .await
            .map_err(io(&self.disk.path))?;
        self.next += 1;
        Ok(data)
    }

    /// Writes the trailer, syncs, and publishes the shard in the index.
    pub async fn finish(self, etag: String) -> Result<()> {
        if self.next_len().is_some() {
            return Err(DiskError::BadRequest(format!(
                "shard ended after {} of {} chunks",
                self.next,
                self.header.geometry().stripes()
            )));
        }
        if etag.len() > 64 {
            return Err(DiskError::BadRequest("etag too long".into()));
        }
        let trailer = ShardTrailer {
            etag,
            chunk_crcs: self.crcs,
        };
        let json = serde_json::to_vec(&trailer).expect("trailer serialises");
        let b = frame(END_MAGIC, &[], &json);
        let toff = self.offset + BLOCK + round_up(self.header.geometry().shard_size());
        let file = self.disk.file.clone();
        blocking(move || {
            file.write_all_at(&b, toff)?;
            file.sync_data()
        })
        .await
        .map_err(io(&self.disk.path))?;
        self.disk.index.write().await.insert(
            self.header.id,
            Entry {
                offset: self.offset,
                header: self.header,
                trailer,
            },
        );
        Ok(())
    }
}

fn objectio_cluster_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(i: u8, size: u64) -> ShardHeader {
        ShardHeader {
            format: 1,
            cluster_id: Uuid::nil(),
            bucket: "b".into(),
            key: "k".into(),
            id: ShardId {
                version_id: Uuid::new_v4(),
                part: 0,
                index: i,
            },
            k: 4,
            m: 2,
            chunk_size: 4096,
            object_size: size,
            created_ms: 0,
        }
    }

    async fn put(d: &Arc<Disk>, h: ShardHeader, byte: u8) {
        let mut w = d.begin_put(h).await.unwrap();
        while let Some(l) = w.next_len() {
            w.write_chunk(vec![byte; l as usize]).await.unwrap();
        }
        w.finish("e".into()).await.unwrap();
    }

    #[tokio::test]
    async fn shards_survive_reopen_and_torn_ones_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d");
        let cid = Uuid::new_v4();
        let d = Disk::open(&p, 64 << 20, cid, "osd1").await.unwrap();
        let h1 = header(0, 40000);
        put(&d, h1.clone(), 7).await;
        // A torn shard: header written, one chunk, no trailer.
        let h2 = header(1, 40000);
        let mut w = d.begin_put(h2.clone()).await.unwrap();
        w.write_chunk(vec![1; 4096]).await.unwrap();
        drop(w);
        let h3 = header(2, 100);
        put(&d, h3.clone(), 9).await;
        d.delete(&h3.id).await.unwrap();
        drop(d);

        let d = Disk::open(&p, 64 << 20, cid, "osd1").await.unwrap();
        let e = d.entry(&h1.id).await.unwrap();
        assert_eq!(d.read_chunk(&e, 0).await.unwrap().unwrap(), vec![7; 4096]);
        assert!(matches!(
            d.entry(&h2.id).await,
            Err(DiskError::NotFound { .. })
        ));
        assert!(matches!(
            d.entry(&h3.id).await,
            Err(DiskError::NotFound { .. })
        ));
        assert_eq!(d.shard_count().await, 1);

        // Another cluster's id is refused.
        assert!(matches!(
            Disk::open(&p, 0, Uuid::new_v4(), "osd1").await,
            Err(DiskError::Foreign { .. })
        ));
    }

    #[tokio::test]
    async fn corrupt_chunk_is_reported_not_returned() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d");
        let d = Disk::open(&p, 16 << 20, Uuid::nil(), "o").await.unwrap();
        let h = header(0, 10000);
        put(&d, h.clone(), 3).await;
        let e = d.entry(&h.id).await.unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .write_all_at(&[0xff; 16], e.offset + BLOCK + 100)
            .unwrap();
        assert!(d.read_chunk(&e, 0).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn foreign_signature_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d");
        std::fs::write(&p, vec![0x55u8; 1 << 20]).unwrap();
        assert!(matches!(
            Disk::open(&p, 0, Uuid::nil(), "o").await,
            Err(DiskError::Foreign { .. })
        ));
    }

    #[test]
    fn hostile_record_heads_do_not_panic() {
        let mut b = record_head(KIND_SHARD, 1 << 40, b"{}");
        assert!(parse_record_head(&b).is_none());
        b[13] = 0xff; // length field
        assert!(parse_record_head(&b).is_none());
        for i in 0..200u32 {
            let junk: Vec<u8> = (0..4096u32)
                .map(|j| (j.wrapping_mul(31).wrapping_add(i)) as u8)
                .collect();
            assert!(parse_record_head(&junk).is_none());
            assert!(parse_trailer(&junk).is_none());
        }
        let mut t = REC_MAGIC.to_vec();
        t.extend_from_slice(&[1; 12]);
        t.extend_from_slice(&u32::MAX.to_be_bytes());
        t.resize(4096, 0);
        assert!(parse_record_head(&t).is_none());
    }
}
