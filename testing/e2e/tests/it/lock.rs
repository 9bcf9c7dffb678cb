//! Object lock through real gateways: a bucket created with it (versioning
//! on for good), its default retention, GOVERNANCE lifted only by the
//! bypass header, COMPLIANCE never shortened, legal holds, per-key refusal
//! in DeleteObjects, and what a bucket without it refuses.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{
    BucketVersioningStatus, DefaultRetention, Delete, ObjectIdentifier, ObjectLockConfiguration,
    ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode,
    ObjectLockRetention, ObjectLockRetentionMode, ObjectLockRule, VersioningConfiguration,
};
use objectio_testkit::Cluster;

use crate::common::*;

fn in_secs(s: u64) -> DateTime {
    DateTime::from(SystemTime::now() + Duration::from_secs(s))
}

async fn put_v(s3: &aws_sdk_s3::Client, key: &str) -> String {
    s3.put_object()
        .bucket("lck")
        .key(key)
        .body(b"locked".to_vec().into())
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap()
}

async fn delete_v(s3: &aws_sdk_s3::Client, key: &str, v: &str, bypass: bool) -> Result<(), String> {
    s3.delete_object()
        .bucket("lck")
        .key(key)
        .version_id(v)
        .set_bypass_governance_retention(bypass.then_some(true))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| e.code().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_object_lock_keeps_versions_until_it_allows_their_deletion() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket()
        .bucket("lck")
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    let v = s3
        .get_bucket_versioning()
        .bucket("lck")
        .send()
        .await
        .unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled));
    let e = s3
        .put_bucket_versioning()
        .bucket("lck")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidBucketState"), "{e:?}");
    s3.put_object_lock_configuration()
        .bucket("lck")
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(
                            DefaultRetention::builder()
                                .mode(ObjectLockRetentionMode::Governance)
                                .days(1)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object_lock_configuration()
        .bucket("lck")
        .send()
        .await
        .unwrap();
    let d = got
        .object_lock_configuration()
        .and_then(|c| c.rule())
        .and_then(|r| r.default_retention())
        .unwrap();
    assert_eq!(d.mode(), Some(&ObjectLockRetentionMode::Governance));
    assert_eq!(d.days(), Some(1));

    // The default retention: GOVERNANCE for a day; only the bypass lifts it.
    let g1 = put_v(&s3, "gov").await;
    let h = s3
        .head_object()
        .bucket("lck")
        .key("gov")
        .send()
        .await
        .unwrap();
    assert_eq!(h.object_lock_mode(), Some(&ObjectLockMode::Governance));
    let until = h.object_lock_retain_until_date().unwrap().secs();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((until - now - 86_400).abs() < 120, "{until} vs {now}");
    assert_eq!(
        delete_v(&s3, "gov", &g1, false).await,
        Err("AccessDenied".into())
    );
    // A delete without a version id only puts a marker in front.
    let d = s3
        .delete_object()
        .bucket("lck")
        .key("gov")
        .send()
        .await
        .unwrap();
    assert_eq!(d.delete_marker(), Some(true));
    assert_eq!(delete_v(&s3, "gov", &g1, true).await, Ok(()));

    // COMPLIANCE: never lifted, never shortened, never weakened.
    let c1 = s3
        .put_object()
        .bucket("lck")
        .key("comp")
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(in_secs(3600))
        .body(b"kept".to_vec().into())
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    assert_eq!(
        delete_v(&s3, "comp", &c1, true).await,
        Err("AccessDenied".into())
    );
    let retention = |mode: ObjectLockRetentionMode, secs: u64| {
        ObjectLockRetention::builder()
            .mode(mode)
            .retain_until_date(in_secs(secs))
            .build()
    };
    for (mode, secs) in [
        (ObjectLockRetentionMode::Compliance, 60),
        (ObjectLockRetentionMode::Governance, 7200),
    ] {
        let e = s3
            .put_object_retention()
            .bucket("lck")
            .key("comp")
            .version_id(&c1)
            .bypass_governance_retention(true)
            .retention(retention(mode, secs))
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("AccessDenied"), "{e:?}");
    }
    s3.put_object_retention()
        .bucket("lck")
        .key("comp")
        .version_id(&c1)
        .retention(retention(ObjectLockRetentionMode::Compliance, 7200))
        .send()
        .await
        .unwrap();
    let r = s3
        .get_object_retention()
        .bucket("lck")
        .key("comp")
        .version_id(&c1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.retention().and_then(|r| r.mode()),
        Some(&ObjectLockRetentionMode::Compliance)
    );
    assert_eq!(get(&s3, "lck", "comp").await, b"kept");

    // A legal hold keeps a version whatever its retention says.
    let h1 = put_v(&s3, "held").await;
    s3.put_object_legal_hold()
        .bucket("lck")
        .key("held")
        .version_id(&h1)
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let lh = s3
        .get_object_legal_hold()
        .bucket("lck")
        .key("held")
        .version_id(&h1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        lh.legal_hold().and_then(|h| h.status()),
        Some(&ObjectLockLegalHoldStatus::On)
    );
    assert_eq!(
        delete_v(&s3, "held", &h1, true).await,
        Err("AccessDenied".into())
    );
    // DeleteObjects refuses the locked keys alone.
    let r = s3
        .delete_objects()
        .bucket("lck")
        .bypass_governance_retention(true)
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("held")
                        .version_id(&h1)
                        .build()
                        .unwrap(),
                )
                .objects(
                    ObjectIdentifier::builder()
                        .key("comp")
                        .version_id(&c1)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let codes: Vec<Option<&str>> = r.errors().iter().map(|e| e.code()).collect();
    assert_eq!(codes, vec![Some("AccessDenied"), Some("AccessDenied")]);
    s3.put_object_legal_hold()
        .bucket("lck")
        .key("held")
        .version_id(&h1)
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::Off)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(delete_v(&s3, "held", &h1, true).await, Ok(()));

    // Another user allowed to delete versions but not to bypass: refused.
    c.create_user("bob").await.unwrap();
    let (bk, bs) = c.create_key("bob").await.unwrap();
    let bob = s3_with(&c, &bk, &bs, None);
    s3.put_bucket_policy()
        .bucket("lck")
        .policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
              "Principal": {"AWS": "arn:objectio:iam:::user/bob"},
              "Action": ["s3:DeleteObject", "s3:PutObject"], "Resource": "arn:aws:s3:::lck/*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let g2 = put_v(&bob, "bobs").await;
    assert_eq!(
        delete_v(&bob, "bobs", &g2, true).await,
        Err("AccessDenied".into())
    );
    assert_eq!(delete_v(&s3, "bobs", &g2, true).await, Ok(()));

    // A bucket without object lock refuses what needs it.
    s3.create_bucket().bucket("plain").send().await.unwrap();
    let e = s3
        .put_object()
        .bucket("plain")
        .key("k")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(in_secs(3600))
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidRequest"), "{e:?}");
    let e = s3
        .get_object_lock_configuration()
        .bucket("plain")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Some("ObjectLockConfigurationNotFoundError"),
        "{e:?}"
    );
    let e = s3
        .put_object_lock_configuration()
        .bucket("plain")
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidBucketState"), "{e:?}");
    // Mode without a date.
    let e = s3
        .put_object()
        .bucket("lck")
        .key("half")
        .object_lock_mode(ObjectLockMode::Governance)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidArgument"), "{e:?}");
}
