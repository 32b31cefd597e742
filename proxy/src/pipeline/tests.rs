//! The pipeline with the trace map, driven by a clock the test sets: a trace's entry
//! expires after `--trace-map-ttl` and its later items are unattributed again, without
//! waiting for it. The real scrubber, consent document and dry-run outbox.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use consent::{ConsentDocument, Unattributed};
use envelope::Envelope;
use tokio::sync::watch;

use super::traces::TraceMapSettings;
use super::{process, Clock, Ingested, Output, Pipeline};
use crate::consent_view::ConsentView;
use crate::egress::sink::Sink;
use crate::metrics::{self, Metrics};

const TRACE: &str = "5b8efff798038103d269b633813fc60c";

fn outbox(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pipeline-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("outbox");
    d
}

/// A pipeline writing to `dir`, company 4711 consented, the default `--unattributed drop`,
/// a 60 s trace map, and the time `now` holds.
fn pipeline(dir: &std::path::Path, now: Arc<Mutex<Instant>>) -> Pipeline {
    let doc = ConsentDocument::parse(
        br#"{"telemetry_enabled": true, "companies": {"4711": {"telemetry_enabled": true}}}"#,
    )
    .expect("consent");
    let (_tx, rx) = watch::channel(Arc::new(ConsentView::Document(Arc::new(doc))));
    let policy = Arc::new(scrub::Policy::new(scrub::PolicyConfig::default()).expect("policy"));
    let settings = TraceMapSettings {
        max_entries: 10,
        ttl: Duration::from_secs(60),
    };
    let clock = Clock::new(move || *now.lock().unwrap_or_else(|e| e.into_inner()));
    Pipeline::new(
        policy,
        Unattributed::Drop,
        Arc::new(Metrics::default()),
        rx,
        Output::DryRun(Sink::outbox(dir.to_owned())),
        settings,
    )
    .with_clock(clock)
}

async fn send(p: &Pipeline, body: String) {
    let envelope = Envelope::parse(Bytes::from(body)).expect("envelope");
    let ingested = Ingested {
        envelope,
        upstream: None,
        client: None,
    };
    process(p, ingested).await.expect("processed");
}

fn event(trace: &str) -> String {
    format!(
        "{{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}}\n{{\"type\":\"event\"}}\n\
         {{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"level\":\"error\",\"tags\":{{\"company_id\":\"4711\"}},\
         \"contexts\":{{\"trace\":{{\"trace_id\":\"{trace}\",\"span_id\":\"a81618f4de9e1096\"}}}}}}\n"
    )
}

fn spans(trace: &str, span_id: &str) -> String {
    format!(
        "{{\"trace\":{{\"trace_id\":\"{trace}\"}}}}\n\
         {{\"type\":\"span\",\"content_type\":\"application/vnd.sentry.items.span.v2+json\"}}\n\
         {{\"version\":2,\"items\":[{{\"trace_id\":\"{trace}\",\"span_id\":\"{span_id}\",\"name\":\"connect\"}}]}}\n"
    )
}

fn written(dir: &std::path::Path) -> String {
    let mut files: Vec<_> = (std::fs::read_dir(dir).expect("outbox").flatten())
        .map(|e| e.path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("read"))
        .collect()
}

#[tokio::test]
async fn a_trace_past_its_ttl_is_unattributed_again() {
    let dir = outbox("ttl");
    let t0 = Instant::now();
    let now = Arc::new(Mutex::new(t0));
    let p = pipeline(&dir, now.clone());

    send(&p, event(TRACE)).await;
    // 59 s later: the map knows the trace.
    *now.lock().unwrap() = t0 + Duration::from_secs(59);
    send(&p, spans(TRACE, "b100000000000001")).await;
    // 60 s after the event: its entry has expired; the spans name no company.
    *now.lock().unwrap() = t0 + Duration::from_secs(60);
    send(&p, spans(TRACE, "cafe000000000001")).await;

    let out = written(&dir);
    assert!(out.contains("b100000000000001"), "{out}");
    assert!(!out.contains("cafe000000000001"), "{out}");
    let m = &p.metrics;
    assert_eq!(m.get(&metrics::ITEMS_DROPPED, &["span", "unattributed"]), 1);
    assert_eq!(m.get(&metrics::TRACE_MAP_LOOKUPS, &["hit"]), 1);
    assert_eq!(m.get(&metrics::TRACE_MAP_LOOKUPS, &["miss"]), 1);
    assert_eq!(m.get(&metrics::TRACE_MAP_EVICTIONS, &["expired"]), 1);
    assert_eq!(m.get(&metrics::TRACE_MAP_ENTRIES, &[]), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
