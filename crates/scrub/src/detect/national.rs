//! European national identifiers, each validated by its official check digits.
//!
//! Trade-off for bare-digit identifiers: a Dutch BSN is any 9-digit number passing the
//! 11-proof (about 1 in 11 random numbers), a German Steuer-ID any 11-digit number passing
//! ISO 7064 MOD 11,10 plus its digit-frequency rule, a Belgian national number any 11 digits
//! whose last two are a mod-97 key. We accept them with the checksum *and* strict digit
//! boundaries (not glued to letters, not part of a longer or dotted/dashed number), and no
//! keyword context. This over-redacts some standalone 9/11-digit numbers (row counts,
//! nanosecond durations) in exchange for never leaking an identifier written without a
//! label; the cost is readability, never data. French NIR (15 characters, mod-97 key),
//! Spanish DNI/NIE (control letter) and Italian codice fiscale (16 characters, control letter)
//! have enough structure that false positives are rare.

use super::text::{
    at, before, digits_upto, is_word, numeric_end_ok, numeric_start_ok, NUMERIC_JOINERS,
};

/// A national identifier starting with the digit run at `p` (a free-standing number).
pub(crate) fn national_at(b: &[u8], p: usize) -> Option<(usize, usize)> {
    crate::work::charge(16);
    nir(b, p)
        .or_else(|| belgian_formatted(b, p))
        .or_else(|| bare(b, p, 11, |d| steuer_id(d) || belgian(d)))
        .or_else(|| bare(b, p, 9, bsn))
        .or_else(|| dni(b, p))
}

/// A national identifier whose digit run at `p` follows upper-case letters (NIE, codice
/// fiscale).
pub(crate) fn lettered_at(b: &[u8], p: usize) -> Option<(usize, usize)> {
    crate::work::charge(16);
    nie(b, p).or_else(|| codice_fiscale(b, p))
}

fn num(d: &[u8]) -> u64 {
    d.iter().fold(0, |a, &c| a * 10 + u64::from(c - b'0'))
}

/// Exactly `len` digits at `p`, bounded, accepted by `check`.
fn bare(b: &[u8], p: usize, len: usize, check: fn(&[u8]) -> bool) -> Option<(usize, usize)> {
    let e = p + len;
    let bounded = digits_upto(b, p, len + 1) == len
        && numeric_start_ok(b, p)
        && numeric_end_ok(b, e, NUMERIC_JOINERS);
    (bounded && check(&b[p..e])).then_some((p, e))
}

/// French NIR / numéro de sécurité sociale: `S YY MM DD CCC OOO KK`, spaces optional, the
/// department may be Corsican `2A`/`2B`. Key = 97 − (first 13 digits mod 97), with 2A read
/// as 19 and 2B as 18.
fn nir(b: &[u8], p: usize) -> Option<(usize, usize)> {
    if !matches!(b[p], b'1'..=b'4' | b'7' | b'8') || !numeric_start_ok(b, p) {
        return None;
    }
    let mut d = [0u8; 15];
    let (mut n, mut i) = (0, p);
    for (gi, g) in [1, 2, 2, 2, 3, 3, 2].into_iter().enumerate() {
        if gi > 0 && at(b, i) == b' ' {
            i += 1;
        }
        for k in 0..g {
            let c = at(b, i);
            let corsica = gi == 3 && k == 1 && d[5] == b'2' && matches!(c, b'A' | b'B');
            if !c.is_ascii_digit() && !corsica {
                return None;
            }
            d[n] = c;
            n += 1;
            i += 1;
        }
    }
    if !numeric_end_ok(b, i, NUMERIC_JOINERS) {
        return None;
    }
    let month = num(&d[3..5]);
    let month_ok = matches!(month, 1..=12 | 20..=42 | 50..=99);
    match d[6] {
        b'A' => (d[5], d[6]) = (b'1', b'9'),
        b'B' => (d[5], d[6]) = (b'1', b'8'),
        _ => {}
    }
    let key = num(&d[13..15]);
    (month_ok && key == 97 - num(&d[..13]) % 97).then_some((p, i))
}

/// German Steuer-ID: first digit not 0; in the first ten digits exactly one digit appears
/// two or three times (never three in a row) and the others at most once; the last digit is
/// the ISO 7064 MOD 11,10 check.
fn steuer_id(d: &[u8]) -> bool {
    if d[0] == b'0' {
        return false;
    }
    let mut counts = [0u8; 10];
    d[..10]
        .iter()
        .for_each(|&c| counts[usize::from(c - b'0')] += 1);
    let repeated = counts.iter().filter(|&&c| c >= 2).count();
    let max = counts.iter().copied().max().unwrap_or(0);
    let triple_run = d[..10].windows(3).any(|w| w[0] == w[1] && w[1] == w[2]);
    if repeated != 1 || max > 3 || triple_run {
        return false;
    }
    let mut product = 10;
    for &c in &d[..10] {
        let sum = match (u32::from(c - b'0') + product) % 10 {
            0 => 10,
            s => s,
        };
        product = (sum * 2) % 11;
    }
    let check = (11 - product) % 10;
    check == u32::from(d[10] - b'0')
}

/// Belgian national number (11 digits): `YYMMDD` + serial + 2-digit key = 97 − (first nine
/// digits mod 97), or with a leading `2` prefixed for people born from 2000.
fn belgian(d: &[u8]) -> bool {
    let (month, day) = (num(&d[2..4]), num(&d[4..6]));
    if !matches!(month, 0..=12 | 20..=32 | 40..=52) || day > 31 {
        return false;
    }
    let (base, key) = (num(&d[..9]), num(&d[9..11]));
    key == 97 - base % 97 || key == 97 - (2_000_000_000 + base) % 97
}

/// Belgian national number as printed: `YY.MM.DD-NNN.CC`.
fn belgian_formatted(b: &[u8], p: usize) -> Option<(usize, usize)> {
    let e = p + 15;
    let shape = b.get(p..e)?.iter().enumerate().all(|(i, &c)| match i {
        2 | 5 | 12 => c == b'.',
        8 => c == b'-',
        _ => c.is_ascii_digit(),
    });
    if !shape || !numeric_start_ok(b, p) || !numeric_end_ok(b, e, NUMERIC_JOINERS) {
        return None;
    }
    let mut d = [0u8; 11];
    let digits = b[p..e].iter().filter(|c| c.is_ascii_digit());
    d.iter_mut().zip(digits).for_each(|(o, &c)| *o = c);
    belgian(&d).then_some((p, e))
}

/// Dutch BSN: 9 digits, 11-proof `9a + 8b + … + 2h − i ≡ 0 (mod 11)`.
fn bsn(d: &[u8]) -> bool {
    let sum: i64 = d
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let w = if i == 8 { -1 } else { 9 - i as i64 };
            w * i64::from(c - b'0')
        })
        .sum();
    sum != 0 && sum % 11 == 0
}

const DNI_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// The control letter after `digits` at `e` (optionally after a dash), if it checks `n`.
fn control_letter(b: &[u8], e: usize, n: u64) -> Option<usize> {
    let e = if at(b, e) == b'-' { e + 1 } else { e };
    let ok = at(b, e) == DNI_LETTERS[(n % 23) as usize] && !is_word(at(b, e + 1));
    ok.then_some(e + 1)
}

/// Spanish DNI: 8 digits and the letter `TRWAGMYFPDXBNJZSQVHLCKE[n mod 23]`.
fn dni(b: &[u8], p: usize) -> Option<(usize, usize)> {
    if digits_upto(b, p, 9) != 8 || !numeric_start_ok(b, p) {
        return None;
    }
    control_letter(b, p + 8, num(&b[p..p + 8])).map(|e| (p, e))
}

/// Spanish NIE: `X`/`Y`/`Z` (read as 0/1/2), 7 digits, control letter as for the DNI.
fn nie(b: &[u8], p: usize) -> Option<(usize, usize)> {
    let s = p.checked_sub(1)?;
    let lead = match b[s] {
        b'X' => 0,
        b'Y' => 1,
        b'Z' => 2,
        _ => return None,
    };
    if digits_upto(b, p, 8) != 7 || is_word(before(b, s)) {
        return None;
    }
    control_letter(b, p + 7, lead * 10_000_000 + num(&b[p..p + 7])).map(|e| (s, e))
}

/// Italian codice fiscale: `LLLLLL DD L DD L DDD L` (16 characters, upper case), where any
/// digit may be replaced by an omocodia letter, and the last letter is a check over the
/// other fifteen. Seeded at the word's first digit run.
fn codice_fiscale(b: &[u8], p: usize) -> Option<(usize, usize)> {
    let mut s = p;
    while s > 0 && p - s < 9 && b[s - 1].is_ascii_uppercase() {
        s -= 1;
    }
    let e = s + 16;
    let w = b.get(s..e)?;
    if is_word(before(b, s)) || is_word(at(b, e)) {
        return None;
    }
    const OMOCODIA: &[u8] = b"LMNPQRSTUV";
    let shape = w.iter().enumerate().all(|(i, &c)| match i {
        6 | 7 | 9 | 10 | 12..=14 => c.is_ascii_digit() || OMOCODIA.contains(&c),
        _ => c.is_ascii_uppercase(),
    });
    if !shape {
        return None;
    }
    // Odd positions (1st, 3rd, …) map through this table; even positions use the plain
    // value (digit value, or A=0 … Z=25). Digits share the values of A…J.
    const ODD: [u32; 26] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23,
    ];
    let sum: u32 = w[..15]
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let v = if c.is_ascii_digit() {
                c - b'0'
            } else {
                c - b'A'
            };
            if i % 2 == 0 {
                ODD[usize::from(v)]
            } else {
                u32::from(v)
            }
        })
        .sum();
    (w[15] == b'A' + (sum % 26) as u8).then_some((s, e))
}
