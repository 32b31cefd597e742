//! The disk spool: scrubbed jobs only, one file each, written atomically (temporary file,
//! fsync, rename, fsync of the folder), replayed oldest first, bounded in bytes (the oldest
//! files go first, counted).
//!
//! File format: [`super::format`], one job per file.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::Bytes;

use super::format::{accepted_ms, create_private_dir, decode, encode, private_file};
use super::{SpoolError, Spooled};
use crate::egress::queue::Job;

const EXT: &str = "job";

/// The overflow spool's folder and its accounting.
#[derive(Debug)]
pub struct Overflow {
    dir: PathBuf,
    max_bytes: u64,
    bytes: AtomicU64,
    seq: AtomicUsize,
    /// Files currently loaded into memory, so replay never loads one twice.
    in_flight: Mutex<HashSet<PathBuf>>,
}

impl Overflow {
    /// Opens (creating) the folder, removes temporary leftovers of a crash, and counts bytes.
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<Overflow> {
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
        Ok(Overflow {
            dir: dir.to_owned(),
            max_bytes,
            bytes: AtomicU64::new(bytes),
            seq: AtomicUsize::new(0),
            in_flight: Mutex::new(HashSet::new()),
        })
    }

    /// The cap, `--spool-max-bytes`.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
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
        job.spooled = Some(Spooled::File(path.to_owned()));
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use envelope::Envelope;

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
            spooled: None,
        }
    }

    #[test]
    fn round_trips_jobs_oldest_first_and_evicts_past_the_cap() {
        let dir = std::env::temp_dir().join(format!("spool-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Overflow::open(&dir, 10_000).unwrap();
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
        let file = |j: &Job| match &j.spooled {
            Some(Spooled::File(p)) => p.clone(),
            other => panic!("not a spool file: {other:?}"),
        };
        spool.remove(&file(&a));
        spool.release(&file(&b));

        // Reopen (a restart): one file left, replayed.
        let size = spool.bytes();
        let spool = Overflow::open(&dir, size * 2).unwrap();
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
