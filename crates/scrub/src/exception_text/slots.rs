//! The variable parts of a known message format, and how each kind is judged.
//!
//! A slot's *shape* (its regex fragment) says what text it may span; its *judgement* says
//! whether that text may leave. Names written in code (an attribute, a module, a type) stay
//! when every word of them is a word of code; a host stays when it is an address, loopback
//! or allowlisted; numbers and memory addresses stay; values (what a user typed, a row of a
//! table) never do. What may not leave becomes a typed placeholder, so the message stays
//! readable: `'Document' object has no attribute '[identifier]'`.

use crate::normalize::ident::{is_technical_segment, MASKED_SEGMENT};
use crate::normalize::url::{map_segments, percent_decode, scrub_url};

use crate::words::Vocabulary;

/// Placeholder for a name that is not made of code words.
pub const IDENTIFIER: &str = "[identifier]";
/// Placeholder for a type name that is not made of code words.
pub const TYPE: &str = "[type]";
pub use crate::normalize::hosts::HOST;
/// Placeholder for a value (user input, a row, a literal).
pub const VALUE: &str = "[value]";

/// The kind of a slot, written `{kind}` in a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `{ident}`: one identifier (an attribute, a field, a column, a variable).
    Ident,
    /// `{dotted}`: a dotted name (a module, `app.Model.field`); judged part by part.
    Dotted,
    /// `{type}`: a type or class name, possibly dotted.
    Type,
    /// `{idents}`: a list of identifiers separated by `, ` (Django's "Choices are: …").
    Idents,
    /// `{num}`: a number (errno, position, count, port, status).
    Num,
    /// `{hex}`: a memory address or hex code (`0x7f3a…`).
    Hex,
    /// `{host}`: a host name or IP address.
    Host,
    /// `{url}`: a URL or an absolute URL path.
    Url,
    /// `{path}`: a file path.
    Path,
    /// `{repr}`: a Python repr of a value (`'k'`, `42`, `None`): kept when it is a number,
    /// a constant or a quoted code name.
    Repr,
    /// `{value}`: data; always replaced.
    Value,
    /// `{msg}`: a nested message (a cause), judged against the catalog again.
    Msg,
    /// `{errtext}`: a C library error text (`Connection refused`, `Name or service not
    /// known`): one of [`ERROR_TEXTS`], kept.
    Errtext,
    /// `{reason}`: an HTTP reason phrase (`Not Found`): one of [`REASONS`], kept.
    Reason,
    /// `{words}`: a phrase a library wrote (an OpenSSL reason, a validator's text): kept
    /// only when every word of it is a word of code.
    Words,
    /// `{sql}`: an SQL statement: literals replaced as in span descriptions.
    Sql,
    /// `{loc}`: a location of fields (`items.0.name`), judged part by part.
    Loc,
    /// `{qidents}`: quoted identifiers, `'a'`, `'a' and 'b'`, `'a', 'b', and 'c'`.
    Qidents,
    /// `{fmt}`: a quoted date/time format (`'%Y-%m-%d'`), kept.
    Fmt,
    /// `{pad}`: spaces or tabs (PostgreSQL's caret line), kept.
    Pad,
    /// `{code}`: a short code a library writes (an error code, a codec name), kept.
    Code,
}

/// Error texts of the C library and of name resolution, as `strerror` and `gai_strerror`
/// write them (glibc and musl, and the macOS spelling of a few).
#[rustfmt::skip]
pub const ERROR_TEXTS: &[&str] = &[
    "Address already in use", "Address family for hostname not supported",
    "Argument list too long", "Bad address", "Bad file descriptor", "Broken pipe",
    "Cannot allocate memory", "Cannot assign requested address", "Connection aborted",
    "Connection refused", "Connection reset by peer", "Connection timed out",
    "Cross-device link", "Device or resource busy", "Directory not empty",
    "Disk quota exceeded", "Exec format error", "File exists", "File name too long",
    "File too large", "Host is down", "Input/output error", "Interrupted system call",
    "Invalid argument", "Is a directory", "Name or service not known", "Network is down",
    "Network is unreachable", "No address associated with hostname", "No child processes",
    "No data available", "No route to host", "No such device", "No such device or address",
    "No such file or directory", "No such process", "No space left on device",
    "Non-recoverable failure in name resolution", "Not a directory",
    "Operation already in progress", "Operation not permitted", "Operation not supported",
    "Operation now in progress", "Operation timed out", "Out of memory", "Permission denied",
    "Protocol error", "Read-only file system", "Resource temporarily unavailable",
    "Servname not supported for ai_socktype", "Software caused connection abort",
    "System error", "Temporary failure in name resolution", "Text file busy",
    "Too many levels of symbolic links", "Too many open files", "Transport endpoint is not connected",
    "Try again", "Value too large for defined data type",
    "nodename nor servname provided, or not known",
];

/// HTTP reason phrases (RFC 9110 and common extensions).
#[rustfmt::skip]
pub const REASONS: &[&str] = &[
    "Accepted", "Bad Gateway", "Bad Request", "Conflict", "Continue", "Created",
    "Expectation Failed", "Failed Dependency", "Forbidden", "Found", "Gateway Timeout",
    "Gone", "HTTP Version Not Supported", "I'm a teapot", "Insufficient Storage",
    "Internal Server Error", "Length Required", "Locked", "Method Not Allowed",
    "Misdirected Request", "Moved Permanently", "Multiple Choices", "No Content",
    "Non-Authoritative Information", "Not Acceptable", "Not Found", "Not Implemented",
    "Not Modified", "OK", "Partial Content", "Payload Too Large", "Payment Required",
    "Permanent Redirect", "Precondition Failed", "Precondition Required",
    "Proxy Authentication Required", "Range Not Satisfiable", "Request Entity Too Large",
    "Request Header Fields Too Large", "Request Timeout", "Request-URI Too Long",
    "Requested Range Not Satisfiable", "Reset Content", "See Other", "Service Unavailable",
    "Switching Protocols", "Temporary Redirect", "Too Early", "Too Many Requests",
    "URI Too Long", "Unauthorized", "Unavailable For Legal Reasons", "Unprocessable Content",
    "Unprocessable Entity", "Unsupported Media Type", "Upgrade Required",
    "Variant Also Negotiates",
];

fn alternation(list: &[&str]) -> String {
    let mut v: Vec<&str> = list.to_vec();
    // Longest first: `No such device or address` before `No such device`.
    v.sort_by_key(|s| std::cmp::Reverse(s.len()));
    v.iter()
        .map(|s| regex::escape(s))
        .collect::<Vec<_>>()
        .join("|")
}

impl Slot {
    /// The slot named `name` in a pattern.
    pub(crate) fn from_name(name: &str) -> Option<Slot> {
        Some(match name {
            "ident" => Slot::Ident,
            "dotted" => Slot::Dotted,
            "type" => Slot::Type,
            "idents" => Slot::Idents,
            "num" => Slot::Num,
            "hex" => Slot::Hex,
            "host" => Slot::Host,
            "url" => Slot::Url,
            "path" => Slot::Path,
            "repr" => Slot::Repr,
            "value" => Slot::Value,
            "msg" => Slot::Msg,
            "errtext" => Slot::Errtext,
            "reason" => Slot::Reason,
            "words" => Slot::Words,
            "sql" => Slot::Sql,
            "loc" => Slot::Loc,
            "qidents" => Slot::Qidents,
            "fmt" => Slot::Fmt,
            "pad" => Slot::Pad,
            "code" => Slot::Code,
            _ => return None,
        })
    }

    /// The regex fragment the slot spans (without its capture group).
    pub(crate) fn shape(self) -> String {
        let s = match self {
            Slot::Errtext => return alternation(ERROR_TEXTS),
            Slot::Reason => return alternation(REASONS),
            Slot::Ident => r"[A-Za-z_$][A-Za-z0-9_$]*",
            Slot::Dotted | Slot::Type => {
                r"[A-Za-z_$<][A-Za-z0-9_$<>]*(?:\.[A-Za-z_$<][A-Za-z0-9_$<>]*)*"
            }
            Slot::Idents => r"[A-Za-z0-9_]+(?:, [A-Za-z0-9_]+)*",
            Slot::Num => r"[-+]?[0-9]+(?:\.[0-9]+)?",
            Slot::Hex => r"0x[0-9a-fA-F]+",
            Slot::Host => r"[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\]",
            Slot::Url => r#"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'"<>]*|/[^\s'"<>]*"#,
            Slot::Path => r#"[^'"\n]*"#,
            Slot::Repr => r#"'[^'\n]*'|"[^"\n]*"|[-+]?[0-9]+(?:\.[0-9]+)?|None|True|False"#,
            Slot::Value | Slot::Msg => r".*?",
            Slot::Words => r"[^\n]*?",
            Slot::Sql => r"[^\n]*",
            Slot::Loc => r"[A-Za-z0-9_$\-]+(?:\.[A-Za-z0-9_$\-]+)*",
            Slot::Qidents => r"'[A-Za-z0-9_]+'(?:(?:,| and|, and| or|, or) '[A-Za-z0-9_]+')*",
            Slot::Fmt => r"'(?:%[A-Za-z%]|[-:./, T0-9])*'",
            Slot::Pad => r"[ \t]*",
            Slot::Code => r"[A-Za-z0-9_.\-]{1,16}",
        };
        s.to_owned()
    }
}

/// What slots are judged against: the code vocabulary, the words of the event's own code
/// (its frames' functions and modules) and the operator's host allowlist.
pub struct Judge<'a> {
    /// Words of code in general.
    pub vocab: &'a Vocabulary,
    /// Lower-case words of this event's functions and modules, sorted.
    pub local: &'a [String],
    /// Hosts kept in messages: exact names, or suffixes written `.example.com`.
    pub hosts: &'a [String],
}

impl Judge<'_> {
    /// Is every word of this name a word of code (or a number, or one or two letters)?
    pub fn code_name(&self, s: &str) -> bool {
        s.len() <= 100 && self.vocab.is_code(s, self.local)
    }

    /// Is this host technical? See [`crate::normalize::hosts`].
    pub fn host(&self, h: &str) -> bool {
        crate::normalize::hosts::is_technical(h, self.vocab, self.hosts)
    }

    /// Writes the judged text of one slot to `out`; returns whether something was replaced.
    pub(crate) fn slot(&self, slot: Slot, text: &str, out: &mut String) -> bool {
        let keep = match slot {
            Slot::Num
            | Slot::Hex
            | Slot::Errtext
            | Slot::Reason
            | Slot::Fmt
            | Slot::Pad
            | Slot::Code => true,
            Slot::Words => self.words(text),
            Slot::Sql => return self.sql(text, out),
            Slot::Loc => return self.parts(text, ".", out),
            Slot::Qidents => return self.qidents(text, out),
            Slot::Ident => self.code_name(text),
            Slot::Type => text.split('.').all(|p| self.code_part(p)),
            Slot::Dotted => return self.parts(text, ".", out),
            Slot::Idents => return self.parts(text, ", ", out),
            Slot::Host => self.host(text),
            Slot::Url => return self.url(text, out),
            Slot::Path => return self.path(text, out),
            Slot::Repr => self.repr(text),
            // `{msg}` is judged by the catalog walk before it gets here; what reaches this
            // point is a value.
            Slot::Value | Slot::Msg => false,
        };
        if keep {
            out.push_str(text);
        } else {
            out.push_str(match slot {
                Slot::Ident => IDENTIFIER,
                Slot::Type => TYPE,
                Slot::Host => HOST,
                _ => VALUE,
            });
        }
        !keep
    }

    /// A phrase: every alphabetic word a word of code; numbers and punctuation free.
    fn words(&self, text: &str) -> bool {
        text.len() <= 300
            && text
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .all(|w| w.is_empty() || self.code_name(w))
            && text
                .chars()
                .all(|c| c.is_ascii_graphic() || c == ' ' || c == '’')
    }

    /// A statement quoted in an error: literals replaced as in span descriptions, then kept
    /// only when every word left is a word of code (keywords, tables, columns). A failing
    /// statement is often one the application built by pasting user text into it
    /// (`WHERE title = merger plans of Globex`), which no literal rule can see.
    /// An SQL statement in a library's message (SQLAlchemy's `[SQL: …]`, psycopg's
    /// `LINE 1: …`): normalised exactly like a `db` span's description (every literal
    /// becomes `%s`, comments go), then kept when it is a plain statement
    /// ([`super::statement::is_plain_statement`]: its other words are the schema's names,
    /// written by the vendor's code) or when every word of it is a word of code.
    fn sql(&self, text: &str, out: &mut String) -> bool {
        let normalized = crate::normalize::sql::scrub_sql(text);
        let sql = normalized.as_deref().unwrap_or(text);
        let code = super::statement::is_plain_statement(sql, |w| self.code_name(w))
            || sql
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .all(|w| {
                    w.is_empty() || w.bytes().all(|b| b.is_ascii_digit()) || self.code_name(w)
                });
        if code {
            out.push_str(sql);
        } else {
            out.push_str(VALUE);
        }
        normalized.is_some() || !code
    }

    /// Parts separated by `sep` (`.` of a dotted name, `, ` of a list), each judged alone.
    fn parts(&self, text: &str, sep: &str, out: &mut String) -> bool {
        let mut replaced = false;
        for (i, part) in text.split(sep).enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            if self.code_part(part) {
                out.push_str(part);
            } else {
                out.push_str(IDENTIFIER);
                replaced = true;
            }
        }
        replaced
    }

    /// One part of a dotted name: a code name, or one of the names Python gives to code
    /// that has none (`app.views.<locals>.inner`).
    fn code_part(&self, part: &str) -> bool {
        matches!(
            part,
            "<locals>"
                | "<module>"
                | "<lambda>"
                | "<genexpr>"
                | "<listcomp>"
                | "<dictcomp>"
                | "<setcomp>"
        ) || self.code_name(part)
    }

    /// `'a', 'b', and 'c'`: each quoted name judged.
    fn qidents(&self, text: &str, out: &mut String) -> bool {
        let mut replaced = false;
        let mut rest = text;
        while let Some(open) = rest.find('\'') {
            out.push_str(&rest[..=open]);
            let after = &rest[open + 1..];
            let close = after.find('\'').unwrap_or(after.len());
            let name = &after[..close];
            if self.code_name(name) {
                out.push_str(name);
            } else {
                out.push_str(IDENTIFIER);
                replaced = true;
            }
            rest = &after[close..];
            if let Some(r) = rest.strip_prefix('\'') {
                out.push('\'');
                rest = r;
            }
        }
        out.push_str(rest);
        replaced
    }

    /// `'k'`, `"k"`: kept when `k` is a code name; numbers and constants kept.
    fn repr(&self, text: &str) -> bool {
        let quoted = text
            .strip_prefix('\'')
            .and_then(|t| t.strip_suffix('\''))
            .or_else(|| text.strip_prefix('"').and_then(|t| t.strip_suffix('"')));
        match quoted {
            Some(inner) => {
                inner
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && self.code_name(inner)
            }
            None => true,
        }
    }

    /// Query, fragment and credentials go; path segments that are not technical are
    /// masked; the host is judged.
    fn url(&self, text: &str, out: &mut String) -> bool {
        let mut changed = false;
        let mut url = match scrub_url(text) {
            Some(u) => {
                changed = true;
                u
            }
            None => text.to_owned(),
        };
        if let Some(m) = map_segments(&url, |seg| {
            let ok = is_technical_segment(seg) || self.segment(seg);
            (!ok).then(|| MASKED_SEGMENT.to_owned())
        }) {
            url = m;
            changed = true;
        }
        if let Some(r) = crate::normalize::hosts::host_range(&url) {
            if !self.host(&url[r.clone()]) {
                url.replace_range(r, HOST);
                changed = true;
            }
        }
        out.push_str(&url);
        changed
    }

    /// A file path: each segment stays when it is technical or made of code words (after
    /// its extension); others are masked. Home-directory users are left to the detectors.
    fn path(&self, text: &str, out: &mut String) -> bool {
        let mut changed = false;
        let mut start = 0;
        for (i, c) in text
            .char_indices()
            .chain(std::iter::once((text.len(), '/')))
        {
            if c != '/' && c != '\\' {
                continue;
            }
            let seg = &text[start..i];
            if self.segment(seg) || is_technical_segment(seg) {
                out.push_str(seg);
            } else {
                out.push_str(MASKED_SEGMENT);
                changed = true;
            }
            if i < text.len() {
                out.push(c);
            }
            start = i + c.len_utf8();
        }
        changed
    }

    /// A path segment made of code words: `site-packages`, `query.py`, `python3.11`.
    fn segment(&self, seg: &str) -> bool {
        let seg = percent_decode(seg);
        if seg.is_empty() || seg == "." || seg == ".." || seg == "~" {
            return true;
        }
        seg.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+' | b'@'))
            && seg
                .split(['.', '@', '+'])
                .all(|p| p.is_empty() || self.code_name(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge<R>(f: impl FnOnce(&Judge<'_>) -> R) -> R {
        let vocab = Vocabulary::default();
        let local = vec!["rerank".to_owned()];
        let hosts = vec!["db.internal".to_owned(), ".corp.example.com".to_owned()];
        f(&Judge {
            vocab: &vocab,
            local: &local,
            hosts: &hosts,
        })
    }

    fn one(slot: Slot, text: &str) -> String {
        judge(|j| {
            let mut out = String::new();
            j.slot(slot, text, &mut out);
            out
        })
    }

    #[test]
    fn names_of_code_stay_names_of_people_go() {
        assert_eq!(one(Slot::Ident, "get_full_name"), "get_full_name");
        assert_eq!(one(Slot::Ident, "field_total2"), "field_total2");
        assert_eq!(one(Slot::Ident, "rerank_score"), "rerank_score");
        assert_eq!(one(Slot::Ident, "field_zephyrine"), IDENTIFIER);
        assert_eq!(one(Slot::Type, "WSGIRequest"), "WSGIRequest");
        assert_eq!(
            one(Slot::Dotted, "plugins.quillfeather.hooks"),
            "plugins.[identifier].hooks"
        );
        assert_eq!(
            one(Slot::Idents, "id, title, zephyrine"),
            "id, title, [identifier]"
        );
        assert_eq!(
            one(Slot::Type, "app.views.<locals>.Inner"),
            "app.views.<locals>.Inner"
        );
        assert_eq!(one(Slot::Dotted, "app.<zephyrine>.x"), "app.[identifier].x");
    }

    #[test]
    fn hosts_stay_only_when_technical() {
        for h in [
            "127.0.0.1",
            "10.0.3.7",
            "[::1]",
            "localhost",
            "redis",
            "db.internal",
            "api.corp.example.com",
        ] {
            assert_eq!(one(Slot::Host, h), h);
        }
        for h in [
            "zephyrine-laptop.corp-intra.example.net",
            "zephyrine-laptop",
            "quillfeather.example.org",
        ] {
            assert_eq!(one(Slot::Host, h), HOST, "{h}");
        }
    }

    #[test]
    fn urls_lose_query_names_and_unknown_hosts() {
        assert_eq!(
            one(Slot::Url, "http://zephyrine-laptop.corp-intra.example.net:8443/people/zephyrine-q/cv?token=tok_1"),
            "http://[host]:8443/people/*/cv"
        );
        assert_eq!(one(Slot::Url, "/api/v2/items/42"), "/api/v2/items/42");
    }

    #[test]
    fn paths_keep_code_and_mask_titles() {
        assert_eq!(
            one(Slot::Path, "/srv/app/media/Quillfeather Family Memoirs.pdf"),
            "/srv/app/media/*"
        );
        assert_eq!(
            one(
                Slot::Path,
                "/usr/lib/python3.11/site-packages/django/db/models/query.py"
            ),
            "/usr/lib/python3.11/site-packages/django/db/models/query.py"
        );
    }

    #[test]
    fn reprs_keep_code_constants_and_numbers_only() {
        assert_eq!(one(Slot::Repr, "'DATABASE_URL'"), "'DATABASE_URL'");
        assert_eq!(one(Slot::Repr, "42"), "42");
        assert_eq!(one(Slot::Repr, "None"), "None");
        assert_eq!(one(Slot::Repr, "'zephyrine'"), VALUE);
        assert_eq!(one(Slot::Repr, "'merger plans'"), VALUE);
        assert_eq!(one(Slot::Value, "'anything'"), VALUE);
    }
}
