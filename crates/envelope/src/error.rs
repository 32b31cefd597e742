//! Errors of the envelope codec.
//!
//! Every variant holds positions and sizes only. A serde_json error message can
//! quote the input ("invalid type: string \"alice@example.com\""), so only its
//! category, line and column are kept: nothing from the body ever reaches a log
//! line or an HTTP response through these errors.

/// The category of a JSON error, as `serde_json::Error::classify` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JsonCategory {
    /// The reader failed (cannot happen for in-memory bytes; kept for completeness).
    Io,
    /// The bytes are not syntactically valid JSON.
    Syntax,
    /// Valid JSON of the wrong shape.
    Data,
    /// The line ended before the JSON value did.
    Eof,
}

impl From<serde_json::error::Category> for JsonCategory {
    fn from(category: serde_json::error::Category) -> Self {
        use serde_json::error::Category;
        match category {
            Category::Io => JsonCategory::Io,
            Category::Syntax => JsonCategory::Syntax,
            Category::Data => JsonCategory::Data,
            Category::Eof => JsonCategory::Eof,
        }
    }
}

impl JsonCategory {
    /// A stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            JsonCategory::Io => "io",
            JsonCategory::Syntax => "syntax",
            JsonCategory::Data => "data",
            JsonCategory::Eof => "eof",
        }
    }
}

impl std::fmt::Display for JsonCategory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an envelope could not be parsed or accepted.
///
/// Offsets are byte offsets into the (decompressed) request body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The whole body is larger than [`Limits::max_envelope_bytes`](crate::Limits).
    #[error("envelope of {size} bytes exceeds the limit of {limit} bytes")]
    EnvelopeTooLarge {
        /// Size of the body in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// More items than [`Limits::max_items`](crate::Limits): each item costs memory
    /// beyond its bytes, so a body of millions of tiny items is refused whole.
    #[error("envelope has more than {limit} items")]
    TooManyItems {
        /// The configured limit.
        limit: usize,
    },
    /// An event, transaction or span payload is larger than
    /// [`Limits::max_event_bytes`](crate::Limits).
    #[error("{item_type} item of {size} bytes exceeds the limit of {limit} bytes")]
    ItemTooLarge {
        /// Wire name of the item type (from a closed set, never from input).
        item_type: &'static str,
        /// Payload size in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A header line (envelope or item) is not valid JSON.
    #[error(
        "invalid JSON in header line at byte {line_offset}: {category} error at column {column}"
    )]
    InvalidHeader {
        /// Offset of the first byte of the header line.
        line_offset: usize,
        /// What kind of JSON error it was.
        category: JsonCategory,
        /// Line reported by serde_json (1 for a single-line header).
        line: usize,
        /// Column reported by serde_json.
        column: usize,
    },
    /// A header line holds bytes that are not UTF-8.
    #[error("header line is not UTF-8 at byte {offset}")]
    NonUtf8Header {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// A header line is valid JSON but not an object.
    #[error("header at byte {offset} is not a JSON object")]
    HeaderNotObject {
        /// Offset of the first byte of the header line.
        offset: usize,
    },
    /// An item header has no `type`, or a `type` that is not a string.
    #[error("item header at byte {offset} has no string \"type\"")]
    MissingItemType {
        /// Offset of the item header line (0 when the header was not parsed from a body).
        offset: usize,
    },
    /// An item header has a `length` that is not a non-negative integer.
    #[error("item header at byte {offset} has a \"length\" that is not a non-negative integer")]
    InvalidLength {
        /// Offset of the item header line.
        offset: usize,
    },
    /// An item's `length` runs past the end of the body.
    #[error("item payload at byte {offset} declares {length} bytes but only {remaining} remain")]
    LengthExceedsBody {
        /// Offset where the payload starts.
        offset: usize,
        /// The declared length.
        length: u64,
        /// Bytes left in the body from `offset`.
        remaining: usize,
    },
    /// A payload with an explicit `length` is followed by something other
    /// than a newline or the end of the body.
    #[error("expected a newline or the end of the body at byte {offset}")]
    MissingNewline {
        /// Offset of the unexpected byte.
        offset: usize,
    },
}

impl EnvelopeError {
    /// A stable snake_case label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            EnvelopeError::EnvelopeTooLarge { .. } => "envelope_too_large",
            EnvelopeError::ItemTooLarge { .. } => "item_too_large",
            EnvelopeError::TooManyItems { .. } => "too_many_items",
            EnvelopeError::InvalidHeader { .. } => "invalid_header",
            EnvelopeError::NonUtf8Header { .. } => "non_utf8_header",
            EnvelopeError::HeaderNotObject { .. } => "header_not_object",
            EnvelopeError::MissingItemType { .. } => "missing_item_type",
            EnvelopeError::InvalidLength { .. } => "invalid_length",
            EnvelopeError::LengthExceedsBody { .. } => "length_exceeds_body",
            EnvelopeError::MissingNewline { .. } => "missing_newline",
        }
    }

    /// Builds [`EnvelopeError::InvalidHeader`] from a serde_json error, dropping its message.
    pub(crate) fn json(line_offset: usize, err: &serde_json::Error) -> Self {
        EnvelopeError::InvalidHeader {
            line_offset,
            category: err.classify().into(),
            line: err.line(),
            column: err.column(),
        }
    }
}
