//! Server-side encryption: which data key a request writes or reads an
//! object with. SSE-C: the client's 256-bit key comes with every request
//! (`x-amz-server-side-encryption-customer-*`), its MD5 is checked, and
//! only that MD5 is kept. SSE-S3 (`x-amz-server-side-encryption: AES256`):
//! each object (each upload) gets a random data key, sealed with the
//! gateways' master key (`--sse-master-key-file`, the same on every
//! gateway) and kept sealed in the record. The object layer encrypts and
//! decrypts (`objectio_object::DataKey`); shards hold ciphertext only.

use objectio_cluster::Sse;
use objectio_cluster::secrets::SecretBox;
use s3s::{S3Error, S3Result, s3_error};

use crate::object::DataKey;

/// Associated data of every sealed data key.
const AAD: &str = "objectio sse-s3 data key";

/// The master key data keys are sealed with.
#[derive(Clone)]
pub struct MasterKey {
    sealer: SecretBox,
    /// A short digest naming the key (kept with each sealed data key).
    id: String,
}

impl MasterKey {
    /// Reads it from a file (mode 600) holding at least 32 bytes.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let s = objectio_cluster::util::load_secret(None, Some(path), "SSE master key")
            .map_err(anyhow::Error::msg)?;
        anyhow::ensure!(
            s.len() >= 32,
            "the SSE master key in {} is {} bytes; it must be at least 32 (make one with `openssl rand -hex 32`)",
            path.display(),
            s.len()
        );
        use sha2::Digest;
        let id = hex::encode(&sha2::Sha256::digest(s.as_bytes())[..4]);
        Ok(Self {
            sealer: SecretBox::new(s.as_bytes()),
            id,
        })
    }

    fn seal(&self, k: &DataKey) -> Sse {
        Sse::Managed {
            key_id: self.id.clone(),
            sealed: self.sealer.seal(AAD, &hex::encode(k.0)),
        }
    }

    fn open(&self, key_id: &str, sealed: &str) -> S3Result<DataKey> {
        let broken = || {
            tracing::error!(key_id, ours = %self.id, "an SSE-S3 data key does not open with this gateway's master key");
            s3_error!(
                InternalError,
                "The object's data key does not open with this gateway's master key ({key_id} vs {})",
                self.id
            )
        };
        let hexed = self.sealer.open(AAD, sealed).map_err(|_| broken())?;
        let raw: [u8; 32] = hex::decode(hexed)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(broken)?;
        Ok(DataKey(raw))
    }
}

/// The SSE-C fields of a request (algorithm, base64 key, base64 key MD5).
pub(super) struct CustomerKey<'a> {
    pub algorithm: Option<&'a str>,
    pub key: Option<&'a str>,
    pub key_md5: Option<&'a str>,
}

impl CustomerKey<'_> {
    /// The key the fields give, checked as S3 checks them.
    fn parse(&self) -> S3Result<Option<DataKey>> {
        match (self.algorithm, self.key, self.key_md5) {
            (None, None, None) => Ok(None),
            (Some(a), Some(k), Some(m)) => {
                if a != "AES256" {
                    return Err(s3_error!(
                        InvalidEncryptionAlgorithmError,
                        "The encryption request you specified is not valid. The valid value is AES256."
                    ));
                }
                use base64::Engine;
                let b64 = base64::engine::general_purpose::STANDARD;
                let raw: [u8; 32] = b64
                    .decode(k)
                    .ok()
                    .and_then(|v| v.try_into().ok())
                    .ok_or_else(|| {
                        s3_error!(
                            InvalidArgument,
                            "The secret key was invalid for the specified algorithm."
                        )
                    })?;
                let key = DataKey(raw);
                if key.md5_b64() != m {
                    return Err(s3_error!(
                        InvalidArgument,
                        "The calculated MD5 hash of the key did not match the hash that was provided."
                    ));
                }
                Ok(Some(key))
            }
            _ => Err(s3_error!(
                InvalidArgument,
                "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key, its MD5 and the algorithm."
            )),
        }
    }
}

fn not_configured() -> S3Error {
    s3_error!(
        InvalidRequest,
        "SSE-S3 is not configured on this gateway (it needs --sse-master-key-file)"
    )
}

/// The encryption and data key of a new object (or upload) as its request
/// asks: SSE-C, SSE-S3 (`x-amz-server-side-encryption: AES256`), or none.
pub(super) fn for_new(
    master: Option<&MasterKey>,
    sse: Option<&str>,
    customer: CustomerKey<'_>,
) -> S3Result<Option<(Sse, DataKey)>> {
    let c = customer.parse()?;
    match (sse, c) {
        (None, None) => Ok(None),
        (None, Some(k)) => Ok(Some((
            Sse::Customer {
                key_md5: k.md5_b64(),
            },
            k,
        ))),
        (Some("AES256"), None) => {
            let m = master.ok_or_else(not_configured)?;
            let k = DataKey(rand::random());
            Ok(Some((m.seal(&k), k)))
        }
        (Some("aws:kms" | "aws:kms:dsse"), None) => Err(s3_error!(
            NotImplemented,
            "SSE-KMS is not supported: use SSE-S3 (AES256) or SSE-C"
        )),
        (Some(other), None) => Err(s3_error!(
            InvalidArgument,
            "The encryption method specified is not supported: {other}"
        )),
        (Some(_), Some(_)) => Err(s3_error!(
            InvalidArgument,
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified"
        )),
    }
}

/// The data key to read (or add parts to) what `enc` says is stored,
/// given the request's SSE-C fields.
pub(super) fn for_existing(
    master: Option<&MasterKey>,
    enc: Option<&Sse>,
    customer: CustomerKey<'_>,
) -> S3Result<Option<DataKey>> {
    let c = customer.parse()?;
    match (enc, c) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(s3_error!(
            InvalidRequest,
            "The encryption parameters are not applicable to this object."
        )),
        (Some(Sse::Customer { .. }), None) => Err(s3_error!(
            InvalidRequest,
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."
        )),
        (Some(Sse::Customer { key_md5 }), Some(k)) => {
            if k.md5_b64() != *key_md5 {
                return Err(s3_error!(
                    AccessDenied,
                    "The SSE-C key provided does not match the one the object was stored with"
                ));
            }
            Ok(Some(k))
        }
        (Some(Sse::Managed { key_id, sealed }), None) => Ok(Some(
            master.ok_or_else(not_configured)?.open(key_id, sealed)?,
        )),
        (Some(Sse::Managed { .. }), Some(_)) => Err(s3_error!(
            InvalidRequest,
            "The encryption parameters are not applicable to this object."
        )),
    }
}

/// The encryption fields of an answer about an object stored as `enc`:
/// `x-amz-server-side-encryption`, and SSE-C's algorithm and key MD5.
pub(super) fn answer(
    enc: Option<&Sse>,
) -> (
    Option<s3s::dto::ServerSideEncryption>,
    Option<String>,
    Option<String>,
) {
    match enc {
        None => (None, None, None),
        Some(Sse::Managed { .. }) => (
            Some(s3s::dto::ServerSideEncryption::from_static(
                s3s::dto::ServerSideEncryption::AES256,
            )),
            None,
            None,
        ),
        Some(Sse::Customer { key_md5 }) => (None, Some("AES256".into()), Some(key_md5.clone())),
    }
}

/// The SSE-C fields of an S3 input, by their usual names.
macro_rules! customer {
    ($i:expr) => {
        super::sse::CustomerKey {
            algorithm: $i.sse_customer_algorithm.as_deref(),
            key: $i.sse_customer_key.as_deref(),
            key_md5: $i.sse_customer_key_md5.as_deref(),
        }
    };
}
pub(super) use customer;

#[cfg(test)]
mod tests {
    use super::*;

    fn ck<'a>(k: &'a str, m: &'a str) -> CustomerKey<'a> {
        CustomerKey {
            algorithm: Some("AES256"),
            key: Some(k),
            key_md5: Some(m),
        }
    }

    #[test]
    fn customer_keys_are_checked_and_only_their_md5_is_kept() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let key = DataKey([3; 32]);
        let (k, m) = (b64.encode(key.0), key.md5_b64());
        let (enc, got) = for_new(None, None, ck(&k, &m)).unwrap().unwrap();
        assert_eq!(got, key);
        assert_eq!(enc, Sse::Customer { key_md5: m.clone() });
        assert_eq!(
            for_existing(None, Some(&enc), ck(&k, &m)).unwrap(),
            Some(key)
        );
        let other = DataKey([4; 32]);
        let e =
            for_existing(None, Some(&enc), ck(&b64.encode(other.0), &other.md5_b64())).unwrap_err();
        assert_eq!(e.code().as_str(), "AccessDenied");
        let e = for_new(None, None, ck(&k, &other.md5_b64())).unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidArgument");
        let e = for_new(None, None, ck(&b64.encode([1u8; 16]), &m)).unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidArgument");
        let none = CustomerKey {
            algorithm: None,
            key: None,
            key_md5: None,
        };
        let e = for_existing(None, Some(&enc), none).unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidRequest");
    }

    #[test]
    fn managed_keys_open_only_with_their_master_key() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, s: &str| {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.path().join(name);
            std::fs::write(&p, s).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
            p
        };
        let m1 = MasterKey::load(&write("a", &"a".repeat(64))).unwrap();
        let m2 = MasterKey::load(&write("b", &"b".repeat(64))).unwrap();
        let none = || CustomerKey {
            algorithm: None,
            key: None,
            key_md5: None,
        };
        let (enc, key) = for_new(Some(&m1), Some("AES256"), none()).unwrap().unwrap();
        let Sse::Managed { sealed, .. } = &enc else {
            panic!("{enc:?}")
        };
        assert!(!sealed.contains(&hex::encode(key.0)));
        assert_eq!(
            for_existing(Some(&m1), Some(&enc), none()).unwrap(),
            Some(key)
        );
        assert!(for_existing(Some(&m2), Some(&enc), none()).is_err());
        assert_eq!(
            for_new(None, Some("AES256"), none())
                .unwrap_err()
                .code()
                .as_str(),
            "InvalidRequest"
        );
        assert!(MasterKey::load(&write("short", "abc")).is_err());
    }
}
