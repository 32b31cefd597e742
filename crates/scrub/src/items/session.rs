//! Release health and client reports: counts and timings only. A session's `did` (the user)
//! leaves only under ID consent; IP address and user agent never do.

use serde::{Deserialize, Serialize};

use crate::walk::values::{List, Present, Val};
use crate::walk::{guards, Ctx};

/// `attrs` of a session or an aggregate.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Attrs<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    release: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    environment: Option<Val<'a>>,
    #[serde(skip_serializing)]
    ip_address: Option<Present>,
    #[serde(skip_serializing)]
    user_agent: Option<Present>,
}

impl Attrs<'_> {
    fn scrub(&mut self, cx: &mut Ctx<'_>) {
        cx.key("release", |cx| {
            crate::rules::deploy::release(cx, &mut self.release)
        });
        cx.key("environment", |cx| {
            crate::rules::deploy::environment(cx, &mut self.environment)
        });
        if self.ip_address.take().is_some() {
            cx.removed_silently("attrs.ip_address");
        }
        if self.user_agent.take().is_some() {
            cx.removed_silently("attrs.user_agent");
        }
    }
}

/// A `session` item.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Session<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    sid: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    did: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    seq: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    init: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    started: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    timestamp: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    duration: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    status: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    errors: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    abnormal_mechanism: Option<Val<'a>>,
    #[serde(borrow)]
    attrs: Attrs<'a>,
}

impl Session<'_> {
    /// Walks a session.
    pub fn scrub(&mut self, cx: &mut Ctx<'_>) {
        guards::hex_id(&mut self.sid);
        did(cx, &mut self.did);
        guards::num(&mut self.seq);
        guards::flag(&mut self.init);
        guards::timestamp(&mut self.started);
        guards::timestamp(&mut self.timestamp);
        guards::num(&mut self.duration);
        guards::token(&mut self.status);
        guards::num(&mut self.errors);
        guards::token(&mut self.abnormal_mechanism);
        cx.key("attrs", |cx| self.attrs.scrub(cx));
    }
}

fn did(cx: &mut Ctx<'_>, did: &mut Option<Val<'_>>) {
    if did.is_none() {
        return;
    }
    if cx.ids_allowed {
        cx.key("did", |cx| cx.val_text(did));
    } else {
        *did = None;
        cx.removed_silently("did");
    }
}

/// A `sessions` item: pre-aggregated counts.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Sessions<'a> {
    #[serde(borrow)]
    aggregates: List<Aggregate<'a>>,
    #[serde(borrow)]
    attrs: Attrs<'a>,
}

/// One bucket of session counts.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Aggregate<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    started: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    did: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    exited: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    errored: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    abnormal: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    crashed: Option<Val<'a>>,
}

impl Sessions<'_> {
    /// Walks an aggregate.
    pub fn scrub(&mut self, cx: &mut Ctx<'_>) {
        for a in &mut self.aggregates.0 {
            guards::timestamp(&mut a.started);
            did(cx, &mut a.did);
            guards::num(&mut a.exited);
            guards::num(&mut a.errored);
            guards::num(&mut a.abnormal);
            guards::num(&mut a.crashed);
        }
        cx.key("attrs", |cx| self.attrs.scrub(cx));
    }
}

/// A `client_report`: what the SDK itself dropped, by reason and category.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ClientReport<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    timestamp: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "List::is_empty")]
    discarded_events: List<Outcome<'a>>,
    #[serde(borrow, skip_serializing_if = "List::is_empty")]
    rate_limited_events: List<Outcome<'a>>,
    #[serde(borrow, skip_serializing_if = "List::is_empty")]
    filtered_events: List<Outcome<'a>>,
    #[serde(borrow, skip_serializing_if = "List::is_empty")]
    filtered_sampling_events: List<Outcome<'a>>,
}

/// One count in a client report.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Outcome<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    reason: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    category: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    quantity: Option<Val<'a>>,
}

impl ClientReport<'_> {
    /// Walks a client report: every value is a token or a number.
    pub fn scrub(&mut self) {
        guards::timestamp(&mut self.timestamp);
        for list in [
            &mut self.discarded_events,
            &mut self.rate_limited_events,
            &mut self.filtered_events,
            &mut self.filtered_sampling_events,
        ] {
            list.0.retain_mut(|o| {
                guards::token(&mut o.reason);
                guards::token(&mut o.category);
                guards::num(&mut o.quantity);
                o.reason.is_some() && o.category.is_some() && o.quantity.is_some()
            });
        }
    }
}
