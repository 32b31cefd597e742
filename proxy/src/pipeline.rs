//! After ingest: gate and scrub, then hand over to the output. Each stage is a function of
//! the envelope and an immutable snapshot (policy, consent); only the final write does I/O.

use crate::gate;
use crate::ingest::Ingested;
use crate::metrics;
use crate::reject::Reject;
use crate::State;

/// Runs gate and scrub, and writes what is left. An error means the SDK must retry.
pub async fn process(state: &State, ingested: Ingested) -> Result<(), Reject> {
    let Ingested {
        envelope, upstream, ..
    } = ingested;
    for item in envelope.items() {
        state
            .metrics
            .inc(&metrics::ITEMS_RECEIVED, &[item.ty().label()]);
    }
    let view = state.consent_view();
    let unattributed = state.config.consent.unattributed;
    let dsn = upstream.as_ref().map(|d| d.to_string());
    let target = scrub::Upstream {
        dsn: dsn.as_deref(),
        public_key: upstream.as_ref().map(|d| d.public_key.as_str()),
    };
    let scrubbed =
        scrub::scrub_envelope(&envelope, &state.config.policy, target, |_, attribution| {
            gate::decision(view.verdict(attribution.and_then(|a| a.company), unattributed))
        });
    record(state, &scrubbed.report);
    if scrubbed.envelope.items().is_empty() {
        state.metrics.inc(&metrics::ENVELOPES_EMPTY, &[]);
        return Ok(());
    }
    let id = scrubbed
        .envelope
        .event_id()
        .and_then(crate::ingest::normalize_event_id);
    let bytes = scrubbed.envelope.to_bytes();
    let sink = &state.sink;
    if let Err(e) = sink.write(bytes, id.as_deref()).await {
        state.metrics.inc(&metrics::SINK_ERRORS, &[sink.label()]);
        tracing::warn!(sink = sink.label(), error = %e.kind(), "dry-run write failed");
        return Err(Reject::OutputFailed);
    }
    state
        .metrics
        .inc(&metrics::ENVELOPES_EMITTED, &[sink.label()]);
    Ok(())
}

/// Adds a removal report to the metrics (counts only: the report holds no values).
pub fn record(state: &State, report: &scrub::Report) {
    let m = &state.metrics;
    for (ty, reasons) in &report.items_dropped {
        for (reason, n) in reasons {
            m.add(&metrics::ITEMS_DROPPED, &[ty, reason], u64::from(*n));
        }
    }
    for (rule, n) in &report.redactions {
        m.add(&metrics::REDACTIONS, &[rule], u64::from(*n));
    }
    for (field, n) in &report.removed_fields {
        m.add(&metrics::FIELDS_REMOVED, &[field], u64::from(*n));
    }
}
