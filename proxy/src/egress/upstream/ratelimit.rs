//! Upstream rate limits: `X-Sentry-Rate-Limits` parsed per category, kept in a table, and
//! passed back to the SDKs so they stop sending what would be refused anyway.
//!
//! Header format: `retry_after:categories:scope[:reason_code[:namespaces]]`, comma-separated;
//! categories are `;`-separated and empty means every category. A 429 without the header
//! limits every category for `Retry-After` seconds (60 when absent).
//!
//! The upstream is a peer like any other: what it says is clamped before it is believed.
//! Every wait is at most [`MAX_RETRY_AFTER`] (an hour: longer than any quota window Sentry
//! uses, and short enough that a wrong answer heals by itself); at most [`MAX_ENTRIES`]
//! entries of one header are read; only Sentry's own [`CATEGORIES`] are kept (an entry that
//! names only unknown ones is ignored, never widened to "every category"); scopes other than
//! `project` and `key` read as `organization`. So the table stays small and the header
//! passed back to the SDKs is built only from known names and capped at
//! [`MAX_SDK_HEADER`] bytes.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use envelope::ItemType;

use crate::dsn::Dsn;

/// Longest wait believed from the upstream, in seconds (`Retry-After`, rate-limit windows).
pub const MAX_RETRY_AFTER: u64 = 3600;

/// Wait applied by a `429` that gives neither rate limits nor a readable `Retry-After`.
pub const DEFAULT_RETRY_AFTER: u64 = 60;

/// Entries read from one `X-Sentry-Rate-Limits` header; the rest are ignored.
pub const MAX_ENTRIES: usize = 32;

/// Longest `X-Sentry-Rate-Limits` value passed back to an SDK, in bytes.
pub const MAX_SDK_HEADER: usize = 512;

/// Sentry's data categories, as its ingest names them in `X-Sentry-Rate-Limits`. A limit on
/// any other name is ignored.
pub const CATEGORIES: &[&str] = &[
    "default",
    "error",
    "transaction",
    "security",
    "attachment",
    "session",
    "profile",
    "profile_chunk",
    "replay",
    "monitor",
    "span",
    "log_item",
    "log_byte",
    "feedback",
    "user_report_v2",
    "trace_metric",
];

/// Data category of an item type, as Sentry counts quotas.
pub fn category(ty: &ItemType) -> Option<&'static str> {
    Some(match ty {
        ItemType::Event => "error",
        ItemType::Transaction => "transaction",
        ItemType::Span => "span",
        ItemType::Session | ItemType::Sessions => "session",
        ItemType::Profile | ItemType::ProfileChunk => "profile",
        ItemType::CheckIn => "monitor",
        ItemType::TraceMetric => "trace_metric",
        // Client reports are the SDK's own accounting and are never limited.
        _ => return None,
    })
}

/// Whose requests a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// The upstream's organization: every route of the proxy (also any scope it does not know).
    Organization,
    /// One upstream project.
    Project,
    /// One upstream public key.
    Key,
}

impl Scope {
    /// The name in the header.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Organization => "organization",
            Scope::Project => "project",
            Scope::Key => "key",
        }
    }

    fn parse(s: &str) -> Scope {
        match s.trim() {
            "project" => Scope::Project,
            "key" => Scope::Key,
            // organization, and scopes this proxy does not know: the widest reading.
            _ => Scope::Organization,
        }
    }
}

/// One parsed limit, already clamped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// Seconds to wait, at most [`MAX_RETRY_AFTER`].
    pub retry_after: u64,
    /// Limited categories, each one of [`CATEGORIES`]; empty means all.
    pub categories: Vec<&'static str>,
    /// Whose requests it limits.
    pub scope: Scope,
}

impl Limit {
    /// Every category of every route, for `secs` (clamped).
    pub fn everything(secs: u64) -> Limit {
        Limit {
            retry_after: secs.min(MAX_RETRY_AFTER),
            categories: Vec::new(),
            scope: Scope::Organization,
        }
    }
}

/// Seconds from a number the upstream sent (`60`, `2.5`, `1e19`): rounded up and capped at
/// [`MAX_RETRY_AFTER`]; `None` for a negative, infinite or unreadable value.
pub fn seconds(value: &str) -> Option<u64> {
    let v = value.trim().parse::<f64>().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    // Compared as a float first: `as u64` saturates, but the cap says what is meant.
    Some(if v >= MAX_RETRY_AFTER as f64 {
        MAX_RETRY_AFTER
    } else {
        v.ceil() as u64
    })
}

/// The `Retry-After` of an answer, in seconds, clamped. Only the delay form is read: the
/// HTTP-date form would need a clock here, and Sentry's ingest sends seconds.
pub fn retry_after(value: &str) -> Option<u64> {
    seconds(value)
}

/// Parses `X-Sentry-Rate-Limits`. Unparseable entries and unknown categories are skipped;
/// at most [`MAX_ENTRIES`] entries are read.
pub fn parse_header(value: &str) -> Vec<Limit> {
    value
        .split(',')
        .take(MAX_ENTRIES)
        .filter_map(|entry| {
            let mut parts = entry.trim().split(':');
            let retry_after = seconds(parts.next()?)?;
            let named = parts.next().unwrap_or("");
            let mut categories: Vec<&'static str> = named
                .split(';')
                .filter_map(|c| CATEGORIES.iter().copied().find(|k| *k == c.trim()))
                .collect();
            categories.sort_unstable();
            categories.dedup();
            // Named categories, none of them known: not a limit on everything.
            if categories.is_empty() && named.split(';').any(|c| !c.trim().is_empty()) {
                return None;
            }
            Some(Limit {
                retry_after,
                categories,
                scope: Scope::parse(parts.next().unwrap_or("")),
            })
        })
        .collect()
}

/// Which SDK-facing route a limit applies to: the upstream's organization (every route),
/// one project, or one public key.
fn scope_key(scope: Scope, dsn: &Dsn) -> String {
    match scope {
        Scope::Project => format!("project:{}", dsn.project_id),
        Scope::Key => format!("key:{}", dsn.public_key),
        Scope::Organization => String::new(),
    }
}

/// The three scope keys that apply to requests going to `dsn`.
fn scopes_of(dsn: &Dsn) -> [String; 3] {
    [
        String::new(),
        scope_key(Scope::Project, dsn),
        scope_key(Scope::Key, dsn),
    ]
}

/// Active limits, keyed by scope (organization, project, key) and category (`""` for all),
/// to their end and scope. Bounded: the scopes come from the proxy's own upstream DSNs and
/// the categories from [`CATEGORIES`].
#[derive(Debug, Default)]
pub struct RateLimits {
    table: Mutex<Table>,
}

/// (scope key, category or `""`) → (end, scope).
type Table = BTreeMap<(String, &'static str), (Instant, Scope)>;

impl RateLimits {
    /// Records limits the upstream gave for a request to `dsn`.
    pub fn record(&self, limits: &[Limit], dsn: &Dsn, now: Instant) {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        for l in limits {
            // Clamped by the parser already; checked again so that no value reaching this
            // table can overflow the clock.
            let wait = Duration::from_secs(l.retry_after.min(MAX_RETRY_AFTER));
            let Some(until) = now.checked_add(wait) else {
                continue;
            };
            let scope = scope_key(l.scope, dsn);
            let all: &[&'static str] = &[""];
            let cats = if l.categories.is_empty() {
                all
            } else {
                &l.categories[..]
            };
            for cat in cats {
                let entry = t.entry((scope.clone(), *cat)).or_insert((until, l.scope));
                if entry.0 < until {
                    *entry = (until, l.scope);
                }
            }
        }
    }

    /// Is this category limited now for requests to `dsn`?
    pub fn is_limited(&self, category: &str, dsn: &Dsn, now: Instant) -> bool {
        let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        scopes_of(dsn).into_iter().any(|s| {
            t.range((s.clone(), "")..=(s, "\u{10ffff}"))
                .any(|((_, c), (until, _))| (*c == category || c.is_empty()) && *until > now)
        })
    }

    /// The header for SDKs whose route goes to `dsn`, with the time left on each active
    /// limit, and the longest of those times; `None` when none applies.
    ///
    /// One entry per category, longest first, at most [`MAX_SDK_HEADER`] bytes: a category
    /// limited for less time than a limit on every category is left out (the latter covers
    /// it), and entries that would pass the cap are left out (the SDK sends them, and the
    /// upstream answers 429 again).
    pub fn header(&self, dsn: &Dsn, now: Instant) -> Option<(String, u64)> {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.retain(|_, (until, _)| *until > now);
        let scopes = scopes_of(dsn);
        // Per category, the limit that ends last, whatever its scope.
        let mut per_cat: BTreeMap<&'static str, (u64, Scope)> = BTreeMap::new();
        for ((scope, cat), (until, name)) in t.iter() {
            if !scopes.contains(scope) {
                continue;
            }
            let secs = until.saturating_duration_since(now).as_secs_f64().ceil() as u64;
            let e = per_cat.entry(cat).or_insert((secs, *name));
            if secs > e.0 {
                *e = (secs, *name);
            }
        }
        drop(t);
        let all = per_cat.get("").map_or(0, |(s, _)| *s);
        let mut entries: Vec<(u64, &'static str, Scope)> = per_cat
            .into_iter()
            .filter(|(cat, (secs, _))| cat.is_empty() || *secs > all)
            .map(|(cat, (secs, scope))| (secs, cat, scope))
            .collect();
        entries.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let max = entries.first().map(|e| e.0)?;
        let mut out = String::new();
        for (secs, cat, scope) in entries {
            let entry = format!("{secs}:{cat}:{}", scope.as_str());
            let sep = if out.is_empty() { 0 } else { 2 };
            if out.len() + sep + entry.len() > MAX_SDK_HEADER {
                break;
            }
            if sep > 0 {
                out.push_str(", ");
            }
            out.push_str(&entry);
        }
        Some((out, max))
    }
}

#[cfg(test)]
mod tests;
