//! Codex rollout parser: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<ts>-<thread>.jsonl`.
//!
//! One thread per file; line 1 is `session_meta`; resume appends to the same file. Later lines
//! carry no stable id, so a line's byte offset is its id.
//!
//! The conversation is taken from `response_item`s only (client-protocols.md §1.6, §3.5):
//! `event_msg` `item_completed` and the legacy `user_message`/`agent_message` events repeat
//! them. `compacted` yields one message, its summary; its `replacement_history` repeats history.
//!
//! Origins of `message` content items, first rule that matches wins (evidence: the fixtures
//! `rollout-with-tool-call-and-stop-block.jsonl` and `rollout-auto-compaction.jsonl`):
//!
//! 1. role `assistant` → `Agent`;
//! 2. text with the csep marker → `Injected(Csep)`;
//! 3. text prefix: `<hook_prompt` → `StopHookFeedback` when its `hook_run_id` starts with
//!    `stop:`, else `Other`; `<environment_context>` → `EnvironmentContext`;
//!    `# AGENTS.md instructions` or `<user_instructions>` (older Codex) → `AgentsMd`;
//!    `<permissions instructions>` → `Permissions`; `<skills_instructions>` → `SkillListing`;
//!    text wrapped in `<skill>`, `<user_shell_command>`, `<turn_aborted>`,
//!    `<subagent_notification>` or `<additional_context>` (opening and closing tag, case
//!    ignored, as Codex itself recognises them) → `Other`;
//! 4. `content_item_kinds[i]`: `host_skills.*`/`skills.*` → `SkillListing`, `permissions.*` →
//!    `Permissions`, `environments.environment_context` → `EnvironmentContext`, `*agents_md*`
//!    → `AgentsMd`;
//! 5. provenance `user` → `User`; any other provenance (`harness`, `skills`) → `Other`;
//! 6. role `user` → `User`; any other role (`developer`, `system`) → `Injected(Other)`. Hook
//!    `additionalContext` lands here: a `developer` message with kind `hooks.additional_context`.
//!
//! A tool's output is `ToolOutput`, except csep's own recall answer, `Injected(Csep)`: the
//! output of a call of the MCP tool (`mcp__csep__recall`) or an output that reads as recall's
//! Markdown or JSON (`csep recall` run through a shell); see
//! [`crate::host::transcript::is_csep_recall_output`].

use super::wire::{
    ContentItemWire, LegacyLineWire, NestedTagWire, PassthroughWire, ResponseItemWire,
    RolloutItemWire, RolloutLineWire,
};
use crate::host::transcript::{
    InjectedKind, Origin, Role, TranscriptChunk, TranscriptMessage, for_each_line,
    for_each_line_into, is_csep_text, parse_timestamp,
};

/// Parses the complete lines of a rollout chunk starting at absolute offset `base_offset`.
pub fn parse_chunk(bytes: &[u8], base_offset: u64) -> TranscriptChunk {
    for_each_line(bytes, base_offset, parse_line)
}

/// [`parse_chunk`] continuing `chunk` (see [`crate::host::transcript::ChunkParser`]).
pub(crate) fn parse_into(bytes: &[u8], base_offset: u64, chunk: &mut TranscriptChunk) {
    for_each_line_into(bytes, base_offset, chunk, parse_line);
}

fn parse_line(line: &[u8], offset: u64, chunk: &mut TranscriptChunk) -> bool {
    is_unread_line(line) || parse_whole_line(line, offset, chunk)
}

/// [`parse_line`] without the [`is_unread_line`] shortcut: every line decoded.
fn parse_whole_line(line: &[u8], offset: u64, chunk: &mut TranscriptChunk) -> bool {
    match serde_json::from_slice::<RolloutLineWire>(line) {
        Ok(parsed) => apply_line(parsed, line, offset, chunk),
        Err(_) => false,
    }
}

/// Whether `line`'s first bytes, written as Codex writes them, show it to be a line the archive
/// takes nothing from: a `token_usage_record`, or an `event_msg` of a kind [`EventMsgKind`]
/// models (`item_completed`, `token_count`, …; decoding one applies nothing). Such lines are
/// about half of a 0.169 rollout's bytes (each `item_completed` repeats a whole item), and
/// this spares the JSON parser their payloads.
///
/// Codex writes the envelope `{"timestamp":…,"type":…,"payload":` (0.169 with an `"ordinal"`
/// after the timestamp) and puts a payload's `type` first (serde's tag), so the kind is always
/// in the first hundred bytes. Anything else (other key order, spaces, an escape in the
/// timestamp or the kind, an event kind not modelled, which is counted) goes to the parser.
/// The rest of a line taken here is not checked: one broken after its kind is read, not
/// counted malformed, and nothing of it is kept either way.
///
/// [`EventMsgKind`]: super::wire::EventMsgKind
fn is_unread_line(line: &[u8]) -> bool {
    use serde::Deserialize as _;
    use serde::de::IntoDeserializer as _;
    let Some(rest) = line.strip_prefix(br#"{"timestamp":""#) else {
        return false;
    };
    if line.last() != Some(&b'}') {
        return false;
    }
    let Some((_, mut rest)) = plain_string(rest) else {
        return false;
    };
    // Codex 0.169 numbers its lines: `"ordinal":12` comes between the timestamp and the type.
    if let Some(number) = rest.strip_prefix(br#","ordinal":"#) {
        let digits = number.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        rest = &number[digits..];
    }
    let Some(rest) = rest.strip_prefix(br#","type":""#) else {
        return false;
    };
    if rest.starts_with(br#"token_usage_record","payload":{"#) {
        return true;
    }
    let Some(rest) = rest.strip_prefix(br#"event_msg","payload":{"type":""#) else {
        return false;
    };
    let Some((kind, after)) = plain_string(rest) else {
        return false;
    };
    if !matches!(after.first(), Some(b',' | b'}')) {
        return false;
    }
    let Ok(kind) = std::str::from_utf8(kind) else {
        return false;
    };
    let kind: Result<super::wire::EventMsgKind, serde::de::value::Error> =
        super::wire::EventMsgKind::deserialize(kind.into_deserializer());
    kind.is_ok_and(|kind| kind != super::wire::EventMsgKind::Unknown)
}

/// The contents of the JSON string that `bytes` continues (its opening quote already read) and
/// what follows its closing quote; `None` when it holds an escape or does not end.
fn plain_string(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = memchr::memchr2(b'"', b'\\', bytes).filter(|&end| bytes[end] == b'"')?;
    Some((&bytes[..end], &bytes[end + 1..]))
}

/// Builder for the messages of one line.
struct LineCtx {
    timestamp: Option<jiff::Timestamp>,
    offset: u64,
    seq: u32,
}

impl LineCtx {
    #[allow(
        clippy::too_many_arguments,
        reason = "one field per TranscriptMessage field"
    )]
    fn push(
        &mut self,
        chunk: &mut TranscriptChunk,
        role: Role,
        origin: Origin,
        text: String,
        tool_name: Option<String>,
        tool_args: Option<String>,
        tool_call_id: Option<String>,
        turn_id: Option<String>,
    ) {
        chunk.messages.push(TranscriptMessage {
            role,
            origin,
            text,
            tool_name,
            tool_args,
            tool_call_id,
            timestamp: self.timestamp,
            turn_id,
            byte_offset: self.offset,
            seq: self.seq,
        });
        self.seq += 1;
    }
}

fn turn_of(passthrough: Option<PassthroughWire>) -> Option<String> {
    passthrough.and_then(|p| p.turn_id)
}

fn count_nested_unknown(outer: &str, line: &[u8], chunk: &mut TranscriptChunk) {
    let name = serde_json::from_slice::<NestedTagWire<'_>>(line)
        .ok()
        .and_then(|w| w.payload)
        .and_then(|p| p.kind)
        .unwrap_or_default();
    chunk.count_unknown(&format!("{outer}:{name}"));
}

/// Applies one decoded line; `false` (nothing applied) for a legacy bare item whose fields do
/// not decode, a malformed line like any other.
fn apply_line(
    parsed: RolloutLineWire,
    line: &[u8],
    offset: u64,
    chunk: &mut TranscriptChunk,
) -> bool {
    let mut ctx = LineCtx {
        timestamp: parse_timestamp(parsed.timestamp.as_deref()),
        offset,
        seq: 0,
    };
    match parsed.item {
        RolloutItemWire::SessionMeta(meta) => {
            let session = &mut chunk.session;
            session.id = meta.id.or(meta.session_id).or(session.id.take());
            session.cwd = meta.cwd.or(session.cwd.take());
            session.cli_version = meta.cli_version.or(session.cli_version.take());
            session.started_at = parse_timestamp(meta.timestamp.as_deref())
                .or(ctx.timestamp)
                .or(session.started_at);
        }
        RolloutItemWire::TurnContext(turn) => {
            if turn.model.is_some() {
                chunk.session.model = turn.model;
            }
            if chunk.session.cwd.is_none() {
                chunk.session.cwd = turn.cwd;
            }
        }
        RolloutItemWire::ResponseItem(item) => apply_response_item(item, line, &mut ctx, chunk),
        RolloutItemWire::EventMsg(super::wire::EventMsgWire {
            kind: super::wire::EventMsgKind::Unknown,
        }) => {
            count_nested_unknown("event_msg", line, chunk);
        }
        RolloutItemWire::Compacted(compacted) => {
            if !compacted.message.is_empty() {
                let origin = if is_csep_text(&compacted.message) {
                    Origin::Injected(InjectedKind::Csep)
                } else {
                    Origin::Injected(InjectedKind::Other)
                };
                ctx.push(
                    chunk,
                    Role::System,
                    origin,
                    compacted.message,
                    None,
                    None,
                    None,
                    None,
                );
            }
        }
        RolloutItemWire::Unknown(name) => chunk.count_unknown(&name),
        RolloutItemWire::Legacy(legacy) => return apply_legacy_line(legacy, line, ctx, chunk),
        RolloutItemWire::WorldState(_)
        | RolloutItemWire::EventMsg(_)
        | RolloutItemWire::TokenUsageRecord(_) => {}
    }
    true
}

/// A line of a rollout written before the envelope ([`LegacyLineWire`]). Its items carry no
/// timestamp: they take the header's, the session's start. Its header names no working
/// directory: the first `<environment_context>` message's `<cwd>` is the session's. `false`
/// for a bare item of a known type whose fields do not decode (nothing applied).
fn apply_legacy_line(
    legacy: LegacyLineWire,
    line: &[u8],
    mut ctx: LineCtx,
    chunk: &mut TranscriptChunk,
) -> bool {
    match legacy {
        LegacyLineWire::Header { id } => {
            let session = &mut chunk.session;
            session.id = Some(id);
            session.started_at = ctx.timestamp.or(session.started_at);
        }
        LegacyLineWire::Marker => {}
        LegacyLineWire::Bare(tag) => match serde_json::from_slice::<ResponseItemWire>(line) {
            Err(_) => return false,
            Ok(ResponseItemWire::Unknown) => chunk.count_unknown(&tag),
            Ok(item) => {
                ctx.timestamp = ctx.timestamp.or(chunk.session.started_at);
                let first = chunk.messages.len();
                apply_response_item(item, line, &mut ctx, chunk);
                if chunk.session.cwd.is_none() {
                    chunk.session.cwd = chunk.messages[first..]
                        .iter()
                        .filter(|m| m.origin == Origin::Injected(InjectedKind::EnvironmentContext))
                        .find_map(|m| environment_cwd(&m.text));
                }
            }
        },
    }
    true
}

/// The working directory an `<environment_context>` message names: `<cwd>/path</cwd>`.
fn environment_cwd(text: &str) -> Option<std::path::PathBuf> {
    let start = text.find("<cwd>")? + "<cwd>".len();
    let len = text[start..].find("</cwd>")?;
    let cwd = text[start..start + len].trim();
    (!cwd.is_empty()).then(|| std::path::PathBuf::from(cwd))
}

fn apply_response_item(
    item: ResponseItemWire,
    line: &[u8],
    ctx: &mut LineCtx,
    chunk: &mut TranscriptChunk,
) {
    match item {
        ResponseItemWire::Message {
            role,
            content,
            internal_chat_message_metadata_passthrough: passthrough,
        } => {
            let wire_role = match role.as_str() {
                "assistant" => Role::Assistant,
                "user" => Role::User,
                _ => Role::System,
            };
            let passthrough = passthrough.unwrap_or_default();
            for (i, part) in content.into_iter().enumerate() {
                let (ContentItemWire::InputText { text } | ContentItemWire::OutputText { text }) =
                    part
                else {
                    continue;
                };
                let origin = classify(wire_role, &text, &passthrough, i);
                let turn = passthrough.turn_id.clone();
                ctx.push(chunk, wire_role, origin, text, None, None, None, turn);
            }
        }
        ResponseItemWire::FunctionCall {
            name,
            arguments,
            call_id,
            internal_chat_message_metadata_passthrough: passthrough,
        }
        | ResponseItemWire::CustomToolCall {
            name,
            input: arguments,
            call_id,
            internal_chat_message_metadata_passthrough: passthrough,
        } => {
            chunk.note_tool_call(&name, call_id.as_deref());
            let text = arguments.clone();
            ctx.push(
                chunk,
                Role::Assistant,
                Origin::ToolCall,
                text,
                Some(name),
                Some(arguments),
                call_id,
                turn_of(passthrough),
            );
        }
        ResponseItemWire::FunctionCallOutput {
            call_id,
            output,
            internal_chat_message_metadata_passthrough: passthrough,
        }
        | ResponseItemWire::CustomToolCallOutput {
            call_id,
            output,
            internal_chat_message_metadata_passthrough: passthrough,
        } => {
            let text = output.into_text();
            let turn = turn_of(passthrough);
            let origin = chunk.tool_output_origin(call_id.as_deref(), &text);
            ctx.push(chunk, Role::Tool, origin, text, None, None, call_id, turn);
        }
        ResponseItemWire::Reasoning {
            summary,
            content,
            internal_chat_message_metadata_passthrough: passthrough,
        } => {
            let mut text = String::new();
            for part in summary.into_iter().chain(content.unwrap_or_default()) {
                if part.text.is_empty() {
                    continue;
                }
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&part.text);
            }
            if !text.is_empty() {
                let turn = turn_of(passthrough);
                ctx.push(
                    chunk,
                    Role::Assistant,
                    Origin::Reasoning,
                    text,
                    None,
                    None,
                    None,
                    turn,
                );
            }
        }
        ResponseItemWire::LocalShellCall {
            call_id,
            action,
            internal_chat_message_metadata_passthrough: passthrough,
        } => {
            let args = action.map(|a| a.to_string()).unwrap_or_default();
            ctx.push(
                chunk,
                Role::Assistant,
                Origin::ToolCall,
                args.clone(),
                Some("local_shell".to_owned()),
                Some(args),
                call_id,
                turn_of(passthrough),
            );
        }
        ResponseItemWire::WebSearchCall {
            action,
            internal_chat_message_metadata_passthrough: passthrough,
        } => {
            let args = action.map(|a| a.to_string()).unwrap_or_default();
            ctx.push(
                chunk,
                Role::Assistant,
                Origin::ToolCall,
                args.clone(),
                Some("web_search".to_owned()),
                Some(args),
                None,
                turn_of(passthrough),
            );
        }
        ResponseItemWire::Unknown => count_nested_unknown("response_item", line, chunk),
    }
}

/// User-role fragments Codex writes itself, by their opening and closing tags: the rest of
/// codex-rs `CONTEXTUAL_USER_FRAGMENTS` (`core/src/contextual_user_message.rs`), which Codex
/// itself reads back as "contextual state rather than literal user input". A rollout written
/// without content-item provenance (before 0.169) marks them no other way.
const CONTEXTUAL_FRAGMENTS: [(&str, &str); 5] = [
    // A SKILL.md body, sent when the user invokes a skill.
    ("<skill>", "</skill>"),
    // A command the user ran with `!` and its output, as Codex formats them.
    ("<user_shell_command>", "</user_shell_command>"),
    // The note Codex leaves after the user interrupted a turn.
    ("<turn_aborted>", "</turn_aborted>"),
    // A spawned subagent's status, reported to its parent.
    ("<subagent_notification>", "</subagent_notification>"),
    // Context from the IDE extension (open files, selection).
    ("<additional_context>", "</additional_context>"),
];

/// Whether `text` (already trimmed at the start) opens with `open` and ends with `close`,
/// ASCII case ignored: Codex's own test for a contextual fragment (`matches_text`).
fn is_wrapped_in(text: &str, open: &str, close: &str) -> bool {
    let text = text.trim_end();
    let opens = text
        .get(..open.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(open));
    let closes = text
        .len()
        .checked_sub(close.len())
        .and_then(|start| text.get(start..))
        .is_some_and(|tail| tail.eq_ignore_ascii_case(close));
    opens && closes && text.len() >= open.len() + close.len()
}

/// Classifies content item `index` of a message; rules in the module docs.
fn classify(role: Role, text: &str, passthrough: &PassthroughWire, index: usize) -> Origin {
    if role == Role::Assistant {
        return Origin::Agent;
    }
    if is_csep_text(text) {
        return Origin::Injected(InjectedKind::Csep);
    }
    let t = text.trim_start();
    if let Some(rest) = t.strip_prefix("<hook_prompt") {
        let is_stop = rest.trim_start().starts_with("hook_run_id=\"stop:");
        return Origin::Injected(if is_stop {
            InjectedKind::StopHookFeedback
        } else {
            InjectedKind::Other
        });
    }
    let by_prefix = [
        ("<environment_context>", InjectedKind::EnvironmentContext),
        ("# AGENTS.md instructions", InjectedKind::AgentsMd),
        ("<user_instructions>", InjectedKind::AgentsMd),
        ("<permissions instructions>", InjectedKind::Permissions),
        ("<skills_instructions>", InjectedKind::SkillListing),
    ];
    if let Some((_, kind)) = by_prefix.iter().find(|(prefix, _)| t.starts_with(prefix)) {
        return Origin::Injected(*kind);
    }
    if CONTEXTUAL_FRAGMENTS
        .iter()
        .any(|(open, close)| is_wrapped_in(t, open, close))
    {
        return Origin::Injected(InjectedKind::Other);
    }
    if let Some(kind) = passthrough.content_item_kinds.get(index) {
        let by_kind = if kind.starts_with("host_skills.") || kind.starts_with("skills.") {
            Some(InjectedKind::SkillListing)
        } else if kind.starts_with("permissions.") {
            Some(InjectedKind::Permissions)
        } else if kind == "environments.environment_context" {
            Some(InjectedKind::EnvironmentContext)
        } else if kind.contains("agents_md") {
            Some(InjectedKind::AgentsMd)
        } else {
            None
        };
        if let Some(kind) = by_kind {
            return Origin::Injected(kind);
        }
    }
    let provenance = passthrough
        .content_item_metadata
        .get(index)
        .and_then(|m| m.provenance.as_ref())
        .and_then(|p| p.kind.as_deref());
    match provenance {
        Some("user") => Origin::User,
        Some(_) => Origin::Injected(InjectedKind::Other),
        None if role == Role::User => Origin::User,
        None => Origin::Injected(InjectedKind::Other),
    }
}

#[cfg(test)]
#[path = "transcript_tests.rs"]
mod tests;
