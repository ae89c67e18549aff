//! Deterministic application of reviewer operations to the memory store.
//!
//! Models propose, code disposes: an [`Operation`] is checked and applied here, and every
//! outcome is reported with a reason ([`OpReport`]). Rules, in order:
//! - `add`: empty → discarded; secret → discarded (`secret:<kind>`); an instruction to
//!   fetch-and-execute, exfiltrate credentials or drop the agent's rules → discarded
//!   (`poison:<category>`, see [`crate::memory::poison`]); transient noise →
//!   discarded (`transient_noise:<category>`); exact duplicate of an active entry in the same
//!   scope → skipped (`exact_duplicate`); near-duplicate (shingle Jaccard ≥ the configured
//!   threshold) → merged into that entry (the longer text wins, provenance is unioned, the
//!   higher confidence kept); else a new entry.
//! - `replace` / `remove`: the target is an entry id, or a summary that matches exactly one
//!   active entry (normalized equality first, then substring). Missing or ambiguous targets are
//!   skipped with a reason, never guessed. Pinned entries are protected from reviewer changes.
//! - `recall`: needs a reuse signal (a trigger, or source paths plus a future marker, as in the
//!   reference's script compiler) else `missing_reuse_trigger`; then the secret and noise checks;
//!   a recall entry with the same content is skipped.
//! - `skill_candidate`: recorded once in `skills` as a `candidate` for skill synthesis.
//!
//! Invariant: the [`Applier`]'s in-memory indexes mirror the active entries of every scope it
//! has loaded, as long as all writes in a run go through it. Each partition (user scope, or one
//! project) is loaded once per run, so a run costs O(store) once, not per operation.

use rustc_hash::FxHashMap as HashMap;

use jiff::civil::Date;
use rusqlite::{Connection, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::archive::redact::Redactor;
use crate::memory::budget::{self, BudgetReport, Eviction};
use crate::memory::dedupe::{ShingleIndex, normalize};
use crate::memory::entry::{MemoryEntry, Provenance, Status};
use crate::memory::index::{FtsTable, IndexBatch};
use crate::memory::noise::NoiseFilter;
use crate::memory::poison;
use crate::memory::store::{self, ListFilter, MemoryError, RecallEntry, sql};
use crate::memory::{Kind, Scope};
use crate::review::ops::Operation;

/// Default confidence of an operation that gives none.
pub const DEFAULT_CONFIDENCE: f64 = 0.7;

/// Markers that a recall candidate will be useful again (reference `FUTURE` markers, §6.7.1).
pub const FUTURE_MARKERS: &[&str] = &[
    "when ",
    "if ",
    "next time",
    "again",
    "future",
    "before ",
    "reuse",
    "run ",
    "check ",
    "verify ",
    "debug",
    "trace",
    "diagnostic",
    "boundary",
    "pitfall",
    "workflow",
    "convention",
    "risk",
    "触发",
    "下次",
    "以后",
    "再次",
    "排查",
    "检查",
    "验证",
    "边界",
    "约定",
    "风险",
];

/// Which checks apply to an operation, by where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyPolicy {
    /// Discard transient noise (reviewer output, imports).
    pub noise_filter: bool,
    /// Recall entries need a reuse signal.
    pub require_reuse_trigger: bool,
    /// Pinned entries cannot be replaced or removed.
    pub protect_pinned: bool,
    /// Merge near-duplicates into existing entries.
    pub merge_near_duplicates: bool,
    /// Skip an add whose exact text was archived or forgotten before (a forgotten entry is not
    /// re-learned behind the user's back; re-imports stay idempotent).
    pub skip_inactive_duplicates: bool,
}

impl ApplyPolicy {
    /// Reviewer output drained from the queue: every check.
    pub const REVIEW: ApplyPolicy = ApplyPolicy {
        noise_filter: true,
        require_reuse_trigger: true,
        protect_pinned: true,
        merge_near_duplicates: true,
        skip_inactive_duplicates: true,
    };
    /// A person's explicit change (CLI, hand edit of a projection): their words are kept as
    /// given (no noise filter, no merge), secrets are still refused.
    pub const HAND: ApplyPolicy = ApplyPolicy {
        noise_filter: false,
        require_reuse_trigger: false,
        protect_pinned: false,
        merge_near_duplicates: false,
        skip_inactive_duplicates: false,
    };
    /// Entries imported from the reference implementation: noise is dropped (that is the point
    /// of moving), recall records were already accepted there.
    pub const IMPORT: ApplyPolicy = ApplyPolicy {
        noise_filter: true,
        require_reuse_trigger: false,
        protect_pinned: true,
        merge_near_duplicates: true,
        skip_inactive_duplicates: true,
    };
}

/// Where an operation comes from and when it applies.
#[derive(Debug, Clone, Copy)]
pub struct OpContext<'a> {
    /// The project that project-scope operations belong to.
    pub project_id: Option<&'a str>,
    /// The time recorded on changes.
    pub now: &'a str,
    /// Who proposes it: `review`, `cli`, `hand_edit`, `import:reference`, ...
    pub source: &'a str,
    /// The queued suggestion it came from.
    pub suggestion_id: Option<i64>,
    /// The host session it was learned from.
    pub session_id: Option<&'a str>,
}

/// What an applied operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A new entry.
    Added,
    /// Merged into a near-duplicate.
    Merged,
    /// An entry was replaced.
    Replaced,
    /// An entry was forgotten.
    Removed,
    /// A recall entry was stored.
    Recalled,
    /// A skill candidate was recorded.
    SkillCandidate,
}

/// The outcome of one operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// The store changed.
    Applied {
        /// What happened.
        action: Action,
        /// The entry (memory `m_…`, recall `r_…` or skill name).
        entry_id: String,
        /// Similarity of a merge.
        #[serde(skip_serializing_if = "Option::is_none")]
        similarity: Option<f64>,
    },
    /// Valid but not applied (duplicate, missing or ambiguous target, protected entry).
    Skipped {
        /// Why.
        reason: String,
        /// The entry involved, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        entry_id: Option<String>,
    },
    /// Rejected on content (noise, secret, no reuse signal, empty).
    Discarded {
        /// Why.
        reason: String,
        /// The text that triggered it (redacted marker for secrets).
        #[serde(skip_serializing_if = "Option::is_none")]
        matched: Option<String>,
    },
}

/// One operation's report line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpReport {
    /// `add`, `replace`, `remove`, `recall`, `skill_candidate`.
    pub op: &'static str,
    /// The operation's summary (or target), for humans.
    pub summary: String,
    /// The queued suggestion it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion_id: Option<i64>,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl OpReport {
    /// Whether the store changed.
    pub fn is_applied(&self) -> bool {
        matches!(self.outcome, Outcome::Applied { .. })
    }
}

#[derive(Debug, Default)]
struct Partition {
    index: ShingleIndex,
    /// Active entry id → normalized summary (target resolution).
    summaries: SummaryArena,
    /// Normalized summary → active entry ids (exact target resolution without a scan).
    by_summary: HashMap<String, Vec<String>>,
}

impl Partition {
    fn put(&mut self, id: &str, text: &str, summary: &str) {
        self.drop_id(id);
        self.index.insert(id, text);
        let normalized = normalize(summary);
        self.summaries.insert(id, &normalized);
        self.by_summary
            .entry(normalized)
            .or_default()
            .push(id.to_owned());
    }

    fn drop_id(&mut self, id: &str) {
        self.index.remove(id);
        if let Some(old) = self.summaries.remove(id)
            && let Some(ids) = self.by_summary.get_mut(&old)
        {
            ids.retain(|x| x != id);
            if ids.is_empty() {
                self.by_summary.remove(&old);
            }
        }
    }
}

/// The normalized summaries of a partition's active entries, back to back in one string (one
/// line each), so a substring search is one `memmem` pass instead of one search per entry.
///
/// Invariant: `slots[i]` is the byte range of a line of `text`; a live slot has its id in
/// `by_id`. Normalized text holds no newline, so a match of a normalized needle lies inside
/// one line. Removed lines stay in `text` (dead) until the partition is rebuilt.
#[derive(Debug, Default)]
struct SummaryArena {
    text: String,
    /// Per slot: start, end, and the id while it is live.
    slots: Vec<(usize, usize, Option<String>)>,
    by_id: HashMap<String, usize>,
}

impl SummaryArena {
    fn insert(&mut self, id: &str, normalized: &str) {
        self.remove(id);
        let start = self.text.len();
        self.text.push_str(normalized);
        let end = self.text.len();
        self.text.push('\n');
        self.by_id.insert(id.to_owned(), self.slots.len());
        self.slots.push((start, end, Some(id.to_owned())));
    }

    /// Removes `id`; returns its normalized summary.
    fn remove(&mut self, id: &str) -> Option<String> {
        let slot = self.by_id.remove(id)?;
        let (start, end, live) = self.slots.get_mut(slot)?;
        *live = None;
        self.text.get(*start..*end).map(str::to_owned)
    }

    /// Ids of the live summaries containing `needle` (non-empty, normalized), sorted.
    fn containing(&self, needle: &str) -> Vec<String> {
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        let mut ids: Vec<String> = Vec::new();
        let mut last: Option<usize> = None;
        for at in finder.find_iter(self.text.as_bytes()) {
            let slot = self.slots.partition_point(|(start, _, _)| *start <= at);
            let Some(slot) = slot.checked_sub(1) else {
                continue;
            };
            if last == Some(slot) {
                continue;
            }
            last = Some(slot);
            if let Some((_, end, Some(id))) = self.slots.get(slot)
                && at + needle.len() <= *end
            {
                ids.push(id.clone());
            }
        }
        ids.sort_unstable();
        ids
    }
}

type PartitionKey = (Scope, Option<String>);

/// Applies operations deterministically; holds the per-run indexes. Build one per compile run.
#[derive(Debug)]
pub struct Applier {
    threshold: f64,
    noise: NoiseFilter,
    redactor: Redactor,
    partitions: HashMap<PartitionKey, Partition>,
    /// Full-text index writes held back until [`Applier::flush_index`] (`None`: immediate).
    index: Option<IndexBatch>,
}

impl Applier {
    /// A new applier merging near-duplicates at `near_duplicate_threshold` (0–1].
    pub fn new(near_duplicate_threshold: f64) -> Result<Applier, MemoryError> {
        Ok(Applier {
            threshold: near_duplicate_threshold,
            noise: NoiseFilter::new()?,
            redactor: Redactor::new()?,
            partitions: HashMap::default(),
            index: None,
        })
    }

    /// Holds full-text index writes back until [`flush_index`](Self::flush_index) (see
    /// [`IndexBatch`]); the caller must flush before committing. Rows written meanwhile are
    /// not found by full-text search in this transaction.
    pub fn defer_index(&mut self) {
        self.index.get_or_insert_with(IndexBatch::new);
    }

    /// A position in the deferred index writes to roll back to with an SQL savepoint.
    pub fn index_mark(&self) -> usize {
        self.index.as_ref().map_or(0, IndexBatch::mark)
    }

    /// Forgets the deferred index writes made since `mark` (their savepoint was rolled back).
    pub fn index_rollback(&mut self, mark: usize) {
        if let Some(batch) = self.index.as_mut() {
            batch.rollback_to(mark);
        }
    }

    /// Writes the deferred index writes (no-op when nothing is deferred).
    pub fn flush_index(&mut self, conn: &Connection) -> Result<(), MemoryError> {
        match self.index.as_mut() {
            Some(batch) => batch.flush(conn).map_err(sql("index memory entries")),
            None => Ok(()),
        }
    }

    fn insert_entry(&mut self, conn: &Connection, entry: &MemoryEntry) -> Result<(), MemoryError> {
        match self.index.as_mut() {
            None => store::insert_entry(conn, entry).map(drop),
            Some(batch) => {
                let rid = store::insert_entry_row(conn, entry)?;
                if entry.status.is_indexed() {
                    batch.push(FtsTable::Memory, rid, true, Some(entry.text()));
                }
                Ok(())
            }
        }
    }

    fn update_entry(&mut self, conn: &Connection, entry: &MemoryEntry) -> Result<(), MemoryError> {
        match self.index.as_mut() {
            None => store::update_entry(conn, entry),
            Some(batch) => {
                let rid = store::update_entry_row(conn, entry)?;
                let text = entry.status.is_indexed().then(|| entry.text());
                batch.push(FtsTable::Memory, rid, false, text);
                Ok(())
            }
        }
    }

    fn insert_recall(
        &mut self,
        conn: &Connection,
        entry: &RecallEntry,
        now: &str,
    ) -> Result<(), MemoryError> {
        match self.index.as_mut() {
            None => store::insert_recall(conn, entry, now),
            Some(batch) => {
                let rid = store::insert_recall_row(conn, entry, now)?;
                // Not `fresh`: the immediate write clears a stale row of a reused rowid too.
                batch.push(
                    FtsTable::Recall,
                    rid,
                    false,
                    Some(store::recall_text(entry)),
                );
                Ok(())
            }
        }
    }

    /// Forgets the in-memory indexes (call after writes made outside this applier).
    pub fn reset(&mut self) {
        self.partitions.clear();
    }

    fn partition(
        &mut self,
        conn: &Connection,
        scope: Scope,
        project_id: Option<&str>,
    ) -> Result<&mut Partition, MemoryError> {
        let key = (scope, project_id.map(str::to_owned));
        if !self.partitions.contains_key(&key) {
            let mut part = Partition::default();
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, summary, content FROM memory_entries WHERE status = 'active' \
                     AND scope = ?1 AND project_id IS ?2",
                )
                .map_err(sql("load memory index"))?;
            let rows = stmt
                .query_map(params![scope.as_str(), project_id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(sql("load memory index"))?;
            for (id, summary, content) in rows {
                part.put(&id, &join_text(&summary, &content), &summary);
            }
            self.partitions.insert(key.clone(), part);
        }
        self.partitions.get_mut(&key).ok_or(MemoryError::NotFound {
            id: "partition".into(),
        })
    }

    fn track(&mut self, entry: &MemoryEntry) {
        let key = (entry.scope, entry.project_id.clone());
        if let Some(part) = self.partitions.get_mut(&key) {
            if entry.status == Status::Active {
                part.put(&entry.id, &entry.text(), &entry.summary);
            } else {
                part.drop_id(&entry.id);
            }
        }
    }

    /// The kind of the first secret in `text`, if any.
    pub fn secret_kind(&self, text: &str) -> Option<String> {
        self.redactor
            .redact(text)
            .findings
            .first()
            .map(|f| f.kind.to_string())
    }

    fn noise_in(&self, text: &str, now: &str) -> Option<(String, String)> {
        let today = today_of(now);
        self.noise
            .check(text, today)
            .map(|hit| (format!("transient_noise:{}", hit.category), hit.matched))
    }

    /// Checks content: secrets and poisoning always, noise when the policy asks. `Some` =
    /// discard.
    fn screen(&self, text: &str, policy: ApplyPolicy, now: &str) -> Option<Outcome> {
        if let Some(kind) = self.secret_kind(text) {
            return Some(Outcome::Discarded {
                reason: format!("secret:{kind}"),
                matched: Some(format!("[REDACTED:{kind}]")),
            });
        }
        if let Some(finding) = poison::check(text) {
            return Some(Outcome::Discarded {
                reason: poison::reason(&finding),
                matched: Some(redact(&finding)),
            });
        }
        if policy.noise_filter
            && let Some((reason, matched)) = self.noise_in(text, now)
        {
            return Some(Outcome::Discarded {
                reason,
                matched: Some(matched),
            });
        }
        None
    }

    /// Applies one operation inside the caller's transaction.
    pub fn apply(
        &mut self,
        conn: &Connection,
        op: &Operation,
        ctx: &OpContext<'_>,
        policy: ApplyPolicy,
    ) -> Result<OpReport, MemoryError> {
        let (summary, outcome) = match op {
            Operation::Add {
                scope,
                kind,
                summary,
                content,
                evidence,
                confidence,
            } => {
                let summary = one_line(summary);
                let outcome = self.add(
                    conn,
                    AddInput {
                        scope: *scope,
                        kind: *kind,
                        summary: summary.clone(),
                        content: content.trim().to_owned(),
                        evidence,
                        source_paths: &[],
                        confidence: confidence.unwrap_or(DEFAULT_CONFIDENCE),
                    },
                    ctx,
                    policy,
                )?;
                (summary, outcome)
            }
            Operation::Replace {
                id,
                summary,
                content,
                kind,
                evidence,
                confidence,
            } => {
                let summary = one_line(summary);
                let outcome = self.replace(
                    conn,
                    id,
                    ReplaceInput {
                        summary: summary.clone(),
                        content: content.trim().to_owned(),
                        kind: *kind,
                        evidence,
                        confidence: *confidence,
                    },
                    ctx,
                    policy,
                )?;
                (summary, outcome)
            }
            Operation::Remove { id, reason } => (
                id.trim().to_owned(),
                self.remove(conn, id, reason, ctx, policy)?,
            ),
            Operation::Recall {
                scope,
                summary,
                content,
                trigger,
                paths,
                evidence,
            } => {
                let summary = one_line(summary);
                let outcome = self.recall(
                    conn, *scope, &summary, content, trigger, paths, evidence, ctx, policy,
                )?;
                (summary, outcome)
            }
            Operation::SkillCandidate {
                name,
                description,
                steps,
                evidence,
            } => (
                name.trim().to_owned(),
                self.skill_candidate(conn, name, description, steps, evidence, ctx)?,
            ),
        };
        Ok(OpReport {
            op: op.name(),
            summary,
            suggestion_id: ctx.suggestion_id,
            outcome,
        })
    }

    fn provenance(ctx: &OpContext<'_>, evidence: &[String], paths: &[String]) -> Provenance {
        Provenance {
            sessions: ctx.session_id.map(str::to_owned).into_iter().collect(),
            suggestions: ctx.suggestion_id.into_iter().collect(),
            evidence: evidence.iter().map(|e| redact(e)).collect(),
            source_paths: paths.to_vec(),
            origins: vec![ctx.source.to_owned()],
            turns: Vec::new(),
            cwds: Vec::new(),
        }
    }

    /// Adds an entry (see the module rules). Public for importers that carry source paths.
    pub fn add(
        &mut self,
        conn: &Connection,
        input: AddInput<'_>,
        ctx: &OpContext<'_>,
        policy: ApplyPolicy,
    ) -> Result<Outcome, MemoryError> {
        let AddInput {
            scope,
            kind,
            summary,
            content,
            evidence,
            source_paths,
            confidence,
        } = input;
        if summary.is_empty() {
            return Ok(Outcome::Discarded {
                reason: "empty_summary".into(),
                matched: None,
            });
        }
        let project_id = match scope {
            Scope::User => None,
            Scope::Project => match ctx.project_id {
                Some(p) => Some(p),
                None => {
                    return Ok(Outcome::Skipped {
                        reason: "no_project_for_project_scope".into(),
                        entry_id: None,
                    });
                }
            },
        };
        let text = join_text(&summary, &content);
        if let Some(discard) = self.screen(&text, policy, ctx.now) {
            return Ok(discard);
        }
        let threshold = self.threshold;
        let part = self.partition(conn, scope, project_id)?;
        if let Some(existing) = part.index.exact(&text) {
            return Ok(Outcome::Skipped {
                reason: "exact_duplicate".into(),
                entry_id: Some(existing.to_owned()),
            });
        }
        if policy.skip_inactive_duplicates
            && let Some((id, status)) = inactive_duplicate(conn, scope, project_id, &text)?
        {
            return Ok(Outcome::Skipped {
                reason: format!("{status}_duplicate"),
                entry_id: Some(id),
            });
        }
        let provenance = Self::provenance(ctx, evidence, source_paths);
        if policy.merge_near_duplicates
            && let Some(similar) = part.index.most_similar(&text, threshold)
        {
            let Some(before) = store::get_entry(conn, &similar.key)? else {
                return Err(MemoryError::NotFound { id: similar.key });
            };
            let mut after = before.clone();
            let new_is_longer = text.chars().count() > before.text().chars().count();
            if new_is_longer && !before.pinned {
                after.summary = summary;
                after.content = content;
                after.kind = kind;
            }
            after.confidence = after.confidence.max(confidence.clamp(0.0, 1.0));
            after.provenance.absorb(&provenance);
            if after == before {
                // Nothing new: the same knowledge arriving again changes nothing.
                return Ok(Outcome::Skipped {
                    reason: "near_duplicate".into(),
                    entry_id: Some(before.id),
                });
            }
            after.updated_at = ctx.now.to_owned();
            self.update_entry(conn, &after)?;
            store::record_history(
                conn,
                "merge",
                Some(&before),
                Some(&after),
                ctx.source,
                ctx.suggestion_id,
                ctx.now,
            )?;
            self.track(&after);
            return Ok(Outcome::Applied {
                action: Action::Merged,
                entry_id: after.id,
                similarity: Some((similar.score * 1000.0).round() / 1000.0),
            });
        }
        let id = store::new_entry_id(conn, scope, project_id, &text)?;
        let entry = store::new_entry(
            id,
            scope,
            project_id.map(str::to_owned),
            kind,
            summary,
            content,
            provenance,
            confidence,
            ctx.now,
        );
        self.insert_entry(conn, &entry)?;
        store::record_history(
            conn,
            "add",
            None,
            Some(&entry),
            ctx.source,
            ctx.suggestion_id,
            ctx.now,
        )?;
        self.track(&entry);
        Ok(Outcome::Applied {
            action: Action::Added,
            entry_id: entry.id,
            similarity: None,
        })
    }

    /// The entry a `replace` or `remove` may change, or the `Skipped` outcome saying why not
    /// (no unique target; pinned under a policy that protects pinned entries).
    fn changeable_target(
        &mut self,
        conn: &Connection,
        target: &str,
        ctx: &OpContext<'_>,
        policy: ApplyPolicy,
    ) -> Result<Result<MemoryEntry, Outcome>, MemoryError> {
        let entry = match self.resolve_target(conn, target, ctx.project_id)? {
            Ok(entry) => entry,
            Err(reason) => {
                return Ok(Err(Outcome::Skipped {
                    reason,
                    entry_id: None,
                }));
            }
        };
        if policy.protect_pinned && entry.pinned {
            return Ok(Err(Outcome::Skipped {
                reason: "pinned".into(),
                entry_id: Some(entry.id),
            }));
        }
        Ok(Ok(entry))
    }

    /// Finds the active entry an operation targets: an id, else a unique summary match.
    pub fn resolve_target(
        &mut self,
        conn: &Connection,
        target: &str,
        project_id: Option<&str>,
    ) -> Result<Result<MemoryEntry, String>, MemoryError> {
        let target = target.trim();
        if target.is_empty() {
            return Ok(Err("empty_target".into()));
        }
        if let Some(entry) = store::get_entry(conn, target)? {
            let visible = entry.scope == Scope::User || entry.project_id.as_deref() == project_id;
            return Ok(match (visible, entry.status) {
                (false, _) => Err(format!("target_in_another_project:{target}")),
                (true, Status::Active) => Ok(entry),
                (true, status) => Err(format!("target_not_active:{target}:{}", status.as_str())),
            });
        }
        let wanted = normalize(target);
        if wanted.is_empty() {
            return Ok(Err(format!("target_not_found:{target}")));
        }
        let mut exact: Vec<String> = Vec::new();
        let mut partial: Vec<String> = Vec::new();
        let mut keys = vec![(Scope::User, None)];
        if let Some(p) = project_id {
            keys.push((Scope::Project, Some(p)));
        }
        for (scope, project) in &keys {
            let part = self.partition(conn, *scope, *project)?;
            if let Some(ids) = part.by_summary.get(&wanted) {
                exact.extend(ids.iter().cloned());
            }
        }
        if exact.is_empty() {
            // Substring match only when no summary matches exactly (one pass over the scope's
            // summaries). A UTF-8 needle only matches UTF-8 text at character boundaries, so
            // byte search equals `str::contains`.
            for (scope, project) in keys {
                let part = self.partition(conn, scope, project)?;
                partial.extend(part.summaries.containing(&wanted));
            }
        }
        let ambiguous = |n: usize| Ok(Err(format!("ambiguous_target:{target}:{n} matches")));
        let chosen = match (exact.len(), partial.len()) {
            (1, _) => exact.pop(),
            (n, _) if n > 1 => return ambiguous(n),
            (_, 1) => partial.pop(),
            (_, 0) => return Ok(Err(format!("target_not_found:{target}"))),
            (_, m) => return ambiguous(m),
        };
        match chosen {
            Some(id) => {
                Ok(store::get_entry(conn, &id)?.ok_or(format!("target_not_found:{target}")))
            }
            None => Ok(Err(format!("target_not_found:{target}"))),
        }
    }

    fn replace(
        &mut self,
        conn: &Connection,
        target: &str,
        input: ReplaceInput<'_>,
        ctx: &OpContext<'_>,
        policy: ApplyPolicy,
    ) -> Result<Outcome, MemoryError> {
        if input.summary.is_empty() {
            return Ok(Outcome::Discarded {
                reason: "empty_summary".into(),
                matched: None,
            });
        }
        let before = match self.changeable_target(conn, target, ctx, policy)? {
            Ok(entry) => entry,
            Err(skipped) => return Ok(skipped),
        };
        let content = if input.content.is_empty() && input.summary != before.summary {
            before.content.clone()
        } else {
            input.content
        };
        let text = join_text(&input.summary, &content);
        if let Some(discard) = self.screen(&text, policy, ctx.now) {
            return Ok(discard);
        }
        let mut after = before.clone();
        after.summary = input.summary;
        after.content = content;
        if let Some(kind) = input.kind {
            after.kind = kind;
        }
        if let Some(confidence) = input.confidence {
            after.confidence = confidence.clamp(0.0, 1.0);
        }
        after
            .provenance
            .absorb(&Self::provenance(ctx, input.evidence, &[]));
        after.updated_at = ctx.now.to_owned();
        if after == before {
            return Ok(Outcome::Skipped {
                reason: "no_change".into(),
                entry_id: Some(before.id),
            });
        }
        self.update_entry(conn, &after)?;
        store::record_history(
            conn,
            "replace",
            Some(&before),
            Some(&after),
            ctx.source,
            ctx.suggestion_id,
            ctx.now,
        )?;
        self.track(&after);
        Ok(Outcome::Applied {
            action: Action::Replaced,
            entry_id: after.id,
            similarity: None,
        })
    }

    fn remove(
        &mut self,
        conn: &Connection,
        target: &str,
        reason: &str,
        ctx: &OpContext<'_>,
        policy: ApplyPolicy,
    ) -> Result<Outcome, MemoryError> {
        let before = match self.changeable_target(conn, target, ctx, policy)? {
            Ok(entry) => entry,
            Err(skipped) => return Ok(skipped),
        };
        let after = self.set_status(conn, &before, Status::Forgotten, reason, "remove", ctx)?;
        Ok(Outcome::Applied {
            action: Action::Removed,
            entry_id: after.id,
            similarity: None,
        })
    }

    /// Moves an entry to `status` (forgotten, archived) with a history row.
    pub fn set_status(
        &mut self,
        conn: &Connection,
        before: &MemoryEntry,
        status: Status,
        reason: &str,
        op: &str,
        ctx: &OpContext<'_>,
    ) -> Result<MemoryEntry, MemoryError> {
        let mut after = before.clone();
        after.status = status;
        after.status_reason = Some(redact(reason.trim())).filter(|r| !r.is_empty());
        after.updated_at = ctx.now.to_owned();
        after.archived_at = (status == Status::Archived).then(|| ctx.now.to_owned());
        self.update_entry(conn, &after)?;
        store::record_history(
            conn,
            op,
            Some(before),
            Some(&after),
            ctx.source,
            ctx.suggestion_id,
            ctx.now,
        )?;
        self.track(&after);
        Ok(after)
    }

    /// Writes `after` over its entry with a history row (pin, unpin, edits made by hand).
    pub fn rewrite(
        &mut self,
        conn: &Connection,
        before: &MemoryEntry,
        after: &MemoryEntry,
        op: &str,
        ctx: &OpContext<'_>,
    ) -> Result<i64, MemoryError> {
        self.update_entry(conn, after)?;
        let id = store::record_history(
            conn,
            op,
            Some(before),
            Some(after),
            ctx.source,
            ctx.suggestion_id,
            ctx.now,
        )?;
        self.track(after);
        Ok(id)
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the fields of Operation::Recall plus the context"
    )]
    fn recall(
        &mut self,
        conn: &Connection,
        scope: Scope,
        summary: &str,
        content: &str,
        trigger: &str,
        paths: &[String],
        evidence: &[String],
        ctx: &OpContext<'_>,
        policy: ApplyPolicy,
    ) -> Result<Outcome, MemoryError> {
        let content = match content.trim() {
            "" => summary.to_owned(),
            c => c.to_owned(),
        };
        if content.is_empty() {
            return Ok(Outcome::Discarded {
                reason: "empty_content".into(),
                matched: None,
            });
        }
        let paths: Vec<String> = paths
            .iter()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        if policy.require_reuse_trigger && !has_reuse_signal(summary, &content, trigger, &paths) {
            return Ok(Outcome::Discarded {
                reason: "missing_reuse_trigger".into(),
                matched: None,
            });
        }
        let text = format!("{summary}\n{content}\n{trigger}");
        if let Some(discard) = self.screen(&text, policy, ctx.now) {
            return Ok(discard);
        }
        let project_id = match scope {
            Scope::User => None,
            Scope::Project => match ctx.project_id {
                Some(p) => Some(p),
                None => {
                    return Ok(Outcome::Skipped {
                        reason: "no_project_for_project_scope".into(),
                        entry_id: None,
                    });
                }
            },
        };
        let id = store::recall_id(scope, project_id, &content);
        if store::recall_exists(conn, &id)? {
            return Ok(Outcome::Skipped {
                reason: "duplicate_recall".into(),
                entry_id: Some(id),
            });
        }
        let entry = RecallEntry {
            id: id.clone(),
            scope,
            project_id: project_id.map(str::to_owned),
            summary: summary.to_owned(),
            content,
            trigger_text: Some(trigger.trim().to_owned()).filter(|t| !t.is_empty()),
            paths: paths.clone(),
            provenance: Self::provenance(ctx, evidence, &paths),
            status: "active".into(),
            created_at: ctx.now.to_owned(),
        };
        self.insert_recall(conn, &entry, ctx.now)?;
        Ok(Outcome::Applied {
            action: Action::Recalled,
            entry_id: id,
            similarity: None,
        })
    }

    fn skill_candidate(
        &mut self,
        conn: &Connection,
        name: &str,
        description: &str,
        steps: &[String],
        evidence: &[String],
        ctx: &OpContext<'_>,
    ) -> Result<Outcome, MemoryError> {
        let Some(name) = skill_name(name) else {
            return Ok(Outcome::Discarded {
                reason: "invalid_skill_name".into(),
                matched: None,
            });
        };
        let body: String = steps
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{}. {}\n", i + 1, s.trim()))
            .collect();
        let text = format!("{description}\n{body}");
        if let Some(kind) = self.secret_kind(&text) {
            return Ok(Outcome::Discarded {
                reason: format!("secret:{kind}"),
                matched: Some(format!("[REDACTED:{kind}]")),
            });
        }
        let hash = store::hex(&Sha256::digest(body.as_bytes()));
        let evidence =
            serde_json::to_string(&Self::provenance(ctx, evidence, &[])).unwrap_or_default();
        let inserted = conn
            .prepare_cached(
                "INSERT INTO skills (name, project_id, state, description, body, content_hash, \
                 evidence, created_at, updated_at) VALUES (?1, ?2, 'candidate', ?3, ?4, ?5, ?6, \
                 ?7, ?7) ON CONFLICT (name) DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![
                    name,
                    ctx.project_id,
                    description.trim(),
                    body,
                    hash,
                    evidence,
                    ctx.now
                ])
            })
            .map_err(sql("record skill candidate"))?;
        Ok(if inserted == 0 {
            Outcome::Skipped {
                reason: "skill_exists".into(),
                entry_id: Some(name),
            }
        } else {
            Outcome::Applied {
                action: Action::SkillCandidate,
                entry_id: name,
                similarity: None,
            }
        })
    }

    /// Archives the lowest-value unpinned entries of a scope until it fits `budget_chars`.
    pub fn enforce_budget(
        &mut self,
        conn: &Connection,
        scope: Scope,
        project_id: Option<&str>,
        budget_chars: usize,
        now: &str,
    ) -> Result<BudgetReport, MemoryError> {
        // Within budget (the usual case) nothing is evicted: count characters without loading
        // and sorting whole entries.
        let used = store::active_chars(conn, scope, project_id)?;
        if used <= budget_chars {
            return Ok(BudgetReport {
                scope,
                project_id: project_id.map(str::to_owned),
                budget_chars,
                used_before: used,
                used_after: used,
                evictions: Vec::new(),
                pinned_over_budget: false,
            });
        }
        let entries = store::list_entries(
            conn,
            &ListFilter {
                scope: Some(scope),
                project_id,
                statuses: None,
            },
        )?;
        let used_before: usize = entries.iter().map(MemoryEntry::budget_chars).sum();
        let plan = budget::plan_evictions(&entries, budget_chars, now);
        let ctx = OpContext {
            project_id,
            now,
            source: "budget",
            suggestion_id: None,
            session_id: None,
        };
        let reason = format!("budget: {scope} memory over {budget_chars} characters");
        let mut evictions = Vec::new();
        let mut used_after = used_before;
        for (entry, value) in plan {
            self.set_status(conn, entry, Status::Archived, &reason, "archive", &ctx)?;
            used_after -= entry.budget_chars();
            evictions.push(Eviction {
                entry_id: entry.id.clone(),
                summary: entry.summary.clone(),
                chars: entry.budget_chars(),
                value: (value * 1000.0).round() / 1000.0,
            });
        }
        Ok(BudgetReport {
            scope,
            project_id: project_id.map(str::to_owned),
            budget_chars,
            used_before,
            used_after,
            evictions,
            pinned_over_budget: used_after > budget_chars,
        })
    }
}

/// The parts of an `add`.
#[derive(Debug, Clone)]
pub struct AddInput<'a> {
    /// Scope.
    pub scope: Scope,
    /// Kind.
    pub kind: Kind,
    /// One-line summary (already trimmed to one line).
    pub summary: String,
    /// Details.
    pub content: String,
    /// Evidence.
    pub evidence: &'a [String],
    /// Source files.
    pub source_paths: &'a [String],
    /// 0–1.
    pub confidence: f64,
}

struct ReplaceInput<'a> {
    summary: String,
    content: String,
    kind: Option<Kind>,
    evidence: &'a [String],
    confidence: Option<f64>,
}

/// An archived or forgotten entry of the scope with exactly this normalized text.
fn inactive_duplicate(
    conn: &Connection,
    scope: Scope,
    project_id: Option<&str>,
    text: &str,
) -> Result<Option<(String, String)>, MemoryError> {
    use rusqlite::OptionalExtension as _;
    conn.prepare_cached(
        "SELECT id, status FROM memory_entries WHERE scope = ?1 AND project_id IS ?2 \
         AND normalized = ?3 AND status IN ('archived', 'forgotten') ORDER BY id LIMIT 1",
    )
    .and_then(|mut s| {
        s.query_row(params![scope.as_str(), project_id, normalize(text)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
    })
    .map_err(sql("find inactive duplicate"))
}

/// Summary and content as one text (the dedupe and index unit).
pub fn join_text(summary: &str, content: &str) -> String {
    if content.is_empty() {
        summary.to_owned()
    } else {
        format!("{summary}\n{content}")
    }
}

/// Collapses a summary to one trimmed line (the start index renders entries with the same).
pub use crate::memory::start_index::one_line;

fn redact(text: &str) -> String {
    crate::archive::redact::redact(text).into_owned()
}

/// The reference's reuse signal: a trigger, or source paths plus a future marker.
pub fn has_reuse_signal(summary: &str, content: &str, trigger: &str, paths: &[String]) -> bool {
    if !trigger.trim().is_empty() {
        return true;
    }
    let text = format!("{summary}\n{content}").to_lowercase();
    !paths.is_empty() && FUTURE_MARKERS.iter().any(|m| text.contains(m))
}

/// `csep-` + a lowercase slug of `name`; `None` when nothing is left.
pub fn skill_name(name: &str) -> Option<String> {
    let mut slug = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    if slug.is_empty() || slug == "csep" {
        return None;
    }
    Some(if slug.starts_with("csep-") {
        slug.to_owned()
    } else {
        format!("csep-{slug}")
    })
}

/// The UTC date of a stored timestamp (today's date when it does not parse).
pub fn today_of(now: &str) -> Date {
    crate::store::time::parse(now)
        .unwrap_or_else(jiff::Timestamp::now)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
