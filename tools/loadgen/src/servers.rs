//! The two servers the harness runs itself: the upstream sink, and the plain forwarder that
//! is the baseline (the same hyper stack as the proxy, passing bytes through untouched).

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

/// A plain forwarder: every request is passed to `upstream` byte for byte (same method, path,
/// headers and body) and its answer returned. What the proxy costs is measured against this.
pub async fn forwarder(listen: SocketAddr, upstream: SocketAddr) -> anyhow::Result<()> {
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
                    let body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
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
