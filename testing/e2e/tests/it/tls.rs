//! TLS on the admin API: a meta replica given a certificate and key serves
//! HTTPS with ALPN h2 and http/1.1, the CLI trusts it with `--ca-cert`,
//! cleartext to that port gets no answer, and a key readable by others or
//! a certificate that is not PEM stops the replica at start-up.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use objectio_testkit::Cluster;

/// A CA and a leaf for `localhost` and 127.0.0.1 signed by it, as PEM
/// files in `dir`: (ca, cert, key).
fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "objectio test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let (ca_f, cert_f, key_f) = (
        dir.join("ca.pem"),
        dir.join("meta.pem"),
        dir.join("meta.key"),
    );
    std::fs::write(&ca_f, ca.pem()).unwrap();
    std::fs::write(&cert_f, leaf.pem()).unwrap();
    std::fs::write(&key_f, leaf_key.serialize_pem()).unwrap();
    std::fs::set_permissions(&key_f, std::fs::Permissions::from_mode(0o600)).unwrap();
    (ca_f, cert_f, key_f)
}

fn client(ca: &Path, http1: bool) -> reqwest::Client {
    let pem = std::fs::read(ca).unwrap();
    let mut b = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(5));
    if http1 {
        b = b.http1_only();
    }
    b.build().unwrap()
}

fn cli_tls(url: &str, token: &str, ca: Option<&Path>, args: &[&str]) -> (bool, String, String) {
    let mut cmd = std::process::Command::new(objectio_testkit::bin_dir().join("objectio-cli"));
    cmd.args(args)
        .env("OBJECTIO_ENDPOINT", url)
        .env("OBJECTIO_TOKEN", token)
        .env_remove("OBJECTIO_CA_CERT");
    if let Some(ca) = ca {
        cmd.arg("--ca-cert").arg(ca);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test]
async fn test_admin_api_serves_tls_with_h2_and_http1_and_refuses_bad_key_files() {
    let mut c = Cluster::start().await.unwrap();
    let (ca, cert, key) = make_certs(c.dir.path());
    let flags = |cert: &Path, key: &Path| {
        vec![
            "--tls-cert".to_string(),
            cert.display().to_string(),
            "--tls-key".to_string(),
            key.display().to_string(),
        ]
    };
    let (_, port) = c.spawn_extra_meta(&flags(&cert, &key)).unwrap();
    let url = format!("https://localhost:{port}");

    // Up once its HTTPS health answers.
    let health = wait_https(&client(&ca, false), &url).await;
    assert_eq!(health.status(), 200);
    assert_eq!(health.version(), reqwest::Version::HTTP_2, "ALPN chose h2");
    let r = client(&ca, true)
        .get(format!("{url}/api/v1/cluster/status"))
        .bearer_auth(&c.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    assert_eq!(r.status(), 200);
    let status: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status["name"], "it", "{status}");

    // The CLI over HTTPS, trusting the CA; without it, a clear refusal.
    let (ok, out, err) = cli_tls(&url, &c.token, Some(&ca), &["osd", "list", "-o", "json"]);
    assert!(ok, "{err}");
    let osds: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(osds["osds"].as_array().unwrap().len(), 6, "{osds}");
    let (ok, _, err) = cli_tls(&url, &c.token, None, &["osd", "list"]);
    assert!(!ok && err.contains("cannot reach the admin API"), "{err}");

    // Cleartext to the TLS port: no HTTP answer.
    assert_no_cleartext_answer(port).await;
    // The cleartext replica beside it still serves h2c by prior knowledge.
    let h2c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = h2c.get(c.admin_url("/health")).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.version()),
        (200, reqwest::Version::HTTP_2)
    );

    // A key readable by others, or a certificate that is not PEM: the
    // replica refuses to start and says why.
    let junk = c.dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    for (cert, mode, says) in [
        (&cert, 0o644, "readable by group or others"),
        (&junk, 0o600, "no PEM certificate"),
    ] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let (id, _) = c.spawn_extra_meta(&flags(cert, &key)).unwrap();
        let st = c
            .wait_extra_meta_exit(&id, Duration::from_secs(20))
            .await
            .unwrap();
        assert!(!st.success());
        let log = std::fs::read_to_string(c.dir.path().join(format!("{id}.log"))).unwrap();
        assert!(log.contains(says), "{log}");
    }
}

/// Asserts that cleartext HTTP to the TLS `port` gets no HTTP answer.
async fn assert_no_cleartext_answer(port: u16) {
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let r = plain
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await;
    assert!(r.is_err(), "cleartext answered: {r:?}");
}

/// Waits until `url`'s `/health` answers over `http`; the answer.
async fn wait_https(http: &reqwest::Client, url: &str) -> reqwest::Response {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match http.get(format!("{url}/health")).send().await {
            Ok(r) => return r,
            Err(e) => {
                assert!(Instant::now() < deadline, "no HTTPS answer at {url}: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test]
async fn test_s3_gateway_serves_tls_to_the_aws_sdk_with_h2_and_http1() {
    use aws_smithy_http_client::tls;
    let mut c = Cluster::start().await.unwrap();
    let (ca, cert, key) = make_certs(c.dir.path());
    let port = c
        .spawn_extra_gateway(&[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ])
        .unwrap();
    let url = format!("https://localhost:{port}");
    let health = wait_https(&client(&ca, false), &url).await;
    assert_eq!(
        (health.status().as_u16(), health.version()),
        (200, reqwest::Version::HTTP_2),
        "ALPN chose h2"
    );
    let h1 = wait_https(&client(&ca, true), &url).await;
    assert_eq!(h1.version(), reqwest::Version::HTTP_11);

    // The AWS SDK over HTTPS, trusting the test CA: a multi-stripe PUT with
    // its default aws-chunked checksums, a GET, a ranged GET, a listing.
    let trust = tls::TrustStore::empty().with_pem_certificate(std::fs::read(&ca).unwrap());
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(
            tls::TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .unwrap(),
        )
        .build_https();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&url)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                &c.access_key,
                &c.secret_key,
                None,
                None,
                "test",
            ))
            .force_path_style(true)
            .http_client(http)
            .build(),
    );
    s3.create_bucket().bucket("tls").send().await.unwrap();
    let body = crate::common::data(5 << 20, 11);
    crate::common::put(&s3, "tls", "big", body.clone()).await;
    assert_eq!(crate::common::get(&s3, "tls", "big").await, body);
    let part = s3
        .get_object()
        .bucket("tls")
        .key("big")
        .range("bytes=4194300-4194310")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&part[..], &body[4194300..=4194310]);
    let listed = s3.list_objects_v2().bucket("tls").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1));
    // The cleartext gateway of the same cluster reads what went in over TLS.
    assert_eq!(
        crate::common::get(&crate::common::s3(&c), "tls", "big").await,
        body
    );

    // Cleartext to the TLS port gets no HTTP answer; a client that does not
    // trust the CA is refused by its own side.
    assert_no_cleartext_answer(port).await;
    assert!(reqwest::get(format!("{url}/health")).await.is_err());

    // A key readable by others: the gateway does not start, and says why.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = std::process::Command::new(objectio_testkit::bin_dir().join("objectio-gateway"))
        .args(["--tls-cert", cert.to_str().unwrap()])
        .args(["--tls-key", key.to_str().unwrap()])
        .arg("--check-config")
        .env("OBJECTIO_CLUSTER_SECRET", &c.secret)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("readable by group or others"),
        "{err}"
    );
}
