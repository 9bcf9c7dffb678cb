//! The etcd key layout of one cluster.
//!
//! Every key lives under `/objectio/<cluster>/v1/`. Object keys are
//! `objects/<bucket>/<key bytes>`: bucket names cannot hold `/`, so an etcd
//! range read over `objects/<bucket>/` returns keys in S3's UTF-8 binary order.

use uuid::Uuid;

/// Builds the etcd keys of one cluster.
#[derive(Clone, Debug)]
pub struct Keys {
    root: String,
}

impl Keys {
    /// Keys of the cluster named `cluster`.
    pub fn new(cluster: &str) -> Self {
        Self {
            root: format!("/objectio/{cluster}/v1/"),
        }
    }

    /// The common prefix of every key of this cluster.
    pub fn root(&self) -> &str {
        &self.root
    }

    fn k(&self, rest: &str) -> String {
        format!("{}{rest}", self.root)
    }

    /// The cluster configuration record.
    pub fn config(&self) -> String {
        self.k("config")
    }
    /// Rewritten in the same transaction as every change to the cluster
    /// map (config, OSD and disk records): its etcd `version`, which counts
    /// those writes, is the map epoch.
    pub fn map_epoch(&self) -> String {
        self.k("map-epoch")
    }
    /// Whether `key` holds a record the cluster map is made of.
    pub fn is_map_key(&self, key: &[u8]) -> bool {
        key.strip_prefix(self.root.as_bytes()).is_some_and(|rest| {
            rest == b"config" || rest.starts_with(b"osds/") || rest.starts_with(b"disks/")
        })
    }
    pub fn osds_prefix(&self) -> String {
        self.k("osds/")
    }
    pub fn osd(&self, id: &str) -> String {
        self.k(&format!("osds/{id}"))
    }
    /// Liveness key of a member (`osds`, `gateways`, `metas`), bound to its
    /// lease.
    pub fn alive(&self, kind: &str, id: &str) -> String {
        self.k(&format!("alive/{kind}/{id}"))
    }
    /// Prefix of the liveness keys of a kind (`osds`, `gateways`, `metas`).
    pub fn alive_prefix(&self, kind: &str) -> String {
        self.k(&format!("alive/{kind}/"))
    }
    /// The etcd election of the meta leader.
    pub fn election(&self) -> String {
        self.k("election/meta")
    }
    /// Prefix of the admin tokens created through the API.
    pub fn tokens_prefix(&self) -> String {
        self.k("tokens/")
    }
    /// An admin token's record (its hash, scope and expiry).
    pub fn token(&self, id: &str) -> String {
        self.k(&format!("tokens/{id}"))
    }
    /// Prefix of the compaction holds: `holds/<id>`, each the revision a
    /// long read (a metadata export) reads at, bound to its lease; the
    /// leader compacts no further than the oldest.
    pub fn holds_prefix(&self) -> String {
        self.k("holds/")
    }
    pub fn hold(&self, id: &Uuid) -> String {
        self.k(&format!("holds/{id}"))
    }
    /// Whether the key `rel` (below the root) is part of the cluster's
    /// lasting state, the one a metadata export carries: everything but
    /// what lives with a running process (liveness, the leader election,
    /// a completion in progress, compaction holds) and the map epoch (an
    /// import advances it).
    pub fn is_exported(rel: &[u8]) -> bool {
        const TRANSIENT: [&[u8]; 5] = [
            b"alive/",
            b"election/",
            b"completing/",
            b"holds/",
            b"map-epoch",
        ];
        !TRANSIENT.iter().any(|p| rel.starts_with(p))
    }
    /// Present while a multipart completion runs (part commits compare its
    /// absence).
    pub fn completing(&self, upload_id: &Uuid) -> String {
        self.k(&format!("completing/{upload_id}"))
    }
    pub fn disks_prefix(&self) -> String {
        self.k("disks/")
    }
    pub fn disk(&self, id: &Uuid) -> String {
        self.k(&format!("disks/{id}"))
    }
    /// The next disk index to give ([`crate::DiskIndexNext`]).
    pub fn disk_index_next(&self) -> String {
        self.k("disk-index-next")
    }
    pub fn buckets_prefix(&self) -> String {
        self.k("buckets/")
    }
    pub fn bucket(&self, name: &str) -> String {
        self.k(&format!("buckets/{name}"))
    }
    pub fn users_prefix(&self) -> String {
        self.k("users/")
    }
    /// A user record (before users existed, access keys lived here).
    pub fn user(&self, name: &str) -> String {
        self.k(&format!("users/{name}"))
    }
    pub fn access_keys_prefix(&self) -> String {
        self.k("keys/")
    }
    /// An access key record.
    pub fn access_key(&self, access_key_id: &str) -> String {
        self.k(&format!("keys/{access_key_id}"))
    }
    pub fn objects_root(&self) -> String {
        self.k("objects/")
    }
    /// Prefix of every object key of `bucket`.
    pub fn objects_prefix(&self, bucket: &str) -> Vec<u8> {
        self.k(&format!("objects/{bucket}/")).into_bytes()
    }
    /// The record key of object `key` in `bucket` (its current version).
    pub fn object(&self, bucket: &str, key: &str) -> Vec<u8> {
        let mut k = self.objects_prefix(bucket);
        k.extend_from_slice(key.as_bytes());
        k
    }
    /// Prefix of the noncurrent versions of `key`: the key, then NUL (which
    /// no S3 key here holds), so they sort right after the current version
    /// and before any other key.
    pub fn versions_of(&self, bucket: &str, key: &str) -> Vec<u8> {
        let mut k = self.object(bucket, key);
        k.push(0);
        k
    }
    /// The record key of a noncurrent version created at `created_ms`:
    /// newest first within its key.
    pub fn object_version(
        &self,
        bucket: &str,
        key: &str,
        created_ms: u64,
        version_id: &uuid::Uuid,
    ) -> Vec<u8> {
        let mut k = self.versions_of(bucket, key);
        k.extend_from_slice(
            format!("{:016x}{}", u64::MAX - created_ms, version_id.simple()).as_bytes(),
        );
        k
    }
    /// Where a record lives: its key's current version, or its place among
    /// the noncurrent ones.
    pub fn record(&self, rec: &crate::ObjectRecord) -> Vec<u8> {
        if rec.noncurrent {
            self.object_version(&rec.bucket, &rec.key, rec.created_ms, &rec.version_id)
        } else {
            self.object(&rec.bucket, &rec.key)
        }
    }
    /// Prefix of the multipart uploads of `bucket`, ordered by key.
    /// Every bucket's uploads in progress.
    pub fn uploads_root(&self) -> String {
        self.k("uploads/")
    }
    pub fn uploads_prefix(&self, bucket: &str) -> Vec<u8> {
        self.k(&format!("uploads/{bucket}/")).into_bytes()
    }
    /// The record of an upload: `uploads/<bucket>/<key bytes>\0<upload id>`,
    /// so uploads list in key order.
    pub fn upload(&self, bucket: &str, key: &str, upload_id: &Uuid) -> Vec<u8> {
        let mut k = self.uploads_prefix(bucket);
        k.extend_from_slice(key.as_bytes());
        k.push(0);
        k.extend_from_slice(upload_id.to_string().as_bytes());
        k
    }
    /// Prefix of the parts of an upload.
    pub fn parts_prefix(&self, upload_id: &Uuid) -> String {
        self.k(&format!("parts/{upload_id}/"))
    }
    /// A part record; numbers are zero-padded so parts list in order.
    pub fn part(&self, upload_id: &Uuid, number: u32) -> String {
        self.k(&format!("parts/{upload_id}/{number:05}"))
    }
    pub fn intents_prefix(&self) -> String {
        self.k("intents/")
    }
    pub fn intent(&self, version_id: &Uuid) -> String {
        self.k(&format!("intents/{version_id}"))
    }
    pub fn damaged_prefix(&self) -> String {
        self.k("damaged/")
    }
    /// A shard found damaged (by scrub or a read) on a disk, for repair to
    /// rebuild: `damaged/<data id>/<part>/<index>/<disk>`.
    pub fn damaged(&self, version_id: &Uuid, part: u32, index: usize, disk: &Uuid) -> String {
        self.k(&format!("damaged/{version_id}/{part}/{index}/{disk}"))
    }
    pub fn hints_prefix(&self) -> String {
        self.k("hints/")
    }
    /// An object written short of full redundancy, for repair.
    pub fn hint(&self, version_id: &Uuid) -> String {
        self.k(&format!("hints/{version_id}"))
    }
    pub fn members_prefix(&self, kind: &str) -> String {
        self.k(&format!("members/{kind}/"))
    }
    /// A gateway or meta that has joined (`kind`: `gateways`, `metas`).
    pub fn member(&self, kind: &str, id: &str) -> String {
        self.k(&format!("members/{kind}/{id}"))
    }
    /// An operator's request that an OSD scrub now.
    pub fn scrub_request(&self, osd: &str) -> String {
        self.k(&format!("scrub/{osd}"))
    }
    /// A background job's record (`repair`), with its cursor.
    pub fn job(&self, name: &str) -> String {
        self.k(&format!("jobs/{name}"))
    }
    pub fn gc_prefix(&self) -> String {
        self.k("gc/")
    }
    pub fn gc(&self, version_id: &Uuid) -> String {
        self.k(&format!("gc/{version_id}"))
    }
}

/// The smallest key greater than every key starting with `prefix`
/// (the prefix with its last non-0xff byte incremented), or `None` when no
/// such key exists.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(prefix_end(b"a/b"), Some(b"a/c".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
    }

    #[test]
    fn object_keys_sort_like_s3() {
        let k = Keys::new("c");
        let a = k.object("b", "a/b");
        let b = k.object("b", "a0");
        // '/' (0x2f) sorts before '0' (0x30), as in S3 listings.
        assert!(a < b);
        assert!(k.object("b", "z") < prefix_end(&k.objects_prefix("b")).unwrap());
    }
}
