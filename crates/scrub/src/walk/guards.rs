//! Scalar guards: a value is kept only when its shape cannot hold free text (a number, a
//! flag, a short token, a hex id, a timestamp, a version, a package name). What passes a
//! guard needs no detectors; what fails is removed.

use super::values::Val;

/// Keeps a scalar only if it is a number.
pub fn num(v: &mut Option<Val<'_>>) {
    if !matches!(v, Some(Val::Num(_))) {
        *v = None;
    }
}

/// Keeps a scalar only if it is a boolean.
pub fn flag(v: &mut Option<Val<'_>>) {
    if !matches!(v, Some(Val::Bool(_))) {
        *v = None;
    }
}

/// Keeps a scalar only if it is a short technical token: letters, digits and `_.:/-+`,
/// such as an op (`http.server`), a status, a level, a platform or an origin. A token can
/// not hold a sentence, an email or a space, so it needs no detectors.
pub fn token(v: &mut Option<Val<'_>>) {
    let ok = match v {
        Some(Val::Str(s)) => is_token(s),
        _ => false,
    };
    if !ok {
        *v = None;
    }
}

/// See [`token`].
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/' | b'-' | b'+')
        })
}

/// Keeps a scalar only if it is a hex id (event, trace, span, profile ids; dashes allowed).
pub fn hex_id(v: &mut Option<Val<'_>>) {
    let ok = match v {
        Some(Val::Str(s)) => {
            (8..=36).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        }
        _ => false,
    };
    if !ok {
        *v = None;
    }
}

/// Keeps a timestamp: a number, or an RFC 3339 string (digits and `-:.TZ+ `).
pub fn timestamp(v: &mut Option<Val<'_>>) {
    let ok = match v {
        Some(Val::Num(_)) => true,
        Some(Val::Str(s)) => {
            s.len() <= 40
                && s.bytes().all(|b| {
                    b.is_ascii_digit()
                        || matches!(b, b'-' | b':' | b'.' | b'T' | b'Z' | b'+' | b' ')
                })
        }
        _ => false,
    };
    if !ok {
        *v = None;
    }
}

/// Keeps a version-like string (`5.2.19`, `2.75.0`, `3.11.7 (main, …)` is not one): letters,
/// digits and `._-+!~`. Module and package versions need no detectors: they cannot hold
/// a sentence, and `1.2.3.4` in `modules` is a version, not an IP.
pub fn is_version(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'!' | b'~')
        })
}

/// A package or module name: letters, digits and `._-:/`, and one leading `@` for npm
/// scopes (`@sentry/node`). An email has its `@` inside, so it is refused.
pub fn is_package_name(s: &str) -> bool {
    let body = s.strip_prefix('@').unwrap_or(s);
    !body.is_empty()
        && s.len() <= 128
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/'))
}
