//! Span items (`application/vnd.sentry.items.span.v2+json`): a list of spans with typed
//! attributes. sentry-python 3.x and @sentry/node stream every span this way, 2.64+ its
//! gen_ai spans. A first-class schema: ids, timings and status as sent; every attribute
//! judged like the transaction span field it stands for ([`crate::rules::attributes`]); the
//! segment's name decided by its source exactly like a transaction name, and every copy
//! of it (`sentry.segment.name`, the envelope header's `trace.transaction`) given the same
//! decision ([`crate::rules::names`]).

use serde::{Deserialize, Serialize};

use crate::attribution::{Ambiguous, Own, TraceId};
use crate::items::Records;
use crate::rules::attributes::{self, Allowlisted, AttrVal, Rule, Site};
use crate::rules::names::{self, Hints};
use crate::walk::meta::Seg;
use crate::walk::values::{List, Val};
use crate::walk::{guards, Ctx};

/// The content type of v2 span items.
pub const SPAN_V2_CONTENT_TYPE: &str = "application/vnd.sentry.items.span.v2+json";

/// The payload: `{"version": 2, "items": [...]}`. The container's own fields are not
/// kept: it is written anew around the scrubbed spans ([`crate::infer::Container`]).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SpanBatch<'a> {
    #[serde(borrow)]
    items: List<SpanV2<'a>>,
}

/// One v2 span.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SpanV2<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    trace_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    span_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    parent_span_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    name: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    status: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    is_segment: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    is_remote: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    kind: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    start_timestamp: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    end_timestamp: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Allowlisted::is_empty")]
    attributes: Attributes<'a>,
}

/// A typed attribute: `{"type": "string", "value": ..., "unit": ...}`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Attribute<'a> {
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    ty: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    value: Option<AttrVal<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    unit: Option<Val<'a>>,
}

/// Allowlisted attributes: unknown keys are treated as PII and skipped unread.
pub type Attributes<'a> = Allowlisted<Attribute<'a>>;

/// A string attribute's value as sent.
pub(crate) fn attr_str<'s>(attrs: &'s Attributes<'_>, key: &str) -> Option<&'s str> {
    attrs
        .get(key)
        .and_then(|a| a.value.as_ref())
        .and_then(AttrVal::as_str)
}

impl<'a> Records<'a> for SpanBatch<'a> {
    type Record = SpanV2<'a>;
    const TYPE: &'static str = "span";
    const CONTENT_TYPE: &'static str = SPAN_V2_CONTENT_TYPE;

    fn records(&mut self) -> &mut Vec<SpanV2<'a>> {
        &mut self.items.0
    }

    fn from_records(records: Vec<SpanV2<'a>>) -> Self {
        SpanBatch {
            items: List(records),
        }
    }

    fn own(span: &mut SpanV2<'a>, header_trace: Option<TraceId>) -> Own {
        record_own(&mut span.attributes, span.trace_id.as_ref(), header_trace)
    }

    /// Walks every span under `items.N`: segments first, so that the decision on the
    /// segment's name is made where its source is known, before any copy of it is met.
    fn scrub(&mut self, cx: &mut Ctx<'_>) {
        cx.key("items", |cx| {
            for pass in [true, false] {
                for (i, s) in self.items.0.iter_mut().enumerate() {
                    if s.is_segment() == pass {
                        cx.at(Seg::Index(i), |cx| s.scrub(cx));
                    }
                }
            }
        });
    }
}

/// A record's own attribution, read from its typed attributes (span v2 spans, trace metric
/// records): the company attribute (named like `--company-tag` in any case, captured while
/// parsing inside [`crate::rules::attributes::with_company_key`]), `user.id`, and its `trace_id`
/// (else the envelope's). Two different company values make it ambiguous. A number is the
/// company (or user) of its decimal string, as for tags, and is kept as that string.
pub(crate) fn record_own(
    attrs: &mut Attributes<'_>,
    trace_id: Option<&Val<'_>>,
    header_trace: Option<TraceId>,
) -> Own {
    let mut company: Result<Option<&str>, Ambiguous> = Ok(None);
    let mut user: Option<&str> = None;
    for e in attrs.kept.iter_mut() {
        if !matches!(e.rule, Rule::Company | Rule::UserId) {
            continue;
        }
        let Some(value) = e.value.value.as_mut() else {
            continue;
        };
        if let AttrVal::One(Val::Num(n)) = value {
            // Kept as a string, so typed as one (an ingest may refuse an "integer" string).
            *value = AttrVal::One(Val::Str(n.to_string().into()));
            e.value.ty = Some(Val::Str("string".into()));
        }
        let AttrVal::One(Val::Str(s)) = &*value else {
            continue;
        };
        // The values compared are the payload's: counted like any text a rule reads.
        crate::work::charge(s.len());
        match (e.rule, company) {
            (Rule::Company, Ok(None)) => company = Ok(Some(s.as_ref())),
            (Rule::Company, Ok(Some(c))) if c != s.as_ref() => company = Err(Ambiguous),
            (Rule::UserId, _) if user.is_none() => user = Some(s.as_ref()),
            _ => {}
        }
    }
    let trace = trace_id
        .and_then(Val::as_str)
        .and_then(TraceId::parse)
        .or(header_trace);
    Own::attribute(company.map(|c| c.map(str::to_owned)), user, trace)
}

impl SpanV2<'_> {
    fn is_segment(&self) -> bool {
        matches!(self.is_segment, Some(Val::Bool(true)))
    }

    fn scrub(&mut self, cx: &mut Ctx<'_>) {
        guards::hex_id(&mut self.trace_id);
        guards::hex_id(&mut self.span_id);
        guards::hex_id(&mut self.parent_span_id);
        guards::token(&mut self.status);
        guards::flag(&mut self.is_segment);
        guards::flag(&mut self.is_remote);
        guards::token(&mut self.kind);
        guards::timestamp(&mut self.start_timestamp);
        guards::timestamp(&mut self.end_timestamp);
        let is_segment = self.is_segment();
        let attrs = &mut self.attributes;
        let op = attr_str(attrs, "sentry.op")
            .filter(|op| guards::is_token(op))
            .unwrap_or("")
            .to_owned();
        let route = attr_str(attrs, "http.route").map(str::to_owned);
        let source = attr_str(attrs, "sentry.segment.name.source").map(str::to_owned);
        if is_segment {
            // The segment's name is the transaction name: decided by its source, with
            // `http.route` as the template of a URL name.
            cx.key("name", |cx| {
                names::segment(cx, source.as_deref(), route.as_deref(), &mut self.name)
            });
        }
        let site = Site {
            op: &op,
            route: route.as_deref(),
        };
        scrub_attributes(cx, attrs, site, "span.attributes.*");
        if !is_segment {
            let hints = Hints {
                route: route.as_deref(),
                ai: names::ai_names(&op, |k| attr_str(attrs, k)),
            };
            cx.key("name", |cx| {
                names::span_v2_name(cx, &op, &mut self.name, &hints)
            });
        }
    }
}

/// Judges typed attributes under `attributes`; what goes is counted under `removed_path`.
pub(crate) fn scrub_attributes(
    cx: &mut Ctx<'_>,
    attrs: &mut Attributes<'_>,
    site: Site<'_>,
    removed_path: &'static str,
) {
    cx.report.removed_many(removed_path, attrs.removed);
    attrs.removed = 0;
    let mut company_kept = false;
    cx.key("attributes", |cx| {
        attrs.kept.retain_mut(|e| {
            if e.rule == Rule::Company {
                // One company attribute is enough (the attribution made sure they agree).
                if company_kept || !cx.ids_allowed {
                    cx.report.removed(removed_path);
                    return false;
                }
                company_kept = true;
            }
            guards::token(&mut e.value.ty);
            guards::token(&mut e.value.unit);
            let policy = cx.policy;
            cx.key(e.meta_key(policy), |cx| {
                cx.key("value", |cx| {
                    attributes::judge(cx, e.rule, site, &mut e.value.value)
                })
            });
            let kept = e.value.value.is_some();
            if !kept {
                cx.report.removed(removed_path);
            }
            kept
        });
    });
}
