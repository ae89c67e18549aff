//! Projections: `USER.md` (home) and `projects/<id>/MEMORY.md`, rendered from the store.
//!
//! Format (stable, parsed back by [`parse`]):
//!
//! ```text
//! # User memory
//!
//! <!-- Rendered by csep … -->
//!
//! ## Answer in English
//! `m_3f2a1b9c0d12` · preference · pinned
//!
//! Optional details, any Markdown; a line starting with `#` is written as `\#`.
//! ```
//!
//! Order: pinned first, then kind, then most used, then oldest. Files are written atomically and
//! the written body and its SHA-256 are recorded in `projections`.
//!
//! Invariant: a projection is never overwritten while it holds a hand edit. Before anything else,
//! [`import_hand_edits`] compares the file with the recorded body; changed summaries and texts,
//! deleted blocks and new `## …` blocks become operations (source `hand_edit`). [`write()`]
//! refuses to replace a file whose hash differs from the recorded one.

use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::memory::apply::{
    Action, AddInput, Applier, ApplyPolicy, OpContext, OpReport, Outcome, one_line,
};
use crate::memory::entry::{MemoryEntry, Status};
use crate::memory::store::{self, MemoryError, Shown, hex, sql};
use crate::memory::{Kind, Scope};
use crate::store::fsutil;
use crate::store::paths::Paths;

/// The note under the title of every projection.
pub const NOTE: &str = "<!-- Rendered by csep from its memory store. Edit in place: the next \
`csep compile` (or `csep memory …`) imports your changes. Edit a summary or text, delete a block \
to forget it, add a `## summary` block to add an entry. Keep each entry's `m_…` line. -->";

/// Which projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `<home>/USER.md`: user-scope entries.
    User,
    /// `<home>/projects/<id>/MEMORY.md`: one project's entries.
    Project {
        /// Project id.
        id: String,
        /// Display name for the title.
        name: String,
    },
}

impl Target {
    /// The key in the `projections` table.
    pub fn key(&self) -> String {
        match self {
            Target::User => "user".to_owned(),
            Target::Project { id, .. } => format!("project:{id}"),
        }
    }

    /// The file.
    pub fn path(&self, paths: &Paths) -> PathBuf {
        match self {
            Target::User => paths.user_md(),
            Target::Project { id, .. } => paths.project_memory_md(id),
        }
    }

    /// The scope it renders.
    pub fn scope(&self) -> Scope {
        match self {
            Target::User => Scope::User,
            Target::Project { .. } => Scope::Project,
        }
    }

    /// The project, for project targets.
    pub fn project_id(&self) -> Option<&str> {
        match self {
            Target::User => None,
            Target::Project { id, .. } => Some(id),
        }
    }

    fn title(&self) -> String {
        match self {
            Target::User => "User memory".to_owned(),
            Target::Project { name, .. } => format!("Project memory: {name}"),
        }
    }
}

/// Renders entries (already in projection order) as the projection text.
pub fn render(target: &Target, entries: &[MemoryEntry]) -> String {
    let shown: Vec<Shown> = entries.iter().map(Shown::from).collect();
    render_shown(target, &shown)
}

/// [`render`] from what [`store::list_shown`] reads.
pub fn render_shown(target: &Target, entries: &[Shown]) -> String {
    use std::fmt::Write as _;
    let mut out = format!("# {}\n\n{NOTE}\n", target.title());
    if entries.is_empty() {
        out.push_str("\n_No entries yet._\n");
        return out;
    }
    for e in entries {
        let _ = write!(
            out,
            "\n## {}\n`{}` · {}",
            one_line(&e.summary),
            e.id,
            e.kind
        );
        if e.pinned {
            out.push_str(" · pinned");
        }
        out.push('\n');
        let content = e.content.trim();
        if !content.is_empty() {
            out.push('\n');
            for line in content.lines() {
                if line.starts_with('#') {
                    out.push('\\');
                }
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// One `## …` block read back from a projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The entry id from the meta line (`None` for a new block).
    pub id: Option<String>,
    /// The kind from the meta line.
    pub kind: Option<Kind>,
    /// `pinned` on the meta line.
    pub pinned: bool,
    /// The heading text.
    pub summary: String,
    /// Everything after the meta line, trimmed, `\#` unescaped.
    pub content: String,
}

/// Parses a projection into blocks (text before the first `## ` heading is ignored).
pub fn parse(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in text.lines() {
        if let Some(summary) = line.strip_prefix("## ") {
            if let Some((summary, lines)) = current.take() {
                blocks.push(block(summary, &lines));
            }
            current = Some((summary.trim().to_owned(), Vec::new()));
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line);
        }
    }
    if let Some((summary, lines)) = current {
        blocks.push(block(summary, &lines));
    }
    blocks
}

fn block(summary: String, lines: &[&str]) -> Block {
    let mut rest = lines.iter().skip_while(|l| l.trim().is_empty()).peekable();
    let mut id = None;
    let mut kind = None;
    let mut pinned = false;
    if let Some(meta) = rest.peek().and_then(|l| parse_meta(l)) {
        (id, kind, pinned) = meta;
        rest.next();
    }
    let content: Vec<String> = rest
        .map(|l| match l.strip_prefix('\\') {
            Some(unescaped) if unescaped.starts_with('#') => unescaped.to_owned(),
            _ => (*l).to_owned(),
        })
        .collect();
    Block {
        id,
        kind,
        pinned,
        summary,
        content: content.join("\n").trim().to_owned(),
    }
}

type Meta = (Option<String>, Option<Kind>, bool);

/// Parses `` `m_…` · kind · pinned `` (or `` `new` · kind ``).
fn parse_meta(line: &str) -> Option<Meta> {
    let line = line.trim();
    let rest = line.strip_prefix('`')?;
    let (token, tail) = rest.split_once('`')?;
    let id = if token.starts_with("m_") && token.len() > 2 {
        Some(token.to_owned())
    } else if token == "new" {
        None
    } else {
        return None;
    };
    let mut kind = None;
    let mut pinned = false;
    for part in tail.split('·').map(str::trim).filter(|p| !p.is_empty()) {
        if part == "pinned" {
            pinned = true;
        } else if let Ok(k) = part.parse::<Kind>() {
            kind = Some(k);
        }
    }
    Some((id, kind, pinned))
}

/// SHA-256 hex of a projection body.
pub fn hash(body: &str) -> String {
    hex(&Sha256::digest(body.as_bytes()))
}

fn recorded(conn: &Connection, target: &Target) -> Result<Option<(String, String)>, MemoryError> {
    conn.prepare_cached("SELECT content_hash, body FROM projections WHERE target = ?1")
        .and_then(|mut s| {
            s.query_row([target.key()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(sql("read projection record"))
}

/// Reads a projection, refusing one reached through a symbolic link planted under the home:
/// following it would import a foreign file as hand edits, and the write that follows would
/// land outside the home.
fn read_file(
    home: &std::path::Path,
    path: &std::path::Path,
) -> Result<Option<String>, MemoryError> {
    if let Some(link) = fsutil::escape_below(home, path) {
        return Err(MemoryError::Projection {
            path: path.to_path_buf(),
            source: std::io::Error::other(format!(
                "{} is a symbolic link (or leaves the csep home); remove it so csep writes its \
                 projections inside the home",
                link.display()
            )),
        });
    }
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(MemoryError::Projection {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// What a hand edit of one projection turned into.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EditImport {
    /// The file.
    pub path: String,
    /// One report per change found.
    pub ops: Vec<OpReport>,
}

/// Detects a hand edit of `target`'s file and applies it as operations (see the module docs).
/// Returns `None` when the file is missing or unchanged since csep wrote it.
pub fn import_hand_edits(
    conn: &Connection,
    applier: &mut Applier,
    paths: &Paths,
    target: &Target,
    now: &str,
) -> Result<Option<EditImport>, MemoryError> {
    let path = target.path(paths);
    let Some(text) = read_file(&paths.home, &path)? else {
        return Ok(None);
    };
    let record = recorded(conn, target)?;
    if record.as_ref().is_some_and(|(h, _)| *h == hash(&text)) {
        return Ok(None);
    }
    let old: Vec<Block> = record.map(|(_, body)| parse(&body)).unwrap_or_default();
    let new = parse(&text);
    let ctx = OpContext {
        project_id: target.project_id(),
        now,
        source: "hand_edit",
        suggestion_id: None,
        session_id: None,
    };
    let mut ops = Vec::new();
    let mut kept: Vec<&str> = Vec::new();
    for b in &new {
        let previous =
            b.id.as_deref()
                .and_then(|id| old.iter().find(|o| o.id.as_deref() == Some(id)));
        match previous {
            Some(prev) => {
                kept.push(prev.id.as_deref().unwrap_or_default());
                if prev != b {
                    ops.push(edit_entry(conn, applier, b, &ctx)?);
                }
            }
            None => ops.push(add_block(conn, applier, target, b, &ctx)?),
        }
    }
    for prev in &old {
        let Some(id) = prev.id.as_deref() else {
            continue;
        };
        if kept.contains(&id) {
            continue;
        }
        let outcome = match store::get_entry(conn, id)? {
            Some(entry) if entry.status == Status::Active => {
                let reason = format!("deleted from {} by hand", path.display());
                applier.set_status(conn, &entry, Status::Forgotten, &reason, "remove", &ctx)?;
                Outcome::Applied {
                    action: Action::Removed,
                    entry_id: id.to_owned(),
                    similarity: None,
                }
            }
            _ => Outcome::Skipped {
                reason: "entry_not_active".into(),
                entry_id: Some(id.to_owned()),
            },
        };
        ops.push(OpReport {
            op: "remove",
            summary: prev.summary.clone(),
            suggestion_id: None,
            outcome,
        });
    }
    // The edited file is now what the store reflects: record it, so the next render may
    // replace it and the next import does not apply the same edit twice.
    save_record(conn, target, &path, &text, now)?;
    Ok(Some(EditImport {
        path: path.display().to_string(),
        ops,
    }))
}

fn save_record(
    conn: &Connection,
    target: &Target,
    path: &std::path::Path,
    body: &str,
    now: &str,
) -> Result<(), MemoryError> {
    conn.prepare_cached(
        "INSERT INTO projections (target, path, content_hash, body, written_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (target) DO UPDATE SET path = excluded.path, \
         content_hash = excluded.content_hash, body = excluded.body, \
         written_at = excluded.written_at",
    )
    .and_then(|mut s| {
        s.execute(params![
            target.key(),
            path.display().to_string(),
            hash(body),
            body,
            now
        ])
    })
    .map_err(sql("record projection"))?;
    Ok(())
}

fn edit_entry(
    conn: &Connection,
    applier: &mut Applier,
    b: &Block,
    ctx: &OpContext<'_>,
) -> Result<OpReport, MemoryError> {
    let id = b.id.clone().unwrap_or_default();
    let report = |outcome| OpReport {
        op: "replace",
        summary: b.summary.clone(),
        suggestion_id: None,
        outcome,
    };
    let Some(before) = store::get_entry(conn, &id)?.filter(|e| e.status == Status::Active) else {
        return Ok(report(Outcome::Skipped {
            reason: "entry_not_active".into(),
            entry_id: Some(id),
        }));
    };
    let summary = one_line(&b.summary);
    if summary.is_empty() {
        return Ok(report(Outcome::Discarded {
            reason: "empty_summary".into(),
            matched: None,
        }));
    }
    if let Some(kind) = applier.secret_kind(&format!("{summary}\n{}", b.content)) {
        return Ok(report(Outcome::Discarded {
            reason: format!("secret:{kind}"),
            matched: Some(format!("[REDACTED:{kind}]")),
        }));
    }
    let mut after = before.clone();
    after.summary = summary;
    after.content = b.content.clone();
    after.kind = b.kind.unwrap_or(before.kind);
    after.pinned = b.pinned;
    after.updated_at = ctx.now.to_owned();
    if !after.provenance.origins.iter().any(|o| o == "hand_edit") {
        after.provenance.origins.push("hand_edit".into());
    }
    applier.rewrite(conn, &before, &after, "edit", ctx)?;
    Ok(report(Outcome::Applied {
        action: Action::Replaced,
        entry_id: id,
        similarity: None,
    }))
}

fn add_block(
    conn: &Connection,
    applier: &mut Applier,
    target: &Target,
    b: &Block,
    ctx: &OpContext<'_>,
) -> Result<OpReport, MemoryError> {
    let outcome = applier.add(
        conn,
        AddInput {
            scope: target.scope(),
            kind: b.kind.unwrap_or(Kind::Fact),
            summary: one_line(&b.summary),
            content: b.content.clone(),
            evidence: &[],
            source_paths: &[],
            confidence: 1.0,
        },
        ctx,
        ApplyPolicy::HAND,
    )?;
    if b.pinned
        && let Outcome::Applied { entry_id, .. } = &outcome
        && let Some(before) = store::get_entry(conn, entry_id)?
    {
        let mut after = before.clone();
        after.pinned = true;
        applier.rewrite(conn, &before, &after, "pin", ctx)?;
    }
    Ok(OpReport {
        op: "add",
        summary: b.summary.clone(),
        suggestion_id: None,
        outcome,
    })
}

/// What [`write()`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Written {
    /// The file.
    pub path: String,
    /// Whether the file changed.
    pub changed: bool,
    /// SHA-256 of the body.
    pub hash: String,
    /// Entries rendered.
    pub entries: usize,
}

/// Renders `target` from the store and writes it atomically (only when the text changed),
/// recording the body and hash. Refuses when the file holds an unimported hand edit.
pub fn write(
    conn: &Connection,
    paths: &Paths,
    target: &Target,
    now: &str,
) -> Result<Written, MemoryError> {
    let path = target.path(paths);
    let entries = store::list_shown(conn, target.scope(), target.project_id())?;
    let body = render_shown(target, &entries);
    let digest = hash(&body);
    let on_disk = read_file(&paths.home, &path)?;
    let record = recorded(conn, target)?;
    if let Some(text) = &on_disk {
        let disk_hash = hash(text);
        let edited = match &record {
            Some((recorded_hash, _)) => *recorded_hash != disk_hash,
            None => disk_hash != digest,
        };
        if edited {
            return Err(MemoryError::Projection {
                path,
                source: std::io::Error::other(
                    "the file has hand edits that were not imported yet; run `csep compile` to \
                     import them first",
                ),
            });
        }
    }
    let changed = on_disk.as_deref() != Some(body.as_str());
    if changed {
        fsutil::write_atomic(&path, body.as_bytes()).map_err(|source| MemoryError::Projection {
            path: path.clone(),
            source,
        })?;
    }
    save_record(conn, target, &path, &body, now)?;
    Ok(Written {
        path: path.display().to_string(),
        changed,
        hash: digest,
        entries: entries.len(),
    })
}

#[cfg(test)]
#[path = "projection_tests.rs"]
mod tests;
