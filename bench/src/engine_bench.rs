//! `objectio-engine-bench`: drives the storage engine directly (no network)
//! with shard writes and reads at a given queue depth, on one device file
//! and backend, and reports throughput and latency; `startup` fills the
//! engine with many shards and times a restart. `bench/engine-vs-fio.sh`
//! runs it beside fio on the same file.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use objectio_engine::device::{self, Backend};
use objectio_engine::{Engine, OpenOptions};
use objectio_shard::{ShardHeader, ShardId};
use uuid::Uuid;

#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
enum Workload {
    /// Write `count` shards (sequential allocation), then read them back in order.
    Seq,
    /// Write `count` shards, then read random ones.
    Rand,
    /// Write `count` shards, restart the engine, report the start-up time.
    Startup,
}

#[derive(Parser)]
#[command(name = "objectio-engine-bench")]
struct Args {
    /// Device or file (created sparse at --size when missing).
    #[arg(long)]
    path: std::path::PathBuf,
    #[arg(long, default_value = "4GiB", value_parser = objectio_cluster::util::parse_size)]
    size: u64,
    #[arg(long, default_value = "auto")]
    backend: Backend,
    #[arg(long, value_enum, default_value_t = Workload::Seq)]
    workload: Workload,
    /// Bytes of one shard (a multiple of 64).
    #[arg(long, default_value = "1MiB", value_parser = objectio_cluster::util::parse_size)]
    shard_size: u64,
    #[arg(long, default_value_t = 1024)]
    count: usize,
    /// Operations in flight.
    #[arg(long, default_value_t = 1)]
    qd: usize,
}

const CLUSTER: Uuid = Uuid::from_u128(0xbe4c);

fn header(id: ShardId, shard_size: u64) -> ShardHeader {
    // k = 4 and one stripe: the shard is one chunk of shard_size (a short
    // stripe when the shard is not a whole number of blocks).
    ShardHeader {
        format: 1,
        cluster_id: CLUSTER,
        bucket: "bench".into(),
        key: id.version_id.to_string(),
        id,
        k: 4,
        m: 2,
        chunk_size: shard_size.div_ceil(4096) as u32 * 4096,
        object_size: shard_size * 4,
        created_ms: 0,
        meta: None,
    }
}

fn report(what: &str, mut lat: Vec<Duration>, bytes: u64, wall: Duration) {
    lat.sort();
    let p = |q: f64| {
        lat[((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len()) - 1].as_secs_f64() * 1e6
    };
    println!(
        "{what:<6} {:>8} ops {:>9.1} MiB/s {:>9.0} IOPS  p50 {:>8.0} us  p99 {:>8.0} us",
        lat.len(),
        bytes as f64 / (1 << 20) as f64 / wall.as_secs_f64(),
        lat.len() as f64 / wall.as_secs_f64(),
        p(0.5),
        p(0.99)
    );
}

async fn open(args: &Args) -> anyhow::Result<Arc<Engine>> {
    let dev = device::open(&args.path, args.backend, args.size).context("opening the device")?;
    let opts = OpenOptions {
        cluster_id: CLUSTER,
        osd_id: "bench".into(),
        force: true,
        checkpoint_interval: objectio_engine::engine::CHECKPOINT_INTERVAL,
    };
    Ok(Engine::open(dev, opts).await?)
}

/// Runs `n` operations with `qd` in flight; returns per-op latencies.
async fn run<F, Fut>(n: usize, qd: usize, f: F) -> anyhow::Result<(Vec<Duration>, Duration)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..qd {
        let (f, next) = (f.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(lat);
                }
                let t = Instant::now();
                f(i).await?;
                lat.push(t.elapsed());
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok((all, t0.elapsed()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.shard_size.is_multiple_of(64) && args.shard_size > 0,
        "--shard-size must be a positive multiple of 64 bytes"
    );
    // Start from a fresh layout each run.
    let _ = std::fs::remove_file(&args.path);
    let engine = open(&args).await?;
    println!(
        "engine {} backend={} shard={}B count={} qd={}",
        args.path.display(),
        engine.backend(),
        args.shard_size,
        args.count,
        args.qd
    );
    let ids: Arc<Vec<ShardId>> = Arc::new(
        (0..args.count)
            .map(|i| ShardId {
                version_id: Uuid::from_u128(i as u128 + 1),
                part: 0,
                index: 0,
            })
            .collect(),
    );
    let size = args.shard_size;
    let pattern: Arc<Vec<u8>> = Arc::new((0..size).map(|i| (i * 31 % 251) as u8).collect());
    let (e, ids2, pat) = (engine.clone(), ids.clone(), pattern.clone());
    let (lat, wall) = run(args.count, args.qd, move |i| {
        let (e, ids, pat) = (e.clone(), ids2.clone(), pat.clone());
        async move {
            let mut w = e.begin_put(header(ids[i], size))?;
            let mut b = w.chunk_buf(size as usize);
            b.as_mut_slice().copy_from_slice(&pat);
            w.write_chunk(b).await?;
            w.finish("bench").await?;
            Ok(())
        }
    })
    .await?;
    report("write", lat, size * args.count as u64, wall);
    let u = engine.usage();
    println!(
        "space  {:.4} bytes on disk per stored byte ({} used for {} shards of {} bytes)",
        u.used as f64 / (size * args.count as u64) as f64,
        u.used,
        u.shards,
        size
    );

    match args.workload {
        Workload::Startup => {
            let usage = engine.usage();
            drop(engine);
            tokio::time::sleep(Duration::from_millis(200)).await;
            let t = Instant::now();
            let engine = open(&args).await?;
            let took = t.elapsed();
            let r = engine.recovery();
            println!(
                "startup {:>8.3} s  shards {}  checkpoint generation {} ({} entries)  replayed {} batches / {} records",
                took.as_secs_f64(),
                engine.usage().shards,
                r.checkpoint_generation,
                r.checkpoint_entries,
                r.replayed_batches,
                r.replayed_records
            );
            anyhow::ensure!(engine.usage() == usage, "usage differs after restart");
        }
        w => {
            let n = args.count;
            let (e, ids2) = (engine.clone(), ids.clone());
            let (lat, wall) = run(n, args.qd, move |i| {
                let (e, ids) = (e.clone(), ids2.clone());
                let j = if w == Workload::Rand {
                    (i.wrapping_mul(2654435761) ^ (i >> 3)) % n
                } else {
                    i
                };
                async move {
                    let ent = e.entry(&ids[j])?;
                    e.read_chunk(&ent, 0).await?.context("checksum mismatch")?;
                    Ok(())
                }
            })
            .await?;
            report("read", lat, size * n as u64, wall);
        }
    }
    Ok(())
}
