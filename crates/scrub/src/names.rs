//! Names the application writes: transaction names by their source, span descriptions by
//! their op. They are free text (`start_transaction(name=f"reindex {title}")`), so they
//! leave only when their source or their shape says they are code; otherwise a
//! placeholder with a `_meta` remark (`@freetext:replace`). Shapes: [`crate::normalize::ident`].

use std::borrow::Cow;
use std::collections::HashMap;

use crate::ctx::Ctx;
use crate::normalize::{self, ident};
use crate::values::Val;

/// The transaction names decided in one envelope, sent → kept (the first decision of a
/// name wins). The same name is copied into the envelope header (`trace.transaction`) and
/// into profiles, which carry no `transaction_info.source`: they get the decision made
/// where the source was known. A map: an envelope of many items looked each copy up in
/// every name decided before it.
#[derive(Debug, Default)]
pub struct Names {
    seen: HashMap<String, String>,
}

impl Names {
    fn get(&self, sent: &str) -> Option<&str> {
        crate::work::charge(sent.len());
        self.seen.get(sent).map(String::as_str)
    }

    fn record(&mut self, sent: String, kept: &str) {
        crate::work::charge(sent.len());
        self.seen.entry(sent).or_insert_with(|| kept.to_owned());
    }
}

/// Names the SDKs themselves give transactions they cannot name better (sentry-python's
/// WSGI and ASGI fallbacks, a 404 without a route): constants, not data.
const SDK_NAMES: &[&str] = &[
    "generic WSGI request",
    "generic ASGI request",
    "generic AIOHTTP request",
];

/// How far a transaction name's source vouches for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `route`, `view`, `component`: a template or a code path, kept (after the detectors)
    /// when it is identifier-shaped.
    Template,
    /// `url`, `sanitized`: the raw path; it loses its query and non-technical segments.
    Url,
    /// `custom`, `task`, `unknown` or none: kept only when identifier-shaped.
    Free(&'static str),
}

fn source(s: Option<&str>) -> Source {
    match s {
        Some("route" | "view" | "component") => Source::Template,
        Some("url" | "sanitized") => Source::Url,
        Some("custom") => Source::Free("custom"),
        Some("task") => Source::Free("task"),
        _ => Source::Free("unknown"),
    }
}

/// Is this transaction source a route template (so the request URL can take its path)?
pub fn is_route_source(s: Option<&str>) -> bool {
    s == Some("route")
}

/// Decides a transaction name given its `transaction_info.source` (`None` for copies that
/// carry none: the envelope header, profiles). A copy of a name already decided in this
/// envelope gets the same result.
pub fn transaction(cx: &mut Ctx<'_>, src: Option<&str>, v: &mut Option<Val<'_>>) {
    if cx.val_over_budget(v) {
        return;
    }
    let Some(Val::Str(s)) = v else {
        cx.val_text(v);
        return;
    };
    if src.is_none() {
        if let Some(kept) = cx.names.get(s) {
            *s = Cow::Owned(kept.to_owned());
            return;
        }
    }
    let sent = s.to_string();
    if SDK_NAMES.contains(&s.as_ref()) {
        cx.names.record(sent, s);
        return;
    }
    match source(src) {
        Source::Template if ident::is_identifier_shaped(s) => cx.text(s),
        Source::Url if !s.contains(char::is_whitespace) => cx.request_url(s, None),
        Source::Free(_) if ident::is_identifier_shaped(s) => identifier(cx, s),
        Source::Free(name) => cx.replace_freetext(s, &format!("<{name} transaction>")),
        Source::Template | Source::Url => cx.replace_freetext(s, "<unknown transaction>"),
    }
    cx.names.record(sent, s);
}

/// An identifier-shaped name: a path in it (`/export/{id}`, `GET /api/{id}`) loses its
/// non-technical segments, then the detectors run.
fn identifier(cx: &mut Ctx<'_>, s: &mut Cow<'_, str>) {
    if !s.contains('/') {
        cx.text(s);
        return;
    }
    match s.split_once(' ') {
        Some((method, path)) => {
            let mut p = Cow::Owned(path.to_owned());
            cx.request_url(&mut p, None);
            if p != path {
                *s = Cow::Owned(format!("{method} {p}"));
            }
        }
        None => cx.request_url(s, None),
    }
}

/// The placeholder of a span description that is not code.
pub const SPAN_PLACEHOLDER: &str = "<custom span>";

/// Decides a span description (or a v2 span's name) by its op: `db*` descriptions are SQL
/// (literals go), `http*` ones are `METHOD URL` (query and non-technical path segments go),
/// `cache*` ones are keys (non-technical parts masked), a URL is a URL whatever the op, and
/// any other description (a function, a template, a task, a custom op's text) stays only
/// when it is identifier-shaped. Then the detectors run on what is kept.
pub fn span_description(cx: &mut Ctx<'_>, op: &str, desc: &mut Option<Val<'_>>) {
    describe(cx, op, desc, SPAN_PLACEHOLDER);
}

/// A v2 span's `name`, by the same rule as [`span_description`], except that what is not
/// code becomes the span's op (`file.upload`) rather than a generic placeholder: v2 UIs
/// show the name where v1 showed the op.
pub fn span_v2_name(cx: &mut Ctx<'_>, op: &str, name: &mut Option<Val<'_>>) {
    let placeholder = if crate::ctx::is_token(op) {
        op
    } else {
        SPAN_PLACEHOLDER
    };
    describe(cx, op, name, placeholder);
}

/// AI calls (`gen_ai.chat`, `ai.run`): the description or name is built from the prompt
/// or the conversation, so only the op leaves, whatever the shape.
fn is_ai_op(op: &str) -> bool {
    op.starts_with("gen_ai.") || op.starts_with("ai.") || op == "gen_ai" || op == "ai"
}

fn describe(cx: &mut Ctx<'_>, op: &str, desc: &mut Option<Val<'_>>, placeholder: &str) {
    if cx.val_over_budget(desc) {
        return;
    }
    let Some(Val::Str(s)) = desc else {
        cx.val_text(desc);
        return;
    };
    if is_ai_op(op) {
        let only = if crate::ctx::is_token(op) {
            op
        } else {
            SPAN_PLACEHOLDER
        };
        if s != only {
            cx.replace_freetext(s, only);
        }
        return;
    }
    if op.starts_with("db") {
        if let Some(n) = normalize::sql::scrub_sql(s) {
            cx.report.redacted("@sql-literal");
            *s = Cow::Owned(n);
        }
        cx.text(s);
        return;
    }
    if op.starts_with("http") {
        if let Some(n) = normalize::url::scrub_http_description(s) {
            cx.report.redacted("@url-query");
            *s = Cow::Owned(n);
        }
        // `GET https://host/users/alice%40example.com`: the URL's segments pass the
        // detectors decoded and are masked when not technical, like any request URL.
        if let Some((method, url)) = s.split_once(' ') {
            if !method.is_empty()
                && method.bytes().all(|b| b.is_ascii_uppercase())
                && !url.contains(char::is_whitespace)
            {
                let mut u = Cow::Owned(url.to_owned());
                cx.request_url(&mut u, None);
                if u != url {
                    *s = Cow::Owned(format!("{method} {u}"));
                }
                return;
            }
        }
    }
    // Whatever the op (`resource.script`, `navigation`, custom ones), a description that is
    // a URL is treated as one.
    if s.contains("://") && !s.contains(char::is_whitespace) {
        cx.request_url(s, None);
        return;
    }
    if op.starts_with("cache") {
        cache_key(cx, s);
        return;
    }
    if ident::is_identifier_shaped(s) {
        identifier(cx, s);
    } else {
        cx.replace_freetext(s, placeholder);
    }
}

/// A cache key (`user:zephyrine:profile`, `views.cache.page/42`): its parts between `:`
/// and `/` are masked when not technical; a key that is not identifier-shaped at all is
/// replaced.
fn cache_key(cx: &mut Ctx<'_>, s: &mut Cow<'_, str>) {
    if !ident::is_identifier_shaped(s) || s.contains(' ') {
        cx.replace_freetext(s, SPAN_PLACEHOLDER);
        return;
    }
    let mut masked = false;
    let out: Vec<&str> = s
        .split(':')
        .map(|part| {
            if part.split('/').all(ident::is_technical_segment) {
                part
            } else {
                masked = true;
                ident::MASKED_SEGMENT
            }
        })
        .collect();
    if masked {
        cx.report.redacted("@urlpath");
        let new = out.join(":");
        cx.replace_with_remark(s, new, crate::ctx::RULE_URLPATH);
    }
    cx.text(s);
}
