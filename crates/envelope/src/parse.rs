//! The envelope parser and its size limits.
//!
//! One pass over the body: `memchr` finds each newline, headers are parsed
//! from the line slice, and payloads are `Bytes` slices of the body.

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::header::{parse_header, Header};
use crate::item::item_type;
use crate::{EnvelopeError, Item};

/// Size limits applied while parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted body, in bytes (default 100 MiB, Sentry's envelope limit).
    pub max_envelope_bytes: usize,
    /// Largest accepted payload for `event`, `transaction` and `span` items,
    /// and for legacy store JSON (default 1 MiB, Sentry's event limit).
    /// Other items, such as attachments, are bounded only by `max_envelope_bytes`.
    pub max_event_bytes: usize,
    /// Most items in one envelope (default 1,000; SDKs send a handful, a v2 span item
    /// holds many spans in one item).
    pub max_items: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_envelope_bytes: 100 * 1024 * 1024,
            max_event_bytes: 1024 * 1024,
            max_items: 1000,
        }
    }
}

impl Limits {
    /// Checks one payload size against the limit for its type; for items the
    /// caller builds itself, such as the event of a legacy store request.
    pub fn check_item(&self, ty: &crate::ItemType, size: usize) -> Result<(), EnvelopeError> {
        if ty.is_event_like() && size > self.max_event_bytes {
            return Err(EnvelopeError::ItemTooLarge {
                item_type: ty.label(),
                size,
                limit: self.max_event_bytes,
            });
        }
        Ok(())
    }
}

/// The parsed parts: header, raw header line (if it can be re-emitted verbatim), items.
pub(crate) type Parts = (Map<String, Value>, Option<Bytes>, Vec<Item>);

pub(crate) fn parse(body: Bytes, limits: &Limits) -> Result<Parts, EnvelopeError> {
    if body.len() > limits.max_envelope_bytes {
        return Err(EnvelopeError::EnvelopeTooLarge {
            size: body.len(),
            limit: limits.max_envelope_bytes,
        });
    }
    let line = Line::at(&body, 0);
    let Header {
        map: header,
        verbatim_ok,
    } = parse_header(&body[line.start..line.end], line.start)?;
    let raw_header = verbatim_ok.then(|| body.slice(line.start..line.end));
    let mut items = Vec::new();
    let mut pos = line.next;
    // Blank lines (`\n`, `\r\n`) at the very end are tolerated and dropped on output.
    while body[pos..].iter().any(|&b| b != b'\n' && b != b'\r') {
        if items.len() == limits.max_items {
            return Err(EnvelopeError::TooManyItems {
                limit: limits.max_items,
            });
        }
        let (item, next) = parse_item(&body, pos, limits)?;
        items.push(item);
        pos = next;
    }
    Ok((header, raw_header, items))
}

/// A header line: `start..end` with trailing whitespace (`\r` included)
/// trimmed, and `next`, the offset after its newline (or the body's end).
struct Line {
    start: usize,
    end: usize,
    next: usize,
}

impl Line {
    fn at(body: &[u8], start: usize) -> Line {
        let (stop, next) = match memchr::memchr(b'\n', &body[start..]) {
            Some(i) => (start + i, start + i + 1),
            None => (body.len(), body.len()),
        };
        // Trimming all trailing JSON whitespace, not just one `\r`, keeps
        // re-emitted raw lines stable: `{}\r\r` must not become `{}\r` then `{}`.
        let trimmed = body[start..stop]
            .iter()
            .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r'))
            .map_or(start, |i| start + i + 1);
        Line {
            start,
            end: trimmed,
            next,
        }
    }
}

/// Parses the item starting at `pos`; returns it and the offset after it.
fn parse_item(body: &Bytes, pos: usize, limits: &Limits) -> Result<(Item, usize), EnvelopeError> {
    let line = Line::at(body, pos);
    let Header {
        map: header,
        verbatim_ok,
    } = parse_header(&body[line.start..line.end], pos)?;
    let ty = item_type(&header, pos)?;
    // `null` counts as absent, as in Relay.
    let length = match header.get("length") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            value
                .as_u64()
                .ok_or(EnvelopeError::InvalidLength { offset: pos })?,
        ),
    };
    let start = line.next;
    let remaining = body.len() - start;
    let (payload, next, raw_header) = match length {
        Some(length) => {
            // Compare in u64 first: a huge length must neither overflow nor allocate.
            let len = usize::try_from(length)
                .ok()
                .filter(|&len| len <= remaining)
                .ok_or(EnvelopeError::LengthExceedsBody {
                    offset: start,
                    length,
                    remaining,
                })?;
            let end = start + len;
            let next = match (body.get(end), body.get(end + 1)) {
                (None, _) => end,
                (Some(b'\n'), _) => end + 1,
                (Some(b'\r'), Some(b'\n')) => end + 2,
                _ => return Err(EnvelopeError::MissingNewline { offset: end }),
            };
            let raw = verbatim_ok.then(|| body.slice(line.start..line.end));
            (body.slice(start..end), next, raw)
        }
        None => {
            let (end, next) = match memchr::memchr(b'\n', &body[start..]) {
                Some(i) if i > 0 && body[start + i - 1] == b'\r' => (start + i - 1, start + i + 1),
                Some(i) => (start + i, start + i + 1),
                None => (body.len(), body.len()),
            };
            (body.slice(start..end), next, None)
        }
    };
    limits.check_item(&ty, payload.len())?;
    Ok((Item::parsed(ty, header, payload, raw_header), next))
}
