//! Sentry's `_meta`: remarks beside the event that tell Sentry's UI what was filtered.
//!
//! The tree mirrors the event: `{"exception": {"values": {"0": {"value": {"": {"rem":
//! [["@email:replace", "s", 18, 25]], "len": 40}}}}}}`. A remark is `[rule, kind]` for a
//! removed value (`x`) or `[rule, kind, start, end]` for a substitution (`s`) whose range is
//! in the new text; `len` is the original length.

use serde_json::{Map, Value};

/// One step of a path in the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg<'p> {
    /// An object key.
    Key(&'p str),
    /// An array index.
    Index(usize),
}

/// The `_meta` tree under construction, empty until the first remark.
#[derive(Debug, Default)]
pub struct Meta {
    root: Map<String, Value>,
}

impl Meta {
    /// Records substitutions `(rule, start, end)` of a string at `path`; `len` is the
    /// original length in bytes.
    pub fn substituted(
        &mut self,
        path: &[Seg<'_>],
        remarks: impl Iterator<Item = (String, usize, usize)>,
        len: usize,
    ) {
        let node = self.node(path);
        let rem = rem_array(node);
        for (rule, start, end) in remarks {
            rem.push(Value::Array(vec![
                rule.into(),
                "s".into(),
                start.into(),
                end.into(),
            ]));
        }
        node.insert("len".into(), len.into());
    }

    /// Records that the value at `path` was removed by `rule`.
    pub fn removed(&mut self, path: &[Seg<'_>], rule: &str) {
        let node = self.node(path);
        rem_array(node).push(Value::Array(vec![rule.into(), "x".into()]));
    }

    /// The finished tree, if any.
    pub fn into_value(self) -> Option<Value> {
        (!self.root.is_empty()).then_some(Value::Object(self.root))
    }

    /// The `""` object of the node at `path`, created on the way.
    fn node(&mut self, path: &[Seg<'_>]) -> &mut Map<String, Value> {
        let mut cur = &mut self.root;
        for seg in path {
            let key = match seg {
                Seg::Key(k) => (*k).to_owned(),
                Seg::Index(i) => i.to_string(),
            };
            cur = object(cur.entry(key).or_insert_with(|| Value::Object(Map::new())));
        }
        object(cur.entry("").or_insert_with(|| Value::Object(Map::new())))
    }
}

fn object(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

fn rem_array(node: &mut Map<String, Value>) -> &mut Vec<Value> {
    let v = node
        .entry("rem")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !v.is_array() {
        *v = Value::Array(Vec::new());
    }
    match v {
        Value::Array(a) => a,
        _ => unreachable!("just made an array"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_sentry_shaped_meta() {
        let mut m = Meta::default();
        let path = [
            Seg::Key("exception"),
            Seg::Key("values"),
            Seg::Index(0),
            Seg::Key("value"),
        ];
        m.substituted(
            &path,
            [("@email:replace".to_owned(), 4, 11)].into_iter(),
            20,
        );
        m.removed(
            &[Seg::Key("request"), Seg::Key("data")],
            "@allowlist:remove",
        );
        assert_eq!(
            m.into_value().unwrap().to_string(),
            r#"{"exception":{"values":{"0":{"value":{"":{"len":20,"rem":[["@email:replace","s",4,11]]}}}}},"request":{"data":{"":{"rem":[["@allowlist:remove","x"]]}}}}"#
        );
    }
}
