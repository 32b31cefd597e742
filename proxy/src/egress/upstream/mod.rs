//! The way out: everything that talks to, or listens to, the one upstream host. What it is
//! asked to do is decided elsewhere (the senders in `sender.rs`); this folder knows HTTP,
//! TLS and what an answer means.
//!
//! Enters: a scrubbed envelope's bytes, its DSN and the SDK's client name (from a sender).
//! Leaves: one HTTPS request to the upstream, and back to the sender an [`client::Answer`]
//! or a [`client::SendError`], classified by [`answer::classify`] into an
//! [`answer::Outcome`] that says whether to send again; the rate limits the upstream
//! announced, recorded in [`ratelimit::RateLimits`] and read before every send.
//!
//! | File | What |
//! |---|---|
//! | `client.rs` | the HTTPS client: compression, `X-Sentry-Auth`, transport error classes |
//! | `connector.rs` | the one-host connector and the CONNECT tunnel |
//! | `tls.rs` | rustls, TLS 1.2+, roots, private CA |
//! | `answer.rs` | the answer classifier: what a status and its headers mean, clamped; retryable or not |
//! | `ratelimit.rs` | `X-Sentry-Rate-Limits` parsing (clamped, known categories) and the per-category table |

pub mod answer;
pub mod client;
pub mod connector;
pub mod ratelimit;
pub mod tls;
