//! The crate's layout follows the envelope's path, and this test keeps it so: every
//! `crate::…` reference in `proxy/src` is checked against the stage order of
//! `docs/ARCHITECTURE.md`. Ingest knows the pipeline, the pipeline knows egress, and no stage
//! reaches back upstream of itself or into `config`; stages share only the leaves.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Which top-level modules each one may name. `lib`/`main` (the composition root) may name
/// anything. The leaves (`dsn`, `respond`, `offload`, `keep`, `metrics`, `consent_view`)
/// name nothing in the crate; the stages name each other only downstream.
const ALLOWED: &[(&str, &[&str])] = &[
    ("dsn", &[]),
    ("respond", &[]),
    ("offload", &[]),
    ("keep", &[]),
    ("metrics", &[]),
    ("consent_view", &[]),
    ("admin", &["consent_source", "respond"]),
    ("consent_source", &["consent_view", "metrics"]),
    (
        "egress",
        &["consent_view", "dsn", "keep", "metrics", "offload"],
    ),
    (
        "pipeline",
        &[
            "consent_view",
            "dsn",
            "egress",
            "keep",
            "metrics",
            "offload",
        ],
    ),
    (
        "ingest",
        &["dsn", "metrics", "offload", "pipeline", "respond"],
    ),
    ("config", &["consent_source", "dsn", "egress", "ingest"]),
    (
        "scrub_cmd",
        &[
            "config",
            "consent_source",
            "consent_view",
            "ingest",
            "pipeline",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read proxy/src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`ingest` for `ingest/server.rs`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_owned()
}

/// Every `crate::a` or `crate::a::b` named in `text` (code, not comments).
fn references(text: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let segs: Vec<&str> = rest
                .split("::")
                .take(2)
                .map(|s| {
                    let end = s
                        .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                        .unwrap_or(s.len());
                    &s[..end]
                })
                .collect();
            let top = segs.first().copied().unwrap_or("").to_owned();
            let second = segs.get(1).copied().unwrap_or("").to_owned();
            if !top.is_empty() {
                out.insert((top, second));
            }
        }
    }
    out
}

#[test]
fn stages_depend_only_downstream_and_on_leaves() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut seen_modules = BTreeSet::new();
    for file in &files {
        let module = module_of(&src, file);
        seen_modules.insert(module.clone());
        if module == "lib" || module == "main" {
            continue;
        }
        let Some((_, allowed)) = ALLOWED.iter().find(|(m, _)| *m == module) else {
            violations.push(format!(
                "{}: module `{module}` is not in the layout table",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read source");
        for (top, second) in references(&text) {
            if top == module {
                continue;
            }
            let qualified = if second.is_empty() {
                top.clone()
            } else {
                format!("{top}::{second}")
            };
            let ok = allowed.iter().any(|a| *a == top || *a == qualified);
            if !ok {
                violations.push(format!(
                    "{}: `{module}` names `crate::{qualified}`",
                    file.display()
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering broken:\n{}",
        violations.join("\n")
    );
    // The table covers the tree: a module renamed or added must be placed in it.
    for (m, _) in ALLOWED {
        assert!(seen_modules.contains(*m), "no module `{m}` in proxy/src");
    }
}

#[test]
fn the_reference_scanner_sees_what_it_must() {
    let text = "use crate::egress::{Job, Queue};\nlet x = crate::offload::offload(true, f);\n// crate::config in a comment\n";
    let refs = references(text);
    assert_eq!(
        refs,
        BTreeSet::from([
            ("egress".to_owned(), "".to_owned()),
            ("offload".to_owned(), "offload".to_owned()),
        ])
    );
}
