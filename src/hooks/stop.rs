//! Stop: record the stop event and hand it to one detached background worker, then return.
//!
//! The foreground does four cheap things — resolve the project from `cwd` (a few `stat`s),
//! insert one `stop_events` row, check the worker lock, spawn `csep worker` detached (own process
//! group, stdio closed) — and never reads the transcript, so its cost does not grow with the
//! session. It never emits `decision: block` and never exits non-zero: either would make the
//! host continue the turn (`client-protocols.md` §1.5, §2.4).
//!
//! Guard: a Stop from a session csep itself spawned is recorded as `skipped` and never archived
//! or reviewed. A Stop re-fired with `stop_hook_active` (another hook blocked, and the model
//! answered again) is recorded like any other: the turn it closes must be archived too, and the
//! worker's review policy decides whether the few new messages deserve a review.
//!
//! A database the hook cannot write (locked past its wait, failing) does not lose the event: it
//! goes to a file in `<home>/spool` ([`spool`]) and the worker moves it into `stop_events`
//! ([`drain_spool`]) before it claims anything.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rusqlite::params;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::hooks::{HookAnswer, HookCtx};
use crate::host::Host;
use crate::host::transcript::{HookEvent, HookKind, empty_output};
use crate::store::db::{Store, StoreError};
use crate::store::identity::RepoIdentity;
use crate::store::paths::Paths;
use crate::store::{fsutil, project, time};

/// Errors of the Stop foreground (all end up in the log; the host still gets `{}`).
#[derive(Debug, thiserror::Error)]
pub enum StopError {
    /// The store could not be opened or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Inserting the event failed.
    #[error("cannot record the stop event in {path}: {source}")]
    Insert {
        /// Database file.
        path: std::path::PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

/// Runs the Stop hook: records the event and starts the worker when none is running.
///
/// When the database cannot take the event (locked past [`crate::hooks::STOP_BUSY_TIMEOUT`],
/// or failing), the event is written to the spool instead ([`spool`]) and the worker moves it
/// into the database later: a busy store delays a session's review, it never loses it.
pub fn run(ctx: &HookCtx, event: &HookEvent) -> Result<HookAnswer, StopError> {
    let skip_reason = ctx.is_child_session.then_some("session spawned by csep");
    let record = StopRecord::new(event, skip_reason, time::now());
    let stored = ctx
        .open_store_waiting(crate::hooks::STOP_BUSY_TIMEOUT)
        .map_err(StopError::from)
        .and_then(|store| insert(store, &record));
    let (mut outcome, mut detail) = match stored {
        Ok(id) if skip_reason.is_some() => ("skipped", format!("event {id}")),
        Ok(id) => ("recorded", format!("event {id}")),
        Err(error) => match spool(&ctx.paths, &record) {
            Ok(path) => {
                // The database could not take the event: the run's record is not tried after
                // it (it would wait again, [`HookCtx::defer_writes`]).
                ctx.defer_writes();
                (
                    "spooled",
                    format!(
                        "database unavailable ({error}); event kept in {}",
                        path.display()
                    ),
                )
            }
            // Nowhere to keep it: the caller logs the database error.
            Err(_) => return Err(error),
        },
    };
    if skip_reason.is_none() && !ctx.no_spawn {
        match spawn_worker_if_idle(ctx) {
            Ok(true) => detail.push_str(", worker started"),
            Ok(false) => detail.push_str(", worker already running"),
            Err(e) => {
                if outcome == "recorded" {
                    outcome = "recorded_no_worker";
                }
                detail.push_str(&format!(", worker not started: {e}"));
            }
        }
    }
    Ok(HookAnswer {
        injected: Vec::new(),
        stdout: empty_output(event.host, &HookKind::Stop),
        outcome,
        detail: Some(detail),
        event: None,
    })
}

/// What a Stop hook records: identifiers and paths only — never message text — so neither the
/// database row nor a spool file holds anything secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRecord {
    /// The host.
    pub host: Host,
    /// Host session id.
    pub session_id: Option<String>,
    /// Turn id (Codex) or prompt id (Claude).
    pub turn_id: Option<String>,
    /// The transcript.
    pub transcript_path: Option<PathBuf>,
    /// The session's working directory.
    pub cwd: Option<PathBuf>,
    /// The model, when the host sent it.
    pub model: Option<String>,
    /// The host's `stop_hook_active`.
    pub stop_hook_active: bool,
    /// Why the event is recorded as `skipped` (never reviewed), if it is.
    pub skip_reason: Option<String>,
    /// When the hook received it.
    pub received_at: String,
}

impl StopRecord {
    /// The record of `event`, received at `now`.
    pub fn new(event: &HookEvent, skip_reason: Option<&str>, now: String) -> StopRecord {
        StopRecord {
            host: event.host,
            session_id: event.session_id.clone(),
            turn_id: event.turn_id.clone(),
            transcript_path: event.transcript_path.clone(),
            cwd: event.cwd.clone(),
            model: event.model.clone(),
            stop_hook_active: event.stop_hook_active,
            skip_reason: skip_reason.map(str::to_owned),
            received_at: now,
        }
    }
}

/// Inserts the stop event for `event`, received now; returns its id.
pub fn record(
    store: &Store,
    event: &HookEvent,
    skip_reason: Option<&str>,
) -> Result<i64, StopError> {
    insert(store, &StopRecord::new(event, skip_reason, time::now()))
}

/// Inserts `record` as a stop event (`pending`, or `skipped` with its reason); returns its id.
pub fn insert(store: &Store, record: &StopRecord) -> Result<i64, StopError> {
    let identity = record
        .cwd
        .as_deref()
        .and_then(|cwd| RepoIdentity::resolve(cwd).ok());
    let project_id = match &identity {
        Some(identity) => Some(project::upsert(store, identity, &record.received_at)?.id),
        None => None,
    };
    let payload = json!({
        "hook_event_name": "Stop",
        "session_id": record.session_id,
        "turn_id": record.turn_id,
        "transcript_path": record.transcript_path,
        "cwd": record.cwd,
        "model": record.model,
        "stop_hook_active": record.stop_hook_active,
    });
    let status = if record.skip_reason.is_some() {
        "skipped"
    } else {
        "pending"
    };
    let path_text = |p: Option<&Path>| p.map(|p| p.to_string_lossy().into_owned());
    store
        .conn()
        .prepare_cached(
            "INSERT INTO stop_events (host, session_id, turn_id, project_id, cwd, \
             transcript_path, payload, received_at, status, error) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                record.host.as_str(),
                record.session_id,
                record.turn_id,
                project_id,
                path_text(record.cwd.as_deref()),
                path_text(record.transcript_path.as_deref()),
                payload.to_string(),
                record.received_at,
                status,
                record.skip_reason,
            ])
        })
        .map_err(|source| StopError::Insert {
            path: store.path().to_path_buf(),
            source,
        })?;
    Ok(store.conn().last_insert_rowid())
}

/// File name prefix of spooled Stop events (the hook journal's notes share the directory,
/// [`crate::hooks::journal::NOTE_PREFIX`]).
pub const SPOOL_PREFIX: &str = "stop-";

/// Writes `record` to a new file in the spool directory (`<home>/spool`, private), atomically:
/// a file there is always a whole record. Returns the file's path.
pub fn spool(paths: &Paths, record: &StopRecord) -> std::io::Result<PathBuf> {
    let path = paths.spool_dir().join(format!(
        "{}.json",
        crate::hooks::spool_file_stem(SPOOL_PREFIX, &record.received_at)
    ));
    let bytes = serde_json::to_vec(record).map_err(std::io::Error::other)?;
    fsutil::write_atomic(&path, &bytes)?;
    Ok(path)
}

/// What [`drain_spool`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolDrain {
    /// Events moved into the database.
    pub moved: u32,
    /// Files that were already in the database (a drain interrupted after its insert).
    pub duplicates: u32,
    /// Unreadable files, renamed to `*.bad` and left for inspection.
    pub bad: u32,
}

/// Moves every spooled Stop event into `stop_events`, oldest first, deleting each file once its
/// event is committed. Idempotent: an event already present (same host, session, turn and
/// receipt time) is not inserted twice. A database error stops the drain and leaves the
/// remaining files for the next one.
pub fn drain_spool(paths: &Paths, store: &Store) -> Result<SpoolDrain, StopError> {
    let mut drain = SpoolDrain::default();
    for path in spool_files(paths) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(record) = serde_json::from_slice::<StopRecord>(&bytes) else {
            tracing::warn!(path = %path.display(), "unreadable spooled stop event; renamed to .bad");
            let _ = std::fs::rename(&path, path.with_extension("bad"));
            drain.bad += 1;
            continue;
        };
        let exists: bool = store
            .conn()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM stop_events WHERE host = ?1 AND \
                 session_id IS ?2 AND turn_id IS ?3 AND received_at = ?4)",
                params![
                    record.host.as_str(),
                    record.session_id,
                    record.turn_id,
                    record.received_at
                ],
                |r| r.get(0),
            )
            .map_err(|source| StopError::Insert {
                path: store.path().to_path_buf(),
                source,
            })?;
        if exists {
            drain.duplicates += 1;
        } else {
            insert(store, &record)?;
            drain.moved += 1;
        }
        let _ = std::fs::remove_file(&path);
    }
    Ok(drain)
}

/// The spooled event files, oldest first (their names start with the receipt time).
pub fn spool_files(paths: &Paths) -> Vec<PathBuf> {
    crate::hooks::spool_files_with_prefix(paths, SPOOL_PREFIX)
}

/// The worker lock file: held (exclusive `flock`) by the running worker for its whole life.
pub fn worker_lock_path(home: &Path) -> std::path::PathBuf {
    home.join("worker.lock")
}

/// Opens (creating, 0600) the worker lock file.
pub fn open_worker_lock(home: &Path) -> std::io::Result<File> {
    let path = worker_lock_path(home);
    let mut opts = OpenOptions::new();
    opts.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(fsutil::PRIVATE_FILE_MODE);
    }
    opts.open(path)
}

/// Whether a worker currently holds the lock.
pub fn is_worker_running(home: &Path) -> bool {
    let Ok(file) = open_worker_lock(home) else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => false,
    }
}

/// Spawns `csep --home <home> worker` detached unless a worker is running. Two hooks racing may
/// both spawn; the loser finds the lock taken and exits at once, so at most one worker works.
pub fn spawn_worker_if_idle(ctx: &HookCtx) -> std::io::Result<bool> {
    if is_worker_running(&ctx.paths.home) {
        return Ok(false);
    }
    let exe = ctx
        .exe
        .clone()
        .ok_or_else(|| std::io::Error::other("cannot locate the csep executable"))?;
    spawn_worker(&exe, &ctx.paths.home)?;
    Ok(true)
}

/// Starts the worker process detached from the hook: its own process group, no stdio, so the
/// host never waits on it and a Ctrl-C in the agent's terminal does not reach it.
pub fn spawn_worker(exe: &Path, home: &Path) -> std::io::Result<()> {
    let mut cmd = Command::new(exe);
    cmd.arg("--home")
        .arg(home)
        .arg("worker")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    cmd.spawn().map(drop)
}

#[cfg(test)]
#[path = "stop_tests.rs"]
mod tests;
