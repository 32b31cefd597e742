//! Through whole envelopes: exception messages leave only as known
//! templates (whatever the exception type), and frames' source lines only with
//! `--source-context`, masked. Each test plants canaries where apps put them and asserts
//! the exact output, the `_meta` remark and the report.

use bytes::Bytes;
use envelope::Envelope;
use scrub::{scrub_envelope, Decision, Policy, PolicyConfig, Report, Upstream};
use serde_json::{json, Value};

const CANARIES: &[&str] = &["zephyrine", "quillfeather", "tok_canary", "globex"];

fn exception(ty: &str, module: &str, value: &str) -> Value {
    json!({
        "type": ty,
        "module": module,
        "value": value,
        "mechanism": {"type": "django", "handled": false},
        "stacktrace": {"frames": [
            {"filename": "search/rerank.py", "module": "search.rerank", "function": "rerank_hits",
             "lineno": 42, "in_app": true,
             "pre_context": ["def rerank_hits(hits, query):", "    # asked by Zephyrine Quillfeather"],
             "context_line": "    key = \"tok_CANARY51f0\"; return client.post(f\"/rerank?q={query}\", key)",
             "post_context": ["", "CUSTOMER = 'Globex'"],
             "vars": {"query": "'merger plans of Globex'"}}
        ]}
    })
}

/// Scrubs one event with `exceptions`; returns its payload and the report.
fn scrub(policy: &Policy, exceptions: Vec<Value>) -> (Value, Report, String) {
    let event = json!({
        "event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
        "tags": {"company_id": "7"},
        "exception": {"values": exceptions},
    });
    let body = format!(
        "{{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}}\n{{\"type\":\"event\"}}\n{event}\n"
    );
    let out = scrub_envelope(
        &Envelope::parse(Bytes::from(body)).unwrap(),
        policy,
        Upstream::default(),
        |_, _| Decision::Forward { ids_allowed: false },
    );
    let text = String::from_utf8(out.envelope.to_bytes().to_vec()).unwrap();
    let payload = serde_json::from_slice(out.envelope.items()[0].payload()).unwrap();
    (payload, out.report, text)
}

fn assert_gone(text: &str) {
    for c in CANARIES {
        assert!(!text.to_lowercase().contains(c), "{c} left in {text}");
    }
}

fn default_policy() -> Policy {
    Policy::new(PolicyConfig::default()).unwrap()
}

#[test]
fn no_type_is_technical_by_name_the_format_decides() {
    let policy = default_policy();
    let cases = [
        // requests' ConnectionError to a person's laptop, a token in the URL.
        (
            "ConnectionError",
            "requests.exceptions",
            "HTTPSConnectionPool(host='zephyrine-laptop.corp-intra.example.net', port=443): Max retries exceeded with url: /sync?token=tok_CANARY9f3b (Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f3a2c1d0e50>: Failed to resolve 'zephyrine-laptop.corp-intra.example.net' ([Errno -2] Name or service not known)\"))",
            "HTTPSConnectionPool(host='[host]', port=443): Max retries exceeded with url: /sync (Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f3a2c1d0e50>: Failed to resolve '[host]' ([Errno -2] Name or service not known)\"))",
        ),
        // An attribute built from user input; the type and the rest of the format stay.
        (
            "AttributeError",
            "builtins",
            "'Document' object has no attribute 'field_zephyrine'",
            "'Document' object has no attribute '[identifier]'",
        ),
        // A name made of the event's own code words (its frame `rerank_hits`) stays.
        (
            "AttributeError",
            "builtins",
            "'Hit' object has no attribute 'rerank_score'",
            "'Hit' object has no attribute 'rerank_score'",
        ),
        // A row refused by PostgreSQL: the constraint stays, the value goes.
        (
            "IntegrityError",
            "django.db.utils",
            "duplicate key value violates unique constraint \"accounts_email_key\"\nDETAIL:  Key (email)=(zephyrine@example.com) already exists.",
            "duplicate key value violates unique constraint \"accounts_email_key\"\nDETAIL:  Key (email)=([value]) already exists.",
        ),
        // An app's own message is free text, whatever its type.
        (
            "ConnectionError",
            "builtins",
            "could not reach the index for merger plans of Globex",
            "[filtered]",
        ),
    ];
    for (ty, module, value, want) in cases {
        let (payload, report, text) = scrub(&policy, vec![exception(ty, module, value)]);
        assert_gone(&text);
        let e = &payload["exception"]["values"][0];
        assert_eq!(e["value"], want, "{ty}: {value}");
        // The facts stay: type, module, mechanism, the frame's location.
        assert_eq!(e["type"], ty);
        assert_eq!(e["module"], module);
        assert_eq!(e["mechanism"]["type"], "django");
        let frame = &e["stacktrace"]["frames"][0];
        assert_eq!(
            (&frame["function"], &frame["lineno"], &frame["filename"]),
            (
                &json!("rerank_hits"),
                &json!(42),
                &json!("search/rerank.py")
            )
        );
        let remark = &payload["_meta"]["exception"]["values"]["0"]["value"][""];
        if want == value {
            assert!(remark.is_null(), "{ty}: {remark}");
        } else if want == "[filtered]" {
            assert_eq!(remark["rem"][0][0], "@message:replace");
            assert_eq!(report.redactions["@message"], 1);
        } else {
            assert_eq!(remark["rem"][0][0], "@message:template");
            assert!(report.redactions["@message-part"] >= 1);
        }
    }
}

#[test]
fn operators_can_allow_hosts_and_keep_whole_types() {
    let policy = Policy::new(PolicyConfig {
        allowed_hosts: vec![".corp-intra.example.net".to_owned()],
        technical_exception_types: vec!["LicenseError".to_owned()],
        ..PolicyConfig::default()
    })
    .unwrap();
    let (payload, _, _) =
        scrub(
            &policy,
            vec![
            exception(
                "ConnectionError",
                "redis.exceptions",
                "Error 111 connecting to cache.corp-intra.example.net:6379. Connection refused.",
            ),
            exception("LicenseError", "app.licensing", "license expired on 2026-11-30"),
        ],
        );
    let values = &payload["exception"]["values"];
    assert_eq!(
        values[0]["value"],
        "Error 111 connecting to cache.corp-intra.example.net:6379. Connection refused."
    );
    assert_eq!(values[1]["value"], "license expired on 2026-11-30");
}

#[test]
fn home_folders_deeper_in_a_path_are_masked() {
    let mut e = exception("KeyError", "builtins", "'DATABASE_URL'");
    e["stacktrace"]["frames"][0]["abs_path"] =
        "/var/home/zephyrine/letters-plugins/stamp_duty.py".into();
    let (payload, report, text) = scrub(&default_policy(), vec![e]);
    assert_gone(&text);
    let frame = &payload["exception"]["values"][0]["stacktrace"]["frames"][0];
    assert_eq!(
        frame["abs_path"],
        "/var/home/[user]/letters-plugins/stamp_duty.py"
    );
    assert_eq!(report.redactions["@userpath"], 1);
}

#[test]
fn source_lines_are_off_by_default() {
    let (payload, report, text) = scrub(
        &default_policy(),
        vec![exception("KeyError", "builtins", "'DATABASE_URL'")],
    );
    assert_gone(&text);
    let frame = &payload["exception"]["values"][0]["stacktrace"]["frames"][0];
    for k in ["pre_context", "context_line", "post_context", "vars"] {
        assert!(frame.get(k).is_none(), "{k} kept");
    }
    assert_eq!(report.removed_fields["stacktrace.frames.context"], 1);
    assert_eq!(payload["exception"]["values"][0]["value"], "'DATABASE_URL'");
}

#[test]
fn source_context_keeps_code_and_masks_literals_and_comments() {
    let policy = Policy::new(PolicyConfig {
        source_context: true,
        ..PolicyConfig::default()
    })
    .unwrap();
    let (payload, report, text) = scrub(
        &policy,
        vec![exception("KeyError", "builtins", "'DATABASE_URL'")],
    );
    assert_gone(&text);
    let frame = &payload["exception"]["values"][0]["stacktrace"]["frames"][0];
    assert_eq!(
        frame["pre_context"],
        json!(["def rerank_hits(hits, query):", "    # ***"])
    );
    assert_eq!(
        frame["context_line"],
        "    key = \"***\"; return client.post(f\"***\", key)"
    );
    assert_eq!(frame["post_context"], json!(["", "CUSTOMER = '***'"]));
    assert_eq!(report.redactions["@source-literal"], 1);
}
