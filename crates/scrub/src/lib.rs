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
//! # Map
//!
//! The modules, leaves first; each names only those above it (`tests/layout.rs`).
//!
//! | module | what enters | what leaves |
//! |---|---|---|
//! | [`work`] | bytes about to be examined | the request's work count and whether its budget is spent |
//! | [`words`] | a word or a name | whether it is made of words of code; its words |
//! | [`detect`] | free text | the text with personal data and secrets as typed placeholders, and what was found |
//! | [`normalize`] | a technical string (SQL, URL, path, host, id, log template) | its shape, values removed (`None`: unchanged) |
//! | [`exception_text`] | an exception type and message | the message as a known format with its parts judged, or unknown |
//! | `policy` | the operator's options | the compiled policy (detectors, catalog, vocabulary, patterns) |
//! | [`attribution`] | what an item names (company, user, trace) | the item's company by its own value, its trace's, or the trace map's; consent's [`Decision`] |
//! | [`infer`] | — | the fields that tell the ingest not to infer IP or user agent |
//! | `walk` | one item's fields, one at a time | kept values, `_meta` remarks, report counts, rule ids, scalar guards, the names memo |
//! | `rules` | one app-written value: a transaction or span name, a release, an attribute | the value kept, reshaped, or a placeholder |
//! | `items` | one envelope item | its kept schema, scrubbed and written, with its consent facts |
//!
//! [`scrub_envelope_with`] composes them: every item is read (`items`), attributed
//! ([`attribution`]), decided by consent, walked and written; the header goes last.
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

pub mod attribution;
pub mod detect;
pub mod exception_text;

pub mod infer;
mod items;
pub mod normalize;
mod policy;
mod rules;
mod walk;
pub mod words;
pub mod work;

use envelope::{Envelope, ItemType};

pub use attribution::{AttributedBy, Attribution, Decision, Gate, Learned, TraceCompany, TraceId};
pub use items::header::Upstream;
pub use items::spans_v2::SPAN_V2_CONTENT_TYPE;
pub use items::trace_metric::TRACE_METRIC_CONTENT_TYPE;
pub use items::{
    KeptConsent, DROP_AMBIGUOUS_COMPANY, DROP_DENIED_TYPE, DROP_DISABLED_TYPE, DROP_INVALID,
    DROP_UNKNOWN_TYPE,
};
pub use policy::{pattern_error, pattern_matches};
pub use policy::{
    LogMode, MessageMode, Policy, PolicyConfig, PolicyError, DEFAULT_HEADERS, DEFAULT_TAGS,
};
pub use walk::report::Report;
pub use walk::rules::FILTERED;
pub use walk::values::MAX_ELEMENTS;
pub use work::WorkBudget;

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
    let header_trace = items::header::trace_id(envelope.header());
    let mut held = 0usize;
    let read: Vec<(&'static str, Result<items::Read<'_>, &'static str>)> = (envelope.items())
        .iter()
        .map(|i| {
            // Only the parses of read items count (denied types are not parsed).
            let len = i.payload().len();
            let hold = held.saturating_add(len) <= items::HELD_PARSE_BUDGET;
            let r = items::read(i, policy, header_trace, hold);
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
        let cx = items::Decide {
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
    let header = items::header::scrub_header(
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
