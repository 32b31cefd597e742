//! Dry-run sinks: the exact bytes that would go upstream, to stdout or one file each in an
//! outbox folder (written to a temporary name, synced, then renamed, so a reader never sees
//! half a file).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

/// Where a dry run writes.
#[derive(Debug)]
pub enum Sink {
    /// Standard output, one envelope after another.
    Stdout(Mutex<tokio::io::Stdout>),
    /// One file per envelope.
    Outbox {
        /// The folder.
        dir: PathBuf,
        /// Sequence number, so names sort in arrival order within a millisecond.
        seq: AtomicU64,
    },
}

impl Sink {
    /// Stdout sink.
    pub fn stdout() -> Sink {
        Sink::Stdout(Mutex::new(tokio::io::stdout()))
    }

    /// Outbox sink.
    pub fn outbox(dir: PathBuf) -> Sink {
        Sink::Outbox {
            dir,
            seq: AtomicU64::new(0),
        }
    }

    /// Metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Sink::Stdout(_) => "stdout",
            Sink::Outbox { .. } => "outbox",
        }
    }

    /// Writes one envelope; returns once it is durable (outbox) or flushed (stdout).
    pub async fn write(&self, bytes: Bytes, event_id: Option<&str>) -> std::io::Result<()> {
        match self {
            Sink::Stdout(out) => {
                let mut out = out.lock().await;
                out.write_all(&bytes).await?;
                out.flush().await
            }
            Sink::Outbox { dir, seq } => {
                let ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0);
                let n = seq.fetch_add(1, Ordering::Relaxed);
                // event_id was normalised to 32 hex digits by the caller, so it is safe in a name.
                let name = match event_id {
                    Some(id) => format!("{ms:013}-{n:06}-{id}.envelope"),
                    None => format!("{ms:013}-{n:06}.envelope"),
                };
                let tmp = dir.join(format!(".{name}.tmp"));
                let dest = dir.join(&name);
                let mut f = tokio::fs::File::create(&tmp).await?;
                f.write_all(&bytes).await?;
                f.sync_all().await?;
                drop(f);
                tokio::fs::rename(&tmp, &dest).await
            }
        }
    }
}
