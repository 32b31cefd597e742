//! The bounded rules against the regexes they replaced: same matches on any input.

use proptest::prelude::*;
use regex::Regex;

use super::*;

/// The vendor patterns as regexes over the whole rest of the text, as they were before the
/// bodies came from the memo (issue 27): the oracle.
const ORACLE: &[(&str, bool)] = &[
    (r"^[sr]k_(?:live|test)_[0-9A-Za-z]{16,}", false),
    (r"^sk-[A-Za-z0-9_-]{20,}", true),
    (r"^gh[pousr]_[A-Za-z0-9]{30,}", false),
    (r"^github_pat_[A-Za-z0-9_]{22,}", false),
    (r"^glpat-[A-Za-z0-9_-]{20,}", false),
    (r"^xox[abprs]-[A-Za-z0-9-]{10,}", true),
    (r"^(?:AKIA|ASIA)[A-Z0-9]{16}", true),
    (r"^AIza[0-9A-Za-z_-]{35}", false),
    (r"^SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}", false),
    (r"^hf_[A-Za-z0-9]{30,}", false),
    (r"^sntrys_[A-Za-z0-9+/=_]{40,}", false),
    (r"^sntryu_[0-9a-f]{64}", false),
];

/// The old rule for the vendor key at `p`: regex on the tail, digit, nothing glued after.
fn oracle(i: usize, text: &str, p: usize) -> Option<usize> {
    let (pattern, needs_digit) = ORACLE[i];
    let b = text.as_bytes();
    let prev = before(b, p);
    if prev.is_ascii_alphanumeric() || prev == b'_' {
        return None;
    }
    let m = Regex::new(pattern).unwrap().find(&text[p..])?;
    let digit_ok = !needs_digit || m.as_str().bytes().any(|c| c.is_ascii_digit());
    (digit_ok && !at(b, p + m.end()).is_ascii_alphanumeric()).then_some(p + m.end())
}

/// The old rules for JWT, Bearer, Basic and PEM, on the whole rest of the text.
fn oracle_marker(rules: &SecretRules, rule: SecretRule, text: &str, p: usize) -> Option<Match> {
    let b = text.as_bytes();
    let tail = &text[p..];
    let (kind, start, end) = match rule {
        SecretRule::Jwt => {
            if is_jwt_byte(before(b, p)) {
                return None;
            }
            let m = rules.jwt.find(tail)?;
            (Kind::Jwt, p, p + m.as_str().trim_end_matches('.').len())
        }
        SecretRule::Bearer | SecretRule::Basic if is_word(before(b, p)) => return None,
        SecretRule::Bearer => {
            let g = rules.bearer.captures(tail)?.get(1)?;
            let tok = g.as_str();
            let digit = tok.bytes().any(|c| c.is_ascii_digit());
            if tok.len() < 8 || !(digit || tok.len() >= 20) || is_word(at(b, p + g.end())) {
                return None;
            }
            (Kind::BearerToken, p + g.start(), p + g.end())
        }
        SecretRule::Basic => {
            let g = rules.basic.captures(tail)?.get(1)?;
            if !base64_has_colon(g.as_str().as_bytes()) || is_word(at(b, p + g.end())) {
                return None;
            }
            (Kind::BasicAuth, p + g.start(), p + g.end())
        }
        SecretRule::Pem => {
            let begin = rules.pem_begin.find(tail)?;
            let end = memchr::memmem::find(&b[p + begin.end()..], b"-----END ")
                .map(|off| p + begin.end() + off)
                .and_then(|e| rules.pem_end.find(&text[e..]).map(|m| e + m.end()))
                .unwrap_or(b.len());
            (Kind::PrivateKey, p, end)
        }
        SecretRule::Vendor(_) => unreachable!(),
    };
    (end > start).then_some(Match { kind, start, end })
}

/// Pieces that make keys, near-keys and the bytes around them.
const PIECES: &[&str] = &[
    "sk_live_",
    "sk-",
    "ghp_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "AKIA",
    "AIza",
    "SG.",
    "hf_",
    "sntrys_",
    "sntryu_",
    "eyJ",
    "Bearer",
    "bearer ",
    "Basic ",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----BEGIN ",
    "-----END RSA PRIVATE KEY-----",
    "-----END ",
    "abcdefgh",
    "ABCDEFGH",
    "01234567",
    "0123456789abcdef",
    "_",
    "-",
    ".",
    "+",
    "/",
    "=",
    "==",
    " ",
    "\t",
    "\n",
    ":",
    "é",
    "dXNlcjpwYXNz",
];

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(PIECES), 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn vendor_keys_match_as_the_regexes_did(text in text()) {
        let b = text.as_bytes();
        let mut memo = Memo::default();
        for p in 0..b.len() {
            for (i, v) in VENDORS.iter().enumerate() {
                if !v.prefixes.iter().any(|x| b[p..].starts_with(x.as_bytes())) {
                    continue;
                }
                let prev = before(b, p);
                let new = if prev.is_ascii_alphanumeric() || prev == b'_' {
                    None
                } else {
                    vendor_key_end(v, b, p, &mut memo)
                };
                prop_assert_eq!(new, oracle(i, &text, p), "vendor {} at {} in {:?}", i, p, text);
            }
        }
    }

    #[test]
    fn marker_rules_match_as_on_the_whole_tail(text in text()) {
        let rules = SecretRules::new().unwrap();
        let mut memo = Memo::default();
        for p in 0..text.len() {
            if !text.is_char_boundary(p) {
                continue;
            }
            let rest = &text.as_bytes()[p..];
            for (lit, rule) in [
                (&b"eyJ"[..], SecretRule::Jwt),
                (b"Bearer", SecretRule::Bearer),
                (b"bearer", SecretRule::Bearer),
                (b"Basic", SecretRule::Basic),
                (b"-----BEGIN", SecretRule::Pem),
            ] {
                if rest.starts_with(lit) {
                    let new = rules.match_at(rule, &text, p, &mut memo);
                    prop_assert_eq!(new, oracle_marker(&rules, rule, &text, p), "{:?} at {} in {:?}", rule, p, text);
                }
            }
        }
    }
}
