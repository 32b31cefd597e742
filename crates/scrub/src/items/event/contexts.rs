//! Contexts: only the technical ones (`os`, `runtime`, `trace`, `browser`, `device`, `app`,
//! `response`, `profile`) are declared; custom contexts are skipped unread.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::items::event::span::SpanData;
use crate::walk::values::Val;
use crate::walk::{guards, Ctx};

/// The kept contexts. Unknown contexts are counted, not named (their names are input).
#[derive(Debug, Default, Serialize)]
pub struct Contexts<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    os: Option<Os<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runtime: Option<Runtime<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<TraceContext<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    browser: Option<Browser<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<Device<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<App<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<ResponseContext<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<Profile<'a>>,
    #[serde(skip)]
    removed: u32,
}

impl Contexts<'_> {
    /// `trace.trace_id`, as sent (read for attribution, before scrubbing).
    pub(crate) fn trace_id(&self) -> Option<&str> {
        self.trace.as_ref()?.trace_id.as_ref()?.as_str()
    }
}

/// `contexts.os`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Os<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    name: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    version: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    build: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    kernel_version: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    raw_description: Option<Val<'a>>,
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    ty: Option<Val<'a>>,
}

/// `contexts.runtime`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Runtime<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    name: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    version: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    build: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    raw_description: Option<Val<'a>>,
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    ty: Option<Val<'a>>,
}

/// `contexts.trace`: ids, op, status and allowlisted span data.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct TraceContext<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    trace_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    span_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    parent_span_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    op: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    status: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    origin: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    exclusive_time: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    sampled: Option<Val<'a>>,
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    ty: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "SpanData::is_empty")]
    data: SpanData<'a>,
}

/// `contexts.browser`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Browser<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    name: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    version: Option<Val<'a>>,
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    ty: Option<Val<'a>>,
}

/// `contexts.device`: hardware class only (no name, no ids).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Device<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    arch: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    family: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    model: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    processor_count: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    memory_size: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    simulator: Option<Val<'a>>,
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    ty: Option<Val<'a>>,
}

/// `contexts.app`: versions and memory.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct App<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    app_version: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    app_build: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    build_type: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    app_start_time: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    app_memory: Option<Val<'a>>,
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    ty: Option<Val<'a>>,
}

/// `contexts.response`: the status code only.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ResponseContext<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    status_code: Option<Val<'a>>,
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    ty: Option<Val<'a>>,
}

/// `contexts.profile`: the profile id.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Profile<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    profile_id: Option<Val<'a>>,
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    ty: Option<Val<'a>>,
}

struct ContextsVisitor;

impl<'de> Visitor<'de> for ContextsVisitor {
    type Value = Contexts<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a contexts object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut c = Contexts::default();
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            match k.as_ref() {
                "os" => c.os = map.next_value()?,
                "runtime" => c.runtime = map.next_value()?,
                "trace" => c.trace = map.next_value()?,
                "browser" => c.browser = map.next_value()?,
                "device" => c.device = map.next_value()?,
                "app" => c.app = map.next_value()?,
                "response" => c.response = map.next_value()?,
                "profile" => c.profile = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    c.removed = c.removed.saturating_add(1);
                }
            }
        }
        Ok(c)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Contexts::default())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Contexts<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ContextsVisitor)
    }
}

impl Contexts<'_> {
    /// Walks the contexts under `contexts`.
    pub fn scrub(&mut self, cx: &mut Ctx<'_>) {
        cx.report.removed_many("contexts.*", self.removed);
        if let Some(os) = &mut self.os {
            cx.key("os", |cx| {
                cx.key("name", |cx| cx.val_text(&mut os.name));
                cx.key("version", |cx| cx.val_text(&mut os.version));
                cx.key("build", |cx| cx.val_text(&mut os.build));
                cx.key("kernel_version", |cx| cx.val_text(&mut os.kernel_version));
                cx.key("raw_description", |cx| cx.val_text(&mut os.raw_description));
                guards::token(&mut os.ty);
            });
        }
        if let Some(rt) = &mut self.runtime {
            cx.key("runtime", |cx| {
                cx.key("name", |cx| cx.val_text(&mut rt.name));
                cx.key("version", |cx| cx.val_text(&mut rt.version));
                cx.key("build", |cx| cx.val_text(&mut rt.build));
                cx.key("raw_description", |cx| cx.val_text(&mut rt.raw_description));
                guards::token(&mut rt.ty);
            });
        }
        if let Some(t) = &mut self.trace {
            cx.key("trace", |cx| {
                guards::hex_id(&mut t.trace_id);
                guards::hex_id(&mut t.span_id);
                guards::hex_id(&mut t.parent_span_id);
                guards::token(&mut t.op);
                guards::token(&mut t.status);
                guards::token(&mut t.origin);
                guards::num(&mut t.exclusive_time);
                guards::flag(&mut t.sampled);
                guards::token(&mut t.ty);
                let op = t.op.as_ref().and_then(Val::as_str).unwrap_or("");
                let site = crate::rules::attributes::Site { op, route: None };
                cx.key("data", |cx| t.data.scrub(cx, "contexts.trace.data.*", site));
            });
        }
        if let Some(b) = &mut self.browser {
            cx.key("browser", |cx| {
                cx.key("name", |cx| cx.val_text(&mut b.name));
                cx.key("version", |cx| cx.val_text(&mut b.version));
                guards::token(&mut b.ty);
            });
        }
        if let Some(d) = &mut self.device {
            cx.key("device", |cx| {
                cx.key("arch", |cx| cx.val_text(&mut d.arch));
                cx.key("family", |cx| cx.val_text(&mut d.family));
                cx.key("model", |cx| cx.val_text(&mut d.model));
                guards::num(&mut d.processor_count);
                guards::num(&mut d.memory_size);
                guards::flag(&mut d.simulator);
                guards::token(&mut d.ty);
            });
        }
        if let Some(a) = &mut self.app {
            cx.key("app", |cx| {
                cx.key("app_version", |cx| cx.val_text(&mut a.app_version));
                cx.key("app_build", |cx| cx.val_text(&mut a.app_build));
                guards::token(&mut a.build_type);
                guards::timestamp(&mut a.app_start_time);
                guards::num(&mut a.app_memory);
                guards::token(&mut a.ty);
            });
        }
        if let Some(r) = &mut self.response {
            guards::num(&mut r.status_code);
            guards::token(&mut r.ty);
        }
        if let Some(p) = &mut self.profile {
            guards::hex_id(&mut p.profile_id);
            guards::token(&mut p.ty);
        }
    }

    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.os.is_none()
            && self.runtime.is_none()
            && self.trace.is_none()
            && self.browser.is_none()
            && self.device.is_none()
            && self.app.is_none()
            && self.response.is_none()
            && self.profile.is_none()
    }
}
