//! What ingest is configured with: which keys and projects are accepted and where each
//! goes, size caps and inbound timeouts. Built by `config`, read only by ingest.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::dsn::Dsn;

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
