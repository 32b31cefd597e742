//! Property tests: generated envelopes round trip, arbitrary bytes never panic.

use bytes::Bytes;
use envelope::decode::{compress, decompress, ContentEncoding};
use envelope::{Envelope, ItemType};
use proptest::prelude::*;
use serde_json::{Map, Value};

const TYPES: [&str; 8] = [
    "event",
    "transaction",
    "session",
    "client_report",
    "attachment",
    "security",
    "log",
    "x_custom",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn header() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("[a-z_]{1,8}|[^\n]{0,6}", json_value(), 0..4).prop_map(|m| {
        m.into_iter()
            .filter(|(k, _)| k != "type" && k != "length")
            .collect()
    })
}

/// One generated item: its header attributes, type, payload and framing choices.
#[derive(Debug, Clone)]
struct GenItem {
    attrs: Map<String, Value>,
    ty: String,
    payload: Vec<u8>,
    explicit_length: bool,
    crlf: bool,
}

fn item() -> impl Strategy<Value = GenItem> {
    (
        header(),
        prop::sample::select(&TYPES[..]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(|(attrs, ty, explicit_length, crlf)| {
            // Without `length`, a payload is one line: no `\n`, no trailing `\r`.
            let payload = if explicit_length {
                prop::collection::vec(any::<u8>(), 0..64).boxed()
            } else {
                prop::collection::vec(any::<u8>(), 0..64)
                    .prop_map(|mut p| {
                        p.retain(|&b| b != b'\n');
                        while p.last() == Some(&b'\r') {
                            p.pop();
                        }
                        p
                    })
                    .boxed()
            };
            payload.prop_map(move |payload| GenItem {
                attrs: attrs.clone(),
                ty: ty.to_owned(),
                payload,
                explicit_length,
                crlf,
            })
        })
}

/// Frames the envelope by hand, independently of the crate's writer.
fn frame(header: &Map<String, Value>, items: &[GenItem], final_newline: bool) -> Vec<u8> {
    let mut body = serde_json::to_vec(header).expect("json");
    for item in items {
        body.extend_from_slice(if item.crlf { b"\r\n" } else { b"\n" });
        let mut h = item.attrs.clone();
        h.insert("type".into(), item.ty.clone().into());
        if item.explicit_length {
            h.insert("length".into(), item.payload.len().into());
        }
        body.extend(serde_json::to_vec(&h).expect("json"));
        body.extend_from_slice(if item.crlf { b"\r\n" } else { b"\n" });
        body.extend_from_slice(&item.payload);
    }
    if final_newline {
        body.push(b'\n');
    }
    body
}

fn assert_stable(envelope: &Envelope) -> Result<(), TestCaseError> {
    let once = envelope.to_bytes();
    prop_assert_eq!(once.len(), envelope.serialized_len());
    let reparsed = Envelope::parse(once.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(reparsed.items().len(), envelope.items().len());
    for (a, b) in reparsed.items().iter().zip(envelope.items()) {
        prop_assert_eq!(a.ty(), b.ty());
        prop_assert_eq!(a.payload(), b.payload());
    }
    prop_assert_eq!(reparsed.to_bytes(), once);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_envelopes_round_trip(
        header in header(),
        items in prop::collection::vec(item(), 0..5),
        final_newline in any::<bool>(),
    ) {
        let body = frame(&header, &items, final_newline);
        let envelope = Envelope::parse(Bytes::from(body.clone())).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(envelope.header(), &header);
        prop_assert_eq!(envelope.items().len(), items.len());
        for (parsed, generated) in envelope.items().iter().zip(&items) {
            prop_assert_eq!(parsed.ty(), &ItemType::parse(&generated.ty));
            prop_assert_eq!(&parsed.payload()[..], &generated.payload[..]);
            for (key, value) in &generated.attrs {
                prop_assert_eq!(parsed.header().get(key), Some(value));
            }
        }
        assert_stable(&envelope)?;
        // The canonical framing (LF, explicit lengths, final newline) is written back verbatim.
        if final_newline && items.iter().all(|i| i.explicit_length && !i.crlf) {
            prop_assert_eq!(&envelope.to_bytes()[..], &body[..]);
        }
    }

    #[test]
    fn parse_never_panics(body in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(envelope) = Envelope::parse(Bytes::from(body)) {
            assert_stable(&envelope)?;
        }
    }

    #[test]
    fn damaged_envelopes_never_panic(
        header in header(),
        items in prop::collection::vec(item(), 1..4),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut body = frame(&header, &items, true);
        let at = flip.index(body.len());
        body[at] = byte;
        body.truncate(cut.index(body.len() + 1).max(at));
        if let Ok(envelope) = Envelope::parse(Bytes::from(body)) {
            assert_stable(&envelope)?;
        }
    }

    #[test]
    fn decompress_never_panics_nor_exceeds_the_cap(
        body in prop::collection::vec(any::<u8>(), 0..512),
        max_out in 0usize..4096,
    ) {
        for encoding in [ContentEncoding::Identity, ContentEncoding::Gzip, ContentEncoding::Deflate, ContentEncoding::Br, ContentEncoding::Zstd] {
            if let Ok(out) = decompress(encoding, &body, max_out) {
                prop_assert!(out.len() <= max_out);
            }
        }
    }

    #[test]
    fn compressed_bodies_round_trip(body in prop::collection::vec(any::<u8>(), 0..2048), level in 0u32..10) {
        for encoding in [ContentEncoding::Identity, ContentEncoding::Gzip, ContentEncoding::Deflate, ContentEncoding::Br, ContentEncoding::Zstd] {
            let compressed = compress(encoding, &body, level).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let out = decompress(encoding, &compressed, body.len()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&out[..], &body[..]);
        }
    }
}
