//! The background worker: drains recorded Stop events — ingest the transcript delta into the
//! archive, then review and compile — one event at a time, with leases so a crashed worker's
//! claim is picked up again.
//!
//! At most one worker runs per home: it holds an exclusive lock on `<home>/worker.lock` for its
//! whole life (see [`crate::hooks::stop`]). After draining it releases the lock and checks once
//! more for events that arrived in between, so no event waits for the next Stop.
//!
//! Stop-event states: `pending` → `processing` (leased) → `done` | `failed` (after
//! [`MAX_ATTEMPTS`]) ; `skipped` rows are recorded by the hook and never claimed.
//!
//! Crash recovery: a worker only claims events while it holds the lock, and it settles every
//! claim before releasing it. So a `processing` row found by a worker that has just taken the
//! lock belongs to a worker that died (killed, aborted, power loss): it is reclaimed at once
//! ([`reclaim_orphaned`]) instead of waiting for its [`LEASE_SECONDS`] lease to expire. The
//! lease still bounds claims made outside the lock (none today) and is what `csep doctor`
//! reports.

use std::fs::TryLockError;
use std::time::Instant;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::hooks::stop::open_worker_lock;
use crate::store::db::{Store, StoreError, json_ids};
use crate::store::paths::Paths;
use crate::store::time;
use crate::worker::failpoint::Failpoint;

/// Attempts before a stop event is marked `failed`.
pub const MAX_ATTEMPTS: i64 = 3;
/// How long a claim lasts before another worker may take the event over (10 minutes: a review
/// through a slow provider can take minutes).
pub const LEASE_SECONDS: i64 = 600;
/// Times the worker re-takes the lock for events that arrived while it was releasing it. A hook
/// that saw the lock held does not start a worker, so stopping after a few rounds while events
/// keep arriving would strand them until the next Stop; the bound only guards against a bug.
const MAX_ROUNDS: u32 = 10_000;

/// Errors that stop the worker as a whole (per-event failures are recorded on the event).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The lock file could not be opened.
    #[error("cannot open the worker lock {path}: {source}; check that the csep home is writable")]
    Lock {
        /// Lock file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A claimed stop event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopEvent {
    /// Row id.
    pub id: i64,
    /// Host name.
    pub host: String,
    /// Host session id.
    pub session_id: Option<String>,
    /// Host turn id.
    pub turn_id: Option<String>,
    /// Project, when the cwd resolved.
    pub project_id: Option<String>,
    /// Session cwd.
    pub cwd: Option<String>,
    /// Transcript file.
    pub transcript_path: Option<String>,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// What a worker run did.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct WorkerReport {
    /// Another worker held the lock; nothing was done.
    pub already_running: bool,
    /// Events finished.
    pub processed: u32,
    /// Events that failed this time (retried later unless out of attempts).
    pub failed: u32,
    /// Leases of crashed workers taken back.
    pub reclaimed: u32,
    /// Stop events moved from the spool into the database.
    pub unspooled: u32,
    /// SessionStart notes moved from the hook journal into the database.
    pub journal_notes: u32,
    /// Start index files rebuilt ([`crate::memory::start_index`]).
    pub start_index_files: u32,
}

/// One processing step applied to each claimed event, in order (ingest, review, compile).
pub trait Stage {
    /// Short name for receipts.
    fn name(&self) -> &'static str;
    /// Runs the stage; an error fails the event (it is retried until [`MAX_ATTEMPTS`]).
    fn run(&self, store: &mut Store, event: &StopEvent) -> Result<serde_json::Value, String>;
}

/// How a worker run is bounded and (in tests) crashed.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Process at most this many events, then return.
    pub max_events: Option<u32>,
    /// Abort the process at this point (crash-safety tests only; see [`failpoint`]).
    pub failpoint: Option<Failpoint>,
    /// How long a failed event waits before its next attempt in the same run (then four times
    /// as long before the one after: [`retry_wait`]): a transcript not flushed yet, or a
    /// permission fixed meanwhile, gets a real second chance, and the event still ends
    /// `failed` rather than waiting for the next Stop, which for a session's last turn may
    /// never come. Each event keeps its own schedule, so failures of other events never make
    /// a newer one wait longer.
    pub retry_delay: std::time::Duration,
}

/// [`RunOptions::retry_delay`] of the background worker.
pub const RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// How long an event that failed its `attempts`-th attempt waits before the next one: `base`,
/// then four times `base`, never more (an event has [`MAX_ATTEMPTS`], so two waits).
pub fn retry_wait(base: std::time::Duration, attempts: i64) -> std::time::Duration {
    let exponent = u32::try_from((attempts - 1).clamp(0, MAX_ATTEMPTS - 2)).unwrap_or(0);
    base.saturating_mul(4u32.pow(exponent))
}

/// Runs the worker until no pending event is left or `max_events` were handled.
pub fn run(
    paths: &Paths,
    store: &mut Store,
    stages: &[&dyn Stage],
    max_events: Option<u32>,
) -> Result<WorkerReport, WorkerError> {
    run_with(
        paths,
        store,
        stages,
        &RunOptions {
            max_events,
            failpoint: None,
            retry_delay: std::time::Duration::ZERO,
        },
    )
}

/// [`run`] with every option.
pub fn run_with(
    paths: &Paths,
    store: &mut Store,
    stages: &[&dyn Stage],
    options: &RunOptions,
) -> Result<WorkerReport, WorkerError> {
    let max_events = options.max_events;
    let mut report = WorkerReport::default();
    let owner = format!("worker-{}", std::process::id());
    // Events that failed in this run, each with when its next attempt is due
    // ([`retry_wait`]): they wait while the others are processed, instead of spending every
    // attempt at once.
    let mut waiting: Vec<(i64, std::time::Instant)> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let lock = open_worker_lock(&paths.home).map_err(|source| WorkerError::Lock {
            path: crate::hooks::stop::worker_lock_path(&paths.home),
            source,
        })?;
        match lock.try_lock() {
            Ok(()) => stamp_lock(&lock, &owner),
            Err(TryLockError::WouldBlock) => {
                report.already_running = report.processed == 0 && report.failed == 0;
                return Ok(report);
            }
            Err(TryLockError::Error(source)) => {
                return Err(WorkerError::Lock {
                    path: crate::hooks::stop::worker_lock_path(&paths.home),
                    source,
                });
            }
        }
        // Stop events the hooks could not write while the database was busy.
        let spool_stuck = match crate::hooks::stop::drain_spool(paths, store) {
            Ok(drain) => {
                report.unspooled += drain.moved;
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot move spooled stop events yet");
                true
            }
        };
        // SessionStart bookkeeping the hooks left in the journal.
        match crate::hooks::journal::drain(paths, store) {
            Ok(drained) => report.journal_notes += drained.moved,
            Err(e) => tracing::warn!(error = %e, "cannot move hook journal notes yet"),
        }
        report.reclaimed += reclaim_orphaned(store)?;
        loop {
            if max_events.is_some_and(|max| report.processed + report.failed >= max) {
                return Ok(report);
            }
            let now = time::now();
            let instant = std::time::Instant::now();
            waiting.retain(|&(_, due)| due > instant);
            let not_due: Vec<i64> = waiting.iter().map(|&(id, _)| id).collect();
            let Some(event) = claim_next_except(store, &owner, &now, &not_due)? else {
                // Only failed events are left: the first due gets its next attempt after its
                // wait (a new Stop's event is claimed then too).
                let next_due = waiting.iter().map(|&(_, due)| due).min();
                if let Some(due) = next_due.filter(|_| pending_count(store).is_ok_and(|n| n > 0)) {
                    std::thread::sleep(due.saturating_duration_since(instant));
                    continue;
                }
                break;
            };
            match process(store, &event, stages, options.failpoint.as_ref()) {
                Ok(()) => report.processed += 1,
                Err(_) => {
                    report.failed += 1;
                    let due =
                        std::time::Instant::now() + retry_wait(options.retry_delay, event.attempts);
                    waiting.push((event.id, due));
                }
            }
        }
        // SessionStart's start index files that memory changes since removed (usage counted
        // by auto-recall, entries changed outside a compile), and those of new projects.
        match crate::memory::start_index::refresh_now(store.conn(), paths) {
            Ok(built) => report.start_index_files += u32::try_from(built).unwrap_or(u32::MAX),
            Err(e) => tracing::warn!(error = %e, "cannot rebuild the start index yet"),
        }
        let _ = lock.unlock();
        drop(lock);
        // Files spooled while the lock was held by this worker found it running and started
        // none; take them now (unless the database refused this round's drain: the next
        // worker retries).
        if pending_count(store)? == 0
            && (spool_stuck || crate::hooks::stop::spool_files(paths).is_empty())
        {
            break;
        }
    }
    Ok(report)
}

/// Why a worker run failed before it could write a receipt, kept in
/// [`Paths::worker_failure_file`] for `csep status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkerFailure {
    /// When (stored timestamp format).
    pub at: String,
    /// The error, with its causes.
    pub error: String,
}

/// Records that a worker run failed with `error` (best effort: the home may be unwritable).
pub fn record_failure(paths: &Paths, error: &str) {
    let failure = WorkerFailure {
        at: time::now(),
        error: error.to_owned(),
    };
    if let Ok(bytes) = serde_json::to_vec(&failure) {
        let _ = crate::store::fsutil::write_atomic(&paths.worker_failure_file(), &bytes);
    }
}

/// Forgets a recorded failure: this run got through.
pub fn clear_failure(paths: &Paths) {
    let _ = std::fs::remove_file(paths.worker_failure_file());
}

/// The recorded failure of the last worker run, if it failed.
pub fn last_failure(paths: &Paths) -> Option<WorkerFailure> {
    let bytes = std::fs::read(paths.worker_failure_file()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes `<owner> <time>` into the held lock file: its content names the holder and its mtime
/// tells `csep doctor` since when it has been held (a worker stuck for hours shows up there).
fn stamp_lock(mut lock: &std::fs::File, owner: &str) {
    use std::io::{Seek, Write};
    let _ = lock.set_len(0);
    let _ = lock.rewind();
    let _ = writeln!(lock, "{owner} {}", time::now());
}

fn process(
    store: &mut Store,
    event: &StopEvent,
    stages: &[&dyn Stage],
    failpoint: Option<&Failpoint>,
) -> Result<(), String> {
    let started_at = time::now();
    let started = Instant::now();
    let mut details = serde_json::Map::new();
    let mut failure = None;
    for stage in stages {
        failpoint::hit(failpoint, stage.name(), "before");
        match stage.run(store, event) {
            Ok(detail) => {
                failpoint::hit(failpoint, stage.name(), "after");
                details.insert(stage.name().to_owned(), detail);
            }
            Err(e) => {
                failure = Some(format!("{}: {e}", stage.name()));
                break;
            }
        }
    }
    let finished_at = time::now();
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (event_status, receipt_status) = match &failure {
        None => ("done", "ok"),
        Some(_) if event.attempts >= MAX_ATTEMPTS => ("failed", "failed"),
        Some(_) => ("pending", "failed"),
    };
    let conn = store.conn();
    let _ = conn.execute(
        "UPDATE stop_events SET status = ?2, processed_at = ?3, error = ?4, lease_owner = NULL, \
         lease_expires_at = NULL WHERE id = ?1",
        params![event.id, event_status, finished_at, failure],
    );
    let _ = conn.execute(
        "INSERT INTO receipts (kind, project_id, session_id, status, reason, started_at, \
         finished_at, duration_ms, detail) VALUES ('worker', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            event.project_id,
            event.session_id,
            receipt_status,
            failure,
            started_at,
            finished_at,
            duration_ms,
            serde_json::Value::Object(details).to_string()
        ],
    );
    failure.map_or(Ok(()), Err)
}

/// Claims the oldest pending event atomically (`BEGIN IMMEDIATE`), leasing it to `owner`.
pub fn claim_next(
    store: &mut Store,
    owner: &str,
    now: &str,
) -> Result<Option<StopEvent>, StoreError> {
    claim_next_except(store, owner, now, &[])
}

/// [`claim_next`], passing over the events `except` names.
pub fn claim_next_except(
    store: &mut Store,
    owner: &str,
    now: &str,
    except: &[i64],
) -> Result<Option<StopEvent>, StoreError> {
    let path = store.path().to_path_buf();
    let err = |source| StoreError::Sqlite {
        path: path.clone(),
        source,
    };
    let expires = lease_expiry(now);
    let tx = store
        .conn_mut()
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    let event = tx
        .query_row(
            "UPDATE stop_events SET status = 'processing', attempts = attempts + 1, \
             lease_owner = ?1, lease_expires_at = ?2 \
             WHERE id = (SELECT id FROM stop_events WHERE status = 'pending' \
             AND id NOT IN (SELECT value FROM json_each(?3)) ORDER BY id LIMIT 1) \
             RETURNING id, host, session_id, turn_id, project_id, cwd, transcript_path, attempts",
            params![owner, expires, json_ids(except)],
            |r| {
                Ok(StopEvent {
                    id: r.get(0)?,
                    host: r.get(1)?,
                    session_id: r.get(2)?,
                    turn_id: r.get(3)?,
                    project_id: r.get(4)?,
                    cwd: r.get(5)?,
                    transcript_path: r.get(6)?,
                    attempts: r.get(7)?,
                })
            },
        )
        .optional()
        .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(event)
}

/// Returns expired `processing` claims to `pending` (or `failed` when out of attempts).
pub fn reclaim_expired(store: &Store, now: &str) -> Result<u32, StoreError> {
    let err = |source| StoreError::Sqlite {
        path: store.path().to_path_buf(),
        source,
    };
    let n = store
        .conn()
        .execute(
            "UPDATE stop_events SET \
             status = CASE WHEN attempts >= ?2 THEN 'failed' ELSE 'pending' END, \
             error = coalesce(error, 'lease expired (worker crashed or was killed)'), \
             lease_owner = NULL, lease_expires_at = NULL \
             WHERE status = 'processing' AND lease_expires_at < ?1",
            params![now, MAX_ATTEMPTS],
        )
        .map_err(err)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Returns every `processing` claim to `pending` (or `failed` when out of attempts). Only
/// called by a worker holding the lock: no live worker can own such a claim then (see the
/// module docs), so its owner crashed.
pub fn reclaim_orphaned(store: &Store) -> Result<u32, StoreError> {
    let n = store
        .conn()
        .execute(
            "UPDATE stop_events SET \
             status = CASE WHEN attempts >= ?1 THEN 'failed' ELSE 'pending' END, \
             error = coalesce(error, 'claim of a dead worker (crashed or was killed)'), \
             lease_owner = NULL, lease_expires_at = NULL \
             WHERE status = 'processing'",
            params![MAX_ATTEMPTS],
        )
        .map_err(|source| StoreError::Sqlite {
            path: store.path().to_path_buf(),
            source,
        })?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Number of events waiting.
pub fn pending_count(store: &Store) -> Result<i64, StoreError> {
    store
        .conn()
        .query_row(
            "SELECT count(*) FROM stop_events WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )
        .map_err(|source| StoreError::Sqlite {
            path: store.path().to_path_buf(),
            source,
        })
}

fn lease_expiry(now: &str) -> String {
    time::parse(now)
        .and_then(|ts| {
            ts.checked_add(jiff::SignedDuration::from_secs(LEASE_SECONDS))
                .ok()
        })
        .map(time::format_ts)
        .unwrap_or_else(|| now.to_owned())
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;

pub mod failpoint;
pub mod stages;
