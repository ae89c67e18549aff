//! Stop: record the stop event and hand it to one detached background worker, then return.
//!
//! The foreground does four cheap things — resolve the project from `cwd` (a few `stat`s),
//! insert one `stop_events` row, check the worker lock, spawn `csep worker` detached (own process
//! group, stdio closed) — and never reads the transcript, so its cost does not grow with the
//! session. It never emits `decision: block` and never exits non-zero: either would make the
//! host continue the turn (`client-protocols.md` §1.5, §2.4).
//!
//! Guards: a Stop re-fired with `stop_hook_active` (another hook blocked) and a Stop from a
//! session csep itself spawned are recorded as `skipped` and never reviewed.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::process::{Command, Stdio};

use rusqlite::params;
use serde_json::json;

use crate::hooks::{HookAnswer, HookCtx};
use crate::host::transcript::{HookEvent, HookKind, empty_output};
use crate::store::db::{Store, StoreError};
use crate::store::identity::RepoIdentity;
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
pub fn run(ctx: &HookCtx, event: &HookEvent) -> Result<HookAnswer, StopError> {
    let store = ctx.open_store_waiting(crate::hooks::STOP_BUSY_TIMEOUT)?;
    let skip_reason = if ctx.is_child_session {
        Some("session spawned by csep")
    } else if event.stop_hook_active {
        Some("stop_hook_active: re-fired after another hook blocked")
    } else {
        None
    };
    let id = record(store, event, skip_reason)?;
    let mut detail = format!("event {id}");
    let mut outcome = "recorded";
    if skip_reason.is_some() {
        outcome = "skipped";
    } else if !ctx.no_spawn {
        match spawn_worker_if_idle(ctx) {
            Ok(true) => detail.push_str(", worker started"),
            Ok(false) => detail.push_str(", worker already running"),
            Err(e) => {
                outcome = "recorded_no_worker";
                detail.push_str(&format!(", worker not started: {e}"));
            }
        }
    }
    Ok(HookAnswer {
        stdout: empty_output(event.host, &HookKind::Stop),
        outcome,
        detail: Some(detail),
        event: None,
    })
}

/// Inserts the stop event. Only identifiers and paths are stored — never message text — so the
/// row holds nothing secret.
pub fn record(
    store: &Store,
    event: &HookEvent,
    skip_reason: Option<&str>,
) -> Result<i64, StopError> {
    let now = time::now();
    let identity = event
        .cwd
        .as_deref()
        .and_then(|cwd| RepoIdentity::resolve(cwd).ok());
    let project_id = match &identity {
        Some(identity) => Some(project::upsert(store, identity, &now)?.id),
        None => None,
    };
    let payload = json!({
        "hook_event_name": "Stop",
        "session_id": event.session_id,
        "turn_id": event.turn_id,
        "transcript_path": event.transcript_path,
        "cwd": event.cwd,
        "model": event.model,
        "stop_hook_active": event.stop_hook_active,
    });
    let status = if skip_reason.is_some() {
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
                event.host.as_str(),
                event.session_id,
                event.turn_id,
                project_id,
                path_text(event.cwd.as_deref()),
                path_text(event.transcript_path.as_deref()),
                payload.to_string(),
                now,
                status,
                skip_reason,
            ])
        })
        .map_err(|source| StopError::Insert {
            path: store.path().to_path_buf(),
            source,
        })?;
    Ok(store.conn().last_insert_rowid())
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
