//! SQL statements inside library messages (SQLAlchemy's `[SQL: …]`, psycopg's `LINE 1: …`):
//! kept as the `db` span normaliser leaves them ([`crate::normalize::sql::scrub_sql`]:
//! literals become `%s`), when what is left is a statement's shape and nothing else.
//!
//! A statement's bare words are keywords and the schema's names (`birthday`, `owner_id`),
//! written by the vendor's code even when they are no common word of code. What gives data
//! away is where a bare word stands: an app that formats values into its SQL unquoted
//! (`… WHERE title = Quillfeather Family Memoirs`, psycopg's `… WHERE email =
//! zephyrine.qu...`) puts them after a comparison, several in a row, or capitalised. Such
//! a statement is not kept; the caller falls back to the word-by-word rule.

/// Keywords a statement starts with.
const STARTS: &[&str] = &[
    "ALTER",
    "ANALYZE",
    "BEGIN",
    "CALL",
    "COMMIT",
    "COPY",
    "CREATE",
    "DECLARE",
    "DELETE",
    "DESCRIBE",
    "DROP",
    "EXPLAIN",
    "FETCH",
    "GRANT",
    "INSERT",
    "LOCK",
    "MERGE",
    "PRAGMA",
    "RELEASE",
    "REPLACE",
    "REVOKE",
    "ROLLBACK",
    "SAVEPOINT",
    "SELECT",
    "SET",
    "SHOW",
    "TRUNCATE",
    "UPDATE",
    "UPSERT",
    "VACUUM",
    "VALUES",
    "WITH",
];

/// SQL keywords and type names (compared upper-case), besides [`STARTS`].
const KEYWORDS: &[&str] = &[
    "ALL",
    "AND",
    "ANY",
    "AS",
    "ASC",
    "BETWEEN",
    "BIGINT",
    "BOOLEAN",
    "BY",
    "CASCADE",
    "CASE",
    "CAST",
    "CHAR",
    "COALESCE",
    "COLLATE",
    "CONFLICT",
    "CONSTRAINT",
    "COUNT",
    "CROSS",
    "CURRENT_DATE",
    "CURRENT_TIMESTAMP",
    "DATE",
    "DEFAULT",
    "DESC",
    "DISTINCT",
    "DO",
    "DOUBLE",
    "ELSE",
    "END",
    "ESCAPE",
    "EXCEPT",
    "EXISTS",
    "FALSE",
    "FILTER",
    "FIRST",
    "FLOAT",
    "FOR",
    "FOREIGN",
    "FROM",
    "FULL",
    "GROUP",
    "HAVING",
    "IF",
    "ILIKE",
    "IN",
    "INDEX",
    "INNER",
    "INT",
    "INTEGER",
    "INTERSECT",
    "INTERVAL",
    "INTO",
    "IS",
    "JOIN",
    "JSON",
    "JSONB",
    "KEY",
    "LAST",
    "LATERAL",
    "LEFT",
    "LIKE",
    "LIMIT",
    "MAX",
    "MIN",
    "NATURAL",
    "NEXT",
    "NOT",
    "NOTHING",
    "NOW",
    "NULL",
    "NULLS",
    "NUMERIC",
    "OFFSET",
    "ON",
    "ONLY",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "PARTITION",
    "PRECISION",
    "PRIMARY",
    "REAL",
    "RECURSIVE",
    "REFERENCES",
    "RETURNING",
    "RIGHT",
    "ROW",
    "ROWS",
    "SMALLINT",
    "SUM",
    "TABLE",
    "TEXT",
    "THEN",
    "TIME",
    "TIMESTAMP",
    "TIMESTAMPTZ",
    "TO",
    "TOP",
    "TRUE",
    "UNION",
    "UNIQUE",
    "USING",
    "UUID",
    "VARCHAR",
    "VARYING",
    "VIEW",
    "WHEN",
    "WHERE",
    "WINDOW",
    "ZONE",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// A bare word that is no keyword (a name of the schema, or data).
    Name,
    /// A keyword.
    Keyword,
    /// A comparison (`=`, `<>`, `LIKE` …): what follows is compared, so it is a value.
    Compare,
    /// Anything else: a placeholder, a number, a quoted name, punctuation.
    Other,
}

/// Is `sql` (already normalised) a statement whose bare words all stand where names of the
/// schema stand? `is_code` says whether a word is a word of code, which may stand anywhere.
pub fn is_plain_statement(sql: &str, is_code: impl Fn(&str) -> bool) -> bool {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut first = true;
    let mut prev = Tok::Other;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if first && !(c.is_ascii_alphabetic() || c == b'(') {
            return false;
        }
        let (tok, next) = if c.is_ascii_alphabetic() || c == b'_' {
            let end = (i..b.len())
                .find(|&j| !(b[j].is_ascii_alphanumeric() || matches!(b[j], b'_' | b'$' | b'.')))
                .unwrap_or(b.len());
            let word = &sql[i..end];
            let upper = word.to_ascii_uppercase();
            let keyword = KEYWORDS.contains(&upper.as_str()) || STARTS.contains(&upper.as_str());
            if first && !STARTS.contains(&upper.as_str()) {
                return false;
            }
            let tok = if matches!(upper.as_str(), "LIKE" | "ILIKE") {
                Tok::Compare
            } else if keyword {
                Tok::Keyword
            } else {
                let known = word.split('.').all(|p| p.is_empty() || is_code(p));
                // Capitalised words are data or prose (`Quillfeather`); a name after a
                // comparison or right after another name is a value formatted in.
                let capitalised = word.bytes().any(|c| c.is_ascii_uppercase())
                    && word.bytes().any(|c| c.is_ascii_lowercase());
                if !known && (capitalised || prev == Tok::Compare || prev == Tok::Name) {
                    return false;
                }
                Tok::Name
            };
            (tok, end)
        } else if matches!(c, b'=' | b'<' | b'>' | b'!') {
            let end = (i..b.len())
                .find(|&j| !matches!(b[j], b'=' | b'<' | b'>' | b'!'))
                .unwrap_or(b.len());
            (Tok::Compare, end)
        } else if first && c == b'(' {
            (Tok::Other, i + 1)
        } else if matches!(c, b'"' | b'`') {
            // A quoted name (the normaliser already replaced quoted values).
            let end = sql[i + 1..].find(c as char).map_or(b.len(), |k| i + 2 + k);
            (Tok::Other, end)
        } else {
            // A placeholder's `%` or `$`, a number, punctuation: one character at a time,
            // so a word after `%(` or `::` is still read as a word.
            let len = sql[i..].chars().next().map_or(1, char::len_utf8);
            (Tok::Other, i + len)
        };
        if tok != Tok::Other || c != b'(' {
            first = false;
        }
        prev = tok;
        i = next;
    }
    !first
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(w: &str) -> bool {
        [
            "users", "email", "id", "name", "docs", "title", "owner_id", "date", "s", "d",
        ]
        .contains(&w)
    }

    #[test]
    fn statements_of_the_schema_stay_values_formatted_in_do_not() {
        for sql in [
            "SELECT * FROM users WHERE birthday = CAST(%(d)s AS date)",
            "INSERT INTO users (email, name, birthday) VALUES (%s) RETURNING users.id",
            "SELECT emial FROM users WHERE email = $1",
            "SELECT id FROM customers WHERE born = %s::date",
            "SELECT users.id FROM users JOIN docs ON docs.owner_id = users.id",
            "(SELECT 1)",
        ] {
            assert!(is_plain_statement(sql, code), "{sql}");
        }
        for sql in [
            "SELECT * FROM docs WHERE title = Quillfeather Family Memoirs",
            "SELECT id FROM documents WHERE title = merger plans of Globe...",
            "SELECT id FROM corpusapp_customer WHERE email = zephyrine.qu...",
            "SELECT * FROM docs WHERE title LIKE zephyrine",
            "search failed for merger plans",
            "[value]",
            "",
        ] {
            assert!(!is_plain_statement(sql, code), "{sql}");
        }
    }
}
