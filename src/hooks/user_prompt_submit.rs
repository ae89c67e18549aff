//! UserPromptSubmit: auto-recall. For a non-trivial prompt, the top recall hits above the
//! relevance threshold ([`crate::recall::auto_recall`]) are injected as `additionalContext`
//! under `[hooks] user_prompt_budget_tokens` (a hard cap), never repeating what SessionStart or
//! an earlier prompt already put into this session and never recalling the session itself. What
//! it injects is recorded in `hook_injections`, with each entry's use. `[hooks]
//! user_prompt_recall = false` turns it off.
//!
//! A prompt without a usable session id (none in the payload, or one dropped as unsafe) gets
//! nothing: nothing would tie the injection to its session, so every prompt would repeat the
//! same hits and count each as a use again.

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
    let Some(session) = event.session_id.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(empty("no_session"));
    };
    let Some(store) = ctx.open_existing_store()? else {
        return Ok(empty("empty"));
    };
    let project_id = event
        .cwd
        .as_deref()
        .and_then(|cwd| RepoIdentity::resolve(cwd).ok())
        .map(|identity| identity.project_id());
    // SessionStart's injections wait in the hook journal. Its notes are read (once) before
    // the database, so a note another process files in between is seen in one place or the
    // other; then the oldest few are moved in (a backlog is left to the worker). What is read
    // is bounded whatever the backlog ([`journal::read_for_prompt`]).
    let journal::PromptRead {
        to_drain, injected, ..
    } = journal::read_for_prompt(&ctx.paths, event.host, session);
    // Every write waits on a locked database within one shared busy timeout, and none is
    // tried after one found it busy ([`HookCtx::store_for_write`]).
    if let Some(writer) = ctx.store_for_write()
        && let Err(e) = journal::drain_entries(writer, to_drain)
    {
        ctx.saw_write_error(&e);
        tracing::debug!(error = %e, "cannot drain the hook journal yet");
    }
    let exclude: Vec<String> = injected
        .into_iter()
        .chain(journal::recorded_injections(store, event.host, session)?)
        .map(|i| i.entry_id)
        .collect();
    let budget_tokens = usize::try_from(ctx.config.hooks.user_prompt_budget_tokens).unwrap_or(600);
    let recalled = crate::recall::auto_recall(
        store,
        project_id.as_deref(),
        Some(session),
        prompt,
        &exclude,
        budget_tokens,
    );
    let recalled = match recalled {
        Ok(recalled) => recalled,
        Err(none) => {
            return Ok(HookAnswer {
                detail: none.detail(),
                ..empty(none.outcome())
            });
        }
    };
    // When the database is busy the injection waits in the hook journal ([`record_run`]
    // files `injected`), so the next prompt does not repeat it.
    let unrecorded = match ctx.store_for_write() {
        None => recalled.injected.clone(),
        Some(writer) => match record_injection(writer, event.host, session, &recalled.injected) {
            Ok(()) => Vec::new(),
            Err(source) => {
                let error = StoreError::Sqlite {
                    path: writer.path().to_path_buf(),
                    source,
                };
                tracing::debug!(error = %error, "auto-recall could not record its injection");
                if ctx.saw_write_error(&error) {
                    recalled.injected.clone()
                } else {
                    Vec::new()
                }
            }
        },
    };
    let context = recalled.text;
    let stdout = match event.host {
        Host::Codex => codex::hook::render_user_prompt_submit_context(&context),
        Host::Claude => claude::hook::render_user_prompt_submit_context(&context),
    };
    Ok(HookAnswer {
        injected: unrecorded,
        stdout,
        outcome: "injected",
        detail: Some(format!("~{} tokens", estimate_tokens(&context))),
        event: None,
    })
}

/// Records what auto-recall injected into `session`, in one transaction: each id in
/// `hook_injections` (so no later prompt of the session repeats it) and, for each id not
/// recorded there before, the entry's use (so a use is counted once per session).
fn record_injection(
    store: &Store,
    host: Host,
    session: &str,
    ids: &[String],
) -> rusqlite::Result<()> {
    let now = crate::store::time::now();
    // Rolled back when dropped uncommitted.
    let tx = rusqlite::Transaction::new_unchecked(
        store.conn(),
        rusqlite::TransactionBehavior::Immediate,
    )?;
    let mut first_time = Vec::new();
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO hook_injections (host, session_id, event, entry_id, at) \
             VALUES (?1, ?2, 'UserPromptSubmit', ?3, ?4) ON CONFLICT DO NOTHING",
        )?;
        for id in ids {
            if insert.execute(params![host.as_str(), session, id, now])? > 0 {
                first_time.push(id.as_str());
            }
        }
    }
    crate::recall::record_use(store, &first_time, &now)?;
    tx.commit()
}

#[cfg(test)]
#[path = "user_prompt_submit_tests.rs"]
mod tests;
