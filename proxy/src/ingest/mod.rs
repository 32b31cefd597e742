//! Ingest, where a request enters: the SDK listener, routes, auth, size caps,
//! decompression and parsing of one SDK request, and the answer the SDK gets.
//!
//! Enters: HTTP requests from SDKs on `--listen`. Leaves: a parsed, authenticated and
//! routed envelope ([`Ingested`]) handed to the pipeline, and the SDK's answer (`200` with
//! the event id, or a [`Reject`] with its status and reason). Nothing unparsed goes
//! further. Ingest knows the pipeline (downstream); nothing downstream knows ingest.
//!
//! | File | What |
//! |---|---|
//! | `mod.rs` | [`Ingest`]; the three steps: [`check_head`], [`read_body`], [`parse_body`] |
//! | `server.rs` | the accept loop, routes, one handler per request, CORS |
//! | `auth.rs` | `X-Sentry-Auth`, `sentry_key`, the envelope `dsn` |
//! | `reject.rs` | every refusal: status, detail, reason label |
//! | `settings.rs` | routes (key and project to upstream), size caps, timeouts |

pub mod auth;
pub mod reject;
pub mod server;
pub mod settings;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bytes::Bytes;
use envelope::decode::{self, ContentEncoding};
use envelope::{Envelope, Item, ItemType};
use http::{header, HeaderMap};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::metrics::Metrics;
pub use crate::pipeline::Ingested;
use crate::pipeline::Pipeline;
use auth::RequestAuth;
pub use reject::Reject;
use settings::{Inbound, Limits, RouteError, Routes};

/// What the SDK listener reads: its settings, the pipeline it hands envelopes to, the
/// counters, and whether it still takes traffic.
#[derive(Debug)]
pub struct Ingest {
    /// Accepted keys and projects, and where each goes.
    pub routes: Routes,
    /// Size caps.
    pub limits: Limits,
    /// Timeouts and connection cap.
    pub inbound: Inbound,
    /// Where accepted envelopes go.
    pub pipeline: Arc<Pipeline>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// False once shutdown began: a request on a kept-alive connection gets `503`.
    pub accepting: AtomicBool,
}

/// Which endpoint the request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /api/{project}/envelope/`.
    Envelope,
    /// `POST /api/{project}/store/`: a legacy JSON event.
    Store,
}

impl Endpoint {
    /// Metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Envelope => "envelope",
            Endpoint::Store => "store",
        }
    }
}

/// Checks what can be checked from the head alone, before reading a byte of body.
pub fn check_head(
    routes: &Routes,
    endpoint: Endpoint,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(RequestAuth, ContentEncoding), Reject> {
    // `Authorization` counts only when it uses the Sentry scheme: a proxy or load balancer
    // may put Basic or Bearer credentials there that are none of our business.
    let auth_header = match headers.get("x-sentry-auth") {
        Some(v) => Some(v.to_str().map_err(|_| Reject::BadAuthHeader)?),
        None => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .filter(|v| {
                v.trim_start()
                    .get(..7)
                    .is_some_and(|p| p.eq_ignore_ascii_case("sentry "))
            }),
    };
    let auth = RequestAuth::from_parts(auth_header, query)?;
    if let Some(key) = auth.key() {
        if !routes.knows_key(key) {
            return Err(Reject::UnknownKey);
        }
    }
    check_content_type(endpoint, headers.get(header::CONTENT_TYPE))?;
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().map_err(|_| Reject::UnsupportedEncoding))
        .transpose()?;
    let encoding = ContentEncoding::from_header(encoding)?;
    Ok((auth, encoding))
}

fn check_content_type(endpoint: Endpoint, ct: Option<&header::HeaderValue>) -> Result<(), Reject> {
    let Some(ct) = ct else { return Ok(()) };
    let ct = ct.to_str().map_err(|_| Reject::UnsupportedContentType)?;
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ok = match mime.as_str() {
        // What SDKs send, plus what curl sends by default and octet-stream, so an operator's
        // first manual test works. Multipart (minidumps, attachments) is refused.
        ""
        | "application/x-sentry-envelope"
        | "text/plain"
        | "application/octet-stream"
        | "application/x-www-form-urlencoded" => true,
        // Legacy store bodies are JSON.
        "application/json" => endpoint == Endpoint::Store,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Reject::UnsupportedContentType)
    }
}

/// Reads the body under the compressed-size cap and the body timeout.
pub async fn read_body(ingest: &Ingest, body: Incoming) -> Result<Bytes, Reject> {
    let limited = Limited::new(body, ingest.limits.max_body);
    let collected = tokio::time::timeout(ingest.inbound.body_read_timeout, limited.collect())
        .await
        .map_err(|_| Reject::BodyTimeout)?;
    match collected {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(Reject::BodyTooLarge),
        Err(_) => Err(Reject::BodyRead),
    }
}

/// Decompresses, parses and authenticates one request body. CPU only, no I/O.
pub fn parse_body(
    ingest: &Ingest,
    endpoint: Endpoint,
    project: &str,
    auth: &RequestAuth,
    encoding: ContentEncoding,
    raw: Bytes,
) -> Result<Ingested, Reject> {
    let limits = &ingest.limits.envelope;
    let body = match encoding {
        ContentEncoding::Identity => {
            if raw.len() > limits.max_envelope_bytes {
                return Err(Reject::EnvelopeTooLarge);
            }
            raw
        }
        enc => decode::decompress(enc, &raw, limits.max_envelope_bytes)?,
    };
    let envelope = match endpoint {
        Endpoint::Envelope => Envelope::parse_with(body, limits)?,
        Endpoint::Store => store_to_envelope(body, limits)?,
    };
    let key = auth.resolve(envelope.dsn(), project)?;
    let upstream = ingest.routes.resolve(&key, project).map_err(|e| match e {
        RouteError::UnknownKey => Reject::UnknownKey,
        RouteError::UnknownProject => Reject::UnknownProject,
    })?;
    Ok(Ingested {
        envelope,
        upstream,
        client: auth.client.clone(),
    })
}

/// A legacy store body is one JSON event: it becomes an envelope with one `event` item (or
/// `transaction`, when the event says so), its payload the very same bytes.
pub fn store_to_envelope(body: Bytes, limits: &envelope::Limits) -> Result<Envelope, Reject> {
    if body.len() > limits.max_event_bytes {
        return Err(Reject::ItemTooLarge);
    }
    // Lenient: a non-string `event_id` or `type` is ignored, as on the envelope endpoint.
    #[derive(serde::Deserialize)]
    struct Head<'a> {
        #[serde(default, borrow)]
        event_id: Option<scrub_values::Lenient<'a>>,
        #[serde(default, rename = "type", borrow)]
        ty: Option<scrub_values::Lenient<'a>>,
    }
    // A struct also deserializes from a JSON array: insist on an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Reject::InvalidStoreJson);
    }
    let head: Head<'_> = serde_json::from_slice(&body).map_err(|_| Reject::InvalidStoreJson)?;
    let mut header = serde_json::Map::new();
    if let Some(id) = head
        .event_id
        .as_ref()
        .and_then(|v| v.as_str())
        .and_then(envelope::normalize_event_id)
    {
        header.insert("event_id".into(), id.into());
    }
    let ty = match head.ty.as_ref().and_then(|v| v.as_str()) {
        Some("transaction") => ItemType::Transaction,
        _ => ItemType::Event,
    };
    let mut env = Envelope::from_header(header);
    env.push(Item::new(ty, body));
    Ok(env)
}

mod scrub_values {
    use std::borrow::Cow;

    /// Any JSON value; only strings are looked at.
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    pub enum Lenient<'a> {
        /// A string.
        Str(#[serde(borrow)] Cow<'a, str>),
        /// Anything else.
        Other(serde::de::IgnoredAny),
    }

    impl Lenient<'_> {
        pub fn as_str(&self) -> Option<&str> {
            match self {
                Lenient::Str(s) => Some(s),
                Lenient::Other(_) => None,
            }
        }
    }
}
