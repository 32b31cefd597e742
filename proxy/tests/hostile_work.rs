//! Requests that cost CPU, not bytes: a few hundred bytes of zstd that
//! expand to text every rule scans, against the real binary with its default limits (1 MiB
//! per event, 100 MiB per envelope). Each request completes with `200`, its output is exact
//! (`password=[secret]`), the redaction is counted, the server answers a good envelope while
//! the hostile one is being scrubbed, and the work budget is not even reached: the rules
//! are linear. Then the budget itself, on an in-process proxy given a small one: the
//! request is counted in `scrubproxy_work_budget_exhausted_total` and its remaining free
//! text leaves as `[filtered]`.
//!
//! No wall time is asserted: the timeouts below only stop a test that would hang. The CPU
//! time the binary spent is printed for `docs/robustness.md`.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use common::{metric_value, metrics_at, read_response, BinProxy, Response, TestProxy};
use envelope::decode::{compress, ContentEncoding};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const AUTH: &str =
    "X-Sentry-Auth: Sentry sentry_version=7, sentry_key=abc123, sentry_client=sentry.python/2.75.0";
const EVENT_ID: &str = "9ec79c33ec9942ab8353589fcb2e04dc";

/// Generous: before the fix one of these requests cost hours of CPU, so a test that waits
/// this long and fails says so instead of hanging. Never a measure of speed.
const HOSTILE_TIMEOUT: Duration = Duration::from_secs(300);

/// 200 KB of `password=`: every `=` is a seed of the key/value detector, whose value then
/// ran to the end of the string.
fn passwords() -> String {
    "password=".repeat(200_000 / 9)
}

/// An envelope of `items` (type, payload).
fn envelope(items: &[(&str, Value)]) -> Vec<u8> {
    let mut out = format!("{{\"event_id\":\"{EVENT_ID}\"}}\n");
    for (ty, payload) in items {
        out.push_str(&format!("{{\"type\":\"{ty}\"}}\n{payload}\n"));
    }
    out.into_bytes()
}

fn event(logger: &str) -> Value {
    json!({"event_id": EVENT_ID, "level": "error", "platform": "python", "logger": logger})
}

/// A POST of a zstd body to the envelope endpoint.
fn post_zstd(body: &[u8]) -> (Vec<u8>, usize) {
    let z = compress(ContentEncoding::Zstd, body, 19).expect("zstd");
    let head = format!(
        "POST /api/42/envelope/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{AUTH}\r\n\
         Content-Encoding: zstd\r\nContent-Length: {}\r\n\r\n",
        z.len()
    );
    let len = z.len();
    ([head.into_bytes(), z].concat(), len)
}

/// One exchange, bounded by [`HOSTILE_TIMEOUT`].
async fn exchange(addr: SocketAddr, raw: Vec<u8>) -> Response {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&raw).await;
        wr
    });
    let resp = tokio::time::timeout(HOSTILE_TIMEOUT, read_response(&mut rd))
        .await
        .expect("the request completes (it must not cost hours of CPU)")
        .expect("a complete HTTP response");
    drop(writer.await);
    resp
}

/// CPU seconds (user + system) the process has used, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    // USER_HZ is 100 on Linux.
    ticks / 100.0
}

/// The payloads of every envelope in the outbox, in arrival order.
fn outbox_payloads(outbox: &Path) -> Vec<Vec<Value>> {
    common::outbox_files(outbox)
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).expect("outbox file");
            let env = envelope::Envelope::parse(bytes.into()).expect("outbox envelope");
            env.items()
                .iter()
                .map(|i| serde_json::from_slice(i.payload()).expect("JSON payload"))
                .collect()
        })
        .collect()
}

async fn metric(admin: SocketAddr, sample: &str) -> u64 {
    metric_value(&metrics_at(admin).await, sample)
}

const PASSWORD_REDACTIONS: &str = "scrubproxy_redactions_total{rule=\"@password\"}";
const BUDGET_EXHAUSTED: &str = "scrubproxy_work_budget_exhausted_total";

/// The costly requests above, one after the other, against the release-like defaults: the
/// 163-byte request (`logger`), the same text as a request URL and as an SQL span's
/// description, then 100 such events in one request of 2 KB.
#[allow(clippy::print_stderr)] // prints the CPU figures docs/robustness.md records
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_1_requests_complete_and_cost_linear_work() {
    let dir = common::temp_dir("hostile-work");
    let outbox = dir.join("outbox");
    std::fs::create_dir_all(&outbox).expect("outbox");
    let proxy = BinProxy::start(
        &dir,
        "proxy",
        &[
            "--unattributed",
            "forward",
            "--outbox",
            outbox.to_str().expect("utf-8"),
        ],
        &[],
    );
    let text = passwords();
    let transaction = json!({"type": "transaction", "event_id": EVENT_ID,
        "transaction": "app.tasks.export", "transaction_info": {"source": "task"},
        "start_timestamp": 1.0, "timestamp": 2.0,
        "spans": [{"op": "db", "description": text, "span_id": "a1b2c3d4e5f60718",
                   "trace_id": "b20c65740ea54321a81618f4de9e1096",
                   "start_timestamp": 1.25, "timestamp": 1.75}]});
    let url =
        json!({"event_id": EVENT_ID, "level": "error", "request": {"method": "GET", "url": text}});
    let many: Vec<(&str, Value)> = (0..100).map(|_| ("event", event(&text))).collect();
    let cases: Vec<(&str, Vec<u8>, u64)> = vec![
        ("logger", envelope(&[("event", event(&text))]), 1),
        ("request.url", envelope(&[("event", url)]), 1),
        (
            "SQL span description",
            envelope(&[("transaction", transaction)]),
            1,
        ),
        ("100 events", envelope(&many), 100),
    ];
    let mut expected_redactions: u64 = 0;
    for (name, body, events) in cases {
        let (raw, zstd_len) = post_zstd(&body);
        assert!(zstd_len < 2100, "{name}: {zstd_len} bytes of zstd");
        let cpu_before = cpu_seconds(proxy.child.id());
        // A good envelope is answered while the hostile one is scrubbed.
        let hostile = tokio::spawn(exchange(proxy.listen, raw));
        let good = envelope(&[("event", event("app.views"))]);
        let (good_raw, _) = post_zstd(&good);
        let resp = exchange(proxy.listen, good_raw).await;
        assert_eq!(resp.status, 200, "{name}: the server still serves");
        let resp = hostile.await.expect("hostile request task");
        assert_eq!(
            (resp.status, resp.text()),
            (200, format!("{{\"id\":\"{EVENT_ID}\"}}")),
            "{name}"
        );
        let cpu = cpu_seconds(proxy.child.id()) - cpu_before;
        eprintln!(
            "{name}: {zstd_len} bytes of zstd, {} bytes of envelope, {cpu:.2} s of CPU (this build)",
            body.len()
        );
        expected_redactions += events;
        assert_eq!(
            proxy
                .wait_metric(PASSWORD_REDACTIONS, expected_redactions)
                .await,
            expected_redactions,
            "{name}: each event's secret counted once"
        );
    }
    // The outbox: the good envelopes and the hostile ones, each secret one placeholder.
    let all = outbox_payloads(&outbox);
    let hostile: Vec<&Vec<Value>> = all
        .iter()
        .filter(|items| items[0]["logger"] != "app.views")
        .collect();
    assert_eq!(all.len(), 8, "four good and four hostile envelopes");
    assert_eq!(hostile.len(), 4);
    assert_eq!(hostile[0][0]["logger"], "password=[secret]");
    assert_eq!(hostile[1][0]["request"]["url"], "password=[secret]");
    assert_eq!(
        hostile[2][0]["spans"][0]["description"],
        "password=[secret]"
    );
    assert_eq!(hostile[2][0]["spans"][0]["start_timestamp"], 1.25);
    assert_eq!(hostile[3].len(), 100);
    assert!(hostile[3]
        .iter()
        .all(|e| e["logger"] == "password=[secret]"));
    // Linear rules: the budget (64 units per byte) was not needed.
    assert_eq!(metric(proxy.admin, BUDGET_EXHAUSTED).await, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The in-process proxy of the other tests, with a work budget of `units` per request.
async fn proxy_with_budget(units: u64) -> TestProxy {
    let outbox = common::temp_dir("budget-outbox");
    let args = [
        "sentry-scrub-proxy",
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--unattributed",
        "forward",
        "--outbox",
        outbox.to_str().expect("utf-8"),
    ];
    let cli = proxy::config::cli::Cli::try_parse_from(args).expect("flags parse");
    let mut config = proxy::config::Config::try_from(cli.serve).expect("valid config");
    let policy = scrub::Policy::new(config.policy.config().clone())
        .expect("policy")
        .with_work_budget(scrub::WorkBudget {
            per_byte: 0,
            floor: units,
        });
    config.policy = Arc::new(policy);
    TestProxy::launch(config, outbox).await
}

/// Past its budget, a request's free text leaves as `[filtered]`, its structure as it
/// was, and it is counted once in `scrubproxy_work_budget_exhausted_total`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_budget_is_counted_and_its_free_text_filtered() {
    let proxy = proxy_with_budget(0).await;
    let ev = json!({"event_id": EVENT_ID, "level": "error", "logger": "app.views",
        "release": "1.4.2",
        "exception": {"values": [{"type": "ValueError", "value": "bad query from alice@example.com",
            "stacktrace": {"frames": [{"function": "search", "lineno": 12}]}}]}});
    let (raw, _) = post_zstd(&envelope(&[("event", ev)]));
    let resp = exchange(proxy.listen, raw).await;
    assert_eq!(resp.status, 200);
    assert_eq!(metric(proxy.admin, BUDGET_EXHAUSTED).await, 1);
    // release, the exception's type and value, the frame's function.
    assert_eq!(
        metric(proxy.admin, "scrubproxy_redactions_total{rule=\"@budget\"}").await,
        4
    );
    let out = outbox_payloads(&proxy.outbox);
    let e = &out[0][0];
    assert_eq!(e["logger"], "app.views", "judged before the budget ran out");
    assert_eq!(e["release"], scrub::FILTERED);
    assert_eq!(e["exception"]["values"][0]["value"], scrub::FILTERED);
    let frame = &e["exception"]["values"][0]["stacktrace"]["frames"][0];
    assert_eq!(
        (frame["function"].clone(), frame["lineno"].clone()),
        (json!(scrub::FILTERED), json!(12))
    );
    assert!(!serde_json::to_string(&out).unwrap().contains("alice"));
    // A request within its budget (a fresh proxy with room) is not counted.
    let roomy = proxy_with_budget(u64::MAX).await;
    let (raw, _) = post_zstd(&envelope(&[("event", event("app.views"))]));
    assert_eq!(exchange(roomy.listen, raw).await.status, 200);
    assert_eq!(metric(roomy.admin, BUDGET_EXHAUSTED).await, 0);
    proxy.stop().await;
    roomy.stop().await;
}
