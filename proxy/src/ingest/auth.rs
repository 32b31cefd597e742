//! Who is sending: the public key from `X-Sentry-Auth`, the `sentry_key` query parameter or
//! the envelope header's `dsn`, checked against the projects the proxy accepts.
//!
//! The fields are read by `sentry_types::Auth::from_pairs`, Sentry's own reading of them
//! (`sentry_key`, `sentry_version`, `sentry_client`, the legacy `sentry_secret` and
//! `sentry_timestamp`); the query string is decoded by `form_urlencoded`. Three things stay
//! here because `sentry_types::Auth::from_str` does them differently from what the proxy must
//! do: the `Sentry ` scheme is optional (some clients send the bare pairs), a value runs to
//! the end of its pair instead of to the next `=`, and the same key given twice with two
//! values is a conflict instead of "the last one wins". The key itself is then held to what
//! real keys are (1 to 64 ASCII alphanumerics) before it reaches a map or a log.

use std::borrow::Cow;

use sentry_types::{Auth, ParseAuthError};

use super::reject::Reject;
use crate::dsn::Dsn;

/// What the request said about its key, before the envelope was read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RequestAuth {
    /// `sentry_key` from the `X-Sentry-Auth` header (or `Authorization: Sentry …`).
    pub header_key: Option<String>,
    /// `sentry_key` from the query string.
    pub query_key: Option<String>,
    /// `sentry_client` from the header or the query, e.g. `sentry.python/2.75.0`, when it has
    /// the strict `name/version` shape ([`crate::dsn::client_name`]): kept for upstream.
    pub client: Option<String>,
}

impl RequestAuth {
    /// Reads the auth header value (if any) and the query string (if any).
    ///
    /// The header is `Sentry sentry_key=…, sentry_version=7, sentry_client=…` (the scheme in
    /// any case, or left out); it must name a key. The query counts only for the `sentry_*`
    /// parameters it has, as browser SDKs send them (`?sentry_key=…&sentry_version=7`). A
    /// secret (`sentry_secret`, legacy SDKs) is read and dropped: it never leaves this function.
    pub fn from_parts(auth_header: Option<&str>, query: Option<&str>) -> Result<Self, Reject> {
        let mut auth = RequestAuth::default();
        if let Some(h) = auth_header {
            let pairs = strip_scheme(h).ok_or(Reject::BadAuthHeader)?;
            // A value is everything after the first `=` (`Auth::from_str` would cut it at a
            // second one, turning `sentry_key=abc=def` into the key `abc`).
            let pairs = pairs.split(',').filter_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                Some((Cow::Borrowed(k.trim()), Cow::Borrowed(v.trim())))
            });
            let parsed = read_pairs(pairs)?.ok_or(Reject::BadAuthHeader)?;
            auth.header_key = Some(clean_key(parsed.public_key())?);
            auth.client = parsed.client_agent().and_then(clean_client);
        }
        if let Some(q) = query {
            let pairs =
                form_urlencoded::parse(q.as_bytes()).filter(|(k, _)| k.starts_with("sentry_"));
            if let Some(parsed) = read_pairs(pairs)? {
                auth.query_key = Some(clean_key(parsed.public_key())?);
                if auth.client.is_none() {
                    auth.client = parsed.client_agent().and_then(clean_client);
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

/// The pairs after the `Sentry ` scheme (any case), or the whole value when it is bare pairs
/// (`sentry_key=…, …`); `None` for any other scheme (`Bearer …`).
fn strip_scheme(h: &str) -> Option<&str> {
    let h = h.trim();
    match h.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("sentry ") => Some(&h[7..]),
        _ if h.starts_with("sentry_") => Some(h),
        _ => None,
    }
}

/// Reads `sentry_*` pairs with `sentry_types::Auth::from_pairs`; `Ok(None)` when no pair names
/// a key at all. The key given twice with two values is a conflict (`from_pairs` would keep
/// the last one).
fn read_pairs<'a>(
    pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
) -> Result<Option<Auth>, Reject> {
    let mut key: Option<Cow<'a, str>> = None;
    let mut conflict = false;
    let checked = pairs.inspect(|(k, v)| {
        if k == "sentry_key" {
            match &key {
                Some(first) => conflict |= first != v,
                None => key = Some(v.clone()),
            }
        }
    });
    let parsed = Auth::from_pairs(checked);
    if conflict {
        return Err(Reject::AuthConflict);
    }
    match parsed {
        Ok(auth) => Ok(Some(auth)),
        Err(ParseAuthError::MissingPublicKey) if key.is_none() => Ok(None),
        // An empty key, or a `sentry_version` that is not a number.
        Err(_) => Err(Reject::BadAuthHeader),
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

/// The client name is forwarded upstream only in the strict `name/version` shape of
/// [`crate::dsn::client_name`]; any other is dropped (the proxy's own name goes instead).
fn clean_client(v: &str) -> Option<String> {
    crate::dsn::client_name(v.trim()).map(str::to_owned)
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

    /// What the SDKs send, byte for byte as their transports write it.
    #[test]
    fn reads_what_real_sdks_send() {
        let key = "0123456789abcdef0123456789abcdef";
        for (header, query, client) in [
            // sentry-python 2.x and 1.x (`Auth.to_header`).
            (
                Some(format!("Sentry sentry_key={key}, sentry_version=7, sentry_client=sentry.python/2.75.0")),
                None,
                Some("sentry.python/2.75.0"),
            ),
            (
                Some(format!("Sentry sentry_key={key}, sentry_version=7, sentry_client=sentry.python/1.45.1")),
                None,
                Some("sentry.python/1.45.1"),
            ),
            // raven-python and other legacy clients: timestamp first, a secret, version 6.
            (
                Some(format!(
                    "Sentry sentry_timestamp=1329096377.0, sentry_client=raven-python/6.10.0, \
                     sentry_version=6, sentry_key={key}, sentry_secret=fedcba9876543210"
                )),
                None,
                Some("raven-python/6.10.0"),
            ),
            // The bare pairs, without the scheme.
            (
                Some(format!("sentry_key={key}, sentry_version=7")),
                None,
                None,
            ),
            // @sentry/node and the browser SDKs: the query string, client URL-encoded.
            (
                None,
                Some(format!("sentry_version=7&sentry_key={key}&sentry_client=sentry.javascript.node%2F8.55.0")),
                Some("sentry.javascript.node/8.55.0"),
            ),
            (
                None,
                Some(format!("sentry_key={key}&sentry_version=7&sentry_client=sentry.javascript.browser%2F9.1.0")),
                Some("sentry.javascript.browser/9.1.0"),
            ),
        ] {
            let a = RequestAuth::from_parts(header.as_deref(), query.as_deref())
                .unwrap_or_else(|e| panic!("{header:?} {query:?}: {e:?}"));
            assert_eq!(a.key(), Some(key), "{header:?} {query:?}");
            assert_eq!(a.client.as_deref(), client, "{header:?} {query:?}");
            // The secret is read and dropped.
            assert!(!format!("{a:?}").contains("fedcba"), "{a:?}");
        }
        // Header and query may both carry the key when they agree.
        let a = RequestAuth::from_parts(
            Some("Sentry sentry_key=abc, sentry_version=7"),
            Some("sentry_key=abc&sentry_client=x%2F1&foo=bar"),
        )
        .unwrap();
        assert_eq!((a.key(), a.client.as_deref()), (Some("abc"), Some("x/1")));
        // A query without `sentry_*` parameters is no auth at all.
        let a = RequestAuth::from_parts(None, Some("foo=bar&x")).unwrap();
        assert_eq!(a, RequestAuth::default());
    }

    #[test]
    fn the_same_key_twice_must_agree() {
        let a = RequestAuth::from_parts(Some("Sentry sentry_key=abc, sentry_key=abc"), None);
        assert_eq!(a.unwrap().key(), Some("abc"));
        assert_eq!(
            RequestAuth::from_parts(Some("Sentry sentry_key=abc, sentry_key=def"), None),
            Err(Reject::AuthConflict)
        );
        assert_eq!(
            RequestAuth::from_parts(None, Some("sentry_key=abc&sentry_key=def")),
            Err(Reject::AuthConflict)
        );
    }

    #[test]
    fn malformed_headers_are_rejected() {
        for h in [
            "Bearer x",
            "Sentry",
            "Sentry sentry_version=7",
            "Sentry sentry_key=a/b",
            "Sentry sentry_key=",
            // Cut at the second `=`, this would pass as the key `abc`.
            "Sentry sentry_key=abc=def",
            "Sentry sentry_key=abc, sentry_version=seven",
            "sentry_version=7",
        ] {
            assert_eq!(
                RequestAuth::from_parts(Some(h), None),
                Err(Reject::BadAuthHeader),
                "{h}"
            );
        }
        for q in [
            "sentry_key=",
            "sentry_key=a%2Fb",
            "sentry_key=abc&sentry_version=x",
        ] {
            assert_eq!(
                RequestAuth::from_parts(None, Some(q)),
                Err(Reject::BadAuthHeader),
                "{q}"
            );
        }
    }

    /// A client name that is not `name/version` is not kept, so the
    /// proxy's own name goes upstream instead.
    #[test]
    fn only_strict_client_names_are_kept() {
        let a = RequestAuth::from_parts(
            Some("Sentry sentry_key=abc, sentry_client=alice.smith@example.com/DE89370400440532013000"),
            None,
        )
        .unwrap();
        assert_eq!((a.key(), a.client.as_deref()), (Some("abc"), None));
        let a = RequestAuth::from_parts(
            None,
            Some("sentry_key=abc&sentry_client=x%2Csentry_key%3Dffffffffffffffffffffffffffffffff"),
        )
        .unwrap();
        assert_eq!((a.key(), a.client.as_deref()), (Some("abc"), None));
        // A bad name in the header does not hide a good one in the query.
        let a = RequestAuth::from_parts(
            Some("Sentry sentry_key=abc, sentry_client=not a name"),
            Some("sentry_key=abc&sentry_client=sentry.javascript.browser%2F9.1.0"),
        )
        .unwrap();
        assert_eq!(a.client.as_deref(), Some("sentry.javascript.browser/9.1.0"));
    }
}
