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
    /// `:` (IPv6, MAC).
    Colon(usize),
    /// `-` after two hex digits (dash-separated MAC).
    Dash(usize),
    /// `://` (URL credentials).
    Scheme(usize),
    /// A home-directory prefix (`/home/`) at `.0`, of length `.1`.
    HomePath(usize, usize),
    /// A secret-looking key word (`password`) at `.0`, of length `.1`.
    Key(usize, usize),
    /// A marker that starts a regex-validated secret (`eyJ`, `bearer`, vendor prefix).
    Secret(SecretRule, usize),
}

/// What an aho-corasick pattern id stands for.
#[derive(Clone, Copy, Debug)]
enum Literal {
    Scheme,
    Home,
    Key,
    Rule(SecretRule),
}

/// Key words whose value is a secret (`db_password=…`, `"access_token": "…"`).
const KEY_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "authorization",
    "credentials",
];

/// Home-directory prefixes; the next path segment is a user name.
const HOME_PREFIXES: &[&str] = &["/home/", "/Users/", "\\Users\\"];

/// Byte classes for the seed scan (0: nothing to do).
const DIGIT: u8 = 1;
const AT: u8 = 2;
const COLON: u8 = 3;
const PLUS: u8 = 4;
const DASH: u8 = 5;

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
    t
};

/// The compiled prefilter.
#[derive(Debug)]
pub(crate) struct Prefilter {
    literals: AhoCorasick,
    meaning: Vec<Literal>,
}

impl Prefilter {
    /// Build the trigger automaton. Matching is ASCII case-insensitive so `Bearer`, `BEARER`
    /// and `Password` all trigger; validators re-check case where it matters (`/Users/`, `AKIA`).
    pub(crate) fn new() -> Result<Prefilter, DetectorError> {
        let mut pats: Vec<&'static str> = Vec::new();
        let mut meaning = Vec::new();
        let mut add = |p: &'static str, l: Literal| {
            pats.push(p);
            meaning.push(l);
        };
        add("://", Literal::Scheme);
        HOME_PREFIXES.iter().for_each(|p| add(p, Literal::Home));
        KEY_WORDS.iter().for_each(|p| add(p, Literal::Key));
        add("eyJ", Literal::Rule(SecretRule::Jwt));
        add("bearer", Literal::Rule(SecretRule::Bearer));
        add("basic", Literal::Rule(SecretRule::Basic));
        add("-----BEGIN", Literal::Rule(SecretRule::Pem));
        for (i, v) in VENDORS.iter().enumerate() {
            v.prefixes
                .iter()
                .for_each(|p| add(p, Literal::Rule(SecretRule::Vendor(i))));
        }
        let literals = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&pats)
            .map_err(DetectorError::Prefilter)?;
        Ok(Prefilter { literals, meaning })
    }

    /// Report every seed in `text` to `f`.
    pub(crate) fn scan(&self, text: &str, mut f: impl FnMut(Trigger)) {
        let b = text.as_bytes();
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
                PLUS if super::text::at(b, i + 1).is_ascii_digit() => f(Trigger::Plus(i)),
                DASH if i >= 2 && b[i - 1].is_ascii_hexdigit() && b[i - 2].is_ascii_hexdigit() => {
                    f(Trigger::Dash(i))
                }
                _ => {}
            }
            i += 1;
        }
        for m in self.literals.find_overlapping_iter(text) {
            let (p, len) = (m.start(), m.len());
            f(match self.meaning[m.pattern().as_usize()] {
                Literal::Scheme => Trigger::Scheme(p),
                Literal::Home => Trigger::HomePath(p, len),
                Literal::Key => Trigger::Key(p, len),
                Literal::Rule(r) => Trigger::Secret(r, p),
            });
        }
    }
}
