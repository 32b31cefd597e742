//! Transaction spans and span data: ids, timings, op and status; descriptions normalised
//! (SQL literals and URL queries removed) and then passed through the detectors; data only
//! for allowlisted technical keys.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::ctx::{self, Ctx};
use crate::values::{Pairs, Val};

/// Span data keys that describe the program, not the user (values still pass the detectors;
/// URL values lose their query first).
pub const SPAN_DATA_KEYS: &[&str] = &[
    "blocking",
    "cache.hit",
    "cache.item_size",
    "code.file.path",
    "code.filepath",
    "code.function",
    "code.function.name",
    "code.line.number",
    "code.lineno",
    "code.namespace",
    "db.operation",
    "db.operation.name",
    "db.system",
    "db.system.name",
    "gen_ai.operation.name",
    "gen_ai.request.max_tokens",
    "gen_ai.request.model",
    "gen_ai.request.temperature",
    "gen_ai.response.model",
    "gen_ai.system",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.total_tokens",
    "http.method",
    "http.request.method",
    "http.response.body.size",
    "http.response.status_code",
    "http.response_content_length",
    "http.status_code",
    "network.protocol.name",
    "network.protocol.version",
    "sentry.environment",
    "sentry.op",
    "sentry.origin",
    "sentry.release",
    "sentry.sample_rate",
    "sentry.sdk.name",
    "sentry.sdk.version",
    "sentry.source",
    "thread.id",
    "thread.name",
    "url",
    "url.full",
    "http.url",
];

/// Keys whose string values are URLs: query, fragment and userinfo go first.
pub fn is_url_key(key: &str) -> bool {
    matches!(key, "url" | "url.full" | "http.url")
}

/// A map filtered by [`SPAN_DATA_KEYS`] while parsing: other keys are skipped unread and
/// only counted. Span data (`V` = a scalar) and v2 span attributes (`V` = a typed
/// attribute) share it.
#[derive(Debug)]
pub struct Allowlisted<V> {
    /// Kept entries, keyed by the allowlist's own `&'static str`.
    pub kept: Vec<(&'static str, V)>,
    /// Entries skipped.
    pub removed: u32,
}

impl<V> Default for Allowlisted<V> {
    fn default() -> Self {
        Allowlisted {
            kept: Vec::new(),
            removed: 0,
        }
    }
}

impl<V> Allowlisted<V> {
    /// True when nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }
}

impl<V: Serialize> Serialize for Allowlisted<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.kept.iter().map(|(k, v)| (k, v)))
    }
}

struct AllowlistedVisitor<V>(std::marker::PhantomData<V>);

impl<'de, V: Deserialize<'de>> Visitor<'de> for AllowlistedVisitor<V> {
    type Value = Allowlisted<V>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("span data")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut d = Allowlisted::default();
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            match SPAN_DATA_KEYS.iter().find(|a| **a == k.as_ref()) {
                // A repeated key must not grow the list without bound.
                Some(key) if d.kept.len() < crate::values::MAX_ELEMENTS => {
                    d.kept.push((*key, map.next_value()?))
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    d.removed = d.removed.saturating_add(1);
                }
            }
        }
        Ok(d)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Allowlisted::default())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Allowlisted<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AllowlistedVisitor(std::marker::PhantomData))
    }
}

/// Allowlisted span data.
pub type SpanData<'a> = Allowlisted<Val<'a>>;

impl Allowlisted<Val<'_>> {
    /// Walks the data under the current path; `removed_path` names dropped keys in the report.
    pub fn scrub(&mut self, cx: &mut Ctx<'_>, removed_path: &'static str) {
        cx.report.removed_many(removed_path, self.removed);
        self.removed = 0;
        self.kept.retain_mut(|(k, v)| {
            let mut slot = Some(std::mem::replace(v, Val::Other));
            if is_url_key(k) {
                cx.key(k, |cx| cx.val_request_url(&mut slot, None));
            } else if *k == "sentry.release" {
                cx.key(k, |cx| crate::deploy::release(cx, &mut slot));
            } else if *k == "sentry.environment" {
                cx.key(k, |cx| crate::deploy::environment(cx, &mut slot));
            } else if !matches!(slot, Some(Val::Num(_))) {
                // Numbers under technical keys (thread ids, sizes, line numbers) are kept
                // as sent: a Luhn-valid thread id is not a card.
                cx.key(k, |cx| cx.val_text(&mut slot));
            }
            match slot {
                Some(val) => {
                    *v = val;
                    true
                }
                None => false,
            }
        });
    }
}

/// One span of a transaction.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Span<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    span_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    parent_span_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    trace_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    same_process_as_parent: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    op: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    description: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    start_timestamp: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    timestamp: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    status: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    origin: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    exclusive_time: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Pairs::is_empty")]
    tags: Pairs<'a, Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Allowlisted::is_empty")]
    data: SpanData<'a>,
}

impl<'a> Span<'a> {
    /// The span's tags, for the event's attribution (a span naming another company makes
    /// its transaction ambiguous).
    pub(crate) fn tags_mut(&mut self) -> &mut Pairs<'a, Val<'a>> {
        &mut self.tags
    }

    /// The span's `trace_id`, as sent (a standalone span's trace, for attribution).
    pub(crate) fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_ref().and_then(Val::as_str)
    }

    /// Walks one span under `spans.N`.
    pub fn scrub(&mut self, cx: &mut Ctx<'_>) {
        ctx::hex_id(&mut self.span_id);
        ctx::hex_id(&mut self.parent_span_id);
        ctx::hex_id(&mut self.trace_id);
        ctx::flag(&mut self.same_process_as_parent);
        ctx::token(&mut self.op);
        ctx::timestamp(&mut self.start_timestamp);
        ctx::timestamp(&mut self.timestamp);
        ctx::token(&mut self.status);
        ctx::token(&mut self.origin);
        ctx::num(&mut self.exclusive_time);
        let op = self.op.as_ref().and_then(Val::as_str).unwrap_or("");
        cx.key("description", |cx| {
            scrub_description(cx, op, &mut self.description);
        });
        cx.key("tags", |cx| {
            crate::event::scrub_tags(cx, &mut self.tags, "spans.tags.*")
        });
        cx.key("data", |cx| self.data.scrub(cx, "spans.data.*"));
    }
}

pub use crate::names::span_description as scrub_description;
