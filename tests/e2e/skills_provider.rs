//! Skill synthesis through a configured provider (a `command` provider standing in for an LLM),
//! with the call recorded in the spend ledger.

use crate::support::{TestHome, backfill_demo_sessions, success_json, use_scripted_provider};

#[test]
fn synthesis_uses_the_active_provider_and_records_its_spend() {
    let t = TestHome::new();
    backfill_demo_sessions(&t);
    let answer = r#"{"skills":[{"name":"run-shopfront-checks","description":"Use when you finish a change in shopfront and need the project's checks.","when_to_use":["After editing Rust code in shopfront."],"steps":["Run `cargo clippy --all-targets -- -D warnings`.","Run `cargo nextest run`."],"verification":["Both commands exit 0."],"if_it_fails":["Fix the first clippy error, then rerun."],"evidence_ids":["session:codex:0199a000-0000-7000-8000-000000000001","session:codex:0199a000-0000-7000-8000-000000000002","session:codex:0199a000-0000-7000-8000-000000000003"]}]}"#;
    use_scripted_provider(&t, answer);
    let codex_home = t.scratch().join("codex-home");
    let claude_dir = t.scratch().join("claude");
    let receipt = success_json(
        t.csep(&[
            "skills",
            "synthesize",
            "--mode",
            "full",
            "--lookback-days",
            "3650",
            "--json",
            "--codex-home",
        ])
        .arg(&codex_home)
        .arg("--claude-config-dir")
        .arg(&claude_dir),
    );
    assert_ne!(receipt["synthesizer"], "offline", "{receipt}");
    assert!(
        codex_home
            .join("skills/csep-run-shopfront-checks/SKILL.md")
            .exists(),
        "not published: {receipt}"
    );
    let conn = rusqlite::Connection::open(t.home().join("csep.db")).unwrap();
    let calls: i64 = conn
        .query_row(
            "SELECT count(*) FROM budget_ledger WHERE purpose = 'skills'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(calls, 1);
}
