//! The crash test: nothing acknowledged is lost. Canary events arrive at a steady rate while
//! the upstream is down, stalls or drops connections; the real binary, running durable
//! (`--spool-dir`), is killed with `kill -9` at random moments and restarted on the same
//! spool. At the end the upstream comes up and every event id that got a `2xx` must reach it:
//! none lost, each at most twice (a kill between the upstream's `2xx` and the spool's
//! compaction resends it), duplicates counted and bounded. The spool must hold only scrubbed
//! bytes at every kill.
//!
//! The suite runs the short form (3 kills). `CRASH_KILLS=25 cargo test -p sentry-scrub-proxy
//! --test crash -- --nocapture` is the long form reported in `docs/durability.md`;
//! `CRASH_SEED` replays one run's kill times.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{delivered, envelope_request, event_id, try_exchange, BinProxy, CaFiles};
use testkit::ca::TestCa;
use testkit::canary::{self, assert_no_canary};
use testkit::upstream::{CaptureUpstream, Mode, Options, Tls};

const KEY: &str = "d41d8cd98f00b204e9800998ecf8427e";
const PROJECT: &str = "42";
const SENDERS: usize = 4;

/// A small xorshift generator: the kill schedule only needs to vary, and be replayable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the load saw: every id sent and every id answered 2xx.
#[derive(Default)]
struct Load {
    sent: BTreeSet<String>,
    acknowledged: BTreeSet<String>,
}

fn start(files: &CaFiles, name: &str, upstream: &CaptureUpstream, spool: &Path) -> BinProxy {
    let dsn = upstream.dsn(KEY, PROJECT);
    let args = [
        "--upstream-dsn",
        dsn.as_str(),
        "--upstream-ca",
        files.ca_pem.as_str(),
        "--consent-file",
        files.consent.as_str(),
        "--spool-dir",
        spool.to_str().expect("utf-8"),
        "--spool-fsync",
        "batch",
        "--senders",
        "4",
        "--upstream-timeout",
        "500ms",
        "--shutdown-timeout",
        "1s",
    ];
    BinProxy::start(&files.dir, name, &args, &[])
}

/// Every file under the spool folder, checked for canaries: only scrubbed bytes on disk.
fn assert_spool_scrubbed(spool: &Path) {
    let Ok(rd) = std::fs::read_dir(spool) else {
        return;
    };
    for entry in rd.flatten() {
        let path = entry.path();
        if path.is_file() {
            if let Ok(bytes) = std::fs::read(&path) {
                assert_no_canary(&bytes, &format!("spool file {}", path.display()));
            }
        }
    }
}

/// Sends one canary event every `period` to whatever address `target` holds (none while the
/// proxy is down), until `stop` is set; records what was sent and what got 2xx.
fn spawn_load(
    target: Arc<Mutex<Option<SocketAddr>>>,
    load: Arc<Mutex<Load>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    period: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        let mut n = 0usize;
        let mut in_flight = tokio::task::JoinSet::new();
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            tick.tick().await;
            let Some(addr) = *target.lock().expect("target") else {
                continue;
            };
            let id = event_id(n);
            let raw = envelope_request(
                KEY,
                PROJECT,
                &canary::event_envelope(&id, Some("7"), Some("42")),
            );
            n += 1;
            load.lock().expect("load").sent.insert(id.clone());
            let load = load.clone();
            in_flight.spawn(async move {
                if let Ok(resp) = try_exchange(addr, raw).await {
                    if (200..300).contains(&resp.status) {
                        assert_no_canary(&resp.body, "the SDK-facing response");
                        load.lock().expect("load").acknowledged.insert(id);
                    }
                }
            });
            while in_flight.len() > 64 {
                let _ = in_flight.join_next().await;
            }
        }
        while in_flight.join_next().await.is_some() {}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// CRASH_KILLS and CRASH_SEED are the test's own knobs (more kills, a seed to replay).
#[allow(clippy::disallowed_methods)]
async fn kill_9_under_load_loses_nothing_acknowledged() {
    let kills: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos() as u64
                | 1
        });
    let mut rng = Rng(seed);
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "crash");
    let spool = files.dir.join("spool");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::Fail(503)));

    let target = Arc::new(Mutex::new(None));
    let load = Arc::new(Mutex::new(Load::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loader = spawn_load(
        target.clone(),
        load.clone(),
        stop.clone(),
        Duration::from_millis(10),
    );

    // Down, stalling, cutting connections, or briefly up: what an outage looks like.
    let modes = [
        Mode::Fail(503),
        Mode::Stall,
        Mode::Drop,
        Mode::Fail(502),
        Mode::Ok,
    ];
    for round in 0..kills {
        let mode = modes[rng.below(modes.len() as u64) as usize].clone();
        upstream.set_mode(mode);
        let mut proxy = start(&files, &format!("run{round}"), &upstream, &spool);
        *target.lock().expect("target") = Some(proxy.listen);
        let alive = Duration::from_millis(150 + rng.below(650));
        tokio::time::sleep(alive).await;
        proxy.kill9();
        *target.lock().expect("target") = None;
        assert_spool_scrubbed(&spool);
    }

    // Load stops; the upstream comes up; one last proxy replays the spool.
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    loader.await.expect("load task");
    upstream.set_mode(Mode::Ok);
    let mut last = start(&files, "final", &upstream, &spool);
    let (sent, acknowledged) = {
        let l = load.lock().expect("load");
        (l.sent.clone(), l.acknowledged.clone())
    };
    assert!(
        !acknowledged.is_empty(),
        "the load got no 2xx at all (seed {seed})"
    );
    let counts = |upstream: &CaptureUpstream| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for c in delivered(upstream) {
            assert_no_canary(&c.body, "a delivered envelope");
            *m.entry(c.event_id().expect("event_id")).or_insert(0) += 1;
        }
        m
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let got = loop {
        let got = counts(&upstream);
        if acknowledged.iter().all(|id| got.contains_key(id)) {
            break got;
        }
        if tokio::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(last.terminate(), Some(0));
    assert_spool_scrubbed(&spool);

    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !got.contains_key(*id))
        .collect();
    let duplicates: usize = got.values().map(|n| n - 1).sum();
    let unknown: Vec<&String> = got.keys().filter(|id| !sent.contains(*id)).collect();
    #[allow(clippy::print_stderr)] // the figures docs/durability.md records
    {
        eprintln!(
            "crash test: seed {seed}, {kills} kills, {} sent, {} acknowledged, {} delivered, {} lost, {duplicates} duplicates",
            sent.len(),
            acknowledged.len(),
            got.len(),
            lost.len(),
        );
    }
    assert!(
        lost.is_empty(),
        "acknowledged but lost (seed {seed}): {lost:?}"
    );
    assert!(unknown.is_empty(), "delivered but never sent: {unknown:?}");
    assert!(
        got.values().all(|n| *n <= 2),
        "an envelope delivered more than twice (seed {seed}): {:?}",
        got.iter().filter(|(_, n)| **n > 2).collect::<Vec<_>>()
    );
    // A duplicate needs a kill between the upstream's 2xx and the spool's compaction: at
    // most one per sender per kill.
    assert!(
        duplicates <= kills * SENDERS,
        "{duplicates} duplicates for {kills} kills (seed {seed})"
    );
}
