//! Helpers shared by the engine's test binaries.
#![allow(dead_code)]

use std::sync::Arc;

use objectio_engine::{Engine, OpenOptions};
use objectio_shard::{ShardHeader, ShardId};
use uuid::Uuid;

pub const CLUSTER: Uuid = Uuid::from_u128(0x1234);

pub fn opts() -> OpenOptions {
    OpenOptions {
        cluster_id: CLUSTER,
        osd_id: "osd-test".into(),
        force: false,
        checkpoint_interval: objectio_engine::engine::CHECKPOINT_INTERVAL,
    }
}

pub fn header(id: ShardId, object_size: u64, chunk: u32) -> ShardHeader {
    ShardHeader {
        format: 1,
        cluster_id: CLUSTER,
        bucket: "bucket".into(),
        key: format!("key-{}", id.version_id),
        id,
        k: 4,
        m: 2,
        chunk_size: chunk,
        object_size,
        created_ms: 1,
        meta: None,
    }
}

/// Deterministic bytes of chunk `j` of shard `id`.
pub fn content(id: &ShardId, j: u64, len: usize) -> Vec<u8> {
    let mut x = id.version_id.as_u128() as u64
        ^ ((id.index as u64) << 56)
        ^ j.wrapping_mul(0x9E3779B97F4A7C15);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub async fn put(e: &Arc<Engine>, h: ShardHeader) -> objectio_engine::Result<()> {
    let id = h.id;
    let mut w = e.begin_put(h)?;
    let mut j = 0;
    while let Some(len) = w.next_len() {
        let mut b = w.chunk_buf(len);
        b.as_mut_slice().copy_from_slice(&content(&id, j, len));
        w.write_chunk(b).await?;
        j += 1;
    }
    w.finish("etag-x").await
}

/// Reads every chunk of a shard and checks its bytes.
pub async fn check(e: &Engine, id: &ShardId) {
    let entry = e.entry(id).unwrap_or_else(|err| panic!("{id}: {err}"));
    let g = entry.geometry();
    for j in 0..g.stripes() {
        let b = e
            .read_chunk(&entry, j)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{id} chunk {j} corrupt"));
        assert!(
            b.as_slice() == content(id, j, g.chunk_len(j) as usize),
            "{id} chunk {j} differs"
        );
    }
    let head = e.read_header(&entry).await.unwrap();
    assert_eq!(head.header.id, *id);
    assert_eq!(head.etag, "etag-x");
}

pub fn sid(i: u32) -> ShardId {
    ShardId {
        version_id: Uuid::new_v4(),
        part: 0,
        index: (i % 6) as u8,
    }
}

/// Used bytes equal what the indexed shards occupy: nothing leaked.
pub fn assert_no_leak(e: &Engine, what: &str) {
    let extents: u64 = e
        .shard_ids()
        .iter()
        .map(|id| e.entry(id).unwrap().extent_len)
        .sum();
    assert_eq!(e.usage().used, extents, "{what}: space leaked");
}
