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
mod ctx;
mod deploy;
pub mod detect;
mod event;
pub mod exception_text;
mod header;
pub mod hosts;
mod meta;
mod names;
pub mod normalize;
mod policy;
mod profile;
mod report;
mod session;
mod spans_v2;
mod trace_metric;
mod values;
pub mod work;

use bytes::Bytes;
use envelope::{Envelope, Item, ItemType};
use serde_json::{Map, Value};

pub use ctx::FILTERED;
pub use deploy::{pattern_error, pattern_matches};
pub use event::Attribution;
pub use header::Upstream;
pub use policy::{
    LogMode, MessageMode, Policy, PolicyConfig, PolicyError, DEFAULT_HEADERS, DEFAULT_TAGS,
};
pub use report::Report;
pub use spans_v2::SPAN_V2_CONTENT_TYPE;
pub use trace_metric::TRACE_METRIC_CONTENT_TYPE;
pub use values::MAX_ELEMENTS;
pub use work::WorkBudget;

use ctx::Ctx;
use event::Event;

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

/// The consent facts of one kept item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptConsent {
    /// The company tag's value, if the item had one.
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
/// in any case or form), so no company's consent can decide it.
pub const DROP_AMBIGUOUS_COMPANY: &str = "ambiguous_company";

/// Scrubs every item of an envelope. `gate` is asked once per kept-type item, with the
/// event's attribution when it has one, and decides whether it leaves and with which IDs.
pub fn scrub_envelope<G>(
    envelope: &Envelope,
    policy: &Policy,
    upstream: Upstream<'_>,
    mut gate: G,
) -> Scrubbed
where
    G: FnMut(&ItemType, Option<Attribution<'_>>) -> Decision,
{
    let mut report = Report::default();
    let mut names = names::Names::default();
    // One budget for the whole envelope: its size is what the sender paid for.
    let size = envelope.items().iter().map(|i| i.payload().len()).sum();
    let meter = work::Meter::start(policy.budget.limit(size));
    let mut items = Vec::with_capacity(envelope.items().len());
    let mut consent = Vec::with_capacity(envelope.items().len());
    for item in envelope.items() {
        let label = item.ty().label();
        let mut kept = KeptConsent {
            company: None,
            ids_allowed: false,
        };
        let mut recording_gate = |ty: &ItemType, attribution: Option<Attribution<'_>>| {
            kept.company = attribution.and_then(|a| a.company).map(str::to_owned);
            let d = gate(ty, attribution);
            kept.ids_allowed = matches!(d, Decision::Forward { ids_allowed: true });
            d
        };
        match scrub_item(
            item,
            policy,
            &mut recording_gate,
            &mut report,
            &mut names,
            meter,
        ) {
            Ok(new) => {
                report.kept(label);
                items.push(new);
                consent.push(kept);
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

fn scrub_item<G>(
    item: &Item,
    policy: &Policy,
    gate: &mut G,
    report: &mut Report,
    names: &mut names::Names,
    meter: work::Meter,
) -> Result<Item, &'static str>
where
    G: FnMut(&ItemType, Option<Attribution<'_>>) -> Decision,
{
    let ty = item.ty();
    let payload = item.payload();
    match ty {
        ItemType::Event | ItemType::Transaction => {
            let mut ev: Event<'_> = parse(payload)?;
            let attribution = ev.attribution(&policy.config.company_tag)?;
            let ids_allowed = decide(gate(ty, Some(attribution)))?;
            ev.scrub(&mut Ctx::new(policy, ids_allowed, report, names, meter));
            Ok(Item::new(ty.clone(), to_bytes(&ev, payload.len())?))
        }
        ItemType::Span if item.content_type() == Some(SPAN_V2_CONTENT_TYPE) => {
            let tag = &policy.config.company_tag;
            let mut batch: spans_v2::SpanBatch<'_> =
                attributes::with_company_key(tag, || parse(payload))?;
            let ids_allowed = decide(gate(ty, Some(batch.attribution()?)))?;
            batch.scrub(&mut Ctx::new(policy, ids_allowed, report, names, meter));
            let header = batch_header("span", SPAN_V2_CONTENT_TYPE, batch.len());
            Item::with_header(header, to_bytes(&batch, payload.len())?).map_err(|_| DROP_INVALID)
        }
        ItemType::TraceMetric => {
            let tag = &policy.config.company_tag;
            let mut batch: trace_metric::MetricBatch<'_> =
                attributes::with_company_key(tag, || parse(payload))?;
            let ids_allowed = decide(gate(ty, Some(batch.attribution()?)))?;
            batch.scrub(&mut Ctx::new(policy, ids_allowed, report, names, meter));
            let header = batch_header("trace_metric", TRACE_METRIC_CONTENT_TYPE, batch.len());
            Item::with_header(header, to_bytes(&batch, payload.len())?).map_err(|_| DROP_INVALID)
        }
        ItemType::Span => {
            let ids_allowed = decide(gate(ty, None))?;
            let mut span: event::span::Span<'_> = parse(payload)?;
            span.scrub(&mut Ctx::new(policy, ids_allowed, report, names, meter));
            Ok(Item::new(ty.clone(), to_bytes(&span, payload.len())?))
        }
        ItemType::Session => {
            let mut s: session::Session<'_> = parse(payload)?;
            let ids_allowed = decide(gate(ty, None))?;
            s.scrub(&mut Ctx::new(policy, ids_allowed, report, names, meter));
            Ok(Item::new(ty.clone(), to_bytes(&s, payload.len())?))
        }
        ItemType::Sessions => {
            let mut s: session::Sessions<'_> = parse(payload)?;
            let ids_allowed = decide(gate(ty, None))?;
            s.scrub(&mut Ctx::new(policy, ids_allowed, report, names, meter));
            Ok(Item::new(ty.clone(), to_bytes(&s, payload.len())?))
        }
        ItemType::ClientReport => {
            let mut r: session::ClientReport<'_> = parse(payload)?;
            decide(gate(ty, None))?;
            r.scrub();
            Ok(Item::new(ty.clone(), to_bytes(&r, payload.len())?))
        }
        ItemType::Profile | ItemType::ProfileChunk if policy.config.allow_profiles => {
            let mut p: profile::Profile<'_> = parse(payload)?;
            let ids_allowed = decide(gate(ty, None))?;
            p.scrub(&mut Ctx::new(policy, ids_allowed, report, names, meter));
            Ok(Item::new(ty.clone(), to_bytes(&p, payload.len())?))
        }
        ItemType::CheckIn if policy.config.allow_check_ins => {
            let mut c: profile::CheckIn<'_> = parse(payload)?;
            let ids_allowed = decide(gate(ty, None))?;
            c.scrub(&mut Ctx::new(policy, ids_allowed, report, names, meter));
            Ok(Item::new(ty.clone(), to_bytes(&c, payload.len())?))
        }
        ItemType::Profile | ItemType::ProfileChunk | ItemType::CheckIn => Err(DROP_DISABLED_TYPE),
        ItemType::Unknown(_) => Err(DROP_UNKNOWN_TYPE),
        _ => Err(DROP_DENIED_TYPE),
    }
}

/// Parses an item payload. The payload's UTF-8 is validated once, whole, so the parser need
/// not validate each string it borrows (that per-string check was 4 % of a transaction's
/// scrub). Invalid UTF-8 was a parse error either way.
fn parse<'a, T: serde::Deserialize<'a>>(payload: &'a [u8]) -> Result<T, &'static str> {
    let text = std::str::from_utf8(payload).map_err(|_| DROP_INVALID)?;
    serde_json::from_str(text).map_err(|_| DROP_INVALID)
}

/// The item header of a batch item: its type, content type and record count (the length
/// is written by the codec).
fn batch_header(ty: &str, content_type: &str, count: usize) -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("type".into(), ty.into());
    header.insert("content_type".into(), content_type.into());
    header.insert("item_count".into(), Value::from(count));
    header
}

fn decide(d: Decision) -> Result<bool, &'static str> {
    match d {
        Decision::Drop(reason) => Err(reason),
        Decision::Forward { ids_allowed } => Ok(ids_allowed),
    }
}

/// Serialises a scrubbed item. The output is never larger than the input by much (fields
/// only go, placeholders are short), so the input's size avoids regrowing the buffer.
fn to_bytes<T: serde::Serialize>(v: &T, input_len: usize) -> Result<Bytes, &'static str> {
    let mut out = Vec::with_capacity(input_len.min(1 << 20));
    serde_json::to_writer(&mut out, v).map_err(|_| DROP_INVALID)?;
    // Queued items are counted by length: do not keep much more than that allocated
    // (shrinking in place is cheap for the allocator).
    if out.capacity() > out.len() + out.len() / 4 {
        out.shrink_to_fit();
    }
    Ok(Bytes::from(out))
}
