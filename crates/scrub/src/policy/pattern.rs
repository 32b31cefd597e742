//! The operator's release and environment patterns: names where `*` stands for any run of
//! characters, checked when the policy is built and matched by the deploy rules.

/// Does `s` match the operator's `pattern`, a name where `*` stands for any run of
/// characters (`acme-web@*`, `*-staging`)? Exact match without `*`.
pub fn pattern_matches(pattern: &str, s: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = s.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Why an operator's release or environment pattern is refused at start, or `None` when
/// it is a name with `*` wildcards only: not empty, no space or control character, no
/// other glob syntax (`?`, `[…]`, `{…}` would silently match nothing), and at least one
/// character that is not `*` (a lone `*` would let every release out, names of machines
/// and people included).
pub fn pattern_error(pattern: &str) -> Option<&'static str> {
    if pattern.is_empty() {
        Some("empty pattern")
    } else if pattern.len() > 256 {
        Some("longer than 256 characters")
    } else if pattern.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("spaces and control characters are not allowed")
    } else if pattern.contains(['?', '[', ']', '{', '}']) {
        Some("only `*` is a wildcard (`?`, `[…]` and `{…}` are not supported)")
    } else if pattern.bytes().all(|b| b == b'*') {
        Some("a pattern of `*` alone would keep every value")
    } else {
        None
    }
}
