//! Request and response types of the admin API (`/api/v1`), shared by
//! `objectio-meta` (which serves them and derives the OpenAPI spec from
//! them) and `objectio-cli` (which calls them). Pure data: no I/O.

pub mod export;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Overall state, as the operations guide draws it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ClusterState {
    /// All components operational.
    Healthy,
    /// Some redundancy lost, every object readable.
    Degraded,
    /// Some objects have fewer than `k` shards reachable.
    Critical,
}

impl std::fmt::Display for ClusterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClusterState::Healthy => "HEALTHY",
            ClusterState::Degraded => "DEGRADED",
            ClusterState::Critical => "CRITICAL",
        })
    }
}

/// `healthy` of `total` members.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Members {
    pub healthy: u32,
    /// Those that have joined (and not been forgotten), alive or not.
    pub total: u32,
    /// Joined but not alive now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// Metadata service members and the elected leader.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MetaMembers {
    pub healthy: u32,
    /// Those that have joined (and not been forgotten), alive or not.
    pub total: u32,
    pub leader: Option<String>,
    /// Joined but not alive now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// OSDs and which are down.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OsdSummary {
    pub up: u32,
    pub total: u32,
    pub down: Vec<String>,
}

/// Object counts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ObjectSummary {
    pub total: u64,
    /// Objects missing at least one shard but still readable.
    pub degraded: u64,
    /// Objects with fewer than `k` shards reachable.
    pub at_risk: u64,
    /// Down OSDs holding shards of at-risk objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at_risk_osds: Vec<String>,
    /// When the degraded and at-risk counts were taken (RFC 3339), by the
    /// repair controller's last whole pass (one starts whenever the map
    /// changes). Absent before the first pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_at: Option<String>,
}

/// Raw capacity of every disk.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Capacity {
    pub used_bytes: u64,
    pub total_bytes: u64,
}

/// The erasure-coding profile of new objects.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EcProfileOut {
    pub k: u8,
    pub m: u8,
    pub chunk_size: u32,
}

/// `GET /api/v1/cluster/status`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"name": "prod", "cluster_id": "6f1c2a9e-8d4b-4c1e-9a57-1e2f3a4b5c6d", "state": "HEALTHY", "gateways": {"healthy": 2, "total": 2, "missing": []}, "meta": {"healthy": 3, "total": 3, "missing": [], "leader": "meta1"}, "osds": {"up": 6, "total": 6, "down": []}, "objects": {"total": 1204, "degraded": 0, "at_risk": 0, "at_risk_osds": [], "counted_at": "2026-12-03T09:30:00Z"}, "capacity": {"used_bytes": 2473901162496u64, "total_bytes": 23044535893016u64}, "ec": {"k": 4, "m": 2, "chunk_size": 1048576}}))]
pub struct ClusterStatusOut {
    pub name: String,
    pub cluster_id: String,
    pub state: ClusterState,
    pub gateways: Members,
    pub meta: MetaMembers,
    pub osds: OsdSummary,
    pub objects: ObjectSummary,
    pub capacity: Capacity,
    pub ec: EcProfileOut,
    /// The repair controller, while a pass runs over degraded objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair: Option<RepairProgress>,
}

/// A repair pass under way, as the status panel shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RepairProgress {
    /// Objects the pass has looked at, of `objects`.
    pub scanned: u64,
    pub objects: u64,
    /// Seconds left at the pass's pace so far (absent until it can tell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_secs: Option<u64>,
}

/// Whether an OSD holds a live lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OsdState {
    Up,
    Down,
}

/// A disk of an OSD.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DiskOut {
    pub id: String,
    pub path: String,
    /// Bytes of the disk's data region.
    pub capacity_bytes: u64,
    /// Bytes held by shards (and writes in progress).
    pub used_bytes: u64,
    pub free_bytes: u64,
    pub shards: u64,
    /// I/O backend (`uring`, `sync`).
    pub backend: String,
    /// `in` (takes new shards) or `out`.
    pub state: String,
    /// When the last scrub pass of the disk finished (RFC 3339), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scrub: Option<String>,
    /// Damaged shards the last scrub pass found.
    pub scrub_errors: u64,
}

/// An OSD.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OsdOut {
    pub id: String,
    pub address: String,
    pub failure_domain: String,
    pub state: OsdState,
    /// `new` (added, its daemon not registered yet), `active` or
    /// `draining`.
    pub service: String,
    /// The placement weight an operator set (default: capacity in GiB).
    pub weight: Option<f64>,
    pub disks: Vec<DiskOut>,
}

/// `POST /api/v1/osds`: an OSD to expect (`address` required), or disks to
/// add to an OSD that exists (`id` and `disks`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Default)]
#[schema(example = json!({"address": "osd8:9200", "failure_domain": "rack3", "disks": ["/dev/nvme1n1"], "weight": 3.5}))]
#[serde(deny_unknown_fields)]
pub struct OsdAddIn {
    /// The id (default: the next free `osdN`).
    #[serde(default)]
    pub id: Option<String>,
    /// `HOST:PORT` its daemon will register with.
    #[serde(default)]
    pub address: Option<String>,
    /// Device or file paths the daemon opens besides its `--disk` flags.
    #[serde(default)]
    pub disks: Vec<String>,
    /// Failure domain (default: the daemon's host name).
    #[serde(default)]
    pub failure_domain: Option<String>,
    /// Placement weight (default: capacity in GiB).
    #[serde(default)]
    pub weight: Option<f64>,
}

/// What `POST /api/v1/osds` recorded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"osd": "osd8", "service": "new", "address": "osd8:9200", "failure_domain": "rack3", "weight": 3.5, "disk_paths": ["/dev/nvme1n1"], "created": true, "message": "start objectio-osd --id osd8 on osd8; it takes shards once it registers"}))]
pub struct OsdAddOut {
    pub osd: String,
    /// `new` until the daemon registers, else the OSD's state.
    pub service: String,
    pub address: String,
    pub failure_domain: Option<String>,
    pub weight: Option<f64>,
    /// Disks the daemon opens besides its own flags.
    pub disk_paths: Vec<String>,
    /// A new OSD was recorded (else disks were added to one).
    pub created: bool,
    /// What to do next, in words.
    pub message: String,
}

/// `POST /api/v1/osds/{id}/weight`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"weight": 2.0}))]
#[serde(deny_unknown_fields)]
pub struct OsdWeightIn {
    /// The OSD's placement weight (shared by its disks by capacity).
    pub weight: f64,
}

/// `GET /api/v1/osds/{id}/drain` (and what `drain`/`undrain` answer): how
/// far the OSD's drain is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"osd": "osd7", "service": "draining", "up": true, "drained": false, "pass_running": true, "planning": false, "started": "2026-12-03T09:30:00Z", "moved_objects": 310, "moved_bytes": 325058560, "rate_bytes_per_sec": 52428800, "objects_left": 894, "shards_left": 894, "bytes_left": 937426944, "eta_secs": 18, "blocked": [], "blocked_passes": 0}))]
pub struct DrainOut {
    pub osd: String,
    /// `draining`, `active` (undrained), `new`.
    pub service: String,
    /// Its daemon holds a live lease.
    pub up: bool,
    /// Nothing references the OSD any more (no object, part or write in
    /// progress), as a whole pass that began while it drained found.
    pub drained: bool,
    /// A pass is working on it now.
    pub pass_running: bool,
    /// The pass is still counting what it will move.
    pub planning: bool,
    /// Objects and bytes left to move (once the pass has counted them).
    pub objects_left: Option<u64>,
    pub bytes_left: Option<u64>,
    /// Moved by this pass.
    pub moved_objects: u64,
    pub moved_bytes: u64,
    pub rate_bytes_per_sec: u64,
    pub eta_secs: Option<u64>,
    /// Shards that still referenced it after the last pass that began
    /// while it drained.
    pub shards_left: Option<u64>,
    /// When the drain began and when it was found drained (RFC 3339).
    pub started: Option<String>,
    pub drained_at: Option<String>,
    /// Why some shards could not move in this pass.
    pub blocked: Vec<String>,
    /// Passes in a row that ended with shards that could not move.
    pub blocked_passes: u32,
}

/// `DELETE /api/v1/osds/{id}`: what removing the OSD did or would do.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"osd": "osd7", "removed": true, "shards_referencing": 0, "objects_losing_redundancy": 0, "examples": [], "repair_started": false}))]
pub struct OsdRemoveOut {
    pub osd: String,
    pub removed: bool,
    /// Shards that referenced the OSD (objects, parts, writes in progress).
    pub shards_referencing: u64,
    /// Objects and parts that lose redundancy (their shards there).
    pub objects_losing_redundancy: u64,
    /// Some of them, as `bucket/key`.
    pub examples: Vec<String>,
    /// A repair pass was asked for, to rebuild what it held.
    pub repair_started: bool,
}

/// `GET /api/v1/cluster/rebalance`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"state": "running", "pass_started": "2026-12-03T09:30:00Z", "moved_objects": 120, "moved_bytes": 125829120, "rate_bytes_per_sec": 41943040, "objects_left": 52, "bytes_left": 54525952, "eta_secs": 2, "total_moved_shards": 1744, "total_moved_bytes": 1828716544, "last_finished": "2026-12-02T21:04:11Z"}))]
pub struct RebalanceOut {
    /// `idle`, `pending` (capacity changed; a pass starts shortly),
    /// `planning`, `moving`, `paused` (rebalance stopped) or `waiting` (an
    /// OSD in service is down: no rebalance until it is back).
    pub state: String,
    pub moved_objects: u64,
    pub moved_bytes: u64,
    pub objects_left: Option<u64>,
    pub bytes_left: Option<u64>,
    pub rate_bytes_per_sec: u64,
    pub eta_secs: Option<u64>,
    /// The pass under way began (RFC 3339).
    pub pass_started: Option<String>,
    /// The last rebalancing pass ended (RFC 3339).
    pub last_finished: Option<String>,
    /// Since the job began: shards moved (drains and rebalances) and bytes.
    pub total_moved_shards: u64,
    pub total_moved_bytes: u64,
}

/// `GET /api/v1/osds`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"osds": [{"id": "osd1", "address": "osd1:9200", "failure_domain": "rack1", "state": "up", "service": "active", "weight": 3.5, "disks": [{"id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "path": "/dev/nvme1n1", "capacity_bytes": 3840755982336u64, "used_bytes": 412316860416u64, "free_bytes": 3428439121920u64, "shards": 182734, "backend": "uring", "state": "in", "scrub_errors": 0, "last_scrub": "2026-12-03T09:30:00Z"}]}]}))]
pub struct ListOsdsOut {
    pub osds: Vec<OsdOut>,
}

/// An erasure-coding profile of the map and the objects it is used for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"k": 1, "m": 2, "chunk_size": 1048576, "max_size": 4096, "applies_to": "objects of at most 4.0 KiB (whole copies)"}))]
pub struct MapProfileOut {
    /// Data shards (1: whole copies).
    pub k: u8,
    /// Parity shards (copies beyond the first when `k` is 1).
    pub m: u8,
    /// Bytes of an object per shard and stripe.
    pub chunk_size: u32,
    /// The largest object written with it (absent: no upper bound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// Which objects are written with it, in words.
    pub applies_to: String,
}

/// A disk in the cluster map.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MapDiskOut {
    pub id: String,
    pub path: String,
    /// `in` (takes new shards) or `out`.
    pub state: String,
    pub capacity_bytes: u64,
    /// The disk's placement weight: its share of its OSD's weight, or its
    /// capacity in GiB; 0 when it takes no new shards (out, or its OSD not
    /// active).
    pub weight: f64,
}

/// An OSD in the cluster map.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MapOsdOut {
    pub id: String,
    pub address: String,
    pub failure_domain: String,
    /// `up` while its daemon holds a live lease.
    pub state: OsdState,
    /// `new`, `active` or `draining`.
    pub service: String,
    /// The sum of its disks' placement weights.
    pub weight: f64,
    pub disks: Vec<MapDiskOut>,
}

/// A failure domain: placement puts at most its share of an object's
/// shards in one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FailureDomainOut {
    pub name: String,
    pub osds: Vec<String>,
    /// The sum of its OSDs' placement weights.
    pub weight: f64,
}

/// `GET /api/v1/cluster/map`: what placement works from, read at one etcd
/// revision.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"epoch": 42, "revision": 918273, "name": "prod", "cluster_id": "6f1c2a9e-8d4b-4c1e-9a57-1e2f3a4b5c6d", "profiles": [{"k": 4, "m": 2, "chunk_size": 1048576, "applies_to": "objects above 4 KiB"}, {"k": 1, "m": 2, "chunk_size": 4096, "max_size": 4096, "applies_to": "objects of at most 4 KiB (copies)"}], "failure_domains": [{"name": "rack1", "osds": ["osd1", "osd2"], "weight": 7.0}], "osds": [{"id": "osd1", "address": "osd1:9200", "failure_domain": "rack1", "state": "up", "service": "active", "weight": 3.5, "disks": [{"id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "path": "/dev/nvme1n1", "state": "in", "capacity_bytes": 3840755982336u64, "weight": 3.5}]}]}))]
pub struct ClusterMapOut {
    /// Counts the changes to the map (an OSD or disk added, removed, in,
    /// out, drained, reweighted, moved; the profiles): it only grows.
    pub epoch: u64,
    /// The etcd revision the map was read at.
    pub revision: i64,
    pub name: String,
    pub cluster_id: String,
    pub profiles: Vec<MapProfileOut>,
    pub failure_domains: Vec<FailureDomainOut>,
    pub osds: Vec<MapOsdOut>,
}

/// An etcd member as `meta status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EtcdMemberOut {
    /// The member id, in hex as `etcdctl` prints it.
    pub id: String,
    pub name: String,
    pub endpoint: String,
    /// It answered and knows a leader.
    pub healthy: bool,
    pub leader: bool,
    pub version: Option<String>,
    pub raft_term: Option<u64>,
    /// The last Raft entry it holds, and the last it applied: after losing
    /// a quorum, bootstrap from the member with the highest applied index.
    pub raft_index: Option<u64>,
    pub raft_applied_index: Option<u64>,
    pub db_size_bytes: Option<u64>,
    pub db_size_in_use_bytes: Option<u64>,
    /// Raised alarms (`NOSPACE`, `CORRUPT`).
    pub alarms: Vec<String>,
    /// Why it did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The size of the object index and the queues beside it in etcd.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IndexSizeOut {
    /// Object version records (current and noncurrent, delete markers).
    pub records: u64,
    pub buckets: u64,
    /// Multipart uploads in progress.
    pub uploads: u64,
    /// Writes in progress (or orphaned, for GC to reclaim).
    pub intents: u64,
    /// Versions whose shards GC has yet to delete.
    pub gc_queue: u64,
    /// The leader member's database file and the bytes of it in use.
    pub db_size_bytes: Option<u64>,
    pub db_size_in_use_bytes: Option<u64>,
}

/// An `objectio-meta` replica.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MetaReplicaOut {
    pub id: String,
    pub address: String,
    /// Its software version when it last started.
    pub version: String,
    /// Last started (RFC 3339).
    pub started: String,
    pub alive: bool,
    /// It leads the controllers (repair, GC, rebalance, lifecycle, ...).
    pub leader: bool,
}

/// `GET /api/v1/meta/status`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"etcd": [{"id": "8e9e05c52164694d", "name": "etcd1", "endpoint": "http://etcd1:2379", "healthy": true, "leader": true, "raft_term": 7, "raft_index": 918301, "raft_applied_index": 918301, "db_size_bytes": 52428800, "db_size_in_use_bytes": 31457280, "version": "3.4.23", "alarms": []}], "index": {"records": 1204, "buckets": 3, "uploads": 0, "intents": 1, "gc_queue": 12, "db_size_bytes": 52428800, "db_size_in_use_bytes": 31457280}, "replicas": [{"id": "meta1", "address": "meta1:9100", "version": "0.1.0", "started": "2026-12-03T09:30:00Z", "alive": true, "leader": true}, {"id": "meta2", "address": "meta2:9100", "version": "0.1.0", "started": "2026-12-03T09:30:00Z", "alive": true, "leader": false}], "leader": "meta1"}))]
pub struct MetaStatusOut {
    pub etcd: Vec<EtcdMemberOut>,
    /// Why the cluster's keys could not be read (etcd without a quorum):
    /// then only the members that answer are shown, with no index and no
    /// replicas, so the member to recover from can still be found.
    pub store_error: Option<String>,
    /// The index size (none when the store cannot be read).
    pub index: Option<IndexSizeOut>,
    pub replicas: Vec<MetaReplicaOut>,
    /// The replica that leads the controllers, if one does.
    pub leader: Option<String>,
}

/// Parses a duration such as `90`, `90s`, `30m`, `2h` or `7d`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let bad = || format!("{s:?} is not a duration (e.g. 90s, 30m, 2h, 1d)");
    let (n, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = n.parse().map_err(|_| bad())?;
    let mult = match unit.trim() {
        "s" | "sec" | "secs" => 1,
        "m" | "min" | "mins" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(mult)
        .map(std::time::Duration::from_secs)
        .ok_or_else(bad)
}

/// `POST /api/v1/meta/snapshot`: the etcd snapshot saved.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"path": "/var/lib/objectio/meta/snapshots/etcd-objectio-20261202T221055.123Z.db",
    "bytes": 2400256, "member": "etcd1", "taken": "2026-12-02T22:10:55Z", "removed": []}))]
pub struct SnapshotOut {
    /// The file, on the host of the meta replica that took it.
    pub path: String,
    pub bytes: u64,
    /// The etcd member it was taken from (the leader when there is one).
    pub member: String,
    /// RFC 3339.
    pub taken: String,
    /// Older snapshots removed to keep the retention count.
    pub removed: Vec<String>,
}

/// A size in IEC units, as the flags take them (`2 GiB` is `2.0 GiB`).
pub fn iec(b: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// A time as RFC 3339 (UTC), as the admin API writes every date.
pub fn rfc3339(secs: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A bucket.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BucketOut {
    pub name: String,
    /// The user that owns the bucket.
    pub owner: String,
    /// When the bucket was created (RFC 3339).
    pub created: String,
    pub objects: u64,
}

/// `GET /api/v1/buckets`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"buckets": [{"name": "photos", "owner": "alice", "created": "2026-12-03T09:30:00Z", "objects": 1204}]}))]
pub struct ListBucketsOut {
    pub buckets: Vec<BucketOut>,
}

/// `POST /api/v1/buckets`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "backups", "owner": "alice"}))]
pub struct BucketIn {
    /// S3 bucket naming rules: 3 to 63 lowercase letters, digits, `.` and
    /// `-`, starting and ending with a letter or digit.
    pub name: String,
    /// The user that owns it (it must exist).
    pub owner: String,
    /// S3 object lock, for good (versioning is enabled with it).
    #[serde(default)]
    pub object_lock: bool,
}

/// `GET /api/v1/buckets/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"name": "backups", "owner": "alice", "created": "2026-12-02T10:00:00Z",
    "objects": 3, "versions": 4, "delete_markers": 1, "bytes": 10485760, "uploads": 0,
    "versioning": "enabled", "object_lock": false, "policy": true, "lifecycle_rules": 0, "cors": false,
    "tags": {}}))]
pub struct BucketInfoOut {
    pub name: String,
    pub owner: String,
    /// When the bucket was created (RFC 3339).
    pub created: String,
    /// Current versions that are not delete markers.
    pub objects: u64,
    /// Every version kept (current and noncurrent), delete markers apart.
    pub versions: u64,
    pub delete_markers: u64,
    /// Bytes of every version kept.
    pub bytes: u64,
    /// Multipart uploads in progress.
    pub uploads: u64,
    /// `off` (never enabled), `enabled` or `suspended`.
    pub versioning: String,
    pub object_lock: bool,
    /// A bucket policy is set.
    pub policy: bool,
    pub lifecycle_rules: u32,
    /// CORS rules are set.
    pub cors: bool,
    pub tags: std::collections::BTreeMap<String, String>,
}

/// `DELETE /api/v1/buckets/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, utoipa::IntoParams, Default)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BucketDeleteQuery {
    /// Delete every object version, delete marker and upload in progress
    /// first (refused by object lock); without it a bucket that holds
    /// anything is refused.
    #[serde(default)]
    pub force: bool,
}

/// What `DELETE /api/v1/buckets/{name}` did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"name": "backups", "versions_deleted": 12}))]
pub struct BucketDeletedOut {
    pub name: String,
    /// Object versions and delete markers deleted with it (`force`).
    pub versions_deleted: u64,
}

/// `POST /api/v1/users`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"name": "alice"}))]
#[serde(deny_unknown_fields)]
pub struct UserIn {
    /// 1 to 64 characters: lowercase letters, digits, `.`, `_`, `-`,
    /// starting with a letter or digit.
    pub name: String,
}

/// A user: owns access keys and buckets.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"name": "alice", "arn": "arn:objectio:iam:::user/alice", "created": "2026-12-03T09:30:00Z", "migrated": false, "keys": ["OIO7Q2M4K9X1ZB3C8D5E"], "buckets": ["photos"]}))]
pub struct UserOut {
    pub name: String,
    /// The ARN bucket policies name the user by.
    pub arn: String,
    /// When the user was created (RFC 3339).
    pub created: String,
    /// Made by the migration of an access key created before users existed.
    pub migrated: bool,
    /// Access key ids of the user.
    pub keys: Vec<String>,
    /// Buckets the user owns.
    pub buckets: Vec<String>,
}

/// `GET /api/v1/users`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"users": [{"name": "alice", "arn": "arn:objectio:iam:::user/alice", "created": "2026-12-03T09:30:00Z", "migrated": false, "keys": ["OIO7Q2M4K9X1ZB3C8D5E"], "buckets": ["photos"]}]}))]
pub struct ListUsersOut {
    pub users: Vec<UserOut>,
}

/// `DELETE /api/v1/users/{name}` query.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeleteUserQuery {
    /// Also delete the user's access keys (without it, a user with keys is
    /// not deleted).
    #[serde(default)]
    pub purge_keys: bool,
}

/// `POST /api/v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"user": "alice", "name": "backup-job"}))]
#[serde(deny_unknown_fields)]
pub struct AccessKeyIn {
    /// The user the key acts as (must exist).
    pub user: String,
    /// A label for the key (who or what uses it); defaults to the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An S3 access key. The secret is only returned when the key is created.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"access_key_id": "OIO7Q2M4K9X1ZB3C8D5E", "user": "alice", "name": "backup-job", "created": "2026-12-03T09:30:00Z", "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}))]
pub struct AccessKeyOut {
    pub access_key_id: String,
    /// The user the key acts as.
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
    pub name: String,
    /// When the key was created (RFC 3339).
    pub created: String,
}

/// `GET /api/v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"keys": [{"access_key_id": "OIO7Q2M4K9X1ZB3C8D5E", "user": "alice", "name": "backup-job", "created": "2026-12-03T09:30:00Z"}]}))]
pub struct ListAccessKeysOut {
    pub keys: Vec<AccessKeyOut>,
}

/// `GET /api/v1/keys` query.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListAccessKeysQuery {
    /// Only the keys of this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// What a delete removed (`key delete`, `user delete`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"kind": "user", "id": "alice", "keys_deleted": ["OIO7Q2M4K9X1ZB3C8D5E"], "gateways_confirmed": 2, "unconfirmed": []}))]
pub struct DeletedOut {
    /// `user` or `key`.
    pub kind: String,
    pub id: String,
    /// Access keys deleted with it.
    pub keys_deleted: Vec<String>,
    /// Gateways that confirmed they refuse the deleted keys before this
    /// answer; `unconfirmed` lists any that did not answer in time (they
    /// stop trusting their copy within seconds by themselves).
    pub gateways_confirmed: u32,
    pub unconfirmed: Vec<String>,
}

/// A gateway or meta that has joined the cluster.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"kind": "gateway", "id": "gw2", "address": "gw2:9000", "software": "0.1.0", "joined": "2026-12-03T09:30:00Z", "started": "2026-12-03T09:30:00Z", "alive": false}))]
pub struct MemberOut {
    /// `gateway` or `meta`.
    pub kind: String,
    pub id: String,
    pub address: String,
    /// Its software version when it last started.
    pub software: String,
    /// Joined first, and last started (RFC 3339).
    pub joined: String,
    pub started: String,
    pub alive: bool,
}

/// `GET /health`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct HealthOut {
    pub status: String,
}

/// Every error of the admin API.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorOut {
    /// Machine-readable code, e.g. `unauthorized`, `not_found`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

/// An object repair could not make whole.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SkippedObjectOut {
    pub bucket: String,
    pub key: String,
    pub reason: String,
}

/// A completed repair pass.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RepairPassOut {
    /// RFC 3339.
    pub started: String,
    /// RFC 3339.
    pub finished: String,
    pub scanned: u64,
    pub repaired_objects: u64,
    pub repaired_shards: u64,
    pub bytes_rebuilt: u64,
    pub skipped_count: u64,
    /// The OSD the pass was limited to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osd: Option<String>,
}

/// `GET /api/v1/repair`: the repair controller's job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"running": true, "stopped": false, "osd": null, "pass_started": "2026-12-03T09:30:00Z", "passes": 12, "objects": 1204, "scanned": 600, "repaired_objects": 14, "repaired_shards": 14, "bytes_rebuilt": 14680064, "rate_bytes_per_sec": 20971520, "eta_secs": 9, "skipped_count": 0, "skipped": [], "total_repaired_objects": 220, "total_repaired_shards": 231, "total_bytes_rebuilt": 242221056, "last": {"started": "2026-12-03T09:00:00Z", "finished": "2026-12-03T09:01:40Z", "osd": null, "scanned": 1204, "repaired_objects": 0, "repaired_shards": 0, "bytes_rebuilt": 0, "skipped_count": 0}}))]
pub struct RepairStatusOut {
    /// A pass over the object index is under way.
    pub running: bool,
    /// Passes completed.
    pub passes: u64,
    /// When the current pass started (RFC 3339), if one runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_started: Option<String>,
    /// Counters of the current pass.
    pub scanned: u64,
    pub repaired_objects: u64,
    pub repaired_shards: u64,
    pub bytes_rebuilt: u64,
    pub skipped_count: u64,
    /// Objects the current pass could not repair (the first 100).
    pub skipped: Vec<SkippedObjectOut>,
    /// The last completed pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<RepairPassOut>,
    /// Since the job began: objects and shards repaired, bytes rebuilt.
    pub total_repaired_objects: u64,
    pub total_repaired_shards: u64,
    pub total_bytes_rebuilt: u64,
    /// Paused by an operator (`repair start` resumes).
    pub stopped: bool,
    /// The pass under way covers only objects with a shard on this OSD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osd: Option<String>,
    /// Objects in the index now (what a pass walks).
    #[serde(default)]
    pub objects: u64,
    /// Bytes the pass under way rebuilds per second, on average so far.
    #[serde(default)]
    pub rate_bytes_per_sec: u64,
    /// Seconds the pass under way has left at its pace so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_secs: Option<u64>,
}

/// `POST /api/v1/repair/start`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"osd": "osd3"}))]
#[serde(deny_unknown_fields)]
pub struct RepairStartIn {
    /// Only objects with a shard on this OSD (default: every object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osd: Option<String>,
}

/// `GET /api/v1/osds/{id}/ok-to-stop`: whether stopping the OSD now keeps
/// every object readable with one more failure to spare.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"osd": "osd3", "ok_to_stop": true, "objects": 1204, "objects_short": 0, "examples": [], "reason": "every object keeps at least k+1 shards on other OSDs"}))]
pub struct OkToStopOut {
    pub osd: String,
    pub ok_to_stop: bool,
    /// Objects checked (every object in the index).
    pub objects: u64,
    /// Objects that would keep fewer than k+1 reachable shards.
    pub objects_short: u64,
    /// Some of them (the first 10), as `bucket/key`.
    pub examples: Vec<String>,
    /// Why, in words.
    pub reason: String,
}

/// `POST /api/v1/osds/{id}/out` and `/in`: what changed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"osd": "osd3", "state": "out", "disks_changed": ["1b4e28ba-2fa1-11d2-883f-0016d3cca427"]}))]
pub struct OsdStateChangeOut {
    pub osd: String,
    /// `in` or `out`.
    pub state: String,
    /// Disks whose state changed.
    pub disks_changed: Vec<String>,
}

/// `GET /api/v1/objects/health` query.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ObjectHealthQuery {
    pub bucket: String,
    pub key: String,
    /// The version (its id as `object health` shows it); refused unless it
    /// is the current one.
    #[serde(default)]
    pub version_id: Option<String>,
}

/// `POST /api/v1/objects/repair` body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"bucket": "photos", "key": "2026/12/cat.jpg", "force": false}))]
#[serde(deny_unknown_fields)]
pub struct ObjectRepairIn {
    pub bucket: String,
    pub key: String,
    /// The version; refused unless it is the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Also search every disk of every OSD that is up for copies of the
    /// object's shards, and read every chunk now.
    #[serde(default)]
    pub force: bool,
}

/// A stripe with fewer than `k` good chunks anywhere.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LostStripeOut {
    pub part: u32,
    pub stripe: u64,
}

/// What repairing one object came to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"bucket": "photos", "key": "cat.jpg", "outcome": "repaired", "shards_rebuilt": 1, "bytes_rebuilt": 13078, "found_elsewhere": 0, "lost_stripes": []}))]
pub struct ObjectRepairOut {
    pub bucket: String,
    pub key: String,
    /// `healthy` (nothing to do), `repaired`, `raced` (the object changed
    /// meanwhile; the change wins), `skipped` (cannot be repaired now:
    /// `reason`), `lost` (some stripes cannot be recovered: `lost_stripes`;
    /// nothing was written).
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub shards_rebuilt: u64,
    pub bytes_rebuilt: u64,
    /// Shards used from disks the record did not name for them.
    pub found_elsewhere: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost_stripes: Vec<LostStripeOut>,
}

/// One disk's raw scan, as `objectio-cli disk scan --output` writes it
/// (fields it does not need are ignored).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DiskScanIn {
    #[serde(default)]
    pub disk_id: Option<String>,
    #[serde(default)]
    pub osd_id: Option<String>,
    #[serde(default)]
    pub cluster_id: Option<String>,
    pub shards: Vec<ScannedShardIn>,
}

/// One shard header a raw scan found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScannedShardIn {
    pub cluster_id: String,
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    pub part: u32,
    pub k: u8,
    pub m: u8,
    pub chunk_size: u32,
    pub shard_index: u8,
    pub object_size: u64,
    pub etag: String,
    pub created_ms: u64,
    /// `ok` or `corrupt`.
    pub checksum: String,
    #[serde(default)]
    pub meta: Option<ScannedMetaIn>,
}

/// A single-part object's metadata as its shards carry it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ScannedMetaIn {
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub user_metadata: std::collections::BTreeMap<String, String>,
}

/// `POST /api/v1/meta/rebuild` body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"dry_run": true, "force": false, "owner": "alice", "scans": [{"disk_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "osd_id": "osd1", "cluster_id": "6f1c2a9e-8d4b-4c1e-9a57-1e2f3a4b5c6d",
    "shards": [{"cluster_id": "6f1c2a9e-8d4b-4c1e-9a57-1e2f3a4b5c6d", "bucket": "photos", "key": "cat.jpg", "version_id": "0193a7c2-5d1e-7c3a-9f00-2b1d4e5f6a7b",
        "part": 0, "k": 4, "m": 2, "chunk_size": 1048576, "shard_index": 0, "object_size": 52311, "etag": "\"9b2cf535f27731c974343645a3985328\"",
        "created_ms": 1764756000000u64, "checksum": "ok", "meta": {"content_type": "image/jpeg", "user_metadata": {}}}]}]}))]
#[serde(deny_unknown_fields)]
pub struct RebuildIn {
    /// The scans of every disk.
    pub scans: Vec<DiskScanIn>,
    /// Say what would be created; write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Rebuild into an index that is not empty (records already there
    /// are kept as they are).
    #[serde(default)]
    pub force: bool,
    /// The user who owns the buckets the rebuild creates (needed when it
    /// creates any).
    #[serde(default)]
    pub owner: Option<String>,
}

/// A version the rebuild left out, and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RebuildSkipOut {
    pub bucket: String,
    pub key: String,
    pub reason: String,
}

/// What a rebuild created (or, on a dry run, would create).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"dry_run": true, "disks": 6, "shards": 7224, "shards_ignored": 0, "buckets_created": ["photos"], "objects_created": 1204, "multipart_objects": 3, "bytes": 2473901162u64, "objects_existing": 0, "older_versions": 0, "skipped_count": 1, "skipped": [{"bucket": "photos", "key": "half.jpg", "reason": "3 whole shards agree, 4 needed"}]}))]
pub struct RebuildOut {
    pub dry_run: bool,
    /// Disks and shard headers read from the scans.
    pub disks: u64,
    pub shards: u64,
    /// Shards left out: another cluster's, on a disk not in the map, or no
    /// longer in their disk's index (deleted).
    pub shards_ignored: u64,
    pub buckets_created: Vec<String>,
    pub objects_created: u64,
    /// Of those, multipart objects (from their manifests).
    pub multipart_objects: u64,
    pub bytes: u64,
    /// Keys already in the index, left as they were (with `force`).
    pub objects_existing: u64,
    /// Older versions of keys that have a newer one.
    pub older_versions: u64,
    /// Versions with fewer than `k` agreeing shards, and multipart parts no
    /// completed object names (uploads in progress); the first 100.
    pub skipped_count: u64,
    pub skipped: Vec<RebuildSkipOut>,
}

/// One shard, read now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShardHealthOut {
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<String>,
    /// `ok`, `corrupt` (chunks failed their checksum), `unreadable`,
    /// `unreachable` (its OSD is down), `lost` (never written, or its disk
    /// is out, gone or replaced).
    pub verdict: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Chunks that read back whole, of `chunks`.
    pub chunks_ok: u64,
    pub chunks: u64,
}

/// The whole object, or one part.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SegmentHealthOut {
    /// 0 for a single-part object.
    pub part: u32,
    /// The multipart object's manifest (not part of its body).
    #[serde(default)]
    pub manifest: bool,
    pub size: u64,
    pub shards: Vec<ShardHealthOut>,
    /// Stripes with fewer than k chunks readable now.
    pub unreadable_stripes: Vec<u64>,
    /// Stripes without k chunks anywhere, even with every down OSD back.
    pub lost_stripes: Vec<u64>,
}

/// `GET /api/v1/objects/health`: every shard of an object, read now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"bucket": "photos", "key": "cat.jpg", "version_id": "0193a7c2-5d1e-7c3a-9f00-2b1d4e5f6a7b", "size": 52311, "etag": "\"9b2cf535f27731c974343645a3985328\"", "k": 4, "m": 2, "verdict": "degraded", "redundancy_left": 1, "segments": [{"part": 0, "size": 52311, "manifest": false, "unreadable_stripes": [], "lost_stripes": [], "shards": [{"index": 0, "osd": "osd1", "disk": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "verdict": "ok", "chunks_ok": 1, "chunks": 1}, {"index": 1, "osd": "osd2", "disk": "5c3e9a10-7b2d-4f61-a0e8-93d1c4b2f7aa", "verdict": "missing", "chunks_ok": 0, "chunks": 1, "detail": "osd2 is down"}]}]}))]
pub struct ObjectHealthOut {
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    pub size: u64,
    pub etag: String,
    pub k: u8,
    pub m: u8,
    /// `healthy`, `degraded` (readable, short of full redundancy),
    /// `at_risk` (unreadable until down OSDs return), `lost`.
    pub verdict: String,
    /// How many more shards the weakest stripe can lose (negative when
    /// unreadable).
    pub redundancy_left: i64,
    pub segments: Vec<SegmentHealthOut>,
}

/// `POST /api/v1/osds/{id}/scrub`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"osd": "osd3", "requested": "2026-12-03T09:30:00Z"}))]
pub struct ScrubRequestOut {
    pub osd: String,
    /// When the pass was asked for (RFC 3339); the OSD starts it within a
    /// second, and `osd list` shows when it finished.
    pub requested: String,
}

/// `POST /api/v1/meta/import`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, utoipa::IntoParams, Default)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Import into a cluster that already has users, buckets or objects:
    /// the export's records overwrite the same keys, the others stay.
    #[serde(default)]
    pub force: bool,
}

/// The document `GET /api/v1/meta/export` streams (the format of
/// `objectio_api::export`): its header fields, every record, the count and
/// the SHA-256 of every line before the last.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"format": "objectio-meta-export", "version": 1, "cluster": "prod",
    "cluster_id": "6f1c2a9e-8d4b-4c1e-9a57-1e2f3a4b5c6d", "revision": 48211,
    "exported_at": "2026-12-03T08:00:00Z", "software": "0.1.0",
    "records": [{"k": "buckets/photos", "v": {"version": 1, "name": "photos", "owner": "alice"}}],
    "count": 1, "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}))]
pub struct MetaExportOut {
    /// Always `objectio-meta-export`.
    pub format: String,
    pub version: u32,
    pub cluster: String,
    pub cluster_id: String,
    /// The etcd revision every record was read at.
    pub revision: i64,
    /// RFC 3339.
    pub exported_at: String,
    pub software: String,
    pub records: Vec<ExportRecordOut>,
    pub count: u64,
    /// Hex SHA-256 of every byte of the document before its last line.
    pub sha256: String,
}

/// One etcd record below the cluster's root: a JSON value as stored (`v`)
/// or any other bytes in base64 (`vb64`); `kb64` for a key that is not
/// UTF-8.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExportRecordOut {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kb64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub v: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vb64: Option<String>,
}

/// What `POST /api/v1/meta/import` restored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"cluster": "prod", "cluster_id": "6f1c2a9e-8d4b-4c1e-9a57-1e2f3a4b5c6d",
    "exported_at": "2026-12-03T08:00:00Z", "records": 100412, "users": 3, "access_keys": 4,
    "buckets": 2, "objects": 100000, "osds": 6, "disks": 6, "bytes": 61234567, "seconds": 9.8}))]
pub struct ImportOut {
    pub cluster: String,
    /// The cluster id the disks were formatted with (now this cluster's).
    pub cluster_id: String,
    /// When the export was taken (RFC 3339).
    pub exported_at: String,
    /// Every record written.
    pub records: u64,
    pub users: u64,
    pub access_keys: u64,
    pub buckets: u64,
    /// Object records (current and noncurrent versions, delete markers).
    pub objects: u64,
    pub osds: u64,
    pub disks: u64,
    /// Size of the export read.
    pub bytes: u64,
    pub seconds: f64,
}

/// What an admin token may do: `read` every GET but the metadata export,
/// `admin` everything.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    Read,
    Admin,
}

/// `POST /api/v1/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"scope": "read", "label": "grafana", "expires_in_secs": 7776000}))]
pub struct TokenIn {
    pub scope: TokenScope,
    /// What it is for (up to 64 characters).
    #[serde(default)]
    pub label: String,
    /// Refused this many seconds after it is made (at most ten years);
    /// none: never.
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 316224000)]
    pub expires_in_secs: Option<u64>,
}

/// An admin token, without its secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "3f9a1c0d7e21", "label": "grafana", "scope": "read",
    "created": "2026-12-03T09:00:00Z", "expires": "2027-03-03T09:00:00Z", "expired": false}))]
pub struct TokenOut {
    pub id: String,
    pub label: String,
    pub scope: TokenScope,
    /// RFC 3339.
    pub created: String,
    /// RFC 3339; none: never.
    pub expires: Option<String>,
    pub expired: bool,
}

/// A token just created: the only time its secret is shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "3f9a1c0d7e21", "label": "grafana", "scope": "read",
    "created": "2026-12-03T09:00:00Z", "expires": null,
    "token": "oio_3f9a1c0d7e21_5b0e8f1d2c3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a"}))]
pub struct TokenCreatedOut {
    pub id: String,
    pub label: String,
    pub scope: TokenScope,
    pub created: String,
    pub expires: Option<String>,
    /// The bearer token (stored only as its SHA-256; keep it now).
    pub token: String,
}

/// `GET /api/v1/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"tokens": [{"id": "3f9a1c0d7e21", "label": "grafana", "scope": "read", "created": "2026-12-03T09:30:00Z", "expires": "2027-03-03T09:30:00Z", "expired": false}]}))]
pub struct ListTokensOut {
    pub tokens: Vec<TokenOut>,
}

/// The shapes of the names and values the admin API takes, as ECMA-262
/// regular expressions (OpenAPI's dialect): the spec carries them on every
/// field and path parameter they describe, and the meta's validators are
/// tested to accept exactly what they match.
pub mod patterns {
    /// S3 bucket names (also 3 to 63 characters): lowercase letters,
    /// digits, `.` and `-`, starting and ending with a letter or digit, no
    /// `..`, not four dot-separated numbers, not starting with `xn--`.
    pub const BUCKET_NAME: &str =
        r"^(?!xn--)(?![0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$)[a-z0-9](?:\.?[a-z0-9-])*\.?[a-z0-9]$";
    /// User names: 1 to 64 lowercase letters, digits, `.`, `_` and `-`,
    /// starting with a letter or digit.
    pub const USER_NAME: &str = r"^[a-z0-9][a-z0-9._-]{0,63}$";
    /// OSD ids and failure domains: 1 to 64 letters, digits, `.`, `_` and
    /// `-`, starting with a letter or digit.
    pub const NAME: &str = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";
    /// `HOST:PORT`: a host name, an IPv4 address or a bracketed IPv6
    /// address, and a port from 1 to 65535.
    pub const ADDRESS: &str = r"^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$";
    /// A disk path on the OSD's host: absolute, no `,`.
    pub const DISK_PATH: &str = r"^/[^,]*$";
    /// A label: no control characters (also at most 64 characters).
    pub const LABEL: &str = r"^[^\u0000-\u001f\u007f-\u009f]*$";
    /// The id of an API token (`token list`).
    pub const TOKEN_ID: &str = r"^[0-9a-f]{12}$";
}

/// A whole number given as `90` or `90.0` (JSON Schema calls both
/// integers; serde's `u64` takes only the first).
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    use serde::de::Error;
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => match (n.as_u64(), n.as_f64()) {
            (Some(v), _) => Ok(Some(v)),
            (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64 => {
                Ok(Some(f as u64))
            }
            _ => Err(D::Error::custom(format!(
                "{n} is not a whole number of seconds"
            ))),
        },
    }
}
