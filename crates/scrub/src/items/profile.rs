//! Profiles: technical, forwarded only when the operator enables them.
//! Even then the allowlist is the schema: frames keep where the code was, samples keep
//! numbers, and every kept string passes the detectors.

use serde::{Deserialize, Serialize};

use crate::walk::meta::Seg;
use crate::walk::values::{List, Pairs, Val};
use crate::walk::{guards, Ctx};

/// A `profile` (v1) or `profile_chunk` (v2) payload.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Profile<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    version: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    event_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    chunk_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    profiler_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    timestamp: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    platform: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    release: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    environment: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    runtime: Option<NameVersion<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    os: Option<NameVersion<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    client_sdk: Option<NameVersion<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    transaction: Option<ProfiledTransaction<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    profile: Option<Samples<'a>>,
}

/// `{"name": …, "version": …}`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct NameVersion<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    name: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    version: Option<Val<'a>>,
}

/// The transaction a v1 profile belongs to.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ProfiledTransaction<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    name: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    trace_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    active_thread_id: Option<Val<'a>>,
}

/// Frames, stacks of frame indices, samples of stack indices.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Samples<'a> {
    #[serde(borrow)]
    frames: List<ProfileFrame<'a>>,
    #[serde(borrow)]
    stacks: List<List<Val<'a>>>,
    #[serde(borrow)]
    samples: List<Sample<'a>>,
    #[serde(borrow, skip_serializing_if = "Pairs::is_empty")]
    thread_metadata: Pairs<'a, ThreadMeta<'a>>,
}

/// One frame of a profile.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ProfileFrame<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    abs_path: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    filename: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    function: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    module: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    lineno: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    in_app: Option<Val<'a>>,
}

/// One sample.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Sample<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    elapsed_since_start_ns: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    timestamp: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    stack_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    thread_id: Option<Val<'a>>,
}

/// Thread names by thread id.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ThreadMeta<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    name: Option<Val<'a>>,
}

/// Keeps a number, or a string of digits (thread ids and nanoseconds come as strings).
fn numeric(v: &mut Option<Val<'_>>) {
    let ok = match v {
        Some(Val::Num(_)) => true,
        Some(Val::Str(s)) => {
            !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    };
    if !ok {
        *v = None;
    }
}

fn name_version(cx: &mut Ctx<'_>, key: &'static str, nv: &mut Option<NameVersion<'_>>) {
    if let Some(nv) = nv {
        cx.key(key, |cx| {
            cx.key("name", |cx| cx.val_text(&mut nv.name));
            cx.key("version", |cx| cx.val_text(&mut nv.version));
        });
    }
}

impl Profile<'_> {
    /// The trace of a transaction profile (`transaction.trace_id`), as sent.
    pub(crate) fn trace_id(&self) -> Option<&str> {
        self.transaction.as_ref()?.trace_id.as_ref()?.as_str()
    }

    /// Walks a profile.
    pub fn scrub(&mut self, cx: &mut Ctx<'_>) {
        guards::token(&mut self.version);
        guards::hex_id(&mut self.event_id);
        guards::hex_id(&mut self.chunk_id);
        guards::hex_id(&mut self.profiler_id);
        guards::timestamp(&mut self.timestamp);
        guards::token(&mut self.platform);
        cx.key("release", |cx| {
            crate::rules::deploy::release(cx, &mut self.release)
        });
        cx.key("environment", |cx| {
            crate::rules::deploy::environment(cx, &mut self.environment)
        });
        name_version(cx, "runtime", &mut self.runtime);
        name_version(cx, "os", &mut self.os);
        name_version(cx, "client_sdk", &mut self.client_sdk);
        if let Some(t) = &mut self.transaction {
            cx.key("transaction", |cx| {
                cx.key("name", |cx| {
                    crate::rules::names::transaction(cx, None, &mut t.name)
                });
                guards::hex_id(&mut t.id);
                guards::hex_id(&mut t.trace_id);
                numeric(&mut t.active_thread_id);
            });
        }
        let Some(p) = &mut self.profile else { return };
        cx.key("profile", |cx| {
            cx.key("frames", |cx| {
                for (i, f) in p.frames.0.iter_mut().enumerate() {
                    cx.at(Seg::Index(i), |cx| {
                        cx.key("abs_path", |cx| cx.val_text(&mut f.abs_path));
                        cx.key("filename", |cx| cx.val_text(&mut f.filename));
                        cx.key("function", |cx| cx.val_text(&mut f.function));
                        cx.key("module", |cx| cx.val_text(&mut f.module));
                        guards::num(&mut f.lineno);
                        guards::flag(&mut f.in_app);
                    });
                }
            });
            for stack in &mut p.stacks.0 {
                stack.0.retain(|v| matches!(v, Val::Num(_)));
            }
            for s in &mut p.samples.0 {
                numeric(&mut s.elapsed_since_start_ns);
                guards::timestamp(&mut s.timestamp);
                guards::num(&mut s.stack_id);
                numeric(&mut s.thread_id);
            }
            p.thread_metadata
                .0
                .retain(|(k, _)| k.bytes().all(|b| b.is_ascii_digit()));
            cx.key("thread_metadata", |cx| {
                for (_, m) in &mut p.thread_metadata.0 {
                    cx.key("name", |cx| cx.val_text(&mut m.name));
                }
            });
        });
    }
}
