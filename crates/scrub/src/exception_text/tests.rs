//! The catalog on real messages: what stays, what becomes a placeholder, what is unknown.

use super::*;

fn judge(ty: &str, msg: &str) -> Verdict {
    let hosts = vec![".svc.cluster.local".to_owned()];
    Templates::shared()
        .unwrap()
        .judge(ty, msg, &["rerank".to_owned()], &hosts)
}

/// `(type, message, expected)`; `None` expected means kept unchanged.
fn check(cases: &[(&str, &str, Option<&str>)]) {
    let mut wrong = Vec::new();
    for &(ty, msg, want) in cases {
        let got = judge(ty, msg);
        let ok = match (want, &got) {
            (None, Verdict::Unchanged) => true,
            (Some(w), Verdict::Rewritten { text, .. }) => text == w,
            _ => false,
        };
        if !ok {
            wrong.push(format!("{ty}: {msg:?}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn catalog_compiles() {
    let broken: Vec<String> = catalog::CATALOG
        .iter()
        .filter_map(|(_, p)| {
            let c = pattern::compile(p).map_err(|e| e.to_string()).ok()?;
            regex::Regex::new(&c.regex)
                .err()
                .map(|e| format!("{p}: {e}"))
        })
        .chain(
            catalog::CATALOG
                .iter()
                .filter_map(|(_, p)| pattern::compile(p).err().map(|e| e.to_string())),
        )
        .collect();
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    assert_eq!(Templates::new().unwrap().len(), catalog::CATALOG.len());
}

#[test]
fn programming_errors_stay_readable() {
    check(&[
        ("ZeroDivisionError", "division by zero", None),
        ("IndexError", "list index out of range", None),
        ("KeyError", "'DATABASE_URL'", None),
        (
            "AttributeError",
            "'NoneType' object has no attribute 'split'",
            None,
        ),
        (
            "AttributeError",
            "'WSGIRequest' object has no attribute 'tenant'",
            None,
        ),
        (
            "AttributeError",
            "module 'json' has no attribute 'dumps'",
            None,
        ),
        // A typo is not a word of code: it is masked, the suggestion stays.
        (
            "AttributeError",
            "module 'json' has no attribute 'loadz'. Did you mean: 'loads'?",
            Some("module 'json' has no attribute '[identifier]'. Did you mean: 'loads'?"),
        ),
        (
            "NameError",
            "name 'requests' is not defined. Did you mean: 'request'?",
            None,
        ),
        (
            "ModuleNotFoundError",
            "No module named 'redis.asyncio'",
            None,
        ),
        (
            "ImportError",
            "cannot import name 'get_user' from 'app.auth' (/srv/app/auth/__init__.py)",
            None,
        ),
        ("TypeError", "'NoneType' object is not subscriptable", None),
        (
            "TypeError",
            "get_queryset() missing 1 required positional argument: 'request'",
            None,
        ),
        (
            "TypeError",
            "Object of type datetime is not JSON serializable",
            None,
        ),
        (
            "TypeError",
            "unsupported operand type(s) for +: 'int' and 'str'",
            Some("unsupported operand type(s) for [value]: 'int' and 'str'"),
        ),
        (
            "ValueError",
            "not enough values to unpack (expected 3, got 2)",
            None,
        ),
        (
            "RecursionError",
            "maximum recursion depth exceeded while calling a Python object",
            None,
        ),
        (
            "JSONDecodeError",
            "Expecting value: line 1 column 1 (char 0)",
            None,
        ),
        (
            "RuntimeError",
            "dictionary changed size during iteration",
            None,
        ),
        ("StopIteration", "", None),
        (
            "UnicodeDecodeError",
            "'utf-8' codec can't decode byte 0xa0 in position 104: invalid start byte",
            None,
        ),
    ]);
}

#[test]
fn infrastructure_failures_keep_technical_hosts() {
    check(&[
        ("ConnectionRefusedError", "[Errno 111] Connection refused", None),
        ("gaierror", "[Errno -2] Name or service not known", None),
        ("OperationalError", "no such table: documents_document", None),
        ("ConnectionError", "Error 111 connecting to localhost:6379. Connection refused.", None),
        ("ConnectionError", "Error 111 connecting to redis:6379. Connection refused.", None),
        ("ConnectionError", "Error 111 connecting to cache.svc.cluster.local:6379. Connection refused.", None),
        (
            "ConnectionError",
            "HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: /api/v2/items (Caused by NewConnectionError(\"HTTPConnection(host='127.0.0.1', port=9): Failed to establish a new connection: [Errno 111] Connection refused\"))",
            None,
        ),
        ("TimeoutError", "timed out", None),
    ]);
}

#[test]
fn hosts_tokens_and_names_from_users_become_placeholders() {
    check(&[
        (
            "ConnectionError",
            "HTTPSConnectionPool(host='zephyrine-laptop.corp-intra.example.net', port=443): Max retries exceeded with url: /sync?token=tok_CANARY9f3b2c1d (Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f3a2c1d0e50>: Failed to resolve 'zephyrine-laptop.corp-intra.example.net' ([Errno -2] Name or service not known)\"))",
            Some("HTTPSConnectionPool(host='[host]', port=443): Max retries exceeded with url: /sync (Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f3a2c1d0e50>: Failed to resolve '[host]' ([Errno -2] Name or service not known)\"))"),
        ),
        ("AttributeError", "'Document' object has no attribute 'field_zephyrine'", Some("'Document' object has no attribute '[identifier]'")),
        ("KeyError", "'zephyrine'", Some("[value]")),
        ("ValueError", "invalid literal for int() with base 10: 'Zephyrine Quillfeather'", Some("invalid literal for int() with base 10: [value]")),
        ("FileNotFoundError", "[Errno 2] No such file or directory: '/srv/media/Quillfeather Family Memoirs.pdf'", Some("[Errno 2] No such file or directory: '/srv/media/*'")),
        ("DisallowedHost", "Invalid HTTP_HOST header: 'zephyrine.example.org'. You may need to add 'zephyrine.example.org' to ALLOWED_HOSTS.", Some("Invalid HTTP_HOST header: '[host]'. You may need to add '[host]' to ALLOWED_HOSTS.")),
        (
            "HTTPError",
            "404 Client Error: Not Found for url: http://127.0.0.1:8000/people/zephyrine-quillfeather/?token=tok_1",
            Some("404 Client Error: Not Found for url: http://127.0.0.1:8000/people/*/"),
        ),
        (
            "IntegrityError",
            "duplicate key value violates unique constraint \"users_email_key\"\nDETAIL:  Key (email)=(zephyrine.quillfeather@example.com) already exists.\n",
            Some("duplicate key value violates unique constraint \"users_email_key\"\nDETAIL:  Key (email)=([value]) already exists.\n"),
        ),
        ("FieldError", "Cannot resolve keyword 'zephyrine' into field. Choices are: id, title, owner", Some("Cannot resolve keyword '[identifier]' into field. Choices are: id, title, owner")),
    ]);
}

#[test]
fn drf_details_and_psycopg3_hosts_are_known() {
    check(&[
        (
            "ValidationError",
            "{'email': [ErrorDetail(string='Enter a valid email address.', code='invalid')], 'kind': [ErrorDetail(string='\"Zephyrine's tithe map\" is not a valid choice.', code='invalid_choice')]}",
            Some("{'email': [ErrorDetail(string='Enter a valid email address.', code='invalid')], 'kind': [ErrorDetail(string='\"[value]\" is not a valid choice.', code='invalid_choice')]}"),
        ),
        (
            "ValidationError",
            "[ErrorDetail(string='This field is required.', code='required')]",
            None,
        ),
        (
            "OperationalError",
            "failed to resolve host 'zephyrine-thinkpad.branch-office.example.org': [Errno -2] Name or service not known",
            Some("failed to resolve host '[host]': [Errno -2] Name or service not known"),
        ),
    ]);
}

#[test]
fn free_text_is_unknown() {
    for (ty, msg) in [
        ("SearchError", "search failed for merger plans of Globex"),
        ("ValueError", "no quote for Zephyrine Quillfeather"),
        (
            "AssistantError",
            "prompt rejected by model (context too long): 'quarterly merger plans'",
        ),
        ("ConnectionError", "could not reach zephyrine-laptop"),
        ("KeyError", "zephyrine quillfeather"),
    ] {
        assert_eq!(judge(ty, msg), Verdict::Unknown, "{msg}");
    }
}

#[test]
fn unknown_lines_of_a_known_message_are_filtered() {
    check(&[(
        "ProgrammingError",
        "relation \"documents\" does not exist\nLINE 1: SELECT * FROM documents WHERE title = 'Memoirs'\n                      ^",
        Some("relation \"documents\" does not exist\nLINE 1: SELECT * FROM documents WHERE title = %s\n                      ^"),
    )]);
    check(&[(
        "IntegrityError",
        "(sqlite3.IntegrityError) UNIQUE constraint failed: users.email\n[SQL: INSERT INTO users (email) VALUES (?)]\n[parameters: ('zephyrine@example.com',)]\n(Background on this error at: https://sqlalche.me/e/20/gkpj)\nsome words from Zephyrine",
        Some("(sqlite3.IntegrityError) UNIQUE constraint failed: users.email\n[SQL: INSERT INTO users (email) VALUES (%s)]\n[parameters: [value]]\n(Background on this error at: https://sqlalche.me/e/20/gkpj)\n[filtered]"),
    )]);
}

#[test]
fn type_limited_entries_need_their_type() {
    assert_eq!(judge("ValueError", "'DATABASE_URL'"), Verdict::Unknown);
    assert_eq!(judge("KeyError", "'DATABASE_URL'"), Verdict::Unchanged);
    assert_eq!(
        judge("builtins.KeyError", "'DATABASE_URL'"),
        Verdict::Unchanged
    );
}

#[test]
fn huge_and_deep_messages_are_unknown_without_panicking() {
    assert_eq!(
        judge("ValueError", &"x".repeat(MAX_LEN + 1)),
        Verdict::Unknown
    );
    let mut deep = "[Errno 111] Connection refused".to_owned();
    for _ in 0..10 {
        deep = format!("Wrapper('{deep}')");
    }
    assert!(matches!(
        judge("Wrapper", &deep),
        Verdict::Rewritten { .. } | Verdict::Unknown
    ));
}
