//! The crate reads in the order its data flows, and this test keeps it so: every
//! `crate::…` and `super::…` path in `crates/scrub/src` is mapped to the top-level module it
//! names, and a module may name only the modules before it in [`ORDER`] (the crate doc of
//! `lib.rs` and `docs/ARCHITECTURE.md` describe each). No import circle can form: a circle
//! needs one reference that goes back up the order.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The top-level modules, leaves first. `lib.rs` (the composition root) may name them all.
const ORDER: &[&str] = &[
    // The request's work meter: counted by everything that examines bytes.
    "work",
    // The words of code: the vocabulary, the splitter, API words.
    "words",
    // Detectors of personal data and secrets in free text.
    "detect",
    // Shape-preserving rewriters: SQL, URLs, identifiers, hosts, ids, log templates.
    "normalize",
    // The catalog of exception-message formats.
    "exception_text",
    // The operator's compiled policy.
    "policy",
    // Which company an item belongs to, and what consent says.
    "attribution",
    // What the vendor's ingest must not infer.
    "infer",
    // The walk's machinery: ctx, guards, meta, names memo, report, rule ids, values.
    "walk",
    // The rules of app-written names, releases and environments, attribute keys.
    "rules",
    // The item schemas and their dispatch.
    "items",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read scrub/src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `walk/ctx.rs` → `[walk, ctx]`, `words/mod.rs` → `[words]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut segs: Vec<String> = rel
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .collect();
    if segs.last().is_some_and(|s| s == "mod" || s == "lib") {
        segs.pop();
    }
    segs
}

/// The identifier at the start of `s` (`walk` of `walk::Ctx`), empty for `{`, `*` or a
/// type (`Decision`): lower-case names only, as modules are.
fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The code of `text` without `//` comments (doc comments name modules in prose).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segment of each item of a `{a, b::c, self}` group starting at `rest`
/// (just after the `{`), groups nested in it included.
fn group_heads(rest: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                out.push(ident(rest[start..i].trim_start()));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(ident(rest[start..i].trim_start()));
                start = i + 1;
            }
            _ => {}
        }
    }
    out
}

/// The top-level modules named from a file at `path`: `crate::a…`, `crate::{a, b}` and
/// `super::…` that climbs out of the file's top-level module. A `super` that climbs to the
/// root from an inline module (`mod tests { use super::*; }`) is read one level too high;
/// it is kept only when it names a known top-level module.
fn references(text: &str, path: &[String]) -> BTreeSet<String> {
    let text = code(text);
    let mut out = BTreeSet::new();
    let mut push = |name: &str| {
        if !name.is_empty() && name != "self" {
            out.insert(name.to_owned());
        }
    };
    let mut rest = text.as_str();
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        // `$crate::` and `my_crate::` are not this crate's root.
        if before.is_some_and(|c| c == '$' || c == '_' || c.is_ascii_alphanumeric()) {
            continue;
        }
        match rest.strip_prefix('{') {
            Some(group) => group_heads(group).into_iter().for_each(&mut push),
            None => push(ident(rest)),
        }
    }
    let mut rest = text.as_str();
    while let Some(i) = rest.find("super::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i..];
        if before.is_some_and(|c| c == '_' || c == ':' || c.is_ascii_alphanumeric()) {
            rest = &rest["super::".len()..];
            continue;
        }
        let mut depth = path.len();
        while let Some(r) = rest.strip_prefix("super::") {
            depth = depth.saturating_sub(1);
            rest = r;
        }
        if depth == 0 {
            match rest.strip_prefix('{') {
                Some(group) => group_heads(group)
                    .into_iter()
                    .filter(|n| ORDER.contains(n))
                    .for_each(&mut push),
                None if ORDER.contains(&ident(rest)) => push(ident(rest)),
                None => {}
            }
        }
    }
    out
}

/// Every reference in `src` that goes against [`ORDER`], as `file: \`a\` names \`b\``.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for file in &files {
        let path = module_path(src, file);
        let Some(module) = path.first() else {
            continue; // lib.rs: the composition root names every module.
        };
        seen.insert(module.clone());
        let Some(rank) = ORDER.iter().position(|m| m == module) else {
            out.push(format!(
                "{}: module `{module}` is not in the layout order",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read source");
        for name in references(&text, &path) {
            if name == *module {
                continue;
            }
            match ORDER.iter().position(|m| *m == name) {
                Some(r) if r < rank => {}
                Some(_) => out.push(format!(
                    "{}: `{module}` names `crate::{name}`, which comes after it",
                    file.display()
                )),
                None => out.push(format!(
                    "{}: `{module}` names `crate::{name}`, which is no module of the order \
                     (items of the crate root are defined in a module and re-exported)",
                    file.display()
                )),
            }
        }
    }
    for m in ORDER {
        if !seen.contains(*m) {
            out.push(format!("no module `{m}` in crates/scrub/src"));
        }
    }
    out
}

#[test]
fn modules_name_only_the_modules_before_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(found.is_empty(), "layering broken:\n{}", found.join("\n"));
}

#[test]
fn the_reference_scanner_sees_what_it_must() {
    let text = "use crate::walk::{guards, Ctx};\n\
                use crate::{policy::Policy, items};\n\
                use super::meta::Seg;\n\
                use super::super::normalize::url;\n\
                let x = $crate::work::charge(1);\n\
                // crate::rules in a comment\n\
                let d = crate::Decision::Drop(\"x\");\n";
    let path = ["walk".to_owned(), "ctx".to_owned()];
    assert_eq!(
        references(text, &path),
        BTreeSet::from(["items", "normalize", "policy", "walk"].map(str::to_owned))
    );
    assert_eq!(
        module_path(Path::new("/s"), Path::new("/s/words/mod.rs")),
        ["words"]
    );
    assert_eq!(
        module_path(Path::new("/s"), Path::new("/s/items/event/span.rs")),
        ["items", "event", "span"]
    );
}
