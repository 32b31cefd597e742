//! `release` and `environment`: written by the operator's deployment, but free text all
//! the same (`release="alice-laptop-test"`). They leave when they look like a version or
//! a hash, or a known environment word, or when the operator allowlists them; otherwise
//! they become `[release]` / `[environment]`, the same everywhere they are copied (events,
//! the header's trace, sessions, profiles, check-ins, span attributes), so sessions still
//! aggregate by the replacement.

use std::borrow::Cow;

use crate::ctx::{is_package_name, Ctx};
use crate::exception_text::Vocabulary;
use crate::values::Val;

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

/// `package@version` (the package's name made of words of code), or a bare version or
/// hash.
pub fn is_release_shaped(s: &str, vocab: &Vocabulary) -> bool {
    crate::work::charge(s.len());
    match s.rsplit_once('@') {
        Some((name, version)) => {
            is_package_name(name) && vocab.is_code(name, &[]) && is_version_or_hash(version)
        }
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
    let allowed = |s: &str| cx.policy.config.allowed_releases.iter().any(|a| a == s);
    let vocab = cx.policy.templates.vocabulary();
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
    let vocab = cx.policy.templates.vocabulary();
    let allowed = |s: &str| cx.policy.config.allowed_releases.iter().any(|a| a == s);
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
    let allowed = |s: &str| cx.policy.config.allowed_environments.iter().any(|a| a == s);
    decide(
        cx,
        v,
        is_environment_shaped,
        allowed,
        ENVIRONMENT_PLACEHOLDER,
    );
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
