//! Every way a request is refused, with its status and a stable reason that doubles as the
//! metric label. One place maps failures to HTTP, as Relay's `BadStoreRequest` does.

use bytes::Bytes;
use http::{header, Response, StatusCode};
use http_body_util::Full;

/// A refused request. Details are static text or positions: never request content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// No route for this path.
    NotFound,
    /// A route that exists, but not with this method.
    MethodNotAllowed,
    /// No `sentry_key` anywhere: header, query or envelope `dsn`.
    MissingAuth,
    /// An `X-Sentry-Auth` header that does not parse, or a malformed key.
    BadAuthHeader,
    /// The header, query and envelope `dsn` name different keys or projects.
    AuthConflict,
    /// The envelope header's `dsn` is not a DSN.
    BadEnvelopeDsn,
    /// A key this proxy does not accept.
    UnknownKey,
    /// A known key used with a project id it is not mapped to.
    UnknownProject,
    /// A `Content-Encoding` we cannot decode.
    UnsupportedEncoding,
    /// A `Content-Type` that is not an envelope.
    UnsupportedContentType,
    /// The compressed body exceeds `--max-body-size`.
    BodyTooLarge,
    /// The decompressed envelope exceeds `--max-envelope-size`.
    EnvelopeTooLarge,
    /// An event, transaction or span item exceeds `--max-event-size`.
    ItemTooLarge,
    /// More items than an envelope may hold (1,000).
    TooManyItems,
    /// The compressed stream is corrupt.
    CorruptBody,
    /// The body did not arrive within `--body-read-timeout`.
    BodyTimeout,
    /// The client went away or sent a broken body.
    BodyRead,
    /// The envelope does not parse; the reason is the codec's.
    Malformed {
        /// The codec's stable reason.
        reason: &'static str,
        /// Positions and sizes only.
        detail: String,
    },
    /// A legacy `store` body that is not a JSON object.
    InvalidStoreJson,
    /// The proxy is not ready to accept (e.g. shutting down).
    Unavailable,
    /// The envelope could not be handed to its output (a dry-run write failed): the SDK keeps it.
    OutputFailed,
    /// The outbound queue is full (and there is no spool, or it failed): the SDK backs off.
    QueueFull,
    /// The durable spool is at `--spool-max-bytes`: the envelope could not be made durable,
    /// so it is not acknowledged; the SDK keeps it if it can.
    SpoolFull,
    /// The durable spool's write failed (disk full, `EIO`, a file size limit …): not
    /// acknowledged either, and the operator has a disk to look at.
    SpoolIo,
    /// Every item of the envelope is in a category the upstream rate-limits now.
    RateLimited {
        /// `X-Sentry-Rate-Limits` value for the SDK.
        limits: String,
        /// Seconds until the longest limit ends.
        retry_after: u64,
    },
}

/// Seconds an SDK is asked to wait when the queue is full.
pub const QUEUE_FULL_RETRY_AFTER: u64 = 10;

impl Reject {
    /// The HTTP status Sentry would answer.
    pub fn status(&self) -> StatusCode {
        use Reject::*;
        match self {
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            MissingAuth | BadAuthHeader | AuthConflict | UnknownKey | UnknownProject => {
                StatusCode::FORBIDDEN
            }
            UnsupportedEncoding | UnsupportedContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyTooLarge | EnvelopeTooLarge | ItemTooLarge | TooManyItems => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            BadEnvelopeDsn | CorruptBody | BodyRead | Malformed { .. } | InvalidStoreJson => {
                StatusCode::BAD_REQUEST
            }
            Unavailable | OutputFailed | SpoolFull | SpoolIo => StatusCode::SERVICE_UNAVAILABLE,
            QueueFull | RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// Stable snake_case reason: the `reason` label of `scrubproxy_requests_rejected_total`.
    pub fn reason(&self) -> &'static str {
        use Reject::*;
        match self {
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            MissingAuth => "missing_auth",
            BadAuthHeader => "bad_auth",
            AuthConflict => "auth_conflict",
            BadEnvelopeDsn => "bad_envelope_dsn",
            UnknownKey => "unknown_key",
            UnknownProject => "unknown_project",
            UnsupportedEncoding => "unsupported_encoding",
            UnsupportedContentType => "unsupported_content_type",
            BodyTooLarge => "body_too_large",
            EnvelopeTooLarge => "envelope_too_large",
            ItemTooLarge => "item_too_large",
            TooManyItems => "too_many_items",
            CorruptBody => "corrupt_body",
            BodyTimeout => "body_timeout",
            BodyRead => "body_read_error",
            Malformed { reason, .. } => reason,
            InvalidStoreJson => "invalid_store_json",
            Unavailable => "unavailable",
            OutputFailed => "output_failed",
            QueueFull => "queue_full",
            SpoolFull => "spool_full",
            SpoolIo => "spool_io",
            RateLimited { .. } => "rate_limited",
        }
    }

    /// Refusals whose cause is logged once per burst where it happens (the spool's), so
    /// that a failing disk does not log one warning per request.
    pub fn logged_per_burst(&self) -> bool {
        matches!(self, Reject::SpoolFull | Reject::SpoolIo)
    }

    /// Human-readable detail for the `{"detail": …}` body.
    pub fn detail(&self) -> String {
        use Reject::*;
        match self {
            NotFound => "not found".into(),
            MethodNotAllowed => "method not allowed".into(),
            MissingAuth => "missing authentication: no sentry_key in X-Sentry-Auth, query string or envelope dsn".into(),
            BadAuthHeader => "bad authentication: malformed X-Sentry-Auth or sentry_key".into(),
            AuthConflict => "bad authentication: X-Sentry-Auth, sentry_key and envelope dsn disagree".into(),
            BadEnvelopeDsn => "invalid envelope header: dsn is not a DSN".into(),
            UnknownKey => "invalid authentication: unknown public key".into(),
            UnknownProject => "invalid authentication: project id does not match the key".into(),
            UnsupportedEncoding => "unsupported content encoding (use gzip, deflate, br, zstd or identity)".into(),
            UnsupportedContentType => "unsupported content type (use application/x-sentry-envelope)".into(),
            BodyTooLarge => "request body too large".into(),
            EnvelopeTooLarge => "envelope too large after decompression".into(),
            ItemTooLarge => "envelope item too large".into(),
            TooManyItems => "too many items in one envelope".into(),
            CorruptBody => "corrupt compressed body".into(),
            BodyTimeout => "request body not received in time".into(),
            BodyRead => "failed to read request body".into(),
            Malformed { detail, .. } => format!("invalid envelope: {detail}"),
            InvalidStoreJson => "invalid event: the body is not a JSON object".into(),
            Unavailable => "the proxy is shutting down".into(),
            OutputFailed => "the envelope could not be written; retry later".into(),
            QueueFull => "the proxy's outbound queue is full; retry later".into(),
            SpoolFull => "the proxy's disk spool is full; retry later".into(),
            SpoolIo => "the proxy's disk spool cannot be written; retry later".into(),
            RateLimited { .. } => "rate limited by the upstream".into(),
        }
    }

    /// The response sent to the SDK.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let body = serde_json::json!({ "detail": self.detail() }).to_string();
        let mut resp = crate::respond::json(self.status(), body);
        let h = resp.headers_mut();
        let limits = match self {
            Reject::SpoolFull | Reject::SpoolIo => {
                h.insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from(QUEUE_FULL_RETRY_AFTER),
                );
                None
            }
            Reject::QueueFull => Some((
                format!("{QUEUE_FULL_RETRY_AFTER}::organization:queue_full"),
                QUEUE_FULL_RETRY_AFTER,
            )),
            Reject::RateLimited {
                limits,
                retry_after,
            } => Some((limits, retry_after)),
            _ => None,
        };
        if let Some((limits, retry_after)) = limits {
            if let Ok(v) = header::HeaderValue::from_str(&limits) {
                h.insert("x-sentry-rate-limits", v);
            }
            h.insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
        }
        resp
    }
}

impl From<crate::pipeline::Refused> for Reject {
    fn from(r: crate::pipeline::Refused) -> Reject {
        match r {
            crate::pipeline::Refused::QueueFull => Reject::QueueFull,
            crate::pipeline::Refused::OutputFailed => Reject::OutputFailed,
            crate::pipeline::Refused::SpoolFull => Reject::SpoolFull,
            crate::pipeline::Refused::SpoolIo => Reject::SpoolIo,
        }
    }
}

impl From<envelope::EnvelopeError> for Reject {
    fn from(e: envelope::EnvelopeError) -> Self {
        use envelope::EnvelopeError as E;
        match e {
            E::EnvelopeTooLarge { .. } => Reject::EnvelopeTooLarge,
            E::ItemTooLarge { .. } => Reject::ItemTooLarge,
            E::TooManyItems { .. } => Reject::TooManyItems,
            other => Reject::Malformed {
                reason: other.reason(),
                detail: other.to_string(),
            },
        }
    }
}

impl From<envelope::decode::DecodeError> for Reject {
    fn from(e: envelope::decode::DecodeError) -> Self {
        use envelope::decode::DecodeError as E;
        match e {
            E::UnsupportedEncoding => Reject::UnsupportedEncoding,
            E::TooLarge { .. } => Reject::EnvelopeTooLarge,
            _ => Reject::CorruptBody,
        }
    }
}
