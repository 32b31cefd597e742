//! Batch items: `{"version": 2, "items": [record, …]}`, the container of span v2 items (and
//! of logs and trace metrics). Each record names its own trace and, when the app set it,
//! its company (the `--company-tag` attribute: sentry-sdk 3.x's `set_attribute` reaches
//! every span that ends after the call). One item can hold records of several companies, or
//! records with and without the attribute (3.x: the spans that end before the middleware
//! runs have none), so consent is decided per record: the records are read here without
//! being scrubbed (one pass that skips all but `trace_id` and the company attribute), and
//! [`Batch::payload_of`] rebuilds the item for one company's records when it is split.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Ambiguous, AttributedBy, Own, TraceId};
use crate::event::is_company_key;
use crate::values::MAX_ELEMENTS;

/// A batch item's records, read for attribution only.
#[derive(Debug)]
pub(crate) struct Batch<'a> {
    /// The whole payload.
    payload: &'a str,
    /// Each record's trace and company (nulls skipped, at most [`MAX_ELEMENTS`], as the
    /// typed list keeps them).
    pub records: Vec<Record>,
    /// The records' text, found only when the item is split (most items hold one
    /// company's records and leave whole).
    raws: OnceCell<Vec<&'a str>>,
}

/// One record's own attribution.
#[derive(Debug)]
pub(crate) struct Record {
    /// Company (attribute) and trace.
    pub own: Own,
}

impl<'a> Batch<'a> {
    /// Reads each record's trace and company in one pass (everything else is skipped
    /// unread). `Err` when the payload is not a JSON object, names `items` twice, or a
    /// record is not an object (the typed parse would refuse the item too: fail closed).
    pub fn read(
        payload: &'a str,
        company_tag: &str,
        header_trace: Option<TraceId>,
    ) -> Result<Batch<'a>, ()> {
        let mut de = serde_json::Deserializer::from_str(payload);
        let found = ContainerSeed(company_tag)
            .deserialize(&mut de)
            .map_err(|_| ())?;
        de.end().map_err(|_| ())?;
        let records = (found.into_iter())
            .map(|who| {
                let trace = (who.trace_id.as_deref())
                    .and_then(TraceId::parse)
                    .or(header_trace);
                let company = match who.company {
                    Company::None => Ok(None),
                    Company::One(c) => Ok(Some(c.into_owned())),
                    Company::Two => Err(Ambiguous),
                };
                let by = match company {
                    Ok(Some(_)) | Err(_) => AttributedBy::Attribute,
                    Ok(None) => AttributedBy::Unattributed,
                };
                Record {
                    own: Own {
                        company,
                        by,
                        user: None,
                        trace,
                    },
                }
            })
            .collect();
        Ok(Batch {
            payload,
            records,
            raws: OnceCell::new(),
        })
    }

    /// The payload for the records `keep` selects: the original bytes when it selects
    /// them all, else the same container with only those records in its `items` (the text
    /// from the first record to the last is replaced; what surrounds it is kept).
    pub fn payload_of(&self, keep: &[bool]) -> Cow<'a, str> {
        if keep.iter().all(|k| *k) {
            return Cow::Borrowed(self.payload);
        }
        let raws = self.raws.get_or_init(|| record_texts(self.payload));
        let (Some(first), Some(last)) = (raws.first(), raws.last()) else {
            return Cow::Borrowed(self.payload);
        };
        let start = offset(self.payload, first);
        let end = offset(self.payload, last) + last.len();
        let kept = raws.iter().zip(keep).filter(|(_, k)| **k);
        let len: usize = kept.clone().map(|(r, _)| r.len() + 1).sum();
        let mut out = String::with_capacity(self.payload.len() - (end - start) + len);
        out.push_str(&self.payload[..start]);
        for (i, (r, _)) in kept.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(r);
        }
        out.push_str(&self.payload[end..]);
        Cow::Owned(out)
    }
}

/// The records' text, in the order [`Batch::read`] found them (the payload was read once
/// already: it parses).
fn record_texts(payload: &str) -> Vec<&str> {
    #[derive(Deserialize)]
    struct Texts<'a> {
        #[serde(borrow, default)]
        items: Option<Records<'a>>,
    }
    serde_json::from_str::<Texts<'_>>(payload)
        .ok()
        .and_then(|t| t.items)
        .map(|r| r.0.into_iter().map(RawValue::get).collect())
        .unwrap_or_default()
}

/// The container: its `items`' traces and companies; every other key skipped unread.
struct ContainerSeed<'t>(&'t str);

impl<'de> DeserializeSeed<'de> for ContainerSeed<'_> {
    type Value = Vec<RecordWho<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ContainerSeed<'_> {
    type Value = Vec<RecordWho<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an item container")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut items = None;
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            if k == "items" {
                if items.is_some() {
                    return Err(serde::de::Error::duplicate_field("items"));
                }
                items = Some(map.next_value_seed(RecordsSeed(self.0))?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(items.unwrap_or_default())
    }
}

/// The records of `items`: a list's elements (nulls skipped, the first [`MAX_ELEMENTS`]);
/// a value that is not a list holds none (as the typed parse reads it).
struct RecordsSeed<'t>(&'t str);

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_> {
    type Value = Vec<RecordWho<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_> {
    type Value = Vec<RecordWho<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("records")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(who) = seq.next_element_seed(RecordSeed(self.0))? {
            if let Some(who) = who {
                out.push(who);
            }
            if out.len() == MAX_ELEMENTS {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                break;
            }
        }
        Ok(out)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Vec::new())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
}

/// The records' text: a list's elements (nulls skipped, the first [`MAX_ELEMENTS`]); a
/// value that is not a list holds none (as the typed parse reads it).
struct Records<'de>(Vec<&'de RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Records<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RecordsVisitor)
    }
}

struct RecordsVisitor;

impl<'de> Visitor<'de> for RecordsVisitor {
    type Value = Records<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("records")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            if raw.get() != "null" {
                out.push(raw);
            }
            if out.len() == MAX_ELEMENTS {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                break;
            }
        }
        Ok(Records(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Records(Vec::new()))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Records(Vec::new()))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Records(Vec::new()))
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Records(Vec::new()))
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Records(Vec::new()))
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Records(Vec::new()))
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Records(Vec::new()))
    }
}

/// Byte offset of `inner`, a slice of `outer`.
fn offset(outer: &str, inner: &str) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

/// The company values of one record.
#[derive(Debug, Default)]
enum Company<'de> {
    #[default]
    None,
    One(Cow<'de, str>),
    /// Two different values (two keys differing in case, or a repeated key).
    Two,
}

impl<'de> Company<'de> {
    fn add(&mut self, v: Cow<'de, str>) {
        *self = match std::mem::take(self) {
            Company::None => Company::One(v),
            Company::One(c) if c == v => Company::One(c),
            _ => Company::Two,
        }
    }
}

#[derive(Debug, Default)]
struct RecordWho<'de> {
    trace_id: Option<Cow<'de, str>>,
    company: Company<'de>,
}

/// Reads a record's `trace_id` and company attribute; every other key is skipped unread.
/// `null` is no record; anything else that is not an object is an error.
struct RecordSeed<'t>(&'t str);

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Option<RecordWho<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Option<RecordWho<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut who = RecordWho::default();
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            match k.as_ref() {
                "trace_id" => who.trace_id = map.next_value::<Scalar<'de>>()?.0,
                "attributes" => map.next_value_seed(AttributesSeed(self.0, &mut who.company))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(who))
    }
}

/// The company attribute among a record's attributes (key compared without case, as the
/// tag is), its value a typed attribute `{"type": …, "value": …}` or a bare scalar.
struct AttributesSeed<'t, 'c, 'de>(&'t str, &'c mut Company<'de>);

impl<'de> DeserializeSeed<'de> for AttributesSeed<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AttributesSeed<'_, '_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("attributes")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            if is_company_key(&k, self.0) {
                if let Some(v) = map.next_value::<AttrValue<'de>>()?.0 {
                    self.1.add(v);
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
    // Attributes that are not an object name no company (the typed parse skips them too).
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
}

/// A string, or a number as its decimal text (as a numeric company tag is read); anything
/// else is no value.
struct Scalar<'de>(Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar(
            serde_json::Number::from_f64(v).map(|n| Cow::Owned(n.to_string())),
        ))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Scalar(None))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar(None))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar(None))
    }
}

/// A typed attribute's `value` (`{"type": "string", "value": "4711"}`), or a bare scalar.
struct AttrValue<'de>(Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for AttrValue<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AttrValueVisitor)
    }
}

struct AttrValueVisitor;

impl<'de> Visitor<'de> for AttrValueVisitor {
    type Value = AttrValue<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an attribute")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut value = None;
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            if k == "value" {
                value = map.next_value::<Scalar<'de>>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(AttrValue(value))
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        ScalarVisitor.visit_borrowed_str(v).map(|s| AttrValue(s.0))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        ScalarVisitor.visit_str(v).map(|s| AttrValue(s.0))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        ScalarVisitor.visit_u64(v).map(|s| AttrValue(s.0))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        ScalarVisitor.visit_i64(v).map(|s| AttrValue(s.0))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        ScalarVisitor.visit_f64(v).map(|s| AttrValue(s.0))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(AttrValue(None))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(AttrValue(None))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(AttrValue(None))
    }
}
