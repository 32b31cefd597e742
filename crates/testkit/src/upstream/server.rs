//! The accept loop, the TLS layer and the hyper service behind `CaptureUpstream`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio_rustls::TlsAcceptor;

use super::captured::{event_id, project_of};
use super::{decode, Captured, Mode};
use crate::ca::ServerCert;

/// What the server shares with its handle. The std mutexes are never held across an await.
#[derive(Debug)]
pub(super) struct State {
    pub(super) mode: Mutex<Mode>,
    captured: Mutex<Vec<Captured>>,
    pub(super) accepted: AtomicUsize,
    pub(super) failed_handshakes: AtomicUsize,
    /// Bumped on every change above, so waiters wake without polling on a timer.
    pub(super) changes: watch::Sender<u64>,
}

// === impl State ===

impl State {
    pub(super) fn new(mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            mode: Mutex::new(mode),
            captured: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
            failed_handshakes: AtomicUsize::new(0),
            changes: watch::Sender::new(0),
        })
    }

    pub(super) fn captured(&self) -> Vec<Captured> {
        self.captured.lock().expect("testkit: capture lock").clone()
    }

    pub(super) fn at_least(&self, n: usize) -> Option<Vec<Captured>> {
        let captured = self.captured.lock().expect("testkit: capture lock");
        (captured.len() >= n).then(|| captured.clone())
    }

    pub(super) fn clear(&self) {
        self.captured.lock().expect("testkit: capture lock").clear();
        self.bump();
    }

    fn record(&self, captured: Captured) {
        self.captured
            .lock()
            .expect("testkit: capture lock")
            .push(captured);
        self.bump();
    }

    /// Counts an accepted connection and returns its index.
    fn accept(&self) -> usize {
        let index = self.accepted.fetch_add(1, Ordering::SeqCst);
        self.bump();
        index
    }

    fn bump(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The answer for the next envelope (sent with `encoding`) under the current mode;
    /// `FailTimes` counts down here.
    fn next_answer(&self, encoding: Option<&str>) -> Answer {
        let mut mode = self.mode.lock().expect("testkit: mode lock");
        match &mut *mode {
            Mode::Ok => Answer::Ok,
            Mode::Fail(status) => Answer::Status(*status),
            Mode::RateLimit {
                retry_after,
                header,
            } => Answer::RateLimit(*retry_after, header.clone()),
            Mode::Stall => Answer::Stall,
            Mode::Drop => Answer::Drop,
            Mode::FailTimes(0, _) => Answer::Ok,
            Mode::FailTimes(n, status) => {
                *n -= 1;
                Answer::Status(*status)
            }
            Mode::RefuseEncoding(refused) if encoding == Some(refused.as_str()) => {
                Answer::Status(415)
            }
            Mode::RefuseEncoding(_) => Answer::Ok,
            Mode::RefuseEncodingWith(refused, status) if encoding == Some(refused.as_str()) => {
                Answer::Status(*status)
            }
            Mode::RefuseEncodingWith(..) => Answer::Ok,
        }
    }
}

enum Answer {
    Ok,
    Status(u16),
    RateLimit(u64, String),
    Stall,
    Drop,
}

/// The server TLS configuration: ring, TLS 1.2 and 1.3, HTTP/1.1 only.
pub(super) fn tls_config(cert: &ServerCert) -> TlsAcceptor {
    let mut config = rustls::ServerConfig::builder_with_provider(crate::crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("testkit: ring supports the default TLS versions")
        .with_no_client_auth()
        .with_single_cert(cert.cert_chain(), cert.private_key())
        .expect("testkit: server certificate and key");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsAcceptor::from(Arc::new(config))
}

/// Accepts connections until the runtime stops, each on its own task.
pub(super) async fn serve(listener: TcpListener, tls: Option<TlsAcceptor>, state: Arc<State>) {
    while let Ok((tcp, _)) = listener.accept().await {
        let index = state.accept();
        let state = state.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_http(TokioIo::new(tcp), index, state).await,
                Some(tls) => match tls.accept(tcp).await {
                    Ok(stream) => serve_http(TokioIo::new(stream), index, state).await,
                    Err(_) => {
                        state.failed_handshakes.fetch_add(1, Ordering::SeqCst);
                        state.bump();
                    }
                },
            }
        });
    }
}

/// Counts connections and pipes each to `target` (the `openssl s_server` of `Tls11Only`).
pub(super) async fn relay(listener: TcpListener, target: SocketAddr, state: Arc<State>) {
    while let Ok((mut tcp, _)) = listener.accept().await {
        state.accept();
        tokio::spawn(async move {
            if let Ok(mut upstream) = TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut tcp, &mut upstream).await;
            }
        });
    }
}

async fn serve_http<I>(io: TokioIo<I>, index: usize, state: Arc<State>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // `Mode::Drop` cannot close the socket from inside the service, so the service asks the
    // connection task to drop the connection instead.
    let hang_up = Arc::new(Notify::new());
    let service = {
        let hang_up = hang_up.clone();
        service_fn(move |req| handle(req, index, state.clone(), hang_up.clone()))
    };
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    tokio::select! {
        _ = conn => {}
        _ = hang_up.notified() => {}
    }
}

async fn handle(
    req: Request<Incoming>,
    connection: usize,
    state: Arc<State>,
    hang_up: Arc<Notify>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await else {
        return Ok(json(
            StatusCode::BAD_REQUEST,
            r#"{"detail":"unreadable body"}"#,
        ));
    };
    let raw_body = body.to_bytes();
    let encoding = parts
        .headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let (decoded, decode_error) = match decode(encoding, &raw_body) {
        Ok(decoded) => (decoded, None),
        Err(e) => (raw_body.to_vec(), Some(e)),
    };
    let path = parts.uri.path().to_owned();
    let is_envelope = project_of(&path).is_some();
    let answer = match (is_envelope, parts.method == Method::POST) {
        (true, true) => state.next_answer(encoding),
        (true, false) => Answer::Status(405),
        (false, _) => Answer::Status(404),
    };
    let drop_connection = matches!(answer, Answer::Drop);
    let response = match answer {
        Answer::Ok => {
            let body = match event_id(&decoded) {
                Some(id) => serde_json::json!({ "id": id }).to_string(),
                None => "{}".to_owned(),
            };
            Some(json(StatusCode::OK, body))
        }
        Answer::Status(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = serde_json::json!({ "detail": format!("testkit: {status}") }).to_string();
            Some(json(status, body))
        }
        Answer::RateLimit(retry_after, header) => {
            let mut response = json(
                StatusCode::TOO_MANY_REQUESTS,
                r#"{"detail":"testkit: rate limited"}"#,
            );
            let headers = response.headers_mut();
            headers.insert("retry-after", header_value(&retry_after.to_string()));
            headers.insert("x-sentry-rate-limits", header_value(&header));
            Some(response)
        }
        Answer::Stall | Answer::Drop => None,
    };
    state.record(Captured {
        method: parts.method,
        path,
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        raw_body,
        body: decoded,
        decode_error,
        connection,
        status: response.as_ref().map(|r| r.status().as_u16()),
    });
    match response {
        Some(response) => Ok(response),
        None => {
            // Stall and Drop never answer; Drop also has the connection task close the socket.
            if drop_connection {
                hang_up.notify_one();
            }
            std::future::pending().await
        }
    }
}

fn json(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn header_value(value: &str) -> http::HeaderValue {
    http::HeaderValue::from_str(value).expect("testkit: a header value without control characters")
}
