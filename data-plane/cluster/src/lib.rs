//! Cluster-map types, placement and the etcd store.
//!
//! This crate owns:
//! - the versioned records kept in etcd under `/objectio/<cluster>/v1/`
//!   ([`records`]) and the key layout ([`keys::Keys`]);
//! - placement of an object version's shards on disks ([`placement`]):
//!   weighted rendezvous hashing with a per-failure-domain cap;
//! - the typed etcd access used by every process ([`store::Store`]),
//!   including leases kept alive in the background, and live in-memory
//!   copies of a key prefix ([`mirror::Mirror`]);
//! - access-key secrets sealed at rest ([`secrets`]).
//!
//! It must never depend on the S3 layer, the admin API or the OSD engine:
//! every process links it.

pub mod args;
pub mod compact;
pub mod keys;
pub mod mirror;
pub mod placement;
pub mod records;
pub mod secrets;
pub mod store;
pub mod tls;
pub mod util;

pub use keys::Keys;
pub use records::*;
pub use store::{EtcdSecurity, Lease, Store};

/// Errors of the cluster store and placement.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("etcd: {0}")]
    Etcd(#[from] etcd_client::Error),
    #[error("record {key} is not valid JSON: {source}")]
    Decode {
        key: String,
        source: serde_json::Error,
    },
    #[error("record {key} has schema version {found}, this build reads up to {supported}")]
    UnknownVersion {
        key: String,
        found: u32,
        supported: u32,
    },
    #[error("not enough disks: need {needed}, {available} usable across {domains} failure domains")]
    NotEnoughDisks {
        needed: usize,
        available: usize,
        domains: usize,
    },
    #[error("cluster {0} is not initialised (no config record in etcd)")]
    NotInitialised(String),
    #[error("etcd snapshot: {0}")]
    Snapshot(String),
    #[error("etcd settings: {0}")]
    Settings(String),
    #[error("record {key} names disk index {index}, which no disk record holds")]
    UnknownDisk { key: String, index: u32 },
    #[error("record {key} is not a valid compact record: {what}")]
    Compact { key: String, what: String },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
