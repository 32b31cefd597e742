//! Prometheus counters and gauges. Label values are `&'static str` from closed sets (reasons,
//! item types, rule ids, status codes), so no request content can become a label.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// A metric family: name, help line, type and label names.
#[derive(Debug)]
pub struct Family {
    /// Prometheus name.
    pub name: &'static str,
    /// `# HELP` text.
    pub help: &'static str,
    /// `counter` or `gauge`.
    pub kind: &'static str,
    /// Label names, in order.
    pub labels: &'static [&'static str],
}

macro_rules! families {
    ($($id:ident = $name:literal, $kind:literal, [$($l:literal),*], $help:literal;)*) => {
        $(#[doc = $help] pub static $id: Family = Family { name: $name, help: $help, kind: $kind, labels: &[$($l),*] };)*
        /// Every family, in `/metrics` order.
        pub static ALL: &[&Family] = &[$(&$id),*];
    };
}

families! {
    REQUESTS = "scrubproxy_requests_total", "counter", ["endpoint"], "Requests received from SDKs, by endpoint.";
    REJECTED = "scrubproxy_requests_rejected_total", "counter", ["reason"], "Requests refused, by reason.";
    CONNECTION_ERRORS = "scrubproxy_connection_errors_total", "counter", ["kind"], "Inbound connections ended by an HTTP-level error (header_timeout, too_large, parse, incomplete, other): slow or broken clients.";
    ENVELOPES_ACCEPTED = "scrubproxy_envelopes_accepted_total", "counter", [], "Envelopes accepted (answered 200).";
    ITEMS_RECEIVED = "scrubproxy_items_received_total", "counter", ["type"], "Items received, by item type.";
    ITEMS_DROPPED = "scrubproxy_items_dropped_total", "counter", ["type", "reason"], "Items removed before egress, by item type and reason.";
    REDACTIONS = "scrubproxy_redactions_total", "counter", ["rule"], "Values replaced by a placeholder, by detector rule.";
    FIELDS_REMOVED = "scrubproxy_fields_removed_total", "counter", ["field"], "Fields removed by the allowlist, by field.";
    WORK_BUDGET_EXHAUSTED = "scrubproxy_work_budget_exhausted_total", "counter", [], "Envelopes that used up their scrubbing work budget: free text judged after that point left as a placeholder.";
    ENVELOPES_EMITTED = "scrubproxy_envelopes_emitted_total", "counter", ["sink"], "Scrubbed envelopes handed to a sink (dry-run stdout, outbox, upstream queue).";
    ENVELOPES_EMPTY = "scrubproxy_envelopes_empty_total", "counter", [], "Envelopes with nothing left to send after scrubbing.";
    SINK_ERRORS = "scrubproxy_sink_errors_total", "counter", ["sink"], "Failures writing to a dry-run sink.";
    ENVELOPES_FORWARDED = "scrubproxy_envelopes_forwarded_total", "counter", [], "Envelopes the upstream accepted (2xx).";
    ITEMS_FORWARDED = "scrubproxy_items_forwarded_total", "counter", ["type"], "Items the upstream accepted, by item type.";
    UPSTREAM_RESPONSES = "scrubproxy_upstream_responses_total", "counter", ["status"], "Upstream answers, by HTTP status.";
    UPSTREAM_ERRORS = "scrubproxy_upstream_errors_total", "counter", ["kind"], "Upstream requests without an answer, by kind (tls, timeout, network).";
    UPSTREAM_RETRIES = "scrubproxy_upstream_retries_total", "counter", [], "Send attempts retried after a 5xx, timeout or network error.";
    SENDER_RESTARTS = "scrubproxy_sender_restarts_total", "counter", ["cause"], "Senders started again after they failed (panic, ended, cancelled); their envelope was queued again.";
    QUEUE_DEPTH = "scrubproxy_queue_depth", "gauge", [], "Envelopes waiting in the outbound queue.";
    QUEUE_BYTES = "scrubproxy_queue_bytes", "gauge", [], "Bytes waiting in the outbound queue.";
    SPOOL_BYTES = "scrubproxy_spool_bytes", "gauge", [], "Bytes in the disk spool.";
    SPOOL_ENVELOPES = "scrubproxy_spool_envelopes", "gauge", [], "Envelopes held in the durable spool's log (live records), in memory or not.";
    SPOOL_WRITES = "scrubproxy_spool_writes_total", "counter", ["reason"], "Envelopes written to the spool (durable, queue_full, shutdown).";
    CONSENT_VERSION = "scrubproxy_consent_version", "gauge", [], "Number of consent documents loaded since start.";
    CONSENT_AGE = "scrubproxy_consent_age_seconds", "gauge", [], "Seconds since the consent in force was last confirmed by its source.";
    CONSENT_ERRORS = "scrubproxy_consent_errors_total", "counter", ["source"], "Consent sources that failed or gave an invalid document.";
    TELEMETRY_ENABLED = "scrubproxy_telemetry_enabled", "gauge", [], "1 when the consent in force lets anything leave.";
    TRACE_MAP_LOOKUPS = "scrubproxy_trace_map_lookups_total", "counter", ["result"], "Trace map lookups for items their envelope leaves unattributed, by result (hit, miss, ambiguous).";
    TRACE_MAP_EVICTIONS = "scrubproxy_trace_map_evictions_total", "counter", ["reason"], "Trace map entries removed, by reason (capacity: past --trace-map-max-entries; expired: past --trace-map-ttl).";
    TRACE_MAP_ENTRIES = "scrubproxy_trace_map_entries", "gauge", [], "Traces the trace map remembers now.";
}

/// Upstream latency buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Key: family name and label values.
type Key = (&'static str, [&'static str; 2]);

/// The process-wide registry.
#[derive(Debug, Default)]
pub struct Metrics {
    values: Mutex<BTreeMap<Key, u64>>,
    latency: Mutex<Histogram>,
}

/// A fixed-bucket histogram.
#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    /// Adds `n` to a counter (or sets nothing new for gauges: use [`Metrics::set`]).
    pub fn add(&self, family: &'static Family, labels: &[&'static str], n: u64) {
        let key = key(family, labels);
        // A std mutex is fine: it is held for one map update, never across an await.
        let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        *values.entry(key).or_insert(0) += n;
    }

    /// Adds to several counters under one lock: a request's items and removal report, so
    /// the workers contend once per request rather than once per counter.
    pub fn add_many<'l>(
        &self,
        entries: impl IntoIterator<Item = (&'static Family, &'l [&'static str], u64)>,
    ) {
        let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        for (family, labels, n) in entries {
            *values.entry(key(family, labels)).or_insert(0) += n;
        }
    }

    /// Adds one.
    pub fn inc(&self, family: &'static Family, labels: &[&'static str]) {
        self.add(family, labels, 1);
    }

    /// Sets a gauge.
    pub fn set(&self, family: &'static Family, labels: &[&'static str], v: u64) {
        let key = key(family, labels);
        let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        values.insert(key, v);
    }

    /// Records one upstream latency.
    pub fn observe_latency(&self, seconds: f64) {
        let mut h = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// Current value (0 when never touched); for tests and `/readyz`.
    pub fn get(&self, family: &'static Family, labels: &[&'static str]) -> u64 {
        let values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        values.get(&key(family, labels)).copied().unwrap_or(0)
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::with_capacity(4096);
        for f in ALL {
            let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
            let mut any = false;
            for ((name, lv), v) in values.range((f.name, ["", ""])..) {
                if *name != f.name {
                    break;
                }
                any = true;
                out.push_str(f.name);
                if !f.labels.is_empty() {
                    out.push('{');
                    for (i, l) in f.labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let _ = write!(out, "{l}=\"{}\"", lv[i]);
                    }
                    out.push('}');
                }
                let _ = writeln!(out, " {v}");
            }
            if !any && f.labels.is_empty() {
                let _ = writeln!(out, "{} 0", f.name);
            }
        }
        drop(values);
        let h = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let name = "scrubproxy_upstream_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from sending an envelope upstream to its answer."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {}", h.counts[i]);
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum {}", h.sum);
        let _ = writeln!(out, "{name}_count {}", h.count);
        out
    }
}

fn key(family: &'static Family, labels: &[&'static str]) -> Key {
    debug_assert_eq!(labels.len(), family.labels.len(), "{}", family.name);
    let mut lv = ["", ""];
    for (slot, l) in lv.iter_mut().zip(labels) {
        *slot = l;
    }
    (family.name, lv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.inc(&REJECTED, &["bad_auth"]);
        m.add(&REJECTED, &["bad_auth"], 2);
        m.inc(&ITEMS_DROPPED, &["attachment", "item_type"]);
        let text = m.render();
        assert!(text.contains("scrubproxy_requests_rejected_total{reason=\"bad_auth\"} 3\n"));
        assert!(text.contains(
            "scrubproxy_items_dropped_total{type=\"attachment\",reason=\"item_type\"} 1\n"
        ));
        assert!(text.contains("scrubproxy_envelopes_accepted_total 0\n"));
        assert_eq!(m.get(&REJECTED, &["bad_auth"]), 3);
    }
}
