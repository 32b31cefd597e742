use super::record::{record, DONE};
use super::*;
use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

fn job_of(items: &[(&str, Option<&str>)]) -> Job {
    let mut env = envelope::Envelope::from_header(serde_json::Map::new());
    let mut consent = Vec::new();
    for (payload, company) in items {
        env.push(envelope::Item::new(
            envelope::ItemType::Event,
            bytes::Bytes::from(payload.to_string()),
        ));
        consent.push(scrub::KeptConsent {
            company: company.map(str::to_owned),
            ids_allowed: false,
        });
    }
    Job {
        envelope: env,
        consent,
        upstream: Arc::new("https://abc@h.example/42".parse().expect("dsn")),
        client: None,
        accepted_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        spooled: None,
    }
}

fn job(n: u32) -> Job {
    job_of(&[(&format!("{{\"n\":{n}}}"), Some("7"))])
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn payload(j: &Job) -> String {
    String::from_utf8(j.envelope.items()[0].payload().to_vec()).expect("utf-8")
}

fn segments(d: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(d)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}

/// Every byte of the log, for "is it still on disk" checks.
fn disk(d: &Path) -> String {
    segments(d)
        .iter()
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned())
        .collect()
}

/// Drops the log and waits for its writer to finish (the channel closes).
fn close(wal: Wal) {
    drop(wal);
    std::thread::sleep(Duration::from_millis(50));
}

#[tokio::test]
async fn live_jobs_are_replayed_in_order_after_a_restart() {
    let d = dir("replay");
    let (wal, rec) = Wal::open(&d, 1 << 20, FsyncMode::Batch).expect("open");
    assert_eq!(rec, Recovered::default());
    let ids = [
        wal.append(&job(0)).await.expect("append"),
        wal.append(&job(1)).await.expect("append"),
        wal.append(&job(2)).await.expect("append"),
    ];
    assert_eq!(ids, [0, 1, 2]);
    wal.done(ids[1]);
    close(wal);

    let (wal, rec) = Wal::open(&d, 1 << 20, FsyncMode::Batch).expect("reopen");
    assert_eq!(
        rec,
        Recovered {
            live: 2,
            ..Recovered::default()
        }
    );
    let a = wal.next_deferred().expect("one").expect("loads");
    let b = wal.next_deferred().expect("two").expect("loads");
    assert!(wal.next_deferred().is_none());
    assert_eq!(
        (payload(&a), a.spooled),
        ("{\"n\":0}".to_owned(), Some(Spooled::Record(0)))
    );
    assert_eq!(
        (payload(&b), b.spooled),
        ("{\"n\":2}".to_owned(), Some(Spooled::Record(2)))
    );
    assert_eq!(a.consent[0].company.as_deref(), Some("7"));
    // New ids continue after the old ones.
    assert_eq!(wal.append(&job(3)).await.expect("append"), 3);
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn a_torn_tail_is_cut_off_and_counted_never_replayed() {
    let d = dir("torn");
    let (wal, _) = Wal::open(&d, 1 << 20, FsyncMode::Always).expect("open");
    wal.append(&job(0)).await.expect("append");
    wal.append(&job(1)).await.expect("append");
    close(wal);
    let seg = segments(&d).pop().expect("a segment");
    let good = std::fs::metadata(&seg).expect("meta").len();
    // A crash in the middle of the third record: its first 20 bytes reached the disk.
    let third = record(PUT, 2, &format::encode(&job(2)));
    let mut f = OpenOptions::new().append(true).open(&seg).expect("open");
    f.write_all(&third[..20]).expect("write");
    drop(f);

    let (wal, rec) = Wal::open(&d, 1 << 20, FsyncMode::Always).expect("reopen");
    assert_eq!((rec.live, rec.torn), (2, 1));
    assert_eq!(std::fs::metadata(&seg).expect("meta").len(), good, "cut");
    let first = wal.next_deferred().expect("0").expect("ok");
    assert_eq!(payload(&first), "{\"n\":0}");
    let second = wal.next_deferred().expect("1").expect("ok");
    assert_eq!(payload(&second), "{\"n\":1}");
    assert!(wal.next_deferred().is_none());
    close(wal);

    // A flipped byte inside the second (last) record: the checksum catches it.
    let seg = segments(&d)[0].clone();
    let mut bytes = std::fs::read(&seg).expect("read");
    let last = bytes.len() - 3;
    bytes[last] ^= 0x20;
    std::fs::write(&seg, &bytes).expect("write");
    let (wal, rec) = Wal::open(&d, 1 << 20, FsyncMode::Always).expect("reopen");
    assert_eq!((rec.live, rec.torn), (1, 1));
    let only = wal.next_deferred().expect("0").expect("ok");
    assert_eq!(payload(&only), "{\"n\":0}");
    assert!(wal.next_deferred().is_none());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_record_damaged_between_good_ones_is_skipped_alone() {
    let mut bytes = Vec::new();
    for n in 0..3u64 {
        bytes.extend_from_slice(&record(PUT, n, format!("job {n}").as_bytes()));
    }
    let clean = scan(&bytes);
    assert_eq!(
        (clean.records.len(), clean.damaged, clean.torn_at),
        (3, 0, None)
    );
    // A power loss while the middle put was being erased: half its body is zeros.
    let second = clean.records[1];
    let mid = (second.offset + u64::from(second.len) / 2) as usize;
    bytes[mid..second.offset as usize + second.len as usize].fill(0);
    let found = scan(&bytes);
    let ids: Vec<u64> = found.records.iter().map(|r| r.id).collect();
    assert_eq!((ids, found.damaged, found.torn_at), (vec![0, 2], 1, None));
    // The same damage on the last record is a torn tail: nothing good follows it.
    let cut = &bytes[..second.offset as usize + second.len as usize];
    let found = scan(cut);
    assert_eq!(
        (found.records.len(), found.damaged, found.torn_at),
        (1, 0, Some(second.offset))
    );
}

#[tokio::test]
async fn full_log_refuses_then_compaction_frees_room() {
    let d = dir("full");
    let one = record(PUT, 0, &format::encode(&job(0))).len() as u64;
    // Room for three records; segments of 4 KiB (the smallest).
    let (wal, _) = Wal::open(&d, 3 * one + 20, FsyncMode::Off).expect("open");
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(wal.append(&job(n)).await.expect("fits"));
    }
    assert!(matches!(wal.append(&job(9)).await, Err(WalError::Full)));
    for id in ids {
        wal.done(id);
    }
    // The tombstones need room too: the log is over its cap until a rotation, so wait for
    // the writer to rotate and compact (it does so before the next batch).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match wal.append(&job(4)).await {
            Ok(_) => break,
            Err(WalError::Full) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// The next segment is `/dev/full` (every write fails with `ENOSPC`): the append that
/// meets it is refused with the disk's error, and the log goes on in a fresh segment.
#[tokio::test]
async fn a_failed_append_is_refused_and_the_log_goes_on() {
    let d = dir("enospc");
    let one = record(PUT, 0, &format::encode(&job(0))).len() as u64;
    // 4 KiB segments: the first fills after a few records, then rotates into the trap.
    let (wal, _) = Wal::open(&d, 32 << 10, FsyncMode::Batch).expect("open");
    std::os::unix::fs::symlink("/dev/full", segment_path(&d, 1)).expect("symlink");
    let mut acked = Vec::new();
    let mut refused = Vec::new();
    for n in 0..(4096 / one as u32 + 4) {
        match wal.append(&job(n)).await {
            Ok(_) => acked.push(n),
            Err(WalError::Io(e)) => {
                assert_eq!(e.raw_os_error(), Some(28), "ENOSPC, as the disk said: {e}");
                refused.push(n);
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        refused.len(),
        1,
        "one refusal, then a fresh segment: {refused:?}"
    );
    assert!(
        acked.len() > 4 && acked.contains(&(refused[0] + 1)),
        "{acked:?}"
    );
    close(wal);
    std::fs::remove_file(segment_path(&d, 1)).expect("remove the trap");

    let (wal, rec) = Wal::open(&d, 32 << 10, FsyncMode::Batch).expect("reopen");
    assert_eq!((rec.live, rec.torn, rec.corrupt), (acked.len(), 0, 0));
    let mut replayed = Vec::new();
    while let Some(j) = wal.next_deferred() {
        replayed.push(payload(&j.expect("loads")));
    }
    let want: Vec<String> = acked.iter().map(|n| format!("{{\"n\":{n}}}")).collect();
    assert_eq!(replayed, want, "every acknowledged job, none refused");
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn revocation_erases_whole_jobs_and_rewrites_mixed_ones() {
    let d = dir("revoke");
    let (wal, _) = Wal::open(&d, 1 << 20, FsyncMode::Batch).expect("open");
    let seven = wal
        .append(&job_of(&[("{\"canary\":\"SEVEN-A\"}", Some("7"))]))
        .await
        .expect("append");
    let eight = wal
        .append(&job_of(&[("{\"canary\":\"EIGHT-A\"}", Some("8"))]))
        .await
        .expect("append");
    let mixed = job_of(&[
        ("{\"canary\":\"SEVEN-B\"}", Some("7")),
        ("{\"canary\":\"NOBODY\"}", None),
    ]);
    let mixed = wal.append(&mixed).await.expect("append");
    // Company 7 withdraws; unattributed items may still leave.
    let keep = |c: Option<&str>, _ids: bool| c != Some("7");
    let revoked = wal.revoke(None, keep).await;
    assert_eq!(revoked.jobs, 2);
    assert_eq!(revoked.items, BTreeMap::from([("event", 2)]));
    let text = disk(&d);
    assert!(!text.contains("SEVEN"), "revoked bytes left on disk");
    assert!(text.contains("EIGHT-A") && text.contains("NOBODY"));
    // Copies in memory learn what became of their jobs; nothing is counted twice.
    assert_eq!(wal.revoke(Some(seven), keep).await, Revoked::default());
    assert_eq!(wal.resolve(seven), Resolved::Gone);
    assert_eq!(wal.resolve(eight), Resolved::Same);
    let Resolved::Moved(new) = wal.resolve(mixed) else {
        panic!("the mixed job is rewritten");
    };
    let rewritten = wal.load(new).expect("loads");
    assert_eq!(payload(&rewritten), "{\"canary\":\"NOBODY\"}");
    assert_eq!(rewritten.consent.len(), 1);
    assert_eq!(wal.live(), 2);
    close(wal);

    let (wal, rec) = Wal::open(&d, 1 << 20, FsyncMode::Batch).expect("reopen");
    assert_eq!((rec.live, rec.torn, rec.corrupt), (2, 0, 0));
    let a = wal.next_deferred().expect("eight").expect("loads");
    let b = wal.next_deferred().expect("rewritten").expect("loads");
    assert!(wal.next_deferred().is_none());
    assert_eq!(
        (payload(&a), payload(&b)),
        (
            "{\"canary\":\"EIGHT-A\"}".to_owned(),
            "{\"canary\":\"NOBODY\"}".to_owned()
        )
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn a_revoked_job_waiting_on_disk_leaves_the_backlog() {
    let d = dir("revoke-backlog");
    let (wal, _) = Wal::open(&d, 1 << 20, FsyncMode::Off).expect("open");
    for (n, company) in ["7", "8", "7"].iter().enumerate() {
        let id = wal
            .append(&job_of(&[(&format!("{{\"n\":{n}}}"), Some(company))]))
            .await
            .expect("append");
        wal.defer(id);
    }
    let revoked = wal.revoke(None, |c, _| c != Some("7")).await;
    assert_eq!((revoked.jobs, wal.deferred(), wal.live()), (2, 1, 1));
    let left = wal.next_deferred().expect("one").expect("loads");
    assert_eq!(payload(&left), "{\"n\":1}");
    assert!(wal.next_deferred().is_none());
    let _ = std::fs::remove_dir_all(&d);
}

/// The put written straight into its record is byte for byte the record of the job's
/// encoding (the format every earlier log was written in), under any id.
#[test]
fn a_put_record_is_the_record_of_the_encoded_job() {
    let mut j = job_of(&[("{\"n\":1}", Some("7")), ("{\"n\":2}", None)]);
    j.client = Some("sentry.python/2.75.0 \"quoted\"".into());
    for id in [0, 1, 0x0102_0304_0506_0708] {
        let mut put = record::put_record(&j);
        record::set_id(&mut put, id);
        assert_eq!(put, record(PUT, id, &format::encode(&j)));
    }
    let mut tombstone = Vec::new();
    record::push_done(&mut tombstone, 42);
    assert_eq!(tombstone, record(DONE, 42, &[]));
}

/// A job done leaves the live set at once, and its tombstone reaches the file without any
/// further put to ride with (the writer's tick), so a restart does not replay it.
#[tokio::test]
async fn a_tombstone_is_written_without_a_put_to_carry_it() {
    let d = dir("tick");
    let (wal, _) = Wal::open(&d, 1 << 20, FsyncMode::Batch).expect("open");
    let id = wal.append(&job(0)).await.expect("append");
    let seg = segments(&d).pop().expect("a segment");
    let with_put = std::fs::metadata(&seg).expect("meta").len();
    wal.done(id);
    assert_eq!(wal.live(), 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::fs::metadata(&seg).expect("meta").len() == with_put {
        assert!(std::time::Instant::now() < deadline, "no tombstone written");
        std::thread::sleep(Duration::from_millis(10));
    }
    let found = scan(&std::fs::read(&seg).expect("read"));
    let kinds: Vec<(u8, u64)> = found.records.iter().map(|r| (r.kind, r.id)).collect();
    assert_eq!(kinds, vec![(PUT, id), (DONE, id)]);
    close(wal);
    let (_wal, rec) = Wal::open(&d, 1 << 20, FsyncMode::Batch).expect("reopen");
    assert_eq!(rec.live, 0);
    let _ = std::fs::remove_dir_all(&d);
}
