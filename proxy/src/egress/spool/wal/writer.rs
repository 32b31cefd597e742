//! The one thread that writes the log: appends (puts and tombstones) in groups with one
//! sync each, erasures in place, segment rotation and compaction.
//!
//! A failed append (disk full, `EIO`, `EFBIG` past a file size limit) answers every put of
//! its group with the error, so none of them is acknowledged; the segment is cut back to
//! where the group started, so that later records are never behind garbage (recovery would
//! stop there and lose them), and the next group starts a fresh segment.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};

use super::record::push_done;
use super::{compact, segment_path, sync_dir, FsyncMode, Live, Loc, Op, Segment, State};

/// How long a tombstone waits for a group to ride with before the writer writes it alone:
/// under traffic the next put comes first, so the writer wakes for puts only.
const TOMBSTONE_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// An active segment with nothing live rotates from this size, so that a drained log shrinks.
const IDLE_ROTATE_BYTES: u64 = 64 << 10;
/// Tombstones kept for the next group after a failed append. Past it the oldest are
/// forgotten: a lost tombstone costs at most one more delivery after a restart.
const MAX_PENDING_DONE: usize = 1 << 16;

/// The writer's own state; the shared [`State`] is locked once per group.
pub(super) struct Writer {
    pub dir: PathBuf,
    pub file: File,
    /// Bytes in the active segment.
    pub size: u64,
    pub state: Arc<Mutex<State>>,
    pub mode: FsyncMode,
    pub segment_bytes: u64,
    pub max_bytes: u64,
    /// The last append failed: start a fresh segment before the next one.
    pub rotate: bool,
    /// The failed append could not be cut back: nothing more may go into this segment.
    pub poisoned: bool,
    /// Tombstones (job ids) whose append failed, written with the next group.
    pub pending_done: Vec<u64>,
    /// The group's bytes, kept between groups so that a group allocates nothing.
    pub buf: Vec<u8>,
    /// An empty list swapped with the shared one of jobs done, for the same reason.
    pub spare: Vec<u64>,
}

fn copy(e: &std::io::Error) -> std::io::Error {
    match e.raw_os_error() {
        Some(code) => std::io::Error::from_raw_os_error(code),
        None => std::io::Error::from(e.kind()),
    }
}

impl Writer {
    /// Serves the channel until every sender is gone. A group is everything waiting; with
    /// `--spool-fsync always` at most one put, so each put has its own sync, while the
    /// tombstones and erasures waiting ride along (nobody waits for a tombstone's sync: a
    /// sync of its own would only halve the throughput).
    pub fn run(mut self, rx: mpsc::Receiver<Op>) {
        let mut next: Option<Op> = None;
        let mut batch = Vec::new();
        loop {
            let first = match next.take() {
                Some(op) => op,
                None => match rx.recv_timeout(TOMBSTONE_TICK) {
                    Ok(op) => op,
                    // Nothing came: write the tombstones of the jobs done meanwhile.
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        self.group(&mut batch);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                },
            };
            let mut puts = usize::from(matches!(first, Op::Put { .. }));
            batch.push(first);
            while let Ok(op) = rx.try_recv() {
                let put = matches!(op, Op::Put { .. });
                if put && puts > 0 && self.mode == FsyncMode::Always {
                    next = Some(op);
                    break;
                }
                puts += usize::from(put);
                batch.push(op);
            }
            self.group(&mut batch);
        }
        // The tombstones of the last jobs done, so that a clean stop replays none of them.
        self.group(&mut batch);
        let _ = self.file.sync_data();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends the ops of `batch` (emptied) and the tombstones waiting, with one write and
    /// at most one sync: a group of tombstones only is not synced (nobody waits for it).
    fn group(&mut self, batch: &mut Vec<Op>) {
        if self.rotate {
            let state = self.state.clone();
            let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
            // Failing again while the disk is in trouble: the append's error is the news.
            if let Err(e) = self.rotate_segment(&mut st) {
                tracing::debug!(kind = %e.kind(), "spool segment rotation failed");
            }
        }
        // Appends first, in order, with where each put lands. The jobs done since the last
        // group were taken out of the live set by `Wal::done`; their tombstones go first.
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let mut dones = std::mem::take(&mut self.spare);
        let active = {
            let mut st = self.lock();
            std::mem::swap(&mut st.pending_done, &mut dones);
            st.active
        };
        dones.splice(0..0, self.pending_done.drain(..));
        for &id in &dones {
            push_done(&mut buf, id);
        }
        let start = self.size;
        let mut puts = Vec::new();
        let mut erasures = Vec::new();
        let synced = batch
            .iter()
            .any(|op| matches!(op, Op::Put { .. } | Op::Erase { .. }));
        for op in batch.drain(..) {
            match op {
                Op::Put {
                    id,
                    record,
                    facts,
                    reply,
                } => {
                    let loc = Loc {
                        segment: active,
                        offset: start + buf.len() as u64,
                        len: record.len() as u32,
                    };
                    buf.extend_from_slice(&record);
                    puts.push((id, loc, facts, reply));
                }
                Op::Erase { loc, record, reply } => erasures.push((loc, record, reply)),
            }
        }
        let result = self.append(&buf, synced);
        let erased = self.erase(&erasures);
        let state = self.state.clone();
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        if result.is_ok() {
            self.size += buf.len() as u64;
            st.bytes += buf.len() as u64;
            if let Some(s) = st.segments.get_mut(&active) {
                s.bytes += buf.len() as u64;
            }
            dones.clear();
            self.spare = dones;
        } else {
            self.pending_done = dones;
            let over = self.pending_done.len().saturating_sub(MAX_PENDING_DONE);
            self.pending_done.drain(..over);
        }
        self.buf = buf;
        let mut replies = Vec::with_capacity(puts.len());
        for (id, loc, facts, reply) in puts {
            st.reserved -= u64::from(loc.len).min(st.reserved);
            if result.is_ok() {
                st.live.insert(id, Live { loc, facts });
                if let Some(s) = st.segments.get_mut(&loc.segment) {
                    s.live += 1;
                }
            }
            replies.push(reply);
        }
        self.maybe_rotate(&mut st);
        compact(&self.dir, &mut st);
        drop(st);
        for reply in replies {
            let _ = reply.send(result.as_ref().map(|_| ()).map_err(copy));
        }
        for (_, _, reply) in erasures {
            let _ = reply.send(erased);
        }
    }

    /// Writes one group, and syncs it if `sync` (and the mode syncs); on failure cuts the
    /// segment back to where it started.
    fn append(&mut self, buf: &[u8], sync: bool) -> std::io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        if self.poisoned {
            return Err(std::io::Error::other(
                "spool segment unusable after a failed write",
            ));
        }
        let mut result = self.file.write_all(buf);
        if result.is_ok() && sync && self.mode != FsyncMode::Off {
            result = self.file.sync_data();
        }
        if result.is_err() {
            match self.file.set_len(self.size) {
                // A fresh segment next time: a limit on one file's size is passed that way,
                // and an empty segment is reused rather than piling up empty files.
                Ok(()) => self.rotate = self.size > 0,
                Err(_) => {
                    self.poisoned = true;
                    self.rotate = true;
                }
            }
        }
        result
    }

    /// Overwrites erased puts in place with tombstones of the same size, then syncs the
    /// segments touched. A segment already deleted has nothing left to erase.
    fn erase(&self, erasures: &[(Loc, Vec<u8>, tokio::sync::oneshot::Sender<bool>)]) -> bool {
        let mut files: HashMap<u64, Option<File>> = HashMap::new();
        let mut ok = true;
        for (loc, record, _) in erasures {
            let f = files.entry(loc.segment).or_insert_with(|| {
                OpenOptions::new()
                    .write(true)
                    .open(segment_path(&self.dir, loc.segment))
                    .ok()
            });
            if let Some(f) = f {
                if let Err(e) = f.write_all_at(record, loc.offset) {
                    tracing::warn!(kind = %e.kind(), error = %e, "spool: erasing a record failed");
                    ok = false;
                }
            }
        }
        if self.mode != FsyncMode::Off {
            for f in files.values().flatten() {
                ok &= f.sync_data().is_ok();
            }
        }
        ok
    }

    /// Rotates once the segment is full, or once nothing in it is live and it is not tiny
    /// (or the log is past half its cap), so that a drained log shrinks.
    fn maybe_rotate(&mut self, st: &mut State) {
        let drained = st.segments.get(&st.active).is_some_and(|s| s.live == 0);
        if self.size >= self.segment_bytes
            || (drained
                && self.size > 0
                && (self.size >= IDLE_ROTATE_BYTES || st.bytes > self.max_bytes / 2))
        {
            if let Err(e) = self.rotate_segment(st) {
                tracing::warn!(kind = %e.kind(), "spool segment rotation failed");
            }
        }
    }

    fn rotate_segment(&mut self, st: &mut State) -> std::io::Result<()> {
        let next = st.active + 1;
        self.file = crate::egress::spool::format::private_file()
            .create(true)
            .append(true)
            .open(segment_path(&self.dir, next))?;
        self.size = 0;
        self.rotate = false;
        self.poisoned = false;
        st.active = next;
        st.segments.insert(next, Segment::default());
        sync_dir(&self.dir);
        Ok(())
    }
}
