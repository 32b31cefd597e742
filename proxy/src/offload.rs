//! Where CPU-heavy work runs: decompressing a large body, scrubbing a large envelope, an
//! fsync. Shared by the stages; depends on nothing else in the crate.

/// Runs CPU-heavy work (`big`) where it cannot stall the worker's other tasks: in place on a
/// multi-threaded runtime (`block_in_place` hands the worker's queue to another thread),
/// inline elsewhere (single-threaded test runtimes) and for small work, where the hand-over
/// would cost more than it saves.
pub fn offload<R>(big: bool, f: impl FnOnce() -> R) -> R {
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if big && multi {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}
