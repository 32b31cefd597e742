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
                categories: vec!["transaction"],
                scope: Scope::Key
            },
            Limit {
                retry_after: 2700,
                categories: vec!["default", "error", "security"],
                scope: Scope::Organization
            },
        ]
    );
    assert_eq!(
        parse_header("10::organization"),
        vec![Limit {
            retry_after: 10,
            categories: vec![],
            scope: Scope::Organization
        }]
    );
}

/// Values past any clock, unknown names and floods are clamped.
#[test]
fn hostile_headers_are_clamped() {
    let one = |h: &str| parse_header(h);
    // 1e19 seconds overflowed `Instant + Duration`; an hour is the most believed.
    assert_eq!(
        one("1e19:error:organization"),
        vec![Limit {
            retry_after: MAX_RETRY_AFTER,
            categories: vec!["error"],
            scope: Scope::Organization
        }]
    );
    assert_eq!(one("18446744073709551615::key")[0].retry_after, 3600);
    assert_eq!(one("3599.2:error:project")[0].retry_after, 3600);
    assert_eq!(one("0.1:error:project")[0].retry_after, 1);
    for bad in [
        "inf:error:key",
        "NaN:error:key",
        "-5:error:key",
        "x:error:key",
        "",
    ] {
        assert_eq!(one(bad), vec![], "{bad:?}");
    }
    // Unknown categories are ignored; an entry naming only unknown ones is not widened to
    // every category.
    assert_eq!(
        one("60:error;sneaky;ERROR;error:key, 60:nothing;known:organization"),
        vec![Limit {
            retry_after: 60,
            categories: vec!["error"],
            scope: Scope::Key
        }]
    );
    // Unknown scopes read as the widest.
    assert_eq!(one("5:span:galaxy")[0].scope, Scope::Organization);
    // A flood of entries: the first MAX_ENTRIES are read.
    let flood = vec!["7:error:key"; 10_000].join(",");
    assert_eq!(one(&flood).len(), MAX_ENTRIES);
    assert_eq!(retry_after("18446744073709551615"), Some(MAX_RETRY_AFTER));
    assert_eq!(retry_after(" 30 "), Some(30));
    assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
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

/// The header passed back to SDKs names known categories only, one entry each, and stays
/// under MAX_SDK_HEADER bytes whatever the upstream sent.
#[test]
fn the_sdk_header_is_bounded() {
    let r = RateLimits::default();
    let a: Dsn = "https://aaa@h.example/1".parse().unwrap();
    let now = Instant::now();
    // Thousands of invented categories around two real ones, in many entries.
    for round in 0..200 {
        let cats: Vec<String> = (0..50).map(|i| format!("cat{round}x{i}")).collect();
        let header = format!(
            "{}:{};error:key, 90:{};span:project",
            100 + round,
            cats.join(";"),
            cats.join(";")
        );
        r.record(&parse_header(&header), &a, now);
    }
    assert_eq!(
        r.header(&a, now),
        Some(("299:error:key, 90:span:project".into(), 299))
    );
    // Every known category, each in every scope with a different time: still bounded.
    for (i, cat) in CATEGORIES.iter().enumerate() {
        for (j, scope) in ["organization", "project", "key"].iter().enumerate() {
            let secs = 1000 + i * 3 + j;
            r.record(&parse_header(&format!("{secs}:{cat}:{scope}")), &a, now);
        }
    }
    let (h, max) = r.header(&a, now).unwrap();
    assert!(h.len() <= MAX_SDK_HEADER, "{} bytes: {h}", h.len());
    assert_eq!(max, 1000 + (CATEGORIES.len() as u64 - 1) * 3 + 2);
    assert!(h.starts_with(&format!("{max}:trace_metric:key, ")), "{h}");
    // A limit on everything makes shorter ones on single categories redundant.
    let r = RateLimits::default();
    r.record(
        &parse_header("30:error:key, 60::organization, 90:span:key"),
        &a,
        now,
    );
    assert_eq!(
        r.header(&a, now),
        Some(("90:span:key, 60::organization".into(), 90))
    );
}

#[test]
fn a_clamped_limit_never_overflows_the_clock() {
    let r = RateLimits::default();
    let a: Dsn = "https://aaa@h.example/1".parse().unwrap();
    let now = Instant::now();
    // Built by hand past the cap: the table clamps again.
    r.record(
        &[Limit {
            retry_after: u64::MAX,
            categories: vec![],
            scope: Scope::Organization,
        }],
        &a,
        now,
    );
    assert_eq!(r.header(&a, now), Some(("3600::organization".into(), 3600)));
}
