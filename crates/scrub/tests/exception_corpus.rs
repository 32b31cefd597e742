//! The exception-message rule on the corpus of `tests/exception_corpus/` (578 messages that
//! real libraries raised on real failures, some with planted user data), through the whole
//! scrubber with the default policy:
//!
//! - no planted value survives, in any message;
//! - the share of messages that stay readable (kept as sent, or as a template with
//!   placeholders) does not fall below the floor measured when the rule was written; the
//!   figures are in `docs/scrubbing-policy.md`.
//!
//! `cargo test -p scrub --test exception_corpus -- --nocapture` prints the figures and every
//! message that was filtered.

// The figures are the point of this test: it prints them.
#![allow(clippy::print_stdout)]

use std::path::Path;

use bytes::Bytes;
use envelope::Envelope;
use scrub::{scrub_envelope, Decision, Policy, PolicyConfig, Upstream, FILTERED};
use serde_json::{json, Value};

/// Words of the planted values (`tests/exception_corpus/README.md`), and the two words of the
/// search query that the corpus' `planted` field does not track.
const CANARIES: &[&str] = &[
    "zephyrine",
    "quillfeather",
    "memoirs",
    "globex",
    "canary9f3b2c1d",
    "tok_",
    "merger",
    "plans",
];

struct Record {
    lib: String,
    ty: String,
    value: String,
    planted: bool,
}

fn corpus() -> Vec<Record> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/exception_corpus/corpus.jsonl");
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Record {
                lib: v["lib"].as_str().unwrap().to_owned(),
                ty: v["type"].as_str().unwrap().to_owned(),
                value: v["value"].as_str().unwrap_or_default().to_owned(),
                planted: !v["planted"].as_array().unwrap().is_empty(),
            }
        })
        .collect()
}

/// The message as the scrubber lets it leave, through a real envelope.
fn scrubbed(policy: &Policy, r: &Record, module: Option<&str>) -> String {
    let event = json!({
        "event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
        "tags": {"company_id": "7"},
        "exception": {"values": [{"type": r.ty, "module": module, "value": r.value}]},
    });
    let body = format!(
        "{{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}}\n{{\"type\":\"event\"}}\n{event}\n"
    );
    let env = Envelope::parse(Bytes::from(body)).unwrap();
    let out = scrub_envelope(&env, policy, Upstream::default(), |_, _| {
        Decision::Forward { ids_allowed: false }
    });
    let item = &out.envelope.items()[0];
    let v: Value = serde_json::from_slice(item.payload()).unwrap();
    v["exception"]["values"][0]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[derive(Default, Debug)]
struct Tally {
    kept: usize,
    templated: usize,
    filtered: usize,
}

impl Tally {
    fn readable(&self) -> f64 {
        let all = self.kept + self.templated + self.filtered;
        (self.kept + self.templated) as f64 / all.max(1) as f64
    }
}

#[test]
fn no_planted_value_leaves_and_most_messages_stay_readable() {
    let policy = Policy::new(PolicyConfig::default()).unwrap();
    let (mut clean, mut planted) = (Tally::default(), Tally::default());
    let mut leaks = Vec::new();
    for r in corpus() {
        let out = scrubbed(&policy, &r, None);
        let lower = out.to_lowercase();
        if let Some(c) = CANARIES.iter().find(|c| lower.contains(*c)) {
            leaks.push(format!("{} {}: {c:?} in {out:?}", r.lib, r.ty));
        }
        let tally = if r.planted { &mut planted } else { &mut clean };
        if out == FILTERED {
            tally.filtered += 1;
            if !r.planted {
                println!("filtered ({}) {}: {:?}", r.lib, r.ty, r.value);
            }
        } else if out == r.value {
            tally.kept += 1;
        } else {
            tally.templated += 1;
            println!("template ({}) {}: {:?}", r.lib, r.ty, out);
        }
    }
    println!(
        "without planted data: {clean:?}, readable {:.1} %",
        clean.readable() * 100.0
    );
    println!(
        "with planted data: {planted:?}, readable {:.1} %",
        planted.readable() * 100.0
    );
    assert!(
        leaks.is_empty(),
        "planted values left:\n{}",
        leaks.join("\n")
    );
    // 98.3 % when the rule was written (docs/scrubbing-policy.md); a regression of the
    // catalog or of the vocabulary shows here first.
    assert!(
        clean.readable() >= 0.95,
        "readable share fell: {:.3}",
        clean.readable()
    );
}
