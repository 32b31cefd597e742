//! Span items (`application/vnd.sentry.items.span.v2+json`): a list of spans with typed
//! attributes, sent by sentry-python 2.x for AI calls and by other SDKs for every span.
//! Ids, timings, status, name (normalised, then the detectors) and allowlisted attributes.

use serde::{Deserialize, Serialize};

use crate::ctx::{self, Ctx};
use crate::event::span::{is_url_key, Allowlisted};
use crate::meta::Seg;
use crate::values::{List, Val};

/// The content type of v2 span items.
pub const SPAN_V2_CONTENT_TYPE: &str = "application/vnd.sentry.items.span.v2+json";

/// The payload: `{"items": [...]}`.
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
    value: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    unit: Option<Val<'a>>,
}

/// Allowlisted attributes: unknown keys are treated as PII and skipped unread.
pub type Attributes<'a> = Allowlisted<Attribute<'a>>;

/// The `sentry.op` attribute's value, which decides how a span name is normalised.
fn op<'s>(attrs: &'s Attributes<'_>) -> &'s str {
    {
        attrs
            .kept
            .iter()
            .find(|(k, _)| *k == "sentry.op")
            .and_then(|(_, a)| a.value.as_ref())
            .and_then(Val::as_str)
            .unwrap_or("")
    }
}

impl SpanBatch<'_> {
    /// Number of spans.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.items.0.len()
    }

    /// Walks every span under `items.N`.
    pub fn scrub(&mut self, cx: &mut Ctx<'_>) {
        cx.key("items", |cx| {
            for (i, s) in self.items.0.iter_mut().enumerate() {
                cx.at(Seg::Index(i), |cx| s.scrub(cx));
            }
        });
    }
}

impl SpanV2<'_> {
    fn scrub(&mut self, cx: &mut Ctx<'_>) {
        ctx::hex_id(&mut self.trace_id);
        ctx::hex_id(&mut self.span_id);
        ctx::hex_id(&mut self.parent_span_id);
        ctx::token(&mut self.status);
        ctx::flag(&mut self.is_segment);
        ctx::flag(&mut self.is_remote);
        ctx::token(&mut self.kind);
        ctx::timestamp(&mut self.start_timestamp);
        ctx::timestamp(&mut self.end_timestamp);
        let attrs = &mut self.attributes;
        cx.report.removed_many("span.attributes.*", attrs.removed);
        attrs.removed = 0;
        let op = op(attrs).to_owned();
        cx.key("name", |cx| {
            crate::names::span_v2_name(cx, &op, &mut self.name)
        });
        cx.key("attributes", |cx| {
            attrs.kept.retain_mut(|(k, a)| {
                ctx::token(&mut a.ty);
                ctx::token(&mut a.unit);
                let url = is_url_key(k);
                cx.key(k, |cx| {
                    cx.key("value", |cx| {
                        if url {
                            cx.val_request_url(&mut a.value, None)
                        } else if *k == "sentry.release" {
                            crate::deploy::release(cx, &mut a.value)
                        } else if *k == "sentry.environment" {
                            crate::deploy::environment(cx, &mut a.value)
                        } else if !matches!(a.value, Some(Val::Num(_))) {
                            cx.val_text(&mut a.value)
                        }
                    })
                });
                a.value.is_some()
            });
        });
    }
}
