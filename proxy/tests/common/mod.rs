//! Shared helpers for the proxy's integration tests: an in-process proxy on 127.0.0.1:0,
//! a raw HTTP/1.1 client (so malformed and slow requests are possible) and `/metrics` reads.
//!
//! Each test starts its own proxy, so every counter starts at zero and tests never share state.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Parser;
use proxy::cli::Cli;
use proxy::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A generous bound for one exchange: only there so a hung server fails the test instead of
/// hanging it. Never used to assert how long something took.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Flags every test proxy gets, before its own.
const BASE_ARGS: &[&str] = &[
    "--listen",
    "127.0.0.1:0",
    "--admin-listen",
    "127.0.0.1:0",
    "--unattributed",
    "forward",
];

/// Small limits, so size cases need small bodies.
pub const SMALL_LIMITS: &[&str] = &[
    "--max-body-size",
    "64KiB",
    "--max-envelope-size",
    "256KiB",
    "--max-event-size",
    "16KiB",
    "--body-read-timeout",
    "1s",
    "--header-read-timeout",
    "1s",
];

/// A proxy running in-process on this test's runtime.
pub struct TestProxy {
    /// The SDK listener.
    pub listen: SocketAddr,
    /// The admin listener (`/metrics`).
    pub admin: SocketAddr,
    /// The dry-run outbox folder.
    pub outbox: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestProxy {
    /// Starts a proxy with [`SMALL_LIMITS`] and `extra` flags, writing to a fresh outbox.
    pub async fn start(extra: &[&str]) -> TestProxy {
        let outbox = temp_dir("outbox");
        let outbox_arg = outbox.to_str().expect("utf-8 temp path").to_owned();
        let mut args: Vec<&str> = vec!["sentry-scrub-proxy"];
        args.extend_from_slice(BASE_ARGS);
        args.extend_from_slice(&["--outbox", &outbox_arg]);
        args.extend_from_slice(SMALL_LIMITS);
        args.extend_from_slice(extra);
        let cli = Cli::try_parse_from(&args).expect("test flags parse");
        assert!(cli.command.is_none(), "test proxies serve");
        let config = Config::try_from(cli.serve).expect("test config is valid");
        let (listener, admin) = proxy::bind(&config).await.expect("bind 127.0.0.1:0");
        let listen = listener.local_addr().expect("listen address");
        let admin_addr = admin.local_addr().expect("admin address");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(proxy::run(config, listener, admin, async move {
            let _ = rx.await;
        }));
        TestProxy {
            listen,
            admin: admin_addr,
            outbox,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the proxy, waits for it to drain and removes the outbox.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let res = tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("proxy stops")
                .expect("proxy task did not panic");
            res.expect("proxy ran without error");
        }
        let _ = std::fs::remove_dir_all(&self.outbox);
    }

    /// Sends raw bytes to the SDK listener and reads one response.
    pub async fn send(&self, raw: Vec<u8>) -> Response {
        exchange(self.listen, raw).await
    }

    /// The admin `/metrics` text.
    pub async fn metrics(&self) -> String {
        let resp = exchange(
            self.admin,
            request("GET", "/metrics", &[], b"").to_vec_no_length(),
        )
        .await;
        assert_eq!(resp.status, 200, "/metrics answers");
        resp.text()
    }

    /// The value of one sample, e.g. `scrubproxy_requests_rejected_total{reason="x"}`;
    /// 0 when absent.
    pub async fn metric(&self, sample: &str) -> u64 {
        metric_value(&self.metrics().await, sample)
    }

    /// `scrubproxy_requests_rejected_total{reason="…"}`.
    pub async fn rejected(&self, reason: &str) -> u64 {
        self.metric(&format!(
            "scrubproxy_requests_rejected_total{{reason=\"{reason}\"}}"
        ))
        .await
    }

    /// Finished envelope files in the outbox (temporary files excluded), sorted by name,
    /// which is arrival order.
    pub fn outbox_files(&self) -> Vec<PathBuf> {
        outbox_files(&self.outbox)
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        // A test that failed before `stop` still tells the proxy to go away.
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if self.task.is_some() {
            let _ = std::fs::remove_dir_all(&self.outbox);
        }
    }
}

/// A fresh, empty folder under Cargo's per-target temporary directory.
pub fn temp_dir(what: &str) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("proxy-tests-{}-{what}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Finished `.envelope` files in `dir`, sorted by name.
pub fn outbox_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read outbox")
        .map(|e| e.expect("outbox entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.') && n.ends_with(".envelope"))
        })
        .collect();
    files.sort();
    files
}

/// Reads one sample's value from Prometheus text; 0 when the sample is absent.
pub fn metric_value(text: &str, sample: &str) -> u64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == sample).then(|| value.parse().expect("numeric sample"))
        })
        .unwrap_or(0)
}

// === raw HTTP/1.1 ===

/// A request to serialize by hand.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method, e.g. `POST`.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Extra header lines.
    pub headers: Vec<(String, String)>,
    /// The body, sent as is.
    pub body: Vec<u8>,
}

/// A request with `Host` and `Connection: close`; headers as given.
pub fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
    Request {
        method: method.to_owned(),
        target: target.to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.to_vec(),
    }
}

impl Request {
    /// The request bytes with a `Content-Length` matching the body.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = self.head(Some(self.body.len()));
        out.extend_from_slice(&self.body);
        out
    }

    /// The request bytes without `Content-Length` (for GETs).
    pub fn to_vec_no_length(&self) -> Vec<u8> {
        let mut out = self.head(None);
        out.extend_from_slice(&self.body);
        out
    }

    /// The head alone, announcing `content_length` body bytes.
    pub fn head(&self, content_length: Option<usize>) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.len());
        out.extend_from_slice(
            format!(
                "{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                self.method, self.target
            )
            .as_bytes(),
        );
        out.extend_from_slice(b"Connection: close\r\n");
        for (k, v) in &self.headers {
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        if let Some(n) = content_length {
            out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 response body")
    }

    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Writes `raw` on a new connection (in a task, so an early answer is read even when the
/// server stops reading) and reads one response.
pub async fn exchange(addr: SocketAddr, raw: Vec<u8>) -> Response {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    // The write half stays open until the response is read: without half-close support the
    // server would take our FIN for an aborted request.
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&raw).await;
        wr
    });
    let resp = tokio::time::timeout(TEST_TIMEOUT, read_response(&mut rd))
        .await
        .expect("response within the test timeout")
        .expect("a complete HTTP response");
    drop(writer.await);
    resp
}

/// Reads one response: head, then `Content-Length` bytes (or to EOF without it).
pub async fn read_response<R: AsyncReadExt + Unpin>(rd: &mut R) -> std::io::Result<Response> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        let n = rd.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "connection closed before a full response head ({} bytes)",
                    buf.len()
                ),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).expect("ASCII response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf[head_end + 4..].to_vec();
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse::<usize>().expect("numeric content-length"));
    match length {
        Some(len) => {
            while body.len() < len {
                let n = rd.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "connection closed inside the response body",
                    ));
                }
                body.extend_from_slice(&chunk[..n]);
            }
            body.truncate(len);
        }
        None => {
            rd.read_to_end(&mut body).await?;
        }
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
