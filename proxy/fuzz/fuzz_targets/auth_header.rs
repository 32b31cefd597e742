//! Arbitrary text as the `X-Sentry-Auth` header and the query string: `RequestAuth::from_parts`
//! never panics, and what it accepts is clean: keys are 1 to 64 ASCII alphanumerics, the
//! client name is a strict `name/version` (no `,`, `=`, space or `@` that could add a pair
//! or a person to the upstream's `X-Sentry-Auth`), and a header key and a query key agree.
//! The first byte splits the input between header (and whether there is one) and query.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proxy::ingest::auth::RequestAuth;

fn clean_key(k: &str) -> bool {
    (1..=64).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_alphanumeric())
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut at = usize::from(split & 0x3f).min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let (header, query) = text.split_at(at);
    let header = (split & 0x40 != 0).then_some(header);
    let query = (split & 0x80 != 0).then_some(query);
    let Ok(auth) = RequestAuth::from_parts(header, query) else {
        return;
    };
    assert_eq!(auth.header_key.is_some(), header.is_some());
    for key in [&auth.header_key, &auth.query_key].into_iter().flatten() {
        assert!(clean_key(key), "{key:?}");
    }
    if let (Some(h), Some(q)) = (&auth.header_key, &auth.query_key) {
        assert_eq!(h, q);
    }
    if let Some(client) = &auth.client {
        assert_eq!(proxy::dsn::client_name(client), Some(client.as_str()));
        assert!(client.len() <= 97, "{client:?}");
        assert!(
            client.bytes().filter(|b| *b == b'/').count() == 1
                && !client.bytes().any(|b| b", =@;\"\\ ".contains(&b) || !b.is_ascii_graphic()),
            "{client:?}"
        );
    }
    let _ = auth.resolve(None, "42");
});
