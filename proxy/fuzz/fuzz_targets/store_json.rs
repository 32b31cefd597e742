//! Arbitrary bytes as a legacy `/store/` body: `store_to_envelope` never panics, and what it
//! accepts is one `event` or `transaction` item holding exactly the body. That envelope then
//! goes through the scrubber (every item type allowed by the gate), which must not panic
//! either on any JSON (deep nesting, invalid UTF-8, odd numbers), and whose output must
//! write out as an envelope that parses again.
#![no_main]

use bytes::Bytes;
use envelope::{Envelope, ItemType, Limits};
use libfuzzer_sys::fuzz_target;
use scrub::{Decision, Policy, PolicyConfig, Upstream};
use std::sync::OnceLock;

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| Policy::new(PolicyConfig::default()).expect("default policy"))
}

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    let Ok(env) = proxy::ingest::store_to_envelope(body.clone(), &Limits::default()) else {
        return;
    };
    assert_eq!(env.items().len(), 1);
    let item = &env.items()[0];
    assert!(matches!(item.ty(), ItemType::Event | ItemType::Transaction));
    assert_eq!(item.payload(), &body[..]);
    if let Some(id) = env.event_id() {
        assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    let scrubbed = scrub::scrub_envelope(
        &env,
        policy(),
        Upstream {
            dsn: Some("https://abc123@o1.ingest.de.sentry.io/42"),
            public_key: Some("abc123"),
        },
        |_, _| Decision::Forward { ids_allowed: true },
    );
    let out = scrubbed.envelope.to_bytes();
    if let Err(e) = Envelope::parse(out) {
        panic!("scrubbed envelope does not parse: {e}");
    }
});
