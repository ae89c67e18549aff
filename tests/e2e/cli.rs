//! The command-line surface: both binaries, help with examples, exit codes and the log line.

use predicates::prelude::*;

use crate::support::{TestHome, stdout_json};

#[test]
fn both_binaries_report_the_same_version() {
    let t = TestHome::new();
    let want = format!("csep {}", env!("CARGO_PKG_VERSION"));
    t.csep(&["--version"])
        .assert()
        .success()
        .stdout(predicate::str::contains(want.clone()));
    t.reference(&["--version"])
        .assert()
        .success()
        .stdout(predicate::str::contains(want));
}

#[test]
fn every_reference_command_has_help_with_an_example() {
    let t = TestHome::new();
    for command in [
        "session-start",
        "stop-review",
        "compile",
        "compile-preflight",
        "status",
        "scan",
        "skill-synthesize",
        "config",
        "migrate-worktrees",
        "recall",
        "recall-trigger",
        "eval-compiler",
        "hook",
        "memory",
        "skills",
        "doctor",
        "usage",
        "install",
        "uninstall",
        "eval",
        "demo",
        "mcp",
        "import",
        "project",
        "completions",
    ] {
        t.reference(&[command, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("Examples:"));
    }
}

#[test]
fn unknown_flags_are_usage_errors_with_exit_two() {
    let t = TestHome::new();
    t.csep(&["status", "--bogus"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--bogus"));
}

#[test]
fn review_on_a_fresh_home_is_a_one_line_actionable_error() {
    let t = TestHome::new();
    t.csep(&["review"]).assert().code(1).stderr(
        predicate::str::contains("nothing archived yet")
            .and(predicate::str::contains("csep install")),
    );
}

#[test]
fn each_command_writes_one_summary_log_line_with_exit_code_and_duration() {
    let t = TestHome::new();
    t.csep(&["config", "path"]).assert().success();
    t.csep(&["status"]).assert().success();
    t.csep(&["review"]).assert().code(1);
    let log = std::fs::read_to_string(t.home().join("logs/csep.log")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<_> = lines
        .iter()
        .map(|l| (l["kind"].clone(), l["exit_code"].clone()))
        .collect();
    assert!(
        kinds.contains(&(serde_json::json!("status"), serde_json::json!(0))),
        "{log}"
    );
    assert!(
        kinds.contains(&(serde_json::json!("review"), serde_json::json!(1))),
        "{log}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["duration_ms"].is_u64() && l["message"] == "cli command completed")
    );
}

#[test]
fn project_folds_a_subdirectory_into_its_repository() {
    let t = TestHome::new();
    let repo = t.scratch().join("repo");
    std::fs::create_dir_all(repo.join(".git/objects")).unwrap();
    std::fs::create_dir_all(repo.join(".git/refs")).unwrap();
    std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::create_dir_all(repo.join("src/deep")).unwrap();
    let root = stdout_json(
        &t.csep(&["project", "--json", "--cwd"])
            .arg(&repo)
            .output()
            .unwrap(),
    );
    let sub = stdout_json(
        &t.csep(&["project", "--json", "--cwd"])
            .arg(repo.join("src/deep"))
            .output()
            .unwrap(),
    );
    assert_eq!(root["id"], sub["id"]);
    assert_eq!(root["kind"], "worktree");
    assert_eq!(root["registered"], false);
}

#[test]
fn a_missing_working_directory_is_a_one_line_error() {
    let t = TestHome::new();
    let gone = t.scratch().join("gone");
    t.csep(&["project", "--cwd"])
        .arg(&gone)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("does not exist").and(predicate::str::contains("--cwd")));
}

/// `csep … | head` closes the pipe early: what the reader read is all it wanted, so csep exits
/// quietly and successfully rather than reporting a broken pipe.
#[test]
fn a_reader_that_closes_the_pipe_early_is_not_an_error() {
    let t = TestHome::new();
    let mut child = t
        .csep_process(&["--json", "status"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("Broken pipe"),
        "{out:?}"
    );
}
