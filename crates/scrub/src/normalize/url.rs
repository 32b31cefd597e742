//! URL normalisation for request URLs, breadcrumbs and HTTP span descriptions.
//!
//! The endpoint an application called is technical data; the query string,
//! the fragment and the `user:password@` part are where values travel
//! (`?q=<what the user searched>&token=…`). [`scrub_url`] keeps scheme, host,
//! port and path and drops the rest; [`map_segments`] then lets the caller run
//! the PII detectors on each path segment (`/users/alice%40example.com/`).

use std::borrow::Cow;
use std::ops::Range;

use memchr::{memchr, memchr2, memchr3, memrchr};

use super::{is_ascii_ws, Rewriter};

/// Where the parts of a URL reference are, as byte offsets.
struct Layout {
    /// Userinfo including its trailing `@`, when there is an authority with one.
    userinfo: Option<Range<usize>>,
    /// The path; for references without `scheme://` or `//`, everything before the query.
    path: Range<usize>,
}

/// Splits a URL reference (absolute, scheme-relative `//host/…`, or relative)
/// without validating it: the scanner only looks for the delimiters that
/// matter for scrubbing.
///
/// Only `scheme://` counts as a scheme: `Api::UsersController#show` (a Rails
/// transaction name) is not a URI with scheme `Api`. In a reference without an
/// authority, `#` starts a fragment only if the reference starts with `/` or
/// `.`, so Ruby's `Class#method` names survive.
fn layout(url: &str) -> Layout {
    crate::work::charge(url.len());
    let b = url.as_bytes();
    let n = b.len();
    let mut pos = match scheme_len(b) {
        Some(colon) if b[colon + 1..].starts_with(b"//") => colon + 1,
        _ => 0,
    };
    let mut userinfo = None;
    let fragment_counts = if b[pos..].starts_with(b"//") {
        let auth = pos + 2;
        let auth_end = memchr3(b'/', b'?', b'#', &b[auth..]).map_or(n, |k| auth + k);
        if let Some(at) = memrchr(b'@', &b[auth..auth_end]) {
            userinfo = Some(auth..auth + at + 1);
        }
        pos = auth_end;
        true
    } else {
        matches!(b.first(), Some(b'/' | b'.'))
    };
    let path_end = if fragment_counts {
        memchr2(b'?', b'#', &b[pos..])
    } else {
        memchr(b'?', &b[pos..])
    }
    .map_or(n, |k| pos + k);
    Layout {
        userinfo,
        path: pos..path_end,
    }
}

/// Index of the `:` ending a URI scheme (`[A-Za-z][A-Za-z0-9+.-]*:`), if any.
fn scheme_len(b: &[u8]) -> Option<usize> {
    if !b.first()?.is_ascii_alphabetic() {
        return None;
    }
    let len = b
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))?;
    (b[len] == b':').then_some(len)
}

/// Whether `s` can be a URL reference at all: non-empty, no whitespace or
/// control characters. Anything else is left to the detectors.
fn looks_like_url(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(|c| is_ascii_ws(c) || c.is_ascii_control())
}

/// Drops userinfo, query string and fragment from a URL; `None` if nothing changed.
///
/// Why: the request URL and the URLs in breadcrumbs and spans are kept to show
/// which endpoint was called, but query strings carry search terms, tokens and
/// identifiers, fragments carry OAuth tokens (`#access_token=…`), and
/// `user:pass@` carries credentials. Scheme, host, port and path are kept;
/// the caller still runs the detectors on the path (see [`map_segments`]).
///
/// Accepts absolute URLs (`https://…`, IPv6 hosts `http://[::1]:8080/`),
/// scheme-relative ones (`//cdn.example.com/x`) and relative references
/// (`/api/search?q=…`). A string with whitespace or control characters is not
/// a URL: it is returned unchanged (`None`) for the detectors to handle.
///
/// Because this also runs on transaction names, only `scheme://` is read as a
/// scheme and, without an authority, `#` is a fragment only when the reference
/// starts with `/` or `.`: `Api::UsersController#show` is unchanged, while
/// `/app#access_token=…` loses its fragment. A query (`?…`) is always dropped.
///
/// ```
/// use scrub::normalize::url::scrub_url;
///
/// assert_eq!(
///     scrub_url("https://bob:hunter2@api.example.com:8443/v1/search?q=CANARY#top").as_deref(),
///     Some("https://api.example.com:8443/v1/search"),
/// );
/// assert_eq!(scrub_url("https://api.example.com/v1/search"), None);
/// ```
pub fn scrub_url(url: &str) -> Option<String> {
    if !looks_like_url(url) {
        return None;
    }
    let Layout { userinfo, path } = layout(url);
    if userinfo.is_none() && path.end == url.len() {
        return None;
    }
    let mut out = String::with_capacity(path.end);
    match userinfo {
        Some(info) => {
            out.push_str(url.get(..info.start).unwrap_or_default());
            out.push_str(url.get(info.end..path.end).unwrap_or_default());
        }
        None => out.push_str(url.get(..path.end).unwrap_or_default()),
    }
    Some(out)
}

/// Applies [`scrub_url`] to an HTTP span description (`GET https://…?q=…`);
/// `None` if nothing changed.
///
/// Why: Sentry SDKs describe `http.client` spans and `http` breadcrumbs as
/// `METHOD URL`, so the query string sits inside free text. A leading method
/// (1 to 16 uppercase ASCII letters followed by a space) is kept, the first
/// whitespace-delimited token after it is scrubbed as a URL, and anything after
/// that token (`HTTP/1.1`, a status) is kept as is, unless the token was only
/// a query (`GET ?q=…`), in which case everything after the method goes. A
/// description without a method is scrubbed as a URL if it is a single token.
///
/// ```
/// use scrub::normalize::url::scrub_http_description;
///
/// assert_eq!(
///     scrub_http_description("GET https://api.example.com/v1/search?q=CANARY&token=abc").as_deref(),
///     Some("GET https://api.example.com/v1/search"),
/// );
/// ```
pub fn scrub_http_description(desc: &str) -> Option<String> {
    crate::work::charge(desc.len());
    let b = desc.as_bytes();
    let Some(space) = memchr(b' ', b) else {
        return scrub_url(desc);
    };
    let method = &b[..space];
    if method.is_empty() || method.len() > 16 || !method.iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    let mut start = space;
    while start < b.len() && b[start] == b' ' {
        start += 1;
    }
    let end = b[start..]
        .iter()
        .position(|&c| is_ascii_ws(c))
        .map_or(b.len(), |k| start + k);
    let scrubbed = scrub_url(desc.get(start..end)?)?;
    if scrubbed.is_empty() {
        // The token was only a query or fragment (`GET ?q=… ?more`): what
        // follows is not a URL's tail either, drop it all (fail closed).
        return Some(desc.get(..start)?.to_owned());
    }
    let mut out = String::with_capacity(desc.len());
    out.push_str(desc.get(..start)?);
    out.push_str(&scrubbed);
    out.push_str(desc.get(end..)?);
    Some(out)
}

/// Runs `f` on every non-empty path segment, percent-decoded, and rebuilds the
/// URL only if `f` changed one; `None` if nothing changed.
///
/// Why: identifiers and e-mails often sit in the path
/// (`/users/alice%40example.com/orders`), where a detector working on the
/// encoded string would miss them and a detector working on the whole URL
/// would see `/` as part of a token. Each segment is decoded first (so the
/// callback sees `alice@example.com`); `f` returns `Some(replacement)` to
/// change a segment (a replacement equal to the decoded segment counts as no
/// change), `None` to keep it. Unchanged segments keep their original
/// encoding; replacements are written unencoded (placeholders such as
/// `[email]` read best that way) except for `%`, `/`, `?`, `#`, whitespace and
/// control characters, which are percent-encoded so the URL keeps its structure.
///
/// Works on whole URLs (the authority, query and fragment are not passed to
/// `f` and are left as they are, so call [`scrub_url`] first) and on bare
/// paths. Without `scheme://` or `//`, everything before the query is the
/// path (`mailto:alice@example.com` is one segment).
///
/// ```
/// use scrub::normalize::url::map_segments;
///
/// let out = map_segments("https://shop.example.com/users/alice%40example.com/orders", |seg| {
///     seg.contains('@').then(|| "[email]".to_owned())
/// });
/// assert_eq!(out.as_deref(), Some("https://shop.example.com/users/[email]/orders"));
/// ```
pub fn map_segments<F>(url: &str, mut f: F) -> Option<String>
where
    F: FnMut(&str) -> Option<String>,
{
    let path = layout(url).path;
    let b = url.as_bytes();
    let mut w = Rewriter::new(url);
    let mut start = path.start;
    while start <= path.end {
        let end = memchr(b'/', &b[start..path.end]).map_or(path.end, |k| start + k);
        if end > start {
            let segment = url.get(start..end).unwrap_or_default();
            let decoded = percent_decode(segment);
            if let Some(new) = f(&decoded) {
                if new != *decoded {
                    w.replace(start, end, &encode_segment(&new));
                }
            }
        }
        start = end + 1;
    }
    w.finish()
}

/// Decodes `%XX` escapes; `Cow::Borrowed` when there is none.
///
/// Why: detectors must see what a person would read (`alice@example.com`), not
/// the wire form (`alice%40example.com`). Invalid escapes are kept literally;
/// decoded bytes that are not UTF-8 become U+FFFD. `+` is not decoded (it only
/// means space in form-encoded query strings, which are dropped anyway).
///
/// ```
/// use scrub::normalize::url::percent_decode;
///
/// assert_eq!(percent_decode("alice%40example.com"), "alice@example.com");
/// assert_eq!(percent_decode("100%"), "100%");
/// ```
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    crate::work::charge(s.len());
    let b = s.as_bytes();
    let Some(first) = memchr(b'%', b) else {
        return Cow::Borrowed(s);
    };
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..first]);
    let mut i = first;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|&c| hex_val(c)),
                b.get(i + 2).and_then(|&c| hex_val(c)),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes the bytes that would change a URL's structure.
fn encode_segment(s: &str) -> Cow<'_, str> {
    let needs = |c: u8| matches!(c, b'%' | b'/' | b'?' | b'#') || c <= b' ' || c == 0x7f;
    if !s.bytes().any(needs) {
        return Cow::Borrowed(s);
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match u8::try_from(ch) {
            Ok(c) if needs(c) => {
                out.push('%');
                out.push(char::from(HEX[usize::from(c >> 4)]));
                out.push(char::from(HEX[usize::from(c & 0xf)]));
            }
            _ => out.push(ch),
        }
    }
    Cow::Owned(out)
}
