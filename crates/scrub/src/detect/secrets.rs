//! Credentials recognised by a marker: JWTs (`eyJ`), `Bearer`/`Basic` authorization, API
//! keys with a vendor prefix, and PEM private keys.
//!
//! The marker is found by the prefilter; the shape is then checked from the marker only, and
//! never further than the match can reach: a regex runs on the window of bytes the token
//! could span (a JWT's `[A-Za-z0-9_.-]` run, `Bearer`, its blanks and its token), a vendor
//! key's body is a maximal run of its characters taken from the scan's [`Memo`] (seeds
//! inside one run, as in `sk-sk-sk-…`, share its end), and a PEM key's `-----END` line is
//! searched once for all the `-----BEGIN` before it.

use regex::{Regex, RegexBuilder};

use super::memo::{Class, Memo};
use super::text::{at, before, is_word};
use super::{DetectorError, Kind, Match};

/// Which anchored rule a prefilter literal starts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SecretRule {
    /// `eyJ`, the base64 of `{"`: every JWT header starts with it.
    Jwt,
    /// `bearer` (any case).
    Bearer,
    /// `basic` (any case).
    Basic,
    /// `-----BEGIN`.
    Pem,
    /// Index into [`VENDORS`].
    Vendor(usize),
}

/// How long a vendor key's body is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Length {
    /// At least this many characters, as many as follow (the regex `{n,}`).
    AtLeast(usize),
    /// Exactly this many (the regex `{n}`); a longer run of letters and digits is no key.
    Exactly(usize),
}

/// An API-key format with a documented vendor prefix: the prefix, then a body of one
/// character class.
pub(crate) struct Vendor {
    /// Literal prefixes (prefilter triggers), matched case-sensitively.
    pub(crate) prefixes: &'static [&'static str],
    /// The body's characters.
    body: Class,
    /// The body's length; the minimums keep prefix-only words (`sk-learn`) out.
    len: Length,
    /// Also require a digit: random keys of this length contain one, prose does not.
    needs_digit: bool,
    /// A second body after a `.`, of the same class and length (SendGrid).
    second: bool,
}

/// Vendor API keys (the body classes: [`Class`]).
#[rustfmt::skip]
pub(crate) const VENDORS: &[Vendor] = &[
    // stripe: [sr]k_(live|test)_[0-9A-Za-z]{16,}
    Vendor { prefixes: &["sk_live_", "sk_test_", "rk_live_", "rk_test_"], body: Class::Alnum, len: Length::AtLeast(16), needs_digit: false, second: false },
    // openai, anthropic: sk-[A-Za-z0-9_-]{20,}
    Vendor { prefixes: &["sk-"], body: Class::WordDash, len: Length::AtLeast(20), needs_digit: true, second: false },
    // github: gh[pousr]_[A-Za-z0-9]{30,}
    Vendor { prefixes: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], body: Class::Alnum, len: Length::AtLeast(30), needs_digit: false, second: false },
    // github fine-grained: github_pat_[A-Za-z0-9_]{22,}
    Vendor { prefixes: &["github_pat_"], body: Class::Word, len: Length::AtLeast(22), needs_digit: false, second: false },
    // gitlab: glpat-[A-Za-z0-9_-]{20,}
    Vendor { prefixes: &["glpat-"], body: Class::WordDash, len: Length::AtLeast(20), needs_digit: false, second: false },
    // slack: xox[abprs]-[A-Za-z0-9-]{10,}
    Vendor { prefixes: &["xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-"], body: Class::AlnumDash, len: Length::AtLeast(10), needs_digit: true, second: false },
    // aws: (AKIA|ASIA)[A-Z0-9]{16}
    Vendor { prefixes: &["AKIA", "ASIA"], body: Class::UpperDigit, len: Length::Exactly(16), needs_digit: true, second: false },
    // google: AIza[0-9A-Za-z_-]{35}
    Vendor { prefixes: &["AIza"], body: Class::WordDash, len: Length::Exactly(35), needs_digit: false, second: false },
    // sendgrid: SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}
    Vendor { prefixes: &["SG."], body: Class::WordDash, len: Length::AtLeast(16), needs_digit: false, second: true },
    // huggingface: hf_[A-Za-z0-9]{30,}
    Vendor { prefixes: &["hf_"], body: Class::Alnum, len: Length::AtLeast(30), needs_digit: false, second: false },
    // sentry org token: sntrys_[A-Za-z0-9+/=_]{40,}
    Vendor { prefixes: &["sntrys_"], body: Class::Base64Word, len: Length::AtLeast(40), needs_digit: false, second: false },
    // sentry user token: sntryu_[0-9a-f]{64}
    Vendor { prefixes: &["sntryu_"], body: Class::LowerHex, len: Length::Exactly(64), needs_digit: false, second: false },
];

/// The compiled anchored rules.
#[derive(Debug)]
pub(crate) struct SecretRules {
    jwt: Regex,
    bearer: Regex,
    basic: Regex,
    pem_begin: Regex,
    pem_end: Regex,
}

/// Compile one rule with a size limit; a failure names the detector.
fn compile(detector: &'static str, pattern: &str) -> Result<Regex, DetectorError> {
    RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|source| DetectorError::Pattern { detector, source })
}

/// The longest `-----BEGIN … PRIVATE KEY-----` (or `END`) line the PEM patterns match.
const PEM_LINE: usize = 80;

/// Characters of a JWT (its three to five segments and their dots).
fn is_jwt_byte(c: u8) -> bool {
    is_word(c) || matches!(c, b'-' | b'.')
}

/// Characters of a bearer token (RFC 6750 `b64token`).
fn is_bearer_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'~' | b'+' | b'/' | b'-')
}

/// Characters of basic credentials (base64).
fn is_basic_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/')
}

/// `i` (at most the length), moved back to a char boundary.
fn floor_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// End of the run of `f` bytes from `i`.
fn run_end(b: &[u8], mut i: usize, f: impl Fn(u8) -> bool) -> usize {
    while i < b.len() && f(b[i]) {
        i += 1;
    }
    i
}

/// The window an authorization scheme's regex can match from `p`: the scheme word
/// (`scheme` bytes), blanks, the token's characters, then `=` padding.
fn scheme_window(b: &[u8], p: usize, scheme: usize, token: impl Fn(u8) -> bool) -> usize {
    let blanks = run_end(b, (p + scheme).min(b.len()), |c| c == b' ' || c == b'\t');
    let token_end = run_end(b, blanks, token);
    let end = run_end(b, token_end, |c| c == b'=');
    crate::work::charge(end - p);
    end
}

impl SecretRules {
    pub(crate) fn new() -> Result<SecretRules, DetectorError> {
        Ok(SecretRules {
            // Header, payload, signature; JWE has five segments. The signature may be empty
            // (`alg: none`), which is still a token worth removing.
            jwt: compile(
                "jwt",
                r"^eyJ[A-Za-z0-9_-]{7,}\.[A-Za-z0-9_-]{2,}(?:\.[A-Za-z0-9_-]*){1,3}",
            )?,
            bearer: compile("bearer", r"^(?i:bearer)[ \t]+([A-Za-z0-9._~+/-]+=*)")?,
            basic: compile("basic", r"^(?i:basic)[ \t]+([A-Za-z0-9+/]+={0,2})")?,
            pem_begin: compile(
                "pem",
                r"^-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----",
            )?,
            pem_end: compile(
                "pem",
                r"^-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----",
            )?,
        })
    }

    /// Run `rule` anchored at `p` (a prefilter literal, hence a char boundary).
    pub(crate) fn match_at(
        &self,
        rule: SecretRule,
        text: &str,
        p: usize,
        memo: &mut Memo,
    ) -> Option<Match> {
        let b = text.as_bytes();
        // Windows end after ASCII runs or at a fixed length: cut back to a char boundary
        // (what the patterns match is ASCII, so the cut never shortens a match).
        let window = |end: usize| text.get(p..floor_boundary(text, end)).unwrap_or_default();
        let (kind, start, end) = match rule {
            SecretRule::Jwt => {
                let prev = before(b, p);
                // A marker inside a token is part of it, not the start of another: so the
                // windows of two JWT seeds never overlap.
                if is_jwt_byte(prev) {
                    return None;
                }
                let w = run_end(b, p, is_jwt_byte);
                crate::work::charge(w - p);
                let m = self.jwt.find(window(w))?;
                let end = p + m.as_str().trim_end_matches('.').len();
                (Kind::Jwt, p, end)
            }
            SecretRule::Bearer | SecretRule::Basic if is_word(before(b, p)) => return None,
            SecretRule::Bearer => {
                let w = scheme_window(b, p, 6, is_bearer_byte);
                let g = self.bearer.captures(window(w))?.get(1)?;
                let tok = g.as_str();
                let digit = tok.bytes().any(|c| c.is_ascii_digit());
                if tok.len() < 8 || !(digit || tok.len() >= 20) || is_word(at(b, p + g.end())) {
                    return None;
                }
                (Kind::BearerToken, p + g.start(), p + g.end())
            }
            SecretRule::Basic => {
                let w = scheme_window(b, p, 5, is_basic_byte);
                let g = self.basic.captures(window(w))?.get(1)?;
                // Basic credentials are base64("user:password"); requiring the decoded colon
                // is what separates them from the English word "basic" before any word.
                if !base64_has_colon(g.as_str().as_bytes()) || is_word(at(b, p + g.end())) {
                    return None;
                }
                (Kind::BasicAuth, p + g.start(), p + g.end())
            }
            SecretRule::Pem => {
                crate::work::charge(PEM_LINE);
                let begin = self.pem_begin.find(window(p + PEM_LINE))?;
                // A truncated key (no END line, as in a cut-off log message) is removed to
                // the end of the string: what follows BEGIN is key material.
                let end = memo
                    .next_pem_end(b, b"-----END ", p + begin.end())
                    .and_then(|e| {
                        crate::work::charge(PEM_LINE);
                        let line = text.get(e..floor_boundary(text, e + PEM_LINE))?;
                        self.pem_end.find(line).map(|m| e + m.end())
                    })
                    .unwrap_or(b.len());
                (Kind::PrivateKey, p, end)
            }
            SecretRule::Vendor(i) => {
                let prev = before(b, p);
                if prev.is_ascii_alphanumeric() || prev == b'_' {
                    return None;
                }
                let end = vendor_key_end(VENDORS.get(i)?, b, p, memo)?;
                (Kind::ApiKey, p, end)
            }
        };
        (end > start).then_some(Match { kind, start, end })
    }
}

/// The end of a key of `vendor` at `p` (where one of its prefixes starts), if there is one:
/// the prefix, a body of the vendor's class and length (SendGrid: two, joined by `.`), a
/// digit when the vendor's keys always hold one, and no letter or digit glued after it.
fn vendor_key_end(vendor: &Vendor, b: &[u8], p: usize, memo: &mut Memo) -> Option<usize> {
    let prefix = vendor
        .prefixes
        .iter()
        .find(|x| b[p..].starts_with(x.as_bytes()))?;
    let body = p + prefix.len();
    let (end, digit) = match vendor.len {
        Length::AtLeast(min) => {
            let run = memo.extent(b, vendor.body, body);
            if run.end - body < min {
                return None;
            }
            if vendor.second {
                if at(b, run.end) != b'.' {
                    return None;
                }
                let next = memo.extent(b, vendor.body, run.end + 1);
                if next.end - (run.end + 1) < min {
                    return None;
                }
                (next.end, run.marked || next.marked)
            } else {
                (run.end, run.marked)
            }
        }
        Length::Exactly(n) => {
            // Bounded: read n bytes, and one more to see what follows.
            let end = body + n;
            let bytes = b.get(body..end)?;
            crate::work::charge(n);
            if !bytes.iter().all(|&c| vendor.body.has(c)) {
                return None;
            }
            (end, bytes.iter().any(u8::is_ascii_digit))
        }
    };
    let ok = (digit || !vendor.needs_digit) && !at(b, end).is_ascii_alphanumeric();
    ok.then_some(end)
}

/// Does the base64 text decode (strictly: length a multiple of 4) to bytes containing `:`?
fn base64_has_colon(s: &[u8]) -> bool {
    if s.len() < 8 || !s.len().is_multiple_of(4) {
        return false;
    }
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => 0, // '=' padding
        }
    };
    s.chunks_exact(4).any(|q| {
        let n = q.iter().fold(0u32, |a, &c| (a << 6) | val(c));
        let pad = q.iter().filter(|&&c| c == b'=').count();
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        bytes[..3 - pad.min(2)].contains(&b':')
    })
}

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod tests;
