//! One envelope item: a header object and a payload that borrows the request body.

use bytes::Bytes;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::{EnvelopeError, ItemType};

/// An envelope item.
///
/// The payload is a [`Bytes`] slice of the request body, so parsing copies no
/// payload. The raw header line is kept too: an item nobody changed is written
/// back byte for byte.
#[derive(Clone, PartialEq)]
pub struct Item {
    ty: ItemType,
    /// The parsed header; kept in step with `ty` and the payload length.
    header: Map<String, Value>,
    payload: Bytes,
    /// The header line as received, when it can be re-emitted verbatim: it had
    /// an explicit `length` and nothing changed since.
    raw_header: Option<Bytes>,
    modified: bool,
}

impl Item {
    /// A new item with the header `{"type": ty, "length": payload.len()}`.
    pub fn new(ty: ItemType, payload: Bytes) -> Item {
        let mut header = Map::new();
        header.insert("type".to_owned(), Value::from(ty.as_str()));
        header.insert("length".to_owned(), Value::from(payload.len()));
        Item {
            ty,
            header,
            payload,
            raw_header: None,
            modified: true,
        }
    }

    /// A new item from a header that must hold a string `type`; its `length`
    /// is set to the payload's.
    pub fn with_header(header: Map<String, Value>, payload: Bytes) -> Result<Item, EnvelopeError> {
        let ty = item_type(&header, 0)?;
        let mut item = Item {
            ty,
            header,
            payload,
            raw_header: None,
            modified: true,
        };
        item.sync_length();
        Ok(item)
    }

    /// Builds an item parsed from a body; `raw_header` is the header line when
    /// it carried a valid `length`.
    pub(crate) fn parsed(
        ty: ItemType,
        header: Map<String, Value>,
        payload: Bytes,
        raw_header: Option<Bytes>,
    ) -> Item {
        let mut item = Item {
            ty,
            header,
            payload,
            raw_header,
            modified: false,
        };
        if item.raw_header.is_none() {
            item.sync_length();
        }
        item
    }

    /// The item type.
    pub fn ty(&self) -> &ItemType {
        &self.ty
    }

    /// The header object, including `type` and `length`.
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    /// Mutable access to the header; marks the item as modified, so its header
    /// is re-serialized on output. `type` and `length` are always written from
    /// [`Item::ty`] and the payload, whatever the map holds.
    pub fn header_mut(&mut self) -> &mut Map<String, Value> {
        self.touch();
        &mut self.header
    }

    /// The header's `content_type`, if it is a string.
    pub fn content_type(&self) -> Option<&str> {
        self.header.get("content_type").and_then(Value::as_str)
    }

    /// The payload bytes.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Replaces the payload; marks the item as modified (its `length` follows).
    pub fn set_payload(&mut self, payload: Bytes) {
        self.touch();
        self.payload = payload;
        self.sync_length();
    }

    /// Whether the header or payload was changed since parsing (always true
    /// for items built with [`Item::new`] or [`Item::with_header`]).
    pub fn is_modified(&self) -> bool {
        self.modified
    }

    fn touch(&mut self) {
        self.modified = true;
        self.raw_header = None;
    }

    fn sync_length(&mut self) {
        self.header
            .insert("length".to_owned(), Value::from(self.payload.len()));
    }

    /// Bytes [`Item::write_to`] produces.
    pub(crate) fn serialized_len(&self) -> usize {
        let header = match &self.raw_header {
            Some(raw) => raw.len(),
            None => {
                let mut counter = Counter(0);
                write_json(&mut counter, &self.header_out());
                counter.0
            }
        };
        header + 1 + self.payload.len() + 1
    }

    /// Writes `header \n payload \n`.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        match &self.raw_header {
            Some(raw) => out.extend_from_slice(raw),
            None => write_json(&mut *out, &self.header_out()),
        }
        out.push(b'\n');
        out.extend_from_slice(&self.payload);
        out.push(b'\n');
    }

    fn header_out(&self) -> HeaderOut<'_> {
        HeaderOut {
            header: &self.header,
            ty: self.ty.as_str(),
            length: self.payload.len(),
        }
    }
}

/// Reads the string `type` of an item header.
pub(crate) fn item_type(
    header: &Map<String, Value>,
    offset: usize,
) -> Result<ItemType, EnvelopeError> {
    header
        .get("type")
        .and_then(Value::as_str)
        .map(ItemType::parse)
        .ok_or(EnvelopeError::MissingItemType { offset })
}

/// Serializes `value` as compact, single-line JSON.
///
/// The values written here are `Map<String, Value>`s: their keys are strings
/// and a `Value` holds no non-finite float, and the writers (a `Vec` and a
/// counter) never fail, so serialization cannot fail and the result is ignored.
pub(crate) fn write_json<W: std::io::Write, T: Serialize + ?Sized>(out: W, value: &T) {
    let _ = serde_json::to_writer(out, value);
}

/// Counts bytes instead of storing them, to size the output exactly.
pub(crate) struct Counter(pub(crate) usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An item header as written: the map, with `type` and `length` taken from the item.
struct HeaderOut<'a> {
    header: &'a Map<String, Value>,
    ty: &'a str,
    length: usize,
}

impl Serialize for HeaderOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let has_type = self.header.contains_key("type");
        let has_length = self.header.contains_key("length");
        let len = self.header.len() + usize::from(!has_type) + usize::from(!has_length);
        let mut map = serializer.serialize_map(Some(len))?;
        if !has_type {
            map.serialize_entry("type", self.ty)?;
        }
        for (key, value) in self.header {
            match key.as_str() {
                "type" => map.serialize_entry(key, self.ty)?,
                "length" => map.serialize_entry(key, &self.length)?,
                _ => map.serialize_entry(key, value)?,
            }
        }
        if !has_length {
            map.serialize_entry("length", &self.length)?;
        }
        map.end()
    }
}

/// Shows the type and sizes, never header keys, values or payload bytes.
impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Item")
            .field("ty", &self.ty.label())
            .field("header_fields", &self.header.len())
            .field("payload_len", &self.payload.len())
            .field("modified", &self.modified)
            .finish()
    }
}
