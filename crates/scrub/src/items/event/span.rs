//! Transaction spans and span data: ids, timings, op and status; descriptions normalised
//! (SQL literals and URL queries removed) and then passed through the detectors; data only
//! for allowlisted technical keys.

use serde::{Deserialize, Serialize};

use crate::rules::attributes::{AttrVal, Site};
use crate::walk::values::{Pairs, Val};
use crate::walk::{guards, Ctx};

pub use crate::rules::attributes::Allowlisted;

/// Allowlisted span data: the keys of `attributes::keys::KEYS`, each judged by its rule.
pub type SpanData<'a> = Allowlisted<AttrVal<'a>>;

impl Allowlisted<AttrVal<'_>> {
    /// Walks the data under the current path; `removed_path` names dropped keys in the
    /// report. `site` is the span the data belongs to.
    pub fn scrub(&mut self, cx: &mut Ctx<'_>, removed_path: &'static str, site: Site<'_>) {
        cx.report.removed_many(removed_path, self.removed);
        self.removed = 0;
        let mut company_kept = false;
        self.kept.retain_mut(|e| {
            if e.rule == crate::rules::attributes::Rule::Company {
                // One company value is enough (the attribution made sure they agree).
                if company_kept || !cx.ids_allowed {
                    return false;
                }
                company_kept = true;
            }
            let mut slot = Some(std::mem::replace(&mut e.value, AttrVal::One(Val::Other)));
            let policy = cx.policy;
            cx.key(e.meta_key(policy), |cx| {
                crate::rules::attributes::judge(cx, e.rule, site, &mut slot)
            });
            match slot {
                Some(val) => {
                    e.value = val;
                    true
                }
                None => {
                    cx.report.removed(removed_path);
                    false
                }
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
        guards::hex_id(&mut self.span_id);
        guards::hex_id(&mut self.parent_span_id);
        guards::hex_id(&mut self.trace_id);
        guards::flag(&mut self.same_process_as_parent);
        guards::token(&mut self.op);
        guards::timestamp(&mut self.start_timestamp);
        guards::timestamp(&mut self.timestamp);
        guards::token(&mut self.status);
        guards::token(&mut self.origin);
        guards::num(&mut self.exclusive_time);
        let op = self.op.as_ref().and_then(Val::as_str).unwrap_or("");
        cx.key("tags", |cx| {
            crate::items::event::scrub_tags(cx, &mut self.tags, "spans.tags.*")
        });
        let site = Site { op, route: None };
        cx.key("data", |cx| self.data.scrub(cx, "spans.data.*", site));
        // After the data: an AI span's name may be the SDK's form of its kept attributes.
        let data = &self.data;
        let hints = crate::rules::names::Hints {
            route: None,
            ai: crate::rules::names::ai_names(op, |k| data.get(k).and_then(AttrVal::as_str)),
        };
        cx.key("description", |cx| {
            scrub_description(cx, op, &mut self.description, &hints);
        });
    }
}

pub use crate::rules::names::span_description as scrub_description;
