//! The consent source, beside the path: it feeds the gate (pipeline) and the re-check
//! (egress) with the consent in force. Enters: a file (re-read every 250 ms, so a change
//! applies within a second whether it was renamed into place or rewritten in place), an
//! HTTP(S) URL (polled with ETag / If-None-Match), and `POST /consent/refresh`, which
//! reloads at once so a revocation applies to the very next envelope. Leaves: an
//! `Arc<ConsentView>` published on a `watch` channel.
//!
//! Fail closed: an invalid new document keeps the last good one (and is reported); a source
//! that cannot confirm its document for `--consent-max-age` closes the gate.

mod view;

pub use view::{load_file, ConsentView};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use consent::{ConsentDocument, DropReason};
use http::{header, Request, StatusCode};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::admin::metrics::{self, Metrics};

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
            return Some(Source::File(f.clone()));
        }
        let url = self.url.clone()?;
        let tls = self.tls.clone()?;
        Some(Source::Url {
            url,
            interval: self.poll_interval,
            tls,
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
    /// A file.
    File(PathBuf),
    /// A URL, polled.
    Url {
        /// The document's URL.
        url: http::Uri,
        /// Time between polls.
        interval: Duration,
        /// TLS for https URLs.
        tls: Arc<rustls::ClientConfig>,
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
    let mut loader = Loader::new(source);
    let mut st = Status::default();
    // The first load already happened synchronously in State::new for files; do it here for
    // both so the version and age start right.
    st.apply(loader.load().await, &tx, &metrics);
    loop {
        let tick = match &loader.source {
            Source::File(_) => Duration::from_millis(250),
            Source::Url { interval, .. } => *interval,
        };
        let stopped = async {
            // Map the `Ref` away: it must not live across the other branches' awaits.
            let _ = stop.wait_for(|s| *s).await;
        };
        tokio::select! {
            () = stopped => return,
            r = refresh.recv() => {
                let Some(reply) = r else { return };
                let outcome = loader.load().await;
                let failed = match &outcome {
                    Loaded::Failed(e) => Some(e.clone()),
                    _ => None,
                };
                st.apply(outcome, &tx, &metrics);
                let _ = reply.send(match failed {
                    Some(e) => Err(e),
                    None => Ok(st.version),
                });
            }
            () = tokio::time::sleep(tick.min(Duration::from_millis(250))) => {
                if st.due(tick) {
                    let outcome = loader.load().await;
                    st.apply(outcome, &tx, &metrics);
                }
            }
        }
        if st.expire(max_age, &tx, &metrics) {
            // Whatever the source says next is published anew.
            loader.last = None;
            loader.etag = None;
        }
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

enum Loaded {
    New(ConsentDocument),
    Same,
    Failed(String),
}

struct Loader {
    source: Source,
    last: Option<Bytes>,
    etag: Option<http::HeaderValue>,
    client: Option<Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>>,
}

impl Loader {
    fn new(source: Source) -> Loader {
        let client = match &source {
            Source::Url { tls, .. } => {
                let mut http = HttpConnector::new();
                http.enforce_http(false);
                http.set_connect_timeout(Some(Duration::from_secs(5)));
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config((**tls).clone())
                    .https_or_http()
                    .enable_http1()
                    .wrap_connector(http);
                Some(Client::builder(TokioExecutor::new()).build(https))
            }
            Source::File(_) => None,
        };
        Loader {
            source,
            last: None,
            etag: None,
            client,
        }
    }

    async fn load(&mut self) -> Loaded {
        let (bytes, etag) = match &self.source {
            Source::File(path) => match tokio::fs::read(path).await {
                Ok(b) => (Bytes::from(b), None),
                Err(e) => return Loaded::Failed(format!("{}: {}", path.display(), e.kind())),
            },
            Source::Url { url, .. } => match self.fetch(url.clone()).await {
                Ok(Some(fetched)) => fetched,
                Ok(None) => return self.same(),
                Err(e) => return Loaded::Failed(e),
            },
        };
        if self.last.as_ref() == Some(&bytes) {
            self.etag = etag;
            return Loaded::Same;
        }
        match ConsentDocument::parse(&bytes) {
            Ok(doc) => {
                self.last = Some(bytes);
                self.etag = etag;
                Loaded::New(doc)
            }
            // The ETag of a refused document is not remembered: a 304 for it would
            // otherwise confirm the last good document forever.
            Err(e) => Loaded::Failed(format!("invalid consent document: {e}")),
        }
    }

    fn same(&self) -> Loaded {
        if self.last.is_some() {
            Loaded::Same
        } else {
            Loaded::Failed("304 Not Modified before any document".into())
        }
    }

    /// The body and its ETag; `Ok(None)` on 304.
    async fn fetch(
        &self,
        url: http::Uri,
    ) -> Result<Option<(Bytes, Option<http::HeaderValue>)>, String> {
        let Some(client) = &self.client else {
            return Err("no HTTP client".into());
        };
        let mut req = Request::get(url).header(header::ACCEPT, "application/json");
        if let Some(etag) = &self.etag {
            req = req.header(header::IF_NONE_MATCH, etag.clone());
        }
        let req = req.body(Empty::new()).map_err(|e| e.to_string())?;
        let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
            .await
            .map_err(|_| "consent URL timed out".to_owned())?
            .map_err(|e| format!("consent URL: {e}"))?;
        match resp.status() {
            StatusCode::NOT_MODIFIED => Ok(None),
            StatusCode::OK => {
                let etag = resp.headers().get(header::ETAG).cloned();
                let body = Limited::new(resp.into_body(), 16 << 20)
                    .collect()
                    .await
                    .map_err(|_| "consent URL: body too large or broken".to_owned())?
                    .to_bytes();
                Ok(Some((body, etag)))
            }
            s => Err(format!("consent URL answered {}", s.as_u16())),
        }
    }
}
