//! Metadata export and import (`meta export`, `meta import`).
//!
//! An export is every lasting record of the cluster (config, OSDs and
//! disks, users and access keys with their secrets still sealed, buckets
//! and their configurations, the object index, uploads, intents and GC
//! entries) read at one etcd revision, streamed a page at a time in the
//! format of [`objectio_api::export`]. The revision is held against
//! compaction while the export runs (a `holds/` key bound to a lease).
//!
//! An import reads the whole upload into a spool file first, checking its
//! shape, count and checksum, so a damaged file writes nothing; then it
//! refuses a cluster that already has users, buckets or objects (unless
//! forced) and writes the records in transactions of at most
//! [`BATCH_OPS`] keys.

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use etcd_client::{GetOptions, Txn, TxnOp};
use futures::{SinkExt, StreamExt};
use objectio_api::ImportOut;
use objectio_api::export::{
    ExportHeader, ExportReader, ExportWriter, FORMAT, FORMAT_VERSION, Lines,
};
use objectio_cluster::keys::prefix_end;
use objectio_cluster::{Keys, Lease, Store};
use tokio::io::{AsyncBufReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::v1::ApiError;

/// Keys read per etcd page.
const PAGE: i64 = 500;
/// Bytes gathered before a chunk of the export is sent.
const CHUNK: usize = 256 << 10;
/// Keys per import transaction (etcd allows 128 operations by default).
const BATCH_OPS: usize = 100;
/// Bytes per import transaction (etcd's request limit is 1.5 MiB).
const BATCH_BYTES: usize = 1 << 20;
/// The longest line an import accepts (one record).
const MAX_LINE: usize = 16 << 20;
/// Lease of a compaction hold: a meta that dies mid-export frees it soon.
const HOLD_TTL: i64 = 10;

/// Starts an export: its header, and the body that streams it.
pub async fn export(store: &Store) -> Result<(ExportHeader, Body), ApiError> {
    let config = store.config().await.map_err(|e| match e {
        objectio_cluster::Error::NotInitialised(_) => {
            ApiError::conflict("the cluster is not initialised: there is nothing to export")
        }
        e => e.into(),
    })?;
    let revision = store.revision().await?;
    // Held before the first page: the leader compacts only to the revision
    // it saw a period ago, so `revision` is still there.
    let lease = Lease::grant(store, HOLD_TTL).await?;
    let hold = store.keys().hold(&uuid::Uuid::new_v4());
    store.put_with_lease(hold, &revision, lease.id()).await?;
    let header = ExportHeader {
        format: FORMAT.into(),
        version: FORMAT_VERSION,
        cluster: store.cluster().to_string(),
        cluster_id: config.cluster_id.to_string(),
        revision,
        exported_at: objectio_api::rfc3339(objectio_cluster::now_secs()),
        software: env!("CARGO_PKG_VERSION").into(),
    };
    let (tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let store = store.clone();
    let h = header.clone();
    tokio::spawn(async move {
        let mut tx = tx;
        let t = Instant::now();
        let r = stream_records(&store, &h, &mut tx).await;
        match &r {
            Ok(n) => tracing::info!(
                records = n,
                revision = h.revision,
                ms = t.elapsed().as_millis() as u64,
                "metadata exported"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "metadata export stopped");
                // The body ends in an error: the client sees a broken
                // transfer, and the file lacks its checksum line.
                let _ = tx.send(Err(std::io::Error::other(e.clone()))).await;
            }
        }
        if let Err(e) = lease.revoke(&store).await {
            tracing::debug!(error = %e, "revoking the export's compaction hold");
        }
    });
    Ok((header, Body::from_stream(rx)))
}

type Sender = futures::channel::mpsc::Sender<Result<Bytes, std::io::Error>>;

/// Sends every exported record at the header's revision; their number.
async fn stream_records(store: &Store, h: &ExportHeader, tx: &mut Sender) -> Result<u64, String> {
    let root = store.keys().root().as_bytes().to_vec();
    let end = prefix_end(&root).expect("the root ends in /");
    let (mut w, first) = ExportWriter::start(h);
    let mut buf = first;
    let mut start = root.clone();
    loop {
        let resp = store
            .read(|mut kv| {
                let (start, end) = (start.clone(), end.clone());
                async move {
                    kv.get(
                        start,
                        Some(
                            GetOptions::new()
                                .with_range(end)
                                .with_limit(PAGE)
                                .with_revision(h.revision),
                        ),
                    )
                    .await
                }
            })
            .await
            .map_err(|e| format!("reading etcd at revision {}: {e}", h.revision))?;
        for kv in resp.kvs() {
            let rel = &kv.key()[root.len()..];
            if Keys::is_exported(rel) {
                buf.extend(w.record(rel, kv.value()));
            }
        }
        if buf.len() >= CHUNK {
            send(tx, &mut buf).await?;
        }
        match resp.kvs().last() {
            Some(last) if resp.more() => {
                start = last.key().to_vec();
                start.push(0);
            }
            _ => break,
        }
    }
    let n = w.count();
    buf.extend(w.finish());
    send(tx, &mut buf).await?;
    Ok(n)
}

async fn send(tx: &mut Sender, buf: &mut Vec<u8>) -> Result<(), String> {
    tx.send(Ok(Bytes::from(std::mem::take(buf))))
        .await
        .map_err(|_| "the client went away".to_string())
}

/// Restores an export streamed in `body`.
pub async fn import(store: &Store, force: bool, body: Body) -> Result<ImportOut, ApiError> {
    let t = Instant::now();
    let spool = tempfile::tempfile()
        .map_err(|e| ApiError::unavailable(&format!("creating a spool file: {e}")))?;
    let mut spool = tokio::fs::File::from_std(spool);
    let io = |e: std::io::Error| ApiError::unavailable(&format!("spooling the import: {e}"));

    // Pass 1: spool and check everything; nothing is written yet.
    let mut check = ExportReader::new();
    let mut lines = Lines::default();
    let mut bytes = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(&format!("reading the upload: {e}")))?;
        bytes += chunk.len() as u64;
        lines
            .feed(&chunk, |l| check.line(l).map(drop))
            .map_err(refused)?;
        if lines.pending() > MAX_LINE {
            return Err(ApiError::bad_request(&format!(
                "a line of the import is longer than {}: not an export",
                objectio_api::iec(MAX_LINE as u64)
            )));
        }
        spool.write_all(&chunk).await.map_err(io)?;
    }
    if let Some(l) = lines.rest() {
        check.line(&l).map_err(refused)?;
    }
    check.finish().map_err(refused)?;
    let header = check
        .header()
        .expect("a finished export has a header")
        .clone();
    if header.cluster != store.cluster() {
        return Err(ApiError::bad_request(&format!(
            "the export is of cluster {:?}, this is cluster {:?}: start the meta with --cluster {} to restore it",
            header.cluster,
            store.cluster(),
            header.cluster
        )));
    }
    let k = store.keys();
    let (users, buckets, objects) = (
        store.count(k.users_prefix()).await?,
        store.count(k.buckets_prefix()).await?,
        store.count(k.objects_root()).await?,
    );
    if users + buckets + objects > 0 && !force {
        return Err(ApiError::conflict(&format!(
            "the cluster is not empty ({users} users, {buckets} buckets, {objects} object records): \
             an import restores into an empty cluster; force overwrites the same keys and keeps the rest"
        )));
    }

    // Pass 2: write.
    spool.flush().await.map_err(io)?;
    spool.seek(std::io::SeekFrom::Start(0)).await.map_err(io)?;
    let mut read = tokio::io::BufReader::with_capacity(CHUNK, spool);
    let mut again = ExportReader::new();
    let mut out = ImportOut {
        cluster: header.cluster.clone(),
        cluster_id: header.cluster_id.clone(),
        exported_at: header.exported_at.clone(),
        records: 0,
        users: 0,
        access_keys: 0,
        buckets: 0,
        objects: 0,
        osds: 0,
        disks: 0,
        bytes,
        seconds: 0.0,
    };
    let mut batch = Batch::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await.map_err(io)? == 0 {
            break;
        }
        let Some(rec) = again.line(&line).map_err(refused)? else {
            continue;
        };
        count(&mut out, &rec.key);
        let mut key = k.root().as_bytes().to_vec();
        key.extend_from_slice(&rec.key);
        batch.map |= k.is_map_key(&key);
        batch.bytes += key.len() + rec.value.len();
        batch.ops.push(TxnOp::put(key, rec.value, None));
        if batch.ops.len() >= BATCH_OPS || batch.bytes >= BATCH_BYTES {
            batch.commit(store).await?;
        }
    }
    batch.commit(store).await?;
    again.finish().map_err(refused)?;
    out.seconds = t.elapsed().as_secs_f64();
    tracing::info!(
        records = out.records,
        objects = out.objects,
        exported_at = %out.exported_at,
        seconds = out.seconds,
        "metadata imported"
    );
    Ok(out)
}

fn refused(e: objectio_api::export::ExportError) -> ApiError {
    ApiError::bad_request(&format!(
        "the import is not a valid export, nothing was written: {e}"
    ))
}

fn count(out: &mut ImportOut, rel: &[u8]) {
    out.records += 1;
    let n = match rel {
        r if r.starts_with(b"users/") => &mut out.users,
        r if r.starts_with(b"keys/") => &mut out.access_keys,
        r if r.starts_with(b"buckets/") => &mut out.buckets,
        r if r.starts_with(b"objects/") => &mut out.objects,
        r if r.starts_with(b"osds/") => &mut out.osds,
        r if r.starts_with(b"disks/") => &mut out.disks,
        _ => return,
    };
    *n += 1;
}

/// Puts gathered for one transaction.
#[derive(Default)]
struct Batch {
    ops: Vec<TxnOp>,
    bytes: usize,
    /// Whether a put is part of the cluster map (the epoch advances).
    map: bool,
}

impl Batch {
    async fn commit(&mut self, store: &Store) -> Result<(), ApiError> {
        if self.ops.is_empty() {
            return Ok(());
        }
        let mut ops = std::mem::take(&mut self.ops);
        if std::mem::take(&mut self.map) {
            ops.push(store.map_changed());
        }
        self.bytes = 0;
        // A put of the same values is idempotent: a transaction cut off
        // by a member's death is sent again.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match store.kv().txn(Txn::new().and_then(ops.clone())).await {
                Ok(_) => return Ok(()),
                Err(e) if objectio_cluster::store::unreachable(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
