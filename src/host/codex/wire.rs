//! Codex wire types: hook stdin payloads, hook stdout, and rollout JSONL lines (codex-cli 0.169).
//!
//! Inputs are read tolerantly: every field has a default, enums end in `Unknown`, and unknown
//! fields are ignored. Outputs are written strictly: Codex's output schemas set
//! `additionalProperties: false`, so output wires serialise only the fields we set
//! (`hook-io-schemas-from-binary.txt`).
//!
//! A rollout line is an envelope `{"timestamp","ordinal","type","payload"[,"metadata"]}` that
//! mirrors codex-rs `RolloutItem` (`#[serde(tag = "type", content = "payload")]`). It is decoded
//! in one pass by a hand-written [`Deserialize`] for [`RolloutLineWire`]: the `type` key comes
//! before `payload` in every line Codex writes, so the payload is decoded straight into its
//! variant; if `payload` ever comes first it is buffered once as a `serde_json::Value`.

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// Hook stdin
// ---------------------------------------------------------------------------------------------

/// Codex `permission_mode` (`session-start.command.input` schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PermissionModeWire {
    /// `default`.
    Default,
    /// `acceptEdits`.
    AcceptEdits,
    /// `plan`.
    Plan,
    /// `dontAsk`.
    DontAsk,
    /// `bypassPermissions` (what `codex exec` sends).
    BypassPermissions,
    /// A mode this build does not know.
    #[serde(other)]
    Unknown,
}

/// `SessionStart` stdin: `{session_id, transcript_path, cwd, hook_event_name, model,
/// permission_mode, source}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SessionStartInputWire {
    /// Thread id (UUIDv7).
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub session_id: Option<String>,
    /// Absolute rollout path; nullable in the schema.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub transcript_path: Option<PathBuf>,
    /// Session working directory.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub cwd: Option<PathBuf>,
    /// Always `SessionStart`.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub hook_event_name: String,
    /// Model slug.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub model: Option<String>,
    /// Approval mode.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub permission_mode: Option<PermissionModeWire>,
    /// `startup`, `resume`, `clear`, `compact` or `fork`.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub source: Option<String>,
}

/// `UserPromptSubmit` stdin: the common fields plus `turn_id` and `prompt`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct UserPromptSubmitInputWire {
    /// Thread id.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub session_id: Option<String>,
    /// Turn id (Codex extension).
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub turn_id: Option<String>,
    /// Absolute rollout path.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub transcript_path: Option<PathBuf>,
    /// Session working directory.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub cwd: Option<PathBuf>,
    /// Always `UserPromptSubmit`.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub hook_event_name: String,
    /// Model slug.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub model: Option<String>,
    /// Approval mode.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub permission_mode: Option<PermissionModeWire>,
    /// The prompt the user submitted.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub prompt: Option<String>,
}

/// `Stop` stdin: the common fields plus `turn_id`, `stop_hook_active`, `last_assistant_message`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct StopInputWire {
    /// Thread id.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub session_id: Option<String>,
    /// Turn id (Codex extension).
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub turn_id: Option<String>,
    /// Absolute rollout path.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub transcript_path: Option<PathBuf>,
    /// Session working directory.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub cwd: Option<PathBuf>,
    /// Always `Stop`.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub hook_event_name: String,
    /// Model slug.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub model: Option<String>,
    /// Approval mode.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub permission_mode: Option<PermissionModeWire>,
    /// True when Stop re-fires after a previous Stop hook blocked. Codex has no loop cap.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub stop_hook_active: bool,
    /// The agent's final message; nullable.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub last_assistant_message: Option<String>,
}

/// Fields shared by every other event (`PreToolUse`, `SessionEnd`, `PreCompact`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct HookInputWire {
    /// Thread id.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub session_id: Option<String>,
    /// Turn id, on turn-scoped events.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub turn_id: Option<String>,
    /// Absolute rollout path.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub transcript_path: Option<PathBuf>,
    /// Session working directory.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub cwd: Option<PathBuf>,
    /// The event name.
    #[serde(default, deserialize_with = "crate::host::lenient")]
    pub hook_event_name: String,
    /// Model slug, on most events.
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
    /// Must match the event the hook runs for.
    pub hook_event_name: HookEventNameWire,
    /// Text Codex inserts as a `developer` message (truncated past 2,500 tokens by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_context: Option<String>,
}

/// `SessionStart` stdout (`session-start.command.output`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionStartOutputWire {
    /// Event-specific output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_specific_output: Option<HookSpecificOutputWire>,
}

/// `UserPromptSubmit` stdout (`user-prompt-submit.command.output`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPromptSubmitOutputWire {
    /// Event-specific output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_specific_output: Option<HookSpecificOutputWire>,
}

/// The only `decision` Codex accepts (`BlockDecisionWire`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockDecisionWire {
    /// `block`: for Stop, continue the session with `reason` as a new user turn.
    Block,
}

/// `Stop` stdout (`stop.command.output`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StopOutputWire {
    /// `block` keeps the agent going; Codex rejects `reason` without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<BlockDecisionWire>,
    /// Continuation prompt, sent as `<hook_prompt …>reason</hook_prompt>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Rollout lines
// ---------------------------------------------------------------------------------------------

/// One rollout line: the envelope's timestamp plus its typed item.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutLineWire {
    /// RFC 3339 UTC time the line was written.
    pub timestamp: Option<String>,
    /// The record.
    pub item: RolloutItemWire,
}

/// A rollout record, by envelope `type` (codex-rs `RolloutItem`).
#[derive(Debug, Clone, PartialEq)]
pub enum RolloutItemWire {
    /// First line: thread identity and environment.
    SessionMeta(SessionMetaWire),
    /// Per-turn settings.
    TurnContext(TurnContextWire),
    /// Snapshot of the world state (AGENTS.md, environments); only `full` is kept.
    WorldState(WorldStateWire),
    /// Model-visible history item.
    ResponseItem(ResponseItemWire),
    /// UI/event stream record.
    EventMsg(EventMsgWire),
    /// Token usage of one model response.
    TokenUsageRecord(TokenUsageRecordWire),
    /// History was compacted.
    Compacted(CompactedWire),
    /// A type this build does not model, by name; its payload is skipped.
    Unknown(String),
    /// A line of a rollout written before the envelope (Codex CLI until mid-2025), whose first
    /// line is a header with no `type`; see [`LegacyLineWire`].
    Legacy(LegacyLineWire),
}

/// A line of a rollout written before the `{timestamp, type, payload}` envelope.
///
/// Such a rollout starts with a header, `{"id", "timestamp", "instructions", "git"}`, and goes
/// on with `{"record_type": "state"}` markers and bare response items (`{"type": "message",
/// "role", "content"}`, `{"type": "function_call", …}`) that carry no timestamp of their own.
#[derive(Debug, Clone, PartialEq)]
pub enum LegacyLineWire {
    /// The header: the session id, and the start time as the line's timestamp.
    Header {
        /// The session's id.
        id: String,
    },
    /// A `record_type` marker (`state`): nothing to archive.
    Marker,
    /// A bare record with this `type` and no payload; a response item to read from the whole
    /// line.
    Bare(String),
}

/// `session_meta` payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SessionMetaWire {
    /// Thread id.
    #[serde(default)]
    pub id: Option<String>,
    /// Session id (equal to `id` in 0.169).
    #[serde(default)]
    pub session_id: Option<String>,
    /// When the thread was created.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Working directory.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Client that started the thread (`codex_exec`, `codex_cli_rs`, …).
    #[serde(default)]
    pub originator: Option<String>,
    /// codex-cli version.
    #[serde(default)]
    pub cli_version: Option<String>,
    /// Provider id from config.
    #[serde(default)]
    pub model_provider: Option<String>,
}

/// `turn_context` payload (only the fields csep uses).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TurnContextWire {
    /// Turn id.
    #[serde(default)]
    pub turn_id: Option<String>,
    /// Working directory of the turn.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Model slug of the turn.
    #[serde(default)]
    pub model: Option<String>,
}

/// `world_state` payload; the state itself is not modelled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct WorldStateWire {
    /// Whether this is a full snapshot rather than a delta.
    #[serde(default)]
    pub full: bool,
}

/// Metadata Codex attaches to history items.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PassthroughWire {
    /// Turn the item belongs to.
    #[serde(default)]
    pub turn_id: Option<String>,
    /// One kind per content item: `user.text`, `hooks.additional_context`,
    /// `environments.environment_context`, `host_skills.instructions`,
    /// `permissions.instructions`, `unknown`.
    #[serde(default)]
    pub content_item_kinds: Vec<String>,
    /// One entry per content item, with its provenance.
    #[serde(default)]
    pub content_item_metadata: Vec<ContentItemMetadataWire>,
}

/// Per-content-item metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ContentItemMetadataWire {
    /// Who produced the item.
    #[serde(default)]
    pub provenance: Option<ProvenanceWire>,
}

/// Provenance of a content item: `{"type":"user"}`, `{"type":"skills"}`,
/// `{"type":"harness","hook":true}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ProvenanceWire {
    /// `user`, `skills`, `harness`, …
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Whether a hook produced it.
    #[serde(default)]
    pub hook: bool,
}

/// A content item of a `message`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentItemWire {
    /// Text sent to the model.
    InputText {
        /// The text.
        #[serde(default)]
        text: String,
    },
    /// Text the model wrote.
    OutputText {
        /// The text.
        #[serde(default)]
        text: String,
    },
    /// An image or other item csep does not archive.
    #[serde(other)]
    Unknown,
}

/// A tool output: a string, a list of content items, or `{content, success}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum FunctionOutputWire {
    /// Plain text (what 0.169 writes).
    Text(String),
    /// Content items.
    Items(Vec<ContentItemWire>),
    /// Structured output.
    Structured {
        /// Text body.
        #[serde(default)]
        content: Option<String>,
        /// Whether the call succeeded.
        #[serde(default)]
        success: Option<bool>,
    },
}

impl FunctionOutputWire {
    /// The output's text, items joined by newlines.
    pub fn into_text(self) -> String {
        match self {
            FunctionOutputWire::Text(text) => text,
            FunctionOutputWire::Items(items) => join_items(items),
            FunctionOutputWire::Structured { content, .. } => content.unwrap_or_default(),
        }
    }
}

fn join_items(items: Vec<ContentItemWire>) -> String {
    let mut out = String::new();
    for item in items {
        if let ContentItemWire::InputText { text } | ContentItemWire::OutputText { text } = item {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&text);
        }
    }
    out
}

/// A reasoning summary or content part (`summary_text`, `reasoning_text`, `text`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ReasoningPartWire {
    /// The text, if not encrypted.
    #[serde(default)]
    pub text: String,
}

/// A `response_item` payload (codex-rs `ResponseItem`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseItemWire {
    /// A message with `role` `user`, `assistant`, `developer` or `system`.
    Message {
        /// The role.
        #[serde(default)]
        role: String,
        /// Content items.
        #[serde(default)]
        content: Vec<ContentItemWire>,
        /// Turn id and provenance.
        #[serde(default)]
        internal_chat_message_metadata_passthrough: Option<PassthroughWire>,
    },
    /// A function tool call (`exec_command`, …).
    FunctionCall {
        /// Tool name.
        #[serde(default)]
        name: String,
        /// Arguments as a JSON string.
        #[serde(default)]
        arguments: String,
        /// Call id that links the output.
        #[serde(default)]
        call_id: Option<String>,
        /// Turn id.
        #[serde(default)]
        internal_chat_message_metadata_passthrough: Option<PassthroughWire>,
    },
    /// Output of a function call.
    FunctionCallOutput {
        /// Call id.
        #[serde(default)]
        call_id: Option<String>,
        /// The output.
        output: FunctionOutputWire,
        /// Turn id.
        #[serde(default)]
        internal_chat_message_metadata_passthrough: Option<PassthroughWire>,
    },
    /// A freeform tool call (`apply_patch`, …).
    CustomToolCall {
        /// Tool name.
        #[serde(default)]
        name: String,
        /// Raw input.
        #[serde(default)]
        input: String,
        /// Call id.
        #[serde(default)]
        call_id: Option<String>,
        /// Turn id.
        #[serde(default)]
        internal_chat_message_metadata_passthrough: Option<PassthroughWire>,
    },
    /// Output of a freeform tool call.
    CustomToolCallOutput {
        /// Call id.
        #[serde(default)]
        call_id: Option<String>,
        /// The output.
        output: FunctionOutputWire,
        /// Turn id.
        #[serde(default)]
        internal_chat_message_metadata_passthrough: Option<PassthroughWire>,
    },
    /// Model reasoning; the summary is plain text, the content may be encrypted.
    Reasoning {
        /// Summary parts.
        #[serde(default)]
        summary: Vec<ReasoningPartWire>,
        /// Raw reasoning parts, when not encrypted.
        #[serde(default)]
        content: Option<Vec<ReasoningPartWire>>,
        /// Turn id.
        #[serde(default)]
        internal_chat_message_metadata_passthrough: Option<PassthroughWire>,
    },
    /// Legacy local shell call.
    LocalShellCall {
        /// Call id.
        #[serde(default)]
        call_id: Option<String>,
        /// The action (`{"type":"exec","command":[…]}`).
        #[serde(default)]
        action: Option<serde_json::Value>,
        /// Turn id.
        #[serde(default)]
        internal_chat_message_metadata_passthrough: Option<PassthroughWire>,
    },
    /// A hosted web search.
    WebSearchCall {
        /// The action (`{"type":"search","query":…}`).
        #[serde(default)]
        action: Option<serde_json::Value>,
        /// Turn id.
        #[serde(default)]
        internal_chat_message_metadata_passthrough: Option<PassthroughWire>,
    },
    /// A variant csep does not model.
    #[serde(other)]
    Unknown,
}

/// An `event_msg` payload: only its kind is read.
///
/// Messages are taken from `response_item`s only: `item_completed` items and the legacy
/// `user_message`/`agent_message` events repeat them, and the other events carry no text the
/// archive keeps (client-protocols.md §1.6). So the payload's other fields are skipped
/// unread: an `item_completed` line of a 0.169 rollout (nearly half of its bytes) is scanned,
/// never buffered or copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct EventMsgWire {
    /// The payload's `type`.
    #[serde(rename = "type")]
    pub kind: EventMsgKind,
}

/// The `type` of an `event_msg` payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventMsgKind {
    /// A turn started.
    TaskStarted,
    /// A turn finished (`last_agent_message` repeats the agent's last answer).
    TaskComplete,
    /// Token accounting.
    TokenCount,
    /// Thread settings were applied.
    ThreadSettingsApplied,
    /// A thread item completed (`item` repeats a `response_item`, or marks a compaction or a
    /// Stop hook's continuation prompt, both also in the history).
    ItemCompleted,
    /// Legacy (pre-0.169) user message event.
    UserMessage,
    /// Legacy (pre-0.169) agent message event.
    AgentMessage,
    /// An event csep does not model.
    #[serde(other)]
    Unknown,
}

/// Token counts of one response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct TokenUsageWire {
    /// Input tokens.
    #[serde(default)]
    pub input_tokens: u64,
    /// Of which cached.
    #[serde(default)]
    pub cached_input_tokens: u64,
    /// Output tokens.
    #[serde(default)]
    pub output_tokens: u64,
    /// Of which reasoning.
    #[serde(default)]
    pub reasoning_output_tokens: u64,
    /// Total.
    #[serde(default)]
    pub total_tokens: u64,
}

/// `token_usage_record` payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TokenUsageRecordWire {
    /// Turn id.
    #[serde(default)]
    pub turn_id: Option<String>,
    /// Provider response id.
    #[serde(default)]
    pub response_id: Option<String>,
    /// Usage of this response.
    #[serde(default)]
    pub usage: Option<TokenUsageWire>,
}

/// `compacted` payload; `replacement_history` repeats earlier items and is skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CompactedWire {
    /// The summary prompt plus the summary the model wrote.
    #[serde(default)]
    pub message: String,
    /// New context window id.
    #[serde(default)]
    pub window_id: Option<String>,
}

/// Envelope keys of a rollout line.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum EnvelopeField {
    Timestamp,
    Type,
    Payload,
    /// A legacy header's session id ([`LegacyLineWire`]).
    Id,
    /// A legacy marker's kind ([`LegacyLineWire`]).
    RecordType,
    #[serde(other)]
    Other,
}

/// Decodes a payload given the envelope `type` that precedes it.
struct PayloadSeed<'t>(&'t str);

impl<'de> DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = RolloutItemWire;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Ok(match self.0 {
            "session_meta" => RolloutItemWire::SessionMeta(Deserialize::deserialize(d)?),
            "turn_context" => RolloutItemWire::TurnContext(Deserialize::deserialize(d)?),
            "world_state" => RolloutItemWire::WorldState(Deserialize::deserialize(d)?),
            "response_item" => RolloutItemWire::ResponseItem(Deserialize::deserialize(d)?),
            "event_msg" => RolloutItemWire::EventMsg(Deserialize::deserialize(d)?),
            "token_usage_record" => RolloutItemWire::TokenUsageRecord(Deserialize::deserialize(d)?),
            "compacted" => RolloutItemWire::Compacted(Deserialize::deserialize(d)?),
            other => {
                IgnoredAny::deserialize(d)?;
                RolloutItemWire::Unknown(other.to_owned())
            }
        })
    }
}

struct LineVisitor;

impl<'de> Visitor<'de> for LineVisitor {
    type Value = RolloutLineWire;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a rollout line {timestamp, type, payload}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut timestamp = None;
        let mut tag: Option<String> = None;
        let mut item = None;
        let mut early_payload: Option<serde_json::Value> = None;
        let mut id: Option<String> = None;
        let mut marker = false;
        while let Some(key) = map.next_key::<EnvelopeField>()? {
            match key {
                EnvelopeField::Timestamp => timestamp = map.next_value::<Option<String>>()?,
                EnvelopeField::Type => tag = Some(map.next_value::<String>()?),
                EnvelopeField::Payload => match tag.as_deref() {
                    Some(t) => item = Some(map.next_value_seed(PayloadSeed(t))?),
                    None => early_payload = Some(map.next_value()?),
                },
                // A bare legacy item may hold an `id` of another type (`null`, a number):
                // only a string is a header's.
                EnvelopeField::Id => {
                    id = match map.next_value::<serde_json::Value>()? {
                        serde_json::Value::String(s) => Some(s),
                        _ => None,
                    };
                }
                EnvelopeField::RecordType => {
                    map.next_value::<IgnoredAny>()?;
                    marker = true;
                }
                EnvelopeField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let item = match (tag, item, early_payload) {
            (_, Some(item), _) => item,
            (Some(tag), None, Some(value)) => PayloadSeed(&tag)
                .deserialize(value)
                .map_err(de::Error::custom)?,
            // A typed record without a payload: a bare item of a legacy rollout.
            (Some(tag), None, None) => RolloutItemWire::Legacy(LegacyLineWire::Bare(tag)),
            (None, None, None) if marker => RolloutItemWire::Legacy(LegacyLineWire::Marker),
            (None, None, None) => match id {
                Some(id) => RolloutItemWire::Legacy(LegacyLineWire::Header { id }),
                None => return Err(de::Error::missing_field("type")),
            },
            (None, _, Some(_)) => return Err(de::Error::missing_field("type")),
        };
        Ok(RolloutLineWire { timestamp, item })
    }
}

impl<'de> Deserialize<'de> for RolloutLineWire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(LineVisitor)
    }
}

/// Just the nested `payload.type` of a line, read again only for unknown nested variants.
#[derive(Deserialize)]
pub(crate) struct NestedTagWire<'a> {
    #[serde(default, borrow)]
    pub(crate) payload: Option<NestedTagPayloadWire<'a>>,
}

/// See [`NestedTagWire`].
#[derive(Deserialize)]
pub(crate) struct NestedTagPayloadWire<'a> {
    #[serde(default, borrow, rename = "type")]
    pub(crate) kind: Option<std::borrow::Cow<'a, str>>,
}
