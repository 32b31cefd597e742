//! Admin, beside the path: the operator's listener, on its own address. `/healthz`
//! (alive), `/readyz` (taking traffic, consent valid, room in the queue, a sender
//! working; the reasons when not), `/metrics`
//! (Prometheus text); behind a bearer token, `/consent/refresh` and `/audit/recent`.
//!
//! Enters: the operator's and orchestrator's requests, and the running proxy's state
//! through [`Status`] (implemented by the composition root). Leaves: answers only. The
//! counters themselves live in the leaf [`crate::metrics`], which every stage writes to and
//! which depends on nothing.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::consent_source::Refresh;
use crate::respond::json;

/// What the admin endpoints read from the running proxy.
pub trait Status: Send + Sync + 'static {
    /// `/readyz`: why an orchestrator should not send traffic here now (stable reason
    /// labels); empty when it may.
    fn not_ready(&self) -> Vec<&'static str>;
    /// `/readyz` details: a safeguard the operator turned off (the EU residency guard),
    /// shown whatever the status so that a probe or a reviewer sees it.
    fn ready_warning(&self) -> Option<String>;
    /// `/metrics`: the Prometheus text, gauges updated first.
    fn render_metrics(&self) -> String;
    /// `/audit/recent`: the last envelopes sent, as JSON (`[]` without an upstream).
    fn audit_json(&self) -> String;
    /// `/consent/refresh`: asks the consent source to reload (`None` without a source).
    fn consent_refresh(&self) -> Option<&tokio::sync::mpsc::Sender<Refresh>>;
}

/// The admin listener's settings.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// Bearer token of the endpoints that act or show content (`None`: they answer 404).
    pub token: Option<String>,
    /// Time to receive request headers (also the longest a connection may sit idle before
    /// its first request).
    pub header_read_timeout: std::time::Duration,
    /// Most concurrent admin connections; more wait in the kernel's backlog. Without a cap, a
    /// flood of idle connections on this port used every file descriptor, and the SDK port's
    /// `accept` and the consent file's reads failed.
    pub max_connections: usize,
}

/// Serves the admin endpoints until `shutdown` resolves.
pub async fn serve<S: Status>(
    listener: TcpListener,
    settings: AdminSettings,
    state: Arc<S>,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(settings.max_connections.max(1)));
    let settings = Arc::new(settings);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(64 * 1024);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let state = state.clone();
        let settings = settings.clone();
        let svc = service_fn(move |req| {
            let state = state.clone();
            let settings = settings.clone();
            async move { Ok::<_, Infallible>(handle(req, &settings, &*state).await) }
        });
        let conn = http.serve_connection(TokioIo::new(stream), svc);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "admin connection ended with an error");
            }
            drop(permit);
        });
    }
}

/// Reloads consent now; answers once the new document is in force.
async fn refresh(state: &impl Status) -> Response<Full<Bytes>> {
    let Some(tx) = state.consent_refresh() else {
        return json(
            StatusCode::CONFLICT,
            r#"{"detail":"no consent source configured"}"#.into(),
        );
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    if tx.send(reply).await.is_err() {
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"detail":"shutting down"}"#.into(),
        );
    }
    match tokio::time::timeout(std::time::Duration::from_secs(15), answer).await {
        Ok(Ok(Ok(version))) => json(
            StatusCode::OK,
            format!(r#"{{"status":"reloaded","version":{version}}}"#),
        ),
        Ok(Ok(Err(e))) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "detail": format!("reload failed, last good document kept: {e}") })
                .to_string(),
        ),
        _ => json(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"detail":"reload timed out"}"#.into(),
        ),
    }
}

/// Checks `Authorization: Bearer <--admin-token>`; returns the refusal, if any: 401 when
/// missing or wrong, 404 when the proxy has no token (the endpoint is off).
pub fn authorize(
    req: &Request<Incoming>,
    settings: &AdminSettings,
) -> Option<Response<Full<Bytes>>> {
    let Some(token) = &settings.token else {
        return Some(json(
            StatusCode::NOT_FOUND,
            r#"{"detail":"disabled: start the proxy with --admin-token"}"#.into(),
        ));
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme name is case-insensitive (RFC 9110).
        .and_then(|v| {
            v.get(..7)
                .filter(|p| p.eq_ignore_ascii_case("bearer "))
                .map(|_| &v[7..])
        })
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), token.as_bytes()) {
        None
    } else {
        let mut resp = json(
            StatusCode::UNAUTHORIZED,
            r#"{"detail":"missing or wrong bearer token"}"#.into(),
        );
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        Some(resp)
    }
}

/// Compares without an early exit, so timing does not reveal a prefix of the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

async fn handle(
    req: Request<Incoming>,
    settings: &AdminSettings,
    state: &impl Status,
) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::POST, "/consent/refresh") => {
            if let Some(resp) = authorize(&req, settings) {
                return resp;
            }
            refresh(state).await
        }
        (&Method::GET, "/healthz") => json(StatusCode::OK, r#"{"status":"ok"}"#.into()),
        (&Method::GET, "/readyz") => {
            let reasons = state.not_ready();
            let (code, status) = if reasons.is_empty() {
                (StatusCode::OK, "ready")
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "not ready")
            };
            // Written by hand: `json!` would sort the keys, and `status` reads first.
            let mut body = format!(r#"{{"status":"{status}""#);
            if !reasons.is_empty() {
                body.push_str(&format!(
                    r#","reasons":{}"#,
                    serde_json::Value::from(reasons)
                ));
            }
            if let Some(w) = state.ready_warning() {
                body.push_str(&format!(
                    r#","eu_residency":{}"#,
                    serde_json::Value::from(w)
                ));
            }
            body.push('}');
            json(code, body)
        }
        (&Method::GET, "/audit/recent") => {
            if let Some(resp) = authorize(&req, settings) {
                return resp;
            }
            json(StatusCode::OK, state.audit_json())
        }
        (&Method::GET, "/metrics") => {
            let mut resp = Response::new(Full::new(Bytes::from(state.render_metrics())));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            resp
        }
        _ => json(StatusCode::NOT_FOUND, r#"{"detail":"not found"}"#.into()),
    }
}
