//! The last envelopes sent upstream, exactly as sent (already scrubbed, before
//! compression), for `GET /audit/recent`: what a SecOps reviewer checks.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// A ring of recent envelopes.
#[derive(Debug)]
pub struct Audit {
    ring: Mutex<VecDeque<(u64, u16, Bytes)>>,
    cap: usize,
}

impl Audit {
    /// Keeps the last `cap` envelopes (0 keeps none).
    pub fn new(cap: usize) -> Audit {
        Audit {
            ring: Mutex::new(VecDeque::with_capacity(cap.min(1024))),
            cap,
        }
    }

    /// Records an envelope the upstream answered with `status`.
    pub fn record(&self, status: u16, body: Bytes) {
        if self.cap == 0 {
            return;
        }
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut r = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if r.len() == self.cap {
            r.pop_front();
        }
        r.push_back((at, status, body));
    }

    /// JSON: `[{"sent_at": unix seconds, "upstream_status": 200, "envelope": "..."}]`, newest last.
    pub fn to_json(&self) -> String {
        let r = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let list: Vec<serde_json::Value> = r
            .iter()
            .map(|(at, status, body)| {
                serde_json::json!({
                    "sent_at": at,
                    "upstream_status": status,
                    "envelope": String::from_utf8_lossy(body),
                })
            })
            .collect();
        serde_json::Value::Array(list).to_string()
    }
}
