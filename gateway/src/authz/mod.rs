//! The one authorization stage: every S3 request passes [`Authorizer`]
//! (s3s's access hook, run after the signature is verified and before the
//! handler) which resolves the caller's user, the bucket's owner, its
//! policy and canned ACL, and answers Allow or `AccessDenied`. Handlers
//! hold no authorization code; they read the caller's identity from the
//! request's [`Caller`] extension.
//!
//! Order of evaluation, as AWS does for a bucket owned by one account: an
//! explicit Deny in the bucket policy refuses (except the owner managing
//! the policy itself, so a policy can never lock its owner out); the
//! bucket owner may do anything; then an Allow in the policy; then the
//! canned ACLs of the bucket (listing, writing) and of the object
//! (reading); everything else is refused. Every object in a bucket is
//! owned by the bucket's owner (S3's "bucket owner enforced" ownership).

pub mod policy;

use std::net::SocketAddr;

use objectio_cluster::mirror::Mirror;
use objectio_cluster::secrets::SecretBox;
use objectio_cluster::store::decode;
use objectio_cluster::{AccessKeyRecord, BucketRecord, CannedAcl, ObjectRecord, Store};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::path::S3Path;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

pub use policy::Principal;
use policy::{Policy, Verdict};

/// The address the request came from (set per connection).
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

/// The caller of a request, as the authorization stage resolved it.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The user, or `None` for an anonymous request.
    pub user: Option<String>,
    /// The address the request came from.
    pub peer: Option<std::net::IpAddr>,
}

impl Caller {
    /// The caller as a policy principal.
    pub fn principal(&self) -> Principal {
        match &self.user {
            Some(u) => Principal::User(u.clone()),
            None => Principal::Anonymous,
        }
    }
}

/// The caller of an authorized request (anonymous when absent).
pub fn caller(ext: &http::Extensions) -> Option<&str> {
    ext.get::<Caller>().and_then(|c| c.user.as_deref())
}

/// Parsed bucket policies by bucket, with the text each came from.
type PolicyCache = std::collections::HashMap<String, (String, std::sync::Arc<Policy>)>;

/// Access keys and buckets as the gateway sees them: live copies of
/// etcd (watches), read from etcd itself when a copy is not current or
/// lacks the entry.
#[derive(Clone)]
pub struct Directory {
    store: Store,
    keys: Mirror,
    buckets: Mirror,
    secrets: SecretBox,
    /// Parsed bucket policies, by bucket, with the text they came from
    /// (parsed again only when the text changes).
    policies: std::sync::Arc<std::sync::Mutex<PolicyCache>>,
}

fn unavailable(e: impl std::fmt::Display) -> S3Error {
    let id = uuid::Uuid::new_v4();
    tracing::error!(request_id = %id, error = %e, "metadata store unavailable");
    S3Error::with_message(
        S3ErrorCode::ServiceUnavailable,
        format!("The metadata store is unavailable (request id {id}). Please retry."),
    )
}

impl Directory {
    pub fn start(store: &Store, secret: &[u8]) -> Self {
        Self {
            keys: Mirror::start(store, store.keys().access_keys_prefix()),
            buckets: Mirror::start(store, store.keys().buckets_prefix()),
            store: store.clone(),
            secrets: SecretBox::new(secret),
            policies: Default::default(),
        }
    }

    /// The parsed policy of a bucket whose policy text is `text`.
    fn policy(
        &self,
        bucket: &str,
        text: &str,
    ) -> Result<std::sync::Arc<Policy>, policy::Malformed> {
        let mut cache = self.policies.lock().expect("policy cache");
        if let Some((t, p)) = cache.get(bucket)
            && t == text
        {
            return Ok(p.clone());
        }
        let p = std::sync::Arc::new(Policy::parse(text, bucket)?);
        cache.insert(bucket.to_string(), (text.to_string(), p.clone()));
        Ok(p)
    }

    /// The live copy of the access keys (its revision is published for
    /// the admin API's deletion fence).
    pub fn keys(&self) -> &Mirror {
        &self.keys
    }

    /// The live copy of the buckets.
    pub fn buckets(&self) -> &Mirror {
        &self.buckets
    }

    async fn read<T: serde::de::DeserializeOwned + objectio_cluster::Versioned>(
        &self,
        mirror: &Mirror,
        key: String,
    ) -> S3Result<Option<T>> {
        if let Some(Some(v)) = mirror.get(key.as_bytes())
            && let Ok(r) = decode::<T>(key.as_bytes(), &v)
        {
            return Ok(Some(r));
        }
        // Not in a current copy (created a moment ago) or no current copy.
        match self.store.get::<T>(key).await {
            Ok(r) => Ok(r.map(|(r, _)| r)),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// The record of an access key.
    pub async fn key(&self, id: &str) -> S3Result<Option<AccessKeyRecord>> {
        if id.is_empty() || id.len() > 128 || id.contains('/') {
            return Ok(None);
        }
        self.read(&self.keys, self.store.keys().access_key(id))
            .await
    }

    /// The record of a bucket.
    pub async fn bucket(&self, name: &str) -> S3Result<Option<BucketRecord>> {
        if name.is_empty() || name.contains('/') {
            return Ok(None);
        }
        self.read(&self.buckets, self.store.keys().bucket(name))
            .await
    }
}

fn no_such_key() -> S3Error {
    s3_error!(
        InvalidAccessKeyId,
        "The AWS Access Key Id you provided does not exist in our records."
    )
}

#[async_trait::async_trait]
impl S3Auth for Directory {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let rec = self.key(access_key).await?.ok_or_else(no_such_key)?;
        // Records under keys/ are version 2, sealed (the meta migrates
        // version 1 before serving).
        let sealed = rec.sealed_secret.as_deref().unwrap_or_default();
        match self.secrets.open(&rec.access_key_id, sealed) {
            Ok(s) => Ok(SecretKey::from(s)),
            Err(e) => {
                tracing::error!(access_key, error = %e, "cannot open an access key's secret");
                Err(no_such_key())
            }
        }
    }
}

/// The S3 authorization stage. Cheap to clone: handlers of operations
/// that touch more than the request's path (DeleteObjects' keys,
/// CopyObject's source) ask it about each through [`Authorizer::allows`].
#[derive(Clone)]
pub struct Authorizer {
    pub dir: Directory,
    pub store: Store,
    /// The region requests must be signed for.
    pub region: String,
}

/// The region of a SigV4 credential scope (`AK/DATE/REGION/SERVICE/aws4_request`)
/// in the `Authorization` header or a presigned URL's `X-Amz-Credential`,
/// and whether it came from the query.
fn signed_region(headers: &http::HeaderMap, uri: &http::Uri) -> Option<(String, bool)> {
    let scope_region = |cred: &str| -> Option<String> {
        let parts: Vec<&str> = cred.split('/').collect();
        (parts.len() == 5).then(|| parts[2].to_string())
    };
    if let Some(h) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(rest) = h.strip_prefix("AWS4-HMAC-SHA256")
    {
        let cred = rest
            .split(',')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("Credential="))?;
        return scope_region(cred).map(|r| (r, false));
    }
    query_param(uri, "X-Amz-Credential")
        .and_then(|c| scope_region(&c))
        .map(|r| (r, true))
}

/// Whether a request signed for `signed` may be served by an endpoint
/// of region `ours` (s3cmd signs for `US`, the old name of us-east-1).
pub fn region_accepted(ours: &str, signed: &str) -> bool {
    signed == ours || (ours == "us-east-1" && signed.eq_ignore_ascii_case("us"))
}

fn denied() -> S3Error {
    s3_error!(AccessDenied, "Access Denied")
}

/// The IAM action an S3 operation needs.
pub fn action_of(op: &str) -> String {
    let a = match op {
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "ListBucket",
        "ListObjectVersions" => "ListBucketVersions",
        "ListMultipartUploads" => "ListBucketMultipartUploads",
        "ListParts" => "ListMultipartUploadParts",
        "HeadObject" | "GetObjectAttributes" => "GetObject",
        "CreateMultipartUpload"
        | "UploadPart"
        | "CompleteMultipartUpload"
        | "CopyObject"
        | "UploadPartCopy"
        | "PostObject" => "PutObject",
        "DeleteObjects" => "DeleteObject",
        "ListBuckets" => "ListAllMyBuckets",
        "GetBucketLifecycleConfiguration" => "GetLifecycleConfiguration",
        "PutBucketLifecycleConfiguration" => "PutLifecycleConfiguration",
        "DeleteBucketLifecycle" => "PutLifecycleConfiguration",
        "DeleteBucketTagging" => "PutBucketTagging",
        "GetObjectLockConfiguration" => "GetBucketObjectLockConfiguration",
        "PutObjectLockConfiguration" => "PutBucketObjectLockConfiguration",
        "GetBucketCors" => "GetBucketCORS",
        "PutBucketCors" | "DeleteBucketCors" => "PutBucketCORS",
        other => other,
    };
    format!("s3:{a}")
}

/// What a canned ACL lets others do (the owner may do everything).
fn acl_grants(acl: CannedAcl, on_object: bool, who: &Principal, action: &str) -> bool {
    let read = match acl {
        CannedAcl::Private => false,
        CannedAcl::PublicRead | CannedAcl::PublicReadWrite => true,
        CannedAcl::AuthenticatedRead => matches!(who, Principal::User(_)),
    };
    if on_object {
        // READ on an object: get it.
        return read && action == "s3:GetObject";
    }
    // READ on a bucket: list it; WRITE: create, overwrite, delete objects.
    let write = acl == CannedAcl::PublicReadWrite;
    (read
        && matches!(
            action,
            "s3:ListBucket" | "s3:ListBucketVersions" | "s3:ListBucketMultipartUploads"
        ))
        || (write
            && matches!(
                action,
                "s3:PutObject"
                    | "s3:DeleteObject"
                    | "s3:AbortMultipartUpload"
                    | "s3:ListMultipartUploadParts"
            ))
}

/// Query parameter `name` of a URI, percent-decoded.
fn query_param(uri: &http::Uri, name: &str) -> Option<String> {
    let q = uri.query()?;
    for pair in q.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == name {
            let v = v.replace('+', " ");
            return Some(urlencoding_decode(&v).unwrap_or(v));
        }
    }
    None
}

fn urlencoding_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Operations on a bucket's policy: its owner may always run them, even
/// under a Deny (so no policy locks the owner out).
const POLICY_OPS: &[&str] = &[
    "GetBucketPolicy",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "GetBucketPolicyStatus",
];

#[async_trait::async_trait]
impl S3Access for Authorizer {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if let Some((signed, presigned)) = signed_region(cx.headers(), cx.uri())
            && !region_accepted(&self.region, &signed)
        {
            let msg = format!(
                "The authorization {} is malformed; the region '{signed}' is wrong; expecting '{}'",
                if presigned {
                    "query parameters are"
                } else {
                    "header is"
                },
                self.region
            );
            return Err(if presigned {
                s3_error!(AuthorizationQueryParametersError, "{msg}")
            } else {
                s3_error!(AuthorizationHeaderMalformed, "{msg}")
            });
        }
        let op = cx.s3_op().name();
        if !crate::s3::ops::served(op) {
            return Err(s3_error!(
                NotImplemented,
                "{op} is not implemented by ObjectIO (see the S3 operations table in docs/architecture/s3.md)"
            ));
        }
        let user = match cx.credentials() {
            Some(c) => {
                // The signature was verified with this key's secret.
                let rec = self.dir.key(&c.access_key).await?.ok_or_else(no_such_key)?;
                Some(rec.user)
            }
            None => None,
        };
        let principal = match &user {
            Some(u) => Principal::User(u.clone()),
            None => Principal::Anonymous,
        };
        let op = cx.s3_op().name().to_string();
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(bucket.to_string()), None),
            S3Path::Object { bucket, key } => (Some(bucket.to_string()), Some(key.to_string())),
        };
        let peer = cx.extensions_mut().get::<PeerAddr>().map(|p| p.0.ip());
        let uri = cx.uri().clone();
        let allowed = self
            .decide(
                &op,
                &principal,
                bucket.as_deref(),
                key.as_deref(),
                peer,
                &uri,
            )
            .await?;
        tracing::debug!(op, user = ?user, bucket = ?bucket, allowed, "authorization");
        if !allowed {
            return Err(denied());
        }
        cx.extensions_mut().insert(Caller { user, peer });
        Ok(())
    }
}

impl Authorizer {
    /// Whether the caller of an authorized request (its [`Caller`]) may run
    /// `op` on `bucket`/`key` too: the same decision as the stage's, for
    /// the keys of a DeleteObjects or the source of a copy.
    pub async fn allows(
        &self,
        ext: &http::Extensions,
        op: &str,
        bucket: &str,
        key: Option<&str>,
    ) -> S3Result<bool> {
        let caller = ext.get::<Caller>().cloned().unwrap_or(Caller {
            user: None,
            peer: None,
        });
        let uri = http::Uri::from_static("/");
        self.decide(
            op,
            &caller.principal(),
            Some(bucket),
            key,
            caller.peer,
            &uri,
        )
        .await
    }

    async fn decide(
        &self,
        op: &str,
        principal: &Principal,
        bucket: Option<&str>,
        key: Option<&str>,
        peer: Option<std::net::IpAddr>,
        uri: &http::Uri,
    ) -> S3Result<bool> {
        let Some(bucket) = bucket else {
            // ListBuckets lists the caller's own buckets.
            return Ok(matches!(principal, Principal::User(_)));
        };
        if op == "CreateBucket" {
            return Ok(matches!(principal, Principal::User(_)));
        }
        if op == "PostObject" {
            // The key is a form field the stage does not see: the handler
            // authorizes s3:PutObject on it.
            return Ok(true);
        }
        if op == "DeleteObjects" {
            // Each key is authorized on its own (s3:DeleteObject on the
            // object's ARN) and answers AccessDenied alone, as in AWS.
            return Ok(true);
        }
        let Some(rec) = self.dir.bucket(bucket).await? else {
            // The handler answers NoSuchBucket.
            return Ok(true);
        };
        let is_owner = matches!(principal, Principal::User(u) if *u == rec.owner);
        let action = action_of(op);
        let resource = match key {
            Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
            None => format!("arn:aws:s3:::{bucket}"),
        };
        let verdict = match rec.policy.as_deref() {
            None => Verdict::NotApplicable,
            Some(text) => match self.dir.policy(bucket, text) {
                Ok(p) => {
                    let prefix = query_param(uri, "prefix");
                    let delimiter = query_param(uri, "delimiter");
                    let max_keys = query_param(uri, "max-keys");
                    p.evaluate(&policy::Request {
                        principal,
                        action: &action,
                        resource: &resource,
                        source_ip: peer,
                        secure_transport: false,
                        prefix: prefix.as_deref(),
                        delimiter: delimiter.as_deref(),
                        max_keys: max_keys.as_deref(),
                    })
                }
                Err(e) => {
                    // Stored policies were validated; one this build
                    // cannot read grants nothing and denies nothing.
                    tracing::error!(bucket, error = %e, "stored bucket policy does not parse");
                    Verdict::NotApplicable
                }
            },
        };
        if is_owner && POLICY_OPS.contains(&op) {
            return Ok(true);
        }
        match verdict {
            Verdict::Deny => return Ok(false),
            Verdict::Allow => return Ok(true),
            Verdict::NotApplicable => {}
        }
        if is_owner {
            return Ok(true);
        }
        if acl_grants(rec.acl, false, principal, &action) {
            return Ok(true);
        }
        if let Some(k) = key
            && action == "s3:GetObject"
        {
            let rk = self.store.keys().object(bucket, k);
            let obj = self
                .store
                .get::<ObjectRecord>(rk)
                .await
                .map_err(unavailable)?;
            if let Some((o, _)) = obj {
                return Ok(acl_grants(o.acl, true, principal, &action));
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_acls_grant_what_aws_documents() {
        let anon = Principal::Anonymous;
        let user = Principal::User("u".into());
        // Bucket READ lists; it does not read objects.
        assert!(acl_grants(
            CannedAcl::PublicRead,
            false,
            &anon,
            "s3:ListBucket"
        ));
        assert!(!acl_grants(
            CannedAcl::PublicRead,
            false,
            &anon,
            "s3:PutObject"
        ));
        assert!(!acl_grants(
            CannedAcl::PublicRead,
            false,
            &anon,
            "s3:GetObject"
        ));
        assert!(acl_grants(
            CannedAcl::PublicReadWrite,
            false,
            &anon,
            "s3:PutObject"
        ));
        assert!(!acl_grants(
            CannedAcl::PublicReadWrite,
            false,
            &anon,
            "s3:DeleteBucket"
        ));
        assert!(!acl_grants(
            CannedAcl::AuthenticatedRead,
            false,
            &anon,
            "s3:ListBucket"
        ));
        assert!(acl_grants(
            CannedAcl::AuthenticatedRead,
            false,
            &user,
            "s3:ListBucket"
        ));
        // Object READ reads it.
        assert!(acl_grants(
            CannedAcl::PublicRead,
            true,
            &anon,
            "s3:GetObject"
        ));
        assert!(!acl_grants(
            CannedAcl::PublicRead,
            true,
            &anon,
            "s3:GetObjectAcl"
        ));
        assert!(!acl_grants(CannedAcl::Private, true, &user, "s3:GetObject"));
    }

    #[test]
    fn operations_map_to_actions() {
        assert_eq!(action_of("HeadObject"), "s3:GetObject");
        assert_eq!(action_of("UploadPart"), "s3:PutObject");
        assert_eq!(action_of("ListObjectsV2"), "s3:ListBucket");
        assert_eq!(action_of("GetBucketPolicy"), "s3:GetBucketPolicy");
        for a in [
            "HeadBucket",
            "ListParts",
            "ListMultipartUploads",
            "AbortMultipartUpload",
            "DeleteBucket",
            "PutObjectAcl",
        ] {
            let name = action_of(a);
            assert!(policy::ACTIONS.contains(&&name[3..]), "{a} -> {name}");
        }
    }

    #[test]
    fn the_signed_region_is_read_from_the_header_or_the_query() {
        let mut h = http::HeaderMap::new();
        let uri: http::Uri = "/b/k".parse().unwrap();
        assert_eq!(signed_region(&h, &uri), None);
        h.insert(
            http::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=AK/20261202/US/s3/aws4_request, SignedHeaders=host, Signature=00"
                .parse()
                .unwrap(),
        );
        assert_eq!(signed_region(&h, &uri), Some(("US".into(), false)));
        let q: http::Uri = "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261202%2Feu-west-1%2Fs3%2Faws4_request"
            .parse()
            .unwrap();
        assert_eq!(
            signed_region(&http::HeaderMap::new(), &q),
            Some(("eu-west-1".into(), true))
        );
        assert!(region_accepted("us-east-1", "US"));
        assert!(region_accepted("us-east-1", "us-east-1"));
        assert!(!region_accepted("us-east-1", "eu-west-1"));
        assert!(!region_accepted("eu-west-1", "US"));
    }

    #[test]
    fn query_parameters_are_decoded() {
        let u: http::Uri = "/b?list-type=2&prefix=public%2Fa+b&delimiter=%2F"
            .parse()
            .unwrap();
        assert_eq!(query_param(&u, "prefix").as_deref(), Some("public/a b"));
        assert_eq!(query_param(&u, "delimiter").as_deref(), Some("/"));
        assert_eq!(query_param(&u, "max-keys"), None);
    }
}
