//! The servers the harness runs itself: the upstream sink; the plain forwarder that is the
//! baseline (the same hyper stack as the proxy, passing bytes through untouched); and the
//! rewriter, the floor of any proxy that must read the JSON (decompress, parse and write
//! every item with bare `serde_json`, recompress as the proxy does), with no policy at all.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// What the sink answers.
pub const SINK_OK: u8 = 0;
/// The sink answers 503 (an outage).
pub const SINK_DOWN: u8 = 1;

/// Counters of the sink.
#[derive(Debug, Default)]
pub struct Sink {
    /// Requests answered 200.
    pub received: AtomicU64,
    /// Bytes received.
    pub bytes: AtomicU64,
    /// SINK_OK or SINK_DOWN.
    pub mode: AtomicU8,
}

/// Serves the sink until the process ends.
pub async fn sink(listener: TcpListener, sink: Arc<Sink>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let sink = sink.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let sink = sink.clone();
                async move {
                    let body = req
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let mut resp = Response::new(Full::new(Bytes::from_static(b"{}")));
                    if sink.mode.load(Ordering::Relaxed) == SINK_DOWN {
                        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                    } else {
                        sink.received.fetch_add(1, Ordering::Relaxed);
                        sink.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                    }
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// What the forwarder does to a body on its way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Bytes through untouched.
    Plain,
    /// Decompress, parse the envelope, round-trip every item payload through
    /// `serde_json::Value`, write the envelope and gzip it at level 3 (the proxy's default).
    Rewrite,
}

/// The least a JSON-rewriting proxy does to one body: the bytes it would send, and their
/// encoding. `None` when the body is not a readable envelope (answered 400).
fn rewrite(encoding: Option<&str>, body: &[u8]) -> Option<Vec<u8>> {
    use envelope::decode::{compress, decompress, ContentEncoding};
    let encoding = ContentEncoding::from_header(encoding).ok()?;
    let raw = decompress(encoding, body, 20 << 20).ok()?;
    let mut env = envelope::Envelope::parse(raw).ok()?;
    for item in env.items_mut() {
        // Non-JSON payloads (none in the mix) pass as they are.
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(item.payload()) {
            item.set_payload(Bytes::from(serde_json::to_vec(&value).ok()?));
        }
    }
    compress(ContentEncoding::Gzip, &env.to_bytes(), 3).ok()
}

/// A forwarder: every request is passed to `upstream` (same method, path and headers) and
/// its answer returned; in `Mode::Plain` byte for byte, in `Mode::Rewrite` after
/// [`rewrite`]. What the proxy costs is measured against both.
pub async fn forwarder(listen: SocketAddr, upstream: SocketAddr, mode: Mode) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build(http);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let client = client.clone();
                async move {
                    let (mut parts, body) = req.into_parts();
                    let mut body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    if mode == Mode::Rewrite {
                        let encoding = parts
                            .headers
                            .get(http::header::CONTENT_ENCODING)
                            .and_then(|v| v.to_str().ok());
                        let Some(out) = rewrite(encoding, &body) else {
                            let mut r = Response::new(Full::new(Bytes::new()));
                            *r.status_mut() = StatusCode::BAD_REQUEST;
                            return Ok(r);
                        };
                        body = Bytes::from(out);
                        parts.headers.insert(
                            http::header::CONTENT_ENCODING,
                            http::HeaderValue::from_static("gzip"),
                        );
                        parts.headers.remove(http::header::CONTENT_LENGTH);
                    }
                    let path = parts
                        .uri
                        .path_and_query()
                        .map(|p| p.as_str())
                        .unwrap_or("/");
                    parts.uri =
                        Uri::try_from(format!("http://{upstream}{path}")).unwrap_or_default();
                    parts.headers.remove(http::header::HOST);
                    let resp = match client
                        .request(Request::from_parts(parts, Full::new(body)))
                        .await
                    {
                        Ok(r) => {
                            let (p, b) = r.into_parts();
                            let b = b.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            Response::from_parts(p, Full::new(b))
                        }
                        Err(_) => {
                            let mut r = Response::new(Full::new(Bytes::new()));
                            *r.status_mut() = StatusCode::BAD_GATEWAY;
                            r
                        }
                    };
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
