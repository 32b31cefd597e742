//! The admin port is capped: 1,100 idle connections on it, with the
//! proxy held to 1,024 open files, used every file descriptor, so the SDK port's `accept`
//! failed ("Too many open files") and the consent file could not be read. With
//! `--admin-max-connections` the flood waits in the kernel's backlog, and SDK traffic goes on.
//! At start the proxy raises its soft open-file limit to the hard one and logs both.
//!
//! The real binary under `prlimit` (util-linux), so its limits are the ones under test.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{envelope_request, event_id, wait_delivered, BinProxy, CaFiles, WAIT_TIMEOUT};
use testkit::ca::TestCa;
use testkit::canary;
use testkit::upstream::{CaptureUpstream, Options, Tls};
use tokio::net::TcpStream;

const KEY: &str = "d41d8cd98f00b204e9800998ecf8427e";
const PROJECT: &str = "42";

/// Opens up to `n` idle connections to `addr`, in waves of 50 so that the kernel's accept
/// queue never overflows (each connect bounded: with a cap, the backlog fills and later
/// connects time out); returns those that connected.
async fn flood(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut open = Vec::new();
    for wave in 0..n.div_ceil(50) {
        let tasks: Vec<_> = (0..50.min(n - wave * 50))
            .map(|_| {
                tokio::spawn(async move {
                    tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(addr))
                        .await
                        .ok()
                        .and_then(Result::ok)
                })
            })
            .collect();
        for t in tasks {
            if let Ok(Some(s)) = t.await {
                open.push(s);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    open
}

/// The proxy's open files once their number stayed the same for half a second.
async fn settle_open_files(pid: u32) -> usize {
    let count = || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let deadline = tokio::time::Instant::now() + WAIT_TIMEOUT;
    let mut last = count();
    let mut stable = 0;
    while stable < 10 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = count();
        stable = if now == last { stable + 1 } else { 0 };
        last = now;
    }
    last
}

/// `Max open files` soft and hard limits of a process, from `/proc/<pid>/limits`.
fn open_files_limit(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("read limits");
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let nums: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (nums[0], nums[1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_admin_connections_do_not_stop_the_sdk_port() {
    // The test itself holds 1,100 sockets.
    rlimit::increase_nofile_limit(4096).expect("raise the test's own open files limit");
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "admin-flood");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let dsn = upstream.dsn(KEY, PROJECT);
    let mut proxy = BinProxy::start_under(
        &files.dir,
        "admin-flood",
        &["prlimit", "--nofile=1024:1024", "--"],
        &[
            "--upstream-dsn",
            &dsn,
            "--upstream-ca",
            &files.ca_pem,
            "--consent-file",
            &files.consent,
            // Long enough that no idle connection is closed during the test: only the cap
            // protects the SDK port.
            "--header-read-timeout",
            "60s",
        ],
        &[],
    );
    assert_eq!(open_files_limit(proxy.pid()), (1024, 1024));
    // Without a cap all of them are accepted; with it, 64 are, and the kernel's backlog
    // holds some more (the rest time out connecting).
    let idle = flood(proxy.admin, 1_100).await;
    assert!(idle.len() >= 64, "only {} connected", idle.len());
    // Until the proxy has accepted all it will (its open files stop growing).
    // Without a cap this reached the limit, 1,024.
    let fds = settle_open_files(proxy.pid()).await;
    assert!(
        fds < 256,
        "{fds} open files with {} idle admin connections",
        idle.len()
    );
    // The SDK port still accepts, the consent file is still read, the upstream gets it.
    for n in 0..3 {
        let body = canary::event_envelope(&event_id(n), Some("7"), None);
        let resp = proxy.send(envelope_request(KEY, PROJECT, &body)).await;
        assert_eq!(resp.status, 200, "{}", resp.text());
    }
    wait_delivered(&upstream, 3).await;
    drop(idle);
    // Once the flood is gone, the admin port answers again.
    let metrics = common::assert_eventually(WAIT_TIMEOUT, async || {
        let get = common::request("GET", "/metrics", &[], b"").to_vec_no_length();
        common::try_exchange(proxy.admin, get)
            .await
            .map_err(|e| format!("admin does not answer: {e:?}"))
    })
    .await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    assert_eq!(
        common::metric_value(&text, "scrubproxy_consent_errors_total{source=\"load\"}"),
        0,
        "the consent file was read all along"
    );
    assert_eq!(proxy.terminate(), Some(0));
    let log = proxy.log();
    assert!(!log.contains("Too many open files"), "{log}");
    assert!(log.contains("open files limit"), "{log}");
}

/// Where the hard limit allows, the soft limit is raised at start, and the log says so.
#[test]
fn the_open_files_soft_limit_is_raised_to_the_hard_one() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "nofile");
    let mut proxy = BinProxy::start_under(
        &files.dir,
        "nofile",
        &["prlimit", "--nofile=256:4096", "--"],
        &[],
        &[],
    );
    assert_eq!(open_files_limit(proxy.pid()), (4096, 4096));
    // An answer from the SDK port: the server loop (and its signal handler) runs.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let resp = rt.block_on(proxy.send(common::request("GET", "/", &[], b"").to_vec_no_length()));
    assert_eq!(resp.status, 404);
    assert_eq!(proxy.terminate(), Some(0));
    let log = proxy.log();
    assert!(
        log.lines().any(|l| l.contains("open files limit raised")
            && l.contains("from=256")
            && l.contains("to=4096")),
        "{log}"
    );
}
