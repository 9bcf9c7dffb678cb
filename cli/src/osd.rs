//! `osd list|disk-usage|out|in|scrub|ok-to-stop|add|reweight|drain|wait-drained|undrain|remove`.

use anyhow::{Context, bail};
use clap::Subcommand;
use objectio_api::*;

use crate::Output;
use crate::api::Api;
use crate::ui::*;

#[derive(Subcommand)]
pub(crate) enum OsdCmd {
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

/// Runs one `osd` command.
pub(crate) async fn run(api: &Api, o: Output, cmd: OsdCmd) -> anyhow::Result<()> {
    match cmd {
        OsdCmd::List => {
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
        OsdCmd::DiskUsage => {
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
        OsdCmd::Out { id } => osd_state(api, o, &id, "out").await?,
        OsdCmd::In { id } => osd_state(api, o, &id, "in").await?,
        OsdCmd::Scrub { id } => {
            let r: ScrubRequestOut = api.post(&format!("/api/v1/osds/{id}/scrub")).await?;
            print(o, &r, |r| {
                format!(
                    "scrub of {} asked for at {}\n",
                    r.osd,
                    local_date(&r.requested)
                )
            });
        }
        OsdCmd::OkToStop { id } => {
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
        OsdCmd::Add {
            address,
            disks,
            id,
            failure_domain,
            weight,
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
        OsdCmd::Reweight { id, weight } => {
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
        OsdCmd::Drain { id } => {
            let r: DrainOut = api.post(&format!("/api/v1/osds/{id}/drain")).await?;
            print(o, &r, |r| {
                format!(
                    "{}: draining; no new shards go to it and its shards move elsewhere\nwait with: objectio-cli osd wait-drained {}\n",
                    r.osd, r.osd
                )
            });
        }
        OsdCmd::Undrain { id } => {
            let r: DrainOut = api.post(&format!("/api/v1/osds/{id}/undrain")).await?;
            print(o, &r, |r| {
                format!(
                    "{}: back in service ({} objects moved off it stay moved)\n",
                    r.osd,
                    thousands(r.moved_objects)
                )
            });
        }
        OsdCmd::WaitDrained { id, timeout } => wait_drained(api, o, &id, timeout).await?,
        OsdCmd::Remove { id, force } => {
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
    }
    Ok(())
}

pub(crate) async fn osd_state(api: &Api, o: Output, id: &str, state: &str) -> anyhow::Result<()> {
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

/// `osd wait-drained`: polls the drain until nothing references the OSD.
pub(crate) async fn wait_drained(
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
