use std::time::{Duration, SystemTime};

use aws_sdk_s3::error::ProvideErrorMetadata;
use objectio_testkit::Cluster;

use crate::common::*;

async fn put_err(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> (Option<String>, Option<u16>) {
    let e = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(b"payload".to_vec().into())
        .send()
        .await
        .unwrap_err();
    (
        e.code().map(str::to_string),
        e.raw_response().map(|r| r.status().as_u16()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_bad_credentials_and_names_are_refused_and_store_nothing() {
    let c = Cluster::start().await.unwrap();
    let good = s3(&c);
    good.create_bucket().bucket("auth").send().await.unwrap();

    // No signature at all.
    let r = reqwest::Client::new()
        .put(format!("{}/auth/anon", c.s3_endpoint()))
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<Code>AccessDenied</Code>")
    );

    // Wrong secret.
    let bad = s3_no_retry(
        &c,
        &c.access_key,
        "wrong-secret-wrong-secret-wrong-secret00",
        None,
    );
    assert_eq!(
        put_err(&bad, "auth", "wrongsig").await,
        (Some("SignatureDoesNotMatch".into()), Some(403))
    );

    // Unknown access key.
    let unknown = s3_no_retry(&c, "OIOUNKNOWNKEY0000000", &c.secret_key, None);
    assert_eq!(
        put_err(&unknown, "auth", "unknown").await,
        (Some("InvalidAccessKeyId".into()), Some(403))
    );

    // A request dated an hour ago.
    let old = s3_no_retry(
        &c,
        &c.access_key,
        &c.secret_key,
        Some(SystemTime::now() - Duration::from_secs(3600)),
    );
    assert_eq!(
        put_err(&old, "auth", "expired").await,
        (Some("RequestTimeTooSkewed".into()), Some(403))
    );

    // A bucket of another name, and malformed bucket names.
    assert_eq!(
        put_err(&good, "other-bucket", "k").await,
        (Some("NoSuchBucket".into()), Some(404))
    );
    let e = good.create_bucket().bucket("ab").send().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidBucketName"));
    let r = reqwest::Client::new()
        .put(format!("{}/Bad_Name/k", c.s3_endpoint()))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<Code>InvalidBucketName</Code>")
    );

    // Nothing was stored.
    let l = good.list_objects_v2().bucket("auth").send().await.unwrap();
    assert_eq!(l.key_count(), Some(0));
    let b = good.list_buckets().send().await.unwrap();
    let names: Vec<&str> = b.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, vec!["auth"]);

    // The raw signer works (so the refusals above are about the credentials).
    let r = signed(&c, reqwest::Method::PUT, "/auth/raw")
        .body("raw")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
    good.delete_object()
        .bucket("auth")
        .key("raw")
        .send()
        .await
        .unwrap();

    // A deleted access key stops working on the very next request: the
    // deletion answers once the gateway confirmed its copy is past it.
    let r = c
        .admin()
        .delete(c.admin_url(&format!("/api/v1/keys/{}", c.access_key)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let d: serde_json::Value = r.json().await.unwrap();
    assert_eq!(d["gateways_confirmed"], 1, "{d}");
    assert_eq!(
        put_err(&good, "auth", "after-delete").await,
        (Some("InvalidAccessKeyId".into()), Some(403))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_checksums_in_headers_and_trailers_are_verified() {
    let c = Cluster::start().await.unwrap();
    let good = s3(&c);
    good.create_bucket().bucket("sums").send().await.unwrap();
    let body = b"hello checksum".to_vec();
    let crc = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(&body).to_be_bytes())
    };
    let chunked = |sum: &str| {
        let mut b = format!("{:x}\r\n", body.len()).into_bytes();
        b.extend_from_slice(&body);
        b.extend_from_slice(format!("\r\n0\r\nx-amz-checksum-crc32:{sum}\r\n\r\n").as_bytes());
        b
    };
    let put_chunked = |key: &str, sum: &str| {
        signed_with(
            &c,
            reqwest::Method::PUT,
            &format!("/sums/{key}"),
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        )
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", body.len())
        .header("x-amz-trailer", "x-amz-checksum-crc32")
        .body(chunked(sum))
    };
    // A trailer that matches is accepted and echoed.
    let r = put_chunked("ok", &crc).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
    assert_eq!(get(&good, "sums", "ok").await, body);
    // A trailer that does not match is refused; nothing is stored.
    let r = put_chunked("bad-trailer", "AAAAAA==").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("<Code>BadDigest</Code>"));
    // Same for a checksum header.
    let r = signed(&c, reqwest::Method::PUT, "/sums/bad-header")
        .header("x-amz-checksum-crc32", "AAAAAA==")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("<Code>BadDigest</Code>"));
    let l = good.list_objects_v2().bucket("sums").send().await.unwrap();
    let keys: Vec<&str> = l.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, vec!["ok"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_virtual_hosted_style_under_the_configured_domain() {
    use objectio_testkit::sigv4::{Creds, request};
    let c = Cluster::start().await.unwrap();
    let good = s3(&c);
    good.create_bucket().bucket("vhost").send().await.unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", c.gateway_port).parse().unwrap();
    let http = reqwest::Client::builder()
        .resolve("vhost.s3.objectio.test", addr)
        .build()
        .unwrap();
    let creds = Creds {
        endpoint: format!("http://vhost.s3.objectio.test:{}", c.gateway_port),
        access_key: c.access_key.clone(),
        secret_key: c.secret_key.clone(),
    };
    let r = request(
        &http,
        &creds,
        reqwest::Method::PUT,
        "/dir/obj",
        "UNSIGNED-PAYLOAD",
    )
    .body("virtual")
    .send()
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
    // The same object, path style by IP.
    assert_eq!(get(&good, "vhost", "dir/obj").await, b"virtual");
    let r = request(
        &http,
        &creds,
        reqwest::Method::GET,
        "/dir/obj",
        "UNSIGNED-PAYLOAD",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.text().await.unwrap(), "virtual");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_client_errors_are_not_logged_as_errors_and_the_access_log_is_one_flag_away() {
    use objectio_testkit::sigv4::{Creds, request};
    let mut c = Cluster::start().await.unwrap();
    let second = c.start_extra_gateway(&["--access-log"]).await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("logs").send().await.unwrap();
    put(&s3c, "logs", "there", b"x".to_vec()).await;
    let http = reqwest::Client::new();
    // Through each gateway: a 200, a 404, a 403 (anonymous) and a 501.
    let mut ids = Vec::new();
    for endpoint in [c.s3_endpoint(), second.clone()] {
        let creds = Creds {
            endpoint: endpoint.clone(),
            access_key: c.access_key.clone(),
            secret_key: c.secret_key.clone(),
        };
        for (path, want) in [
            ("/logs/there", 200),
            ("/logs/missing", 404),
            ("/logs?website", 501),
        ] {
            let r = request(
                &http,
                &creds,
                reqwest::Method::GET,
                path,
                "UNSIGNED-PAYLOAD",
            )
            .send()
            .await
            .unwrap();
            assert_eq!(r.status().as_u16(), want, "{path}");
            let id = r.headers()["x-amz-request-id"]
                .to_str()
                .unwrap()
                .to_string();
            ids.push((endpoint.clone(), want, id));
        }
        let r = http
            .get(format!("{endpoint}/logs/there"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403);
        ids.push((
            endpoint.clone(),
            403,
            r.headers()["x-amz-request-id"].to_str().unwrap().into(),
        ));
    }
    // The access log has a line per request, with its status and id.
    for (endpoint, status, id) in ids.iter().filter(|(e, _, _)| *e == second) {
        let line = c
            .wait_log("gw2", &format!("request_id={id}"), Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| panic!("{endpoint}: {e}"));
        assert!(line.contains(&format!("status={status}")), "{line}");
        assert!(
            line.contains("bucket=logs") && line.contains(" INFO "),
            "{line}"
        );
    }
    // No gateway logged a client error (or a 501) as an error, and the
    // default gateway wrote no access lines.
    for log in ["gateway", "gw2"] {
        let text = std::fs::read_to_string(c.dir.path().join(format!("{log}.log"))).unwrap();
        let errors: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
        assert!(errors.is_empty(), "{log}: {errors:#?}");
    }
    let text = std::fs::read_to_string(c.dir.path().join("gateway.log")).unwrap();
    assert!(!text.contains("objectio_gateway::access"), "{text}");
}

/// A client of `endpoint` signing for `region`, without retries.
fn s3_in_region(c: &Cluster, endpoint: &str, region: &str) -> aws_sdk_s3::Client {
    let conf = s3_no_retry(c, &c.access_key, &c.secret_key, None)
        .config()
        .to_builder()
        .region(aws_sdk_s3::config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_requests_signed_for_another_region_are_refused_naming_ours() {
    let mut c = Cluster::start().await.unwrap();
    let ep = c.s3_endpoint();
    // s3cmd's default region name `US` is us-east-1.
    let us = s3_in_region(&c, &ep, "US");
    us.create_bucket().bucket("reg").send().await.unwrap();
    put(&us, "reg", "k", b"hello".to_vec()).await;
    assert_eq!(get(&us, "reg", "k").await, b"hello");

    let eu = s3_in_region(&c, &ep, "eu-west-1");
    let e = eu
        .get_object()
        .bucket("reg")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AuthorizationHeaderMalformed"), "{e:?}");
    assert!(
        e.message()
            .is_some_and(|m| m.contains("'eu-west-1'") && m.contains("'us-east-1'")),
        "{e:?}"
    );
    let e = eu
        .put_object()
        .bucket("reg")
        .key("k2")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AuthorizationHeaderMalformed"));
    // Presigned URLs: the query's credential scope is checked the same way.
    let cfg =
        aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let url = eu
        .get_object()
        .bucket("reg")
        .key("k")
        .presigned(cfg.clone())
        .await
        .unwrap();
    let r = reqwest::get(url.uri()).await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("<Code>AuthorizationQueryParametersError</Code>"),
        "{body}"
    );
    let url = us
        .get_object()
        .bucket("reg")
        .key("k")
        .presigned(cfg)
        .await
        .unwrap();
    let r = reqwest::get(url.uri()).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hello");
    // A bucket cannot be created for another region.
    let e = us
        .create_bucket()
        .bucket("elsewhere")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Some("IllegalLocationConstraintException"),
        "{e:?}"
    );
    assert_eq!(
        us.head_bucket()
            .bucket("elsewhere")
            .send()
            .await
            .unwrap_err()
            .raw_response()
            .map(|r| r.status().as_u16()),
        Some(404)
    );

    // A gateway configured for eu-west-1 serves that region and says so.
    let eu_ep = c
        .start_extra_gateway(&["--region", "eu-west-1"])
        .await
        .unwrap();
    let eu = s3_in_region(&c, &eu_ep, "eu-west-1");
    assert_eq!(get(&eu, "reg", "k").await, b"hello");
    let loc = eu.get_bucket_location().bucket("reg").send().await.unwrap();
    assert_eq!(
        loc.location_constraint().map(|l| l.as_str()),
        Some("eu-west-1")
    );
    let e = s3_in_region(&c, &eu_ep, "us-east-1")
        .get_object()
        .bucket("reg")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AuthorizationHeaderMalformed"));
    assert!(
        e.message()
            .is_some_and(|m| m.contains("expecting 'eu-west-1'"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_presigned_put_head_and_get_work_until_they_expire() {
    let c = Cluster::start().await.unwrap();
    let s3c = s3(&c);
    s3c.create_bucket().bucket("pre").send().await.unwrap();
    let fresh =
        aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let http = reqwest::Client::new();
    let put = s3c
        .put_object()
        .bucket("pre")
        .key("k")
        .presigned(fresh.clone())
        .await
        .unwrap();
    let r = http
        .put(put.uri())
        .body(b"presigned".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    let head = s3c
        .head_object()
        .bucket("pre")
        .key("k")
        .presigned(fresh.clone())
        .await
        .unwrap();
    let r = http.head(head.uri()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-length"], "9");
    // Signed two hours ago for a minute: expired, refused, nothing written.
    let stale = aws_sdk_s3::presigning::PresigningConfig::builder()
        .start_time(SystemTime::now() - Duration::from_secs(7200))
        .expires_in(Duration::from_secs(60))
        .build()
        .unwrap();
    for (method, url) in [
        (
            reqwest::Method::GET,
            s3c.get_object()
                .bucket("pre")
                .key("k")
                .presigned(stale.clone())
                .await
                .unwrap()
                .uri()
                .to_string(),
        ),
        (
            reqwest::Method::PUT,
            s3c.put_object()
                .bucket("pre")
                .key("k")
                .presigned(stale.clone())
                .await
                .unwrap()
                .uri()
                .to_string(),
        ),
    ] {
        let r = http
            .request(method.clone(), &url)
            .body(b"overwritten".to_vec())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert_eq!(status, 403, "{method}: {body}");
        assert!(
            body.contains("AccessDenied") || body.contains("expired"),
            "{body}"
        );
    }
    assert_eq!(get(&s3c, "pre", "k").await, b"presigned");
}
