//! `csep review` then `csep compile` by hand, on the demo's sample sessions backfilled with
//! `csep import codex-sessions`.

use crate::support::{TestHome, stdout_json};

fn backfill(t: &TestHome) -> std::path::PathBuf {
    let project = t.scratch().join("shopfront");
    let dir = t.scratch().join("sessions");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/sessions");
    for entry in std::fs::read_dir(samples).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("rollout-") {
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text.replace("/home/dev/shopfront", &project.to_string_lossy());
            std::fs::write(dir.join(name), text).unwrap();
        }
    }
    let out = t
        .csep(&["import", "codex-sessions", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    project
}

#[test]
fn review_dry_run_proposes_without_queueing_then_review_and_compile_learn() {
    let t = TestHome::new();
    let project = backfill(&t);
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
    let project = backfill(&t);
    t.csep(&["review", "--cwd"])
        .arg(&project)
        .assert()
        .success();
    let answer = t.scratch().join("answer.json");
    std::fs::write(
        &answer,
        r#"{"operations":[{"op":"add","scope":"project","kind":"command","summary":"Run the checks with cargo clippy then cargo nextest run"}]}"#,
    )
    .unwrap();
    let script = t.scratch().join("model.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ncat >/dev/null\ncat '{}'\n", answer.display()),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(
        t.home().join("config.toml"),
        format!(
            "schema_version = 3\nactive_profile = \"local\"\n[profiles.local]\nprovider = \"command\"\ncommand = [\"{}\"]\n",
            script.display()
        ),
    )
    .unwrap();
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
