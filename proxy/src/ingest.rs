//! Ingest: route, auth, size caps, decompression and parsing of one SDK request.
//! The output is a parsed [`Envelope`] and its upstream; nothing unparsed goes further.

use std::sync::Arc;

use bytes::Bytes;
use envelope::decode::{self, ContentEncoding};
use envelope::{Envelope, Item, ItemType};
use http::{header, HeaderMap};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::auth::RequestAuth;
use crate::config::{Config, RouteError};
use crate::dsn::Dsn;
use crate::reject::Reject;

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

/// A request that passed ingest.
#[derive(Debug)]
pub struct Ingested {
    /// The parsed envelope.
    pub envelope: Envelope,
    /// Where it goes (`None` in a dry run without upstream).
    pub upstream: Option<Arc<Dsn>>,
    /// The SDK's client name, forwarded upstream.
    pub client: Option<String>,
}

/// Checks what can be checked from the head alone, before reading a byte of body.
pub fn check_head(
    config: &Config,
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
        if !config.routes.knows_key(key) {
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
pub async fn read_body(config: &Config, body: Incoming) -> Result<Bytes, Reject> {
    let limited = Limited::new(body, config.limits.max_body);
    let collected = tokio::time::timeout(config.inbound.body_read_timeout, limited.collect())
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
    config: &Config,
    endpoint: Endpoint,
    project: &str,
    auth: &RequestAuth,
    encoding: ContentEncoding,
    raw: Bytes,
) -> Result<Ingested, Reject> {
    let limits = &config.limits.envelope;
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
    let upstream = config.routes.resolve(&key, project).map_err(|e| match e {
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
        .and_then(normalize_event_id)
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

/// Event ids are 32 hex digits, with or without dashes; anything else is not echoed back.
pub fn normalize_event_id(id: &str) -> Option<String> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}
