//! Arbitrary text as `X-Sentry-Rate-Limits`: `ratelimit::parse_header` never panics, and what
//! it returns is clamped: at most `MAX_ENTRIES` limits, each wait at most `MAX_RETRY_AFTER`,
//! only known categories, no duplicates. Recording the limits in a table never panics (no
//! clock overflow), and the header passed back to SDKs stays under `MAX_SDK_HEADER` bytes,
//! names only known categories, and gives the longest wait as its `Retry-After`.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use proxy::dsn::Dsn;
use proxy::egress::upstream::ratelimit::{
    parse_header, RateLimits, CATEGORIES, MAX_ENTRIES, MAX_RETRY_AFTER, MAX_SDK_HEADER,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = parse_header(text);
    assert!(limits.len() <= MAX_ENTRIES);
    for l in &limits {
        assert!(l.retry_after <= MAX_RETRY_AFTER, "{l:?}");
        assert!(l.categories.iter().all(|c| CATEGORIES.contains(c)), "{l:?}");
        let mut sorted = l.categories.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), l.categories.len(), "{l:?}");
    }
    let dsn: Dsn = "https://abc@h.example/1".parse().expect("dsn");
    let table = RateLimits::default();
    let now = Instant::now();
    // Each line again, so limits from several answers pile up as they would.
    table.record(&limits, &dsn, now);
    for line in text.lines().take(8) {
        table.record(&parse_header(line), &dsn, now);
    }
    if let Some((header, max)) = table.header(&dsn, now) {
        assert!(header.len() <= MAX_SDK_HEADER, "{header}");
        assert!(max <= MAX_RETRY_AFTER);
        let mut longest = 0;
        for entry in header.split(", ") {
            let parts: Vec<&str> = entry.split(':').collect();
            assert_eq!(parts.len(), 3, "{header}");
            let secs: u64 = parts[0].parse().expect("seconds");
            longest = longest.max(secs);
            assert!(parts[1].is_empty() || CATEGORIES.contains(&parts[1]), "{header}");
            assert!(["organization", "project", "key"].contains(&parts[2]), "{header}");
        }
        assert_eq!(longest, max, "{header}");
    }
});
