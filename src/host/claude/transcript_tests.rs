use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use rstest::rstest;

use super::*;
use crate::host::transcript::SessionMeta;

const TRANSCRIPT: &str = "tests/fixtures/claude/transcript-with-tool-call-and-stop-block.jsonl";
const COMPACT: &str = "tests/fixtures/claude/transcript-resume-and-compact.jsonl";
const PROMPT: &str = "643813e0-875a-4252-b9f3-758ec9732cb6";

fn parse_fixture(path: &str) -> TranscriptChunk {
    parse_chunk(&std::fs::read(path).unwrap(), 0)
}

fn ts(s: &str) -> Option<jiff::Timestamp> {
    Some(s.parse().unwrap())
}

fn message_at(chunk: &TranscriptChunk, offset: u64, seq: u32) -> TranscriptMessage {
    chunk
        .messages
        .iter()
        .find(|m| m.byte_offset == offset && m.seq == seq)
        .unwrap()
        .clone()
}

fn origins(chunk: &TranscriptChunk) -> Vec<&'static str> {
    chunk.messages.iter().map(|m| m.origin.as_str()).collect()
}

#[test]
fn tool_call_and_stop_block_transcript_parses_whole() {
    let chunk = parse_fixture(TRANSCRIPT);
    assert_eq!(chunk.lines_read, 15);
    assert_eq!(chunk.malformed_lines, 0);
    assert_eq!(chunk.unknown_types, BTreeMap::new());
    assert_eq!(chunk.next_offset, 14786);
    assert_eq!(
        chunk.session,
        SessionMeta {
            id: Some("1dddf53d-abbf-4a15-bf7a-87b220e8420a".into()),
            cwd: Some("/home/user/demo-claude/c2/work".into()),
            model: Some("claude-opus-4-8".into()),
            cli_version: Some("2.1.197".into()),
            started_at: ts("2026-11-25T22:03:40.527Z"),
        }
    );
    assert_eq!(
        origins(&chunk),
        [
            "injected:other",
            "user",
            "injected:skills",
            "injected:other",
            "tool_call",
            "tool_output",
            "agent",
            "injected:stop_hook",
            "agent",
        ]
    );
}

#[test]
fn the_typed_prompt_is_a_user_message() {
    let chunk = parse_fixture(TRANSCRIPT);
    assert_eq!(
        message_at(&chunk, 1648, 0),
        TranscriptMessage {
            role: Role::User,
            origin: Origin::User,
            text: "RUN_TOOL please".into(),
            tool_name: None,
            tool_args: None,
            tool_call_id: None,
            timestamp: ts("2026-11-25T22:03:40.562Z"),
            turn_id: Some(PROMPT.into()),
            byte_offset: 1648,
            seq: 0,
        }
    );
}

#[test]
fn hook_additional_context_is_an_injected_system_message() {
    let chunk = parse_fixture(TRANSCRIPT);
    assert_eq!(
        message_at(&chunk, 1118, 0),
        TranscriptMessage {
            role: Role::System,
            origin: Origin::Injected(InjectedKind::Other),
            text: "CTX-MARKER-sessionstart injected".into(),
            tool_name: None,
            tool_args: None,
            tool_call_id: None,
            timestamp: ts("2026-11-25T22:03:40.510Z"),
            turn_id: None,
            byte_offset: 1118,
            seq: 0,
        }
    );
}

#[test]
fn tool_use_and_tool_result_carry_name_args_and_call_id() {
    let chunk = parse_fixture(TRANSCRIPT);
    assert_eq!(
        message_at(&chunk, 9791, 0),
        TranscriptMessage {
            role: Role::Assistant,
            origin: Origin::ToolCall,
            text: r#"{"command":"echo tool-ran","description":"fake tool call"}"#.into(),
            tool_name: Some("Bash".into()),
            tool_args: Some(r#"{"command":"echo tool-ran","description":"fake tool call"}"#.into()),
            tool_call_id: Some("toolu_fake_1".into()),
            timestamp: ts("2026-11-25T22:03:40.717Z"),
            turn_id: None,
            byte_offset: 9791,
            seq: 0,
        }
    );
    assert_eq!(
        message_at(&chunk, 10770, 0),
        TranscriptMessage {
            role: Role::Tool,
            origin: Origin::ToolOutput,
            text: "tool-ran".into(),
            tool_name: None,
            tool_args: None,
            tool_call_id: Some("toolu_fake_1".into()),
            timestamp: ts("2026-11-25T22:03:40.970Z"),
            turn_id: Some(PROMPT.into()),
            byte_offset: 10770,
            seq: 0,
        }
    );
}

#[test]
fn stop_hook_feedback_is_injected_stop_hook_feedback() {
    let chunk = parse_fixture(TRANSCRIPT);
    assert_eq!(
        message_at(&chunk, 12428, 0),
        TranscriptMessage {
            role: Role::User,
            origin: Origin::Injected(InjectedKind::StopHookFeedback),
            text: "Stop hook feedback:\nCTX-MARKER-stopreason continue please".into(),
            tool_name: None,
            tool_args: None,
            tool_call_id: None,
            timestamp: ts("2026-11-25T22:03:41.104Z"),
            turn_id: Some(PROMPT.into()),
            byte_offset: 12428,
            seq: 0,
        }
    );
}

#[test]
fn resume_and_compact_transcript_parses_whole() {
    let chunk = parse_fixture(COMPACT);
    assert_eq!((chunk.lines_read, chunk.malformed_lines), (25, 0));
    assert_eq!(chunk.unknown_types, BTreeMap::new());
    assert_eq!(
        chunk.session.id.as_deref(),
        Some("11111111-2222-4333-8444-555555555555")
    );
    assert_eq!(
        origins(&chunk),
        [
            "user",
            "injected:skills",
            "tool_call",
            "tool_output",
            "agent",
            "user",
            "agent",
            "injected:other",
            "injected:other",
            "user",
            "injected:other",
        ]
    );
    let summary = message_at(&chunk, 13939, 0);
    assert!(summary.text.starts_with("This session is being continued"));
}

fn user_line(content: &serde_json::Value, extra: &serde_json::Value) -> String {
    let mut record = serde_json::json!({
        "type": "user", "sessionId": "s", "timestamp": "2026-01-02T03:04:05Z",
        "message": {"role": "user", "content": content},
    });
    if let (Some(r), Some(e)) = (record.as_object_mut(), extra.as_object()) {
        r.extend(e.clone());
    }
    format!("{record}\n")
}

#[rstest]
#[case::claude_md(
    "<system-reminder>\nContents of /w/CLAUDE.md:\nbe terse\n</system-reminder>",
    false,
    "injected:agents_md"
)]
#[case::reminder(
    "<system-reminder>\nThe date changed.\n</system-reminder>",
    false,
    "injected:other"
)]
#[case::csep("<csep-context>\n- rule\n</csep-context>", true, "injected:csep")]
#[case::meta(
    "<local-command-caveat>Caveat</local-command-caveat>",
    true,
    "injected:other"
)]
#[case::bash_output("<bash-stdout>ok</bash-stdout>", false, "injected:other")]
#[case::interrupted("[Request interrupted by user]", false, "injected:other")]
#[case::slash_command("<command-name>/compact</command-name>", false, "user")]
#[case::user_heading_about_csep("# csep rollout plan\n- hooks first", false, "user")]
#[case::user_quoting_the_marker("what is <csep-context kind=\"recall\">?", false, "user")]
#[case::typed("fix the failing test", false, "user")]
fn user_text_is_classified_by_content(
    #[case] text: &str,
    #[case] is_meta: bool,
    #[case] expected: &str,
) {
    let line = user_line(
        &serde_json::json!(text),
        &serde_json::json!({"isMeta": is_meta}),
    );
    assert_eq!(origins(&parse_chunk(line.as_bytes(), 0)), [expected]);
}

/// A subagent's first user message is the task its parent model wrote: the agent's words, not
/// the user's. Host-injected text in a sidechain keeps its own origin.
#[rstest]
#[case::task(
    "Search the repo for flamingo usages",
    serde_json::json!({"isSidechain": true}),
    "agent"
)]
#[case::reminder_in_a_sidechain(
    "<system-reminder>\nThe date changed.\n</system-reminder>",
    serde_json::json!({"isSidechain": true}),
    "injected:other"
)]
#[case::main_chain("Search the repo", serde_json::json!({"isSidechain": false}), "user")]
fn sidechain_user_text_is_the_parent_agents(
    #[case] text: &str,
    #[case] extra: serde_json::Value,
    #[case] expected: &str,
) {
    let line = user_line(&serde_json::json!(text), &extra);
    assert_eq!(origins(&parse_chunk(line.as_bytes(), 0)), [expected]);
}

/// csep's recall answer, back as a tool's result (the MCP tool, or `csep recall` run with
/// `Bash`), is csep's own text, even when the call and its result are fed in separate blocks;
/// other results are tool outputs.
#[test]
fn csep_recall_answers_are_injected_csep_text() {
    let call = |id: &str, name: &str| {
        serde_json::json!({"type": "assistant", "sessionId": "s", "message": {"role": "assistant",
            "content": [{"type": "tool_use", "id": id, "name": name, "input": {"query": "x"}}]}})
        .to_string()
            + "\n"
    };
    let result = |id: &str, text: &str| {
        let block = serde_json::json!([{"type": "tool_result", "tool_use_id": id,
            "content": [{"type": "text", "text": text}]}]);
        user_line(&block, &serde_json::json!({}))
    };
    let first = call("t1", "mcp__csep__recall") + &call("t2", "Bash") + &call("t3", "Bash");
    let second = result("t1", "No matching recall was found.")
        + &result("t2", "## Focused Recall\n\nStatus: no_match\nResults: 0\n")
        + &result("t3", "README.md\n");
    let mut parser = crate::host::transcript::ChunkParser::new(crate::host::Host::Claude, 0);
    parser.feed(first.as_bytes());
    parser.feed(second.as_bytes());
    assert_eq!(
        origins(&parser.finish()),
        [
            "tool_call",
            "tool_call",
            "tool_call",
            "injected:csep",
            "injected:csep",
            "tool_output"
        ]
    );
}

#[test]
fn content_blocks_yield_one_message_each() {
    let user = user_line(
        &serde_json::json!([
            {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"type": "image", "source": {}},
            {"type": "text", "text": "and now this"},
        ]),
        &serde_json::json!({}),
    );
    let assistant = serde_json::json!({
        "type": "assistant", "sessionId": "s",
        "message": {"role": "assistant", "model": "m2", "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "x"},
            {"type": "redacted_thinking", "data": "x"},
            {"type": "text", "text": "done"},
        ]},
    });
    let text = format!("{user}{assistant}\n");
    let chunk = parse_chunk(text.as_bytes(), 0);
    let summary: Vec<_> = chunk
        .messages
        .iter()
        .map(|m| (m.seq, m.role, m.origin.as_str(), m.text.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (0, Role::Tool, "tool_output", "a\nb"),
            (1, Role::User, "user", "and now this"),
            (0, Role::Assistant, "reasoning", "hmm"),
            (1, Role::Assistant, "agent", "done"),
        ]
    );
    assert_eq!(chunk.session.model.as_deref(), Some("m2"));
}

#[test]
fn unknown_record_and_attachment_types_are_counted() {
    let text = concat!(
        "{\"type\":\"progress\",\"sessionId\":\"s\"}\n",
        "{\"type\":\"progress\",\"sessionId\":\"s\"}\n",
        "{\"type\":\"attachment\",\"sessionId\":\"s\",\"attachment\":{\"type\":\"todo_reminder\"}}\n",
        "{\"type\":\"summary\",\"summary\":\"Title\",\"leafUuid\":\"u\"}\n",
        "{\"type\":\"file-history-snapshot\",\"messageId\":\"m\",\"snapshot\":{}}\n",
    );
    let chunk = parse_chunk(text.as_bytes(), 0);
    assert_eq!(chunk.malformed_lines, 0);
    assert_eq!(
        chunk.unknown_types,
        BTreeMap::from([
            ("attachment:todo_reminder".to_owned(), 1),
            ("progress".to_owned(), 2)
        ])
    );
    assert!(chunk.messages.is_empty());
}

#[test]
fn garbage_lines_are_counted_with_their_offsets_and_truncated_tail_is_kept() {
    let good = user_line(&serde_json::json!("hello"), &serde_json::json!({}));
    let text = format!("{good}{{\"type\":\"user\",\"message\":7}}\n{{oops\n{good}{{\"type\":\"us");
    let chunk = parse_chunk(text.as_bytes(), 0);
    let bad = good.len() as u64;
    assert_eq!(chunk.malformed_lines, 2);
    assert_eq!(chunk.malformed_offsets, [bad, bad + 28]);
    assert_eq!(chunk.messages.len(), 2);
    assert_eq!(
        chunk.next_offset,
        (text.len() - "{\"type\":\"us".len()) as u64
    );
}
