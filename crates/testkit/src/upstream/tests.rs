use std::io::Write;
use std::time::Duration;

use super::*;
use crate::client::{self, Reply};

const WAIT: Duration = Duration::from_secs(20);
const EVENT_ID: &str = "9ec79c33ec9942ab8353589fcb2e04dc";

fn envelope() -> Vec<u8> {
    format!("{{\"event_id\":\"{EVENT_ID}\"}}\n{{\"type\":\"event\",\"length\":2}}\n{{}}\n")
        .into_bytes()
}

async fn post_envelope(upstream: &CaptureUpstream, ca: &TestCa) -> std::io::Result<Reply> {
    client::post(
        upstream.addr(),
        Some((ca.client_config(), "127.0.0.1")),
        "/api/42/envelope/",
        &[("content-type", "application/x-sentry-envelope")],
        envelope(),
    )
    .await
}

/// The rustls error behind a failed handshake, if that is what failed.
fn rustls_error(err: &std::io::Error) -> Option<&rustls::Error> {
    err.get_ref()?.downcast_ref::<rustls::Error>()
}

fn compress(coding: &str, body: &[u8]) -> Vec<u8> {
    match coding {
        "identity" => body.to_vec(),
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(body).expect("gzip");
            e.finish().expect("gzip")
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(body).expect("deflate");
            e.finish().expect("deflate")
        }
        "br" => {
            let mut out = Vec::new();
            brotli::BrotliCompress(&mut &body[..], &mut out, &Default::default()).expect("br");
            out
        }
        "zstd" => zstd::encode_all(body, 3).expect("zstd"),
        other => panic!("no encoder for {other}"),
    }
}

#[tokio::test]
async fn trusted_tls_post_is_captured_and_decoded_for_every_encoding() {
    let ca = TestCa::new();
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    assert!(upstream.url().starts_with("https://127.0.0.1:"));
    let codings = ["identity", "gzip", "deflate", "br", "zstd"];
    for coding in codings {
        let reply = client::post(
            upstream.addr(),
            Some((ca.client_config(), "localhost")),
            "/api/42/envelope/?sentry_key=abc",
            &[
                ("content-encoding", coding),
                ("x-sentry-auth", "Sentry sentry_key=abc"),
            ],
            compress(coding, &envelope()),
        )
        .await
        .expect("post over trusted TLS");
        assert_eq!(reply.status, 200, "{coding}");
        assert_eq!(reply.body, format!("{{\"id\":\"{EVENT_ID}\"}}"), "{coding}");
    }
    let got = upstream.wait_for(codings.len(), WAIT).await;
    for (captured, coding) in got.iter().zip(codings) {
        assert_eq!(captured.method, http::Method::POST);
        assert_eq!(captured.path, "/api/42/envelope/");
        assert_eq!(captured.project(), Some("42"));
        assert_eq!(captured.query.as_deref(), Some("sentry_key=abc"));
        assert_eq!(
            captured.header("X-Sentry-Auth"),
            Some("Sentry sentry_key=abc")
        );
        assert_eq!(captured.decode_error, None, "{coding}");
        assert_eq!(captured.body, envelope(), "{coding}");
        assert_eq!(captured.raw_body, compress(coding, &envelope()), "{coding}");
        assert_eq!(captured.event_id().as_deref(), Some(EVENT_ID));
        assert_eq!(captured.status, Some(200));
    }
    assert_eq!(upstream.accepted_connections(), codings.len());
}

#[tokio::test]
async fn expired_certificate_fails_verification() {
    let ca = TestCa::new();
    let upstream = CaptureUpstream::start(Options::new(Tls::Expired(&ca)));
    let err = post_envelope(&upstream, &ca)
        .await
        .expect_err("expired cert");
    assert!(
        matches!(
            rustls_error(&err),
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Expired | rustls::CertificateError::ExpiredContext { .. }
            ))
        ),
        "{err:?}"
    );
    assert_eq!(upstream.accepted_connections(), 1);
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn untrusted_certificate_fails_verification() {
    let ca = TestCa::new();
    let upstream = CaptureUpstream::start(Options::new(Tls::Untrusted));
    let err = post_envelope(&upstream, &ca)
        .await
        .expect_err("self-signed cert");
    assert!(
        matches!(
            rustls_error(&err),
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))
        ),
        "{err:?}"
    );
    assert!(upstream.requests().is_empty());
}

#[test]
fn tls11_only_server_refuses_a_tls12_client_but_speaks_tls11() {
    let ca = TestCa::new();
    let upstream = CaptureUpstream::start(Options::new(Tls::Tls11Only(&ca)));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let err = runtime
        .block_on(post_envelope(&upstream, &ca))
        .expect_err("rustls only speaks TLS 1.2+");
    assert!(
        matches!(
            rustls_error(&err),
            Some(
                rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)
                    | rustls::Error::PeerIncompatible(_)
                    | rustls::Error::PeerMisbehaved(_)
            )
        ),
        "{err:?}"
    );

    // The failure is the protocol version, not a dead server: openssl's own client gets
    // TLS 1.1 through, with the certificate verified against the CA.
    let dir = crate::TempDir::new("tls11-client");
    let ca_file = ca.write_pem(dir.path()).expect("CA file");
    let output = std::process::Command::new("openssl")
        .args(["s_client", "-connect", &upstream.addr().to_string()])
        .args([
            "-tls1_1",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-verify_return_error",
        ])
        .arg("-CAfile")
        .arg(&ca_file)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl s_client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Protocol  : TLSv1.1"), "{stdout}");
    assert!(stdout.contains("Verify return code: 0 (ok)"), "{stdout}");
    assert_eq!(upstream.accepted_connections(), 2);
}

#[tokio::test]
async fn rate_limit_mode_answers_429_with_both_headers() {
    let ca = TestCa::new();
    let mode = Mode::RateLimit {
        retry_after: 60,
        header: "60:error;transaction:organization".to_owned(),
    };
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(mode));
    let reply = post_envelope(&upstream, &ca).await.expect("post");
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("60"));
    assert_eq!(
        reply.header("x-sentry-rate-limits"),
        Some("60:error;transaction:organization")
    );
    assert_eq!(upstream.wait_for(1, WAIT).await[0].status, Some(429));
}

#[tokio::test]
async fn fail_and_fail_times_modes_then_ok() {
    let ca = TestCa::new();
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::Fail(503)));
    assert_eq!(
        post_envelope(&upstream, &ca).await.expect("post").status,
        503
    );
    upstream.set_mode(Mode::Fail(413));
    assert_eq!(
        post_envelope(&upstream, &ca).await.expect("post").status,
        413
    );
    upstream.set_mode(Mode::FailTimes(2, 502));
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(post_envelope(&upstream, &ca).await.expect("post").status);
    }
    assert_eq!(statuses, [502, 502, 200, 200]);
    let recorded: Vec<_> = upstream.requests().iter().map(|c| c.status).collect();
    let expected = [503, 413, 502, 502, 200, 200].map(Some);
    assert_eq!(recorded, expected);
}

#[tokio::test]
async fn drop_mode_closes_without_an_answer() {
    let ca = TestCa::new();
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::Drop));
    post_envelope(&upstream, &ca)
        .await
        .expect_err("connection closed unanswered");
    let got = upstream.wait_for(1, WAIT).await;
    assert_eq!(got[0].status, None);
    assert_eq!(got[0].body, envelope());
}

#[tokio::test]
async fn stall_mode_never_answers_until_dropped() {
    let ca = TestCa::new();
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::Stall));
    let config = ca.client_config();
    let addr = upstream.addr();
    let pending = tokio::spawn(async move {
        let tls = Some((config, "127.0.0.1"));
        client::post(addr, tls, "/api/42/envelope/", &[], envelope()).await
    });
    let got = upstream.wait_for(1, WAIT).await;
    assert_eq!(got[0].status, None);
    assert!(!pending.is_finished(), "a stalled request was answered");
    drop(upstream);
    let result = pending.await.expect("client task");
    assert!(result.is_err(), "{result:?}");
}

#[tokio::test]
async fn other_routes_are_recorded_and_refused() {
    let upstream = CaptureUpstream::start(Options::new(Tls::None));
    assert!(upstream.url().starts_with("http://127.0.0.1:"));
    let store = client::post(upstream.addr(), None, "/api/42/store/", &[], b"{}".to_vec());
    assert_eq!(store.await.expect("post").status, 404);
    let got = upstream.wait_for(1, WAIT).await;
    assert_eq!(got[0].path, "/api/42/store/");
    assert_eq!(got[0].project(), None);
}

#[tokio::test]
async fn plain_http_captures_and_counts_connections() {
    let upstream = CaptureUpstream::start(Options::new(Tls::None));
    assert_eq!(upstream.accepted_connections(), 0);
    let dsn = upstream.dsn("abc", "42");
    assert_eq!(dsn, format!("http://abc@{}/42", upstream.addr()));
    assert_eq!(
        upstream.envelope_url("42"),
        format!("http://{}/api/42/envelope/", upstream.addr())
    );
    let reply = client::post(upstream.addr(), None, "/api/42/envelope/", &[], envelope());
    assert_eq!(reply.await.expect("post").status, 200);
    assert_eq!(upstream.wait_for_connections(1, WAIT).await, 1);
    assert_eq!(upstream.wait_for(1, WAIT).await.len(), 1);
    upstream.clear();
    assert!(upstream.requests().is_empty());
}

#[tokio::test(start_paused = true)]
async fn waiting_uses_the_upstream_clock_not_the_paused_test_clock() {
    let upstream = CaptureUpstream::start(Options::new(Tls::None));
    let reply = client::post(upstream.addr(), None, "/api/7/envelope/", &[], envelope());
    assert_eq!(reply.await.expect("post").status, 200);
    assert_eq!(upstream.wait_for(1, WAIT).await[0].project(), Some("7"));
}

#[test]
fn blocking_wait_works_from_sync_tests() {
    let upstream = CaptureUpstream::start(Options::new(Tls::None));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let post = client::post(upstream.addr(), None, "/api/1/envelope/", &[], envelope());
    assert_eq!(runtime.block_on(post).expect("post").status, 200);
    assert_eq!(upstream.wait_for_blocking(1, WAIT).len(), 1);
}

#[tokio::test]
#[should_panic(expected = "expected 1 request(s)")]
async fn wait_for_panics_with_what_arrived() {
    let upstream = CaptureUpstream::start(Options::new(Tls::None));
    upstream.wait_for(1, Duration::from_millis(50)).await;
}

#[tokio::test]
async fn dropping_the_handle_closes_the_port() {
    let upstream = CaptureUpstream::start(Options::new(Tls::None));
    let addr = upstream.addr();
    drop(upstream);
    let err = tokio::net::TcpStream::connect(addr)
        .await
        .expect_err("closed");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}
