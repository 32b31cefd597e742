//! A hostile (or broken) upstream, in-process over real TLS: answers whose durations and
//! counts are absurd must not stop the senders, must be clamped before they are recorded,
//! and must not grow the header passed back to the SDKs.
//!
//! Each test runs with one sender, so a sender lost to a panic shows as an envelope that is
//! never delivered after the upstream recovers.

mod common;

use common::{
    envelope_request, event_id, fast_retries, transaction_envelope, wait_delivered, CaFiles,
    TestProxy,
};
use testkit::ca::TestCa;
use testkit::canary;
use testkit::upstream::{CaptureUpstream, Mode, Options, Tls};

const KEY: &str = "d41d8cd98f00b204e9800998ecf8427e";
const PROJECT: &str = "42";

async fn start(upstream: &CaptureUpstream, files: &CaFiles) -> TestProxy {
    let dsn = upstream.dsn(KEY, PROJECT);
    let args = [
        "--upstream-dsn",
        dsn.as_str(),
        "--upstream-ca",
        files.ca_pem.as_str(),
        "--consent-file",
        files.consent.as_str(),
        "--upstream-timeout",
        "2s",
        "--shutdown-timeout",
        "1s",
        "--senders",
        "1",
    ];
    TestProxy::start_config(&args, fast_retries).await
}

async fn send_event(proxy: &TestProxy, n: usize) -> common::Response {
    let body = canary::event_envelope(&event_id(n), Some("7"), Some("42"));
    proxy.send(envelope_request(KEY, PROJECT, &body)).await
}

async fn send_transaction(proxy: &TestProxy, n: usize) -> common::Response {
    let body = transaction_envelope(&event_id(n));
    proxy.send(envelope_request(KEY, PROJECT, &body)).await
}

const RATE_LIMITED: &str =
    "scrubproxy_items_dropped_total{type=\"event\",reason=\"upstream_rate_limited\"}";

/// `X-Sentry-Rate-Limits: 1e19:error:organization` panicked the sender ("overflow when
/// adding duration to instant"): with one sender, nothing was sent again.
#[tokio::test]
async fn a_rate_limit_past_any_clock_is_clamped_and_the_sender_lives() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "hostile-upstream");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::RateLimit {
        retry_after: 1,
        header: "1e19:error:organization".into(),
    }));
    let proxy = start(&upstream, &files).await;
    assert_eq!(send_event(&proxy, 0).await.status, 200);
    proxy.wait_metric(RATE_LIMITED, 1).await;
    upstream.set_mode(Mode::Ok);

    // Errors are limited for the clamped hour; the SDK is told exactly that.
    let resp = send_event(&proxy, 1).await;
    assert_eq!(resp.status, 429, "{}", resp.text());
    assert_eq!(resp.header("retry-after"), Some("3600"));
    assert_eq!(
        resp.header("x-sentry-rate-limits"),
        Some("3600:error:organization")
    );
    // Transactions still go, through the same (only) sender.
    let resp = send_transaction(&proxy, 2).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let got = wait_delivered(&upstream, 1).await;
    assert_eq!(got[0].event_id(), Some(event_id(2)));
    assert_eq!(
        proxy
            .metric("scrubproxy_sender_restarts_total{cause=\"panic\"}")
            .await,
        0
    );
    proxy.stop().await;
}

/// `429` with `Retry-After: 18446744073709551615` and no limits header: every category is
/// limited for the clamped hour, and the sender is still there.
#[tokio::test]
async fn a_retry_after_past_any_clock_is_clamped() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "hostile-upstream");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::RateLimit {
        retry_after: u64::MAX,
        header: String::new(),
    }));
    let proxy = start(&upstream, &files).await;
    assert_eq!(send_event(&proxy, 0).await.status, 200);
    proxy.wait_metric(RATE_LIMITED, 1).await;
    let resp = send_transaction(&proxy, 1).await;
    assert_eq!(resp.status, 429, "{}", resp.text());
    assert_eq!(resp.header("retry-after"), Some("3600"));
    assert_eq!(
        resp.header("x-sentry-rate-limits"),
        Some("3600::organization")
    );
    let ready = proxy.admin_get("/readyz", &[]).await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    proxy.stop().await;
    assert_eq!(upstream.requests().len(), 1);
}

/// Thousands of invented categories: only known ones are kept, and the header the SDK gets
/// stays small (it grew past 64 KiB, which Python's `http.client` refuses).
#[tokio::test]
async fn thousands_of_categories_do_not_reach_the_sdk() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "hostile-upstream");
    let invented: Vec<String> = (0..3000).map(|i| format!("c{i:05}")).collect();
    let header = format!("60:{};error:key", invented.join(";"));
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::RateLimit {
        retry_after: 60,
        header,
    }));
    let proxy = start(&upstream, &files).await;
    for n in 0..3 {
        assert_eq!(send_transaction(&proxy, n).await.status, 200);
        proxy
            .wait_metric(
                "scrubproxy_items_dropped_total{type=\"transaction\",reason=\"upstream_rate_limited\"}",
                n as u64 + 1,
            )
            .await;
    }
    let resp = send_transaction(&proxy, 10).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let limits = resp
        .header("x-sentry-rate-limits")
        .expect("limits passed on");
    let secs: u64 = limits
        .strip_suffix(":error:key")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("one entry for the one known category: {limits:?}"));
    assert!((59..=60).contains(&secs), "{limits}");
    proxy.stop().await;
}
