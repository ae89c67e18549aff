//! Incremental, idempotent, redacted transcript ingest into `sessions`, `messages` and the
//! archive's index ([`crate::archive::index`]).
//!
//! Format read: a host's JSONL transcript (Codex `rollout-*.jsonl`, Claude Code
//! `projects/<dir>/<session>.jsonl`), read a block at a time and parsed by
//! [`crate::host::transcript::ChunkParser`]; only the blocks in flight are held in memory.
//!
//! Invariants:
//! - **Incremental.** `ingest_checkpoints` keeps, per transcript file (by its canonical path,
//!   however it was named), the byte offset just past the last complete line consumed; the next
//!   ingest seeks there and never re-reads older bytes.
//!   A trailing partial line (the agent is mid-write) is left for next time.
//! - **Restart without duplicates.** A file that shrank (offset past its end, or shorter than at
//!   the last ingest) or was replaced (the hash of its first [`HEAD_HASH_BYTES`] changed, or the
//!   byte before the saved offset is no longer a line's `\n`: rewritten in place) is read again
//!   from offset 0, never from the middle of a line. Every insert is `ON CONFLICT DO NOTHING` on
//!   the natural key `(session_ref, byte_offset, seq)`, so bytes that were already archived add
//!   nothing; re-ingesting the same file is a no-op. What a restart cannot recover: a rewritten
//!   line of the same session that starts where an archived one did is taken for it and not
//!   stored, and a rewrite that keeps the head, the length and a `\n` before the offset goes
//!   unnoticed (the hosts only append; telling it would mean hashing what was read).
//! - **Redacted before insert.** Message text and tool arguments go through
//!   [`crate::archive::redact`] before anything is written, then long texts are cut to
//!   documented caps ([`MAX_TOOL_OUTPUT_BYTES`], [`MAX_TOOL_ARGS_BYTES`], [`MAX_MESSAGE_BYTES`]).
//!   Redaction runs on the whole text first so that a cut can never split a secret and leave an
//!   unrecognisable half of it behind.
//! - **Injected text is stored, never counted or indexed.** Messages whose origin is
//!   `injected:*` (AGENTS.md, environment context, csep's own context, hook feedback) are kept for
//!   the record but are not indexed and do not count in the session's counters, so
//!   recall never finds csep's own output (the reference's 0.7.11 self-pollution, lessons §2.5.8).
//! - **Each term indexed once per message.** A message is indexed under its distinct terms
//!   (`recall::analyze::distinct_message_terms`), and `messages.term_count` holds how many:
//!   ranking counts a term once per row anyway, and a long tool output repeats most of its
//!   words. Phrases, which need positions, are checked by recall against
//!   `recall::analyze::message_terms`, the full sequence re-derived from the stored fields.
//!   Messages archived before schema 9 stay in `messages_fts` (some of them with every term,
//!   counted in the row length BM25 normalises by); they pass the same phrase check.
//! - **The checkpoint moves with the index.** The messages' index segment (written just before
//!   the commit), the session's counters and the new checkpoint commit together; a crash leaves
//!   the previous checkpoint. A small ingest commits everything in that one transaction. A
//!   pipelined one commits its messages every [`PART_BYTES`] once the session is named,
//!   unindexed (their ids in `message_pending`), so that a second connection copies them into the
//!   database meanwhile; its last transaction indexes and counts them (and moves them, should
//!   the transcript name another session by then). Messages an ingest left unindexed (it
//!   failed or was killed) are indexed and counted by the next ingest of any transcript, and
//!   the re-read of their bytes skips them as already stored.
//!   A backfill of many small transcripts ([`ingest_transcripts`]) commits several files in one
//!   transaction while the next ones are prepared on other threads; a crash then leaves the
//!   previous checkpoints of the whole group, which the next import reads again.
//! - **Pipelined or not, the same rows.** An increment of [`PIPELINE_MIN_BYTES`] or more is
//!   parsed on a second thread, a block at a time, and its blocks are prepared (redacted,
//!   capped, analyzed) on [`PREPARING_THREADS`] more, each taking the next block when it is
//!   free, while the calling thread writes, with a bounded number of blocks in flight; a
//!   smaller one runs on one thread. The writer takes the prepared blocks back in file order
//!   (`deal`), each with the session id the parser knew after that block, and both ways write
//!   exactly the same rows with the same rowids: should the session the increment names only
//!   show up after writing started (before any part was committed), the transaction is rolled
//!   back and the increment is ingested again on one thread. The files of a group ([`ingest_transcripts`]) are dealt to
//!   the preparing threads and written back in order the same way.
//! - **Times come from the transcript.** `started_at` and `last_message_at` are the host's own
//!   timestamps, never the time of ingest (the reference's `updated_at` was archive time).

use std::borrow::Cow;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

use crate::archive::deal::deal_out;
use crate::archive::index::{IndexBuilder, to_i64};
use crate::archive::redact::redact;
use crate::host::Host;
use crate::host::transcript::{
    ChunkParser, Origin, Role, SessionMeta, TranscriptChunk, TranscriptError, TranscriptMessage,
};
use crate::recall::analyze::{TermList, distinct_message_terms};
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
    /// Writing to the archive failed; the checkpoint did not move, so the next ingest retries
    /// the same bytes (messages already committed in parts are kept and indexed then).
    #[error(
        "archiving transcript {path} failed: {source}; its checkpoint did not move, rerun the \
         ingest to archive the same bytes again (`csep status` shows whether the database is \
         locked or damaged)"
    )]
    Sqlite {
        /// The transcript file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The path names a directory, a device or a pipe, not a transcript file.
    #[error("{path} is not a regular file; a transcript is a host's .jsonl file")]
    NotAFile {
        /// The path given.
        path: PathBuf,
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
    /// Complete lines that were not valid records, even once repaired (not JSON).
    pub malformed_lines: u64,
    /// Lines read once their invalid text was replaced by U+FFFD (bytes that are not UTF-8, a
    /// lone UTF-16 surrogate escape).
    pub repaired_lines: u64,
}

/// The saved position of one transcript.
#[derive(Debug, Clone)]
struct Checkpoint {
    session_ref: Option<i64>,
    byte_offset: u64,
    /// The file's length when the checkpoint was saved, when known.
    file_size: Option<u64>,
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

/// New bytes from which an ingest parses and prepares messages (redact, analyze) on other
/// threads while the calling thread writes them (1 MiB); a smaller increment, such as a hook's
/// one turn, is not worth a thread.
pub const PIPELINE_MIN_BYTES: u64 = 1 << 20;

/// Bytes read from a transcript per block (1 MiB): only the blocks in flight, never the whole
/// file, are held in memory.
const READ_BLOCK_BYTES: u64 = 1 << 20;

/// Threads that prepare (redact, cap, analyze) the blocks of a pipelined ingest, or the files
/// of a group, while the calling thread writes. Preparing is most of an ingest's CPU, so with a
/// writer that needs less than it, two of them keep a 2-core machine busy; while the writer
/// is the slower stage, the second one gains nothing and competes with the writer for a core.
pub const PREPARING_THREADS: usize = 2;

/// New bytes a pipelined ingest writes before it commits the messages written so far (8 MiB),
/// unindexed (their ids in `message_pending`, migration 0010), so that a second connection copies them
/// from the WAL into the database while the ingest goes on. The index, the counters and the
/// checkpoint still wait for the ingest's last transaction. Without the parts, the whole
/// copy (and its two `fsync`s) came after the last message, a third of a large ingest's time.
pub const PART_BYTES: u64 = 8 << 20;

/// Parts after which the writer of a pipelined ingest waits for the second connection to copy
/// everything committed so far before it writes on, every fourth: its next transaction then
/// finds the WAL fully copied and SQLite starts the WAL over from its beginning. Otherwise the
/// writer never let the copying catch up, and the WAL grew to the size of everything the ingest
/// wrote (45 MB for a 100 MB rollout): new file pages for every frame, and a large file to
/// delete at the end. The wait (one part's copy, a few tens of milliseconds) costs the
/// preparing threads nothing: they keep working on the blocks in flight. Measured on the
/// 104 MB rollout, alternating builds: 5 to 7 % less time and CPU.
const RESTART_PARTS: u32 = 4;

/// Blocks of a pipelined ingest dealt to the preparing threads and not yet taken back by the
/// writing thread: being prepared, or prepared and waiting for the writer (or for an earlier
/// block). With the block the reader holds and the one being written, this bounds the
/// ingest's memory to a few MiB however uneven the blocks are.
const BLOCKS_IN_FLIGHT: usize = 6;

/// How an ingest runs its stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestMode {
    /// Pipelined when the new bytes reach [`PIPELINE_MIN_BYTES`], else sequential.
    Auto,
    /// Parse and prepare every new message first, then write them (one thread).
    Sequential,
    /// Parse on a second thread and prepare on [`PREPARING_THREADS`] more while this one
    /// writes (bounded queues between them).
    Pipelined,
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
    ingest_transcript_with(
        store,
        host,
        path,
        project_id,
        session_hint,
        IngestMode::Auto,
    )
}

/// [`ingest_transcript`] with an explicit [`IngestMode`]; every mode archives exactly the same
/// rows.
pub fn ingest_transcript_with(
    store: &mut Store,
    host: Host,
    path: &Path,
    project_id: Option<&str>,
    session_hint: Option<&str>,
    mode: IngestMode,
) -> Result<IngestReport, IngestError> {
    ingest_in_parts(
        store,
        host,
        path,
        project_id,
        session_hint,
        mode,
        PART_BYTES,
    )
}

/// [`ingest_transcript_with`], committing a pipelined ingest's rows every `part_bytes`.
fn ingest_in_parts(
    store: &mut Store,
    host: Host,
    path: &Path,
    project_id: Option<&str>,
    session_hint: Option<&str>,
    mode: IngestMode,
    part_bytes: u64,
) -> Result<IngestReport, IngestError> {
    let mut plan = Plan::new(store, path)?;
    let file = plan.open()?;
    let job = plan.job(host, project_id, session_hint);
    let pipelined = match mode {
        IngestMode::Auto => plan.new_bytes() >= PIPELINE_MIN_BYTES,
        IngestMode::Sequential => false,
        IngestMode::Pipelined => true,
    };
    let done = if pipelined {
        match ingest_pipelined(store, &job, file, part_bytes)? {
            Some(done) => done,
            // The session the transcript names was only revealed after the first messages
            // were written: the transaction was rolled back; read again knowing it.
            None => ingest_sequential(store, &job, File::open(path).map_err(io_err(path))?)?,
        }
    } else {
        ingest_sequential(store, &job, file)?
    };
    plan.report(store, host, &done)
}

/// New bytes at which [`ingest_transcripts`] closes a group of transcripts and commits it
/// (32 MiB; a group holds at most this plus one file under [`PIPELINE_MIN_BYTES`]): the index
/// writes a segment at every commit, so one transaction per small file would write, and later
/// merge, a segment per file, and commit (sync) as often. A crash loses at most one group's progress, which the
/// next import reads again. The group holds the write lock while it is prepared and written
/// (about a second here); other writers wait within their busy timeout (5 s by default).
pub const GROUP_BYTES: u64 = 32 << 20;

/// Transcripts of a group being prepared, or prepared and waiting for the writing thread (or
/// for an earlier one), in [`ingest_transcripts`].
const FILES_IN_FLIGHT: usize = 6;

/// Ingests `paths` (transcripts of `host`) one after another, as [`ingest_transcript`] would
/// with no project or session hint, and hands each file's outcome to `each`, in order, with
/// the store free to use. A failed file is reported to `each` and the others go on; an error
/// from `each` stops the ingest and is returned.
///
/// Faster than calling [`ingest_transcript`] per file when there are many small transcripts
/// (a backfill): while this thread writes one file, [`PREPARING_THREADS`] other threads
/// already read and prepare the next ones, and files are committed in groups of about
/// [`GROUP_BYTES`] new bytes instead of one transaction each. A file of [`PIPELINE_MIN_BYTES`] or more new bytes
/// is ingested alone, pipelined within itself. The archived rows and checkpoints end exactly
/// as with [`ingest_transcript`], except that a group writes one index segment for all its
/// files: should a group fail to write, it is rolled back and its files are
/// ingested again one by one, so the error is reported for the file that has it. A path given
/// twice closes the group before its second turn, which then starts from the first one's
/// checkpoint. When `each` fails, the files of its group after the failing one are already
/// committed, unreported.
pub fn ingest_transcripts<E>(
    store: &mut Store,
    host: Host,
    paths: &[PathBuf],
    mut each: impl FnMut(&Store, &Path, Result<IngestReport, IngestError>) -> Result<(), E>,
) -> Result<(), E> {
    // Each group's commit is copied into the database by a second connection while the next
    // group is prepared, instead of by the writer's automatic checkpoint, which held it up.
    let checkpointer = Checkpointer::start(store);
    let result = ingest_all(store, host, paths, &checkpointer, &mut each);
    checkpointer.finish(store);
    result
}

/// [`ingest_transcripts`]' loop.
fn ingest_all<E>(
    store: &mut Store,
    host: Host,
    paths: &[PathBuf],
    checkpointer: &Checkpointer,
    each: &mut impl FnMut(&Store, &Path, Result<IngestReport, IngestError>) -> Result<(), E>,
) -> Result<(), E> {
    let mut group = Group::default();
    for path in paths {
        if group.paths.contains(&checkpoint_path(path)) {
            // Planned from the checkpoint this group has not written yet: write it first.
            ingest_group(store, host, group.take(), checkpointer, each)?;
        }
        let plan = match Plan::new(store, path) {
            Ok(plan) => plan,
            Err(e) => {
                ingest_group(store, host, group.take(), checkpointer, each)?;
                each(store, path, Err(e))?;
                continue;
            }
        };
        if plan.new_bytes() >= PIPELINE_MIN_BYTES {
            ingest_group(store, host, group.take(), checkpointer, each)?;
            let result = ingest_transcript(store, host, path, None, None);
            each(store, path, result)?;
            continue;
        }
        group.bytes += plan.new_bytes();
        group.paths.insert(plan.path.clone());
        group.plans.push(plan);
        if group.bytes >= GROUP_BYTES {
            ingest_group(store, host, group.take(), checkpointer, each)?;
        }
    }
    ingest_group(store, host, group.take(), checkpointer, each)
}

/// The transcripts [`ingest_transcripts`] has planned and not written yet.
#[derive(Default)]
struct Group {
    plans: Vec<Plan>,
    /// Their new bytes.
    bytes: u64,
    /// Their paths.
    paths: std::collections::HashSet<PathBuf>,
}

impl Group {
    /// The plans, leaving the group empty.
    fn take(&mut self) -> Vec<Plan> {
        self.bytes = 0;
        self.paths.clear();
        std::mem::take(&mut self.plans)
    }
}

/// A transcript of a group once written: its plan and what was archived, or why it could not
/// be read.
type FileOutcome = (Plan, Result<Done, IngestError>);

/// A prepared transcript of a group: its plan (as adjusted when the file was opened) and its
/// messages, or why it could not be read.
type PreparedFile = (Plan, Result<(Vec<Batch>, Parsed), IngestError>);

/// Ingests the small transcripts `plans` in one transaction, prepared on other threads, then
/// reports each; see [`ingest_transcripts`].
fn ingest_group<E>(
    store: &mut Store,
    host: Host,
    plans: Vec<Plan>,
    checkpointer: &Checkpointer,
    each: &mut impl FnMut(&Store, &Path, Result<IngestReport, IngestError>) -> Result<(), E>,
) -> Result<(), E> {
    if plans.is_empty() {
        return Ok(());
    }
    let paths: Vec<PathBuf> = plans.iter().map(|p| p.path.clone()).collect();
    let outcomes = match write_group(store, host, plans) {
        Ok(outcomes) => {
            checkpointer.copy();
            outcomes
        }
        Err(e) => {
            tracing::warn!(
                files = paths.len(),
                error = %e,
                "writing a group of transcripts failed; ingesting them one by one"
            );
            // Rolled back: nothing of the group was kept. One by one, each file's own error
            // (if any) is reported for it.
            for path in &paths {
                let result = ingest_transcript(store, host, path, None, None);
                each(store, path, result)?;
            }
            return Ok(());
        }
    };
    for (plan, outcome) in outcomes {
        let result = outcome.and_then(|done| plan.report(store, host, &done));
        each(store, &plan.path, result)?;
    }
    Ok(())
}

/// Writes a group in one transaction while [`PREPARING_THREADS`] scoped threads prepare its
/// files, each taking the next file when it is free ([`deal_out`]); the files are written in
/// order. Returns each file's outcome (a file that could not be read has its error, and
/// nothing of it was written); `Err` when writing failed, after rolling the whole group back.
fn write_group(
    store: &mut Store,
    host: Host,
    plans: Vec<Plan>,
) -> Result<Vec<FileOutcome>, IngestError> {
    let first = plans[0].path.clone();
    let tx = store.conn_mut().transaction().map_err(sql_err(&first))?;
    std::thread::scope(|scope| {
        let (mut dealer, files) = deal_out(
            scope,
            PREPARING_THREADS,
            FILES_IN_FLIGHT,
            move |mut plan: Plan| {
                let prepared = plan.open().and_then(|file| {
                    let job = plan.job(host, None, None);
                    prepare_all(&job, file)
                });
                (plan, prepared)
            },
        );
        scope.spawn(move || plans.into_iter().all(|plan| dealer.deal(plan)));
        let mut outcomes = Vec::new();
        let mut index = IndexBuilder::default();
        for file in files {
            // A panic while preparing: commit nothing of the group.
            let (plan, prepared): PreparedFile =
                file.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            let (batches, parsed) = match prepared {
                Ok(prepared) => prepared,
                Err(e) => {
                    outcomes.push((plan, Err(e)));
                    continue;
                }
            };
            let job = plan.job(host, None, None);
            let done = write_prepared(&tx, &job, batches, parsed, &mut index)?;
            outcomes.push((plan, Ok(done)));
        }
        flush_index(&tx, &mut index).map_err(sql_err(&first))?;
        tx.commit().map_err(sql_err(&first))?;
        Ok(outcomes)
    })
}

/// The path a transcript's checkpoint is kept under: `path` made canonical (absolute, with no
/// `.`, `..`, doubled `/` or symbolic link left), so `./s/t.jsonl`, `s//t.jsonl` and a link to
/// the file share one checkpoint instead of each reading the file again from 0. A path that
/// cannot be made canonical (the file is missing) is kept as given; its ingest reports why.
fn checkpoint_path(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// Where one ingest of a transcript starts: what its checkpoint and the file say before any
/// message is read.
#[derive(Debug)]
struct Plan {
    /// The transcript, as [`checkpoint_path`] names it.
    path: PathBuf,
    /// The checkpoint key (the path as text).
    key: String,
    /// The file's length when planned.
    len: u64,
    /// Offset to read from.
    from: u64,
    /// Why the file is read again from 0, if it is.
    restart: Option<Restart>,
    /// The checkpoint's session, which a chunk naming none continues.
    known_session: Option<i64>,
}

impl Plan {
    /// Reads `path`'s checkpoint and compares it with the file: a file that shrank or whose
    /// head changed is read again from 0.
    fn new(store: &Store, path: &Path) -> Result<Plan, IngestError> {
        let path = &checkpoint_path(path);
        let key = path.to_string_lossy().into_owned();
        let checkpoint = read_checkpoint(store, &key).map_err(sql_err(path))?;
        let meta = std::fs::metadata(path).map_err(io_err(path))?;
        // A device or a pipe (`/dev/zero` as a hook's transcript path) never ends: only regular
        // files are transcripts.
        if !meta.is_file() {
            return Err(IngestError::NotAFile {
                path: path.to_path_buf(),
            });
        }
        let len = meta.len();
        let mut restart = None;
        let mut from = 0;
        if let Some(cp) = &checkpoint {
            // A file shorter than it was (even if still past the offset) was cut and may have
            // grown again with other lines; one whose offset no longer follows a line's end was
            // rewritten: either way the offset points into other text.
            if cp.byte_offset > len || cp.file_size.is_some_and(|size| len < size) {
                restart = Some(Restart::Shrunk);
            } else if !head_matches(path, cp.head_hash.as_deref(), len)?
                || !follows_line_end(path, cp.byte_offset)?
            {
                restart = Some(Restart::Replaced);
            } else {
                from = cp.byte_offset;
            }
        }
        let known_session = checkpoint
            .as_ref()
            .filter(|_| restart.is_none())
            .and_then(|cp| cp.session_ref);
        Ok(Plan {
            path: path.to_owned(),
            key,
            len,
            from,
            restart,
            known_session,
        })
    }

    /// Bytes past the offset to read from, as planned.
    fn new_bytes(&self) -> u64 {
        self.len.saturating_sub(self.from)
    }

    /// Opens the file; when it shrank below the planned offset since, reads it from 0.
    fn open(&mut self) -> Result<File, IngestError> {
        let path = &self.path;
        let file = File::open(path).map_err(io_err(path))?;
        if self.from > file.metadata().map_err(io_err(path))?.len() {
            self.restart = Some(Restart::Shrunk);
            self.from = 0;
            self.known_session = None;
        }
        Ok(file)
    }

    fn job<'a>(
        &'a self,
        host: Host,
        project_id: Option<&'a str>,
        session_hint: Option<&'a str>,
    ) -> Job<'a> {
        Job {
            host,
            path: &self.path,
            key: &self.key,
            project_id,
            session_hint,
            known_session: self.known_session,
            from: self.from,
            len: self.len,
        }
    }

    /// The report of a finished ingest of this plan.
    fn report(&self, store: &Store, host: Host, done: &Done) -> Result<IngestReport, IngestError> {
        let mut report = IngestReport {
            transcript_path: self.path.clone(),
            host,
            session_ref: None,
            session_id: None,
            cwd: done.chunk.session.cwd.clone(),
            from_offset: self.from,
            next_offset: done.chunk.next_offset,
            restart: self.restart,
            messages_seen: done.messages_seen,
            messages_inserted: done.counts.inserted,
            injected_inserted: done.counts.injected,
            malformed_lines: done.chunk.malformed_lines,
            repaired_lines: done.chunk.repaired_lines,
        };
        if let Some(session_ref) = done.session_ref.or(self.known_session) {
            fill_known_session(store, session_ref, &mut report).map_err(sql_err(&self.path))?;
        }
        Ok(report)
    }
}

/// What one ingest works on.
struct Job<'a> {
    host: Host,
    path: &'a Path,
    key: &'a str,
    project_id: Option<&'a str>,
    session_hint: Option<&'a str>,
    known_session: Option<i64>,
    from: u64,
    len: u64,
}

impl Job<'_> {
    /// The session new messages go to: the transcript's own id wins; a chunk without one
    /// continues the checkpoint's session; only then the caller's hint, then the file name.
    /// A Claude Code subagent's transcript repeats its parent's id: it is the session
    /// [`subagent_session_id`] names instead (under the parent's, its messages would collide
    /// with the parent's at equal byte offsets).
    fn session_for(&self, transcript_id: Option<&str>) -> SessionChoice {
        match (transcript_id, self.known_session) {
            (None, Some(session_ref)) => SessionChoice::Known(session_ref),
            (id, _) => {
                let id = id.or(self.session_hint).map_or_else(
                    || session_id_from_file_name(self.host, self.path),
                    str::to_owned,
                );
                SessionChoice::Id(match subagent_of(self.host, self.path) {
                    Some(agent) => subagent_session_id(&id, agent),
                    None => id,
                })
            }
        }
    }
}

/// Which session an ingest writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SessionChoice {
    /// The checkpoint's session (`sessions.id`).
    Known(i64),
    /// The session with this host session id (upserted).
    Id(String),
}

/// A block of messages ready to store, with the session id known when it was parsed.
struct Batch {
    session_id: Option<String>,
    /// Offset just past the block's last complete line.
    end: u64,
    messages: Vec<PreparedMessage>,
}

/// A block of parsed messages not prepared yet, with the session id known when it was parsed.
struct Block {
    session_id: Option<String>,
    /// Offset just past the block's last complete line.
    end: u64,
    messages: Vec<TranscriptMessage>,
}

impl Block {
    /// Redacts, caps and analyzes the block's messages (the CPU-heavy part of an ingest).
    fn prepare(self) -> Batch {
        Batch {
            session_id: self.session_id,
            end: self.end,
            messages: self.messages.into_iter().map(prepare_message).collect(),
        }
    }
}

/// What the reading stage saw once it reached the end of the file.
struct Parsed {
    /// Session facts and counters (its `messages` are empty: they went out in batches).
    chunk: TranscriptChunk,
    messages_seen: u64,
    first_ts: Option<jiff::Timestamp>,
    last_ts: Option<jiff::Timestamp>,
}

/// What a finished ingest wrote.
struct Done {
    chunk: TranscriptChunk,
    messages_seen: u64,
    session_ref: Option<i64>,
    counts: InsertCounts,
}

/// Reads `file` from `job.from` a block at a time, parses it and hands each block's messages to
/// `send` (sequential by nature: a line may span blocks); stops early when `send` returns
/// `false`.
fn read_blocks(
    job: &Job<'_>,
    mut file: File,
    mut send: impl FnMut(Block) -> bool,
) -> Result<Parsed, IngestError> {
    let path = job.path;
    file.seek(SeekFrom::Start(job.from)).map_err(io_err(path))?;
    let mut parser = ChunkParser::new(job.host, job.from);
    let mut buf = Vec::new();
    let mut parsed = Parsed {
        chunk: TranscriptChunk::default(),
        messages_seen: 0,
        first_ts: None,
        last_ts: None,
    };
    loop {
        let read = file
            .by_ref()
            .take(READ_BLOCK_BYTES)
            .read_to_end(&mut buf)
            .map_err(io_err(path))?;
        if read == 0 {
            break;
        }
        let consumed = parser.feed(&buf);
        buf.drain(..consumed);
        let messages = parser.take_messages();
        if messages.is_empty() {
            continue;
        }
        parsed.messages_seen += messages.len() as u64;
        for ts in messages.iter().filter_map(|m| m.timestamp) {
            parsed.first_ts.get_or_insert(ts);
            parsed.last_ts = Some(parsed.last_ts.map_or(ts, |last| last.max(ts)));
        }
        let block = Block {
            session_id: parser.session().id.clone(),
            end: parser.next_offset(),
            messages,
        };
        if !send(block) {
            break;
        }
    }
    parsed.chunk = parser.finish();
    Ok(parsed)
}

/// Reads and prepares every new message of `file` on this thread (for small increments: they
/// are all held).
fn prepare_all(job: &Job<'_>, file: File) -> Result<(Vec<Batch>, Parsed), IngestError> {
    let mut batches = Vec::new();
    let parsed = read_blocks(job, file, |block| {
        batches.push(block.prepare());
        true
    })?;
    Ok((batches, parsed))
}

/// Writes a whole prepared increment in `tx` (which the caller commits).
fn write_prepared(
    tx: &Transaction<'_>,
    job: &Job<'_>,
    batches: Vec<Batch>,
    parsed: Parsed,
    index: &mut IndexBuilder,
) -> Result<Done, IngestError> {
    let mut writer = Writer::new(tx, job, index, false);
    for mut batch in batches {
        // The whole increment is known: write to the session it names in the end.
        batch.session_id.clone_from(&parsed.chunk.session.id);
        writer.write(&batch)?;
    }
    writer.finish(parsed)?.ok_or_else(|| IngestError::Sqlite {
        // Unreachable: every batch above names the final session.
        path: job.path.to_owned(),
        source: rusqlite::Error::InvalidQuery,
    })
}

/// One thread: reads and prepares every new message, then writes them. Holds the prepared
/// messages of the whole increment, so it is for small increments (and the fallback).
fn ingest_sequential(store: &mut Store, job: &Job<'_>, file: File) -> Result<Done, IngestError> {
    let (batches, parsed) = prepare_all(job, file)?;
    let tx = store.conn_mut().transaction().map_err(sql_err(job.path))?;
    let mut index = IndexBuilder::default();
    let done = write_prepared(&tx, job, batches, parsed, &mut index)?;
    flush_index(&tx, &mut index).map_err(sql_err(job.path))?;
    tx.commit().map_err(sql_err(job.path))?;
    Ok(done)
}

/// Parses on a scoped thread, prepares on [`PREPARING_THREADS`] more and writes on this one.
/// The reader deals each block to whichever preparer is free ([`deal_out`]) and this thread
/// takes the prepared batches back in file order; at most [`BLOCKS_IN_FLIGHT`] blocks are
/// dealt and not yet taken back.
///
/// Every `part_bytes` of new bytes, once the session is named, the messages written so far are
/// committed unindexed ([`PART_BYTES`]) and a [`Checkpointer`] copies them into the database.
/// Returns `None` (everything rolled back) when the session the whole increment names differs
/// from the one its first block named and no part was committed yet.
fn ingest_pipelined(
    store: &mut Store,
    job: &Job<'_>,
    file: File,
    part_bytes: u64,
) -> Result<Option<Done>, IngestError> {
    // The checkpointer copies each part; the writer's own automatic checkpoint would do it on
    // this thread, holding up the writing.
    let checkpointer = Checkpointer::start(store);
    let done = write_pipelined(store, job, file, part_bytes, &checkpointer);
    checkpointer.finish(store);
    done
}

/// [`ingest_pipelined`]'s threads and transaction(s).
fn write_pipelined(
    store: &mut Store,
    job: &Job<'_>,
    file: File,
    part_bytes: u64,
    checkpointer: &Checkpointer,
) -> Result<Option<Done>, IngestError> {
    let tx = store.conn_mut().transaction().map_err(sql_err(job.path))?;
    let mut index = IndexBuilder::default();
    let mut writer = Writer::new(&tx, job, &mut index, true);
    let done = std::thread::scope(move |scope| {
        let (mut dealer, batches) =
            deal_out(scope, PREPARING_THREADS, BLOCKS_IN_FLIGHT, Block::prepare);
        let reader = scope.spawn(move || read_blocks(job, file, |block| dealer.deal(block)));
        let mut failed = None;
        for batch in batches {
            let batch = batch.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            let written = writer
                .write(&batch)
                .and_then(|()| writer.end_part(batch.end, part_bytes));
            match written {
                Ok(false) => {}
                Ok(true) if writer.parts.is_multiple_of(RESTART_PARTS) => {
                    checkpointer.copy_and_wait();
                }
                Ok(true) => checkpointer.copy(),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // The loop consumed (dropped) the batches: if the writer failed, the reader stops at
        // its next block and the preparers at their next result.
        let parsed = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        if let Some(e) = failed {
            return Err(e);
        }
        // The last rows too: they are copied while the index is written.
        if writer.commit_part(u64::MAX)? {
            checkpointer.copy();
        }
        writer.finish(parsed?)
    })?;
    if done.is_some() {
        flush_index(&tx, &mut index).map_err(sql_err(job.path))?;
        tx.commit().map_err(sql_err(job.path))?;
    }
    Ok(done)
}

/// A thread with its own connection to the database that copies committed parts of a
/// pipelined ingest from the WAL into the database (a passive checkpoint: it never waits for
/// a lock and never blocks the writer), while the writer goes on.
///
/// It copies what was committed when asked, not the ingest's last transaction: SQLite's own
/// checkpoint copies that, once the writer's automatic checkpoint is back on or on close.
/// While it runs, the writer's automatic checkpoint is off ([`Checkpointer::start`]), and
/// [`Checkpointer::finish`] turns it back on as it was.
struct Checkpointer {
    /// Asks for a copy; `None` when there is nothing to copy with (see [`Checkpointer::start`]).
    copy: Option<std::sync::mpsc::Sender<CopyRequest>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The writer's `wal_autocheckpoint` before, to restore.
    autocheckpoint: Option<i64>,
}

/// A request to the [`Checkpointer`]'s thread: where to say the copy is done, when the asker
/// waits for it.
type CopyRequest = Option<std::sync::mpsc::SyncSender<()>>;

impl Checkpointer {
    /// Turns `store`'s automatic checkpoint off and starts the copying thread. A database that
    /// is not a file, or whose setting cannot be read or changed, keeps its automatic
    /// checkpoint and gets no thread: the copy is an optimisation, never a reason to fail.
    fn start(store: &Store) -> Checkpointer {
        let none = Checkpointer {
            copy: None,
            thread: None,
            autocheckpoint: None,
        };
        let database = store.path();
        if !database.is_file() {
            return none;
        }
        let Ok(autocheckpoint) = store
            .conn()
            .pragma_query_value(None, "wal_autocheckpoint", |r| r.get::<_, i64>(0))
        else {
            return none;
        };
        if store
            .conn()
            .pragma_update(None, "wal_autocheckpoint", 0)
            .is_err()
        {
            return none;
        }
        let database = database.to_owned();
        let (copy, copies) = std::sync::mpsc::channel::<CopyRequest>();
        let thread = std::thread::spawn(move || {
            let conn = match Connection::open_with_flags(
                &database,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            ) {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::debug!(error = %e, "checkpointer: cannot open the database");
                    return;
                }
            };
            while let Ok(first) = copies.recv() {
                // Requests that came meanwhile are served by this copy too.
                let waiting: Vec<_> = std::iter::once(first)
                    .chain(copies.try_iter())
                    .flatten()
                    .collect();
                // The copy is an optimisation: whatever it leaves, SQLite's own checkpoint
                // (at the next commits or on close) copies.
                if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
                    tracing::debug!(error = %e, "checkpointer: passive checkpoint failed");
                }
                for done in waiting {
                    let _ = done.send(());
                }
            }
        });
        Checkpointer {
            copy: Some(copy),
            thread: Some(thread),
            autocheckpoint: Some(autocheckpoint),
        }
    }

    /// Waits for a copy under way to end and turns `store`'s automatic checkpoint back on.
    fn finish(mut self, store: &Store) {
        drop(self.copy.take());
        if let Some(thread) = self.thread.take() {
            // A panic in there lost an optimisation, nothing else.
            let _ = thread.join();
        }
        if let Some(autocheckpoint) = self.autocheckpoint
            && let Err(e) = store
                .conn()
                .pragma_update(None, "wal_autocheckpoint", autocheckpoint)
        {
            tracing::warn!(error = %e, "could not turn the automatic checkpoint back on");
        }
    }

    /// Asks for the committed frames to be copied (returns at once).
    fn copy(&self) {
        if let Some(copy) = &self.copy {
            let _ = copy.send(None);
        }
    }

    /// Asks for the committed frames to be copied and waits until they are, so that the next
    /// write transaction of this process finds the WAL fully copied and starts it over
    /// ([`RESTART_PARTS`]). A passive copy: it waits for no other connection, and one that
    /// reads the WAL meanwhile only keeps it from starting over.
    fn copy_and_wait(&self) {
        if let Some(copy) = &self.copy {
            let (done, wait) = std::sync::mpsc::sync_channel(1);
            if copy.send(Some(done)).is_ok() {
                // An error: the thread is gone, there is nothing to wait for.
                let _ = wait.recv();
            }
        }
    }
}

/// The writing stage of one increment, in a transaction the caller commits (or drops, which
/// rolls it back).
struct Writer<'t, 'c, 'j, 'i> {
    tx: &'t Transaction<'c>,
    job: &'j Job<'j>,
    /// Postings of the rows written, flushed by the caller before it commits.
    index: &'i mut IndexBuilder,
    /// The session chosen when the first block came, its `sessions.id`, and whether that block
    /// named it (parts are committed only then).
    session: Option<(SessionChoice, i64, bool)>,
    counts: InsertCounts,
    now: String,
    /// Rows written unindexed (in `message_pending`) and not settled yet, when writing in parts.
    pending: Option<Vec<PendingRow>>,
    /// The first row this writer stored.
    first_row: Option<i64>,
    /// Parts committed, and where the one under way started.
    parts: u32,
    part_start: u64,
}

impl<'t, 'c, 'j, 'i> Writer<'t, 'c, 'j, 'i> {
    /// A writer in `tx`, which should be deferred (the default): it takes no lock until the
    /// first write, so an ingest with nothing new costs nothing. `in_parts`: rows are written
    /// unindexed and settled at the end, so that parts can be committed ([`Writer::end_part`]).
    fn new(
        tx: &'t Transaction<'c>,
        job: &'j Job<'j>,
        index: &'i mut IndexBuilder,
        in_parts: bool,
    ) -> Self {
        Writer {
            tx,
            job,
            index,
            session: None,
            counts: InsertCounts::default(),
            now: time::now(),
            pending: in_parts.then(Vec::new),
            first_row: None,
            parts: 0,
            part_start: job.from,
        }
    }

    /// `sessions.id` for `choice`: an id is upserted with no facts yet (`finish` records them),
    /// which leaves a known session's facts as they were.
    fn session_ref(&self, choice: &SessionChoice, meta: &SessionMeta) -> rusqlite::Result<i64> {
        match choice {
            SessionChoice::Known(session_ref) => Ok(*session_ref),
            SessionChoice::Id(id) => {
                let upsert = SessionUpsert {
                    host: self.job.host,
                    session_id: id,
                    project_id: self.job.project_id,
                    transcript_path: Some(self.job.key),
                    meta,
                };
                upsert_session(self.tx, &upsert, &self.now)
            }
        }
    }

    fn write(&mut self, batch: &Batch) -> Result<(), IngestError> {
        let path = self.job.path;
        let session_ref = match &self.session {
            Some((_, session_ref, _)) => *session_ref,
            None => {
                let choice = self.job.session_for(batch.session_id.as_deref());
                let session_ref = self
                    .session_ref(&choice, &SessionMeta::default())
                    .map_err(sql_err(path))?;
                self.session = Some((choice, session_ref, batch.session_id.is_some()));
                session_ref
            }
        };
        let stored = insert_prepared(
            self.tx,
            session_ref,
            &batch.messages,
            &mut self.counts,
            self.index,
            self.pending.as_mut(),
        )
        .map_err(sql_err(path))?;
        if let Some((first, _)) = stored {
            self.first_row.get_or_insert(first);
        }
        Ok(())
    }

    /// After the batch ending at offset `end`: commits the rows written so far when the part
    /// under way holds `part_bytes` and some rows, and the session was named; returns whether
    /// it did.
    fn end_part(&mut self, end: u64, part_bytes: u64) -> Result<bool, IngestError> {
        if end.saturating_sub(self.part_start) < part_bytes {
            return Ok(false);
        }
        self.commit_part(end)
    }

    /// Commits the rows written so far, up to offset `end`, if there are any and the session
    /// was named; returns whether it did.
    fn commit_part(&mut self, end: u64) -> Result<bool, IngestError> {
        let named = self.session.as_ref().is_some_and(|(_, _, named)| *named);
        let rows = self.pending.as_ref().is_some_and(|p| !p.is_empty());
        if !rows || !named {
            return Ok(false);
        }
        // The transaction object stays open for the caller; only SQLite's transaction ends
        // here and a new one begins (deferred, like the first).
        self.tx
            .execute_batch("COMMIT; BEGIN")
            .map_err(sql_err(self.job.path))?;
        self.parts += 1;
        self.part_start = end;
        Ok(true)
    }

    /// Records the session's facts, counters and the new checkpoint (the caller flushes the
    /// index and commits); `None` when the session the whole increment names is not the one
    /// writing started with and no part was committed (nothing is kept then). When parts
    /// were, the rows written move to the session named in the end.
    fn finish(mut self, parsed: Parsed) -> Result<Option<Done>, IngestError> {
        let job = self.job;
        let path = job.path;
        let chunk = parsed.chunk;
        if chunk.next_offset <= job.from {
            return Ok(Some(Done {
                chunk,
                messages_seen: parsed.messages_seen,
                session_ref: None,
                counts: InsertCounts::default(),
            }));
        }
        let choice = job.session_for(chunk.session.id.as_deref());
        let moved_from = match &self.session {
            Some((started, started_ref, _)) if *started != choice => {
                if self.parts == 0 {
                    return Ok(None);
                }
                Some(*started_ref)
            }
            _ => None,
        };
        let head_hash = hash_head(path, chunk.next_offset.max(job.len))?;
        let session_ref = self
            .session_ref(&choice, &chunk.session)
            .map_err(sql_err(path))?;
        let tx = self.tx;
        if let (Some(from), Some(first)) = (moved_from, self.first_row) {
            move_rows(tx, from, session_ref, first).map_err(sql_err(path))?;
        }
        if let Some(pending) = &mut self.pending {
            settle(tx, self.index, pending, &mut self.counts).map_err(sql_err(path))?;
        }
        let touch = SessionTouch {
            project_id: job.project_id,
            meta: &chunk.session,
            first: chunk.session.started_at.or(parsed.first_ts),
            last: parsed.last_ts,
        };
        touch_session(tx, session_ref, &touch, &self.now).map_err(sql_err(path))?;
        add_to_counters(tx, session_ref, &self.counts).map_err(sql_err(path))?;
        let saved = SavedCheckpoint {
            key: job.key,
            host: job.host,
            session_ref,
            byte_offset: chunk.next_offset,
            file_size: job.len,
            head_hash: &head_hash,
        };
        write_checkpoint(tx, &saved, &self.now).map_err(sql_err(path))?;
        Ok(Some(Done {
            chunk,
            messages_seen: parsed.messages_seen,
            session_ref: Some(session_ref),
            counts: self.counts,
        }))
    }
}

/// A row stored unindexed by a writer in parts, with what settling it needs.
#[derive(Debug, Clone, Copy)]
struct PendingRow {
    rowid: i64,
    /// Counted in the session's user messages.
    user: bool,
}

/// Takes the rows of `pending` out of `message_pending`: they are indexed by the segment
/// `index` writes in the same transaction. A row another ingest indexed meanwhile (see
/// [`flush_index`]) is taken back from `index` and from `counts`, which that ingest counted it in.
fn settle(
    tx: &Transaction<'_>,
    index: &mut IndexBuilder,
    pending: &mut Vec<PendingRow>,
    counts: &mut InsertCounts,
) -> rusqlite::Result<()> {
    let mut ours: Vec<i64> = pending.iter().map(|row| row.rowid).collect();
    ours.sort_unstable();
    if let (Some(&first), Some(&last)) = (ours.first(), ours.last()) {
        // Nearly always the rows pending in that range are exactly these: one statement takes
        // them all, where one per row was a tenth of the time left after the last message.
        let listed: Vec<i64> = tx
            .prepare_cached(
                "SELECT id FROM message_pending WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
            )?
            .query_map([first, last], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if listed == ours {
            tx.prepare_cached("DELETE FROM message_pending WHERE id BETWEEN ?1 AND ?2")?
                .execute([first, last])?;
            pending.clear();
            return Ok(());
        }
    }
    let mut settle = tx.prepare_cached("DELETE FROM message_pending WHERE id = ?1")?;
    let mut taken = rustc_hash::FxHashSet::default();
    for row in pending.drain(..) {
        if settle.execute([row.rowid])? == 0 {
            taken.insert(row.rowid);
            counts.inserted -= 1;
            counts.user -= u64::from(row.user);
        }
    }
    if !taken.is_empty() {
        index.forget(&taken);
    }
    Ok(())
}

/// Moves the rows from `first` on of session `from` (what a writer in parts stored before the
/// transcript named another session) to session `to`, and fits both message ranges. A row
/// `to` already holds at the same offset is dropped, as an insert would have skipped it.
fn move_rows(tx: &Transaction<'_>, from: i64, to: i64, first: i64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE OR IGNORE messages SET session_ref = ?2 WHERE session_ref = ?1 AND id >= ?3",
        params![from, to, first],
    )?;
    tx.execute(
        "DELETE FROM messages WHERE session_ref = ?1 AND id >= ?2",
        params![from, first],
    )?;
    tx.execute(
        "UPDATE sessions SET \
         first_message_id = (SELECT min(id) FROM messages WHERE session_ref = ?1), \
         last_message_id = (SELECT max(id) FROM messages WHERE session_ref = ?1) WHERE id = ?1",
        [from],
    )?;
    let last: Option<i64> = tx.query_row(
        "SELECT max(id) FROM messages WHERE session_ref = ?1 AND id >= ?2",
        params![to, first],
        |r| r.get(0),
    )?;
    if let Some(last) = last {
        widen_message_range(tx, to, first, last)?;
    }
    Ok(())
}

/// A message an ingest left unindexed, as [`flush_index`] reads it.
struct LeftRow {
    rowid: i64,
    session_ref: i64,
    /// A user message (counted in the session's user messages).
    user: bool,
    tool_name: Option<String>,
    tool_args: Option<String>,
    text: String,
}

/// Indexes the messages an ingest that ended early left unindexed (in `message_pending`,
/// migration 0010), adds them to their sessions' counters, and writes `index`'s segment. Run
/// before every commit that writes a segment; finds nothing nearly always.
fn flush_index(tx: &Transaction<'_>, index: &mut IndexBuilder) -> rusqlite::Result<()> {
    let any_left: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM message_pending)")?
        .query_row([], |r| r.get(0))?;
    if !any_left {
        return index.flush(tx);
    }
    let left: Vec<LeftRow> = tx
        .prepare_cached(
            "SELECT m.id, m.session_ref, m.origin, m.tool_name, m.tool_args, m.text \
             FROM message_pending p JOIN messages m ON m.id = p.id ORDER BY p.id",
        )?
        .query_map([], |r| {
            Ok(LeftRow {
                rowid: r.get(0)?,
                session_ref: r.get(1)?,
                user: r.get_ref(2)?.as_str()? == Origin::User.as_str(),
                tool_name: r.get(3)?,
                tool_args: r.get(4)?,
                text: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut counted: std::collections::BTreeMap<i64, InsertCounts> = Default::default();
    for row in left {
        let terms = distinct_message_terms(
            row.tool_name.as_deref(),
            row.tool_args.as_deref(),
            &row.text,
        );
        index.add(row.rowid, &terms);
        let counts = counted.entry(row.session_ref).or_default();
        counts.inserted += 1;
        counts.user += u64::from(row.user);
    }
    for (session_ref, counts) in &counted {
        add_to_counters(tx, *session_ref, counts)?;
    }
    // Ids of messages deleted since go too.
    tx.prepare_cached("DELETE FROM message_pending")?
        .execute([])?;
    index.flush(tx)
}

/// A transcript's position, as [`write_checkpoint`] saves it.
struct SavedCheckpoint<'a> {
    key: &'a str,
    host: Host,
    session_ref: i64,
    byte_offset: u64,
    file_size: u64,
    head_hash: &'a str,
}

/// Inserts or updates a transcript's checkpoint. Not an upsert: one whose update sets the
/// foreign key `session_ref` opens a statement transaction, and FTS5 flushes its pending index
/// at the start of each (see [`upsert_session`]), so `session_ref` is updated on its own, only
/// when it changed (a restarted file).
fn write_checkpoint(
    tx: &Transaction<'_>,
    c: &SavedCheckpoint<'_>,
    now: &str,
) -> rusqlite::Result<()> {
    let saved: Option<Option<i64>> = tx
        .prepare_cached("SELECT session_ref FROM ingest_checkpoints WHERE transcript_path = ?1")?
        .query_row([c.key], |r| r.get(0))
        .optional()?;
    let byte_offset = to_i64(c.byte_offset);
    let file_size = to_i64(c.file_size);
    match saved {
        None => {
            tx.prepare_cached(
                "INSERT INTO ingest_checkpoints (transcript_path, host, session_ref, \
                 byte_offset, file_size, head_hash, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                c.key,
                c.host.as_str(),
                c.session_ref,
                byte_offset,
                file_size,
                c.head_hash,
                now
            ])?;
        }
        Some(saved_session) => {
            tx.prepare_cached(
                "UPDATE ingest_checkpoints SET host = ?2, byte_offset = ?3, file_size = ?4, \
                 head_hash = ?5, updated_at = ?6 WHERE transcript_path = ?1",
            )?
            .execute(params![
                c.key,
                c.host.as_str(),
                byte_offset,
                file_size,
                c.head_hash,
                now
            ])?;
            if saved_session != Some(c.session_ref) {
                tx.prepare_cached(
                    "UPDATE ingest_checkpoints SET session_ref = ?2 WHERE transcript_path = ?1",
                )?
                .execute(params![c.key, c.session_ref])?;
            }
        }
    }
    Ok(())
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
            "SELECT session_ref, byte_offset, file_size, head_hash FROM ingest_checkpoints \
             WHERE transcript_path = ?1",
        )?
        .query_row([key], |r| {
            Ok(Checkpoint {
                session_ref: r.get(0)?,
                byte_offset: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                file_size: r
                    .get::<_, Option<i64>>(2)?
                    .and_then(|n| u64::try_from(n).ok()),
                head_hash: r.get(3)?,
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

/// Whether the byte just before `offset` is the `\n` that ended the last line consumed (a saved
/// offset always follows one; offset 0 has nothing before it).
fn follows_line_end(path: &Path, offset: u64) -> Result<bool, IngestError> {
    let Some(before) = offset.checked_sub(1) else {
        return Ok(true);
    };
    let mut byte = [0u8; 1];
    let mut file = File::open(path).map_err(io_err(path))?;
    file.seek(SeekFrom::Start(before))
        .and_then(|_| file.read_exact(&mut byte))
        .map_err(io_err(path))?;
    Ok(byte[0] == b'\n')
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

/// The agent id of a Claude Code subagent transcript, `agent-<id>.jsonl`, wherever it lies:
/// `<session>/subagents/agent-<id>.jsonl` (current Claude Code) or `agent-<id>.jsonl` next to
/// its parent's `<session>.jsonl` in `projects/<dir>/` (older Claude Code and the Agent SDK).
/// Either way the file repeats its parent's session id (its records are `isSidechain`), and a
/// main transcript is named `<session>.jsonl` after its UUID, never `agent-…`.
pub fn subagent_of(host: Host, path: &Path) -> Option<&str> {
    if host != Host::Claude || path.extension()? != "jsonl" {
        return None;
    }
    path.file_stem()?
        .to_str()?
        .strip_prefix("agent-")
        .filter(|agent| !agent.is_empty())
}

/// The archive's session id of subagent `agent` of session `parent`: `<parent>/agent-<agent>`,
/// the transcript's path under the parent's directory.
pub fn subagent_session_id(parent: &str, agent: &str) -> String {
    format!("{parent}/agent-{agent}")
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
///
/// Written so that no statement opens a statement transaction when `project_id` is `None` (an
/// import): FTS5 flushes its pending index at the start of each, so a transaction ingesting
/// many transcripts would write a full-text segment per file. A statement with `RETURNING`
/// opens one, so the id is read by a second statement; so does an update of the foreign key
/// `project_id`, so it is set by a statement of its own, only when known.
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
         cwd = coalesce(excluded.cwd, cwd), \
         transcript_path = coalesce(excluded.transcript_path, transcript_path), \
         model = coalesce(excluded.model, model), \
         cli_version = coalesce(excluded.cli_version, cli_version), \
         started_at = coalesce(min(excluded.started_at, started_at), excluded.started_at, \
                               started_at), \
         updated_at = excluded.updated_at",
    )?
    .execute(params![
        s.host.as_str(),
        s.session_id,
        s.project_id,
        cwd,
        s.transcript_path,
        s.meta.model,
        s.meta.cli_version,
        started,
        now
    ])?;
    let id = tx
        .prepare_cached("SELECT id FROM sessions WHERE host = ?1 AND session_id = ?2")?
        .query_row(params![s.host.as_str(), s.session_id], |r| r.get(0))?;
    set_known_project(tx, id, s.project_id)?;
    Ok(id)
}

/// Sets session `session_ref`'s project to `project_id` when it is known and differs (an
/// unknown project never replaces a known one). A statement of its own: see [`upsert_session`].
fn set_known_project(
    tx: &Transaction<'_>,
    session_ref: i64,
    project_id: Option<&str>,
) -> rusqlite::Result<()> {
    if let Some(project_id) = project_id {
        tx.prepare_cached(
            "UPDATE sessions SET project_id = ?2 WHERE id = ?1 AND project_id IS NOT ?2",
        )?
        .execute(params![session_ref, project_id])?;
    }
    Ok(())
}

/// Facts a chunk adds to a known session.
struct SessionTouch<'a> {
    project_id: Option<&'a str>,
    meta: &'a SessionMeta,
    /// When the chunk starts: its session start, else its first message's time.
    first: Option<jiff::Timestamp>,
    /// Its latest message time.
    last: Option<jiff::Timestamp>,
}

fn touch_session(
    tx: &Transaction<'_>,
    session_ref: i64,
    t: &SessionTouch<'_>,
    now: &str,
) -> rusqlite::Result<()> {
    let cwd = t
        .meta
        .cwd
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    tx.prepare_cached(
        "UPDATE sessions SET \
         cwd = coalesce(?2, cwd), \
         model = coalesce(?3, model), \
         started_at = coalesce(min(?4, started_at), ?4, started_at), \
         last_message_at = coalesce(max(?5, last_message_at), ?5, last_message_at), \
         updated_at = ?6 \
         WHERE id = ?1",
    )?
    .execute(params![
        session_ref,
        cwd,
        t.meta.model,
        t.first.map(time::format_ts),
        t.last.map(time::format_ts),
        now
    ])?;
    set_known_project(tx, session_ref, t.project_id)
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
/// (one index segment per call) and adds them to the session's counters. Messages already stored (same
/// `(byte_offset, seq)`) are skipped.
pub fn insert_messages(
    tx: &Transaction<'_>,
    session_ref: i64,
    messages: &[TranscriptMessage],
) -> rusqlite::Result<InsertCounts> {
    let prepared: Vec<PreparedMessage> = messages.iter().cloned().map(prepare_message).collect();
    let mut counts = InsertCounts::default();
    let mut index = IndexBuilder::default();
    insert_prepared(tx, session_ref, &prepared, &mut counts, &mut index, None)?;
    flush_index(tx, &mut index)?;
    add_to_counters(tx, session_ref, &counts)?;
    Ok(counts)
}

/// A message ready to store: text and arguments redacted then capped, search terms analyzed
/// (none for injected text).
struct PreparedMessage {
    byte_offset: u64,
    seq: u32,
    turn_id: Option<String>,
    ts: Option<String>,
    role: Role,
    origin: Origin,
    tool_name: Option<String>,
    args: Option<String>,
    text: String,
    /// Distinct search terms (none for an injected message).
    terms: Option<TermList>,
}

/// Redacts `text`, then cuts it to `cap` bytes; reuses the string when nothing changed.
fn redact_capped(text: String, cap: usize) -> String {
    let changed = match truncate_middle(redact(&text), cap) {
        Cow::Borrowed(_) => None,
        Cow::Owned(changed) => Some(changed),
    };
    changed.unwrap_or(text)
}

/// Everything about a message that does not need the database: the CPU-heavy part of an
/// ingest (redaction and analysis), run on the preparing threads.
fn prepare_message(m: TranscriptMessage) -> PreparedMessage {
    let cap = match m.origin {
        Origin::ToolOutput => MAX_TOOL_OUTPUT_BYTES,
        _ => MAX_MESSAGE_BYTES,
    };
    // Codex tool calls carry their arguments as the text too: store them once.
    let args = m
        .tool_args
        .filter(|a| *a != m.text)
        .map(|a| redact_capped(a, MAX_TOOL_ARGS_BYTES));
    let text = redact_capped(m.text, cap);
    let terms = (!m.origin.is_injected())
        .then(|| distinct_message_terms(m.tool_name.as_deref(), args.as_deref(), &text));
    PreparedMessage {
        byte_offset: m.byte_offset,
        seq: m.seq,
        turn_id: m.turn_id,
        ts: m.timestamp.map(time::format_ts),
        role: m.role,
        origin: m.origin,
        tool_name: m.tool_name,
        args,
        text,
        terms,
    }
}

/// Inserts prepared messages and adds their terms to `index`; adds what was new to `counts`.
fn insert_prepared(
    tx: &Transaction<'_>,
    session_ref: i64,
    messages: &[PreparedMessage],
    counts: &mut InsertCounts,
    index: &mut IndexBuilder,
    mut pending: Option<&mut Vec<PendingRow>>,
) -> rusqlite::Result<Option<(i64, i64)>> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO messages (session_ref, byte_offset, seq, turn_id, ts, role, origin, \
         tool_name, tool_args, text, term_count) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
         ON CONFLICT (session_ref, byte_offset, seq) DO NOTHING",
    )?;
    // The rowids stored, lowest and highest: the session's message range grows to hold them.
    let mut stored: Option<(i64, i64)> = None;
    for m in messages {
        let changed = insert.execute(params![
            session_ref,
            to_i64(m.byte_offset),
            m.seq,
            m.turn_id,
            m.ts,
            m.role.as_str(),
            m.origin.as_str(),
            m.tool_name,
            m.args,
            m.text,
            m.terms.as_ref().map(TermList::count),
        ])?;
        if changed == 0 {
            continue;
        }
        let rowid = tx.last_insert_rowid();
        stored = Some(stored.map_or((rowid, rowid), |(a, b)| (a.min(rowid), b.max(rowid))));
        counts.inserted += 1;
        if m.origin.is_injected() {
            counts.injected += 1;
            continue;
        }
        if m.origin == Origin::User {
            counts.user += 1;
        }
        if let Some(terms) = &m.terms {
            index.add(rowid, terms);
            if let Some(pending) = pending.as_deref_mut() {
                // Written in parts: committed before it is indexed.
                tx.prepare_cached("INSERT INTO message_pending (id) VALUES (?1)")?
                    .execute([rowid])?;
                pending.push(PendingRow {
                    rowid,
                    user: m.origin == Origin::User,
                });
            }
            if index.is_full() {
                if let Some(pending) = pending.as_deref_mut() {
                    settle(tx, index, pending, counts)?;
                }
                index.flush(tx)?;
            }
        }
    }
    if let Some((first, last)) = stored {
        widen_message_range(tx, session_ref, first, last)?;
    }
    Ok(stored)
}

/// Widens session `session_ref`'s message range (`sessions.first_message_id` /
/// `last_message_id`, which recall reads to skip other sessions' rows) to hold the rowids
/// `first..=last`. Every write of `messages` must call it: a message outside its session's
/// range is never found by a search from its project.
pub fn widen_message_range(
    conn: &Connection,
    session_ref: i64,
    first: i64,
    last: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE sessions SET \
         first_message_id = min(coalesce(first_message_id, ?2), ?2), \
         last_message_id = max(coalesce(last_message_id, ?3), ?3) WHERE id = ?1",
    )?
    .execute(params![session_ref, first, last])?;
    Ok(())
}

/// Adds the non-injected messages of `counts` to the session's counters.
fn add_to_counters(
    tx: &Transaction<'_>,
    session_ref: i64,
    counts: &InsertCounts,
) -> rusqlite::Result<()> {
    let counted = counts.inserted - counts.injected;
    if counted > 0 {
        tx.prepare_cached(
            "UPDATE sessions SET message_count = message_count + ?2, \
             user_message_count = user_message_count + ?3 WHERE id = ?1",
        )?
        .execute(params![session_ref, to_i64(counted), to_i64(counts.user)])?;
    }
    Ok(())
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
