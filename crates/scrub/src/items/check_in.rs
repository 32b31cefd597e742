//! Cron check-ins: technical, forwarded only when the operator enables them. Ids,
//! the monitor's slug and schedule, status and timings stay; nothing else is declared.

use serde::{Deserialize, Serialize};

use crate::walk::values::Val;
use crate::walk::{guards, Ctx};

/// A cron monitor check-in.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CheckIn<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    check_in_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    monitor_slug: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    status: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    duration: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    environment: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    release: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    monitor_config: Option<MonitorConfig<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    contexts: Option<CheckInContexts<'a>>,
}

/// A check-in's contexts: sentry-python keeps only `trace` on check-ins (its ids tie the
/// check-in to the job's trace, and attribute it to the trace's company).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CheckInContexts<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    trace: Option<CheckInTrace<'a>>,
}

/// `contexts.trace` of a check-in: ids only.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CheckInTrace<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    trace_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    span_id: Option<Val<'a>>,
}

/// A monitor's schedule and thresholds.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct MonitorConfig<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    schedule: Option<Schedule<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    checkin_margin: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    max_runtime: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    timezone: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    failure_issue_threshold: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    recovery_threshold: Option<Val<'a>>,
}

/// `crontab` or `interval`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Schedule<'a> {
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    ty: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    value: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    unit: Option<Val<'a>>,
}

impl CheckIn<'_> {
    /// `contexts.trace.trace_id`, as sent.
    pub(crate) fn trace_id(&self) -> Option<&str> {
        self.contexts
            .as_ref()?
            .trace
            .as_ref()?
            .trace_id
            .as_ref()?
            .as_str()
    }

    /// Walks a check-in.
    pub fn scrub(&mut self, cx: &mut Ctx<'_>) {
        guards::hex_id(&mut self.check_in_id);
        if let Some(c) = &mut self.contexts {
            if let Some(t) = &mut c.trace {
                guards::hex_id(&mut t.trace_id);
                guards::hex_id(&mut t.span_id);
                if t.trace_id.is_none() && t.span_id.is_none() {
                    c.trace = None;
                }
            }
            if c.trace.is_none() {
                self.contexts = None;
            }
        }
        guards::token(&mut self.monitor_slug);
        guards::token(&mut self.status);
        guards::num(&mut self.duration);
        cx.key("environment", |cx| {
            crate::rules::deploy::environment(cx, &mut self.environment)
        });
        cx.key("release", |cx| {
            crate::rules::deploy::release(cx, &mut self.release)
        });
        if let Some(mc) = &mut self.monitor_config {
            guards::num(&mut mc.checkin_margin);
            guards::num(&mut mc.max_runtime);
            guards::token(&mut mc.timezone);
            guards::num(&mut mc.failure_issue_threshold);
            guards::num(&mut mc.recovery_threshold);
            if let Some(s) = &mut mc.schedule {
                guards::token(&mut s.ty);
                guards::token(&mut s.unit);
                // A crontab ("*/5 * * * *") has spaces; an interval is a number.
                let ok = match &s.value {
                    Some(Val::Num(_)) => true,
                    Some(Val::Str(v)) => {
                        v.len() <= 64
                            && v.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b" */,-?#LW".contains(&b))
                    }
                    _ => false,
                };
                if !ok {
                    s.value = None;
                }
            }
        }
    }
}
