//! LLM and agent compile backends: a model consolidates queued operations against the current
//! memory entry ids before the deterministic compiler applies them.
//!
//! The model only proposes: its answer is read like reviewer output (strict JSON Schema of
//! [`ReviewOutput`], repairs, `replace`/`remove` must name an existing id, invalid items dropped
//! with a reason), and the same deterministic rules (dedupe, noise, secrets, budgets) then apply
//! it. A model that fails, is over budget or answers nothing usable leaves the original
//! operations in place and makes the run `degraded` with the reason — never a silent `ok`.
//! Backends: `llm` uses the active provider profile; `agent:codex` runs `codex exec` with the
//! user's own Codex login (read-only sandbox, ephemeral); `agent:pi` and `agent:opencode` run
//! those CLIs in JSON mode with the user's own configuration, in an empty directory.

use std::collections::BTreeSet;

use crate::llm::budget::LedgerCtx;
use crate::llm::{LlmRequest, Provider, Purpose};
use crate::memory::store::{ListFilter, list_entries};
use crate::review::ops::ReviewOutput;
use crate::review::parse::{ParseContext, parse};
use crate::store::config::BudgetConfig;
use crate::store::db::Store;

/// csep's instructions to the consolidating model.
pub const PROMPT: &str = "You maintain a developer's long-term memory for their coding agent. \
You get the current memory entries (id, scope, kind, summary) and operations a reviewer proposed \
from recent sessions. Return the operations that should really be applied, as JSON \
{\"operations\": [...]} in the same schema: merge proposals that say the same thing, turn an \
`add` that restates or corrects an existing entry into `replace` of that entry's id, `remove` \
entries the new evidence shows are wrong, and drop anything transient (task progress, PR or \
build status, dates, branch names). Never invent facts that are not in the proposals. Answer \
{\"operations\": []} to apply nothing.";

/// Turns one envelope's proposed operations into the operations to apply.
pub trait Consolidator {
    /// Short name for receipts (`openai-compatible`, `codex-cli`, ...).
    fn name(&self) -> String;
    /// The consolidated operations and the tokens spent; `Err` leaves the proposal as it is.
    fn consolidate(
        &self,
        store: &Store,
        project_id: &str,
        proposed: &ReviewOutput,
    ) -> Result<(ReviewOutput, u64), String>;
}

/// Consolidation through an LLM provider, with spend recorded in the ledger (purpose `compile`,
/// capped by `[budget] compile_daily_tokens`).
#[derive(Debug)]
pub struct ProviderConsolidator<'a> {
    /// The provider.
    pub provider: &'a Provider,
    /// The `[budget]` caps.
    pub caps: &'a BudgetConfig,
}

impl Consolidator for ProviderConsolidator<'_> {
    fn name(&self) -> String {
        self.provider.label()
    }

    fn consolidate(
        &self,
        store: &Store,
        project_id: &str,
        proposed: &ReviewOutput,
    ) -> Result<(ReviewOutput, u64), String> {
        if proposed.operations.is_empty() {
            return Ok((proposed.clone(), 0));
        }
        let entries = list_entries(
            store.conn(),
            &ListFilter {
                scope: None,
                project_id: Some(project_id),
                statuses: None,
            },
        )
        .map_err(|e| e.to_string())?;
        let memory: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| serde_json::json!({"id": e.id, "scope": e.scope, "kind": e.kind, "summary": e.summary}))
            .collect();
        let request = LlmRequest {
            system: PROMPT.to_owned(),
            user: serde_json::to_string_pretty(&serde_json::json!({
                "memory": memory,
                "proposed": proposed,
            }))
            .unwrap_or_default(),
            schema: Some(crate::review::schema::provider_schema_spec()),
            max_tokens: None,
        };
        let ledger = LedgerCtx {
            store,
            caps: self.caps,
            purpose: Purpose::Compile,
            project_id: Some(project_id),
            now: None,
        };
        let completion =
            crate::llm::call(self.provider, &request, &ledger).map_err(|e| e.to_string())?;
        let ids: BTreeSet<String> = entries.iter().map(|e| e.id.clone()).collect();
        let parsed = parse(
            &completion.text,
            &ParseContext {
                memory_ids: ids,
                max_operations: 0,
            },
        )
        .map_err(|e| format!("unusable answer: {e}"))?;
        let tokens = completion.usage.input_tokens + completion.usage.output_tokens;
        Ok((parsed.output, tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::dummy::Scripted;

    #[test]
    fn an_empty_proposal_costs_nothing() {
        let store = Store::open_in_memory().unwrap();
        let provider = Provider::dummy(vec![]);
        let caps = BudgetConfig::default();
        let c = ProviderConsolidator {
            provider: &provider,
            caps: &caps,
        };
        let (out, tokens) = c
            .consolidate(&store, "p_1", &ReviewOutput::default())
            .unwrap();
        assert!(out.operations.is_empty());
        assert_eq!(tokens, 0);
        assert!(provider.dummy_requests().is_empty());
    }

    #[test]
    fn a_replace_of_an_unknown_id_is_dropped_not_applied() {
        let store = Store::open_in_memory().unwrap();
        store
            .conn()
            .execute(
                "INSERT INTO projects VALUES ('p_1', x'2f70', '/p', 'p', 'not-git', 't', 't')",
                [],
            )
            .unwrap();
        let answer = r#"{"operations":[{"op":"replace","id":"m_nope","summary":"x"},{"op":"add","scope":"user","kind":"preference","summary":"Answer in English"}]}"#;
        let provider = Provider::dummy(vec![Scripted::Text(answer.to_owned())]);
        let caps = BudgetConfig::default();
        let c = ProviderConsolidator {
            provider: &provider,
            caps: &caps,
        };
        let proposed: ReviewOutput = serde_json::from_str(
            r#"{"operations":[{"op":"add","scope":"user","kind":"preference","summary":"answer in english please"}]}"#,
        )
        .unwrap();
        let (out, _) = c.consolidate(&store, "p_1", &proposed).unwrap();
        assert_eq!(out.operations.len(), 1);
        assert_eq!(out.operations[0].name(), "add");
        let spent: i64 = store
            .conn()
            .query_row(
                "SELECT count(*) FROM budget_ledger WHERE purpose = 'compile'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(spent, 1, "the call is in the ledger");
    }
}
