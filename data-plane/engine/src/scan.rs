//! Offline raw scan: reads the device itself (not the index) and reports
//! every shard header found, with its checksum status. Damaged regions are
//! reported and skipped, never fatal. This is what `objectio-cli disk scan`
//! runs, for rebuilding the object index from raw disks.

use serde::Serialize;
use uuid::Uuid;

use crate::device::{BLOCK, BlockDevice, IoBuf, round_up};
use crate::format::{self, Superblock};

/// One shard found on the device.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ScannedShard {
    /// Start of the shard's extent (its header).
    pub offset: u64,
    /// Where its chunk data starts.
    pub data_offset: u64,
    pub cluster_id: Uuid,
    pub bucket: String,
    pub key: String,
    pub version_id: Uuid,
    pub part: u32,
    pub k: u8,
    pub m: u8,
    pub chunk_size: u32,
    pub shard_index: u8,
    pub object_size: u64,
    pub shard_size: u64,
    pub etag: String,
    pub created_ms: u64,
    /// `ok`, or `corrupt` when a chunk fails its CRC32C.
    pub checksum: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bad_chunks: Vec<u64>,
    /// The object's metadata, on a single-part object's shards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<objectio_shard::ShardMeta>,
}

/// A region that could not be read or parsed.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Damaged {
    pub offset: u64,
    pub reason: String,
}

/// The scan's result.
#[derive(Clone, Debug, Serialize)]
pub struct ScanReport {
    /// `primary`, `backup` or `missing`.
    pub superblock: String,
    pub disk_id: Option<Uuid>,
    pub cluster_id: Option<Uuid>,
    pub osd_id: Option<String>,
    pub scanned_bytes: u64,
    pub shards: Vec<ScannedShard>,
    pub damaged: Vec<Damaged>,
}

const WINDOW: u64 = 1 << 20;

async fn read(dev: &dyn BlockDevice, off: u64, len: u64) -> std::io::Result<IoBuf> {
    let (b, r) = dev.read_at(IoBuf::new(len as usize), off).await;
    r.map(|_| b)
}

/// Scans `dev`.
pub async fn scan(dev: &dyn BlockDevice) -> ScanReport {
    let size = dev.size();
    let mut report = ScanReport {
        superblock: "missing".into(),
        disk_id: None,
        cluster_id: None,
        osd_id: None,
        scanned_bytes: 0,
        shards: Vec::new(),
        damaged: Vec::new(),
    };
    let primary = read(dev, 0, BLOCK)
        .await
        .ok()
        .and_then(|b| Superblock::decode(b.as_slice()));
    let sb = match primary {
        Some(sb) => {
            report.superblock = "primary".into();
            Some(sb)
        }
        None => {
            let backup = read(dev, size - BLOCK, BLOCK)
                .await
                .ok()
                .and_then(|b| Superblock::decode(b.as_slice()));
            if backup.is_some() {
                report.superblock = "backup".into();
                report.damaged.push(Damaged {
                    offset: 0,
                    reason: "primary superblock unreadable; used the backup".into(),
                });
            }
            backup
        }
    };
    let (start, end) = match &sb {
        Some(sb) => {
            report.disk_id = Some(sb.disk_id);
            report.cluster_id = Some(sb.cluster_id);
            report.osd_id = Some(sb.osd_id.clone());
            (sb.data_off, sb.data_end)
        }
        // Without a superblock, look everywhere.
        None => (0, size / BLOCK * BLOCK),
    };
    let mut off = start;
    while off < end {
        let n = WINDOW.min(end - off);
        let win = match read(dev, off, n).await {
            Ok(w) => w,
            Err(e) => {
                report.damaged.push(Damaged {
                    offset: off,
                    reason: format!("read failed: {e}"),
                });
                off += n;
                continue;
            }
        };
        let mut next = off + n;
        let mut b = 0u64;
        while b < n {
            let blk = &win.as_slice()[b as usize..(b + BLOCK) as usize];
            let at = off + b;
            if blk[..8] == format::SHARD_MAGIC[..] {
                match shard_at(dev, at, blk, end).await {
                    Ok(s) => {
                        let skip = s.1;
                        report.shards.push(s.0);
                        next = at + skip;
                        break;
                    }
                    Err(reason) => report.damaged.push(Damaged { offset: at, reason }),
                }
            }
            b += BLOCK;
        }
        report.scanned_bytes += next.min(end) - off;
        off = next;
    }
    report
}

/// Decodes and verifies the shard whose header starts at `at`; returns it
/// and the extent length.
async fn shard_at(
    dev: &dyn BlockDevice,
    at: u64,
    first: &[u8],
    end: u64,
) -> Result<(ScannedShard, u64), String> {
    let need = format::shard_header_len(first).ok_or("unreadable shard header")?;
    let need = round_up(need as u64).min(end - at);
    let head = if need <= BLOCK {
        format::decode_shard_header(first)
    } else {
        let b = read(dev, at, need)
            .await
            .map_err(|e| format!("read failed: {e}"))?;
        format::decode_shard_header(b.as_slice())
    }
    .ok_or("shard header fails its checksum")?;
    let h = &head.header;
    let g = h.geometry();
    let header_len = format::header_area(h);
    let extent = format::extent_len(header_len, g.shard_size());
    if at + extent > end {
        return Err("shard extent runs past the data region".into());
    }
    let mut bad = Vec::new();
    for j in 0..g.stripes() {
        let len = g.chunk_len(j);
        // A small shard's data follows its header within a block: read
        // through the aligned blocks around it.
        let off = at + header_len + j * g.chunk_size;
        match crate::engine::read_range(dev, off, len).await {
            Ok(b) if crc32c::crc32c(b.as_slice()) == head.chunk_crcs[j as usize] => {}
            _ => bad.push(j),
        }
    }
    Ok((
        ScannedShard {
            offset: at,
            data_offset: at + header_len,
            cluster_id: h.cluster_id,
            bucket: h.bucket.clone(),
            key: h.key.clone(),
            version_id: h.id.version_id,
            part: h.id.part,
            k: h.k,
            m: h.m,
            chunk_size: h.chunk_size,
            shard_index: h.id.index,
            object_size: h.object_size,
            shard_size: g.shard_size(),
            etag: head.etag.clone(),
            created_ms: h.created_ms,
            checksum: if bad.is_empty() {
                "ok".into()
            } else {
                "corrupt".into()
            },
            bad_chunks: bad,
            meta: h.meta.clone(),
        },
        extent,
    ))
}
