//! Archive and recall end to end: importing the golden transcripts into a fresh home, then
//! `csep recall`, `recall-trigger` and `eval recall` through the real binary.

use predicates::prelude::*;

use crate::support::{TestHome, stdout_json, success_json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// A home populated by importing every golden Codex and Claude transcript.
fn imported_home() -> TestHome {
    let t = TestHome::new();
    let codex = format!("{FIXTURES}/codex");
    let claude = format!("{FIXTURES}/claude");
    let report =
        success_json(&mut t.csep(&["--json", "import", "codex-sessions", "--dir", &codex]));
    assert_eq!(report["files"], 2);
    assert_eq!(report["error_count"], 0);
    assert!(report["messages_inserted"].as_u64().unwrap() > 0);
    t.csep(&["import", "claude-sessions", "--dir", &claude])
        .assert()
        .success()
        .stdout(predicate::str::contains("Imported 3 claude transcripts"));
    t
}

#[test]
fn recall_finds_imported_sessions_with_provenance_in_markdown_and_json() {
    let t = imported_home();
    let out = t
        .csep(&["recall", "echo", "tool-ran", "--top-k", "5", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = stdout_json(&out);
    assert_eq!(v["status"], "matched");
    assert_eq!(v["triggered"], true);
    assert_eq!(v["reasons"], serde_json::json!(["self_invoked"]));
    let results = v["results"].as_array().unwrap();
    assert_eq!(v["count"], results.len());
    assert_eq!(results.len(), 4, "every golden session ran the tool: {v:#}");
    let hosts: Vec<&str> = results
        .iter()
        .map(|r| r["host"].as_str().unwrap())
        .collect();
    assert!(
        hosts.contains(&"codex") && hosts.contains(&"claude"),
        "{hosts:?}"
    );
    for r in results {
        assert_eq!(r["kind"], "session");
        assert_eq!(r["thread_id"], r["id"]);
        // Injected context (environment, hook markers) never appears in a window.
        for m in r["messages"].as_array().unwrap() {
            assert!(
                !m["origin"].as_str().unwrap().starts_with("injected"),
                "{m}"
            );
        }
    }
    t.csep(&["recall", "echo tool-ran"])
        .assert()
        .success()
        .stdout(
            predicate::str::starts_with("## Focused Recall\n\nStatus: matched\n")
                .and(predicate::str::contains("Provenance: session "))
                .and(predicate::str::contains("(codex)")),
        );
}

#[test]
fn reference_flags_and_format_json_work_like_json() {
    let t = imported_home();
    let cwd = t.scratch().to_string_lossy().into_owned();
    let out = t
        .reference(&[
            "recall", "--query", "tool-ran", "--cwd", &cwd, "--format", "json",
        ])
        .output()
        .unwrap();
    let v = stdout_json(&out);
    assert_eq!(v["status"], "matched");
    assert_eq!(
        v["cwd"],
        std::fs::canonicalize(t.scratch())
            .unwrap()
            .to_string_lossy()
            .as_ref()
    );
}

#[test]
fn injected_context_is_never_recalled() {
    let t = imported_home();
    let out = t
        .csep(&[
            "recall",
            "CTX-MARKER-sessionstart",
            "environment_context",
            "--json",
        ])
        .output()
        .unwrap();
    let v = stdout_json(&out);
    for r in v["results"].as_array().unwrap() {
        for m in r["messages"].as_array().unwrap() {
            assert!(
                !m["text"]
                    .as_str()
                    .unwrap()
                    .contains("<environment_context>"),
                "{m}"
            );
        }
    }
}

#[test]
fn importing_again_adds_nothing() {
    let t = imported_home();
    let codex = format!("{FIXTURES}/codex");
    let out = t
        .csep(&["--json", "import", "codex-sessions", "--dir", &codex])
        .output()
        .unwrap();
    let v = stdout_json(&out);
    assert_eq!(v["messages_inserted"], 0);
    assert_eq!(v["unchanged_files"], 2);
}

/// Codex rollouts given to `import claude-sessions` are reported as holding no Claude message,
/// with the command that reads them.
#[test]
fn importing_another_hosts_transcripts_says_so() {
    let t = TestHome::new();
    let codex = format!("{FIXTURES}/codex");
    let v = success_json(&mut t.csep(&["--json", "import", "claude-sessions", "--dir", &codex]));
    assert_eq!(v["files_without_messages"], 3, "{v:#}");
    t.csep(&["import", "claude-sessions", "--dir", &codex])
        .assert()
        .success()
        .stdout(predicate::str::contains("csep import codex-sessions").not());
    let fresh = TestHome::new();
    fresh
        .csep(&["import", "claude-sessions", "--dir", &codex])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "3 transcripts with new data held no claude message; if they are another host's, \
             import them with `csep import codex-sessions`.",
        ));
}

/// A Codex rollout of `turns` turns, each a user prompt and a long tool output; the prompt of
/// turn `poison` (if any) is `POISON`.
fn long_rollout(turns: usize, poison: Option<usize>) -> String {
    let mut out = String::from(
        r#"{"timestamp":"2026-05-01T10:00:00.000Z","type":"session_meta","payload":{"id":"0199a000-0000-7000-8000-00000000a001","timestamp":"2026-05-01T10:00:00.000Z","cwd":"/work/app","originator":"codex_cli_rs","cli_version":"0.169.0"}}"#,
    );
    out.push('\n');
    let output = "compiling crate build step finished ok ".repeat(150);
    for turn in 0..turns {
        let prompt = if poison == Some(turn) {
            "POISON".to_owned()
        } else {
            format!("turn {turn}: why does the retry policy time out")
        };
        let user = serde_json::json!({"timestamp":"2026-05-01T10:00:01.000Z","type":"response_item",
            "payload":{"type":"message","role":"user","content":[{"type":"input_text","text":prompt}]}});
        let call = serde_json::json!({"timestamp":"2026-05-01T10:00:02.000Z","type":"response_item",
            "payload":{"type":"function_call","name":"shell","arguments":"{\"command\":[\"cargo\",\"build\"]}","call_id":format!("c{turn}")}});
        let result = serde_json::json!({"timestamp":"2026-05-01T10:00:03.000Z","type":"response_item",
            "payload":{"type":"function_call_output","call_id":format!("c{turn}"),"output":output}});
        for line in [user, call, result] {
            out.push_str(&line.to_string());
            out.push('\n');
        }
    }
    out
}

/// An import that failed after committing part of a long transcript left those messages
/// stored but unindexed; the next import indexes them and says how many, apart from the
/// messages it added itself, so its report adds up with `csep status`.
#[test]
fn an_import_after_an_interrupted_one_reports_the_messages_it_recovered() {
    let t = TestHome::new();
    let dir = t.scratch().join("sessions");
    std::fs::create_dir_all(&dir).unwrap();
    // Create the archive, then make one message fail to insert.
    t.csep(&[
        "--json",
        "import",
        "codex-sessions",
        "--dir",
        dir.to_str().unwrap(),
    ])
    .assert()
    .success();
    let db = rusqlite::Connection::open(t.home().join("csep.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.text = 'POISON' \
         BEGIN SELECT RAISE(ABORT, 'poisoned message'); END;",
    )
    .unwrap();
    // About 6 KiB per turn: the poison comes after the first 8 MiB part was committed.
    let turns = 2000;
    std::fs::write(
        dir.join("rollout-2026-05-01T10-00-00-0199a000-0000-7000-8000-00000000a001.jsonl"),
        long_rollout(turns, Some(turns - 10)),
    )
    .unwrap();
    let failed = t
        .csep(&[
            "--json",
            "import",
            "codex-sessions",
            "--dir",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let stored: i64 = db
        .query_row("SELECT count(*) FROM message_pending", [], |r| r.get(0))
        .unwrap();
    assert!(stored > 0, "no part was committed before the failure");
    db.execute_batch("DROP TRIGGER poison").unwrap();
    let v = success_json(&mut t.csep(&[
        "--json",
        "import",
        "codex-sessions",
        "--dir",
        dir.to_str().unwrap(),
    ]));
    assert_eq!(v["recovered_messages"], stored, "{v:#}");
    let status = success_json(&mut t.csep(&["--json", "status"]));
    let searchable = v["messages_inserted"].as_u64().unwrap()
        - v["injected_inserted"].as_u64().unwrap()
        + v["recovered_messages"].as_u64().unwrap();
    assert_eq!(status["archive"]["messages"], searchable, "{status:#}");
    t.csep(&["import", "codex-sessions", "--dir", dir.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("interrupted").not());
}

#[test]
fn importing_from_a_missing_directory_fails_with_its_path() {
    let t = TestHome::new();
    t.csep(&["import", "codex-sessions", "--dir", "/nonexistent/sessions"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("/nonexistent/sessions")
                .and(predicate::str::contains("--dir")),
        );
}

#[test]
fn every_bad_query_is_a_clear_result_with_exit_zero() {
    let t = imported_home();
    let long = "retry ".repeat(10 * 1024 / 6);
    for (query, status) in [
        ("", "error"),
        ("   ", "error"),
        ("the and of", "no_match"),
        ("\"", "error"),
        ("retry \"order timeout", "error"),
        // A command-line option is a word: it finds the sessions that ran `echo`.
        ("--echo", "matched"),
        ("*", "no_match"),
        ("-", "no_match"),
        (":", "no_match"),
        ("NEAR", "no_match"),
        ("NEAR(the of)", "no_match"),
        ("of:the", "no_match"),
        ("-echo", "error"),
        (long.as_str(), "error"),
    ] {
        let out = t
            .csep(&["recall", "--query", query, "--json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "query {query:?}");
        let v = stdout_json(&out);
        assert_eq!(v["status"], status, "query {query:?}: {v}");
        if status == "error" {
            assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
        }
    }
}

#[test]
fn recall_on_a_fresh_home_is_no_match_and_creates_nothing() {
    let t = TestHome::new();
    let out = t.csep(&["recall", "anything", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v = stdout_json(&out);
    assert_eq!(v["status"], "no_match");
    assert_eq!(v["count"], 0);
    assert!(!t.home().join("csep.db").exists());
}

#[test]
fn recall_without_a_query_is_a_usage_error() {
    let t = TestHome::new();
    t.csep(&["recall"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--query"));
    t.csep(&["recall", "x", "--since", "someday"])
        .assert()
        .code(2);
}

#[test]
fn recall_trigger_keeps_the_reference_keys_and_decides_from_explicit_signals() {
    let t = imported_home();
    let cwd = t.scratch().to_string_lossy().into_owned();
    let trigger = |query: &str| {
        let args = [
            "recall-trigger",
            "--query",
            query,
            "--cwd",
            &cwd,
            "--format",
            "json",
        ];
        stdout_json(&t.csep(&args).output().unwrap())
    };
    let v = trigger("run the tool like last time");
    for key in [
        "triggered",
        "reasons",
        "policy",
        "skill_id",
        "skill_content",
        "query",
        "count",
        "results",
        "focused_recall",
        "cwd",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["triggered"], true);
    assert_eq!(v["reasons"], serde_json::json!(["marker:last time"]));
    assert!(v["count"].as_u64().unwrap() > 0);
    t.csep(&[
        "recall-trigger",
        "--query",
        "add a new endpoint",
        "--cwd",
        &cwd,
    ])
    .assert()
    .success()
    .stdout(predicate::str::contains("Status: not_triggered"));
    // The query is a prompt, searched as plain words: a stray quote, a dash or a prompt longer
    // than a recall query is no syntax error, and the look-back words are not searched.
    for query in [
        "run the \"tool like last time",
        "run the -tool like last time",
        &format!("run the tool like last time {}", "word ".repeat(600)),
    ] {
        let v = trigger(query);
        assert_eq!(v["status"], "matched", "{query:.60}: {v}");
        assert_eq!(v["query"], query);
    }
    let v = trigger("do it like last time");
    assert_eq!(
        (v["triggered"].as_bool(), v["count"].as_u64()),
        (Some(true), Some(0)),
        "{v}"
    );
}

#[test]
fn eval_recall_beats_plain_bm25_on_every_shipped_fixture() {
    let t = TestHome::new();
    let dir = format!("{FIXTURES}/recall_eval");
    let v = success_json(&mut t.csep(&["--json", "eval", "recall", "--fixture", &dir]));
    let all = v["all"].as_array().unwrap();
    assert!(all[0]["questions"].as_u64().unwrap() >= 150);
    for fixture in v["fixtures"].as_array().unwrap() {
        let systems = fixture["systems"].as_array().unwrap();
        let (csep, plain) = (&systems[0], &systems[1]);
        assert_eq!(
            (csep["system"].as_str(), plain["system"].as_str()),
            (Some("csep"), Some("plain-bm25"))
        );
        for metric in ["hit_at_5", "mrr", "ndcg_at_10"] {
            assert!(
                csep[metric].as_f64() >= plain[metric].as_f64(),
                "{}: {metric} csep {} < plain {}",
                fixture["name"],
                csep[metric],
                plain[metric]
            );
        }
    }
    t.csep(&["eval", "recall", "--fixture", &dir])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("nDCG@10").and(predicate::str::contains("reference-0.7.7")),
        );
}

#[test]
fn importing_again_reads_only_what_a_transcript_gained() {
    let t = TestHome::new();
    let dir = t.scratch().join("sessions/2026/03/01");
    std::fs::create_dir_all(&dir).unwrap();
    for name in [
        "rollout-auto-compaction.jsonl",
        "rollout-with-tool-call-and-stop-block.jsonl",
    ] {
        std::fs::copy(format!("{FIXTURES}/codex/{name}"), dir.join(name)).unwrap();
    }
    let root = t.scratch().join("sessions").to_string_lossy().into_owned();
    let import =
        || success_json(&mut t.csep(&["--json", "import", "codex-sessions", "--dir", &root]));
    let first = import();
    assert_eq!(first["ingested_files"], 2, "{first:#}");
    let line = serde_json::json!({
        "timestamp": "2026-03-01T12:00:00.000Z",
        "type": "response_item",
        "payload": {"type": "message", "role": "user",
                    "content": [{"type": "input_text", "text": "remember the zanzibar rollout"}]}
    });
    let grown = dir.join("rollout-auto-compaction.jsonl");
    let mut text = std::fs::read_to_string(&grown).unwrap();
    text.push_str(&format!("{line}\n"));
    std::fs::write(&grown, text).unwrap();
    let second = import();
    assert_eq!(second["ingested_files"], 1, "{second:#}");
    assert_eq!(second["unchanged_files"], 1);
    assert_eq!(second["messages_inserted"], 1);
    assert_eq!(second["error_count"], 0);
    let found = stdout_json(
        &t.csep(&["recall", "zanzibar", "--json", "--scope", "sessions"])
            .output()
            .unwrap(),
    );
    assert_eq!(found["status"], "matched", "{found:#}");
}

/// Claude Code writes a subagent's transcript to `<session>/subagents/agent-<id>.jsonl` with the
/// parent's `sessionId`; both files' messages are archived and found.
#[test]
fn a_subagent_transcript_and_its_parent_are_both_archived() {
    let t = TestHome::new();
    let dir = t.scratch().join("projects").join("-w");
    let line = |text: &str, extra: serde_json::Value| {
        let mut record = serde_json::json!({"type": "user", "sessionId": "S1", "cwd": "/w",
            "timestamp": "2026-01-05T10:00:00.000Z",
            "message": {"role": "user", "content": text}});
        record
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        format!("{record}\n")
    };
    std::fs::create_dir_all(dir.join("S1").join("subagents")).unwrap();
    // Same line lengths, so the two files' messages sit at the same byte offsets.
    std::fs::write(
        dir.join("S1.jsonl"),
        line(
            "tune the kubernetes ingress",
            serde_json::json!({"isSidechain": false}),
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("S1").join("subagents").join("agent-ag1.jsonl"),
        line(
            "explore postgres vacuum",
            serde_json::json!({"isSidechain": true, "agentId": "ag1"}),
        ),
    )
    .unwrap();
    let dir = dir.to_string_lossy().into_owned();
    let report = success_json(&mut t.csep(&["--json", "import", "claude-sessions", "--dir", &dir]));
    assert_eq!(report["messages_inserted"], 2, "{report}");
    for (query, session) in [
        ("kubernetes ingress", "S1"),
        ("postgres vacuum", "S1/agent-ag1"),
    ] {
        let v = success_json(&mut t.csep(&["recall", query, "--all-projects", "--json"]));
        assert_eq!(v["results"][0]["id"], session, "{query}: {v}");
    }
}

/// Import keeps what it can and says what it could not: a line with bytes that are not UTF-8
/// is archived with U+FFFD, a line that is not JSON is skipped and counted, and a file that
/// cannot be read is listed with its cause and makes the exit code 1 while the rest is imported.
#[cfg(target_os = "linux")]
#[test]
fn import_reports_repaired_and_skipped_lines_and_failed_files_with_their_cause() {
    let t = TestHome::new();
    let dir = t.scratch().join("sessions");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rollout =
        std::fs::read(format!("{FIXTURES}/codex/rollout-auto-compaction.jsonl")).unwrap();
    let line = serde_json::json!({"timestamp": "2026-11-25T22:07:00.000Z", "type": "response_item",
        "payload": {"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "the zanzibar caf\u{e9} latin marker"}]}})
    .to_string();
    // The `é` as one Latin-1 byte, as a tool that is not UTF-8 would write it.
    rollout.extend(
        line.replace('\u{e9}', "\u{1}")
            .bytes()
            .map(|b| if b == 1 { 0xe9 } else { b }),
    );
    rollout.extend(b"\n{not json at all\n");
    std::fs::write(dir.join("rollout-good.jsonl"), &rollout).unwrap();
    // Reading a process's memory at offset 0 fails with an I/O error, even for root.
    std::os::unix::fs::symlink("/proc/self/mem", dir.join("rollout-unreadable.jsonl")).unwrap();
    let dir = dir.to_string_lossy().into_owned();
    let out = t
        .csep(&["--json", "import", "codex-sessions", "--dir", &dir])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = stdout_json(&out);
    assert_eq!(report["ingested_files"], 1, "{report}");
    assert_eq!(report["error_count"], 1, "{report}");
    assert_eq!(report["repaired_lines"], 1, "{report}");
    assert_eq!(report["malformed_lines"], 1, "{report}");
    let error = report["errors"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("could not read transcript") && error.contains("os error"),
        "{error}"
    );
    let v = success_json(&mut t.csep(&["recall", "zanzibar", "--all-projects", "--json"]));
    let text = v["results"][0]["messages"].to_string();
    assert!(text.contains("zanzibar caf\u{fffd} latin"), "{v}");
    // The human report says the same.
    let out = t
        .csep(&["import", "codex-sessions", "--dir", &dir])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("failed: ") && text.contains("os error"),
        "{text}"
    );
}

/// Numbers at the edge of their type are clear results or errors, never a panic.
#[test]
fn huge_top_k_and_since_values_never_panic() {
    let t = imported_home();
    let v = success_json(&mut t.csep(&[
        "recall",
        "echo",
        "--all-projects",
        "--top-k",
        "18446744073709551615",
        "--json",
    ]));
    assert_eq!(v["status"], "matched", "{v}");
    for args in [
        &["recall", "echo", "--since", "99999999999d", "--json"][..],
        &[
            "import",
            "codex-sessions",
            "--dir",
            FIXTURES,
            "--since",
            "20000000000000000w",
        ],
    ] {
        let out = t.csep(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("smaller age"),
            "{args:?}: {out:?}"
        );
    }
}

/// Under the reference's command name, `recall` answers as the reference's did: JSON with every
/// match unless told otherwise; `csep recall` keeps Markdown and three hits.
#[test]
fn the_reference_binary_recalls_json_with_every_match_by_default() {
    let t = imported_home();
    let cwd = t.scratch().to_string_lossy().into_owned();
    let out = t
        .reference(&["recall", "--query", "echo", "--cwd", &cwd])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v = stdout_json(&out);
    assert_eq!(v["status"], "matched", "{v}");
    assert!(v["count"].as_u64().unwrap() > 3, "every match: {v}");
    assert_eq!(v["count"], v["results"].as_array().unwrap().len());
    let out = t
        .reference(&[
            "recall", "--query", "echo", "--cwd", &cwd, "--format", "markdown", "--top-k", "1",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("## Focused Recall"));
    let out = t
        .csep(&["recall", "--query", "echo", "--cwd", &cwd])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Results: 3\n"), "{text}");
}

#[test]
fn all_projects_with_scope_project_is_a_usage_error() {
    let t = TestHome::new();
    t.csep(&["recall", "deploy", "--all-projects", "--scope", "project"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--scope global"));
}

/// Asserts that a recall's JSON carries a note containing `text`.
fn assert_note(v: &serde_json::Value, text: &str) {
    assert!(
        v["note"].as_str().is_some_and(|n| n.contains(text)),
        "no note with {text:?}: {v}"
    );
}

#[test]
fn a_cwd_that_does_not_exist_is_noted_not_silently_searched_from() {
    let t = imported_home();
    let v = success_json(&mut t.csep(&["recall", "echo", "--cwd", "/nonexistent/app", "--json"]));
    assert_eq!(v["status"], "matched", "{v}");
    assert_note(&v, "/nonexistent/app does not exist");
}

/// A phrase or an exclusion that leans on a common word says the word was not searched.
#[test]
fn common_words_dropped_from_phrases_and_exclusions_are_noted() {
    let t = imported_home();
    let v = success_json(&mut t.csep(&["recall", "--query", "echo -not", "--json"]));
    assert_eq!(v["status"], "matched", "{v}");
    assert_note(&v, "without `not`");
    let out = t
        .csep(&["recall", "--query", "echo -not"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\nNote: Common words are not indexed"),
        "{text}"
    );
}

/// `csep recall deploy -staging`: clap reads `-s` as an unknown option; the user is told how to
/// exclude a word.
#[test]
fn an_exclusion_on_the_command_line_gets_a_hint() {
    let t = TestHome::new();
    t.csep(&["--home", "x", "recall", "deploy", "-staging"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "hint: to exclude a word, put it after `--`",
        ));
    t.csep(&["status", "--bogus"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("hint:").not());
}

/// A rollout written before Codex wrapped its lines in `{timestamp, type, payload}` (a header
/// line, `record_type` markers, bare response items) is archived: its conversation is found,
/// dated from its header, and the imported session names the `<cwd>` of its environment
/// context.
#[test]
fn a_legacy_codex_rollout_is_imported_and_recalled() {
    let t = TestHome::new();
    let legacy = format!("{FIXTURES}/codex-legacy");
    let report =
        success_json(&mut t.csep(&["--json", "import", "codex-sessions", "--dir", &legacy]));
    assert_eq!(report["ingested_files"], 1, "{report:#}");
    assert_eq!(report["error_count"], 0, "{report:#}");
    // The prompt, the reasoning, the call, its output and the answer, plus the two injected
    // messages (user instructions, environment context), stored but never searched.
    assert_eq!(report["messages_inserted"], 7, "{report:#}");
    assert_eq!(report["injected_inserted"], 2, "{report:#}");
    let v = stdout_json(
        &t.csep(&[
            "recall",
            "order retry timeout",
            "--json",
            "--scope",
            "sessions",
            "--all-projects",
        ])
        .output()
        .unwrap(),
    );
    assert_eq!(v["status"], "matched", "{v:#}");
    let hit = &v["results"][0];
    assert_eq!(hit["id"], "5973b6c0-94b8-487b-a530-2aeb6098ae0e", "{hit:#}");
    assert_eq!(hit["host"], "codex");
    let text = hit.to_string();
    assert!(text.contains("2025-05-07"), "{hit:#}");
    assert!(text.contains("RETRY_TIMEOUT"), "{hit:#}");
    assert!(text.contains("/home/dev/shop"), "{hit:#}");
}
