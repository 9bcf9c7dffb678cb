//! Rebuilding buckets and the object index from raw disk scans (the
//! guide's disaster recovery: `objectio-cli disk scan DEV --output F.json`
//! on every disk, then `objectio-cli meta rebuild --from-scan F.json ...`).
//!
//! Every shard header found names its cluster, bucket, key, data id, part,
//! index, EC profile, chunk and body size and sealed ETag. Shards are
//! grouped by (bucket, key, data id, part); a group stands when at least
//! `k` distinct indices whose chunks all passed their checksums agree on
//! everything else. A raw scan also sees extents of deleted shards whose
//! space was not reused yet: every shard is confirmed live in its disk's
//! own index by the OSD serving it, so a deleted object does not come back.
//!
//! A single-part object is its part-0 group, with the content type and
//! metadata its headers carry. A multipart object is its manifest (a group
//! numbered `MANIFEST_PART`, written at CompleteMultipartUpload), read back
//! through the object layer, whose every part stands with the size and
//! ETag it names; parts no manifest names belong to uploads never
//! completed and are left out. Per key the newest version wins. Buckets
//! get the owner given. Zero-byte objects have no shards and cannot be
//! found; object ACLs are not on the disks (rebuilt objects are private).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use futures::StreamExt;
use md5::Digest;
use objectio_api::*;
use objectio_cluster::{
    BucketRecord, CannedAcl, DiskRecord, EcProfile, Manifest, ObjectRecord, PartLocation,
    SCHEMA_VERSION, ShardLocation, UserRecord,
};
use objectio_shard::MANIFEST_PART;
use uuid::Uuid;

use crate::AppState;
use crate::v1::ApiError;

/// Skipped versions listed in the answer.
const SKIPPED_KEPT: usize = 100;

/// What shards of one group agree on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Agreed {
    k: u8,
    m: u8,
    chunk_size: u32,
    object_size: u64,
    etag: String,
}

/// A shard copy found on a disk.
#[derive(Clone, Debug)]
struct Copy {
    index: u8,
    loc: ShardLocation,
    ok: bool,
    created_ms: u64,
    meta: Option<ScannedMetaIn>,
}

/// A group that stands: where each index is.
#[derive(Clone, Debug)]
struct Standing {
    agreed: Agreed,
    shards: Vec<Option<ShardLocation>>,
    created_ms: u64,
    meta: Option<ScannedMetaIn>,
}

type GroupKey = (String, String, Uuid, u32);

/// The version chosen for a key.
struct Candidate {
    rec: ObjectRecord,
    multipart: bool,
}

/// Runs a rebuild (see the module docs).
pub async fn rebuild(st: &AppState, input: RebuildIn) -> Result<RebuildOut, ApiError> {
    let store = &st.store;
    let cc = store.config().await?;
    let keys = store.keys();
    if !input.force {
        let objects = store.count(keys.objects_root()).await?;
        let buckets = store.count(keys.buckets_prefix()).await?;
        if objects + buckets > 0 {
            return Err(ApiError::conflict(&format!(
                "the index is not empty ({objects} object(s), {buckets} bucket(s)); \
                 pass force (--force) to add what is missing, keeping what is there"
            )));
        }
    }
    let disks: HashMap<Uuid, String> = store
        .list::<DiskRecord>(keys.disks_prefix())
        .await?
        .into_iter()
        .map(|(_, d)| (d.id, d.osd))
        .collect();
    let mut out = RebuildOut {
        dry_run: input.dry_run,
        disks: input.scans.len() as u64,
        shards: 0,
        shards_ignored: 0,
        buckets_created: Vec::new(),
        objects_created: 0,
        multipart_objects: 0,
        bytes: 0,
        objects_existing: 0,
        older_versions: 0,
        skipped_count: 0,
        skipped: Vec::new(),
    };
    // Group every shard a scan found, by object, data id and part.
    let mut groups: BTreeMap<GroupKey, HashMap<Agreed, Vec<Copy>>> = BTreeMap::new();
    for scan in &input.scans {
        let disk = scan.disk_id.as_deref().and_then(|d| d.parse::<Uuid>().ok());
        let osd = disk.and_then(|d| disks.get(&d));
        for s in &scan.shards {
            out.shards += 1;
            let (Some(disk), Some(osd)) = (disk, osd) else {
                out.shards_ignored += 1;
                continue;
            };
            let (Ok(cluster), Ok(vid)) = (s.cluster_id.parse::<Uuid>(), s.version_id.parse())
            else {
                out.shards_ignored += 1;
                continue;
            };
            if cluster != cc.cluster_id {
                out.shards_ignored += 1;
                continue;
            }
            let agreed = Agreed {
                k: s.k,
                m: s.m,
                chunk_size: s.chunk_size,
                object_size: s.object_size,
                etag: s.etag.clone(),
            };
            groups
                .entry((s.bucket.clone(), s.key.clone(), vid, s.part))
                .or_default()
                .entry(agreed)
                .or_default()
                .push(Copy {
                    index: s.shard_index,
                    loc: ShardLocation {
                        osd: osd.clone(),
                        disk,
                    },
                    ok: s.checksum == "ok",
                    created_ms: s.created_ms,
                    meta: s.meta.clone(),
                });
        }
    }
    // Only shards their disk's index still holds: a deleted shard's extent
    // may linger on the raw device.
    let segments: Vec<(Uuid, u32)> = groups
        .keys()
        .map(|(_, _, v, p)| (*v, *p))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let live: HashSet<(Uuid, u32, u8, Uuid)> = st
        .objects
        .find_shards(&segments)
        .await
        .into_iter()
        .map(|(_, f)| {
            let id = f.stat.header.id;
            (id.version_id, id.part, id.index, f.disk)
        })
        .collect();
    let mut standing: BTreeMap<GroupKey, Standing> = BTreeMap::new();
    let skipped = |out: &mut RebuildOut, bucket: &str, key: &str, reason: String| {
        out.skipped_count += 1;
        if out.skipped.len() < SKIPPED_KEPT {
            out.skipped.push(RebuildSkipOut {
                bucket: bucket.into(),
                key: key.into(),
                reason,
            });
        }
    };
    for ((bucket, key, vid, part), by) in groups {
        let mut best: Option<Standing> = None;
        for (agreed, copies) in by {
            let n = agreed.k as usize + agreed.m as usize;
            let mut shards: Vec<Option<ShardLocation>> = vec![None; n];
            let mut good: Vec<bool> = vec![false; n];
            let mut created_ms = 0;
            let mut meta = None;
            for c in copies {
                let i = c.index as usize;
                if i >= n || !live.contains(&(vid, part, c.index, c.loc.disk)) {
                    out.shards_ignored += 1;
                    continue;
                }
                // One copy per index, a whole one first.
                if shards[i].is_none() || (c.ok && !good[i]) {
                    shards[i] = Some(c.loc.clone());
                    good[i] = c.ok;
                }
                created_ms = created_ms.max(c.created_ms);
                meta = meta.or(c.meta);
            }
            let whole = good.iter().filter(|g| **g).count();
            if whole >= agreed.k as usize
                && best
                    .as_ref()
                    .is_none_or(|b| b.shards.iter().flatten().count() < whole)
            {
                best = Some(Standing {
                    agreed,
                    shards,
                    created_ms,
                    meta,
                });
            }
        }
        match best {
            Some(s) => {
                standing.insert((bucket, key, vid, part), s);
            }
            None => skipped(
                &mut out,
                &bucket,
                &key,
                format!("data {vid} part {part}: fewer than k whole shards agree"),
            ),
        }
    }
    // Candidates: single-part versions and completed multipart objects.
    let mut candidates: BTreeMap<(String, String), Vec<Candidate>> = BTreeMap::new();
    let mut used_parts: HashSet<(Uuid, u32)> = HashSet::new();
    let ec_of = |a: &Agreed| EcProfile {
        k: a.k,
        m: a.m,
        chunk_size: a.chunk_size,
    };
    for ((bucket, key, vid, part), s) in &standing {
        if *part == 0 {
            let meta = s.meta.clone().unwrap_or_default();
            candidates
                .entry((bucket.clone(), key.clone()))
                .or_default()
                .push(Candidate {
                    rec: ObjectRecord {
                        version: SCHEMA_VERSION,
                        bucket: bucket.clone(),
                        key: key.clone(),
                        version_id: *vid,
                        size: s.agreed.object_size,
                        etag: s.agreed.etag.clone(),
                        content_type: meta.content_type,
                        user_metadata: meta.user_metadata,
                        created_ms: s.created_ms,
                        ec: ec_of(&s.agreed),
                        shards: s.shards.clone(),
                        parts: Vec::new(),
                        acl: CannedAcl::default(),
                        ..Default::default()
                    },
                    multipart: false,
                });
        } else if *part == MANIFEST_PART {
            match manifest(st, bucket, key, *vid, s, &standing).await {
                Ok(rec) => {
                    for p in &rec.parts {
                        used_parts.insert((p.version_id, p.number));
                    }
                    candidates
                        .entry((bucket.clone(), key.clone()))
                        .or_default()
                        .push(Candidate {
                            rec,
                            multipart: true,
                        });
                }
                Err(why) => skipped(&mut out, bucket, key, why),
            }
        }
    }
    for (bucket, key, vid, part) in standing.keys() {
        if *part != 0 && *part != MANIFEST_PART && !used_parts.contains(&(*vid, *part)) {
            skipped(
                &mut out,
                bucket,
                key,
                format!(
                    "part {part} (data {vid}) belongs to no completed upload: an upload in progress, or one replaced"
                ),
            );
        }
    }
    // The newest version per key; the buckets they need.
    let mut chosen = Vec::new();
    for (_, mut v) in candidates {
        v.sort_by_key(|c| std::cmp::Reverse(c.rec.created_ms));
        out.older_versions += v.len() as u64 - 1;
        chosen.push(v.swap_remove(0));
    }
    let buckets: BTreeSet<String> = chosen.iter().map(|c| c.rec.bucket.clone()).collect();
    let mut missing = Vec::new();
    for b in &buckets {
        if store.get::<BucketRecord>(keys.bucket(b)).await?.is_none() {
            missing.push(b.clone());
        }
    }
    if !missing.is_empty() {
        let owner = input.owner.as_deref().ok_or_else(|| {
            ApiError::bad_request(&format!(
                "the rebuild creates buckets ({}): give their owner (--owner USER)",
                missing.join(", ")
            ))
        })?;
        if store.get::<UserRecord>(keys.user(owner)).await?.is_none() {
            return Err(ApiError::not_found(&format!("no such user {owner:?}")));
        }
        for b in &missing {
            if !input.dry_run {
                match st
                    .objects
                    .create_bucket(b, owner, CannedAcl::default(), false)
                    .await
                {
                    Ok(()) | Err(objectio_object::Error::BucketExists { .. }) => {}
                    Err(e) => return Err(ApiError::unavailable(&e.to_string())),
                }
            }
            out.buckets_created.push(b.clone());
        }
    }
    for c in chosen {
        let key = keys.object(&c.rec.bucket, &c.rec.key);
        let created = if input.dry_run {
            store.get::<ObjectRecord>(key).await?.is_none()
        } else {
            store.create(key, &c.rec).await?
        };
        if !created {
            out.objects_existing += 1;
            continue;
        }
        out.objects_created += 1;
        out.multipart_objects += c.multipart as u64;
        out.bytes += c.rec.size;
    }
    tracing::info!(
        dry_run = input.dry_run,
        objects = out.objects_created,
        multipart = out.multipart_objects,
        buckets = out.buckets_created.len(),
        skipped = out.skipped_count,
        "index rebuilt from disk scans"
    );
    Ok(out)
}

/// Reads a manifest group's bytes and checks every part it names stands.
async fn manifest(
    st: &AppState,
    bucket: &str,
    key: &str,
    vid: Uuid,
    s: &Standing,
    standing: &BTreeMap<GroupKey, Standing>,
) -> Result<ObjectRecord, String> {
    let ec = EcProfile {
        k: s.agreed.k,
        m: s.agreed.m,
        chunk_size: s.agreed.chunk_size,
    };
    let tmp = ObjectRecord {
        version: SCHEMA_VERSION,
        bucket: bucket.into(),
        key: key.into(),
        version_id: vid,
        size: s.agreed.object_size,
        etag: s.agreed.etag.clone(),
        content_type: None,
        user_metadata: BTreeMap::new(),
        created_ms: s.created_ms,
        ec,
        // Read as the one part of an object: its shards are numbered
        // MANIFEST_PART.
        shards: Vec::new(),
        parts: vec![PartLocation {
            number: MANIFEST_PART,
            version_id: vid,
            size: s.agreed.object_size,
            etag: s.agreed.etag.clone(),
            shards: s.shards.clone(),
            checksum: None,
        }],
        acl: CannedAcl::default(),
        ..Default::default()
    };
    let mut body = Vec::new();
    let mut stream = st
        .objects
        .read(&tmp, 0, tmp.size, None)
        .await
        .map_err(|e| format!("manifest {vid} unreadable: {e}"))?;
    while let Some(b) = stream.next().await {
        body.extend_from_slice(&b.map_err(|e| format!("manifest {vid} unreadable: {e}"))?);
    }
    if hex::encode(md5::Md5::digest(&body)) != tmp.etag {
        return Err(format!("manifest {vid} does not match its ETag"));
    }
    let m: Manifest =
        serde_json::from_slice(&body).map_err(|e| format!("manifest {vid} unparsable: {e}"))?;
    if m.bucket != bucket || m.key != key {
        return Err(format!("manifest {vid} names another object"));
    }
    let mut parts = Vec::with_capacity(m.parts.len());
    for p in &m.parts {
        let g = standing
            .get(&(bucket.to_string(), key.to_string(), p.version_id, p.number))
            .filter(|g| g.agreed.object_size == p.size && g.agreed.etag == p.etag)
            .ok_or_else(|| {
                format!(
                    "multipart object {}: part {} has fewer than k whole shards",
                    m.version_id, p.number
                )
            })?;
        parts.push(PartLocation {
            number: p.number,
            version_id: p.version_id,
            size: p.size,
            etag: p.etag.clone(),
            shards: g.shards.clone(),
            checksum: None,
        });
    }
    Ok(ObjectRecord {
        version: SCHEMA_VERSION,
        bucket: bucket.into(),
        key: key.into(),
        version_id: m.version_id,
        size: m.size,
        etag: m.etag,
        content_type: m.content_type,
        user_metadata: m.user_metadata,
        created_ms: m.created_ms,
        ec,
        shards: Vec::new(),
        parts,
        acl: CannedAcl::default(),
        manifest: Some(PartLocation {
            number: MANIFEST_PART,
            version_id: vid,
            size: tmp.size,
            etag: tmp.etag,
            shards: s.shards.clone(),
            checksum: None,
        }),
        ..Default::default()
    })
}
