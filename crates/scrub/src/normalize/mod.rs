//! Shape-preserving normalisation of technical strings: SQL, URLs, log templates.
//!
//! Span descriptions, breadcrumbs and request URLs are worth keeping because they
//! say *what* the application did (which query, which endpoint), but they also
//! carry *values* (the searched text, an e-mail in a `WHERE`, a token in a query
//! string). The functions here remove the values and keep the shape, before the
//! PII detectors run on what is left.
//!
//! Conventions shared by every function in this module:
//!
//! * They are pure and total: no I/O, no panics on any input (checked by property
//!   tests), no regex on the hot path (hand-written byte scanners instead).
//! * A function that may rewrite its input returns `Option<String>`: `None` means
//!   "unchanged" and costs no allocation, which is the common case for clean,
//!   parameterised ORM output.
//! * They are idempotent: normalising an output again returns `None`.
//! * When the input is malformed they fail closed (an unterminated SQL string is
//!   replaced up to the end) rather than open.

pub mod hosts;
pub mod ident;
pub mod ids;
pub mod message;
pub mod source;
pub mod sql;
pub mod url;

/// Builds an output lazily as "source with some byte ranges replaced".
///
/// Nothing is allocated until the first replacement; ranges must be given in
/// increasing, non-overlapping order and fall on `char` boundaries (every caller
/// only cuts at ASCII bytes or at the end of the input).
pub(crate) struct Rewriter<'a> {
    src: &'a str,
    buf: Option<String>,
    copied: usize,
}

impl<'a> Rewriter<'a> {
    /// A rewriter over `src` with no replacement yet.
    pub(crate) fn new(src: &'a str) -> Self {
        Self {
            src,
            buf: None,
            copied: 0,
        }
    }

    /// Replaces `src[start..end]` by `with`.
    pub(crate) fn replace(&mut self, start: usize, end: usize, with: &str) {
        debug_assert!(self.copied <= start && start <= end && end <= self.src.len());
        let src = self.src;
        let buf = self
            .buf
            .get_or_insert_with(|| String::with_capacity(src.len()));
        // `get` instead of indexing: a wrong boundary would be a bug, but it must
        // not become a panic in the proxy; dropping the slice fails closed.
        debug_assert!(src.get(self.copied..start).is_some());
        buf.push_str(src.get(self.copied..start).unwrap_or_default());
        buf.push_str(with);
        self.copied = end;
    }

    /// The last byte of the output written so far up to source position `pos`
    /// (with `pos >= copied`), or `None` when the output would be empty.
    pub(crate) fn last_byte_before(&self, pos: usize) -> Option<u8> {
        if pos > self.copied {
            self.src.as_bytes().get(pos - 1).copied()
        } else {
            self.buf.as_ref().and_then(|b| b.as_bytes().last().copied())
        }
    }

    /// Removes trailing ASCII whitespace from what has been written so far.
    /// Only meaningful right after a replacement that reached the end of input.
    pub(crate) fn trim_end(&mut self) {
        if let Some(buf) = &mut self.buf {
            let keep = buf.trim_end_matches(is_ascii_ws_char).len();
            buf.truncate(keep);
        }
    }

    /// The rewritten string, or `None` when nothing was replaced.
    pub(crate) fn finish(self) -> Option<String> {
        let src = self.src;
        let copied = self.copied;
        self.buf.map(|mut buf| {
            debug_assert!(src.get(copied..).is_some());
            buf.push_str(src.get(copied..).unwrap_or_default());
            buf
        })
    }
}

/// ASCII whitespace as SQL and HTTP see it.
#[inline]
pub(crate) const fn is_ascii_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

#[inline]
fn is_ascii_ws_char(c: char) -> bool {
    c.is_ascii() && is_ascii_ws(c as u8)
}
