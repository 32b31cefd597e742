//! The gate: what consent says about one item, as the scrubber asks it once per item of a
//! type that can leave (once per company of a span v2 item). Enters: the item's resolved
//! company (or none) and the consent view taken once per envelope. Leaves:
//! [`scrub::Decision`]. Pure, but for [`EnvelopeGate`]'s trace map, which it reads and
//! teaches: attribution rule (c) (docs/consent.md).

use std::time::Instant;

use consent::{Unattributed, Verdict};
use envelope::ItemType;
use scrub::{Attribution, Learned, TraceCompany, TraceId};

use super::traces::{Changes, TraceMap};
use crate::consent_view::ConsentView;

/// The scrubber's decision for a verdict.
pub fn decision(v: Verdict) -> scrub::Decision {
    match v {
        Verdict::Drop(r) => scrub::Decision::Drop(r.as_str()),
        Verdict::Forward { ids_allowed } => scrub::Decision::Forward { ids_allowed },
    }
}

/// The decision for an item of `company` (or of none) under `view`.
pub fn decide(
    view: &ConsentView,
    company: Option<&str>,
    unattributed: Unattributed,
) -> scrub::Decision {
    decision(view.verdict(company, unattributed))
}

/// The gate of one envelope: consent from the view taken for it, the items' traces from the
/// process's trace map (looked up for items this envelope leaves unattributed, taught what
/// its items name), at one instant.
#[derive(Debug)]
pub struct EnvelopeGate<'a> {
    /// The consent in force for this envelope.
    pub view: &'a ConsentView,
    /// What to do with items no rule attributes.
    pub unattributed: Unattributed,
    /// The trace map (rule c).
    pub traces: &'a TraceMap,
    /// The time the map is read and taught at.
    pub now: Instant,
    /// What the map did, for the metrics.
    pub stats: MapStats,
}

/// What one envelope did to the trace map.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MapStats {
    /// Lookups that found the trace's company.
    pub hits: u64,
    /// Lookups that found nothing (never seen, expired or evicted).
    pub misses: u64,
    /// Lookups that found a trace of two companies.
    pub ambiguous: u64,
    /// Entries removed by the lookups and learnings.
    pub changes: Changes,
}

impl scrub::Gate for EnvelopeGate<'_> {
    fn decide(&mut self, _: &ItemType, who: &Attribution<'_>) -> scrub::Decision {
        decide(self.view, who.company, self.unattributed)
    }

    fn trace(&mut self, trace: TraceId) -> TraceCompany {
        let (found, changes) = self.traces.lookup(trace, self.now);
        self.count(changes);
        match &found {
            TraceCompany::Company(_) => self.stats.hits += 1,
            TraceCompany::Unknown => self.stats.misses += 1,
            TraceCompany::Ambiguous => self.stats.ambiguous += 1,
        }
        found
    }

    fn learn(&mut self, trace: TraceId, what: Learned<'_>) {
        let changes = self.traces.learn(trace, what, self.now);
        self.count(changes);
    }
}

impl EnvelopeGate<'_> {
    fn count(&mut self, c: Changes) {
        self.stats.changes.evicted += c.evicted;
        self.stats.changes.expired += c.expired;
    }
}
