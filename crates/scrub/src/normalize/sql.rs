//! SQL literal scrubbing for span descriptions and breadcrumbs.
//!
//! A `db.sql.query` span is useful because it shows the *shape* of a query (which
//! tables, which joins, which filters); it is dangerous because drivers that
//! inline values, hand-written SQL and debug logging put the *values* in it too
//! (`WHERE email = 'alice@example.com'`). [`scrub_sql`] keeps the shape and
//! replaces every literal by the placeholder `%s`, the style Django and psycopg
//! already use, so that clean ORM output passes through untouched and without
//! allocation.

use memchr::{memchr, memchr2, memmem};

use super::{is_ascii_ws, Rewriter};

/// The placeholder written in place of the literal ending at `end`: `%s`, or
/// `%s ` when an identifier character follows, so the placeholder's `s` is not
/// read as part of that identifier next time (`'x'LIMIT` must not become
/// `%sLIMIT`, whose `sLIMIT` is no keyword).
fn placeholder(b: &[u8], end: usize) -> &'static str {
    if b.get(end).is_some_and(|&c| is_ident_continue(c)) {
        "%s "
    } else {
        "%s"
    }
}

/// Replaces SQL literals by `%s` and collapses value lists; `None` if nothing changed.
///
/// Why: query text is kept in span descriptions and breadcrumbs for its shape,
/// never for its values. This is the only SQL-aware step; the PII detectors
/// still run on the result.
///
/// What is replaced by `%s`:
///
/// * single-quoted strings, with `''` and backslash escapes, including typed and
///   prefixed forms (`E'…'`, `N'…'`, `X'…'`, `B'…'`, `U&'…'`, MySQL `_utf8mb4'…'`);
/// * dollar-quoted strings `$$…$$` and `$tag$…$tag$`;
/// * numbers: integers, decimals (`0.5`, `.5`), scientific (`1e-5`), hex
///   (`0xFF`), with a leading sign when the sign follows an operator, `(` or `,`
///   (`= -5` becomes `= %s`, but `a - 5` becomes `a - %s`);
/// * double-quoted tokens that do not look like identifiers (`"hello world"` is
///   a MySQL string; `"auth_user"` is a Postgres identifier and stays).
///
/// What is collapsed (after the replacements above):
///
/// * `IN (…)` lists of two or more placeholders (`%s`, `?`, `$1`, `:name`,
///   `%(name)s`, `NULL`, `TRUE`, `FALSE`, also tuples of them) become `IN (%s)`,
///   so a query's shape does not depend on the list length; subqueries stay;
/// * all `VALUES (…), (…)` rows become a single `VALUES (%s)` (only when they
///   hold a parameter, so MySQL's `VALUES(col)` function stays).
///
/// What is removed: `/* … */` (nesting-aware) and `-- …` comments, since they can
/// carry anything (sqlcommenter tags, copied values).
///
/// What is kept: keywords, identifiers including those with digits (`table1`,
/// `t0.col`, `"quoted_ident"`, `` `mysql_ident` ``), existing placeholders
/// (`%s`, `?`, `?1`, `$1`, `:name`, `:1`, `%(name)s`, `@var`), the booleans
/// `TRUE`/`FALSE` and `NULL` (they are keywords, not user data), and plain
/// integers right after `LIMIT`, `OFFSET`, `TOP`, `FIRST` or `NEXT` (page sizes
/// are part of the shape: Django's `LIMIT 21` stays).
///
/// Malformed input fails closed: an unterminated string, quoted token or
/// comment is replaced up to the end of the input.
///
/// Known limit: backslash is always treated as an escape inside quotes (MySQL
/// style). A standard-conforming Postgres string ending in a backslash
/// (`'C:\'`) therefore swallows the text up to the next quote; the detectors
/// run on whatever remains.
///
/// ```
/// use scrub::normalize::sql::scrub_sql;
///
/// assert_eq!(
///     scrub_sql("SELECT * FROM docs WHERE title = 'CANARY secret' AND id IN (1,2,3) AND score > 0.5")
///         .as_deref(),
///     Some("SELECT * FROM docs WHERE title = %s AND id IN (%s) AND score > %s"),
/// );
/// assert_eq!(scrub_sql(r#"SELECT "auth_user"."id" FROM "auth_user" WHERE "auth_user"."id" = %s LIMIT 21"#), None);
/// ```
pub fn scrub_sql(sql: &str) -> Option<String> {
    let (first, has_lists) = replace_literals(sql);
    if !has_lists {
        return first;
    }
    let text = first.as_deref().unwrap_or(sql);
    match collapse_lists(text) {
        Some(collapsed) => Some(collapsed),
        None => first,
    }
}

#[inline]
const fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

#[inline]
const fn is_ident_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Bytes after which a `+`/`-` directly before a number is a sign, not an operator.
#[inline]
fn is_operator(b: u8) -> bool {
    b"=<>!,([+-*/%|&^~".contains(&b)
}

/// Where a plain integer is kept instead of replaced (page sizes and offsets).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Limit {
    Off,
    /// Just saw `LIMIT`/`OFFSET`/…; `second` once past MySQL's `LIMIT 10,`.
    Expect {
        second: bool,
    },
    /// Kept the first number of `LIMIT 10, 20`: a comma may follow.
    AfterFirst,
}

/// Pass 1: replace literals, drop comments. Also reports whether an `IN` or
/// `VALUES` keyword was seen, i.e. whether pass 2 can have anything to do.
fn replace_literals(sql: &str) -> (Option<String>, bool) {
    crate::work::charge(sql.len());
    let b = sql.as_bytes();
    let n = b.len();
    let mut w = Rewriter::new(sql);
    let mut i = 0;
    // Last significant source byte (comments and whitespace excluded); 0 at start.
    let mut prev: u8 = 0;
    let mut limit = Limit::Off;
    let mut has_lists = false;

    while i < n {
        let c = b[i];
        let next = b.get(i + 1).copied().unwrap_or(0);
        if is_ascii_ws(c) {
            i += 1;
            continue;
        }
        // Comments: removed, limit context and `prev` untouched.
        if c == b'-' && next == b'-' {
            let end = memchr(b'\n', &b[i..]).map_or(n, |k| i + k);
            i = remove_comment(&mut w, b, i, end);
            continue;
        }
        if c == b'/' && next == b'*' {
            let end = block_comment_end(b, i);
            i = remove_comment(&mut w, b, i, end);
            continue;
        }

        let start = i;
        let mut new_limit = Limit::Off;
        match c {
            b'\'' => {
                i = if is_escape_clause_backslash(b, i) {
                    i + 3
                } else {
                    single_quoted_end(b, i)
                };
                w.replace(start, i, placeholder(b, i));
            }
            b'"' => {
                let (end, closed) = quoted_end(b, i, b'"', true);
                i = end;
                if !(closed && is_identifier_like(&b[start + 1..end - 1])) {
                    w.replace(start, end, placeholder(b, end));
                }
            }
            b'`' => {
                let (end, closed) = quoted_end(b, i, b'`', false);
                i = end;
                if !closed {
                    w.replace(start, end, placeholder(b, end));
                }
            }
            b'$' if next.is_ascii_digit() => {
                // Positional parameter `$1`: kept.
                i = skip_digits(b, i + 1);
            }
            b'$' => match dollar_tag_len(b, i) {
                Some(tag_len) => {
                    let body = i + tag_len;
                    let end =
                        memmem::find(&b[body..], &b[i..body]).map_or(n, |k| body + k + tag_len);
                    i = end;
                    w.replace(start, end, placeholder(b, end));
                }
                None => i += 1,
            },
            b'?' | b':' if next.is_ascii_digit() => {
                // `?1` (SQLite) and `:1` (Oracle) parameters: kept.
                i = skip_digits(b, i + 1);
            }
            b'0'..=b'9' => {
                let (end, plain_int) = number_end(b, i);
                i = end;
                match limit {
                    Limit::Expect { second } if plain_int => {
                        new_limit = if second {
                            Limit::Off
                        } else {
                            Limit::AfterFirst
                        };
                    }
                    _ => w.replace(start, end, placeholder(b, end)),
                }
            }
            b'.' if next.is_ascii_digit()
                && !(is_ident_continue(prev) || matches!(prev, b')' | b'"' | b'`' | b']')) =>
            {
                i = number_end(b, i).0;
                w.replace(start, i, placeholder(b, i));
            }
            b'-' | b'+'
                if (prev == 0 || is_operator(prev))
                    && (next.is_ascii_digit()
                        || (next == b'.' && b.get(i + 2).is_some_and(u8::is_ascii_digit))) =>
            {
                i = number_end(b, i + 1).0;
                w.replace(start, i, placeholder(b, i));
            }
            c if is_ident_start(c) => {
                i = ident_end(b, i);
                let word = &b[start..i];
                let string_start = if b.get(i) == Some(&b'\'') && is_string_prefix(word) {
                    Some(i)
                } else if word.eq_ignore_ascii_case(b"u")
                    && b.get(i) == Some(&b'&')
                    && b.get(i + 1) == Some(&b'\'')
                {
                    Some(i + 1)
                } else {
                    None
                };
                if let Some(quote) = string_start {
                    i = single_quoted_end(b, quote);
                    w.replace(start, i, placeholder(b, i));
                } else if is_limit_keyword(word) {
                    new_limit = Limit::Expect { second: false };
                } else if word.eq_ignore_ascii_case(b"in") || word.eq_ignore_ascii_case(b"values") {
                    has_lists = true;
                }
            }
            b',' if limit == Limit::AfterFirst => {
                i += 1;
                new_limit = Limit::Expect { second: true };
            }
            _ => i += 1,
        }
        limit = new_limit;
        prev = b[i - 1];
    }
    (w.finish(), has_lists)
}

/// Removes the comment `b[start..end]` and the whitespace after it, leaving one
/// space only where needed to keep the neighbouring tokens apart (so removing a
/// comment can never glue `-` and `-` into a new comment). Returns the new scan
/// position.
fn remove_comment(w: &mut Rewriter<'_>, b: &[u8], start: usize, end: usize) -> usize {
    let mut e = end;
    while e < b.len() && is_ascii_ws(b[e]) {
        e += 1;
    }
    if e == b.len() {
        w.replace(start, e, "");
        w.trim_end();
    } else {
        let sep = match w.last_byte_before(start) {
            Some(p) if !is_ascii_ws(p) => " ",
            _ => "",
        };
        w.replace(start, e, sep);
    }
    e
}

/// End (exclusive) of the `/* … */` comment starting at `start`, honouring
/// Postgres nesting; the end of input when unterminated.
fn block_comment_end(b: &[u8], start: usize) -> usize {
    let mut depth = 1usize;
    let mut j = start + 2;
    while j + 1 < b.len() {
        if b[j] == b'*' && b[j + 1] == b'/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return j;
            }
        } else if b[j] == b'/' && b[j + 1] == b'*' {
            depth += 1;
            j += 2;
        } else {
            j += 1;
        }
    }
    b.len()
}

/// `ESCAPE '\'` at `quote`: the standard-SQL one-character escape literal, which
/// Django's SQLite and Oracle backends emit for every `contains`/`startswith`
/// lookup. Read with backslash escapes (see the known limit on [`scrub_sql`]) it
/// never closes and swallows the rest of the query (`LIMIT 20`). In MySQL the same
/// text is a syntax error, so reading it as a closed literal cannot hide a value.
fn is_escape_clause_backslash(b: &[u8], quote: usize) -> bool {
    if b.get(quote..quote + 3) != Some(b"'\\'".as_slice()) || b.get(quote + 3) == Some(&b'\'') {
        return false;
    }
    let mut e = quote;
    while e > 0 && is_ascii_ws(b[e - 1]) {
        e -= 1;
    }
    e >= 6
        && b[e - 6..e].eq_ignore_ascii_case(b"escape")
        && (e == 6 || !is_ident_continue(b[e - 7]))
}

/// End (exclusive) of the single-quoted string opening at `start`; the end of
/// input when unterminated.
///
/// A quote followed at once by a letter or digit is read as an apostrophe inside the
/// string, as in SQL an application built by pasting user text into it (`ILIKE '%Alice
/// Smith's notes%'`): taking it for the end would leave the rest of the text outside the
/// literal, as SQL words. Lexers accept `'x'AND`, but neither ORMs nor people write it; read
/// this way it costs at most the rest of the statement (replaced), never a leak.
fn single_quoted_end(b: &[u8], start: usize) -> usize {
    let mut from = start;
    loop {
        let (end, closed) = quoted_end(b, from, b'\'', true);
        if closed && b.get(end).is_some_and(u8::is_ascii_alphanumeric) {
            from = end - 1;
            continue;
        }
        return end;
    }
}

/// End (exclusive) of a token quoted with `q` opening at `start`, where a doubled
/// `q` is an escaped quote and, if `backslash`, `\` escapes the next byte.
/// Returns `(end, closed)`; unterminated tokens end at the end of input.
fn quoted_end(b: &[u8], start: usize, q: u8, backslash: bool) -> (usize, bool) {
    let n = b.len();
    let mut j = start + 1;
    while j < n {
        let found = if backslash {
            memchr2(q, b'\\', &b[j..])
        } else {
            memchr(q, &b[j..])
        };
        let Some(k) = found else {
            return (n, false);
        };
        let p = j + k;
        // A backslash escapes the next byte; a doubled quote is an escaped quote.
        if b[p] == b'\\' || b.get(p + 1) == Some(&q) {
            j = p + 2;
        } else {
            return (p + 1, true);
        }
    }
    (n, false)
}

/// Whether the content of a double-quoted token reads as an identifier
/// (`"auth_user"`) rather than a MySQL string (`"alice smith"`).
fn is_identifier_like(content: &[u8]) -> bool {
    matches!(content.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
        && content.len() <= 64
        && content
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$'))
}

/// Length of the `$tag$` delimiter at `start` (`$$` included), if there is one.
fn dollar_tag_len(b: &[u8], start: usize) -> Option<usize> {
    let mut j = start + 1;
    match b.get(j) {
        Some(b'$') => return Some(2),
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
        _ => return None,
    }
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
        j += 1;
    }
    (b.get(j) == Some(&b'$')).then_some(j + 1 - start)
}

fn skip_digits(b: &[u8], mut j: usize) -> usize {
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    j
}

fn ident_end(b: &[u8], mut j: usize) -> usize {
    while j < b.len() && is_ident_continue(b[j]) {
        j += 1;
    }
    j
}

/// End of the number starting at `start` (a digit or `.`), and whether it is a
/// plain run of digits. Anything identifier-like glued to it (`0xFF`, `1abc`,
/// `123e4567`) belongs to the number: it is a value, not a name.
fn number_end(b: &[u8], start: usize) -> (usize, bool) {
    let n = b.len();
    let mut j = skip_digits(b, start);
    let mut plain = j > start;
    if j + 1 < n && b[j] == b'.' && b[j + 1].is_ascii_digit() {
        j = skip_digits(b, j + 1);
        plain = false;
    }
    if j < n && (b[j] == b'e' || b[j] == b'E') {
        let mut k = j + 1;
        if k < n && (b[k] == b'+' || b[k] == b'-') {
            k += 1;
        }
        if k < n && b[k].is_ascii_digit() {
            j = skip_digits(b, k);
            plain = false;
        }
    }
    let end = ident_end(b, j);
    (end, plain && end == j)
}

/// Identifiers that, glued to a quote, make a typed string (`E'…'`, `N'…'`,
/// `X'…'`, `B'…'`, `R'…'`) or a MySQL charset introducer (`_utf8mb4'…'`).
fn is_string_prefix(word: &[u8]) -> bool {
    match word {
        [c] => matches!(c.to_ascii_lowercase(), b'e' | b'n' | b'x' | b'b' | b'r'),
        [b'_', rest @ ..] => !rest.is_empty() && rest.iter().all(u8::is_ascii_alphanumeric),
        _ => false,
    }
}

fn is_limit_keyword(word: &[u8]) -> bool {
    [&b"limit"[..], b"offset", b"top", b"first", b"next"]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k))
}

/// Pass 2: collapse `IN (…)` placeholder lists and `VALUES` rows. Runs on text
/// that has no literal or comment left.
fn collapse_lists(text: &str) -> Option<String> {
    crate::work::charge(text.len());
    let b = text.as_bytes();
    let n = b.len();
    let mut w = Rewriter::new(text);
    let mut i = 0;
    // After one `VALUES (` that never closes, later ones are inside it: trying
    // them again would rescan to the end each time (quadratic on hostile input).
    let mut values_unbalanced = false;
    // Where each group closes, found in one pass when the first `VALUES` needs it: a row
    // list is read group after group, and a group that never closes would otherwise be
    // walked to the end again by every `VALUES (…), (` before it.
    let mut groups: Option<Groups> = None;
    while i < n {
        let c = b[i];
        if c == b'"' || c == b'`' {
            i = quoted_end(b, i, c, c == b'"').0;
        } else if is_ident_start(c) || c.is_ascii_digit() {
            let start = i;
            i = ident_end(b, i);
            let word = &b[start..i];
            if word.eq_ignore_ascii_case(b"in") {
                let open = skip_ws(b, i);
                if b.get(open) == Some(&b'(') {
                    if let Some((end, count, nested)) = placeholder_group(b, open) {
                        if count >= 2 || (nested && count >= 1) {
                            w.replace(open, end, "(%s)");
                            i = end;
                        }
                    }
                }
            } else if !values_unbalanced && word.eq_ignore_ascii_case(b"values") {
                let open = skip_ws(b, i);
                let groups = groups.get_or_insert_with(|| Groups::new(b));
                match values_rows_end(b, open, groups) {
                    Some(end) => {
                        if &b[open..end] != b"(%s)" && has_placeholder(&b[open..end]) {
                            w.replace(open, end, "(%s)");
                        }
                        i = end;
                    }
                    None => values_unbalanced = b.get(open) == Some(&b'('),
                }
            }
        } else {
            i += 1;
        }
    }
    w.finish()
}

fn skip_ws(b: &[u8], mut j: usize) -> usize {
    while j < b.len() && is_ascii_ws(b[j]) {
        j += 1;
    }
    j
}

/// If `b[open..]` is a parenthesised group made only of placeholders (possibly
/// nested tuples), returns its end, the number of placeholders and whether
/// tuples were nested.
fn placeholder_group(b: &[u8], open: usize) -> Option<(usize, usize, bool)> {
    let n = b.len();
    let mut depth = 0usize;
    let mut count = 0usize;
    let mut nested = false;
    let mut j = open;
    while j < n {
        let c = b[j];
        match c {
            b'(' => {
                depth += 1;
                nested |= depth > 1;
                j += 1;
            }
            b')' => {
                depth = depth.checked_sub(1)?;
                j += 1;
                if depth == 0 {
                    return Some((j, count, nested));
                }
            }
            b',' => j += 1,
            c if is_ascii_ws(c) => j += 1,
            b'%' => {
                match b.get(j + 1) {
                    Some(b's') => j += 2,
                    Some(b'(') => {
                        // `%(name)s`: the name's own bytes, then `)s`. (Searching for the
                        // `)` first walked to the end of the text at every `in (%(`.)
                        let close = ident_end(b, j + 2);
                        crate::work::charge(close - j);
                        if b.get(close) != Some(&b')') || b.get(close + 1) != Some(&b's') {
                            return None;
                        }
                        j = close + 2;
                    }
                    _ => return None,
                }
                count += 1;
            }
            b'?' => {
                j = skip_digits(b, j + 1);
                count += 1;
            }
            b'$' => {
                let end = skip_digits(b, j + 1);
                if end == j + 1 {
                    return None;
                }
                j = end;
                count += 1;
            }
            b':' => {
                let end = ident_end(b, j + 1);
                if end == j + 1 {
                    return None;
                }
                j = end;
                count += 1;
            }
            c if is_ident_start(c) => {
                let end = ident_end(b, j);
                let word = &b[j..end];
                if ![&b"null"[..], b"true", b"false"]
                    .iter()
                    .any(|k| word.eq_ignore_ascii_case(k))
                {
                    return None;
                }
                j = end;
                count += 1;
            }
            _ => return None,
        }
    }
    None
}

/// Whether a `VALUES` group holds a parameter (all literals are `%s` by now);
/// MySQL's `VALUES(col)` function in `ON DUPLICATE KEY UPDATE` does not.
fn has_placeholder(group: &[u8]) -> bool {
    group.iter().any(|c| matches!(c, b'%' | b'?' | b'$' | b':'))
}

/// End of the `(…), (…)` rows starting at `open` (any balanced content), or
/// `None` if there is no complete first row.
fn values_rows_end(b: &[u8], open: usize, groups: &Groups) -> Option<usize> {
    let mut end = groups.end(b, open)?;
    loop {
        let comma = skip_ws(b, end);
        if b.get(comma) != Some(&b',') {
            return Some(end);
        }
        let next = skip_ws(b, comma + 1);
        match groups.end(b, next) {
            Some(e) => end = e,
            None => return Some(end),
        }
    }
}

/// The end of every balanced parenthesised group of a text, skipping quoted identifiers:
/// `(open, end)` sorted by `open`. A group that does not close (or holds a quote that does
/// not) has none.
struct Groups(Vec<(usize, usize)>);

impl Groups {
    /// One pass over `b`.
    fn new(b: &[u8]) -> Groups {
        crate::work::charge(b.len());
        let mut found = Vec::new();
        let mut open = Vec::new();
        let mut j = 0;
        while j < b.len() {
            match b[j] {
                b'(' => open.push(j),
                b')' => {
                    if let Some(o) = open.pop() {
                        found.push((o, j + 1));
                    }
                }
                q @ (b'"' | b'`') => {
                    let (end, closed) = quoted_end(b, j, q, q == b'"');
                    if !closed {
                        // Every group still open, and any after, never closes.
                        break;
                    }
                    j = end;
                    continue;
                }
                _ => {}
            }
            j += 1;
        }
        found.sort_unstable();
        Groups(found)
    }

    /// End of the parenthesised group opening at `open`.
    fn end(&self, b: &[u8], open: usize) -> Option<usize> {
        if b.get(open) != Some(&b'(') {
            return None;
        }
        let k = self.0.binary_search_by_key(&open, |&(o, _)| o).ok()?;
        Some(self.0[k].1)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// How a group's end was found before [`Groups`]: a walk from its `(`.
    fn walk_from(b: &[u8], open: usize) -> Option<usize> {
        let mut depth = 0usize;
        let mut j = open;
        while j < b.len() {
            match b[j] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(j + 1);
                    }
                }
                q @ (b'"' | b'`') => {
                    let (end, closed) = quoted_end(b, j, q, q == b'"');
                    if !closed {
                        return None;
                    }
                    j = end;
                    continue;
                }
                _ => {}
            }
            j += 1;
        }
        None
    }

    proptest! {
        /// Every `(` outside quoted identifiers (where `collapse_lists` can ask) ends where
        /// a walk from it ends.
        #[test]
        fn groups_end_where_a_walk_from_their_open_ends(
            parts in proptest::collection::vec(
                proptest::sample::select(&["(", ")", "\"", "`", "\\", "a", " ", ",", "%s", "VALUES "][..]),
                0..40,
            )
        ) {
            let text = parts.concat();
            let b = text.as_bytes();
            let groups = Groups::new(b);
            let mut j = 0;
            while j < b.len() {
                match b[j] {
                    q @ (b'"' | b'`') => {
                        j = quoted_end(b, j, q, q == b'"').0;
                        continue;
                    }
                    b'(' => prop_assert_eq!(groups.end(b, j), walk_from(b, j), "at {} in {:?}", j, text),
                    _ => {}
                }
                j += 1;
            }
        }
    }
}
