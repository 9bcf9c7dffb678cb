//! `objectio-meta`: the stateless control plane.
//!
//! Owns the admin API (`/api/v1`, described with utoipa; the spec is
//! committed as `openapi/objectio-admin-v1.json`), cluster initialisation
//! (the config record in etcd), and leader election among meta replicas.
//! Every piece of state lives in etcd; any number of replicas may run.

pub mod auth;
pub mod compact;
pub mod controllers;
pub mod export;
pub mod rebuild;
pub mod snapshot;
pub mod spec;
pub mod topology;
pub mod v1;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use auth::SecurityAddon;
use axum::Router;
use axum::serve::ListenerExt;
use clap::Parser;
use objectio_cluster::{ClusterConfig, EcProfile, Lease, SCHEMA_VERSION, Store, now_secs};
use spec::Rules as SpecRules;
use utoipa::OpenApi;

/// Configuration of a meta replica (flags, or `OBJECTIO_*` environment variables).
#[derive(Parser, Debug, Clone, PartialEq)]
#[command(
    name = "objectio-meta",
    version,
    about = "ObjectIO control plane and admin API"
)]
pub struct Config {
    /// Replica id (e.g. meta1).
    #[arg(long, env = "OBJECTIO_META_ID", default_value = "meta1")]
    pub id: String,
    /// Address the admin API listens on.
    #[arg(long, env = "OBJECTIO_META_LISTEN", default_value = "0.0.0.0:9100")]
    pub listen: String,
    #[command(flatten)]
    pub file: objectio_cluster::args::ConfigFile,
    #[command(flatten)]
    pub cluster: objectio_cluster::args::ClusterArgs,
    #[command(flatten)]
    pub tls: objectio_cluster::tls::TlsArgs,
    /// Admin bearer tokens (comma separated).
    #[arg(
        long,
        env = "OBJECTIO_ADMIN_TOKEN",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub admin_token: Vec<String>,
    /// File holding the admin token (mode 600).
    #[arg(long, env = "OBJECTIO_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Data shards of the EC profile written when the cluster is initialised.
    #[arg(long, env = "OBJECTIO_EC_K", default_value_t = 4)]
    pub ec_k: u8,
    /// Parity shards of the EC profile written when the cluster is initialised.
    #[arg(long, env = "OBJECTIO_EC_M", default_value_t = 2)]
    pub ec_m: u8,
    /// Chunk size of the EC profile written when the cluster is initialised.
    #[arg(long, env = "OBJECTIO_EC_CHUNK", default_value = "1MiB", value_parser = objectio_cluster::util::parse_size)]
    pub ec_chunk: u64,
    /// Objects of at most this size are written as m+1 whole copies
    /// rather than k+m shards, when the cluster is initialised (0: never).
    #[arg(long, env = "OBJECTIO_REPLICATE_MAX", default_value = "4KiB", value_parser = objectio_cluster::util::parse_size)]
    pub replicate_max: u64,
    #[command(flatten)]
    pub secret: objectio_cluster::args::SecretArgs,
    /// How often the GC controller runs, in milliseconds.
    #[arg(long, env = "OBJECTIO_GC_INTERVAL_MS", default_value_t = 5000)]
    pub gc_interval_ms: u64,
    /// How long the shards of an overwritten or deleted object version are
    /// kept before GC deletes them, in seconds (a GET that began before
    /// may still be streaming them). Abandoned writes go at once.
    #[arg(long, env = "OBJECTIO_GC_GRACE_SECS", default_value_t = 3600)]
    pub gc_grace_secs: u64,
    /// How often the leader compacts etcd's history, in seconds (it keeps
    /// one period of history for watchers to resume from).
    #[arg(long, env = "OBJECTIO_COMPACT_INTERVAL_SECS", default_value_t = 300)]
    pub compact_interval_secs: u64,
    /// How often the leader looks for etcd members to defragment, in
    /// seconds (one member at a time, the etcd leader last).
    #[arg(long, env = "OBJECTIO_DEFRAG_INTERVAL_SECS", default_value_t = 3600)]
    pub defrag_interval_secs: u64,
    /// Free bytes in a member's database (left by compaction) that make it
    /// worth defragmenting.
    #[arg(long, env = "OBJECTIO_DEFRAG_MIN_RECLAIM", default_value = "256MiB", value_parser = objectio_cluster::util::parse_size)]
    pub defrag_min_reclaim: u64,
    /// Directory the leader saves etcd snapshots into (and `meta snapshot`
    /// on this replica); none: no periodic snapshots.
    #[arg(long, env = "OBJECTIO_SNAPSHOT_DIR")]
    pub snapshot_dir: Option<std::path::PathBuf>,
    /// How often the leader saves an etcd snapshot into --snapshot-dir.
    #[arg(long, env = "OBJECTIO_SNAPSHOT_INTERVAL", default_value = "6h", value_parser = objectio_api::parse_duration)]
    pub snapshot_interval: Duration,
    /// How many snapshots --snapshot-dir keeps (the oldest go first).
    #[arg(long, env = "OBJECTIO_SNAPSHOT_RETAIN", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub snapshot_retain: u32,
    /// How often the leader walks the buckets with lifecycle rules, in
    /// seconds.
    #[arg(long, env = "OBJECTIO_LIFECYCLE_INTERVAL_SECS", default_value_t = 3600)]
    pub lifecycle_interval_secs: u64,
    /// The length of a lifecycle "day" (rules count days), in seconds; only
    /// tests change it.
    #[arg(long, env = "OBJECTIO_LIFECYCLE_DAY_SECS", default_value_t = 86400)]
    pub lifecycle_day_secs: u64,
    /// How long an OSD may be down before its disks are marked out and
    /// repair rebuilds their shards elsewhere, in seconds.
    #[arg(long, env = "OBJECTIO_DOWN_OUT_INTERVAL_SECS", default_value_t = 600)]
    pub down_out_interval_secs: u64,
    /// TTL of this replica's etcd lease, in seconds: a replica that dies
    /// without stopping (power, SIGKILL) stops leading after it and
    /// another takes the controllers over (a stopped one hands over at
    /// once).
    #[arg(long, env = "OBJECTIO_META_LEASE_TTL", default_value_t = 10, value_parser = clap::value_parser!(i64).range(1..=300))]
    pub lease_ttl: i64,
    /// How soon a repair pass that had to skip objects is tried again, in
    /// milliseconds (passes otherwise start when the map changes or an
    /// operator asks).
    #[arg(long, env = "OBJECTIO_REPAIR_INTERVAL_MS", default_value_t = 10000)]
    pub repair_interval_ms: u64,
    /// A whole repair pass over the object index at least this often, with
    /// nothing asking for one, in seconds (the safety net, and a fresh
    /// count of degraded objects).
    #[arg(long, env = "OBJECTIO_REPAIR_SWEEP_SECS", default_value_t = 86400)]
    pub repair_sweep_secs: u64,
    /// Rebuilt data repair writes per second at most, in MiB (0: no limit).
    #[arg(long, env = "OBJECTIO_REPAIR_MAX_MIBS", default_value_t = 100)]
    pub repair_max_mibs: u64,
    /// Objects the repair controller rebuilds at once.
    #[arg(long, env = "OBJECTIO_REPAIR_OBJECTS_IN_FLIGHT", default_value_t = 1)]
    pub repair_objects_in_flight: usize,
    /// Print the OpenAPI spec and exit.
    #[arg(long)]
    pub print_openapi: bool,
    /// Check the configuration and exit.
    #[arg(long)]
    pub check_config: bool,
}

impl Config {
    /// Validates the configuration; returns the admin tokens and the
    /// cluster secret (GC needs it to reach OSDs, and access-key secrets
    /// are sealed with a key derived from it).
    pub fn check(&self) -> anyhow::Result<(Vec<String>, Vec<u8>)> {
        let secret = self.secret.load().map_err(|e| {
            anyhow::anyhow!(
                "{e}: the meta needs the cluster secret (OBJECTIO_CLUSTER_SECRET or --cluster-secret-file) to reclaim space and to seal access keys"
            )
        })?;
        let mut tokens: Vec<String> = self
            .admin_token
            .iter()
            .filter(|t| !t.is_empty())
            .cloned()
            .collect();
        if let Some(f) = &self.admin_token_file {
            tokens.push(
                objectio_cluster::util::load_secret(None, Some(f), "admin token")
                    .map_err(anyhow::Error::msg)?,
            );
        }
        self.tls.acceptor().map_err(anyhow::Error::msg)?;
        self.cluster.security().map_err(anyhow::Error::msg)?;
        if tokens.is_empty() {
            anyhow::bail!("no admin token: set OBJECTIO_ADMIN_TOKEN or --admin-token-file");
        }
        if tokens.iter().any(|t| t.len() < 16) {
            anyhow::bail!("admin tokens must be at least 16 characters");
        }
        if self.ec_k == 0 || self.ec_m == 0 || self.ec_k as usize + self.ec_m as usize > 32 {
            anyhow::bail!("EC profile {}+{} is not supported", self.ec_k, self.ec_m);
        }
        if self.ec_chunk == 0 || !self.ec_chunk.is_multiple_of(4096) || self.ec_chunk > 16 << 20 {
            anyhow::bail!("--ec-chunk must be a multiple of 4 KiB, at most 16 MiB");
        }
        Ok((tokens, secret))
    }
}

/// Handles shared by every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub tokens: Arc<Vec<String>>,
    /// Seals access-key secrets.
    pub secrets: objectio_cluster::secrets::SecretBox,
    /// The object layer (object health reads shards with it).
    pub objects: objectio_object::Objects,
    /// Where `meta snapshot` saves etcd snapshots (none: refused).
    pub snapshots: Option<snapshot::Snapshots>,
}

/// The OpenAPI description of the admin API.
#[derive(OpenApi)]
#[openapi(
    info(title = "ObjectIO admin API", version = "1", description = "Cluster administration for ObjectIO. Every route but /health requires a bearer token."),
    paths(
        v1::health,
        v1::cluster::status,
        v1::cluster::forget,
        v1::cluster::map,
        v1::osds::list,
        v1::buckets::list,
        v1::buckets::create,
        v1::buckets::info,
        v1::buckets::delete,
        v1::users::create,
        v1::users::list,
        v1::users::info,
        v1::users::delete,
        v1::keys::create,
        v1::keys::list,
        v1::keys::delete,
        v1::osds::mark_out,
        v1::osds::mark_in,
        v1::osds::scrub,
        v1::osds::ok_to_stop,
        v1::osds::add,
        v1::osds::reweight,
        v1::osds::drain,
        v1::osds::undrain,
        v1::osds::drain_status,
        v1::osds::remove,
        v1::cluster::rebalance_status,
        v1::cluster::rebalance_start,
        v1::cluster::rebalance_stop,
        v1::repair::status,
        v1::repair::start,
        v1::repair::stop,
        v1::objects::health,
        v1::objects::repair,
        v1::meta::rebuild,
        v1::meta::status,
        v1::meta::snapshot,
        v1::meta::export,
        v1::meta::import,
        v1::tokens::create,
        v1::tokens::list,
        v1::tokens::revoke,
    ),
    modifiers(&SecurityAddon, &SpecRules),
    tags((name = "cluster"), (name = "osds"), (name = "repair"), (name = "objects"), (name = "meta"), (name = "buckets"), (name = "users"), (name = "keys"), (name = "tokens"))
)]
pub struct ApiDoc;

/// The spec as committed in `openapi/objectio-admin-v1.json`.
pub fn openapi_json() -> String {
    let mut s = ApiDoc::openapi().to_pretty_json().expect("spec serialises");
    s.push('\n');
    s
}

/// Accepts TCP connections and hands on those whose TLS handshake
/// completed; handshakes run on their own tasks, so a client that stalls
/// in one delays no one else.
pub struct TlsListener {
    rx: tokio::sync::mpsc::Receiver<(
        tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
        std::net::SocketAddr,
    )>,
    local: std::net::SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(
        listener: tokio::net::TcpListener,
        acceptor: tokio_rustls::TlsAcceptor,
    ) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let accepting = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    if let Some(s) = objectio_cluster::tls::handshake(&acceptor, tcp).await {
                        let _ = tx.send((s, peer)).await;
                    }
                });
            }
        });
        Ok(Self {
            rx,
            local,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accepting task only ends when aborted, with the listener.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The whole router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", axum::routing::get(v1::health))
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    openapi_json(),
                )
            }),
        )
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/api/docs")
                .url("/api/docs/openapi.json", ApiDoc::openapi()),
        )
        .merge(v1::cluster::router())
        .merge(v1::osds::router())
        .merge(v1::buckets::router())
        .merge(v1::users::router())
        .merge(v1::repair::router())
        .merge(v1::objects::router())
        .merge(v1::meta::router())
        .merge(v1::tokens::router())
        .merge(v1::keys::router())
        .fallback(|| async { v1::ApiError::not_found("no such route") })
        .layer(axum::middleware::map_response(v1::json_errors))
        .with_state(state)
}

/// Writes the cluster config if this is the first meta of a new cluster.
async fn init_cluster(store: &Store, cfg: &Config) -> anyhow::Result<ClusterConfig> {
    let cc = ClusterConfig {
        version: SCHEMA_VERSION,
        name: cfg.cluster.name.clone(),
        cluster_id: uuid::Uuid::new_v4(),
        ec: EcProfile {
            k: cfg.ec_k,
            m: cfg.ec_m,
            chunk_size: cfg.ec_chunk as u32,
        },
        created: now_secs(),
        replicate_max: cfg.replicate_max,
        compact_records: true,
    };
    if store.create(store.keys().config(), &cc).await? {
        tracing::info!(cluster = %cc.name, id = %cc.cluster_id, k = cc.ec.k, m = cc.ec.m, "initialised a new cluster");
    }
    Ok(store.config().await?)
}

/// Keeps this replica's liveness key and campaigns for leadership;
/// `leader` is true while this replica leads. When `stop` turns true the
/// lease is revoked, so the liveness key and any leadership go at once.
async fn membership(
    store: Store,
    id: String,
    ttl: i64,
    incarnation: uuid::Uuid,
    leader: Arc<std::sync::atomic::AtomicBool>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    use std::sync::atomic::Ordering;
    loop {
        let lease = match Lease::grant(&store, ttl).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "membership lost; rejoining");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let r: anyhow::Result<()> = async {
            store
                .put_with_lease(
                    store.keys().alive("metas", &id),
                    &serde_json::json!({ "id": id, "started": now_secs(), "incarnation": incarnation }),
                    lease.id(),
                )
                .await?;
            let mut ec = store.client().election_client();
            tokio::select! {
                r = ec.campaign(store.keys().election(), id.clone(), lease.id()) => { r?; }
                _ = stop.wait_for(|s| *s) => return Ok(()),
            }
            tracing::info!(meta = %id, "elected leader");
            leader.store(true, Ordering::Relaxed);
            while !lease.is_lost() {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = stop.wait_for(|s| *s) => return Ok(()),
                }
            }
            anyhow::bail!("lease lost")
        }
        .await;
        leader.store(false, Ordering::Relaxed);
        if *stop.borrow() {
            match lease.revoke(&store).await {
                Ok(()) => tracing::info!(meta = %id, "left the cluster (lease revoked)"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not revoke the lease; it expires by itself")
                }
            }
            return;
        }
        if let Err(e) = r {
            tracing::warn!(error = %e, "membership lost; rejoining");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Runs the meta replica until the process is stopped.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let (tokens, secret) = cfg.check()?;
    let tls = cfg.tls.acceptor().map_err(anyhow::Error::msg)?;
    let store = cfg.cluster.connect().await.context("connecting to etcd")?;
    let cc = init_cluster(&store, &cfg).await?;
    // Remembered, so that `meta status` can name every member even after
    // etcd loses its quorum (listing members needs one).
    if let Err(e) = store.etcd_members().await {
        tracing::warn!(error = %e, "listing the etcd members");
    }
    tokio::spawn(topology::run(store.clone(), cc.ec, Duration::from_secs(5)));
    let secrets = objectio_cluster::secrets::SecretBox::new(&secret);
    let migrated = v1::users::migrate_v1_keys(&store, &secrets)
        .await
        .context("migrating access keys to users")?;
    if migrated > 0 {
        tracing::info!(
            keys = migrated,
            "access keys from before users now each have a user of their own"
        );
    }
    let leader = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = objectio_shard::ShardClient::new(&secret, Duration::from_secs(30));
    // The controllers' object layer: its repair intents name this meta.
    let map =
        objectio_object::map::ClusterMap::start(store.clone(), Duration::from_secs(1)).await?;
    let objects = objectio_object::Objects::for_controller(
        store.clone(),
        cc.clone(),
        map,
        client.clone(),
        cfg.id.clone(),
    );
    store
        .join("metas", &cfg.id, &cfg.listen)
        .await
        .context("recording the meta as a member")?;
    let snapshots = cfg.snapshot_dir.clone().map(|dir| snapshot::Snapshots {
        dir,
        retain: cfg.snapshot_retain as usize,
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let member = tokio::spawn(membership(
        store.clone(),
        cfg.id.clone(),
        cfg.lease_ttl,
        objects.incarnation(),
        leader.clone(),
        stop_rx,
    ));
    tokio::spawn(controllers::run(
        store.clone(),
        objects.clone(),
        client,
        controllers::Leader(leader.clone()),
        controllers::Settings {
            down_out: Duration::from_secs(cfg.down_out_interval_secs),
            repair: controllers::repair::Throttle {
                interval: Duration::from_millis(cfg.repair_interval_ms.max(100)),
                sweep: Duration::from_secs(cfg.repair_sweep_secs.max(1)),
                max_bytes_per_sec: cfg.repair_max_mibs << 20,
                in_flight: cfg.repair_objects_in_flight.clamp(1, 64),
            },
            gc_interval: Duration::from_millis(cfg.gc_interval_ms.max(100)),
            gc_grace: Duration::from_secs(cfg.gc_grace_secs),
            compact_every: Duration::from_secs(cfg.compact_interval_secs.max(1)),
            defrag_every: Duration::from_secs(cfg.defrag_interval_secs.max(1)),
            defrag_min_reclaim: cfg.defrag_min_reclaim,
            lifecycle_every: Duration::from_secs(cfg.lifecycle_interval_secs.max(1)),
            lifecycle_day: Duration::from_secs(cfg.lifecycle_day_secs.max(1)),
            snapshots: snapshots.clone(),
            snapshot_every: cfg.snapshot_interval.max(Duration::from_secs(1)),
        },
    ));
    let app = router(AppState {
        store,
        tokens: Arc::new(tokens),
        secrets,
        objects,
        snapshots,
    });
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let stopping = async {
        let s = objectio_cluster::args::shutdown_signal().await;
        tracing::info!(signal = %s, "shutting down: resigning leadership");
    };
    match tls {
        Some(acceptor) => {
            tracing::info!(address = %listener.local_addr()?, tls = true, "admin API serving (HTTPS: h2 and http/1.1)");
            axum::serve(TlsListener::new(listener, acceptor)?, app)
                .with_graceful_shutdown(stopping)
                .await?;
        }
        None => {
            tracing::info!(address = %listener.local_addr()?, "admin API serving");
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, app)
                .with_graceful_shutdown(stopping)
                .await?;
        }
    }
    // Resign: revoking the lease hands leadership to another replica now
    // instead of after the lease expires.
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), member).await;
    tracing::info!(meta = %cfg.id, "stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_openapi_spec_matches_the_code() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../openapi/objectio-admin-v1.json"
        );
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == super::openapi_json(),
            "openapi/objectio-admin-v1.json is stale: regenerate it with\n  \
             cargo run -p objectio-meta -- --print-openapi > openapi/objectio-admin-v1.json"
        );
    }
}
