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
        count(&store, "SELECT count(*) FROM messages_fts"),
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
    let expr = crate::recall::analyze::match_expr("environment_context")
        .unwrap()
        .unwrap();
    let found: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?1",
            [&expr],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(found, 0);
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
