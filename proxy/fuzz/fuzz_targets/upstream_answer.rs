//! Arbitrary upstream answers: `answer::classify` over any status and any headers never
//! panics, and its decision is consistent: 2xx delivered, 429 rate-limited with at least one
//! limit, 408 and 5xx retried, everything else refused (413 as `upstream_too_large`); every
//! limit is clamped; recording them never overflows the clock.
//!
//! Input: two bytes of status (taken modulo 1000 below 100 skipped), then header lines
//! `name: value` separated by `\n`; names and values that `http` refuses are skipped.
#![no_main]

use std::time::Instant;

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use proxy::dsn::Dsn;
use proxy::egress::upstream::answer::{classify, Outcome};
use proxy::egress::upstream::ratelimit::{RateLimits, CATEGORIES, MAX_RETRY_AFTER};

fuzz_target!(|data: &[u8]| {
    let Some((code, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let code = 100 + u16::from_be_bytes(*code) % 900;
    let Ok(status) = StatusCode::from_u16(code) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for line in rest.split(|b| *b == b'\n').take(64) {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(n, v);
        }
    }
    let c = classify(status, &headers);
    match code {
        200..=299 => assert_eq!(c.outcome, Outcome::Delivered),
        429 => {
            assert_eq!(c.outcome, Outcome::RateLimited);
            assert!(!c.limits.is_empty());
        }
        408 | 500..=599 => assert!(c.outcome.retryable()),
        413 => assert_eq!(c.outcome, Outcome::Refused("upstream_too_large")),
        _ => assert_eq!(c.outcome, Outcome::Refused("upstream_rejected")),
    }
    assert_eq!(c.outcome.retryable(), c.outcome == Outcome::Retry);
    for l in &c.limits {
        assert!(l.retry_after <= MAX_RETRY_AFTER, "{l:?}");
        assert!(l.categories.iter().all(|cat| CATEGORIES.contains(cat)));
    }
    let dsn: Dsn = "https://abc@h.example/1".parse().expect("dsn");
    let table = RateLimits::default();
    table.record(&c.limits, &dsn, Instant::now());
});
