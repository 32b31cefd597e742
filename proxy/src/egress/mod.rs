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
//! | `mod.rs` | [`Egress`]: enqueue, requeue, park at shutdown, gauges; its settings |
//! | `sender.rs` | the senders, the spool replayer and sweeper, the consent re-check, retries |
//! | `queue.rs` | the bounded memory queue and [`Job`] |
//! | `spool/` | [`Spool`]: the overflow files or the durable write-ahead log, one face for both |
//! | `upstream/` | the HTTPS client, connector, TLS, the answer classifier, rate limits |
//! | `audit.rs` | the ring of envelopes as sent, for `/audit/recent` |
//! | `sink.rs` | the dry-run output (stdout, outbox) |

pub mod audit;
pub mod queue;
mod sender;
pub mod sink;
pub mod spool;
pub mod upstream;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use consent::Unattributed;
use tokio::sync::watch;

use crate::consent_view::ConsentView;
use crate::metrics::{self, Metrics};
use audit::Audit;
pub use queue::{Job, Queue};
pub use sender::{backoff, spawn};
use spool::{Kept, Spool, SpoolError};
use upstream::client::{Upstream, UpstreamConfig};
use upstream::ratelimit::RateLimits;

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
    /// Durable spool (every job logged before the SDK's 200) and its fsync mode; `None`:
    /// the spool only takes overflow and shutdown leftovers.
    pub spool_durable: Option<spool::wal::FsyncMode>,
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
    /// The spool (overflow or durable), if configured.
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
    /// Sender slots whose sender failed and waits to be started again.
    senders_down: AtomicUsize,
    /// Durable appends refused for lack of room since the last one that worked.
    spool_full: Burst,
    /// Durable appends that failed on the disk since the last one that worked.
    spool_io: Burst,
    /// Attempts held back while consent is unknown, since the gate last opened.
    held: Burst,
}

/// Failures since the last success: the first one of a burst is logged, the end of the
/// burst reports how many there were, and nothing in between floods the log.
#[derive(Debug, Default)]
struct Burst(AtomicU64);

impl Burst {
    /// One more failure; true for the first of a burst.
    fn fail(&self) -> bool {
        self.0.fetch_add(1, Ordering::Relaxed) == 0
    }

    /// A success: how many failures the burst it ends had (0: none was open).
    fn end(&self) -> u64 {
        self.0.swap(0, Ordering::Relaxed)
    }
}

/// Where there was no room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The memory queue (and the overflow spool, if any).
    Queue,
    /// The durable spool is at `--spool-max-bytes`.
    Spool,
    /// The durable spool's write or sync failed (disk full, `EIO`, a file size limit …):
    /// the envelope is not on disk, so it is not acknowledged.
    SpoolIo,
}

/// Why a job that is not on disk must go there now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unsent {
    /// Its sender failed and the queue is full.
    SenderFailed,
    /// The proxy stops before it was delivered.
    Shutdown,
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
            Some((dir, max)) => {
                let (spool, recovered) = Spool::open(dir, *max, config.spool_durable)?;
                report_recovered(&metrics, &recovered);
                Some(spool)
            }
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
            senders_down: AtomicUsize::new(0),
            spool_full: Burst::default(),
            spool_io: Burst::default(),
            held: Burst::default(),
        })
    }

    /// Queues a job, or spools it when the queue is full; with a durable spool, logs it
    /// first. `Err` gives it back with the reason: no room anywhere.
    #[allow(clippy::result_large_err)]
    pub async fn enqueue(&self, mut job: Job) -> Result<Enqueued, (Job, Full)> {
        if let Some(spool) = &self.spool {
            match spool.log(&mut job).await {
                Ok(true) => {
                    self.spool_recovered();
                    self.metrics.inc(&metrics::SPOOL_WRITES, &["durable"]);
                }
                Ok(false) => {}
                Err(SpoolError::Full) => {
                    if self.spool_full.fail() {
                        tracing::warn!(
                            max_bytes = spool.max_bytes(),
                            "spool full: envelopes are refused with 503 spool_full until the upstream takes some"
                        );
                    }
                    return Err((job, Full::Spool));
                }
                Err(e) => {
                    self.spool_failed(&e);
                    return Err((job, Full::SpoolIo));
                }
            }
        }
        let job = match self.queue.try_push(job) {
            Ok(()) => return Ok(Enqueued::Queued),
            Err(job) => job,
        };
        let Some(spool) = &self.spool else {
            return Err((job, Full::Queue));
        };
        // A durable job is already on disk (only marked so); an overflow write fsyncs: keep
        // it off the async workers where the runtime allows.
        let kept = crate::offload::offload(job.spooled.is_none(), || spool.keep(&job));
        match kept {
            Ok(Kept::GivenBack) => Ok(Enqueued::Spooled),
            Ok(Kept::Written { evicted }) => {
                self.count_written("queue_full", evicted);
                Ok(Enqueued::Spooled)
            }
            Err(e) => {
                tracing::warn!(error = %e, "spool write failed");
                Err((job, Full::Queue))
            }
        }
    }

    /// A job was written to the overflow spool (`why`), evicting `evicted` older ones.
    fn count_written(&self, why: &'static str, evicted: usize) {
        let metrics = &self.metrics;
        metrics.inc(&metrics::SPOOL_WRITES, &[why]);
        if evicted > 0 {
            metrics.add(
                &metrics::ITEMS_DROPPED,
                &["envelope", "spool_overflow"],
                evicted as u64,
            );
        }
    }

    /// Whether no sender works right now: every slot's sender failed and waits for its
    /// restart (readiness reason `no_sender`).
    pub fn no_sender(&self) -> bool {
        self.senders_down.load(Ordering::Relaxed) >= self.settings.senders.max(1)
    }

    /// A sender failed while holding `job`: it goes back where it can be sent again. A
    /// durable job stays on disk and the replayer loads it again; a job of the overflow
    /// spool is released to it; any other goes back to the queue, or, when that is full, to
    /// the spool, and without either it is counted lost (`sender_failed`).
    pub fn requeue(&self, job: Job) {
        if self.spool.as_ref().is_some_and(|s| s.give_back(&job)) {
            return;
        }
        let Err(job) = self.queue.try_push(job) else {
            return;
        };
        self.keep_or_count(job, Unsent::SenderFailed);
    }

    /// A job with no copy on disk that no queue takes: written to the spool, or, without a
    /// spool or when the write fails, counted lost.
    fn keep_or_count(&self, job: Job, unsent: Unsent) {
        let (written, lost) = match unsent {
            Unsent::SenderFailed => ("queue_full", "sender_failed"),
            Unsent::Shutdown => ("shutdown", "shutdown_unsent"),
        };
        match self.spool.as_ref().map(|s| s.keep(&job)) {
            Some(Ok(Kept::Written { evicted })) => self.count_written(written, evicted),
            Some(Ok(Kept::GivenBack)) => {}
            Some(Err(e)) => {
                match unsent {
                    Unsent::SenderFailed => {
                        tracing::error!(error = %e, "could not spool the envelope of a failed sender: lost")
                    }
                    Unsent::Shutdown => {
                        tracing::error!(error = %e, "could not spool at shutdown: envelope lost")
                    }
                }
                count_items(&self.metrics, &job, lost);
            }
            None => count_items(&self.metrics, &job, lost),
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
            if let Some(n) = s.envelopes() {
                metrics.set(&metrics::SPOOL_ENVELOPES, &[], n as u64);
            }
        }
    }

    /// A durable append failed: warn at the first failure of a burst only, with the
    /// error's kind (never content), so a failing disk does not flood the logs.
    fn spool_failed(&self, e: &SpoolError) {
        if self.spool_io.fail() {
            let kind = match e {
                SpoolError::Io(io) => io.kind(),
                _ => std::io::ErrorKind::Other,
            };
            tracing::warn!(
                kind = %kind,
                error = %e,
                "spool write failed: envelopes are refused with 503 spool_io until a write succeeds"
            );
        }
    }

    /// A durable append worked: closes the bursts of refusals that were open.
    fn spool_recovered(&self) {
        let failed = self.spool_io.end();
        if failed > 0 {
            tracing::info!(refused = failed, "spool writes succeed again");
        }
        let full = self.spool_full.end();
        if full > 0 {
            tracing::info!(refused = full, "spool has room again");
        }
    }

    /// Whether an item of `company`, scrubbed with IDs kept or not, may leave under `view`:
    /// the consent re-check before a send, and the revocation sweep of the spool.
    fn allowed(&self, view: &ConsentView, company: Option<&str>, ids: bool) -> bool {
        match view.verdict(company, self.unattributed) {
            consent::Verdict::Forward { ids_allowed } => ids_allowed || !ids,
            consent::Verdict::Drop(_) => false,
        }
    }

    /// Consent changed: erases from the durable spool the envelopes of companies whose
    /// consent was withdrawn (or all of them, if telemetry was switched off), so that their
    /// bytes leave the disk now rather than when a sender reaches them. Only a document
    /// withdraws consent: a closed gate (no document yet, or one too old) holds the spool.
    pub async fn sweep(&self) {
        let Some(spool) = &self.spool else { return };
        let view = self.consent.borrow().clone();
        if !matches!(*view, ConsentView::Document(_)) {
            return;
        }
        let revoked = spool
            .revoke(|company, ids| self.allowed(&view, company, ids))
            .await;
        if revoked.jobs > 0 {
            tracing::info!(
                envelopes = revoked.jobs,
                items = revoked.items.values().sum::<u64>(),
                "consent withdrawn: spooled envelopes erased from disk"
            );
        }
        self.count_revoked(&revoked);
        self.gauges();
    }

    fn count_revoked(&self, revoked: &spool::wal::Revoked) {
        for (ty, n) in &revoked.items {
            self.metrics
                .add(&metrics::ITEMS_DROPPED, &[ty, "consent_revoked"], *n);
        }
    }

    /// Done with a job: delivered or dropped. Its copy on disk goes.
    fn finish(&self, job: &Job) {
        if let Some(spool) = &self.spool {
            spool.done(job);
        }
    }

    /// Shutdown: a job not delivered stays on disk, or goes there (or is counted lost
    /// without a spool). A durable job is already on disk: replayed at the next start.
    pub fn park(&self, job: Job) {
        if self.spool.as_ref().is_some_and(|s| s.give_back(&job)) {
            return;
        }
        self.keep_or_count(job, Unsent::Shutdown);
    }
}

/// What recovery found in the spool at open: torn and corrupt records are counted as
/// dropped (and the torn ones logged), the live ones announced.
fn report_recovered(metrics: &Metrics, recovered: &spool::wal::Recovered) {
    if recovered.torn > 0 {
        tracing::warn!(
            records = recovered.torn,
            "spool: torn or corrupt records after a crash were skipped"
        );
        metrics.add(
            &metrics::ITEMS_DROPPED,
            &["envelope", "spool_torn"],
            recovered.torn as u64,
        );
    }
    if recovered.corrupt > 0 {
        metrics.add(
            &metrics::ITEMS_DROPPED,
            &["envelope", "spool_corrupt"],
            recovered.corrupt as u64,
        );
    }
    if recovered.live > 0 {
        tracing::info!(envelopes = recovered.live, "spool: replaying");
    }
}

fn count_items(metrics: &Metrics, job: &Job, reason: &'static str) {
    for item in job.envelope.items() {
        metrics.inc(&metrics::ITEMS_DROPPED, &[item.ty().label(), reason]);
    }
}
