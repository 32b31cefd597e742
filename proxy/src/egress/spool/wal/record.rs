//! The log's record format, and the scan that reads it back.
//!
//! ```text
//! len: u32 LE (of kind + body) | crc32: u32 LE (of kind + body) | kind: u8 | body
//! kind 1 (put):  id: u64 LE, then the job (format::encode: a JSON metadata line, the envelope)
//! kind 2 (done): id: u64 LE, then zero bytes or none
//! ```
//!
//! A done record with zero padding is a put erased in place (a revocation): the same length
//! as the put it replaces, so the records around it stay where they are, and any version
//! of the proxy reads it as the tombstone of that id. The format has no version byte
//! because it has not changed since the first durable spool: old logs replay as they are.

use crate::egress::queue::Job;
use crate::egress::spool::format;

/// Bytes of a record before its kind: length and checksum.
pub(super) const PREFIX: usize = 8;
/// Bytes of kind and id: the smallest record body.
pub(super) const HEADER: usize = 9;
/// A job, logged before the SDK's `200`.
pub(super) const PUT: u8 = 1;
/// A tombstone: the job of that id is done (delivered, dropped, or erased).
pub(super) const DONE: u8 = 2;

/// A put record of `job` with id 0, encoded straight into one buffer of the right size (no
/// intermediate body, no growth); [`set_id`] gives it its id and checksum.
pub(super) fn put_record(job: &Job) -> Vec<u8> {
    let mut out = Vec::with_capacity(PREFIX + HEADER + format::encoded_len_hint(job));
    out.extend_from_slice(&[0; PREFIX]);
    out.push(PUT);
    out.extend_from_slice(&[0; 8]);
    format::encode_into(job, &mut out);
    let len = (out.len() - PREFIX) as u32;
    out[..4].copy_from_slice(&len.to_le_bytes());
    out
}

/// Sets the id of a record built by [`put_record`], then its checksum.
pub(super) fn set_id(record: &mut [u8], id: u64) {
    record[PREFIX + 1..PREFIX + HEADER].copy_from_slice(&id.to_le_bytes());
    let crc = crc32fast::hash(&record[PREFIX..]);
    record[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// Appends a tombstone for `id` to `out`.
pub(super) fn push_done(out: &mut Vec<u8>, id: u64) {
    let mut body = [0u8; HEADER];
    body[0] = DONE;
    body[1..].copy_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(HEADER as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
}

/// A whole record: prefix, kind, id, body.
pub(super) fn record(kind: u8, id: u64, body: &[u8]) -> Vec<u8> {
    let len = HEADER + body.len();
    let mut out = Vec::with_capacity(PREFIX + len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(kind);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(body);
    let crc = crc32fast::hash(&out[PREFIX..]);
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    out
}

/// The tombstone written over a put of `len` bytes (prefix included) to erase it in place.
pub(super) fn erased(id: u64, len: u32) -> Vec<u8> {
    let body = (len as usize).saturating_sub(PREFIX + HEADER);
    record(DONE, id, &vec![0; body])
}

/// One record found by [`scan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Scanned {
    /// Where it starts in the segment.
    pub offset: u64,
    /// [`PUT`] or [`DONE`].
    pub kind: u8,
    /// The job's id.
    pub id: u64,
    /// Its length, prefix included.
    pub len: u32,
}

/// What [`scan`] found in one segment.
#[derive(Debug, Default)]
pub(super) struct Scan {
    /// The good records, in order.
    pub records: Vec<Scanned>,
    /// Records skipped in the middle: a checksum that fails, between good records.
    pub damaged: usize,
    /// Where a torn tail starts (the rest of the segment is garbage), if anywhere.
    pub torn_at: Option<u64>,
}

/// A good record at `at`, if there is one.
fn read_at(bytes: &[u8], at: usize) -> Option<Scanned> {
    let head = bytes.get(at..at + PREFIX)?;
    let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
    let body = bytes.get(at + PREFIX..at + PREFIX + len)?;
    if len < HEADER || crc32fast::hash(body) != crc || !matches!(body[0], PUT | DONE) {
        return None;
    }
    Some(Scanned {
        offset: at as u64,
        kind: body[0],
        id: u64::from_le_bytes(body[1..9].try_into().expect("8 bytes")),
        len: (PREFIX + len) as u32,
    })
}

/// Reads one segment's records. A record that does not check out ends the scan (a torn
/// tail: a crash cut an append), unless its length still fits and a good record follows it:
/// then it was damaged in place (a power loss while a put was being erased), and only it is
/// skipped, so that the acknowledged records after it are not thrown away with it.
pub(super) fn scan(bytes: &[u8]) -> Scan {
    let mut out = Scan::default();
    let mut at = 0usize;
    while at < bytes.len() {
        if let Some(r) = read_at(bytes, at) {
            out.records.push(r);
            at += r.len as usize;
            continue;
        }
        let next = bytes
            .get(at..at + 4)
            .map(|h| at + PREFIX + u32::from_le_bytes(h.try_into().expect("4 bytes")) as usize);
        match next {
            Some(next) if next < bytes.len() && read_at(bytes, next).is_some() => {
                out.damaged += 1;
                at = next;
            }
            _ => {
                out.torn_at = Some(at as u64);
                break;
            }
        }
    }
    out
}
