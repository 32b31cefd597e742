//! One validated, typed configuration built from the CLI. Every problem is gathered before
//! failing, so an operator fixes them all in one go (exit code 64).

use std::collections::HashMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::{
    ConsentArgs, ExceptionMessages, LogFormat, LogMessages, PolicyArgs, ServeArgs, UnattributedArg,
};
use crate::dsn::{Dsn, Scheme};

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
    /// Shutdown drain time.
    pub shutdown_timeout: Duration,
}

/// Consent sources and policy.
#[derive(Debug, Clone)]
pub struct ConsentConfig {
    /// The consent document file, if any.
    pub file: Option<PathBuf>,
    /// The consent URL, if any.
    pub url: Option<http::Uri>,
    /// Poll interval of the URL.
    pub poll_interval: Duration,
    /// Longest time a document stays in force without confirmation.
    pub max_age: Duration,
    /// TLS for an https consent URL (same trust as the upstream).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Items without a company.
    pub unattributed: consent::Unattributed,
    /// No source configured (dry run only): assume telemetry on for every company, no IDs.
    pub assume_without_source: bool,
}

/// Size caps on what the SDKs send.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Request body as received (compressed).
    pub max_body: usize,
    /// Codec limits: decompressed envelope and event items.
    pub envelope: envelope::Limits,
}

/// Inbound connection handling.
#[derive(Debug, Clone, Copy)]
pub struct Inbound {
    /// Time to receive request headers.
    pub header_read_timeout: Duration,
    /// Time to receive a whole body.
    pub body_read_timeout: Duration,
    /// Concurrent connections.
    pub max_connections: usize,
}

/// Where scrubbed envelopes go.
#[derive(Debug, Clone)]
pub enum Output {
    /// Dry run to stdout.
    Stdout,
    /// Dry run, one file per envelope in this folder.
    Outbox(PathBuf),
    /// The real upstream.
    Upstream(Box<UpstreamOutput>),
}

/// Everything the egress half needs.
#[derive(Debug, Clone)]
pub struct UpstreamOutput {
    /// Client settings.
    pub client: crate::upstream::UpstreamConfig,
    /// Retry, drain and sender settings.
    pub settings: crate::egress::EgressSettings,
    /// Queue bound: envelopes.
    pub queue_max_envelopes: usize,
    /// Queue bound: bytes.
    pub queue_max_bytes: usize,
    /// Spool folder and cap.
    pub spool: Option<(PathBuf, u64)>,
    /// Audit ring size.
    pub audit_size: usize,
}

/// Inbound (key, project) to upstream DSN.
#[derive(Debug, Clone)]
pub enum Routes {
    /// Dry run without upstream: any key and project is accepted.
    AcceptAny,
    /// Only these keys, each with its projects.
    Mapped(Arc<HashMap<String, HashMap<String, Arc<Dsn>>>>),
}

/// Why a (key, project) pair was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// The key is not known at all.
    UnknownKey,
    /// The key is known, but not for this project.
    UnknownProject,
}

impl Routes {
    /// Is the key known at all (checked before reading the body)?
    pub fn knows_key(&self, key: &str) -> bool {
        match self {
            Routes::AcceptAny => true,
            Routes::Mapped(m) => m.contains_key(key),
        }
    }

    /// The upstream for an inbound key and project; `None` upstream in accept-any dry run.
    pub fn resolve(&self, key: &str, project: &str) -> Result<Option<Arc<Dsn>>, RouteError> {
        match self {
            Routes::AcceptAny => Ok(None),
            Routes::Mapped(m) => {
                let projects = m.get(key).ok_or(RouteError::UnknownKey)?;
                projects
                    .get(project)
                    .cloned()
                    .map(Some)
                    .ok_or(RouteError::UnknownProject)
            }
        }
    }
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
        let listen = addr("--listen", &a.listen, &mut errs);
        let admin_listen = addr("--admin-listen", &a.admin_listen, &mut errs);
        let max_body = size("--max-body-size", &a.max_body_size, &mut errs);
        let max_envelope = size("--max-envelope-size", &a.max_envelope_size, &mut errs);
        let max_event = size("--max-event-size", &a.max_event_size, &mut errs);
        let header_read_timeout =
            duration("--header-read-timeout", &a.header_read_timeout, &mut errs);
        let body_read_timeout = duration("--body-read-timeout", &a.body_read_timeout, &mut errs);
        if a.max_connections == 0 {
            errs.push("--max-connections must be at least 1".into());
        }

        let mut map: HashMap<String, HashMap<String, Arc<Dsn>>> = HashMap::new();
        let mut upstreams: Vec<Arc<Dsn>> = Vec::new();
        let mut add =
            |local: (String, String), up: Arc<Dsn>, what: &str, errs: &mut Vec<String>| {
                let projects = map.entry(local.0).or_default();
                if let Some(prev) = projects.get(&local.1) {
                    if prev != &up {
                        errs.push(format!(
                            "{what}: inbound key and project {} already map to another upstream",
                            local.1
                        ));
                    }
                }
                projects.insert(local.1, up);
            };
        for (i, s) in a.upstream_dsn.iter().enumerate() {
            match s.parse::<Dsn>() {
                Ok(d) => {
                    let d = Arc::new(d);
                    upstreams.push(d.clone());
                    add(
                        (d.public_key.clone(), d.project_id.clone()),
                        d,
                        "--upstream-dsn",
                        &mut errs,
                    );
                }
                Err(e) => errs.push(format!("--upstream-dsn #{}: {e}", i + 1)),
            }
        }
        let mut map_lines: Vec<(String, String)> = a
            .project_map
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("--project-map #{}", i + 1), s.clone()))
            .collect();
        if let Some(path) = &a.project_map_file {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    for (n, line) in text.lines().enumerate() {
                        let line = line.trim();
                        if !line.is_empty() && !line.starts_with('#') {
                            map_lines
                                .push((format!("{}:{}", path.display(), n + 1), line.to_owned()));
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
        for (what, line) in map_lines {
            let Some((local, up)) = line.split_once('=') else {
                errs.push(format!("{what}: expected LOCAL_DSN=UPSTREAM_DSN"));
                continue;
            };
            match (local.trim().parse::<Dsn>(), up.trim().parse::<Dsn>()) {
                (Ok(l), Ok(u)) => {
                    let u = Arc::new(u);
                    upstreams.push(u.clone());
                    add((l.public_key, l.project_id), u, &what, &mut errs);
                }
                (Err(e), _) => errs.push(format!("{what}: local DSN: {e}")),
                (_, Err(e)) => errs.push(format!("{what}: upstream DSN: {e}")),
            }
        }
        if let Some(first) = upstreams.first() {
            if upstreams.iter().any(|u| u.origin() != first.origin()) {
                errs.push("all upstream DSNs must share one scheme, host and port: the proxy talks to one upstream host".into());
            }
            if first.scheme == Scheme::Http && !a.insecure_upstream {
                errs.push("an http:// upstream needs --insecure-upstream (HTTPS is required in production)".into());
            }
        }

        let dry_run = a.dry_run || upstreams.is_empty();
        if a.outbox.is_some() && !dry_run {
            errs.push(
                "--outbox is a dry-run output: add --dry-run or remove --upstream-dsn".into(),
            );
        }
        let upstream_timeout = duration("--upstream-timeout", &a.upstream_timeout, &mut errs);
        let connect_timeout = duration("--connect-timeout", &a.connect_timeout, &mut errs);
        let queue_max_bytes = size("--queue-max-bytes", &a.queue_max_bytes, &mut errs);
        let retry_max_age = duration("--retry-max-age", &a.retry_max_age, &mut errs);
        let spool_max_bytes = size("--spool-max-bytes", &a.spool_max_bytes, &mut errs);
        let shutdown_timeout = duration("--shutdown-timeout", &a.shutdown_timeout, &mut errs);
        if a.senders == 0 {
            errs.push("--senders must be at least 1".into());
        }
        if a.queue_max_envelopes == 0 {
            errs.push("--queue-max-envelopes must be at least 1".into());
        }
        let level_ok = match a.upstream_compression {
            crate::upstream::Compression::Gzip => (1..=9).contains(&a.upstream_compression_level),
            crate::upstream::Compression::Zstd => (1..=19).contains(&a.upstream_compression_level),
            crate::upstream::Compression::None => true,
        };
        if !level_ok {
            errs.push("--upstream-compression-level: gzip takes 1-9, zstd 1-19".into());
        }
        if let Some(t) = &a.admin_token {
            if t.len() < 16 {
                errs.push("--admin-token: use at least 16 characters".into());
            }
        }
        if !dry_run && a.consent.consent_file.is_none() && a.consent.consent_url.is_none() {
            errs.push("a real upstream needs a consent source: set --consent-file or --consent-url (or use --dry-run)".into());
        }
        let tls = match crate::upstream::tls::client_config(a.tls_roots, a.upstream_ca.as_deref()) {
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
                (Some(first), Some(tls)) => Output::Upstream(Box::new(UpstreamOutput {
                    client: crate::upstream::UpstreamConfig {
                        host: first.host.clone(),
                        port: first.port.unwrap_or(if first.scheme == Scheme::Http {
                            80
                        } else {
                            443
                        }),
                        insecure: a.insecure_upstream,
                        tls,
                        proxy: proxy.as_ref().map(|p| p.0.clone()),
                        proxy_auth: proxy.and_then(|p| p.1),
                        compression: a.upstream_compression,
                        level: a.upstream_compression_level,
                        connect_timeout: connect_timeout.unwrap_or_default(),
                        request_timeout: upstream_timeout.unwrap_or_default(),
                        pool_size: a.senders,
                    },
                    settings: crate::egress::EgressSettings {
                        senders: a.senders,
                        retry_max_age: retry_max_age.unwrap_or_default(),
                        backoff_base: Duration::from_millis(500),
                        backoff_max: Duration::from_secs(60),
                    },
                    queue_max_envelopes: a.queue_max_envelopes,
                    queue_max_bytes: queue_max_bytes.unwrap_or_default(),
                    spool: a
                        .spool_dir
                        .clone()
                        .map(|d| (d, spool_max_bytes.unwrap_or_default() as u64)),
                    audit_size: a.audit_size,
                })),
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
            listen: listen.unwrap_or_else(unreachable_addr),
            admin_listen: admin_listen.unwrap_or_else(unreachable_addr),
            routes,
            output,
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
            log_format: a.log_format,
            log_filter: a.log,
            ready_file: a.ready_file,
            worker_threads: a.worker_threads,
            policy: policy.ok_or_else(|| ConfigErrors(vec!["policy".into()]))?,
            consent,
            admin_token: a.admin_token,
            shutdown_timeout: shutdown_timeout.unwrap_or_default(),
        })
    }
}

// Only reached when errs was empty, i.e. the address parsed.
fn unreachable_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

impl Config {
    /// The effective configuration, secrets masked, for `config show` and the start-up log.
    pub fn show(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "listen = {}", self.listen);
        let _ = writeln!(s, "admin_listen = {}", self.admin_listen);
        match &self.routes {
            Routes::AcceptAny => {
                let _ = writeln!(s, "routes = any key and project (dry run without upstream)");
            }
            Routes::Mapped(m) => {
                let mut lines: Vec<String> = m
                    .iter()
                    .flat_map(|(k, ps)| {
                        ps.iter().map(move |(p, d)| {
                            format!(
                                "route = {}…/{} -> {}",
                                k.get(..4).unwrap_or(""),
                                p,
                                d.masked()
                            )
                        })
                    })
                    .collect();
                lines.sort();
                for l in lines {
                    let _ = writeln!(s, "{l}");
                }
            }
        }
        match &self.output {
            Output::Stdout => {
                let _ = writeln!(s, "output = dry run to stdout");
            }
            Output::Outbox(d) => {
                let _ = writeln!(s, "output = dry run to outbox {}", d.display());
            }
            Output::Upstream(u) => {
                let _ = writeln!(s, "output = upstream {}:{}", u.client.host, u.client.port);
                if let Some(p) = &u.client.proxy {
                    let _ = writeln!(s, "egress_proxy = {p}");
                }
                let _ = writeln!(
                    s,
                    "compression = {:?} level {}",
                    u.client.compression, u.client.level
                );
                let _ = writeln!(s, "senders = {}", u.settings.senders);
                let _ = writeln!(
                    s,
                    "queue = {} envelopes, {} bytes",
                    u.queue_max_envelopes, u.queue_max_bytes
                );
                match &u.spool {
                    Some((d, max)) => {
                        let _ = writeln!(s, "spool = {} (max {} bytes)", d.display(), max);
                    }
                    None => {
                        let _ = writeln!(s, "spool = none");
                    }
                }
                let _ = writeln!(s, "retry_max_age = {:?}", u.settings.retry_max_age);
            }
        }
        let _ = writeln!(s, "max_body_size = {}", self.limits.max_body);
        let _ = writeln!(
            s,
            "max_envelope_size = {}",
            self.limits.envelope.max_envelope_bytes
        );
        let _ = writeln!(
            s,
            "max_event_size = {}",
            self.limits.envelope.max_event_bytes
        );
        let _ = writeln!(
            s,
            "header_read_timeout = {:?}",
            self.inbound.header_read_timeout
        );
        let _ = writeln!(
            s,
            "body_read_timeout = {:?}",
            self.inbound.body_read_timeout
        );
        let _ = writeln!(s, "max_connections = {}", self.inbound.max_connections);
        let _ = writeln!(
            s,
            "worker_threads = {}",
            if self.worker_threads == 0 {
                "one per CPU".to_owned()
            } else {
                self.worker_threads.to_string()
            }
        );
        let consent = match (&self.consent.file, &self.consent.url) {
            (Some(f), _) => format!("file {}", f.display()),
            (None, Some(u)) => format!("url {} every {:?}", u, self.consent.poll_interval),
            (None, None) if self.consent.assume_without_source => {
                "none (dry run assumes telemetry on for every company, no IDs)".to_owned()
            }
            (None, None) => "none".to_owned(),
        };
        let _ = writeln!(s, "consent = {consent}");
        let _ = writeln!(s, "consent_max_age = {:?}", self.consent.max_age);
        let _ = writeln!(
            s,
            "unattributed = {}",
            match self.consent.unattributed {
                consent::Unattributed::Drop => "drop",
                consent::Unattributed::Forward => "forward",
            }
        );
        let _ = writeln!(
            s,
            "admin_token = {}",
            if self.admin_token.is_some() {
                "set"
            } else {
                "not set (refresh and audit off)"
            }
        );
        let p = self.policy.config();
        let _ = writeln!(s, "exception_messages = {:?}", p.exception_messages);
        let _ = writeln!(s, "log_messages = {:?}", p.log_messages);
        let _ = writeln!(s, "company_tag = {}", p.company_tag);
        s
    }
}

/// The CONNECT proxy: the flag, else `HTTPS_PROXY`/`https_proxy` unless `NO_PROXY` names the
/// upstream host. Returns the proxy URI and its `Proxy-Authorization` (from userinfo).
#[allow(clippy::disallowed_methods)] // config.rs is the one place that reads the environment
fn egress_proxy(
    flag: Option<&str>,
    upstream_host: Option<&str>,
    errs: &mut Vec<String>,
) -> Option<(http::Uri, Option<http::HeaderValue>)> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let (value, what) = match flag {
        Some(v) => (v.to_owned(), "--egress-proxy"),
        None => {
            let v = env("HTTPS_PROXY").or_else(|| env("https_proxy"))?;
            let no_proxy = env("NO_PROXY")
                .or_else(|| env("no_proxy"))
                .unwrap_or_default();
            let host = upstream_host?;
            if no_proxy
                .split(',')
                .map(str::trim)
                .any(|n| n == "*" || n == host || (n.starts_with('.') && host.ends_with(n)))
            {
                return None;
            }
            (v, "HTTPS_PROXY")
        }
    };
    let uri: http::Uri = match value.parse() {
        Ok(u) => u,
        Err(_) => {
            errs.push(format!("{what}: expected http://host:port"));
            return None;
        }
    };
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        errs.push(format!(
            "{what}: expected http://host:port (a CONNECT proxy)"
        ));
        return None;
    }
    let auth = uri
        .authority()
        .and_then(|a| a.as_str().rsplit_once('@'))
        .map(|(userinfo, _)| {
            use base64::Engine as _;
            let token = base64::engine::general_purpose::STANDARD.encode(userinfo);
            http::HeaderValue::from_str(&format!("Basic {token}")).ok()
        });
    let port = uri.port_u16().unwrap_or(80);
    let host = uri.host().unwrap_or_default();
    let clean: http::Uri = format!("http://{host}:{port}").parse().ok()?;
    Some((clean, auth.flatten()))
}

/// Compiles the scrubbing policy from its flags; a detector that does not build is an error.
pub fn policy(a: &PolicyArgs, errs: &mut Vec<String>) -> Option<Arc<scrub::Policy>> {
    let config = scrub::PolicyConfig {
        exception_messages: match a.exception_messages {
            ExceptionMessages::Technical => scrub::MessageMode::Technical,
            ExceptionMessages::Detect => scrub::MessageMode::Detect,
            ExceptionMessages::Drop => scrub::MessageMode::Drop,
        },
        technical_exception_types: a
            .technical_exceptions
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        log_messages: match a.log_messages {
            LogMessages::Template => scrub::LogMode::Template,
            LogMessages::Detect => scrub::LogMode::Detect,
            LogMessages::Drop => scrub::LogMode::Drop,
        },
        company_tag: a.company_tag.trim().to_owned(),
        extra_tags: a
            .keep_tags
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        request_headers: a
            .keep_headers
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        keep_server_name: a.keep_server_name,
        allow_profiles: a.allow_profiles,
        allow_check_ins: a.allow_check_ins,
    };
    match scrub::Policy::new(config) {
        Ok(p) => Some(Arc::new(p)),
        Err(scrub::PolicyError::EmptyCompanyTag) => {
            errs.push("--company-tag: must not be empty".into());
            None
        }
        Err(e) => {
            errs.push(format!("scrubbing policy: {e}"));
            None
        }
    }
}

/// Consent flags; without any source, only a dry run may start (it then assumes consent).
pub fn consent_config(a: &ConsentArgs, dry_run: bool, errs: &mut Vec<String>) -> ConsentConfig {
    let poll_interval = duration("--consent-poll-interval", &a.consent_poll_interval, errs);
    let max_age = duration("--consent-max-age", &a.consent_max_age, errs);
    if a.consent_file.is_some() && a.consent_url.is_some() {
        errs.push("--consent-file and --consent-url: choose one source of truth".into());
    }
    let url = a
        .consent_url
        .as_deref()
        .and_then(|u| match u.parse::<http::Uri>() {
            Ok(uri)
                if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() =>
            {
                Some(uri)
            }
            _ => {
                errs.push("--consent-url: expected an http:// or https:// URL".into());
                None
            }
        });
    ConsentConfig {
        file: a.consent_file.clone(),
        url,
        poll_interval: poll_interval.unwrap_or(Duration::from_secs(30)),
        max_age: max_age.unwrap_or(Duration::from_secs(900)),
        tls: None,
        unattributed: match a.unattributed {
            UnattributedArg::Drop => consent::Unattributed::Drop,
            UnattributedArg::Forward => consent::Unattributed::Forward,
        },
        assume_without_source: dry_run && a.consent_file.is_none() && a.consent_url.is_none(),
    }
}

fn addr(flag: &str, s: &str, errs: &mut Vec<String>) -> Option<SocketAddr> {
    s.parse()
        .map_err(|_| errs.push(format!("{flag}: expected IP:PORT, e.g. 127.0.0.1:9000")))
        .ok()
}

/// Parses `20MiB`, `1MB`, `512KiB`, `1048576`.
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num.parse().ok()?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult).filter(|&v| v > 0)
}

fn size(flag: &str, s: &str, errs: &mut Vec<String>) -> Option<usize> {
    let v = parse_size(s);
    if v.is_none() {
        errs.push(format!(
            "{flag}: expected a positive size such as 20MiB, 512KiB or 1048576"
        ));
    }
    v
}

/// Parses `500ms`, `10s`, `5m`, `1h`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        _ => return None,
    };
    Some(d).filter(|d| !d.is_zero())
}

fn duration(flag: &str, s: &str, errs: &mut Vec<String>) -> Option<Duration> {
    let v = parse_duration(s);
    if v.is_none() {
        errs.push(format!(
            "{flag}: expected a positive duration such as 500ms, 10s or 5m"
        ));
    }
    v
}

#[cfg(test)]
mod tests;
