//! Object and bucket configurations kept in their records: object tags
//! (Get/Put/DeleteObjectTagging), bucket tags (Get/Put/DeleteBucketTagging),
//! versioning (Get/PutBucketVersioning), lifecycle rules (run by the meta
//! leader's lifecycle controller) and CORS rules (Get/Put/DeleteBucketCors; answering preflights and
//! adding CORS headers from them is [`crate::cors`]'s).

use objectio_cluster::{CorsRule, LifecycleRule, Versioning};
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
    let b = g.objects.bucket(&i.bucket).await.map_err(s3_err)?;
    if b.object_lock.is_some() && state != Versioning::Enabled {
        return Err(s3_error!(
            InvalidBucketState,
            "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed."
        ));
    }
    g.objects
        .update_bucket(&i.bucket, |b| b.versioning = Some(state))
        .await
        .map_err(s3_err)?;
    g.objects.forget_bucket(&i.bucket);
    Ok(S3Response::new(PutBucketVersioningOutput::default()))
}

/// The most rules a lifecycle configuration holds (as S3).
const MAX_LIFECYCLE_RULES: usize = 1000;

/// A bucket's lifecycle rules as kept, checked as S3 checks them.
fn lifecycle_rules(c: BucketLifecycleConfiguration) -> S3Result<Vec<LifecycleRule>> {
    if c.rules.is_empty() || c.rules.len() > MAX_LIFECYCLE_RULES {
        return Err(s3_error!(
            MalformedXML,
            "A lifecycle configuration holds 1 to {MAX_LIFECYCLE_RULES} rules"
        ));
    }
    let mut ids = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(c.rules.len());
    for r in c.rules {
        let id =
            r.id.clone()
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        if id.len() > 255 {
            return Err(s3_error!(
                InvalidArgument,
                "ID length should not exceed allowed limit of 255"
            ));
        }
        if !ids.insert(id.clone()) {
            return Err(s3_error!(
                InvalidArgument,
                "Rule ID must be unique. Found same ID for more than one rule"
            ));
        }
        let enabled = match r.status.as_str() {
            "Enabled" => true,
            "Disabled" => false,
            other => {
                return Err(s3_error!(
                    MalformedXML,
                    "Status {other:?} is neither Enabled nor Disabled"
                ));
            }
        };
        if r.transitions.as_ref().is_some_and(|t| !t.is_empty())
            || r.noncurrent_version_transitions
                .as_ref()
                .is_some_and(|t| !t.is_empty())
        {
            return Err(s3_error!(
                InvalidRequest,
                "Transitions are not supported: every object is stored as STANDARD"
            ));
        }
        let mut rule = LifecycleRule {
            id,
            enabled,
            ..Default::default()
        };
        let size = |n: Option<i64>| n.map(|n| n.max(0) as u64);
        match r.filter {
            Some(f) => {
                if let Some(a) = f.and {
                    rule.prefix = a.prefix.unwrap_or_default();
                    rule.tags = check_tags(
                        a.tags
                            .unwrap_or_default()
                            .into_iter()
                            .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
                            .collect(),
                        super::meta::MAX_TAGS,
                    )?;
                    rule.size_greater_than = size(a.object_size_greater_than);
                    rule.size_less_than = size(a.object_size_less_than);
                } else {
                    rule.prefix = f.prefix.unwrap_or_default();
                    if let Some(t) = f.tag {
                        rule.tags = check_tags(
                            vec![(t.key.unwrap_or_default(), t.value.unwrap_or_default())],
                            1,
                        )?;
                    }
                    rule.size_greater_than = size(f.object_size_greater_than);
                    rule.size_less_than = size(f.object_size_less_than);
                }
            }
            None => rule.prefix = r.prefix.unwrap_or_default(),
        }
        let positive = |what: &str, n: i32| -> S3Result<u32> {
            if n > 0 {
                Ok(n as u32)
            } else {
                Err(s3_error!(
                    InvalidArgument,
                    "'{what}' for the rule's action must be a positive integer"
                ))
            }
        };
        if let Some(e) = r.expiration {
            let set = [
                e.days.is_some(),
                e.date.is_some(),
                e.expired_object_delete_marker.is_some(),
            ];
            if set.iter().filter(|s| **s).count() != 1 {
                return Err(s3_error!(
                    MalformedXML,
                    "An Expiration holds exactly one of Days, Date and ExpiredObjectDeleteMarker"
                ));
            }
            if let Some(d) = e.days {
                rule.expiration_days = Some(positive("Days", d)?);
            }
            if let Some(d) = e.date {
                let t = time::OffsetDateTime::from(d);
                if t.time() != time::Time::MIDNIGHT {
                    return Err(s3_error!(InvalidArgument, "'Date' must be at midnight GMT"));
                }
                rule.expiration_date_ms = Some((t.unix_timestamp().max(0) as u64) * 1000);
            }
            if e.expired_object_delete_marker == Some(true) {
                if !rule.tags.is_empty() {
                    return Err(s3_error!(
                        InvalidRequest,
                        "ExpiredObjectDeleteMarker cannot be specified with object tags"
                    ));
                }
                rule.expired_object_delete_marker = true;
            }
        }
        if let Some(n) = r.noncurrent_version_expiration {
            rule.noncurrent_days =
                Some(positive("NoncurrentDays", n.noncurrent_days.unwrap_or(0))?);
            if let Some(k) = n.newer_noncurrent_versions {
                rule.newer_noncurrent_versions = Some(positive("NewerNoncurrentVersions", k)?);
            }
        }
        if let Some(a) = r.abort_incomplete_multipart_upload {
            if !rule.tags.is_empty() {
                return Err(s3_error!(
                    InvalidRequest,
                    "AbortIncompleteMultipartUpload cannot be specified with Tags."
                ));
            }
            rule.abort_incomplete_days = Some(positive(
                "DaysAfterInitiation",
                a.days_after_initiation.unwrap_or(0),
            )?);
        }
        if rule.expiration_days.is_none()
            && rule.expiration_date_ms.is_none()
            && !rule.expired_object_delete_marker
            && rule.noncurrent_days.is_none()
            && rule.abort_incomplete_days.is_none()
        {
            return Err(s3_error!(
                InvalidRequest,
                "At least one action needs to be specified in a rule"
            ));
        }
        out.push(rule);
    }
    Ok(out)
}

/// A kept rule as S3 answers it.
fn lifecycle_dto(r: LifecycleRule) -> s3s::dto::LifecycleRule {
    let tags: Vec<Tag> = tag_set(&r.tags);
    let sizes = r.size_greater_than.is_some() || r.size_less_than.is_some();
    let filter = if tags.len() > 1 || (!tags.is_empty() && (!r.prefix.is_empty() || sizes)) {
        LifecycleRuleFilter {
            and: Some(LifecycleRuleAndOperator {
                prefix: (!r.prefix.is_empty()).then(|| r.prefix.clone()),
                tags: Some(tags),
                object_size_greater_than: r.size_greater_than.map(|n| n as i64),
                object_size_less_than: r.size_less_than.map(|n| n as i64),
            }),
            ..Default::default()
        }
    } else {
        LifecycleRuleFilter {
            prefix: Some(r.prefix.clone()),
            tag: tags.into_iter().next(),
            object_size_greater_than: r.size_greater_than.map(|n| n as i64),
            object_size_less_than: r.size_less_than.map(|n| n as i64),
            ..Default::default()
        }
    };
    let expiration = (r.expiration_days.is_some()
        || r.expiration_date_ms.is_some()
        || r.expired_object_delete_marker)
        .then(|| LifecycleExpiration {
            days: r.expiration_days.map(|d| d as i32),
            date: r.expiration_date_ms.map(ts_ms),
            expired_object_delete_marker: r.expired_object_delete_marker.then_some(true),
        });
    s3s::dto::LifecycleRule {
        id: Some(r.id),
        status: ExpirationStatus::from_static(if r.enabled {
            ExpirationStatus::ENABLED
        } else {
            ExpirationStatus::DISABLED
        }),
        filter: Some(filter),
        expiration,
        noncurrent_version_expiration: r.noncurrent_days.map(|d| NoncurrentVersionExpiration {
            noncurrent_days: Some(d as i32),
            newer_noncurrent_versions: r.newer_noncurrent_versions.map(|n| n as i32),
        }),
        abort_incomplete_multipart_upload: r.abort_incomplete_days.map(|d| {
            AbortIncompleteMultipartUpload {
                days_after_initiation: Some(d as i32),
            }
        }),
        noncurrent_version_transitions: None,
        prefix: None,
        transitions: None,
    }
}

pub(super) async fn get_bucket_lifecycle_configuration(
    g: &Gateway,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
    let b = g.objects.bucket(&req.input.bucket).await.map_err(s3_err)?;
    let rules = b.lifecycle.ok_or_else(|| {
        s3_error!(
            NoSuchLifecycleConfiguration,
            "The lifecycle configuration does not exist"
        )
    })?;
    Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
        rules: Some(rules.into_iter().map(lifecycle_dto).collect()),
        transition_default_minimum_object_size: None,
    }))
}

pub(super) async fn put_bucket_lifecycle_configuration(
    g: &Gateway,
    req: S3Request<PutBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
    let i = req.input;
    let c = i
        .lifecycle_configuration
        .ok_or_else(|| s3_error!(MalformedXML, "The lifecycle configuration is missing"))?;
    let rules = lifecycle_rules(c)?;
    g.objects
        .update_bucket(&i.bucket, |b| b.lifecycle = Some(rules.clone()))
        .await
        .map_err(s3_err)?;
    Ok(S3Response::new(
        PutBucketLifecycleConfigurationOutput::default(),
    ))
}

pub(super) async fn delete_bucket_lifecycle(
    g: &Gateway,
    req: S3Request<DeleteBucketLifecycleInput>,
) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
    g.objects
        .update_bucket(&req.input.bucket, |b| b.lifecycle = None)
        .await
        .map_err(s3_err)?;
    Ok(no_content(DeleteBucketLifecycleOutput::default()))
}
