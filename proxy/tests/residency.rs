//! The EU residency guard on the REAL binary: a US or default-region upstream refuses to
//! start (exit 64, the flag named), an EU or operator-listed host starts, and the opt-out is
//! reported by `config show`, `/readyz` and the start-up log while envelopes still flow.

mod common;

use common::{envelope_request, event_id, exchange, request, wait_delivered, BinProxy, CaFiles};
use testkit::ca::TestCa;
use testkit::canary;
use testkit::upstream::{CaptureUpstream, Options, Tls};

const KEY: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// Runs the binary with `args` and `env` only (nothing inherited); returns (code, stdout,
/// stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sentry-scrub-proxy"))
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run the binary");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn refusal(host: &str, what: &str) -> String {
    format!(
        "error: {what}: upstream host {host} is not an EU ingest host: diagnostic data must stay \
         in the EU. Use Sentry's EU region (*.ingest.de.sentry.io), add your own EU host with \
         --eu-upstream-hosts, or opt out with --allow-non-eu-upstream\n\
         sentry-scrub-proxy: invalid configuration (1 error(s)); see --help\n"
    )
}

const SERVE: &[&str] = &[
    "--listen",
    "127.0.0.1:0",
    "--admin-listen",
    "127.0.0.1:0",
    "--consent-file",
    "/nonexistent/consent.json",
];

#[test]
fn us_and_default_region_upstreams_refuse_to_start() {
    for host in ["o1.ingest.us.sentry.io", "o1.ingest.sentry.io"] {
        let dsn = format!("https://{KEY}@{host}/42");
        // From the flag.
        let mut args = SERVE.to_vec();
        args.extend_from_slice(&["--upstream-dsn", &dsn]);
        let (code, out, err) = run(&args, &[]);
        assert_eq!(code, Some(64), "{host}");
        assert_eq!(err, refusal(host, "--upstream-dsn #1"));
        assert_eq!(out, "");
        // From the env var, as docker-compose sets it: the same check.
        let (code, _, err) = run(SERVE, &[("SENTRY_PROXY_UPSTREAM_DSN", &dsn)]);
        assert_eq!(code, Some(64), "{host}");
        assert_eq!(err, refusal(host, "--upstream-dsn #1"));
        // And through a project map.
        let map = format!("http://local@proxy:9000/3=https://{KEY}@{host}/43");
        let mut args = SERVE.to_vec();
        args.extend_from_slice(&["--project-map", &map]);
        let (code, _, err) = run(&args, &[]);
        assert_eq!(code, Some(64), "{host}");
        assert_eq!(err, refusal(host, "--project-map #1"));
    }
}

#[test]
fn config_show_names_what_allowed_the_upstream() {
    let show = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["config", "show", "--consent-file", "consent.json"];
        all.extend_from_slice(args);
        let (code, out, err) = run(&all, env);
        assert_eq!(code, Some(0), "{err}");
        out.lines()
            .find_map(|l| l.strip_prefix("eu_residency = "))
            .expect("an eu_residency line")
            .to_owned()
    };
    let eu = format!("https://{KEY}@o4511.ingest.de.sentry.io/42");
    assert_eq!(
        show(&["--upstream-dsn", &eu], &[]),
        "enforced: upstream o4511.ingest.de.sentry.io allowed by *.ingest.de.sentry.io (built in)"
    );
    let own = format!("https://{KEY}@bugsink.example.eu/42");
    assert_eq!(
        show(
            &["--upstream-dsn", &own],
            &[("SENTRY_PROXY_EU_UPSTREAM_HOSTS", "*.example.eu")]
        ),
        "enforced: upstream bugsink.example.eu allowed by *.example.eu (--eu-upstream-hosts)"
    );
    let us = format!("https://{KEY}@o1.ingest.us.sentry.io/42");
    assert_eq!(
        show(&["--upstream-dsn", &us, "--allow-non-eu-upstream"], &[]),
        "NOT ENFORCED (--allow-non-eu-upstream): upstream o1.ingest.us.sentry.io may be outside the EU"
    );
    assert_eq!(
        show(&["--dry-run", "--upstream-dsn", &us], &[]),
        "not applicable (dry run: nothing is sent)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_opt_out_is_reported_by_readyz_and_the_log_and_still_delivers() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "residency-opt-out");
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)));
    let dsn = upstream.dsn(KEY, "42");
    // The harness names loopback as an EU host; the opt-out is what this proxy reports.
    let proxy = BinProxy::start(
        &files.dir,
        "opt-out",
        &[
            "--upstream-dsn",
            &dsn,
            "--upstream-ca",
            &files.ca_pem,
            "--consent-file",
            &files.consent,
            "--unattributed",
            "forward",
            "--log-format",
            "json",
        ],
        &[("SENTRY_PROXY_ALLOW_NON_EU_UPSTREAM", "true")],
    );
    let line = "NOT ENFORCED (--allow-non-eu-upstream): upstream 127.0.0.1 may be outside the EU";
    let ready = exchange(proxy.admin, request("GET", "/readyz", &[], b"").to_vec()).await;
    assert_eq!(ready.status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&ready.text()).unwrap(),
        serde_json::json!({ "status": "ready", "eu_residency": line })
    );
    let warned: Vec<serde_json::Value> = proxy
        .log()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["level"] == "WARN")
        .collect();
    assert_eq!(warned.len(), 1, "{}", proxy.log());
    assert_eq!(
        warned[0]["fields"]["message"],
        "the EU residency guard is off"
    );
    assert_eq!(warned[0]["fields"]["eu_residency"], line);
    // The guard off changes nothing else: the event is scrubbed and delivered.
    let body = canary::event_envelope(&event_id(1), Some("7"), None);
    let resp = proxy.send(envelope_request(KEY, "42", &body)).await;
    assert_eq!(resp.status, 200);
    let got = wait_delivered(&upstream, 1).await;
    canary::assert_no_canary(&got[0].body, "the envelope sent with the guard off");
}
