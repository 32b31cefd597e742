//! Scrub throughput on the golden fixtures, against the floor of a bare `serde_json` round
//! trip of the same item payloads.
//!
//! Each group is one representative fixture, with `Throughput::Bytes` (envelope size) and
//! `Throughput::Elements` (items), so criterion reports both MB/s and items/s:
//!
//! - `serde_json_floor`: every item payload parsed into a `serde_json::Value` and written
//!   back with `serde_json::to_vec` (what any JSON-rewriting proxy pays at least);
//! - `envelope_parse_write`: the envelope codec alone (parse, then write the bytes);
//! - `scrub_envelope`: the scrubber on an already-parsed envelope, the default policy and
//!   a gate that forwards everything without IDs (what the proxy does per request);
//! - `parse_scrub_write`: codec and scrubber end to end, bytes in, bytes out.
//!
//! And the exception-message rule alone (`exception_messages`): the catalog judging the
//! messages of `tests/exception_corpus/corpus.jsonl` (a message per iteration, in turn), and
//! compiling the catalog (once per process in the proxy).
//!
//! Run: `cargo bench -p scrub --bench scrub -- --warm-up-time 1 --measurement-time 3`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::path::Path;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use envelope::Envelope;
use scrub::{scrub_envelope, Decision, Policy, PolicyConfig, Upstream};

/// Representative fixtures: a deep stack with locals, a big transaction, sessions, the
/// search error (prompt in the message, SQL and HTTP breadcrumbs), and a span v2 item and
/// a trace metric item of sentry-sdk 3.x (paths relative to `tests/fixtures`).
const FIXTURES: &[(&str, &str)] = &[
    (
        "error_deep_stack",
        "folder_tree-event_error-piifalse.envelope",
    ),
    (
        "transaction_128_spans",
        "activity_report-transaction-piifalse.envelope",
    ),
    ("sessions", "search-sessions-piifalse.envelope"),
    ("search_error", "search-event_error-piifalse.envelope"),
    // sentry-sdk 3.0.1's streamed spans and trace metrics (tests/spans, issue 22).
    (
        "span_v2_14_spans",
        "../../../../tests/spans/fixtures/sdk3/assistant_chat-span.envelope",
    ),
    (
        "trace_metric_3",
        "../../../../tests/spans/fixtures/sdk3/assistant_chat-trace_metric.envelope",
    ),
];

fn load(name: &str) -> Bytes {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    Bytes::from(std::fs::read(path).unwrap())
}

fn forward(_: &envelope::ItemType, _: Option<scrub::Attribution<'_>>) -> Decision {
    Decision::Forward { ids_allowed: false }
}

fn bench(c: &mut Criterion) {
    let policy = Policy::new(PolicyConfig::default()).unwrap();
    for &(label, file) in FIXTURES {
        let body = load(file);
        let env = Envelope::parse(body.clone()).unwrap();
        let items = env.items().len() as u64;
        for throughput in [
            Throughput::Bytes(body.len() as u64),
            Throughput::Elements(items),
        ] {
            let unit = match throughput {
                Throughput::Bytes(_) => "bytes",
                _ => "items",
            };
            let mut g = c.benchmark_group(format!("{label}/{unit}"));
            g.throughput(throughput);
            g.bench_function(BenchmarkId::from_parameter("serde_json_floor"), |b| {
                b.iter(|| {
                    for item in env.items() {
                        let v: serde_json::Value =
                            serde_json::from_slice(black_box(item.payload())).unwrap();
                        black_box(serde_json::to_vec(&v).unwrap());
                    }
                })
            });
            g.bench_function(BenchmarkId::from_parameter("envelope_parse_write"), |b| {
                b.iter(|| {
                    let e = Envelope::parse(black_box(body.clone())).unwrap();
                    black_box(e.to_bytes())
                })
            });
            g.bench_function(BenchmarkId::from_parameter("scrub_envelope"), |b| {
                b.iter(|| {
                    black_box(scrub_envelope(
                        black_box(&env),
                        &policy,
                        Upstream::default(),
                        forward,
                    ))
                })
            });
            g.bench_function(BenchmarkId::from_parameter("parse_scrub_write"), |b| {
                b.iter(|| {
                    let e = Envelope::parse(black_box(body.clone())).unwrap();
                    let out = scrub_envelope(&e, &policy, Upstream::default(), forward);
                    black_box(out.envelope.to_bytes())
                })
            });
            g.finish();
        }
    }
}

fn messages(c: &mut Criterion) {
    use scrub::exception_text::Templates;
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/exception_corpus/corpus.jsonl");
    let corpus: Vec<(String, String)> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["type"].as_str().unwrap_or_default().to_owned(),
                v["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let bytes: usize = corpus.iter().map(|(_, m)| m.len()).sum();
    let t = Templates::shared().unwrap();
    let mut g = c.benchmark_group("exception_messages");
    g.throughput(Throughput::Elements(corpus.len() as u64));
    g.bench_function("judge_corpus", |b| {
        b.iter(|| {
            for (ty, msg) in &corpus {
                black_box(t.judge(ty, msg, &[], &[]));
            }
        })
    });
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("judge_corpus_bytes", |b| {
        b.iter(|| {
            for (ty, msg) in &corpus {
                black_box(t.judge(ty, msg, &[], &[]));
            }
        })
    });
    g.finish();
    let mut g = c.benchmark_group("exception_catalog");
    g.sample_size(10);
    g.bench_function("compile", |b| {
        b.iter(|| black_box(Templates::new().unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench, messages);
criterion_main!(benches);
