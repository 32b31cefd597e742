//! Names the application writes: transaction names by their source, span descriptions by
//! their op. They are free text (`start_transaction(name=f"reindex {title}")`), so they
//! leave only when their source or their shape says they are code; otherwise a
//! placeholder with a `_meta` remark (`@freetext:replace`). Shapes: [`crate::normalize::ident`].

use std::borrow::Cow;

use crate::ctx::Ctx;
use crate::normalize::{self, ident};
use crate::values::Val;

/// The transaction names decided in one envelope. The same name is copied into the envelope
/// header (`trace.transaction`) and into profiles, which carry no `transaction_info.source`:
/// they get the decision made where the source was known, unless that decision kept IDs
/// the copy may not keep (see [`Names::copy`]).
#[derive(Debug, Default)]
pub struct Names {
    seen: Vec<Decided>,
}

/// One name as sent, how it was judged, and what was kept.
#[derive(Debug)]
struct Decided {
    sent: String,
    source: Source,
    /// The route template a URL name was judged with (a v2 segment's `http.route`).
    route: Option<String>,
    ids_allowed: bool,
    kept: String,
}

/// What a copy of a name does.
enum CopyOf<'n> {
    /// Takes this decision.
    Same(&'n str),
    /// Decides again by the item's source and route, under the copy's own consent.
    Again(Source, Option<&'n str>),
}

impl Names {
    /// How a copy, under `ids_allowed`, follows the items that carried `sent`: a decision
    /// made without IDs suits every copy; one made with IDs suits only a copy that may
    /// keep them. The envelope header and profiles have no ID consent of their own, and the
    /// header stays when the egress re-check drops the items scrubbed with IDs, so they
    /// never take a name that kept a company's ids.
    fn copy(&self, sent: &str, ids_allowed: bool) -> Option<CopyOf<'_>> {
        let first = self.seen.iter().find(|d| d.sent == sent)?;
        let fits = |d: &&Decided| d.sent == sent && (!d.ids_allowed || ids_allowed);
        Some(match self.seen.iter().find(fits) {
            Some(d) => CopyOf::Same(&d.kept),
            None => CopyOf::Again(first.source, first.route.as_deref()),
        })
    }

    fn record(
        &mut self,
        sent: String,
        (source, route): (Source, Option<&str>),
        ids_allowed: bool,
        kept: &str,
    ) {
        self.seen.push(Decided {
            sent,
            source,
            route: route.map(str::to_owned),
            ids_allowed,
            kept: kept.to_owned(),
        });
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
fn is_route_name(name: &str, route: &str) -> bool {
    name == route
        || name
            .split_once(' ')
            .is_some_and(|(m, r)| r == route && ident::is_method(m))
}

fn decide_name(cx: &mut Ctx<'_>, src: Option<&str>, route: Option<&str>, v: &mut Option<Val<'_>>) {
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

/// What a span's own attributes say about its name.
#[derive(Debug, Default)]
pub struct Hints<'h> {
    /// The span's `http.route` as sent: a name that is the route (or `METHOD route`) is
    /// that template, judged like a transaction name of source `route`.
    pub route: Option<&'h str>,
    /// The names an SDK builds for an AI call from attributes that are kept
    /// (`chat gpt-4o-mini`, see [`ai_names`]).
    pub ai: Vec<String>,
}

/// Decides a span description (or a v2 span's name) by its op: `db*` descriptions are SQL
/// (literals go), `http*` ones are `METHOD URL` (query and non-technical path segments go),
/// `cache*` ones are keys (non-technical parts masked), `graphql*` ones are an operation
/// or a resolver path ([`graphql`]), a URL is a URL whatever the op, and any other
/// description (a function, a template, a task, a custom op's text) stays only when it is
/// identifier-shaped. Then the detectors run on what is kept.
pub fn span_description(cx: &mut Ctx<'_>, op: &str, desc: &mut Option<Val<'_>>, hints: &Hints<'_>) {
    describe(cx, op, desc, SPAN_PLACEHOLDER, hints);
}

/// A v2 span's `name`, by the same rule as [`span_description`], except that what is not
/// code becomes the span's op (`file.upload`) rather than a generic placeholder: v2 UIs
/// show the name where v1 showed the op.
pub fn span_v2_name(cx: &mut Ctx<'_>, op: &str, name: &mut Option<Val<'_>>, hints: &Hints<'_>) {
    let placeholder = if crate::ctx::is_token(op) {
        op
    } else {
        SPAN_PLACEHOLDER
    };
    describe(cx, op, name, placeholder, hints);
}

/// AI calls (`gen_ai.chat`, `ai.run`): the description or name is built from the prompt
/// or the conversation, so only the op leaves, whatever the shape, unless the name is
/// one of the SDK's own forms made of kept attributes ([`ai_names`]).
fn is_ai_op(op: &str) -> bool {
    op.starts_with("gen_ai.") || op.starts_with("ai.") || op == "gen_ai" || op == "ai"
}

/// The names the SDKs give AI spans, `{operation} {model}` (`chat gpt-4o-mini`,
/// `embeddings text-embedding-3-small`, `execute_tool get_weather`,
/// `invoke_agent support_agent`): built from the span's attributes `get` as sent, each
/// part a token (the operation is `gen_ai.operation.name` or the op's own word after
/// `gen_ai.`). Both parts are kept attributes judged as tokens or names of code, so a
/// name equal to one of these says nothing the attributes do not.
pub fn ai_names<'s>(op: &str, get: impl Fn(&str) -> Option<&'s str>) -> Vec<String> {
    if !is_ai_op(op) {
        return Vec::new();
    }
    let mut ops: Vec<&str> = Vec::with_capacity(2);
    if let Some(o) = get("gen_ai.operation.name") {
        ops.push(o);
    }
    if let Some(o) = op.strip_prefix("gen_ai.") {
        ops.push(o);
    }
    let subjects = [
        "gen_ai.request.model",
        "gen_ai.response.model",
        "gen_ai.agent.name",
        "gen_ai.tool.name",
    ]
    .iter()
    .filter_map(|k| get(k))
    .filter(|s| crate::ctx::is_token(s));
    let subjects: Vec<&str> = subjects.collect();
    ops.iter()
        .filter(|o| crate::ctx::is_token(o))
        .flat_map(|o| subjects.iter().map(move |s| format!("{o} {s}")))
        .collect()
}

fn describe(
    cx: &mut Ctx<'_>,
    op: &str,
    desc: &mut Option<Val<'_>>,
    placeholder: &str,
    hints: &Hints<'_>,
) {
    let Some(Val::Str(s)) = desc else {
        cx.val_text(desc);
        return;
    };
    // A span named after its own route (@sentry/node's Express handlers, `http.server`
    // spans) carries the template the code declared: judged as a route, like the segment.
    if hints.route.is_some_and(|r| is_route_name(s, r)) {
        decide_name(cx, Some("route"), None, desc);
        return;
    }
    if is_ai_op(op) {
        if hints.ai.iter().any(|n| n == s.as_ref()) {
            cx.text(s);
            return;
        }
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
    if op.starts_with("graphql") {
        graphql(cx, s, placeholder);
        return;
    }
    if ident::is_identifier_shaped(s) {
        identifier(cx, s);
    } else {
        cx.replace_freetext(s, placeholder);
    }
}

/// A cache key (`user:zephyrine:profile`, `views.cache.page/42`): its parts between `:`
/// and `/` are masked when not technical, and without ID consent its ids too
/// (`user:*:profile`, [`normalize::ids::mask_key_ids`]); a key that is not
/// identifier-shaped at all is replaced.
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
    let mut new = None;
    let mut rules = Vec::new();
    if masked {
        cx.report.redacted("@urlpath");
        new = Some(out.join(":"));
        rules.push(crate::ctx::RULE_URLPATH);
    }
    if !cx.ids_allowed {
        if let Some((m, n)) = normalize::ids::mask_key_ids(new.as_deref().unwrap_or(s)) {
            for _ in 0..n {
                cx.report.redacted("@ids");
            }
            new = Some(m);
            rules.push(crate::ctx::RULE_IDS);
        }
    }
    if let Some(new) = new {
        cx.replace_with_rules(s, new, &rules);
    }
    cx.text(s);
}

/// The words GraphQL integrations put before an operation's name or a resolver's path
/// (sentry-python's strawberry: `query SearchDocuments`, `resolving Query.client`;
/// graphene, ariadne, @sentry/node: the operation name alone).
const GRAPHQL_WORDS: &[&str] = &[
    "query",
    "mutation",
    "subscription",
    "resolving",
    "parsing",
    "validation",
    "execute",
];

/// A GraphQL span's name (`graphql.*` ops): `[keyword] [Name]`, where the name is an
/// operation name or a resolver path (`SearchDocuments`, `Query.documents.author`,
/// `Query.documents.0.author`), both identifiers by the GraphQL grammar. Anything else is
/// a query document with its arguments and literals (`query { client(name: "Alice") }`):
/// only its keyword stays, or the placeholder when it has none.
pub fn graphql(cx: &mut Ctx<'_>, s: &mut Cow<'_, str>, placeholder: &str) {
    let mut words = s.split(' ');
    let first = words.next().unwrap_or("");
    let keyword = GRAPHQL_WORDS.contains(&first).then_some(first);
    let rest: Vec<&str> = if keyword.is_some() {
        words.collect()
    } else {
        s.split(' ').collect()
    };
    let name_ok = match rest.as_slice() {
        [] => keyword.is_some(),
        [name] => is_graphql_name(name),
        _ => false,
    };
    if name_ok {
        cx.text(s);
        return;
    }
    let only = keyword.unwrap_or(placeholder).to_owned();
    cx.replace_freetext(s, &only);
}

/// A GraphQL operation name or a field path: names (`[_A-Za-z][_0-9A-Za-z]*`) and list
/// indices joined by `.`.
fn is_graphql_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && (b.iter().all(u8::is_ascii_digit)
                    || ((b[0].is_ascii_alphabetic() || b[0] == b'_')
                        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')))
        })
}
