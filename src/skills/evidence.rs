//! Evidence for skill synthesis, read from the archive (`sessions`, `messages`), the memory store
//! (`memory_entries`) and recorded reviewer candidates (`skills` rows in state `candidate`).
//!
//! What counts (issue 7 §1):
//! - **Recurring procedures**: the same sequence of shell commands, normalized to program +
//!   subcommand (`cargo test -p foo` → `cargo test`), that ended in success, in several sessions.
//!   Exploration commands (`ls`, `cat`, `grep`, …) are not steps.
//! - **Failure → fix pairs**: a command that failed and later succeeded in the same session; the
//!   commands (and file edits) in between are the fix.
//! - **Corrections**: user messages that correct the agent ("no, use …", "always …").
//! - **Explicit requests**: user messages asking to make something a skill.
//! - **Memory**: active `rule`, `gotcha` and `command` entries.
//! - **Recorded candidates**: `skill_candidate` operations the compiler stored.
//!
//! Invariants: read-only (no write to the store); only non-injected user messages and tool
//! calls/outputs are read, which the archive already redacted; a tool call's outcome is its next
//! tool output in the same session (first in, first out), so a call with no output never counts
//! as a success.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use regex::Regex;
use rusqlite::params;
use serde::Serialize;

use super::SkillError;
use super::gates::InventoryEntry;
use crate::store::db::Store;

/// Shortest recurring procedure, in distinct steps (a single command is not a skill; reference
/// lessons §3.3).
pub const MIN_PROCEDURE_STEPS: usize = 2;
/// Longest procedure considered, in steps.
pub const MAX_PROCEDURE_STEPS: usize = 6;
/// Procedures kept in a bundle, best supported first.
pub const MAX_PROCEDURES: usize = 20;
/// Steps searched after a failure for the same command to succeed.
pub const FIX_WINDOW_STEPS: usize = 8;
/// Characters kept of a user message quoted as intent, correction or request.
pub const MAX_QUOTE_CHARS: usize = 240;

/// Which window of the archive to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceQuery {
    /// Sessions with activity at or after this stored timestamp are read.
    pub since: String,
    /// Only this project's sessions (and user-scope memory) when set.
    pub project_id: Option<String>,
}

/// One step of a session's command sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Normalized command (`cargo test`), or [`EDIT_STEP`] for a file edit.
    pub key: String,
    /// The command segment as run (redacted by the archive), at most 200 characters.
    pub raw: String,
    /// `messages.id` of the tool call.
    pub message_id: i64,
    /// Whether the call's output reported success.
    pub ok: bool,
}

/// Key of a file-edit pseudo-step (apply_patch, Edit, Write): part of fixes, never a procedure
/// step.
pub const EDIT_STEP: &str = "(edit files)";

/// One session where a procedure occurred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Occurrence {
    /// `sessions.id`.
    pub session_ref: i64,
    /// `host:session_id`.
    pub session: String,
    /// The session's project.
    pub project_id: Option<String>,
    /// Tool-call message ids of the steps.
    pub message_ids: Vec<i64>,
    /// The commands as run.
    pub raw: Vec<String>,
    /// The last user message before the first step (what the user wanted).
    pub intent: Option<String>,
}

/// A command sequence that recurs across sessions and ended in success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Procedure {
    /// The normalized steps.
    pub keys: Vec<String>,
    /// One occurrence per supporting session.
    pub occurrences: Vec<Occurrence>,
}

impl Procedure {
    /// Distinct sessions supporting it.
    pub fn sessions(&self) -> usize {
        self.occurrences.len()
    }
}

/// A command that failed and then succeeded, and what happened in between.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureFix {
    /// The normalized command that failed.
    pub key: String,
    /// The normalized commands (or [`EDIT_STEP`]) between failure and success.
    pub fix: Vec<String>,
    /// `sessions.id`.
    pub session_ref: i64,
    /// Tool-call ids: the failure, then the success.
    pub message_ids: [i64; 2],
}

/// A user message quoted as evidence (a correction or an explicit request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    /// `sessions.id`.
    pub session_ref: i64,
    /// `messages.id`.
    pub message_id: i64,
    /// The text, cut to [`MAX_QUOTE_CHARS`].
    pub text: String,
}

/// A user's explicit "make this a skill" with the session's successful steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkillRequest {
    /// The request.
    pub quote: Quote,
    /// `host:session_id`.
    pub session: String,
    /// The session's project.
    pub project_id: Option<String>,
    /// The session's successful procedure steps, collapsed, in order.
    pub steps: Vec<Step>,
    /// The user message before the steps.
    pub intent: Option<String>,
}

/// An active memory entry that may refine a procedure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryNote {
    /// `memory_entries.id`.
    pub id: String,
    /// `rule`, `gotcha` or `command`.
    pub kind: String,
    /// The one-line summary.
    pub summary: String,
}

/// A reviewer's `skill_candidate` recorded in the skills table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedCandidate {
    /// Proposed name.
    pub name: String,
    /// Proposed description.
    pub description: String,
    /// The steps.
    pub steps: Vec<String>,
    /// Evidence ids or quotes the reviewer gave.
    pub evidence: Vec<String>,
    /// Project.
    pub project_id: Option<String>,
}

/// How much evidence was read (for the receipt).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EvidenceCounts {
    /// Sessions in the window.
    pub sessions: u64,
    /// Messages read.
    pub messages: u64,
    /// Shell steps recognised.
    pub steps: u64,
    /// Recurring procedures (≥ 2 sessions).
    pub procedures: u64,
    /// Failure → fix pairs.
    pub failure_fixes: u64,
    /// Corrections.
    pub corrections: u64,
    /// Explicit skill requests.
    pub requests: u64,
    /// Memory notes.
    pub memory: u64,
    /// Recorded candidates.
    pub candidates: u64,
}

/// Everything a synthesizer gets: redacted evidence and the skills that already exist.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EvidenceBundle {
    /// Recurring procedures, best supported (then longest) first.
    pub procedures: Vec<Procedure>,
    /// Failure → fix pairs.
    pub failure_fixes: Vec<FailureFix>,
    /// User corrections.
    pub corrections: Vec<Quote>,
    /// Explicit skill requests.
    pub requests: Vec<SkillRequest>,
    /// Memory notes.
    pub memory: Vec<MemoryNote>,
    /// Recorded reviewer candidates.
    pub candidates: Vec<RecordedCandidate>,
    /// Skills that exist already (hosts' roots and csep's own), for duplicate avoidance.
    pub inventory: Vec<InventoryEntry>,
    /// Counts for the receipt.
    pub counts: EvidenceCounts,
}

/// A progress callback: `(sessions done, sessions total)`.
pub type ProgressFn<'a> = &'a dyn Fn(u64, u64);

/// Reads the evidence in `query`'s window. `inventory` is passed through to the bundle.
pub fn collect(
    store: &Store,
    query: &EvidenceQuery,
    inventory: Vec<InventoryEntry>,
    progress: ProgressFn<'_>,
) -> Result<EvidenceBundle, SkillError> {
    let sessions = sessions_in_window(store, query)?;
    let mut bundle = EvidenceBundle {
        inventory,
        ..EvidenceBundle::default()
    };
    bundle.counts.sessions = sessions.len() as u64;
    // n-gram → (session_ref → occurrence)
    let mut grams: BTreeMap<Vec<String>, BTreeMap<i64, Occurrence>> = BTreeMap::new();
    let total = sessions.len() as u64;
    for (i, session) in sessions.iter().enumerate() {
        let scan = scan_session(store, session)?;
        bundle.counts.messages += scan.messages;
        bundle.counts.steps += scan.steps.iter().filter(|s| s.key != EDIT_STEP).count() as u64;
        bundle
            .failure_fixes
            .extend(failure_fixes(session.id, &scan.steps));
        bundle.corrections.extend(scan.corrections);
        let collapsed = collapse(&scan.steps);
        for request in scan.requests {
            bundle.requests.push(SkillRequest {
                quote: request,
                session: session.label(),
                project_id: session.project_id.clone(),
                steps: collapsed.iter().filter(|s| s.ok).cloned().collect(),
                intent: scan.users.first().map(|(_, t)| t.clone()),
            });
        }
        add_grams(&mut grams, session, &collapsed, &scan.users);
        progress(i as u64 + 1, total);
    }
    bundle.procedures = select_procedures(grams);
    bundle.memory = memory_notes(store, query.project_id.as_deref())?;
    bundle.candidates = recorded_candidates(store, query.project_id.as_deref())?;
    bundle.counts.procedures = bundle.procedures.len() as u64;
    bundle.counts.failure_fixes = bundle.failure_fixes.len() as u64;
    bundle.counts.corrections = bundle.corrections.len() as u64;
    bundle.counts.requests = bundle.requests.len() as u64;
    bundle.counts.memory = bundle.memory.len() as u64;
    bundle.counts.candidates = bundle.candidates.len() as u64;
    Ok(bundle)
}

#[derive(Debug, Clone)]
struct SessionRow {
    id: i64,
    host: String,
    session_id: String,
    project_id: Option<String>,
}

impl SessionRow {
    fn label(&self) -> String {
        format!("{}:{}", self.host, self.session_id)
    }
}

fn sessions_in_window(store: &Store, query: &EvidenceQuery) -> Result<Vec<SessionRow>, SkillError> {
    let mut stmt = store
        .conn()
        .prepare_cached(
            "SELECT id, host, session_id, project_id FROM sessions \
             WHERE coalesce(last_message_at, started_at, updated_at) >= ?1 \
             AND (?2 IS NULL OR project_id = ?2) ORDER BY id",
        )
        .map_err(SkillError::sql("listing sessions"))?;
    let rows = stmt
        .query_map(params![query.since, query.project_id], |r| {
            Ok(SessionRow {
                id: r.get(0)?,
                host: r.get(1)?,
                session_id: r.get(2)?,
                project_id: r.get(3)?,
            })
        })
        .map_err(SkillError::sql("listing sessions"))?;
    rows.collect::<Result<_, _>>()
        .map_err(SkillError::sql("listing sessions"))
}

struct SessionScan {
    messages: u64,
    steps: Vec<Step>,
    /// (message id, text) of real user messages, in order.
    users: Vec<(i64, String)>,
    corrections: Vec<Quote>,
    requests: Vec<Quote>,
}

fn scan_session(store: &Store, session: &SessionRow) -> Result<SessionScan, SkillError> {
    let mut stmt = store
        .conn()
        .prepare_cached(
            "SELECT id, origin, tool_name, coalesce(tool_args, text), text FROM messages \
             WHERE session_ref = ?1 AND origin IN ('user', 'tool_call', 'tool_output') \
             ORDER BY byte_offset, seq",
        )
        .map_err(SkillError::sql("reading messages"))?;
    let rows = stmt
        .query_map([session.id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .map_err(SkillError::sql("reading messages"))?;
    let mut scan = SessionScan {
        messages: 0,
        steps: Vec::new(),
        users: Vec::new(),
        corrections: Vec::new(),
        requests: Vec::new(),
    };
    // Indices into scan.steps of calls still waiting for their output, per call (a call that
    // expands into several segments shares one outcome).
    let mut pending: std::collections::VecDeque<Vec<usize>> = std::collections::VecDeque::new();
    for row in rows {
        let (id, origin, tool, args, text) = row.map_err(SkillError::sql("reading messages"))?;
        scan.messages += 1;
        match origin.as_str() {
            "user" => {
                let quote = || Quote {
                    session_ref: session.id,
                    message_id: id,
                    text: clip(&text),
                };
                if is_skill_request(&text) {
                    scan.requests.push(quote());
                } else if is_correction(&text) {
                    scan.corrections.push(quote());
                }
                scan.users.push((id, clip(&text)));
            }
            "tool_call" => {
                let tool = tool.unwrap_or_default();
                let mut indices = Vec::new();
                if is_edit_tool(&tool) {
                    indices.push(scan.steps.len());
                    scan.steps.push(Step {
                        key: EDIT_STEP.to_owned(),
                        raw: tool.clone(),
                        message_id: id,
                        ok: true,
                    });
                } else if let Some(script) = shell_script(&tool, &args) {
                    for (key, raw) in normalize_script(&script) {
                        indices.push(scan.steps.len());
                        scan.steps.push(Step {
                            key,
                            raw,
                            message_id: id,
                            ok: false,
                        });
                    }
                }
                pending.push_back(indices);
            }
            _ => {
                if let Some(indices) = pending.pop_front() {
                    let ok = output_succeeded(&text);
                    for i in indices {
                        if scan.steps[i].key != EDIT_STEP {
                            scan.steps[i].ok = ok;
                        }
                    }
                }
            }
        }
    }
    Ok(scan)
}

fn clip(text: &str) -> String {
    let line = text.trim();
    let mut out: String = line.chars().take(MAX_QUOTE_CHARS).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

fn is_edit_tool(tool: &str) -> bool {
    matches!(
        tool,
        "apply_patch" | "Edit" | "MultiEdit" | "Write" | "NotebookEdit" | "str_replace_editor"
    )
}

/// The shell script a tool call ran, for the shell tools of both hosts: Codex `exec_command`
/// (`{"cmd": …}`), `shell` / `local_shell` (`{"command": [...]}`), Claude `Bash`
/// (`{"command": "…"}`).
pub fn shell_script(tool: &str, args: &str) -> Option<String> {
    if !matches!(
        tool,
        "exec_command" | "shell" | "shell_command" | "local_shell" | "container.exec" | "Bash"
    ) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(args).ok()?;
    let field = value
        .get("cmd")
        .or_else(|| value.get("command"))
        .or_else(|| value.get("action").and_then(|a| a.get("command")))?;
    match field {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(parts) => {
            let parts: Vec<&str> = parts.iter().filter_map(|p| p.as_str()).collect();
            // ["bash", "-lc", "script"] runs the script.
            match parts.as_slice() {
                [shell, flag, script] if is_shell(shell) && (*flag == "-c" || *flag == "-lc") => {
                    Some((*script).to_owned())
                }
                _ => Some(parts.join(" ")),
            }
        }
        _ => None,
    }
}

fn is_shell(program: &str) -> bool {
    let base = program.rsplit('/').next().unwrap_or(program);
    matches!(base, "bash" | "sh" | "zsh" | "dash")
}

static EXIT_CODE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?m)(?:Process exited with code|^Exit code:?|exit code:?|exited with code)\s*(-?\d+)",
    )
    .ok()
});

/// Whether a tool output reports success: Codex writes `Process exited with code N`, Claude's
/// failed Bash results start `Exit code N`; an output without an exit code succeeded unless it
/// starts with an error marker.
pub fn output_succeeded(text: &str) -> bool {
    if let Some(re) = &*EXIT_CODE
        && let Some(code) = re.captures(text).and_then(|c| c.get(1))
    {
        return code.as_str() == "0";
    }
    let head = text.trim_start();
    !(head.starts_with("Error")
        || head.starts_with("<tool_use_error>")
        || head.starts_with("error:"))
}

/// Programs whose runs explore rather than do: never procedure steps.
const EXPLORATION: [&str; 40] = [
    "cd", "ls", "ll", "cat", "echo", "printf", "pwd", "head", "tail", "grep", "rg", "ag", "find",
    "fd", "sed", "awk", "wc", "which", "type", "true", "false", "sleep", "clear", "export",
    "source", ".", "test", "[", "tree", "less", "more", "file", "stat", "sort", "uniq", "tee",
    "nl", "diff", "date", "whoami",
];

/// Prefixes skipped before the program (`sudo`, `time`, `env`, ...).
const WRAPPERS: [&str; 7] = ["sudo", "time", "env", "nohup", "exec", "command", "nice"];

/// Programs whose second word is a subcommand worth keeping.
const RUNNERS_WITH_SCRIPT: [&str; 5] = ["npm", "pnpm", "yarn", "bun", "just"];

/// Splits a shell script into its commands and normalizes each to `program [subcommand]`,
/// dropping exploration commands. Returns `(key, raw segment)`.
pub fn normalize_script(script: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for segment in split_segments(script) {
        if let Some(key) = normalize_command(&segment) {
            let raw: String = segment.trim().chars().take(200).collect();
            out.push((key, raw));
        }
    }
    out
}

fn split_segments(script: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                current.push(c);
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    current.push(c);
                }
                ';' | '\n' | '|' | '&' => {
                    if matches!(c, '|' | '&') && chars.peek() == Some(&c) {
                        chars.next();
                    }
                    segments.push(std::mem::take(&mut current));
                }
                _ => current.push(c),
            },
        }
    }
    segments.push(current);
    segments
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn words(segment: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in segment.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c.is_whitespace() => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            None => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn is_word(token: &str) -> bool {
    let mut bytes = token.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && token.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b':')
        })
}

/// Normalizes one command to `program [subcommand]`; `None` for exploration commands and
/// anything unrecognisable.
pub fn normalize_command(segment: &str) -> Option<String> {
    let tokens = words(segment);
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        let is_assignment = t.split_once('=').is_some_and(|(k, _)| {
            !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        if is_assignment || WRAPPERS.contains(&t) {
            i += 1;
        } else {
            break;
        }
    }
    let program_token = tokens.get(i)?;
    let program = program_token.rsplit('/').next().unwrap_or(program_token);
    if program.is_empty() || EXPLORATION.contains(&program) || program.starts_with('$') {
        return None;
    }
    if !program
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'))
    {
        return None;
    }
    let rest = &tokens[i + 1..];
    let mut j = 0;
    // Skip toolchain selectors (`cargo +nightly`) and flags with their values for git (`-C dir`).
    while j < rest.len() {
        let t = rest[j].as_str();
        if t.starts_with('+') {
            j += 1;
        } else if program == "git" && (t == "-C" || t == "-c") {
            j += 2;
        } else if t.starts_with('-') && program != "python" && program != "python3" {
            j += 1;
        } else {
            break;
        }
    }
    if matches!(program, "python" | "python3") {
        if rest.first().map(String::as_str) == Some("-m")
            && let Some(module) = rest.get(1).filter(|m| is_word(m))
        {
            return Some(format!("{program} -m {module}"));
        }
        return Some(program.to_owned());
    }
    let Some(sub) = rest.get(j).filter(|s| is_word(s)) else {
        return Some(program.to_owned());
    };
    if RUNNERS_WITH_SCRIPT.contains(&program)
        && sub == "run"
        && let Some(script) = rest.get(j + 1).filter(|s| is_word(s))
    {
        return Some(format!("{program} run {script}"));
    }
    Some(format!("{program} {sub}"))
}

/// Consecutive runs of the same command collapse into one step whose outcome is the last run's;
/// edits are dropped (they are not procedure steps).
fn collapse(steps: &[Step]) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    for step in steps.iter().filter(|s| s.key != EDIT_STEP) {
        match out.last_mut() {
            Some(last) if last.key == step.key => *last = step.clone(),
            _ => out.push(step.clone()),
        }
    }
    out
}

fn failure_fixes(session_ref: i64, steps: &[Step]) -> Vec<FailureFix> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < steps.len() {
        let failed = &steps[i];
        if failed.ok || failed.key == EDIT_STEP {
            i += 1;
            continue;
        }
        let window = &steps[i + 1..steps.len().min(i + 1 + FIX_WINDOW_STEPS)];
        if let Some(offset) = window.iter().position(|s| s.key == failed.key && s.ok) {
            let mut fix: Vec<String> = Vec::new();
            for s in &window[..offset] {
                if s.key != failed.key && !fix.contains(&s.key) {
                    fix.push(s.key.clone());
                }
            }
            out.push(FailureFix {
                key: failed.key.clone(),
                fix,
                session_ref,
                message_ids: [failed.message_id, window[offset].message_id],
            });
            i += offset + 1;
        } else {
            i += 1;
        }
    }
    out
}

fn add_grams(
    grams: &mut BTreeMap<Vec<String>, BTreeMap<i64, Occurrence>>,
    session: &SessionRow,
    steps: &[Step],
    users: &[(i64, String)],
) {
    for len in MIN_PROCEDURE_STEPS..=MAX_PROCEDURE_STEPS {
        for window in steps.windows(len) {
            let ends_ok = window.last().is_some_and(|s| s.ok);
            let distinct: BTreeSet<&str> = window.iter().map(|s| s.key.as_str()).collect();
            if !ends_ok || distinct.len() < MIN_PROCEDURE_STEPS {
                continue;
            }
            let keys: Vec<String> = window.iter().map(|s| s.key.clone()).collect();
            let first_id = window[0].message_id;
            let intent = users
                .iter()
                .rev()
                .find(|(id, _)| *id < first_id)
                .map(|(_, t)| t.clone());
            grams
                .entry(keys)
                .or_default()
                .entry(session.id)
                .or_insert_with(|| Occurrence {
                    session_ref: session.id,
                    session: session.label(),
                    project_id: session.project_id.clone(),
                    message_ids: window.iter().map(|s| s.message_id).collect(),
                    raw: window.iter().map(|s| s.raw.clone()).collect(),
                    intent,
                });
        }
    }
}

/// Keeps procedures seen in ≥ 2 sessions, best supported then longest first, dropping any whose
/// steps are a subset or superset of one already kept (those would be near-duplicate skills).
fn select_procedures(grams: BTreeMap<Vec<String>, BTreeMap<i64, Occurrence>>) -> Vec<Procedure> {
    let mut all: Vec<Procedure> = grams
        .into_iter()
        .filter(|(_, occ)| occ.len() >= 2)
        .map(|(keys, occ)| Procedure {
            keys,
            occurrences: occ.into_values().collect(),
        })
        .collect();
    all.sort_by(|a, b| {
        b.sessions()
            .cmp(&a.sessions())
            .then(b.keys.len().cmp(&a.keys.len()))
            .then(a.keys.cmp(&b.keys))
    });
    let mut kept: Vec<Procedure> = Vec::new();
    for p in all {
        let set: BTreeSet<&String> = p.keys.iter().collect();
        let overlaps = kept.iter().any(|k| {
            let other: BTreeSet<&String> = k.keys.iter().collect();
            set.is_subset(&other) || other.is_subset(&set)
        });
        if !overlaps {
            kept.push(p);
        }
        if kept.len() >= MAX_PROCEDURES {
            break;
        }
    }
    kept
}

static REQUEST: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(make|turn|save|create|write|add|record|keep)\b[^.?!\n]{0,40}\b(skill|runbook|sop)\b|\b(as|into) a (reusable )?(skill|runbook)\b|技能|沉淀",
    )
    .ok()
});

static CORRECTION: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(no[,.!: ]|nope\b|don'?t\b|do not\b|never\b|always\b|stop\b|wrong\b|that'?s (wrong|not)\b|actually[, ]|instead\b|please (don'?t|never|always)\b)|\binstead of\b|\byou should (have|always|never)\b",
    )
    .ok()
});

fn is_skill_request(text: &str) -> bool {
    REQUEST.as_ref().is_some_and(|re| re.is_match(text))
}

fn is_correction(text: &str) -> bool {
    CORRECTION.as_ref().is_some_and(|re| re.is_match(text))
}

fn memory_notes(store: &Store, project_id: Option<&str>) -> Result<Vec<MemoryNote>, SkillError> {
    let mut stmt = store
        .conn()
        .prepare_cached(
            "SELECT id, kind, summary FROM memory_entries WHERE status = 'active' \
             AND kind IN ('rule', 'gotcha', 'command') \
             AND (?1 IS NULL OR project_id IS NULL OR project_id = ?1) ORDER BY id",
        )
        .map_err(SkillError::sql("reading memory"))?;
    let rows = stmt
        .query_map([project_id], |r| {
            Ok(MemoryNote {
                id: r.get(0)?,
                kind: r.get(1)?,
                summary: r.get(2)?,
            })
        })
        .map_err(SkillError::sql("reading memory"))?;
    rows.collect::<Result<_, _>>()
        .map_err(SkillError::sql("reading memory"))
}

fn recorded_candidates(
    store: &Store,
    project_id: Option<&str>,
) -> Result<Vec<RecordedCandidate>, SkillError> {
    let mut stmt = store
        .conn()
        .prepare_cached(
            "SELECT name, description, body, evidence, project_id FROM skills \
             WHERE state = 'candidate' AND body NOT LIKE '---%' \
             AND (?1 IS NULL OR project_id IS NULL OR project_id = ?1) ORDER BY name",
        )
        .map_err(SkillError::sql("reading skill candidates"))?;
    let rows = stmt
        .query_map([project_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })
        .map_err(SkillError::sql("reading skill candidates"))?;
    let mut out = Vec::new();
    for row in rows {
        let (name, description, body, evidence, project_id) =
            row.map_err(SkillError::sql("reading skill candidates"))?;
        out.push(RecordedCandidate {
            steps: super::lifecycle::candidate_steps(&body),
            evidence: serde_json::from_str(&evidence).unwrap_or_default(),
            name,
            description,
            project_id,
        });
    }
    Ok(out)
}

/// Sessions of `session_ids` (`host:session_id` or `sessions.id`) that exist, as distinct refs.
pub fn resolve_sessions(store: &Store, ids: &[String]) -> Result<BTreeSet<i64>, SkillError> {
    let mut found = BTreeSet::new();
    let mut by_label: HashMap<String, i64> = HashMap::new();
    {
        let mut stmt = store
            .conn()
            .prepare_cached("SELECT id, host || ':' || session_id FROM sessions")
            .map_err(SkillError::sql("resolving sessions"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(SkillError::sql("resolving sessions"))?;
        for row in rows {
            let (id, label) = row.map_err(SkillError::sql("resolving sessions"))?;
            by_label.insert(label, id);
        }
    }
    for id in ids {
        let id = id.strip_prefix("session:").unwrap_or(id);
        if let Some(r) = by_label.get(id) {
            found.insert(*r);
        } else if let Some(r) = by_label
            .iter()
            .find(|(label, _)| label.split_once(':').is_some_and(|(_, s)| s == id))
            .map(|(_, r)| *r)
        {
            found.insert(r);
        }
    }
    Ok(found)
}

#[cfg(test)]
#[path = "evidence_tests.rs"]
mod tests;
