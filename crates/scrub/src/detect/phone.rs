//! Phone numbers: international (`+33 6 12 34 56 78`, `+1 (415) 555-2671`, `0033612345678`)
//! and European national formats (`06 12 34 56 78`, `030 1234567`, `07911 123456`).
//!
//! Technical strings are full of digit runs, so a phone needs positive evidence: a leading
//! `+`/`00` (international) or a trunk `0` followed by a non-zero digit (national), a
//! plausible digit count (E.164 caps at 15), and a separator pattern that dates, times,
//! versions, decimals and hex tokens do not have (see the rules on [`phone_at`]).

use super::text::{at, digits_upto, numeric_end_ok, numeric_start_ok, NUMERIC_JOINERS};

/// Separators between digit groups.
fn is_sep(c: u8) -> bool {
    matches!(c, b' ' | b'.' | b'-' | b'/')
}

/// Phone number starting at `p` (a `+` or the start of a digit run).
///
/// - International (`+` or `00`, then a non-zero country-code digit): 8–15 digits after the
///   prefix (9–13 for `00`, whose shorter forms are common zero-padded ids), at most 7 groups;
///   separators may mix, and parentheses are allowed (`+1 (415) 555-2671`, `+49 (0)30 …`).
/// - National (`0` then a non-zero digit): 9–12 digits, at most 6 groups of 2+ digits, one
///   consistent separator. That rejects `05.11.2023` (8 digits), `0.123456789` (a 1-digit
///   group) and `2026-01-05 09:03` (the separator changes and the count stays low).
/// - Either way, the number must not be glued to letters or continue as a longer number, so
///   `0x7f…`, hex hashes and UUID segments never qualify.
pub(crate) fn phone_at(b: &[u8], p: usize) -> Option<(usize, usize)> {
    if !numeric_start_ok(b, p) {
        return None;
    }
    let nonzero = |c: u8| (b'1'..=b'9').contains(&c);
    let (intl, prefix) = match (b[p], at(b, p + 1)) {
        (b'+', _) => (true, 1),
        (b'0', b'0') => (true, 2),
        (b'0', c) if nonzero(c) => (false, 0),
        _ => return None,
    };
    if intl && !nonzero(at(b, p + prefix)) {
        return None;
    }
    let (mut i, mut digits, mut groups, mut min_group) = (p + prefix, 0, 0, usize::MAX);
    let (mut sep, mut open) = (None, false);
    loop {
        // One digit past the maximum is enough to refuse.
        let g = digits_upto(b, i, 16 - digits);
        digits += g;
        groups += 1;
        min_group = min_group.min(g);
        i += g;
        if digits > 15 {
            return None;
        }
        let mut j = i;
        if intl {
            if open && at(b, j) == b')' {
                open = false;
                j += 1;
            }
            if is_sep(at(b, j)) {
                j += 1;
            }
            if !open && at(b, j) == b'(' {
                open = true;
                j += 1;
            }
        } else if is_sep(at(b, j)) && sep.is_none_or(|s| s == at(b, j)) {
            sep = Some(at(b, j));
            j += 1;
        }
        if j == i || !at(b, j).is_ascii_digit() {
            break;
        }
        i = j;
    }
    let valid = match (intl, prefix) {
        (true, 1) => (8..=15).contains(&digits) && groups <= 7,
        (true, _) => (9..=13).contains(&digits) && groups <= 7,
        _ => (9..=12).contains(&digits) && groups <= 6 && (groups == 1 || min_group >= 2),
    };
    (valid && !open && numeric_end_ok(b, i, NUMERIC_JOINERS)).then_some((p, i))
}
