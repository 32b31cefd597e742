//! Byte-level helpers shared by the validators.
//!
//! Validators work on `&[u8]` of a `&str`: every range they return starts and ends next to
//! an ASCII byte (or the ends of the text), so it is always a char boundary.

/// ASCII letter, digit or `_`: a byte that continues an identifier or a hex token.
pub(crate) fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Byte at `i`, or 0 past either end (0 is in no character class we test).
pub(crate) fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// Byte before `i`, or 0 at the start.
pub(crate) fn before(b: &[u8], i: usize) -> u8 {
    if i == 0 {
        0
    } else {
        b[i - 1]
    }
}

/// Number of consecutive ASCII digits starting at `i` (the prefilter's walk over a run).
pub(crate) fn digits_from(b: &[u8], i: usize) -> usize {
    digits_upto(b, i, usize::MAX)
}

/// Number of consecutive ASCII digits starting at `i`, counting at most `max`: validators
/// need to know whether a run is longer than what they accept, never by how much, so a
/// long run costs each of them `max` bytes, not its length.
pub(crate) fn digits_upto(b: &[u8], i: usize, max: usize) -> usize {
    let n = b.get(i..).map_or(0, |s| {
        s.iter()
            .take(max)
            .take_while(|c| c.is_ascii_digit())
            .count()
    });
    crate::work::charge(n + 1);
    n
}

/// Can a numeric token start at `p`? Not when glued to a word (`v1`, `0x…`, hex hashes) and
/// not when it continues a longer numeric token through a joiner (`2026-11-23`, `1.2.3.4.5`).
pub(crate) fn numeric_start_ok(b: &[u8], p: usize) -> bool {
    let prev = before(b, p);
    if is_word(prev) {
        return false;
    }
    // `.`/`-` join hex too (UUID segments, `1.2.3`); `:`/`/` join only digits, so `ip:10.0.0.1`
    // and `tel:+33…` still start a token while `12:30` and `11/23` do not.
    let p2 = if p >= 2 { b[p - 2] } else { 0 };
    match prev {
        b'.' | b',' | b'-' | b'+' => !p2.is_ascii_alphanumeric(),
        b':' | b'/' => !p2.is_ascii_digit(),
        _ => true,
    }
}

/// Can a numeric token end at `e`? Not when glued to a word, nor when a joiner from `joiners`
/// followed by a digit continues it (`1.2.3.4` must not end a `1.2.3.4.5` version).
pub(crate) fn numeric_end_ok(b: &[u8], e: usize, joiners: &[u8]) -> bool {
    let next = at(b, e);
    if is_word(next) {
        return false;
    }
    !(joiners.contains(&next) && at(b, e + 1).is_ascii_alphanumeric())
}

/// Joiners that continue a number: `.`, `,`, `-`, `:`, `/`.
pub(crate) const NUMERIC_JOINERS: &[u8] = b".,-:/";
