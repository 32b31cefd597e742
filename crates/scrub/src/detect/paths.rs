//! User names in home-directory paths: `/home/alice/…`, `/Users/alice/…` (macOS),
//! `C:\Users\alice\…` and its JSON-escaped form `C:\\Users\\alice\\…`.
//!
//! Stack traces keep `abs_path`, and the user segment is often a person's login or real
//! name. Only that segment is replaced, so the path stays useful: `/home/[user]/app/x.py`.
//! `/root/` is not under a home prefix and is kept (it names no person).

use super::text::{at, before, is_word};

/// Ends a POSIX user segment (besides the path separators).
fn ends_segment(c: u8) -> bool {
    c.is_ascii_whitespace()
        || matches!(
            c,
            b'/' | b'\\'
                | b'"'
                | b'\''
                | b':'
                | b'*'
                | b'?'
                | b'<'
                | b'>'
                | b'|'
                | b'('
                | b')'
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b','
                | b';'
                | b'='
                | b'&'
                | b'#'
                | b'`'
        )
}

/// The user segment after the home prefix at `p` (of `len` bytes).
pub(crate) fn home_user_at(b: &[u8], p: usize, len: usize) -> Option<(usize, usize)> {
    let prefix = &b[p..p + len];
    let windows = prefix[0] == b'\\';
    // A POSIX prefix must start a path: `example.com/home/index` is a URL path, not a home
    // directory.
    let prev = before(b, p);
    if !windows && (is_word(prev) || matches!(prev, b'.' | b'-' | b'~')) {
        return None;
    }
    let mut s = p + len;
    while windows && at(b, s) == b'\\' {
        s += 1; // JSON-escaped `\\Users\\`
    }
    // No length cap on a name: a cap could cut a long one (leaking its tail) or split a
    // UTF-8 character; every terminator is ASCII, so `e` is always a char boundary.
    let mut e = s;
    while e < b.len() && !ends_segment(b[e]) {
        e += 1;
    }
    // Windows profile folders may contain spaces (`C:\Users\Jane Doe\`): accept them when a
    // path separator closes the segment within a name-sized window. A window end that is
    // not a separator (possibly mid-character) is discarded.
    if windows && at(b, e) == b' ' {
        let mut wide = e;
        while wide < b.len() && wide - s < 64 && (b[wide] == b' ' || !ends_segment(b[wide])) {
            wide += 1;
        }
        if matches!(at(b, wide), b'\\' | b'/') {
            e = wide;
        }
    }
    (e > s).then_some((s, e))
}
