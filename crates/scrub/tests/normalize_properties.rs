//! Properties of every normaliser: no panic on hostile input, idempotence, and no literal
//! content surviving (proptest).

// PROPTEST_CASES (read in the proptest block) is the property tests' own knob.
#![allow(clippy::disallowed_methods)]

use proptest::prelude::*;
use scrub::normalize::message::is_probably_template;
use scrub::normalize::sql::scrub_sql;
use scrub::normalize::url::{map_segments, percent_decode, scrub_http_description, scrub_url};

/// Inputs that would take minutes with a quadratic scanner end without a panic (their
/// cost per byte is measured, without a clock, in `bounded_work.rs`).
#[test]
fn hostile_inputs_end_without_a_panic() {
    for unit in [
        "VALUES (", "IN ((", "/* /* ", "'", "$a$", "-1-", "(((", "\"x", "IN (%s,",
    ] {
        let s = unit.repeat(400_000 / unit.len());
        let _ = scrub_sql(&s);
    }
    for unit in ["//@", "/%41", "?#", "GET "] {
        let s = unit.repeat(400_000 / unit.len());
        let _ = scrub_url(&s);
        let _ = scrub_http_description(&s);
        let _ = map_segments(&s, |seg| Some(seg.to_uppercase()));
    }
    for unit in ["%(", "{a.", "{:%", "%0", "{a[b"] {
        let s = unit.repeat(400_000 / unit.len());
        assert!(!is_probably_template(&s));
    }
}

fn sql_fragment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "SELECT",
        "*",
        "FROM",
        "t1",
        "\"tbl_2\"",
        "`my_t`",
        "WHERE",
        "a",
        "t0.col",
        "=",
        "<>",
        "AND",
        "OR",
        "IN",
        "(",
        ")",
        ",",
        "%s",
        "?",
        "$1",
        ":name",
        "%(p)s",
        "VALUES",
        "NULL",
        "TRUE",
        "+",
        "-",
        "::text",
        "JOIN",
        "ON",
        "||",
    ])
}

/// Literal content: arbitrary text plus the escapes each form allows, always
/// carrying the canary.
fn quoted_content() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(
            prop_oneof![
                "[^'\\\\]{0,8}",
                Just("''".to_owned()),
                Just("\\'".to_owned()),
                Just("\\\\".to_owned()),
            ],
            0..4,
        ),
        prop::collection::vec("[^'\\\\]{0,8}", 0..2),
    )
        .prop_map(|(a, b)| format!("{}QZCANARYQZ{}", a.concat(), b.concat()))
}

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        quoted_content().prop_map(|c| format!("'{c}'")),
        quoted_content().prop_map(|c| format!("E'{c}'")),
        "[^$]{0,10}".prop_map(|c| format!("$$QZCANARYQZ{c}$$")),
        "[^$]{0,10}".prop_map(|c| format!("$x$QZCANARYQZ{c}$x$")),
        "[^*/]{0,10}".prop_map(|c| format!("/* QZCANARYQZ{c} */")),
        "[^\\n]{0,10}".prop_map(|c| format!("-- QZCANARYQZ{c}\n")),
        "[ a-zA-Z]{0,10}".prop_map(|c| format!("\"QZCANARYQZ {c}\"")),
        Just("-987654321".to_owned()),
        Just("987654321.5e3".to_owned()),
    ]
}

fn sqlish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-zA-Z0-9_ ]{1,6}",
            "['\"`$\\\\/*\\-.,()=<>?:%#@\\n]",
            Just("--".to_owned()),
            Just("/*".to_owned()),
            Just("*/".to_owned()),
            Just("$$".to_owned()),
            Just("''".to_owned()),
            Just(" IN (".to_owned()),
            Just(" VALUES (".to_owned()),
            Just("LIMIT 1".to_owned()),
            Just("é".to_owned()),
        ],
        0..24,
    )
    .prop_map(|v| v.concat())
}

fn check_sql_idempotent(s: &str) -> Result<(), TestCaseError> {
    if let Some(once) = scrub_sql(s) {
        prop_assert_eq!(scrub_sql(&once), None, "input {:?} gave {:?}", s, once);
    }
    Ok(())
}

proptest! {
    // No regression file in the shared checkout: found cases become unit tests.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sql_total_and_idempotent_on_any_string(s in any::<String>()) {
        check_sql_idempotent(&s)?;
    }

    #[test]
    fn sql_total_and_idempotent_on_sqlish(s in sqlish()) {
        check_sql_idempotent(&s)?;
    }

    #[test]
    fn sql_literal_content_never_survives(
        before in prop::collection::vec(sql_fragment(), 0..8),
        lit in literal(),
        after in prop::collection::vec(sql_fragment(), 0..8),
    ) {
        let query = format!("{} {} {}", before.join(" "), lit, after.join(" "));
        let out = scrub_sql(&query).unwrap_or_else(|| query.clone());
        prop_assert!(!out.contains("QZCANARYQZ"), "{:?} -> {:?}", query, out);
        prop_assert!(!out.contains("987654321"), "{:?} -> {:?}", query, out);
        prop_assert_eq!(scrub_sql(&out), None);
    }

    #[test]
    fn url_total_and_idempotent(s in any::<String>()) {
        if let Some(once) = scrub_url(&s) {
            prop_assert_eq!(scrub_url(&once), None);
        }
        if let Some(once) = scrub_http_description(&s) {
            prop_assert_eq!(scrub_http_description(&once), None);
        }
        prop_assert_eq!(map_segments(&s, |_| None), None);
        let _ = map_segments(&s, |seg| Some(format!("[{seg}]")));
        let _ = percent_decode(&s);
    }

    #[test]
    fn url_secrets_never_survive(
        scheme in "(https?|ftp|redis)",
        user in "[a-z]{0,5}",
        host in "([a-z0-9.-]{1,12}|\\[[0-9a-f:]{2,10}\\])",
        port in prop::option::of(1u16..),
        path in "(/[a-z0-9._~%-]{0,6}){0,4}",
        query in "[a-zA-Z0-9=&%+/?@:-]{0,12}",
        frag in "[a-zA-Z0-9=&/?#-]{0,8}",
        method in prop::option::of("(GET|POST|DELETE)"),
    ) {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let u = format!(
            "{scheme}://{user}:QZPASSQZ@{host}{port}{path}?QZQUERYQZ{query}#QZFRAGQZ{frag}"
        );
        let out = scrub_url(&u).unwrap_or_else(|| u.clone());
        prop_assert_eq!(&out, &format!("{scheme}://{host}{port}{path}"));
        let desc = match &method {
            Some(m) => format!("{m} {u}"),
            None => u.clone(),
        };
        let out = scrub_http_description(&desc).unwrap_or_else(|| desc.clone());
        prop_assert!(!out.contains("QZ"), "{:?} -> {:?}", desc, out);
    }

    #[test]
    fn template_check_total(s in any::<String>()) {
        let _ = is_probably_template(&s);
    }
}
