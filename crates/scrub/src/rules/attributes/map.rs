//! The parsed form of attribute maps: only the table's keys (and the company attribute)
//! are kept, each value a scalar or a list of strings.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::{rule_of, Rule};
use crate::walk::values::{Val, MAX_ELEMENTS};

thread_local! {
    /// The company tag's name while an item of a type that carries it as an attribute is
    /// parsed. serde's derive passes no context down to a map's visitor, and the name is
    /// configuration (`--company-tag`), so it is set around the parse by
    /// [`with_company_key`] rather than threaded through every derived type as a seed.
    static COMPANY_KEY: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f` (a parse) with attributes named like `company_tag` (in any case) captured as
/// the company attribute.
pub fn with_company_key<R>(company_tag: &str, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<String>);
    impl Drop for Reset {
        fn drop(&mut self) {
            COMPANY_KEY.with(|k| *k.borrow_mut() = self.0.take());
        }
    }
    let previous = COMPANY_KEY.with(|k| k.borrow_mut().replace(company_tag.to_owned()));
    let _reset = Reset(previous);
    f()
}

fn company_key(key: &str) -> Option<String> {
    COMPANY_KEY.with(|k| {
        k.borrow()
            .as_deref()
            .filter(|tag| key.eq_ignore_ascii_case(tag))
            .map(str::to_owned)
    })
}

/// One kept entry: its key as it will be written, its rule and its value.
#[derive(Debug)]
pub struct Entry<V> {
    /// The table's key, or the configured company tag's name.
    pub key: Cow<'static, str>,
    /// How the value is judged.
    pub rule: Rule,
    /// The value.
    pub value: V,
}

impl<V> Entry<V> {
    /// The key as a path segment of `_meta`: the table's `'static` key, or the policy's
    /// company tag (which outlives the walk).
    pub fn meta_key<'p>(&self, policy: &'p crate::policy::Policy) -> &'p str {
        match &self.key {
            Cow::Borrowed(k) => k,
            Cow::Owned(_) => policy.config.company_tag.as_str(),
        }
    }
}

/// A map filtered by [`super::keys::KEYS`] while parsing: other keys are skipped unread and only
/// counted. Span data (`V` = [`AttrVal`]) and typed attributes (`V` = a typed attribute)
/// share it.
#[derive(Debug)]
pub struct Allowlisted<V> {
    /// Kept entries, in the order sent.
    pub kept: Vec<Entry<V>>,
    /// Entries skipped.
    pub removed: u32,
}

impl<V> Default for Allowlisted<V> {
    fn default() -> Self {
        Allowlisted {
            kept: Vec::new(),
            removed: 0,
        }
    }
}

impl<V> Allowlisted<V> {
    /// True when nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// The value under a table key.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.kept.iter().find(|e| e.key == key).map(|e| &e.value)
    }
}

impl<V: Serialize> Serialize for Allowlisted<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.kept.iter().map(|e| (e.key.as_ref(), &e.value)))
    }
}

struct AllowlistedVisitor<V>(std::marker::PhantomData<V>);

impl<'de, V: Deserialize<'de>> Visitor<'de> for AllowlistedVisitor<V> {
    type Value = Allowlisted<V>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("span data or attributes")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut d = Allowlisted::default();
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            let found = match rule_of(&k) {
                Some((key, rule)) => Some((Cow::Borrowed(key), rule)),
                None => company_key(&k).map(|tag| (Cow::Owned(tag), Rule::Company)),
            };
            match found {
                // A repeated key must not grow the list without bound.
                Some((key, rule)) if d.kept.len() < MAX_ELEMENTS => d.kept.push(Entry {
                    key,
                    rule,
                    value: map.next_value()?,
                }),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    d.removed = d.removed.saturating_add(1);
                }
            }
        }
        Ok(d)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Allowlisted::default())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Allowlisted<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AllowlistedVisitor(std::marker::PhantomData))
    }
}

/// Most strings kept from one list value (`finish_reasons` has one per choice).
pub(super) const MAX_LIST: usize = 32;

/// An attribute's value: a scalar, or a list of strings (the only lists a kept rule reads;
/// any other list or object is [`Val::Other`], dropped).
#[derive(Debug, Clone, PartialEq)]
pub enum AttrVal<'a> {
    /// A scalar.
    One(Val<'a>),
    /// A list of strings.
    List(Vec<Cow<'a, str>>),
}

impl Serialize for AttrVal<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AttrVal::One(v) => v.serialize(s),
            AttrVal::List(l) => s.collect_seq(l.iter().map(AsRef::<str>::as_ref)),
        }
    }
}

struct AttrValVisitor;

impl<'de> Visitor<'de> for AttrValVisitor {
    type Value = AttrVal<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(AttrVal::One(Val::Str(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(AttrVal::One(Val::Str(Cow::Owned(v.to_owned()))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(AttrVal::One(Val::Num(v.into())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(AttrVal::One(Val::Num(v.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(AttrVal::One(
            serde_json::Number::from_f64(v).map_or(Val::Other, Val::Num),
        ))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(AttrVal::One(Val::Bool(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(AttrVal::One(Val::Other))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(AttrVal::One(Val::Other))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        let mut strings = true;
        while let Some(v) = seq.next_element::<Val<'de>>()? {
            match v {
                Val::Str(s) if out.len() < MAX_LIST => out.push(s),
                _ => strings = false,
            }
        }
        Ok(if strings {
            AttrVal::List(out)
        } else {
            AttrVal::One(Val::Other)
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(AttrVal::One(Val::Other))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for AttrVal<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AttrValVisitor)
    }
}

impl<'a> AttrVal<'a> {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrVal::One(v) => v.as_str(),
            AttrVal::List(_) => None,
        }
    }
}
