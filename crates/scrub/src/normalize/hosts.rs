//! Host names: technical when they name a service, free text when they name a person's
//! machine (`zephyrine-laptop.corp-intra.example.net`) or a customer.
//!
//! One rule for every place a host appears (URLs of requests and spans, exception
//! messages): a host stays when it is an IP literal (the IP detectors judge it next:
//! loopback and private ranges stay, public addresses become `[ip]`), `localhost`, on the
//! operator's allowlist (`--allowed-hosts`), or made only of words of code (`db`,
//! `redis-primary.prod.internal`, `api.openai.com`); otherwise it becomes [`HOST`].

use std::ops::Range;

use crate::words::Vocabulary;

/// What a host that is not technical becomes.
pub const HOST: &str = "[host]";

/// Is `host` technical? `allowed` holds exact names, or `.example.com` (also written
/// `*.example.com`) for a domain and its subdomains.
pub fn is_technical(host: &str, vocab: &Vocabulary, allowed: &[String]) -> bool {
    crate::work::charge(host.len() * (1 + allowed.len()));
    let lower = host.to_ascii_lowercase();
    let bare = lower.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    if lower == "localhost" || lower.ends_with(".localhost") {
        return true;
    }
    let allowlisted = allowed.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        match a.strip_prefix('*').unwrap_or(&a).strip_prefix('.') {
            Some(domain) => lower == domain || lower.ends_with(&format!(".{domain}")),
            None => lower == a,
        }
    });
    allowlisted
        || (!lower.is_empty()
            && lower.len() <= 253
            && lower
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            && lower.split('.').all(|label| vocab.is_code(label, &[])))
}

/// Where the host of an absolute URL (`scheme://[user@]host[:port]/…`) is, as a byte range.
pub fn host_range(url: &str) -> Option<Range<usize>> {
    crate::work::charge(url.len());
    let start = url.find("://")? + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |k| start + k);
    let authority = &url[start..end];
    let host_start = authority.rfind('@').map_or(start, |k| start + k + 1);
    let host = &url[host_start..end];
    let host_end = if host.starts_with('[') {
        host.find(']').map_or(end, |k| host_start + k + 1)
    } else {
        match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host_start + h.len(),
            _ => end,
        }
    };
    (host_end > host_start).then_some(host_start..host_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_stay_machines_of_people_go() {
        let v = Vocabulary::default();
        let allowed = vec![
            ".corp.example.com".to_owned(),
            "files.example.org".to_owned(),
        ];
        for h in [
            "127.0.0.1",
            "[::1]",
            "8.8.8.8",
            "localhost",
            "db",
            "redis-primary.prod.internal",
            "api.openai.com",
            "elastic.corp.example.com",
            "files.example.org",
        ] {
            assert!(is_technical(h, &v, &allowed), "{h}");
        }
        for h in [
            "zephyrine-laptop.corp-intra.example.net",
            "zephyrine-laptop",
            "mbp-de-zephyrine.local",
            "jdoe-pc.home.arpa",
            "quillfeather.example.com",
        ] {
            assert!(!is_technical(h, &v, &allowed), "{h}");
        }
    }

    #[test]
    fn finds_the_host_of_a_url() {
        fn at(u: &str) -> Option<&str> {
            host_range(u).map(|r| &u[r])
        }
        assert_eq!(at("https://a.example.com:8443/x?y"), Some("a.example.com"));
        assert_eq!(at("http://user@host/x"), Some("host"));
        assert_eq!(at("http://[::1]:9000/"), Some("[::1]"));
        assert_eq!(at("redis://cache"), Some("cache"));
        assert_eq!(at("/relative/path"), None);
        assert_eq!(at("file:///etc/hosts"), None);
    }
}
