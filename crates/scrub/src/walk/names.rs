//! The names memo: the transaction names decided in one envelope, so that every copy of a
//! name (the envelope header's `trace.transaction`, a profile's) gets the same decision.
//! The rules that decide a name are in `rules::names`.

use std::collections::HashMap;

/// How far a transaction name's source vouches for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// `route`, `view`, `component`: a template or a code path, kept (after the detectors)
    /// when it is identifier-shaped.
    Template,
    /// `url`, `sanitized`: the raw path; it loses its query and non-technical segments.
    Url,
    /// `custom`, `task`, `unknown` or none: kept only when identifier-shaped.
    Free(&'static str),
}

/// The transaction names decided in one envelope, by the name as sent. The same name is
/// copied into the envelope header (`trace.transaction`) and into profiles, which carry no
/// `transaction_info.source`: they get the decision made where the source was known, unless
/// that decision kept IDs the copy may not keep (see [`Names::copy`]). A map: an envelope of
/// many items looked each copy up in every name decided before it.
#[derive(Debug, Default)]
pub struct Names {
    seen: HashMap<String, Vec<Decided>>,
}

/// How one name was judged, and what was kept. At most two per name: with and without IDs.
#[derive(Debug)]
pub(crate) struct Decided {
    source: Source,
    /// The route template a URL name was judged with (a v2 segment's `http.route`).
    route: Option<String>,
    ids_allowed: bool,
    kept: String,
}

/// What a copy of a name does.
pub(crate) enum CopyOf<'n> {
    /// Takes this decision.
    Same(&'n str),
    /// Decides again by the item's source and route, under the copy's own consent.
    Again(Source, Option<&'n str>),
}

impl Names {
    /// How a copy, under `ids_allowed`, follows the items that carried `sent`: a decision
    /// made without IDs suits every copy; one made with IDs suits only a copy that may
    /// keep them. The envelope header and profiles have no ID consent of their own, and the
    /// header stays when the egress re-check drops the items scrubbed with IDs, so they
    /// never take a name that kept a company's ids.
    pub(crate) fn copy(&self, sent: &str, ids_allowed: bool) -> Option<CopyOf<'_>> {
        crate::work::charge(sent.len());
        let decided = self.seen.get(sent)?;
        let first = decided.first()?;
        Some(
            match decided.iter().find(|d| !d.ids_allowed || ids_allowed) {
                Some(d) => CopyOf::Same(&d.kept),
                None => CopyOf::Again(first.source, first.route.as_deref()),
            },
        )
    }

    pub(crate) fn record(
        &mut self,
        sent: String,
        (source, route): (Source, Option<&str>),
        ids_allowed: bool,
        kept: &str,
    ) {
        crate::work::charge(sent.len());
        let decided = self.seen.entry(sent).or_default();
        // The first decision under each consent wins; later ones are the same judgement.
        if !decided.iter().any(|d| d.ids_allowed == ids_allowed) {
            decided.push(Decided {
                source,
                route: route.map(str::to_owned),
                ids_allowed,
                kept: kept.to_owned(),
            });
        }
    }
}
