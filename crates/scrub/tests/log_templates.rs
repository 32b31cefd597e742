//! `scrub::normalize::message`: which log messages are templates (code) and which are
//! formatted text.

use scrub::normalize::message::is_probably_template;

#[test]
fn templates_detected() {
    for t in [
        "search failed for %s",
        "user %(user_id)s logged in",
        "took %.2f ms",
        "%-10s|",
        "retry %d of %d",
        "id=%08x",
        "%(count)g items",
        "value %r",
        "user {} logged in",
        "user {0} logged in",
        "user {user_id} logged in",
        "{user.id} and {items[0]}",
        "{name!r}",
        "{value:.2f}",
        "{:>10}",
        "user_%s",
    ] {
        assert!(is_probably_template(t), "should be a template: {t}");
    }
}

#[test]
fn non_templates() {
    for t in [
        "search failed for CANARY secret",
        "100%",
        "50% off",
        "%% done",
        "{{literal}}",
        "{\"a\": 1}",
        "{ name }",
        "{a: 1}",
        "/a%20b",
        "alice%40sentry.io",
        "GET /files/%2F",
        "a%3Db",
        "%5d",
        "{name!x}",
        "{items[]}",
        "%(bad key)s",
        "",
    ] {
        assert!(!is_probably_template(t), "should not be a template: {t}");
    }
}
