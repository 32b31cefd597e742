//! Writing envelopes: byte identity for untouched parts, exact output for changed ones.

use bytes::Bytes;
use envelope::{Envelope, EnvelopeError, Item, ItemType};
use serde_json::{json, Map, Value};

const EVENT: &str = r#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","level":"error","platform":"python","timestamp":"2024-05-01T10:00:00.123456Z","server_name":"web-1","release":"search@4.2.0","environment":"production","sdk":{"name":"sentry.python.django","version":"2.19.0","packages":[{"name":"pypi:sentry-sdk","version":"2.19.0"}],"integrations":["django","logging"]},"exception":{"values":[{"type":"ValueError","value":"search failed for \"quarterly results\"","module":null,"mechanism":{"type":"django","handled":false},"stacktrace":{"frames":[{"filename":"search/views.py","abs_path":"/home/alice/app/search/views.py","function":"query","module":"search.views","lineno":42,"pre_context":["def query(request):","    q = request.GET['q']"],"context_line":"    raise ValueError(f\"search failed for {q!r}\")","post_context":[""],"in_app":true,"vars":{"q":"'quarterly results'"}}]}}]},"request":{"method":"GET","url":"http://app.local/search","query_string":"q=quarterly+results","headers":{"Cookie":"sessionid=abc"}},"user":{"id":"42","email":"alice@example.com"},"tags":{"company_id":"7"},"contexts":{"runtime":{"name":"CPython","version":"3.12.3"},"trace":{"trace_id":"771a43a4192642f0b136d5159a501700","span_id":"a1b2c3d4e5f60718","op":"http.server"}},"modules":{"django":"5.0.6","sentry-sdk":"2.19.0"},"breadcrumbs":{"values":[{"category":"query","message":"SELECT * FROM doc WHERE body LIKE '%results%'","timestamp":"2024-05-01T10:00:00.100000Z"}]}}"#;
const TRANSACTION: &str = r#"{"type":"transaction","transaction":"/search/","transaction_info":{"source":"route"},"event_id":"5f1c0b7f0b8e4d0c9d1c1b2a3f4e5d6c","start_timestamp":"2024-05-01T10:00:00.000000Z","timestamp":"2024-05-01T10:00:00.130000Z","contexts":{"trace":{"trace_id":"771a43a4192642f0b136d5159a501700","span_id":"a1b2c3d4e5f60718","op":"http.server","status":"internal_error"}},"spans":[{"span_id":"b1b2c3d4e5f60718","parent_span_id":"a1b2c3d4e5f60718","trace_id":"771a43a4192642f0b136d5159a501700","op":"db","description":"SELECT \"doc\".\"id\" FROM \"doc\" WHERE \"doc\".\"body\" LIKE %s","start_timestamp":"2024-05-01T10:00:00.010000Z","timestamp":"2024-05-01T10:00:00.090000Z"}],"measurements":{}}"#;
const SESSION: &str = r#"{"sid":"0f7a4a5c9a7e4b1e8f7d6c5b4a39281f","did":"42","init":true,"started":"2024-05-01T09:59:00.000000Z","timestamp":"2024-05-01T10:00:00.200000Z","status":"exited","errors":1,"attrs":{"release":"search@4.2.0","environment":"production","ip_address":"10.0.0.7","user_agent":"python-requests/2.31"}}"#;
const CLIENT_REPORT: &str = r#"{"timestamp":1714557600,"discarded_events":[{"reason":"queue_overflow","category":"transaction","quantity":2}]}"#;

/// A sentry-python-like envelope: every item with `content_type` and `length`.
fn realistic() -> Vec<u8> {
    let mut body = br#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","sent_at":"2024-05-01T10:00:00.250000Z","trace":{"trace_id":"771a43a4192642f0b136d5159a501700","environment":"production","release":"search@4.2.0","public_key":"a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6","sample_rate":"1.0"}}"#.to_vec();
    body.push(b'\n');
    for (ty, payload) in [
        ("event", EVENT),
        ("transaction", TRANSACTION),
        ("session", SESSION),
        ("client_report", CLIENT_REPORT),
    ] {
        let header = format!(
            r#"{{"type":"{ty}","content_type":"application/json","length":{}}}"#,
            payload.len()
        );
        body.extend_from_slice(header.as_bytes());
        body.push(b'\n');
        body.extend_from_slice(payload.as_bytes());
        body.push(b'\n');
    }
    body
}

fn parse(input: &[u8]) -> Envelope {
    Envelope::parse(Bytes::copy_from_slice(input)).expect("parse")
}

#[test]
fn realistic_envelope_is_byte_identical() {
    let body = realistic();
    let envelope = parse(&body);
    assert_eq!(
        envelope.event_id(),
        Some("9ec79c33ec9942ab8353589fcb2e04dc")
    );
    assert_eq!(envelope.dsn(), None);
    let types: Vec<_> = envelope.items().iter().map(Item::ty).collect();
    assert_eq!(
        types,
        [
            &ItemType::Event,
            &ItemType::Transaction,
            &ItemType::Session,
            &ItemType::ClientReport
        ]
    );
    assert!(envelope.items().iter().all(|item| !item.is_modified()));
    assert_eq!(envelope.items()[0].content_type(), Some("application/json"));
    assert_eq!(envelope.items()[0].payload(), EVENT.as_bytes());
    assert_eq!(envelope.serialized_len(), body.len());
    assert_eq!(envelope.to_bytes(), body);
}

#[test]
fn implicit_lengths_are_written_explicitly() {
    let input = b"{\"dsn\":\"https://key@o1.ingest.sentry.io/42\"}\n{\"type\":\"session\"}\n{\"sid\":\"x\"}\n{\"type\":\"attachment\",\"length\":3,\"filename\":\"a.txt\"}\nabc";
    let envelope = parse(input);
    assert_eq!(envelope.dsn(), Some("https://key@o1.ingest.sentry.io/42"));
    let expected = b"{\"dsn\":\"https://key@o1.ingest.sentry.io/42\"}\n{\"length\":11,\"type\":\"session\"}\n{\"sid\":\"x\"}\n{\"type\":\"attachment\",\"length\":3,\"filename\":\"a.txt\"}\nabc\n";
    assert_eq!(envelope.to_bytes(), &expected[..]);
    assert_eq!(envelope.serialized_len(), expected.len());
}

#[test]
fn changed_items_are_reserialized_and_the_rest_kept() {
    let body = realistic();
    let mut envelope = parse(&body);
    envelope.items_mut()[1].set_payload(Bytes::from_static(b"{}"));
    envelope.items_mut()[2].header_mut().remove("content_type");
    envelope.items_mut().remove(3);

    let out = envelope.to_bytes();
    assert_eq!(out.len(), envelope.serialized_len());
    let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
    let original: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    assert_eq!(
        lines[..3],
        original[..3],
        "envelope header and event unchanged"
    );
    assert_eq!(
        lines[3],
        br#"{"content_type":"application/json","length":2,"type":"transaction"}"#
    );
    assert_eq!(lines[4], b"{}");
    assert_eq!(
        lines[5],
        format!(r#"{{"length":{},"type":"session"}}"#, SESSION.len()).as_bytes()
    );
    assert_eq!(lines[6], SESSION.as_bytes());
    assert_eq!(lines[7..], [b""]);
    assert!(envelope.items()[1].is_modified() && !envelope.items()[0].is_modified());
    assert_eq!(envelope.items()[1].header()["length"], json!(2));
}

#[test]
fn type_and_length_are_always_written_from_the_item() {
    let mut envelope = parse(b"{}\n{\"type\":\"event\",\"length\":2}\n{}\n");
    let item = &mut envelope.items_mut()[0];
    item.header_mut().insert("type".into(), json!("attachment"));
    item.header_mut().insert("length".into(), json!(999));
    item.header_mut().insert("x".into(), json!(1));
    assert_eq!(
        envelope.to_bytes(),
        &b"{}\n{\"length\":2,\"type\":\"event\",\"x\":1}\n{}\n"[..]
    );
    envelope.items_mut()[0].header_mut().clear();
    assert_eq!(
        envelope.to_bytes(),
        &b"{}\n{\"type\":\"event\",\"length\":2}\n{}\n"[..]
    );
}

#[test]
fn set_header_reserializes_only_the_header() {
    let mut envelope =
        parse(b"{\"event_id\":\"a\",  \"dsn\":\"old\"}\n{\"type\":\"event\",\"length\":2}\n{}\n");
    let mut header = envelope.header().clone();
    header.insert("dsn".into(), json!("https://key@upstream/1"));
    envelope.set_header(header);
    assert_eq!(
        envelope.to_bytes(),
        &b"{\"dsn\":\"https://key@upstream/1\",\"event_id\":\"a\"}\n{\"type\":\"event\",\"length\":2}\n{}\n"[..]
    );
}

#[test]
fn building_envelopes() {
    let mut header = Map::new();
    header.insert("event_id".into(), json!("abc"));
    let mut envelope = Envelope::from_header(header.clone());
    assert_eq!(envelope.to_bytes(), &b"{\"event_id\":\"abc\"}\n"[..]);

    let event = Item::new(ItemType::Event, Bytes::from_static(b"{\"a\":\n1}"));
    assert_eq!(
        event.header(),
        json!({"type": "event", "length": 8})
            .as_object()
            .expect("object")
    );
    assert!(event.is_modified());
    envelope.push(event);

    let mut attachment_header = Map::new();
    attachment_header.insert("type".into(), json!("attachment"));
    attachment_header.insert("filename".into(), json!("log.txt"));
    attachment_header.insert("length".into(), json!(1));
    let attachment = Item::with_header(attachment_header, Bytes::from_static(b"hi")).expect("item");
    assert_eq!(attachment.header()["length"], json!(2));
    envelope.push(attachment);

    let expected = b"{\"event_id\":\"abc\"}\n{\"length\":8,\"type\":\"event\"}\n{\"a\":\n1}\n{\"filename\":\"log.txt\",\"length\":2,\"type\":\"attachment\"}\nhi\n";
    assert_eq!(envelope.serialized_len(), expected.len());
    assert_eq!(envelope.to_bytes(), &expected[..]);
    assert_eq!(parse(expected).to_bytes(), &expected[..]);

    let (out_header, items) = envelope.into_items();
    assert_eq!(out_header, header);
    assert_eq!(items.len(), 2);

    assert_eq!(
        Item::with_header(Map::new(), Bytes::new()).map(|_| ()),
        Err(EnvelopeError::MissingItemType { offset: 0 })
    );
}

#[test]
fn write_to_appends() {
    let envelope = parse(b"{}\n");
    let mut out = b"prefix".to_vec();
    envelope.write_to(&mut out);
    assert_eq!(out, b"prefix{}\n");
}

#[test]
fn debug_output_shows_no_payload_or_header_values() {
    let envelope = parse(&realistic());
    let debug = format!("{envelope:?}");
    for secret in ["alice", "quarterly", "9ec79c33", "production"] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert!(debug.contains("payload_len"), "{debug}");
}

#[test]
fn header_whitespace_is_stable() {
    // Trailing whitespace (including extra `\r`) is trimmed from raw header lines,
    // so the second write equals the first.
    let envelope = parse(b"{\"a\":1} \r\r\n{\"type\":\"event\",\"length\":2}\t\r\n{}\r\n");
    let once = envelope.to_bytes();
    assert_eq!(
        once,
        &b"{\"a\":1}\n{\"type\":\"event\",\"length\":2}\n{}\n"[..]
    );
    assert_eq!(
        Envelope::parse(once.clone()).expect("parse").to_bytes(),
        once
    );
    let _: Value = serde_json::from_slice(&once[..7]).expect("json");
}

#[test]
fn headers_with_duplicate_keys_are_rewritten_as_understood() {
    // serde_json keeps the last duplicate; a first-wins parser upstream would
    // frame `length` differently, so such lines are never forwarded verbatim.
    let envelope =
        parse(b"{\"a\":1,\"a\":2}\n{\"type\":\"event\",\"length\":2,\"length\":3}\nabc\n");
    assert_eq!(envelope.header()["a"], json!(2));
    assert_eq!(envelope.items()[0].payload(), &b"abc"[..]);
    assert_eq!(
        envelope.to_bytes(),
        &b"{\"a\":2}\n{\"length\":3,\"type\":\"event\"}\nabc\n"[..]
    );
}
