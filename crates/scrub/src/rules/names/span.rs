//! Span descriptions and v2 span names by op: SQL, URLs, cache keys, AI calls, GraphQL
//! operations, and names of code.

use std::borrow::Cow;

use super::{decide_name, identifier, is_route_name};
use crate::normalize::{self, ident};
use crate::walk::values::Val;
use crate::walk::Ctx;

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
    let placeholder = if crate::walk::guards::is_token(op) {
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
    .filter(|s| crate::walk::guards::is_token(s));
    let subjects: Vec<&str> = subjects.collect();
    ops.iter()
        .filter(|o| crate::walk::guards::is_token(o))
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
    if cx.val_over_budget(desc) {
        return;
    }
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
        let only = if crate::walk::guards::is_token(op) {
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
            cx.report.redacted(crate::walk::rules::COUNT_SQL_LITERAL);
            *s = Cow::Owned(n);
        }
        cx.text(s);
        return;
    }
    if op.starts_with("http") {
        if let Some(n) = normalize::url::scrub_http_description(s) {
            cx.report.redacted(crate::walk::rules::COUNT_URL_QUERY);
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
        cx.report.redacted(crate::walk::rules::COUNT_URLPATH);
        new = Some(out.join(":"));
        rules.push(crate::walk::rules::RULE_URLPATH);
    }
    if !cx.ids_allowed {
        if let Some((m, n)) = normalize::ids::mask_key_ids(new.as_deref().unwrap_or(s)) {
            for _ in 0..n {
                cx.report.redacted(crate::walk::rules::COUNT_IDS);
            }
            new = Some(m);
            rules.push(crate::walk::rules::RULE_IDS);
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
