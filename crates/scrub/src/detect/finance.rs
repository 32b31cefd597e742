//! Payment cards and IBANs.
//!
//! Both carry a checksum, and we require it: a 16-digit run in a technical string is far more
//! often an id than a card, and only ~1 in 10 random runs passes Luhn (1 in 97 for IBAN's
//! mod-97). Cards additionally need a known issuer prefix (IIN) with a length that issuer
//! uses, which is what keeps unix-ms timestamps (`17…`) and nanosecond clocks out.

use super::text::{at, before, digits_upto, is_word, numeric_end_ok, numeric_start_ok};

/// Most digits in a card number (ISO/IEC 7812).
const MAX_CARD: usize = 19;

/// Card number starting at the digit run `p`: 13–19 digits, optionally in groups separated
/// by one consistent space or dash, not glued to a longer number.
pub(crate) fn card_at(b: &[u8], p: usize) -> Option<(usize, usize)> {
    if !numeric_start_ok(b, p) {
        return None;
    }
    let mut digits = [0u8; MAX_CARD];
    let mut n = 0;
    let mut ends = [(0usize, 0usize); 8]; // (byte end, digit count) at each group end
    let mut groups = 0;
    let mut sep = None;
    let mut i = p;
    loop {
        // One digit more than fits is enough to stop.
        let g = digits_upto(b, i, MAX_CARD + 1 - n);
        if n + g > MAX_CARD || (groups == 1 && ends[0].1 < 4) {
            break;
        }
        digits[n..n + g].copy_from_slice(&b[i..i + g]);
        n += g;
        i += g;
        ends[groups] = (i, n);
        groups += 1;
        let c = at(b, i);
        let sep_ok = matches!(c, b' ' | b'-') && sep.is_none_or(|s| s == c);
        if groups == ends.len() || !sep_ok || !at(b, i + 1).is_ascii_digit() {
            break;
        }
        sep = Some(c);
        i += 1;
    }
    ends[..groups].iter().rev().find_map(|&(end, count)| {
        let d = &digits[..count];
        let ok = (13..=MAX_CARD).contains(&count)
            && numeric_end_ok(b, end, b".,-")
            && iin_ok(d)
            && luhn(d);
        ok.then_some((p, end))
    })
}

/// Luhn mod-10 over ASCII digits.
fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &c)| {
            let v = u32::from(c - b'0');
            match i % 2 {
                1 if v * 2 > 9 => v * 2 - 9,
                1 => v * 2,
                _ => v,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Issuer prefixes and the lengths each issuer uses.
fn iin_ok(d: &[u8]) -> bool {
    let pre = |k: usize| {
        d[..k]
            .iter()
            .fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'))
    };
    let len = d.len();
    let (p1, p2, p3, p4) = (pre(1), pre(2), pre(3), pre(4));
    let visa = p1 == 4 && matches!(len, 13 | 16 | 19);
    let mastercard = ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16;
    let amex = matches!(p2, 34 | 37) && len == 15;
    let long = (16..=19).contains(&len);
    let discover = (p4 == 6011 || p2 == 65 || (644..=649).contains(&p3)) && long;
    let unionpay = p2 == 62 && long;
    let jcb = (3528..=3589).contains(&p4) && long;
    let mir = (2200..=2204).contains(&p4) && long;
    let diners = ((300..=305).contains(&p3) || matches!(p2, 36 | 38 | 39)) && len >= 14;
    let maestro = matches!(p4, 5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761..=6763);
    visa || mastercard || amex || discover || unionpay || jcb || mir || diners || maestro
}

/// IBAN lengths per country (SWIFT IBAN registry). The length check rejects most random
/// letter-digit tokens before the checksum is even computed.
#[rustfmt::skip]
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24), (b"AE", 23), (b"AL", 28), (b"AT", 20), (b"AZ", 28), (b"BA", 20),
    (b"BE", 16), (b"BG", 22), (b"BH", 22), (b"BR", 29), (b"BY", 28), (b"CH", 21),
    (b"CR", 22), (b"CY", 28), (b"CZ", 24), (b"DE", 22), (b"DK", 18), (b"DO", 28),
    (b"EE", 20), (b"EG", 29), (b"ES", 24), (b"FI", 18), (b"FO", 18), (b"FR", 27),
    (b"GB", 22), (b"GE", 22), (b"GI", 23), (b"GL", 18), (b"GR", 27), (b"GT", 28),
    (b"HR", 21), (b"HU", 28), (b"IE", 22), (b"IL", 23), (b"IQ", 23), (b"IS", 26),
    (b"IT", 27), (b"JO", 30), (b"KW", 30), (b"KZ", 20), (b"LB", 28), (b"LC", 32),
    (b"LI", 21), (b"LT", 20), (b"LU", 20), (b"LV", 21), (b"LY", 25), (b"MC", 27),
    (b"MD", 24), (b"ME", 22), (b"MK", 19), (b"MR", 27), (b"MT", 31), (b"MU", 30),
    (b"NL", 18), (b"NO", 15), (b"PK", 24), (b"PL", 28), (b"PS", 29), (b"PT", 25),
    (b"QA", 29), (b"RO", 24), (b"RS", 22), (b"SA", 24), (b"SC", 31), (b"SE", 24),
    (b"SI", 19), (b"SK", 24), (b"SM", 27), (b"ST", 25), (b"SV", 28), (b"TL", 23),
    (b"TN", 24), (b"TR", 26), (b"UA", 29), (b"VA", 22), (b"VG", 24), (b"XK", 20),
];

/// IBAN whose check digits start the digit run `p` (the country code is just before it),
/// compact or printed in groups of four.
pub(crate) fn iban_at(b: &[u8], p: usize) -> Option<(usize, usize)> {
    let s = p.checked_sub(2)?;
    let cc = [b[s], b[s + 1]];
    if !cc.iter().all(u8::is_ascii_uppercase) || is_word(before(b, s)) || digits_upto(b, p, 2) < 2 {
        return None;
    }
    let len = IBAN_LENGTHS.iter().find(|(c, _)| **c == cc)?.1;
    let mut chars = [0u8; 34];
    let (mut n, mut i) = (0, s);
    while n < len {
        let c = at(b, i);
        if c == b' ' && n % 4 == 0 && n > 0 && i > s && b[i - 1] != b' ' {
            i += 1;
            continue;
        }
        if !(c.is_ascii_digit() || c.is_ascii_uppercase()) {
            return None;
        }
        chars[n] = c;
        n += 1;
        i += 1;
    }
    crate::work::charge(i - s);
    if is_word(at(b, i)) {
        return None;
    }
    // ISO 13616: move the first four characters to the end, letters count as 10..35.
    let rem = chars[4..len]
        .iter()
        .chain(&chars[..4])
        .fold(0u32, |r, &c| match c {
            b'0'..=b'9' => (r * 10 + u32::from(c - b'0')) % 97,
            _ => (r * 100 + u32::from(c - b'A') + 10) % 97,
        });
    (rem == 1).then_some((s, i))
}
