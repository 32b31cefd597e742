//! The work budget (`WorkBudget`): what happens past it, and that legitimate envelopes never
//! get there.
//!
//! - Past the budget, free text about to be judged becomes `[filtered]` with a
//!   `@budget:replace` remark; the structure (ids, timings, line numbers, span ops) leaves as
//!   it would have; the report counts `@budget` and `work_budget_exhausted`.
//! - Whatever the budget, the output is the unlimited output with some strings replaced by
//!   `[filtered]` (and source lines removed): never looser. Checked on every golden fixture
//!   at eight budgets from nothing to its full cost, with the canaries of `canaries.json`.
//! - The default budget is at least 8 times what any golden fixture or any message of the
//!   exception corpus costs.
//! - A hostile request stops costing once its budget is spent: its work is the budget plus
//!   at most the one string being judged when it ran out.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use envelope::{Envelope, Item, ItemType};
use scrub::{
    scrub_envelope, Decision, Policy, PolicyConfig, Report, Upstream, WorkBudget, FILTERED,
};
use serde_json::{json, Map, Value};

fn policy(budget: WorkBudget) -> Policy {
    Policy::new(PolicyConfig {
        source_context: true,
        ..PolicyConfig::default()
    })
    .unwrap()
    .with_work_budget(budget)
}

/// A budget of exactly `units`, whatever the size.
fn units(units: u64) -> WorkBudget {
    WorkBudget {
        per_byte: 0,
        floor: units,
    }
}

fn scrub(policy: &Policy, env: &Envelope) -> (Vec<Value>, Report) {
    let out = scrub_envelope(env, policy, Upstream::default(), |_, _| Decision::Forward {
        ids_allowed: true,
    });
    let payloads = out
        .envelope
        .items()
        .iter()
        .map(|i| serde_json::from_slice(i.payload()).unwrap())
        .collect();
    let mut header = Value::Object(out.envelope.header().clone());
    header["items"] = Value::from(out.envelope.items().len());
    let mut all = vec![header];
    all.extend::<Vec<Value>>(payloads);
    (all, out.report)
}

fn envelope(payload: &Value, ty: &str) -> Envelope {
    let body = format!(
        "{{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}}\n{{\"type\":\"{ty}\"}}\n{payload}\n"
    );
    Envelope::parse(Bytes::from(body)).unwrap()
}

#[test]
fn past_the_budget_free_text_is_filtered_and_the_structure_stays() {
    let event = json!({
        "event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
        "level": "error",
        "platform": "python",
        "timestamp": 1700000000.5,
        "logger": "app.views",
        "release": "1.4.2",
        "exception": {"values": [{"type": "ValueError", "value": "bad query from alice@example.com",
            "stacktrace": {"frames": [{"filename": "app/views.py", "function": "search", "lineno": 12, "in_app": true}]}}]},
        "request": {"method": "GET", "url": "https://example.com/search?q=alice"},
        "tags": {"browser": "Firefox 120"},
    });
    // A budget of nothing: the first string judged (the logger) is judged, since nothing
    // was spent yet; every one after it is replaced.
    let (out, report) = scrub(&policy(units(0)), &envelope(&event, "event"));
    let budget = |len: usize| json!({"": {"len": len, "rem": [["@budget:replace", "s", 0, FILTERED.len()]]}});
    assert_eq!(
        out[1],
        json!({
            "event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
            "timestamp": 1700000000.5,
            "platform": "python",
            "level": "error",
            "logger": "app.views",
            "release": FILTERED,
            "exception": {"values": [{"type": FILTERED, "value": FILTERED,
                "stacktrace": {"frames": [{"filename": FILTERED, "function": FILTERED, "lineno": 12, "in_app": true}]}}]},
            "request": {"method": "GET", "url": FILTERED},
            "tags": {"browser": FILTERED},
            // Not text the budget judges: the proxy's own setting (no IP inferred upstream).
            "sdk": {"settings": {"infer_ip": "never"}},
            "_meta": {
                "release": budget(5),
                "exception": {"values": {"0": {
                    "type": budget(10),
                    "value": budget(32),
                    "stacktrace": {"frames": {"0": {"filename": budget(12), "function": budget(6)}}},
                }}},
                "request": {"url": budget(34)},
                "tags": {"browser": budget(11)},
            },
        })
    );
    assert_eq!(report.work_budget_exhausted, 1);
    assert_eq!(report.redactions["@budget"], 7);
    assert!(
        report.to_json().contains("\"work_budget_exhausted\":1"),
        "{}",
        report.to_json()
    );

    // With room for everything, nothing is replaced by the budget.
    let (out, report) = scrub(&policy(WorkBudget::default()), &envelope(&event, "event"));
    assert_eq!(report.work_budget_exhausted, 0);
    assert!(!report.redactions.contains_key("@budget"));
    assert_eq!(out[1]["release"], "1.4.2");
    assert_eq!(out[1]["exception"]["values"][0]["type"], "ValueError");
    assert!(
        !report.to_json().contains("work_budget"),
        "{}",
        report.to_json()
    );
}

#[test]
fn transactions_keep_their_spans_and_timings_past_the_budget() {
    let tx = json!({
        "type": "transaction", "event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
        "transaction": "app.tasks.reindex", "transaction_info": {"source": "task"},
        "start_timestamp": 1.0, "timestamp": 2.5,
        "contexts": {"trace": {"trace_id": "b20c65740ea54321a81618f4de9e1096", "span_id": "a1b2c3d4e5f60718", "op": "celery.task"}},
        "spans": [{"op": "db", "description": "SELECT * FROM docs WHERE title = 'Merger plans'",
                   "span_id": "a1b2c3d4e5f60719", "trace_id": "b20c65740ea54321a81618f4de9e1096",
                   "start_timestamp": 1.25, "timestamp": 1.75, "status": "ok"}],
    });
    let (out, _) = scrub(&policy(units(0)), &envelope(&tx, "transaction"));
    let t = &out[1];
    // The name's shape is read first (that spends the nothing there was), then its text
    // would be judged: it is replaced there.
    assert_eq!(t["transaction"], FILTERED);
    assert_eq!(t["transaction_info"]["source"], "task");
    assert_eq!(t["start_timestamp"], 1.0);
    assert_eq!(t["timestamp"], 2.5);
    assert_eq!(t["contexts"]["trace"]["op"], "celery.task");
    let span = &t["spans"][0];
    assert_eq!(span["op"], "db");
    assert_eq!(span["description"], FILTERED);
    assert_eq!(
        (
            span["start_timestamp"].clone(),
            span["timestamp"].clone(),
            span["status"].clone()
        ),
        (json!(1.25), json!(1.75), json!("ok"))
    );
    assert_eq!(span["span_id"], "a1b2c3d4e5f60719");
}

// ---------------------------------------------------------------- never looser, on fixtures

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every golden fixture as an envelope (a legacy `/store/` body becomes one event item).
fn fixtures() -> Vec<(String, Envelope)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(fixtures_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = Bytes::from(std::fs::read(&path).unwrap());
        let env = if name.ends_with(".envelope") {
            Envelope::parse(bytes).unwrap()
        } else if name.ends_with(".store.json") {
            let mut env = Envelope::from_header(Map::new());
            env.push(Item::new(ItemType::Event, bytes));
            env
        } else {
            continue;
        };
        out.push((name, env));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() > 60, "the golden fixtures are there");
    out
}

/// `limited` is `full` with some strings replaced by `[filtered]` and some source lines
/// removed: same keys (bar `_meta` and the lines), same numbers, same ids. The paths of the
/// replaced strings go to `replaced`.
fn stricter(
    limited: &Value,
    full: &Value,
    path: &str,
    replaced: &mut Vec<String>,
) -> Result<(), String> {
    match (limited, full) {
        (Value::String(l), Value::String(f)) if l == f => Ok(()),
        // A number judged as text (a card sent as a number) is replaced too.
        (Value::String(l), Value::String(_) | Value::Number(_)) if l == FILTERED => {
            replaced.push(path.to_owned());
            Ok(())
        }
        (Value::Object(l), Value::Object(f)) => {
            for (k, v) in l {
                if k == "_meta" {
                    meta_holds_no_text(v).map_err(|e| format!("{path}._meta: {e}"))?;
                    continue;
                }
                let Some(fv) = f.get(k) else {
                    return Err(format!("{path}.{k} is not in the unlimited output"));
                };
                stricter(v, fv, &format!("{path}{SEP}{k}"), replaced)?;
            }
            Ok(())
        }
        (Value::Array(l), Value::Array(f)) => {
            let lines = path.ends_with("pre_context") || path.ends_with("post_context");
            if l.len() != f.len() && !(lines && l.is_empty()) {
                return Err(format!("{path}: {} elements, not {}", l.len(), f.len()));
            }
            l.iter()
                .zip(f)
                .enumerate()
                .try_for_each(|(i, (a, b))| stricter(a, b, &format!("{path}{SEP}{i}"), replaced))
        }
        (l, f) if l == f => Ok(()),
        (l, f) => Err(format!("{path}: {l} where the unlimited output has {f}")),
    }
}

/// Joins the keys of a path (keys may hold dots: `thread.id`).
const SEP: char = '\u{1f}';

/// The `_meta` remarks of the string at `path` (keys joined by [`SEP`]) in an event.
fn remarks<'v>(item: &'v Value, path: &str) -> Option<&'v Value> {
    path.split(SEP)
        .skip(1)
        .try_fold(&item["_meta"], |node, key| node.get(key))?
        .get("")?
        .get("rem")
}

/// `_meta` holds rule ids, kinds and numbers only.
fn meta_holds_no_text(v: &Value) -> Result<(), String> {
    match v {
        Value::String(s) if s.starts_with('@') || s == "s" || s == "x" => Ok(()),
        Value::String(s) => Err(format!("text {s:?}")),
        Value::Object(m) => m.values().try_for_each(meta_holds_no_text),
        Value::Array(a) => a.iter().try_for_each(meta_holds_no_text),
        _ => Ok(()),
    }
}

/// The planted values of the golden fixtures.
fn canaries() -> Vec<String> {
    let v: Value =
        serde_json::from_slice(&std::fs::read(fixtures_dir().join("canaries.json")).unwrap())
            .unwrap();
    v["strings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn any_budget_only_makes_the_output_stricter() {
    let canaries = canaries();
    let unlimited = policy(WorkBudget::UNLIMITED);
    let mut exhausted = 0;
    for (name, env) in fixtures() {
        let (full, full_report) = scrub(&unlimited, &env);
        for eighth in 0..8 {
            let limit = full_report.work * eighth / 8;
            let (limited, report) = scrub(&policy(units(limit)), &env);
            assert_eq!(limited.len(), full.len(), "{name}: same items");
            for (l, f) in limited.iter().zip(&full) {
                let mut replaced = Vec::new();
                if let Err(e) = stricter(l, f, "", &mut replaced) {
                    panic!("{name} at {eighth}/8 of its cost: {e}");
                }
                // In an event, each replaced string says why, with one range that fits the
                // placeholder (earlier remarks on it are superseded).
                if l.get("_meta").is_some() {
                    for p in replaced {
                        assert_eq!(
                            remarks(l, &p),
                            Some(&json!([["@budget:replace", "s", 0, FILTERED.len()]])),
                            "{name} at {eighth}/8: the remarks of {}",
                            p.replace(SEP, ".")
                        );
                    }
                }
            }
            let text = limited.iter().map(Value::to_string).collect::<String>();
            for c in &canaries {
                assert!(
                    !text.contains(c.as_str()),
                    "{name}: canary {c:?} at {eighth}/8"
                );
            }
            exhausted += report.work_budget_exhausted;
        }
    }
    assert!(
        exhausted > 100,
        "the sweep did exhaust budgets ({exhausted})"
    );
}

// ---------------------------------------------------------------- the default's margin

#[test]
fn legitimate_envelopes_cost_an_eighth_of_the_default_budget_at_most() {
    let default = WorkBudget::default();
    let p = policy(default);
    for (name, env) in fixtures() {
        let size: usize = env.items().iter().map(|i| i.payload().len()).sum();
        let (_, report) = scrub(&p, &env);
        assert_eq!(report.work_budget_exhausted, 0, "{name}");
        assert!(
            report.work <= default.limit(size) / 8,
            "{name}: {} units for {size} bytes",
            report.work
        );
        // Per byte, not only thanks to the floor.
        assert!(
            report.work <= default.per_byte / 8 * size as u64 + 4096,
            "{name}: {} units for {size} bytes",
            report.work
        );
    }
    // The exception messages real libraries raise (the catalog's own corpus) are the
    // costliest text per byte: every format that may match is tried.
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/exception_corpus/corpus.jsonl");
    let text = std::fs::read_to_string(corpus).unwrap();
    let mut worst = 0.0f64;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let ev = json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
            "exception": {"values": [{"type": v["type"], "value": v["value"]}]}});
        let env = envelope(&ev, "event");
        let size: usize = env.items().iter().map(|i| i.payload().len()).sum();
        let (_, report) = scrub(&p, &env);
        assert_eq!(report.work_budget_exhausted, 0);
        worst = worst.max(report.work as f64 / size as f64);
    }
    assert!(
        worst * 2.0 <= default.per_byte as f64,
        "the costliest message per byte ({worst:.1}) leaves less than half the budget"
    );
}

// ---------------------------------------------------------------- a hostile request

#[test]
fn a_hostile_request_costs_its_budget_and_one_string_at_most() {
    // Ten events of 100 KB of `password=` each: linear now, but still the costliest text
    // per byte there is. A budget of 4 units per byte runs out in the second event.
    let value = "password=".repeat(100_000 / 9);
    let ev = json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "logger": value,
                    "exception": {"values": [{"type": "ValueError", "value": "x", "stacktrace": {"frames": [{"function": "f", "lineno": 3}]}}]}});
    let mut body = String::from("{}\n");
    for _ in 0..10 {
        body.push_str(&format!("{{\"type\":\"event\"}}\n{ev}\n"));
    }
    let env = Envelope::parse(Bytes::from(body)).unwrap();
    let size: usize = env.items().iter().map(|i| i.payload().len()).sum();
    let (one, one_report) = scrub(&policy(WorkBudget::UNLIMITED), &envelope(&ev, "event"));
    let string_cost = one_report.work;
    assert!(one[1]["logger"]
        .as_str()
        .unwrap()
        .starts_with("password=[secret]"));

    let budget = WorkBudget {
        per_byte: 4,
        floor: 0,
    };
    let (out, report) = scrub(&policy(budget), &env);
    assert_eq!(report.work_budget_exhausted, 1);
    assert!(
        report.work <= budget.limit(size) + string_cost,
        "{} units, budget {}, one event {string_cost}",
        report.work,
        budget.limit(size)
    );
    // Every event still leaves with its structure; the later loggers are filtered.
    assert_eq!(out.len(), 11);
    assert_eq!(out[10]["logger"], FILTERED);
    assert_eq!(
        out[10]["exception"]["values"][0]["stacktrace"]["frames"][0]["lineno"],
        3
    );
    assert!(out[1]["logger"]
        .as_str()
        .unwrap()
        .starts_with("password=[secret]"));
    // The filtered ones count once each under `@budget`, with their exceptions' strings.
    assert!(report.redactions["@budget"] >= 8);
}
