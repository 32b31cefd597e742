//! The outbound queue: scrubbed envelopes waiting for a sender, bounded in count and bytes.
//! When it is full the SDK gets 429 (or, with a spool, the job goes to disk).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use envelope::Envelope;
use tokio::sync::Notify;

use super::spool::Spooled;
use crate::dsn::Dsn;

/// One scrubbed envelope on its way upstream.
#[derive(Debug)]
pub struct Job {
    /// The scrubbed envelope (items may still be removed by the consent re-check).
    pub envelope: Envelope,
    /// Consent facts of each item, parallel to `envelope.items()`.
    pub consent: Vec<scrub::KeptConsent>,
    /// Where it goes.
    pub upstream: Arc<Dsn>,
    /// The SDK's client name, forwarded in `X-Sentry-Auth`.
    pub client: Option<String>,
    /// When the SDK handed it over: retries stop at `--retry-max-age` from here.
    pub accepted_at: SystemTime,
    /// Its copy on disk, if any (a spool file, or a record of the durable log): removed or
    /// tombstoned once the job is done.
    pub spooled: Option<Spooled>,
}

impl Job {
    /// Bytes it holds (its serialized size), for the queue's byte bound.
    pub fn size(&self) -> usize {
        self.envelope.serialized_len()
    }

    /// Age since acceptance.
    pub fn age(&self, now: SystemTime) -> Duration {
        now.duration_since(self.accepted_at).unwrap_or_default()
    }
}

/// A bounded FIFO with async pop.
#[derive(Debug)]
pub struct Queue {
    jobs: Mutex<VecDeque<(Job, usize)>>,
    bytes: AtomicUsize,
    len: AtomicUsize,
    notify: Notify,
    /// Most jobs held.
    pub max_len: usize,
    /// Most bytes held.
    pub max_bytes: usize,
}

impl Queue {
    /// An empty queue with these bounds.
    pub fn new(max_len: usize, max_bytes: usize) -> Queue {
        Queue {
            jobs: Mutex::new(VecDeque::new()),
            bytes: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            notify: Notify::new(),
            max_len,
            max_bytes,
        }
    }

    /// Adds a job unless that would exceed a bound; gives it back when full.
    // Handing the job back by value is the point: the caller spools it or counts it.
    #[allow(clippy::result_large_err)]
    pub fn try_push(&self, job: Job) -> Result<(), Job> {
        let size = job.size();
        let mut q = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let bytes = self.bytes.load(Ordering::Relaxed);
        // An envelope larger than the whole byte budget still goes through an empty queue.
        if q.len() >= self.max_len || (!q.is_empty() && bytes + size > self.max_bytes) {
            return Err(job);
        }
        q.push_back((job, size));
        self.bytes.fetch_add(size, Ordering::Relaxed);
        self.len.store(q.len(), Ordering::Relaxed);
        drop(q);
        self.notify.notify_one();
        Ok(())
    }

    /// Takes the oldest job, if any.
    pub fn try_pop(&self) -> Option<Job> {
        let mut q = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let (job, size) = q.pop_front()?;
        self.bytes.fetch_sub(size, Ordering::Relaxed);
        self.len.store(q.len(), Ordering::Relaxed);
        Some(job)
    }

    /// Waits for a job.
    pub async fn pop(&self) -> Job {
        loop {
            let notified = self.notify.notified();
            if let Some(job) = self.try_pop() {
                return job;
            }
            notified.await;
        }
    }

    /// Removes and returns every job (shutdown: they go to the spool).
    pub fn drain(&self) -> Vec<Job> {
        let mut q = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        self.bytes.store(0, Ordering::Relaxed);
        self.len.store(0, Ordering::Relaxed);
        q.drain(..).map(|(j, _)| j).collect()
    }

    /// Jobs waiting.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// True when no job waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes waiting.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Whether at least `fraction` of either bound is used (for `/readyz` and spool replay).
    pub fn fill_above(&self, fraction: f64) -> bool {
        self.len() as f64 >= self.max_len as f64 * fraction
            || self.bytes() as f64 >= self.max_bytes as f64 * fraction
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn job(payload: &'static [u8]) -> Job {
        let mut env = Envelope::from_header(serde_json::Map::new());
        env.push(envelope::Item::new(
            envelope::ItemType::Event,
            Bytes::from_static(payload),
        ));
        Job {
            envelope: env,
            consent: vec![],
            upstream: Arc::new("https://k@h/1".parse().unwrap()),
            client: None,
            accepted_at: SystemTime::now(),
            spooled: None,
        }
    }

    #[test]
    fn bounded_by_count_and_bytes() {
        let q = Queue::new(2, 1000);
        assert!(q.try_push(job(b"{}")).is_ok());
        assert!(q.try_push(job(b"{}")).is_ok());
        assert!(q.try_push(job(b"{}")).is_err());
        assert_eq!(q.len(), 2);
        q.try_pop().unwrap();
        assert_eq!(q.len(), 1);

        let q = Queue::new(10, 40);
        assert!(q.try_push(job(b"{\"a\":\"0123456789\"}")).is_ok());
        assert!(
            q.try_push(job(b"{\"a\":\"0123456789\"}")).is_err(),
            "bytes bound"
        );
        assert_eq!(q.drain().len(), 1);
        assert_eq!(q.bytes(), 0);
    }
}
