//! Secrets stay where they are: `config show` masks the credentials
//! in `--consent-url` and `--egress-proxy`, `--help` never prints the environment values of
//! secret flags, a placeholder admin token stops the proxy at start (exit 64, naming the
//! flag), and the spool is created readable by the proxy's user only (files 0600, folders
//! 0700). The real binary each time.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::{envelope_request, event_id, BinProxy, CaFiles, WAIT_TIMEOUT};
use testkit::ca::TestCa;
use testkit::canary;
use testkit::upstream::{CaptureUpstream, Mode, Options, Tls};

const KEY: &str = "d41d8cd98f00b204e9800998ecf8427e";
const PROJECT: &str = "42";
const UPSTREAM: &str = "https://0123456789abcdef0123456789abcdef@o1.ingest.de.sentry.io/42";
const GOOD_TOKEN: &str = "9c1f3e8a27b64d05be1f44c0a9d3e712";

/// The binary with `args` and `env`, in an environment cleared of `SENTRY_PROXY_*` and proxy
/// variables.
// Reads the environment only to clear the proxy's own variables from the child's.
#[allow(clippy::disallowed_methods)]
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sentry-scrub-proxy"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        let upper = k.to_ascii_uppercase();
        if upper.starts_with("SENTRY_PROXY_") || upper.ends_with("_PROXY") {
            cmd.env_remove(&k);
        }
    }
    cmd.envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("run the proxy binary");
    // These runs end by themselves; one that serves instead (a refusal that regressed) is
    // stopped so that the test fails rather than hangs.
    let deadline = std::time::Instant::now() + WAIT_TIMEOUT;
    while child.try_wait().expect("try_wait").is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    child.wait_with_output().expect("the proxy's output")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn config_show_masks_credentials_in_urls() {
    let consent_url = format!(
        "https://platform:{}@app.example:8443/internal/consent.json?token={}",
        canary::PASSWORD,
        canary::GITHUB_TOKEN
    );
    let egress = format!("http://squid:{}@proxy.corp:3128", canary::STRIPE_KEY);
    let out = run(
        &[
            "config",
            "show",
            "--upstream-dsn",
            UPSTREAM,
            "--consent-url",
            &consent_url,
            "--egress-proxy",
            &egress,
            "--admin-token",
            GOOD_TOKEN,
        ],
        &[],
    );
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    for secret in [
        canary::PASSWORD,
        canary::GITHUB_TOKEN,
        canary::STRIPE_KEY,
        GOOD_TOKEN,
        "0123456789abcdef0123456789abcdef",
    ] {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
    }
    assert!(
        shown.contains(
            "consent = url https://***@app.example:8443/internal/consent.json?token=*** every 30s"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("egress_proxy = http://proxy.corp:3128/ (with credentials)"),
        "{shown}"
    );
    assert!(shown.contains("admin_token = set"), "{shown}");
}

#[test]
fn help_never_prints_the_values_of_secret_variables() {
    let consent_url = format!("https://u:{}@app.example/c.json", canary::PASSWORD);
    let egress = format!("http://u:{}@proxy.corp:3128", canary::STRIPE_KEY);
    let dsn = format!(
        "https://{}@o1.ingest.de.sentry.io/42",
        "feedfacefeedfacefeedfacefeedface"
    );
    let map = format!(
        "http://{}@p:9000/3={dsn}",
        "deadbeefdeadbeefdeadbeefdeadbeef"
    );
    let out = run(
        &["--help"],
        &[
            ("SENTRY_PROXY_CONSENT_URL", consent_url.as_str()),
            ("SENTRY_PROXY_EGRESS_PROXY", egress.as_str()),
            ("SENTRY_PROXY_UPSTREAM_DSN", dsn.as_str()),
            ("SENTRY_PROXY_PROJECT_MAP", map.as_str()),
            ("SENTRY_PROXY_ADMIN_TOKEN", GOOD_TOKEN),
        ],
    );
    let help = text(&out);
    assert_eq!(out.status.code(), Some(0), "{help}");
    assert!(help.contains("SENTRY_PROXY_CONSENT_URL"), "{help}");
    for secret in [
        canary::PASSWORD,
        canary::STRIPE_KEY,
        "feedface",
        "deadbeef",
        GOOD_TOKEN,
    ] {
        assert!(!help.contains(secret), "{secret} in --help:\n{help}");
    }
}

#[test]
fn a_placeholder_admin_token_is_refused_at_start() {
    for (token, why) in [
        // deploy/k8s/secret.yaml and deploy/.env.example ship this one.
        (
            "change-me-to-a-long-random-token",
            "this is a placeholder, not a secret",
        ),
        (
            "CHANGEME_CHANGEME_CHANGEME",
            "this is a placeholder, not a secret",
        ),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "use at least 8 different characters",
        ),
        ("short", "use at least 16 characters"),
    ] {
        let out = run(&[], &[("SENTRY_PROXY_ADMIN_TOKEN", token)]);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(64), "{token}: {said}");
        assert!(
            said.contains(&format!(
                "error: --admin-token: {why} (generate one, e.g. openssl rand -hex 32)"
            )),
            "{token}: {said}"
        );
        assert!(!said.contains(token), "the token is echoed: {said}");
    }
}

/// Modes of `dir` and everything under it (relative path, mode bits).
fn modes(dir: &Path) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mode = std::fs::metadata(&d).expect("stat").permissions().mode() & 0o777;
        out.push((d.display().to_string(), mode));
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
                out.push((path.display().to_string(), mode));
            }
        }
    }
    out
}

/// Both spool modes: every folder the proxy creates is 0700, every file 0600.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_files_are_private() {
    let ca = TestCa::new();
    let files = CaFiles::new(&ca, "secrets-spool");
    // The upstream never answers: envelopes stay on disk.
    let upstream = CaptureUpstream::start(Options::new(Tls::Trusted(&ca)).mode(Mode::Stall));
    let dsn = upstream.dsn(KEY, PROJECT);
    for mode in ["durable", "overflow"] {
        let spool = files.dir.join(mode).join("spool");
        let spool_arg = spool.to_str().expect("utf-8 path").to_owned();
        let mut proxy = BinProxy::start(
            &files.dir,
            mode,
            &[
                "--upstream-dsn",
                &dsn,
                "--upstream-ca",
                &files.ca_pem,
                "--consent-file",
                &files.consent,
                "--spool-dir",
                &spool_arg,
                "--spool-mode",
                mode,
                "--senders",
                "1",
                "--queue-max-envelopes",
                "1",
                "--shutdown-timeout",
                "1s",
            ],
            &[],
        );
        // One in the sender's hands, one queued, the third on disk in either mode.
        for n in 0..3 {
            let body = canary::event_envelope(&event_id(n), Some("7"), None);
            let resp = proxy.send(envelope_request(KEY, PROJECT, &body)).await;
            assert_eq!(resp.status, 200, "{mode}: {}", resp.text());
        }
        assert_eq!(proxy.terminate(), Some(0), "{mode}: {}", proxy.log());
        let found = modes(&files.dir.join(mode));
        let spooled = found.iter().filter(|(p, _)| !Path::new(p).is_dir()).count();
        assert!(spooled >= 1, "{mode}: nothing spooled: {found:?}");
        for (path, m) in &found {
            let want = if Path::new(path).is_dir() {
                0o700
            } else {
                0o600
            };
            assert_eq!(*m, want, "{mode}: {path} is {m:o}");
        }
    }
}
