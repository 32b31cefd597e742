//! The trace map's rules and bounds, with the time set by the test (no sleeps).

use std::time::{Duration, Instant};

use scrub::{Learned, TraceCompany, TraceId};

use super::{Changes, TraceMap, TraceMapSettings, MAX_COMPANY_LEN};

fn trace(n: u128) -> TraceId {
    TraceId(n)
}

fn map(max_entries: usize, ttl_secs: u64) -> TraceMap {
    TraceMap::new(TraceMapSettings {
        max_entries,
        ttl: Duration::from_secs(ttl_secs),
    })
}

fn company(c: &str) -> TraceCompany {
    TraceCompany::Company(c.to_owned())
}

const NONE: Changes = Changes {
    evicted: 0,
    expired: 0,
};

#[test]
fn a_learned_trace_is_found_until_its_ttl_passes() {
    let t0 = Instant::now();
    let m = map(10, 300);
    assert_eq!(m.learn(trace(1), Learned::Company("4711"), t0), NONE);
    assert_eq!(m.lookup(trace(1), t0), (company("4711"), NONE));
    let just_before = t0 + Duration::from_secs(299);
    assert_eq!(m.lookup(trace(1), just_before), (company("4711"), NONE));
    assert_eq!(
        m.lookup(trace(2), just_before),
        (TraceCompany::Unknown, NONE)
    );
    let at_ttl = t0 + Duration::from_secs(300);
    assert_eq!(
        m.lookup(trace(1), at_ttl),
        (
            TraceCompany::Unknown,
            Changes {
                evicted: 0,
                expired: 1
            }
        )
    );
    assert!(m.is_empty());
}

#[test]
fn an_entry_lives_its_ttl_from_the_first_learning() {
    let t0 = Instant::now();
    let m = map(10, 300);
    m.learn(trace(1), Learned::Company("4711"), t0);
    m.learn(
        trace(2),
        Learned::Company("12"),
        t0 + Duration::from_secs(100),
    );
    // The same company again is no news: trace 1 still expires at 300.
    m.learn(
        trace(1),
        Learned::Company("4711"),
        t0 + Duration::from_secs(200),
    );
    let t350 = t0 + Duration::from_secs(350);
    assert_eq!(
        m.lookup(trace(1), t350),
        (
            TraceCompany::Unknown,
            Changes {
                evicted: 0,
                expired: 1
            }
        )
    );
    assert_eq!(m.lookup(trace(2), t350), (company("12"), NONE));
    assert_eq!(m.len(), 1);
}

#[test]
fn a_second_company_makes_the_trace_ambiguous_for_good() {
    let t0 = Instant::now();
    let m = map(10, 300);
    m.learn(trace(1), Learned::Company("7"), t0);
    m.learn(trace(1), Learned::Company("8"), t0);
    assert_eq!(m.lookup(trace(1), t0), (TraceCompany::Ambiguous, NONE));
    // The first company again does not make it one company's.
    m.learn(trace(1), Learned::Company("7"), t0);
    assert_eq!(m.lookup(trace(1), t0), (TraceCompany::Ambiguous, NONE));
    m.learn(trace(2), Learned::Ambiguous, t0);
    assert_eq!(m.lookup(trace(2), t0), (TraceCompany::Ambiguous, NONE));
    assert_eq!(m.len(), 2);
}

#[test]
fn the_oldest_trace_is_evicted_past_max_entries() {
    let t0 = Instant::now();
    let m = map(3, 300);
    for n in 1..=3 {
        assert_eq!(m.learn(trace(n), Learned::Company("7"), t0), NONE);
    }
    assert_eq!(
        m.learn(trace(4), Learned::Company("8"), t0),
        Changes {
            evicted: 1,
            expired: 0
        }
    );
    assert_eq!(m.len(), 3);
    assert_eq!(m.lookup(trace(1), t0).0, TraceCompany::Unknown);
    for (n, c) in [(2, "7"), (3, "7"), (4, "8")] {
        assert_eq!(m.lookup(trace(n), t0).0, company(c), "trace {n}");
    }
    // Company "7" is still named by two entries, "8" by one: evicting them all frees both.
    for n in 5..=7 {
        m.learn(trace(n), Learned::Company("9"), t0);
    }
    assert_eq!(m.lookup(trace(4), t0).0, TraceCompany::Unknown);
    assert_eq!(m.lookup(trace(7), t0).0, company("9"));
}

#[test]
fn expired_entries_go_before_live_ones_are_evicted() {
    let t0 = Instant::now();
    let m = map(2, 60);
    m.learn(trace(1), Learned::Company("7"), t0);
    m.learn(
        trace(2),
        Learned::Company("7"),
        t0 + Duration::from_secs(30),
    );
    // At 61 s trace 1 has expired: learning trace 3 removes it, evicts nothing.
    let later = t0 + Duration::from_secs(61);
    assert_eq!(
        m.learn(trace(3), Learned::Company("9"), later),
        Changes {
            evicted: 0,
            expired: 1
        }
    );
    assert_eq!(m.lookup(trace(2), later).0, company("7"));
    assert_eq!(m.lookup(trace(3), later).0, company("9"));
}

#[test]
fn an_expired_trace_learned_again_starts_afresh() {
    let t0 = Instant::now();
    let m = map(10, 60);
    m.learn(trace(1), Learned::Company("7"), t0);
    let later = t0 + Duration::from_secs(120);
    m.learn(trace(1), Learned::Company("8"), later);
    assert_eq!(m.lookup(trace(1), later).0, company("8"));
}

#[test]
fn zero_entries_turns_the_map_off_and_long_ids_are_not_kept() {
    let t0 = Instant::now();
    let off = map(0, 300);
    off.learn(trace(1), Learned::Company("7"), t0);
    assert_eq!(off.lookup(trace(1), t0).0, TraceCompany::Unknown);
    assert!(off.is_empty());
    let m = map(10, 300);
    let long = "7".repeat(MAX_COMPANY_LEN + 1);
    m.learn(trace(1), Learned::Company(&long), t0);
    assert!(m.is_empty());
    let longest = "7".repeat(MAX_COMPANY_LEN);
    m.learn(trace(1), Learned::Company(&longest), t0);
    assert_eq!(m.lookup(trace(1), t0).0, company(&longest));
}

/// Not a test of behaviour: prints the resident memory of a full default-sized map, the
/// figure docs/operations.md gives. Run with `--ignored --nocapture`.
#[test]
#[ignore]
#[allow(clippy::print_stdout)] // its output is the measurement
fn memory_of_a_full_map() {
    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        (status.lines())
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
    let settings = TraceMapSettings::default();
    let before = rss_kib();
    let m = TraceMap::new(settings);
    let t0 = Instant::now();
    for n in 0..settings.max_entries as u128 * 2 {
        // Ids of 4 to 6 digits, as the consent documents of the trials have.
        let c = (n % 5000 + 1000).to_string();
        m.learn(trace(n + 1), Learned::Company(&c), t0);
    }
    let after = rss_kib();
    let per_entry = (after - before) * 1024 / m.len() as u64;
    println!(
        "{} entries: {} KiB resident, {per_entry} bytes per entry",
        m.len(),
        after - before
    );
}
