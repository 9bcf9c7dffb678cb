//! `objectio-bench`: drives an S3 endpoint with concurrent PUTs and then
//! GETs of one object size, closed loop, and reports throughput, latency
//! percentiles, time to first byte and, given the servers' process ids,
//! the CPU they used. Bodies are generated and streamed (never held whole
//! in memory) and unique: every 64 KiB piece starts with its object and
//! piece number, so neither deduplication nor compression across blocks
//! helps a server. Requests are SigV4-signed with `UNSIGNED-PAYLOAD`, so
//! the client spends no CPU on hashing and the figures are the server's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::{BufMut, Bytes, BytesMut};
use clap::Parser;
use futures::StreamExt;
use objectio_testkit::sigv4::{Creds, request};

#[derive(Parser)]
#[command(name = "objectio-bench", about = "S3 PUT/GET throughput and latency")]
struct Args {
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL",
        default_value = "http://127.0.0.1:9000"
    )]
    endpoint: String,
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_key: String,
    #[arg(long, default_value = "objectio-bench")]
    bucket: String,
    /// Object size, e.g. 4KiB, 1MiB, 1GiB.
    #[arg(long, default_value = "1MiB", value_parser = objectio_cluster::util::parse_size)]
    size: u64,
    /// Objects to PUT (and then GET); ignored with --duration.
    #[arg(long, default_value_t = 100)]
    count: usize,
    /// Run each phase for this long instead of a fixed count, e.g. 20s:
    /// PUT new objects until it is over, then GET them (over again, in
    /// order, if the GETs are faster) until it is over.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Requests in flight.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Drop the page cache between the PUTs and the GETs (root), so GETs
    /// read from the disks.
    #[arg(long)]
    drop_caches: bool,
    /// Process ids of the servers whose CPU time each phase reports, as
    /// cores used (sum of user and system time over wall time).
    #[arg(long, value_delimiter = ',')]
    cpu_pids: Vec<u32>,
    /// Key prefix (several runs against one bucket use different ones).
    #[arg(long, default_value = "bench")]
    prefix: String,
    /// `text` or `json` (one object per phase, one per line).
    #[arg(long, default_value = "text")]
    output: String,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = n.parse().map_err(|_| format!("not a duration: {s}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("not a duration (use ms, s or m): {s}")),
    }
}

/// Bytes per streamed piece; each starts with a 16-byte tag.
const PIECE: u64 = 64 << 10;

/// A streamed body of `size` bytes for object `obj`: pieces cut from a
/// random buffer at offsets that depend on the object and the piece, each
/// starting with both numbers.
fn body(random: &Bytes, obj: u64, size: u64) -> reqwest::Body {
    let random = random.clone();
    let span = random.len() as u64 - PIECE;
    let chunks = futures::stream::iter((0..size.div_ceil(PIECE)).map(move |i| {
        let n = (size - i * PIECE).min(PIECE) as usize;
        let off = ((obj.wrapping_mul(7919) + i.wrapping_mul(104_729)) % span) as usize;
        let mut b = BytesMut::with_capacity(n);
        let mut tag = [0u8; 16];
        tag[..8].copy_from_slice(&obj.to_le_bytes());
        tag[8..].copy_from_slice(&i.to_le_bytes());
        let t = n.min(16);
        b.put_slice(&tag[..t]);
        b.put_slice(&random[off + t..off + n]);
        Ok::<_, std::io::Error>(b.freeze())
    }));
    reqwest::Body::wrap_stream(chunks)
}

/// Clock ticks of user and system time of the processes (Linux).
fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|s| {
            // Fields after the command (which may hold spaces) in parens.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split(' ').collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

fn clock_ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

struct Done {
    lat: Duration,
    /// Time to the first body byte (GETs).
    ttfb: Option<Duration>,
    bytes: u64,
}

struct Report {
    op: &'static str,
    lat: Vec<Duration>,
    ttfb: Vec<Duration>,
    bytes: u64,
    wall: Duration,
    /// Cores the servers used during the phase.
    cpu: Option<f64>,
}

fn pct(v: &[Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i].as_secs_f64() * 1000.0
}

impl Report {
    fn print(&mut self, args: &Args) {
        self.lat.sort();
        self.ttfb.sort();
        let secs = self.wall.as_secs_f64();
        let mibs = self.bytes as f64 / (1 << 20) as f64 / secs;
        let ops = self.lat.len() as f64 / secs;
        if args.output == "json" {
            let v = serde_json::json!({
                "op": self.op,
                "size": args.size,
                "concurrency": args.concurrency,
                "ops": self.lat.len(),
                "seconds": secs,
                "mib_per_s": mibs,
                "ops_per_s": ops,
                "p50_ms": pct(&self.lat, 0.5),
                "p90_ms": pct(&self.lat, 0.9),
                "p99_ms": pct(&self.lat, 0.99),
                "max_ms": pct(&self.lat, 1.0),
                "ttfb_p50_ms": (!self.ttfb.is_empty()).then(|| pct(&self.ttfb, 0.5)),
                "ttfb_p99_ms": (!self.ttfb.is_empty()).then(|| pct(&self.ttfb, 0.99)),
                "server_cores": self.cpu,
            });
            println!("{v}");
            return;
        }
        print!(
            "{:<4} {:>6} ops  {:>9.1} MiB/s  {:>8.1} ops/s  p50 {:>8.2} ms  p90 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms",
            self.op,
            self.lat.len(),
            mibs,
            ops,
            pct(&self.lat, 0.5),
            pct(&self.lat, 0.9),
            pct(&self.lat, 0.99),
            pct(&self.lat, 1.0)
        );
        if !self.ttfb.is_empty() {
            print!("  first byte p50 {:>7.2} ms", pct(&self.ttfb, 0.5));
        }
        if let Some(c) = self.cpu {
            print!("  servers {c:.2} cores");
        }
        println!();
    }
}

/// Runs `f(i)` for i = 0, 1, … with `concurrency` in flight, until `n`
/// are done, or (with a duration) until it is over. Returns how many ran.
async fn run_phase<F, Fut>(
    op: &'static str,
    args: &Args,
    n: Option<usize>,
    f: F,
) -> anyhow::Result<Report>
where
    F: Fn(usize) -> Fut + Sync,
    Fut: Future<Output = anyhow::Result<Done>>,
{
    let tick = clock_ticks_per_sec();
    let cpu0 = cpu_ticks(&args.cpu_pids);
    let t0 = Instant::now();
    let deadline = args.duration.map(|d| t0 + d);
    let next = AtomicUsize::new(0);
    let worker = || async {
        let mut out = Vec::new();
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            let i = next.fetch_add(1, Ordering::Relaxed);
            if n.is_some_and(|n| i >= n) {
                break;
            }
            out.push(f(i).await?);
        }
        anyhow::Ok(out)
    };
    let results = futures::future::join_all((0..args.concurrency).map(|_| worker())).await;
    let wall = t0.elapsed();
    let cpu1 = cpu_ticks(&args.cpu_pids);
    let mut r = Report {
        op,
        lat: Vec::new(),
        ttfb: Vec::new(),
        bytes: 0,
        wall,
        cpu: (!args.cpu_pids.is_empty())
            .then(|| (cpu1 - cpu0) as f64 / tick as f64 / wall.as_secs_f64()),
    };
    for w in results {
        for d in w? {
            r.lat.push(d.lat);
            r.ttfb.extend(d.ttfb);
            r.bytes += d.bytes;
        }
    }
    Ok(r)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !matches!(args.output.as_str(), "text" | "json") {
        bail!("--output is text or json");
    }
    let creds = Arc::new(Creds {
        endpoint: args.endpoint.clone(),
        access_key: args.access_key.clone(),
        secret_key: args.secret_key.clone(),
    });
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()?;
    let r = request(
        &http,
        &creds,
        reqwest::Method::PUT,
        &format!("/{}", args.bucket),
        "UNSIGNED-PAYLOAD",
    )
    .send()
    .await
    .context("creating the bucket")?;
    if !r.status().is_success() && r.status().as_u16() != 409 {
        bail!(
            "creating bucket: {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
    }
    // 16 MiB of xorshift noise: incompressible.
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ std::process::id() as u64;
    let mut v = Vec::with_capacity(16 << 20);
    while v.len() < 16 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    let random = Bytes::from(v);
    let size = args.size;
    if args.output == "text" {
        match args.duration {
            Some(d) => println!(
                "objectio-bench: {size}-byte objects for {d:?} per phase, concurrency {}, endpoint {}",
                args.concurrency, args.endpoint
            ),
            None => println!(
                "objectio-bench: {} objects of {size} bytes, concurrency {}, endpoint {}",
                args.count, args.concurrency, args.endpoint
            ),
        }
    }
    let key = |i: usize| format!("/{}/{}-{size}-{i}", args.bucket, args.prefix);
    let count = args.duration.is_none().then_some(args.count);

    let mut put = run_phase("PUT", &args, count, |i| {
        let req = request(
            &http,
            &creds,
            reqwest::Method::PUT,
            &key(i),
            "UNSIGNED-PAYLOAD",
        )
        .header("content-length", size)
        .body(body(&random, i as u64, size));
        async move {
            let t = Instant::now();
            let r = req.send().await?;
            if !r.status().is_success() {
                bail!("PUT: {} {}", r.status(), r.text().await.unwrap_or_default());
            }
            Ok(Done {
                lat: t.elapsed(),
                ttfb: None,
                bytes: size,
            })
        }
    })
    .await?;
    put.print(&args);
    let written = put.lat.len();
    if written == 0 {
        bail!("no PUT completed");
    }

    if args.drop_caches {
        std::fs::write("/proc/sys/vm/drop_caches", "3\n")
            .context("dropping the page cache (needs root)")?;
    }
    let mut get = run_phase("GET", &args, count, |i| {
        let req = request(
            &http,
            &creds,
            reqwest::Method::GET,
            &key(i % written),
            "UNSIGNED-PAYLOAD",
        );
        async move {
            let t = Instant::now();
            let r = req.send().await?;
            if !r.status().is_success() {
                bail!("GET: {}", r.status());
            }
            let mut n = 0u64;
            let mut ttfb = None;
            let mut s = r.bytes_stream();
            while let Some(b) = s.next().await {
                let b = b?;
                if ttfb.is_none() && !b.is_empty() {
                    ttfb = Some(t.elapsed());
                }
                n += b.len() as u64;
            }
            if n != size {
                bail!("GET returned {n} of {size} bytes");
            }
            Ok(Done {
                lat: t.elapsed(),
                ttfb,
                bytes: n,
            })
        }
    })
    .await?;
    get.print(&args);
    Ok(())
}
