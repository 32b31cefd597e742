//! One item, in two steps: [`read`] parses it (denied, unknown and disabled types are
//! refused before a byte of payload is read) and takes its own attribution; once every
//! item of the envelope is read and the companies of its traces are known, [`Read::decide`]
//! asks consent, scrubs what may leave and writes it. Batch items (span v2, trace metrics)
//! are decided per record and split by company ([`batch`]).

mod batch;
mod check_in;
pub(crate) mod event;
pub(crate) mod header;
mod profile;
mod session;
pub(crate) mod spans_v2;
pub(crate) mod trace_metric;

use bytes::Bytes;
use envelope::{Item, ItemType};

use crate::attribution::Decision;
use crate::attribution::Traces;
use crate::attribution::{Ambiguous, AttributedBy, Attribution, Gate, Own, Resolved, TraceId};
use crate::policy::Policy;
use crate::walk::names::Names;
use crate::walk::report::Report;
use crate::walk::Ctx;
use crate::work::Meter;
use event::Event;
use spans_v2::SpanBatch;
use spans_v2::SPAN_V2_CONTENT_TYPE;
use trace_metric::MetricBatch;

pub(crate) use batch::Records;
use batch::Typed;

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

/// An item parsed into its kept schema, before consent.
pub(crate) enum Parsed<'a> {
    /// An item of one record (an event, a span v1, a session, a profile …).
    One(Box<dyn Write + 'a>),
    /// A span v2 item: decided per record.
    Spans(Typed<SpanBatch<'a>>),
    /// A trace metric item: decided per record.
    Metrics(Typed<MetricBatch<'a>>),
    /// Parsed for its attribution, then let go: parsed again when decided (see
    /// [`HELD_PARSE_BUDGET`]).
    Later,
}

/// Payload bytes of an envelope's items whose parse is held from reading to deciding.
/// Typical envelopes (a few KiB) are parsed once; past it (an envelope of many large
/// events, or a large profile), items are parsed again when decided, so that the memory
/// an envelope takes stays that of one parsed item at a time, as before attribution
/// needed every item read first. Batch items are always held: their records' attributions
/// are read from the parse, and a record keeps only its allowlisted fields.
pub(crate) const HELD_PARSE_BUDGET: usize = 4 << 20;

/// One item type's kept schema: what scrubbing it is. Every type of one record implements
/// it, so deciding an item is the same steps whatever its type (batches are decided per
/// record, [`batch`]).
pub(crate) trait ItemSchema: serde::Serialize {
    /// Scrubs the parsed item in place: what is not kept goes, what is kept is judged.
    fn scrub(&mut self, cx: &mut Ctx<'_>);
}

/// [`ItemSchema`] behind a box: scrub, then write the JSON payload.
pub(crate) trait Write {
    /// Scrubs and writes; `input_len` is the payload's size (see [`to_bytes`]).
    fn scrub_and_write(
        &mut self,
        cx: &mut Ctx<'_>,
        input_len: usize,
    ) -> Result<Bytes, &'static str>;
}

impl<T: ItemSchema> Write for T {
    fn scrub_and_write(
        &mut self,
        cx: &mut Ctx<'_>,
        input_len: usize,
    ) -> Result<Bytes, &'static str> {
        ItemSchema::scrub(self, cx);
        to_bytes(self, input_len)
    }
}

impl ItemSchema for Event<'_> {
    fn scrub(&mut self, cx: &mut Ctx<'_>) {
        Event::scrub(self, cx);
    }
}

impl ItemSchema for event::span::Span<'_> {
    fn scrub(&mut self, cx: &mut Ctx<'_>) {
        event::span::Span::scrub(self, cx);
    }
}

impl ItemSchema for session::Session<'_> {
    fn scrub(&mut self, cx: &mut Ctx<'_>) {
        session::Session::scrub(self, cx);
    }
}

impl ItemSchema for session::Sessions<'_> {
    fn scrub(&mut self, cx: &mut Ctx<'_>) {
        session::Sessions::scrub(self, cx);
    }
}

impl ItemSchema for session::ClientReport<'_> {
    /// Counts only: nothing to judge, the schema is the whole rule.
    fn scrub(&mut self, _: &mut Ctx<'_>) {
        session::ClientReport::scrub(self);
    }
}

impl ItemSchema for profile::Profile<'_> {
    fn scrub(&mut self, cx: &mut Ctx<'_>) {
        profile::Profile::scrub(self, cx);
    }
}

impl ItemSchema for check_in::CheckIn<'_> {
    fn scrub(&mut self, cx: &mut Ctx<'_>) {
        check_in::CheckIn::scrub(self, cx);
    }
}

/// A read item: its type, its parse and its own attribution.
pub(crate) struct Read<'a> {
    item: &'a Item,
    ty: &'a ItemType,
    payload_len: usize,
    header_trace: Option<TraceId>,
    parsed: Parsed<'a>,
    /// The item's own attribution (a batch's records carry theirs).
    own: Own,
}

/// What one decided item became.
pub(crate) struct Decided {
    /// Items to send, each with its consent facts (a batch becomes one per company).
    pub kept: Vec<(Item, KeptConsent)>,
}

/// What deciding reads and writes besides the gate.
pub(crate) struct Decide<'d> {
    /// The compiled policy.
    pub policy: &'d Policy,
    /// The envelope's traces (rule b) and the trace map's answers (rule c).
    pub traces: &'d mut Traces,
    /// The removal report.
    pub report: &'d mut Report,
    /// The names decided so far in this envelope.
    pub names: &'d mut Names,
    /// The request's work meter.
    pub meter: Meter,
}

/// Parses an item and reads its own attribution. `header_trace` (the envelope header's
/// `trace.trace_id`) is the trace of items of a request that carry none of their own.
/// `hold`: keep the parse for [`Read::decide`] (else it parses again).
pub(crate) fn read<'a>(
    item: &'a Item,
    policy: &Policy,
    header_trace: Option<TraceId>,
    hold: bool,
) -> Result<Read<'a>, &'static str> {
    let (mut parsed, own) = parse_item(item, policy, header_trace)?;
    if !hold && !matches!(parsed, Parsed::Spans(_) | Parsed::Metrics(_)) {
        parsed = Parsed::Later;
    }
    Ok(Read {
        item,
        ty: item.ty(),
        payload_len: item.payload().len(),
        header_trace,
        parsed,
        own,
    })
}

/// The item in its kept schema, and its own attribution.
fn parse_item<'a>(
    item: &'a Item,
    policy: &Policy,
    header_trace: Option<TraceId>,
) -> Result<(Parsed<'a>, Own), &'static str> {
    let ty = item.ty();
    let payload = item.payload();
    let tag = policy.config.company_tag.as_str();
    let mut own = Own::default();
    let parsed = match ty {
        ItemType::Event | ItemType::Transaction => {
            let mut ev: Event<'_> = parse(payload)?;
            // Numbers under the company tag become strings here, so the kept tag is a string.
            let company = match ev.attribution(tag) {
                Ok(a) => Ok(a.company.map(str::to_owned)),
                Err(_) => Err(Ambiguous),
            };
            own = Own {
                by: AttributedBy::Tag,
                user: ev.user_id().map(str::to_owned),
                trace: ev.trace_id().and_then(TraceId::parse).or(header_trace),
                company,
            };
            Parsed::One(Box::new(ev))
        }
        ItemType::Span if item.content_type() == Some(SPAN_V2_CONTENT_TYPE) => {
            own.trace = header_trace;
            Parsed::Spans(Typed::read(payload, tag, header_trace)?)
        }
        ItemType::TraceMetric => {
            // Metric envelopes carry no trace in their header: each record names its own.
            own.trace = header_trace;
            Parsed::Metrics(Typed::read(payload, tag, header_trace)?)
        }
        ItemType::Span => {
            let mut span: event::span::Span<'_> = parse(payload)?;
            let company = event::company_values(tag, std::iter::once(span.tags_mut()))
                .map(|c| c.map(str::to_owned))
                .map_err(|_| Ambiguous);
            own = Own {
                by: AttributedBy::Tag,
                user: None,
                trace: span.trace_id().and_then(TraceId::parse).or(header_trace),
                company,
            };
            Parsed::One(Box::new(span))
        }
        // Sessions and client reports belong to no request: no trace, no company.
        ItemType::Session => one::<session::Session<'_>>(payload)?,
        ItemType::Sessions => one::<session::Sessions<'_>>(payload)?,
        ItemType::ClientReport => one::<session::ClientReport<'_>>(payload)?,
        ItemType::Profile | ItemType::ProfileChunk if policy.config.allow_profiles => {
            let p: profile::Profile<'_> = parse(payload)?;
            // A transaction profile names its transaction's trace; a profile chunk samples
            // the whole process for a minute, every request of every company: it has none.
            if *ty == ItemType::Profile {
                own.trace = p.trace_id().and_then(TraceId::parse).or(header_trace);
            }
            Parsed::One(Box::new(p))
        }
        ItemType::CheckIn if policy.config.allow_check_ins => {
            let c: check_in::CheckIn<'_> = parse(payload)?;
            own.trace = c.trace_id().and_then(TraceId::parse).or(header_trace);
            Parsed::One(Box::new(c))
        }
        ItemType::Profile | ItemType::ProfileChunk | ItemType::CheckIn => {
            return Err(DROP_DISABLED_TYPE)
        }
        ItemType::Unknown(_) => return Err(DROP_UNKNOWN_TYPE),
        _ => return Err(DROP_DENIED_TYPE),
    };
    Ok((parsed, own))
}

impl<'a> Read<'a> {
    /// Every own attribution the item holds (one, or one per record of a batch).
    pub fn note(&self, traces: &mut Traces) {
        match &self.parsed {
            Parsed::Spans(b) => b.note(traces),
            Parsed::Metrics(b) => b.note(traces),
            _ => traces.note(&self.own),
        }
    }

    /// Resolves the company, asks consent and scrubs. A batch is decided per record and
    /// split into one item per company, so that every item sent has one company's consent
    /// (which the egress re-check and the spool's erasure read per item).
    pub fn decide<G: Gate + ?Sized>(
        self,
        cx: Decide<'_>,
        gate: &mut G,
    ) -> Result<Decided, &'static str> {
        let parsed = match self.parsed {
            Parsed::Spans(b) => return b.decide(self.ty, &self.own, cx, gate),
            Parsed::Metrics(b) => return b.decide(self.ty, &self.own, cx, gate),
            parsed => parsed,
        };
        let Decide {
            policy,
            traces,
            report,
            names,
            meter,
        } = cx;
        let resolved = traces
            .resolve(&self.own, gate)
            .map_err(|Ambiguous| DROP_AMBIGUOUS_COMPANY)?;
        let who = attribution(&resolved, &self.own);
        let ids_allowed = match gate.decide(self.ty, &who) {
            Decision::Drop(reason) => return Err(reason),
            Decision::Forward { ids_allowed } => ids_allowed,
        };
        let parsed = match parsed {
            Parsed::Later => parse_item(self.item, policy, self.header_trace)?.0,
            parsed => parsed,
        };
        let mut cx = Ctx::new(policy, ids_allowed, report, names, meter);
        let ty = self.ty.clone();
        let n = self.payload_len;
        let bytes = match parsed {
            Parsed::One(mut item) => item.scrub_and_write(&mut cx, n)?,
            Parsed::Spans(_) | Parsed::Metrics(_) | Parsed::Later => return Err(DROP_INVALID),
        };
        let kept = KeptConsent {
            company: resolved.company,
            ids_allowed,
        };
        Ok(Decided {
            kept: vec![(Item::new(ty, bytes), kept)],
        })
    }
}

/// What the gate is asked about an item (or a group of records) of `resolved`'s company.
fn attribution<'r>(resolved: &'r Resolved, own: &'r Own) -> Attribution<'r> {
    Attribution {
        company: resolved.company.as_deref(),
        user: own.user.as_deref(),
        trace_id: own.trace,
        by: resolved.by,
    }
}

/// An item of one record, parsed into its schema `T`.
fn one<'a, T: ItemSchema + serde::Deserialize<'a> + 'a>(
    payload: &'a [u8],
) -> Result<Parsed<'a>, &'static str> {
    Ok(Parsed::One(Box::new(parse::<T>(payload)?)))
}

/// Parses an item payload. The payload's UTF-8 is validated once, whole, so the parser need
/// not validate each string it borrows (that per-string check was 4 % of a transaction's
/// scrub). Invalid UTF-8 was a parse error either way.
fn parse<'a, T: serde::Deserialize<'a>>(payload: &'a [u8]) -> Result<T, &'static str> {
    let text = std::str::from_utf8(payload).map_err(|_| DROP_INVALID)?;
    serde_json::from_str(text).map_err(|_| DROP_INVALID)
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
