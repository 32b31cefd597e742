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
use proxy::config::cli::Cli;
use proxy::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A generous bound for one exchange: only there so a hung server fails the test instead of
/// hanging it. Never used to assert how long something took.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The capture upstream listens on loopback and stands in for an EU ingest: the tests name
/// it with `--eu-upstream-hosts`, as the operator of a self-hosted EU Sentry names theirs.
/// Loopback is not exempt from the EU residency guard in the product.
pub const LOCAL_UPSTREAM: &[&str] = &["--eu-upstream-hosts", "127.0.0.1,localhost"];

/// Flags every test proxy gets, before its own.
const BASE_ARGS: &[&str] = &[
    "--listen",
    "127.0.0.1:0",
    "--admin-listen",
    "127.0.0.1:0",
    "--unattributed",
    "forward",
    "--eu-upstream-hosts",
    "127.0.0.1,localhost",
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
        TestProxy::launch(config, outbox).await
    }

    /// Binds 127.0.0.1 listeners for a validated config and runs the proxy in-process.
    pub async fn launch(config: Config, outbox: PathBuf) -> TestProxy {
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

// === egress: proxies with a real upstream ===

/// The consent document of the egress tests: telemetry on, company 7 consented (no IDs).
pub const CONSENT_COMPANY_7: &str = r#"{"telemetry_enabled": true, "companies": {"7": {"telemetry_enabled": true, "telemetry_ids_allowed": false}}}"#;

/// Writes `doc` as `consent.json` in `dir` and returns its path as a string.
pub fn write_consent(dir: &Path, doc: &str) -> String {
    let path = dir.join("consent.json");
    std::fs::write(&path, doc).expect("write consent file");
    path.to_str().expect("utf-8 temp path").to_owned()
}

/// Short retry steps (10 ms doubling to 200 ms), so a test recovers quickly from a failing
/// upstream. Only for configs with an upstream.
pub fn fast_retries(config: &mut Config) {
    if let proxy::config::Output::Upstream(up) = &mut config.output {
        up.settings.backoff_base = Duration::from_millis(10);
        up.settings.backoff_max = Duration::from_millis(200);
    }
}

impl TestProxy {
    /// Starts a proxy with [`BASE_ARGS`] and `extra` only (no outbox, no small limits: give it
    /// `--upstream-dsn` and a consent source), after `tweak` edited the validated config (for
    /// settings without a flag, such as the backoff steps).
    pub async fn start_config(extra: &[&str], tweak: impl FnOnce(&mut Config)) -> TestProxy {
        let mut args: Vec<&str> = vec!["sentry-scrub-proxy"];
        args.extend_from_slice(BASE_ARGS);
        args.extend_from_slice(extra);
        let cli = Cli::try_parse_from(&args).expect("test flags parse");
        assert!(cli.command.is_none(), "test proxies serve");
        let mut config = Config::try_from(cli.serve).expect("test config is valid");
        tweak(&mut config);
        // Unused without a dry run; an empty folder keeps `stop` uniform.
        TestProxy::launch(config, temp_dir("unused-outbox")).await
    }

    /// Polls `/metrics` until `sample` reaches at least `at_least`; returns its value.
    /// Panics after [`WAIT_TIMEOUT`].
    pub async fn wait_metric(&self, sample: &str, at_least: u64) -> u64 {
        wait_metric(self.admin, sample, at_least).await
    }

    /// A GET on the admin listener with optional extra headers.
    pub async fn admin_get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        exchange(
            self.admin,
            request("GET", path, headers, b"").to_vec_no_length(),
        )
        .await
    }
}

/// A bound for conditions the tests poll for (deliveries, counters): only a failure bound.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(20);

/// `/metrics` of the admin listener at `admin`.
pub async fn metrics_at(admin: SocketAddr) -> String {
    let resp = exchange(
        admin,
        request("GET", "/metrics", &[], b"").to_vec_no_length(),
    )
    .await;
    assert_eq!(resp.status, 200, "/metrics answers");
    resp.text()
}

/// How often [`assert_eventually`] polls.
pub const POLL_EVERY: Duration = Duration::from_millis(20);

/// Polls `probe` every [`POLL_EVERY`] until it gives `Ok`, and returns that value; once
/// `within` has passed, fails the test with the last `Err`, which says what was still wrong
/// (the state the test waited on, not just "timed out"). The one poll-until-deadline loop of
/// the tests: nothing asserts wall-clock time, only that a state is reached.
pub async fn assert_eventually<T>(
    within: Duration,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(why) => assert!(
                tokio::time::Instant::now() < deadline,
                "not within {within:?}: {why}"
            ),
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Polls `/metrics` at `admin` until `sample` reaches `at_least`; returns its value.
pub async fn wait_metric(admin: SocketAddr, sample: &str, at_least: u64) -> u64 {
    assert_eventually(WAIT_TIMEOUT, async || {
        let text = metrics_at(admin).await;
        let v = metric_value(&text, sample);
        match v >= at_least {
            true => Ok(v),
            false => Err(format!("{sample} stayed at {v} (< {at_least}):\n{text}")),
        }
    })
    .await
}

/// `X-Sentry-Auth` as sentry-python 2.75.0 sends it, for `key`.
pub fn sdk_auth(key: &str) -> String {
    format!("Sentry sentry_key={key}, sentry_version=7, sentry_client=sentry.python/2.75.0")
}

/// A POST of `body` to `/api/{project}/envelope/` with the SDK's auth for `key`.
pub fn envelope_request(key: &str, project: &str, body: &[u8]) -> Vec<u8> {
    let auth = sdk_auth(key);
    request(
        "POST",
        &format!("/api/{project}/envelope/"),
        &[
            ("X-Sentry-Auth", auth.as_str()),
            ("Content-Type", "application/x-sentry-envelope"),
        ],
        body,
    )
    .to_vec()
}

/// The `n`-th test event id (32 hex digits).
pub fn event_id(n: usize) -> String {
    format!("{:032x}", 0x0e9e_0000_0000_u64 + n as u64)
}

/// A transaction envelope of company 7, canary-free.
pub fn transaction_envelope(event_id: &str) -> Vec<u8> {
    let payload = serde_json::json!({
        "event_id": event_id,
        "type": "transaction",
        "platform": "python",
        "transaction": "/api/health/",
        "transaction_info": {"source": "route"},
        "start_timestamp": "2025-01-15T10:32:07.000000Z",
        "timestamp": "2025-01-15T10:32:07.120000Z",
        "tags": {"company_id": "7"},
        "contexts": {"trace": {
            "trace_id": testkit::canary::trace_id_of(event_id),
            "span_id": "8d2f7c4a1b3e5f60",
            "op": "http.server",
            "status": "ok",
        }},
        "spans": [],
    })
    .to_string();
    format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"transaction\",\"length\":{}}}\n{payload}\n",
        payload.len()
    )
    .into_bytes()
}

// === the real binary ===

/// The proxy binary, started with `--ready-file`, its stderr in a file; killed (by its own
/// PID) on drop if still running.
pub struct BinProxy {
    /// The child.
    pub child: std::process::Child,
    /// The SDK listener.
    pub listen: SocketAddr,
    /// The admin listener.
    pub admin: SocketAddr,
    /// Where stderr goes.
    pub log_path: PathBuf,
}

impl BinProxy {
    /// Starts the binary with `--listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --ready-file …`,
    /// then `args`; `env` is added to an environment cleared of `SENTRY_PROXY_*` and proxy
    /// variables. Waits until the ready file appears.
    pub fn start(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> BinProxy {
        BinProxy::launch(dir, name, &[], args, env, false)
    }

    /// Like [`BinProxy::start`], run through `wrapper` (e.g. `prlimit --nofile=1024:1024 --`),
    /// which must exec the binary in place so that the PID is the proxy's.
    pub fn start_under(
        dir: &Path,
        name: &str,
        wrapper: &[&str],
        args: &[&str],
        env: &[(&str, &str)],
    ) -> BinProxy {
        BinProxy::launch(dir, name, wrapper, args, env, false)
    }

    /// Like [`BinProxy::start`], but stderr goes through a pipe that a thread of the test
    /// copies to the log file: for a proxy whose own file writes are made to fail (a file
    /// size limit would cut its log file too).
    pub fn start_piped(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> BinProxy {
        BinProxy::launch(dir, name, &[], args, env, true)
    }

    // Reads the environment only to clear the proxy's own variables from the child's.
    #[allow(clippy::disallowed_methods)]
    fn launch(
        dir: &Path,
        name: &str,
        wrapper: &[&str],
        args: &[&str],
        env: &[(&str, &str)],
        piped: bool,
    ) -> BinProxy {
        let ready = dir.join(format!("{name}.ready.json"));
        let _ = std::fs::remove_file(&ready);
        let log_path = dir.join(format!("{name}.stderr.log"));
        let log = std::fs::File::create(&log_path).expect("create log file");
        let bin = env!("CARGO_BIN_EXE_sentry-scrub-proxy");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = std::process::Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => std::process::Command::new(bin),
        };
        cmd.args([
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--ready-file",
        ])
        .arg(&ready)
        .args(LOCAL_UPSTREAM)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
        if piped {
            cmd.stderr(std::process::Stdio::piped());
        } else {
            cmd.stderr(log.try_clone().expect("log file handle"));
        }
        for (k, _) in std::env::vars() {
            let upper = k.to_ascii_uppercase();
            if upper.starts_with("SENTRY_PROXY_")
                || upper == "HTTPS_PROXY"
                || upper == "HTTP_PROXY"
                || upper == "NO_PROXY"
                || upper == "ALL_PROXY"
            {
                cmd.env_remove(&k);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn the proxy binary");
        if let Some(mut err) = child.stderr.take() {
            let mut log = log;
            // Ends when the child's stderr closes (it exits or is killed).
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut err, &mut log);
            });
        }
        let deadline = std::time::Instant::now() + WAIT_TIMEOUT;
        let addrs = loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                    break v;
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the proxy exited with {status} before it was ready:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the proxy was not ready within {WAIT_TIMEOUT:?}:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let addr = |k: &str| -> SocketAddr {
            addrs[k]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("address in the ready file")
        };
        BinProxy {
            listen: addr("listen"),
            admin: addr("admin"),
            child,
            log_path,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (to this child only) and waits for it to exit; returns its exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {}", self.pid());
        self.wait_exit()
    }

    /// Sends SIGTERM (to this child only) without waiting.
    pub fn signal_term(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {}", self.pid());
    }

    /// Like [`BinProxy::wait_exit`], sleeping on the async runtime between polls.
    pub async fn wait_exit_async(&mut self) -> Option<i32> {
        let deadline = tokio::time::Instant::now() + WAIT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            if tokio::time::Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the proxy did not exit within {WAIT_TIMEOUT:?}:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits (polling, up to [`WAIT_TIMEOUT`]) for the child to exit; returns its code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let deadline = std::time::Instant::now() + WAIT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the proxy did not exit within {WAIT_TIMEOUT:?}:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL (`kill -9`) of this child, then reaps it.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill -9 the proxy");
        let _ = self.child.wait();
    }

    /// What the binary wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `/metrics`.
    pub async fn metrics(&self) -> String {
        metrics_at(self.admin).await
    }

    /// Polls `/metrics` until `sample` reaches `at_least`.
    pub async fn wait_metric(&self, sample: &str, at_least: u64) -> u64 {
        wait_metric(self.admin, sample, at_least).await
    }

    /// Sends raw bytes to the SDK listener and reads one response.
    pub async fn send(&self, raw: Vec<u8>) -> Response {
        exchange(self.listen, raw).await
    }
}

impl Drop for BinProxy {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// === proxies with a real upstream (consent tests) ===

impl TestProxy {
    /// Starts a proxy with `--listen`/`--admin-listen` on 127.0.0.1:0 and exactly `args`
    /// otherwise: no outbox, no small limits, no `--unattributed` default. For tests that
    /// give it an upstream (`--upstream-dsn`) and a consent source.
    pub async fn start_bare(args: &[&str]) -> TestProxy {
        let mut all: Vec<&str> = vec![
            "sentry-scrub-proxy",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ];
        all.extend_from_slice(LOCAL_UPSTREAM);
        all.extend_from_slice(args);
        let cli = Cli::try_parse_from(&all).expect("test flags parse");
        assert!(cli.command.is_none(), "test proxies serve");
        let config = Config::try_from(cli.serve).expect("test config is valid");
        // Unused without an outbox; an empty folder keeps `stop` and `Drop` uniform.
        TestProxy::launch(config, temp_dir("bare")).await
    }

    /// One request to the admin listener, e.g. `admin("POST", "/consent/refresh", &[…])`.
    pub async fn admin(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        let req = request(method, path, headers, b"");
        let raw = if method == "GET" {
            req.to_vec_no_length()
        } else {
            req.to_vec()
        };
        exchange(self.admin, raw).await
    }
}

/// Like [`exchange`], but a refused or cut connection is an error instead of a panic (for
/// requests racing a shutdown).
pub async fn try_exchange(addr: SocketAddr, raw: Vec<u8>) -> std::io::Result<Response> {
    let stream = TcpStream::connect(addr).await?;
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&raw).await;
        wr
    });
    let resp = tokio::time::timeout(TEST_TIMEOUT, read_response(&mut rd))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no response in time"))?;
    drop(writer.await);
    resp
}

/// Requests the upstream answered 2xx.
pub fn delivered(
    upstream: &testkit::upstream::CaptureUpstream,
) -> Vec<testkit::upstream::Captured> {
    upstream
        .requests()
        .into_iter()
        .filter(|c| c.status.is_some_and(|s| (200..300).contains(&s)))
        .collect()
}

/// Waits until the upstream answered 2xx to at least `n` requests; returns them.
pub async fn wait_delivered(
    upstream: &testkit::upstream::CaptureUpstream,
    n: usize,
) -> Vec<testkit::upstream::Captured> {
    assert_eventually(WAIT_TIMEOUT, async || {
        let got = delivered(upstream);
        if got.len() >= n {
            return Ok(got);
        }
        let all: Vec<_> = (upstream.requests().iter())
            .map(|c| (c.event_id(), c.status))
            .collect();
        Err(format!(
            "expected {n} delivered envelope(s), got {}; all requests: {all:?}",
            got.len()
        ))
    })
    .await
}

/// A work folder holding the test CA's PEM and a consent file (company 7 consented);
/// removed on drop. What every proxy with a real upstream needs.
pub struct CaFiles {
    /// The folder.
    pub dir: PathBuf,
    /// Path of the CA's PEM (`--upstream-ca`).
    pub ca_pem: String,
    /// Path of the consent file (`--consent-file`).
    pub consent: String,
}

impl CaFiles {
    /// Writes both files into a fresh folder named after `name`.
    pub fn new(ca: &testkit::ca::TestCa, name: &str) -> CaFiles {
        let dir = temp_dir(name);
        let ca_pem = ca
            .write_pem(&dir)
            .expect("write CA")
            .to_str()
            .expect("utf-8")
            .to_owned();
        let consent = write_consent(&dir, CONSENT_COMPANY_7);
        CaFiles {
            dir,
            ca_pem,
            consent,
        }
    }
}

impl Drop for CaFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
