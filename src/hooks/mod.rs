//! Hook handlers (session-start, user-prompt-submit, stop): guards, budgets, spawning the worker.
//!
//! A hook never calls a model and never waits on the network; whatever it is given (bad JSON,
//! a deleted cwd, a read-only home, a locked database) it answers with valid output for its host
//! and the caller exits 0. Failures are logged and recorded in `hook_runs` for `csep status`
//! (SessionStart's through the hook journal, [`journal`]), never shown to the agent. The database is opened with a short busy timeout
//! ([`HOOK_BUSY_TIMEOUT`]), which all the writes of a hook share ([`WriteBudget`]), so a locked
//! store costs the host at most that long.

pub mod journal;
pub mod session_start;
pub mod stop;
pub mod user_prompt_submit;

use std::cell::{Cell, OnceCell};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;

use crate::host::Host;
use crate::host::transcript::{self, HookEvent, HookKind};
use crate::store::config::Config;
use crate::store::db::{OpenOptions, Store, StoreError};
use crate::store::paths::Paths;
use crate::store::time;

/// How long a hook waits on a locked database before giving up (and answering with no context).
pub const HOOK_BUSY_TIMEOUT: Duration = Duration::from_millis(250);

/// How long the Stop hook waits to record its event in the database before keeping it in the
/// spool instead (see [`stop`]). Longer than [`HOOK_BUSY_TIMEOUT`]: WAL writers queue for
/// milliseconds each, so with 200 Stop hooks racing (tests/e2e/reliability.rs) nearly every
/// event still goes straight to the database, and the wait only delays the end of a turn that
/// is already over.
pub const STOP_BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// WAL pages after which a hook's commit checkpoints (SQLite's default is 1,000). Stop and
/// UserPromptSubmit (its journal drain) write a few pages each, so this checkpoints every few
/// hooks and keeps the WAL that each hook process re-reads on open under ~256 KiB (see
/// [`HookCtx::open_store`]).
pub const HOOK_WAL_AUTOCHECKPOINT: i64 = 64;

/// Bytes of the database a hook's connection maps into memory (`PRAGMA mmap_size`; reads only,
/// see [`HookCtx::open_store`]).
pub const HOOK_MMAP_SIZE: i64 = 256 << 20;

/// Environment variable csep sets on model subprocesses it spawns (`codex exec`, `claude -p`),
/// so csep's own hooks in those child sessions record nothing and inject nothing. One constant,
/// owned by the providers that set it.
pub use crate::llm::CHILD_SESSION_ENV;

/// Everything a hook needs, resolved once by the entry point.
#[derive(Debug)]
pub struct HookCtx {
    /// csep's home.
    pub paths: Paths,
    /// The loaded configuration, read leniently ([`crate::store::config::load_for_hook`]):
    /// defaults for what the file lacks or gets wrong.
    pub config: Config,
    /// The csep binary to spawn the worker with.
    pub exe: Option<PathBuf>,
    /// Set when this process runs inside a session csep itself spawned.
    pub is_child_session: bool,
    /// Do not spawn the worker (tests and benchmarks of the foreground path).
    pub no_spawn: bool,
    /// The connection, once opened (start with `OnceCell::new()`; see [`HookCtx::open_store`]).
    pub store: OnceCell<Store>,
    /// The one busy timeout the hook's writes share (start with `WriteBudget::default()`; see
    /// [`HookCtx::store_for_write`]).
    pub writes: WriteBudget,
}

/// The one [`HOOK_BUSY_TIMEOUT`] that all the writes of a hook share: a UserPromptSubmit writes
/// up to three times (the journal drain, its injection, its `hook_runs` row), and with a
/// database locked by another writer each used to wait the whole timeout.
#[derive(Debug, Default)]
pub struct WriteBudget {
    /// When the waiting of every write ends, set by the first write.
    deadline: Cell<Option<Instant>>,
    /// Writes that found the database busy or locked.
    busy: Cell<u32>,
}

impl WriteBudget {
    /// Writes of this hook that found the database busy or locked (one at most: later writes
    /// are not tried).
    pub fn busy_count(&self) -> u32 {
        self.busy.get()
    }
}

#[cfg(test)]
impl HookCtx {
    /// A context for tests: home `home`, default configuration, nothing spawned.
    pub(crate) fn for_tests(home: &std::path::Path) -> HookCtx {
        HookCtx {
            paths: Paths::at(home),
            config: crate::store::config::Config::default(),
            exe: None,
            is_child_session: false,
            no_spawn: true,
            store: std::cell::OnceCell::new(),
            writes: WriteBudget::default(),
        }
    }
}

impl HookCtx {
    /// The hook's connection: opened (created and migrated when needed, short busy timeout) on
    /// first use, then shared by the handler and [`record_run`], so a hook opens the database
    /// once.
    ///
    /// The connection does not checkpoint the WAL when it closes and checkpoints automatically
    /// every [`HOOK_WAL_AUTOCHECKPOINT`] pages. Why: a hook commits a few pages; with
    /// `synchronous = NORMAL` those commits cost no `fsync`, but the checkpoint SQLite runs when
    /// the last connection closes fsyncs the WAL and the database, and the next open recreates
    /// the WAL and fsyncs the directory — most of a hook's wall time on a VM disk. The price is
    /// that the first connection of a process re-reads the WAL to rebuild its index, so the WAL
    /// is kept short. Other csep commands still checkpoint on close; the database stays
    /// consistent either way.
    pub fn open_store(&self) -> Result<&Store, StoreError> {
        self.open_store_waiting(HOOK_BUSY_TIMEOUT)
    }

    /// The hook's connection, waiting at most `busy_timeout` on a locked database (for this
    /// open and for the statements that follow, until a later call changes it).
    pub fn open_store_waiting(&self, busy_timeout: Duration) -> Result<&Store, StoreError> {
        if let Some(store) = self.store.get() {
            store
                .conn()
                .busy_timeout(busy_timeout)
                .map_err(|source| StoreError::Sqlite {
                    path: store.path().to_path_buf(),
                    source,
                })?;
            return Ok(store);
        }
        let store = Store::open_with(
            &self.paths.db(),
            OpenOptions {
                busy_timeout,
                read_only: false,
            },
        )?;
        let err = |source| StoreError::Sqlite {
            path: store.path().to_path_buf(),
            source,
        };
        store
            .conn()
            .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(err)?;
        store
            .conn()
            .pragma_update(None, "wal_autocheckpoint", HOOK_WAL_AUTOCHECKPOINT)
            .map_err(err)?;
        // Read database pages in place from the page cache instead of copying each into a
        // freshly allocated buffer: a SessionStart that ranks the entries itself (no current
        // start index) reads ~50 pages, and the copies' heap growth alone cost ~40 page faults
        // (writes still go through the WAL with `pwrite`).
        store
            .conn()
            .pragma_update(None, "mmap_size", HOOK_MMAP_SIZE)
            .map_err(err)?;
        Ok(self.store.get_or_init(|| store))
    }

    /// The connection for one of the hook's writes, waiting on a locked database no longer
    /// than what remains of the one [`HOOK_BUSY_TIMEOUT`] all its writes share (the clock
    /// starts at the first write). `None` when the database does not exist or cannot be
    /// opened, or once a write found it busy ([`HookCtx::saw_write_error`]): the caller then
    /// defers its write (to the hook journal) or drops a best-effort record, without waiting
    /// again.
    pub fn store_for_write(&self) -> Option<&Store> {
        if self.writes.busy.get() > 0 {
            return None;
        }
        let now = Instant::now();
        let deadline = self
            .writes
            .deadline
            .get()
            .unwrap_or(now + HOOK_BUSY_TIMEOUT);
        self.writes.deadline.set(Some(deadline));
        if self.store.get().is_none() && !self.paths.db().exists() {
            return None;
        }
        self.open_store_waiting(deadline.saturating_duration_since(now))
            .ok()
    }

    /// Notes how a write failed; `true` when the database was busy or locked, which makes
    /// [`HookCtx::store_for_write`] refuse the hook's later writes.
    pub fn saw_write_error(&self, error: &StoreError) -> bool {
        let busy = match error {
            StoreError::Locked { .. } => true,
            StoreError::Sqlite { source, .. } => is_busy(source),
            _ => false,
        };
        if busy {
            self.writes.busy.set(self.writes.busy.get() + 1);
        }
        busy
    }

    /// Makes [`HookCtx::store_for_write`] refuse the hook's later writes, as after a busy
    /// database: for a write that already waited its own, longer, timeout (Stop's event).
    pub fn defer_writes(&self) {
        self.writes.busy.set(self.writes.busy.get() + 1);
    }

    /// The hook's connection, only if the database exists (SessionStart has nothing to inject
    /// without one).
    pub fn open_existing_store(&self) -> Result<Option<&Store>, StoreError> {
        if self.store.get().is_none() && !self.paths.db().exists() {
            return Ok(None);
        }
        self.open_store().map(Some)
    }
}

/// Whether `error` is SQLite's busy or locked.
pub fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// The result of a hook: what to print and what to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookAnswer {
    /// Exact stdout for the host.
    pub stdout: String,
    /// Short outcome label for the log and `hook_runs` (`injected`, `empty`, `recorded`, ...).
    pub outcome: &'static str,
    /// Detail (an error message, counts); never a secret or message text.
    pub detail: Option<String>,
    /// The parsed event, when the payload parsed.
    pub event: Option<HookEvent>,
    /// Ids of the memory entries put into the context and not recorded yet, in order:
    /// SessionStart's (it never writes the database), or UserPromptSubmit's when the database
    /// was busy; [`record_run`] files them in the hook journal.
    pub injected: Vec<String>,
}

/// Which hook the command line asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookRequest {
    /// `SessionStart`.
    SessionStart,
    /// `UserPromptSubmit`.
    UserPromptSubmit,
    /// `Stop`.
    Stop,
}

impl HookRequest {
    /// The host's event name.
    pub fn kind(self) -> HookKind {
        match self {
            HookRequest::SessionStart => HookKind::SessionStart,
            HookRequest::UserPromptSubmit => HookKind::UserPromptSubmit,
            HookRequest::Stop => HookKind::Stop,
        }
    }
}

/// Runs a hook on `stdin` and returns what to print. Never fails: every error becomes the host's
/// no-op output with the error in `detail`.
pub fn run(
    ctx: &HookCtx,
    request: HookRequest,
    host_hint: Option<Host>,
    stdin: &[u8],
) -> HookAnswer {
    let fallback_host = host_hint.unwrap_or(Host::Codex);
    let empty = |host: Host| transcript::empty_output(host, &request.kind());
    let Ok(text) = std::str::from_utf8(stdin) else {
        return HookAnswer {
            injected: Vec::new(),
            stdout: empty(fallback_host),
            outcome: "bad_payload",
            detail: Some("hook payload is not UTF-8".into()),
            event: None,
        };
    };
    let event = match transcript::parse_hook_event(text, host_hint) {
        Ok(Some(event)) => event,
        Ok(None) => {
            return HookAnswer {
                injected: Vec::new(),
                stdout: empty(fallback_host),
                outcome: "bad_payload",
                detail: Some("hook payload has no hook_event_name".into()),
                event: None,
            };
        }
        Err(e) => {
            return HookAnswer {
                injected: Vec::new(),
                stdout: empty(fallback_host),
                outcome: "bad_payload",
                detail: Some(e.to_string()),
                event: None,
            };
        }
    };
    let host = event.host;
    if ctx.is_child_session && request != HookRequest::Stop {
        // A session csep spawned to review another one: never inject into it (its Stop is
        // recorded as skipped by `stop::run`).
        return HookAnswer {
            injected: Vec::new(),
            stdout: empty(host),
            outcome: "child_session",
            detail: None,
            event: Some(event),
        };
    }
    let result = match request {
        HookRequest::SessionStart => session_start::run(ctx, &event).map_err(|e| e.to_string()),
        HookRequest::UserPromptSubmit => {
            user_prompt_submit::run(ctx, &event).map_err(|e| e.to_string())
        }
        HookRequest::Stop => stop::run(ctx, &event).map_err(|e| e.to_string()),
    };
    match result {
        Ok(mut answer) => {
            answer.event = Some(event);
            answer
        }
        Err(e) => HookAnswer {
            injected: Vec::new(),
            stdout: empty(host),
            outcome: "error",
            detail: Some(e),
            event: Some(event),
        },
    }
}

/// Records one hook run: a SessionStart's in the hook journal ([`journal`]; straight into the
/// database when the spool cannot be written), any other hook's in `hook_runs`, within what is
/// left of the hook's one busy timeout ([`HookCtx::store_for_write`]). When the database is
/// busy, a UserPromptSubmit's run and the injection it could not record
/// ([`HookAnswer::injected`]) go to the hook journal, and so does a Stop's run (its event is
/// spooled apart). Best effort: a failure loses the record, never the hook's answer.
///
/// `host_hint` is the host the command line named: a payload that does not parse is recorded
/// under it (so `csep status` shows that host's failing hook), not under `unknown`.
pub fn record_run(
    ctx: &HookCtx,
    request: HookRequest,
    host_hint: Option<Host>,
    answer: &HookAnswer,
    started: Instant,
) {
    let micros = i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX);
    if request == HookRequest::SessionStart {
        let event = answer.event.as_ref();
        let note = journal::StartNote {
            event: journal::NoteEvent::SessionStart,
            host: event.map(|e| e.host).or(host_hint),
            session_id: event.and_then(|e| e.session_id.clone()),
            // The project is recorded only when the hook looked at it (not for a child session
            // csep spawned, a bad payload or a failure).
            cwd: event
                .filter(|_| matches!(answer.outcome, "injected" | "empty" | "already_injected"))
                .and_then(|e| e.cwd.clone()),
            injected: answer.injected.clone(),
            outcome: answer.outcome.to_owned(),
            detail: answer.detail.clone(),
            duration_us: micros,
            at: time::now(),
        };
        if let Err(e) = journal::write(&ctx.paths, &note) {
            tracing::debug!(error = %e, "cannot write the hook journal; recording in the database");
            if let Ok(Some(store)) = ctx.open_existing_store() {
                let _ = journal::apply(store, &[note]);
            }
        }
        return;
    }
    if ctx.store.get().is_none() && !ctx.paths.db().exists() {
        return;
    }
    let host = answer
        .event
        .as_ref()
        .map(|e| e.host)
        .or(host_hint)
        .map_or("unknown", Host::as_str);
    let session = answer.event.as_ref().and_then(|e| e.session_id.clone());
    let at = time::now();
    if let Some(store) = ctx.store_for_write() {
        let inserted = store.conn().execute(
            "INSERT INTO hook_runs (host, event, session_id, outcome, detail, duration_us, at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![
                host,
                request.kind().as_str(),
                session,
                answer.outcome,
                answer.detail,
                micros,
                at
            ],
        );
        match inserted {
            Ok(_) => return,
            Err(source) => {
                let error = StoreError::Sqlite {
                    path: store.path().to_path_buf(),
                    source,
                };
                if !ctx.saw_write_error(&error) {
                    return;
                }
            }
        }
    }
    // The database was busy: the run waits in the hook journal, and the worker (or a later
    // prompt) moves it in. A UserPromptSubmit's note also holds the injection it could not
    // record, which the next prompt of the session honours from there.
    let note_event = match request {
        HookRequest::UserPromptSubmit => journal::NoteEvent::UserPromptSubmit,
        HookRequest::Stop => journal::NoteEvent::Stop,
        // Written to the journal above, never here.
        HookRequest::SessionStart => return,
    };
    let event = answer.event.as_ref();
    let note = journal::StartNote {
        event: note_event,
        host: event.map(|e| e.host).or(host_hint),
        session_id: session,
        cwd: None,
        injected: answer.injected.clone(),
        outcome: answer.outcome.to_owned(),
        detail: answer.detail.clone(),
        duration_us: micros,
        at,
    };
    if let Err(e) = journal::write(&ctx.paths, &note) {
        tracing::debug!(error = %e, "cannot write the hook journal; the hook's run is lost");
    }
}

/// The name (without extension) of a new file in the spool directory: `prefix`, the digits of
/// the stored timestamp `at` (so names sort oldest first), the process id and the current
/// sub-second nanoseconds (so two hooks at the same instant never collide).
pub fn spool_file_stem(prefix: &str, at: &str) -> String {
    let stamp: String = at.chars().filter(char::is_ascii_digit).collect();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}{stamp}-{}-{nanos:09}", std::process::id())
}

/// The `<prefix>*.json` files of the spool directory, oldest first (names built by
/// [`spool_file_stem`] sort by time).
pub fn spool_files_with_prefix(paths: &Paths, prefix: &str) -> Vec<PathBuf> {
    let spool = paths.spool_dir();
    let Ok(dir) = std::fs::read_dir(&spool) else {
        return Vec::new();
    };
    // Sorted as names, not as paths: comparing paths component by component was most of a
    // prompt's time with a backlog of thousands of journal notes.
    let mut names: Vec<String> = dir
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".json"))
        .collect();
    names.sort_unstable();
    names.into_iter().map(|n| spool.join(n)).collect()
}

/// Rough token count used for context budgets: ASCII text at ~4 characters per token, every
/// other character (CJK, accents) counted as one token ([`crate::llm::estimate_tokens`]).
/// Deliberately pessimistic so the context stays under a host's limit (Codex truncates
/// `additionalContext` past ~2,500 tokens).
pub fn estimate_tokens(text: &str) -> usize {
    usize::try_from(crate::llm::estimate_tokens(text)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_opens_the_database_once_and_leaves_checkpoints_to_the_autocheckpoint() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = HookCtx::for_tests(&dir.path().join("home"));
        assert!(
            ctx.open_existing_store().unwrap().is_none(),
            "no database yet"
        );
        let first: *const Store = ctx.open_store().unwrap();
        let again: *const Store = ctx.open_existing_store().unwrap().unwrap();
        assert_eq!(
            first, again,
            "the handler and record_run share one connection"
        );
        let conn = ctx.open_store().unwrap().conn();
        assert!(
            conn.db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE)
                .unwrap()
        );
        let pages: i64 = conn
            .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
            .unwrap();
        assert_eq!(pages, HOOK_WAL_AUTOCHECKPOINT);
        let mapped: i64 = conn
            .pragma_query_value(None, "mmap_size", |r| r.get(0))
            .unwrap();
        assert_eq!(mapped, HOOK_MMAP_SIZE);
    }

    #[test]
    fn token_estimate_is_pessimistic_for_cjk() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("订单超时"), 4);
    }
}
