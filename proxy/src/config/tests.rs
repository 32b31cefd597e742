use clap::Parser;

use super::cli::Cli;
use super::*;

fn serve(args: &[&str]) -> ServeArgs {
    let mut v = vec!["sentry-scrub-proxy"];
    v.extend_from_slice(args);
    Cli::try_parse_from(v).unwrap().serve
}

#[test]
fn sizes_and_durations() {
    assert_eq!(parse_size("20MiB"), Some(20 << 20));
    assert_eq!(parse_size("1MB"), Some(1_000_000));
    assert_eq!(parse_size("512 KiB"), Some(512 << 10));
    assert_eq!(parse_size("1048576"), Some(1 << 20));
    assert_eq!(parse_size("0"), None);
    assert_eq!(parse_size("12XB"), None);
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
    assert_eq!(parse_duration("0s"), None);
    assert_eq!(parse_duration("soon"), None);
}

#[test]
fn defaults_are_a_dry_run_accepting_anything() {
    let c = Config::try_from(serve(&[])).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:9000");
    assert_eq!(c.admin_listen.to_string(), "127.0.0.1:9001");
    assert!(matches!(c.routes, Routes::AcceptAny));
    assert!(matches!(c.output, Output::Stdout));
    assert_eq!(c.limits.max_body, 20 << 20);
    assert_eq!(c.limits.envelope.max_envelope_bytes, 100 << 20);
    assert_eq!(c.limits.envelope.max_event_bytes, 1 << 20);
}

#[test]
fn every_error_is_reported_at_once() {
    let e = Config::try_from(serve(&[
        "--listen",
        "nowhere",
        "--max-body-size",
        "lots",
        "--upstream-dsn",
        "ftp://x@h/1",
        "--project-map",
        "no-equals-sign",
        "--body-read-timeout",
        "0s",
    ]))
    .unwrap_err();
    assert_eq!(
        e.0,
        vec![
            "--listen: expected IP:PORT, e.g. 127.0.0.1:9000",
            "--max-body-size: expected a positive size such as 20MiB, 512KiB or 1048576",
            "--body-read-timeout: expected a positive duration such as 500ms, 10s or 5m",
            "--upstream-dsn #1: the scheme must be http or https",
            "--project-map #1: expected LOCAL_DSN=UPSTREAM_DSN",
        ]
    );
}

#[test]
fn upstream_key_and_project_are_accepted_and_maps_add_more() {
    let c = Config::try_from(serve(&[
        "--dry-run",
        "--upstream-dsn",
        "https://abc@o1.ingest.de.sentry.io/42",
        "--project-map",
        "http://local1@proxy:9000/3=https://def@o1.ingest.de.sentry.io/43",
    ]))
    .unwrap();
    let up = c.routes.resolve("abc", "42").unwrap().unwrap();
    assert_eq!(up.to_string(), "https://abc@o1.ingest.de.sentry.io/42");
    let up = c.routes.resolve("local1", "3").unwrap().unwrap();
    assert_eq!(up.to_string(), "https://def@o1.ingest.de.sentry.io/43");
    assert_eq!(
        c.routes.resolve("abc", "43"),
        Err(RouteError::UnknownProject)
    );
    assert_eq!(c.routes.resolve("zzz", "42"), Err(RouteError::UnknownKey));
}

#[test]
fn one_upstream_host_and_https_only() {
    let e = Config::try_from(serve(&[
        "--dry-run",
        "--upstream-dsn",
        "https://abc@a.example/1,http://def@b.example/2",
    ]))
    .unwrap_err();
    assert_eq!(
        e.0,
        vec!["all upstream DSNs must share one scheme, host and port: the proxy talks to one upstream host"]
    );
    let e = Config::try_from(serve(&[
        "--dry-run",
        "--upstream-dsn",
        "http://abc@a.example/1",
    ]))
    .unwrap_err();
    assert_eq!(
        e.0,
        vec!["an http:// upstream needs --insecure-upstream (HTTPS is required in production)"]
    );
}

#[test]
fn backoff_steps_are_flags_and_ordered() {
    let c = Config::try_from(serve(&[
        "--dry-run",
        "--upstream-dsn",
        "https://abc@o1.ingest.de.sentry.io/42",
        "--retry-backoff-base",
        "2s",
        "--retry-backoff-max",
        "30s",
        "--outbox",
        ".",
    ]));
    assert!(c.is_ok());
    let e = Config::try_from(serve(&[
        "--retry-backoff-base",
        "2m",
        "--retry-backoff-max",
        "1m",
    ]))
    .unwrap_err();
    assert_eq!(
        e.0,
        vec!["--retry-backoff-base must not exceed --retry-backoff-max"]
    );
}

/// Issue 22: `--allowed-releases` and `--allowed-environments` take `*` patterns; every
/// pattern that cannot mean what the operator wrote is refused at start, all at once.
#[test]
fn release_and_environment_patterns_are_checked_at_start() {
    let c = Config::try_from(serve(&[
        "--allowed-releases",
        "acme-web@*,exact-name",
        "--allowed-environments",
        "*-staging",
    ]))
    .unwrap();
    assert_eq!(
        c.policy.config().allowed_releases,
        vec!["acme-web@*", "exact-name"]
    );
    let e = Config::try_from(serve(&[
        "--allowed-releases",
        "*,acme-web@1.?",
        "--allowed-environments",
        "prod[1-3],qa stage",
    ]))
    .unwrap_err();
    assert_eq!(
        e.0,
        vec![
            "--allowed-releases: pattern \"*\": a pattern of `*` alone would keep every value",
            "--allowed-releases: pattern \"acme-web@1.?\": only `*` is a wildcard (`?`, `[…]` and `{…}` are not supported)",
            "--allowed-environments: pattern \"prod[1-3]\": only `*` is a wildcard (`?`, `[…]` and `{…}` are not supported)",
            "--allowed-environments: pattern \"qa stage\": spaces and control characters are not allowed",
        ]
    );
}
