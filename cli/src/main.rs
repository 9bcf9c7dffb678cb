//! `objectio-cli`: the operator CLI over the admin API.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use objectio_api::*;
use serde::de::DeserializeOwned;

mod meta;

#[derive(Parser)]
#[command(
    name = "objectio-cli",
    version,
    about = "Operate an ObjectIO cluster through its admin API"
)]
struct Cli {
    /// Admin API endpoint.
    #[arg(
        long,
        global = true,
        env = "OBJECTIO_ENDPOINT",
        default_value = "http://127.0.0.1:9100"
    )]
    endpoint: String,
    /// Admin bearer token.
    #[arg(long, global = true, env = "OBJECTIO_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Output format: `table` for people, `json` for programs.
    #[arg(
        long = "format",
        short = 'o',
        global = true,
        value_enum,
        default_value = "table"
    )]
    format: Output,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Output {
    Table,
    Json,
}

#[derive(Subcommand)]
enum Cmd {
    #[command(flatten)]
    Admin(AdminCmd),
    /// Offline disk tools (read the device itself, no cluster needed).
    Disk {
        #[command(subcommand)]
        cmd: DiskCmd,
    },
}

/// Commands that go through the admin API.
#[derive(Subcommand)]
enum AdminCmd {
    /// Cluster-wide views.
    Cluster {
        #[command(subcommand)]
        cmd: ClusterCmd,
    },
    /// OSDs.
    Osd {
        #[command(subcommand)]
        cmd: OsdCmd,
    },
    /// Buckets.
    Bucket {
        #[command(subcommand)]
        cmd: BucketCmd,
    },
    /// Objects, one at a time.
    Object {
        #[command(subcommand)]
        cmd: ObjectCmd,
    },
    /// The metadata service: rebuilding the index from disk scans.
    Meta {
        #[command(subcommand)]
        cmd: MetaCmd,
    },
    /// The repair controller (rebuilds lost shards by itself).
    Repair {
        #[command(subcommand)]
        cmd: RepairCmd,
    },
    /// Users: own access keys and buckets.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// S3 access keys (each acts as one user).
    Key {
        #[command(subcommand)]
        cmd: KeyCmd,
    },
}

#[derive(Subcommand)]
enum ObjectCmd {
    /// Every shard of an object, read now: where it is, whether each chunk
    /// checks out, redundancy left, and a verdict (exits 1 unless healthy
    /// or degraded).
    Health {
        /// BUCKET/KEY
        path: String,
        /// The version (as `object health` shows it); refused unless it is
        /// the current one.
        #[arg(long)]
        version_id: Option<String>,
    },
    /// Repairs an object now and says what it did; with `--force`, searches
    /// every disk of every OSD that is up for its shards and reads every
    /// chunk (exits 1 when the object cannot be recovered, naming the lost
    /// stripes; nothing wrong is ever written).
    Repair {
        /// BUCKET/KEY
        path: String,
        #[arg(long)]
        force: bool,
        /// The version; refused unless it is the current one.
        #[arg(long)]
        version_id: Option<String>,
    },
}

#[derive(Subcommand)]
enum MetaCmd {
    /// The etcd members (health, leader, Raft indexes, database size,
    /// alarms), the object index size, and every meta replica with the
    /// one leading the controllers.
    Status,
    /// Saves an etcd snapshot now into the meta replica's --snapshot-dir
    /// (the leader saves one every --snapshot-interval by itself).
    Snapshot,
    /// Writes every lasting record of the cluster (config, map, users and
    /// keys with secrets still sealed, buckets, the object index) read at
    /// one etcd revision to FILE: one JSON document, checksummed; FILE
    /// appears only once whole and verified.
    Export {
        #[arg(long, value_name = "FILE")]
        output: std::path::PathBuf,
    },
    /// Restores an export into this cluster (same name; no users, buckets
    /// or objects yet, unless --force). The file is checked whole before
    /// anything is written. Start the OSDs and gateways afterwards.
    Import {
        #[arg(long, value_name = "FILE")]
        input: std::path::PathBuf,
        /// Import into a cluster that holds data: the export's records
        /// overwrite the same keys, the others stay.
        #[arg(long)]
        force: bool,
        /// Do not ask before --force.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Rebuilds buckets and the object index from the scans of every disk
    /// (`disk scan DEV --output F.json`): a version stands when k whole
    /// shards with agreeing headers are live, and the newest per key wins.
    /// Refused when the index is not empty, unless --force.
    Rebuild {
        /// Scan files, one per disk.
        #[arg(long = "from-scan", value_name = "F.json", num_args = 1.., required = true)]
        from_scan: Vec<std::path::PathBuf>,
        /// Say what would be created; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Rebuild into an index that is not empty (what is there stays).
        #[arg(long)]
        force: bool,
        /// Owner of the buckets it creates.
        #[arg(long, value_name = "USER")]
        owner: Option<String>,
    },
}

#[derive(Subcommand)]
enum RepairCmd {
    /// Progress of the pass under way (with a progress bar, rate and ETA)
    /// and the last one.
    Status {
        /// Follow the pass under way until it ends, redrawing its bar.
        #[arg(long)]
        watch: bool,
    },
    /// Starts a pass now (and resumes a stopped controller).
    Start {
        /// Only objects with a shard on this OSD.
        #[arg(long)]
        osd: Option<String>,
    },
    /// Pauses repair after the object under way (start resumes).
    Stop,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Creates a user.
    Create {
        /// Lowercase letters, digits, '.', '_', '-' (up to 64).
        name: String,
    },
    /// Every user with its keys and buckets.
    List,
    /// One user: its ARN, keys and buckets.
    Info { name: String },
    /// Deletes a user (refused while it owns buckets, or has keys unless
    /// --purge-keys); its keys stop working at every gateway at once.
    Delete {
        name: String,
        /// Delete the user's access keys with it.
        #[arg(long)]
        purge_keys: bool,
    },
}

#[derive(Subcommand)]
enum DiskCmd {
    /// Reads a raw device or disk file (not the index) and reports every
    /// shard header on it as JSON, with checksum status; damaged regions are
    /// reported and skipped.
    Scan {
        /// Device or file.
        device: std::path::PathBuf,
        /// Write the JSON report to this file (default: standard output).
        #[arg(long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum ClusterCmd {
    /// Overall state: HEALTHY, DEGRADED or CRITICAL, with members and objects.
    Status,
    /// The cluster map: epoch, erasure-coding profiles, failure domains,
    /// OSDs and disks with their states and placement weights.
    Map,
    /// Forgets a gateway or meta that has left for good, so that `cluster
    /// status` stops counting it (refused while it is alive).
    Forget {
        #[arg(value_parser = ["gateway", "meta"])]
        kind: String,
        id: String,
    },
    /// Moving shards to their preferred placement after capacity changed
    /// (automatic after `osd add`, a disk added, `osd reweight`).
    Rebalance {
        #[command(subcommand)]
        cmd: RebalanceCmd,
    },
}

#[derive(Subcommand)]
enum RebalanceCmd {
    /// State, objects and bytes moved and left, rate and ETA.
    Status {
        /// Redraw the progress until the rebalance is done.
        #[arg(long)]
        watch: bool,
    },
    /// Resumes a stopped rebalance and runs one now.
    Start,
    /// Pauses rebalancing (drains and repair go on).
    Stop,
}

#[derive(Subcommand)]
enum OsdCmd {
    /// Every OSD with its state and disks.
    List,
    /// Used and free bytes and shard count of every disk.
    DiskUsage,
    /// Marks an OSD's disks out: no new shards, and repair rebuilds their
    /// shards on other disks.
    Out { id: String },
    /// Marks an OSD's disks in again.
    In { id: String },
    /// Starts a scrub pass of an OSD's disks now (`osd list` shows when it
    /// finished and what it found).
    Scrub { id: String },
    /// Whether stopping the OSD now keeps every object readable with a
    /// failure to spare (k+1 shards reachable): exit 0 when it does, 1 when
    /// it does not.
    OkToStop { id: String },
    /// Records an OSD to expect (`new` until its daemon registers with that
    /// address), or with `--id` of an existing OSD adds disks to it.
    Add {
        /// HOST:PORT its daemon registers with (needed for a new OSD).
        #[arg(long)]
        address: Option<String>,
        /// Devices or files the daemon opens, comma-separated.
        #[arg(long, value_delimiter = ',')]
        disks: Vec<String>,
        /// The id (default: the next free osdN).
        #[arg(long)]
        id: Option<String>,
        /// Failure domain (default: the daemon's host name).
        #[arg(long)]
        failure_domain: Option<String>,
        /// Placement weight (default: its capacity in GiB).
        #[arg(long)]
        weight: Option<f64>,
    },
    /// Sets an OSD's placement weight; a rebalance follows.
    Reweight { id: String, weight: f64 },
    /// Empties an OSD: no new shards go to it and its shards are copied
    /// elsewhere (refused when the rest could not hold them).
    Drain { id: String },
    /// Waits until nothing references a draining OSD, with progress; exit 0
    /// when drained, 1 with the reason on timeout or when it cannot finish.
    WaitDrained {
        id: String,
        /// Give up after this long (e.g. 90s, 30m, 2h; default: no limit).
        #[arg(long, value_parser = parse_duration)]
        timeout: Option<std::time::Duration>,
    },
    /// Puts a draining OSD back in service (moved shards stay moved).
    Undrain { id: String },
    /// Takes an OSD and its disks out of the cluster; refused while
    /// anything references it unless --force (repair rebuilds its shards).
    Remove {
        id: String,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum BucketCmd {
    /// Every bucket.
    List,
    /// Creates a bucket owned by a user (private, as S3 CreateBucket).
    Create {
        name: String,
        /// The user that owns it.
        #[arg(long, value_name = "USER")]
        owner: String,
        /// S3 object lock, for good (turns versioning on).
        #[arg(long)]
        object_lock: bool,
    },
    /// Owner, creation date, objects, versions, bytes, uploads in progress
    /// and which configurations are set.
    Info { name: String },
    /// Deletes an empty bucket; with --force, every object version in it
    /// first (asks to confirm unless --yes).
    Delete {
        name: String,
        /// Delete every object version, delete marker and upload first.
        #[arg(long)]
        force: bool,
        /// Do not ask before --force deletes objects.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum KeyCmd {
    /// Creates an access key for a user and prints its secret (shown only
    /// once).
    Create {
        /// The user the key acts as.
        #[arg(long)]
        user: String,
        /// A label for the key (default: the user's name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Lists access keys (without secrets).
    List {
        /// Only the keys of this user.
        #[arg(long)]
        user: Option<String>,
    },
    /// Deletes an access key; it stops working at every gateway at once.
    Delete { access_key_id: String },
}

struct Api {
    http: reqwest::Client,
    endpoint: String,
    token: String,
}

impl Api {
    /// Sends `req` with the token; the response when it succeeded, else
    /// the API's error message.
    async fn check(&self, req: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the admin API at {}", self.endpoint))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.bytes().await?;
        match serde_json::from_slice::<ErrorOut>(&body) {
            Ok(e) => bail!("{} ({}): {}", status, e.code, e.message),
            Err(_) => bail!("{}: {}", status, String::from_utf8_lossy(&body)),
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> anyhow::Result<Option<T>> {
        let resp = self.check(req).await?;
        if resp.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let body = resp.bytes().await?;
        Ok(Some(
            serde_json::from_slice(&body).context("unexpected response from the admin API")?,
        ))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.endpoint.trim_end_matches('/'), path)
    }

    async fn post<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(self.http.post(self.url(path)))
            .await?
            .context("empty response")
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(self.http.get(self.url(path)))
            .await?
            .context("empty response")
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration as the guide writes it: `2h 15m`, `4m 10s`, `12s`.
fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// A size in IEC units, as the flags take them (`2 GiB` is `2.0 GiB`).
fn human(b: u64) -> String {
    objectio_api::iec(b)
}

/// `used` of `total` as a percentage: one decimal under 10 %, whole above.
fn percent(used: u64, total: u64) -> String {
    if total == 0 {
        return "0%".into();
    }
    let p = used as f64 * 100.0 / total as f64;
    if p < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{}%", p.floor() as u64)
    }
}

/// The local time offset, read before any thread starts (reading it later
/// is refused on Linux).
static LOCAL_OFFSET: std::sync::OnceLock<time::UtcOffset> = std::sync::OnceLock::new();

/// An RFC 3339 date from the API as local `YYYY-MM-DD HH:MM`.
fn local_date(rfc3339: &str) -> String {
    let Ok(t) =
        time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
    else {
        return rfc3339.to_string();
    };
    let t = t.to_offset(*LOCAL_OFFSET.get().unwrap_or(&time::UtcOffset::UTC));
    t.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]"
    ))
    .unwrap_or_else(|_| rfc3339.to_string())
}

/// Draws the status box of the operations guide.
fn status_box(s: &ClusterStatusOut) -> String {
    let mut lines = vec![format!("Cluster Status: {}", s.state)];
    lines.push(format!(
        "Gateways:  {}/{} healthy",
        s.gateways.healthy, s.gateways.total
    ));
    let leader = s
        .meta
        .leader
        .as_deref()
        .map(|l| format!(" (leader: {l})"))
        .unwrap_or_default();
    lines.push(format!(
        "Metadata:  {}/{} healthy{leader}",
        s.meta.healthy, s.meta.total
    ));
    let down = if s.osds.down.is_empty() {
        String::new()
    } else {
        format!(" ({}: DOWN)", s.osds.down.join(", "))
    };
    lines.push(format!(
        "OSDs:      {}/{} healthy{down}",
        s.osds.up, s.osds.total
    ));
    let mut objects = thousands(s.objects.total);
    if s.objects.at_risk > 0 {
        objects += &format!(" ({} at risk)", thousands(s.objects.at_risk));
    } else if s.objects.degraded > 0 {
        objects += &format!(" ({} degraded)", thousands(s.objects.degraded));
    }
    lines.push(format!("Objects:   {objects}"));
    if let Some(r) = &s.repair {
        lines.push(match r.eta_secs {
            Some(eta) => format!("Repair:    In progress (ETA: {})", duration(eta)),
            None => "Repair:    In progress".into(),
        });
    }
    lines.push(format!(
        "Capacity:  {} used ({} / {})",
        percent(s.capacity.used_bytes, s.capacity.total_bytes),
        human(s.capacity.used_bytes),
        human(s.capacity.total_bytes)
    ));
    if s.state == ClusterState::Critical {
        lines.push("Action:    RESTORE OSDs IMMEDIATELY".into());
    }
    // The guide's width, wider when a line needs it.
    let w = lines
        .iter()
        .map(|l| l.chars().count() + 2)
        .max()
        .unwrap_or(0)
        .max(57);
    let line = |t: &str| format!("│ {:<w$}│\n", t, w = w - 1);
    let mut out = format!("┌{}┐\n", "─".repeat(w));
    out += &line(&lines[0]);
    out += &format!("├{}┤\n", "─".repeat(w));
    for l in &lines[1..] {
        out += &line(l);
    }
    out += &format!("└{}┘\n", "─".repeat(w));
    out
}

/// A name as one URL path segment (percent-encoded where needed).
fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Asks before something that cannot be undone: the operator types
/// `expected` on a terminal; without one (a script), it is refused and
/// `--yes` named.
fn confirm(question: &str, expected: &str) -> anyhow::Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        bail!("{question}\nrefusing without confirmation: not a terminal; pass --yes to go ahead");
    }
    eprint!("{question}\nType {expected:?} to confirm: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != expected {
        bail!("not confirmed: nothing done");
    }
    Ok(())
}

fn bucket_info(b: &BucketInfoOut) -> String {
    let mut set = Vec::new();
    if b.policy {
        set.push("policy".to_string());
    }
    if b.lifecycle_rules > 0 {
        set.push(format!("lifecycle ({} rules)", b.lifecycle_rules));
    }
    if b.cors {
        set.push("cors".into());
    }
    if b.object_lock {
        set.push("object lock".into());
    }
    if !b.tags.is_empty() {
        set.push(format!("tags ({})", b.tags.len()));
    }
    let rows = [
        ("Bucket", b.name.clone()),
        ("Owner", b.owner.clone()),
        ("Created", local_date(&b.created)),
        ("Objects", thousands(b.objects)),
        (
            "Versions",
            format!(
                "{} ({} delete markers)",
                thousands(b.versions),
                thousands(b.delete_markers)
            ),
        ),
        ("Size", human(b.bytes)),
        ("Uploads", format!("{} in progress", thousands(b.uploads))),
        ("Versioning", b.versioning.clone()),
        (
            "Configured",
            if set.is_empty() {
                "nothing".into()
            } else {
                set.join(", ")
            },
        ),
    ];
    rows.iter()
        .map(|(k, v)| format!("{:<11} {v}\n", format!("{k}:")))
        .collect()
}

fn meta_status(s: &MetaStatusOut) -> String {
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    let size = |v: Option<u64>| v.map_or("-".to_string(), human);
    let mut out = String::from("etcd members:\n");
    out += &table(
        &[
            "NAME",
            "ID",
            "ENDPOINT",
            "HEALTH",
            "LEADER",
            "TERM",
            "RAFT INDEX",
            "APPLIED",
            "DB SIZE",
            "IN USE",
            "ALARMS",
        ],
        s.etcd
            .iter()
            .map(|m| {
                vec![
                    m.name.clone(),
                    m.id.clone(),
                    m.endpoint.clone(),
                    match (&m.error, m.healthy) {
                        (_, true) => "healthy".into(),
                        (Some(e), false) => format!("UNHEALTHY ({e})"),
                        (None, false) => "UNHEALTHY".into(),
                    },
                    if m.leader { "*".into() } else { String::new() },
                    opt(m.raft_term),
                    opt(m.raft_index),
                    opt(m.raft_applied_index),
                    size(m.db_size_bytes),
                    size(m.db_size_in_use_bytes),
                    if m.alarms.is_empty() {
                        "none".into()
                    } else {
                        m.alarms.join(",")
                    },
                ]
            })
            .collect(),
    );
    let i = &s.index;
    out += &format!(
        "\nObject index: {} records in {} buckets, {} uploads, {} writes in progress, {} versions queued for GC; etcd database {} ({} in use)\n",
        thousands(i.records),
        thousands(i.buckets),
        thousands(i.uploads),
        thousands(i.intents),
        thousands(i.gc_queue),
        size(i.db_size_bytes),
        size(i.db_size_in_use_bytes)
    );
    out += &format!(
        "\nMeta replicas (leader: {}):\n",
        s.leader.as_deref().unwrap_or("none")
    );
    out += &table(
        &["ID", "ADDRESS", "VERSION", "STARTED", "STATE"],
        s.replicas
            .iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    r.address.clone(),
                    r.version.clone(),
                    local_date(&r.started),
                    match (r.alive, r.leader) {
                        (true, true) => "up, leader".into(),
                        (true, false) => "up".into(),
                        (false, _) => "DOWN".into(),
                    },
                ]
            })
            .collect(),
    );
    out
}

/// The cluster map as a tree: failure domains, their OSDs, their disks.
fn map_tree(m: &ClusterMapOut) -> String {
    let mut out = format!(
        "Cluster {} map epoch {} (etcd revision {})\n\nProfiles:\n",
        m.name, m.epoch, m.revision
    );
    for p in &m.profiles {
        out += &format!(
            "  {}+{}  chunk {}  {}\n",
            p.k,
            p.m,
            human(p.chunk_size as u64),
            p.applies_to
        );
    }
    out += "\n";
    let mut rows = Vec::new();
    for d in &m.failure_domains {
        rows.push(vec![
            format!("domain {}", d.name),
            String::new(),
            String::new(),
            String::new(),
            format!("{:.2}", d.weight),
        ]);
        for id in &d.osds {
            let Some(x) = m.osds.iter().find(|x| &x.id == id) else {
                continue;
            };
            let state = match x.state {
                OsdState::Up => "up",
                OsdState::Down => "DOWN",
            };
            rows.push(vec![
                format!("  {}", x.id),
                format!("{state}, {}", x.service),
                x.address.clone(),
                String::new(),
                format!("{:.2}", x.weight),
            ]);
            for disk in &x.disks {
                rows.push(vec![
                    format!("    disk {}", disk.id),
                    disk.state.clone(),
                    disk.path.clone(),
                    human(disk.capacity_bytes),
                    format!("{:.2}", disk.weight),
                ]);
            }
        }
    }
    out + &table(
        &["NAME", "STATE", "ADDRESS/PATH", "CAPACITY", "WEIGHT"],
        rows,
    )
}

fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let fmt = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{:<w$}", c, w = w[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
            + "\n"
    };
    let mut out = fmt(headers.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out += &fmt(r);
    }
    out
}

fn print<T: serde::Serialize>(o: Output, v: &T, human: impl FnOnce(&T) -> String) {
    match o {
        Output::Json => println!("{}", serde_json::to_string_pretty(v).expect("serialises")),
        Output::Table => print!("{}", human(v)),
    }
}

/// `disk scan`: offline, straight from the device.
async fn disk_scan(device: &std::path::Path, out: Option<&std::path::Path>) -> anyhow::Result<()> {
    let dev = objectio_engine::device::sync::SyncDevice::open_read_only(device)
        .with_context(|| format!("opening {}", device.display()))?;
    let report = objectio_engine::scan::scan(&dev).await;
    let json = serde_json::to_string_pretty(&report)?;
    let corrupt = report.shards.iter().filter(|s| s.checksum != "ok").count();
    match out {
        None => println!("{json}"),
        Some(p) if p.as_os_str() == "-" => println!("{json}"),
        Some(path) => {
            std::fs::write(path, json + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    eprintln!(
        "{}: {} shards ({} with bad checksums), {} damaged regions, superblock {}",
        device.display(),
        report.shards.len(),
        corrupt,
        report.damaged.len(),
        report.superblock
    );
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Disk {
            cmd: DiskCmd::Scan { device, output },
        } => disk_scan(&device, output.as_deref()).await,
        Cmd::Admin(cmd) => admin(cmd, &cli.endpoint, cli.token, cli.format).await,
    }
}

async fn admin(
    cmd: AdminCmd,
    endpoint: &str,
    token: Option<String>,
    o: Output,
) -> anyhow::Result<()> {
    let token = token
        .filter(|t| !t.is_empty())
        .context("no admin token: set OBJECTIO_TOKEN")?;
    let api = Api {
        http: reqwest::Client::builder().tcp_nodelay(true).build()?,
        endpoint: endpoint.to_string(),
        token,
    };
    match cmd {
        AdminCmd::Cluster {
            cmd: ClusterCmd::Status,
        } => {
            let s: ClusterStatusOut = api.get("/api/v1/cluster/status").await?;
            print(o, &s, status_box);
        }
        AdminCmd::Cluster {
            cmd: ClusterCmd::Map,
        } => {
            let m: ClusterMapOut = api.get("/api/v1/cluster/map").await?;
            print(o, &m, map_tree);
        }
        AdminCmd::Cluster {
            cmd: ClusterCmd::Forget { kind, id },
        } => {
            let m: MemberOut = api
                .send(
                    api.http
                        .delete(api.url(&format!("/api/v1/cluster/members/{kind}/{id}"))),
                )
                .await?
                .context("empty response")?;
            print(o, &m, |m| {
                format!(
                    "forgot {} {} ({}, joined {})\n",
                    m.kind,
                    m.id,
                    m.address,
                    local_date(&m.joined)
                )
            });
        }
        AdminCmd::Osd { cmd: OsdCmd::List } => {
            let l: ListOsdsOut = api.get("/api/v1/osds").await?;
            print(o, &l, |l| {
                table(
                    &[
                        "ID",
                        "STATE",
                        "ADDRESS",
                        "DOMAIN",
                        "DISKS",
                        "USED",
                        "CAPACITY",
                        "LAST SCRUB",
                        "SCRUB ERRORS",
                    ],
                    l.osds
                        .iter()
                        .map(|x| {
                            vec![
                                x.id.clone(),
                                match (x.state, x.service.as_str()) {
                                    (OsdState::Up, "active") => "up".into(),
                                    (OsdState::Up, svc) => format!("up, {svc}"),
                                    (OsdState::Down, "new") => "new".into(),
                                    (OsdState::Down, "active") => "DOWN".into(),
                                    (OsdState::Down, svc) => format!("DOWN, {svc}"),
                                },
                                x.address.clone(),
                                x.failure_domain.clone(),
                                x.disks.len().to_string(),
                                human(x.disks.iter().map(|d| d.used_bytes).sum()),
                                human(x.disks.iter().map(|d| d.capacity_bytes).sum()),
                                x.disks
                                    .iter()
                                    .filter_map(|d| d.last_scrub.as_deref())
                                    .min()
                                    .map(local_date)
                                    .unwrap_or_else(|| "never".into()),
                                x.disks
                                    .iter()
                                    .map(|d| d.scrub_errors)
                                    .sum::<u64>()
                                    .to_string(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        AdminCmd::Osd {
            cmd: OsdCmd::DiskUsage,
        } => {
            let l: ListOsdsOut = api.get("/api/v1/osds").await?;
            print(o, &l, |l| {
                let mut rows = Vec::new();
                for x in &l.osds {
                    for d in &x.disks {
                        rows.push(vec![
                            x.id.clone(),
                            d.id.clone(),
                            d.path.clone(),
                            thousands(d.shards),
                            human(d.used_bytes),
                            human(d.free_bytes),
                            human(d.capacity_bytes),
                            percent(d.used_bytes, d.capacity_bytes),
                        ]);
                    }
                }
                table(
                    &[
                        "OSD", "DISK", "PATH", "SHARDS", "USED", "FREE", "CAPACITY", "USE%",
                    ],
                    rows,
                )
            });
        }
        AdminCmd::Bucket {
            cmd: BucketCmd::List,
        } => {
            let l: ListBucketsOut = api.get("/api/v1/buckets").await?;
            print(o, &l, |l| {
                table(
                    &["NAME", "OBJECTS", "OWNER", "CREATED"],
                    l.buckets
                        .iter()
                        .map(|b| {
                            vec![
                                b.name.clone(),
                                thousands(b.objects),
                                b.owner.clone(),
                                local_date(&b.created),
                            ]
                        })
                        .collect(),
                )
            });
        }
        AdminCmd::Bucket {
            cmd:
                BucketCmd::Create {
                    name,
                    owner,
                    object_lock,
                },
        } => {
            let b: BucketInfoOut = api
                .send(api.http.post(api.url("/api/v1/buckets")).json(&BucketIn {
                    name,
                    owner,
                    object_lock,
                }))
                .await?
                .context("empty response")?;
            print(o, &b, |b| {
                format!(
                    "created bucket {} (owner {}{})\n",
                    b.name,
                    b.owner,
                    if b.object_lock { ", object lock" } else { "" }
                )
            });
        }
        AdminCmd::Bucket {
            cmd: BucketCmd::Info { name },
        } => {
            let b: BucketInfoOut = api
                .get(&format!("/api/v1/buckets/{}", path_segment(&name)))
                .await?;
            print(o, &b, bucket_info);
        }
        AdminCmd::Bucket {
            cmd: BucketCmd::Delete { name, force, yes },
        } => {
            let seg = path_segment(&name);
            if force && !yes {
                let b: BucketInfoOut = api.get(&format!("/api/v1/buckets/{seg}")).await?;
                confirm(
                    &format!(
                        "Delete bucket {} and everything in it: {} objects, {} versions, {} delete markers, {}?",
                        b.name,
                        thousands(b.objects),
                        thousands(b.versions),
                        thousands(b.delete_markers),
                        human(b.bytes)
                    ),
                    &b.name,
                )?;
            }
            let d: BucketDeletedOut = api
                .send(
                    api.http
                        .delete(api.url(&format!("/api/v1/buckets/{seg}?force={force}"))),
                )
                .await?
                .context("empty response")?;
            print(o, &d, |d| match d.versions_deleted {
                0 => format!("deleted bucket {}\n", d.name),
                n => format!(
                    "deleted bucket {} and {} object versions\n",
                    d.name,
                    thousands(n)
                ),
            });
        }
        AdminCmd::Meta {
            cmd: MetaCmd::Status,
        } => {
            let s: MetaStatusOut = api.get("/api/v1/meta/status").await?;
            print(o, &s, meta_status);
        }
        AdminCmd::Meta {
            cmd: MetaCmd::Export { output },
        } => meta::export(&api, o, &output).await?,
        AdminCmd::Meta {
            cmd: MetaCmd::Import { input, force, yes },
        } => meta::import(&api, o, &input, force, yes).await?,
        AdminCmd::Meta {
            cmd: MetaCmd::Snapshot,
        } => {
            let s: SnapshotOut = api.post("/api/v1/meta/snapshot").await?;
            print(o, &s, |s| {
                let mut t = format!(
                    "saved {} ({}, from etcd member {})\n",
                    s.path,
                    human(s.bytes),
                    s.member
                );
                for r in &s.removed {
                    t += &format!("removed {r} (retention)\n");
                }
                t
            });
        }
        AdminCmd::Osd {
            cmd: OsdCmd::Out { id },
        } => osd_state(&api, o, &id, "out").await?,
        AdminCmd::Osd {
            cmd: OsdCmd::In { id },
        } => osd_state(&api, o, &id, "in").await?,
        AdminCmd::Osd {
            cmd: OsdCmd::Scrub { id },
        } => {
            let r: ScrubRequestOut = api.post(&format!("/api/v1/osds/{id}/scrub")).await?;
            print(o, &r, |r| {
                format!(
                    "scrub of {} asked for at {}\n",
                    r.osd,
                    local_date(&r.requested)
                )
            });
        }
        AdminCmd::Osd {
            cmd: OsdCmd::OkToStop { id },
        } => {
            let r: OkToStopOut = api.get(&format!("/api/v1/osds/{id}/ok-to-stop")).await?;
            print(o, &r, |r| {
                let mut out = if r.ok_to_stop {
                    format!("{}: ok to stop ({})\n", r.osd, r.reason)
                } else {
                    format!("{}: NOT ok to stop ({})\n", r.osd, r.reason)
                };
                for e in &r.examples {
                    out += &format!("  {e}\n");
                }
                out
            });
            if !r.ok_to_stop {
                bail!("stopping {id} now could make objects unreadable");
            }
        }
        AdminCmd::Osd {
            cmd:
                OsdCmd::Add {
                    address,
                    disks,
                    id,
                    failure_domain,
                    weight,
                },
        } => {
            let r: OsdAddOut = api
                .send(api.http.post(api.url("/api/v1/osds")).json(&OsdAddIn {
                    id,
                    address,
                    disks,
                    failure_domain,
                    weight,
                }))
                .await?
                .context("empty response")?;
            print(o, &r, |r| {
                let what = if r.created {
                    format!("added OSD {} at {} (state {})", r.osd, r.address, r.service)
                } else {
                    format!("added disks to OSD {}", r.osd)
                };
                let disks = if r.disk_paths.is_empty() {
                    String::new()
                } else {
                    format!(", disks {}", r.disk_paths.join(", "))
                };
                format!("{what}{disks}\n{}\n", r.message)
            });
        }
        AdminCmd::Osd {
            cmd: OsdCmd::Reweight { id, weight },
        } => {
            let r: OsdAddOut = api
                .send(
                    api.http
                        .post(api.url(&format!("/api/v1/osds/{id}/weight")))
                        .json(&OsdWeightIn { weight }),
                )
                .await?
                .context("empty response")?;
            print(o, &r, |r| {
                format!("OSD {} weight {}\n{}\n", r.osd, weight, r.message)
            });
        }
        AdminCmd::Osd {
            cmd: OsdCmd::Drain { id },
        } => {
            let r: DrainOut = api.post(&format!("/api/v1/osds/{id}/drain")).await?;
            print(o, &r, |r| {
                format!(
                    "{}: draining; no new shards go to it and its shards move elsewhere\nwait with: objectio-cli osd wait-drained {}\n",
                    r.osd, r.osd
                )
            });
        }
        AdminCmd::Osd {
            cmd: OsdCmd::Undrain { id },
        } => {
            let r: DrainOut = api.post(&format!("/api/v1/osds/{id}/undrain")).await?;
            print(o, &r, |r| {
                format!(
                    "{}: back in service ({} objects moved off it stay moved)\n",
                    r.osd,
                    thousands(r.moved_objects)
                )
            });
        }
        AdminCmd::Osd {
            cmd: OsdCmd::WaitDrained { id, timeout },
        } => wait_drained(&api, o, &id, timeout).await?,
        AdminCmd::Osd {
            cmd: OsdCmd::Remove { id, force },
        } => {
            let r: OsdRemoveOut = api
                .send(
                    api.http
                        .delete(api.url(&format!("/api/v1/osds/{id}")))
                        .query(&[("force", force)]),
                )
                .await?
                .context("empty response")?;
            print(o, &r, |r| {
                let mut out = format!("removed OSD {}\n", r.osd);
                if r.objects_losing_redundancy > 0 {
                    out += &format!(
                        "{} object(s) lost {} shard(s) with it; repair is rebuilding them:\n",
                        thousands(r.objects_losing_redundancy),
                        thousands(r.shards_referencing)
                    );
                    for e in &r.examples {
                        out += &format!("  {e}\n");
                    }
                }
                out
            });
        }
        AdminCmd::Cluster {
            cmd: ClusterCmd::Rebalance { cmd },
        } => {
            let path = match cmd {
                RebalanceCmd::Status { .. } => None,
                RebalanceCmd::Start => Some("/api/v1/cluster/rebalance/start"),
                RebalanceCmd::Stop => Some("/api/v1/cluster/rebalance/stop"),
            };
            let mut r: RebalanceOut = match path {
                None => api.get("/api/v1/cluster/rebalance").await?,
                Some(p) => api.post(p).await?,
            };
            if matches!(cmd, RebalanceCmd::Status { watch: true }) && o == Output::Table {
                let mut bar = Bar::new();
                while matches!(r.state.as_str(), "pending" | "planning" | "moving") {
                    bar.draw(&moves_line(
                        r.objects_left,
                        r.bytes_left,
                        r.moved_objects,
                        r.moved_bytes,
                        r.rate_bytes_per_sec,
                        r.eta_secs,
                    ))?;
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    r = api.get("/api/v1/cluster/rebalance").await?;
                }
                bar.done();
            }
            print(o, &r, rebalance_text);
        }
        AdminCmd::Object {
            cmd: ObjectCmd::Health { path, version_id },
        } => {
            let (bucket, key) = object_path(&path)?;
            let h: ObjectHealthOut = api
                .send(
                    api.http
                        .get(api.url("/api/v1/objects/health"))
                        .query(&[("bucket", bucket), ("key", key)])
                        .query(&[("version_id", version_id.as_deref())]),
                )
                .await?
                .context("empty response")?;
            print(o, &h, health_text);
            if h.verdict == "at_risk" || h.verdict == "lost" {
                bail!("{bucket}/{key} is {}", h.verdict.replace('_', " "));
            }
        }
        AdminCmd::Object {
            cmd:
                ObjectCmd::Repair {
                    path,
                    force,
                    version_id,
                },
        } => {
            let (bucket, key) = object_path(&path)?;
            let r: ObjectRepairOut = api
                .send(
                    api.http
                        .post(api.url("/api/v1/objects/repair"))
                        .json(&ObjectRepairIn {
                            bucket: bucket.into(),
                            key: key.into(),
                            version_id,
                            force,
                        }),
                )
                .await?
                .context("empty response")?;
            print(o, &r, object_repair_text);
            match r.outcome.as_str() {
                "lost" => bail!("{bucket}/{key} cannot be recovered"),
                "skipped" => bail!("{bucket}/{key} cannot be repaired now"),
                _ => {}
            }
        }
        AdminCmd::Meta {
            cmd:
                MetaCmd::Rebuild {
                    from_scan,
                    dry_run,
                    force,
                    owner,
                },
        } => {
            let mut scans = Vec::with_capacity(from_scan.len());
            for f in &from_scan {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("reading {}", f.display()))?;
                let scan: DiskScanIn = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not a disk scan", f.display()))?;
                scans.push(scan);
            }
            let r: RebuildOut = api
                .send(
                    api.http
                        .post(api.url("/api/v1/meta/rebuild"))
                        .json(&RebuildIn {
                            scans,
                            dry_run,
                            force,
                            owner,
                        }),
                )
                .await?
                .context("empty response")?;
            print(o, &r, rebuild_text);
        }
        AdminCmd::Repair {
            cmd: RepairCmd::Status { watch },
        } => {
            let mut r: RepairStatusOut = api.get("/api/v1/repair").await?;
            if watch && o == Output::Table {
                let mut bar = Bar::new();
                while r.running && !r.stopped {
                    bar.draw(&progress_line(&r))?;
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    r = api.get("/api/v1/repair").await?;
                }
                bar.done();
            }
            print(o, &r, repair_text);
        }
        AdminCmd::Repair {
            cmd: RepairCmd::Start { osd },
        } => {
            let r: RepairStatusOut = api
                .send(
                    api.http
                        .post(api.url("/api/v1/repair/start"))
                        .json(&RepairStartIn { osd }),
                )
                .await?
                .context("empty response")?;
            print(o, &r, repair_text);
        }
        AdminCmd::Repair {
            cmd: RepairCmd::Stop,
        } => {
            let r: RepairStatusOut = api.post("/api/v1/repair/stop").await?;
            print(o, &r, repair_text);
        }
        AdminCmd::User { cmd } => user(&api, o, cmd).await?,
        AdminCmd::Key { cmd } => key(&api, o, cmd).await?,
    }
    Ok(())
}

/// `BUCKET/KEY`, split.
fn object_path(path: &str) -> anyhow::Result<(&str, &str)> {
    path.split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .context("give the object as BUCKET/KEY")
}

fn object_repair_text(r: &ObjectRepairOut) -> String {
    let mut out = match r.outcome.as_str() {
        "healthy" => format!(
            "{}/{}: nothing to rebuild, no shard is lost (--force also searches every disk and reads every chunk)\n",
            r.bucket, r.key
        ),
        "repaired" => format!(
            "{}/{}: repaired, {} shard(s) rebuilt ({})\n",
            r.bucket,
            r.key,
            r.shards_rebuilt,
            human(r.bytes_rebuilt)
        ),
        "raced" => format!(
            "{}/{}: changed while it was repaired (overwritten or deleted); the change stands\n",
            r.bucket, r.key
        ),
        "lost" => format!("{}/{}: LOST, nothing was written\n", r.bucket, r.key),
        _ => format!("{}/{}: cannot be repaired now\n", r.bucket, r.key),
    };
    if r.found_elsewhere > 0 {
        out += &format!(
            "used {} shard(s) found on disks the record did not name\n",
            r.found_elsewhere
        );
    }
    for s in &r.lost_stripes {
        out += &format!("lost: part {} stripe {}\n", s.part, s.stripe);
    }
    if let Some(why) = &r.reason {
        out += &format!("reason: {why}\n");
    }
    out
}

fn rebuild_text(r: &RebuildOut) -> String {
    let verb = if r.dry_run { "would create" } else { "created" };
    let mut out = format!(
        "read {} shard header(s) from {} disk scan(s); {} left out (another cluster, a disk not in the map, or deleted)\n",
        thousands(r.shards),
        r.disks,
        thousands(r.shards_ignored)
    );
    out += &format!(
        "{verb} {} object(s) ({} multipart, {}) and {} bucket(s){}\n",
        thousands(r.objects_created),
        thousands(r.multipart_objects),
        human(r.bytes),
        r.buckets_created.len(),
        if r.buckets_created.is_empty() {
            String::new()
        } else {
            format!(": {}", r.buckets_created.join(", "))
        }
    );
    if r.objects_existing > 0 {
        out += &format!(
            "{} key(s) already in the index, left as they are\n",
            thousands(r.objects_existing)
        );
    }
    if r.older_versions > 0 {
        out += &format!(
            "{} older version(s) left out (a newer one exists)\n",
            thousands(r.older_versions)
        );
    }
    if r.skipped_count > 0 {
        out += &format!("{} skipped:\n", thousands(r.skipped_count));
        for s in &r.skipped {
            out += &format!("  {}/{}: {}\n", s.bucket, s.key, s.reason);
        }
    }
    if r.dry_run {
        out += "dry run: nothing was written\n";
    }
    out
}

fn deleted(d: &DeletedOut) -> String {
    let mut out = format!("deleted {} {}", d.kind, d.id);
    if d.kind == "user" && !d.keys_deleted.is_empty() {
        out += &format!(" and its keys {}", d.keys_deleted.join(", "));
    }
    out += &format!(
        "\n{} gateway(s) confirmed they refuse the key(s)\n",
        d.gateways_confirmed
    );
    if !d.unconfirmed.is_empty() {
        out += &format!(
            "not confirmed in time: {} (they stop trusting their copy within seconds)\n",
            d.unconfirmed.join(", ")
        );
    }
    out
}

async fn osd_state(api: &Api, o: Output, id: &str, state: &str) -> anyhow::Result<()> {
    let r: OsdStateChangeOut = api.post(&format!("/api/v1/osds/{id}/{state}")).await?;
    print(o, &r, |r| {
        format!(
            "{} is {}: {} disk(s) changed\n",
            r.osd,
            r.state,
            r.disks_changed.len()
        )
    });
    Ok(())
}

fn health_text(h: &ObjectHealthOut) -> String {
    let mut out = format!(
        "{}/{}  version {}  {}  {}+{}\nverdict: {} (can lose {} more shard(s))\n",
        h.bucket,
        h.key,
        h.version_id,
        human(h.size),
        h.k,
        h.m,
        h.verdict.to_uppercase().replace('_', " "),
        h.redundancy_left.max(0)
    );
    for s in &h.segments {
        if h.segments.len() > 1 || s.part > 0 {
            if s.manifest {
                out += &format!("manifest ({})\n", human(s.size));
            } else {
                out += &format!("part {} ({})\n", s.part, human(s.size));
            }
        }
        let rows = s
            .shards
            .iter()
            .map(|sh| {
                vec![
                    sh.index.to_string(),
                    sh.osd.clone().unwrap_or_else(|| "-".into()),
                    sh.disk.clone().unwrap_or_else(|| "-".into()),
                    sh.verdict.clone(),
                    format!("{}/{}", sh.chunks_ok, sh.chunks),
                    sh.detail.clone().unwrap_or_default(),
                ]
            })
            .collect();
        out += &table(
            &["SHARD", "OSD", "DISK", "STATE", "CHUNKS OK", "DETAIL"],
            rows,
        );
        if !s.lost_stripes.is_empty() {
            out += &format!("lost stripes: {:?}\n", s.lost_stripes);
        } else if !s.unreadable_stripes.is_empty() {
            out += &format!(
                "stripes unreadable until down OSDs return: {:?}\n",
                s.unreadable_stripes
            );
        }
    }
    out
}

/// `[#####-----] 42% (4,200 of 10,000 objects), 35.2 MiB/s, ETA 3m 10s`.
/// A progress line redrawn in place on a terminal (one line per draw
/// otherwise).
struct Bar {
    tty: bool,
    drawn: bool,
}

impl Bar {
    fn new() -> Self {
        use std::io::IsTerminal;
        Self {
            tty: std::io::stdout().is_terminal(),
            drawn: false,
        }
    }

    fn draw(&mut self, line: &str) -> anyhow::Result<()> {
        use std::io::Write;
        if self.tty {
            print!("\r{line}\x1b[K");
            std::io::stdout().flush()?;
        } else {
            println!("{line}");
        }
        self.drawn = true;
        Ok(())
    }

    fn done(&self) {
        if self.tty && self.drawn {
            println!();
        }
    }
}

/// A mover's progress: a bar over bytes, objects and bytes left, rate, ETA.
fn moves_line(
    objects_left: Option<u64>,
    bytes_left: Option<u64>,
    moved_objects: u64,
    moved_bytes: u64,
    rate: u64,
    eta: Option<u64>,
) -> String {
    const WIDTH: u64 = 30;
    let (Some(ol), Some(bl)) = (objects_left, bytes_left) else {
        return format!(
            "counting what to move... ({} objects, {} moved so far)",
            thousands(moved_objects),
            human(moved_bytes)
        );
    };
    let total = (moved_bytes + bl).max(1);
    let done = (moved_bytes * WIDTH / total).min(WIDTH);
    format!(
        "[{}{}] {}% {} objects ({}) left, {} moved, {}/s, ETA {}",
        "#".repeat(done as usize),
        "-".repeat((WIDTH - done) as usize),
        moved_bytes * 100 / total,
        thousands(ol),
        human(bl),
        human(moved_bytes),
        human(rate),
        eta.map(duration).unwrap_or_else(|| "unknown".into())
    )
}

fn rebalance_text(r: &RebalanceOut) -> String {
    let mut out = match r.state.as_str() {
        "paused" => "Rebalance: paused (objectio-cli cluster rebalance start resumes it)\n".into(),
        "waiting" => {
            "Rebalance: waiting (an OSD in service is down; it resumes when the OSD is back)\n"
                .into()
        }
        "idle" => "Rebalance: idle (every shard is where placement prefers it)\n".to_string(),
        "pending" => "Rebalance: pending (capacity changed; a pass starts shortly)\n".to_string(),
        state => format!(
            "Rebalance: {state} since {}\n{}\n",
            r.pass_started
                .as_deref()
                .map(local_date)
                .unwrap_or_default(),
            moves_line(
                r.objects_left,
                r.bytes_left,
                r.moved_objects,
                r.moved_bytes,
                r.rate_bytes_per_sec,
                r.eta_secs
            )
        ),
    };
    if let Some(f) = &r.last_finished {
        out += &format!("Last rebalance finished: {}\n", local_date(f));
    }
    out += &format!(
        "Moved since the start: {} shards, {}\n",
        thousands(r.total_moved_shards),
        human(r.total_moved_bytes)
    );
    out
}

/// `osd wait-drained`: polls the drain until nothing references the OSD.
async fn wait_drained(
    api: &Api,
    o: Output,
    id: &str,
    timeout: Option<std::time::Duration>,
) -> anyhow::Result<()> {
    let began = std::time::Instant::now();
    let path = format!("/api/v1/osds/{id}/drain");
    let mut bar = Bar::new();
    loop {
        let r: DrainOut = api.get(&path).await?;
        if r.service != "draining" {
            bar.done();
            bail!(
                "{id} is not draining (it is {}): start with objectio-cli osd drain {id}",
                r.service
            );
        }
        if r.drained {
            bar.done();
            print(o, &r, |r| {
                format!(
                    "{}: drained; nothing references it ({} objects, {} moved in the last pass)\n",
                    r.osd,
                    thousands(r.moved_objects),
                    human(r.moved_bytes)
                )
            });
            return Ok(());
        }
        // A shard blocked for one pass (a stray copy awaiting GC) moves in
        // the next; three passes in a row is a failure.
        if r.blocked_passes >= 3 && !r.blocked.is_empty() {
            bar.done();
            bail!(
                "{id} cannot finish draining: {} shard(s) could not move: {}",
                r.shards_left.unwrap_or(0),
                r.blocked.join("; ")
            );
        }
        if let Some(t) = timeout
            && began.elapsed() >= t
        {
            bar.done();
            bail!(
                "timed out after {} with {id} not drained ({}){}",
                duration(t.as_secs()),
                match (r.objects_left, r.bytes_left) {
                    (Some(ol), Some(bl)) =>
                        format!("{} objects, {} left", thousands(ol), human(bl)),
                    _ => "still counting what to move".into(),
                },
                if r.blocked.is_empty() {
                    String::new()
                } else {
                    format!("; could not move: {}", r.blocked.join("; "))
                }
            );
        }
        if o == Output::Table {
            bar.draw(&moves_line(
                r.objects_left,
                r.bytes_left,
                r.moved_objects,
                r.moved_bytes,
                r.rate_bytes_per_sec,
                r.eta_secs,
            ))?;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

fn progress_line(r: &RepairStatusOut) -> String {
    const WIDTH: u64 = 30;
    let of = r.objects.max(r.scanned).max(1);
    let done = (r.scanned * WIDTH / of).min(WIDTH);
    format!(
        "[{}{}] {}% ({} of {} objects), {}/s, ETA {}",
        "#".repeat(done as usize),
        "-".repeat((WIDTH - done) as usize),
        r.scanned * 100 / of,
        thousands(r.scanned),
        thousands(r.objects.max(r.scanned)),
        human(r.rate_bytes_per_sec),
        r.eta_secs.map(duration).unwrap_or_else(|| "unknown".into())
    )
}

fn repair_text(r: &RepairStatusOut) -> String {
    let mut out = if r.stopped {
        "Repair: stopped (objectio-cli repair start resumes it)\n".to_string()
    } else if r.running {
        format!(
            "Repair: pass {} running since {}: {} objects scanned, {} repaired ({} shards, {}), {} skipped\n{}\n",
            r.passes + 1,
            r.pass_started
                .as_deref()
                .map(local_date)
                .unwrap_or_default(),
            thousands(r.scanned),
            thousands(r.repaired_objects),
            thousands(r.repaired_shards),
            human(r.bytes_rebuilt),
            thousands(r.skipped_count),
            progress_line(r)
        )
    } else {
        "Repair: idle\n".to_string()
    };
    if let Some(p) = &r.last {
        out += &format!(
            "Last pass: {} to {}: {} objects scanned, {} repaired ({} shards, {}), {} skipped\n",
            local_date(&p.started),
            local_date(&p.finished),
            thousands(p.scanned),
            thousands(p.repaired_objects),
            thousands(p.repaired_shards),
            human(p.bytes_rebuilt),
            thousands(p.skipped_count)
        );
    }
    out += &format!(
        "Since it began: {} objects repaired ({} shards, {} rebuilt)\n",
        thousands(r.total_repaired_objects),
        thousands(r.total_repaired_shards),
        human(r.total_bytes_rebuilt)
    );
    for s in &r.skipped {
        out += &format!("  skipped {}/{}: {}\n", s.bucket, s.key, s.reason);
    }
    out
}

fn user_table(users: &[UserOut]) -> String {
    table(
        &["NAME", "KEYS", "BUCKETS", "CREATED"],
        users
            .iter()
            .map(|u| {
                vec![
                    u.name.clone(),
                    u.keys.len().to_string(),
                    u.buckets.len().to_string(),
                    local_date(&u.created),
                ]
            })
            .collect(),
    )
}

async fn user(api: &Api, o: Output, cmd: UserCmd) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Create { name } => {
            let u: UserOut = api
                .send(
                    api.http
                        .post(api.url("/api/v1/users"))
                        .json(&UserIn { name }),
                )
                .await?
                .context("empty response")?;
            print(o, &u, |u| format!("created user {} ({})\n", u.name, u.arn));
        }
        UserCmd::List => {
            let l: ListUsersOut = api.get("/api/v1/users").await?;
            print(o, &l, |l| user_table(&l.users));
        }
        UserCmd::Info { name } => {
            let u: UserOut = api.get(&format!("/api/v1/users/{name}")).await?;
            print(o, &u, |u| {
                format!(
                    "name:     {}\narn:      {}\ncreated:  {}{}\nkeys:     {}\nbuckets:  {}\n",
                    u.name,
                    u.arn,
                    local_date(&u.created),
                    if u.migrated {
                        " (migrated from a key made before users)"
                    } else {
                        ""
                    },
                    if u.keys.is_empty() {
                        "-".into()
                    } else {
                        u.keys.join(", ")
                    },
                    if u.buckets.is_empty() {
                        "-".into()
                    } else {
                        u.buckets.join(", ")
                    },
                )
            });
        }
        UserCmd::Delete { name, purge_keys } => {
            let d: DeletedOut = api
                .send(
                    api.http
                        .delete(api.url(&format!("/api/v1/users/{name}")))
                        .query(&[("purge_keys", purge_keys)]),
                )
                .await?
                .context("empty response")?;
            print(o, &d, deleted);
        }
    }
    Ok(())
}

async fn key(api: &Api, o: Output, cmd: KeyCmd) -> anyhow::Result<()> {
    match cmd {
        KeyCmd::Create { user, name } => {
            let k: AccessKeyOut = api
                .send(
                    api.http
                        .post(api.url("/api/v1/keys"))
                        .json(&AccessKeyIn { user, name }),
                )
                .await?
                .context("empty response")?;
            print(o, &k, |k| {
                format!(
                    "user:              {}\naccess_key_id:     {}\nsecret_access_key: {}\n(the secret is shown only now)\n",
                    k.user,
                    k.access_key_id,
                    k.secret_access_key.as_deref().unwrap_or("")
                )
            });
        }
        KeyCmd::List { user } => {
            let mut req = api.http.get(api.url("/api/v1/keys"));
            if let Some(u) = &user {
                req = req.query(&[("user", u)]);
            }
            let l: ListAccessKeysOut = api.send(req).await?.context("empty response")?;
            print(o, &l, |l| {
                table(
                    &["ACCESS KEY ID", "USER", "NAME", "CREATED"],
                    l.keys
                        .iter()
                        .map(|k| {
                            vec![
                                k.access_key_id.clone(),
                                k.user.clone(),
                                k.name.clone(),
                                local_date(&k.created),
                            ]
                        })
                        .collect(),
                )
            });
        }
        KeyCmd::Delete { access_key_id } => {
            let d: DeletedOut = api
                .send(
                    api.http
                        .delete(api.url(&format!("/api/v1/keys/{access_key_id}"))),
                )
                .await?
                .context("empty response")?;
            print(o, &d, deleted);
        }
    }
    Ok(())
}

fn main() {
    // Before any thread exists: the local offset cannot be read later.
    let _ =
        LOCAL_OFFSET.set(time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC));
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(run(cli)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ClusterStatusOut {
        ClusterStatusOut {
            name: "c".into(),
            cluster_id: "x".into(),
            state: ClusterState::Degraded,
            gateways: Members {
                healthy: 2,
                total: 2,
                missing: vec![],
            },
            meta: MetaMembers {
                healthy: 3,
                total: 3,
                leader: Some("meta2".into()),
                missing: vec![],
            },
            osds: OsdSummary {
                up: 6,
                total: 7,
                down: vec!["osd3".into()],
            },
            objects: ObjectSummary {
                total: 1234567,
                degraded: 5432,
                at_risk: 0,
                at_risk_osds: vec![],
                counted_at: None,
            },
            capacity: Capacity {
                used_bytes: 45,
                total_bytes: 100,
            },
            ec: EcProfileOut {
                k: 4,
                m: 2,
                chunk_size: 1 << 20,
            },
            repair: None,
        }
    }

    #[test]
    fn the_degraded_panel_shows_repair_and_its_eta() {
        let mut s = sample();
        s.repair = Some(RepairProgress {
            scanned: 100,
            objects: 1000,
            eta_secs: Some(2 * 3600 + 15 * 60),
        });
        let b = status_box(&s);
        assert!(b.contains("│ Repair:    In progress (ETA: 2h 15m)"), "{b}");
        assert_eq!(duration(250), "4m 10s");
        assert_eq!(duration(12), "12s");
    }

    #[test]
    fn repair_progress_bar_shows_share_rate_and_eta() {
        let r: RepairStatusOut = serde_json::from_value(serde_json::json!({
            "running": true, "passes": 3, "scanned": 250, "repaired_objects": 10,
            "repaired_shards": 10, "bytes_rebuilt": 0, "skipped_count": 0, "skipped": [],
            "total_repaired_objects": 0, "total_repaired_shards": 0, "total_bytes_rebuilt": 0,
            "stopped": false, "objects": 1000, "rate_bytes_per_sec": 3145728, "eta_secs": 190
        }))
        .unwrap();
        let l = progress_line(&r);
        assert_eq!(
            l,
            format!(
                "[{}{}] 25% (250 of 1,000 objects), 3.0 MiB/s, ETA {}",
                "#".repeat(7),
                "-".repeat(23),
                duration(190)
            )
        );
    }

    #[test]
    fn status_box_matches_the_guide_layout() {
        let s = sample();
        let b = status_box(&s);
        assert!(b.contains("│ Cluster Status: DEGRADED "));
        assert!(b.contains("│ OSDs:      6/7 healthy (osd3: DOWN)"));
        assert!(b.contains("│ Objects:   1,234,567 (5,432 degraded)"));
        assert!(b.contains("│ Metadata:  3/3 healthy (leader: meta2)"));
        // Every line has the same width.
        let widths: Vec<usize> = b.lines().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{widths:?}");
        assert_eq!(widths[0], 59, "the guide's width");
        assert!(b.contains("│ Capacity:  45% used (45 B / 100 B)"), "{b}");
    }

    #[test]
    fn status_box_keeps_its_border_around_long_lines() {
        let mut s = sample();
        s.osds.down = (1..=12)
            .map(|i| format!("osd-with-a-long-name-{i}"))
            .collect();
        let b = status_box(&s);
        let widths: Vec<usize> = b.lines().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{b}");
        assert!(widths[0] > 59);
        for l in b.lines() {
            let last = l.chars().last().unwrap();
            assert!(matches!(last, '│' | '┐' | '┤' | '┘'), "{l}");
        }
    }

    #[test]
    fn sizes_are_iec_and_small_percentages_keep_a_decimal() {
        assert_eq!(human(2 << 30), "2.0 GiB");
        assert_eq!(human(512 << 20), "512.0 MiB");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(999), "999 B");
        assert_eq!(percent(5, 1000), "0.5%");
        assert_eq!(percent(95, 1000), "9.5%");
        assert_eq!(percent(455, 1000), "45%");
        assert_eq!(percent(0, 0), "0%");
    }

    #[test]
    fn dates_are_local_minutes_in_tables() {
        let _ = LOCAL_OFFSET.set(time::UtcOffset::UTC);
        assert_eq!(local_date("2026-12-01T20:18:59Z"), "2026-12-01 20:18");
        assert_eq!(local_date(&objectio_api::rfc3339(0)), "1970-01-01 00:00");
        // Not a date: shown as given.
        assert_eq!(local_date("soon"), "soon");
    }
}
