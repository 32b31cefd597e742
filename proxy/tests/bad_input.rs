//! Bad input over real HTTP: every malformed, oversized, unauthenticated or slow request gets
//! its exact status and `{"detail": …}` body, is counted under its reason in `/metrics`,
//! echoes none of its content, writes nothing, and leaves the server serving.
//!
//! Each test starts its own in-process proxy (`common::TestProxy`) on 127.0.0.1:0 with small
//! limits: 64 KiB body, 256 KiB envelope, 16 KiB event, 1 s body and header timeouts.

mod common;

use bytes::Bytes;
use common::{read_response, request, Request, Response, TestProxy, TEST_TIMEOUT};
use envelope::decode::{compress, ContentEncoding};
use envelope::{Envelope, ItemType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Planted in bad bodies; must never come back in a response, nor show in `/metrics`.
const CANARIES: &[&str] = &[
    "alice.canary@example.com",
    "4111 1111 1111 1111",
    "4111111111111111",
];

const EVENT_ID: &str = "9ec79c33ec9942ab8353589fcb2e04dc";
const ENVELOPE_PATH: &str = "/api/42/envelope/";

/// The upstream of the authenticating proxy: key `abc123`, project 42.
const UPSTREAM_DSN: &str = "https://abc123@o1.ingest.de.sentry.io/42";
const AUTH_PROXY: &[&str] = &["--dry-run", "--upstream-dsn", UPSTREAM_DSN];
const GOOD_AUTH: (&str, &str) = (
    "X-Sentry-Auth",
    "Sentry sentry_version=7, sentry_key=abc123, sentry_client=sentry.python/2.75.0",
);

/// `{"event_id":"…"}` followed by a newline: 48 bytes, so the first item starts at byte 48.
fn envelope_header() -> String {
    format!("{{\"event_id\":\"{EVENT_ID}\"}}\n")
}

/// An event payload that carries every canary.
fn canary_event() -> String {
    format!(
        "{{\"message\":\"card {} of {}\",\"level\":\"error\",\"user\":{{\"email\":\"{}\"}}}}",
        CANARIES[1], CANARIES[0], CANARIES[0]
    )
}

/// A POST to the envelope endpoint; with the good key in `X-Sentry-Auth` unless `headers`
/// carry their own auth header (real SDKs always send a key).
fn post_envelope(headers: &[(&str, &str)], body: &[u8]) -> Request {
    let has_auth = headers.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("x-sentry-auth") || k.eq_ignore_ascii_case("authorization")
    });
    let mut all = headers.to_vec();
    if !has_auth {
        all.push(GOOD_AUTH);
    }
    request("POST", ENVELOPE_PATH, &all, body)
}

fn detail_body(detail: &str) -> String {
    serde_json::json!({ "detail": detail }).to_string()
}

/// A valid envelope with a fresh event id, and that id.
fn good_envelope(n: usize) -> (String, Vec<u8>) {
    let id = format!("{:032x}", 0xfeed_0000_u64 + n as u64);
    let body = format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"event_id\":\"{id}\",\"message\":\"ok\",\"level\":\"info\",\"platform\":\"python\"}}\n"
    );
    (id, body.into_bytes())
}

fn assert_no_canary(what: &str, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    for c in CANARIES {
        assert!(!text.contains(c), "{what} echoes the canary {c:?}: {text}");
    }
}

/// Runs the checks every refused request shares, then proves the server still serves.
struct Harness {
    proxy: TestProxy,
    /// Good envelopes sent so far: the outbox holds exactly that many files.
    good_sent: usize,
}

impl Harness {
    async fn open() -> Harness {
        Harness {
            proxy: TestProxy::start(&[]).await,
            good_sent: 0,
        }
    }

    async fn authenticating() -> Harness {
        Harness {
            proxy: TestProxy::start(AUTH_PROXY).await,
            good_sent: 0,
        }
    }

    /// Sends `raw`; asserts the exact status, body and content type, one more
    /// `scrubproxy_requests_rejected_total{reason}`, no canary anywhere, nothing written;
    /// then sends a good envelope that must get 200.
    async fn rejects(&mut self, raw: Vec<u8>, status: u16, reason: &str, detail: &str) {
        let before = self.proxy.rejected(reason).await;
        let resp = self.proxy.send(raw).await;
        self.check_refusal(&resp, before, status, reason, detail)
            .await;
        self.still_serves().await;
    }

    async fn check_refusal(
        &mut self,
        resp: &Response,
        before: u64,
        status: u16,
        reason: &str,
        detail: &str,
    ) {
        assert_eq!(
            (resp.status, resp.text()),
            (status, detail_body(detail)),
            "reason {reason}"
        );
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert_no_canary("the response", &resp.body);
        let metrics = self.proxy.metrics().await;
        assert_eq!(
            common::metric_value(
                &metrics,
                &format!("scrubproxy_requests_rejected_total{{reason=\"{reason}\"}}")
            ),
            before + 1,
            "rejection counted under {reason}:\n{metrics}"
        );
        assert_no_canary("/metrics", metrics.as_bytes());
        assert_eq!(
            self.proxy.outbox_files().len(),
            self.good_sent,
            "a refused request wrote nothing"
        );
    }

    /// A good envelope still gets 200 `{"id":…}` and lands in the outbox.
    async fn still_serves(&mut self) {
        let (id, body) = good_envelope(self.good_sent);
        let resp = self.proxy.send(post_envelope(&[], &body).to_vec()).await;
        assert_eq!(
            (resp.status, resp.text()),
            (200, format!("{{\"id\":\"{id}\"}}")),
            "the server still serves"
        );
        self.good_sent += 1;
        assert_eq!(self.proxy.outbox_files().len(), self.good_sent);
    }

    async fn stop(self) {
        self.proxy.stop().await;
    }
}

// === codec: what the envelope parser refuses ===

#[tokio::test]
async fn truncated_envelopes_are_refused() {
    let mut h = Harness::open().await;
    let event = canary_event();

    // The payload is cut short of its declared length.
    let item = format!("{{\"type\":\"event\",\"length\":{}}}\n", event.len());
    let cut = &event[..event.len() / 2];
    let body = format!("{}{item}{cut}", envelope_header());
    let payload_at = 48 + item.len();
    h.rejects(
        post_envelope(&[], body.as_bytes()).to_vec(),
        400,
        "length_exceeds_body",
        &format!(
            "invalid envelope: item payload at byte {payload_at} declares {} bytes but only {} remain",
            event.len(),
            cut.len()
        ),
    )
    .await;

    // The body stops inside the envelope header.
    let body = "{\"event_id\":\"9ec79c33ec99";
    h.rejects(
        post_envelope(&[], body.as_bytes()).to_vec(),
        400,
        "invalid_header",
        "invalid envelope: invalid JSON in header line at byte 0: eof error at column 25",
    )
    .await;

    // The body stops inside an item header.
    let body = format!(
        "{}{{\"type\":\"event\",\"x\":\"{}",
        envelope_header(),
        CANARIES[0]
    );
    h.rejects(
        post_envelope(&[], body.as_bytes()).to_vec(),
        400,
        "invalid_header",
        "invalid envelope: invalid JSON in header line at byte 48: eof error at column 45",
    )
    .await;
    h.stop().await;
}

#[tokio::test]
async fn wrong_lengths_are_refused() {
    let mut h = Harness::open().await;
    let event = canary_event();

    // Longer than the body.
    let body = format!(
        "{}{{\"type\":\"event\",\"length\":999999}}\n{event}\n",
        envelope_header()
    );
    let payload_at = 48 + "{\"type\":\"event\",\"length\":999999}\n".len();
    h.rejects(
        post_envelope(&[], body.as_bytes()).to_vec(),
        400,
        "length_exceeds_body",
        &format!(
            "invalid envelope: item payload at byte {payload_at} declares 999999 bytes but only {} remain",
            event.len() + 1
        ),
    )
    .await;

    // Larger than any usize: must neither overflow nor allocate.
    let body = format!(
        "{}{{\"type\":\"event\",\"length\":18446744073709551615}}\n{event}\n",
        envelope_header()
    );
    let payload_at = 48 + "{\"type\":\"event\",\"length\":18446744073709551615}\n".len();
    h.rejects(
        post_envelope(&[], body.as_bytes()).to_vec(),
        400,
        "length_exceeds_body",
        &format!(
            "invalid envelope: item payload at byte {payload_at} declares 18446744073709551615 bytes but only {} remain",
            event.len() + 1
        ),
    )
    .await;

    // Negative, string and fractional lengths.
    for length in ["-5", "\"10\"", "1.5"] {
        let body = format!(
            "{}{{\"type\":\"event\",\"length\":{length}}}\n{event}\n",
            envelope_header()
        );
        h.rejects(
            post_envelope(&[], body.as_bytes()).to_vec(),
            400,
            "invalid_length",
            "invalid envelope: item header at byte 48 has a \"length\" that is not a non-negative integer",
        )
        .await;
    }

    // A length that stops short of the payload: what follows is not a newline.
    let body = format!(
        "{}{{\"type\":\"event\",\"length\":5}}\n{event}\n",
        envelope_header()
    );
    let after = 48 + "{\"type\":\"event\",\"length\":5}\n".len() + 5;
    h.rejects(
        post_envelope(&[], body.as_bytes()).to_vec(),
        400,
        "missing_newline",
        &format!("invalid envelope: expected a newline or the end of the body at byte {after}"),
    )
    .await;
    h.stop().await;
}

#[tokio::test]
async fn malformed_headers_are_refused() {
    let mut h = Harness::open().await;
    let event = canary_event();

    // Invalid JSON in the item header (a doubled comma at column 17).
    let body = format!(
        "{}{{\"type\":\"event\",,\"user\":\"{}\"}}\n{event}\n",
        envelope_header(),
        CANARIES[0]
    );
    h.rejects(
        post_envelope(&[], body.as_bytes()).to_vec(),
        400,
        "invalid_header",
        "invalid envelope: invalid JSON in header line at byte 48: syntax error at column 17",
    )
    .await;

    // Invalid JSON in the envelope header: a bare word.
    let body = format!(
        "{{\"event_id\":{}}}\n{{\"type\":\"event\"}}\n{event}\n",
        CANARIES[0]
    );
    h.rejects(
        post_envelope(&[], body.as_bytes()).to_vec(),
        400,
        "invalid_header",
        "invalid envelope: invalid JSON in header line at byte 0: syntax error at column 13",
    )
    .await;

    // An item header without `type`, then with a `type` that is not a string.
    for header in [
        "{\"length\":5}".to_owned(),
        format!("{{\"type\":[\"{}\"]}}", CANARIES[0]),
    ] {
        let body = format!("{}{header}\n{event}\n", envelope_header());
        h.rejects(
            post_envelope(&[], body.as_bytes()).to_vec(),
            400,
            "missing_item_type",
            "invalid envelope: item header at byte 48 has no string \"type\"",
        )
        .await;
    }

    // Bytes that are not UTF-8 in the envelope header (at byte 6) and in an item header.
    let mut body =
        b"{\"x\":\"\xff\xfe alice.canary@example.com\"}\n{\"type\":\"event\"}\n".to_vec();
    body.extend_from_slice(event.as_bytes());
    h.rejects(
        post_envelope(&[], &body).to_vec(),
        400,
        "non_utf8_header",
        "invalid envelope: header line is not UTF-8 at byte 6",
    )
    .await;
    let mut body = envelope_header().into_bytes();
    body.extend_from_slice(b"{\"type\":\"event\",\"x\":\"\xc3\x28\"}\n");
    body.extend_from_slice(event.as_bytes());
    h.rejects(
        post_envelope(&[], &body).to_vec(),
        400,
        "non_utf8_header",
        "invalid envelope: header line is not UTF-8 at byte 69",
    )
    .await;

    // Headers that are JSON but not objects: envelope header, then item header.
    let body = format!("[\"{}\"]\n{{\"type\":\"event\"}}\n{event}\n", CANARIES[0]);
    h.rejects(
        post_envelope(&[], body.as_bytes()).to_vec(),
        400,
        "header_not_object",
        "invalid envelope: header at byte 0 is not a JSON object",
    )
    .await;
    let body = format!("{}\"{}\"\n{event}\n", envelope_header(), CANARIES[1]);
    h.rejects(
        post_envelope(&[], body.as_bytes()).to_vec(),
        400,
        "header_not_object",
        "invalid envelope: header at byte 48 is not a JSON object",
    )
    .await;
    h.stop().await;
}

// === encodings and sizes ===

#[tokio::test]
async fn unsupported_and_corrupt_encodings_are_refused() {
    let mut h = Harness::open().await;
    let (_, good) = good_envelope(999);

    for encoding in ["compress", "gzip, br", "alice.canary@example.com"] {
        h.rejects(
            post_envelope(&[("Content-Encoding", encoding)], &good).to_vec(),
            415,
            "unsupported_encoding",
            "unsupported content encoding (use gzip, deflate, br, zstd or identity)",
        )
        .await;
    }

    // A gzip header, then deflate garbage holding a canary.
    let mut corrupt = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];
    corrupt.extend_from_slice(b"\xff\xff\xff alice.canary@example.com 4111 1111 1111 1111");
    h.rejects(
        post_envelope(&[("Content-Encoding", "gzip")], &corrupt).to_vec(),
        400,
        "corrupt_body",
        "corrupt compressed body",
    )
    .await;

    // A valid gzip stream, cut in half.
    let event = format!(
        "{}{{\"type\":\"event\"}}\n{}\n",
        envelope_header(),
        canary_event()
    );
    let gz = compress(ContentEncoding::Gzip, event.as_bytes(), 6).expect("gzip");
    h.rejects(
        post_envelope(&[("Content-Encoding", "gzip")], &gz[..gz.len() / 2]).to_vec(),
        400,
        "corrupt_body",
        "corrupt compressed body",
    )
    .await;

    // Brotli and zstd labels on plain text.
    for encoding in ["br", "zstd"] {
        h.rejects(
            post_envelope(&[("Content-Encoding", encoding)], event.as_bytes()).to_vec(),
            400,
            "corrupt_body",
            "corrupt compressed body",
        )
        .await;
    }
    h.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let mut h = Harness::open().await;

    // A decompression bomb: ~10 MiB of zeros in ~10 KiB of gzip, past the 256 KiB cap.
    let mut zeros = envelope_header().into_bytes();
    zeros.extend_from_slice(b"{\"type\":\"attachment\"}\n");
    zeros.resize(10 << 20, b'0');
    let bomb = compress(ContentEncoding::Gzip, &zeros, 9).expect("gzip");
    drop(zeros);
    assert!(bomb.len() < 64 << 10, "the bomb fits the body limit");
    h.rejects(
        post_envelope(&[("Content-Encoding", "gzip")], &bomb).to_vec(),
        413,
        "envelope_too_large",
        "envelope too large after decompression",
    )
    .await;

    // The same cap holds for an uncompressed body that passes the body limit... which it
    // cannot (64 KiB < 256 KiB), so the body limit answers first: 100 KiB of envelope.
    let mut big = envelope_header().into_bytes();
    big.extend_from_slice(b"{\"type\":\"attachment\"}\n");
    let filler = format!("{} {} ", CANARIES[0], CANARIES[1]);
    while big.len() < 100 << 10 {
        big.extend_from_slice(filler.as_bytes());
    }
    big.push(b'\n');
    h.rejects(
        post_envelope(&[], &big).to_vec(),
        413,
        "body_too_large",
        "request body too large",
    )
    .await;

    // Chunked, so the size is only known while reading.
    let mut chunked = post_envelope(&[("Transfer-Encoding", "chunked")], b"").head(None);
    for _ in 0..80 {
        chunked.extend_from_slice(format!("{:x}\r\n", 1024).as_bytes());
        chunked.extend_from_slice(&big[..1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    h.rejects(chunked, 413, "body_too_large", "request body too large")
        .await;

    // An event item past --max-event-size (16 KiB) in a body within every other limit.
    let mut event = String::from("{\"level\":\"error\",\"message\":\"");
    while event.len() < 20 << 10 {
        event.push_str(&filler);
    }
    event.push_str("\"}");
    let body = format!("{}{{\"type\":\"event\"}}\n{event}\n", envelope_header());
    h.rejects(
        post_envelope(&[], body.as_bytes()).to_vec(),
        413,
        "item_too_large",
        "envelope item too large",
    )
    .await;

    // The same event, gzip-compressed: the item cap applies after decompression.
    let gz = compress(ContentEncoding::Gzip, body.as_bytes(), 6).expect("gzip");
    h.rejects(
        post_envelope(&[("Content-Encoding", "gzip")], &gz).to_vec(),
        413,
        "item_too_large",
        "envelope item too large",
    )
    .await;

    // Thousands of tiny items: each costs memory beyond its bytes, so the count is capped.
    let body = format!(
        "{}{}",
        envelope_header(),
        "{\"type\":\"x\"}\n\n".repeat(1001)
    );
    h.rejects(
        post_envelope(&[], body.as_bytes()).to_vec(),
        413,
        "too_many_items",
        "too many items in one envelope",
    )
    .await;
    h.stop().await;
}

// === routes and content types ===

#[tokio::test]
async fn unknown_routes_and_methods_are_refused() {
    let mut h = Harness::open().await;
    let (_, good) = good_envelope(999);
    for target in [
        "/",
        "/api/42/minidump/",
        "/api/abc/envelope/",
        "/api//envelope/",
        "/api/123456789012345678901/envelope/",
        "/api/42/envelope/extra/",
        "/alice.canary@example.com",
    ] {
        h.rejects(
            request("POST", target, &[], &good).to_vec(),
            404,
            "not_found",
            "not found",
        )
        .await;
    }
    for method in ["GET", "PUT", "DELETE"] {
        h.rejects(
            request(method, ENVELOPE_PATH, &[], b"").to_vec(),
            405,
            "method_not_allowed",
            "method not allowed",
        )
        .await;
    }
    h.rejects(
        request("GET", "/api/42/store/", &[], b"").to_vec(),
        405,
        "method_not_allowed",
        "method not allowed",
    )
    .await;
    h.stop().await;
}

#[tokio::test]
async fn unsupported_content_types_are_refused() {
    let mut h = Harness::open().await;
    let multipart = "--b\r\nContent-Disposition: form-data; name=\"upload_file_minidump\"\r\n\r\nalice.canary@example.com\r\n--b--\r\n";
    h.rejects(
        post_envelope(
            &[("Content-Type", "multipart/form-data; boundary=b")],
            multipart.as_bytes(),
        )
        .to_vec(),
        415,
        "unsupported_content_type",
        "unsupported content type (use application/x-sentry-envelope)",
    )
    .await;
    // JSON is for the legacy store endpoint only.
    let (_, good) = good_envelope(999);
    h.rejects(
        post_envelope(&[("Content-Type", "application/json")], &good).to_vec(),
        415,
        "unsupported_content_type",
        "unsupported content type (use application/x-sentry-envelope)",
    )
    .await;
    h.stop().await;
}

// === authentication (a proxy with an upstream DSN: key abc123, project 42) ===

#[tokio::test]
async fn authentication_failures_are_refused() {
    let mut h = Harness::authenticating().await;
    let event = canary_event();
    let no_dsn = format!("{}{{\"type\":\"event\"}}\n{event}\n", envelope_header());

    // No key anywhere.
    h.rejects(
        request("POST", ENVELOPE_PATH, &[], no_dsn.as_bytes()).to_vec(),
        403,
        "missing_auth",
        "missing authentication: no sentry_key in X-Sentry-Auth, query string or envelope dsn",
    )
    .await;

    // A key the proxy does not know, by header and by query.
    h.rejects(
        post_envelope(
            &[("X-Sentry-Auth", "Sentry sentry_key=def456")],
            no_dsn.as_bytes(),
        )
        .to_vec(),
        403,
        "unknown_key",
        "invalid authentication: unknown public key",
    )
    .await;
    h.rejects(
        request(
            "POST",
            "/api/42/envelope/?sentry_key=def456&sentry_version=7",
            &[],
            no_dsn.as_bytes(),
        )
        .to_vec(),
        403,
        "unknown_key",
        "invalid authentication: unknown public key",
    )
    .await;

    // The right key for another project.
    h.rejects(
        request("POST", "/api/43/envelope/", &[GOOD_AUTH], no_dsn.as_bytes()).to_vec(),
        403,
        "unknown_project",
        "invalid authentication: project id does not match the key",
    )
    .await;

    // Header and query name different keys.
    h.rejects(
        request(
            "POST",
            "/api/42/envelope/?sentry_key=def456",
            &[GOOD_AUTH],
            no_dsn.as_bytes(),
        )
        .to_vec(),
        403,
        "auth_conflict",
        "bad authentication: X-Sentry-Auth, sentry_key and envelope dsn disagree",
    )
    .await;

    // The envelope header's dsn names another key, then another project.
    for dsn in [
        "https://def456@o1.ingest.de.sentry.io/42",
        "https://abc123@o1.ingest.de.sentry.io/43",
    ] {
        let body = format!(
            "{{\"event_id\":\"{EVENT_ID}\",\"dsn\":\"{dsn}\"}}\n{{\"type\":\"event\"}}\n{event}\n"
        );
        h.rejects(
            post_envelope(&[GOOD_AUTH], body.as_bytes()).to_vec(),
            403,
            "auth_conflict",
            "bad authentication: X-Sentry-Auth, sentry_key and envelope dsn disagree",
        )
        .await;
    }

    // Malformed auth: not a Sentry header, no key, a key that is not alphanumeric.
    for header in [
        "Bearer alice.canary@example.com",
        "Sentry sentry_version=7",
        "Sentry sentry_key=alice.canary@example.com",
    ] {
        h.rejects(
            post_envelope(&[("X-Sentry-Auth", header)], no_dsn.as_bytes()).to_vec(),
            403,
            "bad_auth",
            "bad authentication: malformed X-Sentry-Auth or sentry_key",
        )
        .await;
    }

    // An envelope dsn that is not a DSN.
    let body = format!(
        "{{\"event_id\":\"{EVENT_ID}\",\"dsn\":\"mailto:{}\"}}\n{{\"type\":\"event\"}}\n{event}\n",
        CANARIES[0]
    );
    h.rejects(
        post_envelope(&[GOOD_AUTH], body.as_bytes()).to_vec(),
        400,
        "bad_envelope_dsn",
        "invalid envelope header: dsn is not a DSN",
    )
    .await;
    h.stop().await;
}

#[tokio::test]
async fn the_right_key_is_accepted_by_header_query_or_envelope_dsn() {
    let proxy = TestProxy::start(AUTH_PROXY).await;
    let ok = |id: &str| (200, format!("{{\"id\":\"{id}\"}}"));

    let (id, body) = good_envelope(1);
    let resp = proxy
        .send(post_envelope(&[GOOD_AUTH], &body).to_vec())
        .await;
    assert_eq!((resp.status, resp.text()), ok(&id), "key in X-Sentry-Auth");

    // Some SDKs send `Authorization: Sentry …` instead.
    let (id, body) = good_envelope(2);
    let resp = proxy
        .send(post_envelope(&[("Authorization", "Sentry sentry_key=abc123")], &body).to_vec())
        .await;
    assert_eq!((resp.status, resp.text()), ok(&id), "key in Authorization");

    let (id, body) = good_envelope(3);
    let resp = proxy
        .send(
            request(
                "POST",
                "/api/42/envelope/?sentry_key=abc123&sentry_version=7",
                &[],
                &body,
            )
            .to_vec(),
        )
        .await;
    assert_eq!((resp.status, resp.text()), ok(&id), "key in the query");

    let id = format!("{:032x}", 4);
    let body = format!(
        "{{\"event_id\":\"{id}\",\"dsn\":\"http://abc123@127.0.0.1:9000/42\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"ok\"}}\n"
    );
    let resp = proxy
        .send(request("POST", ENVELOPE_PATH, &[], body.as_bytes()).to_vec())
        .await;
    assert_eq!(
        (resp.status, resp.text()),
        ok(&id),
        "key in the envelope dsn"
    );

    assert_eq!(proxy.outbox_files().len(), 4);
    assert_eq!(proxy.metric("scrubproxy_envelopes_accepted_total").await, 4);
    assert!(!proxy
        .metrics()
        .await
        .contains("scrubproxy_requests_rejected_total{"));
    proxy.stop().await;
}

// === responses to good requests ===

#[tokio::test]
async fn accepted_envelopes_echo_only_a_valid_event_id() {
    let proxy = TestProxy::start(&[]).await;
    let (id, body) = good_envelope(7);
    let resp = proxy.send(post_envelope(&[], &body).to_vec()).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), format!("{{\"id\":\"{id}\"}}"));
    assert_eq!(resp.header("content-type"), Some("application/json"));

    // No event_id: an empty object.
    let resp = proxy
        .send(post_envelope(&[], b"{}\n{\"type\":\"event\"}\n{\"message\":\"ok\"}\n").to_vec())
        .await;
    assert_eq!((resp.status, resp.text()), (200, "{}".to_owned()));

    // Dashed and upper-case ids are normalized; an id that is not one is not echoed.
    let resp = proxy
        .send(
            post_envelope(
                &[],
                b"{\"event_id\":\"9EC79C33-EC99-42AB-8353-589FCB2E04DC\"}\n{\"type\":\"event\"}\n{}\n",
            )
            .to_vec(),
        )
        .await;
    assert_eq!(
        (resp.status, resp.text()),
        (200, format!("{{\"id\":\"{EVENT_ID}\"}}"))
    );
    let resp = proxy
        .send(
            post_envelope(
                &[],
                b"{\"event_id\":\"alice.canary@example.com\"}\n{\"type\":\"event\"}\n{}\n",
            )
            .to_vec(),
        )
        .await;
    assert_eq!((resp.status, resp.text()), (200, "{}".to_owned()));

    // An empty envelope (header only) is accepted, and nothing is written for it.
    let before = proxy.outbox_files().len();
    let resp = proxy.send(post_envelope(&[], b"{}\n").to_vec()).await;
    assert_eq!((resp.status, resp.text()), (200, "{}".to_owned()));
    assert_eq!(proxy.outbox_files().len(), before);
    assert_eq!(proxy.metric("scrubproxy_envelopes_empty_total").await, 1);
    assert_eq!(proxy.metric("scrubproxy_envelopes_accepted_total").await, 5);
    assert_eq!(
        proxy
            .metric("scrubproxy_requests_total{endpoint=\"envelope\"}")
            .await,
        5
    );
    proxy.stop().await;
}

// === the legacy store endpoint ===

#[tokio::test]
async fn legacy_store_gzip_event_becomes_one_event_envelope() {
    let proxy = TestProxy::start(&[]).await;
    let event = serde_json::json!({
        "event_id": EVENT_ID,
        "level": "error",
        "platform": "python",
        "exception": {"values": [{"type": "KeyError", "value": "'x'"}]},
    })
    .to_string();
    let gz = compress(ContentEncoding::Gzip, event.as_bytes(), 6).expect("gzip");
    let resp = proxy
        .send(
            request(
                "POST",
                "/api/42/store/",
                &[
                    ("Content-Type", "application/json"),
                    ("Content-Encoding", "gzip"),
                    (
                        "X-Sentry-Auth",
                        "Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=7",
                    ),
                ],
                &gz,
            )
            .to_vec(),
        )
        .await;
    assert_eq!(
        (resp.status, resp.text()),
        (200, format!("{{\"id\":\"{EVENT_ID}\"}}"))
    );
    let files = proxy.outbox_files();
    assert_eq!(files.len(), 1, "one envelope in the outbox");
    let written = Envelope::parse(Bytes::from(std::fs::read(&files[0]).expect("read outbox")))
        .expect("the outbox holds an envelope");
    assert_eq!(written.event_id(), Some(EVENT_ID));
    let types: Vec<&ItemType> = written.items().iter().map(|i| i.ty()).collect();
    assert_eq!(types, [&ItemType::Event]);
    assert_eq!(
        proxy
            .metric("scrubproxy_requests_total{endpoint=\"store\"}")
            .await,
        1
    );

    // A JSON array is not an event (nor is a string, nor a truncated object).
    let mut h = Harness {
        proxy,
        good_sent: 1,
    };
    for body in [
        format!("[{{\"message\":\"{}\"}}]", CANARIES[0]),
        format!("\"{}\"", CANARIES[1]),
        format!("{{\"message\":\"{}\"", CANARIES[0]),
    ] {
        h.rejects(
            request(
                "POST",
                "/api/42/store/",
                &[("Content-Type", "application/json"), GOOD_AUTH],
                body.as_bytes(),
            )
            .to_vec(),
            400,
            "invalid_store_json",
            "invalid event: the body is not a JSON object",
        )
        .await;
    }
    h.stop().await;
}

// === slow and broken clients ===

#[tokio::test]
async fn a_stalled_body_times_out_with_408() {
    let mut h = Harness::open().await;
    let before = h.proxy.rejected("body_timeout").await;
    let mut stream = TcpStream::connect(h.proxy.listen).await.expect("connect");
    let req = post_envelope(&[], b"");
    stream
        .write_all(&req.head(Some(1000)))
        .await
        .expect("write head");
    stream
        .write_all(b"{\"event_id\":\"alice.canary@example.com\"}\n")
        .await
        .expect("write some body");
    // Then nothing: the proxy must answer once --body-read-timeout (1 s) has passed.
    let resp = tokio::time::timeout(TEST_TIMEOUT, read_response(&mut stream))
        .await
        .expect("the proxy answers a stalled body")
        .expect("a complete response");
    h.check_refusal(
        &resp,
        before,
        408,
        "body_timeout",
        "request body not received in time",
    )
    .await;
    drop(stream);
    h.still_serves().await;
    h.stop().await;
}

#[tokio::test]
async fn a_stalled_request_head_is_cut_off() {
    let mut h = Harness::open().await;
    for partial in [
        &b"POST /api/42/enve"[..],
        b"POST /api/42/envelope/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Sentry-Auth: Sentry sentry_key=abc",
    ] {
        let mut stream = TcpStream::connect(h.proxy.listen).await.expect("connect");
        stream.write_all(partial).await.expect("write partial head");
        // The server closes the connection (--header-read-timeout is 1 s); the bound below only
        // keeps a hung server from hanging the test.
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(TEST_TIMEOUT, stream.read_to_end(&mut rest))
            .await
            .expect("the server closes a connection whose head stalls");
        closed.expect("closed cleanly");
        assert_eq!(String::from_utf8_lossy(&rest), "");
        h.still_serves().await;
    }
    // Slow clients are visible to the operator.
    wait_for_line(
        &h,
        "scrubproxy_connection_errors_total{kind=\"header_timeout\"} 2",
    )
    .await;
    h.stop().await;
}

/// Polls `/metrics` until it holds `line` (the connection's task records it as it ends).
async fn wait_for_line(h: &Harness, line: &str) {
    common::assert_eventually(TEST_TIMEOUT, async || {
        let text = h.proxy.metrics().await;
        match text.lines().any(|l| l == line) {
            true => Ok(()),
            false => Err(format!("no `{line}` in:\n{text}")),
        }
    })
    .await
}

#[tokio::test]
async fn a_body_cut_short_by_the_client_is_a_read_error() {
    let mut h = Harness::open().await;
    let before = h.proxy.rejected("body_read_error").await;
    let stream = TcpStream::connect(h.proxy.listen).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let mut raw = post_envelope(&[], b"").head(Some(1000));
    raw.extend_from_slice(b"{\"event_id\":\"alice.canary@example.com\"}\n");
    wr.write_all(&raw).await.expect("write");
    // Half-close: the body ends 960 bytes early.
    wr.shutdown().await.expect("shutdown write");
    let mut rest = Vec::new();
    let res = tokio::time::timeout(TEST_TIMEOUT, rd.read_to_end(&mut rest))
        .await
        .expect("the server ends the connection");
    res.expect("the connection ends cleanly");
    let resp = read_response(&mut &rest[..]).await.expect("a response");
    h.check_refusal(
        &resp,
        before,
        400,
        "body_read_error",
        "failed to read request body",
    )
    .await;
    drop(wr);
    h.still_serves().await;
    h.stop().await;
}

#[tokio::test]
async fn an_oversized_request_head_gets_431() {
    let mut h = Harness::open().await;
    // Past hyper's 64 KiB read buffer: refused by the HTTP layer, before any handler runs,
    // so no `Reject` reason is counted.
    let big = format!("{} ", CANARIES[0]).repeat(8 << 10);
    let resp = h
        .proxy
        .send(post_envelope(&[("X-Note", big.as_str())], b"{}\n").to_vec())
        .await;
    assert_eq!((resp.status, resp.text()), (431, String::new()));
    wait_for_line(
        &h,
        "scrubproxy_connection_errors_total{kind=\"too_large\"} 1",
    )
    .await;
    assert_no_canary("the response", &resp.body);
    assert_no_canary("/metrics", h.proxy.metrics().await.as_bytes());
    h.still_serves().await;
    h.stop().await;
}

/// Relay reads `Authorization` only when it starts with `Sentry ` (any case) and otherwise
/// falls back to the query string; a `Basic` or `Bearer` header added by an ingress or the
/// app must not hide a valid `?sentry_key=`.
#[tokio::test]
async fn regression_non_sentry_authorization_header_is_ignored() {
    let proxy = TestProxy::start(AUTH_PROXY).await;
    let (id, body) = good_envelope(1);
    for authorization in ["Basic dXNlcjpwYXNz", "Bearer eyJhbGciOiJIUzI1NiJ9"] {
        let resp = proxy
            .send(
                request(
                    "POST",
                    "/api/42/envelope/?sentry_key=abc123&sentry_version=7",
                    &[("Authorization", authorization)],
                    &body,
                )
                .to_vec(),
            )
            .await;
        assert_eq!(
            (resp.status, resp.text()),
            (200, format!("{{\"id\":\"{id}\"}}")),
            "{authorization}"
        );
    }
    // The scheme is case-insensitive, as in Relay.
    let resp = proxy
        .send(post_envelope(&[("X-Sentry-Auth", "SENTRY sentry_key=abc123")], &body).to_vec())
        .await;
    assert_eq!(resp.status, 200);
    proxy.stop().await;
}

#[tokio::test]
async fn a_failed_outbox_write_answers_503_so_the_sdk_retries() {
    let mut h = Harness::open().await;
    h.still_serves().await;
    std::fs::remove_dir_all(&h.proxy.outbox).expect("remove the outbox");
    let before = h.proxy.rejected("output_failed").await;
    let body = format!(
        "{}{{\"type\":\"event\"}}\n{}\n",
        envelope_header(),
        canary_event()
    );
    let resp = h
        .proxy
        .send(post_envelope(&[], body.as_bytes()).to_vec())
        .await;
    assert_eq!(
        (resp.status, resp.text()),
        (
            503,
            detail_body("the envelope could not be written; retry later")
        )
    );
    assert_no_canary("the response", &resp.body);
    assert_eq!(h.proxy.rejected("output_failed").await, before + 1);
    assert_eq!(
        h.proxy
            .metric("scrubproxy_sink_errors_total{sink=\"outbox\"}")
            .await,
        1
    );
    assert_no_canary("/metrics", h.proxy.metrics().await.as_bytes());
    // Once the folder is back, writes succeed again.
    std::fs::create_dir_all(&h.proxy.outbox).expect("recreate the outbox");
    h.good_sent = 0;
    h.still_serves().await;
    h.stop().await;
}

/// `--max-connections` caps concurrent connections: past it, a client waits in the backlog
/// (its request is not read) until a connection closes, then it is served.
#[tokio::test]
async fn connections_past_the_cap_wait_for_a_free_slot() {
    let outbox = std::env::temp_dir().join(format!("cap-outbox-{}", std::process::id()));
    std::fs::create_dir_all(&outbox).expect("outbox");
    let outbox_arg = outbox.to_str().expect("utf-8").to_owned();
    let proxy = TestProxy::start_config(
        &["--max-connections", "1", "--outbox", &outbox_arg],
        // Long enough that the idle connection keeps its slot for the whole test.
        |c| c.inbound.header_read_timeout = std::time::Duration::from_secs(60),
    )
    .await;
    let files = || std::fs::read_dir(&outbox).map(|d| d.count()).unwrap_or(0);
    // The first connection takes the only slot and sends nothing.
    let hog = TcpStream::connect(proxy.listen).await.expect("connect");
    let (id, body) = good_envelope(7);
    let waiting = {
        let raw = post_envelope(&[], &body).to_vec();
        let listen = proxy.listen;
        tokio::spawn(async move {
            let mut s = TcpStream::connect(listen).await.expect("connect");
            s.write_all(&raw).await.expect("write");
            read_response(&mut s).await.expect("a response")
        })
    };
    // While the slot is held, the waiting request is never handled.
    for _ in 0..10 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "served past --max-connections");
        assert_eq!(files(), 0);
    }
    drop(hog);
    let resp = tokio::time::timeout(TEST_TIMEOUT, waiting)
        .await
        .expect("served once the slot is free")
        .expect("task");
    assert_eq!(
        (resp.status, resp.text()),
        (200, format!("{{\"id\":\"{id}\"}}"))
    );
    assert_eq!(files(), 1);
    proxy.stop().await;
    let _ = std::fs::remove_dir_all(&outbox);
}

/// Browser SDKs: the CORS preflight is answered, and every answer (refusals too) lets the
/// page read the rate-limit headers.
#[tokio::test]
async fn browser_sdks_get_cors_answers() {
    let mut h = Harness::open().await;
    let pre = h
        .proxy
        .send(
            request(
                "OPTIONS",
                ENVELOPE_PATH,
                &[("Origin", "https://app.example")],
                b"",
            )
            .to_vec(),
        )
        .await;
    assert_eq!(pre.status, 200);
    assert_eq!(pre.header("access-control-allow-origin"), Some("*"));
    assert_eq!(pre.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(
        pre.header("access-control-allow-headers"),
        Some("content-type, content-encoding, x-sentry-auth, authorization, sentry-trace, baggage")
    );
    // Preflights are not envelope requests.
    assert_eq!(
        h.proxy
            .metric("scrubproxy_requests_total{endpoint=\"envelope\"}")
            .await,
        0
    );
    let (id, body) = good_envelope(0);
    let ok = h.proxy.send(post_envelope(&[], &body).to_vec()).await;
    assert_eq!(
        (ok.status, ok.text()),
        (200, format!("{{\"id\":\"{id}\"}}"))
    );
    h.good_sent += 1;
    assert_eq!(ok.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        ok.header("access-control-expose-headers"),
        Some("x-sentry-rate-limits, retry-after")
    );
    let refused = h
        .proxy
        .send(post_envelope(&[], b"not an envelope").to_vec())
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.header("access-control-allow-origin"), Some("*"));
    // Unknown paths get no preflight.
    let other = h
        .proxy
        .send(request("OPTIONS", "/elsewhere", &[], b"").to_vec())
        .await;
    assert_eq!(other.status, 404);
    h.still_serves().await;
    h.stop().await;
}
