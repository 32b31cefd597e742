//! Golden tests on real sentry-sdk bodies (`tests/fixtures/`, see `tests/sdk/README.md`).
//!
//! For every fixture, scrubbed with the default policy and a gate that forwards everything
//! (once without IDs, once with):
//!
//! - [`assert_no_canary`]: no planted string of `canaries.json` and no `canary` marker
//!   (case-insensitive) survives anywhere in the output, raw or JSON-decoded;
//! - [`assert_technical`]: the facts of `technical.json` survive, and so do the input's frames
//!   (function, file, line, context lines), span ops and timings, runtime and OS;
//! - IDs: `user.id` and the company tag are in the output exactly when IDs are allowed;
//! - insta snapshots of the output (pretty-printed, key order as emitted) and of the removal
//!   report, for the run without IDs.
//!
//! Then the looser [`MessageMode::Detect`] is compared with the strict default: only the
//! exception messages differ, and exactly the free-text canaries the detectors cannot know
//! survive (documented looseness).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bytes::Bytes;
use envelope::{Envelope, Item, ItemType};
use scrub::{scrub_envelope, Decision, MessageMode, Policy, PolicyConfig, Report, Upstream};
use serde_json::{Map, Value};

// ------------------------------------------------------------------------------ inputs

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read_json(name: &str) -> Value {
    let bytes = std::fs::read(fixtures_dir().join(name)).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// One planted value: its name, kind and every encoded form.
struct Canary {
    name: String,
    kind: String,
    forms: Vec<String>,
}

struct Canaries {
    strings: Vec<String>,
    marker: String,
    planted: Vec<Canary>,
}

fn canaries() -> &'static Canaries {
    static C: OnceLock<Canaries> = OnceLock::new();
    C.get_or_init(|| {
        let v = read_json("canaries.json");
        let strs = |v: &Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect()
        };
        let planted = v["canaries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| Canary {
                name: c["name"].as_str().unwrap().to_owned(),
                kind: c["kind"].as_str().unwrap().to_owned(),
                forms: strs(&c["forms"]),
            })
            .collect();
        let c = Canaries {
            strings: strs(&v["strings"]),
            marker: v["marker"].as_str().unwrap().to_lowercase(),
            planted,
        };
        assert!(c.strings.len() > 50 && !c.marker.is_empty());
        c
    })
}

fn technical() -> &'static Map<String, Value> {
    static T: OnceLock<Value> = OnceLock::new();
    T.get_or_init(|| read_json("technical.json"))
        .as_object()
        .unwrap()
}

fn policy(mode: MessageMode) -> &'static Policy {
    static STRICT: OnceLock<Policy> = OnceLock::new();
    static DETECT: OnceLock<Policy> = OnceLock::new();
    let build = move || {
        Policy::new(PolicyConfig {
            exception_messages: mode,
            ..PolicyConfig::default()
        })
        .unwrap()
    };
    match mode {
        MessageMode::Template => STRICT.get_or_init(build),
        MessageMode::Detect => DETECT.get_or_init(build),
        MessageMode::Drop => unreachable!("not used here"),
    }
}

/// A fixture as an envelope. The legacy `/store/` body is one JSON event: it becomes an
/// envelope with one `event` item, as the proxy's store endpoint does.
fn load(fixture: &str) -> Envelope {
    let bytes = Bytes::from(std::fs::read(fixtures_dir().join(fixture)).unwrap());
    if fixture.ends_with(".store.json") {
        let event: Value = serde_json::from_slice(&bytes).unwrap();
        let mut header = Map::new();
        header.insert("event_id".into(), event["event_id"].clone());
        let mut env = Envelope::from_header(header);
        env.push(Item::new(ItemType::Event, bytes));
        env
    } else {
        Envelope::parse(bytes).unwrap()
    }
}

/// The JSON payloads of an envelope's items, by item type.
fn payloads(env: &Envelope) -> Vec<(String, Value)> {
    env.items()
        .iter()
        .map(|i| {
            let v = serde_json::from_slice(i.payload()).unwrap_or(Value::Null);
            (i.ty().as_str().to_owned(), v)
        })
        .collect()
}

// ------------------------------------------------------------------------------ scrubbing

/// A scrubbed fixture: the bytes, the re-parsed envelope and the report.
struct Output {
    bytes: Bytes,
    text: String,
    envelope: Envelope,
    report: Report,
}

impl Output {
    fn payloads(&self) -> Vec<(String, Value)> {
        payloads(&self.envelope)
    }

    /// The first payload of type `ty`.
    fn payload(&self, ty: &str) -> Value {
        self.payloads()
            .into_iter()
            .find(|(t, _)| t == ty)
            .unwrap_or_else(|| panic!("no {ty} item in the output"))
            .1
    }
}

/// The default policy with source lines turned on (`--source-context`).
fn source_policy() -> &'static Policy {
    static SOURCE: OnceLock<Policy> = OnceLock::new();
    SOURCE.get_or_init(|| {
        Policy::new(PolicyConfig {
            source_context: true,
            ..PolicyConfig::default()
        })
        .unwrap()
    })
}

fn scrub(input: &Envelope, mode: MessageMode, ids_allowed: bool) -> Output {
    scrub_with(input, policy(mode), ids_allowed)
}

fn scrub_with(input: &Envelope, policy: &Policy, ids_allowed: bool) -> Output {
    let out = scrub_envelope(input, policy, Upstream::default(), |_, _| {
        Decision::Forward { ids_allowed }
    });
    let bytes = out.envelope.to_bytes();
    let text = String::from_utf8(bytes.to_vec()).expect("output is UTF-8");
    let envelope = Envelope::parse(bytes.clone()).expect("output is a valid envelope");
    Output {
        bytes,
        text,
        envelope,
        report: out.report,
    }
}

// ------------------------------------------------------------------------------ canaries

/// Every string and key of a JSON value, with its path.
fn strings<'v>(v: &'v Value, path: &mut String, out: &mut Vec<(String, &'v str)>) {
    match v {
        Value::String(s) => out.push((path.clone(), s)),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!(".{i}"));
                strings(x, path, out);
                path.truncate(len);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                out.push((format!("{path} (key)"), k));
                let len = path.len();
                path.push('.');
                path.push_str(k);
                strings(x, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// The canary strings present in `s` (exact), and whether the marker is (any case).
fn canaries_in(s: &str) -> (Vec<&'static str>, bool) {
    let c = canaries();
    let found = c
        .strings
        .iter()
        .filter(|x| s.contains(x.as_str()))
        .map(String::as_str)
        .collect();
    (found, s.to_lowercase().contains(&c.marker))
}

/// No planted string and no `canary` marker anywhere in the output: neither in the raw
/// bytes nor in any JSON-decoded string or key of the envelope header, item headers and
/// payloads (so an escaped form cannot slip through).
///
/// Consent-allowed IDs get no exemption: in these fixtures they are `"1"` (Django's user
/// and company ids) and `"17"` (the sdk1 client's user), which are not canaries. An ID that
/// *is* personal data still passes the detectors under consent (see
/// [`consented_ids_still_pass_the_detectors`]); consent allows the pseudonymous ID, not
/// what the detectors recognise.
#[track_caller]
fn assert_no_canary(output: &Output, fixture: &str) {
    let (found, marker) = canaries_in(&output.text);
    assert!(
        found.is_empty() && !marker,
        "{fixture}: canary in the raw output: {found:?} (marker: {marker})"
    );
    let mut all = Vec::new();
    let header = Value::Object(output.envelope.header().clone());
    strings(&header, &mut "header".to_owned(), &mut all);
    let items: Vec<(Value, Value)> = output
        .envelope
        .items()
        .iter()
        .map(|i| {
            (
                Value::Object(i.header().clone()),
                serde_json::from_slice(i.payload()).expect("payload is JSON"),
            )
        })
        .collect();
    for (n, (h, p)) in items.iter().enumerate() {
        strings(h, &mut format!("item{n}.header"), &mut all);
        strings(p, &mut format!("item{n}"), &mut all);
    }
    for (path, s) in all {
        let (found, marker) = canaries_in(s);
        assert!(
            found.is_empty() && !marker,
            "{fixture}: canary at {path}: {s:?}"
        );
    }
}

// ------------------------------------------------------------------------------ technical facts

fn get<'v>(v: &'v Value, path: &str) -> &'v Value {
    path.split('.').fold(v, |v, k| &v[k])
}

#[track_caller]
fn same(fixture: &str, what: &str, got: &Value, want: &Value) {
    assert_eq!(got, want, "{fixture}: {what}");
}

/// The facts of `technical.json` survive, and beyond them every frame and span of the input
/// keeps what a support engineer needs.
#[track_caller]
fn assert_technical(output: &Output, input: &Envelope, fixture: &str) {
    let facts = &technical()[fixture];
    let out_items = output.payloads();
    let in_items = payloads(input);
    // Item types: every kept type stays, raw logs are dropped and counted.
    let types: Vec<&str> = facts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let kept: Vec<&str> = types.iter().copied().filter(|t| *t != "log").collect();
    let got: Vec<&str> = out_items.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(got, kept, "{fixture}: kept item types");
    if types.contains(&"log") {
        assert_eq!(
            output.report.items_dropped["log"]["item_type_denied"], 1,
            "{fixture}: log item counted"
        );
    }

    for ty in ["event", "transaction"] {
        let Some(want) = facts.get(ty) else { continue };
        let got = output.payload(ty);
        let input = &in_items.iter().find(|(t, _)| t == ty).unwrap().1;
        event_facts(fixture, &got, want);
        frames_survive(fixture, &got, input);
        spans_survive(fixture, &got, input);
        for ctx in ["os", "runtime"] {
            // Python events carry no `os` context; when an SDK sends one, it stays.
            for field in ["name", "version"] {
                let w = get(input, &format!("contexts.{ctx}.{field}"));
                if !w.is_null() {
                    same(
                        fixture,
                        &format!("contexts.{ctx}.{field}"),
                        get(&got, &format!("contexts.{ctx}.{field}")),
                        w,
                    );
                }
            }
        }
    }
    if let Some(want) = facts.get("sessions") {
        let got = output.payload("sessions");
        same(
            fixture,
            "sessions.aggregates",
            &Value::from(got["aggregates"].as_array().unwrap().len()),
            &want["aggregates"],
        );
        let input = &in_items.iter().find(|(t, _)| t == "sessions").unwrap().1;
        same(
            fixture,
            "sessions.aggregates",
            &got["aggregates"],
            &input["aggregates"],
        );
        for k in ["release", "environment"] {
            same(fixture, k, &got["attrs"][k], &want["attrs"][k]);
        }
    }
    if let Some(want) = facts.get("client_report") {
        let got = output.payload("client_report");
        same(
            fixture,
            "client_report.discarded_events",
            &got["discarded_events"],
            &want["discarded_events"],
        );
    }
}

fn event_facts(fixture: &str, got: &Value, want: &Value) {
    for k in [
        "environment",
        "level",
        "logger",
        "platform",
        "release",
        "transaction",
    ] {
        if let Some(w) = want.get(k) {
            same(fixture, k, &got[k], w);
        }
    }
    for k in ["runtime.name", "runtime.version"] {
        if let Some(w) = want.get("runtime").map(|r| get(r, &k[8..])) {
            same(fixture, k, get(got, &format!("contexts.{k}")), w);
        }
    }
    for k in ["name", "version"] {
        if let Some(w) = want.get("sdk").map(|s| &s[k]) {
            same(fixture, &format!("sdk.{k}"), &got["sdk"][k], w);
        }
    }
    if let Some(w) = want.get("trace_op") {
        same(
            fixture,
            "contexts.trace.op",
            get(got, "contexts.trace.op"),
            w,
        );
    }
    if let Some(Value::Object(modules)) = want.get("modules") {
        for (name, version) in modules {
            same(
                fixture,
                &format!("modules.{name}"),
                &got["modules"][name],
                version,
            );
        }
    }
    if let Some(w) = want.get("span_count") {
        let n = got["spans"].as_array().map_or(0, Vec::len);
        same(fixture, "span_count", &Value::from(n), w);
    }
    if let Some(Value::Array(ops)) = want.get("span_ops") {
        let got_ops: BTreeSet<&str> = got["spans"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["op"].as_str())
            .collect();
        for op in ops {
            assert!(
                got_ops.contains(op.as_str().unwrap()),
                "{fixture}: span op {op} lost"
            );
        }
    }
    let Some(Value::Array(exceptions)) = want.get("exceptions") else {
        return;
    };
    let values = got["exception"]["values"].as_array().unwrap();
    for w in exceptions {
        let e = values
            .iter()
            .find(|e| e["type"] == w["type"])
            .unwrap_or_else(|| panic!("{fixture}: exception {} lost", w["type"]));
        same(fixture, "exception.module", &e["module"], &w["module"]);
        same(
            fixture,
            "exception.mechanism",
            &e["mechanism"]["type"],
            &w["mechanism"],
        );
        let frames = e["stacktrace"]["frames"].as_array().unwrap();
        same(
            fixture,
            "frame_count",
            &Value::from(frames.len()),
            &w["frame_count"],
        );
        for wf in w["frames"].as_array().unwrap() {
            let found = frames.iter().any(|f| {
                ["filename", "function", "lineno", "module"]
                    .iter()
                    .all(|k| f[k] == wf[k])
            });
            assert!(found, "{fixture}: frame {wf} lost");
        }
    }
}

/// What the detectors make of an input string (the string itself when nothing matches).
fn detected(v: &Value) -> Value {
    match v {
        Value::String(s) => match policy(MessageMode::Template).detectors().redact(s) {
            Some(r) => Value::from(r.text),
            None => v.clone(),
        },
        Value::Array(a) if a.is_empty() => Value::Null,
        Value::Array(a) => Value::Array(a.iter().map(detected).collect()),
        _ => v.clone(),
    }
}

/// Every input frame is in the output, in order, with its code location; its source lines
/// are gone (they leave only with `--source-context`, see [`source_lines_masked`]).
/// Text fields may differ from the input only by the detectors' placeholders (a home
/// directory's user name); numbers not at all.
fn frames_survive(fixture: &str, got: &Value, input: &Value) {
    let Some(Value::Array(in_ex)) = input.get("exception").map(|e| &e["values"]) else {
        return;
    };
    let out_ex = got["exception"]["values"].as_array().unwrap();
    assert_eq!(in_ex.len(), out_ex.len(), "{fixture}: exception count");
    for (i, o) in in_ex.iter().zip(out_ex) {
        same(fixture, "exception.type", &o["type"], &i["type"]);
        let fi = i["stacktrace"]["frames"].as_array().unwrap();
        let fo = o["stacktrace"]["frames"].as_array().unwrap();
        assert_eq!(fi.len(), fo.len(), "{fixture}: frame count");
        for (n, (a, b)) in fi.iter().zip(fo).enumerate() {
            for k in ["lineno", "in_app"] {
                same(fixture, &format!("frame {n} {k}"), &b[k], &a[k]);
            }
            for k in ["filename", "abs_path", "module", "function"] {
                same(fixture, &format!("frame {n} {k}"), &b[k], &detected(&a[k]));
            }
            for k in ["context_line", "pre_context", "post_context", "vars"] {
                assert!(b.get(k).is_none(), "{fixture}: frame {n} {k} kept");
            }
        }
    }
}

/// With `--source-context`, every frame keeps its source lines, line for line, with string
/// literals and comments masked and the detectors run on what is left.
fn source_lines_masked(fixture: &str, got: &Value, input: &Value) {
    let Some(Value::Array(in_ex)) = input.get("exception").map(|e| &e["values"]) else {
        return;
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    for (i, o) in in_ex
        .iter()
        .zip(got["exception"]["values"].as_array().unwrap())
    {
        let fi = i["stacktrace"]["frames"].as_array().unwrap();
        let fo = o["stacktrace"]["frames"].as_array().unwrap();
        for (n, (a, b)) in fi.iter().zip(fo).enumerate() {
            let list = |f: &Value, k: &str| -> Vec<String> {
                f[k].as_array()
                    .map_or(Vec::new(), |l| l.iter().map(text).collect())
            };
            let mut window = list(a, "pre_context");
            window.push(text(&a["context_line"]));
            window.extend(list(a, "post_context"));
            scrub::normalize::source::mask_lines(&mut window);
            let mut got_window = list(b, "pre_context");
            got_window.push(text(&b["context_line"]));
            got_window.extend(list(b, "post_context"));
            let want: Vec<Value> = window
                .iter()
                .map(|l| detected(&Value::from(l.as_str())))
                .collect();
            let got_lines: Vec<Value> = got_window.into_iter().map(Value::from).collect();
            assert_eq!(got_lines, want, "{fixture}: frame {n} source lines");
        }
    }
}

/// Clause keywords that must survive SQL normalisation.
const SQL_CLAUSES: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "JOIN",
    "GROUP",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "INSERT",
    "UPDATE",
    "DELETE",
    "VALUES",
    "RETURNING",
    "ESCAPE",
    "LIKE",
];

/// Every input span is in the output with its ids, op, status and timings.
fn spans_survive(fixture: &str, got: &Value, input: &Value) {
    let Some(Value::Array(spans)) = input.get("spans") else {
        return;
    };
    let out = got["spans"].as_array().unwrap();
    assert_eq!(spans.len(), out.len(), "{fixture}: span count");
    for (a, b) in spans.iter().zip(out) {
        for k in [
            "span_id",
            "parent_span_id",
            "trace_id",
            "op",
            "status",
            "start_timestamp",
            "timestamp",
            "origin",
        ] {
            same(fixture, &format!("span {} {k}", a["span_id"]), &b[k], &a[k]);
        }
        assert!(
            a["description"].is_null() || b["description"].is_string(),
            "{fixture}: span {} description lost",
            a["span_id"]
        );
        // SQL keeps its shape: every clause keyword of the input is still there.
        if let (Some(op), Some(d)) = (a["op"].as_str(), a["description"].as_str()) {
            let out = b["description"].as_str().unwrap();
            for kw in SQL_CLAUSES.iter().filter(|_| op.starts_with("db")) {
                let count = |s: &str| s.split_whitespace().filter(|w| w == kw).count();
                assert_eq!(count(out), count(d), "{fixture}: {kw} lost in {out:?}");
            }
        }
    }
    for k in ["start_timestamp", "timestamp"] {
        same(fixture, k, &got[k], &input[k]);
    }
    for k in ["trace_id", "span_id", "op", "status"] {
        same(
            fixture,
            &format!("contexts.trace.{k}"),
            &got["contexts"]["trace"][k],
            &input["contexts"]["trace"][k],
        );
    }
}

// ------------------------------------------------------------------------------ IDs

/// With ID consent, `user.id` and the company tag stay as sent; without, both go.
#[track_caller]
fn assert_ids(output: &Output, input: &Envelope, fixture: &str, ids_allowed: bool) {
    for ((ty, got), (_, inp)) in output.payloads().iter().zip(payloads(input).iter()) {
        if ty != "event" && ty != "transaction" {
            continue;
        }
        for path in ["user.id", "tags.company_id"] {
            let (g, i) = (get(got, path), get(inp, path));
            if ids_allowed {
                same(fixture, path, g, i);
            } else {
                assert!(g.is_null(), "{fixture}: {path} kept without consent");
            }
        }
        if ids_allowed && !get(inp, "user.id").is_null() {
            // `user` keeps nothing else.
            assert_eq!(got["user"].as_object().unwrap().len(), 1, "{fixture}: user");
        }
        assert!(got.get("server_name").is_none(), "{fixture}: server_name");
    }
}

// ------------------------------------------------------------------------------ snapshots

/// Pretty-prints compact JSON without re-ordering keys (a `serde_json::Value` round trip
/// would sort them, or not, depending on crate features).
fn pretty_json(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let (mut in_str, mut escaped) = (false, false);
    let mut chars = compact.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                if matches!(chars.peek(), Some('}' | ']')) {
                    out.push(chars.next().unwrap());
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c => out.push(c),
        }
    }
    out
}

/// The scrubbed envelope, one pretty-printed JSON document per line of the wire format.
fn pretty_envelope(bytes: &[u8]) -> String {
    let text = std::str::from_utf8(bytes).unwrap();
    let mut out = String::new();
    for (n, line) in text.lines().enumerate() {
        if n > 0 {
            out.push_str("\n---\n");
        }
        out.push_str(&pretty_json(line));
    }
    out
}

fn snapshot_name(fixture: &str) -> &str {
    fixture.strip_suffix(".envelope").unwrap_or(fixture)
}

// ------------------------------------------------------------------------------ the tests

fn golden(fixture: &str) {
    let input = load(fixture);
    assert!(
        technical().contains_key(fixture),
        "{fixture}: not in technical.json"
    );
    for ids_allowed in [false, true] {
        let out = scrub(&input, MessageMode::Template, ids_allowed);
        assert_no_canary(&out, fixture);
        assert_technical(&out, &input, fixture);
        assert_ids(&out, &input, fixture, ids_allowed);
        if !ids_allowed {
            let name = snapshot_name(fixture);
            insta::with_settings!({ description => fixture, omit_expression => true }, {
                insta::assert_snapshot!(name, pretty_envelope(&out.bytes));
                insta::assert_snapshot!(
                    format!("{name}.report"),
                    pretty_json(&out.report.to_json())
                );
            });
        }
    }
}

/// `--source-context`: every fixture's frames keep their source lines, masked, and still no
/// planted value survives anywhere.
#[test]
fn source_context_lines_are_masked_and_leak_nothing() {
    let mut frames_seen = 0;
    for fixture in FIXTURES {
        let input = load(fixture);
        let out = scrub_with(&input, source_policy(), false);
        assert_no_canary(&out, fixture);
        let in_items = payloads(&input);
        for ty in ["event", "transaction"] {
            if let Some((_, i)) = in_items.iter().find(|(t, _)| t == ty) {
                let got = out.payload(ty);
                source_lines_masked(fixture, &got, i);
                frames_seen += got["exception"]["values"].as_array().map_or(0, Vec::len);
            }
        }
    }
    assert!(
        frames_seen > 10,
        "the fixtures carry exceptions with frames"
    );
}

macro_rules! fixtures {
    ($($test:ident => $file:literal,)*) => {
        /// Every fixture file, so a new one cannot go untested.
        const FIXTURES: &[&str] = &[$($file),*];
        $(
            #[test]
            fn $test() {
                golden($file);
            }
        )*
    };
}

fixtures! {
    activity_report_sessions_piifalse => "activity_report-sessions-piifalse.envelope",
    activity_report_sessions_piitrue => "activity_report-sessions-piitrue.envelope",
    activity_report_transaction_piifalse => "activity_report-transaction-piifalse.envelope",
    activity_report_transaction_piitrue => "activity_report-transaction-piitrue.envelope",
    chat_event_error_piifalse => "chat-event_error-piifalse.envelope",
    chat_event_error_piitrue => "chat-event_error-piitrue.envelope",
    chat_log_piifalse => "chat-log-piifalse.envelope",
    chat_log_piitrue => "chat-log-piitrue.envelope",
    chat_sessions_piifalse => "chat-sessions-piifalse.envelope",
    chat_sessions_piitrue => "chat-sessions-piitrue.envelope",
    chat_transaction_piifalse => "chat-transaction-piifalse.envelope",
    chat_transaction_piitrue => "chat-transaction-piitrue.envelope",
    document_upload_event_error_piifalse => "document_upload-event_error-piifalse.envelope",
    document_upload_event_error_piitrue => "document_upload-event_error-piitrue.envelope",
    document_upload_log_piifalse => "document_upload-log-piifalse.envelope",
    document_upload_log_piitrue => "document_upload-log-piitrue.envelope",
    document_upload_sessions_piifalse => "document_upload-sessions-piifalse.envelope",
    document_upload_sessions_piitrue => "document_upload-sessions-piitrue.envelope",
    document_upload_transaction_piifalse => "document_upload-transaction-piifalse.envelope",
    document_upload_transaction_piitrue => "document_upload-transaction-piitrue.envelope",
    folder_tree_event_error_piifalse => "folder_tree-event_error-piifalse.envelope",
    folder_tree_event_error_piitrue => "folder_tree-event_error-piitrue.envelope",
    folder_tree_log_piifalse => "folder_tree-log-piifalse.envelope",
    folder_tree_log_piitrue => "folder_tree-log-piitrue.envelope",
    folder_tree_sessions_piifalse => "folder_tree-sessions-piifalse.envelope",
    folder_tree_sessions_piitrue => "folder_tree-sessions-piitrue.envelope",
    folder_tree_transaction_piifalse => "folder_tree-transaction-piifalse.envelope",
    folder_tree_transaction_piitrue => "folder_tree-transaction-piitrue.envelope",
    gzip_login_log_piifalse => "gzip_login-log-piifalse.envelope",
    gzip_login_sessions_piifalse => "gzip_login-sessions-piifalse.envelope",
    gzip_login_transaction_piifalse_2 => "gzip_login-transaction-piifalse-2.envelope",
    gzip_login_transaction_piifalse => "gzip_login-transaction-piifalse.envelope",
    gzip_ok_sessions_piifalse => "gzip_ok-sessions-piifalse.envelope",
    gzip_ok_transaction_piifalse => "gzip_ok-transaction-piifalse.envelope",
    gzip_search_event_error_piifalse => "gzip_search-event_error-piifalse.envelope",
    gzip_search_event_message_piifalse => "gzip_search-event_message-piifalse.envelope",
    gzip_search_log_piifalse => "gzip_search-log-piifalse.envelope",
    gzip_search_sessions_piifalse => "gzip_search-sessions-piifalse.envelope",
    gzip_search_transaction_piifalse => "gzip_search-transaction-piifalse.envelope",
    health_client_report_piifalse => "health-client_report-piifalse.envelope",
    health_client_report_piitrue => "health-client_report-piitrue.envelope",
    health_sessions_piifalse => "health-sessions-piifalse.envelope",
    health_sessions_piitrue => "health-sessions-piitrue.envelope",
    login_log_piifalse => "login-log-piifalse.envelope",
    login_log_piitrue => "login-log-piitrue.envelope",
    login_sessions_piifalse => "login-sessions-piifalse.envelope",
    login_sessions_piitrue => "login-sessions-piitrue.envelope",
    login_transaction_piifalse_2 => "login-transaction-piifalse-2.envelope",
    login_transaction_piifalse => "login-transaction-piifalse.envelope",
    login_transaction_piitrue_2 => "login-transaction-piitrue-2.envelope",
    login_transaction_piitrue => "login-transaction-piitrue.envelope",
    ok_sessions_piifalse => "ok-sessions-piifalse.envelope",
    ok_sessions_piitrue => "ok-sessions-piitrue.envelope",
    ok_transaction_piifalse => "ok-transaction-piifalse.envelope",
    ok_transaction_piitrue => "ok-transaction-piitrue.envelope",
    payment_event_error_piifalse => "payment-event_error-piifalse.envelope",
    payment_event_error_piitrue => "payment-event_error-piitrue.envelope",
    payment_log_piifalse => "payment-log-piifalse.envelope",
    payment_log_piitrue => "payment-log-piitrue.envelope",
    payment_sessions_piifalse => "payment-sessions-piifalse.envelope",
    payment_sessions_piitrue => "payment-sessions-piitrue.envelope",
    payment_transaction_piifalse => "payment-transaction-piifalse.envelope",
    payment_transaction_piitrue => "payment-transaction-piitrue.envelope",
    sdk1_event_error_piifalse_store => "sdk1-event_error-piifalse.store.json",
    search_event_error_piifalse => "search-event_error-piifalse.envelope",
    search_event_error_piitrue => "search-event_error-piitrue.envelope",
    search_event_message_piifalse => "search-event_message-piifalse.envelope",
    search_event_message_piitrue => "search-event_message-piitrue.envelope",
    search_log_piifalse => "search-log-piifalse.envelope",
    search_log_piitrue => "search-log-piitrue.envelope",
    search_sessions_piifalse => "search-sessions-piifalse.envelope",
    search_sessions_piitrue => "search-sessions-piitrue.envelope",
    search_transaction_piifalse => "search-transaction-piifalse.envelope",
    search_transaction_piitrue => "search-transaction-piitrue.envelope",
}

#[test]
fn every_fixture_has_a_golden_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".envelope") || n.ends_with(".store.json"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<&str> = FIXTURES.to_vec();
    listed.sort();
    assert_eq!(on_disk, listed);
    let mut in_technical: Vec<&String> = technical().keys().collect();
    in_technical.sort();
    assert_eq!(in_technical, listed.iter().collect::<Vec<_>>());
}

/// The canaries the SDK sends are really in the inputs, so the tests above prove something.
#[test]
fn fixtures_do_carry_canaries() {
    let mut seen = BTreeSet::new();
    for f in FIXTURES {
        let text =
            String::from_utf8_lossy(&std::fs::read(fixtures_dir().join(f)).unwrap()).into_owned();
        seen.extend(canaries_in(&text).0);
    }
    // Every planted value reaches at least one fixture in some form, bar the SDK-filtered.
    for c in &canaries().planted {
        let reached = c.forms.iter().any(|f| seen.contains(f.as_str()));
        let sdk_filtered = ["password", "auth_token", "demo_password"].contains(&c.name.as_str());
        assert!(reached || sdk_filtered, "canary {} never sent", c.name);
    }
}

/// Consent allows the pseudonymous ID, not what the detectors recognise in it: an e-mail
/// used as `user.id` or as the company tag becomes `[email]` even with IDs allowed.
#[test]
fn consented_ids_still_pass_the_detectors() {
    let body = "{}\n{\"type\":\"event\"}\n{\"user\":{\"id\":\"alice.canary1@example.com\"},\"tags\":{\"company_id\":\"alice.canary3@example.com\"}}\n";
    let input = Envelope::parse(Bytes::from(body)).unwrap();
    let out = scrub(&input, MessageMode::Template, true);
    assert_no_canary(&out, "inline");
    let ev = out.payload("event");
    assert_eq!(ev["user"]["id"], "[email]");
    assert_eq!(ev["tags"]["company_id"], "[email]");
}

/// Django's SQLite backend writes `ESCAPE '\'` for every `contains` lookup; the literal
/// must not swallow the rest of the query.
#[test]
fn django_escape_clause_keeps_the_rest_of_the_query() {
    use scrub::normalize::sql::scrub_sql;
    let q = r#"SELECT "api_document"."id" AS "id" FROM "api_document" WHERE "api_document"."title" LIKE %s ESCAPE '\' LIMIT 20"#;
    assert_eq!(scrub_sql(q).unwrap(), q.replace(r"'\'", "%s"));
    let q = r"SELECT * FROM t WHERE a LIKE 'CANARY%' ESCAPE '\' AND b = 'x'";
    assert_eq!(
        scrub_sql(q).as_deref(),
        Some("SELECT * FROM t WHERE a LIKE %s ESCAPE %s AND b = %s")
    );
    // Not an ESCAPE clause: a backslash still escapes the quote (fails closed).
    assert_eq!(
        scrub_sql(r"SELECT '\' LIMIT 20").as_deref(),
        Some("SELECT %s")
    );
}

// ------------------------------------------------------------------------------ Detect mode

/// Canaries whose text survives `MessageMode::Detect`: free text the detectors cannot
/// recognise (a prompt, a search query, a person's name). Everything with a shape (emails,
/// cards, IBANs, IPs, phones, keys, tokens) is still replaced. This is the documented
/// looseness of the mode (`docs/scrubbing-policy.md`).
const DETECT_SURVIVORS: &[(&str, &[&str])] = &[
    ("chat-event_error-piifalse.envelope", &["prompt"]),
    ("chat-event_error-piitrue.envelope", &["prompt"]),
    ("document_upload-event_error-piifalse.envelope", &[]),
    ("document_upload-event_error-piitrue.envelope", &[]),
    ("folder_tree-event_error-piifalse.envelope", &[]),
    ("folder_tree-event_error-piitrue.envelope", &[]),
    ("gzip_search-event_error-piifalse.envelope", &["query"]),
    ("payment-event_error-piifalse.envelope", &["name"]),
    ("payment-event_error-piitrue.envelope", &["name"]),
    ("sdk1-event_error-piifalse.store.json", &["prompt"]),
    ("search-event_error-piifalse.envelope", &["query"]),
    ("search-event_error-piitrue.envelope", &["query"]),
];

/// Kinds that may survive Detect mode: free text without a shape.
const FREE_TEXT_KINDS: &[&str] = &["prompt", "query", "document", "free_text", "person_name"];

/// Names of the planted values present in `text`, in any of their forms.
fn surviving(text: &str) -> BTreeSet<&'static str> {
    canaries()
        .planted
        .iter()
        .filter(|c| c.forms.iter().any(|f| text.contains(f.as_str())))
        .map(|c| c.name.as_str())
        .collect()
}

/// Removes what differs between the modes: exception messages, `_meta` and item lengths.
fn without_messages(mut v: Value) -> Value {
    if let Some(Value::Array(ex)) = v.pointer_mut("/exception/values") {
        for e in ex {
            e.as_object_mut().unwrap().remove("value");
        }
    }
    if let Some(m) = v.as_object_mut() {
        m.remove("_meta");
    }
    v
}

#[test]
fn detect_mode_keeps_messages_after_the_detectors() {
    let event_fixtures: Vec<&str> = FIXTURES
        .iter()
        .copied()
        .filter(|f| {
            technical()[*f]
                .get("event")
                .is_some_and(|e| e.get("exceptions").is_some())
        })
        .collect();
    let listed: Vec<&str> = DETECT_SURVIVORS.iter().map(|(f, _)| *f).collect();
    assert_eq!(event_fixtures, listed);
    let detectors = policy(MessageMode::Detect).detectors();

    for &(fixture, expected) in DETECT_SURVIVORS {
        let input = load(fixture);
        let strict = scrub(&input, MessageMode::Template, false);
        let loose = scrub(&input, MessageMode::Detect, false);
        let (i, s, l) = (
            payloads(&input)[0].1.clone(),
            strict.payload("event"),
            loose.payload("event"),
        );
        // Only the messages (and their remarks) differ.
        assert_eq!(
            without_messages(s.clone()),
            without_messages(l.clone()),
            "{fixture}"
        );
        assert_eq!(strict.envelope.header(), loose.envelope.header());
        let values = |v: &Value| -> Vec<Option<String>> {
            v["exception"]["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["value"].as_str().map(str::to_owned))
                .collect()
        };
        for ((iv, sv), lv) in values(&i).into_iter().zip(values(&s)).zip(values(&l)) {
            let iv = iv.unwrap();
            let detected = detectors.redact(&iv).map_or(iv.clone(), |r| r.text);
            // The strict default keeps only the one message of a known format (a codec error
            // whose every part is technical); the free text of the others is replaced.
            let strict_want = if iv.starts_with("'utf-8' codec can't decode byte") {
                iv.as_str()
            } else {
                scrub::FILTERED
            };
            assert_eq!(sv.as_deref(), Some(strict_want), "{fixture}");
            assert_eq!(lv.as_deref(), Some(detected.as_str()), "{fixture}");
        }
        // Exactly the expected free-text canaries survive, and nothing with a shape does.
        let got = surviving(&loose.text);
        let want: BTreeSet<&str> = expected.iter().copied().collect();
        assert_eq!(got, want, "{fixture}: canaries surviving Detect mode");
        for name in &got {
            let c = canaries().planted.iter().find(|c| c.name == *name).unwrap();
            assert!(
                FREE_TEXT_KINDS.contains(&c.kind.as_str()),
                "{fixture}: {name}"
            );
        }
        assert!(surviving(&strict.text).is_empty(), "{fixture}");
        // The placeholders in Detect messages are recorded like any other redaction.
        let mut rules: BTreeMap<&str, u32> = loose.report.redactions.clone();
        rules.remove("@message");
        for (rule, n) in &strict.report.redactions {
            if *rule != "@message" {
                assert!(
                    rules.get(rule).copied().unwrap_or(0) >= *n,
                    "{fixture}: {rule}"
                );
            }
        }
    }
}

/// Known gap (reported, not fixed here): URL path segments are not percent-decoded before
/// the detectors (`normalize::url::map_segments` exists but the walk does not call it), so
/// an e-mail written `alice%40example.com` in a request URL or a span's `url` passes.
/// The fixtures only carry the raw `@` form, which is caught.
#[test]
fn percent_encoded_path_segments_pass_the_detectors() {
    let body = "{}\n{\"type\":\"event\"}\n{\"request\":{\"url\":\"https://app.example.com/api/documents/alice.canary2%40example.com/\"}}\n";
    let input = Envelope::parse(Bytes::from(body)).unwrap();
    let out = scrub(&input, MessageMode::Template, false);
    assert_no_canary(&out, "inline");
}
