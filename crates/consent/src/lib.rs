//! Consent: the document the app exports, and the forward/drop decision for each item.
//!
//! The instance admin's global switch and each company admin's two checkboxes become one
//! JSON document; [`ConsentDocument::parse`] validates it strictly and [`decide`] turns it,
//! plus an item's company, into a [`Verdict`]. Pure: loading, reloading and clocks live in
//! the proxy.
//!
//! ```
//! use consent::{decide, ConsentDocument, DropReason, Unattributed, Verdict};
//!
//! let doc = ConsentDocument::parse(br#"{"telemetry_enabled": true, "companies": {
//!     "7": {"telemetry_enabled": true, "telemetry_ids_allowed": false}}}"#).unwrap();
//! assert_eq!(decide(&doc, Some("7"), Unattributed::Drop), Verdict::Forward { ids_allowed: false });
//! assert_eq!(decide(&doc, Some("8"), Unattributed::Drop), Verdict::Drop(DropReason::CompanyUnknown));
//! assert_eq!(decide(&doc, None, Unattributed::Drop), Verdict::Drop(DropReason::Unattributed));
//! ```

use std::collections::BTreeMap;

use serde_json::Value;

/// The consent document: `{"telemetry_enabled": bool, "companies": {"<id>":
/// {"telemetry_enabled": bool, "telemetry_ids_allowed": bool}}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsentDocument {
    /// The instance's `TELEMETRY_ENABLED`: off means nothing leaves.
    pub telemetry_enabled: bool,
    /// Per company id.
    pub companies: BTreeMap<String, CompanyConsent>,
}

/// One company's two checkboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompanyConsent {
    /// "Technical telemetry enabled": anonymised error reports may leave.
    pub telemetry_enabled: bool,
    /// "Technical telemetry IDs allowed": company and user ids may go with them.
    pub telemetry_ids_allowed: bool,
}

/// Why a document was refused. Names the field; the document is the operator's, not a
/// payload, so naming its fields is safe and what they need.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// Not JSON at all.
    #[error("not valid JSON (line {line}, column {column})")]
    Json {
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
    },
    /// A field has the wrong type.
    #[error("{field}: expected {expected}")]
    WrongType {
        /// Path of the field, e.g. `companies."7".telemetry_enabled`.
        field: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A field that the format does not have.
    #[error("{field}: unknown field")]
    UnknownField {
        /// Path of the field.
        field: String,
    },
    /// A required field is absent.
    #[error("{field}: missing")]
    Missing {
        /// Path of the field.
        field: String,
    },
}

impl ConsentDocument {
    /// Parses and validates a document: unknown fields and wrong types are errors.
    /// `telemetry_enabled` is required at both levels; `companies` and
    /// `telemetry_ids_allowed` default to empty and false, the safe side.
    pub fn parse(bytes: &[u8]) -> Result<ConsentDocument, ConsentError> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| ConsentError::Json {
            line: e.line(),
            column: e.column(),
        })?;
        let Value::Object(top) = v else {
            return Err(wrong("(document)", "an object"));
        };
        let mut doc = ConsentDocument::default();
        let mut seen_enabled = false;
        for (k, v) in &top {
            match k.as_str() {
                "telemetry_enabled" => {
                    doc.telemetry_enabled = v.as_bool().ok_or_else(|| wrong(k, "a boolean"))?;
                    seen_enabled = true;
                }
                "companies" => {
                    let Value::Object(companies) = v else {
                        return Err(wrong(k, "an object of company ids"));
                    };
                    for (id, c) in companies {
                        doc.companies.insert(id.clone(), company(id, c)?);
                    }
                }
                other => {
                    return Err(ConsentError::UnknownField {
                        field: other.to_owned(),
                    })
                }
            }
        }
        if !seen_enabled {
            return Err(ConsentError::Missing {
                field: "telemetry_enabled".into(),
            });
        }
        Ok(doc)
    }

    /// Serialises the document (for `/consent` debugging and tests).
    pub fn to_json(&self) -> String {
        let companies: serde_json::Map<String, Value> = self
            .companies
            .iter()
            .map(|(id, c)| {
                (
                    id.clone(),
                    serde_json::json!({
                        "telemetry_enabled": c.telemetry_enabled,
                        "telemetry_ids_allowed": c.telemetry_ids_allowed,
                    }),
                )
            })
            .collect();
        serde_json::json!({"telemetry_enabled": self.telemetry_enabled, "companies": companies})
            .to_string()
    }
}

fn company(id: &str, v: &Value) -> Result<CompanyConsent, ConsentError> {
    let path = |f: &str| format!("companies.{id:?}.{f}");
    let Value::Object(m) = v else {
        return Err(ConsentError::WrongType {
            field: format!("companies.{id:?}"),
            expected: "an object",
        });
    };
    let mut c = CompanyConsent::default();
    let mut seen_enabled = false;
    for (k, v) in m {
        match k.as_str() {
            "telemetry_enabled" => {
                c.telemetry_enabled = v.as_bool().ok_or_else(|| wrong(&path(k), "a boolean"))?;
                seen_enabled = true;
            }
            "telemetry_ids_allowed" => {
                c.telemetry_ids_allowed =
                    v.as_bool().ok_or_else(|| wrong(&path(k), "a boolean"))?;
            }
            _ => return Err(ConsentError::UnknownField { field: path(k) }),
        }
    }
    if !seen_enabled {
        return Err(ConsentError::Missing {
            field: path("telemetry_enabled"),
        });
    }
    Ok(c)
}

fn wrong(field: &str, expected: &'static str) -> ConsentError {
    ConsentError::WrongType {
        field: field.to_owned(),
        expected,
    }
}

/// What happens to items that carry no company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unattributed {
    /// Drop them (default: no company, no consent).
    #[default]
    Drop,
    /// Forward them, without IDs, when telemetry is enabled globally.
    Forward,
}

/// Why an item does not leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DropReason {
    /// The global switch is off.
    TelemetryDisabled,
    /// The company exists in the document but did not enable telemetry.
    CompanyNotConsented,
    /// The company is not in the document.
    CompanyUnknown,
    /// The item names no company and the unattributed policy is drop.
    Unattributed,
    /// No valid consent document was ever loaded.
    NoConsent,
    /// The last good document is older than the allowed age.
    ConsentExpired,
    /// Consent was withdrawn between acceptance and sending.
    ConsentRevoked,
}

impl DropReason {
    /// Stable label for metrics and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::TelemetryDisabled => "telemetry_disabled",
            DropReason::CompanyNotConsented => "company_not_consented",
            DropReason::CompanyUnknown => "company_unknown",
            DropReason::Unattributed => "unattributed",
            DropReason::NoConsent => "no_consent",
            DropReason::ConsentExpired => "consent_expired",
            DropReason::ConsentRevoked => "consent_revoked",
        }
    }
}

/// The decision for one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It does not leave.
    Drop(DropReason),
    /// It leaves, scrubbed; with company and user ids only if `ids_allowed`.
    Forward {
        /// Whether IDs may go with it.
        ids_allowed: bool,
    },
}

/// Decides for an item attributed to `company` (or to none).
///
/// Global off drops everything. A company must be listed with telemetry enabled; its IDs
/// leave only if it also allowed them (IDs allowed without telemetry enabled sends nothing).
pub fn decide(doc: &ConsentDocument, company: Option<&str>, unattributed: Unattributed) -> Verdict {
    if !doc.telemetry_enabled {
        return Verdict::Drop(DropReason::TelemetryDisabled);
    }
    match company {
        None => match unattributed {
            Unattributed::Drop => Verdict::Drop(DropReason::Unattributed),
            Unattributed::Forward => Verdict::Forward { ids_allowed: false },
        },
        Some(id) => match doc.companies.get(id) {
            None => Verdict::Drop(DropReason::CompanyUnknown),
            Some(c) if !c.telemetry_enabled => Verdict::Drop(DropReason::CompanyNotConsented),
            Some(c) => Verdict::Forward {
                ids_allowed: c.telemetry_ids_allowed,
            },
        },
    }
}

#[cfg(test)]
mod tests;
