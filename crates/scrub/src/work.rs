//! Bounded work: what scrubbing a request may cost, counted without a clock.
//!
//! Every rule that scans text (the detectors' prefilter and validators, the normalisers,
//! the exception-message catalog, the code vocabulary) counts the bytes it examines with
//! `charge`. The count is a deterministic measure of CPU work: the same input costs the
//! same units on any machine and under any load, so tests can assert that the cost per byte
//! does not grow with the input (`tests/bounded_work.rs`) and a request can be given a
//! budget without reading a clock.
//!
//! The budget is a multiple of the request's size ([`WorkBudget`]). Once a request has used
//! it, every free-text string not yet judged becomes [`crate::FILTERED`], with a
//! `@budget:replace` remark in `_meta`; the structure (keys, ids, timings, frames' lines)
//! still leaves. The budget only makes the output stricter: nothing that a rule would have
//! removed can leave because judging stopped.
//!
//! The counter is per thread: `scrub_envelope` runs on one thread from start to end and
//! reads the counter's difference, so concurrent requests on other threads do not mix.

use std::cell::Cell;

thread_local! {
    /// Units counted on this thread since it started (wraps after 2^64, never in practice).
    static UNITS: Cell<u64> = const { Cell::new(0) };
}

/// Counts `n` units of work: `n` bytes examined by a rule.
#[inline]
pub(crate) fn charge(n: usize) {
    UNITS.with(|c| c.set(c.get().wrapping_add(n as u64)));
}

/// The units counted on this thread so far.
#[inline]
pub(crate) fn units() -> u64 {
    UNITS.with(Cell::get)
}

/// How much work one request may cost: `per_byte` units for each byte of its items'
/// payloads, and at least `floor` units.
///
/// The default is far above what a legitimate envelope costs (see `docs/robustness.md`,
/// "Bounded work": the golden fixtures cost a few units per byte, the worst of them well
/// under 16), and every rule is linear in its input, so a hostile request costs at most
/// about `per_byte` times its size before its remaining free text is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkBudget {
    /// Units allowed per byte of item payload.
    pub per_byte: u64,
    /// Units allowed whatever the size (small envelopes with long exception messages).
    pub floor: u64,
}

impl Default for WorkBudget {
    fn default() -> Self {
        WorkBudget {
            per_byte: 64,
            floor: 4 << 20,
        }
    }
}

impl WorkBudget {
    /// No budget: every string is judged whatever it costs (for measurements and tests).
    pub const UNLIMITED: WorkBudget = WorkBudget {
        per_byte: u64::MAX,
        floor: u64::MAX,
    };

    /// The units allowed for a request whose items' payloads hold `bytes` bytes.
    pub fn limit(&self, bytes: usize) -> u64 {
        self.per_byte.saturating_mul(bytes as u64).max(self.floor)
    }
}

/// One request's meter: the counter's value when it started and the units it may use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meter {
    start: u64,
    limit: u64,
}

impl Meter {
    /// Starts metering a request allowed `limit` units.
    pub(crate) fn start(limit: u64) -> Meter {
        Meter {
            start: units(),
            limit,
        }
    }

    /// Units used since the start.
    pub(crate) fn used(&self) -> u64 {
        units().wrapping_sub(self.start)
    }

    /// Whether the request has used its budget.
    pub(crate) fn spent(&self) -> bool {
        self.used() > self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meter_counts_what_this_thread_charges() {
        let m = Meter::start(10);
        charge(7);
        assert_eq!(m.used(), 7);
        assert!(!m.spent());
        charge(4);
        assert_eq!(m.used(), 11);
        assert!(m.spent());
        // Another thread's work is not this request's.
        std::thread::spawn(|| charge(1000)).join().unwrap();
        assert_eq!(m.used(), 11);
    }

    #[test]
    fn the_limit_is_a_multiple_of_the_size_with_a_floor() {
        let b = WorkBudget {
            per_byte: 8,
            floor: 100,
        };
        assert_eq!(b.limit(0), 100);
        assert_eq!(b.limit(1000), 8000);
        assert_eq!(WorkBudget::UNLIMITED.limit(1 << 30), u64::MAX);
    }
}
