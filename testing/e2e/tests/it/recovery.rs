//! The operations guide's "Complete Cluster Recovery", with etcd as the
//! Raft log: two of three etcd members lose their data; the operator finds
//! the member with the highest applied index in `meta status`, bootstraps
//! a cluster from it with `--force-new-cluster`, adds the other two back
//! with `etcdctl member add`, starts the meta, the OSDs and the gateway, and
//! every object reads back. The commands are those of
//! docs/operations/failure-recovery.md.

use std::time::Duration;

use objectio_testkit::{Cluster, Options};

use crate::common::*;

fn etcdctl(endpoint: &str, args: &[&str]) -> String {
    let run = || {
        std::process::Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg("--endpoints")
            .arg(endpoint)
            .args(args)
            .output()
            .expect("etcdctl (scripts/lib.sh installs it)")
    };
    // etcd refuses a member change until the last member added has been
    // connected for a few seconds ("unhealthy cluster"); the operator
    // waits and runs it again.
    let t = std::time::Instant::now();
    let mut out = run();
    while !out.status.success()
        && String::from_utf8_lossy(&out.stderr).contains("unhealthy cluster")
        && t.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(500));
        out = run();
    }
    assert!(
        out.status.success(),
        "etcdctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_complete_cluster_recovery_from_the_one_etcd_member_left() {
    let mut c = Cluster::start_with(Options {
        etcd_members: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("vault").send().await.unwrap();
    let mut objects = Vec::new();
    for (i, len) in [1usize, 4096, 100_000, 1 << 20, 5 << 20]
        .into_iter()
        .enumerate()
    {
        let key = format!("doc-{i}");
        let body = data(len, 40 + i as u64);
        put(&s3, "vault", &key, body.clone()).await;
        objects.push((key, body));
    }
    // The survivor is a follower: the leader and the other follower lose
    // their disks.
    let leader = c.etcd_leader().await.expect("an etcd leader");
    let keep = (leader + 1) % 3;
    for i in (0..3).filter(|i| *i != keep) {
        c.kill_etcd_member(i);
        std::fs::remove_dir_all(c.etcd_data_dir(i)).unwrap();
    }

    // 1-2. Stop the services; `meta status` (it needs no quorum) shows
    // which member has the latest Raft log.
    c.kill_gateway();
    for i in 0..c.osds.len() {
        c.kill_osd(i);
    }
    let (keep_name, keep_client, keep_peer) = c.etcd_member(keep);
    let t = std::time::Instant::now();
    let s = loop {
        let s = c.admin_json("/api/v1/meta/status").await.unwrap();
        let answering = s["etcd"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["raft_applied_index"].is_u64())
            .count();
        if answering == 1 {
            break s;
        }
        assert!(
            t.elapsed().as_secs() < 30,
            "meta status never showed the loss: {s}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let latest = s["etcd"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["raft_applied_index"].is_u64())
        .max_by_key(|m| m["raft_applied_index"].as_u64())
        .unwrap();
    assert_eq!(latest["name"], keep_name.as_str(), "{s}");
    assert_eq!(latest["healthy"], false, "no quorum, no leader: {latest}");
    c.kill_meta();

    // 3. Bootstrap from it: a one-member cluster on its data.
    c.kill_etcd_member(keep);
    c.start_etcd_member_with(
        keep,
        &format!("{keep_name}={keep_peer}"),
        &["--force-new-cluster"],
    )
    .unwrap();
    c.wait_etcd_member(keep).await.unwrap();

    // 4. Bring up the other members: added, then started on empty data.
    let mut initial = vec![format!("{keep_name}={keep_peer}")];
    for i in (0..3).filter(|i| *i != keep) {
        let (name, _, peer) = c.etcd_member(i);
        let added = etcdctl(
            &keep_client,
            &["member", "add", &name, "--peer-urls", &peer],
        );
        assert!(added.contains("Member"), "{added}");
        initial.push(format!("{name}={peer}"));
        c.start_etcd_member_with(
            i,
            &initial.join(","),
            &["--initial-cluster-state", "existing"],
        )
        .unwrap();
        c.wait_etcd_member(i).await.unwrap();
    }
    let list = etcdctl(&keep_client, &["member", "list"]);
    assert_eq!(
        list.lines().filter(|l| l.contains("started")).count(),
        3,
        "{list}"
    );

    // 5. The meta, the OSDs and the gateway; every object reads back.
    c.restart_meta().await.unwrap();
    for i in 0..c.osds.len() {
        c.start_osd(i).unwrap();
    }
    c.wait_osds_up(6).await.unwrap();
    c.restart_gateway().await.unwrap();
    let s3 = crate::common::s3(&c);
    for (key, body) in &objects {
        assert!(
            get(&s3, "vault", key).await == *body,
            "{key} did not read back"
        );
    }
    let s = wait_json(&c, "/api/v1/meta/status", 20, |s| {
        s["etcd"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["healthy"] == true)
            .count()
            == 3
    })
    .await;
    assert_eq!(s["etcd"].as_array().unwrap().len(), 3, "{s}");
    put(&s3, "vault", "after", b"ok".to_vec()).await;
}
