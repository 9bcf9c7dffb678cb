//! `objectio-object`: the object layer, shared by the S3 gateway and the
//! meta's controllers: buckets, and objects written as erasure-coded shards
//! streamed to OSDs with their records committed in etcd, and the live
//! cluster map they are placed on ([`map`]).
//!
//! It never sees HTTP or S3 and must never depend on the gateway, the
//! admin API or the OSD engine. One file per operation family: `write`
//! (streaming shards, the one "write shards" path), `read` (the one "read
//! an object" path), `list`, `multipart`.

pub mod map;

mod crypt;
pub mod force;
pub mod health;
pub mod index;
mod list;
mod multipart;
mod read;
mod repair;
mod versions;
mod write;

pub use crypt::DataKey;
pub use multipart::CompletedPart;
pub use read::ChunkRead;
pub use repair::{Known, Outcome, Redundancy, ShardSet, Work, known};
pub use versions::{Deleted, VersionEntry, VersionPage};
pub use write::Written;

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use futures::Stream;
use md5::Digest;
use objectio_cluster::{
    BucketRecord, CannedAcl, ClusterConfig, ObjectRecord, SCHEMA_VERSION, Store, now_millis,
    now_secs,
};
use objectio_shard::{ShardClient, ShardId};
use tokio::sync::mpsc;
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
    #[error(
        "{0:?} is not a valid bucket name: 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit, no '..', not an IP address"
    )]
    InvalidBucketName(String),
    #[error("no such user {0:?}")]
    NoSuchUser(String),
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
    #[error("shard: {0}")]
    Shard(#[from] objectio_shard::Error),
    #[error("upload {0} does not exist")]
    NoSuchUpload(String),
    #[error("{0}")]
    InvalidPart(String),
    #[error("parts are not in ascending order")]
    InvalidPartOrder,
    #[error("{0}")]
    EntityTooSmall(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("the version does not exist")]
    NoSuchVersion,
    /// The version named is a delete marker (with its version id).
    #[error("the version is a delete marker")]
    DeleteMarker(String),
    /// The object is encrypted and the request brought no key for it.
    #[error("the object is encrypted: the request must bring its key")]
    KeyNeeded,
    /// The request's SSE-C key is not the object's.
    #[error("the encryption key is not the object's")]
    WrongKey,
    /// The version is protected by object lock (why).
    #[error("the object is protected by {0}")]
    Locked(&'static str),
    /// A conditional write found the key not holding what it expected.
    #[error("at least one of the preconditions did not hold")]
    PreconditionFailed,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Index records read per page when a bucket is walked.
const EACH_PAGE: i64 = 1000;

/// What a bucket holds ([`Objects::bucket_usage`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BucketUsage {
    pub objects: u64,
    pub versions: u64,
    pub delete_markers: u64,
    pub bytes: u64,
}

/// Checks a bucket name against S3's rules: 3 to 63 characters of
/// lowercase letters, digits, `.` and `-`, starting and ending with a
/// letter or digit, without `..`, not shaped like an IP address (four
/// dot-separated numbers), not starting with `xn--`.
pub fn valid_bucket_name(name: &str) -> std::result::Result<(), &'static str> {
    let b = name.as_bytes();
    let edge = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(3..=63).contains(&b.len()) {
        Err("it must be 3 to 63 characters long")
    } else if !b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
    {
        Err("only lowercase letters, digits, '.' and '-' are allowed")
    } else if !edge(b.first()) || !edge(b.last()) {
        Err("it must start and end with a letter or digit")
    } else if name.contains("..") {
        Err("it must not hold '..'")
    } else if name.split('.').count() == 4
        && name
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
    {
        Err("it must not be shaped like an IP address")
    } else if name.starts_with("xn--") {
        Err("it must not start with 'xn--'")
    } else {
        Ok(())
    }
}

pub use objectio_cluster::ChecksumAlgorithm;

/// Checksums a PUT computes while streaming, besides MD5.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Wanted(u8);

impl Wanted {
    fn bit(a: ChecksumAlgorithm) -> u8 {
        1 << ChecksumAlgorithm::ALL
            .iter()
            .position(|x| *x == a)
            .expect("every algorithm is in ALL")
    }
    /// These and `a`.
    pub fn with(self, a: ChecksumAlgorithm) -> Self {
        Self(self.0 | Self::bit(a))
    }
    pub fn has(self, a: ChecksumAlgorithm) -> bool {
        self.0 & Self::bit(a) != 0
    }
}

/// Digests of a PUT body: MD5, and the `x-amz-checksum-*` ones asked for
/// (base64, as S3 carries them).
#[derive(Clone, Debug, Default)]
pub struct Digests {
    pub md5: [u8; 16],
    pub sums: BTreeMap<ChecksumAlgorithm, String>,
}

impl Digests {
    pub fn get(&self, a: ChecksumAlgorithm) -> Option<&str> {
        self.sums.get(&a).map(String::as_str)
    }
}

/// One pass over the bytes updates every digest asked for.
pub(crate) struct Hashers {
    md5: md5::Md5,
    crc32: Option<crc32fast::Hasher>,
    crc32c: Option<u32>,
    crc64: Option<crc_fast::Digest>,
    sha1: Option<sha1::Sha1>,
    sha256: Option<sha2::Sha256>,
}

impl Hashers {
    pub(crate) fn new(w: Wanted) -> Self {
        use ChecksumAlgorithm as A;
        Self {
            md5: md5::Md5::new(),
            crc32: w.has(A::Crc32).then(crc32fast::Hasher::new),
            crc32c: w.has(A::Crc32c).then_some(0),
            crc64: w
                .has(A::Crc64nvme)
                .then(|| crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme)),
            sha1: w.has(A::Sha1).then(sha1::Sha1::new),
            sha256: w.has(A::Sha256).then(sha2::Sha256::new),
        }
    }

    pub(crate) fn update(&mut self, b: &[u8]) {
        self.md5.update(b);
        if let Some(h) = &mut self.crc32 {
            h.update(b);
        }
        if let Some(c) = &mut self.crc32c {
            *c = crc32c::crc32c_append(*c, b);
        }
        if let Some(h) = &mut self.crc64 {
            h.update(b);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(b);
        }
        if let Some(h) = &mut self.sha256 {
            h.update(b);
        }
    }

    pub(crate) fn finish(self) -> Digests {
        use ChecksumAlgorithm as A;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let mut sums = BTreeMap::new();
        if let Some(h) = self.crc32 {
            sums.insert(A::Crc32, b64(&h.finalize().to_be_bytes()));
        }
        if let Some(c) = self.crc32c {
            sums.insert(A::Crc32c, b64(&c.to_be_bytes()));
        }
        if let Some(h) = self.crc64 {
            sums.insert(A::Crc64nvme, b64(&h.finalize().to_be_bytes()));
        }
        if let Some(h) = self.sha1 {
            sums.insert(A::Sha1, b64(&h.finalize()));
        }
        if let Some(h) = self.sha256 {
            sums.insert(A::Sha256, b64(&h.finalize()));
        }
        Digests {
            md5: self.md5.finalize().into(),
            sums,
        }
    }
}

/// What an object carries besides its body, set by PUT, a copy or
/// CreateMultipartUpload.
#[derive(Clone, Debug, Default)]
pub struct ObjectMeta {
    pub content_type: Option<String>,
    pub user_metadata: BTreeMap<String, String>,
    /// Standard headers kept with the object.
    pub headers: objectio_cluster::ObjectHeaders,
    /// The object's tags.
    pub tags: BTreeMap<String, String>,
    /// The object's canned ACL.
    pub acl: CannedAcl,
    /// Object lock: the retention and legal hold the version gets.
    pub retention: Option<objectio_cluster::Retention>,
    pub legal_hold: bool,
    /// How the data is encrypted at rest (the key goes separately).
    pub encryption: Option<objectio_cluster::Sse>,
}

impl ObjectMeta {
    /// The metadata of an existing object (what a copy keeps).
    pub fn of(r: &ObjectRecord) -> Self {
        Self {
            content_type: r.content_type.clone(),
            user_metadata: r.user_metadata.clone(),
            headers: r.headers.clone(),
            tags: r.tags.clone(),
            acl: r.acl,
            // A copy is a new version: it gets its own lock and encryption,
            // not the source's.
            retention: None,
            legal_hold: false,
            encryption: None,
        }
    }
}

/// What a PUT needs besides its body.
pub struct PutParams {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub meta: ObjectMeta,
    pub wanted: Wanted,
    /// The checksum kept with the object (computed among `wanted`).
    pub checksum: Option<ChecksumAlgorithm>,
    /// The data key, when `meta.encryption` says the object is encrypted.
    pub data_key: Option<DataKey>,
    /// What the key must hold when the object commits.
    pub expect: index::Expect,
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
    /// The last key or common prefix of this page, when truncated (a
    /// ListObjects v1 `NextMarker`).
    pub next_marker: Option<String>,
}

/// A continuation token resuming a listing after `marker` (ListObjects
/// v1): a common prefix when the marker ends with the delimiter (the keys
/// rolled up into it are skipped), else a key.
pub fn marker_token(marker: &str, delimiter: Option<&str>) -> String {
    let as_prefix = delimiter.is_some_and(|d| !d.is_empty() && marker.ends_with(d));
    encode_token(&format!("{}{marker}", if as_prefix { 'p' } else { 'k' }))
}

/// The object layer. Cheap to clone.
#[derive(Clone)]
pub struct Objects {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// The object index's operations (over the same etcd).
    index: index::Index,
    config: ClusterConfig,
    map: ClusterMap,
    shards: ShardClient,
    gateway_id: String,
    /// Random per process (see [`Objects::incarnation`]).
    incarnation: Uuid,
    /// The kind of process writing (named in intents).
    writer: objectio_cluster::Writer,
    /// Buckets seen to exist recently: a PUT's early check only (its commit
    /// compares the bucket key, so a stale entry costs work, never
    /// correctness).
    seen_buckets: std::sync::Mutex<
        std::collections::HashMap<
            String,
            (std::time::Instant, Option<objectio_cluster::Versioning>),
        >,
    >,
}

/// How long a bucket seen to exist skips the PUT's early check.
const SEEN_BUCKET_TTL: std::time::Duration = std::time::Duration::from_secs(2);

fn shard_id(version_id: Uuid, part: u32, i: usize) -> ShardId {
    ShardId {
        version_id,
        part,
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
        store.directory().set_compact(config.compact_records);
        Self {
            inner: Arc::new(Inner {
                index: index::Index::etcd(store.clone()),
                store,
                config,
                map,
                shards,
                gateway_id,
                incarnation: Uuid::new_v4(),
                writer: objectio_cluster::Writer::Gateway,
                seen_buckets: Default::default(),
            }),
        }
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn index(&self) -> &index::Index {
        &self.inner.index
    }

    // ---- buckets ----

    /// Creates a bucket owned by `owner`.
    pub async fn create_bucket(
        &self,
        name: &str,
        owner: &str,
        acl: CannedAcl,
        object_lock: bool,
    ) -> Result<()> {
        let k = self.store().keys().bucket(name);
        let rec = BucketRecord {
            version: SCHEMA_VERSION,
            name: name.to_string(),
            owner: owner.to_string(),
            created: now_secs(),
            acl,
            policy: None,
            tags: Default::default(),
            cors: None,
            // Object lock needs every version kept: versioning on for good.
            versioning: object_lock.then_some(objectio_cluster::Versioning::Enabled),
            lifecycle: None,
            object_lock: object_lock.then(Default::default),
        };
        if valid_bucket_name(name).is_err() {
            return Err(Error::InvalidBucketName(name.to_string()));
        }
        if self.index().create_bucket(&rec).await? {
            return Ok(());
        }
        match self.store().get::<BucketRecord>(k).await? {
            Some((b, _)) => Err(Error::BucketExists {
                owned_by_you: b.owner == owner,
            }),
            None => Err(Error::NoSuchUser(owner.to_string())),
        }
    }

    /// What a bucket holds: its objects (current versions that are not
    /// delete markers), every version and delete marker, and the bytes of
    /// all versions; read from the index a page at a time.
    pub async fn bucket_usage(&self, name: &str) -> Result<BucketUsage> {
        self.bucket(name).await?;
        let mut u = BucketUsage::default();
        self.each_record(name, |rec| {
            if rec.delete_marker {
                u.delete_markers += 1;
            } else {
                u.versions += 1;
                u.bytes += rec.size;
                u.objects += u64::from(!rec.noncurrent);
            }
            true
        })
        .await?;
        Ok(u)
    }

    /// Calls `f` on every version record of a bucket in key order, a page
    /// of the index at a time, until it answers `false`.
    async fn each_record(
        &self,
        bucket: &str,
        mut f: impl FnMut(ObjectRecord) -> bool,
    ) -> Result<()> {
        let prefix = self.store().keys().objects_prefix(bucket);
        let end = objectio_cluster::keys::prefix_end(&prefix).expect("prefix ends with '/'");
        let mut start = prefix;
        loop {
            let resp = self
                .store()
                .kv()
                .get(
                    start.clone(),
                    Some(
                        etcd_client::GetOptions::new()
                            .with_range(end.clone())
                            .with_limit(EACH_PAGE),
                    ),
                )
                .await?;
            for kv in resp.kvs() {
                if !f(self
                    .store()
                    .decode(kv.key(), kv.value(), kv.mod_revision())
                    .await?)
                {
                    return Ok(());
                }
            }
            match resp.kvs().last() {
                Some(last) if resp.more() => {
                    start = last.key().to_vec();
                    start.push(0);
                }
                _ => return Ok(()),
            }
        }
    }

    /// Deletes every version and delete marker of a bucket (16 at a time)
    /// and then the bucket, as `delete_bucket` does; the versions deleted.
    /// A version under object lock stops it with `Locked` (nothing after
    /// what was deleted so far is lost: the bucket stays).
    pub async fn empty_and_delete_bucket(&self, name: &str) -> Result<u64> {
        use futures::StreamExt;
        let b = self.bucket(name).await?;
        let mut deleted = 0u64;
        loop {
            let mut page = Vec::new();
            self.each_record(name, |rec| {
                page.push(rec);
                page.len() < EACH_PAGE as usize
            })
            .await?;
            if page.is_empty() {
                break;
            }
            let results: Vec<Result<Deleted>> = futures::stream::iter(page)
                .map(|rec| async move {
                    let version = b.versioning.map(|_| rec.s3_version_id());
                    self.delete(name, &rec.key, version.as_deref(), false).await
                })
                .buffer_unordered(16)
                .collect()
                .await;
            let mut done = 0;
            for r in results {
                match r {
                    Ok(_) => done += 1,
                    // Moved or gone meanwhile: the next page reads again.
                    Err(Error::NoSuchKey) | Err(Error::NoSuchVersion) => {}
                    Err(e) => return Err(e),
                }
            }
            if done == 0 {
                return Err(Error::Unavailable(format!(
                    "bucket {name}: its versions changed under every delete; retry"
                )));
            }
            deleted += done;
        }
        self.delete_bucket(name).await?;
        Ok(deleted)
    }

    /// Reads a bucket.
    pub async fn bucket(&self, name: &str) -> Result<BucketRecord> {
        self.store()
            .get::<BucketRecord>(self.store().keys().bucket(name))
            .await?
            .map(|(b, _)| b)
            .ok_or_else(|| Error::NoSuchBucket(name.to_string()))
    }

    /// Changes a bucket's record (policy, ACL) with a compare-and-swap on
    /// its revision, retried when it raced another change; the record and
    /// the etcd revision of the change.
    pub async fn update_bucket(
        &self,
        name: &str,
        mut change: impl FnMut(&mut BucketRecord),
    ) -> Result<(BucketRecord, i64)> {
        self.index()
            .update::<BucketRecord>(self.store().keys().bucket(name).into_bytes(), |b| change(b))
            .await?
            .ok_or_else(|| Error::NoSuchBucket(name.to_string()))
    }

    /// Sets an object's canned ACL (see [`Self::update_version`]).
    pub async fn set_object_acl(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        acl: CannedAcl,
    ) -> Result<()> {
        self.update_version(bucket, key, version_id, |r| r.acl = acl)
            .await
            .map(|_| ())
    }

    /// The object layer of a meta's controllers: its intents name the meta
    /// `id` (whose liveness GC checks under `alive/metas/`).
    pub fn for_controller(
        store: Store,
        config: ClusterConfig,
        map: ClusterMap,
        shards: ShardClient,
        id: String,
    ) -> Self {
        let mut o = Self::new(store, config, map, shards, id);
        Arc::get_mut(&mut o.inner).expect("not shared yet").writer = objectio_cluster::Writer::Meta;
        o
    }

    /// This process's incarnation, named by its intents and published in
    /// its liveness key: GC reclaims the intents of any other incarnation
    /// of the same gateway id at once.
    /// The cluster map as this layer sees it now.
    pub fn map(&self) -> Arc<map::Snapshot> {
        self.inner.map.get()
    }

    pub fn incarnation(&self) -> Uuid {
        self.inner.incarnation
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

    /// Deletes a bucket that holds no object. Uploads still in progress
    /// are aborted first (their parts go to GC), as AWS does; an object
    /// committed meanwhile (an upload completed) makes it not empty.
    pub async fn delete_bucket(&self, name: &str) -> Result<()> {
        let keys = self.store().keys();
        for _ in 0..3 {
            if self.index().delete_bucket(name).await? {
                return Ok(());
            }
            self.bucket(name).await?;
            if self.store().count(keys.objects_prefix(name)).await? > 0 {
                break;
            }
            for (_, up) in self
                .store()
                .list::<objectio_cluster::UploadRecord>(keys.uploads_prefix(name))
                .await?
            {
                match self
                    .abort_upload(name, &up.key, &up.upload_id.to_string())
                    .await
                {
                    Ok(()) | Err(Error::NoSuchUpload(_)) => {
                        tracing::info!(bucket = name, key = %up.key, upload = %up.upload_id, "upload aborted with its bucket");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Err(Error::BucketNotEmpty(name.to_string()))
    }

    /// The bucket's versioning state; fails with `NoSuchBucket` unless the
    /// bucket exists or was seen to within [`SEEN_BUCKET_TTL`] (a change
    /// of versioning made through another gateway applies here within
    /// that time; S3 documents it as eventually consistent too).
    pub(crate) async fn bucket_seen(
        &self,
        name: &str,
    ) -> Result<Option<objectio_cluster::Versioning>> {
        let fresh = self
            .inner
            .seen_buckets
            .lock()
            .expect("bucket cache lock")
            .get(name)
            .filter(|(t, _)| t.elapsed() < SEEN_BUCKET_TTL)
            .map(|(_, v)| *v);
        if let Some(v) = fresh {
            return Ok(v);
        }
        let v = self.bucket(name).await?.versioning;
        let mut seen = self.inner.seen_buckets.lock().expect("bucket cache lock");
        if seen.len() > 10_000 {
            seen.retain(|_, (t, _)| t.elapsed() < SEEN_BUCKET_TTL);
        }
        seen.insert(name.to_string(), (std::time::Instant::now(), v));
        Ok(v)
    }

    /// Forgets what this process saw of a bucket (its versioning changed).
    pub fn forget_bucket(&self, name: &str) {
        self.inner
            .seen_buckets
            .lock()
            .expect("bucket cache lock")
            .remove(name);
    }

    // ---- objects ----

    /// Reads an object's record.
    pub async fn head(&self, bucket: &str, key: &str) -> Result<ObjectRecord> {
        match self.current(bucket, key).await? {
            Some(r) => Ok(r),
            None => {
                self.bucket(bucket).await?;
                Err(Error::NoSuchKey)
            }
        }
    }

    /// The key's current object, if any and not a delete marker (no
    /// bucket check).
    pub(crate) async fn current(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        Ok(self
            .store()
            .get::<ObjectRecord>(self.store().keys().object(bucket, key))
            .await?
            .map(|(r, _)| r)
            .filter(|r| !r.delete_marker))
    }

    /// Stores an object from `body`, streaming stripe by stripe. `verify`
    /// sees the digests before the shards are sealed and may refuse them.
    pub async fn put<S, E>(
        &self,
        p: PutParams,
        body: S,
        verify: impl FnOnce(&Digests) -> Result<()>,
    ) -> Result<(ObjectRecord, Digests)>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        if p.key.contains('\0') {
            return Err(Error::InvalidArgument("object keys cannot hold NUL".into()));
        }
        if p.meta.encryption.is_some() != p.data_key.is_some() {
            return Err(Error::InvalidArgument(
                "an encrypted object needs its data key, and only it".into(),
            ));
        }
        let versioning = self.bucket_seen(&p.bucket).await?;
        let w = self
            .write_data(
                write::Target {
                    bucket: &p.bucket,
                    key: &p.key,
                    part: 0,
                    size: p.size,
                    meta: shard_meta(&p.meta.content_type, &p.meta.user_metadata),
                    data_key: p.data_key.as_ref(),
                },
                p.wanted,
                body,
                verify,
            )
            .await?;
        let rec = ObjectRecord {
            version: SCHEMA_VERSION,
            bucket: p.bucket.clone(),
            key: p.key.clone(),
            version_id: w.segment.version_id,
            size: p.size,
            etag: w.etag.clone(),
            content_type: p.meta.content_type,
            user_metadata: p.meta.user_metadata,
            created_ms: now_millis(),
            ec: w.ec,
            shards: w.segment.shards.clone(),
            parts: Vec::new(),
            acl: p.meta.acl,
            headers: p.meta.headers,
            tags: p.meta.tags,
            versioned: versioning == Some(objectio_cluster::Versioning::Enabled),
            retention: p.meta.retention,
            legal_hold: p.meta.legal_hold,
            encryption: p.meta.encryption.clone(),
            checksum: p.checksum.and_then(|a| {
                Some(objectio_cluster::ObjectChecksum {
                    algorithm: a,
                    value: w.digests.get(a)?.to_string(),
                    full_object: true,
                })
            }),
            ..Default::default()
        };
        let hint: Vec<index::Op> = self.index().hint_put(&rec).into_iter().collect();
        loop {
            let r = match self.versioned_extras(&rec, versioning).await {
                Ok((guards, mut extra)) => {
                    extra.extend(hint.clone());
                    self.commit_object(
                        &rec,
                        w.intent.as_deref(),
                        &p.expect,
                        versions::keep_of(versioning),
                        guards,
                        extra,
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            match r {
                Ok(true) => return Ok((rec, w.digests)),
                Ok(false) => continue, // another writer committed first: replace it
                Err(e) => {
                    self.abandon(&w).await;
                    return Err(e);
                }
            }
        }
    }

    /// Commits `rec` ([`index::Index::commit_object`]); `false` when a
    /// guard failed (the caller decides whether to retry), an error when
    /// the bucket is gone or the write was given up.
    #[allow(clippy::too_many_arguments)]
    async fn commit_object(
        &self,
        rec: &ObjectRecord,
        intent: Option<&str>,
        expect: &index::Expect,
        keep: index::Keep,
        guards: Vec<index::Cmp>,
        extra: Vec<index::Op>,
    ) -> Result<bool> {
        match self
            .index()
            .commit_object(rec, intent, expect, keep, guards, extra)
            .await?
        {
            index::Commit::Done => Ok(true),
            c @ (index::Commit::PreconditionFailed | index::Commit::Missing) => {
                Err(precondition_error(c))
            }
            index::Commit::GivenUp => Err(Error::Unavailable(
                "the write was given up before it could be committed".into(),
            )),
            index::Commit::Refused => {
                self.bucket(&rec.bucket).await?;
                Ok(false)
            }
        }
    }
}

impl Objects {
    /// What a commit of `rec` into a bucket in `versioning` state also
    /// compares and does: a suspended bucket's new null version replaces
    /// the key's noncurrent null version.
    pub(crate) async fn versioned_extras(
        &self,
        rec: &ObjectRecord,
        versioning: Option<objectio_cluster::Versioning>,
    ) -> Result<(Vec<index::Cmp>, Vec<index::Op>)> {
        if versioning == Some(objectio_cluster::Versioning::Suspended) {
            self.drop_null(&rec.bucket, &rec.key).await
        } else {
            Ok((vec![], vec![]))
        }
    }
}

/// The error of a conditional write whose condition does not hold.
pub fn precondition_error(c: index::Commit) -> Error {
    match c {
        index::Commit::Missing => Error::NoSuchKey,
        _ => Error::PreconditionFailed,
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

/// The metadata a single-part object's shard headers carry (none when
/// there is nothing to carry).
/// The bytes each shard of a segment of `size` bytes holds.
pub fn shard_size(ec: objectio_cluster::EcProfile, size: u64) -> u64 {
    read::geometry(ec, size).shard_size()
}

pub(crate) fn shard_meta(
    content_type: &Option<String>,
    user_metadata: &std::collections::BTreeMap<String, String>,
) -> Option<objectio_shard::ShardMeta> {
    (content_type.is_some() || !user_metadata.is_empty()).then(|| objectio_shard::ShardMeta {
        content_type: content_type.clone(),
        user_metadata: user_metadata.clone(),
    })
}

#[cfg(test)]
mod tests {
    use objectio_cluster::{ClusterConfig, EcProfile, IntentRecord, Segment, ShardLocation};

    use super::*;

    async fn objects(etcd: &objectio_testkit::Etcd) -> Objects {
        let store = Store::connect(&[etcd.endpoint()], "t").await.unwrap();
        let cc = ClusterConfig {
            version: SCHEMA_VERSION,
            name: "t".into(),
            cluster_id: Uuid::new_v4(),
            ec: EcProfile::default(),
            created: 0,
            replicate_max: 4 << 10,
            compact_records: true,
        };
        store.create(store.keys().config(), &cc).await.unwrap();
        let map = ClusterMap::start(store.clone(), std::time::Duration::from_secs(1))
            .await
            .unwrap();
        let shards = ShardClient::new(b"secret", std::time::Duration::from_secs(1));
        Objects::new(store, cc, map, shards, "gw-test".into())
    }

    /// A write as `write_data` leaves it: shards sealed, intent recorded.
    async fn written(o: &Objects, key: &str) -> (Written, ObjectRecord) {
        let segment = Segment {
            version_id: Uuid::new_v4(),
            part: 0,
            size: 10,
            shards: vec![
                Some(ShardLocation {
                    osd: "osd1".into(),
                    disk: Uuid::new_v4(),
                });
                6
            ],
        };
        let ik = o.store().keys().intent(&segment.version_id);
        let intent = IntentRecord {
            version: SCHEMA_VERSION,
            gateway: "gw-test".into(),
            incarnation: None,
            writer: Default::default(),
            bucket: "bkt".into(),
            key: key.into(),
            segment: segment.clone(),
            created: now_secs(),
        };
        o.store().put(ik.clone(), &intent).await.unwrap();
        let rec = ObjectRecord {
            version: SCHEMA_VERSION,
            bucket: "bkt".into(),
            key: key.into(),
            version_id: segment.version_id,
            size: 10,
            etag: "e".into(),
            content_type: None,
            user_metadata: BTreeMap::new(),
            created_ms: 0,
            ec: EcProfile::default(),
            shards: segment.shards.clone(),
            parts: Vec::new(),
            acl: Default::default(),
            ..Default::default()
        };
        let w = Written {
            segment,
            ec: EcProfile::default(),
            digests: Digests::default(),
            etag: "e".into(),
            intent: Some(ik),
        };
        (w, rec)
    }

    #[test]
    fn bucket_names_follow_the_s3_rules() {
        for ok in ["abc", "my.bucket-1", "0ab", &"a".repeat(63)] {
            assert_eq!(valid_bucket_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "Abc",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            "192.168.1.1",
            "xn--ab",
            "a b",
        ] {
            assert!(valid_bucket_name(bad).is_err(), "{bad}");
        }
    }

    /// The intent decides between a commit and its abandonment, whichever
    /// reaches etcd first: a commit whose answer was lost is never
    /// abandoned afterwards (that would delete a live object's shards), and
    /// an abandoned write is never committed afterwards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commit_and_abandon_exclude_each_other() {
        let etcd = objectio_testkit::Etcd::start().await.unwrap();
        let o = objects(&etcd).await;
        let user = objectio_cluster::UserRecord {
            version: SCHEMA_VERSION,
            name: "test".into(),
            created: 0,
            migrated: false,
        };
        o.store()
            .create(o.store().keys().user("test"), &user)
            .await
            .unwrap();
        o.create_bucket("bkt", "test", Default::default(), false)
            .await
            .unwrap();
        let gc_count = || async { o.store().count(o.store().keys().gc_prefix()).await.unwrap() };

        // Committed (the gateway saw an error), then abandoned: kept.
        let (w, rec) = written(&o, "k1").await;
        assert!(
            o.commit_object(
                &rec,
                w.intent.as_deref(),
                &index::Expect::Any,
                index::Keep::Nothing,
                vec![],
                vec![]
            )
            .await
            .unwrap()
        );
        o.abandon(&w).await;
        assert_eq!(
            gc_count().await,
            0,
            "a live object's shards were queued for GC"
        );
        assert!(o.head("bkt", "k1").await.is_ok());

        // Abandoned, then a late commit: refused, nothing goes live.
        let (w, rec) = written(&o, "k2").await;
        o.abandon(&w).await;
        assert_eq!(gc_count().await, 1);
        let r = o
            .commit_object(
                &rec,
                w.intent.as_deref(),
                &index::Expect::Any,
                index::Keep::Nothing,
                vec![],
                vec![],
            )
            .await;
        assert!(matches!(r, Err(Error::Unavailable(_))), "{r:?}");
        assert!(matches!(o.head("bkt", "k2").await, Err(Error::NoSuchKey)));

        // The same over an existing key (the replace path).
        let (w, mut rec) = written(&o, "k1").await;
        o.abandon(&w).await;
        rec.etag = "new".into();
        let r = o
            .commit_object(
                &rec,
                w.intent.as_deref(),
                &index::Expect::Any,
                index::Keep::Nothing,
                vec![],
                vec![],
            )
            .await;
        assert!(matches!(r, Err(Error::Unavailable(_))), "{r:?}");
        assert_eq!(o.head("bkt", "k1").await.unwrap().etag, "e");
    }
}
