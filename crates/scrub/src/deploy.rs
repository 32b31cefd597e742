//! `release` and `environment`: written by the operator's deployment, but free text all
//! the same (`release="alice-laptop-test"`). They leave when they look like a version or
//! a hash, or a known environment word, or when the operator allowlists them; otherwise
//! they become `[release]` / `[environment]`, the same everywhere they are copied (events,
//! the header's trace, sessions, profiles, check-ins, span attributes), so sessions still
//! aggregate by the replacement.

use std::borrow::Cow;

use crate::ctx::{is_package_name, Ctx};
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

/// A version (`1.4.2`, `v2.0.0-rc.1`, `2026.11.23`) or a hash (`8c21e0f3…`).
fn is_version_or_hash(s: &str) -> bool {
    let b = s.as_bytes();
    let version = s.len() <= 64
        && (b.first().is_some_and(u8::is_ascii_digit)
            || (b.first() == Some(&b'v') && b.get(1).is_some_and(u8::is_ascii_digit)))
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'+' | b'_'));
    let hash = (7..=64).contains(&s.len()) && b.iter().all(u8::is_ascii_hexdigit);
    version || hash
}

/// `package@version`, `package-version`'s version alone, or a bare version or hash.
pub fn is_release_shaped(s: &str) -> bool {
    match s.rsplit_once('@') {
        Some((name, version)) => is_package_name(name) && is_version_or_hash(version),
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
    decide(cx, v, is_release_shaped, allowed, RELEASE_PLACEHOLDER);
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
    shaped: fn(&str) -> bool,
    allowed: impl Fn(&str) -> bool,
    placeholder: &str,
) {
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
