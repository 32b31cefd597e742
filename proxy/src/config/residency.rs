//! The EU residency guard: every upstream host must be an EU ingest host, either Sentry's EU
//! region (`*.ingest.de.sentry.io`, built in) or a host the operator names with
//! `--eu-upstream-hosts` (a self-hosted Sentry or Bugsink in their EU data centre). The product
//! promises that diagnostic data is stored only in the EU; a US DSN pasted by mistake
//! (`o1.ingest.sentry.io`, `o1.ingest.us.sentry.io`) must stop the proxy at start, not leak
//! for days. `--allow-non-eu-upstream` turns the guard off, loudly: `config show`, `/readyz`
//! and the start-up log all say so.
//!
//! Pure: host names in, a verdict or the errors out. The configuration runs every upstream
//! DSN it reads (flags, env vars, the project-map file) through [`Residency::check`], and
//! the proxy reads its configuration only at start, so there is no other way in.

use std::net::IpAddr;

/// The hosts of Sentry's EU region that ingest events (`o123.ingest.de.sentry.io`).
pub const BUILT_IN: &[&str] = &["*.ingest.de.sentry.io"];

/// The flag that names the operator's own EU hosts.
pub const HOSTS_FLAG: &str = "--eu-upstream-hosts";
/// The flag that turns the guard off.
pub const OPT_OUT_FLAG: &str = "--allow-non-eu-upstream";

/// One allowlist entry: an exact host, or `*.suffix` (any host under the suffix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// This host only (a name or an IP address).
    Exact(String),
    /// Any host ending in `.{suffix}`, not the suffix itself.
    Suffix(String),
}

impl HostPattern {
    /// Parses one entry; `None` when it is not a host name, IP address or `*.suffix`.
    pub fn parse(entry: &str) -> Option<HostPattern> {
        let entry = normalize(entry);
        if let Some(suffix) = entry.strip_prefix("*.") {
            return is_dns_name(suffix).then(|| HostPattern::Suffix(suffix.to_owned()));
        }
        (is_dns_name(&entry) || entry.parse::<IpAddr>().is_ok())
            .then_some(HostPattern::Exact(entry))
    }

    /// Whether `host` (already normalized) is allowed by this entry.
    fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => h == host,
            HostPattern::Suffix(s) => host
                .strip_suffix(s.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        }
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostPattern::Exact(h) => f.write_str(h),
            HostPattern::Suffix(s) => write!(f, "*.{s}"),
        }
    }
}

/// What the guard does, decided once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Residency {
    /// Every upstream host must match the built-in list or the operator's entries.
    Enforced {
        /// The operator's `--eu-upstream-hosts` entries.
        operator: Vec<HostPattern>,
    },
    /// `--allow-non-eu-upstream`: any host is accepted, and the proxy says so everywhere.
    OptedOut,
}

impl Residency {
    /// Builds the guard from the two flags; bad entries are added to `errs`.
    pub fn from_flags(hosts: &[String], opt_out: bool, errs: &mut Vec<String>) -> Residency {
        let mut operator = Vec::new();
        for entry in hosts.iter().filter(|e| !e.trim().is_empty()) {
            match HostPattern::parse(entry) {
                Some(p) => operator.push(p),
                None => errs.push(format!(
                    "{HOSTS_FLAG}: {entry:?} is not a host name, IP address or *.domain pattern"
                )),
            }
        }
        if opt_out {
            Residency::OptedOut
        } else {
            Residency::Enforced { operator }
        }
    }

    /// Checks the host of an upstream DSN named by `what` (the flag or file line it came
    /// from); the error says which flags would accept it.
    pub fn check(&self, what: &str, host: &str) -> Result<(), String> {
        match self.allowed_by(host) {
            Some(_) => Ok(()),
            None => Err(format!(
                "{what}: upstream host {host} is not an EU ingest host: diagnostic data must stay \
                 in the EU. Use Sentry's EU region (*.ingest.de.sentry.io), add your own EU host \
                 with {HOSTS_FLAG}, or opt out with {OPT_OUT_FLAG}"
            )),
        }
    }

    /// The entry that allows `host` (`"any host (--allow-non-eu-upstream)"` when opted out),
    /// or `None`.
    pub fn allowed_by(&self, host: &str) -> Option<String> {
        let host = normalize(host);
        match self {
            Residency::OptedOut => Some(format!("any host ({OPT_OUT_FLAG})")),
            Residency::Enforced { operator } => {
                let built_in = BUILT_IN
                    .iter()
                    .filter_map(|e| HostPattern::parse(e))
                    .find(|p| p.matches(&host))
                    .map(|p| format!("{p} (built in)"));
                built_in.or_else(|| {
                    operator
                        .iter()
                        .find(|p| p.matches(&host))
                        .map(|p| format!("{p} ({HOSTS_FLAG})"))
                })
            }
        }
    }
}

/// Lower case, no brackets around an IPv6 address, no trailing dot (`example.eu.` and
/// `example.eu` are one host).
fn normalize(host: &str) -> String {
    let host = host.trim();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// Letters, digits and hyphens in dot-separated labels (IDNA names arrive as `xn--` here).
fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The guard's outcome for the running proxy, reported by `config show`, `/readyz` and the
/// start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EuResidency {
    /// Dry run: nothing is sent, so there is nothing to check.
    NotApplicable,
    /// The upstream host passed the guard.
    Enforced {
        /// The upstream host.
        host: String,
        /// The entry that allowed it, and where the entry comes from.
        allowed_by: String,
    },
    /// `--allow-non-eu-upstream`: the upstream host was not checked.
    OptedOut {
        /// The upstream host.
        host: String,
    },
}

impl EuResidency {
    /// The outcome for the upstream `host` (`None`: dry run), once every DSN passed `guard`.
    pub fn new(guard: &Residency, host: Option<&str>) -> EuResidency {
        match (host, guard) {
            (None, _) => EuResidency::NotApplicable,
            (Some(h), Residency::OptedOut) => EuResidency::OptedOut { host: h.to_owned() },
            (Some(h), Residency::Enforced { .. }) => EuResidency::Enforced {
                host: h.to_owned(),
                allowed_by: guard.allowed_by(h).unwrap_or_default(),
            },
        }
    }

    /// One line for `config show` (after `eu_residency = `).
    pub fn describe(&self) -> String {
        match self {
            EuResidency::NotApplicable => "not applicable (dry run: nothing is sent)".into(),
            EuResidency::Enforced { host, allowed_by } => {
                format!("enforced: upstream {host} allowed by {allowed_by}")
            }
            EuResidency::OptedOut { host } => {
                format!("NOT ENFORCED ({OPT_OUT_FLAG}): upstream {host} may be outside the EU")
            }
        }
    }

    /// The warning for `/readyz` and the start-up log when the guard is off.
    pub fn warning(&self) -> Option<String> {
        matches!(self, EuResidency::OptedOut { .. }).then(|| self.describe())
    }
}
