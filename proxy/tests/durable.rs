//! The durable spool's failure edges, on the real binary over real TLS: a disk that refuses
//! writes (nothing refused is acknowledged, nothing acknowledged is lost) and a consent
//! withdrawal (the company's spooled envelopes leave the disk before the upstream is back,
//! and never reach it).

mod common;

use std::collections::BTreeSet;

use common::{
    delivered, envelope_request, event_id, metric_value, wait_delivered, BinProxy, CaFiles,
    WAIT_TIMEOUT,
};
use testkit::ca::TestCa;
use testkit::canary::{self, assert_no_canary};
use testkit::upstream::{CaptureUpstream, Mode, Options, Tls};

const KEY: &str = "d41d8cd98f00b204e9800998ecf8427e";
const PROJECT: &str = "42";
const SPOOL_IO: &str = "scrubproxy_items_dropped_total{type=\"event\",reason=\"spool_io\"}";
const REJECTED_IO: &str = "scrubproxy_requests_rejected_total{reason=\"spool_io\"}";
const REVOKED: &str = "scrubproxy_items_dropped_total{type=\"event\",reason=\"consent_revoked\"}";
const TORN: &str = "scrubproxy_items_dropped_total{type=\"envelope\",reason=\"spool_torn\"}";
const LIVE: &str = "scrubproxy_spool_envelopes";

fn args<'a>(files: &'a CaFiles, dsn: &'a str, spool: &'a str) -> Vec<&'a str> {
    vec![
        "--upstream-dsn",
        dsn,
        "--upstream-ca",
        files.ca_pem.as_str(),
        "--consent-file",
        files.consent.as_str(),
        "--spool-dir",
        spool,
        "--senders",
        "1",
        "--retry-backoff-base",
        "20ms",
        "--retry-backoff-max",
        "100ms",
        "--upstream-timeout",
        "1s",
        "--shutdown-timeout",
        "1s",
    ]
}

/// Sends one canary event of `company`; returns its id and the answer's status.
async fn send(proxy: &BinProxy, n: usize, company: &str) -> (String, common::Response) {
    let id = event_id(n);
    let body = canary::event_envelope(&id, Some(company), Some("u-1"));
    let resp = proxy.send(envelope_request(KEY, PROJECT, &body)).await;
    (id, resp)
}

/// Sets this process's file size limit (`RLIMIT_FSIZE`, soft:hard) with util-linux's
/// `prlimit`, as an operator's `ulimit -f` would; past it every write fails with `EFBIG`.
fn prlimit_fsize(pid: u32, limit: &str) {
    let status = std::process::Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={limit}")])
        .status()
        .expect("run prlimit (util-linux)");
    assert!(status.success(), "prlimit --fsize={limit} on {pid}");
}

/// The current soft and hard file size limits of `pid`, as `prlimit` prints them.
fn fsize_of(pid: u32) -> String {
    let out = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            "--fsize",
            "--raw",
            "--noheadings",
        ])
        .args(["-o", "SOFT,HARD"])
        .output()
        .expect("run prlimit (util-linux)");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let parts: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(parts.len(), 2, "prlimit output: {text:?}");
    format!("{}:{}", parts[0], parts[1])
}

/// Polls the log until `needle` appears `n` times; returns the log.
async fn wait_log(proxy: &BinProxy, needle: &str, n: usize) -> String {
    common::assert_eventually(WAIT_TIMEOUT, async || match proxy.log() {
        log if log.matches(needle).count() >= n => Ok(log),
        log => Err(format!("{needle:?} not logged {n} time(s):\n{log}")),
    })
    .await
}

/// Polls `/metrics` until `sample` is exactly `want`.
async fn wait_exact(proxy: &BinProxy, sample: &str, want: u64) -> String {
    common::assert_eventually(WAIT_TIMEOUT, async || {
        let text = proxy.metrics().await;
        match metric_value(&text, sample) {
            v if v == want => Ok(text),
            v => Err(format!("{sample} is {v} not {want}")),
        }
    })
    .await
}

/// The active segment of the log: the highest-numbered one.
fn active_segment(spool: &std::path::Path) -> std::path::PathBuf {
    let mut segs: Vec<_> = std::fs::read_dir(spool)
        .expect("spool folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    segs.sort();
    segs.pop().expect("a segment")
}

/// Sends `n` events from `first`, each expected to be refused with `503 spool_io`.
async fn send_refused(proxy: &BinProxy, first: usize, n: usize) -> BTreeSet<String> {
    let mut refused = BTreeSet::new();
    for i in first..first + n {
        let (id, resp) = send(proxy, i, "7").await;
        assert_eq!(
            (resp.status, resp.header("retry-after"), resp.text()),
            (
                503,
                Some("10"),
                r#"{"detail":"the proxy's disk spool cannot be written; retry later"}"#.to_owned()
            )
        );
        refused.insert(id);
    }
    refused
}

/// Sends `n` events from `first`, each expected to be acknowledged.
async fn send_acked(proxy: &BinProxy, first: usize, n: usize) -> BTreeSet<String> {
    let mut acked = BTreeSet::new();
    for i in first..first + n {
        let (id, resp) = send(proxy, i, "7").await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        acked.insert(id);
    }
    acked
}

/// A file size limit makes appends fail with `EFBIG`, as a full or broken disk would fail
/// them. First a limit just past the active segment's end: the next append is cut halfway,
/// refused, cut back off the segment, and the log goes on in a fresh one. Then a limit of
/// 0: every append fails until it is lifted. Each refused envelope gets `503 spool_io` with
/// `Retry-After`, counted once; each burst is logged once, with the error's kind and never
/// content. The acknowledged envelopes all survive a `kill -9`, with no torn record; the
/// refused never reach the upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_the_disk_refuses_is_never_acknowledged_and_nothing_acknowledged_is_lost() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "durable-io");
    let spool = files.dir.join("spool");
    let spool_arg = spool.to_str().expect("utf-8").to_owned();
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::Fail(503)));
    let dsn = upstream.dsn(KEY, PROJECT);
    let run_args = args(&files, &dsn, &spool_arg);
    let mut proxy = BinProxy::start_piped(&files.dir, "io", &run_args, &[]);
    let mut acked = send_acked(&proxy, 0, 3).await;
    let pid = proxy.pid();
    let normal = fsize_of(pid);
    let hard = normal.split(':').nth(1).expect("hard limit").to_owned();

    // A limit 100 bytes past the segment's end: the next record (over a kilobyte) is cut.
    let end = std::fs::metadata(active_segment(&spool))
        .expect("segment")
        .len();
    prlimit_fsize(pid, &format!("{}:{hard}", end + 100));
    let mut refused = send_refused(&proxy, 3, 1).await;
    let first = spool.join(format!("wal-{:016}.log", 0));
    assert_eq!(
        std::fs::metadata(first).expect("first segment").len(),
        end,
        "the cut record is gone from the segment"
    );
    acked.extend(send_acked(&proxy, 4, 1).await);
    wait_log(&proxy, "spool writes succeed again", 1).await;

    // No write at all: a burst of refusals.
    prlimit_fsize(pid, &format!("0:{hard}"));
    refused.extend(send_refused(&proxy, 5, 4).await);
    let text = proxy.metrics().await;
    assert_eq!(
        (
            metric_value(&text, REJECTED_IO),
            metric_value(&text, SPOOL_IO)
        ),
        (5, 5)
    );
    assert_eq!(
        metric_value(&text, LIVE),
        4,
        "only the acknowledged are in the log"
    );
    prlimit_fsize(pid, &normal);
    acked.extend(send_acked(&proxy, 9, 3).await);

    let log = wait_log(&proxy, "spool writes succeed again", 2).await;
    let warned: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("spool write failed"))
        .collect();
    assert_eq!(warned.len(), 2, "one warning per burst:\n{log}");
    for line in &warned {
        assert!(
            line.contains("WARN") && line.contains("file too large"),
            "the error's kind is named: {line}"
        );
    }
    assert!(
        log.contains("refused=1") && log.contains("refused=4"),
        "{log}"
    );
    assert!(
        !log.contains("request refused"),
        "no warning per refused request:\n{log}"
    );
    assert_no_canary(log.as_bytes(), "the proxy's log");
    for id in acked.iter().chain(&refused) {
        assert!(!log.contains(id.as_str()), "an event id in the log");
    }

    // The acknowledged envelopes are on disk, whatever happens to the process now.
    proxy.kill9();
    upstream.set_mode(Mode::Ok);
    let mut proxy = BinProxy::start(&files.dir, "io-after", &run_args, &[]);
    wait_delivered(&upstream, acked.len()).await;
    wait_exact(&proxy, LIVE, 0).await;
    let got: BTreeSet<String> = delivered(&upstream)
        .iter()
        .filter_map(|c| c.event_id())
        .collect();
    assert_eq!(
        got, acked,
        "every acknowledged envelope, and no refused one"
    );
    assert_eq!(metric_value(&proxy.metrics().await, TORN), 0);
    assert_eq!(proxy.terminate(), Some(0));
}

/// Company 7 withdraws consent while its envelopes wait in the spool for an upstream that
/// is down: they are erased from the disk and counted before the upstream comes back, and
/// then only company 8's envelopes reach it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_company_leaves_the_disk_before_the_upstream_is_back() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "durable-revoke");
    let consented = r#"{"telemetry_enabled": true, "companies": {"7": {"telemetry_enabled": true, "telemetry_ids_allowed": false}, "8": {"telemetry_enabled": true, "telemetry_ids_allowed": false}}}"#;
    std::fs::write(&files.consent, consented).expect("consent");
    let spool = files.dir.join("spool");
    let spool_arg = spool.to_str().expect("utf-8").to_owned();
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::Fail(503)));
    let dsn = upstream.dsn(KEY, PROJECT);
    let mut proxy = BinProxy::start(&files.dir, "revoke", &args(&files, &dsn, &spool_arg), &[]);
    let (mut sevens, mut eights) = (BTreeSet::new(), BTreeSet::new());
    for n in 0..12 {
        let company = if n % 2 == 0 { "7" } else { "8" };
        let (id, resp) = send(&proxy, n, company).await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        if company == "7" {
            &mut sevens
        } else {
            &mut eights
        }
        .insert(id);
    }
    wait_exact(&proxy, LIVE, 12).await;
    let on_disk = || -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(&spool).expect("spool folder").flatten() {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            assert_no_canary(&bytes, "a spool segment");
            all.push_str(&String::from_utf8_lossy(&bytes));
        }
        all
    };
    let before = on_disk();
    assert!(sevens
        .iter()
        .chain(&eights)
        .all(|id| before.contains(id.as_str())));

    let revoked = consented.replacen(
        r#""7": {"telemetry_enabled": true"#,
        r#""7": {"telemetry_enabled": false"#,
        1,
    );
    std::fs::write(&files.consent, revoked).expect("consent");
    wait_exact(&proxy, LIVE, 6).await;
    let text = wait_exact(&proxy, REVOKED, 6).await;
    let after = on_disk();
    for id in &sevens {
        assert!(
            !after.contains(id.as_str()),
            "{id} of company 7 still on disk"
        );
    }
    for id in &eights {
        assert!(after.contains(id.as_str()), "{id} of company 8 lost");
    }
    assert!(
        delivered(&upstream).is_empty(),
        "the upstream was down all along"
    );
    assert_eq!(
        metric_value(&text, "scrubproxy_envelopes_forwarded_total"),
        0
    );
    let log = proxy.log();
    assert!(
        log.contains("consent withdrawn: spooled envelopes erased from disk")
            && log.contains("envelopes=6"),
        "{log}"
    );

    upstream.set_mode(Mode::Ok);
    wait_delivered(&upstream, eights.len()).await;
    wait_exact(&proxy, LIVE, 0).await;
    let got: BTreeSet<String> = delivered(&upstream)
        .iter()
        .filter_map(|c| c.event_id())
        .collect();
    assert_eq!(got, eights, "only company 8 reaches the upstream");
    // The copies in memory found their records gone: counted once, by the sweep.
    assert_eq!(metric_value(&proxy.metrics().await, REVOKED), 6);
    assert_eq!(proxy.terminate(), Some(0));
    assert_no_canary(proxy.log().as_bytes(), "the proxy's log");
}

/// Unknown consent is not withdrawn consent: envelopes acknowledged before a crash, replayed
/// at a start where no consent document is in force yet (a `--consent-url` that has not
/// answered, here a consent file not written yet), wait for one instead of being dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_envelopes_wait_for_unknown_consent_instead_of_being_dropped() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "durable-unknown");
    let consented = r#"{"telemetry_enabled": true, "companies": {"7": {"telemetry_enabled": true, "telemetry_ids_allowed": false}}}"#;
    std::fs::write(&files.consent, consented).expect("consent");
    let spool = files.dir.join("spool");
    let spool_arg = spool.to_str().expect("utf-8").to_owned();
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::Fail(503)));
    let dsn = upstream.dsn(KEY, PROJECT);
    let mut proxy = BinProxy::start(
        &files.dir,
        "unknown-1",
        &args(&files, &dsn, &spool_arg),
        &[],
    );
    let mut ids = BTreeSet::new();
    for n in 0..5 {
        let (id, resp) = send(&proxy, n, "7").await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        ids.insert(id);
    }
    wait_exact(&proxy, LIVE, 5).await;
    proxy.kill9();

    // The restart finds no consent document, and the upstream is up.
    std::fs::remove_file(&files.consent).expect("remove consent");
    upstream.set_mode(Mode::Ok);
    let mut proxy = BinProxy::start(
        &files.dir,
        "unknown-2",
        &args(&files, &dsn, &spool_arg),
        &[],
    );
    wait_log(&proxy, "consent unknown: accepted envelopes wait", 1).await;
    let text = proxy.metrics().await;
    assert_eq!(
        metric_value(&text, REVOKED),
        0,
        "nothing dropped as revoked"
    );
    assert_eq!(
        metric_value(
            &text,
            "scrubproxy_items_dropped_total{type=\"event\",reason=\"no_consent\"}"
        ),
        0
    );
    assert_eq!(metric_value(&text, LIVE), 5, "all five still on disk");
    assert!(
        delivered(&upstream).is_empty(),
        "nothing left without consent"
    );

    // A document arrives: every acknowledged envelope goes, none dropped.
    std::fs::write(&files.consent, consented).expect("consent");
    wait_delivered(&upstream, ids.len()).await;
    wait_exact(&proxy, LIVE, 0).await;
    let got: BTreeSet<String> = delivered(&upstream)
        .iter()
        .filter_map(|c| c.event_id())
        .collect();
    assert_eq!(got, ids);
    assert_eq!(metric_value(&proxy.metrics().await, REVOKED), 0);
    wait_log(&proxy, "consent known again: held envelopes go on", 1).await;
    assert_eq!(proxy.terminate(), Some(0));
    assert_no_canary(proxy.log().as_bytes(), "the proxy's log");
}
