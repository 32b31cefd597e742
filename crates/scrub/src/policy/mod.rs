//! The policy: what an operator can loosen, compiled once per configuration.

mod pattern;

pub use pattern::{pattern_error, pattern_matches};

use crate::detect::{DetectorError, Detectors};
use crate::exception_text::{PatternError, Templates};
use crate::words::Vocabulary;
use crate::work::WorkBudget;

/// What to do with exception messages (`exception.values[].value`), where prompts and
/// document text leak (`f"search failed for {query}"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageMode {
    /// Keep a message only as a known template of the standard library or a common
    /// framework, each variable part judged (names of code stay, hosts outside the
    /// allowlist and values become placeholders), then the detectors; replace every other
    /// message with `[filtered]`. No type is technical by its name alone. The default.
    #[default]
    Template,
    /// Keep every message after the detectors (looser: free text the detectors do not
    /// recognise, such as a prompt, passes).
    Detect,
    /// Replace every message.
    Drop,
}

/// What to do with log messages (`logentry`, `message`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogMode {
    /// Keep the template only when it has placeholders and came with its parameters (then it
    /// is code, not data); parameters and the formatted text always go. The default.
    #[default]
    Template,
    /// Keep the template (without parameters) after the detectors, even without placeholders.
    Detect,
    /// Replace every log message.
    Drop,
}

/// Operator-facing options. Defaults are the strict policy of `docs/scrubbing-policy.md`.
#[derive(Debug, Clone)]
pub struct PolicyConfig {
    /// Exception message handling.
    pub exception_messages: MessageMode,
    /// Exception types whose messages the operator wants kept whole (after the detectors)
    /// instead of as templates: a looser, explicit choice, empty by default. Matched on the
    /// type name, with or without module (`OperationalError` matches
    /// `django.db.utils.OperationalError`).
    pub technical_exception_types: Vec<String>,
    /// Log message handling.
    pub log_messages: LogMode,
    /// The tag that carries the company id (kept only when IDs are allowed).
    pub company_tag: String,
    /// Tags kept besides the built-in technical ones (values still pass the detectors).
    pub extra_tags: Vec<String>,
    /// Request headers kept (case-insensitive), values pass the detectors.
    pub request_headers: Vec<String>,
    /// Keep `server_name` (the host name); off by default.
    pub keep_server_name: bool,
    /// Forward `profile` and `profile_chunk` items (technical: stacks and timings).
    pub allow_profiles: bool,
    /// Forward `check_in` items (cron monitors).
    pub allow_check_ins: bool,
    /// Release names kept although they do not look like versions or hashes: exact names,
    /// or patterns where `*` stands for any run of characters (`acme-web@*`).
    pub allowed_releases: Vec<String>,
    /// Environment names kept although they are not known environment words: exact names,
    /// or `*` patterns (`*-staging`).
    pub allowed_environments: Vec<String>,
    /// Keep frames' source lines (`pre_context`, `context_line`, `post_context`) with
    /// string literals and comments masked; off by default (the lines are removed).
    pub source_context: bool,
    /// Hosts kept in exception messages besides IP addresses, `localhost` and one-word
    /// service names made of code words (`db`, `redis`): exact names, or `.example.com`
    /// for a domain and its subdomains. Others become `[host]`.
    pub allowed_hosts: Vec<String>,
}

/// Tags kept by default: set by SDKs, technical by nature.
pub const DEFAULT_TAGS: &[&str] = &[
    "browser",
    "browser.name",
    "client_os",
    "client_os.name",
    "device",
    "device.family",
    "environment",
    "handled",
    "level",
    "mechanism",
    "os",
    "os.name",
    "runtime",
    "runtime.name",
    "celery_task_id",
    "celery.task",
    "http.status_code",
    "status_code",
];

/// Request headers kept by default.
pub const DEFAULT_HEADERS: &[&str] = &["Content-Type", "Content-Length", "Accept"];

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            exception_messages: MessageMode::Template,
            technical_exception_types: Vec::new(),
            log_messages: LogMode::Template,
            company_tag: "company_id".to_owned(),
            extra_tags: Vec::new(),
            request_headers: DEFAULT_HEADERS.iter().map(|s| (*s).to_owned()).collect(),
            keep_server_name: false,
            allow_profiles: false,
            allow_check_ins: false,
            allowed_releases: Vec::new(),
            allowed_environments: Vec::new(),
            source_context: false,
            allowed_hosts: Vec::new(),
        }
    }
}

/// Why a policy could not be built. A detector that does not build is a start-up error,
/// never a silently skipped rule.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A detector failed to compile.
    #[error("detector: {0}")]
    Detector(#[from] DetectorError),
    /// The company tag name is empty.
    #[error("the company tag name must not be empty")]
    EmptyCompanyTag,
    /// A format of the exception-message catalog does not compile.
    #[error("exception-message catalog: {0}")]
    Catalog(#[from] PatternError),
    /// An allowed release or environment pattern is refused (see
    /// [`crate::pattern_error`]).
    #[error("{list} pattern {pattern:?}: {why}")]
    BadPattern {
        /// `allowed releases` or `allowed environments`.
        list: &'static str,
        /// The pattern as configured (operator input, not payload).
        pattern: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// A compiled policy: build once per configuration, share by reference.
#[derive(Debug)]
pub struct Policy {
    pub(crate) config: PolicyConfig,
    pub(crate) detectors: Detectors,
    pub(crate) templates: &'static Templates,
    /// The code vocabulary every rule that judges words reads.
    pub(crate) vocabulary: &'static Vocabulary,
    pub(crate) budget: WorkBudget,
}

impl Policy {
    /// Compiles the configuration and every detector.
    pub fn new(config: PolicyConfig) -> Result<Policy, PolicyError> {
        if config.company_tag.trim().is_empty() {
            return Err(PolicyError::EmptyCompanyTag);
        }
        for (list, patterns) in [
            ("allowed releases", &config.allowed_releases),
            ("allowed environments", &config.allowed_environments),
        ] {
            for p in patterns {
                if let Some(why) = pattern_error(p) {
                    return Err(PolicyError::BadPattern {
                        list,
                        pattern: p.clone(),
                        why,
                    });
                }
            }
        }
        Ok(Policy {
            config,
            detectors: Detectors::new()?,
            templates: Templates::shared()?,
            vocabulary: Vocabulary::shared(),
            budget: WorkBudget::default(),
        })
    }

    /// The same policy with another work budget per request (the default suits every
    /// legitimate envelope; see [`WorkBudget`]).
    #[must_use]
    pub fn with_work_budget(mut self, budget: WorkBudget) -> Policy {
        self.budget = budget;
        self
    }

    /// The work budget per request.
    pub fn work_budget(&self) -> WorkBudget {
        self.budget
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// The compiled detectors.
    pub fn detectors(&self) -> &Detectors {
        &self.detectors
    }

    /// The allowlist's own spelling of a kept tag (besides the company tag, which consent
    /// decides), or `None` when the tag goes.
    pub(crate) fn kept_tag(&self, key: &str) -> Option<&str> {
        DEFAULT_TAGS
            .iter()
            .copied()
            .find(|t| *t == key)
            .or_else(|| {
                self.config
                    .extra_tags
                    .iter()
                    .map(String::as_str)
                    .find(|t| *t == key)
            })
    }

    /// Did the operator ask for this exception type's messages to be kept whole?
    pub(crate) fn technical_exception(&self, ty: &str, module: Option<&str>) -> bool {
        let short = ty.rsplit('.').next().unwrap_or(ty);
        self.config.technical_exception_types.iter().any(|t| {
            t == ty
                || t == short
                || module.is_some_and(|m| {
                    t.len() == m.len() + 1 + ty.len() && t.starts_with(m) && t.ends_with(ty)
                })
        })
    }
}
