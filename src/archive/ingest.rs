//! Incremental, idempotent, redacted transcript ingest into `sessions`, `messages` and
//! `messages_fts`.
//!
//! Format read: a host's JSONL transcript (Codex `rollout-*.jsonl`, Claude Code
//! `projects/<dir>/<session>.jsonl`), parsed by [`crate::host::transcript::parse_file_from`].
//!
//! Invariants:
//! - **Incremental.** `ingest_checkpoints` keeps, per transcript file, the byte offset just past
//!   the last complete line consumed; the next ingest seeks there and never re-reads older bytes.
//!   A trailing partial line (the agent is mid-write) is left for next time.
//! - **Restart without duplicates.** A file that shrank (offset past its end) or was replaced (the
//!   hash of its first [`HEAD_HASH_BYTES`] changed) is read again from offset 0. Every insert is
//!   `ON CONFLICT DO NOTHING` on the natural key `(session_ref, byte_offset, seq)`, so bytes that
//!   were already archived add nothing; re-ingesting the same file is a no-op.
//! - **Redacted before insert.** Message text and tool arguments go through
//!   [`crate::archive::redact`] before anything is written, then long texts are cut to
//!   documented caps ([`MAX_TOOL_OUTPUT_BYTES`], [`MAX_TOOL_ARGS_BYTES`], [`MAX_MESSAGE_BYTES`]).
//!   Redaction runs on the whole text first so that a cut can never split a secret and leave an
//!   unrecognisable half of it behind.
//! - **Injected text is stored, never counted or indexed.** Messages whose origin is
//!   `injected:*` (AGENTS.md, environment context, csep's own context, hook feedback) are kept for
//!   the record but get no `messages_fts` row and do not count in the session's counters, so
//!   recall never finds csep's own output (the reference's 0.7.11 self-pollution, lessons §2.5.8).
//! - **One transaction per ingest.** The session upsert, the messages, their FTS rows, the
//!   counters and the new checkpoint commit together; a crash leaves the previous checkpoint.
//! - **Times come from the transcript.** `started_at` and `last_message_at` are the host's own
//!   timestamps, never the time of ingest (the reference's `updated_at` was archive time).

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

use crate::archive::redact::redact;
use crate::host::Host;
use crate::host::transcript::{
    Origin, SessionMeta, TranscriptError, TranscriptMessage, parse_file_from,
};
use crate::recall::analyze::terms_for_index;
use crate::store::db::Store;
use crate::store::time;

/// Bytes at the head of a transcript whose hash identifies the file (4 KiB): a replaced file
/// has a different first line (Codex `session_meta`, Claude's first record carries its ids).
pub const HEAD_HASH_BYTES: u64 = 4096;

/// Cap of a stored tool output, in bytes (8 KiB: the first 6 KiB and the last 2 KiB). Tool
/// outputs are the bulk of a transcript (file dumps, build logs) and their gist is at the
/// start (what ran) and at the end (how it ended); recall shows a few hundred characters.
pub const MAX_TOOL_OUTPUT_BYTES: usize = 8 * 1024;

/// Cap of stored tool arguments, in bytes (8 KiB; patches and heredocs can be far larger).
pub const MAX_TOOL_ARGS_BYTES: usize = 8 * 1024;

/// Cap of any other stored message text, in bytes (32 KiB: long answers and pasted prompts are
/// kept nearly whole; a pasted log is not).
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;

/// Errors from ingesting a transcript.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The transcript could not be read.
    #[error(transparent)]
    Transcript(#[from] TranscriptError),
    /// Writing to the archive failed; nothing of this ingest was kept and the checkpoint did not
    /// move, so the next ingest retries the same bytes.
    #[error(
        "archiving transcript {path} failed: {source}; nothing was written, rerun the ingest \
         (`csep status` shows whether the database is locked or damaged)"
    )]
    Sqlite {
        /// The transcript file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

/// Why an ingest started over from offset 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// The file is now shorter than the saved offset (truncated or rewritten).
    Shrunk,
    /// The head of the file changed (a different file at the same path).
    Replaced,
}

/// What one ingest did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IngestReport {
    /// The transcript file.
    pub transcript_path: PathBuf,
    /// Its host.
    pub host: Host,
    /// `sessions.id` of the session the messages belong to (`None` when nothing was consumed).
    pub session_ref: Option<i64>,
    /// Host session id.
    pub session_id: Option<String>,
    /// Working directory recorded by the transcript (seen in this ingest or earlier).
    pub cwd: Option<PathBuf>,
    /// Offset the ingest read from.
    pub from_offset: u64,
    /// Offset the next ingest will read from.
    pub next_offset: u64,
    /// Set when the file was read again from 0.
    pub restart: Option<Restart>,
    /// Messages parsed from the new bytes.
    pub messages_seen: u64,
    /// Messages newly stored (injected ones included).
    pub messages_inserted: u64,
    /// Of those, injected messages (stored, not indexed, not counted).
    pub injected_inserted: u64,
    /// Complete lines that were not valid records (bad JSON, invalid UTF-8).
    pub malformed_lines: u64,
}

/// The saved position of one transcript.
#[derive(Debug, Clone)]
struct Checkpoint {
    session_ref: Option<i64>,
    byte_offset: u64,
    head_hash: Option<String>,
}

fn sql_err(path: &Path) -> impl Fn(rusqlite::Error) -> IngestError + '_ {
    move |source| IngestError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> IngestError + '_ {
    move |source| {
        IngestError::Transcript(TranscriptError::Io {
            path: path.to_owned(),
            source,
        })
    }
}

/// Ingests whatever `path` gained since the last ingest (see the module docs).
///
/// `project_id` (a registered project) is recorded on the session when given; `None` keeps the
/// session's current project. `session_hint` names the session when the transcript itself does
/// not (a Claude file starting with a summary record, a hook payload's `session_id`); when
/// neither exists, the id is taken from the file name.
pub fn ingest_transcript(
    store: &mut Store,
    host: Host,
    path: &Path,
    project_id: Option<&str>,
    session_hint: Option<&str>,
) -> Result<IngestReport, IngestError> {
    let key = path.to_string_lossy().into_owned();
    let checkpoint = read_checkpoint(store, &key).map_err(sql_err(path))?;
    let len = std::fs::metadata(path).map_err(io_err(path))?.len();

    let mut restart = None;
    let mut from = 0;
    if let Some(cp) = &checkpoint {
        if cp.byte_offset > len {
            restart = Some(Restart::Shrunk);
        } else if !head_matches(path, cp.head_hash.as_deref(), len)? {
            restart = Some(Restart::Replaced);
        } else {
            from = cp.byte_offset;
        }
    }
    let chunk = match parse_file_from(path, from, host) {
        Err(TranscriptError::OffsetBeyondEnd { .. }) => {
            // Shrunk between the length check and the read.
            restart = Some(Restart::Shrunk);
            from = 0;
            parse_file_from(path, 0, host)?
        }
        other => other?,
    };
    let head_hash = hash_head(path, chunk.next_offset.max(len))?;

    let mut report = IngestReport {
        transcript_path: path.to_owned(),
        host,
        session_ref: None,
        session_id: None,
        cwd: chunk.session.cwd.clone(),
        from_offset: from,
        next_offset: chunk.next_offset,
        restart,
        messages_seen: chunk.messages.len() as u64,
        messages_inserted: 0,
        injected_inserted: 0,
        malformed_lines: chunk.malformed_lines,
    };
    let consumed = chunk.next_offset > from;
    let known_session = checkpoint
        .as_ref()
        .filter(|_| restart.is_none())
        .and_then(|cp| cp.session_ref);
    if !consumed {
        if let Some(session_ref) = known_session {
            fill_known_session(store, session_ref, &mut report).map_err(sql_err(path))?;
        }
        return Ok(report);
    }

    let now = time::now();
    let tx = store.conn_mut().transaction().map_err(sql_err(path))?;
    // The transcript's own id wins; a chunk without one continues the checkpoint's session;
    // only then the caller's hint, then the file name.
    let session_ref = match (chunk.session.id.as_deref(), known_session) {
        (None, Some(session_ref)) => session_ref,
        (id, _) => {
            let id = id
                .or(session_hint)
                .map_or_else(|| session_id_from_file_name(host, path), str::to_owned);
            let upsert = SessionUpsert {
                host,
                session_id: &id,
                project_id,
                transcript_path: Some(&key),
                meta: &chunk.session,
            };
            upsert_session(&tx, &upsert, &now).map_err(sql_err(path))?
        }
    };
    // Facts a chunk without a session line still reveals (model switches, project, times).
    let upsert_extra = SessionTouch {
        project_id,
        meta: &chunk.session,
        messages: &chunk.messages,
    };
    touch_session(&tx, session_ref, &upsert_extra, &now).map_err(sql_err(path))?;
    let counts = insert_messages(&tx, session_ref, &chunk.messages).map_err(sql_err(path))?;
    tx.prepare_cached(
        "INSERT INTO ingest_checkpoints (transcript_path, host, session_ref, byte_offset, \
         file_size, head_hash, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (transcript_path) DO UPDATE SET host = excluded.host, \
         session_ref = excluded.session_ref, byte_offset = excluded.byte_offset, \
         file_size = excluded.file_size, head_hash = excluded.head_hash, \
         updated_at = excluded.updated_at",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            key,
            host.as_str(),
            session_ref,
            to_i64(chunk.next_offset),
            to_i64(len),
            head_hash,
            now
        ])
    })
    .map_err(sql_err(path))?;
    tx.commit().map_err(sql_err(path))?;

    report.messages_inserted = counts.inserted;
    report.injected_inserted = counts.injected;
    fill_known_session(store, session_ref, &mut report).map_err(sql_err(path))?;
    Ok(report)
}

/// Sets the project of an archived session (the importer resolves it from the session's cwd
/// after ingest).
pub fn set_session_project(
    store: &Store,
    session_ref: i64,
    project_id: &str,
) -> Result<(), rusqlite::Error> {
    store
        .conn()
        .prepare_cached("UPDATE sessions SET project_id = ?2 WHERE id = ?1")?
        .execute(params![session_ref, project_id])?;
    Ok(())
}

fn fill_known_session(
    store: &Store,
    session_ref: i64,
    report: &mut IngestReport,
) -> rusqlite::Result<()> {
    let row: Option<(String, Option<String>)> = store
        .conn()
        .query_row(
            "SELECT session_id, cwd FROM sessions WHERE id = ?1",
            [session_ref],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((id, cwd)) = row {
        report.session_ref = Some(session_ref);
        report.session_id = Some(id);
        if report.cwd.is_none() {
            report.cwd = cwd.map(PathBuf::from);
        }
    }
    Ok(())
}

fn read_checkpoint(store: &Store, key: &str) -> rusqlite::Result<Option<Checkpoint>> {
    store
        .conn()
        .prepare_cached(
            "SELECT session_ref, byte_offset, head_hash FROM ingest_checkpoints \
             WHERE transcript_path = ?1",
        )?
        .query_row([key], |r| {
            Ok(Checkpoint {
                session_ref: r.get(0)?,
                byte_offset: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                head_hash: r.get(2)?,
            })
        })
        .optional()
}

/// The head fingerprint stored in `ingest_checkpoints.head_hash`: `"<n>:<sha256 hex>"` of the
/// first `n = min(HEAD_HASH_BYTES, len)` bytes. Keeping `n` lets a file that was shorter than
/// 4 KiB at the last ingest be checked on exactly the bytes that were hashed.
fn hash_head(path: &Path, len: u64) -> Result<String, IngestError> {
    let n = len.min(HEAD_HASH_BYTES);
    let digest = hash_prefix(path, n)?;
    Ok(format!("{n}:{digest}"))
}

fn hash_prefix(path: &Path, n: u64) -> Result<String, IngestError> {
    let mut buf = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    File::open(path)
        .and_then(|f| f.take(n).read_to_end(&mut buf))
        .map_err(io_err(path))?;
    let digest = Sha256::digest(&buf);
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether the first bytes of `path` still hash to `saved` (a missing or unreadable fingerprint
/// counts as a match: the offset check alone then guards the file).
fn head_matches(path: &Path, saved: Option<&str>, len: u64) -> Result<bool, IngestError> {
    let Some((n, digest)) = saved.and_then(|s| s.split_once(':')) else {
        return Ok(true);
    };
    let Ok(n) = n.parse::<u64>() else {
        return Ok(true);
    };
    if n > len {
        return Ok(false);
    }
    Ok(hash_prefix(path, n)? == digest)
}

/// A session id for a transcript that names none: Codex `rollout-<timestamp>-<uuid>.jsonl` gives
/// its trailing UUID (five dash-separated groups), anything else its file stem.
fn session_id_from_file_name(host: Host, path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if host == Host::Codex {
        let groups: Vec<&str> = stem.rsplitn(6, '-').collect();
        if groups.len() == 6 {
            let mut uuid: Vec<&str> = groups[..5].to_vec();
            uuid.reverse();
            return uuid.join("-");
        }
    }
    stem
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// What [`upsert_session`] records about a session.
#[derive(Debug)]
pub struct SessionUpsert<'a> {
    /// The host.
    pub host: Host,
    /// Host session id.
    pub session_id: &'a str,
    /// Registered project, when known.
    pub project_id: Option<&'a str>,
    /// The transcript file.
    pub transcript_path: Option<&'a str>,
    /// Facts from the transcript.
    pub meta: &'a SessionMeta,
}

/// Inserts or refreshes a `sessions` row and returns its id. Known values are never replaced by
/// unknown ones; `started_at` only moves earlier.
pub fn upsert_session(
    tx: &Transaction<'_>,
    s: &SessionUpsert<'_>,
    now: &str,
) -> rusqlite::Result<i64> {
    let cwd = s
        .meta
        .cwd
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    let started = s.meta.started_at.map(time::format_ts);
    tx.prepare_cached(
        "INSERT INTO sessions (host, session_id, project_id, cwd, transcript_path, model, \
         cli_version, started_at, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) \
         ON CONFLICT (host, session_id) DO UPDATE SET \
         project_id = coalesce(excluded.project_id, project_id), \
         cwd = coalesce(excluded.cwd, cwd), \
         transcript_path = coalesce(excluded.transcript_path, transcript_path), \
         model = coalesce(excluded.model, model), \
         cli_version = coalesce(excluded.cli_version, cli_version), \
         started_at = coalesce(min(excluded.started_at, started_at), excluded.started_at, \
                               started_at), \
         updated_at = excluded.updated_at \
         RETURNING id",
    )?
    .query_row(
        params![
            s.host.as_str(),
            s.session_id,
            s.project_id,
            cwd,
            s.transcript_path,
            s.meta.model,
            s.meta.cli_version,
            started,
            now
        ],
        |r| r.get(0),
    )
}

/// Facts a chunk adds to a known session.
struct SessionTouch<'a> {
    project_id: Option<&'a str>,
    meta: &'a SessionMeta,
    messages: &'a [TranscriptMessage],
}

fn touch_session(
    tx: &Transaction<'_>,
    session_ref: i64,
    t: &SessionTouch<'_>,
    now: &str,
) -> rusqlite::Result<()> {
    let first = t
        .meta
        .started_at
        .or_else(|| t.messages.iter().find_map(|m| m.timestamp));
    let last = t.messages.iter().filter_map(|m| m.timestamp).max();
    let cwd = t
        .meta
        .cwd
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    tx.prepare_cached(
        "UPDATE sessions SET \
         project_id = coalesce(?2, project_id), \
         cwd = coalesce(?3, cwd), \
         model = coalesce(?4, model), \
         started_at = coalesce(min(?5, started_at), ?5, started_at), \
         last_message_at = coalesce(max(?6, last_message_at), ?6, last_message_at), \
         updated_at = ?7 \
         WHERE id = ?1",
    )?
    .execute(params![
        session_ref,
        t.project_id,
        cwd,
        t.meta.model,
        first.map(time::format_ts),
        last.map(time::format_ts),
        now
    ])?;
    Ok(())
}

/// Rows [`insert_messages`] added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InsertCounts {
    /// Messages newly stored.
    pub inserted: u64,
    /// Of those, injected ones.
    pub injected: u64,
    /// Of the non-injected ones, user messages.
    pub user: u64,
}

/// Stores `messages` of session `session_ref` (redacted, capped), indexes the non-injected ones
/// in `messages_fts` and adds them to the session's counters. Messages already stored (same
/// `(byte_offset, seq)`) are skipped.
pub fn insert_messages(
    tx: &Transaction<'_>,
    session_ref: i64,
    messages: &[TranscriptMessage],
) -> rusqlite::Result<InsertCounts> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO messages (session_ref, byte_offset, seq, turn_id, ts, role, origin, \
         tool_name, tool_args, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT (session_ref, byte_offset, seq) DO NOTHING",
    )?;
    let mut index = tx.prepare_cached("INSERT INTO messages_fts (rowid, terms) VALUES (?1, ?2)")?;
    let mut counts = InsertCounts::default();
    for m in messages {
        let cap = match m.origin {
            Origin::ToolOutput => MAX_TOOL_OUTPUT_BYTES,
            _ => MAX_MESSAGE_BYTES,
        };
        let text = truncate_middle(redact(&m.text), cap);
        // Codex tool calls carry their arguments as the text too: store them once.
        let args = m
            .tool_args
            .as_deref()
            .filter(|a| *a != m.text)
            .map(|a| truncate_middle(redact(a), MAX_TOOL_ARGS_BYTES));
        let changed = insert.execute(params![
            session_ref,
            to_i64(m.byte_offset),
            m.seq,
            m.turn_id,
            m.timestamp.map(time::format_ts),
            m.role.as_str(),
            m.origin.as_str(),
            m.tool_name,
            args.as_deref(),
            text.as_ref(),
        ])?;
        if changed == 0 {
            continue;
        }
        counts.inserted += 1;
        if m.origin.is_injected() {
            counts.injected += 1;
            continue;
        }
        if m.origin == Origin::User {
            counts.user += 1;
        }
        let rowid = tx.last_insert_rowid();
        let terms = match (&m.tool_name, &args) {
            (Some(name), Some(args)) => terms_for_index(&format!("{name} {args} {text}")),
            (Some(name), None) => terms_for_index(&format!("{name} {text}")),
            _ => terms_for_index(&text),
        };
        index.execute(params![rowid, terms])?;
    }
    let counted = counts.inserted - counts.injected;
    if counted > 0 {
        tx.prepare_cached(
            "UPDATE sessions SET message_count = message_count + ?2, \
             user_message_count = user_message_count + ?3 WHERE id = ?1",
        )?
        .execute(params![session_ref, to_i64(counted), to_i64(counts.user)])?;
    }
    Ok(counts)
}

/// Cuts `text` longer than `max` bytes to its head (three quarters) and tail (one quarter) on
/// character boundaries, with a marker saying how many bytes were dropped.
pub fn truncate_middle(text: Cow<'_, str>, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return text;
    }
    let mut head_end = max * 3 / 4;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len() - max / 4;
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let dropped = tail_start - head_end;
    Cow::Owned(format!(
        "{}\n[… {dropped} bytes truncated by csep …]\n{}",
        &text[..head_end],
        &text[tail_start..]
    ))
}

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod tests;
