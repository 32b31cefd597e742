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

/// A serving config for `dsn` with a consent source, plus `extra` flags.
fn upstream(dsn: &str, extra: &[&str]) -> Result<Config, ConfigErrors> {
    let mut args = vec!["--upstream-dsn", dsn, "--consent-file", "consent.json"];
    args.extend_from_slice(extra);
    Config::try_from(serve(&args))
}

fn refused(host: &str, what: &str) -> String {
    format!(
        "{what}: upstream host {host} is not an EU ingest host: diagnostic data must stay in \
         the EU. Use Sentry's EU region (*.ingest.de.sentry.io), add your own EU host with \
         --eu-upstream-hosts, or opt out with --allow-non-eu-upstream"
    )
}

#[test]
fn eu_region_upstream_is_accepted_and_shown() {
    let c = upstream("https://abc@o123.ingest.de.sentry.io/42", &[]).unwrap();
    assert_eq!(
        c.eu_residency.describe(),
        "enforced: upstream o123.ingest.de.sentry.io allowed by *.ingest.de.sentry.io (built in)"
    );
    assert!(c.show().contains("\neu_residency = enforced: upstream o123.ingest.de.sentry.io allowed by *.ingest.de.sentry.io (built in)\n"));
    assert_eq!(c.eu_residency.warning(), None);
}

#[test]
fn us_and_default_sentry_hosts_are_refused_naming_the_flags() {
    for host in [
        "o1.ingest.us.sentry.io",
        "o1.ingest.sentry.io",
        "sentry.io",
        // Look-alikes of the EU suffix are not under it.
        "ingest.de.sentry.io",
        "o1.evilingest.de.sentry.io",
        "o1.ingest.de.sentry.io.attacker.example",
    ] {
        let e = upstream(&format!("https://abc@{host}/42"), &[]).unwrap_err();
        assert_eq!(e.0, vec![refused(host, "--upstream-dsn #1")], "{host}");
    }
}

#[test]
fn self_hosted_eu_hosts_are_allowed_by_the_flag_or_its_env_var() {
    let c = upstream(
        "https://abc@sentry.example.eu/42",
        &[
            "--eu-upstream-hosts",
            "bugsink.example.eu,sentry.example.eu",
        ],
    )
    .unwrap();
    assert_eq!(
        c.eu_residency.describe(),
        "enforced: upstream sentry.example.eu allowed by sentry.example.eu (--eu-upstream-hosts)"
    );
    // A pattern takes every host under the domain, in any case, not the domain itself.
    let flags = ["--eu-upstream-hosts", "*.Sentry.Example.EU"];
    assert!(upstream("https://abc@O1.sentry.example.eu/42", &flags).is_ok());
    let e = upstream("https://abc@sentry.example.eu/42", &flags).unwrap_err();
    assert_eq!(e.0, vec![refused("sentry.example.eu", "--upstream-dsn #1")]);
    // An IP address, as a self-hosted upstream in a private network may be.
    let ip = ["--eu-upstream-hosts", "10.1.2.3"];
    assert!(upstream("https://abc@10.1.2.3:8443/42", &ip).is_ok());
    // Set as the env var SENTRY_PROXY_EU_UPSTREAM_HOSTS sets it (proxy/tests/residency.rs runs
    // the binary with the variable itself).
    let mut cli = Cli::try_parse_from(["sentry-scrub-proxy"]).unwrap().serve;
    cli.upstream_dsn = vec!["https://abc@sentry.example.eu/42".into()];
    cli.consent.consent_file = Some("consent.json".into());
    assert!(Config::try_from(cli.clone()).is_err());
    cli.eu_upstream_hosts = vec!["sentry.example.eu".into()];
    assert!(Config::try_from(cli).is_ok());
}

#[test]
fn project_map_dsns_pass_the_same_guard() {
    let dir = std::env::temp_dir().join(format!("residency-map-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("map.txt");
    std::fs::write(
        &file,
        "# one line per app\nhttp://k1@proxy:9000/7=https://def@o1.ingest.us.sentry.io/43\n",
    )
    .unwrap();
    let e = Config::try_from(serve(&[
        "--upstream-dsn",
        "https://abc@o1.ingest.us.sentry.io/42",
        "--project-map",
        "http://local1@proxy:9000/3=https://def@o1.ingest.us.sentry.io/43",
        "--project-map-file",
        file.to_str().unwrap(),
        "--consent-file",
        "consent.json",
    ]))
    .unwrap_err();
    let host = "o1.ingest.us.sentry.io";
    assert_eq!(
        e.0,
        vec![
            refused(host, "--upstream-dsn #1"),
            refused(host, "--project-map #1"),
            refused(host, &format!("{}:2", file.display())),
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn opting_out_is_reported_everywhere() {
    let c = upstream(
        "https://abc@o1.ingest.us.sentry.io/42",
        &["--allow-non-eu-upstream"],
    )
    .unwrap();
    let line = "NOT ENFORCED (--allow-non-eu-upstream): upstream o1.ingest.us.sentry.io may be outside the EU";
    assert_eq!(c.eu_residency.describe(), line);
    assert_eq!(c.eu_residency.warning().as_deref(), Some(line));
    assert!(c.show().contains(&format!("\neu_residency = {line}\n")));
}

#[test]
fn dry_run_and_bad_entries() {
    // Nothing is sent in a dry run, so the upstream named for its routes is not checked.
    let c = Config::try_from(serve(&[
        "--dry-run",
        "--upstream-dsn",
        "https://abc@o1.ingest.us.sentry.io/42",
    ]))
    .unwrap();
    assert_eq!(
        c.eu_residency.describe(),
        "not applicable (dry run: nothing is sent)"
    );
    // Entries that are no host are named, with the flag, even when nothing is checked.
    let e = Config::try_from(serve(&[
        "--eu-upstream-hosts",
        "ok.example.eu,,*,https://x.eu,*.,a..b,host:443",
    ]))
    .unwrap_err();
    let bad = |v: &str| {
        format!("--eu-upstream-hosts: {v:?} is not a host name, IP address or *.domain pattern")
    };
    assert_eq!(
        e.0,
        vec![
            bad("*"),
            bad("https://x.eu"),
            bad("*."),
            bad("a..b"),
            bad("host:443")
        ]
    );
}

#[test]
fn backoff_steps_are_flags_and_ordered() {
    let c = Config::try_from(serve(&[
        "--upstream-dsn",
        "https://abc@o1.ingest.de.sentry.io/42",
        "--retry-backoff-base",
        "2s",
        "--retry-backoff-max",
        "30s",
        "--consent-file",
        "/nonexistent/consent.json",
    ]))
    .expect("valid flags");
    let Output::Upstream(egress) = &c.output else {
        panic!("an upstream output, got {:?}", c.output)
    };
    assert_eq!(
        (egress.settings.backoff_base, egress.settings.backoff_max),
        (Duration::from_secs(2), Duration::from_secs(30))
    );
    // Equal steps are allowed: a constant backoff.
    let c = Config::try_from(serve(&[
        "--upstream-dsn",
        "https://abc@o1.ingest.de.sentry.io/42",
        "--consent-file",
        "/nonexistent/consent.json",
        "--retry-backoff-base",
        "5s",
        "--retry-backoff-max",
        "5s",
    ]))
    .expect("valid flags");
    let Output::Upstream(egress) = &c.output else {
        panic!("an upstream output, got {:?}", c.output)
    };
    assert_eq!(
        (egress.settings.backoff_base, egress.settings.backoff_max),
        (Duration::from_secs(5), Duration::from_secs(5))
    );
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

/// `--allowed-releases` and `--allowed-environments` take `*` patterns; every
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

/// The route table: each `--upstream-dsn` routes its own key and project, each
/// `--project-map` line a local pair to an upstream; every upstream is listed with where it
/// came from, and a pair mapped to two upstreams is refused, named after its flag.
#[test]
fn the_route_table_is_built_from_dsns_and_map_lines() {
    let a = serve(&[
        "--upstream-dsn",
        "https://aaa@o1.ingest.de.sentry.io/1",
        "--project-map",
        "http://local@proxy:9000/7=https://bbb@o1.ingest.de.sentry.io/2",
        "--project-map",
        "not a mapping",
    ]);
    let mut errs = Vec::new();
    let up = super::build::upstreams(&a, &mut errs);
    assert_eq!(
        errs,
        vec!["--project-map #2: expected LOCAL_DSN=UPSTREAM_DSN"]
    );
    assert_eq!(up.sources, vec!["--upstream-dsn #1", "--project-map #1"]);
    let hosts: Vec<String> = up.list.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        hosts,
        vec![
            "https://aaa@o1.ingest.de.sentry.io/1",
            "https://bbb@o1.ingest.de.sentry.io/2"
        ]
    );
    let routed = |key: &str, project: &str| up.map.get(key).and_then(|p| p.get(project));
    assert_eq!(routed("aaa", "1").map(|d| d.project_id.as_str()), Some("1"));
    assert_eq!(
        routed("local", "7").map(|d| d.project_id.as_str()),
        Some("2")
    );
    assert_eq!(up.map.len(), 2);

    let a = serve(&[
        "--upstream-dsn",
        "https://aaa@o1.ingest.de.sentry.io/1",
        "--project-map",
        "https://aaa@proxy/1=https://bbb@o1.ingest.de.sentry.io/2",
    ]);
    let mut errs = Vec::new();
    super::build::upstreams(&a, &mut errs);
    assert_eq!(
        errs,
        vec!["--project-map #1: inbound key and project 1 already map to another upstream"]
    );
}

/// Ingest's builder: every size and timeout flag parsed, the zero caps refused by name.
#[test]
fn the_ingest_settings_come_from_their_flags() {
    let a = serve(&[
        "--max-body-size",
        "1MiB",
        "--max-event-size",
        "512KiB",
        "--header-read-timeout",
        "3s",
        "--max-connections",
        "0",
    ]);
    let mut errs = Vec::new();
    let ingest = super::build::ingest(&a, &mut errs);
    assert_eq!(errs, vec!["--max-connections must be at least 1"]);
    assert_eq!(ingest.limits.max_body, 1 << 20);
    assert_eq!(ingest.limits.envelope.max_event_bytes, 512 << 10);
    assert_eq!(ingest.inbound.header_read_timeout, Duration::from_secs(3));
    assert_eq!(ingest.inbound.max_connections, 0);
}

/// Egress's builder: the port defaults by scheme, the CONNECT proxy's authorization goes
/// with it, and the durable mode carries its fsync setting.
#[test]
fn the_egress_settings_follow_the_upstream_and_spool_flags() {
    let a = serve(&[
        "--spool-dir",
        "/var/spool/p",
        "--spool-mode",
        "durable",
        "--spool-fsync",
        "always",
    ]);
    let tls = crate::egress::upstream::tls::client_config(
        crate::egress::upstream::tls::Roots::Webpki,
        None,
    )
    .expect("webpki roots");
    let steps = super::build::EgressSteps {
        upstream_timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(5),
        queue_max_bytes: 1000,
        retry_max_age: Duration::from_secs(3600),
        backoff_base: Duration::from_secs(1),
        backoff_max: Duration::from_secs(8),
        spool_max_bytes: 4096,
    };
    let https: crate::dsn::Dsn = "https://k@up.example/1".parse().expect("dsn");
    let auth = http::HeaderValue::from_static("Basic dTpw");
    let proxy = Some((
        "http://proxy:3128".parse().expect("uri"),
        Some(auth.clone()),
    ));
    let e = super::build::egress(&a, &https, tls.clone(), proxy, steps);
    assert_eq!((e.client.host.as_str(), e.client.port), ("up.example", 443));
    assert_eq!(
        e.client.proxy.as_ref().map(|u| u.to_string()),
        Some("http://proxy:3128/".to_owned())
    );
    assert_eq!(e.client.proxy_auth, Some(auth));
    assert_eq!(
        e.spool,
        Some((std::path::PathBuf::from("/var/spool/p"), 4096))
    );
    assert_eq!(
        e.spool_durable,
        Some(crate::egress::spool::wal::FsyncMode::Always)
    );
    assert_eq!(
        (e.settings.backoff_base, e.settings.backoff_max),
        (Duration::from_secs(1), Duration::from_secs(8))
    );
    let http: crate::dsn::Dsn = "http://k@up.example/1".parse().expect("dsn");
    let e = super::build::egress(&serve(&[]), &http, tls, None, steps);
    assert_eq!((e.client.port, e.client.proxy.is_none()), (80, true));
    // The default mode is durable with batched syncs; without --spool-dir there is no spool
    // to apply it to.
    assert_eq!(
        (e.spool.is_none(), e.spool_durable),
        (true, Some(crate::egress::spool::wal::FsyncMode::Batch))
    );
}
