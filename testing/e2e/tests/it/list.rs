use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use futures::StreamExt;
use objectio_testkit::Cluster;

use crate::common::*;

/// Lists with the SDK, following continuation tokens; returns
/// (keys, common prefixes, pages).
async fn list_all(
    s3: &Client,
    prefix: Option<&str>,
    delim: Option<&str>,
    max: i32,
) -> (Vec<String>, Vec<String>, usize) {
    let (mut keys, mut prefixes, mut pages) = (Vec::new(), Vec::new(), 0);
    let mut token: Option<String> = None;
    loop {
        let r = s3
            .list_objects_v2()
            .bucket("lst")
            .set_prefix(prefix.map(str::to_string))
            .set_delimiter(delim.map(str::to_string))
            .max_keys(max)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        let n = r.contents().len() + r.common_prefixes().len();
        assert!(n <= max as usize, "page of {n} > max-keys {max}");
        assert_eq!(r.key_count(), Some(n as i32));
        keys.extend(
            r.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
        prefixes.extend(
            r.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string)),
        );
        if r.is_truncated() == Some(true) {
            token = r.next_continuation_token().map(str::to_string);
            assert!(token.is_some());
        } else {
            break;
        }
    }
    (keys, prefixes, pages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_list_v2_with_delimiter_and_pagination_over_thousands_of_keys() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("lst").send().await.unwrap();
    let mut all: Vec<String> = Vec::new();
    all.extend((0..1000).map(|i| format!("a/{i:04}")));
    all.extend((0..1000).map(|i| format!("b/x/{i:04}")));
    all.extend((0..500).map(|i| format!("c{i:04}")));
    all.push("a0".into()); // sorts after every "a/..." key ('/' < '0')
    futures::stream::iter(all.clone())
        .map(|k| {
            let s3 = s3.clone();
            async move { put(&s3, "lst", &k, Vec::new()).await }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    all.sort();

    // Everything, in S3 (UTF-8 binary) order, over several pages.
    let (keys, prefixes, pages) = list_all(&s3, None, None, 1000).await;
    assert_eq!(keys, all);
    assert!(prefixes.is_empty());
    assert_eq!(pages, 3);

    // Top level with a delimiter: two common prefixes and 501 keys.
    let (keys, prefixes, _) = list_all(&s3, None, Some("/"), 100).await;
    assert_eq!(prefixes, vec!["a/".to_string(), "b/".to_string()]);
    let mut expect: Vec<String> = all.iter().filter(|k| !k.contains('/')).cloned().collect();
    expect.sort();
    assert_eq!(keys, expect);

    // Nested prefix rolls up one level deeper.
    let (keys, prefixes, _) = list_all(&s3, Some("b/"), Some("/"), 1000).await;
    assert!(keys.is_empty());
    assert_eq!(prefixes, vec!["b/x/".to_string()]);

    // Prefix only, small pages.
    let (keys, _, pages) = list_all(&s3, Some("a/00"), None, 7).await;
    assert_eq!(keys.len(), 100);
    assert_eq!(pages, 15);

    // start-after.
    let r = s3
        .list_objects_v2()
        .bucket("lst")
        .start_after("c0495")
        .send()
        .await
        .unwrap();
    let got: Vec<&str> = r.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(got, vec!["c0496", "c0497", "c0498", "c0499"]);

    // A forged continuation token is a client error.
    let e = s3
        .list_objects_v2()
        .bucket("lst")
        .continuation_token("not-a-token!")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidArgument"));

    // Listing a bucket that does not exist.
    let e = s3
        .list_objects_v2()
        .bucket("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchBucket"));
}

/// Lists with ListObjects v1 as clients do: from `NextMarker` when the
/// answer has one (a delimiter was given), else from the last key.
async fn list_v1_all(
    s3: &Client,
    prefix: Option<&str>,
    delim: Option<&str>,
    max: i32,
) -> (Vec<String>, Vec<String>, usize) {
    let (mut keys, mut prefixes, mut pages) = (Vec::new(), Vec::new(), 0);
    let mut marker: Option<String> = None;
    loop {
        let r = s3
            .list_objects()
            .bucket("lv1")
            .set_prefix(prefix.map(str::to_string))
            .set_delimiter(delim.map(str::to_string))
            .max_keys(max)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert_eq!(r.marker().unwrap_or(""), marker.as_deref().unwrap_or(""));
        let n = r.contents().len() + r.common_prefixes().len();
        assert!(n <= max as usize, "page of {n} > max-keys {max}");
        for o in r.contents() {
            // v1 names each object's owner.
            assert_eq!(o.owner().and_then(|o| o.id()), Some("test"));
        }
        keys.extend(
            r.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
        prefixes.extend(
            r.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string)),
        );
        if !r.is_truncated().unwrap_or(false) {
            assert!(r.next_marker().is_none(), "NextMarker on the last page");
            break;
        }
        marker = match delim {
            Some(_) => Some(
                r.next_marker()
                    .expect("NextMarker with a delimiter")
                    .to_string(),
            ),
            None => {
                assert!(r.next_marker().is_none(), "NextMarker without a delimiter");
                keys.last().cloned()
            }
        };
    }
    (keys, prefixes, pages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_list_v1_by_marker_next_marker_url_encoding_and_bucket_location() {
    let c = Cluster::start().await.unwrap();
    let s3 = s3(&c);
    s3.create_bucket().bucket("lv1").send().await.unwrap();
    let mut all: Vec<String> = Vec::new();
    all.extend((0..150).map(|i| format!("d/{i:03}")));
    all.extend((0..40).map(|i| format!("e/f/{i:03}")));
    all.extend((0..60).map(|i| format!("k{i:03}")));
    all.push("sp ace+plus&amp".into());
    futures::stream::iter(all.clone())
        .map(|k| {
            let s3 = s3.clone();
            async move { put(&s3, "lv1", &k, Vec::new()).await }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    all.sort();

    // Everything by marker (the last key), in pages of 50.
    let (keys, prefixes, pages) = list_v1_all(&s3, None, None, 50).await;
    assert_eq!(keys, all);
    assert!(prefixes.is_empty());
    assert_eq!(pages, 6);

    // With a delimiter, NextMarker can be a common prefix: the next page
    // goes on after every key rolled up into it.
    let (keys, prefixes, _) = list_v1_all(&s3, None, Some("/"), 1).await;
    assert_eq!(prefixes, vec!["d/".to_string(), "e/".to_string()]);
    let top: Vec<String> = all.iter().filter(|k| !k.contains('/')).cloned().collect();
    assert_eq!(keys, top);
    let (keys, prefixes, _) = list_v1_all(&s3, Some("e/"), Some("/"), 1000).await;
    assert!(keys.is_empty());
    assert_eq!(prefixes, vec!["e/f/".to_string()]);

    // A marker between keys, and past the end.
    let r = s3
        .list_objects()
        .bucket("lv1")
        .marker("k0575")
        .send()
        .await
        .unwrap();
    let got: Vec<&str> = r.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(got.first(), Some(&"k058"));
    let r = s3
        .list_objects()
        .bucket("lv1")
        .marker("zzz")
        .send()
        .await
        .unwrap();
    assert!(r.contents().is_empty() && r.is_truncated() == Some(false));

    // encoding-type=url: keys percent-encoded in the XML (v1 and v2).
    for q in [
        "/lv1?prefix=sp&encoding-type=url",
        "/lv1?list-type=2&prefix=sp&encoding-type=url",
    ] {
        let resp = signed(&c, reqwest::Method::GET, q).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let xml = resp.text().await.unwrap();
        assert!(xml.contains("<Key>sp%20ace%2Bplus%26amp</Key>"), "{xml}");
        assert!(xml.contains("<EncodingType>url</EncodingType>"), "{xml}");
    }
    let resp = signed(&c, reqwest::Method::GET, "/lv1?encoding-type=base64")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("<Code>InvalidArgument</Code>")
    );

    // fetch-owner on v2.
    let r = s3
        .list_objects_v2()
        .bucket("lv1")
        .prefix("k00")
        .fetch_owner(true)
        .send()
        .await
        .unwrap();
    assert!(
        r.contents()
            .iter()
            .all(|o| o.owner().and_then(|o| o.id()) == Some("test"))
    );
    let r = s3
        .list_objects_v2()
        .bucket("lv1")
        .prefix("k00")
        .send()
        .await
        .unwrap();
    assert!(r.contents().iter().all(|o| o.owner().is_none()));

    // GetBucketLocation: us-east-1 answers an empty constraint.
    let loc = s3.get_bucket_location().bucket("lv1").send().await.unwrap();
    assert!(
        loc.location_constraint()
            .is_none_or(|l| l.as_str().is_empty()),
        "{loc:?}"
    );
    let e = s3
        .get_bucket_location()
        .bucket("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchBucket"));
    let e = s3.list_objects().bucket("nope").send().await.unwrap_err();
    assert_eq!(e.code(), Some("NoSuchBucket"));
}
