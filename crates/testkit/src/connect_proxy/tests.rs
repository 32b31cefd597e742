use std::time::Duration;

use super::*;
use crate::ca::TestCa;
use crate::client::{self, TunnelRefused};
use crate::upstream::{CaptureUpstream, Options, Tls};

const WAIT: Duration = Duration::from_secs(20);

fn refused_status(err: &std::io::Error) -> Option<u16> {
    Some(err.get_ref()?.downcast_ref::<TunnelRefused>()?.status)
}

async fn post_through(
    proxy: &ConnectProxy,
    target: &str,
    auth: Option<&str>,
    ca: &TestCa,
) -> std::io::Result<client::Reply> {
    let tcp = client::tunnel(proxy.addr(), target, auth).await?;
    let tls = client::tls_connect(tcp, ca.client_config(), "localhost").await?;
    client::post_on(tls, target, "/api/42/envelope/", &[], b"{}\n".to_vec()).await
}

#[tokio::test]
async fn tunnels_tls_to_the_capture_upstream() {
    let ca = TestCa::new();
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let proxy = ConnectProxy::start(ConnectOptions::default());
    let target = upstream.addr().to_string();
    let reply = post_through(&proxy, &target, None, &ca)
        .await
        .expect("tunnel");
    assert_eq!(reply.status, 200);
    assert_eq!(upstream.wait_for(1, WAIT).await[0].project(), Some("42"));
    let connects = proxy.wait_for_connects(1, WAIT).await;
    assert_eq!(
        connects,
        [ConnectRequest {
            target,
            proxy_authorization: None,
            status: 200
        }]
    );
    assert_eq!(proxy.accepted_connections(), 1);
}

#[tokio::test]
async fn required_credentials_are_checked() {
    let ca = TestCa::new();
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let auth = basic_auth("corp", "s3cret");
    assert_eq!(auth, "Basic Y29ycDpzM2NyZXQ=");
    let proxy = ConnectProxy::start(ConnectOptions {
        require_auth: Some(auth.clone()),
        ..ConnectOptions::default()
    });
    assert_eq!(
        proxy.url_with_credentials("corp", "s3cret"),
        format!("http://corp:s3cret@{}", proxy.addr())
    );
    let target = upstream.addr().to_string();
    let err = post_through(&proxy, &target, None, &ca)
        .await
        .expect_err("no credentials");
    assert_eq!(refused_status(&err), Some(407), "{err:?}");
    let wrong = basic_auth("corp", "wrong");
    let err = post_through(&proxy, &target, Some(&wrong), &ca)
        .await
        .expect_err("wrong");
    assert_eq!(refused_status(&err), Some(407), "{err:?}");
    let reply = post_through(&proxy, &target, Some(&auth), &ca)
        .await
        .expect("tunnel");
    assert_eq!(reply.status, 200);
    let statuses: Vec<u16> = proxy.connects().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [407, 407, 200]);
    assert_eq!(
        proxy.connects()[2].proxy_authorization.as_deref(),
        Some(auth.as_str())
    );
    assert_eq!(upstream.requests().len(), 1);
}

#[tokio::test]
async fn targets_off_this_machine_are_refused_without_a_lookup() {
    let proxy = ConnectProxy::start(ConnectOptions::default());
    for target in [
        "o1.ingest.de.sentry.io:443",
        "10.0.0.1:443",
        "[2001:db8::1]:443",
    ] {
        let err = client::tunnel(proxy.addr(), target, None)
            .await
            .expect_err(target);
        assert_eq!(refused_status(&err), Some(403), "{target}: {err:?}");
    }
    assert_eq!(proxy.connect_count(), 3);
}

#[tokio::test]
async fn redirect_sends_any_target_to_the_upstream() {
    let ca = TestCa::new();
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let proxy = ConnectProxy::start(ConnectOptions {
        redirect_to: Some(upstream.addr()),
        ..ConnectOptions::default()
    });
    let reply = post_through(&proxy, "o1.ingest.de.sentry.io:443", None, &ca)
        .await
        .expect("tunnel");
    assert_eq!(reply.status, 200);
    assert_eq!(proxy.connects()[0].target, "o1.ingest.de.sentry.io:443");
    assert_eq!(upstream.wait_for(1, WAIT).await.len(), 1);
}

#[tokio::test]
async fn a_closed_target_port_gets_502() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let proxy = ConnectProxy::start(ConnectOptions::default());
    let err = client::tunnel(proxy.addr(), &closed.to_string(), None)
        .await
        .expect_err("nothing listens");
    assert_eq!(refused_status(&err), Some(502), "{err:?}");
}

#[test]
fn parses_the_request_head() {
    let head =
        "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: x\r\nproxy-authorization:  Basic abc \r\n\r\n";
    let (method, target, auth) = parse_head(head).expect("head");
    assert_eq!(
        (method.as_str(), target.as_str()),
        ("CONNECT", "127.0.0.1:443")
    );
    assert_eq!(auth.as_deref(), Some("Basic abc"));
    assert_eq!(
        loopback_target("localhost:8443", None),
        Ok(([127, 0, 0, 1], 8443).into())
    );
    assert_eq!(
        loopback_target("[::1]:8443", None).map(|a| a.port()),
        Ok(8443)
    );
    assert_eq!(loopback_target("localhost:x", None), Err(400));
}
