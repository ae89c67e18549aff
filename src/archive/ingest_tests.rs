use std::io::Write;

use pretty_assertions::assert_eq;
use rstest::rstest;

use super::*;
use crate::host::transcript::parse_chunk;

const CODEX_ROLLOUT: &str = "tests/fixtures/codex/rollout-with-tool-call-and-stop-block.jsonl";
const CODEX_COMPACTION: &str = "tests/fixtures/codex/rollout-auto-compaction.jsonl";
const CLAUDE_TRANSCRIPT: &str =
    "tests/fixtures/claude/transcript-with-tool-call-and-stop-block.jsonl";
const CLAUDE_COMPACT: &str = "tests/fixtures/claude/transcript-resume-and-compact.jsonl";

fn count(store: &Store, sql: &str) -> i64 {
    store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

fn codex_line(ts: &str, role: &str, text: &str) -> String {
    let kind = if role == "user" {
        "input_text"
    } else {
        "output_text"
    };
    serde_json::json!({
        "timestamp": ts,
        "type": "response_item",
        "payload": {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}
    })
    .to_string()
        + "\n"
}

fn codex_meta(id: &str, cwd: &str) -> String {
    serde_json::json!({
        "timestamp": "2026-03-01T10:00:00.000Z",
        "type": "session_meta",
        "payload": {"id": id, "timestamp": "2026-03-01T10:00:00.000Z", "cwd": cwd,
                    "cli_version": "0.1.0"}
    })
    .to_string()
        + "\n"
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

fn append(path: &Path, bytes: &[u8]) {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

#[rstest]
#[case::codex_rollout(Host::Codex, CODEX_ROLLOUT)]
#[case::codex_compaction(Host::Codex, CODEX_COMPACTION)]
#[case::claude_transcript(Host::Claude, CLAUDE_TRANSCRIPT)]
#[case::claude_compact(Host::Claude, CLAUDE_COMPACT)]
fn golden_transcripts_archive_every_message_and_index_only_non_injected_ones(
    #[case] host: Host,
    #[case] path: &str,
) {
    let mut store = Store::open_in_memory().unwrap();
    let bytes = std::fs::read(path).unwrap();
    let parsed = parse_chunk(host, &bytes, 0);
    let report = ingest_transcript(&mut store, host, Path::new(path), None, None).unwrap();
    let injected = parsed
        .messages
        .iter()
        .filter(|m| m.origin.is_injected())
        .count() as i64;
    let users = parsed
        .messages
        .iter()
        .filter(|m| m.origin == Origin::User)
        .count() as i64;
    assert_eq!(report.messages_inserted, parsed.messages.len() as u64);
    assert_eq!(report.injected_inserted, injected as u64);
    assert_eq!(report.next_offset, bytes.len() as u64);
    assert_eq!(report.session_id, parsed.session.id);
    assert!(injected > 0, "fixture has injected context");
    assert_eq!(
        count(&store, "SELECT count(*) FROM messages"),
        parsed.messages.len() as i64
    );
    let total = parsed.messages.len() as i64;
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM messages WHERE term_count IS NOT NULL"
        ),
        total - injected
    );
    assert_eq!(
        count(&store, "SELECT sum(rows) FROM message_segments"),
        total - injected
    );
    assert_eq!(
        count(&store, "SELECT message_count FROM sessions"),
        total - injected
    );
    assert_eq!(
        count(&store, "SELECT user_message_count FROM sessions"),
        users
    );
    // The session's times are the transcript's own.
    let (started, last): (String, String) = store
        .conn()
        .query_row(
            "SELECT started_at, last_message_at FROM sessions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(started.starts_with("2026-11-25"), "{started}");
    assert!(last >= started);
    // Idempotent: a second ingest reads nothing new and adds nothing.
    let again = ingest_transcript(&mut store, host, Path::new(path), None, None).unwrap();
    assert_eq!((again.messages_seen, again.messages_inserted), (0, 0));
    assert_eq!(again.session_ref, report.session_ref);
    assert_eq!(count(&store, "SELECT count(*) FROM messages"), total);
}

#[test]
fn injected_context_is_stored_but_never_found_in_the_index() {
    let mut store = Store::open_in_memory().unwrap();
    ingest_transcript(
        &mut store,
        Host::Codex,
        Path::new(CODEX_ROLLOUT),
        None,
        None,
    )
    .unwrap();
    let stored = count(
        &store,
        "SELECT count(*) FROM messages WHERE origin LIKE 'injected:%' AND text LIKE '%CTX-MARKER-sessionstart%'",
    );
    assert!(stored > 0);
    assert_eq!(found_ids(&store, "environment_context"), Vec::<i64>::new());
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM messages WHERE origin LIKE 'injected:%' AND term_count IS NOT NULL"
        ),
        0
    );
    // The same words in a message of the conversation are found.
    assert!(!found_ids(&store, "exec_command").is_empty());
}

/// The ids of the archived messages recall finds for `query`, ascending.
fn found_ids(store: &Store, query: &str) -> Vec<i64> {
    let q = crate::recall::analyze::match_query(query).unwrap().unwrap();
    let found = crate::recall::pool::TermMatches::load_messages(
        store.conn(),
        q.whole.then_some(&q),
        &q.terms,
    )
    .unwrap();
    let mut ids: Vec<i64> = found
        .pool(usize::MAX, |ids| {
            Ok(ids.iter().map(|&id| (id, ())).collect())
        })
        .unwrap()
        .into_iter()
        .map(|(id, _, ())| id)
        .collect();
    ids.sort_unstable();
    ids
}

#[test]
fn a_growing_file_is_ingested_incrementally_with_only_the_new_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join("rollout-2026-03-01T10-00-00-0199a1b2-0000-7000-8000-000000000001.jsonl");
    let mut store = Store::open_in_memory().unwrap();
    write(&path, codex_meta("s-grow", "/work/app").as_bytes());
    append(
        &path,
        codex_line("2026-03-01T10:00:01.000Z", "user", "first question").as_bytes(),
    );
    let first = ingest_transcript(&mut store, Host::Codex, &path, None, None).unwrap();
    assert_eq!(first.messages_inserted, 1);
    append(
        &path,
        codex_line("2026-03-01T10:00:02.000Z", "assistant", "first answer").as_bytes(),
    );
    append(
        &path,
        codex_line("2026-03-01T10:05:00.000Z", "user", "second question").as_bytes(),
    );
    let second = ingest_transcript(&mut store, Host::Codex, &path, None, None).unwrap();
    assert_eq!(second.from_offset, first.next_offset);
    assert_eq!((second.messages_seen, second.messages_inserted), (2, 2));
    assert_eq!(second.session_ref, first.session_ref);
    assert_eq!(second.session_id.as_deref(), Some("s-grow"));
    assert_eq!(count(&store, "SELECT count(*) FROM messages"), 3);
    assert_eq!(count(&store, "SELECT message_count FROM sessions"), 3);
    assert_eq!(count(&store, "SELECT user_message_count FROM sessions"), 2);
    let last: String = store
        .conn()
        .query_row("SELECT last_message_at FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(last, "2026-03-01T10:05:00.000Z");
    assert_message_ranges_hold(&store);
}

/// Every session's message range is exactly its messages' lowest and highest rowid (what
/// recall reads to skip other sessions' rows).
fn assert_message_ranges_hold(store: &Store) {
    let wrong = count(
        store,
        "SELECT count(*) FROM sessions s WHERE \
         s.first_message_id IS NOT (SELECT min(id) FROM messages WHERE session_ref = s.id) \
         OR s.last_message_id IS NOT (SELECT max(id) FROM messages WHERE session_ref = s.id)",
    );
    assert_eq!(wrong, 0, "sessions whose message range is off");
    assert!(
        count(
            store,
            "SELECT count(*) FROM sessions WHERE first_message_id IS NOT NULL"
        ) > 0
    );
}

#[test]
fn a_truncated_last_line_waits_until_it_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let mut store = Store::open_in_memory().unwrap();
    let line = codex_line("2026-03-01T10:00:02.000Z", "assistant", "the answer");
    let (head, tail) = line.split_at(line.len() / 2);
    write(&path, (codex_meta("s-partial", "/w") + head).as_bytes());
    let first = ingest_transcript(&mut store, Host::Codex, &path, None, None).unwrap();
    assert_eq!(first.messages_inserted, 0);
    assert_eq!(
        first.next_offset,
        codex_meta("s-partial", "/w").len() as u64
    );
    append(&path, tail.as_bytes());
    let second = ingest_transcript(&mut store, Host::Codex, &path, None, None).unwrap();
    assert_eq!(second.messages_inserted, 1);
    assert_eq!(second.malformed_lines, 0);
}

#[test]
fn a_shrunk_file_restarts_from_zero_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let mut store = Store::open_in_memory().unwrap();
    let meta = codex_meta("s-shrink", "/w");
    let a = codex_line("2026-03-01T10:00:01.000Z", "user", "alpha");
    let b = codex_line("2026-03-01T10:00:02.000Z", "assistant", "beta");
    write(&path, format!("{meta}{a}{b}").as_bytes());
    ingest_transcript(&mut store, Host::Codex, &path, None, None).unwrap();
    write(&path, format!("{meta}{a}").as_bytes());
    let report = ingest_transcript(&mut store, Host::Codex, &path, None, None).unwrap();
    assert_eq!(report.restart, Some(Restart::Shrunk));
    assert_eq!(report.from_offset, 0);
    assert_eq!(report.messages_inserted, 0);
    assert_eq!(count(&store, "SELECT count(*) FROM messages"), 2);
    assert_eq!(count(&store, "SELECT message_count FROM sessions"), 2);
}

#[test]
fn a_replaced_file_is_read_again_as_a_new_session() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let mut store = Store::open_in_memory().unwrap();
    write(
        &path,
        (codex_meta("s-old", "/w") + &codex_line("2026-03-01T10:00:01.000Z", "user", "old"))
            .as_bytes(),
    );
    ingest_transcript(&mut store, Host::Codex, &path, None, None).unwrap();
    let newer = codex_meta("s-new", "/w")
        + &codex_line("2026-03-02T10:00:01.000Z", "user", "new one")
        + &codex_line(
            "2026-03-02T10:00:02.000Z",
            "assistant",
            "a longer replacement answer",
        );
    write(&path, newer.as_bytes());
    let report = ingest_transcript(&mut store, Host::Codex, &path, None, None).unwrap();
    assert_eq!(report.restart, Some(Restart::Replaced));
    assert_eq!(report.session_id.as_deref(), Some("s-new"));
    assert_eq!(report.messages_inserted, 2);
    assert_eq!(count(&store, "SELECT count(*) FROM sessions"), 2);
    assert_eq!(count(&store, "SELECT count(*) FROM messages"), 3);
}

#[test]
fn invalid_utf8_lines_are_counted_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let mut store = Store::open_in_memory().unwrap();
    let mut bytes = codex_meta("s-utf8", "/w").into_bytes();
    bytes.extend_from_slice(
        b"{\"timestamp\":\"x\",\"type\":\"response_item\",\"payload\":\xff\xfe}\n",
    );
    bytes
        .extend_from_slice(codex_line("2026-03-01T10:00:01.000Z", "user", "still here").as_bytes());
    write(&path, &bytes);
    let report = ingest_transcript(&mut store, Host::Codex, &path, None, None).unwrap();
    assert_eq!(report.malformed_lines, 1);
    assert_eq!(report.messages_inserted, 1);
    assert_eq!(report.next_offset, bytes.len() as u64);
}

#[test]
fn secrets_are_redacted_before_they_reach_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let mut store = Store::open_in_memory().unwrap();
    let secret = "AKIAIOSFODNN7EXAMPLQ";
    write(
        &path,
        (codex_meta("s-secret", "/w")
            + &codex_line(
                "2026-03-01T10:00:01.000Z",
                "user",
                &format!("my key is {secret} ok"),
            ))
            .as_bytes(),
    );
    ingest_transcript(&mut store, Host::Codex, &path, None, None).unwrap();
    let text: String = store
        .conn()
        .query_row("SELECT text FROM messages", [], |r| r.get(0))
        .unwrap();
    assert!(!text.contains(secret), "{text}");
    assert!(text.contains("[REDACTED:"), "{text}");
}

#[test]
fn long_tool_outputs_are_cut_to_the_cap_keeping_head_and_tail() {
    let text = format!("HEAD{}TAIL", "x".repeat(100_000));
    let cut = truncate_middle(Cow::Borrowed(&text), MAX_TOOL_OUTPUT_BYTES);
    assert!(cut.len() < MAX_TOOL_OUTPUT_BYTES + 100);
    assert!(cut.starts_with("HEAD") && cut.ends_with("TAIL"));
    assert!(cut.contains("bytes truncated by csep"));
    let cjk = "订".repeat(10_000);
    let cut = truncate_middle(Cow::Borrowed(&cjk), 1000);
    assert!(cut.len() < 1100);
}

#[test]
fn a_transcript_without_an_id_takes_the_hint_or_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let line = codex_line("2026-03-01T10:00:01.000Z", "user", "no meta here");
    let named = dir
        .path()
        .join("rollout-2026-03-01T10-00-00-0199a1b2-0000-7000-8000-00000000abcd.jsonl");
    write(&named, line.as_bytes());
    let hinted = dir.path().join("other.jsonl");
    write(&hinted, line.as_bytes());
    let mut store = Store::open_in_memory().unwrap();
    let by_name = ingest_transcript(&mut store, Host::Codex, &named, None, None).unwrap();
    assert_eq!(
        by_name.session_id.as_deref(),
        Some("0199a1b2-0000-7000-8000-00000000abcd")
    );
    let by_hint =
        ingest_transcript(&mut store, Host::Codex, &hinted, None, Some("hint-1")).unwrap();
    assert_eq!(by_hint.session_id.as_deref(), Some("hint-1"));
}

#[test]
fn a_missing_transcript_is_an_io_error_naming_it() {
    let mut store = Store::open_in_memory().unwrap();
    let err = ingest_transcript(
        &mut store,
        Host::Codex,
        Path::new("/nonexistent/x.jsonl"),
        None,
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/x.jsonl"), "{err}");
}

#[test]
fn the_project_is_recorded_and_kept_when_later_ingests_do_not_know_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let mut store = Store::open_in_memory().unwrap();
    let identity = crate::store::identity::RepoIdentity::resolve(dir.path()).unwrap();
    let project = crate::store::project::upsert(&store, &identity, "2026-01-01T00:00:00Z").unwrap();
    write(
        &path,
        (codex_meta("s-proj", "/w") + &codex_line("2026-03-01T10:00:01.000Z", "user", "q"))
            .as_bytes(),
    );
    ingest_transcript(&mut store, Host::Codex, &path, Some(&project.id), None).unwrap();
    append(
        &path,
        codex_line("2026-03-01T10:00:02.000Z", "user", "q2").as_bytes(),
    );
    ingest_transcript(&mut store, Host::Codex, &path, None, None).unwrap();
    let stored: String = store
        .conn()
        .query_row("SELECT project_id FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, project.id);
}

fn codex_tool_lines(i: usize, output_bytes: usize) -> String {
    let call = serde_json::json!({
        "timestamp": format!("2026-03-01T10:{:02}:{:02}.000Z", (i / 60) % 60, i % 60),
        "type": "response_item",
        "payload": {"type": "function_call", "name": "exec_command", "call_id": format!("c{i}"),
                    "arguments": format!("{{\"cmd\":\"cargo test retry_{i}\"}}")}
    });
    let body =
        format!("line {i}: parseFileFrom retrying tests 订单超时 ").repeat(output_bytes / 48 + 1);
    let output = serde_json::json!({
        "timestamp": format!("2026-03-01T10:{:02}:{:02}.500Z", (i / 60) % 60, i % 60),
        "type": "response_item",
        "payload": {"type": "function_call_output", "call_id": format!("c{i}"),
                    "output": format!("API_KEY=sk-proj-Abc123Def456Ghi789Jkl012 {i}\n{body}")}
    });
    format!("{call}\n{output}\n")
}

/// A Codex rollout of several MiB: session line, prompts, injected context, tool calls whose
/// outputs carry a secret and run past the cap.
fn big_codex_rollout(meta_first: bool) -> String {
    let mut text = String::new();
    if meta_first {
        text.push_str(&codex_meta("big-1", "/work/big"));
    }
    for i in 0..400 {
        text.push_str(&codex_line(
            "2026-03-01T10:00:01.000Z",
            "user",
            &format!("prompt {i}: why does the retry_policy time out?"),
        ));
        if i % 50 == 0 {
            text.push_str(&codex_line(
                "2026-03-01T10:00:01.000Z",
                "user",
                "<environment_context>\n  <cwd>/work/big</cwd>\n</environment_context>",
            ));
        }
        text.push_str(&codex_tool_lines(i, 12 * 1024));
    }
    if !meta_first {
        text.push_str(&codex_meta("big-late", "/work/big"));
    }
    text
}

/// Every row an ingest leaves, in a comparable form (FTS rows through the words they match).
fn archive_dump(store: &Store) -> Vec<String> {
    let mut rows = Vec::new();
    let mut push_query = |sql: &str| {
        let mut stmt = store.conn().prepare(sql).unwrap();
        let n = stmt.column_count();
        let mut q = stmt.query([]).unwrap();
        while let Some(r) = q.next().unwrap() {
            let cols: Vec<String> = (0..n)
                .map(|i| match r.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                    rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                    rusqlite::types::ValueRef::Real(v) => v.to_string(),
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        String::from_utf8_lossy(t).into_owned()
                    }
                })
                .collect();
            rows.push(cols.join("|"));
        }
    };
    push_query(
        "SELECT id, host, session_id, project_id, cwd, transcript_path, model, cli_version, \
         started_at, last_message_at, message_count, user_message_count FROM sessions ORDER BY id",
    );
    push_query(
        "SELECT id, session_ref, byte_offset, seq, turn_id, ts, role, origin, tool_name, \
         tool_args, text, term_count FROM messages ORDER BY id",
    );
    push_query(
        "SELECT transcript_path, host, session_ref, byte_offset, file_size, head_hash \
         FROM ingest_checkpoints ORDER BY transcript_path",
    );
    for word in [
        "retry",
        "parseFileFrom",
        "订单",
        "exec_command",
        "environment_context",
    ] {
        let ids = found_ids(store, word);
        rows.push(format!("{word}: {ids:?}"));
    }
    rows
}

fn ingest_in(mode: IngestMode, path: &Path) -> (IngestReport, Vec<String>) {
    let mut store = Store::open_in_memory().unwrap();
    let report = ingest_transcript_with(&mut store, Host::Codex, path, None, None, mode).unwrap();
    (report, archive_dump(&store))
}

#[rstest]
#[case::session_line_first(true)]
#[case::session_line_after_the_first_block(false)]
fn the_pipelined_ingest_archives_exactly_what_the_sequential_one_does(#[case] meta_first: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rollout-big.jsonl");
    write(&path, big_codex_rollout(meta_first).as_bytes());
    assert!(std::fs::metadata(&path).unwrap().len() > 4 * READ_BLOCK_BYTES);
    let (seq_report, seq_rows) = ingest_in(IngestMode::Sequential, &path);
    let (pipe_report, pipe_rows) = ingest_in(IngestMode::Pipelined, &path);
    assert_eq!(pipe_rows, seq_rows);
    assert_eq!(pipe_report, seq_report);
    let expected_id = if meta_first { "big-1" } else { "big-late" };
    assert_eq!(seq_report.session_id.as_deref(), Some(expected_id));
    assert_eq!(seq_report.messages_seen, 400 + 8 + 800);
    assert_eq!(seq_report.messages_inserted, 400 + 8 + 800);
    assert!(
        seq_rows
            .iter()
            .any(|r| r.starts_with("retry: [") && r.len() > 20)
    );
    assert!(
        !seq_rows.iter().any(|r| r.contains("sk-proj-Abc123")),
        "a secret reached the archive"
    );
}

/// A Codex rollout of many read blocks (about 16): more than the preparing threads hold in
/// flight at once, so every preparer takes several blocks. Most of
/// its bytes are `item_completed` events, which the parser skips, so that the test stays quick.
fn many_block_rollout() -> String {
    let mut text = codex_meta("many-1", "/work/many");
    for i in 0..96 {
        text.push_str(&codex_line(
            "2026-03-01T10:00:01.000Z",
            "user",
            &format!("prompt {i}: why does retry_policy_{i} time out?"),
        ));
        text.push_str(&codex_tool_lines(i, 1024 + (i % 7) * 2048));
        let event = serde_json::json!({
            "timestamp": "2026-03-01T10:00:02.000Z",
            "type": "event_msg",
            "payload": {"type": "item_completed", "item": {"text": "skipped ".repeat(20 * 1024)}}
        });
        text.push_str(&format!("{event}\n"));
    }
    text
}

#[test]
fn a_pipelined_ingest_of_many_blocks_writes_them_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rollout-many.jsonl");
    write(&path, many_block_rollout().as_bytes());
    let len = std::fs::metadata(&path).unwrap().len();
    // Twice the blocks the reader, the preparers and their queues hold at once, and more.
    assert!(len > 12 * READ_BLOCK_BYTES, "{len} bytes: too few blocks");
    let (seq_report, seq_rows) = ingest_in(IngestMode::Sequential, &path);
    let mut store = Store::open_in_memory().unwrap();
    let pipe_report = pipelined(&mut store, &path).unwrap();
    assert_eq!(archive_dump(&store), seq_rows);
    assert_eq!(pipe_report, seq_report);
    assert_eq!(pipe_report.messages_inserted, 96 * 3);
    // Rowids follow the file: each message's offset (then seq) is past the previous one's.
    let offsets: Vec<(i64, i64)> = store
        .conn()
        .prepare("SELECT byte_offset, seq FROM messages ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
    assert_message_ranges_hold(&store);
}

/// The many-block rollout with turn `turn`'s prompt replaced by one [`poisoned_store`] refuses.
fn poisoned_rollout(turn: usize) -> String {
    let text = many_block_rollout();
    let prompt = format!("prompt {turn}: why does retry_policy_{turn} time out?");
    assert!(text.contains(&prompt));
    text.replacen(&prompt, "POISON", 1)
}

#[test]
fn a_pipelined_ingest_whose_writer_fails_in_its_first_part_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rollout-poisoned.jsonl");
    write(&path, poisoned_rollout(3).as_bytes());
    let mut store = poisoned_store();
    let error = pipelined(&mut store, &path).unwrap_err().to_string();
    assert!(error.contains("poisoned message"), "{error}");
    assert_eq!(count(&store, "SELECT count(*) FROM messages"), 0);
    assert_eq!(count(&store, "SELECT count(*) FROM sessions"), 0);
    assert_eq!(count(&store, "SELECT count(*) FROM ingest_checkpoints"), 0);
    // The store is usable afterwards: once the poison is gone, the file ingests whole.
    store.conn().execute_batch("DROP TRIGGER poison").unwrap();
    let report = pipelined(&mut store, &path).unwrap();
    assert_eq!(report.messages_inserted, 96 * 3);
}

/// Messages archived by an ingest in parts and not indexed yet (migration 0010).
fn pending_rows(store: &Store) -> i64 {
    count(store, "SELECT count(*) FROM message_pending")
}

/// What an archive holds, whatever the rowids and session ids its writes happened to take:
/// sessions by host id, messages by session and offset, each probe word's matches the same way.
fn content_dump(store: &Store) -> Vec<String> {
    let mut rows = Vec::new();
    let mut stmt = store
        .conn()
        .prepare(
            "SELECT session_id, message_count, user_message_count, started_at, last_message_at \
             FROM sessions ORDER BY session_id",
        )
        .unwrap();
    let sessions = stmt
        .query_map([], |r| {
            Ok(format!(
                "{}|{}|{}|{:?}|{:?}",
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?
            ))
        })
        .unwrap();
    rows.extend(sessions.map(Result::unwrap));
    let key = "s.session_id || '|' || m.byte_offset || '|' || m.seq";
    let mut stmt = store
        .conn()
        .prepare(&format!(
            "SELECT {key} || '|' || m.origin || '|' || m.text || '|' || \
             coalesce(m.term_count, 'NULL') FROM messages m JOIN sessions s ON s.id = m.session_ref \
             ORDER BY s.session_id, m.byte_offset, m.seq"
        ))
        .unwrap();
    rows.extend(
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap),
    );
    for word in ["retry", "time", "skipped", "exec_command"] {
        let ids = found_ids(store, word);
        let mut found: Vec<String> = ids
            .iter()
            .map(|id| {
                store
                    .conn()
                    .query_row(
                        &format!(
                            "SELECT {key} FROM messages m JOIN sessions s \
                             ON s.id = m.session_ref WHERE m.id = ?1"
                        ),
                        [id],
                        |r| r.get(0),
                    )
                    .unwrap()
            })
            .collect();
        found.sort();
        rows.push(format!("{word}: {found:?}"));
    }
    rows
}

#[test]
fn a_pipelined_ingest_whose_writer_fails_after_a_part_keeps_its_rows_for_the_next_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rollout-poisoned.jsonl");
    write(&path, poisoned_rollout(70).as_bytes());
    let mut store = poisoned_store();
    let error = in_parts(&mut store, &path, 2 * READ_BLOCK_BYTES)
        .unwrap_err()
        .to_string();
    assert!(error.contains("poisoned message"), "{error}");
    assert!(error.contains("its checkpoint did not move"), "{error}");
    // The parts before the failure stay archived, but nothing of them is indexed or counted,
    // and the checkpoint did not move: the next ingest reads the same bytes again.
    let kept = count(&store, "SELECT count(*) FROM messages");
    assert!(kept > 0, "no part was committed");
    assert_eq!(
        pending_rows(&store),
        kept - count(
            &store,
            "SELECT count(*) FROM messages WHERE term_count IS NULL"
        )
    );
    assert_eq!(count(&store, "SELECT count(*) FROM ingest_checkpoints"), 0);
    assert_eq!(count(&store, "SELECT sum(message_count) FROM sessions"), 0);
    assert!(found_ids(&store, "retry").is_empty());

    // The next ingest of any transcript indexes and counts what was left.
    let other = dir.path().join("rollout-other.jsonl");
    write(&other, small_codex("other-1", 2).as_bytes());
    ingest_transcript(&mut store, Host::Codex, &other, None, None).unwrap();
    assert_eq!(pending_rows(&store), 0);
    assert!(!found_ids(&store, "retry").is_empty());

    // And once the poison is gone, the failed file ingests whole: the archive then holds what
    // a clean ingest of both files holds, counters and index included.
    store.conn().execute_batch("DROP TRIGGER poison").unwrap();
    let report = pipelined(&mut store, &path).unwrap();
    assert_eq!(report.messages_inserted, 96 * 3 - kept as u64);
    let mut clean = Store::open_in_memory().unwrap();
    ingest_transcript(&mut clean, Host::Codex, &other, None, None).unwrap();
    sequential(&mut clean, &path).unwrap();
    assert_eq!(content_dump(&store), content_dump(&clean));
    assert_message_ranges_hold(&store);
}

#[rstest]
#[case::many_blocks(many_block_rollout())]
#[case::session_line_first(big_codex_rollout(true))]
#[case::session_line_after_the_first_block(big_codex_rollout(false))]
fn an_ingest_in_parts_archives_exactly_what_the_sequential_one_does(#[case] text: String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rollout-parts.jsonl");
    write(&path, text.as_bytes());
    let (seq_report, seq_rows) = ingest_in(IngestMode::Sequential, &path);
    let mut store = Store::open_in_memory().unwrap();
    let report = in_parts(&mut store, &path, READ_BLOCK_BYTES).unwrap();
    assert_eq!(report, seq_report);
    assert_eq!(archive_dump(&store), seq_rows);
    assert_eq!(pending_rows(&store), 0);
    assert_message_ranges_hold(&store);
}

#[test]
fn rows_written_in_parts_move_to_the_session_the_transcript_names_last() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rollout-renamed.jsonl");
    // Named from its first line, renamed by a second session line after many blocks.
    let mut text = many_block_rollout();
    text.push_str(&codex_meta("renamed-2", "/work/many"));
    text.push_str(&codex_line(
        "2026-03-01T10:00:09.000Z",
        "user",
        "after the rename: retry",
    ));
    write(&path, text.as_bytes());
    let mut store = Store::open_in_memory().unwrap();
    let report = in_parts(&mut store, &path, READ_BLOCK_BYTES).unwrap();
    assert_eq!(report.session_id.as_deref(), Some("renamed-2"));
    let mut clean = Store::open_in_memory().unwrap();
    sequential(&mut clean, &path).unwrap();
    // The session the first part was committed under is left with no messages.
    let moved_from: Vec<String> = content_dump(&store)
        .into_iter()
        .filter(|row| row.starts_with("many-1|"))
        .collect();
    assert_eq!(moved_from, ["many-1|0|0|None|None"]);
    let dump: Vec<String> = content_dump(&store)
        .into_iter()
        .filter(|row| !row.starts_with("many-1|"))
        .collect();
    assert_eq!(dump, content_dump(&clean));
    assert_eq!(pending_rows(&store), 0);
    assert_message_ranges_hold(&store);
}

/// A sequential ingest of the Codex transcript at `path`.
fn sequential(store: &mut Store, path: &Path) -> Result<IngestReport, IngestError> {
    ingest_transcript_with(store, Host::Codex, path, None, None, IngestMode::Sequential)
}

/// A pipelined ingest of the Codex transcript at `path`, committing its rows every `part` bytes.
fn in_parts(store: &mut Store, path: &Path, part: u64) -> Result<IngestReport, IngestError> {
    ingest_in_parts(
        store,
        Host::Codex,
        path,
        None,
        None,
        IngestMode::Pipelined,
        part,
    )
}

/// A pipelined ingest of the Codex transcript at `path`.
fn pipelined(store: &mut Store, path: &Path) -> Result<IngestReport, IngestError> {
    ingest_transcript_with(store, Host::Codex, path, None, None, IngestMode::Pipelined)
}

#[test]
fn a_pipelined_ingest_resumes_a_growing_file_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rollout-grow.jsonl");
    let text = big_codex_rollout(true);
    // Cut mid-line: the partial last line waits for the next ingest.
    let cut = text.len() / 2 + 17;
    write(&path, &text.as_bytes()[..cut]);
    let mut store = Store::open_in_memory().unwrap();
    let first = pipelined(&mut store, &path).unwrap();
    assert!(first.next_offset < cut as u64);
    assert_eq!(text.as_bytes()[first.next_offset as usize - 1], b'\n');
    append(&path, &text.as_bytes()[cut..]);
    let second = pipelined(&mut store, &path).unwrap();
    assert_eq!(second.from_offset, first.next_offset);
    assert_eq!(second.next_offset, text.len() as u64);
    let again = pipelined(&mut store, &path).unwrap();
    assert_eq!(again.messages_inserted, 0);

    let (_, whole) = ingest_in(IngestMode::Sequential, &path);
    assert_eq!(archive_dump(&store), whole);
    assert_message_ranges_hold(&store);
}

#[test]
fn a_line_longer_than_a_read_block_is_parsed_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rollout-long-line.jsonl");
    let long = "word ".repeat(3 * READ_BLOCK_BYTES as usize / 5);
    let text = codex_meta("long-1", "/work/long")
        + &codex_line("2026-03-01T10:00:01.000Z", "user", &long)
        + &codex_line("2026-03-01T10:00:02.000Z", "user", "after the long line");
    write(&path, text.as_bytes());
    for mode in [IngestMode::Sequential, IngestMode::Pipelined] {
        let mut store = Store::open_in_memory().unwrap();
        let report =
            ingest_transcript_with(&mut store, Host::Codex, &path, None, None, mode).unwrap();
        assert_eq!(report.messages_inserted, 2, "{mode:?}");
        assert_eq!(report.next_offset, text.len() as u64, "{mode:?}");
        assert_eq!(report.malformed_lines, 0, "{mode:?}");
    }
}

/// Segments of the archive's index.
fn index_segments(store: &Store) -> i64 {
    count(store, "SELECT count(*) FROM message_segments")
}

#[test]
fn a_pipelined_ingest_of_many_blocks_writes_one_index_segment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rollout-blocks.jsonl");
    let mut text = codex_meta("blocks-1", "/work/blocks");
    let filler = "filler words for a block ".repeat(2_000);
    let mut i = 0;
    while text.len() < 3 * READ_BLOCK_BYTES as usize {
        text.push_str(&codex_line(
            "2026-03-01T10:00:01.000Z",
            "user",
            &format!("turn{i} {filler}"),
        ));
        i += 1;
    }
    write(&path, text.as_bytes());
    let mut store = Store::open_in_memory().unwrap();
    pipelined(&mut store, &path).unwrap();
    assert_eq!(index_segments(&store), 1);
    assert_eq!(
        crate::archive::index::doclist(store.conn(), "turn0")
            .unwrap()
            .len(),
        1
    );
    assert_eq!(found_ids(&store, "filler").len(), i);
    // Nothing new: no segment.
    pipelined(&mut store, &path).unwrap();
    assert_eq!(index_segments(&store), 1);
}

/// A message is indexed under each of its terms once, and its `term_count` counts each once; a
/// phrase at a word's second occurrence is still found by recall (`search_tests`).
#[rstest]
#[case::sequential(IngestMode::Sequential)]
#[case::pipelined(IngestMode::Pipelined)]
fn each_term_is_indexed_once_per_message(#[case] mode: IngestMode) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rollout-terms.jsonl");
    write(&path, codex_meta("s-terms", "/work/app").as_bytes());
    append(
        &path,
        codex_line(
            "2026-03-01T10:00:01.000Z",
            "assistant",
            "retry the build; retry again, RETRY_LIMIT reached, retries exhausted",
        )
        .as_bytes(),
    );
    let mut store = Store::open_in_memory().unwrap();
    ingest_transcript_with(&mut store, Host::Codex, &path, None, None, mode).unwrap();
    let id = count(&store, "SELECT id FROM messages");
    assert_eq!(count(&store, "SELECT term_count FROM messages"), 6);
    assert_eq!(crate::archive::index::stats(store.conn()).unwrap(), (1, 6));
    for term in ["retri", "build", "retrylimit", "limit", "reach", "exhaust"] {
        assert_eq!(
            crate::archive::index::doclist(store.conn(), term).unwrap(),
            vec![id],
            "{term}"
        );
    }
}

/// A small Codex transcript of session `id`: a prompt, a tool call and an answer per turn.
/// Writes `dir/file`, a [`small_codex`] rollout of session `id` with two turns.
fn small_rollout(dir: &Path, file: &str, id: &str) -> PathBuf {
    let path = dir.join(file);
    write(&path, small_codex(id, 2).as_bytes());
    path
}

fn small_codex(id: &str, turns: usize) -> String {
    let mut text = codex_meta(id, &format!("/work/{id}"));
    for i in 0..turns {
        text.push_str(&codex_line(
            "2026-03-01T10:00:01.000Z",
            "user",
            &format!("{id} prompt {i}: why does parseFileFrom retry?"),
        ));
        text.push_str(&codex_tool_lines(i, 300));
        text.push_str(&codex_line(
            "2026-03-01T10:00:02.000Z",
            "assistant",
            &format!("{id} answer {i}: the retry loop 订单超时"),
        ));
    }
    text
}

/// Outcomes of an ingest as comparable text (errors by their message).
fn outcome_text(path: &Path, result: Result<IngestReport, IngestError>) -> String {
    match result {
        Ok(report) => format!("{}: {report:?}", path.display()),
        Err(e) => format!("{}: error: {e}", path.display()),
    }
}

#[test]
fn ingesting_many_transcripts_archives_exactly_what_one_by_one_does() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    write(&p("a.jsonl"), small_codex("s-a", 3).as_bytes());
    write(&p("b.jsonl"), small_codex("s-b", 2).as_bytes());
    write(&p("c.jsonl"), small_codex("s-c", 4).as_bytes());
    write(&p("h.jsonl"), small_codex("s-h", 1).as_bytes());
    std::fs::create_dir(p("d.jsonl")).unwrap();
    write(&p("f.jsonl"), big_codex_rollout(true).as_bytes());
    let mut no_meta = codex_line("2026-03-01T10:00:01.000Z", "user", "no session line here");
    no_meta.push_str("{not json\n");
    write(
        &p("rollout-2026-03-01T10-00-00-0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b.jsonl"),
        no_meta.as_bytes(),
    );
    let mut grouped = Store::open_in_memory().unwrap();
    let mut single = Store::open_in_memory().unwrap();
    for store in [&mut grouped, &mut single] {
        for name in ["b.jsonl", "c.jsonl", "h.jsonl"] {
            ingest_transcript(store, Host::Codex, &p(name), None, None).unwrap();
        }
    }
    append(
        &p("b.jsonl"),
        small_codex("s-b", 4).split_once('\n').unwrap().1.as_bytes(),
    );
    write(&p("c.jsonl"), small_codex("s-c2", 1).as_bytes());
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.push(p("missing.jsonl"));
    // A path given twice: its second turn starts where the first one ended.
    paths.push(p("a.jsonl"));
    paths.sort();

    let mut grouped_outcomes = Vec::new();
    ingest_transcripts(&mut grouped, Host::Codex, &paths, |_, path, result| {
        grouped_outcomes.push(outcome_text(path, result));
        Ok::<_, std::convert::Infallible>(())
    })
    .unwrap();
    let single_outcomes: Vec<String> = paths
        .iter()
        .map(|path| {
            outcome_text(
                path,
                ingest_transcript(&mut single, Host::Codex, path, None, None),
            )
        })
        .collect();

    assert_eq!(grouped_outcomes, single_outcomes);
    assert_eq!(archive_dump(&grouped), archive_dump(&single));
    assert_eq!(grouped_outcomes.len(), 9);
    let a_turns: Vec<&String> = grouped_outcomes
        .iter()
        .filter(|o| o.contains("a.jsonl:"))
        .collect();
    assert!(a_turns[1].contains("messages_inserted: 0"), "{a_turns:#?}");
    let errors: Vec<&String> = grouped_outcomes
        .iter()
        .filter(|o| o.contains(": error: "))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        grouped_outcomes
            .iter()
            .any(|o| o.contains("restart: Some(Shrunk)"))
    );
    assert_eq!(
        count(&grouped, "SELECT count(*) FROM sessions"),
        7,
        "a, b, c, c2, f, h and the file-named session"
    );
}

#[test]
fn a_group_of_small_transcripts_writes_one_index_segment() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = (0..12)
        .map(|i| small_rollout(dir.path(), &format!("s{i:02}.jsonl"), &format!("s{i:02}")))
        .collect();
    let mut grouped = Store::open_in_memory().unwrap();
    ingest_transcripts(&mut grouped, Host::Codex, &paths, |_, _, result| {
        result.map(|_| ())
    })
    .unwrap();
    let mut single = Store::open_in_memory().unwrap();
    for path in &paths {
        ingest_transcript(&mut single, Host::Codex, path, None, None).unwrap();
    }
    assert_eq!(archive_dump(&grouped), archive_dump(&single));
    assert_eq!(index_segments(&grouped), 1);
    assert!(index_segments(&single) > 1);
}

/// A store whose writes of a message with the text `POISON` fail.
fn poisoned_store() -> Store {
    let store = Store::open_in_memory().unwrap();
    store
        .conn()
        .execute_batch(
            "CREATE TEMP TRIGGER poison BEFORE INSERT ON messages WHEN NEW.text = 'POISON' \
             BEGIN SELECT RAISE(ABORT, 'poisoned message'); END;",
        )
        .unwrap();
    store
}

#[test]
fn a_group_that_fails_to_write_is_ingested_again_file_by_file() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = ["a", "b", "c"]
        .iter()
        .map(|name| small_rollout(dir.path(), &format!("{name}.jsonl"), &format!("s-{name}")))
        .collect();
    append(
        &paths[1],
        codex_line("2026-03-01T10:00:03.000Z", "user", "POISON").as_bytes(),
    );
    let mut store = poisoned_store();
    let mut outcomes = Vec::new();
    ingest_transcripts(&mut store, Host::Codex, &paths, |_, path, result| {
        outcomes.push((path.to_owned(), result.map_err(|e| e.to_string())));
        Ok::<_, std::convert::Infallible>(())
    })
    .unwrap();
    assert_eq!(outcomes.len(), 3);
    assert!(
        outcomes[0].1.is_ok() && outcomes[2].1.is_ok(),
        "{outcomes:#?}"
    );
    let error = outcomes[1].1.as_ref().unwrap_err();
    assert!(
        error.contains("poisoned message") && error.contains("b.jsonl"),
        "{error}"
    );
    let sessions: String = store
        .conn()
        .query_row(
            "SELECT group_concat(session_id) FROM (SELECT session_id FROM sessions ORDER BY id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sessions, "s-a,s-c", "nothing of the failed file is kept");
}

#[rstest::rstest]
#[case::subagent(Host::Claude, "/p/-w/S1/subagents/agent-a1b2.jsonl", Some("a1b2"))]
#[case::main_transcript(Host::Claude, "/p/-w/S1.jsonl", None)]
#[case::next_to_its_parent(Host::Claude, "/p/-w/agent-a1b2.jsonl", Some("a1b2"))]
#[case::not_jsonl(Host::Claude, "/p/-w/S1/subagents/agent-a1b2.json", None)]
#[case::no_agent_id(Host::Claude, "/p/-w/agent-.jsonl", None)]
#[case::codex_never(Host::Codex, "/s/subagents/agent-a1b2.jsonl", None)]
fn a_subagent_transcript_is_known_by_its_path(
    #[case] host: Host,
    #[case] path: &str,
    #[case] agent: Option<&str>,
) {
    assert_eq!(subagent_of(host, Path::new(path)), agent);
    assert_eq!(subagent_session_id("S1", "a1b2"), "S1/agent-a1b2");
}

/// Older Claude Code and the Agent SDK write a subagent's transcript as `agent-<id>.jsonl` next
/// to its parent's `<session>.jsonl`, with the parent's `sessionId`: it is a session of its own,
/// and none of the parent's lines (at the same byte offsets) is lost, through the import's
/// grouped ingest and the hook's one-file ingest alike.
#[rstest]
#[case::import(true)]
#[case::hook(false)]
fn a_subagent_transcript_next_to_its_parent_is_its_own_session(#[case] grouped: bool) {
    let dir = tempfile::tempdir().unwrap();
    let line = |kind: &str, text: &str, sidechain: bool| {
        serde_json::json!({"type": kind, "sessionId": "S1", "cwd": "/w", "isSidechain": sidechain,
            "timestamp": "2026-01-05T10:00:00.000Z", "message": {"role": kind, "content": text}})
        .to_string()
            + "\n"
    };
    // Same line lengths, so the two files' messages sit at the same byte offsets.
    let parent = dir.path().join("S1.jsonl");
    let agent = dir.path().join("agent-ag1.jsonl");
    write(
        &agent,
        (line("user", "subagent task AAAA", true) + &line("assistant", "subagent done", true))
            .as_bytes(),
    );
    write(
        &parent,
        (line("user", "parent prompt BBB", false) + &line("assistant", "parent reply", false))
            .as_bytes(),
    );
    let mut store = Store::open_in_memory().unwrap();
    let paths = [agent, parent];
    if grouped {
        ingest_transcripts(&mut store, Host::Claude, &paths, |_, _, result| {
            result.map(|_| ())
        })
        .unwrap();
    } else {
        for path in &paths {
            ingest_transcript(&mut store, Host::Claude, path, None, Some("S1")).unwrap();
        }
    }
    let mut stmt = store
        .conn()
        .prepare(
            "SELECT s.session_id, m.text FROM messages m JOIN sessions s ON s.id = m.session_ref \
             ORDER BY s.session_id, m.byte_offset",
        )
        .unwrap();
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let row = |s: &str, t: &str| (s.to_owned(), t.to_owned());
    assert_eq!(
        rows,
        [
            row("S1", "parent prompt BBB"),
            row("S1", "parent reply"),
            row("S1/agent-ag1", "subagent task AAAA"),
            row("S1/agent-ag1", "subagent done"),
        ]
    );
}

/// A checkpoint belongs to the file, not to how its path was typed: `./d/t.jsonl`, `d//t.jsonl`
/// and a symbolic link to it resume where the first ingest stopped.
#[test]
fn a_transcript_named_another_way_resumes_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("d");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("t.jsonl");
    write(
        &path,
        (codex_meta("s-1", "/w") + &codex_line("2026-03-01T10:00:01.000Z", "user", "one"))
            .as_bytes(),
    );
    let mut store = Store::open_in_memory().unwrap();
    let first = ingest_transcript(&mut store, Host::Codex, &path, None, None).unwrap();
    assert_eq!(first.messages_inserted, 1);
    let mut others = vec![
        sub.join(".").join("t.jsonl"),
        PathBuf::from(format!("{}//t.jsonl", sub.display())),
        sub.join("..").join("d").join("t.jsonl"),
    ];
    #[cfg(unix)]
    {
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        others.push(link);
    }
    for other in &others {
        let report = ingest_transcript(&mut store, Host::Codex, other, None, None).unwrap();
        assert_eq!(
            (report.from_offset, report.restart),
            (first.next_offset, None),
            "{}",
            other.display()
        );
    }
    ingest_transcripts(&mut store, Host::Codex, &others, |_, path, result| {
        let report = result.unwrap();
        assert_eq!(report.from_offset, first.next_offset, "{}", path.display());
        Ok::<_, std::convert::Infallible>(())
    })
    .unwrap();
    assert_eq!(count(&store, "SELECT count(*) FROM ingest_checkpoints"), 1);
    assert_eq!(count(&store, "SELECT count(*) FROM sessions"), 1);
}

/// A transcript rewritten in place with the same first 4 KiB, cut and grown again past the
/// saved offset: the offset now falls inside a line, so the file is read again from 0 rather
/// than from the middle of that line. Only the rewritten lines that start at an offset already
/// archived for the session are not stored again (a message is known by its offset).
#[test]
fn a_rewritten_file_grown_past_the_checkpoint_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let old_line = |i: usize| {
        codex_line(
            "2026-03-01T10:00:01.000Z",
            "user",
            &format!("old prompt {i:02} {}", "x".repeat(100)),
        )
    };
    let new_line = |i: usize| {
        codex_line(
            "2026-03-01T10:00:02.000Z",
            "user",
            &format!("newer prompt {i:02} {}", "z".repeat(97)),
        )
    };
    let mut old = codex_meta("s-1", "/w");
    let mut old_offsets = std::collections::HashSet::new();
    for i in 0..40 {
        old_offsets.insert(old.len());
        old.push_str(&old_line(i));
    }
    write(&path, old.as_bytes());
    let mut store = Store::open_in_memory().unwrap();
    let first = ingest_transcript(&mut store, Host::Codex, &path, None, None).unwrap();
    assert_eq!(first.next_offset, old.len() as u64);

    let cut = old[..6000].rfind('\n').unwrap() + 1;
    let mut newer = old[..cut].to_owned();
    let mut expected = 0;
    for i in 0..60 {
        expected += usize::from(!old_offsets.contains(&newer.len()));
        newer.push_str(&new_line(i));
    }
    assert!(newer.len() > old.len());
    assert_ne!(
        newer.as_bytes()[old.len() - 1],
        b'\n',
        "the offset falls inside a line"
    );
    write(&path, newer.as_bytes());
    let report = ingest_transcript(&mut store, Host::Codex, &path, None, None).unwrap();
    assert_eq!(report.restart, Some(Restart::Replaced));
    assert_eq!(report.malformed_lines, 0);
    assert_eq!(report.messages_inserted, expected as u64);
    let stored = count(
        &store,
        "SELECT count(*) FROM messages WHERE text LIKE 'newer prompt%'",
    );
    assert_eq!(stored, expected as i64);
}

/// A file shorter than at the last ingest (its unfinished last line cut back) has changed under
/// the offset even if it still reaches past it: it is read again from 0.
#[test]
fn a_file_shorter_than_at_the_last_ingest_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let done = codex_meta("s-1", "/w") + &codex_line("2026-03-01T10:00:01.000Z", "user", "one");
    write(
        &path,
        format!("{done}{{\"partial line still being written").as_bytes(),
    );
    let mut store = Store::open_in_memory().unwrap();
    let first = ingest_transcript(&mut store, Host::Codex, &path, None, None).unwrap();
    assert_eq!(first.next_offset, done.len() as u64);
    write(&path, format!("{done}{{").as_bytes());
    let report = ingest_transcript(&mut store, Host::Codex, &path, None, None).unwrap();
    assert_eq!(report.restart, Some(Restart::Shrunk));
    assert_eq!(report.messages_inserted, 0);
    assert_eq!(count(&store, "SELECT count(*) FROM messages"), 1);
}

/// `PRAGMA wal_autocheckpoint` of `store`.
fn autocheckpoint(store: &Store) -> i64 {
    store
        .conn()
        .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
        .unwrap()
}

/// An ingest in parts and a backfill, on a database file, where a second connection copies
/// what they commit: the same archive as on one connection, and the writer's automatic
/// checkpoint as it was before.
#[test]
fn ingests_on_a_database_file_copy_their_commits_and_restore_the_automatic_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("rollout-big.jsonl");
    write(&big, many_block_rollout().as_bytes());
    let small: Vec<PathBuf> = (0..3)
        .map(|i| {
            let file = format!("rollout-small-{i}.jsonl");
            small_rollout(dir.path(), &file, &format!("small-{i}"))
        })
        .collect();
    let mut store = Store::open(&dir.path().join("csep.db")).unwrap();
    store
        .conn()
        .pragma_update(None, "wal_autocheckpoint", 123)
        .unwrap();
    in_parts(&mut store, &big, READ_BLOCK_BYTES).unwrap();
    assert_eq!(autocheckpoint(&store), 123);
    let mut reports = 0;
    ingest_transcripts(&mut store, Host::Codex, &small, |_, _, report| {
        report.map(|_| reports += 1)
    })
    .unwrap();
    assert_eq!((reports, autocheckpoint(&store)), (3, 123));
    // Also when the caller stops the backfill.
    let stopped = ingest_transcripts(&mut store, Host::Codex, &small, |_, _, _| Err("stop"));
    assert_eq!((stopped, autocheckpoint(&store)), (Err("stop"), 123));

    let mut clean = Store::open_in_memory().unwrap();
    sequential(&mut clean, &big).unwrap();
    for path in &small {
        sequential(&mut clean, path).unwrap();
    }
    assert_eq!(content_dump(&store), content_dump(&clean));
    assert_eq!(pending_rows(&store), 0);
}

/// The checkpoint sequence number in the header of `database`'s WAL: SQLite adds one each time
/// it starts the WAL over.
fn wal_restarts(database: &Path) -> u32 {
    let wal = std::fs::read(database.with_extension("db-wal")).unwrap();
    u32::from_be_bytes(wal[12..16].try_into().unwrap())
}

/// After the writer waited for the checkpointer's copy, its next transaction starts the WAL
/// over; without the wait, it writes after the frames there.
#[test]
fn a_writer_that_waits_for_the_copy_starts_the_wal_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("csep.db");
    let mut store = Store::open(&path).unwrap();
    let write = |store: &mut Store, n: i64| {
        let tx = store.conn_mut().transaction().unwrap();
        tx.execute(
            "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < ?1) \
             INSERT INTO message_segments (level, rows, tokens) SELECT -1, v, 0 FROM n",
            [n],
        )
        .unwrap();
        tx.commit().unwrap();
    };
    let checkpointer = Checkpointer::start(&store);
    write(&mut store, 5_000);
    let before = wal_restarts(&path);
    write(&mut store, 5_000);
    assert_eq!(wal_restarts(&path), before, "nothing copied: no restart");
    checkpointer.copy_and_wait();
    write(&mut store, 10);
    assert_eq!(wal_restarts(&path), before + 1);
    write(&mut store, 10);
    assert_eq!(wal_restarts(&path), before + 1);
    checkpointer.finish(&store);
}

/// A device or a directory given as a transcript (a hook payload's `transcript_path` can be
/// anything) is refused at once instead of being read forever.
#[test]
fn only_a_regular_file_is_ingested() {
    let mut store = Store::open_in_memory().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for path in [Path::new("/dev/zero"), dir.path()] {
        let error = ingest_transcript(&mut store, Host::Codex, path, None, None).unwrap_err();
        assert!(matches!(error, IngestError::NotAFile { .. }), "{error}");
        assert!(error.to_string().contains("not a regular file"), "{error}");
    }
    assert_eq!(count(&store, "SELECT count(*) FROM ingest_checkpoints"), 0);
}

/// `settle` over `ours` (rowid, user) with `message_pending` holding `pending_ids` first: the
/// ids left pending after, and the counts and postings kept.
fn settled(ours: &[(i64, bool)], pending_ids: &[i64]) -> (Vec<i64>, InsertCounts, u64) {
    let mut store = Store::open_in_memory().unwrap();
    let tx = store.conn_mut().transaction().unwrap();
    for id in pending_ids {
        tx.execute("INSERT INTO message_pending (id) VALUES (?1)", [id])
            .unwrap();
    }
    let mut index = IndexBuilder::default();
    let mut counts = InsertCounts::default();
    let mut pending: Vec<PendingRow> = ours
        .iter()
        .map(|&(rowid, user)| {
            index.add(rowid, &crate::recall::analyze::TermList::split("retri"));
            counts.inserted += 1;
            counts.user += u64::from(user);
            PendingRow { rowid, user }
        })
        .collect();
    settle(&tx, &mut index, &mut pending, &mut counts).unwrap();
    assert!(pending.is_empty());
    index.flush(&tx).unwrap();
    let left: Vec<i64> = tx
        .prepare("SELECT id FROM message_pending ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let postings = crate::archive::index::doclist(&tx, "retri").unwrap().len() as u64;
    (left, counts, postings)
}

#[test]
fn settling_takes_a_writers_own_pending_rows_and_only_those() {
    let ours = [(10, true), (11, false), (13, true)];
    // All still pending, nothing else in their range: taken at once.
    let (left, counts, postings) = settled(&ours, &[5, 10, 11, 13, 20]);
    assert_eq!(left, [5, 20]);
    assert_eq!((counts.inserted, counts.user, postings), (3, 2, 3));
    // Another ingest's row pending between them stays pending.
    let (left, counts, postings) = settled(&ours, &[10, 11, 12, 13]);
    assert_eq!(left, [12]);
    assert_eq!((counts.inserted, counts.user, postings), (3, 2, 3));
    // A row another ingest indexed meanwhile (no longer pending) is neither counted nor
    // indexed again, even with a foreign row making the count in the range match.
    let (left, counts, postings) = settled(&ours, &[10, 12, 13]);
    assert_eq!(left, [12]);
    assert_eq!((counts.inserted, counts.user, postings), (2, 2, 2));
}
