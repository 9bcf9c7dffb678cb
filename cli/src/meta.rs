//! `meta status|snapshot|export|import|rebuild`; export and import stream
//! the metadata document to and from a file, checked on the way.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Subcommand;
use objectio_api::export::{ExportReader, Lines};
use objectio_api::*;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Output;
use crate::api::Api;
use crate::ui::*;

#[derive(Subcommand)]
pub(crate) enum MetaCmd {
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

/// Runs one `meta` command.
pub(crate) async fn run(api: &Api, o: Output, cmd: MetaCmd) -> anyhow::Result<()> {
    match cmd {
        MetaCmd::Status => {
            let s: MetaStatusOut = api.get("/api/v1/meta/status").await?;
            print(o, &s, meta_status);
        }
        MetaCmd::Export { output } => export(api, o, &output).await?,
        MetaCmd::Import { input, force, yes } => import(api, o, &input, force, yes).await?,
        MetaCmd::Snapshot => {
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
        MetaCmd::Rebuild {
            from_scan,
            dry_run,
            force,
            owner,
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
    }
    Ok(())
}

pub(crate) fn meta_status(s: &MetaStatusOut) -> String {
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
    let Some(i) = &s.index else {
        out += &format!(
            "\n{}\nThe member to recover from is the one with the highest APPLIED index \
             (docs/operations/failure-recovery.md, \"Complete cluster recovery\").\n",
            s.store_error
                .as_deref()
                .unwrap_or("the cluster's keys cannot be read")
        );
        return out;
    };
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

pub(crate) fn rebuild_text(r: &RebuildOut) -> String {
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

/// What `meta export` wrote.
#[derive(Serialize)]
pub struct Exported {
    pub path: String,
    pub cluster: String,
    pub revision: i64,
    pub records: u64,
    pub bytes: u64,
    pub seconds: f64,
}

/// How often a progress line is redrawn.
const DRAW_EVERY: Duration = Duration::from_millis(250);

/// `meta export --output FILE`: streams the export into `FILE.partial`,
/// checking every line and the checksum as it arrives, then syncs and
/// renames it: `FILE` exists only whole and verified.
pub async fn export(api: &Api, o: Output, output: &Path) -> anyhow::Result<()> {
    let t = Instant::now();
    let mut resp = api
        .check(api.http.get(api.url("/api/v1/meta/export")))
        .await?;
    let partial = output.with_extension(match output.extension() {
        Some(e) => format!("{}.partial", e.to_string_lossy()),
        None => "partial".into(),
    });
    let mut file = tokio::fs::File::create(&partial)
        .await
        .with_context(|| format!("creating {}", partial.display()))?;
    let mut reader = ExportReader::new();
    let mut lines = Lines::default();
    let mut bytes = 0u64;
    let mut bar = Bar::new();
    let mut drawn = Instant::now();
    let result: anyhow::Result<()> = async {
        while let Some(chunk) = resp
            .chunk()
            .await
            .context("the export was cut off (the file is incomplete)")?
        {
            lines.feed(&chunk, |l| reader.line(l).map(drop))?;
            file.write_all(&chunk).await?;
            bytes += chunk.len() as u64;
            if o == Output::Table && bar.tty && drawn.elapsed() >= DRAW_EVERY {
                drawn = Instant::now();
                bar.draw(&format!(
                    "exporting: {} records, {}",
                    thousands(reader.count()),
                    iec(bytes)
                ))?;
            }
        }
        if let Some(l) = lines.rest() {
            reader.line(&l)?;
        }
        reader.finish()?;
        file.sync_all().await?;
        Ok(())
    }
    .await;
    bar.done();
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(e.context(format!("export to {} failed", output.display())));
    }
    drop(file);
    tokio::fs::rename(&partial, output)
        .await
        .with_context(|| format!("renaming {} to {}", partial.display(), output.display()))?;
    let h = reader.header().expect("a finished export has a header");
    let e = Exported {
        path: output.display().to_string(),
        cluster: h.cluster.clone(),
        revision: h.revision,
        records: reader.count(),
        bytes,
        seconds: t.elapsed().as_secs_f64(),
    };
    print(o, &e, |e| {
        format!(
            "exported {} records ({}) of cluster {} at etcd revision {} to {} in {:.1} s; checksum verified\n",
            thousands(e.records),
            iec(e.bytes),
            e.cluster,
            e.revision,
            e.path,
            e.seconds
        )
    });
    Ok(())
}

/// `meta import --input FILE [--force [--yes]]`: streams the file to the
/// meta, which checks all of it before writing anything.
pub async fn import(
    api: &Api,
    o: Output,
    input: &Path,
    force: bool,
    yes: bool,
) -> anyhow::Result<()> {
    let file = tokio::fs::File::open(input)
        .await
        .with_context(|| format!("opening {}", input.display()))?;
    let size = file.metadata().await?.len();
    if force && !yes {
        confirm(
            &format!(
                "Import {} into a cluster that may hold data? The export's records overwrite the same keys.",
                input.display()
            ),
            "import",
        )?;
    }
    use std::sync::atomic::{AtomicU64, Ordering};
    let sent = std::sync::Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let body = futures::stream::unfold(Some(file), move |file| {
        let counter = counter.clone();
        async move {
            let mut file = file?;
            let mut buf = vec![0u8; 256 << 10];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    counter.fetch_add(n as u64, Ordering::Relaxed);
                    Some((Ok::<_, std::io::Error>(buf), Some(file)))
                }
                Err(e) => Some((Err(e), None)),
            }
        }
    });
    let show = o == Output::Table && Bar::new().tty;
    let ticker = tokio::spawn(async move {
        let mut bar = Bar::new();
        loop {
            tokio::time::sleep(DRAW_EVERY).await;
            let n = sent.load(Ordering::Relaxed);
            let line = match n < size {
                true => format!(
                    "uploading: {} of {} ({}%)",
                    iec(n),
                    iec(size),
                    n * 100 / size.max(1)
                ),
                false => format!("uploaded {}; the meta is restoring the records", iec(size)),
            };
            if show {
                let _ = bar.draw(&line);
            }
        }
    });
    let url = api.url(&format!("/api/v1/meta/import?force={force}"));
    let req = api
        .http
        .post(url)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(body));
    let r: anyhow::Result<ImportOut> = api
        .send(req)
        .await
        .and_then(|r| r.context("empty response"));
    ticker.abort();
    if show {
        println!();
    }
    let r = r.with_context(|| format!("importing {}", input.display()))?;
    print(o, &r, |r| {
        format!(
            "imported {} records of cluster {} (exported {}) in {:.1} s: {} users, {} access keys, {} buckets, {} object records, {} OSDs, {} disks\n\
             start the OSDs and gateways now: the disks carry cluster id {}\n",
            thousands(r.records),
            r.cluster,
            r.exported_at,
            r.seconds,
            thousands(r.users),
            thousands(r.access_keys),
            thousands(r.buckets),
            thousands(r.objects),
            r.osds,
            r.disks,
            r.cluster_id
        )
    });
    Ok(())
}
