//! One review: budget check, model call, parse and repair, one retry with the error shown, and
//! the result the caller turns into suggestions and a receipt.
//!
//! A review never fails silently and never panics: every outcome is a [`ReviewResult`] whose
//! [`ReviewStatus`] matches the `receipts.status` values (`ok`, `degraded`, `failed`, `skipped`,
//! `skipped_budget`) and whose `reason` says why. An answer that cannot be read at all is asked
//! for once more, with the parse error shown to the model; if that fails too, the review is
//! `failed` and both raw answers (redacted, capped) are kept for the receipt, so `csep status`
//! can show what the model said. The reviewer does not write memory.

use std::time::Instant;

use serde::Serialize;
use serde_json::json;

use super::input::ReviewInput;
use super::offline;
use super::ops::ReviewOutput;
use super::parse::{self, ParseContext, ParseError, Repair};
use super::schema::provider_schema_spec;
use crate::archive::redact::redact;
use crate::llm::{self, CallError, LedgerCtx, LlmRequest, Provider, ProviderError, Usage};
use crate::store::db::{Store, StoreError};

/// csep's reviewer prompt (see `src/review/prompt.md`).
pub const PROMPT: &str = include_str!("prompt.md");

/// Most characters of one raw answer kept in a failed review's receipt.
pub const MAX_RAW_KEPT_CHARS: usize = 20_000;

/// How a review ended; the names are the `receipts.status` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// Reviewed; every proposed operation was valid.
    Ok,
    /// Reviewed, but items were dropped, or the offline reviewer stood in for the profile.
    Degraded,
    /// The provider failed or the answer could not be read.
    Failed,
    /// Nothing to review (no user message in the delta).
    Skipped,
    /// A daily token cap would have been crossed; nothing was called.
    SkippedBudget,
}

impl ReviewStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Ok => "ok",
            ReviewStatus::Degraded => "degraded",
            ReviewStatus::Failed => "failed",
            ReviewStatus::Skipped => "skipped",
            ReviewStatus::SkippedBudget => "skipped_budget",
        }
    }
}

/// The outcome of one review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewResult {
    /// The operations to enqueue (empty unless ok/degraded).
    pub output: ReviewOutput,
    /// Operations dropped: (the item as JSON, the reason).
    pub dropped: Vec<(String, String)>,
    /// Tokens spent over all calls.
    pub usage: Usage,
    /// How it ended.
    pub status: ReviewStatus,
    /// Why (for every status but `ok`).
    pub reason: Option<String>,
    /// Who reviewed: `offline` or `profile/kind`.
    pub reviewer: String,
    /// The model, for LLM reviews.
    pub model: Option<String>,
    /// Model calls made (0 for offline, skipped and budget-skipped reviews).
    pub calls: u32,
    /// Repairs applied to the answer that was used.
    pub repairs: Vec<Repair>,
    /// Raw answers that could not be read (redacted, capped), for failed reviews.
    pub raw_failures: Vec<String>,
    /// Wall time.
    pub duration_ms: u64,
}

impl ReviewResult {
    fn new(reviewer: String, status: ReviewStatus) -> Self {
        Self {
            output: ReviewOutput::default(),
            dropped: Vec::new(),
            usage: Usage::default(),
            status,
            reason: None,
            reviewer,
            model: None,
            calls: 0,
            repairs: Vec::new(),
            raw_failures: Vec::new(),
            duration_ms: 0,
        }
    }

    /// Marks a review that the offline reviewer made because the configured provider could not
    /// be built (missing key, program not installed): `degraded`, with the cause in the reason.
    pub fn with_fallback(mut self, cause: &ProviderError) -> Self {
        if matches!(self.status, ReviewStatus::Ok | ReviewStatus::Degraded) {
            self.status = ReviewStatus::Degraded;
        }
        let note = format!("offline reviewer used: {cause}");
        self.reason = Some(match self.reason.take() {
            Some(r) => format!("{note}; {r}"),
            None => note,
        });
        self
    }

    /// The receipt `detail` JSON: reviewer, model, calls, usage, operation counts, dropped items,
    /// repairs and raw failures (all redacted).
    pub fn receipt_detail(&self) -> serde_json::Value {
        let mut by_op = serde_json::Map::new();
        for op in &self.output.operations {
            let n = by_op
                .get(op.name())
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            by_op.insert(op.name().to_owned(), json!(n + 1));
        }
        let mut detail = json!({
            "reviewer": self.reviewer,
            "model": self.model,
            "calls": self.calls,
            "usage": self.usage,
            "operations": by_op,
            "dropped": self.dropped.iter().map(|(item, reason)| json!({"item": item, "reason": reason})).collect::<Vec<_>>(),
            "repairs": self.repairs,
            "raw_failures": self.raw_failures,
        });
        crate::archive::redact::redact_json(&mut detail);
        detail
    }
}

/// Reviews `input` with `provider` (the offline reviewer when it is offline).
///
/// LLM reviews check the budget first (`skipped_budget` without any call when a cap would be
/// crossed) and record every call in the ledger of `ledger`.
pub fn run(provider: &Provider, input: &ReviewInput, ledger: &LedgerCtx<'_>) -> ReviewResult {
    let started = Instant::now();
    let mut result = run_inner(provider, input, ledger);
    result.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    result
}

fn run_inner(provider: &Provider, input: &ReviewInput, ledger: &LedgerCtx<'_>) -> ReviewResult {
    let reviewer = if provider.is_offline() {
        "offline".to_owned()
    } else {
        provider.label()
    };
    if input.user_turns() == 0 {
        let mut r = ReviewResult::new(reviewer, ReviewStatus::Skipped);
        r.reason = Some("no user message in the session delta".to_owned());
        return r;
    }
    if provider.is_offline() {
        let mut r = ReviewResult::new(reviewer, ReviewStatus::Ok);
        r.output = offline::review(input);
        return r;
    }
    let mut result = ReviewResult::new(reviewer, ReviewStatus::Failed);
    result.model = Some(provider.model().to_owned()).filter(|m| !m.is_empty());
    let ctx = ParseContext {
        memory_ids: input.memory.iter().map(|m| m.id.clone()).collect(),
        max_operations: usize::try_from(input.budgets.max_operations).unwrap_or(usize::MAX),
    };
    let payload = input.render();
    let mut request = LlmRequest {
        system: PROMPT.to_owned(),
        user: payload.clone(),
        schema: Some(provider_schema_spec()),
        max_tokens: None,
    };
    for attempt in 1..=2u32 {
        let completion = match llm::call(provider, &request, ledger) {
            Ok(c) => c,
            Err(CallError::Budget(e)) => {
                result.status = ReviewStatus::SkippedBudget;
                result.reason = Some(e.to_string());
                return result;
            }
            Err(CallError::Provider(e)) => {
                result.status = ReviewStatus::Failed;
                result.reason = Some(e.to_string());
                return result;
            }
            Err(CallError::Store(e)) => {
                result.status = ReviewStatus::Failed;
                result.reason = Some(format!("the budget ledger failed: {e}"));
                return result;
            }
        };
        result.calls += 1;
        result.usage.add(completion.usage);
        if !completion.model.is_empty() {
            result.model = Some(completion.model.clone());
        }
        match parse::parse(&completion.text, &ctx) {
            Ok(parsed) => {
                result.output = parsed.output;
                result.repairs = parsed.repairs;
                result.dropped = parsed
                    .dropped
                    .into_iter()
                    .map(|d| (d.item, d.reason))
                    .collect();
                if result.dropped.is_empty() {
                    result.status = ReviewStatus::Ok;
                    result.reason = None;
                } else {
                    result.status = ReviewStatus::Degraded;
                    result.reason = Some(format!(
                        "{} proposed operation(s) dropped as invalid",
                        result.dropped.len()
                    ));
                }
                return result;
            }
            Err(error) => {
                result.raw_failures.push(keep_raw(&completion.text));
                result.reason = Some(format!(
                    "unreadable answer after {attempt} call(s): {error}"
                ));
                request.user = retry_payload(&payload, &error);
            }
        }
    }
    result.status = ReviewStatus::Failed;
    result
}

/// The payload of the second call: the same input and the reason the first answer was refused.
fn retry_payload(payload: &str, error: &ParseError) -> String {
    format!(
        "{payload}\n\nYour previous answer could not be used: {error}. Answer again with only \
         the JSON object {{\"operations\": [...]}} (an empty list is fine), with no prose and no \
         Markdown fence."
    )
}

fn keep_raw(text: &str) -> String {
    let redacted = redact(text);
    if redacted.chars().count() <= MAX_RAW_KEPT_CHARS {
        redacted.into_owned()
    } else {
        let mut s: String = redacted.chars().take(MAX_RAW_KEPT_CHARS).collect();
        s.push_str("\n[… truncated]");
        s
    }
}

/// Writes the review's receipt (`kind = 'review'`); returns its id.
///
/// `started_at` is when the caller began the review (storage format); the finish time is now.
pub fn record_receipt(
    store: &Store,
    result: &ReviewResult,
    project_id: Option<&str>,
    session_id: Option<&str>,
    started_at: &str,
) -> Result<i64, StoreError> {
    let detail = result.receipt_detail().to_string();
    let reason = result.reason.as_deref().map(|r| redact(r).into_owned());
    store
        .conn()
        .execute(
            "INSERT INTO receipts (kind, project_id, session_id, status, reason, started_at, \
             finished_at, duration_ms, detail) VALUES ('review', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            rusqlite::params![
                project_id,
                session_id,
                result.status.as_str(),
                reason,
                started_at,
                crate::store::time::now(),
                i64::try_from(result.duration_ms).unwrap_or(i64::MAX),
                detail,
            ],
        )
        .map_err(|source| StoreError::Sqlite {
            path: store.path().to_path_buf(),
            source,
        })?;
    Ok(store.conn().last_insert_rowid())
}

#[cfg(test)]
#[path = "runner_tests.rs"]
mod tests;
