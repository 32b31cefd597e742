//! A tokio runtime on its own thread, owned by a test server handle.
//!
//! The servers run apart from the test's runtime so that they keep working when the test
//! uses `tokio::time::pause()`, when the test is synchronous, and when the test's own
//! runtime is single-threaded and busy. Dropping the handle stops the thread and so
//! closes every socket the server owned.

use std::future::Future;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::{oneshot, watch};

/// A current-thread runtime driven by a dedicated thread until dropped.
#[derive(Debug)]
pub(crate) struct Background {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

// === impl Background ===

impl Background {
    /// Starts the thread. `name` shows in panics and debuggers.
    pub(crate) fn start(name: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("testkit: building a tokio runtime");
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("testkit-{name}"))
            .spawn(move || {
                // Returns when the sender is dropped or used; dropping the runtime here,
                // outside any async context, cancels every task and closes its sockets.
                let _ = runtime.block_on(stopped);
                drop(runtime);
            })
            .expect("testkit: spawning a server thread");
        Self {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The runtime's handle, to spawn tasks or enter its context.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Spawns `fut` on the background runtime.
    pub(crate) fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.handle.spawn(fut));
    }

    /// Runs `fut` on the background runtime and waits for it from a blocking thread.
    ///
    /// Must not be called from inside an async task: it blocks the calling thread.
    pub(crate) fn block_on<T, F>(&self, fut: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        self.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().expect("testkit: background runtime stopped")
    }

    /// Runs `fut` on the background runtime and awaits it from any runtime.
    pub(crate) async fn run<T, F>(&self, fut: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.handle
            .spawn(fut)
            .await
            .expect("testkit: background task failed")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // A panic on the server thread was already reported by the panic hook; do not
            // panic again inside a drop.
            let _ = thread.join();
        }
    }
}

/// Calls `ready` each time `changes` ticks until it returns `Some`, or `timeout` passes.
///
/// Each change to the watched state bumps the counter in `changes`, so there is no fixed sleep.
/// Runs on the background runtime, whose clock a test's `tokio::time::pause()` does not stop.
pub(crate) async fn wait_until<T>(
    mut changes: watch::Receiver<u64>,
    timeout: Duration,
    mut ready: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        // Mark the current tick as seen *before* looking, so a change that lands between
        // the look and the wait still wakes us.
        changes.borrow_and_update();
        if let Some(value) = ready() {
            return Some(value);
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => continue,
            // Timed out, or the server is gone: one last look.
            _ => return ready(),
        }
    }
}
