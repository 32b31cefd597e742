//! The pieces of configuration shared with the `scrub` subcommand (policy, consent) and
//! the value parsers (addresses, sizes, durations, the egress proxy). Each pushes a message
//! naming its flag into `errs` instead of failing, so every problem is reported at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::cli::{ConsentArgs, ExceptionMessages, LogMessages, PolicyArgs, UnattributedArg};

use super::ConsentConfig;

/// The CONNECT proxy: the flag, else `HTTPS_PROXY`/`https_proxy` unless `NO_PROXY` names the
/// upstream host. Returns the proxy URI and its `Proxy-Authorization` (from userinfo).
// `HTTPS_PROXY`/`NO_PROXY` are the one setting read from the environment by hand: their names
// are the convention every HTTP client follows, not the proxy's `SENTRY_PROXY_*` flags.
#[allow(clippy::disallowed_methods)]
pub(super) fn egress_proxy(
    flag: Option<&str>,
    upstream_host: Option<&str>,
    errs: &mut Vec<String>,
) -> Option<(http::Uri, Option<http::HeaderValue>)> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let (value, what) = match flag {
        Some(v) => (v.to_owned(), "--egress-proxy"),
        None => {
            let v = env("HTTPS_PROXY").or_else(|| env("https_proxy"))?;
            let no_proxy = env("NO_PROXY")
                .or_else(|| env("no_proxy"))
                .unwrap_or_default();
            let host = upstream_host?;
            if no_proxy
                .split(',')
                .map(str::trim)
                .any(|n| n == "*" || n == host || (n.starts_with('.') && host.ends_with(n)))
            {
                return None;
            }
            (v, "HTTPS_PROXY")
        }
    };
    let uri: http::Uri = match value.parse() {
        Ok(u) => u,
        Err(_) => {
            errs.push(format!("{what}: expected http://host:port"));
            return None;
        }
    };
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        errs.push(format!(
            "{what}: expected http://host:port (a CONNECT proxy)"
        ));
        return None;
    }
    let auth = uri
        .authority()
        .and_then(|a| a.as_str().rsplit_once('@'))
        .map(|(userinfo, _)| {
            use base64::Engine as _;
            let token = base64::engine::general_purpose::STANDARD.encode(userinfo);
            http::HeaderValue::from_str(&format!("Basic {token}")).ok()
        });
    let port = uri.port_u16().unwrap_or(80);
    let host = uri.host().unwrap_or_default();
    let clean: http::Uri = format!("http://{host}:{port}").parse().ok()?;
    Some((clean, auth.flatten()))
}

fn trimmed(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Compiles the scrubbing policy from its flags; a detector that does not build is an error.
pub fn policy(a: &PolicyArgs, errs: &mut Vec<String>) -> Option<Arc<scrub::Policy>> {
    let config = scrub::PolicyConfig {
        exception_messages: match a.exception_messages {
            ExceptionMessages::Template => scrub::MessageMode::Template,
            ExceptionMessages::Detect => scrub::MessageMode::Detect,
            ExceptionMessages::Drop => scrub::MessageMode::Drop,
        },
        technical_exception_types: trimmed(&a.technical_exceptions),
        log_messages: match a.log_messages {
            LogMessages::Template => scrub::LogMode::Template,
            LogMessages::Detect => scrub::LogMode::Detect,
            LogMessages::Drop => scrub::LogMode::Drop,
        },
        company_tag: a.company_tag.trim().to_owned(),
        extra_tags: a
            .keep_tags
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        request_headers: a
            .keep_headers
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        keep_server_name: a.keep_server_name,
        allow_profiles: a.allow_profiles,
        allow_check_ins: a.allow_check_ins,
        allowed_releases: trimmed(&a.allowed_releases),
        allowed_environments: trimmed(&a.allowed_environments),
        source_context: a.source_context,
        allowed_hosts: trimmed(&a.allowed_hosts),
    };
    // Every bad pattern is reported, not only the first one the policy meets.
    let mut bad_pattern = false;
    for (flag, patterns) in [
        ("--allowed-releases", &config.allowed_releases),
        ("--allowed-environments", &config.allowed_environments),
    ] {
        for p in patterns {
            if let Some(why) = scrub::pattern_error(p) {
                errs.push(format!("{flag}: pattern {p:?}: {why}"));
                bad_pattern = true;
            }
        }
    }
    if bad_pattern {
        return None;
    }
    match scrub::Policy::new(config) {
        Ok(p) => Some(Arc::new(p)),
        Err(scrub::PolicyError::EmptyCompanyTag) => {
            errs.push("--company-tag: must not be empty".into());
            None
        }
        Err(e) => {
            errs.push(format!("scrubbing policy: {e}"));
            None
        }
    }
}

/// Consent flags; without any source, only a dry run may start (it then assumes consent).
pub fn consent_config(a: &ConsentArgs, dry_run: bool, errs: &mut Vec<String>) -> ConsentConfig {
    let poll_interval = duration("--consent-poll-interval", &a.consent_poll_interval, errs);
    let max_age = duration("--consent-max-age", &a.consent_max_age, errs);
    let fetch_timeout = duration("--consent-fetch-timeout", &a.consent_fetch_timeout, errs);
    if a.consent_file.is_some() && a.consent_url.is_some() {
        errs.push("--consent-file and --consent-url: choose one source of truth".into());
    }
    let url = a
        .consent_url
        .as_deref()
        .and_then(|u| match u.parse::<http::Uri>() {
            Ok(uri)
                if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() =>
            {
                Some(uri)
            }
            _ => {
                errs.push("--consent-url: expected an http:// or https:// URL".into());
                None
            }
        });
    ConsentConfig {
        file: a.consent_file.clone(),
        url,
        poll_interval: poll_interval.unwrap_or(Duration::from_secs(30)),
        max_age: max_age.unwrap_or(Duration::from_secs(900)),
        fetch_timeout: fetch_timeout.unwrap_or(Duration::from_secs(10)),
        tls: None,
        unattributed: match a.unattributed {
            UnattributedArg::Drop => consent::Unattributed::Drop,
            UnattributedArg::Forward => consent::Unattributed::Forward,
        },
        assume_without_source: dry_run && a.consent_file.is_none() && a.consent_url.is_none(),
    }
}

pub(super) fn addr(flag: &str, s: &str, errs: &mut Vec<String>) -> Option<SocketAddr> {
    s.parse()
        .map_err(|_| errs.push(format!("{flag}: expected IP:PORT, e.g. 127.0.0.1:9000")))
        .ok()
}

/// Parses `20MiB`, `1MB`, `512KiB`, `1048576`.
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num.parse().ok()?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult).filter(|&v| v > 0)
}

pub(super) fn size(flag: &str, s: &str, errs: &mut Vec<String>) -> Option<usize> {
    let v = parse_size(s);
    if v.is_none() {
        errs.push(format!(
            "{flag}: expected a positive size such as 20MiB, 512KiB or 1048576"
        ));
    }
    v
}

/// Parses `500ms`, `10s`, `5m`, `1h`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        _ => return None,
    };
    Some(d).filter(|d| !d.is_zero())
}

pub(super) fn duration(flag: &str, s: &str, errs: &mut Vec<String>) -> Option<Duration> {
    let v = parse_duration(s);
    if v.is_none() {
        errs.push(format!(
            "{flag}: expected a positive duration such as 500ms, 10s or 5m"
        ));
    }
    v
}
