//! A hostile (or stuck) consent URL: a server that answers the
//! headers and 5 bytes of the body, then nothing. The timeout used to cover the headers
//! only, so the polling loop waited forever: the document never expired (telemetry stayed
//! on), `POST /consent/refresh` answered 503 and a revocation could not apply, and the
//! proxy's shutdown waited for the stuck poll.
//!
//! The proxy runs in-process against a local HTTPS capture upstream; the consent server is
//! raw TCP on 127.0.0.1, so the stall is exact.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{envelope_request, event_id, CaFiles, TestProxy, WAIT_TIMEOUT};
use testkit::ca::TestCa;
use testkit::canary;
use testkit::upstream::{CaptureUpstream, Options, Tls};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const KEY: &str = "d41d8cd98f00b204e9800998ecf8427e";
const PROJECT: &str = "42";
const TOKEN: &str = "consent-stall-admin-token-0123";
const CONSENTED: &str = r#"{"telemetry_enabled": true, "companies": {"7": {"telemetry_enabled": true, "telemetry_ids_allowed": false}}}"#;
const REVOKED: &str = r#"{"telemetry_enabled": true, "companies": {"7": {"telemetry_enabled": false, "telemetry_ids_allowed": false}}}"#;

/// A consent server: answers `body` whole, or (stalling) its headers and first 5 bytes,
/// then holds the connection open without another byte.
struct StallServer {
    addr: SocketAddr,
    body: Arc<Mutex<String>>,
    stall: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    stalled: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl StallServer {
    async fn start(body: &str) -> StallServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let body = Arc::new(Mutex::new(body.to_owned()));
        let stall = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let stalled = Arc::new(AtomicUsize::new(0));
        let (b, s, r, st) = (
            body.clone(),
            stall.clone(),
            requests.clone(),
            stalled.clone(),
        );
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    continue;
                };
                let (b, s, r, st) = (b.clone(), s.clone(), r.clone(), st.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    r.fetch_add(1, Ordering::SeqCst);
                    let text = b.lock().expect("body").clone();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        text.len()
                    );
                    if s.load(Ordering::SeqCst) {
                        let _ = conn.write_all(head.as_bytes()).await;
                        let _ = conn.write_all(&text.as_bytes()[..5]).await;
                        st.fetch_add(1, Ordering::SeqCst);
                        // Never another byte, never a close: until the test ends.
                        std::future::pending::<()>().await;
                    }
                    let _ = conn.write_all(head.as_bytes()).await;
                    let _ = conn.write_all(text.as_bytes()).await;
                });
            }
        });
        StallServer {
            addr,
            body,
            stall,
            requests,
            stalled,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/internal/telemetry-consent.json", self.addr)
    }

    fn set(&self, body: &str, stall: bool) {
        *self.body.lock().expect("body") = body.to_owned();
        self.stall.store(stall, Ordering::SeqCst);
    }

    /// Waits until `n` requests have been answered with a stalled body.
    async fn wait_stalled(&self, n: usize) {
        common::assert_eventually(WAIT_TIMEOUT, async || {
            match self.stalled.load(Ordering::SeqCst) {
                stalled if stalled >= n => Ok(()),
                stalled => Err(format!(
                    "the consent server stalled {stalled} request(s) of {}, expected {n}",
                    self.requests.load(Ordering::SeqCst)
                )),
            }
        })
        .await
    }
}

impl Drop for StallServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start(
    upstream: &CaptureUpstream,
    files: &CaFiles,
    url: &str,
    extra: &[&str],
) -> TestProxy {
    let dsn = upstream.dsn(KEY, PROJECT);
    let mut args = vec![
        "--upstream-dsn",
        dsn.as_str(),
        "--upstream-ca",
        files.ca_pem.as_str(),
        "--consent-url",
        url,
        "--consent-poll-interval",
        "1s",
        "--admin-token",
        TOKEN,
        "--shutdown-timeout",
        "1s",
    ];
    args.extend_from_slice(extra);
    TestProxy::start_bare(&args).await
}

async fn readyz(proxy: &TestProxy) -> (u16, String) {
    let r = proxy.admin_get("/readyz", &[]).await;
    (r.status, r.text())
}

async fn wait_readyz(proxy: &TestProxy, want: (u16, &str)) {
    common::assert_eventually(WAIT_TIMEOUT, async || {
        let got = readyz(proxy).await;
        match (got.0, got.1.as_str()) == want {
            true => Ok(()),
            false => Err(format!("/readyz stayed {got:?}, expected {want:?}")),
        }
    })
    .await
}

async fn send_event(proxy: &TestProxy, n: usize) {
    let body = canary::event_envelope(&event_id(n), Some("7"), None);
    let resp = proxy.send(envelope_request(KEY, PROJECT, &body)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
}

fn dropped(reason: &str) -> String {
    format!("scrubproxy_items_dropped_total{{type=\"event\",reason=\"{reason}\"}}")
}

/// A poll stuck on the body: the document still expires after `--consent-max-age` (the
/// fetch deadline is set far longer, so only the expiry's own timer can close the gate),
/// and the proxy stops without waiting for the stuck fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_consent_body_still_expires_and_shutdown_completes() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "consent-stall");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let server = StallServer::start(CONSENTED).await;
    let url = server.url();
    let proxy = start(
        &upstream,
        &files,
        &url,
        &["--consent-max-age", "2s", "--consent-fetch-timeout", "60s"],
    )
    .await;
    wait_readyz(&proxy, (200, r#"{"status":"ready"}"#)).await;
    send_event(&proxy, 1).await;
    upstream.wait_for(1, WAIT_TIMEOUT).await;

    server.set(CONSENTED, true);
    server.wait_stalled(1).await;
    // Past the max age the gate closes, though the poll is still stuck.
    wait_readyz(
        &proxy,
        (
            503,
            r#"{"status":"not ready","reasons":["consent_expired"]}"#,
        ),
    )
    .await;
    send_event(&proxy, 2).await;
    proxy.wait_metric(&dropped("consent_expired"), 1).await;
    assert_eq!(
        proxy.metric("scrubproxy_telemetry_enabled").await,
        0,
        "telemetry is off once the document expired"
    );
    // `stop` fails the test if the proxy has not stopped within 30 s.
    proxy.stop().await;
    assert_eq!(upstream.requests().len(), 1);
}

/// A poll stuck on the body: `POST /consent/refresh` still answers, with a fetch of its
/// own, so the app's revocation applies at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_answers_and_revocation_applies_while_a_poll_is_stalled() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "consent-stall");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let server = StallServer::start(CONSENTED).await;
    let url = server.url();
    let proxy = start(
        &upstream,
        &files,
        &url,
        &["--consent-max-age", "10m", "--consent-fetch-timeout", "60s"],
    )
    .await;
    wait_readyz(&proxy, (200, r#"{"status":"ready"}"#)).await;
    send_event(&proxy, 1).await;
    upstream.wait_for(1, WAIT_TIMEOUT).await;

    server.set(CONSENTED, true);
    server.wait_stalled(1).await;
    // The app revokes company 7, its server answers again, and it asks for a refresh.
    server.set(REVOKED, false);
    let bearer = format!("Bearer {TOKEN}");
    let resp = proxy
        .admin("POST", "/consent/refresh", &[("Authorization", &bearer)])
        .await;
    assert_eq!(
        (resp.status, resp.text().as_str()),
        (200, r#"{"status":"reloaded","version":2}"#)
    );
    send_event(&proxy, 2).await;
    proxy
        .wait_metric(&dropped("company_not_consented"), 1)
        .await;
    assert_eq!(
        proxy
            .metric("scrubproxy_items_forwarded_total{type=\"event\"}")
            .await,
        1
    );
    proxy.stop().await;
    assert_eq!(upstream.requests().len(), 1);
}

/// The deadline covers the whole fetch: a stalled body fails the poll after
/// `--consent-fetch-timeout`, is counted, and the last good document stays in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_fails_the_fetch_at_its_deadline() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "consent-stall");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let server = StallServer::start(CONSENTED).await;
    let url = server.url();
    let proxy = start(
        &upstream,
        &files,
        &url,
        &["--consent-max-age", "10m", "--consent-fetch-timeout", "1s"],
    )
    .await;
    wait_readyz(&proxy, (200, r#"{"status":"ready"}"#)).await;
    server.set(CONSENTED, true);
    proxy
        .wait_metric("scrubproxy_consent_errors_total{source=\"load\"}", 1)
        .await;
    // Polls go on after the failed one (each stalls and fails in turn).
    server.wait_stalled(2).await;
    assert_eq!(readyz(&proxy).await.0, 200, "the last good document holds");
    send_event(&proxy, 1).await;
    upstream.wait_for(1, WAIT_TIMEOUT).await;
    proxy.stop().await;
}
