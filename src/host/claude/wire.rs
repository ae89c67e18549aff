//! Claude Code wire types: hook stdin payloads, hook stdout, and transcript JSONL records
//! (Claude Code 2.1.197).
//!
//! Inputs are read tolerantly: every field has a default, enums end in `Unknown`, unknown fields
//! are ignored. A transcript record is one flat JSON object whose `type` sits among the other
//! keys, so [`TranscriptLineWire`] is a flat struct of every field csep reads, decoded in one
//! pass with no buffering; message content (a string or a list of blocks) has a hand-written
//! [`Deserialize`] for the same reason.

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// Hook stdin
// ---------------------------------------------------------------------------------------------

/// `SessionStart` stdin: `{session_id, transcript_path, cwd, hook_event_name, source}`, plus
/// `model` and `prompt_id` when `source` is `compact`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SessionStartInputWire {
    /// Session id (UUIDv4).
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub session_id: Option<String>,
    /// `projects/<sanitized cwd>/<session>.jsonl`; does not exist yet at SessionStart.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub transcript_path: Option<PathBuf>,
    /// Session working directory.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub cwd: Option<PathBuf>,
    /// Always `SessionStart`.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub hook_event_name: String,
    /// `startup`, `resume`, `clear` or `compact`.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub source: Option<String>,
    /// Model id, only on `compact`.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub model: Option<String>,
    /// Prompt id, only on `compact`.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub prompt_id: Option<String>,
}

/// `UserPromptSubmit` stdin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct UserPromptSubmitInputWire {
    /// Session id.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub session_id: Option<String>,
    /// Transcript path.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub transcript_path: Option<PathBuf>,
    /// Session working directory.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub cwd: Option<PathBuf>,
    /// Id of this prompt's turn.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub prompt_id: Option<String>,
    /// `default`, `acceptEdits`, `plan`, `bypassPermissions`, …
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub permission_mode: Option<String>,
    /// Always `UserPromptSubmit`.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub hook_event_name: String,
    /// The prompt the user submitted.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub prompt: Option<String>,
}

/// `effort` object on tool and stop events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct EffortWire {
    /// `low`, `medium`, `high`, …
    #[serde(default)]
    pub level: Option<String>,
}

/// `Stop` stdin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct StopInputWire {
    /// Session id.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub session_id: Option<String>,
    /// Transcript path; the file holds the last assistant message by now.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub transcript_path: Option<PathBuf>,
    /// Session working directory.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub cwd: Option<PathBuf>,
    /// Id of the prompt's turn.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub prompt_id: Option<String>,
    /// Permission mode.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub permission_mode: Option<String>,
    /// Reasoning effort.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub effort: Option<EffortWire>,
    /// Always `Stop`.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub hook_event_name: String,
    /// True when Stop re-fires after a block; the CLI gives up after about 9 blocks.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub stop_hook_active: bool,
    /// The agent's final message.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub last_assistant_message: Option<String>,
}

/// Fields shared by every other event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct HookInputWire {
    /// Session id.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub session_id: Option<String>,
    /// Transcript path.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub transcript_path: Option<PathBuf>,
    /// Session working directory.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub cwd: Option<PathBuf>,
    /// Prompt id, on most events.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub prompt_id: Option<String>,
    /// The event name.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub hook_event_name: String,
    /// Model id, rarely sent.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub model: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Hook stdout
// ---------------------------------------------------------------------------------------------

/// `hookSpecificOutput.hookEventName` values csep writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HookEventNameWire {
    /// `SessionStart`.
    SessionStart,
    /// `UserPromptSubmit`.
    UserPromptSubmit,
}

/// `hookSpecificOutput` of SessionStart and UserPromptSubmit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookSpecificOutputWire {
    /// Must match the event.
    pub hook_event_name: HookEventNameWire,
    /// Text added to the mid-conversation system message (persisted to a file past ~10,000
    /// chars).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_context: Option<String>,
}

/// `SessionStart` stdout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionStartOutputWire {
    /// Event-specific output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_specific_output: Option<HookSpecificOutputWire>,
}

/// `UserPromptSubmit` stdout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPromptSubmitOutputWire {
    /// Event-specific output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_specific_output: Option<HookSpecificOutputWire>,
}

/// `decision` values csep writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockDecisionWire {
    /// `block`: for Stop, send `reason` back as `Stop hook feedback:\n<reason>`.
    Block,
}

/// `Stop` stdout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StopOutputWire {
    /// `block` keeps the agent going.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<BlockDecisionWire>,
    /// The continuation prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Transcript records
// ---------------------------------------------------------------------------------------------

/// A transcript record's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordTypeWire {
    /// A user message, tool result, hook feedback or compaction summary.
    User,
    /// One API message of the model.
    Assistant,
    /// Hook output, skill listing, agent listing, …
    Attachment,
    /// Compaction boundary, local command, informational notice.
    System,
    /// Prompt queue enqueue/dequeue.
    QueueOperation,
    /// Session title summary (older versions).
    Summary,
    /// File edit checkpoint.
    FileHistorySnapshot,
    /// The last prompt, written at session end.
    LastPrompt,
    /// Permission mode change.
    Mode,
    /// A type this build does not model.
    #[serde(other)]
    Unknown,
}

/// One transcript line: every field csep reads from any record type.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptLineWire {
    /// Record type.
    #[serde(rename = "type")]
    pub kind: RecordTypeWire,
    /// RFC 3339 time.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Session id.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Working directory.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Claude Code version.
    #[serde(default)]
    pub version: Option<String>,
    /// Prompt id (user records).
    #[serde(default)]
    pub prompt_id: Option<String>,
    /// Host-generated user record (hook feedback, command caveats).
    #[serde(default)]
    pub is_meta: bool,
    /// The compaction summary.
    #[serde(default)]
    pub is_compact_summary: bool,
    /// A subagent's record.
    #[serde(default)]
    pub is_sidechain: bool,
    /// `system` subtype (`compact_boundary`, `local_command`, `informational`).
    #[serde(default)]
    pub subtype: Option<String>,
    /// The message of `user`/`assistant` records.
    #[serde(default)]
    pub message: Option<MessageWire>,
    /// The attachment of `attachment` records.
    #[serde(default)]
    pub attachment: Option<AttachmentWire>,
}

/// `message` of user and assistant records.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MessageWire {
    /// `user` or `assistant`.
    #[serde(default)]
    pub role: Option<String>,
    /// Model id (assistant).
    #[serde(default)]
    pub model: Option<String>,
    /// Text or blocks.
    #[serde(default)]
    pub content: MessageContentWire,
}

/// Message or tool-result content: a plain string or a list of blocks.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum MessageContentWire {
    /// No content (missing or null).
    #[default]
    Empty,
    /// A plain string (typed prompts, hook feedback).
    Text(String),
    /// Content blocks.
    Blocks(Vec<ContentBlockWire>),
}

impl MessageContentWire {
    /// The text of the content, text blocks joined by newlines.
    pub fn into_text(self) -> String {
        match self {
            MessageContentWire::Empty => String::new(),
            MessageContentWire::Text(text) => text,
            MessageContentWire::Blocks(blocks) => {
                let mut out = String::new();
                for block in blocks {
                    if let ContentBlockWire::Text { text } = block {
                        if !out.is_empty() {
                            out.push('\n');
                        }
                        out.push_str(&text);
                    }
                }
                out
            }
        }
    }
}

struct ContentVisitor;

impl<'de> Visitor<'de> for ContentVisitor {
    type Value = MessageContentWire;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a list of content blocks")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(MessageContentWire::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(MessageContentWire::Text(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(MessageContentWire::Empty)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(MessageContentWire::Empty)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut blocks = Vec::with_capacity(seq.size_hint().unwrap_or(1));
        while let Some(block) = seq.next_element()? {
            blocks.push(block);
        }
        Ok(MessageContentWire::Blocks(blocks))
    }
}

impl<'de> Deserialize<'de> for MessageContentWire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ContentVisitor)
    }
}

/// A content block, by `type`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlockWire {
    /// Visible text.
    Text {
        /// The text.
        #[serde(default)]
        text: String,
    },
    /// A tool call.
    ToolUse {
        /// Call id (`toolu_…`).
        #[serde(default)]
        id: Option<String>,
        /// Tool name (`Bash`, `Edit`, …).
        #[serde(default)]
        name: String,
        /// Tool input object.
        #[serde(default)]
        input: serde_json::Value,
    },
    /// A tool's result, inside a `user` record.
    ToolResult {
        /// The call it answers.
        #[serde(default)]
        tool_use_id: Option<String>,
        /// Result text or blocks.
        #[serde(default)]
        content: MessageContentWire,
        /// Whether the tool failed.
        #[serde(default)]
        is_error: bool,
    },
    /// Extended thinking.
    Thinking {
        /// The thinking text.
        #[serde(default)]
        thinking: String,
    },
    /// Images, redacted thinking and blocks csep does not archive.
    #[serde(other)]
    Unknown,
}

/// `attachment.content` of `hook_additional_context`: a list of strings (or one string).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum TextListWire {
    /// One string.
    One(String),
    /// Several strings.
    Many(Vec<String>),
}

impl Default for TextListWire {
    fn default() -> Self {
        TextListWire::Many(Vec::new())
    }
}

impl TextListWire {
    /// The strings joined by newlines.
    pub fn into_text(self) -> String {
        match self {
            TextListWire::One(text) => text,
            TextListWire::Many(parts) => parts.join("\n"),
        }
    }
}

/// `blockingError` of a `hook_blocking_error` attachment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockingErrorWire {
    /// The hook's reason.
    #[serde(default)]
    pub blocking_error: String,
    /// The hook command.
    #[serde(default)]
    pub command: Option<String>,
}

/// An `attachment`, by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum AttachmentWire {
    /// `additionalContext` of a SessionStart/UserPromptSubmit hook.
    HookAdditionalContext {
        /// The context strings.
        #[serde(default)]
        content: TextListWire,
        /// `SessionStart`, `UserPromptSubmit`.
        #[serde(default)]
        hook_event: Option<String>,
    },
    /// A hook's raw run (repeats `hook_additional_context`; not a message).
    HookSuccess {
        /// `SessionStart:startup`, …
        #[serde(default)]
        hook_name: Option<String>,
    },
    /// A Stop hook block (repeats the `isMeta` user record; not a message).
    HookBlockingError {
        /// The reason and command.
        #[serde(default)]
        blocking_error: Option<BlockingErrorWire>,
    },
    /// `continue:false` from a hook.
    HookStoppedContinuation {
        /// The `stopReason`.
        #[serde(default)]
        message: Option<String>,
    },
    /// `systemMessage` from a hook.
    HookSystemMessage {
        /// The message.
        #[serde(default)]
        content: Option<String>,
    },
    /// The skills listed to the model.
    SkillListing {
        /// `- name: description` lines.
        #[serde(default)]
        content: String,
        /// Number of skills.
        #[serde(default)]
        skill_count: Option<u64>,
    },
    /// Subagent types listed to the model (not archived).
    AgentListingDelta {},
    /// Another attachment type.
    #[serde(other)]
    Unknown,
}
