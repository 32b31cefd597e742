//! Header lines: UTF-8 check, JSON object, and duplicate-key detection.
//!
//! serde_json keeps the last of duplicate keys. Another parser may keep the
//! first, so a raw line with `"length":2,"length":5` could frame differently
//! upstream than here. Such a line is never re-emitted verbatim: the caller
//! re-serializes the map, so what leaves is exactly what was understood.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::EnvelopeError;

/// A parsed header line.
pub(crate) struct Header {
    pub(crate) map: Map<String, Value>,
    /// No key appeared twice, so the raw line may be re-emitted verbatim.
    pub(crate) verbatim_ok: bool,
}

/// Parses `line` (found at `offset` in the body) as a header object.
pub(crate) fn parse_header(line: &[u8], offset: usize) -> Result<Header, EnvelopeError> {
    let text = std::str::from_utf8(line).map_err(|e| EnvelopeError::NonUtf8Header {
        offset: offset + e.valid_up_to(),
    })?;
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = de
        .deserialize_any(HeaderVisitor)
        .and_then(|parsed| de.end().map(|()| parsed))
        .map_err(|e| EnvelopeError::json(offset, &e))?;
    parsed.ok_or(EnvelopeError::HeaderNotObject { offset })
}

/// Yields `Some(header)` for an object and `None` for any other JSON value.
struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Option<Header>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        let mut verbatim_ok = true;
        while let Some((key, value)) = access.next_entry::<String, Value>()? {
            verbatim_ok &= map.insert(key, value).is_none();
        }
        Ok(Some(Header { map, verbatim_ok }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        while access.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}
