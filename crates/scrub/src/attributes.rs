//! The attribute schema shared by transaction span data, span v2 attributes and trace
//! metric attributes: one table of kept keys ([`KEYS`]), each with the [`Rule`] its value
//! is judged by. A key that is not in the table is skipped unread and counted, so the
//! allowlist is the schema here too (DESIGN.md §6): a streamed span's attribute is judged
//! exactly like the transaction span field it stands for.
//!
//! Two keys are decided by consent, not by the table: `user.id` and the company attribute
//! (named like `--company-tag`, as sentry-sdk 3.x's `set_attribute` puts it on spans, logs
//! and metrics). Both leave only when IDs are allowed.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::ctx::{self, Ctx};
use crate::values::{Val, MAX_ELEMENTS};

/// How a kept attribute's value is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A short technical token (an op, a system, a method): anything else goes.
    Token,
    /// A version string (`3.11.7`, `2.76.0`).
    Version,
    /// A hex id (`sentry.segment.id`).
    Id,
    /// A number (a count, a size, a status code, a temperature); a boolean or a numeric
    /// string stays too.
    Num,
    /// A boolean (`cache.hit`).
    Flag,
    /// Text an SDK or the platform wrote (a thread name, an OS version): the detectors.
    Text,
    /// A name of code (a function, a middleware, a tool): only when identifier-shaped.
    Code,
    /// `release`: see [`crate::deploy::release`].
    Release,
    /// `environment`: see [`crate::deploy::environment`].
    Environment,
    /// `dist`: see [`crate::deploy::dist`].
    Dist,
    /// A URL: query and non-technical path segments go; the span's `http.route` is its
    /// path's template, as the event's route is for `request.url`.
    Url,
    /// An SQL statement: literals replaced ([`crate::normalize::sql::scrub_sql`]).
    Sql,
    /// A copy of the segment's (transaction's) name: the decision made for the name where
    /// its source was known ([`crate::names::transaction`]).
    SegmentName,
    /// A route template (`http.route`): judged like a transaction name of source `route`.
    Route,
    /// A list of tokens (`["stop"]`), or the same list as a JSON string (@sentry/node).
    Tokens,
    /// `server.address`: the peer of an outbound call, or the machine's own host name
    /// (sentry-python's `server_name`), which leaves only with `--keep-server-name`; both
    /// by the host rule ([`crate::hosts`]).
    Host,
    /// `user.id`: only under ID consent.
    UserId,
    /// The company attribute: only under ID consent, under the configured tag's name.
    Company,
}

/// The kept keys and their rules, sorted by key (binary search). Derived from what
/// sentry-python 2.x/3.x and @sentry/node send (tests/spans/README.md, `span_classes.py`):
/// what a transaction-era SDK kept as a span's op, description, data or tags. Prompts,
/// messages, answers, request headers and bodies, the client's address and user agent,
/// query strings and cache keys are not here, so they never leave.
#[rustfmt::skip]
pub const KEYS: &[(&str, Rule)] = &[
    ("blocking", Rule::Flag),
    ("cache.hit", Rule::Flag),
    ("cache.item_size", Rule::Num),
    ("code.file.path", Rule::Text),
    ("code.filepath", Rule::Text),
    ("code.function", Rule::Code),
    ("code.function.name", Rule::Code),
    ("code.line.number", Rule::Num),
    ("code.lineno", Rule::Num),
    ("code.namespace", Rule::Code),
    ("db.collection.name", Rule::Code),
    ("db.operation", Rule::Token),
    ("db.operation.name", Rule::Token),
    ("db.query.text", Rule::Sql),
    ("db.statement", Rule::Sql),
    ("db.system", Rule::Token),
    ("db.system.name", Rule::Token),
    ("error.type", Rule::Code),
    ("express.name", Rule::Code),
    ("express.type", Rule::Token),
    ("gen_ai.agent.name", Rule::Code),
    ("gen_ai.operation.name", Rule::Token),
    ("gen_ai.provider.name", Rule::Token),
    ("gen_ai.request.frequency_penalty", Rule::Num),
    ("gen_ai.request.max_tokens", Rule::Num),
    ("gen_ai.request.model", Rule::Token),
    ("gen_ai.request.presence_penalty", Rule::Num),
    ("gen_ai.request.temperature", Rule::Num),
    ("gen_ai.request.top_k", Rule::Num),
    ("gen_ai.request.top_p", Rule::Num),
    ("gen_ai.response.finish_reasons", Rule::Tokens),
    ("gen_ai.response.model", Rule::Token),
    ("gen_ai.response.streaming", Rule::Flag),
    ("gen_ai.response.time_to_first_token", Rule::Num),
    ("gen_ai.system", Rule::Token),
    ("gen_ai.tool.name", Rule::Code),
    ("gen_ai.tool.type", Rule::Token),
    ("gen_ai.usage.cache_creation.input_tokens", Rule::Num),
    ("gen_ai.usage.cache_read.input_tokens", Rule::Num),
    ("gen_ai.usage.completion_tokens", Rule::Num),
    ("gen_ai.usage.input_tokens", Rule::Num),
    ("gen_ai.usage.input_tokens.cache_write", Rule::Num),
    ("gen_ai.usage.input_tokens.cached", Rule::Num),
    ("gen_ai.usage.output_tokens", Rule::Num),
    ("gen_ai.usage.output_tokens.reasoning", Rule::Num),
    ("gen_ai.usage.prompt_tokens", Rule::Num),
    ("gen_ai.usage.reasoning.output_tokens", Rule::Num),
    ("gen_ai.usage.total_tokens", Rule::Num),
    ("graphql.field.name", Rule::Code),
    ("graphql.field.path", Rule::Code),
    ("graphql.field.type", Rule::Code),
    ("graphql.operation.name", Rule::Code),
    ("graphql.operation.type", Rule::Token),
    ("http.method", Rule::Token),
    ("http.request.method", Rule::Token),
    ("http.response.body.size", Rule::Num),
    ("http.response.status_code", Rule::Num),
    ("http.response_content_length", Rule::Num),
    ("http.route", Rule::Route),
    ("http.status_code", Rule::Num),
    ("http.url", Rule::Url),
    ("messaging.batch.message_count", Rule::Num),
    ("messaging.destination.name", Rule::Code),
    ("messaging.message.body.size", Rule::Num),
    ("messaging.message.id", Rule::Token),
    ("messaging.message.receive.latency", Rule::Num),
    ("messaging.message.retry.count", Rule::Num),
    ("messaging.operation.name", Rule::Token),
    ("messaging.operation.type", Rule::Token),
    ("messaging.system", Rule::Token),
    ("network.protocol.name", Rule::Token),
    ("network.protocol.version", Rule::Token),
    ("os.kernel_version", Rule::Text),
    ("os.name", Rule::Text),
    ("os.version", Rule::Text),
    ("process.runtime.engine.name", Rule::Token),
    ("process.runtime.engine.version", Rule::Version),
    ("process.runtime.name", Rule::Token),
    ("process.runtime.version", Rule::Version),
    ("rpc.grpc.status_code", Rule::Num),
    ("rpc.method", Rule::Code),
    ("rpc.service", Rule::Code),
    ("rpc.system", Rule::Token),
    ("sentry.dist", Rule::Dist),
    ("sentry.environment", Rule::Environment),
    ("sentry.exclusive_time", Rule::Num),
    ("sentry.op", Rule::Token),
    ("sentry.origin", Rule::Token),
    ("sentry.platform", Rule::Token),
    ("sentry.release", Rule::Release),
    ("sentry.sample_rate", Rule::Num),
    ("sentry.sdk.name", Rule::Token),
    ("sentry.sdk.version", Rule::Version),
    ("sentry.segment.id", Rule::Id),
    ("sentry.segment.name", Rule::SegmentName),
    ("sentry.segment.name.source", Rule::Token),
    ("sentry.source", Rule::Token),
    ("sentry.trace_lifecycle", Rule::Token),
    ("server.address", Rule::Host),
    ("thread.id", Rule::Text),
    ("thread.name", Rule::Text),
    ("url", Rule::Url),
    ("url.full", Rule::Url),
    ("user.id", Rule::UserId),
];

/// The table's own spelling of a kept key and its rule.
pub fn rule_of(key: &str) -> Option<(&'static str, Rule)> {
    KEYS.binary_search_by(|(k, _)| (*k).cmp(key))
        .ok()
        .map(|i| KEYS[i])
}

thread_local! {
    /// The company tag's name while an item of a type that carries it as an attribute is
    /// parsed. serde's derive passes no context down to a map's visitor, and the name is
    /// configuration (`--company-tag`), so it is set around the parse by
    /// [`with_company_key`] rather than threaded through every derived type as a seed.
    static COMPANY_KEY: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f` (a parse) with attributes named like `company_tag` (in any case) captured as
/// the company attribute.
pub fn with_company_key<R>(company_tag: &str, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<String>);
    impl Drop for Reset {
        fn drop(&mut self) {
            COMPANY_KEY.with(|k| *k.borrow_mut() = self.0.take());
        }
    }
    let previous = COMPANY_KEY.with(|k| k.borrow_mut().replace(company_tag.to_owned()));
    let _reset = Reset(previous);
    f()
}

fn company_key(key: &str) -> Option<String> {
    COMPANY_KEY.with(|k| {
        k.borrow()
            .as_deref()
            .filter(|tag| key.eq_ignore_ascii_case(tag))
            .map(str::to_owned)
    })
}

/// One kept entry: its key as it will be written, its rule and its value.
#[derive(Debug)]
pub struct Entry<V> {
    /// The table's key, or the configured company tag's name.
    pub key: Cow<'static, str>,
    /// How the value is judged.
    pub rule: Rule,
    /// The value.
    pub value: V,
}

impl<V> Entry<V> {
    /// The key as a path segment of `_meta`: the table's `'static` key, or the policy's
    /// company tag (which outlives the walk).
    pub fn meta_key<'p>(&self, policy: &'p crate::policy::Policy) -> &'p str {
        match &self.key {
            Cow::Borrowed(k) => k,
            Cow::Owned(_) => policy.config.company_tag.as_str(),
        }
    }
}

/// A map filtered by [`KEYS`] while parsing: other keys are skipped unread and only
/// counted. Span data (`V` = [`AttrVal`]) and typed attributes (`V` = a typed attribute)
/// share it.
#[derive(Debug)]
pub struct Allowlisted<V> {
    /// Kept entries, in the order sent.
    pub kept: Vec<Entry<V>>,
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

    /// The value under a table key.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.kept.iter().find(|e| e.key == key).map(|e| &e.value)
    }
}

impl<V: Serialize> Serialize for Allowlisted<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.kept.iter().map(|e| (e.key.as_ref(), &e.value)))
    }
}

struct AllowlistedVisitor<V>(std::marker::PhantomData<V>);

impl<'de, V: Deserialize<'de>> Visitor<'de> for AllowlistedVisitor<V> {
    type Value = Allowlisted<V>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("span data or attributes")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut d = Allowlisted::default();
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            let found = match rule_of(&k) {
                Some((key, rule)) => Some((Cow::Borrowed(key), rule)),
                None => company_key(&k).map(|tag| (Cow::Owned(tag), Rule::Company)),
            };
            match found {
                // A repeated key must not grow the list without bound.
                Some((key, rule)) if d.kept.len() < MAX_ELEMENTS => d.kept.push(Entry {
                    key,
                    rule,
                    value: map.next_value()?,
                }),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    d.removed = d.removed.saturating_add(1);
                }
            }
        }
        Ok(d)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Allowlisted::default())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Allowlisted<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AllowlistedVisitor(std::marker::PhantomData))
    }
}

/// Most strings kept from one list value (`finish_reasons` has one per choice).
const MAX_LIST: usize = 32;

/// An attribute's value: a scalar, or a list of strings (the only lists a kept rule reads;
/// any other list or object is [`Val::Other`], dropped).
#[derive(Debug, Clone, PartialEq)]
pub enum AttrVal<'a> {
    /// A scalar.
    One(Val<'a>),
    /// A list of strings.
    List(Vec<Cow<'a, str>>),
}

impl Serialize for AttrVal<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AttrVal::One(v) => v.serialize(s),
            AttrVal::List(l) => s.collect_seq(l.iter().map(AsRef::<str>::as_ref)),
        }
    }
}

struct AttrValVisitor;

impl<'de> Visitor<'de> for AttrValVisitor {
    type Value = AttrVal<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(AttrVal::One(Val::Str(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(AttrVal::One(Val::Str(Cow::Owned(v.to_owned()))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(AttrVal::One(Val::Num(v.into())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(AttrVal::One(Val::Num(v.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(AttrVal::One(
            serde_json::Number::from_f64(v).map_or(Val::Other, Val::Num),
        ))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(AttrVal::One(Val::Bool(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(AttrVal::One(Val::Other))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(AttrVal::One(Val::Other))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        let mut strings = true;
        while let Some(v) = seq.next_element::<Val<'de>>()? {
            match v {
                Val::Str(s) if out.len() < MAX_LIST => out.push(s),
                _ => strings = false,
            }
        }
        Ok(if strings {
            AttrVal::List(out)
        } else {
            AttrVal::One(Val::Other)
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(AttrVal::One(Val::Other))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for AttrVal<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AttrValVisitor)
    }
}

impl<'a> AttrVal<'a> {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrVal::One(v) => v.as_str(),
            AttrVal::List(_) => None,
        }
    }
}

/// What a value is judged against besides its rule: the span it is on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Site<'s> {
    /// The span's op (`sentry.op`, or a transaction span's `op`).
    pub op: &'s str,
    /// The span's `http.route` as sent: the template of its URLs.
    pub route: Option<&'s str>,
}

/// Judges one kept value by its rule. `None` afterwards means it goes (counted by the
/// caller).
pub fn judge(cx: &mut Ctx<'_>, rule: Rule, site: Site<'_>, v: &mut Option<AttrVal<'_>>) {
    match rule {
        Rule::Tokens => {
            tokens(v);
            return;
        }
        _ if matches!(v, Some(AttrVal::List(_))) => {
            *v = None;
            return;
        }
        _ => {}
    }
    let mut slot = match v.take() {
        Some(AttrVal::One(val)) => Some(val),
        _ => None,
    };
    judge_scalar(cx, rule, site, &mut slot);
    *v = slot.map(AttrVal::One);
}

fn judge_scalar(cx: &mut Ctx<'_>, rule: Rule, site: Site<'_>, v: &mut Option<Val<'_>>) {
    if matches!(v, Some(Val::Other)) {
        *v = None;
        return;
    }
    match rule {
        Rule::Token => {
            if !matches!(v, Some(Val::Num(_) | Val::Bool(_))) {
                ctx::token(v)
            }
        }
        Rule::Version => {
            if !matches!(v, Some(Val::Str(s)) if ctx::is_version(s)) {
                *v = None;
            }
        }
        Rule::Id => ctx::hex_id(v),
        Rule::Num => {
            if let Some(Val::Str(s)) = v {
                if s.len() > 32 || s.trim().parse::<f64>().is_err() {
                    *v = None;
                }
            }
        }
        Rule::Flag => {
            if !matches!(v, Some(Val::Bool(_))) {
                *v = None;
            }
        }
        Rule::Text => {
            // Numbers under technical keys (thread ids, sizes, line numbers) are kept as
            // sent: a Luhn-valid thread id is not a card.
            if !matches!(v, Some(Val::Num(_))) {
                cx.val_text(v)
            }
        }
        Rule::Code => code(cx, v),
        Rule::Release => crate::deploy::release(cx, v),
        Rule::Environment => crate::deploy::environment(cx, v),
        Rule::Dist => crate::deploy::dist(cx, v),
        Rule::Url => {
            let route = site
                .route
                .filter(|r| crate::normalize::ident::is_identifier_shaped(r));
            cx.val_request_url(v, route)
        }
        Rule::Sql => match v {
            Some(Val::Str(s)) => {
                if let Some(n) = crate::normalize::sql::scrub_sql(s) {
                    cx.report.redacted("@sql-literal");
                    *s = Cow::Owned(n);
                }
                cx.text(s);
            }
            _ => *v = None,
        },
        Rule::SegmentName => crate::names::transaction(cx, None, v),
        Rule::Route => crate::names::transaction(cx, Some("route"), v),
        Rule::Host => host(cx, site, v),
        Rule::UserId | Rule::Company => {
            if cx.ids_allowed {
                cx.val_text(v)
            } else {
                *v = None
            }
        }
        Rule::Tokens => unreachable!("lists are judged by `judge`"),
    }
}

/// A name of code: kept (after the detectors) when identifier-shaped; anything else goes.
fn code(cx: &mut Ctx<'_>, v: &mut Option<Val<'_>>) {
    match v {
        Some(Val::Str(s)) if crate::normalize::ident::is_identifier_shaped(s) => cx.text(s),
        Some(Val::Num(_) | Val::Bool(_)) => {}
        _ => *v = None,
    }
}

/// Ops whose spans call another service: their `server.address` is the peer.
fn is_outbound(op: &str) -> bool {
    [
        "http.client",
        "db",
        "cache",
        "messaging",
        "queue",
        "rpc",
        "grpc",
        "gen_ai",
    ]
    .iter()
    .any(|p| op.starts_with(p))
}

fn host(cx: &mut Ctx<'_>, site: Site<'_>, v: &mut Option<Val<'_>>) {
    // sentry-python sets `server.address` to the machine's host name (its `server_name`)
    // on every span; an integration sets it to the peer on outbound calls. The machine's
    // name leaves only when the operator keeps `server_name`.
    if !is_outbound(site.op) && !cx.policy.config.keep_server_name {
        *v = None;
        return;
    }
    let Some(Val::Str(s)) = v else {
        *v = None;
        return;
    };
    let vocab = cx.policy.templates.vocabulary();
    if crate::hosts::is_technical(s, vocab, &cx.policy.config.allowed_hosts) {
        cx.text(s);
    } else {
        cx.report.redacted("@host");
        *s = Cow::Borrowed(crate::hosts::HOST);
    }
}

/// A list of tokens, or a JSON string holding one (`"[\"stop\"]"`): kept when every
/// element is a token; anything else goes.
fn tokens(v: &mut Option<AttrVal<'_>>) {
    let ok = match v {
        Some(AttrVal::List(l)) => l.iter().all(|s| ctx::is_token(s)),
        Some(AttrVal::One(Val::Str(s))) => {
            ctx::is_token(s)
                || serde_json::from_str::<Vec<String>>(s)
                    .is_ok_and(|l| l.len() <= MAX_LIST && l.iter().all(|s| ctx::is_token(s)))
        }
        _ => false,
    };
    if !ok {
        *v = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_for_binary_search() {
        assert!(
            KEYS.windows(2).all(|w| w[0].0 < w[1].0),
            "KEYS must be sorted"
        );
    }
}
