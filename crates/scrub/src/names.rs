//! Names the application writes: transaction names by their source, span descriptions by
//! their op. They are free text (`start_transaction(name=f"reindex {title}")`), so they
//! leave only when their source or their shape says they are code; otherwise a
//! placeholder with a `_meta` remark (`@freetext:replace`). Shapes: [`crate::normalize::ident`].

use std::borrow::Cow;
use std::collections::HashMap;

use crate::ctx::Ctx;
use crate::normalize::{self, ident};
use crate::values::Val;

/// The transaction names decided in one envelope, by the name as sent. The same name is
/// copied into the envelope header (`trace.transaction`) and into profiles, which carry no
/// `transaction_info.source`: they get the decision made where the source was known, unless
/// that decision kept IDs the copy may not keep (see [`Names::copy`]). A map: an envelope of
/// many items looked each copy up in every name decided before it.
#[derive(Debug, Default)]
pub struct Names {
    seen: HashMap<String, Vec<Decided>>,
}

/// How one name was judged, and what was kept. At most two per name: with and without IDs.
#[derive(Debug)]
struct Decided {
    source: Source,
    ids_allowed: bool,
    kept: String,
}

/// What a copy of a name does.
enum CopyOf<'n> {
    /// Takes this decision.
    Same(&'n str),
    /// Decides again by the item's source, under the copy's own consent.
    Again(Source),
}

impl Names {
    /// How a copy, under `ids_allowed`, follows the items that carried `sent`: a decision
    /// made without IDs suits every copy; one made with IDs suits only a copy that may
    /// keep them. The envelope header and profiles have no ID consent of their own, and the
    /// header stays when the egress re-check drops the items scrubbed with IDs, so they
    /// never take a name that kept a company's ids.
    fn copy(&self, sent: &str, ids_allowed: bool) -> Option<CopyOf<'_>> {
        crate::work::charge(sent.len());
        let decided = self.seen.get(sent)?;
        let first = decided.first()?;
        Some(
            match decided.iter().find(|d| !d.ids_allowed || ids_allowed) {
                Some(d) => CopyOf::Same(&d.kept),
                None => CopyOf::Again(first.source),
            },
        )
    }

    fn record(&mut self, sent: String, source: Source, ids_allowed: bool, kept: &str) {
        crate::work::charge(sent.len());
        let decided = self.seen.entry(sent).or_default();
        // The first decision under each consent wins; later ones are the same judgement.
        if !decided.iter().any(|d| d.ids_allowed == ids_allowed) {
            decided.push(Decided {
                source,
                ids_allowed,
                kept: kept.to_owned(),
            });
        }
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
    if cx.val_over_budget(v) {
        return;
    }
    let Some(Val::Str(s)) = v else {
        cx.val_text(v);
        return;
    };
    let mut judged = source(src);
    if src.is_none() {
        match cx.names.copy(s, cx.ids_allowed) {
            Some(CopyOf::Same(kept)) => {
                *s = Cow::Owned(kept.to_owned());
                return;
            }
            Some(CopyOf::Again(source)) => judged = source,
            None => {}
        }
    }
    let sent = s.to_string();
    if SDK_NAMES.contains(&s.as_ref()) {
        cx.names.record(sent, judged, cx.ids_allowed, s);
        return;
    }
    match judged {
        Source::Template if ident::is_identifier_shaped(s) => cx.text(s),
        Source::Url if !s.contains(char::is_whitespace) => cx.request_url(s, None),
        Source::Free(_) if ident::is_identifier_shaped(s) => identifier(cx, s),
        Source::Free(name) => cx.replace_freetext(s, &format!("<{name} transaction>")),
        Source::Template | Source::Url => cx.replace_freetext(s, "<unknown transaction>"),
    }
    let ids_allowed = cx.ids_allowed;
    cx.names.record(sent, judged, ids_allowed, s);
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
