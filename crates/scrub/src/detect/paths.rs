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
    // POSIX prefixes are case-sensitive (the prefilter is not), and must start a path:
    // `example.com/home/index` is a URL path, not a home directory.
    if !windows {
        let exact = prefix == b"/home/" || prefix == b"/Users/";
        let prev = before(b, p);
        if !exact || is_word(prev) || matches!(prev, b'.' | b'-' | b'~') {
            return None;
        }
    }
    let mut s = p + len;
    while windows && at(b, s) == b'\\' {
        s += 1; // JSON-escaped `\\Users\\`
    }
    let scan = |allow_space: bool| {
        let mut e = s;
        while e < b.len() && e - s < 64 && !(ends_segment(b[e]) && !(allow_space && b[e] == b' ')) {
            e += 1;
        }
        e
    };
    let mut e = scan(false);
    // Windows profile folders may contain spaces (`C:\Users\Jane Doe\`); accept them only
    // when a path separator closes the segment.
    if windows {
        let wide = scan(true);
        if matches!(at(b, wide), b'\\' | b'/') {
            e = wide;
        }
    }
    (e > s).then_some((s, e))
}
