//! Recall decided by csep rather than asked for: the explicit-signal trigger of `recall-trigger`
//! and [`auto_recall`], which the UserPromptSubmit hook calls for every prompt.
//!
//! Invariants: [`auto_recall`] never fails the caller (any error gives `None` and a debug log),
//! skips trivial prompts, injects only hits above a relevance threshold, never returns an entry
//! the caller says is already in context, wraps its text in csep's context marker so the
//! transcript parsers classify it as injected (and the archive never indexes it), and records
//! each injected entry's use.

use std::path::Path;

use crate::recall::analyze::{MAX_QUERY_CHARS, query_terms};
use crate::recall::render::{self, RecallResponse, Status};
use crate::recall::search::{self, HitKind, SearchContext, SearchOptions, SearchScope};
use crate::store::db::Store;

/// Phrases that show the user refers to earlier work, checked case-insensitively as substrings
/// (English) or as-is (Chinese). The reason reported is `marker:<phrase>`.
pub const TRIGGER_MARKERS: &[&str] = &[
    "last time",
    "as before",
    "like before",
    "previously",
    "we did",
    "remember",
    "again",
    "上次",
    "之前",
    "以前",
    "还记得",
    "像上次",
];

/// Whether a prompt asks for recall, and why: `explicit` when the caller says so, then the
/// first [`TRIGGER_MARKERS`] phrase found as `marker:<phrase>`.
pub fn evaluate_trigger(query: &str, explicit: bool) -> (bool, Vec<String>) {
    let mut reasons = Vec::new();
    if explicit {
        reasons.push("explicit".to_owned());
    }
    let lower = query.to_lowercase();
    if let Some(marker) = TRIGGER_MARKERS.iter().find(|m| lower.contains(*m)) {
        reasons.push(format!("marker:{marker}"));
    }
    (!reasons.is_empty(), reasons)
}

/// Fewest distinct query terms a prompt needs before auto-recall searches for it: shorter
/// prompts ("ok", "continue", "继续", "yes do it") carry no topic.
pub const AUTO_RECALL_MIN_TERMS: usize = 2;

/// Least relevance (in `[0, 1]`, see [`search`]) a hit needs to be injected unasked.
pub const AUTO_RECALL_MIN_RELEVANCE: f64 = 0.55;

/// Least share of the prompt's terms a hit must contain to be injected unasked.
pub const AUTO_RECALL_MIN_COVERAGE: f64 = 0.5;

/// Hits injected at most per prompt.
pub const AUTO_RECALL_TOP_K: usize = 3;

/// Recall for a prompt, for injection as `additionalContext` on UserPromptSubmit.
///
/// Returns `None` for trivial prompts, when nothing clears the thresholds, or on any error.
/// `exclude_ids` are entry ids already in context (what SessionStart injected). The prompt is
/// cut to [`MAX_QUERY_CHARS`] characters and searched as a query. The text is at most
/// `budget_chars` characters of Markdown inside `<csep-context kind="recall">…</csep-context>`.
/// Each returned memory or recall entry gets its use recorded ([`search::record_use`]).
pub fn auto_recall(
    store: &Store,
    project_id: Option<&str>,
    prompt: &str,
    budget_chars: usize,
    exclude_ids: &[String],
) -> Option<String> {
    let prompt: String = prompt.chars().take(MAX_QUERY_CHARS).collect();
    if prompt.trim_start().starts_with('/') || query_terms(&prompt).len() < AUTO_RECALL_MIN_TERMS {
        return None;
    }
    let ctx = SearchContext {
        project_id,
        cwd: None::<&Path>,
        now: jiff::Timestamp::now(),
    };
    let opts = SearchOptions {
        scope: SearchScope::Auto,
        top_k: AUTO_RECALL_TOP_K,
        exclude_ids: exclude_ids.to_vec(),
        window_before: 1,
        window_after: 2,
        ..SearchOptions::default()
    };
    let outcome = match search::search(store, &prompt, &ctx, &opts) {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::debug!(error = %e, "auto-recall search failed");
            return None;
        }
    };
    let hits: Vec<_> = outcome
        .hits
        .into_iter()
        .filter(|h| {
            h.relevance >= AUTO_RECALL_MIN_RELEVANCE && h.coverage >= AUTO_RECALL_MIN_COVERAGE
        })
        .collect();
    if hits.is_empty() {
        return None;
    }
    let ids: Vec<&str> = hits
        .iter()
        .filter(|h| h.kind != HitKind::Session)
        .map(|h| h.id.as_str())
        .collect();
    if let Err(e) = search::record_use(store, &ids, &crate::store::time::now()) {
        tracing::debug!(error = %e, "auto-recall could not record use");
    }
    const OPEN: &str = "<csep-context kind=\"recall\">\n";
    const CLOSE: &str = "</csep-context>\n";
    let response = RecallResponse {
        query: String::new(),
        cwd: String::new(),
        status: Status::Matched,
        hits,
        error: None,
        note: None,
        triggered: true,
        reasons: vec!["auto".to_owned()],
    };
    let inner_budget = budget_chars.saturating_sub(OPEN.len() + CLOSE.len());
    let markdown = render::render_markdown(&response, inner_budget);
    Some(format!("{OPEN}{markdown}{CLOSE}"))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::explicit("deploy", true, &["explicit"])]
    #[case::last_time("Deploy it like LAST TIME", false, &["marker:last time"])]
    #[case::as_before("run the tests as before", false, &["marker:as before"])]
    #[case::chinese_last_time("上次那个订单超时怎么修的", false, &["marker:上次"])]
    #[case::chinese_before("之前的方案", false, &["marker:之前"])]
    #[case::both("as before", true, &["explicit", "marker:as before"])]
    #[case::none("add a new endpoint", false, &[])]
    fn the_trigger_reports_explicit_signals(
        #[case] query: &str,
        #[case] explicit: bool,
        #[case] reasons: &[&str],
    ) {
        let (triggered, got) = evaluate_trigger(query, explicit);
        assert_eq!(got, reasons);
        assert_eq!(triggered, !reasons.is_empty());
    }
}
