//! `csep mcp` spoken to as an MCP client does: newline-delimited JSON-RPC on the server's stdin
//! and stdout (initialize, notifications/initialized, tools/list, tools/call), with raw JSON
//! lines so the test checks the wire format itself rather than an SDK's view of it.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{TestHome, stdout_json};

/// Longest the server may take to answer one request (it answers in milliseconds).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `csep mcp` and the lines it prints.
struct McpClient {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    next_id: u64,
}

impl McpClient {
    fn start(t: &TestHome, cwd: &Path) -> McpClient {
        let mut child = t
            .csep_process(&["mcp"])
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        McpClient {
            stdin: child.stdin.take(),
            child,
            lines,
            next_id: 1,
        }
    }

    fn send(&mut self, message: &Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends a request and returns its response, skipping any notification in between.
    fn request(&mut self, method: &str, params: &Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => panic!("no answer to {method} in time"),
                Err(RecvTimeoutError::Disconnected) => panic!("the server closed stdout"),
            };
            let message: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
            assert_eq!(message["jsonrpc"], "2.0", "{message}");
            if message["id"] == json!(id) {
                return message;
            }
        }
    }

    /// Calls a tool; returns the text of its result and whether it is an error.
    fn call(&mut self, tool: &str, arguments: &Value) -> (String, bool) {
        let response = self.request("tools/call", &json!({"name": tool, "arguments": arguments}));
        let result = &response["result"];
        assert!(result.is_object(), "{tool}: {response}");
        let text = result["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("{tool}: no text content: {response}"))
            .to_owned();
        (text, result["isError"] == json!(true))
    }

    /// Closes stdin (the client going away) and waits for the server to exit.
    fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit after stdin closed"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for McpClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_mcp_client_remembers_recalls_and_forgets_over_stdio() {
    let t = TestHome::new();
    let project = t.scratch().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let mut client = McpClient::start(&t, &project);

    let init = client.request(
        "initialize",
        &json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "csep-e2e", "version": "1.0.0"}
        }),
    );
    let result = &init["result"];
    assert_eq!(result["serverInfo"]["name"], "csep", "{init}");
    assert_eq!(result["protocolVersion"], "2025-06-18", "{init}");
    assert!(result["capabilities"]["tools"].is_object(), "{init}");
    assert!(
        result["instructions"]
            .as_str()
            .unwrap()
            .contains("remember")
    );
    client.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));

    let tools = client.request("tools/list", &json!({}));
    let mut names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["forget", "list_memories", "recall", "remember"]);
    let remember_schema = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "remember")
        .unwrap()["inputSchema"]
        .clone();
    assert_eq!(remember_schema["required"], json!(["text", "scope"]));

    let (text, is_error) = client.call(
        "remember",
        &json!({
            "text": "Always run the test suite with cargo nextest in this repository",
            "scope": "project",
            "kind": "rule"
        }),
    );
    assert!(!is_error, "{text}");
    let id = text
        .strip_prefix("added ")
        .unwrap_or_else(|| panic!("unexpected remember answer: {text}"))
        .to_owned();
    assert!(id.starts_with("m_"), "{id}");

    // The same rules as `csep memory add`: a duplicate is skipped, a secret refused.
    let (text, is_error) = client.call(
        "remember",
        &json!({
            "text": "Always run the test suite with cargo nextest in this repository",
            "scope": "project"
        }),
    );
    assert!(!is_error, "{text}");
    assert!(text.contains(&format!("already known as {id}")), "{text}");
    let (text, is_error) = client.call(
        "remember",
        &json!({"text": "token sk-proj-AbC123dEf456GhI789jKl012MnO345pQr678", "scope": "user"}),
    );
    assert!(is_error, "{text}");
    assert!(text.contains("secret"), "{text}");

    let (text, is_error) = client.call("list_memories", &json!({}));
    assert!(!is_error, "{text}");
    assert!(
        text.contains(&format!(
            "`{id}` [project · rule] Always run the test suite with cargo nextest"
        )),
        "{text}"
    );

    let (text, is_error) = client.call("recall", &json!({"query": "nextest"}));
    assert!(!is_error, "{text}");
    assert!(text.contains("Status: matched"), "{text}");
    assert!(text.contains("cargo nextest"), "{text}");

    // The CLI sees the same store, and the history says where the entry came from.
    let listed = stdout_json(
        &t.csep(&["--json", "memory", "list", "--cwd"])
            .arg(&project)
            .output()
            .unwrap(),
    );
    assert_eq!(listed[0]["id"], json!(id), "{listed}");
    let history = stdout_json(
        &t.csep(&["--json", "memory", "history", &id])
            .output()
            .unwrap(),
    );
    assert_eq!(history[0]["source"], "mcp", "{history}");

    let (text, is_error) = client.call("forget", &json!({"id": id}));
    assert!(!is_error, "{text}");
    assert!(text.starts_with(&format!("forgot {id}")), "{text}");

    let (text, is_error) = client.call("recall", &json!({"query": "nextest"}));
    assert!(!is_error, "{text}");
    assert!(text.contains("Status: no_match"), "{text}");
    assert!(!text.contains("cargo nextest"), "{text}");
    let (text, _) = client.call("list_memories", &json!({}));
    assert_eq!(text, "No memory entries yet.\n");

    let (text, is_error) = client.call("forget", &json!({"id": "m_nope"}));
    assert!(is_error, "{text}");
    let (text, is_error) = client.call("recall", &json!({"query": "  "}));
    assert!(is_error, "{text}");
    assert!(text.contains("query"), "{text}");

    let status = client.finish();
    assert!(status.success(), "{status}");
}

#[test]
fn a_tool_call_may_name_another_project_directory() {
    let t = TestHome::new();
    let one = t.scratch().join("one");
    let two = t.scratch().join("two");
    std::fs::create_dir_all(&one).unwrap();
    std::fs::create_dir_all(&two).unwrap();
    let mut client = McpClient::start(&t, &one);
    client.request(
        "initialize",
        &json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "csep-e2e", "version": "1.0.0"}
        }),
    );
    client.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let (text, is_error) = client.call(
        "remember",
        &json!({
            "text": "The staging database is seeded by make seed-staging",
            "scope": "project",
            "kind": "command",
            "cwd": two.to_string_lossy()
        }),
    );
    assert!(!is_error, "{text}");
    let (text, _) = client.call("list_memories", &json!({}));
    assert_eq!(text, "No memory entries yet.\n", "project one has none");
    let (text, _) = client.call("list_memories", &json!({"cwd": two.to_string_lossy()}));
    assert!(text.contains("make seed-staging"), "{text}");
    let (text, _) = client.call(
        "recall",
        &json!({"query": "seed staging", "scope": "project", "cwd": two.to_string_lossy()}),
    );
    assert!(text.contains("Status: matched"), "{text}");
    assert!(client.finish().success());
}
