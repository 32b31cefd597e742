//! The consent in force, as the gate and the egress re-check read it: a document, an
//! assumption (dry run without a source) or a closed gate. Pure, apart from [`load_file`].

use std::sync::Arc;

use consent::{ConsentDocument, DropReason, Unattributed, Verdict};

/// The consent the proxy acts on right now.
#[derive(Debug, Clone)]
pub enum ConsentView {
    /// Dry run without a consent source: telemetry on for every company, IDs never.
    Assumed,
    /// A valid document.
    Document(Arc<ConsentDocument>),
    /// No usable document: nothing leaves, for this reason.
    Closed(DropReason),
}

impl ConsentView {
    /// Whether anything at all may leave (the global switch, or a closed gate).
    pub fn telemetry_enabled(&self) -> bool {
        match self {
            ConsentView::Assumed => true,
            ConsentView::Document(d) => d.telemetry_enabled,
            ConsentView::Closed(_) => false,
        }
    }

    /// The verdict for an item of `company` (or of none).
    pub fn verdict(&self, company: Option<&str>, unattributed: Unattributed) -> Verdict {
        match self {
            ConsentView::Assumed => match (company, unattributed) {
                (Some(_), _) | (None, Unattributed::Forward) => {
                    Verdict::Forward { ids_allowed: false }
                }
                (None, Unattributed::Drop) => Verdict::Drop(DropReason::Unattributed),
            },
            ConsentView::Document(d) => consent::decide(d, company, unattributed),
            ConsentView::Closed(reason) => Verdict::Drop(*reason),
        }
    }
}

/// Reads a consent file once: a valid document, or a closed gate.
pub fn load_file(path: &std::path::Path) -> Result<ConsentDocument, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {}", path.display(), e.kind()))?;
    ConsentDocument::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assumed_consent_forwards_companies_without_ids() {
        let v = ConsentView::Assumed;
        assert_eq!(
            v.verdict(Some("7"), Unattributed::Drop),
            Verdict::Forward { ids_allowed: false }
        );
        assert_eq!(
            v.verdict(None, Unattributed::Drop),
            Verdict::Drop(DropReason::Unattributed)
        );
        assert_eq!(
            v.verdict(None, Unattributed::Forward),
            Verdict::Forward { ids_allowed: false }
        );
        let closed = ConsentView::Closed(DropReason::NoConsent);
        assert_eq!(
            closed.verdict(Some("7"), Unattributed::Forward),
            Verdict::Drop(DropReason::NoConsent)
        );
        assert!(!closed.telemetry_enabled());
    }
}
