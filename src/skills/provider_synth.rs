//! Skill synthesis through the configured LLM provider.
//!
//! The provider sees the redacted evidence bundle (procedures, failure→fix pairs, corrections,
//! explicit requests, recorded candidates and the names of existing skills) and answers
//! `{"skills": [...]}`; [`super::synth::drafts_from_provider`] reads it strictly and verifies
//! every cited session against the bundle. Gates, staging and publishing stay deterministic.
//! Every call goes through the spend ledger (purpose `skills`), so `[budget] skills_daily_tokens`
//! caps it; nothing is called when there is no evidence to work on.

use serde_json::json;

use crate::llm::budget::LedgerCtx;
use crate::llm::{LlmRequest, Provider, Purpose};
use crate::skills::SkillError;
use crate::skills::evidence::EvidenceBundle;
use crate::skills::synth::{SkillSynthesizer, Synthesis, TokenUsage, drafts_from_provider};
use crate::store::config::BudgetConfig;
use crate::store::db::Store;

/// csep's instructions to the model.
pub const PROMPT: &str = "You turn procedures a developer's coding agent repeated successfully \
into reusable skills. You get JSON evidence from csep's archive: recurring command procedures \
with the sessions they were seen in, failure-to-fix pairs, the user's corrections, explicit \
requests to make something a skill, candidates proposed by reviews, and the names of skills that \
already exist. Propose only skills backed by the evidence, at most 3, none that duplicates an \
existing skill. Answer with JSON only, exactly this shape: {\"skills\": [{\"name\": \
\"kebab-case-name\", \"description\": \"Use when ...\", \"when_to_use\": [\"...\"], \"steps\": \
[\"...\"], \"verification\": [\"...\"], \"if_it_fails\": [\"...\"], \"evidence_ids\": \
[\"session:<host>:<id>\"]}]}. Steps quote the real commands. Never include secrets, \
downloads piped to a shell, or destructive commands. Answer {\"skills\": []} when nothing \
qualifies.";

/// Synthesizes skills with a provider, recording spend in `store`'s ledger.
#[derive(Debug)]
pub struct ProviderSynthesizer<'a> {
    /// The provider (never the offline one; use the offline synthesizer for that).
    pub provider: &'a Provider,
    /// Where the ledger lives.
    pub store: &'a Store,
    /// The `[budget]` caps.
    pub caps: &'a BudgetConfig,
    /// The project, for the ledger row.
    pub project_id: Option<String>,
}

impl SkillSynthesizer for ProviderSynthesizer<'_> {
    fn name(&self) -> String {
        self.provider.label()
    }

    fn synthesize(&self, evidence: &EvidenceBundle) -> Result<Synthesis, SkillError> {
        let nothing = evidence.procedures.is_empty()
            && evidence.requests.is_empty()
            && evidence.candidates.is_empty();
        if nothing {
            return Ok(Synthesis::default());
        }
        let material = json!({
            "procedures": evidence.procedures,
            "failure_fixes": evidence.failure_fixes,
            "corrections": evidence.corrections,
            "requests": evidence.requests,
            "candidates": evidence.candidates,
            "existing_skills": evidence.inventory.iter().map(|i| &i.name).collect::<Vec<_>>(),
        });
        let request = LlmRequest {
            system: PROMPT.to_owned(),
            user: serde_json::to_string_pretty(&material).unwrap_or_default(),
            schema: None,
            max_tokens: Some(4096),
        };
        let ledger = LedgerCtx {
            store: self.store,
            caps: self.caps,
            purpose: Purpose::Skills,
            project_id: self.project_id.as_deref(),
            now: None,
        };
        let failed = |message: String| SkillError::Synthesizer {
            synthesizer: self.name(),
            message,
        };
        let completion = crate::llm::call(self.provider, &request, &ledger)
            .map_err(|e| failed(e.to_string()))?;
        let json = json_object(&completion.text)
            .ok_or_else(|| failed("the answer holds no JSON object".to_owned()))?;
        let drafts = drafts_from_provider(&self.name(), json, evidence)?;
        Ok(Synthesis {
            drafts,
            tokens: TokenUsage {
                input: completion.usage.input_tokens,
                output: completion.usage.output_tokens,
            },
        })
    }
}

/// The outermost `{…}` of a model's answer (models wrap JSON in fences or prose).
fn json_object(text: &str) -> Option<&str> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    (end > start).then(|| &text[start..=end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_found_inside_fences_and_prose() {
        assert_eq!(
            json_object("Sure:\n```json\n{\"skills\": []}\n```"),
            Some("{\"skills\": []}")
        );
        assert_eq!(json_object("no json here"), None);
    }

    #[test]
    fn no_evidence_means_no_call_and_no_spend() {
        let store = Store::open_in_memory().unwrap();
        let provider = Provider::dummy(vec![]);
        let caps = BudgetConfig::default();
        let synth = ProviderSynthesizer {
            provider: &provider,
            store: &store,
            caps: &caps,
            project_id: None,
        };
        let out = synth.synthesize(&EvidenceBundle::default()).unwrap();
        assert!(out.drafts.is_empty());
        assert!(provider.dummy_requests().is_empty());
        let rows: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM budget_ledger", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0);
    }
}
