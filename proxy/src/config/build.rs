//! Per-stage builders of [`super::Config`]: each turns the flags of one stage into its
//! settings, pushing a message naming the flag into `errs` for every problem (so that all
//! problems are reported at once). `Config::try_from` calls them in the order the errors
//! are reported.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::cli::{ServeArgs, SpoolFsync, SpoolMode};
use super::parts::{addr, duration, size};
use crate::dsn::{Dsn, Scheme};
use crate::egress::spool::wal::FsyncMode;
use crate::egress::upstream::client::UpstreamConfig;
use crate::egress::{EgressConfig, EgressSettings};
use crate::ingest::settings::{Inbound, Limits};

/// Ingest's settings: the listeners, the size caps, the inbound timeouts.
#[derive(Debug)]
pub(super) struct IngestParts {
    /// `--listen`, if it parsed.
    pub listen: Option<SocketAddr>,
    /// `--admin-listen`, if it parsed.
    pub admin_listen: Option<SocketAddr>,
    /// Size caps (zero where a flag did not parse: only used when none failed).
    pub limits: Limits,
    /// Inbound timeouts and connection cap.
    pub inbound: Inbound,
}

/// Ingest's flags: addresses, sizes, timeouts, connection caps.
pub(super) fn ingest(a: &ServeArgs, errs: &mut Vec<String>) -> IngestParts {
    let listen = addr("--listen", &a.listen, errs);
    let admin_listen = addr("--admin-listen", &a.admin_listen, errs);
    let max_body = size("--max-body-size", &a.max_body_size, errs);
    let max_envelope = size("--max-envelope-size", &a.max_envelope_size, errs);
    let max_event = size("--max-event-size", &a.max_event_size, errs);
    let header_read_timeout = duration("--header-read-timeout", &a.header_read_timeout, errs);
    let body_read_timeout = duration("--body-read-timeout", &a.body_read_timeout, errs);
    if a.max_connections == 0 {
        errs.push("--max-connections must be at least 1".into());
    }
    if a.admin_max_connections == 0 {
        errs.push("--admin-max-connections must be at least 1".into());
    }
    IngestParts {
        listen,
        admin_listen,
        limits: Limits {
            max_body: max_body.unwrap_or_default(),
            envelope: envelope::Limits {
                max_envelope_bytes: max_envelope.unwrap_or_default(),
                max_event_bytes: max_event.unwrap_or_default(),
                ..envelope::Limits::default()
            },
        },
        inbound: Inbound {
            header_read_timeout: header_read_timeout.unwrap_or_default(),
            body_read_timeout: body_read_timeout.unwrap_or_default(),
            max_connections: a.max_connections,
        },
    }
}

/// The route table: inbound key and project → upstream DSN.
#[derive(Debug, Default)]
pub(super) struct Upstreams {
    /// Inbound key → project → upstream.
    pub map: HashMap<String, HashMap<String, Arc<Dsn>>>,
    /// Every upstream DSN, in flag order.
    pub list: Vec<Arc<Dsn>>,
    /// Where each of `list` came from (`--upstream-dsn #2`, `map.txt:4`), for errors.
    pub sources: Vec<String>,
}

impl Upstreams {
    /// Routes `local` (key, project) to `up`, which came from `source`; two different
    /// upstreams for one pair is an error named after `what`.
    fn add(
        &mut self,
        local: (String, String),
        up: Arc<Dsn>,
        (what, source): (&str, String),
        errs: &mut Vec<String>,
    ) {
        let projects = self.map.entry(local.0).or_default();
        if let Some(prev) = projects.get(&local.1) {
            if prev != &up {
                errs.push(format!(
                    "{what}: inbound key and project {} already map to another upstream",
                    local.1
                ));
            }
        }
        projects.insert(local.1, up.clone());
        self.list.push(up);
        self.sources.push(source);
    }
}

/// The routes of `--upstream-dsn` (each routes its own key and project), `--project-map`
/// and `--project-map-file` (`LOCAL_DSN=UPSTREAM_DSN` lines); every upstream must share
/// one origin, and `http://` needs `--insecure-upstream`.
pub(super) fn upstreams(a: &ServeArgs, errs: &mut Vec<String>) -> Upstreams {
    let mut out = Upstreams::default();
    for (i, s) in a.upstream_dsn.iter().enumerate() {
        match s.parse::<Dsn>() {
            Ok(d) => {
                let local = (d.public_key.clone(), d.project_id.clone());
                let source = format!("--upstream-dsn #{}", i + 1);
                out.add(local, Arc::new(d), ("--upstream-dsn", source), errs);
            }
            Err(e) => errs.push(format!("--upstream-dsn #{}: {e}", i + 1)),
        }
    }
    for (what, line) in project_map_lines(a, errs) {
        let Some((local, up)) = line.split_once('=') else {
            errs.push(format!("{what}: expected LOCAL_DSN=UPSTREAM_DSN"));
            continue;
        };
        match (local.trim().parse::<Dsn>(), up.trim().parse::<Dsn>()) {
            (Ok(l), Ok(u)) => {
                let local = (l.public_key, l.project_id);
                out.add(local, Arc::new(u), (&what, what.clone()), errs);
            }
            (Err(e), _) => errs.push(format!("{what}: local DSN: {e}")),
            (_, Err(e)) => errs.push(format!("{what}: upstream DSN: {e}")),
        }
    }
    if let Some(first) = out.list.first() {
        if out.list.iter().any(|u| u.origin() != first.origin()) {
            errs.push("all upstream DSNs must share one scheme, host and port: the proxy talks to one upstream host".into());
        }
        if first.scheme == Scheme::Http && !a.insecure_upstream {
            errs.push(
                "an http:// upstream needs --insecure-upstream (HTTPS is required in production)"
                    .into(),
            );
        }
    }
    out
}

/// The `--project-map` values and the `--project-map-file` lines (blank lines and `#`
/// comments skipped), each with where it came from.
fn project_map_lines(a: &ServeArgs, errs: &mut Vec<String>) -> Vec<(String, String)> {
    let mut lines: Vec<(String, String)> = (a.project_map.iter().enumerate())
        .map(|(i, s)| (format!("--project-map #{}", i + 1), s.clone()))
        .collect();
    if let Some(path) = &a.project_map_file {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if !line.is_empty() && !line.starts_with('#') {
                        lines.push((format!("{}:{}", path.display(), n + 1), line.to_owned()));
                    }
                }
            }
            Err(e) => errs.push(format!(
                "--project-map-file {}: {}",
                path.display(),
                e.kind()
            )),
        }
    }
    lines
}

/// Egress's parsed sizes and durations (checked by the caller).
#[derive(Debug, Clone, Copy)]
pub(super) struct EgressSteps {
    /// `--upstream-timeout`.
    pub upstream_timeout: Duration,
    /// `--connect-timeout`.
    pub connect_timeout: Duration,
    /// `--queue-max-bytes`.
    pub queue_max_bytes: usize,
    /// `--retry-max-age`.
    pub retry_max_age: Duration,
    /// `--retry-backoff-base`.
    pub backoff_base: Duration,
    /// `--retry-backoff-max`.
    pub backoff_max: Duration,
    /// `--spool-max-bytes`.
    pub spool_max_bytes: u64,
}

/// Egress's settings for the upstream `first` (its host and port; 443 unless `http://`),
/// the TLS client, the CONNECT proxy and its authorization. Pure.
pub(super) fn egress(
    a: &ServeArgs,
    first: &Dsn,
    tls: Arc<rustls::ClientConfig>,
    proxy: Option<(http::Uri, Option<http::HeaderValue>)>,
    steps: EgressSteps,
) -> EgressConfig {
    let default_port = match first.scheme {
        Scheme::Http => 80,
        _ => 443,
    };
    let (proxy, proxy_auth) = match proxy {
        Some((uri, auth)) => (Some(uri), auth),
        None => (None, None),
    };
    EgressConfig {
        client: UpstreamConfig {
            host: first.host.clone(),
            port: first.port.unwrap_or(default_port),
            insecure: a.insecure_upstream,
            tls,
            proxy,
            proxy_auth,
            compression: a.upstream_compression,
            level: a.upstream_compression_level,
            connect_timeout: steps.connect_timeout,
            request_timeout: steps.upstream_timeout,
            pool_size: a.senders,
        },
        settings: EgressSettings {
            senders: a.senders,
            retry_max_age: steps.retry_max_age,
            backoff_base: steps.backoff_base,
            backoff_max: steps.backoff_max,
        },
        queue_max_envelopes: a.queue_max_envelopes,
        queue_max_bytes: steps.queue_max_bytes,
        spool: (a.spool_dir.clone()).map(|d| (d, steps.spool_max_bytes)),
        spool_durable: (a.spool_mode == SpoolMode::Durable).then_some(match a.spool_fsync {
            SpoolFsync::Always => FsyncMode::Always,
            SpoolFsync::Batch => FsyncMode::Batch,
            SpoolFsync::Off => FsyncMode::Off,
        }),
        audit_size: a.audit_size,
    }
}
