//! Item types beside events: exact outputs for check-ins, profiles, sessions, client reports
//! and span items, with the policy's flags on and off.

use bytes::Bytes;
use envelope::Envelope;
use scrub::{scrub_envelope, Decision, Policy, PolicyConfig, Upstream};

fn run(policy: &Policy, ids: bool, body: &str) -> (String, scrub::Report) {
    let env = Envelope::parse(Bytes::from(body.to_owned())).unwrap();
    let out = scrub_envelope(&env, policy, Upstream::default(), |_, _| {
        Decision::Forward { ids_allowed: ids }
    });
    (
        String::from_utf8(out.envelope.to_bytes().to_vec()).unwrap(),
        out.report,
    )
}

fn policy(f: impl FnOnce(&mut PolicyConfig)) -> Policy {
    let mut c = PolicyConfig::default();
    f(&mut c);
    Policy::new(c).unwrap()
}

const CHECK_IN: &str = "{}\n{\"type\":\"check_in\"}\n{\"check_in_id\":\"83a7c03ed0a04e1b97e2e3b18d38f244\",\"monitor_slug\":\"nightly-export\",\"status\":\"error\",\"duration\":12.5,\"environment\":\"production\",\"monitor_config\":{\"schedule\":{\"type\":\"crontab\",\"value\":\"0 2 * * *\"},\"timezone\":\"Europe/Paris\",\"owner\":\"alice@example.com\"},\"contexts\":{\"customer\":{\"email\":\"alice@example.com\"}}}\n";

#[test]
fn check_ins_are_dropped_unless_enabled_then_scrubbed() {
    let (out, report) = run(&policy(|_| {}), false, CHECK_IN);
    assert_eq!(out, "{}\n");
    assert_eq!(report.items_dropped["check_in"]["item_type_disabled"], 1);

    let (out, _) = run(&policy(|c| c.allow_check_ins = true), false, CHECK_IN);
    assert_eq!(
        out,
        "{}\n{\"length\":237,\"type\":\"check_in\"}\n{\"check_in_id\":\"83a7c03ed0a04e1b97e2e3b18d38f244\",\"monitor_slug\":\"nightly-export\",\"status\":\"error\",\"duration\":12.5,\"environment\":\"production\",\"monitor_config\":{\"schedule\":{\"type\":\"crontab\",\"value\":\"0 2 * * *\"},\"timezone\":\"Europe/Paris\"}}\n"
    );
}

const PROFILE: &str = "{}\n{\"type\":\"profile\"}\n{\"version\":\"1\",\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"platform\":\"python\",\"release\":\"app@1.0\",\"transaction\":{\"name\":\"/api/search\",\"id\":\"9ec79c33ec9942ab8353589fcb2e04dd\",\"trace_id\":\"b20c65740ea54321a81618f4de9e1096\",\"active_thread_id\":\"140\"},\"profile\":{\"frames\":[{\"abs_path\":\"/home/alice/app/views.py\",\"function\":\"search\",\"module\":\"app.views\",\"lineno\":12}],\"stacks\":[[0]],\"samples\":[{\"elapsed_since_start_ns\":\"1000\",\"stack_id\":0,\"thread_id\":\"140\"}],\"thread_metadata\":{\"140\":{\"name\":\"MainThread\"}}},\"measurements\":{\"q\":\"alice@example.com\"}}\n";

#[test]
fn profiles_keep_frames_and_samples_only() {
    let (out, report) = run(&policy(|_| {}), false, PROFILE);
    assert_eq!(out, "{}\n");
    assert_eq!(report.items_dropped["profile"]["item_type_disabled"], 1);

    let (out, report) = run(&policy(|c| c.allow_profiles = true), false, PROFILE);
    let payload = out.lines().nth(2).unwrap();
    assert_eq!(
        payload,
        "{\"version\":\"1\",\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"platform\":\"python\",\"release\":\"app@1.0\",\"transaction\":{\"name\":\"/api/search\",\"id\":\"9ec79c33ec9942ab8353589fcb2e04dd\",\"trace_id\":\"b20c65740ea54321a81618f4de9e1096\",\"active_thread_id\":\"140\"},\"profile\":{\"frames\":[{\"abs_path\":\"/home/[user]/app/views.py\",\"function\":\"search\",\"module\":\"app.views\",\"lineno\":12}],\"stacks\":[[0]],\"samples\":[{\"elapsed_since_start_ns\":\"1000\",\"stack_id\":0,\"thread_id\":\"140\"}],\"thread_metadata\":{\"140\":{\"name\":\"MainThread\"}}}}"
    );
    assert_eq!(report.redactions["@userpath"], 1);
}

#[test]
fn sessions_lose_did_ip_and_user_agent_unless_ids_allowed() {
    let body = "{}\n{\"type\":\"session\"}\n{\"sid\":\"7c7b6e9a-1f1e-4a4e-9a77-3b1c5a0d2e11\",\"did\":\"alice@example.com\",\"init\":true,\"started\":\"2026-11-23T12:00:00Z\",\"status\":\"ok\",\"errors\":0,\"attrs\":{\"release\":\"app@1.0\",\"environment\":\"production\",\"ip_address\":\"203.0.113.7\",\"user_agent\":\"Mozilla/5.0\"}}\n";
    let (out, report) = run(&policy(|_| {}), false, body);
    assert_eq!(
        out.lines().nth(2).unwrap(),
        "{\"sid\":\"7c7b6e9a-1f1e-4a4e-9a77-3b1c5a0d2e11\",\"init\":true,\"started\":\"2026-11-23T12:00:00Z\",\"status\":\"ok\",\"errors\":0,\"attrs\":{\"release\":\"app@1.0\",\"environment\":\"production\"}}"
    );
    assert_eq!(report.removed_fields["did"], 1);
    let (out, _) = run(&policy(|_| {}), true, body);
    assert!(out.contains("\"did\":\"[email]\""), "{out}");
}

#[test]
fn client_reports_keep_counts() {
    let body = "{}\n{\"type\":\"client_report\"}\n{\"timestamp\":1732364000,\"discarded_events\":[{\"reason\":\"sample_rate\",\"category\":\"transaction\",\"quantity\":3},{\"reason\":\"alice@example.com\",\"category\":\"error\",\"quantity\":1}]}\n";
    let (out, _) = run(&policy(|_| {}), false, body);
    assert_eq!(
        out.lines().nth(2).unwrap(),
        "{\"timestamp\":1732364000,\"discarded_events\":[{\"reason\":\"sample_rate\",\"category\":\"transaction\",\"quantity\":3}]}"
    );
}

#[test]
fn span_v2_items_keep_allowlisted_attributes() {
    let body = "{}\n{\"type\":\"span\",\"content_type\":\"application/vnd.sentry.items.span.v2+json\",\"item_count\":1}\n{\"items\":[{\"trace_id\":\"b20c65740ea54321a81618f4de9e1096\",\"span_id\":\"87ec60e9a050d17b\",\"name\":\"SELECT * FROM docs WHERE title = 'CANARY merger'\",\"status\":\"ok\",\"is_segment\":false,\"start_timestamp\":1732364000.5,\"end_timestamp\":1732364000.75,\"attributes\":{\"sentry.op\":{\"type\":\"string\",\"value\":\"db\"},\"db.system\":{\"type\":\"string\",\"value\":\"postgresql\"},\"gen_ai.request.messages\":{\"type\":\"string\",\"value\":\"CANARY prompt\"},\"url.full\":{\"type\":\"string\",\"value\":\"https://api.example.com/v1?q=CANARY\"}}}]}\n";
    let (out, report) = run(&policy(|_| {}), false, body);
    assert_eq!(
        out,
        // A version 2 container that tells the ingest not to infer an IP or user agent.
        "{}\n{\"content_type\":\"application/vnd.sentry.items.span.v2+json\",\"item_count\":1,\"length\":480,\"type\":\"span\"}\n{\"version\":2,\"ingest_settings\":{\"infer_ip\":\"never\",\"infer_user_agent\":\"never\"},\"items\":[{\"trace_id\":\"b20c65740ea54321a81618f4de9e1096\",\"span_id\":\"87ec60e9a050d17b\",\"name\":\"SELECT * FROM docs WHERE title = %s\",\"status\":\"ok\",\"is_segment\":false,\"start_timestamp\":1732364000.5,\"end_timestamp\":1732364000.75,\"attributes\":{\"sentry.op\":{\"type\":\"string\",\"value\":\"db\"},\"db.system\":{\"type\":\"string\",\"value\":\"postgresql\"},\"url.full\":{\"type\":\"string\",\"value\":\"https://api.example.com/v1\"}}}]}\n"
    );
    assert_eq!(report.removed_fields["span.attributes.*"], 1);
    assert!(!out.contains("CANARY"));
}

#[test]
fn denied_and_unknown_types_are_counted() {
    let body = "{}\n{\"type\":\"attachment\",\"filename\":\"alice.txt\"}\nsecret\n{\"type\":\"log\"}\n{\"items\":[]}\n{\"type\":\"replay_event\"}\n{}\n{\"type\":\"brand_new\"}\n{}\n{\"type\":\"event\"}\nnot json\n";
    let (out, report) = run(&policy(|_| {}), false, body);
    assert_eq!(out, "{}\n");
    assert_eq!(report.items_dropped["attachment"]["item_type_denied"], 1);
    assert_eq!(report.items_dropped["log"]["item_type_denied"], 1);
    assert_eq!(report.items_dropped["replay_event"]["item_type_denied"], 1);
    assert_eq!(report.items_dropped["unknown"]["unknown_item_type"], 1);
    assert_eq!(report.items_dropped["event"]["invalid_payload"], 1);
}

#[test]
fn envelope_header_keeps_technical_trace_fields_only() {
    let body = "{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"dsn\":\"https://abc@o1.example/42\",\"sent_at\":\"2026-11-23T12:00:00Z\",\"sdk\":{\"name\":\"sentry.python\",\"version\":\"2.75.0\",\"extra\":\"x\"},\"trace\":{\"trace_id\":\"b20c65740ea54321a81618f4de9e1096\",\"public_key\":\"abc\",\"release\":\"app@1.0\",\"environment\":\"production\",\"transaction\":\"/api/documents/alice%40example.com/?q=merger\",\"sample_rate\":\"1.0\",\"sampled\":\"true\",\"user_segment\":\"vip\",\"replay_id\":\"abc\"},\"custom\":\"alice@example.com\"}\n";
    let env = Envelope::parse(Bytes::from(body.to_owned())).unwrap();
    let out = scrub_envelope(
        &env,
        &policy(|_| {}),
        Upstream {
            dsn: Some("https://up@o1.ingest.de.sentry.io/7"),
            public_key: Some("up"),
        },
        |_, _| Decision::Forward { ids_allowed: false },
    );
    assert_eq!(
        String::from_utf8(out.envelope.to_bytes().to_vec()).unwrap(),
        "{\"dsn\":\"https://up@o1.ingest.de.sentry.io/7\",\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"sdk\":{\"name\":\"sentry.python\",\"version\":\"2.75.0\"},\"sent_at\":\"2026-11-23T12:00:00Z\",\"trace\":{\"environment\":\"production\",\"public_key\":\"up\",\"release\":\"app@1.0\",\"sample_rate\":\"1.0\",\"sampled\":\"true\",\"trace_id\":\"b20c65740ea54321a81618f4de9e1096\",\"transaction\":\"/api/documents/[email]/\"}}\n"
    );
}

#[test]
fn lists_are_bounded_so_tiny_elements_cannot_blow_up_memory() {
    // 5,000 empty frames in 15 KB: parsed, each would be a struct of many fields.
    let frames = vec!["{\"function\":\"f\",\"lineno\":1}"; 5000].join(",");
    let body = format!(
        "{{}}\n{{\"type\":\"event\"}}\n{{\"exception\":{{\"values\":[{{\"type\":\"E\",\"stacktrace\":{{\"frames\":[{frames}]}}}}]}}}}\n"
    );
    let (out, _) = run(&policy(|_| {}), false, &body);
    let payload: serde_json::Value = serde_json::from_str(out.lines().nth(2).unwrap()).unwrap();
    let kept = payload["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array()
        .unwrap();
    assert_eq!(kept.len(), scrub::MAX_ELEMENTS);
    assert_eq!(kept[0], serde_json::json!({"function": "f", "lineno": 1}));
}

#[test]
fn browser_frames_lose_url_queries() {
    let body = "{}\n{\"type\":\"event\"}\n{\"platform\":\"javascript\",\"exception\":{\"values\":[{\"type\":\"TypeError\",\"value\":\"x is undefined\",\"stacktrace\":{\"frames\":[{\"filename\":\"https://app.example.com/static/main.js?token=sk_live_abcdefghijklmnopqrstuvwx\",\"abs_path\":\"https://app.example.com/users/alice%40example.com/main.js\",\"function\":\"render\",\"lineno\":10,\"colno\":5}]}}]}}\n";
    let (out, _) = run(&policy(|_| {}), false, body);
    let payload: serde_json::Value = serde_json::from_str(out.lines().nth(2).unwrap()).unwrap();
    let frame = &payload["exception"]["values"][0]["stacktrace"]["frames"][0];
    assert_eq!(frame["filename"], "https://app.example.com/static/main.js");
    assert_eq!(
        frame["abs_path"],
        "https://app.example.com/users/[email]/main.js"
    );
    assert_eq!(frame["colno"], 5);
    assert_eq!(payload["exception"]["values"][0]["value"], "[filtered]");
}

#[test]
fn url_descriptions_lose_queries_whatever_the_op() {
    let body = "{}\n{\"type\":\"transaction\"}\n{\"type\":\"transaction\",\"spans\":[{\"span_id\":\"87ec60e9a050d17b\",\"op\":\"resource.script\",\"description\":\"https://cdn.example.com/app.js?session=abcdef&email=alice%40example.com\"},{\"span_id\":\"87ec60e9a050d17c\",\"op\":\"ui.render\",\"description\":\"render search results\"}]}\n";
    let (out, _) = run(&policy(|_| {}), false, body);
    let payload: serde_json::Value = serde_json::from_str(out.lines().nth(2).unwrap()).unwrap();
    assert_eq!(
        payload["spans"][0]["description"],
        "https://cdn.example.com/app.js"
    );
    // Words separated by spaces under an op without a normaliser are free text.
    assert_eq!(payload["spans"][1]["description"], "<custom span>");
}

/// Timestamps and measurements keep every digit the SDK sent: Python writes the shortest
/// repr that round-trips (up to 17 significant digits), and a parse that is not correctly
/// rounded would move the last digit.
#[test]
fn floats_survive_to_the_last_digit() {
    let body = "{}\n{\"type\":\"event\"}\n{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"timestamp\":1795439006.0501513,\"start_timestamp\":1795439005.9999998,\"level\":\"error\",\"measurements\":{\"lcp\":{\"value\":0.30000000000000004,\"unit\":\"second\"}}}\n";
    let (out, _) = run(&policy(|_| {}), false, body);
    let payload = out.lines().nth(2).unwrap();
    for number in [
        "1795439006.0501513",
        "1795439005.9999998",
        "0.30000000000000004",
    ] {
        assert!(payload.contains(number), "{number} in {payload}");
    }
}

/// A payload that is not UTF-8 (inside a string, or outside one) is dropped as invalid and
/// counted; the items around it are unaffected.
#[test]
fn payloads_that_are_not_utf8_are_dropped_as_invalid() {
    let mut body = b"{}\n{\"type\":\"event\"}\n{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"message\":\"caf\xe9\"}\n{\"type\":\"event\"}\n{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dd\",\xff\"level\":\"error\"}\n".to_vec();
    body.extend_from_slice(b"{\"type\":\"client_report\"}\n{\"discarded_events\":[{\"reason\":\"queue_overflow\",\"category\":\"error\",\"quantity\":1}]}\n");
    let env = Envelope::parse(Bytes::from(body)).unwrap();
    let out = scrub_envelope(&env, &policy(|_| {}), Upstream::default(), |_, _| {
        Decision::Forward { ids_allowed: false }
    });
    assert_eq!(out.report.items_dropped["event"]["invalid_payload"], 2);
    assert_eq!(
        String::from_utf8(out.envelope.to_bytes().to_vec()).unwrap(),
        "{}\n{\"length\":82,\"type\":\"client_report\"}\n{\"discarded_events\":[{\"reason\":\"queue_overflow\",\"category\":\"error\",\"quantity\":1}]}\n"
    );
}
