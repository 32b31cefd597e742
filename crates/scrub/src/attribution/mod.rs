//! Who an item belongs to, read before anything is scrubbed so consent can decide: its
//! company, its user and the trace (request) that produced it.
//!
//! An item belongs to the request that produced it. Its company comes, in this order, from
//! (a) its own value: an event's company tag, a span's or metric record's company attribute
//! (sentry-sdk 3.x's `set_attribute`); (b) an item of the same envelope and the same trace
//! that names one; (c) the caller's trace map ([`Gate::trace`]), which the
//! caller learns from the items of earlier envelopes ([`Gate::learn`]). An item's own value
//! always wins: nothing overrides it. A trace whose items name two different companies is
//! ambiguous: the items of it that name none are dropped as
//! [`crate::DROP_AMBIGUOUS_COMPANY`], since no one company's consent can decide them.
//!
//! Pure: the trace map, its bounds and its clock live with the caller.

mod trace_id;

use std::collections::HashMap;

use envelope::ItemType;

pub use trace_id::TraceId;

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

/// Which rule gave an item its company.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributedBy {
    /// The item's own company tag (events and transactions, standalone v1 spans).
    Tag,
    /// The item's own company attribute (span v2 and metric records).
    Attribute,
    /// An item of the same envelope and trace that names its company.
    Sibling,
    /// The caller's trace map: an item of an earlier envelope of the same trace.
    TraceMap,
    /// No rule: the item names no company and its trace is unknown.
    #[default]
    Unattributed,
}

impl AttributedBy {
    /// A stable name (for logs, metrics and tests).
    pub fn as_str(self) -> &'static str {
        match self {
            AttributedBy::Tag => "tag",
            AttributedBy::Attribute => "attribute",
            AttributedBy::Sibling => "sibling",
            AttributedBy::TraceMap => "trace_map",
            AttributedBy::Unattributed => "unattributed",
        }
    }

    /// True for the item's own value (a tag or an attribute), the only attributions a trace
    /// map may learn from: what the map itself or a sibling gave is not evidence.
    pub fn is_own(self) -> bool {
        matches!(self, AttributedBy::Tag | AttributedBy::Attribute)
    }
}

/// Who an item belongs to, as the gate is asked about it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Attribution<'e> {
    /// The company: the item's own value, or its trace's.
    pub company: Option<&'e str>,
    /// `user.id` of an event or transaction, as sent.
    pub user: Option<&'e str>,
    /// The trace the item belongs to (its own, or the envelope header's).
    pub trace_id: Option<TraceId>,
    /// Which rule gave the company.
    pub by: AttributedBy,
}

/// What an item of a trace says about the trace's company, for a trace map to learn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned<'a> {
    /// An item names this company by its own value.
    Company(&'a str),
    /// An item names two companies, or two items of the trace name different ones.
    Ambiguous,
}

/// What a trace map knows of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TraceCompany {
    /// Nothing (never seen, expired or evicted).
    #[default]
    Unknown,
    /// Items of the trace named this company.
    Company(String),
    /// Items of the trace named two companies.
    Ambiguous,
}

/// Consent, as the scrubber asks it. [`Gate::decide`] is asked once per item that can leave
/// (once per company for a span v2 item, which is split by company), after its company was
/// resolved; the trace map behind [`Gate::trace`] and [`Gate::learn`] is optional.
pub trait Gate {
    /// Whether the item leaves, and with which IDs.
    fn decide(&mut self, item_type: &ItemType, who: &Attribution<'_>) -> Decision;

    /// Rule (c): the company of a trace that no item of this envelope attributes, from the
    /// items of earlier envelopes. The default knows no trace.
    fn trace(&mut self, _trace: TraceId) -> TraceCompany {
        TraceCompany::Unknown
    }

    /// An item of this envelope names its company by its own value (or two companies):
    /// called once per trace and company before any item is decided, whether or not consent
    /// lets the item leave (a later item of a trace of a refused company must be refused
    /// too, not left unattributed). The default remembers nothing.
    fn learn(&mut self, _trace: TraceId, _what: Learned<'_>) {}
}

/// A closure as a gate without a trace map. It gets `Some` attribution for events and
/// transactions (as before attribution by trace existed) and for any item with a company
/// or a trace; `None` for the rest (sessions, client reports, profile chunks).
pub(crate) struct FnGate<G>(pub G);

impl<G> Gate for FnGate<G>
where
    G: FnMut(&ItemType, Option<Attribution<'_>>) -> Decision,
{
    fn decide(&mut self, item_type: &ItemType, who: &Attribution<'_>) -> Decision {
        let event = matches!(item_type, ItemType::Event | ItemType::Transaction);
        let some = event || who.company.is_some() || who.trace_id.is_some();
        (self.0)(item_type, some.then_some(*who))
    }
}

/// An item's (or a record's) own attribution, owned so that it outlives the parse it was
/// read from while the envelope's other items are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Own {
    /// The company the item names by its own value; `Err` when it names two.
    pub company: Result<Option<String>, Ambiguous>,
    /// How it names it (tag or attribute).
    pub by: AttributedBy,
    /// `user.id`, as sent.
    pub user: Option<String>,
    /// Its trace: its own, or the envelope header's for types that belong to a request.
    pub trace: Option<TraceId>,
}

impl Default for Own {
    fn default() -> Self {
        Own {
            company: Ok(None),
            by: AttributedBy::Unattributed,
            user: None,
            trace: None,
        }
    }
}

impl Own {
    /// A record's own attribution by its company attribute (span v2 spans, metric records).
    pub fn attribute(
        company: Result<Option<String>, Ambiguous>,
        user: Option<&str>,
        trace: Option<TraceId>,
    ) -> Own {
        let by = match company {
            Ok(None) => AttributedBy::Unattributed,
            _ => AttributedBy::Attribute,
        };
        Own {
            company,
            by,
            user: user.map(str::to_owned),
            trace,
        }
    }
}

/// An item or record that names two companies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ambiguous;

/// One company claim of a trace in this envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Claim {
    Company(String),
    Ambiguous,
}

/// The traces of one envelope and the company each is named with (rule b), and what the
/// gate's trace map said of the traces it was asked about (rule c). Maps, not lists: an
/// envelope of many items or records of distinct traces must cost one lookup per record,
/// not one per record and trace. The map is asked once per trace and envelope, so its
/// metrics count traces, not records.
#[derive(Debug, Default)]
pub(crate) struct Traces {
    claims: HashMap<TraceId, Claim>,
    /// The order claims were first made in, so the gate is taught in the envelope's order.
    order: Vec<TraceId>,
    asked: HashMap<TraceId, TraceCompany>,
}

/// An item's company once every rule was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The company, if any rule gave one.
    pub company: Option<String>,
    /// The rule that gave it.
    pub by: AttributedBy,
}

impl Traces {
    /// Notes what an item's own attribution says of its trace.
    pub fn note(&mut self, own: &Own) {
        let Some(trace) = own.trace else { return };
        let claim = match &own.company {
            Ok(Some(c)) => Claim::Company(c.clone()),
            Ok(None) => return,
            Err(Ambiguous) => Claim::Ambiguous,
        };
        match self.claims.get_mut(&trace) {
            None => {
                self.claims.insert(trace, claim);
                self.order.push(trace);
            }
            Some(Claim::Ambiguous) => {}
            Some(known) if *known == claim => {}
            Some(known) => *known = Claim::Ambiguous,
        }
    }

    /// Tells the gate what this envelope says of each trace (for its trace map).
    pub fn teach<G: Gate + ?Sized>(&self, gate: &mut G) {
        for trace in &self.order {
            match &self.claims[trace] {
                Claim::Company(c) => gate.learn(*trace, Learned::Company(c)),
                Claim::Ambiguous => gate.learn(*trace, Learned::Ambiguous),
            }
        }
    }

    /// Applies the rules in order to an item's own attribution: its own company, else its
    /// trace's in this envelope, else the gate's trace map. `Err` when the item or its
    /// trace names two companies.
    pub fn resolve<G: Gate + ?Sized>(
        &mut self,
        own: &Own,
        gate: &mut G,
    ) -> Result<Resolved, Ambiguous> {
        if let Some(c) = own.company.clone()? {
            return Ok(Resolved {
                company: Some(c),
                by: own.by,
            });
        }
        let Some(trace) = own.trace else {
            return Ok(Resolved {
                company: None,
                by: AttributedBy::Unattributed,
            });
        };
        if let Some(claim) = self.claims.get(&trace) {
            return match claim {
                Claim::Company(c) => Ok(Resolved {
                    company: Some(c.clone()),
                    by: AttributedBy::Sibling,
                }),
                Claim::Ambiguous => Err(Ambiguous),
            };
        }
        let found = self.asked.entry(trace).or_insert_with(|| gate.trace(trace));
        match found {
            TraceCompany::Company(c) => Ok(Resolved {
                company: Some(c.clone()),
                by: AttributedBy::TraceMap,
            }),
            TraceCompany::Ambiguous => Err(Ambiguous),
            TraceCompany::Unknown => Ok(Resolved {
                company: None,
                by: AttributedBy::Unattributed,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
