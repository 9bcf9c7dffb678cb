//! The OSD storage engine: shards on raw block devices.
//!
//! Owns the on-device layout (superblock and backup, journal, two
//! checkpoint slots, shard extents), the shard index made durable by the
//! journal plus checkpoints, the extent allocator, crash recovery, and the
//! offline raw scan used by `objectio-cli disk scan`. I/O goes through the
//! one [`device::BlockDevice`] trait (`uring`, `sync`, `memory`).
//!
//! It knows nothing of etcd, S3 or the network; the shard header and its
//! format come from `objectio-shard`.

pub mod device;

pub mod alloc;
pub mod engine;
pub mod format;
pub mod scan;

pub use engine::{Engine, Error, OpenOptions, Result, ShardWriter, Usage};
