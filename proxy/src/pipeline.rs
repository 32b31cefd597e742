//! After ingest: gate and scrub, then hand over to the output. Each stage is a function of
//! the envelope and an immutable snapshot (policy, consent); only the final write does I/O.

use std::time::{Instant, SystemTime};

use crate::egress::{Egress, Enqueued};
use crate::gate;
use crate::ingest::Ingested;
use crate::metrics;
use crate::queue::Job;
use crate::reject::Reject;
use crate::upstream::ratelimit;
use crate::State;

/// What became of an accepted envelope, for the SDK's answer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Items were removed because their category is rate-limited upstream, and nothing
    /// else was left: the SDK gets 429.
    pub all_rate_limited: bool,
}

/// Runs gate and scrub, and hands what is left to the output. An error means the SDK must
/// retry.
pub async fn process(state: &State, ingested: Ingested) -> Result<Outcome, Reject> {
    let Ingested {
        envelope,
        upstream,
        client,
    } = ingested;
    let types: Vec<[&'static str; 1]> = envelope.items().iter().map(|i| [i.ty().label()]).collect();
    state.metrics.add_many(
        types
            .iter()
            .map(|ty| (&metrics::ITEMS_RECEIVED, &ty[..], 1)),
    );
    let view = state.consent_view();
    let unattributed = state.config.consent.unattributed;
    let dsn = upstream.as_ref().map(|d| d.to_string());
    let target = scrub::Upstream {
        dsn: dsn.as_deref(),
        public_key: upstream.as_ref().map(|d| d.public_key.as_str()),
    };
    let big = envelope.serialized_len() > 256 * 1024;
    let scrubbed = crate::offload(big, || {
        scrub::scrub_envelope(&envelope, &state.config.policy, target, |_, attribution| {
            gate::decision(view.verdict(attribution.and_then(|a| a.company), unattributed))
        })
    });
    record(state, &scrubbed.report);
    hint_unattributed(state, &scrubbed.report);
    let scrub::Scrubbed {
        envelope: out,
        consent: kept,
        ..
    } = scrubbed;
    match &state.egress {
        Some(egress) => enqueue(state, egress, out, kept, upstream, client).await,
        None => write_dry_run(state, out).await,
    }
}

/// Hands a scrubbed envelope to the egress queue (or spool), after dropping items of
/// rate-limited categories.
async fn enqueue(
    state: &State,
    egress: &Egress,
    mut out: envelope::Envelope,
    mut kept: Vec<scrub::KeptConsent>,
    upstream: Option<std::sync::Arc<crate::dsn::Dsn>>,
    client: Option<String>,
) -> Result<Outcome, Reject> {
    // Routes always name an upstream when there is an egress half.
    let Some(upstream) = upstream else {
        return Err(Reject::OutputFailed);
    };
    let limited = drop_rate_limited(state, egress, &upstream, &mut out, &mut kept);
    if out.items().is_empty() {
        state.metrics.inc(&metrics::ENVELOPES_EMPTY, &[]);
        return Ok(Outcome {
            all_rate_limited: limited,
        });
    }
    let job = Job {
        envelope: out,
        consent: kept,
        upstream,
        client,
        accepted_at: SystemTime::now(),
        spool_file: None,
    };
    match egress.enqueue(&state.metrics, job).await {
        Ok(how) => {
            let label = match how {
                Enqueued::Queued => "queue",
                Enqueued::Spooled => "spool",
            };
            state.metrics.inc(&metrics::ENVELOPES_EMITTED, &[label]);
            egress.gauges(&state.metrics);
            Ok(Outcome::default())
        }
        Err(job) => {
            for item in job.envelope.items() {
                state
                    .metrics
                    .inc(&metrics::ITEMS_DROPPED, &[item.ty().label(), "queue_full"]);
            }
            Err(Reject::QueueFull)
        }
    }
}

/// Dry run: writes the exact bytes that would go upstream.
async fn write_dry_run(state: &State, out: envelope::Envelope) -> Result<Outcome, Reject> {
    if out.items().is_empty() {
        state.metrics.inc(&metrics::ENVELOPES_EMPTY, &[]);
        return Ok(Outcome::default());
    }
    let id = out.event_id().and_then(crate::ingest::normalize_event_id);
    let sink = &state.sink;
    if let Err(e) = sink.write(out.to_bytes(), id.as_deref()).await {
        state.metrics.inc(&metrics::SINK_ERRORS, &[sink.label()]);
        tracing::warn!(sink = sink.label(), error = %e.kind(), "dry-run write failed");
        return Err(Reject::OutputFailed);
    }
    state
        .metrics
        .inc(&metrics::ENVELOPES_EMITTED, &[sink.label()]);
    Ok(Outcome::default())
}

/// Removes items whose category the upstream rate-limits now; true if any was removed.
fn drop_rate_limited(
    state: &State,
    egress: &Egress,
    upstream: &crate::dsn::Dsn,
    env: &mut envelope::Envelope,
    kept: &mut Vec<scrub::KeptConsent>,
) -> bool {
    let now = Instant::now();
    let keep: Vec<bool> = env
        .items()
        .iter()
        .map(|item| {
            !ratelimit::category(item.ty())
                .is_some_and(|c| egress.limits.is_limited(c, upstream, now))
        })
        .collect();
    if keep.iter().all(|k| *k) {
        return false;
    }
    for (item, k) in env.items().iter().zip(&keep) {
        if !k {
            state.metrics.inc(
                &metrics::ITEMS_DROPPED,
                &[item.ty().label(), "rate_limited"],
            );
        }
    }
    retain_by(env.items_mut(), &keep);
    retain_by(kept, &keep);
    true
}

/// Keeps the elements whose flag is true.
pub fn retain_by<T>(v: &mut Vec<T>, keep: &[bool]) {
    let mut i = 0;
    v.retain(|_| {
        i += 1;
        keep.get(i - 1).copied().unwrap_or(false)
    });
}

/// The first time an event or transaction is dropped for naming no company, says why and
/// what to do: a new user's first events are otherwise silently counted and nothing leaves.
/// Said once per process; the text names no value from the envelope.
fn hint_unattributed(state: &State, report: &scrub::Report) {
    let dropped = ["event", "transaction"].iter().any(|ty| {
        report
            .items_dropped
            .get(ty)
            .is_some_and(|reasons| reasons.contains_key(consent::DropReason::Unattributed.as_str()))
    });
    if dropped
        && !state
            .unattributed_hinted
            .swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        tracing::warn!(
            company_tag = %state.config.policy.config().company_tag,
            "an event naming no company was dropped (--unattributed drop): set the company tag on \
             the SDK's scope, or pass --unattributed forward to send such events without IDs; \
             counted in scrubproxy_items_dropped_total{{reason=\"unattributed\"}}, said once"
        );
    }
}

/// Adds a removal report to the metrics (counts only: the report holds no values).
pub fn record(state: &State, report: &scrub::Report) {
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
    state
        .metrics
        .add_many(entries.iter().map(|(family, labels, n)| {
            let labels = labels.get(..family.labels.len()).unwrap_or(labels);
            (*family, labels, *n)
        }));
}
