//! Encryption at rest: AES-256 in counter mode over each segment's bytes
//! (a single-part body, or one part), with the segment's data id as the
//! initial counter block. Counter mode keeps sizes (the stripe geometry is
//! unchanged) and seeks (a range read decrypts from any offset); integrity
//! stays with the per-chunk CRC32C of the shards and the object's MD5 and
//! checksums, all over the plaintext as the client sent it. Every data id
//! is random and used once, so a key shared by many objects (SSE-C) never
//! repeats a counter. Data is encrypted after it is hashed and before it
//! is erasure-coded: shards hold ciphertext only.

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use uuid::Uuid;

type Ctr = ctr::Ctr128BE<Aes256>;

/// A 256-bit data key (SSE-C: the client's; SSE-S3: the object's own).
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey(pub [u8; 32]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// The base64 MD5 of the key, as SSE-C headers carry it.
    pub fn md5_b64(&self) -> String {
        use base64::Engine;
        use md5::Digest;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(self.0))
    }
}

/// The keystream of one segment, positioned at byte `offset` of it.
pub(crate) struct SegmentCipher(Ctr);

impl SegmentCipher {
    pub(crate) fn new(key: &DataKey, data_id: &Uuid, offset: u64) -> Self {
        let mut c = Ctr::new(&key.0.into(), data_id.as_bytes().into());
        c.seek(offset);
        Self(c)
    }

    /// Encrypts or decrypts (the same in counter mode) the next bytes.
    pub(crate) fn apply(&mut self, buf: &mut [u8]) {
        self.0.apply_keystream(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_offset_decrypts_what_a_whole_pass_encrypted() {
        let key = DataKey([7; 32]);
        let id = Uuid::new_v4();
        let plain: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut enc = plain.clone();
        SegmentCipher::new(&key, &id, 0).apply(&mut enc[..4096]);
        let mut c = SegmentCipher::new(&key, &id, 4096);
        c.apply(&mut enc[4096..]);
        assert_ne!(enc, plain);
        for (a, b) in [(0, 10_000), (13, 17), (4095, 4097), (9_999, 10_000)] {
            let mut piece = enc[a..b].to_vec();
            SegmentCipher::new(&key, &id, a as u64).apply(&mut piece);
            assert_eq!(piece, &plain[a..b], "{a}..{b}");
        }
        // Another data id or key gives other bytes.
        let mut other = plain.clone();
        SegmentCipher::new(&key, &Uuid::new_v4(), 0).apply(&mut other);
        assert_ne!(other, enc);
    }
}
