//! The pipeline, where an envelope is decided: the consent gate, the scrubber and the
//! re-encoding, then the hand-over to egress (or the dry-run sink).
//!
//! Enters: an [`Ingested`] envelope from ingest (parsed, authenticated, routed). Leaves: a
//! [`Job`] for egress, or the exact bytes for the dry-run sink, and an [`Outcome`] for the
//! SDK's answer (or a [`Refused`] the SDK must retry). Each step is a function of the
//! envelope and an immutable snapshot (policy, consent view); only the hand-over does I/O.
//! It knows egress (downstream) and the consent view; nothing of ingest.

pub mod gate;
pub mod traces;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use consent::Unattributed;
use envelope::Envelope;
use tokio::sync::watch;

use crate::consent_view::ConsentView;
use crate::dsn::Dsn;
use crate::egress::sink::Sink;
use crate::egress::upstream::ratelimit;
use crate::egress::{Egress, Enqueued, Full, Job};
use crate::metrics::{self, Metrics};
use traces::{TraceMap, TraceMapSettings};

/// A request that passed ingest: the pipeline's input.
#[derive(Debug)]
pub struct Ingested {
    /// The parsed envelope.
    pub envelope: Envelope,
    /// Where it goes (`None` in a dry run without upstream).
    pub upstream: Option<Arc<Dsn>>,
    /// The SDK's client name, forwarded upstream.
    pub client: Option<String>,
}

/// Where decided envelopes go.
#[derive(Debug)]
pub enum Output {
    /// The egress queue, towards the upstream.
    Upstream(Arc<Egress>),
    /// A dry run: the exact bytes that would be sent, to stdout or an outbox.
    DryRun(Sink),
}

/// What the pipeline reads: the compiled policy, the consent in force, the output.
#[derive(Debug)]
pub struct Pipeline {
    /// The compiled scrubbing policy.
    pub policy: Arc<scrub::Policy>,
    /// What consent says of items without a company.
    pub unattributed: Unattributed,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The consent in force, taken once per envelope.
    pub consent: watch::Receiver<Arc<ConsentView>>,
    /// Where decided envelopes go.
    pub output: Output,
    /// Which company recent traces belong to (attribution rule c).
    pub traces: TraceMap,
    /// The clock the trace map is read at: `Instant::now`, or a test's.
    clock: Clock,
    /// Item types already named by the "dropped as unattributed" hint (one bit per type in
    /// [`HINTED_TYPES`]): each is named once.
    unattributed_hinted: AtomicU32,
}

/// Where the pipeline reads the time (the trace map's expiry): `Instant::now`, or a test's.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Instant + Send + Sync>);

impl Clock {
    /// A clock that reads `now`.
    pub fn new(now: impl Fn() -> Instant + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// The time now.
    pub fn now(&self) -> Instant {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// What became of an accepted envelope, for the SDK's answer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Items were removed because their category is rate-limited upstream, and nothing
    /// else was left: the SDK gets 429.
    pub all_rate_limited: bool,
    /// The upstream's rate limits in force for this envelope's upstream, as an
    /// `X-Sentry-Rate-Limits` value and the longest wait in seconds, handed back to the SDK
    /// so that it stops sending those categories.
    pub rate_limits: Option<(String, u64)>,
}

/// Why an envelope could not be taken: the SDK must keep it and retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The queue is full and there is no spool, or the spool write failed.
    QueueFull,
    /// The dry-run output could not be written.
    OutputFailed,
    /// The durable spool is at `--spool-max-bytes`.
    SpoolFull,
    /// The durable spool could not be written (disk full, `EIO`, a file size limit …).
    SpoolIo,
}

impl Pipeline {
    /// A pipeline writing to `output`.
    pub fn new(
        policy: Arc<scrub::Policy>,
        unattributed: Unattributed,
        metrics: Arc<Metrics>,
        consent: watch::Receiver<Arc<ConsentView>>,
        output: Output,
        traces: TraceMapSettings,
    ) -> Pipeline {
        Pipeline {
            policy,
            unattributed,
            metrics,
            consent,
            output,
            traces: TraceMap::new(traces),
            clock: Clock::new(Instant::now),
            unattributed_hinted: AtomicU32::new(0),
        }
    }

    /// The same pipeline reading the time from `clock` (tests: a trace map entry's expiry
    /// without waiting for it).
    pub fn with_clock(mut self, clock: Clock) -> Pipeline {
        self.clock = clock;
        self
    }

    /// The egress half, when there is an upstream.
    pub fn egress(&self) -> Option<&Arc<Egress>> {
        match &self.output {
            Output::Upstream(e) => Some(e),
            Output::DryRun(_) => None,
        }
    }
}

/// Runs gate and scrub, and hands what is left to the output. An error means the SDK must
/// retry.
pub async fn process(p: &Pipeline, ingested: Ingested) -> Result<Outcome, Refused> {
    let Ingested {
        envelope,
        upstream,
        client,
    } = ingested;
    let types: Vec<[&'static str; 1]> = envelope.items().iter().map(|i| [i.ty().label()]).collect();
    p.metrics.add_many(
        types
            .iter()
            .map(|ty| (&metrics::ITEMS_RECEIVED, &ty[..], 1)),
    );
    let view = p.consent.borrow().clone();
    let dsn = upstream.as_ref().map(|d| d.to_string());
    let target = scrub::Upstream {
        dsn: dsn.as_deref(),
        public_key: upstream.as_ref().map(|d| d.public_key.as_str()),
    };
    let big = envelope.serialized_len() > 256 * 1024;
    let mut gate = gate::EnvelopeGate {
        view: &view,
        unattributed: p.unattributed,
        traces: &p.traces,
        now: p.clock.now(),
        stats: gate::MapStats::default(),
    };
    let scrubbed = crate::offload::offload(big, || {
        scrub::scrub_envelope_with(&envelope, &p.policy, target, &mut gate)
    });
    record(&p.metrics, &scrubbed.report);
    record_trace_map(p, &gate.stats);
    hint_unattributed(p, &scrubbed.report);
    let scrub::Scrubbed {
        envelope: out,
        consent: kept,
        ..
    } = scrubbed;
    match &p.output {
        Output::Upstream(egress) => {
            // Routes always name an upstream when there is an egress half.
            let Some(upstream) = upstream else {
                return Err(Refused::OutputFailed);
            };
            let mut outcome = enqueue(p, egress, out, kept, &upstream, client).await?;
            outcome.rate_limits = egress.limits.header(&upstream, Instant::now());
            Ok(outcome)
        }
        Output::DryRun(sink) => write_dry_run(p, sink, out).await,
    }
}

/// Hands a scrubbed envelope to the egress queue (or spool), after dropping items of
/// rate-limited categories.
async fn enqueue(
    p: &Pipeline,
    egress: &Egress,
    mut out: Envelope,
    mut kept: Vec<scrub::KeptConsent>,
    upstream: &Arc<Dsn>,
    client: Option<String>,
) -> Result<Outcome, Refused> {
    let limited = drop_rate_limited(&p.metrics, egress, upstream, &mut out, &mut kept);
    if out.items().is_empty() {
        p.metrics.inc(&metrics::ENVELOPES_EMPTY, &[]);
        return Ok(Outcome {
            all_rate_limited: limited,
            rate_limits: None,
        });
    }
    let job = Job {
        envelope: out,
        consent: kept,
        upstream: upstream.clone(),
        client,
        accepted_at: SystemTime::now(),
        spooled: None,
    };
    match egress.enqueue(job).await {
        Ok(how) => {
            let label = match how {
                Enqueued::Queued => "queue",
                Enqueued::Spooled => "spool",
            };
            p.metrics.inc(&metrics::ENVELOPES_EMITTED, &[label]);
            egress.gauges();
            Ok(Outcome::default())
        }
        Err((job, full)) => {
            let (reason, refused) = match full {
                Full::Queue => ("queue_full", Refused::QueueFull),
                Full::Spool => ("spool_full", Refused::SpoolFull),
                Full::SpoolIo => ("spool_io", Refused::SpoolIo),
            };
            for item in job.envelope.items() {
                p.metrics
                    .inc(&metrics::ITEMS_DROPPED, &[item.ty().label(), reason]);
            }
            Err(refused)
        }
    }
}

/// Dry run: writes the exact bytes that would go upstream.
async fn write_dry_run(p: &Pipeline, sink: &Sink, out: Envelope) -> Result<Outcome, Refused> {
    if out.items().is_empty() {
        p.metrics.inc(&metrics::ENVELOPES_EMPTY, &[]);
        return Ok(Outcome::default());
    }
    let id = out.event_id().and_then(envelope::normalize_event_id);
    if let Err(e) = sink.write(out.to_bytes(), id.as_deref()).await {
        p.metrics.inc(&metrics::SINK_ERRORS, &[sink.label()]);
        tracing::warn!(sink = sink.label(), error = %e.kind(), "dry-run write failed");
        return Err(Refused::OutputFailed);
    }
    p.metrics.inc(&metrics::ENVELOPES_EMITTED, &[sink.label()]);
    Ok(Outcome::default())
}

/// Removes items whose category the upstream rate-limits now; true if any was removed.
fn drop_rate_limited(
    metrics: &Metrics,
    egress: &Egress,
    upstream: &Dsn,
    env: &mut Envelope,
    kept: &mut Vec<scrub::KeptConsent>,
) -> bool {
    let now = Instant::now();
    let removed = crate::keep::retain_pairs(env.items_mut(), kept, |item, _| {
        let limited = ratelimit::category(item.ty())
            .is_some_and(|c| egress.limits.is_limited(c, upstream, now));
        if limited {
            let labels = [item.ty().label(), "rate_limited"];
            metrics.inc(&metrics::ITEMS_DROPPED, &labels);
        }
        !limited
    });
    removed > 0
}

/// Item types the "dropped as unattributed" hint names: those that can name a company (by
/// a tag or an attribute) or a trace, and those enabled by a flag that never do (profile
/// chunks sample the whole process). Sessions and client reports are left out: they belong
/// to no request and are dropped under `--unattributed drop` in every deployment, however
/// the app is set up (docs/consent.md), so a warning would only be noise.
const HINTED_TYPES: [&str; 7] = [
    "event",
    "transaction",
    "span",
    "profile",
    "profile_chunk",
    "check_in",
    "trace_metric",
];

/// Types that never name a company or a trace: only `--unattributed forward` sends them.
const NEVER_ATTRIBUTED: [&str; 1] = ["profile_chunk"];

/// The first time items of a type are dropped for naming no company, says why and what to
/// do, naming every type dropped so far: a new user's first items are otherwise silently
/// counted and nothing leaves. Said once per item type; the text names no value from the
/// envelope.
fn hint_unattributed(p: &Pipeline, report: &scrub::Report) {
    let reason = consent::DropReason::Unattributed.as_str();
    let mut now = 0u32;
    for (bit, ty) in HINTED_TYPES.iter().enumerate() {
        let dropped = (report.items_dropped.get(ty)).is_some_and(|r| r.contains_key(reason));
        if dropped {
            now |= 1 << bit;
        }
    }
    if now == 0 {
        return;
    }
    let before = p.unattributed_hinted.fetch_or(now, Ordering::Relaxed);
    if now & !before == 0 {
        return;
    }
    let all = before | now;
    let named = |never: bool| -> Vec<&str> {
        (HINTED_TYPES.iter().enumerate())
            .filter(|(bit, ty)| all & (1 << bit) != 0 && NEVER_ATTRIBUTED.contains(ty) == never)
            .map(|(_, ty)| *ty)
            .collect()
    };
    let (types, never) = (named(false).join(", "), named(true).join(", "));
    let tag = &p.policy.config().company_tag;
    if !types.is_empty() {
        tracing::warn!(
            types = %types,
            company_tag = %tag,
            "items naming no company were dropped (--unattributed drop): {types}; set the \
             company on the SDK's scope for every request: sentry_sdk.set_tag(\"{tag}\", id) \
             for events (2.x and 3.x) and sentry_sdk.set_attribute(\"{tag}\", id) for streamed \
             spans, logs and metrics (3.x); items of a trace whose other items name it are \
             attributed to it; or pass --unattributed forward to send such items without IDs; \
             counted in scrubproxy_items_dropped_total{{reason=\"unattributed\"}}, said once per \
             item type"
        );
    }
    if !never.is_empty() {
        tracing::warn!(
            types = %never,
            "items that never name a company or a trace were dropped (--unattributed drop): \
             {never}; a profile chunk samples the whole process, every company's requests, \
             so only --unattributed forward sends them; said once"
        );
    }
}

/// Adds what one envelope did to the trace map to the metrics, and its size.
fn record_trace_map(p: &Pipeline, s: &gate::MapStats) {
    let entries = [
        (&metrics::TRACE_MAP_LOOKUPS, ["hit"], s.hits),
        (&metrics::TRACE_MAP_LOOKUPS, ["miss"], s.misses),
        (&metrics::TRACE_MAP_LOOKUPS, ["ambiguous"], s.ambiguous),
        (
            &metrics::TRACE_MAP_EVICTIONS,
            ["capacity"],
            s.changes.evicted,
        ),
        (
            &metrics::TRACE_MAP_EVICTIONS,
            ["expired"],
            s.changes.expired,
        ),
    ];
    p.metrics.add_many(
        (entries.iter())
            .filter(|(_, _, n)| *n > 0)
            .map(|(f, l, n)| (*f, &l[..], *n)),
    );
    p.metrics
        .set(&metrics::TRACE_MAP_ENTRIES, &[], p.traces.len() as u64);
}

/// Adds a removal report to the metrics (counts only: the report holds no values).
pub fn record(metrics: &Metrics, report: &scrub::Report) {
    let mut entries: Vec<(&'static metrics::Family, [&'static str; 2], u64)> = Vec::new();
    for (ty, reasons) in &report.items_dropped {
        for (reason, n) in reasons {
            entries.push((&metrics::ITEMS_DROPPED, [ty, reason], u64::from(*n)));
        }
    }
    for (rule, n) in &report.redactions {
        entries.push((&metrics::REDACTIONS, [rule, ""], u64::from(*n)));
    }
    for (field, n) in &report.removed_fields {
        entries.push((&metrics::FIELDS_REMOVED, [field, ""], u64::from(*n)));
    }
    if report.work_budget_exhausted > 0 {
        let n = u64::from(report.work_budget_exhausted);
        entries.push((&metrics::WORK_BUDGET_EXHAUSTED, ["", ""], n));
    }
    metrics.add_many(entries.iter().map(|(family, labels, n)| {
        let labels = labels.get(..family.labels.len()).unwrap_or(labels);
        (*family, labels, *n)
    }));
}

#[cfg(test)]
mod tests;
