//! The object index's records in etcd: compact, naming disks by index,
//! JSON ones from before still read, and a damaged value refused cleanly.

use std::collections::HashSet;

use aws_sdk_s3::types::{Tag, Tagging};
use objectio_cluster::{DiskRecord, ObjectRecord, Store};
use objectio_testkit::Cluster;

use crate::common::*;

async fn raw(store: &Store, key: &[u8]) -> Vec<u8> {
    let r = store.kv().get(key.to_vec(), None).await.unwrap();
    r.kvs()[0].value().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_records_are_compact_json_ones_still_read_and_a_damaged_one_is_a_clean_error() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("rec").send().await.unwrap();
    let small = data(4096, 1);
    let large = data(300 << 10, 2);
    put(&s3, "rec", "small", small.clone()).await;
    put(&s3, "rec", "large", large.clone()).await;

    let store = Store::connect_with(&[c.etcd_endpoint()], "it", c.etcd_security())
        .await
        .unwrap();
    // Every disk has its own index, given when it registered.
    let disks = store
        .list::<DiskRecord>(store.keys().disks_prefix())
        .await
        .unwrap();
    let indexes: HashSet<u32> = disks.iter().map(|(_, d)| d.index).collect();
    assert_eq!(indexes.len(), disks.len(), "indexes repeat: {indexes:?}");
    assert!(!indexes.contains(&0), "a disk has no index: {indexes:?}");

    // Both records are compact: the small one (three copies) and the 4+2
    // one stay under 70 bytes, where their JSON is 400–600.
    for (key, shards) in [("small", 3), ("large", 6)] {
        let k = store.keys().object("rec", key);
        let v = raw(&store, &k).await;
        assert!(ObjectRecord::is_compact(&v), "{key} is not compact");
        assert!(v.len() < 70, "{key}: {} bytes", v.len());
        // A store that has never seen the map learns the disks on demand.
        let rec = record(&c, "rec", key).await;
        assert_eq!((rec.bucket.as_str(), rec.key.as_str()), ("rec", key));
        assert_eq!(rec.shards.iter().flatten().count(), shards, "{key}");
        for loc in rec.shards.iter().flatten() {
            let d = disks.iter().find(|(_, d)| d.id == loc.disk).unwrap();
            assert_eq!(d.1.osd, loc.osd, "{key}: shard on a disk of another OSD");
        }
        assert!(serde_json::to_vec(&rec).unwrap().len() > 5 * v.len());
    }

    // A JSON record (as every build before wrote them) reads as before,
    // and its next rewrite is compact.
    let lk = store.keys().object("rec", "large");
    let rec = record(&c, "rec", "large").await;
    store.put(lk.clone(), &rec).await.unwrap();
    assert_eq!(raw(&store, &lk).await.first(), Some(&b'{'));
    assert!(get(&s3, "rec", "large").await == large);
    s3.put_object_tagging()
        .bucket("rec")
        .key("large")
        .tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("a").value("b").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let v = raw(&store, &lk).await;
    assert!(ObjectRecord::is_compact(&v), "rewritten record is JSON");
    let tags = s3
        .get_object_tagging()
        .bucket("rec")
        .key("large")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tag_set()[0].value(), "b");
    assert!(get(&s3, "rec", "large").await == large);

    // A damaged value (cut short): the GET is an S3 error, the gateway
    // goes on serving the other object.
    let sk = store.keys().object("rec", "small");
    let v = raw(&store, &sk).await;
    store
        .kv()
        .put(sk.clone(), v[..v.len() / 2].to_vec(), None)
        .await
        .unwrap();
    let e = s3
        .get_object()
        .bucket("rec")
        .key("small")
        .send()
        .await
        .unwrap_err();
    let status = e.raw_response().map(|r| r.status().as_u16());
    assert!(
        matches!(status, Some(500..=599)),
        "damaged record answered {status:?}"
    );
    assert!(get(&s3, "rec", "large").await == large);
}
