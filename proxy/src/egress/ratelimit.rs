//! Upstream rate limits: `X-Sentry-Rate-Limits` parsed per category, kept in a table, and
//! passed back to the SDKs so they stop sending what would be refused anyway.
//!
//! Header format: `retry_after:categories:scope[:reason_code[:namespaces]]`, comma-separated;
//! categories are `;`-separated and empty means every category. A 429 without the header
//! limits every category for `Retry-After` seconds (60 when absent).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use envelope::ItemType;

use crate::dsn::Dsn;

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

/// One parsed limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// Seconds to wait.
    pub retry_after: u64,
    /// Limited categories; empty means all.
    pub categories: Vec<String>,
    /// Scope as sent (`organization`, `project`, `key`).
    pub scope: String,
}

/// Parses `X-Sentry-Rate-Limits`. Unparseable entries are skipped.
pub fn parse_header(value: &str) -> Vec<Limit> {
    value
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.trim().split(':');
            let retry_after = parts.next()?.trim().parse::<f64>().ok()?;
            if !retry_after.is_finite() || retry_after < 0.0 {
                return None;
            }
            let categories = parts
                .next()
                .unwrap_or("")
                .split(';')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .filter(|c| c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
                .map(str::to_owned)
                .collect();
            let scope = parts.next().unwrap_or("organization").trim();
            let scope = if scope
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !scope.is_empty()
            {
                scope.to_owned()
            } else {
                "organization".to_owned()
            };
            Some(Limit {
                retry_after: retry_after.ceil() as u64,
                categories,
                scope,
            })
        })
        .collect()
}

/// Which SDK-facing route a limit applies to: the upstream's organization (every route),
/// one project, or one public key.
fn scope_key(scope: &str, dsn: &Dsn) -> String {
    match scope {
        "project" => format!("project:{}", dsn.project_id),
        "key" => format!("key:{}", dsn.public_key),
        // organization, and scopes this proxy does not know: the widest reading.
        _ => String::new(),
    }
}

/// Active limits, keyed by scope (organization, project, key) and category (`""` for all),
/// to their end and scope name.
#[derive(Debug, Default)]
pub struct RateLimits {
    table: Mutex<BTreeMap<(String, String), (Instant, String)>>,
}

impl RateLimits {
    /// Records limits the upstream gave for a request to `dsn`.
    pub fn record(&self, limits: &[Limit], dsn: &Dsn, now: Instant) {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        for l in limits {
            let until = now + Duration::from_secs(l.retry_after);
            let scope = scope_key(&l.scope, dsn);
            let cats: Vec<String> = if l.categories.is_empty() {
                vec![String::new()]
            } else {
                l.categories.clone()
            };
            for cat in cats {
                let entry = t
                    .entry((scope.clone(), cat))
                    .or_insert((until, l.scope.clone()));
                if entry.0 < until {
                    *entry = (until, l.scope.clone());
                }
            }
        }
    }

    /// Is this category limited now for requests to `dsn`?
    pub fn is_limited(&self, category: &str, dsn: &Dsn, now: Instant) -> bool {
        let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let scopes = [
            String::new(),
            scope_key("project", dsn),
            scope_key("key", dsn),
        ];
        scopes.iter().any(|s| {
            [category, ""].iter().any(|c| {
                t.get(&(s.clone(), (*c).to_owned()))
                    .is_some_and(|(until, _)| *until > now)
            })
        })
    }

    /// The header for SDKs whose route goes to `dsn`, with the time left on each active
    /// limit; `None` when none applies.
    pub fn header(&self, dsn: &Dsn, now: Instant) -> Option<(String, u64)> {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.retain(|_, (until, _)| *until > now);
        let scopes = [
            String::new(),
            scope_key("project", dsn),
            scope_key("key", dsn),
        ];
        let mut max = 0;
        let parts: Vec<String> = t
            .iter()
            .filter(|((scope, _), _)| scopes.contains(scope))
            .map(|((_, cat), (until, scope))| {
                let secs = until.saturating_duration_since(now).as_secs_f64().ceil() as u64;
                max = max.max(secs);
                format!("{secs}:{cat}:{scope}")
            })
            .collect();
        (!parts.is_empty()).then(|| (parts.join(", "), max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sentry_headers() {
        assert_eq!(
            parse_header(
                "60:transaction:key, 2700:default;error;security:organization:quota, junk, -1::x"
            ),
            vec![
                Limit {
                    retry_after: 60,
                    categories: vec!["transaction".into()],
                    scope: "key".into()
                },
                Limit {
                    retry_after: 2700,
                    categories: vec!["default".into(), "error".into(), "security".into()],
                    scope: "organization".into()
                },
            ]
        );
        assert_eq!(
            parse_header("10::organization"),
            vec![Limit {
                retry_after: 10,
                categories: vec![],
                scope: "organization".into()
            }]
        );
    }

    #[test]
    fn table_limits_categories_and_renders_for_sdks() {
        let r = RateLimits::default();
        let a: Dsn = "https://aaa@h.example/1".parse().unwrap();
        let now = Instant::now();
        r.record(&parse_header("60:transaction:key"), &a, now);
        assert!(r.is_limited("transaction", &a, now));
        assert!(!r.is_limited("error", &a, now));
        assert_eq!(r.header(&a, now), Some(("60:transaction:key".into(), 60)));
        assert!(!r.is_limited("transaction", &a, now + Duration::from_secs(61)));
        assert_eq!(r.header(&a, now + Duration::from_secs(61)), None);
        r.record(&parse_header("5::organization"), &a, now);
        assert!(r.is_limited("error", &a, now));
    }

    #[test]
    fn project_and_key_scopes_stay_with_their_route() {
        let r = RateLimits::default();
        let a: Dsn = "https://aaa@h.example/1".parse().unwrap();
        let b: Dsn = "https://bbb@h.example/2".parse().unwrap();
        let now = Instant::now();
        r.record(
            &parse_header("30:error:project, 40:transaction:key"),
            &a,
            now,
        );
        assert!(r.is_limited("error", &a, now));
        assert!(r.is_limited("transaction", &a, now));
        assert!(
            !r.is_limited("error", &b, now),
            "another project is not limited"
        );
        assert!(!r.is_limited("transaction", &b, now));
        assert_eq!(r.header(&b, now), None);
        assert_eq!(
            r.header(&a, now),
            Some(("40:transaction:key, 30:error:project".into(), 40))
        );
        // An organization-wide limit reaches every route.
        r.record(&parse_header("10::organization"), &a, now);
        assert!(r.is_limited("session", &b, now));
    }
}
