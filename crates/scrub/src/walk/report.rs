//! The removal report: what was removed and why, as counts by rule, field path and item type.
//! It never holds a removed value, so it is safe for logs, metrics and the `scrub` subcommand.

use std::collections::BTreeMap;

use serde::Serialize;

/// Counts of what one envelope lost on its way through the scrubber.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Items kept, by item type.
    pub items_kept: BTreeMap<&'static str, u32>,
    /// Items removed, by item type, then by reason.
    pub items_dropped: BTreeMap<&'static str, BTreeMap<&'static str, u32>>,
    /// Values replaced by a placeholder, by rule id (`@email`, `@message` …).
    pub redactions: BTreeMap<&'static str, u32>,
    /// Fields removed by the allowlist, by path without indices (`request.data`,
    /// `exception.values.stacktrace.frames.vars` …). Undeclared fields are skipped without
    /// a name; the named ones are those that routinely carry data.
    pub removed_fields: BTreeMap<&'static str, u32>,
    /// Envelopes whose work budget ran out (see [`crate::WorkBudget`]): their free text
    /// judged after that point became `[filtered]`. 0 or 1 for one envelope.
    #[serde(skip_serializing_if = "is_zero")]
    pub work_budget_exhausted: u32,
    /// Units of work the rules spent (bytes examined, see [`crate::work`]): a deterministic
    /// measure of the envelope's scrubbing cost. Not part of the JSON report, which stays
    /// the same from one build to the next for the same input.
    #[serde(skip)]
    pub work: u64,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Report {
    /// Records one kept item.
    pub fn kept(&mut self, item_type: &'static str) {
        *self.items_kept.entry(item_type).or_default() += 1;
    }

    /// Records one removed item.
    pub fn dropped(&mut self, item_type: &'static str, reason: &'static str) {
        self.dropped_n(item_type, reason, 1);
    }

    /// Records `n` removed items, or records of a span v2 item (nothing when `n` is 0).
    pub fn dropped_n(&mut self, item_type: &'static str, reason: &'static str, n: u32) {
        if n > 0 {
            let c = (self.items_dropped.entry(item_type).or_default())
                .entry(reason)
                .or_default();
            *c = c.saturating_add(n);
        }
    }

    /// Records one redaction by rule.
    pub fn redacted(&mut self, rule: &'static str) {
        *self.redactions.entry(rule).or_default() += 1;
    }

    /// Records one removed field.
    pub fn removed(&mut self, path: &'static str) {
        self.removed_many(path, 1);
    }

    /// Records `n` removed fields of one path.
    pub fn removed_many(&mut self, path: &'static str, n: u32) {
        if n > 0 {
            let c = self.removed_fields.entry(path).or_default();
            *c = c.saturating_add(n);
        }
    }

    /// Total redactions.
    pub fn redaction_count(&self) -> u32 {
        self.redactions.values().sum()
    }

    /// Adds another report's counts to this one.
    pub fn merge(&mut self, other: &Report) {
        for (k, v) in &other.items_kept {
            *self.items_kept.entry(k).or_default() += v;
        }
        for (t, reasons) in &other.items_dropped {
            for (r, v) in reasons {
                *self
                    .items_dropped
                    .entry(t)
                    .or_default()
                    .entry(r)
                    .or_default() += v;
            }
        }
        for (k, v) in &other.redactions {
            *self.redactions.entry(k).or_default() += v;
        }
        for (k, v) in &other.removed_fields {
            *self.removed_fields.entry(k).or_default() += v;
        }
        self.work_budget_exhausted += other.work_budget_exhausted;
        self.work = self.work.saturating_add(other.work);
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}
