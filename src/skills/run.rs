//! One synthesis run (`csep skills synthesize`, `csep skill-synthesize`, the worker): evidence →
//! synthesizer → gates → staging → publishing, then usage detection and retirement, and a
//! receipt (`receipts.kind = 'skills'`).
//!
//! Invariants:
//! - **Plan, then apply.** Every decision is computed first without writing; a dry run then
//!   writes the would-be SKILL.md files into its temporary directory only (no database row, no
//!   staging file, no host file, no receipt row: the receipt is returned to the caller).
//! - **Every gate failure is recorded** on the skill (`rejected`, or `candidate` when only the
//!   evidence is short) with its reasons, and counted by gate in the receipt.
//! - **The user has the last word**: a skill the user rejected is never proposed again; a
//!   retired one comes back only through `csep skills restore`; a published file the user edited
//!   is never overwritten.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use jiff::{Timestamp, ToSpan};
use rusqlite::params;
use serde::Serialize;

use super::SkillError;
use super::evidence::{self, EvidenceCounts, EvidenceQuery};
use super::gates::{self, Gate, GateFailure, GateInput, InventoryEntry};
use super::lifecycle::{self, ActionReport, SkillRecord, SkillState};
use super::publish::{self, LeftAlone, Roots};
use super::render::{self, SkillDraft};
use super::synth::{SkillSynthesizer, TokenUsage};
use super::usage;
use crate::store::config::{PublishPolicy, SkillsConfig, SkillsMode};
use crate::store::db::Store;
use crate::store::time;

/// Longest window of the full mode, in days (as the reference: `clamp(days, 1, 30)`... widened to
/// a year, since csep's archive keeps everything).
pub const MAX_LOOKBACK_DAYS: u32 = 365;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthesisOptions {
    /// Evidence window mode.
    pub mode: SkillsMode,
    /// Window of the incremental mode.
    pub lookback_hours: u32,
    /// Window of the full mode.
    pub lookback_days: u32,
    /// Only this project.
    pub project_id: Option<String>,
    /// Write nothing outside `dry_run_dir`.
    pub dry_run: bool,
    /// Temporary directory a dry run writes its would-be SKILL.md files into.
    pub dry_run_dir: Option<PathBuf>,
    /// `skills.min_evidence_sessions`.
    pub min_evidence_sessions: u32,
    /// `skills.publish_policy`.
    pub publish_policy: PublishPolicy,
    /// `skills.retire_after_days`.
    pub retire_after_days: u32,
    /// The run's clock.
    pub now: Timestamp,
}

impl SynthesisOptions {
    /// Options from `[skills]`, with the mode and windows the caller overrides.
    pub fn from_config(config: &SkillsConfig, now: Timestamp) -> SynthesisOptions {
        SynthesisOptions {
            mode: config.default_mode,
            lookback_hours: config.lookback_hours,
            lookback_days: config.lookback_days,
            project_id: None,
            dry_run: false,
            dry_run_dir: None,
            min_evidence_sessions: config.min_evidence_sessions,
            publish_policy: config.publish_policy,
            retire_after_days: config.retire_after_days,
            now,
        }
    }

    /// The start of the evidence window.
    pub fn since(&self) -> Timestamp {
        let hours = match self.mode {
            SkillsMode::Incremental => i64::from(self.lookback_hours.max(1)),
            SkillsMode::Full => i64::from(self.lookback_days.clamp(1, MAX_LOOKBACK_DAYS)) * 24,
        };
        self.now.checked_sub(hours.hours()).unwrap_or(self.now)
    }
}

/// What happened to one draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Published to the hosts (policy `auto`).
    Published,
    /// Staged, waiting for `csep skills approve`.
    Staged,
    /// Kept as a candidate: only the evidence is short.
    Candidate,
    /// Failed a gate.
    Rejected,
    /// Identical to what is already staged or published.
    Unchanged,
    /// The user rejected it before; not proposed again.
    SkippedUserRejected,
    /// Retired; only `csep skills restore` brings it back.
    SkippedRetired,
}

/// The decision for one draft.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DraftResult {
    /// The skill.
    pub name: String,
    /// What happened (or, in a dry run, would happen).
    pub outcome: Outcome,
    /// Gate failures.
    pub failures: Vec<GateFailure>,
    /// Distinct supporting sessions.
    pub evidence_sessions: u32,
    /// Where its SKILL.md was written (staging, or the dry-run directory).
    pub file: Option<String>,
    /// Host files written.
    pub written: Vec<String>,
    /// Host files left alone.
    pub left_alone: Vec<LeftAlone>,
}

/// The receipt of a run (stored in `receipts.detail` unless dry).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynthesisReceipt {
    /// `ok`, `degraded` (some step failed but the run went on) or `skipped`.
    pub status: String,
    /// Why, when not ok.
    pub reason: Option<String>,
    /// `incremental` or `full`.
    pub mode: String,
    /// Hours looked back (incremental).
    pub lookback_hours: Option<u32>,
    /// Days looked back (full).
    pub lookback_days: Option<u32>,
    /// Start of the window.
    pub since: String,
    /// Project filter.
    pub project_id: Option<String>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Which synthesizer.
    pub synthesizer: String,
    /// Evidence counted.
    pub evidence: EvidenceCounts,
    /// Drafts proposed.
    pub candidates: usize,
    /// Per draft.
    pub drafts: Vec<DraftResult>,
    /// Gate failures by gate.
    pub gate_failures: BTreeMap<String, u64>,
    /// Names published in this run.
    pub published: Vec<String>,
    /// Names staged for approval.
    pub staged: Vec<String>,
    /// Uses newly counted, per skill.
    pub usage: BTreeMap<String, i64>,
    /// Skills retired for lack of use.
    pub retired: Vec<ActionReport>,
    /// Published files found edited by the user (now left alone).
    pub user_edited: Vec<String>,
    /// Tokens spent.
    pub tokens: TokenUsage,
    /// When it started.
    pub started_at: String,
    /// When it finished.
    pub finished_at: String,
    /// Wall time.
    pub duration_ms: u64,
    /// The receipt row, when stored.
    pub receipt_id: Option<i64>,
}

/// Progress reported while a run works: a phase name, then `(done, total)` sessions.
pub trait Progress {
    /// A new phase starts.
    fn phase(&self, name: &str);
    /// Sessions scanned so far.
    fn sessions(&self, done: u64, total: u64);
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn phase(&self, _name: &str) {}
    fn sessions(&self, _done: u64, _total: u64) {}
}

/// Runs one synthesis (module docs). `roots` are the real roots; a dry run never writes to them.
pub fn run_synthesis(
    store: &Store,
    roots: &Roots,
    synthesizer: &dyn SkillSynthesizer,
    opts: &SynthesisOptions,
    progress: &dyn Progress,
) -> Result<SynthesisReceipt, SkillError> {
    let clock = Instant::now();
    let started_at = time::format_ts(opts.now);
    let since = time::format_ts(opts.since());
    let mut receipt = SynthesisReceipt {
        status: "ok".into(),
        reason: None,
        mode: match opts.mode {
            SkillsMode::Incremental => "incremental".into(),
            SkillsMode::Full => "full".into(),
        },
        lookback_hours: (opts.mode == SkillsMode::Incremental).then_some(opts.lookback_hours),
        lookback_days: (opts.mode == SkillsMode::Full).then_some(opts.lookback_days),
        since: since.clone(),
        project_id: opts.project_id.clone(),
        dry_run: opts.dry_run,
        synthesizer: synthesizer.name(),
        evidence: EvidenceCounts::default(),
        candidates: 0,
        drafts: Vec::new(),
        gate_failures: BTreeMap::new(),
        published: Vec::new(),
        staged: Vec::new(),
        usage: BTreeMap::new(),
        retired: Vec::new(),
        user_edited: Vec::new(),
        tokens: TokenUsage::default(),
        finished_at: started_at.clone(),
        started_at,
        duration_ms: 0,
        receipt_id: None,
    };

    if !opts.dry_run {
        progress.phase("checking published skills");
        receipt.user_edited = lifecycle::refresh_user_edits(store)?
            .into_iter()
            .map(|(_, path)| path)
            .collect();
    }
    progress.phase("reading evidence");
    let inventory = lifecycle::inventory(store, roots)?;
    let query = EvidenceQuery {
        since,
        project_id: opts.project_id.clone(),
    };
    let bundle = evidence::collect(store, &query, inventory, &|done, total| {
        progress.sessions(done, total);
    })?;
    receipt.evidence = bundle.counts;

    progress.phase("synthesizing");
    let synthesis = match synthesizer.synthesize(&bundle) {
        Ok(s) => s,
        Err(e) => {
            receipt.status = "degraded".into();
            receipt.reason = Some(e.to_string());
            return finish(store, receipt, clock, opts);
        }
    };
    receipt.tokens = synthesis.tokens;
    receipt.candidates = synthesis.drafts.len();

    progress.phase("checking gates");
    let mut inventory = bundle.inventory;
    let now = time::format_ts(opts.now);
    for draft in &synthesis.drafts {
        let result = decide_and_apply(store, roots, draft, &mut inventory, opts, &now)?;
        for f in &result.failures {
            *receipt
                .gate_failures
                .entry(f.gate.as_str().to_owned())
                .or_default() += 1;
        }
        match result.outcome {
            Outcome::Published => receipt.published.push(result.name.clone()),
            Outcome::Staged => receipt.staged.push(result.name.clone()),
            _ => {}
        }
        receipt.drafts.push(result);
    }

    if !opts.dry_run {
        progress.phase("detecting skill use");
        let usage_since = time::format_ts(
            opts.now
                .checked_sub(
                    i64::from(opts.retire_after_days.max(1))
                        .saturating_mul(24)
                        .hours(),
                )
                .unwrap_or(opts.now),
        );
        receipt.usage = usage::detect(store, &usage_since)?.counted;
        receipt.retired = lifecycle::retire_unused(store, roots, opts.retire_after_days, opts.now)?;
    }
    finish(store, receipt, clock, opts)
}

fn finish(
    store: &Store,
    mut receipt: SynthesisReceipt,
    clock: Instant,
    opts: &SynthesisOptions,
) -> Result<SynthesisReceipt, SkillError> {
    receipt.duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
    receipt.finished_at = time::format_ts(
        opts.now
            .checked_add(
                i64::try_from(receipt.duration_ms)
                    .unwrap_or(0)
                    .milliseconds(),
            )
            .unwrap_or(opts.now),
    );
    if opts.dry_run {
        return Ok(receipt);
    }
    let detail = serde_json::to_string(&receipt).unwrap_or_else(|_| "{}".into());
    store
        .conn()
        .execute(
            "INSERT INTO receipts (kind, project_id, status, reason, started_at, finished_at, \
             duration_ms, detail) VALUES ('skills', ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                receipt.project_id,
                receipt.status,
                receipt.reason,
                receipt.started_at,
                receipt.finished_at,
                i64::try_from(receipt.duration_ms).unwrap_or(i64::MAX),
                detail
            ],
        )
        .map_err(SkillError::sql("writing the skills receipt"))?;
    receipt.receipt_id = Some(store.conn().last_insert_rowid());
    Ok(receipt)
}

/// Writes a receipt for a run that did not happen (`skills.enabled = false`).
pub fn skipped_receipt(
    store: &Store,
    opts: &SynthesisOptions,
    reason: &str,
) -> Result<SynthesisReceipt, SkillError> {
    let now = time::format_ts(opts.now);
    let receipt = SynthesisReceipt {
        status: "skipped".into(),
        reason: Some(reason.to_owned()),
        mode: match opts.mode {
            SkillsMode::Incremental => "incremental".into(),
            SkillsMode::Full => "full".into(),
        },
        lookback_hours: None,
        lookback_days: None,
        since: time::format_ts(opts.since()),
        project_id: opts.project_id.clone(),
        dry_run: opts.dry_run,
        synthesizer: String::new(),
        evidence: EvidenceCounts::default(),
        candidates: 0,
        drafts: Vec::new(),
        gate_failures: BTreeMap::new(),
        published: Vec::new(),
        staged: Vec::new(),
        usage: BTreeMap::new(),
        retired: Vec::new(),
        user_edited: Vec::new(),
        tokens: TokenUsage::default(),
        started_at: now.clone(),
        finished_at: now,
        duration_ms: 0,
        receipt_id: None,
    };
    finish(store, receipt, Instant::now(), opts)
}

fn decide_and_apply(
    store: &Store,
    roots: &Roots,
    draft: &SkillDraft,
    inventory: &mut Vec<InventoryEntry>,
    opts: &SynthesisOptions,
    now: &str,
) -> Result<DraftResult, SkillError> {
    let text = render::render(draft);
    let hash = publish::content_hash(text.as_bytes());
    let existing = lifecycle::get(store, &draft.name)?;
    let mut result = DraftResult {
        name: draft.name.clone(),
        outcome: Outcome::Rejected,
        failures: Vec::new(),
        evidence_sessions: draft.evidence_sessions,
        file: None,
        written: Vec::new(),
        left_alone: Vec::new(),
    };
    if let Some(e) = &existing {
        if e.is_user_rejected() {
            result.outcome = Outcome::SkippedUserRejected;
            return Ok(result);
        }
        if e.state == SkillState::Retired {
            result.outcome = Outcome::SkippedRetired;
            return Ok(result);
        }
        let is_current = e.content_hash == hash
            && (e.state == SkillState::Published
                || (e.state == SkillState::Staged
                    && opts.publish_policy == PublishPolicy::Approve));
        if is_current {
            result.outcome = Outcome::Unchanged;
            return Ok(result);
        }
    }
    result.failures = gates::check(&GateInput {
        dir_name: &draft.name,
        text: &text,
        evidence_sessions: draft.evidence_sessions,
        explicit_request: draft.explicit_request,
        min_evidence_sessions: opts.min_evidence_sessions,
        inventory,
    });
    let only_evidence =
        !result.failures.is_empty() && result.failures.iter().all(|f| f.gate == Gate::Evidence);
    let passes = result.failures.is_empty();
    let publish_now = passes && opts.publish_policy == PublishPolicy::Auto;
    result.outcome = match (passes, only_evidence, publish_now) {
        (true, _, true) => Outcome::Published,
        (true, _, false) => Outcome::Staged,
        (false, true, _) => Outcome::Candidate,
        (false, false, _) => Outcome::Rejected,
    };
    if passes {
        // Later drafts of this run must not duplicate this one.
        inventory.push(InventoryEntry {
            name: draft.name.clone(),
            description: draft.description.clone(),
            body: render::parse(&text)
                .map(|p| p.body.to_owned())
                .unwrap_or_default(),
            location: "csep:this run".into(),
        });
    }

    if opts.dry_run {
        if let Some(dir) = &opts.dry_run_dir {
            let path = dir.join(&draft.name).join(publish::SKILL_FILE);
            if publish::check_namespace(&draft.name).is_ok() {
                crate::store::fsutil::write_atomic(&path, text.as_bytes())
                    .map_err(SkillError::io("writing", &path))?;
                result.file = Some(path.to_string_lossy().into_owned());
            }
        }
        return Ok(result);
    }

    let mut record = existing.unwrap_or_else(|| SkillRecord {
        name: draft.name.clone(),
        project_id: draft.project_id.clone(),
        state: SkillState::Candidate,
        description: String::new(),
        body: String::new(),
        content_hash: String::new(),
        evidence: Vec::new(),
        published: Vec::new(),
        reason: None,
        created_at: now.to_owned(),
        updated_at: now.to_owned(),
        published_at: None,
        last_used_at: None,
        use_count: 0,
    });
    record.description = draft.description.clone();
    record.evidence = draft.evidence_ids.clone();
    record.updated_at = now.to_owned();
    if !passes {
        // A failing re-synthesis of a live skill never takes the live version down; the
        // failure is recorded in the receipt only.
        if matches!(record.state, SkillState::Published | SkillState::Staged) {
            return Ok(result);
        }
        record.body = text;
        record.content_hash = hash;
        record.state = if only_evidence {
            SkillState::Candidate
        } else {
            SkillState::Rejected
        };
        record.reason = Some(gates::describe(&result.failures));
        lifecycle::save(store, &record)?;
        return Ok(result);
    }
    record.body = text;
    record.content_hash = hash;
    let staged = publish::stage(roots, &record.name, &record.body)?;
    result.file = Some(staged.to_string_lossy().into_owned());
    if publish_now {
        let action = lifecycle::publish_record(store, roots, &mut record, now)?;
        result.written = action.written;
        result.left_alone = action.left_alone;
    } else {
        // A published skill whose new version waits for approval is `staged` with its old
        // files still in the manifest; `approve` replaces them (they are still csep's by hash).
        record.state = SkillState::Staged;
        record.reason = Some("waiting for `csep skills approve`".into());
        lifecycle::save(store, &record)?;
    }
    Ok(result)
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
