//! `objectio-cli`: the operator CLI over the admin API.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use objectio_api::*;
use serde::de::DeserializeOwned;

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
    /// Output: `table` (default) or `json`; for `disk scan`, the file to
    /// write the JSON report to.
    #[arg(long, short = 'o', global = true)]
    output: Option<String>,
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
    /// S3 access keys.
    Key {
        #[command(subcommand)]
        cmd: KeyCmd,
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
    },
}

#[derive(Subcommand)]
enum ClusterCmd {
    /// Overall state: HEALTHY, DEGRADED or CRITICAL, with members and objects.
    Status,
}

#[derive(Subcommand)]
enum OsdCmd {
    /// Every OSD with its state and disks.
    List,
    /// Used and free bytes and shard count of every disk.
    DiskUsage,
}

#[derive(Subcommand)]
enum BucketCmd {
    /// Every bucket.
    List,
}

#[derive(Subcommand)]
enum KeyCmd {
    /// Creates an access key and prints its secret (shown only once).
    Create {
        /// A label for the key.
        #[arg(long)]
        name: String,
    },
    /// Lists access keys (without secrets).
    List,
    /// Deletes an access key.
    Delete { access_key_id: String },
}

struct Api {
    http: reqwest::Client,
    endpoint: String,
    token: String,
}

impl Api {
    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> anyhow::Result<Option<T>> {
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the admin API at {}", self.endpoint))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let body = resp.bytes().await?;
        if !status.is_success() {
            match serde_json::from_slice::<ErrorOut>(&body) {
                Ok(e) => bail!("{} ({}): {}", status, e.code, e.message),
                Err(_) => bail!("{}: {}", status, String::from_utf8_lossy(&body)),
            }
        }
        Ok(Some(
            serde_json::from_slice(&body).context("unexpected response from the admin API")?,
        ))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.endpoint.trim_end_matches('/'), path)
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

fn human(b: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Draws the status box of the operations guide.
fn status_box(s: &ClusterStatusOut) -> String {
    const W: usize = 57;
    let line = |t: &str| format!("│ {:<w$}│\n", t, w = W - 1);
    let mut out = format!("┌{}┐\n", "─".repeat(W));
    out += &line(&format!("Cluster Status: {}", s.state));
    out += &format!("├{}┤\n", "─".repeat(W));
    out += &line(&format!(
        "Gateways:  {}/{} healthy",
        s.gateways.healthy, s.gateways.total
    ));
    let leader = s
        .meta
        .leader
        .as_deref()
        .map(|l| format!(" (leader: {l})"))
        .unwrap_or_default();
    out += &line(&format!(
        "Metadata:  {}/{} healthy{leader}",
        s.meta.healthy, s.meta.total
    ));
    let down = if s.osds.down.is_empty() {
        String::new()
    } else {
        format!(" ({}: DOWN)", s.osds.down.join(", "))
    };
    out += &line(&format!(
        "OSDs:      {}/{} healthy{down}",
        s.osds.up, s.osds.total
    ));
    let mut objects = thousands(s.objects.total);
    if s.objects.at_risk > 0 {
        objects += &format!(" ({} at risk)", thousands(s.objects.at_risk));
    } else if s.objects.degraded > 0 {
        objects += &format!(" ({} degraded)", thousands(s.objects.degraded));
    }
    out += &line(&format!("Objects:   {objects}"));
    let pct = (s.capacity.used_bytes * 100)
        .checked_div(s.capacity.total_bytes)
        .unwrap_or(0);
    out += &line(&format!(
        "Capacity:  {pct}% used ({} / {})",
        human(s.capacity.used_bytes),
        human(s.capacity.total_bytes)
    ));
    if s.state == ClusterState::Critical {
        out += &line("Action:    RESTORE OSDs IMMEDIATELY");
    }
    out += &format!("└{}┘\n", "─".repeat(W));
    out
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

fn output(o: &Option<String>) -> anyhow::Result<Output> {
    match o.as_deref() {
        None | Some("table") => Ok(Output::Table),
        Some("json") => Ok(Output::Json),
        Some(other) => bail!("--output must be table or json, not {other:?}"),
    }
}

/// `disk scan`: offline, straight from the device.
async fn disk_scan(device: &std::path::Path, out: Option<&str>) -> anyhow::Result<()> {
    let dev = objectio_engine::device::sync::SyncDevice::open_read_only(device)
        .with_context(|| format!("opening {}", device.display()))?;
    let report = objectio_engine::scan::scan(&dev).await;
    let json = serde_json::to_string_pretty(&report)?;
    let corrupt = report.shards.iter().filter(|s| s.checksum != "ok").count();
    match out {
        None | Some("-") => println!("{json}"),
        Some(path) => {
            std::fs::write(path, json + "\n").with_context(|| format!("writing {path}"))?;
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
            cmd: DiskCmd::Scan { device },
        } => disk_scan(&device, cli.output.as_deref()).await,
        Cmd::Admin(cmd) => admin(cmd, &cli.endpoint, cli.token, &cli.output).await,
    }
}

async fn admin(
    cmd: AdminCmd,
    endpoint: &str,
    token: Option<String>,
    out: &Option<String>,
) -> anyhow::Result<()> {
    let o = output(out)?;
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
        AdminCmd::Osd { cmd: OsdCmd::List } => {
            let l: ListOsdsOut = api.get("/api/v1/osds").await?;
            print(o, &l, |l| {
                table(
                    &[
                        "ID", "STATE", "ADDRESS", "DOMAIN", "DISKS", "USED", "CAPACITY",
                    ],
                    l.osds
                        .iter()
                        .map(|x| {
                            vec![
                                x.id.clone(),
                                match x.state {
                                    OsdState::Up => "up".into(),
                                    OsdState::Down => "DOWN".into(),
                                },
                                x.address.clone(),
                                x.failure_domain.clone(),
                                x.disks.len().to_string(),
                                human(x.disks.iter().map(|d| d.used_bytes).sum()),
                                human(x.disks.iter().map(|d| d.capacity_bytes).sum()),
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
                        let pct = (d.used_bytes * 100)
                            .checked_div(d.capacity_bytes)
                            .unwrap_or(0);
                        rows.push(vec![
                            x.id.clone(),
                            d.id.clone(),
                            d.path.clone(),
                            thousands(d.shards),
                            human(d.used_bytes),
                            human(d.free_bytes),
                            human(d.capacity_bytes),
                            format!("{pct}%"),
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
                                b.created.to_string(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        AdminCmd::Key {
            cmd: KeyCmd::Create { name },
        } => {
            let k: AccessKeyOut = api
                .send(
                    api.http
                        .post(api.url("/api/v1/keys"))
                        .json(&AccessKeyIn { name }),
                )
                .await?
                .context("empty response")?;
            print(o, &k, |k| {
                format!(
                    "access_key_id:     {}\nsecret_access_key: {}\n",
                    k.access_key_id,
                    k.secret_access_key.as_deref().unwrap_or("")
                )
            });
        }
        AdminCmd::Key { cmd: KeyCmd::List } => {
            let l: ListAccessKeysOut = api.get("/api/v1/keys").await?;
            print(o, &l, |l| {
                table(
                    &["ACCESS KEY ID", "NAME", "CREATED"],
                    l.keys
                        .iter()
                        .map(|k| {
                            vec![
                                k.access_key_id.clone(),
                                k.name.clone(),
                                k.created.to_string(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        AdminCmd::Key {
            cmd: KeyCmd::Delete { access_key_id },
        } => {
            api.send::<serde_json::Value>(
                api.http
                    .delete(api.url(&format!("/api/v1/keys/{access_key_id}"))),
            )
            .await?;
            if o == Output::Table {
                println!("deleted {access_key_id}");
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_box_matches_the_guide_layout() {
        let s = ClusterStatusOut {
            name: "c".into(),
            cluster_id: "x".into(),
            state: ClusterState::Degraded,
            gateways: Members {
                healthy: 2,
                total: 2,
            },
            meta: MetaMembers {
                healthy: 3,
                total: 3,
                leader: Some("meta2".into()),
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
        };
        let b = status_box(&s);
        assert!(b.contains("│ Cluster Status: DEGRADED "));
        assert!(b.contains("│ OSDs:      6/7 healthy (osd3: DOWN)"));
        assert!(b.contains("│ Objects:   1,234,567 (5,432 degraded)"));
        assert!(b.contains("│ Metadata:  3/3 healthy (leader: meta2)"));
        // Every line has the same width.
        let widths: Vec<usize> = b.lines().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{widths:?}");
    }
}
