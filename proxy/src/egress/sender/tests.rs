use std::sync::atomic::AtomicU32;

use super::*;
use crate::egress::upstream::client::{Compression, UpstreamConfig};
use crate::egress::{EgressConfig, EgressSettings};
use crate::metrics::Metrics;

#[test]
fn backoff_grows_and_is_bounded() {
    let base = Duration::from_millis(100);
    let max = Duration::from_secs(10);
    for attempt in 0..40 {
        let d = backoff(base, max, attempt);
        let step = base.saturating_mul(1u32 << attempt.min(16)).min(max);
        assert!(d >= step / 2 && d <= step, "{attempt}: {d:?}");
    }
}

/// A job is dropped as expired only once it is older than `--retry-max-age`, not at it.
#[test]
fn a_job_expires_strictly_after_the_retry_max_age() {
    let mut j = job(1);
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    j.accepted_at = t0;
    let max = Duration::from_secs(60);
    assert!(!expired(&j, t0, max));
    assert!(!expired(&j, t0 + max, max));
    assert!(expired(&j, t0 + max + Duration::from_millis(1), max));
    // A clock that went back makes the job young, not expired.
    assert!(!expired(&j, t0 - Duration::from_secs(5), max));
}

/// Status labels come from a closed set: known codes by name, the rest by class.
#[test]
fn status_labels_are_a_closed_set() {
    let label = |c: u16| status_label(http::StatusCode::from_u16(c).expect("status"));
    let got: Vec<&str> = [200, 202, 206, 302, 413, 418, 429, 503, 507, 999]
        .into_iter()
        .map(label)
        .collect();
    assert_eq!(
        got,
        ["200", "202", "2xx", "3xx", "413", "4xx", "429", "503", "5xx", "5xx"]
    );
}

/// An egress half whose upstream is never contacted, with `senders` slots.
fn egress(senders: usize, spool: Option<std::path::PathBuf>) -> Arc<Egress> {
    let tls = crate::egress::upstream::tls::client_config(
        crate::egress::upstream::tls::Roots::Webpki,
        None,
    )
    .expect("webpki roots");
    let config = EgressConfig {
        client: UpstreamConfig {
            host: "127.0.0.1".into(),
            port: 9,
            insecure: true,
            tls,
            proxy: None,
            proxy_auth: None,
            compression: Compression::Gzip,
            level: 3,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            pool_size: 1,
        },
        settings: EgressSettings {
            senders,
            retry_max_age: Duration::from_secs(3600),
            backoff_base: Duration::from_millis(10),
            backoff_max: Duration::from_millis(10),
        },
        queue_max_envelopes: 1,
        queue_max_bytes: 1 << 20,
        spool: spool.map(|d| (d, 1 << 20)),
        spool_durable: None,
        audit_size: 1,
    };
    let (_tx, rx) = watch::channel(Arc::new(ConsentView::Assumed));
    Arc::new(
        Egress::open(
            &config,
            Arc::new(Metrics::default()),
            rx,
            consent::Unattributed::Forward,
        )
        .expect("open"),
    )
}

fn job(n: u8) -> Job {
    let raw = format!(
        "{{\"event_id\":\"{:032x}\"}}\n{{\"type\":\"event\"}}\n{{}}\n",
        n
    );
    Job {
        envelope: envelope::Envelope::parse(bytes::Bytes::from(raw)).expect("envelope"),
        consent: vec![scrub::KeptConsent {
            company: None,
            ids_allowed: false,
        }],
        upstream: Arc::new("https://abc@h.example/1".parse().expect("dsn")),
        client: None,
        accepted_at: SystemTime::now(),
        spooled: None,
    }
}

/// A sender that panics is counted, started again, and the slot is reported down while it
/// waits; the supervisor returns once stopped.
#[tokio::test(start_paused = true)]
async fn a_panicking_sender_is_restarted() {
    let egress = egress(1, None);
    let (stop_tx, stop) = watch::channel(false);
    let runs = Arc::new(AtomicU32::new(0));
    let r = runs.clone();
    let sender_stop = stop.clone();
    let make = move || {
        let n = r.fetch_add(1, Ordering::Relaxed);
        let mut stop = sender_stop.clone();
        tokio::spawn(async move {
            if n < 3 {
                panic!("sender failure {n} (expected by the test)");
            }
            // Like a real sender: works until told to stop.
            let _ = stop.wait_for(|s| *s).await;
        })
    };
    let sup = tokio::spawn(supervise(make, egress.clone(), stop));
    // The first failure: down until the restart delay is over.
    while !egress.no_sender() {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(runs.load(Ordering::Relaxed), 4);
    assert!(!egress.no_sender(), "the fourth run works");
    let text = egress.metrics.render();
    assert!(
        text.contains("scrubproxy_sender_restarts_total{cause=\"panic\"} 3"),
        "{text}"
    );
    stop_tx.send(true).expect("stop");
    sup.await.expect("supervisor ends");
}

/// A sender whose task is dropped while it holds a job gives the job back to the queue.
#[tokio::test]
async fn a_job_held_by_a_failed_sender_is_queued_again() {
    let egress = egress(1, None);
    {
        let held = Held::new(&egress, job(1));
        assert_eq!(egress.in_flight.load(Ordering::Relaxed), 1);
        drop(held);
    }
    assert_eq!(egress.in_flight.load(Ordering::Relaxed), 0);
    assert_eq!(egress.queue.len(), 1);
    // The queue holds one: the next goes to the spool when there is one, else is counted.
    egress.requeue(job(2));
    let text = egress.metrics.render();
    assert!(
        text.contains("scrubproxy_items_dropped_total{type=\"event\",reason=\"sender_failed\"} 1"),
        "{text}"
    );
    let dir = std::env::temp_dir().join(format!("sender-requeue-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let spooled = egress_with_spool(&dir);
    spooled.requeue(job(3));
    spooled.requeue(job(4));
    assert_eq!(spooled.queue.len(), 1);
    let Some(Spool::Overflow(files)) = &spooled.spool else {
        panic!("an overflow spool")
    };
    assert_eq!(files.list().expect("list").len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

fn egress_with_spool(dir: &std::path::Path) -> Arc<Egress> {
    egress(1, Some(dir.to_path_buf()))
}
