//! The compact encoding of object records, and the disk directory it
//! needs.
//!
//! An object record is the one record that grows with the data: one per
//! object version. As JSON it spells out bucket and key (already in its
//! etcd key), a version id and an ETag in hex, and for every shard an OSD
//! id and a 36-character disk UUID: 425–608 bytes for a small object. The
//! compact form is binary and names each disk by its short *index*, a
//! number the cluster gives a disk once when it first registers
//! ([`crate::DiskRecord::index`], allocated from [`crate::DiskIndexNext`])
//! and never reuses:
//!
//! ```text
//! 0xB1  wire version (1)
//! version id (16 bytes)  size (varint)  ETag (0 + 16-byte MD5 | 1 + varint length + text)
//! created_ms (varint)  k (byte)  m (byte)  chunk size (varint)
//! shard count (varint), each shard's disk index (varint; 0 = not written)
//! flags (byte: versioned 1, delete marker 2, noncurrent 4, legal hold 8)
//! content type (0 none | 1 application/octet-stream | 2 + varint length + text)
//! checksum (0 none | algorithm 1–5, +0x80 when full-object, then varint length + digest)
//! the rest (varint length + JSON of the rarer fields; length 0 when all are empty)
//! ```
//!
//! A 4 KiB object's record is about 60 bytes. Bucket and key come back
//! from the etcd key. JSON records (every record written before, or by a
//! cluster created before, or naming a disk without an index) are read as
//! they always were: the first byte tells the two apart (`{` or `0xB1`).
//!
//! Decoding needs index → (OSD, disk): the [`DiskDirectory`], which every
//! daemon's cluster map fills as it watches the disks, and which a reader
//! that meets an index it does not know refreshes from etcd once (a disk
//! registered a moment ago) before treating that shard as gone (its disk's
//! record removed with its OSD).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use base64::Engine;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::records::{
    CannedAcl, ChecksumAlgorithm, DiskRecord, EcProfile, ObjectChecksum, ObjectHeaders,
    ObjectRecord, PartLocation, Retention, SCHEMA_VERSION, ShardLocation, Sse, Versioned,
};
use crate::{Error, Keys, Result};

/// The content type most objects have, written as one byte.
const OCTET_STREAM: &str = "application/octet-stream";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The first byte of a compact value (never the first byte of JSON).
pub const TAG: u8 = 0xB1;
/// The compact format version this build writes and reads.
pub const WIRE_VERSION: u8 = 1;

#[derive(Default)]
struct Dir {
    by_index: HashMap<u32, ShardLocation>,
    by_disk: HashMap<Uuid, u32>,
    compact: bool,
    /// The etcd revision every disk record was last read at.
    read_at: i64,
}

/// Disk index ↔ (OSD, disk), shared by every clone of a [`crate::Store`].
/// Entries are only ever added: a disk's index, OSD and UUID never change.
/// The default one knows no disk and no object key: it writes JSON.
#[derive(Clone, Default)]
pub struct DiskDirectory {
    dir: Arc<RwLock<Dir>>,
    objects_root: Arc<Vec<u8>>,
}

impl DiskDirectory {
    /// An empty directory for the cluster `keys` name; writes JSON until
    /// [`DiskDirectory::set_compact`].
    pub fn new(keys: &Keys) -> Self {
        Self {
            dir: Default::default(),
            objects_root: Arc::new(keys.objects_root().into_bytes()),
        }
    }

    /// Learns the indexes of `disks` (those that have one).
    pub fn learn<'a>(&self, disks: impl IntoIterator<Item = &'a DiskRecord>) {
        let fresh: Vec<&DiskRecord> = {
            let d = self.dir.read().expect("directory lock");
            disks
                .into_iter()
                .filter(|r| r.index != 0 && !d.by_index.contains_key(&r.index))
                .collect()
        };
        if fresh.is_empty() {
            return;
        }
        let mut d = self.dir.write().expect("directory lock");
        for r in fresh {
            d.by_index.insert(
                r.index,
                ShardLocation {
                    osd: r.osd.clone(),
                    disk: r.id,
                },
            );
            d.by_disk.insert(r.id, r.index);
        }
    }

    /// Whether object records are written compact (the cluster config's
    /// `compact_records`).
    pub fn set_compact(&self, on: bool) {
        self.dir.write().expect("directory lock").compact = on;
    }

    /// The etcd revision all disk records were last read at (0: never).
    pub fn read_at(&self) -> i64 {
        self.dir.read().expect("directory lock").read_at
    }

    /// Notes that every disk record was read at `revision`.
    pub fn set_read_at(&self, revision: i64) {
        let mut d = self.dir.write().expect("directory lock");
        d.read_at = d.read_at.max(revision);
    }

    /// The compact value of `rec`, or `None` when it must be JSON: compact
    /// records are off, or a shard's disk has no index known here (or is
    /// known under another OSD).
    fn encode(&self, rec: &ObjectRecord) -> Option<Vec<u8>> {
        let d = self.dir.read().expect("directory lock");
        if !d.compact {
            return None;
        }
        let index = |loc: &Option<ShardLocation>| -> Option<u32> {
            match loc {
                None => Some(0),
                Some(l) => {
                    let i = *d.by_disk.get(&l.disk)?;
                    (d.by_index.get(&i)?.osd == l.osd).then_some(i)
                }
            }
        };
        let indexes = |shards: &[Option<ShardLocation>]| -> Option<Vec<u32>> {
            shards.iter().map(index).collect()
        };
        let shards = indexes(&rec.shards)?;
        let part = |p: &PartLocation| -> Option<WirePart> {
            Some(WirePart {
                number: p.number,
                version_id: p.version_id,
                size: p.size,
                etag: p.etag.clone(),
                shards: indexes(&p.shards)?,
                checksum: p.checksum.clone(),
            })
        };
        let checksum = rec.checksum.as_ref().and_then(|c| {
            let code = ChecksumAlgorithm::ALL
                .iter()
                .position(|a| *a == c.algorithm)? as u8
                + 1;
            let digest = b64().decode(&c.value).ok()?;
            // Only a value that comes back as it was (not a composite's
            // `-<parts>` form) goes in binary.
            (b64().encode(&digest) == c.value)
                .then_some((code | if c.full_object { 0x80 } else { 0 }, digest))
        });
        let content_type = match rec.content_type.as_deref() {
            None => None,
            Some(OCTET_STREAM) => Some(1u8),
            Some(_) => Some(2),
        };
        let rest = Rest {
            content_type: match content_type {
                Some(_) => None,
                None => rec.content_type.clone(),
            },
            user_metadata: rec.user_metadata.clone(),
            parts: rec.parts.iter().map(part).collect::<Option<_>>()?,
            acl: rec.acl,
            manifest: match &rec.manifest {
                Some(m) => Some(part(m)?),
                None => None,
            },
            headers: rec.headers.clone(),
            tags: rec.tags.clone(),
            checksum: match checksum {
                Some(_) => None,
                None => rec.checksum.clone(),
            },
            retention: rec.retention,
            encryption: rec.encryption.clone(),
        };
        drop(d);
        let mut out = Vec::with_capacity(64);
        out.push(TAG);
        out.push(WIRE_VERSION);
        out.extend_from_slice(rec.version_id.as_bytes());
        varint(&mut out, rec.size);
        match md5_bytes(&rec.etag) {
            Some(b) => {
                out.push(0);
                out.extend_from_slice(&b);
            }
            None => {
                out.push(1);
                bytes(&mut out, rec.etag.as_bytes());
            }
        }
        varint(&mut out, rec.created_ms);
        out.push(rec.ec.k);
        out.push(rec.ec.m);
        varint(&mut out, rec.ec.chunk_size as u64);
        varint(&mut out, shards.len() as u64);
        for i in shards {
            varint(&mut out, i as u64);
        }
        out.push(
            rec.versioned as u8
                | (rec.delete_marker as u8) << 1
                | (rec.noncurrent as u8) << 2
                | (rec.legal_hold as u8) << 3,
        );
        match (content_type, &rec.content_type) {
            (Some(2), Some(t)) => {
                out.push(2);
                bytes(&mut out, t.as_bytes());
            }
            (Some(c), _) => out.push(c),
            (None, _) => out.push(0),
        }
        match checksum {
            Some((code, digest)) => {
                out.push(code);
                bytes(&mut out, &digest);
            }
            None => out.push(0),
        }
        let rest = serde_json::to_vec(&rest).expect("records serialise");
        if rest == b"{}" {
            varint(&mut out, 0);
        } else {
            bytes(&mut out, &rest);
        }
        Some(out)
    }

    /// Decodes a compact value stored under `key`. An index not known
    /// here is [`Error::UnknownDisk`], or with `lenient` a shard not there.
    fn decode(&self, key: &[u8], value: &[u8], lenient: bool) -> Result<ObjectRecord> {
        let name = || String::from_utf8_lossy(key).into_owned();
        let bad = |what: &str| Error::Compact {
            key: name(),
            what: what.to_string(),
        };
        let (bucket, okey) =
            split_key(&self.objects_root, key).ok_or_else(|| bad("not an object key"))?;
        let mut r = Reader(value);
        if r.byte()? != TAG {
            return Err(bad("not a compact record"));
        }
        let wire = r.byte()?;
        if wire > WIRE_VERSION {
            return Err(Error::UnknownVersion {
                key: name(),
                found: wire as u32,
                supported: WIRE_VERSION as u32,
            });
        }
        let version_id = Uuid::from_bytes(r.take(16)?.try_into().expect("16 bytes"));
        let size = r.varint()?;
        let etag = match r.byte()? {
            0 => hex(r.take(16)?),
            1 => String::from_utf8(r.bytes()?.to_vec()).map_err(|_| bad("ETag is not UTF-8"))?,
            _ => return Err(bad("unknown ETag form")),
        };
        let created_ms = r.varint()?;
        let ec = EcProfile {
            k: r.byte()?,
            m: r.byte()?,
            chunk_size: u32::try_from(r.varint()?).map_err(|_| bad("chunk size"))?,
        };
        let n = r.varint()?;
        if n > 1024 {
            return Err(bad("too many shards"));
        }
        let mut shard_ix = Vec::with_capacity(n as usize);
        for _ in 0..n {
            shard_ix.push(u32::try_from(r.varint()?).map_err(|_| bad("disk index"))?);
        }
        let flags = r.byte()?;
        let content_type = match r.byte()? {
            0 => None,
            1 => Some(OCTET_STREAM.to_string()),
            2 => Some(
                String::from_utf8(r.bytes()?.to_vec())
                    .map_err(|_| bad("content type is not UTF-8"))?,
            ),
            _ => return Err(bad("unknown content-type form")),
        };
        let checksum = match r.byte()? {
            0 => None,
            c => {
                let algorithm = *ChecksumAlgorithm::ALL
                    .get(((c & 0x7f) as usize).wrapping_sub(1))
                    .ok_or_else(|| bad("unknown checksum algorithm"))?;
                Some(ObjectChecksum {
                    algorithm,
                    value: b64().encode(r.bytes()?),
                    full_object: c & 0x80 != 0,
                })
            }
        };
        let rest_bytes = r.bytes()?;
        if !r.0.is_empty() {
            return Err(bad("trailing bytes"));
        }
        let rest: Rest = if rest_bytes.is_empty() {
            Rest::default()
        } else {
            serde_json::from_slice(rest_bytes).map_err(|source| Error::Decode {
                key: name(),
                source,
            })?
        };
        let d = self.dir.read().expect("directory lock");
        let locate = |ix: &[u32]| -> Result<Vec<Option<ShardLocation>>> {
            ix.iter()
                .map(|&i| match i {
                    0 => Ok(None),
                    i => match d.by_index.get(&i) {
                        Some(l) => Ok(Some(l.clone())),
                        None if lenient => Ok(None),
                        None => Err(Error::UnknownDisk {
                            key: name(),
                            index: i,
                        }),
                    },
                })
                .collect()
        };
        let part = |p: WirePart| -> Result<PartLocation> {
            Ok(PartLocation {
                number: p.number,
                version_id: p.version_id,
                size: p.size,
                etag: p.etag,
                shards: locate(&p.shards)?,
                checksum: p.checksum,
            })
        };
        Ok(ObjectRecord {
            version: SCHEMA_VERSION,
            bucket,
            key: okey,
            version_id,
            size,
            etag,
            content_type: content_type.or(rest.content_type),
            user_metadata: rest.user_metadata,
            created_ms,
            ec,
            shards: locate(&shard_ix)?,
            parts: rest.parts.into_iter().map(part).collect::<Result<_>>()?,
            acl: rest.acl,
            manifest: rest.manifest.map(part).transpose()?,
            headers: rest.headers,
            tags: rest.tags,
            versioned: flags & 1 != 0,
            delete_marker: flags & 2 != 0,
            noncurrent: flags & 4 != 0,
            checksum: checksum.or(rest.checksum),
            retention: rest.retention,
            legal_hold: flags & 8 != 0,
            encryption: rest.encryption,
        })
    }
}

/// An object record's etcd value is compact when `dir` allows it, else
/// JSON; either form is read.
impl Versioned for ObjectRecord {
    fn schema_version(&self) -> u32 {
        self.version
    }
    fn from_value(key: &[u8], value: &[u8], dir: &DiskDirectory, lenient: bool) -> Result<Self> {
        if Self::is_compact(value) {
            dir.decode(key, value, lenient)
        } else {
            crate::store::decode_json(key, value)
        }
    }
    fn to_etcd(&self, dir: &DiskDirectory) -> Vec<u8> {
        dir.encode(self)
            .unwrap_or_else(|| crate::store::encode(self))
    }
}

impl ObjectRecord {
    /// Whether an etcd value is in the compact form.
    pub fn is_compact(value: &[u8]) -> bool {
        value.first() == Some(&TAG)
    }
}

/// The fields most records leave empty, as JSON.
#[derive(Default, Serialize, Deserialize)]
struct Rest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    user_metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    parts: Vec<WirePart>,
    #[serde(default, skip_serializing_if = "CannedAcl::is_private")]
    acl: CannedAcl,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    manifest: Option<WirePart>,
    #[serde(default, skip_serializing_if = "ObjectHeaders::is_empty")]
    headers: ObjectHeaders,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checksum: Option<ObjectChecksum>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retention: Option<Retention>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encryption: Option<Sse>,
}

/// A part's location with its disks as indexes.
#[derive(Serialize, Deserialize)]
struct WirePart {
    #[serde(rename = "n")]
    number: u32,
    #[serde(rename = "v")]
    version_id: Uuid,
    #[serde(rename = "s")]
    size: u64,
    #[serde(rename = "e")]
    etag: String,
    #[serde(rename = "d")]
    shards: Vec<u32>,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    checksum: Option<String>,
}

/// `(bucket, key)` of an object record's etcd key: the current version's
/// `<root>objects/<bucket>/<key>` or a noncurrent one's, which follows the
/// key with NUL and a suffix.
fn split_key(root: &[u8], key: &[u8]) -> Option<(String, String)> {
    let rel = key.strip_prefix(root)?;
    let slash = rel.iter().position(|b| *b == b'/')?;
    let (bucket, rest) = (&rel[..slash], &rel[slash + 1..]);
    let name = match rest.iter().position(|b| *b == 0) {
        Some(nul) => &rest[..nul],
        None => rest,
    };
    Some((
        String::from_utf8(bucket.to_vec()).ok()?,
        String::from_utf8(name.to_vec()).ok()?,
    ))
}

fn md5_bytes(etag: &str) -> Option<[u8; 16]> {
    let b = etag.as_bytes();
    if b.len() != 32
        || !b
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        let nib = |c: u8| {
            if c.is_ascii_digit() {
                c - b'0'
            } else {
                c - b'a' + 10
            }
        };
        *o = nib(b[2 * i]) << 4 | nib(b[2 * i + 1]);
    }
    Some(out)
}

fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    s
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn short() -> Error {
        Error::Compact {
            key: String::new(),
            what: "the value ends early".into(),
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(Self::short());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::Compact {
            key: String::new(),
            what: "a number is too long".into(),
        })
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| Self::short())?;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::DiskState;

    fn disk(index: u32, osd: &str) -> DiskRecord {
        DiskRecord {
            version: SCHEMA_VERSION,
            id: Uuid::new_v4(),
            osd: osd.into(),
            path: String::new(),
            capacity_bytes: 1 << 30,
            used_bytes: 0,
            free_bytes: 1 << 30,
            shards: 0,
            backend: "sync".into(),
            weight: 1.0,
            state: DiskState::In,
            auto_out: false,
            last_scrub: 0,
            scrub_errors: 0,
            index,
        }
    }

    fn setup(n: u32) -> (Keys, DiskDirectory, Vec<DiskRecord>) {
        let keys = Keys::new("t");
        let dir = DiskDirectory::new(&keys);
        let disks: Vec<DiskRecord> = (1..=n).map(|i| disk(i, &format!("osd{i}"))).collect();
        dir.learn(&disks);
        dir.set_compact(true);
        (keys, dir, disks)
    }

    fn loc(d: &DiskRecord) -> Option<ShardLocation> {
        Some(ShardLocation {
            osd: d.osd.clone(),
            disk: d.id,
        })
    }

    fn small(disks: &[DiskRecord]) -> ObjectRecord {
        ObjectRecord {
            version: SCHEMA_VERSION,
            bucket: "objectio-bench".into(),
            key: "idx-4096-17".into(),
            version_id: Uuid::new_v4(),
            size: 4096,
            etag: "0cc175b9c0f1b6a831c399e269772661".into(),
            created_ms: 1_733_300_000_123,
            ec: EcProfile {
                k: 1,
                m: 2,
                chunk_size: 1 << 20,
            },
            shards: disks[..3].iter().map(loc).collect(),
            // What the AWS SDKs send by default.
            content_type: Some(OCTET_STREAM.into()),
            checksum: Some(ObjectChecksum {
                algorithm: ChecksumAlgorithm::Crc32,
                value: "+Ariyg==".into(),
                full_object: true,
            }),
            ..Default::default()
        }
    }

    fn same(a: &ObjectRecord, b: &ObjectRecord) {
        assert_eq!(
            serde_json::to_value(a).unwrap(),
            serde_json::to_value(b).unwrap()
        );
    }

    #[test]
    fn a_small_record_is_a_tenth_of_its_json_and_reads_back_whole() {
        let (keys, dir, disks) = setup(6);
        let rec = small(&disks);
        let v = rec.to_etcd(&dir);
        let json = serde_json::to_vec(&rec).unwrap();
        assert!(ObjectRecord::is_compact(&v));
        assert!(v.len() <= 70, "{} bytes", v.len());
        assert!(
            json.len() > 6 * v.len(),
            "json {} compact {}",
            json.len(),
            v.len()
        );
        let back = ObjectRecord::from_value(&keys.record(&rec), &v, &dir, false).unwrap();
        same(&rec, &back);
        // Another content type, a composite-less checksum of each kind.
        for (i, a) in ChecksumAlgorithm::ALL.into_iter().enumerate() {
            let mut r = rec.clone();
            r.content_type = Some(format!("text/x-{i}"));
            r.checksum = Some(ObjectChecksum {
                algorithm: a,
                value: b64().encode(vec![i as u8; 4 + 4 * i]),
                full_object: i % 2 == 0,
            });
            r.content_type = (i == 3).then_some(r.content_type).flatten();
            let v = r.to_etcd(&dir);
            assert!(
                !v.windows(5).any(|w| w == b"check"),
                "checksum went to JSON"
            );
            same(
                &r,
                &ObjectRecord::from_value(&keys.record(&r), &v, &dir, false).unwrap(),
            );
        }
    }

    #[test]
    fn every_field_survives_including_parts_versions_and_missing_shards() {
        let (keys, dir, disks) = setup(6);
        let mut rec = small(&disks);
        rec.ec.k = 4;
        rec.shards = disks.iter().map(loc).collect();
        rec.shards[3] = None;
        rec.etag = "0cc175b9c0f1b6a831c399e269772661-3".into();
        rec.key = "a/b/ü key".into();
        rec.content_type = Some("text/plain".into());
        rec.user_metadata.insert("x".into(), "y".into());
        rec.tags.insert("t".into(), "v".into());
        rec.acl = CannedAcl::PublicRead;
        rec.versioned = true;
        rec.noncurrent = true;
        rec.legal_hold = true;
        // A composite checksum stays in the JSON rest.
        rec.checksum = Some(ObjectChecksum {
            algorithm: ChecksumAlgorithm::Crc32c,
            value: "AAAAAA==-3".into(),
            full_object: false,
        });
        rec.headers.cache_control = Some("no-cache".into());
        let part = PartLocation {
            number: 2,
            version_id: Uuid::new_v4(),
            size: 5 << 20,
            etag: "00112233445566778899aabbccddeeff".into(),
            shards: vec![loc(&disks[5]), None, loc(&disks[0])],
            checksum: Some("abc".into()),
        };
        rec.parts = vec![part.clone()];
        rec.manifest = Some(part);
        let v = rec.to_etcd(&dir);
        assert!(ObjectRecord::is_compact(&v));
        // A noncurrent version's key carries the key, NUL and a suffix.
        let key = keys.record(&rec);
        assert!(key.contains(&0));
        same(
            &rec,
            &ObjectRecord::from_value(&key, &v, &dir, false).unwrap(),
        );
        // A delete marker: no shards, no ETag worth the name.
        let mut dm = small(&disks);
        dm.shards.clear();
        dm.etag.clear();
        dm.size = 0;
        dm.delete_marker = true;
        let v = dm.to_etcd(&dir);
        same(
            &dm,
            &ObjectRecord::from_value(&keys.record(&dm), &v, &dir, false).unwrap(),
        );
    }

    #[test]
    fn json_is_written_when_compact_is_off_or_a_disk_has_no_index_and_read_as_before() {
        let (keys, dir, mut disks) = setup(3);
        let rec = small(&disks);
        dir.set_compact(false);
        let v = rec.to_etcd(&dir);
        assert_eq!(v.first(), Some(&b'{'));
        same(
            &rec,
            &ObjectRecord::from_value(&keys.record(&rec), &v, &dir, false).unwrap(),
        );
        dir.set_compact(true);
        // A disk the directory does not know, or knows under another OSD.
        let mut other = rec.clone();
        other.shards[1] = Some(ShardLocation {
            osd: "osd2".into(),
            disk: Uuid::new_v4(),
        });
        assert_eq!(other.to_etcd(&dir).first(), Some(&b'{'));
        disks[0].osd = "osd9".into();
        let moved = small(&disks);
        assert_eq!(moved.to_etcd(&dir).first(), Some(&b'{'));
    }

    #[test]
    fn an_unknown_index_is_an_error_until_lenient_and_hostile_bytes_are_refused() {
        let (keys, dir, disks) = setup(3);
        let rec = small(&disks);
        let v = rec.to_etcd(&dir);
        let key = keys.record(&rec);
        let empty = DiskDirectory::new(&keys);
        let e = ObjectRecord::from_value(&key, &v, &empty, false).unwrap_err();
        assert!(matches!(e, Error::UnknownDisk { index: 1, .. }), "{e}");
        let back = ObjectRecord::from_value(&key, &v, &empty, true).unwrap();
        assert_eq!(back.shards, vec![None, None, None]);
        // Every truncation and a newer wire version are refused, not panics.
        for n in 0..v.len() {
            assert!(ObjectRecord::from_value(&key, &v[..n], &dir, false).is_err());
        }
        let mut newer = v.clone();
        newer[1] = WIRE_VERSION + 1;
        assert!(matches!(
            ObjectRecord::from_value(&key, &newer, &dir, false),
            Err(Error::UnknownVersion { found: 2, .. })
        ));
        let mut trailing = v.clone();
        trailing.push(0);
        assert!(ObjectRecord::from_value(&key, &trailing, &dir, false).is_err());
        assert!(ObjectRecord::from_value(b"/elsewhere", &v, &dir, false).is_err());
    }
}
