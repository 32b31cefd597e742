//! The envelope: a header object and its items, and the writer.

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::item::{write_json, Counter};
use crate::{parse, EnvelopeError, Item, Limits};

/// A parsed Sentry envelope.
///
/// Built by [`Envelope::parse`] (items borrow the body) or
/// [`Envelope::from_header`]. Written back with [`Envelope::write_to`]: headers
/// nobody changed are re-emitted verbatim, and every item gets an explicit
/// `length`, so `parse(write(e))` writes the same bytes again.
#[derive(Clone, PartialEq)]
pub struct Envelope {
    header: Map<String, Value>,
    /// The header line as received, while the header is unchanged.
    raw_header: Option<Bytes>,
    items: Vec<Item>,
}

impl Envelope {
    /// Parses a body with the default [`Limits`].
    pub fn parse(body: Bytes) -> Result<Envelope, EnvelopeError> {
        Self::parse_with(body, &Limits::default())
    }

    /// Parses a body, rejecting it when it breaks `limits`.
    pub fn parse_with(body: Bytes, limits: &Limits) -> Result<Envelope, EnvelopeError> {
        let (header, raw_header, items) = parse::parse(body, limits)?;
        Ok(Envelope {
            header,
            raw_header,
            items,
        })
    }

    /// A new envelope with this header and no items.
    pub fn from_header(header: Map<String, Value>) -> Envelope {
        Envelope {
            header,
            raw_header: None,
            items: Vec::new(),
        }
    }

    /// The envelope header.
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    /// Replaces the header; it is re-serialized on output.
    pub fn set_header(&mut self, header: Map<String, Value>) {
        self.header = header;
        self.raw_header = None;
    }

    /// The header's `event_id`, if it is a string.
    pub fn event_id(&self) -> Option<&str> {
        self.header.get("event_id").and_then(Value::as_str)
    }

    /// The header's `dsn`, if it is a string.
    pub fn dsn(&self) -> Option<&str> {
        self.header.get("dsn").and_then(Value::as_str)
    }

    /// The items, in order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// The items, to filter, reorder or change them.
    pub fn items_mut(&mut self) -> &mut Vec<Item> {
        &mut self.items
    }

    /// Appends an item.
    pub fn push(&mut self, item: Item) {
        self.items.push(item);
    }

    /// Takes the envelope apart into its header and items.
    pub fn into_items(self) -> (Map<String, Value>, Vec<Item>) {
        (self.header, self.items)
    }

    /// The exact number of bytes [`Envelope::write_to`] appends.
    pub fn serialized_len(&self) -> usize {
        let header = match &self.raw_header {
            Some(raw) => raw.len(),
            None => {
                let mut counter = Counter(0);
                write_json(&mut counter, &self.header);
                counter.0
            }
        };
        header + 1 + self.items.iter().map(Item::serialized_len).sum::<usize>()
    }

    /// Appends the envelope in wire format: the header line, then for each
    /// item its header line (always with `length`), the payload and a newline.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.serialized_len());
        match &self.raw_header {
            Some(raw) => out.extend_from_slice(raw),
            None => write_json(&mut *out, &self.header),
        }
        out.push(b'\n');
        for item in &self.items {
            item.write_to(out);
        }
    }

    /// The envelope in wire format.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::new();
        self.write_to(&mut out);
        Bytes::from(out)
    }
}

/// Shows sizes and item types, never header values or payload bytes.
impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("header_fields", &self.header.len())
            .field("header_modified", &self.raw_header.is_none())
            .field("items", &self.items)
            .finish()
    }
}

/// An event id as 32 lowercase hex digits: SDKs send it with or without dashes, in either
/// case. Anything else gives `None`, so an id that is not one is never echoed back or used
/// in a file name.
///
/// ```
/// assert_eq!(
///     envelope::normalize_event_id("9EC79C33-EC99-42AB-8353-589FCB2E04DC").as_deref(),
///     Some("9ec79c33ec9942ab8353589fcb2e04dc")
/// );
/// assert_eq!(envelope::normalize_event_id("../etc/passwd"), None);
/// ```
pub fn normalize_event_id(id: &str) -> Option<String> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}
