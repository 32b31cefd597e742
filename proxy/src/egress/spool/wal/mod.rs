//! The write-ahead log of the durable spool: every scrubbed envelope is appended here, and
//! made durable, before the SDK gets its `200`; a tombstone follows once the upstream took it
//! (or it was dropped), and whole segments go once nothing in them is live. Replayed at start.
//!
//! Layout: `--spool-dir/wal-<16 digits>.log` segments, appended in order, of the records
//! described in `record.rs`: a put per job, a tombstone per job done.
//!
//! Group commit: one writer thread (`writer.rs`) takes every record waiting, writes them with
//! one `write`, then one `fdatasync` (`--spool-fsync batch`), and only then answers the
//! requests that waited; `always` syncs after each record, `off` never (the kernel writes
//! when it likes: a power loss can lose what the SDKs were told was kept, a process crash
//! cannot). A failed write answers every put of its group with the error: none of them is
//! acknowledged.
//!
//! Recovery (`recover.rs`) reads every segment in order. A record whose length runs past the
//! end of a segment, or whose checksum does not match, is a torn tail (the crash cut a
//! write): it and what follows are cut off and counted, never replayed. Puts without a done
//! are the live jobs, replayed oldest first.
//!
//! Revocation (`revoke.rs`): each live job's consent facts (company, IDs kept, per item) are
//! held in memory, so that when consent is withdrawn the jobs it concerns are found without
//! reading the disk, and erased in place: the put is overwritten by a tombstone of its size.
//! A job that keeps some items is first appended again, without the others, under a new id.
//!
//! Compaction deletes segments from the oldest while nothing in them is live: a done record
//! is only ever deleted after the put it cancels, so a restart never resurrects a delivered
//! job. The price: one old live job keeps the later segments on disk until it is delivered,
//! dropped, or expires (`--retry-max-age`); erased puts in those segments hold zeros.

mod record;
mod recover;
mod revoke;
#[cfg(test)]
mod tests;
mod writer;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use super::format;
use super::Spooled;
use crate::egress::queue::Job;
use record::{put_record, scan, set_id, HEADER, PREFIX, PUT};
pub use revoke::{Resolved, Revoked};

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
/// the next one starts.
const SEGMENT_BYTES: u64 = 8 << 20;

/// Why an append or a load failed: the spool's one error type.
pub use super::SpoolError as WalError;

/// Where a live put is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Loc {
    segment: u64,
    offset: u64,
    len: u32,
}

/// What a revocation needs to know of one item of a live job, kept in memory.
#[derive(Debug, Clone)]
pub struct Fact {
    /// The item type's label, for the dropped-items counter.
    pub ty: &'static str,
    /// The company the item was attributed to.
    pub company: Option<Box<str>>,
    /// Whether it was scrubbed with IDs kept.
    pub ids: bool,
}

/// A live put: where it is and its items' consent facts.
#[derive(Debug)]
struct Live {
    loc: Loc,
    facts: Box<[Fact]>,
}

#[derive(Debug, Default)]
struct Segment {
    bytes: u64,
    live: usize,
}

#[derive(Debug, Default)]
struct State {
    segments: BTreeMap<u64, Segment>,
    live: HashMap<u64, Live>,
    /// Live jobs not in memory, oldest first: replayed into the queue.
    backlog: VecDeque<u64>,
    /// The job the replayer is reading now: out of the backlog, not yet in memory.
    loading: Option<u64>,
    /// Jobs rewritten by a revocation while a copy in memory still names the old id.
    moved: HashMap<u64, u64>,
    bytes: u64,
    /// Bytes promised to records still waiting for the writer.
    reserved: u64,
    /// Jobs done whose tombstones the writer has not taken yet: they ride with the next
    /// group, or go at the writer's next tick when no put comes (no wake-up of their own).
    pending_done: Vec<u64>,
    active: u64,
    next_id: u64,
}

/// What recovery found at open.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Live jobs, to replay.
    pub live: usize,
    /// Torn or damaged records cut off or skipped.
    pub torn: usize,
    /// Records whose checksum is right but which are not a job.
    pub corrupt: usize,
}

enum Op {
    Put {
        id: u64,
        record: Vec<u8>,
        facts: Box<[Fact]>,
        reply: tokio::sync::oneshot::Sender<std::io::Result<()>>,
    },
    /// Overwrite a put in place (revocation); the reply says whether it worked.
    Erase {
        loc: Loc,
        record: Vec<u8>,
        reply: tokio::sync::oneshot::Sender<bool>,
    },
}

/// The log. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    max_bytes: u64,
    state: Arc<Mutex<State>>,
    tx: Mutex<mpsc::Sender<Op>>,
    /// One revocation at a time, so that each erased item is counted once.
    revoking: tokio::sync::Mutex<()>,
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("wal-{n:016}.log"))
}

/// The consent facts of a job's items, in order.
fn facts_of(job: &Job) -> Box<[Fact]> {
    job.envelope
        .items()
        .iter()
        .zip(&job.consent)
        .map(|(item, c)| Fact {
            ty: item.ty().label(),
            company: c.company.as_deref().map(Box::from),
            ids: c.ids_allowed,
        })
        .collect()
}

impl Wal {
    /// Opens (creating) the log in `dir`, recovers it, and starts the writer thread.
    pub fn open(dir: &Path, max_bytes: u64, mode: FsyncMode) -> std::io::Result<(Wal, Recovered)> {
        format::create_private_dir(dir)?;
        let (mut state, recovered) = recover::recover(dir)?;
        let file = OpenOptions::new()
            .mode(0o600)
            .create(true)
            .append(true)
            .open(segment_path(dir, state.active))?;
        sync_dir(dir);
        state.segments.insert(state.active, Segment::default());
        compact(dir, &mut state);
        let state = Arc::new(Mutex::new(state));
        let (tx, rx) = mpsc::channel();
        let writer = writer::Writer {
            dir: dir.to_owned(),
            file,
            size: 0,
            state: state.clone(),
            mode,
            segment_bytes: (max_bytes / 8).clamp(4096, SEGMENT_BYTES),
            max_bytes,
            rotate: false,
            poisoned: false,
            pending_done: Vec::new(),
            buf: Vec::new(),
            spare: Vec::new(),
        };
        std::thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok((
            Wal {
                dir: dir.to_owned(),
                max_bytes,
                state,
                tx: Mutex::new(tx),
                revoking: tokio::sync::Mutex::new(()),
            },
            recovered,
        ))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a job and waits until it is as durable as the fsync mode makes it. Returns
    /// its id. `Full` when the log would pass `--spool-max-bytes`; `Io` when the write or
    /// its sync failed, and then the job is not in the log.
    pub async fn append(&self, job: &Job) -> Result<u64, WalError> {
        // Encoded before the lock, under a placeholder id: the id is only known under it.
        let mut record = put_record(job);
        let id = {
            let mut st = self.lock();
            let id = st.next_id;
            if st.bytes + st.reserved + record.len() as u64 > self.max_bytes {
                return Err(WalError::Full);
            }
            st.next_id += 1;
            st.reserved += record.len() as u64;
            id
        };
        set_id(&mut record, id);
        let (reply, rx) = tokio::sync::oneshot::channel();
        let facts = facts_of(job);
        self.send(Op::Put {
            id,
            record,
            facts,
            reply,
        })?;
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

    /// The job is done (delivered or dropped): out of the live set now, and a tombstone
    /// that rides with the writer's next group (or its next tick), without waiting for the
    /// disk and without waking the writer. A crash before it reaches the disk replays the job
    /// once more.
    pub fn done(&self, id: u64) {
        let mut st = self.lock();
        let id = st.moved.remove(&id).unwrap_or(id);
        if !st.backlog.is_empty() {
            st.backlog.retain(|b| *b != id);
        }
        if let Some(live) = st.live.remove(&id) {
            if let Some(s) = st.segments.get_mut(&live.loc.segment) {
                s.live = s.live.saturating_sub(1);
            }
            st.pending_done.push(id);
        }
    }

    /// Marks a live job as not in memory (the queue was full): the replayer loads it later.
    /// A job erased meanwhile is not live any more and stays gone.
    pub fn defer(&self, id: u64) {
        let mut st = self.lock();
        let id = st.moved.remove(&id).unwrap_or(id);
        if st.live.contains_key(&id) {
            st.backlog.push_back(id);
        }
    }

    /// The oldest deferred job, loaded from disk. `Err(Corrupt)`: it was tombstoned.
    pub fn next_deferred(&self) -> Option<Result<Job, WalError>> {
        loop {
            let (id, loc) = {
                let mut st = self.lock();
                loop {
                    let id = st.backlog.pop_front()?;
                    if let Some(live) = st.live.get(&id) {
                        let loc = live.loc;
                        st.loading = Some(id);
                        break (id, loc);
                    }
                }
            };
            let loaded = self.read(id, loc);
            let mut st = self.lock();
            st.loading = None;
            match loaded {
                Ok(job) => return Some(Ok(job)),
                // Read while a revocation erased or rewrote it: take the rewritten job, if
                // any, from the backlog's front (nothing in memory names it).
                Err(_) if st.live.get(&id).map(|l| l.loc) != Some(loc) => {
                    if let Some(new) = st.moved.remove(&id) {
                        st.backlog.push_front(new);
                    }
                }
                Err(e) => {
                    drop(st);
                    self.done(id);
                    return Some(Err(e));
                }
            }
        }
    }

    /// Loads a live job from disk (a copy in memory was rewritten by a revocation).
    pub fn load(&self, id: u64) -> Result<Job, WalError> {
        let loc = self
            .lock()
            .live
            .get(&id)
            .map(|l| l.loc)
            .ok_or(WalError::Corrupt)?;
        self.read(id, loc)
    }

    fn read(&self, id: u64, loc: Loc) -> Result<Job, WalError> {
        let mut f = File::open(segment_path(&self.dir, loc.segment))?;
        f.seek(SeekFrom::Start(loc.offset))?;
        let mut buf = vec![0; loc.len as usize];
        f.read_exact(&mut buf)?;
        let found = scan(&buf);
        match (found.records.first(), found.torn_at) {
            (Some(r), None) if r.kind == PUT && r.id == id => {}
            _ => return Err(WalError::Corrupt),
        }
        let mut job = format::decode(bytes::Bytes::from(buf).slice(PREFIX + HEADER..))
            .map_err(|_| WalError::Corrupt)?;
        job.spooled = Some(Spooled::Record(id));
        Ok(job)
    }

    /// The cap, `--spool-max-bytes`.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
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
