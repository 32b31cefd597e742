//! `scrub::normalize::sql`: exact outputs on realistic ORM and driver queries; literals and
//! lists go, identifiers and keywords stay, and queries already clean are unchanged.

use scrub::normalize::sql::scrub_sql;
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

/// A DRF + PostgreSQL app: SQL built with an f-string from a search box
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
