//! Free text inside identifiers: transaction names by source, span descriptions
//! by op, URL paths by route template or segment shape, and technical numbers and private
//! addresses kept. Each test plants a canary where an app would write it and asserts the
//! exact output.

use bytes::Bytes;
use envelope::Envelope;
use scrub::{scrub_envelope, Decision, Policy, PolicyConfig, Upstream};
use serde_json::Value;

const TITLE: &str = "Zephyrine Canarywood Memoirs";
const NAME: &str = "Zephyrine";
const SLUG: &str = "zephyrine-canarywood";

fn policy() -> Policy {
    Policy::new(PolicyConfig {
        allow_profiles: true,
        ..PolicyConfig::default()
    })
    .unwrap()
}

/// Scrubs `header` + items, returns the output's header, item payloads and the raw text.
fn run(header: Value, items: &[(&str, Value)]) -> (Value, Vec<Value>, String) {
    let mut body = format!("{header}\n");
    for (ty, payload) in items {
        body.push_str(&format!("{{\"type\":\"{ty}\"}}\n{payload}\n"));
    }
    let env = Envelope::parse(Bytes::from(body)).unwrap();
    let out = scrub_envelope(&env, &policy(), Upstream::default(), |_, _| {
        Decision::Forward { ids_allowed: true }
    });
    let text = String::from_utf8(out.envelope.to_bytes().to_vec()).unwrap();
    let header = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let payloads = out
        .envelope
        .items()
        .iter()
        .map(|i| serde_json::from_slice(i.payload()).unwrap())
        .collect();
    (header, payloads, text)
}

fn assert_gone(text: &str) {
    for c in ["zephyrine", "canarywood", "memoirs"] {
        assert!(!text.to_lowercase().contains(c), "{c} left in {text}");
    }
}

fn transaction(name: &str, source: Option<&str>) -> Value {
    let mut t = serde_json::json!({
        "type": "transaction",
        "transaction": name,
        "start_timestamp": 1.0,
        "timestamp": 2.0,
        "contexts": {"trace": {"trace_id": "b20c65740ea54321a81618f4de9e1096", "span_id": "a81618f4de9e1096", "op": "task"}},
    });
    if let Some(s) = source {
        t["transaction_info"] = serde_json::json!({ "source": s });
    }
    t
}

fn header(name: &str) -> Value {
    serde_json::json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "trace": {"trace_id": "b20c65740ea54321a81618f4de9e1096", "transaction": name}})
}

#[test]
fn custom_transaction_names_with_words_become_a_placeholder_everywhere_they_are_copied() {
    let name = format!("reindex document {TITLE}");
    let profile =
        serde_json::json!({"version": "1", "platform": "python", "transaction": {"name": name}});
    let (h, items, text) = run(
        header(&name),
        &[
            ("transaction", transaction(&name, Some("custom"))),
            ("profile", profile),
        ],
    );
    assert_gone(&text);
    assert_eq!(items[0]["transaction"], "<custom transaction>");
    assert_eq!(
        items[0]["_meta"]["transaction"][""],
        serde_json::json!({"len": name.len(), "rem": [["@freetext:replace", "s", 0, 20]]})
    );
    assert_eq!(h["trace"]["transaction"], "<custom transaction>");
    assert_eq!(items[1]["transaction"]["name"], "<custom transaction>");
}

#[test]
fn names_by_source() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        // Templates and code paths are kept.
        ("/people/{slug}/cv/", Some("route"), "/people/{slug}/cv/"),
        (
            "GET /people/:slug/cv",
            Some("route"),
            "GET /people/:slug/cv",
        ),
        (
            "hr.views.person_cv",
            Some("component"),
            "hr.views.person_cv",
        ),
        ("hr.views.PersonCv", Some("view"), "hr.views.PersonCv"),
        // A raw URL loses what is not technical.
        (
            "/people/zephyrine-canarywood/cv/",
            Some("url"),
            "/people/*/cv/",
        ),
        (
            "/api/v2/orders/8c21e0f3?q=x",
            Some("url"),
            "/api/v2/orders/8c21e0f3",
        ),
        // Custom, task, unknown and missing sources: identifiers only.
        (
            "app.tasks.reindex_documents",
            Some("task"),
            "app.tasks.reindex_documents",
        ),
        ("reindex_documents", Some("custom"), "reindex_documents"),
        ("ReindexJob", None, "ReindexJob"),
        ("GET /api/{id}", Some("custom"), "GET /api/{id}"),
        ("/export/zephyrine-canarywood", Some("custom"), "/export/*"),
        ("reindex Zephyrine", Some("task"), "<task transaction>"),
        (
            "zephyrine-canarywood",
            Some("unknown"),
            "<unknown transaction>",
        ),
        ("Zéphyrine", None, "<unknown transaction>"),
        // The SDKs' own fallback names are constants.
        (
            "generic WSGI request",
            Some("route"),
            "generic WSGI request",
        ),
        // A source that claims a template but holds words is not believed.
        (
            "reindex document Zephyrine",
            Some("route"),
            "<unknown transaction>",
        ),
    ];
    for (name, source, kept) in cases {
        let (h, items, _) = run(header(name), &[("transaction", transaction(name, *source))]);
        assert_eq!(items[0]["transaction"], *kept, "{name} ({source:?})");
        // The header has no ID consent of its own: a name kept with an id
        // under the item's consent is masked there.
        let in_header = match *kept {
            "/api/v2/orders/8c21e0f3" => "/api/v2/orders/*",
            other => other,
        };
        assert_eq!(
            h["trace"]["transaction"], in_header,
            "header copy of {name}"
        );
    }
}

#[test]
fn a_header_name_without_its_event_is_judged_without_a_source() {
    let (h, _, text) = run(header(&format!("upload by {NAME}")), &[]);
    assert_gone(&text);
    assert_eq!(h["trace"]["transaction"], "<unknown transaction>");
    let (h, _, _) = run(header("/api/documents/{owner}/"), &[]);
    assert_eq!(h["trace"]["transaction"], "/api/documents/{owner}/");
}

fn span(op: &str, description: &str) -> Value {
    serde_json::json!({"span_id": "a81618f4de9e1097", "op": op, "description": description, "start_timestamp": 1.0, "timestamp": 1.5})
}

#[test]
fn span_descriptions_by_op() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "file.upload",
            "upload doc_8c21e0 by Zephyrine",
            "<custom span>",
        ),
        ("custom", "Zephyrine Canarywood", "<custom span>"),
        (
            "function",
            "app.uploads.store_document",
            "app.uploads.store_document",
        ),
        (
            "middleware.django",
            "django.middleware.csrf.CsrfViewMiddleware.process_view",
            "django.middleware.csrf.CsrfViewMiddleware.process_view",
        ),
        (
            "template.render",
            "documents/detail.html",
            "documents/detail.html",
        ),
        (
            "queue.submit.celery",
            "app.tasks.reindex",
            "app.tasks.reindex",
        ),
        (
            "file.read",
            "/srv/uploads/zephyrine-canarywood.pdf",
            "/srv/uploads/*",
        ),
        (
            "db",
            "SELECT * FROM people WHERE name = 'Zephyrine'",
            "SELECT * FROM people WHERE name = %s",
        ),
        (
            "http.client",
            "GET https://hr.example.com/people/zephyrine-canarywood/cv/?x=1",
            "GET https://hr.example.com/people/*/cv/",
        ),
        (
            "http.client",
            "GET http://127.0.0.1:8000/api/v2/users/42",
            "GET http://127.0.0.1:8000/api/v2/users/42",
        ),
        // A person's machine is not a service (httpx called on a developer's laptop).
        (
            "http.client",
            "POST http://zephyrine-laptop.corp-intra.example.net:8443/render?token=t",
            "POST http://[host]:8443/render",
        ),
        ("cache.get", "user:zephyrine:profile", "user:*:profile"),
        ("cache.get", "cv:zephyrine-canarywood:pdf", "cv:*:pdf"),
        ("cache.get", "page:8c21e0f3:42", "page:8c21e0f3:42"),
        // A session id in a key is a credential (the key/value detector).
        ("cache.get", "session:8c21e0f3", "session:[secret]"),
        (
            "resource.script",
            "https://cdn.example.com/static/main.8c21e0.js",
            "https://cdn.example.com/static/main.8c21e0.js",
        ),
    ];
    for (op, desc, kept) in cases {
        let mut t = transaction("/api/x", Some("route"));
        t["spans"] = serde_json::json!([span(op, desc)]);
        let (_, items, _) = run(serde_json::json!({}), &[("transaction", t)]);
        assert_eq!(items[0]["spans"][0]["description"], *kept, "{op}: {desc}");
        assert_eq!(items[0]["spans"][0]["op"], *op);
    }
}

fn event_with_url(url: &str, name: &str, source: &str) -> Value {
    serde_json::json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "transaction": name, "transaction_info": {"source": source}, "request": {"method": "GET", "url": url}})
}

#[test]
fn request_urls_take_the_route_template_or_lose_non_technical_segments() {
    let url = format!("http://127.0.0.1:8000/people/{SLUG}/cv/");
    let cases: &[(&str, &str, &str)] = &[
        (
            "/people/{slug}/cv/",
            "route",
            "http://127.0.0.1:8000/people/{slug}/cv/",
        ),
        (
            "/people/<slug>/cv/",
            "route",
            "http://127.0.0.1:8000/people/<slug>/cv/",
        ),
        // Flask's default names the endpoint: no template, so the segment shape decides.
        (
            "hr.person_cv",
            "component",
            "http://127.0.0.1:8000/people/*/cv/",
        ),
        // A template that does not match the URL is not applied.
        (
            "/teams/{id}/",
            "route",
            "http://127.0.0.1:8000/people/*/cv/",
        ),
    ];
    for (name, source, kept) in cases {
        let (_, items, text) = run(
            serde_json::json!({}),
            &[("event", event_with_url(&url, name, source))],
        );
        assert_gone(&text);
        assert_eq!(items[0]["request"]["url"], *kept, "{name}");
        assert_eq!(
            items[0]["_meta"]["request"]["url"][""]["rem"][0][0],
            "@urlpath:replace"
        );
    }
    // A route without parameters is the path itself: its words are the code's, kept
    // (FastAPI's `/letters` and `/whoami`, which must not be masked).
    for path in ["/letters", "/whoami/"] {
        let url = format!("http://docs.example.com{path}?token=t");
        let (_, items, _) = run(
            serde_json::json!({}),
            &[("event", event_with_url(&url, path, "route"))],
        );
        assert_eq!(
            items[0]["request"]["url"],
            format!("http://docs.example.com{path}")
        );
    }
    // Ids, hashes, numbers and API words stay; the query goes.
    let url = "https://api.example.com/api/v2/orders/8c21e0f3/items/42?email=a@b.co";
    let (_, items, _) = run(
        serde_json::json!({}),
        &[("event", event_with_url(url, "api.orders", "component"))],
    );
    assert_eq!(
        items[0]["request"]["url"],
        "https://api.example.com/api/v2/orders/8c21e0f3/items/42"
    );
}

#[test]
fn technical_numbers_and_private_addresses_are_kept() {
    let mut t = transaction("/api/x", Some("route"));
    let mut s = span("http.client", "GET http://10.0.3.7:8080/api/health");
    s["data"] = serde_json::json!({"thread.id": 4111111111111111u64, "code.lineno": 4012888888881881u64, "http.response.body.size": 5105105105105100u64, "url": "http://192.168.1.20/api/health"});
    t["spans"] = serde_json::json!([s]);
    t["threads"] =
        serde_json::json!({"values": [{"id": "4111111111111111", "name": "MainThread"}]});
    let (_, items, _) = run(serde_json::json!({}), &[("transaction", t)]);
    let s = &items[0]["spans"][0];
    assert_eq!(s["description"], "GET http://10.0.3.7:8080/api/health");
    assert_eq!(s["data"]["thread.id"], 4111111111111111u64);
    assert_eq!(s["data"]["code.lineno"], 4012888888881881u64);
    assert_eq!(s["data"]["http.response.body.size"], 5105105105105100u64);
    assert_eq!(s["data"]["url"], "http://192.168.1.20/api/health");
    assert_eq!(items[0]["threads"]["values"][0]["id"], "4111111111111111");
    // A public address is still personal data.
    let mut t = transaction("/api/x", Some("route"));
    t["spans"] = serde_json::json!([span("http.client", "GET http://81.2.69.160/api/health")]);
    let (_, items, _) = run(serde_json::json!({}), &[("transaction", t)]);
    assert_eq!(
        items[0]["spans"][0]["description"],
        "GET http://[ip]/api/health"
    );
}

/// A v2 span's name follows the description rule by op; AI ops and
/// names that are not code leave as the op only.
#[test]
fn span_v2_names_by_op() {
    let item = |op: &str, name: &str| serde_json::json!({"span_id": "a81618f4de9e1097", "trace_id": "b20c65740ea54321a81618f4de9e1096", "name": name, "attributes": {"sentry.op": {"type": "string", "value": op}}});
    let batch = serde_json::json!({"items": [
        item("gen_ai.chat", "chat gpt-4o: summarise Zephyrine Canarywood Memoirs"),
        item("ai.run", "ai.run"),
        item("file.upload", "upload doc_8c21e0 by Zephyrine"),
        item("function", "app.uploads.store_document"),
        item("http.server", "GET /people/zephyrine-canarywood/cv/"),
    ]});
    let body = format!("{{}}\n{{\"type\":\"span\",\"content_type\":\"application/vnd.sentry.items.span.v2+json\",\"item_count\":5}}\n{batch}\n");
    let env = Envelope::parse(Bytes::from(body)).unwrap();
    let out = scrub_envelope(&env, &policy(), Upstream::default(), |_, _| {
        Decision::Forward { ids_allowed: false }
    });
    let text = String::from_utf8(out.envelope.to_bytes().to_vec()).unwrap();
    assert_gone(&text);
    let payload: Value = serde_json::from_slice(out.envelope.items()[0].payload()).unwrap();
    let names: Vec<&str> = payload["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "gen_ai.chat",
            "ai.run",
            "file.upload",
            "app.uploads.store_document",
            "GET /people/*/cv/"
        ]
    );
    // v1 spans: an AI op's description is the op too.
    let mut t = transaction("/api/x", Some("route"));
    t["spans"] = serde_json::json!([span("gen_ai.chat", "chat gpt-4o")]);
    let (_, items, _) = run(serde_json::json!({}), &[("transaction", t)]);
    assert_eq!(items[0]["spans"][0]["description"], "gen_ai.chat");
}

/// Releases and environments that are not versions, hashes or known
/// words are replaced the same way wherever they are copied, unless allowlisted.
#[test]
fn releases_and_environments_are_versions_and_known_words() {
    let release = "zephyrine-laptop-build";
    let env = "zephyrine-sandbox";
    let header = serde_json::json!({"trace": {"trace_id": "b20c65740ea54321a81618f4de9e1096", "release": release, "environment": env}});
    let mut event = event_with_url("http://127.0.0.1/api/x", "/api/x", "route");
    event["release"] = release.into();
    event["environment"] = env.into();
    event["tags"] = serde_json::json!({"environment": env});
    let session = serde_json::json!({"sid": "7c7b6e9a-1f1e-4a4e-9a77-3b1c5a0d2e11", "status": "ok", "attrs": {"release": release, "environment": env}});
    let batch = serde_json::json!({"items": [{"span_id": "a81618f4de9e1097", "name": "app.work", "attributes": {"sentry.op": {"type": "string", "value": "function"}, "sentry.release": {"type": "string", "value": release}, "sentry.environment": {"type": "string", "value": env}}}]});
    let (h, items, text) = run(
        header.clone(),
        &[("event", event.clone()), ("session", session.clone())],
    );
    assert_gone(&text);
    assert_eq!(h["trace"]["release"], "[release]");
    assert_eq!(h["trace"]["environment"], "[environment]");
    assert_eq!(items[0]["release"], "[release]");
    assert_eq!(items[0]["environment"], "[environment]");
    assert_eq!(items[0]["tags"]["environment"], "[environment]");
    assert_eq!(
        items[1]["attrs"],
        serde_json::json!({"release": "[release]", "environment": "[environment]"})
    );
    let body = format!("{{}}\n{{\"type\":\"span\",\"content_type\":\"application/vnd.sentry.items.span.v2+json\",\"item_count\":1}}\n{batch}\n");
    let out = scrub_envelope(
        &Envelope::parse(Bytes::from(body)).unwrap(),
        &policy(),
        Upstream::default(),
        |_, _| Decision::Forward { ids_allowed: false },
    );
    let v2: Value = serde_json::from_slice(out.envelope.items()[0].payload()).unwrap();
    assert_eq!(
        v2["items"][0]["attributes"]["sentry.release"]["value"],
        "[release]"
    );
    assert_eq!(
        v2["items"][0]["attributes"]["sentry.environment"]["value"],
        "[environment]"
    );

    // A build tag or a package name that is not made of version or code words is free
    // text too (`docs-api@2.3.0+ottoline-laptop`). A package name may hold one product word (`acme-web`, `dms-assistant`), so
    // the person here is a full name (releases.rs has the whole table).
    for r in [
        "docs-api@2.3.0+zephyrine-laptop",
        "zephyrine-canarywood@1.0.0",
        "1.0.0-zephyrine",
    ] {
        let mut ev = event.clone();
        ev["release"] = r.into();
        let (_, items, _) = run(serde_json::json!({}), &[("event", ev)]);
        assert_eq!(items[0]["release"], "[release]", "{r}");
    }

    // Versions, hashes and environment words stay.
    for (r, e) in [
        ("hr@1.4.2", "production"),
        ("v2.0.0-rc.1", "staging-2"),
        ("8c21e0f3a9b1", "prod-eu-west"),
        ("2026.11.23", "dev"),
        ("docs-api@2.3.0+build.7", "dev"),
        ("1.2.3.dev4+g8c21e0f.d20261205", "dev"),
        ("example-platform@0.9.1-dirty", "dev"),
    ] {
        let mut ev = event.clone();
        ev["release"] = r.into();
        ev["environment"] = e.into();
        let (_, items, _) = run(serde_json::json!({}), &[("event", ev)]);
        assert_eq!(
            (
                items[0]["release"].as_str(),
                items[0]["environment"].as_str()
            ),
            (Some(r), Some(e))
        );
    }

    // The operator's allowlist keeps a name as sent.
    let allowing = Policy::new(PolicyConfig {
        allowed_releases: vec![release.to_owned()],
        allowed_environments: vec![env.to_owned()],
        ..PolicyConfig::default()
    })
    .unwrap();
    let body = format!("{header}\n{{\"type\":\"session\"}}\n{session}\n");
    let out = scrub_envelope(
        &Envelope::parse(Bytes::from(body)).unwrap(),
        &allowing,
        Upstream::default(),
        |_, _| Decision::Forward { ids_allowed: false },
    );
    let s: Value = serde_json::from_slice(out.envelope.items()[0].payload()).unwrap();
    assert_eq!(
        s["attrs"],
        serde_json::json!({"release": release, "environment": env})
    );
}

/// A DRF + PostgreSQL app: a `dist` naming the developer's machine and a
/// custom fingerprint holding the host an app failed to reach left as plain text.
#[test]
fn dist_and_fingerprint_parts_leave_only_when_shaped_like_code() {
    let event = |dist: &str, fingerprint: Value| serde_json::json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "dist": dist, "fingerprint": fingerprint});
    let (_, items, text) = run(
        serde_json::json!({}),
        &[(
            "event",
            event(
                "zephyrine-thinkpad-build",
                serde_json::json!([
                    "registry-sync",
                    "zephyrine-laptop.corp-intra.example.net",
                    "{{ default }}"
                ]),
            ),
        )],
    );
    assert_gone(&text);
    assert_eq!(items[0]["dist"], "[dist]");
    assert_eq!(
        items[0]["fingerprint"],
        serde_json::json!(["registry-sync", "[fingerprint]", "{{ default }}"])
    );
    assert_eq!(
        items[0]["_meta"]["fingerprint"]["1"][""]["rem"][0][0],
        "@freetext:replace"
    );
    for (dist, fp) in [
        ("42", "db-timeout"),
        ("1.4.2", "{{ transaction }}"),
        ("android-arm64", "8c21e0f3"),
    ] {
        let (_, items, _) = run(
            serde_json::json!({}),
            &[("event", event(dist, serde_json::json!([fp])))],
        );
        assert_eq!(items[0]["dist"], dist);
        assert_eq!(items[0]["fingerprint"], serde_json::json!([fp]));
    }
}
