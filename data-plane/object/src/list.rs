//! Listing: a paginated etcd range read in S3 order.

use etcd_client::GetOptions;
use objectio_cluster::ObjectRecord;
use objectio_cluster::keys::prefix_end;

use super::{Error, ListEntry, ListPage, Objects, Result, decode_token, encode_token};

impl Objects {
    /// The index range a listing of `prefix` in `bucket` walks: the
    /// bucket's base, the first key and the end (after checking the bucket
    /// exists).
    pub(crate) async fn listed_range(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
        self.bucket(bucket).await?;
        let base = self.store().keys().objects_prefix(bucket);
        let mut start = base.clone();
        start.extend_from_slice(prefix.as_bytes());
        let end =
            prefix_end(&start).unwrap_or_else(|| prefix_end(&base).expect("base ends with '/'"));
        Ok((base, start, end))
    }

    /// Whether a listing would find anything at or after `cursor`: a key
    /// rolled up under the delimiter, or an object that is not a delete
    /// marker (noncurrent versions are skipped with one seek).
    async fn listable_after(
        &self,
        mut cursor: Vec<u8>,
        end: &[u8],
        base: usize,
        prefix: &str,
        delimiter: Option<&str>,
    ) -> Result<bool> {
        loop {
            let resp = self
                .store()
                .kv()
                .get(
                    cursor.clone(),
                    Some(GetOptions::new().with_range(end.to_vec()).with_limit(100)),
                )
                .await?;
            for kv in resp.kvs() {
                let raw = &kv.key()[base..];
                if let Some(nul) = raw.iter().position(|b| *b == 0) {
                    cursor = kv.key()[..base + nul + 1].to_vec();
                    cursor.push(0xff);
                    continue;
                }
                if kv.key() < cursor.as_slice() {
                    continue; // behind a seek made on this page
                }
                let rolled = delimiter
                    .filter(|d| !d.is_empty())
                    .is_some_and(|d| String::from_utf8_lossy(raw)[prefix.len()..].contains(d));
                if rolled
                    || !self
                        .store()
                        .decode::<ObjectRecord>(kv.key(), kv.value(), kv.mod_revision())
                        .await?
                        .delete_marker
                {
                    return Ok(true);
                }
                cursor = kv.key().to_vec();
                cursor.push(0);
            }
            if !resp.more() {
                return Ok(false);
            }
        }
    }

    /// Lists `bucket` in S3 order: keys under `prefix`, after the
    /// continuation token (or `start_after`), with keys sharing a prefix up
    /// to `delimiter` rolled up into one common prefix. A common prefix is
    /// skipped with one seek past it.
    pub async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        token: Option<&str>,
        start_after: Option<&str>,
        max_keys: usize,
    ) -> Result<ListPage> {
        let (base, full_prefix, end) = self.listed_range(bucket, prefix).await?;
        let mut cursor = full_prefix.clone();
        let resume = match token {
            Some(t) => Some(
                decode_token(t).ok_or_else(|| Error::Body("invalid continuation token".into()))?,
            ),
            None => start_after.map(|s| format!("k{s}")),
        };
        if let Some(r) = resume {
            let (kind, name) = r.split_at(1);
            let mut at = base.clone();
            at.extend_from_slice(name.as_bytes());
            let after = if kind == "p" {
                prefix_end(&at).unwrap_or(end.clone())
            } else {
                at.push(0);
                at
            };
            if after > cursor {
                cursor = after;
            }
        }
        let mut page = ListPage::default();
        let mut last: Option<String> = None;
        let mut count = 0usize;
        'outer: while cursor < end {
            if count == max_keys {
                // Truncated only if anything listable is left.
                if self
                    .listable_after(cursor.clone(), &end, base.len(), prefix, delimiter)
                    .await?
                {
                    page.next_marker = last.as_ref().map(|l| l[1..].to_string());
                    page.next = last.map(|l| encode_token(&l));
                }
                break;
            }
            let limit = (max_keys - count + 1).min(1000) as i64;
            let resp = self
                .store()
                .kv()
                .get(
                    cursor.clone(),
                    Some(GetOptions::new().with_range(end.clone()).with_limit(limit)),
                )
                .await?;
            if resp.kvs().is_empty() {
                break;
            }
            for kv in resp.kvs() {
                let raw = &kv.key()[base.len()..];
                if let Some(nul) = raw.iter().position(|b| *b == 0) {
                    // Noncurrent versions of a key: past all of them.
                    cursor = kv.key()[..base.len() + nul + 1].to_vec();
                    cursor.push(0xff);
                    continue 'outer;
                }
                let key = String::from_utf8_lossy(raw).into_owned();
                if let Some(d) = delimiter.filter(|d| !d.is_empty())
                    && let Some(pos) = key[prefix.len()..].find(d)
                {
                    if count == max_keys {
                        continue 'outer;
                    }
                    let cp = key[..prefix.len() + pos + d.len()].to_string();
                    let mut cpk = base.clone();
                    cpk.extend_from_slice(cp.as_bytes());
                    cursor = prefix_end(&cpk).unwrap_or(end.clone());
                    last = Some(format!("p{cp}"));
                    page.prefixes.push(cp);
                    count += 1;
                    continue 'outer;
                }
                if count == max_keys {
                    continue 'outer;
                }
                let rec: ObjectRecord = self
                    .store()
                    .decode(kv.key(), kv.value(), kv.mod_revision())
                    .await?;
                cursor = kv.key().to_vec();
                cursor.push(0);
                if rec.delete_marker {
                    continue;
                }
                page.objects.push(ListEntry {
                    key: key.clone(),
                    size: rec.size,
                    etag: rec.etag,
                    created_ms: rec.created_ms,
                });
                last = Some(format!("k{key}"));
                count += 1;
                cursor = kv.key().to_vec();
                cursor.push(0);
            }
            if !resp.more() {
                break;
            }
        }
        Ok(page)
    }
}
