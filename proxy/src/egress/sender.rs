//! The senders, the spool replayer and the spool sweeper. A sender pops a job, re-checks
//! consent and rate limits, sends it, and on a retryable failure waits a jittered backoff
//! and tries again, until it is delivered, dropped or too old; at shutdown it hands the job
//! back to be spooled. The replayer moves spooled jobs into the queue while it has room;
//! the sweeper erases the spooled jobs a consent change withdrew.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use super::spool::{Followed, Spool};
use super::upstream::answer::{self, Outcome};
use super::upstream::client::{Answer, SendError};
use super::upstream::ratelimit;
use super::{count_items, Egress, Job};
use crate::consent_view::ConsentView;
use crate::metrics;

/// Starts the senders (each under a supervisor that restarts it if it panics or ends), and
/// with a spool its replayer (and with a durable one its sweeper); they stop when `stop`
/// turns true.
pub fn spawn(egress: Arc<Egress>, stop: watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for _ in 0..egress.settings.senders.max(1) {
        let e = egress.clone();
        let s = stop.clone();
        let make = move || tokio::spawn(sender(e.clone(), s.clone()));
        tasks.push(tokio::spawn(supervise(make, egress.clone(), stop.clone())));
    }
    if egress.spool.as_ref().is_some_and(Spool::is_durable) {
        tasks.push(tokio::spawn(sweeper(egress.clone(), stop.clone())));
    }
    if egress.spool.is_some() {
        tasks.push(tokio::spawn(replayer(egress, stop)));
    }
    tasks
}

/// First wait before a failed sender is started again; it doubles with each failure that
/// follows a restart within [`RESTART_RESET`], up to [`RESTART_MAX`].
const RESTART_BASE: Duration = Duration::from_millis(100);
/// Longest wait before a restart.
const RESTART_MAX: Duration = Duration::from_secs(5);
/// A sender that ran this long before failing starts again from [`RESTART_BASE`].
const RESTART_RESET: Duration = Duration::from_secs(60);

/// Keeps one sender running until `stop`: a sender that panics or returns is counted
/// (`sender_restarts_total{cause}`), logged, and started again after a growing delay. While
/// it is down, its slot counts in [`Egress::senders_down`], and readiness fails when every
/// slot is down. The job it held is not lost: [`Held`] gives it back when the task's
/// future is dropped.
async fn supervise<F>(mut make: F, egress: Arc<Egress>, mut stop: watch::Receiver<bool>)
where
    F: FnMut() -> tokio::task::JoinHandle<()>,
{
    let mut failures: u32 = 0;
    loop {
        let started = Instant::now();
        let ended = make().await;
        if *stop.borrow() {
            return;
        }
        let cause = match ended {
            Ok(()) => "ended",
            Err(e) if e.is_panic() => "panic",
            Err(_) => "cancelled",
        };
        egress.metrics.inc(&metrics::SENDER_RESTARTS, &[cause]);
        if started.elapsed() >= RESTART_RESET {
            failures = 0;
        }
        let delay = backoff(RESTART_BASE, RESTART_MAX, failures);
        failures = failures.saturating_add(1);
        tracing::error!(cause, restart_in = ?delay, "a sender stopped; it is restarted and its envelope queued again");
        egress.senders_down.fetch_add(1, Ordering::Relaxed);
        let stopped = tokio::select! {
            _ = stop.wait_for(|s| *s) => true,
            () = tokio::time::sleep(delay) => false,
        };
        egress.senders_down.fetch_sub(1, Ordering::Relaxed);
        if stopped {
            return;
        }
    }
}

/// The job a sender holds, with the in-flight count it adds to. Dropped with the job still
/// in it (the sender's task panicked, or was dropped), it gives the job back to be sent
/// again ([`Egress::requeue`]): a failed sender loses nothing acknowledged.
struct Held<'a> {
    egress: &'a Egress,
    job: Option<Job>,
}

impl<'a> Held<'a> {
    fn new(egress: &'a Egress, job: Job) -> Held<'a> {
        egress.in_flight.fetch_add(1, Ordering::Relaxed);
        Held {
            egress,
            job: Some(job),
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(job) = self.job.take() {
            self.egress.requeue(job);
        }
        self.egress.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn sender(egress: Arc<Egress>, mut stop: watch::Receiver<bool>) {
    loop {
        let job = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            job = egress.queue.pop() => job,
        };
        let mut held = Held::new(&egress, job);
        let stopped = match held.job.as_mut() {
            Some(job) => deliver(&egress, job, &mut stop).await,
            None => false,
        };
        // Delivered or dropped: done with. Stopped: parked for the next start.
        if let (true, Some(job)) = (stopped, held.job.take()) {
            egress.park(job);
        }
        held.job = None;
        drop(held);
        egress.gauges();
    }
}

/// Sweeps the durable spool at start (consent may have been withdrawn while the proxy was
/// down) and after every consent change.
async fn sweeper(egress: Arc<Egress>, mut stop: watch::Receiver<bool>) {
    let mut consent = egress.consent.clone();
    loop {
        consent.borrow_and_update();
        egress.sweep().await;
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            changed = consent.changed() => if changed.is_err() { return },
        }
    }
}

/// Moves spooled jobs into the queue while it is under half full. A job that does not load
/// is dropped (deleted or tombstoned) and counted `spool_corrupt`.
async fn replayer(egress: Arc<Egress>, mut stop: watch::Receiver<bool>) {
    let Some(spool) = &egress.spool else { return };
    loop {
        while !egress.queue.fill_above(0.5) && !*stop.borrow() {
            match spool.next() {
                Some(Ok(job)) => {
                    if let Err(job) = egress.queue.try_push(job) {
                        spool.give_back(&job);
                        break;
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "spooled envelope dropped");
                    egress
                        .metrics
                        .inc(&metrics::ITEMS_DROPPED, &["envelope", "spool_corrupt"]);
                }
                None => break,
            }
        }
        egress.gauges();
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            () = tokio::time::sleep(spool.replay_every()) => {}
        }
    }
}

/// Tries until delivered, dropped or stopped; true when stopped (the job is then parked by
/// the caller). What the upstream answered, or why it did not, becomes an [`Outcome`]
/// ([`answer::classify`], [`SendError::outcome`]), whose `retryable` flag alone decides
/// between trying again and dropping.
async fn deliver(egress: &Egress, job: &mut Job, stop: &mut watch::Receiver<bool>) -> bool {
    let mut attempt: u32 = 0;
    loop {
        match prepare(egress, job, stop).await {
            Prepared::Send => {}
            Prepared::Done => return false,
            Prepared::Stopped => return true,
        }
        let body = job.envelope.to_bytes();
        let started = Instant::now();
        // A send in flight when shutdown's drain time is over is abandoned and the job
        // spooled: delivery is at least once, so the upstream may see it twice. `biased`: an
        // answer that is already in wins over the stop signal (an unbiased select picks
        // either at random, spooling envelopes the upstream has just accepted).
        let sent = tokio::select! {
            biased;
            r = egress.upstream.send(&job.upstream, job.client.as_deref(), &body) => r,
            _ = stop.wait_for(|s| *s) => return true,
        };
        let (outcome, status) = read_answer(egress, job, sent, started, attempt);
        match outcome {
            Outcome::Delivered => {
                delivered(egress, job, status.map_or(200, |s| s.as_u16()), body);
                return false;
            }
            o if o.retryable() => {}
            o => {
                if o != Outcome::RateLimited {
                    tracing::warn!(
                        status = status.map(|s| s.as_u16()),
                        "upstream refused an envelope; dropped"
                    );
                }
                let reason = o.drop_reason().unwrap_or("upstream_rejected");
                count_items(&egress.metrics, job, reason);
                egress.finish(job);
                return false;
            }
        }
        egress.metrics.inc(&metrics::UPSTREAM_RETRIES, &[]);
        attempt = attempt.saturating_add(1);
        let delay = backoff(
            egress.settings.backoff_base,
            egress.settings.backoff_max,
            attempt,
        );
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return true,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// Whether a job goes out now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prepared {
    /// Send it.
    Send,
    /// Dropped (too old, or nothing left after the re-check): done with.
    Done,
    /// The proxy stops while it waits: park it.
    Stopped,
}

/// Before each attempt: an expired job is dropped (`retry_expired`), a job waits while
/// consent is unknown, and the consent and rate-limit re-check may leave nothing to send.
async fn prepare(egress: &Egress, job: &mut Job, stop: &mut watch::Receiver<bool>) -> Prepared {
    if expired(job, SystemTime::now(), egress.settings.retry_max_age) {
        count_items(&egress.metrics, job, "retry_expired");
        egress.finish(job);
        return Prepared::Done;
    }
    if !hold_while_consent_unknown(egress, job, stop).await {
        return Prepared::Stopped;
    }
    recheck(egress, job).await;
    if job.envelope.items().is_empty() {
        egress.finish(job);
        return Prepared::Done;
    }
    Prepared::Send
}

/// Whether a job is past `--retry-max-age` at `now`.
fn expired(job: &Job, now: SystemTime, max_age: Duration) -> bool {
    job.age(now) > max_age
}

/// Counts and logs one attempt's result and records the rate limits it announced; returns
/// its outcome and, when the upstream answered, the status.
fn read_answer(
    egress: &Egress,
    job: &Job,
    sent: Result<Answer, SendError>,
    started: Instant,
    attempt: u32,
) -> (Outcome, Option<http::StatusCode>) {
    let metrics = &*egress.metrics;
    match sent {
        Ok(reply) => {
            metrics.observe_latency(started.elapsed().as_secs_f64());
            let status = reply.status;
            metrics.inc(&metrics::UPSTREAM_RESPONSES, &[status_label(status)]);
            let verdict = answer::classify(status, &reply.headers);
            if !verdict.limits.is_empty() {
                egress
                    .limits
                    .record(&verdict.limits, &job.upstream, Instant::now());
            }
            if verdict.outcome.retryable() {
                tracing::debug!(
                    status = status.as_u16(),
                    attempt,
                    "upstream failed; will retry"
                );
            }
            (verdict.outcome, Some(status))
        }
        Err(e) => {
            metrics.inc(&metrics::UPSTREAM_ERRORS, &[e.label()]);
            if attempt == 0 {
                tracing::warn!(error = %e, "upstream unreachable; will retry");
            } else {
                tracing::debug!(error = %e, attempt, "upstream still unreachable");
            }
            (e.outcome(), None)
        }
    }
}

/// The upstream took the job: counted, kept in the audit ring, done with.
fn delivered(egress: &Egress, job: &Job, status: u16, body: bytes::Bytes) {
    let metrics = &*egress.metrics;
    metrics.inc(&metrics::ENVELOPES_FORWARDED, &[]);
    for item in job.envelope.items() {
        metrics.inc(&metrics::ITEMS_FORWARDED, &[item.ty().label()]);
    }
    egress.audit.record(status, body);
    egress.finish(job);
}

/// Unknown consent is not withdrawn consent. While the gate is closed (no document yet, as
/// at a start with `--consent-url` before it first answers, or the last one older than
/// `--consent-max-age`) nothing leaves, and nothing acknowledged is dropped either: the job
/// waits (on disk, when the spool is durable) until a document arrives, the job is older
/// than `--retry-max-age`, or the proxy stops. Returns `false` when it stops.
async fn hold_while_consent_unknown(
    egress: &Egress,
    job: &Job,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let closed = |v: &Arc<ConsentView>| matches!(**v, ConsentView::Closed(_));
    if !closed(&egress.consent.borrow()) {
        return true;
    }
    if egress.held.fail() {
        tracing::warn!("consent unknown: accepted envelopes wait for a consent document");
    }
    let left = (egress.settings.retry_max_age).saturating_sub(job.age(SystemTime::now()));
    let mut consent = egress.consent.clone();
    let stopped = tokio::select! {
        biased;
        _ = stop.wait_for(|s| *s) => true,
        _ = consent.wait_for(|v| !closed(v)) => false,
        () = tokio::time::sleep(left) => false,
    };
    let held = egress.held.end();
    if held > 0 && !stopped {
        tracing::info!(attempts = held, "consent known again: held envelopes go on");
    }
    !stopped
}

/// Consent and rate limits, checked again just before each send: items whose consent was
/// withdrawn (or narrowed from IDs to no IDs) since they were accepted are dropped as
/// `consent_revoked`; items of a rate-limited category as `rate_limited`.
async fn recheck(egress: &Egress, job: &mut Job) {
    let view = egress.consent.borrow().clone();
    let allowed = |c: Option<&str>, ids: bool| egress.allowed(&view, c, ids);
    let followed = match &egress.spool {
        Some(spool) => spool.follow(job, allowed).await,
        None => None,
    };
    match followed {
        // A durable job: the log erases and counts (a sweep may have done it already), and
        // this copy follows what became of its record.
        Some((revoked, followed)) => {
            egress.count_revoked(&revoked);
            match followed {
                Followed::Same => {}
                Followed::Moved(rewritten) => *job = rewritten,
                Followed::Gone => {
                    clear(job);
                    return;
                }
                Followed::Corrupt(e) => {
                    tracing::warn!(error = %e, "spooled envelope dropped");
                    count_items(&egress.metrics, job, "spool_corrupt");
                    clear(job);
                    return;
                }
            }
        }
        None => {
            crate::keep::retain_pairs(job.envelope.items_mut(), &mut job.consent, |item, c| {
                let ok = allowed(c.company.as_deref(), c.ids_allowed);
                if !ok {
                    let labels = [item.ty().label(), "consent_revoked"];
                    egress.metrics.inc(&metrics::ITEMS_DROPPED, &labels);
                }
                ok
            });
        }
    }
    let now = Instant::now();
    let upstream = &job.upstream;
    crate::keep::retain_pairs(job.envelope.items_mut(), &mut job.consent, |item, _| {
        let limited = ratelimit::category(item.ty())
            .is_some_and(|cat| egress.limits.is_limited(cat, upstream, now));
        if limited {
            let labels = [item.ty().label(), "rate_limited"];
            egress.metrics.inc(&metrics::ITEMS_DROPPED, &labels);
        }
        !limited
    });
}

/// Empties a job whose record is gone: nothing of it is sent.
fn clear(job: &mut Job) {
    job.envelope.items_mut().clear();
    job.consent.clear();
}

/// A `&'static str` for a status code (labels must come from a closed set).
fn status_label(status: http::StatusCode) -> &'static str {
    match status.as_u16() {
        200 => "200",
        201 => "201",
        202 => "202",
        204 => "204",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        408 => "408",
        413 => "413",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        s if s < 300 => "2xx",
        s if s < 400 => "3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}

/// Exponential backoff with full jitter: a random delay in `[step/2, step]`, where the
/// step doubles from `base` up to `max`.
pub fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let step = base.saturating_mul(1u32 << attempt.min(16)).min(max);
    let r = RandomState::new().build_hasher().finish();
    let half = step / 2;
    half + Duration::from_nanos(r % (half.as_nanos().max(1) as u64))
}

#[cfg(test)]
mod tests;
