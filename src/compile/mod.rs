//! Compiler: drains the suggestion queue into deterministic memory operations and receipts.
//!
//! One run ([`run`]) for one project:
//! 1. hand edits of `USER.md` and the project's `MEMORY.md` are imported as operations first,
//!    so a person's edit is never overwritten;
//! 2. a batch of envelopes is claimed (leased, `BEGIN IMMEDIATE`);
//! 3. in one write transaction, each envelope's operations are applied by the memory store's
//!    deterministic rules and the envelope is completed — or rolled back to its savepoint and
//!    failed (retried later) or discarded (corrupt payload). Completion checks the lease, so two
//!    compiles at once never apply an envelope twice;
//! 4. hard budgets are enforced (evictions are archived, never deleted);
//! 5. projections are re-rendered atomically and a receipt is written (kind `compile`, status
//!    `ok`, `degraded`, `failed` or `skipped`, with every operation's outcome and reason).
//!
//! Backends: `script` (deterministic, the default). `llm` and `agent:*` need provider clients
//! that are not in this build; asking for them writes a `degraded` receipt with the reason and
//! leaves the queue untouched, never a silent fallback.

pub mod consolidate;
pub mod eval;
pub mod import;
pub mod receipt;
pub mod reference;

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use rusqlite::{Connection, TransactionBehavior};
use serde::Serialize;

use crate::memory::Scope;
use crate::memory::apply::{Applier, ApplyPolicy, OpContext, OpReport, Outcome};
use crate::memory::budget::BudgetReport;
use crate::memory::projection::{self, EditImport, Target, Written};
use crate::memory::store::MemoryError;
use crate::queue::{self, Counts, QueueError};
use crate::store::config::Config;
use crate::store::db::{Store, StoreError};
use crate::store::paths::Paths;
use crate::store::project;

/// Envelopes claimed per batch by default.
pub const DEFAULT_BATCH: usize = 50;

/// A compile backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// Deterministic application of the reviewer's operations (no model).
    Script,
    /// An LLM consolidates operations against entry ids (needs a provider).
    Llm,
    /// An agent subprocess (`codex exec`, `pi`, `opencode`) emitting operations JSON.
    Agent(String),
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Script => f.write_str("script"),
            Backend::Llm => f.write_str("llm"),
            Backend::Agent(name) if name.is_empty() => f.write_str("agent"),
            Backend::Agent(name) => write!(f, "agent:{name}"),
        }
    }
}

/// An unknown backend name.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown compiler backend `{0}`; use `script` (deterministic), `llm` or `agent:<codex|pi|opencode>`"
)]
pub struct UnknownBackend(pub String);

impl FromStr for Backend {
    type Err = UnknownBackend;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "script" | "" => Ok(Backend::Script),
            "llm" => Ok(Backend::Llm),
            "agent" => Ok(Backend::Agent(String::new())),
            other => match other.strip_prefix("agent:") {
                Some(name @ ("codex" | "pi" | "opencode")) => Ok(Backend::Agent(name.to_owned())),
                _ => Err(UnknownBackend(other.to_owned())),
            },
        }
    }
}

impl Backend {
    /// Why this backend cannot run without a consolidating model (`None` for `script`).
    pub fn unavailable_reason(&self) -> Option<String> {
        match self {
            Backend::Script => None,
            other => Some(format!(
                "backend `{other}` needs a model to consolidate with (a provider profile for \
                 `llm`, the `codex`, `pi` or `opencode` CLI for `agent:*`); nothing was \
                 compiled, rerun with \
                 --backend script"
            )),
        }
    }
}

/// Options of one compile run.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// Which backend.
    pub backend: Backend,
    /// Envelopes per batch.
    pub batch: usize,
    /// The run's time (RFC 3339); recorded on every change.
    pub now: String,
    /// Lease of the claim, in seconds.
    pub lease_secs: i64,
    /// Import hand edits and write projections (off for eval replays, which touch no files).
    pub projections: bool,
}

impl CompileOptions {
    /// Script backend, default batch and lease, projections on, at `now`.
    pub fn new(now: impl Into<String>) -> CompileOptions {
        CompileOptions {
            backend: Backend::Script,
            batch: DEFAULT_BATCH,
            now: now.into(),
            lease_secs: queue::DEFAULT_LEASE_SECS,
            projections: true,
        }
    }
}

/// How a run ended (the receipt status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Everything claimed was compiled and the projections are current.
    Ok,
    /// The run did less than asked (unavailable backend, a projection not written).
    Degraded,
    /// Some envelopes failed (they are retried while attempts remain).
    Failed,
    /// Nothing to do.
    Skipped,
}

impl RunStatus {
    /// The receipt status name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Degraded => "degraded",
            RunStatus::Failed => "failed",
            RunStatus::Skipped => "skipped",
        }
    }
}

/// What happened to one envelope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvelopeResult {
    /// Envelope id.
    pub id: i64,
    /// Final state in this run (`done`, `failed`, `discarded`, `lease_lost`).
    pub state: String,
    /// Why, when not done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Operations it carried.
    pub operations: usize,
}

/// Totals of operation outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Changed the store.
    pub applied: usize,
    /// Skipped with a reason.
    pub skipped: usize,
    /// Discarded with a reason.
    pub discarded: usize,
}

impl Tally {
    fn count(&mut self, report: &OpReport) {
        match report.outcome {
            Outcome::Applied { .. } => self.applied += 1,
            Outcome::Skipped { .. } => self.skipped += 1,
            Outcome::Discarded { .. } => self.discarded += 1,
        }
    }
}

/// The result of one compile run (also the receipt's detail).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompileReport {
    /// How it ended.
    pub status: RunStatus,
    /// Why, when not ok.
    pub reason: Option<String>,
    /// The project.
    pub project_id: String,
    /// The backend used.
    pub backend: String,
    /// The receipt row.
    pub receipt_id: Option<i64>,
    /// Envelopes claimed.
    pub claimed: usize,
    /// Envelopes compiled (done).
    pub processed: usize,
    /// Per envelope.
    pub envelopes: Vec<EnvelopeResult>,
    /// Operation outcome totals (queue operations only).
    pub operations: Tally,
    /// Every queue operation's outcome, with reasons.
    pub items: Vec<OpReport>,
    /// Hand edits imported from projections before compiling.
    pub hand_edits: Vec<EditImport>,
    /// Budget enforcement per scope.
    pub budgets: Vec<BudgetReport>,
    /// Projection files written.
    pub projections: Vec<Written>,
    /// Queue counts after the run.
    pub queue: Counts,
    /// Tokens spent (0 for the deterministic backend).
    pub tokens: u64,
    /// Wall time.
    pub duration_ms: u64,
}

/// Errors that stop a compile (anything per-envelope is recorded, not raised).
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The project is not registered.
    #[error("no project `{0}` in the store; run csep inside the project once (or `csep project`)")]
    UnknownProject(String),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The memory store failed.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A SQL statement outside the queue and memory modules failed.
    #[error("compile: {context}: {source}")]
    Sql {
        /// What was being done.
        context: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A fixture or reference file could not be read.
    #[error("{path}: {message}")]
    Input {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

pub(crate) fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> CompileError {
    move |source| CompileError::Sql { context, source }
}

/// The projection targets of a project: `USER.md` and its `MEMORY.md`.
pub fn targets(store: &Store, project_id: &str) -> Result<Vec<Target>, CompileError> {
    let project = project::get(store, project_id)?
        .ok_or_else(|| CompileError::UnknownProject(project_id.to_owned()))?;
    Ok(vec![
        Target::User,
        Target::Project {
            id: project.id,
            name: project.name,
        },
    ])
}

/// Projections that could not be read, with the message.
pub type Unreadable = Vec<(Target, String)>;

/// Imports hand edits of every target in one transaction; failures to read a file are returned
/// as messages (that projection is then not rewritten).
pub fn import_edits(
    store: &mut Store,
    applier: &mut Applier,
    paths: &Paths,
    targets: &[Target],
    now: &str,
) -> Result<(Vec<EditImport>, Unreadable), CompileError> {
    let tx = store
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql("begin hand-edit import"))?;
    let mut imported = Vec::new();
    let mut problems = Vec::new();
    for target in targets {
        match projection::import_hand_edits(&tx, applier, paths, target, now) {
            Ok(Some(edit)) => imported.push(edit),
            Ok(None) => {}
            Err(e @ MemoryError::Projection { .. }) => {
                problems.push((target.clone(), e.to_string()))
            }
            Err(e) => return Err(e.into()),
        }
    }
    tx.commit().map_err(sql("commit hand-edit import"))?;
    Ok((imported, problems))
}

/// Writes every target's projection, and rebuilds the start index files memory changes
/// removed ([`crate::memory::start_index`]); failures to write a projection are returned as
/// messages.
///
/// Runs under the database's write lock (`BEGIN IMMEDIATE`): the file and its recorded hash
/// change together with respect to other compilers. Without it, a concurrent `compile` and
/// `scan` saw each other's fresh file next to a stale record and took it for a hand edit.
pub fn write_projections(
    conn: &Connection,
    paths: &Paths,
    targets: &[Target],
    now: &str,
) -> Result<(Vec<Written>, Vec<String>), CompileError> {
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(sql("lock projections"))?;
    let mut written = Vec::new();
    let mut problems = Vec::new();
    for target in targets {
        match projection::write(conn, paths, target, now) {
            Ok(w) => written.push(w),
            Err(e @ MemoryError::Projection { .. }) => problems.push(e.to_string()),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e.into());
            }
        }
    }
    // SessionStart's view of the same entries, rebuilt under the same lock. Only a cache: on
    // failure SessionStart ranks the entries itself.
    if let Err(e) = crate::memory::start_index::refresh(conn, paths) {
        tracing::warn!(error = %e, "cannot rebuild the start index");
    }
    conn.execute_batch("COMMIT")
        .map_err(sql("commit projections"))?;
    Ok((written, problems))
}

/// Runs one compile batch for `project_id` (see the module docs). Per-envelope failures are
/// recorded in the report and receipt; only store-level errors are returned.
pub fn run(
    store: &mut Store,
    paths: &Paths,
    config: &Config,
    project_id: &str,
    options: &CompileOptions,
) -> Result<CompileReport, CompileError> {
    run_with(store, paths, config, project_id, options, None)
}

/// [`run`] with a consolidating model for the `llm` and `agent:*` backends: each claimed
/// envelope's operations go through `consolidator` before the deterministic rules apply them
/// (see [`consolidate`]). Without one those backends write a `degraded` receipt and compile
/// nothing.
pub fn run_with(
    store: &mut Store,
    paths: &Paths,
    config: &Config,
    project_id: &str,
    options: &CompileOptions,
    consolidator: Option<&dyn consolidate::Consolidator>,
) -> Result<CompileReport, CompileError> {
    let started = Instant::now();
    let now = options.now.as_str();
    let mut report = CompileReport {
        status: RunStatus::Ok,
        reason: None,
        project_id: project_id.to_owned(),
        backend: options.backend.to_string(),
        receipt_id: None,
        claimed: 0,
        processed: 0,
        envelopes: Vec::new(),
        operations: Tally::default(),
        items: Vec::new(),
        hand_edits: Vec::new(),
        budgets: Vec::new(),
        projections: Vec::new(),
        queue: Counts::default(),
        tokens: 0,
        duration_ms: 0,
    };
    let targets = targets(store, project_id)?;
    let unavailable = match (&options.backend, consolidator) {
        (Backend::Script, _) | (_, Some(_)) => None,
        (_, None) => options.backend.unavailable_reason(),
    };
    if let Some(reason) = unavailable {
        report.status = RunStatus::Degraded;
        report.reason = Some(reason);
        return finish(store, report, started, now);
    }
    // A compile writes one large transaction; a bigger page cache (32 MiB, this connection
    // only) keeps SQLite from spilling dirty pages to the WAL mid-transaction.
    store
        .conn()
        .pragma_update(None, "cache_size", -32_000)
        .map_err(sql("set cache size"))?;
    let mut applier = Applier::new(config.memory.near_duplicate_threshold)?;
    let mut problems: Vec<String> = Vec::new();
    let mut writable = targets.clone();
    if options.projections {
        let (edits, unreadable) = import_edits(store, &mut applier, paths, &targets, now)?;
        report.hand_edits = edits;
        for (target, message) in unreadable {
            writable.retain(|t| *t != target);
            problems.push(message);
        }
    }

    let owner = format!("compile:{}:{}", std::process::id(), nonce());
    let claimed = queue::claim(
        store,
        project_id,
        options.batch,
        &owner,
        now,
        options.lease_secs,
    )?;
    report.claimed = claimed.len();
    // Consolidation calls a model (and writes its ledger row), so it runs before the write
    // transaction; a failure keeps the proposal and degrades the run.
    let mut consolidated: std::collections::HashMap<i64, crate::review::ops::ReviewOutput> =
        std::collections::HashMap::new();
    if let (Some(consolidator), false) = (consolidator, matches!(options.backend, Backend::Script))
    {
        for envelope in &claimed {
            let Ok(proposed) = envelope.review_output() else {
                continue;
            };
            match consolidator.consolidate(store, project_id, &proposed) {
                Ok((output, tokens)) => {
                    report.tokens += tokens;
                    consolidated.insert(envelope.id, output);
                }
                Err(e) => problems.push(format!(
                    "{} could not consolidate envelope {}: {e}; its operations were applied as proposed",
                    consolidator.name(),
                    envelope.id
                )),
            }
        }
    }

    let tx = store
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql("begin compile"))?;
    // The hand-edit import wrote outside this applier's view of the partitions.
    applier.reset();
    // Full-text rows are written once, before commit: indexing row by row inside the
    // per-envelope savepoints makes FTS5 flush and merge a segment per row.
    applier.defer_index();
    for envelope in &claimed {
        let parsed = envelope.review_output();
        let operations = parsed.as_ref().map_or(0, |o| o.operations.len());
        let mut result = EnvelopeResult {
            id: envelope.id,
            state: "done".into(),
            reason: None,
            operations,
        };
        let output = match parsed {
            Ok(output) => consolidated.remove(&envelope.id).unwrap_or(output),
            Err(e) => {
                let reason = format!("invalid payload: {e}");
                queue::discard(&tx, envelope.id, Some(&owner), &reason, now)?;
                result.state = "discarded".into();
                result.reason = Some(reason);
                report.envelopes.push(result);
                continue;
            }
        };
        // A savepoint per envelope: its operations apply together or not at all.
        tx.execute_batch("SAVEPOINT envelope")
            .map_err(sql("savepoint envelope"))?;
        let index_mark = applier.index_mark();
        match apply_envelope(&tx, &mut applier, envelope, &output, &owner, now) {
            Ok(Some(items)) => {
                tx.execute_batch("RELEASE envelope")
                    .map_err(sql("release envelope"))?;
                for item in &items {
                    report.operations.count(item);
                }
                report.items.extend(items);
                report.processed += 1;
            }
            Ok(None) => {
                tx.execute_batch("ROLLBACK TO envelope; RELEASE envelope")
                    .map_err(sql("roll back envelope"))?;
                applier.index_rollback(index_mark);
                applier.reset();
                result.state = "lease_lost".into();
                result.reason = Some("the claim expired and was taken over; not applied".into());
            }
            Err(e) => {
                tx.execute_batch("ROLLBACK TO envelope; RELEASE envelope")
                    .map_err(sql("roll back envelope"))?;
                applier.index_rollback(index_mark);
                applier.reset();
                let reason = e.to_string().chars().take(400).collect::<String>();
                queue::fail(&tx, envelope.id, &owner, &reason, now)?;
                result.state = "failed".into();
                result.reason = Some(reason);
            }
        }
        report.envelopes.push(result);
    }
    {
        for (scope, project, budget) in [
            (Scope::User, None, config.memory.user_budget_chars),
            (
                Scope::Project,
                Some(project_id),
                config.memory.project_budget_chars,
            ),
        ] {
            let budget = usize::try_from(budget).unwrap_or(usize::MAX);
            report
                .budgets
                .push(applier.enforce_budget(&tx, scope, project, budget, now)?);
        }
    }
    applier.flush_index(&tx)?;
    tx.commit().map_err(sql("commit compile"))?;

    if options.projections {
        let (written, write_problems) = write_projections(store.conn(), paths, &writable, now)?;
        report.projections = written;
        problems.extend(write_problems);
    }
    let failed: Vec<&EnvelopeResult> = report
        .envelopes
        .iter()
        .filter(|e| e.state == "failed")
        .collect();
    if !failed.is_empty() {
        report.status = RunStatus::Failed;
        report.reason = Some(format!(
            "{} of {} envelopes failed: {}",
            failed.len(),
            report.claimed,
            failed
                .iter()
                .filter_map(|e| e.reason.as_deref())
                .next()
                .unwrap_or_default()
        ));
    } else if !problems.is_empty() {
        report.status = RunStatus::Degraded;
        report.reason = Some(problems.join("; "));
    } else if report.claimed == 0 && report.hand_edits.is_empty() {
        report.status = RunStatus::Skipped;
        report.reason = Some("no pending suggestions".into());
    }
    finish(store, report, started, now)
}

/// Applies one envelope's operations and completes it; `Ok(None)` when the lease was lost.
fn apply_envelope(
    conn: &Connection,
    applier: &mut Applier,
    envelope: &queue::Envelope,
    output: &crate::review::ops::ReviewOutput,
    owner: &str,
    now: &str,
) -> Result<Option<Vec<OpReport>>, CompileError> {
    let ctx = OpContext {
        project_id: envelope.project_id.as_deref(),
        now,
        source: "review",
        suggestion_id: Some(envelope.id),
        session_id: envelope.session_id.as_deref(),
    };
    let mut items = Vec::with_capacity(output.operations.len());
    for op in &output.operations {
        items.push(applier.apply(conn, op, &ctx, ApplyPolicy::REVIEW)?);
    }
    if !queue::complete(conn, envelope.id, owner, now)? {
        return Ok(None);
    }
    Ok(Some(items))
}

fn finish(
    store: &mut Store,
    mut report: CompileReport,
    started: Instant,
    now: &str,
) -> Result<CompileReport, CompileError> {
    report.queue = queue::counts(store.conn(), &report.project_id, now)?;
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report.receipt_id = Some(receipt::write_compile(store.conn(), &report, now)?);
    Ok(report)
}

/// A short random-enough suffix for lease owners (time-based; uniqueness within a process
/// comes from the pid and the clock).
fn nonce() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{nanos:x}")
}

/// The answer of `compile-preflight`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preflight {
    /// `run` when a compile would find work, else `skip_empty`.
    pub status: &'static str,
    /// The project.
    pub project_id: String,
    /// Pending envelopes.
    pub pending: u64,
    /// Failed envelopes with attempts left.
    pub retryable_failed: u64,
    /// Claims whose lease expired (a crashed compile).
    pub stale_processing: u64,
    /// Claims in progress.
    pub processing: u64,
}

/// Whether a compile of `project_id` would find work, as of `now`.
pub fn preflight(store: &Store, project_id: &str, now: &str) -> Result<Preflight, CompileError> {
    let counts = queue::counts(store.conn(), project_id, now)?;
    Ok(Preflight {
        status: if counts.has_work() {
            "run"
        } else {
            "skip_empty"
        },
        project_id: project_id.to_owned(),
        pending: counts.pending,
        retryable_failed: counts.retryable_failed,
        stale_processing: counts.expired_processing,
        processing: counts.processing,
    })
}

/// One project's part of a scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanEntry {
    /// The project.
    pub project_id: String,
    /// Its path.
    pub path: String,
    /// Preflight before the first run.
    pub preflight_status: String,
    /// Status of the last run (`not_run` when none ran).
    pub compile_status: String,
    /// Envelopes compiled over all runs.
    pub processed_count: usize,
    /// Receipt ids of the runs.
    pub receipts: Vec<i64>,
    /// Runs made.
    pub runs: usize,
    /// Work remained when the run limit was hit.
    pub drain_limit_reached: bool,
    /// Error that stopped this project, if any.
    pub error: Option<String>,
}

/// The answer of `scan`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanReport {
    /// Projects with pending work.
    pub total_projects: usize,
    /// Per project.
    pub results: Vec<ScanEntry>,
    /// Projects by outcome: `run` (compiled), `skipped`, `failed`.
    pub counts: std::collections::BTreeMap<&'static str, usize>,
}

/// Compiles every project with pending work, at most `max_runs` batches each. An error in one
/// project is recorded and the others continue.
pub fn scan(
    store: &mut Store,
    paths: &Paths,
    config: &Config,
    options: &CompileOptions,
    max_runs: usize,
) -> Result<ScanReport, CompileError> {
    let max_runs = max_runs.max(1);
    let projects = queue::projects_with_work(store.conn(), &options.now)?;
    let mut counts = std::collections::BTreeMap::from([("run", 0), ("skipped", 0), ("failed", 0)]);
    let mut results = Vec::new();
    for project_id in projects {
        let path = project::get(store, &project_id)?
            .map(|p| p.display_path)
            .unwrap_or_default();
        let mut entry = ScanEntry {
            project_id: project_id.clone(),
            path,
            preflight_status: String::new(),
            compile_status: "not_run".into(),
            processed_count: 0,
            receipts: Vec::new(),
            runs: 0,
            drain_limit_reached: false,
            error: None,
        };
        let outcome = (|| -> Result<(), CompileError> {
            entry.preflight_status = preflight(store, &project_id, &options.now)?.status.into();
            while entry.runs < max_runs
                && preflight(store, &project_id, &options.now)?.status == "run"
            {
                let report = run(store, paths, config, &project_id, options)?;
                entry.runs += 1;
                entry.processed_count += report.processed;
                entry.receipts.extend(report.receipt_id);
                entry.compile_status = report.status.as_str().into();
                if report.status != RunStatus::Ok || report.claimed == 0 {
                    break;
                }
            }
            entry.drain_limit_reached = entry.runs >= max_runs
                && preflight(store, &project_id, &options.now)?.status == "run";
            Ok(())
        })();
        if let Err(e) = outcome {
            entry.error = Some(e.to_string());
            entry.compile_status = "error".into();
        }
        let bucket = match entry.compile_status.as_str() {
            "ok" => "run",
            "not_run" | "skipped" => "skipped",
            _ => "failed",
        };
        *counts.entry(bucket).or_default() += 1;
        results.push(entry);
    }
    Ok(ScanReport {
        total_projects: results.len(),
        results,
        counts,
    })
}

#[cfg(test)]
#[path = "compile_tests.rs"]
mod tests;
