//! A local stand-in for the upstream Sentry ingest that records what it is sent.
//!
//! [`CaptureUpstream::start`] listens on `127.0.0.1:0` on a runtime of its own (so a test's
//! `tokio::time::pause()` does not stop it), accepts `POST /api/{project}/envelope/`, records
//! every request as a [`Captured`] (body decoded per `Content-Encoding`) and answers as the
//! current [`Mode`] says. [`Tls`] picks the certificate it presents, or plain HTTP, or a
//! TLS 1.1-only `openssl s_server`. Dropping the handle stops the server.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::time::Duration;
//! use testkit::upstream::{CaptureUpstream, Options, Tls};
//!
//! let ca = testkit::ca::TestCa::new();
//! let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
//! let reply = testkit::client::post(
//!     upstream.addr(),
//!     Some((ca.client_config(), "127.0.0.1")),
//!     "/api/42/envelope/",
//!     &[("content-type", "application/x-sentry-envelope")],
//!     b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n".to_vec(),
//! )
//! .await
//! .unwrap();
//! assert_eq!(reply.status, 200);
//! let got = upstream.wait_for(1, Duration::from_secs(10)).await;
//! assert_eq!(got[0].project(), Some("42"));
//! # }
//! ```

mod captured;
mod decode;
mod server;
pub mod tls11;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::background::{wait_until, Background};
use crate::ca::TestCa;

pub use self::captured::Captured;
pub use self::decode::decode;
use self::server::State;
use self::tls11::OpensslServer;

/// What the upstream answers to `POST /api/{project}/envelope/`. Changeable at runtime with
/// [`CaptureUpstream::set_mode`]; every request is recorded whatever the mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `200` with `{"id": "<event_id>"}` (the envelope header's `event_id`, or `{}`).
    Ok,
    /// This status (e.g. 400, 413, 500, 502, 503) with a small JSON body.
    Fail(u16),
    /// `429` with `Retry-After: {retry_after}` and `X-Sentry-Rate-Limits: {header}`.
    RateLimit {
        /// Seconds, sent as `Retry-After`.
        retry_after: u64,
        /// Sent as `X-Sentry-Rate-Limits`, e.g. `60:error;transaction:org`.
        header: String,
    },
    /// Read the whole request, then never answer (until the upstream is dropped).
    Stall,
    /// Read the whole request, then close the connection without answering.
    Drop,
    /// Answer the next `n` requests with `status`, then behave as [`Mode::Ok`].
    FailTimes(u32, u16),
    /// `415` to bodies with this `Content-Encoding` (what an ingest without that decoder
    /// answers), [`Mode::Ok`] to the others.
    RefuseEncoding(String),
    /// This status to bodies with this `Content-Encoding`, [`Mode::Ok`] to the others: `400`
    /// is what Bugsink answers to zstd, which it cannot decode.
    RefuseEncodingWith(String, u16),
}

/// The certificate the upstream presents, or none.
#[derive(Clone, Copy, Debug)]
pub enum Tls<'a> {
    /// A certificate for `127.0.0.1` and `localhost` signed by this CA.
    Trusted(&'a TestCa),
    /// Like `Trusted`, but expired in 2001.
    Expired(&'a TestCa),
    /// A self-signed certificate for `127.0.0.1` and `localhost`.
    Untrusted,
    /// Plain HTTP (the proxy needs its insecure-upstream flag).
    None,
    /// `openssl s_server` speaking only TLS 1.1, with a certificate from this CA, so that the
    /// protocol version is the only reason for a failed handshake. Nothing is recorded: no
    /// TLS 1.2+ client gets past the handshake. Needs the `openssl` command.
    Tls11Only(&'a TestCa),
}

/// How to start a [`CaptureUpstream`].
#[derive(Clone, Debug)]
pub struct Options<'a> {
    /// The certificate to present, or plain HTTP.
    pub tls: Tls<'a>,
    /// The first [`Mode`].
    pub mode: Mode,
}

/// A running capture server; stopped on drop.
#[derive(Debug)]
pub struct CaptureUpstream {
    // Dropped first: stops accepting before the openssl child goes away.
    background: Background,
    state: Arc<State>,
    addr: SocketAddr,
    scheme: &'static str,
    _openssl: Option<OpensslServer>,
}

// === impl Options ===

impl<'a> Options<'a> {
    /// `tls`, starting in [`Mode::Ok`].
    pub fn new(tls: Tls<'a>) -> Self {
        Self {
            tls,
            mode: Mode::Ok,
        }
    }

    /// Starts in `mode` instead of [`Mode::Ok`].
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
}

// === impl CaptureUpstream ===

impl CaptureUpstream {
    /// The names in the server certificate's SANs.
    pub const NAMES: [&'static str; 2] = ["127.0.0.1", "localhost"];

    /// Starts the server on `127.0.0.1:0`. Callable from sync code or from inside a runtime.
    ///
    /// # Panics
    /// If the port cannot be bound, or (for [`Tls::Tls11Only`]) `openssl s_server` cannot start.
    pub fn start(options: Options<'_>) -> Self {
        let background = Background::start("upstream");
        let state = State::new(options.mode);
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("testkit: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("testkit: local_addr");
        listener
            .set_nonblocking(true)
            .expect("testkit: set_nonblocking");
        let listener = {
            let _entered = background.handle().enter();
            tokio::net::TcpListener::from_std(listener).expect("testkit: tokio listener")
        };
        let names = Self::NAMES;
        let (scheme, openssl) = match options.tls {
            Tls::None => {
                background.spawn(server::serve(listener, None, state.clone()));
                ("http", None)
            }
            Tls::Trusted(ca) => {
                let tls = server::tls_config(&ca.issue(&names));
                background.spawn(server::serve(listener, Some(tls), state.clone()));
                ("https", None)
            }
            Tls::Expired(ca) => {
                let tls = server::tls_config(&ca.issue_expired(&names));
                background.spawn(server::serve(listener, Some(tls), state.clone()));
                ("https", None)
            }
            Tls::Untrusted => {
                let tls = server::tls_config(&crate::ca::untrusted(&names));
                background.spawn(server::serve(listener, Some(tls), state.clone()));
                ("https", None)
            }
            Tls::Tls11Only(ca) => {
                let openssl = OpensslServer::start(&ca.issue(&names))
                    .expect("testkit: starting `openssl s_server -tls1_1`");
                background.spawn(server::relay(listener, openssl.addr(), state.clone()));
                ("https", Some(openssl))
            }
        };
        Self {
            background,
            state,
            addr,
            scheme,
            _openssl: openssl,
        }
    }

    /// The listening address, `127.0.0.1:{port}`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:{port}` (`http://` for [`Tls::None`]), no trailing slash.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// A DSN pointing here: `https://{key}@127.0.0.1:{port}/{project}`.
    pub fn dsn(&self, key: &str, project: &str) -> String {
        format!("{}://{key}@{}/{project}", self.scheme, self.addr)
    }

    /// The envelope endpoint's URL for `project`.
    pub fn envelope_url(&self, project: &str) -> String {
        format!("{}/api/{project}/envelope/", self.url())
    }

    /// Changes how the next requests are answered.
    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().expect("testkit: mode lock") = mode;
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Captured> {
        self.state.captured()
    }

    /// Forgets the requests received so far.
    pub fn clear(&self) {
        self.state.clear();
    }

    /// TCP connections accepted so far, whether or not TLS or HTTP then succeeded.
    pub fn accepted_connections(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// TLS handshakes that failed on the server side (e.g. the client refused the certificate).
    pub fn failed_handshakes(&self) -> usize {
        self.state.failed_handshakes.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` requests were received and returns all of them.
    ///
    /// The timeout runs on the upstream's own clock, so it holds under `tokio::time::pause()`.
    ///
    /// # Panics
    /// If fewer than `n` arrived within `timeout`, listing what did arrive.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Captured> {
        let state = self.state.clone();
        let got = self
            .background
            .run(async move {
                let changes = state.changes.subscribe();
                wait_until(changes, timeout, || state.at_least(n)).await
            })
            .await;
        got.unwrap_or_else(|| self.timed_out(n, timeout))
    }

    /// [`CaptureUpstream::wait_for`] for synchronous tests. Blocks the calling thread: do not
    /// call it from inside an async task.
    pub fn wait_for_blocking(&self, n: usize, timeout: Duration) -> Vec<Captured> {
        let state = self.state.clone();
        let got = self.background.block_on(async move {
            let changes = state.changes.subscribe();
            wait_until(changes, timeout, || state.at_least(n)).await
        });
        got.unwrap_or_else(|| self.timed_out(n, timeout))
    }

    /// Waits until at least `n` TCP connections were accepted; returns the count.
    ///
    /// # Panics
    /// If fewer than `n` were accepted within `timeout`.
    pub async fn wait_for_connections(&self, n: usize, timeout: Duration) -> usize {
        let state = self.state.clone();
        let got = self
            .background
            .run(async move {
                let changes = state.changes.subscribe();
                wait_until(changes, timeout, || {
                    let count = state.accepted.load(Ordering::SeqCst);
                    (count >= n).then_some(count)
                })
                .await
            })
            .await;
        got.unwrap_or_else(|| {
            panic!(
                "testkit: expected {n} connection(s) to {} within {timeout:?}, got {}",
                self.url(),
                self.accepted_connections()
            )
        })
    }

    fn timed_out(&self, n: usize, timeout: Duration) -> ! {
        let got = self.requests();
        let seen: Vec<String> = got
            .iter()
            .map(|c| format!("{} {}", c.method, c.path))
            .collect();
        panic!(
            "testkit: expected {n} request(s) at {} within {timeout:?}, got {} {seen:?} \
             ({} connection(s) accepted, {} failed handshake(s))",
            self.url(),
            got.len(),
            self.accepted_connections(),
            self.failed_handshakes(),
        )
    }
}

#[cfg(test)]
mod tests;
