//! The gate: what consent says about one item, as the scrubber asks it once per item of a
//! type that can leave. Enters: the item's company (or none) and the consent view taken
//! once per envelope. Leaves: [`scrub::Decision`]. Pure.

use consent::{Unattributed, Verdict};

use crate::consent_source::ConsentView;

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
