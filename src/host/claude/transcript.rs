//! Claude Code transcript parser: `$CLAUDE_CONFIG_DIR/projects/<sanitized cwd>/<session>.jsonl`.
//!
//! One session per file; `--resume` appends to it. Records are flat objects with a `type`
//! (client-protocols.md §2.5). Messages come from `user` and `assistant` records (one per
//! content block) and from two attachments the model sees: `hook_additional_context` and
//! `skill_listing`. `hook_success` and `hook_blocking_error` repeat what other records already
//! hold; `queue-operation`, `last-prompt`, `mode`, `summary`, `file-history-snapshot` and
//! `system` records carry no conversation and yield nothing.
//!
//! Origins of user text, first rule that matches wins (evidence: the fixtures
//! `transcript-with-tool-call-and-stop-block.jsonl` and `transcript-resume-and-compact.jsonl`):
//!
//! 1. `isCompactSummary` → `Injected(Other)`;
//! 2. text with the csep marker → `Injected(Csep)`;
//! 3. `Stop hook feedback:` prefix (an `isMeta` record) → `Injected(StopHookFeedback)`;
//! 4. `<system-reminder>` prefix → `Injected(AgentsMd)` if it mentions `CLAUDE.md`, else
//!    `Injected(Other)`;
//! 5. `isMeta` (e.g. `<local-command-caveat>`) → `Injected(Other)`;
//! 6. `<local-command-stdout>`, `<local-command-stderr>`, `<bash-stdout>`, `<bash-stderr>`,
//!    `[Request interrupted` prefixes → `Injected(Other)` (host output, not typed);
//! 7. `isSidechain` (a subagent's transcript, `agent-<id>.jsonl`) → `Agent`: its user text is
//!    the task the parent model wrote for the subagent (`Task`/`Agent` tool input), not the
//!    user's words; it stays searchable, since it says what the subagent session is about, but
//!    is not counted or reviewed as the user's;
//! 8. otherwise `User` (including `<command-name>/compact`, which the user typed).
//!
//! Assistant blocks: `text` → `Agent`, `tool_use` → `ToolCall`, `thinking` → `Reasoning`.
//! `tool_result` blocks → role `Tool`, `ToolOutput`, except csep's own recall answer,
//! `Injected(Csep)`: the result of a `mcp__csep__recall` call, or a result that reads as
//! recall's Markdown or JSON (`csep recall` run with `Bash`). Attachments → role `System`:
//! `hook_additional_context` → `Injected(Csep)` with the marker, else `Injected(Other)`;
//! `skill_listing` → `Injected(SkillListing)`.

use serde::Deserialize;

use super::wire::{
    AttachmentWire, ContentBlockWire, MessageContentWire, RecordTypeWire, TranscriptLineWire,
};
use crate::host::transcript::{
    InjectedKind, Origin, Role, TranscriptChunk, TranscriptMessage, for_each_line,
    for_each_line_into, is_csep_text, parse_timestamp,
};

/// Parses the complete lines of a transcript chunk starting at absolute offset `base_offset`.
pub fn parse_chunk(bytes: &[u8], base_offset: u64) -> TranscriptChunk {
    let file_start = base_offset == 0;
    for_each_line(bytes, base_offset, |line, offset, chunk| {
        parse_line(line, offset, file_start, chunk)
    })
}

/// [`parse_chunk`] continuing `chunk` (see [`crate::host::transcript::ChunkParser`]);
/// `file_start` says whether the chunk began at offset 0.
pub(crate) fn parse_into(
    bytes: &[u8],
    base_offset: u64,
    file_start: bool,
    chunk: &mut TranscriptChunk,
) {
    for_each_line_into(bytes, base_offset, chunk, |line, offset, chunk| {
        parse_line(line, offset, file_start, chunk)
    });
}

fn parse_line(line: &[u8], offset: u64, file_start: bool, chunk: &mut TranscriptChunk) -> bool {
    match serde_json::from_slice::<TranscriptLineWire>(line) {
        Ok(record) => {
            apply_line(record, line, offset, file_start, chunk);
            true
        }
        Err(_) => false,
    }
}

/// The `type` of a record and of its attachment, read again only for unknown ones.
#[derive(Deserialize)]
struct TypePeekWire<'a> {
    #[serde(default, borrow, rename = "type")]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    attachment: Option<AttachmentPeekWire<'a>>,
}

#[derive(Deserialize)]
struct AttachmentPeekWire<'a> {
    #[serde(default, borrow, rename = "type")]
    kind: Option<std::borrow::Cow<'a, str>>,
}

/// Builder for the messages of one line.
struct LineCtx {
    timestamp: Option<jiff::Timestamp>,
    offset: u64,
    seq: u32,
    turn_id: Option<String>,
}

impl LineCtx {
    fn push(&mut self, chunk: &mut TranscriptChunk, role: Role, origin: Origin, text: String) {
        self.push_tool(chunk, role, origin, text, None, None, None);
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one field per TranscriptMessage field"
    )]
    fn push_tool(
        &mut self,
        chunk: &mut TranscriptChunk,
        role: Role,
        origin: Origin,
        text: String,
        tool_name: Option<String>,
        tool_args: Option<String>,
        tool_call_id: Option<String>,
    ) {
        chunk.messages.push(TranscriptMessage {
            role,
            origin,
            text,
            tool_name,
            tool_args,
            tool_call_id,
            timestamp: self.timestamp,
            turn_id: self.turn_id.clone(),
            byte_offset: self.offset,
            seq: self.seq,
        });
        self.seq += 1;
    }
}

fn apply_line(
    record: TranscriptLineWire,
    line: &[u8],
    offset: u64,
    is_file_start: bool,
    chunk: &mut TranscriptChunk,
) {
    let timestamp = parse_timestamp(record.timestamp.as_deref());
    let session = &mut chunk.session;
    if session.id.is_none() {
        session.id = record.session_id;
    }
    if session.cwd.is_none() {
        session.cwd = record.cwd;
    }
    if record.version.is_some() {
        session.cli_version = record.version;
    }
    if is_file_start && session.started_at.is_none() {
        session.started_at = timestamp;
    }
    let mut ctx = LineCtx {
        timestamp,
        offset,
        seq: 0,
        turn_id: record.prompt_id,
    };
    match record.kind {
        RecordTypeWire::User => {
            let Some(message) = record.message else {
                return;
            };
            let flags = UserFlags {
                is_meta: record.is_meta,
                is_compact_summary: record.is_compact_summary,
                is_sidechain: record.is_sidechain,
            };
            apply_user(message.content, flags, &mut ctx, chunk);
        }
        RecordTypeWire::Assistant => {
            let Some(message) = record.message else {
                return;
            };
            if message.model.is_some() {
                chunk.session.model = message.model;
            }
            apply_assistant(message.content, &mut ctx, chunk);
        }
        RecordTypeWire::Attachment => match record.attachment {
            Some(AttachmentWire::HookAdditionalContext { content, .. }) => {
                let text = content.into_text();
                let origin = if is_csep_text(&text) {
                    Origin::Injected(InjectedKind::Csep)
                } else {
                    Origin::Injected(InjectedKind::Other)
                };
                ctx.push(chunk, Role::System, origin, text);
            }
            Some(AttachmentWire::SkillListing { content, .. }) => {
                let origin = Origin::Injected(InjectedKind::SkillListing);
                ctx.push(chunk, Role::System, origin, content);
            }
            Some(AttachmentWire::Unknown) => {
                let name = serde_json::from_slice::<TypePeekWire<'_>>(line)
                    .ok()
                    .and_then(|p| p.attachment)
                    .and_then(|a| a.kind)
                    .unwrap_or_default();
                chunk.count_unknown(&format!("attachment:{name}"));
            }
            Some(
                AttachmentWire::HookSuccess { .. }
                | AttachmentWire::HookBlockingError { .. }
                | AttachmentWire::HookStoppedContinuation { .. }
                | AttachmentWire::HookSystemMessage { .. }
                | AttachmentWire::AgentListingDelta {},
            )
            | None => {}
        },
        RecordTypeWire::Unknown => {
            let name = serde_json::from_slice::<TypePeekWire<'_>>(line)
                .ok()
                .and_then(|p| p.kind)
                .unwrap_or_default();
            chunk.count_unknown(&name);
        }
        RecordTypeWire::System
        | RecordTypeWire::QueueOperation
        | RecordTypeWire::Summary
        | RecordTypeWire::FileHistorySnapshot
        | RecordTypeWire::LastPrompt
        | RecordTypeWire::Mode => {}
    }
}

#[derive(Clone, Copy)]
struct UserFlags {
    is_meta: bool,
    is_compact_summary: bool,
    /// A subagent's record: its user text is the task the parent model wrote.
    is_sidechain: bool,
}

fn apply_user(
    content: MessageContentWire,
    flags: UserFlags,
    ctx: &mut LineCtx,
    chunk: &mut TranscriptChunk,
) {
    match content {
        MessageContentWire::Empty => {}
        MessageContentWire::Text(text) => {
            let origin = classify_user(&text, flags);
            ctx.push(chunk, Role::User, origin, text);
        }
        MessageContentWire::Blocks(blocks) => {
            for block in blocks {
                match block {
                    ContentBlockWire::Text { text } => {
                        let origin = classify_user(&text, flags);
                        ctx.push(chunk, Role::User, origin, text);
                    }
                    ContentBlockWire::ToolResult {
                        tool_use_id,
                        content,
                        ..
                    } => {
                        let text = content.into_text();
                        let origin = chunk.tool_output_origin(tool_use_id.as_deref(), &text);
                        ctx.push_tool(chunk, Role::Tool, origin, text, None, None, tool_use_id);
                    }
                    ContentBlockWire::ToolUse { .. }
                    | ContentBlockWire::Thinking { .. }
                    | ContentBlockWire::Unknown => {}
                }
            }
        }
    }
}

fn apply_assistant(content: MessageContentWire, ctx: &mut LineCtx, chunk: &mut TranscriptChunk) {
    match content {
        MessageContentWire::Empty => {}
        MessageContentWire::Text(text) => ctx.push(chunk, Role::Assistant, Origin::Agent, text),
        MessageContentWire::Blocks(blocks) => {
            for block in blocks {
                match block {
                    ContentBlockWire::Text { text } => {
                        ctx.push(chunk, Role::Assistant, Origin::Agent, text);
                    }
                    ContentBlockWire::ToolUse { id, name, input } => {
                        chunk.note_tool_call(&name, id.as_deref());
                        let args = input.to_string();
                        ctx.push_tool(
                            chunk,
                            Role::Assistant,
                            Origin::ToolCall,
                            args.clone(),
                            Some(name),
                            Some(args),
                            id,
                        );
                    }
                    ContentBlockWire::Thinking { thinking } => {
                        if !thinking.is_empty() {
                            ctx.push(chunk, Role::Assistant, Origin::Reasoning, thinking);
                        }
                    }
                    ContentBlockWire::ToolResult { .. } | ContentBlockWire::Unknown => {}
                }
            }
        }
    }
}

/// Classifies user-role text; rules in the module docs.
fn classify_user(text: &str, flags: UserFlags) -> Origin {
    let other = Origin::Injected(InjectedKind::Other);
    if flags.is_compact_summary {
        return other;
    }
    if is_csep_text(text) {
        return Origin::Injected(InjectedKind::Csep);
    }
    let t = text.trim_start();
    if t.starts_with("Stop hook feedback:") {
        return Origin::Injected(InjectedKind::StopHookFeedback);
    }
    if t.starts_with("<system-reminder>") {
        return if t.contains("CLAUDE.md") {
            Origin::Injected(InjectedKind::AgentsMd)
        } else {
            other
        };
    }
    if flags.is_meta {
        return other;
    }
    let host_output = [
        "<local-command-stdout>",
        "<local-command-stderr>",
        "<bash-stdout>",
        "<bash-stderr>",
        "[Request interrupted",
    ];
    if host_output.iter().any(|p| t.starts_with(p)) {
        return other;
    }
    if flags.is_sidechain {
        return Origin::Agent;
    }
    Origin::User
}

#[cfg(test)]
#[path = "transcript_tests.rs"]
mod tests;
