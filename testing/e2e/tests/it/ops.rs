//! The S3 operations table (`objectio_gateway::s3::ops`): every operation
//! it does not serve answers `NotImplemented` in S3 XML (501), to anyone;
//! every one it serves answers something else.

use objectio_gateway::s3::ops::OPERATIONS;
use objectio_testkit::Cluster;

use crate::common::*;

async fn send(
    c: &Cluster,
    e: &objectio_gateway::s3::ops::Example,
    anonymous: bool,
) -> (u16, String) {
    let method: reqwest::Method = e.method.parse().unwrap();
    let mut r = if anonymous {
        reqwest::Client::new().request(method, format!("{}{}", c.s3_endpoint(), e.path))
    } else {
        signed(c, method, e.path)
    };
    if let Some((k, v)) = e.header {
        r = r.header(k, v);
    }
    let r = r.body(e.body).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_every_operation_not_served_answers_not_implemented() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    put(&s3, "bkt", "k", b"object".to_vec()).await;
    let not_served: Vec<_> = OPERATIONS
        .iter()
        .filter(|o| !o.served)
        .filter_map(|o| Some((o.name, o.example.as_ref()?)))
        .collect();
    // Encryption and websites are not served yet; both are checked here.
    for name in ["PutBucketEncryption", "GetBucketWebsite"] {
        assert!(not_served.iter().any(|(n, _)| *n == name), "{name}");
    }
    for (name, e) in &not_served {
        for anonymous in [false, true] {
            let (status, body) = send(&c, e, anonymous).await;
            assert_eq!(status, 501, "{name} {} {}: {body}", e.method, e.path);
            assert!(
                body.contains("<Code>NotImplemented</Code>"),
                "{name}: {body}"
            );
            assert!(body.contains(name), "{name}: {body}");
        }
    }
    // Nothing a refused configuration names was stored or changed.
    assert_eq!(get(&s3, "bkt", "k").await, b"object");

    let served: Vec<_> = OPERATIONS
        .iter()
        .filter(|o| o.served)
        .filter_map(|o| Some((o.name, o.example.as_ref()?)))
        .collect();
    for (name, e) in &served {
        let (status, body) = send(&c, e, false).await;
        assert_ne!(status, 501, "{name} {} {}: {body}", e.method, e.path);
        assert!(!body.contains("NotImplemented"), "{name}: {body}");
    }
}
