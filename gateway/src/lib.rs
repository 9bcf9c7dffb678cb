//! `objectio-gateway`: the stateless S3 endpoint.
//!
//! Owns the S3 surface ([`s3`]) and its authorization stage ([`authz`]);
//! the object layer that erasure-codes bodies and streams shards to OSDs
//! is the `objectio-object` crate, shared with the meta's controllers.
//! All state lives in etcd and on OSDs; a gateway can be killed at any
//! moment (an unfinished PUT leaves an intent for GC, never a visible
//! object).

pub mod authz;
pub mod cors;
pub mod integrity;
pub mod s3;

/// The object layer (its own crate, shared with the meta's controllers).
pub use objectio_object as object;
/// The cluster map the object layer places shards on.
pub use objectio_object::map;

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use hyper_util::rt::{TokioExecutor, TokioIo};
use objectio_cluster::{GatewayAlive, Lease, Store, now_secs};
use objectio_shard::ShardClient;
use s3s::route::S3Route;
use s3s::service::S3ServiceBuilder;
use s3s::{Body, S3Request, S3Response, S3Result};
use tokio::net::TcpListener;

/// Configuration of a gateway (flags, or `OBJECTIO_*` environment variables).
#[derive(Parser, Debug, Clone, PartialEq)]
#[command(name = "objectio-gateway", version, about = "ObjectIO S3 gateway")]
pub struct Config {
    /// Address the S3 endpoint listens on.
    #[arg(long, env = "OBJECTIO_GATEWAY_LISTEN", default_value = "0.0.0.0:9000")]
    pub listen: String,
    /// Gateway id, kept across restarts: `cluster status` counts the
    /// gateways that have joined against those alive (defaults to
    /// `gw-<host name>-<port>`).
    #[arg(long, env = "OBJECTIO_GATEWAY_ID")]
    pub id: Option<String>,
    #[command(flatten)]
    pub file: objectio_cluster::args::ConfigFile,
    #[command(flatten)]
    pub cluster: objectio_cluster::args::ClusterArgs,
    #[command(flatten)]
    pub secret: objectio_cluster::args::SecretArgs,
    #[command(flatten)]
    pub tls: objectio_cluster::tls::TlsArgs,
    /// Domains for virtual-hosted-style requests (`bucket.DOMAIN`); requests
    /// to any other host name or address are path style.
    #[arg(long, env = "OBJECTIO_S3_DOMAIN", value_delimiter = ',')]
    pub domain: Vec<String>,
    /// The region this endpoint serves: requests signed for another are
    /// refused with AuthorizationHeaderMalformed naming it
    /// (`us-east-1` also accepts `US`, the name s3cmd signs with).
    #[arg(long, env = "OBJECTIO_S3_REGION", default_value = "us-east-1")]
    pub region: String,
    /// File holding the master key SSE-S3 data keys are sealed with (mode
    /// 600, at least 32 bytes, the same on every gateway; without it SSE-S3
    /// requests are refused).
    #[arg(long, env = "OBJECTIO_SSE_MASTER_KEY_FILE")]
    pub sse_master_key_file: Option<std::path::PathBuf>,
    /// Timeout of one shard operation, in seconds.
    #[arg(long, env = "OBJECTIO_SHARD_TIMEOUT", default_value_t = 30)]
    pub shard_timeout: u64,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish
    /// (new connections are refused meanwhile), in seconds.
    #[arg(long, env = "OBJECTIO_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    /// The cluster map follows etcd watches (changes apply at once); while
    /// a watch is not current it is re-read this often, in milliseconds.
    #[arg(long, env = "OBJECTIO_MAP_REFRESH_MS", default_value_t = 1000)]
    pub map_refresh_ms: u64,
    /// Log one line per request at info (method, bucket, key, status,
    /// bytes in and out, milliseconds, request id).
    #[arg(long, env = "OBJECTIO_ACCESS_LOG")]
    pub access_log: bool,
    /// Check the configuration and exit.
    #[arg(long)]
    pub check_config: bool,
}

/// The gateway's log filter when `RUST_LOG` is not set. s3s logs every
/// error answer, 4xx included, at ERROR; the gateway logs requests itself
/// ([`log_request`]): server errors at ERROR, client errors at DEBUG.
pub const DEFAULT_LOG_FILTER: &str = "info,s3s::ops=off,s3s::service=off";

impl Config {
    /// Validates the configuration and resolves the secret.
    pub fn check(&self) -> anyhow::Result<Vec<u8>> {
        let s = self.secret.load().map_err(anyhow::Error::msg)?;
        self.cluster.security().map_err(anyhow::Error::msg)?;
        self.tls.acceptor().map_err(anyhow::Error::msg)?;
        if self.region.is_empty()
            || !self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            anyhow::bail!(
                "--region {:?} is not a region name (lower-case letters, digits and '-')",
                self.region
            );
        }
        self.listen
            .parse::<std::net::SocketAddr>()
            .with_context(|| format!("--listen {:?} is not host:port", self.listen))?;
        Ok(s)
    }
}

/// Virtual-hosted-style buckets under the configured domains; everything
/// else (IP addresses, other names) is path style. s3s's `SingleDomain`
/// would take an unknown host for a bucket name, which breaks clients that
/// address the gateway by IP.
struct VirtualHosts {
    suffixes: Vec<String>,
}

impl VirtualHosts {
    /// The bucket a virtual-hosted-style `Host` names, if any.
    fn bucket_of(&self, host: &str) -> Option<String> {
        let name = match host.rsplit_once(':') {
            Some((h, port)) if !host.starts_with('[') && port.parse::<u16>().is_ok() => h,
            _ => host,
        };
        let name = name.to_ascii_lowercase();
        self.suffixes.iter().find_map(|s| {
            name.strip_suffix(s.as_str())
                .filter(|b| !b.is_empty())
                .map(str::to_string)
        })
    }

    fn new(domains: &[String]) -> Self {
        Self {
            suffixes: domains
                .iter()
                .map(|d| format!(".{}", d.trim().trim_matches('.').to_ascii_lowercase()))
                .filter(|d| d.len() > 1)
                .collect(),
        }
    }
}

impl s3s::host::S3Host for VirtualHosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<s3s::host::VirtualHost<'a>> {
        Ok(match self.bucket_of(host) {
            Some(bucket) => s3s::host::VirtualHost::new(host).with_bucket(bucket),
            None => s3s::host::VirtualHost::new(host),
        })
    }
}

/// `GET /health` without authentication.
struct Health;

#[async_trait::async_trait]
impl S3Route for Health {
    fn is_match(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        _headers: &http::HeaderMap,
        _ext: &mut http::Extensions,
    ) -> bool {
        method == http::Method::GET && uri.path() == "/health"
    }

    async fn check_access(&self, _req: &mut S3Request<Body>) -> S3Result<()> {
        Ok(())
    }

    async fn call(&self, _req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        Ok(S3Response::new(Body::from("OK\n".to_string())))
    }
}

/// Runs the gateway until the process is stopped.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let secret = cfg.check()?;
    let tls = cfg.tls.acceptor().map_err(anyhow::Error::msg)?;
    let store = cfg.cluster.connect().await.context("connecting to etcd")?;
    let cc = store.wait_config(Duration::from_secs(60)).await?;
    let map =
        map::ClusterMap::start(store.clone(), Duration::from_millis(cfg.map_refresh_ms)).await?;
    let shards = ShardClient::new(&secret, Duration::from_secs(cfg.shard_timeout));
    let id = cfg.id.clone().unwrap_or_else(|| default_id(&cfg.listen));
    let objects = object::Objects::new(store.clone(), cc, map, shards, id.clone());
    let incarnation = objects.incarnation();

    let dir = authz::Directory::start(&store, &secret);
    let keys = dir.keys().clone();
    let sse = match &cfg.sse_master_key_file {
        Some(p) => Some(s3::sse::MasterKey::load(p)?),
        None => None,
    };
    let authorizer = authz::Authorizer {
        dir: dir.clone(),
        store: store.clone(),
        region: cfg.region.clone(),
    };
    let mut builder = S3ServiceBuilder::new(s3::Gateway {
        objects,
        buckets: dir.buckets().clone(),
        authz: authorizer.clone(),
        sse,
    });
    let directory = dir.clone();
    builder.set_auth(dir);
    builder.set_access(authorizer);
    builder.set_route(Health);
    // A POST form's file is read whole before it is stored: bounded.
    let mut s3_config = s3s::config::S3Config::default();
    s3_config.post_object_max_file_size = s3::post::MAX_POST_BYTES;
    builder.set_config(std::sync::Arc::new(s3s::config::StaticConfigProvider::new(
        std::sync::Arc::new(s3_config),
    )));
    builder.set_host(VirtualHosts::new(&cfg.domain));
    let service = builder.build();
    let hosts = std::sync::Arc::new(VirtualHosts::new(&cfg.domain));
    let access_log = cfg.access_log;

    let listener = TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let local = listener.local_addr()?;
    let alive = GatewayAlive {
        address: local.to_string(),
        started: now_secs(),
        keys_revision: 0,
        incarnation: Some(incarnation),
    };
    store
        .join("gateways", &id, &cfg.listen)
        .await
        .context("recording the gateway as a member")?;
    let liveness = tokio::spawn(keep_alive(store.clone(), id.clone(), alive, keys));
    tracing::info!(gateway = %id, address = %local, tls = tls.is_some(), "S3 gateway serving");

    let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(objectio_cluster::args::shutdown_signal());
    let signal = loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            s = stop.as_mut() => break s,
        };
        let _ = tcp.set_nodelay(true);
        // The peer's address goes with each request (policies condition
        // on aws:SourceIp).
        // Each request gets an id (x-amz-request-id, and the span of its
        // log lines) and one log line when answered.
        let svc = service.clone();
        let hosts = hosts.clone();
        let dir = directory.clone();
        let with_peer =
            hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(authz::PeerAddr(peer));
                let svc = svc.clone();
                let hosts = hosts.clone();
                let dir = dir.clone();
                async move {
                    let id = format!("{:016x}", rand_id());
                    let seen = Seen::of(&req, &hosts);
                    let t = std::time::Instant::now();
                    let span = tracing::info_span!("request", request_id = %id);
                    let origin = req
                        .headers()
                        .get("origin")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let cors_rules = if origin.is_some() || req.method() == http::Method::OPTIONS {
                        cors_rules(&dir, &seen.bucket).await
                    } else {
                        None
                    };
                    let check = integrity::check_of(req.method(), req.uri(), req.headers());
                    let mut r = if req.method() == http::Method::OPTIONS {
                        Ok(cors::preflight(cors_rules.as_deref(), req.headers()))
                    } else if check == integrity::Check::None {
                        tracing::Instrument::instrument(svc.call(req.map(s3s::Body::from)), span)
                            .await
                    } else {
                        let (parts, body) = req.into_parts();
                        match integrity::read_and_verify(&check, &parts.headers, body).await {
                            Ok(bytes) => {
                                let req = http::Request::from_parts(parts, s3s::Body::from(bytes));
                                tracing::Instrument::instrument(svc.call(req), span).await
                            }
                            Err(refused) => Ok(integrity::answer(&refused, &id)),
                        }
                    };
                    if let Ok(resp) = &mut r {
                        if let Ok(v) = http::HeaderValue::from_str(&id) {
                            resp.headers_mut().insert("x-amz-request-id", v);
                        }
                        if let Some(o) = &origin
                            && seen.method != http::Method::OPTIONS
                        {
                            cors::decorate(
                                resp.headers_mut(),
                                cors_rules.as_deref(),
                                o,
                                &seen.method,
                            );
                        }
                        log_request(
                            &seen,
                            resp.status(),
                            resp.headers(),
                            t.elapsed(),
                            &id,
                            access_log,
                        );
                    }
                    r
                }
            });
        // The TLS handshake runs on the connection's own task, so a client
        // slow to finish it delays no other.
        let (http, watcher, tls) = (http.clone(), graceful.watcher(), tls.clone());
        tokio::spawn(async move {
            let r = match &tls {
                Some(acceptor) => {
                    let Some(tcp) = objectio_cluster::tls::handshake(acceptor, tcp).await else {
                        return;
                    };
                    let conn = http.serve_connection(TokioIo::new(tcp), with_peer);
                    watcher.watch(conn.into_owned()).await
                }
                None => {
                    let conn = http.serve_connection(TokioIo::new(tcp), with_peer);
                    watcher.watch(conn.into_owned()).await
                }
            };
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    };
    // Refuse new connections, let requests in flight finish (idle
    // keep-alive connections are closed), then leave the cluster. The
    // liveness key goes last: GC reclaims a gateway's unfinished writes
    // only once it is gone.
    drop(listener);
    let grace = Duration::from_secs(cfg.shutdown_grace_secs);
    tracing::info!(%signal, grace_secs = grace.as_secs(), "shutting down: finishing requests in flight");
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("requests in flight finished"),
        _ = tokio::time::sleep(grace) => tracing::warn!("grace period over; dropping the remaining connections"),
    }
    liveness.abort();
    if let Err(e) = store.delete(store.keys().alive("gateways", &id)).await {
        tracing::warn!(error = %e, "could not remove the liveness key");
    }
    tracing::info!(gateway = %id, "stopped");
    Ok(())
}

/// The CORS rules of a bucket, if it exists and has some.
async fn cors_rules(
    dir: &authz::Directory,
    bucket: &str,
) -> Option<Vec<objectio_cluster::CorsRule>> {
    if bucket.is_empty() {
        return None;
    }
    dir.bucket(bucket).await.ok().flatten().and_then(|b| b.cors)
}

/// An S3 XML error answer made outside s3s's pipeline (a refused XML body,
/// a CORS preflight), rendered by s3s as every other error is.
pub fn error_answer(
    status: http::StatusCode,
    code: &str,
    message: &str,
    request_id: Option<&str>,
) -> http::Response<s3s::Body> {
    let code =
        s3s::S3ErrorCode::from_bytes(code.as_bytes()).unwrap_or(s3s::S3ErrorCode::InternalError);
    let mut e = s3s::S3Error::with_message(code, message.to_string());
    e.set_status_code(status);
    if let Some(id) = request_id {
        e.set_request_id(id);
    }
    e.to_http_response().unwrap_or_else(|_| {
        let mut r = http::Response::new(s3s::Body::empty());
        *r.status_mut() = status;
        r
    })
}

/// `gw-<host name>-<port>`: the same across restarts on one machine.
fn default_id(listen: &str) -> String {
    let port = listen.rsplit(':').next().unwrap_or("9000");
    format!("gw-{}-{port}", objectio_cluster::util::host_name())
}

/// A random request id.
fn rand_id() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

/// What the log says of a request, taken before it is served.
struct Seen {
    method: http::Method,
    bucket: String,
    key: String,
    bytes_in: u64,
}

impl Seen {
    fn of<B>(req: &http::Request<B>, hosts: &VirtualHosts) -> Self {
        let path = req.uri().path().trim_start_matches('/');
        let host_bucket = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| hosts.bucket_of(h));
        let (bucket, key) = match host_bucket {
            Some(b) => (b, path.to_string()),
            None => {
                let (b, k) = path.split_once('/').unwrap_or((path, ""));
                (b.to_string(), k.to_string())
            }
        };
        let bytes_in = req
            .headers()
            .get("x-amz-decoded-content-length")
            .or_else(|| req.headers().get(http::header::CONTENT_LENGTH))
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        Self {
            method: req.method().clone(),
            bucket,
            key,
            bytes_in,
        }
    }
}

/// One line per request: server errors at ERROR (their cause is logged
/// beside with the same request id), everything else at DEBUG, or at INFO
/// with `--access-log`.
fn log_request(
    s: &Seen,
    status: http::StatusCode,
    headers: &http::HeaderMap,
    took: std::time::Duration,
    id: &str,
    access_log: bool,
) {
    let bytes_out: u64 = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0);
    let ms = took.as_secs_f64() * 1000.0;
    macro_rules! line {
        ($lvl:ident) => {
            tracing::$lvl!(
                target: "objectio_gateway::access",
                method = %s.method,
                bucket = %s.bucket,
                key = %s.key,
                status = status.as_u16(),
                bytes_in = s.bytes_in,
                bytes_out,
                ms = format!("{ms:.1}"),
                request_id = %id,
                "request"
            )
        };
    }
    if status.is_server_error() && status != http::StatusCode::NOT_IMPLEMENTED {
        line!(error);
    } else if access_log {
        line!(info);
    } else {
        line!(debug);
    }
}

/// Keeps the gateway's lease-bound liveness key, re-registering after loss,
/// and publishes in it the revision its copy of the access keys is current
/// to after every change (the admin API waits for it when a key goes).
async fn keep_alive(
    store: Store,
    id: String,
    mut alive: GatewayAlive,
    keys: objectio_cluster::mirror::Mirror,
) {
    let mut lease: Option<Lease> = None;
    let mut published = None;
    let mut changes = keys.changes();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            r = changes.changed() => {
                if r.is_err() {
                    changes = keys.changes();
                }
            }
        }
        if lease.as_ref().is_none_or(|l| l.is_lost()) {
            match Lease::grant(&store, 10).await {
                Ok(l) => {
                    lease = Some(l);
                    published = None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not register gateway liveness");
                    continue;
                }
            }
        }
        let rev = keys.revision().unwrap_or(0);
        if published == Some(rev) {
            continue;
        }
        alive.keys_revision = rev;
        let l = lease.as_ref().expect("lease granted above");
        match store
            .put_with_lease(store.keys().alive("gateways", &id), &alive, l.id())
            .await
        {
            Ok(()) => published = Some(rev),
            Err(e) => tracing::warn!(error = %e, "could not register gateway liveness"),
        }
    }
}
