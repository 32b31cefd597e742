//! PII and secret detectors: pure, I/O-free, compiled once at start-up.
//!
//! Every kept string of every event goes through [`Detectors::redact`], so the design is
//! literal-first (ripgrep style). A prefilter (`prefilter.rs`) makes one byte-class scan and
//! one aho-corasick pass over the string to find *seeds*: the few places where something
//! could start (a digit run, `@`, `:`, `=`, `+`, or a trigger literal such as `Bearer`, `eyJ`,
//! `-----BEGIN`, `/home/` or a vendor key prefix). Validators then run only on a small,
//! bounded window at each seed; a string without seeds returns `None` without allocating,
//! and no regex ever scans a whole string.
//!
//! Validators prefer checksums (Luhn, mod-97, ISO 7064, 11-proof) over shape alone, because
//! the strings we scan are technical (ids, hashes, versions, timestamps) and a shape-only
//! rule would redact them and make events useless. Each family's file documents its
//! trade-offs:
//!
//! | file          | kinds                                               |
//! |---------------|-----------------------------------------------------|
//! | `network.rs`  | email, IPv4/IPv6, MAC, URL credentials              |
//! | `finance.rs`  | payment cards (IIN + Luhn), IBAN (length + mod-97)  |
//! | `secrets.rs`  | JWT, bearer / basic auth, vendor API keys, PEM keys |
//! | `keyvalue.rs` | `password=…`, `"token": "…"` and friends            |
//! | `phone.rs`    | international and European national phone numbers   |
//! | `national.rs` | EU national identifiers, all checksum-validated     |
//! | `paths.rs`    | user names in home-directory paths                  |
//!
//! ```
//! use scrub::detect::{Detectors, Kind};
//!
//! let detectors = Detectors::new().unwrap();
//! assert!(detectors.redact("GET /api/v2/items/42 took 12ms").is_none());
//! let r = detectors.redact("login failed for alice@example.com").unwrap();
//! assert_eq!(r.text, "login failed for [email]");
//! assert_eq!(r.remarks, vec![(Kind::Email, 17, 24)]);
//! ```

mod finance;
mod keyvalue;
mod memo;
mod national;
mod network;
mod paths;
pub use paths::mask_nested_home;
mod phone;
mod prefilter;
mod secrets;
mod text;

use memo::Memo;
use prefilter::{Prefilter, Trigger};
use secrets::SecretRules;

/// What a detector found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Kind {
    /// An email address with a dotted, alphabetic top-level domain.
    Email,
    /// An IPv4 or IPv6 address.
    Ip,
    /// A MAC (EUI-48) address.
    Mac,
    /// A payment card number (known IIN prefix, Luhn-valid).
    Card,
    /// An IBAN (known country length, mod-97 valid).
    Iban,
    /// A phone number, international or European national format.
    Phone,
    /// A JSON Web Token.
    Jwt,
    /// The credential of a `Bearer` authorization.
    BearerToken,
    /// The credential of a `Basic` authorization (base64 of `user:password`).
    BasicAuth,
    /// An API key with a known vendor prefix.
    ApiKey,
    /// The value of a secret-looking key (`password=…`, `"token": "…"`).
    Secret,
    /// The `user:password` part of a URL.
    UrlCredentials,
    /// A PEM private key block.
    PrivateKey,
    /// A checksum-validated European national identifier.
    NationalId,
    /// The user-name segment of a home-directory path.
    HomeUser,
}

impl Kind {
    /// Every kind, in declaration order (for metrics registration and docs).
    pub const ALL: &'static [Kind] = &[
        Kind::Email,
        Kind::Ip,
        Kind::Mac,
        Kind::Card,
        Kind::Iban,
        Kind::Phone,
        Kind::Jwt,
        Kind::BearerToken,
        Kind::BasicAuth,
        Kind::ApiKey,
        Kind::Secret,
        Kind::UrlCredentials,
        Kind::PrivateKey,
        Kind::NationalId,
        Kind::HomeUser,
    ];

    /// Typed placeholder written in place of the match, so the message stays readable.
    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::Email => "[email]",
            Kind::Ip => "[ip]",
            Kind::Mac => "[mac]",
            Kind::Card => "[card]",
            Kind::Iban => "[iban]",
            Kind::Phone => "[phone]",
            Kind::Jwt => "[jwt]",
            Kind::BearerToken => "[token]",
            Kind::BasicAuth | Kind::UrlCredentials => "[credentials]",
            Kind::ApiKey => "[api-key]",
            Kind::Secret => "[secret]",
            Kind::PrivateKey => "[private-key]",
            Kind::NationalId => "[national-id]",
            Kind::HomeUser => "[user]",
        }
    }

    /// Rule id recorded in Sentry `_meta` remarks and in metrics, in Sentry's `@name` style.
    pub fn rule_id(self) -> &'static str {
        match self {
            Kind::Email => "@email",
            Kind::Ip => "@ip",
            Kind::Mac => "@mac",
            Kind::Card => "@creditcard",
            Kind::Iban => "@iban",
            Kind::Phone => "@phone",
            Kind::Jwt => "@jwt",
            Kind::BearerToken => "@bearer",
            Kind::BasicAuth => "@basicauth",
            Kind::ApiKey => "@apikey",
            Kind::Secret => "@password",
            Kind::UrlCredentials => "@urlauth",
            Kind::PrivateKey => "@pemkey",
            Kind::NationalId => "@nationalid",
            Kind::HomeUser => "@userpath",
        }
    }

    /// Which kind wins when two matches overlap. Kinds identified by an explicit marker
    /// (`-----BEGIN`, `eyJ`, a vendor prefix, a `password=` key) are more specific than kinds
    /// recognised by shape, and checksummed shapes beat unchecked ones.
    fn priority(self) -> u8 {
        match self {
            Kind::PrivateKey => 15,
            Kind::Jwt => 14,
            Kind::UrlCredentials => 13,
            Kind::ApiKey => 12,
            Kind::BearerToken | Kind::BasicAuth => 11,
            Kind::Secret => 10,
            Kind::Iban => 9,
            Kind::Card => 8,
            Kind::NationalId => 7,
            Kind::Email => 6,
            Kind::HomeUser => 5,
            Kind::Ip | Kind::Mac => 4,
            Kind::Phone => 3,
        }
    }
}

/// One match: the byte range `start..end` of `text` that the placeholder replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Match {
    /// What was found.
    pub kind: Kind,
    /// First byte of the match (a char boundary).
    pub start: usize,
    /// One past the last byte of the match (a char boundary).
    pub end: usize,
}

/// Result of [`Detectors::redact`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redaction {
    /// The redacted text.
    pub text: String,
    /// For each replacement, left to right: its kind and the byte range of the placeholder
    /// in [`Redaction::text`] (what Sentry's `_meta` `rem` ranges mean).
    pub remarks: Vec<(Kind, usize, usize)>,
}

/// A detector could not be built. This is a start-up error: a rule is never silently skipped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DetectorError {
    /// A detector's regular expression did not compile (or exceeded its size limit).
    #[error("detector `{detector}`: invalid pattern")]
    Pattern {
        /// Name of the detector.
        detector: &'static str,
        /// The regex error (it quotes our pattern, never input text).
        #[source]
        source: regex::Error,
    },
    /// The trigger-literal automaton did not build.
    #[error("detector prefilter: automaton build failed")]
    Prefilter(#[source] aho_corasick::BuildError),
}

/// All detectors, compiled once; cheap to share (`Send + Sync`).
#[derive(Debug)]
pub struct Detectors {
    prefilter: Prefilter,
    secrets: SecretRules,
}

impl Detectors {
    /// Build all detectors. Any regex that fails to build is an error.
    pub fn new() -> Result<Detectors, DetectorError> {
        Ok(Detectors {
            prefilter: Prefilter::new()?,
            secrets: SecretRules::new()?,
        })
    }

    /// Clear `out`, then fill it with all non-overlapping matches in `text`, sorted by start.
    /// When candidates overlap, the most specific kind wins, then the longest match.
    pub fn find(&self, text: &str, out: &mut Vec<Match>) {
        out.clear();
        let mut memo = Memo::default();
        self.prefilter
            .scan(text, |seed| self.validate(text, seed, out, &mut memo));
        resolve_overlaps(out);
    }

    /// Redact `text`. `None` when nothing matched; that path does not allocate.
    pub fn redact(&self, text: &str) -> Option<Redaction> {
        let mut found = Vec::new();
        self.find(text, &mut found);
        if found.is_empty() {
            return None;
        }
        crate::work::charge(text.len());
        let extra: usize = found.iter().map(|m| m.kind.placeholder().len()).sum();
        let mut out = String::with_capacity(text.len() + extra);
        let mut remarks = Vec::with_capacity(found.len());
        let mut last = 0;
        for m in &found {
            out.push_str(&text[last..m.start]);
            let at = out.len();
            out.push_str(m.kind.placeholder());
            remarks.push((m.kind, at, out.len()));
            last = m.end;
        }
        out.push_str(&text[last..]);
        Some(Redaction { text: out, remarks })
    }

    /// Run the validators that a seed can start, pushing candidates (overlaps allowed).
    fn validate(&self, text: &str, seed: Trigger, out: &mut Vec<Match>, memo: &mut Memo) {
        let b = text.as_bytes();
        let mut push = |kind, range: Option<(usize, usize)>| {
            if let Some((start, end)) = range.filter(|(s, e)| s < e) {
                out.push(Match { kind, start, end });
            }
        };
        match seed {
            // Upper-case letters before the digits: only the letter-prefixed forms (IBAN,
            // NIE, codice fiscale). Any other glue (`0x`, hex, `2026-11`): nothing. This
            // one test saves a dozen validator calls per digit run inside hashes and dates.
            Trigger::DigitRun(p) if text::before(b, p).is_ascii_uppercase() => {
                push(Kind::Iban, finance::iban_at(b, p));
                push(Kind::NationalId, national::lettered_at(b, p));
            }
            Trigger::DigitRun(p) if !text::numeric_start_ok(b, p) => {}
            Trigger::DigitRun(p) => {
                push(Kind::Ip, network::ipv4_at(b, p));
                push(Kind::Card, finance::card_at(b, p));
                push(Kind::Phone, phone::phone_at(b, p));
                push(Kind::NationalId, national::national_at(b, p));
            }
            Trigger::Plus(p) => push(Kind::Phone, phone::phone_at(b, p)),
            Trigger::At(p) => push(Kind::Email, network::email_at(b, p)),
            Trigger::Colon(p) => {
                push(Kind::Ip, network::ipv6_at(b, p));
                push(Kind::Mac, network::mac_at(b, p));
                push(Kind::Secret, keyvalue::secret_value_at(b, p, memo));
            }
            Trigger::Equals(p) => push(Kind::Secret, keyvalue::secret_value_at(b, p, memo)),
            Trigger::Dash(p) => push(Kind::Mac, network::mac_at(b, p)),
            Trigger::Scheme(p) => push(Kind::UrlCredentials, network::url_credentials_at(b, p)),
            Trigger::HomePath(p, len) => push(Kind::HomeUser, paths::home_user_at(b, p, len)),
            Trigger::Secret(rule, p) => {
                if let Some(m) = self.secrets.match_at(rule, text, p, memo) {
                    out.push(m);
                }
            }
        }
    }
}

/// Keep a non-overlapping subset of `cands`: higher priority first, then longer, then
/// leftmost. Few candidates (the usual case) are kept sorted by start in the prefix
/// `cands[..kept]`, in place and without allocating; many go through an ordered map, since
/// inserting into the middle of the prefix would move the kept ones each time (a string of
/// one kind of match, then another, moved the square of their count).
fn resolve_overlaps(cands: &mut Vec<Match>) {
    /// Up to this many candidates, moving kept ones costs less than a map.
    const IN_PLACE: usize = 64;
    if cands.len() < 2 {
        return;
    }
    crate::work::charge(cands.len());
    cands.sort_unstable_by(|a, b| {
        (b.kind.priority(), b.end - b.start, a.start).cmp(&(
            a.kind.priority(),
            a.end - a.start,
            b.start,
        ))
    });
    if cands.len() > IN_PLACE {
        let mut kept = std::collections::BTreeMap::new();
        for &m in cands.iter() {
            let left_ok = kept
                .range(..m.start)
                .next_back()
                .is_none_or(|(_, k): (&usize, &Match)| k.end <= m.start);
            let right_ok = kept
                .range(m.start..)
                .next()
                .is_none_or(|(&s, _)| s >= m.end);
            if left_ok && right_ok {
                kept.insert(m.start, m);
            }
        }
        cands.clear();
        cands.extend(kept.into_values());
        return;
    }
    let mut kept = 0;
    for i in 0..cands.len() {
        let m = cands[i];
        let idx = cands[..kept].partition_point(|k| k.start < m.start);
        let left_ok = idx == 0 || cands[idx - 1].end <= m.start;
        let right_ok = idx == kept || cands[idx].start >= m.end;
        if left_ok && right_ok {
            cands.copy_within(idx..kept, idx + 1);
            cands[idx] = m;
            kept += 1;
        }
    }
    cands.truncate(kept);
}
