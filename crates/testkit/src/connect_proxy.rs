//! A minimal HTTP CONNECT proxy, for testing the proxy's `HTTPS_PROXY` path.
//!
//! [`ConnectProxy::start`] listens on `127.0.0.1:0`, records every `CONNECT host:port`,
//! optionally requires a `Proxy-Authorization` value, and tunnels bytes both ways. It only
//! ever connects to loopback addresses and never looks names up: any other target gets
//! `403`, and
//! [`ConnectOptions::redirect_to`] sends every tunnel to one local address (so a proxy told
//! its upstream is `o1.ingest.example` still lands on the capture upstream).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use testkit::connect_proxy::{ConnectOptions, ConnectProxy};
//! let proxy = ConnectProxy::start(ConnectOptions::default());
//! assert!(proxy.url().starts_with("http://127.0.0.1:"));
//! assert_eq!(proxy.connect_count(), 0);
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::background::{wait_until, Background};

/// Request heads longer than this are refused.
const MAX_HEAD: usize = 16 * 1024;

/// How to start a [`ConnectProxy`].
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    /// If set, a CONNECT must carry exactly this `Proxy-Authorization` value (see
    /// [`basic_auth`]), or it gets `407`.
    pub require_auth: Option<String>,
    /// If set, every tunnel goes to this address, whatever the CONNECT target says.
    pub redirect_to: Option<SocketAddr>,
}

/// One CONNECT as the proxy saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectRequest {
    /// The `host:port` of the request line.
    pub target: String,
    /// The `Proxy-Authorization` header, if sent.
    pub proxy_authorization: Option<String>,
    /// The status answered: 200 tunnelled, 407 bad credentials, 403 a target that is not
    /// loopback, 400 a malformed target, 502 a target that refused the connection.
    pub status: u16,
}

/// A running CONNECT proxy; stopped on drop.
#[derive(Debug)]
pub struct ConnectProxy {
    background: Background,
    state: Arc<State>,
    addr: SocketAddr,
}

#[derive(Debug)]
struct State {
    options: ConnectOptions,
    connects: Mutex<Vec<ConnectRequest>>,
    accepted: AtomicUsize,
    changes: watch::Sender<u64>,
}

/// `Basic base64(user:password)`, the value for `Proxy-Authorization`.
pub fn basic_auth(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

// === impl ConnectProxy ===

impl ConnectProxy {
    /// Starts the proxy on `127.0.0.1:0`. Callable from sync code or from inside a runtime.
    pub fn start(options: ConnectOptions) -> Self {
        let background = Background::start("connect-proxy");
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("testkit: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("testkit: local_addr");
        listener
            .set_nonblocking(true)
            .expect("testkit: set_nonblocking");
        let listener = {
            let _entered = background.handle().enter();
            TcpListener::from_std(listener).expect("testkit: tokio listener")
        };
        let state = Arc::new(State {
            options,
            connects: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
            changes: watch::Sender::new(0),
        });
        background.spawn(serve(listener, state.clone()));
        Self {
            background,
            state,
            addr,
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:{port}`, the value for `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://{user}:{password}@127.0.0.1:{port}`.
    pub fn url_with_credentials(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}", self.addr)
    }

    /// Every CONNECT received so far, in order.
    pub fn connects(&self) -> Vec<ConnectRequest> {
        self.state.connects.lock().expect("testkit: lock").clone()
    }

    /// How many CONNECT requests were received (tunnelled or refused).
    pub fn connect_count(&self) -> usize {
        self.state.connects.lock().expect("testkit: lock").len()
    }

    /// TCP connections accepted so far.
    pub fn accepted_connections(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` CONNECTs were received and returns them all.
    ///
    /// # Panics
    /// If fewer than `n` arrived within `timeout`.
    pub async fn wait_for_connects(&self, n: usize, timeout: Duration) -> Vec<ConnectRequest> {
        let state = self.state.clone();
        let got = self
            .background
            .run(async move {
                wait_until(state.changes.subscribe(), timeout, || {
                    let connects = state.connects.lock().expect("testkit: lock");
                    (connects.len() >= n).then(|| connects.clone())
                })
                .await
            })
            .await;
        got.unwrap_or_else(|| {
            panic!(
                "testkit: expected {n} CONNECT(s) to {} within {timeout:?}, got {:?}",
                self.url(),
                self.connects()
            )
        })
    }
}

// === impl State ===

impl State {
    fn record(&self, request: ConnectRequest) {
        self.connects.lock().expect("testkit: lock").push(request);
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}

async fn serve(listener: TcpListener, state: Arc<State>) {
    while let Ok((tcp, _)) = listener.accept().await {
        state.accepted.fetch_add(1, Ordering::SeqCst);
        state.changes.send_modify(|n| *n = n.wrapping_add(1));
        tokio::spawn(handle(tcp, state.clone()));
    }
}

async fn handle(mut client: TcpStream, state: Arc<State>) {
    let Some((head, rest)) = read_head(&mut client).await else {
        return;
    };
    let Some((method, target, auth)) = parse_head(&head) else {
        let _ = respond(&mut client, 400, "Bad Request").await;
        return;
    };
    if method != "CONNECT" {
        let _ = respond(&mut client, 405, "Method Not Allowed").await;
        return;
    }
    let mut record = ConnectRequest {
        target: target.clone(),
        proxy_authorization: auth.clone(),
        status: 200,
    };
    if let Some(expected) = &state.options.require_auth {
        if auth.as_deref() != Some(expected.as_str()) {
            record.status = 407;
            state.record(record);
            let _ = client
                .write_all(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                      Proxy-Authenticate: Basic realm=\"testkit\"\r\n\
                      Content-Length: 0\r\n\r\n",
                )
                .await;
            return;
        }
    }
    let upstream = match loopback_target(&target, state.options.redirect_to) {
        Err(status) => Err(status),
        Ok(addr) => TcpStream::connect(addr).await.map_err(|_| 502),
    };
    let mut upstream = match upstream {
        Ok(upstream) => upstream,
        Err(status) => {
            record.status = status;
            state.record(record);
            let _ = respond(&mut client, status, "Refused").await;
            return;
        }
    };
    state.record(record);
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    // A client may send its first bytes (a TLS ClientHello) without waiting for the 200.
    if !rest.is_empty() && upstream.write_all(&rest).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// Reads up to the blank line; returns the head and any bytes read past it.
async fn read_head(client: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `CONNECT host:port HTTP/1.1` plus headers → (method, target, Proxy-Authorization).
fn parse_head(head: &str) -> Option<(String, String, Option<String>)> {
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split_whitespace();
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let auth = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, value)| value.trim().to_owned());
    Some((method, target, auth))
}

/// Maps `target` to a loopback address without any DNS lookup: this proxy must never reach
/// out. IP literals must be loopback, `localhost` means `127.0.0.1`, other names get `403`.
fn loopback_target(target: &str, redirect: Option<SocketAddr>) -> Result<SocketAddr, u16> {
    if let Some(addr) = redirect {
        return Ok(addr);
    }
    if let Ok(addr) = target.parse::<SocketAddr>() {
        return if addr.ip().is_loopback() {
            Ok(addr)
        } else {
            Err(403)
        };
    }
    match target.rsplit_once(':') {
        Some((host, port)) if host.eq_ignore_ascii_case("localhost") => port
            .parse::<u16>()
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
            .map_err(|_| 400),
        _ => Err(403),
    }
}

async fn respond(client: &mut TcpStream, status: u16, reason: &str) -> std::io::Result<()> {
    let head = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n\r\n");
    client.write_all(head.as_bytes()).await
}

#[cfg(test)]
mod tests;
