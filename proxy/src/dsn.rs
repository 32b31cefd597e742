//! Sentry DSNs: `{scheme}://{public_key}@{host}[:{port}]/{path/}{project_id}`.
//!
//! The URL grammar is `sentry_types::Dsn`'s (the `url` crate underneath: userinfo up to the
//! last `@`, bracketed IPv6, ports, IDNA and case of host names). On top of it the proxy is
//! stricter, because a DSN here is either the upstream it will send to or a claim it checks
//! a request's key against: the key must be ASCII alphanumeric, the project id a number,
//! and nothing may hide in a query, a fragment or a control character (the URL parser drops
//! those without a word).
//!
//! The SDK's client name ([`client_name`]) lives here too: it is the other part of a
//! request's Sentry identity that goes upstream, and both ingest and egress check it.

use std::fmt;
use std::str::FromStr;

use sentry_types::ParseDsnError;

/// A parsed Sentry DSN. The secret part of old DSNs (`key:secret@`) is accepted and dropped:
/// modern ingest only needs the public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dsn {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// The project's public key (`sentry_key`).
    pub public_key: String,
    /// Host name (lower case, IDNA) or IP literal, without brackets or port.
    pub host: String,
    /// Explicit port, if any other than the scheme's default.
    pub port: Option<u16>,
    /// Path prefix before the project id, with leading and trailing `/` (usually `/`).
    pub path: String,
    /// The project id (the last path segment).
    pub project_id: String,
}

/// The scheme of a DSN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP: accepted upstream only with `--insecure-upstream`.
    Http,
    /// HTTPS.
    Https,
}

/// Why a DSN did not parse. Carries no part of the input: DSNs hold keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DsnError {
    /// Not `http://` or `https://`.
    #[error("the scheme must be http or https")]
    Scheme,
    /// No `key@` before the host, or a key that is not ASCII alphanumeric.
    #[error("the public key (the part before '@') is missing")]
    MissingKey,
    /// Empty host or a bad port.
    #[error("the host or port is invalid")]
    Host,
    /// No numeric project id as last path segment.
    #[error("the project id (the last path segment) is missing or not a number")]
    ProjectId,
    /// A query or fragment, which DSNs never have.
    #[error("a DSN has no query or fragment")]
    Query,
    /// A space or control character inside (the URL parser would drop tabs and newlines).
    #[error("a DSN has no spaces or control characters")]
    Whitespace,
}

impl FromStr for Dsn {
    type Err = DsnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        // Checked before the URL parser: its `InvalidUrl` would not say the scheme was wrong,
        // and it silently drops what these checks refuse.
        let scheme = if starts_with_ci(s, "https://") {
            Scheme::Https
        } else if starts_with_ci(s, "http://") {
            Scheme::Http
        } else {
            return Err(DsnError::Scheme);
        };
        if s.contains(['?', '#']) {
            return Err(DsnError::Query);
        }
        if s.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(DsnError::Whitespace);
        }
        let dsn: sentry_types::Dsn = s.parse().map_err(|e| match e {
            // The scheme is known good here, so what the URL parser refuses is the authority.
            ParseDsnError::InvalidUrl => DsnError::Host,
            ParseDsnError::InvalidScheme => DsnError::Scheme,
            ParseDsnError::NoUsername => DsnError::MissingKey,
            ParseDsnError::NoProjectId | ParseDsnError::InvalidProjectId(_) => DsnError::ProjectId,
        })?;
        // The URL parser percent-encodes what it does not allow in a user name, so a key
        // with `@`, `:` or spaces shows up here as non-alphanumeric.
        let public_key = dsn.public_key();
        if !public_key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(DsnError::MissingKey);
        }
        let project_id = dsn.project_id().value();
        if project_id.is_empty() || !project_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DsnError::ProjectId);
        }
        let host = dsn.host();
        // `url` writes IPv6 literals bracketed; `origin` puts the brackets back.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port = dsn.port();
        Ok(Dsn {
            scheme,
            public_key: public_key.to_owned(),
            host: host.to_owned(),
            // `url` already forgets a port equal to the scheme's default.
            port: (port != dsn.scheme().default_port()).then_some(port),
            path: dsn.path().to_owned(),
            project_id: project_id.to_owned(),
        })
    }
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

impl Dsn {
    /// `scheme://host[:port]`, the origin requests go to.
    pub fn origin(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        }
    }

    /// The envelope endpoint of this DSN's project.
    pub fn envelope_url(&self) -> String {
        format!(
            "{}{}api/{}/envelope/",
            self.origin(),
            self.path,
            self.project_id
        )
    }

    /// The DSN with its public key masked, for logs and `config show`.
    pub fn masked(&self) -> String {
        // Real keys are 32 hex digits: four of them identify it without giving it away.
        let key = if self.public_key.len() > 8 {
            &self.public_key[..4]
        } else {
            ""
        };
        format!(
            "{}://{key}…@{}{}{}",
            match self.scheme {
                Scheme::Http => "http",
                Scheme::Https => "https",
            },
            self.origin().split_once("://").map(|x| x.1).unwrap_or(""),
            self.path,
            self.project_id
        )
    }
}

impl fmt::Display for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, host) = self.origin().split_once("://").map_or_else(
            || (String::new(), String::new()),
            |(a, b)| (a.to_owned(), b.to_owned()),
        );
        write!(
            f,
            "{scheme}://{}@{host}{}{}",
            self.public_key, self.path, self.project_id
        )
    }
}

/// The SDK's `sentry_client` as the proxy forwards it in the upstream's `X-Sentry-Auth`:
/// only a strict `name/version` (a lower-case name of 1 to 64 of `a-z 0-9 . _ -` starting
/// with a letter or digit, then a version of 1 to 32 of `0-9 A-Z a-z . + -` starting with a
/// digit), e.g. `sentry.python/2.20.0`, `sentry.javascript.node/8.1.0`,
/// `raven-python/6.10.0`. Anything else (`None`) is replaced by the proxy's own name: the
/// field is written by the SDK's host and must carry neither a person's data nor a second
/// auth pair (`x,sentry_key=…`).
pub fn client_name(v: &str) -> Option<&str> {
    let (name, version) = v.split_once('/')?;
    let name_ok = (1..=64).contains(&name.len())
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    let version_ok = (1..=32).contains(&version.len())
        && version.as_bytes()[0].is_ascii_digit()
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+-".contains(&b));
    (name_ok && version_ok).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_saas_and_self_hosted_dsns() {
        let d: Dsn = "https://abc123@o1.ingest.de.sentry.io/42".parse().unwrap();
        assert_eq!(d.scheme, Scheme::Https);
        assert_eq!(d.public_key, "abc123");
        assert_eq!(d.host, "o1.ingest.de.sentry.io");
        assert_eq!(d.port, None);
        assert_eq!(d.project_id, "42");
        assert_eq!(
            d.envelope_url(),
            "https://o1.ingest.de.sentry.io/api/42/envelope/"
        );
        assert_eq!(d.to_string(), "https://abc123@o1.ingest.de.sentry.io/42");

        let d: Dsn = "http://k:oldsecret@[::1]:9000/sentry/7/".parse().unwrap();
        assert_eq!(d.host, "::1");
        assert_eq!(d.port, Some(9000));
        assert_eq!(d.path, "/sentry/");
        assert_eq!(d.envelope_url(), "http://[::1]:9000/sentry/api/7/envelope/");
        assert_eq!(d.masked(), "http://…@[::1]:9000/sentry/7");

        // Host names compare as DNS does; a default port is no port.
        let d: Dsn = "HTTPS://abc123@O1.Ingest.DE.sentry.io:443/42"
            .parse()
            .unwrap();
        assert_eq!(d.scheme, Scheme::Https);
        assert_eq!((d.host.as_str(), d.port), ("o1.ingest.de.sentry.io", None));
        assert_eq!(d.to_string(), "https://abc123@o1.ingest.de.sentry.io/42");
        let d: Dsn = "http://k@127.0.0.1:80/1".parse().unwrap();
        assert_eq!(d.origin(), "http://127.0.0.1");
        let d: Dsn = "http://k@127.0.0.1:8080/1".parse().unwrap();
        assert_eq!(d.origin(), "http://127.0.0.1:8080");
    }

    #[test]
    fn rejects_bad_dsns_without_echoing_them() {
        for (s, e) in [
            ("ftp://k@h/1", DsnError::Scheme),
            ("https://h/1", DsnError::MissingKey),
            ("https://@h/1", DsnError::MissingKey),
            ("https://k@/1", DsnError::Host),
            ("https://k@h:99999/1", DsnError::Host),
            ("https://k@h", DsnError::ProjectId),
            ("https://k@h/abc", DsnError::ProjectId),
            ("https://k@h/1?x=1", DsnError::Query),
            ("https://k@h/4\t2", DsnError::Whitespace),
            ("https://k@h/4 2", DsnError::Whitespace),
            // Userinfo ends at the last `@`: the host is `evil.example`, the key `k@h` is no key.
            ("https://k@h@evil.example/1", DsnError::MissingKey),
            ("https://k@[zz]/1", DsnError::Host),
            ("https://k@h:x/1", DsnError::Host),
            ("https://k@h/", DsnError::ProjectId),
        ] {
            assert_eq!(s.parse::<Dsn>(), Err(e), "{s}");
        }
    }

    #[test]
    fn client_names_are_name_slash_version_only() {
        for ok in [
            "sentry.python/2.20.0",
            "sentry.javascript.node/8.1.0",
            "raven-python/6.10.0",
            "sentry.java.android/7.0.0-beta.1",
            "sentry_ruby/5.0.0+build.7",
            "x/1",
        ] {
            assert_eq!(client_name(ok), Some(ok), "{ok}");
        }
        for bad in [
            "alice.smith@example.com/DE89370400440532013000",
            "x,sentry_key=ffffffffffffffffffffffffffffffff/1",
            "x/1, sentry_key=ffff",
            "sentry.python/2.20.0 (Alice Smith)",
            "Sentry.Python/2.0",
            "sentry.python",
            "/1.0",
            "sentry.python/",
            "sentry.python/v2",
            "sentry.python/2/3",
            ".hidden/1",
            "name/1\r\nx-evil: 1",
            "",
        ] {
            assert_eq!(client_name(bad), None, "{bad:?}");
        }
        let long_name = format!("{}/1.0", "a".repeat(65));
        assert_eq!(client_name(&long_name), None);
        let long_version = format!("a/{}", "1".repeat(33));
        assert_eq!(client_name(&long_version), None);
        let longest = format!("{}/{}", "a".repeat(64), "1".repeat(32));
        assert_eq!(client_name(&longest), Some(longest.as_str()));
    }
}
