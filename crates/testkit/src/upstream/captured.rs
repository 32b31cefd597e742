//! One request as the capture upstream received it.

use bytes::Bytes;
use http::{HeaderMap, Method};

/// A request received by the [`CaptureUpstream`](super::CaptureUpstream).
#[derive(Clone, Debug)]
pub struct Captured {
    /// The request method.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The query string without `?`, if the URL had one.
    pub query: Option<String>,
    /// The request headers, as sent.
    pub headers: HeaderMap,
    /// The body as sent on the wire (still compressed).
    pub raw_body: Bytes,
    /// The body decoded per `Content-Encoding`; equal to `raw_body` if decoding failed.
    pub body: Vec<u8>,
    /// Why decoding failed, if it did.
    pub decode_error: Option<String>,
    /// Which accepted TCP connection carried it, counting from 0 (keep-alive shows as reuse).
    pub connection: usize,
    /// The status the upstream answered, or `None` for [`Mode::Stall`](super::Mode::Stall)
    /// and [`Mode::Drop`](super::Mode::Drop).
    pub status: Option<u16>,
}

// === impl Captured ===

impl Captured {
    /// The first value of header `name` (case-insensitive), if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `{project}` of `/api/{project}/envelope/`, if the path has that shape.
    pub fn project(&self) -> Option<&str> {
        project_of(&self.path)
    }

    /// The decoded body as text (lossy), for assertions and failure messages.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The envelope header: the decoded body's first line parsed as JSON.
    pub fn envelope_header(&self) -> Option<serde_json::Value> {
        envelope_header(&self.body)
    }

    /// The envelope header's `event_id`, if any.
    pub fn event_id(&self) -> Option<String> {
        event_id(&self.body)
    }
}

/// `/api/{project}/envelope/` → `project`.
pub(super) fn project_of(path: &str) -> Option<&str> {
    let project = path.strip_prefix("/api/")?.strip_suffix("/envelope/")?;
    let valid = !project.is_empty() && !project.contains('/');
    valid.then_some(project)
}

pub(super) fn envelope_header(body: &[u8]) -> Option<serde_json::Value> {
    let line = body.split(|b| *b == b'\n').next()?;
    serde_json::from_slice(line).ok()
}

pub(super) fn event_id(body: &[u8]) -> Option<String> {
    let header = envelope_header(body)?;
    header.get("event_id")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_is_taken_from_envelope_paths_only() {
        assert_eq!(project_of("/api/42/envelope/"), Some("42"));
        assert_eq!(project_of("/api/42/store/"), None);
        assert_eq!(project_of("/api//envelope/"), None);
        assert_eq!(project_of("/api/1/2/envelope/"), None);
    }

    #[test]
    fn event_id_comes_from_the_first_line() {
        let body = b"{\"event_id\":\"abc\",\"dsn\":\"x\"}\n{\"type\":\"event\"}\n{}";
        assert_eq!(event_id(body).as_deref(), Some("abc"));
        assert_eq!(event_id(b"{}\n"), None);
        assert_eq!(event_id(b"not json"), None);
    }
}
