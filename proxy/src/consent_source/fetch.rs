//! One fetch of the consent document, from a file or a URL, under one deadline, and what
//! it means against the last one (new document, same, failure). A fetch is a future that
//! owns what it needs, so the source's loop can run it beside its timers and drop it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use consent::ConsentDocument;
use http::{header, Request, StatusCode};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::Source;

/// Largest consent document read from a URL.
const MAX_BODY: usize = 16 << 20;

/// The body and its ETag; `None` for `304 Not Modified`; or why it failed.
pub(super) type Fetched = Result<Option<(Bytes, Option<http::HeaderValue>)>, String>;

/// A fetch in flight.
pub(super) type Fetch = Pin<Box<dyn Future<Output = Fetched> + Send>>;

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// What a fetch meant.
pub(super) enum Loaded {
    New(ConsentDocument),
    Same,
    Failed(String),
}

/// The source, its client, and what the last good fetch gave (bytes and ETag).
pub(super) struct Loader {
    source: Source,
    last: Option<Bytes>,
    etag: Option<http::HeaderValue>,
    client: Option<HttpClient>,
}

impl Loader {
    pub(super) fn new(source: Source) -> Loader {
        let client = match &source {
            Source::Url { tls, timeout, .. } => {
                let mut http = HttpConnector::new();
                http.enforce_http(false);
                http.set_connect_timeout(Some((*timeout).min(Duration::from_secs(5))));
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config((**tls).clone())
                    .https_or_http()
                    .enable_http1()
                    .wrap_connector(http);
                Some(Client::builder(TokioExecutor::new()).build(https))
            }
            Source::File { .. } => None,
        };
        Loader {
            source,
            last: None,
            etag: None,
            client,
        }
    }

    /// Starts one fetch; the deadline covers all of it.
    pub(super) fn start(&self) -> Fetch {
        match &self.source {
            Source::File { path, timeout } => {
                let (path, timeout) = (path.clone(), *timeout);
                Box::pin(async move {
                    match tokio::time::timeout(timeout, read_file(&path)).await {
                        Ok(r) => r,
                        Err(_) => Err(format!("{}: read timed out", path.display())),
                    }
                })
            }
            Source::Url { url, timeout, .. } => {
                let client = self.client.clone();
                let (url, etag, timeout) = (url.clone(), self.etag.clone(), *timeout);
                Box::pin(async move {
                    let Some(client) = client else {
                        return Err("no HTTP client".into());
                    };
                    match tokio::time::timeout(timeout, fetch_url(client, url, etag)).await {
                        Ok(r) => r,
                        Err(_) => Err("consent URL timed out".into()),
                    }
                })
            }
        }
    }

    /// What a finished fetch means against the last good one.
    pub(super) fn finish(&mut self, fetched: Fetched) -> Loaded {
        let (bytes, etag) = match fetched {
            Ok(Some(f)) => f,
            Ok(None) if self.last.is_some() => return Loaded::Same,
            Ok(None) => return Loaded::Failed("304 Not Modified before any document".into()),
            Err(e) => return Loaded::Failed(e),
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

    /// After an expiry: whatever the source says next is published anew.
    pub(super) fn forget(&mut self) {
        self.last = None;
        self.etag = None;
    }
}

async fn read_file(path: &std::path::Path) -> Fetched {
    match tokio::fs::read(path).await {
        Ok(b) => Ok(Some((Bytes::from(b), None))),
        Err(e) => Err(format!("{}: {}", path.display(), e.kind())),
    }
}

async fn fetch_url(client: HttpClient, url: http::Uri, etag: Option<http::HeaderValue>) -> Fetched {
    let mut req = Request::get(url).header(header::ACCEPT, "application/json");
    if let Some(etag) = etag {
        req = req.header(header::IF_NONE_MATCH, etag);
    }
    let req = req.body(Empty::new()).map_err(|e| e.to_string())?;
    let resp = client
        .request(req)
        .await
        .map_err(|e| format!("consent URL: {e}"))?;
    match resp.status() {
        StatusCode::NOT_MODIFIED => Ok(None),
        StatusCode::OK => {
            let etag = resp.headers().get(header::ETAG).cloned();
            let body = Limited::new(resp.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|_| "consent URL: body too large or broken".to_owned())?
                .to_bytes();
            Ok(Some((body, etag)))
        }
        s => Err(format!("consent URL answered {}", s.as_u16())),
    }
}
