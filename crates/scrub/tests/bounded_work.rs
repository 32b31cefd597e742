//! Bounded work: the cost of scrubbing grows linearly with the input, whatever it holds.
//!
//! The cost is the scrubber's own deterministic count of bytes examined by its rules
//! (`Report::work`, see `scrub::work`), not wall time: the same on a loaded machine. For every
//! place free text is judged (a field of an event, a transaction, a span) and for inputs
//! built from every rule's trigger characters and literals, the cost per byte at 4N and
//! 16N bytes must not exceed [`GROWTH`] times the cost per byte at N: a rule that rescans
//! to the end from each seed costs 4 times more per byte at 4N.
//!
//! Then the budget: past it, free text becomes `[filtered]` with a `@budget:replace` remark,
//! the structure still leaves, nothing that a rule removes survives, and the legitimate
//! envelopes of the golden fixtures never come near it.

use std::sync::OnceLock;

use bytes::Bytes;
use envelope::Envelope;
use proptest::prelude::*;
use scrub::{scrub_envelope, Decision, Policy, PolicyConfig, Report, Upstream, WorkBudget};
use serde_json::{json, Value};

/// Largest allowed growth of the cost per byte from one size to the next (×4). Linear rules
/// stay near 1; a quadratic one is near 4.
const GROWTH: f64 = 1.5;

/// The default policy with source lines on (so they are judged too) and no budget, so the
/// measurement sees every rule's full cost.
fn unlimited() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| {
        let config = PolicyConfig {
            source_context: true,
            extra_tags: vec!["note".to_owned()],
            ..PolicyConfig::default()
        };
        Policy::new(config)
            .unwrap()
            .with_work_budget(WorkBudget::UNLIMITED)
    })
}

/// One place where a kept string is judged, as the item that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Logger,
    LogTemplate,
    ExceptionValue,
    WrappedException,
    RequestUrl,
    SqlSpan,
    HttpSpan,
    CacheSpan,
    OtherSpan,
    TransactionUrl,
    TransactionRoute,
    TransactionCustom,
    FramePath,
    FrameFunction,
    SourceLine,
    Tag,
    Release,
    Dist,
    Fingerprint,
    OsName,
    SpanV2Name,
    SpanV2Attribute,
    SpanV2Company,
    MetricName,
    MetricCompany,
}

const PLACES: &[Place] = &[
    Place::Logger,
    Place::LogTemplate,
    Place::ExceptionValue,
    Place::WrappedException,
    Place::RequestUrl,
    Place::SqlSpan,
    Place::HttpSpan,
    Place::CacheSpan,
    Place::OtherSpan,
    Place::TransactionUrl,
    Place::TransactionRoute,
    Place::TransactionCustom,
    Place::FramePath,
    Place::FrameFunction,
    Place::SourceLine,
    Place::Tag,
    Place::Release,
    Place::Dist,
    Place::Fingerprint,
    Place::OsName,
    Place::SpanV2Name,
    Place::SpanV2Attribute,
    Place::SpanV2Company,
    Place::MetricName,
    Place::MetricCompany,
];

impl Place {
    /// The base size of a measurement. Exception messages are judged up to 8 KiB (longer
    /// ones are not a library's format and are replaced unread), so they are measured
    /// below that: 448 B, 1.75 KiB, 7 KiB (and a wrapper around it).
    fn base(self) -> usize {
        match self {
            Place::ExceptionValue | Place::WrappedException => 448,
            _ => 1024,
        }
    }

    /// The envelope body with `text` in this place.
    fn envelope(self, text: &str) -> String {
        let id = "9ec79c33ec9942ab8353589fcb2e04dc";
        let span = |op: &str| {
            json!({"op": op, "description": text, "span_id": "a1b2c3d4e5f60718",
                   "trace_id": "b20c65740ea54321a81618f4de9e1096",
                   "start_timestamp": 1.0, "timestamp": 2.0})
        };
        let transaction = |name: &str, source: &str, spans: Value| {
            json!({"type": "transaction", "event_id": id, "transaction": name,
                   "transaction_info": {"source": source}, "start_timestamp": 1.0,
                   "timestamp": 2.0, "spans": spans})
        };
        let frame = |f: Value| {
            json!({"event_id": id, "exception": {"values": [{"type": "ValueError",
                   "value": "x", "stacktrace": {"frames": [f]}}]}})
        };
        let (ty, payload) = match self {
            Place::Logger => ("event", json!({"event_id": id, "logger": text})),
            Place::LogTemplate => (
                "event",
                json!({"event_id": id, "logentry": {"message": format!("{text} %s"), "params": ["p"]}}),
            ),
            Place::ExceptionValue => (
                "event",
                json!({"event_id": id, "exception": {"values": [{"type": "ValueError", "value": text}]}}),
            ),
            Place::WrappedException => (
                "event",
                json!({"event_id": id, "exception": {"values": [{"type": "ConnectionError",
                       "value": format!("HTTPConnectionPool(host='db', port=5432): Max retries exceeded with url: /x (Caused by {text})")}]}}),
            ),
            Place::RequestUrl => (
                "event",
                json!({"event_id": id, "request": {"method": "GET", "url": text}}),
            ),
            Place::SqlSpan => (
                "transaction",
                transaction("app.tasks.run", "task", json!([span("db")])),
            ),
            Place::HttpSpan => (
                "transaction",
                transaction("app.tasks.run", "task", json!([span("http.client")])),
            ),
            Place::CacheSpan => (
                "transaction",
                transaction("app.tasks.run", "task", json!([span("cache.get")])),
            ),
            Place::OtherSpan => (
                "transaction",
                transaction("app.tasks.run", "task", json!([span("function")])),
            ),
            Place::TransactionUrl => ("transaction", transaction(text, "url", json!([]))),
            Place::TransactionRoute => ("transaction", transaction(text, "route", json!([]))),
            Place::TransactionCustom => ("transaction", transaction(text, "custom", json!([]))),
            Place::FramePath => (
                "event",
                frame(json!({"abs_path": text, "filename": text, "lineno": 1})),
            ),
            Place::FrameFunction => (
                "event",
                frame(json!({"function": text, "module": text, "lineno": 1})),
            ),
            Place::SourceLine => (
                "event",
                frame(
                    json!({"function": "f", "context_line": text, "pre_context": [text], "lineno": 1}),
                ),
            ),
            Place::Tag => ("event", json!({"event_id": id, "tags": {"note": text}})),
            Place::Release => ("event", json!({"event_id": id, "release": text})),
            Place::Dist => ("event", json!({"event_id": id, "dist": text})),
            Place::Fingerprint => ("event", json!({"event_id": id, "fingerprint": [text]})),
            Place::OsName => (
                "event",
                json!({"event_id": id, "contexts": {"os": {"name": text}}}),
            ),
            Place::SpanV2Name => (
                "span",
                json!({"items": [{"trace_id": "b20c65740ea54321a81618f4de9e1096",
                       "span_id": "a1b2c3d4e5f60718", "name": text,
                       "attributes": {"sentry.op": {"type": "string", "value": "db"}}}]}),
            ),
            Place::SpanV2Attribute => (
                "span",
                json!({"items": [{"trace_id": "b20c65740ea54321a81618f4de9e1096",
                       "span_id": "a1b2c3d4e5f60718", "name": "x",
                       "attributes": {"url.full": {"type": "string", "value": text},
                                      "db.system": {"type": "string", "value": text}}}]}),
            ),
            // The company attribute is read for the record's attribution (compared with the
            // other records'), then judged as an ID: two records, so both are charged.
            Place::SpanV2Company => (
                "span",
                json!({"items": ([0, 1].map(|i| json!({"trace_id": "b20c65740ea54321a81618f4de9e1096",
                       "span_id": format!("a1b2c3d4e5f6071{i}"), "name": "x",
                       "attributes": {"company_id": {"type": "string", "value": text}}})))}),
            ),
            Place::MetricName => (
                "trace_metric",
                json!({"items": [{"trace_id": "b20c65740ea54321a81618f4de9e1096", "name": text,
                       "type": "counter", "value": 1}]}),
            ),
            Place::MetricCompany => (
                "trace_metric",
                json!({"items": ([0, 1].map(|_| json!({"trace_id": "b20c65740ea54321a81618f4de9e1096",
                       "name": "m", "type": "counter", "value": 1,
                       "attributes": {"company_id": {"type": "string", "value": text}}})))}),
            ),
        };
        let header = match ty {
            "span" => {
                json!({"type": "span", "content_type": "application/vnd.sentry.items.span.v2+json", "item_count": 1})
            }
            "trace_metric" => {
                json!({"type": "trace_metric", "content_type": "application/vnd.sentry.items.trace-metric+json", "item_count": 1})
            }
            _ => json!({ "type": ty }),
        };
        format!("{{\"event_id\":\"{id}\"}}\n{header}\n{payload}\n")
    }
}

/// Scrubs `body` with `policy`, forwarding everything with IDs.
fn scrub(policy: &Policy, body: String) -> (String, Report) {
    let env = Envelope::parse(Bytes::from(body)).expect("test envelope parses");
    let out = scrub_envelope(&env, policy, Upstream::default(), |_, _| {
        Decision::Forward { ids_allowed: true }
    });
    let text = String::from_utf8(out.envelope.to_bytes().to_vec()).unwrap();
    (text, out.report)
}

/// The work spent on `text` in `place`: the envelope's cost minus the same envelope's with
/// an empty string, so the fixed cost of the structure does not hide the text's.
fn cost(place: Place, text: &str) -> u64 {
    static EMPTY: OnceLock<Vec<u64>> = OnceLock::new();
    let empty = EMPTY.get_or_init(|| {
        PLACES
            .iter()
            .map(|p| scrub(unlimited(), p.envelope("")).1.work)
            .collect()
    });
    let at = PLACES.iter().position(|p| *p == place).unwrap();
    let (_, full) = scrub(unlimited(), place.envelope(text));
    assert_eq!(full.work_budget_exhausted, 0, "no budget in measurements");
    full.work.saturating_sub(empty[at])
}

/// How many whole units make about `len` bytes: a multiple of 4, so that at N, 4N and 16N
/// the text holds the same units in the same parity (an odd number of `"` leaves the last
/// one open, which changes what follows from SQL to a literal: another cost per byte, not
/// a growing one).
fn units_for(unit: usize, len: usize) -> usize {
    len.div_ceil(unit.max(1)).div_ceil(4) * 4
}

/// `unit` repeated, whole, to about `len` bytes.
fn repeat_to(unit: &str, len: usize) -> String {
    unit.repeat(units_for(unit.len(), len))
}

/// How an input of a given length is built.
#[derive(Debug, Clone)]
enum Shape {
    /// One unit repeated.
    Repeat(String),
    /// One unit repeated over the first half, another over the second (matches of one kind
    /// first, then of another: what an overlap resolver that inserts in order pays for).
    Halves(String, String),
    /// A unit opened `len / unit` times, then closed as many times (deep nesting).
    Nest(String, String),
}

impl Shape {
    fn build(&self, len: usize) -> String {
        match self {
            Shape::Repeat(u) => repeat_to(u, len),
            Shape::Halves(a, b) => repeat_to(a, len / 2) + &repeat_to(b, len - len / 2),
            Shape::Nest(open, close) => {
                let n = units_for(open.len() + close.len(), len);
                open.repeat(n) + &close.repeat(n)
            }
        }
    }
}

/// Cost per byte at N, 4N and 16N must not grow by more than [`GROWTH`] per step; the
/// figures when it does.
fn linear(place: Place, shape: &Shape) -> Result<(), String> {
    let n = place.base();
    let per_byte = |len: usize| {
        let text = shape.build(len);
        cost(place, &text) as f64 / text.len().max(1) as f64
    };
    let (a, b, c) = (per_byte(n), per_byte(4 * n), per_byte(16 * n));
    // Under a unit per byte, the place barely reads the text (a shape check refuses it
    // first): nothing to compare.
    let floor = 1.0;
    if b <= GROWTH * a.max(floor) && c <= GROWTH * b.max(floor) {
        return Ok(());
    }
    Err(format!(
        "{place:?} {shape:?}: cost per byte {a:.1} at {n} B, {b:.1} at {} B, {c:.1} at {} B",
        4 * n,
        16 * n,
    ))
}

/// Runs every case and fails with the list of those that grow.
fn all_linear(cases: impl IntoIterator<Item = (Place, Shape)>) {
    let failures: Vec<String> = cases
        .into_iter()
        .filter_map(|(place, shape)| linear(place, &shape).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every rule's trigger characters and literals: detectors (`detect/`), normalisers
/// (`normalize/`), the exception catalog's shapes and the vocabulary's word splitting.
const UNITS: &[&str] = &[
    // key/value secrets (finding 1) and separators
    "password=",
    "password:",
    "password: \"",
    "\"token\": \"",
    "secret_key='",
    "Authorization: Bearer ",
    "=",
    ":",
    ":=",
    "=>",
    // network
    "@",
    "a@",
    "a@b.co ",
    "x.y@",
    "1.2.3.4.",
    "8.8.8.8 ",
    "::",
    "a:",
    "2001:db8::",
    "aa:bb:cc:",
    "aa-bb-",
    "://",
    "http://u:p@",
    // numbers: cards, IBAN, phones, national ids
    "1",
    "1 ",
    "12 ",
    "4111 ",
    "+1",
    "+33 6 ",
    "00",
    "06 12 ",
    "FR76",
    "X123",
    "RSSMRA85T10A562S",
    "1-",
    "1.",
    "1,",
    "1/",
    "0x",
    // marker secrets
    "eyJ",
    "eyJhbGciOiJIUzI1NiJ9.",
    "eyJ.",
    "Bearer ",
    "Bearer a",
    "Basic ",
    "Basic dXNlcjpwYXNz ",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----BEGIN ",
    "-----END ",
    "sk-",
    "sk-1",
    "sk_live_",
    "ghp_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxb-1",
    "AKIA",
    "AIza",
    "SG.",
    "hf_",
    "sntrys_",
    "sntrys_+",
    "sntryu_",
    // paths
    "/home/",
    "/home/a",
    "/Users/",
    "\\Users\\",
    "C:\\\\Users\\\\",
    "/var/home/a/",
    "/",
    "\\",
    // quoting, escapes, templates
    "\"",
    "'",
    "`",
    "\\\"",
    "%",
    "%(",
    "%(a",
    "%s",
    "%2F",
    "{",
    "{a",
    "{a.",
    "{a:",
    "[",
    "(",
    ")",
    "#",
    "?",
    "&",
    // SQL
    "SELECT '",
    "in (",
    "in (%(",
    "IN (%s, ",
    "VALUES (",
    "VALUES (%s), (",
    "--",
    "/*",
    "*/",
    "$$",
    "$a$",
    "$a",
    "E'",
    "\"a\"",
    "LIMIT 1, ",
    // URLs and names
    "https://a.b/",
    "https://",
    "a/",
    "?q=",
    "%40",
    "GET /",
    "a.b.",
    "a_b",
    "aB",
    "a-b-",
    "zephyrine ",
    "Zephyrine",
    "get_user_",
    // exception catalog shapes
    "'a' object has no attribute '",
    "(Caused by ",
    "ConnectionError(",
    "NewConnectionError('",
    ": ",
    "\n",
    "DETAIL:  ",
    "Key (",
    // other bytes
    " ",
    "\t",
    "é",
    "日本",
    "\u{0}",
];

#[test]
fn every_place_and_trigger_costs_linear_work() {
    all_linear(PLACES.iter().flat_map(|&place| {
        UNITS
            .iter()
            .map(move |u| (place, Shape::Repeat((*u).to_owned())))
    }));
}

#[test]
fn matches_of_one_kind_then_another_cost_linear_work() {
    let kinds = [
        "8.8.8.8 ",
        "a@b.cd ",
        "password=x ",
        "4111 1111 1111 1111 ",
        "+33 6 12 34 56 78 ",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx.sig ",
        "/home/a/ ",
        "sk-abcdefghij0123456789 ",
    ];
    let mut cases = Vec::new();
    for place in [Place::Logger, Place::RequestUrl, Place::SqlSpan] {
        for a in kinds {
            for b in kinds {
                cases.push((place, Shape::Halves(a.to_owned(), b.to_owned())));
            }
        }
    }
    all_linear(cases);
}

#[test]
fn deep_nesting_costs_linear_work() {
    let nests = [
        ("(", ")"),
        ("[", "]"),
        ("{", "}"),
        ("/*", "*/"),
        ("'", "'"),
        ("\"", "\""),
        ("VALUES (", ")"),
        ("in (", ")"),
        ("ConnectionError(", ")"),
        ("(Caused by ", ")"),
        (
            "HTTPConnectionPool(host='db', port=1): Max retries exceeded with url: / (Caused by ",
            ")",
        ),
    ];
    all_linear(PLACES.iter().flat_map(|&place| {
        nests
            .iter()
            .map(move |(o, c)| (place, Shape::Nest((*o).to_owned(), (*c).to_owned())))
    }));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random mixtures of triggers, repeated: any combination is linear too.
    #[test]
    fn mixtures_of_triggers_cost_linear_work(
        place in proptest::sample::select(PLACES),
        parts in proptest::collection::vec(proptest::sample::select(UNITS), 1..5),
        second in proptest::option::of(proptest::collection::vec(proptest::sample::select(UNITS), 1..4)),
    ) {
        let a = parts.concat();
        let shape = match second {
            Some(b) => Shape::Halves(a, b.concat()),
            None => Shape::Repeat(a),
        };
        let verdict = linear(place, &shape);
        prop_assert!(verdict.is_ok(), "{}", verdict.unwrap_err());
    }
}

/// Cost per unit at `n`, `4n` and `16n` units of `build`, which returns an envelope body
/// and how many units it holds; `Err` with the figures when it grows.
fn linear_in(
    what: &str,
    policy: &Policy,
    n: usize,
    build: impl Fn(usize) -> String,
) -> Result<(), String> {
    let per_unit = |k: usize| scrub(policy, build(k)).1.work as f64 / k as f64;
    let (a, b, c) = (per_unit(n), per_unit(4 * n), per_unit(16 * n));
    if b <= GROWTH * a && c <= GROWTH * b {
        return Ok(());
    }
    Err(format!(
        "{what}: cost per unit {a:.1} at {n}, {b:.1} at {}, {c:.1} at {}",
        4 * n,
        16 * n
    ))
}

/// `k` distinct words of letters only (`baa`, `caa`, …): what the exception's own code
/// words and the vocabulary are made of.
fn words(k: usize) -> Vec<String> {
    (0..k)
        .map(|mut i| {
            let mut w = String::from("q");
            for _ in 0..4 {
                w.push(char::from(b'a' + (i % 26) as u8));
                i /= 26;
            }
            w
        })
        .collect()
}

#[test]
fn the_code_words_of_many_frames_cost_linear_work() {
    // An exception message is judged against the words of its own frames' functions
    // (`Exception::code_words`); that list was searched word by word, the square of the
    // frames' words.
    let body = |k: usize| {
        let ws = words(k);
        let frames: Vec<Value> = ws
            .chunks(8)
            .map(|c| json!({"function": c.join("_"), "module": "app.views", "lineno": 1}))
            .collect();
        let ev = json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "exception": {"values": [{
            "type": "AttributeError",
            "value": format!("'Document' object has no attribute '{}'", ws[k / 2]),
            "stacktrace": {"frames": frames}}]}});
        format!("{{}}\n{{\"type\":\"event\"}}\n{ev}\n")
    };
    // The message's name is one of the frames' words, so it stays: the words were read.
    let (out, _) = scrub(unlimited(), body(64));
    assert!(
        out.contains(&format!("has no attribute '{}'", words(64)[32])),
        "{out}"
    );
    linear_in("frames' words", unlimited(), 500, body).unwrap();
}

#[test]
fn the_transaction_names_of_many_items_cost_linear_work() {
    // A transaction name copied without its source (the envelope header, a profile) gets
    // the decision made for it earlier in the envelope: that lookup went through every name
    // decided before, the square of the items.
    let policy = Policy::new(PolicyConfig {
        allow_profiles: true,
        ..PolicyConfig::default()
    })
    .unwrap()
    .with_work_budget(WorkBudget::UNLIMITED);
    let body = |k: usize| {
        let mut s = String::from("{}\n");
        let prefix = "app.tasks.".repeat(6);
        for w in words(k) {
            let p = json!({"version": "1", "platform": "python",
                "transaction": {"name": format!("{prefix}{w}"), "id": "9ec79c33ec9942ab8353589fcb2e04dd",
                    "trace_id": "b20c65740ea54321a81618f4de9e1096"}});
            s.push_str(&format!("{{\"type\":\"profile\"}}\n{p}\n"));
        }
        s
    };
    linear_in("profiles' transaction names", &policy, 60, body).unwrap();
}

#[test]
fn the_records_of_many_traces_and_companies_cost_linear_work() {
    // A span v2 or trace metric item is attributed record by record (each record's company
    // attribute read and compared, its trace looked up among the envelope's) and split into
    // one item per company: k records of k traces and k companies become k items. The
    // traces and groups are hash maps; this checks that the charged work (the company
    // values read, each part's scrub) stays linear in the records too.
    let body = |ty: &str, k: usize| {
        let records: Vec<Value> = (0..k)
            .map(|i| {
                let company = json!({"type": "string", "value": format!("company-{i:05}")});
                let mut r = json!({"trace_id": format!("{:032x}", 0xb20c_0000_u64 + i as u64),
                                   "span_id": "a1b2c3d4e5f60718", "name": "SELECT 1",
                                   "attributes": {"company_id": company,
                                                  "sentry.op": {"type": "string", "value": "db"}}});
                if ty == "trace_metric" {
                    r = json!({"trace_id": r["trace_id"], "name": "db.latency", "type": "distribution",
                               "value": 3.5, "attributes": {"company_id": company}});
                }
                r
            })
            .collect();
        let content_type = if ty == "span" {
            "application/vnd.sentry.items.span.v2+json"
        } else {
            "application/vnd.sentry.items.trace-metric+json"
        };
        let header = json!({"type": ty, "content_type": content_type, "item_count": k});
        format!(
            "{{}}\n{header}\n{}\n",
            json!({"version": 2, "items": records})
        )
    };
    for ty in ["span", "trace_metric"] {
        let (out, report) = scrub(unlimited(), body(ty, 40));
        assert_eq!(report.items_kept[ty], 40, "{out}");
        linear_in(ty, unlimited(), 50, |k| body(ty, k)).unwrap();
    }
}
