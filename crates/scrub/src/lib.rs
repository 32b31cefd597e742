//! Default-deny scrubbing policy for Sentry envelopes: only technical data leaves.
//!
//! The allowlist is the schema: each kept item type is parsed into types that declare only
//! the kept fields, so anything undeclared is skipped by the parser and never re-emitted.
//! Every kept string then passes the [`detect`] detectors, which replace personal data and
//! secrets with typed placeholders (`[email]`, `[card]` …) and record each replacement in
//! the event's `_meta` and in a [`Report`] of counts (never values).
//!
//! Pure functions: no I/O, no clock. Consent is a callback: the caller decides, per item,
//! whether it leaves and whether IDs may go with it.
//!
//! ```
//! use bytes::Bytes;
//! use envelope::Envelope;
//! use scrub::{scrub_envelope, Decision, Policy, PolicyConfig, Upstream};
//!
//! let policy = Policy::new(PolicyConfig::default()).unwrap();
//! let body = Bytes::from_static(
//!     b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n\
//!       {\"type\":\"event\"}\n\
//!       {\"message\":\"hi\",\"user\":{\"email\":\"alice@example.com\"},\"exception\":{\"values\":[{\"type\":\"ValueError\",\"value\":\"bad prompt from alice@example.com\"}]}}\n",
//! );
//! let env = Envelope::parse(body).unwrap();
//! let out = scrub_envelope(&env, &policy, Upstream::default(), |_, _| Decision::Forward { ids_allowed: false });
//! let text = String::from_utf8(out.envelope.to_bytes().to_vec()).unwrap();
//! assert!(!text.contains("alice"));
//! assert_eq!(out.report.removed_fields["user"], 1);
//! ```

mod attributes;
pub mod attribution;
mod deploy;
pub mod detect;
mod event;
pub mod exception_text;
mod header;

pub mod infer;
mod item;
mod names;
pub mod normalize;
mod policy;
mod profile;
mod session;
mod spans_v2;
mod trace_metric;
mod walk;
pub mod work;
pub mod words;

use envelope::{Envelope, ItemType};

pub use attribution::{AttributedBy, Attribution, Gate, Learned, TraceCompany, TraceId};
pub use walk::rules::FILTERED;
pub use deploy::{pattern_error, pattern_matches};
pub use header::Upstream;
pub use policy::{
    LogMode, MessageMode, Policy, PolicyConfig, PolicyError, DEFAULT_HEADERS, DEFAULT_TAGS,
};
pub use walk::report::Report;
pub use spans_v2::SPAN_V2_CONTENT_TYPE;
pub use trace_metric::TRACE_METRIC_CONTENT_TYPE;
pub use walk::values::MAX_ELEMENTS;
pub use work::WorkBudget;

/// What consent says about one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Remove the item; the reason is counted.
    Drop(&'static str),
    /// Keep the item (scrubbed); with or without company and user IDs.
    Forward {
        /// Whether `user.id`, the company tag and a session's `did` may stay.
        ids_allowed: bool,
    },
}

/// A scrubbed envelope and what was removed from it.
#[derive(Debug)]
pub struct Scrubbed {
    /// What may leave. It can have no items left.
    pub envelope: Envelope,
    /// Counts by rule, field and item type.
    pub report: Report,
    /// For each kept item, in order: the company it was attributed to and whether it was
    /// scrubbed with IDs allowed, so consent can be checked again before sending.
    pub consent: Vec<KeptConsent>,
}

/// The consent facts of one kept item: everything the re-check before each send and the
/// spool's erasure on revocation need, so that one item is one company's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptConsent {
    /// The company the item was attributed to: its own tag or attribute, or its trace's
    /// (same envelope, or the trace map). A revocation of that company drops the item.
    pub company: Option<String>,
    /// Whether IDs were kept.
    pub ids_allowed: bool,
}

/// Item drop reason: a type that never leaves (attachments, replays, logs, feedback …).
pub const DROP_DENIED_TYPE: &str = "item_type_denied";
/// Item drop reason: a type this proxy does not know.
pub const DROP_UNKNOWN_TYPE: &str = "unknown_item_type";
/// Item drop reason: a technical type the operator did not enable (profiles, check-ins).
pub const DROP_DISABLED_TYPE: &str = "item_type_disabled";
/// Item drop reason: the payload does not parse as its type (fail closed).
pub const DROP_INVALID: &str = "invalid_payload";
/// Item drop reason: the item names more than one company (two company tags that differ,
/// in any case or form), or names none and belongs to a trace whose items name two, so no
/// company's consent can decide it.
pub const DROP_AMBIGUOUS_COMPANY: &str = "ambiguous_company";

/// Scrubs every item of an envelope. `gate` is asked once per kept-type item (once per
/// company of a span v2 item), with its attribution: `Some` for events and transactions and
/// for any item with a company or a trace, `None` for the rest. A closure has no trace map:
/// items are attributed by their own value and by the items of the same envelope and trace;
/// see [`scrub_envelope_with`] for a gate that remembers traces across envelopes.
pub fn scrub_envelope<G>(
    envelope: &Envelope,
    policy: &Policy,
    upstream: Upstream<'_>,
    gate: G,
) -> Scrubbed
where
    G: FnMut(&ItemType, Option<Attribution<'_>>) -> Decision,
{
    scrub_envelope_with(envelope, policy, upstream, &mut attribution::FnGate(gate))
}

/// Scrubs every item of an envelope, attributing each to a company in the order of
/// [`attribution`]: first every item is read and the companies its items name for each
/// trace are noted (and taught to `gate`, [`Gate::learn`]); then each item's company is
/// resolved (its own, its trace's in this envelope, or [`Gate::trace`]), consent is asked
/// ([`Gate::decide`]) and what may leave is scrubbed.
pub fn scrub_envelope_with<G: Gate + ?Sized>(
    envelope: &Envelope,
    policy: &Policy,
    upstream: Upstream<'_>,
    gate: &mut G,
) -> Scrubbed {
    let mut report = Report::default();
    let mut names = walk::names::Names::default();
    // One budget for the whole envelope: its size is what the sender paid for. Reading
    // every item for its attribution is charged to it too.
    let size = envelope.items().iter().map(|i| i.payload().len()).sum();
    let meter = work::Meter::start(policy.budget.limit(size));
    let header_trace = header::trace_id(envelope.header());
    let mut held = 0usize;
    let read: Vec<(&'static str, Result<item::Read<'_>, &'static str>)> = (envelope.items())
        .iter()
        .map(|i| {
            // Only the parses of read items count (denied types are not parsed).
            let len = i.payload().len();
            let hold = held.saturating_add(len) <= item::HELD_PARSE_BUDGET;
            let r = item::read(i, policy, header_trace, hold);
            if hold && r.is_ok() {
                held += len;
            }
            (i.ty().label(), r)
        })
        .collect();
    let mut traces = attribution::Traces::default();
    for (_, r) in &read {
        if let Ok(r) = r {
            r.note(&mut traces);
        }
    }
    traces.teach(gate);
    let mut items = Vec::with_capacity(read.len());
    let mut consent = Vec::with_capacity(read.len());
    for (label, r) in read {
        let cx = item::Decide {
            policy,
            traces: &mut traces,
            report: &mut report,
            names: &mut names,
            meter,
        };
        match r.and_then(|r| r.decide(cx, gate)) {
            Ok(decided) => {
                for (new, kept) in decided.kept {
                    report.kept(label);
                    items.push(new);
                    consent.push(kept);
                }
            }
            Err(reason) => report.dropped(label, reason),
        }
    }
    // The header last: its `trace.transaction` copies a name the items decided.
    let header = header::scrub_header(
        envelope.header(),
        upstream,
        policy,
        &mut report,
        &mut names,
        meter,
    );
    report.work = meter.used();
    let mut out = Envelope::from_header(header);
    for item in items {
        out.push(item);
    }
    Scrubbed {
        envelope: out,
        report,
        consent,
    }
}
