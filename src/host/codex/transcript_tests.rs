use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use rstest::rstest;

use super::*;
use crate::host::transcript::SessionMeta;

const ROLLOUT: &str = "tests/fixtures/codex/rollout-with-tool-call-and-stop-block.jsonl";
const COMPACTION: &str = "tests/fixtures/codex/rollout-auto-compaction.jsonl";
const TURN: &str = "01a214b8-5682-7763-9b34-148b6c2c4406";

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
fn tool_call_and_stop_block_rollout_parses_whole() {
    let chunk = parse_fixture(ROLLOUT);
    assert_eq!(chunk.lines_read, 27);
    assert_eq!(chunk.malformed_lines, 0);
    assert_eq!(chunk.unknown_types, BTreeMap::new());
    assert_eq!(chunk.next_offset, 44139);
    assert_eq!(
        chunk.session,
        SessionMeta {
            id: Some("01a214b8-5653-74a0-a12e-e527f4a4c79e".into()),
            cwd: Some("/home/user/demo-codex/run5/work".into()),
            model: Some("fake-model".into()),
            cli_version: Some("0.169.0".into()),
            started_at: ts("2026-11-25T21:59:14.788Z"),
        }
    );
    assert_eq!(
        origins(&chunk),
        [
            "injected:skills",
            "injected:permissions",
            "injected:environment_context",
            "injected:other",
            "user",
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
    let chunk = parse_fixture(ROLLOUT);
    assert_eq!(
        message_at(&chunk, 32048, 0),
        TranscriptMessage {
            role: Role::User,
            origin: Origin::User,
            text: "RUN_TOOL please".into(),
            tool_name: None,
            tool_args: None,
            tool_call_id: None,
            timestamp: ts("2026-11-25T21:59:15.450Z"),
            turn_id: Some(TURN.into()),
            byte_offset: 32048,
            seq: 0,
        }
    );
}

#[test]
fn environment_context_is_injected() {
    let chunk = parse_fixture(ROLLOUT);
    let message = message_at(&chunk, 25522, 0);
    assert_eq!(
        (message.role, message.origin),
        (
            Role::User,
            Origin::Injected(InjectedKind::EnvironmentContext)
        )
    );
    assert!(
        message
            .text
            .starts_with("<environment_context>\n  <cwd>/home/user/demo-codex/run5")
    );
}

#[test]
fn function_call_and_output_carry_tool_name_args_and_call_id() {
    let chunk = parse_fixture(ROLLOUT);
    assert_eq!(
        message_at(&chunk, 33862, 0),
        TranscriptMessage {
            role: Role::Assistant,
            origin: Origin::ToolCall,
            text: r#"{"cmd": "echo tool-ran"}"#.into(),
            tool_name: Some("exec_command".into()),
            tool_args: Some(r#"{"cmd": "echo tool-ran"}"#.into()),
            tool_call_id: Some("call_1".into()),
            timestamp: ts("2026-11-25T21:59:15.497Z"),
            turn_id: Some(TURN.into()),
            byte_offset: 33862,
            seq: 0,
        }
    );
    assert_eq!(
        message_at(&chunk, 35711, 0),
        TranscriptMessage {
            role: Role::Tool,
            origin: Origin::ToolOutput,
            text: "Chunk ID: f247b7\nWall time: 0.0000 seconds\nProcess exited with code 0\n\
                   Original token count: 3\nOutput:\ntool-ran\n"
                .into(),
            tool_name: None,
            tool_args: None,
            tool_call_id: Some("call_1".into()),
            timestamp: ts("2026-11-25T21:59:16.023Z"),
            turn_id: Some(TURN.into()),
            byte_offset: 35711,
            seq: 0,
        }
    );
}

#[test]
fn stop_hook_continuation_is_injected_stop_hook_feedback() {
    let chunk = parse_fixture(ROLLOUT);
    assert_eq!(
        message_at(&chunk, 39620, 0),
        TranscriptMessage {
            role: Role::User,
            origin: Origin::Injected(InjectedKind::StopHookFeedback),
            text:
                "<hook_prompt hook_run_id=\"stop:10:/home/user/demo-codex/run5/home/hooks.json\">\
                   CTX-MARKER-stopreason please continue and summarize</hook_prompt>"
                    .into(),
            tool_name: None,
            tool_args: None,
            tool_call_id: None,
            timestamp: ts("2026-11-25T21:59:16.245Z"),
            turn_id: Some(TURN.into()),
            byte_offset: 39620,
            seq: 0,
        }
    );
}

#[test]
fn developer_message_with_two_items_yields_skills_then_permissions() {
    let chunk = parse_fixture(ROLLOUT);
    let skills = message_at(&chunk, 22351, 0);
    let permissions = message_at(&chunk, 22351, 1);
    assert_eq!(skills.role, Role::System);
    assert_eq!(skills.origin, Origin::Injected(InjectedKind::SkillListing));
    assert_eq!(
        permissions.origin,
        Origin::Injected(InjectedKind::Permissions)
    );
}

#[test]
fn auto_compaction_rollout_parses_whole() {
    let chunk = parse_fixture(COMPACTION);
    assert_eq!((chunk.lines_read, chunk.malformed_lines), (29, 0));
    assert_eq!(chunk.unknown_types, BTreeMap::new());
    assert_eq!(
        origins(&chunk),
        [
            "injected:skills",
            "injected:permissions",
            "injected:environment_context",
            "user",
            "tool_call",
            "tool_output",
            "agent",
            "injected:other",
            "agent",
        ]
    );
    let summary = message_at(&chunk, 38578, 0);
    assert_eq!(summary.role, Role::System);
    assert!(
        summary
            .text
            .ends_with("assist with your own analysis:\nHi from fake model.")
    );
}

fn line(payload_type: &str, payload: &str) -> String {
    format!(
        "{{\"timestamp\":\"2026-01-02T03:04:05.000Z\",\"type\":\"{payload_type}\",\"payload\":{payload}}}\n"
    )
}

fn user_text(text: &str) -> String {
    let payload = serde_json::json!({
        "type": "message", "role": "user",
        "content": [{"type": "input_text", "text": text}],
    });
    line("response_item", &payload.to_string())
}

#[rstest]
#[case::agents_md(
    "# AGENTS.md instructions for /w\n\n<INSTRUCTIONS>be terse</INSTRUCTIONS>",
    "injected:agents_md"
)]
#[case::legacy_user_instructions(
    "<user_instructions>\nbe terse\n</user_instructions>",
    "injected:agents_md"
)]
#[case::csep_marker(
    "<csep-context project=\"x\">\n- rule\n</csep-context>",
    "injected:csep"
)]
#[case::user_heading_about_csep("# csep rollout plan\n- ship the hooks first", "user")]
#[case::user_quoting_the_marker("why does <csep-context kind=\"recall\"> show up here?", "user")]
#[case::other_hook_prompt(
    "<hook_prompt hook_run_id=\"user_prompt_submit:1:x\">r</hook_prompt>",
    "injected:other"
)]
#[case::turn_aborted(
    "<turn_aborted>\nThe user interrupted the previous turn on purpose.\n</turn_aborted>",
    "injected:other"
)]
#[case::skill_body(
    "<skill>\n<name>deploy</name>\n<path>/x/SKILL.md</path>\nDeploy blue green\n</skill>\n",
    "injected:other"
)]
#[case::subagent_notification(
    "<SUBAGENT_NOTIFICATION>{\"agent_id\":\"x\",\"status\":\"completed\"}</subagent_notification>",
    "injected:other"
)]
#[case::user_shell_command(
    "<user_shell_command>\n<command>ls</command>\n</user_shell_command>",
    "injected:other"
)]
#[case::ide_context(
    "<additional_context>\n<title>Context from my editor</title>\n</additional_context>",
    "injected:other"
)]
#[case::typed_tag_without_its_closing_tag("<skill> how do I write one?", "user")]
#[case::typed_tag_in_prose("what does <turn_aborted>x</turn_aborted> mean", "user")]
#[case::typed("fix the failing test", "user")]
fn user_role_text_is_classified_by_content(#[case] text: &str, #[case] expected: &str) {
    let chunk = parse_chunk(user_text(text).as_bytes(), 0);
    assert_eq!(origins(&chunk), [expected]);
}

#[test]
fn provenance_and_item_kinds_classify_untagged_text() {
    let payload = serde_json::json!({
        "type": "message", "role": "developer",
        "content": [
            {"type": "input_text", "text": "skills, untagged"},
            {"type": "input_text", "text": "note from a hook"},
        ],
        "internal_chat_message_metadata_passthrough": {
            "content_item_kinds": ["host_skills.instructions", "hooks.additional_context"],
            "content_item_metadata": [
                {"provenance": {"type": "skills"}},
                {"provenance": {"type": "harness", "hook": true}},
            ],
        },
    });
    let chunk = parse_chunk(line("response_item", &payload.to_string()).as_bytes(), 0);
    assert_eq!(origins(&chunk), ["injected:skills", "injected:other"]);
}

/// csep's recall answer, back as a tool's output (the MCP tool, or `csep recall` run through
/// `exec_command`), is csep's own text; other outputs are tool outputs.
#[test]
fn csep_recall_answers_are_injected_csep_text() {
    let lines = [
        serde_json::json!({"type": "function_call", "name": "mcp__csep__recall", "arguments": "{\"query\":\"deploy\"}", "call_id": "c1"}),
        serde_json::json!({"type": "function_call_output", "call_id": "c1", "output": "[{\"type\":\"text\",\"text\":\"## Focused Recall\"}]"}),
        serde_json::json!({"type": "function_call", "name": "exec_command", "arguments": "{\"cmd\":\"csep recall deploy\"}", "call_id": "c2"}),
        serde_json::json!({"type": "function_call_output", "call_id": "c2", "output": "Chunk ID: 1\nWall time: 0.1 seconds\nProcess exited with code 0\nOutput:\n## Focused Recall\n\nStatus: matched\n"}),
        serde_json::json!({"type": "function_call", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}", "call_id": "c3"}),
        serde_json::json!({"type": "function_call_output", "call_id": "c3", "output": "Chunk ID: 2\nOutput:\nREADME.md\n"}),
    ];
    let text: String = lines
        .iter()
        .map(|payload| line("response_item", &payload.to_string()))
        .collect();
    let chunk = parse_chunk(text.as_bytes(), 0);
    assert_eq!(
        origins(&chunk),
        [
            "tool_call",
            "injected:csep",
            "tool_call",
            "injected:csep",
            "tool_call",
            "tool_output"
        ]
    );
}

#[test]
fn other_response_items_become_tool_calls_and_reasoning() {
    let lines = [
        serde_json::json!({"type": "custom_tool_call", "name": "apply_patch", "input": "*** Begin Patch", "call_id": "c2"}),
        serde_json::json!({"type": "custom_tool_call_output", "call_id": "c2", "output": "Success"}),
        serde_json::json!({"type": "function_call_output", "call_id": "c3", "output": [{"type": "input_text", "text": "a"}, {"type": "input_image", "image_url": "x"}, {"type": "input_text", "text": "b"}]}),
        serde_json::json!({"type": "function_call_output", "call_id": "c4", "output": {"content": "structured", "success": true}}),
        serde_json::json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking about it"}], "encrypted_content": "gAAA"}),
        serde_json::json!({"type": "reasoning", "summary": [], "encrypted_content": "gAAA"}),
        serde_json::json!({"type": "local_shell_call", "call_id": "c5", "status": "completed", "action": {"type": "exec", "command": ["ls"]}}),
        serde_json::json!({"type": "web_search_call", "status": "completed", "action": {"type": "search", "query": "rust"}}),
    ];
    let text: String = lines
        .iter()
        .map(|p| line("response_item", &p.to_string()))
        .collect();
    let chunk = parse_chunk(text.as_bytes(), 0);
    assert_eq!(chunk.malformed_lines, 0);
    let summary: Vec<_> = chunk
        .messages
        .iter()
        .map(|m| {
            (
                m.origin.as_str(),
                m.tool_name.as_deref(),
                m.tool_call_id.as_deref(),
                m.text.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "tool_call",
                Some("apply_patch"),
                Some("c2"),
                "*** Begin Patch"
            ),
            ("tool_output", None, Some("c2"), "Success"),
            ("tool_output", None, Some("c3"), "a\nb"),
            ("tool_output", None, Some("c4"), "structured"),
            ("reasoning", None, None, "thinking about it"),
            (
                "tool_call",
                Some("local_shell"),
                Some("c5"),
                r#"{"command":["ls"],"type":"exec"}"#
            ),
            (
                "tool_call",
                Some("web_search"),
                None,
                r#"{"query":"rust","type":"search"}"#
            ),
        ]
    );
}

#[test]
fn unknown_types_are_counted_by_name_and_skipped() {
    let text = [
        line("realtime_item", r#"{"x":1}"#),
        line("realtime_item", r#"{"x":2}"#),
        line("response_item", r#"{"type":"tool_search_call","id":"t"}"#),
        line(
            "event_msg",
            r#"{"type":"exec_command_begin","call_id":"c"}"#,
        ),
        line(
            "event_msg",
            r#"{"type":"user_message","message":"legacy duplicate"}"#,
        ),
        user_text("still parsed"),
    ]
    .concat();
    let chunk = parse_chunk(text.as_bytes(), 0);
    assert_eq!(chunk.malformed_lines, 0);
    assert_eq!(
        chunk.unknown_types,
        BTreeMap::from([
            ("event_msg:exec_command_begin".to_owned(), 1),
            ("realtime_item".to_owned(), 2),
            ("response_item:tool_search_call".to_owned(), 1),
        ])
    );
    assert_eq!(origins(&chunk), ["user"]);
}

#[test]
fn garbage_lines_are_counted_with_their_offsets() {
    let good = user_text("hello");
    let text = format!("{good}not json at all\n{{\"payload\":{{}}}}\n{good}");
    let chunk = parse_chunk(text.as_bytes(), 100);
    let garbage_at = 100 + good.len() as u64;
    assert_eq!(chunk.malformed_lines, 2);
    assert_eq!(chunk.malformed_offsets, [garbage_at, garbage_at + 16]);
    assert_eq!(chunk.messages.len(), 2);
    assert_eq!(chunk.lines_read, 4);
}

#[test]
fn a_truncated_final_line_is_not_consumed() {
    let good = user_text("hello");
    let partial = &user_text("mid-write")[..30];
    let text = format!("{good}{partial}");
    let chunk = parse_chunk(text.as_bytes(), 0);
    assert_eq!(chunk.next_offset, good.len() as u64);
    assert_eq!(
        (
            chunk.lines_read,
            chunk.malformed_lines,
            chunk.messages.len()
        ),
        (1, 0, 1)
    );
}

#[test]
fn payload_before_type_still_decodes() {
    let text = "{\"payload\":{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}]},\"type\":\"response_item\"}\n";
    let chunk = parse_chunk(text.as_bytes(), 0);
    assert_eq!(origins(&chunk), ["agent"]);
    assert_eq!(chunk.messages[0].timestamp, None);
}

/// Every Codex rollout fixture, captured or made up.
fn rollout_fixtures() -> Vec<std::path::PathBuf> {
    let mut paths = Vec::new();
    for dir in ["tests/fixtures/codex", "tests/fixtures/codex-legacy"] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "jsonl") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    paths
}

#[test]
fn skipping_unread_lines_by_their_first_bytes_changes_nothing_parsed() {
    let fixtures = rollout_fixtures();
    assert!(fixtures.len() >= 3, "{fixtures:?}");
    let mut skipped = 0;
    for path in fixtures {
        let bytes = std::fs::read(&path).unwrap();
        skipped += bytes
            .split(|&b| b == b'\n')
            .filter(|line| is_unread_line(line))
            .count();
        let decoded = crate::host::transcript::for_each_line(&bytes, 0, parse_whole_line);
        assert_eq!(parse_chunk(&bytes, 0), decoded, "{}", path.display());
    }
    // The captured rollouts hold item_completed, token_count, task_started and
    // token_usage_record lines: the shortcut is taken, not just harmless.
    assert!(skipped >= 10, "{skipped} lines taken by the shortcut");
}

#[rstest]
#[case::item_completed(&line("event_msg", r#"{"type":"item_completed","item":{"type":"AgentMessage"}}"#), true)]
#[case::token_count(&line("event_msg", r#"{"type":"token_count","info":null}"#), true)]
#[case::kind_alone(&line("event_msg", r#"{"type":"task_started"}"#), true)]
#[case::legacy_duplicate(&line("event_msg", r#"{"type":"agent_message","message":"hi"}"#), true)]
#[case::usage(&line("token_usage_record", r#"{"usage":{}}"#), true)]
#[case::unmodelled_kind_is_counted_by_the_parser(&line("event_msg", r#"{"type":"exec_command_begin"}"#), false)]
#[case::kind_not_first(&line("event_msg", r#"{"info":null,"type":"token_count"}"#), false)]
#[case::escaped_kind(&line("event_msg", r#"{"type":"token_count\u0000","info":null}"#), false)]
#[case::kind_prefix(&line("event_msg", r#"{"type":"token_counts"}"#), false)]
#[case::messages_are_read(&user_text("hello"), false)]
#[case::spaces(&line("event_msg", r#"{"type":"token_count","info":null}"#).replace("\"type\":\"event_msg\"", "\"type\": \"event_msg\""), false)]
#[case::escape_in_timestamp(&line("event_msg", r#"{"type":"token_count"}"#).replace("05.000Z", "05.000Z\\u0022"), false)]
#[case::unclosed(r#"{"timestamp":"2026-01-02T03:04:05.000Z","type":"event_msg","payload":{"type":"token_count","info":{"#, false)]
#[case::numbered(r#"{"timestamp":"2026-01-02T03:04:05.000Z","ordinal":12,"type":"event_msg","payload":{"type":"token_count"}}"#, true)]
#[case::numbered_usage(r#"{"timestamp":"2026-01-02T03:04:05.000Z","ordinal":3,"type":"token_usage_record","payload":{}}"#, true)]
#[case::ordinal_not_a_number(r#"{"timestamp":"2026-01-02T03:04:05.000Z","ordinal":"x","type":"event_msg","payload":{"type":"token_count"}}"#, false)]
#[case::numbered_message(r#"{"timestamp":"2026-01-02T03:04:05.000Z","ordinal":4,"type":"response_item","payload":{"type":"message"}}"#, false)]
fn unread_lines_are_known_by_their_first_bytes(#[case] text: &str, #[case] unread: bool) {
    assert_eq!(is_unread_line(text.trim_end().as_bytes()), unread, "{text}");
}

#[test]
fn an_unread_line_broken_after_its_kind_is_read_not_malformed() {
    // The shortcut does not look past the kind: the line is taken as read (it holds nothing
    // the archive keeps), where decoding it whole would count it malformed.
    let broken = "{\"timestamp\":\"2026-01-02T03:04:05.000Z\",\"type\":\"event_msg\",\"payload\":{\"type\":\"item_completed\",\"item\":{]}}}\n";
    let text = format!("{broken}{}", user_text("after"));
    let chunk = parse_chunk(text.as_bytes(), 0);
    assert_eq!((chunk.lines_read, chunk.malformed_lines), (2, 0));
    assert_eq!(origins(&chunk), ["user"]);
    let whole = crate::host::transcript::for_each_line(text.as_bytes(), 0, parse_whole_line);
    assert_eq!(whole.malformed_lines, 1);
}

const LEGACY: &str = "tests/fixtures/codex-legacy/rollout-2025-05-07T17-24-21-5973b6c0-94b8-487b-a530-2aeb6098ae0e.jsonl";

#[test]
fn a_legacy_rollout_without_envelope_yields_its_conversation() {
    let chunk = parse_fixture(LEGACY);
    assert_eq!(chunk.lines_read, 12);
    assert_eq!(chunk.malformed_lines, 0);
    assert_eq!(chunk.unknown_types, BTreeMap::new());
    assert_eq!(
        chunk.session,
        SessionMeta {
            id: Some("5973b6c0-94b8-487b-a530-2aeb6098ae0e".into()),
            cwd: Some("/home/dev/shop".into()),
            model: None,
            cli_version: None,
            started_at: ts("2025-05-07T17:24:21.123Z"),
        }
    );
    assert_eq!(
        origins(&chunk),
        [
            "injected:agents_md",
            "injected:environment_context",
            "user",
            "reasoning",
            "tool_call",
            "tool_output",
            "agent",
        ]
    );
    let prompt = &chunk.messages[2];
    assert_eq!(
        prompt.text,
        "Why does the order retry loop time out after 30 seconds?"
    );
    // Items carry no time of their own: they take the header's.
    assert!(
        chunk
            .messages
            .iter()
            .all(|m| m.timestamp == ts("2025-05-07T17:24:21.123Z"))
    );
    let call = &chunk.messages[4];
    assert_eq!(call.tool_name.as_deref(), Some("shell"));
    assert_eq!(call.tool_call_id.as_deref(), Some("call_0001"));
    assert!(chunk.messages[5].text.contains("RETRY_TIMEOUT"));
    assert_eq!(chunk.messages[6].role, Role::Assistant);
}

#[test]
fn a_legacy_rollout_read_in_pieces_gives_what_it_gives_whole() {
    let bytes = std::fs::read(LEGACY).unwrap();
    let whole = parse_chunk(&bytes, 0);
    for cut in 1..bytes.len() {
        let Some(nl) = bytes[cut..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let cut = cut + nl + 1;
        let mut chunk = parse_chunk(&bytes[..cut], 0);
        parse_into(&bytes[cut..], cut as u64, &mut chunk);
        assert_eq!(chunk.messages, whole.messages, "cut at {cut}");
        assert_eq!(chunk.session, whole.session, "cut at {cut}");
    }
}

#[rstest]
#[case::header_alone(
    r#"{"id":"s-1","timestamp":"2025-04-01T10:00:00Z","instructions":"be brief"}"#,
    Some("s-1"),
    0
)]
#[case::marker(r#"{"record_type":"state"}"#, None, 0)]
#[case::bare_message(
    r#"{"type":"message","role":"user","content":[{"type":"input_text","text":"hello"}]}"#,
    None,
    1
)]
fn legacy_lines_decode(#[case] line: &str, #[case] id: Option<&str>, #[case] messages: usize) {
    let chunk = parse_chunk(format!("{line}\n").as_bytes(), 0);
    assert_eq!(chunk.malformed_lines, 0, "{line}");
    assert_eq!(chunk.session.id.as_deref(), id);
    assert_eq!(chunk.messages.len(), messages);
}

#[test]
fn a_line_with_neither_type_nor_legacy_header_is_malformed() {
    for line in [
        r#"{"timestamp":"2025-04-01T10:00:00Z"}"#,
        r#"{"id":7}"#,
        "{}",
    ] {
        let chunk = parse_chunk(format!("{line}\n").as_bytes(), 0);
        assert_eq!(chunk.malformed_lines, 1, "{line}");
        assert_eq!(chunk.session.id, None, "{line}");
    }
}

#[test]
fn a_bare_item_of_an_unknown_type_is_counted_by_its_type() {
    let chunk = parse_chunk(b"{\"type\":\"hologram\",\"role\":\"user\"}\n", 0);
    assert_eq!(chunk.messages.len(), 0);
    assert_eq!(
        chunk.unknown_types,
        BTreeMap::from([("hologram".into(), 1)])
    );
}

/// A bare item of a known type whose fields do not decode is a malformed line, counted with its
/// offset, not an unknown type.
#[test]
fn a_bare_item_that_does_not_decode_is_malformed() {
    let good = r#"{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}"#;
    let bad = r#"{"type":"function_call","name":5,"arguments":"{}"}"#;
    let text = format!("{good}\n{bad}\n");
    let chunk = parse_chunk(text.as_bytes(), 0);
    assert_eq!(chunk.malformed_lines, 1);
    assert_eq!(chunk.malformed_offsets, [good.len() as u64 + 1]);
    assert_eq!(chunk.unknown_types, BTreeMap::new());
    assert_eq!(chunk.messages.len(), 1);
}
