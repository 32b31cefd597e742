//! Detector tables: every positive with its exact redacted output, every negative unchanged.

use std::sync::OnceLock;

use proptest::prelude::*;
use scrub::detect::{Detectors, Kind, Match, Redaction};

fn detectors() -> &'static Detectors {
    static D: OnceLock<Detectors> = OnceLock::new();
    D.get_or_init(|| Detectors::new().expect("detectors build"))
}

/// The redacted text (the input itself when nothing matched).
fn redact(input: &str) -> String {
    detectors()
        .redact(input)
        .map_or_else(|| input.to_owned(), |r| r.text)
}

/// Check a table: each output is exact, and redacting it again changes nothing (placeholders
/// are never re-detected, e.g. `/home/[user]`).
fn check(family: &str, cases: &[(&str, &str)]) {
    for (input, expected) in cases {
        assert_eq!(redact(input), *expected, "{family}: {input:?}");
        assert_eq!(
            redact(expected),
            *expected,
            "{family}: re-redacting {expected:?}"
        );
    }
}

/// Negatives: nothing matches at all.
fn clean(family: &str, inputs: &[&str]) {
    for input in inputs {
        let mut found = Vec::new();
        detectors().find(input, &mut found);
        assert!(found.is_empty(), "{family}: {input:?} matched {found:?}");
        assert!(detectors().redact(input).is_none(), "{family}: {input:?}");
    }
}

#[test]
fn email() {
    check(
        "email",
        &[
            (
                "contact alice.martin+tag@example.co.uk now",
                "contact [email] now",
            ),
            ("<bob@example.com>", "<[email]>"),
            ("mailto:carol_x@mail.example.org.", "mailto:[email]."),
            ("user=dave@corp.io", "user=[email]"),
        ],
    );
    clean(
        "email",
        &[
            "java.lang.Object@4b1c1ea0",
            "<function foo at 0x7f3a2b1c4d50>",
            "user@localhost",
            "lodash@4.17.21",
            "@types/node",
            "git@1.2.3",
            "a@b.c",
        ],
    );
}

#[test]
fn ip() {
    check(
        "ip",
        &[
            ("from 81.2.69.160", "from [ip]"),
            ("1.2.3.4", "[ip]"),
            ("http://203.0.113.9:9000/x", "http://[ip]:9000/x"),
            ("ip:8.8.4.4,", "ip:[ip],"),
            ("172.32.0.1", "[ip]"),
            ("100.128.0.1", "[ip]"),
            ("addr 2001:db8::8a2e:370:7334 up", "addr [ip] up"),
            ("[2a00:1450::200e]:8080", "[[ip]]:8080"),
            ("::ffff:81.2.69.160", "[ip]"),
        ],
    );
    clean(
        "ip",
        &[
            "1.2.3",
            "4.2.16",
            "version 2.75.0",
            "1.2.3.4.5",
            "Django==4.2.1.3",
            "version: 1.2.3.4",
            "256.1.1.1",
            "v1.2.3.4",
            "12:34:56",
            "at 12:51:13.123",
            "::",
            "Class::method",
            // Loopback, private, link-local and shared addresses are the deployment's own.
            "http://127.0.0.1:9000/x",
            "from 10.1.2.3",
            "ip:192.168.0.1,",
            "172.16.5.4 172.31.255.255",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0:8000",
            "[::1]:8080",
            "fe80::1ff:fe23:4567:890a",
            "fd12:3456:789a::1",
            "::ffff:192.168.0.1",
            "a::b::c",
            "std::io::Error",
            "Vec::new()",
            "abc::def",
            "0x7f3a2b1c4d50",
        ],
    );
}

#[test]
fn mac() {
    check(
        "mac",
        &[
            ("eth0 aa:bb:cc:dd:ee:ff up", "eth0 [mac] up"),
            ("00-1A-2B-3C-4D-5E", "[mac]"),
        ],
    );
    clean(
        "mac",
        &[
            "12:34:56",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aa:bb-cc:dd:ee:ff",
        ],
    );
}

#[test]
fn card() {
    check(
        "card",
        &[
            ("4111 1111 1111 1111", "[card]"),
            ("card 4111-1111-1111-1111.", "card [card]."),
            ("5555555555554444", "[card]"),
            ("amex 378282246310005", "amex [card]"),
            ("6011111111111117", "[card]"),
            ("2223003122003222", "[card]"),
            ("4111 1111 1111 1111 exp 12/30", "[card] exp 12/30"),
        ],
    );
    clean(
        "card",
        &[
            "4111 1111 1111 1112",
            "4111111111111112",
            "1732373820123",
            "1732373820123456",
            "41111111111111111",
            "x4111111111111111",
            "4111111111111111ab",
            "ts=1732373820",
        ],
    );
}

#[test]
fn iban() {
    check(
        "iban",
        &[
            ("FR1420041010050500013M02606", "[iban]"),
            (
                "iban FR76 3000 6000 0112 3456 7890 189 ok",
                "iban [iban] ok",
            ),
            ("DE89370400440532013000", "[iban]"),
            ("GB29NWBK60161331926819", "[iban]"),
            ("ES9121000418450200051332", "[iban]"),
            ("IT60X0542811101000000123456", "[iban]"),
            ("NL91ABNA0417164300", "[iban]"),
            ("BE68539007547034", "[iban]"),
            ("CH9300762011623852957", "[iban]"),
            ("AT611904300234573201", "[iban]"),
            ("LU280019400644750000", "[iban]"),
            ("PT50000201231234567890154", "[iban]"),
            ("IE29AIBK93115212345678", "[iban]"),
        ],
    );
    clean(
        "iban",
        &[
            "DE89370400440532013001",
            "FR1420041010050500013M02607",
            "DE8937040044053201300",
            "XX89370400440532013000",
            "NL91ABNA0417164300X",
        ],
    );
}

#[test]
fn phone() {
    check(
        "phone",
        &[
            ("call +33 6 12 34 56 78", "call [phone]"),
            ("+49 30 1234567", "[phone]"),
            ("+1 (415) 555-2671", "[phone]"),
            ("+49 (0)30 1234567", "[phone]"),
            ("0033612345678", "[phone]"),
            ("tel: 06 12 34 56 78", "tel: [phone]"),
            ("06.12.34.56.78", "[phone]"),
            ("0612345678", "[phone]"),
            ("030 1234567", "[phone]"),
            ("0151 23456789", "[phone]"),
            ("07911 123456", "[phone]"),
            ("tel:+442079460958", "tel:[phone]"),
        ],
    );
    clean(
        "phone",
        &[
            "2026-11-23 12:51:13",
            "2026-01-05 09:03:07",
            "05.11.2023",
            "05/11/2023 10:00",
            "550e8400-e29b-41d4-a716-446655440000",
            "00000000-0000-0000-0000-000000000000",
            "took 123456 ms",
            "0.123456789",
            "0x7f3a2b1c4d50",
            "0123456789abcdef0123456789abcdef01234567",
            "line 0",
            "port 08080",
            "0012345678",
            "x+1",
            "1 + 2 = 3",
        ],
    );
}

#[test]
fn jwt_and_auth() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    check(
        "jwt",
        &[
            (&format!("token {jwt} expired"), "token [jwt] expired"),
            (&format!("{jwt}."), "[jwt]."),
            (
                &format!("Authorization: Bearer {jwt}"),
                "Authorization: Bearer [jwt]",
            ),
            (
                "Authorization: Bearer abc123def456ghi",
                "Authorization: Bearer [token]",
            ),
            ("bearer 8f2b1c9d0e7a6b5c", "bearer [token]"),
            (
                "Authorization: Basic dXNlcjpwYXNzd29yZA==",
                "Authorization: Basic [credentials]",
            ),
            ("basic YWxpY2U6c2VjcmV0", "basic [credentials]"),
            ("authorization=opaque-value", "authorization=[secret]"),
        ],
    );
    clean(
        "auth",
        &[
            "basic configuration error",
            "Basic auth failed",
            "bearer authentication required",
            "Basic dGVzdA==",
            "eyJhbGciOiJIUzI1NiJ9",
        ],
    );
}

#[test]
fn api_keys() {
    check(
        "apikey",
        &[
            ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "key [api-key]"),
            ("rk_test_51H8abcdefGHIJKLmnop", "[api-key]"),
            ("sk-proj-AbCdEf0123456789GhIjKlMnOpQrStUv", "[api-key]"),
            ("sk-ant-api03-Xy9ZabcdefGHIJKLmnopqrst", "[api-key]"),
            ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", "[api-key]"),
            ("github_pat_11ABCDEFG0123456789_abcdefghijkl", "[api-key]"),
            ("glpat-xYz0123456789abcDEFgh", "[api-key]"),
            ("xoxb-1234567890-abcdefghij", "[api-key]"),
            ("aws AKIAIOSFODNN7EXAMPLE,", "aws [api-key],"),
            ("AIzaSyA1234567890abcdefghijklmnopqrstuv", "[api-key]"),
            ("SG.abcdefghijklmnop0123.qrstuvwxyz0123456789", "[api-key]"),
            ("hf_abcdefghijklmnopqrstuvwxyz0123456", "[api-key]"),
            (
                "sntrys_eyJpYXQiOjE2ODAwMDAwMDAsInVybCI6Imh0dHBzOi8vc2VudHJ5LmlvIn0_abcdef",
                "[api-key]",
            ),
        ],
    );
    clean(
        "apikey",
        &[
            "sk-learn",
            "task-runner-for-the-background-jobs",
            "disk-usage-check-for-all-volumes-now",
            "AKIA",
            "AKIAIOSFODNN7EXAMPLEXX",
            "ghp_short",
            "msg.abcdefghijklmnop0123.qrstuvwxyz0123456789",
        ],
    );
}

#[test]
fn key_value_secrets() {
    check(
        "secret",
        &[
            ("password=hunter2", "password=[secret]"),
            ("passwd: x", "passwd: [secret]"),
            (r#"{"token": "abc"}"#, r#"{"token": "[secret]"}"#),
            (
                r#"{"password": "correct horse battery"}"#,
                r#"{"password": "[secret]"}"#,
            ),
            (r#"{\"token\":\"abc\"}"#, r#"{\"token\":\"[secret]\"}"#),
            ("?api_key=abc123&page=2", "?api_key=[secret]&page=2"),
            ("client_secret=s3cr3t; next", "client_secret=[secret]; next"),
            ("access_token: ya29.a0AfH6SM", "access_token: [secret]"),
            ("refresh_token=r1,x=2", "refresh_token=[secret],x=2"),
            ("{'pwd': 'p@ss'}", "{'pwd': '[secret]'}"),
            (
                "SECRET_KEY = 'django-insecure-x'",
                "SECRET_KEY = '[secret]'",
            ),
            ("x-api-key: k-123", "x-api-key: [secret]"),
            ("db_password => hunter2", "db_password => [secret]"),
            ("csrftoken=AbC", "csrftoken=[secret]"),
            (
                "password=sk_live_4eC39HqLyjWDarjtT1zdp7dc",
                "password=[api-key]",
            ),
            // Session cookies: Django's, PHP's, Java's, in a header or in source.
            ("sessionid=s3cr3tc00k1e", "sessionid=[secret]"),
            (
                r#"headers={"Cookie": "sessionid=s3cr3tc00k1e"}"#,
                r#"headers={"Cookie": "[secret]"}"#,
            ),
            (
                "Cookie: csrftoken=AbC; sessionid=xyz",
                "Cookie: [secret]; sessionid=[secret]",
            ),
            ("PHPSESSID=9f8e7d6c5b4a", "PHPSESSID=[secret]"),
            ("JSESSIONID=ABC123.node1", "JSESSIONID=[secret]"),
            ("session_key='q1w2e3r4'", "session_key='[secret]'"),
            ("request.session=abc", "request.session=[secret]"),
        ],
    );
    clean(
        "secret",
        &[
            "token_type=bearer",
            "max_tokens=1024",
            "tokenizer=gpt2",
            "Invalid password for user",
            "KeyError: 'token'",
            "password=",
            "password_reset_url=/reset",
            "SyntaxError: Unexpected token: '}'",
            "session_count=3",
            "sessions=4",
            "SessionInterrupted: lost",
            // Bound-parameter markers in queries are not values.
            r#"WHERE "django_session"."session_key" = %s LIMIT 21"#,
            "WHERE password = ? AND token = $1",
            "SET api_key = %(api_key)s",
            "WHERE session_id = :sid",
        ],
    );
}

#[test]
fn url_credentials() {
    check(
        "urlauth",
        &[
            (
                "postgres://app:hunter2@db.internal:5432/app",
                "postgres://[credentials]@db.internal:5432/app",
            ),
            (
                "https://alice:pw@example.com/x",
                "https://[credentials]@example.com/x",
            ),
            (
                "redis://:s3cret@10.0.0.5:6379",
                "redis://[credentials]@10.0.0.5:6379",
            ),
            (
                "https://alice@example.com/x",
                "https://[credentials]@example.com/x",
            ),
            (
                "https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com",
                "https://[credentials]@github.com",
            ),
        ],
    );
    clean(
        "urlauth",
        &[
            "ssh://git@github.com/org/repo",
            "https://example.com/a:b@c",
            "https://:@example.com",
            "https://example.com:8443/path",
        ],
    );
}

#[test]
fn private_key() {
    check(
        "pem",
        &[
            (
                "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- done",
                "key: [private-key] done",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg",
                "[private-key]",
            ),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----",
                "[private-key]",
            ),
        ],
    );
    clean(
        "pem",
        &[
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            "-----BEGIN PUBLIC KEY-----",
        ],
    );
}

#[test]
fn national_ids() {
    check(
        "nationalid",
        &[
            ("NIR 1 84 12 76 451 089 46", "NIR [national-id]"),
            ("184127645108946", "[national-id]"),
            ("2 69 05 2A 123 456 88", "[national-id]"),
            ("269052B12345618", "[national-id]"),
            ("steuer-id 86095742719", "steuer-id [national-id]"),
            ("65929970489", "[national-id]"),
            ("DNI 12345678Z", "DNI [national-id]"),
            ("12345678-Z", "[national-id]"),
            ("NIE X1234567L", "NIE [national-id]"),
            ("Y1234567X.", "[national-id]."),
            ("CF RSSMRA85T10A562S", "CF [national-id]"),
            ("MRTMTT25D09F205Z", "[national-id]"),
            ("bsn 111222333", "bsn [national-id]"),
            ("85.07.30-033.28", "[national-id]"),
            ("85073003328", "[national-id]"),
            ("01.02.03-456.03", "[national-id]"),
        ],
    );
    clean(
        "nationalid",
        &[
            "1 84 12 76 451 089 47",
            "86095742718",
            "12345678A",
            "X1234567A",
            "RSSMRA85T10A562T",
            "rssmra85t10a562s",
            "123456789",
            "85.07.30-033.29",
            "111222333444",
        ],
    );
}

#[test]
fn home_paths() {
    check(
        "userpath",
        &[
            ("/home/alice/app/x.py", "/home/[user]/app/x.py"),
            (
                "File \"/Users/bob/src/main.py\", line 3",
                "File \"/Users/[user]/src/main.py\", line 3",
            ),
            (
                r"C:\Users\carol\AppData\x.dll",
                r"C:\Users\[user]\AppData\x.dll",
            ),
            (r"C:\\Users\\carol\\AppData", r"C:\\Users\\[user]\\AppData"),
            (r"c:\users\Jane Doe\Desktop", r"c:\users\[user]\Desktop"),
            ("file:///home/dave", "file:///home/[user]"),
            ("/home/élodie/x", "/home/[user]/x"),
            (&format!("/home/{}/x", "日".repeat(30)), "/home/[user]/x"),
        ],
    );
    clean(
        "userpath",
        &[
            "/home/[user]/app",
            "/root/app/x.py",
            "https://example.com/home/index",
            "/HOME/alice",
            "/users/42/profile",
            "/home/",
        ],
    );
}

#[test]
fn technical_strings_are_not_pii() {
    clean(
        "technical",
        &[
            "1.2.3",
            "4.2.16",
            "2.75.0",
            "3.11.7",
            "line 1234",
            "File \"app.py\", line 42, in handler",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "9ec79c33ec9942ab8353589fcb2e04dc",
            "a1b2c3d4e5f60718",
            "550e8400-e29b-41d4-a716-446655440000",
            "2026-11-23T12:51:13.123Z",
            "2026-11-23 12:51:13",
            "1732373820",
            "1732373820123",
            "0x7f3a2b1c4d50",
            "took 1500ms",
            "<Foo object at 0x7f3a2b1c4d50>",
            "java.lang.Object@4b1c1ea0",
            "django.core.handlers.exception",
            "SELECT * FROM users WHERE id = %s AND org = $1",
            "GET /api/v2/items/123",
            "ValueError: invalid literal for int() with base 10: 'abc'",
            "",
        ],
    );
}

#[test]
fn combined_sentence_and_remarks() {
    let r = detectors()
        .redact("search failed for alice@example.com from 81.2.69.3 card 4111-1111-1111-1111")
        .expect("matches");
    assert_eq!(r.text, "search failed for [email] from [ip] card [card]");
    assert_eq!(
        r.remarks,
        vec![
            (Kind::Email, 18, 25),
            (Kind::Ip, 31, 35),
            (Kind::Card, 41, 47)
        ]
    );
    for &(kind, s, e) in &r.remarks {
        assert_eq!(&r.text[s..e], kind.placeholder());
    }

    let r = detectors()
        .redact("password=hunter2 for /home/alice")
        .expect("matches");
    assert_eq!(
        r,
        Redaction {
            text: "password=[secret] for /home/[user]".into(),
            remarks: vec![(Kind::Secret, 9, 17), (Kind::HomeUser, 28, 34)],
        }
    );
}

#[test]
fn find_reports_sorted_input_ranges() {
    let text = "a 81.2.6.7 b bob@example.com";
    let mut out = vec![Match {
        kind: Kind::Card,
        start: 0,
        end: 1,
    }]; // cleared by find
    detectors().find(text, &mut out);
    assert_eq!(
        out,
        vec![
            Match {
                kind: Kind::Ip,
                start: 2,
                end: 10
            },
            Match {
                kind: Kind::Email,
                start: 13,
                end: 28
            },
        ]
    );
}

#[test]
fn kinds_have_placeholders_and_rule_ids() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Detectors>();
    assert_eq!(Kind::ALL.len(), 15);
    for k in Kind::ALL {
        assert!(k.placeholder().starts_with('[') && k.placeholder().ends_with(']'));
        assert!(k.rule_id().starts_with('@'));
    }
}

/// Fragments that produce matches, to mix with arbitrary text in the property test.
const FRAGMENTS: &[&str] = &[
    "alice@example.com",
    "81.2.69.160",
    "4111 1111 1111 1111",
    "DE89370400440532013000",
    "+33 6 12 34 56 78",
    "password=hunter2",
    "/home/alice/x",
    "Bearer abc123def456",
    "2001:db8::1",
    "10.1.2.3",
    "aa:bb:cc:dd:ee:ff",
    "12345678Z",
    "https://u:p@h.io",
    " ",
    ":",
    "@",
    "0",
    "1.2.3",
    "é",
    "\\",
    "\"",
    "-----BEGIN PRIVATE KEY-----",
    "日本語",
    "/home/",
    "C:\\Users\\",
    "token: ",
    "=",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx.sig",
];

proptest! {
    #[test]
    fn redact_is_total_and_consistent(
        parts in proptest::collection::vec(
            prop_oneof![any::<String>(), proptest::sample::select(FRAGMENTS).prop_map(String::from)],
            0..8,
        )
    ) {
        let input: String = parts.concat();
        let mut found = Vec::new();
        detectors().find(&input, &mut found);
        let out = detectors().redact(&input);
        match out {
            None => prop_assert!(found.is_empty()),
            Some(r) => {
                prop_assert_eq!(r.remarks.len(), found.len());
                // Rebuild the output from the matches: each one became its placeholder.
                let mut expect = String::new();
                let mut last = 0;
                for (m, &(kind, s, e)) in found.iter().zip(&r.remarks) {
                    prop_assert!(m.start >= last && m.start < m.end);
                    prop_assert!(input.is_char_boundary(m.start) && input.is_char_boundary(m.end));
                    prop_assert!(r.text.is_char_boundary(s) && r.text.is_char_boundary(e));
                    prop_assert_eq!(kind, m.kind);
                    expect.push_str(&input[last..m.start]);
                    prop_assert_eq!(expect.len(), s);
                    expect.push_str(kind.placeholder());
                    prop_assert_eq!(expect.len(), e);
                    last = m.end;
                }
                expect.push_str(&input[last..]);
                prop_assert_eq!(&r.text, &expect);
                // No matched text survives, unless it also occurs outside every match.
                let gaps: Vec<&str> = {
                    let mut g = Vec::new();
                    let mut last = 0;
                    for m in &found { g.push(&input[last..m.start]); last = m.end; }
                    g.push(&input[last..]);
                    g
                };
                for m in &found {
                    let secret = &input[m.start..m.end];
                    let elsewhere = gaps.iter().any(|g| g.contains(secret))
                        || Kind::ALL.iter().any(|k| k.placeholder().contains(secret));
                    prop_assert!(elsewhere || !r.text.contains(secret), "{:?} survived in {:?}", secret, r.text);
                }
            }
        }
    }
}
