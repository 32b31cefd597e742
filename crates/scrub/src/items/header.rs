//! The envelope header: ids and timing, the SDK, and the `trace` context's technical part.
//! The `dsn` and `trace.public_key` become the upstream's; any user segment goes.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::policy::Policy;
use crate::walk::guards::{is_token, is_version};
use crate::walk::names::Names;
use crate::walk::report::Report;
use crate::walk::values::Val;
use crate::walk::Ctx;
use crate::work::Meter;

/// What the header is rewritten to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Upstream<'u> {
    /// The upstream DSN, written as `dsn` (omitted when `None`).
    pub dsn: Option<&'u str>,
    /// The upstream public key, written as `trace.public_key`.
    pub public_key: Option<&'u str>,
}

/// The envelope's trace (`trace.trace_id`, the dynamic sampling context): the trace of the
/// items of a request that carry none of their own.
pub fn trace_id(input: &Map<String, Value>) -> Option<crate::attribution::TraceId> {
    match input.get("trace")?.get("trace_id")? {
        Value::String(s) => crate::attribution::TraceId::parse(s),
        _ => None,
    }
}

/// Builds the outgoing header from the incoming one.
pub fn scrub_header(
    input: &Map<String, Value>,
    upstream: Upstream<'_>,
    policy: &Policy,
    report: &mut Report,
    names: &mut Names,
    meter: Meter,
) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(Value::String(id)) = input.get("event_id") {
        if id.len() <= 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            out.insert("event_id".into(), id.clone().into());
        }
    }
    if let Some(dsn) = upstream.dsn {
        out.insert("dsn".into(), dsn.into());
    }
    if let Some(Value::String(t)) = input.get("sent_at") {
        if is_timestamp(t) {
            out.insert("sent_at".into(), t.clone().into());
        }
    }
    if let Some(Value::Object(sdk)) = input.get("sdk") {
        let mut s = Map::new();
        if let Some(Value::String(n)) = sdk.get("name") {
            if is_token(n) {
                s.insert("name".into(), n.clone().into());
            }
        }
        if let Some(Value::String(v)) = sdk.get("version") {
            if is_version(v) {
                s.insert("version".into(), v.clone().into());
            }
        }
        if !s.is_empty() {
            out.insert("sdk".into(), Value::Object(s));
        }
    }
    if let Some(Value::Object(trace)) = input.get("trace") {
        let mut t = Map::new();
        let mut cx = Ctx::new(policy, false, report, names, meter);
        for (k, v) in trace {
            let keep = match (k.as_str(), v) {
                ("trace_id", Value::String(s)) => {
                    s.len() <= 36 && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
                }
                ("sample_rate" | "sample_rand", Value::String(s)) => {
                    s.len() <= 32 && s.parse::<f64>().is_ok()
                }
                ("sample_rate" | "sample_rand", Value::Number(_)) => true,
                ("sampled", Value::String(s)) => s == "true" || s == "false",
                ("sampled", Value::Bool(_)) => true,
                ("release" | "environment" | "transaction", Value::String(_)) => true,
                _ => false,
            };
            if !keep {
                if k != "public_key" {
                    cx.report.removed("header.trace.*");
                }
                continue;
            }
            let v = match (k.as_str(), v) {
                ("release" | "environment" | "transaction", Value::String(s)) => {
                    let mut val = Some(Val::Str(Cow::Borrowed(s.as_str())));
                    match k.as_str() {
                        // The same decision as the event it was copied from.
                        "transaction" => crate::rules::names::transaction(&mut cx, None, &mut val),
                        "release" => crate::rules::deploy::release(&mut cx, &mut val),
                        _ => crate::rules::deploy::environment(&mut cx, &mut val),
                    }
                    match val {
                        Some(Val::Str(text)) => Value::String(text.into_owned()),
                        _ => continue,
                    }
                }
                _ => v.clone(),
            };
            t.insert(k.clone(), v);
        }
        if let Some(key) = upstream.public_key {
            t.insert("public_key".into(), key.into());
        }
        if !t.is_empty() {
            out.insert("trace".into(), Value::Object(t));
        }
    }
    out
}

fn is_timestamp(s: &str) -> bool {
    s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b':' | b'.' | b'T' | b'Z' | b'+'))
}
