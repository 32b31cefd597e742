//! The stored job format, shared by both spool kinds: one JSON line of metadata (upstream
//! DSN, client, acceptance time, per-item consent facts), then the scrubbed envelope exactly
//! as it would be sent. And the private files and folders both keep it in.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use envelope::Envelope;
use serde::{Deserialize, Serialize};

use super::SpoolError;
use crate::egress::queue::Job;

#[derive(Serialize, Deserialize)]
struct Meta {
    v: u32,
    upstream: String,
    client: Option<String>,
    accepted_ms: u64,
    consent: Vec<ItemMeta>,
}

#[derive(Serialize, Deserialize)]
struct ItemMeta {
    company: Option<String>,
    ids: bool,
}

pub(super) fn accepted_ms(job: &Job) -> u64 {
    job.accepted_at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A job as stored: one JSON line of metadata (upstream DSN, client, acceptance time,
/// per-item consent facts), then the scrubbed envelope exactly as it would be sent.
/// Shared by the spool files and the durable log.
pub fn encode(job: &Job) -> Vec<u8> {
    let mut body = Vec::with_capacity(encoded_len_hint(job));
    encode_into(job, &mut body);
    body
}

/// Appends what [`encode`] returns to `out`, borrowing from the job: the durable log writes
/// it straight into its record.
pub fn encode_into(job: &Job, out: &mut Vec<u8>) {
    let meta = MetaRef {
        v: 1,
        upstream: &job.upstream,
        client: job.client.as_deref(),
        accepted_ms: accepted_ms(job),
        consent: ConsentRef(&job.consent),
    };
    // Writing into a Vec cannot fail, and these types always serialize.
    let _ = serde_json::to_writer(&mut *out, &meta);
    out.push(b'\n');
    job.envelope.write_to(out);
}

/// About the size of the encoded job: the envelope plus room for the metadata line, so
/// that the buffer rarely grows.
pub fn encoded_len_hint(job: &Job) -> usize {
    job.envelope.serialized_len() + 160 + 48 * job.consent.len()
}

/// [`Meta`] as written, borrowed from the job (the same JSON, without copying its strings).
#[derive(Serialize)]
struct MetaRef<'a> {
    v: u32,
    #[serde(serialize_with = "display")]
    upstream: &'a crate::dsn::Dsn,
    client: Option<&'a str>,
    accepted_ms: u64,
    consent: ConsentRef<'a>,
}

struct ConsentRef<'a>(&'a [scrub::KeptConsent]);

impl Serialize for ConsentRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeSeq, SerializeStruct};
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for c in self.0 {
            struct Item<'a>(&'a scrub::KeptConsent);
            impl Serialize for Item<'_> {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    let mut st = s.serialize_struct("ItemMeta", 2)?;
                    st.serialize_field("company", &self.0.company.as_deref())?;
                    st.serialize_field("ids", &self.0.ids_allowed)?;
                    st.end()
                }
            }
            seq.serialize_element(&Item(c))?;
        }
        seq.end()
    }
}

fn display<S: serde::Serializer>(d: &&crate::dsn::Dsn, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}

/// Reads what [`encode`] wrote; the envelope's payloads are slices of `raw`.
pub fn decode(raw: Bytes) -> Result<Job, SpoolError> {
    let nl = raw
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(SpoolError::Corrupt)?;
    let meta: Meta = serde_json::from_slice(&raw[..nl]).map_err(|_| SpoolError::Corrupt)?;
    let envelope = Envelope::parse(raw.slice(nl + 1..)).map_err(|_| SpoolError::Corrupt)?;
    if meta.v != 1 || meta.consent.len() != envelope.items().len() {
        return Err(SpoolError::Corrupt);
    }
    let upstream = meta.upstream.parse().map_err(|_| SpoolError::Corrupt)?;
    Ok(Job {
        envelope,
        consent: meta
            .consent
            .into_iter()
            .map(|c| scrub::KeptConsent {
                company: c.company,
                ids_allowed: c.ids,
            })
            .collect(),
        upstream: Arc::new(upstream),
        client: meta.client,
        accepted_at: UNIX_EPOCH + Duration::from_millis(meta.accepted_ms),
        spooled: None,
    })
}

/// Milliseconds since the epoch, for file names.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Creates `dir` and its missing parents readable by the proxy's user only (0700): the
/// spool holds scrubbed envelopes, which are still the customer's. An existing folder is
/// left as it is.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Options for a spool file: created readable and writable by the proxy's user only (0600).
pub fn private_file() -> std::fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.mode(0o600);
    o
}
