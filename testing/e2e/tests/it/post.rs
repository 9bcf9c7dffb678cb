//! Browser-form POST uploads through a real gateway: a policy signed with
//! SigV4, its conditions and expiry enforced, success_action_status and
//! _redirect answered, the key authorized like a PUT, nothing stored when
//! refused.

use aws_sdk_s3::error::ProvideErrorMetadata;
use objectio_testkit::Cluster;
use objectio_testkit::sigv4::{amz_date, post_policy_signature};

use crate::common::*;

/// A signed form: the policy allows keys under `form/` and files of up to
/// 1 KiB, expiring `expires_in` seconds from now (negative: expired).
struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    fn new(ak: &str, sk: &str, bucket: &str, expires_in: i64) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let date = amz_date(now);
        let day = &date[..8];
        let expiry = amz_date((now as i64 + expires_in) as u64);
        let expiration = format!(
            "{}-{}-{}T{}:{}:{}Z",
            &expiry[0..4],
            &expiry[4..6],
            &expiry[6..8],
            &expiry[9..11],
            &expiry[11..13],
            &expiry[13..15]
        );
        let credential = format!("{ak}/{day}/us-east-1/s3/aws4_request");
        let policy = serde_json::json!({
            "expiration": expiration,
            "conditions": [
                {"bucket": bucket},
                ["starts-with", "$key", "form/"],
                ["starts-with", "$Content-Type", ""],
                ["content-length-range", 0, 1024],
                ["starts-with", "$success_action_status", ""],
                ["starts-with", "$success_action_redirect", ""],
                {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
                {"x-amz-credential": credential},
                {"x-amz-date": date},
            ]
        });
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
        let sig = post_policy_signature(sk, day, &b64);
        Self {
            fields: vec![
                ("policy".into(), b64),
                ("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".into()),
                ("x-amz-credential".into(), credential),
                ("x-amz-date".into(), date),
                ("x-amz-signature".into(), sig),
            ],
        }
    }

    fn with(mut self, k: &str, v: &str) -> Self {
        self.fields.retain(|(f, _)| f != k);
        self.fields.push((k.into(), v.into()));
        self
    }

    /// Sends it with `file` to the bucket; status, Location and body.
    async fn send(&self, c: &Cluster, bucket: &str, file: &[u8]) -> (u16, String, String) {
        let boundary = "----objectio-form-boundary";
        let mut body = Vec::new();
        for (k, v) in &self.fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.txt\"\r\nContent-Type: text/plain\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let r = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(format!("{}/{bucket}", c.s3_endpoint()))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, location, r.text().await.unwrap())
    }
}

async fn absent(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> bool {
    s3.head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .is_err_and(|e| e.raw_response().is_some_and(|r| r.status().as_u16() == 404))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_post_uploads_follow_their_signed_policy() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("frm").send().await.unwrap();
    let (ak, sk) = (c.access_key.clone(), c.secret_key.clone());
    let form = || Form::new(&ak, &sk, "frm", 300);

    // 201: the PostResponse XML; the object is stored with its type.
    let (status, _, body) = form()
        .with("key", "form/a.txt")
        .with("Content-Type", "text/plain")
        .with("success_action_status", "201")
        .send(&c, "frm", b"hello form")
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("<Key>form/a.txt</Key>"), "{body}");
    assert!(
        body.contains(etag(b"hello form").trim_matches('"')),
        "{body}"
    );
    assert_eq!(get(&s3, "frm", "form/a.txt").await, b"hello form");
    let h = s3
        .head_object()
        .bucket("frm")
        .key("form/a.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_type(), Some("text/plain"));
    // Default: 204.
    let (status, _, body) = form().with("key", "form/b.txt").send(&c, "frm", b"b").await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(get(&s3, "frm", "form/b.txt").await, b"b");
    // A redirect: 303 to it, with bucket, key and ETag.
    let (status, location, _) = form()
        .with("key", "form/c.txt")
        .with("success_action_redirect", "https://app.example.com/done")
        .send(&c, "frm", b"c")
        .await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with("https://app.example.com/done?bucket=frm&key=form%2Fc.txt&etag="),
        "{location}"
    );

    // Refused, and nothing stored: a key outside the policy, a file over
    // its length range, an expired policy, a forged signature.
    let (status, _, body) = form().with("key", "other/x").send(&c, "frm", b"x").await;
    assert_eq!(status, 403, "{body}");
    assert!(absent(&s3, "frm", "other/x").await);
    let (status, _, body) = form()
        .with("key", "form/big")
        .send(&c, "frm", &vec![7u8; 2000])
        .await;
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(absent(&s3, "frm", "form/big").await);
    let (status, _, body) = Form::new(&ak, &sk, "frm", -60)
        .with("key", "form/late")
        .send(&c, "frm", b"late")
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("AccessDenied"), "{body}");
    assert!(absent(&s3, "frm", "form/late").await);
    let (status, _, body) = form()
        .with("key", "form/forged")
        .with("x-amz-signature", &"0".repeat(64))
        .send(&c, "frm", b"forged")
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
    assert!(absent(&s3, "frm", "form/forged").await);

    // Another user's valid form into this bucket is refused (the key is
    // authorized like a PUT), and so is an unsigned form.
    c.create_user("bob").await.unwrap();
    let (bk, bs) = c.create_key("bob").await.unwrap();
    let (status, _, body) = Form::new(&bk, &bs, "frm", 300)
        .with("key", "form/bob")
        .send(&c, "frm", b"bob")
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(absent(&s3, "frm", "form/bob").await);
    let (status, _, body) = Form { fields: vec![] }
        .with("key", "form/anon")
        .send(&c, "frm", b"anon")
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(absent(&s3, "frm", "form/anon").await);
    let e = s3
        .get_object()
        .bucket("frm")
        .key("form/anon")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchKey"));
}
