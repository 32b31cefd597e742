//! `scrub::normalize::url`: URLs lose query, fragment and credentials; HTTP span
//! descriptions keep method and path; path segments are mapped one by one.

use scrub::normalize::url::{map_segments, percent_decode, scrub_http_description, scrub_url};

#[track_caller]
fn url(input: &str, expected: &str) {
    assert_eq!(
        scrub_url(input).as_deref(),
        Some(expected),
        "input: {input}"
    );
    assert_eq!(scrub_url(expected), None, "not idempotent: {expected}");
}

#[test]
fn url_drops_query_fragment_userinfo() {
    url(
        "https://bob:hunter2@api.example.com:8443/v1/search?q=CANARY#top",
        "https://api.example.com:8443/v1/search",
    );
    url("https://example.com?q=1", "https://example.com");
    url("https://example.com/?", "https://example.com/");
    url("https://example.com/#frag", "https://example.com/");
    url("//cdn.example.com/lib.js?v=3", "//cdn.example.com/lib.js");
    url(
        "http://[::1]:8080/health?probe=1",
        "http://[::1]:8080/health",
    );
    url(
        "http://admin:s3cret@[2001:db8::1]/",
        "http://[2001:db8::1]/",
    );
    url(
        "redis://:password@localhost:6379/0",
        "redis://localhost:6379/0",
    );
    url(
        "postgres://user:p@ss@db:5432/app?sslmode=require",
        "postgres://db:5432/app",
    );
    url("https://user@example.com", "https://example.com");
    url("/api/search?q=secret&page=2", "/api/search");
    url("/app#access_token=abc", "/app");
    url("search?q=x", "search");
    url(
        "mailto:alice@example.com?subject=hi",
        "mailto:alice@example.com",
    );
}

#[test]
fn url_unchanged() {
    for u in [
        "https://example.com",
        "https://example.com/a/b",
        "http://[::1]:8080",
        "https://example.com/a@b/c",
        "/users/42/edit",
        "Api::V1::UsersController#show",
        "app.views.search",
        "hello world?x=1",
        "tab\tseparated?x",
        "",
        "alice@example.com",
    ] {
        assert_eq!(scrub_url(u), None, "input: {u}");
    }
}

#[test]
fn http_description() {
    let cases = [
        (
            "GET https://api.example.com/v1/search?q=CANARY&token=abc",
            "GET https://api.example.com/v1/search",
        ),
        ("POST /api/v1/items?debug=1", "POST /api/v1/items"),
        ("GET https://x.io/a?b=c 200", "GET https://x.io/a 200"),
        ("GET  https://u:p@x.io/", "GET  https://x.io/"),
        ("https://x.io/?q=1", "https://x.io/"),
        ("GET ?q=CANARY ?more", "GET "),
    ];
    for (input, expected) in cases {
        let out = scrub_http_description(input);
        assert_eq!(out.as_deref(), Some(expected), "input: {input}");
        assert_eq!(scrub_http_description(expected), None);
    }
    for d in [
        "GET https://api.example.com/v1/search",
        "get https://x.io/?q",
        "Some free text with ?q=1",
        "GET",
        "",
    ] {
        assert_eq!(scrub_http_description(d), None, "input: {d}");
    }
}

#[test]
fn segments_are_decoded_for_the_callback() {
    let out = map_segments(
        "https://shop.example.com/users/alice%40example.com/orders?x=1",
        |seg| seg.contains('@').then(|| "[email]".to_owned()),
    );
    assert_eq!(
        out.as_deref(),
        Some("https://shop.example.com/users/[email]/orders?x=1")
    );

    let mut seen = Vec::new();
    let out = map_segments("https://bob@h:1/a/%7Euser//b%2Fc/?q=%41#f", |seg| {
        seen.push(seg.to_owned());
        None
    });
    assert_eq!(out, None);
    assert_eq!(seen, ["a", "~user", "b/c"]);

    let mut seen = Vec::new();
    map_segments("mailto:alice@example.com", |seg| {
        seen.push(seg.to_owned());
        None
    });
    assert_eq!(seen, ["mailto:alice@example.com"]);
}

#[test]
fn segments_rebuilt_only_on_change() {
    assert_eq!(map_segments("/users/42/edit", |_| None), None);
    // Returning the decoded segment itself is no change.
    assert_eq!(
        map_segments("/users/alice%40x.com", |s| Some(s.to_owned())),
        None
    );
    assert_eq!(
        map_segments("/users/123456789/edit", |s| {
            (s.len() > 5 && s.bytes().all(|c| c.is_ascii_digit())).then(|| "[id]".to_owned())
        })
        .as_deref(),
        Some("/users/[id]/edit")
    );
    assert_eq!(
        map_segments("https://example.com", |_| Some("x".into())),
        None
    );
}

#[test]
fn segment_replacements_keep_structure() {
    let out = map_segments("/a/b", |s| (s == "a").then(|| "x/y?z#w%".to_owned()));
    assert_eq!(out.as_deref(), Some("/x%2Fy%3Fz%23w%25/b"));
}

#[test]
fn percent_decoding() {
    assert!(matches!(
        percent_decode("plain"),
        std::borrow::Cow::Borrowed("plain")
    ));
    assert_eq!(percent_decode("%41%42"), "AB");
    assert_eq!(percent_decode("%zz%4"), "%zz%4");
    assert_eq!(percent_decode("%"), "%");
    assert_eq!(percent_decode("caf%C3%A9"), "café");
    assert_eq!(percent_decode("%FF"), "\u{FFFD}");
}
