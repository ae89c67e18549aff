//! `csep review` then `csep compile` by hand, on the demo's sample sessions backfilled with
//! `csep import codex-sessions`.

use crate::support::{TestHome, backfill_demo_sessions, stdout_json, use_scripted_provider};

#[test]
fn review_dry_run_proposes_without_queueing_then_review_and_compile_learn() {
    let t = TestHome::new();
    let project = backfill_demo_sessions(&t);
    let dry = stdout_json(
        &t.csep(&["review", "--dry-run", "--json", "--cwd"])
            .arg(&project)
            .output()
            .unwrap(),
    );
    let proposed: usize = dry
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"]["proposed"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(proposed >= 3, "{dry}");
    let before = stdout_json(
        &t.csep(&["compile-preflight", "--json", "--repo-root"])
            .arg(&project)
            .output()
            .unwrap(),
    );
    assert_eq!(before["pending"], 0, "a dry run queued something: {before}");

    t.csep(&["review", "--cwd"])
        .arg(&project)
        .assert()
        .success();
    t.csep(&["compile", "--repo-root"])
        .arg(&project)
        .assert()
        .success();
    let listed = t
        .csep(&["memory", "list", "--cwd"])
        .arg(&project)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("cargo nextest run"), "{text}");
    assert!(text.contains("docker compose up -d db"), "{text}");
    // Reviewing again finds nothing new: the cursor moved.
    let again = stdout_json(
        &t.csep(&["review", "--json", "--cwd"])
            .arg(&project)
            .output()
            .unwrap(),
    );
    assert!(
        again
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["result"]["reason"] == "no new messages"),
        "{again}"
    );
}

#[test]
fn the_llm_backend_consolidates_queued_operations_through_the_active_provider() {
    let t = TestHome::new();
    let project = backfill_demo_sessions(&t);
    t.csep(&["review", "--cwd"])
        .arg(&project)
        .assert()
        .success();
    use_scripted_provider(
        &t,
        r#"{"operations":[{"op":"add","scope":"project","kind":"command","summary":"Run the checks with cargo clippy then cargo nextest run"}]}"#,
    );
    let out = t
        .csep(&["compile", "--backend", "llm", "--json", "--repo-root"])
        .arg(&project)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let listed = t
        .csep(&["memory", "list", "--cwd"])
        .arg(&project)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains("Run the checks with cargo clippy then cargo nextest run"),
        "{text}"
    );
    assert!(
        !text.contains("docker compose"),
        "the proposal was applied instead of the consolidation: {text}"
    );
    let conn = rusqlite::Connection::open(t.home().join("csep.db")).unwrap();
    let calls: i64 = conn
        .query_row(
            "SELECT count(*) FROM budget_ledger WHERE purpose = 'compile'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(calls >= 1);
}

/// Puts a stand-in for an agent CLI (`pi`, `opencode`) in `<scratch>/bin`: it records its
/// arguments and working directory, checks that the input file attached with `@<file>` (pi) or
/// `--file <file>` (opencode) exists, and prints `events` (JSON lines) as the real CLI's JSON
/// mode would.
fn fake_agent_cli(t: &TestHome, name: &str, events: &[String]) -> std::path::PathBuf {
    let bin = t.scratch().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let events_file = t.scratch().join(format!("{name}-events.jsonl"));
    std::fs::write(&events_file, events.join("\n") + "\n").unwrap();
    let log = t.scratch().join(format!("{name}-call.txt"));
    let script = format!(
        "#!/bin/sh\n\
         pwd > '{log}'\n\
         for a in \"$@\"; do printf '%s\\n' \"$a\" >> '{log}'; done\n\
         input=$(printf '%s\\n' \"$@\" | sed -n 's/^@//; /payload.txt$/p' | head -n 1)\n\
         [ -f \"$input\" ] || {{ echo \"no input file: $input\" >&2; exit 3; }}\n\
         cat '{events}'\n",
        log = log.display(),
        events = events_file.display()
    );
    let path = bin.join(name);
    std::fs::write(&path, script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    log
}

#[rstest::rstest]
#[case::pi("pi", vec![
    r#"{"type":"session","id":"s"}"#.to_owned(),
    r#"{"type":"message_end","message":{"role":"user","content":[{"type":"text","text":"ignored"}]}}"#.to_owned(),
    serde_json::json!({"type": "message_end", "message": {"role": "assistant", "usage": {"input": 900, "output": 60}, "content": [
        {"type": "thinking", "thinking": "merge them"},
        {"type": "text", "text": "```json\n{\"operations\":[{\"op\":\"add\",\"scope\":\"project\",\"kind\":\"command\",\"summary\":\"Run the checks with cargo clippy then cargo nextest run\"}]}\n```"}
    ]}}).to_string(),
])]
#[case::opencode("opencode", vec![
    r#"{"type":"step_start","part":{"type":"step-start"}}"#.to_owned(),
    serde_json::json!({"type": "text", "part": {"type": "text", "text": "{\"operations\":[{\"op\":\"add\",\"scope\":\"project\","}}).to_string(),
    serde_json::json!({"type": "text", "part": {"type": "text", "text": "\"kind\":\"command\",\"summary\":\"Run the checks with cargo clippy then cargo nextest run\"}]}"}}).to_string(),
    r#"{"type":"step_finish","part":{"type":"step-finish","tokens":{"input":900,"output":60,"reasoning":0}}}"#.to_owned(),
])]
fn an_agent_cli_backend_consolidates_through_the_users_cli(
    #[case] cli: &str,
    #[case] events: Vec<String>,
) {
    let t = TestHome::new();
    let project = backfill_demo_sessions(&t);
    t.csep(&["review", "--cwd"])
        .arg(&project)
        .assert()
        .success();
    let call_log = fake_agent_cli(&t, cli, &events);
    let backend = format!("agent:{cli}");
    let out = t
        .csep(&["compile", "--backend", &backend, "--json", "--repo-root"])
        .arg(&project)
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", t.scratch().join("bin").display()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    assert_eq!(v["runs"][0]["status"], "ok", "{v:#}");
    let call = std::fs::read_to_string(&call_log).unwrap();
    let mut lines = call.lines();
    let cwd = lines.next().unwrap();
    assert!(
        !cwd.starts_with(project.to_str().unwrap()),
        "the agent runs in an empty directory, not the repository: {cwd}"
    );
    let args: Vec<&str> = lines.collect();
    let expected_head: &[&str] = if cli == "pi" {
        &["-p", "--mode", "json", "--no-session"]
    } else {
        &["run", "--format", "json", "--file"]
    };
    assert_eq!(&args[..expected_head.len()], expected_head, "{call}");
    let listed = t
        .csep(&["memory", "list", "--cwd"])
        .arg(&project)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains("Run the checks with cargo clippy then cargo nextest run"),
        "{text}"
    );
    let conn = rusqlite::Connection::open(t.home().join("csep.db")).unwrap();
    let (provider, tokens): (String, i64) = conn
        .query_row(
            "SELECT provider, input_tokens FROM budget_ledger WHERE purpose = 'compile'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(provider.contains(cli), "{provider}");
    assert_eq!(tokens, 900, "usage comes from the CLI's events");
}
