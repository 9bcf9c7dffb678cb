//! Test harness: starts a real cluster on 127.0.0.1 — an etcd process, an
//! `objectio-meta`, N `objectio-osd` processes on file-backed disks and an
//! `objectio-gateway` — in a temporary folder, and gives tests handles to
//! kill, restart and corrupt its parts. Used only as a dev-dependency.
//!
//! The binaries are taken from the cargo target folder of the running test
//! (`cargo build --workspace --bins` must have run first).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub mod sigv4;

/// A free TCP port on 127.0.0.1, handed out at most once per test process.
///
/// Ports come from 10000..20000, below the kernel's ephemeral range
/// (32768..60999 by default): a port from `bind(0)` is itself ephemeral, and
/// between the probe and the daemon's own bind any outgoing connection
/// (a client to etcd, a gateway to an OSD) may be given it, which made a
/// daemon fail with "Address already in use" now and then. Each test process
/// starts at an offset from its pid and walks forward, skipping ports that
/// something else holds.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 10_000;
    const SPAN: u32 = 10_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (std::process::id().wrapping_mul(7919)) % SPAN,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..SPAN {
        let port = (LOW + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {LOW}..{}", LOW + SPAN)
}

/// The folder holding the workspace binaries.
pub fn bin_dir() -> PathBuf {
    if let Ok(d) = std::env::var("OBJECTIO_BIN_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test> -> target/<profile>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf();
    assert!(
        dir.join("objectio-osd").exists(),
        "binaries not found in {}: run `cargo build --workspace --bins` first",
        dir.display()
    );
    dir
}

/// One OSD of the cluster.
pub struct Osd {
    pub id: String,
    pub port: u16,
    pub domain: String,
    pub disk: PathBuf,
    child: Option<Child>,
}

/// Options of a test cluster.
#[derive(Clone)]
pub struct Options {
    pub osds: usize,
    pub domains: usize,
    pub disk_size: &'static str,
    pub lease_ttl: u32,
    /// etcd members (1, or 3 to lose a leader).
    pub etcd_members: usize,
    /// How long GC keeps the shards of overwritten or deleted versions.
    pub gc_grace_secs: u32,
    /// How long an OSD may be down before its disks are marked out.
    pub down_out_secs: u32,
    /// More flags for the meta.
    pub meta_args: Vec<&'static str>,
    /// etcd serves its clients TLS only and wants a client certificate
    /// (`--client-cert-auth`), from a CA the harness makes.
    pub etcd_tls: bool,
    /// etcd has `auth enable`: the meta is `root`, the OSDs and gateways
    /// the user `objectio`, whose role may read and write the cluster's
    /// prefix alone; tokens are etcd's simple tokens, two seconds after
    /// their last use (and forgotten when etcd restarts).
    pub etcd_auth: bool,
}

/// The files of an etcd that wants TLS.
struct EtcdTls {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

impl EtcdTls {
    /// A CA, a server certificate for 127.0.0.1 and a client certificate,
    /// as PEM files in `dir` (keys mode 600).
    fn make(dir: &Path) -> anyhow::Result<Self> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        use std::os::unix::fs::PermissionsExt;
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "objectio etcd test CA");
        let ca = ca_params.self_signed(&ca_key)?;
        let t = EtcdTls {
            ca: dir.join("etcd-ca.pem"),
            server_cert: dir.join("etcd-server.pem"),
            server_key: dir.join("etcd-server.key"),
            client_cert: dir.join("etcd-client.pem"),
            client_key: dir.join("etcd-client.key"),
        };
        std::fs::write(&t.ca, ca.pem())?;
        for (names, cert, key) in [
            (
                vec!["localhost".to_string(), "127.0.0.1".to_string()],
                &t.server_cert,
                &t.server_key,
            ),
            (Vec::new(), &t.client_cert, &t.client_key),
        ] {
            let k = KeyPair::generate()?;
            let mut params = CertificateParams::new(names)?;
            params
                .distinguished_name
                .push(DnType::CommonName, "objectio-it");
            std::fs::write(cert, params.signed_by(&k, &ca, &ca_key)?.pem())?;
            std::fs::write(key, k.serialize_pem())?;
            std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(t)
    }
}

/// The etcd users of a cluster with `auth enable`, and their password files.
struct EtcdUsers {
    root_password: String,
    root_file: PathBuf,
    objectio_file: PathBuf,
}

/// One etcd member of the cluster.
struct EtcdMember {
    name: String,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            osds: 6,
            domains: 3,
            disk_size: "1GiB",
            lease_ttl: 2,
            etcd_members: 1,
            gc_grace_secs: 1,
            down_out_secs: 600,
            meta_args: Vec::new(),
            etcd_tls: false,
            etcd_auth: false,
        }
    }
}

/// A running cluster; every process is killed on drop.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub meta_port: u16,
    pub gateway_port: u16,
    pub token: String,
    pub secret: String,
    pub access_key: String,
    pub secret_key: String,
    pub osds: Vec<Osd>,
    etcd: Vec<EtcdMember>,
    etcd_tls: Option<EtcdTls>,
    etcd_users: Option<EtcdUsers>,
    meta: Option<Child>,
    gateway: Option<Child>,
    /// Gateways started besides the first, with their ports.
    extra_gateways: Vec<(u16, Child)>,
    /// Meta replicas started besides the first: id, port, process.
    extra_metas: Vec<(String, u16, Option<Child>)>,
    opts: Options,
    bin: PathBuf,
}

fn random_hex(n: usize) -> String {
    (0..n)
        .map(|_| format!("{:x}", rand::random::<u8>() % 16))
        .collect()
}

impl Cluster {
    /// Starts a cluster with default options (6 OSDs on 3 failure domains).
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(Options::default()).await
    }

    /// Starts a cluster.
    pub async fn start_with(opts: Options) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("objectio-it-").tempdir()?;
        let etcd = (0..opts.etcd_members.max(1))
            .map(|i| EtcdMember {
                name: format!("e{i}"),
                client_port: free_port(),
                peer_port: free_port(),
                child: None,
            })
            .collect();
        let mut c = Cluster {
            meta_port: free_port(),
            gateway_port: free_port(),
            token: random_hex(40),
            secret: random_hex(64),
            access_key: String::new(),
            secret_key: String::new(),
            osds: Vec::new(),
            etcd,
            etcd_tls: None,
            etcd_users: None,
            meta: None,
            gateway: None,
            extra_gateways: Vec::new(),
            extra_metas: Vec::new(),
            bin: bin_dir(),
            opts: opts.clone(),
            dir,
        };
        if opts.etcd_tls {
            c.etcd_tls = Some(EtcdTls::make(c.dir.path())?);
        }
        c.start_etcd()?;
        c.wait_etcd().await?;
        if opts.etcd_auth {
            c.enable_etcd_auth()?;
        }
        c.start_meta()?;
        c.wait_http(&format!("http://127.0.0.1:{}/health", c.meta_port), "meta")
            .await?;
        for i in 0..opts.osds {
            let id = format!("osd{}", i + 1);
            c.osds.push(Osd {
                disk: c.dir.path().join(format!("{id}.img")),
                id,
                port: free_port(),
                domain: format!("host{}", i % opts.domains + 1),
                child: None,
            });
            c.start_osd(i)?;
        }
        c.wait_osds_up(opts.osds).await?;
        c.start_gateway()?;
        c.wait_http(
            &format!("http://127.0.0.1:{}/health", c.gateway_port),
            "gateway",
        )
        .await?;
        c.create_user("test").await?;
        (c.access_key, c.secret_key) = c.create_key("test").await?;
        Ok(c)
    }

    /// Creates a user through the admin API.
    pub async fn create_user(&self, name: &str) -> anyhow::Result<()> {
        self.admin()
            .post(self.admin_url("/api/v1/users"))
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Creates an access key of `user`; its id and secret.
    pub async fn create_key(&self, user: &str) -> anyhow::Result<(String, String)> {
        let key: serde_json::Value = self
            .admin()
            .post(self.admin_url("/api/v1/keys"))
            .json(&serde_json::json!({ "user": user }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok((
            key["access_key_id"].as_str().context("key id")?.to_string(),
            key["secret_access_key"]
                .as_str()
                .context("secret")?
                .to_string(),
        ))
    }

    /// Starts one more gateway (`gw2`, `gw3`, ...; its log is `gwN.log`)
    /// on a port of its own, with `args` besides the usual ones, and waits
    /// until it serves; its S3 endpoint.
    pub async fn start_extra_gateway(&mut self, args: &[&str]) -> anyhow::Result<String> {
        let port = self.spawn_extra_gateway(args)?;
        let url = format!("http://127.0.0.1:{port}");
        self.wait_http(&format!("{url}/health"), "gateway").await?;
        Ok(url)
    }

    /// Spawns one more gateway as [`Self::start_extra_gateway`] does,
    /// without waiting for it (the caller knows how it answers: over TLS,
    /// say); its port.
    pub fn spawn_extra_gateway(&mut self, args: &[&str]) -> anyhow::Result<u16> {
        let port = free_port();
        let id = format!("gw{}", self.extra_gateways.len() + 2);
        let child = self.spawn(
            &id,
            Command::new(self.bin.join("objectio-gateway"))
                .args(self.etcd_flags(false))
                .args(["--cluster", "it", "--id", &id])
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .args(["--map-refresh-ms", "200", "--shard-timeout", "10"])
                .args(args)
                .env("OBJECTIO_CLUSTER_SECRET", &self.secret),
        )?;
        self.extra_gateways.push((port, child));
        Ok(port)
    }

    fn log(&self, name: &str) -> anyhow::Result<(Stdio, Stdio)> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{name}.log")))?;
        Ok((Stdio::from(f.try_clone()?), Stdio::from(f)))
    }

    fn spawn(&self, name: &str, cmd: &mut Command) -> anyhow::Result<Child> {
        let (o, e) = self.log(name)?;
        // Each daemon's own default filter unless the test run sets one.
        match std::env::var("RUST_LOG") {
            Ok(v) => cmd.env("RUST_LOG", v),
            Err(_) => cmd.env_remove("RUST_LOG"),
        };
        cmd.stdout(o)
            .stderr(e)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("spawning {name}"))
    }

    /// Every member's client URL, comma-separated (what `--etcd` takes).
    fn etcd_url(&self) -> String {
        self.etcd_endpoints().join(",")
    }

    /// `http` or, when etcd wants TLS, `https`.
    fn etcd_scheme(&self) -> &'static str {
        if self.etcd_tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Every member's client URL.
    pub fn etcd_endpoints(&self) -> Vec<String> {
        self.etcd
            .iter()
            .map(|m| format!("{}://127.0.0.1:{}", self.etcd_scheme(), m.client_port))
            .collect()
    }

    /// A daemon's flags that reach etcd: endpoints, and the CA, client
    /// certificate and user where etcd wants them (`root` for the meta,
    /// which snapshots and defragments; `objectio` for the others).
    pub fn etcd_flags(&self, root: bool) -> Vec<String> {
        let mut f = vec!["--etcd".to_string(), self.etcd_url()];
        if let Some(t) = &self.etcd_tls {
            for (flag, path) in [
                ("--etcd-ca-cert", &t.ca),
                ("--etcd-cert", &t.client_cert),
                ("--etcd-key", &t.client_key),
            ] {
                f.push(flag.into());
                f.push(path.display().to_string());
            }
        }
        if let Some(u) = &self.etcd_users {
            let (user, file) = if root {
                ("root", &u.root_file)
            } else {
                ("objectio", &u.objectio_file)
            };
            f.extend([
                "--etcd-user".to_string(),
                user.to_string(),
                "--etcd-password-file".to_string(),
                file.display().to_string(),
            ]);
        }
        f
    }

    /// The security a test's own [`objectio_cluster::Store`] needs to
    /// reach this cluster's etcd (as `root`).
    pub fn etcd_security(&self) -> objectio_cluster::EtcdSecurity {
        let mut s = objectio_cluster::EtcdSecurity::default();
        if let Some(t) = &self.etcd_tls {
            s = s.with_tls(
                objectio_cluster::tls::etcd_client_tls(
                    Some(&t.ca),
                    Some((&t.client_cert, &t.client_key)),
                )
                .expect("the harness's certificates load"),
            );
        }
        if let Some(u) = &self.etcd_users {
            s = s.with_user("root", &u.root_password);
        }
        s
    }

    /// `etcdctl` against every member, with the CA, client certificate
    /// and (once auth is on) the root user.
    pub fn etcdctl(&self) -> Command {
        let mut cmd = Command::new("etcdctl");
        cmd.env("ETCDCTL_API", "3")
            .arg("--endpoints")
            .arg(self.etcd_url());
        if let Some(t) = &self.etcd_tls {
            cmd.arg("--cacert")
                .arg(&t.ca)
                .arg("--cert")
                .arg(&t.client_cert)
                .arg("--key")
                .arg(&t.client_key);
        }
        if let Some(u) = &self.etcd_users {
            cmd.arg("--user").arg(format!("root:{}", u.root_password));
        }
        cmd
    }

    /// Creates the users `root` and `objectio` (a role that may read and
    /// write `/objectio/it/` and nothing else) and turns auth on.
    fn enable_etcd_auth(&mut self) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let (root_password, objectio_password) = (random_hex(24), random_hex(24));
        let steps: [&[&str]; 7] = [
            &["user", "add", &format!("root:{root_password}")],
            &["user", "grant-role", "root", "root"],
            &["role", "add", "objectio"],
            &[
                "role",
                "grant-permission",
                "objectio",
                "--prefix=true",
                "readwrite",
                "/objectio/it/",
            ],
            &["user", "add", &format!("objectio:{objectio_password}")],
            &["user", "grant-role", "objectio", "objectio"],
            &["auth", "enable"],
        ];
        for args in steps {
            let out = self.etcdctl().args(args).output()?;
            if !out.status.success() {
                bail!(
                    "etcdctl {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        let file = |name: &str, pw: &str| -> anyhow::Result<PathBuf> {
            let p = self.dir.path().join(name);
            std::fs::write(&p, pw)?;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
            Ok(p)
        };
        self.etcd_users = Some(EtcdUsers {
            root_file: file("etcd-root.password", &root_password)?,
            objectio_file: file("etcd-objectio.password", &objectio_password)?,
            root_password,
        });
        Ok(())
    }

    fn start_etcd(&mut self) -> anyhow::Result<()> {
        for i in 0..self.etcd.len() {
            self.start_etcd_member(i)?;
        }
        Ok(())
    }

    /// Starts (or restarts, on its data) etcd member `i`.
    pub fn start_etcd_member(&mut self, i: usize) -> anyhow::Result<()> {
        let initial: Vec<String> = self
            .etcd
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect();
        self.start_etcd_member_with(i, &initial.join(","), &[])
    }

    /// Starts etcd member `i` on its data directory with `--initial-cluster
    /// initial` and more flags (`--force-new-cluster`,
    /// `--initial-cluster-state existing`), as an operator recovering
    /// etcd by hand does.
    pub fn start_etcd_member_with(
        &mut self,
        i: usize,
        initial: &str,
        extra: &[&str],
    ) -> anyhow::Result<()> {
        let m = &self.etcd[i];
        let data = self.etcd_data_dir(i);
        let log = if self.etcd.len() == 1 {
            "etcd".to_string()
        } else {
            format!("etcd-{}", m.name)
        };
        let mut cmd = etcd_command(&m.name, &data, m.client_port, m.peer_port, initial);
        if let Some(t) = &self.etcd_tls {
            let url = format!("https://127.0.0.1:{}", m.client_port);
            cmd.arg("--listen-client-urls")
                .arg(&url)
                .arg("--advertise-client-urls")
                .arg(&url)
                .arg("--cert-file")
                .arg(&t.server_cert)
                .arg("--key-file")
                .arg(&t.server_key)
                .arg("--trusted-ca-file")
                .arg(&t.ca)
                .arg("--client-cert-auth");
        }
        if self.opts.etcd_auth {
            cmd.args(["--auth-token", "simple", "--auth-token-ttl", "2"]);
        }
        cmd.args(extra);
        let child = self.spawn(&log, &mut cmd)?;
        self.etcd[i].child = Some(child);
        Ok(())
    }

    /// Member `i`'s name, client URL and peer URL.
    pub fn etcd_member(&self, i: usize) -> (String, String, String) {
        let m = &self.etcd[i];
        (
            m.name.clone(),
            format!("{}://127.0.0.1:{}", self.etcd_scheme(), m.client_port),
            format!("http://127.0.0.1:{}", m.peer_port),
        )
    }

    /// Member `i`'s data directory.
    pub fn etcd_data_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("etcd-{}", self.etcd[i].name))
    }

    /// Waits until member `i` answers healthy (it is part of a cluster
    /// with a leader).
    pub async fn wait_etcd_member(&mut self, i: usize) -> anyhow::Result<()> {
        let url = format!("{}/health", self.etcd_member(i).1);
        self.wait_http(&url, "etcd member").await
    }

    /// Starts etcd member `i` again on its data and waits until it answers
    /// healthy (it has rejoined a cluster with a leader).
    pub async fn restart_etcd_member(&mut self, i: usize) -> anyhow::Result<()> {
        self.start_etcd_member(i)?;
        let url = format!("{}/health", self.etcd_member(i).1);
        self.wait_http(&url, "etcd member").await
    }

    /// Kills etcd member `i` (SIGKILL).
    pub fn kill_etcd_member(&mut self, i: usize) {
        kill(&mut self.etcd[i].child);
    }

    /// Waits until every running member answers healthy (a member is
    /// healthy only while the cluster has a leader).
    async fn wait_etcd(&mut self) -> anyhow::Result<()> {
        for i in 0..self.etcd.len() {
            if self.etcd[i].child.is_some() {
                let url = format!("{}/health", self.etcd_member(i).1);
                self.wait_http(&url, "etcd").await?;
            }
        }
        Ok(())
    }

    /// The index of the etcd member that is leader now, as the running
    /// members report it.
    pub async fn etcd_leader(&self) -> Option<usize> {
        let http = self.http();
        let mut ids = vec![None; self.etcd.len()];
        let mut leader = None;
        for (i, m) in self.etcd.iter().enumerate() {
            if m.child.is_none() {
                continue;
            }
            let url = format!(
                "{}://127.0.0.1:{}/v3/maintenance/status",
                self.etcd_scheme(),
                m.client_port
            );
            let Ok(r) = http.post(url).body("{}").send().await else {
                continue;
            };
            let Ok(v) = r.json::<serde_json::Value>().await else {
                continue;
            };
            ids[i] = v["header"]["member_id"].as_str().map(str::to_string);
            if let Some(l) = v["leader"].as_str() {
                leader = Some(l.to_string());
            }
        }
        let leader = leader?;
        ids.iter()
            .position(|id| id.as_deref() == Some(leader.as_str()))
    }

    /// Kills the meta (SIGKILL).
    pub fn kill_meta(&mut self) {
        kill(&mut self.meta);
    }

    /// Starts the meta again and waits for it to answer.
    pub async fn restart_meta(&mut self) -> anyhow::Result<()> {
        self.kill_meta();
        self.start_meta()?;
        let url = format!("http://127.0.0.1:{}/health", self.meta_port);
        self.wait_http(&url, "meta").await
    }

    /// Starts (or restarts) the meta.
    fn start_meta(&mut self) -> anyhow::Result<()> {
        let child = self.spawn_meta("meta1", self.meta_port)?;
        self.meta = Some(child);
        Ok(())
    }

    /// Spawns a meta replica `id` serving the admin API on `port` (its
    /// log is `<id>.log`, meta1's `meta.log`).
    fn spawn_meta(&self, id: &str, port: u16) -> anyhow::Result<Child> {
        self.spawn_meta_with(id, port, &[])
    }

    /// As [`Self::spawn_meta`], with more flags after the options' ones.
    fn spawn_meta_with(&self, id: &str, port: u16, extra: &[String]) -> anyhow::Result<Child> {
        let log = if id == "meta1" { "meta" } else { id };
        self.spawn(
            log,
            Command::new(self.bin.join("objectio-meta"))
                .args(self.etcd_flags(true))
                .args(["--cluster", "it", "--id", id])
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .args(["--gc-interval-ms", "300", "--compact-interval-secs", "1"])
                .args(["--gc-grace-secs", &self.opts.gc_grace_secs.to_string()])
                .args(["--repair-interval-ms", "300"])
                .args([
                    "--down-out-interval-secs",
                    &self.opts.down_out_secs.to_string(),
                ])
                .args(&self.opts.meta_args)
                .args(extra)
                .env("OBJECTIO_ADMIN_TOKEN", &self.token)
                .env("OBJECTIO_CLUSTER_SECRET", &self.secret),
        )
    }

    /// Starts one more meta replica (`meta2`, `meta3`, ...) on a port of
    /// its own and waits until it serves; its id and admin API port.
    pub async fn start_extra_meta(&mut self) -> anyhow::Result<(String, u16)> {
        let id = format!("meta{}", self.extra_metas.len() + 2);
        let port = free_port();
        let child = self.spawn_meta(&id, port)?;
        self.extra_metas.push((id.clone(), port, Some(child)));
        self.wait_http(&format!("http://127.0.0.1:{port}/health"), "meta")
            .await?;
        Ok((id, port))
    }

    /// Spawns one more meta replica with more flags (`--tls-cert ...`),
    /// without waiting for it: the caller knows how it answers. Its id
    /// and admin API port.
    pub fn spawn_extra_meta(&mut self, extra: &[String]) -> anyhow::Result<(String, u16)> {
        let id = format!("meta{}", self.extra_metas.len() + 2);
        let port = free_port();
        let child = self.spawn_meta_with(&id, port, extra)?;
        self.extra_metas.push((id.clone(), port, Some(child)));
        Ok((id, port))
    }

    /// Waits for the extra meta replica `id` to exit and returns its
    /// status (for one expected to refuse its configuration).
    pub async fn wait_extra_meta_exit(
        &mut self,
        id: &str,
        within: Duration,
    ) -> anyhow::Result<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + within;
        loop {
            for (i, _, child) in &mut self.extra_metas {
                if i == id
                    && let Some(c) = child
                    && let Some(st) = c.try_wait()?
                {
                    return Ok(st);
                }
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "meta replica {id} still running after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills (SIGKILL) the meta replica `id` (`meta1` is the first).
    pub fn kill_meta_replica(&mut self, id: &str) {
        if id == "meta1" {
            return self.kill_meta();
        }
        for (i, _, child) in &mut self.extra_metas {
            if i == id {
                kill(child);
            }
        }
    }

    /// Kills every etcd member (SIGKILL): the whole store goes away.
    pub fn kill_etcd(&mut self) {
        for i in 0..self.etcd.len() {
            self.kill_etcd_member(i);
        }
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) every etcd member: a store
    /// that stalls without closing a connection, as a member starved of
    /// CPU or disk does.
    pub fn freeze_etcd(&self, frozen: bool) {
        for m in &self.etcd {
            if let Some(child) = &m.child {
                let signal = if frozen { "-STOP" } else { "-CONT" };
                let ok = Command::new("kill")
                    .args([signal, &child.id().to_string()])
                    .status()
                    .is_ok_and(|s| s.success());
                assert!(ok, "kill {signal} etcd member {}", m.name);
            }
        }
    }

    /// Kills every etcd member, deletes their data and starts an empty
    /// etcd in its place (a store lost whole), waiting for it to answer.
    pub async fn wipe_etcd(&mut self) -> anyhow::Result<()> {
        self.kill_etcd();
        for m in &self.etcd {
            let data = self.dir.path().join(format!("etcd-{}", m.name));
            if data.exists() {
                std::fs::remove_dir_all(&data)?;
            }
        }
        self.start_etcd()?;
        self.wait_etcd().await
    }

    /// Starts etcd again on its data, and waits for it to answer.
    pub async fn restart_etcd(&mut self) -> anyhow::Result<()> {
        self.kill_etcd();
        self.start_etcd()?;
        self.wait_etcd().await
    }

    /// Starts (or restarts) OSD `i` (0-based).
    pub fn start_osd(&mut self, i: usize) -> anyhow::Result<()> {
        self.spawn_osd(i, true)
    }

    /// Starts OSD `i`, with its `--disk` and `--failure-domain` or (for
    /// one `osd add` recorded) without: it opens the disks recorded for it
    /// and keeps the recorded domain.
    fn spawn_osd(&mut self, i: usize, flags: bool) -> anyhow::Result<()> {
        let o = &self.osds[i];
        let mut cmd = Command::new(self.bin.join("objectio-osd"));
        cmd.args(self.etcd_flags(false))
            .args(["--cluster", "it"])
            .args(["--id", &o.id])
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", o.port));
        if flags {
            cmd.args(["--failure-domain", &o.domain])
                .arg("--disk")
                .arg(&o.disk);
        }
        cmd.args(["--disk-size", self.opts.disk_size])
            .args(["--lease-ttl", &self.opts.lease_ttl.to_string()])
            .args(["--publish-ms", "300"])
            .env("OBJECTIO_CLUSTER_SECRET", &self.secret);
        let child = self.spawn(&o.id.clone(), &mut cmd)?;
        self.osds[i].child = Some(child);
        Ok(())
    }

    /// Makes room for one more OSD (`osd<n+1>` in failure domain `domain`,
    /// a file disk of its own), not started; its index.
    pub fn add_osd_slot(&mut self, domain: &str) -> usize {
        let id = format!("osd{}", self.osds.len() + 1);
        self.osds.push(Osd {
            disk: self.dir.path().join(format!("{id}.img")),
            id,
            port: free_port(),
            domain: domain.to_string(),
            child: None,
        });
        self.osds.len() - 1
    }

    /// Starts OSD `i` without `--disk` or `--failure-domain`: it opens the
    /// disks `osd add` recorded for it and keeps the recorded domain. Its
    /// disk file is made first (of the options' disk size), as an operator
    /// does for a file disk: an OSD creates files only for its own `--disk`
    /// flags.
    pub fn start_added_osd(&mut self, i: usize) -> anyhow::Result<()> {
        let disk = &self.osds[i].disk;
        if !disk.exists() {
            let bytes = objectio_cluster::util::parse_size(self.opts.disk_size)
                .map_err(anyhow::Error::msg)?;
            std::fs::File::create(disk)?.set_len(bytes)?;
        }
        self.spawn_osd(i, false)
    }

    /// Waits until OSD `i` accepts connections (its liveness key may still
    /// be the previous process's until that lease expires).
    pub async fn wait_osd_listening(&self, i: usize) -> anyhow::Result<()> {
        let addr = format!("127.0.0.1:{}", self.osds[i].port);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("OSD {} never listened at {addr}", self.osds[i].id)
    }

    /// Kills OSD `i` with SIGKILL.
    pub fn kill_osd(&mut self, i: usize) {
        kill(&mut self.osds[i].child);
    }

    /// Starts (or restarts) the gateway.
    pub fn start_gateway(&mut self) -> anyhow::Result<()> {
        let child = self.spawn(
            "gateway",
            Command::new(self.bin.join("objectio-gateway"))
                .args(self.etcd_flags(false))
                .args(["--cluster", "it", "--id", "gw1"])
                .arg("--listen")
                .arg(format!("127.0.0.1:{}", self.gateway_port))
                .args(["--map-refresh-ms", "200", "--shard-timeout", "10"])
                .args(["--domain", "s3.objectio.test"])
                .env("OBJECTIO_CLUSTER_SECRET", &self.secret),
        )?;
        self.gateway = Some(child);
        Ok(())
    }

    /// Kills the gateway with SIGKILL.
    pub fn kill_gateway(&mut self) {
        kill(&mut self.gateway);
    }

    /// Sends SIGTERM to OSD `i` (a graceful stop, as systemd does).
    pub fn terminate_osd(&self, i: usize) {
        sigterm(&self.osds[i].child);
    }

    /// Waits up to `timeout` for OSD `i` to exit; its status.
    pub async fn wait_osd_exit(
        &mut self,
        i: usize,
        timeout: Duration,
    ) -> Option<std::process::ExitStatus> {
        wait_exit(&mut self.osds[i].child, timeout).await
    }

    /// Sends SIGTERM to the gateway.
    pub fn terminate_gateway(&self) {
        sigterm(&self.gateway);
    }

    /// Waits up to `timeout` for the gateway to exit; its status.
    pub async fn wait_gateway_exit(
        &mut self,
        timeout: Duration,
    ) -> Option<std::process::ExitStatus> {
        wait_exit(&mut self.gateway, timeout).await
    }

    /// Sends SIGTERM to the meta.
    pub fn terminate_meta(&self) {
        sigterm(&self.meta);
    }

    /// Waits up to `timeout` for the meta to exit; its status.
    pub async fn wait_meta_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        wait_exit(&mut self.meta, timeout).await
    }

    /// Restarts the gateway and waits for it to answer.
    pub async fn restart_gateway(&mut self) -> anyhow::Result<()> {
        self.kill_gateway();
        self.start_gateway()?;
        self.wait_http(
            &format!("http://127.0.0.1:{}/health", self.gateway_port),
            "gateway",
        )
        .await
    }

    /// The S3 endpoint.
    pub fn s3_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.gateway_port)
    }

    /// A URL of the admin API.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.meta_port)
    }

    /// An HTTP client carrying the admin token.
    pub fn admin(&self) -> reqwest::Client {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {}", self.token).parse().expect("header"),
        );
        reqwest::Client::builder()
            .default_headers(h)
            .build()
            .expect("client")
    }

    /// GETs an admin API path with the token and returns its JSON.
    pub async fn admin_json(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        Ok(self
            .admin()
            .get(self.admin_url(path))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// The first etcd member's endpoint, for tests that inspect records.
    pub fn etcd_endpoint(&self) -> String {
        self.etcd_endpoints().remove(0)
    }

    /// An HTTP client that etcd's TLS, when it has TLS, accepts.
    fn http(&self) -> reqwest::Client {
        let mut b = reqwest::Client::builder();
        if let Some(t) = &self.etcd_tls {
            let pem = |p: &Path| std::fs::read(p).expect("the harness's certificates are there");
            let mut id = pem(&t.client_cert);
            id.extend(pem(&t.client_key));
            b = b
                .add_root_certificate(reqwest::Certificate::from_pem(&pem(&t.ca)).expect("PEM"))
                .identity(reqwest::Identity::from_pem(&id).expect("PEM"));
        }
        b.build().expect("an HTTP client")
    }

    async fn wait_http(&mut self, url: &str, what: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let http = self.http();
        while Instant::now() < deadline {
            if let Ok(r) = http.get(url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("{what} did not answer at {url}; logs:\n{}", self.logs())
    }

    /// Waits until exactly `n` OSDs report up in the admin API.
    pub async fn wait_osds_up(&mut self, n: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.osds_up().await? == n {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("OSDs up did not reach {n}; logs:\n{}", self.logs())
    }

    /// How many OSDs the admin API reports up.
    pub async fn osds_up(&self) -> anyhow::Result<usize> {
        let r = self
            .admin()
            .get(self.admin_url("/api/v1/osds"))
            .send()
            .await?;
        if !r.status().is_success() {
            return Ok(0);
        }
        let v: serde_json::Value = r.json().await?;
        Ok(v["osds"]
            .as_array()
            .map(|a| a.iter().filter(|o| o["state"] == "up").count())
            .unwrap_or(0))
    }

    /// The tail of every log, for failure messages.
    /// Waits up to `timeout` for a line containing `needle` in the log of
    /// process `name` (`meta`, `gateway`, `osd1`, ...); the line.
    pub async fn wait_log(
        &self,
        name: &str,
        needle: &str,
        timeout: Duration,
    ) -> anyhow::Result<String> {
        let path = self.dir.path().join(format!("{name}.log"));
        let deadline = Instant::now() + timeout;
        loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if let Some(l) = text.lines().find(|l| l.contains(needle)) {
                return Ok(l.to_string());
            }
            if Instant::now() >= deadline {
                bail!(
                    "no line with {needle:?} in {} after {timeout:?}",
                    path.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn logs(&self) -> String {
        let mut out = String::new();
        if let Ok(rd) = std::fs::read_dir(self.dir.path()) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "log") {
                    let s = std::fs::read_to_string(&p).unwrap_or_default();
                    let tail: Vec<&str> = s.lines().rev().take(15).collect();
                    out += &format!("--- {}\n", p.display());
                    for l in tail.into_iter().rev() {
                        out += l;
                        out.push('\n');
                    }
                }
            }
        }
        out
    }
}

/// The command line of one etcd member.
fn etcd_command(name: &str, data: &Path, client: u16, peer: u16, initial: &str) -> Command {
    let url = format!("http://127.0.0.1:{client}");
    let peer = format!("http://127.0.0.1:{peer}");
    let mut cmd = Command::new("etcd");
    cmd.arg("--name")
        .arg(name)
        .arg("--data-dir")
        .arg(data)
        .arg("--listen-client-urls")
        .arg(&url)
        .arg("--advertise-client-urls")
        .arg(&url)
        .arg("--listen-peer-urls")
        .arg(&peer)
        .arg("--initial-advertise-peer-urls")
        .arg(&peer)
        .arg("--initial-cluster")
        .arg(initial)
        .args(["--initial-cluster-token", "objectio-it"]);
    cmd
}

/// A lone etcd in a temporary folder (for tests of one layer that need the
/// real store but no cluster); killed on drop.
pub struct Etcd {
    _dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl Etcd {
    /// Starts it and waits until it answers.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("objectio-etcd-")
            .tempdir()?;
        let (port, peer) = (free_port(), free_port());
        let initial = format!("e=http://127.0.0.1:{peer}");
        let child = etcd_command("e", &dir.path().join("data"), port, peer, &initial)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning etcd")?;
        let e = Etcd {
            _dir: dir,
            child,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::get(format!("{}/health", e.endpoint())).await
                && r.status().is_success()
            {
                return Ok(e);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("etcd did not answer at {}", e.endpoint())
    }

    /// Its client URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills a child process (SIGKILL), if it runs, and reaps it.
fn kill(slot: &mut Option<Child>) {
    if let Some(mut c) = slot.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// Sends SIGTERM to a child process, if it runs.
fn sigterm(child: &Option<Child>) {
    if let Some(c) = child {
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
    }
}

/// Waits up to `timeout` for the child in `slot` to exit; takes it out.
async fn wait_exit(
    slot: &mut Option<Child>,
    timeout: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(c) = slot.as_mut()
            && let Ok(Some(st)) = c.try_wait()
        {
            *slot = None;
            return Some(st);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "cluster logs ({}):\n{}",
                self.dir.path().display(),
                self.logs()
            );
        }
        let mut kids: Vec<Child> = Vec::new();
        kids.extend(self.gateway.take());
        kids.extend(self.extra_gateways.drain(..).map(|(_, c)| c));
        for o in &mut self.osds {
            kids.extend(o.child.take());
        }
        kids.extend(self.meta.take());
        kids.extend(self.extra_metas.iter_mut().filter_map(|(_, _, c)| c.take()));
        kids.extend(self.etcd.iter_mut().filter_map(|m| m.child.take()));
        for mut k in kids {
            let _ = k.kill();
            let _ = k.wait();
        }
        if std::env::var_os("OBJECTIO_KEEP_TEST_DIR").is_some() {
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
            eprintln!("kept test folder {}", dir.keep().display());
        }
    }
}
