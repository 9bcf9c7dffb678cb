//! Lifecycle: every `--lifecycle-interval-secs` the leader walks each bucket
//! that has lifecycle rules and, through the object layer (the same delete
//! and abort a client's request runs), expires current versions by age or
//! date (a delete marker in a versioned bucket, the object itself
//! otherwise), removes delete markers left with no version behind them,
//! expires noncurrent versions some days after they became noncurrent
//! (keeping the newest N), and aborts uploads left incomplete. Each action
//! names the exact version it decided on, so a concurrent overwrite is
//! never expired in its place; a version object lock protects is kept until
//! it may go. Idempotent: a leader killed mid-walk leaves
//! nothing half done, and the next leader walks again.
//!
//! A day is `--lifecycle-day-secs` (86 400; tests shorten it). Ages count
//! from the version's write (a noncurrent one's from the write that made it
//! noncurrent), not rounded up to the next UTC midnight as S3 does.

use std::time::Duration;

use etcd_client::GetOptions;
use objectio_cluster::keys::prefix_end;
use objectio_cluster::{
    BucketRecord, LifecycleRule, ObjectRecord, Store, UploadRecord, now_millis,
};
use objectio_object::Objects;

use super::Leader;

/// What one walk did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    pub expired: u64,
    pub noncurrent_expired: u64,
    pub markers_removed: u64,
    pub uploads_aborted: u64,
    /// Versions due that object lock kept.
    pub locked: u64,
}

/// What a rule does to one version, if anything.
#[derive(Debug, PartialEq)]
enum Action {
    /// Expire the current version.
    Expire,
    /// Delete this (noncurrent version or lone delete marker).
    DeleteVersion,
}

/// The version of a key a walk looks at, with what it needs to decide.
struct Seen<'a> {
    rec: &'a ObjectRecord,
    /// When it became noncurrent (the write of the version after it).
    noncurrent_since_ms: Option<u64>,
    /// Its place among the key's noncurrent versions, newest 0.
    noncurrent_rank: usize,
    /// Whether the key has no version but this one.
    alone: bool,
}

fn due(rule: &LifecycleRule, v: &Seen<'_>, now_ms: u64, day_ms: u64) -> Option<Action> {
    let r = v.rec;
    if !rule.enabled || !rule.matches(&r.key, &r.tags, r.size) {
        return None;
    }
    let older = |since: u64, days: u32| now_ms.saturating_sub(since) >= days as u64 * day_ms;
    if r.noncurrent {
        let since = v.noncurrent_since_ms?;
        let days = rule.noncurrent_days?;
        let keep = rule.newer_noncurrent_versions.unwrap_or(0) as usize;
        return (older(since, days) && v.noncurrent_rank >= keep).then_some(Action::DeleteVersion);
    }
    if r.delete_marker {
        return (rule.expired_object_delete_marker && v.alone).then_some(Action::DeleteVersion);
    }
    let by_age = rule.expiration_days.is_some_and(|d| older(r.created_ms, d));
    let by_date = rule.expiration_date_ms.is_some_and(|t| now_ms >= t);
    (by_age || by_date).then_some(Action::Expire)
}

/// Runs lifecycle walks while this replica leads.
pub async fn lead(store: Store, objects: Objects, leader: Leader, every: Duration, day: Duration) {
    while leader.get() {
        match step(&store, &objects, day).await {
            Ok(t) if t != Tally::default() => tracing::info!(
                expired = t.expired,
                noncurrent_expired = t.noncurrent_expired,
                markers_removed = t.markers_removed,
                uploads_aborted = t.uploads_aborted,
                locked = t.locked,
                "lifecycle walk done"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "lifecycle walk failed; trying again next interval")
            }
        }
        let t = std::time::Instant::now();
        while leader.get() && t.elapsed() < every {
            tokio::time::sleep(Duration::from_millis(100).min(every)).await;
        }
    }
}

/// One walk over every bucket with lifecycle rules.
pub async fn step(store: &Store, objects: &Objects, day: Duration) -> anyhow::Result<Tally> {
    let day_ms = day.as_millis().max(1) as u64;
    let mut tally = Tally::default();
    for (_, b) in store
        .list::<BucketRecord>(store.keys().buckets_prefix())
        .await?
    {
        let Some(rules) = b.lifecycle.as_ref().filter(|r| r.iter().any(|r| r.enabled)) else {
            continue;
        };
        walk_bucket(store, objects, &b, rules, day_ms, &mut tally).await?;
        abort_uploads(store, objects, &b, rules, day_ms, &mut tally).await?;
    }
    Ok(tally)
}

async fn walk_bucket(
    store: &Store,
    objects: &Objects,
    b: &BucketRecord,
    rules: &[LifecycleRule],
    day_ms: u64,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let base = store.keys().objects_prefix(&b.name);
    let end = prefix_end(&base).expect("a prefix");
    let mut cursor = base.clone();
    // The records of one key (current first, then noncurrent newest
    // first): adjacent in the index, decided together.
    let mut group: Vec<ObjectRecord> = Vec::new();
    loop {
        let resp = store
            .kv()
            .get(
                cursor.clone(),
                Some(GetOptions::new().with_range(end.clone()).with_limit(500)),
            )
            .await?;
        for kv in resp.kvs() {
            let rec: ObjectRecord = store
                .decode(kv.key(), kv.value(), kv.mod_revision())
                .await?;
            if group.first().is_some_and(|g| g.key != rec.key) {
                decide(
                    objects,
                    b,
                    rules,
                    &std::mem::take(&mut group),
                    day_ms,
                    tally,
                )
                .await?;
            }
            group.push(rec);
            cursor = kv.key().to_vec();
            cursor.push(0);
        }
        if !resp.more() {
            break;
        }
    }
    decide(objects, b, rules, &group, day_ms, tally).await
}

async fn decide(
    objects: &Objects,
    b: &BucketRecord,
    rules: &[LifecycleRule],
    group: &[ObjectRecord],
    day_ms: u64,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let now = now_millis();
    let mut rank = 0usize;
    for (i, rec) in group.iter().enumerate() {
        let seen = Seen {
            rec,
            noncurrent_since_ms: i.checked_sub(1).map(|p| group[p].created_ms),
            noncurrent_rank: rank,
            alone: group.len() == 1,
        };
        if rec.noncurrent {
            rank += 1;
        }
        let Some(action) = rules.iter().find_map(|r| due(r, &seen, now, day_ms)) else {
            continue;
        };
        let v = rec.s3_version_id();
        let r = match action {
            // Without versioning the expired version itself goes (named,
            // so an overwrite since is kept); with it, a delete marker.
            Action::Expire if b.versioning.is_none() => {
                objects.delete(&b.name, &rec.key, Some(&v), false).await
            }
            Action::Expire => objects.delete(&b.name, &rec.key, None, false).await,
            Action::DeleteVersion => objects.delete(&b.name, &rec.key, Some(&v), false).await,
        };
        match r {
            Ok(_) => {
                tracing::debug!(bucket = %b.name, key = %rec.key, version = %v, ?action, "lifecycle");
                match action {
                    Action::Expire => tally.expired += 1,
                    Action::DeleteVersion if rec.delete_marker => tally.markers_removed += 1,
                    Action::DeleteVersion => tally.noncurrent_expired += 1,
                }
            }
            Err(objectio_object::Error::NoSuchBucket(_)) => return Ok(()),
            // Object lock keeps it: lifecycle waits until it may.
            Err(objectio_object::Error::Locked(why)) => {
                tracing::debug!(bucket = %b.name, key = %rec.key, version = %v, why, "lifecycle: locked, kept");
                tally.locked += 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        if action == Action::Expire && b.versioning.is_some() {
            // The key now has a marker in front: its older versions wait
            // for the next walk (their noncurrent age starts now).
            break;
        }
    }
    Ok(())
}

async fn abort_uploads(
    store: &Store,
    objects: &Objects,
    b: &BucketRecord,
    rules: &[LifecycleRule],
    day_ms: u64,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let now = now_millis();
    for (_, up) in store
        .list::<UploadRecord>(store.keys().uploads_prefix(&b.name))
        .await?
    {
        let due = rules.iter().any(|r| {
            r.enabled
                && up.key.starts_with(&r.prefix)
                && r.abort_incomplete_days
                    .is_some_and(|d| now.saturating_sub(up.created_ms) >= d as u64 * day_ms)
        });
        if !due {
            continue;
        }
        match objects
            .abort_upload(&b.name, &up.key, &up.upload_id.to_string())
            .await
        {
            Ok(()) => tally.uploads_aborted += 1,
            Err(
                objectio_object::Error::NoSuchUpload(_) | objectio_object::Error::NoSuchBucket(_),
            ) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: &str, created_ms: u64) -> ObjectRecord {
        serde_json::from_value(serde_json::json!({
            "bucket": "b", "key": key, "version_id": uuid::Uuid::new_v4(), "size": 10,
            "etag": "e", "created_ms": created_ms,
            "ec": {"k": 4, "m": 2, "chunk_size": 1048576}, "shards": [],
        }))
        .unwrap()
    }

    #[test]
    fn rules_decide_by_filter_age_date_and_rank() {
        let day = 1000;
        let rule = LifecycleRule {
            id: "r".into(),
            enabled: true,
            prefix: "logs/".into(),
            expiration_days: Some(2),
            noncurrent_days: Some(1),
            newer_noncurrent_versions: Some(1),
            expired_object_delete_marker: true,
            ..Default::default()
        };
        fn seen(r: &ObjectRecord) -> Seen<'_> {
            Seen {
                rec: r,
                noncurrent_since_ms: None,
                noncurrent_rank: 0,
                alone: false,
            }
        }
        let young = rec("logs/a", 9_000);
        let old = rec("logs/a", 7_000);
        let elsewhere = rec("data/a", 0);
        assert_eq!(due(&rule, &seen(&young), 10_000, day), None);
        assert_eq!(due(&rule, &seen(&old), 10_000, day), Some(Action::Expire));
        assert_eq!(due(&rule, &seen(&elsewhere), 10_000, day), None);
        let mut off = rule.clone();
        off.enabled = false;
        assert_eq!(due(&off, &seen(&old), 10_000, day), None);
        // Noncurrent: by the time since it became so, past the newest one.
        let mut nc = rec("logs/a", 0);
        nc.noncurrent = true;
        let at = |since, rank| Seen {
            rec: &nc,
            noncurrent_since_ms: Some(since),
            noncurrent_rank: rank,
            alone: false,
        };
        assert_eq!(due(&rule, &at(9_500, 1), 10_000, day), None);
        assert_eq!(
            due(&rule, &at(8_000, 0), 10_000, day),
            None,
            "the newest is kept"
        );
        assert_eq!(
            due(&rule, &at(8_000, 1), 10_000, day),
            Some(Action::DeleteVersion)
        );
        // A delete marker only when nothing is left behind it.
        let mut m = rec("logs/a", 9_999);
        m.delete_marker = true;
        let marker = |alone| Seen {
            rec: &m,
            noncurrent_since_ms: None,
            noncurrent_rank: 0,
            alone,
        };
        assert_eq!(due(&rule, &marker(false), 10_000, day), None);
        assert_eq!(
            due(&rule, &marker(true), 10_000, day),
            Some(Action::DeleteVersion)
        );
        // By date, and by tags.
        let dated = LifecycleRule {
            id: "d".into(),
            enabled: true,
            expiration_date_ms: Some(10_000),
            tags: [("t".to_string(), "1".to_string())].into(),
            ..Default::default()
        };
        let mut tagged = rec("x", 9_999);
        assert_eq!(due(&dated, &seen(&tagged), 10_000, day), None);
        tagged.tags.insert("t".into(), "1".into());
        assert_eq!(due(&dated, &seen(&tagged), 9_999, day), None);
        assert_eq!(
            due(&dated, &seen(&tagged), 10_000, day),
            Some(Action::Expire)
        );
    }
}
