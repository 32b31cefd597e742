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
