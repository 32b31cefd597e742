//! Technical names that must not be redacted, each as a rule for its
//! class, with planted canaries: GraphQL operations and resolvers, the path words of
//! well-known API endpoints, SQL inside library messages.

use bytes::Bytes;
use envelope::Envelope;
use scrub::{scrub_envelope, Decision, Policy, PolicyConfig, Upstream};
use serde_json::{json, Value};

const CANARY: &str = "zephyrine";

/// Scrubs one transaction holding `spans`, with or without ID consent; returns the kept
/// spans and the whole output.
fn spans_out(spans: Value, ids: bool) -> (Vec<Value>, String) {
    let tx = json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "type": "transaction", "transaction": "/graphql", "transaction_info": {"source": "route"}, "spans": spans});
    let body = format!("{{}}\n{{\"type\":\"transaction\"}}\n{tx}\n");
    let out = scrub_envelope(
        &Envelope::parse(Bytes::from(body)).unwrap(),
        &Policy::new(PolicyConfig::default()).unwrap(),
        Upstream::default(),
        |_, _| Decision::Forward { ids_allowed: ids },
    );
    let item: Value = serde_json::from_slice(out.envelope.items()[0].payload()).unwrap();
    let text = String::from_utf8(out.envelope.to_bytes().to_vec()).unwrap();
    (item["spans"].as_array().unwrap().clone(), text)
}

fn descriptions(pairs: &[(&str, &str)], ids: bool) -> (Vec<String>, String) {
    let spans: Vec<Value> = pairs
        .iter()
        .enumerate()
        .map(|(i, (op, d))| json!({"span_id": format!("a81618f4de9e10{i:02}"), "op": op, "description": d}))
        .collect();
    let (spans, text) = spans_out(Value::Array(spans), ids);
    let got = spans
        .iter()
        .map(|s| s["description"].as_str().unwrap_or("(none)").to_owned())
        .collect();
    (got, text)
}

/// GraphQL: the operation keyword and an operation name or resolver path stay (sentry-
/// python's strawberry, graphene and ariadne integrations, @sentry/node's graphql spans);
/// a query document with arguments and literals keeps only its keyword.
#[test]
fn graphql_operations_and_resolvers_are_identifiers() {
    let cases = [
        (
            "graphql.query",
            "query SearchDocuments",
            "query SearchDocuments",
        ),
        (
            "graphql.mutation",
            "mutation UpdateClient",
            "mutation UpdateClient",
        ),
        ("graphql.subscription", "subscription", "subscription"),
        (
            "graphql.resolve",
            "resolving Query.client",
            "resolving Query.client",
        ),
        (
            "graphql.resolve",
            "resolving Query.documents.0.author",
            "resolving Query.documents.0.author",
        ),
        (
            "graphql.resolve",
            "Query.documents.author",
            "Query.documents.author",
        ),
        ("graphql.parse", "parsing", "parsing"),
        ("graphql.validate", "validation", "validation"),
        ("graphql.execute", "SearchDocuments", "SearchDocuments"),
        (
            "graphql.query",
            "query { client(name: \"Zephyrine\") { id } }",
            "query",
        ),
        (
            "graphql.mutation",
            "mutation { rename(id: 4, to: \"zephyrine canarywood\") }",
            "mutation",
        ),
        (
            "graphql.query",
            "{ client(name: \"Zephyrine\") { id } }",
            "<custom span>",
        ),
        (
            "graphql.resolve",
            "resolving Zephyrine Canarywood",
            "resolving",
        ),
    ];
    let pairs: Vec<(&str, &str)> = cases.iter().map(|(op, d, _)| (*op, *d)).collect();
    let (got, text) = descriptions(&pairs, true);
    let want: Vec<&str> = cases.iter().map(|(.., w)| *w).collect();
    assert_eq!(got, want);
    assert!(!text.to_lowercase().contains(CANARY), "{text}");
}

/// The path words of the endpoints that the vendors' own clients call are technical; a
/// name or a slug in the same path is still masked, and ids without ID consent.
#[test]
fn well_known_api_paths_keep_their_words() {
    let urls = [
        (
            "https://api.openai.com/v1/chat/completions",
            "https://api.openai.com/v1/chat/completions",
        ),
        (
            "https://api.openai.com/v1/embeddings",
            "https://api.openai.com/v1/embeddings",
        ),
        (
            "https://api.openai.com/v1/responses",
            "https://api.openai.com/v1/responses",
        ),
        (
            "https://api.openai.com/v1/models",
            "https://api.openai.com/v1/models",
        ),
        (
            "https://api.anthropic.com/v1/messages",
            "https://api.anthropic.com/v1/messages",
        ),
        (
            "https://api.cohere.com/v2/rerank",
            "https://api.cohere.com/v2/rerank",
        ),
        (
            "https://api.stripe.com/v1/payment_intents",
            "https://api.stripe.com/v1/payment_intents",
        ),
        (
            "https://search.example.com/docs/_search",
            "https://search.example.com/docs/_search",
        ),
        (
            "https://search.example.com/docs/_doc/42",
            "https://search.example.com/docs/_doc/*",
        ),
        (
            "https://auth.example.com/oauth/token",
            "https://auth.example.com/oauth/token",
        ),
        (
            "https://slack.com/api/chat.postMessage",
            "https://slack.com/api/chat.postMessage",
        ),
        (
            "https://storage.googleapis.com/storage/v1/b/backups/o",
            "https://storage.googleapis.com/storage/v1/b/backups/o",
        ),
        // Names and slugs in those paths are still masked, ids too without ID consent.
        (
            "https://api.openai.com/v1/chat/completions/zephyrine-canarywood",
            "https://api.openai.com/v1/chat/completions/*",
        ),
        (
            "https://api.github.com/repos/zephyrine/canarywood-memoirs/pulls",
            "https://api.github.com/repos/*/*/pulls",
        ),
        (
            "https://api.stripe.com/v1/customers/cus_8c21e0f3a9b1/sources",
            "https://api.stripe.com/v1/customers/*/sources",
        ),
    ];
    let pairs: Vec<(&str, String)> = urls
        .iter()
        .map(|(u, _)| ("http.client", format!("POST {u}")))
        .collect();
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(o, d)| (*o, d.as_str())).collect();
    let (got, text) = descriptions(&refs, false);
    let want: Vec<String> = urls.iter().map(|(_, w)| format!("POST {w}")).collect();
    assert_eq!(got, want);
    assert!(!text.to_lowercase().contains(CANARY), "{text}");
}

fn message(ty: &str, value: &str) -> (String, String) {
    let ev = json!({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "exception": {"values": [{"type": ty, "module": "sqlalchemy.exc", "value": value}]}});
    let body = format!("{{}}\n{{\"type\":\"event\"}}\n{ev}\n");
    let out = scrub_envelope(
        &Envelope::parse(Bytes::from(body)).unwrap(),
        &Policy::new(PolicyConfig::default()).unwrap(),
        Upstream::default(),
        |_, _| Decision::Forward { ids_allowed: false },
    );
    let item: Value = serde_json::from_slice(out.envelope.items()[0].payload()).unwrap();
    let text = String::from_utf8(out.envelope.to_bytes().to_vec()).unwrap();
    (
        item["exception"]["values"][0]["value"]
            .as_str()
            .unwrap()
            .to_owned(),
        text,
    )
}

/// SQL inside a library's message is normalised with the span SQL normaliser: the
/// statement stays with its literals replaced; values formatted into it unquoted do not.
#[test]
fn sql_in_library_messages_is_normalised() {
    let (got, text) = message(
        "IntegrityError",
        "(psycopg2.errors.UniqueViolation) duplicate key value violates unique constraint \"users_email_key\"\n\
         DETAIL:  Key (email)=(zephyrine@example.com) already exists.\n\n\
         [SQL: INSERT INTO users (email, name, birthday) VALUES ('zephyrine@example.com', 'Zephyrine', '1984-12-31') RETURNING users.id]\n\
         [parameters: {'email': 'zephyrine@example.com'}]",
    );
    assert_eq!(
        got,
        "(psycopg2.errors.UniqueViolation) duplicate key value violates unique constraint \"users_email_key\"\n\
         DETAIL:  Key (email)=([value]) already exists.\n\n\
         [SQL: INSERT INTO users (email, name, birthday) VALUES (%s) RETURNING users.id]\n\
         [parameters: [value]]"
    );
    assert!(!text.to_lowercase().contains(CANARY), "{text}");

    let (got, text) = message(
        "OperationalError",
        "(sqlite3.OperationalError) near \"Family\": syntax error\n[SQL: SELECT * FROM docs WHERE title = Zephyrine Family Memoirs]",
    );
    assert_eq!(
        got,
        "(sqlite3.OperationalError) near \"[value]\": syntax error\n[SQL: [value]]"
    );
    assert!(!text.to_lowercase().contains(CANARY), "{text}");
}
