//! Server-side encryption through real gateways: SSE-C (the client's key
//! with every request, only its MD5 kept) and SSE-S3 (a data key per
//! object sealed with the gateways' master key), on PUT, GET with ranges,
//! HEAD, multipart and copy; wrong or missing keys refused; and the disks
//! hold ciphertext only (their raw images are searched for the plaintext).

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use base64::Engine;
use md5::Digest;
use objectio_testkit::{Cluster, Options};

use crate::common::*;

struct Key {
    b64: String,
    md5: String,
}

fn key(seed: u8) -> Key {
    let raw = [seed; 32];
    let b64 = base64::engine::general_purpose::STANDARD;
    Key {
        b64: b64.encode(raw),
        md5: b64.encode(md5::Md5::digest(raw)),
    }
}

/// A body that says `marker` over and over (so the disks can be searched
/// for it), `n` bytes long.
fn marked(marker: &str, n: usize) -> Vec<u8> {
    marker.as_bytes().iter().copied().cycle().take(n).collect()
}

/// Whether any OSD's raw disk image holds `needle`.
fn on_disks(c: &Cluster, needle: &str) -> bool {
    c.osds.iter().any(|o| {
        std::process::Command::new("grep")
            .args(["-a", "-q", "-F", needle])
            .arg(&o.disk)
            .status()
            .unwrap()
            .success()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_encrypted_objects_read_back_with_their_key_and_disks_hold_ciphertext() {
    let mut c = Cluster::start_with(Options {
        disk_size: "256MiB",
        ..Default::default()
    })
    .await
    .unwrap();
    let master = c.dir.path().join("sse-master.key");
    std::fs::write(&master, "0123456789abcdef".repeat(4)).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&master, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let ep = c
        .start_extra_gateway(&["--sse-master-key-file", master.to_str().unwrap()])
        .await
        .unwrap();
    let plain_gw = s3(&c);
    let conf = plain_gw.config().to_builder().endpoint_url(&ep).build();
    let s3 = aws_sdk_s3::Client::from_conf(conf);
    s3.create_bucket().bucket("enc").send().await.unwrap();
    let k1 = key(1);
    let k2 = key(2);

    // SSE-C: 9 MiB (three stripes), read whole and by ranges across them.
    let body = marked("SSE-C-PLAINTEXT-MARKER;", 9 << 20);
    let r = s3
        .put_object()
        .bucket("enc")
        .key("c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k1.b64)
        .sse_customer_key_md5(&k1.md5)
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    assert_eq!(r.sse_customer_key_md5(), Some(k1.md5.as_str()));
    let got = |k: &Key, range: Option<&str>| {
        let mut g = s3
            .get_object()
            .bucket("enc")
            .key("c")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k.b64)
            .sse_customer_key_md5(&k.md5);
        if let Some(r) = range {
            g = g.range(r);
        }
        async move {
            match g.send().await {
                Ok(o) => Ok(o.body.collect().await.unwrap().into_bytes().to_vec()),
                Err(e) => Err(e.code().unwrap_or_default().to_string()),
            }
        }
    };
    assert_eq!(got(&k1, None).await.unwrap(), body);
    for (a, b) in [
        (0usize, 99usize),
        (4_194_000, 4_194_700),
        ((9 << 20) - 5, (9 << 20) - 1),
    ] {
        assert_eq!(
            got(&k1, Some(&format!("bytes={a}-{b}"))).await.unwrap(),
            &body[a..=b],
            "{a}-{b}"
        );
    }
    assert_eq!(got(&k2, None).await.unwrap_err(), "AccessDenied");
    let e = s3
        .get_object()
        .bucket("enc")
        .key("c")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidRequest"), "{e:?}");
    let e = s3
        .head_object()
        .bucket("enc")
        .key("c")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(400));
    let h = s3
        .head_object()
        .bucket("enc")
        .key("c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k1.b64)
        .sse_customer_key_md5(&k1.md5)
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_length(), Some(9 << 20));
    // A key whose MD5 is not the one given: refused, nothing stored.
    let e = s3
        .put_object()
        .bucket("enc")
        .key("bad")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k1.b64)
        .sse_customer_key_md5(&k2.md5)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidArgument"), "{e:?}");

    // SSE-S3: no key in requests; the gateway without the master key can
    // neither write nor read such objects.
    let s3body = marked("SSE-S3-PLAINTEXT-MARKER;", 1 << 20);
    let r = s3
        .put_object()
        .bucket("enc")
        .key("s")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(s3body.clone().into())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    let g = s3.get_object().bucket("enc").key("s").send().await.unwrap();
    assert_eq!(
        g.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert_eq!(
        g.body.collect().await.unwrap().into_bytes().to_vec(),
        s3body
    );
    let e = plain_gw
        .get_object()
        .bucket("enc")
        .key("s")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidRequest"), "{e:?}");
    let e = plain_gw
        .put_object()
        .bucket("enc")
        .key("s2")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidRequest"), "{e:?}");
    let rec = record(&c, "enc", "s").await;
    let sealed = serde_json::to_string(&rec.encryption).unwrap();
    assert!(sealed.contains("managed"), "{sealed}");

    // Multipart with SSE-C: every part with the key; a part without it is
    // refused; the object reads back whole with it.
    let up = s3
        .create_multipart_upload()
        .bucket("enc")
        .key("mp")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k2.b64)
        .sse_customer_key_md5(&k2.md5)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let parts = [marked("SSE-C-PART-MARKER;", 5 << 20), data(1 << 20, 4)];
    let e = s3
        .upload_part()
        .bucket("enc")
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(parts[0].clone().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidRequest"), "{e:?}");
    let mut done = Vec::new();
    for (n, p) in parts.iter().enumerate() {
        let r = s3
            .upload_part()
            .bucket("enc")
            .key("mp")
            .upload_id(id)
            .part_number(n as i32 + 1)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k2.b64)
            .sse_customer_key_md5(&k2.md5)
            .body(p.clone().into())
            .send()
            .await
            .unwrap();
        done.push(
            CompletedPart::builder()
                .part_number(n as i32 + 1)
                .e_tag(r.e_tag().unwrap())
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket("enc")
        .key("mp")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let g = s3
        .get_object()
        .bucket("enc")
        .key("mp")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k2.b64)
        .sse_customer_key_md5(&k2.md5)
        .range(format!("bytes={}-{}", (5 << 20) - 10, (5 << 20) + 9))
        .send()
        .await
        .unwrap();
    let whole = parts.concat();
    assert_eq!(
        g.body.collect().await.unwrap().into_bytes().as_ref(),
        &whole[(5 << 20) - 10..(5 << 20) + 10]
    );

    // A copy of the SSE-C object into SSE-S3: read with the source's key,
    // written with a data key of its own.
    s3.copy_object()
        .bucket("enc")
        .key("copied")
        .copy_source("enc/c")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&k1.b64)
        .copy_source_sse_customer_key_md5(&k1.md5)
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(get(&s3, "enc", "copied").await, body);
    let e = s3
        .copy_object()
        .bucket("enc")
        .key("copied2")
        .copy_source("enc/c")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidRequest"), "{e:?}");

    // The disks: ciphertext only. An unencrypted object's marker is there
    // (the search works); the encrypted ones' are not.
    put(
        &s3,
        "enc",
        "clear",
        marked("CLEAR-PLAINTEXT-MARKER;", 1 << 20),
    )
    .await;
    assert!(on_disks(
        &c,
        "CLEAR-PLAINTEXT-MARKER;CLEAR-PLAINTEXT-MARKER;"
    ));
    for m in [
        "SSE-C-PLAINTEXT-MARKER;",
        "SSE-S3-PLAINTEXT-MARKER;",
        "SSE-C-PART-MARKER;",
    ] {
        assert!(!on_disks(&c, &m.repeat(2)), "{m} found on a disk");
    }
}
