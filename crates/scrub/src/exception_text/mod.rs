//! Exception messages leave only as known templates.
//!
//! No exception type is technical by its name alone: a `ConnectionError` names the host it
//! failed to reach (`zephyrine-laptop.corp-intra.example.net`), an `AttributeError` the
//! attribute a program built from user input (`no attribute 'field_zephyrine'`), an
//! `IntegrityError` the row it refused (`Key (email)=(…) already exists`). So a message is
//! kept only when it matches a format of the standard library or of a common framework
//! (`catalog.rs`), and then only its shape is kept for sure: each variable part is judged
//! by its kind (`slots.rs`): names of code stay when every word is a word of code
//! ([`Vocabulary`]), hosts when they are addresses, loopback or allowlisted, numbers always,
//! values never. What may not leave becomes a typed placeholder:
//!
//! ```
//! use scrub::exception_text::{Templates, Verdict};
//!
//! let t = Templates::shared().unwrap();
//! let judge = |ty, msg| t.judge(ty, msg, &[], &[]);
//! assert_eq!(judge("ZeroDivisionError", "division by zero"), Verdict::Unchanged);
//! assert_eq!(
//!     judge("AttributeError", "'Document' object has no attribute 'field_zephyrine'"),
//!     Verdict::Rewritten {
//!         text: "'Document' object has no attribute '[identifier]'".into(),
//!         placeholders: 1,
//!     },
//! );
//! assert_eq!(judge("SearchError", "search failed for merger plans"), Verdict::Unknown);
//! ```
//!
//! A message with several lines (PostgreSQL's `DETAIL:`, pydantic's error list) is judged
//! as a whole first, then line by line: an unknown line becomes `[filtered]`.

mod catalog;
mod pattern;
mod slots;
mod statement;

use std::sync::OnceLock;

use regex::{Regex, RegexSet, RegexSetBuilder};

use crate::words::Vocabulary;
pub use pattern::PatternError;
pub use slots::{Judge, Slot, ERROR_TEXTS, HOST, IDENTIFIER, REASONS, TYPE, VALUE};

/// What an unknown line of a known message becomes.
pub const FILTERED_LINE: &str = "[filtered]";

/// How deep causes nest (`ConnectionError(MaxRetryError(NewConnectionError(…)))`).
const MAX_DEPTH: usize = 4;

/// Longest message judged; longer ones are not read (they are not a library's format).
const MAX_LEN: usize = 8 * 1024;

/// What the catalog says of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A known format whose every part may leave: the message stays as it is.
    Unchanged,
    /// A known format with parts replaced by placeholders.
    Rewritten {
        /// The message with its placeholders.
        text: String,
        /// How many parts were replaced.
        placeholders: usize,
    },
    /// No known format: the message must not leave.
    Unknown,
}

/// The compiled catalog and the code vocabulary, built once per process.
///
/// Finding the formats a message may match is two lookups: entries that start with literal
/// text are indexed by it (a message is tried only against the entries whose start it
/// shares), and the few that start with a slot are one `RegexSet`. One set of all ~480
/// formats would need a lazy DFA of more than 8 MiB per thread on varied input, and falls
/// back to an NFA 20 to 80 times slower when its cache is smaller.
#[derive(Debug)]
pub struct Templates {
    entries: Vec<Entry>,
    /// `(literal start, entry)`, sorted by the literal.
    by_prefix: Vec<(String, usize)>,
    /// The entries without a literal start, and their indices in `entries`.
    generic: RegexSet,
    generic_index: Vec<usize>,
    vocab: &'static Vocabulary,
}

#[derive(Debug)]
struct Entry {
    /// Short type names the entry is limited to; empty for any type.
    types: &'static [&'static str],
    /// The anchored regex of the pattern, compiled the first time a message needs it: a
    /// compiled regex weighs tens of kilobytes, and a process meets few of the formats.
    source: String,
    regex: OnceLock<Option<Regex>>,
    slots: Vec<Slot>,
}

impl Entry {
    /// The compiled regex; `None` only if it does not compile, which [`Templates::new`]
    /// rules out by parsing every pattern (then the entry never matches: fail closed).
    fn regex(&self) -> Option<&Regex> {
        self.regex
            .get_or_init(|| Regex::new(&self.source).ok())
            .as_ref()
    }
}

impl Templates {
    /// Compiles the catalog.
    pub fn new() -> Result<Templates, PatternError> {
        let mut entries = Vec::with_capacity(catalog::CATALOG.len());
        let mut by_prefix = Vec::new();
        let (mut generic_sources, mut generic_index) = (Vec::new(), Vec::new());
        for (i, &(types, pattern)) in catalog::CATALOG.iter().enumerate() {
            let c = pattern::compile(pattern)?;
            // Parsed now, so a broken pattern is a start-up error; compiled when first used.
            regex_syntax::Parser::new()
                .parse(&c.regex)
                .map_err(|e| PatternError {
                    pattern: pattern.to_owned(),
                    what: e.to_string(),
                })?;
            if c.prefixes.is_empty() {
                generic_sources.push(c.regex.clone());
                generic_index.push(i);
            }
            by_prefix.extend(c.prefixes.into_iter().map(|p| (p, i)));
            entries.push(Entry {
                types,
                source: c.regex,
                regex: OnceLock::new(),
                slots: c.slots,
            });
        }
        by_prefix.sort();
        let generic = RegexSetBuilder::new(&generic_sources)
            .size_limit(32 << 20)
            .build()
            .map_err(|e| PatternError {
                pattern: "(the formats without a literal start)".to_owned(),
                what: e.to_string(),
            })?;
        Ok(Templates {
            entries,
            by_prefix,
            generic,
            generic_index,
            vocab: Vocabulary::shared(),
        })
    }

    /// The entries `text` may match, in catalog order.
    fn candidates(&self, text: &str) -> Vec<usize> {
        crate::work::charge(text.len());
        let first = text.as_bytes().first().copied();
        // Prefixes sharing the message's first byte form one run of the sorted index.
        let start = self
            .by_prefix
            .partition_point(|(p, _)| p.as_bytes().first().copied() < first);
        let mut found: Vec<usize> = self.by_prefix[start..]
            .iter()
            .take_while(|(p, _)| p.as_bytes().first().copied() == first)
            .filter(|(p, _)| text.starts_with(p.as_str()))
            .map(|&(_, i)| i)
            .collect();
        found.extend(
            self.generic
                .matches(text)
                .iter()
                .map(|k| self.generic_index[k]),
        );
        found.sort_unstable();
        found.dedup();
        found
    }

    /// The process-wide catalog, compiled on first use (every policy shares it).
    pub fn shared() -> Result<&'static Templates, PatternError> {
        static SHARED: OnceLock<Result<Templates, PatternError>> = OnceLock::new();
        SHARED
            .get_or_init(Templates::new)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// How many formats the catalog knows.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the catalog is empty (never, as shipped).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Judges the message of an exception of type `ty` (bare or dotted). `local` are the
    /// lower-case words of the event's own functions and modules, sorted; `hosts` the
    /// operator's allowlist.
    pub fn judge(&self, ty: &str, msg: &str, local: &[String], hosts: &[String]) -> Verdict {
        if msg.len() > MAX_LEN {
            return Verdict::Unknown;
        }
        let judge = Judge {
            vocab: self.vocab,
            local,
            hosts,
        };
        let mut out = String::with_capacity(msg.len());
        match self.message(short(ty), msg, &judge, 0, &mut out) {
            None => Verdict::Unknown,
            Some(0) if out == msg => Verdict::Unchanged,
            Some(n) => Verdict::Rewritten {
                text: out,
                placeholders: n,
            },
        }
    }

    /// A whole message, then line by line; `None` when nothing of it is known.
    fn message(
        &self,
        ty: &str,
        msg: &str,
        j: &Judge<'_>,
        depth: usize,
        out: &mut String,
    ) -> Option<usize> {
        if msg.is_empty() {
            return Some(0);
        }
        let mark = out.len();
        if let Some(n) = self.line(ty, msg, j, depth, out) {
            return Some(n);
        }
        out.truncate(mark);
        if !msg.contains('\n') {
            return None;
        }
        let mut placeholders = 0;
        let mut known = false;
        for (i, line) in msg.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            if line.trim().is_empty() {
                out.push_str(line);
                continue;
            }
            let at = out.len();
            match self.line(ty, line, j, depth, out) {
                Some(n) => {
                    placeholders += n;
                    known = true;
                }
                None => {
                    out.truncate(at);
                    out.push_str(FILTERED_LINE);
                    placeholders += 1;
                }
            }
        }
        known.then_some(placeholders)
    }

    /// One line (or a whole message), judged by every catalog entry that matches it and
    /// applies to the type; the reading with the fewest placeholders wins (the first one
    /// on a tie), so a specific format beats a generic wrapper. `None` when none matches.
    fn line(
        &self,
        ty: &str,
        text: &str,
        j: &Judge<'_>,
        depth: usize,
        out: &mut String,
    ) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        // (unknown causes, placeholders): a reading that understood the cause wins over a
        // generic wrapper that filtered it, whatever their placeholder counts.
        let mut best: Option<((usize, usize), String)> = None;
        for i in self.candidates(text) {
            let e = &self.entries[i];
            if !e.types.is_empty() && !e.types.contains(&ty) {
                continue;
            }
            crate::work::charge(text.len());
            let Some(caps) = e.regex().and_then(|r| r.captures(text)) else {
                continue;
            };
            let mut buf = String::with_capacity(text.len());
            let score = self.fill(e, &caps, ty, text, j, depth, &mut buf);
            if best.as_ref().is_none_or(|(b, _)| score < *b) {
                let perfect = score == (0, 0);
                best = Some((score, buf));
                if perfect {
                    break;
                }
            }
        }
        let ((filtered, placeholders), buf) = best?;
        out.push_str(&buf);
        Some(filtered + placeholders)
    }

    /// Writes `text` read through entry `e`: literal parts copied, slots judged, causes
    /// judged against the catalog again. Returns (causes filtered, other placeholders).
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &self,
        e: &Entry,
        caps: &regex::Captures<'_>,
        ty: &str,
        text: &str,
        j: &Judge<'_>,
        depth: usize,
        out: &mut String,
    ) -> (usize, usize) {
        let mut copied = 0;
        let mut placeholders = 0;
        let mut filtered = 0;
        let mut cause_type = ty;
        for (k, slot) in e.slots.iter().enumerate() {
            let Some(m) = caps.get(k + 1) else {
                continue;
            };
            out.push_str(&text[copied..m.start()]);
            copied = m.end();
            crate::work::charge(m.len());
            if *slot == Slot::Msg {
                let at = out.len();
                match self.message(cause_type, m.as_str(), j, depth + 1, out) {
                    Some(n) => placeholders += n,
                    None => {
                        out.truncate(at);
                        out.push_str(FILTERED_LINE);
                        filtered += 1;
                    }
                }
                continue;
            }
            if *slot == Slot::Type {
                cause_type = short(m.as_str());
            }
            if j.slot(*slot, m.as_str(), out) {
                placeholders += 1;
            }
        }
        out.push_str(&text[copied..]);
        (filtered, placeholders)
    }
}

/// `django.db.utils.IntegrityError` → `IntegrityError`.
fn short(ty: &str) -> &str {
    ty.rsplit('.').next().unwrap_or(ty)
}

#[cfg(test)]
mod tests;
