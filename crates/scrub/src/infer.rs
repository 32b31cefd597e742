//! No IP address or user agent inferred upstream from the proxy's own request.
//!
//! The vendor's ingest (Relay) can fill a user's IP address, geography and browser from the
//! connection that delivers an envelope. Behind this proxy that connection is the proxy's,
//! leaving through the customer's egress address: it would be stored as the IP of every
//! user. The proxy sends no forwarding header (`egress/client.rs`), and it tells the ingest,
//! wherever the protocol has a field for it, never to infer:
//!
//! - events and transactions: `sdk.settings.infer_ip: "never"` (Relay `ClientSdkSettings`:
//!   `auto`, `never`, or `legacy` when absent, which still infers for some platforms);
//! - item containers (span v2, and logs and trace metrics, which share the format):
//!   `"version": 2, "ingest_settings": {"infer_ip": "never", "infer_user_agent": "never"}`
//!   (Relay `ContainerMetadata`; `ingest_settings` is read from version 2 on).

use serde::Serialize;

/// The value that turns inference off.
pub const NEVER: &str = "never";

/// An event's `sdk.settings`: always `{"infer_ip": "never"}`, whatever the SDK sent (a
/// browser SDK sends `auto` under `sendDefaultPii`; the address it would infer here is the
/// proxy's egress, never the user's).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SdkSettings {
    infer_ip: Never,
}

/// `ingest_settings` of an item container.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IngestSettings {
    infer_ip: Never,
    infer_user_agent: Never,
}

/// The string `"never"`, as a type so it cannot be anything else.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Never;

impl Serialize for Never {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(NEVER)
    }
}

/// A scrubbed batch (`{"items": […]}`) written as a version 2 container that tells the
/// ingest not to infer: `{"version": 2, "ingest_settings": {…}, "items": […]}`. Whatever
/// container fields the SDK sent are not kept (the batch type declares only `items`).
#[derive(Debug, Serialize)]
pub struct Container<'b, T: Serialize> {
    version: u8,
    ingest_settings: IngestSettings,
    #[serde(flatten)]
    batch: &'b T,
}

impl<'b, T: Serialize> Container<'b, T> {
    /// Wraps a scrubbed batch.
    pub fn new(batch: &'b T) -> Self {
        Container {
            version: 2,
            ingest_settings: IngestSettings::default(),
            batch,
        }
    }
}
