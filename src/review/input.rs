//! What a review reads: a session delta, the current memory and the budgets ([`ReviewInput`]),
//! and how it is rendered into the provider payload ([`ReviewInput::render`]).
//!
//! The caller (the worker) builds the input; [`from_archive`] is a helper that reads the
//! delta from the `messages` table. Invariants of the rendered payload, whatever the caller
//! passed:
//! - only user, agent, tool-call and tool-output messages (injected text and reasoning never
//!   reach the reviewer, so it cannot learn csep's own memory back);
//! - every text redacted ([`crate::archive::redact`]);
//! - long texts cut in the middle (tool output keeps its head and tail, where errors and exit
//!   codes are), and when the whole delta is still over [`DEFAULT_MAX_INPUT_CHARS`] the oldest
//!   messages are dropped and counted in `omitted_messages`.

use std::collections::BTreeSet;

use rusqlite::params;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::archive::redact::redact;
use crate::memory::{Kind, Scope};
use crate::store::db::{Store, StoreError};

/// Most characters of one user or agent message sent to the reviewer.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// Most characters of one tool output sent to the reviewer (head and tail kept).
pub const MAX_TOOL_OUTPUT_CHARS: usize = 1200;
/// Most characters of one tool call's arguments.
pub const MAX_TOOL_ARGS_CHARS: usize = 600;
/// Most characters of all messages together; older messages are dropped past it.
pub const DEFAULT_MAX_INPUT_CHARS: usize = 60_000;

/// Who produced a message the reviewer sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageRole {
    /// Typed by the user.
    User,
    /// The agent's visible text.
    Agent,
    /// A tool call (its command or arguments).
    ToolCall,
    /// A tool's output.
    ToolOutput,
}

impl MessageRole {
    /// Maps an archive origin (`user`, `agent`, `tool_call`, `tool_output`); `None` for injected
    /// text and reasoning, which the reviewer never sees.
    pub fn from_origin(origin: &str) -> Option<MessageRole> {
        match origin {
            "user" => Some(MessageRole::User),
            "agent" => Some(MessageRole::Agent),
            "tool_call" => Some(MessageRole::ToolCall),
            "tool_output" => Some(MessageRole::ToolOutput),
            _ => None,
        }
    }
}

/// One message of the session delta.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewMessage {
    /// Archive message id (evidence refers to it).
    pub id: i64,
    /// Who produced it.
    pub role: MessageRole,
    /// The text: prompt, answer, command line or tool output.
    pub text: String,
    /// Tool name, for tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// Exit code, for tool outputs when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

impl ReviewMessage {
    /// A message with no tool fields.
    pub fn new(id: i64, role: MessageRole, text: impl Into<String>) -> Self {
        Self {
            id,
            role,
            text: text.into(),
            tool_name: None,
            exit_code: None,
        }
    }
}

/// The session under review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// `codex` or `claude`.
    pub host: String,
    /// Host session id.
    pub session_id: String,
    /// csep project id, when the session belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Project display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_name: Option<String>,
}

/// An existing memory entry the reviewer may replace or remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryRef {
    /// Entry id.
    pub id: String,
    /// Its scope.
    pub scope: Scope,
    /// Its kind.
    pub kind: Kind,
    /// Its one-line summary.
    pub summary: String,
}

/// Budgets the reviewer should respect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewBudgets {
    /// Most operations one review may propose; extra ones are dropped.
    pub max_operations: u32,
    /// Cap of user memory, in characters.
    pub user_memory_chars: u32,
    /// Characters of user memory in use.
    pub user_memory_used: u32,
    /// Cap of project memory, in characters.
    pub project_memory_chars: u32,
    /// Characters of project memory in use.
    pub project_memory_used: u32,
}

impl Default for ReviewBudgets {
    fn default() -> Self {
        Self {
            max_operations: 8,
            user_memory_chars: 4000,
            user_memory_used: 0,
            project_memory_chars: 6000,
            project_memory_used: 0,
        }
    }
}

/// Everything one review reads. Built by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewInput {
    /// The session.
    pub session: SessionInfo,
    /// The delta since the last review, oldest first.
    pub messages: Vec<ReviewMessage>,
    /// Current memory entries (user scope and this project).
    pub memory: Vec<MemoryRef>,
    /// Budgets.
    pub budgets: ReviewBudgets,
}

impl ReviewInput {
    /// Number of user messages in the delta.
    pub fn user_turns(&self) -> usize {
        self.messages
            .iter()
            .filter(|m| m.role == MessageRole::User)
            .count()
    }

    /// Ids of the existing memory entries.
    pub fn memory_ids(&self) -> BTreeSet<&str> {
        self.memory.iter().map(|m| m.id.as_str()).collect()
    }

    /// Ids of the messages in the delta, as strings (for evidence checks).
    pub fn message_ids(&self) -> BTreeSet<String> {
        self.messages.iter().map(|m| m.id.to_string()).collect()
    }

    /// The provider payload: pretty JSON, redacted and truncated (see the module docs).
    pub fn render(&self) -> String {
        self.render_within(DEFAULT_MAX_INPUT_CHARS)
    }

    /// [`ReviewInput::render`] with a custom total character budget for messages.
    pub fn render_within(&self, max_chars: usize) -> String {
        let mut rendered: Vec<Value> = Vec::new();
        let mut used = 0usize;
        let mut omitted = 0usize;
        for m in self.messages.iter().rev() {
            let limit = match m.role {
                MessageRole::User | MessageRole::Agent => MAX_MESSAGE_CHARS,
                MessageRole::ToolCall => MAX_TOOL_ARGS_CHARS,
                MessageRole::ToolOutput => MAX_TOOL_OUTPUT_CHARS,
            };
            let text = truncate_middle(&redact(&m.text), limit);
            let cost = text.chars().count() + 40;
            if used + cost > max_chars && !rendered.is_empty() {
                omitted += 1;
                continue;
            }
            used += cost;
            let mut v = json!({"id": m.id, "role": m.role, "text": text});
            if let Some(t) = &m.tool_name {
                v["tool"] = json!(t);
            }
            if let Some(code) = m.exit_code {
                v["exit_code"] = json!(code);
            }
            rendered.push(v);
        }
        rendered.reverse();
        let memory: Vec<Value> = self
            .memory
            .iter()
            .map(|e| json!({"id": e.id, "scope": e.scope, "kind": e.kind, "summary": redact(&e.summary)}))
            .collect();
        let payload = json!({
            "session": self.session,
            "budgets": self.budgets,
            "memory": memory,
            "omitted_messages": omitted,
            "messages": rendered,
        });
        serde_json::to_string_pretty(&payload).unwrap_or_default()
    }
}

/// Cuts `text` to at most `max` characters, keeping the head and the tail around a marker.
pub fn truncate_middle(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let keep = max.saturating_sub(30);
    let head = keep * 2 / 3;
    let tail = keep - head;
    let chars: Vec<char> = text.chars().collect();
    let omitted = count - head - tail;
    format!(
        "{}\n[… {omitted} chars omitted …]\n{}",
        chars[..head].iter().collect::<String>(),
        chars[count - tail..].iter().collect::<String>()
    )
}

/// The exit code a tool output reports: Codex writes `Process exited with code N`, Claude Code
/// starts a failed Bash result with `Exit code N`.
pub fn exit_code_of(text: &str) -> Option<i32> {
    for line in text.lines().take(8) {
        let line = line.trim();
        for prefix in [
            "Process exited with code ",
            "Exit code ",
            "Error: Exit code ",
        ] {
            if let Some(rest) = line.strip_prefix(prefix) {
                let digits: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '-')
                    .collect();
                if let Ok(code) = digits.parse() {
                    return Some(code);
                }
            }
        }
    }
    None
}

/// The command line of a shell tool call, from its JSON arguments (`cmd` of Codex
/// `exec_command`, `command` of Claude `Bash` or Codex `shell`, as a string or an argv).
pub fn command_of(tool_args: &str) -> Option<String> {
    let v: Value = serde_json::from_str(tool_args).ok()?;
    let c = v.get("cmd").or_else(|| v.get("command"))?;
    match c {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let parts: Vec<&str> = parts.iter().filter_map(Value::as_str).collect();
            // `["bash", "-lc", "cargo test"]` → `cargo test`.
            match parts.as_slice() {
                [shell, flag, script] if shell.ends_with("sh") && flag.starts_with('-') => {
                    Some((*script).to_owned())
                }
                _ => Some(parts.join(" ")),
            }
        }
        _ => None,
    }
}

/// Whether a tool is a shell (Codex `exec_command`/`shell`/`shell_command`, Claude `Bash`).
pub fn is_shell_tool(name: &str) -> bool {
    matches!(
        name,
        "exec_command" | "shell" | "shell_command" | "local_shell" | "Bash" | "bash"
    )
}

/// Reads the review delta of session `session_ref` from the archive: messages with an id greater
/// than `since_message_id` (all when `None`), oldest first, injected text and reasoning excluded.
///
/// Tool calls become their command line when they are shell calls; tool outputs get the exit
/// code they report. A Claude Code `Bash` result without an `Exit code` line is a success
/// (Claude marks failures that way and the archive does not keep `is_error`).
pub fn from_archive(
    store: &Store,
    session_ref: i64,
    since_message_id: Option<i64>,
) -> Result<Vec<ReviewMessage>, StoreError> {
    let sql_err = |source| StoreError::Sqlite {
        path: store.path().to_path_buf(),
        source,
    };
    let mut stmt = store
        .conn()
        .prepare_cached(
            "SELECT id, origin, tool_name, tool_args, text FROM messages \
             WHERE session_ref = ?1 AND id > ?2 \
             AND origin IN ('user', 'agent', 'tool_call', 'tool_output') ORDER BY id",
        )
        .map_err(sql_err)?;
    let rows = stmt
        .query_map(params![session_ref, since_message_id.unwrap_or(0)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .map_err(sql_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql_err)?;
    let mut out: Vec<ReviewMessage> = Vec::with_capacity(rows.len());
    let mut last_tool: Option<String> = None;
    for (id, origin, tool_name, tool_args, text) in rows {
        let Some(role) = MessageRole::from_origin(&origin) else {
            continue;
        };
        let mut message = ReviewMessage::new(id, role, text);
        match role {
            MessageRole::ToolCall => {
                if let Some(name) = &tool_name
                    && is_shell_tool(name)
                    && let Some(cmd) = tool_args.as_deref().and_then(command_of)
                {
                    message.text = cmd;
                }
                message.tool_name.clone_from(&tool_name);
                last_tool = tool_name;
            }
            MessageRole::ToolOutput => {
                message.exit_code = exit_code_of(&message.text).or_else(|| {
                    let claude_bash = last_tool.as_deref() == Some("Bash");
                    let failed = message.text.trim_start().starts_with("Error")
                        || message.text.contains("timed out");
                    (claude_bash && !failed).then_some(0)
                });
                message.tool_name = last_tool.take();
            }
            MessageRole::User | MessageRole::Agent => {}
        }
        out.push(message);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_read_from_codex_and_claude_outputs() {
        let codex = "Chunk ID: f247b7\nWall time: 0.0000 seconds\nProcess exited with code 0\nOutput:\nok\n";
        assert_eq!(exit_code_of(codex), Some(0));
        assert_eq!(exit_code_of("Exit code 101\nerror[E0425]"), Some(101));
        assert_eq!(exit_code_of("tool-ran"), None);
    }

    #[test]
    fn commands_are_read_from_codex_and_claude_arguments() {
        assert_eq!(
            command_of(r#"{"cmd":"cargo test"}"#).as_deref(),
            Some("cargo test")
        );
        assert_eq!(
            command_of(r#"{"command":"npm run lint","description":"lint"}"#).as_deref(),
            Some("npm run lint")
        );
        assert_eq!(
            command_of(r#"{"command":["bash","-lc","make check"]}"#).as_deref(),
            Some("make check")
        );
        assert_eq!(command_of("not json"), None);
    }

    #[test]
    fn long_texts_are_cut_in_the_middle() {
        let text = format!("HEAD{}TAIL", "x".repeat(5000));
        let cut = truncate_middle(&text, 200);
        assert!(cut.chars().count() <= 240);
        assert!(cut.starts_with("HEAD") && cut.ends_with("TAIL"));
        assert!(cut.contains("chars omitted"));
    }

    #[test]
    fn render_redacts_truncates_and_drops_the_oldest_messages_over_budget() {
        let secret = "ghp_1234567890abcdefghijklmnopqrstuvwxyzAB";
        let mut input = ReviewInput::default();
        for i in 0..50 {
            input
                .messages
                .push(ReviewMessage::new(i, MessageRole::Agent, "y".repeat(500)));
        }
        input.messages.push(ReviewMessage::new(
            99,
            MessageRole::User,
            format!("token {secret}"),
        ));
        let out = input.render_within(5000);
        assert!(!out.contains(secret));
        let v: Value = serde_json::from_str(&out).unwrap();
        let messages = v["messages"].as_array().unwrap();
        assert_eq!(
            messages.last().unwrap()["id"],
            99,
            "the newest message is kept"
        );
        assert!(v["omitted_messages"].as_u64().unwrap() > 0);
        assert!(messages.len() < 51);
    }

    #[test]
    fn from_archive_skips_injected_text_and_reads_tool_results() {
        let store = Store::open_in_memory().unwrap();
        let conn = store.conn();
        conn.execute(
            "INSERT INTO sessions (id, host, session_id, created_at, updated_at) \
             VALUES (1, 'claude', 's', 't', 't')",
            [],
        )
        .unwrap();
        type Row<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>, &'a str);
        let rows: [Row<'_>; 6] = [
            ("user", "injected:agents_md", None, None, "# AGENTS.md"),
            ("user", "user", None, None, "run the tests"),
            ("assistant", "reasoning", None, None, "thinking"),
            (
                "assistant",
                "tool_call",
                Some("Bash"),
                Some(r#"{"command":"cargo test"}"#),
                "{}",
            ),
            ("tool", "tool_output", None, None, "test result: ok"),
            ("assistant", "agent", None, None, "All green."),
        ];
        for (i, (role, origin, tool, args, text)) in rows.iter().enumerate() {
            conn.execute(
                "INSERT INTO messages (session_ref, byte_offset, seq, role, origin, tool_name, \
                 tool_args, text) VALUES (1, ?1, 0, ?2, ?3, ?4, ?5, ?6)",
                params![i as i64, role, origin, tool, args, text],
            )
            .unwrap();
        }
        let messages = from_archive(&store, 1, None).unwrap();
        let roles: Vec<MessageRole> = messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                MessageRole::User,
                MessageRole::ToolCall,
                MessageRole::ToolOutput,
                MessageRole::Agent
            ]
        );
        assert_eq!(messages[1].text, "cargo test");
        assert_eq!(messages[2].exit_code, Some(0));
        assert_eq!(messages[2].tool_name.as_deref(), Some("Bash"));
        let since = from_archive(&store, 1, Some(messages[2].id)).unwrap();
        assert_eq!(since.len(), 1);
    }
}
