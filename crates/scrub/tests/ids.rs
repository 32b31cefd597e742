//! IDs only under consent: ids in URL paths and cache keys go without ID consent, an item
//! naming two companies is dropped, and a numeric company id is the company of its
//! decimal string.
//!
//! The planted ids are distinctive (`4242` the user, `977` the invoice, `8` the company in a
//! path that names it) and every test asserts the exact text that leaves, with ID consent
//! off and on.

use bytes::Bytes;
use envelope::Envelope;
use scrub::{scrub_envelope, Attribution, Decision, Policy, PolicyConfig, Report, Upstream};
use serde_json::{json, Value};

const PATH: &str = "/api/companies/8/users/4242/invoices/977";
const MASKED: &str = "/api/companies/*/users/*/invoices/*";
const BILLING: &str = "https://billing.internal";
const TRACE: &str = "b20c65740ea54321a81618f4de9e1096";
const CACHE_KEY: &str = "user:4242:profile";

fn policy() -> Policy {
    Policy::new(PolicyConfig::default()).unwrap()
}

/// What left: the header, each item's payload, the raw text and the report.
struct Out {
    header: Value,
    items: Vec<Value>,
    text: String,
    report: Report,
}

/// Scrubs `header` + `(item header, payload)` items with every item forwarded under
/// `ids_allowed`; `companies` collects what the gate was asked.
fn run_with(
    header: &Value,
    items: &[(Value, Value)],
    ids_allowed: bool,
    companies: &mut Vec<Option<String>>,
) -> Out {
    let mut body = format!("{header}\n");
    for (h, payload) in items {
        body.push_str(&format!("{h}\n{payload}\n"));
    }
    let env = Envelope::parse(Bytes::from(body)).unwrap();
    let out = scrub_envelope(
        &env,
        &policy(),
        Upstream::default(),
        |_, a: Option<Attribution<'_>>| {
            if let Some(a) = a {
                companies.push(a.company.map(str::to_owned));
            }
            Decision::Forward { ids_allowed }
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
    }
}

fn run(header: &Value, items: &[(Value, Value)], ids_allowed: bool) -> Out {
    run_with(header, items, ids_allowed, &mut Vec::new())
}

fn envelope_header(transaction: &str) -> Value {
    json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
           "trace": {"trace_id": TRACE, "transaction": transaction}})
}

/// A transaction of company 8, named after its raw URL (source `url`), with an outgoing
/// HTTP call and a cache read whose key names the user.
fn transaction() -> Value {
    json!({
        "type": "transaction",
        "transaction": PATH,
        "transaction_info": {"source": "url"},
        "start_timestamp": 1.0,
        "timestamp": 2.0,
        "contexts": {"trace": {"trace_id": TRACE, "span_id": "a81618f4de9e1096", "op": "http.server"}},
        "request": {"method": "GET", "url": format!("http://127.0.0.1:8000{PATH}?page=2")},
        "tags": {"company_id": "8"},
        "spans": [
            {"span_id": "b81618f4de9e1001", "op": "http.client",
             "description": format!("GET {BILLING}{PATH}"),
             "data": {"url": format!("{BILLING}{PATH}"), "http.url": format!("{BILLING}{PATH}")}},
            {"span_id": "b81618f4de9e1002", "op": "cache.get", "description": CACHE_KEY},
        ],
    })
}

/// The same calls as streamed (v2) spans.
fn spans_v2() -> (Value, Value) {
    let attr = |v: &str| json!({"type": "string", "value": v});
    let url = format!("{BILLING}{PATH}");
    (
        json!({"type": "span", "content_type": "application/vnd.sentry.items.span.v2+json", "item_count": 2}),
        json!({"items": [
            {"trace_id": TRACE, "span_id": "c81618f4de9e1001", "name": format!("GET {url}"),
             "attributes": {"sentry.op": attr("http.client"), "url.full": attr(&url), "http.url": attr(&url)}},
            {"trace_id": TRACE, "span_id": "c81618f4de9e1002", "name": CACHE_KEY,
             "attributes": {"sentry.op": attr("cache.get")}},
        ]}),
    )
}

fn path_and_key_items() -> Vec<(Value, Value)> {
    vec![(json!({"type": "transaction"}), transaction()), spans_v2()]
}

#[test]
fn ids_in_paths_and_keys_are_masked_everywhere_without_id_consent() {
    let out = run(&envelope_header(PATH), &path_and_key_items(), false);
    for id in ["4242", "977", "/8/"] {
        assert!(!out.text.contains(id), "{id} left in {}", out.text);
    }
    let tx = &out.items[0];
    assert_eq!(tx["transaction"], MASKED);
    assert_eq!(out.header["trace"]["transaction"], MASKED);
    assert_eq!(
        tx["request"]["url"],
        format!("http://127.0.0.1:8000{MASKED}")
    );
    let http = &tx["spans"][0];
    assert_eq!(http["description"], format!("GET {BILLING}{MASKED}"));
    assert_eq!(http["data"]["url"], format!("{BILLING}{MASKED}"));
    assert_eq!(http["data"]["http.url"], format!("{BILLING}{MASKED}"));
    assert_eq!(tx["spans"][1]["description"], "user:*:profile");

    let v2 = &out.items[1]["items"];
    assert_eq!(v2[0]["name"], format!("GET {BILLING}{MASKED}"));
    assert_eq!(
        v2[0]["attributes"]["url.full"]["value"],
        format!("{BILLING}{MASKED}")
    );
    assert_eq!(
        v2[0]["attributes"]["http.url"]["value"],
        format!("{BILLING}{MASKED}")
    );
    assert_eq!(v2[1]["name"], "user:*:profile");

    // Sentry's UI says why: one remark over the new text, and the report counts each id.
    assert_eq!(
        tx["_meta"]["transaction"][""],
        json!({"len": PATH.len(), "rem": [["@ids:replace", "s", 0, MASKED.len()]]})
    );
    assert_eq!(
        tx["_meta"]["spans"]["1"]["description"][""],
        json!({"len": CACHE_KEY.len(), "rem": [["@ids:replace", "s", 0, 14]]})
    );
    // 3 ids in each of 8 URLs and names (the header's copy takes the transaction's decision
    // without deciding again), 1 in each of the 2 cache keys.
    assert_eq!(out.report.redactions.get("@ids"), Some(&26));
}

#[test]
fn with_id_consent_paths_and_keys_stay() {
    let out = run(&envelope_header(PATH), &path_and_key_items(), true);
    let tx = &out.items[0];
    assert_eq!(tx["transaction"], PATH);
    assert_eq!(tx["request"]["url"], format!("http://127.0.0.1:8000{PATH}"));
    let http = &tx["spans"][0];
    assert_eq!(http["description"], format!("GET {BILLING}{PATH}"));
    assert_eq!(http["data"]["url"], format!("{BILLING}{PATH}"));
    assert_eq!(tx["spans"][1]["description"], CACHE_KEY);
    let v2 = &out.items[1]["items"];
    assert_eq!(v2[0]["name"], format!("GET {BILLING}{PATH}"));
    assert_eq!(
        v2[0]["attributes"]["url.full"]["value"],
        format!("{BILLING}{PATH}")
    );
    assert_eq!(v2[1]["name"], CACHE_KEY);
    // The envelope header has no consent of its own and stays when the egress re-check
    // drops the items scrubbed with IDs (a revocation while queued): its copy of the name
    // is always decided without IDs, and only its 3 ids are counted.
    assert_eq!(out.header["trace"]["transaction"], MASKED);
    assert_eq!(out.report.redactions.get("@ids"), Some(&3));
}

#[test]
fn a_header_alone_is_decided_without_ids() {
    // An envelope whose header names a transaction no item carries (an error event of the
    // same trace, a session): the header decides on its own, without IDs.
    let session = json!({"sid": "7c4a1b3e5f604d2f8d2f7c4a1b3e5f60", "status": "ok",
                         "started": "2025-01-15T10:32:00Z", "attrs": {"release": "docsearch@3.4.1"}});
    let out = run(
        &envelope_header(PATH),
        &[(json!({"type": "session"}), session)],
        true,
    );
    assert_eq!(out.header["trace"]["transaction"], MASKED);
    assert!(!out.text.contains("4242"), "{}", out.text);
}

#[test]
fn the_id_class_is_masked_and_technical_segments_stay() {
    let masked: &[(&str, &str)] = &[
        ("/api/orders/8c21e0f3d4", "/api/orders/*"),
        (
            "/api/docs/550e8400-e29b-41d4-a716-446655440000/share",
            "/api/docs/*/share",
        ),
        ("/api/docs/550e8400e29b41d4a716446655440000", "/api/docs/*"),
        ("/api/users/u4242/avatar", "/api/users/*/avatar"),
        ("/api/orders/order_8f3a91c2", "/api/orders/*"),
        ("/api/invoices/INVOICE-2024-0042", "/api/invoices/*"),
        ("/api/links/V1StGXR8_Z5jdHi6B-myT", "/api/links/*"),
        ("/api/users/4242.json", "/api/users/*"),
        ("/api/invoices/977.pdf", "/api/invoices/*"),
        ("/api/reports/2024", "/api/reports/*"),
    ];
    let kept = [
        "/api/v1/users",
        "/api/v2/auth/2fa/verify",
        "/oauth2/token",
        "/storage/s3/upload",
        "/static/html5/video",
        "/api/v2beta1/models",
        "/static/js/main.8c21e0f3.chunk.js",
        "/static/css/app.4f3a9c.css",
        "/static/fonts/icon-v12.woff2",
        "/api/docs/report.pdf",
        "/downloads/v1.2.3/notes",
        "/api/i18n/messages",
        "/metrics/24h",
        "/api/companies/{company_id}/users/<int:user_id>/",
    ];
    for ids_allowed in [false, true] {
        for (input, want) in masked {
            let want = if ids_allowed { *input } else { *want };
            let out = run(
                &envelope_header("x"),
                &[url_transaction(input)],
                ids_allowed,
            );
            assert_eq!(
                out.items[0]["transaction"], want,
                "{input} ids={ids_allowed}"
            );
        }
        for input in kept {
            let out = run(
                &envelope_header("x"),
                &[url_transaction(input)],
                ids_allowed,
            );
            assert_eq!(
                out.items[0]["transaction"], input,
                "{input} ids={ids_allowed}"
            );
        }
    }
}

fn url_transaction(name: &str) -> (Value, Value) {
    let mut t = transaction();
    t["transaction"] = json!(name);
    t["spans"] = json!([]);
    t.as_object_mut().unwrap().remove("request");
    (json!({"type": "transaction"}), t)
}

#[test]
fn route_templates_stay_and_give_the_request_url_their_path() {
    let route = "/api/companies/<int:company_id>/users/<int:user_id>/invoices/<int:pk>";
    let mut t = transaction();
    t["transaction"] = json!(route);
    t["transaction_info"] = json!({"source": "route"});
    let out = run(
        &envelope_header(route),
        &[(json!({"type": "transaction"}), t)],
        false,
    );
    let tx = &out.items[0];
    assert_eq!(tx["transaction"], route);
    assert_eq!(
        tx["request"]["url"],
        format!("http://127.0.0.1:8000{route}")
    );
    assert_eq!(out.header["trace"]["transaction"], route);
}

#[test]
fn cache_keys_with_every_separator() {
    let cases: &[(&str, &str)] = &[
        ("user:4242:profile", "user:*:profile"),
        ("views.cache.page/4242", "views.cache.page/*"),
        ("user.4242.profile", "user.*.profile"),
        ("doc:8f3a91c2d4e5:data", "doc:*:data"),
        ("api:v2:users:4242", "api:v2:users:*"),
        ("template.cache.menu", "template.cache.menu"),
        ("lib:1.2.3:manifest", "lib:1.2.3:manifest"),
    ];
    for ids_allowed in [false, true] {
        for (key, want) in cases {
            let mut t = transaction();
            t["spans"] =
                json!([{"span_id": "b81618f4de9e1002", "op": "cache.get", "description": key}]);
            let out = run(
                &envelope_header("x"),
                &[(json!({"type": "transaction"}), t)],
                ids_allowed,
            );
            let want = if ids_allowed { *key } else { *want };
            assert_eq!(
                out.items[0]["spans"][0]["description"], want,
                "{key} ids={ids_allowed}"
            );
        }
    }
}

// === two company values ===

fn event_with_tags(tags: Value) -> (Value, Value) {
    (
        json!({"type": "event"}),
        json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "level": "error",
               "platform": "python", "tags": tags, "user": {"id": "4242"}}),
    )
}

/// Scrubs one event whose `tags` are the raw JSON text `tags` (duplicate keys need raw text).
fn run_raw_tags(tags: &str, ids_allowed: bool) -> (Out, Vec<Option<String>>) {
    // Written by hand: `json!` cannot hold duplicate keys.
    let body = format!(
        "{}\n{{\"type\":\"event\"}}\n{{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"level\":\"error\",\"tags\":{tags},\"user\":{{\"id\":\"4242\"}}}}\n",
        json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc"})
    );
    let env = Envelope::parse(Bytes::from(body)).unwrap();
    let mut companies = Vec::new();
    let out = scrub_envelope(&env, &policy(), Upstream::default(), |_, a| {
        companies.push(a.and_then(|a| a.company).map(str::to_owned));
        Decision::Forward { ids_allowed }
    });
    let text = String::from_utf8(out.envelope.to_bytes().to_vec()).unwrap();
    let out = Out {
        header: serde_json::from_str(text.lines().next().unwrap()).unwrap(),
        items: out
            .envelope
            .items()
            .iter()
            .map(|i| serde_json::from_slice(i.payload()).unwrap())
            .collect(),
        text,
        report: out.report,
    };
    (out, companies)
}

#[test]
fn two_company_values_drop_the_item_and_count_it() {
    let ambiguous = [
        r#"{"company_id": "7", "company_id": "9"}"#,
        r#"[["company_id", "7"], ["company_id", "9"]]"#,
        r#"{"company_id": 7, "company_id": "9"}"#,
        r#"{"company_id": "7", "Company_ID": "9"}"#,
        r#"{"COMPANY_ID": "9", "company_id": "7"}"#,
    ];
    for ids_allowed in [false, true] {
        for tags in ambiguous {
            let (out, asked) = run_raw_tags(tags, ids_allowed);
            assert!(out.items.is_empty(), "{tags}: {}", out.text);
            assert_eq!(
                out.report.items_dropped["event"]["ambiguous_company"], 1,
                "{tags}"
            );
            // Consent is not even asked: no company can be chosen.
            assert!(asked.is_empty(), "{tags}: {asked:?}");
            // Nothing of it: the envelope is its header alone.
            assert_eq!(out.text.lines().count(), 1, "{tags}: {}", out.text);
        }
    }
}

#[test]
fn the_same_company_twice_is_one_company() {
    let same = [
        r#"{"company_id": "7", "company_id": "7"}"#,
        r#"[["company_id", "7"], ["company_id", 7]]"#,
        r#"{"company_id": 7, "Company_Id": "7"}"#,
    ];
    for tags in same {
        let (out, asked) = run_raw_tags(tags, true);
        assert_eq!(asked, [Some("7".to_owned())], "{tags}");
        assert_eq!(out.items[0]["tags"], json!({"company_id": "7"}), "{tags}");
        // Once, under the configured name: no reader can file it twice.
        assert_eq!(out.text.matches("company_id").count(), 1, "{}", out.text);
        assert_eq!(out.items[0]["user"], json!({"id": "4242"}), "{tags}");
        let (out, _) = run_raw_tags(tags, false);
        assert_eq!(out.items[0].get("tags"), None, "{tags}");
        assert_eq!(out.items[0].get("user"), None, "{tags}");
    }
}

#[test]
fn a_span_naming_another_company_makes_the_transaction_ambiguous() {
    let mut t = transaction();
    t["tags"] = json!({"company_id": "7"});
    t["spans"] = json!([{"span_id": "b81618f4de9e1001", "op": "db", "tags": {"company_id": "9"}}]);
    let mut asked = Vec::new();
    let out = run_with(
        &envelope_header("x"),
        &[(json!({"type": "transaction"}), t)],
        true,
        &mut asked,
    );
    assert!(out.items.is_empty(), "{}", out.text);
    assert!(asked.is_empty());
    assert_eq!(
        out.report.items_dropped["transaction"]["ambiguous_company"],
        1
    );
}

// === a numeric company id ===

#[test]
fn a_numeric_company_id_is_the_company_of_its_decimal_string() {
    let mut asked = Vec::new();
    let out = run_with(
        &envelope_header("x"),
        &[event_with_tags(json!({"company_id": 7}))],
        true,
        &mut asked,
    );
    assert_eq!(asked, [Some("7".to_owned())]);
    assert_eq!(out.items[0]["tags"], json!({"company_id": "7"}));
    let mut asked = Vec::new();
    run_with(
        &envelope_header("x"),
        &[event_with_tags(json!([["company_id", 7]]))],
        false,
        &mut asked,
    );
    assert_eq!(asked, [Some("7".to_owned())]);
}

#[test]
fn a_profile_copies_the_name_under_its_own_consent() {
    // As in the proxy: the transaction is its company's (IDs allowed), the profile names
    // no company and is forwarded without IDs; it must not take the name kept with them.
    let profile = json!({"version": "1", "platform": "python",
                         "transaction": {"name": PATH, "trace_id": TRACE}});
    let mut t = transaction();
    t["spans"] = json!([]);
    let body = format!(
        "{}\n{{\"type\":\"transaction\"}}\n{t}\n{{\"type\":\"profile\"}}\n{profile}\n",
        envelope_header(PATH)
    );
    let env = Envelope::parse(Bytes::from(body)).unwrap();
    let policy = Policy::new(PolicyConfig {
        allow_profiles: true,
        ..PolicyConfig::default()
    })
    .unwrap();
    let out = scrub_envelope(&env, &policy, Upstream::default(), |ty, _| {
        Decision::Forward {
            ids_allowed: *ty == envelope::ItemType::Transaction,
        }
    });
    let payloads: Vec<Value> = out
        .envelope
        .items()
        .iter()
        .map(|i| serde_json::from_slice(i.payload()).unwrap())
        .collect();
    assert_eq!(payloads[0]["transaction"], PATH);
    assert_eq!(payloads[1]["transaction"]["name"], MASKED);
    let header = out.envelope.header();
    assert_eq!(header["trace"]["transaction"], MASKED);
}
