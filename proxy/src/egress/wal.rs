//! The write-ahead log of the durable spool: every scrubbed envelope is appended here, and
//! made durable, before the SDK gets its `200`; a tombstone follows once the upstream took it
//! (or it was dropped), and whole segments go once nothing in them is live. Replayed at start.
//!
//! Layout: `--spool-dir/wal-<16 digits>.log` segments, appended in order. A record is
//!
//! ```text
//! len: u32 LE (of kind + body) | crc32: u32 LE (of kind + body) | kind: u8 | body
//! kind 1 (put):  id: u64 LE, then the job (spool::encode: a JSON metadata line, the envelope)
//! kind 2 (done): id: u64 LE
//! ```
//!
//! Group commit: one writer thread takes every record waiting, writes them with one
//! `write`, then one `fdatasync` (`--spool-fsync batch`), and only then answers the requests
//! that waited; `always` syncs after each record, `off` never (the kernel writes when it
//! likes: a power loss can lose what the SDKs were told was kept, a process crash cannot).
//!
//! Recovery reads every segment in order. A record whose length runs past the end of the
//! last segment, or whose checksum does not match, is a torn tail (the crash cut a write):
//! it and what follows are cut off and counted, never replayed. Puts without a done are the
//! live jobs, replayed oldest first.
//!
//! Compaction deletes segments from the oldest while nothing in them is live: a done record
//! is only ever deleted after the put it cancels, so a restart never resurrects a delivered
//! job. The price: one old live job keeps the later segments on disk until it is delivered,
//! dropped, or expires (`--retry-max-age`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use super::queue::Job;
use super::spool;

/// When appended records are flushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncMode {
    /// `fdatasync` after every record, before its answer.
    Always,
    /// One `fdatasync` for every batch of records that were waiting together (group commit).
    #[default]
    Batch,
    /// Never: survives a process crash (the kernel has the bytes), not a power loss.
    Off,
}

/// A segment grows to this size (or an eighth of `--spool-max-bytes`, if smaller) before
/// the next one starts; an active segment with nothing live rotates from 64 KiB, so that a
/// drained log shrinks.
const SEGMENT_BYTES: u64 = 8 << 20;
const IDLE_ROTATE_BYTES: u64 = 64 << 10;
const HEADER: usize = 9;
const PUT: u8 = 1;
const DONE: u8 = 2;

/// Why an append failed.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// The log is at `--spool-max-bytes`.
    #[error("spool full")]
    Full,
    /// Disk trouble.
    #[error("spool i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A record that does not decode.
    #[error("spool record is corrupt")]
    Corrupt,
}

/// Where a live put is.
#[derive(Debug, Clone, Copy)]
struct Loc {
    segment: u64,
    offset: u64,
    len: u32,
}

#[derive(Debug, Default)]
struct Segment {
    bytes: u64,
    live: usize,
}

#[derive(Debug, Default)]
struct State {
    segments: BTreeMap<u64, Segment>,
    live: HashMap<u64, Loc>,
    /// Live jobs not in memory, oldest first: replayed into the queue.
    backlog: VecDeque<u64>,
    bytes: u64,
    /// Bytes promised to records still waiting for the writer.
    reserved: u64,
    active: u64,
    next_id: u64,
}

/// What recovery found at open.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Live jobs, to replay.
    pub live: usize,
    /// Torn or corrupt records cut off.
    pub torn: usize,
}

enum Op {
    Put {
        id: u64,
        record: Vec<u8>,
        reply: tokio::sync::oneshot::Sender<std::io::Result<()>>,
    },
    Done {
        record: Vec<u8>,
    },
}

/// The log. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    max_bytes: u64,
    state: Arc<Mutex<State>>,
    tx: Mutex<mpsc::Sender<Op>>,
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("wal-{n:016}.log"))
}

fn record(kind: u8, id: u64, job: &[u8]) -> Vec<u8> {
    let len = 1 + 8 + job.len();
    let mut out = Vec::with_capacity(8 + len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(kind);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(job);
    let crc = crc32fast::hash(&out[8..]);
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    out
}

/// One record found by [`scan`]: offset, kind, id, record length.
type Scanned = (u64, u8, u64, u32);

/// Reads one segment's records: `(offset, kind, id, record length)`; stops at the first
/// torn or corrupt one and returns its offset.
fn scan(bytes: &[u8]) -> (Vec<Scanned>, Option<u64>) {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let torn = Some(at as u64);
        let Some(head) = bytes.get(at..at + 8) else {
            return (out, torn);
        };
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
        let Some(body) = bytes.get(at + 8..at + 8 + len) else {
            return (out, torn);
        };
        if len < HEADER || crc32fast::hash(body) != crc || !matches!(body[0], PUT | DONE) {
            return (out, torn);
        }
        let id = u64::from_le_bytes(body[1..9].try_into().expect("8 bytes"));
        out.push((at as u64, body[0], id, (8 + len) as u32));
        at += 8 + len;
    }
    (out, None)
}

impl Wal {
    /// Opens (creating) the log in `dir`, recovers it, and starts the writer thread.
    pub fn open(dir: &Path, max_bytes: u64, mode: FsyncMode) -> std::io::Result<(Wal, Recovered)> {
        std::fs::create_dir_all(dir)?;
        let mut numbers: Vec<u64> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_prefix("wal-")?
                    .strip_suffix(".log")?
                    .parse()
                    .ok()
            })
            .collect();
        numbers.sort_unstable();
        let mut state = State::default();
        let mut recovered = Recovered::default();
        let mut puts: BTreeMap<u64, Loc> = BTreeMap::new();
        let mut done = std::collections::HashSet::new();
        for &n in &numbers {
            let path = segment_path(dir, n);
            let bytes = std::fs::read(&path)?;
            let (records, torn) = scan(&bytes);
            let mut size = bytes.len() as u64;
            if let Some(at) = torn {
                recovered.torn += 1;
                // Cut the torn tail so the bytes are never read again.
                let f = OpenOptions::new().write(true).open(&path)?;
                f.set_len(at)?;
                f.sync_all()?;
                size = at;
            }
            for (offset, kind, id, len) in records {
                state.next_id = state.next_id.max(id + 1);
                match kind {
                    PUT => {
                        puts.insert(
                            id,
                            Loc {
                                segment: n,
                                offset,
                                len,
                            },
                        );
                    }
                    _ => {
                        done.insert(id);
                    }
                }
            }
            state.segments.insert(
                n,
                Segment {
                    bytes: size,
                    live: 0,
                },
            );
            state.bytes += size;
        }
        for (id, loc) in puts {
            if done.contains(&id) {
                continue;
            }
            if let Some(s) = state.segments.get_mut(&loc.segment) {
                s.live += 1;
            }
            state.live.insert(id, loc);
            state.backlog.push_back(id);
        }
        recovered.live = state.backlog.len();
        state.active = numbers.last().map_or(0, |n| n + 1);
        let active = OpenOptions::new()
            .create(true)
            .append(true)
            .open(segment_path(dir, state.active))?;
        sync_dir(dir);
        state.segments.insert(state.active, Segment::default());
        compact(dir, &mut state);
        let state = Arc::new(Mutex::new(state));
        let (tx, rx) = mpsc::channel();
        {
            let state = state.clone();
            let dir = dir.to_owned();
            std::thread::Builder::new()
                .name("spool-writer".into())
                .spawn(move || {
                    let segment = (max_bytes / 8).clamp(4096, SEGMENT_BYTES);
                    writer(dir, active, rx, state, mode, segment, max_bytes)
                })?;
        }
        Ok((
            Wal {
                dir: dir.to_owned(),
                max_bytes,
                state,
                tx: Mutex::new(tx),
            },
            recovered,
        ))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a job and waits until it is as durable as the fsync mode makes it. Returns
    /// its id. `Full` when the log would pass `--spool-max-bytes`.
    pub async fn append(&self, job: &Job) -> Result<u64, WalError> {
        let body = spool::encode(job);
        let (id, record) = {
            let mut st = self.lock();
            let id = st.next_id;
            let record = record(PUT, id, &body);
            if st.bytes + st.reserved + record.len() as u64 > self.max_bytes {
                return Err(WalError::Full);
            }
            st.next_id += 1;
            st.reserved += record.len() as u64;
            (id, record)
        };
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Op::Put { id, record, reply })?;
        match rx.await {
            Ok(Ok(())) => Ok(id),
            Ok(Err(e)) => Err(WalError::Io(e)),
            Err(_) => Err(WalError::Io(std::io::Error::other("spool writer stopped"))),
        }
    }

    fn send(&self, op: Op) -> Result<(), WalError> {
        self.tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(op)
            .map_err(|_| WalError::Io(std::io::Error::other("spool writer stopped")))
    }

    /// The job is done (delivered or dropped): a tombstone, without waiting for the disk.
    /// A crash before it reaches the disk replays the job once more.
    pub fn done(&self, id: u64) {
        let was_live = {
            let mut st = self.lock();
            st.backlog.retain(|b| *b != id);
            st.live.contains_key(&id)
        };
        if was_live {
            let _ = self.send(Op::Done {
                record: record(DONE, id, &[]),
            });
        }
    }

    /// Marks a live job as not in memory (the queue was full): the replayer loads it later.
    pub fn defer(&self, id: u64) {
        self.lock().backlog.push_back(id);
    }

    /// The oldest deferred job, loaded from disk. `Err(Corrupt)`: it was tombstoned.
    pub fn next_deferred(&self) -> Option<Result<Job, WalError>> {
        let (id, loc) = {
            let mut st = self.lock();
            loop {
                let id = st.backlog.pop_front()?;
                if let Some(loc) = st.live.get(&id) {
                    break (id, *loc);
                }
            }
        };
        let loaded = self.read(id, loc);
        if loaded.is_err() {
            self.done(id);
        }
        Some(loaded)
    }

    fn read(&self, id: u64, loc: Loc) -> Result<Job, WalError> {
        let mut f = File::open(segment_path(&self.dir, loc.segment))?;
        f.seek(SeekFrom::Start(loc.offset))?;
        let mut buf = vec![0; loc.len as usize];
        f.read_exact(&mut buf)?;
        let (records, torn) = scan(&buf);
        match (records.first(), torn) {
            (Some(&(_, PUT, rid, _)), None) if rid == id => {}
            _ => return Err(WalError::Corrupt),
        }
        let mut job = spool::decode(bytes::Bytes::from(buf).slice(8 + HEADER..))
            .map_err(|_| WalError::Corrupt)?;
        job.wal_id = Some(id);
        Ok(job)
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// Live jobs (in memory or not).
    pub fn live(&self) -> usize {
        self.lock().live.len()
    }

    /// Live jobs waiting on disk only.
    pub fn deferred(&self) -> usize {
        self.lock().backlog.len()
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Deletes segments from the oldest while nothing in them is live (never the active one).
fn compact(dir: &Path, st: &mut State) {
    while let Some((&n, seg)) = st.segments.iter().next() {
        if n == st.active || seg.live > 0 {
            break;
        }
        if std::fs::remove_file(segment_path(dir, n)).is_err() {
            break;
        }
        st.bytes -= seg.bytes.min(st.bytes);
        st.segments.remove(&n);
    }
}

fn writer(
    dir: PathBuf,
    mut file: File,
    rx: mpsc::Receiver<Op>,
    state: Arc<Mutex<State>>,
    mode: FsyncMode,
    segment_bytes: u64,
    max_bytes: u64,
) {
    let mut size = 0u64;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        if mode != FsyncMode::Always {
            while let Ok(op) = rx.try_recv() {
                batch.push(op);
            }
        }
        let mut buf = Vec::new();
        for op in &batch {
            match op {
                Op::Put { record, .. } | Op::Done { record } => buf.extend_from_slice(record),
            }
        }
        let mut result = file.write_all(&buf);
        if result.is_ok() && mode != FsyncMode::Off {
            result = file.sync_data();
        }
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        let active = st.active;
        let mut offset = size;
        let ok = result.is_ok();
        if ok {
            size += buf.len() as u64;
            st.bytes += buf.len() as u64;
            if let Some(s) = st.segments.get_mut(&active) {
                s.bytes += buf.len() as u64;
            }
        }
        let mut replies = Vec::new();
        for op in batch {
            match op {
                Op::Put { id, record, reply } => {
                    st.reserved -= (record.len() as u64).min(st.reserved);
                    if ok {
                        st.live.insert(
                            id,
                            Loc {
                                segment: active,
                                offset,
                                len: record.len() as u32,
                            },
                        );
                        if let Some(s) = st.segments.get_mut(&active) {
                            s.live += 1;
                        }
                    }
                    offset += record.len() as u64;
                    replies.push((reply, ok));
                }
                Op::Done { record } => {
                    let id = u64::from_le_bytes(record[9..17].try_into().expect("8 bytes"));
                    if let Some(loc) = st.live.remove(&id) {
                        if let Some(s) = st.segments.get_mut(&loc.segment) {
                            s.live = s.live.saturating_sub(1);
                        }
                    }
                    offset += record.len() as u64;
                }
            }
        }
        // Rotate once the segment is full, or once nothing in it is live and it is not tiny
        // (or the log is past half its cap), so that a drained log shrinks.
        let drained = st.segments.get(&st.active).is_some_and(|s| s.live == 0);
        if size >= segment_bytes
            || (drained && size > 0 && (size >= IDLE_ROTATE_BYTES || st.bytes > max_bytes / 2))
        {
            let next = st.active + 1;
            match OpenOptions::new()
                .create(true)
                .append(true)
                .open(segment_path(&dir, next))
            {
                Ok(f) => {
                    file = f;
                    size = 0;
                    st.active = next;
                    st.segments.insert(next, Segment::default());
                    sync_dir(&dir);
                }
                Err(e) => tracing::warn!(error = %e, "spool segment rotation failed"),
            }
        }
        compact(&dir, &mut st);
        drop(st);
        for (reply, ok) in replies {
            let _ = reply.send(if ok {
                Ok(())
            } else {
                Err(std::io::Error::other("spool write failed"))
            });
        }
        if !ok {
            // A failed write may have left part of a record: start a fresh segment so that
            // the next records are not behind garbage (recovery would cut them off).
            size = segment_bytes;
        }
    }
    let _ = file.sync_data();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn job(n: u32) -> Job {
        let mut env = envelope::Envelope::from_header(serde_json::Map::new());
        env.push(envelope::Item::new(
            envelope::ItemType::Event,
            bytes::Bytes::from(format!("{{\"n\":{n}}}")),
        ));
        Job {
            envelope: env,
            consent: vec![scrub::KeptConsent {
                company: Some("7".into()),
                ids_allowed: false,
            }],
            upstream: Arc::new("https://abc@h.example/42".parse().expect("dsn")),
            client: None,
            accepted_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            spool_file: None,
            wal_id: None,
        }
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("wal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn payload(j: &Job) -> String {
        String::from_utf8(j.envelope.items()[0].payload().to_vec()).expect("utf-8")
    }

    fn segments(d: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .collect();
        v.sort();
        v
    }

    /// Drops the log and waits for its writer to finish (the channel closes).
    fn close(wal: Wal) {
        drop(wal);
        std::thread::sleep(Duration::from_millis(50));
    }

    #[tokio::test]
    async fn live_jobs_are_replayed_in_order_after_a_restart() {
        let d = dir("replay");
        let (wal, rec) = Wal::open(&d, 1 << 20, FsyncMode::Batch).expect("open");
        assert_eq!(rec, Recovered::default());
        let ids = [
            wal.append(&job(0)).await.expect("append"),
            wal.append(&job(1)).await.expect("append"),
            wal.append(&job(2)).await.expect("append"),
        ];
        assert_eq!(ids, [0, 1, 2]);
        wal.done(ids[1]);
        close(wal);

        let (wal, rec) = Wal::open(&d, 1 << 20, FsyncMode::Batch).expect("reopen");
        assert_eq!(rec, Recovered { live: 2, torn: 0 });
        let a = wal.next_deferred().expect("one").expect("loads");
        let b = wal.next_deferred().expect("two").expect("loads");
        assert!(wal.next_deferred().is_none());
        assert_eq!((payload(&a), a.wal_id), ("{\"n\":0}".to_owned(), Some(0)));
        assert_eq!((payload(&b), b.wal_id), ("{\"n\":2}".to_owned(), Some(2)));
        assert_eq!(a.consent[0].company.as_deref(), Some("7"));
        // New ids continue after the old ones.
        assert_eq!(wal.append(&job(3)).await.expect("append"), 3);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[tokio::test]
    async fn a_torn_tail_is_cut_off_and_counted_never_replayed() {
        let d = dir("torn");
        let (wal, _) = Wal::open(&d, 1 << 20, FsyncMode::Always).expect("open");
        wal.append(&job(0)).await.expect("append");
        wal.append(&job(1)).await.expect("append");
        close(wal);
        let seg = segments(&d).pop().expect("a segment");
        let good = std::fs::metadata(&seg).expect("meta").len();
        // A crash in the middle of the third record: its first 20 bytes reached the disk.
        let third = record(PUT, 2, &spool::encode(&job(2)));
        let mut f = OpenOptions::new().append(true).open(&seg).expect("open");
        f.write_all(&third[..20]).expect("write");
        drop(f);

        let (wal, rec) = Wal::open(&d, 1 << 20, FsyncMode::Always).expect("reopen");
        assert_eq!(rec, Recovered { live: 2, torn: 1 });
        assert_eq!(std::fs::metadata(&seg).expect("meta").len(), good, "cut");
        assert_eq!(
            payload(&wal.next_deferred().expect("0").expect("ok")),
            "{\"n\":0}"
        );
        assert_eq!(
            payload(&wal.next_deferred().expect("1").expect("ok")),
            "{\"n\":1}"
        );
        assert!(wal.next_deferred().is_none());
        close(wal);

        // A flipped byte inside the second record: the checksum catches it.
        let seg = segments(&d)[0].clone();
        let mut bytes = std::fs::read(&seg).expect("read");
        let last = bytes.len() - 3;
        bytes[last] ^= 0x20;
        std::fs::write(&seg, &bytes).expect("write");
        let (wal, rec) = Wal::open(&d, 1 << 20, FsyncMode::Always).expect("reopen");
        assert_eq!(rec, Recovered { live: 1, torn: 1 });
        assert_eq!(
            payload(&wal.next_deferred().expect("0").expect("ok")),
            "{\"n\":0}"
        );
        assert!(wal.next_deferred().is_none());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[tokio::test]
    async fn full_log_refuses_then_compaction_frees_room() {
        let d = dir("full");
        let one = record(PUT, 0, &spool::encode(&job(0))).len() as u64;
        // Room for three records; segments of 4 KiB (the smallest).
        let (wal, _) = Wal::open(&d, 3 * one + 20, FsyncMode::Off).expect("open");
        let mut ids = Vec::new();
        for n in 0..3 {
            ids.push(wal.append(&job(n)).await.expect("fits"));
        }
        assert!(matches!(wal.append(&job(9)).await, Err(WalError::Full)));
        for id in ids {
            wal.done(id);
        }
        // The tombstones need room too: the log is over its cap until a rotation, so wait for
        // the writer to rotate and compact (it does so before the next batch).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            match wal.append(&job(4)).await {
                Ok(_) => break,
                Err(WalError::Full) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => panic!("{e}"),
            }
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
