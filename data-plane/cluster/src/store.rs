//! Typed access to etcd, the one source of truth.

use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, GetOptions, KvClient, PutOptions, Txn, TxnOp,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use crate::keys::prefix_end;
use crate::records::{ClusterConfig, SCHEMA_VERSION, Versioned};
use crate::{Error, Keys, Result};

/// A connection to etcd scoped to one cluster's keys. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    client: Client,
    keys: Keys,
    cluster: String,
}

/// Decodes a record value, refusing schema versions newer than this build.
pub fn decode<T: DeserializeOwned + Versioned>(key: &[u8], value: &[u8]) -> Result<T> {
    let rec: T = serde_json::from_slice(value).map_err(|source| Error::Decode {
        key: String::from_utf8_lossy(key).into_owned(),
        source,
    })?;
    if rec.schema_version() > SCHEMA_VERSION {
        return Err(Error::UnknownVersion {
            key: String::from_utf8_lossy(key).into_owned(),
            found: rec.schema_version(),
            supported: SCHEMA_VERSION,
        });
    }
    Ok(rec)
}

/// Encodes a record value.
pub fn encode<T: Serialize>(rec: &T) -> Vec<u8> {
    serde_json::to_vec(rec).expect("records serialise")
}

impl Store {
    /// Connects to etcd at `endpoints` for the cluster named `cluster`.
    pub async fn connect(endpoints: &[String], cluster: &str) -> Result<Self> {
        let opts = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(10))
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5));
        let client = Client::connect(endpoints, Some(opts)).await?;
        Ok(Self {
            client,
            keys: Keys::new(cluster),
            cluster: cluster.to_string(),
        })
    }

    /// The key layout of this cluster.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The cluster name.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// A KV client for transactions and raw range reads.
    pub fn kv(&self) -> KvClient {
        self.client.kv_client()
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Reads one record and its mod revision.
    pub async fn get<T: DeserializeOwned + Versioned>(
        &self,
        key: impl Into<Vec<u8>>,
    ) -> Result<Option<(T, i64)>> {
        let key = key.into();
        let resp = self.kv().get(key.clone(), None).await?;
        match resp.kvs().first() {
            Some(kv) => Ok(Some((decode(&key, kv.value())?, kv.mod_revision()))),
            None => Ok(None),
        }
    }

    /// Writes one record.
    pub async fn put<T: Serialize>(&self, key: impl Into<Vec<u8>>, rec: &T) -> Result<()> {
        self.kv().put(key, encode(rec), None).await?;
        Ok(())
    }

    /// Writes one record bound to a lease.
    pub async fn put_with_lease<T: Serialize>(
        &self,
        key: impl Into<Vec<u8>>,
        rec: &T,
        lease: i64,
    ) -> Result<()> {
        self.kv()
            .put(key, encode(rec), Some(PutOptions::new().with_lease(lease)))
            .await?;
        Ok(())
    }

    /// Creates a record only if its key does not exist; returns whether it
    /// was created.
    pub async fn create<T: Serialize>(&self, key: impl Into<Vec<u8>>, rec: &T) -> Result<bool> {
        let key = key.into();
        let txn = Txn::new()
            .when([Compare::version(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, encode(rec), None)]);
        Ok(self.kv().txn(txn).await?.succeeded())
    }

    /// Deletes a key; returns whether it existed.
    pub async fn delete(&self, key: impl Into<Vec<u8>>) -> Result<bool> {
        Ok(self.kv().delete(key, None).await?.deleted() > 0)
    }

    /// Reads every record under `prefix` (keys and values), in key order.
    pub async fn list<T: DeserializeOwned + Versioned>(
        &self,
        prefix: impl Into<Vec<u8>>,
    ) -> Result<Vec<(Vec<u8>, T)>> {
        let prefix = prefix.into();
        let mut out = Vec::new();
        let end = prefix_end(&prefix).unwrap_or_else(|| vec![0]);
        let mut start = prefix.clone();
        loop {
            let resp = self
                .kv()
                .get(
                    start.clone(),
                    Some(GetOptions::new().with_range(end.clone()).with_limit(1000)),
                )
                .await?;
            for kv in resp.kvs() {
                out.push((kv.key().to_vec(), decode(kv.key(), kv.value())?));
            }
            match resp.kvs().last() {
                Some(last) if resp.more() => {
                    start = last.key().to_vec();
                    start.push(0);
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// Counts the keys under `prefix`.
    pub async fn count(&self, prefix: impl Into<Vec<u8>>) -> Result<u64> {
        let resp = self
            .kv()
            .get(
                prefix,
                Some(GetOptions::new().with_prefix().with_count_only()),
            )
            .await?;
        Ok(resp.count().max(0) as u64)
    }

    /// The live members of a kind (`osds`, `gateways`, `metas`): the values
    /// of their lease-bound `alive/<kind>/<id>` keys, by id. Unreadable
    /// values are skipped (a member is alive by its key alone).
    pub async fn alive<T: DeserializeOwned>(
        &self,
        kind: &str,
    ) -> Result<std::collections::HashMap<String, Option<T>>> {
        let prefix = self.keys.alive_prefix(kind);
        let resp = self
            .kv()
            .get(prefix.clone(), Some(GetOptions::new().with_prefix()))
            .await?;
        Ok(resp
            .kvs()
            .iter()
            .filter_map(|kv| {
                let id = kv.key_str().ok()?.strip_prefix(&prefix)?.to_string();
                Some((id, serde_json::from_slice(kv.value()).ok()))
            })
            .collect())
    }

    /// Reads the cluster configuration.
    pub async fn config(&self) -> Result<ClusterConfig> {
        self.get(self.keys.config())
            .await?
            .map(|(c, _)| c)
            .ok_or_else(|| Error::NotInitialised(self.cluster.clone()))
    }

    /// Waits until the cluster configuration exists (written by
    /// `objectio-meta`), retrying connection errors, for at most `timeout`.
    pub async fn wait_config(&self, timeout: Duration) -> Result<ClusterConfig> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.config().await {
                Ok(c) => return Ok(c),
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                Err(e) => {
                    tracing::info!(error = %e, "waiting for the cluster config");
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        }
    }
}

/// An etcd lease kept alive by a background task until dropped or revoked.
pub struct Lease {
    id: i64,
    task: JoinHandle<()>,
}

impl Lease {
    /// Grants a lease of `ttl` seconds and keeps it alive every `ttl/3`.
    pub async fn grant(store: &Store, ttl: i64) -> Result<Self> {
        let mut lc = store.client.lease_client();
        let id = lc.grant(ttl, None).await?.id();
        let (mut keeper, mut stream) = lc.keep_alive(id).await?;
        let period = Duration::from_millis((ttl.max(1) as u64 * 1000) / 3);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                if let Err(e) = keeper.keep_alive().await {
                    tracing::warn!(lease = id, error = %e, "lease keep-alive failed");
                    continue;
                }
                match stream.message().await {
                    Ok(Some(r)) if r.ttl() > 0 => {}
                    Ok(_) => {
                        tracing::error!(lease = id, "lease expired; liveness lost");
                        return;
                    }
                    Err(e) => tracing::warn!(lease = id, error = %e, "lease keep-alive stream"),
                }
            }
        });
        Ok(Self { id, task })
    }

    /// The lease id, for `put_with_lease`.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Whether the keep-alive task stopped (the lease expired).
    pub fn is_lost(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.task.abort();
    }
}
