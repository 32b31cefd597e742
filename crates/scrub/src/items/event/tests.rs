//! Each field group of [`Event::scrub`] alone: the exact event and `_meta` it leaves.

use serde_json::{json, Value};

use super::Event;
use crate::policy::{Policy, PolicyConfig};
use crate::walk::names::Names;
use crate::walk::report::Report;
use crate::walk::Ctx;
use crate::work::{Meter, WorkBudget};

/// Runs `group` on the event parsed from `input`; returns the event as written, its
/// `_meta` and the report's counts.
fn walk(input: Value, group: impl FnOnce(&mut Event<'_>, &mut Ctx<'_>)) -> (Value, Value) {
    let policy = Policy::new(PolicyConfig::default()).expect("the default policy builds");
    let text = input.to_string();
    let mut ev: Event<'_> = serde_json::from_str(&text).expect("an event");
    let (mut report, mut names) = (Report::default(), Names::default());
    let meter = Meter::start(WorkBudget::UNLIMITED.limit(text.len()));
    let mut cx = Ctx::new(&policy, false, &mut report, &mut names, meter);
    group(&mut ev, &mut cx);
    let meta = cx.take_meta().unwrap_or(Value::Null);
    (serde_json::to_value(&ev).expect("writes"), meta)
}

#[test]
fn scalars_keep_ids_times_and_tokens_by_shape() {
    let (ev, meta) = walk(
        json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "type": "error",
               "timestamp": "2026-01-01T00:00:00Z", "start_timestamp": "yesterday",
               "platform": "python", "level": "very bad", "logger": "app.views"}),
        |ev, cx| ev.scrub_scalars(cx),
    );
    assert_eq!(
        ev,
        json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "type": "error",
               "timestamp": "2026-01-01T00:00:00Z", "platform": "python",
               "logger": "app.views"})
    );
    assert_eq!(meta, Value::Null);
}

#[test]
fn deploy_fields_keep_versions_and_replace_free_text() {
    let (ev, meta) = walk(
        json!({"release": "alice-laptop-test", "environment": "production", "dist": "7"}),
        |ev, cx| ev.scrub_deploy(cx),
    );
    assert_eq!(
        ev,
        json!({"release": "[release]", "environment": "production", "dist": "7"})
    );
    assert_eq!(
        meta,
        json!({"release": {"": {"len": 17, "rem": [["@freetext:replace", "s", 0, 9]]}}})
    );
}

#[test]
fn a_route_transaction_stays_and_gives_the_request_its_route() {
    let mut route = None;
    let (ev, meta) = walk(
        json!({"transaction": "/people/{slug}/cv/", "transaction_info": {"source": "route"}}),
        |ev, cx| route = ev.scrub_transaction(cx),
    );
    assert_eq!(route.as_deref(), Some("/people/{slug}/cv/"));
    assert_eq!(
        ev,
        json!({"transaction": "/people/{slug}/cv/", "transaction_info": {"source": "route"}})
    );
    assert_eq!(meta, Value::Null);
}

#[test]
fn a_custom_transaction_of_words_is_replaced_and_a_bad_source_goes() {
    let mut route = Some(String::new());
    let (ev, meta) = walk(
        json!({"transaction": "reindex memoirs of Zephyrine", "transaction_info": {"source": "a b"}}),
        |ev, cx| route = ev.scrub_transaction(cx),
    );
    assert_eq!(route, None);
    assert_eq!(ev, json!({"transaction": "<unknown transaction>"}));
    assert_eq!(
        meta,
        json!({"transaction": {"": {"len": 28, "rem": [["@freetext:replace", "s", 0, 21]]}}})
    );
}

#[test]
fn the_server_name_goes_unless_the_operator_keeps_it() {
    let (ev, meta) = walk(json!({"server_name": "zephyrine-laptop"}), |ev, cx| {
        ev.scrub_server_name(cx)
    });
    assert_eq!(ev, json!({}));
    assert_eq!(
        meta,
        json!({"server_name": {"": {"rem": [["@allowlist:remove", "x"]]}}})
    );
}

#[test]
fn the_request_takes_its_route_and_unknown_tags_go() {
    let (ev, meta) = walk(
        json!({"request": {"method": "GET", "url": "https://app.example.com/people/zephyrine/cv/?q=1"},
               "tags": {"browser": "Firefox", "custom": "alice@example.com"}}),
        |ev, cx| ev.scrub_request_contexts_tags(cx, Some("/people/{slug}/cv/")),
    );
    assert_eq!(
        ev,
        json!({"request": {"method": "GET", "url": "https://app.example.com/people/{slug}/cv/"},
               "tags": {"browser": "Firefox"}})
    );
    assert_eq!(
        meta,
        json!({"request": {"url": {"": {"len": 41, "rem": [["@urlpath:replace", "s", 0, 41]]}}}})
    );
}

#[test]
fn measurements_keep_numbers_with_token_names_and_units() {
    let (ev, meta) = walk(
        json!({"measurements": {"lcp": {"value": 1200.5, "unit": "millisecond"},
                                "fp": {"value": "slow"}, "a b": {"value": 1}},
               "spans": [{"span_id": "a81618f4de9e1097", "op": "db", "description": "SELECT 1",
                          "start_timestamp": 1.0, "timestamp": 1.5}]}),
        |ev, cx| ev.scrub_spans_measurements(cx),
    );
    assert_eq!(
        ev,
        json!({"measurements": {"lcp": {"unit": "millisecond", "value": 1200.5}},
               "spans": [{"description": "SELECT %s", "op": "db", "span_id": "a81618f4de9e1097",
                          "start_timestamp": 1.0, "timestamp": 1.5}]})
    );
    assert_eq!(meta, Value::Null);
}

#[test]
fn debug_images_keep_ids_and_addresses() {
    let (ev, meta) = walk(
        json!({"debug_meta": {"images": [{"type": "elf", "debug_id": "8c21e0f3-aa",
            "code_file": "/home/alice/app/lib.so", "image_addr": "0x1000",
            "image_size": 4096, "arch": "x86_64", "uuid": "x"}]}}),
        |ev, cx| ev.scrub_debug_meta(cx),
    );
    assert_eq!(
        ev,
        json!({"debug_meta": {"images": [{"arch": "x86_64", "code_file": "/home/[user]/app/lib.so",
            "debug_id": "8c21e0f3-aa", "image_addr": "0x1000", "image_size": 4096, "type": "elf"}]}})
    );
    assert_eq!(
        meta,
        json!({"debug_meta": {"images": {"0": {"code_file": {"": {"len": 22,
            "rem": [["@userpath:replace", "s", 6, 12]]}}}}}})
    );
}

#[test]
fn breadcrumbs_extra_and_errors_go_whole() {
    let (ev, meta) = walk(
        json!({"breadcrumbs": {"values": [{"message": "alice"}]}, "extra": {"a": 1},
               "errors": [], "_meta": {"x": 1}}),
        |ev, cx| ev.drop_unkept(cx),
    );
    assert_eq!(ev, json!({}));
    let removed = json!({"": {"rem": [["@allowlist:remove", "x"]]}});
    assert_eq!(
        meta,
        json!({"breadcrumbs": removed, "errors": removed, "extra": removed})
    );
}
