//! S3 versioning on the object index. A key's current version stays at
//! `objects/<bucket>/<key>` (so reads, listings and every controller find
//! it where they always did); its noncurrent versions sit right after it
//! at `objects/<bucket>/<key>\0<inverted time><data id>`, newest first,
//! and are repaired, scrubbed, drained and GC'd like any record. A delete
//! marker is a record without data. Records from before versioning are
//! the "null" version of their key: nothing to migrate.

use etcd_client::GetOptions;
use objectio_cluster::keys::prefix_end;
use objectio_cluster::{ObjectRecord, SCHEMA_VERSION, Versioning, now_millis};
use uuid::Uuid;

use crate::index::{Cmp, Commit, Expect, Keep, Op};
use crate::{Error, Objects, Result};

/// What a DeleteObject did (its `x-amz-version-id` and
/// `x-amz-delete-marker`).
#[derive(Debug, Default, PartialEq)]
pub struct Deleted {
    /// The version deleted, or the delete marker created.
    pub version_id: Option<String>,
    /// Whether that version is a delete marker.
    pub delete_marker: bool,
}

/// One entry of ListObjectVersions.
#[derive(Debug)]
pub struct VersionEntry {
    pub rec: ObjectRecord,
    pub is_latest: bool,
}

/// One page of ListObjectVersions.
#[derive(Debug, Default)]
pub struct VersionPage {
    pub versions: Vec<VersionEntry>,
    pub prefixes: Vec<String>,
    /// Where the next page starts, when truncated: key and version id.
    pub next: Option<(String, Option<String>)>,
}

/// Refuses a version id that is neither "null" nor one of ours.
fn check_version_id(v: &str) -> Result<()> {
    if v != "null" && v.parse::<Uuid>().is_err() {
        return Err(Error::InvalidArgument(
            "Invalid version id specified".into(),
        ));
    }
    Ok(())
}

/// How a commit keeps the version it replaces, by bucket state.
pub(crate) fn keep_of(v: Option<Versioning>) -> Keep {
    match v {
        None => Keep::Nothing,
        Some(Versioning::Enabled) => Keep::All,
        Some(Versioning::Suspended) => Keep::Versioned,
    }
}

impl Objects {
    /// Every record of `key` (current first, then noncurrent newest first)
    /// with its revision.
    pub(crate) async fn versions(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Vec<(ObjectRecord, i64)>> {
        // One range read, [current, past its noncurrent versions): a
        // version promoted to current meanwhile is seen in one place or
        // the other, never in neither (two reads could miss it and answer
        // a delete of it as done).
        let keys = self.store().keys();
        let start = keys.object(bucket, key);
        let end = prefix_end(&keys.versions_of(bucket, key)).expect("a prefix");
        let r = self
            .store()
            .kv()
            .get(start, Some(GetOptions::new().with_range(end)))
            .await?;
        let mut out = Vec::with_capacity(r.kvs().len());
        for kv in r.kvs() {
            out.push((
                self.store()
                    .decode(kv.key(), kv.value(), kv.mod_revision())
                    .await?,
                kv.mod_revision(),
            ));
        }
        Ok(out)
    }

    /// The version of `key` a request names (`None`: the current one,
    /// delete marker or not), with its revision.
    pub async fn version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(ObjectRecord, i64)> {
        let found = match version_id {
            None => {
                self.index()
                    .get_record::<ObjectRecord>(self.store().keys().object(bucket, key))
                    .await?
            }
            Some(v) => {
                check_version_id(v)?;
                self.versions(bucket, key)
                    .await?
                    .into_iter()
                    .find(|(r, _)| r.s3_version_id() == v)
            }
        };
        match found {
            Some(f) => Ok(f),
            None => {
                self.bucket(bucket).await?;
                Err(if version_id.is_some() {
                    Error::NoSuchVersion
                } else {
                    Error::NoSuchKey
                })
            }
        }
    }

    /// Changes one version's record in place (ACL, tags) with a
    /// compare-and-swap on it, so a concurrent change is never undone and
    /// an overwrite keeps its own; the record as changed. A delete marker
    /// has nothing to change.
    pub async fn update_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        mut change: impl FnMut(&mut ObjectRecord),
    ) -> Result<ObjectRecord> {
        loop {
            let (mut rec, rev) = self.version(bucket, key, version_id).await?;
            if rec.delete_marker {
                return Err(Error::DeleteMarker(rec.s3_version_id()));
            }
            let k = self.store().keys().record(&rec);
            change(&mut rec);
            let put = Op::Put(k.clone(), self.store().encode(&rec));
            if self
                .index()
                .when_then(vec![Cmp::ModRevision(k, rev)], vec![put])
                .await?
            {
                return Ok(rec);
            }
        }
    }

    /// Sets one version's retention (`None`: removes it), as object lock
    /// allows: a COMPLIANCE retention is never shortened, removed or made
    /// GOVERNANCE; a GOVERNANCE one only with `bypass_governance`.
    pub async fn set_retention(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        new: Option<objectio_cluster::Retention>,
        bypass_governance: bool,
    ) -> Result<ObjectRecord> {
        use objectio_cluster::RetentionMode as M;
        loop {
            let (mut rec, rev) = self.version(bucket, key, version_id).await?;
            if rec.delete_marker {
                return Err(Error::DeleteMarker(rec.s3_version_id()));
            }
            let now = now_millis();
            if let Some(old) = rec.retention.filter(|o| o.until_ms > now) {
                let weaker = match new {
                    None => true,
                    Some(n) => {
                        n.until_ms < old.until_ms
                            || (old.mode == M::Compliance && n.mode != M::Compliance)
                    }
                };
                if weaker && (old.mode == M::Compliance || !bypass_governance) {
                    return Err(Error::Locked(match old.mode {
                        M::Compliance => "a COMPLIANCE retention",
                        M::Governance => "a GOVERNANCE retention",
                    }));
                }
            }
            let k = self.store().keys().record(&rec);
            rec.retention = new;
            let put = Op::Put(k.clone(), self.store().encode(&rec));
            if self
                .index()
                .when_then(vec![Cmp::ModRevision(k, rev)], vec![put])
                .await?
            {
                return Ok(rec);
            }
        }
    }

    /// The ops and guard that drop the key's noncurrent null version, if
    /// it has one: a suspended bucket's new null version replaces it.
    pub(crate) async fn drop_null(&self, bucket: &str, key: &str) -> Result<(Vec<Cmp>, Vec<Op>)> {
        let null = self
            .versions(bucket, key)
            .await?
            .into_iter()
            .find(|(r, _)| r.noncurrent && !r.versioned);
        Ok(match null {
            None => (vec![], vec![]),
            Some((r, rev)) => {
                let k = self.store().keys().record(&r);
                let mut ops = vec![Op::Delete(k.clone())];
                ops.extend(self.index().gc_put(r.all_segments(), true));
                (vec![Cmp::ModRevision(k, rev)], ops)
            }
        })
    }

    /// DeleteObject: without a version id, removes the object (no
    /// versioning) or puts a delete marker in front of it (versioning
    /// enabled or suspended); with one, deletes exactly that version (a
    /// current one's newest noncurrent version becomes current).
    ///
    /// A version under object lock (a legal hold, or a retention not over
    /// that `bypass_governance` does not lift) is not deleted: `Locked`.
    pub async fn delete(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        bypass_governance: bool,
    ) -> Result<Deleted> {
        let b = self.bucket(bucket).await?;
        match version_id {
            None => match b.versioning {
                None => {
                    self.index().delete_object(bucket, key, None).await?;
                    Ok(Deleted::default())
                }
                Some(state) => self.delete_marker(bucket, key, state).await,
            },
            Some(v) => self.delete_version(bucket, key, v, bypass_governance).await,
        }
    }

    async fn delete_marker(&self, bucket: &str, key: &str, state: Versioning) -> Result<Deleted> {
        let marker = ObjectRecord {
            version: SCHEMA_VERSION,
            bucket: bucket.to_string(),
            key: key.to_string(),
            version_id: Uuid::new_v4(),
            size: 0,
            etag: String::new(),
            content_type: None,
            user_metadata: Default::default(),
            created_ms: now_millis(),
            ec: self.inner.config.ec,
            shards: Vec::new(),
            parts: Vec::new(),
            acl: Default::default(),
            versioned: state == Versioning::Enabled,
            delete_marker: true,
            ..Default::default()
        };
        loop {
            let (guards, extra) = if state == Versioning::Suspended {
                self.drop_null(bucket, key).await?
            } else {
                (vec![], vec![])
            };
            match self
                .index()
                .commit_object(
                    &marker,
                    None,
                    &Expect::Any,
                    keep_of(Some(state)),
                    guards,
                    extra,
                )
                .await?
            {
                Commit::Done => {
                    return Ok(Deleted {
                        version_id: Some(marker.s3_version_id()),
                        delete_marker: true,
                    });
                }
                _ => self.bucket(bucket).await.map(|_| ())?,
            }
        }
    }

    async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        v: &str,
        bypass_governance: bool,
    ) -> Result<Deleted> {
        check_version_id(v)?;
        loop {
            let all = self.versions(bucket, key).await?;
            let Some(pos) = all.iter().position(|(r, _)| r.s3_version_id() == v) else {
                // Deleting a version that is not there succeeds, as in S3.
                return Ok(Deleted {
                    version_id: Some(v.to_string()),
                    delete_marker: false,
                });
            };
            let (rec, rev) = &all[pos];
            if let Some(why) = rec.locked(now_millis(), bypass_governance) {
                return Err(Error::Locked(why));
            }
            let promote = if rec.noncurrent {
                None
            } else {
                all.iter().find(|(r, _)| r.noncurrent).cloned()
            };
            let k = self.store().keys().record(rec);
            if self.index().delete_version(k, *rev, rec, promote).await? {
                return Ok(Deleted {
                    version_id: Some(v.to_string()),
                    delete_marker: rec.delete_marker,
                });
            }
        }
    }

    /// ListObjectVersions: every version of the keys under `prefix` in S3
    /// order (key, then newest first), after `key_marker` (and, within it,
    /// after `version_marker`), with `delimiter` roll-ups.
    pub async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        version_marker: Option<&str>,
        max_keys: usize,
    ) -> Result<VersionPage> {
        let keys = self.store().keys();
        let (base, full, end) = self.listed_range(bucket, prefix).await?;
        let mut cursor = full.clone();
        if let Some(km) = key_marker.filter(|k| !k.is_empty()) {
            let after = match version_marker.filter(|v| !v.is_empty()) {
                // After that version of the key.
                Some(vm) => match self
                    .versions(bucket, km)
                    .await?
                    .into_iter()
                    .find(|(r, _)| r.s3_version_id() == vm)
                {
                    Some((r, _)) => {
                        let mut k = keys.record(&r);
                        k.push(0);
                        k
                    }
                    None => {
                        return Err(Error::InvalidArgument(
                            "A version-id marker cannot be specified without a key marker, and must name a version of it".into(),
                        ));
                    }
                },
                // After every version of the key.
                None => {
                    let mut k = keys.versions_of(bucket, km);
                    k.push(0xff);
                    k
                }
            };
            if after > cursor {
                cursor = after;
            }
        }
        let mut page = VersionPage::default();
        let mut count = 0usize;
        // The last key (and version) or common prefix of the page.
        let mut last: Option<(String, Option<String>)> = None;
        'outer: while cursor < end {
            let resp = self
                .store()
                .kv()
                .get(
                    cursor.clone(),
                    Some(GetOptions::new().with_range(end.clone()).with_limit(1000)),
                )
                .await?;
            if resp.kvs().is_empty() {
                break;
            }
            for kv in resp.kvs() {
                let raw = &kv.key()[base.len()..];
                let s3key_bytes = raw.split(|b| *b == 0).next().unwrap_or(raw);
                let s3key = String::from_utf8_lossy(s3key_bytes).into_owned();
                let rolled = delimiter
                    .filter(|d| !d.is_empty())
                    .and_then(|d| s3key[prefix.len()..].find(d).map(|p| (d, p)));
                if count == max_keys {
                    // Something is left: truncated after the last one.
                    page.next = last;
                    break 'outer;
                }
                if let Some((d, pos)) = rolled {
                    let cp = s3key[..prefix.len() + pos + d.len()].to_string();
                    let mut cpk = base.clone();
                    cpk.extend_from_slice(cp.as_bytes());
                    cursor = prefix_end(&cpk).unwrap_or(end.clone());
                    last = Some((cp.clone(), None));
                    page.prefixes.push(cp);
                    count += 1;
                    continue 'outer;
                }
                let rec: ObjectRecord = self
                    .store()
                    .decode(kv.key(), kv.value(), kv.mod_revision())
                    .await?;
                last = Some((rec.key.clone(), Some(rec.s3_version_id())));
                page.versions.push(VersionEntry {
                    is_latest: !rec.noncurrent,
                    rec,
                });
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
