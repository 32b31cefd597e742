//! Recovery at open: every segment read in order, torn tails cut off, the live jobs (puts
//! without a tombstone) found with their consent facts, oldest first.

use std::collections::{BTreeMap, HashSet};
use std::fs::OpenOptions;
use std::path::Path;

use super::record::{scan, DONE, PREFIX, PUT};
use super::{facts_of, segment_path, Live, Loc, Recovered, Segment, State};
use crate::egress::spool::format;

/// Segment numbers in `dir`, in order.
fn segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut numbers: Vec<u64> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_prefix("wal-")?
                .strip_suffix(".log")?
                .parse()
                .ok()
        })
        .collect();
    numbers.sort_unstable();
    Ok(numbers)
}

/// Reads the log in `dir` into a [`State`]; the active segment is the next number.
pub(super) fn recover(dir: &Path) -> std::io::Result<(State, Recovered)> {
    let numbers = segments(dir)?;
    let mut state = State::default();
    let mut recovered = Recovered::default();
    let mut puts: BTreeMap<u64, Live> = BTreeMap::new();
    let mut done = HashSet::new();
    for &n in &numbers {
        let path = segment_path(dir, n);
        let bytes = std::fs::read(&path)?;
        let found = scan(&bytes);
        let mut size = bytes.len() as u64;
        recovered.torn += found.damaged;
        if let Some(at) = found.torn_at {
            recovered.torn += 1;
            // Cut the torn tail so the bytes are never read again, and appends after a
            // restart never land behind them.
            let f = OpenOptions::new().write(true).open(&path)?;
            f.set_len(at)?;
            f.sync_all()?;
            size = at;
        }
        for r in found.records {
            state.next_id = state.next_id.max(r.id + 1);
            match r.kind {
                PUT => {
                    let start = r.offset as usize + PREFIX + super::record::HEADER;
                    let end = r.offset as usize + r.len as usize;
                    let body = bytes::Bytes::copy_from_slice(&bytes[start..end]);
                    match format::decode(body) {
                        Ok(job) => {
                            let loc = Loc {
                                segment: n,
                                offset: r.offset,
                                len: r.len,
                            };
                            let facts = facts_of(&job);
                            puts.insert(r.id, Live { loc, facts });
                        }
                        // Checksummed but not a job: not this proxy's, never replayed.
                        Err(_) => recovered.corrupt += 1,
                    }
                }
                DONE => {
                    done.insert(r.id);
                }
                _ => {}
            }
        }
        state.segments.insert(
            n,
            Segment {
                bytes: size,
                live: 0,
            },
        );
        state.bytes += size;
    }
    for (id, live) in puts {
        if done.contains(&id) {
            continue;
        }
        if let Some(s) = state.segments.get_mut(&live.loc.segment) {
            s.live += 1;
        }
        state.live.insert(id, live);
        state.backlog.push_back(id);
    }
    recovered.live = state.backlog.len();
    state.active = numbers.last().map_or(0, |n| n + 1);
    Ok((state, recovered))
}
