//! The start index: what SessionStart injects, ranked and rendered ahead of time.
//!
//! For each scope (the user's, each project's) a file under `<home>/start-index/` holds the scope's
//! active entries in injection order (pinned, then usage, then recency; at most
//! [`MAX_CANDIDATES`]), each as its rendered context line ([`entry_line`]) with that line's
//! token cost. SessionStart reads the one or two files it needs and fills its budget from them:
//! it does not open the database, nor rank, read and measure hundreds of entries.
//!
//! Validity is kept by the database, not by the writers: triggers on `memory_entries`
//! (migration `0007_start_index.sql`) remove the file of every scope whose entries change, from
//! inside the changing statement. A missing file sends SessionStart back to ranking the entries
//! itself ([`for_each_candidate`]), which gives the same context. [`refresh`] builds the missing
//! files under the database's write lock; projection writes (every compile and `csep memory`
//! change) and each worker run call it.
//!
//! File layout ([`FORMAT`] 1): 8 bytes of magic (`cs`, a hash of the csep version, [`FORMAT`]),
//! the database's identity (device and inode, so the files of a deleted database are never read
//! for its successor), then per entry: `tokens: u32 LE`, `id length: u16 LE`, `line length: u32
//! LE`, the id's bytes, the line's bytes. Every release reads only its own files, so an upgrade
//! that renders entries differently never injects the old rendering; between releases, a change
//! to the layout or to the rendering must bump [`FORMAT`].

use std::fmt::Write as _;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::store::fsutil;
use crate::store::paths::Paths;

/// Layout and rendering version of the files (their eighth byte).
pub const FORMAT: u8 = 1;
/// Most entries considered per session start, over both scopes (the budget usually stops
/// earlier); also the most entries one scope's row holds.
pub const MAX_CANDIDATES: i64 = 400;
/// Longest rendering of one entry's details, in characters.
pub const MAX_ENTRY_DETAIL_CHARS: usize = 240;

/// One candidate entry as rendered, borrowed (from a row or a caller's record).
#[derive(Debug, Clone, Copy)]
pub struct EntryView<'a> {
    /// Entry id.
    pub id: &'a str,
    /// `user` or `project`.
    pub scope: &'a str,
    /// Entry kind.
    pub kind: &'a str,
    /// One-line summary.
    pub summary: &'a str,
    /// Details.
    pub content: &'a str,
    /// Where it was learned.
    pub attribution: Attribution<'a>,
    /// Last update (stored timestamp).
    pub updated_at: &'a str,
}

/// Where an entry was learned: the stored provenance JSON (parsed only when the entry is
/// rendered) or its already parsed session count and latest session.
#[derive(Debug, Clone, Copy)]
pub enum Attribution<'a> {
    /// The `provenance` column (`{"sessions": [...]}`).
    Provenance(&'a str),
    /// Number of sessions and the latest one.
    Sessions(usize, Option<&'a str>),
}

impl Attribution<'_> {
    /// Number of sessions and the latest one.
    pub fn sessions(&self) -> (usize, Option<String>) {
        match *self {
            Attribution::Provenance(json) => {
                let mut sessions = provenance_sessions(json);
                (sessions.len(), sessions.pop())
            }
            Attribution::Sessions(n, last) => (n, last.map(str::to_owned)),
        }
    }
}

/// Session ids named in a provenance JSON object (`{"sessions": [...]}`); empty otherwise.
fn provenance_sessions(provenance: &str) -> Vec<String> {
    serde_json::from_str::<serde_json::Value>(provenance)
        .ok()
        .and_then(|v| {
            v.get("sessions").and_then(|s| s.as_array()).map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// The candidates' query for one scope (`scope_filter`), in injection order: one walk of the
/// `memory_entries_rank` index (pinned, then usage, then recency), nothing sorted.
///
/// The values are written into the SQL as literals rather than bound: with SQLite's STAT4 (on
/// in the bundled build) a statement whose plan may depend on a bound value is compiled a
/// second time at its first step, and SessionStart prepares each statement exactly once.
fn candidates_sql(project_id: Option<&str>, limit: i64) -> String {
    let scope_filter = match project_id {
        Some(id) => format!("scope = 'project' AND project_id = {}", sql_literal(id)),
        None => "scope = 'user' AND project_id IS NULL".to_owned(),
    };
    format!(
        "SELECT id, scope, kind, summary, content, provenance, updated_at FROM memory_entries \
         WHERE status = 'active' AND {scope_filter} \
         ORDER BY pinned DESC, use_count DESC, updated_at DESC, id LIMIT {limit}"
    )
}

/// `text` as an SQL string literal.
pub fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Calls `visit` on each active entry of the scope (`project_id`, or the user's when `None`),
/// ranked pinned, then usage, then recency, at most `limit` of them, with the entry borrowed
/// from its row: an entry the caller skips is never copied out of SQLite nor its provenance
/// parsed. Returns how many were visited.
pub fn for_each_ranked(
    conn: &Connection,
    project_id: Option<&str>,
    limit: i64,
    mut visit: impl FnMut(&EntryView<'_>),
) -> rusqlite::Result<i64> {
    if limit <= 0 {
        return Ok(0);
    }
    let mut stmt = conn.prepare(&candidates_sql(project_id, limit))?;
    let mut rows = stmt.query([])?;
    let mut seen = 0;
    while let Some(row) = rows.next()? {
        let text =
            |i: usize| -> rusqlite::Result<&str> { row.get_ref(i)?.as_str().map_err(Into::into) };
        visit(&EntryView {
            id: text(0)?,
            scope: text(1)?,
            kind: text(2)?,
            summary: text(3)?,
            content: text(4)?,
            attribution: Attribution::Provenance(text(5)?),
            updated_at: text(6)?,
        });
        seen += 1;
    }
    Ok(seen)
}

/// Calls `visit` on each active user-scope entry, then each of the project's, ranked (see
/// [`for_each_ranked`]), at most [`MAX_CANDIDATES`] in all: SessionStart's candidates.
pub fn for_each_candidate(
    conn: &Connection,
    project_id: Option<&str>,
    mut visit: impl FnMut(&EntryView<'_>),
) -> rusqlite::Result<()> {
    let seen = for_each_ranked(conn, None, MAX_CANDIDATES, &mut visit)?;
    if let Some(project_id) = project_id {
        for_each_ranked(conn, Some(project_id), MAX_CANDIDATES - seen, &mut visit)?;
    }
    Ok(())
}

/// Renders one entry as its context line: `- [<id>] <kind>: "<summary>" — "<details>"
/// (<attribution> on <date>)\n`, the details clipped to [`MAX_ENTRY_DETAIL_CHARS`] and left out
/// when they only restate the summary.
pub fn entry_line(entry: &EntryView<'_>) -> String {
    let summary = one_line(entry.summary);
    let mut line = String::with_capacity(64 + entry.summary.len() + MAX_ENTRY_DETAIL_CHARS * 2);
    let _ = write!(line, "- [{}] {}: ", entry.id, entry.kind);
    push_quoted(&mut line, &summary);
    let detail = one_line(entry.content);
    let detail_chars = detail.chars().count();
    // Content that only restates the summary ("Remember: <summary>.") adds nothing.
    let restates = detail_chars <= summary.chars().count() + 16
        && detail.to_lowercase().contains(&summary.to_lowercase());
    if !detail.is_empty() && !restates {
        line.push_str(" — ");
        if detail_chars > MAX_ENTRY_DETAIL_CHARS {
            let cut = detail
                .char_indices()
                .nth(MAX_ENTRY_DETAIL_CHARS)
                .map_or(detail.len(), |(i, _)| i);
            push_quoted(&mut line, &format!("{}…", &detail[..cut]));
        } else {
            push_quoted(&mut line, &detail);
        }
    }
    let date = entry.updated_at.get(..10).unwrap_or("");
    let (sessions, last_session) = entry.attribution.sessions();
    match (sessions, last_session.as_deref().map(attribution_id)) {
        (0, _) | (_, None) => {
            let _ = write!(line, " (added on {date})");
        }
        (1, Some(id)) => {
            let _ = write!(line, " (from session {id} on {date})");
        }
        (n, Some(id)) => {
            let _ = write!(line, " (from {n} sessions, latest {id} on {date})");
        }
    }
    line.push('\n');
    line
}

/// Appends one-line text in double quotes, escaping backslashes and quotes, so an entry reads
/// as quoted data and cannot close its own quote.
fn push_quoted(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// A session id as shown in an attribution: only `[A-Za-z0-9._-]`, at most 40 characters, so
/// a hostile id (newlines, markup) cannot inject text into the context.
pub fn attribution_id(id: &str) -> String {
    let clean: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(40)
        .collect();
    if clean.is_empty() {
        "(unnamed)".to_owned()
    } else {
        clean
    }
}

/// `text` made safe to quote ([`crate::host::transcript::inert_context_text`]: no escapes,
/// control characters, bidirectional overrides or csep-context tags), with every run of
/// whitespace turned into one space, trimmed.
pub fn one_line(text: &str) -> String {
    let text = crate::host::transcript::inert_context_text(text);
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// One entry of a stored body: its id, its rendered line and the line's token cost
/// ([`crate::llm::estimate_tokens`]). The line is checked to be UTF-8 only when it is used
/// ([`IndexedLine::text`]): most stored lines do not fit the budget and are never read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedLine<'a> {
    /// Entry id.
    pub id: &'a str,
    /// The rendered line ([`entry_line`]), as stored.
    pub line: &'a [u8],
    /// Its estimated tokens.
    pub tokens: u32,
}

impl<'a> IndexedLine<'a> {
    /// The line as text; `None` when the stored bytes are not UTF-8 (a damaged body).
    pub fn text(&self) -> Option<&'a str> {
        std::str::from_utf8(self.line).ok()
    }
}

const RECORD_HEADER: usize = 4 + 2 + 4;

/// Appends one entry to a body. Ids longer than 65,535 bytes and lines longer than 4 GiB do
/// not occur (ids are generated, lines clipped); such an entry is left out.
pub fn encode_line(body: &mut Vec<u8>, id: &str, line: &str, tokens: u32) {
    let (Ok(id_len), Ok(line_len)) = (u16::try_from(id.len()), u32::try_from(line.len())) else {
        return;
    };
    body.reserve(RECORD_HEADER + id.len() + line.len());
    body.extend_from_slice(&tokens.to_le_bytes());
    body.extend_from_slice(&id_len.to_le_bytes());
    body.extend_from_slice(&line_len.to_le_bytes());
    body.extend_from_slice(id.as_bytes());
    body.extend_from_slice(line.as_bytes());
}

/// The entries of a body, in order; `None` when the body is malformed (truncated, a length
/// past its end, an id that is not UTF-8), in which case the caller ranks the entries itself.
pub fn decode(body: &[u8]) -> Option<Vec<IndexedLine<'_>>> {
    let mut lines = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (header, tail) = rest.split_at_checked(RECORD_HEADER)?;
        let tokens = u32::from_le_bytes(header.get(0..4)?.try_into().ok()?);
        let id_len = usize::from(u16::from_le_bytes(header.get(4..6)?.try_into().ok()?));
        let line_len =
            usize::try_from(u32::from_le_bytes(header.get(6..10)?.try_into().ok()?)).ok()?;
        let (id, tail) = tail.split_at_checked(id_len)?;
        let (line, tail) = tail.split_at_checked(line_len)?;
        lines.push(IndexedLine {
            id: std::str::from_utf8(id).ok()?,
            line,
            tokens,
        });
        rest = tail;
    }
    Some(lines)
}

/// Renders the scope's ranked entries into a body.
fn build_body(conn: &Connection, project_id: Option<&str>) -> rusqlite::Result<Vec<u8>> {
    let mut body = Vec::new();
    for_each_ranked(conn, project_id, MAX_CANDIDATES, |entry| {
        let line = entry_line(entry);
        let tokens = u32::try_from(crate::llm::estimate_tokens(&line)).unwrap_or(u32::MAX);
        encode_line(&mut body, entry.id, &line, tokens);
    })?;
    Ok(body)
}

/// Why the start index could not be rebuilt (SessionStart then ranks the entries itself).
#[derive(Debug, thiserror::Error)]
pub enum StartIndexError {
    /// Reading the entries failed.
    #[error("cannot read memory entries for the start index: {0}")]
    Sql(#[from] rusqlite::Error),
    /// Writing a file failed.
    #[error("cannot write the start index file {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// What identifies the database a file was built from: its device and inode. A database
/// deleted and created again is another one, and its files are rebuilt rather than read.
#[cfg(unix)]
fn db_stamp(db: &Path) -> Option<[u8; 16]> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(db).ok()?;
    let mut stamp = [0; 16];
    stamp[..8].copy_from_slice(&meta.dev().to_le_bytes());
    stamp[8..].copy_from_slice(&meta.ino().to_le_bytes());
    Some(stamp)
}

#[cfg(not(unix))]
fn db_stamp(_db: &Path) -> Option<[u8; 16]> {
    None
}

/// FNV-1a of the csep version: files written by another release are not read.
const VERSION_HASH: u32 = {
    let version = env!("CARGO_PKG_VERSION").as_bytes();
    let mut hash: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < version.len() {
        hash = (hash ^ version[i] as u32).wrapping_mul(0x0100_0193);
        i += 1;
    }
    hash
};

/// First bytes of every file: a name, the version hash and [`FORMAT`].
const MAGIC: [u8; 8] = {
    let v = VERSION_HASH.to_le_bytes();
    [b'c', b's', v[0], v[1], v[2], v[3], 0, FORMAT]
};
/// Bytes before the first entry: the magic and the database's identity.
pub const HEADER_BYTES: usize = MAGIC.len() + 16;

/// The header a file built from the database `stamp` starts with.
fn header(stamp: &[u8; 16]) -> [u8; HEADER_BYTES] {
    let mut header = [0; HEADER_BYTES];
    header[..MAGIC.len()].copy_from_slice(&MAGIC);
    header[MAGIC.len()..].copy_from_slice(stamp);
    header
}

/// Whether `file` starts with `header` (only the header is read).
fn starts_with(file: &Path, header: &[u8; HEADER_BYTES]) -> bool {
    use std::io::Read;
    let mut found = [0; HEADER_BYTES];
    std::fs::File::open(file)
        .and_then(|mut f| f.read_exact(&mut found))
        .is_ok_and(|()| found == *header)
}

/// Builds the file of every scope that has none for the current [`FORMAT`] and database: the
/// user's and every known project's. Returns how many files were written.
///
/// Run it while holding the database's write lock (inside `BEGIN IMMEDIATE`, as
/// [`refresh_now`] does): the triggers that remove files run under that same lock, so a file
/// always matches the entries committed when it was written.
pub fn refresh(conn: &Connection, paths: &Paths) -> Result<usize, StartIndexError> {
    let Some(stamp) = db_stamp(&paths.db()) else {
        return Ok(0);
    };
    let header = header(&stamp);
    let scopes: Vec<Option<String>> = {
        let mut stmt = conn.prepare("SELECT NULL UNION ALL SELECT id FROM projects")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    let mut built = 0;
    for project_id in &scopes {
        let Some(file) = paths.start_index_file(project_id.as_deref()) else {
            continue;
        };
        if starts_with(&file, &header) {
            continue;
        }
        let body = build_body(conn, project_id.as_deref())?;
        let bytes = [&header[..], &body].concat();
        fsutil::write_atomic(&file, &bytes).map_err(|source| StartIndexError::Write {
            path: file.clone(),
            source,
        })?;
        built += 1;
    }
    Ok(built)
}

/// Which scopes a session start answers from the start index, without opening the database.
/// Shown by `csep status` (text and `--json`) and `csep doctor`; it prints as `index of user
/// memory current; 3 of 4 projects current`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Coverage {
    /// The user scope's file is current (of this [`FORMAT`] and database).
    pub user_current: bool,
    /// Registered projects whose file is current.
    pub projects_current: u64,
    /// Registered projects.
    pub projects: u64,
}

impl Coverage {
    /// The coverage of the user scope and of `project_ids`. Reads the files' headers only.
    pub fn of(paths: &Paths, project_ids: &[&str]) -> Coverage {
        let projects = project_ids.len() as u64;
        let Some(stamp) = db_stamp(&paths.db()) else {
            return Coverage {
                projects,
                ..Coverage::default()
            };
        };
        let header = header(&stamp);
        let current = |project_id: Option<&str>| {
            paths
                .start_index_file(project_id)
                .is_some_and(|file| starts_with(&file, &header))
        };
        Coverage {
            user_current: current(None),
            projects_current: project_ids.iter().filter(|id| current(Some(id))).count() as u64,
            projects,
        }
    }

    /// Every scope answers from its file.
    pub fn is_complete(&self) -> bool {
        self.user_current && self.projects_current == self.projects
    }

    /// The account `csep status` and `csep doctor` both give of the start index: the coverage
    /// and, when incomplete, what session starts do meanwhile.
    pub fn summary(&self) -> String {
        if self.is_complete() {
            self.to_string()
        } else {
            format!(
                "{self}; session starts read the rest from the database until the next worker run"
            )
        }
    }
}

impl std::fmt::Display for Coverage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "index of user memory {}; {} of {} projects current",
            if self.user_current {
                "current"
            } else {
                "missing"
            },
            self.projects_current,
            self.projects
        )
    }
}

/// [`refresh`] under the database's write lock, taken for the purpose.
pub fn refresh_now(conn: &Connection, paths: &Paths) -> Result<usize, StartIndexError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let built = refresh(conn, paths);
    // Nothing was written to the database: this only releases the lock.
    let _ = conn.execute_batch("ROLLBACK");
    built
}

/// The start index files SessionStart needs, read whole: the user scope's and, when a project
/// was asked for, the project's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartFiles {
    user: Vec<u8>,
    project: Option<Vec<u8>>,
}

impl StartFiles {
    /// Reads the user scope's file and, with `project_id`, the project's; `None` unless the
    /// database exists and every file asked for is there, of the current [`FORMAT`] and built
    /// from that database (then the caller ranks the entries itself). Never opens the database.
    pub fn read(paths: &Paths, project_id: Option<&str>) -> Option<StartFiles> {
        let header = header(&db_stamp(&paths.db())?);
        let read = |project_id| {
            let bytes = std::fs::read(paths.start_index_file(project_id)?).ok()?;
            bytes.starts_with(&header).then_some(bytes)
        };
        Some(StartFiles {
            user: read(None)?,
            project: match project_id {
                Some(id) => Some(read(Some(id))?),
                None => None,
            },
        })
    }

    /// The user scope's body ([`decode`] reads it).
    pub fn user(&self) -> &[u8] {
        &self.user[HEADER_BYTES..]
    }

    /// The project's body; empty when no project was asked for.
    pub fn project(&self) -> &[u8] {
        self.project.as_deref().map_or(&[], |p| &p[HEADER_BYTES..])
    }
}

#[cfg(test)]
#[path = "start_index_tests.rs"]
mod tests;
