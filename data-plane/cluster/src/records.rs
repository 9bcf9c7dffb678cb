//! Versioned records stored as JSON values in etcd (object records also in
//! the compact binary form of [`crate::compact`]).
//!
//! Every record carries `version` (its schema version). A reader refuses a
//! record whose version is newer than it knows ([`crate::Error::UnknownVersion`]);
//! older versions are migrated on read when a new schema appears.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The schema version written by this build.
pub const SCHEMA_VERSION: u32 = 1;

fn schema() -> u32 {
    SCHEMA_VERSION
}

fn is_zero_index(v: &u32) -> bool {
    *v == 0
}

fn is_gateway(w: &Writer) -> bool {
    *w == Writer::Gateway
}

/// Records that carry a schema version.
pub trait Versioned {
    fn schema_version(&self) -> u32;
    /// The newest schema version of this record this build reads.
    fn max_version() -> u32
    where
        Self: Sized,
    {
        SCHEMA_VERSION
    }
    /// What of the record the cluster map is made of (placement and
    /// membership), for the records that are part of it: a write that
    /// changes it advances the map epoch. Usage counters and timestamps
    /// are left out.
    fn map_view(&self) -> Option<String> {
        None
    }
    /// Decodes the record from its etcd value under `key`: JSON, but for
    /// object records, which may be compact and then need the disk
    /// directory (an index it lacks is [`crate::Error::UnknownDisk`], or
    /// with `lenient` a shard not there).
    fn from_value(
        key: &[u8],
        value: &[u8],
        _dir: &crate::compact::DiskDirectory,
        _lenient: bool,
    ) -> crate::Result<Self>
    where
        Self: Sized + serde::de::DeserializeOwned,
    {
        crate::store::decode_json(key, value)
    }
    /// The record's etcd value: JSON, but for object records, which are
    /// compact when `dir` allows it.
    fn to_etcd(&self, _dir: &crate::compact::DiskDirectory) -> Vec<u8>
    where
        Self: Sized + Serialize,
    {
        crate::store::encode(self)
    }
}

macro_rules! versioned {
    ($($t:ty),*) => {$(
        impl Versioned for $t {
            fn schema_version(&self) -> u32 { self.version }
        }
    )*};
}

/// A canned ACL (`x-amz-acl`): who besides the owner may read or write.
/// The owner always has full control.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CannedAcl {
    #[default]
    Private,
    PublicRead,
    PublicReadWrite,
    AuthenticatedRead,
}

impl CannedAcl {
    /// Parses an `x-amz-acl` value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "private" => Self::Private,
            "public-read" => Self::PublicRead,
            "public-read-write" => Self::PublicReadWrite,
            "authenticated-read" => Self::AuthenticatedRead,
            _ => return None,
        })
    }

    /// The `x-amz-acl` spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::PublicRead => "public-read",
            Self::PublicReadWrite => "public-read-write",
            Self::AuthenticatedRead => "authenticated-read",
        }
    }

    pub fn is_private(&self) -> bool {
        *self == Self::Private
    }
}

/// An erasure-coding profile: `k` data and `m` parity chunks of
/// `chunk_size` bytes per stripe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcProfile {
    pub k: u8,
    pub m: u8,
    pub chunk_size: u32,
}

impl Default for EcProfile {
    fn default() -> Self {
        Self {
            k: 4,
            m: 2,
            chunk_size: 1 << 20,
        }
    }
}

impl EcProfile {
    /// Data plus parity shards.
    pub fn total(&self) -> usize {
        self.k as usize + self.m as usize
    }
}

/// The cluster-wide configuration, written once by the first `objectio-meta`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClusterConfig {
    #[serde(default = "schema")]
    pub version: u32,
    pub name: String,
    pub cluster_id: Uuid,
    pub ec: EcProfile,
    pub created: u64,
    /// Objects of at most this many bytes are written as `m+1` whole
    /// copies (profile `1+m`) instead of `k+m` shards: as many failures
    /// survived, half the messages and disk writes per PUT, one read
    /// instead of `k` per GET, and up to 4 KiB no more space (every shard
    /// takes at least one 4 KiB block with its header: six of them for
    /// 4+2, three copies of a block or two). 0 turns it off; clusters
    /// created before it existed have it off.
    #[serde(default)]
    pub replicate_max: u64,
    /// Object records are written in the compact binary form
    /// ([`crate::compact`]) rather than JSON. Clusters created before it
    /// existed keep JSON, which every build reads.
    #[serde(default)]
    pub compact_records: bool,
}

impl ClusterConfig {
    /// The profile an object of `size` bytes is written with.
    pub fn profile_for(&self, size: u64) -> EcProfile {
        if size > 0 && size <= self.replicate_max {
            EcProfile { k: 1, ..self.ec }
        } else {
            self.ec
        }
    }
}

/// Where an OSD is in its life in the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OsdService {
    /// Added by an operator (`osd add`), its daemon not registered yet:
    /// takes no shards.
    New,
    /// In service: takes shards.
    #[default]
    Active,
    /// Being emptied (`osd drain`): takes no new shards, and the mover
    /// copies its shards elsewhere.
    Draining,
    /// Taken out of the cluster (`osd remove`): its shards count as lost,
    /// and its process is refused.
    Removed,
}

impl OsdService {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Active => "active",
            Self::Draining => "draining",
            Self::Removed => "removed",
        }
    }
}

/// An OSD's registration. Persistent: it outlives the OSD process, whose
/// liveness is the separate lease-bound [`OsdAlive`] key. Written by the
/// OSD when it starts (address, disks) and by operators (`osd add`,
/// `drain`, `reweight`, `remove`): each keeps the other's fields.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OsdRecord {
    #[serde(default = "schema")]
    pub version: u32,
    pub id: String,
    /// `host:port` of the shard protocol.
    pub address: String,
    /// The failure domain (host by default) placement spreads shards over.
    pub failure_domain: String,
    pub disks: Vec<Uuid>,
    pub registered: u64,
    #[serde(default)]
    pub state: OsdService,
    /// The OSD's placement weight, shared by its disks in proportion to
    /// their capacity (default: the capacity in GiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Disks an operator added (`osd add --disks`): the daemon opens them
    /// besides its own `--disk` flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disk_paths: Vec<String>,
    /// Seconds since the epoch when the current drain began (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub drain_started: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Value of the lease-bound liveness key of an OSD.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OsdAlive {
    pub address: String,
    pub started: u64,
}

/// Value of the lease-bound liveness key of a gateway.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GatewayAlive {
    pub address: String,
    pub started: u64,
    /// The etcd revision up to which the gateway's copy of the access keys
    /// is current: a key deleted at a revision at or below it is refused by
    /// this gateway (the admin API waits for that before answering).
    #[serde(default)]
    pub keys_revision: i64,
    /// Random per process: an intent of another incarnation of this
    /// gateway id is orphaned (the process that wrote it is gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incarnation: Option<Uuid>,
}

/// Whether a disk takes part in placement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DiskState {
    #[default]
    In,
    Out,
}

/// A disk owned by an OSD.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DiskRecord {
    #[serde(default = "schema")]
    pub version: u32,
    pub id: Uuid,
    pub osd: String,
    pub path: String,
    pub capacity_bytes: u64,
    pub used_bytes: u64,
    #[serde(default)]
    pub free_bytes: u64,
    /// Shards stored.
    #[serde(default)]
    pub shards: u64,
    /// I/O backend in use (`uring`, `sync`).
    #[serde(default)]
    pub backend: String,
    /// Placement weight (capacity in GiB by default).
    pub weight: f64,
    #[serde(default)]
    pub state: DiskState,
    /// Marked out by the health controller (its OSD was down longer than
    /// `down_out_interval`), not by an operator: marked in again when the
    /// OSD is back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_out: bool,
    /// When the last scrub pass of the disk finished (seconds since the
    /// epoch; 0: never), and the damaged shards it found.
    #[serde(default)]
    pub last_scrub: u64,
    #[serde(default)]
    pub scrub_errors: u64,
    /// The disk's short number, given once when it first registers and
    /// never reused: what compact object records name it by (0: none yet,
    /// a disk registered by a build before indexes).
    #[serde(default, skip_serializing_if = "is_zero_index")]
    pub index: u32,
}

/// A bucket.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BucketRecord {
    #[serde(default = "schema")]
    pub version: u32,
    pub name: String,
    /// The user that owns the bucket (before users existed: the access key
    /// id of its creator, which the migration made a user of that name).
    pub owner: String,
    pub created: u64,
    /// The bucket's canned ACL.
    #[serde(default, skip_serializing_if = "CannedAcl::is_private")]
    pub acl: CannedAcl,
    /// The bucket policy, as the JSON document PutBucketPolicy stored
    /// (validated when stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The bucket's tags (S3 bucket tagging), by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The bucket's CORS rules (PutBucketCors), in their order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Vec<CorsRule>>,
    /// S3 versioning: never enabled (`None`), enabled or suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<Versioning>,
    /// Lifecycle rules (PutBucketLifecycleConfiguration), run by the meta
    /// leader's lifecycle controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Vec<LifecycleRule>>,
    /// S3 object lock: enabled (once, for good; versioning stays enabled),
    /// with the retention new versions get by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<ObjectLockConfig>,
}

/// A bucket's object lock configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLockConfig {
    /// The retention a new version gets when its PUT names none: a mode
    /// and a period in days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_mode: Option<RetentionMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_days: Option<u32>,
    /// Whether the default period was given in years (answered back so).
    #[serde(default, skip_serializing_if = "is_false")]
    pub default_in_years: bool,
}

/// An object lock retention mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RetentionMode {
    /// Users with s3:BypassGovernanceRetention may shorten or remove it.
    Governance,
    /// Nobody may shorten or remove it until it ends.
    Compliance,
}

/// The retention of one object version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub mode: RetentionMode,
    /// Milliseconds since the epoch.
    pub until_ms: u64,
}

/// One lifecycle rule of a bucket: which objects (prefix, tags, size) and
/// what happens to them (expiration of current versions by age or date,
/// removal of lone delete markers, expiration of noncurrent versions, abort
/// of incomplete multipart uploads).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    pub id: String,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_greater_than: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_less_than: Option<u64>,
    /// Current versions expire this many days after they were written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_days: Option<u32>,
    /// … or once this time (ms since the epoch, a UTC midnight) has come.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_date_ms: Option<u64>,
    /// A delete marker with no version left behind it is removed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub expired_object_delete_marker: bool,
    /// Noncurrent versions expire this many days after they became so …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_days: Option<u32>,
    /// … except the newest this many of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_noncurrent_versions: Option<u32>,
    /// Uploads not completed this many days after they began are aborted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_days: Option<u32>,
}

impl LifecycleRule {
    /// Whether the rule's filter takes an object (key, tags, size).
    pub fn matches(&self, key: &str, tags: &BTreeMap<String, String>, size: u64) -> bool {
        key.starts_with(&self.prefix)
            && self.tags.iter().all(|(k, v)| tags.get(k) == Some(v))
            && self.size_greater_than.is_none_or(|n| size > n)
            && self.size_less_than.is_none_or(|n| size < n)
    }
}

/// A bucket's versioning state once it has been enabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    Enabled,
    Suspended,
}

/// One CORS rule of a bucket, as S3's CORSRule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<i32>,
}

/// A user: owns access keys and buckets.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserRecord {
    #[serde(default = "schema")]
    pub version: u32,
    pub name: String,
    pub created: u64,
    /// Set on a user made by the migration of an access key created before
    /// users existed (the user is named after that key).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub migrated: bool,
}

/// Schema version of [`AccessKeyRecord`] written by this build.
pub const ACCESS_KEY_VERSION: u32 = 2;

/// An S3 access key, at `keys/<access key id>`.
///
/// Version 1 (before users) lived at `users/<access key id>` with the secret
/// in clear and no user; `objectio-meta` migrates it at start (a user named
/// after the key, the key moved under `keys/` with its secret sealed).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    #[serde(default = "schema")]
    pub version: u32,
    pub access_key_id: String,
    /// The user the key acts as (version 2).
    #[serde(default)]
    pub user: String,
    /// Version 1 only: the secret in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
    /// Version 2: the secret sealed with the cluster's secret key
    /// ([`crate::secrets::SecretBox`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_secret: Option<String>,
    pub name: String,
    pub created: u64,
}

/// Where one shard of an object version lives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardLocation {
    pub osd: String,
    pub disk: Uuid,
}

/// An additional checksum algorithm S3 clients ask for (`x-amz-checksum-*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    pub const ALL: [ChecksumAlgorithm; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// The S3 name (`CRC32`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// The header carrying its value.
    pub fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The algorithm of an S3 name, any case.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
    }

    /// Whether it is a CRC (whose values over parts combine into the
    /// value over the whole object).
    pub fn is_crc(self) -> bool {
        matches!(self, Self::Crc32 | Self::Crc32c | Self::Crc64nvme)
    }
}

/// The additional checksum kept with an object: of the whole body, or (a
/// multipart object's `COMPOSITE` checksum) of its parts' checksums.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectChecksum {
    pub algorithm: ChecksumAlgorithm,
    /// Base64 of the digest (a composite one ends with `-<parts>`).
    pub value: String,
    /// `FULL_OBJECT` (true) or `COMPOSITE`.
    pub full_object: bool,
}

/// How an object's data is encrypted at rest (its shards hold ciphertext
/// only). The data key itself is never stored in clear.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Sse {
    /// SSE-C: the client's key, sent with every request; only its MD5
    /// (base64) is kept, to tell a wrong key.
    Customer { key_md5: String },
    /// SSE-S3: a data key of its own, sealed with the gateways' master key
    /// (`key_id` names which, `sealed` is base64 nonce ‖ ciphertext).
    Managed { key_id: String, sealed: String },
}

/// Standard HTTP headers stored with an object and answered on GET and
/// HEAD, as they were given on PUT, copy or CreateMultipartUpload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectHeaders {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// `Expires`, as an HTTP date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// `x-amz-website-redirect-location`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website_redirect_location: Option<String>,
}

impl ObjectHeaders {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The object index entry of one object version. `Default` gives an empty
/// record for constructions to complete (`..Default::default()` after the
/// fields they set, `version` among them).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ObjectRecord {
    #[serde(default = "schema")]
    pub version: u32,
    pub bucket: String,
    pub key: String,
    pub version_id: Uuid,
    pub size: u64,
    /// Hex MD5 of the body, without quotes.
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_metadata: BTreeMap<String, String>,
    /// Milliseconds since the epoch.
    pub created_ms: u64,
    pub ec: EcProfile,
    /// Shard `i` lives at `shards[i]`; `None` marks a shard that was not
    /// written (a degraded write within the write quorum). Empty for a
    /// multipart object, whose data is in `parts`.
    pub shards: Vec<Option<ShardLocation>>,
    /// The parts of a multipart object, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartLocation>,
    /// The object's canned ACL.
    #[serde(default, skip_serializing_if = "CannedAcl::is_private")]
    pub acl: CannedAcl,
    /// A multipart object's manifest (its parts, ETag and metadata as
    /// JSON), stored as shards like a part numbered `MANIFEST_PART` under
    /// the object's own data id: not part of the body, kept and repaired
    /// with the object so the index can be rebuilt from raw disks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<PartLocation>,
    #[serde(default, skip_serializing_if = "ObjectHeaders::is_empty")]
    pub headers: ObjectHeaders,
    /// The object's tags (S3 object tagging), by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Written while the bucket's versioning was enabled: its S3 version id
    /// is `version_id`; otherwise it is the "null" version (every record
    /// from before versioning existed is).
    #[serde(default, skip_serializing_if = "is_false")]
    pub versioned: bool,
    /// A delete marker: no data, answers 404 as the current version.
    #[serde(default, skip_serializing_if = "is_false")]
    pub delete_marker: bool,
    /// A noncurrent version, kept under [`crate::keys::Keys::object_version`].
    #[serde(default, skip_serializing_if = "is_false")]
    pub noncurrent: bool,
    /// The additional checksum the writer asked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<ObjectChecksum>,
    /// Object lock: this version's retention and legal hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub legal_hold: bool,
    /// Encryption at rest, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Sse>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One part of a multipart object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartLocation {
    pub number: u32,
    /// Id of the part's data (its shards are `(version_id, number, i)`).
    pub version_id: Uuid,
    pub size: u64,
    /// Hex MD5 of the part.
    pub etag: String,
    pub shards: Vec<Option<ShardLocation>>,
    /// The part's checksum in its upload's algorithm, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

impl PartLocation {
    pub fn segment(&self) -> Segment {
        Segment {
            version_id: self.version_id,
            part: self.number,
            size: self.size,
            shards: self.shards.clone(),
        }
    }
}

/// A multipart object's manifest, as its manifest shards hold it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(default = "schema")]
    pub version: u32,
    pub bucket: String,
    pub key: String,
    /// The object's version (its upload) id.
    pub version_id: Uuid,
    pub size: u64,
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_metadata: BTreeMap<String, String>,
    pub created_ms: u64,
    pub parts: Vec<ManifestPart>,
}

/// One part as a manifest names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestPart {
    pub number: u32,
    pub version_id: Uuid,
    pub size: u64,
    pub etag: String,
}

/// A run of erasure-coded data: a whole single-part object, or one part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub version_id: Uuid,
    /// Part number in shard ids (0 for a single-part object).
    pub part: u32,
    pub size: u64,
    pub shards: Vec<Option<ShardLocation>>,
}

impl ObjectRecord {
    /// Why this version may not be deleted now (its legal hold, or a
    /// retention not over that `bypass_governance` does not lift).
    pub fn locked(&self, now_ms: u64, bypass_governance: bool) -> Option<&'static str> {
        if self.legal_hold {
            return Some("a legal hold");
        }
        match self.retention {
            Some(r) if r.until_ms > now_ms => match r.mode {
                RetentionMode::Compliance => Some("a COMPLIANCE retention"),
                RetentionMode::Governance if !bypass_governance => Some("a GOVERNANCE retention"),
                RetentionMode::Governance => None,
            },
            _ => None,
        }
    }

    /// The S3 version id: "null" for a version written while versioning
    /// was off or suspended.
    pub fn s3_version_id(&self) -> String {
        if self.versioned {
            self.version_id.to_string()
        } else {
            "null".into()
        }
    }

    /// The object's data runs, in order.
    /// Every segment with shards: the body's, then the manifest's.
    pub fn all_segments(&self) -> Vec<Segment> {
        let mut v = self.segments();
        if let Some(m) = &self.manifest {
            v.push(m.segment());
        }
        v
    }

    /// The ETag the shards of segment `i` of [`Self::all_segments`] are
    /// sealed with.
    pub fn segment_etag(&self, i: usize) -> &str {
        if self.parts.is_empty() {
            &self.etag
        } else {
            match self.parts.get(i) {
                Some(p) => &p.etag,
                None => &self.manifest.as_ref().expect("segment index in range").etag,
            }
        }
    }

    /// The shard locations of segment `i` of [`Self::all_segments`].
    pub fn segment_shards_mut(&mut self, i: usize) -> &mut Vec<Option<ShardLocation>> {
        if self.parts.is_empty() {
            &mut self.shards
        } else if i < self.parts.len() {
            &mut self.parts[i].shards
        } else {
            &mut self
                .manifest
                .as_mut()
                .expect("segment index in range")
                .shards
        }
    }

    /// The body's segments (what a GET reads).
    pub fn segments(&self) -> Vec<Segment> {
        if self.parts.is_empty() {
            return vec![Segment {
                version_id: self.version_id,
                part: 0,
                size: self.size,
                shards: self.shards.clone(),
            }];
        }
        self.parts.iter().map(PartLocation::segment).collect()
    }
}

/// A multipart upload in progress.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UploadRecord {
    #[serde(default = "schema")]
    pub version: u32,
    pub bucket: String,
    pub key: String,
    pub upload_id: Uuid,
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_metadata: BTreeMap<String, String>,
    pub created_ms: u64,
    /// The canned ACL the completed object gets.
    #[serde(default, skip_serializing_if = "CannedAcl::is_private")]
    pub acl: CannedAcl,
    /// The headers and tags the completed object gets.
    #[serde(default, skip_serializing_if = "ObjectHeaders::is_empty")]
    pub headers: ObjectHeaders,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The checksum algorithm of the upload's parts (CreateMultipartUpload's
    /// `x-amz-checksum-algorithm`) and whether the completed object's is of
    /// the full object (`x-amz-checksum-type: FULL_OBJECT`) or composite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub checksum_full_object: bool,
    /// Object lock of the completed object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub legal_hold: bool,
    /// Encryption of every part (and so of the completed object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Sse>,
}

/// An uploaded part of a multipart upload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PartRecord {
    #[serde(default = "schema")]
    pub version: u32,
    pub upload_id: Uuid,
    pub number: u32,
    pub version_id: Uuid,
    pub size: u64,
    pub etag: String,
    pub ec: EcProfile,
    pub shards: Vec<Option<ShardLocation>>,
    pub created_ms: u64,
    /// The part's checksum in its upload's algorithm, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

impl PartRecord {
    /// The part as a completed object's record names it.
    pub fn location(&self) -> PartLocation {
        PartLocation {
            number: self.number,
            version_id: self.version_id,
            size: self.size,
            etag: self.etag.clone(),
            shards: self.shards.clone(),
            checksum: self.checksum.clone(),
        }
    }

    pub fn segment(&self) -> Segment {
        Segment {
            version_id: self.version_id,
            part: self.number,
            size: self.size,
            shards: self.shards.clone(),
        }
    }
}

/// Which kind of process wrote an intent: its liveness key is under
/// `alive/gateways/` or `alive/metas/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Writer {
    #[default]
    Gateway,
    Meta,
}

impl Writer {
    /// The liveness kind of the writer (`gateways`, `metas`).
    pub fn alive_kind(&self) -> &'static str {
        match self {
            Writer::Gateway => "gateways",
            Writer::Meta => "metas",
        }
    }
}

/// What GC reads of any member's liveness value: when it started and its
/// incarnation (random per process).
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct AliveStamp {
    #[serde(default)]
    pub started: u64,
    #[serde(default)]
    pub incarnation: Option<Uuid>,
}

/// A write in progress (a PUT, a part, or a repair): names the shards it
/// may have written so that GC can reclaim them if the writer dies before
/// committing.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IntentRecord {
    #[serde(default = "schema")]
    pub version: u32,
    /// The id of the writer (a gateway's, or a meta's for a repair).
    pub gateway: String,
    /// The incarnation of the process that wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incarnation: Option<Uuid>,
    /// Which kind of process the writer is.
    #[serde(default, skip_serializing_if = "is_gateway")]
    pub writer: Writer,
    pub bucket: String,
    pub key: String,
    /// The data being written (part 0 for a PUT, the part number for an
    /// UploadPart).
    pub segment: Segment,
    pub created: u64,
}

/// Shards queued for deletion (an overwritten or deleted version, an
/// aborted upload, parts left out of a completion).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GcRecord {
    #[serde(default = "schema")]
    pub version: u32,
    pub segments: Vec<Segment>,
    pub queued: u64,
    /// The data was readable (an overwritten or deleted object version):
    /// a GET that started before may still be streaming it, so its shards
    /// are kept for the GC grace period. Writes that never went live are
    /// reclaimed at once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub was_live: bool,
}

/// A shard found damaged: chunks failing their checksum, or unreadable.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DamagedShard {
    #[serde(default = "schema")]
    pub version: u32,
    pub osd: String,
    pub disk: Uuid,
    /// `scrub` or `read`.
    pub found_by: String,
    pub reason: String,
    pub reported_ms: u64,
    /// The object the shard belongs to, as its header names it (lets repair
    /// go straight to it instead of a pass over the whole index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// An object committed short of full redundancy (a PUT at the write
/// quorum), at `hints/<data id>`: the repair controller rebuilds it at once
/// instead of waiting for a pass over the index, and removes the hint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RepairHint {
    #[serde(default = "schema")]
    pub version: u32,
    pub bucket: String,
    pub key: String,
    pub created_ms: u64,
}

/// A gateway or meta replica that has joined the cluster, at
/// `members/<kind>/<id>`: kept when it stops, so that `cluster status`
/// counts it as expected (`Gateways: 1/2`) until an operator forgets it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemberRecord {
    #[serde(default = "schema")]
    pub version: u32,
    pub id: String,
    /// Where it listens.
    pub address: String,
    /// Its software version when it last started.
    pub software: String,
    /// Seconds since the epoch: first joined, last started.
    pub joined: u64,
    pub started: u64,
}

/// What an admin token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// Every GET of the admin API but the metadata export.
    Read,
    /// Everything.
    Admin,
}

/// An admin token created through the API, at `tokens/<id>`: only the
/// SHA-256 of the token is kept, never the token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenRecord {
    #[serde(default = "schema")]
    pub version: u32,
    pub id: String,
    pub label: String,
    pub scope: TokenScope,
    /// Hex SHA-256 of the whole token.
    pub sha256: String,
    /// Seconds since the epoch.
    pub created: u64,
    /// Seconds since the epoch after which it is refused (none: never).
    pub expires: Option<u64>,
}

/// What the last pass over the object index counted (after its repairs):
/// the numbers `cluster status` shows without reading the index itself.
#[derive(Clone, Debug, Serialize, Deserialize, Default, PartialEq)]
pub struct Census {
    /// Objects counted.
    pub objects: u64,
    /// Readable, but short of full redundancy.
    pub degraded: u64,
    /// Fewer than `k` shards reachable.
    pub at_risk: u64,
    /// OSDs holding a shard of an at-risk object that are down.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at_risk_osds: Vec<String>,
    /// Seconds since the epoch when the count ended.
    pub counted: u64,
}

/// An operator's request that an OSD scrub its disks now.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScrubRequest {
    #[serde(default = "schema")]
    pub version: u32,
    pub requested_ms: u64,
}

/// An object repair could not make whole, and why.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SkippedObject {
    pub bucket: String,
    pub key: String,
    pub reason: String,
}

/// The repair controller's job, at `jobs/repair`: passes over the object
/// index, each resumable from its cursor after a leader change.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct RepairJob {
    #[serde(default = "schema")]
    pub version: u32,
    /// A pass is under way (from `cursor`).
    pub running: bool,
    /// Passes completed.
    pub passes: u64,
    /// The last object key (after `objects/`) done in this pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Seconds since the epoch when this pass started.
    pub pass_started: u64,
    /// Counters of this pass.
    pub scanned: u64,
    pub repaired_objects: u64,
    pub repaired_shards: u64,
    pub bytes_rebuilt: u64,
    /// Objects that could not be repaired in this pass (at most 100 kept).
    #[serde(default)]
    pub skipped: Vec<SkippedObject>,
    #[serde(default)]
    pub skipped_count: u64,
    /// The last completed pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<RepairPass>,
    /// Since the job began: objects and shards repaired, bytes rebuilt.
    #[serde(default)]
    pub total_repaired_objects: u64,
    #[serde(default)]
    pub total_repaired_shards: u64,
    #[serde(default)]
    pub total_bytes_rebuilt: u64,
    /// The last operator request served (ms).
    #[serde(default)]
    pub handled_request_ms: u64,
    /// This pass covers only objects with a shard on this OSD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osd: Option<String>,
    /// What this pass has counted so far (a pass limited to one OSD
    /// counts nothing).
    #[serde(default)]
    pub counting: Census,
    /// The count of the last whole pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub census: Option<Census>,
    /// The map (OSDs up, disks and their states) the last pass started
    /// from: a change starts a new pass.
    #[serde(default)]
    pub map_fingerprint: u64,
    /// The pass is counting what it will move before it works (from
    /// `cursor`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub planning: bool,
    /// This pass moves shards off their preferred placement (a rebalance).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rebalancing: bool,
    /// The capacity (disks in service and their weights) this pass, if
    /// rebalancing, and the last completed rebalance started from.
    #[serde(default)]
    pub capacity_fingerprint: u64,
    #[serde(default)]
    pub rebalanced_fingerprint: u64,
    /// This pass's rebalance.
    #[serde(default)]
    pub rebalance: Moves,
    /// OSDs draining when this pass began, and each drain's progress.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub draining: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub drains: BTreeMap<String, DrainProgress>,
    /// Since the job began: shards moved and their bytes.
    #[serde(default)]
    pub total_moved_shards: u64,
    #[serde(default)]
    pub total_moved_bytes: u64,
    /// When the last rebalancing pass ended (seconds; 0: never).
    #[serde(default)]
    pub rebalanced_at: u64,
    /// The last rebalance request a pass took up (ms).
    #[serde(default)]
    pub rebalance_handled_ms: u64,
}

/// Shards a pass means to move (counted before it works) and has moved.
#[derive(Clone, Debug, Serialize, Deserialize, Default, PartialEq)]
pub struct Moves {
    pub planned_objects: u64,
    pub planned_bytes: u64,
    pub moved_objects: u64,
    pub moved_bytes: u64,
}

impl Moves {
    /// What is left of the plan: objects and bytes.
    pub fn left(&self) -> (u64, u64) {
        (
            self.planned_objects.saturating_sub(self.moved_objects),
            self.planned_bytes.saturating_sub(self.moved_bytes),
        )
    }
}

/// One OSD's drain, as the repair controller's passes move its shards.
#[derive(Clone, Debug, Serialize, Deserialize, Default, PartialEq)]
pub struct DrainProgress {
    /// This pass's moves off the OSD.
    #[serde(default)]
    pub moves: Moves,
    /// Shards still referencing the OSD seen so far by this pass, after
    /// its work (objects, parts of uploads).
    #[serde(default)]
    pub pass_left: u64,
    /// After the last pass that began while the OSD drained: the shards
    /// that still referenced it (objects, parts, writes in progress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left: Option<u64>,
    /// When such a pass found nothing referencing it (seconds; 0: not yet).
    #[serde(default)]
    pub drained_at: u64,
    /// Why shards could not move in this pass (a few reasons).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<String>,
    /// Passes in a row that ended with shards that could not move (a
    /// stray shard awaiting GC blocks a disk for one pass; what lasts is a
    /// failure).
    #[serde(default)]
    pub blocked_passes: u32,
}

/// An operator's control of the repair controller, at
/// `jobs/repair-control` (the controller only reads it).
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct RepairControl {
    #[serde(default = "schema")]
    pub version: u32,
    /// Paused: no pass works until started again (the cursor is kept).
    #[serde(default)]
    pub stopped: bool,
    /// A pass was asked for at this time (ms): it starts at once.
    #[serde(default)]
    pub requested_ms: u64,
    /// The asked-for pass covers only objects with a shard on this OSD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osd: Option<String>,
    /// Rebalancing is paused (`cluster rebalance stop`); drains go on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rebalance_stopped: bool,
    /// A rebalance was asked for at this time (ms): the next pass
    /// rebalances even with no capacity change.
    #[serde(default)]
    pub rebalance_requested_ms: u64,
}

/// Summary of a completed repair pass.
#[derive(Clone, Debug, Serialize, Deserialize, Default, PartialEq)]
pub struct RepairPass {
    pub started: u64,
    pub finished: u64,
    pub scanned: u64,
    pub repaired_objects: u64,
    pub repaired_shards: u64,
    pub bytes_rebuilt: u64,
    pub skipped_count: u64,
    /// The OSD the pass was limited to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osd: Option<String>,
}

impl Versioned for AccessKeyRecord {
    fn schema_version(&self) -> u32 {
        self.version
    }
    fn max_version() -> u32 {
        ACCESS_KEY_VERSION
    }
}

impl Versioned for ClusterConfig {
    fn schema_version(&self) -> u32 {
        self.version
    }
    fn map_view(&self) -> Option<String> {
        Some(format!(
            "{}+{}/{} {}",
            self.ec.k, self.ec.m, self.ec.chunk_size, self.replicate_max
        ))
    }
}

impl Versioned for OsdRecord {
    fn schema_version(&self) -> u32 {
        self.version
    }
    fn map_view(&self) -> Option<String> {
        Some(format!(
            "{} {} {:?} {:?} {:?} {:?}",
            self.address, self.failure_domain, self.state, self.weight, self.disks, self.disk_paths
        ))
    }
}

/// The next disk index to give ([`DiskRecord::index`]); starts at 1.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DiskIndexNext {
    #[serde(default = "schema")]
    pub version: u32,
    pub next: u32,
}

impl Versioned for DiskRecord {
    fn schema_version(&self) -> u32 {
        self.version
    }
    fn map_view(&self) -> Option<String> {
        Some(format!(
            "{} {} {} {} {:?}",
            self.osd, self.path, self.capacity_bytes, self.weight, self.state
        ))
    }
}

versioned!(
    TokenRecord,
    RepairHint,
    MemberRecord,
    RepairControl,
    DamagedShard,
    ScrubRequest,
    RepairJob,
    BucketRecord,
    UserRecord,
    IntentRecord,
    DiskIndexNext,
    GcRecord,
    UploadRecord,
    PartRecord
);
