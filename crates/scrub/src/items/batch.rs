//! Batch items: `{"version": 2, "items": [record, …]}`, the container of span v2 items and
//! trace metrics (and logs). Each record names its own trace and, when the app set it, its
//! company (the `--company-tag` attribute: sentry-sdk 3.x's `set_attribute` reaches every
//! span that ends after the call). One item can hold records of several companies, or
//! records with and without the attribute (3.x: the spans that end before the middleware
//! runs have none), so consent is decided per record.
//!
//! A batch is parsed once, into its kept schema: the company attribute is captured while
//! parsing ([`crate::rules::attributes::with_company_key`]), so each record's own attribution is
//! read from the typed record, with no second pass over the payload. When the records
//! resolve to several companies, the typed records are moved into one batch per company,
//! each scrubbed under its company's consent and written as an item of its own.

use std::collections::HashMap;

use envelope::{Item, ItemType};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{parse, to_bytes, Decide, Decided};
use super::{KeptConsent, DROP_AMBIGUOUS_COMPANY, DROP_INVALID};
use crate::attribution::Decision;
use crate::attribution::{AttributedBy, Attribution, Gate, Own, Resolved, TraceId, Traces};
use crate::walk::Ctx;

/// A batch type's schema: its records, how a record names its company and trace, and how
/// the whole batch is scrubbed.
pub(crate) trait Records<'a>: Deserialize<'a> + Serialize + Sized {
    /// One record.
    type Record;
    /// The item type written.
    const TYPE: &'static str;
    /// The content type written.
    const CONTENT_TYPE: &'static str;
    /// The records, as parsed (nulls skipped, at most [`crate::MAX_ELEMENTS`]).
    fn records(&mut self) -> &mut Vec<Self::Record>;
    /// A batch of these records (one company's, when an item is split).
    fn from_records(records: Vec<Self::Record>) -> Self;
    /// A record's own attribution: its company attribute, `user.id` and trace (else the
    /// envelope's `header_trace`).
    fn own(record: &mut Self::Record, header_trace: Option<TraceId>) -> Own;
    /// Scrubs every record.
    fn scrub(&mut self, cx: &mut Ctx<'_>);
}

/// A parsed batch and each record's own attribution, in the records' order.
pub(crate) struct Typed<B> {
    batch: B,
    owns: Vec<Own>,
    /// The payload's size: what the output is not much larger than.
    len: usize,
}

/// One company's records of a batch.
struct Group {
    resolved: Resolved,
    /// The first record of the group (its trace is what the gate is told).
    first: usize,
    /// The first record of the group that names a user (3.x's early spans name none).
    user: Option<usize>,
    count: u32,
    /// `Some(ids_allowed)` once consent let the group leave.
    verdict: Option<bool>,
}

impl<'a, B: Records<'a>> Typed<B> {
    /// Parses a batch with the company attribute captured, and reads each record's own
    /// attribution from it.
    pub fn read(
        payload: &'a [u8],
        company_tag: &str,
        header_trace: Option<TraceId>,
    ) -> Result<Typed<B>, &'static str> {
        let mut batch: B =
            crate::rules::attributes::with_company_key(company_tag, || parse(payload))?;
        let owns = (batch.records().iter_mut())
            .map(|r| B::own(r, header_trace))
            .collect();
        Ok(Typed {
            batch,
            owns,
            len: payload.len(),
        })
    }

    /// Notes every record's own attribution (rule b).
    pub fn note(&self, traces: &mut Traces) {
        self.owns.iter().for_each(|o| traces.note(o));
    }

    /// Splits the batch by company: records are grouped by their resolved company (in the
    /// order each company first appears), each group is asked once and leaves as an item
    /// of its own. Records of a trace that names two companies, and records naming two
    /// themselves, are dropped. Dropped records are counted one by one (the `span`
    /// category counts spans). `container` is the item's own attribution: an item without
    /// records is decided as one item of the envelope's trace.
    pub fn decide<G: Gate + ?Sized>(
        self,
        ty: &ItemType,
        container: &Own,
        cx: Decide<'_>,
        gate: &mut G,
    ) -> Result<Decided, &'static str> {
        let Decide {
            policy,
            traces,
            report,
            names,
            meter,
        } = cx;
        let label = ty.label();
        let Typed {
            mut batch,
            owns,
            len,
        } = self;
        let container = [container.clone()];
        let owns: &[Own] = if owns.is_empty() { &container } else { &owns };
        let mut groups: Vec<Group> = Vec::new();
        let mut by_company: HashMap<Option<String>, usize> = HashMap::new();
        let mut member: Vec<Option<usize>> = Vec::with_capacity(owns.len());
        let mut ambiguous = 0u32;
        for (i, own) in owns.iter().enumerate() {
            let Ok(r) = traces.resolve(own, gate) else {
                ambiguous += 1;
                member.push(None);
                continue;
            };
            let g = *by_company.entry(r.company.clone()).or_insert_with(|| {
                groups.push(Group {
                    resolved: r.clone(),
                    first: i,
                    user: None,
                    count: 0,
                    verdict: None,
                });
                groups.len() - 1
            });
            let group = &mut groups[g];
            group.resolved.by = most_direct(group.resolved.by, r.by);
            group.count += 1;
            if group.user.is_none() && own.user.is_some() {
                group.user = Some(i);
            }
            member.push(Some(g));
        }
        report.dropped_n(label, DROP_AMBIGUOUS_COMPANY, ambiguous);
        for g in &mut groups {
            let who = Attribution {
                company: g.resolved.company.as_deref(),
                user: g.user.and_then(|i| owns[i].user.as_deref()),
                trace_id: owns[g.first].trace,
                by: g.resolved.by,
            };
            match gate.decide(ty, &who) {
                Decision::Drop(reason) => report.dropped_n(label, reason, g.count),
                Decision::Forward { ids_allowed } => g.verdict = Some(ids_allowed),
            }
        }
        // Most items hold one company's records and leave whole: no records moved.
        let whole = ambiguous == 0 && groups.len() == 1;
        let mut parts: Vec<Option<B>> = if whole {
            vec![groups[0].verdict.map(|_| batch)]
        } else {
            let mut split: Vec<Option<Vec<B::Record>>> = (groups.iter())
                .map(|g| g.verdict.map(|_| Vec::with_capacity(g.count as usize)))
                .collect();
            let records = std::mem::take(batch.records());
            for (r, m) in records.into_iter().zip(&member) {
                if let Some(Some(part)) = m.map(|g| split[g].as_mut()) {
                    part.push(r);
                }
            }
            split.into_iter().map(|p| p.map(B::from_records)).collect()
        };
        let mut kept = Vec::with_capacity(groups.len());
        for (g, part) in groups.into_iter().zip(&mut parts) {
            let (Some(ids_allowed), Some(mut part)) = (g.verdict, part.take()) else {
                continue;
            };
            let mut cx = Ctx::new(policy, ids_allowed, report, names, meter);
            let had = part.records().len();
            part.scrub(&mut cx);
            // A part whose every record the schema removed (a metric without a value) is
            // not sent as an empty item; its records were counted where they went.
            if had > 0 && part.records().is_empty() {
                continue;
            }
            match write(&mut part, len) {
                Ok(item) => kept.push((
                    item,
                    KeptConsent {
                        company: g.resolved.company,
                        ids_allowed,
                    },
                )),
                Err(reason) => report.dropped_n(label, reason, g.count),
            }
        }
        Ok(Decided { kept })
    }
}

/// The rule to report for a group of records: the most direct one among them.
fn most_direct(a: AttributedBy, b: AttributedBy) -> AttributedBy {
    let rank = |x: AttributedBy| match x {
        AttributedBy::Tag | AttributedBy::Attribute => 0,
        AttributedBy::Sibling => 1,
        AttributedBy::TraceMap => 2,
        AttributedBy::Unattributed => 3,
    };
    if rank(b) < rank(a) {
        b
    } else {
        a
    }
}

/// One company's scrubbed records as an item: a container that tells the ingest not to
/// infer an IP or user agent ([`crate::infer`]), with the record count in its header.
fn write<'a, B: Records<'a>>(batch: &mut B, input_len: usize) -> Result<Item, &'static str> {
    let count = batch.records().len();
    let bytes = to_bytes(&crate::infer::Container::new(&*batch), input_len)?;
    let mut header = Map::new();
    header.insert("type".into(), B::TYPE.into());
    header.insert("content_type".into(), B::CONTENT_TYPE.into());
    header.insert("item_count".into(), Value::from(count));
    Item::with_header(header, bytes).map_err(|_| DROP_INVALID)
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
