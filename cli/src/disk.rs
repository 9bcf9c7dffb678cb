//! `disk scan`: offline, straight from the device.

use anyhow::Context;
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum DiskCmd {
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

/// `disk scan`: offline, straight from the device.
pub(crate) async fn disk_scan(
    device: &std::path::Path,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
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
