use super::*;
use crate::host::Host;
use crate::skills::test_support::{
    Turn, check_procedure, claude_transcript, codex_rollout, ingest,
};
use pretty_assertions::assert_eq;
use rstest::rstest;

#[rstest]
#[case::cargo_with_package("cargo test -p foo --lib", Some("cargo test"))]
#[case::toolchain("cargo +nightly fmt --all", Some("cargo fmt"))]
#[case::git_with_dir("git -C /repo commit -m 'msg'", Some("git commit"))]
#[case::env_and_sudo("RUST_LOG=debug sudo make build", Some("make build"))]
#[case::absolute_program("/usr/bin/pytest tests/test_x.py -q", Some("pytest"))]
#[case::npm_script("npm run lint -- --fix", Some("npm run lint"))]
#[case::python_module("python3 -m pytest -x", Some("python3 -m pytest"))]
#[case::python_script("python scripts/gen.py --out x", Some("python"))]
#[case::go_test("go test ./...", Some("go test"))]
#[case::exploration_ls("ls -la src", None)]
#[case::exploration_grep("grep -rn foo .", None)]
#[case::variable_program("$EDITOR file", None)]
fn commands_normalize_to_program_and_subcommand(
    #[case] command: &str,
    #[case] expected: Option<&str>,
) {
    assert_eq!(normalize_command(command).as_deref(), expected);
}

#[test]
fn scripts_split_into_commands_outside_quotes() {
    let keys: Vec<String> =
        normalize_script("cd app && cargo fmt; echo 'a && b' | cat\ncargo test")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
    assert_eq!(keys, ["cargo fmt", "cargo test"]);
}

#[rstest]
#[case::codex_exec_command("exec_command", r#"{"cmd":"cargo test"}"#, Some("cargo test"))]
#[case::codex_shell_array(
    "shell",
    r#"{"command":["bash","-lc","make build"]}"#,
    Some("make build")
)]
#[case::codex_argv("shell", r#"{"command":["cargo","test"]}"#, Some("cargo test"))]
#[case::claude_bash(
    "Bash",
    r#"{"command":"npm test","description":"x"}"#,
    Some("npm test")
)]
#[case::not_a_shell_tool("Read", r#"{"file_path":"/x"}"#, None)]
fn shell_scripts_are_read_from_both_hosts_tool_calls(
    #[case] tool: &str,
    #[case] args: &str,
    #[case] expected: Option<&str>,
) {
    assert_eq!(shell_script(tool, args).as_deref(), expected);
}

#[rstest]
#[case::codex_ok("Chunk ID: 1\nProcess exited with code 0\nOutput:\n", true)]
#[case::codex_failed("Chunk ID: 1\nProcess exited with code 101\nOutput:\n", false)]
#[case::claude_failed("Exit code 1\nerror[E0308]: mismatched types", false)]
#[case::claude_ok("test result: ok. 3 passed", true)]
#[case::tool_error("<tool_use_error>File not found</tool_use_error>", false)]
fn tool_outputs_report_success_or_failure(#[case] output: &str, #[case] ok: bool) {
    assert_eq!(output_succeeded(output), ok);
}

fn query() -> EvidenceQuery {
    EvidenceQuery {
        since: "2026-01-01T00:00:00.000Z".into(),
        project_id: None,
    }
}

#[test]
fn a_procedure_repeated_in_three_sessions_of_both_hosts_is_found_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in_memory().unwrap();
    let c1 = codex_rollout(
        dir.path(),
        "s1",
        "2026-11-20T10:00:00Z",
        &check_procedure("check the build before I commit"),
    );
    let c2 = codex_rollout(
        dir.path(),
        "s2",
        "2026-11-21T10:00:00Z",
        &check_procedure("please check the build"),
    );
    let c3 = claude_transcript(
        dir.path(),
        "s3",
        "2026-11-22T10:00:00Z",
        &check_procedure("run the checks"),
    );
    // A fourth session runs something else.
    let c4 = codex_rollout(
        dir.path(),
        "s4",
        "2026-11-22T11:00:00Z",
        &[
            Turn::User("deploy"),
            Turn::Run("make deploy", 0),
            Turn::Run("make smoke", 0),
        ],
    );
    ingest(&mut store, Host::Codex, &c1);
    ingest(&mut store, Host::Codex, &c2);
    ingest(&mut store, Host::Claude, &c3);
    ingest(&mut store, Host::Codex, &c4);
    let bundle = collect(&store, &query(), Vec::new(), &|_, _| {}).unwrap();
    assert_eq!(bundle.counts.sessions, 4);
    assert_eq!(bundle.procedures.len(), 1, "{:#?}", bundle.procedures);
    let p = &bundle.procedures[0];
    assert_eq!(p.keys, ["cargo fmt", "cargo clippy", "cargo test"]);
    assert_eq!(p.sessions(), 3);
    let intents: Vec<_> = p
        .occurrences
        .iter()
        .filter_map(|o| o.intent.as_deref())
        .collect();
    assert_eq!(
        intents,
        [
            "check the build before I commit",
            "please check the build",
            "run the checks"
        ]
    );
    assert_eq!(p.occurrences[2].session, "claude:s3");
    assert_eq!(p.occurrences[0].raw[0], "cargo fmt --all");
}

#[test]
fn a_sequence_that_ended_in_failure_is_not_a_procedure() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in_memory().unwrap();
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        let p = codex_rollout(
            dir.path(),
            id,
            &format!("2026-11-2{i}T10:00:00Z"),
            &[
                Turn::User("build"),
                Turn::Run("make build", 0),
                Turn::Run("make test", 2),
            ],
        );
        ingest(&mut store, Host::Codex, &p);
    }
    let bundle = collect(&store, &query(), Vec::new(), &|_, _| {}).unwrap();
    assert_eq!(bundle.procedures, vec![]);
}

#[test]
fn failure_then_fix_then_success_is_a_failure_fix_pair() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in_memory().unwrap();
    let p = codex_rollout(
        dir.path(),
        "f1",
        "2026-11-20T10:00:00Z",
        &[
            Turn::User("run tests"),
            Turn::Run("cargo test", 101),
            Turn::Edit,
            Turn::Run("cargo update -p serde", 0),
            Turn::Run("cargo test", 0),
        ],
    );
    ingest(&mut store, Host::Codex, &p);
    let bundle = collect(&store, &query(), Vec::new(), &|_, _| {}).unwrap();
    assert_eq!(bundle.failure_fixes.len(), 1);
    assert_eq!(bundle.failure_fixes[0].key, "cargo test");
    assert_eq!(bundle.failure_fixes[0].fix, [EDIT_STEP, "cargo update"]);
}

#[test]
fn corrections_and_explicit_skill_requests_are_collected() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in_memory().unwrap();
    let p = claude_transcript(
        dir.path(),
        "r1",
        "2026-11-20T10:00:00Z",
        &[
            Turn::User("release the crate"),
            Turn::Run("cargo publish --dry-run", 0),
            Turn::User("no, always run cargo package first"),
            Turn::Run("cargo package", 0),
            Turn::Run("cargo publish", 0),
            Turn::User("great, make this a skill"),
        ],
    );
    ingest(&mut store, Host::Claude, &p);
    let bundle = collect(&store, &query(), Vec::new(), &|_, _| {}).unwrap();
    assert_eq!(bundle.corrections.len(), 1);
    assert_eq!(
        bundle.corrections[0].text,
        "no, always run cargo package first"
    );
    assert_eq!(bundle.requests.len(), 1);
    let keys: Vec<_> = bundle.requests[0]
        .steps
        .iter()
        .map(|s| s.key.as_str())
        .collect();
    assert_eq!(keys, ["cargo publish", "cargo package", "cargo publish"]);
    assert_eq!(
        bundle.requests[0].intent.as_deref(),
        Some("release the crate")
    );
}

#[test]
fn sessions_outside_the_window_or_another_project_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in_memory().unwrap();
    let old = codex_rollout(
        dir.path(),
        "old",
        "2025-01-01T10:00:00Z",
        &check_procedure("x"),
    );
    ingest(&mut store, Host::Codex, &old);
    let bundle = collect(&store, &query(), Vec::new(), &|_, _| {}).unwrap();
    assert_eq!(bundle.counts.sessions, 0);
    let q = EvidenceQuery {
        since: "2024-01-01T00:00:00.000Z".into(),
        project_id: Some("p_other".into()),
    };
    assert_eq!(
        collect(&store, &q, Vec::new(), &|_, _| {})
            .unwrap()
            .counts
            .sessions,
        0
    );
}

#[test]
fn recorded_reviewer_candidates_are_evidence() {
    let store = Store::open_in_memory().unwrap();
    crate::skills::lifecycle::record_candidate(
        &store,
        None,
        "release crate",
        "Use when releasing the crate.",
        &["Run `cargo package`.".into(), "Run `cargo publish`.".into()],
        &["session:codex:s1".into()],
        "2026-11-20T10:00:00.000Z",
    )
    .unwrap();
    let bundle = collect(&store, &query(), Vec::new(), &|_, _| {}).unwrap();
    assert_eq!(bundle.candidates.len(), 1);
    assert_eq!(bundle.candidates[0].name, "csep-release-crate");
    assert_eq!(
        bundle.candidates[0].steps,
        ["Run `cargo package`.", "Run `cargo publish`."]
    );
}
