//! The catalog's little pattern language, compiled to anchored regular expressions.
//!
//! A pattern is the message as the library formats it, with its variable parts written as
//! typed slots: `'{type}' object has no attribute '{ident}'`. Everything else is literal
//! (no regex syntax to escape), so an entry reads like the library's own format string.
//!
//! - `{kind}`: a slot ([`Slot`]); each kind matches its own shape and is judged on its own.
//! - `{opt:…}`: an optional part (`{opt:. Did you mean: '{ident}'?}`), nestable.
//! - `{alt:a|b|c}`: one of literal alternatives (`{alt:was|were}`).
//! - `{{` and `}}`: literal braces (outside optional parts, where `}` closes the part).

use super::slots::Slot;

/// A pattern that does not compile: a bug in the catalog, caught by a unit test and at
/// policy build time, never at request time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("exception-message pattern {pattern:?}: {what}")]
pub struct PatternError {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong with it.
    pub what: String,
}

/// A compiled pattern: the regex source (anchored) and its slots in capture order.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) regex: String,
    pub(crate) slots: Vec<Slot>,
    /// The literal texts a message must start with to match (one per alternative of a
    /// leading `{alt:…}`); empty when the pattern starts with a slot or an optional part.
    pub(crate) prefixes: Vec<String>,
}

/// The literal start of a pattern: the text before its first `{` (with `{{` read as `{`),
/// or the alternatives of a leading `{alt:…}`.
fn prefixes(pattern: &str) -> Vec<String> {
    if let Some(r) = pattern.strip_prefix("{alt:") {
        let end = r.find('}').unwrap_or(r.len());
        return r[..end].split('|').map(str::to_owned).collect();
    }
    let mut prefix = String::new();
    let mut rest = pattern;
    loop {
        if let Some(r) = rest.strip_prefix("{{") {
            prefix.push('{');
            rest = r;
        } else if let Some(r) = rest.strip_prefix("}}") {
            prefix.push('}');
            rest = r;
        } else {
            match rest.chars().next() {
                None | Some('{') => break,
                Some(c) => {
                    prefix.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
    }
    if prefix.is_empty() {
        Vec::new()
    } else {
        vec![prefix]
    }
}

/// Compiles one pattern.
pub(crate) fn compile(pattern: &str) -> Result<Compiled, PatternError> {
    let err = |what: &str| PatternError {
        pattern: pattern.to_owned(),
        what: what.to_owned(),
    };
    let mut regex = String::with_capacity(pattern.len() * 2 + 8);
    regex.push('^');
    let mut slots = Vec::new();
    let mut depth = 0usize;
    let mut literal = String::new();
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("{{") {
            literal.push('{');
            rest = r;
        } else if let Some(r) = rest.strip_prefix("}}").filter(|_| depth == 0) {
            // Inside an optional part `}` closes it, so `}}` there closes two.
            literal.push('}');
            rest = r;
        } else if let Some(r) = rest.strip_prefix("{opt:") {
            flush(&mut regex, &mut literal);
            regex.push_str("(?:");
            depth += 1;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("{alt:") {
            let end = r.find('}').ok_or_else(|| err("unclosed `{alt:`"))?;
            if r[..end].contains('{') {
                return Err(err("a slot inside `{alt:…}`"));
            }
            flush(&mut regex, &mut literal);
            regex.push_str("(?:");
            for (i, a) in r[..end].split('|').enumerate() {
                if i > 0 {
                    regex.push('|');
                }
                regex.push_str(&regex::escape(a));
            }
            regex.push(')');
            rest = &r[end + 1..];
        } else if c == '{' {
            let end = rest.find('}').ok_or_else(|| err("unclosed slot"))?;
            let name = &rest[1..end];
            let slot = Slot::from_name(name).ok_or_else(|| err("unknown slot kind"))?;
            flush(&mut regex, &mut literal);
            regex.push('(');
            regex.push_str(&slot.shape());
            regex.push(')');
            slots.push(slot);
            rest = &rest[end + 1..];
        } else if c == '}' {
            if depth == 0 {
                return Err(err("unbalanced `}`"));
            }
            flush(&mut regex, &mut literal);
            regex.push_str(")?");
            depth -= 1;
            rest = &rest[1..];
        } else {
            literal.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if depth != 0 {
        return Err(err("unclosed `{opt:`"));
    }
    flush(&mut regex, &mut literal);
    regex.push('$');
    Ok(Compiled {
        regex,
        slots,
        prefixes: prefixes(pattern),
    })
}

fn flush(regex: &mut String, literal: &mut String) {
    regex.push_str(&regex::escape(literal));
    literal.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_text_is_escaped_and_slots_become_groups() {
        let c = compile("[Errno {num}] No such file: '{path}' (x.y)").unwrap();
        assert!(c.regex.starts_with(r"^\[Errno ("));
        assert!(c.regex.ends_with(r"\(x\.y\)$"));
        assert_eq!(c.slots, [Slot::Num, Slot::Path]);
    }

    #[test]
    fn optional_parts_nest_and_braces_escape() {
        let c = compile("a{opt: b '{ident}'{opt:!}} {{x}}{alt:| y| z.}").unwrap();
        let re = regex::Regex::new(&c.regex).unwrap();
        assert!(re.is_match("a {x}"));
        assert!(re.is_match("a b 'k' {x}"));
        assert!(re.is_match("a b 'k'! {x} y"));
        assert!(re.is_match("a {x} z."));
        assert!(!re.is_match("a {x} za"));
        assert!(!re.is_match("a b {x}"));
    }

    #[test]
    fn literal_starts_are_found() {
        let p = |s: &str| compile(s).unwrap().prefixes;
        assert_eq!(p("no such table: {dotted}"), ["no such table: "]);
        assert_eq!(p("{{'{ident}': x"), ["{'"]);
        assert_eq!(p("{alt:a b|c} {num}"), ["a b", "c"]);
        assert!(p("{type}('{msg}')").is_empty());
        assert!(p("{opt:x }y").is_empty());
    }

    #[test]
    fn mistakes_are_reported() {
        assert_eq!(compile("{nope}").unwrap_err().what, "unknown slot kind");
        assert_eq!(compile("a {opt:b").unwrap_err().what, "unclosed `{opt:`");
        assert_eq!(compile("a } b").unwrap_err().what, "unbalanced `}`");
        assert_eq!(compile("a {ident").unwrap_err().what, "unclosed slot");
        assert_eq!(
            compile("{alt:a|b {num}}").unwrap_err().what,
            "a slot inside `{alt:…}`"
        );
    }
}
