//! Shard format and the shard protocol spoken between gateways/controllers
//! and OSDs.
//!
//! Owns:
//! - [`ShardHeader`] and [`ShardTrailer`]: the self-describing header every
//!   shard carries on disk (DESIGN invariant 4) and the trailer that seals
//!   it (ETag and per-chunk CRC32C);
//! - the wire protocol ([`proto`]): length-prefixed JSON control frames and
//!   raw data frames over TCP, opened by an HMAC-SHA256 challenge–response
//!   with the cluster secret; nothing is served to an unauthenticated peer;
//! - the client ([`client::ShardClient`]): pooled persistent connections
//!   with `TCP_NODELAY`, streaming puts and ranged chunk reads.
//!
//! It knows nothing of etcd, S3, or how an OSD lays shards out on a device.

pub mod client;
pub mod proto;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use client::ShardClient;

/// Format version of [`ShardHeader`] written by this build.
pub const SHARD_FORMAT: u32 = 1;

/// Identifies one shard: shard `index` of part `part` of an object version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ShardId {
    pub version_id: Uuid,
    pub part: u32,
    pub index: u8,
}

impl std::fmt::Display for ShardId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.version_id, self.part, self.index)
    }
}

/// The self-describing header stored at the start of every shard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardHeader {
    pub format: u32,
    pub cluster_id: Uuid,
    pub bucket: String,
    pub key: String,
    pub id: ShardId,
    pub k: u8,
    pub m: u8,
    pub chunk_size: u32,
    /// Size of the object (or part) body the shard belongs to.
    pub object_size: u64,
    pub created_ms: u64,
    /// The object's metadata, on the shards of a single-part object (a
    /// multipart object's is in its manifest): what rebuilding the index
    /// from raw disks restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ShardMeta>,
}

/// An object's metadata as its shards carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ShardMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub user_metadata: std::collections::BTreeMap<String, String>,
}

/// The part number of a multipart object's manifest (its parts, ETag and
/// metadata, written at CompleteMultipartUpload under the object's own
/// data id): what tells a completed upload from one in progress on a raw
/// disk.
pub const MANIFEST_PART: u32 = u32::MAX;

impl ShardHeader {
    /// The stripe geometry of the body this shard belongs to.
    pub fn geometry(&self) -> objectio_codec::Geometry {
        objectio_codec::Geometry::new(
            self.k as usize,
            self.m as usize,
            self.chunk_size as u64,
            self.object_size,
        )
    }

    /// Checks the header is internally consistent (hostile input guard).
    pub fn validate(&self) -> Result<(), String> {
        if self.format != SHARD_FORMAT {
            return Err(format!("unknown shard format {}", self.format));
        }
        if self.k == 0 || self.m == 0 || self.k as usize + self.m as usize > 64 {
            return Err(format!("bad EC profile {}+{}", self.k, self.m));
        }
        if self.chunk_size == 0
            || !(self.chunk_size as u64).is_multiple_of(objectio_codec::CHUNK_ALIGN)
        {
            return Err(format!("bad chunk size {}", self.chunk_size));
        }
        if self.id.index as usize >= self.k as usize + self.m as usize {
            return Err(format!("shard index {} out of range", self.id.index));
        }
        if self.object_size > 5 << 40 {
            return Err(format!("object size {} too large", self.object_size));
        }
        if self.bucket.len() > 63 || self.key.len() > 1024 {
            return Err("bucket or key too long".into());
        }
        Ok(())
    }
}

/// Written after a shard's data: seals the shard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardTrailer {
    /// Hex MD5 of the object body.
    pub etag: String,
    /// CRC32C of each chunk of the shard, in order.
    pub chunk_crcs: Vec<u32>,
}

/// Errors of the shard protocol and client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("i/o with {addr}: {source}")]
    Io {
        addr: String,
        source: std::io::Error,
    },
    #[error("{addr} refused authentication")]
    AuthRefused { addr: String },
    #[error("protocol error with {addr}: {msg}")]
    Protocol { addr: String, msg: String },
    #[error("{addr}: {code:?}: {message}")]
    Remote {
        addr: String,
        code: proto::ErrorCode,
        message: String,
    },
    #[error("{addr}: timed out")]
    Timeout { addr: String },
}

impl Error {
    /// The remote error code, when the OSD answered with one.
    pub fn code(&self) -> Option<proto::ErrorCode> {
        match self {
            Error::Remote { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
