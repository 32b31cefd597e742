use super::*;

const EVENT_ID: &str = "9ec79c33ec9942ab8353589fcb2e04dc";

fn lines(envelope: &[u8]) -> Vec<Value> {
    envelope
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).expect("every line is JSON"))
        .collect()
}

fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let err = std::panic::catch_unwind(f).expect_err("expected a panic");
    err.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn envelope_is_a_well_formed_event_envelope() {
    let envelope = event_envelope(EVENT_ID, Some("c-17"), Some("u-42"));
    let lines = lines(&envelope);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["event_id"], EVENT_ID);
    assert_eq!(lines[1]["type"], "event");
    let payload = envelope.split(|b| *b == b'\n').nth(2).expect("payload");
    assert_eq!(lines[1]["length"], payload.len());
    assert_eq!(lines[2]["event_id"], EVENT_ID);
    assert_eq!(lines[2]["tags"]["company_id"], "c-17");
    assert_eq!(lines[2]["user"]["id"], "u-42");
}

#[test]
fn ids_are_left_out_when_not_given() {
    let lines = lines(&event_envelope(EVENT_ID, None, None));
    assert!(lines[2]["tags"].get("company_id").is_none());
    assert!(lines[2]["user"].get("id").is_none());
}

#[test]
fn every_canary_is_planted() {
    let found = find(&event_envelope(EVENT_ID, None, None));
    let missing: Vec<_> = strings()
        .iter()
        .filter(|c| !found.iter().any(|f| f.canary == **c))
        .collect();
    assert!(missing.is_empty(), "not planted: {missing:?}");
    for f in &found {
        assert!(
            f.path.as_deref().is_some_and(|p| p.starts_with("line ")),
            "{f:?}"
        );
    }
}

#[test]
fn clean_bytes_pass() {
    let scrubbed = br#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","release":"docsearch@3.4.1"}
{"type":"event","length":99}
{"message":"search failed for [email] with [card]","contexts":{"runtime":{"version":"3.12.8"}}}
"#;
    assert_no_canary(scrubbed, "scrubbed event");
}

#[test]
fn a_leak_is_reported_with_its_canary_and_path() {
    let leaked =
        b"{}\n{\"type\":\"event\"}\n{\"user\":{\"email\":\"bob.canary+billing@example.org\"}}\n";
    let message = panic_message(|| assert_no_canary(leaked, "upstream body"));
    assert!(
        message.starts_with("upstream body: 1 canary(ies) leaked"),
        "{message}"
    );
    assert!(
        message.contains("bob.canary+billing@example.org"),
        "{message}"
    );
    assert!(message.contains("line 3: $.user.email"), "{message}");
}

#[test]
fn other_spellings_are_caught() {
    let cases: [(&[u8], &str); 4] = [
        (b"card=4111111111111111", CARD),
        (b"/search?email=alice.canary%40example.com", EMAIL),
        (b"{\"iban\":\"FR1420041010050500013M02606\"}", IBAN),
        (b"q=CANARYPROMPT+summarise", PROMPT_MARKER),
    ];
    for (bytes, canary) in cases {
        let found = find(bytes);
        assert!(
            found.iter().any(|f| f.canary == canary),
            "{canary}: {found:?}"
        );
    }
    let found = find(b"{\"n\":4111111111111111}");
    assert_eq!(found[0].path.as_deref(), Some("line 1: $.n"));
}
