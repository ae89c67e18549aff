//! `csep memory …` through the real binary, with projections and hand edits.

use predicates::prelude::*;

use crate::support::{TestHome, stdout_json, success_json};

/// Adds a project rule for `cwd` with `csep memory add`, checks it succeeded and returns its id.
fn add_rule(t: &TestHome, cwd: &str, text: &str) -> String {
    success_json(&mut t.csep(&[
        "--json", "memory", "add", "--kind", "rule", "--cwd", cwd, text,
    ]))["entry_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn memory_commands_add_pin_edit_forget_and_undo_with_history() {
    let t = TestHome::new();
    let repo = t.scratch().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let cwd = repo.to_str().unwrap();
    let id = add_rule(&t, cwd, "Errors use thiserror\nNever anyhow in libraries.");
    t.csep(&[
        "memory",
        "add",
        "--scope",
        "user",
        "--kind",
        "preference",
        "--pin",
        "Answer in English",
    ])
    .assert()
    .success();
    t.csep(&[
        "memory",
        "add",
        "--kind",
        "rule",
        "--cwd",
        cwd,
        "errors use THISERROR\nnever anyhow in libraries",
    ])
    .assert()
    .success()
    .stdout(predicate::str::contains(format!("already known as {id}")));

    let user_md = std::fs::read_to_string(t.home().join("USER.md")).unwrap();
    assert!(user_md.contains("· preference · pinned"), "{user_md}");

    t.csep(&["memory", "pin", &id]).assert().success();
    t.csep(&["memory", "edit", &id, "Errors use thiserror everywhere"])
        .assert()
        .success();
    let v = stdout_json(&t.csep(&["--json", "memory", "show", &id]).output().unwrap());
    assert_eq!(v["entry"]["summary"], "Errors use thiserror everywhere");
    assert_eq!(v["entry"]["pinned"], true);
    let ops: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["edit", "pin", "add"]);

    t.csep(&["memory", "forget", &id]).assert().success();
    let listed = stdout_json(
        &t.csep(&["--json", "memory", "list", "--cwd", cwd])
            .output()
            .unwrap(),
    );
    assert!(!listed.to_string().contains(&id));
    t.csep(&["memory", "undo", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("undid"));
    let listed = stdout_json(
        &t.csep(&["--json", "memory", "list", "--cwd", cwd])
            .output()
            .unwrap(),
    );
    assert!(listed.to_string().contains(&id));
    let history = stdout_json(&t.csep(&["--json", "memory", "history"]).output().unwrap());
    assert_eq!(history[0]["op"], "undo");
    assert_eq!(history[0]["after"]["status"], "active");

    t.csep(&[
        "memory",
        "add",
        "--scope",
        "user",
        "token sk-proj-AbC123dEf456GhI789jKl012MnO345pQr678",
    ])
    .assert()
    .code(1)
    .stderr(predicate::str::contains("secret"));
    t.csep(&["memory", "show", "m_nope"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("memory list --all"));
}

#[test]
fn a_hand_edit_of_a_projection_is_imported_by_the_next_change_and_never_overwritten() {
    let t = TestHome::new();
    t.csep(&[
        "memory",
        "add",
        "--scope",
        "user",
        "--kind",
        "preference",
        "Answer in English",
    ])
    .assert()
    .success();
    let path = t.home().join("USER.md");
    let edited = std::fs::read_to_string(&path)
        .unwrap()
        .replace("Answer in English", "Answer in English, briefly")
        + "\n## Use metric units\n`new` · preference\n";
    std::fs::write(&path, edited).unwrap();
    t.csep(&[
        "memory",
        "add",
        "--scope",
        "user",
        "--kind",
        "rule",
        "Never force-push",
    ])
    .assert()
    .success();
    let listed = stdout_json(
        &t.csep(&["--json", "memory", "list", "--scope", "user"])
            .output()
            .unwrap(),
    );
    let summaries: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries.len(), 3, "{summaries:?}");
    assert!(summaries.contains(&"Answer in English, briefly"));
    assert!(summaries.contains(&"Use metric units"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("Answer in English, briefly") && text.contains("Never force-push"));
}

/// SessionStart output for a session in `cwd`.
fn session_start(t: &TestHome, cwd: &str) -> String {
    let payload = serde_json::json!({"session_id": "s-1", "cwd": cwd,
        "hook_event_name": "SessionStart", "source": "startup"});
    let out = t
        .csep(&["hook", "session-start", "--host", "codex"])
        .write_stdin(payload.to_string())
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn memory_changes_reach_the_start_index_at_once_and_forget_takes_effect_immediately() {
    let t = TestHome::new();
    let repo = t.scratch().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let cwd = repo.to_str().unwrap();
    let id = add_rule(&t, cwd, "Ship with make release");
    // The change rebuilt the user's and the project's start index files.
    let dir = t.home().join("start-index");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(files[1], "user.idx");
    assert!(session_start(&t, cwd).contains("Ship with make release"));

    t.csep(&["memory", "forget", &id]).assert().success();
    let out = session_start(&t, cwd);
    assert!(!out.contains("Ship with make release"), "{out}");
    t.csep(&["memory", "undo", &id]).assert().success();
    assert!(session_start(&t, cwd).contains("Ship with make release"));

    // The index is only a cache: without it the hook ranks the entries and says the same.
    let indexed = session_start(&t, cwd);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(session_start(&t, cwd), indexed);
    // `csep worker` writes it again: the user's file and the project's.
    let report = stdout_json(&t.csep(&["worker", "--json"]).output().unwrap());
    assert_eq!(report["start_index_files"], 2, "{report}");
    assert!(dir.join("user.idx").exists());
}
