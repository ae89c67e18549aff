//! The hook journal: SessionStart's bookkeeping, kept in small files and moved into the
//! database later.
//!
//! A SessionStart only reads the database. What it observed — the working directory (so the
//! project), the memory entries it put into which session, and its outcome for `csep status` —
//! becomes one [`StartNote`] in `<home>/spool/start-*.json` (private; written under a temporary
//! name and renamed, so a `.json` file there is always whole). [`drain`] moves the notes into
//! `projects`, `hook_injections`, `memory_entries.last_injected_at` and `hook_runs`; the worker
//! drains before it claims Stop events, and UserPromptSubmit drains before it looks up what its
//! session already got (also honouring notes a failed drain left, [`injections_into`]).
//!
//! Why not write the database from the hook: its one write transaction appended about 13 pages
//! to the WAL per session start. Hooks do not checkpoint on close (see
//! [`crate::hooks::HookCtx::open_store`]), so the next hook process re-read that WAL to rebuild
//! its index, and every few session starts one of them ran a checkpoint with its `fsync`s — more
//! than the rest of the hook together. A note costs an open, a write and a rename, with no
//! `fsync`: like the WAL commits it replaces (`synchronous = NORMAL`), a power cut can lose the
//! newest notes, never corrupt anything. When the spool cannot be written (read-only home), the
//! note goes straight to the database instead ([`crate::hooks::record_run`]).
//!
//! A UserPromptSubmit that finds the database busy files a note too ([`NoteEvent`]): its run
//! and the entries it injected but could not record, so the session's next prompt does not
//! repeat them and a drain counts each entry's use once. So does a Stop that finds it busy: its
//! run only (its event is spooled apart, [`crate::hooks::stop::spool`]).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::host::Host;
use crate::store::db::{Store, StoreError};
use crate::store::identity::RepoIdentity;
use crate::store::paths::Paths;
use crate::store::{fsutil, project};

/// File name prefix of journal notes in the spool directory (Stop's spooled events use
/// `stop-`).
pub const NOTE_PREFIX: &str = "start-";

/// Most notes moved by one worker's [`drain`] (one transaction); the rest wait for the next.
pub const MAX_NOTES_PER_DRAIN: usize = 512;

/// Most notes a UserPromptSubmit moves (it is on the host's path: a backlog is left to the
/// worker, and the session's own notes are still honoured through [`injections_into`]).
pub const MAX_NOTES_PER_PROMPT: usize = 16;

/// Most notes beyond the oldest [`MAX_NOTES_PER_PROMPT`] a UserPromptSubmit opens to find
/// what was injected into its own session ([`read_for_prompt`]): the newest notes whose file
/// name carries the session's tag, or no tag (notes written before names had one). A session
/// files one note per start (resume, clear, compaction).
pub const MAX_SESSION_NOTES_PER_PROMPT: usize = 64;

/// A temporary note file older than this was left by a hook killed mid-write; a drain deletes it.
const STALE_TMP: std::time::Duration = std::time::Duration::from_secs(3600);

/// Which hook filed a note.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoteEvent {
    /// A SessionStart (every note written before notes named their event).
    #[default]
    SessionStart,
    /// A UserPromptSubmit that found the database busy: its run and the injection it could
    /// not record.
    UserPromptSubmit,
    /// A Stop that found the database busy: its run (the event itself is spooled, see
    /// [`crate::hooks::stop::spool`]).
    Stop,
}

impl NoteEvent {
    /// The host's event name, as stored in `hook_runs` and `hook_injections`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoteEvent::SessionStart => "SessionStart",
            NoteEvent::UserPromptSubmit => "UserPromptSubmit",
            NoteEvent::Stop => "Stop",
        }
    }
}

/// What one SessionStart observed and did, or what a UserPromptSubmit could not record while
/// the database was busy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartNote {
    /// The hook that filed the note.
    #[serde(default)]
    pub event: NoteEvent,
    /// The host, when the payload parsed.
    pub host: Option<Host>,
    /// The session, when the payload named one.
    pub session_id: Option<String>,
    /// The session's working directory (the project is resolved from it when drained).
    pub cwd: Option<PathBuf>,
    /// Ids of the memory entries put into the session's context, in order.
    pub injected: Vec<String>,
    /// The hook's outcome label (`injected`, `empty`, `error`, ...).
    pub outcome: String,
    /// The outcome's detail (counts or an error message; never message text).
    pub detail: Option<String>,
    /// How long the hook took, microseconds.
    pub duration_us: i64,
    /// When the hook ran (stored timestamp format).
    pub at: String,
}

/// Writes `note` into the spool directory and returns its path. No `fsync` (see the module
/// docs); the directory is created (private) when missing.
pub fn write(paths: &Paths, note: &StartNote) -> std::io::Result<PathBuf> {
    let dir = paths.spool_dir();
    let mut name = crate::hooks::spool_file_stem(NOTE_PREFIX, &note.at);
    if let (Some(host), Some(session)) = (note.host, note.session_id.as_deref()) {
        name.push_str(&session_tag(host, session));
    }
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(format!("{name}.json"));
    let bytes = serde_json::to_vec(note).map_err(std::io::Error::other)?;
    let mut file = match create_private(&tmp) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fsutil::ensure_private_dir(&dir)?;
            create_private(&tmp)?
        }
        other => other?,
    };
    let written = file.write_all(&bytes).and_then(|()| {
        drop(file);
        std::fs::rename(&tmp, &path)
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(path)
}

fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(fsutil::PRIVATE_FILE_MODE);
    }
    options.open(path)
}

/// The journal's note files, oldest first (their names start with the hook's time).
pub fn files(paths: &Paths) -> Vec<PathBuf> {
    crate::hooks::spool_files_with_prefix(paths, NOTE_PREFIX)
}

/// One file of the journal, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The note's file.
    pub path: PathBuf,
    /// The note, or `None` when the file does not parse (a drain sets it aside as `.bad`).
    pub note: Option<StartNote>,
}

/// The suffix of a note's file name that says which session it is about: `-s` and 16 hex
/// digits of a 64-bit FNV-1a hash of host and session id, so a prompt finds its session's
/// notes by name without opening the others ([`read_for_prompt`]). Stable across builds.
fn session_tag(host: Host, session: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in host.as_str().bytes().chain([0]).chain(session.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("-s{hash:016x}")
}

/// The session tag in a note's file name (`-s` and 16 hex digits), if it has one.
fn tag_of(path: &Path) -> Option<&str> {
    let stem = path.file_stem()?.to_str()?;
    let tag = stem.get(stem.len().checked_sub(18)?..)?;
    (tag.starts_with("-s") && tag[2..].bytes().all(|b| b.is_ascii_hexdigit())).then_some(tag)
}

/// What one UserPromptSubmit reads of the journal ([`read_for_prompt`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRead {
    /// The oldest notes (at most [`MAX_NOTES_PER_PROMPT`]), to move into the database.
    pub to_drain: Vec<Entry>,
    /// What the notes read say was injected into the prompt's session.
    pub injected: Vec<Injection>,
    /// Note files opened, at most [`MAX_NOTES_PER_PROMPT`] +
    /// [`MAX_SESSION_NOTES_PER_PROMPT`] whatever the backlog.
    pub opened: usize,
}

/// Reads what a UserPromptSubmit needs of the journal, in bounded work whatever its backlog
/// (a worker that has not run for a while leaves thousands of notes): the oldest
/// [`MAX_NOTES_PER_PROMPT`] notes, to drain, and of the others only the newest
/// [`MAX_SESSION_NOTES_PER_PROMPT`] that may be about `session` (by their file name's tag).
pub fn read_for_prompt(paths: &Paths, host: Host, session: &str) -> PromptRead {
    let files = files(paths);
    let (oldest, rest) = files.split_at(files.len().min(MAX_NOTES_PER_PROMPT));
    let wanted = session_tag(host, session);
    let own: Vec<PathBuf> = rest
        .iter()
        .rev()
        .filter(|path| tag_of(path).is_none_or(|tag| tag == wanted))
        .take(MAX_SESSION_NOTES_PER_PROMPT)
        .cloned()
        .collect();
    let opened = oldest.len() + own.len();
    let to_drain = read_paths(oldest.to_vec());
    let mut injected = injections_into(&to_drain, host, session);
    injected.extend(injections_into(&read_paths(own), host, session));
    PromptRead {
        to_drain,
        injected,
        opened,
    }
}

/// Reads every note of the journal, oldest first (a file gone meanwhile is skipped).
pub fn read(paths: &Paths) -> Vec<Entry> {
    read_at_most(paths, usize::MAX)
}

/// [`read`] of the oldest `max` notes only: the others are not opened.
fn read_at_most(paths: &Paths, max: usize) -> Vec<Entry> {
    read_paths(files(paths).into_iter().take(max).collect())
}

/// The notes in `paths` (a file gone meanwhile is skipped).
fn read_paths(paths: Vec<PathBuf>) -> Vec<Entry> {
    paths
        .into_iter()
        .filter_map(|path| {
            let bytes = std::fs::read(&path).ok()?;
            let note = serde_json::from_slice(&bytes).ok();
            Some(Entry { path, note })
        })
        .collect()
}

/// What [`drain`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Notes moved into the database.
    pub moved: u32,
    /// Unreadable files, renamed to `*.bad` and left for inspection.
    pub bad: u32,
}

/// Moves the journal's notes into the database (at most [`MAX_NOTES_PER_DRAIN`], oldest first)
/// in one transaction, then deletes their files; also deletes stale temporary files. See
/// [`drain_entries`].
pub fn drain(paths: &Paths, store: &Store) -> Result<Drained, StoreError> {
    remove_stale_tmp(paths);
    drain_entries(store, read_at_most(paths, MAX_NOTES_PER_DRAIN))
}

/// Moves already read `entries` into the database in one transaction, then deletes their
/// files; an entry whose note did not parse, or that the database refuses (a constraint), is
/// renamed to `*.bad` so it cannot hold back the notes after it. Idempotent: a drain
/// interrupted between its commit and the deletions moves nothing twice when the files are
/// drained again (injections are unique per host, session and entry; a run already in
/// `hook_runs` is not inserted again). On any other database error (busy, locked, I/O) nothing
/// is deleted and the error is returned.
pub fn drain_entries(store: &Store, entries: Vec<Entry>) -> Result<Drained, StoreError> {
    let mut drained = Drained::default();
    let mut notes = Vec::new();
    let mut done = Vec::new();
    for Entry { path, note } in entries {
        match note {
            Some(note) => {
                notes.push(note);
                done.push(path);
            }
            None => {
                tracing::warn!(path = %path.display(), "unreadable hook journal note; renamed to .bad");
                let _ = std::fs::rename(&path, path.with_extension("bad"));
                drained.bad += 1;
            }
        }
    }
    if notes.is_empty() {
        return Ok(drained);
    }
    let refused = apply(store, &notes)?;
    for (i, path) in done.into_iter().enumerate() {
        if refused.contains(&i) {
            tracing::warn!(path = %path.display(), "hook journal note refused by the database; renamed to .bad");
            let _ = std::fs::rename(&path, path.with_extension("bad"));
            drained.bad += 1;
        } else {
            let _ = std::fs::remove_file(path);
            drained.moved += 1;
        }
    }
    Ok(drained)
}

/// Writes `notes` into the database in one transaction: each note's project (created, or its
/// `last_seen_at` moved forward), its injections (with each entry's `last_injected_at`) and its
/// `hook_runs` row. A note the database refuses (a constraint) is left out, alone, through its
/// own savepoint; the indexes of those notes are returned. Any other error rolls everything back.
pub fn apply(store: &Store, notes: &[StartNote]) -> Result<Vec<usize>, StoreError> {
    let err = |source| StoreError::Sqlite {
        path: store.path().to_path_buf(),
        source,
    };
    // Resolving a project walks the filesystem: done before taking the write lock.
    let projects: Vec<Option<RepoIdentity>> = notes
        .iter()
        .map(|note| {
            note.cwd
                .as_deref()
                .and_then(|cwd| RepoIdentity::resolve(cwd).ok())
        })
        .collect();
    let conn = store.conn();
    conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
    let result = (|| -> Result<Vec<usize>, StoreError> {
        let mut refused = Vec::new();
        for (i, (note, project)) in notes.iter().zip(&projects).enumerate() {
            conn.execute_batch("SAVEPOINT note").map_err(err)?;
            match apply_one(store, note, project.as_ref()) {
                Ok(()) => conn.execute_batch("RELEASE note").map_err(err)?,
                Err(StoreError::Sqlite { source, .. })
                    if source.sqlite_error_code()
                        == Some(rusqlite::ErrorCode::ConstraintViolation) =>
                {
                    tracing::warn!(error = %source, "hook journal note refused");
                    conn.execute_batch("ROLLBACK TO note; RELEASE note")
                        .map_err(err)?;
                    refused.push(i);
                }
                Err(e) => return Err(e),
            }
        }
        conn.execute_batch("COMMIT").map_err(err)?;
        Ok(refused)
    })();
    if result.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}

fn apply_one(
    store: &Store,
    note: &StartNote,
    project: Option<&RepoIdentity>,
) -> Result<(), StoreError> {
    let conn = store.conn();
    let err = |source| StoreError::Sqlite {
        path: store.path().to_path_buf(),
        source,
    };
    if let Some(identity) = project {
        project::upsert_row(conn, identity, &note.at).map_err(err)?;
    }
    let host = note.host.map_or("unknown", Host::as_str);
    let event = note.event.as_str();
    let session = note.session_id.as_deref().filter(|s| !s.is_empty());
    if let (Some(_), Some(session)) = (note.host, session) {
        for id in &note.injected {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO hook_injections (host, session_id, event, entry_id, at) \
                     VALUES (?1, ?2, ?5, ?3, ?4) ON CONFLICT DO NOTHING",
                )
                .and_then(|mut stmt| stmt.execute(params![host, session, id, note.at, event]))
                .map_err(err)?;
            match note.event {
                NoteEvent::SessionStart => {
                    conn.prepare_cached(
                        "UPDATE memory_entries SET last_injected_at = ?2 \
                         WHERE id = ?1 AND (last_injected_at IS NULL OR last_injected_at < ?2)",
                    )
                    .and_then(|mut stmt| stmt.execute(params![id, note.at]))
                    .map_err(err)?;
                }
                // A use is counted once per session, like the prompt's own record would have
                // (so a note drained twice counts nothing twice).
                NoteEvent::UserPromptSubmit if inserted > 0 => {
                    crate::recall::record_use(store, &[id.as_str()], &note.at).map_err(err)?;
                }
                NoteEvent::UserPromptSubmit | NoteEvent::Stop => {}
            }
        }
    }
    conn.prepare_cached(
        "INSERT INTO hook_runs (host, event, session_id, outcome, detail, duration_us, at) \
         SELECT ?1, ?7, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM hook_runs \
         WHERE host = ?1 AND event = ?7 AND session_id IS ?2 AND at = ?6)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            host,
            note.session_id,
            note.outcome,
            note.detail,
            note.duration_us,
            note.at,
            event
        ])
    })
    .map_err(err)?;
    Ok(())
}

/// Deletes temporary note files (`.start-*.tmp`) older than [`STALE_TMP`]: a hook killed
/// between creating and renaming its note leaves one, and nothing else would remove it.
fn remove_stale_tmp(paths: &Paths) {
    let Ok(dir) = std::fs::read_dir(paths.spool_dir()) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TMP);
        if name.starts_with(&format!(".{NOTE_PREFIX}")) && name.ends_with(".tmp") && stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// One memory entry put into a session's context, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    /// The entry's id (or, for auto-recall, a session it showed).
    pub entry_id: String,
    /// When (stored timestamp format).
    pub at: String,
}

/// What `entries` (notes not yet drained) say was injected into `session`.
pub fn injections_into(entries: &[Entry], host: Host, session: &str) -> Vec<Injection> {
    entries
        .iter()
        .filter_map(|e| e.note.as_ref())
        .filter(|note| note.host == Some(host) && note.session_id.as_deref() == Some(session))
        .flat_map(|note| {
            note.injected.iter().map(|id| Injection {
                entry_id: id.clone(),
                at: note.at.clone(),
            })
        })
        .collect()
}

/// What the database says SessionStart (once its notes were drained) or a prompt injected
/// into `session`.
pub fn recorded_injections(
    store: &Store,
    host: Host,
    session: &str,
) -> Result<Vec<Injection>, StoreError> {
    let err = |source| StoreError::Sqlite {
        path: store.path().to_path_buf(),
        source,
    };
    let mut stmt = store
        .conn()
        .prepare_cached(
            "SELECT entry_id, at FROM hook_injections WHERE host = ?1 AND session_id = ?2",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map(params![host.as_str(), session], |r| {
            Ok(Injection {
                entry_id: r.get(0)?,
                at: r.get(1)?,
            })
        })
        .map_err(err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(err)
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
