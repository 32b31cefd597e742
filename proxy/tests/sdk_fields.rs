//! What goes upstream besides the envelope: nothing the SDK's request controls. The real
//! binary, a durable spool and a local HTTPS upstream; canaries are
//! planted in every header and query field an SDK (or whatever sits in front of it) writes,
//! and none may reach the upstream's request line or headers, the spool on disk, or the
//! logs (at debug level). The SDK's client name goes upstream only in the strict
//! `name/version` shape; anything else is replaced by the proxy's own.

mod common;

use common::{event_id, request, wait_delivered, BinProxy, CaFiles};
use testkit::ca::TestCa;
use testkit::canary::{self, assert_no_canary};
use testkit::upstream::{CaptureUpstream, Captured, Options, Tls};

const KEY: &str = "d41d8cd98f00b204e9800998ecf8427e";
const PROJECT: &str = "42";
/// A second key an attacker would smuggle into the upstream's `X-Sentry-Auth`.
const SMUGGLED: &str = "ffffffffffffffffffffffffffffffff";

/// The headers the proxy itself writes on an upstream request; no other may appear.
const OWN_HEADERS: &[&str] = &[
    "host",
    "content-type",
    "content-length",
    "content-encoding",
    "user-agent",
    "x-sentry-auth",
];

/// Every file under `dir`, concatenated.
fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read spool dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(all_bytes(&path));
        } else {
            out.extend(std::fs::read(&path).expect("read spool file"));
        }
    }
    out
}

fn headers_text(c: &Captured) -> String {
    c.headers
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_the_sdk_controls_goes_upstream_besides_the_envelope() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "sdk-fields");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let spool = files.dir.join("spool");
    let dsn = upstream.dsn(KEY, PROJECT);
    let spool_arg = spool.to_str().expect("utf-8 path").to_owned();
    let proxy = BinProxy::start(
        &files.dir,
        "sdk-fields",
        &[
            "--upstream-dsn",
            &dsn,
            "--upstream-ca",
            &files.ca_pem,
            "--consent-file",
            &files.consent,
            "--spool-dir",
            &spool_arg,
            "--log",
            "debug",
        ],
        &[],
    );
    let iban = canary::IBAN.replace(' ', "");
    // A person's e-mail and IBAN as the client name (printable, under 64 characters).
    let header_client = format!("{}/{iban}", canary::EMAIL);
    let auth = format!(
        "Sentry sentry_key={KEY}, sentry_version=7, sentry_client={header_client}, \
         sentry_secret={}, sentry_extra={}",
        canary::PASSWORD,
        canary::GITHUB_TOKEN
    );
    let canary_headers: Vec<(String, String)> = vec![
        ("X-Sentry-Auth".into(), auth),
        (
            "Content-Type".into(),
            "application/x-sentry-envelope".into(),
        ),
        (
            "User-Agent".into(),
            format!("sentry.python/2.75.0 {}", canary::EMAIL_TAGGED),
        ),
        ("X-Forwarded-For".into(), canary::IPV4.into()),
        ("X-Real-IP".into(), canary::IPV4.into()),
        ("Forwarded".into(), format!("for=\"[{}]\"", canary::IPV6)),
        ("Cookie".into(), format!("sessionid={}", canary::JWT)),
        (
            "Referer".into(),
            format!(
                "https://app.example/?q={}",
                canary::PROMPT.replace(' ', "+")
            ),
        ),
        ("X-Company-Name".into(), canary::DOCUMENT.into()),
        ("Sentry-Trace".into(), format!("{}-1", canary::AWS_KEY)),
        (
            "Baggage".into(),
            format!("sentry-user_id={}", canary::STRIPE_KEY),
        ),
        ("Accept-Language".into(), canary::HOME_USER.into()),
    ];
    let body = canary::event_envelope(&event_id(1), Some("7"), Some("42"));
    let hdrs: Vec<(&str, &str)> = canary_headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let target = format!(
        "/api/{PROJECT}/envelope/?utm_source={}&sentry_extra={}",
        canary::MAC,
        canary::PHONE.replace([' ', '+'], "")
    );
    let resp = proxy
        .send(request("POST", &target, &hdrs, &body).to_vec())
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());

    // The query form of auth, with a second key smuggled into the client name.
    let body2 = canary::event_envelope(&event_id(2), Some("7"), Some("42"));
    let target = format!(
        "/api/{PROJECT}/envelope/?sentry_key={KEY}&sentry_version=7\
         &sentry_client=x%2Csentry_key%3D{SMUGGLED}&sentry_timestamp={}",
        canary::NIR.replace(' ', "")
    );
    let resp = proxy
        .send(
            request(
                "POST",
                &target,
                &[("Content-Type", "application/x-sentry-envelope")],
                &body2,
            )
            .to_vec(),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());

    // A real SDK's name is kept: the support engineer sees which SDK sent what.
    let body3 = canary::event_envelope(&event_id(3), Some("7"), Some("42"));
    let auth3 =
        format!("Sentry sentry_key={KEY}, sentry_version=7, sentry_client=sentry.python/2.75.0");
    let resp = proxy
        .send(
            request(
                "POST",
                &format!("/api/{PROJECT}/envelope/"),
                &[
                    ("X-Sentry-Auth", auth3.as_str()),
                    ("Content-Type", "application/x-sentry-envelope"),
                ],
                &body3,
            )
            .to_vec(),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());

    let got = wait_delivered(&upstream, 3).await;
    let own = format!("sentry-scrub-proxy/{}", env!("CARGO_PKG_VERSION"));
    for c in &got {
        let id = c.event_id().expect("event id");
        let text = headers_text(c);
        assert_no_canary(
            text.as_bytes(),
            &format!("upstream request headers of {id}"),
        );
        assert!(!text.contains(SMUGGLED), "{text}");
        for (name, _) in &c.headers {
            assert!(
                OWN_HEADERS.contains(&name.as_str()),
                "{id}: header {name} is not the proxy's own:\n{text}"
            );
        }
        assert_eq!(c.path, format!("/api/{PROJECT}/envelope/"));
        assert_eq!(c.query, None, "{id}");
        assert_eq!(c.header("user-agent"), Some(own.as_str()), "{id}");
        let client = if id == event_id(3) {
            "sentry.python/2.75.0"
        } else {
            own.as_str()
        };
        assert_eq!(
            c.header("x-sentry-auth"),
            Some(
                format!("Sentry sentry_key={KEY}, sentry_version=7, sentry_client={client}")
                    .as_str()
            ),
            "{id}"
        );
        assert_no_canary(&c.body, &format!("upstream body of {id}"));
    }
    let stored = all_bytes(&spool);
    assert!(!stored.is_empty(), "the durable spool logged the envelopes");
    assert_no_canary(&stored, "the spool on disk");
    let stored = String::from_utf8_lossy(&stored);
    assert!(
        !stored.contains(SMUGGLED),
        "the spool holds the smuggled key"
    );
    assert!(
        !stored.contains("x,sentry_key"),
        "the spool holds the raw client"
    );
    let mut proxy = proxy;
    assert_eq!(proxy.terminate(), Some(0));
    let log = proxy.log();
    assert!(log.contains("DEBUG"), "debug logs were on:\n{log}");
    assert_no_canary(log.as_bytes(), "the proxy's log");
    assert!(!log.contains(SMUGGLED), "{log}");
}
