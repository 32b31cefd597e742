//! Span v2 as a first-class schema, with planted canaries: segment names
//! by each source and every copy of them, every kept attribute, IDs only under ID consent,
//! the item's own company attribute, AI span names, and trace metrics.

use std::cell::RefCell;

use bytes::Bytes;
use envelope::Envelope;
use scrub::{scrub_envelope, Decision, Policy, PolicyConfig, Report, Upstream};
use serde_json::{json, Value};

const TRACE: &str = "b20c65740ea54321a81618f4de9e1096";
const CANARY: &str = "zephyrine";

fn s(v: &str) -> Value {
    json!({"type": "string", "value": v})
}

fn span(id: &str, name: &str, segment: bool, attrs: Value) -> Value {
    let mut sp = json!({"trace_id": TRACE, "span_id": id, "name": name, "status": "ok", "is_segment": segment, "start_timestamp": 1765141143.1, "end_timestamp": 1765141143.2, "attributes": attrs});
    if !segment {
        sp["parent_span_id"] = "8d955ec56180345a".into();
    }
    sp
}

fn span_item(spans: &[Value]) -> String {
    format!(
        "{{\"type\":\"span\",\"content_type\":\"application/vnd.sentry.items.span.v2+json\",\"item_count\":{}}}\n{}\n",
        spans.len(),
        json!({"version": 2, "items": spans})
    )
}

struct Out {
    header: Value,
    items: Vec<Value>,
    text: String,
    report: Report,
    asked: Vec<(Option<String>, Option<String>)>,
}

/// Scrubs `header` + raw items with the gate answering `ids`; records what the gate was
/// asked (company, user).
fn run(policy: &Policy, ids: bool, header: Value, items: &str) -> Out {
    let body = format!("{header}\n{items}");
    let asked = RefCell::new(Vec::new());
    let out = scrub_envelope(
        &Envelope::parse(Bytes::from(body)).unwrap(),
        policy,
        Upstream::default(),
        |_, a| {
            asked.borrow_mut().push((
                a.and_then(|a| a.company).map(str::to_owned),
                a.and_then(|a| a.user).map(str::to_owned),
            ));
            Decision::Forward { ids_allowed: ids }
        },
    );
    let text = String::from_utf8(out.envelope.to_bytes().to_vec()).unwrap();
    Out {
        header: serde_json::from_str(text.lines().next().unwrap()).unwrap(),
        items: out
            .envelope
            .items()
            .iter()
            .map(|i| serde_json::from_slice(i.payload()).unwrap())
            .collect(),
        text,
        report: out.report,
        asked: asked.into_inner(),
    }
}

fn policy() -> Policy {
    Policy::new(PolicyConfig::default()).unwrap()
}

fn attr(item: &Value, i: usize, key: &str) -> Value {
    item["items"][i]["attributes"][key]["value"].clone()
}

/// One trace as sentry-sdk 3.x streams it: a child that ended first, the segment last; the
/// header's `trace.transaction` and every span's `sentry.segment.name` copy the name.
fn trace_with(name: &str, source: Option<&str>, route: Option<&str>) -> (Value, String) {
    let mut seg = json!({"sentry.op": s("http.server"), "sentry.segment.name": s(name)});
    if let Some(src) = source {
        seg["sentry.segment.name.source"] = s(src);
    }
    if let Some(r) = route {
        seg["http.route"] = s(r);
    }
    let child = json!({"sentry.op": s("db"), "sentry.segment.name": s(name)});
    let header = json!({"trace": {"trace_id": TRACE, "transaction": name}});
    let items = span_item(&[
        span("a81618f4de9e1097", "SELECT 1", false, child),
        span("8d955ec56180345a", name, true, seg),
    ]);
    (header, items)
}

/// The segment's name is decided by its source exactly like a transaction name, and the
/// header, the segment's own attribute and the child's copy get the same decision.
#[test]
fn segment_names_by_source_and_every_copy() {
    let policy = policy();
    for (name, source, route, want) in [
        // A route must not be masked as a URL.
        (
            "/billing/payment-method/",
            Some("route"),
            None,
            "/billing/payment-method/",
        ),
        (
            "/companies/{company_id}/documents/{slug}/",
            Some("route"),
            Some("/companies/{company_id}/documents/{slug}/"),
            "/companies/{company_id}/documents/{slug}/",
        ),
        (
            "POST /api/assistant/chat/",
            Some("route"),
            Some("/api/assistant/chat/"),
            "POST /api/assistant/chat/",
        ),
        (
            "dms.views.assistant_chat",
            Some("view"),
            None,
            "dms.views.assistant_chat",
        ),
        (
            "SearchDocuments",
            Some("component"),
            None,
            "SearchDocuments",
        ),
        ("dms.tasks.reindex", Some("task"), None, "dms.tasks.reindex"),
        (
            "reindex_documents",
            Some("custom"),
            None,
            "reindex_documents",
        ),
        (
            "reindex zephyrine canarywood memoirs",
            Some("custom"),
            None,
            "<custom transaction>",
        ),
        (
            "reindex zephyrine canarywood memoirs",
            Some("task"),
            None,
            "<task transaction>",
        ),
        (
            "generic WSGI request",
            Some("route"),
            None,
            "generic WSGI request",
        ),
        // A URL name takes the route as its template, or loses its non-technical segments.
        (
            "/people/zephyrine-canarywood/cv/",
            Some("url"),
            Some("/people/{slug}/cv/"),
            "/people/{slug}/cv/",
        ),
        (
            "GET /people/zephyrine-canarywood/cv/",
            Some("url"),
            Some("/people/{slug}/cv/"),
            "GET /people/{slug}/cv/",
        ),
        (
            "/people/zephyrine-canarywood/cv/",
            Some("url"),
            None,
            "/people/*/cv/",
        ),
        // The span's own http.route says it is a template whatever the source.
        (
            "/api/assistant/chat/",
            None,
            Some("/api/assistant/chat/"),
            "/api/assistant/chat/",
        ),
    ] {
        let (header, items) = trace_with(name, source, route);
        let out = run(&policy, true, header, &items);
        let item = &out.items[0];
        let got = [
            out.header["trace"]["transaction"].clone(),
            item["items"][1]["name"].clone(),
            attr(item, 1, "sentry.segment.name"),
            attr(item, 0, "sentry.segment.name"),
        ];
        assert_eq!(
            got,
            [want, want, want, want].map(Value::from),
            "{name} ({source:?})"
        );
        assert!(!out.text.contains(CANARY), "{name}: {}", out.text);
        if let Some(r) = route {
            assert_eq!(attr(item, 1, "http.route"), r);
        }
    }
}

/// A trace's spans may come in several envelopes (3.x flushes every 5 s and at 1000 spans):
/// a child's copy of the name in an earlier envelope, without the segment, is decided as a
/// pure function of the name, the same as the segment's decision for the names routes have.
#[test]
fn a_copy_in_another_envelope_takes_the_same_decision() {
    let policy = policy();
    for name in [
        "/billing/payment-method/",
        "/companies/{company_id}/documents/{slug}/",
        "/companies/:companyId/documents/:slug/",
        "POST /api/assistant/chat/",
        "GET /v1/chat/completions",
        "dms.views.assistant_chat",
        "generic WSGI request",
    ] {
        let (header, items) = trace_with(name, Some("route"), None);
        let whole = run(&policy, false, header.clone(), &items);
        let early = span_item(&[span(
            "a81618f4de9e1097",
            "SELECT 1",
            false,
            json!({"sentry.op": s("db"), "sentry.segment.name": s(name)}),
        )]);
        let alone = run(&policy, false, header, &early);
        assert_eq!(attr(&alone.items[0], 0, "sentry.segment.name"), name);
        assert_eq!(attr(&whole.items[0], 1, "sentry.segment.name"), name);
        assert_eq!(alone.header["trace"]["transaction"], name);
    }
}

/// The limit of a copy sent before its segment (a later envelope of the
/// trace): where the segment's decision needs its source's evidence (a URL name and the
/// segment's `http.route`, or the `custom` label), the copy judged alone cannot have it; it
/// is judged as a name of unknown source, never looser than the segment: its path keeps its
/// technical words and masks the rest, and free text gets the `unknown` placeholder. No
/// trace map can carry the source here: the copy's envelope is sent first (3.x flushes a
/// long request's spans every 5 s, before the segment ends).
#[test]
fn a_copy_sent_before_its_segment_is_judged_without_the_segments_source() {
    let policy = policy();
    for (name, source, route, segment, early) in [
        (
            "/people/zephyrine-canarywood/cv/",
            "url",
            Some("/people/{slug}/cv/"),
            "/people/{slug}/cv/",
            "/people/*/cv/",
        ),
        (
            "reindex zephyrine canarywood memoirs",
            "custom",
            None,
            "<custom transaction>",
            "<unknown transaction>",
        ),
    ] {
        let (header, items) = trace_with(name, Some(source), route);
        let whole = run(&policy, false, header.clone(), &items);
        assert_eq!(attr(&whole.items[0], 0, "sentry.segment.name"), segment);
        let early_item = span_item(&[span(
            "a81618f4de9e1097",
            "SELECT 1",
            false,
            json!({"sentry.op": s("db"), "sentry.segment.name": s(name)}),
        )]);
        let alone = run(&policy, false, header, &early_item);
        assert_eq!(attr(&alone.items[0], 0, "sentry.segment.name"), early);
        assert_eq!(alone.header["trace"]["transaction"], early);
        assert!(!alone.text.contains(CANARY), "{}", alone.text);
    }
}

/// Every attribute of the table is kept as it is judged; everything else goes, and no
/// planted value leaves. Without ID consent, user.id and the company attribute go too.
#[test]
fn every_kept_attribute_and_nothing_else() {
    let kept = json!({
        "sentry.op": s("http.server"),
        "sentry.origin": s("auto.http.django"),
        "sentry.platform": s("python"),
        "sentry.sdk.name": s("sentry.python.django"),
        "sentry.sdk.version": s("3.0.1"),
        "sentry.release": s("dms-assistant@4.2.0"),
        "sentry.environment": s("production"),
        "sentry.segment.id": s("8d955ec56180345a"),
        "sentry.segment.name": s("/companies/{company_id}/documents/{slug}/"),
        "sentry.segment.name.source": s("route"),
        "sentry.trace_lifecycle": s("stream"),
        "sentry.sample_rate": {"type": "integer", "value": 1},
        "process.runtime.name": s("CPython"),
        "process.runtime.version": s("3.11.7"),
        "thread.id": s("139696365894528"),
        "thread.name": s("MainThread"),
        "http.route": s("/companies/{company_id}/documents/{slug}/"),
        "http.request.method": s("GET"),
        "http.response.status_code": {"type": "integer", "value": 200},
        "network.protocol.name": s("http"),
        "url.full": s("http://127.0.0.1:8000/companies/4711/documents/zephyrine-canarywood-memoirs/?q=zephyrine"),
        "code.function.name": s("dms.views.document_detail"),
        "os.name": s("Debian"),
        "os.version": s("12.11\n"),
        "user.id": s("90210"),
        "company_id": s("4711"),
    });
    let removed = json!({
        "user.email": s("zephyrine@example.com"),
        "user.name": s("zephyrine"),
        "user.ip_address": s("203.0.113.9"),
        "user_agent.original": s("Mozilla/5.0 zephyrine"),
        "client.address": s("203.0.113.9"),
        "url.path": s("/companies/4711/documents/zephyrine-canarywood-memoirs/"),
        "url.query": s("q=zephyrine"),
        "http.query": s("q=zephyrine"),
        "http.request.header.x-customer-ref": {"type": "array", "value": ["zephyrine"]},
        "http.request.header.cookie": {"type": "array", "value": ["session=zephyrine"]},
        "process.command_args": {"type": "array", "value": ["/srv/zephyrine/serve.py"]},
        "server.address": s("zephyrine-laptop"),
        "sentry.status.message": s("zephyrine failed"),
        "db.namespace": s("/home/zephyrine/db.sqlite3"),
        "cache.key": {"type": "array", "value": ["doc:4711:zephyrine"]},
    });
    let mut attrs = kept.clone();
    for (k, v) in removed.as_object().unwrap() {
        attrs[k] = v.clone();
    }
    let name = "/companies/{company_id}/documents/{slug}/";
    let items = span_item(&[span("8d955ec56180345a", name, true, attrs)]);
    for ids in [true, false] {
        let out = run(&policy(), ids, json!({}), &items);
        let mut want = kept.clone();
        // The server span's URL takes its route's path; the query goes.
        want["url.full"] = s("http://127.0.0.1:8000/companies/{company_id}/documents/{slug}/");
        if !ids {
            want.as_object_mut().unwrap().remove("user.id");
            want.as_object_mut().unwrap().remove("company_id");
        }
        assert_eq!(out.items[0]["items"][0]["attributes"], want, "ids={ids}");
        assert!(!out.text.to_lowercase().contains(CANARY), "{}", out.text);
        assert!(!out.text.contains("203.0.113.9"));
        assert_eq!(out.asked, vec![(Some("4711".into()), Some("90210".into()))]);
        let removed_n = out.report.removed_fields["span.attributes.*"];
        assert_eq!(removed_n, if ids { 15 } else { 17 }, "ids={ids}");
    }
}

/// The transaction-era fields a streamed span stands for, judged the same: SQL literals go
/// from `db.query.text`, gen_ai counts and models stay, prompts and answers never leave,
/// an outbound call's peer host stays by the host rule.
#[test]
fn child_span_attributes_by_kind() {
    let db = json!({"sentry.op": s("db"), "db.system.name": s("sqlite"),
        "db.query.text": s("SELECT id FROM dms_document WHERE title = 'zephyrine canarywood' LIMIT 21")});
    let gen_ai = json!({"sentry.op": s("gen_ai.chat"), "gen_ai.operation.name": s("chat"),
        "gen_ai.provider.name": s("openai"), "gen_ai.request.model": s("gpt-4o-mini"),
        "gen_ai.response.model": s("gpt-4o-mini-2024-07-18"),
        "gen_ai.request.max_tokens": {"type": "integer", "value": 400},
        "gen_ai.request.temperature": {"type": "double", "value": 0.2},
        "gen_ai.response.streaming": {"type": "boolean", "value": false},
        "gen_ai.response.finish_reasons": {"type": "array", "value": ["stop"]},
        "gen_ai.usage.input_tokens": {"type": "integer", "value": 182},
        "gen_ai.usage.cache_read.input_tokens": {"type": "integer", "value": 0},
        "gen_ai.usage.output_tokens.reasoning": {"type": "integer", "value": 0},
        "gen_ai.request.messages": s("[{\"role\":\"user\",\"content\":\"zephyrine\"}]"),
        "gen_ai.system_instructions": s("You help zephyrine"),
        "gen_ai.response.text": s("zephyrine"),
        "gen_ai.output.messages": s("zephyrine")});
    let node_gen_ai = json!({"sentry.op": s("gen_ai.chat"), "gen_ai.request.model": s("gpt-4o-mini"),
        "gen_ai.response.finish_reasons": s("[\"stop\"]"),
        "gen_ai.input.messages": s("zephyrine")});
    let client = json!({"sentry.op": s("http.client"), "http.request.method": s("POST"),
        "server.address": s("api.openai.com"),
        "url.full": s("https://api.openai.com/v1/chat/completions?key=zephyrine")});
    let cache = json!({"sentry.op": s("cache.get"), "cache.hit": {"type": "boolean", "value": false},
        "cache.item_size": {"type": "integer", "value": 135}});
    let items = span_item(&[
        span(
            "a81618f4de9e1091",
            "SELECT id FROM dms_document WHERE title = 'zephyrine canarywood' LIMIT 21",
            false,
            db,
        ),
        span("a81618f4de9e1092", "chat gpt-4o-mini", false, gen_ai),
        span("a81618f4de9e1093", "chat gpt-4o-mini", false, node_gen_ai),
        span(
            "a81618f4de9e1094",
            "POST https://api.openai.com/v1/chat/completions",
            false,
            client,
        ),
        span(
            "a81618f4de9e1095",
            "doc:4711:zephyrine-canarywood",
            false,
            cache,
        ),
    ]);
    let out = run(&policy(), true, json!({}), &items);
    let item = &out.items[0];
    assert_eq!(
        item["items"][0]["name"],
        "SELECT id FROM dms_document WHERE title = %s LIMIT 21"
    );
    assert_eq!(
        attr(item, 0, "db.query.text"),
        "SELECT id FROM dms_document WHERE title = %s LIMIT 21"
    );
    assert_eq!(attr(item, 0, "db.system.name"), "sqlite");
    assert_eq!(item["items"][1]["name"], "chat gpt-4o-mini");
    // (serde_json's map is sorted.)
    assert_eq!(
        item["items"][1]["attributes"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        [
            "gen_ai.operation.name",
            "gen_ai.provider.name",
            "gen_ai.request.max_tokens",
            "gen_ai.request.model",
            "gen_ai.request.temperature",
            "gen_ai.response.finish_reasons",
            "gen_ai.response.model",
            "gen_ai.response.streaming",
            "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.output_tokens.reasoning",
            "sentry.op",
        ]
    );
    assert_eq!(
        attr(item, 1, "gen_ai.response.finish_reasons"),
        json!(["stop"])
    );
    assert_eq!(attr(item, 1, "gen_ai.request.temperature"), 0.2);
    // @sentry/node: no operation attribute (the op's own word), finish reasons as JSON text.
    assert_eq!(item["items"][2]["name"], "chat gpt-4o-mini");
    assert_eq!(
        attr(item, 2, "gen_ai.response.finish_reasons"),
        "[\"stop\"]"
    );
    assert_eq!(
        item["items"][3]["name"],
        "POST https://api.openai.com/v1/chat/completions"
    );
    assert_eq!(
        attr(item, 3, "url.full"),
        "https://api.openai.com/v1/chat/completions"
    );
    assert_eq!(attr(item, 3, "server.address"), "api.openai.com");
    // A cache key keeps its technical parts (its ids only under ID consent).
    assert_eq!(item["items"][4]["name"], "doc:4711:*");
    assert_eq!(attr(item, 4, "cache.hit"), false);
    assert_eq!(attr(item, 4, "cache.item_size"), 135);
    assert!(!out.text.to_lowercase().contains(CANARY), "{}", out.text);
}

/// An AI span's name leaves only as the SDK's own `{operation} {model}` of kept attributes:
/// a name holding anything else becomes the op, in a v2 span and in a transaction span.
#[test]
fn ai_span_names_only_in_the_sdks_form() {
    let attrs = json!({"sentry.op": s("gen_ai.chat"), "gen_ai.operation.name": s("chat"), "gen_ai.request.model": s("gpt-4o-mini")});
    let items = span_item(&[
        span("a81618f4de9e1091", "chat gpt-4o-mini", false, attrs.clone()),
        span(
            "a81618f4de9e1092",
            "chat zephyrine asked about the merger",
            false,
            attrs.clone(),
        ),
        span("a81618f4de9e1093", "chat gpt-4o", false, attrs),
    ]);
    let out = run(&policy(), true, json!({}), &items);
    let names: Vec<&Value> = (0..3).map(|i| &out.items[0]["items"][i]["name"]).collect();
    assert_eq!(names, ["chat gpt-4o-mini", "gen_ai.chat", "gen_ai.chat"]);

    let tx = json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "type": "transaction", "spans": [
        {"span_id": "a81618f4de9e1091", "op": "gen_ai.chat", "description": "chat gpt-4o-mini",
         "data": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                  "gen_ai.response.finish_reasons": ["end_turn"], "gen_ai.usage.input_tokens.cached": 0,
                  "gen_ai.request.messages": "zephyrine"}},
        {"span_id": "a81618f4de9e1092", "op": "gen_ai.chat", "description": "chat zephyrine",
         "data": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"}}]});
    let out = run(
        &policy(),
        true,
        json!({}),
        &format!("{{\"type\":\"transaction\"}}\n{tx}\n"),
    );
    let spans = &out.items[0]["spans"];
    assert_eq!(spans[0]["description"], "chat gpt-4o-mini");
    assert_eq!(
        spans[0]["data"],
        json!({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.finish_reasons": ["end_turn"], "gen_ai.usage.input_tokens.cached": 0})
    );
    assert_eq!(spans[1]["description"], "gen_ai.chat");
    assert!(!out.text.contains(CANARY));
}

/// The item's own company attribute (as `set_attribute` puts it, in any case, as a number
/// too) is what the gate is asked, with the user of the first span that names one; two
/// companies in one item: split, one part per company.
#[test]
fn the_company_attribute_attributes_the_item() {
    let with = |company: Value, other: Value| {
        span_item(&[
            span(
                "a81618f4de9e1091",
                "connect",
                false,
                json!({"sentry.op": s("db")}),
            ),
            span(
                "a81618f4de9e1092",
                "SELECT 1",
                false,
                json!({"sentry.op": s("db"), "company_id": company}),
            ),
            span(
                "8d955ec56180345a",
                "/x/",
                true,
                json!({"sentry.op": s("http.server"), "Company_ID": other, "user.id": s("90210")}),
            ),
        ])
    };
    let one = run(
        &policy(),
        true,
        json!({}),
        &with(s("4711"), json!({"type": "integer", "value": 4711})),
    );
    assert_eq!(one.asked, vec![(Some("4711".into()), Some("90210".into()))]);
    // Kept once per span, under the configured name, as a string.
    assert_eq!(attr(&one.items[0], 1, "company_id"), "4711");
    assert_eq!(attr(&one.items[0], 2, "company_id"), "4711");
    assert!(one.items[0]["items"][2]["attributes"]
        .get("Company_ID")
        .is_none());

    // Two companies in one item: each span that names one is its company's (the item is
    // split, each part asked once); the span that names none, in a trace of two, goes.
    let two = run(&policy(), true, json!({}), &with(s("4711"), s("4712")));
    assert_eq!(
        two.asked,
        vec![
            (Some("4711".into()), None),
            (Some("4712".into()), Some("90210".into()))
        ]
    );
    assert_eq!(two.items.len(), 2);
    assert_eq!(attr(&two.items[0], 0, "company_id"), "4711");
    assert_eq!(attr(&two.items[1], 0, "company_id"), "4712");
    assert_eq!(two.report.items_dropped["span"]["ambiguous_company"], 1);

    // The tag's name is configuration: `tenant` here.
    let tenant = Policy::new(PolicyConfig {
        company_tag: "tenant".into(),
        ..PolicyConfig::default()
    })
    .unwrap();
    let items = span_item(&[span(
        "8d955ec56180345a",
        "/x/",
        true,
        json!({"sentry.op": s("http.server"), "tenant": s("4711"), "company_id": s("9999")}),
    )]);
    let out = run(&tenant, true, json!({}), &items);
    assert_eq!(out.asked, vec![(Some("4711".into()), None)]);
    assert_eq!(
        out.items[0]["items"][0]["attributes"],
        json!({"sentry.op": s("http.server"), "tenant": s("4711")})
    );
}

/// Trace metrics: names, types, values, units and ids kept; app attributes removed; the
/// company and user under ID consent; a name that is not code replaced.
#[test]
fn trace_metrics_keep_the_measurement() {
    let record = |name: &str| {
        json!({"timestamp": 1765141143.5, "trace_id": TRACE, "span_id": "a81618f4de9e1091",
        "name": name, "type": "distribution", "value": 812.5, "unit": "millisecond",
        "attributes": {"sentry.release": s("dms-assistant@4.2.0"), "sentry.environment": s("production"),
            "sentry.sdk.name": s("sentry.python"), "sentry.sdk.version": s("3.0.1"),
            "process.runtime.name": s("CPython"), "company_id": s("4711"), "user.id": s("90210"),
            "user.email": s("zephyrine@example.com"), "topic": s("zephyrine merger"), "source": s("partner"),
            "server.address": s("zephyrine-laptop")}})
    };
    let payload = json!({"version": 2, "items": [record("assistant.latency"), record("latency for zephyrine canarywood"),
        {"name": "no.value", "type": "counter", "value": "zephyrine"}]});
    let items = format!("{{\"type\":\"trace_metric\",\"content_type\":\"application/vnd.sentry.items.trace-metric+json\",\"item_count\":3}}\n{payload}\n");
    for ids in [true, false] {
        let out = run(&policy(), ids, json!({}), &items);
        // The record without a trace or a company is asked on its own (and then removed
        // for its value: no empty item is sent).
        assert_eq!(
            out.asked,
            vec![(Some("4711".into()), Some("90210".into())), (None, None)]
        );
        assert_eq!(out.items.len(), 1);
        let mut want_attrs = json!({"sentry.release": s("dms-assistant@4.2.0"), "sentry.environment": s("production"),
            "sentry.sdk.name": s("sentry.python"), "sentry.sdk.version": s("3.0.1"),
            "process.runtime.name": s("CPython"), "company_id": s("4711"), "user.id": s("90210")});
        if !ids {
            want_attrs.as_object_mut().unwrap().remove("company_id");
            want_attrs.as_object_mut().unwrap().remove("user.id");
        }
        let want = |name: &str| {
            json!({"timestamp": 1765141143.5, "trace_id": TRACE, "span_id": "a81618f4de9e1091",
            "name": name, "type": "distribution", "value": 812.5, "unit": "millisecond", "attributes": want_attrs})
        };
        assert_eq!(
            out.items[0],
            json!({"version": 2, "ingest_settings": {"infer_ip": "never", "infer_user_agent": "never"},
                "items": [want("assistant.latency"), want("<custom metric>")]})
        );
        let item_header: Value = serde_json::from_str(out.text.lines().nth(1).unwrap()).unwrap();
        assert_eq!(
            (
                &item_header["type"],
                &item_header["content_type"],
                &item_header["item_count"]
            ),
            (
                &json!("trace_metric"),
                &json!("application/vnd.sentry.items.trace-metric+json"),
                &json!(2)
            )
        );
        assert_eq!(out.report.items_kept["trace_metric"], 1);
        assert_eq!(out.report.removed_fields["trace_metric.items"], 1);
        assert!(!out.text.to_lowercase().contains(CANARY), "{}", out.text);
    }
}
