//! Compile receipts: one `receipts` row per run (kind `compile`), its detail the whole
//! [`CompileReport`] as JSON (inputs, every operation's outcome with its reason, evictions,
//! projections, tokens, duration). `csep status` lists them.

use rusqlite::{Connection, params};
use serde::Serialize;

use super::{CompileError, CompileReport, sql};
use crate::store::time;

/// Writes the receipt of a compile run started at `started_at`; returns its id.
pub fn write_compile(
    conn: &Connection,
    report: &CompileReport,
    started_at: &str,
) -> Result<i64, CompileError> {
    let mut detail = serde_json::to_value(report).unwrap_or_default();
    crate::archive::redact::redact_json(&mut detail);
    let finished_at = time::parse(started_at)
        .map(|t| {
            let ms = i64::try_from(report.duration_ms).unwrap_or(i64::MAX);
            time::format_ts(t + jiff::SignedDuration::from_millis(ms))
        })
        .unwrap_or_else(time::now);
    conn.prepare_cached(
        "INSERT INTO receipts (kind, project_id, status, reason, started_at, finished_at, \
         duration_ms, detail) VALUES ('compile', ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            report.project_id,
            report.status.as_str(),
            report.reason,
            started_at,
            finished_at,
            i64::try_from(report.duration_ms).unwrap_or(i64::MAX),
            detail.to_string(),
        ])
    })
    .map_err(sql("write compile receipt"))?;
    Ok(conn.last_insert_rowid())
}

/// A stored receipt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Receipt {
    /// Row id.
    pub id: i64,
    /// `compile`, `import`, ...
    pub kind: String,
    /// The project.
    pub project_id: Option<String>,
    /// `ok`, `degraded`, `failed`, `skipped`.
    pub status: String,
    /// Why.
    pub reason: Option<String>,
    /// Finished.
    pub finished_at: String,
    /// Detail JSON.
    pub detail: serde_json::Value,
}

/// One receipt by id.
pub fn get(conn: &Connection, id: i64) -> Result<Option<Receipt>, CompileError> {
    use rusqlite::OptionalExtension as _;
    conn.query_row(
        "SELECT id, kind, project_id, status, reason, finished_at, detail FROM receipts \
         WHERE id = ?1",
        [id],
        |r| {
            let detail: String = r.get(6)?;
            Ok(Receipt {
                id: r.get(0)?,
                kind: r.get(1)?,
                project_id: r.get(2)?,
                status: r.get(3)?,
                reason: r.get(4)?,
                finished_at: r.get(5)?,
                detail: serde_json::from_str(&detail).unwrap_or_default(),
            })
        },
    )
    .optional()
    .map_err(sql("read receipt"))
}

/// Writes a receipt of another kind (`import`) with a JSON detail; returns its id.
#[allow(
    clippy::too_many_arguments,
    reason = "one column per argument of the receipts row"
)]
pub fn write_other(
    conn: &Connection,
    kind: &str,
    project_id: Option<&str>,
    status: &str,
    reason: Option<&str>,
    started_at: &str,
    duration_ms: u64,
    detail: &impl Serialize,
) -> Result<i64, CompileError> {
    let mut detail = serde_json::to_value(detail).unwrap_or_default();
    crate::archive::redact::redact_json(&mut detail);
    conn.execute(
        "INSERT INTO receipts (kind, project_id, status, reason, started_at, finished_at, \
         duration_ms, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            kind,
            project_id,
            status,
            reason,
            started_at,
            time::now(),
            i64::try_from(duration_ms).unwrap_or(i64::MAX),
            detail.to_string()
        ],
    )
    .map_err(sql("write receipt"))?;
    Ok(conn.last_insert_rowid())
}
