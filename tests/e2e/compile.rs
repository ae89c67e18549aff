//! `compile`, `compile-preflight`, `scan`, `eval-compiler` and `import reference` through the
//! real binaries.

use std::path::{Path, PathBuf};

use csep::memory::{Kind, Scope};
use csep::queue::{self, NewEnvelope};
use csep::review::ops::{Operation, ReviewOutput};
use csep::store::db::Store;
use csep::store::identity::RepoIdentity;
use csep::store::project;
use predicates::prelude::*;

use crate::support::{TestHome, stdout_json, success_json};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/compiler_replay")
        .join(name)
}

#[test]
fn both_reference_fixtures_pass_with_the_deterministic_backend() {
    let t = TestHome::new();
    for name in ["commerce_membership_api.json", "luna_tp.json"] {
        let path = fixture(name);
        let v = success_json(&mut t.reference(&[
            "--json",
            "eval-compiler",
            "--fixture",
            path.to_str().unwrap(),
        ]));
        assert_eq!(v["status"], "pass", "{name}: {v:#}");
        assert_eq!(v["backend"], "script");
        assert_eq!(v["metrics"]["recall_records"], 1);
        let out = t
            .csep(&[
                "--json",
                "eval",
                "compiler",
                "--fixture",
                path.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(stdout_json(&out)["status"], "pass");
    }
    let v = stdout_json(
        &t.csep(&[
            "--json",
            "eval-compiler",
            "--fixture",
            fixture("commerce_membership_api.json").to_str().unwrap(),
        ])
        .output()
        .unwrap(),
    );
    assert_eq!(v["metrics"]["discard_reasons"]["missing_reuse_trigger"], 1);
    assert!(
        !t.home().join("csep.db").exists(),
        "a replay touches no real state"
    );
}

#[test]
fn an_unreadable_fixture_exits_one_and_an_unmet_expectation_is_a_fail_with_exit_zero() {
    let t = TestHome::new();
    t.csep(&["eval-compiler", "--fixture", "missing.json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot read fixture"));
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("luna_tp.json")).unwrap()).unwrap();
    value["expect"]["min_memory_records"] = 5.into();
    let path = t.scratch().join("strict.json");
    std::fs::write(&path, value.to_string()).unwrap();
    let out = t
        .csep(&[
            "--json",
            "eval-compiler",
            "--fixture",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = stdout_json(&out);
    assert_eq!(v["status"], "fail");
    assert_eq!(v["failures"][0], "memory_records_below_5");
}

fn enqueue_review(t: &TestHome, repo: &Path, session: &str, ops: Vec<Operation>) -> String {
    t.csep(&["status"]).assert().success();
    std::fs::create_dir_all(t.home()).unwrap();
    let store = Store::open(&t.home().join("csep.db")).unwrap();
    let identity = RepoIdentity::resolve(repo).unwrap();
    let project = project::upsert(&store, &identity, "2026-05-07T00:00:00Z").unwrap();
    queue::enqueue(
        &store,
        &NewEnvelope {
            project_id: Some(project.id.clone()),
            host: Some("codex".into()),
            session_id: Some(session.into()),
            turn_id: Some("t1".into()),
            provider: "offline".into(),
            payload: ReviewOutput { operations: ops },
            now: "2026-05-07T00:00:00Z".into(),
        },
    )
    .unwrap();
    project.id
}

fn rule(summary: &str) -> Operation {
    Operation::Add {
        scope: Scope::Project,
        kind: Kind::Rule,
        summary: summary.into(),
        content: String::new(),
        evidence: vec![],
        confidence: Some(0.9),
    }
}

#[test]
fn compile_drains_the_queue_into_memory_and_preflight_reports_it() {
    let t = TestHome::new();
    let repo = t.scratch().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let project = enqueue_review(
        &t,
        &repo,
        "s1",
        vec![rule("Errors use thiserror"), rule("round 2 pending")],
    );
    let repo_arg = repo.to_str().unwrap();
    let v = stdout_json(
        &t.reference(&["--json", "compile-preflight", "--repo-root", repo_arg])
            .output()
            .unwrap(),
    );
    assert_eq!(
        (v["status"].as_str(), v["pending"].as_u64()),
        (Some("run"), Some(1))
    );
    let v = success_json(&mut t.reference(&[
        "--json",
        "compile",
        "--once",
        "--backend",
        "script",
        "--repo-root",
        repo_arg,
    ]));
    assert_eq!(v["status"], "ok");
    assert_eq!(v["processed_count"], 1);
    let items = &v["runs"][0]["items"];
    assert_eq!(items[1]["reason"], "transient_noise:review_round");
    let memory =
        std::fs::read_to_string(t.home().join("projects").join(&project).join("MEMORY.md"))
            .unwrap();
    assert!(memory.contains("## Errors use thiserror"));
    let v = stdout_json(
        &t.csep(&["--json", "compile-preflight", "--repo-root", repo_arg])
            .output()
            .unwrap(),
    );
    assert_eq!(v["status"], "skip_empty");
    // The receipt shows up in status.
    let v = stdout_json(&t.csep(&["--json", "status"]).output().unwrap());
    assert!(v.to_string().contains("\"compile\""), "{v:#}");
}

#[test]
fn an_unavailable_backend_is_degraded_with_exit_one_and_scan_compiles_every_project() {
    let t = TestHome::new();
    let one = t.scratch().join("one");
    let two = t.scratch().join("two");
    std::fs::create_dir_all(&one).unwrap();
    std::fs::create_dir_all(&two).unwrap();
    enqueue_review(&t, &one, "s1", vec![rule("Errors use thiserror")]);
    enqueue_review(&t, &two, "s2", vec![rule("API lives in services/api")]);
    let out = t
        .csep(&[
            "--json",
            "compile",
            "--backend",
            "llm",
            "--repo-root",
            one.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(v["status"], "degraded");
    assert!(
        v["runs"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("needs a provider profile")
    );
    let out = t
        .csep(&["--json", "scan", "--max-runs-per-project", "1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = stdout_json(&out);
    assert_eq!(v["total_projects"], 2);
    assert_eq!(v["counts"]["run"], 2);
    let out = t.csep(&["scan"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("no project has pending suggestions"));
}

/// Writes a reference 0.7.x home with one live bucket and one archived bucket.
fn reference_home(root: &Path, repo: &Path) -> PathBuf {
    let home = root.join("ref-home");
    let bucket = home.join("projects/-tmp-some-repo");
    std::fs::create_dir_all(bucket.join("memory")).unwrap();
    std::fs::create_dir_all(bucket.join("recall")).unwrap();
    std::fs::create_dir_all(bucket.join("suggestions/pending")).unwrap();
    std::fs::write(
        bucket.join(".canonical_cwd"),
        format!("{}\n", repo.display()),
    )
    .unwrap();
    std::fs::write(
        bucket.join("memory/memory.json"),
        serde_json::json!({
            "global": [
                {"summary": "Go toolchain pitfall", "content": "Verify the Go toolchain before rewriting mockey tests.", "confidence": 0.8, "source_paths": ["go.mod"], "scope": "global", "provenance": []},
                {"summary": "MR !14 merged", "content": "MR !14 merged after round 2.", "confidence": 1.0, "source_paths": [], "scope": "global", "provenance": []}
            ],
            "user": [
                {"summary": "Answer in Chinese", "content": "The user prefers answers in Chinese.", "confidence": 1.0, "source_paths": [], "scope": "user", "provenance": []}
            ]
        })
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        bucket.join("recall/index.json"),
        serde_json::json!({"records": [
            {"id": "abc", "summary": "Treasure layering", "content": "Keep handler orchestration separate from domain filtering.", "cwd": "/x", "repo_fingerprint": "f", "source_paths": ["handler/treasure.go"], "source_updated_at": "2026-04-01T08:00:00Z", "thread_id": "t", "turn_id": 7}
        ]})
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        bucket.join("suggestions/pending/0123456789abcdef.json"),
        serde_json::json!({
            "schema_version": 1, "suggestion_id": "0123456789abcdef", "idempotency_key": "k1",
            "thread_id": "thread-1", "cwd": repo.display().to_string(), "repo_fingerprint": "f",
            "reviewer_timestamp": "2026-05-07T00:00:00Z", "state": "pending", "attempt_count": 0,
            "suggestions": [
                {"family": "memory_updates", "summary": "Pin Overpass versions", "details": {"content": "Avoid @latest for generated deps."}, "confidence": 0.9},
                {"family": "wishlist", "summary": "unknown family", "details": {}}
            ],
            "source_authority": [], "review_snapshot_path": null, "failure_reason": null, "transition_log": []
        })
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        bucket.join("suggestions/pending/truncated.json"),
        "{\"schema_version\": 1, \"sugg",
    )
    .unwrap();
    let archived = home.join("projects/-tmp-old.archived.20260422T100000/memory");
    std::fs::create_dir_all(&archived).unwrap();
    std::fs::write(archived.join("memory.json"), "{\"global\": []}").unwrap();
    home
}

#[test]
fn import_reference_reads_memory_recall_and_pending_suggestions_idempotently() {
    let t = TestHome::new();
    let repo = t.scratch().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let ref_home = reference_home(t.scratch(), &repo);
    let from = ref_home.to_str().unwrap();

    let dry = stdout_json(
        &t.csep(&["--json", "import", "reference", "--from", from, "--dry-run"])
            .output()
            .unwrap(),
    );
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["buckets"][0]["memory"]["applied"], 2);

    let v = success_json(&mut t.csep(&["--json", "import", "reference", "--from", from]));
    let b = &v["buckets"][0];
    assert_eq!(
        v["archived_buckets"][0],
        "-tmp-old.archived.20260422T100000"
    );
    assert_eq!(b["memory"]["applied"], 2, "{b:#}");
    assert_eq!(b["memory"]["discarded"], 1, "the MR status entry is noise");
    assert_eq!(b["recall"]["applied"], 1);
    assert_eq!(b["suggestions_queued"], 1);
    // The recall record keeps where and when it was learned (the reference coerces its
    // provenance fields to strings).
    let found = stdout_json(
        &t.csep(&[
            "--json",
            "recall",
            "treasure layering",
            "--cwd",
            repo.to_str().unwrap(),
        ])
        .output()
        .unwrap(),
    );
    let hit = &found["results"][0];
    assert_eq!(hit["summary"], "Treasure layering", "{found:#}");
    assert_eq!(
        (&hit["thread_id"], &hit["turn_id"], &hit["cwd"]),
        (
            &serde_json::json!("t"),
            &serde_json::json!("7"),
            &serde_json::json!("/x")
        ),
        "{hit:#}"
    );
    assert!(
        hit["date"].as_str().unwrap().starts_with("2026-04-01"),
        "{hit:#}"
    );
    assert_eq!(b["suggestions_dropped"], 1);
    assert!(b["errors"][0].as_str().unwrap().contains("truncated.json"));

    let again = stdout_json(
        &t.csep(&["--json", "import", "reference", "--from", from])
            .output()
            .unwrap(),
    );
    let b = &again["buckets"][0];
    assert_eq!(b["memory"]["applied"], 0);
    assert_eq!(b["recall"]["applied"], 0);
    assert_eq!(b["suggestions_queued"], 0);
    assert_eq!(b["suggestions_duplicate"], 1);

    let listed = stdout_json(
        &t.csep(&["--json", "memory", "list", "--cwd", repo.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    let summaries: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert!(summaries.contains(&"Go toolchain pitfall"));
    assert!(summaries.contains(&"Answer in Chinese"));
    let pre = stdout_json(
        &t.csep(&[
            "--json",
            "compile-preflight",
            "--repo-root",
            repo.to_str().unwrap(),
        ])
        .output()
        .unwrap(),
    );
    assert_eq!(pre["pending"], 1);
    assert!(t.home().join("USER.md").exists());
}
