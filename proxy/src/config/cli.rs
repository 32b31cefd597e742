//! The command line: every flag has an env var and a visible default. Raw values only;
//! [`crate::config::Config`] validates them all at once. Flags that can hold a secret (DSNs
//! and project maps, the consent URL, the egress proxy, the admin token) have
//! `hide_env_values`, so `--help` never prints what their variables are set to.

// These doc comments are also the `--help` text, where a bare URL reads better than a link.
#![allow(rustdoc::bare_urls)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A Sentry-compatible scrubbing proxy: SDKs send here, only technical data leaves.
#[derive(Debug, Parser)]
#[command(
    name = "sentry-scrub-proxy",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// A subcommand; without one, the proxy serves.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of the server.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Subcommands beside serving.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scrub one raw request body: the scrubbed envelope on stdout, the removal report (JSON)
    /// on stderr. Uses the same policy and consent options as the server.
    Scrub(Box<ScrubArgs>),
    /// Probe a running proxy's admin listener (`/readyz`, or `/healthz` with --live); exit 0
    /// when it answers 200. For container health checks in images without curl.
    Health {
        /// Admin address to probe.
        #[arg(
            long,
            env = "SENTRY_PROXY_ADMIN_LISTEN",
            default_value = "127.0.0.1:9001"
        )]
        admin: String,
        /// Probe liveness (`/healthz`) instead of readiness.
        #[arg(long)]
        live: bool,
    },
    /// Print the effective configuration (secrets masked) and exit.
    Config {
        /// What to do with the configuration.
        #[command(subcommand)]
        action: ConfigAction,
    },
}

/// `config` actions.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate the flags and print the effective configuration.
    Show {
        /// The server flags to validate.
        #[command(flatten)]
        serve: Box<ServeArgs>,
    },
}

/// `scrub` subcommand flags.
#[derive(Debug, Clone, Args)]
pub struct ScrubArgs {
    /// The request body to scrub; `-` reads standard input.
    pub file: PathBuf,
    /// The body's Content-Encoding (gzip, deflate, br, zstd, identity).
    #[arg(long, default_value = "identity")]
    pub content_encoding: String,
    /// The body is a legacy `/store/` JSON event rather than an envelope.
    #[arg(long)]
    pub store: bool,
    /// Largest envelope accepted after decompression.
    #[arg(long, default_value = "100MiB")]
    pub max_envelope_size: String,
    /// Largest event, transaction or span item.
    #[arg(long, default_value = "1MiB")]
    pub max_event_size: String,
    /// Scrubbing policy.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Consent.
    #[command(flatten)]
    pub consent: ConsentArgs,
}

/// How exception messages are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExceptionMessages {
    /// Keep a message only as a known format of the standard library or a common framework,
    /// its variable parts judged (`technical` is the former name, kept as an alias).
    #[value(alias = "technical")]
    Template,
    /// Keep every message after the detectors (looser).
    Detect,
    /// Replace every message.
    Drop,
}

/// How log messages are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogMessages {
    /// Keep templates with placeholders sent with parameters; parameters always go.
    Template,
    /// Keep every template after the detectors (looser).
    Detect,
    /// Replace every log message.
    Drop,
}

/// What happens to items that name no company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnattributedArg {
    /// Drop them.
    Drop,
    /// Forward them without IDs when telemetry is enabled globally.
    Forward,
}

/// Scrubbing policy flags, shared by the server and `scrub`.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// Exception messages: template (known formats only, variable parts judged), detect
    /// (every message, after the detectors) or drop.
    #[arg(long, env = "SENTRY_PROXY_EXCEPTION_MESSAGES", value_enum, default_value_t = ExceptionMessages::Template)]
    pub exception_messages: ExceptionMessages,

    /// Exception types whose messages are kept whole, after the detectors, instead of as
    /// templates (comma-separated; a looser choice, none by default).
    #[arg(long, env = "SENTRY_PROXY_TECHNICAL_EXCEPTIONS", value_delimiter = ',')]
    pub technical_exceptions: Vec<String>,

    /// Hosts kept in exception messages besides IPs, localhost and one-word service names
    /// (comma-separated; `.example.com` for a domain and its subdomains); others become `[host]`.
    #[arg(long, env = "SENTRY_PROXY_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Log messages: template (placeholders with parameters only), detect or drop.
    #[arg(long, env = "SENTRY_PROXY_LOG_MESSAGES", value_enum, default_value_t = LogMessages::Template)]
    pub log_messages: LogMessages,

    /// The event tag that carries the company id (kept only when IDs are allowed).
    #[arg(long, env = "SENTRY_PROXY_COMPANY_TAG", default_value = "company_id")]
    pub company_tag: String,

    /// Extra tags to keep besides the built-in technical ones (values still pass the detectors).
    #[arg(long, env = "SENTRY_PROXY_KEEP_TAGS", value_delimiter = ',')]
    pub keep_tags: Vec<String>,

    /// Request headers to keep (comma-separated; replaces the default list).
    #[arg(long, env = "SENTRY_PROXY_KEEP_HEADERS", value_delimiter = ',', default_values_t = scrub::DEFAULT_HEADERS.iter().map(|s| s.to_string()))]
    pub keep_headers: Vec<String>,

    /// Keep `server_name` (the host name).
    #[arg(long, env = "SENTRY_PROXY_KEEP_SERVER_NAME")]
    pub keep_server_name: bool,

    /// Forward `profile` and `profile_chunk` items (stacks and timings, scrubbed).
    #[arg(long, env = "SENTRY_PROXY_ALLOW_PROFILES")]
    pub allow_profiles: bool,

    /// Forward `check_in` items (cron monitors, scrubbed).
    #[arg(long, env = "SENTRY_PROXY_ALLOW_CHECK_INS")]
    pub allow_check_ins: bool,
    /// Release names kept as sent although they are not versions, hashes or
    /// `<package>@<version>` (comma-separated; `*` matches any run of characters:
    /// `acme-web@*`); others become `[release]`.
    #[arg(long, env = "SENTRY_PROXY_ALLOWED_RELEASES", value_delimiter = ',')]
    pub allowed_releases: Vec<String>,
    /// Environment names kept as sent although they are not known environment words
    /// (comma-separated; `*` matches any run of characters: `*-staging`); others become
    /// `[environment]`.
    #[arg(long, env = "SENTRY_PROXY_ALLOWED_ENVIRONMENTS", value_delimiter = ',')]
    pub allowed_environments: Vec<String>,
    /// Keep frames' source lines (pre_context, context_line, post_context) with string
    /// literals and comments masked; by default they are removed.
    #[arg(long, env = "SENTRY_PROXY_SOURCE_CONTEXT")]
    pub source_context: bool,
}

/// Consent flags shared by the server and `scrub`.
#[derive(Debug, Clone, Args)]
pub struct ConsentArgs {
    /// The consent document exported by the app (JSON); reloaded within a second of a change.
    #[arg(long, env = "SENTRY_PROXY_CONSENT_FILE")]
    pub consent_file: Option<PathBuf>,

    /// An HTTP(S) URL serving the consent document, polled with ETag / If-None-Match.
    #[arg(long, env = "SENTRY_PROXY_CONSENT_URL", hide_env_values = true)]
    pub consent_url: Option<String>,

    /// Time between two polls of --consent-url.
    #[arg(
        long,
        env = "SENTRY_PROXY_CONSENT_POLL_INTERVAL",
        default_value = "30s"
    )]
    pub consent_poll_interval: String,

    /// Longest time the last good document stays in force when its source fails; then nothing leaves.
    #[arg(long, env = "SENTRY_PROXY_CONSENT_MAX_AGE", default_value = "15m")]
    pub consent_max_age: String,

    /// Deadline of one whole fetch of the consent document (connect, headers and body of
    /// --consent-url, or the read of --consent-file); a source slower than that has failed.
    #[arg(
        long,
        env = "SENTRY_PROXY_CONSENT_FETCH_TIMEOUT",
        default_value = "10s"
    )]
    pub consent_fetch_timeout: String,

    /// Items that name no company (sessions, client reports, events without the company tag).
    #[arg(long, env = "SENTRY_PROXY_UNATTRIBUTED", value_enum, default_value_t = UnattributedArg::Drop)]
    pub unattributed: UnattributedArg,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// How the disk spool is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpoolMode {
    /// Every envelope is written to the spool's log before the SDK's 200, so nothing
    /// acknowledged is lost to a crash, `kill -9` or a node loss.
    Durable,
    /// Only when the memory queue is full and at shutdown (one file per envelope).
    Overflow,
}

/// When durable spool writes reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpoolFsync {
    /// One fsync per envelope, before its 200.
    Always,
    /// One fsync for every batch of envelopes written together (group commit), before their 200s.
    Batch,
    /// No fsync: survives a crash of the process, not of the machine.
    Off,
}

/// The server's flags.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address the SDKs send to.
    #[arg(long, env = "SENTRY_PROXY_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: String,

    /// Address of the admin listener (health, readiness, metrics).
    #[arg(
        long,
        env = "SENTRY_PROXY_ADMIN_LISTEN",
        default_value = "127.0.0.1:9001"
    )]
    pub admin_listen: String,

    /// Upstream DSN, e.g. https://KEY@o1.ingest.de.sentry.io/42. Its key and project id are
    /// accepted inbound, so apps only swap the host of their SENTRY_DSN. Repeatable
    /// (comma-separated in the env var); all upstream DSNs must share one host.
    /// Without any, the proxy runs in dry-run mode.
    #[arg(
        long,
        env = "SENTRY_PROXY_UPSTREAM_DSN",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub upstream_dsn: Vec<String>,

    /// Map an inbound DSN to an upstream DSN: LOCAL_DSN=UPSTREAM_DSN (only the key and project
    /// id of LOCAL_DSN matter). Repeatable (comma-separated in the env var).
    #[arg(
        long,
        env = "SENTRY_PROXY_PROJECT_MAP",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub project_map: Vec<String>,

    /// A file of LOCAL_DSN=UPSTREAM_DSN lines (blank lines and # comments ignored).
    #[arg(long, env = "SENTRY_PROXY_PROJECT_MAP_FILE")]
    pub project_map_file: Option<PathBuf>,

    /// Write what would be sent instead of sending it (implied when no upstream is set).
    #[arg(long, env = "SENTRY_PROXY_DRY_RUN")]
    pub dry_run: bool,

    /// Dry run: write each envelope to its own file in this folder instead of stdout.
    #[arg(long, env = "SENTRY_PROXY_OUTBOX")]
    pub outbox: Option<PathBuf>,

    /// Allow an http:// upstream (tests only: the upstream must be HTTPS in production).
    #[arg(long, env = "SENTRY_PROXY_INSECURE_UPSTREAM")]
    pub insecure_upstream: bool,

    /// EU residency: hosts accepted as upstream besides Sentry's EU region
    /// (*.ingest.de.sentry.io, built in), e.g. sentry.example.eu or *.sentry.example.eu for a
    /// self-hosted Sentry or Bugsink in your EU data centre. Any other upstream host refuses
    /// to start. Comma-separated; exact hosts, IP addresses and *.domain patterns.
    #[arg(long, env = "SENTRY_PROXY_EU_UPSTREAM_HOSTS", value_delimiter = ',')]
    pub eu_upstream_hosts: Vec<String>,

    /// Turn the EU residency guard off: accept an upstream outside the EU. Reported by
    /// `config show`, `/readyz` and a warning at start.
    #[arg(long, env = "SENTRY_PROXY_ALLOW_NON_EU_UPSTREAM")]
    pub allow_non_eu_upstream: bool,

    /// Largest request body accepted, compressed (e.g. 20MiB).
    #[arg(long, env = "SENTRY_PROXY_MAX_BODY_SIZE", default_value = "20MiB")]
    pub max_body_size: String,

    /// Largest envelope accepted after decompression.
    #[arg(long, env = "SENTRY_PROXY_MAX_ENVELOPE_SIZE", default_value = "100MiB")]
    pub max_envelope_size: String,

    /// Largest event, transaction or span item.
    #[arg(long, env = "SENTRY_PROXY_MAX_EVENT_SIZE", default_value = "1MiB")]
    pub max_event_size: String,

    /// Time a client has to send its request headers (slow clients are cut off).
    #[arg(long, env = "SENTRY_PROXY_HEADER_READ_TIMEOUT", default_value = "10s")]
    pub header_read_timeout: String,

    /// Time a client has to send its whole request body.
    #[arg(long, env = "SENTRY_PROXY_BODY_READ_TIMEOUT", default_value = "30s")]
    pub body_read_timeout: String,

    /// Most concurrent inbound connections; more wait in the kernel's backlog.
    #[arg(long, env = "SENTRY_PROXY_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Log format.
    #[arg(long, env = "SENTRY_PROXY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter (tracing-subscriber syntax), e.g. info or proxy=debug.
    #[arg(long, env = "SENTRY_PROXY_LOG", default_value = "info")]
    pub log: String,

    /// Runtime worker threads; 0 means one per CPU. One thread spends about a sixth less CPU
    /// per envelope (no cross-thread wake-ups) for less peak throughput: a good choice for
    /// pods limited to one CPU and scaled out (docs/benchmarks.md).
    #[arg(long, env = "SENTRY_PROXY_WORKER_THREADS", default_value_t = 0)]
    pub worker_threads: usize,

    /// Once listening, write the bound addresses as JSON to this file (for supervisors and tests).
    #[arg(long, env = "SENTRY_PROXY_READY_FILE")]
    pub ready_file: Option<PathBuf>,

    /// Extra CA certificate(s) (PEM) trusted for the upstream, for a private PKI.
    #[arg(long, env = "SENTRY_PROXY_UPSTREAM_CA")]
    pub upstream_ca: Option<PathBuf>,

    /// Trust anchors for the upstream: webpki (compiled-in Mozilla roots) or native (the OS store).
    #[arg(long, env = "SENTRY_PROXY_TLS_ROOTS", value_enum, default_value_t = crate::egress::upstream::tls::Roots::Webpki)]
    pub tls_roots: crate::egress::upstream::tls::Roots,

    /// HTTP CONNECT proxy for egress, e.g. http://proxy.corp:3128 (HTTPS_PROXY is used when unset).
    #[arg(long, env = "SENTRY_PROXY_EGRESS_PROXY", hide_env_values = true)]
    pub egress_proxy: Option<String>,

    /// Outbound body compression: zstd costs a third of gzip's CPU for the same size; an
    /// upstream that refuses it gets gzip from then on.
    #[arg(long, env = "SENTRY_PROXY_UPSTREAM_COMPRESSION", value_enum, default_value_t = crate::egress::upstream::client::Compression::Zstd)]
    pub upstream_compression: crate::egress::upstream::client::Compression,

    /// Compression level (gzip 1-9, zstd 1-19); low levels cost little CPU for most of the gain.
    #[arg(
        long,
        env = "SENTRY_PROXY_UPSTREAM_COMPRESSION_LEVEL",
        default_value_t = 3
    )]
    pub upstream_compression_level: u32,

    /// Time for one upstream request, connection included.
    #[arg(long, env = "SENTRY_PROXY_UPSTREAM_TIMEOUT", default_value = "30s")]
    pub upstream_timeout: String,

    /// Time to open a TCP connection to the upstream (or the egress proxy).
    #[arg(long, env = "SENTRY_PROXY_CONNECT_TIMEOUT", default_value = "10s")]
    pub connect_timeout: String,

    /// Concurrent upstream requests (and idle keep-alive connections): the outbound rate is
    /// about senders / upstream latency, e.g. 32 at 30 ms is ~1,000 envelopes/s.
    #[arg(long, env = "SENTRY_PROXY_SENDERS", default_value_t = 32)]
    pub senders: usize,

    /// Most envelopes waiting for the upstream in memory; past it, 429 to the SDK (or the spool).
    #[arg(
        long,
        env = "SENTRY_PROXY_QUEUE_MAX_ENVELOPES",
        default_value_t = 10_000
    )]
    pub queue_max_envelopes: usize,

    /// Most bytes waiting for the upstream in memory.
    #[arg(long, env = "SENTRY_PROXY_QUEUE_MAX_BYTES", default_value = "16MiB")]
    pub queue_max_bytes: String,

    /// Give up retrying an envelope this long after it was accepted.
    #[arg(long, env = "SENTRY_PROXY_RETRY_MAX_AGE", default_value = "1h")]
    pub retry_max_age: String,

    /// First retry delay after a 5xx, timeout or network error; it doubles each attempt
    /// (with jitter) up to --retry-backoff-max.
    #[arg(long, env = "SENTRY_PROXY_RETRY_BACKOFF_BASE", default_value = "500ms")]
    pub retry_backoff_base: String,

    /// Longest retry delay.
    #[arg(long, env = "SENTRY_PROXY_RETRY_BACKOFF_MAX", default_value = "60s")]
    pub retry_backoff_max: String,

    /// Folder for the disk spool (scrubbed envelopes only), replayed at start: every envelope
    /// before its 200 (durable mode), or the queue's overflow and shutdown's leftovers.
    #[arg(long, env = "SENTRY_PROXY_SPOOL_DIR")]
    pub spool_dir: Option<PathBuf>,

    /// Most bytes in the spool. Durable mode: past it new envelopes get 503 spool_full;
    /// overflow mode: the oldest envelopes are dropped (and counted).
    #[arg(long, env = "SENTRY_PROXY_SPOOL_MAX_BYTES", default_value = "1GiB")]
    pub spool_max_bytes: String,

    /// `durable` (default): every envelope goes to the spool before the SDK's 200;
    /// `overflow`: only when the queue is full and at shutdown.
    #[arg(long, env = "SENTRY_PROXY_SPOOL_MODE", value_enum, default_value_t = SpoolMode::Durable)]
    pub spool_mode: SpoolMode,

    /// Durable spool: `batch` (one fsync per group of concurrent requests), `always` (one per
    /// envelope) or `off` (no fsync: a machine crash can lose acknowledged envelopes).
    #[arg(long, env = "SENTRY_PROXY_SPOOL_FSYNC", value_enum, default_value_t = SpoolFsync::Batch)]
    pub spool_fsync: SpoolFsync,

    /// On SIGTERM/SIGINT, time to drain the queue before spooling what is left.
    #[arg(long, env = "SENTRY_PROXY_SHUTDOWN_TIMEOUT", default_value = "10s")]
    pub shutdown_timeout: String,

    /// Bearer token for the admin endpoints that act or show content (/consent/refresh,
    /// /audit/recent). Without it those endpoints are disabled.
    #[arg(long, env = "SENTRY_PROXY_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Most concurrent connections on the admin listener (probes, scrapes, refreshes); more
    /// wait in the kernel's backlog, so a flood there cannot take the SDK port's file descriptors.
    #[arg(long, env = "SENTRY_PROXY_ADMIN_MAX_CONNECTIONS", default_value_t = 64)]
    pub admin_max_connections: usize,

    /// How many recently sent envelopes /audit/recent keeps.
    #[arg(long, env = "SENTRY_PROXY_AUDIT_SIZE", default_value_t = 50)]
    pub audit_size: usize,

    /// Most traces remembered with their company, so that a later envelope of a trace is
    /// attributed to it (about 120 bytes each; 0 turns the trace map off).
    #[arg(
        long,
        env = "SENTRY_PROXY_TRACE_MAP_MAX_ENTRIES",
        default_value_t = 100_000
    )]
    pub trace_map_max_entries: usize,

    /// How long a trace's company is remembered after an item first named it.
    #[arg(long, env = "SENTRY_PROXY_TRACE_MAP_TTL", default_value = "5m")]
    pub trace_map_ttl: String,

    /// Scrubbing policy.
    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Consent.
    #[command(flatten)]
    pub consent: ConsentArgs,
}
