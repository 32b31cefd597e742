//! Secrets in the configuration: how they are shown (`config show`, the start-up log) and
//! which admin tokens are refused. Kept apart from the validation of everything else so
//! that the rules are in one place and tested alone.

/// A URL with its secrets masked: the userinfo (`user:password@`) becomes `***@` and every
/// query value `***` (`?token=***`), so an operator still recognises the URL and SecOps sees
/// that a credential is set, never which. The path is kept: it names the endpoint.
pub fn mask_url(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    let host = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_owned(),
    };
    let mut out = format!("{scheme}://{host}{}", uri.path());
    if let Some(q) = uri.query() {
        let masked: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) => format!("{k}=***"),
                None => "***".to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&masked.join("&"));
    }
    out
}

/// Words that mark a token as a placeholder copied from an example, compared without case,
/// `-`, `_` or spaces.
const PLACEHOLDER_WORDS: &[&str] = &[
    "changeme",
    "replaceme",
    "placeholder",
    "example",
    "yourtoken",
    "insertsecret",
    "dummy",
    "notsecret",
    "todo",
    "fixme",
];

/// Why an admin token must be refused, or `None` when it may be used. The rule: at least 16
/// characters, at least 8 different ones (`aaaaaaaaaaaaaaaa` and `1111…` are not secrets),
/// and none of [`PLACEHOLDER_WORDS`] (the shipped `change-me-to-a-long-random-token` and its
/// kind). A real token comes from a generator: `openssl rand -hex 32`.
pub fn weak_admin_token(token: &str) -> Option<&'static str> {
    if token.chars().count() < 16 {
        return Some("use at least 16 characters");
    }
    let mut distinct: Vec<char> = token.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 8 {
        return Some("use at least 8 different characters");
    }
    let folded: String = token
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' ' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    if PLACEHOLDER_WORDS.iter().any(|w| folded.contains(w)) {
        return Some("this is a placeholder, not a secret");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials_not_their_shape() {
        let m = |s: &str| mask_url(&s.parse().unwrap());
        assert_eq!(
            m("https://app:hunter2@platform.example:8443/internal/consent.json?token=abc&v=2"),
            "https://***@platform.example:8443/internal/consent.json?token=***&v=***"
        );
        assert_eq!(
            m("http://platform:8000/internal/telemetry-consent.json"),
            "http://platform:8000/internal/telemetry-consent.json"
        );
        assert_eq!(m("http://h/x?secretonly"), "http://h/x?***");
        assert_eq!(m("http://a@b@h/"), "http://***@h/");
    }

    #[test]
    fn placeholder_and_weak_tokens_are_refused() {
        for (token, why) in [
            (
                "change-me-to-a-long-random-token",
                "this is a placeholder, not a secret",
            ),
            (
                "CHANGEME-CHANGEME-CHANGEME",
                "this is a placeholder, not a secret",
            ),
            (
                "please_Replace_Me_0123456789",
                "this is a placeholder, not a secret",
            ),
            (
                "your-token-here-0123456789",
                "this is a placeholder, not a secret",
            ),
            (
                "example-admin-key-9f8e7d6c",
                "this is a placeholder, not a secret",
            ),
            ("changeme", "use at least 16 characters"),
            (
                "aaaaaaaaaaaaaaaaaaaaaaaa",
                "use at least 8 different characters",
            ),
            ("0101010101010101", "use at least 8 different characters"),
        ] {
            assert_eq!(weak_admin_token(token), Some(why), "{token}");
        }
        for token in [
            "0123456789abcdef0123",
            "e2e-admin-token-7d1f0c9b",
            "9c1f3e8a27b64d05be1f44c0a9d3e712",
        ] {
            assert_eq!(weak_admin_token(token), None, "{token}");
        }
    }
}
