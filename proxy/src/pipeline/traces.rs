//! The trace map: which company each recent trace belongs to, so that an item of a later
//! envelope of the same trace that names no company is attributed to it (attribution rule
//! (c), docs/consent.md). sentry-sdk 3.x sends a request's error event and its spans as
//! separate requests, and a long request's early spans before its segment ends.
//!
//! Learned only from items that name their company by their own value (a tag or an
//! attribute), never from what the map itself or a sibling attributed; an item's own
//! company always wins over the map. A trace learned with two different companies is
//! remembered as ambiguous: its unattributed items are dropped (`ambiguous_company`).
//!
//! Bounded: at most `max_entries` traces (the oldest is evicted first), each for `ttl`
//! after it was first learned; about 120 bytes per entry, company ids stored once
//! (docs/operations.md). The time is passed in: the pipeline reads the clock, tests set it.
//!
//! It is this replica's memory only: with several replicas behind one Service, a later
//! envelope of a trace may reach a replica that never saw it. Only rule (a), the attribute
//! on the item itself, holds across replicas.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use scrub::{Learned, TraceCompany, TraceId};

/// Company ids longer than this are not remembered (the entry's size stays bounded); items
/// of such a trace are attributed by their own value or in their own envelope only.
pub const MAX_COMPANY_LEN: usize = 128;

/// The map's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceMapSettings {
    /// Most traces remembered; 0 turns the map off.
    pub max_entries: usize,
    /// How long a trace is remembered after it was first learned.
    pub ttl: Duration,
}

impl Default for TraceMapSettings {
    fn default() -> Self {
        TraceMapSettings {
            max_entries: 100_000,
            ttl: Duration::from_secs(300),
        }
    }
}

/// What a lookup or a learning did to the map, for the metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Changes {
    /// Entries evicted to stay under `max_entries`.
    pub evicted: u64,
    /// Entries removed because their `ttl` had passed.
    pub expired: u64,
}

/// The map. One per process, shared by every request.
#[derive(Debug)]
pub struct TraceMap {
    settings: TraceMapSettings,
    // A std mutex: held for a few map operations, never across an await.
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Times are kept as milliseconds since the first time the map was given (8 bytes
    /// instead of 16); a time before it (a racing thread's) counts as it.
    epoch: Option<Instant>,
    by_trace: HashMap<u128, Entry>,
    /// Traces in the order they were first learned: the oldest is evicted first, and since
    /// an entry's age counts from its first learning, it also expires first.
    order: VecDeque<u128>,
    companies: Companies,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// An interned company id, or [`AMBIGUOUS`] once two companies were learned.
    company: u32,
    /// Milliseconds since the map's epoch.
    learned: u64,
}

/// The entry of a trace that two companies were learned for.
const AMBIGUOUS: u32 = u32::MAX;

impl TraceMap {
    /// An empty map.
    pub fn new(settings: TraceMapSettings) -> TraceMap {
        TraceMap {
            settings,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Remembers what an item of `trace` said of its company at `now`. The same company
    /// again changes nothing (an entry lives `ttl` from its first learning: a trace is a
    /// request, and the map is for the envelopes that follow it closely); another one
    /// makes the trace ambiguous for good.
    pub fn learn(&self, trace: TraceId, what: Learned<'_>, now: Instant) -> Changes {
        if self.settings.max_entries == 0 {
            return Changes::default();
        }
        if matches!(what, Learned::Company(c) if c.len() > MAX_COMPANY_LEN) {
            return Changes::default();
        }
        let mut guard = self.lock();
        let st = &mut *guard;
        let now = st.millis(now);
        let mut changes = st.expire(now, self.ttl_ms());
        match st.by_trace.get_mut(&trace.0) {
            Some(e) => {
                let same = match what {
                    Learned::Company(c) => {
                        e.company != AMBIGUOUS && st.companies.name(e.company) == c
                    }
                    Learned::Ambiguous => false,
                };
                if !same && e.company != AMBIGUOUS {
                    st.companies.release(e.company);
                    e.company = AMBIGUOUS;
                }
            }
            None => {
                let company = match what {
                    Learned::Company(c) => st.companies.intern(c),
                    Learned::Ambiguous => AMBIGUOUS,
                };
                st.by_trace.insert(
                    trace.0,
                    Entry {
                        company,
                        learned: now,
                    },
                );
                st.order.push_back(trace.0);
            }
        }
        while st.by_trace.len() > self.settings.max_entries && st.pop_oldest() {
            changes.evicted += 1;
        }
        changes
    }

    /// What the map knows of `trace` at `now` (entries past their `ttl` are removed first).
    pub fn lookup(&self, trace: TraceId, now: Instant) -> (TraceCompany, Changes) {
        let mut guard = self.lock();
        let st = &mut *guard;
        let now = st.millis(now);
        let changes = st.expire(now, self.ttl_ms());
        let found = match st.by_trace.get(&trace.0) {
            Some(e) if e.company == AMBIGUOUS => TraceCompany::Ambiguous,
            Some(e) => TraceCompany::Company(st.companies.name(e.company).to_owned()),
            None => TraceCompany::Unknown,
        };
        (found, changes)
    }

    /// Traces remembered now (some may be past their `ttl` until the next call removes them).
    pub fn len(&self) -> usize {
        self.lock().by_trace.len()
    }

    /// True when no trace is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.settings.ttl.as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn millis(&mut self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_insert(now);
        let ms = now.saturating_duration_since(epoch).as_millis();
        u64::try_from(ms).unwrap_or(u64::MAX)
    }

    /// Removes the oldest entries whose `ttl` has passed; stops at the first still young.
    fn expire(&mut self, now: u64, ttl: u64) -> Changes {
        let mut changes = Changes::default();
        while let Some(trace) = self.order.front() {
            let young =
                (self.by_trace.get(trace)).is_some_and(|e| now.saturating_sub(e.learned) < ttl);
            if young || !self.pop_oldest() {
                break;
            }
            changes.expired += 1;
        }
        changes
    }

    /// Removes the oldest entry; false when there is none.
    fn pop_oldest(&mut self) -> bool {
        let Some(trace) = self.order.pop_front() else {
            return false;
        };
        if let Some(e) = self.by_trace.remove(&trace) {
            if e.company != AMBIGUOUS {
                self.companies.release(e.company);
            }
        }
        true
    }
}

/// Company ids, stored once however many traces name them (a deployment has a handful of
/// companies and many traces). Reference-counted, so an id no entry names is freed.
#[derive(Debug, Default)]
struct Companies {
    ids: HashMap<Box<str>, u32>,
    /// By id: the name and how many entries name it (0: free, reused first).
    names: Vec<(Box<str>, u32)>,
    free: Vec<u32>,
}

impl Companies {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            self.names[*id as usize].1 += 1;
            return *id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.names[id as usize] = (Box::from(name), 1);
                id
            }
            None => {
                // At most `max_entries` ids are live at once, far below u32::MAX.
                let id = u32::try_from(self.names.len()).unwrap_or(AMBIGUOUS - 1);
                self.names.push((Box::from(name), 1));
                id
            }
        };
        self.ids.insert(Box::from(name), id);
        id
    }

    fn release(&mut self, id: u32) {
        let Some((name, refs)) = self.names.get_mut(id as usize) else {
            return;
        };
        *refs = refs.saturating_sub(1);
        if *refs == 0 {
            self.ids.remove(&**name);
            *name = Box::from("");
            self.free.push(id);
        }
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |(n, _)| n)
    }
}

#[cfg(test)]
mod tests;
