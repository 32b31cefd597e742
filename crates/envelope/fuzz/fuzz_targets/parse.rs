//! Arbitrary bytes into `Envelope::parse`: never panics, and whatever parses
//! writes out stably (write, parse, write gives the same bytes and payloads).
#![no_main]

use bytes::Bytes;
use envelope::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = Envelope::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    let once = envelope.to_bytes();
    assert_eq!(once.len(), envelope.serialized_len());
    let reparsed = match Envelope::parse(once.clone()) {
        Ok(reparsed) => reparsed,
        Err(e) => panic!("written envelope does not parse: {e}"),
    };
    assert_eq!(reparsed.items().len(), envelope.items().len());
    for (a, b) in reparsed.items().iter().zip(envelope.items()) {
        assert_eq!(a.ty(), b.ty());
        assert_eq!(a.payload(), b.payload());
    }
    assert_eq!(reparsed.to_bytes(), once);
});
