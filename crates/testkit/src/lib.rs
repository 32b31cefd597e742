//! Test helpers for the proxy's egress tests: a local CA, an HTTPS capture upstream, a
//! CONNECT proxy, a small client and canary envelopes.
//!
//! The real upstream (Sentry's ingest) cannot be reached from a test, so [`upstream`]
//! stands in for it on `127.0.0.1`, presenting a certificate from [`ca`]. Servers run on
//! their own thread and runtime, so they work from sync and async tests alike and keep
//! running under `tokio::time::pause()`; each stops when its handle is dropped.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::time::Duration;
//! use testkit::upstream::{CaptureUpstream, Options, Tls};
//!
//! let ca = testkit::ca::TestCa::new();
//! let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
//! let envelope = testkit::canary::event_envelope("9ec79c33ec9942ab8353589fcb2e04dc", None, None);
//! // Here the proxy under test would get `--upstream-ca` (ca.write_pem) and
//! // upstream.dsn(key, "42"), and receive `envelope` from a fake SDK.
//! # let tls = Some((ca.client_config(), "localhost"));
//! # testkit::client::post(upstream.addr(), tls, "/api/42/envelope/", &[], envelope).await.unwrap();
//! let sent = upstream.wait_for(1, Duration::from_secs(10)).await;
//! assert_eq!(sent[0].event_id().as_deref(), Some("9ec79c33ec9942ab8353589fcb2e04dc"));
//! # }
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod background;
pub mod ca;
pub mod canary;
pub mod client;
pub mod connect_proxy;
mod tempdir;
pub mod upstream;

use std::sync::Arc;

pub use tempdir::TempDir;

/// The one crypto provider used here (ring), passed explicitly so that no process-wide
/// default needs installing.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
