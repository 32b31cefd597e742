//! The one pass over each string: a byte-class scan for numeric/punctuation seeds and an
//! aho-corasick automaton for trigger literals. Validators run only where this reports.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::secrets::{SecretRule, VENDORS};
use super::DetectorError;

/// A place where a detector may match.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Trigger {
    /// Start of a run of ASCII digits (cards, IBAN check digits, phones, IPv4, national ids).
    DigitRun(usize),
    /// `+` followed by a digit (international phone numbers).
    Plus(usize),
    /// `@` (emails).
    At(usize),
    /// `:` (IPv6, MAC, `key: value` secrets).
    Colon(usize),
    /// `=` (`key=value` secrets).
    Equals(usize),
    /// `-` after two hex digits (dash-separated MAC).
    Dash(usize),
    /// `://` (URL credentials).
    Scheme(usize),
    /// A home-directory prefix (`/home/`) at `.0`, of length `.1`.
    HomePath(usize, usize),
    /// A marker that starts a regex-validated secret (`eyJ`, `bearer`, vendor prefix).
    Secret(SecretRule, usize),
}

/// What an aho-corasick pattern id stands for.
#[derive(Clone, Copy, Debug)]
enum Literal {
    Scheme,
    Home,
    Rule(SecretRule),
}

/// Home-directory prefixes; the next path segment is a user name. Windows paths are
/// case-insensitive, so both common spellings are listed.
const HOME_PREFIXES: &[&str] = &["/home/", "/Users/", "\\Users\\", "\\users\\"];

/// The authorization schemes, in the spellings seen in practice.
const BEARER: &[&str] = &["Bearer", "bearer", "BEARER"];
const BASIC: &[&str] = &["Basic", "basic", "BASIC"];

/// Byte classes for the seed scan (0: nothing to do).
const DIGIT: u8 = 1;
const AT: u8 = 2;
const COLON: u8 = 3;
const PLUS: u8 = 4;
const DASH: u8 = 5;
const EQUALS: u8 = 6;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = DIGIT;
        d += 1;
    }
    t[b'@' as usize] = AT;
    t[b':' as usize] = COLON;
    t[b'+' as usize] = PLUS;
    t[b'-' as usize] = DASH;
    t[b'=' as usize] = EQUALS;
    t
};

/// The compiled prefilter.
#[derive(Debug)]
pub(crate) struct Prefilter {
    /// Leftmost-first automaton for the fast "any literal at all?" check; most strings stop
    /// here. `is_match` is about twice as fast as an overlapping search on short strings.
    any: AhoCorasick,
    /// Same literals, standard semantics, for the overlapping search on the rare hit.
    all: AhoCorasick,
    meaning: Vec<Literal>,
}

impl Prefilter {
    /// Build the trigger automata. Matching is case-sensitive (faster, and `/home/`, `eyJ`,
    /// `AKIA` are case-sensitive anyway); case variants are listed where they occur.
    pub(crate) fn new() -> Result<Prefilter, DetectorError> {
        let mut pats: Vec<&'static str> = Vec::new();
        let mut meaning = Vec::new();
        let mut add = |p: &'static str, l: Literal| {
            pats.push(p);
            meaning.push(l);
        };
        add("://", Literal::Scheme);
        HOME_PREFIXES.iter().for_each(|p| add(p, Literal::Home));
        BEARER
            .iter()
            .for_each(|p| add(p, Literal::Rule(SecretRule::Bearer)));
        BASIC
            .iter()
            .for_each(|p| add(p, Literal::Rule(SecretRule::Basic)));
        add("eyJ", Literal::Rule(SecretRule::Jwt));
        add("-----BEGIN", Literal::Rule(SecretRule::Pem));
        for (i, v) in VENDORS.iter().enumerate() {
            v.prefixes
                .iter()
                .for_each(|p| add(p, Literal::Rule(SecretRule::Vendor(i))));
        }
        let build = |kind| {
            AhoCorasickBuilder::new()
                .match_kind(kind)
                .build(&pats)
                .map_err(DetectorError::Prefilter)
        };
        Ok(Prefilter {
            any: build(MatchKind::LeftmostFirst)?,
            all: build(MatchKind::Standard)?,
            meaning,
        })
    }

    /// Report every seed in `text` to `f`.
    pub(crate) fn scan(&self, text: &str, mut f: impl FnMut(Trigger)) {
        let b = text.as_bytes();
        crate::work::charge(b.len());
        let mut i = 0;
        while i < b.len() {
            match CLASS[b[i] as usize] {
                0 => {}
                DIGIT => {
                    f(Trigger::DigitRun(i));
                    i += super::text::digits_from(b, i);
                    continue;
                }
                AT => f(Trigger::At(i)),
                COLON => f(Trigger::Colon(i)),
                EQUALS => f(Trigger::Equals(i)),
                PLUS if super::text::at(b, i + 1).is_ascii_digit() => f(Trigger::Plus(i)),
                DASH if i >= 2 && b[i - 1].is_ascii_hexdigit() && b[i - 2].is_ascii_hexdigit() => {
                    f(Trigger::Dash(i))
                }
                _ => {}
            }
            i += 1;
        }
        crate::work::charge(b.len());
        if !self.any.is_match(text) {
            return;
        }
        crate::work::charge(b.len());
        for m in self.all.find_overlapping_iter(text) {
            let (p, len) = (m.start(), m.len());
            f(match self.meaning[m.pattern().as_usize()] {
                Literal::Scheme => Trigger::Scheme(p),
                Literal::Home => Trigger::HomePath(p, len),
                Literal::Rule(r) => Trigger::Secret(r, p),
            });
        }
    }
}
