//! Consent: the document the app exports, and the forward/drop decision for each item.
