//! `csep status` additions: the worker, spend today against the caps, memory size against the
//! budgets, and skills by state.

use crate::support::{TestHome, stdout_json};

#[test]
fn status_shows_worker_spend_memory_size_and_skills() {
    let t = TestHome::new();
    std::fs::create_dir_all(t.home()).unwrap();
    std::fs::write(
        t.home().join("config.toml"),
        "[budget]\ndaily_tokens = 100000\nreview_daily_tokens = 1000\n\n[memory]\nproject_budget_chars = 50\n",
    )
    .unwrap();
    let repo = t.scratch().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let store = csep::store::db::Store::open(&t.home().join("csep.db")).unwrap();
    let identity = csep::store::identity::RepoIdentity::resolve(&repo).unwrap();
    let project = csep::store::project::upsert(&store, &identity, "2026-11-25T00:00:00Z").unwrap();
    let now = csep::store::time::now();
    let today = csep::store::time::day_of(&now).unwrap();
    let conn = store.conn();
    for (purpose, input, output, day) in [
        ("review", 900, 600, today.as_str()),
        ("compile", 150, 50, today.as_str()),
        ("review", 99_999, 0, "2000-01-01"),
    ] {
        conn.execute(
            "INSERT INTO budget_ledger (at, day, provider, purpose, input_tokens, output_tokens, \
             status) VALUES (?1, ?2, 'openai', ?3, ?4, ?5, 'ok')",
            rusqlite::params![now, day, purpose, input, output],
        )
        .unwrap();
    }
    for (id, scope, project_id, summary, content) in [
        (
            "m1",
            "project",
            Some(project.id.as_str()),
            "Run tests",
            "with cargo nextest",
        ),
        ("m2", "user", None, "Answer in English", ""),
    ] {
        conn.execute(
            "INSERT INTO memory_entries (id, scope, project_id, kind, summary, content, normalized, \
             created_at, updated_at) VALUES (?1, ?2, ?3, 'rule', ?4, ?5, ?4, ?6, ?6)",
            rusqlite::params![id, scope, project_id, summary, content, now],
        )
        .unwrap();
    }
    for (name, state) in [
        ("csep-a", "candidate"),
        ("csep-b", "candidate"),
        ("csep-c", "published"),
    ] {
        conn.execute(
            "INSERT INTO skills (name, state, description, body, content_hash, created_at, \
             updated_at) VALUES (?1, ?2, 'd', 'b', 'h', ?3, ?3)",
            rusqlite::params![name, state, now],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO receipts (kind, status, reason, started_at, finished_at, duration_ms) \
         VALUES ('worker', 'failed', 'ingest: transcript missing', ?1, ?1, 7)",
        [&now],
    )
    .unwrap();
    drop(store);

    let v = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    assert_eq!(v["worker"]["running"], false);
    assert_eq!(v["worker"]["last_run"]["status"], "failed");
    assert_eq!(
        v["worker"]["last_run"]["reason"],
        "ingest: transcript missing"
    );
    let spend = &v["spend_today"];
    assert_eq!(spend["day"], today.as_str());
    assert_eq!(spend["by_purpose"]["review"], 1500);
    assert_eq!(spend["by_purpose"]["compile"], 200);
    assert_eq!(spend["total_tokens"], 1700);
    assert_eq!(spend["caps"]["review"], 1000);
    assert_eq!(spend["caps"]["daily"], 100_000);
    assert_eq!(spend["capped"], serde_json::json!(["review"]));
    assert_eq!(v["projects"][0]["memory_chars"], 27);
    assert_eq!(v["projects"][0]["memory_budget_chars"], 50);
    assert_eq!(v["user_memory_chars"], 17);
    assert_eq!(v["skills"]["candidate"], 2);
    assert_eq!(v["skills"]["published"], 1);
    // Existing keys stay.
    assert!(v["queue"].is_object() && v["recent_receipts"].is_array());

    let text = String::from_utf8(t.csep(&["status"]).output().unwrap().stdout).unwrap();
    assert!(text.contains("worker    idle; last run"), "{text}");
    assert!(text.contains("spend     1700 tokens today"), "{text}");
    assert!(text.contains("CAPPED: review"), "{text}");
    assert!(
        text.contains("skills    candidate 2, published 1"),
        "{text}"
    );
    assert!(text.contains("27/50"), "{text}");
}
