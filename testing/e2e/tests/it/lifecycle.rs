//! Lifecycle rules through real gateways and a real meta leader whose
//! lifecycle "day" is two seconds: current versions expire by age (and
//! only under the rule's prefix), noncurrent versions expire keeping the
//! newest N, lone delete markers go, incomplete uploads are aborted and
//! their space comes back; configurations are checked and answered back.

use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    NoncurrentVersionExpiration, Transition, TransitionStorageClass, VersioningConfiguration,
};
use objectio_testkit::{Cluster, Options};

use crate::common::*;

fn rule(id: &str, prefix: &str) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
}

async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t = Instant::now();
    while !f().await {
        assert!(
            t.elapsed() < Duration::from_secs(40),
            "{what}: not within 40 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn versions(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<(String, bool)> {
    let r = s3
        .list_object_versions()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let mut v: Vec<(String, bool)> = r
        .versions()
        .iter()
        .map(|v| (v.version_id().unwrap().to_string(), false))
        .collect();
    v.extend(
        r.delete_markers()
            .iter()
            .map(|m| (m.version_id().unwrap().to_string(), true)),
    );
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_lifecycle_rules_expire_versions_and_abort_uploads() {
    let c = Cluster::start_with(Options {
        meta_args: vec![
            "--lifecycle-interval-secs",
            "1",
            "--lifecycle-day-secs",
            "2",
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("lcy").send().await.unwrap();

    // Checked when stored; nothing stored when refused.
    let bad = [
        rule("t", "x/")
            .transitions(
                Transition::builder()
                    .days(1)
                    .storage_class(TransitionStorageClass::Glacier)
                    .build(),
            )
            .build()
            .unwrap(),
        rule("z", "x/")
            .expiration(LifecycleExpiration::builder().days(0).build())
            .build()
            .unwrap(),
        rule("n", "x/").build().unwrap(),
    ];
    for (r, code) in bad
        .into_iter()
        .zip(["InvalidRequest", "InvalidArgument", "InvalidRequest"])
    {
        let e = s3
            .put_bucket_lifecycle_configuration()
            .bucket("lcy")
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .rules(r)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(code), "{e:?}");
    }
    let e = s3
        .get_bucket_lifecycle_configuration()
        .bucket("lcy")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchLifecycleConfiguration"), "{e:?}");

    // An unversioned bucket: logs/ expire after a day, data/ stays;
    // uploads under up/ are aborted after a day.
    put(&s3, "lcy", "logs/a", data(10_000, 1)).await;
    put(&s3, "lcy", "data/a", data(10_000, 2)).await;
    let up = s3
        .create_multipart_upload()
        .bucket("lcy")
        .key("up/u")
        .send()
        .await
        .unwrap();
    s3.upload_part()
        .bucket("lcy")
        .key("up/u")
        .upload_id(up.upload_id().unwrap())
        .part_number(1)
        .body(data(100_000, 3).into())
        .send()
        .await
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket("lcy")
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(
                    rule("logs", "logs/")
                        .expiration(LifecycleExpiration::builder().days(1).build())
                        .build()
                        .unwrap(),
                )
                .rules(
                    rule("uploads", "up/")
                        .abort_incomplete_multipart_upload(
                            AbortIncompleteMultipartUpload::builder()
                                .days_after_initiation(1)
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let got = s3
        .get_bucket_lifecycle_configuration()
        .bucket("lcy")
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = got.rules().iter().filter_map(|r| r.id()).collect();
    assert_eq!(ids, vec!["logs", "uploads"]);
    assert_eq!(got.rules()[0].expiration().and_then(|e| e.days()), Some(1));
    wait_until("logs/a expired", || async {
        s3.head_object()
            .bucket("lcy")
            .key("logs/a")
            .send()
            .await
            .is_err()
    })
    .await;
    wait_until("the upload aborted", || async {
        s3.list_multipart_uploads()
            .bucket("lcy")
            .send()
            .await
            .unwrap()
            .uploads()
            .is_empty()
    })
    .await;
    assert_eq!(get(&s3, "lcy", "data/a").await, data(10_000, 2));
    // Only data/a's six shards are left once GC has run.
    wait_shards(&c, 6).await;
    s3.delete_bucket_lifecycle()
        .bucket("lcy")
        .send()
        .await
        .unwrap();
    let e = s3
        .get_bucket_lifecycle_configuration()
        .bucket("lcy")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchLifecycleConfiguration"));

    // A versioned bucket: noncurrent versions expire a day after they
    // became noncurrent, but the newest one is kept; under m/, a deleted
    // key's versions go and then its lone delete marker.
    s3.create_bucket().bucket("lcv").send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket("lcv")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..3u64 {
        let r = s3
            .put_object()
            .bucket("lcv")
            .key("k")
            .body(data(1000, i).into())
            .send()
            .await
            .unwrap();
        ids.push(r.version_id().unwrap().to_string());
    }
    put(&s3, "lcv", "m/x", b"short-lived".to_vec()).await;
    s3.delete_object()
        .bucket("lcv")
        .key("m/x")
        .send()
        .await
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket("lcv")
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(
                    rule("keep-one", "k")
                        .noncurrent_version_expiration(
                            NoncurrentVersionExpiration::builder()
                                .noncurrent_days(1)
                                .newer_noncurrent_versions(1)
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .rules(
                    rule("markers", "m/")
                        .expiration(
                            LifecycleExpiration::builder()
                                .expired_object_delete_marker(true)
                                .build(),
                        )
                        .noncurrent_version_expiration(
                            NoncurrentVersionExpiration::builder()
                                .noncurrent_days(1)
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    wait_until("the oldest version of k expired", || async {
        versions(&s3, "lcv", "k").await.len() == 2
    })
    .await;
    assert_eq!(
        versions(&s3, "lcv", "k").await,
        vec![(ids[2].clone(), false), (ids[1].clone(), false)],
        "the current version and the newest noncurrent one stay"
    );
    assert_eq!(get(&s3, "lcv", "k").await, data(1000, 2));
    wait_until("m/x left no version and no marker", || async {
        versions(&s3, "lcv", "m/").await.is_empty()
    })
    .await;
    // data/a's six shards and k's two versions of 1000 bytes, three
    // copies each.
    wait_shards(&c, 6 + 2 * 3).await;
}
