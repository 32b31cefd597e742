//! `loadgen`: replays real sentry-sdk envelopes (the scrubber's fixtures, compressed the way
//! the SDK compresses them: `br` quality 4, and gzip level 9) against three targets in one
//! run, so costs are ratios measured together:
//!
//! - `direct`: straight to the sink (the latency floor);
//! - `forwarder`: a plain hyper forwarder passing bytes through untouched;
//! - `rewriter`: the same forwarder doing the least any JSON-rewriting proxy must do
//!   (decompress, a bare `serde_json` round trip of every item, gzip level 3), no policy;
//! - `proxy`: the real `sentry-scrub-proxy` binary, sending to the same sink;
//! - `proxy:<variant>`: the proxy again with other flags (`--durable`: the durable spool with
//!   fsync `batch` and `always`; `--proxy-variant NAME=FLAGS`), so the cost of a mode is
//!   measured in the same run as the in-memory proxy.
//!
//! For each: saturated throughput (closed loop), latency at a fixed rate (open loop), CPU
//! seconds per 1,000 envelopes (at saturation and at the fixed rate) and peak RSS of the
//! target process. Optionally an upstream
//! outage at a fixed rate, to watch memory stay bounded. See docs/benchmarks.md.

// A report tool: printing is its output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod procstat;
mod report;
mod servers;
mod targets;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use envelope::decode::{compress, ContentEncoding};
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;

use servers::Sink;
use targets::{start_forwarder, start_proxy, Target};

const KEY: &str = "0123456789abcdef0123456789abcdef";

#[derive(Parser)]
#[command(about = "Load harness for sentry-scrub-proxy")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the measurements.
    Run(RunArgs),
    /// Internal: the forwarder baselines, as their own process.
    Forwarder {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        upstream: SocketAddr,
        /// Decompress, round-trip the JSON and recompress (the `rewriter` target).
        #[arg(long)]
        rewrite: bool,
    },
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    /// The proxy binary (build it with --release).
    #[arg(long, default_value = "target/release/sentry-scrub-proxy")]
    proxy_bin: PathBuf,
    /// Folder of captured envelopes.
    #[arg(long, default_value = "crates/scrub/tests/fixtures")]
    fixtures: PathBuf,
    /// Seconds per phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent connections in the saturation phase.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Requests per second in the fixed-rate phase.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Repetitions (figures are given as min / median / max).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Seconds of upstream outage at the fixed rate (0: skip).
    #[arg(long, default_value_t = 0)]
    outage_seconds: u64,
    /// Write the raw results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Pin the load generator and sink to CPU 0 and each target to the other CPUs (with
    /// `taskset`), so a target's CPU time is not inflated by sharing a core and its caches
    /// with the load. A target then sizes its runtime to the CPUs it is given.
    #[arg(long)]
    pin: bool,
    /// CPUs of the machine, read before pinning.
    #[arg(skip)]
    cpus: usize,
    /// Extra arguments for the proxy, e.g. `--proxy-arg=--worker-threads=1` (repeatable).
    #[arg(long = "proxy-arg", allow_hyphen_values = true)]
    proxy_args: Vec<String>,
    /// Targets to measure (comma-separated): direct, forwarder, rewriter, proxy.
    #[arg(long, value_delimiter = ',', default_values_t = ["direct".to_string(), "forwarder".to_string(), "rewriter".to_string(), "proxy".to_string()])]
    targets: Vec<String>,
    /// Also measure the proxy with its durable spool, `--spool-fsync=batch` and `always`
    /// (targets `proxy:durable-batch`, `proxy:durable-always`), each on a fresh spool folder.
    #[arg(long)]
    durable: bool,
    /// Also measure the proxy with these flags, as target `proxy:NAME` (repeatable), e.g.
    /// `--proxy-variant 'fsync-off=--spool-dir={spool} --spool-fsync=off'`; `{spool}` is a
    /// fresh folder per start.
    #[arg(long = "proxy-variant")]
    proxy_variants: Vec<String>,
    /// Where the variants' spool folders go (default: the system's temporary folder). Put
    /// it on the disk the spool would use in production: on tmpfs an fsync costs nothing.
    #[arg(long)]
    spool_root: Option<PathBuf>,
}

/// One request of the mix.
#[derive(Clone)]
struct Req {
    body: Bytes,
    encoding: &'static str,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.cmd {
        Cmd::Forwarder {
            listen,
            upstream,
            rewrite,
        } => {
            let mode = if rewrite {
                servers::Mode::Rewrite
            } else {
                servers::Mode::Plain
            };
            rt.block_on(servers::forwarder(listen, upstream, mode))
        }
        Cmd::Run(args) => rt.block_on(run(args)),
    }
}

fn load_mix(dir: &Path) -> anyhow::Result<(Vec<Req>, usize)> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "envelope"))
        .collect();
    names.sort();
    let mut mix = Vec::new();
    let mut raw_bytes = 0;
    for path in names {
        let raw = std::fs::read(&path)?;
        raw_bytes += raw.len();
        let gzip = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("gzip_"));
        // What sentry-python 2.x does: br quality 4 with brotli installed, else gzip level 9.
        let (enc, level, name) = if gzip {
            (ContentEncoding::Gzip, 9, "gzip")
        } else {
            (ContentEncoding::Br, 4, "br")
        };
        let body = compress(enc, &raw, level).map_err(|e| anyhow::anyhow!("compress: {e}"))?;
        mix.push(Req {
            body: Bytes::from(body),
            encoding: name,
        });
    }
    if mix.is_empty() {
        bail!("no *.envelope in {}", dir.display());
    }
    let avg = raw_bytes / mix.len();
    Ok((mix, avg))
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build(http)
}

async fn send(client: &HttpClient, addr: SocketAddr, req: &Req) -> Result<Duration, ()> {
    let started = Instant::now();
    let r = Request::post(format!("http://{addr}/api/42/envelope/"))
        .header("content-type", "application/x-sentry-envelope")
        .header("content-encoding", req.encoding)
        .header(
            "x-sentry-auth",
            format!(
                "Sentry sentry_key={KEY}, sentry_version=7, sentry_client=sentry.python/2.75.0"
            ),
        )
        .body(Full::new(req.body.clone()))
        .map_err(|_| ())?;
    let resp = client.request(r).await.map_err(|_| ())?;
    let ok = resp.status().is_success();
    let _ = resp.into_body().collect().await;
    if ok {
        Ok(started.elapsed())
    } else {
        Err(())
    }
}

/// Closed loop: `concurrency` workers send back to back for `secs`.
async fn saturate(addr: SocketAddr, mix: &[Req], concurrency: usize, secs: u64) -> (u64, u64, f64) {
    let client = client();
    let ok = Arc::new(AtomicU64::new(0));
    let err = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mix: Arc<Vec<Req>> = Arc::new(mix.to_vec());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (client, ok, err, stop, mix) = (
            client.clone(),
            ok.clone(),
            err.clone(),
            stop.clone(),
            mix.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                match send(&client, addr, &mix[i % mix.len()]).await {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(()) => err.fetch_add(1, Ordering::Relaxed),
                };
                i += concurrency;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    (
        ok.load(Ordering::Relaxed),
        err.load(Ordering::Relaxed),
        elapsed,
    )
}

/// Open loop: one request every 1/rate seconds, whatever the answers do; latencies in µs.
async fn fixed_rate(addr: SocketAddr, mix: &[Req], rate: u64, secs: u64) -> (Vec<u64>, u64) {
    let client = client();
    let lat = Arc::new(Mutex::new(Vec::with_capacity((rate * secs) as usize)));
    let err = Arc::new(AtomicU64::new(0));
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    for i in 0..(rate * secs) as usize {
        tick.tick().await;
        let (client, lat, err, req) = (
            client.clone(),
            lat.clone(),
            err.clone(),
            mix[i % mix.len()].clone(),
        );
        tasks.push(tokio::spawn(async move {
            match send(&client, addr, &req).await {
                Ok(d) => lat
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(d.as_micros() as u64),
                Err(()) => {
                    err.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut v = std::mem::take(&mut *lat.lock().unwrap_or_else(|e| e.into_inner()));
    v.sort_unstable();
    (v, err.load(Ordering::Relaxed))
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// Waits until the sink stops receiving (the proxy acknowledges before it forwards).
async fn settle(sink: &Sink) {
    settle_for(sink, Duration::from_millis(300), Duration::from_secs(30)).await;
}

/// Waits until the sink received nothing for `quiet`, at most `max`.
async fn settle_for(sink: &Sink, quiet: Duration, max: Duration) {
    let started = Instant::now();
    let mut last = sink.received.load(Ordering::Relaxed);
    let mut last_change = Instant::now();
    while started.elapsed() < max {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = sink.received.load(Ordering::Relaxed);
        if now != last {
            last = now;
            last_change = Instant::now();
        } else if last_change.elapsed() >= quiet {
            return;
        }
    }
}

/// One target's figures in one run.
#[derive(Default, Clone)]
struct Figures {
    rps: f64,
    /// Requests refused or failed at saturation.
    errors: u64,
    cpu_ms_per_envelope: f64,
    cpu_ms_at_rate: f64,
    peak_rss_mib: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    /// Requests refused or failed at the fixed rate.
    rate_errors: u64,
}

async fn measure(t: &Target, sink: &Sink, mix: &[Req], args: &RunArgs) -> Figures {
    // Warm up connections and caches.
    let _ = saturate(t.addr, mix, args.concurrency, 1).await;
    settle(sink).await;
    let cpu0 = t.pid().and_then(procstat::cpu_seconds);
    let (ok, errors, secs) = saturate(t.addr, mix, args.concurrency, args.seconds).await;
    settle(sink).await;
    let cpu1 = t.pid().and_then(procstat::cpu_seconds);
    let per_envelope = |a: Option<f64>, b: Option<f64>, n: u64| match (a, b) {
        (Some(a), Some(b)) if n > 0 => (b - a) * 1000.0 / n as f64,
        _ => f64::NAN,
    };
    let cpu_ms = per_envelope(cpu0, cpu1, ok);
    let cpu2 = t.pid().and_then(procstat::cpu_seconds);
    let (lat, rate_errors) = fixed_rate(t.addr, mix, args.rate, args.seconds).await;
    settle(sink).await;
    let cpu3 = t.pid().and_then(procstat::cpu_seconds);
    let cpu_at_rate = per_envelope(cpu2, cpu3, lat.len() as u64);
    Figures {
        rps: ok as f64 / secs,
        errors,
        cpu_ms_per_envelope: cpu_ms,
        cpu_ms_at_rate: cpu_at_rate,
        peak_rss_mib: t
            .pid()
            .and_then(procstat::peak_rss)
            .map_or(f64::NAN, |b| b as f64 / 1048576.0),
        p50: pct(&lat, 0.50),
        p99: pct(&lat, 0.99),
        p999: pct(&lat, 0.999),
        rate_errors,
    }
}

async fn run(mut args: RunArgs) -> anyhow::Result<()> {
    args.cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if args.pin && args.cpus < 2 {
        bail!("--pin needs at least 2 CPUs");
    }
    if args.pin {
        targets::pin_self()?;
    }
    let (mix, avg_raw) = load_mix(&args.fixtures)?;
    let avg_compressed = mix.iter().map(|r| r.body.len()).sum::<usize>() / mix.len();
    println!(
        "mix: {} envelopes, average {} bytes raw, {} bytes compressed; {} cores{}",
        mix.len(),
        avg_raw,
        avg_compressed,
        args.cpus,
        if args.pin {
            "; load on CPU 0, targets on the others"
        } else {
            ""
        }
    );
    let sink_state = Arc::new(Sink::default());
    let sink_listener = TcpListener::bind("127.0.0.1:0").await?;
    let sink_addr = sink_listener.local_addr()?;
    tokio::spawn(servers::sink(sink_listener, sink_state.clone()));
    let dir = std::env::temp_dir().join(format!("loadgen-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    let variants = targets::variants(&args)?;
    if !variants.is_empty() {
        let root = args.spool_root.clone().unwrap_or_else(|| dir.clone());
        println!(
            "proxy variants: {}; spool folders under {} ({})",
            (variants.iter().map(|v| v.name.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
            root.display(),
            targets::fs_type(&root)
        );
    }
    let wanted = |name: &str| args.targets.iter().any(|n| n == name);
    // The proxy (if asked) and its variants.
    let mut proxies: Vec<Option<&targets::Variant>> = Vec::new();
    if wanted("proxy") {
        proxies.push(None);
    }
    proxies.extend(variants.iter().map(Some));
    let mut results: Vec<(String, Vec<Figures>)> = ["direct", "forwarder", "rewriter"]
        .into_iter()
        .filter(|n| wanted(n))
        .map(|n| (n.to_owned(), vec![]))
        .chain(proxies.iter().map(|v| {
            let name = v.map_or("proxy".to_owned(), |v| format!("proxy:{}", v.name));
            (name, vec![])
        }))
        .collect();
    let record = |results: &mut Vec<(String, Vec<Figures>)>, name: &str, f: Figures| {
        if let Some((_, v)) = results.iter_mut().find(|(n, _)| n == name) {
            v.push(f);
        }
    };
    for run in 0..args.runs {
        eprintln!("run {} of {}", run + 1, args.runs);
        let direct = Target {
            name: "direct".into(),
            addr: sink_addr,
            child: None,
            spool: None,
        };
        let forwarder = match wanted("forwarder") {
            true => Some(start_forwarder(sink_addr, false, &args).await?),
            false => None,
        };
        let rewriter = match wanted("rewriter") {
            true => Some(start_forwarder(sink_addr, true, &args).await?),
            false => None,
        };
        let baselines = [
            wanted("direct").then_some(&direct),
            forwarder.as_ref(),
            rewriter.as_ref(),
        ];
        for t in baselines.into_iter().flatten() {
            eprintln!("  {}", t.name);
            let f = measure(t, &sink_state, &mix, &args).await;
            record(&mut results, &t.name, f);
        }
        drop((forwarder, rewriter));
        // The proxies one at a time, each fresh (a new process, an empty spool), in an order
        // that turns from run to run, so that none is always first on a machine that drifts.
        for k in 0..proxies.len() {
            let variant = proxies[(k + run) % proxies.len()];
            let t = start_proxy(&args, sink_addr, &dir, variant, run).await?;
            eprintln!("  {}", t.name);
            let f = measure(&t, &sink_state, &mix, &args).await;
            record(&mut results, &t.name, f);
        }
    }

    let mut outage = None;
    if args.outage_seconds > 0 {
        eprintln!(
            "outage: upstream down for {} s at {} envelopes/s",
            args.outage_seconds, args.rate
        );
        let proxy = start_proxy(&args, sink_addr, &dir, None, 0).await?;
        let pid = proxy.pid().unwrap_or(0);
        sink_state.mode.store(servers::SINK_DOWN, Ordering::Relaxed);
        let peak = Arc::new(AtomicU64::new(0));
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = {
            let (peak, sampling) = (peak.clone(), sampling.clone());
            tokio::spawn(async move {
                while sampling.load(Ordering::Relaxed) {
                    if let Some(r) = procstat::rss(pid) {
                        peak.fetch_max(r, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        let (lat, errors) = fixed_rate(proxy.addr, &mix, args.rate, args.outage_seconds).await;
        sink_state.mode.store(servers::SINK_OK, Ordering::Relaxed);
        let before = sink_state.received.load(Ordering::Relaxed);
        // Senders may sit in backoff (up to a minute) when the upstream comes back.
        settle_for(
            &sink_state,
            Duration::from_secs(70),
            Duration::from_secs(600),
        )
        .await;
        sampling.store(false, Ordering::Relaxed);
        let _ = sampler.await;
        outage = Some((
            lat.len(),
            errors,
            peak.load(Ordering::Relaxed) as f64 / 1048576.0,
            sink_state.received.load(Ordering::Relaxed) - before,
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);

    report::report(&args, &results, outage)
}
