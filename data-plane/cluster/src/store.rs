//! Typed access to etcd, the one source of truth.

use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, GetOptions, KvClient, PutOptions, Txn, TxnOp,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use crate::keys::prefix_end;
use crate::records::{ClusterConfig, Versioned};
use crate::{Error, Keys, Result};

/// A connection to etcd scoped to one cluster's keys. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    client: Client,
    keys: Keys,
    cluster: String,
    /// The endpoints it was given.
    endpoints: std::sync::Arc<Vec<String>>,
    /// The members as last listed (listing needs a quorum).
    members_seen: std::sync::Arc<std::sync::Mutex<Vec<EtcdMember>>>,
    /// TLS and user of every connection to etcd.
    security: std::sync::Arc<EtcdSecurity>,
    /// Disk indexes of compact object records, shared by every clone.
    directory: crate::compact::DiskDirectory,
    /// The endpoint monitor, stopped when the last clone is dropped.
    _monitor: Option<std::sync::Arc<AbortOnDrop>>,
}

pub(crate) struct AbortOnDrop(pub(crate) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The records of the cluster map at one etcd revision.
#[derive(Clone, Debug)]
pub struct MapRecords {
    pub epoch: u64,
    pub revision: i64,
    pub config: ClusterConfig,
    pub osds: Vec<crate::OsdRecord>,
    pub disks: Vec<crate::DiskRecord>,
}

/// How often the endpoint monitor probes each etcd member.
const PROBE_EVERY: Duration = Duration::from_millis(500);

/// How this process proves itself to etcd and checks etcd's certificate:
/// TLS for `https://` endpoints (a private CA, a client certificate for
/// `--client-cert-auth`) and a user and password for an etcd with
/// `auth enable`. Every connection of a [`Store`] uses it: the balanced
/// client and the one-member clients of status, snapshots and
/// defragmentation.
#[derive(Clone, Default)]
pub struct EtcdSecurity {
    tls: Option<etcd_client::TlsOptions>,
    user: Option<(String, String)>,
}

impl std::fmt::Debug for EtcdSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdSecurity")
            .field("tls", &self.tls.is_some())
            .field("user", &self.user.as_ref().map(|(u, _)| u))
            .finish()
    }
}

impl EtcdSecurity {
    /// TLS with these settings (for `https://` endpoints).
    pub fn with_tls(mut self, tls: etcd_client::TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Authenticates as `user` with `password`; the token etcd hands out
    /// is fetched again whenever etcd answers that it expired.
    pub fn with_user(mut self, user: &str, password: &str) -> Self {
        self.user = Some((user.to_string(), password.to_string()));
        self
    }

    fn apply(&self, mut opts: ConnectOptions) -> ConnectOptions {
        if let Some(tls) = &self.tls {
            opts = opts.with_tls(tls.clone());
        }
        if let Some((user, password)) = &self.user {
            opts = opts
                .with_user(user.clone(), password.clone())
                .with_auto_token_refresh(true);
        }
        opts
    }
}

fn connect_options(security: &EtcdSecurity) -> ConnectOptions {
    security.apply(
        ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(10))
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5))
            // A member cut off from the quorum refuses instead of answering
            // from a stale view.
            .with_require_leader(true),
    )
}

/// A client of the one member at `endpoint` (no leader required), each
/// request failing after `timeout`.
async fn member_client(
    endpoint: &str,
    security: &EtcdSecurity,
    connect: Duration,
    timeout: Duration,
) -> Result<Client> {
    let opts = security.apply(
        ConnectOptions::new()
            .with_connect_timeout(connect)
            .with_timeout(timeout),
    );
    Ok(Client::connect([endpoint], Some(opts)).await?)
}

/// Whether the member at `endpoint` answers and knows a leader.
async fn probe(client: &mut Option<Client>, endpoint: &str, security: &EtcdSecurity) -> bool {
    if client.is_none() {
        *client = member_client(endpoint, security, PROBE_EVERY * 2, PROBE_EVERY * 2)
            .await
            .ok();
    }
    let Some(c) = client.as_mut() else {
        return false;
    };
    match c.status().await {
        Ok(s) => s.leader() != 0,
        Err(_) => {
            *client = None;
            false
        }
    }
}

/// Keeps the balanced client's endpoint set to the members that answer.
///
/// The etcd client spreads requests over every endpoint it was given and
/// does not fail over: with one member dead, requests routed to it fail.
/// This task probes each member and takes dead ones out of the set (and
/// puts them back when they answer again), so losing a member or the
/// leader costs one election, not a share of every request. With no
/// member answering, every endpoint stays in (requests then fail clearly
/// and recover by themselves).
async fn monitor_endpoints(client: Client, endpoints: Vec<String>, security: EtcdSecurity) {
    let mut probes: Vec<Option<Client>> = vec![None; endpoints.len()];
    let mut in_set = vec![true; endpoints.len()];
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        let mut up = Vec::with_capacity(endpoints.len());
        for (p, e) in probes.iter_mut().zip(&endpoints) {
            up.push(probe(p, e, &security).await);
        }
        let none_up = !up.iter().any(|u| *u);
        for (i, e) in endpoints.iter().enumerate() {
            let want = up[i] || none_up;
            if want == in_set[i] {
                continue;
            }
            let r = if want {
                client.add_endpoint(e).await
            } else {
                client.remove_endpoint(e).await
            };
            match r {
                Ok(()) => {
                    in_set[i] = want;
                    if want {
                        tracing::info!(endpoint = %e, "etcd member back in use");
                    } else {
                        tracing::warn!(endpoint = %e, "etcd member not answering; requests go to the others");
                    }
                }
                Err(err) => {
                    tracing::warn!(endpoint = %e, error = %err, "could not update etcd endpoints")
                }
            }
        }
    }
}

/// How long an idempotent read is sent again while etcd members are
/// unreachable: longer than the endpoint monitor needs to take a dead
/// member out of the set, shorter than any caller's patience.
const READ_RETRY_FOR: Duration = Duration::from_secs(3);

/// Whether an etcd error means the request reached no member able to
/// answer it (the one it was routed to is dead or has no leader), so the
/// same read may be sent again and land elsewhere.
pub fn unreachable(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::TransportError(_) => true,
        etcd_client::Error::GRpcStatus(s) => s.code() == tonic::Code::Unavailable,
        _ => false,
    }
}

/// Decodes a record value, refusing schema versions newer than this build.
/// A compact object record needs the disk directory: read it with
/// [`Store::decode`] (this fails on it with [`Error::UnknownDisk`]).
pub fn decode<T: DeserializeOwned + Versioned>(key: &[u8], value: &[u8]) -> Result<T> {
    T::from_value(key, value, &crate::compact::DiskDirectory::default(), false)
}

/// Decodes a JSON record value, refusing schema versions newer than this
/// build.
pub fn decode_json<T: DeserializeOwned + Versioned>(key: &[u8], value: &[u8]) -> Result<T> {
    let rec: T = serde_json::from_slice(value).map_err(|source| Error::Decode {
        key: String::from_utf8_lossy(key).into_owned(),
        source,
    })?;
    if rec.schema_version() > T::max_version() {
        return Err(Error::UnknownVersion {
            key: String::from_utf8_lossy(key).into_owned(),
            found: rec.schema_version(),
            supported: T::max_version(),
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
        Self::connect_with(endpoints, cluster, EtcdSecurity::default()).await
    }

    /// As [`Store::connect`], with TLS or a user ([`EtcdSecurity`]).
    pub async fn connect_with(
        endpoints: &[String],
        cluster: &str,
        security: EtcdSecurity,
    ) -> Result<Self> {
        let client = Client::connect(endpoints, Some(connect_options(&security))).await?;
        let monitor = (endpoints.len() > 1).then(|| {
            std::sync::Arc::new(AbortOnDrop(tokio::spawn(monitor_endpoints(
                client.clone(),
                endpoints.to_vec(),
                security.clone(),
            ))))
        });
        let keys = Keys::new(cluster);
        Ok(Self {
            client,
            directory: crate::compact::DiskDirectory::new(&keys),
            keys,
            cluster: cluster.to_string(),
            endpoints: std::sync::Arc::new(endpoints.to_vec()),
            members_seen: Default::default(),
            security: std::sync::Arc::new(security),
            _monitor: monitor,
        })
    }

    /// Runs the read `op` against a KV client, sending it again while the
    /// member it reached could not answer ([`unreachable`]), for at most
    /// [`READ_RETRY_FOR`]: one dead member costs a read a retry, not an
    /// error. Only for reads: a write that timed out may have happened.
    pub async fn read<T, F, Fut>(&self, mut op: F) -> Result<T>
    where
        F: FnMut(KvClient) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, etcd_client::Error>>,
    {
        let deadline = tokio::time::Instant::now() + READ_RETRY_FOR;
        let mut pause = Duration::from_millis(50);
        loop {
            match op(self.kv()).await {
                Ok(v) => return Ok(v),
                Err(e) if unreachable(&e) && tokio::time::Instant::now() + pause < deadline => {
                    tracing::debug!(error = %e, "etcd read unanswered; sending it again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The key layout of this cluster.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The cluster name.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// The store's current revision.
    pub async fn revision(&self) -> Result<i64> {
        let key = self.keys.config();
        let r = self
            .read(|mut kv| {
                let key = key.clone();
                async move { kv.get(key, Some(GetOptions::new().with_count_only())).await }
            })
            .await?;
        Ok(r.header().map(|h| h.revision()).unwrap_or(0))
    }

    /// Drops the history before `revision` (etcd keeps every revision until
    /// compacted; its database would otherwise grow until it refuses
    /// writes). Compacting to a revision already compacted is not an error.
    pub async fn compact(&self, revision: i64) -> Result<()> {
        match self.kv().compact(revision, None).await {
            Ok(_) => Ok(()),
            Err(etcd_client::Error::GRpcStatus(s))
                if s.message().contains("required revision has been compacted") =>
            {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The oldest revision a long read holds against compaction
    /// ([`Keys::holds_prefix`]), if any.
    pub async fn compaction_floor(&self) -> Result<Option<i64>> {
        let prefix = self.keys.holds_prefix();
        let resp = self
            .read(|mut kv| {
                let prefix = prefix.clone();
                async move { kv.get(prefix, Some(GetOptions::new().with_prefix())).await }
            })
            .await?;
        Ok(resp
            .kvs()
            .iter()
            .filter_map(|kv| serde_json::from_slice::<i64>(kv.value()).ok())
            .min())
    }

    /// A watch client (for [`crate::mirror::Mirror`]).
    pub(crate) fn watch_client(&self) -> etcd_client::WatchClient {
        self.client.watch_client()
    }

    /// A KV client for transactions and raw range reads.
    pub fn kv(&self) -> KvClient {
        self.client.kv_client()
    }

    /// Every etcd member: name, id and first client URL (a member not
    /// started yet has no name and no URL, and is left out).
    pub async fn etcd_members(&self) -> Result<Vec<EtcdMember>> {
        let r = self
            .read(|_| {
                let mut c = self.client.cluster_client();
                async move { c.member_list().await }
            })
            .await?;
        let members: Vec<EtcdMember> = r
            .members()
            .iter()
            .filter_map(|m| {
                Some(EtcdMember {
                    name: m.name().to_string(),
                    id: m.id(),
                    endpoint: m.client_urls().first()?.clone(),
                })
            })
            .collect();
        *self.members_seen.lock().expect("not poisoned") = members.clone();
        Ok(members)
    }

    /// The members as [`Store::etcd_members`] last listed them, for when
    /// etcd has no quorum to list them now; never listed, the endpoints
    /// this store was given (unnamed, id 0).
    pub fn members_last_seen(&self) -> Vec<EtcdMember> {
        let seen = self.members_seen.lock().expect("not poisoned").clone();
        if !seen.is_empty() {
            return seen;
        }
        self.endpoints
            .iter()
            .map(|e| EtcdMember {
                name: String::new(),
                id: 0,
                endpoint: e.clone(),
            })
            .collect()
    }

    /// The status one member reports of itself (asked of that member
    /// alone, so it answers even without a leader).
    pub async fn member_status(&self, endpoint: &str) -> Result<MemberStatus> {
        let mut c = self
            .member_client(endpoint, Duration::from_secs(10))
            .await?;
        let s = c.status().await?;
        Ok(MemberStatus {
            id: s.header().map(|h| h.member_id()).unwrap_or_default(),
            leader: s.leader(),
            db_size: s.db_size().max(0) as u64,
            db_size_in_use: s.raft_used_db_size().max(0) as u64,
            raft_term: s.raft_term(),
            raft_index: s.raft_index(),
            raft_applied_index: s.raft_applied_index(),
            version: s.version().to_string(),
        })
    }

    /// The alarms raised in the etcd cluster (`NOSPACE`, `CORRUPT`), by
    /// member id.
    pub async fn alarms(&self) -> Result<Vec<(u64, String)>> {
        let r = self
            .read(|_| {
                let mut c = self.client.maintenance_client();
                async move {
                    c.alarm(
                        etcd_client::AlarmAction::Get,
                        etcd_client::AlarmType::None,
                        None,
                    )
                    .await
                }
            })
            .await?;
        Ok(r.alarms()
            .iter()
            .map(|a| (a.member_id(), a.alarm().as_str_name().to_string()))
            .collect())
    }

    /// Streams a snapshot of the member at `endpoint`'s database (the
    /// maintenance snapshot API: a consistent copy, taken without stopping
    /// it) into `out`, checking the SHA-256 etcd appends to it; the bytes
    /// written (the checksum included, as `etcdctl snapshot restore`
    /// expects). One pass over the bytes with bounded memory.
    pub async fn snapshot_member(
        &self,
        endpoint: &str,
        out: &mut (impl tokio::io::AsyncWrite + Unpin),
    ) -> Result<u64> {
        use sha2::Digest;
        use tokio::io::AsyncWriteExt;
        let mut c = self
            .member_client(endpoint, Duration::from_secs(3600))
            .await?;
        let mut stream = c.snapshot().await?;
        let mut hash = sha2::Sha256::new();
        // The last 32 bytes seen are held back: they may be the checksum.
        let mut tail: Vec<u8> = Vec::with_capacity(64);
        let mut total = 0u64;
        while let Some(msg) = stream.message().await? {
            let blob = msg.blob();
            out.write_all(blob)
                .await
                .map_err(|e| Error::Snapshot(format!("writing: {e}")))?;
            total += blob.len() as u64;
            tail.extend_from_slice(blob);
            if tail.len() > 32 {
                let cut = tail.len() - 32;
                hash.update(&tail[..cut]);
                tail.drain(..cut);
            }
        }
        out.flush()
            .await
            .map_err(|e| Error::Snapshot(format!("writing: {e}")))?;
        if tail.len() < 32 || hash.finalize().as_slice() != tail.as_slice() {
            return Err(Error::Snapshot(format!(
                "the snapshot from {endpoint} ({total} bytes) does not end with its SHA-256: truncated or corrupt"
            )));
        }
        Ok(total)
    }

    /// Defragments one member's database: it answers nothing else while
    /// it runs (seconds per GB), so members are done one at a time.
    pub async fn defragment_member(&self, endpoint: &str) -> Result<()> {
        let mut c = self
            .member_client(endpoint, Duration::from_secs(600))
            .await?;
        c.defragment().await?;
        Ok(())
    }

    /// A client of the one member at `endpoint`, with this store's TLS
    /// and user, each request failing after `timeout`.
    async fn member_client(&self, endpoint: &str, timeout: Duration) -> Result<Client> {
        member_client(endpoint, &self.security, Duration::from_secs(5), timeout).await
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The disk directory compact object records are read and written
    /// with.
    pub fn directory(&self) -> &crate::compact::DiskDirectory {
        &self.directory
    }

    /// The etcd value of a record. An object record is compact when the
    /// cluster's records are and every disk it names has an index known
    /// here; anything else is JSON.
    pub fn encode<T: Serialize + Versioned>(&self, rec: &T) -> Vec<u8> {
        rec.to_etcd(&self.directory)
    }

    /// Decodes a record read under `key`, last modified at
    /// `mod_revision`. A compact object record naming a disk index not
    /// known here (a disk registered a moment ago) makes it read the disks
    /// again, unless they were read at or after `mod_revision`: every disk
    /// the record names had its record before it, so an index still
    /// unknown then is a disk whose record went with its removed OSD, and
    /// that shard is not there (one read of the disks, not one per record,
    /// for all the records that still name it).
    pub async fn decode<T: DeserializeOwned + Versioned>(
        &self,
        key: &[u8],
        value: &[u8],
        mod_revision: i64,
    ) -> Result<T> {
        match T::from_value(key, value, &self.directory, false) {
            Err(Error::UnknownDisk { .. }) => {
                if self.directory.read_at() < mod_revision {
                    self.refresh_directory().await?;
                }
                T::from_value(key, value, &self.directory, true)
            }
            r => r,
        }
    }

    /// Gives out a disk index no disk has had ([`crate::DiskRecord::index`]):
    /// the counter's value, advanced by compare-and-swap.
    pub async fn allocate_disk_index(&self) -> Result<u32> {
        let next = self
            .update::<crate::DiskIndexNext, Error>(self.keys.disk_index_next(), |prev| {
                Ok(Some(crate::DiskIndexNext {
                    version: crate::SCHEMA_VERSION,
                    next: prev.map_or(1, |p| p.next) + 1,
                }))
            })
            .await?
            .expect("the counter is always written");
        Ok(next.next - 1)
    }

    /// Reads every disk record and learns their indexes.
    pub async fn refresh_directory(&self) -> Result<()> {
        let prefix = self.keys.disks_prefix();
        let resp = self
            .read(|mut kv| {
                let prefix = prefix.clone();
                async move { kv.get(prefix, Some(GetOptions::new().with_prefix())).await }
            })
            .await?;
        let disks = resp
            .kvs()
            .iter()
            .map(|kv| decode::<crate::DiskRecord>(kv.key(), kv.value()))
            .collect::<Result<Vec<_>>>()?;
        self.directory.learn(&disks);
        self.directory
            .set_read_at(resp.header().map(|h| h.revision()).unwrap_or(0));
        Ok(())
    }

    /// Reads one record and its mod revision.
    pub async fn get<T: DeserializeOwned + Versioned>(
        &self,
        key: impl Into<Vec<u8>>,
    ) -> Result<Option<(T, i64)>> {
        let key = key.into();
        let resp = self
            .read(|mut kv| {
                let key = key.clone();
                async move { kv.get(key, None).await }
            })
            .await?;
        match resp.kvs().first() {
            Some(kv) => Ok(Some((
                self.decode(&key, kv.value(), kv.mod_revision()).await?,
                kv.mod_revision(),
            ))),
            None => Ok(None),
        }
    }

    /// Writes one record.
    pub async fn put<T: Serialize>(&self, key: impl Into<Vec<u8>>, rec: &T) -> Result<()> {
        let key = key.into();
        if self.keys.is_map_key(&key) {
            let txn = Txn::new().and_then([TxnOp::put(key, encode(rec), None), self.map_changed()]);
            self.kv().txn(txn).await?;
        } else {
            self.kv().put(key, encode(rec), None).await?;
        }
        Ok(())
    }

    /// The operation that advances the map epoch, for a transaction that
    /// changes the cluster map ([`Keys::is_map_key`]); `put`, `create`,
    /// `update` and `delete` add it themselves.
    pub fn map_changed(&self) -> TxnOp {
        TxnOp::put(self.keys.map_epoch(), Vec::new(), None)
    }

    /// The cluster map as one consistent read (a single transaction): the
    /// epoch, the config, and every OSD and disk record.
    pub async fn map_records(&self) -> Result<MapRecords> {
        let all = || Some(GetOptions::new().with_prefix());
        let txn = Txn::new().and_then([
            TxnOp::get(self.keys.map_epoch(), None),
            TxnOp::get(self.keys.config(), None),
            TxnOp::get(self.keys.osds_prefix(), all()),
            TxnOp::get(self.keys.disks_prefix(), all()),
        ]);
        let resp = self
            .read(|mut kv| {
                let txn = txn.clone();
                async move { kv.txn(txn).await }
            })
            .await?;
        let revision = resp.header().map_or(0, |h| h.revision());
        let mut gets = resp.op_responses().into_iter().map(|r| match r {
            etcd_client::TxnOpResponse::Get(g) => g,
            _ => unreachable!("a transaction of gets answers gets"),
        });
        let mut next = || gets.next().expect("four answers");
        let epoch = next()
            .kvs()
            .first()
            .map_or(0, |kv| kv.version().max(0) as u64);
        let config = match next().kvs().first() {
            Some(kv) => decode(kv.key(), kv.value())?,
            None => return Err(Error::NotInitialised(self.cluster.clone())),
        };
        let mut osds = Vec::new();
        for kv in next().kvs() {
            osds.push(decode(kv.key(), kv.value())?);
        }
        let mut disks = Vec::new();
        for kv in next().kvs() {
            disks.push(decode(kv.key(), kv.value())?);
        }
        Ok(MapRecords {
            epoch,
            revision,
            config,
            osds,
            disks,
        })
    }

    /// The map epoch: how many changes the cluster map has had (0 before
    /// the first).
    pub async fn map_epoch(&self) -> Result<u64> {
        let key = self.keys.map_epoch();
        let resp = self
            .read(|mut kv| {
                let key = key.clone();
                async move { kv.get(key, None).await }
            })
            .await?;
        Ok(resp
            .kvs()
            .first()
            .map_or(0, |kv| kv.version().max(0) as u64))
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
    pub async fn create<T: Serialize + Versioned>(
        &self,
        key: impl Into<Vec<u8>>,
        rec: &T,
    ) -> Result<bool> {
        let key = key.into();
        let txn = Txn::new()
            .when([Compare::version(key.clone(), CompareOp::Equal, 0)])
            .and_then(self.with_epoch(&key, TxnOp::put(key.clone(), self.encode(rec), None), true));
        Ok(self.kv().txn(txn).await?.succeeded())
    }

    /// Changes one record by compare-and-swap until it sticks: `change`
    /// gets the record (`None` when absent) and returns the new one, or
    /// `None` to leave it as it is; the record written, if any.
    pub async fn update<T, E>(
        &self,
        key: impl Into<Vec<u8>>,
        mut change: impl FnMut(Option<T>) -> std::result::Result<Option<T>, E>,
    ) -> std::result::Result<Option<T>, E>
    where
        T: DeserializeOwned + Serialize + Versioned,
        E: From<crate::Error>,
    {
        let key = key.into();
        loop {
            let prev = self.get::<T>(key.clone()).await?;
            let rev = prev.as_ref().map(|(_, r)| *r).unwrap_or(0);
            let prev_view = prev.as_ref().and_then(|(p, _)| p.map_view());
            let Some(rec) = change(prev.map(|(r, _)| r))? else {
                return Ok(None);
            };
            let cmp = if rev == 0 {
                Compare::version(key.clone(), CompareOp::Equal, 0)
            } else {
                Compare::mod_revision(key.clone(), CompareOp::Equal, rev)
            };
            let changed = prev_view != rec.map_view();
            let txn = Txn::new().when([cmp]).and_then(self.with_epoch(
                &key,
                TxnOp::put(key.clone(), self.encode(&rec), None),
                changed,
            ));
            if self
                .kv()
                .txn(txn)
                .await
                .map_err(crate::Error::from)?
                .succeeded()
            {
                return Ok(Some(rec));
            }
        }
    }

    /// Deletes a key; returns whether it existed.
    pub async fn delete(&self, key: impl Into<Vec<u8>>) -> Result<bool> {
        let key = key.into();
        if !self.keys.is_map_key(&key) {
            return Ok(self.kv().delete(key, None).await?.deleted() > 0);
        }
        // Advances the epoch only when the record was there.
        let txn = Txn::new()
            .when([Compare::version(key.clone(), CompareOp::Greater, 0)])
            .and_then([TxnOp::delete(key, None), self.map_changed()]);
        Ok(self.kv().txn(txn).await?.succeeded())
    }

    /// `op` on `key`, with the map epoch advanced when `key` is part of
    /// the map and `changed`.
    fn with_epoch(&self, key: &[u8], op: TxnOp, changed: bool) -> Vec<TxnOp> {
        match changed && self.keys.is_map_key(key) {
            true => vec![op, self.map_changed()],
            false => vec![op],
        }
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
                .read(|mut kv| {
                    let (start, end) = (start.clone(), end.clone());
                    async move {
                        kv.get(
                            start,
                            Some(GetOptions::new().with_range(end).with_limit(1000)),
                        )
                        .await
                    }
                })
                .await?;
            for kv in resp.kvs() {
                out.push((
                    kv.key().to_vec(),
                    self.decode(kv.key(), kv.value(), kv.mod_revision()).await?,
                ));
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
        let prefix = prefix.into();
        let resp = self
            .read(|mut kv| {
                let prefix = prefix.clone();
                async move {
                    kv.get(
                        prefix,
                        Some(GetOptions::new().with_prefix().with_count_only()),
                    )
                    .await
                }
            })
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
            .read(|mut kv| {
                let prefix = prefix.clone();
                async move { kv.get(prefix, Some(GetOptions::new().with_prefix())).await }
            })
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

    /// Records that a gateway or meta (`kind`: `gateways`, `metas`) has
    /// joined, or started again (its first join time is kept).
    pub async fn join(&self, kind: &str, id: &str, address: &str) -> Result<()> {
        let key = self.keys.member(kind, id);
        let now = crate::now_secs();
        let joined = self
            .get::<crate::MemberRecord>(key.clone())
            .await?
            .map_or(now, |(m, _)| m.joined);
        let rec = crate::MemberRecord {
            version: crate::SCHEMA_VERSION,
            id: id.to_string(),
            address: address.to_string(),
            software: env!("CARGO_PKG_VERSION").to_string(),
            joined,
            started: now,
        };
        self.put(key, &rec).await
    }

    /// The ids of the gateways or metas that have joined.
    pub async fn members(&self, kind: &str) -> Result<Vec<String>> {
        let prefix = self.keys.members_prefix(kind);
        Ok(self
            .list::<crate::MemberRecord>(prefix)
            .await?
            .into_iter()
            .map(|(_, m)| m.id)
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

/// An etcd member of the cluster.
#[derive(Clone, Debug)]
pub struct EtcdMember {
    pub name: String,
    pub id: u64,
    pub endpoint: String,
}

/// What an etcd member says of itself.
#[derive(Clone, Debug)]
pub struct MemberStatus {
    pub id: u64,
    /// The id of the member it follows (its own when it leads).
    pub leader: u64,
    /// Bytes of its database file.
    pub db_size: u64,
    /// Bytes of it in use; the rest is free pages a defragmentation
    /// gives back.
    pub db_size_in_use: u64,
    pub raft_term: u64,
    pub raft_index: u64,
    pub raft_applied_index: u64,
    pub version: String,
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
        let mut ka = Some(lc.keep_alive(id).await?);
        let period = Duration::from_millis((ttl.max(1) as u64 * 1000) / 3);
        // A broken keep-alive stream (its member died, the leader changed)
        // is opened again on the next tick, through whichever member
        // answers; only an answer saying the lease is gone ends the task.
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                if ka.is_none() {
                    match lc.keep_alive(id).await {
                        Ok(pair) => ka = Some(pair),
                        // The first answer of a new stream says the lease
                        // is gone (it expired while etcd was slow to
                        // answer): lost, so the owner grants another.
                        Err(etcd_client::Error::LeaseKeepAliveError(e))
                            if e == "lease not found" =>
                        {
                            tracing::error!(lease = id, "lease expired; liveness lost");
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(lease = id, error = %e, "lease keep-alive failed");
                            continue;
                        }
                    }
                }
                let (keeper, stream) = ka.as_mut().expect("stream open");
                if let Err(e) = keeper.keep_alive().await {
                    tracing::warn!(lease = id, error = %e, "lease keep-alive failed");
                    ka = None;
                    continue;
                }
                match tokio::time::timeout(period, stream.message()).await {
                    Ok(Ok(Some(r))) if r.ttl() > 0 => {}
                    Ok(Ok(Some(_))) => {
                        tracing::error!(lease = id, "lease expired; liveness lost");
                        return;
                    }
                    Ok(Ok(None)) => ka = None,
                    Ok(Err(e)) => {
                        tracing::warn!(lease = id, error = %e, "lease keep-alive stream");
                        ka = None;
                    }
                    Err(_) => {
                        tracing::warn!(lease = id, "lease keep-alive unanswered");
                        ka = None;
                    }
                }
            }
        });
        Ok(Self { id, task })
    }

    /// The lease id, for `put_with_lease`.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Stops keeping the lease alive and revokes it: every key bound to it
    /// (liveness, an election candidacy) goes at once.
    pub async fn revoke(self, store: &Store) -> Result<()> {
        self.task.abort();
        store.client.lease_client().revoke(self.id).await?;
        Ok(())
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
