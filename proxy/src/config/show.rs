//! `config show`: the effective configuration, secrets masked.

use std::fmt::Write;

use super::secrets::mask_url;
use super::{Config, Output, Routes};

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
                    let auth = if u.client.proxy_auth.is_some() {
                        " (with credentials)"
                    } else {
                        ""
                    };
                    let _ = writeln!(s, "egress_proxy = {}{auth}", mask_url(p));
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
                        let _ = match u.spool_durable {
                            Some(fsync) => writeln!(s, "spool_mode = durable (fsync {fsync:?})"),
                            None => writeln!(s, "spool_mode = overflow"),
                        };
                    }
                    None => {
                        let _ = writeln!(s, "spool = none");
                    }
                }
                let _ = writeln!(s, "retry_max_age = {:?}", u.settings.retry_max_age);
            }
        }
        let _ = writeln!(s, "eu_residency = {}", self.eu_residency.describe());
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
        let _ = writeln!(s, "admin_max_connections = {}", self.admin_max_connections);
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
            (None, Some(u)) => {
                format!("url {} every {:?}", mask_url(u), self.consent.poll_interval)
            }
            (None, None) if self.consent.assume_without_source => {
                "none (dry run assumes telemetry on for every company, no IDs)".to_owned()
            }
            (None, None) => "none".to_owned(),
        };
        let _ = writeln!(s, "consent = {consent}");
        let _ = writeln!(s, "consent_max_age = {:?}", self.consent.max_age);
        let _ = writeln!(
            s,
            "consent_fetch_timeout = {:?}",
            self.consent.fetch_timeout
        );
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
            "trace_map = {} entries, {:?}",
            self.trace_map_max_entries, self.trace_map_ttl
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
        let _ = writeln!(s, "allowed_releases = {:?}", p.allowed_releases);
        let _ = writeln!(s, "allowed_environments = {:?}", p.allowed_environments);
        let _ = writeln!(s, "source_context = {}", p.source_context);
        let _ = writeln!(
            s,
            "technical_exceptions = {:?}",
            p.technical_exception_types
        );
        let _ = writeln!(s, "allowed_hosts = {:?}", p.allowed_hosts);
        s
    }
}
