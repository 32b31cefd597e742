//! The consent source, beside the path: it feeds the gate (pipeline) and the re-check
//! (egress) with the consent in force. Enters: a file (re-read every 250 ms, so a change
//! applies within a second whether it was renamed into place or rewritten in place), an
//! HTTP(S) URL (polled with ETag / If-None-Match), and `POST /consent/refresh`, which
//! reloads at once so a revocation applies to the very next envelope. Leaves: an
//! `Arc<ConsentView>` published on a `watch` channel.
//!
//! Fail closed: an invalid new document keeps the last good one (and is reported); a source
//! that cannot confirm its document for `--consent-max-age` closes the gate.
//!
//! The source is a peer like any other, so nothing it does can hold the loop: one deadline
//! (`--consent-fetch-timeout`) covers a whole fetch (connect, headers and body, or the file
//! read); the fetch runs beside the loop rather than in it, so the expiry of a stale
//! document has its own timer, a refresh abandons a poll in flight and fetches anew (a
//! document fetched before the app's change must not answer the app's refresh), and a stop
//! drops whatever is in flight.

mod fetch;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use consent::DropReason;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::consent_view::{load_file, ConsentView};
use crate::metrics::{self, Metrics};
use fetch::{Fetch, Loaded, Loader};

/// Consent sources and policy.
#[derive(Debug, Clone)]
pub struct ConsentConfig {
    /// The consent document file, if any.
    pub file: Option<PathBuf>,
    /// The consent URL, if any.
    pub url: Option<http::Uri>,
    /// Poll interval of the URL.
    pub poll_interval: Duration,
    /// Longest time a document stays in force without confirmation.
    pub max_age: Duration,
    /// Deadline of one whole fetch of the document (URL: connect, headers and body; file:
    /// the read).
    pub fetch_timeout: Duration,
    /// TLS for an https consent URL (same trust as the upstream).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Items without a company.
    pub unattributed: consent::Unattributed,
    /// No source configured (dry run only): assume telemetry on for every company, no IDs.
    pub assume_without_source: bool,
}

impl ConsentConfig {
    /// The configured source, if any.
    pub fn source(&self) -> Option<Source> {
        if let Some(f) = &self.file {
            return Some(Source::File {
                path: f.clone(),
                timeout: self.fetch_timeout,
            });
        }
        let url = self.url.clone()?;
        let tls = self.tls.clone()?;
        Some(Source::Url {
            url,
            interval: self.poll_interval,
            tls,
            timeout: self.fetch_timeout,
        })
    }

    /// The view in force before the source task runs: a file is read once now, so a valid
    /// consent file lets the first envelope through; without a file nothing leaves until
    /// the source answers (or everything is assumed, in a dry run without a source).
    pub fn initial_view(&self) -> ConsentView {
        match &self.file {
            Some(path) => match load_file(path) {
                Ok(doc) => ConsentView::Document(Arc::new(doc)),
                Err(e) => {
                    tracing::error!(error = %e, "no valid consent: nothing will leave until it is fixed");
                    ConsentView::Closed(DropReason::NoConsent)
                }
            },
            None if self.assume_without_source => {
                tracing::warn!("no consent source: dry run assumes telemetry enabled for every company, IDs not allowed");
                ConsentView::Assumed
            }
            None => {
                if self.url.is_some() {
                    tracing::info!("waiting for the consent URL: nothing leaves until it answers");
                }
                ConsentView::Closed(DropReason::NoConsent)
            }
        }
    }
}

/// The configured source.
#[derive(Debug, Clone)]
pub enum Source {
    /// A file, re-read every 250 ms.
    File {
        /// Its path.
        path: PathBuf,
        /// Deadline of one read.
        timeout: Duration,
    },
    /// A URL, polled.
    Url {
        /// The document's URL.
        url: http::Uri,
        /// Time between polls.
        interval: Duration,
        /// TLS for https URLs.
        tls: Arc<rustls::ClientConfig>,
        /// Deadline of one whole fetch: connect, headers and body.
        timeout: Duration,
    },
}

/// A request to reload now; answered with the new version or why it failed.
pub type Refresh = oneshot::Sender<Result<u64, String>>;

/// Runs the source until `stop`. Publishes views on `tx`.
pub async fn run(
    source: Source,
    max_age: Duration,
    tx: watch::Sender<Arc<ConsentView>>,
    metrics: Arc<Metrics>,
    mut refresh: mpsc::Receiver<Refresh>,
    mut stop: watch::Receiver<bool>,
) {
    let tick = match &source {
        Source::File { .. } => Duration::from_millis(250),
        Source::Url { interval, .. } => *interval,
    };
    let mut loader = Loader::new(source);
    let mut st = Status::default();
    // The first load already happened synchronously in State::new for files; do it here for
    // both so the version and age start right.
    let mut fetch: Option<Fetch> = Some(loader.start());
    // Refreshes answered by the fetch in flight (which started after they arrived).
    let mut waiting: Vec<Refresh> = Vec::new();
    loop {
        // Its own timer: a fetch that hangs until its deadline does not delay the expiry.
        let expires_at = st.expires_at(max_age);
        let stopped = async {
            // Map the `Ref` away: it must not live across the other branches' awaits.
            let _ = stop.wait_for(|s| *s).await;
        };
        let fetched = async {
            match fetch.as_mut() {
                Some(f) => f.await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            // Whatever is in flight is dropped: a stop never waits for the source.
            () = stopped => return,
            r = refresh.recv() => {
                let Some(reply) = r else { return };
                waiting.push(reply);
                // A poll in flight may have read the document before the change the
                // refresh is about: start again.
                fetch = Some(loader.start());
            }
            result = fetched => {
                fetch = None;
                let outcome = loader.finish(result);
                let failed = match &outcome {
                    Loaded::Failed(e) => Some(e.clone()),
                    _ => None,
                };
                st.apply(outcome, &tx, &metrics);
                for reply in waiting.drain(..) {
                    let _ = reply.send(match &failed {
                        Some(e) => Err(e.clone()),
                        None => Ok(st.version),
                    });
                }
            }
            () = tokio::time::sleep(tick.min(Duration::from_millis(250))) => {
                if fetch.is_none() && st.due(tick) {
                    st.last_try = Some(Instant::now());
                    fetch = Some(loader.start());
                }
            }
            () = sleep_until(expires_at) => {}
        }
        if st.expire(max_age, &tx, &metrics) {
            // Whatever the source says next is published anew.
            loader.forget();
        }
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[derive(Debug, Default)]
struct Status {
    version: u64,
    confirmed: Option<Instant>,
    /// The gate was closed for age; `confirmed` stays, so the age gauge keeps growing.
    expired: bool,
    last_try: Option<Instant>,
    /// The last failure, logged once rather than at every poll.
    last_error: Option<String>,
}

impl Status {
    fn due(&self, every: Duration) -> bool {
        self.last_try.is_none_or(|t| t.elapsed() >= every)
    }

    /// When the document in force goes past `max_age` (`None`: no document, or already
    /// expired). A millisecond past, so that the check in [`Status::expire`] finds it older.
    fn expires_at(&self, max_age: Duration) -> Option<Instant> {
        if self.expired {
            return None;
        }
        let at = self.confirmed?.checked_add(max_age)?;
        at.checked_add(Duration::from_millis(1))
    }

    fn apply(&mut self, outcome: Loaded, tx: &watch::Sender<Arc<ConsentView>>, metrics: &Metrics) {
        self.last_try = Some(Instant::now());
        if !matches!(outcome, Loaded::Failed(_)) {
            self.last_error = None;
        }
        match outcome {
            Loaded::New(doc) => {
                self.version += 1;
                self.confirmed = Some(Instant::now());
                self.expired = false;
                tracing::info!(
                    version = self.version,
                    telemetry_enabled = doc.telemetry_enabled,
                    companies = doc.companies.len(),
                    "consent loaded"
                );
                metrics.set(&metrics::CONSENT_VERSION, &[], self.version);
                tx.send_replace(Arc::new(ConsentView::Document(Arc::new(doc))));
            }
            Loaded::Same => {
                self.confirmed = Some(Instant::now());
                self.expired = false;
            }
            Loaded::Failed(e) => {
                if self.last_error.as_ref() != Some(&e) {
                    metrics.inc(&metrics::CONSENT_ERRORS, &["load"]);
                    if self.version == 0 {
                        tracing::warn!(error = %e, "no valid consent yet: nothing leaves until the source gives one");
                    } else {
                        tracing::warn!(error = %e, "consent source failed; keeping the last good document");
                    }
                    self.last_error = Some(e);
                }
                if self.version == 0 && !matches!(**tx.borrow(), ConsentView::Closed(_)) {
                    tx.send_replace(Arc::new(ConsentView::Closed(DropReason::NoConsent)));
                }
            }
        }
        let age = self.confirmed.map_or(0, |c| c.elapsed().as_secs());
        metrics.set(&metrics::CONSENT_AGE, &[], age);
    }

    /// Closes the gate when the document is too old; true when it just did.
    fn expire(
        &mut self,
        max_age: Duration,
        tx: &watch::Sender<Arc<ConsentView>>,
        metrics: &Metrics,
    ) -> bool {
        let Some(confirmed) = self.confirmed else {
            return false;
        };
        metrics.set(&metrics::CONSENT_AGE, &[], confirmed.elapsed().as_secs());
        if self.expired || confirmed.elapsed() <= max_age {
            return false;
        }
        tracing::error!(max_age = ?max_age, "consent not confirmed in time: nothing leaves until the source answers");
        self.expired = true;
        tx.send_replace(Arc::new(ConsentView::Closed(DropReason::ConsentExpired)));
        true
    }
}
