//! `objectio-bench`: drives an S3 endpoint with concurrent PUTs and GETs of
//! one object size and reports throughput and latency percentiles. Bodies
//! are generated and streamed (never held whole in memory); requests are
//! SigV4-signed with `UNSIGNED-PAYLOAD`, so the client spends no CPU on
//! hashing and the figures are the server's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
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
    /// Objects to PUT (and then GET).
    #[arg(long, default_value_t = 100)]
    count: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

/// A streamed body of `size` bytes made of a repeated 1 MiB pattern.
fn body(pattern: &Bytes, size: u64) -> reqwest::Body {
    let step = pattern.len() as u64;
    let p = pattern.clone();
    let chunks = futures::stream::iter((0..size.div_ceil(step)).map(move |i| {
        let n = (size - i * step).min(step) as usize;
        Ok::<_, std::io::Error>(p.slice(..n))
    }));
    reqwest::Body::wrap_stream(chunks)
}

struct Report {
    op: &'static str,
    lat: Vec<Duration>,
    bytes: u64,
    wall: Duration,
}

impl Report {
    fn print(&mut self) {
        self.lat.sort();
        let pct = |p: f64| {
            let i = ((self.lat.len() as f64 * p).ceil() as usize).clamp(1, self.lat.len()) - 1;
            self.lat[i].as_secs_f64() * 1000.0
        };
        let secs = self.wall.as_secs_f64();
        println!(
            "{:<4} {:>6} ops  {:>9.1} MiB/s  {:>8.1} ops/s  p50 {:>8.2} ms  p90 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms",
            self.op,
            self.lat.len(),
            self.bytes as f64 / (1 << 20) as f64 / secs,
            self.lat.len() as f64 / secs,
            pct(0.5),
            pct(0.9),
            pct(0.99),
            pct(1.0)
        );
    }
}

async fn run_phase<F, Fut>(op: &'static str, args: &Args, f: F) -> anyhow::Result<Report>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<u64>>,
{
    let t0 = Instant::now();
    let results: Vec<anyhow::Result<(Duration, u64)>> = futures::stream::iter(0..args.count)
        .map(|i| {
            let fut = f(i);
            async move {
                let t = Instant::now();
                let n = fut.await?;
                Ok((t.elapsed(), n))
            }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let wall = t0.elapsed();
    let mut r = Report {
        op,
        lat: Vec::new(),
        bytes: 0,
        wall,
    };
    for x in results {
        let (d, n) = x?;
        r.lat.push(d);
        r.bytes += n;
    }
    Ok(r)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
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
    let pattern: Bytes = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect::<Vec<u8>>()
        .into();
    let size = args.size;
    println!(
        "objectio-bench: {} objects of {} bytes, concurrency {}, endpoint {}",
        args.count, size, args.concurrency, args.endpoint
    );
    let key = |i: usize| format!("/{}/bench-{size}-{i}", args.bucket);

    let mut put = run_phase("PUT", &args, |i| {
        let req = request(
            &http,
            &creds,
            reqwest::Method::PUT,
            &key(i),
            "UNSIGNED-PAYLOAD",
        )
        .header("content-length", size)
        .body(body(&pattern, size));
        async move {
            let r = req.send().await?;
            if !r.status().is_success() {
                bail!("PUT: {} {}", r.status(), r.text().await.unwrap_or_default());
            }
            Ok(size)
        }
    })
    .await?;
    put.print();

    let mut get = run_phase("GET", &args, |i| {
        let req = request(
            &http,
            &creds,
            reqwest::Method::GET,
            &key(i),
            "UNSIGNED-PAYLOAD",
        );
        async move {
            let r = req.send().await?;
            if !r.status().is_success() {
                bail!("GET: {}", r.status());
            }
            let mut n = 0u64;
            let mut s = r.bytes_stream();
            while let Some(b) = s.next().await {
                n += b?.len() as u64;
            }
            if n != size {
                bail!("GET returned {n} of {size} bytes");
            }
            Ok(n)
        }
    })
    .await?;
    get.print();
    Ok(())
}
