//! `cluster status|map|forget|rebalance`.

use anyhow::Context;
use clap::Subcommand;
use objectio_api::*;

use crate::Output;
use crate::api::Api;
use crate::ui::*;

#[derive(Subcommand)]
pub(crate) enum ClusterCmd {
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

/// Runs one `cluster` command.
pub(crate) async fn run(api: &Api, o: Output, cmd: ClusterCmd) -> anyhow::Result<()> {
    match cmd {
        ClusterCmd::Status => {
            let s: ClusterStatusOut = api.get("/api/v1/cluster/status").await?;
            print(o, &s, status_box);
        }
        ClusterCmd::Map => {
            let m: ClusterMapOut = api.get("/api/v1/cluster/map").await?;
            print(o, &m, map_tree);
        }
        ClusterCmd::Forget { kind, id } => {
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
        ClusterCmd::Rebalance { cmd } => {
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
    }
    Ok(())
}

#[derive(Subcommand)]
pub(crate) enum RebalanceCmd {
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

/// Draws the status box of the operations guide.
pub(crate) fn status_box(s: &ClusterStatusOut) -> String {
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

/// The cluster map as a tree: failure domains, their OSDs, their disks.
pub(crate) fn map_tree(m: &ClusterMapOut) -> String {
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

pub(crate) fn rebalance_text(r: &RebalanceOut) -> String {
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
