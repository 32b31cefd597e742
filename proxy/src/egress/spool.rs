//! The disk spool: scrubbed jobs only, one file each, written atomically (temporary file,
//! fsync, rename, fsync of the folder), replayed oldest first, bounded in bytes (the oldest
//! files go first, counted).
//!
//! File format: one JSON line of metadata (upstream DSN, client, acceptance time, per-item
//! consent facts), then the scrubbed envelope exactly as it would be sent.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use envelope::Envelope;
use serde::{Deserialize, Serialize};

use super::queue::Job;

const EXT: &str = "job";

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

/// Why a spool file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Disk trouble.
    #[error("spool i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A file that is not a job (truncated by a crash before rename cannot happen; this is
    /// foreign or damaged content).
    #[error("spool file is corrupt")]
    Corrupt,
}

/// The spool folder and its accounting.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    bytes: AtomicU64,
    seq: AtomicUsize,
    /// Files currently loaded into memory, so replay never loads one twice.
    in_flight: Mutex<HashSet<PathBuf>>,
}

impl Spool {
    /// Opens (creating) the folder, removes temporary leftovers of a crash, and counts bytes.
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<Spool> {
        create_private_dir(dir)?;
        let mut bytes = 0;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                let _ = std::fs::remove_file(&path);
            } else if path.extension().is_some_and(|e| e == EXT) {
                bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
        Ok(Spool {
            dir: dir.to_owned(),
            max_bytes,
            bytes: AtomicU64::new(bytes),
            seq: AtomicUsize::new(0),
            in_flight: Mutex::new(HashSet::new()),
        })
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Writes a job durably. Returns the number of jobs evicted (oldest first) to stay
    /// under the cap; the caller counts them.
    pub fn write(&self, job: &Job) -> Result<usize, SpoolError> {
        let body = encode(job);
        let accepted_ms = accepted_ms(job);
        let size = body.len() as u64;
        let evicted = self.make_room(size)?;
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let name = format!("{:013}-{:06}-{}.{EXT}", accepted_ms, n, std::process::id());
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let dest = self.dir.join(&name);
        {
            let mut f = private_file()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &dest)?;
        // The rename is durable only once the folder is synced.
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        self.bytes.fetch_add(size, Ordering::Relaxed);
        Ok(evicted)
    }

    /// Deletes the oldest files not in memory until `incoming` fits under the cap.
    fn make_room(&self, incoming: u64) -> std::io::Result<usize> {
        let mut evicted = 0;
        if self.bytes() + incoming <= self.max_bytes {
            return Ok(0);
        }
        for path in self.list()? {
            if self.bytes() + incoming <= self.max_bytes {
                break;
            }
            if self.in_flight().contains(&path) {
                continue;
            }
            self.remove(&path);
            evicted += 1;
        }
        Ok(evicted)
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<PathBuf>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Job files, oldest first.
    pub fn list(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == EXT))
            .collect();
        files.sort();
        Ok(files)
    }

    /// Loads the oldest file that is not already in memory, marking it in flight.
    /// Corrupt files are deleted and reported as `Err(Corrupt)`.
    pub fn next(&self) -> Option<Result<Job, SpoolError>> {
        let files = self.list().ok()?;
        let path = {
            let mut inf = self.in_flight();
            let path = files.into_iter().find(|p| !inf.contains(p))?;
            inf.insert(path.clone());
            path
        };
        Some(self.load(&path).inspect_err(|_| self.remove(&path)))
    }

    fn load(&self, path: &Path) -> Result<Job, SpoolError> {
        let raw = std::fs::read(path)?;
        let mut job = decode(Bytes::from(raw))?;
        job.spool_file = Some(path.to_owned());
        Ok(job)
    }

    /// Deletes a job's file (delivered, dropped or evicted).
    pub fn remove(&self, path: &Path) {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if std::fs::remove_file(path).is_ok() {
            self.bytes
                .fetch_sub(size.min(self.bytes()), Ordering::Relaxed);
        }
        self.in_flight().remove(path);
    }

    /// Gives a loaded job back to the spool without deleting it (shutdown).
    pub fn release(&self, path: &Path) {
        self.in_flight().remove(path);
    }
}

fn accepted_ms(job: &Job) -> u64 {
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
        spool_file: None,
        wal_id: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn job(n: u8) -> Job {
        let mut env = Envelope::from_header(serde_json::Map::new());
        env.push(envelope::Item::new(
            envelope::ItemType::Event,
            Bytes::from(format!("{{\"n\":{n}}}")),
        ));
        Job {
            envelope: env,
            consent: vec![scrub::KeptConsent {
                company: Some("7".into()),
                ids_allowed: true,
            }],
            upstream: Arc::new("https://abc@h.example/42".parse().unwrap()),
            client: Some("sentry.python/2.75.0".into()),
            accepted_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + u64::from(n)),
            spool_file: None,
            wal_id: None,
        }
    }

    #[test]
    fn round_trips_jobs_oldest_first_and_evicts_past_the_cap() {
        let dir = std::env::temp_dir().join(format!("spool-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Spool::open(&dir, 10_000).unwrap();
        spool.write(&job(1)).unwrap();
        spool.write(&job(2)).unwrap();
        let a = spool.next().unwrap().unwrap();
        assert_eq!(a.envelope.items()[0].payload().as_ref(), b"{\"n\":1}");
        assert_eq!(a.client.as_deref(), Some("sentry.python/2.75.0"));
        assert_eq!(a.consent[0].company.as_deref(), Some("7"));
        assert_eq!(a.upstream.to_string(), "https://abc@h.example/42");
        let b = spool.next().unwrap().unwrap();
        assert_eq!(b.envelope.items()[0].payload().as_ref(), b"{\"n\":2}");
        assert!(spool.next().is_none(), "both in flight");
        spool.remove(a.spool_file.as_ref().unwrap());
        spool.release(b.spool_file.as_ref().unwrap());

        // Reopen (a restart): one file left, replayed.
        let size = spool.bytes();
        let spool = Spool::open(&dir, size * 2).unwrap();
        assert_eq!(spool.bytes(), size);
        assert_eq!(spool.list().unwrap().len(), 1);
        // Two more files of the same size need room: the oldest goes.
        assert_eq!(spool.write(&job(3)).unwrap(), 0);
        assert_eq!(spool.write(&job(4)).unwrap(), 1);
        let next = spool.next().unwrap().unwrap();
        assert_eq!(next.envelope.items()[0].payload().as_ref(), b"{\"n\":3}");
        std::fs::write(dir.join("0000000000000-000000-1.job"), b"garbage").unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
