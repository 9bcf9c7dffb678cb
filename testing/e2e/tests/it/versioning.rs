//! S3 versioning through real gateways: enable and suspend, version ids,
//! the null version of objects from before, delete markers, GET/HEAD/
//! DELETE/copy/tagging by version id, ListObjectVersions with markers,
//! space given back when versions go, and noncurrent versions repaired
//! off an OSD taken out like any object.

use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    BucketVersioningStatus, Delete, ObjectIdentifier, Tag, Tagging, VersioningConfiguration,
};
use objectio_cluster::{ObjectRecord, Store};
use objectio_testkit::{Cluster, Options};

use crate::common::*;

async fn set_versioning(s3: &aws_sdk_s3::Client, bucket: &str, status: BucketVersioningStatus) {
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .unwrap();
}

async fn put_v(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) -> String {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.to_vec().into())
        .send()
        .await
        .unwrap()
        .version_id
        .expect("a version id")
}

async fn get_v(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, v: &str) -> Vec<u8> {
    let r = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .version_id(v)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {key}@{v}: {e:?}"));
    r.body.collect().await.unwrap().into_bytes().to_vec()
}

/// Every (key, version id, is latest, is a delete marker) of a bucket,
/// paging `page` at a time: in ListObjectVersions order when each page
/// holds one entry (a page lists its versions, then its delete markers).
async fn all_versions(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    page: i32,
) -> Vec<(String, String, bool, bool)> {
    let mut out = Vec::new();
    let (mut km, mut vm): (Option<String>, Option<String>) = (None, None);
    loop {
        let r = s3
            .list_object_versions()
            .bucket(bucket)
            .max_keys(page)
            .set_key_marker(km.clone())
            .set_version_id_marker(vm.clone())
            .send()
            .await
            .unwrap();
        // Versions, then delete markers: S3 answers them in two lists.
        for v in r.versions() {
            out.push((
                v.key().unwrap().into(),
                v.version_id().unwrap().into(),
                v.is_latest().unwrap(),
                false,
            ));
        }
        for m in r.delete_markers() {
            out.push((
                m.key().unwrap().into(),
                m.version_id().unwrap().into(),
                m.is_latest().unwrap(),
                true,
            ));
        }
        if !r.is_truncated().unwrap() {
            return out;
        }
        km = r.next_key_marker().map(String::from);
        vm = r.next_version_id_marker().map(String::from);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_versioning_keeps_every_version_until_each_is_deleted() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("ver").send().await.unwrap();
    put(&s3, "ver", "k", b"original".to_vec()).await;
    let st = s3
        .get_bucket_versioning()
        .bucket("ver")
        .send()
        .await
        .unwrap();
    assert_eq!(st.status(), None);
    set_versioning(&s3, "ver", BucketVersioningStatus::Enabled).await;
    let st = s3
        .get_bucket_versioning()
        .bucket("ver")
        .send()
        .await
        .unwrap();
    assert_eq!(st.status(), Some(&BucketVersioningStatus::Enabled));

    let v1 = put_v(&s3, "ver", "k", b"one").await;
    let v2 = put_v(&s3, "ver", "k", b"two").await;
    assert!(v1 != v2 && v1 != "null" && v2 != "null");
    assert_eq!(get(&s3, "ver", "k").await, b"two");
    assert_eq!(get_v(&s3, "ver", "k", &v1).await, b"one");
    // The object from before versioning is the null version.
    assert_eq!(get_v(&s3, "ver", "k", "null").await, b"original");
    let h = s3
        .head_object()
        .bucket("ver")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(h.version_id(), Some(v1.as_str()));
    assert_eq!(h.content_length(), Some(3));
    let e = s3
        .get_object()
        .bucket("ver")
        .key("k")
        .version_id("00000000-0000-0000-0000-000000000009")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchVersion"), "{e:?}");
    let e = s3
        .get_object()
        .bucket("ver")
        .key("k")
        .version_id("garbage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidArgument"), "{e:?}");

    // A delete without a version id puts a delete marker in front.
    let d = s3
        .delete_object()
        .bucket("ver")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(d.delete_marker(), Some(true));
    let marker = d.version_id().unwrap().to_string();
    let e = s3
        .get_object()
        .bucket("ver")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchKey"));
    let raw = e.raw_response().unwrap();
    assert_eq!(
        raw.headers().get("x-amz-delete-marker"),
        Some("true"),
        "{:?}",
        raw.headers()
    );
    let e = s3
        .head_object()
        .bucket("ver")
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(405));
    let listed = s3.list_objects_v2().bucket("ver").send().await.unwrap();
    assert!(listed.contents().is_empty(), "{:?}", listed.contents());
    // A page is not truncated when all that follows is a delete marker
    // (and the versions behind it).
    put_v(&s3, "ver", "mark-a", b"a").await;
    put_v(&s3, "ver", "mark-b", b"b").await;
    s3.delete_object()
        .bucket("ver")
        .key("mark-b")
        .send()
        .await
        .unwrap();
    let page = s3
        .list_objects_v2()
        .bucket("ver")
        .prefix("mark-")
        .max_keys(1)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, vec!["mark-a"]);
    assert_eq!(page.is_truncated(), Some(false), "{page:?}");
    for k in ["mark-a", "mark-b"] {
        let vs: Vec<(String, bool)> = all_versions(&s3, "ver", 1000)
            .await
            .into_iter()
            .filter(|v| v.0 == k)
            .map(|v| (v.1, v.3))
            .collect();
        for (v, _) in vs {
            s3.delete_object()
                .bucket("ver")
                .key(k)
                .version_id(v)
                .send()
                .await
                .unwrap();
        }
    }
    let other = put_v(&s3, "ver", "other", b"x").await;
    let expected: Vec<(String, String, bool, bool)> = vec![
        ("k".into(), marker.clone(), true, true),
        ("k".into(), v2.clone(), false, false),
        ("k".into(), v1.clone(), false, false),
        ("k".into(), "null".into(), false, false),
        ("other".into(), other, true, false),
    ];
    // One entry a page, by key and version-id markers: S3's order exactly.
    assert_eq!(all_versions(&s3, "ver", 1).await, expected);
    let sorted = |mut v: Vec<(String, String, bool, bool)>| {
        v.sort();
        v
    };
    for page in [2, 3, 1000] {
        assert_eq!(
            sorted(all_versions(&s3, "ver", page).await),
            sorted(expected.clone()),
            "pages of {page}"
        );
    }

    // Deleting the marker brings the newest version back.
    let d = s3
        .delete_object()
        .bucket("ver")
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap();
    assert_eq!(d.delete_marker(), Some(true));
    assert_eq!(get(&s3, "ver", "k").await, b"two");
    // Deleting the current version promotes the one before it.
    s3.delete_object()
        .bucket("ver")
        .key("k")
        .version_id(&v2)
        .send()
        .await
        .unwrap();
    assert_eq!(get(&s3, "ver", "k").await, b"one");

    // Tags and copies by version id.
    s3.put_object_tagging()
        .bucket("ver")
        .key("k")
        .version_id("null")
        .tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("era").value("before").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let t = s3
        .get_object_tagging()
        .bucket("ver")
        .key("k")
        .version_id("null")
        .send()
        .await
        .unwrap();
    assert_eq!(t.tag_set()[0].value(), "before");
    let t = s3
        .get_object_tagging()
        .bucket("ver")
        .key("k")
        .send()
        .await
        .unwrap();
    assert!(t.tag_set().is_empty(), "the current version has none");
    let cp = s3
        .copy_object()
        .bucket("ver")
        .key("restored")
        .copy_source("ver/k?versionId=null")
        .send()
        .await
        .unwrap();
    assert_eq!(
        cp.copy_source_version_id(),
        None,
        "the null version has no id"
    );
    assert!(cp.version_id().is_some());
    assert_eq!(get(&s3, "ver", "restored").await, b"original");

    // Suspended: new writes are the null version, replacing the old one.
    set_versioning(&s3, "ver", BucketVersioningStatus::Suspended).await;
    let r = s3
        .put_object()
        .bucket("ver")
        .key("k")
        .body(b"suspended".to_vec().into())
        .send()
        .await
        .unwrap();
    assert_eq!(r.version_id(), None);
    assert_eq!(get_v(&s3, "ver", "k", "null").await, b"suspended");
    let ks: Vec<(String, String, bool, bool)> = all_versions(&s3, "ver", 1000)
        .await
        .into_iter()
        .filter(|v| v.0 == "k")
        .collect();
    assert_eq!(
        ks,
        vec![
            ("k".into(), "null".into(), true, false),
            ("k".into(), v1.clone(), false, false),
        ]
    );

    // Deleting every version gives every shard back; then the bucket goes.
    let every: Vec<ObjectIdentifier> = all_versions(&s3, "ver", 1000)
        .await
        .into_iter()
        .map(|(k, v, _, _)| {
            ObjectIdentifier::builder()
                .key(k)
                .version_id(v)
                .build()
                .unwrap()
        })
        .collect();
    let r = s3
        .delete_objects()
        .bucket("ver")
        .delete(Delete::builder().set_objects(Some(every)).build().unwrap())
        .send()
        .await
        .unwrap();
    assert!(r.errors().is_empty(), "{:?}", r.errors());
    assert!(all_versions(&s3, "ver", 1000).await.is_empty());
    assert_eq!(wait_shards(&c, 0).await, 0);
    s3.delete_bucket().bucket("ver").send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_noncurrent_versions_are_repaired_off_an_osd_marked_out() {
    let c = Cluster::start_with(Options {
        osds: 7,
        ..Default::default()
    })
    .await
    .unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("vrp").send().await.unwrap();
    set_versioning(&s3, "vrp", BucketVersioningStatus::Enabled).await;
    let mut written = Vec::new();
    for i in 0..4u64 {
        let body = data((1 << 20) + i as usize, i);
        let v = put_v(&s3, "vrp", "k", &body).await;
        written.push((v, body));
    }
    let store = Store::connect(&[c.etcd_endpoint()], "it").await.unwrap();
    let records = || async {
        store
            .list::<ObjectRecord>(store.keys().objects_prefix("vrp"))
            .await
            .unwrap()
            .into_iter()
            .map(|(_, r)| r)
            .collect::<Vec<_>>()
    };
    assert_eq!(records().await.iter().filter(|r| r.noncurrent).count(), 3);
    let target = c.osds[0].id.clone();
    let (ok, _, err) = cli(&c, &["osd", "out", &target]);
    assert!(ok, "{err}");
    let t = Instant::now();
    while records().await.iter().any(|r| {
        r.shards.iter().flatten().any(|l| l.osd == target) || r.shards.iter().flatten().count() != 6
    }) {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "a version still has shards on the out OSD"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (v, body) in &written {
        assert_eq!(&get_v(&s3, "vrp", "k", v).await, body, "{v}");
    }
}
