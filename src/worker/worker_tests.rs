use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

struct Counting {
    calls: AtomicU32,
    fail: bool,
}

impl Stage for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn run(&self, _store: &mut Store, _event: &StopEvent) -> Result<serde_json::Value, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            Err("boom".into())
        } else {
            Ok(serde_json::json!({"ok": true}))
        }
    }
}

fn home_with_events(n: usize) -> (tempfile::TempDir, Paths, Store) {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::at(dir.path());
    let store = Store::open(&paths.db()).unwrap();
    for i in 0..n {
        store
            .conn()
            .execute(
                "INSERT INTO stop_events (host, session_id, payload, received_at) \
                 VALUES ('codex', ?1, '{}', 't')",
                [format!("s{i}")],
            )
            .unwrap();
    }
    (dir, paths, store)
}

fn statuses(store: &Store) -> Vec<(String, i64)> {
    let mut stmt = store
        .conn()
        .prepare("SELECT status, attempts FROM stop_events ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn every_pending_event_is_processed_once_with_a_receipt() {
    let (_dir, paths, mut store) = home_with_events(3);
    let stage = Counting {
        calls: AtomicU32::new(0),
        fail: false,
    };
    let report = run(&paths, &mut store, &[&stage], None).unwrap();
    assert_eq!(report.processed, 3);
    assert_eq!(stage.calls.load(Ordering::SeqCst), 3);
    assert!(statuses(&store).iter().all(|(s, a)| s == "done" && *a == 1));
    let receipts: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM receipts WHERE kind = 'worker' AND status = 'ok'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(receipts, 3);
    // A second run finds nothing to do.
    let again = run(&paths, &mut store, &[&stage], None).unwrap();
    assert_eq!(again.processed, 0);
    assert_eq!(stage.calls.load(Ordering::SeqCst), 3);
}

#[test]
fn a_failing_stage_is_retried_until_max_attempts_then_failed() {
    let (_dir, paths, mut store) = home_with_events(1);
    let stage = Counting {
        calls: AtomicU32::new(0),
        fail: true,
    };
    // One run spends every attempt, but spaced: after the first failure it waits the retry
    // delay, then four times as long.
    let delay = std::time::Duration::from_millis(40);
    let options = RunOptions {
        max_events: None,
        failpoint: None,
        retry_delay: delay,
    };
    let started = std::time::Instant::now();
    let report = run_with(&paths, &mut store, &[&stage], &options).unwrap();
    assert!(started.elapsed() >= delay * 5, "{:?}", started.elapsed());
    assert_eq!(report.failed, MAX_ATTEMPTS as u32);
    assert_eq!(statuses(&store), [("failed".to_owned(), MAX_ATTEMPTS)]);
    for _ in 0..5 {
        run(&paths, &mut store, &[&stage], Some(1)).unwrap();
    }
    assert_eq!(statuses(&store), [("failed".to_owned(), MAX_ATTEMPTS)]);
    assert_eq!(stage.calls.load(Ordering::SeqCst), MAX_ATTEMPTS as u32);
    let error: String = store
        .conn()
        .query_row("SELECT error FROM stop_events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(error, "counting: boom");
}

/// Fails every event and, at the second attempt of each of its first `arrivals` events,
/// records a new Stop (as hooks do while a worker runs), so that new events keep arriving
/// while earlier ones wait; notes when each event was tried.
struct FailingWhileStopsArrive {
    arrivals: u32,
    calls: AtomicU32,
    tried: std::sync::Mutex<Vec<(i64, std::time::Instant)>>,
}

impl Stage for FailingWhileStopsArrive {
    fn name(&self) -> &'static str {
        "failing"
    }
    fn run(&self, store: &mut Store, event: &StopEvent) -> Result<serde_json::Value, String> {
        self.tried
            .lock()
            .unwrap()
            .push((event.id, std::time::Instant::now()));
        if event.attempts == 2 && self.calls.fetch_add(1, Ordering::SeqCst) < self.arrivals {
            store
                .conn()
                .execute(
                    "INSERT INTO stop_events (host, session_id, payload, received_at) \
                     VALUES ('codex', ?1, '{}', 't')",
                    [format!("late{}", event.id)],
                )
                .unwrap();
        }
        Err("boom".into())
    }
}

#[test]
fn retry_waits_are_per_event_and_never_grow_past_four_times_the_delay() {
    let base = std::time::Duration::from_millis(100);
    assert_eq!(retry_wait(base, 1), base);
    assert_eq!(retry_wait(base, 2), base * 4);
    assert_eq!(retry_wait(base, 7), base * 4);
    assert_eq!(retry_wait(base, 0), base);
}

#[test]
fn failures_of_earlier_events_never_make_a_later_one_wait_longer() {
    // A run of failing events while new Stops keep arriving: each event waits the delay, then
    // four times it, whatever failed before it (the waits once grew fourfold per round for
    // every event, 1 s, 4 s, 16 s, 64 s…, and held up the Stops behind them).
    let (_dir, paths, mut store) = home_with_events(1);
    let stage = FailingWhileStopsArrive {
        arrivals: 4,
        calls: AtomicU32::new(0),
        tried: std::sync::Mutex::default(),
    };
    let delay = std::time::Duration::from_millis(200);
    let options = RunOptions {
        max_events: None,
        failpoint: None,
        retry_delay: delay,
    };
    let report = run_with(&paths, &mut store, &[&stage], &options).unwrap();
    assert_eq!(report.failed, 5 * MAX_ATTEMPTS as u32);
    assert!(
        statuses(&store)
            .iter()
            .all(|(s, a)| s == "failed" && *a == MAX_ATTEMPTS)
    );
    let tried = stage.tried.lock().unwrap().clone();
    let mut per_event: std::collections::BTreeMap<i64, Vec<std::time::Instant>> =
        Default::default();
    for (id, at) in tried {
        per_event.entry(id).or_default().push(at);
    }
    assert_eq!(per_event.len(), 5);
    for (id, times) in &per_event {
        let gaps: Vec<_> = times.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps.len(), 2, "event {id}");
        assert!(
            gaps[0] >= delay && gaps[1] >= delay * 4,
            "event {id}: {gaps:?}"
        );
        // Generous bounds (a loaded machine adds the other events' processing): the old
        // schedule gave the second event 4 and 16 times the delay, the fifth 256 and 1024.
        assert!(
            gaps[0] < delay * 3 + delay / 2 && gaps[1] < delay * 10,
            "event {id}: {gaps:?}"
        );
    }
}

#[test]
fn an_expired_lease_of_a_crashed_worker_is_reclaimed() {
    let (_dir, paths, mut store) = home_with_events(1);
    let claimed = claim_next(&mut store, "dead-worker", "2026-01-01T00:00:00.000Z")
        .unwrap()
        .unwrap();
    assert_eq!(claimed.attempts, 1);
    // Not expired yet at the claim time: nothing to reclaim.
    assert_eq!(
        reclaim_expired(&store, "2026-01-01T00:05:00.000Z").unwrap(),
        0
    );
    let stage = Counting {
        calls: AtomicU32::new(0),
        fail: false,
    };
    let report = run(&paths, &mut store, &[&stage], None).unwrap();
    assert_eq!(report.reclaimed, 1);
    assert_eq!(report.processed, 1);
    assert_eq!(statuses(&store), [("done".to_owned(), 2)]);
}

#[test]
fn a_second_worker_finds_the_lock_taken_and_does_nothing() {
    let (_dir, paths, mut store) = home_with_events(2);
    let held = open_worker_lock(&paths.home).unwrap();
    held.lock().unwrap();
    let stage = Counting {
        calls: AtomicU32::new(0),
        fail: false,
    };
    let report = run(&paths, &mut store, &[&stage], None).unwrap();
    assert!(report.already_running);
    assert_eq!(stage.calls.load(Ordering::SeqCst), 0);
    assert!(crate::hooks::stop::is_worker_running(&paths.home));
    held.unlock().unwrap();
    assert!(!crate::hooks::stop::is_worker_running(&paths.home));
}

#[test]
fn concurrent_claims_from_two_connections_never_take_the_same_event() {
    let (_dir, paths, store) = home_with_events(50);
    drop(store);
    let db = paths.db();
    let handles: Vec<_> = (0..2)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut store = Store::open(&db).unwrap();
                let mut ids = Vec::new();
                while let Some(e) = claim_next(&mut store, &format!("w{w}"), &time::now()).unwrap()
                {
                    ids.push(e.id);
                }
                ids
            })
        })
        .collect();
    let mut all: Vec<i64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (1..=50).collect::<Vec<_>>());
}
