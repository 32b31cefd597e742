//! The attribute schema shared by transaction span data, span v2 attributes and trace
//! metric attributes: one table of kept keys ([`keys::KEYS`]), each with the [`Rule`] its value
//! is judged by. A key that is not in the table is skipped unread and counted, so the
//! allowlist is the schema here too (DESIGN.md §6): a streamed span's attribute is judged
//! exactly like the transaction span field it stands for.
//!
//! Two keys are decided by consent, not by the table: `user.id` and the company attribute
//! (named like `--company-tag`, as sentry-sdk 3.x's `set_attribute` puts it on spans, logs
//! and metrics). Both leave only when IDs are allowed.

mod keys;
mod map;

use std::borrow::Cow;

use crate::walk::values::Val;
use crate::walk::{guards, Ctx};

pub use keys::rule_of;
pub use map::{with_company_key, Allowlisted, AttrVal};

use map::MAX_LIST;

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
    /// `release`: see [`crate::rules::deploy::release`].
    Release,
    /// `environment`: see [`crate::rules::deploy::environment`].
    Environment,
    /// `dist`: see [`crate::rules::deploy::dist`].
    Dist,
    /// A URL: query and non-technical path segments go; the span's `http.route` is its
    /// path's template, as the event's route is for `request.url`.
    Url,
    /// An SQL statement: literals replaced ([`crate::normalize::sql::scrub_sql`]).
    Sql,
    /// A copy of the segment's (transaction's) name: the decision made for the name where
    /// its source was known ([`crate::rules::names::transaction`]).
    SegmentName,
    /// A route template (`http.route`): judged like a transaction name of source `route`.
    Route,
    /// A list of tokens (`["stop"]`), or the same list as a JSON string (@sentry/node).
    Tokens,
    /// `server.address`: the peer of an outbound call, or the machine's own host name
    /// (sentry-python's `server_name`), which leaves only with `--keep-server-name`; both
    /// by the host rule ([`crate::normalize::hosts`]).
    Host,
    /// `user.id`: only under ID consent.
    UserId,
    /// The company attribute: only under ID consent, under the configured tag's name.
    Company,
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
                guards::token(v)
            }
        }
        Rule::Version => {
            if !matches!(v, Some(Val::Str(s)) if guards::is_version(s)) {
                *v = None;
            }
        }
        Rule::Id => guards::hex_id(v),
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
        Rule::Release => crate::rules::deploy::release(cx, v),
        Rule::Environment => crate::rules::deploy::environment(cx, v),
        Rule::Dist => crate::rules::deploy::dist(cx, v),
        Rule::Url => {
            let route = site
                .route
                .filter(|r| crate::normalize::ident::is_identifier_shaped(r));
            cx.val_request_url(v, route)
        }
        Rule::Sql => match v {
            Some(Val::Str(s)) => {
                if let Some(n) = crate::normalize::sql::scrub_sql(s) {
                    cx.report.redacted(crate::walk::rules::COUNT_SQL_LITERAL);
                    *s = Cow::Owned(n);
                }
                cx.text(s);
            }
            _ => *v = None,
        },
        Rule::SegmentName => crate::rules::names::transaction(cx, None, v),
        Rule::Route => crate::rules::names::transaction(cx, Some("route"), v),
        Rule::Host => host(cx, site, v),
        Rule::UserId | Rule::Company => {
            if cx.ids_allowed {
                cx.val_text(v)
            } else {
                *v = None
            }
        }
        // Judged as a list by `judge`; a lone scalar here is one token at most.
        Rule::Tokens => guards::token(v),
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
    let vocab = cx.policy.vocabulary;
    if crate::normalize::hosts::is_technical(s, vocab, &cx.policy.config.allowed_hosts) {
        cx.text(s);
    } else {
        cx.report.redacted(crate::walk::rules::COUNT_HOST);
        *s = Cow::Borrowed(crate::normalize::hosts::HOST);
    }
}

/// A list of tokens, or a JSON string holding one (`"[\"stop\"]"`): kept when every
/// element is a token; anything else goes.
fn tokens(v: &mut Option<AttrVal<'_>>) {
    let ok = match v {
        Some(AttrVal::List(l)) => l.iter().all(|s| guards::is_token(s)),
        Some(AttrVal::One(Val::Str(s))) => {
            guards::is_token(s)
                || serde_json::from_str::<Vec<String>>(s)
                    .is_ok_and(|l| l.len() <= MAX_LIST && l.iter().all(|s| guards::is_token(s)))
        }
        _ => false,
    };
    if !ok {
        *v = None;
    }
}
