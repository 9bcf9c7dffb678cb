//! The object index's operations, each one named transaction: commit an
//! object, delete it, swap repaired shards in, give up a write, commit or
//! abort a part, change or delete a bucket. They run over etcd, or over an
//! in-memory twin with etcd's semantics (revisions, compares, prefix
//! deletes) for unit tests; the same tests run on both.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use etcd_client::{Compare, CompareOp, DeleteOptions, GetOptions, TxnOp, TxnOpResponse};
use objectio_cluster::keys::prefix_end;
use objectio_cluster::store::encode;
use objectio_cluster::{
    BucketRecord, GcRecord, Keys, ObjectRecord, PartRecord, RepairHint, SCHEMA_VERSION, Segment,
    Store, now_millis, now_secs,
};
use uuid::Uuid;

use objectio_cluster::Result;

/// A condition of a transaction.
#[derive(Clone, Debug)]
pub enum Cmp {
    Exists(Vec<u8>),
    Absent(Vec<u8>),
    /// The key exists at exactly this modification revision.
    ModRevision(Vec<u8>, i64),
    /// No key in `[start, end)`.
    RangeEmpty(Vec<u8>, Vec<u8>),
}

/// An operation of a transaction.
#[derive(Clone, Debug)]
pub enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    DeletePrefix(Vec<u8>),
    Get(Vec<u8>),
    Count(Vec<u8>),
}

/// What an operation answered (`Get` and `Count` only carry something).
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Done,
    Got(Option<(Vec<u8>, i64)>),
    Counted(u64),
}

/// A transaction: `then` when every `when` holds, else `otherwise`.
#[derive(Clone, Debug, Default)]
pub struct Txn {
    pub when: Vec<Cmp>,
    pub then: Vec<Op>,
    pub otherwise: Vec<Op>,
}

/// A transaction's result.
#[derive(Clone, Debug)]
pub struct Applied {
    pub succeeded: bool,
    pub replies: Vec<Reply>,
    /// The store's revision after it.
    pub revision: i64,
}

#[derive(Clone, Debug)]
struct Entry {
    value: Vec<u8>,
    mod_revision: i64,
}

/// The in-memory twin.
#[derive(Default, Debug)]
struct Memory {
    kv: BTreeMap<Vec<u8>, Entry>,
    revision: i64,
}

impl Memory {
    fn holds(&self, c: &Cmp) -> bool {
        match c {
            Cmp::Exists(k) => self.kv.contains_key(k),
            Cmp::Absent(k) => !self.kv.contains_key(k),
            Cmp::ModRevision(k, r) => self.kv.get(k).is_some_and(|e| e.mod_revision == *r),
            Cmp::RangeEmpty(a, b) => self.kv.range(a.clone()..b.clone()).next().is_none(),
        }
    }

    fn apply(&mut self, t: Txn) -> Applied {
        let succeeded = t.when.iter().all(|c| self.holds(c));
        let ops = if succeeded { t.then } else { t.otherwise };
        // One revision for the whole transaction, as etcd does.
        let writes = ops
            .iter()
            .any(|o| matches!(o, Op::Put(..) | Op::Delete(_) | Op::DeletePrefix(_)));
        if writes {
            self.revision += 1;
        }
        let rev = self.revision;
        let mut replies = Vec::with_capacity(ops.len());
        for op in ops {
            replies.push(match op {
                Op::Put(k, v) => {
                    self.kv.insert(
                        k,
                        Entry {
                            value: v,
                            mod_revision: rev,
                        },
                    );
                    Reply::Done
                }
                Op::Delete(k) => {
                    self.kv.remove(&k);
                    Reply::Done
                }
                Op::DeletePrefix(p) => {
                    let end = prefix_end(&p);
                    let doomed: Vec<Vec<u8>> = self
                        .kv
                        .keys()
                        .filter(|k| k.starts_with(&p) && end.as_ref().is_none_or(|e| *k < e))
                        .cloned()
                        .collect();
                    for k in doomed {
                        self.kv.remove(&k);
                    }
                    Reply::Done
                }
                Op::Get(k) => {
                    Reply::Got(self.kv.get(&k).map(|e| (e.value.clone(), e.mod_revision)))
                }
                Op::Count(p) => {
                    Reply::Counted(self.kv.keys().filter(|k| k.starts_with(&p)).count() as u64)
                }
            });
        }
        Applied {
            succeeded,
            replies,
            revision: rev,
        }
    }
}

#[derive(Clone)]
enum Backend {
    Etcd(Box<Store>),
    Memory(Arc<Mutex<Memory>>),
}

/// The object index.
#[derive(Clone)]
pub struct Index {
    keys: Keys,
    backend: Backend,
    /// The disk indexes of compact object records (the store's own).
    dir: objectio_cluster::compact::DiskDirectory,
}

fn cmp_etcd(c: Cmp) -> Compare {
    match c {
        Cmp::Exists(k) => Compare::version(k, CompareOp::Greater, 0),
        Cmp::Absent(k) => Compare::version(k, CompareOp::Equal, 0),
        Cmp::ModRevision(k, r) => Compare::mod_revision(k, CompareOp::Equal, r),
        Cmp::RangeEmpty(a, b) => Compare::create_revision(a, CompareOp::Equal, 0).with_range(b),
    }
}

fn op_etcd(o: Op) -> TxnOp {
    match o {
        Op::Put(k, v) => TxnOp::put(k, v, None),
        Op::Delete(k) => TxnOp::delete(k, None),
        Op::DeletePrefix(p) => TxnOp::delete(p, Some(DeleteOptions::new().with_prefix())),
        Op::Get(k) => TxnOp::get(k, None),
        Op::Count(p) => TxnOp::get(p, Some(GetOptions::new().with_prefix().with_count_only())),
    }
}

/// How a commit ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commit {
    Done,
    /// The write was given up (its intent is gone): it must not go live.
    GivenUp,
    /// The bucket is gone or a guard failed.
    Refused,
    /// What the key holds is not what the write expected ([`Expect`]).
    PreconditionFailed,
    /// The write expected an object and the key holds none.
    Missing,
}

/// What a commit does with the version it replaces (S3 versioning).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Keep {
    /// Nothing: its shards go to GC (a bucket without versioning).
    #[default]
    Nothing,
    /// Every version, as a noncurrent one (versioning enabled).
    All,
    /// A versioned one; the null version is replaced by the new null
    /// version (versioning suspended).
    Versioned,
}

impl Keep {
    pub fn keeps(self, old: &ObjectRecord) -> bool {
        match self {
            Keep::Nothing => false,
            Keep::All => true,
            Keep::Versioned => old.versioned,
        }
    }
}

/// What a conditional write expects the key to hold when it commits
/// (`If-None-Match: *`, `If-Match`), checked in the commit's own
/// compare-and-swap: of two racing creates, exactly one wins.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Expect {
    /// Anything (an unconditional write).
    #[default]
    Any,
    /// No object.
    Absent,
    /// An object whose ETag is one of these (`*`: any object).
    ETag(Vec<String>),
}

impl Expect {
    /// Whether `current` (the key's object, if any) is what is expected.
    pub fn holds(&self, current: Option<&ObjectRecord>) -> std::result::Result<(), Commit> {
        // A delete marker is no object.
        let current = current.filter(|o| !o.delete_marker);
        match (self, current) {
            (Expect::Any, _) => Ok(()),
            (Expect::Absent, None) => Ok(()),
            (Expect::Absent, Some(_)) => Err(Commit::PreconditionFailed),
            (Expect::ETag(_), None) => Err(Commit::Missing),
            (Expect::ETag(tags), Some(o)) => {
                if tags.iter().any(|t| t == "*" || *t == o.etag) {
                    Ok(())
                } else {
                    Err(Commit::PreconditionFailed)
                }
            }
        }
    }
}

/// The swap of repaired shards into a record (see [`Index::swap`]).
pub struct Swap {
    /// The record's key, the revision it was read at, and its new value.
    pub key: Vec<u8>,
    pub revision: i64,
    pub value: Vec<u8>,
    /// Intents naming the new shards: each must still stand; all go.
    pub intents: Vec<String>,
    /// More conditions (no completion under way, for a part).
    pub also: Vec<Cmp>,
    /// Keys deleted with it (the damage reports of replaced shards).
    pub deletes: Vec<Vec<u8>>,
    /// The replaced shards, queued for GC.
    pub replaced: Vec<Segment>,
    /// Moved shards' old copies, still readable: queued for GC after the
    /// grace period (a GET that read the record before may be streaming
    /// them).
    pub moved: Vec<Segment>,
}

impl Index {
    /// The index in etcd.
    pub fn etcd(store: Store) -> Self {
        Self {
            keys: store.keys().clone(),
            dir: store.directory().clone(),
            backend: Backend::Etcd(Box::new(store)),
        }
    }

    /// An empty in-memory twin (unit tests).
    pub fn memory(cluster: &str) -> Self {
        let keys = Keys::new(cluster);
        Self {
            dir: objectio_cluster::compact::DiskDirectory::new(&keys),
            keys,
            backend: Backend::Memory(Arc::default()),
        }
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The etcd value of a record (an object record compact when it can).
    pub fn encode<T: serde::Serialize + objectio_cluster::Versioned>(&self, rec: &T) -> Vec<u8> {
        rec.to_etcd(&self.dir)
    }

    /// Decodes a record read under `key` at `mod_revision`
    /// ([`Store::decode`]: an unknown disk index makes it learn the disks
    /// once).
    pub async fn decode<T>(&self, key: &[u8], value: &[u8], mod_revision: i64) -> Result<T>
    where
        T: serde::de::DeserializeOwned + objectio_cluster::Versioned,
    {
        match &self.backend {
            Backend::Etcd(store) => store.decode(key, value, mod_revision).await,
            Backend::Memory(_) => T::from_value(key, value, &self.dir, false),
        }
    }

    /// Runs one transaction.
    pub async fn txn(&self, t: Txn) -> Result<Applied> {
        match &self.backend {
            Backend::Memory(m) => Ok(m.lock().expect("index lock").apply(t)),
            Backend::Etcd(store) => {
                // The ops, to read the answers of the branch that ran.
                let then_kinds = t.then.clone();
                let else_kinds = t.otherwise.clone();
                let txn = etcd_client::Txn::new()
                    .when(t.when.into_iter().map(cmp_etcd).collect::<Vec<_>>())
                    .and_then(t.then.into_iter().map(op_etcd).collect::<Vec<_>>())
                    .or_else(t.otherwise.into_iter().map(op_etcd).collect::<Vec<_>>());
                let resp = store
                    .kv()
                    .txn(txn)
                    .await
                    .map_err(objectio_cluster::Error::from)?;
                let ops = if resp.succeeded() {
                    then_kinds
                } else {
                    else_kinds
                };
                let replies = ops
                    .iter()
                    .zip(resp.op_responses())
                    .map(|(op, r)| match (op, r) {
                        (Op::Get(_), TxnOpResponse::Get(g)) => Reply::Got(
                            g.kvs()
                                .first()
                                .map(|kv| (kv.value().to_vec(), kv.mod_revision())),
                        ),
                        (Op::Count(_), TxnOpResponse::Get(g)) => {
                            Reply::Counted(g.count().max(0) as u64)
                        }
                        _ => Reply::Done,
                    })
                    .collect();
                Ok(Applied {
                    succeeded: resp.succeeded(),
                    replies,
                    revision: resp.header().map(|h| h.revision()).unwrap_or(0),
                })
            }
        }
    }

    /// Runs `then` if every `when` holds; whether it ran.
    pub(crate) async fn when_then(&self, when: Vec<Cmp>, then: Vec<Op>) -> Result<bool> {
        Ok(self
            .txn(Txn {
                when,
                then,
                otherwise: Vec::new(),
            })
            .await?
            .succeeded)
    }

    /// Reads one key: its value and modification revision.
    pub async fn get(&self, key: Vec<u8>) -> Result<Option<(Vec<u8>, i64)>> {
        let a = self
            .txn(Txn {
                when: Vec::new(),
                then: vec![Op::Get(key)],
                otherwise: Vec::new(),
            })
            .await?;
        Ok(match a.replies.into_iter().next() {
            Some(Reply::Got(g)) => g,
            _ => None,
        })
    }

    /// Reads and decodes one record.
    pub async fn get_record<T>(&self, key: Vec<u8>) -> Result<Option<(T, i64)>>
    where
        T: serde::de::DeserializeOwned + objectio_cluster::Versioned,
    {
        match self.get(key.clone()).await? {
            Some((v, rev)) => Ok(Some((self.decode(&key, &v, rev).await?, rev))),
            None => Ok(None),
        }
    }

    /// An op queuing `segments`' shards for GC (none when no shard exists).
    pub fn gc_put(&self, segments: Vec<Segment>, was_live: bool) -> Option<Op> {
        let segments: Vec<Segment> = segments
            .into_iter()
            .filter(|s| s.shards.iter().any(Option::is_some))
            .collect();
        if segments.is_empty() {
            return None;
        }
        let rec = GcRecord {
            version: SCHEMA_VERSION,
            segments,
            queued: now_secs(),
            was_live,
        };
        Some(Op::Put(
            self.keys.gc(&Uuid::new_v4()).into_bytes(),
            encode(&rec),
        ))
    }

    /// For a record short of a shard (a write at the quorum), an op leaving
    /// a hint that sends repair straight to it.
    pub fn hint_put(&self, rec: &ObjectRecord) -> Option<Op> {
        // On every PUT: looked at in place, nothing copied.
        let gap = |size: u64, shards: &[Option<objectio_cluster::ShardLocation>]| {
            size > 0 && shards.iter().any(Option::is_none)
        };
        let short = if rec.parts.is_empty() {
            gap(rec.size, &rec.shards)
        } else {
            rec.parts.iter().any(|p| gap(p.size, &p.shards))
        } || rec
            .manifest
            .as_ref()
            .is_some_and(|m| gap(m.size, &m.shards));
        short.then(|| {
            let hint = RepairHint {
                version: SCHEMA_VERSION,
                bucket: rec.bucket.clone(),
                key: rec.key.clone(),
                created_ms: now_millis(),
            };
            Op::Put(self.keys.hint(&rec.version_id).into_bytes(), encode(&hint))
        })
    }

    /// Makes `rec` the object's current version in one transaction: the
    /// bucket must exist and the key hold what was read (the replaced
    /// version is queued for GC), the intent (if any) must stand and goes,
    /// and `guards`/`extra` ride along. A new key is tried first, in one
    /// round trip; a failed compare returns what the key holds, and the
    /// second try replaces exactly that.
    pub async fn commit_object(
        &self,
        rec: &ObjectRecord,
        intent: Option<&str>,
        expect: &Expect,
        keep: Keep,
        guards: Vec<Cmp>,
        extra: Vec<Op>,
    ) -> Result<Commit> {
        let okey = self.keys.object(&rec.bucket, &rec.key);
        let bkey = self.keys.bucket(&rec.bucket).into_bytes();
        let mut old: Option<(ObjectRecord, i64)> = None;
        if let Expect::ETag(_) = expect {
            // Only an existing object can match: start from it.
            old = self.get_record::<ObjectRecord>(okey.clone()).await?;
        }
        for _ in 0..2 {
            if let Err(c) = expect.holds(old.as_ref().map(|(o, _)| o)) {
                return Ok(c);
            }
            let mut when = vec![Cmp::Exists(bkey.clone())];
            when.extend(guards.iter().cloned());
            let mut then = vec![Op::Put(okey.clone(), self.encode(rec))];
            match &old {
                Some((o, rev)) => {
                    when.push(Cmp::ModRevision(okey.clone(), *rev));
                    if keep.keeps(o) {
                        let mut kept = o.clone();
                        kept.noncurrent = true;
                        then.push(Op::Put(self.keys.record(&kept), self.encode(&kept)));
                    } else {
                        then.extend(self.gc_put(o.all_segments(), true));
                    }
                }
                None => when.push(Cmp::Absent(okey.clone())),
            }
            let mut otherwise = vec![Op::Get(okey.clone())];
            if let Some(i) = intent {
                // The intent must still be there: if this write was given
                // up (its shards queued for GC), it must not go live.
                when.push(Cmp::Exists(i.as_bytes().to_vec()));
                then.push(Op::Delete(i.as_bytes().to_vec()));
                otherwise.push(Op::Count(i.as_bytes().to_vec()));
            }
            then.extend(extra.iter().cloned());
            let a = self
                .txn(Txn {
                    when,
                    then,
                    otherwise,
                })
                .await?;
            if a.succeeded {
                return Ok(Commit::Done);
            }
            let mut replies = a.replies.into_iter();
            old = match replies.next() {
                Some(Reply::Got(Some((v, rev)))) => Some((self.decode(&okey, &v, rev).await?, rev)),
                _ => None,
            };
            if let Some(Reply::Counted(0)) = replies.next() {
                return Ok(Commit::GivenUp);
            }
            if let Err(c) = expect.holds(old.as_ref().map(|(o, _)| o)) {
                // Changed under us: the bucket is checked by the caller,
                // the expectation here.
                return Ok(c);
            }
            if old.is_none() {
                break; // the key is absent: the bucket or a guard failed
            }
        }
        Ok(Commit::Refused)
    }

    /// Deletes an object (only its version `only` when given), queuing
    /// its shards for GC; whether it deleted one.
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        only: Option<uuid::Uuid>,
    ) -> Result<bool> {
        let okey = self.keys.object(bucket, key);
        loop {
            let Some((o, rev)) = self.get_record::<ObjectRecord>(okey.clone()).await? else {
                return Ok(false);
            };
            if only.is_some_and(|v| v != o.version_id) {
                return Ok(false);
            }
            let mut then = vec![Op::Delete(okey.clone())];
            then.extend(self.gc_put(o.all_segments(), true));
            if self
                .when_then(vec![Cmp::ModRevision(okey.clone(), rev)], then)
                .await?
            {
                return Ok(true);
            }
        }
    }

    /// Deletes one version of an object (DeleteObject with a versionId):
    /// the record at `key`, read at `rev`, goes and its shards to GC; when
    /// it was the current version, `promote` (the newest noncurrent one,
    /// read at its revision) becomes current. Whether it went through.
    pub async fn delete_version(
        &self,
        key: Vec<u8>,
        rev: i64,
        deleted: &ObjectRecord,
        promote: Option<(ObjectRecord, i64)>,
    ) -> Result<bool> {
        let mut when = vec![Cmp::ModRevision(key.clone(), rev)];
        let mut then = Vec::new();
        match promote {
            Some((p, prev)) => {
                let pkey = self.keys.record(&p);
                when.push(Cmp::ModRevision(pkey.clone(), prev));
                let mut current = p;
                current.noncurrent = false;
                then.push(Op::Delete(pkey));
                then.push(Op::Put(key, self.encode(&current)));
            }
            None => then.push(Op::Delete(key)),
        }
        then.extend(self.gc_put(deleted.all_segments(), true));
        self.when_then(when, then).await
    }

    /// Turns an intent into a GC record of `seg`, only while the intent
    /// stands (a commit that went through removed it: its shards are live);
    /// whether it did.
    pub async fn abandon(&self, intent: &str, seg: Segment) -> Result<bool> {
        let mut then = vec![Op::Delete(intent.as_bytes().to_vec())];
        then.extend(self.gc_put(vec![seg], false));
        self.when_then(vec![Cmp::Exists(intent.as_bytes().to_vec())], then)
            .await
    }

    /// Swaps repaired shards into a record: only if the record is still the
    /// one repaired and every intent stands (an overwrite, a delete or a
    /// given-up repair wins); the replaced shards go to GC.
    pub async fn swap(&self, s: Swap) -> Result<bool> {
        let mut when = s.also;
        when.push(Cmp::ModRevision(s.key.clone(), s.revision));
        when.extend(s.intents.iter().map(|i| Cmp::Exists(i.as_bytes().to_vec())));
        let mut then = vec![Op::Put(s.key, s.value)];
        then.extend(s.intents.iter().map(|i| Op::Delete(i.as_bytes().to_vec())));
        then.extend(s.deletes.into_iter().map(Op::Delete));
        then.extend(self.gc_put(s.replaced, false));
        then.extend(self.gc_put(s.moved, true));
        self.when_then(when, then).await
    }

    /// Changes a record by compare-and-swap until it sticks; `None` when
    /// the key is absent, else the record as written and the revision.
    pub async fn update<T>(
        &self,
        key: Vec<u8>,
        mut change: impl FnMut(&mut T),
    ) -> Result<Option<(T, i64)>>
    where
        T: serde::de::DeserializeOwned + serde::Serialize + objectio_cluster::Versioned,
    {
        loop {
            let Some((mut rec, rev)) = self.get_record::<T>(key.clone()).await? else {
                return Ok(None);
            };
            change(&mut rec);
            let a = self
                .txn(Txn {
                    when: vec![Cmp::ModRevision(key.clone(), rev)],
                    then: vec![Op::Put(key.clone(), self.encode(&rec))],
                    otherwise: Vec::new(),
                })
                .await?;
            if a.succeeded {
                return Ok(Some((rec, a.revision)));
            }
        }
    }

    /// Deletes a bucket only while it holds no object and no upload (a
    /// concurrent PUT's commit compares the bucket key, so it fails);
    /// whether it did.
    pub async fn delete_bucket(&self, name: &str) -> Result<bool> {
        let bkey = self.keys.bucket(name).into_bytes();
        let objects = self.keys.objects_prefix(name);
        let oend = prefix_end(&objects).expect("bucket prefix ends with '/'");
        let uploads = self.keys.uploads_prefix(name);
        let uend = prefix_end(&uploads).expect("upload prefix ends with '/'");
        self.when_then(
            vec![
                Cmp::Exists(bkey.clone()),
                Cmp::RangeEmpty(objects, oend),
                Cmp::RangeEmpty(uploads, uend),
            ],
            vec![Op::Delete(bkey)],
        )
        .await
    }

    /// Commits an uploaded part: the upload stands and is not being
    /// completed, the part number holds what was read (a replaced part goes
    /// to GC), the intent stands and goes; whether it did.
    pub async fn commit_part(
        &self,
        upload: &[u8],
        part: &PartRecord,
        old: Option<&(PartRecord, i64)>,
        intent: Option<&str>,
    ) -> Result<bool> {
        let pkey = self.keys.part(&part.upload_id, part.number).into_bytes();
        let mut when = vec![
            Cmp::Exists(upload.to_vec()),
            Cmp::Absent(self.keys.completing(&part.upload_id).into_bytes()),
        ];
        let mut then = vec![Op::Put(pkey.clone(), encode(part))];
        match old {
            Some((o, rev)) => {
                when.push(Cmp::ModRevision(pkey, *rev));
                then.extend(self.gc_put(vec![o.segment()], false));
            }
            None => when.push(Cmp::Absent(pkey)),
        }
        if let Some(i) = intent {
            // Never commit a write that was given up.
            when.push(Cmp::Exists(i.as_bytes().to_vec()));
            then.push(Op::Delete(i.as_bytes().to_vec()));
        }
        self.when_then(when, then).await
    }

    /// Ends an upload: its record, parts and completion marker go, its
    /// parts' shards to GC; whether it still stood.
    pub async fn abort_upload(
        &self,
        upload: &[u8],
        upload_id: &Uuid,
        parts: Vec<Segment>,
    ) -> Result<bool> {
        let mut then = vec![
            Op::Delete(upload.to_vec()),
            Op::DeletePrefix(self.keys.parts_prefix(upload_id).into_bytes()),
            Op::Delete(self.keys.completing(upload_id).into_bytes()),
        ];
        then.extend(self.gc_put(parts, false));
        self.when_then(vec![Cmp::Exists(upload.to_vec())], then)
            .await
    }

    /// GC takes over an orphaned intent (its writer is gone): the intent
    /// becomes a GC record of its shards, only if it is still the one read
    /// at `rev` (a late commit removes it in its own transaction).
    pub async fn reclaim_intent(&self, intent: &[u8], rev: i64, seg: Segment) -> Result<bool> {
        let mut then = vec![Op::Delete(intent.to_vec())];
        then.extend(self.gc_put(vec![seg], false));
        self.when_then(vec![Cmp::ModRevision(intent.to_vec(), rev)], then)
            .await
    }

    /// Records GC's progress on a GC record read at `rev`: dropped when
    /// nothing is `left`, else kept with what is; the damage reports of
    /// the shards deleted (`deleted`: data id, part, index, disk) go too.
    pub async fn gc_progress(
        &self,
        key: &[u8],
        rev: i64,
        rec: GcRecord,
        left: Vec<Segment>,
        deleted: Vec<(Uuid, u32, usize, Uuid)>,
    ) -> Result<bool> {
        let mut then = vec![if left.is_empty() {
            Op::Delete(key.to_vec())
        } else {
            Op::Put(
                key.to_vec(),
                encode(&GcRecord {
                    segments: left,
                    ..rec
                }),
            )
        }];
        then.extend(
            deleted
                .into_iter()
                .map(|(v, p, i, d)| Op::Delete(self.keys.damaged(&v, p, i, &d).into_bytes())),
        );
        self.when_then(vec![Cmp::ModRevision(key.to_vec(), rev)], then)
            .await
    }

    /// Writes a record if the key is absent; whether it did.
    pub async fn create(&self, key: Vec<u8>, value: Vec<u8>) -> Result<bool> {
        self.when_then(vec![Cmp::Absent(key.clone())], vec![Op::Put(key, value)])
            .await
    }

    /// Writes a bucket record if none of that name exists and its owner's
    /// user record does (a user deleted meanwhile leaves no bucket without
    /// an owner).
    pub async fn create_bucket(&self, rec: &BucketRecord) -> Result<bool> {
        let key = self.keys.bucket(&rec.name).into_bytes();
        self.when_then(
            vec![
                Cmp::Absent(key.clone()),
                Cmp::Exists(self.keys.user(&rec.owner).into_bytes()),
            ],
            vec![Op::Put(key, encode(rec))],
        )
        .await
    }

    /// Keys under a prefix (tests and checks).
    pub async fn count(&self, prefix: Vec<u8>) -> Result<u64> {
        let a = self
            .txn(Txn {
                when: Vec::new(),
                then: vec![Op::Count(prefix)],
                otherwise: Vec::new(),
            })
            .await?;
        Ok(match a.replies.first() {
            Some(Reply::Counted(n)) => *n,
            _ => 0,
        })
    }
}

#[cfg(test)]
mod tests {
    //! Every scenario runs on the in-memory twin and on a real etcd: the
    //! twin is only worth its tests if it behaves as etcd does.

    use objectio_cluster::{CannedAcl, EcProfile, ShardLocation};

    use super::*;

    fn segment(vid: Uuid) -> Segment {
        Segment {
            version_id: vid,
            part: 0,
            size: 10,
            shards: vec![
                Some(ShardLocation {
                    osd: "o".into(),
                    disk: Uuid::nil(),
                });
                6
            ],
        }
    }

    fn object(key: &str) -> ObjectRecord {
        let vid = Uuid::new_v4();
        ObjectRecord {
            version: SCHEMA_VERSION,
            bucket: "b".into(),
            key: key.into(),
            version_id: vid,
            size: 10,
            etag: "e".into(),
            content_type: None,
            user_metadata: Default::default(),
            created_ms: 0,
            ec: EcProfile::default(),
            shards: segment(vid).shards,
            parts: Vec::new(),
            acl: CannedAcl::default(),
            ..Default::default()
        }
    }

    async fn bucket(ix: &Index) {
        let b = BucketRecord {
            version: SCHEMA_VERSION,
            name: "b".into(),
            owner: "u".into(),
            created: 0,
            acl: CannedAcl::default(),
            policy: None,
            tags: Default::default(),
            cors: None,
            versioning: None,
            lifecycle: None,
            object_lock: None,
        };
        assert!(
            !ix.create_bucket(&b).await.unwrap(),
            "created without its owner"
        );
        assert!(
            ix.create(ix.keys.user("u").into_bytes(), b"{}".to_vec())
                .await
                .unwrap()
        );
        assert!(ix.create_bucket(&b).await.unwrap());
        assert!(!ix.create_bucket(&b).await.unwrap(), "created twice");
    }

    async fn intent(ix: &Index) -> String {
        let ik = ix.keys().intent(&Uuid::new_v4());
        assert!(
            ix.create(ik.clone().into_bytes(), b"{}".to_vec())
                .await
                .unwrap()
        );
        ik
    }

    async fn gc(ix: &Index) -> u64 {
        ix.count(ix.keys().gc_prefix().into_bytes()).await.unwrap()
    }

    /// A commit and the abandonment of the same write exclude each other,
    /// whichever comes first; an overwrite queues the old version for GC.
    async fn commit_and_abandon(ix: Index) {
        bucket(&ix).await;
        let r1 = object("k");
        let i1 = intent(&ix).await;
        assert_eq!(
            ix.commit_object(&r1, Some(&i1), &Expect::Any, Keep::Nothing, vec![], vec![])
                .await
                .unwrap(),
            Commit::Done
        );
        assert!(!ix.abandon(&i1, segment(r1.version_id)).await.unwrap());
        assert_eq!(gc(&ix).await, 0, "a live object's shards queued for GC");
        // Given up first: the late commit is refused.
        let r2 = object("k");
        let i2 = intent(&ix).await;
        assert!(ix.abandon(&i2, segment(r2.version_id)).await.unwrap());
        assert_eq!(gc(&ix).await, 1);
        assert_eq!(
            ix.commit_object(&r2, Some(&i2), &Expect::Any, Keep::Nothing, vec![], vec![])
                .await
                .unwrap(),
            Commit::GivenUp
        );
        // An overwrite replaces exactly what was there, old shards to GC.
        let r3 = object("k");
        assert_eq!(
            ix.commit_object(&r3, None, &Expect::Any, Keep::Nothing, vec![], vec![])
                .await
                .unwrap(),
            Commit::Done
        );
        assert_eq!(gc(&ix).await, 2);
        let (now, _) = ix
            .get_record::<ObjectRecord>(ix.keys().object("b", "k"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(now.version_id, r3.version_id);
        // No bucket: refused.
        let mut r4 = object("k");
        r4.bucket = "nope".into();
        assert_eq!(
            ix.commit_object(&r4, None, &Expect::Any, Keep::Nothing, vec![], vec![])
                .await
                .unwrap(),
            Commit::Refused
        );
    }

    /// A repair's swap loses to an overwrite and to a delete, and to its
    /// own intent being given up; it wins over nothing else.
    async fn swap_races(ix: Index) {
        bucket(&ix).await;
        let rec = object("k");
        ix.commit_object(&rec, None, &Expect::Any, Keep::Nothing, vec![], vec![])
            .await
            .unwrap();
        let key = ix.keys().object("b", "k");
        let (_, rev) = ix.get(key.clone()).await.unwrap().unwrap();
        let swap = |intents: Vec<String>, rev: i64| Swap {
            key: key.clone(),
            revision: rev,
            value: encode(&rec),
            intents,
            also: vec![],
            deletes: vec![],
            replaced: vec![segment(rec.version_id)],
            moved: vec![],
        };
        // Overwritten meanwhile: the swap fails.
        let i = intent(&ix).await;
        ix.commit_object(
            &object("k"),
            None,
            &Expect::Any,
            Keep::Nothing,
            vec![],
            vec![],
        )
        .await
        .unwrap();
        assert!(!ix.swap(swap(vec![i.clone()], rev)).await.unwrap());
        // At the current revision, with the intent standing: it goes.
        let (_, rev) = ix.get(key.clone()).await.unwrap().unwrap();
        assert!(ix.swap(swap(vec![i.clone()], rev)).await.unwrap());
        assert_eq!(ix.get(i.clone().into_bytes()).await.unwrap(), None);
        // The intent given up: the swap fails.
        let (_, rev) = ix.get(key.clone()).await.unwrap().unwrap();
        let j = intent(&ix).await;
        assert!(ix.abandon(&j, segment(rec.version_id)).await.unwrap());
        assert!(!ix.swap(swap(vec![j], rev)).await.unwrap());
        // Deleted meanwhile: the swap fails, nothing comes back.
        assert!(ix.delete_object("b", "k", None).await.unwrap());
        assert!(!ix.swap(swap(vec![], rev)).await.unwrap());
        assert_eq!(ix.get(key).await.unwrap(), None);
        assert!(!ix.delete_object("b", "k", None).await.unwrap());
    }

    /// A bucket is deleted only when empty of objects and uploads; an
    /// abort ends an upload with its parts, once.
    async fn buckets_and_uploads(ix: Index) {
        bucket(&ix).await;
        ix.commit_object(
            &object("k"),
            None,
            &Expect::Any,
            Keep::Nothing,
            vec![],
            vec![],
        )
        .await
        .unwrap();
        assert!(!ix.delete_bucket("b").await.unwrap());
        assert!(ix.delete_object("b", "k", None).await.unwrap());
        let up = Uuid::new_v4();
        let ukey = ix.keys().upload("b", "u", &up);
        assert!(ix.create(ukey.clone(), b"{}".to_vec()).await.unwrap());
        let part = PartRecord {
            version: SCHEMA_VERSION,
            upload_id: up,
            number: 1,
            version_id: Uuid::new_v4(),
            size: 10,
            etag: "p".into(),
            ec: EcProfile::default(),
            shards: segment(up).shards,
            created_ms: 0,
            checksum: None,
        };
        assert!(ix.commit_part(&ukey, &part, None, None).await.unwrap());
        assert!(
            !ix.commit_part(&ukey, &part, None, None).await.unwrap(),
            "a part committed twice over nothing"
        );
        assert!(!ix.delete_bucket("b").await.unwrap(), "an upload is in it");
        assert!(
            ix.abort_upload(&ukey, &up, vec![part.segment()])
                .await
                .unwrap()
        );
        assert!(!ix.abort_upload(&ukey, &up, vec![]).await.unwrap());
        assert_eq!(
            ix.count(ix.keys().parts_prefix(&up).into_bytes())
                .await
                .unwrap(),
            0
        );
        assert!(ix.delete_bucket("b").await.unwrap());
        let b = ix
            .update::<BucketRecord>(ix.keys().bucket("b").into_bytes(), |_| {})
            .await
            .unwrap();
        assert!(b.is_none());
    }

    /// GC takes an orphaned intent only as it read it, and records its
    /// progress only on the record as it read it.
    async fn gc_steps(ix: Index) {
        let seg = segment(Uuid::new_v4());
        let i = intent(&ix).await;
        let (_, rev) = ix.get(i.clone().into_bytes()).await.unwrap().unwrap();
        // Rewritten meanwhile (a new revision): not taken.
        ix.txn(Txn {
            when: vec![],
            then: vec![Op::Put(i.clone().into_bytes(), b"{}".to_vec())],
            otherwise: vec![],
        })
        .await
        .unwrap();
        assert!(
            !ix.reclaim_intent(i.as_bytes(), rev, seg.clone())
                .await
                .unwrap()
        );
        let (_, rev) = ix.get(i.clone().into_bytes()).await.unwrap().unwrap();
        assert!(
            ix.reclaim_intent(i.as_bytes(), rev, seg.clone())
                .await
                .unwrap()
        );
        assert_eq!(gc(&ix).await, 1);
        let prefix = ix.keys().gc_prefix().into_bytes();
        let key = {
            // The one GC record's key, found by scanning for it.
            let mut found = None;
            if let Backend::Memory(m) = &ix.backend {
                found = m
                    .lock()
                    .unwrap()
                    .kv
                    .keys()
                    .find(|k| k.starts_with(&prefix))
                    .cloned();
            }
            if let Backend::Etcd(st) = &ix.backend {
                let r = st
                    .kv()
                    .get(prefix.clone(), Some(GetOptions::new().with_prefix()))
                    .await
                    .unwrap();
                found = r.kvs().first().map(|kv| kv.key().to_vec());
            }
            found.unwrap()
        };
        let (v, rev) = ix.get(key.clone()).await.unwrap().unwrap();
        let rec: GcRecord = objectio_cluster::store::decode(&key, &v).unwrap();
        // Some shards left: kept with them; then a stale step is refused.
        assert!(
            ix.gc_progress(&key, rev, rec.clone(), vec![seg.clone()], vec![])
                .await
                .unwrap()
        );
        assert!(
            !ix.gc_progress(&key, rev, rec.clone(), vec![], vec![])
                .await
                .unwrap()
        );
        let (_, rev) = ix.get(key.clone()).await.unwrap().unwrap();
        assert!(
            ix.gc_progress(&key, rev, rec, vec![], vec![])
                .await
                .unwrap()
        );
        assert_eq!(gc(&ix).await, 0);
    }

    /// Conditional commits: of racing creates exactly one wins; If-Match
    /// needs the object and its ETag, and a change between read and commit
    /// is caught by the compare-and-swap.
    async fn conditional_commits(ix: Index) {
        bucket(&ix).await;
        let creates: Vec<_> = (0..8)
            .map(|_| {
                let ix = ix.clone();
                async move {
                    ix.commit_object(
                        &object("c"),
                        None,
                        &Expect::Absent,
                        Keep::Nothing,
                        vec![],
                        vec![],
                    )
                    .await
                    .unwrap()
                }
            })
            .collect();
        let answers = futures::future::join_all(creates).await;
        assert_eq!(
            answers.iter().filter(|c| **c == Commit::Done).count(),
            1,
            "{answers:?}"
        );
        assert!(
            answers
                .iter()
                .all(|c| matches!(c, Commit::Done | Commit::PreconditionFailed)),
            "{answers:?}"
        );
        let tag = |t: &str| Expect::ETag(vec![t.to_string()]);
        assert_eq!(
            ix.commit_object(
                &object("none"),
                None,
                &tag("e"),
                Keep::Nothing,
                vec![],
                vec![]
            )
            .await
            .unwrap(),
            Commit::Missing
        );
        assert_eq!(
            ix.commit_object(
                &object("c"),
                None,
                &tag("other"),
                Keep::Nothing,
                vec![],
                vec![]
            )
            .await
            .unwrap(),
            Commit::PreconditionFailed
        );
        let mut next = object("c");
        next.etag = "f".into();
        assert_eq!(
            ix.commit_object(&next, None, &tag("e"), Keep::Nothing, vec![], vec![])
                .await
                .unwrap(),
            Commit::Done
        );
        // The ETag is now "f": a writer that read "e" loses.
        assert_eq!(
            ix.commit_object(&object("c"), None, &tag("e"), Keep::Nothing, vec![], vec![])
                .await
                .unwrap(),
            Commit::PreconditionFailed
        );
        assert_eq!(
            ix.commit_object(
                &object("c"),
                None,
                &Expect::ETag(vec!["x".into(), "f".into()]),
                Keep::Nothing,
                vec![],
                vec![]
            )
            .await
            .unwrap(),
            Commit::Done
        );
    }

    #[tokio::test]
    async fn memory_twin() {
        conditional_commits(Index::memory("t")).await;
        gc_steps(Index::memory("t")).await;
        commit_and_abandon(Index::memory("t")).await;
        swap_races(Index::memory("t")).await;
        buckets_and_uploads(Index::memory("t")).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn etcd() {
        let etcd = objectio_testkit::Etcd::start().await.unwrap();
        let ix = |c: &'static str| {
            let e = etcd.endpoint();
            async move { Index::etcd(Store::connect(&[e], c).await.unwrap()) }
        };
        commit_and_abandon(ix("t1").await).await;
        swap_races(ix("t2").await).await;
        buckets_and_uploads(ix("t3").await).await;
        gc_steps(ix("t4").await).await;
        conditional_commits(ix("t5").await).await;
    }
}
