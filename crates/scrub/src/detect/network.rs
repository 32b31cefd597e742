//! Network identifiers: email, IPv4/IPv6, MAC addresses and URL credentials.
//!
//! All hand-written: each validator starts at a seed byte (`@`, a digit run, `:`, `://`)
//! and walks a bounded window, so the cost per seed is small and independent of the string.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::text::{at, before, is_word, numeric_end_ok, numeric_start_ok};

/// Bytes allowed in the local part. Narrower than RFC 5322 on purpose: `=`, `/` or `'` in
/// the local part would swallow `user=` or a path segment into the match.
fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-')
}

/// Email around the `@` at `a`. The domain needs at least two labels and an alphabetic TLD
/// of 2+ letters: that is what rejects `java.lang.Object@4b1c1ea0`, `pkg@1.2.3` and
/// `user@localhost`, which are technical, not addresses.
pub(crate) fn email_at(b: &[u8], a: usize) -> Option<(usize, usize)> {
    let mut s = a;
    while s > 0 && a - s < 64 && is_local(b[s - 1]) {
        s -= 1;
    }
    while s < a && b[s] == b'.' {
        s += 1;
    }
    let mut e = a + 1;
    while e < b.len() && e - a <= 255 && is_domain(b[e]) {
        e += 1;
    }
    crate::work::charge(e - s);
    while e > a + 1 && matches!(b[e - 1], b'.' | b'-') {
        e -= 1;
    }
    // `scheme://user@host` is URL userinfo, handled by `url_credentials_at`.
    let userinfo = b[..s].ends_with(b"://");
    if s == a || e == a + 1 || is_local(before(b, s)) || before(b, s) == b'@' || userinfo {
        return None;
    }
    let domain = &b[a + 1..e];
    let mut labels = 0;
    for label in domain.split(|&c| c == b'.') {
        let bad_edge = label.first() == Some(&b'-') || label.last() == Some(&b'-');
        if label.is_empty() || label.len() > 63 || bad_edge {
            return None;
        }
        labels += 1;
    }
    let tld = domain.rsplit(|&c| c == b'.').next().unwrap_or_default();
    (labels >= 2 && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic)).then_some((s, e))
}

/// Does the text before `p` say this dotted number is a version (`==1.2.3.4`, `v`, `version`)?
fn version_context(b: &[u8], p: usize) -> bool {
    // An operator or a key is a few bytes before the number: look no further back than
    // this (past it, an address is judged an address: stricter, never looser).
    const REACH: usize = 16;
    let head = &b[p.saturating_sub(REACH)..p];
    let trimmed_len = head
        .iter()
        .rposition(|c| !matches!(c, b' ' | b':' | b'"' | b'\'' | b'='))
        .map_or(0, |i| i + 1);
    crate::work::charge(head.len() + 1);
    let word = &head[..trimmed_len];
    let ends_with =
        |w: &[u8]| word.len() >= w.len() && word[word.len() - w.len()..].eq_ignore_ascii_case(w);
    let op = head.ends_with(b"==")
        || head.ends_with(b"~=")
        || head.ends_with(b">=")
        || head.ends_with(b"<=");
    op || matches!(before(b, p), b'^' | b'~') || ends_with(b"version")
}

/// IPv4 starting at the digit run `p`: exactly four dotted octets, parsed by `std::net`
/// (so each octet is <= 255), not part of a longer dotted run (`1.2.3.4.5` is a version).
pub(crate) fn ipv4_at(b: &[u8], p: usize) -> Option<(usize, usize)> {
    if !numeric_start_ok(b, p) || before(b, p) == b'.' {
        return None;
    }
    let mut e = p;
    for octet in 0..4 {
        let n = super::text::digits_upto(b, e, 4);
        if n == 0 || n > 3 {
            return None;
        }
        e += n;
        if octet < 3 {
            if at(b, e) != b'.' {
                return None;
            }
            e += 1;
        }
    }
    // A port (`:9000`) may follow an address; another dotted number may not.
    if !numeric_end_ok(b, e, b".-") || version_context(b, p) {
        return None;
    }
    let s = std::str::from_utf8(&b[p..e]).ok()?;
    let ip = s.parse::<Ipv4Addr>().ok()?;
    (!technical_v4(ip)).then_some((p, e))
}

/// Loopback, private (RFC 1918), link-local, shared (CGNAT) and unspecified addresses name
/// a machine inside the deployment (`http://127.0.0.1:8000/`, a database at `10.0.3.7`),
/// not a person: they are technical and stay.
fn technical_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || (a == 100 && (64..128).contains(&b))
}

/// The IPv6 counterparts: loopback `::1`, unspecified `::`, unique-local `fc00::/7`,
/// link-local `fe80::/10`, and IPv4-mapped technical addresses.
fn technical_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || ip.to_ipv4_mapped().is_some_and(technical_v4)
}

fn is_v6(c: u8) -> bool {
    c.is_ascii_hexdigit() || c == b':' || c == b'.'
}

/// IPv6 around the `:` at `c`, parsed by `std::net`. Needs two or more colons and a digit:
/// `12:34:56` (a time) does not parse, and `a::b`-style code paths have no digit or are glued
/// to identifier letters (`Vec::new`), so they are not flagged.
pub(crate) fn ipv6_at(b: &[u8], c: usize) -> Option<(usize, usize)> {
    if before(b, c) == b':' {
        return None; // the previous colon already tried this token
    }
    let mut s = c;
    while s > 0 && c - s < 4 && b[s - 1].is_ascii_hexdigit() {
        s -= 1;
    }
    let mut e = c;
    while e < b.len() && e - s < 45 && is_v6(b[e]) {
        e += 1;
    }
    crate::work::charge(e - s);
    while e > c && b[e - 1] == b'.' {
        e -= 1;
    }
    let tok = &b[s..e];
    let colons = tok.iter().filter(|&&x| x == b':').count();
    let glued = is_word(before(b, s)) || matches!(before(b, s), b':' | b'.') || is_word(at(b, e));
    if colons < 2 || glued || !tok.iter().any(u8::is_ascii_digit) {
        return None;
    }
    let txt = std::str::from_utf8(tok).ok()?;
    let ip = txt.parse::<Ipv6Addr>().ok()?;
    (!technical_v6(ip)).then_some((s, e))
}

/// MAC address `aa:bb:cc:dd:ee:ff` or `aa-bb-…` whose first separator is at `sep`. Six pairs
/// with one consistent separator; times (`12:34:56`) have too few groups.
pub(crate) fn mac_at(b: &[u8], sep: usize) -> Option<(usize, usize)> {
    let s = sep.checked_sub(2)?;
    let e = s + 17;
    crate::work::charge(17);
    let d = b[sep];
    if e > b.len() || is_word(before(b, s)) || matches!(before(b, s), b':' | b'-' | b'.') {
        return None;
    }
    let ok = (0..17).all(|i| {
        let x = b[s + i];
        if i % 3 == 2 {
            x == d
        } else {
            x.is_ascii_hexdigit()
        }
    });
    let tail = at(b, e);
    (ok && !is_word(tail) && !(tail == d && at(b, e + 1).is_ascii_hexdigit())).then_some((s, e))
}

/// Account names that identify a service, not a person (`ssh://git@github.com/…`).
const TECHNICAL_USERS: &[&[u8]] = &[b"git", b"hg", b"svn", b"ssh", b"ftp", b"anonymous"];

/// `scheme://user:password@host`: the userinfo at `p` + 3 (`p` = position of `://`). A bare
/// user (`https://alice@host`) is a person's name or a token as often as not, so it is
/// removed too, bar well-known technical accounts.
pub(crate) fn url_credentials_at(b: &[u8], p: usize) -> Option<(usize, usize)> {
    let s = p + 3;
    let mut e = s;
    while e < b.len() && e - s < 512 {
        match b[e] {
            b'@' => break,
            b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'[' | b']' => return None,
            c if c.is_ascii_whitespace() => return None,
            _ => e += 1,
        }
    }
    crate::work::charge(e - s + 1);
    let info = &b[s..e];
    let technical = TECHNICAL_USERS.iter().any(|u| u.eq_ignore_ascii_case(info));
    let empty = info.is_empty() || info == b":";
    let host_ok = is_domain(at(b, e + 1)) || at(b, e + 1) == b'[';
    (at(b, e) == b'@' && !empty && !technical && host_ok).then_some((s, e))
}
