//! Sentry envelope codec: bytes in, typed envelope with item payloads as slices, bytes out.
//!
//! An envelope is a JSON header line followed by items, each a JSON header
//! line and a payload of either `length` bytes or one line
//! (<https://develop.sentry.dev/sdk/envelopes/>). [`Envelope::parse`] reads a
//! whole body in one pass and keeps every payload as a zero-copy [`bytes::Bytes`]
//! slice of it; it enforces the size [`Limits`] and rejects anything it cannot
//! parse as a whole, with an [`EnvelopeError`] that carries positions and sizes,
//! never body text. [`Envelope::write_to`] writes headers nobody changed back
//! byte for byte and gives every item an explicit `length`, so writing, parsing
//! and writing again yields the same bytes. The [`decode`] module undoes HTTP
//! content encodings with a hard cap on the output. The crate does no I/O.
//!
//! ```
//! use bytes::Bytes;
//! use envelope::{Envelope, ItemType};
//!
//! let body = Bytes::from_static(
//!     b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n\
//!       {\"type\":\"event\",\"length\":41}\n\
//!       {\"message\":\"hello\",\"level\":\"error\",\"x\":1}\n",
//! );
//! let envelope = Envelope::parse(body.clone())?;
//! assert_eq!(envelope.event_id(), Some("9ec79c33ec9942ab8353589fcb2e04dc"));
//! assert_eq!(envelope.items()[0].ty(), &ItemType::Event);
//!
//! // Nothing was modified, so the output is the input, byte for byte.
//! assert_eq!(envelope.to_bytes(), body);
//! # Ok::<(), envelope::EnvelopeError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod decode;
mod envelope;
mod error;
mod header;
mod item;
mod item_type;
mod parse;

pub use crate::envelope::{normalize_event_id, Envelope};
pub use crate::error::{EnvelopeError, JsonCategory};
pub use crate::item::Item;
pub use crate::item_type::ItemType;
pub use crate::parse::Limits;
