//! Generated sessions for the reliability and security suites: Claude Code transcripts written
//! in the real line format, Stop / SessionStart / UserPromptSubmit payloads pointing at them,
//! and helpers that run the hooks and the worker and read the database back.

use std::path::{Path, PathBuf};
use std::process::Output;

use rusqlite::Connection;
use serde_json::json;

use crate::support::TestHome;

/// One event of a generated session.
#[derive(Debug, Clone)]
pub enum Item {
    /// A user prompt.
    User(String),
    /// An assistant text reply.
    Agent(String),
    /// A Bash tool call with its output and exit code.
    Bash(String, String, i32),
}

/// Writes a Claude Code transcript for `items` into `dir` and returns its path.
pub fn claude_transcript(dir: &Path, session_id: &str, cwd: &Path, items: &[Item]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut lines = Vec::new();
    let common = |n: usize| {
        json!({"sessionId": session_id, "cwd": cwd, "version": "2.1.197",
               "uuid": format!("{session_id}-u{n}"),
               "timestamp": format!("2026-11-25T10:{:02}:{:02}.000Z", (n / 60) % 60, n % 60)})
    };
    let merge = |mut a: serde_json::Value, b: serde_json::Value| {
        for (k, v) in b.as_object().unwrap() {
            a[k] = v.clone();
        }
        a
    };
    for (i, item) in items.iter().enumerate() {
        let n = i * 2 + 1;
        match item {
            Item::User(text) => lines.push(merge(
                common(n),
                json!({"type": "user", "message": {"role": "user", "content": text}}),
            )),
            Item::Agent(text) => lines.push(merge(
                common(n),
                json!({"type": "assistant", "message": {"id": format!("msg_{n}"),
                    "role": "assistant", "content": [{"type": "text", "text": text}]}}),
            )),
            Item::Bash(cmd, output, code) => {
                let id = format!("toolu_{n}");
                lines.push(merge(
                    common(n),
                    json!({"type": "assistant", "message": {"id": format!("msg_{n}"),
                        "role": "assistant", "content": [{"type": "tool_use", "id": id,
                        "name": "Bash", "input": {"command": cmd}}]}}),
                ));
                let result = if *code == 0 {
                    output.clone()
                } else {
                    format!("Exit code {code}\n{output}")
                };
                lines.push(merge(
                    common(n + 1),
                    json!({"type": "user", "message": {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": id, "content": result,
                         "is_error": *code != 0}]}}),
                ));
            }
        }
    }
    let path = dir.join(format!("{session_id}.jsonl"));
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

/// A Claude hook payload.
pub fn payload(event: &str, session_id: &str, cwd: &Path, transcript: &Path) -> String {
    json!({"hook_event_name": event, "session_id": session_id, "cwd": cwd,
           "transcript_path": transcript, "permission_mode": "default"})
    .to_string()
}

/// A UserPromptSubmit payload with `prompt`.
pub fn prompt_payload(session_id: &str, cwd: &Path, transcript: &Path, prompt: &str) -> String {
    json!({"hook_event_name": "UserPromptSubmit", "session_id": session_id, "cwd": cwd,
           "transcript_path": transcript, "permission_mode": "default", "prompt": prompt})
    .to_string()
}

/// Runs `csep hook <event> --host claude` with `stdin`; `spawn` lets Stop start the worker.
pub fn hook(t: &TestHome, event: &str, stdin: &str, spawn: bool) -> Output {
    let mut cmd = t.csep(&["hook", event, "--host", "claude"]);
    if !spawn {
        cmd.env("CSEP_NO_SPAWN_WORKER", "1");
    }
    cmd.write_stdin(stdin.to_owned()).output().unwrap()
}

/// Runs `csep worker --json` in the foreground with extra environment.
pub fn worker(t: &TestHome, env: &[(&str, &str)]) -> Output {
    let mut cmd = t.csep(&["worker", "--json"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Opens the home's database.
pub fn db(t: &TestHome) -> Connection {
    Connection::open(t.home().join("csep.db")).unwrap()
}

/// `SELECT count(*) …` on the home's database.
pub fn count(t: &TestHome, sql: &str) -> i64 {
    db(t).query_row(sql, [], |r| r.get(0)).unwrap()
}

/// `PRAGMA integrity_check` result.
pub fn integrity(t: &TestHome) -> String {
    db(t)
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Creates a git repository at `dir`.
pub fn project(dir: &Path) -> PathBuf {
    crate::real_clients::git_init(dir);
    dir.to_path_buf()
}

/// Writes `<home>/config.toml` with an `openai-compatible` profile at `base` (key in
/// `CSEP_TEST_REVIEW_KEY`), plus `extra` TOML.
pub fn provider_config(t: &TestHome, base: &str, extra: &str) {
    std::fs::create_dir_all(t.home()).unwrap();
    std::fs::write(
        t.home().join("config.toml"),
        format!(
            "active_profile = \"fake\"\n{extra}\n[profiles.fake]\nprovider = \"openai-compatible\"\n\
             model = \"fake-reviewer\"\nbase_url = \"{base}\"\napi_key_env = \"CSEP_TEST_REVIEW_KEY\"\n\
             max_retries = 0\ntimeout_seconds = 10\n"
        ),
    )
    .unwrap();
}
