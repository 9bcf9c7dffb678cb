use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use md5::Digest;
use std::time::{Duration, Instant};

use objectio_testkit::Cluster;

/// An `aws-sdk-s3` client at default settings (checksums on), path style.
pub fn s3(c: &Cluster) -> Client {
    s3_with(c, &c.access_key, &c.secret_key, None)
}

/// A client with the given credentials and, optionally, a fixed clock.
pub fn s3_with(c: &Cluster, ak: &str, sk: &str, now: Option<std::time::SystemTime>) -> Client {
    let mut b = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(c.s3_endpoint())
        .credentials_provider(Credentials::new(ak, sk, None, None, "test"))
        .force_path_style(true);
    if let Some(t) = now {
        b = b.time_source(aws_smithy_async::time::StaticTimeSource::new(t));
    }
    Client::from_conf(b.build())
}

/// Deterministic pseudo-random bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// The S3 ETag (quoted hex MD5) of a single-part body.
pub fn etag(b: &[u8]) -> String {
    format!("\"{}\"", hex::encode(md5::Md5::digest(b)))
}

pub async fn put(s3: &Client, bucket: &str, key: &str, body: Vec<u8>) -> String {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"))
        .e_tag
        .unwrap_or_default()
}

pub async fn get(s3: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let r = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e:?}"));
    r.body.collect().await.expect("body").into_bytes().to_vec()
}

/// A client that does not retry (so a refused request stays refused: the
/// SDK would otherwise correct its clock from the error and retry).
pub fn s3_no_retry(c: &Cluster, ak: &str, sk: &str, now: Option<std::time::SystemTime>) -> Client {
    let conf = s3_with(c, ak, sk, now)
        .config()
        .to_builder()
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

/// Signs a path-style request with SigV4 header auth and `UNSIGNED-PAYLOAD`
/// (a raw requester for edge cases the SDK will not produce).
pub fn signed(c: &Cluster, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    signed_with(c, method, path, "UNSIGNED-PAYLOAD")
}

/// As [`signed`], with the given `x-amz-content-sha256` value.
pub fn signed_with(
    c: &Cluster,
    method: reqwest::Method,
    path: &str,
    payload: &str,
) -> reqwest::RequestBuilder {
    let creds = objectio_testkit::sigv4::Creds {
        endpoint: c.s3_endpoint(),
        access_key: c.access_key.clone(),
        secret_key: c.secret_key.clone(),
    };
    objectio_testkit::sigv4::request(&reqwest::Client::new(), &creds, method, path, payload)
}

/// Shards and used bytes over every disk, as the OSDs publish them.
pub async fn usage(c: &Cluster) -> (u64, u64) {
    let v = c.admin_json("/api/v1/osds").await.unwrap();
    let disks: Vec<&serde_json::Value> = v["osds"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["disks"].as_array().unwrap())
        .collect();
    (
        disks.iter().map(|d| d["shards"].as_u64().unwrap()).sum(),
        disks
            .iter()
            .map(|d| d["used_bytes"].as_u64().unwrap())
            .sum(),
    )
}

/// Waits until the published shard count is `n` and the used bytes have
/// settled (the same in two readings; 0 when `n` is 0); returns them. A
/// shard being written counts bytes before it counts as a shard, so a
/// single reading can catch one in between; a lasting leak still fails
/// here after 20 s.
pub async fn wait_shards(c: &Cluster, n: u64) -> u64 {
    wait_shards_within(c, n, Duration::from_secs(20)).await
}

/// As [`wait_shards`], for work that takes longer than 20 s to settle
/// (GC of thousands of shards on a loaded machine).
pub async fn wait_shards_within(c: &Cluster, n: u64, limit: Duration) -> u64 {
    let t = Instant::now();
    let mut last: Option<u64> = None;
    loop {
        let (shards, used) = usage(c).await;
        if shards == n && (n > 0 || used == 0) && last == Some(used) {
            return used;
        }
        last = (shards == n).then_some(used);
        assert!(
            t.elapsed() < limit,
            "shards stuck at {shards} ({used} bytes used), want {n}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many processes of `kind` ("gateways", "osds", "metas") hold a
/// liveness key.
pub async fn alive_count(c: &Cluster, kind: &str) -> usize {
    let store =
        objectio_cluster::Store::connect_with(&[c.etcd_endpoint()], "it", c.etcd_security())
            .await
            .unwrap();
    store.alive::<serde_json::Value>(kind).await.unwrap().len()
}

/// A request body fed by hand: chunks sent on the returned sender (an
/// `Err` aborts the request), for PUTs that must be caught mid-stream.
pub fn fed_body(
    depth: usize,
) -> (
    tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
    reqwest::Body,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(depth);
    let body = reqwest::Body::wrap_stream(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    (tx, body)
}

/// A raw PUT of `body` to `path` with its first `mib` MiB sent; the rest
/// goes with [`send_from`] (or the sender is dropped to cut it short).
pub async fn start_put(
    c: &Cluster,
    path: &str,
    body: &[u8],
    mib: usize,
) -> (
    tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let (tx, stream) = fed_body(4);
    let req = signed(c, reqwest::Method::PUT, path)
        .header("content-length", body.len())
        .body(stream);
    let task = tokio::spawn(async move { req.send().await });
    send_from(&tx, body, 0, mib).await;
    (tx, task)
}

/// Sends MiB pieces `first..last` of `body` on a [`fed_body`] sender.
pub async fn send_from(
    tx: &tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
    body: &[u8],
    first: usize,
    last: usize,
) {
    for piece in body.chunks(1 << 20).skip(first).take(last - first) {
        tx.send(Ok(bytes::Bytes::copy_from_slice(piece)))
            .await
            .unwrap();
    }
}

/// Waits until a write in progress has an intent in etcd and its bytes
/// have reached the OSDs (used bytes above `used_before`), so that a kill
/// that follows interrupts a write that really began. Returns the intents
/// seen; fails the test after 20 s.
pub async fn wait_write_started(c: &Cluster, used_before: u64) -> u64 {
    let store =
        objectio_cluster::Store::connect_with(&[c.etcd_endpoint()], "it", c.etcd_security())
            .await
            .unwrap();
    let t = Instant::now();
    loop {
        let intents = store.count(store.keys().intents_prefix()).await.unwrap();
        if intents > 0 && usage(c).await.1 > used_before {
            return intents;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the write never started: {intents} intents, used bytes not above {used_before}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The object record of `bucket/key` (it must exist).
pub async fn record(c: &Cluster, bucket: &str, key: &str) -> objectio_cluster::ObjectRecord {
    let store =
        objectio_cluster::Store::connect_with(&[c.etcd_endpoint()], "it", c.etcd_security())
            .await
            .unwrap();
    store
        .get::<objectio_cluster::ObjectRecord>(store.keys().object(bucket, key))
        .await
        .unwrap()
        .unwrap()
        .0
}

/// Runs `objectio-cli` against the cluster's admin API with its token:
/// success, stdout, stderr.
pub fn cli(c: &Cluster, args: &[&str]) -> (bool, String, String) {
    cli_at(&c.admin_url(""), &c.token, args)
}

/// As [`cli`], given the endpoint and token (for a test that also holds
/// the cluster mutably).
pub fn cli_at(endpoint: &str, token: &str, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(objectio_testkit::bin_dir().join("objectio-cli"))
        .args(args)
        .env("OBJECTIO_ENDPOINT", endpoint)
        .env("OBJECTIO_TOKEN", token)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Polls `path` of the admin API until `pred` holds and returns it;
/// panics with the last answer after `secs`.
pub async fn wait_json(
    c: &Cluster,
    path: &str,
    secs: u64,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let v = c.admin_json(path).await.unwrap();
        if pred(&v) {
            return v;
        }
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "{path} never as expected: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `cluster status` until `pred` holds and returns it; panics with
/// the last answer after `secs`. Its object counts come from the repair
/// controller's last whole pass (started by every map change), so they
/// follow a change by the time one pass takes.
pub async fn wait_status(
    c: &Cluster,
    secs: u64,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    wait_json(c, "/api/v1/cluster/status", secs, pred).await
}
