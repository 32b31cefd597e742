//! Egress over real TLS, in-process: the proxy sends to a local HTTPS capture upstream
//! (`testkit`) whose certificate comes from a CA made by the test, and the upstream is told
//! to fail, stall, rate-limit, refuse or present a bad certificate.
//!
//! Every test starts its own upstream and proxy (so counters start at zero) with short
//! retry steps (`common::fast_retries`). Waits poll with a generous failure bound; no test
//! asserts how long anything took.

mod common;

use std::collections::BTreeMap;

use common::{
    delivered, envelope_request, event_id, fast_retries, transaction_envelope, wait_delivered,
    CaFiles, TestProxy, WAIT_TIMEOUT,
};
use testkit::ca::TestCa;
use testkit::canary::{self, assert_no_canary};
use testkit::connect_proxy::{basic_auth, ConnectOptions, ConnectProxy};
use testkit::upstream::{CaptureUpstream, Captured, Mode, Options, Tls};

/// The key of the canary envelopes' `dsn`, used inbound and upstream.
const KEY: &str = "d41d8cd98f00b204e9800998ecf8427e";
const PROJECT: &str = "42";
const ADMIN_TOKEN: &str = "egress-test-admin-token-0123456789";

/// A proxy sending to `upstream` (trusting the test CA), with `extra` flags and short retries.
async fn start(upstream: &CaptureUpstream, files: &CaFiles, extra: &[&str]) -> TestProxy {
    let dsn = upstream.dsn(KEY, PROJECT);
    let mut args = vec![
        "--upstream-dsn",
        dsn.as_str(),
        "--upstream-ca",
        files.ca_pem.as_str(),
        "--consent-file",
        files.consent.as_str(),
        "--upstream-timeout",
        "2s",
        // Tests that end with work left (a refused certificate) need not wait 10 s.
        "--shutdown-timeout",
        "1s",
    ];
    args.extend_from_slice(extra);
    TestProxy::start_config(&args, fast_retries).await
}

/// Sends the canary event envelope with id `event_id(n)`; returns the response.
async fn send_event(proxy: &TestProxy, n: usize) -> common::Response {
    let body = canary::event_envelope(&event_id(n), Some("7"), Some("42"));
    let resp = proxy.send(envelope_request(KEY, PROJECT, &body)).await;
    assert_no_canary(&resp.body, "the SDK-facing response body");
    resp
}

/// Sends `n` canary events (ids 0..n) and asserts each got 200 with its id.
async fn send_events(proxy: &TestProxy, ids: std::ops::Range<usize>) {
    for n in ids {
        let resp = send_event(proxy, n).await;
        assert_eq!(resp.status, 200, "envelope {n}: {}", resp.text());
        assert_eq!(
            resp.text(),
            format!("{{\"id\":\"{}\"}}", event_id(n)),
            "envelope {n}"
        );
    }
}

/// Waits until the upstream recorded at least `n` requests, whatever it answered.
async fn wait_requests(upstream: &CaptureUpstream, n: usize) -> Vec<Captured> {
    upstream.wait_for(n, WAIT_TIMEOUT).await
}

/// Polls `/readyz` until it answers 200.
async fn wait_ready(proxy: &TestProxy) {
    common::assert_eventually(WAIT_TIMEOUT, async || {
        let resp = proxy.admin_get("/readyz", &[]).await;
        match resp.status {
            200 => Ok(()),
            s => Err(format!("/readyz stayed {s}: {}", resp.text())),
        }
    })
    .await
}

/// Event ids of `captured`, counted.
fn id_counts(captured: &[Captured]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for c in captured {
        let id = c
            .event_id()
            .expect("an event_id in every forwarded envelope");
        *m.entry(id).or_insert(0) += 1;
    }
    m
}

/// Every id in `ids` delivered exactly once, and nothing else delivered.
fn assert_exactly_once(captured: &[Captured], ids: std::ops::Range<usize>) {
    let counts = id_counts(captured);
    let dupes: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "delivered more than once: {dupes:?}");
    let want: Vec<String> = ids.map(event_id).collect();
    let got: Vec<String> = counts.keys().cloned().collect();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(got, want_sorted, "delivered set differs from acknowledged");
}

/// The checks every forwarded canary envelope passes.
fn assert_forwarded(c: &Captured, upstream: &CaptureUpstream, encoding: &str) {
    assert_eq!(c.method, http::Method::POST);
    assert_eq!(c.path, "/api/42/envelope/");
    let auth = c.header("x-sentry-auth").expect("X-Sentry-Auth sent");
    assert!(auth.starts_with("Sentry "), "{auth}");
    assert!(auth.contains(&format!("sentry_key={KEY}")), "{auth}");
    assert!(auth.contains("sentry_version=7"), "{auth}");
    assert!(
        auth.contains("sentry_client=sentry.python/2.75.0"),
        "the SDK's client name is kept: {auth}"
    );
    assert_eq!(c.header("content-encoding"), Some(encoding));
    assert_eq!(
        c.header("content-type"),
        Some("application/x-sentry-envelope")
    );
    assert_eq!(c.decode_error, None, "the body decodes as {encoding}");
    let magic: &[u8] = match encoding {
        "gzip" => &[0x1f, 0x8b],
        "zstd" => &[0x28, 0xb5, 0x2f, 0xfd],
        other => panic!("unexpected encoding {other}"),
    };
    assert!(c.raw_body.starts_with(magic), "{encoding} on the wire");
    let header = c.envelope_header().expect("a JSON envelope header");
    assert_eq!(
        header["dsn"].as_str(),
        Some(upstream.dsn(KEY, PROJECT).as_str()),
        "the envelope names the upstream DSN: {header}"
    );
    let env = envelope::Envelope::parse(bytes::Bytes::from(c.body.clone()))
        .expect("the upstream gets a valid envelope");
    assert_eq!(env.items().len(), 1);
    assert_eq!(env.items()[0].ty(), &envelope::ItemType::Event);
    assert_no_canary(&c.body, "the forwarded envelope");
    assert_no_canary(&c.raw_body, "the forwarded body on the wire");
    for (name, value) in &c.headers {
        assert_no_canary(value.as_bytes(), name.as_str());
    }
}

async fn delivers_over_tls(compression: &str, encoding: &str) {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let proxy = start(
        &upstream,
        &files,
        &["--upstream-compression", compression, "--senders", "2"],
    )
    .await;
    send_events(&proxy, 0..3).await;
    let got = wait_delivered(&upstream, 3).await;
    for c in &got {
        assert_forwarded(c, &upstream, encoding);
    }
    assert_exactly_once(&got, 0..3);
    proxy
        .wait_metric("scrubproxy_envelopes_forwarded_total", 3)
        .await;
    assert_eq!(
        proxy
            .metric("scrubproxy_upstream_responses_total{status=\"200\"}")
            .await,
        3
    );
    assert_eq!(
        proxy
            .metric("scrubproxy_items_forwarded_total{type=\"event\"}")
            .await,
        3
    );
    proxy.stop().await;
    // Stopped: nothing more can arrive. Exactly one POST per envelope.
    assert_eq!(upstream.requests().len(), 3, "one POST per envelope");
}

#[tokio::test]
async fn tls_upstream_gets_one_gzip_post_per_envelope_scrubbed_with_upstream_auth() {
    delivers_over_tls("gzip", "gzip").await;
}

#[tokio::test]
async fn tls_upstream_gets_zstd_when_configured() {
    delivers_over_tls("zstd", "zstd").await;
}

/// The `Content-Encoding` and answer of every request the upstream got, in order.
fn encodings(upstream: &CaptureUpstream) -> Vec<(Option<String>, Option<u16>)> {
    upstream
        .requests()
        .iter()
        .map(|c| (c.header("content-encoding").map(str::to_owned), c.status))
        .collect()
}

/// zstd is the default. An upstream without a zstd decoder refuses it with `status`: that
/// envelope is sent again at once as gzip, and every later one goes as gzip only; every
/// envelope is accepted exactly once and nothing is lost or counted as dropped.
async fn falls_back_to_gzip(status: u16) {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress");
    let upstream = CaptureUpstream::start(Options {
        mode: Mode::RefuseEncodingWith("zstd".into(), status),
        ..Options::new(Tls::Trusted(&ca))
    });
    let proxy = start(&upstream, &files, &["--senders", "1"]).await;
    send_events(&proxy, 0..1).await;
    wait_delivered(&upstream, 1).await;
    send_events(&proxy, 1..4).await;
    let got = wait_delivered(&upstream, 4).await;
    for c in &got {
        assert_forwarded(c, &upstream, "gzip");
    }
    assert_exactly_once(&got, 0..4);
    proxy
        .wait_metric("scrubproxy_upstream_responses_total{status=\"200\"}", 4)
        .await;
    let m = proxy.metrics().await;
    assert_eq!(
        common::metric_value(
            &m,
            "scrubproxy_items_dropped_total{type=\"event\",reason=\"upstream_rejected\"}"
        ),
        0
    );
    proxy.stop().await;
    let zstd = Some("zstd".to_owned());
    let gzip = Some("gzip".to_owned());
    assert_eq!(
        encodings(&upstream),
        vec![
            (zstd, Some(status)),
            (gzip.clone(), Some(200)),
            (gzip.clone(), Some(200)),
            (gzip.clone(), Some(200)),
            (gzip, Some(200)),
        ]
    );
}

/// Relay without a zstd decoder answers `415`.
#[tokio::test]
async fn an_upstream_refusing_zstd_gets_gzip_from_then_on() {
    falls_back_to_gzip(415).await;
}

/// Bugsink answers `400` to a body it cannot decode.
#[tokio::test]
async fn an_upstream_answering_400_to_zstd_gets_gzip_from_then_on() {
    falls_back_to_gzip(400).await;
}

/// Once the upstream has taken a zstd body, a `400` is about the envelope: it is dropped
/// after one request, not tried again as gzip.
#[tokio::test]
async fn a_400_after_zstd_was_accepted_is_not_resent_as_gzip() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let proxy = start(&upstream, &files, &["--senders", "1"]).await;
    send_events(&proxy, 0..1).await;
    wait_delivered(&upstream, 1).await;
    upstream.set_mode(Mode::Fail(400));
    send_events(&proxy, 1..2).await;
    proxy
        .wait_metric(
            "scrubproxy_items_dropped_total{type=\"event\",reason=\"upstream_rejected\"}",
            1,
        )
        .await;
    proxy.stop().await;
    let zstd = Some("zstd".to_owned());
    assert_eq!(
        encodings(&upstream),
        vec![(zstd.clone(), Some(200)), (zstd, Some(400))]
    );
}

/// A bad certificate or protocol: nothing delivered, counted as `tls`, the SDK got 200.
async fn refuses_bad_tls(tls: Tls<'_>, ca: &TestCa) {
    let files = CaFiles::new(ca, "egress");
    let upstream = CaptureUpstream::start(Options::new(tls));
    let proxy = start(&upstream, &files, &[]).await;
    let resp = send_event(&proxy, 1).await;
    assert_eq!(resp.status, 200, "accepted and queued: {}", resp.text());
    proxy
        .wait_metric("scrubproxy_upstream_errors_total{kind=\"tls\"}", 2)
        .await;
    assert!(
        upstream.accepted_connections() >= 1,
        "the proxy did try to connect"
    );
    let metrics = proxy.metrics().await;
    assert_eq!(
        common::metric_value(
            &metrics,
            "scrubproxy_upstream_errors_total{kind=\"network\"}"
        ),
        0,
        "classified as tls, not network:\n{metrics}"
    );
    assert_eq!(
        common::metric_value(&metrics, "scrubproxy_envelopes_forwarded_total"),
        0
    );
    assert_no_canary(metrics.as_bytes(), "/metrics");
    assert!(
        upstream.requests().is_empty(),
        "nothing may be sent over a refused TLS connection: {:?}",
        upstream.requests()
    );
    proxy.stop().await;
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn untrusted_certificate_nothing_sent_counted_as_tls() {
    let ca = TestCa::new();
    refuses_bad_tls(Tls::Untrusted, &ca).await;
}

#[tokio::test]
async fn expired_certificate_nothing_sent_counted_as_tls() {
    let ca = TestCa::new();
    refuses_bad_tls(Tls::Expired(&ca), &ca).await;
}

#[tokio::test]
async fn tls_1_1_only_server_nothing_sent_counted_as_tls() {
    let ca = TestCa::new();
    refuses_bad_tls(Tls::Tls11Only(&ca), &ca).await;
}

#[tokio::test]
async fn connect_proxy_tunnels_to_the_upstream_host_only() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let tunnel = ConnectProxy::start(ConnectOptions::default());
    let url = tunnel.url();
    let proxy = start(&upstream, &files, &["--egress-proxy", &url]).await;
    send_events(&proxy, 0..2).await;
    let got = wait_delivered(&upstream, 2).await;
    for c in &got {
        // zstd is the default encoding.
        assert_forwarded(c, &upstream, "zstd");
    }
    let connects = tunnel.wait_for_connects(1, WAIT_TIMEOUT).await;
    let target = upstream.addr().to_string();
    for c in &connects {
        assert_eq!(c.target, target, "CONNECT names the upstream host:port");
        assert_eq!(c.status, 200);
        assert_eq!(c.proxy_authorization, None);
    }
    proxy.stop().await;
    assert_exactly_once(&delivered(&upstream), 0..2);
}

#[tokio::test]
async fn connect_proxy_with_credentials_gets_proxy_authorization() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let tunnel = ConnectProxy::start(ConnectOptions {
        require_auth: Some(basic_auth("egress", "s3cret")),
        redirect_to: None,
    });
    let url = tunnel.url_with_credentials("egress", "s3cret");
    let proxy = start(&upstream, &files, &["--egress-proxy", &url]).await;
    send_events(&proxy, 0..1).await;
    let got = wait_delivered(&upstream, 1).await;
    assert_forwarded(&got[0], &upstream, "zstd");
    let connects = tunnel.wait_for_connects(1, WAIT_TIMEOUT).await;
    assert_eq!(connects[0].target, upstream.addr().to_string());
    assert_eq!(
        connects[0].proxy_authorization.as_deref(),
        Some(basic_auth("egress", "s3cret").as_str())
    );
    assert_eq!(connects[0].status, 200);
    // The credentials never show in metrics.
    let metrics = proxy.metrics().await;
    assert!(!metrics.contains("s3cret"));
    proxy.stop().await;
}

/// The upstream fails in `mode` for a while, then recovers: every acknowledged envelope
/// arrives exactly once.
async fn survives_outage(mode: Mode) {
    const N: usize = 12;
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(mode));
    let proxy = start(&upstream, &files, &["--senders", "3"]).await;
    send_events(&proxy, 0..N).await;
    // Down for a while: several failed attempts, at least one of them a retry.
    wait_requests(&upstream, 2 * 3).await;
    proxy
        .wait_metric("scrubproxy_upstream_retries_total", 3)
        .await;
    assert!(delivered(&upstream).is_empty());
    upstream.set_mode(Mode::Ok);
    let got = wait_delivered(&upstream, N).await;
    for c in &got {
        assert_no_canary(&c.body, "a retried envelope");
    }
    proxy
        .wait_metric("scrubproxy_envelopes_forwarded_total", N as u64)
        .await;
    // Stopped (after the drain): no later duplicate can arrive.
    proxy.stop().await;
    assert_exactly_once(&delivered(&upstream), 0..N);
}

#[tokio::test]
async fn upstream_503_for_a_while_every_envelope_delivered_exactly_once() {
    survives_outage(Mode::Fail(503)).await;
}

#[tokio::test]
async fn upstream_dropping_connections_every_envelope_delivered_exactly_once() {
    survives_outage(Mode::Drop).await;
}

#[tokio::test]
async fn upstream_flapping_every_envelope_delivered_exactly_once() {
    // 502 for the first 7 answers, then 200.
    const N: usize = 8;
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress");
    let upstream =
        CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::FailTimes(7, 502)));
    let proxy = start(&upstream, &files, &[]).await;
    send_events(&proxy, 0..N).await;
    let got = wait_delivered(&upstream, N).await;
    assert_eq!(got.len(), N);
    proxy.stop().await;
    assert_exactly_once(&delivered(&upstream), 0..N);
    let answered: Vec<Option<u16>> = upstream.requests().iter().map(|c| c.status).collect();
    assert_eq!(
        answered.iter().filter(|s| **s == Some(502)).count(),
        7,
        "{answered:?}"
    );
    assert_eq!(upstream.requests().len(), N + 7);
}

#[tokio::test]
async fn rate_limits_are_honoured_per_category_and_passed_to_the_sdk() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::RateLimit {
        retry_after: 60,
        header: "60:error:key".into(),
    }));
    let proxy = start(&upstream, &files, &["--senders", "1"]).await;

    // The first error event is accepted, sent, and refused with 429: dropped, not retried.
    let resp = send_event(&proxy, 0).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    proxy
        .wait_metric(
            "scrubproxy_items_dropped_total{type=\"event\",reason=\"upstream_rate_limited\"}",
            1,
        )
        .await;
    upstream.set_mode(Mode::Ok);

    // The next SDK-facing answer carries the limit for the error category.
    let tx_id = event_id(100);
    let resp = proxy
        .send(envelope_request(
            KEY,
            PROJECT,
            &transaction_envelope(&tx_id),
        ))
        .await;
    assert_eq!(resp.status, 200, "transactions still pass: {}", resp.text());
    let limits = resp
        .header("x-sentry-rate-limits")
        .unwrap_or_else(|| panic!("X-Sentry-Rate-Limits on the SDK answer: {:?}", resp.headers));
    assert_limits_error(limits);

    // An envelope with only an event: 429, Retry-After and the limits; not queued.
    let resp = send_event(&proxy, 1).await;
    assert_eq!(resp.status, 429, "{}", resp.text());
    let retry_after: u64 = resp
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_limits_error(resp.header("x-sentry-rate-limits").expect("limits on 429"));
    assert_eq!(
        resp.text(),
        serde_json::json!({"detail": "rate limited by the upstream"}).to_string()
    );

    // The transaction arrives; the limited event never does.
    let got = wait_delivered(&upstream, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event_id().as_deref(), Some(tx_id.as_str()));
    assert!(got[0].body_text().contains("\"type\":\"transaction\""));
    assert_eq!(
        proxy
            .metric("scrubproxy_items_dropped_total{type=\"event\",reason=\"rate_limited\"}")
            .await,
        1
    );
    assert_eq!(
        proxy
            .metric("scrubproxy_requests_rejected_total{reason=\"rate_limited\"}")
            .await,
        1
    );
    proxy.stop().await;
    let ids: Vec<Option<String>> = upstream.requests().iter().map(|c| c.event_id()).collect();
    assert_eq!(
        ids,
        vec![Some(event_id(0)), Some(tx_id)],
        "one 429'd event, then the transaction; no retry"
    );
}

/// `N:error:key` (possibly among other limits) with 0 < N <= 60.
fn assert_limits_error(value: &str) {
    let found = value.split(',').map(str::trim).any(|entry| {
        let parts: Vec<&str> = entry.split(':').collect();
        parts.len() >= 3
            && parts[1].split(';').any(|c| c == "error")
            && parts[2] == "key"
            && parts[0].parse::<u64>().is_ok_and(|s| (1..=60).contains(&s))
    });
    assert!(
        found,
        "X-Sentry-Rate-Limits names the error category: {value:?}"
    );
}

#[tokio::test]
async fn rate_limit_without_header_limits_every_category() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress");
    // A 429 whose X-Sentry-Rate-Limits is empty: Retry-After applies to everything.
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::RateLimit {
        retry_after: 30,
        header: String::new(),
    }));
    let proxy = start(&upstream, &files, &["--senders", "1"]).await;
    assert_eq!(send_event(&proxy, 0).await.status, 200);
    proxy
        .wait_metric(
            "scrubproxy_items_dropped_total{type=\"event\",reason=\"upstream_rate_limited\"}",
            1,
        )
        .await;
    let resp = proxy
        .send(envelope_request(
            KEY,
            PROJECT,
            &transaction_envelope(&event_id(5)),
        ))
        .await;
    assert_eq!(resp.status, 429, "{}", resp.text());
    assert!(resp.header("retry-after").is_some());
    proxy.stop().await;
    assert_eq!(upstream.requests().len(), 1);
}

/// The upstream refuses with `status`: dropped with `reason`, counted once, never retried.
/// A `400` to the first zstd body may mean "no zstd decoder" (Bugsink): that envelope is
/// sent once more as gzip, and a second `400` is the envelope's own, so it is not sent a
/// third time. A `413` is the envelope's at once.
async fn refused_not_retried(status: u16, reason: &str) {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::Fail(status)));
    // One sender: the next envelope is sent only once the first is done with.
    let proxy = start(&upstream, &files, &["--senders", "1"]).await;
    assert_eq!(send_event(&proxy, 0).await.status, 200);
    proxy
        .wait_metric(
            &format!("scrubproxy_items_dropped_total{{type=\"event\",reason=\"{reason}\"}}"),
            1,
        )
        .await;
    upstream.set_mode(Mode::Ok);
    assert_eq!(send_event(&proxy, 1).await.status, 200);
    wait_delivered(&upstream, 1).await;
    let m = proxy.metrics().await;
    assert_eq!(
        common::metric_value(
            &m,
            &format!("scrubproxy_items_dropped_total{{type=\"event\",reason=\"{reason}\"}}")
        ),
        1
    );
    proxy.stop().await;
    let seen: Vec<(Option<String>, Option<String>, Option<u16>)> = upstream
        .requests()
        .iter()
        .map(|c| {
            let enc = c.header("content-encoding").map(str::to_owned);
            (c.event_id(), enc, c.status)
        })
        .collect();
    let refused = (Some(event_id(0)), Some("zstd".to_owned()), Some(status));
    let mut want = vec![refused];
    if status == 400 {
        want.push((Some(event_id(0)), Some("gzip".to_owned()), Some(400)));
    }
    // Not switched to gzip: the upstream took neither coding, so zstd stays.
    want.push((Some(event_id(1)), Some("zstd".to_owned()), Some(200)));
    assert_eq!(
        seen, want,
        "the refused envelope's requests, then the next one"
    );
}

#[tokio::test]
async fn upstream_400_dropped_counted_not_retried() {
    refused_not_retried(400, "upstream_rejected").await;
}

#[tokio::test]
async fn upstream_413_dropped_counted_not_retried() {
    refused_not_retried(413, "upstream_too_large").await;
}

#[tokio::test]
async fn upstream_400_and_413_metrics_exact() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::Fail(413)));
    let proxy = start(&upstream, &files, &["--senders", "1"]).await;
    assert_eq!(send_event(&proxy, 0).await.status, 200);
    proxy
        .wait_metric("scrubproxy_upstream_responses_total{status=\"413\"}", 1)
        .await;
    upstream.set_mode(Mode::Fail(400));
    assert_eq!(send_event(&proxy, 1).await.status, 200);
    proxy
        .wait_metric("scrubproxy_upstream_responses_total{status=\"400\"}", 1)
        .await;
    let m = proxy.metrics().await;
    let v = |s: &str| common::metric_value(&m, s);
    assert_eq!(
        v("scrubproxy_items_dropped_total{type=\"event\",reason=\"upstream_too_large\"}"),
        1
    );
    assert_eq!(
        v("scrubproxy_items_dropped_total{type=\"event\",reason=\"upstream_rejected\"}"),
        1
    );
    assert_eq!(v("scrubproxy_upstream_retries_total"), 0);
    assert_eq!(v("scrubproxy_envelopes_forwarded_total"), 0);
    assert_no_canary(m.as_bytes(), "/metrics");
    proxy.stop().await;
    // The 413 once; the 400 to zstd once more as gzip (see `refused_not_retried`).
    assert_eq!(upstream.requests().len(), 3);
}

#[tokio::test]
async fn admin_audit_needs_the_token_and_shows_scrubbed_envelopes() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let proxy = start(
        &upstream,
        &files,
        &[
            "--admin-token",
            ADMIN_TOKEN,
            "--audit-size",
            "2",
            "--senders",
            "1",
        ],
    )
    .await;

    let ready = proxy.admin_get("/readyz", &[]).await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(ready.text(), r#"{"status":"ready"}"#);
    let health = proxy.admin_get("/healthz", &[]).await;
    assert_eq!(health.status, 200);

    send_events(&proxy, 0..3).await;
    wait_delivered(&upstream, 3).await;
    proxy
        .wait_metric("scrubproxy_envelopes_forwarded_total", 3)
        .await;

    let none = proxy.admin_get("/audit/recent", &[]).await;
    assert_eq!(none.status, 401, "{}", none.text());
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    assert_no_canary(&none.body, "401 body");
    let wrong_bearer = format!("Bearer {ADMIN_TOKEN}x");
    let wrong = proxy
        .admin_get("/audit/recent", &[("Authorization", &wrong_bearer)])
        .await;
    assert_eq!(wrong.status, 401);
    let basic = proxy
        .admin_get("/audit/recent", &[("Authorization", ADMIN_TOKEN)])
        .await;
    assert_eq!(basic.status, 401, "the token must come as a bearer token");

    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let ok = proxy
        .admin_get("/audit/recent", &[("Authorization", &bearer)])
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.header("content-type"), Some("application/json"));
    assert_no_canary(&ok.body, "/audit/recent");
    let list: serde_json::Value = serde_json::from_slice(&ok.body).expect("JSON");
    let list = list.as_array().expect("a JSON list");
    // The ring keeps the last two, newest last, exactly as sent.
    assert_eq!(list.len(), 2, "{list:?}");
    for (entry, n) in list.iter().zip([1, 2]) {
        assert_eq!(entry["upstream_status"], 200);
        assert!(entry["sent_at"].as_u64().is_some_and(|t| t > 1_600_000_000));
        let env = entry["envelope"].as_str().expect("the envelope as text");
        let header: serde_json::Value =
            serde_json::from_str(env.lines().next().expect("a header line")).expect("JSON");
        assert_eq!(header["event_id"].as_str(), Some(event_id(n).as_str()));
        let sent = upstream
            .requests()
            .into_iter()
            .find(|c| c.event_id() == Some(event_id(n)))
            .expect("sent upstream");
        assert_eq!(
            env.as_bytes(),
            &sent.body[..],
            "the audit shows what was sent"
        );
    }
    proxy.stop().await;
}

#[tokio::test]
async fn admin_audit_is_off_without_a_token() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let proxy = start(&upstream, &files, &[]).await;
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let resp = proxy
        .admin_get("/audit/recent", &[("Authorization", &bearer)])
        .await;
    assert_eq!(resp.status, 404, "{}", resp.text());
    proxy.stop().await;
}

#[tokio::test]
async fn queue_full_without_spool_answers_429_with_retry_after() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::Fail(503)));
    let proxy = start(
        &upstream,
        &files,
        &["--senders", "1", "--queue-max-envelopes", "1"],
    )
    .await;
    // One in the sender's hands (retrying), one in the queue; then the queue is full.
    assert_eq!(send_event(&proxy, 0).await.status, 200);
    wait_requests(&upstream, 1).await;
    assert_eq!(send_event(&proxy, 1).await.status, 200);
    let resp = send_event(&proxy, 2).await;
    assert_eq!(resp.status, 429, "{}", resp.text());
    assert_eq!(resp.header("retry-after"), Some("10"));
    assert!(resp
        .header("x-sentry-rate-limits")
        .is_some_and(|v| v.contains("queue_full")));
    assert_eq!(
        proxy
            .metric("scrubproxy_items_dropped_total{type=\"event\",reason=\"queue_full\"}")
            .await,
        1
    );
    // Saturated: not ready, so a load balancer sends elsewhere.
    let ready = proxy.admin_get("/readyz", &[]).await;
    assert_eq!(ready.status, 503, "{}", ready.text());
    upstream.set_mode(Mode::Ok);
    wait_delivered(&upstream, 2).await;
    wait_ready(&proxy).await;
    proxy.stop().await;
    assert_exactly_once(&delivered(&upstream), 0..2);
}

#[tokio::test]
async fn readyz_is_503_while_consent_is_missing() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress");
    std::fs::write(&files.consent, b"not json").expect("write");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let proxy = start(&upstream, &files, &[]).await;
    let resp = proxy.admin_get("/readyz", &[]).await;
    assert_eq!(resp.status, 503, "{}", resp.text());
    assert_eq!(proxy.admin_get("/healthz", &[]).await.status, 200);
    // Nothing leaves without consent; the SDK is not told why (200, dropped and counted).
    let resp = send_event(&proxy, 0).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    proxy.stop().await;
    assert!(upstream.requests().is_empty());
}

/// The durable spool (the default with `--spool-dir`): every envelope is on disk before its
/// 200, so a full memory queue costs nothing; at `--spool-max-bytes` the SDK gets
/// `503 spool_full` with `Retry-After` (nothing acknowledged that could not be kept), and once
/// the upstream takes the backlog the log shrinks and envelopes are taken again.
#[tokio::test]
async fn durable_spool_full_answers_503_then_drains() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress");
    let spool = files.dir.join("spool");
    let spool_arg = spool.to_str().expect("utf-8").to_owned();
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::Fail(503)));
    let proxy = start(
        &upstream,
        &files,
        &[
            "--senders",
            "1",
            "--queue-max-envelopes",
            "1",
            "--spool-dir",
            &spool_arg,
            "--spool-max-bytes",
            "32KiB",
        ],
    )
    .await;
    let mut acknowledged = 0;
    let refused = loop {
        let resp = send_event(&proxy, acknowledged).await;
        if resp.status != 200 {
            break resp;
        }
        acknowledged += 1;
        assert!(acknowledged < 100, "32 KiB never filled");
    };
    assert!(
        acknowledged > 2,
        "more than the memory queue holds: {acknowledged}"
    );
    assert_eq!(
        (refused.status, refused.text()),
        (
            503,
            serde_json::json!({"detail": "the proxy's disk spool is full; retry later"})
                .to_string()
        )
    );
    assert_eq!(refused.header("retry-after"), Some("10"));
    assert_eq!(proxy.rejected("spool_full").await, 1);
    assert_eq!(
        proxy
            .metric("scrubproxy_items_dropped_total{type=\"event\",reason=\"spool_full\"}")
            .await,
        1
    );
    assert!(proxy.metric("scrubproxy_spool_bytes").await > 0);
    // Not saturated for /readyz: the spool still holds what it has.
    upstream.set_mode(Mode::Ok);
    wait_delivered(&upstream, acknowledged).await;
    assert_eq!(send_event(&proxy, 1000).await.status, 200);
    wait_delivered(&upstream, acknowledged + 1).await;
    proxy.stop().await;
    let mut got = delivered(&upstream);
    got.retain(|c| c.event_id() != Some(event_id(1000)));
    assert_exactly_once(&got, 0..acknowledged);
}

/// The vendor's ingest never infers a user's IP address or user agent
/// from the proxy's own request. The SDK's forwarding headers and user agent stay behind
/// (the upstream sees exactly the proxy's own request headers), every event says
/// `sdk.settings.infer_ip: "never"`, and every span container says
/// `ingest_settings: {"infer_ip": "never", "infer_user_agent": "never"}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ip_or_user_agent_is_inferred_upstream_from_the_proxys_request() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "egress-infer");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let proxy = start(&upstream, &files, &["--upstream-compression", "gzip"]).await;
    wait_ready(&proxy).await;

    let browser = "Mozilla/5.0 (X11; Linux x86_64) alice.canary Firefox/133.0";
    let forwarded = format!("for={}", canary::IPV4);
    let xff = format!("{}, 10.0.0.7", canary::IPV4);
    let auth = common::sdk_auth(KEY);
    let sdk_headers = [
        ("X-Sentry-Auth", auth.as_str()),
        ("Content-Type", "application/x-sentry-envelope"),
        ("User-Agent", browser),
        ("X-Forwarded-For", xff.as_str()),
        ("Forwarded", forwarded.as_str()),
        ("X-Real-IP", canary::IPV4),
        ("True-Client-IP", canary::IPV4),
    ];
    let id = event_id(1);
    let mut body = canary::event_envelope(&id, Some("7"), Some("42"));
    // The same request's streamed spans, company 7 by the attribute.
    let spans = serde_json::json!({"version": 2, "items": [{
        "trace_id": canary::trace_id_of(&id), "span_id": "a1b2c3d4e5f60718", "name": "SELECT 1",
        "attributes": {"company_id": {"type": "string", "value": "7"}}}]});
    body.extend_from_slice(
        format!("{{\"type\":\"span\",\"content_type\":\"application/vnd.sentry.items.span.v2+json\"}}\n{spans}\n")
            .as_bytes(),
    );
    let req = common::request(
        "POST",
        &format!("/api/{PROJECT}/envelope/"),
        &sdk_headers,
        &body,
    );
    let resp = proxy.send(req.to_vec()).await;
    assert_eq!(resp.status, 200, "{}", resp.text());

    let got = wait_requests(&upstream, 1).await;
    let c = &got[0];
    let names: Vec<&str> = c.headers.keys().map(|k| k.as_str()).collect();
    let mut names = names;
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "content-encoding",
            "content-length",
            "content-type",
            "host",
            "user-agent",
            "x-sentry-auth"
        ]
    );
    let ua = c.header("user-agent").expect("a user agent");
    assert!(ua.starts_with("sentry-scrub-proxy/"), "{ua}");
    for (name, value) in &c.headers {
        let value = value.to_str().unwrap_or("");
        assert!(!value.contains(canary::IPV4), "{name}: {value}");
        assert!(!value.contains("alice"), "{name}: {value}");
    }

    let env = envelope::Envelope::parse(bytes::Bytes::from(c.body.clone())).expect("envelope");
    let payloads: Vec<serde_json::Value> = (env.items().iter())
        .map(|i| serde_json::from_slice(i.payload()).expect("json"))
        .collect();
    assert_eq!(payloads.len(), 2);
    assert_eq!(
        payloads[0]["sdk"]["settings"],
        serde_json::json!({"infer_ip": "never"})
    );
    assert_eq!(payloads[1]["version"], 2);
    assert_eq!(
        payloads[1]["ingest_settings"],
        serde_json::json!({"infer_ip": "never", "infer_user_agent": "never"})
    );
    assert!(payloads[0]
        .get("user")
        .is_none_or(|u| u.get("ip_address").is_none()));
    assert_no_canary(&c.body, "the forwarded envelope");
    proxy.stop().await;
}
