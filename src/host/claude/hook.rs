//! Claude Code hook edge: reduces stdin payloads to [`HookEvent`]s and renders stdout.
//!
//! Output rules (client-protocols.md §2.4, VERIFIED on Claude Code 2.1.197): `additionalContext`
//! of SessionStart/UserPromptSubmit is added to a mid-conversation `system` message; Stop
//! `{"decision":"block","reason":R}` sends `Stop hook feedback:\nR` as a new user turn.
//! Claude has no `turn_id`; its `prompt_id` fills [`HookEvent::turn_id`].

use serde::Deserialize;

use super::wire::{
    BlockDecisionWire, HookEventNameWire, HookInputWire, HookSpecificOutputWire,
    SessionStartInputWire, SessionStartOutputWire, StopInputWire, StopOutputWire,
    UserPromptSubmitInputWire, UserPromptSubmitOutputWire,
};
use crate::host::Host;
use crate::host::transcript::{HookEvent, HookKind};

/// Decodes a Claude Code payload of event `kind` into a [`HookEvent`].
pub fn to_event(value: &serde_json::Value, kind: HookKind) -> Result<HookEvent, serde_json::Error> {
    let base = HookEvent {
        host: Host::Claude,
        kind,
        session_id: None,
        cwd: None,
        transcript_path: None,
        prompt: None,
        turn_id: None,
        source: None,
        stop_hook_active: false,
        last_assistant_message: None,
        model: None,
    };
    Ok(match base.kind {
        HookKind::SessionStart => {
            let w = SessionStartInputWire::deserialize(value)?;
            HookEvent {
                session_id: w.session_id,
                cwd: w.cwd,
                transcript_path: w.transcript_path,
                turn_id: w.prompt_id,
                source: w.source,
                model: w.model,
                ..base
            }
        }
        HookKind::UserPromptSubmit => {
            let w = UserPromptSubmitInputWire::deserialize(value)?;
            HookEvent {
                session_id: w.session_id,
                cwd: w.cwd,
                transcript_path: w.transcript_path,
                prompt: w.prompt,
                turn_id: w.prompt_id,
                ..base
            }
        }
        HookKind::Stop => {
            let w = StopInputWire::deserialize(value)?;
            HookEvent {
                session_id: w.session_id,
                cwd: w.cwd,
                transcript_path: w.transcript_path,
                turn_id: w.prompt_id,
                stop_hook_active: w.stop_hook_active,
                last_assistant_message: w.last_assistant_message,
                ..base
            }
        }
        HookKind::Other(_) => {
            let w = HookInputWire::deserialize(value)?;
            HookEvent {
                session_id: w.session_id,
                cwd: w.cwd,
                transcript_path: w.transcript_path,
                turn_id: w.prompt_id,
                model: w.model,
                ..base
            }
        }
    })
}

/// Renders SessionStart stdout that injects `context` into the system message.
pub fn render_session_start_context(context: &str) -> String {
    to_json(&SessionStartOutputWire {
        hook_specific_output: Some(HookSpecificOutputWire {
            hook_event_name: HookEventNameWire::SessionStart,
            additional_context: Some(context.to_owned()),
        }),
    })
}

/// Renders UserPromptSubmit stdout that injects `context` into the system message.
pub fn render_user_prompt_submit_context(context: &str) -> String {
    to_json(&UserPromptSubmitOutputWire {
        hook_specific_output: Some(HookSpecificOutputWire {
            hook_event_name: HookEventNameWire::UserPromptSubmit,
            additional_context: Some(context.to_owned()),
        }),
    })
}

/// Renders Stop stdout that makes the agent continue with `reason` as `Stop hook feedback`.
pub fn render_stop_continue(reason: &str) -> String {
    to_json(&StopOutputWire {
        decision: Some(BlockDecisionWire::Block),
        reason: Some(reason.to_owned()),
    })
}

/// No-op stdout for `kind`; see [`crate::host::transcript::empty_output`].
pub fn empty_output(kind: &HookKind) -> String {
    match kind {
        HookKind::SessionStart => to_json(&SessionStartOutputWire::default()),
        HookKind::UserPromptSubmit => to_json(&UserPromptSubmitOutputWire::default()),
        HookKind::Stop => to_json(&StopOutputWire::default()),
        HookKind::Other(_) => String::new(),
    }
}

/// Serialises an output wire. These types hold only strings and enums, which cannot fail to
/// serialise; the fallback keeps the hook's output valid regardless.
fn to_json<T: serde::Serialize>(wire: &T) -> String {
    serde_json::to_string(wire).unwrap_or_else(|_| String::from("{}"))
}
