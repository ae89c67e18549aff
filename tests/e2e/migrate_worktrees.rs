//! `csep migrate-worktrees`: the reference's per-worktree buckets mapped onto csep projects.

use std::path::Path;
use std::process::Command;

use crate::support::{TestHome, stdout_json, success_json};

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "git {args:?}");
}

fn bucket(home: &Path, name: &str, cwd: Option<&Path>) -> std::path::PathBuf {
    let dir = home.join("projects").join(name);
    std::fs::create_dir_all(dir.join("suggestions/pending")).unwrap();
    if let Some(cwd) = cwd {
        std::fs::write(dir.join(".canonical_cwd"), format!("{}\n", cwd.display())).unwrap();
    }
    dir
}

#[test]
fn worktree_buckets_fold_into_one_project_and_apply_registers_it() {
    let t = TestHome::new();
    let repo = t.scratch().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "."]);
    git(&repo, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let linked = t.scratch().join("repo-feature");
    git(
        &repo,
        &[
            "worktree",
            "add",
            "-q",
            linked.to_str().unwrap(),
            "-b",
            "feature",
        ],
    );

    let reference = t.scratch().join("reference-home");
    let main = bucket(&reference, "-main-bucket", Some(&repo));
    std::fs::write(main.join("suggestions/pending/s1.json"), "{}").unwrap();
    let feature = bucket(&reference, "-feature-bucket", Some(&linked));
    std::fs::create_dir_all(feature.join("memory")).unwrap();
    std::fs::write(
        feature.join("memory/memory.json"),
        r#"{"global": [{"summary": "a"}], "user": [{"summary": "b"}, {"summary": "c"}]}"#,
    )
    .unwrap();
    bucket(&reference, "-nonexistent-path-for-csep-test", None);
    bucket(&reference, "-old.archived.20260101T000000", None);

    let plan = success_json(
        t.csep(&["migrate-worktrees", "--json", "--from"])
            .arg(&reference),
    );
    assert_eq!(plan["applied"], false);
    assert_eq!(plan["counts"]["buckets"], 2, "{plan}");
    assert_eq!(plan["counts"]["projects"], 1);
    assert_eq!(plan["counts"]["folded"], 1);
    assert_eq!(plan["counts"]["to_register"], 1);
    let fold = &plan["projects"][0];
    assert_eq!(
        fold["buckets"],
        serde_json::json!(["-feature-bucket", "-main-bucket"])
    );
    let feature_plan = plan["plans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["bucket"] == "-feature-bucket")
        .unwrap();
    assert_eq!(feature_plan["kind"], "linked-worktree");
    assert_eq!(feature_plan["canonical"], false);
    assert_eq!(feature_plan["memory_entries"], 3);
    let reasons: Vec<&str> = plan["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["original cwd no longer exists on disk", "already archived"]
    );
    assert!(
        !t.home().join("csep.db").exists(),
        "a dry run writes nothing"
    );

    let out = t
        .csep(&["migrate-worktrees", "--apply", "--json", "--from"])
        .arg(&reference)
        .output()
        .unwrap();
    let applied = stdout_json(&out);
    assert_eq!(applied["applied"], true);
    let id = fold["project_id"].as_str().unwrap();
    assert_eq!(applied["apply_results"][id], "registered");
    let project = stdout_json(
        &t.csep(&["project", "--json", "--cwd"])
            .arg(&linked)
            .output()
            .unwrap(),
    );
    assert_eq!(project["id"], id);
    assert_eq!(project["registered"], true);
    // Reference files are never moved.
    assert!(feature.join("memory/memory.json").is_file());
    assert!(main.join("suggestions/pending/s1.json").is_file());
}
