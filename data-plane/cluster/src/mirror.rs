//! A live in-memory copy of one etcd key prefix: listed once, then kept
//! current by a watch from the listed revision.
//!
//! A reader asks [`Mirror::get`] and gets `None` whenever the copy cannot be
//! trusted (not listed yet, watch broken, or etcd silent for longer than
//! [`STALE_AFTER`]); the caller then reads etcd itself. The watch is
//! checked with progress requests every [`PROGRESS_EVERY`], so a stream that
//! dies quietly (its member cut off) is noticed and the copy re-listed
//! through a member that answers.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use etcd_client::{EventType, GetOptions, WatchOptions};

use crate::store::AbortOnDrop;
use crate::{Result, Store};

/// How often the watch is asked to prove it is alive.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(1000);
/// Silence after which the copy is no longer trusted.
pub const STALE_AFTER: Duration = Duration::from_millis(3000);

#[derive(Default)]
struct State {
    synced: bool,
    /// The etcd revision the copy is current to.
    revision: i64,
    entries: HashMap<Vec<u8>, Vec<u8>>,
}

/// A live copy of the keys under one prefix. Cheap to clone.
#[derive(Clone)]
pub struct Mirror {
    state: Arc<RwLock<State>>,
    changes: tokio::sync::watch::Receiver<u64>,
    _task: Arc<AbortOnDrop>,
}

impl Mirror {
    /// Starts mirroring every key under `prefix` (in the background).
    pub fn start(store: &Store, prefix: String) -> Self {
        let state = Arc::new(RwLock::new(State::default()));
        let (tx, changes) = tokio::sync::watch::channel(0);
        let task = tokio::spawn(run(store.clone(), prefix, state.clone(), tx));
        Self {
            state,
            changes,
            _task: Arc::new(AbortOnDrop(task)),
        }
    }

    /// Every key and value under the prefix, or `None` when the copy cannot
    /// be trusted right now.
    pub fn snapshot(&self) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
        let s = self.state.read().expect("mirror lock");
        s.synced.then(|| {
            s.entries
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
    }

    /// A receiver that sees a new value after every change to the copy
    /// (entries applied, re-listed, or trust lost).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.clone()
    }

    /// The value of `key`: `Some(Some(v))` present, `Some(None)` absent,
    /// `None` when the copy cannot be trusted right now.
    pub fn get(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        let s = self.state.read().expect("mirror lock");
        s.synced.then(|| s.entries.get(key).cloned())
    }

    /// The etcd revision the copy is current to (every change at or below
    /// it is applied), or `None` when the copy cannot be trusted right now.
    pub fn revision(&self) -> Option<i64> {
        let s = self.state.read().expect("mirror lock");
        s.synced.then_some(s.revision)
    }

    /// Waits until the copy is current to `revision` (a change just made
    /// is in it), or is not trusted (readers then go to etcd), or `timeout`
    /// passes; whether it caught up or stopped being trusted in time.
    pub async fn wait_revision(&self, revision: i64, timeout: Duration) -> bool {
        let mut changes = self.changes.clone();
        let caught_up = |m: &Self| m.revision().is_none_or(|r| r >= revision);
        tokio::time::timeout(timeout, async {
            while !caught_up(self) {
                if changes.changed().await.is_err() {
                    return;
                }
            }
        })
        .await
        .is_ok()
    }

    /// Whether the copy is current.
    pub fn is_synced(&self) -> bool {
        self.state.read().expect("mirror lock").synced
    }
}

async fn run(
    store: Store,
    prefix: String,
    state: Arc<RwLock<State>>,
    tx: tokio::sync::watch::Sender<u64>,
) {
    loop {
        if let Err(e) = follow(&store, &prefix, &state, &tx).await {
            tracing::debug!(prefix = %prefix, error = %e, "mirror re-listing");
        }
        state.write().expect("mirror lock").synced = false;
        tx.send_modify(|v| *v += 1);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Lists the prefix, then applies watch events until the watch breaks.
async fn follow(
    store: &Store,
    prefix: &str,
    state: &RwLock<State>,
    tx: &tokio::sync::watch::Sender<u64>,
) -> Result<()> {
    let resp = store
        .kv()
        .get(prefix, Some(GetOptions::new().with_prefix()))
        .await?;
    let rev = resp.header().map(|h| h.revision()).unwrap_or(0);
    let entries: HashMap<Vec<u8>, Vec<u8>> = resp
        .kvs()
        .iter()
        .map(|kv| (kv.key().to_vec(), kv.value().to_vec()))
        .collect();
    let mut ws = store
        .watch_client()
        .watch(
            prefix,
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(rev + 1),
            ),
        )
        .await?;
    {
        let mut s = state.write().expect("mirror lock");
        s.entries = entries;
        s.revision = rev;
        s.synced = true;
    }
    tx.send_modify(|v| *v += 1);
    let mut heard = Instant::now();
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    loop {
        tokio::select! {
            m = ws.message() => {
                let Some(m) = m? else {
                    return Err(stream_error("watch stream ended"));
                };
                heard = Instant::now();
                if m.canceled() || m.compact_revision() > 0 {
                    return Err(stream_error("watch canceled"));
                }
                let at = m.header().map(|h| h.revision()).unwrap_or(0);
                if m.events().is_empty() {
                    // A progress notification: everything up to `at` is
                    // here (no change to announce).
                    let mut s = state.write().expect("mirror lock");
                    s.revision = s.revision.max(at);
                    continue;
                }
                let mut s = state.write().expect("mirror lock");
                s.revision = s.revision.max(at);
                for ev in m.events() {
                    let Some(kv) = ev.kv() else { continue };
                    match ev.event_type() {
                        EventType::Put => {
                            s.entries.insert(kv.key().to_vec(), kv.value().to_vec());
                        }
                        EventType::Delete => {
                            s.entries.remove(kv.key());
                        }
                    }
                }
                drop(s);
                tx.send_modify(|v| *v += 1);
            }
            _ = tick.tick() => {
                if heard.elapsed() > STALE_AFTER {
                    return Err(stream_error("watch silent"));
                }
                ws.request_progress().await?;
            }
        }
    }
}

fn stream_error(what: &str) -> crate::Error {
    crate::Error::Etcd(etcd_client::Error::WatchError(what.to_string()))
}
