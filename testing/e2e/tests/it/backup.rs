//! Metadata backup and restore: `meta export` and `meta import` bring a
//! cluster whose etcd was lost whole back with every object readable.

use objectio_testkit::Cluster;

use crate::common::*;

fn cli_json(c: &Cluster, args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    let (ok, out, err) = cli(c, &a);
    assert!(ok, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {out}"))
}

/// Keys of the cluster under `prefix` (below its root), read from etcd.
async fn etcd_count(c: &Cluster, prefix: &str) -> u64 {
    let store = objectio_cluster::Store::connect(&[c.etcd_endpoint()], "it")
        .await
        .unwrap();
    let key = format!("{}{prefix}", store.keys().root());
    store.count(key).await.unwrap()
}

async fn bucket_count(c: &Cluster) -> usize {
    c.admin_json("/api/v1/buckets").await.unwrap()["buckets"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_meta_export_and_import_bring_back_a_lost_etcd_with_every_object() {
    let mut c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("photos").send().await.unwrap();
    s3.create_bucket().bucket("logs").send().await.unwrap();
    // Replicated, erasure-coded and multi-stripe objects; awkward keys.
    let mut objects = Vec::new();
    for (i, len) in [0usize, 10, 4096, 70_000, 1 << 20, 3 << 20]
        .into_iter()
        .enumerate()
    {
        let key = format!("2026/ünï cødé {i}.bin");
        let body = data(len, i as u64);
        put(&s3, "photos", &key, body.clone()).await;
        objects.push(("photos", key, body));
    }
    for i in 0..20 {
        let key = format!("app/{i:03}.log");
        let body = data(100 + i * 37, 100 + i as u64);
        put(&s3, "logs", &key, body.clone()).await;
        objects.push(("logs", key, body));
    }
    // An overwritten key: only its last body comes back.
    put(&s3, "logs", "app/000.log", b"second".to_vec()).await;
    objects[6].2 = b"second".to_vec();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("meta-backup.json");
    let path = file.to_str().unwrap();
    let e = cli_json(&c, &["meta", "export", "--output", path]);
    assert!(file.exists() && !dir.path().join("meta-backup.json.partial").exists());
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).expect("the export is JSON");
    assert_eq!(doc["format"], "objectio-meta-export");
    assert_eq!(doc["count"], e["records"], "{e}");
    let keys: Vec<&str> = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["k"].as_str())
        .collect();
    for want in ["config", "buckets/photos", "buckets/logs", "users/test"] {
        assert!(keys.contains(&want), "{want} not exported: {keys:?}");
    }
    assert!(
        !keys
            .iter()
            .any(|k| k.starts_with("alive/") || k.starts_with("holds/")),
        "liveness and holds are not exported: {keys:?}"
    );
    let sealed = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["k"] == format!("keys/{}", c.access_key))
        .expect("the access key is exported");
    assert!(
        !sealed.to_string().contains(&c.secret_key),
        "a secret left the cluster unsealed: {sealed}"
    );
    // The export's compaction hold goes when it ends.
    let holds = etcd_count(&c, "holds/").await;
    assert_eq!(holds, 0, "the export left its compaction hold");

    // A cluster with data is not overwritten without --force.
    let (ok, _, err) = cli(&c, &["meta", "import", "--input", path]);
    assert!(!ok && err.contains("not empty"), "{err}");
    let (ok, _, err) = cli(&c, &["meta", "import", "--input", path, "--force"]);
    assert!(!ok && err.contains("--yes"), "{err}");

    // etcd is lost whole; the meta starts on an empty one.
    c.kill_gateway();
    for i in 0..c.osds.len() {
        c.kill_osd(i);
    }
    c.kill_meta();
    c.wipe_etcd().await.unwrap();
    c.restart_meta().await.unwrap();
    assert_eq!(bucket_count(&c).await, 0);

    // Damaged or cut files are refused and write nothing.
    let text = std::fs::read_to_string(&file).unwrap();
    let edited = dir.path().join("edited.json");
    std::fs::write(&edited, text.replacen("photos", "photoz", 1)).unwrap();
    let (ok, _, err) = cli(&c, &["meta", "import", "--input", edited.to_str().unwrap()]);
    assert!(!ok && err.contains("checksum mismatch"), "{err}");
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, &text[..text.len() * 2 / 3]).unwrap();
    let (ok, _, err) = cli(&c, &["meta", "import", "--input", cut.to_str().unwrap()]);
    assert!(!ok && err.contains("truncated"), "{err}");
    assert_eq!(bucket_count(&c).await, 0, "a refused import wrote buckets");
    assert_eq!(
        etcd_count(&c, "objects/").await,
        0,
        "a refused import wrote objects"
    );

    let r = cli_json(&c, &["meta", "import", "--input", path]);
    assert_eq!(r["records"], e["records"], "{r}");
    assert_eq!(
        (
            r["buckets"].as_u64(),
            r["users"].as_u64(),
            r["osds"].as_u64()
        ),
        (Some(2), Some(1), Some(6)),
        "{r}"
    );
    assert_eq!(r["objects"], 26, "{r}");
    assert_eq!(r["cluster_id"], doc["cluster_id"], "{r}");

    // The OSDs open their disks (formatted with the exported cluster id),
    // the gateway starts, and the old access key reads every object.
    for i in 0..c.osds.len() {
        c.start_osd(i).unwrap();
    }
    c.wait_osds_up(6).await.unwrap();
    c.restart_gateway().await.unwrap();
    let s3 = crate::common::s3(&c);
    for (bucket, key, body) in &objects {
        assert!(
            get(&s3, bucket, key).await == *body,
            "{bucket}/{key} did not read back"
        );
    }
    // And it takes writes again.
    put(&s3, "photos", "after-restore", b"new".to_vec()).await;
    assert_eq!(get(&s3, "photos", "after-restore").await, b"new");
}

/// Whether etcd still has revision `rev` of the cluster's keys (it has not
/// been compacted away).
async fn readable_at(kv: &mut etcd_client::KvClient, rev: i64) -> bool {
    let opts = etcd_client::GetOptions::new()
        .with_prefix()
        .with_count_only()
        .with_revision(rev);
    match kv.get("/objectio/it/v1/", Some(opts)).await {
        Ok(_) => true,
        Err(e) if e.to_string().contains("compacted") => false,
        Err(e) => panic!("reading at revision {rev}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_compaction_stops_at_the_revision_an_export_holds() {
    let c = Cluster::start().await.unwrap();
    let store = objectio_cluster::Store::connect(&[c.etcd_endpoint()], "it")
        .await
        .unwrap();
    let mut kv = store.kv();
    let held = store.revision().await.unwrap();
    let hold = store.keys().hold(&uuid::Uuid::new_v4());
    store.put(hold.clone(), &held).await.unwrap();
    // The leader compacts every second; writes keep the revision moving.
    // Five periods later the history before the hold is gone and the
    // held revision is still there.
    let t = std::time::Instant::now();
    let mut n = 0;
    while t.elapsed() < std::time::Duration::from_secs(5) || readable_at(&mut kv, held - 1).await {
        store
            .put(format!("/objectio/it/v1/scratch/{n}"), &n)
            .await
            .unwrap();
        n += 1;
        assert!(
            readable_at(&mut kv, held).await,
            "revision {held} compacted under its hold"
        );
        assert!(
            t.elapsed().as_secs() < 30,
            "compaction never reached the hold"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Released, compaction goes past it.
    store.delete(hold).await.unwrap();
    let t = std::time::Instant::now();
    while readable_at(&mut kv, held).await {
        store
            .put(format!("/objectio/it/v1/scratch/{n}"), &n)
            .await
            .unwrap();
        n += 1;
        assert!(
            t.elapsed().as_secs() < 30,
            "compaction stayed at a released hold"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
