//! Free text inside identifiers: transaction names, span descriptions and URL paths.
//!
//! Names an application writes itself (`start_transaction(name=…)`, a span's description,
//! the path of a request) are free text: `reindex document {title}` or
//! `/people/<slug>/cv/` carry a title or a person's name that no detector can recognise.
//! The rule is default-deny: such a string leaves only when its *shape* says it is code.
//!
//! - [`is_identifier_shaped`]: dotted module paths, `snake_case`/`camelCase` names, route
//!   templates (`GET /api/{id}`), but not words separated by spaces (`upload doc_1 by Ann`).
//! - [`is_technical_segment`]: a URL path segment that is an id, a number, a hash, a
//!   template parameter or made of known API words (`api`, `v2`, `users`, `doc_8c21e0`);
//!   anything else (`zephyrine-canarywood`, `alice`) is masked by [`mask_path`].
//! - [`apply_route`]: when the route template is known, a URL carries the template's path.
//!
//! Pure and total like the rest of [`crate::normalize`]; `None` means unchanged.

use super::url::{map_segments, percent_decode};
use crate::words::{vendor_api_words, API_WORDS};

pub use crate::words::FILE_EXTENSIONS;

/// What a masked path segment becomes: `/people/*/cv/`.
pub const MASKED_SEGMENT: &str = "*";

/// HTTP methods that may lead a name (`GET /api/users/{id}`).
#[rustfmt::skip]
const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
];

/// Is `m` an HTTP method (`GET`, `POST` …)?
pub fn is_method(m: &str) -> bool {
    METHODS.contains(&m)
}

/// Is `word` (letters only) a known API word or file extension, itself or as a plural?
pub fn is_api_word(word: &str) -> bool {
    let lower = crate::words::lower(word);
    crate::words::known_or_plural(&lower, |w| {
        API_WORDS.binary_search(&w).is_ok()
            || vendor_api_words().binary_search(&w).is_ok()
            || FILE_EXTENSIONS.contains(&w)
    })
}

/// A template parameter: `{id}`, `<int:pk>`, `:slug`, `*`, `**`, `[id]`, `%s`.
pub(crate) fn is_param(seg: &str) -> bool {
    let b = seg.as_bytes();
    let wrapped = |open: u8, close: u8| {
        b.len() >= 2 && b[0] == open && b[b.len() - 1] == close && !seg.contains(' ')
    };
    wrapped(b'{', b'}')
        || wrapped(b'<', b'>')
        || wrapped(b'[', b']')
        || (b.len() >= 2
            && b[0] == b':'
            && b[1..]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'_'))
        || seg.bytes().all(|c| c == b'*')
        || seg == "%s"
}

/// Words of an identifier part: split at `-_.~+,=` and at camel-case humps
/// (`getUserProfile` → `get`, `User`, `Profile`).
fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(['-', '_', '.', '~', '+', ',', '=', ':'])
        .flat_map(camel_parts)
        .filter(|w| !w.is_empty())
}

fn camel_parts(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..b.len() {
        if b[i].is_ascii_uppercase() && b[i - 1].is_ascii_lowercase() {
            out.push(&s[start..i]);
            start = i;
        }
    }
    out.push(&s[start..]);
    out
}

/// How many words of `s` are neither known API words, single letters nor carry a digit
/// (numbers, hashes, versions and ids such as `doc_8c21e0` carry one).
fn unknown_words(s: &str) -> usize {
    words(s)
        .filter(|w| !(w.len() == 1 || w.bytes().any(|c| c.is_ascii_digit()) || is_api_word(w)))
        .count()
}

/// Is this (decoded) URL path segment technical? Ids, numbers, hashes, versions, template
/// parameters and segments made of known API words are; a word that is not an API word
/// (a name, a slug of a title, an e-mail's parts) is not.
///
/// ```
/// use scrub::normalize::ident::is_technical_segment;
///
/// for s in ["api", "v2", "users", "42", "8c21e0f3", "doc_8c21e0", "{slug}", "main.js"] {
///     assert!(is_technical_segment(s), "{s}");
/// }
/// for s in ["zephyrine-canarywood", "alice", "alice@example.com", "Zéphyrine"] {
///     assert!(!is_technical_segment(s), "{s}");
/// }
/// ```
pub fn is_technical_segment(seg: &str) -> bool {
    crate::work::charge(seg.len());
    if seg.is_empty() || is_param(seg) {
        return true;
    }
    if !seg
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~' | b'+' | b','))
    {
        return false;
    }
    let stem = match seg.rsplit_once('.') {
        Some((stem, ext)) if FILE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()) => stem,
        _ => seg,
    };
    unknown_words(stem) == 0
}

/// Masks the path segments of a URL (or bare path) that are not technical with
/// [`MASKED_SEGMENT`]; `None` if every segment is technical. Scheme, host, port, query and
/// fragment are not looked at (call [`super::url::scrub_url`] first).
///
/// ```
/// use scrub::normalize::ident::mask_path;
///
/// assert_eq!(
///     mask_path("https://hr.example.com/people/zephyrine-canarywood/cv/").as_deref(),
///     Some("https://hr.example.com/people/*/cv/"),
/// );
/// assert_eq!(mask_path("/api/v2/users/42/orders"), None);
/// ```
pub fn mask_path(url: &str) -> Option<String> {
    map_segments(url, |seg| {
        (!is_technical_segment(seg)).then(|| MASKED_SEGMENT.to_owned())
    })
}

/// The URL with its path replaced by the route template's, when the template matches it
/// segment by segment (a literal segment equals the URL's, a parameter stands for one
/// segment); the URL as it is when the template is its very path (`/letters` for
/// `/letters`: every segment is the code's own); `None` when it does not match, so the
/// caller falls back to [`mask_path`].
///
/// ```
/// use scrub::normalize::ident::apply_route;
///
/// assert_eq!(
///     apply_route("http://hr.local:8000/people/zephyrine-canarywood/cv/", "/people/{slug}/cv/").as_deref(),
///     Some("http://hr.local:8000/people/{slug}/cv/"),
/// );
/// assert_eq!(apply_route("http://hr.local/other/x/", "/people/{slug}/cv/"), None);
/// ```
pub fn apply_route(url: &str, template: &str) -> Option<String> {
    crate::work::charge(url.len() + template.len());
    let template = template
        .split_once(' ')
        .filter(|(m, _)| METHODS.contains(m))
        .map_or(template, |(_, t)| t);
    if !template.starts_with('/') || template.contains(char::is_whitespace) {
        return None;
    }
    let path_start = match url.find("://") {
        Some(p) => p + 3 + url[p + 3..].find('/')?,
        None if url.starts_with('/') => 0,
        None => return None,
    };
    let path_end = url[path_start..]
        .find(['?', '#'])
        .map_or(url.len(), |k| path_start + k);
    let path = &url[path_start..path_end];
    let mut ts = template.split('/');
    let mut us = path.split('/');
    loop {
        match (ts.next(), us.next()) {
            (None, None) => break,
            (Some(t), Some(u)) if is_param(t) && !t.is_empty() => {
                if u.is_empty() {
                    return None;
                }
            }
            (Some(t), Some(u)) if t == u || percent_decode(u) == t => {}
            _ => return None,
        }
    }
    Some(format!(
        "{}{}{}",
        &url[..path_start],
        template,
        &url[path_end..]
    ))
}

/// Characters of an identifier token: letters, digits and the punctuation of code paths,
/// routes and templates.
fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'_' | b'.'
                | b':'
                | b'/'
                | b'{'
                | b'}'
                | b'<'
                | b'>'
                | b'('
                | b')'
                | b'['
                | b']'
                | b'#'
                | b'$'
                | b'*'
                | b'@'
                | b'+'
                | b'='
                | b','
                | b'~'
                | b'-'
                | b'%'
                | b'?'
                | b'\\'
        )
}

/// A token that is code by its shape: it has a digit, code punctuation or a camel hump.
fn is_structured(t: &str) -> bool {
    t.bytes().any(|c| {
        c.is_ascii_digit()
            || matches!(
                c,
                b'_' | b'.'
                    | b':'
                    | b'/'
                    | b'{'
                    | b'}'
                    | b'<'
                    | b'>'
                    | b'('
                    | b')'
                    | b'['
                    | b']'
                    | b'#'
                    | b'$'
                    | b'*'
                    | b'\\'
            )
    }) || camel_parts(t).len() > 1
}

/// Is this name written by code rather than holding data? Dotted module paths
/// (`app.tasks.reindex`), `snake_case` and `camelCase` identifiers, paths and route
/// templates, optionally after an HTTP method (`GET /api/{id}`). Words separated by
/// spaces pass only when every one of them is structured like code (a digit, `_`, `.`,
/// `/`, `{…}` or a camel hump): `reindex document Annual Report` and `upload doc_1 by
/// Ann` are free text. A kebab-case slug of two or more words that are not API words
/// (`zephyrine-canarywood`) is free text too. Non-ASCII text is never an identifier.
///
/// ```
/// use scrub::normalize::ident::is_identifier_shaped;
///
/// for s in ["app.tasks.reindex", "reindex_documents", "ReindexJob", "GET /api/{id}", "healthcheck"] {
///     assert!(is_identifier_shaped(s), "{s}");
/// }
/// for s in ["reindex document Annual Report", "upload doc_8c21e0 by Ann", "zephyrine-canarywood"] {
///     assert!(!is_identifier_shaped(s), "{s}");
/// }
/// ```
pub fn is_identifier_shaped(s: &str) -> bool {
    crate::work::charge(s.len().min(201));
    if s.is_empty() || s.len() > 200 {
        return false;
    }
    let tokens: Vec<&str> = s.split(' ').collect();
    if tokens.len() > 4 {
        return false;
    }
    let several = tokens.len() > 1;
    tokens.iter().enumerate().all(|(i, t)| {
        if i == 0 && several && METHODS.contains(t) {
            return true;
        }
        !t.is_empty()
            && t.bytes().all(is_ident_byte)
            && (!several || is_structured(t))
            && !is_word_slug(t)
    })
}

/// `zephyrine-canarywood`: letters joined by `-` only, two or more unknown words.
fn is_word_slug(t: &str) -> bool {
    t.contains('-')
        && t.bytes().all(|c| c.is_ascii_alphabetic() || c == b'-')
        && unknown_words(t) >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_words_are_sorted_for_binary_search() {
        assert!(
            API_WORDS.windows(2).all(|w| w[0] < w[1]),
            "API_WORDS must be sorted"
        );
        let vendor = vendor_api_words();
        assert!(
            vendor.windows(2).all(|w| w[0] < w[1]),
            "api_words.txt must be sorted and without duplicates"
        );
        assert!(vendor
            .iter()
            .all(|w| w.len() >= 3 && w.bytes().all(|b| b.is_ascii_lowercase())));
    }
}
