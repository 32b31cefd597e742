//! Who is sending: the public key from `X-Sentry-Auth`, the `sentry_key` query parameter or
//! the envelope header's `dsn`, checked against the projects the proxy accepts.

use super::reject::Reject;
use crate::dsn::Dsn;

/// What the request said about its key, before the envelope was read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RequestAuth {
    /// `sentry_key` from the `X-Sentry-Auth` header (or `Authorization: Sentry …`).
    pub header_key: Option<String>,
    /// `sentry_key` from the query string.
    pub query_key: Option<String>,
    /// `sentry_client` from the header or the query, e.g. `sentry.python/2.75.0`: kept for upstream.
    pub client: Option<String>,
}

impl RequestAuth {
    /// Reads the auth header value (if any) and the query string (if any).
    pub fn from_parts(auth_header: Option<&str>, query: Option<&str>) -> Result<Self, Reject> {
        let mut auth = RequestAuth::default();
        if let Some(h) = auth_header {
            let h = h.trim();
            let rest = match h.get(..7) {
                Some(p) if p.eq_ignore_ascii_case("sentry ") => &h[7..],
                _ => return Err(Reject::BadAuthHeader),
            };
            for pair in rest.split(',') {
                let Some((k, v)) = pair.trim().split_once('=') else {
                    continue;
                };
                match k.trim() {
                    "sentry_key" => auth.header_key = Some(clean_key(v)?),
                    "sentry_client" => auth.client = Some(clean_client(v)),
                    _ => {}
                }
            }
            if auth.header_key.is_none() {
                return Err(Reject::BadAuthHeader);
            }
        }
        if let Some(q) = query {
            for pair in q.split('&') {
                let Some((k, v)) = pair.split_once('=') else {
                    continue;
                };
                match k {
                    "sentry_key" => auth.query_key = Some(clean_key(v)?),
                    "sentry_client" if auth.client.is_none() => {
                        auth.client = Some(clean_client(&percent_decode(v)))
                    }
                    _ => {}
                }
            }
        }
        if let (Some(h), Some(q)) = (&auth.header_key, &auth.query_key) {
            if h != q {
                return Err(Reject::AuthConflict);
            }
        }
        Ok(auth)
    }

    /// The key the request carries, from header or query, if any.
    pub fn key(&self) -> Option<&str> {
        self.header_key.as_deref().or(self.query_key.as_deref())
    }

    /// Folds in the envelope header's `dsn`: it must agree with the request's key and project.
    pub fn resolve(
        &self,
        envelope_dsn: Option<&str>,
        path_project: &str,
    ) -> Result<String, Reject> {
        let from_dsn = match envelope_dsn {
            Some(s) => {
                let dsn: Dsn = s.parse().map_err(|_| Reject::BadEnvelopeDsn)?;
                if dsn.project_id != path_project {
                    return Err(Reject::AuthConflict);
                }
                Some(dsn.public_key)
            }
            None => None,
        };
        match (self.key(), from_dsn) {
            (Some(k), Some(d)) if k != d => Err(Reject::AuthConflict),
            (Some(k), _) => Ok(k.to_owned()),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(Reject::MissingAuth),
        }
    }
}

/// Public keys are hex in practice; anything but ASCII alphanumerics is refused rather than
/// carried into logs or maps.
fn clean_key(v: &str) -> Result<String, Reject> {
    let v = v.trim();
    if v.is_empty() || v.len() > 64 || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Reject::BadAuthHeader);
    }
    Ok(v.to_owned())
}

/// The client name is forwarded upstream; keep it short and printable.
fn clean_client(v: &str) -> String {
    v.trim()
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect()
}

fn percent_decode(v: &str) -> String {
    let b = v.as_bytes();
    let hex = |i: usize| b.get(i).and_then(|&c| (c as char).to_digit(16));
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
            (b'+', _, _) => out.push(b' '),
            (c, _, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_header_and_query() {
        let a = RequestAuth::from_parts(
            Some("Sentry sentry_key=abc, sentry_version=7, sentry_client=sentry.python/2.75.0"),
            None,
        )
        .unwrap();
        assert_eq!(a.key(), Some("abc"));
        assert_eq!(a.client.as_deref(), Some("sentry.python/2.75.0"));

        let a = RequestAuth::from_parts(
            None,
            Some("sentry_key=abc&sentry_version=7&sentry_client=sentry.javascript.browser%2F8.0.0"),
        )
        .unwrap();
        assert_eq!(a.key(), Some("abc"));
        assert_eq!(a.client.as_deref(), Some("sentry.javascript.browser/8.0.0"));
    }

    #[test]
    fn conflicting_methods_are_rejected() {
        assert_eq!(
            RequestAuth::from_parts(Some("Sentry sentry_key=abc"), Some("sentry_key=def")),
            Err(Reject::AuthConflict)
        );
        let a = RequestAuth::from_parts(Some("Sentry sentry_key=abc"), None).unwrap();
        assert_eq!(
            a.resolve(Some("https://def@h/1"), "1"),
            Err(Reject::AuthConflict)
        );
        assert_eq!(
            a.resolve(Some("https://abc@h/2"), "1"),
            Err(Reject::AuthConflict)
        );
        assert_eq!(a.resolve(Some("https://abc@h/1"), "1"), Ok("abc".into()));
        let none = RequestAuth::default();
        assert_eq!(none.resolve(None, "1"), Err(Reject::MissingAuth));
        assert_eq!(none.resolve(Some("https://abc@h/1"), "1"), Ok("abc".into()));
        assert_eq!(
            none.resolve(Some("not a dsn"), "1"),
            Err(Reject::BadEnvelopeDsn)
        );
    }

    #[test]
    fn malformed_headers_are_rejected() {
        for h in [
            "Bearer x",
            "Sentry sentry_version=7",
            "Sentry sentry_key=a/b",
        ] {
            assert_eq!(
                RequestAuth::from_parts(Some(h), None),
                Err(Reject::BadAuthHeader),
                "{h}"
            );
        }
    }
}
