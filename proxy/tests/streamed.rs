//! Today's SDKs through the proxy: sentry-sdk 3.0.1's streamed span envelope and
//! its trace metric envelope, as captured in `tests/spans/fixtures/sdk3`, sent over HTTP to
//! the proxy in-process (a dry run into an outbox). Both leave scrubbed, their item types
//! are counted by name (not `unknown`), and no planted value is in what would be sent.

mod common;

use std::path::Path;

use bytes::Bytes;
use common::{envelope_request, TestProxy};
use envelope::Envelope;
use serde_json::Value;

const KEY: &str = "d41d8cd98f00b204e9800998ecf8427e";

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/spans/fixtures/sdk3")
        .join(name);
    std::fs::read(path).expect("the sdk3 capture")
}

/// Every string planted in the capture, and its marker word.
fn canaries() -> (Vec<String>, String) {
    let text = String::from_utf8(fixture("canaries.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let strings = v["strings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    (strings, v["marker"].as_str().unwrap().to_lowercase())
}

#[tokio::test]
async fn streamed_spans_and_trace_metrics_leave_scrubbed_and_counted_by_type() {
    let proxy = TestProxy::start(&[]).await;
    for name in [
        "doc_open_cached-span.envelope",
        "doc_search-trace_metric.envelope",
    ] {
        let resp = proxy
            .send(envelope_request(KEY, "42", &fixture(name)))
            .await;
        assert_eq!(resp.status, 200, "{name}: {}", resp.text());
    }
    let files = proxy.outbox_files();
    assert_eq!(files.len(), 2);
    let sent: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let (strings, marker) = canaries();
    for body in &sent {
        let text = String::from_utf8_lossy(body);
        for s in &strings {
            assert!(!text.contains(s.as_str()), "{s} left: {text}");
        }
        assert!(!text.to_lowercase().contains(&marker), "{text}");
    }

    let spans = Envelope::parse(Bytes::from(sent[0].clone())).unwrap();
    assert_eq!(spans.items().len(), 1);
    let batch: Value = serde_json::from_slice(spans.items()[0].payload()).unwrap();
    let segment = batch["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["is_segment"] == true)
        .expect("the segment left");
    let route = "/companies/{company_id}/documents/{slug}/";
    assert_eq!(segment["name"], route);
    assert_eq!(segment["attributes"]["http.route"]["value"], route);
    assert_eq!(
        segment["attributes"]["sentry.release"]["value"],
        "dms-assistant@4.2.0"
    );
    // A dry run assumes consent without IDs: the company attribute stays home.
    assert!(!String::from_utf8_lossy(&sent[0]).contains("company_id\""));

    let metrics = Envelope::parse(Bytes::from(sent[1].clone())).unwrap();
    assert_eq!(metrics.items()[0].ty().as_str(), "trace_metric");
    let records: Value = serde_json::from_slice(metrics.items()[0].payload()).unwrap();
    assert!(records["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["value"].is_number() && r["name"].is_string()));

    let text = proxy.metrics().await;
    for ty in ["span", "trace_metric"] {
        let sample = format!("scrubproxy_items_received_total{{type=\"{ty}\"}}");
        assert_eq!(common::metric_value(&text, &sample), 1, "{sample}");
    }
    assert_eq!(
        common::metric_value(&text, "scrubproxy_items_received_total{type=\"unknown\"}"),
        0
    );
    proxy.stop().await;
}
