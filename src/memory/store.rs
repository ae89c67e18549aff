//! SQL access to `memory_entries`, `memory_history` and `recall_entries`.
//!
//! Invariants kept by every writer here:
//! - every change to an entry is written together with a `memory_history` row holding the full
//!   before and after images ([`MemoryEntry`] JSON), so any change can be undone;
//! - the full-text index follows the entry: active and archived entries are indexed, forgotten
//!   and superseded ones are not (see [`Status::is_indexed`]).
//!
//! Functions take a `&Connection` so callers can run them inside their own transaction (a
//! `rusqlite::Transaction` derefs to a connection).

use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::memory::dedupe::normalize;
use crate::memory::entry::{MemoryEntry, Provenance, Status};
use crate::memory::index;
use crate::memory::{Kind, Scope};

/// Errors of the memory store.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// A SQL statement failed.
    #[error("memory store: {context}: {source}")]
    Sql {
        /// What was being done.
        context: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// No entry has this id (or id prefix).
    #[error("no memory entry `{id}`; run `csep memory list --all` to see ids")]
    NotFound {
        /// The id given.
        id: String,
    },
    /// An id prefix matches several entries.
    #[error("`{id}` matches {count} memory entries; give more characters of the id")]
    Ambiguous {
        /// The prefix given.
        id: String,
        /// How many entries match.
        count: usize,
    },
    /// A history row cannot be undone.
    #[error("history #{history_id} cannot be undone: {reason}")]
    Undo {
        /// The history row.
        history_id: i64,
        /// Why.
        reason: String,
    },
    /// Text given by hand contains a secret.
    #[error(
        "the text contains a secret ({kind}); memory never stores secrets: remove it and retry"
    )]
    Secret {
        /// The kind of secret found.
        kind: String,
    },
    /// The text is empty.
    #[error("the entry text is empty; give a one-line summary (and optional details)")]
    Empty,
    /// A project-scope operation has no project.
    #[error("project-scope memory needs a project; run inside a project or pass --cwd DIR")]
    NoProject,
    /// A projection file could not be read or written.
    #[error("memory projection {path}: {source}; check the file and directory permissions")]
    Projection {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A shipped pattern does not compile (a csep bug).
    #[error(transparent)]
    Noise(#[from] crate::memory::noise::NoisePatternError),
    /// The secret redactor does not build (a csep bug).
    #[error(transparent)]
    Redact(#[from] crate::archive::redact::RedactError),
}

/// Maps a rusqlite error with a context label.
pub(crate) fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> MemoryError {
    move |source| MemoryError::Sql { context, source }
}

const COLUMNS: &str = "rid, id, scope, project_id, kind, summary, content, provenance, \
    confidence, status, pinned, supersedes, created_at, updated_at, last_injected_at, \
    last_used_at, use_count, archived_at, status_reason";

fn row_to_entry(row: &Row<'_>) -> rusqlite::Result<(i64, MemoryEntry)> {
    let text_err = |i: usize, what: &str, v: String| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown {what} `{v}`").into(),
        )
    };
    let scope: String = row.get(2)?;
    let kind: String = row.get(4)?;
    let status: String = row.get(9)?;
    let provenance: String = row.get(7)?;
    Ok((
        row.get(0)?,
        MemoryEntry {
            id: row.get(1)?,
            scope: scope
                .parse()
                .map_err(|_| text_err(2, "scope", scope.clone()))?,
            project_id: row.get(3)?,
            kind: kind
                .parse()
                .map_err(|_| text_err(4, "kind", kind.clone()))?,
            summary: row.get(5)?,
            content: row.get(6)?,
            provenance: serde_json::from_str(&provenance).unwrap_or_default(),
            confidence: row.get(8)?,
            status: Status::parse(&status).ok_or_else(|| text_err(9, "status", status.clone()))?,
            pinned: row.get::<_, i64>(10)? != 0,
            supersedes: row.get(11)?,
            created_at: row.get(12)?,
            updated_at: row.get(13)?,
            last_injected_at: row.get(14)?,
            last_used_at: row.get(15)?,
            use_count: u32::try_from(row.get::<_, i64>(16)?).unwrap_or(0),
            archived_at: row.get(17)?,
            status_reason: row.get(18)?,
        },
    ))
}

/// A fresh id for an entry: `m_` + 12 hex of SHA-256 over scope, project and normalized text,
/// rehashed with a counter until unused (so a forgotten entry's id is never reused).
pub fn new_entry_id(
    conn: &Connection,
    scope: Scope,
    project_id: Option<&str>,
    text: &str,
) -> Result<String, MemoryError> {
    let base = format!(
        "{}\u{1f}{}\u{1f}{}",
        scope.as_str(),
        project_id.unwrap_or(""),
        normalize(text)
    );
    for n in 0u32.. {
        let digest = Sha256::digest(format!("{base}\u{1f}{n}").as_bytes());
        let id = format!("m_{}", hex(&digest[..6]));
        let taken: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM memory_entries WHERE id = ?1)")
            .and_then(|mut s| s.query_row([&id], |r| r.get(0)))
            .map_err(sql("check entry id"))?;
        if !taken {
            return Ok(id);
        }
    }
    Err(MemoryError::Empty)
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Inserts `entry` and its index row; returns its rowid.
pub fn insert_entry(conn: &Connection, entry: &MemoryEntry) -> Result<i64, MemoryError> {
    let rid = insert_entry_row(conn, entry)?;
    if entry.status.is_indexed() {
        index::insert_memory(conn, rid, &entry.text()).map_err(sql("index memory entry"))?;
    }
    Ok(rid)
}

/// Inserts `entry` without its index row (the caller indexes it, see
/// [`index::IndexBatch`]); returns its rowid.
pub fn insert_entry_row(conn: &Connection, entry: &MemoryEntry) -> Result<i64, MemoryError> {
    let provenance = serde_json::to_string(&entry.provenance).unwrap_or_else(|_| "{}".into());
    conn.prepare_cached(
        "INSERT INTO memory_entries (id, scope, project_id, kind, summary, content, normalized, \
         provenance, confidence, status, pinned, supersedes, created_at, updated_at, \
         last_injected_at, last_used_at, use_count, archived_at, status_reason) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
         ?18, ?19)",
    )
    .and_then(|mut s| {
        s.execute(params![
            entry.id,
            entry.scope.as_str(),
            entry.project_id,
            entry.kind.as_str(),
            entry.summary,
            entry.content,
            normalize(&entry.text()),
            provenance,
            entry.confidence,
            entry.status.as_str(),
            i64::from(entry.pinned),
            entry.supersedes,
            entry.created_at,
            entry.updated_at,
            entry.last_injected_at,
            entry.last_used_at,
            i64::from(entry.use_count),
            entry.archived_at,
            entry.status_reason,
        ])
    })
    .map_err(sql("insert memory entry"))?;
    Ok(conn.last_insert_rowid())
}

/// Writes every column of `entry` over the row with its id and refreshes its index row.
pub fn update_entry(conn: &Connection, entry: &MemoryEntry) -> Result<(), MemoryError> {
    let rid = update_entry_row(conn, entry)?;
    let text = entry.status.is_indexed().then(|| entry.text());
    index::sync_memory(conn, rid, text.as_deref()).map_err(sql("index memory entry"))
}

/// Writes every column of `entry` over the row with its id, leaving its index row to the
/// caller (see [`index::IndexBatch`]); returns its rowid.
pub fn update_entry_row(conn: &Connection, entry: &MemoryEntry) -> Result<i64, MemoryError> {
    let provenance = serde_json::to_string(&entry.provenance).unwrap_or_else(|_| "{}".into());
    let rid: Option<i64> = conn
        .prepare_cached(
            "UPDATE memory_entries SET scope = ?2, project_id = ?3, kind = ?4, summary = ?5, \
             content = ?6, normalized = ?7, provenance = ?8, confidence = ?9, status = ?10, \
             pinned = ?11, supersedes = ?12, created_at = ?13, updated_at = ?14, \
             last_injected_at = ?15, last_used_at = ?16, use_count = ?17, archived_at = ?18, \
             status_reason = ?19 WHERE id = ?1 RETURNING rid",
        )
        .and_then(|mut s| {
            s.query_row(
                params![
                    entry.id,
                    entry.scope.as_str(),
                    entry.project_id,
                    entry.kind.as_str(),
                    entry.summary,
                    entry.content,
                    normalize(&entry.text()),
                    provenance,
                    entry.confidence,
                    entry.status.as_str(),
                    i64::from(entry.pinned),
                    entry.supersedes,
                    entry.created_at,
                    entry.updated_at,
                    entry.last_injected_at,
                    entry.last_used_at,
                    i64::from(entry.use_count),
                    entry.archived_at,
                    entry.status_reason,
                ],
                |r| r.get(0),
            )
            .optional()
        })
        .map_err(sql("update memory entry"))?;
    rid.ok_or_else(|| MemoryError::NotFound {
        id: entry.id.clone(),
    })
}

/// The entry with exactly this id.
pub fn get_entry(conn: &Connection, id: &str) -> Result<Option<MemoryEntry>, MemoryError> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM memory_entries WHERE id = ?1"
    ))
    .and_then(|mut s| s.query_row([id], row_to_entry).optional())
    .map(|o| o.map(|(_, e)| e))
    .map_err(sql("read memory entry"))
}

/// The entry whose id is `id` or starts with it (unique prefix, at least 3 characters).
pub fn find_entry(conn: &Connection, id: &str) -> Result<MemoryEntry, MemoryError> {
    if let Some(entry) = get_entry(conn, id)? {
        return Ok(entry);
    }
    let not_found = || MemoryError::NotFound { id: id.to_owned() };
    if id.chars().count() < 3 {
        return Err(not_found());
    }
    let pattern = format!("{}%", id.replace('%', "").replace('_', "\\_"));
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM memory_entries WHERE id LIKE ?1 ESCAPE '\\' LIMIT 2"
        ))
        .map_err(sql("find memory entry"))?;
    let found = stmt
        .query_map([pattern], row_to_entry)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql("find memory entry"))?;
    match found.len() {
        0 => Err(not_found()),
        1 => Ok(found
            .into_iter()
            .next()
            .map(|(_, e)| e)
            .ok_or_else(not_found)?),
        count => Err(MemoryError::Ambiguous {
            id: id.to_owned(),
            count,
        }),
    }
}

/// Which entries [`list_entries`] returns.
#[derive(Debug, Clone, Default)]
pub struct ListFilter<'a> {
    /// Only this scope (`None`: user entries plus, when `project_id` is set, that project's).
    pub scope: Option<Scope>,
    /// The project whose project-scope entries are included.
    pub project_id: Option<&'a str>,
    /// Only these statuses (`None`: active only).
    pub statuses: Option<&'a [Status]>,
}

/// Entries matching `filter`, in projection order: pinned first, then kind, then most used,
/// then oldest, then id.
pub fn list_entries(
    conn: &Connection,
    filter: &ListFilter<'_>,
) -> Result<Vec<MemoryEntry>, MemoryError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM memory_entries WHERE \
             ((scope = 'user' AND ?1 IN ('', 'user')) OR \
              (scope = 'project' AND ?1 IN ('', 'project') AND project_id = ?2))"
        ))
        .map_err(sql("list memory entries"))?;
    let scope = filter.scope.map_or("", Scope::as_str);
    let statuses = filter.statuses.unwrap_or(&[Status::Active]);
    let mut entries: Vec<MemoryEntry> = stmt
        .query_map(params![scope, filter.project_id], row_to_entry)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql("list memory entries"))?
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| statuses.contains(&e.status))
        .collect();
    sort_for_projection(&mut entries);
    Ok(entries)
}

/// What a projection shows of an active entry (see [`list_shown`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    /// Entry id.
    pub id: String,
    /// Kind.
    pub kind: Kind,
    /// Summary.
    pub summary: String,
    /// Details.
    pub content: String,
    /// Pinned.
    pub pinned: bool,
}

impl From<&MemoryEntry> for Shown {
    fn from(e: &MemoryEntry) -> Shown {
        Shown {
            id: e.id.clone(),
            kind: e.kind,
            summary: e.summary.clone(),
            content: e.content.clone(),
            pinned: e.pinned,
        }
    }
}

/// The active entries of `scope` (and `project_id`) as [`list_entries`] returns them, in the
/// same order, reading only what a projection shows (no provenance to parse).
pub fn list_shown(
    conn: &Connection,
    scope: Scope,
    project_id: Option<&str>,
) -> Result<Vec<Shown>, MemoryError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, kind, summary, content, pinned, use_count, created_at FROM memory_entries \
             WHERE status = 'active' AND ((scope = 'user' AND ?1 = 'user') OR \
              (scope = 'project' AND ?1 = 'project' AND project_id = ?2))",
        )
        .map_err(sql("list memory entries"))?;
    let kind_rank = |k: Kind| Kind::ALL.iter().position(|x| *x == k).unwrap_or(usize::MAX);
    let mut rows: Vec<((bool, usize, u32, String), Shown)> = stmt
        .query_map(params![scope.as_str(), project_id], |row| {
            let kind: String = row.get(1)?;
            let kind: Kind = kind.parse().map_err(|_| {
                rusqlite::Error::FromSqlConversionFailure(
                    1,
                    rusqlite::types::Type::Text,
                    format!("unknown kind `{kind}`").into(),
                )
            })?;
            let pinned = row.get::<_, i64>(4)? != 0;
            let use_count = u32::try_from(row.get::<_, i64>(5)?).unwrap_or(0);
            Ok((
                (pinned, kind_rank(kind), use_count, row.get(6)?),
                Shown {
                    id: row.get(0)?,
                    kind,
                    summary: row.get(2)?,
                    content: row.get(3)?,
                    pinned,
                },
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql("list memory entries"))?;
    // The order of `sort_for_projection`.
    rows.sort_by(|((ap, ak, au, ac), a), ((bp, bk, bu, bc), b)| {
        bp.cmp(ap)
            .then(ak.cmp(bk))
            .then(bu.cmp(au))
            .then(ac.cmp(bc))
            .then(a.id.cmp(&b.id))
    });
    Ok(rows.into_iter().map(|(_, shown)| shown).collect())
}

/// Characters ([`MemoryEntry::budget_chars`]) of the active entries [`list_entries`] returns
/// for `scope` and `project_id`, without reading whole entries.
pub fn active_chars(
    conn: &Connection,
    scope: Scope,
    project_id: Option<&str>,
) -> Result<usize, MemoryError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT summary, content FROM memory_entries WHERE status = 'active' AND \
             ((scope = 'user' AND ?1 = 'user') OR \
              (scope = 'project' AND ?1 = 'project' AND project_id = ?2))",
        )
        .map_err(sql("count memory characters"))?;
    let mut rows = stmt
        .query(params![scope.as_str(), project_id])
        .map_err(sql("count memory characters"))?;
    let mut total = 0usize;
    while let Some(row) = rows.next().map_err(sql("count memory characters"))? {
        let chars =
            |i: usize| -> rusqlite::Result<usize> { Ok(row.get_ref(i)?.as_str()?.chars().count()) };
        total += chars(0).map_err(sql("count memory characters"))?
            + chars(1).map_err(sql("count memory characters"))?;
    }
    Ok(total)
}

/// Sorts entries as projections show them: pinned first, then kind (declaration order), then
/// most used, then oldest, then id.
pub fn sort_for_projection(entries: &mut [MemoryEntry]) {
    let kind_rank = |k: Kind| Kind::ALL.iter().position(|x| *x == k).unwrap_or(usize::MAX);
    entries.sort_by(|a, b| {
        b.pinned
            .cmp(&a.pinned)
            .then(kind_rank(a.kind).cmp(&kind_rank(b.kind)))
            .then(b.use_count.cmp(&a.use_count))
            .then(a.created_at.cmp(&b.created_at))
            .then(a.id.cmp(&b.id))
    });
}

/// One `memory_history` row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRecord {
    /// Row id (what `csep memory undo` takes).
    pub id: i64,
    /// The entry changed.
    pub entry_id: String,
    /// `add`, `merge`, `replace`, `remove`, `archive`, `pin`, `unpin`, `edit`, `undo`, ...
    pub op: String,
    /// The entry before (`None` when it did not exist).
    pub before: Option<MemoryEntry>,
    /// The entry after.
    pub after: Option<MemoryEntry>,
    /// Who made the change (`review`, `cli`, `hand_edit`, `budget`, `import:reference`, ...).
    pub source: Option<String>,
    /// The queued suggestion that caused it.
    pub suggestion_id: Option<i64>,
    /// When.
    pub at: String,
}

/// Records one change with its before and after images; returns the history row id.
pub fn record_history(
    conn: &Connection,
    op: &str,
    before: Option<&MemoryEntry>,
    after: Option<&MemoryEntry>,
    source: &str,
    suggestion_id: Option<i64>,
    at: &str,
) -> Result<i64, MemoryError> {
    let entry_id = after.or(before).map(|e| e.id.as_str()).unwrap_or_default();
    let image = |e: Option<&MemoryEntry>| e.and_then(|e| serde_json::to_string(e).ok());
    conn.prepare_cached(
        "INSERT INTO memory_history (entry_id, op, before, after, source, suggestion_id, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            entry_id,
            op,
            image(before),
            image(after),
            source,
            suggestion_id,
            at
        ])
    })
    .map_err(sql("record memory history"))?;
    Ok(conn.last_insert_rowid())
}

fn row_to_history(row: &Row<'_>) -> rusqlite::Result<HistoryRecord> {
    let image = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
    Ok(HistoryRecord {
        id: row.get(0)?,
        entry_id: row.get(1)?,
        op: row.get(2)?,
        before: image(row.get(3)?),
        after: image(row.get(4)?),
        source: row.get(5)?,
        suggestion_id: row.get(6)?,
        at: row.get(7)?,
    })
}

/// History rows, newest first: of one entry, or of every entry when `entry_id` is `None`.
pub fn history(
    conn: &Connection,
    entry_id: Option<&str>,
    limit: usize,
) -> Result<Vec<HistoryRecord>, MemoryError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, entry_id, op, before, after, source, suggestion_id, at FROM memory_history \
             WHERE ?1 IS NULL OR entry_id = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .map_err(sql("read memory history"))?;
    stmt.query_map(params![entry_id, limit], row_to_history)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql("read memory history"))
}

/// One history row by id.
pub fn history_row(conn: &Connection, id: i64) -> Result<Option<HistoryRecord>, MemoryError> {
    conn.prepare_cached(
        "SELECT id, entry_id, op, before, after, source, suggestion_id, at FROM memory_history \
         WHERE id = ?1",
    )
    .and_then(|mut s| s.query_row([id], row_to_history).optional())
    .map_err(sql("read memory history"))
}

/// A new active entry built from its parts (timestamps `now`, unused, unpinned).
#[allow(
    clippy::too_many_arguments,
    reason = "a plain constructor; the fields are the entry's own"
)]
pub fn new_entry(
    id: String,
    scope: Scope,
    project_id: Option<String>,
    kind: Kind,
    summary: String,
    content: String,
    provenance: Provenance,
    confidence: f64,
    now: &str,
) -> MemoryEntry {
    MemoryEntry {
        id,
        scope,
        project_id,
        kind,
        summary,
        content,
        provenance,
        confidence: confidence.clamp(0.0, 1.0),
        status: Status::Active,
        pinned: false,
        supersedes: None,
        created_at: now.to_owned(),
        updated_at: now.to_owned(),
        last_injected_at: None,
        last_used_at: None,
        use_count: 0,
        archived_at: None,
        status_reason: None,
    }
}

/// A recall entry: situational knowledge surfaced on demand (table `recall_entries`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecallEntry {
    /// `r_` + 12 hex of the content hash.
    pub id: String,
    /// User or project.
    pub scope: Scope,
    /// Project for project scope.
    pub project_id: Option<String>,
    /// One line.
    pub summary: String,
    /// The knowledge.
    pub content: String,
    /// When it becomes useful.
    pub trigger_text: Option<String>,
    /// Files it concerns.
    pub paths: Vec<String>,
    /// Where it came from.
    pub provenance: Provenance,
    /// `active` or `forgotten`.
    pub status: String,
    /// Created.
    pub created_at: String,
}

/// The deterministic id of a recall entry with this content in this scope.
pub fn recall_id(scope: Scope, project_id: Option<&str>, content: &str) -> String {
    let digest = Sha256::digest(
        format!(
            "{}\u{1f}{}\u{1f}{}",
            scope.as_str(),
            project_id.unwrap_or(""),
            normalize(content)
        )
        .as_bytes(),
    );
    format!("r_{}", hex(&digest[..6]))
}

/// Whether a recall entry with this id exists (any status).
pub fn recall_exists(conn: &Connection, id: &str) -> Result<bool, MemoryError> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM recall_entries WHERE id = ?1)")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)))
        .map_err(sql("check recall entry"))
}

/// Inserts a recall entry and its index row.
pub fn insert_recall(conn: &Connection, entry: &RecallEntry, now: &str) -> Result<(), MemoryError> {
    let rid = insert_recall_row(conn, entry, now)?;
    index::sync_recall(conn, rid, Some(&recall_text(entry))).map_err(sql("index recall entry"))
}

/// The text a recall entry is indexed by.
pub fn recall_text(entry: &RecallEntry) -> String {
    format!("{}\n{}", entry.summary, entry.content)
}

/// Inserts a recall entry without its index row (the caller indexes [`recall_text`], see
/// [`index::IndexBatch`]); returns its rowid.
pub fn insert_recall_row(
    conn: &Connection,
    entry: &RecallEntry,
    now: &str,
) -> Result<i64, MemoryError> {
    conn.prepare_cached(
        "INSERT INTO recall_entries (id, scope, project_id, summary, content, trigger_text, \
         paths, provenance, status, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .and_then(|mut s| {
        s.execute(params![
            entry.id,
            entry.scope.as_str(),
            entry.project_id,
            entry.summary,
            entry.content,
            entry.trigger_text,
            serde_json::to_string(&entry.paths).unwrap_or_else(|_| "[]".into()),
            serde_json::to_string(&entry.provenance).unwrap_or_else(|_| "{}".into()),
            entry.status,
            entry.created_at,
            now,
        ])
    })
    .map_err(sql("insert recall entry"))?;
    Ok(conn.last_insert_rowid())
}

/// Marks a recall entry forgotten and drops it from the index; returns whether it existed.
pub fn forget_recall(conn: &Connection, id: &str, now: &str) -> Result<bool, MemoryError> {
    let rid: Option<i64> = conn
        .prepare_cached(
            "UPDATE recall_entries SET status = 'forgotten', updated_at = ?2 WHERE id = ?1 \
             RETURNING rowid",
        )
        .and_then(|mut s| s.query_row(params![id, now], |r| r.get(0)).optional())
        .map_err(sql("forget recall entry"))?;
    match rid {
        Some(rid) => {
            index::sync_recall(conn, rid, None).map_err(sql("unindex recall entry"))?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Active recall entries visible from a project (user scope plus that project), by summary.
pub fn list_recall(
    conn: &Connection,
    project_id: Option<&str>,
) -> Result<Vec<RecallEntry>, MemoryError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, scope, project_id, summary, content, trigger_text, paths, provenance, \
             status, created_at FROM recall_entries WHERE status = 'active' AND \
             (scope = 'user' OR project_id = ?1) ORDER BY created_at, id",
        )
        .map_err(sql("list recall entries"))?;
    stmt.query_map([project_id], |row| {
        let scope: String = row.get(1)?;
        let paths: String = row.get(6)?;
        let provenance: String = row.get(7)?;
        Ok(RecallEntry {
            id: row.get(0)?,
            scope: scope.parse().unwrap_or(Scope::Project),
            project_id: row.get(2)?,
            summary: row.get(3)?,
            content: row.get(4)?,
            trigger_text: row.get(5)?,
            paths: serde_json::from_str(&paths).unwrap_or_default(),
            provenance: serde_json::from_str(&provenance).unwrap_or_default(),
            status: row.get(8)?,
            created_at: row.get(9)?,
        })
    })
    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
    .map_err(sql("list recall entries"))
}
