//! On-device formats: superblock, shard header block, index entries,
//! journal batches and checkpoint headers. Every structure opens with a
//! magic and ends with a CRC32C; every parser is bounds-checked and returns
//! `None` (never panics) on bytes it does not recognise.
//!
//! ```text
//! 0                      superblock (4 KiB)
//! journal_off            journal: circular, batches block-aligned
//! ckpt_off[0], [1]       checkpoint slots: header block + index entries
//! data_off .. data_end   shard extents: header area | chunk data
//! size - 4 KiB           superblock backup
//! ```

use objectio_shard::{ShardHeader, ShardId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::device::{BLOCK, round_up};

pub const SB_MAGIC: &[u8; 8] = b"OIOENGSB";
pub const SHARD_MAGIC: &[u8; 8] = b"OIOSHRD1";
pub const BATCH_MAGIC: &[u8; 8] = b"OIOJRNL1";
pub const CKPT_MAGIC: &[u8; 8] = b"OIOCKPT1";
pub const FORMAT_VERSION: u32 = 1;

/// A bounds-checked reader over bytes.
pub struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Self { b, pos: 0 }
    }
    pub fn pos(&self) -> usize {
        self.pos
    }
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }
    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.bytes(4)?.try_into().ok()?))
    }
    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.bytes(8)?.try_into().ok()?))
    }
}

/// The superblock body (JSON, framed by magic, length and CRC32C).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Superblock {
    pub format: u32,
    pub cluster_id: Uuid,
    pub osd_id: String,
    pub disk_id: Uuid,
    pub size: u64,
    pub journal_off: u64,
    pub journal_len: u64,
    pub ckpt_off: [u64; 2],
    pub ckpt_len: u64,
    pub data_off: u64,
    pub data_end: u64,
    pub created: u64,
}

impl Superblock {
    /// Lays out a device of `size` bytes.
    pub fn layout(size: u64, cluster_id: Uuid, osd_id: &str, created: u64) -> Option<Self> {
        let blocks = |x: u64| x / BLOCK * BLOCK;
        let journal_len = blocks((size / 64).clamp(8 << 20, 1 << 30));
        let ckpt_len = blocks((size / 32).clamp(16 << 20, 4 << 30));
        let journal_off = BLOCK;
        let ckpt0 = journal_off + journal_len;
        let ckpt1 = ckpt0 + ckpt_len;
        let data_off = ckpt1 + ckpt_len;
        let data_end = blocks(size).checked_sub(BLOCK)?;
        if data_end <= data_off + (16 << 20) {
            return None;
        }
        Some(Self {
            format: FORMAT_VERSION,
            cluster_id,
            osd_id: osd_id.to_string(),
            disk_id: Uuid::new_v4(),
            size,
            journal_off,
            journal_len,
            ckpt_off: [ckpt0, ckpt1],
            ckpt_len,
            data_off,
            data_end,
            created,
        })
    }

    /// One 4 KiB block.
    pub fn encode(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("superblock serialises");
        let mut b = Vec::with_capacity(BLOCK as usize);
        b.extend_from_slice(SB_MAGIC);
        b.extend_from_slice(&(json.len() as u32).to_be_bytes());
        b.extend_from_slice(&json);
        let crc = crc32c::crc32c(&b);
        b.extend_from_slice(&crc.to_be_bytes());
        b.resize(BLOCK as usize, 0);
        b
    }

    /// Parses and checks a superblock block.
    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        if r.bytes(8)? != SB_MAGIC {
            return None;
        }
        let len = r.u32()? as usize;
        let json = r.bytes(len)?;
        let end = r.pos();
        if r.u32()? != crc32c::crc32c(&b[..end]) {
            return None;
        }
        let sb: Superblock = serde_json::from_slice(json).ok()?;
        let regions_ok = sb.format == FORMAT_VERSION
            && sb.journal_off >= BLOCK
            && sb.journal_off.checked_add(sb.journal_len)? <= sb.ckpt_off[0]
            && sb.ckpt_off[0].checked_add(sb.ckpt_len)? <= sb.ckpt_off[1]
            && sb.ckpt_off[1].checked_add(sb.ckpt_len)? <= sb.data_off
            && sb.data_off < sb.data_end
            && sb.data_end.checked_add(BLOCK)? <= sb.size
            && [
                sb.journal_off,
                sb.journal_len,
                sb.ckpt_off[0],
                sb.ckpt_off[1],
                sb.ckpt_len,
                sb.data_off,
                sb.data_end,
            ]
            .iter()
            .all(|x| x % BLOCK == 0);
        regions_ok.then_some(sb)
    }
}

/// What a foreign signature looks like, for refusing to format.
pub fn foreign_signature(first: &[u8]) -> Option<String> {
    let at = |off: usize, magic: &[u8]| first.get(off..off + magic.len()) == Some(magic);
    if at(0, b"OBJIOSB\x01") {
        return Some("an ObjectIO disk of the older log layout".into());
    }
    if at(0, b"XFSB") {
        return Some("an XFS filesystem".into());
    }
    if at(1080, &[0x53, 0xEF]) {
        return Some("an ext2/3/4 filesystem".into());
    }
    if at(0, b"LUKS\xba\xbe") {
        return Some("a LUKS volume".into());
    }
    if at(512, b"EFI PART") {
        return Some("a GPT partition table".into());
    }
    if at(510, &[0x55, 0xAA]) {
        return Some("an MBR partition table".into());
    }
    if at(65600, b"_BHRfS_M") {
        return Some("a btrfs filesystem".into());
    }
    if first.iter().any(|b| *b != 0) {
        return Some("unknown data (not all zeros)".into());
    }
    None
}

/// One shard in the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub id: ShardId,
    pub k: u8,
    pub m: u8,
    pub chunk_size: u32,
    pub object_size: u64,
    /// Start of the extent (its header area).
    pub offset: u64,
    /// Bytes of the header area; chunk data starts after it.
    pub header_len: u32,
    /// Bytes of the whole extent.
    pub extent_len: u64,
    pub etag: String,
    pub chunk_crcs: Vec<u32>,
}

impl IndexEntry {
    pub fn geometry(&self) -> objectio_codec::Geometry {
        objectio_codec::Geometry::new(
            self.k as usize,
            self.m as usize,
            self.chunk_size as u64,
            self.object_size,
        )
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.id.version_id.as_bytes());
        out.extend_from_slice(&self.id.part.to_be_bytes());
        out.push(self.id.index);
        out.push(self.k);
        out.push(self.m);
        out.extend_from_slice(&self.chunk_size.to_be_bytes());
        out.extend_from_slice(&self.object_size.to_be_bytes());
        out.extend_from_slice(&self.offset.to_be_bytes());
        out.extend_from_slice(&self.header_len.to_be_bytes());
        out.extend_from_slice(&self.extent_len.to_be_bytes());
        out.push(self.etag.len() as u8);
        out.extend_from_slice(self.etag.as_bytes());
        out.extend_from_slice(&(self.chunk_crcs.len() as u32).to_be_bytes());
        for c in &self.chunk_crcs {
            out.extend_from_slice(&c.to_be_bytes());
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Option<Self> {
        let vid = Uuid::from_slice(r.bytes(16)?).ok()?;
        let part = r.u32()?;
        let index = r.u8()?;
        let k = r.u8()?;
        let m = r.u8()?;
        let chunk_size = r.u32()?;
        let object_size = r.u64()?;
        let offset = r.u64()?;
        let header_len = r.u32()?;
        let extent_len = r.u64()?;
        let el = r.u8()? as usize;
        let etag = String::from_utf8(r.bytes(el)?.to_vec()).ok()?;
        let n = r.u32()? as usize;
        if k == 0 || m == 0 || chunk_size == 0 || n > (1 << 24) {
            return None;
        }
        let e = IndexEntry {
            id: ShardId {
                version_id: vid,
                part,
                index,
            },
            k,
            m,
            chunk_size,
            object_size,
            offset,
            header_len,
            extent_len,
            etag,
            chunk_crcs: (0..n).map(|_| r.u32()).collect::<Option<Vec<u32>>>()?,
        };
        (e.geometry().stripes() == n as u64 && e.offset.checked_add(e.extent_len).is_some())
            .then_some(e)
    }
}

fn encode_id(id: &ShardId, out: &mut Vec<u8>) {
    out.extend_from_slice(id.version_id.as_bytes());
    out.extend_from_slice(&id.part.to_be_bytes());
    out.push(id.index);
}

fn decode_id(r: &mut Reader<'_>) -> Option<ShardId> {
    Some(ShardId {
        version_id: Uuid::from_slice(r.bytes(16)?).ok()?,
        part: r.u32()?,
        index: r.u8()?,
    })
}

/// A journal record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Insert(IndexEntry),
    Delete(ShardId),
}

impl Record {
    /// Bytes of the encoding.
    pub fn encoded_len(&self) -> usize {
        match self {
            Record::Insert(e) => {
                1 + 16
                    + 4
                    + 1
                    + 1
                    + 1
                    + 4
                    + 8
                    + 8
                    + 4
                    + 8
                    + 1
                    + e.etag.len()
                    + 4
                    + 4 * e.chunk_crcs.len()
            }
            Record::Delete(_) => 1 + 16 + 4 + 1,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Record::Insert(e) => {
                out.push(1);
                e.encode(out);
            }
            Record::Delete(id) => {
                out.push(2);
                encode_id(id, out);
            }
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Option<Self> {
        match r.u8()? {
            1 => Some(Record::Insert(IndexEntry::decode(r)?)),
            2 => Some(Record::Delete(decode_id(r)?)),
            _ => None,
        }
    }
}

/// Encodes a journal batch, padded to whole blocks:
/// `magic | disk id | seq | payload_len | crc | payload`, CRC over the disk
/// id, seq, length and payload. The disk id keeps a batch left by an
/// earlier format of the same device from ever being replayed.
pub fn encode_batch(disk: &Uuid, seq: u64, records: &[Record]) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend_from_slice(&(records.len() as u32).to_be_bytes());
    for r in records {
        r.encode(&mut payload);
    }
    let mut b = Vec::with_capacity(round_up(payload.len() as u64 + BATCH_HEAD) as usize);
    b.extend_from_slice(BATCH_MAGIC);
    b.extend_from_slice(disk.as_bytes());
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    let mut crc = crc32c::crc32c(&b[8..36]);
    crc = crc32c::crc32c_append(crc, &payload);
    b.extend_from_slice(&crc.to_be_bytes());
    b.extend_from_slice(&payload);
    b.resize(round_up(b.len() as u64) as usize, 0);
    b
}

/// The header of a journal batch: `(seq, bytes of the whole batch)`, read
/// from its first block; `None` if it is not a batch header.
pub fn batch_header(disk: &Uuid, first: &[u8]) -> Option<(u64, u64)> {
    let mut r = Reader::new(first);
    if r.bytes(8)? != BATCH_MAGIC || r.bytes(16)? != disk.as_bytes() {
        return None;
    }
    let seq = r.u64()?;
    let len = r.u32()? as u64;
    Some((seq, round_up(BATCH_HEAD + len)))
}

/// Bytes of a batch header.
pub const BATCH_HEAD: u64 = 40;

/// Decodes a whole journal batch; `None` if torn or corrupt.
pub fn decode_batch(disk: &Uuid, b: &[u8]) -> Option<(u64, Vec<Record>)> {
    let mut r = Reader::new(b);
    if r.bytes(8)? != BATCH_MAGIC || r.bytes(16)? != disk.as_bytes() {
        return None;
    }
    let seq = r.u64()?;
    let len = r.u32()? as usize;
    let crc = r.u32()?;
    let payload = r.bytes(len)?;
    let mut c = crc32c::crc32c(&b[8..36]);
    c = crc32c::crc32c_append(c, payload);
    if c != crc {
        return None;
    }
    let mut p = Reader::new(payload);
    let n = p.u32()? as usize;
    let mut recs = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        recs.push(Record::decode(&mut p)?);
    }
    (p.pos() == payload.len()).then_some((seq, recs))
}

/// The header block of a checkpoint slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CkptHeader {
    pub disk: Uuid,
    pub generation: u64,
    /// Offset within the journal region where replay starts.
    pub journal_pos: u64,
    /// Sequence number of the first batch to replay.
    pub next_seq: u64,
    pub entries: u64,
    pub payload_len: u64,
    pub payload_crc: u32,
}

impl CkptHeader {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(BLOCK as usize);
        b.extend_from_slice(CKPT_MAGIC);
        b.extend_from_slice(self.disk.as_bytes());
        for x in [
            self.generation,
            self.journal_pos,
            self.next_seq,
            self.entries,
            self.payload_len,
        ] {
            b.extend_from_slice(&x.to_be_bytes());
        }
        b.extend_from_slice(&self.payload_crc.to_be_bytes());
        let crc = crc32c::crc32c(&b);
        b.extend_from_slice(&crc.to_be_bytes());
        b.resize(BLOCK as usize, 0);
        b
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        if r.bytes(8)? != CKPT_MAGIC {
            return None;
        }
        let h = CkptHeader {
            disk: Uuid::from_slice(r.bytes(16)?).ok()?,
            generation: r.u64()?,
            journal_pos: r.u64()?,
            next_seq: r.u64()?,
            entries: r.u64()?,
            payload_len: r.u64()?,
            payload_crc: r.u32()?,
        };
        let end = r.pos();
        (r.u32()? == crc32c::crc32c(&b[..end])).then_some(h)
    }
}

/// Bytes of the header area of a shard extent with this header.
///
/// A shard of one chunk keeps its data right after the header (64-byte
/// aligned) in the same blocks, so a small shard costs one block, not two;
/// a shard of several chunks starts its data on a block boundary so that
/// every chunk is written with aligned I/O as it arrives.
pub fn header_area(h: &ShardHeader) -> u64 {
    let json = serde_json::to_vec(h).expect("header serialises").len() as u64;
    let raw = 8 + 4 + json + 1 + 64 + 4 + 4 * h.geometry().stripes() + 4;
    if h.geometry().stripes() <= 1 {
        raw.div_ceil(64) * 64
    } else {
        round_up(raw)
    }
}

/// Bytes of a shard's extent: its header area and data, in whole blocks.
pub fn extent_len(header_area: u64, shard_size: u64) -> u64 {
    round_up(header_area + shard_size)
}

/// Encodes the header area: `magic | json_len | json | etag_len | etag |
/// n | crcs | crc32c`, zero-padded to `area` bytes.
pub fn encode_shard_header(h: &ShardHeader, etag: &str, crcs: &[u32], area: usize) -> Vec<u8> {
    let json = serde_json::to_vec(h).expect("header serialises");
    let mut b = Vec::with_capacity(area);
    b.extend_from_slice(SHARD_MAGIC);
    b.extend_from_slice(&(json.len() as u32).to_be_bytes());
    b.extend_from_slice(&json);
    b.push(etag.len() as u8);
    b.extend_from_slice(etag.as_bytes());
    b.extend_from_slice(&(crcs.len() as u32).to_be_bytes());
    for c in crcs {
        b.extend_from_slice(&c.to_be_bytes());
    }
    let crc = crc32c::crc32c(&b);
    b.extend_from_slice(&crc.to_be_bytes());
    b.resize(area.max(b.len()), 0);
    b
}

/// A decoded shard header area.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardHead {
    pub header: ShardHeader,
    pub etag: String,
    pub chunk_crcs: Vec<u32>,
    /// Bytes the encoding used (before padding).
    pub used: usize,
}

/// Bytes needed to decode a header area, from its first block (`None` if
/// the block does not open a shard header).
pub fn shard_header_len(first: &[u8]) -> Option<usize> {
    let mut r = Reader::new(first);
    if r.bytes(8)? != SHARD_MAGIC {
        return None;
    }
    let json = r.u32()? as usize;
    if json > 64 << 10 {
        return None;
    }
    // The crc count follows the JSON and the etag; read it if it is in
    // this block, else assume the largest header.
    let mut r2 = Reader::new(first);
    r2.bytes(12 + json)?;
    let el = r2.u8();
    let n = el.and_then(|el| {
        r2.bytes(el as usize)?;
        r2.u32()
    });
    match (el, n) {
        (Some(el), Some(n)) if n <= 1 << 24 => {
            Some(12 + json + 1 + el as usize + 4 + 4 * n as usize + 4)
        }
        _ => Some(round_up((12 + json + 1 + 255 + 4 + 4) as u64) as usize),
    }
}

/// Decodes a header area; `None` if it is not a valid one.
pub fn decode_shard_header(b: &[u8]) -> Option<ShardHead> {
    let mut r = Reader::new(b);
    if r.bytes(8)? != SHARD_MAGIC {
        return None;
    }
    let jl = r.u32()? as usize;
    let json = r.bytes(jl)?;
    let el = r.u8()? as usize;
    let etag = String::from_utf8(r.bytes(el)?.to_vec()).ok()?;
    let n = r.u32()? as usize;
    if n > 1 << 24 {
        return None;
    }
    let crcs = (0..n).map(|_| r.u32()).collect::<Option<Vec<u32>>>()?;
    let end = r.pos();
    if r.u32()? != crc32c::crc32c(&b[..end]) {
        return None;
    }
    let header: ShardHeader = serde_json::from_slice(json).ok()?;
    header.validate().ok()?;
    (header.geometry().stripes() == n as u64).then_some(ShardHead {
        header,
        etag,
        chunk_crcs: crcs,
        used: end + 4,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(n_obj: u64) -> IndexEntry {
        let g = objectio_codec::Geometry::new(4, 2, 1 << 20, n_obj);
        IndexEntry {
            id: ShardId {
                version_id: Uuid::new_v4(),
                part: 3,
                index: 5,
            },
            k: 4,
            m: 2,
            chunk_size: 1 << 20,
            object_size: n_obj,
            offset: 1 << 30,
            header_len: 4096,
            extent_len: 8192,
            etag: "0123456789abcdef0123456789abcdef".into(),
            chunk_crcs: (0..g.stripes() as u32).collect(),
        }
    }

    #[test]
    fn roundtrips() {
        let sb = Superblock::layout(4 << 30, Uuid::new_v4(), "osd1", 7).unwrap();
        assert_eq!(Superblock::decode(&sb.encode()), Some(sb.clone()));
        assert!(sb.data_off > sb.ckpt_off[1] && sb.data_end < sb.size);
        let recs = vec![Record::Insert(entry(10 << 20)), Record::Delete(entry(1).id)];
        for r in &recs {
            let mut b = Vec::new();
            r.encode(&mut b);
            assert_eq!(b.len(), r.encoded_len());
        }
        let d = Uuid::new_v4();
        let b = encode_batch(&d, 42, &recs);
        assert_eq!(b.len() % BLOCK as usize, 0);
        assert_eq!(batch_header(&d, &b), Some((42, b.len() as u64)));
        assert_eq!(decode_batch(&d, &b), Some((42, recs)));
        // Another format of the device never replays it.
        assert_eq!(decode_batch(&Uuid::new_v4(), &b), None);
        let h = CkptHeader {
            disk: d,
            generation: 9,
            journal_pos: 8192,
            next_seq: 77,
            entries: 1000,
            payload_len: 123456,
            payload_crc: 0xdeadbeef,
        };
        assert_eq!(CkptHeader::decode(&h.encode()), Some(h));
    }

    #[test]
    fn torn_batch_is_refused() {
        let b = encode_batch(&Uuid::nil(), 1, &[Record::Insert(entry(5 << 20))]);
        for cut in [20usize, 40, 100] {
            let mut t = b.clone();
            for x in &mut t[cut..] {
                *x = 0;
            }
            assert!(decode_batch(&Uuid::nil(), &t).is_none(), "cut at {cut}");
        }
    }

    #[test]
    fn signatures() {
        let mut b = vec![0u8; 70000];
        assert_eq!(foreign_signature(&b), None);
        b[1080] = 0x53;
        b[1081] = 0xEF;
        assert!(foreign_signature(&b).unwrap().contains("ext"));
        let mut g = vec![0u8; 70000];
        g[512..520].copy_from_slice(b"EFI PART");
        assert!(foreign_signature(&g).unwrap().contains("GPT"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parsers_never_panic_on_hostile_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
            let _ = Superblock::decode(&bytes);
            let _ = decode_batch(&Uuid::nil(), &bytes);
            let _ = batch_header(&Uuid::nil(), &bytes);
            let _ = CkptHeader::decode(&bytes);
            let _ = shard_header_len(&bytes);
            let _ = decode_shard_header(&bytes);
            let _ = IndexEntry::decode(&mut Reader::new(&bytes));
        }

        #[test]
        fn parsers_never_panic_on_mutated_structures(pos in 0usize..4096, val in any::<u8>(), which in 0u8..4) {
            let mut b = match which {
                0 => Superblock::layout(1 << 30, Uuid::nil(), "o", 0).unwrap().encode(),
                1 => encode_batch(&Uuid::nil(), 3, &[Record::Insert(entry(3 << 20))]),
                2 => CkptHeader { disk: Uuid::nil(), generation: 1, journal_pos: 0, next_seq: 1, entries: 0, payload_len: 0, payload_crc: 0 }.encode(),
                _ => {
                    let h = ShardHeader {
                        format: 1, cluster_id: Uuid::nil(), bucket: "b".into(), key: "k".into(),
                        id: entry(1).id, k: 4, m: 2, chunk_size: 1 << 20, object_size: 100, created_ms: 0, meta: None,
                    };
                    encode_shard_header(&h, "e", &[1], 4096)
                }
            };
            let p = pos % b.len();
            let changed = b[p] != val;
            b[p] = val;
            let parsed = match which {
                0 => Superblock::decode(&b).is_some(),
                1 => decode_batch(&Uuid::nil(), &b).is_some(),
                2 => CkptHeader::decode(&b).is_some(),
                _ => decode_shard_header(&b).is_some(),
            };
            // A changed byte inside the checksummed part is always caught.
            let covered = match which { 0 => 200, 1 => 120, 2 => 72, _ => 0 };
            if changed && p < covered {
                prop_assert!(!parsed);
            }
        }
    }
}
