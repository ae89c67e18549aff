//! `csep mcp` spoken to as an MCP client does: newline-delimited JSON-RPC on the server's stdin
//! and stdout (initialize, notifications/initialized, tools/list, tools/call), with raw JSON
//! lines so the test checks the wire format itself rather than an SDK's view of it. Then
//! `csep install <host> --mcp` round trips, and the real Codex CLI and Claude Code listing and
//! starting the registered server (skipped like `real_clients` when a CLI is missing).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::real_clients::{
    CodexScene, base_env, client_bin, git_init, run_client, wait_for_worker,
};
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
    // `since` and `host` filter as on the command line (memory is host-independent).
    let (text, is_error) = client.call(
        "recall",
        &json!({"query": "nextest", "since": "2999-01-01"}),
    );
    assert!(!is_error && text.contains("Status: no_match"), "{text}");
    let (text, is_error) = client.call("recall", &json!({"query": "nextest", "host": "claude"}));
    assert!(!is_error && text.contains("cargo nextest"), "{text}");
    // Only Codex sessions are archived here: `host` keeps or drops them.
    let codex = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/codex");
    t.csep(&["import", "codex-sessions", "--dir", codex])
        .assert()
        .success();
    for (host, found) in [("codex", true), ("claude", false)] {
        let (text, is_error) = client.call(
            "recall",
            &json!({"query": "echo tool-ran", "host": host, "scope": "sessions"}),
        );
        assert!(!is_error, "{text}");
        assert_eq!(text.contains("Status: matched"), found, "{host}: {text}");
    }
    let (text, is_error) = client.call("recall", &json!({"query": "nextest", "since": "soon"}));
    assert!(is_error && text.contains("cannot read --since"), "{text}");
    // An argument the tool does not have is refused, not ignored.
    let (text, is_error) = client.call("recall", &json!({"query": "nextest", "project": "x"}));
    assert!(
        is_error && text.contains("unknown field `project`"),
        "{text}"
    );

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

/// The csep binary as the install commands record it.
fn csep_exe() -> String {
    std::fs::canonicalize(env!("CARGO_BIN_EXE_csep"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The names of the tools a model request offers, a namespace's tools as `<namespace>/<name>`.
fn tool_names(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    for tool in value["tools"].as_array().into_iter().flatten() {
        let name = format!("{prefix}{}", tool["name"].as_str().unwrap_or(""));
        if tool["type"] == "namespace" {
            tool_names(tool, &format!("{name}/"), out);
        } else {
            out.push(name);
        }
    }
}

fn csep_ok(t: &TestHome, args: &[&str]) -> String {
    let out = t.csep(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn codex_install_with_mcp_adds_the_server_and_uninstall_restores_the_config_bytes() {
    let t = TestHome::new();
    let codex_home = t.scratch().join("codex-home");
    std::fs::create_dir_all(&codex_home).unwrap();
    let config = codex_home.join("config.toml");
    let before = "# my settings\nmodel = \"o3\"   # keep this spacing\n\n[mcp_servers.docs]\ncommand = \"docs-mcp\"\n";
    std::fs::write(&config, before).unwrap();
    let dir = codex_home.to_string_lossy().into_owned();

    let out = csep_ok(&t, &["install", "codex", "--mcp", "--codex-home", &dir]);
    assert!(out.contains("mcp: added"), "{out}");
    let text = std::fs::read_to_string(&config).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    let server = &doc["mcp_servers"]["csep"];
    assert_eq!(
        server["command"].as_str(),
        Some(csep_exe().as_str()),
        "{text}"
    );
    let home = t.home().to_string_lossy().into_owned();
    assert_eq!(
        server["args"],
        toml::Value::Array(vec!["--home".into(), home.as_str().into(), "mcp".into()])
    );
    assert_eq!(
        doc["mcp_servers"]["docs"]["command"].as_str(),
        Some("docs-mcp")
    );
    assert!(text.starts_with(before), "user content moved: {text}");
    assert!(
        codex_home.join("hooks.json").is_file(),
        "hooks installed too"
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.home().join("install/codex.json")).unwrap(),
    )
    .unwrap();
    assert!(manifest["mcp"]["server"]["args"].is_array(), "{manifest}");
    let status = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    assert_eq!(status["hooks"]["codex"]["mcp"], true, "{status}");
    assert!(csep_ok(&t, &["status"]).contains("codex: installed, trusted; MCP server registered"));

    // The server removed by hand: status says so, and how to put it back.
    let mut edited = doc.clone();
    edited["mcp_servers"].as_table_mut().unwrap().remove("csep");
    std::fs::write(&config, toml::to_string(&edited).unwrap()).unwrap();
    let status = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    assert_eq!(status["hooks"]["codex"]["mcp"], false, "{status}");
    assert!(
        status["hooks"]["codex"]["note"]
            .as_str()
            .is_some_and(|n| n.contains("rerun `csep install codex --mcp`")),
        "{status}"
    );
    let shown = csep_ok(&t, &["status"]);
    assert!(shown.contains("MCP server missing"), "{shown}");
    std::fs::write(&config, &text).unwrap();

    // A later install without --mcp keeps the server and changes nothing.
    let out = csep_ok(&t, &["install", "codex", "--codex-home", &dir]);
    assert!(out.contains("already installed"), "{out}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text);

    // `uninstall --mcp` removes the server only; the hooks stay.
    let out = csep_ok(&t, &["uninstall", "codex", "--mcp"]);
    assert!(
        out.lines()
            .any(|l| l.contains("mcp: ") && l.contains("config.toml")),
        "{out}"
    );
    let hooks_only = std::fs::read_to_string(&config).unwrap();
    assert!(!hooks_only.contains("mcp_servers.csep"), "{hooks_only}");
    assert!(hooks_only.contains("hooks.state"), "{hooks_only}");
    assert!(codex_home.join("hooks.json").is_file());
    let status = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    assert!(status["hooks"]["codex"].get("mcp").is_none(), "{status}");

    // Register again, then a full uninstall gives back the original bytes.
    csep_ok(&t, &["install", "codex", "--mcp", "--codex-home", &dir]);
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("[mcp_servers.csep]")
    );
    csep_ok(&t, &["uninstall", "codex"]);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    assert!(!codex_home.join("hooks.json").exists());
    assert!(!t.home().join("install/codex.json").exists());
}

#[test]
fn a_dry_run_with_mcp_says_what_it_would_register_and_changes_nothing() {
    let t = TestHome::new();
    let codex_home = t.scratch().join("codex-home");
    let dir = codex_home.to_string_lossy().into_owned();
    let out = csep_ok(
        &t,
        &[
            "install",
            "codex",
            "--mcp",
            "--dry-run",
            "--codex-home",
            &dir,
        ],
    );
    assert!(out.contains("[mcp_servers.csep]"), "{out}");
    assert!(out.contains("would add"), "{out}");
    assert!(!codex_home.exists());
}

#[test]
fn the_real_codex_lists_and_launches_the_registered_server() {
    let Some(codex) = client_bin("codex", "CSEP_TEST_CODEX_BIN") else {
        return;
    };
    let t = TestHome::new();
    let scene = CodexScene::new(&t);
    let CodexScene {
        server, codex_home, ..
    } = &scene;
    let work = t.scratch().join("work");
    git_init(&work);
    let before = std::fs::read_to_string(codex_home.join("config.toml")).unwrap();
    let dir = codex_home.to_string_lossy().into_owned();
    csep_ok(&t, &["install", "codex", "--mcp", "--codex-home", &dir]);

    let out = scene.codex(&codex, &work, &[], &["mcp", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let csep = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "csep")
        .unwrap_or_else(|| panic!("codex does not list csep: {listed}"));
    assert_eq!(csep["enabled"], true, "{csep}");
    assert_eq!(csep["transport"]["command"], csep_exe().as_str(), "{csep}");
    assert_eq!(
        csep["transport"]["args"],
        json!(["--home", t.home().to_string_lossy(), "mcp"])
    );

    // A session starts the server: its tools reach the model request.
    scene.codex(
        &codex,
        &work,
        &[],
        &["exec", "--skip-git-repo-check", "hello"],
    );
    let request = server.model_requests().first().cloned().unwrap();
    let mut tools = Vec::new();
    tool_names(&request, "", &mut tools);
    for tool in ["remember", "recall", "forget", "list_memories"] {
        assert!(
            tools
                .iter()
                .any(|name| name.contains("csep") && name.ends_with(tool)),
            "no csep tool {tool} among the model's tools: {tools:?}"
        );
    }
    wait_for_worker(&t.home().join("csep.db"));

    csep_ok(&t, &["uninstall", "codex"]);
    assert_eq!(
        std::fs::read_to_string(codex_home.join("config.toml")).unwrap(),
        before
    );
}

#[test]
fn claude_install_with_mcp_uses_claude_mcp_add_and_uninstall_reverses_it() {
    let Some(claude) = client_bin("claude", "CSEP_TEST_CLAUDE_BIN") else {
        return;
    };
    let t = TestHome::new();
    let config_dir = t.scratch().join("claude-config");
    std::fs::create_dir_all(&config_dir).unwrap();
    let settings_before = "{\n  \"permissions\": {\"allow\": [\"Bash(ls)\"]}\n}\n";
    std::fs::write(config_dir.join("settings.json"), settings_before).unwrap();
    let user_json = config_dir.join(".claude.json");
    let user_before = "{\n  \"numStartups\": 7\n}\n";
    std::fs::write(&user_json, user_before).unwrap();
    let dir = config_dir.to_string_lossy().into_owned();
    let bin = claude.to_string_lossy().into_owned();
    let install = [
        "install",
        "claude",
        "--mcp",
        "--claude-config-dir",
        &dir,
        "--host-bin",
        &bin,
    ];

    let out = csep_ok(&t, &install);
    assert!(out.contains("mcp add --scope user csep"), "{out}");
    let registered: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&user_json).unwrap()).unwrap();
    assert_eq!(registered["numStartups"], 7);
    let server = &registered["mcpServers"]["csep"];
    assert_eq!(server["command"], csep_exe().as_str(), "{registered}");
    assert_eq!(
        server["args"],
        json!(["--home", t.home().to_string_lossy(), "mcp"])
    );

    // Nothing touched the file since: uninstall gives back its bytes, and the settings'.
    csep_ok(&t, &["uninstall", "claude"]);
    assert_eq!(std::fs::read_to_string(&user_json).unwrap(), user_before);
    assert_eq!(
        std::fs::read_to_string(config_dir.join("settings.json")).unwrap(),
        settings_before
    );

    // Claude itself lists the server and connects to it (its health check starts it).
    csep_ok(&t, &install);
    let user_home = t.scratch().join("user");
    std::fs::create_dir_all(&user_home).unwrap();
    let mut cmd = Command::new(&claude);
    base_env(&mut cmd, &user_home);
    cmd.env("CLAUDE_CONFIG_DIR", &config_dir)
        .current_dir(t.scratch())
        .args(["mcp", "list"]);
    let out = run_client(cmd);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(listed.contains("csep:"), "{listed}");
    assert!(listed.contains("Connected"), "{listed}");

    // Claude rewrote its file since: uninstall removes only the server.
    csep_ok(&t, &["uninstall", "claude"]);
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&user_json).unwrap()).unwrap();
    assert!(after["mcpServers"].get("csep").is_none(), "{after}");
    assert_eq!(after["numStartups"], 7);
}

#[test]
fn claude_plugin_install_with_mcp_round_trips_both_files_byte_identical() {
    let Some(claude) = client_bin("claude", "CSEP_TEST_CLAUDE_BIN") else {
        return;
    };
    let t = TestHome::new();
    let config_dir = t.scratch().join("claude-config");
    std::fs::create_dir_all(&config_dir).unwrap();
    let settings = config_dir.join("settings.json");
    let settings_before = "{\n  \"permissions\": {\"allow\": [\"Bash(ls)\"]}\n}\n";
    std::fs::write(&settings, settings_before).unwrap();
    let user_json = config_dir.join(".claude.json");
    let user_before = "{\n  \"numStartups\": 7\n}\n";
    std::fs::write(&user_json, user_before).unwrap();
    let dir = config_dir.to_string_lossy().into_owned();
    let bin = claude.to_string_lossy().into_owned();
    csep_ok(
        &t,
        &[
            "install",
            "claude",
            "--plugin",
            "--mcp",
            "--claude-config-dir",
            &dir,
            "--host-bin",
            &bin,
        ],
    );
    let text = std::fs::read_to_string(&settings).unwrap();
    assert!(text.contains("csep@csep-local"), "{text}");
    let user: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&user_json).unwrap()).unwrap();
    assert_eq!(
        user["mcpServers"]["csep"]["command"],
        csep_exe().as_str(),
        "{user}"
    );
    let status = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    assert_eq!(status["hooks"]["claude"]["installed"], true, "{status}");
    assert_eq!(status["hooks"]["claude"]["mcp"], true, "{status}");

    csep_ok(&t, &["uninstall", "claude"]);
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), settings_before);
    assert_eq!(std::fs::read_to_string(&user_json).unwrap(), user_before);
}
