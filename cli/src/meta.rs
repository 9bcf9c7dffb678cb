//! `meta export` and `meta import`: the metadata document streamed to and
//! from a file, checked on the way.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use objectio_api::export::{ExportReader, Lines};
use objectio_api::{ImportOut, iec};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Api, Bar, Output, confirm, print, thousands};

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
