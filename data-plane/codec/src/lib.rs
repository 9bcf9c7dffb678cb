//! Erasure codec and stripe geometry.
//!
//! Owns how an object body maps onto `k` data and `m` parity shards:
//! the body is cut into stripes of `k * chunk_size` bytes; stripe `s` puts
//! chunk `i` (data for `i < k`, parity for `i >= k`) into shard `i`. A short
//! last stripe uses shorter chunks (rounded up to [`CHUNK_ALIGN`], zero
//! padded). Reed–Solomon coding uses `reed-solomon-simd`.
//!
//! It depends on nothing of the cluster: no etcd, no network, no disks.

use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

/// Chunk lengths are multiples of this (the codec needs even sizes; 64
/// keeps SIMD paths aligned).
pub const CHUNK_ALIGN: u64 = 64;

/// Codec errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reed-solomon: {0}")]
    Rs(#[from] reed_solomon_simd::Error),
    #[error("stripe {stripe}: only {have} of the {need} shards needed to decode")]
    NotEnoughShards {
        stripe: u64,
        have: usize,
        need: usize,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The stripe layout of one object body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub k: usize,
    pub m: usize,
    pub chunk_size: u64,
    pub object_size: u64,
}

impl Geometry {
    pub fn new(k: usize, m: usize, chunk_size: u64, object_size: u64) -> Self {
        Self {
            k,
            m,
            chunk_size,
            object_size,
        }
    }

    /// Bytes of object data in one full stripe.
    pub fn stripe_data(&self) -> u64 {
        self.k as u64 * self.chunk_size
    }

    /// Number of stripes (0 for an empty object).
    pub fn stripes(&self) -> u64 {
        self.object_size.div_ceil(self.stripe_data())
    }

    /// Object bytes held by stripe `s`.
    pub fn stripe_len(&self, s: u64) -> u64 {
        let start = s * self.stripe_data();
        self.object_size
            .saturating_sub(start)
            .min(self.stripe_data())
    }

    /// Length of each chunk of stripe `s` (equal across the stripe's shards).
    pub fn chunk_len(&self, s: u64) -> u64 {
        let len = self.stripe_len(s);
        if len == self.stripe_data() {
            self.chunk_size
        } else {
            len.div_ceil(self.k as u64).div_ceil(CHUNK_ALIGN) * CHUNK_ALIGN
        }
    }

    /// Bytes of one shard (the same for every shard index).
    pub fn shard_size(&self) -> u64 {
        let n = self.stripes();
        if n == 0 {
            return 0;
        }
        (n - 1) * self.chunk_size + self.chunk_len(n - 1)
    }

    /// The stripes touching object bytes `[start, end)`.
    pub fn stripes_for_range(&self, start: u64, end: u64) -> std::ops::Range<u64> {
        if start >= end {
            return 0..0;
        }
        let sd = self.stripe_data();
        (start / sd)..end.div_ceil(sd)
    }
}

/// A reusable Reed–Solomon encoder for one `k+m` profile.
pub struct Encoder {
    k: usize,
    m: usize,
    inner: Option<(usize, ReedSolomonEncoder)>,
}

impl Encoder {
    pub fn new(k: usize, m: usize) -> Self {
        Self { k, m, inner: None }
    }

    /// Computes the `m` parity chunks of one stripe whose `k` data chunks
    /// all have the same (even) length.
    /// With one data chunk (`1+m`, replication) every parity chunk is a
    /// copy of it.
    pub fn encode(&mut self, data: &[&[u8]]) -> Result<Vec<Vec<u8>>> {
        if self.k == 1 {
            return Ok(vec![data[0].to_vec(); self.m]);
        }
        let len = data[0].len();
        let enc = match &mut self.inner {
            Some((l, e)) if *l == len => e,
            slot => {
                *slot = Some((len, ReedSolomonEncoder::new(self.k, self.m, len)?));
                &mut slot.as_mut().expect("just set").1
            }
        };
        for d in data {
            enc.add_original_shard(d)?;
        }
        let res = enc.encode()?;
        Ok(res.recovery_iter().map(|r| r.to_vec()).collect())
    }
}

/// Rebuilds missing data chunks of one stripe from any `k` of its chunks.
///
/// `chunks[i]` is chunk `i` of the stripe (`i < k` data, else parity) or
/// `None` when missing. Returns the `k` data chunks.
pub fn decode_stripe(
    k: usize,
    m: usize,
    stripe: u64,
    chunks: Vec<Option<Vec<u8>>>,
) -> Result<Vec<Vec<u8>>> {
    let have = chunks.iter().filter(|c| c.is_some()).count();
    if have < k {
        return Err(Error::NotEnoughShards {
            stripe,
            have,
            need: k,
        });
    }
    if k == 1 {
        // Replication: any chunk is the data.
        return Ok(vec![
            chunks.into_iter().flatten().next().expect("have >= 1"),
        ]);
    }
    if chunks[..k].iter().all(|c| c.is_some()) {
        return Ok(chunks
            .into_iter()
            .take(k)
            .map(|c| c.expect("present"))
            .collect());
    }
    let len = chunks.iter().flatten().next().map(|c| c.len()).unwrap_or(0);
    let mut dec = ReedSolomonDecoder::new(k, m, len)?;
    for (i, c) in chunks.iter().enumerate() {
        if let Some(c) = c {
            if i < k {
                dec.add_original_shard(i, c)?;
            } else {
                dec.add_recovery_shard(i - k, c)?;
            }
        }
    }
    let res = dec.decode()?;
    let restored: std::collections::HashMap<usize, Vec<u8>> = res
        .restored_original_iter()
        .map(|(i, d)| (i, d.to_vec()))
        .collect();
    drop(res);
    let mut out = Vec::with_capacity(k);
    let mut restored = restored;
    for (i, c) in chunks.into_iter().take(k).enumerate() {
        match c {
            Some(c) => out.push(c),
            None => out.push(restored.remove(&i).ok_or(Error::NotEnoughShards {
                stripe,
                have,
                need: k,
            })?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_of_small_and_large_objects() {
        let g = Geometry::new(4, 2, 1 << 20, 0);
        assert_eq!(g.stripes(), 0);
        assert_eq!(g.shard_size(), 0);
        let g = Geometry::new(4, 2, 1 << 20, 1);
        assert_eq!(g.stripes(), 1);
        assert_eq!(g.chunk_len(0), 64);
        let g = Geometry::new(4, 2, 1 << 20, (4 << 20) + 1);
        assert_eq!(g.stripes(), 2);
        assert_eq!(g.chunk_len(0), 1 << 20);
        assert_eq!(g.chunk_len(1), 64);
        assert_eq!(g.shard_size(), (1 << 20) + 64);
        assert_eq!(g.stripes_for_range(0, 1), 0..1);
        assert_eq!(g.stripes_for_range(4 << 20, (4 << 20) + 1), 1..2);
    }

    #[test]
    fn one_data_chunk_is_replication() {
        let data = vec![7u8; 4096];
        let parity = Encoder::new(1, 2).encode(&[&data]).unwrap();
        assert_eq!(parity, vec![data.clone(), data.clone()]);
        for i in 0..3 {
            let chunks: Vec<Option<Vec<u8>>> =
                (0..3).map(|j| (j == i).then(|| data.clone())).collect();
            assert_eq!(decode_stripe(1, 2, 0, chunks).unwrap(), vec![data.clone()]);
        }
        assert!(matches!(
            decode_stripe(1, 2, 0, vec![None, None, None]),
            Err(Error::NotEnoughShards {
                have: 0,
                need: 1,
                ..
            })
        ));
    }

    #[test]
    fn decodes_from_any_k_chunks() {
        let (k, m) = (4, 2);
        let data: Vec<Vec<u8>> = (0..k).map(|i| vec![i as u8 * 7 + 1; 128]).collect();
        let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
        let parity = Encoder::new(k, m).encode(&refs).unwrap();
        let all: Vec<Vec<u8>> = data.iter().cloned().chain(parity).collect();
        for a in 0..6 {
            for b in (a + 1)..6 {
                let chunks: Vec<Option<Vec<u8>>> = all
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (i != a && i != b).then(|| c.clone()))
                    .collect();
                assert_eq!(decode_stripe(k, m, 0, chunks).unwrap(), data);
            }
        }
        let three: Vec<Option<Vec<u8>>> = all
            .iter()
            .enumerate()
            .map(|(i, c)| (i > 2).then(|| c.clone()))
            .collect();
        assert!(matches!(
            decode_stripe(k, m, 0, three),
            Err(Error::NotEnoughShards { have: 3, .. })
        ));
    }
}
