//! `sentry-types` against what the proxy hand-wrote, in one run (issue 16, part 3).
//!
//! - `dsn/*`: a SaaS upstream DSN and the DSN an SDK writes into its envelope header, parsed
//!   by the hand-written parser the proxy had until then (`hand_written`, kept below as the
//!   baseline), by `sentry_types::Dsn` alone (`sentry_types`) and by the proxy's `Dsn` now
//!   (`proxy`: `sentry_types::Dsn` plus the proxy's stricter checks);
//! - `auth/*`: `X-Sentry-Auth` of sentry-python 2.x, of a legacy client with a secret, and a
//!   browser SDK's query string, by the old `RequestAuth::from_parts` (`hand_written`), by
//!   `sentry_types::Auth::from_str` / `from_querystring` alone and by the proxy's now;
//! - `request/parse_scrub_write`: what one request costs anyway (codec and scrubber on the
//!   `search_error` fixture), the yardstick for the two above;
//! - `event/<fixture>/*`: one real event payload into `serde_json::Value` (the floor), into
//!   `sentry_types::protocol::v7::Event` (parse, and parse + write back), and through the
//!   scrubber (`scrub_envelope` on the parsed envelope).
//!
//! Run: `cargo bench -p sentry-scrub-proxy --bench sentry_types -- --warm-up-time 1 --measurement-time 3`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::path::Path;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use envelope::Envelope;
use proxy::dsn::Dsn;
use proxy::ingest::auth::RequestAuth;
use scrub::{scrub_envelope, Decision, Policy, PolicyConfig, Upstream};
use sentry_types::protocol::v7;

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn dsns() -> [(&'static str, String); 2] {
    [
        (
            "upstream",
            format!("https://{KEY}@o4507123456.ingest.de.sentry.io/4507123456789"),
        ),
        ("envelope", format!("http://{KEY}@sentry-proxy:9000/42")),
    ]
}

fn auths() -> [(&'static str, Option<String>, Option<String>); 3] {
    [
        (
            "python",
            Some(format!(
                "Sentry sentry_key={KEY}, sentry_version=7, sentry_client=sentry.python/2.75.0"
            )),
            None,
        ),
        (
            "legacy_secret",
            Some(format!(
                "Sentry sentry_timestamp=1329096377.0, sentry_client=raven-python/6.10.0, \
                 sentry_version=6, sentry_key={KEY}, sentry_secret=fedcba9876543210"
            )),
            None,
        ),
        (
            "browser_query",
            None,
            Some(format!(
                "sentry_version=7&sentry_key={KEY}&sentry_client=sentry.javascript.browser%2F9.1.0"
            )),
        ),
    ]
}

fn bench_dsn(c: &mut Criterion) {
    let mut g = c.benchmark_group("dsn");
    g.throughput(Throughput::Elements(1));
    for (label, dsn) in dsns() {
        assert_eq!(
            hand_written::parse_dsn(&dsn).map(|d| d.public_key),
            Some(KEY.to_owned())
        );
        assert_eq!(dsn.parse::<Dsn>().map(|d| d.public_key), Ok(KEY.to_owned()));
        g.bench_function(format!("{label}/hand_written"), |b| {
            b.iter(|| hand_written::parse_dsn(black_box(&dsn)))
        });
        g.bench_function(format!("{label}/sentry_types"), |b| {
            b.iter(|| black_box(&dsn).parse::<sentry_types::Dsn>())
        });
        g.bench_function(format!("{label}/proxy"), |b| {
            b.iter(|| black_box(&dsn).parse::<Dsn>())
        });
    }
    g.finish();
}

fn bench_auth(c: &mut Criterion) {
    let mut g = c.benchmark_group("auth");
    g.throughput(Throughput::Elements(1));
    for (label, header, query) in auths() {
        let (h, q) = (header.as_deref(), query.as_deref());
        let old = hand_written::from_parts(h, q).expect("hand-written");
        let new = RequestAuth::from_parts(h, q).expect("proxy");
        assert_eq!(
            (old.0.or(old.1), old.2),
            (new.key().map(str::to_owned), new.client)
        );
        g.bench_function(format!("{label}/hand_written"), |b| {
            b.iter(|| hand_written::from_parts(black_box(h), black_box(q)))
        });
        g.bench_function(format!("{label}/sentry_types"), |b| {
            b.iter(|| match (black_box(h), black_box(q)) {
                (Some(h), _) => h.parse::<sentry_types::Auth>(),
                (None, Some(q)) => sentry_types::Auth::from_querystring(q.as_bytes()),
                (None, None) => unreachable!(),
            })
        });
        g.bench_function(format!("{label}/proxy"), |b| {
            b.iter(|| RequestAuth::from_parts(black_box(h), black_box(q)))
        });
    }
    g.finish();
}

fn fixture(name: &str) -> Bytes {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/scrub/tests/fixtures")
        .join(name);
    Bytes::from(std::fs::read(path).expect("fixture"))
}

fn forward(_: &envelope::ItemType, _: Option<scrub::Attribution<'_>>) -> Decision {
    Decision::Forward { ids_allowed: false }
}

fn bench_request(c: &mut Criterion) {
    let policy = Policy::new(PolicyConfig::default()).expect("policy");
    let body = fixture("search-event_error-piifalse.envelope");
    let mut g = c.benchmark_group("request");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_scrub_write", |b| {
        b.iter(|| {
            let e = Envelope::parse(black_box(body.clone())).expect("envelope");
            let out = scrub_envelope(&e, &policy, Upstream::default(), forward);
            black_box(out.envelope.to_bytes())
        })
    });
    g.finish();
}

fn bench_event(c: &mut Criterion) {
    let policy = Policy::new(PolicyConfig::default()).expect("policy");
    for (label, file) in [
        ("search_error", "search-event_error-piifalse.envelope"),
        (
            "error_deep_stack",
            "folder_tree-event_error-piifalse.envelope",
        ),
    ] {
        let env = Envelope::parse(fixture(file)).expect("envelope");
        let payload = env.items()[0].payload().to_vec();
        // The protocol types must read these real bodies, or the comparison means nothing.
        let event: v7::Event<'_> = serde_json::from_slice(&payload).expect("a v7 event");
        assert!(!event.exception.values.is_empty());
        let mut g = c.benchmark_group(format!("event/{label}"));
        g.throughput(Throughput::Bytes(payload.len() as u64));
        g.bench_function("serde_json_value", |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&payload)))
        });
        g.bench_function("v7_event", |b| {
            b.iter(|| serde_json::from_slice::<v7::Event<'_>>(black_box(&payload)))
        });
        g.bench_function("v7_event_write", |b| {
            b.iter(|| {
                let e: v7::Event<'_> = serde_json::from_slice(black_box(&payload)).expect("v7");
                serde_json::to_vec(&e).expect("write")
            })
        });
        g.bench_function("scrub_envelope", |b| {
            b.iter(|| scrub_envelope(black_box(&env), &policy, Upstream::default(), forward))
        });
        g.finish();
    }
}

/// The hand-written parsers `proxy/src/dsn.rs` and `proxy/src/ingest/auth.rs` had before
/// they moved onto `sentry-types` (commit f399791), kept as the baseline. Errors are `None`:
/// only the accepted path is measured.
mod hand_written {
    // Built whole, as the old parser built it; only the time is measured.
    #[allow(dead_code)]
    pub struct Dsn {
        pub public_key: String,
        pub host: String,
        pub port: Option<u16>,
        pub path: String,
        pub project_id: String,
    }

    pub fn parse_dsn(s: &str) -> Option<Dsn> {
        let s = s.trim();
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))?;
        if rest.contains(['?', '#']) {
            return None;
        }
        let (userinfo, rest) = rest.split_once('@')?;
        let public_key = userinfo.split(':').next().unwrap_or_default();
        if public_key.is_empty() || !public_key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let i = rest.find('/')?;
        let (authority, path) = (&rest[..i], &rest[i..]);
        let (host, port) = match authority.strip_prefix('[') {
            Some(r) => {
                let (h, after) = r.split_once(']')?;
                (h, after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            },
        };
        if host.is_empty() {
            return None;
        }
        let port = match port {
            Some(p) => Some(p.parse::<u16>().ok()?),
            None => None,
        };
        let path = path.trim_end_matches('/');
        let (prefix, project_id) = path.rsplit_once('/')?;
        if project_id.is_empty() || !project_id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Dsn {
            public_key: public_key.to_owned(),
            host: host.to_owned(),
            port,
            path: format!("{prefix}/"),
            project_id: project_id.to_owned(),
        })
    }

    /// `(header key, query key, client)`.
    pub type Auth = (Option<String>, Option<String>, Option<String>);

    pub fn from_parts(auth_header: Option<&str>, query: Option<&str>) -> Option<Auth> {
        let (mut header_key, mut query_key, mut client) = (None, None, None);
        if let Some(h) = auth_header {
            let h = h.trim();
            let rest = match h.get(..7) {
                Some(p) if p.eq_ignore_ascii_case("sentry ") => &h[7..],
                _ => return None,
            };
            for pair in rest.split(',') {
                let Some((k, v)) = pair.trim().split_once('=') else {
                    continue;
                };
                match k.trim() {
                    "sentry_key" => header_key = Some(clean_key(v)?),
                    "sentry_client" => client = Some(clean_client(v)),
                    _ => {}
                }
            }
            header_key.as_ref()?;
        }
        if let Some(q) = query {
            for pair in q.split('&') {
                let Some((k, v)) = pair.split_once('=') else {
                    continue;
                };
                match k {
                    "sentry_key" => query_key = Some(clean_key(v)?),
                    "sentry_client" if client.is_none() => {
                        client = Some(clean_client(&percent_decode(v)))
                    }
                    _ => {}
                }
            }
        }
        if let (Some(h), Some(q)) = (&header_key, &query_key) {
            if h != q {
                return None;
            }
        }
        Some((header_key, query_key, client))
    }

    fn clean_key(v: &str) -> Option<String> {
        let v = v.trim();
        if v.is_empty() || v.len() > 64 || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        Some(v.to_owned())
    }

    fn clean_client(v: &str) -> String {
        v.trim()
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(64)
            .collect()
    }

    fn percent_decode(v: &str) -> String {
        let b = v.as_bytes();
        let hex = |i: usize| b.get(i).and_then(|&c| (c as char).to_digit(16));
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match (b[i], hex(i + 1), hex(i + 2)) {
                (b'%', Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                (b'+', _, _) => out.push(b' '),
                (c, _, _) => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

criterion_group!(benches, bench_dsn, bench_auth, bench_request, bench_event);
criterion_main!(benches);
