//! Host-neutral transcript and hook-event types shared by the Codex and Claude Code adapters.
//!
//! Two things live here:
//!
//! 1. **Transcripts.** Both hosts write JSONL, one record per line, appended while the agent runs.
//!    Each adapter turns its lines into [`TranscriptMessage`]s; this module owns the line loop
//!    (`for_each_line`) and the file reader ([`parse_file_from`]). Invariants:
//!    - a line's byte offset is its identity: `(byte_offset, seq)` is a stable natural key;
//!    - a trailing partial line (no `\n`, the agent is mid-write) is never consumed, so
//!      [`TranscriptChunk::next_offset`] stops right before it;
//!    - unknown record types are counted and skipped, malformed lines are counted with their
//!      offsets and skipped; neither is ever fatal.
//! 2. **Hook events.** [`parse_hook_event`] reads a hook's stdin, detects the host when no hint
//!    is given, and reduces the host's wire payload to a [`HookEvent`]. Malformed JSON is an
//!    error with line and column; valid JSON that is not a hook payload gives `Ok(None)`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Host, claude, codex};

/// Marker that opens every block of context csep injects into a session.
///
/// Injected text is wrapped as `<csep-context …>…</csep-context>` (`<csep-context
/// source="session-start">` by the SessionStart hook, `<csep-context kind="recall">` by
/// auto-recall) so that when the host echoes it back in its transcript the parsers can classify
/// it as [`InjectedKind::Csep`] and the reviewer never learns from csep's own output.
pub const CSEP_CONTEXT_MARKER: &str = "<csep-context";

/// Tag that closes every block of context csep injects (see [`CSEP_CONTEXT_MARKER`]).
pub const CSEP_CONTEXT_CLOSE: &str = "</csep-context>";

/// `text` with each terminal escape sequence replaced by a space: CSI (`ESC [`, parameter and
/// intermediate bytes, one final byte: a color's `ESC [ 31 m`), OSC (`ESC ]` up to BEL or
/// `ESC \`: a window title, a hyperlink) and any other escape with its intermediate bytes and
/// final byte.
/// Borrowed when `text` has no ESC (nearly always). Recall's analyzer indexes what it shows
/// ([`inert_context_text`]): neither holds an escape's letters; the redactor drops them
/// ([`escapes_replaced`] with nothing) before it looks for secrets.
pub(crate) fn without_escapes(text: &str) -> Cow<'_, str> {
    escapes_replaced(text, " ")
}

/// `text` with each terminal escape sequence (as [`without_escapes`] finds them) replaced by
/// `with`: a space to keep words apart, nothing to join what the colors cut
/// (`DB_ESC[1mPASSWORD`, for the redactor).
pub(crate) fn escapes_replaced<'t>(text: &'t str, with: &str) -> Cow<'t, str> {
    if memchr::memchr(0x1b, text.as_bytes()).is_none() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.next_if_eq(&'[').is_some() {
            while chars
                .next_if(|c| ('\u{20}'..='\u{3f}').contains(c))
                .is_some()
            {}
            chars.next();
        } else if chars.next_if_eq(&']').is_some() {
            // Up to BEL or `ESC \` on the same line, within 512 characters; without one, only
            // the `ESC ]` goes (a cut title must not take the rest of a tool's output with it).
            let mut ahead = chars.clone();
            let mut end = None;
            for n in 1..=512 {
                match ahead.next() {
                    Some('\u{7}') => {
                        end = Some(n);
                        break;
                    }
                    Some('\u{1b}') if ahead.next_if_eq(&'\\').is_some() => {
                        end = Some(n + 1);
                        break;
                    }
                    Some('\n') | None => break,
                    Some(_) => {}
                }
            }
            for _ in 0..end.unwrap_or(0) {
                chars.next();
            }
        } else {
            // Intermediate bytes, then the final one (`ESC ( B` selects a character set).
            while chars
                .next_if(|c| ('\u{20}'..='\u{2f}').contains(c))
                .is_some()
            {}
            chars.next();
        }
        out.push_str(with);
    }
    Cow::Owned(out)
}

/// `text` made safe to quote inside a block of csep context: terminal escape sequences
/// become a space (CSI, OSC and the other escapes), and so does every other
/// control character but the line break and the tab; bidirectional overrides and isolates
/// (U+202A–U+202E, U+2066–U+2069), which can make quoted text read in another order, are
/// dropped; and a `<csep-context` or `</csep-context` tag inside it is written `&lt;…`, so a
/// remembered note or an archived message can neither close the block it is quoted in nor open
/// another.
pub fn inert_context_text(text: &str) -> Cow<'_, str> {
    let text = without_escapes(text);
    let is_bidi = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    let unsafe_char = |c: char| (c.is_control() && !matches!(c, '\n' | '\t')) || is_bidi(c);
    let has_tag = memchr::memchr_iter(b'<', text.as_bytes()).any(|i| {
        let rest = &text.as_bytes()[i..];
        [b"<csep-context".as_slice(), b"</csep-context"]
            .iter()
            .any(|t| {
                rest.get(..t.len())
                    .is_some_and(|h| h.eq_ignore_ascii_case(t))
            })
    });
    if !has_tag && !text.chars().any(unsafe_char) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest: &str = &text;
    while let Some(c) = rest.chars().next() {
        let tag = ["<csep-context", "</csep-context"].iter().any(|t| {
            rest.get(..t.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(t))
        });
        if tag {
            out.push_str("&lt;");
        } else if !unsafe_char(c) {
            out.push(c);
        } else if !is_bidi(c) {
            out.push(' ');
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// How every Markdown answer of `csep recall` and of the MCP tool `recall` begins
/// (`crate::recall::render::render_markdown`), whatever its status.
pub const RECALL_MARKDOWN_HEADER: &str = "## Focused Recall\n\nStatus: ";

// ---------------------------------------------------------------------------------------------
// Transcript messages
// ---------------------------------------------------------------------------------------------

/// Who speaks a message, as the host's wire format labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A `user` message (typed prompts, but also host-injected user-role text).
    User,
    /// The model: text, tool calls and reasoning.
    Assistant,
    /// A tool's result fed back to the model.
    Tool,
    /// Developer/system-role text the host adds (Codex `developer`, Claude attachments).
    System,
}

impl Role {
    /// Stable lowercase name (`user`, `assistant`, `tool`, `system`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
            Role::System => "system",
        }
    }
}

/// Which kind of host- or tool-injected text a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InjectedKind {
    /// Project instructions: Codex `# AGENTS.md instructions …`, Claude `CLAUDE.md` reminders.
    AgentsMd,
    /// Codex `<environment_context>` (cwd, shell, date, sandbox).
    EnvironmentContext,
    /// Codex `<permissions instructions>` (sandbox and approval policy).
    Permissions,
    /// The list of available skills (Codex `<skills_instructions>`, Claude `skill_listing`).
    SkillListing,
    /// Context csep itself injected (wrapped in [`CSEP_CONTEXT_MARKER`]), or csep's recall
    /// answer as a tool's output.
    Csep,
    /// A Stop hook's continuation prompt (Codex `<hook_prompt …>`, Claude `Stop hook feedback:`).
    StopHookFeedback,
    /// Any other injected text: other hooks' context, compaction summaries, command caveats.
    Other,
}

/// Where the text of a message came from; the reviewer learns only from `User` and `Agent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Typed by the user.
    User,
    /// Written by the model as visible text.
    Agent,
    /// A tool call the model made.
    ToolCall,
    /// A tool's output.
    ToolOutput,
    /// The model's reasoning or thinking text.
    Reasoning,
    /// Text the host, a hook or csep put into the conversation.
    Injected(InjectedKind),
}

impl Origin {
    /// Stable name stored in the archive (`user`, `agent`, `tool_call`, `injected:agents_md`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::User => "user",
            Origin::Agent => "agent",
            Origin::ToolCall => "tool_call",
            Origin::ToolOutput => "tool_output",
            Origin::Reasoning => "reasoning",
            Origin::Injected(InjectedKind::AgentsMd) => "injected:agents_md",
            Origin::Injected(InjectedKind::EnvironmentContext) => "injected:environment_context",
            Origin::Injected(InjectedKind::Permissions) => "injected:permissions",
            Origin::Injected(InjectedKind::SkillListing) => "injected:skills",
            Origin::Injected(InjectedKind::Csep) => "injected:csep",
            Origin::Injected(InjectedKind::StopHookFeedback) => "injected:stop_hook",
            Origin::Injected(InjectedKind::Other) => "injected:other",
        }
    }

    /// Whether the text was injected rather than typed by the user or written by the agent.
    pub fn is_injected(self) -> bool {
        matches!(self, Origin::Injected(_))
    }
}

/// One message of a session, reduced from a host's transcript line.
///
/// A line may yield several messages (one per content block); `(byte_offset, seq)` identifies
/// each one and stays stable across re-reads of the same file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptMessage {
    /// Wire role of the message.
    pub role: Role,
    /// Where the text came from.
    pub origin: Origin,
    /// The text: message text, tool arguments summary or tool output.
    pub text: String,
    /// Tool name for tool calls (`exec_command`, `Bash`, …).
    pub tool_name: Option<String>,
    /// Tool arguments as the host recorded them (a JSON string for function calls).
    pub tool_args: Option<String>,
    /// Id that links a tool call to its output (`call_1`, `toolu_…`).
    pub tool_call_id: Option<String>,
    /// When the host wrote the line.
    pub timestamp: Option<jiff::Timestamp>,
    /// Turn the message belongs to: Codex `turn_id`, Claude `promptId` (user records only).
    pub turn_id: Option<String>,
    /// Byte offset of the start of the message's line in the transcript file.
    pub byte_offset: u64,
    /// Index of the message within its line.
    pub seq: u32,
}

/// Session-level facts seen while parsing a chunk; fields stay `None` until a line reveals them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionMeta {
    /// Host session id (Codex thread id, Claude `sessionId`).
    pub id: Option<String>,
    /// Working directory of the session.
    pub cwd: Option<PathBuf>,
    /// Model name, the most recent one seen.
    pub model: Option<String>,
    /// Version of the host CLI that wrote the transcript.
    pub cli_version: Option<String>,
    /// When the session started (Codex `session_meta`, Claude: first line of the file).
    pub started_at: Option<jiff::Timestamp>,
}

/// The result of parsing a run of complete lines from a transcript.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TranscriptChunk {
    /// Session facts seen in this chunk.
    pub session: SessionMeta,
    /// Messages in file order.
    pub messages: Vec<TranscriptMessage>,
    /// Absolute offset to resume from: just past the last complete line consumed.
    pub next_offset: u64,
    /// Record types (`"foo"`, or `"response_item:foo"` for nested ones) seen but not modelled.
    pub unknown_types: BTreeMap<String, u64>,
    /// Number of complete lines that were not valid records, even once repaired.
    pub malformed_lines: u64,
    /// Absolute byte offsets of those malformed lines.
    pub malformed_offsets: Vec<u64>,
    /// Number of lines read only once repaired (invalid UTF-8 or a lone UTF-16 surrogate
    /// escape replaced by U+FFFD).
    pub repaired_lines: u64,
    /// Number of complete, non-blank lines read.
    pub lines_read: u64,
    /// Call ids of the calls of csep's recall tool seen so far ([`is_csep_recall_tool`]): their
    /// outputs are csep's own text.
    pub(crate) csep_recall_calls: std::collections::BTreeSet<String>,
}

impl TranscriptChunk {
    /// Remembers the call `call_id` of tool `name`, when it is csep's recall.
    pub(crate) fn note_tool_call(&mut self, name: &str, call_id: Option<&str>) {
        if let Some(id) = call_id.filter(|_| is_csep_recall_tool(name)) {
            self.csep_recall_calls.insert(id.to_owned());
        }
    }

    /// The origin of a tool's output `text` answering call `call_id`: csep's own text when it
    /// answers a call of csep's recall or reads as recall's answer, else [`Origin::ToolOutput`].
    pub(crate) fn tool_output_origin(&self, call_id: Option<&str>, text: &str) -> Origin {
        let is_recall_call = call_id.is_some_and(|id| self.csep_recall_calls.contains(id));
        if is_recall_call || is_csep_recall_output(text) {
            Origin::Injected(InjectedKind::Csep)
        } else {
            Origin::ToolOutput
        }
    }

    /// Counts one record of a type the parser does not model.
    pub(crate) fn count_unknown(&mut self, name: &str) {
        match self.unknown_types.get_mut(name) {
            Some(n) => *n += 1,
            None => {
                self.unknown_types.insert(name.to_owned(), 1);
            }
        }
    }
}

/// Errors from reading a transcript file.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    /// The saved offset lies past the end of the file: it was truncated or replaced. The caller
    /// should restart from offset 0.
    #[error(
        "transcript {path} is {len} bytes but the saved offset is {offset}; it was truncated or \
         rotated, restart from offset 0"
    )]
    OffsetBeyondEnd {
        /// The transcript file.
        path: PathBuf,
        /// The offset that was asked for.
        offset: u64,
        /// The file's current length.
        len: u64,
    },
    /// The file could not be opened or read.
    #[error("could not read transcript {path}: {source}")]
    Io {
        /// The transcript file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Parses the complete lines of `path` from byte `offset` on, with the parser of `host`.
///
/// Seeks to `offset` and reads only what follows; bytes before it are never read again. An offset
/// past the end of the file gives [`TranscriptError::OffsetBeyondEnd`].
pub fn parse_file_from(
    path: &Path,
    offset: u64,
    host: Host,
) -> Result<TranscriptChunk, TranscriptError> {
    let io_err = |source| TranscriptError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    if offset > len {
        return Err(TranscriptError::OffsetBeyondEnd {
            path: path.to_owned(),
            offset,
            len,
        });
    }
    file.seek(SeekFrom::Start(offset)).map_err(io_err)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len - offset).unwrap_or(0));
    file.read_to_end(&mut bytes).map_err(io_err)?;
    Ok(parse_chunk(host, &bytes, offset))
}

/// Parses `bytes`, which start at absolute offset `base_offset` of a transcript of `host`.
pub fn parse_chunk(host: Host, bytes: &[u8], base_offset: u64) -> TranscriptChunk {
    match host {
        Host::Codex => codex::transcript::parse_chunk(bytes, base_offset),
        Host::Claude => claude::transcript::parse_chunk(bytes, base_offset),
    }
}

/// Parses a transcript a block at a time, for readers that must not hold a whole file.
///
/// Feeding the complete lines of a file in order, in blocks of any size, yields the same
/// messages, session facts and counters as one [`parse_chunk`] call over the same bytes: the
/// host parsers keep their state in the [`TranscriptChunk`] this parser carries between blocks.
#[derive(Debug)]
pub struct ChunkParser {
    host: Host,
    start_offset: u64,
    chunk: TranscriptChunk,
}

impl ChunkParser {
    /// A parser for the bytes of a `host` transcript starting at absolute `start_offset`.
    pub fn new(host: Host, start_offset: u64) -> Self {
        ChunkParser {
            host,
            start_offset,
            chunk: TranscriptChunk {
                next_offset: start_offset,
                ..TranscriptChunk::default()
            },
        }
    }

    /// Parses the complete lines of `bytes`, which start at absolute offset
    /// [`ChunkParser::next_offset`]; returns how many bytes were consumed (up to and including
    /// the last `\n`). The caller keeps the rest and feeds it again with more bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> usize {
        let base = self.chunk.next_offset;
        match self.host {
            Host::Codex => codex::transcript::parse_into(bytes, base, &mut self.chunk),
            Host::Claude => {
                let file_start = self.start_offset == 0;
                claude::transcript::parse_into(bytes, base, file_start, &mut self.chunk);
            }
        }
        usize::try_from(self.chunk.next_offset - base).unwrap_or(bytes.len())
    }

    /// Absolute offset just past the last complete line fed.
    pub fn next_offset(&self) -> u64 {
        self.chunk.next_offset
    }

    /// Session facts seen so far.
    pub fn session(&self) -> &SessionMeta {
        &self.chunk.session
    }

    /// Takes the messages parsed since the last call, in file order.
    pub fn take_messages(&mut self) -> Vec<TranscriptMessage> {
        std::mem::take(&mut self.chunk.messages)
    }

    /// Ends parsing: the chunk with its session facts and counters, and the messages not taken.
    pub fn finish(self) -> TranscriptChunk {
        self.chunk
    }
}

/// Runs `parse` on every complete, non-blank line of `bytes` and fills in the bookkeeping.
///
/// `parse` gets the line (without `\n` or `\r`), its absolute offset and the chunk; it returns
/// `false` for a malformed line, which is then counted. The trailing partial line is skipped and
/// `next_offset` points at its start.
pub(crate) fn for_each_line(
    bytes: &[u8],
    base_offset: u64,
    parse: impl FnMut(&[u8], u64, &mut TranscriptChunk) -> bool,
) -> TranscriptChunk {
    let mut chunk = TranscriptChunk {
        next_offset: base_offset,
        ..TranscriptChunk::default()
    };
    for_each_line_into(bytes, base_offset, &mut chunk, parse);
    chunk
}

/// [`for_each_line`] continuing an existing chunk: its session facts and counters carry on,
/// so feeding a file block by block gives exactly what one call on the whole file gives.
pub(crate) fn for_each_line_into(
    bytes: &[u8],
    base_offset: u64,
    chunk: &mut TranscriptChunk,
    mut parse: impl FnMut(&[u8], u64, &mut TranscriptChunk) -> bool,
) {
    let mut start = 0usize;
    while let Some(rel_end) = memchr::memchr(b'\n', &bytes[start..]) {
        let end = start + rel_end;
        let offset = base_offset + start as u64;
        let mut line = &bytes[start..end];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        start = end + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        chunk.lines_read += 1;
        if parse(line, offset, chunk) {
            continue;
        }
        // A failed parse leaves the chunk as it was: the repaired line is read afresh.
        if repair_line(line).is_some_and(|fixed| parse(&fixed, offset, chunk)) {
            chunk.repaired_lines += 1;
        } else {
            chunk.malformed_lines += 1;
            chunk.malformed_offsets.push(offset);
        }
    }
    chunk.next_offset = base_offset + start as u64;
}

/// A line that failed to parse, with what strict JSON refuses but a host can write replaced by
/// U+FFFD: bytes that are not UTF-8 (a tool's output in Latin-1), and `\uD800`–`\uDFFF`
/// escapes that are not a surrogate pair (Node's `JSON.stringify` writes one for a string cut in
/// the middle of an emoji). `None` when there is nothing to replace.
pub(crate) fn repair_line(line: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(line);
    let mut out = String::with_capacity(text.len());
    let mut changed = matches!(text, std::borrow::Cow::Owned(_));
    let mut rest: &str = &text;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let unit = |s: &str| {
            s.strip_prefix("\\u")
                .and_then(|hex| hex.get(..4))
                .and_then(|hex| u16::from_str_radix(hex, 16).ok())
        };
        match unit(rest) {
            Some(0xD800..=0xDBFF) => {
                if unit(&rest[6..]).is_some_and(|low| (0xDC00..=0xDFFF).contains(&low)) {
                    out.push_str(&rest[..12]);
                    rest = &rest[12..];
                } else {
                    out.push_str("\\ufffd");
                    rest = &rest[6..];
                    changed = true;
                }
            }
            Some(0xDC00..=0xDFFF) => {
                out.push_str("\\ufffd");
                rest = &rest[6..];
                changed = true;
            }
            // Any other escape is copied whole, so `\\` never starts one.
            _ => {
                let len = rest[1..].chars().next().map_or(1, |c| 1 + c.len_utf8());
                out.push_str(&rest[..len]);
                rest = &rest[len..];
            }
        }
    }
    out.push_str(rest);
    changed.then(|| out.into_bytes())
}

/// Parses an RFC 3339 timestamp as both hosts write it (`2026-11-25T21:59:14.842Z`).
pub(crate) fn parse_timestamp(s: Option<&str>) -> Option<jiff::Timestamp> {
    s.and_then(|s| s.parse().ok())
}

/// Whether `text` is context csep injected itself: the whole text, blanks around it aside, is
/// one `<csep-context …>…</csep-context>` envelope, exactly as csep writes it (see
/// [`CSEP_CONTEXT_MARKER`]). User prose that mentions the tag, or a heading such as
/// `# csep rollout plan`, is not.
pub fn is_csep_text(text: &str) -> bool {
    let text = text.trim();
    let Some(rest) = text.strip_prefix(CSEP_CONTEXT_MARKER) else {
        return false;
    };
    rest.starts_with(|c: char| c == '>' || c.is_ascii_whitespace())
        && text.ends_with(CSEP_CONTEXT_CLOSE)
}

/// Whether tool `name` is csep's own `recall`: the MCP tool `recall` of the server `csep`
/// ([`crate::host::mcp::SERVER_NAME`]) as the hosts name it to the model (`mcp__csep__recall`
/// in Claude Code and Codex, `csep__recall` in older Codex, `csep.recall` in Codex's MCP
/// events).
pub fn is_csep_recall_tool(name: &str) -> bool {
    matches!(name, "mcp__csep__recall" | "csep__recall" | "csep.recall")
}

/// Whether a tool's output is an answer of csep's recall, which is archived text already: the
/// Markdown `csep recall` prints (the MCP tool's answer too), or its `--json` output, from the
/// output's start, after the header Codex's exec tools put before a command's output
/// (`Chunk ID: …` … `Output:`). Recalled again, it would crowd out the sessions it quotes.
pub fn is_csep_recall_output(text: &str) -> bool {
    const OUTPUT_LINE: &str = "\nOutput:\n";
    let text = text.trim_start();
    let head = &text.as_bytes()[..text.len().min(MAX_EXEC_HEADER_BYTES + OUTPUT_LINE.len())];
    let body = match memchr::memmem::find(head, OUTPUT_LINE.as_bytes()) {
        // An ASCII line: the bytes after it start a character.
        Some(i) => text[i + OUTPUT_LINE.len()..].trim_start(),
        None => text,
    };
    body.starts_with(RECALL_MARKDOWN_HEADER)
        || (body.starts_with('{')
            && ["\"focused_recall\":", "\"triggered\":", "\"reasons\":"]
                .iter()
                .all(|key| body.contains(key)))
}

/// Longest header Codex's exec tools put before a command's output (`Chunk ID`, `Wall time`,
/// exit code, token count: about 100 bytes; 400 leaves room for other fields).
const MAX_EXEC_HEADER_BYTES: usize = 400;

/// Peek at the shape of a transcript line without modelling it.
#[derive(Deserialize)]
struct LineShapeWire<'a> {
    #[serde(default, borrow, rename = "type")]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    payload: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "sessionId")]
    session_id: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    uuid: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "leafUuid")]
    leaf_uuid: Option<serde::de::IgnoredAny>,
}

/// Detects which host wrote a transcript from one of its lines (normally the first).
///
/// Rule: a Codex rollout line is an envelope `{"timestamp", "type", "payload"}`, so a line with
/// both `type` and `payload` is Codex. Claude Code lines are flat records that carry `sessionId`,
/// `uuid` or `leafUuid` (every record type in the samples has one of them). Anything else,
/// including invalid JSON, gives `None`.
pub fn detect_transcript_host(first_line: &str) -> Option<Host> {
    let shape: LineShapeWire<'_> = serde_json::from_str(first_line.trim()).ok()?;
    if shape.kind.is_some() && shape.payload.is_some() {
        Some(Host::Codex)
    } else if shape.session_id.is_some() || shape.uuid.is_some() || shape.leaf_uuid.is_some() {
        Some(Host::Claude)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Hook events
// ---------------------------------------------------------------------------------------------

/// The hook event a payload belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HookKind {
    /// `SessionStart`: a session starts, resumes, is cleared or compacted.
    SessionStart,
    /// `UserPromptSubmit`: the user sent a prompt.
    UserPromptSubmit,
    /// `Stop`: the agent finished a turn.
    Stop,
    /// Any other event, by its `hook_event_name` (`PreToolUse`, `SessionEnd`, …).
    Other(String),
}

impl HookKind {
    /// Maps a `hook_event_name` to a kind.
    pub fn from_name(name: &str) -> Self {
        match name {
            "SessionStart" => HookKind::SessionStart,
            "UserPromptSubmit" => HookKind::UserPromptSubmit,
            "Stop" => HookKind::Stop,
            other => HookKind::Other(other.to_owned()),
        }
    }

    /// The `hook_event_name` of this kind.
    pub fn as_str(&self) -> &str {
        match self {
            HookKind::SessionStart => "SessionStart",
            HookKind::UserPromptSubmit => "UserPromptSubmit",
            HookKind::Stop => "Stop",
            HookKind::Other(name) => name,
        }
    }
}

/// A hook invocation, reduced from either host's stdin payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookEvent {
    /// Host that ran the hook.
    pub host: Host,
    /// Which event fired.
    pub kind: HookKind,
    /// Host session id.
    pub session_id: Option<String>,
    /// Session working directory.
    pub cwd: Option<PathBuf>,
    /// Absolute transcript path (Claude's does not exist yet at SessionStart).
    pub transcript_path: Option<PathBuf>,
    /// The user's prompt (UserPromptSubmit).
    pub prompt: Option<String>,
    /// Codex `turn_id`; for Claude, its `prompt_id`, which groups one prompt's turn.
    pub turn_id: Option<String>,
    /// SessionStart source: `startup`, `resume`, `clear`, `compact` (Codex also `fork`).
    pub source: Option<String>,
    /// Stop re-run after a previous Stop hook blocked; guard on it to avoid loops.
    pub stop_hook_active: bool,
    /// The agent's final message (Stop).
    pub last_assistant_message: Option<String>,
    /// Model name when the host sends it (Codex always, Claude only on compact SessionStart).
    pub model: Option<String>,
}

/// Errors from reading a hook's stdin.
#[derive(Debug, thiserror::Error)]
pub enum HookParseError {
    /// stdin is not valid JSON.
    #[error("hook payload is not valid JSON at line {line}, column {column}")]
    MalformedJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser error.
        #[source]
        source: serde_json::Error,
    },
    /// stdin is a payload of an event csep models, but a field has the wrong type.
    #[error("{host} {event} hook payload has an unexpected shape")]
    InvalidPayload {
        /// Host the payload was read as.
        host: Host,
        /// The `hook_event_name`.
        event: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
}

/// Fields that tell the hosts' payloads apart, read before the payload is decoded.
#[derive(Deserialize)]
struct HookShapeWire {
    #[serde(default, deserialize_with = "crate::host::lenient")]
    hook_event_name: Option<String>,
    #[serde(default, deserialize_with = "crate::host::lenient")]
    transcript_path: Option<String>,
    #[serde(default)]
    turn_id: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    prompt_id: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    model: Option<serde::de::IgnoredAny>,
}

/// Parses a hook's stdin into a [`HookEvent`].
///
/// With `host_hint` the payload is read as that host's; without it the host is detected:
///
/// 1. `transcript_path` file name starts with `rollout-` (Codex `sessions/…/rollout-*.jsonl`)
///    → Codex; a path with a `projects` directory component (Claude `projects/<cwd>/<id>.jsonl`)
///    → Claude.
/// 2. Otherwise `turn_id` present → Codex (Codex extension); `prompt_id` present → Claude.
/// 3. Otherwise `model` present → Codex (Claude sends it only with `prompt_id`).
/// 4. Otherwise Claude: its payloads are the minimal common shape Codex mimics.
///
/// Returns `Ok(None)` for valid JSON that is not an object with a string `hook_event_name`.
pub fn parse_hook_event(
    stdin: &str,
    host_hint: Option<Host>,
) -> Result<Option<HookEvent>, HookParseError> {
    // A lone UTF-16 surrogate escape (Node's `JSON.stringify` of a string cut inside an
    // emoji) is taken as U+FFFD, as in transcripts, rather than losing the whole payload; so
    // is a byte order mark before the object, and anything after it (the first JSON value is
    // the payload).
    let stdin = stdin.strip_prefix('\u{feff}').unwrap_or(stdin);
    let first_value = |bytes: &[u8]| -> Result<serde_json::Value, serde_json::Error> {
        let mut values = serde_json::Deserializer::from_slice(bytes).into_iter();
        values
            .next()
            .unwrap_or_else(|| serde_json::from_slice(bytes))
    };
    let value: serde_json::Value = first_value(stdin.as_bytes())
        .or_else(|error| match repair_line(stdin.as_bytes()) {
            Some(repaired) => first_value(&repaired).map_err(|_| error),
            None => Err(error),
        })
        .map_err(|source| HookParseError::MalformedJson {
            line: source.line(),
            column: source.column(),
            source,
        })?;
    let Ok(shape) = HookShapeWire::deserialize(&value) else {
        return Ok(None);
    };
    let Some(event) = shape.hook_event_name.as_deref() else {
        return Ok(None);
    };
    let kind = HookKind::from_name(event);
    let host = host_hint.unwrap_or_else(|| detect_hook_host(&shape));
    let invalid = |source| HookParseError::InvalidPayload {
        host,
        event: event.to_owned(),
        source,
    };
    let parsed = match host {
        Host::Codex => codex::hook::to_event(&value, kind),
        Host::Claude => claude::hook::to_event(&value, kind),
    };
    let mut event = parsed.map_err(invalid)?;
    // Ids name rows, files and context lines later on: one that could climb out of a directory
    // or break a line is dropped here (the transcript or its file name names the session).
    event.session_id = event.session_id.filter(|id| is_safe_id(id));
    event.turn_id = event.turn_id.filter(|id| is_safe_id(id));
    Ok(Some(event))
}

/// Longest host id accepted (hosts send 36-character UUIDs).
pub const MAX_ID_CHARS: usize = 128;

/// Whether a host-supplied id (session, turn) is safe to store and to use in a file name: non-
/// empty, at most [`MAX_ID_CHARS`], no control character (NUL, newline), no path separator, not
/// `.`/`..` and no `..` inside.
pub fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= MAX_ID_CHARS
        && !id.contains("..")
        && !id
            .chars()
            .any(|c| c.is_control() || matches!(c, '/' | '\\'))
}

/// Applies the detection rule documented on [`parse_hook_event`].
fn detect_hook_host(shape: &HookShapeWire) -> Host {
    if let Some(path) = shape.transcript_path.as_deref() {
        let path = Path::new(path);
        let is_rollout = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("rollout-"));
        if is_rollout {
            return Host::Codex;
        }
        if path.components().any(|c| c.as_os_str() == "projects") {
            return Host::Claude;
        }
    }
    if shape.turn_id.is_some() {
        Host::Codex
    } else if shape.prompt_id.is_some() {
        Host::Claude
    } else if shape.model.is_some() {
        Host::Codex
    } else {
        Host::Claude
    }
}

/// Output that makes the hook a no-op, valid for `host` and `kind`.
///
/// For SessionStart, UserPromptSubmit and Stop this is `{}`: every field of both hosts' output
/// schemas is optional (Codex `session-start.command.output` etc. in
/// `hook-io-schemas-from-binary.txt`, all defaults), so an empty object validates even under
/// Codex's `additionalProperties: false`, and it is unambiguously JSON rather than plain text,
/// which both hosts would inject as context. For other events it is the empty string: Codex has
/// no output schema for SessionEnd, and empty stdout with exit 0 is the documented silent pass.
pub fn empty_output(host: Host, kind: &HookKind) -> String {
    match host {
        Host::Codex => codex::hook::empty_output(kind),
        Host::Claude => claude::hook::empty_output(kind),
    }
}

#[cfg(test)]
#[path = "transcript_tests.rs"]
mod tests;
