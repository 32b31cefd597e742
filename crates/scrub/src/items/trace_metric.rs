//! Trace metric items (`application/vnd.sentry.items.trace-metric+json`): counters, gauges
//! and distributions that sentry-python 2.x/3.x (`sentry_sdk.metrics`, on by default) and
//! @sentry/node send, one record per call. Kept as performance metadata: the metric's name
//! and unit are written by the app's code and leave only when identifier-shaped, values
//! are numbers, the trace and span ids tie a record to its request, and the attributes go
//! through the span attribute table ([`crate::rules::attributes`]): technical ones kept, the
//! company attribute and `user.id` under ID consent, every attribute the app added itself
//! (`topic`, `source`) removed.

use serde::{Deserialize, Serialize};

use crate::attribution::{Own, TraceId};
use crate::items::spans_v2::{record_own, scrub_attributes, Attributes};
use crate::items::Records;
use crate::rules::attributes::Site;
use crate::walk::meta::Seg;
use crate::walk::values::{List, Val};
use crate::walk::{guards, Ctx};

/// The content type of trace metric items.
pub const TRACE_METRIC_CONTENT_TYPE: &str = "application/vnd.sentry.items.trace-metric+json";

/// What a metric name that is not identifier-shaped becomes.
pub const METRIC_PLACEHOLDER: &str = "<custom metric>";

/// The payload: `{"version": 2, "items": [...]}`. The container's own fields are not
/// kept: it is written anew around the scrubbed records ([`crate::infer::Container`]).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct MetricBatch<'a> {
    #[serde(borrow)]
    items: List<Metric<'a>>,
}

/// One metric record.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Metric<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    timestamp: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    trace_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    span_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    name: Option<Val<'a>>,
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    ty: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    value: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    unit: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Attributes::is_empty")]
    attributes: Attributes<'a>,
}

impl<'a> Records<'a> for MetricBatch<'a> {
    type Record = Metric<'a>;
    const TYPE: &'static str = "trace_metric";
    const CONTENT_TYPE: &'static str = TRACE_METRIC_CONTENT_TYPE;

    fn records(&mut self) -> &mut Vec<Metric<'a>> {
        &mut self.items.0
    }

    fn from_records(records: Vec<Metric<'a>>) -> Self {
        MetricBatch {
            items: List(records),
        }
    }

    fn own(m: &mut Metric<'a>, header_trace: Option<TraceId>) -> Own {
        record_own(&mut m.attributes, m.trace_id.as_ref(), header_trace)
    }

    /// Walks every record under `items.N`; a record without a numeric value is dropped
    /// (counted `trace_metric.items`).
    fn scrub(&mut self, cx: &mut Ctx<'_>) {
        cx.key("items", |cx| {
            for (i, m) in self.items.0.iter_mut().enumerate() {
                cx.at(Seg::Index(i), |cx| m.scrub(cx));
            }
        });
        let before = self.items.0.len();
        self.items.0.retain(|m| m.value.is_some());
        cx.report
            .removed_many("trace_metric.items", (before - self.items.0.len()) as u32);
    }
}

impl Metric<'_> {
    fn scrub(&mut self, cx: &mut Ctx<'_>) {
        guards::timestamp(&mut self.timestamp);
        guards::hex_id(&mut self.trace_id);
        guards::hex_id(&mut self.span_id);
        guards::token(&mut self.ty);
        guards::num(&mut self.value);
        guards::token(&mut self.unit);
        cx.key("name", |cx| match &mut self.name {
            Some(Val::Str(s)) if crate::normalize::ident::is_identifier_shaped(s) => cx.text(s),
            Some(Val::Str(s)) => cx.replace_freetext(s, METRIC_PLACEHOLDER),
            other => *other = None,
        });
        scrub_attributes(
            cx,
            &mut self.attributes,
            Site::default(),
            "trace_metric.attributes.*",
        );
    }
}
