//! Each record's own attribution, read from the typed parse.

use super::{Records, Typed};
use crate::attribution::{Ambiguous, AttributedBy, TraceId};
use crate::items::spans_v2::SpanBatch;
use crate::items::trace_metric::MetricBatch;

const T1: &str = "771a43a4192642f0b136d5159a501700";
const T2: &str = "b20c65740ea54321a81618f4de9e1096";

fn t(s: &str) -> TraceId {
    TraceId::parse(s).unwrap()
}

/// A record's own company (or `Ambiguous`), its user and its trace.
type RecordWho = (
    Result<Option<String>, Ambiguous>,
    Option<String>,
    Option<TraceId>,
);

fn records<'a, B: Records<'a>>(payload: &'a str) -> Vec<RecordWho> {
    let b: Typed<B> = Typed::read(payload.as_bytes(), "company_id", Some(t(T2))).unwrap();
    (b.owns.iter())
        .map(|o| (o.company.clone(), o.user.clone(), o.trace))
        .collect()
}

#[test]
fn span_records_name_their_company_user_and_trace() {
    let payload = format!(
        r#"{{"version":2,"items":[
        {{"trace_id":"{T1}","attributes":{{"company_id":{{"type":"string","value":"4711"}},"user.id":{{"value":"90210"}}}}}},
        {{"trace_id":"{T1}","attributes":{{"Company_ID":{{"type":"integer","value":4711}}}}}},
        {{"attributes":{{"company_id":{{"value":12}}}}}},
        null,
        {{"trace_id":"not-a-trace","attributes":{{"other":{{"value":"4711"}}}}}},
        {{"trace_id":"{T1}","attributes":{{"company_id":{{"value":"7"}},"COMPANY_ID":{{"value":"8"}}}}}},
        {{"trace_id":"{T1}","attributes":{{"company_id":{{"value":"7"}},"company_id":{{"value":"7"}}}}}},
        {{"trace_id":"{T1}","attributes":{{"company_id":{{"value":true}}}}}}
    ]}}"#
    );
    assert_eq!(
        records::<SpanBatch<'_>>(&payload),
        [
            (Ok(Some("4711".into())), Some("90210".into()), Some(t(T1))),
            // A number is the company of its decimal string; the key in any case.
            (Ok(Some("4711".into())), None, Some(t(T1))),
            // No trace of its own: the envelope's.
            (Ok(Some("12".into())), None, Some(t(T2))),
            (Ok(None), None, Some(t(T2))),
            (Err(Ambiguous), None, Some(t(T1))),
            // The same company twice is one company.
            (Ok(Some("7".into())), None, Some(t(T1))),
            (Ok(None), None, Some(t(T1))),
        ]
    );
}

#[test]
fn metric_records_name_their_company_and_trace() {
    let payload = format!(
        r#"{{"version":2,"items":[
        {{"trace_id":"{T1}","name":"chat.requests","type":"counter","value":1,"attributes":{{"company_id":{{"type":"string","value":"4711"}}}}}},
        {{"name":"chat.tokens","type":"distribution","value":3}}
    ]}}"#
    );
    assert_eq!(
        records::<MetricBatch<'_>>(&payload),
        [
            (Ok(Some("4711".into())), None, Some(t(T1))),
            (Ok(None), None, Some(t(T2))),
        ]
    );
}

#[test]
fn the_attribution_rule_is_the_attribute_only_when_one_is_named() {
    let payload = format!(
        r#"{{"items":[{{"trace_id":"{T1}","attributes":{{"company_id":{{"value":"7"}}}}}},{{}}]}}"#
    );
    let b: Typed<SpanBatch<'_>> = Typed::read(payload.as_bytes(), "company_id", None).unwrap();
    let by: Vec<_> = b.owns.iter().map(|o| o.by).collect();
    assert_eq!(by, [AttributedBy::Attribute, AttributedBy::Unattributed]);
}

#[test]
fn a_record_the_schema_cannot_read_refuses_the_item() {
    for bad in [
        // A record that is not an object.
        r#"{"items":[{"trace_id":"x"},"text"]}"#,
        // A company attribute that is not a typed attribute.
        r#"{"items":[{"attributes":{"company_id":"12"}}]}"#,
        "{\"items\":[",
    ] {
        let r: Result<Typed<SpanBatch<'_>>, _> = Typed::read(bad.as_bytes(), "company_id", None);
        assert_eq!(r.err(), Some(crate::items::DROP_INVALID), "{bad}");
    }
    // No list: no records, as the typed parse reads it.
    let b: Typed<SpanBatch<'_>> = Typed::read(br#"{"items":{"a":1}}"#, "company_id", None).unwrap();
    assert!(b.owns.is_empty());
}
