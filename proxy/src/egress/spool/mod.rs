//! The spool: where a scrubbed job waits on disk. One [`Spool`] over two kinds, so that no
//! caller asks which one it has:
//!
//! - **overflow** (`--spool-mode overflow`, `overflow.rs`): one file per job, written only
//!   when the memory queue is full and at shutdown;
//! - **durable** (`--spool-mode durable`, `wal/`): a checksummed write-ahead log that holds
//!   every job before the SDK's `200`, erases on consent revocation, and is replayed after a
//!   crash.
//!
//! Enters: jobs from [`super::Egress`] (logged before the queue, kept when the queue has no
//! room, parked at shutdown, given back by a sender), and a consent decision to apply
//! (revocation). Leaves: jobs for the replayer, oldest first, each carrying its
//! [`Spooled`] handle so that it is released, given back or removed once done.
//!
//! | File | What |
//! |---|---|
//! | `mod.rs` | [`Spool`], [`Spooled`], [`SpoolError`]: the one face of both kinds |
//! | `format.rs` | the stored job (a metadata line, then the envelope), the private files |
//! | `overflow.rs` | the overflow kind: one file per job, atomic writes, the oldest evicted past the cap |
//! | `wal/` | the durable kind: the log, group commit, recovery, erasure on revocation |

pub mod format;
pub mod overflow;
pub mod wal;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::egress::queue::Job;
use overflow::Overflow;
use wal::{FsyncMode, Recovered, Resolved, Revoked, Wal};

/// Where a job's copy on disk is: the handle it carries until it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spooled {
    /// A file of the overflow spool.
    File(PathBuf),
    /// A record of the durable log, by id.
    Record(u64),
}

/// Why the spool could not take or give a job.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The durable log is at `--spool-max-bytes`.
    #[error("spool full")]
    Full,
    /// Disk trouble: a write or its sync failed (disk full, `EIO`, a file size limit …).
    #[error("spool i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A stored job that does not decode (damaged or foreign content).
    #[error("spooled job is corrupt")]
    Corrupt,
    /// The durable log only takes jobs before they are queued ([`Spool::log`]); a job
    /// without a record cannot be written to it later.
    #[error("job is not in the durable log")]
    NotLogged,
}

/// What [`Spool::keep`] did with a job the queue had no room for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// It already had a copy on disk, which now waits for the replayer.
    GivenBack,
    /// It was written; this many older jobs were evicted to stay under the cap.
    Written {
        /// Jobs deleted, oldest first.
        evicted: usize,
    },
}

/// What the durable log says of a job a copy in memory names, after a consent re-check.
#[derive(Debug)]
pub enum Followed {
    /// Unchanged: send the copy.
    Same,
    /// Erased by a revocation (its items already counted): drop the copy.
    Gone,
    /// Rewritten without its revoked items: send this job instead.
    Moved(Job),
    /// Rewritten, but the new record does not load: dropped, count its items.
    Corrupt(SpoolError),
}

/// The spool, of either kind.
#[derive(Debug)]
pub enum Spool {
    /// One file per job, for overflow and shutdown leftovers.
    Overflow(Overflow),
    /// The write-ahead log: every job before its acknowledgement.
    Durable(Wal),
}

impl Spool {
    /// Opens the spool in `dir`, capped at `max_bytes`: the durable kind when `durable`
    /// gives its fsync mode, else the overflow kind. Also says what recovery found (the
    /// overflow kind has nothing to recover: its files are whole or absent).
    pub fn open(
        dir: &Path,
        max_bytes: u64,
        durable: Option<FsyncMode>,
    ) -> std::io::Result<(Spool, Recovered)> {
        Ok(match durable {
            Some(fsync) => {
                let (wal, recovered) = Wal::open(dir, max_bytes, fsync)?;
                (Spool::Durable(wal), recovered)
            }
            None => (
                Spool::Overflow(Overflow::open(dir, max_bytes)?),
                Recovered::default(),
            ),
        })
    }

    /// Whether every job is logged before it is acknowledged (the durable kind): what a
    /// full queue means for the SDK, and whether consent revocations erase from disk.
    pub fn is_durable(&self) -> bool {
        matches!(self, Spool::Durable(_))
    }

    /// The cap, `--spool-max-bytes`.
    pub fn max_bytes(&self) -> u64 {
        match self {
            Spool::Overflow(o) => o.max_bytes(),
            Spool::Durable(w) => w.max_bytes(),
        }
    }

    /// Before the queue: the durable kind appends the job to its log and marks it with its
    /// record (true); the overflow kind takes jobs only when the queue is full (false).
    pub async fn log(&self, job: &mut Job) -> Result<bool, SpoolError> {
        match self {
            Spool::Overflow(_) => Ok(false),
            Spool::Durable(wal) => {
                let id = wal.append(job).await?;
                job.spooled = Some(Spooled::Record(id));
                Ok(true)
            }
        }
    }

    /// The queue has no room for `job`: it waits on disk for the replayer. A job with a copy
    /// on disk gives it back; one without is written (overflow kind only). Writing fsyncs:
    /// call it off the async workers.
    pub fn keep(&self, job: &Job) -> Result<Kept, SpoolError> {
        if self.give_back(job) {
            return Ok(Kept::GivenBack);
        }
        match self {
            Spool::Overflow(o) => Ok(Kept::Written {
                evicted: o.write(job)?,
            }),
            Spool::Durable(_) => Err(SpoolError::NotLogged),
        }
    }

    /// A job loaded from disk goes back to disk only (the queue had no room, its sender
    /// failed, or the proxy stops): the replayer, or the next start, loads it again. False
    /// when the job has no copy in this spool.
    pub fn give_back(&self, job: &Job) -> bool {
        match (self, &job.spooled) {
            (Spool::Overflow(o), Some(Spooled::File(path))) => o.release(path),
            (Spool::Durable(wal), Some(Spooled::Record(id))) => wal.defer(*id),
            _ => return false,
        }
        true
    }

    /// The job is done (delivered or dropped): its copy on disk goes.
    pub fn done(&self, job: &Job) {
        match (self, &job.spooled) {
            (Spool::Overflow(o), Some(Spooled::File(path))) => o.remove(path),
            (Spool::Durable(wal), Some(Spooled::Record(id))) => wal.done(*id),
            _ => {}
        }
    }

    /// The oldest job on disk only, loaded and marked as in memory until it is done or
    /// given back. `Err`: it does not load, and is dropped from disk.
    pub fn next(&self) -> Option<Result<Job, SpoolError>> {
        match self {
            Spool::Overflow(o) => o.next(),
            Spool::Durable(wal) => wal.next_deferred(),
        }
    }

    /// How often the replayer looks for jobs on disk. The log is polled more often: in
    /// durable mode it is where a full queue's overflow waits, so it is the SDKs' latency
    /// to the upstream, not a rare leftover.
    pub fn replay_every(&self) -> Duration {
        match self {
            Spool::Overflow(_) => Duration::from_millis(250),
            Spool::Durable(_) => Duration::from_millis(50),
        }
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        match self {
            Spool::Overflow(o) => o.bytes(),
            Spool::Durable(wal) => wal.bytes(),
        }
    }

    /// Jobs held, where the kind keeps count (the durable log); `None` for the overflow
    /// kind, which would have to list its folder.
    pub fn envelopes(&self) -> Option<usize> {
        match self {
            Spool::Overflow(_) => None,
            Spool::Durable(wal) => Some(wal.live()),
        }
    }

    /// Erases from disk every job whose items `keep(company, ids_kept)` no longer lets
    /// leave (the durable kind; the overflow kind holds no consent facts to judge by, and
    /// its jobs are re-checked before each send). Returns what it erased.
    pub async fn revoke(&self, keep: impl Fn(Option<&str>, bool) -> bool) -> Revoked {
        match self {
            Spool::Overflow(_) => Revoked::default(),
            Spool::Durable(wal) => wal.revoke(None, keep).await,
        }
    }

    /// The consent re-check of one job before a send, where the durable log decides: the
    /// log erases what `keep` no longer lets leave (and counts it in the returned
    /// [`Revoked`]; a sweep may have done so already), and says what became of the job.
    /// `None` when the spool holds no record of the job (the overflow kind, or no spool
    /// handle): the caller then judges the copy in memory itself.
    pub async fn follow(
        &self,
        job: &Job,
        keep: impl Fn(Option<&str>, bool) -> bool,
    ) -> Option<(Revoked, Followed)> {
        let (Spool::Durable(wal), Some(Spooled::Record(id))) = (self, &job.spooled) else {
            return None;
        };
        let id = *id;
        let revoked = wal.revoke(Some(id), keep).await;
        let followed = match wal.resolve(id) {
            Resolved::Same => Followed::Same,
            Resolved::Gone => Followed::Gone,
            Resolved::Moved(new) => match wal.load(new) {
                Ok(rewritten) => Followed::Moved(rewritten),
                Err(e) => {
                    wal.done(new);
                    Followed::Corrupt(e)
                }
            },
        };
        Some((revoked, followed))
    }
}
