//! The admin plane: the cluster map, buckets and the metadata service
//! through the admin API and `objectio-cli`.

use objectio_testkit::{Cluster, Options};

use crate::common::*;

fn cli_json(c: &Cluster, args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    let (ok, out, err) = cli(c, &a);
    assert!(ok, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {out}"))
}

fn epoch(m: &serde_json::Value) -> u64 {
    m["epoch"].as_u64().unwrap()
}

fn osd<'a>(m: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    m["osds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in the map: {m}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_cluster_map_shows_placement_and_its_epoch_grows_on_every_change() {
    let mut c = Cluster::start_with(Options {
        osds: 7,
        ..Default::default()
    })
    .await
    .unwrap();
    let m = cli_json(&c, &["cluster", "map"]);
    let osds = m["osds"].as_array().unwrap();
    assert_eq!(osds.len(), 7, "{m}");
    for o in osds {
        assert_eq!(
            (o["state"].as_str(), o["service"].as_str()),
            (Some("up"), Some("active")),
            "{o}"
        );
        let disks = o["disks"].as_array().unwrap();
        assert_eq!(disks.len(), 1, "{o}");
        assert_eq!(disks[0]["state"], "in");
        assert!(disks[0]["weight"].as_f64().unwrap() > 0.0, "{o}");
    }
    // Three failure domains, in natural order.
    let domains: Vec<(String, Vec<String>)> = m["failure_domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_string(),
                serde_json::from_value(d["osds"].clone()).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        domains,
        vec![
            (
                "host1".into(),
                vec!["osd1".into(), "osd4".into(), "osd7".into()]
            ),
            ("host2".into(), vec!["osd2".into(), "osd5".into()]),
            ("host3".into(), vec!["osd3".into(), "osd6".into()]),
        ]
    );
    // Small objects as copies, the rest 4+2.
    let profiles: Vec<(u64, u64, Option<u64>)> = m["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["k"].as_u64().unwrap(),
                p["m"].as_u64().unwrap(),
                p["max_size"].as_u64(),
            )
        })
        .collect();
    assert_eq!(profiles, vec![(1, 2, Some(4096)), (4, 2, None)], "{m}");
    let e0 = epoch(&m);
    assert!(
        e0 >= 15,
        "config, seven OSDs and seven disks registered: {m}"
    );

    // Usage changing is not a map change.
    let s3 = s3(&c);
    s3.create_bucket().bucket("mapped").send().await.unwrap();
    let before = usage(&c).await.1;
    put(&s3, "mapped", "k", data(3 << 20, 1)).await;
    wait_shards(&c, 6).await;
    assert!(usage(&c).await.1 > before);
    assert_eq!(
        epoch(&cli_json(&c, &["cluster", "map"])),
        e0,
        "usage moved the epoch"
    );

    // Out, in, reweight, drain: each one step more.
    let (ok, _, err) = cli(&c, &["osd", "out", "osd1"]);
    assert!(ok, "{err}");
    let m = cli_json(&c, &["cluster", "map"]);
    assert!(epoch(&m) > e0, "{m}");
    let d = &osd(&m, "osd1")["disks"][0];
    assert_eq!(
        (d["state"].as_str(), d["weight"].as_f64()),
        (Some("out"), Some(0.0)),
        "{m}"
    );
    let e1 = epoch(&m);
    assert!(cli(&c, &["osd", "in", "osd1"]).0);
    let m = cli_json(&c, &["cluster", "map"]);
    assert!(
        epoch(&m) > e1 && osd(&m, "osd1")["disks"][0]["state"] == "in",
        "{m}"
    );
    let e2 = epoch(&m);
    assert!(cli(&c, &["osd", "reweight", "osd2", "3"]).0);
    let m = cli_json(&c, &["cluster", "map"]);
    assert!(epoch(&m) > e2, "{m}");
    assert!(
        (osd(&m, "osd2")["weight"].as_f64().unwrap() - 3.0).abs() < 1e-6,
        "{m}"
    );
    let host2 = m["failure_domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "host2")
        .unwrap();
    assert!(host2["weight"].as_f64().unwrap() > 3.0, "{m}");
    let e3 = epoch(&m);
    let (ok, _, err) = cli(&c, &["osd", "drain", "osd7"]);
    assert!(ok, "{err}");
    let m = cli_json(&c, &["cluster", "map"]);
    assert!(
        epoch(&m) > e3 && osd(&m, "osd7")["service"] == "draining",
        "{m}"
    );
    assert_eq!(
        osd(&m, "osd7")["weight"].as_f64(),
        Some(0.0),
        "a draining OSD takes no new shards"
    );
    let e4 = epoch(&m);

    // A dead OSD shows down at once; liveness is not a map change.
    c.kill_osd(4);
    let m = wait_json(&c, "/api/v1/cluster/map", 20, |m| {
        osd(m, "osd5")["state"] == "down"
    })
    .await;
    assert_eq!(epoch(&m), e4);

    // The table: domains, OSDs, disks, the epoch.
    let (ok, table, err) = cli(&c, &["cluster", "map"]);
    assert!(ok, "{err}");
    assert!(table.contains(&format!("map epoch {e4}")), "{table}");
    assert!(table.contains("4+2") && table.contains("1+2"), "{table}");
    let line = table
        .lines()
        .find(|l| l.trim_start().starts_with("osd5"))
        .unwrap();
    assert!(line.contains("DOWN"), "{table}");
    assert!(
        table.lines().any(|l| l.starts_with("domain host3")),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_buckets_are_created_described_and_deleted_through_the_admin_api() {
    use aws_sdk_s3::types::{
        BucketVersioningStatus, ObjectLockLegalHoldStatus, VersioningConfiguration,
    };
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    let b = cli_json(&c, &["bucket", "create", "photos", "--owner", "test"]);
    assert_eq!(
        (b["owner"].as_str(), b["objects"].as_u64()),
        (Some("test"), Some(0)),
        "{b}"
    );
    // The owner's S3 client sees it and writes to it.
    s3.head_bucket().bucket("photos").send().await.unwrap();

    // Refused, each with its reason, and nothing created.
    for (args, why) in [
        (
            vec!["bucket", "create", "photos", "--owner", "test"],
            "already exists",
        ),
        (
            vec!["bucket", "create", "Bad_Name", "--owner", "test"],
            "invalid bucket name",
        ),
        (vec!["bucket", "create", "ab", "--owner", "test"], "3 to 63"),
        (
            vec!["bucket", "create", "nobodys", "--owner", "nobody"],
            "no such user",
        ),
        (vec!["bucket", "info", "missing-bucket"], "no such bucket"),
        (vec!["bucket", "delete", "missing-bucket"], "no such bucket"),
    ] {
        let (ok, _, err) = cli(&c, &args);
        assert!(!ok && err.contains(why), "{args:?}: {err}");
    }
    let l = cli_json(&c, &["bucket", "list"]);
    assert_eq!(l["buckets"].as_array().unwrap().len(), 1, "{l}");

    // Info counts what it holds: three keys, one overwritten under
    // versioning, one deleted (a marker).
    s3.put_bucket_versioning()
        .bucket("photos")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for (k, n) in [("a", 100_000), ("b", 5_000), ("c", 20), ("a", 200_000)] {
        put(&s3, "photos", k, data(n, n as u64)).await;
    }
    s3.delete_object()
        .bucket("photos")
        .key("c")
        .send()
        .await
        .unwrap();
    let i = cli_json(&c, &["bucket", "info", "photos"]);
    assert_eq!(
        (
            i["objects"].as_u64(),
            i["versions"].as_u64(),
            i["delete_markers"].as_u64(),
            i["bytes"].as_u64(),
            i["versioning"].as_str(),
            i["policy"].as_bool()
        ),
        (
            Some(2),
            Some(4),
            Some(1),
            Some(305_020),
            Some("enabled"),
            Some(false)
        ),
        "{i}"
    );
    let (ok, text, _) = cli(&c, &["bucket", "info", "photos"]);
    assert!(
        ok && text.contains("Size:       297.9 KiB") && text.contains("Owner:      test"),
        "{text}"
    );

    // Not empty: refused without --force; --force asks unless --yes.
    let (ok, _, err) = cli(&c, &["bucket", "delete", "photos"]);
    assert!(
        !ok && err.contains("not empty (2 objects, 4 versions, 1 delete markers)"),
        "{err}"
    );
    let (ok, _, err) = cli(&c, &["bucket", "delete", "photos", "--force"]);
    assert!(!ok && err.contains("--yes"), "{err}");
    assert_eq!(
        cli_json(&c, &["bucket", "info", "photos"])["versions"],
        4,
        "nothing done"
    );
    let d = cli_json(&c, &["bucket", "delete", "photos", "--force", "--yes"]);
    assert_eq!(d["versions_deleted"], 5, "{d}");
    let e = s3.head_bucket().bucket("photos").send().await.unwrap_err();
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 404);
    // Every shard of every version goes to GC.
    wait_shards(&c, 0).await;

    // Object lock stops a forced delete; the bucket and the held version stay.
    cli_json(
        &c,
        &[
            "bucket",
            "create",
            "vault",
            "--owner",
            "test",
            "--object-lock",
        ],
    );
    s3.put_object()
        .bucket("vault")
        .key("held")
        .body(data(10, 1).into())
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .send()
        .await
        .unwrap();
    let (ok, _, err) = cli(&c, &["bucket", "delete", "vault", "--force", "--yes"]);
    assert!(!ok && err.contains("legal hold"), "{err}");
    assert_eq!(get(&s3, "vault", "held").await, data(10, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_meta_status_shows_etcd_members_the_index_and_the_meta_leader() {
    let mut c = Cluster::start_with(Options {
        etcd_members: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("counted").send().await.unwrap();
    for i in 0..5 {
        put(&s3, "counted", &format!("k{i}"), data(100, i)).await;
    }
    let s = cli_json(&c, &["meta", "status"]);
    let etcd = s["etcd"].as_array().unwrap();
    assert_eq!(etcd.len(), 3, "{s}");
    assert!(
        etcd.iter()
            .all(|m| m["healthy"] == true && m["alarms"] == serde_json::json!([])),
        "{s}"
    );
    assert_eq!(
        etcd.iter().filter(|m| m["leader"] == true).count(),
        1,
        "{s}"
    );
    for m in etcd {
        assert!(
            m["raft_applied_index"].as_u64().unwrap() > 0
                && m["db_size_bytes"].as_u64().unwrap() > 0,
            "{m}"
        );
    }
    assert_eq!(
        (
            s["index"]["records"].as_u64(),
            s["index"]["buckets"].as_u64()
        ),
        (Some(5), Some(1)),
        "{s}"
    );
    assert_eq!(s["leader"], "meta1", "{s}");
    let r = &s["replicas"][0];
    assert_eq!(
        (
            r["id"].as_str(),
            r["alive"].as_bool(),
            r["leader"].as_bool()
        ),
        (Some("meta1"), Some(true), Some(true)),
        "{s}"
    );
    assert_eq!(r["version"], env!("CARGO_PKG_VERSION"));

    // A member down: shown unhealthy with why, the others still answer.
    let leader = c.etcd_leader().await.unwrap();
    let down = (leader + 1) % 3;
    c.kill_etcd_member(down);
    // (Requests routed to the dead member fail until the client takes it
    // out of its set, within a second.)
    let t = std::time::Instant::now();
    let s = loop {
        if let Ok(s) = c.admin_json("/api/v1/meta/status").await
            && s["etcd"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["healthy"] == true)
                .count()
                == 2
        {
            break s;
        }
        assert!(
            t.elapsed().as_secs() < 30,
            "meta status never showed the member down"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let dead = s["etcd"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["healthy"] == false)
        .unwrap();
    assert!(
        dead["error"].as_str().is_some_and(|e| !e.is_empty()) && dead["raft_index"].is_null(),
        "{dead}"
    );
    let (ok, text, err) = cli(&c, &["meta", "status"]);
    assert!(ok, "{err}");
    assert!(
        text.contains("UNHEALTHY") && text.contains("Meta replicas (leader: meta1)"),
        "{text}"
    );
    assert!(text.contains("5 records in 1 buckets"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_admin_api_answers_bad_input_with_json_errors_and_writes_nothing() {
    let c = Cluster::start().await.unwrap();
    let a = c.admin();
    let url = c.admin_url("/api/v1/buckets");
    let cases: Vec<(reqwest::RequestBuilder, u16)> = vec![
        (
            a.post(&url)
                .body("{not json")
                .header("content-type", "application/json"),
            400,
        ),
        (
            a.post(&url)
                .body(r#"{"name":"x1y"}"#)
                .header("content-type", "application/json"),
            422,
        ),
        (
            a.post(&url)
                .json(&serde_json::json!({"name": "abc", "owner": "test", "colour": "red"})),
            422,
        ),
        (
            a.post(&url)
                .body(r#"{"name":"abc","owner":"test"}"#)
                .header("content-type", "text/plain"),
            415,
        ),
        (
            a.post(&url)
                .json(&serde_json::json!({"name": "a..b", "owner": "test"})),
            400,
        ),
        (
            a.delete(c.admin_url("/api/v1/buckets/abc?force=maybe")),
            400,
        ),
        (a.put(&url), 405),
        (a.get(c.admin_url("/api/v1/no-such-thing")), 404),
        (a.get(c.admin_url("/api/v1/buckets/NOT_A_BUCKET")), 400),
    ];
    for (req, want) in cases {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        let body: serde_json::Value = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("{want}: not JSON ({e}), {ct:?}"));
        assert_eq!(status, want, "{body}");
        assert!(
            body["code"].is_string() && !body["message"].as_str().unwrap().is_empty(),
            "{body}"
        );
    }
    // Nothing was created.
    assert_eq!(
        c.admin_json("/api/v1/buckets").await.unwrap()["buckets"],
        serde_json::json!([])
    );
}

/// Kills a process when dropped.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_the_meta_leader_saves_etcd_snapshots_that_restore_with_etcdctl() {
    let snaps = tempfile::tempdir().unwrap();
    let dir: &'static str = Box::leak(snaps.path().display().to_string().into_boxed_str());
    let c = Cluster::start_with(Options {
        meta_args: vec![
            "--snapshot-dir",
            dir,
            "--snapshot-interval",
            "1s",
            "--snapshot-retain",
            "2",
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("kept").send().await.unwrap();
    put(&s3, "kept", "k", data(1000, 7)).await;

    // Periodic: the leader saves them by itself, and prunes to two.
    let saved = |c: &Cluster| {
        std::fs::read_to_string(c.dir.path().join("meta.log"))
            .unwrap()
            .lines()
            .filter(|l| l.contains("etcd snapshot saved"))
            .count()
    };
    let t = std::time::Instant::now();
    while saved(&c) < 3 {
        assert!(
            t.elapsed().as_secs() < 30,
            "no periodic snapshots: {}",
            c.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Now: two are kept, so this one removes the oldest.
    let s = cli_json(&c, &["meta", "snapshot"]);
    let path = std::path::PathBuf::from(s["path"].as_str().unwrap());
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        s["bytes"].as_u64().unwrap(),
        "{s}"
    );
    let removed = s["removed"].as_array().unwrap();
    assert_eq!(removed.len(), 1, "{s}");
    assert!(!snaps.path().join(removed[0].as_str().unwrap()).exists());
    assert!(
        path.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("etcd-it-")
    );

    // etcdctl reads it, and restores it into an etcd that serves our keys.
    let status = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "status", path.to_str().unwrap(), "-w", "json"])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let st: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(st["totalKey"].as_u64().unwrap() > 10, "{st}");
    let restored = tempfile::tempdir().unwrap();
    let data_dir = restored.path().join("etcd");
    let (client, peer) = (objectio_testkit::free_port(), objectio_testkit::free_port());
    let peer_url = format!("http://127.0.0.1:{peer}");
    let out = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "restore", path.to_str().unwrap()])
        .args(["--data-dir", data_dir.to_str().unwrap(), "--name", "r1"])
        .args(["--initial-cluster", &format!("r1={peer_url}")])
        .args(["--initial-advertise-peer-urls", &peer_url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client_url = format!("http://127.0.0.1:{client}");
    let _etcd = Killed(
        std::process::Command::new("etcd")
            .args(["--name", "r1", "--data-dir", data_dir.to_str().unwrap()])
            .args([
                "--listen-client-urls",
                &client_url,
                "--advertise-client-urls",
                &client_url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args(["--initial-cluster", &format!("r1={peer_url}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let store = objectio_cluster::Store::connect(&[client_url], "it")
        .await
        .unwrap();
    let t = std::time::Instant::now();
    let rec = loop {
        match store
            .get::<objectio_cluster::ObjectRecord>(store.keys().object("kept", "k"))
            .await
        {
            Ok(Some((r, _))) => break r,
            other => {
                assert!(
                    t.elapsed().as_secs() < 30,
                    "restored etcd never served the record: {other:?}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    };
    assert_eq!(rec.size, 1000);
    let status = c.admin_json("/api/v1/cluster/status").await.unwrap();
    assert_eq!(
        store.config().await.unwrap().cluster_id.to_string(),
        status["cluster_id"].as_str().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_admin_tokens_have_scopes_expire_are_revoked_and_are_stored_hashed() {
    let c = Cluster::start().await.unwrap();
    let with = |token: &str| {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        reqwest::Client::builder()
            .default_headers(h)
            .build()
            .unwrap()
    };
    let read = cli_json(
        &c,
        &["token", "create", "--scope", "read", "--label", "grafana"],
    );
    let read_token = read["token"].as_str().unwrap().to_string();
    assert!(read_token.starts_with("oio_"), "{read}");
    let r = with(&read_token);
    // A read token reads...
    let st = r
        .get(c.admin_url("/api/v1/cluster/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(st.status(), 200);
    // ...and changes nothing, nor exports secrets or manages tokens.
    for (req, what) in [
        (
            r.post(c.admin_url("/api/v1/buckets"))
                .json(&serde_json::json!({"name": "by-reader", "owner": "test"})),
            "create a bucket",
        ),
        (r.get(c.admin_url("/api/v1/meta/export")), "export"),
        (r.get(c.admin_url("/api/v1/tokens")), "list tokens"),
    ] {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 403, "{what}");
        let e: serde_json::Value = resp.json().await.unwrap();
        assert!(
            e["message"].as_str().unwrap().contains("scope read"),
            "{what}: {e}"
        );
    }
    assert_eq!(
        c.admin_json("/api/v1/buckets").await.unwrap()["buckets"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "a refused create wrote a bucket"
    );
    // The CLI with a read token exits non-zero with the API's message.
    let (ok, _, err) = cli_at(
        &c.admin_url(""),
        &read_token,
        &["bucket", "create", "x-bucket", "--owner", "test"],
    );
    assert!(
        !ok && err.contains("403") && err.contains("scope read"),
        "{err}"
    );

    // An admin token does everything.
    let admin = cli_json(&c, &["token", "create", "--scope", "admin"]);
    let a = with(admin["token"].as_str().unwrap());
    let resp = a
        .post(c.admin_url("/api/v1/buckets"))
        .json(&serde_json::json!({"name": "by-admin", "owner": "test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    // Only hashes are kept.
    let store = objectio_cluster::Store::connect(&[c.etcd_endpoint()], "it")
        .await
        .unwrap();
    let recs = store
        .list::<objectio_cluster::TokenRecord>(store.keys().tokens_prefix())
        .await
        .unwrap();
    assert_eq!(recs.len(), 2);
    for (k, rec) in &recs {
        let raw = String::from_utf8_lossy(k).to_string() + &serde_json::to_string(rec).unwrap();
        assert!(
            !raw.contains(&read_token[8..]),
            "a token is stored in clear: {raw}"
        );
    }
    let l = cli_json(&c, &["token", "list"]);
    assert_eq!(l["tokens"].as_array().unwrap().len(), 2, "{l}");
    assert!(
        !l.to_string().contains(&read_token),
        "list shows a secret: {l}"
    );

    // Expiry: refused once past it, saying so.
    let short = cli_json(
        &c,
        &["token", "create", "--scope", "read", "--expires-in", "2s"],
    );
    let s = with(short["token"].as_str().unwrap());
    assert_eq!(
        s.get(c.admin_url("/api/v1/osds"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let t = std::time::Instant::now();
    let e = loop {
        let resp = s.get(c.admin_url("/api/v1/osds")).send().await.unwrap();
        if resp.status() == 401 {
            break resp.json::<serde_json::Value>().await.unwrap();
        }
        assert!(t.elapsed().as_secs() < 10, "the token never expired");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(e["message"].as_str().unwrap().contains("expired"), "{e}");
    let l = cli_json(&c, &["token", "list"]);
    let listed = l["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == short["id"])
        .unwrap();
    assert_eq!(listed["expired"], true, "{l}");

    // Revoked: refused at once; unknown ids and bad input say so.
    let d = cli_json(&c, &["token", "revoke", read["id"].as_str().unwrap()]);
    assert_eq!(d["id"], read["id"]);
    let resp = r
        .get(c.admin_url("/api/v1/cluster/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let (ok, _, err) = cli(&c, &["token", "revoke", "000000000000"]);
    assert!(
        !ok && err.contains("404") && err.contains("no token"),
        "{err}"
    );
    for (body, status, says) in [
        (serde_json::json!({"scope": "root"}), 422, "scope"),
        (
            serde_json::json!({"scope": "read", "expires_in_secs": "soon"}),
            422,
            "expires_in_secs",
        ),
        (
            serde_json::json!({"scope": "read", "expires_in_secs": 0}),
            400,
            "expires_in_secs",
        ),
        (
            serde_json::json!({"scope": "read", "expires_in_secs": 316224001}),
            400,
            "expires_in_secs",
        ),
        (
            serde_json::json!({"scope": "read", "label": "x".repeat(65)}),
            400,
            "label",
        ),
        (
            serde_json::json!({"scope": "read", "owner": "me"}),
            422,
            "owner",
        ),
    ] {
        let resp = c
            .admin()
            .post(c.admin_url("/api/v1/tokens"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{body}");
        let e: serde_json::Value = resp.json().await.unwrap();
        assert!(e["message"].as_str().unwrap().contains(says), "{body}: {e}");
    }
    let l = cli_json(&c, &["token", "list"]);
    assert_eq!(
        l["tokens"].as_array().unwrap().len(),
        2,
        "bad input wrote a token: {l}"
    );
}
