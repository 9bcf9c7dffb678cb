//! `objectio-cli`: the operator CLI over the admin API.

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

mod api;
mod bucket;
mod cluster;
mod disk;
mod key;
mod meta;
mod object;
mod osd;
mod repair;
mod token;
mod ui;
mod user;

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
    /// PEM certificate(s) of the CA that signed the admin API's TLS
    /// certificate, besides the public roots (for an `https://` endpoint).
    #[arg(long, global = true, env = "OBJECTIO_CA_CERT", value_name = "FILE")]
    ca_cert: Option<std::path::PathBuf>,
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
        cmd: disk::DiskCmd,
    },
    /// Prints a shell completion script, e.g.
    /// `objectio-cli completions bash > /etc/bash_completion.d/objectio-cli`
    /// or `objectio-cli completions zsh > "${fpath[1]}/_objectio-cli"`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Commands that go through the admin API.
#[derive(Subcommand)]
enum AdminCmd {
    /// Cluster-wide views.
    Cluster {
        #[command(subcommand)]
        cmd: cluster::ClusterCmd,
    },
    /// OSDs.
    Osd {
        #[command(subcommand)]
        cmd: osd::OsdCmd,
    },
    /// Buckets.
    Bucket {
        #[command(subcommand)]
        cmd: bucket::BucketCmd,
    },
    /// Objects, one at a time.
    Object {
        #[command(subcommand)]
        cmd: object::ObjectCmd,
    },
    /// The metadata service: rebuilding the index from disk scans.
    Meta {
        #[command(subcommand)]
        cmd: meta::MetaCmd,
    },
    /// The repair controller (rebuilds lost shards by itself).
    Repair {
        #[command(subcommand)]
        cmd: repair::RepairCmd,
    },
    /// Users: own access keys and buckets.
    User {
        #[command(subcommand)]
        cmd: user::UserCmd,
    },
    /// S3 access keys (each acts as one user).
    Key {
        #[command(subcommand)]
        cmd: key::KeyCmd,
    },
    /// Admin tokens: scope read or admin, optional expiry.
    Token {
        #[command(subcommand)]
        cmd: token::TokenCmd,
    },
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Disk {
            cmd: disk::DiskCmd::Scan { device, output },
        } => disk::disk_scan(&device, output.as_deref()).await,
        Cmd::Admin(cmd) => {
            admin(
                cmd,
                &cli.endpoint,
                cli.token,
                cli.ca_cert.as_deref(),
                cli.format,
            )
            .await
        }
        Cmd::Completions { shell } => {
            use clap::CommandFactory;
            use std::io::Write;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "objectio-cli", &mut script);
            if shell == clap_complete::Shell::Bash {
                // clap_complete 4.6 spells the hyphenated name one way in
                // its dispatch loop and another in the case labels, so
                // nothing completes past the first word
                // (clap-rs/clap#6421): spell the labels as the loop does.
                let fixed =
                    String::from_utf8(script)?.replace("objectio__subcmd__cli", "objectio__cli");
                script = fixed.into_bytes();
            }
            match std::io::stdout().write_all(&script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            }
        }
    }
}

async fn admin(
    cmd: AdminCmd,
    endpoint: &str,
    token: Option<String>,
    ca_cert: Option<&std::path::Path>,
    o: Output,
) -> anyhow::Result<()> {
    let token = token
        .filter(|t| !t.is_empty())
        .context("no admin token: set OBJECTIO_TOKEN")?;
    let mut http = reqwest::Client::builder().tcp_nodelay(true);
    if let Some(f) = ca_cert {
        let pem = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        for c in reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("{}: not PEM certificates", f.display()))?
        {
            http = http.add_root_certificate(c);
        }
    }
    let api = api::Api {
        http: http.build()?,
        endpoint: endpoint.to_string(),
        token,
    };
    match cmd {
        AdminCmd::Cluster { cmd } => cluster::run(&api, o, cmd).await,
        AdminCmd::Osd { cmd } => osd::run(&api, o, cmd).await,
        AdminCmd::Bucket { cmd } => bucket::run(&api, o, cmd).await,
        AdminCmd::Object { cmd } => object::run(&api, o, cmd).await,
        AdminCmd::Meta { cmd } => meta::run(&api, o, cmd).await,
        AdminCmd::Repair { cmd } => repair::run(&api, o, cmd).await,
        AdminCmd::User { cmd } => user::run(&api, o, cmd).await,
        AdminCmd::Key { cmd } => key::run(&api, o, cmd).await,
        AdminCmd::Token { cmd } => token::run(&api, o, cmd).await,
    }
}

fn main() {
    // `objectio-cli osd list | head`: when the reader goes away, end quietly
    // as other Unix tools do, rather than panic in `println!` on EPIPE.
    #[allow(unsafe_code)]
    // SAFETY: setting a signal's disposition to its default, before any
    // other thread exists, touches no memory of this process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Before any thread exists: the local offset cannot be read later.
    let _ = ui::LOCAL_OFFSET
        .set(time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC));
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
    use crate::cluster::status_box;
    use crate::repair::progress_line;
    use crate::ui::*;
    use objectio_api::*;

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
