//! UserPromptSubmit: the hook point for auto-recall (top recall hits for the prompt, budgeted).
//!
//! Until the recall engine is wired in, the hook answers with the host's no-op output, so it is
//! safe to install now.

use crate::hooks::{HookAnswer, HookCtx};
use crate::host::transcript::{HookEvent, HookKind, empty_output};
use crate::store::db::StoreError;

/// Runs the hook for `event`.
pub fn run(_ctx: &HookCtx, event: &HookEvent) -> Result<HookAnswer, StoreError> {
    Ok(HookAnswer {
        stdout: empty_output(event.host, &HookKind::UserPromptSubmit),
        outcome: "empty",
        detail: None,
        event: None,
    })
}
