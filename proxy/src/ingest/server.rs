//! The SDK-facing HTTP server: routes, one handler per request (check the head, read the
//! body, parse it, hand it to the pipeline, answer), and the accept loop with a connection
//! cap, header timeout and graceful drain.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::{check_head, parse_body, read_body, Endpoint, Ingest, Reject};
use crate::metrics;
use crate::pipeline;
use crate::respond::json;

/// Serves SDK requests on `listener` until `shutdown` resolves, then drains open connections
/// for at most `drain` before returning.
pub async fn serve(
    listener: TcpListener,
    state: Arc<Ingest>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let permits = Arc::new(Semaphore::new(state.inbound.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.inbound.header_read_timeout)
        .max_buf_size(64 * 1024);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = &mut shutdown => break,
        };
        let (stream, _peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let metrics = state.metrics.clone();
        let state = state.clone();
        let svc = service_fn(move |req| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(handle(req, &state).await) }
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), svc));
        tokio::spawn(async move {
            // Errors here are client-side: resets, header timeouts, malformed HTTP.
            if let Err(e) = conn.await {
                let kind = if e.is_timeout() {
                    "header_timeout"
                } else if e.is_parse_too_large() {
                    "too_large"
                } else if e.is_parse() {
                    "parse"
                } else if e.is_incomplete_message() {
                    "incomplete"
                } else {
                    "other"
                };
                metrics.inc(&metrics::CONNECTION_ERRORS, &[kind]);
                tracing::debug!(error = %e, kind, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain) => {
            tracing::warn!("open connections did not finish within the drain time");
        }
    }
}

/// One request, start to finish. Never panics on input; every refusal is counted.
pub async fn handle(req: Request<Incoming>, state: &Ingest) -> Response<Full<Bytes>> {
    let mut resp = handle_inner(req, state).await;
    cors(&mut resp);
    resp
}

/// Browser SDKs post across origins: every answer allows it and exposes the rate-limit
/// headers, so the SDK in a page backs off like a server SDK does. No credentials are
/// involved (the key is public), so `*` is safe.
fn cors(resp: &mut Response<Full<Bytes>>) {
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        header::HeaderValue::from_static("x-sentry-rate-limits, retry-after"),
    );
}

/// The CORS preflight of a browser SDK.
fn preflight() -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        header::HeaderValue::from_static("POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        header::HeaderValue::from_static(
            "content-type, content-encoding, x-sentry-auth, authorization, sentry-trace, baggage",
        ),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        header::HeaderValue::from_static("3600"),
    );
    resp
}

async fn handle_inner(req: Request<Incoming>, state: &Ingest) -> Response<Full<Bytes>> {
    if req.method() == Method::OPTIONS && route(&Method::POST, req.uri().path()).is_ok() {
        return preflight();
    }
    let (endpoint, project) = match route(req.method(), req.uri().path()) {
        Ok(r) => r,
        Err(reject) => return refuse(state, reject),
    };
    state.metrics.inc(&metrics::REQUESTS, &[endpoint.as_str()]);
    // A keep-alive connection may send one more request after shutdown began.
    if !state.accepting.load(std::sync::atomic::Ordering::Relaxed) {
        return refuse(state, Reject::Unavailable);
    }
    match accept(req, state, endpoint, &project).await {
        Ok(resp) => resp,
        Err(reject) => refuse(state, reject),
    }
}

async fn accept(
    req: Request<Incoming>,
    state: &Ingest,
    endpoint: Endpoint,
    project: &str,
) -> Result<Response<Full<Bytes>>, Reject> {
    let (parts, body) = req.into_parts();
    let (auth, encoding) = check_head(&state.routes, endpoint, &parts.headers, parts.uri.query())?;
    let raw = read_body(state, body).await?;
    // A large body (a bomb up to the cap, a 100 MiB envelope) must not stall the other
    // connections of this worker while it is decompressed and parsed.
    let ingested = crate::offload::offload(raw.len() > 32 * 1024, || {
        parse_body(state, endpoint, project, &auth, encoding, raw)
    })?;
    let id = ingested
        .envelope
        .event_id()
        .and_then(envelope::normalize_event_id);
    let outcome = pipeline::process(&state.pipeline, ingested).await?;
    // Upstream rate limits in force go back to the SDK so that it stops sending them.
    let limits = outcome.rate_limits;
    if let (true, Some((limits, retry_after))) = (outcome.all_rate_limited, limits.clone()) {
        return Err(Reject::RateLimited {
            limits,
            retry_after,
        });
    }
    state.metrics.inc(&metrics::ENVELOPES_ACCEPTED, &[]);
    let body = match id {
        Some(id) => format!("{{\"id\":\"{id}\"}}"),
        None => "{}".to_owned(),
    };
    let mut resp = json(StatusCode::OK, body);
    if let Some(v) = limits.and_then(|(l, _)| header::HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert("x-sentry-rate-limits", v);
    }
    Ok(resp)
}

fn refuse(state: &Ingest, reject: Reject) -> Response<Full<Bytes>> {
    state.metrics.inc(&metrics::REJECTED, &[reject.reason()]);
    // The spool's refusals come in bursts that egress logs once per burst, with the cause.
    if reject.status().is_server_error() && !reject.logged_per_burst() {
        tracing::warn!(
            reason = reject.reason(),
            status = reject.status().as_u16(),
            "request refused"
        );
    } else {
        tracing::debug!(
            reason = reject.reason(),
            status = reject.status().as_u16(),
            "request refused"
        );
    }
    reject.into_response()
}

/// `/api/{project}/envelope/` and `/api/{project}/store/`, trailing slash optional.
fn route(method: &Method, path: &str) -> Result<(Endpoint, String), Reject> {
    let rest = path.strip_prefix("/api/").ok_or(Reject::NotFound)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (project, endpoint) = rest.split_once('/').ok_or(Reject::NotFound)?;
    if project.is_empty() || project.len() > 20 || !project.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Reject::NotFound);
    }
    let endpoint = match endpoint {
        "envelope" => Endpoint::Envelope,
        "store" => Endpoint::Store,
        _ => return Err(Reject::NotFound),
    };
    if method != Method::POST {
        return Err(Reject::MethodNotAllowed);
    }
    Ok((endpoint, project.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let post = Method::POST;
        assert_eq!(
            route(&post, "/api/42/envelope/"),
            Ok((Endpoint::Envelope, "42".into()))
        );
        assert_eq!(
            route(&post, "/api/42/envelope"),
            Ok((Endpoint::Envelope, "42".into()))
        );
        assert_eq!(
            route(&post, "/api/7/store/"),
            Ok((Endpoint::Store, "7".into()))
        );
        assert_eq!(route(&post, "/api/x/envelope/"), Err(Reject::NotFound));
        assert_eq!(route(&post, "/api/42/minidump/"), Err(Reject::NotFound));
        assert_eq!(route(&post, "/"), Err(Reject::NotFound));
        assert_eq!(
            route(&Method::GET, "/api/42/envelope/"),
            Err(Reject::MethodNotAllowed)
        );
    }
}
