//! Access-key secrets sealed at rest.
//!
//! SigV4 needs the secret itself, so a hash is not enough: secrets are
//! encrypted with ChaCha20-Poly1305 under a key derived from the cluster
//! secret (HMAC-SHA256 of a fixed label), with the access key id as
//! associated data so a sealed secret cannot be moved to another key.
//! Anyone with etcd alone learns no secret; anyone with the cluster secret
//! can already impersonate every OSD.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};

/// The shortest cluster secret a daemon accepts, in bytes.
pub const MIN_CLUSTER_SECRET: usize = 32;

const LABEL: &[u8] = b"objectio access-key secrets v1";
const PREFIX: &str = "v1:";

/// Why a sealed secret could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("sealed secret has an unknown format")]
    Format,
    #[error("sealed secret does not open with this cluster secret (another cluster's, or damaged)")]
    Open,
}

/// Seals and opens access-key secrets with the cluster's secret key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl SecretBox {
    /// The box of the cluster whose shared secret is `cluster_secret`.
    pub fn new(cluster_secret: &[u8]) -> Self {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(cluster_secret)
            .expect("HMAC takes any key length");
        mac.update(LABEL);
        let key = mac.finalize().into_bytes();
        Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }

    /// Seals `secret` for the access key `id`: `v1:` and base64 of nonce
    /// and ciphertext.
    pub fn seal(&self, id: &str, secret: &str) -> String {
        let nonce: [u8; 12] = rand::random();
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: id.as_bytes(),
                },
            )
            .expect("encryption of a short secret cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        )
    }

    /// Opens what [`SecretBox::seal`] made for `id`.
    pub fn open(&self, id: &str, sealed: &str) -> Result<String, SecretError> {
        let b64 = sealed.strip_prefix(PREFIX).ok_or(SecretError::Format)?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| SecretError::Format)?;
        if raw.len() < 12 + 16 {
            return Err(SecretError::Format);
        }
        let (nonce, ct) = raw.split_at(12);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Open)?;
        String::from_utf8(plain).map_err(|_| SecretError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secret_opens_only_for_its_key_and_cluster() {
        let b = SecretBox::new(&[7u8; 32]);
        let s = b.seal("OIOKEY1", "the-secret");
        assert!(!s.contains("the-secret"));
        assert_eq!(b.open("OIOKEY1", &s).unwrap(), "the-secret");
        // Moved to another key id: refused.
        assert!(matches!(b.open("OIOKEY2", &s), Err(SecretError::Open)));
        // Another cluster's secret: refused.
        let other = SecretBox::new(&[8u8; 32]);
        assert!(matches!(other.open("OIOKEY1", &s), Err(SecretError::Open)));
        // Damaged.
        let mut bad = s.clone();
        bad.pop();
        bad.push(if s.ends_with('A') { 'B' } else { 'A' });
        assert!(b.open("OIOKEY1", &bad).is_err());
        assert!(matches!(
            b.open("OIOKEY1", "clear"),
            Err(SecretError::Format)
        ));
        // Two seals of one secret differ (random nonce).
        assert_ne!(s, b.seal("OIOKEY1", "the-secret"));
    }
}
