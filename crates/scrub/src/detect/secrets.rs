//! Credentials recognised by a marker: JWTs (`eyJ`), `Bearer`/`Basic` authorization, API
//! keys with a vendor prefix, and PEM private keys.
//!
//! The marker is found by the prefilter; a regex anchored at the marker then checks the
//! shape. Anchoring keeps each regex run short (it fails at the first wrong byte) and means
//! we never scan a whole string per rule.

use regex::{Regex, RegexBuilder};

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

/// An API-key format with a documented vendor prefix.
pub(crate) struct Vendor {
    /// Detector name, for errors.
    pub(crate) name: &'static str,
    /// Literal prefixes (prefilter triggers).
    pub(crate) prefixes: &'static [&'static str],
    /// Anchored pattern; the minimum lengths keep prefix-only words (`sk-learn`) out.
    pattern: &'static str,
    /// Also require a digit: random keys of this length contain one, prose does not.
    needs_digit: bool,
}

/// Vendor API keys. Prefixes are matched case-sensitively by the pattern.
#[rustfmt::skip]
pub(crate) const VENDORS: &[Vendor] = &[
    Vendor { name: "stripe", prefixes: &["sk_live_", "sk_test_", "rk_live_", "rk_test_"], pattern: r"^[sr]k_(?:live|test)_[0-9A-Za-z]{16,}", needs_digit: false },
    Vendor { name: "openai-anthropic", prefixes: &["sk-"], pattern: r"^sk-[A-Za-z0-9_-]{20,}", needs_digit: true },
    Vendor { name: "github", prefixes: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], pattern: r"^gh[pousr]_[A-Za-z0-9]{30,}", needs_digit: false },
    Vendor { name: "github-pat", prefixes: &["github_pat_"], pattern: r"^github_pat_[A-Za-z0-9_]{22,}", needs_digit: false },
    Vendor { name: "gitlab", prefixes: &["glpat-"], pattern: r"^glpat-[A-Za-z0-9_-]{20,}", needs_digit: false },
    Vendor { name: "slack", prefixes: &["xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-"], pattern: r"^xox[abprs]-[A-Za-z0-9-]{10,}", needs_digit: true },
    Vendor { name: "aws", prefixes: &["AKIA", "ASIA"], pattern: r"^(?:AKIA|ASIA)[A-Z0-9]{16}", needs_digit: true },
    Vendor { name: "google", prefixes: &["AIza"], pattern: r"^AIza[0-9A-Za-z_-]{35}", needs_digit: false },
    Vendor { name: "sendgrid", prefixes: &["SG."], pattern: r"^SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}", needs_digit: false },
    Vendor { name: "huggingface", prefixes: &["hf_"], pattern: r"^hf_[A-Za-z0-9]{30,}", needs_digit: false },
    Vendor { name: "sentry", prefixes: &["sntrys_", "sntryu_"], pattern: r"^sntry(?:s_[A-Za-z0-9+/=_]{40,}|u_[0-9a-f]{64})", needs_digit: false },
];

/// The compiled anchored rules.
#[derive(Debug)]
pub(crate) struct SecretRules {
    jwt: Regex,
    bearer: Regex,
    basic: Regex,
    pem_begin: Regex,
    pem_end: Regex,
    vendors: Vec<Regex>,
}

/// Compile one rule with a size limit; a failure names the detector.
fn compile(detector: &'static str, pattern: &str) -> Result<Regex, DetectorError> {
    RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|source| DetectorError::Pattern { detector, source })
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
            vendors: VENDORS
                .iter()
                .map(|v| compile(v.name, v.pattern))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Run `rule` anchored at `p` (a prefilter literal, hence a char boundary).
    pub(crate) fn match_at(&self, rule: SecretRule, text: &str, p: usize) -> Option<Match> {
        let b = text.as_bytes();
        let tail = &text[p..];
        let (kind, start, end) = match rule {
            SecretRule::Jwt => {
                let prev = before(b, p);
                if is_word(prev) || matches!(prev, b'-' | b'.') {
                    return None;
                }
                let m = self.jwt.find(tail)?;
                let end = p + m.as_str().trim_end_matches('.').len();
                (Kind::Jwt, p, end)
            }
            SecretRule::Bearer | SecretRule::Basic if is_word(before(b, p)) => return None,
            SecretRule::Bearer => {
                let g = self.bearer.captures(tail)?.get(1)?;
                let tok = g.as_str();
                let digit = tok.bytes().any(|c| c.is_ascii_digit());
                if tok.len() < 8 || !(digit || tok.len() >= 20) || is_word(at(b, p + g.end())) {
                    return None;
                }
                (Kind::BearerToken, p + g.start(), p + g.end())
            }
            SecretRule::Basic => {
                let g = self.basic.captures(tail)?.get(1)?;
                // Basic credentials are base64("user:password"); requiring the decoded colon
                // is what separates them from the English word "basic" before any word.
                if !base64_has_colon(g.as_str().as_bytes()) || is_word(at(b, p + g.end())) {
                    return None;
                }
                (Kind::BasicAuth, p + g.start(), p + g.end())
            }
            SecretRule::Pem => {
                let begin = self.pem_begin.find(tail)?;
                // A truncated key (no END line, as in a cut-off log message) is removed to
                // the end of the string: what follows BEGIN is key material.
                let end = memchr::memmem::find(&b[p + begin.end()..], b"-----END ")
                    .map(|off| p + begin.end() + off)
                    .and_then(|e| self.pem_end.find(&text[e..]).map(|m| e + m.end()))
                    .unwrap_or(b.len());
                (Kind::PrivateKey, p, end)
            }
            SecretRule::Vendor(i) => {
                let prev = before(b, p);
                if prev.is_ascii_alphanumeric() || prev == b'_' {
                    return None;
                }
                let m = self.vendors.get(i)?.find(tail)?;
                let body = m.as_str().as_bytes();
                let digit_ok = !VENDORS[i].needs_digit || body.iter().any(u8::is_ascii_digit);
                if !digit_ok || at(b, p + m.end()).is_ascii_alphanumeric() {
                    return None;
                }
                (Kind::ApiKey, p, p + m.end())
            }
        };
        (end > start).then_some(Match { kind, start, end })
    }
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
