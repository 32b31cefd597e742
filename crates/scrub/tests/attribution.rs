//! An item belongs to the request (trace) that produced it. Each rule of
//! attribution with planted canaries: the span ids are distinctive per span, so the exact
//! set of spans that leaves is asserted, and a span that must not leave is found if it does.
//!
//! Rules, in order: (a) the item's own company (tag, or the span's company attribute);
//! (b) an item of the same envelope and trace; (c) the gate's trace map. A trace naming two
//! companies attributes none of its unnamed items.

use bytes::Bytes;
use envelope::{Envelope, ItemType};
use scrub::{
    scrub_envelope, scrub_envelope_with, AttributedBy, Attribution, Decision, Gate, KeptConsent,
    Learned, Policy, PolicyConfig, Report, TraceCompany, TraceId, Upstream,
};
use serde_json::{json, Value};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const OTHER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const SPAN_V2: &str = "application/vnd.sentry.items.span.v2+json";
/// Marks a span id planted for this test: none may leave unless its company consented.
const CANARY_SPAN: &str = "cafe";

fn policy() -> Policy {
    Policy::new(PolicyConfig {
        allow_profiles: true,
        allow_check_ins: true,
        ..PolicyConfig::default()
    })
    .unwrap()
}

fn attr(v: Value) -> Value {
    let ty = if v.is_string() { "string" } else { "integer" };
    json!({"type": ty, "value": v})
}

/// A streamed span of `trace`, with the company attribute when `company` is given.
fn span(id: &str, trace: &str, name: &str, company: Option<Value>) -> Value {
    let mut attributes =
        json!({"sentry.op": attr(json!("db")), "thread.name": attr(json!("MainThread"))});
    if let Some(c) = company {
        attributes["company_id"] = attr(c);
    }
    json!({"trace_id": trace, "span_id": id, "name": name, "status": "ok",
           "start_timestamp": 1765144000.1, "end_timestamp": 1765144000.2,
           "attributes": attributes})
}

fn span_item(spans: Vec<Value>) -> (Value, Value) {
    (
        json!({"type": "span", "content_type": SPAN_V2, "item_count": spans.len()}),
        json!({"version": 2, "items": spans}),
    )
}

fn event(ty: &str, trace: &str, company: Option<&str>) -> (Value, Value) {
    let mut payload = json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "platform": "python",
        "type": ty, "user": {"id": "90210"},
        "contexts": {"trace": {"trace_id": trace, "span_id": "a81618f4de9e1096", "op": "http.server"}}});
    if let Some(c) = company {
        payload["tags"] = json!({"company_id": c});
    }
    (json!({"type": ty}), payload)
}

fn body(header: &Value, items: &[(Value, Value)]) -> Envelope {
    let mut text = format!("{header}\n");
    for (h, p) in items {
        text.push_str(&format!("{h}\n{p}\n"));
    }
    Envelope::parse(Bytes::from(text)).unwrap()
}

/// What left: each item's type and payload, the consent facts, the report, the whole text.
struct Out {
    items: Vec<(String, Value)>,
    consent: Vec<KeptConsent>,
    report: Report,
    text: String,
}

fn out(s: scrub::Scrubbed) -> Out {
    Out {
        items: (s.envelope.items().iter())
            .map(|i| {
                let payload = serde_json::from_slice(i.payload()).unwrap();
                (i.ty().to_string(), payload)
            })
            .collect(),
        consent: s.consent,
        report: s.report,
        text: String::from_utf8(s.envelope.to_bytes().to_vec()).unwrap(),
    }
}

/// Consent as a table: company → IDs allowed; a company not listed is refused, and items
/// of no company are dropped (the default `--unattributed drop`). Records what was asked.
fn consent<'c>(
    table: &'c [(&'c str, bool)],
    asked: &'c mut Vec<(String, Option<String>, AttributedBy)>,
) -> impl FnMut(&ItemType, Option<Attribution<'_>>) -> Decision + 'c {
    move |ty, a| {
        let a = a.unwrap_or_default();
        asked.push((ty.to_string(), a.company.map(str::to_owned), a.by));
        match a.company {
            None => Decision::Drop("unattributed"),
            Some(c) => match table.iter().find(|(k, _)| *k == c) {
                Some((_, ids)) => Decision::Forward { ids_allowed: *ids },
                None => Decision::Drop("company_not_consented"),
            },
        }
    }
}

fn span_ids(items: &[(String, Value)]) -> Vec<Vec<String>> {
    (items.iter())
        .filter(|(ty, _)| ty == "span")
        .map(|(_, p)| {
            (p["items"].as_array().unwrap().iter())
                .map(|s| s["span_id"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

fn kept(company: &str, ids_allowed: bool) -> KeptConsent {
    KeptConsent {
        company: Some(company.to_owned()),
        ids_allowed,
    }
}

/// sentry-sdk 3.x: the spans that end before the middleware sets the attribute (Django's
/// signal receivers, `connect`, the token lookup) carry no company; the segment and the
/// later spans do. One request, one item, one trace.
fn request_3x() -> (Value, Value) {
    span_item(vec![
        span("cafe000000000001", TRACE, "connect", None),
        span(
            "cafe000000000002",
            TRACE,
            "SELECT token FROM auth WHERE key = %s",
            None,
        ),
        span(
            "cafe000000000003",
            TRACE,
            "/companies/{company_id}/documents/",
            Some(json!("4711")),
        ),
        span(
            "cafe000000000004",
            TRACE,
            "SELECT slug FROM doc",
            Some(json!("4711")),
        ),
    ])
}

fn header_3x() -> Value {
    json!({"sent_at": "2026-12-07T21:57:36.685977Z",
           "trace": {"trace_id": TRACE, "release": "dms@4.2.0", "public_key": "abc"}})
}

#[test]
fn spans_before_the_middleware_take_the_company_of_their_trace() {
    let env = body(&header_3x(), &[request_3x()]);
    let mut asked = Vec::new();
    let o = out(scrub_envelope(
        &env,
        &policy(),
        Upstream::default(),
        consent(&[("4711", true)], &mut asked),
    ));
    assert_eq!(
        span_ids(&o.items),
        [[
            "cafe000000000001",
            "cafe000000000002",
            "cafe000000000003",
            "cafe000000000004"
        ]]
    );
    // One question for the one company, answered by the attribute of its own spans.
    assert_eq!(
        asked,
        [("span".into(), Some("4711".into()), AttributedBy::Attribute)]
    );
    assert_eq!(o.consent, [kept("4711", true)]);
    assert_eq!(o.report.items_kept["span"], 1);
}

#[test]
fn spans_of_a_refused_company_are_dropped_one_by_one() {
    let env = body(&header_3x(), &[request_3x()]);
    for table in [&[][..], &[("12", true)][..]] {
        let mut asked = Vec::new();
        let o = out(scrub_envelope(
            &env,
            &policy(),
            Upstream::default(),
            consent(table, &mut asked),
        ));
        assert_eq!(o.items, []);
        assert!(!o.text.contains(CANARY_SPAN), "{}", o.text);
        assert_eq!(o.report.items_dropped["span"]["company_not_consented"], 4);
        assert_eq!(o.report.items_kept.get("span"), None);
    }
}

#[test]
fn an_item_with_two_companies_is_split_and_each_keeps_its_own_consent() {
    let item = span_item(vec![
        span("cafe000000000071", TRACE, "SELECT 1", Some(json!("7"))),
        span("cafe000000000081", OTHER_TRACE, "SELECT 2", Some(json!(8))),
        span("cafe000000000072", TRACE, "SELECT 3", None),
        span("cafe000000000082", OTHER_TRACE, "SELECT 4", None),
    ]);
    let env = body(&json!({}), &[item]);

    // 7 with IDs, 8 refused: only 7's spans leave, 8's are counted.
    let mut asked = Vec::new();
    let o = out(scrub_envelope(
        &env,
        &policy(),
        Upstream::default(),
        consent(&[("7", true)], &mut asked),
    ));
    assert_eq!(
        span_ids(&o.items),
        [["cafe000000000071", "cafe000000000072"]]
    );
    assert!(!o.text.contains("cafe00000000008"), "{}", o.text);
    assert_eq!(o.consent, [kept("7", true)]);
    assert_eq!(o.report.items_dropped["span"]["company_not_consented"], 2);

    // Both consented, 8 without IDs: two items, each with its company's consent.
    let mut asked = Vec::new();
    let o = out(scrub_envelope(
        &env,
        &policy(),
        Upstream::default(),
        consent(&[("7", true), ("8", false)], &mut asked),
    ));
    assert_eq!(
        span_ids(&o.items),
        [
            ["cafe000000000071", "cafe000000000072"],
            ["cafe000000000081", "cafe000000000082"]
        ]
    );
    assert_eq!(o.consent, [kept("7", true), kept("8", false)]);
    let asked: Vec<_> = asked.iter().map(|(_, c, by)| (c.clone(), *by)).collect();
    assert_eq!(
        asked,
        [
            (Some("7".into()), AttributedBy::Attribute),
            (Some("8".into()), AttributedBy::Attribute)
        ]
    );
    // Each item says how many spans it holds.
    let headers: Vec<Value> = (o.text.lines())
        .filter(|l| l.contains("item_count"))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(headers[0]["item_count"], 2);
    assert_eq!(headers[1]["item_count"], 2);
}

#[test]
fn gen_ai_spans_beside_their_transaction_take_its_company() {
    // sentry-sdk 2.64+: the gen_ai spans leave the transaction for a v2 item in the same
    // envelope, without the transaction's tags.
    let header =
        json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "trace": {"trace_id": TRACE}});
    let gen_ai = span_item(vec![span(
        "cafe0000000000a1",
        TRACE,
        "chat gpt-4o-mini",
        None,
    )]);
    let env = body(
        &header,
        &[event("transaction", TRACE, Some("4711")), gen_ai],
    );
    let mut asked = Vec::new();
    let o = out(scrub_envelope(
        &env,
        &policy(),
        Upstream::default(),
        consent(&[("4711", false)], &mut asked),
    ));
    assert_eq!(span_ids(&o.items), [["cafe0000000000a1"]]);
    assert_eq!(
        asked,
        [
            ("transaction".into(), Some("4711".into()), AttributedBy::Tag),
            ("span".into(), Some("4711".into()), AttributedBy::Sibling),
        ]
    );
    assert_eq!(o.consent, [kept("4711", false), kept("4711", false)]);
}

#[test]
fn a_trace_naming_two_companies_attributes_none_of_its_unnamed_items() {
    let items = [
        event("event", TRACE, Some("7")),
        event("transaction", TRACE, Some("8")),
        span_item(vec![span("cafe0000000000b1", TRACE, "SELECT 1", None)]),
    ];
    let env = body(&json!({}), &items);
    let mut asked = Vec::new();
    let o = out(scrub_envelope(
        &env,
        &policy(),
        Upstream::default(),
        consent(&[("7", true), ("8", true)], &mut asked),
    ));
    let types: Vec<&str> = o.items.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["event", "transaction"]);
    assert_eq!(o.consent, [kept("7", true), kept("8", true)]);
    assert!(!o.text.contains(CANARY_SPAN));
    assert_eq!(o.report.items_dropped["span"]["ambiguous_company"], 1);
}

#[test]
fn a_span_naming_two_companies_is_dropped_alone() {
    // Written by hand: two keys differing in case only.
    let text = format!(
        "{{}}\n{{\"type\":\"span\",\"content_type\":\"{SPAN_V2}\"}}\n{{\"items\":[\
         {{\"trace_id\":\"{OTHER_TRACE}\",\"span_id\":\"cafe0000000000c1\",\"attributes\":{{\"company_id\":{{\"value\":\"7\"}},\"Company_ID\":{{\"value\":\"8\"}}}}}},\
         {{\"trace_id\":\"{TRACE}\",\"span_id\":\"beef0000000000c2\",\"attributes\":{{\"company_id\":{{\"value\":\"7\"}}}}}}]}}\n"
    );
    let env = Envelope::parse(Bytes::from(text)).unwrap();
    let mut asked = Vec::new();
    let o = out(scrub_envelope(
        &env,
        &policy(),
        Upstream::default(),
        consent(&[("7", true), ("8", true)], &mut asked),
    ));
    assert_eq!(span_ids(&o.items), [["beef0000000000c2"]]);
    assert!(!o.text.contains(CANARY_SPAN));
    assert_eq!(o.report.items_dropped["span"]["ambiguous_company"], 1);
}

#[test]
fn spans_of_no_company_and_no_known_trace_follow_the_unattributed_policy() {
    let item = span_item(vec![
        span("cafe0000000000d1", TRACE, "SELECT 1", None),
        json!({"span_id": "cafe0000000000d2", "name": "no trace at all"}),
    ]);
    let env = body(&json!({}), &[item]);
    let mut asked = Vec::new();
    let o = out(scrub_envelope(
        &env,
        &policy(),
        Upstream::default(),
        consent(&[("4711", true)], &mut asked),
    ));
    assert_eq!(o.items, []);
    assert_eq!(o.report.items_dropped["span"]["unattributed"], 2);
    assert_eq!(asked, [("span".into(), None, AttributedBy::Unattributed)]);
    assert!(!o.text.contains(CANARY_SPAN));
}

#[test]
fn profiles_and_check_ins_follow_their_trace_profile_chunks_never_do() {
    let profile = (
        json!({"type": "profile"}),
        json!({"version": "1", "platform": "python", "transaction": {"name": "/api/search", "trace_id": TRACE}}),
    );
    let check_in = (
        json!({"type": "check_in"}),
        json!({"check_in_id": "83a7c03ed0a04e1b97e2e3b18d38f244", "monitor_slug": "nightly-export", "status": "ok",
               "contexts": {"trace": {"trace_id": TRACE, "span_id": "a81618f4de9e1096", "extra": "cafe"}}}),
    );
    let chunk = (
        json!({"type": "profile_chunk"}),
        json!({"version": "2", "chunk_id": "cafe1234cafe1234cafe1234cafe1234", "platform": "python"}),
    );
    // The chunk sits in an envelope whose header names the trace: still no company.
    let header = json!({"trace": {"trace_id": TRACE}});
    let env = body(
        &header,
        &[
            event("transaction", TRACE, Some("9")),
            profile,
            check_in,
            chunk,
        ],
    );
    let mut asked = Vec::new();
    let o = out(scrub_envelope(
        &env,
        &policy(),
        Upstream::default(),
        consent(&[("9", false)], &mut asked),
    ));
    let types: Vec<&str> = o.items.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["transaction", "profile", "check_in"]);
    assert_eq!(
        o.consent,
        [kept("9", false), kept("9", false), kept("9", false)]
    );
    assert_eq!(o.report.items_dropped["profile_chunk"]["unattributed"], 1);
    let by: Vec<_> = asked
        .iter()
        .map(|(t, c, by)| (t.as_str(), c.as_deref(), *by))
        .collect();
    assert_eq!(
        by,
        [
            ("transaction", Some("9"), AttributedBy::Tag),
            ("profile", Some("9"), AttributedBy::Sibling),
            ("check_in", Some("9"), AttributedBy::Sibling),
            ("profile_chunk", None, AttributedBy::Unattributed),
        ]
    );
    // The check-in keeps its trace ids, nothing else of its contexts.
    let check_in = &o.items[2].1;
    assert_eq!(
        check_in["contexts"],
        json!({"trace": {"trace_id": TRACE, "span_id": "a81618f4de9e1096"}})
    );
    assert!(!o.text.contains(CANARY_SPAN), "{}", o.text);
}

/// A gate with a trace map: what it was taught and asked.
#[derive(Default)]
struct MapGate {
    map: Vec<(TraceId, TraceCompany)>,
    learned: Vec<(String, String)>,
    looked_up: Vec<String>,
    consented: Vec<&'static str>,
}

impl Gate for MapGate {
    fn decide(&mut self, _: &ItemType, who: &Attribution<'_>) -> Decision {
        match who.company {
            Some(c) if self.consented.contains(&c) => Decision::Forward { ids_allowed: false },
            Some(_) => Decision::Drop("company_not_consented"),
            None => Decision::Drop("unattributed"),
        }
    }
    fn trace(&mut self, trace: TraceId) -> TraceCompany {
        self.looked_up.push(trace.to_string());
        (self.map.iter())
            .find(|(t, _)| *t == trace)
            .map_or(TraceCompany::Unknown, |(_, c)| c.clone())
    }
    fn learn(&mut self, trace: TraceId, what: Learned<'_>) {
        let what = match what {
            Learned::Company(c) => c.to_owned(),
            Learned::Ambiguous => "ambiguous".to_owned(),
        };
        self.learned.push((trace.to_string(), what));
    }
}

#[test]
fn a_later_envelope_of_a_trace_takes_its_company_from_the_map() {
    let t = TraceId::parse(TRACE).unwrap();
    let mut gate = MapGate {
        map: vec![(t, TraceCompany::Company("4711".into()))],
        consented: vec!["4711"],
        ..MapGate::default()
    };
    // Only spans without the attribute, as a long request's first flush would be.
    let item = span_item(vec![span("cafe0000000000e1", TRACE, "connect", None)]);
    let env = body(&header_3x(), &[item]);
    let o = out(scrub_envelope_with(
        &env,
        &policy(),
        Upstream::default(),
        &mut gate,
    ));
    assert_eq!(span_ids(&o.items), [["cafe0000000000e1"]]);
    assert_eq!(o.consent, [kept("4711", false)]);
    assert_eq!(gate.looked_up, [TRACE]);
    assert_eq!(gate.learned, []);

    // Ambiguous in the map: dropped. Unknown: unattributed.
    for (map, reason) in [
        (TraceCompany::Ambiguous, "ambiguous_company"),
        (TraceCompany::Unknown, "unattributed"),
    ] {
        let mut gate = MapGate {
            map: vec![(t, map)],
            consented: vec!["4711"],
            ..MapGate::default()
        };
        let o = out(scrub_envelope_with(
            &env,
            &policy(),
            Upstream::default(),
            &mut gate,
        ));
        assert_eq!(o.items, []);
        assert_eq!(o.report.items_dropped["span"][reason], 1);
    }
}

#[test]
fn the_map_learns_own_values_even_of_refused_companies_and_is_asked_last() {
    let mut gate = MapGate::default();
    let env = body(
        &header_3x(),
        &[request_3x(), event("event", OTHER_TRACE, Some("12"))],
    );
    let o = out(scrub_envelope_with(
        &env,
        &policy(),
        Upstream::default(),
        &mut gate,
    ));
    // Nothing consented, nothing leaves; yet both traces are taught (a later item of a
    // refused company's trace must be refused too, not taken for unattributed).
    assert_eq!(o.items, []);
    assert_eq!(
        gate.learned,
        [
            (TRACE.to_owned(), "4711".to_owned()),
            (OTHER_TRACE.to_owned(), "12".to_owned())
        ]
    );
    // Every span had its company from its own attribute or its envelope: no lookup.
    assert_eq!(gate.looked_up, Vec::<String>::new());
    // An item attributed by the map teaches nothing.
    let t = TraceId::parse(TRACE).unwrap();
    let mut gate = MapGate {
        map: vec![(t, TraceCompany::Company("4711".into()))],
        consented: vec!["4711"],
        ..MapGate::default()
    };
    let item = span_item(vec![span("cafe0000000000f1", TRACE, "connect", None)]);
    out(scrub_envelope_with(
        &env_of(item),
        &policy(),
        Upstream::default(),
        &mut gate,
    ));
    assert_eq!(gate.learned, []);
}

fn env_of(item: (Value, Value)) -> Envelope {
    body(&header_3x(), &[item])
}

#[test]
fn the_ingest_is_told_never_to_infer_an_ip_or_user_agent() {
    // An event whose SDK asked for inference, one without `sdk`, and a span item.
    let mut with_auto = event("event", TRACE, Some("7"));
    with_auto.1["sdk"] = json!({"name": "sentry.javascript.browser", "version": "9.1.0",
                                "settings": {"infer_ip": "auto"}});
    let without_sdk = event("transaction", TRACE, Some("7"));
    let spans = span_item(vec![span(
        "beef000000000001",
        TRACE,
        "SELECT 1",
        Some(json!("7")),
    )]);
    let env = body(&header_3x(), &[with_auto, without_sdk, spans]);
    let mut asked = Vec::new();
    let o = out(scrub_envelope(
        &env,
        &policy(),
        Upstream::default(),
        consent(&[("7", false)], &mut asked),
    ));
    assert_eq!(
        o.items[0].1["sdk"],
        json!({"name": "sentry.javascript.browser", "version": "9.1.0", "settings": {"infer_ip": "never"}})
    );
    assert_eq!(
        o.items[1].1["sdk"],
        json!({"settings": {"infer_ip": "never"}})
    );
    let container = &o.items[2].1;
    assert_eq!(container["version"], 2);
    assert_eq!(
        container["ingest_settings"],
        json!({"infer_ip": "never", "infer_user_agent": "never"})
    );
    assert!(!o.text.contains("\"auto\""), "{}", o.text);
}

#[test]
fn items_past_the_held_parse_budget_are_parsed_again_with_the_same_result() {
    // Five events of about 0.9 MiB each (the bulk in `extra`, which is skipped unread): past
    // 4 MiB the items are parsed for their attribution, let go, and parsed again when
    // decided. The last one's company is a number: read as "7" both times, kept as "7".
    let pad = "x".repeat(900 * 1024);
    let mut items = Vec::new();
    for n in 0..5 {
        let (h, mut p) = event("event", TRACE, None);
        p["tags"] = json!({"company_id": 7});
        p["extra"] = json!({"pad": pad});
        p["event_id"] = json!(format!("9ec79c33ec9942ab8353589fcb2e04d{n}"));
        items.push((h, p));
    }
    let spans = span_item(vec![span("cafe0000000000f9", TRACE, "SELECT 1", None)]);
    items.push(spans);
    let env = body(&json!({}), &items);
    let mut asked = Vec::new();
    let o = out(scrub_envelope(
        &env,
        &policy(),
        Upstream::default(),
        consent(&[("7", true)], &mut asked),
    ));
    assert_eq!(o.items.len(), 6);
    for (_, p) in &o.items[..5] {
        assert_eq!(p["tags"], json!({"company_id": "7"}));
        assert_eq!(p["user"], json!({"id": "90210"}));
        assert!(p.get("extra").is_none());
    }
    // The same item scrubbed alone (held) leaves byte for byte the same.
    let alone = body(&json!({}), &items[4..5]);
    let mut asked_alone = Vec::new();
    let o_alone = out(scrub_envelope(
        &alone,
        &policy(),
        Upstream::default(),
        consent(&[("7", true)], &mut asked_alone),
    ));
    assert_eq!(o.items[4], o_alone.items[0]);
    assert_eq!(span_ids(&o.items), [["cafe0000000000f9"]]);
    assert!(
        asked.iter().all(|(_, c, _)| c.as_deref() == Some("7")),
        "{asked:?}"
    );
    assert_eq!(o.consent.len(), 6);
}

// === trace metrics: the same rules, per record ===

const TRACE_METRIC: &str = "application/vnd.sentry.items.trace-metric+json";
const THIRD_TRACE: &str = "5b8efff798038103d269b633813fc60c";

/// A metric record of `trace` (or of none), with the company attribute when given; its
/// span id is the planted marker, and its `topic` attribute (the app's own) must never
/// leave.
fn metric(span_id: &str, trace: Option<&str>, company: Option<&str>) -> Value {
    let mut attributes = json!({"sentry.environment": attr(json!("production")),
                                "topic": attr(json!("cafe merger"))});
    if let Some(c) = company {
        attributes["company_id"] = attr(json!(c));
    }
    let mut m = json!({"timestamp": 1765144000.5, "span_id": span_id, "name": "assistant.latency",
                       "type": "distribution", "value": 812.5, "unit": "millisecond",
                       "attributes": attributes});
    if let Some(t) = trace {
        m["trace_id"] = json!(t);
    }
    m
}

fn metric_item(records: Vec<Value>) -> (Value, Value) {
    (
        json!({"type": "trace_metric", "content_type": TRACE_METRIC, "item_count": records.len()}),
        json!({"version": 2, "items": records}),
    )
}

fn metric_span_ids(items: &[(String, Value)]) -> Vec<Vec<String>> {
    (items.iter())
        .filter(|(ty, _)| ty == "trace_metric")
        .map(|(_, p)| {
            (p["items"].as_array().unwrap().iter())
                .map(|m| m["span_id"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

#[test]
fn trace_metric_records_are_attributed_and_split_like_spans() {
    // Metric envelopes carry no trace in their header: each record names its own.
    let records = metric_item(vec![
        // (b) the event's trace: company 4711.
        metric("cafe0000000001a1", Some(TRACE), None),
        // (a) its own attribute: company 8, refused; and a record of 8's trace.
        metric("cafe0000000001b1", Some(OTHER_TRACE), Some("8")),
        metric("cafe0000000001b2", Some(OTHER_TRACE), None),
        // No rule: a trace no item names, and no trace at all.
        metric("cafe0000000001c1", Some(THIRD_TRACE), None),
        metric("cafe0000000001c2", None, None),
        // (a) 4711 itself, as a number.
        {
            let mut m = metric("cafe0000000001a2", Some(TRACE), None);
            m["attributes"]["company_id"] = attr(json!(4711));
            m
        },
    ]);
    let env = body(
        &json!({"sent_at": "2026-12-07T21:57:36.685977Z"}),
        &[event("event", TRACE, Some("4711")), records],
    );
    for ids in [true, false] {
        let mut asked = Vec::new();
        let o = out(scrub_envelope(
            &env,
            &policy(),
            Upstream::default(),
            consent(&[("4711", ids)], &mut asked),
        ));
        assert_eq!(
            metric_span_ids(&o.items),
            [["cafe0000000001a1", "cafe0000000001a2"]]
        );
        assert_eq!(o.consent, [kept("4711", ids), kept("4711", ids)]);
        let by: Vec<_> = (asked.iter())
            .map(|(t, c, by)| (t.as_str(), c.as_deref(), *by))
            .collect();
        assert_eq!(
            by,
            [
                ("event", Some("4711"), AttributedBy::Tag),
                ("trace_metric", Some("4711"), AttributedBy::Attribute),
                ("trace_metric", Some("8"), AttributedBy::Attribute),
                ("trace_metric", None, AttributedBy::Unattributed),
            ]
        );
        let dropped = &o.report.items_dropped["trace_metric"];
        assert_eq!(dropped["company_not_consented"], 2);
        assert_eq!(dropped["unattributed"], 2);
        // The company attribute under ID consent only, as a string (the record attributed
        // by its sibling gains none); the app's attribute never.
        let (_, kept_item) = &o.items[1];
        let company = |i: usize| kept_item["items"][i]["attributes"]["company_id"].clone();
        assert_eq!(company(0), Value::Null);
        let want = if ids {
            attr(json!("4711"))
        } else {
            Value::Null
        };
        assert_eq!(company(1), want);
        assert_eq!(
            kept_item["ingest_settings"],
            json!({"infer_ip": "never", "infer_user_agent": "never"})
        );
        let header: Value = serde_json::from_str(o.text.lines().nth(3).unwrap()).unwrap();
        assert_eq!(
            header,
            json!({"type": "trace_metric", "content_type": TRACE_METRIC, "item_count": 2,
                   "length": header["length"]})
        );
        assert!(!o.text.contains("merger"), "{}", o.text);
        assert!(!o.text.contains("cafe0000000001b"), "{}", o.text);
        assert!(!o.text.contains("cafe0000000001c"), "{}", o.text);
    }
}

#[test]
fn trace_metric_records_of_a_later_envelope_take_their_trace_from_the_map() {
    let t = TraceId::parse(TRACE).unwrap();
    let records = metric_item(vec![
        metric("cafe0000000001d1", Some(TRACE), None),
        metric("cafe0000000001d2", Some(TRACE), None),
        metric("cafe0000000001e1", Some(OTHER_TRACE), None),
    ]);
    let env = body(&json!({}), &[records]);
    let mut gate = MapGate {
        map: vec![
            (t, TraceCompany::Company("4711".into())),
            (
                TraceId::parse(OTHER_TRACE).unwrap(),
                TraceCompany::Ambiguous,
            ),
        ],
        consented: vec!["4711"],
        ..MapGate::default()
    };
    let o = out(scrub_envelope_with(
        &env,
        &policy(),
        Upstream::default(),
        &mut gate,
    ));
    assert_eq!(
        metric_span_ids(&o.items),
        [["cafe0000000001d1", "cafe0000000001d2"]]
    );
    assert_eq!(o.consent, [kept("4711", false)]);
    // Asked once per trace, not once per record; an item attributed by the map teaches
    // nothing.
    assert_eq!(gate.looked_up, [TRACE, OTHER_TRACE]);
    assert_eq!(gate.learned, []);
    assert_eq!(
        o.report.items_dropped["trace_metric"]["ambiguous_company"],
        1
    );
    assert!(!o.text.contains("cafe0000000001e"), "{}", o.text);
}
