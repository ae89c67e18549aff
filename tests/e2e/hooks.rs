//! Hook commands never hurt the host: exit 0 and valid JSON on any input.

use rstest::rstest;

use crate::sessions::{count, hook};
use crate::support::{TestHome, stdout_json};

#[rstest]
#[case::empty_stdin(b"".as_slice())]
#[case::truncated_json(b"{\"session_id\": \"abc".as_slice())]
#[case::not_json(b"hello".as_slice())]
#[case::binary_garbage(&[0xff, 0xfe, 0x00, 0x9f][..])]
#[case::valid_payload(br#"{"hook_event_name":"Stop","session_id":"s1","cwd":"/nonexistent"}"#.as_slice())]
fn every_hook_form_exits_zero_with_valid_json(#[case] stdin: &[u8]) {
    let t = TestHome::new();
    let forms: [(&str, &[&str]); 5] = [
        ("csep", &["hook", "session-start", "--host", "codex"]),
        ("csep", &["hook", "user-prompt-submit", "--host", "claude"]),
        ("csep", &["hook", "stop"]),
        ("reference", &["session-start", "--from-stdin"]),
        ("reference", &["stop-review", "--from-stdin"]),
    ];
    for (bin, args) in forms {
        let mut cmd = if bin == "csep" {
            t.csep(args)
        } else {
            t.reference(args)
        };
        let out = cmd.write_stdin(stdin.to_vec()).output().unwrap();
        assert!(
            out.status.success(),
            "{bin} {args:?} exited {:?}",
            out.status.code()
        );
        assert!(stdout_json(&out).is_object(), "{bin} {args:?}");
    }
}

#[test]
fn a_hook_with_an_unwritable_home_still_exits_zero() {
    let t = TestHome::new();
    let file = t.scratch().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let out = assert_cmd::Command::cargo_bin("csep")
        .unwrap()
        .args(["--home"])
        .arg(&file)
        .args(["hook", "stop", "--host", "codex"])
        .write_stdin("{}")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stdout_json(&out).is_object());
}

fn stop_payload(cwd: &std::path::Path, stop_hook_active: bool) -> String {
    serde_json::json!({
        "session_id": "01a214b8-5653-74a0-a12e-e527f4a4c79e",
        "turn_id": "01a214b8-5682-7763-9b34-148b6c2c4406",
        "transcript_path": cwd.join("rollout-2026-11-25T21-59-14-x.jsonl"),
        "cwd": cwd,
        "hook_event_name": "Stop",
        "model": "fake-model",
        "stop_hook_active": stop_hook_active,
        "last_assistant_message": "done; the key is sk-proj-abcdefghijklmnopqrstuvwx1234"
    })
    .to_string()
}

fn stop_rows(t: &TestHome) -> Vec<(String, Option<String>, String)> {
    let conn = rusqlite::Connection::open(t.home().join("csep.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT status, error, payload FROM stop_events ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn stop_records_one_pending_event_without_message_text() {
    let t = TestHome::new();
    let work = t.scratch().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let out = t
        .csep(&["hook", "stop"])
        .env("CSEP_NO_SPAWN_WORKER", "1")
        .write_stdin(stop_payload(&work, false))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "{}");
    let rows = stop_rows(&t);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "pending");
    assert!(
        !rows[0].2.contains("sk-proj"),
        "the payload kept message text: {}",
        rows[0].2
    );
    assert!(rows[0].2.contains("01a214b8-5682-7763-9b34-148b6c2c4406"));
}

#[test]
fn a_refired_stop_is_recorded_and_a_csep_child_session_skipped() {
    let t = TestHome::new();
    let work = t.scratch().join("work");
    std::fs::create_dir_all(&work).unwrap();
    t.csep(&["hook", "stop"])
        .env("CSEP_NO_SPAWN_WORKER", "1")
        .write_stdin(stop_payload(&work, true))
        .assert()
        .success();
    t.csep(&["hook", "stop"])
        .env("CSEP_NO_SPAWN_WORKER", "1")
        .env("CSEP_CHILD_SESSION", "1")
        .write_stdin(stop_payload(&work, false))
        .assert()
        .success();
    let rows = stop_rows(&t);
    // The re-fired Stop closes a turn the model answered after another hook blocked: it is
    // archived like any other.
    assert_eq!(
        rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["pending", "skipped"]
    );
    assert_eq!(rows[0].1, None);
    assert!(rows[1].1.as_deref().unwrap().contains("spawned by csep"));
}

#[test]
fn stop_starts_the_worker_which_archives_the_transcript() {
    let t = TestHome::new();
    let work = t.scratch().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let rollout = work.join("rollout-2026-11-25T21-59-14-x.jsonl");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/codex/rollout-with-tool-call-and-stop-block.jsonl"
        ),
        &rollout,
    )
    .unwrap();
    t.csep(&["hook", "stop", "--host", "codex"])
        .write_stdin(stop_payload(&work, false))
        .assert()
        .success();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while stop_rows(&t)[0].0 != "done" {
        assert!(
            std::time::Instant::now() < deadline,
            "worker did not finish: {:?}",
            stop_rows(&t)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let conn = rusqlite::Connection::open(t.home().join("csep.db")).unwrap();
    let messages: i64 = conn
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert!(messages > 5, "{messages}");
    let receipt: String = conn
        .query_row(
            "SELECT status FROM receipts WHERE kind = 'worker'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(receipt, "ok");
}

#[test]
fn session_start_injects_seeded_memory_in_each_hosts_shape() {
    let t = TestHome::new();
    let work = t.scratch().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let db = t.home().join("csep.db");
    let store = csep::store::db::Store::open(&db).unwrap();
    let identity = csep::store::identity::RepoIdentity::resolve(&work).unwrap();
    let project =
        csep::store::project::upsert(&store, &identity, "2026-11-25T00:00:00.000Z").unwrap();
    store
        .conn()
        .execute(
            "INSERT INTO memory_entries (id, scope, project_id, kind, summary, content, normalized, \
             created_at, updated_at) VALUES ('m_1', 'project', ?1, 'command', 'Use make check', '', \
             'use make check', 't', '2026-11-25T00:00:00.000Z')",
            [&project.id],
        )
        .unwrap();
    drop(store);
    let payload = serde_json::json!({"session_id": "s-1", "cwd": work, "hook_event_name": "SessionStart", "source": "startup"});
    for host in ["codex", "claude"] {
        let out = t
            .csep(&["hook", "session-start", "--host", host])
            .write_stdin(payload.to_string())
            .output()
            .unwrap();
        let v = stdout_json(&out);
        assert_eq!(
            v["hookSpecificOutput"]["hookEventName"], "SessionStart",
            "{host}"
        );
        let context = v["hookSpecificOutput"]["additionalContext"]
            .as_str()
            .unwrap();
        assert!(
            context.contains("[m_1] command: \"Use make check"),
            "{context}"
        );
    }
    // The reference's command prints the same shape.
    let out = t
        .reference(&["session-start", "--from-stdin"])
        .write_stdin(payload.to_string())
        .output()
        .unwrap();
    assert!(stdout_json(&out)["hookSpecificOutput"]["additionalContext"].is_string());
    // SessionStart only reads the database; its injections wait in the hook journal until a
    // worker (or a UserPromptSubmit) files them.
    assert_eq!(count(&t, "SELECT count(*) FROM hook_injections"), 0);
    let notes = std::fs::read_dir(t.home().join("spool"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("start-"))
        .count();
    assert_eq!(notes, 3);
    let status = t.csep(&["status", "--json"]).output().unwrap();
    assert_eq!(stdout_json(&status)["worker"]["journal_notes"], 3);
    let text = t.csep(&["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("3 session-start notes in the hook journal"),
        "{text}"
    );
    // "Last fired" already shows the runs still waiting in the journal.
    assert!(text.contains("last: SessionStart injected at "), "{text}");
    t.csep(&["worker"]).assert().success();
    assert_eq!(
        std::fs::read_dir(t.home().join("spool")).unwrap().count(),
        0
    );
    // Drained into `hook_runs`, where status reads them now.
    let text = t.csep(&["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("last: SessionStart injected at "), "{text}");
    let injected = count(
        &t,
        "SELECT count(*) FROM hook_injections WHERE entry_id = 'm_1'",
    );
    // One row per (host, session, entry): the codex run, and the claude runs (the reference's
    // command detects this payload, with no Codex-only field, as Claude's) deduplicated.
    assert_eq!(injected, 2);
}

#[test]
fn a_locked_database_costs_the_hook_its_busy_timeout_and_the_event_is_spooled() {
    let t = TestHome::new();
    let work = t.scratch().join("work");
    std::fs::create_dir_all(&work).unwrap();
    drop(csep::store::db::Store::open(&t.home().join("csep.db")).unwrap());
    let conn = rusqlite::Connection::open(t.home().join("csep.db")).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let out = t
        .csep(&["hook", "stop"])
        .env("CSEP_NO_SPAWN_WORKER", "1")
        .write_stdin(stop_payload(&work, false))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "{}");
    conn.execute_batch("ROLLBACK").unwrap();
    // Logged as kept aside, not lost: the event waits in the spool for the worker.
    let log = std::fs::read_to_string(t.home().join("logs/csep.log")).unwrap();
    assert!(log.contains("\"outcome\":\"spooled\""), "{log}");
    assert!(log.contains("database unavailable"), "{log}");
    // The spool holds the event and, in the hook journal, the Stop's run for `hook_runs`.
    let mut names: Vec<String> = std::fs::read_dir(t.home().join("spool"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].starts_with("start-"), "{names:?}");
    assert!(names[1].starts_with("stop-"), "{names:?}");
    let note: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.home().join("spool").join(&names[0])).unwrap())
            .unwrap();
    assert_eq!(note["event"], "Stop", "{note}");
    assert_eq!(note["outcome"], "spooled", "{note}");
}

#[test]
fn a_deleted_cwd_still_gets_a_valid_answer() {
    let t = TestHome::new();
    let gone = t.scratch().join("gone");
    let payload =
        serde_json::json!({"session_id": "s", "cwd": gone, "hook_event_name": "SessionStart"});
    let out = t
        .csep(&["hook", "session-start"])
        .write_stdin(payload.to_string())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stdout_json(&out).is_object());
}

#[test]
fn auto_recall_never_repeats_what_session_start_or_an_earlier_prompt_injected() {
    let t = TestHome::new();
    let work = t.scratch().join("work");
    std::fs::create_dir_all(&work).unwrap();
    t.csep(&[
        "memory",
        "add",
        "--scope",
        "user",
        "--kind",
        "command",
        "Always run make check before pushing",
    ])
    .assert()
    .success();
    let prompt = |session: &str| {
        let payload = serde_json::json!({"hook_event_name": "UserPromptSubmit",
            "session_id": session, "cwd": work, "prompt": "how do we run make check before pushing?"});
        stdout_json(&hook(&t, "user-prompt-submit", &payload.to_string(), false)).to_string()
    };
    // Session a: SessionStart injects the entry; its note waits in the hook journal.
    let start = serde_json::json!({"hook_event_name": "SessionStart", "session_id": "a",
        "cwd": work, "source": "startup"});
    let out = hook(&t, "session-start", &start.to_string(), false);
    assert!(stdout_json(&out).to_string().contains("make check"));
    let spool = t.home().join("spool");
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 1);
    // Session a's prompt does not get it again; the journal is filed on the way.
    assert!(!prompt("a").contains("make check"), "session a");
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
    // Session b never got it at start: its prompt recalls it, once.
    assert!(prompt("b").contains("make check"), "session b");
    assert!(
        !prompt("b").contains("make check"),
        "session b, second prompt"
    );
    assert_eq!(
        count(
            &t,
            "SELECT count(*) FROM hook_injections WHERE session_id = 'a' AND event = 'SessionStart'",
        ),
        1
    );
    assert_eq!(
        count(
            &t,
            "SELECT count(*) FROM hook_injections WHERE session_id = 'b' \
             AND event = 'UserPromptSubmit'",
        ),
        1
    );
    // One use: session b's recall (session a's start injection is not a use).
    assert_eq!(count(&t, "SELECT use_count FROM memory_entries"), 1);
}

/// The hooks' executables are linked at a fixed address when build.rs says it linked them so
/// (Linux, glibc, a C compiler driver as linker): no relative relocations for the loader to
/// apply at every hook start. With another linker they stay position-independent.
#[cfg(target_os = "linux")]
#[test]
fn the_executables_are_not_position_independent_when_build_rs_linked_them_so() {
    // ELF e_type (little endian, offset 16): 2 = ET_EXEC, 3 = ET_DYN (PIE).
    let expected = if option_env!("CSEP_LINKED_NON_PIE").is_some() {
        2
    } else {
        3
    };
    for exe in [
        env!("CARGO_BIN_EXE_csep"),
        env!("CARGO_BIN_EXE_codex-self-evolution"),
    ] {
        let header = std::fs::read(exe).unwrap();
        assert_eq!(
            u16::from_le_bytes([header[16], header[17]]),
            expected,
            "{exe}"
        );
    }
    // With the default linker on glibc, build.rs must have linked them non-PIE.
    if cfg!(target_env = "gnu") && env!("CSEP_CONFIGURED_LINKER").is_empty() {
        assert_eq!(expected, 2, "build.rs did not link the executables non-PIE");
    }
}

/// A payload that does not parse is recorded under the host the command line names, so
/// `csep status` shows that host's failing hook.
#[test]
fn a_bad_payload_is_recorded_under_the_named_host() {
    let t = TestHome::new();
    let work = t.scratch().join("work");
    std::fs::create_dir_all(&work).unwrap();
    t.csep(&["hook", "stop", "--host", "codex"])
        .env("CSEP_NO_SPAWN_WORKER", "1")
        .write_stdin(stop_payload(&work, false))
        .assert()
        .success();
    t.csep(&["hook", "stop", "--host", "codex"])
        .env("CSEP_NO_SPAWN_WORKER", "1")
        .write_stdin("{not json")
        .assert()
        .success()
        .stdout("{}\n");
    assert_eq!(
        count(
            &t,
            "SELECT count(*) FROM hook_runs WHERE host = 'codex' AND outcome = 'bad_payload'"
        ),
        1
    );
}

/// A log that cannot be written (here a log file that is `/dev/full`: every write fails with
/// "no space left") costs the log only: the hook prints its output and nothing on stderr.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_under_the_log_leaves_stderr_silent() {
    let t = TestHome::new();
    let work = t.scratch().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let logs = t.home().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::os::unix::fs::symlink("/dev/full", logs.join("csep.log")).unwrap();
    t.csep(&["hook", "stop", "--host", "codex"])
        .env("CSEP_NO_SPAWN_WORKER", "1")
        .write_stdin(stop_payload(&work, false))
        .assert()
        .success()
        .stdout("{}\n")
        .stderr("");
}

/// A Claude Code Stop whose payload holds a field of a type csep does not expect (a newer
/// `effort`, a `null` flag) and a lone surrogate escape is still recorded: only that field is
/// dropped.
#[test]
fn a_stop_with_a_retyped_field_is_still_recorded() {
    let t = TestHome::new();
    let work = t.scratch().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let payload = r#"{"session_id":"9f3c2a1e-0000-4000-8000-000000000001","transcript_path":"TRANSCRIPT","cwd":"CWD","hook_event_name":"Stop","permission_mode":{},"effort":"high","stop_hook_active":null,"last_assistant_message":"done \ud83d"}"#
        .replace("TRANSCRIPT", &work.join("projects/w/s.jsonl").display().to_string())
        .replace("CWD", &work.display().to_string());
    t.csep(&["hook", "stop", "--host", "claude"])
        .env("CSEP_NO_SPAWN_WORKER", "1")
        .write_stdin(payload)
        .assert()
        .success()
        .stdout("{}\n");
    let rows = stop_rows(&t);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "pending");
    assert_eq!(
        count(
            &t,
            "SELECT count(*) FROM hook_runs WHERE outcome = 'bad_payload'"
        ),
        0
    );
}

/// Audit 06: clap's exit 2 on a hook command line it did not know blocked the agent (both
/// hosts read exit 2 as "block"). Every command line under `hook` now exits 0 with the no-op
/// output, and the problem goes to the log.
#[rstest]
#[case::unknown_event(&["hook", "pre-tool-use"])]
#[case::pascal_case_event(&["hook", "UserPromptSubmit"])]
#[case::unknown_host(&["hook", "stop", "--host", "pi"])]
#[case::unknown_flag(&["hook", "stop", "--timeout", "5"])]
fn a_hook_command_line_csep_does_not_know_still_exits_zero(#[case] args: &[&str]) {
    let t = TestHome::new();
    let out = t
        .csep(args)
        .write_stdin(r#"{"hook_event_name":"Stop"}"#)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.trim().is_empty() || serde_json::from_str::<serde_json::Value>(&stdout).is_ok(),
        "{args:?}: {stdout}"
    );
}
