//! `release` and `environment`: written by the operator's deployment, but free text all
//! the same (`release="alice-laptop-test"`). They leave when they look like a version or
//! a hash (a release also as `<package>@<version>`), or a known environment word, or when
//! the operator allowlists them (exact names or `*` patterns); otherwise they become
//! `[release]` / `[environment]`, the same everywhere they are copied (events, the
//! header's trace, sessions, profiles, check-ins, span and metric attributes), so
//! sessions still aggregate by the replacement.

use std::borrow::Cow;

use crate::policy::pattern_matches;
use crate::walk::values::Val;
use crate::walk::Ctx;
use crate::words::Vocabulary;

/// What a release that is not a version becomes.
pub const RELEASE_PLACEHOLDER: &str = "[release]";
/// What an environment that is not a known word becomes.
pub const ENVIRONMENT_PLACEHOLDER: &str = "[environment]";

/// Environment words (and region words for `prod-eu-west`), compared lower-case.
const ENVIRONMENT_WORDS: &[&str] = &[
    "ap",
    "asia",
    "beta",
    "blue",
    "canary",
    "central",
    "ci",
    "demo",
    "dev",
    "develop",
    "development",
    "east",
    "eu",
    "green",
    "int",
    "integration",
    "live",
    "local",
    "north",
    "perf",
    "preprod",
    "preview",
    "prod",
    "production",
    "qa",
    "release",
    "sandbox",
    "south",
    "stage",
    "staging",
    "test",
    "testing",
    "uat",
    "us",
    "west",
];

/// Words of version strings besides numbers and hashes (`1.0.0-rc.1`, `2.3.0+build.7`,
/// `0.9.1-dirty`, `1.2.post3`), compared lower-case.
const VERSION_WORDS: &[&str] = &[
    "a", "alpha", "b", "beta", "build", "c", "canary", "d", "dev", "dirty", "final", "g", "hotfix",
    "lts", "next", "nightly", "patch", "post", "pre", "preview", "r", "rc", "release", "snapshot",
    "stable", "v",
];

/// A version (`1.4.2`, `v2.0.0-rc.1`, `2026.11.23`, `1.0.0+g8c21e0f`) or a hash (`8c21e0f3…`).
/// Each part between `.-+_` is a number, a hash, or a version word, optionally followed by
/// digits (`rc1`, `post3`): a build tag that names a machine (`2.3.0+alice-laptop`) is not
/// a version.
fn is_version_or_hash(s: &str) -> bool {
    let b = s.as_bytes();
    let starts = b.first().is_some_and(u8::is_ascii_digit)
        || (b.first() == Some(&b'v') && b.get(1).is_some_and(u8::is_ascii_digit));
    let version = s.len() <= 64
        && starts
        && s.split(['.', '-', '+', '_']).all(|part| {
            let word = part.trim_end_matches(|c: char| c.is_ascii_digit());
            word.is_empty()
                || is_hex(part)
                || VERSION_WORDS.contains(&word.to_ascii_lowercase().as_str())
                || word
                    .strip_prefix('g')
                    .is_some_and(|h| is_hex(&part[1..]) && !h.is_empty())
        });
    let hash = (7..=64).contains(&s.len()) && is_hex(s);
    version || hash
}

/// Hex digits, at least one of them a digit (a git hash, not a word such as `cafe`).
fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|c| c.is_ascii_hexdigit())
        && s.bytes().any(|c| c.is_ascii_digit())
}

/// Words that name a person's machine (`alice-laptop`, `desktop-4f2k`, `jdoe-pc`): a
/// package name or build tag holding one is a developer's build, named after its owner.
const MACHINE_WORDS: &[&str] = &[
    "desktop",
    "imac",
    "laptop",
    "latitude",
    "macbook",
    "mba",
    "mbp",
    "notebook",
    "pc",
    "thinkpad",
    "workstation",
    "xps",
];

/// Longest package name kept, and most words in it.
const MAX_PACKAGE_LEN: usize = 64;
const MAX_PACKAGE_WORDS: usize = 8;
/// Longest word of a package name that is not a word of code (a product's own name:
/// `acme`, `dms`, `grafana`).
const MAX_PRODUCT_WORD: usize = 12;

/// Is `name` the package part of `<package>@<version>`? Letters, digits and `-_.` (and
/// one npm scope, `@acme/web`), at most [`MAX_PACKAGE_LEN`] long, whose words are words
/// of code (`web`, `billing`, `assistant`), numbers or one- and two-letter parts, except
/// at most one product word (`acme-web`, `dms-assistant`, `com.acme.app`): a short word
/// of letters only. Not a package: two words that are not code (`zephyrine-canarywood`,
/// a person's full name or a title's slug), a word naming a machine
/// ([`MACHINE_WORDS`]: `alice-laptop`), a token-like word mixing letters and digits
/// (`a8f3k29dk3kd92kd`). A person's first name alone (`alice@1.0.0`) cannot be told from a
/// product's name without a dictionary; its version is still judged.
pub fn is_package_shaped(name: &str, vocab: &Vocabulary) -> bool {
    let body = match name.strip_prefix('@') {
        Some(scoped) => match scoped.split_once('/') {
            Some((scope, rest)) if !scope.is_empty() && !rest.contains('/') => {
                if !is_package_shaped(scope, vocab) {
                    return false;
                }
                rest
            }
            _ => return false,
        },
        None => name,
    };
    if body.is_empty()
        || name.len() > MAX_PACKAGE_LEN
        || !body.as_bytes()[0].is_ascii_alphanumeric()
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return false;
    }
    let mut products = 0;
    let mut words = 0;
    for part in body.split(['-', '_', '.']).filter(|p| !p.is_empty()) {
        let digits = part.bytes().filter(u8::is_ascii_digit).count();
        if digits > 0 {
            // A part with digits in it is a version or a short product name (`v2`, `s3`,
            // `web3`); a long one mixing letters and digits is a token or a serial.
            if digits < part.len() && part.len() >= 8 {
                return false;
            }
            words += 1;
            continue;
        }
        for word in crate::words::split_words(part) {
            words += 1;
            let lower = word.to_ascii_lowercase();
            if MACHINE_WORDS.contains(&lower.as_str()) || words > MAX_PACKAGE_WORDS {
                return false;
            }
            if word.len() <= 2 || vocab.knows(&lower) {
                continue;
            }
            products += 1;
            if products > 1 || word.len() > MAX_PRODUCT_WORD {
                return false;
            }
        }
    }
    words > 0
}

/// A release that leaves as sent: a version or a hash, or `<package>@<version>` with a
/// package-shaped name ([`is_package_shaped`]) and a version-shaped version (a build tag
/// naming a machine, a person or holding a token is not one: `1.4.2+alice-thinkpad`).
pub fn is_release_shaped(s: &str, vocab: &Vocabulary) -> bool {
    crate::work::charge(s.len());
    match s.rsplit_once('@') {
        Some((name, version)) => is_package_shaped(name, vocab) && is_version_or_hash(version),
        None => is_version_or_hash(s),
    }
}

/// A known environment word, alone or joined to others or to numbers by `-`/`_`
/// (`production`, `staging-2`, `prod-eu-west`).
pub fn is_environment_shaped(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.split(['-', '_']).all(|w| {
            !w.is_empty()
                && (w.bytes().all(|c| c.is_ascii_digit())
                    || ENVIRONMENT_WORDS.contains(&w.to_ascii_lowercase().as_str()))
        })
}

/// Decides a `release` value.
pub fn release(cx: &mut Ctx<'_>, v: &mut Option<Val<'_>>) {
    let allowed = |s: &str| any_matches(&cx.policy.config.allowed_releases, s);
    let vocab = cx.policy.vocabulary;
    decide(
        cx,
        v,
        |s| is_release_shaped(s, vocab),
        allowed,
        RELEASE_PLACEHOLDER,
    );
}

/// What a `dist` that is neither a version, a hash nor made of words of code becomes.
pub const DIST_PLACEHOLDER: &str = "[dist]";

/// Decides a `dist` (the build or distribution of a release): kept when it is a version or
/// a hash (`42`, `1.4.2`, `8c21e0f`) or made of words of code (`web`, `android-arm64`);
/// a build named after a machine (`alice-thinkpad-build`) is free text.
pub fn dist(cx: &mut Ctx<'_>, v: &mut Option<Val<'_>>) {
    let vocab = cx.policy.vocabulary;
    let allowed = |s: &str| any_matches(&cx.policy.config.allowed_releases, s);
    decide(
        cx,
        v,
        |s| is_version_or_hash(s) || vocab.is_code(s, &[]),
        allowed,
        DIST_PLACEHOLDER,
    );
}

/// Decides an `environment` value.
pub fn environment(cx: &mut Ctx<'_>, v: &mut Option<Val<'_>>) {
    let allowed = |s: &str| any_matches(&cx.policy.config.allowed_environments, s);
    decide(
        cx,
        v,
        is_environment_shaped,
        allowed,
        ENVIRONMENT_PLACEHOLDER,
    );
}

fn any_matches(patterns: &[String], s: &str) -> bool {
    patterns.iter().any(|p| pattern_matches(p, s))
}

fn decide(
    cx: &mut Ctx<'_>,
    v: &mut Option<Val<'_>>,
    shaped: impl Fn(&str) -> bool + Copy,
    allowed: impl Fn(&str) -> bool,
    placeholder: &str,
) {
    if cx.val_over_budget(v) {
        return;
    }
    match v {
        Some(Val::Str(s)) if allowed(s) => {}
        Some(Val::Str(s)) if shaped(s) => cx.text(s),
        Some(Val::Str(s)) => {
            if s != placeholder {
                cx.replace_freetext(s, placeholder);
            }
        }
        Some(Val::Num(n)) => {
            *v = Some(Val::Str(Cow::Owned(n.to_string())));
            decide(cx, v, shaped, allowed, placeholder);
        }
        _ => *v = None,
    }
}
