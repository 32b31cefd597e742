//! Parser edge cases: raw bytes in, the exact envelope or the exact error out.

use bytes::Bytes;
use envelope::{Envelope, EnvelopeError, ItemType, JsonCategory, Limits};
use serde_json::{json, Value};

/// What a parsed envelope holds: its header, and each item's type, header and payload.
#[derive(Clone, Debug, PartialEq)]
struct Parsed {
    header: Value,
    items: Vec<(ItemType, Value, Vec<u8>)>,
}

fn parsed(header: Value, items: Vec<(ItemType, Value, &[u8])>) -> Parsed {
    let items = items
        .into_iter()
        .map(|(ty, h, p)| (ty, h, p.to_vec()))
        .collect();
    Parsed { header, items }
}

fn view(envelope: &Envelope) -> Parsed {
    Parsed {
        header: Value::Object(envelope.header().clone()),
        items: envelope
            .items()
            .iter()
            .map(|item| {
                let header = Value::Object(item.header().clone());
                (item.ty().clone(), header, item.payload().to_vec())
            })
            .collect(),
    }
}

fn check(name: &str, input: &'static [u8], expected: Result<Parsed, EnvelopeError>) {
    let actual = Envelope::parse(Bytes::from_static(input));
    assert_eq!(
        actual.as_ref().map(view).map_err(Clone::clone),
        expected,
        "case {name}"
    );
    if let Ok(envelope) = actual {
        // Whatever was accepted writes out stably.
        let written = envelope.to_bytes();
        assert_eq!(written.len(), envelope.serialized_len(), "case {name}");
        let again = Envelope::parse(written.clone()).expect("re-parse");
        assert_eq!(view(&again), view(&envelope), "case {name}");
        assert_eq!(again.to_bytes(), written, "case {name}");
    }
}

fn json_error(line_offset: usize, category: JsonCategory, column: usize) -> EnvelopeError {
    EnvelopeError::InvalidHeader {
        line_offset,
        category,
        line: 1,
        column,
    }
}

#[test]
fn envelopes_without_items() {
    let empty = || Ok(parsed(json!({}), vec![]));
    check("no newline", b"{}", empty());
    check("newline", b"{}\n", empty());
    check("crlf", b"{}\r\n", empty());
    check("trailing blank lines", b"{}\n\n\r\n", empty());
    check(
        "attributes",
        b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"x-custom\":[1]}",
        Ok(parsed(
            json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "x-custom": [1]}),
            vec![],
        )),
    );
}

#[test]
fn truncated_input() {
    check("empty body", b"", Err(json_error(0, JsonCategory::Eof, 0)));
    check(
        "cut header",
        b"{\"event_id\":",
        Err(json_error(0, JsonCategory::Eof, 12)),
    );
    check(
        "item header without payload, with length",
        b"{}\n{\"type\":\"event\",\"length\":10}",
        Err(EnvelopeError::LengthExceedsBody {
            offset: 31,
            length: 10,
            remaining: 0,
        }),
    );
    check(
        "length longer than body",
        b"{}\n{\"type\":\"event\",\"length\":10}\n{\"a\":1}",
        Err(EnvelopeError::LengthExceedsBody {
            offset: 32,
            length: 10,
            remaining: 7,
        }),
    );
    check(
        "item header without payload, implicit length",
        b"{}\n{\"type\":\"attachment\"}",
        Ok(parsed(
            json!({}),
            vec![(
                ItemType::Attachment,
                json!({"type": "attachment", "length": 0}),
                b"",
            )],
        )),
    );
    check(
        "cut item header",
        b"{}\n{\"type\":\"ev",
        Err(json_error(3, JsonCategory::Eof, 11)),
    );
}

#[test]
fn wrong_lengths() {
    let invalid = Err(EnvelopeError::InvalidLength { offset: 3 });
    check(
        "negative",
        b"{}\n{\"type\":\"event\",\"length\":-1}\n\n",
        invalid.clone(),
    );
    check(
        "string",
        b"{}\n{\"type\":\"event\",\"length\":\"2\"}\n{}\n",
        invalid.clone(),
    );
    check(
        "float",
        b"{}\n{\"type\":\"event\",\"length\":2.0}\n{}\n",
        invalid.clone(),
    );
    check(
        "bool",
        b"{}\n{\"type\":\"event\",\"length\":true}\n{}\n",
        invalid.clone(),
    );
    check(
        "past u64",
        b"{}\n{\"type\":\"event\",\"length\":18446744073709551616}\n{}\n",
        invalid,
    );
    check(
        "u64::MAX",
        b"{}\n{\"type\":\"event\",\"length\":18446744073709551615}\n{}\n",
        Err(EnvelopeError::LengthExceedsBody {
            offset: 50,
            length: u64::MAX,
            remaining: 3,
        }),
    );
    check(
        "null is absent",
        b"{}\n{\"type\":\"event\",\"length\":null}\n{}\n",
        Ok(parsed(
            json!({}),
            vec![(
                ItemType::Event,
                json!({"type": "event", "length": 2}),
                b"{}",
            )],
        )),
    );
}

#[test]
fn missing_newline_after_payload() {
    check(
        "byte after payload",
        b"{}\n{\"type\":\"event\",\"length\":2}\n{}X\n",
        Err(EnvelopeError::MissingNewline { offset: 33 }),
    );
    check(
        "lone cr after payload",
        b"{}\n{\"type\":\"event\",\"length\":2}\n{}\r{\"type\":\"event\"}\n",
        Err(EnvelopeError::MissingNewline { offset: 33 }),
    );
    check(
        "absent at end of body",
        b"{}\n{\"type\":\"event\",\"length\":2}\n{}",
        Ok(parsed(
            json!({}),
            vec![(
                ItemType::Event,
                json!({"type": "event", "length": 2}),
                b"{}",
            )],
        )),
    );
}

#[test]
fn empty_payloads() {
    check(
        "length 0 and implicit",
        b"{}\n{\"type\":\"attachment\",\"length\":0}\n\n{\"type\":\"session\"}\n\n{\"type\":\"event\"}\n{}",
        Ok(parsed(
            json!({}),
            vec![
                (ItemType::Attachment, json!({"type": "attachment", "length": 0}), b""),
                (ItemType::Session, json!({"type": "session", "length": 0}), b""),
                (ItemType::Event, json!({"type": "event", "length": 2}), b"{}"),
            ],
        )),
    );
    check(
        "length 0 at end without newline",
        b"{}\n{\"type\":\"attachment\",\"length\":0}",
        Ok(parsed(
            json!({}),
            vec![(
                ItemType::Attachment,
                json!({"type": "attachment", "length": 0}),
                b"",
            )],
        )),
    );
}

#[test]
fn crlf() {
    check(
        "crlf everywhere",
        b"{\"event_id\":\"x\"}\r\n{\"type\":\"event\"}\r\n{\"a\":1}\r\n{\"type\":\"attachment\",\"length\":4}\r\na\r\nb\r\n",
        Ok(parsed(
            json!({"event_id": "x"}),
            vec![
                (ItemType::Event, json!({"type": "event", "length": 7}), b"{\"a\":1}"),
                (ItemType::Attachment, json!({"type": "attachment", "length": 4}), b"a\r\nb"),
            ],
        )),
    );
    check(
        "cr at end of body is payload",
        b"{}\n{\"type\":\"log\"}\nline\r",
        Ok(parsed(
            json!({}),
            vec![(
                ItemType::Log,
                json!({"type": "log", "length": 5}),
                b"line\r",
            )],
        )),
    );
    let out = Envelope::parse(Bytes::from_static(
        b"{\"event_id\":\"x\"}\r\n{\"type\":\"event\"}\r\n{\"a\":1}\r\n",
    ))
    .expect("parse")
    .to_bytes();
    assert_eq!(
        out,
        &b"{\"event_id\":\"x\"}\n{\"length\":7,\"type\":\"event\"}\n{\"a\":1}\n"[..]
    );
}

#[test]
fn unknown_item_types_are_kept() {
    check(
        "unknown type with extra attributes",
        b"{}\n{\"type\":\"my_custom\",\"length\":2,\"x-extra\":{\"n\":1}}\nab\n",
        Ok(parsed(
            json!({}),
            vec![(
                ItemType::Unknown("my_custom".to_owned()),
                json!({"type": "my_custom", "length": 2, "x-extra": {"n": 1}}),
                b"ab",
            )],
        )),
    );
}

#[test]
fn headers_must_be_utf8_json_objects() {
    check(
        "non-utf8 envelope header",
        b"{\"event_id\":\"\xff\"}\n",
        Err(EnvelopeError::NonUtf8Header { offset: 13 }),
    );
    check(
        "non-utf8 item header",
        b"{}\n{\"type\":\"ev\xc3\x28nt\"}\n{}\n",
        Err(EnvelopeError::NonUtf8Header { offset: 14 }),
    );
    check(
        "array header",
        b"[]\n",
        Err(EnvelopeError::HeaderNotObject { offset: 0 }),
    );
    check(
        "string item header",
        b"{}\n\"event\"\n{}\n",
        Err(EnvelopeError::HeaderNotObject { offset: 3 }),
    );
    check(
        "trailing garbage",
        b"{} x\n",
        Err(json_error(0, JsonCategory::Syntax, 4)),
    );
    check(
        "blank line between items",
        b"{}\n\n{\"type\":\"event\"}\n{}\n",
        Err(json_error(3, JsonCategory::Eof, 0)),
    );
    check(
        "item without type",
        b"{}\n{\"length\":2}\n{}\n",
        Err(EnvelopeError::MissingItemType { offset: 3 }),
    );
    check(
        "numeric type",
        b"{}\n{\"type\":5}\n{}\n",
        Err(EnvelopeError::MissingItemType { offset: 3 }),
    );
}

#[test]
fn limits() {
    let limits = Limits {
        max_envelope_bytes: 64,
        max_event_bytes: 4,
        max_items: 2,
    };
    let parse = |input: &'static [u8]| {
        Envelope::parse_with(Bytes::from_static(input), &limits).map(|e| view(&e))
    };
    assert_eq!(
        parse(&[b' '; 65]),
        Err(EnvelopeError::EnvelopeTooLarge {
            size: 65,
            limit: 64
        })
    );
    assert_eq!(
        parse(b"{}\n{\"type\":\"event\",\"length\":5}\n{\"a\"}\n"),
        Err(EnvelopeError::ItemTooLarge {
            item_type: "event",
            size: 5,
            limit: 4
        })
    );
    assert_eq!(
        parse(b"{}\n{\"type\":\"transaction\"}\n{\"a\"}\n"),
        Err(EnvelopeError::ItemTooLarge {
            item_type: "transaction",
            size: 5,
            limit: 4
        })
    );
    assert_eq!(
        parse(b"{}\n{\"type\":\"span\"}\n{\"a\"}\n"),
        Err(EnvelopeError::ItemTooLarge {
            item_type: "span",
            size: 5,
            limit: 4
        })
    );
    assert_eq!(
        parse(b"{}\n{\"type\":\"attachment\",\"length\":5}\nabcde\n"),
        Ok(parsed(
            json!({}),
            vec![(
                ItemType::Attachment,
                json!({"type": "attachment", "length": 5}),
                b"abcde"
            )]
        ))
    );
    assert_eq!(limits.check_item(&ItemType::Event, 4), Ok(()));
    assert_eq!(
        Limits::default(),
        Limits {
            max_envelope_bytes: 100 << 20,
            max_event_bytes: 1 << 20,
            max_items: 1000,
        }
    );
    // Two items pass, a third is refused before it is parsed.
    assert!(parse(b"{}\n{\"type\":\"a\"}\n\n{\"type\":\"b\"}\n\n").is_ok());
    assert_eq!(
        parse(b"{}\n{\"type\":\"a\"}\n\n{\"type\":\"b\"}\n\n{\"type\":\"c\"}\n\n"),
        Err(EnvelopeError::TooManyItems { limit: 2 })
    );
}

#[test]
fn errors_never_echo_the_input() {
    let secret = "alice@example.com";
    let inputs: [&[u8]; 4] = [
        b"{\"user\":\"alice@example.com\"",
        b"\"alice@example.com\"\n",
        b"{}\n{\"type\":\"alice@example.com\",\"length\":\"alice@example.com\"}\n",
        b"{}\n{\"type\":\"event\",\"length\":2}\nalice@example.com\n",
    ];
    for input in inputs {
        let err = Envelope::parse(Bytes::from_static(input)).expect_err("must fail");
        assert!(!err.to_string().contains(secret), "{err}");
        assert!(!format!("{err:?}").contains(secret), "{err:?}");
        assert!(err
            .reason()
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_'));
    }
}
