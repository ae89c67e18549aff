//! Test support: generated Codex rollouts and Claude Code transcripts, ingested through the real
//! archive ([`crate::archive::ingest::ingest_transcript`]), and helpers for skill roots.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a failed setup step should abort the test loudly"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::archive::ingest::ingest_transcript;
use crate::host::Host;
use crate::store::db::Store;

/// One event of a generated session.
#[derive(Debug, Clone)]
pub enum Turn {
    /// A user prompt.
    User(&'static str),
    /// A shell command and its exit code.
    Run(&'static str, i32),
    /// A file edit (apply_patch / Edit).
    Edit,
    /// A raw tool call (name, JSON arguments), output "ok".
    Tool(&'static str, String),
}

/// Writes a Codex rollout for `turns` starting at `start` (RFC 3339) and returns its path.
pub fn codex_rollout(dir: &Path, session_id: &str, start: &str, turns: &[Turn]) -> PathBuf {
    let base: jiff::Timestamp = start.parse().unwrap();
    let ts = |i: usize| {
        crate::store::time::format_ts(
            base.checked_add(jiff::SignedDuration::from_secs(i as i64))
                .unwrap(),
        )
    };
    let mut lines = vec![json!({
        "timestamp": ts(0), "ordinal": 0, "type": "session_meta",
        "payload": {"session_id": session_id, "id": session_id, "timestamp": ts(0),
                    "cwd": "/work/app", "cli_version": "0.169.0", "originator": "codex_exec"}
    })];
    let meta = json!({"turn_id": "t1"});
    for (i, turn) in turns.iter().enumerate() {
        let n = i + 1;
        let call = format!("call_{n}");
        match turn {
            Turn::User(text) => lines.push(json!({
                "timestamp": ts(n), "ordinal": n, "type": "response_item",
                "payload": {"type": "message", "role": "user",
                            "content": [{"type": "input_text", "text": text}],
                            "internal_chat_message_metadata_passthrough": meta}
            })),
            Turn::Run(cmd, code) => {
                lines.push(json!({
                    "timestamp": ts(n), "ordinal": n, "type": "response_item",
                    "payload": {"type": "function_call", "name": "exec_command",
                                "arguments": json!({"cmd": cmd}).to_string(), "call_id": call,
                                "internal_chat_message_metadata_passthrough": meta}
                }));
                lines.push(json!({
                    "timestamp": ts(n), "ordinal": n, "type": "response_item",
                    "payload": {"type": "function_call_output", "call_id": call,
                                "output": format!("Chunk ID: x\nProcess exited with code {code}\nOutput:\nout\n"),
                                "internal_chat_message_metadata_passthrough": meta}
                }));
            }
            Turn::Edit => {
                lines.push(json!({
                    "timestamp": ts(n), "ordinal": n, "type": "response_item",
                    "payload": {"type": "custom_tool_call", "name": "apply_patch",
                                "input": "*** Begin Patch\n*** End Patch", "call_id": call,
                                "internal_chat_message_metadata_passthrough": meta}
                }));
                lines.push(json!({
                    "timestamp": ts(n), "ordinal": n, "type": "response_item",
                    "payload": {"type": "custom_tool_call_output", "call_id": call,
                                "output": "Success", "internal_chat_message_metadata_passthrough": meta}
                }));
            }
            Turn::Tool(name, args) => {
                lines.push(json!({
                    "timestamp": ts(n), "ordinal": n, "type": "response_item",
                    "payload": {"type": "function_call", "name": name, "arguments": args,
                                "call_id": call, "internal_chat_message_metadata_passthrough": meta}
                }));
                lines.push(json!({
                    "timestamp": ts(n), "ordinal": n, "type": "response_item",
                    "payload": {"type": "function_call_output", "call_id": call,
                                "output": "Process exited with code 0\nOutput:\nok\n",
                                "internal_chat_message_metadata_passthrough": meta}
                }));
            }
        }
    }
    let path = dir.join(format!("rollout-{session_id}.jsonl"));
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

/// Writes a Claude Code transcript for `turns` and returns its path.
pub fn claude_transcript(dir: &Path, session_id: &str, start: &str, turns: &[Turn]) -> PathBuf {
    let base: jiff::Timestamp = start.parse().unwrap();
    let ts = |i: usize| {
        crate::store::time::format_ts(
            base.checked_add(jiff::SignedDuration::from_secs(i as i64))
                .unwrap(),
        )
    };
    let common = |n: usize| {
        json!({"sessionId": session_id, "cwd": "/work/app", "version": "2.1.197",
               "uuid": format!("u{n}"), "timestamp": ts(n)})
    };
    let mut lines = Vec::new();
    let merge = |mut a: serde_json::Value, b: serde_json::Value| {
        if let (Some(a), Some(b)) = (a.as_object_mut(), b.as_object()) {
            for (k, v) in b {
                a.insert(k.clone(), v.clone());
            }
        }
        a
    };
    for (i, turn) in turns.iter().enumerate() {
        let n = i + 1;
        let id = format!("toolu_{n}");
        let (tool, input, result, is_error) = match turn {
            Turn::User(text) => {
                lines.push(merge(
                    common(n),
                    json!({"type": "user", "message": {"role": "user", "content": text}}),
                ));
                continue;
            }
            Turn::Run(cmd, code) => (
                "Bash".to_owned(),
                json!({"command": cmd}),
                if *code == 0 {
                    "out".to_owned()
                } else {
                    format!("Exit code {code}\nerror")
                },
                *code != 0,
            ),
            Turn::Edit => (
                "Edit".to_owned(),
                json!({"file_path": "/work/app/src/lib.rs"}),
                "ok".to_owned(),
                false,
            ),
            Turn::Tool(name, args) => (
                (*name).to_owned(),
                serde_json::from_str(args).unwrap(),
                "ok".to_owned(),
                false,
            ),
        };
        lines.push(merge(
            common(n),
            json!({"type": "assistant", "message": {"id": format!("msg_{n}"), "role": "assistant",
                   "content": [{"type": "tool_use", "id": id, "name": tool, "input": input}]}}),
        ));
        lines.push(merge(
            common(n),
            json!({"type": "user", "message": {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": id, "content": result, "is_error": is_error}]}}),
        ));
    }
    let path = dir.join(format!("{session_id}.jsonl"));
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

/// Ingests a generated transcript into `store`.
pub fn ingest(store: &mut Store, host: Host, path: &Path) {
    ingest_transcript(store, host, path, None, None).unwrap();
}

/// The canonical recurring procedure of the tests: fmt, clippy, test, run to success.
pub fn check_procedure(prompt: &'static str) -> Vec<Turn> {
    vec![
        Turn::User(prompt),
        Turn::Run("ls -la", 0),
        Turn::Run("cargo fmt --all", 0),
        Turn::Run("cargo clippy --all-targets -- -D warnings", 0),
        Turn::Run("cargo test -p app", 0),
    ]
}

/// SHA-256 of every file under `root`, by relative path (empty when `root` is missing).
pub fn hash_tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                out.insert(format!("{rel}/"), String::new());
                walk(root, &p, out);
            } else {
                let bytes = std::fs::read(&p).unwrap_or_default();
                out.insert(rel, crate::skills::publish::content_hash(&bytes));
            }
        }
    }
    walk(root, root, &mut out);
    out
}
