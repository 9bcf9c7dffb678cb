//! `objectio-osd`: owns disks, stores shards, serves the shard protocol,
//! and keeps its registration and liveness in etcd.
//!
//! Owns the protocol server ([`server`]) and the OSD's registration; the
//! on-device layout is `objectio-engine`'s. It never talks S3 and never
//! reads object records.

pub mod scrub;
pub mod server;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use objectio_cluster::{
    DiskRecord, DiskState, Lease, OsdAlive, OsdRecord, OsdService, Store, now_secs,
};
use tokio::net::TcpListener;

/// Configuration of one OSD (flags, or `OBJECTIO_*` environment variables).
#[derive(Parser, Debug, Clone, PartialEq)]
#[command(
    name = "objectio-osd",
    version,
    about = "ObjectIO OSD: stores erasure-coded shards on local disks"
)]
pub struct Config {
    /// OSD id, unique in the cluster (e.g. osd1).
    #[arg(long, env = "OBJECTIO_OSD_ID")]
    pub id: String,
    /// Address the shard protocol listens on.
    #[arg(long, env = "OBJECTIO_OSD_LISTEN", default_value = "0.0.0.0:9200")]
    pub listen: String,
    /// Address gateways reach this OSD at (defaults to --listen).
    #[arg(long, env = "OBJECTIO_OSD_ADVERTISE")]
    pub advertise: Option<String>,
    /// Failure domain placement spreads shards over (default: this
    /// machine's host name, so OSDs of one host share a domain).
    #[arg(long, env = "OBJECTIO_FAILURE_DOMAIN")]
    pub failure_domain: Option<String>,
    /// A disk: a device or file path. Repeat for several disks. Disks an
    /// operator added with `objectio-cli osd add --disks` are opened too.
    #[arg(long = "disk", env = "OBJECTIO_OSD_DISKS", value_delimiter = ',')]
    pub disks: Vec<PathBuf>,
    /// I/O backend: auto (io_uring when the kernel allows it), uring or sync.
    #[arg(long, env = "OBJECTIO_OSD_BACKEND", default_value = "auto")]
    pub backend: objectio_engine::device::Backend,
    /// Format disks even when they carry a foreign signature or another
    /// cluster's superblock (destroys what is on them).
    #[arg(long)]
    pub force: bool,
    /// Size of a file-backed disk created when the path does not exist.
    #[arg(long, env = "OBJECTIO_OSD_DISK_SIZE", default_value = "4GiB", value_parser = objectio_cluster::util::parse_size)]
    pub disk_size: u64,
    #[command(flatten)]
    pub file: objectio_cluster::args::ConfigFile,
    #[command(flatten)]
    pub cluster: objectio_cluster::args::ClusterArgs,
    #[command(flatten)]
    pub secret: objectio_cluster::args::SecretArgs,
    /// Liveness lease TTL in seconds: a dead OSD shows as down after it.
    #[arg(long, env = "OBJECTIO_LEASE_TTL", default_value_t = 10)]
    pub lease_ttl: i64,
    /// How often disk usage is published to etcd, in milliseconds.
    #[arg(long, env = "OBJECTIO_OSD_PUBLISH_MS", default_value_t = 5000)]
    pub publish_ms: u64,
    /// On SIGTERM/SIGINT, how long shard requests in flight may take to
    /// finish, in seconds (the OSD leaves the map first, so no new writes
    /// are placed on it).
    #[arg(long, env = "OBJECTIO_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    /// How long after a scrub pass (or the start) the next one begins, in
    /// seconds; `objectio-cli osd scrub ID` starts one at once.
    #[arg(long, env = "OBJECTIO_SCRUB_INTERVAL_SECS", default_value_t = 604800)]
    pub scrub_interval_secs: u64,
    /// Bytes a scrub pass reads per second at most, in MiB (0: no limit).
    #[arg(long, env = "OBJECTIO_SCRUB_MAX_MIBS", default_value_t = 32)]
    pub scrub_max_mibs: u64,
    /// Check the configuration and exit.
    #[arg(long)]
    pub check_config: bool,
}

impl Config {
    /// Validates the configuration and resolves the secret.
    pub fn check(&self) -> anyhow::Result<Vec<u8>> {
        let secret = self.secret.load().map_err(anyhow::Error::msg)?;
        self.cluster.security().map_err(anyhow::Error::msg)?;
        if self.id.is_empty() || self.id.contains('/') {
            bail!("--id must be non-empty and hold no '/'");
        }
        if self.lease_ttl < 1 {
            bail!("--lease-ttl must be at least 1 second");
        }
        for d in &self.disks {
            check_disk_path(d)?;
        }
        Ok(secret)
    }

    /// The failure domain: `--failure-domain`, else the host name.
    pub fn failure_domain(&self) -> String {
        self.failure_domain
            .clone()
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(objectio_cluster::util::host_name)
    }
}

/// A disk path is usable when it exists (a device or file) or can be
/// created as a file (its directory exists and is writable).
fn check_disk_path(p: &std::path::Path) -> anyhow::Result<()> {
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => bail!("disk {} is a directory, not a device or file", p.display()),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            match std::fs::metadata(dir) {
                Ok(m) if m.is_dir() && !m.permissions().readonly() => Ok(()),
                Ok(m) if m.is_dir() => bail!(
                    "disk {} does not exist and cannot be created: {} is read-only",
                    p.display(),
                    dir.display()
                ),
                Ok(_) => bail!(
                    "disk {} does not exist and cannot be created: {} is not a directory",
                    p.display(),
                    dir.display()
                ),
                Err(e) => bail!(
                    "disk {} does not exist and cannot be created: {}: {e}",
                    p.display(),
                    dir.display()
                ),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => bail!(
            "disk {} does not exist and cannot be created: a part of its path is not a directory",
            p.display()
        ),
        Err(e) => bail!("disk {}: {e}", p.display()),
    }
}

/// The OSD was removed from the cluster (`osd remove`): the process is
/// refused, and exits with [`Removed::EXIT_STATUS`] (its systemd unit does
/// not restart it).
#[derive(Debug)]
pub struct Removed(pub String);

impl Removed {
    pub const EXIT_STATUS: u8 = 3;
}

impl std::fmt::Display for Removed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OSD {} was removed from the cluster (objectio-cli osd remove); \
             `objectio-cli osd add --id {} --address HOST:PORT` makes it expected again",
            self.0, self.0
        )
    }
}

impl std::error::Error for Removed {}

/// Runs `step` until it succeeds or fails with something other than an
/// etcd error, for at most a minute (etcd errors then fail too).
async fn until_etcd_answers<T, F, Fut>(what: &str, mut step: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match step().await {
            Ok(v) => return Ok(v),
            Err(e)
                if matches!(
                    e.downcast_ref::<objectio_cluster::Error>(),
                    Some(objectio_cluster::Error::Etcd(_))
                ) && tokio::time::Instant::now() < deadline =>
            {
                tracing::warn!(error = %e, "{what}: etcd refused; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e.context(what.to_string())),
        }
    }
}

/// Runs the OSD until the process is stopped.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let secret = cfg.check()?;
    let store = cfg.cluster.connect().await.context("connecting to etcd")?;
    let cc = store.wait_config(Duration::from_secs(60)).await?;
    let expected = until_etcd_answers("reading its record", || async {
        Ok(store.get::<OsdRecord>(store.keys().osd(&cfg.id)).await?)
    })
    .await?
    .map(|(r, _)| r);
    if let Some(r) = &expected
        && r.state == OsdService::Removed
    {
        return Err(Removed(cfg.id.clone()).into());
    }
    let mut wanted: Vec<PathBuf> = cfg.disks.clone();
    for p in expected.iter().flat_map(|r| &r.disk_paths) {
        if !wanted.iter().any(|w| w.as_os_str() == p.as_str()) {
            wanted.push(PathBuf::from(p));
        }
    }
    if wanted.is_empty() {
        bail!(
            "no disks: give --disk, or add them with `objectio-cli osd add --id {} --disks DEV`",
            cfg.id
        );
    }
    let disks = server::Disks::default();
    let mut paths = HashMap::new();
    for p in &wanted {
        let own = cfg.disks.contains(p);
        open_disk(&cfg, cc.cluster_id, p, own, &disks, &mut paths).await?;
    }
    let listener = TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let address = cfg.advertise.clone().unwrap_or_else(|| {
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or(cfg.listen.clone())
    });
    // etcd may be electing a leader as the OSD starts (a restart during a
    // member's loss): its refusals are waited out, not fatal.
    let ids = disk_ids(&disks);
    until_etcd_answers("registering", || {
        register(&store, &cfg, &address, ids.clone())
    })
    .await?;
    let scrubbed: scrub::Stats = Default::default();
    let mut published = HashMap::new();
    // The serving loop publishes them again on every tick.
    if let Err(e) = publish_disks(&store, &cfg.id, &disks, &paths, &scrubbed, &mut published).await
    {
        tracing::warn!(error = %e, "publishing the disks; retried while serving");
    }
    let scrubber = tokio::spawn(scrub::run(
        store.clone(),
        cfg.id.clone(),
        disks.clone(),
        scrubbed.clone(),
        scrub::Settings {
            every: Duration::from_secs(cfg.scrub_interval_secs.max(1)),
            max_bytes_per_sec: cfg.scrub_max_mibs << 20,
        },
    ));
    let state = Arc::new(server::ServerState {
        secret,
        disks: disks.clone(),
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(server::serve(listener, state, stop_rx));
    tracing::info!(osd = %cfg.id, %address, disks = disks.all().len(), "OSD serving");

    let alive = OsdAlive {
        address,
        started: now_secs(),
    };
    let mut lease: Option<Lease> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(cfg.publish_ms.clamp(100, 1000)));
    let mut last_publish = tokio::time::Instant::now();
    let mut stop = std::pin::pin!(objectio_cluster::args::shutdown_signal());
    let mut removed = false;
    let mut failed = std::collections::HashSet::new();
    let signal = loop {
        tokio::select! {
            _ = tick.tick() => {}
            s = stop.as_mut() => break s,
        }
        match store.get::<OsdRecord>(store.keys().osd(&cfg.id)).await {
            Ok(Some((r, _))) if r.state == OsdService::Removed => {
                tracing::error!(osd = %cfg.id, "this OSD was removed from the cluster: stopping");
                removed = true;
                break "removed from the cluster";
            }
            Ok(Some((r, _))) => {
                // Disks an operator added while it runs: opened now.
                let mut added = false;
                for p in &r.disk_paths {
                    if paths.values().any(|have| have == p) || failed.contains(p) {
                        continue;
                    }
                    match open_disk(
                        &cfg,
                        cc.cluster_id,
                        std::path::Path::new(p),
                        false,
                        &disks,
                        &mut paths,
                    )
                    .await
                    {
                        Ok(id) => {
                            tracing::info!(osd = %cfg.id, disk = %id, path = %p, "added disk opened");
                            added = true;
                        }
                        Err(e) => {
                            tracing::error!(osd = %cfg.id, path = %p, error = %format!("{e:#}"), "cannot open an added disk");
                            // Not again every tick: the next start retries.
                            failed.insert(p.clone());
                        }
                    }
                }
                if added {
                    if let Err(e) = register(&store, &cfg, &alive.address, disk_ids(&disks)).await {
                        tracing::warn!(error = %e, "could not register the added disk; retrying");
                    }
                    last_publish =
                        tokio::time::Instant::now() - Duration::from_millis(cfg.publish_ms);
                }
            }
            _ => {}
        }
        if lease.as_ref().is_none_or(|l| l.is_lost()) {
            match register_alive(&store, &cfg, &alive).await {
                Ok(l) => lease = Some(l),
                Err(e) => tracing::warn!(error = %e, "could not register liveness; retrying"),
            }
        }
        if last_publish.elapsed() >= Duration::from_millis(cfg.publish_ms) {
            match publish_disks(&store, &cfg.id, &disks, &paths, &scrubbed, &mut published).await {
                Ok(()) => last_publish = tokio::time::Instant::now(),
                Err(e) => tracing::warn!(error = %e, "could not publish disk usage"),
            }
        }
    };
    // Leave the map first (gateways follow the liveness keys by watch and
    // stop placing shards here), then let requests in flight finish.
    let grace = Duration::from_secs(cfg.shutdown_grace_secs);
    tracing::info!(%signal, grace_secs = grace.as_secs(), "shutting down: leaving the map, finishing requests in flight");
    drop(lease);
    if let Err(e) = store.delete(store.keys().alive("osds", &cfg.id)).await {
        tracing::warn!(error = %e, "could not remove the liveness key");
    }
    let _ = stop_tx.send(true);
    match tokio::time::timeout(grace, server).await {
        Ok(_) => tracing::info!("requests in flight finished"),
        Err(_) => tracing::warn!("grace period over; dropping the remaining connections"),
    }
    scrubber.abort();
    let _ = publish_disks(
        &store,
        &cfg.id,
        &disks,
        &paths,
        &scrubbed,
        &mut HashMap::new(),
    )
    .await;
    // A checkpoint now leaves nothing to replay at the next start.
    for (id, d) in disks.all() {
        if let Err(e) = d.checkpoint_now().await {
            tracing::warn!(disk = %id, error = %e, "could not checkpoint at stop");
        }
    }
    tracing::info!(osd = %cfg.id, "stopped");
    if removed {
        return Err(Removed(cfg.id.clone()).into());
    }
    Ok(())
}

/// The ids of the OSD's disks.
fn disk_ids(disks: &server::Disks) -> Vec<uuid::Uuid> {
    disks.all().into_iter().map(|(id, _)| id).collect()
}

/// Opens (formatting when new) the disk at `p` and adds it to `disks`.
async fn open_disk(
    cfg: &Config,
    cluster_id: uuid::Uuid,
    p: &std::path::Path,
    own: bool,
    disks: &server::Disks,
    paths: &mut HashMap<uuid::Uuid, String>,
) -> anyhow::Result<uuid::Uuid> {
    check_disk_path(p)?;
    // A disk named through the admin API (`osd add --disks`) must exist:
    // an API call never creates files on an OSD's host; only the daemon's
    // own `--disk` flags do.
    if !own && !p.exists() {
        bail!(
            "disk {} was added through the admin API but does not exist: create the device or file first (the OSD creates files only for its own --disk flags)",
            p.display()
        );
    }
    let dev = objectio_engine::device::open(p, cfg.backend, cfg.disk_size)
        .with_context(|| format!("opening disk {}", p.display()))?;
    let opts = objectio_engine::OpenOptions {
        cluster_id,
        osd_id: cfg.id.clone(),
        force: cfg.force,
        checkpoint_interval: objectio_engine::engine::CHECKPOINT_INTERVAL,
    };
    let engine = objectio_engine::Engine::open(dev, opts)
        .await
        .with_context(|| format!("opening disk {}", p.display()))?;
    let id = engine.disk_id();
    if disks.contains(&id) {
        bail!("disk {id} is given twice ({})", p.display());
    }
    paths.insert(id, p.display().to_string());
    disks.insert(id, engine);
    Ok(id)
}

/// Writes the OSD's registration (address, disks, failure domain), keeping
/// what operators set (state, weight, added disks): an OSD added with
/// `osd add` goes from `new` to `active` here, but only from the address
/// it was added with; a removed one is refused.
async fn register(
    store: &Store,
    cfg: &Config,
    address: &str,
    disks: Vec<uuid::Uuid>,
) -> anyhow::Result<()> {
    store
        .update::<OsdRecord, anyhow::Error>(store.keys().osd(&cfg.id), |prev| {
            let mut rec = prev.unwrap_or_else(|| OsdRecord {
                version: objectio_cluster::SCHEMA_VERSION,
                id: cfg.id.clone(),
                address: address.to_string(),
                failure_domain: cfg.failure_domain(),
                disks: Vec::new(),
                registered: 0,
                state: OsdService::Active,
                weight: None,
                disk_paths: Vec::new(),
                drain_started: 0,
            });
            match rec.state {
                OsdService::Removed => return Err(Removed(cfg.id.clone()).into()),
                OsdService::New if rec.address != address => bail!(
                    "OSD {} was added with address {}, but this daemon advertises {address}: \
                     start it with --advertise {} (or add it again with this address)",
                    cfg.id,
                    rec.address,
                    rec.address
                ),
                OsdService::New => {
                    tracing::info!(osd = %cfg.id, "the added OSD registered: it joins placement");
                    rec.state = OsdService::Active;
                }
                _ => {}
            }
            // An operator's failure domain (osd add) wins over the host name.
            if cfg.failure_domain.is_some() || rec.failure_domain.is_empty() {
                rec.failure_domain = cfg.failure_domain();
            }
            rec.version = objectio_cluster::SCHEMA_VERSION;
            rec.address = address.to_string();
            rec.disks = disks.clone();
            rec.registered = now_secs();
            Ok(Some(rec))
        })
        .await?;
    Ok(())
}

async fn register_alive(
    store: &Store,
    cfg: &Config,
    alive: &OsdAlive,
) -> objectio_cluster::Result<Lease> {
    let lease = Lease::grant(store, cfg.lease_ttl).await?;
    store
        .put_with_lease(store.keys().alive("osds", &cfg.id), alive, lease.id())
        .await?;
    Ok(lease)
}

/// A disk record is rewritten at least this often even when unchanged.
const REPUBLISH_EVERY: Duration = Duration::from_secs(60);

/// Writes each disk's record (capacity, usage), keeping its in/out state;
/// a disk whose usage did not change since `published` says it was written
/// is skipped (every write is an etcd revision) unless a minute has passed.
async fn publish_disks(
    store: &Store,
    osd: &str,
    disks: &server::Disks,
    paths: &HashMap<uuid::Uuid, String>,
    scrubbed: &scrub::Stats,
    published: &mut HashMap<
        uuid::Uuid,
        (objectio_engine::Usage, scrub::DiskScrub, std::time::Instant),
    >,
) -> objectio_cluster::Result<()> {
    for (id, d) in disks.all() {
        let id = &id;
        let u = d.usage();
        let sc = scrubbed
            .lock()
            .expect("scrub stats")
            .get(id)
            .copied()
            .unwrap_or_default();
        if published.get(id).is_some_and(|(last, lsc, at)| {
            *last == u && *lsc == sc && at.elapsed() < REPUBLISH_EVERY
        }) {
            continue;
        }
        // A disk gets its index once, the first time it is published (or
        // the first time after an upgrade from a build without indexes).
        let index = match published.contains_key(id) {
            true => 0,
            false => match store.get::<DiskRecord>(store.keys().disk(id)).await? {
                Some((r, _)) if r.index != 0 => r.index,
                _ => store.allocate_disk_index().await?,
            },
        };
        // Compare-and-swap on the record, so an in/out change made
        // meanwhile (by the meta's health controller or an operator) is
        // never overwritten with the state read before it.
        store
            .update::<DiskRecord, objectio_cluster::Error>(store.keys().disk(id), |prev| {
                let (state, auto_out, last_scrub, scrub_errors) = prev
                    .as_ref()
                    .map(|r| (r.state, r.auto_out, r.last_scrub, r.scrub_errors))
                    .unwrap_or((DiskState::In, false, 0, 0));
                let index = prev
                    .as_ref()
                    .map(|r| r.index)
                    .filter(|i| *i != 0)
                    .unwrap_or(index);
                // This process's scrub result, else the last one recorded.
                let (last_scrub, scrub_errors) = if sc.finished > 0 {
                    (sc.finished, sc.errors)
                } else {
                    (last_scrub, scrub_errors)
                };
                Ok(Some(DiskRecord {
                    version: objectio_cluster::SCHEMA_VERSION,
                    id: *id,
                    osd: osd.to_string(),
                    path: paths.get(id).cloned().unwrap_or_default(),
                    capacity_bytes: u.capacity,
                    used_bytes: u.used,
                    free_bytes: u.free,
                    shards: u.shards,
                    backend: d.backend().to_string(),
                    weight: (u.capacity as f64 / (1u64 << 30) as f64).max(0.001),
                    state,
                    auto_out,
                    last_scrub,
                    scrub_errors,
                    index,
                }))
            })
            .await?;
        published.insert(*id, (u, sc, std::time::Instant::now()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(disk: &std::path::Path) -> Config {
        let mut c = Config::try_parse_from([
            std::ffi::OsStr::new("objectio-osd"),
            "--id".as_ref(),
            "osd7".as_ref(),
            "--disk".as_ref(),
            disk.as_os_str(),
        ])
        .unwrap();
        c.secret.cluster_secret = Some("s".repeat(32));
        c
    }

    #[test]
    fn failure_domain_defaults_to_the_host_name_not_the_osd_id() {
        let c = cfg(std::path::Path::new("/tmp/x.img"));
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(c.failure_domain(), host.trim());
        let mut c = c;
        c.failure_domain = Some("rack2".into());
        assert_eq!(c.failure_domain(), "rack2");
    }

    #[test]
    fn check_config_refuses_disks_that_cannot_exist() {
        let d = tempfile::tempdir().unwrap();
        // Creatable (its directory exists) and existing files are fine.
        cfg(&d.path().join("new.img")).check().unwrap();
        std::fs::write(d.path().join("old.img"), b"").unwrap();
        cfg(&d.path().join("old.img")).check().unwrap();
        // A missing directory, a directory, a file as a directory.
        let e = cfg(&d.path().join("no/such/dir/x.img"))
            .check()
            .unwrap_err();
        assert!(e.to_string().contains("cannot be created"), "{e}");
        let e = cfg(d.path()).check().unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let e = cfg(&d.path().join("old.img/x.img")).check().unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
    }
}
