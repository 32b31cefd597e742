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
    ENVELOPES_ACCEPTED = "scrubproxy_envelopes_accepted_total", "counter", [], "Envelopes accepted (answered 200).";
    ITEMS_RECEIVED = "scrubproxy_items_received_total", "counter", ["type"], "Items received, by item type.";
    ITEMS_DROPPED = "scrubproxy_items_dropped_total", "counter", ["type", "reason"], "Items removed before egress, by item type and reason.";
    REDACTIONS = "scrubproxy_redactions_total", "counter", ["rule"], "Values replaced by a placeholder, by detector rule.";
    FIELDS_REMOVED = "scrubproxy_fields_removed_total", "counter", ["field"], "Fields removed by the allowlist, by field.";
    ENVELOPES_EMITTED = "scrubproxy_envelopes_emitted_total", "counter", ["sink"], "Scrubbed envelopes handed to a sink (dry-run stdout, outbox, upstream queue).";
    ENVELOPES_EMPTY = "scrubproxy_envelopes_empty_total", "counter", [], "Envelopes with nothing left to send after scrubbing.";
    SINK_ERRORS = "scrubproxy_sink_errors_total", "counter", ["sink"], "Failures writing to a dry-run sink.";
}

/// Key: family name and label values.
type Key = (&'static str, [&'static str; 2]);

/// The process-wide registry.
#[derive(Debug, Default)]
pub struct Metrics {
    values: Mutex<BTreeMap<Key, u64>>,
}

impl Metrics {
    /// Adds `n` to a counter (or sets nothing new for gauges: use [`Metrics::set`]).
    pub fn add(&self, family: &'static Family, labels: &[&'static str], n: u64) {
        let key = key(family, labels);
        // A std mutex is fine: it is held for one map update, never across an await.
        let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        *values.entry(key).or_insert(0) += n;
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
