//! Names the application writes: transaction names by their source, span descriptions by
//! their op. They are free text (`start_transaction(name=f"reindex {title}")`), so they
//! leave only when their source or their shape says they are code; otherwise a
//! placeholder with a `_meta` remark (`@freetext:replace`). Shapes: [`crate::normalize::ident`].

mod span;

use std::borrow::Cow;

use crate::normalize::ident;
use crate::walk::names::{CopyOf, Source};
use crate::walk::values::Val;
use crate::walk::Ctx;

pub use span::{ai_names, span_description, span_v2_name, Hints};

/// Names the SDKs themselves give transactions they cannot name better (sentry-python's
/// WSGI and ASGI fallbacks, a 404 without a route): constants, not data.
const SDK_NAMES: &[&str] = &[
    "generic WSGI request",
    "generic ASGI request",
    "generic AIOHTTP request",
];

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
/// envelope gets the same result (see [`Names::copy`]).
pub fn transaction(cx: &mut Ctx<'_>, src: Option<&str>, v: &mut Option<Val<'_>>) {
    decide_name(cx, src, None, v);
}

/// Decides a v2 segment span's name, the transaction name of span streaming: by
/// `sentry.segment.name.source` exactly like [`transaction`]. A name that is the span's
/// own `http.route` (or `METHOD route`) is that template whatever the source says; a URL
/// name takes the route's path as its template, as an event's `request.url` does.
pub fn segment(cx: &mut Ctx<'_>, src: Option<&str>, route: Option<&str>, v: &mut Option<Val<'_>>) {
    let src = match (v.as_ref().and_then(Val::as_str), route) {
        (Some(name), Some(route)) if is_route_name(name, route) => Some("route"),
        _ => src,
    };
    decide_name(cx, src, route, v);
}

/// Is `name` the route template itself, or `METHOD template`?
pub(super) fn is_route_name(name: &str, route: &str) -> bool {
    name == route
        || name
            .split_once(' ')
            .is_some_and(|(m, r)| r == route && ident::is_method(m))
}

pub(super) fn decide_name(
    cx: &mut Ctx<'_>,
    src: Option<&str>,
    route: Option<&str>,
    v: &mut Option<Val<'_>>,
) {
    if cx.val_over_budget(v) {
        return;
    }
    let Some(Val::Str(s)) = v else {
        cx.val_text(v);
        return;
    };
    let mut judged = source(src);
    let mut route = route.map(str::to_owned);
    if src.is_none() {
        match cx.names.copy(s, cx.ids_allowed) {
            Some(CopyOf::Same(kept)) => {
                *s = Cow::Owned(kept.to_owned());
                return;
            }
            Some(CopyOf::Again(source, r)) => {
                judged = source;
                route = r.map(str::to_owned);
            }
            None => {}
        }
    }
    let sent = s.to_string();
    let how = (judged, route.as_deref());
    if SDK_NAMES.contains(&s.as_ref()) {
        cx.names.record(sent, how, cx.ids_allowed, s);
        return;
    }
    match judged {
        Source::Template if ident::is_identifier_shaped(s) => cx.text(s),
        Source::Url => url_name(cx, s, route.as_deref()),
        Source::Free(_) if ident::is_identifier_shaped(s) => identifier(cx, s),
        Source::Free(name) => cx.replace_freetext(s, &format!("<{name} transaction>")),
        Source::Template => cx.replace_freetext(s, "<unknown transaction>"),
    }
    let ids_allowed = cx.ids_allowed;
    cx.names.record(sent, how, ids_allowed, s);
}

/// A name of source `url`: a path or URL, optionally after an HTTP method; it loses its
/// query and non-technical segments, or takes the route's path when the route matches.
fn url_name(cx: &mut Ctx<'_>, s: &mut Cow<'_, str>, route: Option<&str>) {
    let (method, url) = match s.split_once(' ') {
        Some((m, u)) if ident::is_method(m) => (Some(m), u),
        _ => (None, s.as_ref()),
    };
    if url.contains(char::is_whitespace) {
        cx.replace_freetext(s, "<unknown transaction>");
        return;
    }
    let Some(method) = method else {
        cx.request_url(s, route);
        return;
    };
    let mut u = Cow::Owned(url.to_owned());
    cx.request_url(&mut u, route);
    if u != url {
        *s = Cow::Owned(format!("{method} {u}"));
    }
}

/// An identifier-shaped name: a path in it (`/export/{id}`, `GET /api/{id}`) loses its
/// non-technical segments, then the detectors run.
pub(super) fn identifier(cx: &mut Ctx<'_>, s: &mut Cow<'_, str>) {
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
