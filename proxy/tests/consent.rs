//! Consent end to end: a real HTTPS capture upstream trusted through
//! `--upstream-ca`, the proxy in-process (the binary only for the start-up refusal), and the
//! consent document served from a file or a local HTTP server.
//!
//! Every wait polls (metrics, readiness, the capture) with a generous bound that only turns a
//! hang into a failure; no test asserts how long something took.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{metric_value, request, Response, TestProxy};
use envelope::Envelope;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use testkit::ca::TestCa;
use testkit::upstream::{CaptureUpstream, Captured, Mode, Options, Tls};
use testkit::TempDir;

/// The key and project of the canary envelopes' `dsn`: the upstream DSN uses them too.
const KEY: &str = "d41d8cd98f00b204e9800998ecf8427e";
const PROJECT: &str = "42";
const AUTH: &str = "Sentry sentry_version=7, sentry_key=d41d8cd98f00b204e9800998ecf8427e, sentry_client=sentry.python/2.19.2";
const TOKEN: &str = "consent-test-admin-token-0123";
/// Failure bound for every poll: never reached when things work.
const BOUND: Duration = Duration::from_secs(20);

// === the consent document ===

/// `{"telemetry_enabled": global, "companies": {id: {telemetry_enabled, telemetry_ids_allowed}}}`.
fn doc(global: bool, companies: &[(&str, bool, bool)]) -> String {
    let mut c = serde_json::Map::new();
    for (id, telemetry, ids) in companies {
        c.insert(
            (*id).to_owned(),
            json!({"telemetry_enabled": telemetry, "telemetry_ids_allowed": ids}),
        );
    }
    json!({"telemetry_enabled": global, "companies": c}).to_string()
}

/// What the Django example does: a temporary file in the same folder, then a rename.
fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).expect("write temp consent file");
    std::fs::rename(&tmp, path).expect("rename consent file into place");
}

/// An editor or `cat > file`: the same inode, truncated, then written.
fn write_in_place(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .expect("open consent file in place");
    f.write_all(text.as_bytes()).expect("rewrite consent file");
}

// === envelopes ===

fn event_id(n: u32) -> String {
    format!("{:032x}", 0xc0_0000_u64 + u64::from(n))
}

/// A canary error event for `company` (the `company_id` tag) and `user` (`user.id`).
fn event(n: u32, company: Option<&str>, user: Option<&str>) -> (String, Vec<u8>) {
    let id = event_id(n);
    let body = testkit::canary::event_envelope(&id, company, user);
    (id, body)
}

const SESSION_SID: &str = "7c4a1b3e5f604d2f8d2f7c4a1b3e5f60";

/// Appends a `session` item whose `did` is `did`.
fn with_session(mut body: Vec<u8>, did: &str) -> Vec<u8> {
    let payload = json!({
        "sid": SESSION_SID,
        "did": did,
        "seq": 1,
        "init": true,
        "started": "2025-01-15T10:32:00.000000Z",
        "timestamp": "2025-01-15T10:32:07.000000Z",
        "status": "ok",
        "errors": 0,
        "attrs": {"release": "docsearch@3.4.1", "environment": "production", "ip_address": "203.0.113.77"},
    });
    body.extend_from_slice(b"{\"type\":\"session\"}\n");
    body.extend(serde_json::to_vec(&payload).expect("session json"));
    body.push(b'\n');
    body
}

/// Appends a `client_report` item.
fn with_client_report(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(b"{\"type\":\"client_report\"}\n");
    body.extend_from_slice(
        br#"{"timestamp":"2025-01-15T10:32:07.000000Z","discarded_events":[{"reason":"sample_rate","category":"transaction","quantity":3}]}"#,
    );
    body.push(b'\n');
    body
}

/// An envelope without an event: just a header, for sessions and client reports.
fn bare_envelope() -> Vec<u8> {
    b"{\"sent_at\":\"2025-01-15T10:32:07.456789Z\"}\n".to_vec()
}

async fn send(proxy: &TestProxy, body: &[u8]) -> Response {
    let req = request(
        "POST",
        "/api/42/envelope/",
        &[
            ("X-Sentry-Auth", AUTH),
            ("Content-Type", "application/x-sentry-envelope"),
        ],
        body,
    );
    proxy.send(req.to_vec()).await
}

/// Sends and asserts the SDK's `200`: consent never changes what the SDK is told.
async fn send_ok(proxy: &TestProxy, body: &[u8]) {
    let resp = send(proxy, body).await;
    assert_eq!(resp.status, 200, "SDK answer: {}", resp.text());
}

// === what the upstream got ===

/// The items of a captured envelope (body already decompressed by the capture): type and
/// JSON payload.
fn items(c: &Captured) -> Vec<(String, Value)> {
    let env = Envelope::parse(Bytes::from(c.body.clone())).expect("the upstream got an envelope");
    env.items()
        .iter()
        .map(|i| {
            let v = serde_json::from_slice(i.payload()).expect("JSON item payload");
            (i.ty().as_str().to_owned(), v)
        })
        .collect()
}

fn types(items: &[(String, Value)]) -> Vec<&str> {
    items.iter().map(|(t, _)| t.as_str()).collect()
}

fn item<'a>(items: &'a [(String, Value)], ty: &str) -> &'a Value {
    &items
        .iter()
        .find(|(t, _)| t == ty)
        .unwrap_or_else(|| panic!("no {ty} item in {:?}", types(items)))
        .1
}

/// A tag's value, whether tags are an object or a list of pairs.
fn tag<'a>(event: &'a Value, name: &str) -> Option<&'a Value> {
    match event.get("tags")? {
        Value::Object(m) => m.get(name),
        Value::Array(pairs) => pairs
            .iter()
            .find(|p| p.get(0).and_then(Value::as_str) == Some(name))
            .and_then(|p| p.get(1)),
        _ => None,
    }
}

fn by_id<'a>(got: &'a [Captured], id: &str) -> &'a Captured {
    got.iter()
        .find(|c| c.event_id().as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no envelope {id} upstream"))
}

// === metrics and readiness ===

fn dropped(ty: &str, reason: &str) -> String {
    format!("scrubproxy_items_dropped_total{{type=\"{ty}\",reason=\"{reason}\"}}")
}

const VERSION: &str = "scrubproxy_consent_version";
const ERRORS: &str = "scrubproxy_consent_errors_total{source=\"load\"}";
const ENABLED: &str = "scrubproxy_telemetry_enabled";
const FORWARDED_EVENTS: &str = "scrubproxy_items_forwarded_total{type=\"event\"}";

/// Polls `/metrics` until `sample` equals `want`; fails at once if it goes past it. Returns
/// the text that showed it.
async fn wait_metric(proxy: &TestProxy, sample: &str, want: u64) -> String {
    common::assert_eventually(BOUND, async || {
        let text = proxy.metrics().await;
        let v = metric_value(&text, sample);
        assert!(v <= want, "{sample} went past {want}: {v}\n{}", ours(&text));
        match v == want {
            true => Ok(text),
            false => Err(format!(
                "{sample} stayed at {v}, expected {want}\n{}",
                ours(&text)
            )),
        }
    })
    .await
}

/// The consent-related lines of a metrics text, for failure messages.
fn ours(text: &str) -> String {
    text.lines()
        .filter(|l| {
            !l.starts_with('#')
                && (l.contains("consent")
                    || l.contains("dropped")
                    || l.contains("forwarded")
                    || l.contains("telemetry"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that the exact line `{sample} {value}` is in the metrics text.
#[track_caller]
fn assert_line(text: &str, sample: &str, value: u64) {
    let line = format!("{sample} {value}");
    assert!(
        text.lines().any(|l| l == line),
        "missing line {line:?} in\n{}",
        ours(text)
    );
}

async fn readyz(proxy: &TestProxy) -> u16 {
    proxy.admin("GET", "/readyz", &[]).await.status
}

async fn wait_ready(proxy: &TestProxy, want: u16) {
    common::assert_eventually(BOUND, async || match readyz(proxy).await {
        got if got == want => Ok(()),
        got => Err(format!("/readyz stayed {got}, expected {want}")),
    })
    .await
}

async fn refresh(proxy: &TestProxy, auth: Option<&str>) -> Response {
    let header;
    let headers: Vec<(&str, &str)> = match auth {
        Some(a) => {
            header = a.to_owned();
            vec![("Authorization", header.as_str())]
        }
        None => vec![],
    };
    proxy.admin("POST", "/consent/refresh", &headers).await
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// `POST /consent/refresh` with the right token; asserts `200 {"status":"reloaded","version":N}`.
async fn refresh_ok(proxy: &TestProxy, version: u64) {
    let resp = refresh(proxy, Some(&bearer())).await;
    assert_eq!(
        (resp.status, resp.text()),
        (
            200,
            format!(r#"{{"status":"reloaded","version":{version}}}"#)
        )
    );
}

// === the world around the proxy ===

/// A trusted capture upstream, its CA on disk and a consent file path.
struct World {
    _dir: TempDir,
    ca_pem: PathBuf,
    consent: PathBuf,
    upstream: CaptureUpstream,
}

impl World {
    fn new(mode: Mode) -> World {
        let ca = TestCa::new();
        let dir = TempDir::new("consent");
        let ca_pem = ca.write_pem(dir.path()).expect("write CA");
        let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(mode));
        World {
            consent: dir.path().join("consent.json"),
            _dir: dir,
            ca_pem,
            upstream,
        }
    }

    fn write(&self, text: &str) {
        write_atomic(&self.consent, text);
    }

    /// Upstream, CA, and `extra`.
    fn args(&self, token: bool, extra: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "--upstream-dsn".into(),
            self.upstream.dsn(KEY, PROJECT),
            "--upstream-ca".into(),
            self.ca_pem.to_str().expect("utf-8 path").into(),
        ];
        if token {
            a.extend(["--admin-token".into(), TOKEN.into()]);
        }
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a
    }

    /// A proxy reading `self.consent`, with the admin token.
    async fn proxy_file(&self, extra: &[&str]) -> TestProxy {
        self.proxy_file_token(true, extra).await
    }

    async fn proxy_file_token(&self, token: bool, extra: &[&str]) -> TestProxy {
        let mut all = vec!["--consent-file", self.consent.to_str().expect("utf-8 path")];
        all.extend_from_slice(extra);
        self.proxy(token, &all).await
    }

    async fn proxy(&self, token: bool, extra: &[&str]) -> TestProxy {
        let args = self.args(token, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        TestProxy::start_bare(&args).await
    }
}

// === 1. immediate revocation ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_drops_envelopes_queued_behind_a_stalled_upstream() {
    let world = World::new(Mode::Stall);
    world.write(&doc(true, &[("7", true, false), ("8", true, false)]));
    // One sender: the first envelope is stuck in flight, the others wait in the queue. The
    // upstream timeout ends the stalled request well after the revocation below.
    let proxy = world
        .proxy_file(&["--senders", "1", "--upstream-timeout", "3s"])
        .await;
    wait_ready(&proxy, 200).await;

    let mut ids = Vec::new();
    for n in 0..4 {
        let (id, body) = event(n, Some("7"), Some("u-7"));
        send_ok(&proxy, &body).await;
        ids.push(id);
    }
    let stalled = world.upstream.wait_for(1, BOUND).await;
    assert_eq!(stalled[0].event_id().as_deref(), Some(ids[0].as_str()));
    wait_metric(&proxy, "scrubproxy_queue_depth", 3).await;

    // The app revokes company 7 and tells the proxy.
    world.write(&doc(true, &[("7", false, false), ("8", true, false)]));
    refresh_ok(&proxy, 2).await;
    world.upstream.set_mode(Mode::Ok);

    // The stalled request times out; its retry and the three queued envelopes meet the
    // re-check before sending and are dropped.
    let text = wait_metric(&proxy, &dropped("event", "consent_revoked"), 4).await;
    assert_line(
        &text,
        "scrubproxy_upstream_errors_total{kind=\"timeout\"}",
        1,
    );

    // A barrier: one sender, first in first out, so once this one arrived everything queued
    // before it was dealt with.
    let (barrier, body) = event(100, Some("8"), Some("u-8"));
    send_ok(&proxy, &body).await;
    let got = world.upstream.wait_for(2, BOUND).await;
    let seen: Vec<(Option<String>, Option<u16>)> =
        got.iter().map(|c| (c.event_id(), c.status)).collect();
    // Exactly what the design allows: the one request already sent to the stalled upstream
    // before the revocation (never answered), then nothing of company 7.
    assert_eq!(
        seen,
        vec![(Some(ids[0].clone()), None), (Some(barrier), Some(200))]
    );
    let text = wait_metric(&proxy, FORWARDED_EVENTS, 1).await;
    assert_line(&text, &dropped("event", "consent_revoked"), 4);
    assert_line(&text, "scrubproxy_envelopes_forwarded_total", 1);
    assert_line(&text, "scrubproxy_queue_depth", 0);
    assert_line(&text, VERSION, 2);
    assert_eq!(world.upstream.requests().len(), 2);
    proxy.stop().await;
}

// === 2. IDs on and off ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_leave_only_with_id_consent() {
    let world = World::new(Mode::Ok);
    world.write(&doc(true, &[("7", true, true), ("8", true, false)]));
    let proxy = world.proxy_file(&["--unattributed", "forward"]).await;
    wait_ready(&proxy, 200).await;

    let (id7, body7) = event(1, Some("7"), Some("u-7"));
    send_ok(&proxy, &with_session(body7, "u-7")).await;
    let (id8, body8) = event(2, Some("8"), Some("u-8"));
    send_ok(&proxy, &with_client_report(with_session(body8, "u-8"))).await;
    let got = world.upstream.wait_for(2, BOUND).await;
    assert_eq!(got.len(), 2);

    // Company 7 allowed IDs: user.id and the company tag stay (the user object is reduced to
    // its id).
    let with_ids = items(by_id(&got, &id7));
    assert_eq!(types(&with_ids), ["event", "session"]);
    let ev = item(&with_ids, "event");
    assert_eq!(ev["user"], json!({"id": "u-7"}));
    assert_eq!(tag(ev, "company_id"), Some(&json!("7")));
    // A session carries no company, so no company's ID consent covers it: forwarded under
    // `--unattributed forward`, without its `did`, even next to an event of company 7.
    let session = item(&with_ids, "session");
    assert_eq!(session.get("did"), None, "{session}");
    assert_eq!(session["sid"], json!(SESSION_SID));
    assert_eq!(session["attrs"].get("ip_address"), None);

    // Company 8 did not: neither user nor company tag.
    let without = items(by_id(&got, &id8));
    assert_eq!(types(&without), ["event", "session", "client_report"]);
    let ev = item(&without, "event");
    assert_eq!(ev.get("user"), None, "{ev}");
    assert_eq!(tag(ev, "company_id"), None, "{ev}");
    assert!(!String::from_utf8_lossy(&by_id(&got, &id8).body).contains("u-8"));
    assert_eq!(item(&without, "session").get("did"), None);
    assert_eq!(
        item(&without, "client_report")["discarded_events"],
        json!([{"reason": "sample_rate", "category": "transaction", "quantity": 3}])
    );
    proxy.stop().await;

    // The default `--unattributed drop`: the event leaves, the session and client report
    // do not.
    let world = World::new(Mode::Ok);
    world.write(&doc(true, &[("7", true, true)]));
    let proxy = world.proxy_file(&[]).await;
    wait_ready(&proxy, 200).await;
    let (id, body) = event(3, Some("7"), Some("u-7"));
    send_ok(&proxy, &with_session(body, "u-7")).await;
    send_ok(&proxy, &with_client_report(bare_envelope())).await;
    let got = world.upstream.wait_for(1, BOUND).await;
    let only = items(by_id(&got, &id));
    assert_eq!(types(&only), ["event"]);
    assert_eq!(item(&only, "event")["user"], json!({"id": "u-7"}));
    let text = wait_metric(&proxy, FORWARDED_EVENTS, 1).await;
    assert_line(&text, &dropped("session", "unattributed"), 1);
    assert_line(&text, &dropped("client_report", "unattributed"), 1);
    assert_line(&text, "scrubproxy_envelopes_empty_total", 1);
    assert_eq!(world.upstream.requests().len(), 1);
    proxy.stop().await;
}

// === 3. global off: egress silence ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_off_opens_no_connection_to_the_upstream() {
    let world = World::new(Mode::Ok);
    world.write(&doc(false, &[("7", true, true)]));
    let proxy = world.proxy_file(&["--unattributed", "forward"]).await;
    wait_ready(&proxy, 200).await;

    for n in 0..3 {
        let (_, body) = event(n, Some("7"), Some("u-7"));
        send_ok(&proxy, &body).await;
    }
    send_ok(&proxy, &with_session(bare_envelope(), "u-7")).await;
    let text = wait_metric(&proxy, &dropped("event", "telemetry_disabled"), 3).await;
    assert_line(&text, &dropped("session", "telemetry_disabled"), 1);
    assert_line(&text, "scrubproxy_envelopes_empty_total", 4);
    assert_line(&text, ENABLED, 0);
    assert_eq!(metric_value(&text, FORWARDED_EVENTS), 0);
    assert_eq!(world.upstream.accepted_connections(), 0);
    assert!(world.upstream.requests().is_empty());

    // The instance admin turns telemetry on: the next event leaves.
    world.write(&doc(true, &[("7", true, true)]));
    refresh_ok(&proxy, 2).await;
    let (id, body) = event(10, Some("7"), Some("u-7"));
    send_ok(&proxy, &body).await;
    let got = world.upstream.wait_for(1, BOUND).await;
    assert_eq!(got[0].event_id(), Some(id));
    let text = wait_metric(&proxy, FORWARDED_EVENTS, 1).await;
    assert_line(&text, ENABLED, 1);
    proxy.stop().await;
}

// === 4. the file source ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_changes_apply_and_invalid_documents_keep_the_last_good_one() {
    let world = World::new(Mode::Ok);
    world.write(&doc(true, &[("7", true, false)]));
    let proxy = world.proxy_file(&[]).await;
    wait_ready(&proxy, 200).await;
    let text = wait_metric(&proxy, VERSION, 1).await;
    assert_line(&text, ENABLED, 1);
    let age = text
        .lines()
        .find_map(|l| l.strip_prefix("scrubproxy_consent_age_seconds "))
        .expect("scrubproxy_consent_age_seconds is exported");
    age.parse::<u64>().expect("a whole number of seconds");

    let (id, body) = event(1, Some("7"), None);
    send_ok(&proxy, &body).await;
    assert_eq!(
        world.upstream.wait_for(1, BOUND).await[0].event_id(),
        Some(id)
    );

    // Replaced atomically: company 7 revoked.
    world.write(&doc(true, &[("7", false, false)]));
    wait_metric(&proxy, VERSION, 2).await;
    let (_, body) = event(2, Some("7"), None);
    send_ok(&proxy, &body).await;
    wait_metric(&proxy, &dropped("event", "company_not_consented"), 1).await;

    // Not JSON: reported, and the last good document stays in force.
    world.write(r#"{"telemetry_enabled": tru"#);
    wait_metric(&proxy, ERRORS, 1).await;
    let (_, body) = event(3, Some("7"), None);
    send_ok(&proxy, &body).await;
    let text = wait_metric(&proxy, &dropped("event", "company_not_consented"), 2).await;
    assert_line(&text, VERSION, 2);
    assert_eq!(readyz(&proxy).await, 200);

    // A wrong type: the same.
    let wrong = r#"{"telemetry_enabled": true, "companies": {"7": {"telemetry_enabled": "yes"}}}"#;
    world.write(wrong);
    wait_metric(&proxy, ERRORS, 2).await;
    let resp = refresh(&proxy, Some(&bearer())).await;
    assert_eq!(resp.status, 503);
    assert_eq!(
        resp.text(),
        json!({"detail": "reload failed, last good document kept: invalid consent document: companies.\"7\".telemetry_enabled: expected a boolean"}).to_string()
    );
    let (_, body) = event(4, Some("7"), None);
    send_ok(&proxy, &body).await;
    let text = wait_metric(&proxy, &dropped("event", "company_not_consented"), 3).await;
    assert_line(&text, VERSION, 2);
    // The same failure again is not counted twice.
    assert_line(&text, ERRORS, 2);

    // Rewritten in place (same inode): company 7 consents again. A read that lands between
    // the truncation and the write may count one more error; the version counts documents.
    write_in_place(&world.consent, &doc(true, &[("7", true, false)]));
    wait_metric(&proxy, VERSION, 3).await;
    let (id, body) = event(5, Some("7"), None);
    send_ok(&proxy, &body).await;
    let got = world.upstream.wait_for(2, BOUND).await;
    assert_eq!(got[1].event_id(), Some(id));
    assert_eq!(got.len(), 2);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_without_a_valid_document_is_not_ready_and_sends_nothing() {
    for (what, content) in [
        ("missing", None),
        ("not JSON", Some("{\"telemetry_enabled\": true,")),
        ("wrong type", Some(r#"{"telemetry_enabled": 1}"#)),
        (
            "unknown field",
            Some(r#"{"telemetry_enabled": true, "compagnies": {}}"#),
        ),
    ] {
        let world = World::new(Mode::Ok);
        if let Some(c) = content {
            world.write(c);
        }
        let proxy = world.proxy_file(&["--unattributed", "forward"]).await;
        wait_metric(&proxy, ERRORS, 1).await;
        let resp = proxy.admin("GET", "/readyz", &[]).await;
        assert_eq!(
            (resp.status, resp.text().as_str()),
            (503, r#"{"status":"not ready","reasons":["no_consent"]}"#),
            "{what}"
        );
        let (_, body) = event(1, Some("7"), Some("u-7"));
        send_ok(&proxy, &body).await;
        send_ok(&proxy, &with_session(bare_envelope(), "u-7")).await;
        let text = wait_metric(&proxy, &dropped("event", "no_consent"), 1).await;
        assert_line(&text, &dropped("session", "no_consent"), 1);
        assert_line(&text, VERSION, 0);
        assert_line(&text, ENABLED, 0);
        assert_eq!(world.upstream.accepted_connections(), 0, "{what}");

        // Fixing the file opens the gate.
        world.write(&doc(true, &[("7", true, false)]));
        wait_metric(&proxy, VERSION, 1).await;
        wait_ready(&proxy, 200).await;
        let (id, body) = event(2, Some("7"), Some("u-7"));
        send_ok(&proxy, &body).await;
        let got = world.upstream.wait_for(1, BOUND).await;
        assert_eq!(got[0].event_id(), Some(id), "{what}");
        proxy.stop().await;
    }
}

// === 5. the URL source ===

/// What the consent server serves and what it saw.
#[derive(Debug, Default)]
struct DocState {
    body: String,
    etag: String,
    fail: bool,
    /// `If-None-Match` of every request, in order.
    seen: Vec<Option<String>>,
}

/// A plain HTTP server on 127.0.0.1 serving one consent document with an ETag.
struct DocServer {
    addr: SocketAddr,
    state: Arc<Mutex<DocState>>,
    task: tokio::task::JoinHandle<()>,
}

impl DocServer {
    async fn start(body: &str, etag: &str) -> DocServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the consent server");
        let addr = listener.local_addr().expect("consent server address");
        let state = Arc::new(Mutex::new(DocState {
            body: body.to_owned(),
            etag: etag.to_owned(),
            ..DocState::default()
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(answer(&state, &req)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        DocServer { addr, state, task }
    }

    fn url(&self) -> String {
        format!("http://{}/consent.json", self.addr)
    }

    fn set(&self, body: &str, etag: &str) {
        let mut s = self.state.lock().expect("consent server state");
        s.body = body.to_owned();
        s.etag = etag.to_owned();
    }

    fn fail(&self, fail: bool) {
        self.state.lock().expect("consent server state").fail = fail;
    }

    fn seen(&self) -> Vec<Option<String>> {
        self.state
            .lock()
            .expect("consent server state")
            .seen
            .clone()
    }

    async fn wait_requests(&self, n: usize) -> Vec<Option<String>> {
        common::assert_eventually(BOUND, async || match self.seen() {
            seen if seen.len() >= n => Ok(seen),
            seen => Err(format!(
                "the consent server saw {} request(s), expected {n}",
                seen.len()
            )),
        })
        .await
    }
}

impl Drop for DocServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(
    state: &Mutex<DocState>,
    req: &http::Request<hyper::body::Incoming>,
) -> http::Response<Full<Bytes>> {
    let mut s = state.lock().expect("consent server state");
    let inm = req
        .headers()
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    s.seen.push(inm.clone());
    let (status, body) = if s.fail {
        (500, Bytes::from_static(b"{\"error\":\"database down\"}"))
    } else if inm.as_deref() == Some(s.etag.as_str()) {
        (304, Bytes::new())
    } else {
        (200, Bytes::from(s.body.clone()))
    };
    let mut resp = http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json");
    if status != 500 {
        resp = resp.header(http::header::ETAG, s.etag.as_str());
    }
    resp.body(Full::new(body)).expect("a response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_source_uses_etags_and_fails_closed_after_the_max_age() {
    let world = World::new(Mode::Ok);
    let server = DocServer::start(&doc(true, &[("7", true, false)]), "\"v1\"").await;
    let url = server.url();
    let proxy = world
        .proxy(
            true,
            &[
                "--consent-url",
                &url,
                "--consent-poll-interval",
                "1s",
                "--consent-max-age",
                "3s",
            ],
        )
        .await;
    wait_ready(&proxy, 200).await;
    wait_metric(&proxy, VERSION, 1).await;
    let (id, body) = event(1, Some("7"), None);
    send_ok(&proxy, &body).await;
    assert_eq!(
        world.upstream.wait_for(1, BOUND).await[0].event_id(),
        Some(id)
    );

    // The next poll sends the ETag back and gets 304; so does a forced refresh. The document
    // stays in force, with the same version.
    let seen = server.wait_requests(2).await;
    assert_eq!(seen[0], None, "the first fetch has nothing to match");
    assert_eq!(seen[1].as_deref(), Some("\"v1\""));
    refresh_ok(&proxy, 1).await;
    assert_eq!(
        server.seen().last().cloned().flatten().as_deref(),
        Some("\"v1\"")
    );
    let (id, body) = event(2, Some("7"), None);
    send_ok(&proxy, &body).await;
    assert_eq!(
        world.upstream.wait_for(2, BOUND).await[1].event_id(),
        Some(id)
    );
    assert_line(&proxy.metrics().await, VERSION, 1);

    // A new document with a new ETag applies at the next poll.
    server.set(
        &doc(true, &[("7", false, false), ("8", true, false)]),
        "\"v2\"",
    );
    wait_metric(&proxy, VERSION, 2).await;
    let (_, body) = event(3, Some("7"), None);
    send_ok(&proxy, &body).await;
    wait_metric(&proxy, &dropped("event", "company_not_consented"), 1).await;
    let (id, body) = event(4, Some("8"), None);
    send_ok(&proxy, &body).await;
    assert_eq!(
        world.upstream.wait_for(3, BOUND).await[2].event_id(),
        Some(id)
    );

    // The source fails: the last good document stays in force for the max age, then
    // nothing leaves and the proxy says it is not ready.
    server.fail(true);
    wait_metric(&proxy, ERRORS, 1).await;
    wait_ready(&proxy, 503).await;
    let (_, body) = event(5, Some("8"), None);
    send_ok(&proxy, &body).await;
    let text = wait_metric(&proxy, &dropped("event", "consent_expired"), 1).await;
    assert_line(&text, ENABLED, 0);
    assert_line(&text, ERRORS, 1);
    // The age keeps counting from the last confirmation, through the failing polls that
    // follow the expiry: past the max age, not back to 0.
    let polls = server.seen().len();
    server.wait_requests(polls + 2).await;
    let age = metric_value(&proxy.metrics().await, "scrubproxy_consent_age_seconds");
    assert!(
        age >= 3,
        "scrubproxy_consent_age_seconds {age} after expiry"
    );
    assert_eq!(world.upstream.requests().len(), 3);

    // It answers again: the document is fetched anew and traffic flows.
    server.fail(false);
    wait_ready(&proxy, 200).await;
    wait_metric(&proxy, VERSION, 3).await;
    let (id, body) = event(6, Some("8"), None);
    send_ok(&proxy, &body).await;
    let got = world.upstream.wait_for(4, BOUND).await;
    assert_eq!(got[3].event_id(), Some(id));
    assert_eq!(got.len(), 4);
    proxy.stop().await;
}

// === 6. the refresh endpoint ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_needs_the_bearer_token() {
    let world = World::new(Mode::Ok);
    world.write(&doc(true, &[("7", true, false)]));
    let proxy = world.proxy_file(&[]).await;
    wait_metric(&proxy, VERSION, 1).await;

    let wrong = format!("Bearer {TOKEN}x");
    let basic = format!("Basic {TOKEN}");
    for auth in [None, Some(wrong.as_str()), Some(basic.as_str())] {
        let resp = refresh(&proxy, auth).await;
        assert_eq!(
            (resp.status, resp.text().as_str()),
            (401, r#"{"detail":"missing or wrong bearer token"}"#),
            "{auth:?}"
        );
        assert_eq!(resp.header("www-authenticate"), Some("Bearer"));
    }
    // The file did not change: same version.
    refresh_ok(&proxy, 1).await;
    // A revocation applies to the very next envelope once the refresh answered.
    world.write(&doc(true, &[("7", false, false)]));
    refresh_ok(&proxy, 2).await;
    let (_, body) = event(1, Some("7"), None);
    send_ok(&proxy, &body).await;
    let text = proxy.metrics().await;
    assert_line(&text, &dropped("event", "company_not_consented"), 1);
    assert_line(&text, VERSION, 2);
    assert_eq!(world.upstream.accepted_connections(), 0);
    proxy.stop().await;

    // Without --admin-token the endpoint does not exist.
    let world = World::new(Mode::Ok);
    world.write(&doc(true, &[("7", true, false)]));
    let proxy = world.proxy_file_token(false, &[]).await;
    let resp = refresh(&proxy, Some(&bearer())).await;
    assert_eq!(
        (resp.status, resp.text().as_str()),
        (
            404,
            r#"{"detail":"disabled: start the proxy with --admin-token"}"#
        )
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_without_a_source_assumes_consent_without_ids() {
    let proxy = TestProxy::start(&["--admin-token", TOKEN]).await;
    let resp = refresh(&proxy, Some(&bearer())).await;
    assert_eq!(
        (resp.status, resp.text().as_str()),
        (409, r#"{"detail":"no consent source configured"}"#)
    );
    assert_eq!(readyz(&proxy).await, 200);

    // Every company is assumed to have enabled telemetry, none to have allowed IDs.
    let (_, body) = event(1, Some("7"), Some("u-7"));
    send_ok(&proxy, &body).await;
    let files = proxy.outbox_files();
    assert_eq!(files.len(), 1);
    let written = Envelope::parse(Bytes::from(std::fs::read(&files[0]).expect("outbox file")))
        .expect("an envelope");
    let ev: Value = serde_json::from_slice(written.items()[0].payload()).expect("event JSON");
    assert_eq!(ev.get("user"), None, "{ev}");
    assert_eq!(tag(&ev, "company_id"), None, "{ev}");
    let text = proxy.metrics().await;
    assert_line(&text, ENABLED, 1);
    assert_line(&text, VERSION, 0);
    proxy.stop().await;
}

// === 7. start-up ===

const NEEDS_SOURCE: &str = "a real upstream needs a consent source: set --consent-file or --consent-url (or use --dry-run)";

#[test]
fn a_real_upstream_needs_a_consent_source() {
    use clap::Parser;
    let parse = |extra: &[&str]| {
        let mut args = vec![
            "sentry-scrub-proxy",
            "--eu-upstream-hosts",
            "127.0.0.1",
            "--upstream-dsn",
            "https://d41d8cd98f00b204e9800998ecf8427e@127.0.0.1:9/42",
        ];
        args.extend_from_slice(extra);
        let cli = proxy::config::cli::Cli::try_parse_from(args).expect("flags parse");
        proxy::config::Config::try_from(cli.serve)
    };
    let err = parse(&[]).expect_err("refused without a consent source");
    assert_eq!(err.0, vec![NEEDS_SOURCE.to_owned()]);
    let dry = parse(&["--dry-run"]).expect("a dry run may start without one");
    assert!(dry.consent.assume_without_source);
    let file = parse(&["--consent-file", "/nonexistent/consent.json"])
        .expect("a missing file is a start-up state, not a flag error");
    assert!(!file.consent.assume_without_source);

    // The binary says so and exits 64 (EX_USAGE), before binding anything.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sentry-scrub-proxy"))
        .env_clear()
        .args([
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--eu-upstream-hosts",
            "127.0.0.1",
            "--upstream-dsn",
            "https://d41d8cd98f00b204e9800998ecf8427e@127.0.0.1:9/42",
        ])
        .output()
        .expect("run the binary");
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: {NEEDS_SOURCE}\nsentry-scrub-proxy: invalid configuration (1 error(s)); see --help\n"
        )
    );
    assert!(out.stdout.is_empty());
}

// === 8. drop reasons by company ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_company_verdict_is_counted_with_its_reason() {
    let world = World::new(Mode::Ok);
    // Company 9 allowed IDs but not telemetry: nothing of it leaves.
    world.write(&doc(true, &[("7", true, false), ("9", false, true)]));
    let proxy = world.proxy_file(&[]).await;
    wait_ready(&proxy, 200).await;

    let (_, unknown) = event(1, Some("8"), Some("u-8"));
    let (_, refused) = event(2, Some("9"), Some("u-9"));
    let (_, nobody) = event(3, None, Some("u-0"));
    let (id, allowed) = event(4, Some("7"), Some("u-7"));
    for body in [&unknown, &refused, &refused, &nobody, &allowed] {
        send_ok(&proxy, body).await;
    }
    let got = world.upstream.wait_for(1, BOUND).await;
    assert_eq!(got[0].event_id(), Some(id));
    let text = wait_metric(&proxy, FORWARDED_EVENTS, 1).await;
    assert_line(&text, &dropped("event", "company_unknown"), 1);
    assert_line(&text, &dropped("event", "company_not_consented"), 2);
    assert_line(&text, &dropped("event", "unattributed"), 1);
    assert_line(&text, "scrubproxy_items_received_total{type=\"event\"}", 5);
    assert_line(&text, "scrubproxy_envelopes_empty_total", 4);
    assert_eq!(world.upstream.requests().len(), 1);
    proxy.stop().await;

    // A custom company tag: with `--company-tag tenant`, `company_id` is just another tag and
    // the event names no company.
    let world = World::new(Mode::Ok);
    world.write(&doc(true, &[("7", true, true)]));
    let proxy = world.proxy_file(&["--company-tag", "tenant"]).await;
    wait_ready(&proxy, 200).await;
    let (_, body) = event(5, Some("7"), Some("u-7"));
    send_ok(&proxy, &body).await;
    let text = wait_metric(&proxy, &dropped("event", "unattributed"), 1).await;
    assert_eq!(metric_value(&text, FORWARDED_EVENTS), 0);
    assert_eq!(world.upstream.accepted_connections(), 0);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_document_at_the_url_is_a_failure_not_a_confirmation() {
    let world = World::new(Mode::Ok);
    let server = DocServer::start(&doc(true, &[("7", true, false)]), "\"v1\"").await;
    let url = server.url();
    let proxy = world
        .proxy(
            true,
            &[
                "--consent-url",
                &url,
                "--consent-poll-interval",
                "1s",
                "--consent-max-age",
                "3s",
            ],
        )
        .await;
    wait_metric(&proxy, VERSION, 1).await;

    // The app publishes a broken document under a new ETag. Answering 304 to that ETag
    // afterwards must not count as confirming the last good document: the max age runs
    // out and the gate closes.
    server.set(r#"{"telemetry_enabled": "yes"}"#, "\"v2\"");
    wait_metric(&proxy, ERRORS, 1).await;
    let resp = refresh(&proxy, Some(&bearer())).await;
    assert_eq!(
        (resp.status, resp.text()),
        (
            503,
            json!({"detail": "reload failed, last good document kept: invalid consent document: telemetry_enabled: expected a boolean"}).to_string()
        )
    );
    wait_ready(&proxy, 503).await;
    let (_, body) = event(1, Some("7"), None);
    send_ok(&proxy, &body).await;
    let text = wait_metric(&proxy, &dropped("event", "consent_expired"), 1).await;
    assert_line(&text, VERSION, 1);
    assert_eq!(world.upstream.accepted_connections(), 0);
    assert!(
        server.seen().iter().all(|s| s.as_deref() != Some("\"v2\"")),
        "the ETag of a refused document was sent back: {:?}",
        server.seen()
    );

    // A valid document again: traffic flows.
    server.set(&doc(true, &[("7", true, false)]), "\"v3\"");
    wait_ready(&proxy, 200).await;
    let (id, body) = event(2, Some("7"), None);
    send_ok(&proxy, &body).await;
    assert_eq!(
        world.upstream.wait_for(1, BOUND).await[0].event_id(),
        Some(id)
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_spooled_before_a_revocation_are_dropped_after_a_restart() {
    revoked_while_spooled("overflow").await;
}

/// The durable spool: consent withdrawn while the proxy was down; the sweep at the next
/// start erases the revoked envelopes from the log before any is sent, so none of their
/// bytes stay on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_spool_deletes_envelopes_of_a_revoked_company() {
    revoked_while_spooled("durable").await;
}

async fn revoked_while_spooled(mode: &str) {
    let world = World::new(Mode::Stall);
    world.write(&doc(true, &[("7", true, false), ("8", true, false)]));
    let spool = TempDir::new("consent-spool");
    let spool_dir = spool.path().to_str().expect("utf-8 path").to_owned();
    let flags = [
        "--senders",
        "1",
        "--spool-dir",
        spool_dir.as_str(),
        "--spool-mode",
        mode,
        "--upstream-timeout",
        "1s",
        "--shutdown-timeout",
        "1s",
    ];
    let proxy = world.proxy_file(&flags).await;
    wait_ready(&proxy, 200).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let (id, body) = event(n, Some("7"), None);
        send_ok(&proxy, &body).await;
        ids.push(id);
    }
    world.upstream.wait_for(1, BOUND).await;
    // Shutdown cannot deliver to the stalled upstream: everything goes to the spool.
    proxy.stop().await;
    let spooled = std::fs::read_dir(spool.path())
        .expect("spool folder")
        .filter(|e| {
            e.as_ref()
                .ok()
                .and_then(|e| e.file_name().to_str().map(|n| !n.starts_with('.')))
                .unwrap_or(false)
        })
        .count();
    if mode == "overflow" {
        assert_eq!(spooled, 3, "one spool file per envelope");
    } else {
        assert_eq!(spooled, 1, "one log segment");
    }
    let before = world.upstream.requests();
    assert!(
        before
            .iter()
            .all(|c| c.event_id().as_deref() == Some(ids[0].as_str()) && c.status.is_none()),
        "only the first envelope was ever in flight"
    );

    // Revoked while the proxy was down; the next start replays the spool.
    world.write(&doc(true, &[("7", false, false), ("8", true, false)]));
    world.upstream.set_mode(Mode::Ok);
    let proxy = world.proxy_file(&flags).await;
    wait_metric(&proxy, &dropped("event", "consent_revoked"), 3).await;
    let (barrier, body) = event(100, Some("8"), None);
    send_ok(&proxy, &body).await;
    let got = world.upstream.wait_for(before.len() + 1, BOUND).await;
    assert_eq!(got.len(), before.len() + 1);
    assert_eq!(got[before.len()].event_id(), Some(barrier));
    let text = wait_metric(&proxy, FORWARDED_EVENTS, 1).await;
    assert_line(&text, &dropped("event", "consent_revoked"), 3);
    proxy.stop().await;
    // Nothing of the revoked company's envelopes is left on disk.
    for entry in std::fs::read_dir(spool.path()).expect("spool folder") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        for id in &ids {
            assert!(!text.contains(id.as_str()), "{mode}: {id} still on disk");
        }
    }
}

// === 9. IDs in paths and keys; items naming two companies ===

/// A user (`4242`) and an invoice (`977`) of company 8, in the path the app served.
const ID_PATH: &str = "/api/companies/8/users/4242/invoices/977";
const ID_TRACE: &str = "b20c65740ea54321a81618f4de9e1096";

/// A transaction of `company` named after its raw URL, with an outgoing call to the same
/// path on another service and a cache read keyed by the user, then the same two calls as
/// streamed (v2) spans; the header carries the name as the SDK copies it.
fn id_envelope(n: u32, company: &str) -> (String, Vec<u8>) {
    let id = event_id(n);
    let billing = format!("https://billing.internal{ID_PATH}");
    let header = json!({"event_id": id, "sent_at": "2025-01-15T10:32:07.456789Z",
                        "trace": {"trace_id": ID_TRACE, "transaction": ID_PATH, "public_key": KEY}});
    let transaction = json!({
        "type": "transaction",
        "event_id": id,
        "platform": "python",
        "transaction": ID_PATH,
        "transaction_info": {"source": "url"},
        "start_timestamp": 1736937120.0,
        "timestamp": 1736937121.5,
        "contexts": {"trace": {"trace_id": ID_TRACE, "span_id": "a81618f4de9e1096", "op": "http.server"}},
        "request": {"method": "GET", "url": format!("http://127.0.0.1:8000{ID_PATH}?page=2")},
        "tags": {"company_id": company},
        "user": {"id": "4242", "email": testkit::canary::EMAIL},
        "spans": [
            {"span_id": "b81618f4de9e1001", "parent_span_id": "a81618f4de9e1096", "op": "http.client",
             "description": format!("GET {billing}"), "start_timestamp": 1736937120.1,
             "timestamp": 1736937120.2, "data": {"url": billing, "http.method": "GET"}},
            {"span_id": "b81618f4de9e1002", "parent_span_id": "a81618f4de9e1096", "op": "cache.get",
             "description": "user:4242:profile", "start_timestamp": 1736937120.3,
             "timestamp": 1736937120.4},
        ],
    });
    let attr = |v: &str| json!({"type": "string", "value": v});
    let spans = json!({"items": [
        {"trace_id": ID_TRACE, "span_id": "c81618f4de9e1001", "name": format!("GET {billing}"),
         "attributes": {"sentry.op": attr("http.client"), "url.full": attr(&billing)}},
        {"trace_id": ID_TRACE, "span_id": "c81618f4de9e1002", "name": "user:4242:profile",
         "attributes": {"sentry.op": attr("cache.get")}},
    ]});
    let mut body = format!("{header}\n{{\"type\":\"transaction\"}}\n{transaction}\n").into_bytes();
    body.extend_from_slice(
        format!("{{\"type\":\"span\",\"content_type\":\"application/vnd.sentry.items.span.v2+json\",\"item_count\":2}}\n{spans}\n")
            .as_bytes(),
    );
    (id, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_in_paths_and_keys_leave_only_with_id_consent() {
    let world = World::new(Mode::Ok);
    world.write(&doc(true, &[("7", true, true), ("8", true, false)]));
    let proxy = world.proxy_file(&["--unattributed", "forward"]).await;
    wait_ready(&proxy, 200).await;

    let (id8, body8) = id_envelope(1, "8");
    send_ok(&proxy, &body8).await;
    let (id7, body7) = id_envelope(2, "7");
    send_ok(&proxy, &body7).await;
    let got = world.upstream.wait_for(2, BOUND).await;

    // Company 8, telemetry on and IDs off: the exact text that reached the upstream.
    let sent = by_id(&got, &id8);
    let text = sent.body_text();
    for id in ["4242", "977", "/8/", testkit::canary::EMAIL] {
        assert!(!text.contains(id), "{id} reached the upstream:\n{text}");
    }
    let masked = "/api/companies/*/users/*/invoices/*";
    let billing = format!("https://billing.internal{masked}");
    let dsn = world.upstream.dsn(KEY, PROJECT);
    let want = [
        format!(
            r#"{{"dsn":"{dsn}","event_id":"{id8}","sent_at":"2025-01-15T10:32:07.456789Z","trace":{{"public_key":"{KEY}","trace_id":"{ID_TRACE}","transaction":"{masked}"}}}}"#
        ),
        r#"{"length":1386,"type":"transaction"}"#.to_owned(),
        format!(
            concat!(
                r#"{{"event_id":"{id}","type":"transaction","timestamp":1736937121.5,"start_timestamp":1736937120.0,"platform":"python","#,
                r#""transaction":"{m}","transaction_info":{{"source":"url"}},"request":{{"method":"GET","url":"http://127.0.0.1:8000{m}"}},"#,
                r#""contexts":{{"trace":{{"trace_id":"{t}","span_id":"a81618f4de9e1096","op":"http.server"}}}},"#,
                r#""sdk":{{"settings":{{"infer_ip":"never"}}}},"#,
                r#""spans":[{{"span_id":"b81618f4de9e1001","parent_span_id":"a81618f4de9e1096","op":"http.client","description":"GET {b}","start_timestamp":1736937120.1,"timestamp":1736937120.2,"data":{{"http.method":"GET","url":"{b}"}}}},"#,
                r#"{{"span_id":"b81618f4de9e1002","parent_span_id":"a81618f4de9e1096","op":"cache.get","description":"user:*:profile","start_timestamp":1736937120.3,"timestamp":1736937120.4}}],"#,
                r#""_meta":{{"request":{{"url":{{"":{{"len":61,"rem":[["@ids:replace","s",0,56]]}}}}}},"#,
                r#""spans":{{"0":{{"data":{{"url":{{"":{{"len":64,"rem":[["@ids:replace","s",0,59]]}}}}}},"description":{{"":{{"len":64,"rem":[["@ids:replace","s",0,59]]}}}}}},"#,
                r#""1":{{"description":{{"":{{"len":17,"rem":[["@ids:replace","s",0,14]]}}}}}}}},"#,
                r#""transaction":{{"":{{"len":40,"rem":[["@ids:replace","s",0,35]]}}}},"user":{{"":{{"rem":[["@allowlist:remove","x"]]}}}}}}}}"#,
            ),
            id = id8,
            m = masked,
            t = ID_TRACE,
            b = billing,
        ),
        r#"{"content_type":"application/vnd.sentry.items.span.v2+json","item_count":2,"length":571,"type":"span"}"#.to_owned(),
        format!(
            concat!(
                r#"{{"version":2,"ingest_settings":{{"infer_ip":"never","infer_user_agent":"never"}},"#,
                r#""items":[{{"trace_id":"{t}","span_id":"c81618f4de9e1001","name":"GET {b}","#,
                r#""attributes":{{"sentry.op":{{"type":"string","value":"http.client"}},"url.full":{{"type":"string","value":"{b}"}}}}}},"#,
                r#"{{"trace_id":"{t}","span_id":"c81618f4de9e1002","name":"user:*:profile","#,
                r#""attributes":{{"sentry.op":{{"type":"string","value":"cache.get"}}}}}}]}}"#,
            ),
            t = ID_TRACE,
            b = billing,
        ),
    ];
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, want, "company 8 without IDs:\n{text}");

    // Company 7 allowed IDs: the paths, the key, the user and the company stay. The
    // envelope header has no consent of its own (and stays if the re-check drops the
    // transaction after a revocation), so its copy of the name is masked.
    let with_ids = items(by_id(&got, &id7));
    assert_eq!(types(&with_ids), ["transaction", "span"]);
    let tx = item(&with_ids, "transaction");
    assert_eq!(tx["transaction"], json!(ID_PATH));
    assert_eq!(
        tx["request"]["url"],
        json!(format!("http://127.0.0.1:8000{ID_PATH}"))
    );
    assert_eq!(
        tx["spans"][0]["description"],
        json!(format!("GET https://billing.internal{ID_PATH}"))
    );
    assert_eq!(tx["spans"][1]["description"], json!("user:4242:profile"));
    assert_eq!(tx["user"], json!({"id": "4242"}));
    assert_eq!(tag(tx, "company_id"), Some(&json!("7")));
    assert_eq!(tx.get("_meta").and_then(|m| m.get("transaction")), None);
    let header = by_id(&got, &id7).envelope_header().expect("a header");
    assert_eq!(header["trace"]["transaction"], json!(masked));
    // The streamed spans carry no company: they belong to the transaction's trace, so to
    // company 7, with its IDs (attribution by trace).
    let spans = item(&with_ids, "span");
    assert_eq!(spans["items"][1]["name"], json!("user:4242:profile"));
    assert_eq!(
        spans["items"][0]["name"],
        json!(format!("GET https://billing.internal{ID_PATH}"))
    );

    let text = wait_metric(
        &proxy,
        "scrubproxy_items_forwarded_total{type=\"transaction\"}",
        2,
    )
    .await;
    // 3 ids in each of the transaction name, request URL, span description, span URL, v2
    // name and v2 URL, 1 in each cache key (company 8); 3 in the header (company 7: its v2
    // spans are its own, with IDs).
    assert_line(&text, "scrubproxy_redactions_total{rule=\"@ids\"}", 20 + 3);
    proxy.stop().await;
}

/// An error event whose `tags` are the raw JSON `tags` (duplicate keys need raw text) and
/// whose user is `user`.
fn tagged_event(n: u32, tags: &str, user: &str) -> (String, Vec<u8>) {
    let id = event_id(n);
    let body = format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n\
         {{\"event_id\":\"{id}\",\"level\":\"error\",\"platform\":\"python\",\"tags\":{tags},\
         \"user\":{{\"id\":\"{user}\"}},\"exception\":{{\"values\":[{{\"type\":\"ValueError\",\"value\":\"bad\"}}]}}}}\n"
    );
    (id, body.into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_naming_two_companies_is_dropped_and_counted() {
    let world = World::new(Mode::Ok);
    // Company 7 allowed everything; company 9 turned telemetry off.
    world.write(&doc(true, &[("7", true, true), ("9", false, false)]));
    let proxy = world.proxy_file(&[]).await;
    wait_ready(&proxy, 200).await;

    let ambiguous = [
        r#"{"company_id": "7", "company_id": "9"}"#,
        r#"[["company_id", "7"], ["company_id", "9"]]"#,
        r#"{"company_id": "7", "COMPANY_ID": "9"}"#,
        r#"{"company_id": 7, "company_id": "9"}"#,
    ];
    for (n, tags) in ambiguous.iter().enumerate() {
        let (_, body) = tagged_event(n as u32, tags, "u-9");
        send_ok(&proxy, &body).await;
    }
    // The same company as a number and as a string is one company, and leaves once.
    let (id, body) = tagged_event(10, r#"{"company_id": 7, "Company_Id": "7"}"#, "u-7");
    send_ok(&proxy, &body).await;

    let text = wait_metric(&proxy, FORWARDED_EVENTS, 1).await;
    assert_line(&text, &dropped("event", "ambiguous_company"), 4);
    assert_line(&text, "scrubproxy_envelopes_empty_total", 4);
    assert_eq!(
        metric_value(&text, &dropped("event", "company_not_consented")),
        0
    );
    let got = world.upstream.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event_id(), Some(id));
    let body = got[0].body_text();
    assert!(!body.contains("u-9"), "{body}");
    let ev = item(&items(&got[0]), "event").clone();
    assert_eq!(ev["tags"], json!({"company_id": "7"}));
    assert_eq!(body.matches("company_id").count(), 1, "{body}");
    assert_eq!(ev["user"], json!({"id": "u-7"}));
    proxy.stop().await;
}

// === 10. attribution by trace ===

/// A span envelope as sentry-sdk 3.x sends it: no `event_id`, the trace's sampling context
/// in the header, one span v2 item. Each span is `(span id, company attribute)`; every span
/// also carries the member's email, which must never leave.
fn span_envelope(trace: &str, spans: &[(&str, Option<&str>)]) -> Vec<u8> {
    let attr = |v: &str| json!({"type": "string", "value": v});
    let items: Vec<Value> = spans
        .iter()
        .map(|(id, company)| {
            let mut attributes = json!({"sentry.op": attr("db"),
                                        "user.email": attr(testkit::canary::EMAIL)});
            if let Some(c) = company {
                attributes["company_id"] = attr(c);
            }
            json!({"trace_id": trace, "span_id": id, "name": "SELECT 1", "status": "ok",
                   "start_timestamp": 1765144000.1, "end_timestamp": 1765144000.2,
                   "attributes": attributes})
        })
        .collect();
    let header = json!({"sent_at": "2025-01-15T10:32:07.456789Z",
                        "trace": {"trace_id": trace, "public_key": KEY, "sample_rate": "1.0"}});
    let payload = json!({"version": 2, "items": items});
    format!(
        "{header}\n{{\"type\":\"span\",\"content_type\":\"application/vnd.sentry.items.span.v2+json\",\"item_count\":{}}}\n{payload}\n",
        spans.len()
    )
    .into_bytes()
}

/// The span ids of every span item that reached the upstream, per envelope.
fn spans_sent(got: &[Captured]) -> Vec<Vec<String>> {
    got.iter()
        .flat_map(items)
        .filter(|(ty, _)| ty == "span")
        .map(|(_, p)| {
            (p["items"].as_array().expect("span items").iter())
                .map(|s| s["span_id"].as_str().expect("span id").to_owned())
                .collect()
        })
        .collect()
}

/// A trace metric envelope as sentry-sdk 2.x/3.x sends it: `sent_at` only in the header,
/// each record naming its trace. Each record is `(span id, trace, company attribute)`; every
/// record also carries the member's email and an app attribute, which must never leave.
fn metric_envelope(records: &[(&str, &str, Option<&str>)]) -> Vec<u8> {
    let attr = |v: &str| json!({"type": "string", "value": v});
    let items: Vec<Value> = records
        .iter()
        .map(|(span, trace, company)| {
            let mut attributes = json!({"sentry.environment": attr("production"),
                                        "user.email": attr(testkit::canary::EMAIL),
                                        "topic": attr("canary merger")});
            if let Some(c) = company {
                attributes["company_id"] = attr(c);
            }
            json!({"timestamp": 1765144000.5, "trace_id": trace, "span_id": span,
                   "name": "assistant.latency", "type": "distribution", "value": 812.5,
                   "unit": "millisecond", "attributes": attributes})
        })
        .collect();
    let payload = json!({"version": 2, "items": items});
    format!(
        "{{\"sent_at\":\"2025-01-15T10:32:07.456789Z\"}}\n{{\"type\":\"trace_metric\",\"content_type\":\"application/vnd.sentry.items.trace-metric+json\",\"item_count\":{}}}\n{payload}\n",
        records.len()
    )
    .into_bytes()
}

/// The span ids of every trace metric record that reached the upstream, per item.
fn metrics_sent(got: &[Captured]) -> Vec<Vec<String>> {
    got.iter()
        .flat_map(items)
        .filter(|(ty, _)| ty == "trace_metric")
        .map(|(_, p)| {
            (p["items"].as_array().expect("metric records").iter())
                .map(|m| m["span_id"].as_str().expect("span id").to_owned())
                .collect()
        })
        .collect()
}

const LOOKUPS: &str = "scrubproxy_trace_map_lookups_total";

/// sentry-sdk 3.x under the default `--unattributed drop`: the spans that end before the
/// middleware sets the company attribute leave with the rest of their request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_3x_request_leaves_whole_under_its_company() {
    let world = World::new(Mode::Ok);
    world.write(&doc(true, &[("4711", true, true)]));
    let proxy = world.proxy_file(&[]).await;
    wait_ready(&proxy, 200).await;
    let trace = "5b8efff798038103d269b633813fc60c";
    let spans = [
        ("a100000000000001", None),
        ("a100000000000002", None),
        ("a100000000000003", Some("4711")),
        ("a100000000000004", Some("4711")),
    ];
    send_ok(&proxy, &span_envelope(trace, &spans)).await;
    let got = world.upstream.wait_for(1, BOUND).await;
    assert_eq!(
        spans_sent(&got),
        [[
            "a100000000000001",
            "a100000000000002",
            "a100000000000003",
            "a100000000000004"
        ]]
    );
    let text = got[0].body_text();
    assert!(!text.contains(testkit::canary::EMAIL), "{text}");
    let metrics = wait_metric(&proxy, "scrubproxy_items_forwarded_total{type=\"span\"}", 1).await;
    assert_eq!(metric_value(&metrics, &dropped("span", "unattributed")), 0);
    // Attributed in its own envelope: the trace map was not needed.
    assert_eq!(
        metric_value(&metrics, &format!("{LOOKUPS}{{result=\"hit\"}}")),
        0
    );
    proxy.stop().await;
}

/// 3.x sends a request's error event and its spans as two requests: the spans that name no
/// company take the one their trace's event named (the trace map); a trace the map never saw
/// stays unattributed; a refused company's trace stays refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_envelope_of_a_trace_is_attributed_by_the_trace_map() {
    let world = World::new(Mode::Ok);
    world.write(&doc(true, &[("4711", true, false), ("9", false, false)]));
    let proxy = world.proxy_file(&[]).await;
    wait_ready(&proxy, 200).await;

    // Each canary event is its own trace: its event id.
    let (traced, body) = event(1, Some("4711"), Some("u-1"));
    send_ok(&proxy, &body).await;
    send_ok(
        &proxy,
        &span_envelope(&traced, &[("b100000000000001", None)]),
    )
    .await;
    let never_seen = "0af7651916cd43dd8448eb211c80319c";
    send_ok(
        &proxy,
        &span_envelope(never_seen, &[("cafe000000000001", None)]),
    )
    .await;
    let (refused, body) = event(2, Some("9"), None);
    send_ok(&proxy, &body).await;
    send_ok(
        &proxy,
        &span_envelope(&refused, &[("cafe000000000002", None)]),
    )
    .await;

    let text = wait_metric(&proxy, "scrubproxy_items_forwarded_total{type=\"span\"}", 1).await;
    assert_line(&text, &format!("{LOOKUPS}{{result=\"hit\"}}"), 2);
    assert_line(&text, &format!("{LOOKUPS}{{result=\"miss\"}}"), 1);
    assert_line(&text, &dropped("span", "unattributed"), 1);
    assert_line(&text, &dropped("span", "company_not_consented"), 1);
    assert_line(&text, &dropped("event", "company_not_consented"), 1);
    assert_line(&text, "scrubproxy_trace_map_entries", 2);
    let got = world.upstream.requests();
    assert_eq!(got.len(), 2, "the event and the spans of company 4711");
    assert_eq!(spans_sent(&got), [["b100000000000001"]]);
    for c in &got {
        let body = c.body_text();
        assert!(!body.contains("cafe"), "{body}");
        assert!(!body.contains(testkit::canary::EMAIL), "{body}");
    }
    proxy.stop().await;
}

/// sentry-sdk 2.x/3.x send metrics in envelopes of their own, each record naming its trace:
/// a record without the company attribute takes its trace's company from the map, a record
/// with it is its own company's, a refused company's trace stays refused, and a trace the
/// map never saw is unattributed. Records are decided one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_metric_records_follow_their_trace() {
    let world = World::new(Mode::Ok);
    world.write(&doc(true, &[("4711", true, false), ("9", false, false)]));
    let proxy = world.proxy_file(&[]).await;
    wait_ready(&proxy, 200).await;
    let (traced, body) = event(1, Some("4711"), None);
    send_ok(&proxy, &body).await;
    let (refused, body) = event(2, Some("9"), None);
    send_ok(&proxy, &body).await;
    let never_seen = "0af7651916cd43dd8448eb211c80319c";
    let unknown = "5b8efff798038103d269b633813fc60c";
    send_ok(
        &proxy,
        &metric_envelope(&[
            ("b200000000000001", &traced, None),
            ("b200000000000002", never_seen, Some("4711")),
            ("cafe000000000011", &refused, None),
            ("cafe000000000012", unknown, None),
        ]),
    )
    .await;

    let text = wait_metric(
        &proxy,
        "scrubproxy_items_forwarded_total{type=\"trace_metric\"}",
        1,
    )
    .await;
    assert_line(&text, &dropped("trace_metric", "company_not_consented"), 1);
    assert_line(&text, &dropped("trace_metric", "unattributed"), 1);
    // One lookup per trace the envelope leaves unattributed: `traced` and `refused` hit,
    // `unknown` misses; `never_seen` is named by its own record, so it is not asked.
    assert_line(&text, &format!("{LOOKUPS}{{result=\"hit\"}}"), 2);
    assert_line(&text, &format!("{LOOKUPS}{{result=\"miss\"}}"), 1);
    let got = world.upstream.wait_for(2, BOUND).await;
    assert_eq!(
        metrics_sent(&got),
        [["b200000000000001", "b200000000000002"]]
    );
    for c in &got {
        let body = c.body_text();
        assert!(!body.contains("cafe"), "{body}");
        assert!(!body.contains("canary merger"), "{body}");
        assert!(!body.contains(testkit::canary::EMAIL), "{body}");
    }
    proxy.stop().await;
}

/// The map is bounded: past --trace-map-max-entries the oldest trace is forgotten, and its
/// later spans are unattributed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicted_trace_is_unattributed_again() {
    let world = World::new(Mode::Ok);
    world.write(&doc(true, &[("4711", true, false)]));
    let proxy = world.proxy_file(&["--trace-map-max-entries", "1"]).await;
    wait_ready(&proxy, 200).await;
    let (first, body) = event(1, Some("4711"), None);
    send_ok(&proxy, &body).await;
    let (second, body) = event(2, Some("4711"), None);
    send_ok(&proxy, &body).await;
    send_ok(
        &proxy,
        &span_envelope(&first, &[("cafe000000000003", None)]),
    )
    .await;
    send_ok(
        &proxy,
        &span_envelope(&second, &[("c100000000000001", None)]),
    )
    .await;

    let text = wait_metric(&proxy, "scrubproxy_items_forwarded_total{type=\"span\"}", 1).await;
    assert_line(
        &text,
        "scrubproxy_trace_map_evictions_total{reason=\"capacity\"}",
        1,
    );
    assert_line(&text, "scrubproxy_trace_map_entries", 1);
    assert_line(&text, &dropped("span", "unattributed"), 1);
    assert_eq!(
        spans_sent(&world.upstream.requests()),
        [["c100000000000001"]]
    );
    proxy.stop().await;
}

/// A trace whose items name two companies: each named item leaves under its own company,
/// the unnamed ones under none (no one company's consent can decide them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_of_two_companies_attributes_none_of_its_unnamed_items() {
    let world = World::new(Mode::Ok);
    world.write(&doc(true, &[("7", true, true), ("8", true, true)]));
    let proxy = world.proxy_file(&[]).await;
    wait_ready(&proxy, 200).await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    send_ok(
        &proxy,
        &span_envelope(trace, &[("d100000000000007", Some("7"))]),
    )
    .await;
    send_ok(
        &proxy,
        &span_envelope(trace, &[("d100000000000008", Some("8"))]),
    )
    .await;
    send_ok(&proxy, &span_envelope(trace, &[("cafe000000000004", None)])).await;

    let text = wait_metric(&proxy, &dropped("span", "ambiguous_company"), 1).await;
    assert_line(&text, &format!("{LOOKUPS}{{result=\"ambiguous\"}}"), 1);
    let got = world.upstream.wait_for(2, BOUND).await;
    let mut sent = spans_sent(&got);
    sent.sort();
    assert_eq!(sent, [["d100000000000007"], ["d100000000000008"]]);
    assert!(got.iter().all(|c| !c.body_text().contains("cafe")));
    proxy.stop().await;
}

/// Spans and metric records attributed by the trace map carry their company's consent into
/// the queue (and the durable spool): revoking the company drops them before any send, as it
/// drops events, and erases them from the spool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_spans_attributed_by_the_map_are_dropped_on_revocation() {
    revoked_by_trace(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spooled_spans_attributed_by_the_map_are_erased_on_revocation() {
    revoked_by_trace(Some("durable")).await;
}

async fn revoked_by_trace(spool_mode: Option<&str>) {
    let world = World::new(Mode::Stall);
    world.write(&doc(true, &[("4711", true, false), ("8", true, false)]));
    let spool = TempDir::new("attribution-spool");
    let spool_dir = spool.path().to_str().expect("utf-8 path").to_owned();
    let mut flags = vec!["--senders", "1", "--upstream-timeout", "3s"];
    if let Some(mode) = spool_mode {
        flags.extend(["--spool-dir", spool_dir.as_str(), "--spool-mode", mode]);
    }
    let proxy = world.proxy_file(&flags).await;
    wait_ready(&proxy, 200).await;

    // The first envelope stalls in flight; the event of trace `traced`, the spans and the
    // metric records of the same trace (attributed by the map) wait in the queue.
    let (stalled, body) = event(0, Some("4711"), None);
    send_ok(&proxy, &body).await;
    world.upstream.wait_for(1, BOUND).await;
    let (traced, body) = event(1, Some("4711"), None);
    send_ok(&proxy, &body).await;
    send_ok(
        &proxy,
        &span_envelope(&traced, &[("cafe000000000005", None)]),
    )
    .await;
    send_ok(
        &proxy,
        &metric_envelope(&[
            ("cafe000000000006", &traced, None),
            ("cafe000000000007", &traced, Some("4711")),
        ]),
    )
    .await;
    let text = wait_metric(&proxy, "scrubproxy_queue_depth", 3).await;
    assert_line(&text, &format!("{LOOKUPS}{{result=\"hit\"}}"), 1);

    world.write(&doc(true, &[("4711", false, false), ("8", true, false)]));
    refresh_ok(&proxy, 2).await;
    world.upstream.set_mode(Mode::Ok);
    wait_metric(&proxy, &dropped("span", "consent_revoked"), 1).await;
    wait_metric(&proxy, &dropped("trace_metric", "consent_revoked"), 1).await;
    wait_metric(&proxy, &dropped("event", "consent_revoked"), 2).await;

    let (barrier, body) = event(100, Some("8"), None);
    send_ok(&proxy, &body).await;
    let got = world.upstream.wait_for(2, BOUND).await;
    let seen: Vec<(Option<String>, Option<u16>)> =
        got.iter().map(|c| (c.event_id(), c.status)).collect();
    assert_eq!(
        seen,
        vec![(Some(stalled), None), (Some(barrier), Some(200))]
    );
    assert!(got.iter().all(|c| !c.body_text().contains("cafe")));
    proxy.stop().await;
    if spool_mode.is_some() {
        for entry in std::fs::read_dir(spool.path()).expect("spool folder") {
            let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains("cafe000000000005"),
                "the spans are still on disk"
            );
            assert!(
                !text.contains("cafe000000000006") && !text.contains("cafe000000000007"),
                "the metric records are still on disk"
            );
            assert!(
                !text.contains(traced.as_str()),
                "the event is still on disk"
            );
        }
    }
}
