//! Secrets in key/value form: `password=hunter2`, `passwd: x`, `"token": "abc"`,
//! `api_key=…`, `client_secret`, `access_token`, `Authorization: …`, and session cookies
//! (`sessionid=…`, Django's; `PHPSESSID`, `JSESSIONID`, `session_key`, `Cookie: …`).
//!
//! Only the value is replaced (`password=[secret]`), so the message still says *what* was
//! removed. Seeds are the separators `=` and `:` (the prefilter reports them anyway); the key
//! before the separator must *end* with a key word (optionally `key`, as in `secret_key`):
//! that keeps `token_type=bearer`, `max_tokens=1024` and `tokenizer=…` out, which are
//! configuration, not secrets. Key words match in any case (`PASSWORD=`, `Authorization:`).

use super::memo::{Class, Memo};
use super::text::{at, before};

/// Bytes of a key name.
fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')
}

/// Key words whose value is a secret. The key must end with one of these, optionally
/// followed by one of [`SUFFIXES`]: `db_password`, `client_secret`, `x-api-key`, `SECRET_KEY`.
const KEY_WORDS: &[&[u8]] = &[
    b"password",
    b"passwd",
    b"passphrase",
    b"pwd",
    b"secret",
    b"token",
    b"api_key",
    b"apikey",
    b"api-key",
    b"authorization",
    b"credentials",
    // A session id is a bearer credential: whoever holds it is logged in.
    b"session",
    b"sessionid",
    b"session_id",
    b"session-id",
    b"sessid",
    b"cookie",
];

/// Suffixes allowed after the key word.
const SUFFIXES: &[&[u8]] = &[b"", b"key", b"_key", b"-key"];

/// Does `key` end with a key word (then an allowed suffix)? Returns the key word.
fn secret_key(key: &[u8]) -> Option<&'static [u8]> {
    // Every key word and suffix ends in one of these letters: one test rejects most keys.
    if !key
        .last()
        .is_some_and(|c| b"dtnyse".contains(&c.to_ascii_lowercase()))
    {
        return None;
    }
    SUFFIXES.iter().find_map(|suffix| {
        let cut = key.len().checked_sub(suffix.len())?;
        if !key[cut..].eq_ignore_ascii_case(suffix) {
            return None;
        }
        let stem = &key[..cut];
        KEY_WORDS
            .iter()
            .copied()
            .find(|w| stem.len() >= w.len() && stem[stem.len() - w.len()..].eq_ignore_ascii_case(w))
    })
}

/// Skip up to `max` bytes satisfying `f` from `i`.
fn skip(b: &[u8], mut i: usize, max: usize, f: impl Fn(u8) -> bool) -> usize {
    let stop = i + max;
    while i < stop && f(at(b, i)) {
        i += 1;
    }
    i
}

/// Longest bound-parameter marker: `%(` + a key of 64 bytes + `)s`.
const MAX_PARAMETER: usize = 68;

/// The secret value after the separator (`=` or `:`) at `sep`, if the key before it is a
/// secret-looking key (`password=…`, `"token": "…"`, `db_password => …`, `pwd := …`).
///
/// The key is read backwards within 70 bytes; the value has no length bound (a cut would
/// leave the rest of a long token behind), so its end comes from `memo`: every seed
/// inside one value (`password=password=…`) shares the same end, walked once.
pub(crate) fn secret_value_at(b: &[u8], sep: usize, memo: &mut Memo) -> Option<(usize, usize)> {
    let mut i = match (b[sep], at(b, sep + 1)) {
        (b'=', _) if before(b, sep) == b':' => return None, // `:=`, seen from its `:`
        (b'=', b'>') | (b':', b'=') => sep + 2,
        _ => sep + 1,
    };
    // Walk back over spaces and the closing quote of a quoted key (`"token"`, `\"token\"`).
    let mut ke = sep;
    while ke > 0 && sep - ke < 4 && matches!(b[ke - 1], b' ' | b'\t') {
        ke -= 1;
    }
    let quoted_end = ke;
    while ke > 0 && quoted_end - ke < 2 && matches!(b[ke - 1], b'"' | b'\'' | b'\\') {
        ke -= 1;
    }
    let mut ks = ke;
    while ks > 0 && ke - ks < 64 && is_key_byte(b[ks - 1]) {
        ks -= 1;
    }
    if is_key_byte(before(b, ks)) {
        return None; // key longer than we look back: not one of ours
    }
    crate::work::charge(sep - ks + 1);
    let word = secret_key(&b[ks..ke])?;
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
    if word == b"authorization" {
        let w = skip(b, vs, 16, |c| c.is_ascii_alphabetic());
        if w > vs && at(b, w) == b' ' {
            vs = skip(b, w, 4, |c| c == b' ');
        }
    }
    crate::work::charge(vs - sep);
    let class = match quote {
        Some(b'"') => Class::DoubleQuoted,
        Some(_) => Class::SingleQuoted,
        None => Class::Bare,
    };
    let run = memo.extent(b, class, vs);
    let mut ve = run.end;
    if escaped && ve > vs && b[ve - 1] == b'\\' {
        ve -= 1;
    }
    // An already-redacted value (`"[secret]"`) is left alone, so redaction is idempotent; a
    // value without a letter or digit (`Unexpected token: '}'`) is syntax, not a secret
    // (`marked`: the run holds one); nor is a bound-parameter marker (`"session_key" = %s`
    // in a query the SQL normaliser wrote).
    let value = &b[vs..ve];
    let placeholder = value.first() == Some(&b'[') && value.last() == Some(&b']');
    (!placeholder && run.marked && !sql_parameter(value)).then_some((vs, ve))
}

/// `%s`, `%(name)s`, `?`, `$1`, `:name`: a query's bound-parameter marker, not a value.
fn sql_parameter(v: &[u8]) -> bool {
    if v.len() > MAX_PARAMETER {
        return false;
    }
    match v {
        b"%s" | b"?" => true,
        [b'%', b'(', name @ .., b')', b's'] => name.iter().copied().all(is_key_byte),
        [b'$', digits @ ..] => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
        [b':', name @ ..] => !name.is_empty() && name.iter().copied().all(is_key_byte),
        _ => false,
    }
}
