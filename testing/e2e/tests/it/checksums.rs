//! Additional checksums through real gateways with aws-sdk-s3: CRC32,
//! CRC32C, CRC64NVME, SHA1 and SHA256 verified on upload, kept, and
//! answered with `x-amz-checksum-mode: ENABLED` (never for a range);
//! multipart uploads' composite and full-object checksums from their parts;
//! wrong values refused with nothing stored; GetObjectAttributes.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
    ObjectAttributes,
};
use base64::Engine;
use objectio_testkit::Cluster;

use crate::common::*;

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// The base64 value of `a` over `body`, computed here independently.
fn expected(a: &ChecksumAlgorithm, body: &[u8]) -> String {
    use sha2::Digest;
    match a {
        ChecksumAlgorithm::Crc32 => b64(&crc32fast::hash(body).to_be_bytes()),
        ChecksumAlgorithm::Crc32C => b64(&(crc_fast::checksum(
            crc_fast::CrcAlgorithm::Crc32Iscsi,
            body,
        ) as u32)
            .to_be_bytes()),
        ChecksumAlgorithm::Crc64Nvme => {
            b64(&crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, body).to_be_bytes())
        }
        ChecksumAlgorithm::Sha1 => b64(&sha1::Sha1::digest(body)),
        ChecksumAlgorithm::Sha256 => b64(&sha2::Sha256::digest(body)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_every_checksum_is_verified_kept_and_answered() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("sums").send().await.unwrap();
    let body = data(3 << 20, 9);
    let algorithms = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32C,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];
    for a in &algorithms {
        let key = format!("k-{}", a.as_str());
        let want = expected(a, &body);
        let r = s3
            .put_object()
            .bucket("sums")
            .key(&key)
            .checksum_algorithm(a.clone())
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        let got = match a {
            ChecksumAlgorithm::Crc32 => r.checksum_crc32(),
            ChecksumAlgorithm::Crc32C => r.checksum_crc32_c(),
            ChecksumAlgorithm::Crc64Nvme => r.checksum_crc64_nvme(),
            ChecksumAlgorithm::Sha1 => r.checksum_sha1(),
            _ => r.checksum_sha256(),
        };
        assert_eq!(got, Some(want.as_str()), "{a:?} on PUT");
        let h = s3
            .head_object()
            .bucket("sums")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let got = match a {
            ChecksumAlgorithm::Crc32 => h.checksum_crc32(),
            ChecksumAlgorithm::Crc32C => h.checksum_crc32_c(),
            ChecksumAlgorithm::Crc64Nvme => h.checksum_crc64_nvme(),
            ChecksumAlgorithm::Sha1 => h.checksum_sha1(),
            _ => h.checksum_sha256(),
        };
        assert_eq!(got, Some(want.as_str()), "{a:?} on HEAD");
        assert_eq!(h.checksum_type(), Some(&ChecksumType::FullObject));
        // A GET with checksum mode: the SDK checks the body against it.
        let g = s3
            .get_object()
            .bucket("sums")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(
            g.body.collect().await.unwrap().into_bytes().as_ref(),
            body.as_slice()
        );
        // A range has no checksum of its own.
        let g = s3
            .get_object()
            .bucket("sums")
            .key(&key)
            .range("bytes=0-99")
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert!(
            g.checksum_crc32().is_none()
                && g.checksum_sha256().is_none()
                && g.checksum_crc64_nvme().is_none()
        );
    }
    // Without checksum mode, no checksum is answered.
    let h = s3
        .head_object()
        .bucket("sums")
        .key("k-SHA1")
        .send()
        .await
        .unwrap();
    assert_eq!(h.checksum_sha1(), None);

    // A wrong value in a header is BadDigest and nothing is stored.
    for (header, value) in [
        (
            "x-amz-checksum-crc64nvme",
            expected(&ChecksumAlgorithm::Crc64Nvme, b"other"),
        ),
        (
            "x-amz-checksum-sha1",
            expected(&ChecksumAlgorithm::Sha1, b"other"),
        ),
    ] {
        let r = signed(&c, reqwest::Method::PUT, "/sums/bad")
            .header(header, value)
            .body(b"payload".to_vec())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert_eq!(status, 400, "{header}: {text}");
        assert!(text.contains("<Code>BadDigest</Code>"), "{text}");
    }
    let e = s3
        .head_object()
        .bucket("sums")
        .key("bad")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));

    // GetObjectAttributes of a single-part object.
    let a = s3
        .get_object_attributes()
        .bucket("sums")
        .key("k-SHA256")
        .object_attributes(ObjectAttributes::Etag)
        .object_attributes(ObjectAttributes::Checksum)
        .object_attributes(ObjectAttributes::ObjectSize)
        .object_attributes(ObjectAttributes::StorageClass)
        .send()
        .await
        .unwrap();
    assert_eq!(a.object_size(), Some(body.len() as i64));
    assert!(
        a.e_tag()
            .is_some_and(|e| e.contains(etag(&body).trim_matches('"')))
    );
    assert_eq!(
        a.checksum().and_then(|c| c.checksum_sha256()),
        Some(expected(&ChecksumAlgorithm::Sha256, &body).as_str())
    );
    assert_eq!(a.storage_class().map(|s| s.as_str()), Some("STANDARD"));
}

/// Uploads `parts` to a new upload of `key` with algorithm `a` (and
/// `full`: FULL_OBJECT); the completion answer.
async fn multipart(
    s3: &aws_sdk_s3::Client,
    key: &str,
    a: ChecksumAlgorithm,
    full: Option<ChecksumType>,
    parts: &[Vec<u8>],
    tamper: bool,
) -> Result<aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput, String>
{
    let up = s3
        .create_multipart_upload()
        .bucket("sums")
        .key(key)
        .checksum_algorithm(a.clone())
        .set_checksum_type(full)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut done = Vec::new();
    for (n, p) in parts.iter().enumerate() {
        let r = s3
            .upload_part()
            .bucket("sums")
            .key(key)
            .upload_id(id)
            .part_number(n as i32 + 1)
            .checksum_algorithm(a.clone())
            .body(p.clone().into())
            .send()
            .await
            .unwrap();
        let sum = match a {
            ChecksumAlgorithm::Crc32 => r.checksum_crc32(),
            ChecksumAlgorithm::Crc64Nvme => r.checksum_crc64_nvme(),
            _ => r.checksum_sha256(),
        }
        .expect("the part's checksum")
        .to_string();
        assert_eq!(sum, expected(&a, p), "part {n}");
        let sum = if tamper && n == 0 {
            expected(&a, b"tampered")
        } else {
            sum
        };
        let b = CompletedPart::builder()
            .part_number(n as i32 + 1)
            .e_tag(r.e_tag().unwrap());
        let b = match a {
            ChecksumAlgorithm::Crc32 => b.checksum_crc32(sum),
            ChecksumAlgorithm::Crc64Nvme => b.checksum_crc64_nvme(sum),
            _ => b.checksum_sha256(sum),
        };
        done.push(b.build());
    }
    s3.complete_multipart_upload()
        .bucket("sums")
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .map_err(|e| e.code().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_multipart_checksums_are_composite_or_of_the_full_object() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("sums").send().await.unwrap();
    let parts = [data(5 << 20, 1), data(5 << 20, 2), data(1 << 20, 3)];
    let whole = parts.concat();

    // COMPOSITE (CRC32's default): the checksum of the parts' checksums.
    let r = multipart(
        &s3,
        "composite",
        ChecksumAlgorithm::Crc32,
        None,
        &parts,
        false,
    )
    .await
    .unwrap();
    let raw: Vec<u8> = parts
        .iter()
        .flat_map(|p| crc32fast::hash(p).to_be_bytes())
        .collect();
    let composite = format!("{}-3", expected(&ChecksumAlgorithm::Crc32, &raw));
    assert_eq!(r.checksum_crc32(), Some(composite.as_str()));
    assert_eq!(r.checksum_type(), Some(&ChecksumType::Composite));
    let h = s3
        .head_object()
        .bucket("sums")
        .key("composite")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(h.checksum_crc32(), Some(composite.as_str()));
    assert_eq!(get(&s3, "sums", "composite").await, whole);

    // FULL_OBJECT: the parts' CRCs combined into the whole body's.
    let r = multipart(
        &s3,
        "full-crc32",
        ChecksumAlgorithm::Crc32,
        Some(ChecksumType::FullObject),
        &parts,
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        r.checksum_crc32(),
        Some(expected(&ChecksumAlgorithm::Crc32, &whole).as_str())
    );
    let r = multipart(
        &s3,
        "full-crc64",
        ChecksumAlgorithm::Crc64Nvme,
        None,
        &parts,
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        r.checksum_crc64_nvme(),
        Some(expected(&ChecksumAlgorithm::Crc64Nvme, &whole).as_str())
    );
    assert_eq!(r.checksum_type(), Some(&ChecksumType::FullObject));
    let g = s3
        .get_object()
        .bucket("sums")
        .key("full-crc64")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(
        g.body.collect().await.unwrap().into_bytes().as_ref(),
        whole.as_slice()
    );

    // A part checksum that is not the part's: InvalidPart, nothing stored.
    let e = multipart(
        &s3,
        "tampered",
        ChecksumAlgorithm::Sha256,
        None,
        &parts,
        true,
    )
    .await
    .unwrap_err();
    assert_eq!(e, "InvalidPart");
    let e = s3
        .head_object()
        .bucket("sums")
        .key("tampered")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
    // SHA has no full-object form.
    let e = s3
        .create_multipart_upload()
        .bucket("sums")
        .key("x")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidArgument"), "{e:?}");

    // GetObjectAttributes lists the parts with their checksums.
    let a = s3
        .get_object_attributes()
        .bucket("sums")
        .key("composite")
        .object_attributes(ObjectAttributes::ObjectParts)
        .object_attributes(ObjectAttributes::Checksum)
        .max_parts(2)
        .send()
        .await
        .unwrap();
    let op = a.object_parts().unwrap();
    assert_eq!(op.total_parts_count(), Some(3));
    assert_eq!(op.is_truncated(), Some(true));
    let listed: Vec<(Option<i32>, Option<i64>, Option<&str>)> = op
        .parts()
        .iter()
        .map(|p| (p.part_number(), p.size(), p.checksum_crc32()))
        .collect();
    assert_eq!(
        listed,
        vec![
            (
                Some(1),
                Some(5 << 20),
                Some(expected(&ChecksumAlgorithm::Crc32, &parts[0]).as_str())
            ),
            (
                Some(2),
                Some(5 << 20),
                Some(expected(&ChecksumAlgorithm::Crc32, &parts[1]).as_str())
            ),
        ]
    );
    assert_eq!(
        a.checksum().and_then(|c| c.checksum_crc32()),
        Some(composite.as_str())
    );
}
