//! The egress connector: TCP to the one upstream host, directly or through an HTTP CONNECT
//! proxy. Any other destination is refused before a socket is opened.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

/// Boxed error of a connection attempt.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A destination other than the upstream host was asked for.
#[derive(Debug, thiserror::Error)]
#[error("refused: only the upstream host may be contacted")]
pub struct ForeignHost;

/// Connects to the upstream only.
#[derive(Clone)]
pub struct EgressConnector {
    http: HttpConnector,
    tunnel: Option<Tunnel<HttpConnector>>,
    host: Arc<str>,
    port: u16,
    /// Connection attempts, for metrics and the "no connection while off" guarantee.
    pub attempts: Arc<AtomicU64>,
}

impl std::fmt::Debug for EgressConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EgressConnector")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tunnel", &self.tunnel.is_some())
            .finish()
    }
}

impl EgressConnector {
    /// A connector for `host:port`, through `proxy` (an `http://host:port` URI) if given.
    pub fn new(
        host: &str,
        port: u16,
        proxy: Option<Uri>,
        connect_timeout: Duration,
    ) -> EgressConnector {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(connect_timeout));
        http.set_nodelay(true);
        let tunnel = proxy.map(|p| Tunnel::new(p, http.clone()));
        EgressConnector {
            http,
            tunnel,
            host: host.into(),
            port,
            attempts: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl EgressConnector {
    /// Adds `Proxy-Authorization` to the CONNECT request.
    pub fn with_proxy_auth(mut self, auth: http::HeaderValue) -> EgressConnector {
        self.tunnel = self.tunnel.map(|t| t.with_auth(auth));
        self
    }
}

impl Service<Uri> for EgressConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Both inner connectors are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let default_port = if dst.scheme_str() == Some("http") {
            80
        } else {
            443
        };
        let host = dst
            .host()
            .unwrap_or("")
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = dst.port_u16().unwrap_or(default_port);
        if host != &*self.host || port != self.port {
            return Box::pin(async { Err(Box::new(ForeignHost) as BoxError) });
        }
        self.attempts.fetch_add(1, Ordering::Relaxed);
        match &mut self.tunnel {
            Some(t) => {
                let fut = t.call(dst);
                Box::pin(async move { fut.await.map_err(|e| Box::new(e) as BoxError) })
            }
            None => {
                let fut = self.http.call(dst);
                Box::pin(async move { fut.await.map_err(|e| Box::new(e) as BoxError) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_upstream_host_and_port_are_ever_dialled() {
        // Nothing listens on the upstream port: a permitted dial fails with a connect error,
        // a refused one with ForeignHost before any socket is opened.
        let mut c = EgressConnector::new("127.0.0.1", 1, None, Duration::from_secs(1));
        for uri in [
            "https://127.0.0.2:1/api/1/envelope/",
            "https://127.0.0.1:443/",
            "https://localhost:1/",
            "https://evil.example/",
        ] {
            let err = c.call(uri.parse().unwrap()).await.unwrap_err();
            assert!(err.is::<ForeignHost>(), "{uri}: {err}");
        }
        assert_eq!(
            c.attempts.load(Ordering::Relaxed),
            0,
            "no socket for refused hosts"
        );
        let err = c
            .call("https://127.0.0.1:1/".parse().unwrap())
            .await
            .unwrap_err();
        assert!(!err.is::<ForeignHost>());
        assert_eq!(c.attempts.load(Ordering::Relaxed), 1);
    }
}
