//! Users, ownership and authorization through real gateways: every
//! principal (owner, another user, anonymous) against every operation,
//! without a policy, with one that grants the other user read of a
//! prefix, and with a Deny that overrides an Allow.

use objectio_testkit::Cluster;
use objectio_testkit::sigv4::{Creds, request};

use crate::common::*;

/// Who sends a request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Owner,
    Other,
    Anon,
}

struct Principals {
    endpoint: String,
    owner: Creds,
    other: Creds,
    http: reqwest::Client,
}

impl Principals {
    async fn new(c: &Cluster) -> Self {
        c.create_user("alice").await.unwrap();
        c.create_user("bob").await.unwrap();
        let (ak, sk) = c.create_key("alice").await.unwrap();
        let (bk, bs) = c.create_key("bob").await.unwrap();
        let creds = |access_key, secret_key| Creds {
            endpoint: c.s3_endpoint(),
            access_key,
            secret_key,
        };
        Self {
            endpoint: c.s3_endpoint(),
            owner: creds(ak, sk),
            other: creds(bk, bs),
            http: reqwest::Client::new(),
        }
    }

    /// A request for `path` (path style, query URI-encoded) as `who`.
    fn req(&self, who: Who, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        match who {
            Who::Owner => request(&self.http, &self.owner, method, path, "UNSIGNED-PAYLOAD"),
            Who::Other => request(&self.http, &self.other, method, path, "UNSIGNED-PAYLOAD"),
            Who::Anon => self
                .http
                .request(method, format!("{}{path}", self.endpoint)),
        }
    }

    /// Status and body of a request.
    async fn send(
        &self,
        who: Who,
        method: reqwest::Method,
        path: &str,
        body: &str,
    ) -> (u16, String) {
        let r = self
            .req(who, method, path)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

/// One operation of the matrix: a name, method, path and body.
type Op = (&'static str, reqwest::Method, &'static str, &'static str);

fn ops() -> Vec<Op> {
    use reqwest::Method as M;
    vec![
        ("HeadBucket", M::HEAD, "/shr", ""),
        ("ListObjectsV2", M::GET, "/shr?list-type=2", ""),
        (
            "ListObjectsV2 shared/",
            M::GET,
            "/shr?list-type=2&prefix=shared%2F",
            "",
        ),
        ("GetObject private", M::GET, "/shr/private/p.txt", ""),
        ("HeadObject private", M::HEAD, "/shr/private/p.txt", ""),
        ("GetObject shared", M::GET, "/shr/shared/s.txt", ""),
        ("HeadObject shared", M::HEAD, "/shr/shared/s.txt", ""),
        (
            "GetObject shared/secret",
            M::GET,
            "/shr/shared/secret.txt",
            "",
        ),
        ("PutObject shared", M::PUT, "/shr/shared/new.txt", "new"),
        (
            "CreateMultipartUpload",
            M::POST,
            "/shr/shared/mp?uploads",
            "",
        ),
        ("ListMultipartUploads", M::GET, "/shr?uploads", ""),
        ("DeleteObject", M::DELETE, "/shr/shared/new.txt", ""),
        ("GetBucketPolicy", M::GET, "/shr?policy", ""),
        ("GetBucketAcl", M::GET, "/shr?acl", ""),
    ]
}

/// The policy that grants bob read of `shared/` (and listing it).
const GRANT_SHARED: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ReadShared", "Effect": "Allow",
     "Principal": {"AWS": "arn:objectio:iam:::user/bob"},
     "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::shr/shared/*"},
    {"Sid": "ListShared", "Effect": "Allow",
     "Principal": {"AWS": ["arn:objectio:iam:::user/bob"]},
     "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::shr",
     "Condition": {"StringLike": {"s3:prefix": "shared/*"}}}
  ]
}"#;

/// The same, plus Denys that override Allows: bob may not read
/// `shared/secret*`, and nobody (the owner neither) may delete objects.
const GRANT_AND_DENY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:objectio:iam:::user/bob"},
     "Action": "s3:Get*", "Resource": "arn:aws:s3:::shr/shared/*"},
    {"Effect": "Allow", "Principal": {"AWS": "arn:objectio:iam:::user/bob"},
     "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::shr",
     "Condition": {"StringLike": {"s3:prefix": "shared/*"}}},
    {"Effect": "Deny", "Principal": {"AWS": "arn:objectio:iam:::user/bob"},
     "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shr/shared/secret*"},
    {"Effect": "Deny", "Principal": "*",
     "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::shr/*"}
  ]
}"#;

/// The expected status of each op for owner, other, anonymous.
fn expected(scenario: &str, op: &str) -> [u16; 3] {
    let base = match op {
        "HeadBucket" | "ListObjectsV2" | "ListObjectsV2 shared/" => [200, 403, 403],
        "GetObject private" | "HeadObject private" => [200, 403, 403],
        "GetObject shared" | "HeadObject shared" | "GetObject shared/secret" => [200, 403, 403],
        "PutObject shared" | "CreateMultipartUpload" | "ListMultipartUploads" => [200, 403, 403],
        "DeleteObject" => [204, 403, 403],
        // No policy yet: the owner is told there is none.
        "GetBucketPolicy" => [404, 403, 403],
        "GetBucketAcl" => [200, 403, 403],
        other => panic!("no expectation for {other}"),
    };
    match (scenario, op) {
        ("grant", "ListObjectsV2 shared/" | "GetObject shared" | "HeadObject shared")
        | ("grant", "GetObject shared/secret") => [200, 200, 403],
        ("grant", "GetBucketPolicy") => [200, 403, 403],
        ("deny", "ListObjectsV2 shared/" | "GetObject shared" | "HeadObject shared") => {
            [200, 200, 403]
        }
        // Denied to bob although `s3:Get*` allows it.
        ("deny", "GetObject shared/secret") => [200, 403, 403],
        // Denied to everyone, the owner included.
        ("deny", "DeleteObject") => [403, 403, 403],
        ("deny", "GetBucketPolicy") => [200, 403, 403],
        _ => base,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_each_principal_gets_what_aws_answers_with_and_without_policies() {
    use reqwest::Method as M;
    let c = Cluster::start().await.unwrap();
    let p = Principals::new(&c).await;
    // alice creates the bucket and its objects.
    assert_eq!(p.send(Who::Owner, M::PUT, "/shr", "").await.0, 200);
    for k in ["private/p.txt", "shared/s.txt", "shared/secret.txt"] {
        let (s, b) = p.send(Who::Owner, M::PUT, &format!("/shr/{k}"), k).await;
        assert_eq!(s, 200, "{k}: {b}");
    }
    let mut table = Vec::new();
    for (scenario, policy) in [
        ("none", None),
        ("grant", Some(GRANT_SHARED)),
        ("deny", Some(GRANT_AND_DENY)),
    ] {
        if let Some(pol) = policy {
            let (s, b) = p.send(Who::Owner, M::PUT, "/shr?policy", pol).await;
            assert_eq!(s, 204, "PutBucketPolicy: {b}");
        }
        for (name, method, path, body) in ops() {
            let want = expected(scenario, name);
            for (i, who) in [Who::Owner, Who::Other, Who::Anon].into_iter().enumerate() {
                let (got, text) = p.send(who, method.clone(), path, body).await;
                assert_eq!(got, want[i], "{scenario}: {name} as {who:?}: {text}");
                if got == 403 && method != M::HEAD {
                    assert!(text.contains("<Code>AccessDenied</Code>"), "{name}: {text}");
                }
                table.push(format!("{scenario:5} {name:26} {who:?}={got}"));
            }
            // The owner's writes are undone between rows; others' never landed.
            if name == "PutObject shared" {
                let (s, _) = p.send(Who::Owner, M::GET, "/shr/shared/new.txt", "").await;
                assert_eq!(s, 200, "only the owner's PUT landed");
            }
        }
        // What bob and the anonymous tried left nothing behind; the owner's
        // delete (where allowed) removed its object.
        let (_, list) = p.send(Who::Owner, M::GET, "/shr?list-type=2", "").await;
        assert!(list.contains("<Key>shared/s.txt</Key>"), "{list}");
        if scenario != "deny" {
            assert!(!list.contains("shared/new.txt"), "{list}");
        }
    }
    println!("{}", table.join("\n"));

    // Nobody but the owner sets or removes the policy.
    for who in [Who::Other, Who::Anon] {
        let (s, b) = p.send(who, M::PUT, "/shr?policy", GRANT_SHARED).await;
        assert_eq!(s, 403, "PutBucketPolicy as {who:?}: {b}");
        assert_eq!(p.send(who, M::DELETE, "/shr?policy", "").await.0, 403);
    }
    let (_, kept) = p.send(Who::Owner, M::GET, "/shr?policy", "").await;
    assert_eq!(kept, GRANT_AND_DENY, "the policy is the owner's last one");

    // The owner manages the policy even under a Deny of everything.
    let deny_all = r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::shr","arn:aws:s3:::shr/*"]}]}"#;
    assert_eq!(
        p.send(Who::Owner, M::PUT, "/shr?policy", deny_all).await.0,
        204
    );
    assert_eq!(
        p.send(Who::Owner, M::GET, "/shr/shared/s.txt", "").await.0,
        403
    );
    assert_eq!(
        p.send(Who::Owner, M::DELETE, "/shr?policy", "").await.0,
        204
    );
    assert_eq!(
        p.send(Who::Owner, M::GET, "/shr/shared/s.txt", "").await.0,
        200
    );
    let (s, b) = p.send(Who::Owner, M::GET, "/shr?policy", "").await;
    assert_eq!(s, 404);
    assert!(b.contains("NoSuchBucketPolicy"), "{b}");

    // ListBuckets: each user sees only their own buckets, with themselves
    // as owner; anonymous is refused.
    assert_eq!(p.send(Who::Other, M::PUT, "/bobs", "").await.0, 200);
    let (s, l) = p.send(Who::Owner, M::GET, "/", "").await;
    assert_eq!(s, 200);
    assert!(
        l.contains("<Name>shr</Name>") && !l.contains("<Name>bobs</Name>"),
        "{l}"
    );
    assert!(
        l.contains("<ID>alice</ID>") && l.contains("<DisplayName>alice</DisplayName>"),
        "{l}"
    );
    let (_, l) = p.send(Who::Other, M::GET, "/", "").await;
    assert!(
        l.contains("<Name>bobs</Name>") && !l.contains("<Name>shr</Name>"),
        "{l}"
    );
    assert_eq!(p.send(Who::Anon, M::GET, "/", "").await.0, 403);
    // Re-creating another's bucket: BucketAlreadyExists; one's own:
    // BucketAlreadyOwnedByYou.
    let (s, b) = p.send(Who::Other, M::PUT, "/shr", "").await;
    assert_eq!(s, 409);
    assert!(b.contains("BucketAlreadyExists"), "{b}");
    let (_, b) = p.send(Who::Owner, M::PUT, "/shr", "").await;
    assert!(b.contains("BucketAlreadyOwnedByYou"), "{b}");

    // DeleteBucket: only its owner.
    for k in [
        "private/p.txt",
        "shared/s.txt",
        "shared/secret.txt",
        "shared/new.txt",
    ] {
        p.send(Who::Owner, M::DELETE, &format!("/shr/{k}"), "")
            .await;
    }
    let (_, ups) = p.send(Who::Owner, M::GET, "/shr?uploads", "").await;
    for id in ups.split("<UploadId>").skip(1) {
        let id = &id[..id.find('<').unwrap()];
        let path = format!("/shr/shared/mp?uploadId={id}");
        assert_eq!(p.send(Who::Owner, M::DELETE, &path, "").await.0, 204);
    }
    assert_eq!(p.send(Who::Other, M::DELETE, "/shr", "").await.0, 403);
    assert_eq!(p.send(Who::Anon, M::DELETE, "/shr", "").await.0, 403);
    assert_eq!(p.send(Who::Owner, M::DELETE, "/shr", "").await.0, 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_canned_acls_grant_anonymous_reads_and_answer_what_is_in_force() {
    use reqwest::Method as M;
    let c = Cluster::start().await.unwrap();
    let p = Principals::new(&c).await;
    assert_eq!(p.send(Who::Owner, M::PUT, "/pub", "").await.0, 200);
    // A bucket created public-read lists for anyone from the start.
    let r = p
        .req(Who::Owner, M::PUT, "/pubfromthestart")
        .header("x-amz-acl", "public-read")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        p.send(Who::Anon, M::GET, "/pubfromthestart?list-type=2", "")
            .await
            .0,
        200
    );
    assert_eq!(
        p.send(Who::Anon, M::PUT, "/pubfromthestart/x", "x").await.0,
        403
    );
    // An object uploaded public-read can be fetched by anyone; a private
    // one beside it cannot; the bucket itself is not listable.
    let r = p
        .req(Who::Owner, M::PUT, "/pub/site/index.html")
        .header("x-amz-acl", "public-read")
        .body("<h1>hi</h1>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    p.send(Who::Owner, M::PUT, "/pub/site/private.html", "no")
        .await;
    let (s, b) = p.send(Who::Anon, M::GET, "/pub/site/index.html", "").await;
    assert_eq!((s, b.as_str()), (200, "<h1>hi</h1>"));
    assert_eq!(
        p.send(Who::Anon, M::GET, "/pub/site/private.html", "")
            .await
            .0,
        403
    );
    assert_eq!(
        p.send(Who::Anon, M::GET, "/pub?list-type=2", "").await.0,
        403
    );
    // GetObjectAcl answers the grants in force.
    let (s, acl) = p
        .send(Who::Owner, M::GET, "/pub/site/index.html?acl", "")
        .await;
    assert_eq!(s, 200);
    assert!(
        acl.contains("global/AllUsers") && acl.contains("<Permission>READ</Permission>"),
        "{acl}"
    );
    assert!(
        acl.contains("<Permission>FULL_CONTROL</Permission>") && acl.contains("<ID>alice</ID>"),
        "{acl}"
    );
    // Made private again, it is refused.
    let r = p
        .req(Who::Owner, M::PUT, "/pub/site/index.html?acl")
        .header("x-amz-acl", "private")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        p.send(Who::Anon, M::GET, "/pub/site/index.html", "")
            .await
            .0,
        403
    );
    // A public-read bucket lists for anyone; authenticated-read for users only.
    let r = p
        .req(Who::Owner, M::PUT, "/pub?acl")
        .header("x-amz-acl", "public-read")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        p.send(Who::Anon, M::GET, "/pub?list-type=2", "").await.0,
        200
    );
    let (_, acl) = p.send(Who::Owner, M::GET, "/pub?acl", "").await;
    assert!(acl.contains("global/AllUsers"), "{acl}");
    let r = p
        .req(Who::Owner, M::PUT, "/pub?acl")
        .header("x-amz-acl", "authenticated-read")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        p.send(Who::Anon, M::GET, "/pub?list-type=2", "").await.0,
        403
    );
    assert_eq!(
        p.send(Who::Other, M::GET, "/pub?list-type=2", "").await.0,
        200
    );
    // Writes stay the owner's (READ is not WRITE).
    assert_eq!(p.send(Who::Other, M::PUT, "/pub/x", "x").await.0, 403);
    // public-read-write lets anyone write; grants by e-mail are not built.
    let r = p
        .req(Who::Owner, M::PUT, "/pub?acl")
        .header("x-amz-acl", "public-read-write")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(p.send(Who::Anon, M::PUT, "/pub/anon.txt", "a").await.0, 200);
    let r = p
        .req(Who::Owner, M::PUT, "/pub?acl")
        .header("x-amz-grant-read", "emailAddress=\"x@example.com\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 501);
    // An unknown canned ACL is refused, and changes nothing.
    let r = p
        .req(Who::Owner, M::PUT, "/pub?acl")
        .header("x-amz-acl", "everyone-may")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        p.send(Who::Anon, M::PUT, "/pub/anon2.txt", "a").await.0,
        200
    );
    // Only the owner reads or changes ACLs.
    assert_eq!(p.send(Who::Other, M::GET, "/pub?acl", "").await.0, 403);
    assert_eq!(p.send(Who::Anon, M::PUT, "/pub?acl", "").await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_hostile_policies_are_malformed_and_store_nothing() {
    use reqwest::Method as M;
    let c = Cluster::start().await.unwrap();
    let p = Principals::new(&c).await;
    assert_eq!(p.send(Who::Owner, M::PUT, "/hpol", "").await.0, 200);
    let huge = format!(
        r#"{{"Id":"{}","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::hpol/*"}}]}}"#,
        "x".repeat(30_000)
    );
    let cases: Vec<String> = vec![
        "not json".into(),
        r#"{"Statement":"nope"}"#.into(),
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject", 5],"Resource":"arn:aws:s3:::hpol/*"}]}"#.into(),
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:TeleportObject","Resource":"arn:aws:s3:::hpol/*"}]}"#.into(),
        r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::x:role/admin"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::hpol/*"}]}"#.into(),
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::someone-elses/*"}]}"#.into(),
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::hpol/*","Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1/8"}}}]}"#.into(),
        huge,
    ];
    for pol in &cases {
        let (s, b) = p.send(Who::Owner, M::PUT, "/hpol?policy", pol).await;
        assert_eq!(s, 400, "{pol:.80}: {b}");
        assert!(b.contains("<Code>MalformedPolicy</Code>"), "{pol:.80}: {b}");
        let (s, b) = p.send(Who::Owner, M::GET, "/hpol?policy", "").await;
        assert_eq!(s, 404, "nothing stored: {b}");
    }
    // A valid one then stores, and reads back as given; its status says
    // whether it makes the bucket public.
    let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::hpol/public/*"}]}"#;
    assert_eq!(
        p.send(Who::Owner, M::PUT, "/hpol?policy", public).await.0,
        204
    );
    let (s, b) = p.send(Who::Owner, M::GET, "/hpol?policy", "").await;
    assert_eq!((s, b.as_str()), (200, public));
    let (_, st) = p.send(Who::Owner, M::GET, "/hpol?policyStatus", "").await;
    assert!(st.contains("<IsPublic>true</IsPublic>"), "{st}");
    // Which it does: anonymous reads of public/ only.
    p.send(Who::Owner, M::PUT, "/hpol/public/a", "a").await;
    p.send(Who::Owner, M::PUT, "/hpol/private/b", "b").await;
    assert_eq!(p.send(Who::Anon, M::GET, "/hpol/public/a", "").await.0, 200);
    assert_eq!(
        p.send(Who::Anon, M::GET, "/hpol/private/b", "").await.0,
        403
    );
    // A policy limited to source addresses is not public; this one does
    // not include 127.0.0.1, so it grants nothing here.
    let lan = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::hpol/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;
    assert_eq!(p.send(Who::Owner, M::PUT, "/hpol?policy", lan).await.0, 204);
    let (_, st) = p.send(Who::Owner, M::GET, "/hpol?policyStatus", "").await;
    assert!(st.contains("<IsPublic>false</IsPublic>"), "{st}");
    assert_eq!(p.send(Who::Anon, M::GET, "/hpol/public/a", "").await.0, 403);
    let local = lan.replace("10.0.0.0/8", "127.0.0.0/8");
    assert_eq!(
        p.send(Who::Owner, M::PUT, "/hpol?policy", &local).await.0,
        204
    );
    assert_eq!(
        p.send(Who::Anon, M::GET, "/hpol/private/b", "").await.0,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_deleted_keys_and_users_are_refused_at_once_by_every_gateway() {
    use reqwest::Method as M;
    let mut c = Cluster::start().await.unwrap();
    let second = c.start_extra_gateway(&[]).await.unwrap();
    let p = Principals::new(&c).await;
    let at = |creds: &Creds, endpoint: &str| Creds {
        endpoint: endpoint.to_string(),
        ..creds.clone()
    };
    let http = reqwest::Client::new();
    let head = |creds: Creds| {
        let http = http.clone();
        async move {
            request(&http, &creds, M::GET, "/", "UNSIGNED-PAYLOAD")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let first = c.s3_endpoint();
    // Both keys work through both gateways (the second gateway's copy of
    // the keys has caught up, or it reads etcd).
    for e in [&first, &second] {
        assert_eq!(head(at(&p.owner, e)).await, 200);
        assert_eq!(head(at(&p.other, e)).await, 200);
    }
    // A second key of bob's, to delete with the user.
    let (bk2, bs2) = c.create_key("bob").await.unwrap();
    let bob2 = Creds {
        endpoint: first.clone(),
        access_key: bk2.clone(),
        secret_key: bs2,
    };
    assert_eq!(head(bob2.clone()).await, 200);

    // Delete alice's key: the very next request through either gateway is
    // refused.
    let d = c
        .admin()
        .delete(c.admin_url(&format!("/api/v1/keys/{}", p.owner.access_key)))
        .send()
        .await
        .unwrap();
    assert_eq!(d.status().as_u16(), 200);
    let d: serde_json::Value = d.json().await.unwrap();
    assert_eq!(d["gateways_confirmed"], 2, "{d}");
    for e in [&first, &second] {
        assert_eq!(head(at(&p.owner, e)).await, 403, "deleted key through {e}");
    }

    // A user with keys is not deleted without --purge-keys; with buckets,
    // not at all.
    assert_eq!(p.send(Who::Other, M::PUT, "/bobs", "").await.0, 200);
    let r = c
        .admin()
        .delete(c.admin_url("/api/v1/users/bob?purge_keys=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    assert!(r.text().await.unwrap().contains("bobs"));
    assert_eq!(p.send(Who::Other, M::DELETE, "/bobs", "").await.0, 204);
    let r = c
        .admin()
        .delete(c.admin_url("/api/v1/users/bob"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(
        head(at(&p.other, &second)).await,
        200,
        "refused delete changed nothing"
    );
    let r = c
        .admin()
        .delete(c.admin_url("/api/v1/users/bob?purge_keys=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let d: serde_json::Value = r.json().await.unwrap();
    assert_eq!(d["keys_deleted"].as_array().unwrap().len(), 2, "{d}");
    assert_eq!(d["gateways_confirmed"], 2, "{d}");
    for e in [&first, &second] {
        assert_eq!(
            head(at(&p.other, e)).await,
            403,
            "deleted user's key through {e}"
        );
        assert_eq!(
            head(at(&bob2, e)).await,
            403,
            "deleted user's 2nd key through {e}"
        );
    }
    let r = c
        .admin()
        .get(c.admin_url("/api/v1/users/bob"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // The user's secrets are not in etcd in clear.
    let mut kv = etcd_client::Client::connect([c.etcd_endpoint()], None)
        .await
        .unwrap();
    let all = kv
        .get(
            "/objectio/it/v1/keys/",
            Some(etcd_client::GetOptions::new().with_prefix()),
        )
        .await
        .unwrap();
    assert!(!all.kvs().is_empty());
    for k in all.kvs() {
        let v = String::from_utf8_lossy(k.value());
        assert!(!v.contains(&c.secret_key), "a secret in clear: {v}");
        assert!(v.contains("\"sealed_secret\":\"v1:"), "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_keys_from_before_users_are_migrated_and_keep_working() {
    let mut c = Cluster::start().await.unwrap();
    // A version 1 key record, as builds before users wrote it, and a
    // bucket it created (owner: the key id).
    let mut kv = etcd_client::Client::connect([c.etcd_endpoint()], None)
        .await
        .unwrap();
    let id = "OIOLEGACYKEY00000001";
    let secret = "legacy-secret-legacy-secret-legacy-secr0";
    kv.put(
        format!("/objectio/it/v1/users/{id}"),
        serde_json::json!({"version": 1, "access_key_id": id, "secret_access_key": secret,
            "name": "old-app", "created": 1_700_000_000u64})
        .to_string(),
        None,
    )
    .await
    .unwrap();
    kv.put(
        "/objectio/it/v1/buckets/legacy",
        serde_json::json!({"version": 1, "name": "legacy", "owner": id, "created": 1_700_000_000u64}).to_string(),
        None,
    )
    .await
    .unwrap();
    // The meta migrates at start.
    c.restart_meta().await.unwrap();
    let u = c.admin_json(&format!("/api/v1/users/{id}")).await.unwrap();
    assert_eq!(u["migrated"], true, "{u}");
    assert_eq!(u["keys"], serde_json::json!([id]));
    assert_eq!(u["buckets"], serde_json::json!(["legacy"]));
    let k = c.admin_json("/api/v1/keys").await.unwrap();
    let rec = k["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["access_key_id"] == id)
        .cloned()
        .unwrap();
    assert_eq!(rec["name"], "old-app");
    assert_eq!(rec["user"], id);
    // The secret moved, sealed; the old record is now the user.
    let v = kv
        .get(format!("/objectio/it/v1/keys/{id}"), None)
        .await
        .unwrap();
    let v = String::from_utf8_lossy(v.kvs()[0].value()).to_string();
    assert!(!v.contains(secret) && v.contains("sealed_secret"), "{v}");
    // The old key still signs, and still owns its bucket.
    let old = s3_with(&c, id, secret, None);
    put(&old, "legacy", "still-mine", b"yes".to_vec()).await;
    assert_eq!(get(&old, "legacy", "still-mine").await, b"yes");
    let names: Vec<String> = old
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_string))
        .collect();
    assert_eq!(names, vec!["legacy"]);
    // A second start migrates nothing more and changes nothing.
    c.restart_meta().await.unwrap();
    assert_eq!(get(&old, "legacy", "still-mine").await, b"yes");
    // The harness user cannot touch it.
    let e = s3(&c)
        .get_object()
        .bucket("legacy")
        .key("still-mine")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&e),
        Some("AccessDenied")
    );
}
