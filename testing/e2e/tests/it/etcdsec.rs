//! etcd with TLS, client certificates and `auth enable`: every daemon
//! reaches it with `--etcd-ca-cert`, `--etcd-cert`/`--etcd-key` and a
//! user whose password comes from a file; the authentication tokens an
//! etcd restart forgets are fetched again;
//! the meta's one-member connections (status, snapshots) use the same
//! settings; wrong settings stop a daemon at start with the reason.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use objectio_testkit::{Cluster, Options};

use crate::common::*;

/// Runs `objectio-gateway` with `args` until it exits (at most 30 s);
/// whether it succeeded, and its output.
fn gateway_exit(c: &Cluster, args: &[String]) -> (bool, String) {
    let mut child = Command::new(objectio_testkit::bin_dir().join("objectio-gateway"))
        .args(args)
        .args(["--cluster", "it", "--id", "gw-bad"])
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", objectio_testkit::free_port()))
        .env("OBJECTIO_CLUSTER_SECRET", &c.secret)
        .env_remove("OBJECTIO_ETCD_PASSWORD")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the gateway with {args:?} kept running");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `flags` with the value after `flag` replaced by `value` (or `flag`
/// and its value removed, for `None`).
fn with_flag(flags: &[String], flag: &str, value: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = flags.iter();
    while let Some(f) = it.next() {
        if f == flag {
            it.next();
            if let Some(v) = value {
                out.extend([f.clone(), v.to_string()]);
            }
        } else {
            out.push(f.clone());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_every_daemon_reaches_an_etcd_with_tls_client_certificates_and_users() {
    let snaps = tempfile::tempdir().unwrap();
    let dir: &'static str = Box::leak(snaps.path().display().to_string().into_boxed_str());
    let c = Cluster::start_with(Options {
        etcd_tls: true,
        etcd_auth: true,
        meta_args: vec!["--snapshot-dir", dir],
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(c.etcd_endpoint().starts_with("https://"));
    // The cluster came up (OSDs registered, a user and key made): every
    // daemon authenticated. A cleartext client gets nothing from this
    // etcd, so that is not by accident.
    let plain = Command::new("etcdctl")
        .args(["--endpoints", &c.etcd_endpoint().replace("https", "http")])
        .args([
            "--command-timeout",
            "2s",
            "get",
            "/objectio/it/",
            "--prefix",
        ])
        .output()
        .unwrap();
    assert!(!plain.status.success(), "cleartext etcd answered");

    // Round trips, then etcd restarts: its tokens were in its memory, so
    // every daemon's is now refused and must be fetched again; after it
    // the OSDs are up and the same round trips work.
    let mut c = c;
    let s3 = s3(&c);
    s3.create_bucket().bucket("sec").send().await.unwrap();
    let round_trips = |from: u64| {
        let s3 = s3.clone();
        async move {
            for n in from..from + 5 {
                let body = data(10_000 + n as usize, n);
                put(&s3, "sec", &format!("k{n}"), body.clone()).await;
                assert_eq!(get(&s3, "sec", &format!("k{n}")).await, body);
            }
        }
    };
    round_trips(0).await;
    c.restart_etcd().await.unwrap();
    c.wait_osds_up(6).await.unwrap();
    round_trips(5).await;
    for n in 0..10 {
        assert_eq!(
            get(&s3, "sec", &format!("k{n}")).await,
            data(10_000 + n as usize, n)
        );
    }

    // The meta's one-member connections: status of the member, a snapshot
    // (etcd allows it to root only).
    let (ok, out, err) = cli(&c, &["meta", "status", "-o", "json"]);
    assert!(ok, "{err}");
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    let m = &s["etcd"][0];
    assert!(
        m["healthy"] == true && m["db_size_bytes"].as_u64().unwrap() > 0,
        "{s}"
    );
    let (ok, out, err) = cli(&c, &["meta", "snapshot", "-o", "json"]);
    assert!(ok, "{err}");
    let snap: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(snap["bytes"].as_u64().unwrap() > 0, "{snap}");

    // Wrong settings stop a daemon at start, saying why.
    let good = c.etcd_flags(false);
    let bad_pw = c.dir.path().join("wrong.password");
    std::fs::write(&bad_pw, "not-the-password").unwrap();
    std::fs::set_permissions(&bad_pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (ok, out) = gateway_exit(
        &c,
        &with_flag(&good, "--etcd-password-file", bad_pw.to_str()),
    );
    assert!(!ok && out.contains("authentication failed"), "{out}");

    std::fs::set_permissions(&bad_pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, out) = gateway_exit(
        &c,
        &with_flag(&good, "--etcd-password-file", bad_pw.to_str()),
    );
    assert!(!ok && out.contains("readable by group or others"), "{out}");

    let (ok, out) = gateway_exit(&c, &with_flag(&good, "--etcd-password-file", None));
    assert!(!ok && out.contains("--etcd-user needs a password"), "{out}");

    let mut on_argv = good.clone();
    on_argv.extend(["--etcd-password".to_string(), "x".to_string()]);
    let (ok, out) = gateway_exit(&c, &on_argv);
    assert!(!ok && out.contains("OBJECTIO_ETCD_PASSWORD"), "{out}");

    let (ok, out) = gateway_exit(
        &c,
        &with_flag(
            &good,
            "--etcd",
            Some(&c.etcd_endpoint().replace("https", "http")),
        ),
    );
    assert!(!ok && out.contains("are for https:// endpoints"), "{out}");

    let not_pem = c.dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let (ok, out) = gateway_exit(&c, &with_flag(&good, "--etcd-ca-cert", not_pem.to_str()));
    assert!(!ok && out.contains("no PEM certificate"), "{out}");

    // Without a client certificate this etcd ends the handshake (how the
    // transport words it varies).
    let no_cert = with_flag(&with_flag(&good, "--etcd-cert", None), "--etcd-key", None);
    let (ok, out) = gateway_exit(&c, &no_cert);
    assert!(
        !ok && out.contains("error: connecting to etcd: etcd:"),
        "{out}"
    );
    // A CA that did not sign etcd's certificate: refused by this side.
    let other_ca = c.dir.path().join("other-ca.pem");
    std::fs::copy(c.dir.path().join("etcd-client.pem"), &other_ca).unwrap();
    let (ok, out) = gateway_exit(&c, &with_flag(&good, "--etcd-ca-cert", other_ca.to_str()));
    assert!(!ok && out.contains("UnknownIssuer"), "{out}");
    // The cluster is untouched by the refused daemons.
    assert_eq!(get(&s3, "sec", "k0").await, data(10_000, 0));
}
