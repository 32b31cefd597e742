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

    /// Records that the string at `path` was replaced whole by `rule` with a placeholder of
    /// `end` bytes. Earlier remarks on it go (their ranges pointed into text that is no
    /// longer there); the original length stays when one of them recorded it, else `len`.
    pub fn replaced_whole(&mut self, path: &[Seg<'_>], rule: &str, end: usize, len: usize) {
        let node = self.node(path);
        let len = node.get("len").cloned().unwrap_or_else(|| len.into());
        let rem = rem_array(node);
        rem.clear();
        rem.push(Value::Array(vec![
            rule.into(),
            "s".into(),
            0.into(),
            end.into(),
        ]));
        node.insert("len".into(), len);
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

    #[test]
    fn a_whole_replacement_supersedes_earlier_ranges_and_keeps_the_original_length() {
        let mut m = Meta::default();
        let path = [Seg::Key("url")];
        m.substituted(
            &path,
            [("@urlpath:replace".to_owned(), 0, 40)].into_iter(),
            200,
        );
        m.replaced_whole(&path, "@budget:replace", 10, 40);
        m.replaced_whole(&[Seg::Key("logger")], "@budget:replace", 10, 7);
        assert_eq!(
            m.into_value().unwrap().to_string(),
            r#"{"logger":{"":{"len":7,"rem":[["@budget:replace","s",0,10]]}},"url":{"":{"len":200,"rem":[["@budget:replace","s",0,10]]}}}"#
        );
    }
}
