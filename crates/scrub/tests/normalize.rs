//! Tests for `scrub::normalize`: exact outputs on realistic ORM / SDK strings,
//! things that must not change, and property tests (no panic, idempotence, no
//! literal content surviving).

// PROPTEST_CASES (read in the proptest block) is the property tests' own knob.
#![allow(clippy::disallowed_methods)]

use proptest::prelude::*;
use scrub::normalize::message::is_probably_template;
use scrub::normalize::sql::scrub_sql;
use scrub::normalize::url::{map_segments, percent_decode, scrub_http_description, scrub_url};

#[track_caller]
fn sql(input: &str, expected: &str) {
    let out = scrub_sql(input);
    assert_eq!(out.as_deref(), Some(expected), "input: {input}");
    assert_eq!(scrub_sql(expected), None, "not idempotent: {expected}");
}

#[track_caller]
fn sql_unchanged(input: &str) {
    assert_eq!(scrub_sql(input), None, "input: {input}");
}

// ---------------------------------------------------------------- SQL: literals

#[test]
fn sql_brief_example() {
    sql(
        "SELECT * FROM docs WHERE title = 'CANARY secret' AND id IN (1,2,3) AND score > 0.5",
        "SELECT * FROM docs WHERE title = %s AND id IN (%s) AND score > %s",
    );
}

/// Issue 17's third trial (DRF + PostgreSQL): SQL built with an f-string from a search box
/// holding an apostrophe. The quote after `Quarrington` is followed by `s`, so it closes
/// nothing: the literal runs to the next quote, and no word of it is left outside.
#[test]
fn sql_apostrophes_inside_pasted_text_stay_inside_the_literal() {
    sql(
        "SELECT d.id FROM survey d WHERE d.title ILIKE '%Isolde Fennimore-Quarrington's Wrenfield Tithe Survey%' ORDER BY d.year",
        "SELECT d.id FROM survey d WHERE d.title ILIKE %s ORDER BY d.year",
    );
    sql(
        "SELECT 1 FROM t WHERE a = 'don't' AND b = 'it''s'",
        "SELECT %s FROM t WHERE a = %s AND b = %s",
    );
    // A quote followed by an operator, a cast or a space still closes the string.
    sql(
        "SELECT 'a'||'b', '2024-01-01'::date, 'x' AS y",
        "SELECT %s||%s, %s::date, %s AS y",
    );
}

#[test]
fn sql_psycopg_mogrified_values() {
    sql(
        "SELECT * FROM users WHERE email = 'alice@example.com' AND age > 30",
        "SELECT * FROM users WHERE email = %s AND age > %s",
    );
    sql(
        "UPDATE \"accounts\" SET \"balance\" = 1234.56, \"note\" = 'paid by card 4111111111111111' WHERE \"id\" = 7",
        "UPDATE \"accounts\" SET \"balance\" = %s, \"note\" = %s WHERE \"id\" = %s",
    );
}

#[test]
fn sql_string_escapes() {
    sql("SELECT 'it''s', 'a\\'b', ''", "SELECT %s, %s, %s");
    sql("SELECT E'x\\\\y\\'z', 'tail'", "SELECT %s, %s");
    // The quote after a backslash does not end the string.
    sql(
        "WHERE a = 'x\\' AND b = 1' AND c = 2",
        "WHERE a = %s AND c = %s",
    );
}

#[test]
fn sql_prefixed_strings() {
    sql(
        "SELECT N'unicode', X'DEADBEEF', b'0101', _utf8mb4'abc', U&'d\\0061t'",
        "SELECT %s, %s, %s, %s, %s",
    );
    sql("SELECT DATE '2024-01-01'", "SELECT DATE %s");
}

#[test]
fn sql_dollar_quoted() {
    sql("SELECT $$CANARY secret$$", "SELECT %s");
    sql(
        "DO $fn$ BEGIN RAISE NOTICE 'x'; END $fn$; SELECT 1",
        "DO %s; SELECT %s",
    );
    // `$$` inside a tagged body does not end it.
    sql("SELECT $a$ x $$ y $a$, z", "SELECT %s, z");
}

#[test]
fn sql_numbers() {
    sql(
        "SELECT 1, -2, 3.14, .5, 1e10, 2.5E-3, 0xFF, x - 1 FROM table1 WHERE a=-5 AND b = +7",
        "SELECT %s, %s, %s, %s, %s, %s, %s, x - %s FROM table1 WHERE a=%s AND b = %s",
    );
    sql("SELECT a-1, (-3) FROM t", "SELECT a-%s, (%s) FROM t");
    // Digits glued to letters are part of the value (a bare UUID prefix).
    sql("WHERE id = 123e4567", "WHERE id = %s");
}

#[test]
fn sql_mysql_forms() {
    sql(
        "SELECT `users`.`id`, `t1`.`col2` FROM `users` WHERE `users`.`email` = 'bob@example.com' AND `users`.`id` = 42",
        "SELECT `users`.`id`, `t1`.`col2` FROM `users` WHERE `users`.`email` = %s AND `users`.`id` = %s",
    );
    // Without ANSI_QUOTES, MySQL double quotes are strings.
    sql(
        "SELECT * FROM users WHERE name = \"Alice Smith\" OR name = \"\"",
        "SELECT * FROM users WHERE name = %s OR name = %s",
    );
    sql_unchanged("SELECT `weird``name` FROM `db`.`t`");
}

#[test]
fn sql_comments_removed() {
    sql(
        "SELECT * FROM t /* user=alice@example.com */ WHERE id = %s -- trailing note",
        "SELECT * FROM t WHERE id = %s",
    );
    sql(
        "SELECT * FROM t/*controller='index',framework='django'*/",
        "SELECT * FROM t",
    );
    sql(
        "SELECT a,\n  -- the secret is CANARY\n  b FROM t",
        "SELECT a,\n  b FROM t",
    );
    sql("SELECT a/*x*/FROM t", "SELECT a FROM t");
    // Nested (Postgres) comments are removed as a whole.
    sql("SELECT x /* a /* b */ CANARY */ FROM t", "SELECT x FROM t");
    // Removing a comment never glues `-` and `-` into a new comment.
    sql("SELECT a -/**/- b", "SELECT a - - b");
    sql("/* leading */ SELECT a", "SELECT a");
    sql("-- only a comment", "");
}

#[test]
fn sql_unterminated_fails_closed() {
    sql(
        "SELECT * FROM t WHERE name = 'CANARY unterminated AND id = 1",
        "SELECT * FROM t WHERE name = %s",
    );
    sql("SELECT \"CANARY unterminated", "SELECT %s");
    sql("SELECT `CANARY unterminated", "SELECT %s");
    sql("SELECT $$CANARY unterminated", "SELECT %s");
    sql("SELECT a /* CANARY unterminated", "SELECT a");
    sql("SELECT 'ends with escape\\", "SELECT %s");
}

#[test]
fn sql_placeholder_never_glues_to_next_identifier() {
    // Found by proptest: `%sLIMIT` would read as identifier `sLIMIT` next time.
    sql("'x' LIMIT 1''", "%s LIMIT 1%s");
    sql("WHERE a = 'x' AND b = 1", "WHERE a = %s AND b = %s");
    // A quote glued to a word is read as an apostrophe inside the string (see
    // `sql_apostrophes_inside_pasted_text_stay_inside_the_literal`): the rest is taken for
    // the literal's, over-redaction but never a leak.
    sql("WHERE a = 'x'AND b = 1", "WHERE a = %s");
    sql("''LIMIT 1''", "%s");
}

#[test]
fn sql_casts_json_and_unicode() {
    sql(
        "SELECT '2024-01-01'::date, id::text FROM t",
        "SELECT %s::date, id::text FROM t",
    );
    sql(
        "SELECT data->>'email' FROM t WHERE data @> '{\"a\": 1}'",
        "SELECT data->>%s FROM t WHERE data @> %s",
    );
    sql(
        "SELECT * FROM données WHERE nom = 'Zoë' AND ville = 'Besançon'",
        "SELECT * FROM données WHERE nom = %s AND ville = %s",
    );
}

// ---------------------------------------------------------------- SQL: lists

#[test]
fn sql_in_lists_collapse() {
    sql(
        "SELECT \"app_doc\".\"id\" FROM \"app_doc\" WHERE \"app_doc\".\"id\" IN (%s, %s, %s)",
        "SELECT \"app_doc\".\"id\" FROM \"app_doc\" WHERE \"app_doc\".\"id\" IN (%s)",
    );
    sql(
        "WHERE a IN ('a','b') AND b NOT IN (?, ?) AND c in ($1, $2, NULL)",
        "WHERE a IN (%s) AND b NOT IN (%s) AND c in (%s)",
    );
    sql(
        "WHERE x IN (%(x_1_1)s, %(x_1_2)s) AND y IN (:a, :b)",
        "WHERE x IN (%s) AND y IN (%s)",
    );
    sql("WHERE (a, b) IN ((1, 2), (3, 4))", "WHERE (a, b) IN (%s)");
    sql("WHERE id IN\n  (1,\n   2)", "WHERE id IN\n  (%s)");
}

#[test]
fn sql_in_lists_kept() {
    sql_unchanged("SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE x = %s)");
    sql_unchanged("WHERE id IN (%s)");
    sql_unchanged("WHERE id IN (?)");
    sql_unchanged("WHERE id IN (a, b)");
    sql_unchanged("WHERE id IN ()");
    sql_unchanged("SELECT %(in)s, inner_col, \"in\" FROM login");
}

#[test]
fn sql_values_collapse() {
    sql(
        "INSERT INTO \"app_doc\" (\"title\", \"body\") VALUES (%s, %s) RETURNING \"app_doc\".\"id\"",
        "INSERT INTO \"app_doc\" (\"title\", \"body\") VALUES (%s) RETURNING \"app_doc\".\"id\"",
    );
    sql(
        "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, NOW())",
        "INSERT INTO t (a, b) VALUES (%s)",
    );
    sql(
        "INSERT INTO `t` (`a`) VALUES (?),(?) ON DUPLICATE KEY UPDATE `a` = VALUES(`a`)",
        "INSERT INTO `t` (`a`) VALUES (%s) ON DUPLICATE KEY UPDATE `a` = VALUES(`a`)",
    );
    sql_unchanged("INSERT INTO t (a) VALUES (%s)");
    sql_unchanged("INSERT INTO t (a) VALUES %s");
}

// ---------------------------------------------------------------- SQL: kept

#[test]
fn sql_django_is_already_clean() {
    sql_unchanged(
        "SELECT \"auth_user\".\"id\", \"auth_user\".\"email\" FROM \"auth_user\" WHERE \"auth_user\".\"id\" = %s LIMIT 21",
    );
    sql_unchanged(
        "SELECT COUNT(*) AS \"__count\" FROM \"app_doc\" INNER JOIN \"app_tag\" ON (\"app_doc\".\"tag_id\" = \"app_tag\".\"id\") WHERE (\"app_doc\".\"owner_id\" = %s AND \"app_tag\".\"name\"::text LIKE %s)",
    );
    sql_unchanged("UPDATE \"django_session\" SET \"expire_date\" = %s WHERE \"django_session\".\"session_key\" = %s");
}

#[test]
fn sql_sqlalchemy_is_already_clean() {
    sql_unchanged(
        "SELECT users.id AS users_id, users.name AS users_name FROM users WHERE users.name = ? LIMIT ? OFFSET ?",
    );
    sql_unchanged("SELECT users.id FROM users WHERE users.email = %(email_1)s");
    sql_unchanged("SELECT * FROM t WHERE id = $1 AND name = $2");
    sql_unchanged("SELECT * FROM t WHERE a = :name AND b = :1 AND c = ?1 AND d = @p1");
}

#[test]
fn sql_identifiers_and_keywords_kept() {
    sql_unchanged(
        "SELECT t0.col, t1.col2, table1.x FROM table1 t0 JOIN table2 t1 ON t0.id = t1.t0_id",
    );
    sql_unchanged("SELECT \"t1\".\"col2\" FROM \"table1\" AS \"T1\"");
    sql_unchanged("SELECT * FROM t WHERE active = TRUE AND deleted = false AND x IS NULL");
    sql_unchanged("SELECT * FROM t ORDER BY a LIMIT 10 OFFSET 20");
    sql_unchanged("SELECT * FROM t LIMIT 10, 20");
    sql_unchanged("SELECT * FROM t FETCH FIRST 10 ROWS ONLY");
    sql_unchanged("SELECT x % y, a$b, @@version FROM t");
    sql_unchanged("");
}

#[test]
fn sql_limit_only_keeps_plain_integers() {
    sql(
        "SELECT TOP 5 * FROM t WHERE a = 7",
        "SELECT TOP 5 * FROM t WHERE a = %s",
    );
    sql("SELECT * FROM t LIMIT 1.5", "SELECT * FROM t LIMIT %s");
    sql(
        "SELECT * FROM t LIMIT 10, 20, 30",
        "SELECT * FROM t LIMIT 10, 20, %s",
    );
    sql("SELECT * FROM t LIMIT '5'", "SELECT * FROM t LIMIT %s");
}

// ---------------------------------------------------------------- URL

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

// ---------------------------------------------------------------- message

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

// ---------------------------------------------------------------- linear time

/// Hostile inputs that would take minutes with a quadratic scanner (debug build).
#[test]
fn hostile_inputs_are_linear() {
    let start = std::time::Instant::now();
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
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
}

// ---------------------------------------------------------------- properties

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

// ------------------------------------------------------------------- identifiers (issue 14)

mod ident {
    use scrub::normalize::ident::{
        apply_route, is_identifier_shaped, is_technical_segment, mask_path,
    };

    #[test]
    fn identifier_shapes() {
        for s in [
            "app.tasks.reindex_documents",
            "reindex_documents",
            "ReindexDocumentsJob",
            "reindexDocuments",
            "GET /api/{id}",
            "POST /people/:slug/cv",
            "/api/documents/{owner}/",
            "hr.views.person_cv",
            "django.middleware.csrf.CsrfViewMiddleware.process_view",
            "documents/detail.html",
            "healthcheck",
            "Api::UsersController#show",
            "run_batch 42 {shard}",
        ] {
            assert!(is_identifier_shaped(s), "{s}");
        }
        for s in [
            "",
            "reindex document Zephyrine Canarywood Memoirs",
            "upload doc_8c21e0 by Zephyrine",
            "render search results",
            "zephyrine-canarywood",
            "Zéphyrine",
            "GET  /api",
            "a\tb",
            "one two_x three_y four_z five_w",
        ] {
            assert!(!is_identifier_shaped(s), "{s:?}");
        }
    }

    #[test]
    fn technical_segments() {
        for s in [
            "",
            "api",
            "v2",
            "users",
            "People",
            "42",
            "8c21e0f3",
            "doc_8c21e0",
            "3f2a1c9e-1b2d-4c3e-9f8a-7b6c5d4e3f2a",
            "{slug}",
            "<int:pk>",
            ":id",
            "*",
            "[id]",
            "main.8c21e0.js",
            "user-settings",
            "folder_tree",
            "getUserProfile",
            "categories",
        ] {
            assert!(is_technical_segment(s), "{s}");
        }
        for s in [
            "zephyrine",
            "zephyrine-canarywood",
            "alice@example.com",
            "Zéphyrine",
            "john.smith",
            "zephyrine-cv.pdf",
            "a b",
        ] {
            assert!(!is_technical_segment(s), "{s}");
        }
    }

    #[test]
    fn paths_are_masked_by_segment() {
        assert_eq!(
            mask_path("http://127.0.0.1:8000/people/zephyrine-canarywood/cv/").as_deref(),
            Some("http://127.0.0.1:8000/people/*/cv/")
        );
        assert_eq!(
            mask_path("/u/alice%40example.com/orders/42").as_deref(),
            Some("/u/*/orders/42")
        );
        assert_eq!(mask_path("https://api.example.com/api/v2/orders/42"), None);
        // Idempotent: the mask itself is technical.
        assert_eq!(mask_path("/people/*/cv/"), None);
    }

    #[test]
    fn route_templates_replace_matching_paths_only() {
        let url = "https://hr.example.com/people/zephyrine-canarywood/cv/";
        assert_eq!(
            apply_route(url, "/people/{slug}/cv/").as_deref(),
            Some("https://hr.example.com/people/{slug}/cv/")
        );
        assert_eq!(
            apply_route(url, "GET /people/:slug/cv/").as_deref(),
            Some("https://hr.example.com/people/:slug/cv/")
        );
        assert_eq!(
            apply_route("/people/ann/cv/", "/people/<slug>/cv/").as_deref(),
            Some("/people/<slug>/cv/")
        );
        assert_eq!(apply_route(url, "/people/{slug}/"), None);
        assert_eq!(apply_route(url, "/teams/{slug}/cv/"), None);
        assert_eq!(
            apply_route("https://hr.example.com/people//cv/", "/people/{slug}/cv/"),
            None
        );
        // The template is the path itself: nothing to mask.
        assert_eq!(
            apply_route("/letters", "/letters").as_deref(),
            Some("/letters")
        );
        assert_eq!(apply_route(url, "hr.views.cv"), None);
    }
}
