//! Exceptions, stack traces, frames and threads: the core of what a support engineer needs.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::policy::MessageMode;
use crate::walk::meta::Seg;
use crate::walk::values::{List, Present, Val};
use crate::walk::{guards, Ctx};

/// `{"values": [...]}`, or a bare list as legacy SDKs send. Serialized as `{"values": [...]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Values<T>(pub Vec<T>);

impl<T: Serialize> Serialize for Values<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("values", &self.0)?;
        m.end()
    }
}

struct ValuesVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ValuesVisitor<T> {
    type Value = Values<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{\"values\": [...]} or a list")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            if k == "values" {
                out = map.next_value::<List<T>>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Values(out))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let list: List<T> = Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Values(list.0))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Values<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValuesVisitor(std::marker::PhantomData))
    }
}

/// One exception in a chain.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Exception<'a> {
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    ty: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    value: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    module: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    thread_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    mechanism: Option<Mechanism<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    stacktrace: Option<Stacktrace<'a>>,
}

/// How the exception was caught.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Mechanism<'a> {
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    ty: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    handled: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    synthetic: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    is_exception_group: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    exception_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    parent_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    source: Option<Val<'a>>,
    #[serde(skip_serializing)]
    description: Option<Present>,
    #[serde(skip_serializing)]
    data: Option<Present>,
}

/// A stack trace.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Stacktrace<'a> {
    #[serde(borrow, skip_serializing_if = "List::is_empty")]
    frames: List<Frame<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    lang: Option<Val<'a>>,
    #[serde(skip_serializing)]
    registers: Option<Present>,
}

/// One frame: where the code was, never what it held.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Frame<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    filename: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    abs_path: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    module: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    package: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    function: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    raw_function: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    lineno: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    colno: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    in_app: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    platform: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    instruction_addr: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    symbol_addr: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    image_addr: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "List::is_empty")]
    pre_context: List<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    context_line: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "List::is_empty")]
    post_context: List<Val<'a>>,
    #[serde(skip_serializing)]
    vars: Option<Present>,
}

/// A thread with its stack.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Thread<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    name: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    crashed: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    current: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    main: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    state: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    stacktrace: Option<Stacktrace<'a>>,
}

impl Exception<'_> {
    /// Walks one exception under `exception.values.N`.
    pub fn scrub(&mut self, cx: &mut Ctx<'_>) {
        cx.key("type", |cx| cx.val_text(&mut self.ty));
        cx.key("module", |cx| cx.val_text(&mut self.module));
        guards::num(&mut self.thread_id);
        if let Some(m) = &mut self.mechanism {
            cx.key("mechanism", |cx| m.scrub(cx));
        }
        if let Some(st) = &mut self.stacktrace {
            cx.key("stacktrace", |cx| {
                st.scrub(cx, "exception.values.stacktrace.frames.vars")
            });
        }
        let ty = self.ty.as_ref().and_then(Val::as_str).unwrap_or("");
        let module = self.module.as_ref().and_then(Val::as_str);
        let whole = cx.policy.technical_exception(ty, module);
        let mode = cx.policy.config.exception_messages;
        let local = match (&self.value, mode) {
            // Past the budget the message is not judged: no need for the words.
            _ if cx.budget_spent() => Vec::new(),
            (Some(Val::Str(_)), MessageMode::Template) if !whole => self.code_words(),
            _ => Vec::new(),
        };
        cx.key("value", |cx| match &mut self.value {
            Some(Val::Str(s)) => match mode {
                MessageMode::Template if whole => cx.text(s),
                MessageMode::Template => cx.template_message(s, ty, &local),
                MessageMode::Detect => cx.text(s),
                MessageMode::Drop => cx.filter_message(s),
            },
            Some(Val::Num(_) | Val::Bool(_)) | None => {}
            Some(Val::Other) => self.value = None,
        });
    }

    /// The words of the code this exception went through (its frames' functions and
    /// modules, its own module): names built of them in the message are names of code.
    /// Sorted and without repeats, as [`crate::words::Vocabulary::is_code`]
    /// looks them up (a list searched word by word cost the square of the frames' words).
    fn code_words(&self) -> Vec<String> {
        // A set, so a repeated word (the same module in every frame) costs a lookup, not a
        // copy; its order is the sorted order the lookups need.
        let mut words: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        let frames = self.stacktrace.iter().flat_map(|st| st.frames.0.iter());
        let names = frames
            .flat_map(|f| [&f.function, &f.module])
            .chain([&self.module])
            .filter_map(|v| v.as_ref().and_then(Val::as_str));
        for name in names {
            for w in crate::words::split_words(name) {
                if w.len() >= 3 && w.bytes().all(|b| b.is_ascii_alphabetic()) {
                    crate::work::charge(w.len());
                    let lower = crate::words::lower(w);
                    if !words.contains(lower.as_ref()) {
                        words.insert(lower.into_owned());
                    }
                }
            }
        }
        words.into_iter().collect()
    }
}

impl Mechanism<'_> {
    fn scrub(&mut self, cx: &mut Ctx<'_>) {
        guards::token(&mut self.ty);
        guards::flag(&mut self.handled);
        guards::flag(&mut self.synthetic);
        guards::flag(&mut self.is_exception_group);
        guards::num(&mut self.exception_id);
        guards::num(&mut self.parent_id);
        guards::token(&mut self.source);
        if self.description.take().is_some() {
            cx.removed("description", "exception.values.mechanism.description");
        }
        if self.data.take().is_some() {
            cx.removed("data", "exception.values.mechanism.data");
        }
    }
}

impl Stacktrace<'_> {
    /// Walks a stack trace; `vars_path` names removed locals in the report.
    pub fn scrub(&mut self, cx: &mut Ctx<'_>, vars_path: &'static str) {
        guards::token(&mut self.lang);
        if self.registers.take().is_some() {
            cx.removed("registers", "stacktrace.registers");
        }
        cx.key("frames", |cx| {
            for (i, f) in self.frames.0.iter_mut().enumerate() {
                cx.at(Seg::Index(i), |cx| f.scrub(cx, vars_path));
            }
        });
    }
}

impl Frame<'_> {
    fn scrub(&mut self, cx: &mut Ctx<'_>, vars_path: &'static str) {
        // Browser and mobile frames point at URLs (`https://app/static/main.js?token=…`).
        cx.key("filename", |cx| path_or_url(cx, &mut self.filename));
        cx.key("abs_path", |cx| path_or_url(cx, &mut self.abs_path));
        cx.key("module", |cx| cx.val_text(&mut self.module));
        cx.key("package", |cx| cx.val_text(&mut self.package));
        cx.key("function", |cx| cx.val_text(&mut self.function));
        cx.key("raw_function", |cx| cx.val_text(&mut self.raw_function));
        guards::num(&mut self.lineno);
        guards::num(&mut self.colno);
        guards::flag(&mut self.in_app);
        guards::token(&mut self.platform);
        guards::token(&mut self.instruction_addr);
        guards::token(&mut self.symbol_addr);
        guards::token(&mut self.image_addr);
        self.source_lines(cx);
        if self.vars.take().is_some() {
            cx.removed("vars", vars_path);
        }
    }
}

impl Frame<'_> {
    /// Source lines: removed unless the operator turned them on; then the frame's lines are
    /// read as one window (a string opened above the context line stays masked below it),
    /// string literals and comments masked, and every line passes the detectors.
    fn source_lines(&mut self, cx: &mut Ctx<'_>) {
        let present = !self.pre_context.is_empty()
            || self.context_line.is_some()
            || !self.post_context.is_empty();
        if !present {
            return;
        }
        // Past the work budget the lines are not read: they go, as when they are off.
        if !cx.policy.config.source_context || cx.budget_spent() {
            self.pre_context.0.clear();
            self.context_line = None;
            self.post_context.0.clear();
            cx.removed_silently("stacktrace.frames.context");
            return;
        }
        let text = |v: &Val<'_>| match v {
            Val::Str(s) => s.to_string(),
            _ => String::new(),
        };
        let (pre, post) = (self.pre_context.0.len(), self.post_context.0.len());
        let mut window: Vec<String> = self.pre_context.0.iter().map(text).collect();
        window.push(self.context_line.as_ref().map(text).unwrap_or_default());
        window.extend(self.post_context.0.iter().map(text));
        if crate::normalize::source::mask_lines(&mut window) > 0 {
            cx.report.redacted(crate::walk::rules::COUNT_SOURCE_LITERAL);
        }
        let mut it = window.into_iter().map(|l| Val::Str(Cow::Owned(l)));
        self.pre_context.0 = it.by_ref().take(pre).collect();
        let line = it.next();
        if self.context_line.is_some() {
            self.context_line = line;
        }
        self.post_context.0 = it.take(post).collect();
        lines(cx, "pre_context", &mut self.pre_context);
        cx.key("context_line", |cx| cx.val_text(&mut self.context_line));
        lines(cx, "post_context", &mut self.post_context);
    }
}

/// A frame's file: a URL gets the URL treatment (no query, decoded path segments), a path
/// the detectors (home-directory users), including a home folder deeper in the path.
fn path_or_url(cx: &mut Ctx<'_>, v: &mut Option<Val<'_>>) {
    if cx.val_over_budget(v) {
        return;
    }
    match v {
        Some(Val::Str(s)) if s.contains("://") => cx.val_url(v),
        Some(Val::Str(s)) => {
            if let Some(masked) = crate::detect::mask_nested_home(s) {
                cx.report.redacted(crate::walk::rules::COUNT_USERPATH);
                cx.replace_with_remark(s, masked, crate::walk::rules::RULE_USERPATH);
            }
            cx.text(s);
        }
        _ => cx.val_text(v),
    }
}

fn lines(cx: &mut Ctx<'_>, key: &'static str, list: &mut List<Val<'_>>) {
    cx.key(key, |cx| {
        for (i, l) in list.0.iter_mut().enumerate() {
            cx.at(Seg::Index(i), |cx| {
                let mut v = Some(std::mem::replace(l, Val::Other));
                cx.val_text(&mut v);
                // Keep the line count: a dropped line becomes empty, so line numbers still align.
                *l = v.unwrap_or(Val::Str(Cow::Borrowed("")));
            });
        }
    });
}

impl Thread<'_> {
    /// Walks one thread under `threads.values.N`.
    pub fn scrub(&mut self, cx: &mut Ctx<'_>) {
        match &self.id {
            Some(Val::Num(_)) => {}
            // A thread id is technical: digits are kept as sent, not read as a card.
            Some(Val::Str(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {}
            Some(Val::Str(_)) => cx.key("id", |cx| cx.val_text(&mut self.id)),
            _ => self.id = None,
        }
        cx.key("name", |cx| cx.val_text(&mut self.name));
        guards::flag(&mut self.crashed);
        guards::flag(&mut self.current);
        guards::flag(&mut self.main);
        guards::token(&mut self.state);
        if let Some(st) = &mut self.stacktrace {
            cx.key("stacktrace", |cx| {
                st.scrub(cx, "threads.values.stacktrace.frames.vars")
            });
        }
    }
}
