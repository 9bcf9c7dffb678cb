//! S3 object lock: a bucket's configuration (enabled at creation or on a
//! versioned bucket, for good; its default retention), each version's
//! retention (GOVERNANCE, COMPLIANCE) and legal hold. What is protected
//! is enforced by the object layer: a locked version is never deleted
//! (`Objects::delete` answers `Locked`), and versioning stays enabled so an
//! overwrite never replaces one. GOVERNANCE is lifted by
//! `x-amz-bypass-governance-retention: true` from a caller allowed
//! `s3:BypassGovernanceRetention` (the bucket owner, or by policy).

use objectio_cluster::{ObjectLockConfig, Retention, RetentionMode, Versioning, now_millis};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::get::read_version;
use super::*;
use crate::object::ObjectMeta;

const DAY_MS: u64 = 86_400_000;

fn mode_of(s: &str) -> S3Result<RetentionMode> {
    match s {
        "GOVERNANCE" => Ok(RetentionMode::Governance),
        "COMPLIANCE" => Ok(RetentionMode::Compliance),
        other => Err(s3_error!(
            InvalidArgument,
            "Unknown object lock mode {other:?}: GOVERNANCE or COMPLIANCE"
        )),
    }
}

fn mode_name(m: RetentionMode) -> &'static str {
    match m {
        RetentionMode::Governance => "GOVERNANCE",
        RetentionMode::Compliance => "COMPLIANCE",
    }
}

fn ms_of(t: &Timestamp) -> u64 {
    (time::OffsetDateTime::from(t.clone()).unix_timestamp_nanos() / 1_000_000).max(0) as u64
}

/// A retention from a mode and date given together (both or neither).
fn retention(mode: Option<&str>, until: Option<&Timestamp>) -> S3Result<Option<Retention>> {
    match (mode, until) {
        (None, None) => Ok(None),
        (Some(m), Some(u)) => {
            let until_ms = ms_of(u);
            if until_ms <= now_millis() {
                return Err(s3_error!(
                    InvalidArgument,
                    "The retain until date must be in the future"
                ));
            }
            Ok(Some(Retention {
                mode: mode_of(m)?,
                until_ms,
            }))
        }
        _ => Err(s3_error!(
            InvalidArgument,
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
        )),
    }
}

/// Sets a new version's object lock from its request (mode, date, legal
/// hold) or, when it names no retention, from the bucket's default; a
/// request naming one for a bucket without object lock is refused.
pub(super) async fn apply(
    g: &Gateway,
    bucket: &str,
    meta: &mut ObjectMeta,
    mode: Option<&str>,
    until: Option<&Timestamp>,
    legal_hold: Option<&str>,
) -> S3Result<()> {
    let r = retention(mode, until)?;
    let hold = match legal_hold {
        None | Some("OFF") => false,
        Some("ON") => true,
        Some(other) => {
            return Err(s3_error!(
                InvalidArgument,
                "Unknown legal hold status {other:?}"
            ));
        }
    };
    let lock = g
        .authz
        .dir
        .bucket(bucket)
        .await?
        .and_then(|b| b.object_lock);
    let Some(lock) = lock else {
        if r.is_some() || hold {
            return Err(s3_error!(
                InvalidRequest,
                "Bucket is missing Object Lock Configuration"
            ));
        }
        return Ok(());
    };
    meta.legal_hold = hold;
    meta.retention = r.or_else(|| {
        Some(Retention {
            mode: lock.default_mode?,
            until_ms: now_millis() + lock.default_days? as u64 * DAY_MS,
        })
    });
    Ok(())
}

/// Whether a request may lift GOVERNANCE retention: it asks to and its
/// caller is allowed to.
pub(super) async fn bypass(
    g: &Gateway,
    ext: &http::Extensions,
    asked: Option<bool>,
    bucket: &str,
    key: &str,
) -> S3Result<bool> {
    if asked != Some(true) {
        return Ok(false);
    }
    g.authz
        .allows(ext, "BypassGovernanceRetention", bucket, Some(key))
        .await
}

pub(super) async fn get_object_lock_configuration(
    g: &Gateway,
    req: S3Request<GetObjectLockConfigurationInput>,
) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
    let b = g.objects.bucket(&req.input.bucket).await.map_err(s3_err)?;
    let c = b.object_lock.ok_or_else(|| {
        s3_error!(
            ObjectLockConfigurationNotFoundError,
            "Object Lock configuration does not exist for this bucket"
        )
    })?;
    let rule = c.default_mode.map(|m| ObjectLockRule {
        default_retention: Some(DefaultRetention {
            mode: Some(ObjectLockRetentionMode::from(mode_name(m).to_string())),
            days: c
                .default_days
                .filter(|_| !c.default_in_years)
                .map(|d| d as i32),
            years: c
                .default_days
                .filter(|_| c.default_in_years)
                .map(|d| (d / 365) as i32),
        }),
    });
    Ok(S3Response::new(GetObjectLockConfigurationOutput {
        object_lock_configuration: Some(ObjectLockConfiguration {
            object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
            rule,
        }),
    }))
}

pub(super) async fn put_object_lock_configuration(
    g: &Gateway,
    req: S3Request<PutObjectLockConfigurationInput>,
) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
    let i = req.input;
    let c = i
        .object_lock_configuration
        .ok_or_else(|| s3_error!(MalformedXML, "The object lock configuration is missing"))?;
    if c.object_lock_enabled.as_ref().map(|e| e.as_str()) != Some("Enabled") {
        return Err(s3_error!(
            MalformedXML,
            "ObjectLockEnabled must be Enabled (object lock cannot be turned off)"
        ));
    }
    let mut config = ObjectLockConfig::default();
    if let Some(d) = c.rule.and_then(|r| r.default_retention) {
        let mode = d
            .mode
            .as_ref()
            .ok_or_else(|| s3_error!(MalformedXML, "A DefaultRetention needs a Mode"))?;
        config.default_mode = Some(mode_of(mode.as_str())?);
        let days = match (d.days, d.years) {
            (Some(n), None) if n > 0 => n as u32,
            (None, Some(y)) if y > 0 => {
                config.default_in_years = true;
                y as u32 * 365
            }
            _ => {
                return Err(s3_error!(
                    InvalidArgument,
                    "A DefaultRetention holds a positive Days or Years, not both"
                ));
            }
        };
        config.default_days = Some(days);
    }
    let b = g.objects.bucket(&i.bucket).await.map_err(s3_err)?;
    if b.versioning != Some(Versioning::Enabled) {
        return Err(s3_error!(
            InvalidBucketState,
            "Versioning must be enabled on the bucket to use object lock"
        ));
    }
    let (_, rev) = g
        .objects
        .update_bucket(&i.bucket, |b| b.object_lock = Some(config.clone()))
        .await
        .map_err(s3_err)?;
    g.seen(rev).await;
    Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
}

pub(super) async fn get_object_retention(
    g: &Gateway,
    req: S3Request<GetObjectRetentionInput>,
) -> S3Result<S3Response<GetObjectRetentionOutput>> {
    let i = &req.input;
    let rec = read_version(g, &i.bucket, &i.key, i.version_id.as_deref()).await?;
    let r = rec.retention.ok_or_else(|| {
        s3_error!(
            NoSuchObjectLockConfiguration,
            "The specified object does not have a ObjectLock configuration"
        )
    })?;
    Ok(S3Response::new(GetObjectRetentionOutput {
        retention: Some(ObjectLockRetention {
            mode: Some(ObjectLockRetentionMode::from(mode_name(r.mode).to_string())),
            retain_until_date: Some(ts_ms(r.until_ms)),
        }),
    }))
}

/// The bucket must have object lock for retention and legal holds.
async fn lock_enabled(g: &Gateway, bucket: &str) -> S3Result<()> {
    let b = g.objects.bucket(bucket).await.map_err(s3_err)?;
    if b.object_lock.is_none() {
        return Err(s3_error!(
            InvalidRequest,
            "Bucket is missing Object Lock Configuration"
        ));
    }
    Ok(())
}

pub(super) async fn put_object_retention(
    g: &Gateway,
    req: S3Request<PutObjectRetentionInput>,
) -> S3Result<S3Response<PutObjectRetentionOutput>> {
    let i = &req.input;
    lock_enabled(g, &i.bucket).await?;
    let new = match &i.retention {
        Some(r) => retention(
            r.mode.as_ref().map(|m| m.as_str()),
            r.retain_until_date.as_ref(),
        )?,
        None => None,
    };
    let bypass = bypass(
        g,
        &req.extensions,
        i.bypass_governance_retention,
        &i.bucket,
        &i.key,
    )
    .await?;
    g.objects
        .set_retention(&i.bucket, &i.key, i.version_id.as_deref(), new, bypass)
        .await
        .map_err(s3_err)?;
    Ok(S3Response::new(PutObjectRetentionOutput::default()))
}

pub(super) async fn get_object_legal_hold(
    g: &Gateway,
    req: S3Request<GetObjectLegalHoldInput>,
) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
    let i = &req.input;
    lock_enabled(g, &i.bucket).await?;
    let rec = read_version(g, &i.bucket, &i.key, i.version_id.as_deref()).await?;
    Ok(S3Response::new(GetObjectLegalHoldOutput {
        legal_hold: Some(ObjectLockLegalHold {
            status: Some(ObjectLockLegalHoldStatus::from_static(if rec.legal_hold {
                ObjectLockLegalHoldStatus::ON
            } else {
                ObjectLockLegalHoldStatus::OFF
            })),
        }),
    }))
}

pub(super) async fn put_object_legal_hold(
    g: &Gateway,
    req: S3Request<PutObjectLegalHoldInput>,
) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
    let i = &req.input;
    lock_enabled(g, &i.bucket).await?;
    let on = match i
        .legal_hold
        .as_ref()
        .and_then(|h| h.status.as_ref())
        .map(|s| s.as_str())
    {
        Some("ON") => true,
        Some("OFF") => false,
        _ => {
            return Err(s3_error!(
                MalformedXML,
                "The legal hold Status must be ON or OFF"
            ));
        }
    };
    g.objects
        .update_version(&i.bucket, &i.key, i.version_id.as_deref(), |r| {
            r.legal_hold = on
        })
        .await
        .map_err(s3_err)?;
    Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
}

/// The object lock headers GET and HEAD answer for a version.
pub(super) fn lock_headers(
    rec: &ObjectRecord,
) -> (
    Option<ObjectLockMode>,
    Option<Timestamp>,
    Option<ObjectLockLegalHoldStatus>,
) {
    (
        rec.retention
            .map(|r| ObjectLockMode::from(mode_name(r.mode).to_string())),
        rec.retention.map(|r| ts_ms(r.until_ms)),
        rec.legal_hold
            .then(|| ObjectLockLegalHoldStatus::from_static(ObjectLockLegalHoldStatus::ON)),
    )
}
