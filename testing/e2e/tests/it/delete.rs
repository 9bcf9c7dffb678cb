//! DeleteObjects (batch delete) through real gateways: verbose and quiet
//! answers, 1000 keys, per-key authorization and errors, the required and
//! verified Content-MD5 or checksum, and that space comes back.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use futures::StreamExt;
use objectio_testkit::Cluster;
use objectio_testkit::sigv4::{Creds, request};

use crate::common::*;

fn ids<I: IntoIterator<Item = String>>(keys: I) -> Delete {
    Delete::builder()
        .set_objects(Some(
            keys.into_iter()
                .map(|k| ObjectIdentifier::builder().key(k).build().unwrap())
                .collect(),
        ))
        .build()
        .unwrap()
}

async fn keys_in(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let r = s3
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        out.extend(
            r.contents()
                .iter()
                .filter_map(|o| o.key().map(String::from)),
        );
        match r.next_continuation_token() {
            Some(t) => token = Some(t.to_string()),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_delete_objects_deletes_a_thousand_keys_and_answers_each() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("bat").send().await.unwrap();
    let keys: Vec<String> = (0..1000).map(|i| format!("k/{i:04}")).collect();
    futures::stream::iter(keys.iter().cloned())
        .map(|k| {
            let s3 = s3.clone();
            async move { put(&s3, "bat", &k, data(100, k.len() as u64)).await }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    assert_eq!(keys_in(&s3, "bat").await.len(), 1000);
    assert!(
        wait_shards_within(&c, 3000, std::time::Duration::from_secs(60)).await > 0,
        "three copies per 100-byte object"
    );

    // 1001 keys: refused whole, nothing deleted.
    let mut too_many = keys.clone();
    too_many.push("extra".into());
    let e = s3
        .delete_objects()
        .bucket("bat")
        .delete(ids(too_many))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("MalformedXML"), "{e:?}");
    assert_eq!(keys_in(&s3, "bat").await.len(), 1000);

    // 1000 keys, verbose: each one answered Deleted, in order.
    let r = s3
        .delete_objects()
        .bucket("bat")
        .delete(ids(keys.clone()))
        .send()
        .await
        .unwrap();
    assert!(r.errors().is_empty(), "{:?}", r.errors());
    let deleted: Vec<&str> = r.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, keys.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(keys_in(&s3, "bat").await.is_empty());
    // The space comes back once GC has run (3000 shards: given more than
    // the usual 20 s on a loaded machine).
    assert_eq!(
        wait_shards_within(&c, 0, std::time::Duration::from_secs(120)).await,
        0
    );

    // Keys that are not there are deleted as far as S3 is concerned; quiet
    // mode answers nothing for them.
    put(&s3, "bat", "a", b"a".to_vec()).await;
    let r = s3
        .delete_objects()
        .bucket("bat")
        .delete(
            Delete::builder()
                .set_objects(Some(vec![
                    ObjectIdentifier::builder().key("a").build().unwrap(),
                    ObjectIdentifier::builder().key("never").build().unwrap(),
                ]))
                .quiet(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(r.deleted().is_empty(), "{:?}", r.deleted());
    assert!(r.errors().is_empty(), "{:?}", r.errors());
    assert!(keys_in(&s3, "bat").await.is_empty());

    // A version id that is not one of ours is an error for that key only;
    // "null" names the object of an unversioned bucket.
    put(&s3, "bat", "v", b"v".to_vec()).await;
    put(&s3, "bat", "w", b"w".to_vec()).await;
    let r = s3
        .delete_objects()
        .bucket("bat")
        .delete(
            Delete::builder()
                .set_objects(Some(vec![
                    ObjectIdentifier::builder()
                        .key("v")
                        .version_id("not-a-version")
                        .build()
                        .unwrap(),
                    ObjectIdentifier::builder()
                        .key("w")
                        .version_id("null")
                        .build()
                        .unwrap(),
                ]))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let errs: Vec<(Option<&str>, Option<&str>)> =
        r.errors().iter().map(|e| (e.key(), e.code())).collect();
    assert_eq!(errs, vec![(Some("v"), Some("NoSuchVersion"))]);
    assert_eq!(r.deleted().len(), 1);
    assert_eq!(keys_in(&s3, "bat").await, vec!["v".to_string()]);

    let e = s3
        .delete_objects()
        .bucket("nosuch")
        .delete(ids(["x".to_string()]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchBucket"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_delete_objects_authorizes_each_key_and_requires_a_digest() {
    let c = Cluster::start().await.unwrap();
    c.create_user("alice").await.unwrap();
    c.create_user("bob").await.unwrap();
    let (ak, sk) = c.create_key("alice").await.unwrap();
    let (bk, bs) = c.create_key("bob").await.unwrap();
    let alice = s3_with(&c, &ak, &sk, None);
    let bob = s3_with(&c, &bk, &bs, None);
    alice.create_bucket().bucket("pkd").send().await.unwrap();
    for k in ["public/a", "private/b"] {
        put(&alice, "pkd", k, b"x".to_vec()).await;
    }
    // Bob may delete under public/ only.
    alice
        .put_bucket_policy()
        .bucket("pkd")
        .policy(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
              "Principal": {"AWS": "arn:objectio:iam:::user/bob"},
              "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::pkd/public/*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let r = bob
        .delete_objects()
        .bucket("pkd")
        .delete(ids(["public/a".to_string(), "private/b".to_string()]))
        .send()
        .await
        .unwrap();
    let deleted: Vec<&str> = r.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, vec!["public/a"]);
    let errs: Vec<(Option<&str>, Option<&str>)> =
        r.errors().iter().map(|e| (e.key(), e.code())).collect();
    assert_eq!(errs, vec![(Some("private/b"), Some("AccessDenied"))]);
    assert_eq!(keys_in(&alice, "pkd").await, vec!["private/b".to_string()]);

    // Raw requests: no Content-MD5 nor checksum is refused, a wrong one is
    // BadDigest, and neither deletes anything.
    let creds = Creds {
        endpoint: c.s3_endpoint(),
        access_key: ak,
        secret_key: sk,
    };
    let http = reqwest::Client::new();
    let body = "<Delete><Object><Key>private/b</Key></Object></Delete>";
    let send = |md5: Option<String>| {
        let mut r = request(
            &http,
            &creds,
            reqwest::Method::POST,
            "/pkd?delete",
            "UNSIGNED-PAYLOAD",
        )
        .body(body);
        if let Some(m) = md5 {
            r = r.header("content-md5", m);
        }
        async move {
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, text) = send(None).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("<Code>InvalidRequest</Code>"), "{text}");
    assert!(text.contains("Content-MD5"), "{text}");
    let b64 = |b: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    use md5::Digest;
    let (status, text) = send(Some(b64(&md5::Md5::digest(b"something else")))).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("<Code>BadDigest</Code>"), "{text}");
    let (status, text) = send(Some("!!".into())).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("<Code>InvalidDigest</Code>"), "{text}");
    assert_eq!(keys_in(&alice, "pkd").await, vec!["private/b".to_string()]);
    // Malformed XML with a right digest.
    let bad = "<Delete><Object><Key>private/b</Key>";
    let r = request(
        &http,
        &creds,
        reqwest::Method::POST,
        "/pkd?delete",
        "UNSIGNED-PAYLOAD",
    )
    .header("content-md5", b64(&md5::Md5::digest(bad.as_bytes())))
    .body(bad)
    .send()
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("MalformedXML"));
    // The right digest deletes.
    let (status, text) = send(Some(b64(&md5::Md5::digest(body.as_bytes())))).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("<Deleted><Key>private/b</Key>"), "{text}");
    assert!(keys_in(&alice, "pkd").await.is_empty());
}
