//! `csep review` then `csep compile` by hand, on the demo's sample sessions backfilled with
//! `csep import codex-sessions`.

use crate::support::{TestHome, backfill_demo_sessions, stdout_json, use_scripted_provider};

#[test]
fn review_dry_run_proposes_without_queueing_then_review_and_compile_learn() {
    let t = TestHome::new();
    let project = backfill_demo_sessions(&t);
    let dry = stdout_json(
        &t.csep(&["review", "--dry-run", "--json", "--cwd"])
            .arg(&project)
            .output()
            .unwrap(),
    );
    let proposed: usize = dry
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"]["proposed"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(proposed >= 3, "{dry}");
    let before = stdout_json(
        &t.csep(&["compile-preflight", "--json", "--repo-root"])
            .arg(&project)
            .output()
            .unwrap(),
    );
    assert_eq!(before["pending"], 0, "a dry run queued something: {before}");

    t.csep(&["review", "--cwd"])
        .arg(&project)
        .assert()
        .success();
    t.csep(&["compile", "--repo-root"])
        .arg(&project)
        .assert()
        .success();
    let listed = t
        .csep(&["memory", "list", "--cwd"])
        .arg(&project)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("cargo nextest run"), "{text}");
    assert!(text.contains("docker compose up -d db"), "{text}");
    // Reviewing again finds nothing new: the cursor moved.
    let again = stdout_json(
        &t.csep(&["review", "--json", "--cwd"])
            .arg(&project)
            .output()
            .unwrap(),
    );
    assert!(
        again
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["result"]["reason"] == "no new messages"),
        "{again}"
    );
}

#[test]
fn the_llm_backend_consolidates_queued_operations_through_the_active_provider() {
    let t = TestHome::new();
    let project = backfill_demo_sessions(&t);
    t.csep(&["review", "--cwd"])
        .arg(&project)
        .assert()
        .success();
    use_scripted_provider(
        &t,
        r#"{"operations":[{"op":"add","scope":"project","kind":"command","summary":"Run the checks with cargo clippy then cargo nextest run"}]}"#,
    );
    let out = t
        .csep(&["compile", "--backend", "llm", "--json", "--repo-root"])
        .arg(&project)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let listed = t
        .csep(&["memory", "list", "--cwd"])
        .arg(&project)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains("Run the checks with cargo clippy then cargo nextest run"),
        "{text}"
    );
    assert!(
        !text.contains("docker compose"),
        "the proposal was applied instead of the consolidation: {text}"
    );
    let conn = rusqlite::Connection::open(t.home().join("csep.db")).unwrap();
    let calls: i64 = conn
        .query_row(
            "SELECT count(*) FROM budget_ledger WHERE purpose = 'compile'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(calls >= 1);
}
