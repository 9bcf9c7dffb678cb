//! Object and bucket tagging and CORS through real gateways: kept,
//! answered, refused when malformed, authorized like every request; CORS
//! preflights and the headers of actual requests from the bucket's rules.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule, Tag, Tagging};
use objectio_testkit::Cluster;

use crate::common::*;

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    Tagging::builder()
        .set_tag_set(Some(
            pairs
                .iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap())
                .collect(),
        ))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_object_and_bucket_tags_are_kept_and_checked() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("tgs").send().await.unwrap();
    put(&s3, "tgs", "k", b"x".to_vec()).await;
    s3.put_object_tagging()
        .bucket("tgs")
        .key("k")
        .tagging(tagging(&[("b", "2"), ("a", "1")]))
        .send()
        .await
        .unwrap();
    let t = s3
        .get_object_tagging()
        .bucket("tgs")
        .key("k")
        .send()
        .await
        .unwrap();
    let got: Vec<(&str, &str)> = t.tag_set().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(got, vec![("a", "1"), ("b", "2")]);
    let g = s3.get_object().bucket("tgs").key("k").send().await.unwrap();
    assert_eq!(g.tag_count(), Some(2));
    // Eleven tags, a duplicate key or a 129-character key: refused, and the
    // tags stay as they were.
    let eleven: Vec<(String, String)> = (0..11).map(|i| (format!("k{i}"), "v".into())).collect();
    let eleven: Vec<(&str, &str)> = eleven
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let long = "k".repeat(129);
    for bad in [
        eleven,
        vec![("a", "1"), ("a", "2")],
        vec![(long.as_str(), "v")],
    ] {
        let e = s3
            .put_object_tagging()
            .bucket("tgs")
            .key("k")
            .tagging(tagging(&bad))
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("InvalidTag"), "{e:?}");
    }
    assert_eq!(
        s3.get_object_tagging()
            .bucket("tgs")
            .key("k")
            .send()
            .await
            .unwrap()
            .tag_set()
            .len(),
        2
    );
    let e = s3
        .get_object_tagging()
        .bucket("tgs")
        .key("k")
        .version_id("00000000-0000-0000-0000-000000000001")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchVersion"), "{e:?}");
    let e = s3
        .put_object_tagging()
        .bucket("tgs")
        .key("missing")
        .tagging(tagging(&[("a", "1")]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchKey"), "{e:?}");
    // Another user may not read or change them.
    c.create_user("bob").await.unwrap();
    let (bk, bs) = c.create_key("bob").await.unwrap();
    let bob = s3_with(&c, &bk, &bs, None);
    let e = bob
        .get_object_tagging()
        .bucket("tgs")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"), "{e:?}");
    s3.delete_object_tagging()
        .bucket("tgs")
        .key("k")
        .send()
        .await
        .unwrap();
    assert!(
        s3.get_object_tagging()
            .bucket("tgs")
            .key("k")
            .send()
            .await
            .unwrap()
            .tag_set()
            .is_empty()
    );
    // An overwrite is a new object: the old tags do not carry over.
    s3.put_object()
        .bucket("tgs")
        .key("k")
        .tagging("x=1")
        .body(b"y".to_vec().into())
        .send()
        .await
        .unwrap();
    put(&s3, "tgs", "k", b"z".to_vec()).await;
    assert!(
        s3.get_object_tagging()
            .bucket("tgs")
            .key("k")
            .send()
            .await
            .unwrap()
            .tag_set()
            .is_empty()
    );

    // Bucket tags.
    let e = s3
        .get_bucket_tagging()
        .bucket("tgs")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchTagSet"), "{e:?}");
    s3.put_bucket_tagging()
        .bucket("tgs")
        .tagging(tagging(&[("team", "storage"), ("env", "test")]))
        .send()
        .await
        .unwrap();
    let t = s3.get_bucket_tagging().bucket("tgs").send().await.unwrap();
    let got: Vec<(&str, &str)> = t.tag_set().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(got, vec![("env", "test"), ("team", "storage")]);
    let e = bob
        .put_bucket_tagging()
        .bucket("tgs")
        .tagging(tagging(&[("owned", "bob")]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"), "{e:?}");
    s3.delete_bucket_tagging()
        .bucket("tgs")
        .send()
        .await
        .unwrap();
    let e = s3
        .get_bucket_tagging()
        .bucket("tgs")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchTagSet"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_cors_rules_answer_preflights_and_decorate_answers() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("web").send().await.unwrap();
    put(&s3, "web", "app.js", b"console.log(1)".to_vec()).await;
    let ep = c.s3_endpoint();
    let http = reqwest::Client::new();
    let preflight = |origin: &str, method: &str, headers: Option<&str>| {
        let mut r = http
            .request(reqwest::Method::OPTIONS, format!("{ep}/web/app.js"))
            .header("origin", origin)
            .header("access-control-request-method", method);
        if let Some(h) = headers {
            r = r.header("access-control-request-headers", h);
        }
        async move { r.send().await.unwrap() }
    };
    // No configuration yet.
    let e = s3.get_bucket_cors().bucket("web").send().await.unwrap_err();
    assert_eq!(e.code(), Some("NoSuchCORSConfiguration"), "{e:?}");
    assert_eq!(
        preflight("https://app.example.com", "GET", None)
            .await
            .status()
            .as_u16(),
        403
    );

    let rules = CorsConfiguration::builder()
        .cors_rules(
            CorsRule::builder()
                .id("uploads")
                .allowed_origins("https://*.example.com")
                .allowed_methods("PUT")
                .allowed_methods("GET")
                .allowed_headers("content-*")
                .allowed_headers("x-amz-*")
                .expose_headers("ETag")
                .max_age_seconds(600)
                .build()
                .unwrap(),
        )
        .cors_rules(
            CorsRule::builder()
                .allowed_origins("*")
                .allowed_methods("GET")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    // A method S3 does not know is refused, and nothing is stored.
    let bad = CorsConfiguration::builder()
        .cors_rules(
            CorsRule::builder()
                .allowed_origins("*")
                .allowed_methods("PATCH")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let e = s3
        .put_bucket_cors()
        .bucket("web")
        .cors_configuration(bad)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidRequest"), "{e:?}");
    let e = s3.get_bucket_cors().bucket("web").send().await.unwrap_err();
    assert_eq!(e.code(), Some("NoSuchCORSConfiguration"));
    s3.put_bucket_cors()
        .bucket("web")
        .cors_configuration(rules)
        .send()
        .await
        .unwrap();
    let got = s3.get_bucket_cors().bucket("web").send().await.unwrap();
    let r = &got.cors_rules()[0];
    assert_eq!(r.id(), Some("uploads"));
    assert_eq!(r.allowed_methods(), ["PUT", "GET"]);
    assert_eq!(r.allowed_headers(), ["content-*", "x-amz-*"]);
    assert_eq!(r.max_age_seconds(), Some(600));
    assert_eq!(got.cors_rules()[1].allowed_origins(), ["*"]);

    // Preflights: the first rule allowing origin, method and headers.
    let r = preflight(
        "https://app.example.com",
        "PUT",
        Some("Content-Type, x-amz-date"),
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    let h = |r: &reqwest::Response, n: &str| {
        r.headers().get(n).map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(
        h(&r, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert_eq!(
        h(&r, "access-control-allow-methods").as_deref(),
        Some("PUT, GET")
    );
    assert_eq!(
        h(&r, "access-control-allow-headers").as_deref(),
        Some("Content-Type, x-amz-date")
    );
    assert_eq!(h(&r, "access-control-max-age").as_deref(), Some("600"));
    assert_eq!(
        h(&r, "access-control-expose-headers").as_deref(),
        Some("ETag")
    );
    // A header no rule allows, a method no rule allows for that origin.
    let r = preflight("https://app.example.com", "PUT", Some("authorization-x")).await;
    assert_eq!(r.status().as_u16(), 403);
    let r = preflight("https://evil.org", "PUT", None).await;
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("AccessForbidden"));
    let r = preflight("https://evil.org", "GET", None).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(h(&r, "access-control-allow-origin").as_deref(), Some("*"));
    let r = http
        .request(reqwest::Method::OPTIONS, format!("{ep}/web/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // Actual requests: a signed GET from an allowed origin carries the
    // headers, without an Origin it does not.
    let r = signed(&c, reqwest::Method::GET, "/web/app.js")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        h(&r, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert_eq!(h(&r, "vary").as_deref(), Some("Origin"));
    let r = signed(&c, reqwest::Method::GET, "/web/app.js")
        .send()
        .await
        .unwrap();
    assert_eq!(h(&r, "access-control-allow-origin"), None);

    s3.delete_bucket_cors().bucket("web").send().await.unwrap();
    assert_eq!(
        preflight("https://app.example.com", "GET", None)
            .await
            .status()
            .as_u16(),
        403
    );
}
