//! `import reference`: reads a codex-self-evolution 0.7.x home into the store, idempotently.
//!
//! For every non-archived bucket under `<from>/projects/`:
//! - the project is the bucket's `.canonical_cwd` (else the unmangled bucket name, `-` → `/`),
//!   resolved like any working directory when it still exists (worktrees fold into one project);
//! - `memory/memory.json` entries are added (`global` → project scope, `user` → user scope)
//!   through the deterministic rules: exact duplicates are skipped, near-duplicates merged,
//!   transient noise and secrets discarded with their reason, budgets enforced (archived);
//! - `recall/index.json` records become recall entries (same content → skipped);
//! - `suggestions/pending/*.json` envelopes are queued (same review → duplicate).
//!
//! Running it twice changes nothing the second time. `--dry-run` does all of it inside a
//! transaction that is rolled back.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::TransactionBehavior;
use serde::Serialize;
use serde_json::Value;

use super::reference::{RefEnvelope, RefMemoryIndex, RefRecord, infer_kind, map_suggestions};
use super::{CompileError, Tally, sql, targets, write_projections};
use crate::memory::Scope;
use crate::memory::apply::{
    AddInput, Applier, ApplyPolicy, OpContext, OpReport, Outcome, one_line,
};
use crate::memory::budget::BudgetReport;
use crate::memory::projection::Written;
use crate::queue::{self, EnqueueOutcome, NewEnvelope};
use crate::review::ops::Operation;
use crate::store::config::Config;
use crate::store::db::Store;
use crate::store::identity::{IdentityKind, RepoIdentity};
use crate::store::paths::Paths;
use crate::store::project;

/// What one bucket contributed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BucketReport {
    /// Bucket directory name.
    pub bucket: String,
    /// The project it maps to.
    pub project_id: String,
    /// The project path.
    pub path: String,
    /// Memory entries: applied / skipped / discarded.
    pub memory: Tally,
    /// Recall records: applied / skipped / discarded.
    pub recall: Tally,
    /// Pending envelopes newly queued.
    pub suggestions_queued: usize,
    /// Pending envelopes already queued by an earlier import.
    pub suggestions_duplicate: usize,
    /// Reference suggestions that could not be mapped.
    pub suggestions_dropped: usize,
    /// Every memory/recall item's outcome.
    pub items: Vec<OpReport>,
    /// Budget enforcement after the import.
    pub budgets: Vec<BudgetReport>,
    /// Files that could not be read or parsed.
    pub errors: Vec<String>,
}

/// The answer of `import reference`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    /// The reference home.
    pub from: String,
    /// Nothing was kept.
    pub dry_run: bool,
    /// Per bucket.
    pub buckets: Vec<BucketReport>,
    /// Buckets skipped because they are archived.
    pub archived_buckets: Vec<String>,
    /// Projections written.
    pub projections: Vec<Written>,
    /// Receipt id (not written for dry runs).
    pub receipt_id: Option<i64>,
}

/// Whether a reference bucket name is archived (`….archived` or `….archived.<stamp>`).
pub fn is_archived_bucket(name: &str) -> bool {
    name.ends_with(".archived") || name.contains(".archived.")
}

/// Keeps what a reference recall record says of its origin on the entry it became: its turn
/// and cwd in the provenance (its thread went in as the session it was learned from), and its
/// `source_updated_at` as the entry's date, so recency counts from when it was learned, not
/// from the import.
fn keep_recall_origin(
    conn: &rusqlite::Connection,
    entry_id: &str,
    turn: Option<String>,
    cwd: Option<String>,
    date: Option<&str>,
) -> rusqlite::Result<()> {
    let stored: String = conn.query_row(
        "SELECT provenance FROM recall_entries WHERE id = ?1",
        [entry_id],
        |r| r.get(0),
    )?;
    let mut provenance: crate::memory::entry::Provenance =
        serde_json::from_str(&stored).unwrap_or_default();
    provenance.turns.extend(turn);
    provenance.cwds.extend(cwd);
    let json = serde_json::to_string(&provenance).unwrap_or(stored);
    conn.execute(
        "UPDATE recall_entries SET provenance = ?2, \
         created_at = coalesce(?3, created_at), updated_at = coalesce(?3, updated_at) \
         WHERE id = ?1",
        rusqlite::params![entry_id, json, date],
    )?;
    Ok(())
}

/// The project directory of a bucket: `.canonical_cwd`, else the unmangled name.
pub fn bucket_path(bucket: &Path) -> PathBuf {
    if let Ok(text) = std::fs::read_to_string(bucket.join(".canonical_cwd")) {
        let text = text.trim();
        if !text.is_empty() {
            return PathBuf::from(text);
        }
    }
    let name = bucket
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    PathBuf::from(name.replace('-', "/"))
}

fn identity_for(path: &Path) -> RepoIdentity {
    if path.is_dir()
        && let Ok(identity) = RepoIdentity::resolve(path)
    {
        return identity;
    }
    RepoIdentity {
        canonical_path: path.to_path_buf(),
        kind: IdentityKind::NotGit,
        work_dir: path.to_path_buf(),
        warning: None,
    }
}

fn read_json(path: &Path, errors: &mut Vec<String>) -> Option<Value> {
    match std::fs::read_to_string(path) {
        Ok(text) => match serde_json::from_str(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.push(format!("{}: not valid JSON ({e}); skipped", path.display()));
                None
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            errors.push(format!("{}: {e}; skipped", path.display()));
            None
        }
    }
}

/// Registers a project inside the import's transaction ([`project::upsert_row`]).
fn upsert_project(
    conn: &rusqlite::Connection,
    identity: &RepoIdentity,
    now: &str,
) -> Result<(String, String), CompileError> {
    let id = project::upsert_row(conn, identity, now).map_err(sql("register imported project"))?;
    Ok((id, identity.canonical_path.to_string_lossy().into_owned()))
}

/// Imports the reference home at `from` (see the module docs).
pub fn import_reference(
    store: &mut Store,
    paths: &Paths,
    config: &Config,
    from: &Path,
    dry_run: bool,
    now: &str,
) -> Result<ImportReport, CompileError> {
    let started = Instant::now();
    let projects_dir = from.join("projects");
    let mut buckets: Vec<PathBuf> = match std::fs::read_dir(&projects_dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect(),
        Err(e) => {
            return Err(CompileError::Input {
                path: projects_dir.display().to_string(),
                message: format!(
                    "cannot list reference buckets ({e}); pass --from with the reference home \
                     (the directory holding projects/)"
                ),
            });
        }
    };
    buckets.sort();
    let mut report = ImportReport {
        from: from.display().to_string(),
        dry_run,
        buckets: Vec::new(),
        archived_buckets: Vec::new(),
        projections: Vec::new(),
        receipt_id: None,
    };
    let mut applier = Applier::new(config.memory.near_duplicate_threshold)?;
    let tx = store
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql("begin import"))?;
    for bucket in buckets {
        let name = bucket
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if is_archived_bucket(&name) {
            report.archived_buckets.push(name);
            continue;
        }
        let path = bucket_path(&bucket);
        let identity = identity_for(&path);
        let project = upsert_project(&tx, &identity, now)?;
        let (project_id, display_path) = project;
        let mut b = BucketReport {
            bucket: name.clone(),
            project_id: project_id.clone(),
            path: display_path,
            ..BucketReport::default()
        };
        let source = "import:reference";
        let ctx = OpContext {
            project_id: Some(&project_id),
            now,
            source,
            suggestion_id: None,
            session_id: None,
        };
        if let Some(value) = read_json(&bucket.join("memory/memory.json"), &mut b.errors) {
            let index: RefMemoryIndex = serde_json::from_value(value).unwrap_or_default();
            for (scope, records) in [(Scope::User, &index.user), (Scope::Project, &index.global)] {
                for value in records {
                    let Ok(record) = serde_json::from_value::<RefRecord>(value.clone()) else {
                        b.errors
                            .push(format!("{name}: a memory entry is not an object; skipped"));
                        continue;
                    };
                    let content = record.content.trim().to_owned();
                    let summary = match one_line(&record.summary) {
                        s if s.is_empty() => one_line(&content),
                        s => s,
                    };
                    let outcome = applier.add(
                        &tx,
                        AddInput {
                            scope,
                            kind: infer_kind(&summary, &content),
                            content: if content == summary {
                                String::new()
                            } else {
                                content
                            },
                            summary: summary.clone(),
                            evidence: &[],
                            source_paths: &record.source_paths,
                            confidence: record.confidence.unwrap_or(1.0),
                        },
                        &ctx,
                        ApplyPolicy::IMPORT,
                    )?;
                    let item = OpReport {
                        op: "add",
                        summary,
                        suggestion_id: None,
                        outcome,
                    };
                    b.memory.count(&item);
                    b.items.push(item);
                }
            }
        }
        if let Some(value) = read_json(&bucket.join("recall/index.json"), &mut b.errors) {
            let records = value
                .get("records")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for value in records {
                let Ok(record) = serde_json::from_value::<RefRecord>(value) else {
                    b.errors
                        .push(format!("{name}: a recall record is not an object; skipped"));
                    continue;
                };
                let thread = RefRecord::text(record.thread_id.as_ref());
                let turn = RefRecord::text(record.turn_id.as_ref());
                let cwd = RefRecord::text(record.cwd.as_ref());
                let date = RefRecord::text(record.source_updated_at.as_ref())
                    .and_then(|d| crate::store::time::parse(&d))
                    .map(crate::store::time::format_ts);
                let op = Operation::Recall {
                    scope: Scope::Project,
                    summary: record.summary,
                    content: record.content,
                    trigger: String::new(),
                    paths: record.source_paths,
                    evidence: Vec::new(),
                };
                let record_ctx = OpContext {
                    session_id: thread.as_deref(),
                    ..ctx
                };
                let item = applier.apply(&tx, &op, &record_ctx, ApplyPolicy::IMPORT)?;
                if let Outcome::Applied { entry_id, .. } = &item.outcome {
                    keep_recall_origin(&tx, entry_id, turn, cwd, date.as_deref())
                        .map_err(sql("keep a recall record's origin"))?;
                }
                b.recall.count(&item);
                b.items.push(item);
            }
        }
        let pending_dir = bucket.join("suggestions/pending");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&pending_dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        for file in files {
            let Some(value) = read_json(&file, &mut b.errors) else {
                continue;
            };
            let envelope: RefEnvelope = match serde_json::from_value(value) {
                Ok(e) => e,
                Err(e) => {
                    b.errors.push(format!(
                        "{}: not an envelope ({e}); skipped",
                        file.display()
                    ));
                    continue;
                }
            };
            let (output, dropped) = map_suggestions(&envelope.suggestions);
            b.suggestions_dropped += dropped.len();
            let outcome = queue::enqueue_in(
                &tx,
                &NewEnvelope {
                    project_id: Some(project_id.clone()),
                    host: Some("codex".into()),
                    session_id: Some(envelope.thread_id.clone()).filter(|s| !s.is_empty()),
                    turn_id: Some(envelope.suggestion_id.clone()).filter(|s| !s.is_empty()),
                    provider: "reference-import".into(),
                    payload: output,
                    now: now.to_owned(),
                },
            )?;
            match outcome {
                EnqueueOutcome::Inserted(_) => b.suggestions_queued += 1,
                EnqueueOutcome::Duplicate(_) => b.suggestions_duplicate += 1,
            }
        }
        for (scope, project_id, budget) in [
            (Scope::User, None, config.memory.user_budget_chars),
            (
                Scope::Project,
                Some(project_id.as_str()),
                config.memory.project_budget_chars,
            ),
        ] {
            let budget = usize::try_from(budget).unwrap_or(usize::MAX);
            let enforced = applier.enforce_budget(&tx, scope, project_id, budget, now)?;
            if !enforced.evictions.is_empty() {
                b.budgets.push(enforced);
            }
        }
        report.buckets.push(b);
    }
    if dry_run {
        tx.rollback().map_err(sql("roll back dry-run import"))?;
        return Ok(report);
    }
    tx.commit().map_err(sql("commit import"))?;
    let mut problems = Vec::new();
    let mut done: Vec<String> = Vec::new();
    for b in &report.buckets {
        if done.contains(&b.project_id) {
            continue;
        }
        done.push(b.project_id.clone());
        let mut t = targets(store, &b.project_id)?;
        if done.len() > 1 {
            t.retain(|t| *t != crate::memory::projection::Target::User);
        }
        let (edits, unreadable) = super::import_edits(store, &mut applier, paths, &t, now)?;
        let _ = edits;
        t.retain(|target| !unreadable.iter().any(|(u, _)| u == target));
        problems.extend(unreadable.into_iter().map(|(_, m)| m));
        let (written, write_problems) = write_projections(store.conn(), paths, &t, now)?;
        report.projections.extend(written);
        problems.extend(write_problems);
    }
    let status = if problems.is_empty() {
        "ok"
    } else {
        "degraded"
    };
    let reason = (!problems.is_empty()).then(|| problems.join("; "));
    report.receipt_id = Some(super::receipt::write_other(
        store.conn(),
        "import",
        None,
        status,
        reason.as_deref(),
        now,
        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        &report,
    )?);
    Ok(report)
}
