//! The worker's stages, in order: ingest the stopped session's transcript delta, review it when
//! the trigger policy says so (queueing the reviewer's operations), compile the project's queue
//! into memory, and count skill uses seen in the new messages.
//!
//! Each stage returns a JSON detail for the worker's receipt; an error fails the event, which is
//! retried (ingest and queueing are idempotent, so a retry never duplicates anything).

use std::path::Path;

use rusqlite::{OptionalExtension, params};
use serde_json::json;

use crate::archive::ingest::ingest_transcript;
use crate::compile::{self, CompileOptions};
use crate::host::Host;
use crate::llm::budget::LedgerCtx;
use crate::llm::{Provider, Purpose};
use crate::memory::Scope;
use crate::memory::store::{ListFilter, list_entries};
use crate::queue::{self, NewEnvelope};
use crate::review::input::{MemoryRef, ReviewBudgets, ReviewInput, SessionInfo, from_archive};
use crate::review::trigger::{self, Delta, History};
use crate::store::config::Config;
use crate::store::db::Store;
use crate::store::env::Env;
use crate::store::paths::Paths;
use crate::store::time;
use crate::worker::failpoint::{self, Failpoint};
use crate::worker::{Stage, StopEvent};

/// Ingests the transcript delta of the stopped session into the archive.
#[derive(Debug)]
pub struct IngestStage;

impl Stage for IngestStage {
    fn name(&self) -> &'static str {
        "ingest"
    }

    fn run(&self, store: &mut Store, event: &StopEvent) -> Result<serde_json::Value, String> {
        let Some(path) = event.transcript_path.as_deref() else {
            return Ok(json!({"skipped": "the Stop payload named no transcript"}));
        };
        let host: Host = event
            .host
            .parse()
            .map_err(|e: crate::host::UnknownHost| e.to_string())?;
        let report = ingest_transcript(
            store,
            host,
            Path::new(path),
            event.project_id.as_deref(),
            event.session_id.as_deref(),
        )
        .map_err(|e| e.to_string())?;
        Ok(json!({
            "session_ref": report.session_ref,
            "from_offset": report.from_offset,
            "next_offset": report.next_offset,
            "messages_inserted": report.messages_inserted,
            "injected_inserted": report.injected_inserted,
            "malformed_lines": report.malformed_lines,
            "repaired_lines": report.repaired_lines,
        }))
    }
}

/// Reviews the session's messages since its last review when the trigger policy says so, and
/// queues the proposed operations. Uses the active provider profile; without one (or without
/// its key) the offline reviewer runs, and the receipt says why.
#[derive(Debug)]
pub struct ReviewStage<'a> {
    /// Configuration (profiles, `[review]`, `[budget]`, `[memory]`).
    pub config: &'a Config,
    /// Environment with provider keys.
    pub env: &'a Env,
    /// Crash point for tests (`review:after_enqueue`); `None` in production.
    pub failpoint: Option<&'a Failpoint>,
}

/// The review position of one archived session.
struct SessionState {
    session_ref: i64,
    cursor: Option<i64>,
    empty_streak: u32,
    last_reviewed_at: Option<String>,
}

fn session_state(store: &Store, event: &StopEvent) -> Result<Option<SessionState>, String> {
    let Some(session_id) = event.session_id.as_deref() else {
        return Ok(None);
    };
    store
        .conn()
        .query_row(
            "SELECT id, review_cursor, review_empty_streak, last_reviewed_at FROM sessions \
             WHERE host = ?1 AND session_id = ?2",
            params![event.host, session_id],
            |r| {
                Ok(SessionState {
                    session_ref: r.get(0)?,
                    cursor: r.get(1)?,
                    empty_streak: r.get::<_, i64>(2).map(|n| u32::try_from(n).unwrap_or(0))?,
                    last_reviewed_at: r.get(3)?,
                })
            },
        )
        .optional()
        .map_err(|e| e.to_string())
}

/// How [`review_session`] runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReviewMode {
    /// Review even when the trigger policy says wait (`csep review`).
    pub force: bool,
    /// Use the offline reviewer whatever the profile says.
    pub offline: bool,
    /// Report the operations without queueing them or moving the session's review cursor.
    pub dry_run: bool,
}

/// Reviews one archived session's messages since its last review and (unless dry run) queues
/// the operations. Returns the JSON detail recorded in receipts and shown by `csep review`.
pub fn review_session(
    store: &mut Store,
    config: &Config,
    env: &Env,
    event: &StopEvent,
    mode: ReviewMode,
    failpoint: Option<&Failpoint>,
) -> Result<serde_json::Value, String> {
    let Some(state) = session_state(store, event)? else {
        return Ok(json!({"skipped": "the session is not archived"}));
    };
    let messages =
        from_archive(store, state.session_ref, state.cursor).map_err(|e| e.to_string())?;
    let Some(last_id) = messages.iter().map(|m| m.id).max() else {
        return Ok(json!({"decision": "wait", "reason": "no new messages"}));
    };
    let now = time::now();
    let history = History {
        consecutive_empty: state.empty_streak,
        seconds_since_last_review: state
            .last_reviewed_at
            .as_deref()
            .and_then(time::parse)
            .zip(time::parse(&now))
            .map(|(then, now)| u64::try_from((now - then).get_seconds()).unwrap_or(0)),
    };
    let decision = trigger::decide(&config.review, &Delta::from_messages(&messages), &history);
    if !decision.is_review() && !mode.force {
        return Ok(json!({"decision": decision}));
    }
    let entries = list_entries(
        store.conn(),
        &ListFilter {
            scope: None,
            project_id: event.project_id.as_deref(),
            statuses: None,
        },
    )
    .map_err(|e| e.to_string())?;
    let used = |scope: Scope| -> u32 {
        let chars: usize = entries
            .iter()
            .filter(|e| e.scope == scope)
            .map(|e| e.summary.chars().count() + e.content.chars().count())
            .sum();
        u32::try_from(chars).unwrap_or(u32::MAX)
    };
    let input = ReviewInput {
        session: SessionInfo {
            host: event.host.clone(),
            session_id: event.session_id.clone().unwrap_or_default(),
            project_id: event.project_id.clone(),
            project_name: None,
        },
        memory: entries
            .iter()
            .map(|e| MemoryRef {
                id: e.id.clone(),
                scope: e.scope,
                kind: e.kind,
                summary: e.summary.clone(),
            })
            .collect(),
        budgets: ReviewBudgets {
            user_memory_chars: config.memory.user_budget_chars,
            user_memory_used: used(Scope::User),
            project_memory_chars: config.memory.project_budget_chars,
            project_memory_used: used(Scope::Project),
            ..ReviewBudgets::default()
        },
        messages,
    };
    let profile_name = config.active_profile.clone();
    let (provider, unavailable) = match config.active_profile() {
        Some(_) if mode.offline => (Provider::offline(&profile_name), None),
        Some(profile) => Provider::from_profile_or_offline(&profile_name, profile, env),
        None => (Provider::offline(&profile_name), None),
    };
    let ledger = LedgerCtx::new(store, &config.budget, Purpose::Review);
    let mut result = crate::review::run(&provider, &input, &ledger);
    if let Some(cause) = &unavailable {
        result = result.with_fallback(cause);
    }
    let operations = result.output.operations.len();
    if mode.dry_run {
        return Ok(json!({
            "decision": decision,
            "reviewer": result.reviewer,
            "status": result.status.as_str(),
            "proposed": result.output.operations,
            "dropped": result.dropped,
        }));
    }
    let _ = crate::review::record_receipt(
        store,
        &result,
        event.project_id.as_deref(),
        event.session_id.as_deref(),
        &now,
    );
    let reviewed = !matches!(
        result.status,
        crate::review::ReviewStatus::Failed | crate::review::ReviewStatus::SkippedBudget
    );
    // Queueing the operations and moving the review cursor commit together: a crash between
    // them would otherwise re-review the same messages (and, with a non-deterministic model,
    // queue a second, different suggestion for them).
    let tx = store
        .conn_mut()
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| e.to_string())?;
    let mut queued = None;
    if operations > 0 {
        let outcome = queue::enqueue_in(
            &tx,
            &NewEnvelope {
                project_id: event.project_id.clone(),
                host: Some(event.host.clone()),
                session_id: event.session_id.clone(),
                turn_id: event.turn_id.clone(),
                provider: result.reviewer.clone(),
                payload: result.output.clone(),
                now: now.clone(),
            },
        )
        .map_err(|e| e.to_string())?;
        queued = Some(outcome);
    }
    failpoint::hit(failpoint, "review", "after_enqueue");
    if reviewed {
        let streak = if operations == 0 {
            state.empty_streak + 1
        } else {
            0
        };
        tx.execute(
            "UPDATE sessions SET review_cursor = ?2, review_empty_streak = ?3, \
             last_reviewed_at = ?4 WHERE id = ?1",
            params![state.session_ref, last_id, streak, now],
        )
        .map_err(|e| e.to_string())?;
    }
    tx.commit().map_err(|e| e.to_string())?;
    Ok(json!({
        "decision": decision,
        "reviewer": result.reviewer,
        "status": result.status.as_str(),
        "operations": operations,
        "dropped": result.dropped.len(),
        "queued": queued,
        "provider_unavailable": unavailable.map(|e| e.to_string()),
    }))
}

impl Stage for ReviewStage<'_> {
    fn name(&self) -> &'static str {
        "review"
    }

    fn run(&self, store: &mut Store, event: &StopEvent) -> Result<serde_json::Value, String> {
        review_session(
            store,
            self.config,
            self.env,
            event,
            ReviewMode::default(),
            self.failpoint,
        )
    }
}

/// Compiles the project's pending suggestions into memory (deterministic backend) and renders
/// the projections.
#[derive(Debug)]
pub struct CompileStage<'a> {
    /// Where projections go.
    pub paths: &'a Paths,
    /// Configuration (`[memory]` budgets).
    pub config: &'a Config,
}

impl Stage for CompileStage<'_> {
    fn name(&self) -> &'static str {
        "compile"
    }

    fn run(&self, store: &mut Store, event: &StopEvent) -> Result<serde_json::Value, String> {
        let Some(project_id) = event.project_id.as_deref() else {
            return Ok(json!({"skipped": "the session has no project"}));
        };
        let now = time::now();
        let pending = compile::preflight(store, project_id, &now).map_err(|e| e.to_string())?;
        if pending.status != "run" {
            return Ok(json!({"skipped": "nothing pending"}));
        }
        let report = compile::run(
            store,
            self.paths,
            self.config,
            project_id,
            &CompileOptions::new(now),
        )
        .map_err(|e| e.to_string())?;
        Ok(json!({
            "status": report.status,
            "processed": report.processed,
            "operations": report.operations,
            "receipt_id": report.receipt_id,
        }))
    }
}

/// Counts uses of csep's published skills in newly archived messages.
#[derive(Debug)]
pub struct SkillUsageStage;

impl Stage for SkillUsageStage {
    fn name(&self) -> &'static str {
        "skill_usage"
    }

    fn run(&self, store: &mut Store, _event: &StopEvent) -> Result<serde_json::Value, String> {
        let since = time::parse(&time::now())
            .and_then(|t| t.checked_sub(jiff::SignedDuration::from_hours(48)).ok())
            .map(time::format_ts)
            .unwrap_or_default();
        let report = crate::skills::usage::detect(store, &since).map_err(|e| e.to_string())?;
        Ok(serde_json::to_value(&report).unwrap_or_default())
    }
}
