//! Egress with the REAL binary (`CARGO_BIN_EXE_sentry-scrub-proxy`): what only a process
//! shows. Its stderr (the logs), `HTTPS_PROXY` from the environment, SIGTERM with work in
//! flight, `kill -9` after spooling, and a restart that replays the spool.
//!
//! Each test runs its own capture upstream (real TLS, a CA made by the test) and its own
//! proxy processes, stopped by their own PID. Waits poll with generous failure bounds.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{
    delivered, envelope_request, event_id, request, try_exchange, wait_delivered, BinProxy,
    CaFiles, WAIT_TIMEOUT,
};
use testkit::ca::TestCa;
use testkit::canary::{self, assert_no_canary};
use testkit::connect_proxy::{ConnectOptions, ConnectProxy};
use testkit::upstream::{CaptureUpstream, Mode, Options, Tls};

const KEY: &str = "d41d8cd98f00b204e9800998ecf8427e";
const PROJECT: &str = "42";
const ADMIN_TOKEN: &str = "binary-test-admin-token-0123456789";

/// A work folder with the CA's PEM and the consent file; removed on drop.
struct Work(CaFiles);

impl std::ops::Deref for Work {
    type Target = CaFiles;
    fn deref(&self) -> &CaFiles {
        &self.0
    }
}

impl Work {
    fn new(ca: &TestCa) -> Work {
        Work(CaFiles::new(ca, "egress-bin"))
    }

    fn spool(&self) -> PathBuf {
        self.dir.join("spool")
    }

    fn spool_arg(&self) -> String {
        self.spool().to_str().expect("utf-8").to_owned()
    }

    /// Starts the binary against `upstream` with `extra` flags and `env`.
    fn start(
        &self,
        name: &str,
        upstream: &CaptureUpstream,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> BinProxy {
        let dsn = upstream.dsn(KEY, PROJECT);
        let mut args = vec![
            "--upstream-dsn",
            dsn.as_str(),
            "--upstream-ca",
            self.ca_pem.as_str(),
            "--consent-file",
            self.consent.as_str(),
            "--unattributed",
            "forward",
            "--upstream-timeout",
            "1s",
            "--shutdown-timeout",
            "1s",
        ];
        args.extend_from_slice(extra);
        BinProxy::start(&self.dir, name, &args, env)
    }
}

fn canary_event(n: usize) -> Vec<u8> {
    envelope_request(
        KEY,
        PROJECT,
        &canary::event_envelope(&event_id(n), Some("7"), Some("42")),
    )
}

/// Sends canary events `ids` one by one; each must get 200 and no canary back.
async fn send_events(proxy: &BinProxy, ids: std::ops::Range<usize>) {
    for n in ids {
        let resp = proxy.send(canary_event(n)).await;
        assert_eq!(resp.status, 200, "envelope {n}: {}", resp.text());
        assert_no_canary(&resp.body, "the SDK-facing response");
    }
}

/// Event ids delivered, counted.
fn delivered_counts(upstream: &CaptureUpstream) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for c in delivered(upstream) {
        assert_no_canary(&c.body, "a delivered envelope");
        *m.entry(c.event_id().expect("event_id")).or_insert(0) += 1;
    }
    m
}

/// Spool job files (`*.job`), sorted.
fn spool_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "job"))
        .collect();
    v.sort();
    v
}

/// The event ids held by the spool; every file is checked for canaries (the spool holds
/// scrubbed envelopes only) and must be one metadata line plus an envelope.
fn spooled_ids(dir: &Path) -> Vec<String> {
    spool_files(dir)
        .iter()
        .filter_map(|p| {
            // A file may be deleted between the listing and the read (delivered meanwhile).
            let raw = std::fs::read(p).ok()?;
            assert_no_canary(&raw, &format!("spool file {}", p.display()));
            let mut lines = raw.split(|b| *b == b'\n');
            let meta: serde_json::Value =
                serde_json::from_slice(lines.next().expect("meta line")).expect("meta JSON");
            assert_eq!(meta["client"], "sentry.python/2.75.0", "{meta}");
            let header: serde_json::Value =
                serde_json::from_slice(lines.next().expect("envelope header")).expect("JSON");
            Some(header["event_id"].as_str().expect("event_id").to_owned())
        })
        .collect()
}

/// Polls until the spool holds at least `n` job files.
async fn wait_spooled(dir: &Path, n: usize) -> Vec<PathBuf> {
    common::assert_eventually(WAIT_TIMEOUT, async || match spool_files(dir) {
        files if files.len() >= n => Ok(files),
        files => Err(format!("expected {n} spool file(s), found {}", files.len())),
    })
    .await
}

/// Polls until the spool is empty (everything replayed and delivered).
async fn wait_spool_empty(dir: &Path) {
    common::assert_eventually(WAIT_TIMEOUT, async || match spool_files(dir) {
        files if files.is_empty() => Ok(()),
        files => Err(format!("the spool still holds {files:?}")),
    })
    .await
}

#[tokio::test]
async fn untrusted_certificate_logs_a_clear_error_and_counts_it() {
    let ca = TestCa::new();
    let work = Work::new(&ca);
    let upstream = CaptureUpstream::start(Options::new(Tls::Untrusted));
    let mut proxy = work.start("untrusted", &upstream, &[], &[]);
    send_events(&proxy, 0..1).await;
    proxy
        .wait_metric("scrubproxy_upstream_errors_total{kind=\"tls\"}", 1)
        .await;
    assert_eq!(proxy.terminate(), Some(0), "{}", proxy.log());
    assert!(upstream.requests().is_empty(), "nothing sent");
    let log = proxy.log();
    let line = log
        .lines()
        .find(|l| l.contains("upstream unreachable"))
        .unwrap_or_else(|| panic!("a log line about the upstream:\n{log}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(
        line.contains("TLS: invalid peer certificate: UnknownIssuer"),
        "the line says what is wrong: {line}"
    );
    assert_no_canary(log.as_bytes(), "stderr");
}

#[tokio::test]
async fn tls_1_1_only_upstream_logs_a_protocol_error() {
    let ca = TestCa::new();
    let work = Work::new(&ca);
    let upstream = CaptureUpstream::start(Options::new(Tls::Tls11Only(&ca)));
    let mut proxy = work.start("tls11", &upstream, &[], &[]);
    send_events(&proxy, 0..1).await;
    proxy
        .wait_metric("scrubproxy_upstream_errors_total{kind=\"tls\"}", 1)
        .await;
    assert_eq!(proxy.terminate(), Some(0));
    let log = proxy.log();
    let line = log
        .lines()
        .find(|l| l.contains("upstream unreachable"))
        .unwrap_or_else(|| panic!("a log line about the upstream:\n{log}"));
    assert!(line.contains("TLS: "), "{line}");
    assert!(
        line.to_ascii_lowercase().contains("protocolversion")
            || line.to_ascii_lowercase().contains("protocol version"),
        "the line names the protocol version: {line}"
    );
}

#[tokio::test]
async fn https_proxy_env_var_tunnels_through_connect() {
    let ca = TestCa::new();
    let work = Work::new(&ca);
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let tunnel = ConnectProxy::start(ConnectOptions::default());
    let url = tunnel.url();
    let mut proxy = work.start("https-proxy", &upstream, &[], &[("HTTPS_PROXY", &url)]);
    send_events(&proxy, 0..2).await;
    let got = wait_delivered(&upstream, 2).await;
    let connects = tunnel.wait_for_connects(1, WAIT_TIMEOUT).await;
    assert!(connects
        .iter()
        .all(|c| c.target == upstream.addr().to_string() && c.status == 200));
    assert_eq!(proxy.terminate(), Some(0));
    assert_eq!(got.len(), 2);
    assert_eq!(upstream.requests().len(), 2);

    // NO_PROXY naming the upstream host: straight there, the tunnel sees nothing more.
    let before = tunnel.connect_count();
    let mut direct = work.start(
        "no-proxy",
        &upstream,
        &[],
        &[("HTTPS_PROXY", &url), ("NO_PROXY", "127.0.0.1")],
    );
    send_events(&direct, 2..3).await;
    wait_delivered(&upstream, 3).await;
    assert_eq!(direct.terminate(), Some(0));
    assert_eq!(tunnel.connect_count(), before);
}

/// Queue of 1, one sender, upstream failing: envelopes spill to the spool. Returns the
/// running proxy after `n` acknowledged envelopes.
async fn fill_spool(work: &Work, upstream: &CaptureUpstream, name: &str, n: usize) -> BinProxy {
    let spool = work.spool_arg();
    let proxy = work.start(
        name,
        upstream,
        &[
            "--spool-mode",
            "overflow",
            "--spool-dir",
            &spool,
            "--queue-max-envelopes",
            "1",
            "--senders",
            "1",
        ],
        &[],
    );
    send_events(&proxy, 0..n).await;
    // At most one envelope in the sender's hands and one in the queue; the rest on disk.
    wait_spooled(&work.spool(), n - 2).await;
    proxy
        .wait_metric(
            "scrubproxy_spool_writes_total{reason=\"queue_full\"}",
            (n - 2) as u64,
        )
        .await;
    proxy
}

#[tokio::test]
async fn spool_survives_sigterm_and_restart_exactly_once() {
    const N: usize = 8;
    let ca = TestCa::new();
    let work = Work::new(&ca);
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::Fail(503)));
    let mut proxy = fill_spool(&work, &upstream, "first", N).await;
    assert_eq!(proxy.terminate(), Some(0), "{}", proxy.log());
    // Graceful stop: what was in memory went to the spool too.
    let mut ids = spooled_ids(&work.spool());
    ids.sort();
    let want: Vec<String> = (0..N).map(event_id).collect();
    assert_eq!(ids, want, "every acknowledged envelope is on disk, once");
    assert!(delivered(&upstream).is_empty());
    assert!(
        proxy.log().contains("spooling what is left"),
        "{}",
        proxy.log()
    );

    upstream.set_mode(Mode::Ok);
    let spool = work.spool_arg();
    let mut second = work.start(
        "second",
        &upstream,
        &["--spool-mode", "overflow", "--spool-dir", &spool],
        &[],
    );
    wait_delivered(&upstream, N).await;
    wait_spool_empty(&work.spool()).await;
    assert_eq!(second.terminate(), Some(0));
    let counts = delivered_counts(&upstream);
    assert_eq!(counts.keys().cloned().collect::<Vec<_>>(), want);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    for c in delivered(&upstream) {
        let auth = c.header("x-sentry-auth").expect("auth");
        assert!(
            auth.contains("sentry_client=sentry.python/2.75.0"),
            "{auth}"
        );
        assert_eq!(c.header("content-encoding"), Some("zstd"));
    }
}

#[tokio::test]
async fn spool_survives_kill_9_every_spooled_envelope_delivered_once() {
    const N: usize = 8;
    let ca = TestCa::new();
    let work = Work::new(&ca);
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::Fail(503)));
    let mut proxy = fill_spool(&work, &upstream, "first", N).await;
    let before: BTreeSet<String> = spooled_ids(&work.spool()).into_iter().collect();
    proxy.kill9();
    // Spool files are complete (written and renamed before the 200); none was lost.
    let after: BTreeSet<String> = spooled_ids(&work.spool()).into_iter().collect();
    assert_eq!(before, after);
    let acknowledged: BTreeSet<String> = (0..N).map(event_id).collect();
    assert!(after.is_subset(&acknowledged));
    // Only what was in memory (one in the sender's hands, one queued: `--senders 1`,
    // `--queue-max-envelopes 1`) dies with the process.
    let lost: BTreeSet<&String> = acknowledged.difference(&after).collect();
    assert!(
        lost.len() <= 2,
        "only in-memory envelopes may be lost: {lost:?}"
    );

    upstream.set_mode(Mode::Ok);
    let spool = work.spool_arg();
    let mut second = work.start(
        "second",
        &upstream,
        &["--spool-mode", "overflow", "--spool-dir", &spool],
        &[],
    );
    wait_delivered(&upstream, after.len()).await;
    wait_spool_empty(&work.spool()).await;
    assert_eq!(second.terminate(), Some(0));
    let counts = delivered_counts(&upstream);
    assert_eq!(
        counts.keys().cloned().collect::<BTreeSet<_>>(),
        after,
        "every spooled envelope delivered"
    );
    assert!(counts.values().all(|n| *n == 1), "exactly once: {counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_delivers_or_spools_everything_acknowledged() {
    const N: usize = 60;
    const SENDERS: usize = 4;
    let ca = TestCa::new();
    let work = Work::new(&ca);
    // Slow: every request hangs until the 1 s upstream timeout.
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::Stall));
    let spool = work.spool_arg();
    let mut proxy = work.start(
        "loaded",
        &upstream,
        &[
            "--spool-mode",
            "overflow",
            "--spool-dir",
            &spool,
            "--senders",
            &SENDERS.to_string(),
        ],
        &[],
    );
    let acked = Arc::new(AtomicUsize::new(0));
    let listen = proxy.listen;
    let mut tasks = Vec::new();
    for n in 0..N {
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            let resp = try_exchange(listen, canary_event(n)).await.ok()?;
            assert_no_canary(&resp.body, "a response under load");
            if resp.status == 200 {
                acked.fetch_add(1, Ordering::SeqCst);
                Some(n)
            } else {
                None
            }
        }));
    }
    // SIGTERM while requests are still coming in and the senders are stuck.
    common::assert_eventually(WAIT_TIMEOUT, async || match acked.load(Ordering::SeqCst) {
        n if n >= N / 3 => Ok(()),
        n => Err(format!("no progress: {n} acknowledged")),
    })
    .await;
    // Let some get through during the drain.
    upstream.set_mode(Mode::FailTimes(3, 503));
    proxy.signal_term();
    let mut acknowledged = BTreeSet::new();
    for t in tasks {
        if let Some(n) = t.await.expect("client task") {
            acknowledged.insert(event_id(n));
        }
    }
    assert_eq!(proxy.wait_exit_async().await, Some(0), "{}", proxy.log());
    assert!(!acknowledged.is_empty());

    // Everything acknowledged is delivered or in the spool.
    let delivered_now: BTreeSet<String> = delivered_counts(&upstream).into_keys().collect();
    let spooled: BTreeSet<String> = spooled_ids(&work.spool()).into_iter().collect();
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !delivered_now.contains(*id) && !spooled.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but neither delivered nor spooled: {missing:?}"
    );
    // At-least-once (docs/operations.md, "Shutdown"): a send still waiting for the upstream's
    // answer when the drain time ends is abandoned and spooled, though the upstream may have
    // taken it. Only those can be both delivered and spooled: at most one per sender.
    let in_flight_at_stop: BTreeSet<String> =
        delivered_now.intersection(&spooled).cloned().collect();
    assert!(
        in_flight_at_stop.len() <= SENDERS,
        "more envelopes both delivered and spooled than senders: {in_flight_at_stop:?}"
    );

    // Restart with a healthy upstream: everything acknowledged arrives, once.
    upstream.set_mode(Mode::Ok);
    let mut second = work.start(
        "after",
        &upstream,
        &["--spool-mode", "overflow", "--spool-dir", &spool],
        &[],
    );
    wait_spool_empty(&work.spool()).await;
    wait_delivered(&upstream, delivered_now.len() + spooled.len()).await;
    assert_eq!(second.terminate(), Some(0));
    let counts = delivered_counts(&upstream);
    let duplicates: BTreeSet<String> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(
        duplicates, in_flight_at_stop,
        "only the sends abandoned at the stop arrive twice: {counts:?}"
    );
    assert!(counts.values().all(|n| *n <= 2), "duplicates: {counts:?}");
    let all: BTreeSet<String> = counts.into_keys().collect();
    assert!(
        acknowledged.is_subset(&all),
        "{:?}",
        acknowledged.difference(&all)
    );
    let sent: BTreeSet<String> = (0..N).map(event_id).collect();
    assert!(all.is_subset(&sent));
}

/// Good, refused and failing traffic with canaries everywhere; then no canary in stderr,
/// `/metrics`, `/audit/recent` or any response.
async fn no_payload_content_anywhere(format: &str) {
    let ca = TestCa::new();
    let work = Work::new(&ca);
    let upstream =
        CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::FailTimes(2, 500)));
    let mut proxy = work.start(
        &format!("log-{format}"),
        &upstream,
        &[
            "--log",
            "proxy=debug,sentry_scrub_proxy=debug",
            "--log-format",
            format,
            "--admin-token",
            ADMIN_TOKEN,
            "--max-body-size",
            "64KiB",
            "--max-event-size",
            "16KiB",
            "--senders",
            "1",
        ],
        &[],
    );
    let mut responses = Vec::new();
    let canary_text = format!(
        "{} {} {} {}",
        canary::EMAIL,
        canary::CARD,
        canary::PROMPT,
        canary::STRIPE_KEY
    );
    // Good envelopes (two of them retried after 500s).
    for n in 0..3 {
        responses.push(proxy.send(canary_event(n)).await);
    }
    // A company without consent: accepted, dropped, counted.
    let other = canary::event_envelope(&event_id(50), Some("9"), None);
    responses.push(proxy.send(envelope_request(KEY, PROJECT, &other)).await);
    // Malformed: an item longer than announced, canaries in the bytes.
    let bad = format!(
        "{{\"event_id\":\"{}\"}}\n{{\"type\":\"event\",\"length\":4000}}\n{{\"message\":\"{canary_text}\"}}\n",
        event_id(51)
    );
    responses.push(
        proxy
            .send(envelope_request(KEY, PROJECT, bad.as_bytes()))
            .await,
    );
    // Not JSON at all.
    responses.push(
        proxy
            .send(envelope_request(KEY, PROJECT, canary_text.as_bytes()))
            .await,
    );
    // Unknown key, canaries in the body and in the auth header.
    let unknown = format!(
        "Sentry sentry_key=ffffffffffffffffffffffffffffffff, sentry_version=7, sentry_client={}",
        canary::EMAIL
    );
    responses.push(
        proxy
            .send(
                request(
                    "POST",
                    "/api/42/envelope/",
                    &[("X-Sentry-Auth", &unknown)],
                    canary_text.as_bytes(),
                )
                .to_vec(),
            )
            .await,
    );
    // A garbage auth header carrying a canary.
    let garbage = format!("Sentry {}", canary::STRIPE_KEY);
    responses.push(
        proxy
            .send(
                request(
                    "POST",
                    "/api/42/envelope/",
                    &[("X-Sentry-Auth", &garbage)],
                    b"{}\n",
                )
                .to_vec(),
            )
            .await,
    );
    // Too large an event item.
    let big = format!(
        "{{\"event_id\":\"{}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"{}\"}}\n",
        event_id(52),
        canary_text.repeat(400)
    );
    responses.push(
        proxy
            .send(envelope_request(KEY, PROJECT, big.as_bytes()))
            .await,
    );
    // A path with a canary in it, and a wrong method.
    responses.push(
        proxy
            .send(request("POST", &format!("/api/42/{}/", canary::EMAIL), &[], b"").to_vec())
            .await,
    );
    responses.push(
        proxy
            .send(request("GET", "/api/42/envelope/", &[], b"").to_vec_no_length())
            .await,
    );
    // Wrong content encoding.
    let req = request(
        "POST",
        "/api/42/envelope/",
        &[
            ("X-Sentry-Auth", &common::sdk_auth(KEY)),
            ("Content-Encoding", "gzip"),
        ],
        canary_text.as_bytes(),
    );
    responses.push(proxy.send(req.to_vec()).await);

    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        vec![200, 200, 200, 200, 400, 400, 403, 403, 413, 404, 405, 400],
        "{:?}",
        responses.iter().map(|r| r.text()).collect::<Vec<_>>()
    );
    wait_delivered(&upstream, 3).await;
    proxy
        .wait_metric("scrubproxy_envelopes_forwarded_total", 3)
        .await;

    for (i, r) in responses.iter().enumerate() {
        assert_no_canary(&r.body, &format!("response {i}"));
        for (k, v) in &r.headers {
            assert_no_canary(v.as_bytes(), &format!("response {i} header {k}"));
        }
    }
    let metrics = proxy.metrics().await;
    assert_no_canary(metrics.as_bytes(), "/metrics");
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let audit = common::exchange(
        proxy.admin,
        request("GET", "/audit/recent", &[("Authorization", &bearer)], b"").to_vec_no_length(),
    )
    .await;
    assert_eq!(audit.status, 200);
    assert_no_canary(&audit.body, "/audit/recent");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&audit.body)
            .expect("JSON")
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    assert_eq!(proxy.terminate(), Some(0));
    for c in upstream.requests() {
        assert_no_canary(&c.body, "upstream body");
    }

    let log = proxy.log();
    assert!(
        log.contains("listening for SDKs"),
        "the log was captured:\n{log}"
    );
    assert!(
        log.contains("DEBUG") || log.contains("\"level\":\"DEBUG\""),
        "debug on:\n{log}"
    );
    assert_no_canary(log.as_bytes(), "stderr");
    assert!(!log.contains("canarysession"), "cookie value in the log");
    if format == "json" {
        for line in log.lines().filter(|l| !l.trim().is_empty()) {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("a JSON log line ({e}): {line}"));
        }
    }
}

#[tokio::test]
async fn no_payload_content_in_text_logs_metrics_or_bodies() {
    no_payload_content_anywhere("text").await;
}

#[tokio::test]
async fn no_payload_content_in_json_logs_metrics_or_bodies() {
    no_payload_content_anywhere("json").await;
}

/// A new user's first events carry no company tag: they are dropped (fail closed), and the
/// log says why and what to do, once, with nothing from the events in it. Events that name
/// a company never trigger it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untagged_event_gets_one_hint_in_the_log() {
    let ca = TestCa::new();
    let work = Work::new(&ca);
    // Dry run: no upstream, no consent source (every company assumed, IDs never).
    let proxy = BinProxy::start(&work.dir, "hint", &[], &[]);
    let tagged = envelope_request(
        KEY,
        PROJECT,
        &canary::event_envelope(&event_id(1), Some("7"), None),
    );
    assert_eq!(proxy.send(tagged).await.status, 200);
    assert!(
        !proxy.log().contains("naming no company"),
        "{}",
        proxy.log()
    );

    for n in 2..5 {
        let untagged = envelope_request(
            KEY,
            PROJECT,
            &canary::event_envelope(&event_id(n), None, None),
        );
        assert_eq!(proxy.send(untagged).await.status, 200);
    }
    proxy
        .wait_metric(
            "scrubproxy_items_dropped_total{type=\"event\",reason=\"unattributed\"}",
            3,
        )
        .await;
    let log = proxy.log();
    // stderr is a file here: plain text, no terminal colours.
    assert!(!log.contains('\u{1b}'), "{log}");
    assert_eq!(
        log.matches("items naming no company were dropped").count(),
        1,
        "{log}"
    );
    assert!(log.contains("types=event"), "{log}");
    assert!(
        log.contains("sentry_sdk.set_attribute(\"company_id\", id)"),
        "{log}"
    );
    assert!(log.contains("company_tag=company_id"), "{log}");
    assert!(log.contains("--unattributed forward"), "{log}");
    assert_no_canary(log.as_bytes(), "the proxy's log");
}
