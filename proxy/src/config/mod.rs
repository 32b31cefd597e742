//! Configuration: the flags (`cli`), their validation into one typed [`Config`], and
//! `config show`. Enters: the command line and environment (clap), the files it names
//! (project map, CA, outbox and spool folders). Leaves: a `Config` made of each stage's own
//! settings types ([`Routes`], [`Limits`], [`Inbound`] of ingest; [`EgressConfig`] of
//! egress; [`ConsentConfig`] of the consent source; the compiled scrubbing policy).
//!
//! Every problem is gathered before failing, so an operator fixes them all in one go (exit
//! code 64). Config sits on top of the stages: it knows their settings types, no stage
//! knows `Config`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cli::{LogFormat, ServeArgs};

pub use crate::consent_source::ConsentConfig;
use crate::egress::upstream::client::Compression;
pub use crate::egress::{EgressConfig, EgressSettings};
pub use crate::ingest::settings::{Inbound, Limits, RouteError, Routes};

mod build;
pub mod cli;
mod parts;
pub mod residency;
mod secrets;
mod show;

pub use parts::{consent_config, parse_duration, parse_size, policy};
use parts::{duration, egress_proxy, size};

/// The validated configuration of a serving proxy.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the SDKs send to.
    pub listen: SocketAddr,
    /// Admin listener.
    pub admin_listen: SocketAddr,
    /// Which inbound keys and projects are accepted, and where each goes.
    pub routes: Routes,
    /// Where scrubbed envelopes go.
    pub output: Output,
    /// Size caps.
    pub limits: Limits,
    /// Inbound timeouts and connection cap.
    pub inbound: Inbound,
    /// Log format and filter.
    pub log_format: LogFormat,
    /// Log filter directive.
    pub log_filter: String,
    /// File to write bound addresses to once listening.
    pub ready_file: Option<PathBuf>,
    /// Runtime worker threads (0: one per CPU).
    pub worker_threads: usize,
    /// The compiled scrubbing policy.
    pub policy: Arc<scrub::Policy>,
    /// Where consent comes from and what to do with unattributed items.
    pub consent: ConsentConfig,
    /// Bearer token of the admin endpoints that act or show content.
    pub admin_token: Option<String>,
    /// Most concurrent admin connections.
    pub admin_max_connections: usize,
    /// Shutdown drain time.
    pub shutdown_timeout: Duration,
    /// Most traces the trace map remembers (0: off).
    pub trace_map_max_entries: usize,
    /// How long the trace map remembers a trace.
    pub trace_map_ttl: Duration,
    /// What the EU residency guard checked (or that it is off).
    pub eu_residency: residency::EuResidency,
}

/// Where scrubbed envelopes go.
#[derive(Debug, Clone)]
pub enum Output {
    /// Dry run to stdout.
    Stdout,
    /// Dry run, one file per envelope in this folder.
    Outbox(PathBuf),
    /// The real upstream.
    Upstream(Box<EgressConfig>),
}

/// Every problem found in the flags.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<String>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for e in &self.0 {
            writeln!(f, "error: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl TryFrom<ServeArgs> for Config {
    type Error = ConfigErrors;

    fn try_from(a: ServeArgs) -> Result<Self, ConfigErrors> {
        let mut errs = Vec::new();
        let ingest = build::ingest(&a, &mut errs);
        let build::Upstreams {
            map,
            list: upstreams,
            sources: upstream_sources,
        } = build::upstreams(&a, &mut errs);

        let dry_run = a.dry_run || upstreams.is_empty();
        // Every DSN, not only the first: each error names the flag or file line to fix.
        let guard = residency::Residency::from_flags(
            &a.eu_upstream_hosts,
            a.allow_non_eu_upstream,
            &mut errs,
        );
        if !dry_run {
            for (up, what) in upstreams.iter().zip(&upstream_sources) {
                if let Err(e) = guard.check(what, &up.host) {
                    errs.push(e);
                }
            }
        }
        let eu_residency = residency::EuResidency::new(
            &guard,
            upstreams
                .first()
                .filter(|_| !dry_run)
                .map(|u| u.host.as_str()),
        );
        if a.outbox.is_some() && !dry_run {
            errs.push(
                "--outbox is a dry-run output: add --dry-run or remove --upstream-dsn".into(),
            );
        }
        let upstream_timeout = duration("--upstream-timeout", &a.upstream_timeout, &mut errs);
        let connect_timeout = duration("--connect-timeout", &a.connect_timeout, &mut errs);
        let queue_max_bytes = size("--queue-max-bytes", &a.queue_max_bytes, &mut errs);
        let retry_max_age = duration("--retry-max-age", &a.retry_max_age, &mut errs);
        let backoff_base = duration("--retry-backoff-base", &a.retry_backoff_base, &mut errs);
        let backoff_max = duration("--retry-backoff-max", &a.retry_backoff_max, &mut errs);
        if let (Some(b), Some(m)) = (backoff_base, backoff_max) {
            if b > m {
                errs.push("--retry-backoff-base must not exceed --retry-backoff-max".into());
            }
        }
        let spool_max_bytes = size("--spool-max-bytes", &a.spool_max_bytes, &mut errs);
        let shutdown_timeout = duration("--shutdown-timeout", &a.shutdown_timeout, &mut errs);
        let trace_map_ttl = duration("--trace-map-ttl", &a.trace_map_ttl, &mut errs);
        if a.senders == 0 {
            errs.push("--senders must be at least 1".into());
        }
        if a.queue_max_envelopes == 0 {
            errs.push("--queue-max-envelopes must be at least 1".into());
        }
        let level_ok = match a.upstream_compression {
            Compression::Gzip => (1..=9).contains(&a.upstream_compression_level),
            Compression::Zstd => (1..=19).contains(&a.upstream_compression_level),
            Compression::None => true,
        };
        if !level_ok {
            errs.push("--upstream-compression-level: gzip takes 1-9, zstd 1-19".into());
        }
        if let Some(why) = a.admin_token.as_deref().and_then(secrets::weak_admin_token) {
            errs.push(format!(
                "--admin-token: {why} (generate one, e.g. openssl rand -hex 32)"
            ));
        }
        if !dry_run && a.consent.consent_file.is_none() && a.consent.consent_url.is_none() {
            errs.push("a real upstream needs a consent source: set --consent-file or --consent-url (or use --dry-run)".into());
        }
        let tls = match crate::egress::upstream::tls::client_config(
            a.tls_roots,
            a.upstream_ca.as_deref(),
        ) {
            Ok(t) => Some(t),
            Err(e) => {
                errs.push(e);
                None
            }
        };
        let proxy = if dry_run {
            None
        } else {
            egress_proxy(
                a.egress_proxy.as_deref(),
                upstreams.first().map(|d| d.host.as_str()),
                &mut errs,
            )
        };
        let output = match &a.outbox {
            Some(dir) => {
                match std::fs::metadata(dir) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => errs.push(format!("--outbox {}: not a directory", dir.display())),
                    Err(e) => errs.push(format!("--outbox {}: {}", dir.display(), e.kind())),
                }
                Output::Outbox(dir.clone())
            }
            None if dry_run => Output::Stdout,
            None => match (upstreams.first(), tls.clone()) {
                (Some(first), Some(tls)) => {
                    let steps = build::EgressSteps {
                        upstream_timeout: upstream_timeout.unwrap_or_default(),
                        connect_timeout: connect_timeout.unwrap_or_default(),
                        queue_max_bytes: queue_max_bytes.unwrap_or_default(),
                        retry_max_age: retry_max_age.unwrap_or_default(),
                        backoff_base: backoff_base.unwrap_or_default(),
                        backoff_max: backoff_max.unwrap_or_default(),
                        spool_max_bytes: spool_max_bytes.unwrap_or_default() as u64,
                    };
                    Output::Upstream(Box::new(build::egress(&a, first, tls, proxy, steps)))
                }
                _ => Output::Stdout,
            },
        };
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&a.log) {
            errs.push(format!("--log: {e}"));
        }
        let policy = policy(&a.policy, &mut errs);
        let mut consent = consent_config(&a.consent, dry_run, &mut errs);
        consent.tls = tls.clone();

        if !errs.is_empty() {
            return Err(ConfigErrors(errs));
        }
        let routes = if upstreams.is_empty() {
            Routes::AcceptAny
        } else {
            Routes::Mapped(Arc::new(map))
        };
        Ok(Config {
            listen: ingest.listen.unwrap_or_else(unreachable_addr),
            admin_listen: ingest.admin_listen.unwrap_or_else(unreachable_addr),
            routes,
            output,
            limits: ingest.limits,
            inbound: ingest.inbound,
            log_format: a.log_format,
            log_filter: a.log,
            ready_file: a.ready_file,
            worker_threads: a.worker_threads,
            policy: policy.ok_or_else(|| ConfigErrors(vec!["policy".into()]))?,
            consent,
            admin_token: a.admin_token,
            admin_max_connections: a.admin_max_connections,
            shutdown_timeout: shutdown_timeout.unwrap_or_default(),
            trace_map_max_entries: a.trace_map_max_entries,
            trace_map_ttl: trace_map_ttl.unwrap_or_default(),
            eu_residency,
        })
    }
}

// Only reached when errs was empty, i.e. the address parsed.
fn unreachable_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

#[cfg(test)]
mod tests;
