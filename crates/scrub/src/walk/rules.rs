//! The rule ids of `_meta` remarks: one name per rule, written once, so a remark in the
//! output, the removal report and the docs (`docs/scrubbing-policy.md`) agree.

/// Rule id for values removed by the allowlist (recorded in `_meta` as kind `x`).
pub const RULE_ALLOWLIST: &str = "@allowlist:remove";
/// Rule id for free-text messages replaced by policy.
pub const RULE_MESSAGE: &str = "@message:replace";
/// Placeholder for a replaced message.
pub const FILTERED: &str = "[filtered]";
/// Rule id for names written by the application (transaction names, span descriptions)
/// replaced because they are not shaped like code.
pub const RULE_FREETEXT: &str = "@freetext:replace";
/// Rule id for URL paths rewritten to their route template or with masked segments.
pub const RULE_URLPATH: &str = "@urlpath:replace";
/// Rule id for record ids masked in URL paths and keys without ID consent.
pub const RULE_IDS: &str = "@ids:replace";
/// Rule id for exception messages kept as a known template with parts replaced.
pub const RULE_TEMPLATE: &str = "@message:template";
/// Rule id for free text replaced because the request used up its work budget
/// ([`crate::WorkBudget`]): it was not judged, so it does not leave.
pub const RULE_BUDGET: &str = "@budget:replace";
/// Rule id for user paths (`/home/alice/…`) masked in frames' file names.
pub const RULE_USERPATH: &str = "@userpath:replace";

// The removal report counts each replacement under its rule's name, without the action.

/// Counted when free text is replaced because the work budget is spent.
pub const COUNT_BUDGET: &str = "@budget";
/// Counted when a URL loses its query, fragment or credentials.
pub const COUNT_URL_QUERY: &str = "@url-query";
/// Counted for each URL path segment masked, or a path rewritten to its route.
pub const COUNT_URLPATH: &str = "@urlpath";
/// Counted for each record id masked without ID consent.
pub const COUNT_IDS: &str = "@ids";
/// Counted for each host that is not technical, replaced by `[host]`.
pub const COUNT_HOST: &str = "@host";
/// Counted for each app-written name replaced by its placeholder.
pub const COUNT_FREETEXT: &str = "@freetext";
/// Counted for each part of an exception message replaced in its template.
pub const COUNT_MESSAGE_PART: &str = "@message-part";
/// Counted for each message replaced whole.
pub const COUNT_MESSAGE: &str = "@message";
/// Counted for each literal masked in a source line.
pub const COUNT_SOURCE_LITERAL: &str = "@source-literal";
/// Counted for each user path masked.
pub const COUNT_USERPATH: &str = "@userpath";
/// Counted for each SQL literal removed from a description or attribute.
pub const COUNT_SQL_LITERAL: &str = "@sql-literal";
