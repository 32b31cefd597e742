//! What to do with an upstream answer: a pure function of its status and headers, so that
//! nothing the upstream sends can reach a clock, a counter or a log unchecked.
//!
//! | Status | Outcome | Retried |
//! |---|---|---|
//! | 2xx | [`Outcome::Delivered`] | no |
//! | 429 | [`Outcome::RateLimited`]: the limits are recorded, the items dropped | no |
//! | 408, 5xx | [`Outcome::Retry`] | yes, with backoff, until `--retry-max-age` |
//! | 413 | [`Outcome::Refused`] `upstream_too_large` | no |
//! | other 1xx, 3xx, 4xx | [`Outcome::Refused`] `upstream_rejected` | no |
//!
//! Whatever the status, `X-Sentry-Rate-Limits` is read (Sentry sends it on accepted
//! envelopes too), through [`ratelimit::parse_header`]: every wait is clamped to
//! [`ratelimit::MAX_RETRY_AFTER`], only known categories and a bounded number of entries are
//! kept. A `429` without usable limits limits every category for its `Retry-After` (clamped
//! the same way; [`ratelimit::DEFAULT_RETRY_AFTER`] when absent or unreadable).

use http::{HeaderMap, StatusCode};

use super::ratelimit::{self, Limit};

/// What becomes of the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted (2xx): done.
    Delivered,
    /// `429`: the limits are recorded and the envelope's items dropped (`upstream_rate_limited`).
    RateLimited,
    /// Refused for good: dropped, counted with this reason.
    Refused(&'static str),
    /// The upstream failed (`408`, 5xx): try again after a backoff.
    Retry,
}

impl Outcome {
    /// Whether the envelope is sent again.
    pub fn retryable(self) -> bool {
        matches!(self, Outcome::Retry)
    }

    /// The `items_dropped_total` reason when the envelope is dropped.
    pub fn drop_reason(self) -> Option<&'static str> {
        match self {
            Outcome::RateLimited => Some("upstream_rate_limited"),
            Outcome::Refused(reason) => Some(reason),
            Outcome::Delivered | Outcome::Retry => None,
        }
    }
}

/// An answer, classified: the outcome and the rate limits to record (clamped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// What becomes of the envelope.
    pub outcome: Outcome,
    /// Limits to record for the envelope's route; empty when none.
    pub limits: Vec<Limit>,
}

/// Classifies an upstream answer. Pure and total: no input panics.
pub fn classify(status: StatusCode, headers: &HeaderMap) -> Classified {
    let mut limits = headers
        .get("x-sentry-rate-limits")
        .and_then(|v| v.to_str().ok())
        .map(ratelimit::parse_header)
        .unwrap_or_default();
    let outcome = match status.as_u16() {
        200..=299 => Outcome::Delivered,
        429 => {
            if limits.is_empty() {
                let secs = headers
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(ratelimit::retry_after)
                    .unwrap_or(ratelimit::DEFAULT_RETRY_AFTER);
                limits.push(Limit::everything(secs));
            }
            Outcome::RateLimited
        }
        408 | 500..=599 => Outcome::Retry,
        413 => Outcome::Refused("upstream_too_large"),
        _ => Outcome::Refused("upstream_rejected"),
    };
    Classified { outcome, limits }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::upstream::ratelimit::{Scope, MAX_RETRY_AFTER};

    fn answer(status: u16, headers: &[(&str, &str)]) -> Classified {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        classify(StatusCode::from_u16(status).unwrap(), &map)
    }

    #[test]
    fn statuses() {
        for (status, outcome) in [
            (200, Outcome::Delivered),
            (202, Outcome::Delivered),
            (408, Outcome::Retry),
            (500, Outcome::Retry),
            (503, Outcome::Retry),
            (599, Outcome::Retry),
            (400, Outcome::Refused("upstream_rejected")),
            (401, Outcome::Refused("upstream_rejected")),
            (404, Outcome::Refused("upstream_rejected")),
            (413, Outcome::Refused("upstream_too_large")),
            (301, Outcome::Refused("upstream_rejected")),
            (101, Outcome::Refused("upstream_rejected")),
            (999, Outcome::Refused("upstream_rejected")),
        ] {
            let c = answer(status, &[]);
            assert_eq!(c.outcome, outcome, "{status}");
            assert_eq!(c.limits, vec![], "{status}");
            assert_eq!(c.outcome.retryable(), outcome == Outcome::Retry, "{status}");
        }
        assert_eq!(Outcome::Delivered.drop_reason(), None);
        assert_eq!(
            Outcome::RateLimited.drop_reason(),
            Some("upstream_rate_limited")
        );
    }

    /// Every status the upstream can send, 100 to 999, against the table in the module
    /// doc: retried exactly for 408 and 5xx, delivered exactly for 2xx, and every other
    /// status dropped with a reason.
    #[test]
    fn every_status_is_classified_as_the_table_says() {
        for code in 100..=999u16 {
            let c = answer(code, &[]);
            let expected = match code {
                200..=299 => Outcome::Delivered,
                429 => Outcome::RateLimited,
                408 | 500..=599 => Outcome::Retry,
                413 => Outcome::Refused("upstream_too_large"),
                _ => Outcome::Refused("upstream_rejected"),
            };
            assert_eq!(c.outcome, expected, "{code}");
            assert_eq!(
                c.outcome.retryable(),
                code == 408 || (500..=599).contains(&code),
                "{code}"
            );
            assert_eq!(
                c.outcome.drop_reason().is_none(),
                c.outcome.retryable() || (200..=299).contains(&code),
                "{code}"
            );
        }
    }

    /// Transport failures carry no answer: each is retried.
    #[test]
    fn every_transport_failure_is_retried() {
        use super::super::client::SendError;
        for (e, label) in [
            (SendError::Tls("bad certificate".into()), "tls"),
            (SendError::Timeout, "timeout"),
            (SendError::Network("connection refused".into()), "network"),
        ] {
            assert_eq!((e.outcome(), e.label()), (Outcome::Retry, label));
            assert!(e.outcome().retryable());
        }
    }

    /// A huge `Retry-After` (`18446744073709551615`) must not panic a sender: it is clamped.
    #[test]
    fn a_429_is_clamped() {
        let everything = |secs| Classified {
            outcome: Outcome::RateLimited,
            limits: vec![Limit {
                retry_after: secs,
                categories: vec![],
                scope: Scope::Organization,
            }],
        };
        assert_eq!(
            answer(429, &[("retry-after", "18446744073709551615")]),
            everything(MAX_RETRY_AFTER)
        );
        assert_eq!(answer(429, &[("retry-after", "1e300")]), everything(3600));
        assert_eq!(answer(429, &[("retry-after", "17")]), everything(17));
        assert_eq!(answer(429, &[]), everything(60));
        assert_eq!(answer(429, &[("retry-after", "-1")]), everything(60));
        assert_eq!(answer(429, &[("retry-after", "soon")]), everything(60));
        // A header with no usable entry falls back to Retry-After.
        assert_eq!(
            answer(
                429,
                &[
                    ("retry-after", "5"),
                    ("x-sentry-rate-limits", "x:y:z, 9:madeup:key")
                ]
            ),
            everything(5)
        );
        // With usable limits, Retry-After is not added on top.
        assert_eq!(
            answer(
                429,
                &[
                    ("retry-after", "18446744073709551615"),
                    ("x-sentry-rate-limits", "1e19:error:organization")
                ]
            ),
            Classified {
                outcome: Outcome::RateLimited,
                limits: vec![Limit {
                    retry_after: 3600,
                    categories: vec!["error"],
                    scope: Scope::Organization,
                }],
            }
        );
    }

    #[test]
    fn limits_are_read_on_every_status() {
        let c = answer(200, &[("x-sentry-rate-limits", "60:transaction:key")]);
        assert_eq!(c.outcome, Outcome::Delivered);
        assert_eq!(c.limits.len(), 1);
        let c = answer(503, &[("x-sentry-rate-limits", "1e19::key")]);
        assert_eq!(c.outcome, Outcome::Retry);
        assert_eq!(c.limits[0].retry_after, 3600);
    }

    #[test]
    fn non_utf8_headers_are_ignored() {
        let mut map = HeaderMap::new();
        map.insert(
            "x-sentry-rate-limits",
            http::HeaderValue::from_bytes(b"60:\xff:key").unwrap(),
        );
        map.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_bytes(b"\xfe").unwrap(),
        );
        let c = classify(StatusCode::TOO_MANY_REQUESTS, &map);
        assert_eq!(c.limits, vec![Limit::everything(60)]);
    }
}
