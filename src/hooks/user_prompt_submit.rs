//! UserPromptSubmit: auto-recall. For a non-trivial prompt, the top recall hits above the
//! relevance threshold ([`crate::recall::auto_recall`]) are injected as `additionalContext`
//! under `[hooks] user_prompt_budget_tokens`, never repeating an entry SessionStart already put
//! into this session. `[hooks] user_prompt_recall = false` turns it off.

use rusqlite::params;

use crate::hooks::{HookAnswer, HookCtx, estimate_tokens, journal};
use crate::host::transcript::{HookEvent, HookKind, empty_output};
use crate::host::{Host, claude, codex};
use crate::store::db::{Store, StoreError};
use crate::store::identity::RepoIdentity;

/// Runs the hook for `event`.
pub fn run(ctx: &HookCtx, event: &HookEvent) -> Result<HookAnswer, StoreError> {
    let empty = |outcome| HookAnswer {
        injected: Vec::new(),
        stdout: empty_output(event.host, &HookKind::UserPromptSubmit),
        outcome,
        detail: None,
        event: None,
    };
    if !ctx.config.hooks.user_prompt_recall {
        return Ok(empty("disabled"));
    }
    let Some(prompt) = event.prompt.as_deref().filter(|p| !p.trim().is_empty()) else {
        return Ok(empty("empty"));
    };
    let Some(store) = ctx.open_existing_store()? else {
        return Ok(empty("empty"));
    };
    let project_id = event
        .cwd
        .as_deref()
        .and_then(|cwd| RepoIdentity::resolve(cwd).ok())
        .map(|identity| identity.project_id());
    let exclude = match &event.session_id {
        Some(session) => {
            // SessionStart's injections wait in the hook journal. Its notes are read (once)
            // before the database, so a note another process files in between is seen in one
            // place or the other; then the oldest few are moved in (a backlog is left to the
            // worker).
            let mut entries = journal::read(&ctx.paths);
            let mut ids = journal::injected_into(&entries, event.host, session);
            entries.truncate(journal::MAX_NOTES_PER_PROMPT);
            if let Err(e) = journal::drain_entries(store, entries) {
                tracing::debug!(error = %e, "cannot drain the hook journal yet");
            }
            ids.extend(already_injected(store, event.host, session)?);
            ids
        }
        None => Vec::new(),
    };
    let budget_tokens = usize::try_from(ctx.config.hooks.user_prompt_budget_tokens).unwrap_or(600);
    let mut context = crate::recall::auto_recall(
        store,
        project_id.as_deref(),
        prompt,
        budget_tokens * 4,
        &exclude,
    );
    if context
        .as_deref()
        .is_some_and(|c| estimate_tokens(c) > budget_tokens)
    {
        // Mostly non-ASCII text: one character can be one token, so budget in characters.
        context = crate::recall::auto_recall(
            store,
            project_id.as_deref(),
            prompt,
            budget_tokens,
            &exclude,
        );
    }
    let Some(context) = context.filter(|c| !c.trim().is_empty()) else {
        return Ok(empty("no_match"));
    };
    let stdout = match event.host {
        Host::Codex => codex::hook::render_user_prompt_submit_context(&context),
        Host::Claude => claude::hook::render_user_prompt_submit_context(&context),
    };
    Ok(HookAnswer {
        injected: Vec::new(),
        stdout,
        outcome: "injected",
        detail: Some(format!("~{} tokens", estimate_tokens(&context))),
        event: None,
    })
}

/// Entry ids SessionStart (or an earlier prompt) already injected into this session, as
/// recorded in the database.
fn already_injected(store: &Store, host: Host, session: &str) -> Result<Vec<String>, StoreError> {
    let err = |source| StoreError::Sqlite {
        path: store.path().to_path_buf(),
        source,
    };
    let mut stmt = store
        .conn()
        .prepare_cached("SELECT entry_id FROM hook_injections WHERE host = ?1 AND session_id = ?2")
        .map_err(err)?;
    let rows = stmt
        .query_map(params![host.as_str(), session], |r| r.get(0))
        .map_err(err)?;
    rows.collect::<Result<Vec<String>, _>>().map_err(err)
}
