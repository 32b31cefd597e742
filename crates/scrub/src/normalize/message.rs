//! Log-message helpers.
//!
//! Log messages are where prompts and user input leak
//! (`logger.warning("search failed for %s", query)`). A `logentry` may carry
//! both the template (`message`) and the formatted text (`formatted`); the
//! template, when there is one, has the values cut out by construction.

/// Whether `s` contains a Python-style formatting placeholder, i.e. is probably
/// a log *template* rather than an already formatted message.
///
/// Why: the policy forwards a log message only in its template form, because
/// the values (`%s` arguments, `{}` fields) are exactly what may hold user data.
/// This check tells whether the string Sentry calls `logentry.message` really is
/// a template, or whether an SDK put the formatted text there.
///
/// Recognised, with `%%` and `{{` treated as escapes:
///
/// * printf style: `%s`, `%r`, `%d`, `%i`, `%f`, `%x` with optional flags
///   (`-+0#`), width, precision and length (`%-10s`, `%.2f`, `%08x`, `%ld`), and
///   the mapping form `%(name)s` (which also accepts `c e E g G X a o u`);
/// * `str.format` / loguru / structlog style: `{}`, `{0}`, `{name}`,
///   `{user.id}`, `{items[0]}`, with an optional conversion (`!r`) and a format
///   spec without whitespace (`{value:.2f}`, `{:>10}`).
///
/// The check leans towards "not a template" because a false positive would
/// forward formatted text: a `%` followed by two hex digits right after a
/// letter or digit is URL encoding (`alice%40sentry.io`, `a%3Db`), a bare `%`
/// followed by two hex digits and nothing else (`%2F`, `%5d`) is too,
/// `50% off` and `100%` are prose, `{"a": 1}` and `{ name }` are not
/// placeholders. `{}` alone does count, so "got {}" is a template. The result
/// is a hint for the policy; detectors still run on whatever is kept.
///
/// ```
/// use scrub::normalize::message::is_probably_template;
///
/// assert!(is_probably_template("search failed for %s"));
/// assert!(is_probably_template("user {user_id} logged in"));
/// assert!(!is_probably_template("search failed for CANARY secret"));
/// ```
pub fn is_probably_template(s: &str) -> bool {
    crate::work::charge(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(k) = memchr::memchr2(b'%', b'{', &b[i..]) {
        let p = i + k;
        let (found, next) = if b[p] == b'%' {
            percent_directive(b, p)
        } else {
            brace_field(b, p)
        };
        if found {
            return true;
        }
        i = next;
    }
    false
}

/// Longest `%(key)s` mapping key considered.
const MAX_KEY_LEN: usize = 64;

/// Parses a printf-style directive at `b[p] == '%'`: `(found, resume_at)`.
fn percent_directive(b: &[u8], p: usize) -> (bool, usize) {
    let n = b.len();
    let at = |j: usize| b.get(j).copied().unwrap_or(0);
    if at(p + 1) == b'%' {
        return (false, p + 2);
    }
    let hex_pair = at(p + 1).is_ascii_hexdigit() && at(p + 2).is_ascii_hexdigit();
    if hex_pair && p > 0 && b[p - 1].is_ascii_alphanumeric() {
        return (false, p + 1);
    }
    let mut j = p + 1;
    let mut mapped = false;
    if at(j) == b'(' {
        // Keys are short; bounding the search keeps `%(%(%(…` linear.
        let window = &b[j + 1..n.min(j + 1 + MAX_KEY_LEN + 1)];
        let Some(k) = memchr::memchr(b')', window) else {
            return (false, p + 1);
        };
        let name = &b[j + 1..j + 1 + k];
        if name.is_empty()
            || !name
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        {
            return (false, p + 1);
        }
        j += k + 2;
        mapped = true;
    }
    while j < n && matches!(b[j], b'-' | b'+' | b'0' | b'#') {
        j += 1;
    }
    if at(j) == b'*' {
        j += 1;
    } else {
        while j < n && b[j].is_ascii_digit() {
            j += 1;
        }
    }
    if at(j) == b'.' {
        j += 1;
        if at(j) == b'*' {
            j += 1;
        } else {
            while j < n && b[j].is_ascii_digit() {
                j += 1;
            }
        }
    }
    if matches!(at(j), b'h' | b'l' | b'L') {
        j += 1;
    }
    let conv = at(j);
    let ok = matches!(conv, b's' | b'r' | b'd' | b'i' | b'f' | b'x')
        || (mapped
            && matches!(
                conv,
                b'c' | b'e' | b'E' | b'g' | b'G' | b'X' | b'a' | b'o' | b'u'
            ));
    // `%2f`, `%3d`: a lone escaped byte, not a directive.
    let url_escape = hex_pair && j == p + 2;
    if ok && !url_escape {
        (true, j + 1)
    } else {
        (false, p + 1)
    }
}

/// Parses a `str.format` field at `b[p] == '{'`: `(found, resume_at)`.
fn brace_field(b: &[u8], p: usize) -> (bool, usize) {
    let n = b.len();
    let at = |j: usize| b.get(j).copied().unwrap_or(0);
    if at(p + 1) == b'{' {
        return (false, p + 2);
    }
    let mut j = p + 1;
    // Field name: empty, an index, or an identifier with `.attr` / `[key]` parts.
    if at(j).is_ascii_digit() {
        while j < n && b[j].is_ascii_digit() {
            j += 1;
        }
    } else if at(j).is_ascii_alphabetic() || at(j) == b'_' {
        while j < n && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
            j += 1;
        }
    }
    if j > p + 1 {
        loop {
            match at(j) {
                b'.' if at(j + 1).is_ascii_alphabetic() || at(j + 1) == b'_' => {
                    j += 1;
                    while j < n && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                        j += 1;
                    }
                }
                b'[' => {
                    let start = j + 1;
                    j = start;
                    while j < n && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                        j += 1;
                    }
                    if j == start || at(j) != b']' {
                        return (false, p + 1);
                    }
                    j += 1;
                }
                _ => break,
            }
        }
    }
    if at(j) == b'!' {
        if !matches!(at(j + 1), b'r' | b's' | b'a') {
            return (false, p + 1);
        }
        j += 2;
    }
    if at(j) == b':' {
        j += 1;
        while j < n
            && (b[j].is_ascii_alphanumeric()
                || matches!(
                    b[j],
                    b'<' | b'>' | b'=' | b'^' | b'+' | b'-' | b'#' | b',' | b'_' | b'.' | b'%'
                ))
        {
            j += 1;
        }
    }
    if at(j) == b'}' {
        (true, j + 1)
    } else {
        (false, p + 1)
    }
}
