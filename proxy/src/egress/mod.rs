//! Egress, where an envelope leaves: enqueue scrubbed envelopes, re-check consent, honour
//! rate limits, send with retries over HTTPS to the one upstream host, spool what cannot
//! wait, and drain on shutdown. Or, in a dry run, write them to stdout or an outbox.
//!
//! Enters: a [`Job`] from the pipeline (a scrubbed envelope, its per-item consent facts and
//! its upstream DSN). Leaves: one HTTPS request per envelope to the upstream, or a dry-run
//! write. It reads the consent in force (to re-check before each send) and never anything
//! upstream of itself.
//!
//! ```text
//! pipeline ─▶ Queue ─(full)─▶ Spool ─(replay)─┐
//!               │◀────────────────────────────┘
//!               ▼
//!        sender × N: consent re-check ─▶ rate limits ─▶ POST ─▶ 2xx done
//!                                                       ├─ 429: limits recorded, items dropped
//!                                                       ├─ 400/413: dropped, counted
//!                                                       └─ 5xx/timeout/network: backoff, retry
//! ```
//!
//! | File | What |
//! |---|---|
//! | `mod.rs` | [`Egress`]: enqueue, park at shutdown, gauges; its settings |
//! | `sender.rs` | the senders, the spool replayer, the consent re-check, retries |
//! | `queue.rs` | the bounded memory queue and [`Job`] |
//! | `spool.rs` | the disk spool |
//! | `client.rs` | the HTTPS client: compression, `X-Sentry-Auth`, error classes |
//! | `connector.rs` | the one-host connector and the CONNECT tunnel |
//! | `tls.rs` | rustls, TLS 1.2+, roots, private CA |
//! | `ratelimit.rs` | `X-Sentry-Rate-Limits` parsing and the per-category table |
//! | `audit.rs` | the ring of envelopes as sent, for `/audit/recent` |
//! | `sink.rs` | the dry-run output (stdout, outbox) |

pub mod audit;
pub mod client;
pub mod connector;
pub mod queue;
pub mod ratelimit;
mod sender;
pub mod sink;
pub mod spool;
pub mod tls;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use consent::Unattributed;
use tokio::sync::watch;

use crate::admin::metrics::{self, Metrics};
use crate::consent_source::ConsentView;
use audit::Audit;
use client::{Upstream, UpstreamConfig};
pub use queue::{Job, Queue};
use ratelimit::RateLimits;
pub use sender::{backoff, spawn};
use spool::Spool;

/// Everything the egress half is configured with.
#[derive(Debug, Clone)]
pub struct EgressConfig {
    /// Client settings.
    pub client: UpstreamConfig,
    /// Retry, drain and sender settings.
    pub settings: EgressSettings,
    /// Queue bound: envelopes.
    pub queue_max_envelopes: usize,
    /// Queue bound: bytes.
    pub queue_max_bytes: usize,
    /// Spool folder and cap.
    pub spool: Option<(PathBuf, u64)>,
    /// Audit ring size.
    pub audit_size: usize,
}

/// Retry and drain settings.
#[derive(Debug, Clone, Copy)]
pub struct EgressSettings {
    /// Concurrent senders.
    pub senders: usize,
    /// Give up on an envelope this long after it was accepted.
    pub retry_max_age: Duration,
    /// First backoff step.
    pub backoff_base: Duration,
    /// Longest backoff step.
    pub backoff_max: Duration,
}

/// Shared egress state.
#[derive(Debug)]
pub struct Egress {
    /// Waiting jobs.
    pub queue: Queue,
    /// Disk spool, if configured.
    pub spool: Option<Spool>,
    /// The client.
    pub upstream: Upstream,
    /// Limits learned from the upstream.
    pub limits: RateLimits,
    /// Recently sent envelopes.
    pub audit: Audit,
    /// Settings.
    pub settings: EgressSettings,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The consent in force, read again before every attempt.
    consent: watch::Receiver<Arc<ConsentView>>,
    /// What consent says of items without a company.
    unattributed: Unattributed,
    /// Jobs held by senders right now.
    in_flight: AtomicUsize,
}

/// What enqueueing did.
#[derive(Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// In the memory queue.
    Queued,
    /// On disk (the queue was full).
    Spooled,
}

impl Egress {
    /// Builds the egress half (opens the spool, if any). `consent` is the consent in force,
    /// read again before every send.
    pub fn open(
        config: &EgressConfig,
        metrics: Arc<Metrics>,
        consent: watch::Receiver<Arc<ConsentView>>,
        unattributed: Unattributed,
    ) -> std::io::Result<Egress> {
        let spool = match &config.spool {
            Some((dir, max)) => Some(Spool::open(dir, *max)?),
            None => None,
        };
        Ok(Egress {
            queue: Queue::new(config.queue_max_envelopes, config.queue_max_bytes),
            spool,
            upstream: Upstream::new(config.client.clone()),
            limits: RateLimits::default(),
            audit: Audit::new(config.audit_size),
            settings: config.settings,
            metrics,
            consent,
            unattributed,
            in_flight: AtomicUsize::new(0),
        })
    }

    /// Queues a job, or spools it when the queue is full. `Err` gives it back: neither had room.
    #[allow(clippy::result_large_err)]
    pub async fn enqueue(&self, job: Job) -> Result<Enqueued, Job> {
        let job = match self.queue.try_push(job) {
            Ok(()) => return Ok(Enqueued::Queued),
            Err(job) => job,
        };
        let Some(spool) = &self.spool else {
            return Err(job);
        };
        // The write fsyncs: keep it off the async workers where the runtime allows.
        let written = crate::offload::offload(true, || spool.write(&job));
        let metrics = &self.metrics;
        match written {
            Ok(evicted) => {
                metrics.inc(&metrics::SPOOL_WRITES, &["queue_full"]);
                if evicted > 0 {
                    metrics.add(
                        &metrics::ITEMS_DROPPED,
                        &["envelope", "spool_overflow"],
                        evicted as u64,
                    );
                }
                Ok(Enqueued::Spooled)
            }
            Err(e) => {
                tracing::warn!(error = %e, "spool write failed");
                Err(job)
            }
        }
    }

    /// Nothing queued and nothing being sent.
    pub fn idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight.load(Ordering::Relaxed) == 0
    }

    /// Updates the queue and spool gauges.
    pub fn gauges(&self) {
        let metrics = &self.metrics;
        metrics.set(&metrics::QUEUE_DEPTH, &[], self.queue.len() as u64);
        metrics.set(&metrics::QUEUE_BYTES, &[], self.queue.bytes() as u64);
        if let Some(s) = &self.spool {
            metrics.set(&metrics::SPOOL_BYTES, &[], s.bytes());
        }
    }

    /// Done with a job: delivered or dropped. Its spool file goes.
    fn finish(&self, job: &Job) {
        if let (Some(spool), Some(path)) = (&self.spool, &job.spool_file) {
            spool.remove(path);
        }
    }

    /// Shutdown: a job not delivered goes to the spool (or is counted lost without one).
    pub fn park(&self, job: Job) {
        let metrics = &*self.metrics;
        match (&self.spool, &job.spool_file) {
            (Some(spool), Some(path)) => spool.release(path),
            (Some(spool), None) => match spool.write(&job) {
                Ok(_) => metrics.inc(&metrics::SPOOL_WRITES, &["shutdown"]),
                Err(e) => {
                    tracing::error!(error = %e, "could not spool at shutdown: envelope lost");
                    count_items(metrics, &job, "shutdown_unsent");
                }
            },
            (None, _) => count_items(metrics, &job, "shutdown_unsent"),
        }
    }
}

fn count_items(metrics: &Metrics, job: &Job, reason: &'static str) {
    for item in job.envelope.items() {
        metrics.inc(&metrics::ITEMS_DROPPED, &[item.ty().label(), reason]);
    }
}

/// Keeps the elements whose flag is true (items and their parallel consent facts).
pub fn retain_by<T>(v: &mut Vec<T>, keep: &[bool]) {
    let mut i = 0;
    v.retain(|_| {
        i += 1;
        keep.get(i - 1).copied().unwrap_or(false)
    });
}
