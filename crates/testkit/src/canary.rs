//! Planted secrets ("canaries") and the check that none of them left.
//!
//! [`event_envelope`] builds a realistic sentry-python error event with a canary in every
//! place that business or personal data hides: message, exception value, frame vars,
//! request body, query, cookies and headers, breadcrumbs, user, tags, extra, a custom
//! context and a home path. [`assert_no_canary`] then fails naming the canary and where it
//! was found. The company and user IDs are not canaries: they may leave under ID consent.
//!
//! ```
//! let envelope = testkit::canary::event_envelope("9ec79c33ec9942ab8353589fcb2e04dc", Some("c-1"), None);
//! assert!(!testkit::canary::find(&envelope).is_empty());
//! testkit::canary::assert_no_canary(b"{\"message\":\"[email] failed\"}", "example");
//! ```

use serde_json::{json, Value};

/// An email address.
pub const EMAIL: &str = "alice.canary@example.com";
/// A second email, with a `+` tag.
pub const EMAIL_TAGGED: &str = "bob.canary+billing@example.org";
/// An IPv4 address (TEST-NET-3).
pub const IPV4: &str = "203.0.113.77";
/// An IPv6 address (documentation range).
pub const IPV6: &str = "2001:db8::c0:ffee";
/// A Visa test card number that passes Luhn.
pub const CARD: &str = "4111 1111 1111 1111";
/// A Mastercard test number that passes Luhn.
pub const CARD_DASHED: &str = "5500-0000-0000-0004";
/// A French IBAN that passes mod-97.
pub const IBAN: &str = "FR14 2004 1010 0505 0001 3M02 606";
/// A French phone number.
pub const PHONE: &str = "+33 6 12 34 56 78";
/// A French NIR (social security number) with a valid key.
pub const NIR: &str = "2 84 12 75 108 035 85";
/// A MAC address.
pub const MAC: &str = "00:1a:2b:3c:4d:5e";
/// A JWT.
pub const JWT: &str =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnQ0FOQVJZc2lnbmF0dXJl";
/// A Stripe-style secret key.
pub const STRIPE_KEY: &str = "sk_live_CANARY4eC39HqLyjWDarjtT1zdp7dc";
/// A GitHub-style token.
pub const GITHUB_TOKEN: &str = "ghp_CANARYaBcDeFgHiJkLmNoPqRsTuVwXyZ0123";
/// An AWS access key id.
pub const AWS_KEY: &str = "AKIACANARY7EXAMPLE42";
/// A password, as found in `password=` pairs and URL credentials.
pub const PASSWORD: &str = "hunter2CANARYpw";
/// A user name found in home-directory paths.
pub const HOME_USER: &str = "jdoecanary";
/// The marker that starts every planted prompt: no part of a prompt may leave.
pub const PROMPT_MARKER: &str = "CANARYPROMPT";
/// A user prompt, as a GenAI assistant would receive it.
pub const PROMPT: &str = "CANARYPROMPT summarise the confidential merger memo for Northwind";
/// A document excerpt, as a search index would hold it.
pub const DOCUMENT: &str = "CANARYDOC Q3 board minutes: layoffs planned in Lyon";

const STRINGS: &[&str] = &[
    EMAIL,
    EMAIL_TAGGED,
    IPV4,
    IPV6,
    CARD,
    CARD_DASHED,
    IBAN,
    PHONE,
    NIR,
    MAC,
    JWT,
    STRIPE_KEY,
    GITHUB_TOKEN,
    AWS_KEY,
    PASSWORD,
    HOME_USER,
    PROMPT_MARKER,
    PROMPT,
    DOCUMENT,
    "CANARYDOC",
];

/// Every canary, each of which must never reach the upstream.
pub fn strings() -> &'static [&'static str] {
    STRINGS
}

/// A canary found in some bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The canary, as listed in [`strings`].
    pub canary: &'static str,
    /// The form it was found in (itself, without separators, or URL-encoded).
    pub needle: String,
    /// Byte offset of the first occurrence.
    pub offset: usize,
    /// Where in the envelope: `line N: $.json.path`, when the line holding it is JSON.
    pub path: Option<String>,
}

/// Panics if any canary, in any of its spellings, occurs in `bytes`; the message names the
/// canary, the JSON path and the surrounding bytes. `context` says what was checked.
#[track_caller]
pub fn assert_no_canary(bytes: &[u8], context: &str) {
    let found = find(bytes);
    if found.is_empty() {
        return;
    }
    let report: Vec<String> = found
        .iter()
        .map(|f| {
            let start = f.offset.saturating_sub(60);
            let end = (f.offset + f.needle.len() + 60).min(bytes.len());
            format!(
                "  canary {:?} (as {:?}) at byte {} {}\n    …{}…",
                f.canary,
                f.needle,
                f.offset,
                f.path.as_deref().unwrap_or("(not in a JSON line)"),
                String::from_utf8_lossy(&bytes[start..end]),
            )
        })
        .collect();
    panic!(
        "{context}: {} canary(ies) leaked:\n{}",
        found.len(),
        report.join("\n")
    );
}

/// Every canary found in `bytes`, in the order of [`strings`].
pub fn find(bytes: &[u8]) -> Vec<Found> {
    let lines: Vec<(usize, Option<Value>)> = line_starts(bytes)
        .into_iter()
        .map(|(start, line)| (start, serde_json::from_slice(line).ok()))
        .collect();
    let mut found = Vec::new();
    for &canary in STRINGS {
        for needle in spellings(canary) {
            let Some(offset) = memchr_find(bytes, needle.as_bytes()) else {
                continue;
            };
            let line = lines.iter().rposition(|(start, _)| *start <= offset);
            let path = line.and_then(|i| {
                let json_path = json_path(lines[i].1.as_ref()?, &needle, "$")?;
                Some(format!("line {}: {json_path}", i + 1))
            });
            found.push(Found {
                canary,
                needle,
                offset,
                path,
            });
            break;
        }
    }
    found
}

/// The forms a canary can take on the wire: as is, without spaces or dashes (cards, IBANs,
/// phones), and URL-encoded (in query strings and form bodies).
fn spellings(canary: &str) -> Vec<String> {
    let mut out = vec![canary.to_owned()];
    let compact: String = canary.chars().filter(|c| *c != ' ' && *c != '-').collect();
    let candidates = [
        compact,
        canary.replace('@', "%40").replace('+', "%2B"),
        canary.replace(' ', "+"),
        canary.replace(' ', "%20"),
        canary.replace(':', "%3A"),
    ];
    for candidate in candidates {
        if !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    out
}

fn line_starts(bytes: &[u8]) -> Vec<(usize, &[u8])> {
    let mut start = 0;
    bytes
        .split(|b| *b == b'\n')
        .map(|line| {
            let item = (start, line);
            start += line.len() + 1;
            item
        })
        .collect()
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The first JSON path (keys or string values) whose text contains `needle`.
fn json_path(value: &Value, needle: &str, at: &str) -> Option<String> {
    match value {
        Value::String(s) => s.contains(needle).then(|| at.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| json_path(v, needle, &format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = format!("{at}.{k}");
            if k.contains(needle) {
                return Some(format!("{here} (the key)"));
            }
            json_path(v, needle, &here)
        }),
        // Numbers are where a card or phone could hide as digits only.
        Value::Number(n) => n.to_string().contains(needle).then(|| at.to_owned()),
        Value::Bool(_) | Value::Null => None,
    }
}

/// The trace of the request that sent event `event_id`: each test event is a request of
/// its own (as in an app), so a proxy that attributes items by their trace never joins two
/// test events. An `event_id` of 32 hex digits is its own trace id; others share one.
pub fn trace_id_of(event_id: &str) -> String {
    let hex = event_id.len() == 32 && event_id.bytes().all(|b| b.is_ascii_hexdigit());
    if hex && event_id.bytes().any(|b| b != b'0') {
        event_id.to_ascii_lowercase()
    } else {
        "771a43a4192642f0b136d5159a501700".to_owned()
    }
}

/// A sentry-python-like error event envelope (`event_id` header, one `event` item with a
/// `length`), with canaries everywhere. `company_id` goes in the `company_id` tag and
/// `user_id` in `user.id`; `None` leaves them out. Its trace is [`trace_id_of`] the event.
pub fn event_envelope(event_id: &str, company_id: Option<&str>, user_id: Option<&str>) -> Vec<u8> {
    let event = event_payload(event_id, company_id, user_id);
    let payload = serde_json::to_vec(&event).expect("testkit: serialising an event");
    let header = json!({
        "event_id": event_id,
        "sent_at": "2025-01-15T10:32:07.456789Z",
        "dsn": "https://d41d8cd98f00b204e9800998ecf8427e@o1.ingest.de.sentry.io/42",
        "sdk": {"name": "sentry.python.django", "version": "2.19.2"},
        "trace": {
            "trace_id": trace_id_of(event_id),
            "public_key": "d41d8cd98f00b204e9800998ecf8427e",
            "environment": "production",
            "release": "docsearch@3.4.1",
            "transaction": "/api/assistant/ask/",
            "sample_rate": "1.0",
        },
    });
    let item_header = json!({
        "type": "event",
        "content_type": "application/json",
        "length": payload.len(),
    });
    let mut out = serde_json::to_vec(&header).expect("testkit: serialising a header");
    out.push(b'\n');
    out.extend(serde_json::to_vec(&item_header).expect("testkit: serialising an item header"));
    out.push(b'\n');
    out.extend(payload);
    out.push(b'\n');
    out
}

fn event_payload(event_id: &str, company_id: Option<&str>, user_id: Option<&str>) -> Value {
    let mut tags = json!({
        "customer_email": EMAIL,
        "client_ip": IPV4,
        "browser": "Firefox 133.0",
    });
    if let Some(company) = company_id {
        tags["company_id"] = json!(company);
    }
    let mut user = json!({
        "email": EMAIL_TAGGED,
        "ip_address": IPV4,
        "username": "alice.canary",
        "phone": PHONE,
    });
    if let Some(id) = user_id {
        user["id"] = json!(id);
    }
    let home = format!("/home/{HOME_USER}/venv/lib/python3.12/site-packages");
    json!({
        "event_id": event_id,
        "timestamp": "2025-01-15T10:32:07.123456Z",
        "platform": "python",
        "level": "error",
        "logger": "docsearch.assistant",
        "server_name": "web-01.northwind.internal",
        "release": "docsearch@3.4.1",
        "environment": "production",
        "transaction": "/api/assistant/ask/",
        "transaction_info": {"source": "route"},
        "logentry": {
            "message": "assistant failed for %s (%s)",
            "params": [PROMPT, EMAIL],
            "formatted": format!("assistant failed for {PROMPT} ({EMAIL})"),
        },
        "exception": {"values": [{
            "type": "ValueError",
            "value": format!("search failed for {PROMPT}; card {CARD}; iban {IBAN}"),
            "module": null,
            "mechanism": {"type": "django", "handled": false},
            "stacktrace": {"frames": [
                {
                    "filename": "django/core/handlers/exception.py",
                    "abs_path": format!("{home}/django/core/handlers/exception.py"),
                    "function": "inner",
                    "module": "django.core.handlers.exception",
                    "lineno": 55,
                    "pre_context": ["    @wraps(get_response)", "    def inner(request):", "        try:"],
                    "context_line": "            response = get_response(request)",
                    "post_context": ["        except Exception as exc:"],
                    "in_app": false,
                    "vars": {"request": format!("<WSGIRequest: POST '/api/assistant/ask/?email={EMAIL}'>")},
                },
                {
                    "filename": "docsearch/assistant/views.py",
                    "abs_path": "/srv/docsearch/docsearch/assistant/views.py",
                    "function": "ask",
                    "module": "docsearch.assistant.views",
                    "lineno": 88,
                    "pre_context": ["    def ask(self, request):", "        query = request.data['query']"],
                    "context_line": "        raise ValueError(f\"search failed for {query}\")",
                    "post_context": [""],
                    "in_app": true,
                    "vars": {
                        "query": PROMPT,
                        "document": DOCUMENT,
                        "user_email": EMAIL,
                        "card": CARD_DASHED,
                        "api_key": STRIPE_KEY,
                        "password": PASSWORD,
                        "nir": NIR,
                    },
                },
            ]},
        }]},
        "request": {
            "url": "https://docs.northwind.internal/api/assistant/ask/",
            "method": "POST",
            "query_string": format!("email={}&token={GITHUB_TOKEN}", EMAIL.replace('@', "%40")),
            "data": {"query": PROMPT, "iban": IBAN, "attachment_text": DOCUMENT},
            "cookies": {"sessionid": "canarysession0123456789", "csrftoken": JWT},
            "headers": {
                "Authorization": format!("Bearer {JWT}"),
                "Content-Type": "application/json",
                "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "X-Forwarded-For": format!("{IPV4}, {IPV6}"),
                "X-Api-Key": AWS_KEY,
            },
            "env": {"REMOTE_ADDR": IPV4, "SERVER_NAME": "web-01.northwind.internal", "SERVER_PORT": "8000"},
        },
        "breadcrumbs": {"values": [
            {
                "type": "default",
                "category": "query",
                "timestamp": "2025-01-15T10:32:06.900000Z",
                "level": "info",
                "message": format!("SELECT id FROM auth_user WHERE email = '{EMAIL}'"),
            },
            {
                "type": "http",
                "category": "httplib",
                "timestamp": "2025-01-15T10:32:06.950000Z",
                "data": {
                    "url": format!("https://svc:{PASSWORD}@llm.northwind.internal/v1/complete"),
                    "method": "POST",
                    "status_code": 500,
                },
            },
            {
                "type": "log",
                "category": "docsearch.assistant",
                "timestamp": "2025-01-15T10:32:07.000000Z",
                "level": "warning",
                "message": format!("prompt from {EMAIL_TAGGED}: {PROMPT}"),
            },
        ]},
        "user": user,
        "tags": tags,
        "extra": {
            "sys.argv": ["manage.py", "runserver", format!("--password={PASSWORD}")],
            "prompt": PROMPT,
            "device_mac": MAC,
        },
        "contexts": {
            "os": {"name": "Linux", "version": "6.8.0"},
            "runtime": {"name": "CPython", "version": "3.12.8", "build": "3.12.8 (main, Dec  4 2024) [GCC 12.2.0]"},
            "trace": {
                "trace_id": trace_id_of(event_id),
                "span_id": "8d2f7c4a1b3e5f60",
                "op": "http.server",
                "status": "internal_error",
            },
            "customer": {"contact": EMAIL, "iban": IBAN},
        },
        "modules": {"django": "5.1.4", "sentry-sdk": "2.19.2", "psycopg": "3.2.3"},
        "sdk": {
            "name": "sentry.python.django",
            "version": "2.19.2",
            "integrations": ["django", "logging", "stdlib"],
            "packages": [{"name": "pypi:sentry-sdk", "version": "2.19.2"}],
        },
    })
}

#[cfg(test)]
mod tests;
