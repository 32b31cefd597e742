//! Releases: `<package>@<version>` keeps its package part when it is
//! package-shaped and its version when version-shaped, in every copy (events, the header's
//! trace, sessions, span and metric attributes); a name or build tag that carries a
//! machine, a person or a token is still replaced. `--allowed-releases` and
//! `--allowed-environments` take `*` patterns.

use bytes::Bytes;
use envelope::Envelope;
use scrub::{scrub_envelope, Decision, Policy, PolicyConfig, Upstream};
use serde_json::{json, Value};

/// Scrubs one event, one session, one v2 span and one trace metric carrying `release` and
/// `environment`, and returns every copy of the release and of the environment as left.
fn copies(policy: &Policy, release: &str, environment: &str) -> (Vec<Value>, Vec<Value>) {
    let header = json!({"trace": {"trace_id": "b20c65740ea54321a81618f4de9e1096", "release": release, "environment": environment}});
    let event = json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "release": release, "environment": environment});
    let session = json!({"sid": "7c7b6e9a-1f1e-4a4e-9a77-3b1c5a0d2e11", "status": "ok", "attrs": {"release": release, "environment": environment}});
    let attrs = json!({"sentry.op": {"type": "string", "value": "function"}, "sentry.release": {"type": "string", "value": release}, "sentry.environment": {"type": "string", "value": environment}});
    let spans = json!({"version": 2, "items": [{"trace_id": "b20c65740ea54321a81618f4de9e1096", "span_id": "a81618f4de9e1097", "name": "app.work", "attributes": attrs}]});
    let metrics = json!({"version": 2, "items": [{"trace_id": "b20c65740ea54321a81618f4de9e1096", "name": "app.count", "type": "counter", "value": 1.0, "attributes": attrs}]});
    let body = format!(
        "{header}\n{{\"type\":\"event\"}}\n{event}\n{{\"type\":\"session\"}}\n{session}\n\
         {{\"type\":\"span\",\"content_type\":\"application/vnd.sentry.items.span.v2+json\"}}\n{spans}\n\
         {{\"type\":\"trace_metric\",\"content_type\":\"application/vnd.sentry.items.trace-metric+json\"}}\n{metrics}\n"
    );
    let out = scrub_envelope(
        &Envelope::parse(Bytes::from(body)).unwrap(),
        policy,
        Upstream::default(),
        |_, _| Decision::Forward { ids_allowed: false },
    );
    let h = out.envelope.header();
    let items: Vec<Value> = out
        .envelope
        .items()
        .iter()
        .map(|i| serde_json::from_slice(i.payload()).unwrap())
        .collect();
    assert_eq!(items.len(), 4, "every item is kept");
    let rel = vec![
        h["trace"]["release"].clone(),
        items[0]["release"].clone(),
        items[1]["attrs"]["release"].clone(),
        items[2]["items"][0]["attributes"]["sentry.release"]["value"].clone(),
        items[3]["items"][0]["attributes"]["sentry.release"]["value"].clone(),
    ];
    let env = vec![
        h["trace"]["environment"].clone(),
        items[0]["environment"].clone(),
        items[1]["attrs"]["environment"].clone(),
        items[2]["items"][0]["attributes"]["sentry.environment"]["value"].clone(),
        items[3]["items"][0]["attributes"]["sentry.environment"]["value"].clone(),
    ];
    (rel, env)
}

fn release_out(policy: &Policy, release: &str) -> Value {
    let (rel, _) = copies(policy, release, "production");
    assert!(
        rel.iter().all(|r| *r == rel[0]),
        "{release}: every copy the same: {rel:?}"
    );
    rel[0].clone()
}

/// The releases real deployments use stay as sent, on every copy.
#[test]
fn realistic_releases_stay() {
    let policy = Policy::new(PolicyConfig::default()).unwrap();
    for r in [
        "dms-assistant@4.2.0",
        "acme-web@1.0.0",
        "dms@4.2.0",
        "my-app@2026.11.3",
        "backend@8c21e0f",
        "frontend@1.2.3-rc.1",
        "billing@1.4.2+build.7",
        "com.acme.app@1.2.3+45",
        "sentry-python@2.0.0",
        "@acme/web@3.1.0",
        "example-platform@1.4.2",
        "api-v2@1.0.0",
        "1.4.2",
        "8c21e0f3a9b1",
    ] {
        assert_eq!(release_out(&policy, r), r, "{r}");
    }
}

/// A machine, a person's full name or a token in the package name or the build tag: the
/// whole release is replaced, the same on every copy.
#[test]
fn releases_naming_machines_people_or_tokens_are_replaced() {
    let policy = Policy::new(PolicyConfig::default()).unwrap();
    for r in [
        "alice-laptop-test",
        "alice-laptop@1.0.0",
        "desktop-4f2k9x@2.0.0",
        "jdoe-pc@1.0.0",
        "zephyrine-canarywood@1.0.0",
        "dms@4.2.0+alice-thinkpad",
        "billing@1.4.2+ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "billing@1.4.2+zephyrine",
        "app-a8f3k29dk3kd92kd@1.0.0",
        "alice.smith@example.com",
        "Zephyrine Canarywood@1.0.0",
        "dms@release of Zephyrine",
        "dms@",
        "@1.0.0",
    ] {
        assert_eq!(release_out(&policy, r), "[release]", "{r}");
    }
}

/// `*` patterns keep what the operator names, and nothing else; exact names still work.
#[test]
fn allowed_release_and_environment_patterns() {
    let policy = Policy::new(PolicyConfig {
        allowed_releases: vec!["zephyrine-tools@*".into(), "nightly-build".into()],
        allowed_environments: vec!["*-canarywood".into()],
        ..PolicyConfig::default()
    })
    .unwrap();
    let (rel, env) = copies(
        &policy,
        "zephyrine-tools@1.0.0+alice-laptop",
        "team-canarywood",
    );
    assert!(
        rel.iter()
            .all(|r| r == "zephyrine-tools@1.0.0+alice-laptop"),
        "{rel:?}"
    );
    assert!(env.iter().all(|e| e == "team-canarywood"), "{env:?}");
    assert_eq!(release_out(&policy, "nightly-build"), "nightly-build");
    // Not matched: replaced as without the flag.
    let (rel, env) = copies(&policy, "zephyrine-toolbox-laptop", "canarywood-team");
    assert!(rel.iter().all(|r| r == "[release]"), "{rel:?}");
    assert!(env.iter().all(|e| e == "[environment]"), "{env:?}");
}

#[test]
fn patterns_match_with_star_only() {
    use scrub::pattern_matches as m;
    assert!(m("acme-web@*", "acme-web@1.0.0"));
    assert!(m("*-staging", "eu-staging"));
    assert!(m("a*b*c", "a-x-b-y-c"));
    assert!(m("exact", "exact"));
    assert!(!m("exact", "exact2"));
    assert!(!m("acme-web@*", "acme-webx@1.0.0"));
    assert!(!m("*-staging", "staging"));
    assert!(!m("a*b*c", "a-c-b"));
    assert!(!m("ab*ba", "aba"));
    for bad in ["*", "**", "", "a?", "[ab]", "{a,b}", "a b", "a\tb"] {
        assert!(scrub::pattern_error(bad).is_some(), "{bad:?}");
    }
    assert!(Policy::new(PolicyConfig {
        allowed_environments: vec!["*".into()],
        ..PolicyConfig::default()
    })
    .is_err());
}
