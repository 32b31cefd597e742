//! Revocation: when consent is withdrawn, the live jobs it concerns are erased from the
//! disk, not just skipped at the next send.
//!
//! The log is the one place that decides and counts: a job whose items may all no longer
//! leave is taken out of the live set and its put overwritten in place by a tombstone of the
//! same size (its bytes become zeros); a job that keeps some items is appended again without
//! the others, under a new id, before the old put is erased. Each erased item is counted
//! once, by whoever asked (a sweep after a consent change, or a sender's re-check): the
//! other finds it gone. One revocation runs at a time.
//!
//! A copy of the job may be in memory (queue, sender, replayer) while this happens; its
//! holder asks [`Wal::resolve`] before sending: gone (drop it, already counted), moved
//! (load the rewritten job), or the same.

use std::collections::{BTreeMap, HashSet};

use super::record::erased;
use super::{Loc, Op, Wal};
use crate::keep::retain_mask;

/// What a revocation erased.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// Jobs erased or rewritten.
    pub jobs: usize,
    /// Items erased, by item type label.
    pub items: BTreeMap<&'static str, u64>,
}

/// What became of a job that a copy in memory names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// Still live under this id.
    Same,
    /// Erased by a revocation (already counted): drop the copy.
    Gone,
    /// Rewritten without its revoked items under this id: load it instead of the copy.
    Moved(u64),
}

impl Wal {
    /// Erases what `keep(company, ids_kept)` no longer lets leave, from one job (`only`, the
    /// id a copy in memory names) or from every live job. Returns what it erased.
    pub async fn revoke(
        &self,
        only: Option<u64>,
        keep: impl Fn(Option<&str>, bool) -> bool,
    ) -> Revoked {
        let _one = self.revoking.lock().await;
        let mut out = Revoked::default();
        let mut whole: Vec<(u64, Loc)> = Vec::new();
        let mut partial: Vec<(u64, Vec<bool>)> = Vec::new();
        {
            let mut st = self.lock();
            let ids: Vec<u64> = match only {
                Some(id) => vec![st.moved.get(&id).copied().unwrap_or(id)],
                None => st.live.keys().copied().collect(),
            };
            for id in ids {
                let Some(live) = st.live.get(&id) else {
                    continue;
                };
                let mask: Vec<bool> = (live.facts.iter())
                    .map(|f| keep(f.company.as_deref(), f.ids))
                    .collect();
                if mask.iter().all(|k| *k) {
                    continue;
                }
                if mask.iter().any(|k| *k) {
                    partial.push((id, mask));
                    continue;
                }
                let Some(live) = st.live.remove(&id) else {
                    continue;
                };
                if let Some(s) = st.segments.get_mut(&live.loc.segment) {
                    s.live = s.live.saturating_sub(1);
                }
                for f in live.facts.iter() {
                    *out.items.entry(f.ty).or_insert(0) += 1;
                }
                out.jobs += 1;
                whole.push((id, live.loc));
            }
            if !whole.is_empty() {
                let gone: HashSet<u64> = whole.iter().map(|(id, _)| *id).collect();
                st.backlog.retain(|id| !gone.contains(id));
            }
        }
        let mut erasing = Vec::with_capacity(whole.len() + partial.len());
        for (id, loc) in whole {
            erasing.extend(self.erase(id, loc));
        }
        for (id, mask) in partial {
            erasing.extend(self.rewrite(id, &mask, &mut out).await);
        }
        // Answered once the tombstones are on disk: what is reported erased is.
        for wait in erasing {
            let _ = wait.await;
        }
        out
    }

    /// Asks the writer to overwrite a put in place; the receiver answers once it is done.
    fn erase(&self, id: u64, loc: Loc) -> Option<tokio::sync::oneshot::Receiver<bool>> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let record = erased(id, loc.len);
        self.send(Op::Erase { loc, record, reply }).ok()?;
        Some(rx)
    }

    /// Appends the job again with only the items `mask` keeps, then erases the old put. If
    /// the new put cannot be written, the job stays whole on disk and its revoked items are
    /// dropped by the re-check before any send.
    async fn rewrite(
        &self,
        id: u64,
        mask: &[bool],
        out: &mut Revoked,
    ) -> Option<tokio::sync::oneshot::Receiver<bool>> {
        let loc = self.lock().live.get(&id).map(|l| l.loc)?;
        let mut job = match crate::offload::offload(true, || self.read(id, loc)) {
            Ok(job) => job,
            Err(e) => {
                tracing::warn!(error = %e, "spool: a job to rewrite after a revocation does not load");
                return None;
            }
        };
        retain_mask(job.envelope.items_mut(), &mut job.consent, mask);
        let new = match self.append(&job).await {
            Ok(new) => new,
            Err(e) => {
                tracing::warn!(error = %e, "spool: could not rewrite a job without its revoked items; they are dropped before any send");
                return None;
            }
        };
        let mut st = self.lock();
        let Some(old) = st.live.remove(&id) else {
            // Done meanwhile (its holder finished it): the rewrite has no one to serve.
            drop(st);
            self.done(new);
            return self.erase(id, loc);
        };
        if let Some(s) = st.segments.get_mut(&old.loc.segment) {
            s.live = s.live.saturating_sub(1);
        }
        for (f, k) in old.facts.iter().zip(mask) {
            if !k {
                *out.items.entry(f.ty).or_insert(0) += 1;
            }
        }
        out.jobs += 1;
        if let Some(pos) = st.backlog.iter().position(|b| *b == id) {
            st.backlog[pos] = new;
        } else {
            // A copy in memory names `id`, directly or through an earlier rewrite.
            let mut redirected = false;
            for to in st.moved.values_mut() {
                if *to == id {
                    *to = new;
                    redirected = true;
                }
            }
            if !redirected {
                st.moved.insert(id, new);
            }
        }
        drop(st);
        self.erase(id, old.loc)
    }

    /// What became of the job a copy in memory names: the same, gone, or moved. A moved
    /// job's holder loads it with [`Wal::load`] and names the new id from then on.
    pub fn resolve(&self, id: u64) -> Resolved {
        let mut st = self.lock();
        if let Some(new) = st.moved.remove(&id) {
            return match st.live.contains_key(&new) {
                true => Resolved::Moved(new),
                false => Resolved::Gone,
            };
        }
        match st.live.contains_key(&id) {
            true => Resolved::Same,
            false => Resolved::Gone,
        }
    }
}
