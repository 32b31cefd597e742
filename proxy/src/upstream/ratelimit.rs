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

/// Data category of an item type, as Sentry counts quotas.
pub fn category(ty: &ItemType) -> Option<&'static str> {
    Some(match ty {
        ItemType::Event => "error",
        ItemType::Transaction => "transaction",
        ItemType::Span => "span",
        ItemType::Session | ItemType::Sessions => "session",
        ItemType::Profile | ItemType::ProfileChunk => "profile",
        ItemType::CheckIn => "monitor",
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

/// Active limits: category (or `""` for all) to its end and scope.
#[derive(Debug, Default)]
pub struct RateLimits {
    table: Mutex<BTreeMap<String, (Instant, String)>>,
}

impl RateLimits {
    /// Records limits from an upstream 429 (or any response carrying the header).
    pub fn record(&self, limits: &[Limit], now: Instant) {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        for l in limits {
            let until = now + Duration::from_secs(l.retry_after);
            let keys: Vec<String> = if l.categories.is_empty() {
                vec![String::new()]
            } else {
                l.categories.clone()
            };
            for k in keys {
                let entry = t.entry(k).or_insert((until, l.scope.clone()));
                if entry.0 < until {
                    *entry = (until, l.scope.clone());
                }
            }
        }
    }

    /// Is this category limited now?
    pub fn is_limited(&self, category: &str, now: Instant) -> bool {
        let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        [category, ""]
            .iter()
            .any(|k| t.get(*k).is_some_and(|(until, _)| *until > now))
    }

    /// The header to give SDKs, with the time left on each active limit; `None` when none.
    pub fn header(&self, now: Instant) -> Option<(String, u64)> {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.retain(|_, (until, _)| *until > now);
        if t.is_empty() {
            return None;
        }
        let mut max = 0;
        let parts: Vec<String> = t
            .iter()
            .map(|(cat, (until, scope))| {
                let secs = until.saturating_duration_since(now).as_secs_f64().ceil() as u64;
                max = max.max(secs);
                format!("{secs}:{cat}:{scope}")
            })
            .collect();
        Some((parts.join(", "), max))
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
        let now = Instant::now();
        r.record(&parse_header("60:transaction:key"), now);
        assert!(r.is_limited("transaction", now));
        assert!(!r.is_limited("error", now));
        assert_eq!(r.header(now), Some(("60:transaction:key".into(), 60)));
        assert!(!r.is_limited("transaction", now + Duration::from_secs(61)));
        assert_eq!(r.header(now + Duration::from_secs(61)), None);
        r.record(&parse_header("5::organization"), now);
        assert!(r.is_limited("error", now));
    }
}
