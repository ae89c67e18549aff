//! `eval-compiler`: replays a reference compiler fixture (spec §10) against an in-memory store
//! and reports the reference's metrics with pass/fail. No real state is touched: the store is
//! in memory and projections are off.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::reference::{RefEnvelope, RefRecord, infer_kind, map_suggestions};
use super::{Backend, CompileError, CompileOptions, run};
use crate::memory::Scope;
use crate::memory::apply::{AddInput, Applier, ApplyPolicy, OpContext, Outcome};
use crate::memory::store::{self, ListFilter};
use crate::queue::{self, NewEnvelope};
use crate::review::ops::Operation;
use crate::store::config::Config;
use crate::store::db::Store;
use crate::store::identity::{IdentityKind, RepoIdentity};
use crate::store::paths::Paths;
use crate::store::project;

/// A fixture file.
#[derive(Debug, Clone, Deserialize)]
pub struct Fixture {
    /// Human label.
    #[serde(default)]
    pub name: Option<String>,
    /// The compile context (existing memory and recall).
    #[serde(default)]
    pub context: FixtureContext,
    /// Envelopes to compile.
    #[serde(default)]
    pub batch: Vec<RefEnvelope>,
    /// Expectations (all optional).
    #[serde(default)]
    pub expect: Expect,
}

/// The parts of a fixture context the replay uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FixtureContext {
    /// Repository directory.
    #[serde(default)]
    pub cwd: String,
    /// `{"user": [...], "global": [...]}`.
    #[serde(default)]
    pub existing_memory_index: BTreeMap<String, Vec<Value>>,
    /// Existing recall records.
    #[serde(default)]
    pub existing_recall_records: Vec<Value>,
}

/// What a fixture expects.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Expect {
    /// At least this many memory entries.
    pub min_memory_records: Option<usize>,
    /// At least this many recall entries.
    pub min_recall_records: Option<usize>,
    /// At most this many recall entries.
    pub max_recall_records: Option<usize>,
    /// At least this many discarded items.
    pub min_discarded_items: Option<usize>,
    /// Summaries that must be in memory.
    #[serde(default)]
    pub required_memory_summaries: Vec<String>,
    /// Summaries that must be in recall.
    #[serde(default)]
    pub required_recall_summaries: Vec<String>,
    /// Discard reasons with their minimum counts.
    #[serde(default)]
    pub required_discard_reasons: BTreeMap<String, usize>,
}

/// The reference's metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// Active memory entries (user + project).
    pub memory_records: usize,
    /// Their summaries, user first.
    pub memory_summaries: Vec<String>,
    /// Active recall entries.
    pub recall_records: usize,
    /// Their summaries.
    pub recall_summaries: Vec<String>,
    /// Skill candidates recorded.
    pub compiled_skills: usize,
    /// Operations discarded (noise, secrets, missing reuse trigger) plus dropped suggestions.
    pub discarded_items: usize,
    /// Discard reasons with counts.
    pub discard_reasons: BTreeMap<String, usize>,
    /// Operations skipped (duplicates, missing or ambiguous targets) by reason.
    pub skip_reasons: BTreeMap<String, usize>,
}

/// The result of a replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalResult {
    /// Fixture name (or file stem).
    pub name: String,
    /// The fixture file.
    pub fixture_path: String,
    /// Backend.
    pub backend: String,
    /// `pass`, `fail` or `error`.
    pub status: String,
    /// Why, for `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Metrics.
    pub metrics: Metrics,
    /// Failed expectations (reference strings).
    pub failures: Vec<String>,
    /// Backend, duration, inputs and outputs.
    pub compiler_observability: Value,
}

/// Time the replay pretends it is (fixtures carry no clock; this is the reference fixtures'
/// reviewer date, so "this week" noise is judged as it was then).
fn replay_time(fixture: &Fixture) -> String {
    fixture
        .batch
        .iter()
        .find_map(|e| crate::store::time::parse(&e.reviewer_timestamp))
        .map(crate::store::time::format_ts)
        .unwrap_or_else(crate::store::time::now)
}

/// Replays the fixture at `path` with `backend`.
pub fn eval_fixture(
    path: &Path,
    backend: &str,
    config: &Config,
) -> Result<EvalResult, CompileError> {
    let input = |message: String| CompileError::Input {
        path: path.display().to_string(),
        message,
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| input(format!("cannot read fixture: {e}")))?;
    let fixture: Fixture = serde_json::from_str(&text)
        .map_err(|e| input(format!("not a compiler fixture (spec §10.1): {e}")))?;
    let name = fixture.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let mut result = EvalResult {
        name,
        fixture_path: path.display().to_string(),
        backend: backend.to_owned(),
        status: "error".into(),
        error: None,
        metrics: Metrics::default(),
        failures: Vec::new(),
        compiler_observability: Value::Null,
    };
    let backend: Backend = match backend.parse() {
        Ok(b) => b,
        Err(e) => {
            result.error = Some(e.to_string());
            result.failures.push("compiler_error".into());
            return Ok(result);
        }
    };
    if let Some(reason) = backend.unavailable_reason() {
        result.error = Some(reason);
        result.failures.push("compiler_error".into());
        return Ok(result);
    }
    let started = Instant::now();
    let now = replay_time(&fixture);
    let mut store = Store::open_in_memory()?;
    let cwd = [fixture.context.cwd.as_str()]
        .into_iter()
        .chain(fixture.batch.iter().map(|e| e.cwd.as_str()))
        .find(|c| !c.is_empty())
        .unwrap_or("/eval")
        .to_owned();
    let identity = RepoIdentity {
        canonical_path: cwd.clone().into(),
        kind: IdentityKind::NotGit,
        work_dir: cwd.into(),
        warning: None,
    };
    let project = project::upsert(&store, &identity, &now)?;
    seed(&store, &fixture.context, &project.id, &now, config)?;

    let mut dropped = 0usize;
    let mut families: BTreeMap<String, usize> = BTreeMap::new();
    let mut suggestion_count = 0usize;
    for env in &fixture.batch {
        for s in &env.suggestions {
            *families.entry(s.family.clone()).or_default() += 1;
        }
        suggestion_count += env.suggestions.len();
        let (output, lost) = map_suggestions(&env.suggestions);
        dropped += lost.len();
        for d in lost {
            *result.metrics.discard_reasons.entry(d.reason).or_default() += 1;
        }
        queue::enqueue(
            &store,
            &NewEnvelope {
                project_id: Some(project.id.clone()),
                host: Some("codex".into()),
                session_id: Some(env.thread_id.clone()),
                turn_id: Some(env.suggestion_id.clone()),
                provider: "eval-fixture".into(),
                payload: output,
                now: now.clone(),
            },
        )?;
    }
    let mut options = CompileOptions::new(now);
    options.backend = backend;
    options.batch = fixture.batch.len().max(1);
    options.projections = false;
    let scratch = Paths::at(std::env::temp_dir().join("csep-eval-unused"));
    let report = run(&mut store, &scratch, config, &project.id, &options)?;

    let m = &mut result.metrics;
    for scope in [Scope::User, Scope::Project] {
        let entries = store::list_entries(
            store.conn(),
            &ListFilter {
                scope: Some(scope),
                project_id: Some(&project.id),
                statuses: None,
            },
        )?;
        m.memory_summaries
            .extend(entries.into_iter().map(|e| e.summary));
    }
    m.memory_records = m.memory_summaries.len();
    let recall = store::list_recall(store.conn(), Some(&project.id))?;
    m.recall_summaries = recall.into_iter().map(|r| r.summary).collect();
    m.recall_records = m.recall_summaries.len();
    m.compiled_skills = store
        .conn()
        .query_row(
            "SELECT count(*) FROM skills WHERE state = 'candidate'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| usize::try_from(n).unwrap_or(0))
        .map_err(super::sql("count skill candidates"))?;
    m.discarded_items = dropped;
    for item in &report.items {
        match &item.outcome {
            Outcome::Discarded { reason, .. } => {
                m.discarded_items += 1;
                *m.discard_reasons.entry(reason.clone()).or_default() += 1;
            }
            Outcome::Skipped { reason, .. } => {
                let key = reason.split(':').next().unwrap_or(reason).to_owned();
                *m.skip_reasons.entry(key).or_default() += 1;
            }
            Outcome::Applied { .. } => {}
        }
    }
    result.failures = check(&fixture.expect, m);
    result.status = if result.failures.is_empty() {
        "pass"
    } else {
        "fail"
    }
    .into();
    result.backend = report.backend.clone();
    result.compiler_observability = serde_json::json!({
        "backend": report.backend,
        "duration_ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "attempts": 1,
        "input": {
            "envelopes": fixture.batch.len(),
            "suggestions": suggestion_count,
            "families": families,
        },
        "output": {
            "memory_records": m.memory_records,
            "recall_records": m.recall_records,
            "compiled_skills": m.compiled_skills,
            "discarded_items": m.discarded_items,
            "operations": report.operations,
        },
        "items": report.items,
    });
    Ok(result)
}

/// Seeds the context's existing memory and recall (as they were; no filters).
fn seed(
    store: &Store,
    context: &FixtureContext,
    project_id: &str,
    now: &str,
    config: &Config,
) -> Result<(), CompileError> {
    let mut applier = Applier::new(config.memory.near_duplicate_threshold)?;
    let ctx = OpContext {
        project_id: Some(project_id),
        now,
        source: "fixture",
        suggestion_id: None,
        session_id: None,
    };
    let conn = store.conn();
    for (key, records) in &context.existing_memory_index {
        let scope = if key == "user" {
            Scope::User
        } else {
            Scope::Project
        };
        for value in records {
            let Ok(record) = serde_json::from_value::<RefRecord>(value.clone()) else {
                continue;
            };
            let summary = crate::memory::apply::one_line(&record.summary);
            let content = record.content.trim().to_owned();
            if content.is_empty() {
                continue;
            }
            applier.add(
                conn,
                AddInput {
                    scope,
                    kind: infer_kind(&summary, &content),
                    summary: if summary.is_empty() {
                        content.clone()
                    } else {
                        summary
                    },
                    content,
                    evidence: &[],
                    source_paths: &record.source_paths,
                    confidence: record.confidence.unwrap_or(1.0),
                },
                &ctx,
                ApplyPolicy::HAND,
            )?;
        }
    }
    for value in &context.existing_recall_records {
        let Ok(record) = serde_json::from_value::<RefRecord>(value.clone()) else {
            continue;
        };
        let op = Operation::Recall {
            scope: Scope::Project,
            summary: record.summary,
            content: record.content,
            trigger: String::new(),
            paths: record.source_paths,
            evidence: Vec::new(),
        };
        applier.apply(conn, &op, &ctx, ApplyPolicy::HAND)?;
    }
    Ok(())
}

/// The reference's failure strings for unmet expectations.
pub fn check(expect: &Expect, m: &Metrics) -> Vec<String> {
    let mut failures = Vec::new();
    if let Some(n) = expect.min_memory_records
        && m.memory_records < n
    {
        failures.push(format!("memory_records_below_{n}"));
    }
    if let Some(n) = expect.min_recall_records
        && m.recall_records < n
    {
        failures.push(format!("recall_records_below_{n}"));
    }
    if let Some(n) = expect.min_discarded_items
        && m.discarded_items < n
    {
        failures.push(format!("discarded_items_below_{n}"));
    }
    if let Some(n) = expect.max_recall_records
        && m.recall_records > n
    {
        failures.push(format!("recall_records_above_{n}"));
    }
    for s in &expect.required_memory_summaries {
        if !m.memory_summaries.contains(s) {
            failures.push(format!("missing_memory:{s}"));
        }
    }
    for s in &expect.required_recall_summaries {
        if !m.recall_summaries.contains(s) {
            failures.push(format!("missing_recall:{s}"));
        }
    }
    for (reason, n) in &expect.required_discard_reasons {
        if m.discard_reasons.get(reason).copied().unwrap_or(0) < *n {
            failures.push(format!("discard_reason:{reason}_below_{n}"));
        }
    }
    failures
}
