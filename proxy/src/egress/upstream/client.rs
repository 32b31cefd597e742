//! The upstream client: HTTPS (rustls, TLS 1.2+) over a keep-alive pool to the one upstream
//! host, with the body compressed and `X-Sentry-Auth` rebuilt for the upstream key.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use envelope::decode::{self, ContentEncoding};
use http::{header, HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::answer::Outcome;
use super::connector::EgressConnector;
use crate::dsn::Dsn;

/// How the outbound body is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compression {
    /// gzip (what every Sentry ingest accepts).
    Gzip,
    /// zstd: a third of gzip's CPU for the same size. Sentry's ingest (Relay) decodes it;
    /// an upstream that answers `415` (or, before it ever took zstd, `400`) to a zstd body
    /// where gzip passes gets gzip from then on.
    Zstd,
    /// No compression.
    None,
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Host contacted (the only one).
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Plain HTTP allowed (tests only).
    pub insecure: bool,
    /// TLS configuration.
    pub tls: Arc<rustls::ClientConfig>,
    /// CONNECT proxy, if any.
    pub proxy: Option<http::Uri>,
    /// `Proxy-Authorization` for it.
    pub proxy_auth: Option<http::HeaderValue>,
    /// Body compression.
    pub compression: Compression,
    /// Compression level.
    pub level: u32,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Whole request timeout.
    pub request_timeout: Duration,
    /// Idle connections kept per host.
    pub pool_size: usize,
}

/// What the upstream answered.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: StatusCode,
    /// Response headers (rate limits live there).
    pub headers: HeaderMap,
}

/// Why a request got no answer. Carries a classification, never request content.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// TLS handshake or certificate verification failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
    /// Connection refused, reset, DNS, proxy refusal …
    #[error("network: {0}")]
    Network(String),
}

impl SendError {
    /// What becomes of the envelope: every transport failure is retried (with backoff,
    /// until `--retry-max-age`). A refused or reset connection, a timeout, a proxy that
    /// fails, even a TLS failure (a certificate being rotated, a middlebox restarted) may
    /// pass, and nothing was delivered, so nothing is sent twice by trying again.
    pub fn outcome(&self) -> Outcome {
        match self {
            SendError::Tls(_) | SendError::Timeout | SendError::Network(_) => Outcome::Retry,
        }
    }

    /// Metric label.
    pub fn label(&self) -> &'static str {
        match self {
            SendError::Tls(_) => "tls",
            SendError::Timeout => "timeout",
            SendError::Network(_) => "network",
        }
    }
}

/// The upstream client.
#[derive(Debug, Clone)]
pub struct Upstream {
    client: Client<HttpsConnector<EgressConnector>, Full<Bytes>>,
    config: UpstreamConfig,
    attempts: Arc<std::sync::atomic::AtomicU64>,
    /// Set once the upstream refused a zstd body that it took as gzip.
    zstd_refused: Arc<std::sync::atomic::AtomicBool>,
    /// Set once the upstream took a zstd body: from then on a `400` is about the envelope,
    /// not the coding, and is not tried again as gzip.
    zstd_accepted: Arc<std::sync::atomic::AtomicBool>,
}

const USER_AGENT: &str = concat!("sentry-scrub-proxy/", env!("CARGO_PKG_VERSION"));

impl Upstream {
    /// Builds the client. Nothing connects until the first request.
    pub fn new(config: UpstreamConfig) -> Upstream {
        let mut conn = EgressConnector::new(
            &config.host,
            config.port,
            config.proxy.clone(),
            config.connect_timeout,
        );
        if let Some(auth) = &config.proxy_auth {
            conn = conn.with_proxy_auth(auth.clone());
        }
        let attempts = conn.attempts.clone();
        let builder =
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config((*config.tls).clone());
        let https = if config.insecure {
            builder.https_or_http().enable_http1().wrap_connector(conn)
        } else {
            builder.https_only().enable_http1().wrap_connector(conn)
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(config.pool_size)
            .build(https);
        Upstream {
            client,
            config,
            attempts,
            zstd_refused: Arc::default(),
            zstd_accepted: Arc::default(),
        }
    }

    /// TCP connection attempts so far.
    pub fn connection_attempts(&self) -> u64 {
        self.attempts.load(Ordering::Relaxed)
    }

    /// Compresses `body` for the wire; returns the bytes and the `Content-Encoding`.
    pub fn encode(&self, body: &[u8]) -> (Bytes, Option<&'static str>) {
        let enc = match self.config.compression {
            Compression::Zstd if self.zstd_refused.load(Ordering::Relaxed) => ContentEncoding::Gzip,
            Compression::Gzip => ContentEncoding::Gzip,
            Compression::Zstd => ContentEncoding::Zstd,
            Compression::None => return (Bytes::copy_from_slice(body), None),
        };
        self.encode_as(enc, body)
    }

    fn encode_as(&self, enc: ContentEncoding, body: &[u8]) -> (Bytes, Option<&'static str>) {
        // Levels are per codec (gzip 1-9, zstd 1-19); the configured one fits the configured
        // codec, so the gzip fallback of a zstd configuration uses gzip's own default.
        let level = match (self.config.compression, enc) {
            (Compression::Zstd, ContentEncoding::Gzip) => 3,
            _ => self.config.level,
        };
        match decode::compress(enc, body, level) {
            Ok(b) => (Bytes::from(b), Some(enc.as_str())),
            Err(_) => (Bytes::copy_from_slice(body), None),
        }
    }

    /// Sends one envelope body (uncompressed) to `dsn`'s project.
    ///
    /// A zstd body answered `415`, or `400` while no zstd body has been accepted yet, is sent
    /// again at once as gzip. If gzip passes, zstd is not used again (one warning); if gzip
    /// gets the same refusal, that answer is the envelope's: the caller counts it and the
    /// envelope is not sent a third time.
    pub async fn send(
        &self,
        dsn: &Dsn,
        client_name: Option<&str>,
        body: &[u8],
    ) -> Result<Answer, SendError> {
        let (payload, encoding) = self.encode(body);
        let answer = self.exchange(dsn, client_name, payload, encoding).await?;
        if encoding != Some(ContentEncoding::Zstd.as_str()) {
            return Ok(answer);
        }
        if answer.status.is_success() {
            self.zstd_accepted.store(true, Ordering::Relaxed);
            return Ok(answer);
        }
        // Relay's decompression layer answers 415 to a coding it lacks (its 400 means corrupt
        // data), but other ingests answer 400 to a coding they lack (Bugsink does). Until the
        // upstream has taken zstd once, a 400 may mean either; gzip tells them apart.
        let suspect = answer.status == StatusCode::UNSUPPORTED_MEDIA_TYPE
            || (answer.status == StatusCode::BAD_REQUEST
                && !self.zstd_accepted.load(Ordering::Relaxed));
        if !suspect {
            return Ok(answer);
        }
        let (payload, encoding) = self.encode_as(ContentEncoding::Gzip, body);
        let retried = self.exchange(dsn, client_name, payload, encoding).await?;
        if retried.status.is_success() && !self.zstd_refused.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                status = answer.status.as_u16(),
                "the upstream refused a zstd body and took it as gzip: sending gzip from now on \
                 (set --upstream-compression gzip to skip the first attempt)"
            );
        }
        Ok(retried)
    }

    async fn exchange(
        &self,
        dsn: &Dsn,
        client_name: Option<&str>,
        payload: Bytes,
        encoding: Option<&'static str>,
    ) -> Result<Answer, SendError> {
        // Checked again here, not only at ingest: a job replayed from a spool written by an
        // older version carries the name it was given then.
        let client = client_name
            .and_then(crate::dsn::client_name)
            .unwrap_or(USER_AGENT);
        let auth = format!(
            "Sentry sentry_key={}, sentry_version=7, sentry_client={client}",
            dsn.public_key,
        );
        let mut req = Request::post(dsn.envelope_url())
            .header(header::CONTENT_TYPE, "application/x-sentry-envelope")
            .header(header::USER_AGENT, USER_AGENT)
            .header("x-sentry-auth", auth);
        if let Some(enc) = encoding {
            req = req.header(header::CONTENT_ENCODING, enc);
        }
        let req = req
            .body(Full::new(payload))
            .map_err(|_| SendError::Network("could not build the request".into()))?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(classify)?;
            let (parts, body) = resp.into_parts();
            // Read (and discard) a bounded body so the connection can be reused.
            let _ = Limited::new(body, 64 * 1024).collect().await;
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
            })
        };
        tokio::time::timeout(self.config.request_timeout, exchange)
            .await
            .map_err(|_| SendError::Timeout)?
    }
}

/// Walks the error chain to tell TLS failures from the rest.
fn classify(e: hyper_util::client::legacy::Error) -> SendError {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut last = String::new();
    while let Some(err) = src {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return SendError::Tls(tls.to_string());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return SendError::Tls(inner.to_string());
            }
            if io.kind() == std::io::ErrorKind::TimedOut {
                return SendError::Timeout;
            }
        }
        last = err.to_string();
        // `io::Error::source` skips the error it wraps: step into it instead (hyper-rustls
        // wraps tokio-rustls' io::Error, which wraps the rustls::Error, in another io::Error).
        src = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    SendError::Network(last)
}
