use super::*;
use crate::host::Host;
use crate::skills::lifecycle::{SkillState, save};
use crate::skills::test_support::{Turn, claude_transcript, codex_rollout, ingest};
use pretty_assertions::assert_eq;
use rstest::rstest;

#[rstest]
#[case::claude_skill_tool(
    "tool_call",
    Some("Skill"),
    r#"{"skill":"csep-x"}"#,
    Some(UseKind::SkillTool)
)]
#[case::claude_plugin_namespaced(
    "tool_call",
    Some("Skill"),
    r#"{"skill":"csep:csep-x"}"#,
    Some(UseKind::SkillTool)
)]
#[case::claude_other_skill("tool_call", Some("Skill"), r#"{"skill":"csep-xy"}"#, None)]
#[case::codex_reads_file(
    "tool_call",
    Some("exec_command"),
    r#"{"cmd":"cat /h/.codex/skills/csep-x/SKILL.md"}"#,
    Some(UseKind::FileRead)
)]
#[case::codex_sed_file(
    "tool_call",
    Some("exec_command"),
    r#"{"cmd":"sed -n 1,200p \"/h/skills/csep-x/SKILL.md\""}"#,
    Some(UseKind::FileRead)
)]
#[case::codex_other_file(
    "tool_call",
    Some("exec_command"),
    r#"{"cmd":"cat /h/skills/pre-csep-x/SKILL.md"}"#,
    None
)]
#[case::user_invokes("user", None, "please use $csep-x now", Some(UseKind::Invoked))]
#[case::user_invokes_longer_name("user", None, "use $csep-x-two", None)]
#[case::agent_text_is_not_use("agent", None, "$csep-x", None)]
fn uses_are_classified_per_host(
    #[case] origin: &str,
    #[case] tool: Option<&str>,
    #[case] args: &str,
    #[case] expected: Option<UseKind>,
) {
    assert_eq!(classify("csep-x", origin, tool, args), expected);
}

fn published(store: &Store, name: &str) {
    let body = format!("---\nname: {name}\ndescription: \"Use when x.\"\n---\n");
    save(
        store,
        &SkillRecord {
            name: name.into(),
            project_id: None,
            state: SkillState::Published,
            description: "Use when x.".into(),
            content_hash: String::new(),
            body,
            evidence: Vec::new(),
            published: Vec::new(),
            reason: None,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
            published_at: Some("2026-01-01T00:00:00.000Z".into()),
            last_used_at: None,
            use_count: 0,
        },
    )
    .unwrap();
}

/// The captured transcripts (tests/fixtures) with their single tool call turned into a use of
/// a skill: Claude's `Bash` call becomes a `Skill` call, Codex's `echo` reads the SKILL.md.
fn fixture_with_skill_use(host: Host, dir: &std::path::Path) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let (src, from, to) = match host {
        Host::Claude => (
            root.join("claude/transcript-with-tool-call-and-stop-block.jsonl"),
            r#""name":"Bash","input":{"command":"echo tool-ran","description":"fake tool call"}"#,
            r#""name":"Skill","input":{"skill":"csep-cargo-fmt-test"}"#,
        ),
        Host::Codex => (
            root.join("codex/rollout-with-tool-call-and-stop-block.jsonl"),
            r#""arguments":"{\"cmd\": \"echo tool-ran\"}""#,
            r#""arguments":"{\"cmd\": \"cat /home/user/.codex/skills/csep-cargo-fmt-test/SKILL.md\"}""#,
        ),
    };
    let text = std::fs::read_to_string(&src).unwrap();
    assert!(text.contains(from), "fixture changed: {}", src.display());
    let path = dir.join(src.file_name().unwrap());
    std::fs::write(&path, text.replace(from, to)).unwrap();
    path
}

#[test]
fn uses_in_the_captured_transcripts_of_both_hosts_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in_memory().unwrap();
    published(&store, "csep-cargo-fmt-test");
    for host in [Host::Codex, Host::Claude] {
        let path = fixture_with_skill_use(host, dir.path());
        ingest(&mut store, host, &path);
    }
    let report = detect(&store, "2026-01-01T00:00:00.000Z").unwrap();
    let kinds: Vec<(String, UseKind)> = report
        .events
        .iter()
        .map(|e| (e.host.clone(), e.kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("codex".to_owned(), UseKind::FileRead),
            ("claude".to_owned(), UseKind::SkillTool)
        ]
    );
    let record = lifecycle::require(&store, "csep-cargo-fmt-test").unwrap();
    assert_eq!(record.use_count, 2);
    assert_eq!(
        record.last_used_at.as_deref(),
        Some(report.events[1].at.as_str())
    );
}

#[test]
fn the_unmodified_captured_transcripts_hold_no_skill_use() {
    let mut store = Store::open_in_memory().unwrap();
    published(&store, "csep-cargo-fmt-test");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    ingest(
        &mut store,
        Host::Codex,
        &root.join("codex/rollout-with-tool-call-and-stop-block.jsonl"),
    );
    ingest(
        &mut store,
        Host::Claude,
        &root.join("claude/transcript-with-tool-call-and-stop-block.jsonl"),
    );
    let report = detect(&store, "2020-01-01T00:00:00.000Z").unwrap();
    assert_eq!(report.events, vec![]);
}

#[test]
fn detecting_twice_counts_each_use_once_and_listing_is_not_use() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in_memory().unwrap();
    published(&store, "csep-x");
    let p = codex_rollout(
        dir.path(),
        "u1",
        "2026-11-20T10:00:00Z",
        &[
            Turn::User("use $csep-x please"),
            Turn::Run("cat /h/.codex/skills/csep-x/SKILL.md", 0),
        ],
    );
    ingest(&mut store, Host::Codex, &p);
    let c = claude_transcript(
        dir.path(),
        "u2",
        "2026-11-21T10:00:00Z",
        &[
            Turn::User("go"),
            Turn::Tool("Skill", r#"{"skill":"csep-x"}"#.into()),
        ],
    );
    ingest(&mut store, Host::Claude, &c);
    let first = detect(&store, "2026-01-01T00:00:00.000Z").unwrap();
    assert_eq!(first.counted.get("csep-x"), Some(&3));
    let second = detect(&store, "2026-01-01T00:00:00.000Z").unwrap();
    assert_eq!(second.counted.get("csep-x"), None);
    let record = lifecycle::require(&store, "csep-x").unwrap();
    assert_eq!(record.use_count, 3);
    assert_eq!(
        record.last_used_at.as_deref(),
        Some("2026-11-21T10:00:02.000Z")
    );
}
