//! Object and bucket configurations kept in their records: object tags
//! (Get/Put/DeleteObjectTagging), bucket tags (Get/Put/DeleteBucketTagging),
//! versioning (Get/PutBucketVersioning) and CORS rules (Get/Put/DeleteBucketCors; answering preflights and
//! adding CORS headers from them is [`crate::cors`]'s).

use objectio_cluster::{CorsRule, Versioning};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::get::{read_version, version_header};
use super::meta::check_tags;
use super::*;

fn tag_set(tags: &std::collections::BTreeMap<String, String>) -> TagSet {
    tags.iter()
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

fn tags_of(t: Tagging, max: usize) -> S3Result<std::collections::BTreeMap<String, String>> {
    check_tags(
        t.tag_set
            .into_iter()
            .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
            .collect(),
        max,
    )
}

/// The most tags on a bucket.
const MAX_BUCKET_TAGS: usize = 50;

fn no_content<T>(out: T) -> S3Response<T> {
    let mut r = S3Response::new(out);
    r.status = Some(http::StatusCode::NO_CONTENT);
    r
}

pub(super) async fn get_object_tagging(
    g: &Gateway,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let i = &req.input;
    let rec = read_version(g, &i.bucket, &i.key, i.version_id.as_deref()).await?;
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set: tag_set(&rec.tags),
        version_id: version_header(&rec),
    }))
}

/// Sets the tags of the version a request names (the current one when it
/// names none); the version's id when it has one.
async fn set_object_tags(
    g: &Gateway,
    bucket: &str,
    key: &str,
    v: Option<&str>,
    tags: std::collections::BTreeMap<String, String>,
) -> S3Result<Option<String>> {
    let rec = g
        .objects
        .update_version(bucket, key, v, |r| r.tags = tags.clone())
        .await
        .map_err(s3_err)?;
    Ok(version_header(&rec))
}

pub(super) async fn put_object_tagging(
    g: &Gateway,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let i = req.input;
    let tags = tags_of(i.tagging, super::meta::MAX_TAGS)?;
    let version_id = set_object_tags(g, &i.bucket, &i.key, i.version_id.as_deref(), tags).await?;
    Ok(S3Response::new(PutObjectTaggingOutput { version_id }))
}

pub(super) async fn delete_object_tagging(
    g: &Gateway,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let i = req.input;
    set_object_tags(
        g,
        &i.bucket,
        &i.key,
        i.version_id.as_deref(),
        Default::default(),
    )
    .await?;
    Ok(no_content(DeleteObjectTaggingOutput { version_id: None }))
}

pub(super) async fn get_bucket_tagging(
    g: &Gateway,
    req: S3Request<GetBucketTaggingInput>,
) -> S3Result<S3Response<GetBucketTaggingOutput>> {
    let b = g.objects.bucket(&req.input.bucket).await.map_err(s3_err)?;
    if b.tags.is_empty() {
        return Err(s3_error!(NoSuchTagSet, "The TagSet does not exist"));
    }
    Ok(S3Response::new(GetBucketTaggingOutput {
        tag_set: tag_set(&b.tags),
    }))
}

pub(super) async fn put_bucket_tagging(
    g: &Gateway,
    req: S3Request<PutBucketTaggingInput>,
) -> S3Result<S3Response<PutBucketTaggingOutput>> {
    let i = req.input;
    let tags = tags_of(i.tagging, MAX_BUCKET_TAGS)?;
    g.objects
        .update_bucket(&i.bucket, |b| b.tags = tags.clone())
        .await
        .map_err(s3_err)?;
    Ok(no_content(PutBucketTaggingOutput::default()))
}

pub(super) async fn delete_bucket_tagging(
    g: &Gateway,
    req: S3Request<DeleteBucketTaggingInput>,
) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
    g.objects
        .update_bucket(&req.input.bucket, |b| b.tags.clear())
        .await
        .map_err(s3_err)?;
    Ok(no_content(DeleteBucketTaggingOutput::default()))
}

/// The most CORS rules on a bucket (as S3).
const MAX_CORS_RULES: usize = 100;

const CORS_METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

/// A bucket's CORS rules as kept, checked as S3 checks them.
fn cors_rules(c: CORSConfiguration) -> S3Result<Vec<CorsRule>> {
    if c.cors_rules.is_empty() || c.cors_rules.len() > MAX_CORS_RULES {
        return Err(s3_error!(
            MalformedXML,
            "A CORS configuration holds 1 to {MAX_CORS_RULES} rules"
        ));
    }
    c.cors_rules
        .into_iter()
        .map(|r| {
            if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
                return Err(s3_error!(
                    MalformedXML,
                    "Every CORSRule needs an AllowedOrigin and an AllowedMethod"
                ));
            }
            if let Some(m) = r
                .allowed_methods
                .iter()
                .find(|m| !CORS_METHODS.contains(&m.as_str()))
            {
                return Err(s3_error!(
                    InvalidRequest,
                    "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                ));
            }
            for o in &r.allowed_origins {
                if o.matches('*').count() > 1 {
                    return Err(s3_error!(
                        InvalidRequest,
                        "AllowedOrigin \"{o}\" can not have more than one wildcard."
                    ));
                }
            }
            for h in r.allowed_headers.iter().flatten() {
                if h.matches('*').count() > 1 {
                    return Err(s3_error!(
                        InvalidRequest,
                        "AllowedHeader \"{h}\" can not have more than one wildcard."
                    ));
                }
            }
            Ok(CorsRule {
                id: r.id,
                allowed_origins: r.allowed_origins,
                allowed_methods: r.allowed_methods,
                allowed_headers: r.allowed_headers.unwrap_or_default(),
                expose_headers: r.expose_headers.unwrap_or_default(),
                max_age_seconds: r.max_age_seconds,
            })
        })
        .collect()
}

pub(super) async fn get_bucket_cors(
    g: &Gateway,
    req: S3Request<GetBucketCorsInput>,
) -> S3Result<S3Response<GetBucketCorsOutput>> {
    let b = g.objects.bucket(&req.input.bucket).await.map_err(s3_err)?;
    let rules = b.cors.ok_or_else(|| {
        s3_error!(
            NoSuchCORSConfiguration,
            "The CORS configuration does not exist"
        )
    })?;
    Ok(S3Response::new(GetBucketCorsOutput {
        cors_rules: Some(
            rules
                .into_iter()
                .map(|r| CORSRule {
                    allowed_headers: (!r.allowed_headers.is_empty()).then_some(r.allowed_headers),
                    allowed_methods: r.allowed_methods,
                    allowed_origins: r.allowed_origins,
                    expose_headers: (!r.expose_headers.is_empty()).then_some(r.expose_headers),
                    id: r.id,
                    max_age_seconds: r.max_age_seconds,
                })
                .collect(),
        ),
    }))
}

pub(super) async fn put_bucket_cors(
    g: &Gateway,
    req: S3Request<PutBucketCorsInput>,
) -> S3Result<S3Response<PutBucketCorsOutput>> {
    let i = req.input;
    let rules = cors_rules(i.cors_configuration)?;
    let (_, rev) = g
        .objects
        .update_bucket(&i.bucket, |b| b.cors = Some(rules.clone()))
        .await
        .map_err(s3_err)?;
    g.seen(rev).await;
    Ok(S3Response::new(PutBucketCorsOutput::default()))
}

pub(super) async fn delete_bucket_cors(
    g: &Gateway,
    req: S3Request<DeleteBucketCorsInput>,
) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
    let (_, rev) = g
        .objects
        .update_bucket(&req.input.bucket, |b| b.cors = None)
        .await
        .map_err(s3_err)?;
    g.seen(rev).await;
    Ok(no_content(DeleteBucketCorsOutput::default()))
}

pub(super) async fn get_bucket_versioning(
    g: &Gateway,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let b = g.objects.bucket(&req.input.bucket).await.map_err(s3_err)?;
    Ok(S3Response::new(GetBucketVersioningOutput {
        mfa_delete: None,
        status: b.versioning.map(|v| {
            BucketVersioningStatus::from_static(match v {
                Versioning::Enabled => BucketVersioningStatus::ENABLED,
                Versioning::Suspended => BucketVersioningStatus::SUSPENDED,
            })
        }),
    }))
}

/// PutBucketVersioning: Enabled or Suspended (a bucket never goes back to
/// unversioned, as in S3); MFA delete is not supported.
pub(super) async fn put_bucket_versioning(
    g: &Gateway,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let i = req.input;
    let c = i.versioning_configuration;
    if c.mfa_delete
        .as_ref()
        .is_some_and(|m| m.as_str() == "Enabled")
    {
        return Err(s3_error!(NotImplemented, "MFA delete is not supported"));
    }
    let state = match c.status.as_ref().map(|s| s.as_str()) {
        Some("Enabled") => Versioning::Enabled,
        Some("Suspended") => Versioning::Suspended,
        _ => {
            return Err(s3_error!(
                MalformedXML,
                "The versioning Status must be Enabled or Suspended"
            ));
        }
    };
    g.objects
        .update_bucket(&i.bucket, |b| b.versioning = Some(state))
        .await
        .map_err(s3_err)?;
    g.objects.forget_bucket(&i.bucket);
    Ok(S3Response::new(PutBucketVersioningOutput::default()))
}
