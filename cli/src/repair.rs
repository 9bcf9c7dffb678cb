//! `repair status|start|stop`.

use anyhow::Context;
use clap::Subcommand;
use objectio_api::*;

use crate::Output;
use crate::api::Api;
use crate::ui::*;

#[derive(Subcommand)]
pub(crate) enum RepairCmd {
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

/// Runs one `repair` command.
pub(crate) async fn run(api: &Api, o: Output, cmd: RepairCmd) -> anyhow::Result<()> {
    match cmd {
        RepairCmd::Status { watch } => {
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
        RepairCmd::Start { osd } => {
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
        RepairCmd::Stop => {
            let r: RepairStatusOut = api.post("/api/v1/repair/stop").await?;
            print(o, &r, repair_text);
        }
    }
    Ok(())
}

pub(crate) fn progress_line(r: &RepairStatusOut) -> String {
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

pub(crate) fn repair_text(r: &RepairStatusOut) -> String {
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
