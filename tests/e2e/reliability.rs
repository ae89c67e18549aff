//! Reliability: the whole loop across sessions (generated transcripts and the real clients),
//! 200 concurrent Stop hooks, kill -9 of the worker at every failpoint, and hostile homes
//! (read-only, full disk, locked database, spaces and non-ASCII in the path).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rstest::rstest;

use crate::fake_model::FakeModel;
use crate::real_clients::{CodexScene, client_bin, wait_for_worker};
use crate::sessions::{self, Item, count, hook, integrity, worker};
use crate::support::{TestHome, stdout_json};

/// Budget a hook must answer within, even when the store is locked or the disk is full (the
/// hook's own busy timeout is 250 ms; the rest is process start-up on a loaded CI machine).
const HOOK_WALL_BUDGET: Duration = Duration::from_secs(5);

fn session_one() -> Vec<Item> {
    vec![
        Item::User("Set up the web app. I prefer pnpm over npm in this repo.".into()),
        Item::Agent("I'll run npm install first.".into()),
        Item::User("No, we use pnpm here, not npm.".into()),
        Item::Bash(
            "pnpm run lint".into(),
            "> web@1.0.0 lint\n> eslint .".into(),
            0,
        ),
        Item::Agent("Lint passed with pnpm.".into()),
    ]
}

fn memory_texts(t: &TestHome) -> Vec<String> {
    let conn = sessions::db(t);
    let mut stmt = conn
        .prepare("SELECT summary || ' ' || content FROM memory_entries WHERE status = 'active'")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Records session 1 through the Stop hook and drains it with the foreground worker.
fn learn_session_one(t: &TestHome, work: &Path, env: &[(&str, &str)]) {
    let transcript =
        sessions::claude_transcript(&t.scratch().join("tx"), "sess-one", work, &session_one());
    let out = hook(
        t,
        "stop",
        &sessions::payload("Stop", "sess-one", work, &transcript),
        false,
    );
    assert!(out.status.success());
    let out = worker(t, env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout_json(&out)["processed"], 1, "{}", stdout_json(&out));
}

#[rstest]
#[case::offline_reviewer(false)]
#[case::provider_profile(true)]
fn a_preference_learned_in_session_one_reaches_session_two(#[case] with_provider: bool) {
    let t = TestHome::new();
    let work = sessions::project(&t.scratch().join("work"));
    let server = FakeModel::start(Duration::from_secs(120));
    let mut env = vec![];
    if with_provider {
        server.set_review_reply(
            r#"{"operations":[{"op":"add","scope":"project","kind":"rule","summary":"Use pnpm, never npm, in this repo (PROVIDER-LEARNED)","content":"The user corrected npm to pnpm.","evidence":["No, we use pnpm here, not npm."],"confidence":0.9}]}"#,
        );
        sessions::provider_config(&t, &server.openai_base(), "");
        env.push(("CSEP_TEST_REVIEW_KEY", "dummy-key"));
    }
    learn_session_one(&t, &work, &env);
    let texts = memory_texts(&t);
    if with_provider {
        assert_eq!(server.review_requests().len(), 1);
        assert!(
            texts.iter().any(|m| m.contains("PROVIDER-LEARNED")),
            "{texts:?}"
        );
    } else {
        assert!(server.review_requests().is_empty());
        assert!(texts.iter().any(|m| m.contains("pnpm")), "{texts:?}");
    }
    assert_eq!(integrity(&t), "ok");

    // Session 2: SessionStart injects the learned preference as quoted, attributed data.
    let transcript2 = sessions::claude_transcript(&t.scratch().join("tx"), "sess-two", &work, &[]);
    let out = hook(
        &t,
        "session-start",
        &sessions::payload("SessionStart", "sess-two", &work, &transcript2),
        false,
    );
    let ctx = stdout_json(&out)["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(ctx.contains("pnpm"), "{ctx}");
    assert!(ctx.contains("(from session sess-one on "), "{ctx}");

    // A prompt about the same topic gets session 1 recalled.
    let out = hook(
        &t,
        "user-prompt-submit",
        &sessions::prompt_payload(
            "sess-two",
            &work,
            &transcript2,
            "How did we run the pnpm lint for the web app?",
        ),
        false,
    );
    let injected = stdout_json(&out).to_string();
    assert!(injected.contains("pnpm"), "no recall injected: {injected}");

    // And `csep recall` finds session 1 by what was said there.
    let out = t
        .csep(&["recall", "--format", "json", "--cwd"])
        .arg(&work)
        .arg("pnpm lint")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("sess-one"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The real Codex CLI: session 1 states a preference and a correction and runs a command; the
/// Stop hook's detached worker archives, reviews (offline, or through a provider profile at the
/// fake server) and compiles; session 2's model request carries the preference, a related
/// prompt gets session 1 recalled, and `csep recall` finds it.
#[rstest]
#[case::offline_reviewer(false)]
#[case::provider_profile(true)]
fn real_codex_learns_in_session_one_and_uses_it_in_session_two(#[case] with_provider: bool) {
    let Some(codex) = client_bin("codex", "CSEP_TEST_CODEX_BIN") else {
        return;
    };
    let t = TestHome::new();
    let scene = CodexScene::new(&t);
    let CodexScene {
        server, codex_home, ..
    } = &scene;
    let work = sessions::project(&t.scratch().join("work"));
    if with_provider {
        server.set_review_reply(
            r#"{"operations":[{"op":"add","scope":"project","kind":"rule","summary":"Use pnpm, never npm, in this repo (CTX-MARKER-provider)","content":"","evidence":[],"confidence":0.9}]}"#,
        );
        sessions::provider_config(&t, &server.openai_base(), "");
    }
    let out = t
        .csep(&["install", "codex", "--codex-home"])
        .arg(codex_home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let codex_run = |prompt: &str| {
        scene.codex(
            &codex,
            &work,
            &[("CSEP_TEST_REVIEW_KEY", "dummy-key")],
            &["exec", "--skip-git-repo-check", prompt],
        )
    };
    codex_run(
        "RUN_TOOL please. I prefer pnpm over npm in this repo. No, we use pnpm here, not npm.",
    );
    let db = t.home().join("csep.db");
    wait_for_worker(&db);
    let texts = memory_texts(&t);
    if with_provider {
        assert!(
            !server.review_requests().is_empty(),
            "the provider was not asked"
        );
        assert!(
            texts.iter().any(|m| m.contains("CTX-MARKER-provider")),
            "{texts:?}"
        );
    } else {
        assert!(server.review_requests().is_empty());
        assert!(texts.iter().any(|m| m.contains("pnpm")), "{texts:?}");
    }
    let session_one: String = sessions::db(&t)
        .query_row(
            "SELECT session_id FROM sessions ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();

    codex_run("remind me: pnpm or npm in this repo?");
    let requests = server.model_requests();
    let last = requests.last().unwrap().to_string();
    assert!(
        last.contains("csep memory") && last.contains("pnpm"),
        "no learned context: {last}"
    );
    assert!(
        last.contains("kind=\\\"recall\\\""),
        "no recall injected: {last}"
    );
    wait_for_worker(&db);

    let out = t
        .csep(&[
            "recall", "--format", "json", "--scope", "sessions", "--top-k", "5", "--cwd",
        ])
        .arg(&work)
        .arg("prefer pnpm over npm")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found = String::from_utf8_lossy(&out.stdout);
    assert!(found.contains(&session_one), "{session_one} not in {found}");
    assert_eq!(integrity(&t), "ok");
}

/// Rows that must be identical whether or not the worker was killed on the way.
fn outcome_rows(t: &TestHome) -> (i64, i64, i64, i64, i64) {
    (
        count(t, "SELECT count(*) FROM messages"),
        count(t, "SELECT count(*) FROM suggestions"),
        count(
            t,
            "SELECT count(*) FROM memory_entries WHERE status = 'active'",
        ),
        count(t, "SELECT count(*) FROM memory_history"),
        count(t, "SELECT count(*) FROM stop_events WHERE status = 'done'"),
    )
}

fn recorded_session_one(t: &TestHome) -> std::path::PathBuf {
    let work = sessions::project(&t.scratch().join("work"));
    let transcript =
        sessions::claude_transcript(&t.scratch().join("tx"), "sess-one", &work, &session_one());
    let out = hook(
        t,
        "stop",
        &sessions::payload("Stop", "sess-one", &work, &transcript),
        false,
    );
    assert!(out.status.success());
    work
}

/// kill -9 of the worker (a failpoint that aborts the process: no destructor, no rollback) at
/// each point of each stage; the next worker reclaims the dead claim at once, finishes the
/// event exactly once, and the store ends exactly as after an uninterrupted run.
#[rstest]
#[case::before_ingest("ingest:before")]
#[case::after_ingest("ingest:after")]
#[case::before_review("review:before")]
#[case::inside_review_after_enqueue("review:after_enqueue")]
#[case::after_review("review:after")]
#[case::before_compile("compile:before")]
#[case::after_compile("compile:after")]
#[case::after_skill_usage("skill_usage:after")]
fn a_worker_killed_mid_event_leaves_a_consistent_store_and_the_event_done_once(
    #[case] failpoint: &str,
) {
    let clean = TestHome::new();
    recorded_session_one(&clean);
    assert!(worker(&clean, &[]).status.success());
    let expected = outcome_rows(&clean);
    assert_eq!(expected.4, 1);
    assert!(expected.2 >= 1, "the clean run learned nothing");

    let t = TestHome::new();
    recorded_session_one(&t);
    let out = worker(&t, &[("CSEP_FAILPOINT", failpoint)]);
    assert!(!out.status.success(), "the failpoint did not fire");
    assert_eq!(integrity(&t), "ok");
    assert_eq!(
        count(
            &t,
            "SELECT count(*) FROM stop_events WHERE status = 'processing'"
        ),
        1,
        "the dead worker's claim should still be there"
    );
    let out = worker(&t, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = stdout_json(&out);
    assert_eq!(report["reclaimed"], 1, "{report}");
    assert_eq!(report["processed"], 1, "{report}");
    assert_eq!(integrity(&t), "ok");
    assert_eq!(
        outcome_rows(&t),
        expected,
        "half-applied or duplicated work"
    );
    assert_eq!(
        count(&t, "SELECT attempts FROM stop_events"),
        2,
        "processed once after the crash"
    );
    assert_eq!(
        count(
            &t,
            "SELECT count(*) FROM receipts WHERE kind = 'worker' AND status = 'ok'"
        ),
        1
    );
}

/// Spawns `csep --home <home> hook stop --host claude` with `stdin`, not waiting.
fn spawn_stop_hook(t: &TestHome, stdin: String) -> std::thread::JoinHandle<std::process::Output> {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("csep"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", t.scratch().join("user"))
        .arg("--home")
        .arg(t.home())
        .args(["hook", "stop", "--host", "claude"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    std::thread::spawn(move || {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        let _ = input.write_all(stdin.as_bytes());
        drop(input);
        child.wait_with_output().unwrap()
    })
}

/// Waits until no stop event is pending or processing (the detached workers drained them).
fn drain(t: &TestHome, limit: Duration) {
    let deadline = Instant::now() + limit;
    while count(
        t,
        "SELECT count(*) FROM stop_events WHERE status IN ('pending', 'processing')",
    ) > 0
    {
        assert!(
            Instant::now() < deadline,
            "the workers did not drain the events in time"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_hundred_concurrent_stop_hooks_across_twenty_projects_lose_nothing_and_run_one_worker() {
    let t = TestHome::new();
    std::fs::create_dir_all(t.home()).unwrap();
    let projects: Vec<_> = (0..20)
        .map(|i| sessions::project(&t.scratch().join(format!("proj-{i:02}"))))
        .collect();
    let payloads: Vec<String> = (0..200)
        .map(|i| {
            let work = &projects[i % 20];
            let id = format!("conc-{i:03}");
            let tx = sessions::claude_transcript(
                &t.scratch().join("tx"),
                &id,
                work,
                &[
                    Item::User(format!("Please look at module {i} of this project")),
                    Item::Agent(format!("Module {i} looks fine.")),
                ],
            );
            sessions::payload("Stop", &id, work, &tx)
        })
        .collect();
    // Create the store first, as an installed csep would have it.
    assert!(t.csep(&["status"]).output().unwrap().status.success());
    let started = Instant::now();
    let hooks: Vec<_> = payloads
        .into_iter()
        .map(|p| spawn_stop_hook(&t, p))
        .collect();
    for handle in hooks {
        let out = handle.join().unwrap();
        assert!(out.status.success(), "a hook failed: {out:?}");
        assert!(stdout_json(&out).is_object());
    }
    let hooks_took = started.elapsed();
    drain(&t, Duration::from_secs(120));
    let lost = 200 - count(&t, "SELECT count(*) FROM stop_events");
    if lost > 0 {
        let text = std::fs::read_to_string(t.home().join("logs/csep.log")).unwrap_or_default();
        let why: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("hook completed") && !l.contains("\"recorded"))
            .take(5)
            .collect();
        panic!("{lost} stop events lost:\n{}", why.join("\n"));
    }
    assert_eq!(
        count(&t, "SELECT count(DISTINCT session_id) FROM stop_events"),
        200
    );
    assert_eq!(
        count(&t, "SELECT count(*) FROM stop_events WHERE status = 'done'"),
        200
    );
    assert_eq!(
        count(&t, "SELECT max(attempts) FROM stop_events"),
        1,
        "an event ran twice"
    );
    assert_eq!(count(&t, "SELECT count(*) FROM sessions"), 200);
    assert_eq!(
        count(&t, "SELECT count(DISTINCT project_id) FROM sessions"),
        20
    );
    assert_eq!(
        count(&t, "SELECT count(*) FROM receipts WHERE kind = 'worker'"),
        200,
        "one worker receipt per event, no duplicates"
    );
    // One worker at a time: the processing windows of the events never overlap.
    let conn = sessions::db(&t);
    let mut stmt = conn
        .prepare("SELECT started_at, finished_at FROM receipts WHERE kind = 'worker' ORDER BY started_at, finished_at")
        .unwrap();
    let windows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for pair in windows.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "two workers overlapped: {:?} and {:?}",
            pair[0],
            pair[1]
        );
    }
    assert_eq!(integrity(&t), "ok");
    eprintln!("200 hooks answered in {hooks_took:?}");
}

#[test]
fn concurrent_compile_and_scan_never_apply_a_suggestion_twice() {
    use csep::memory::{Kind, Scope};
    use csep::queue::{self, NewEnvelope};
    use csep::review::ops::{Operation, ReviewOutput};

    let t = TestHome::new();
    let work = sessions::project(&t.scratch().join("work"));
    std::fs::create_dir_all(t.home()).unwrap();
    let store = csep::store::db::Store::open(&t.home().join("csep.db")).unwrap();
    let identity = csep::store::identity::RepoIdentity::resolve(&work).unwrap();
    let project = csep::store::project::upsert(&store, &identity, "2026-11-25T00:00:00.000Z")
        .unwrap()
        .id;
    for i in 0..30 {
        let operations = vec![Operation::Add {
            scope: Scope::Project,
            kind: Kind::Rule,
            summary: format!("Module {i} keeps its fixtures in fixtures/m{i}"),
            content: String::new(),
            evidence: vec![],
            confidence: Some(0.8),
        }];
        queue::enqueue(
            &store,
            &NewEnvelope {
                project_id: Some(project.clone()),
                host: Some("claude".into()),
                session_id: Some(format!("s{i}")),
                turn_id: None,
                provider: "test".into(),
                payload: ReviewOutput { operations },
                now: "2026-11-25T00:00:00.000Z".into(),
            },
        )
        .unwrap();
    }
    drop(store);
    let runs: Vec<_> = (0..6)
        .map(|i| {
            let mut cmd = if i % 2 == 0 {
                let mut c = t.csep(&["compile", "--json", "--batch-size", "5", "--repo-root"]);
                c.arg(&work);
                c
            } else {
                t.csep(&[
                    "scan",
                    "--json",
                    "--batch-size",
                    "5",
                    "--max-runs-per-project",
                    "10",
                ])
            };
            std::thread::spawn(move || cmd.output().unwrap())
        })
        .collect();
    for run in runs {
        let out = run.join().unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Whatever is left is drained by one more scan.
    assert!(
        t.csep(&["scan", "--max-runs-per-project", "20"])
            .output()
            .unwrap()
            .status
            .success()
    );
    assert_eq!(
        count(
            &t,
            "SELECT count(*) FROM memory_entries WHERE status = 'active'"
        ),
        30
    );
    assert_eq!(
        count(&t, "SELECT count(*) FROM memory_history"),
        30,
        "an add was applied twice"
    );
    assert_eq!(
        count(&t, "SELECT count(*) FROM suggestions WHERE state <> 'done'"),
        0
    );
    assert_eq!(integrity(&t), "ok");
}

/// `csep --home <home> ARGS` with a clean environment (for homes outside `TestHome`'s layout).
fn csep_at(home: &Path, scratch: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("csep").unwrap();
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", scratch.join("user"))
        .current_dir(scratch)
        .arg("--home")
        .arg(home)
        .args(args);
    cmd
}

/// Every hook answers with valid JSON, exit 0, within [`HOOK_WALL_BUDGET`].
fn assert_hooks_survive(home: &Path, scratch: &Path, work: &Path, why: &str) {
    let tx = sessions::claude_transcript(
        &scratch.join("tx-hostile"),
        "hostile",
        work,
        &[Item::User("Always run make check before pushing".into())],
    );
    for (event, name) in [
        ("session-start", "SessionStart"),
        ("user-prompt-submit", "UserPromptSubmit"),
        ("stop", "Stop"),
    ] {
        let stdin = if name == "UserPromptSubmit" {
            sessions::prompt_payload("hostile", work, &tx, "how do we run make check here")
        } else {
            sessions::payload(name, "hostile", work, &tx)
        };
        let started = Instant::now();
        let out = csep_at(home, scratch, &["hook", event, "--host", "claude"])
            .env("CSEP_NO_SPAWN_WORKER", "1")
            .write_stdin(stdin)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let took = started.elapsed();
        assert!(
            out.status.success(),
            "{why}: {event} exited {:?}",
            out.status
        );
        assert!(stdout_json(&out).is_object(), "{why}: {event}");
        assert!(took < HOOK_WALL_BUDGET, "{why}: {event} took {took:?}");
    }
}

/// A command's failure is one actionable line on stderr, exit 1.
fn assert_one_line_error(out: &std::process::Output, expect: &str) {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "not one line: {stderr}");
    assert!(lines[0].starts_with("csep: error: "), "{stderr}");
    assert!(lines[0].contains(expect), "missing `{expect}`: {stderr}");
}

/// Mounts a tmpfs at `dir` (root only); `None` when the sandbox does not allow it.
fn mount_tmpfs(dir: &Path, options: &str) -> Option<()> {
    std::fs::create_dir_all(dir).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", options, "tmpfs"])
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipping the tmpfs part: mount is not allowed here (needs root)");
    }
    ok.then_some(())
}

fn umount(dir: &Path) {
    let _ = Command::new("umount").arg("-l").arg(dir).status();
}

#[test]
fn hooks_answer_in_budget_and_commands_fail_in_one_line_when_the_home_is_read_only() {
    let t = TestHome::new();
    let work = sessions::project(&t.scratch().join("work"));
    // A path no one can create, root included (a chmod'ed directory does not stop root).
    let proc_home = Path::new("/proc/csep-unwritable-home");
    assert_hooks_survive(proc_home, t.scratch(), &work, "home under /proc");
    let out = csep_at(proc_home, t.scratch(), &["memory", "list"])
        .output()
        .unwrap();
    assert_one_line_error(&out, "/proc/csep-unwritable-home");

    // An existing home whose filesystem turned read-only (a read-only tmpfs remount).
    let ro = t.scratch().join("ro-home");
    if mount_tmpfs(&ro, "size=16m").is_some() {
        learn_session_one_at(&ro, t.scratch(), &work);
        let remount = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&ro)
            .status()
            .unwrap();
        assert!(remount.success());
        assert_hooks_survive(&ro, t.scratch(), &work, "read-only tmpfs home");
        let out = csep_at(
            &ro,
            t.scratch(),
            &[
                "memory",
                "add",
                "--scope",
                "user",
                "--kind",
                "preference",
                "Answer in English",
            ],
        )
        .output()
        .unwrap();
        assert_one_line_error(&out, "read");
        umount(&ro);
    }
}

/// Learns session one into the store at `home` (hook, then the foreground worker).
fn learn_session_one_at(home: &Path, scratch: &Path, work: &Path) {
    let tx = sessions::claude_transcript(&scratch.join("tx"), "sess-one", work, &session_one());
    let out = csep_at(home, scratch, &["hook", "stop", "--host", "claude"])
        .env("CSEP_NO_SPAWN_WORKER", "1")
        .write_stdin(sessions::payload("Stop", "sess-one", work, &tx))
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = csep_at(home, scratch, &["worker"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hooks_answer_in_budget_when_the_disk_is_full() {
    let t = TestHome::new();
    let work = sessions::project(&t.scratch().join("work"));
    // A file-size limit works everywhere: past it a write fails (and SIGXFSZ must not kill the
    // hook).
    let home = t.scratch().join("fsize-home");
    learn_session_one_at(&home, t.scratch(), &work);
    let size = std::fs::metadata(home.join("csep.db")).unwrap().len();
    let blocks = (size / 1024).max(1);
    for (event, name) in [("session-start", "SessionStart"), ("stop", "Stop")] {
        let tx = t.scratch().join("tx/sess-one.jsonl");
        let stdin = sessions::payload(name, "fsize", &work, &tx);
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -f {blocks}; exec \"$0\" \"$@\""))
            .arg(assert_cmd::cargo::cargo_bin("csep"))
            .arg("--home")
            .arg(&home)
            .args(["hook", event, "--host", "claude"])
            .env("CSEP_NO_SPAWN_WORKER", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(stdin.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{event} under a file-size limit: {:?}",
            out.status
        );
        assert!(stdout_json(&out).is_object());
    }
    let check: String = rusqlite::Connection::open(home.join("csep.db"))
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");

    // A full filesystem (a tiny tmpfs), when the sandbox allows mounting one.
    let full = t.scratch().join("full-home");
    if mount_tmpfs(&full, "size=2m").is_some() {
        learn_session_one_at(&full, t.scratch(), &work);
        // Fill the rest of the filesystem.
        let filler = vec![0u8; 64 * 1024];
        let mut f = std::fs::File::create(full.join("filler")).unwrap();
        {
            use std::io::Write;
            while f.write_all(&filler).is_ok() {}
        }
        drop(f);
        assert_hooks_survive(&full, t.scratch(), &work, "full tmpfs home");
        let out = csep_at(
            &full,
            t.scratch(),
            &[
                "memory",
                "add",
                "--scope",
                "user",
                "--kind",
                "preference",
                &"Answer in English with long explanations ".repeat(2000),
            ],
        )
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        umount(&full);
    }
}

#[test]
fn hooks_answer_in_budget_while_another_process_holds_the_database_locked() {
    let t = TestHome::new();
    let work = sessions::project(&t.scratch().join("work"));
    learn_session_one_at(&t.home(), t.scratch(), &work);
    let locker = rusqlite::Connection::open(t.home().join("csep.db")).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    // Held far longer than the hooks' 250 ms busy timeout.
    assert_hooks_survive(&t.home(), t.scratch(), &work, "locked database");
    // A command waits its own (longer) busy timeout, then says what is wrong in one line.
    let started = Instant::now();
    let out = t
        .csep(&[
            "memory",
            "add",
            "--scope",
            "user",
            "--kind",
            "preference",
            "Answer in English",
        ])
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_one_line_error(&out, "locked");
    // The Stop the locked database refused is not lost: it waits in the spool, no message text
    // in it, and the next worker moves it into the database once.
    let (spooled, notes): (Vec<_>, Vec<_>) = std::fs::read_dir(t.home().join("spool"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .partition(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("stop-")
        });
    assert_eq!(spooled.len(), 1, "{spooled:?}");
    // The SessionStart's own bookkeeping (its outcome) waits in the hook journal, and so do
    // the runs of the prompt and of the Stop that found the database busy.
    let events: Vec<String> = notes
        .iter()
        .map(|p| {
            let note: serde_json::Value =
                serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            note["event"].as_str().unwrap_or("SessionStart").to_owned()
        })
        .collect();
    assert_eq!(events.len(), 3, "{notes:?}");
    assert!(events.iter().any(|e| e == "SessionStart"), "{events:?}");
    assert!(events.iter().any(|e| e == "UserPromptSubmit"), "{events:?}");
    assert!(events.iter().any(|e| e == "Stop"), "{events:?}");
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);
    let status = t.csep(&["status"]).output().unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains("1 stop events spooled while the database was busy"),
        "{status}"
    );
    let status = stdout_json(&t.csep(&["--json", "status"]).output().unwrap());
    assert_eq!(status["worker"]["spooled_stop_events"], 1);
    assert!(t.csep(&["worker"]).output().unwrap().status.success());
    assert!(!spooled[0].exists(), "the worker drained the spool");
    assert!(
        notes.iter().all(|n| !n.exists()),
        "the worker drained the hook journal"
    );
    let db = rusqlite::Connection::open(t.home().join("csep.db")).unwrap();
    let hostile: i64 = db
        .query_row(
            "SELECT count(*) FROM stop_events WHERE session_id = 'hostile'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(hostile, 1);
    let stop_runs: i64 = db
        .query_row(
            "SELECT count(*) FROM hook_runs WHERE event = 'Stop' AND outcome = 'spooled'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stop_runs, 1, "the busy Stop's run reached hook_runs");
    assert!(
        t.csep(&["memory", "list"])
            .output()
            .unwrap()
            .status
            .success()
    );
    assert_eq!(integrity(&t), "ok");
}

#[test]
fn a_home_with_spaces_and_non_ascii_characters_runs_the_whole_loop() {
    let t = TestHome::new();
    let home = t.scratch().join("my csep home/ünïcødé 家 'quoted'");
    let work = sessions::project(&t.scratch().join("work dir ü"));
    let tx =
        sessions::claude_transcript(&t.scratch().join("tx"), "sess-one", &work, &session_one());
    // The Stop hook spawns the detached worker with this home on its command line.
    let out = csep_at(&home, t.scratch(), &["hook", "stop", "--host", "claude"])
        .write_stdin(sessions::payload("Stop", "sess-one", &work, &tx))
        .output()
        .unwrap();
    assert!(out.status.success());
    wait_for_worker(&home.join("csep.db"));
    let out = csep_at(
        &home,
        t.scratch(),
        &["hook", "session-start", "--host", "claude"],
    )
    .write_stdin(sessions::payload("SessionStart", "sess-two", &work, &tx))
    .output()
    .unwrap();
    assert!(
        stdout_json(&out).to_string().contains("pnpm"),
        "{}",
        stdout_json(&out)
    );
    assert_hooks_survive(&home, t.scratch(), &work, "home with spaces and non-ASCII");
}
