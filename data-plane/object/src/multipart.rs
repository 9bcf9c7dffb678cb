//! Multipart uploads: each part is written like an object (its own data id,
//! shards `(data id, part number, i)`) and recorded under the upload; the
//! completion commits one object record listing the parts, in the same
//! transaction that drops the upload and queues unused parts for GC.
//!
//! While a completion runs, a `completing/<upload id>` key makes part
//! commits fail (they compare its absence), so the parts a completion read
//! cannot be replaced under it.

use std::collections::BTreeMap;

use bytes::Bytes;
use etcd_client::GetOptions;

use crate::index::{Cmp, Op};
use futures::Stream;
use md5::Digest;
use objectio_cluster::keys::prefix_end;
use objectio_cluster::store::decode;
use objectio_cluster::{
    ObjectRecord, PartLocation, PartRecord, SCHEMA_VERSION, UploadRecord, now_millis,
};
use uuid::Uuid;

use super::{
    ChecksumAlgorithm, Digests, Error, Objects, Result, Wanted, Written, precondition_error,
};

/// Parts other than the last must be at least this large (as in S3).
pub const MIN_PART: u64 = 5 << 20;
/// Highest part number.
pub const MAX_PART: u32 = 10_000;

/// A page of uploads in progress.
#[derive(Debug, Default)]
pub struct UploadPage {
    pub uploads: Vec<UploadRecord>,
    pub truncated: bool,
}

fn no_upload(id: &str) -> Error {
    Error::NoSuchUpload(id.to_string())
}

impl Objects {
    /// Starts a multipart upload.
    pub async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        owner: &str,
        meta: crate::ObjectMeta,
        checksum: Option<(ChecksumAlgorithm, bool)>,
    ) -> Result<Uuid> {
        if let Some((a, true)) = checksum
            && !a.is_crc()
        {
            return Err(Error::InvalidArgument(format!(
                "The FULL_OBJECT checksum type is not supported for {}: use a CRC",
                a.name()
            )));
        }
        self.bucket(bucket).await?;
        if key.contains('\0') {
            return Err(Error::InvalidArgument("object keys cannot hold NUL".into()));
        }
        let rec = UploadRecord {
            version: SCHEMA_VERSION,
            bucket: bucket.to_string(),
            key: key.to_string(),
            upload_id: Uuid::new_v4(),
            owner: owner.to_string(),
            content_type: meta.content_type,
            user_metadata: meta.user_metadata,
            created_ms: now_millis(),
            acl: meta.acl,
            headers: meta.headers,
            tags: meta.tags,
            checksum_algorithm: checksum.map(|(a, _)| a),
            checksum_full_object: checksum.is_some_and(|(_, f)| f),
            retention: meta.retention,
            legal_hold: meta.legal_hold,
            encryption: meta.encryption,
        };
        self.store()
            .put(
                self.store().keys().upload(bucket, key, &rec.upload_id),
                &rec,
            )
            .await?;
        Ok(rec.upload_id)
    }

    /// Reads an upload; `NoSuchUpload` if it does not exist for this key.
    async fn upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(UploadRecord, Vec<u8>)> {
        let id: Uuid = upload_id.parse().map_err(|_| no_upload(upload_id))?;
        let ukey = self.store().keys().upload(bucket, key, &id);
        match self.store().get::<UploadRecord>(ukey.clone()).await? {
            Some((u, _)) => Ok((u, ukey)),
            None => {
                self.bucket(bucket).await?;
                Err(no_upload(upload_id))
            }
        }
    }

    /// Stores one part, replacing an earlier upload of the same number.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part<S, E>(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: i32,
        size: u64,
        wanted: Wanted,
        data_key: Option<&crate::DataKey>,
        body: S,
        verify: impl FnOnce(&Digests) -> Result<()>,
    ) -> Result<Written>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        if !(1..=MAX_PART as i64).contains(&(number as i64)) {
            return Err(Error::InvalidArgument(format!(
                "part number must be an integer between 1 and {MAX_PART}"
            )));
        }
        let number = number as u32;
        let (up, ukey) = self.upload(bucket, key, upload_id).await?;
        match (&up.encryption, data_key) {
            (None, None) => {}
            (Some(objectio_cluster::Sse::Customer { key_md5 }), Some(k)) => {
                if k.md5_b64() != *key_md5 {
                    return Err(Error::WrongKey);
                }
            }
            (Some(objectio_cluster::Sse::Managed { .. }), Some(_)) => {}
            (Some(_), None) => return Err(Error::KeyNeeded),
            (None, Some(_)) => {
                return Err(Error::InvalidArgument(
                    "the upload is not encrypted: its parts take no key".into(),
                ));
            }
        }
        // Every part of an upload with a checksum algorithm gets one.
        let wanted = match up.checksum_algorithm {
            Some(a) => wanted.with(a),
            None => wanted,
        };
        let w = self
            .write_data(
                crate::write::Target {
                    bucket,
                    key,
                    part: number,
                    size,
                    meta: None,
                    data_key,
                },
                wanted,
                body,
                verify,
            )
            .await?;
        let keys = self.store().keys();
        let pkey = keys.part(&up.upload_id, number);
        let rec = PartRecord {
            version: SCHEMA_VERSION,
            upload_id: up.upload_id,
            number,
            version_id: w.segment.version_id,
            size,
            etag: w.etag.clone(),
            ec: self.inner.config.ec,
            shards: w.segment.shards.clone(),
            created_ms: now_millis(),
            checksum: up
                .checksum_algorithm
                .and_then(|a| w.digests.get(a))
                .map(str::to_string),
        };
        loop {
            let old = self.store().get::<PartRecord>(pkey.clone()).await?;
            if self
                .index()
                .commit_part(&ukey, &rec, old.as_ref(), w.intent.as_deref())
                .await?
            {
                return Ok(w);
            }
            let gone = self
                .store()
                .get::<UploadRecord>(ukey.clone())
                .await?
                .is_none();
            let completing = self
                .store()
                .kv()
                .get(self.store().keys().completing(&up.upload_id), None)
                .await?
                .count()
                > 0;
            if gone || completing {
                self.abandon(&w).await;
                return Err(no_upload(upload_id));
            }
            if let Some(i) = &w.intent
                && self.store().kv().get(i.as_str(), None).await?.count() == 0
            {
                return Err(Error::Unavailable(
                    "the write was given up before it could be committed".into(),
                ));
            }
        }
    }

    /// Completes an upload from `parts` in ascending order, if the key holds
    /// what `expect` says when it commits (a failed condition leaves the
    /// upload as it was). `checksum` is the object's checksum the client
    /// sent, checked against the one computed from the parts'.
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        checksum: Option<String>,
        expect: &crate::index::Expect,
    ) -> Result<ObjectRecord> {
        let (up, ukey) = self.upload(bucket, key, upload_id).await?;
        if let Err(c) = expect.holds(self.current(bucket, key).await?.as_ref()) {
            return Err(precondition_error(c));
        }
        let ckey = self.store().keys().completing(&up.upload_id);
        self.store()
            .kv()
            .put(ckey.clone(), b"1".to_vec(), None)
            .await?;
        let r = self
            .complete_locked(&up, &ukey, &ckey, upload_id, parts, checksum, expect)
            .await;
        if r.is_err() {
            // Let the client fix the request and retry, or upload more.
            let _ = self.store().delete(ckey).await;
        }
        r
    }

    #[allow(clippy::too_many_arguments)]
    async fn complete_locked(
        &self,
        up: &UploadRecord,
        ukey: &[u8],
        ckey: &str,
        upload_id: &str,
        wanted: Vec<CompletedPart>,
        checksum: Option<String>,
        expect: &crate::index::Expect,
    ) -> Result<ObjectRecord> {
        let keys = self.store().keys();
        let stored: BTreeMap<u32, PartRecord> = self
            .store()
            .list::<PartRecord>(keys.parts_prefix(&up.upload_id))
            .await?
            .into_iter()
            .map(|(_, p)| (p.number, p))
            .collect();
        if wanted.is_empty() {
            return Err(Error::InvalidPart("the upload lists no parts".into()));
        }
        let mut used: Vec<&PartRecord> = Vec::with_capacity(wanted.len());
        let mut last = 0i64;
        for w in &wanted {
            let n = w.number;
            if (n as i64) <= last {
                return Err(Error::InvalidPartOrder);
            }
            last = n as i64;
            let p = u32::try_from(n)
                .ok()
                .and_then(|n| stored.get(&n))
                .ok_or_else(|| Error::InvalidPart(format!("part {n} was not uploaded")))?;
            if w.etag.trim_matches('"') != p.etag {
                return Err(Error::InvalidPart(format!(
                    "part {n}: the ETag does not match"
                )));
            }
            if let Some(c) = &w.checksum
                && p.checksum.as_deref() != Some(c.as_str())
            {
                return Err(Error::InvalidPart(format!(
                    "part {n}: the checksum does not match the part uploaded"
                )));
            }
            used.push(p);
        }
        if let Some(small) = used[..used.len() - 1].iter().find(|p| p.size < MIN_PART) {
            return Err(Error::EntityTooSmall(format!(
                "part {} is {} bytes; every part but the last must be at least {MIN_PART}",
                small.number, small.size
            )));
        }
        if used.iter().any(|p| p.ec != self.inner.config.ec) {
            return Err(Error::InvalidPart(
                "parts were written with another EC profile".into(),
            ));
        }
        // The S3 multipart ETag: MD5 of the parts' binary MD5s, "-" count.
        let mut md5 = md5::Md5::new();
        for p in &used {
            md5.update(hex::decode(&p.etag).unwrap_or_default());
        }
        let etag = format!("{}-{}", hex::encode(md5.finalize()), used.len());
        let object_checksum = match up.checksum_algorithm {
            None => None,
            Some(a) => {
                let c = combined_checksum(a, up.checksum_full_object, &used)?;
                if let Some(want) = &checksum
                    && want.split('-').next() != c.value.split('-').next()
                {
                    return Err(Error::BadDigest(format!(
                        "The {} you specified did not match the calculated checksum.",
                        a.header()
                    )));
                }
                Some(c)
            }
        };
        let versioning = self.bucket_seen(&up.bucket).await?;
        let rec = ObjectRecord {
            version: SCHEMA_VERSION,
            bucket: up.bucket.clone(),
            key: up.key.clone(),
            version_id: up.upload_id,
            size: used.iter().map(|p| p.size).sum(),
            etag,
            content_type: up.content_type.clone(),
            user_metadata: up.user_metadata.clone(),
            created_ms: now_millis(),
            acl: up.acl,
            ec: self.inner.config.ec,
            shards: Vec::new(),
            parts: used.iter().map(|p| p.location()).collect(),
            headers: up.headers.clone(),
            tags: up.tags.clone(),
            versioned: versioning == Some(objectio_cluster::Versioning::Enabled),
            retention: up.retention,
            legal_hold: up.legal_hold,
            encryption: up.encryption.clone(),
            checksum: object_checksum,
            ..Default::default()
        };
        let unused: Vec<_> = stored
            .values()
            .filter(|p| !used.iter().any(|u| u.number == p.number))
            .map(PartRecord::segment)
            .collect();
        // The manifest goes to the disks first, so that a completed upload
        // can be told from one in progress without the index.
        let mut rec = rec;
        let w = self.write_manifest(&rec).await?;
        rec.manifest = Some(PartLocation {
            number: objectio_shard::MANIFEST_PART,
            version_id: w.segment.version_id,
            size: w.segment.size,
            etag: w.etag.clone(),
            shards: w.segment.shards.clone(),
            checksum: None,
        });
        let r = self
            .commit_completed(
                &rec,
                &w,
                ukey,
                ckey,
                upload_id,
                &up.upload_id,
                unused,
                expect,
                versioning,
            )
            .await;
        if r.is_err() {
            self.abandon(&w).await;
        }
        r
    }

    /// Writes a multipart object's manifest as shards.
    async fn write_manifest(&self, rec: &ObjectRecord) -> Result<crate::Written> {
        let m = objectio_cluster::Manifest {
            version: SCHEMA_VERSION,
            bucket: rec.bucket.clone(),
            key: rec.key.clone(),
            version_id: rec.version_id,
            size: rec.size,
            etag: rec.etag.clone(),
            content_type: rec.content_type.clone(),
            user_metadata: rec.user_metadata.clone(),
            created_ms: rec.created_ms,
            parts: rec
                .parts
                .iter()
                .map(|p| objectio_cluster::ManifestPart {
                    number: p.number,
                    version_id: p.version_id,
                    size: p.size,
                    etag: p.etag.clone(),
                })
                .collect(),
        };
        let body = Bytes::from(serde_json::to_vec(&m).expect("manifest serialises"));
        let size = body.len() as u64;
        self.write_data(
            crate::write::Target {
                bucket: &rec.bucket,
                key: &rec.key,
                part: objectio_shard::MANIFEST_PART,
                size,
                meta: None,
                // The manifest names parts and sizes; it is not encrypted.
                data_key: None,
            },
            Wanted::default(),
            futures::stream::iter([Ok::<_, std::convert::Infallible>(body)]),
            |_| Ok(()),
        )
        .await
    }

    /// Commits a completed upload's record (with its manifest's intent).
    #[allow(clippy::too_many_arguments)]
    async fn commit_completed(
        &self,
        rec: &ObjectRecord,
        w: &crate::Written,
        ukey: &[u8],
        ckey: &str,
        upload_id: &str,
        id: &uuid::Uuid,
        unused: Vec<objectio_cluster::Segment>,
        expect: &crate::index::Expect,
        versioning: Option<objectio_cluster::Versioning>,
    ) -> Result<ObjectRecord> {
        let keys = self.store().keys();
        let rec = rec.clone();
        loop {
            let (mut guards, mut extra) = self.versioned_extras(&rec, versioning).await?;
            guards.push(Cmp::Exists(ukey.to_vec()));
            extra.extend([
                Op::Delete(ukey.to_vec()),
                Op::DeletePrefix(keys.parts_prefix(id).into_bytes()),
                Op::Delete(ckey.as_bytes().to_vec()),
            ]);
            extra.extend(self.index().gc_put(unused.clone(), false));
            extra.extend(self.index().hint_put(&rec));
            if self
                .commit_object(
                    &rec,
                    w.intent.as_deref(),
                    expect,
                    crate::versions::keep_of(versioning),
                    guards,
                    extra,
                )
                .await?
            {
                return Ok(rec);
            }
            if self
                .store()
                .get::<UploadRecord>(ukey.to_vec())
                .await?
                .is_none()
            {
                return Err(no_upload(upload_id));
            }
        }
    }

    /// How an upload's parts are encrypted.
    pub async fn upload_encryption(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<objectio_cluster::Sse>> {
        Ok(self.upload(bucket, key, upload_id).await?.0.encryption)
    }

    /// Aborts an upload; its parts are queued for GC.
    pub async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        let (up, ukey) = self.upload(bucket, key, upload_id).await?;
        let keys = self.store().keys();
        let parts = self
            .store()
            .list::<PartRecord>(keys.parts_prefix(&up.upload_id))
            .await?;
        let segments = parts.iter().map(|(_, p)| p.segment()).collect();
        if !self
            .index()
            .abort_upload(&ukey, &up.upload_id, segments)
            .await?
        {
            return Err(no_upload(upload_id));
        }
        Ok(())
    }

    /// The parts of an upload after part `marker`, at most `max`; returns
    /// whether more follow.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        marker: u32,
        max: usize,
    ) -> Result<(Vec<PartRecord>, bool)> {
        let (up, _) = self.upload(bucket, key, upload_id).await?;
        let mut parts: Vec<PartRecord> = self
            .store()
            .list::<PartRecord>(self.store().keys().parts_prefix(&up.upload_id))
            .await?
            .into_iter()
            .map(|(_, p)| p)
            .filter(|p| p.number > marker)
            .collect();
        let truncated = parts.len() > max;
        parts.truncate(max);
        Ok((parts, truncated))
    }

    /// Uploads in progress in `bucket` whose key starts with `prefix`, in
    /// key order, after `key_marker`.
    pub async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: Option<&str>,
        max: usize,
    ) -> Result<UploadPage> {
        self.bucket(bucket).await?;
        let base = self.store().keys().uploads_prefix(bucket);
        let mut start = base.clone();
        start.extend_from_slice(prefix.as_bytes());
        let end = prefix_end(&start).unwrap_or_else(|| prefix_end(&base).expect("ends with '/'"));
        if let Some(m) = key_marker {
            let mut after = base.clone();
            after.extend_from_slice(m.as_bytes());
            after.push(1); // past every upload of the marker key (`key\0id`)
            start = start.max(after);
        }
        let resp = self
            .store()
            .kv()
            .get(
                start,
                Some(GetOptions::new().with_range(end).with_limit(max as i64 + 1)),
            )
            .await?;
        let mut page = UploadPage::default();
        for kv in resp.kvs() {
            if page.uploads.len() == max {
                page.truncated = true;
                break;
            }
            page.uploads.push(decode(kv.key(), kv.value())?);
        }
        Ok(page)
    }
}

/// One part a CompleteMultipartUpload names.
#[derive(Clone, Debug)]
pub struct CompletedPart {
    pub number: i32,
    pub etag: String,
    /// Its checksum in the upload's algorithm, when the client sent it.
    pub checksum: Option<String>,
}

/// A completed upload's checksum from its parts': for a CRC of the full
/// object, the parts' CRCs combined in order; otherwise (`COMPOSITE`) the
/// algorithm over the parts' binary checksums, `-<parts>`.
fn combined_checksum(
    a: ChecksumAlgorithm,
    full_object: bool,
    parts: &[&PartRecord],
) -> Result<objectio_cluster::ObjectChecksum> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut raw = Vec::with_capacity(parts.len());
    for p in parts {
        let sum = p
            .checksum
            .as_deref()
            .and_then(|s| b64.decode(s).ok())
            .ok_or_else(|| {
                Error::InvalidPart(format!("part {} has no {} checksum", p.number, a.name()))
            })?;
        raw.push((sum, p.size));
    }
    let value = if full_object {
        let alg = match a {
            ChecksumAlgorithm::Crc32 => crc_fast::CrcAlgorithm::Crc32IsoHdlc,
            ChecksumAlgorithm::Crc32c => crc_fast::CrcAlgorithm::Crc32Iscsi,
            ChecksumAlgorithm::Crc64nvme => crc_fast::CrcAlgorithm::Crc64Nvme,
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "The FULL_OBJECT checksum type is not supported for {}",
                    a.name()
                )));
            }
        };
        let as_u64 = |b: &[u8]| b.iter().fold(0u64, |v, x| (v << 8) | *x as u64);
        let width = raw[0].0.len();
        let mut crc = as_u64(&raw[0].0);
        for (sum, size) in &raw[1..] {
            crc = crc_fast::checksum_combine(alg, crc, as_u64(sum), *size);
        }
        b64.encode(&crc.to_be_bytes()[8 - width..])
    } else {
        let mut h = crate::Hashers::new(Wanted::default().with(a));
        for (sum, _) in &raw {
            h.update(sum);
        }
        let d = h.finish();
        format!("{}-{}", d.get(a).unwrap_or_default(), parts.len())
    };
    Ok(objectio_cluster::ObjectChecksum {
        algorithm: a,
        value,
        full_object,
    })
}
