//! A small HTTP/1.1 client for tests: plain or rustls, direct or through a CONNECT tunnel.
//!
//! It runs on the caller's runtime. Use it to send envelopes to the proxy under test, and
//! to check the capture upstream and the CONNECT proxy in this crate's own tests.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// A response, read whole.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The response body.
    pub body: Bytes,
}

/// Answered by [`tunnel`] when the proxy refuses the CONNECT.
#[derive(Debug)]
pub struct TunnelRefused {
    /// The proxy's status code.
    pub status: u16,
}

// === impl Reply ===

impl Reply {
    /// The first value of header `name`, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl std::fmt::Display for TunnelRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CONNECT refused with status {}", self.status)
    }
}

impl std::error::Error for TunnelRefused {}

/// POSTs `body` to `path` at `addr`, over TLS when `tls` gives a config and a server name.
pub async fn post(
    addr: SocketAddr,
    tls: Option<(Arc<ClientConfig>, &str)>,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> io::Result<Reply> {
    let tcp = TcpStream::connect(addr).await?;
    let host = addr.to_string();
    match tls {
        None => post_on(tcp, &host, path, headers, body).await,
        Some((config, name)) => {
            let stream = tls_connect(tcp, config, name).await?;
            post_on(stream, &host, path, headers, body).await
        }
    }
}

/// Runs a TLS handshake over `io`, verifying `server_name` as `config` says.
pub async fn tls_connect<IO>(
    io: IO,
    config: Arc<ClientConfig>,
    server_name: &str,
) -> io::Result<TlsStream<IO>>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let name = ServerName::try_from(server_name.to_owned())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    TlsConnector::from(config).connect(name, io).await
}

/// Sends one HTTP/1.1 POST over an established stream and reads the whole response.
pub async fn post_on<IO>(
    io: IO,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> io::Result<Reply>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(io::Error::other)?;
    tokio::spawn(conn);
    let mut request = Request::post(path).header(http::header::HOST, host);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(io::Error::other)?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(io::Error::other)?.to_bytes();
    Ok(Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    })
}

/// Opens a tunnel to `target` (`host:port`) through the HTTP proxy at `proxy`, sending
/// `Proxy-Authorization: {auth}` if given. Fails with a [`TunnelRefused`] inside the
/// `io::Error` when the proxy answers anything but 2xx.
pub async fn tunnel(proxy: SocketAddr, target: &str, auth: Option<&str>) -> io::Result<TcpStream> {
    let mut tcp = TcpStream::connect(proxy).await?;
    let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(auth) = auth {
        head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).await?;
    // Read byte by byte so that nothing after the proxy's answer is consumed here.
    let mut answer = Vec::new();
    while !answer.ends_with(b"\r\n\r\n") {
        if answer.len() > 8192 {
            return Err(io::Error::other("CONNECT answer too long"));
        }
        answer.push(tcp.read_u8().await?);
    }
    let status = std::str::from_utf8(&answer)
        .ok()
        .and_then(|text| text.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| io::Error::other("malformed CONNECT answer"))?;
    if (200..300).contains(&status) {
        Ok(tcp)
    } else {
        Err(io::Error::other(TunnelRefused { status }))
    }
}
