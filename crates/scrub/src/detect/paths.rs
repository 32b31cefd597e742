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
    crate::work::charge(e - p);
    // Windows profile folders may contain spaces (`C:\Users\Jane Doe\`): accept them when a
    // path separator closes the segment within a name-sized window. A window end that is
    // not a separator (possibly mid-character) is discarded.
    if windows && at(b, e) == b' ' {
        let mut wide = e;
        while wide < b.len() && wide - s < 64 && (b[wide] == b' ' || !ends_segment(b[wide])) {
            wide += 1;
        }
        crate::work::charge(wide - e);
        if matches!(at(b, wide), b'\\' | b'/') {
            e = wide;
        }
    }
    (e > s).then_some((s, e))
}

/// A file path with the user folder of a home directory that does not start the path
/// masked: `/var/home/alice/…` (Fedora Silverblue), `/usr/home/alice/…` (FreeBSD),
/// `/mnt/c/Users/alice/…` (WSL), `/tmp/home/alice/…`. The detectors only take a home
/// prefix that starts a path, since in a URL `example.com/home/index` is a page; a frame's
/// file is not a URL, so here any `home` or `Users` folder counts. The folder after it is
/// masked only when more follows (a directory, not the file itself). `None` when unchanged.
///
/// ```
/// use scrub::detect::mask_nested_home;
///
/// assert_eq!(
///     mask_nested_home("/var/home/alice/app/x.py").as_deref(),
///     Some("/var/home/[user]/app/x.py")
/// );
/// assert_eq!(mask_nested_home("/srv/app/home/views.py"), None);
/// ```
pub fn mask_nested_home(path: &str) -> Option<String> {
    crate::work::charge(path.len());
    let sep = if path.contains('/') { '/' } else { '\\' };
    let segments: Vec<&str> = path.split(sep).collect();
    let mut out: Option<Vec<&str>> = None;
    for i in 1..segments.len().saturating_sub(2) {
        let user = segments[i + 1];
        let home = matches!(segments[i], "home" | "Users" | "users");
        if home && !user.is_empty() && user != PLACEHOLDER && i + 2 < segments.len() {
            out.get_or_insert_with(|| segments.clone())[i + 1] = PLACEHOLDER;
        }
    }
    out.map(|s| s.join(&sep.to_string()))
}

/// What a home folder's user becomes (the detectors' own placeholder for it).
const PLACEHOLDER: &str = "[user]";
