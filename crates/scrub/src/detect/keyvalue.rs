//! Secrets in key/value form: `password=hunter2`, `passwd: x`, `"token": "abc"`,
//! `api_key=…`, `client_secret`, `access_token`, `Authorization: …`.
//!
//! Only the value is replaced (`password=[secret]`), so the message still says *what* was
//! removed. The key must *end* with the trigger word (optionally `key`, as in `secret_key`):
//! that keeps `token_type=bearer`, `max_tokens=1024` and `tokenizer=…` out, which are
//! configuration, not secrets.

use super::text::at;

/// Suffixes allowed after the trigger word inside the key.
const SUFFIXES: &[&[u8]] = &[b"", b"key", b"_key", b"-key"];

/// Ends an unquoted value.
fn ends_value(c: u8) -> bool {
    c.is_ascii_whitespace()
        || matches!(
            c,
            b'&' | b','
                | b';'
                | b'"'
                | b'\''
                | b'('
                | b')'
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'<'
                | b'>'
                | b'\\'
        )
}

/// Skip up to `max` bytes satisfying `f` from `i`.
fn skip(b: &[u8], mut i: usize, max: usize, f: impl Fn(u8) -> bool) -> usize {
    let stop = i + max;
    while i < stop && f(at(b, i)) {
        i += 1;
    }
    i
}

/// Value of the key whose trigger word spans `ts..te`, as a byte range.
pub(crate) fn secret_value_at(b: &[u8], ts: usize, te: usize) -> Option<(usize, usize)> {
    let ke = skip(b, te, 8, |c| {
        c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
    });
    let suffix = &b[te..ke];
    if !SUFFIXES.iter().any(|s| s.eq_ignore_ascii_case(suffix)) {
        return None;
    }
    // Closing quote of a quoted key (`"token"`, `\"token\"`), spaces, then `=`, `:`, `=>`, `:=`.
    let mut i = skip(b, ke, 2, |c| matches!(c, b'"' | b'\'' | b'\\'));
    i = skip(b, i, 4, |c| c == b' ' || c == b'\t');
    match (at(b, i), at(b, i + 1)) {
        (b'=', b'>') | (b':', b'=') => i += 2,
        (b'=' | b':', _) => i += 1,
        _ => return None,
    }
    i = skip(b, i, 4, |c| c == b' ' || c == b'\t');
    let escaped = at(b, i) == b'\\' && matches!(at(b, i + 1), b'"' | b'\'');
    if escaped {
        i += 1;
    }
    let quote = matches!(at(b, i), b'"' | b'\'').then(|| at(b, i));
    if quote.is_some() {
        i += 1;
    }
    let mut vs = i;
    // `Authorization: Bearer abc` - the scheme word is not the secret; skip it so the
    // bearer/basic detectors and this one agree on the credential's range.
    if b.get(ts..te)
        .is_some_and(|k| k.eq_ignore_ascii_case(b"authorization"))
    {
        let w = skip(b, vs, 16, |c| c.is_ascii_alphabetic());
        if w > vs && at(b, w) == b' ' {
            vs = skip(b, w, 4, |c| c == b' ');
        }
    }
    let mut ve = vs;
    match quote {
        Some(q) => {
            while ve < b.len() && b[ve] != q && b[ve] != b'\n' {
                ve += 1;
            }
            if escaped && ve > vs && b[ve - 1] == b'\\' {
                ve -= 1;
            }
        }
        None => ve = skip(b, vs, b.len() - vs, |c| c != 0 && !ends_value(c)),
    }
    // An already-redacted value (`"[secret]"`) is left alone, so redaction is idempotent; a
    // value without a letter or digit (`Unexpected token: '}'`) is syntax, not a secret.
    let value = &b[vs..ve];
    let placeholder = value.first() == Some(&b'[') && value.last() == Some(&b']');
    let plausible = value.iter().any(u8::is_ascii_alphanumeric) || value.iter().any(|&c| c >= 0x80);
    (!placeholder && plausible).then_some((vs, ve))
}
