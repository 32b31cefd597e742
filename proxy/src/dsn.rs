//! Sentry DSNs: `{scheme}://{public_key}@{host}[:{port}]/{path/}{project_id}`.

use std::fmt;
use std::str::FromStr;

/// A parsed Sentry DSN. The secret part of old DSNs (`key:secret@`) is accepted and dropped:
/// modern ingest only needs the public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dsn {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// The project's public key (`sentry_key`).
    pub public_key: String,
    /// Host name or IP literal, without port.
    pub host: String,
    /// Explicit port, if any.
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
    /// No `key@` before the host.
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
}

impl FromStr for Dsn {
    type Err = DsnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (scheme, rest) = if let Some(r) = s.strip_prefix("https://") {
            (Scheme::Https, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (Scheme::Http, r)
        } else {
            return Err(DsnError::Scheme);
        };
        if rest.contains(['?', '#']) {
            return Err(DsnError::Query);
        }
        let (userinfo, rest) = rest.split_once('@').ok_or(DsnError::MissingKey)?;
        let public_key = userinfo.split(':').next().unwrap_or_default();
        if public_key.is_empty() || !public_key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(DsnError::MissingKey);
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => return Err(DsnError::ProjectId),
        };
        let (host, port) = split_host_port(authority)?;
        let path = path.trim_end_matches('/');
        let (prefix, project_id) = path.rsplit_once('/').ok_or(DsnError::ProjectId)?;
        if project_id.is_empty() || !project_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DsnError::ProjectId);
        }
        Ok(Dsn {
            scheme,
            public_key: public_key.to_owned(),
            host: host.to_owned(),
            port,
            path: format!("{prefix}/"),
            project_id: project_id.to_owned(),
        })
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), DsnError> {
    // IPv6 literals come bracketed: `[::1]:9000`.
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or(DsnError::Host)?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(DsnError::Host);
    }
    let port = match port {
        Some(p) => Some(p.parse::<u16>().map_err(|_| DsnError::Host)?),
        None => None,
    };
    Ok((host, port))
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
        ] {
            assert_eq!(s.parse::<Dsn>(), Err(e), "{s}");
        }
    }
}
