//! Record ids inside URL paths and keys: masked when the company did not allow IDs.
//!
//! A company's consent has two boxes: telemetry, then IDs. The company and user ids are
//! not only in the company tag and `user.id`: they are in the paths the application serves
//! and calls (`/api/companies/8/users/4242/invoices/977`) and in the keys it caches under
//! (`user:4242:profile`). Without ID consent those parts become [`ID_PLACEHOLDER`], the
//! `*` Sentry's own transaction clusterer writes for a parameter
//! (`/api/companies/*/users/*/invoices/*`), so the route still reads.
//!
//! The class, for one path segment or key part ([`is_id_segment`]): a number, a UUID, a hex
//! id, an id mixing letters and digits (`u4242`, `ord_8f3a91c2`, `INV-2024-0042`), a
//! base64-ish token with digits. What stays, because the support engineer needs the route:
//! template parameters (`{id}`, `<int:pk>`), version segments (`v1`, `v2beta1`, `1.2.3`),
//! technical words that carry a digit (`2fa`, `oauth2`, `s3`, `html5`, `i18n`, `sha256`,
//! durations such as `24h`, sizes such as `200x200`) and build artefacts (`main.8c21e0f3.js`).
//! A word without a digit is not judged here: [`super::ident::is_technical_segment`] masks
//! the names and slugs among them whatever the consent.
//!
//! Pure and total like the rest of [`crate::normalize`]; `None` means unchanged.

use super::ident::{is_param, FILE_EXTENSIONS, MASKED_SEGMENT};
use super::url::map_segments;

/// What an id becomes: the one placeholder the proxy writes for a masked path segment.
pub const ID_PLACEHOLDER: &str = MASKED_SEGMENT;

/// Words and segments with a digit that name technology, not a record (compared
/// lower-case, sorted for binary search).
#[rustfmt::skip]
const TECHNICAL: &[&str] = &[
    "2fa", "3ds", "4g", "4k", "5g", "a11y", "aarch64", "aes128", "aes256", "amd64", "arm64",
    "av1", "b2b", "b2c", "base32", "base58", "base64", "c14n", "cp1252", "crc32", "css3",
    "e2e", "ec2", "ed25519", "es2015", "es5", "es6", "fido2", "float32", "float64", "h2",
    "h264", "h265", "h3", "html5", "http1", "http2", "http3", "i18n", "int16", "int32",
    "int64", "int8", "ipv4", "ipv6", "iso-8859-1", "k8s", "l10n", "latin1", "m2m", "md5",
    "mp3", "mp4", "oauth1", "oauth2", "p2p", "pkcs12", "pkcs7", "pkcs8", "pop3", "py3",
    "python3", "s3", "saml2", "sha-1", "sha-256", "sha-512", "sha1", "sha224", "sha256",
    "sha384", "sha512", "sigv4", "tls12", "tls13", "u2f", "uint16", "uint32", "uint64",
    "uint8", "utf-16", "utf-8", "utf16", "utf32", "utf8", "v8", "vp8", "vp9", "w3c",
    "wasm32", "web3", "win32", "win64", "x509", "x64", "x86", "x86_64",
];

/// Extensions of build artefacts: their names hold content hashes and versions, never a
/// record's id, so they are not judged (`main.8c21e0f3.js`, `inter-v12-latin.woff2`).
const ARTEFACTS: &[&str] = &[
    "js", "mjs", "cjs", "css", "map", "woff", "woff2", "ttf", "wasm",
];

/// Version qualifiers: `v2beta1`, `1.2.3-rc.1`.
const QUALIFIERS: &[&str] = &["a", "alpha", "b", "beta", "dev", "lts", "post", "pre", "rc"];

/// Is this (decoded) path segment or key part a record's id, or does it carry one?
///
/// ```
/// use scrub::normalize::ids::is_id_segment;
///
/// for s in ["4242", "550e8400-e29b-41d4-a716-446655440000", "8c21e0f3d4", "u4242",
///           "ord_8f3a91c2", "INV-2024-0042", "4242.json"] {
///     assert!(is_id_segment(s), "{s}");
/// }
/// for s in ["api", "v1", "v2beta1", "2fa", "oauth2", "s3", "html5", "1.2.3", "24h",
///           "main.8c21e0f3.js", "report.pdf", "{id}", "<int:pk>", "x86_64"] {
///     assert!(!is_id_segment(s), "{s}");
/// }
/// ```
pub fn is_id_segment(seg: &str) -> bool {
    // Runs on every segment of every kept URL: no allocation, and most segments (words of
    // an API) leave at the first test.
    if !seg.bytes().any(|b| b.is_ascii_digit()) || is_param(seg) || is_technical_word(seg) {
        return false;
    }
    let stem = match seg.rsplit_once('.') {
        Some((_, ext)) if one_of(ARTEFACTS, ext) => return false,
        Some((stem, ext)) if one_of(FILE_EXTENSIONS, ext) => stem,
        _ => seg,
    };
    // The whole stem first (`24H` is a duration before it is `24` and `H`).
    is_id_word(stem) && !is_dotted_version(stem) && any_word(stem, is_id_word)
}

/// Masks the id segments of a URL's path (or a bare path); `None` if there is none. Scheme,
/// host, port, query and fragment are not looked at.
///
/// ```
/// use scrub::normalize::ids::mask_path_ids;
///
/// assert_eq!(
///     mask_path_ids("https://billing.internal/api/companies/8/users/4242/invoices/977").as_deref(),
///     Some("https://billing.internal/api/companies/*/users/*/invoices/*"),
/// );
/// assert_eq!(mask_path_ids("/api/v2/auth/2fa"), None);
/// ```
pub fn mask_path_ids(url: &str) -> Option<String> {
    map_segments(url, |seg| {
        is_id_segment(seg).then(|| ID_PLACEHOLDER.to_owned())
    })
}

/// Masks the id parts of a key whose parts are joined by `:`, `/` or `.`
/// (`user:4242:profile`, `views.cache.page/4242`, `user.4242.profile`); `None` if there is
/// none. A dotted version stays whole (`lib:1.2.3:manifest`). Also returns how many parts
/// were masked, for the report.
///
/// ```
/// use scrub::normalize::ids::mask_key_ids;
///
/// assert_eq!(mask_key_ids("user:4242:profile"), Some(("user:*:profile".to_owned(), 1)));
/// assert_eq!(mask_key_ids("api:v2:users"), None);
/// ```
pub fn mask_key_ids(key: &str) -> Option<(String, usize)> {
    let mut out = String::with_capacity(key.len());
    let mut masked = 0;
    let mut start = 0;
    // `:` and `/` part the key; a part that carries an id is then cut at `.` so that only
    // the dotted piece holding it goes (`user.4242.profile`).
    for (end, sep) in key
        .match_indices([':', '/'])
        .chain(std::iter::once((key.len(), "")))
    {
        let part = &key[start..end];
        if is_id_segment(part) {
            if part.contains('.') && !is_dotted_version(part) {
                let pieces: Vec<&str> = part
                    .split('.')
                    .map(|p| {
                        if is_id_segment(p) {
                            masked += 1;
                            ID_PLACEHOLDER
                        } else {
                            p
                        }
                    })
                    .collect();
                out.push_str(&pieces.join("."));
            } else {
                masked += 1;
                out.push_str(ID_PLACEHOLDER);
            }
        } else {
            out.push_str(part);
        }
        out.push_str(sep);
        start = end + sep.len();
    }
    (masked > 0).then_some((out, masked))
}

/// Does `f` hold for a word of `s`? Words are cut at every byte that is not a letter or a
/// digit, and at humps (`S3Bucket` → `S3`, `Bucket`; `getUser` → `get`, `User`).
fn any_word(s: &str, f: impl Fn(&str) -> bool) -> bool {
    let b = s.as_bytes();
    let mut start = 0;
    for i in 0..=b.len() {
        let cut = match b.get(i) {
            None => true,
            Some(c) if !c.is_ascii_alphanumeric() => true,
            Some(c) => {
                i > start
                    && c.is_ascii_uppercase()
                    && (b[i - 1].is_ascii_lowercase() || b[i - 1].is_ascii_digit())
            }
        };
        if cut {
            if i > start && f(&s[start..i]) {
                return true;
            }
            // A separator is skipped; a hump starts the next word.
            start = if b.get(i).is_some_and(u8::is_ascii_alphanumeric) {
                i
            } else {
                i + 1
            };
        }
    }
    false
}

/// Is `s` (any case) one of `list`?
fn one_of(list: &[&str], s: &str) -> bool {
    list.iter().any(|x| x.eq_ignore_ascii_case(s))
}

/// Is `s` (any case) in [`TECHNICAL`]? Lower-cased on the stack: the words are short.
fn is_technical_word(s: &str) -> bool {
    let mut buf = [0u8; 16];
    let Some(dst) = buf.get_mut(..s.len()) else {
        return false;
    };
    for (d, c) in dst.iter_mut().zip(s.bytes()) {
        *d = c.to_ascii_lowercase();
    }
    std::str::from_utf8(dst).is_ok_and(|l| TECHNICAL.binary_search(&l).is_ok())
}

/// A word that is, or holds, an id: it has a digit and is not a technical word with one.
fn is_id_word(w: &str) -> bool {
    w.bytes().any(|b| b.is_ascii_digit())
        && !(is_technical_word(w) || is_version_word(w) || is_duration(w) || is_size(w))
}

/// `v1`, `v2`, `v2beta1`, `v1alpha`.
fn is_version_word(w: &str) -> bool {
    let Some(rest) = w.strip_prefix(['v', 'V']) else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 3 {
        return false;
    }
    let rest = &rest[digits..];
    let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
    let (word, tail) = rest.split_at(letters);
    (word.is_empty() || one_of(QUALIFIERS, word)) && tail.bytes().all(|b| b.is_ascii_digit())
}

/// `24h`, `30d`, `5m`: a window of time, as dashboards and rate limits name them.
fn is_duration(w: &str) -> bool {
    let n = w.len();
    (2..=4).contains(&n)
        && w[..n - 1].bytes().all(|b| b.is_ascii_digit())
        && matches!(
            w.as_bytes()[n - 1].to_ascii_lowercase(),
            b's' | b'm' | b'h' | b'd' | b'w' | b'y'
        )
}

/// `2x`, `200x200`: an image scale or size.
fn is_size(w: &str) -> bool {
    match w.split_once(['x', 'X']) {
        Some((a, b)) => {
            (1..=4).contains(&a.len())
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.len() <= 4
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// `1.2.3`, `v1.2`, `2.0.0-rc.1`: a version, whose first number has at most 3 digits (so
/// `4242.977` is not one).
fn is_dotted_version(s: &str) -> bool {
    if !s.contains('.') {
        return false;
    }
    let body = s.strip_prefix(['v', 'V']).unwrap_or(s);
    let mut parts = body.split(['.', '-']);
    let first = parts.next().unwrap_or_default();
    if first.is_empty() || first.len() > 3 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    parts.all(|p| {
        let digits = p.bytes().take_while(u8::is_ascii_digit).count();
        if digits == p.len() {
            (1..=4).contains(&digits)
        } else {
            let letters = p.bytes().take_while(u8::is_ascii_alphabetic).count();
            one_of(QUALIFIERS, &p[..letters]) && p[letters..].bytes().all(|b| b.is_ascii_digit())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technical_words_are_sorted_for_binary_search() {
        assert!(TECHNICAL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn words_cut_at_humps_and_punctuation() {
        let words = |s: &str| {
            let seen = std::cell::RefCell::new(Vec::new());
            any_word(s, |w| {
                seen.borrow_mut().push(w.to_owned());
                false
            });
            seen.into_inner()
        };
        assert_eq!(
            words("V1StGXR8_Z5jdHi6B-myT"),
            ["V1", "St", "GXR8", "Z5jd", "Hi6", "B", "my", "T"]
        );
        assert_eq!(words("S3Bucket"), ["S3", "Bucket"]);
        assert_eq!(words("--a..b-"), ["a", "b"]);
        assert_eq!(words(""), Vec::<String>::new());
    }

    #[test]
    fn case_does_not_matter() {
        for s in [
            "OAuth2",
            "HTML5",
            "V2",
            "V1.2.3",
            "24H",
            "Main.8C21E0F3.JS",
            "UTF-8",
        ] {
            assert!(!is_id_segment(s), "{s}");
        }
        for s in ["4242.JSON", "U4242"] {
            assert!(is_id_segment(s), "{s}");
        }
    }

    #[test]
    fn versions_durations_sizes() {
        for v in ["v1", "v12", "v2beta1", "v1alpha"] {
            assert!(is_version_word(v), "{v}");
        }
        for v in ["v", "vx", "v1234", "v2gamma"] {
            assert!(!is_version_word(v), "{v}");
        }
        for v in ["1.2.3", "v1.2", "2.0.0-rc.1", "10.4"] {
            assert!(is_dotted_version(v), "{v}");
        }
        for v in ["4242.977", "1", "1.x", "977"] {
            assert!(!is_dotted_version(v), "{v}");
        }
        assert!(is_duration("24h") && is_duration("30d") && !is_duration("4242d"));
        assert!(is_size("2x") && is_size("200x200") && !is_size("x86") && !is_size("0x1f"));
    }
}
