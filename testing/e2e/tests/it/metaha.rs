//! Meta HA: three `objectio-meta` replicas on one etcd; every one serves
//! the whole admin API, one leads the controllers, and when the leader
//! dies another takes over.

use std::time::{Duration, Instant};

use objectio_testkit::{Cluster, Options};

use crate::common::*;

async fn json_at(c: &Cluster, port: u16, path: &str) -> anyhow::Result<serde_json::Value> {
    Ok(c.admin()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// Polls `meta status` on `port` until `pred` holds; the status.
async fn wait_meta_status(
    c: &Cluster,
    port: u16,
    secs: u64,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let s = json_at(c, port, "/api/v1/meta/status").await;
        if let Ok(s) = &s
            && pred(s)
        {
            return s.clone();
        }
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "meta status on :{port} never matched: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn alive(s: &serde_json::Value) -> Vec<String> {
    s["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["alive"] == true)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// Shards over every disk, as replica `port` reports them.
async fn shards_at(c: &Cluster, port: u16) -> u64 {
    let v = json_at(c, port, "/api/v1/osds").await.unwrap();
    v["osds"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["disks"].as_array().unwrap())
        .map(|d| d["shards"].as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_three_meta_replicas_serve_the_api_and_another_leads_when_the_leader_dies() {
    let mut c = Cluster::start_with(Options {
        meta_args: vec!["--lease-ttl", "2"],
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, p2) = c.start_extra_meta().await.unwrap();
    let (_, p3) = c.start_extra_meta().await.unwrap();
    let ports = [c.meta_port, p2, p3];

    // Every replica serves the API and names the same leader.
    for port in ports {
        let s = wait_meta_status(&c, port, 20, |s| alive(s).len() == 3).await;
        assert_eq!(s["leader"], "meta1", "{s}");
        assert_eq!(alive(&s), ["meta1", "meta2", "meta3"], "{s}");
        let st = json_at(&c, port, "/api/v1/cluster/status").await.unwrap();
        assert_eq!(st["meta"]["total"], 3, "{st}");
    }
    // Only the leader runs the controllers.
    for id in ["meta2", "meta3"] {
        assert!(
            !std::fs::read_to_string(c.dir.path().join(format!("{id}.log")))
                .unwrap()
                .contains("leading: controllers started"),
            "{id} leads too"
        );
    }
    // A write through one replica is read through another, the CLI too.
    let r = c
        .admin()
        .post(format!("http://127.0.0.1:{p3}/api/v1/buckets"))
        .json(&serde_json::json!({"name": "ha-bucket", "owner": "test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let b = json_at(&c, p2, "/api/v1/buckets/ha-bucket").await.unwrap();
    assert_eq!(b["owner"], "test", "{b}");
    let (ok, text, err) = cli_at(
        &format!("http://127.0.0.1:{p2}"),
        &c.token,
        &["meta", "status"],
    );
    assert!(ok, "{err}");
    assert!(text.contains("Meta replicas (leader: meta1)"), "{text}");

    // The leader dies without a word (SIGKILL): another leads within the
    // lease TTL (2 s) and a little.
    let t = Instant::now();
    c.kill_meta_replica("meta1");
    let s = wait_meta_status(&c, p2, 15, |s| {
        s["leader"] == "meta2" || s["leader"] == "meta3"
    })
    .await;
    let took = t.elapsed();
    assert!(took < Duration::from_secs(8), "took {took:?} to lead again");
    let leader = s["leader"].as_str().unwrap().to_string();
    c.wait_log(
        &leader,
        "leading: controllers started",
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let s = wait_meta_status(&c, p3, 10, |s| alive(s).len() == 2).await;
    assert_eq!(s["leader"], leader.as_str(), "the survivors agree: {s}");
    assert_eq!(alive(&s), ["meta2", "meta3"], "{s}");

    // The new leader's controllers work: an overwritten object's old
    // shards are collected (GC runs only on the leader).
    let s3 = s3(&c);
    put(&s3, "ha-bucket", "k", data(1 << 20, 1)).await;
    put(&s3, "ha-bucket", "k", data(1 << 20, 2)).await;
    let t = Instant::now();
    while shards_at(&c, p2).await != 6 {
        assert!(
            t.elapsed().as_secs() < 20,
            "GC never ran under the new leader"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get(&s3, "ha-bucket", "k").await, data(1 << 20, 2));
}
