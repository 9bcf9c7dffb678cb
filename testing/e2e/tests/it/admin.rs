use objectio_testkit::Cluster;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_admin_api_requires_a_valid_token() {
    let c = Cluster::start().await.unwrap();
    let anon = reqwest::Client::new();
    for path in [
        "/api/v1/cluster/status",
        "/api/v1/osds",
        "/api/v1/buckets",
        "/api/v1/keys",
        "/api/v1/users",
    ] {
        let r = anon.get(c.admin_url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path} without token");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], "unauthorized");
        let r = anon
            .get(c.admin_url(path))
            .bearer_auth("not-the-token-not-the-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path} with a wrong token");
        let r = c.admin().get(c.admin_url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path} with the token");
    }
    let r = anon
        .post(c.admin_url("/api/v1/keys"))
        .json(&serde_json::json!({"user": "test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Health needs no token.
    assert_eq!(
        anon.get(c.admin_url("/health"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    // The served spec is the committed one.
    let served = c
        .admin()
        .get(c.admin_url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../openapi/objectio-admin-v1.json"
    ))
    .unwrap();
    assert!(
        served == committed,
        "the served spec differs from openapi/objectio-admin-v1.json"
    );

    // Status and OSDs as an operator sees them.
    let s = c.admin_json("/api/v1/cluster/status").await.unwrap();
    assert_eq!(s["state"], "HEALTHY");
    assert_eq!(s["osds"]["up"], 6);
    assert_eq!(s["ec"]["k"], 4);
    assert_eq!(s["ec"]["m"], 2);
    assert_eq!(s["meta"]["leader"], "meta1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_cli_reports_cluster_osds_and_buckets() {
    let c = Cluster::start().await.unwrap();
    let cli = |args: &[&str], token: Option<&str>| {
        let mut cmd = std::process::Command::new(objectio_testkit::bin_dir().join("objectio-cli"));
        cmd.args(args)
            .env("OBJECTIO_ENDPOINT", c.admin_url(""))
            .env_remove("OBJECTIO_TOKEN");
        if let Some(t) = token {
            cmd.env("OBJECTIO_TOKEN", t);
        }
        cmd.output().unwrap()
    };
    let out = cli(&["cluster", "status"], Some(&c.token));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Cluster Status: HEALTHY"), "{text}");
    assert!(text.contains("OSDs:      6/6 healthy"), "{text}");

    let out = cli(&["osd", "list", "--format", "json"], Some(&c.token));
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["osds"].as_array().unwrap().len(), 6);

    let out = cli(&["bucket", "list"], Some(&c.token));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("NAME"));

    // No token, or a wrong one: non-zero exit and a message.
    let out = cli(&["osd", "list"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("OBJECTIO_TOKEN"));
    let out = cli(&["osd", "list"], Some("wrong-token-wrong-token"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));

    // Commands that are not built do not exist.
    let out = cli(&["--help"], Some(&c.token));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(!help.contains("drain"), "{help}");
    assert!(help.contains("repair"), "{help}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_cli_output_is_for_people_in_tables_and_json_everywhere() {
    let c = Cluster::start().await.unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(objectio_testkit::bin_dir().join("objectio-cli"))
            .args(args)
            .current_dir(cwd.path())
            .env("OBJECTIO_ENDPOINT", c.admin_url(""))
            .env("OBJECTIO_TOKEN", &c.token)
            .env("TZ", "UTC")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let json = |args: &[&str]| -> serde_json::Value {
        let (ok, out, err) = cli(args);
        assert!(ok, "{args:?}: {err}");
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {out}"))
    };
    // Users and keys, as JSON and as tables.
    let u = json(&["user", "create", "carol", "--format", "json"]);
    assert_eq!(u["arn"], "arn:objectio:iam:::user/carol");
    let k = json(&["key", "create", "--user", "carol", "-o", "json"]);
    let id = k["access_key_id"].as_str().unwrap().to_string();
    assert_eq!(k["secret_access_key"].as_str().unwrap().len(), 40);
    let l = json(&["key", "list", "--user", "carol", "-o", "json"]);
    assert_eq!(l["keys"].as_array().unwrap().len(), 1);
    assert!(
        l["keys"][0].get("secret_access_key").is_none(),
        "shown once only"
    );
    let (ok, table, _) = cli(&["key", "list"]);
    assert!(ok);
    let row = table.lines().find(|l| l.starts_with(&id)).unwrap();
    // A date people read (local YYYY-MM-DD HH:MM), not Unix seconds.
    let date = row.split_whitespace().rev().take(2).collect::<Vec<_>>();
    assert!(
        date[1].len() == 10 && date[1].as_bytes()[4] == b'-',
        "{row}"
    );
    assert!(date[0].len() == 5 && date[0].as_bytes()[2] == b':', "{row}");
    let s3c = s3_with(&c, &id, k["secret_access_key"].as_str().unwrap(), None);
    s3c.create_bucket().bucket("carols").send().await.unwrap();
    let (_, buckets, _) = cli(&["bucket", "list"]);
    let row = buckets.lines().find(|l| l.starts_with("carols")).unwrap();
    assert!(
        row.contains("carol") && row.contains(&date[1].to_string()),
        "{row}"
    );
    let b = json(&["bucket", "list", "-o", "json"]);
    let created = b["buckets"][0]["created"].as_str().unwrap();
    assert!(
        created.ends_with('Z') && created.contains('T'),
        "RFC 3339: {created}"
    );
    // Sizes in IEC units, as the flags take them (the data region of the
    // harness's 1 GiB disks).
    let (_, osds, _) = cli(&["osd", "list"]);
    assert!(
        osds.contains("944.0 MiB") && !osds.contains(" MB"),
        "{osds}"
    );
    // Refused user deletion: non-zero, with the reason.
    let (ok, _, err) = cli(&["user", "delete", "carol"]);
    assert!(!ok && err.contains("owns buckets"), "{err}");
    // Deletes print JSON too.
    let d = json(&["key", "delete", &id, "--format", "json"]);
    assert_eq!(
        (d["kind"].as_str(), d["id"].as_str()),
        (Some("key"), Some(id.as_str()))
    );
    // A format that does not exist is refused, never taken as a file name.
    let (ok, _, err) = cli(&["osd", "list", "--format", "yaml"]);
    assert!(!ok && err.contains("yaml"), "{err}");
    let disk = c.osds[0].disk.to_str().unwrap().to_string();
    let v = json(&["disk", "scan", &disk, "-o", "json"]);
    assert!(v["shards"].is_array());
    assert!(
        !cwd.path().join("json").exists(),
        "-o json wrote a file named json"
    );
    // The guide's spelling writes the file it names.
    let (ok, out, err) = cli(&["disk", "scan", &disk, "--output", "objects.json"]);
    assert!(ok && out.is_empty(), "{err}");
    let f: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cwd.path().join("objects.json")).unwrap()).unwrap();
    assert!(f["shards"].is_array());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_meta_leader_compacts_etcd_history() {
    let c = Cluster::start().await.unwrap();
    let store = objectio_cluster::Store::connect(&[c.etcd_endpoint()], "it")
        .await
        .unwrap();
    let r0 = store.revision().await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("compact").send().await.unwrap();
    for i in 0..5 {
        put(&s3c, "compact", &format!("k{i}"), data(1000, i)).await;
    }
    // The test meta compacts every second, keeping one period: r0 goes.
    let old = |rev: i64| {
        let mut kv = store.kv();
        let key = store.keys().config();
        async move {
            kv.get(key, Some(etcd_client::GetOptions::new().with_revision(rev)))
                .await
        }
    };
    let t = std::time::Instant::now();
    loop {
        match old(r0).await {
            Err(e) if e.to_string().contains("compacted") => break,
            r => assert!(
                t.elapsed() < std::time::Duration::from_secs(15),
                "history never compacted: {r:?}"
            ),
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Everything still works on the compacted store.
    for i in 0..5 {
        assert_eq!(get(&s3c, "compact", &format!("k{i}")).await, data(1000, i));
    }
    put(&s3c, "compact", "after", b"x".to_vec()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_meta_sigterm_resigns_leadership_at_once() {
    let mut c = Cluster::start().await.unwrap();
    let store = objectio_cluster::Store::connect(&[c.etcd_endpoint()], "it")
        .await
        .unwrap();
    let election = store.keys().election();
    let candidates = |store: objectio_cluster::Store, key: String| async move {
        store
            .kv()
            .get(key, Some(etcd_client::GetOptions::new().with_prefix()))
            .await
            .unwrap()
            .count()
    };
    assert_eq!(candidates(store.clone(), election.clone()).await, 1);
    c.terminate_meta();
    let st = c
        .wait_meta_exit(std::time::Duration::from_secs(10))
        .await
        .expect("meta exited");
    assert!(st.success(), "exit status {st:?}");
    // Its lease was revoked: no candidacy and no liveness key are left for
    // the lease TTL (10 s) to clear, so another replica leads at once.
    assert_eq!(candidates(store.clone(), election).await, 0);
    assert_eq!(alive_count(&c, "metas").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_meta_warns_when_one_failure_domain_may_hold_more_than_m_shards() {
    // Six OSDs on two hosts: a 4+2 object may have 3 shards on one host.
    let c = Cluster::start_with(objectio_testkit::Options {
        domains: 2,
        ..Default::default()
    })
    .await
    .unwrap();
    let line = c
        .wait_log(
            "meta",
            "losing one domain can lose data",
            std::time::Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert!(line.contains("WARN"), "{line}");
    assert!(
        line.contains("host1: 3 disk(s), host2: 3 disk(s)"),
        "{line}"
    );
    // The domains are what `osd list` shows.
    let l = c.admin_json("/api/v1/osds").await.unwrap();
    let mut domains: Vec<&str> = l["osds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["failure_domain"].as_str().unwrap())
        .collect();
    domains.sort();
    domains.dedup();
    assert_eq!(domains, vec!["host1", "host2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_status_counts_gateways_that_joined_until_forgotten() {
    let mut c = Cluster::start().await.unwrap();
    let s = wait_status(&c, 10, |s| s["gateways"]["healthy"] == 1).await;
    assert_eq!(s["gateways"]["total"], 1, "{s}");
    assert_eq!(s["meta"]["total"], 1, "{s}");
    // The repair controller's first pass (on becoming leader) is the last
    // one here: gateways coming and going do not change the map, and an
    // idle cluster is not scanned.
    wait_status(&c, 10, |s| s["objects"]["counted_at"].is_string()).await;
    // Settled: the rebalance that follows the OSDs' registration is done.
    let t = std::time::Instant::now();
    while c.admin_json("/api/v1/cluster/rebalance").await.unwrap()["state"] != "idle"
        || c.admin_json("/api/v1/repair").await.unwrap()["running"] != false
    {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "never settled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let passes = c.admin_json("/api/v1/repair").await.unwrap()["passes"].clone();
    // Forgetting a live gateway is refused; an unknown kind is bad input.
    let (ok, _, err) = cli(&c, &["cluster", "forget", "gateway", "gw1"]);
    assert!(!ok);
    assert!(err.contains("is alive"), "{err}");
    let r = c
        .admin()
        .delete(c.admin_url("/api/v1/cluster/members/osd/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A stopped gateway is still expected: 0/1, as the guide draws it.
    c.kill_gateway();
    let s = wait_status(&c, 20, |s| s["gateways"]["healthy"] == 0).await;
    assert_eq!(s["gateways"]["total"], 1, "{s}");
    assert_eq!(s["gateways"]["missing"][0], "gw1", "{s}");
    let (ok, out, _) = cli(&c, &["cluster", "status"]);
    assert!(ok);
    assert!(out.contains("Gateways:  0/1 healthy"), "{out}");
    // Back again: the same member, not a second one.
    c.start_gateway().unwrap();
    let s = wait_status(&c, 20, |s| s["gateways"]["healthy"] == 1).await;
    assert_eq!(s["gateways"]["total"], 1, "{s}");
    // Gone for good: forgotten, it is no longer counted.
    c.kill_gateway();
    wait_status(&c, 20, |s| s["gateways"]["healthy"] == 0).await;
    let (ok, out, err) = cli(&c, &["cluster", "forget", "gateway", "gw1"]);
    assert!(ok, "{err}");
    assert!(out.contains("forgot gateway gw1"), "{out}");
    let s = c.admin_json("/api/v1/cluster/status").await.unwrap();
    assert_eq!(s["gateways"]["total"], 0, "{s}");
    let r = c.admin_json("/api/v1/repair").await.unwrap();
    assert_eq!(r["passes"], passes, "{r}");
    let (ok, _, err) = cli(&c, &["cluster", "forget", "gateway", "gw1"]);
    assert!(!ok);
    assert!(err.contains("no gateway"), "{err}");
}

#[tokio::test]
async fn test_cli_output_into_a_closed_pipe_ends_quietly_as_unix_tools_do() {
    use std::os::unix::process::ExitStatusExt;
    let c = Cluster::start().await.unwrap();
    // `objectio-cli osd list | head -0`: the reader is gone before the
    // CLI writes its first line.
    let mut child = std::process::Command::new(objectio_testkit::bin_dir().join("objectio-cli"))
        .args(["osd", "list"])
        .env("OBJECTIO_ENDPOINT", c.admin_url(""))
        .env("OBJECTIO_TOKEN", &c.token)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    // Ended by SIGPIPE (13 on Linux), as `ls | head -0` is.
    assert_eq!(out.status.signal(), Some(13), "{:?}: {err}", out.status);
}
