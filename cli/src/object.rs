//! `object health|repair`.

use anyhow::{Context, bail};
use clap::Subcommand;
use objectio_api::*;

use crate::Output;
use crate::api::Api;
use crate::ui::*;

#[derive(Subcommand)]
pub(crate) enum ObjectCmd {
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

/// Runs one `object` command.
pub(crate) async fn run(api: &Api, o: Output, cmd: ObjectCmd) -> anyhow::Result<()> {
    match cmd {
        ObjectCmd::Health { path, version_id } => {
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
        ObjectCmd::Repair {
            path,
            force,
            version_id,
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
    }
    Ok(())
}

/// `BUCKET/KEY`, split.
pub(crate) fn object_path(path: &str) -> anyhow::Result<(&str, &str)> {
    path.split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .context("give the object as BUCKET/KEY")
}

pub(crate) fn object_repair_text(r: &ObjectRepairOut) -> String {
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

pub(crate) fn health_text(h: &ObjectHealthOut) -> String {
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
